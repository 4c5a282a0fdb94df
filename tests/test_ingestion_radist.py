"""Radist → Postgres through the real client and dlt, against the sandbox emulator over HTTP."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import psycopg
import pytest

from dlt_sources.amocrm import amocrm_source
from dlt_sources.radist import radist_source
from sandbox.server import SandboxServer
from synkro.clients.amocrm import AmoCRMClient, StaticTokenProvider
from synkro.clients.radist import RadistAuthError, RadistClient
from synkro.loading import run_load
from synkro.warehouse import known_phones

_slugs = itertools.count(1)


@pytest.fixture
def radist_sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(seed=31, scenario="small") as server:
        yield server


@pytest.fixture
def slug() -> str:
    return f"rad{next(_slugs)}"


def make_client(sb: SandboxServer, key: str | None = None) -> RadistClient:
    creds = sb.state.credentials
    return RadistClient(
        sb.urls.radist,
        key or creds.radist_api_key,
        creds.radist_company_id,
        backoff_base=0.05,
        backoff_cap=0.5,
    )


def load(sb: SandboxServer, slug: str, url: str, **kwargs: object) -> dict[str, int]:
    with make_client(sb) as client:
        return run_load(slug, radist_source(client, "RU", **kwargs), destination_url=url)


def counts(url: str, slug: str) -> tuple[int, int]:
    with psycopg.connect(url) as conn:
        chats = conn.execute(f'select count(*) from "{slug}_raw".radist_chats').fetchone()[0]
        messages = conn.execute(f'select count(*) from "{slug}_raw".radist_messages').fetchone()[0]
    return chats, messages


def radist_requests(sb: SandboxServer) -> int:
    return next(iter(sb.state.requests.summary("radist")["radist"].values()))["requests"]


def test_radist_only_first_second_and_changed_loads(
    radist_sandbox: SandboxServer, database_url: str, slug: str
) -> None:
    sc = radist_sandbox.state.scenario
    truth = radist_sandbox.state.ground_truth()["chats"]
    load(radist_sandbox, slug, database_url, mode="radist_only")
    assert counts(database_url, slug) == (len(sc.chats), sum(c["messages_total"] for c in truth))

    with psycopg.connect(database_url) as conn:
        chats = {
            r[0]: r[1:]
            for r in conn.execute(
                f'select chat_id, phone_raw, phone_e164, channel from "{slug}_raw".radist_chats'
            )
        }
        empty_text = conn.execute(
            f'select count(*) from "{slug}_raw".radist_messages '
            "where message_type = 'text' and text is null"
        ).fetchone()[0]
        media = conn.execute(
            f'select attachments from "{slug}_raw".radist_messages '
            "where jsonb_array_length(attachments) > 0 limit 1"
        ).fetchone()
    for chat in sc.chats:
        assert chats[chat.chat_id][1] == chat.e164
    with psycopg.connect(database_url) as conn:
        sent = dict(
            conn.execute(
                "select message_id, (extract(epoch from sent_at) * 1000)::bigint "
                f'from "{slug}_raw".radist_messages'
            ).fetchall()
        )
    # Every spelling of created_at (offsets, Z, naive, fractions) lands on the same instant.
    assert sent == {m.message_id: m.ts_ms for chat in sc.chats for m in sc.messages(chat.chat_id)}
    assert {c[2] for c in chats.values()} <= {"whatsapp", "waba", "telegram"}
    assert empty_text == 0
    assert media is not None and media[0][0]["name"] and media[0][0]["url"]

    # Nothing changed: no rows written, messages of no chat re-read.
    radist_sandbox.state.requests.clear()
    written = load(radist_sandbox, slug, database_url, mode="radist_only")
    assert {t: n for t, n in written.items() if n} == {}
    assert radist_requests(radist_sandbox) <= 3

    # New messages in some chats: only those chats are re-read, the totals match again.
    changed = sc.advance()
    radist_sandbox.state.requests.clear()
    written = load(radist_sandbox, slug, database_url, mode="radist_only")
    assert written["radist_chats"] == len(changed["updated_chats"])
    truth = radist_sandbox.state.ground_truth()["chats"]
    assert counts(database_url, slug) == (len(sc.chats), sum(c["messages_total"] for c in truth))
    assert radist_requests(radist_sandbox) <= 3 + 2 * len(changed["updated_chats"])


def test_amocrm_radist_mode_loads_only_chats_of_known_phones(
    radist_sandbox: SandboxServer, database_url: str, slug: str
) -> None:
    amo = AmoCRMClient(
        radist_sandbox.urls.amocrm, StaticTokenProvider(radist_sandbox.state.amo_long_lived_token)
    )
    with amo:
        run_load(slug, amocrm_source(amo, "RU"), destination_url=database_url)
    with psycopg.connect(database_url) as conn:
        phones = known_phones(conn, slug)
    sc = radist_sandbox.state.scenario
    # every number of every phone value is a key, not only each value's first
    assert phones == {n for c in sc.contacts for p in c.phones for n in p.numbers}
    expected = {c.chat_id for c in sc.chats if c.e164 in phones}
    assert phones and 0 < len(expected) < len(sc.chats)
    later = {n for c in sc.contacts for p in c.phones for n in p.more}
    assert any(c.e164 in later for c in sc.chats if c.chat_id in expected)

    load(radist_sandbox, slug, database_url, mode="amocrm_radist", known_phones=phones)
    with psycopg.connect(database_url) as conn:
        loaded = {r[0] for r in conn.execute(f'select chat_id from "{slug}_raw".radist_chats')}
        message_chats = {
            r[0] for r in conn.execute(f'select distinct chat_id from "{slug}_raw".radist_messages')
        }
    assert loaded == expected
    assert message_chats <= expected


def test_throttling_and_dropped_connections_survived(
    radist_sandbox: SandboxServer, database_url: str, slug: str
) -> None:
    radist_sandbox.state.set_faults("radist", burst_429=3, drop_connection=2, error_rate=0.1)
    load(radist_sandbox, slug, database_url, mode="radist_only")
    truth = radist_sandbox.state.ground_truth()["chats"]
    assert counts(database_url, slug) == (len(truth), sum(c["messages_total"] for c in truth))
    with psycopg.connect(database_url) as conn:
        distinct = conn.execute(
            f'select count(distinct message_id) from "{slug}_raw".radist_messages'
        ).fetchone()[0]
    assert distinct == sum(c["messages_total"] for c in truth)


def test_bad_key_or_missing_scope_is_a_clear_auth_error(radist_sandbox: SandboxServer) -> None:
    with make_client(radist_sandbox, "not-a-key") as client, pytest.raises(RadistAuthError) as bad:
        client.sources()
    assert "not-a-key" not in str(bad.value) and "401" in str(bad.value)
    no_scope = radist_sandbox.state.credentials.radist_api_key_no_messaging
    with make_client(radist_sandbox, no_scope) as client, pytest.raises(RadistAuthError) as scope:
        next(client.contacts_with_chats())
    assert "403" in str(scope.value) and "messaging" in str(scope.value)
    assert client.requests == 1


def test_radist_time_offsets_are_not_fraction_digits() -> None:
    from datetime import UTC, datetime

    from synkro.clients.radist import parse_radist_time

    assert parse_radist_time("2026-09-18T19:36:17.158+03:00") == datetime(
        2026, 9, 18, 16, 36, 17, 158000, tzinfo=UTC
    )
    assert parse_radist_time("2026-09-18T19:36:17.123456789Z") == datetime(
        2026, 9, 18, 19, 36, 17, 123456, tzinfo=UTC
    )
