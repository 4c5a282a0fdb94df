"""amoCRM → Postgres through the real client and dlt, against the sandbox emulator over HTTP.

Each test owns its sandbox (small scenario) because the tests mutate the scenario and faults;
every tenant slug gets its own `<slug>_raw` schema in the session's throwaway database.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import psycopg
import pytest

from dlt_sources.amocrm import amocrm_source
from sandbox.server import SandboxServer
from synkro.clients.amocrm import AmoCRMAccountError, AmoCRMClient, StaticTokenProvider
from synkro.clients.ratelimit import RateLimiter
from synkro.loading import run_load

_slugs = itertools.count(1)

TABLES = (
    "amocrm_leads",
    "amocrm_contacts",
    "amocrm_contact_phones",
    "amocrm_contact_emails",
    "amocrm_lead_contacts",
    "amocrm_pipelines",
    "amocrm_statuses",
    "amocrm_users",
)


@pytest.fixture
def amo_sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(seed=11, scenario="small") as server:
        yield server


@pytest.fixture
def slug() -> str:
    return f"amo{next(_slugs)}"


def make_client(sb: SandboxServer, limiter: RateLimiter) -> AmoCRMClient:
    return AmoCRMClient(
        sb.urls.amocrm,
        StaticTokenProvider(sb.state.amo_long_lived_token),
        limiter,
        backoff_base=0.05,
        backoff_cap=1.2,
    )


def load(sb: SandboxServer, slug: str, url: str, limiter: RateLimiter, **kwargs: object) -> dict[str, int]:
    with make_client(sb, limiter) as client:
        return run_load(slug, amocrm_source(client, "RU", **kwargs), destination_url=url)


def table_counts(url: str, slug: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {t: conn.execute(f'select count(*) from "{slug}_raw".{t}').fetchone()[0] for t in TABLES}


def truth_counts(sb: SandboxServer) -> dict[str, int]:
    sc = sb.state.scenario
    return {
        "amocrm_leads": len(sc.leads),
        "amocrm_contacts": len(sc.contacts),
        "amocrm_contact_phones": sum(len(c.phones) for c in sc.contacts),
        "amocrm_contact_emails": sum(1 for c in sc.contacts if c.email),
        "amocrm_lead_contacts": sum(len(lead.contacts) for lead in sc.leads),
        "amocrm_pipelines": len(sc.pipelines),
        "amocrm_statuses": sum(len(p.statuses) for p in sc.pipelines),
        "amocrm_users": len(sc.users),
    }


def amocrm_log(sb: SandboxServer) -> dict:
    return next(iter(sb.state.requests.summary("amocrm")["amocrm"].values()))


def test_first_load_second_load_and_changes(amo_sandbox: SandboxServer, database_url: str, slug: str) -> None:
    limiter = RateLimiter(7)
    load(amo_sandbox, slug, database_url, limiter)
    assert table_counts(database_url, slug) == truth_counts(amo_sandbox)

    sc = amo_sandbox.state.scenario
    with psycopg.connect(database_url) as conn:
        phones = set(
            conn.execute(
                f'select contact_id, phone_raw, phone_e164 from "{slug}_raw".amocrm_contact_phones'
            ).fetchall()
        )
        statuses = dict(
            conn.execute(
                f'select id, type from "{slug}_raw".amocrm_statuses where id in (142, 143)'
            ).fetchall()
        )
        deleted = conn.execute(f'select count(*) from "{slug}_raw".amocrm_leads where is_deleted').fetchone()[
            0
        ]
    assert phones == {(c.id, p.raw, p.e164) for c in sc.contacts for p in c.phones}
    assert statuses == {142: "won", 143: "lost"}
    assert deleted == 0

    # A second load right after: nothing new is written and only a handful of calls are made.
    amo_sandbox.state.requests.clear()
    counts = load(amo_sandbox, slug, database_url, limiter)
    assert {t: n for t, n in counts.items() if n} == {}
    assert amocrm_log(amo_sandbox)["requests"] <= 8

    # The generator changes and adds records: only those are re-read and merged. (Deletions
    # come through events: tests/test_ingestion_amocrm_deletions.py.)
    changed = sc.advance(deletions=False)
    counts = load(amo_sandbox, slug, database_url, limiter)
    assert counts["amocrm_leads"] == len(changed["updated_leads"]) + len(changed["added_leads"])
    assert counts.get("amocrm_contacts", 0) <= max(1, len(sc.contacts) // 30) + len(changed["added_contacts"])
    assert table_counts(database_url, slug) == truth_counts(amo_sandbox)
    with psycopg.connect(database_url) as conn:
        loaded = {
            row[0]: row[1:]
            for row in conn.execute(
                "select id, price, status_id, extract(epoch from updated_at)::bigint "
                f'from "{slug}_raw".amocrm_leads'
            )
        }
    for lead_id in changed["updated_leads"]:
        lead = sc.lead(lead_id)
        assert loaded[lead_id] == (lead.price, lead.status_id, lead.updated_at)

    # The request rate never exceeded amoCRM's 7/s, and the emulator never had to refuse one.
    assert amocrm_log(amo_sandbox)["max_per_second"] <= 7


def test_faults_are_survived_without_duplicates(
    amo_sandbox: SandboxServer, database_url: str, slug: str
) -> None:
    amo_sandbox.state.set_faults("amocrm", burst_429=2, drop_connection=2, error_rate=0.25)
    load(amo_sandbox, slug, database_url, RateLimiter(7))
    assert table_counts(database_url, slug) == truth_counts(amo_sandbox)
    with psycopg.connect(database_url) as conn:
        for table, key in (("amocrm_leads", "id"), ("amocrm_contact_phones", "contact_id, position")):
            dupes = conn.execute(
                f'select count(*) from (select {key} from "{slug}_raw".{table} '
                f"group by {key} having count(*) > 1) d"
            ).fetchone()[0]
            assert dupes == 0
    assert amocrm_log(amo_sandbox)["rejected_429"] >= 2


def test_full_run_marks_deleted_rows(amo_sandbox: SandboxServer, database_url: str, slug: str) -> None:
    limiter = RateLimiter(7)
    load(amo_sandbox, slug, database_url, limiter)
    sc = amo_sandbox.state.scenario
    gone_lead, gone_contact = sc.leads.pop(3), sc.contacts.pop(5)
    sc.reindex()
    load(amo_sandbox, slug, database_url, limiter, full=True)
    with psycopg.connect(database_url) as conn:
        flagged = conn.execute(
            f'select id, name from "{slug}_raw".amocrm_leads where is_deleted union all '
            f'select id, name from "{slug}_raw".amocrm_contacts where is_deleted'
        ).fetchall()
    # Marked, not dropped, and the other columns survive the flag.
    assert sorted(flagged) == sorted([(gone_lead.id, gone_lead.name), (gone_contact.id, gone_contact.name)])


def test_filter_ignored_falls_back_to_scanning(
    amo_sandbox: SandboxServer, database_url: str, slug: str
) -> None:
    amo_sandbox.state.set_faults("amocrm", filter_enabled=False)
    limiter = RateLimiter(7)
    load(amo_sandbox, slug, database_url, limiter)
    changed = amo_sandbox.state.scenario.advance(deletions=False)
    counts = load(amo_sandbox, slug, database_url, limiter)
    assert counts["amocrm_leads"] == len(changed["updated_leads"]) + len(changed["added_leads"])
    assert table_counts(database_url, slug) == truth_counts(amo_sandbox)


def test_two_tenants_side_by_side(database_url: str) -> None:
    with SandboxServer(seed=21, scenario="small") as a, SandboxServer(seed=22, scenario="small") as b:
        load(a, "tenant_a", database_url, RateLimiter(7))
        load(b, "tenant_b", database_url, RateLimiter(7))
        assert table_counts(database_url, "tenant_a") == truth_counts(a)
        assert table_counts(database_url, "tenant_b") == truth_counts(b)
        with psycopg.connect(database_url) as conn:
            names_a = {r[0] for r in conn.execute("select name from tenant_a_raw.amocrm_contacts")}
            names_b = {r[0] for r in conn.execute("select name from tenant_b_raw.amocrm_contacts")}
        assert names_a == {c.name for c in a.state.scenario.contacts}
        assert names_b == {c.name for c in b.state.scenario.contacts}


@pytest.mark.parametrize(("account_status", "status"), [("unpaid", 402), ("blocked", 403)])
def test_unpaid_or_blocked_account_stops_with_clear_error(
    amo_sandbox: SandboxServer, account_status: str, status: int
) -> None:
    amo_sandbox.state.set_faults("amocrm", account_status=account_status)
    with make_client(amo_sandbox, RateLimiter(7)) as client, pytest.raises(AmoCRMAccountError) as info:
        client.get("/api/v4/leads", {"limit": 1})
    assert info.value.status == status
    assert amo_sandbox.state.amo_long_lived_token not in str(info.value)
    assert client.stats.requests == 1  # fatal: never retried


def test_bulk_edit_in_one_second_is_drained_without_skips(database_url: str, slug: str) -> None:
    """A robot stamps more rows than one page with the same second: keyset paging drains it by id."""
    with SandboxServer(seed=12, scenario="medium") as sb:
        sb.state.set_faults("amocrm", rate_limit_rps=None)  # the limit is covered elsewhere; keep this fast
        limiter = RateLimiter(None)
        load(sb, slug, database_url, limiter)
        sc = sb.state.scenario
        stamp = max(lead.updated_at for lead in sc.leads) + 120
        bulk = list(range(0, 1200, 2))  # 600 leads in one second, then a few a second later
        for i in bulk:
            sc.leads[i] = sc.leads[i]._replace(updated_at=stamp, price=sc.leads[i].price + 1)
        for i in (1, 3, 5):
            sc.leads[i] = sc.leads[i]._replace(updated_at=stamp + 1, price=sc.leads[i].price + 1)
        sc.reindex()
        counts = load(sb, slug, database_url, limiter)
        assert counts["amocrm_leads"] == len(bulk) + 3
        with psycopg.connect(database_url) as conn:
            prices = dict(conn.execute(f'select id, price from "{slug}_raw".amocrm_leads').fetchall())
        assert prices == {lead.id: lead.price for lead in sc.leads}
        assert table_counts(database_url, slug) == truth_counts(sb)
