"""google.cloud.dialogflow.cx.v3.Environments: environments, their history, deployments and continuous tests.

Split the way moto splits a service: :mod:`.models` holds the state and the rules (pins,
validation, history, deployments with their pre-deployment runs, continuous tests);
:mod:`.responses` is the gRPC servicer that parses requests, calls the model and builds the
responses. The Deployments service (``services/deployments.py``) reads the same model.
"""

from __future__ import annotations

from airflow_provider_cx.emulator.services.environments.models import environments
from airflow_provider_cx.emulator.services.environments.responses import EnvironmentsService, newest_first_page

__all__ = ["SERVICES", "EnvironmentsService", "environments", "newest_first_page"]

SERVICES = [EnvironmentsService]
