"""amoCRM deletions reach the warehouse: through the events API on incremental loads, and through
the periodic id scan when no event tells (purged events, no events access, back-dated writes).

Real client, real dlt, real Postgres, the sandbox over HTTP; each test owns its sandbox because it
changes the scenario.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import psycopg
import pytest

from dlt_sources.amocrm import reconcile_due
from sandbox.scenario import Event
from sandbox.server import SandboxServer
from synkro.clients.ratelimit import RateLimiter
from tests.test_ingestion_amocrm import load

_slugs = itertools.count(1)


@pytest.fixture
def sb() -> Iterator[SandboxServer]:
    with SandboxServer(seed=31, scenario="small") as server:
        server.state.set_faults("amocrm", rate_limit_rps=None)  # the limit is covered elsewhere
        yield server


@pytest.fixture
def slug() -> str:
    return f"amodel{next(_slugs)}"


def flagged(url: str, slug: str, table: str) -> set[int]:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute(f'select id from "{slug}_raw".{table} where is_deleted')}


def lead_prices(url: str, slug: str) -> dict[int, int]:
    with psycopg.connect(url) as conn:
        return dict(conn.execute(f'select id, price from "{slug}_raw".amocrm_leads').fetchall())


def amo_requests(sb: SandboxServer) -> int:
    return next(iter(sb.state.requests.summary("amocrm")["amocrm"].values()))["requests"]


def test_events_flag_deleted_rows_and_a_restore_unflags(
    sb: SandboxServer, database_url: str, slug: str
) -> None:
    limiter = RateLimiter(None)
    load(sb, slug, database_url, limiter)
    sc = sb.state.scenario
    changed = sc.advance()  # inserts, updates, one lead to the trash, one contact deleted
    assert changed["deleted_leads"] and changed["deleted_contacts"]

    counts = load(sb, slug, database_url, limiter)
    assert flagged(database_url, slug, "amocrm_leads") == set(changed["deleted_leads"])
    assert flagged(database_url, slug, "amocrm_contacts") == set(changed["deleted_contacts"])
    # Updates and inserts plus the one flagged row, nothing else rewritten.
    assert counts["amocrm_leads"] == len(changed["updated_leads"]) + len(changed["added_leads"]) + 1
    with psycopg.connect(database_url) as conn:
        name = conn.execute(
            f'select name from "{slug}_raw".amocrm_leads where id = %s', (changed["deleted_leads"][0],)
        ).fetchone()[0]
    trashed, _ = sc.trash[-1]
    assert name == trashed.name  # the flag keeps the row's other columns

    # The lead comes back from the trash (its updated_at untouched): the restore event re-reads it.
    sc.trash.pop()
    sc.leads.append(trashed)
    stamp = int(sc.now)  # scenario time: the sandbox's clock
    sc.events.append(Event("01restore" + str(stamp), "lead_restored", trashed.id, "lead", 0, stamp))
    sc.reindex()
    counts = load(sb, slug, database_url, limiter)
    assert flagged(database_url, slug, "amocrm_leads") == set()
    assert counts["amocrm_leads"] == 1

    # Nothing happened since: the next load writes nothing and re-reads no event.
    counts = load(sb, slug, database_url, limiter)
    assert {t: n for t, n in counts.items() if n} == {}


def test_periodic_id_scan_finds_silent_deletions_and_backdated_writes(
    sb: SandboxServer, database_url: str, slug: str
) -> None:
    limiter = RateLimiter(None)
    load(sb, slug, database_url, limiter)
    sc = sb.state.scenario
    # A lead vanishes without any event (purged / events not visible), and another is edited by
    # an integration that back-dates updated_at, so no watermark can see it.
    silent = sc.leads.pop(7)
    backdated = sc.leads[2]
    sc.leads[2] = backdated._replace(price=backdated.price + 777, updated_at=backdated.updated_at - 3600)
    sc.reindex()

    # Scan not due (the first load was a full scan moments ago): incremental sees nothing.
    counts = load(sb, slug, database_url, limiter)
    assert {t: n for t, n in counts.items() if n} == {}
    assert flagged(database_url, slug, "amocrm_leads") == set()

    # Due: the id scan reads every page but writes only the two differences.
    sb.state.requests.clear()
    counts = load(sb, slug, database_url, limiter, reconcile_every_days=1e-9)
    assert counts["amocrm_leads"] == 2
    assert counts.get("amocrm_contacts", 0) == 0
    assert flagged(database_url, slug, "amocrm_leads") == {silent.id}
    assert lead_prices(database_url, slug)[backdated.id] == backdated.price + 777
    pages = -(-len(sc.leads) // 250) + -(-len(sc.contacts) // 250)
    assert amo_requests(sb) >= pages

    # Switched off: the same situation again goes unnoticed by an incremental load.
    sc.leads.pop(9)
    sc.reindex()
    load(sb, slug, database_url, limiter, reconcile_every_days=None)
    assert flagged(database_url, slug, "amocrm_leads") == {silent.id}


def test_reconcile_due_schedule() -> None:
    now = 1_800_000_000.0
    assert reconcile_due({}, 7, now)
    assert not reconcile_due({"reconciled_at": now - 6 * 86400}, 7, now)
    assert reconcile_due({"reconciled_at": now - 7 * 86400}, 7, now)
    assert not reconcile_due({}, None, now) and not reconcile_due({}, 0, now)
