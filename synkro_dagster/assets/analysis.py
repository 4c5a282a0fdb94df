"""Gemini scores every dialog with activity in the report window (`<slug>_analysis.dialog_analyses`).

When Gemini is not configured or refuses (invalid key, billing, quota), the step records why and
ends without raising: the report must still go out with the hard metrics and a plain note. An
analysis that stopped short — Gemini refused, or the AI budget left dialogs out — is not a plain
success: the step warns (`RunMirror.warned`), so the run ends `succeeded_with_warnings` in the run
ledger and carries the `synkro/warnings` tag in Dagster, and the asset check `analysis_complete`
fails with severity WARN, naming the reason.
"""

import dagster as dg

from synkro.analysis.run import AnalysisStopped, analyze_window
from synkro.db import connect
from synkro.orchestration import pools, tags
from synkro_dagster.mirror import RunMirror
from synkro_dagster.partitions import tenant_partitions
from synkro_dagster.resources import SynkroResource
from synkro_dagster.window import run_window

ANALYSES = dg.AssetKey(["dialog_analyses"])
COMPLETE_CHECK = "analysis_complete"


def _complete(passed: bool, reason: str | None = None) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=COMPLETE_CHECK,
        asset_key=ANALYSES,
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"reason": reason} if reason else {},
    )


@dg.asset(
    key=ANALYSES,
    partitions_def=tenant_partitions,
    deps=[dg.AssetKey(["marts", "fct_dialogs"]), dg.AssetKey(["marts", "fct_dialog_messages"])],
    group_name="analysis",
    pool=pools.GEMINI,
    kinds={"python", "postgres"},
    check_specs=[
        dg.AssetCheckSpec(
            COMPLETE_CHECK,
            asset=ANALYSES,
            description="Every dialog of the window was scored or unchanged: Gemini did not stop the "
            "analysis (invalid key, quota, billing) and the AI budget left none out.",
        )
    ],
)
def dialog_analyses(context: dg.AssetExecutionContext, synkro: SynkroResource) -> dg.MaterializeResult:
    """One structured Gemini verdict per dialog of the window, skipping unchanged dialogs."""
    tctx = synkro.tenant(context.partition_key)
    mirror = RunMirror.attach(context, tctx)
    mirror.start("analysis")
    window = run_window(context, tctx)
    mirror.set_window(window)
    gemini = tctx.config("gemini")
    if gemini is None:
        note = "Gemini is not configured for this tenant; dialogs were not scored"
        mirror.done("analysis", note, level="warning")
        mirror.record_step("analysis", note)
        return dg.MaterializeResult(
            metadata={"status": "not configured"}, check_results=[_complete(False, note)]
        )
    try:
        with connect(tctx.warehouse_url()) as conn:
            summary = analyze_window(
                conn,
                tctx.slug,
                window.start,
                window.end,
                tctx.settings,
                gemini,
                timezone=tctx.tenant.timezone,
                scheduled=context.run.tags.get(tags.TRIGGER) == "scheduled",
                progress=context.log.info,
            )
    except AnalysisStopped as exc:
        tctx.cp.configs.set_config_status(tctx.slug, "gemini", "error", error=str(exc))
        mirror.warned("analysis", str(exc))
        summary = exc.summary
        return dg.MaterializeResult(
            metadata={"status": "stopped", "reason": str(exc), **_figures(summary)},
            check_results=[_complete(False, str(exc))],
        )
    except Exception as exc:
        mirror.fail("analysis", exc)
    message = (
        f"analysis: {summary.analyzed} scored, {summary.unchanged} unchanged, {summary.failed} failed, "
        f"{len(summary.left_out)} left out by the budget"
    )
    if summary.budget and summary.budget["left_out"]:
        message += (
            f"; monthly AI budget ${summary.budget['monthly_usd']:.2f} reached: "
            f"{summary.budget['left_out']} dialogs not scored"
        )
    if summary.batch:
        message += f"; batch: {summary.batch['answered']} answered, {summary.batch['online']} scored online"
    if summary.escalation:
        message += f"; {summary.escalation['rescored']} re-scored by {summary.escalation['model']}"
    mirror.done("analysis", message, _figures(summary))
    if summary.left_out:
        why = min(summary.left_out.values())
        reason = f"{len(summary.left_out)} of {summary.dialogs_in_window} dialogs left unscored ({why})"
        mirror.warned("analysis", reason)
        return dg.MaterializeResult(
            metadata={"status": "budget", "reason": reason, **_figures(summary)},
            check_results=[_complete(False, reason)],
        )
    return dg.MaterializeResult(
        metadata={"status": "ok", **_figures(summary)}, check_results=[_complete(True)]
    )


def _figures(summary) -> dict:
    return {
        "dialogs_in_window": summary.dialogs_in_window,
        "analyzed": summary.analyzed,
        "unchanged": summary.unchanged,
        "failed": summary.failed,
        "left_out": len(summary.left_out),
        "gemini_calls": summary.gemini_calls,
        "input_tokens": summary.input_tokens,
        "output_tokens": summary.output_tokens,
        "thinking_tokens": summary.thinking_tokens,
        "cached_tokens": summary.cached_tokens,
        "cost_usd": round(summary.cost_usd, 6),
        "model": summary.model,
        "mode": summary.mode,
        **(
            {"batch_answered": summary.batch["answered"], "batch_online": summary.batch["online"]}
            if summary.batch
            else {}
        ),
    }
