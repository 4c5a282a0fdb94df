"""Execute one Synkro job for one tenant in this process: `python -m synkro_dagster.runner …`.

Started by `synkro load|transform|run` (synkro/orchestration.py). The run goes into the local
Dagster instance (DAGSTER_HOME) with the tenant partition and Synkro's tags, so it appears in the
Dagster UI; its outcome is written back to the job_runs row the CLI created.
"""

import argparse
import signal
import sys

import dagster as dg

from synkro.controlplane import open_controlplane
from synkro_dagster import tags
from synkro_dagster.fallback import FALLBACK_TAG, REPORT_CHAIN, needs_fallback_report
from synkro_dagster.partitions import TENANT_PARTITIONS_NAME


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="synkro_dagster.runner")
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--job", required=True)
    parser.add_argument("--job-run-id", type=int, required=True)
    parser.add_argument("--trigger", default="manual")
    parser.add_argument("--window-start")
    parser.add_argument("--window-end")
    parser.add_argument("--window-label")
    parser.add_argument("--resend", action="store_true")
    parser.add_argument("--full", action="store_true")
    return parser.parse_args(argv)


def run_tags(args: argparse.Namespace) -> dict[str, str]:
    values = {
        tags.TENANT: args.tenant,
        tags.TRIGGER: args.trigger,
        tags.JOB_RUN_ID: str(args.job_run_id),
        tags.LAUNCHED_BY: "cli",
    }
    if args.window_start and args.window_end:
        values[tags.WINDOW_START] = args.window_start
        values[tags.WINDOW_END] = args.window_end
        values[tags.WINDOW_LABEL] = args.window_label or "forced"
    if args.resend:
        values[tags.RESEND] = "true"
    if args.full:
        values[tags.FULL_LOAD] = "true"
    return values


def _terminate(signum, frame):
    raise KeyboardInterrupt("stopped by synkro stop")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _terminate)
    return execute(args)


def execute(args: argparse.Namespace, asset_selection: list[dg.AssetKey] | None = None) -> int:
    """Run the job for the tenant and write the outcome to its job_runs row; 0 on success.

    `asset_selection` re-runs part of the chain (e.g. report and delivery only) under the same
    bookkeeping as a whole run; the CLI always runs the whole job.
    """
    cp = open_controlplane()
    jobs = cp.jobs
    jobs.update_run(args.job_run_id, status="running")
    try:
        from synkro_dagster.definitions import defs

        instance = dg.DagsterInstance.get()
        if not instance.has_dynamic_partition(TENANT_PARTITIONS_NAME, args.tenant):
            instance.add_dynamic_partitions(TENANT_PARTITIONS_NAME, [args.tenant])
        job = defs.resolve_job_def(args.job)
        result = job.execute_in_process(
            partition_key=args.tenant,
            instance=instance,
            tags=run_tags(args),
            raise_on_error=False,
            asset_selection=asset_selection,
        )
    except KeyboardInterrupt:
        jobs.add_event(args.job_run_id, "run stopped", level="warning")
        jobs.finish_run(args.job_run_id, "cancelled", error="stopped by operator")
        return 130
    except Exception as exc:
        jobs.add_event(args.job_run_id, f"run could not start: {type(exc).__name__}: {exc}", level="error")
        jobs.finish_run(args.job_run_id, "failed", error=f"{type(exc).__name__}: {exc}")
        return 1
    jobs.update_run(args.job_run_id, dagster_run_id=result.run_id)
    if result.success:
        jobs.finish_run(args.job_run_id, "succeeded")
        return 0
    failures = [
        event.message or event.step_key or "step failed"
        for event in result.all_events
        if event.event_type_value == "STEP_FAILURE"
    ]
    failed_steps = {e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"}
    if args.job == "forced_report" and asset_selection is None and needs_fallback_report(failed_steps):
        _fallback_report(args, instance, jobs)
    current = jobs.get_run(args.job_run_id)
    jobs.finish_run(
        args.job_run_id, "failed", error=current.error or (failures[0] if failures else "run failed")
    )
    return 1


def _fallback_report(args: argparse.Namespace, instance: dg.DagsterInstance, jobs) -> None:
    """A load or dbt step failed: still send the report, built from the data there is and saying
    plainly which step failed (the failure is recorded on the shared job_runs row)."""
    from synkro_dagster.definitions import defs

    jobs.add_event(args.job_run_id, "an upstream step failed: sending the report from the data there is")
    tags = {**run_tags(args), FALLBACK_TAG: "true"}
    job = defs.resolve_job_def(args.job)
    result = job.execute_in_process(
        partition_key=args.tenant,
        instance=instance,
        tags=tags,
        raise_on_error=False,
        asset_selection=REPORT_CHAIN,
    )
    if not result.success:
        jobs.add_event(args.job_run_id, "the fallback report could not be sent either", level="error")


if __name__ == "__main__":
    sys.exit(main())
