"""The DAG folder's helper modules import as the dag-processor imports them: with dags/ on ``sys.path``."""

from __future__ import annotations

import sys
from pathlib import Path

DAGS = Path(__file__).resolve().parents[2] / "dags"
if str(DAGS) not in sys.path:
    sys.path.append(str(DAGS))
