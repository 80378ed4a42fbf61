"""google.cloud.dialogflow.cx.v3.Deployments: the record of every DeployFlow of an environment (newest first)."""

from __future__ import annotations

from typing import Any

import grpc
from google.cloud.dialogflowcx_v3.types import deployment as deployment_types
from google.protobuf import json_format

from airflow_provider_cx.emulator.errors import NotFound
from airflow_provider_cx.emulator.names import parse
from airflow_provider_cx.emulator.rpc import Service, pb, rpc
from airflow_provider_cx.emulator.services.environments.models import entry_of, environment_path
from airflow_provider_cx.emulator.services.environments.responses import newest_first_page

Deployment = pb(deployment_types.Deployment)


class DeploymentsService(Service):
    SERVICE = "google.cloud.dialogflow.cx.v3.Deployments"

    @rpc(deployment_types.ListDeploymentsRequest, deployment_types.ListDeploymentsResponse)
    def list_deployments(self, request: Any, context: grpc.ServicerContext) -> Any:
        agent, env_id = environment_path(request.parent)
        with self.backend.store.read(agent) as record:
            page, token = newest_first_page(record, env_id, "deployments", request.page_size, request.page_token)
        deployments = [json_format.ParseDict(data, Deployment()) for data in page]
        return pb(deployment_types.ListDeploymentsResponse)(deployments=deployments, next_page_token=token)

    @rpc(deployment_types.GetDeploymentRequest, deployment_types.Deployment)
    def get_deployment(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.name, ("environments", "deployments"), "deployment")
        with self.backend.store.read(path.agent_name) as record:
            for data in entry_of(record, path.segments[0][1])["deployments"]:
                if data.get("name") == request.name:
                    return json_format.ParseDict(data, Deployment())
        raise NotFound(f"deployment {request.name} not found")


SERVICES = [DeploymentsService]
