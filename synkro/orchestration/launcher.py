"""The local run launcher: Dagster's DefaultRunLauncher plus a worker health check.

Why: the DefaultRunLauncher starts each run as a child process of the code server, and the code
server marks a run failed when that child dies. But when the code server itself goes away (killed,
machine restarted, `synkro down` during a run), the run stays STARTED forever — nothing is left
that knows about it, and the tenant's queue slot is held for good. With a health check, Dagster's
own run monitoring (daemon, `run_monitoring` in dagster.yaml) asks the code server that launched
the run whether it still executes it, and fails the run when it does not, which frees the queue.
On Kubernetes the K8sRunLauncher's own pod health check does the same (infra/values.yaml).
"""

from __future__ import annotations

import json

from dagster import DefaultRunLauncher
from dagster._core.launcher.base import CheckRunHealthResult, WorkerStatus
from dagster._core.storage.tags import GRPC_INFO_TAG


class SynkroRunLauncher(DefaultRunLauncher):
    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run) -> CheckRunHealthResult:
        from dagster._grpc.client import DagsterGrpcClient
        from dagster._grpc.types import CanCancelExecutionRequest, CanCancelExecutionResult
        from dagster._serdes import deserialize_value

        info = run.tags.get(GRPC_INFO_TAG)
        if not info:
            return CheckRunHealthResult(WorkerStatus.UNKNOWN, "the run has no code server address")
        address = json.loads(info)
        client = DagsterGrpcClient(
            port=address.get("port"), socket=address.get("socket"), host=address.get("host")
        )
        try:
            answer = deserialize_value(
                client.can_cancel_execution(CanCancelExecutionRequest(run_id=run.run_id), timeout=10),
                CanCancelExecutionResult,
            )
        except Exception as exc:  # the code server that ran it is gone
            return CheckRunHealthResult(
                WorkerStatus.FAILED, f"the code server that ran it does not answer ({type(exc).__name__})"
            )
        if answer.can_cancel:
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        return CheckRunHealthResult(WorkerStatus.FAILED, "the code server no longer executes this run")
