"""The dbt marts against the sandbox's `medium` scenario and its ground truth.

The scenario is rendered by the sandbox's own API serialisers (amoCRM lead/contact JSON, Radist
chat and message JSON) and turned into raw rows by the loaders' own row builders (phone
normalisation included), then copied into `<slug>_raw`: everything but HTTP and dlt's load step,
which the end-to-end test covers. One dbt build; the test prints precision and recall of lead linking.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import psycopg
import pytest

from dlt_sources.amocrm.rows import (
    contact_phone_rows,
    contact_row,
    lead_contact_rows,
    lead_row,
    pipeline_row,
    status_rows,
    user_row,
)
from dlt_sources.radist.rows import chat_row, message_row
from sandbox.amocrm import contact_dict, lead_dict
from sandbox.radist import format_created_at, message_dict
from sandbox.scenario import Scenario, generate_scenario
from synkro.controlplane.settings import TenantSettings
from synkro.controlplane.tenants import DEFAULT_TIMEZONE
from synkro.modeling.dbt import dbt_vars
from synkro.modeling.runner import run_dbt
from tests.dbt_raw_fixtures import copy_rows, create_raw_schema

SLUG = "medium"
LOAD_ID = "1790000000.000001"
BASE = "http://sandbox/amocrm"


def load_scenario(conn: psycopg.Connection, sc: Scenario) -> None:
    create_raw_schema(conn, SLUG)
    leads = [lead_dict(lead, BASE, 1, with_contacts=True) for lead in sc.leads]
    contacts = [contact_dict(c, BASE, 1, None) for c in sc.contacts]
    pipelines = [
        {**p._asdict(), "_embedded": {"statuses": [s._asdict() for s in p.statuses]}} for p in sc.pipelines
    ]
    copy_rows(conn, SLUG, "amocrm_users", (user_row(u._asdict()) for u in sc.users), LOAD_ID)
    copy_rows(conn, SLUG, "amocrm_pipelines", (pipeline_row(p) for p in pipelines), LOAD_ID)
    copy_rows(conn, SLUG, "amocrm_statuses", (r for p in pipelines for r in status_rows(p)), LOAD_ID)
    copy_rows(conn, SLUG, "amocrm_leads", (lead_row(lead) for lead in leads), LOAD_ID)
    copy_rows(
        conn, SLUG, "amocrm_lead_contacts", (r for lead in leads for r in lead_contact_rows(lead)), LOAD_ID
    )
    copy_rows(conn, SLUG, "amocrm_contacts", (contact_row(c) for c in contacts), LOAD_ID)
    copy_rows(
        conn,
        SLUG,
        "amocrm_contact_phones",
        (r for c in contacts for r in contact_phone_rows(c, "RU")),
        LOAD_ID,
    )
    chats, messages = [], []
    for chat in sc.chats:
        msgs = sc.messages(chat.chat_id)
        contact = {
            "contact_id": chat.radist_contact_id,
            "contact_name": sc.contact_names.get(chat.radist_contact_id, chat.contact_name),
            "last_chat_updated_at": format_created_at(chat.end_ms, 1),
        }
        item = {
            "chat_id": chat.chat_id,
            "connection_id": chat.connection_id,
            "phone": chat.phone,
            "source_chat_id": chat.source_chat_id,
            "last_message": message_dict(msgs[-1]),
        }
        chats.append(chat_row(contact, item, "RU", {}))
        messages.extend(message_row(message_dict(m), chat.chat_id) for m in msgs)
    copy_rows(conn, SLUG, "radist_chats", chats, LOAD_ID)
    copy_rows(conn, SLUG, "radist_messages", messages, LOAD_ID)


@pytest.fixture(scope="module")
def marts(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    sc = generate_scenario(seed=42, size="medium", now=1790000000)
    with psycopg.connect(database_url, autocommit=True) as conn:
        load_scenario(conn, sc)
        vars = dbt_vars(SLUG, TenantSettings(), DEFAULT_TIMEZONE)
        run = run_dbt(["build"], database_url, vars, target_path=tmp_path_factory.mktemp("dbt"))
        with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
            dialogs = {r["dialog_id"]: r for r in cur.execute(f"select * from {SLUG}_marts.fct_dialogs")}
    return {"run": run, "dialogs": dialogs, "truth": sc.ground_truth()}


def test_build_passes_every_test(marts: dict[str, Any]) -> None:
    run = marts["run"]
    assert run.ok and run.failed() == [], run.log[-6000:]


def test_dialogs_match_ground_truth(marts: dict[str, Any]) -> None:
    dialogs, truth = marts["dialogs"], marts["truth"]["chats"]
    assert set(dialogs) == {c["chat_id"] for c in truth}
    wrong = [
        (
            c["chat_id"],
            (c["match_status"], c["contact_id"], c["lead_id"]),
            (d["match_status"], d["contact_id"], d["lead_id"]),
        )
        for c in truth
        if (d := dialogs[c["chat_id"]])
        and (c["match_status"], c["contact_id"], c["lead_id"])
        != (d["match_status"], d["contact_id"], d["lead_id"])
    ]
    expected_links = {(c["chat_id"], c["lead_id"]) for c in truth if c["lead_id"] is not None}
    linked = {(k, d["lead_id"]) for k, d in dialogs.items() if d["lead_id"] is not None}
    precision = len(linked & expected_links) / len(linked) if linked else 0.0
    recall = len(linked & expected_links) / len(expected_links) if expected_links else 0.0
    statuses = Counter(d["match_status"] for d in dialogs.values())
    print(f"\nlead linking on medium: precision {precision:.4f}, recall {recall:.4f}; {dict(statuses)}")
    assert wrong == [], f"{len(wrong)} dialogs differ, first: {wrong[:5]}"
    assert (precision, recall) == (1.0, 1.0)
    assert statuses["ambiguous"] > 0 and statuses["unmatched"] > 0


def _per_chat(marts: dict[str, Any], *columns: str) -> tuple[dict[int, tuple], dict[int, tuple]]:
    """(got, expected) per chat for columns named alike in fct_dialogs and the ground truth."""
    truth = marts["truth"]["chats"]
    got = {c["chat_id"]: tuple(marts["dialogs"][c["chat_id"]][col] for col in columns) for c in truth}
    expected = {c["chat_id"]: tuple(c[col] for col in columns) for c in truth}
    return got, expected


def test_message_counts_match_ground_truth(marts: dict[str, Any]) -> None:
    got, expected = _per_chat(marts, "messages_total", "messages_inbound")
    assert got == expected


def test_awaiting_reply_matches_ground_truth(marts: dict[str, Any]) -> None:
    got, expected = _per_chat(marts, "awaiting_reply")
    assert got == expected
