"""google.cloud.dialogflow.cx.v3.Experiments: experiments of an environment, and their life cycle.

An experiment is state only (the emulator splits no traffic): created as DRAFT, started into
RUNNING, stopped into DONE, with its times stamped at each step. Kept in the agent's extras beside
the environments (``extras["experiments"][<environment id>][<experiment id>]``), so saved with it.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import grpc
from google.cloud.dialogflowcx_v3.types import experiment as experiment_types
from google.protobuf import empty_pb2, json_format, timestamp_pb2

from airflow_provider_cx.emulator.convert import mask_paths, merge_update
from airflow_provider_cx.emulator.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from airflow_provider_cx.emulator.names import ResourcePath, parse
from airflow_provider_cx.emulator.rpc import Service, paginate, pb, rpc
from airflow_provider_cx.emulator.services.environments.models import entry_of
from airflow_provider_cx.emulator.store import AgentRecord

Experiment = pb(experiment_types.Experiment)
# Experiment.State names, as the stored JSON holds them.
DRAFT, RUNNING, DONE = "DRAFT", "RUNNING", "DONE"
EXTRA_KEY = "experiments"
# Set by the server, never by a Create or Update.
_OUTPUT_ONLY = ("name", "state", "createTime", "startTime", "endTime", "lastUpdateTime", "result", "variantsHistory")
JSON = Any


def _stamp(seconds: float) -> str:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromNanoseconds(int(seconds * 1e9))
    return stamp.ToJsonString()


def _experiments(record: AgentRecord, env_id: str) -> dict[str, dict[str, JSON]]:
    entry_of(record, env_id)  # NOT_FOUND for an unknown environment
    by_env: dict[str, dict[str, JSON]] = record.extra(EXTRA_KEY).setdefault(env_id, {})
    return by_env


class ExperimentsService(Service):
    SERVICE = "google.cloud.dialogflow.cx.v3.Experiments"

    def _located(self, record: AgentRecord, path: ResourcePath, name: str) -> tuple[dict[str, JSON], str]:
        experiments = _experiments(record, path.segments[0][1])
        exp_id = path.segments[1][1]
        if exp_id not in experiments:
            raise NotFound(f"experiment {name} not found")
        return experiments, exp_id

    @staticmethod
    def _message(parent: str, exp_id: str, data: dict[str, JSON]) -> Any:
        message = Experiment()
        json_format.ParseDict(data, message, ignore_unknown_fields=True)
        message.name = f"{parent}/experiments/{exp_id}"
        return message

    @rpc(experiment_types.ListExperimentsRequest, experiment_types.ListExperimentsResponse)
    def list_experiments(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.parent, ("environments",), "environment")
        with self.backend.store.read(path.agent_name) as record:
            items = list(_experiments(record, path.segments[0][1]).items())
        page, token = paginate(items, request.page_size, request.page_token)
        messages = [self._message(request.parent, exp_id, data) for exp_id, data in page]
        return pb(experiment_types.ListExperimentsResponse)(experiments=messages, next_page_token=token)

    @rpc(experiment_types.GetExperimentRequest, experiment_types.Experiment)
    def get_experiment(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.name, ("environments", "experiments"), "experiment")
        with self.backend.store.read(path.agent_name) as record:
            experiments, exp_id = self._located(record, path, request.name)
            return self._message(request.name.rsplit("/experiments/", 1)[0], exp_id, experiments[exp_id])

    @rpc(experiment_types.CreateExperimentRequest, experiment_types.Experiment)
    def create_experiment(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.parent, ("environments",), "environment")
        display = request.experiment.display_name
        if not display.strip():
            raise InvalidArgument("cannot create experiment: display_name must be set")
        with self.backend.store.write(path.agent_name, content=False) as record:
            experiments = _experiments(record, path.segments[0][1])
            if any(str(e.get("displayName", "")).strip() == display.strip() for e in experiments.values()):
                raise AlreadyExists(f"experiment {display!r} already exists in {request.parent}")
            data = {k: v for k, v in json_format.MessageToDict(request.experiment).items() if k not in _OUTPUT_ONLY}
            now = _stamp(time.time())
            data.update(state=DRAFT, createTime=now, lastUpdateTime=now)
            exp_id = str(uuid.uuid4())
            experiments[exp_id] = data
            return self._message(request.parent, exp_id, data)

    @rpc(experiment_types.UpdateExperimentRequest, experiment_types.Experiment)
    def update_experiment(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.experiment.name, ("environments", "experiments"), "experiment")
        mask = request.update_mask if request.HasField("update_mask") else None
        paths = mask_paths(mask, Experiment.DESCRIPTOR, "Experiment")
        with self.backend.store.write(path.agent_name, content=False) as record:
            experiments, exp_id = self._located(record, path, request.experiment.name)
            raw = experiments[exp_id]
            new = json_format.MessageToDict(request.experiment)
            norm = json_format.MessageToDict(self._message("", exp_id, raw))
            merged = merge_update(raw, norm, new, Experiment.DESCRIPTOR, paths, protected=_OUTPUT_ONLY)
            if not str(merged.get("displayName", "")).strip():
                raise InvalidArgument(f"experiment {request.experiment.name}: display_name must not be empty")
            merged["lastUpdateTime"] = _stamp(time.time())
            experiments[exp_id] = merged
            return self._message(request.experiment.name.rsplit("/experiments/", 1)[0], exp_id, merged)

    @rpc(experiment_types.DeleteExperimentRequest, empty_pb2.Empty)
    def delete_experiment(self, request: Any, context: grpc.ServicerContext) -> Any:
        path = parse(request.name, ("environments", "experiments"), "experiment")
        with self.backend.store.write(path.agent_name, content=False) as record:
            experiments, exp_id = self._located(record, path, request.name)
            if experiments[exp_id].get("state") == RUNNING:
                raise FailedPrecondition(f"experiment {request.name} is running; stop it before deleting it")
            del experiments[exp_id]
        return empty_pb2.Empty()

    @rpc(experiment_types.StartExperimentRequest, experiment_types.Experiment)
    def start_experiment(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self._move(request.name, DRAFT, RUNNING, "startTime")

    @rpc(experiment_types.StopExperimentRequest, experiment_types.Experiment)
    def stop_experiment(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self._move(request.name, RUNNING, DONE, "endTime")

    def _move(self, name: str, source: str, target: str, stamp_key: str) -> Any:
        path = parse(name, ("environments", "experiments"), "experiment")
        with self.backend.store.write(path.agent_name, content=False) as record:
            experiments, exp_id = self._located(record, path, name)
            data = experiments[exp_id]
            if data.get("state") != source:
                raise FailedPrecondition(
                    f"experiment {name} is {data.get('state')}; only a {source} experiment can become {target}"
                )
            now = _stamp(time.time())
            data.update({"state": target, stamp_key: now, "lastUpdateTime": now})
            return self._message(name.rsplit("/experiments/", 1)[0], exp_id, data)


SERVICES = [ExperimentsService]
