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
    plain = generate_scenario(seed=42, size="medium", now=1790000000, awkward_phones=False)
    return {
        "run": run,
        "dialogs": dialogs,
        "truth": sc.ground_truth(),
        "plain_truth": plain.ground_truth(),
        "scenario": sc,
    }


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


def test_no_dialog_matched_without_awkward_phones_becomes_unmatched(marts: dict[str, Any]) -> None:
    """Regression over the ground truth: the same world with plain phones only (same ids, same
    dialogs) links no dialog that every-number matching loses."""
    dialogs = marts["dialogs"]
    before = {c["chat_id"] for c in marts["plain_truth"]["chats"] if c["match_status"] != "unmatched"}
    lost = sorted(k for k in before if dialogs[k]["match_status"] == "unmatched")
    assert before and lost == []


def test_dialogs_from_a_later_number_of_a_value_are_linked(marts: dict[str, Any]) -> None:
    """Chats written from the second number of a value (`… или …`, names around it) link to the
    contact's lead, and every dialog the ground truth calls ambiguous is flagged."""
    sc: Scenario = marts["scenario"]
    later = {n for c in sc.contacts for p in c.phones for n in p.more}
    from_later = [c for c in marts["truth"]["chats"] if c["phone_e164"] in later]
    assert from_later and all(c["match_status"] != "unmatched" for c in from_later)
    for chat in from_later:
        assert marts["dialogs"][chat["chat_id"]]["lead_id"] == chat["lead_id"]
    ambiguous = {c["chat_id"] for c in marts["truth"]["chats"] if len(c["candidate_contact_ids"]) > 1}
    flagged = {k for k, d in marts["dialogs"].items() if d["match_status"] == "ambiguous"}
    assert ambiguous and flagged == ambiguous


def test_matching_quality_tests_warn_with_the_true_counts(marts: dict[str, Any]) -> None:
    """The warn-level dbt tests count what the ground truth says an owner should fix."""
    truth = marts["truth"]
    by_test = {r.unique_id.split(".")[2]: r for r in marts["run"].results if r.unique_id.startswith("test.")}
    no_number = sum(1 for phones in truth["phones"].values() for p in phones if not p["numbers"])
    unmatched = sum(1 for c in truth["chats"] if c["match_status"] == "unmatched")
    ambiguous = sum(1 for c in truth["chats"] if c["match_status"] == "ambiguous")
    expected = {
        "warn_contact_phone_values_without_number": no_number,
        "warn_chats_matching_no_contact": unmatched,
        "warn_chats_matching_several_contacts": ambiguous,
    }
    got = {name: (by_test[name].status, by_test[name].failures) for name in expected}
    assert got == {name: ("warn", count) for name, count in expected.items()}
    assert min(expected.values()) > 0
