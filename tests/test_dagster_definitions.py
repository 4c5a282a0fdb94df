"""The code location loads, and its graph wires ingestion → dbt → analysis → reporting per tenant."""

from __future__ import annotations

import dagster as dg
import pytest

from synkro.modeling.manifest import ensure_manifest


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    ensure_manifest()
    from synkro_dagster.definitions import defs

    return defs


def _graph(defs: dg.Definitions):
    return defs.resolve_asset_graph()


def test_every_asset_is_partitioned_by_tenant(defs: dg.Definitions) -> None:
    graph = _graph(defs)
    for key in graph.materializable_asset_keys:
        partitions = graph.get(key).partitions_def
        assert isinstance(partitions, dg.DynamicPartitionsDefinition), key
        assert partitions.name == "tenant"


def test_dbt_sources_are_the_dlt_tables(defs: dg.Definitions) -> None:
    graph = _graph(defs)
    staging_leads = dg.AssetKey(["staging", "stg_amocrm__leads"])
    staging_messages = dg.AssetKey(["staging", "stg_radist__messages"])
    assert dg.AssetKey(["raw", "amocrm_leads"]) in graph.get(staging_leads).parent_keys
    assert dg.AssetKey(["raw", "radist_messages"]) in graph.get(staging_messages).parent_keys
    # The raw tables are materialized by dlt, not external placeholders.
    assert graph.get(dg.AssetKey(["raw", "amocrm_leads"])).is_materializable


def test_chain_order(defs: dg.Definitions) -> None:
    graph = _graph(defs)
    analyses = dg.AssetKey(["dialog_analyses"])
    manager_days = dg.AssetKey(["marts", "mart_manager_days"])
    assert dg.AssetKey(["marts", "fct_dialogs"]) in graph.get(analyses).parent_keys
    assert analyses in graph.get(manager_days).parent_keys
    report = dg.AssetKey(["report", "daily_report"])
    dialog_days = dg.AssetKey(["marts", "mart_manager_dialog_days"])  # the trends' mart
    assert analyses in graph.get(dialog_days).parent_keys
    assert {analyses, manager_days, dialog_days} <= set(graph.get(report).parent_keys)
    assert report in graph.get(dg.AssetKey(["report", "telegram_delivery"])).parent_keys
    # Radist loads after amoCRM's phones (mode amocrm_radist filters chats by them).
    chats = graph.get(dg.AssetKey(["raw", "radist_chats"]))
    assert dg.AssetKey(["raw", "amocrm_contact_phones"]) in chats.parent_keys


def test_dbt_tests_are_asset_checks(defs: dg.Definitions) -> None:
    checks = _graph(defs).asset_check_keys
    assert any(c.asset_key == dg.AssetKey(["marts", "fct_dialogs"]) for c in checks)


def test_jobs_and_sensors(defs: dg.Definitions) -> None:
    forced = defs.resolve_job_def("forced_report")
    steps = set(forced.graph.node_names())
    assert {"amocrm_raw", "radist_raw", "dbt_core", "dialog_analyses", "dbt_reporting"} <= steps
    for name in ("ingestion", "amocrm_ingestion", "radist_ingestion", "transform"):
        assert defs.resolve_job_def(name).partitions_def is not None
    sensors = {s.name for s in defs.sensors}
    assert {"tenant_partitions_sensor", "daily_report_sensor", "mirror_success", "mirror_failure"} <= sensors


def test_external_api_assets_have_pools(defs: dg.Definitions) -> None:
    graph = _graph(defs)
    pools = {
        key: graph.get(key).pools
        for key in (dg.AssetKey(["raw", "amocrm_leads"]), dg.AssetKey(["dialog_analyses"]))
    }
    assert pools[dg.AssetKey(["raw", "amocrm_leads"])] == {"amocrm"}
    assert pools[dg.AssetKey(["dialog_analyses"])] == {"gemini"}


def test_fallback_report_only_after_upstream_failures() -> None:
    from synkro.orchestration.ledger import needs_fallback_report

    assert needs_fallback_report({"amocrm_raw"})
    assert needs_fallback_report({"radist_raw", "dbt_core"})
    assert not needs_fallback_report({"report__telegram_delivery"})
    assert not needs_fallback_report({"amocrm_raw", "report__daily_report"})
    assert not needs_fallback_report(set())
