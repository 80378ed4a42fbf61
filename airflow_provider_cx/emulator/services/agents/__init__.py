"""google.cloud.dialogflow.cx.v3.Agents, split the way moto splits a service.

:mod:`.models` decides (unique display names, settings merges, export content, restore content
and options); :mod:`.responses` is the gRPC servicer that translates requests and protos.
"""

from __future__ import annotations

from airflow_provider_cx.emulator.services.agents.responses import AgentsService

__all__ = ["SERVICES", "AgentsService"]

SERVICES = [AgentsService]
