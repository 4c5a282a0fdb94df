"""The amoCRM emulator over real HTTP with httpx: one test per documented quirk."""

from __future__ import annotations

import time

import httpx
import pytest

from sandbox.server import SandboxServer
from sandbox.state import SandboxState

OAUTH_PROBLEM = "https://developers.amocrm.ru/v3/errors/OAuthProblemJson"
# One plain client: http.get() builds a new SSL context per call, which costs ~0.3 s.
http = httpx.Client(timeout=10)


@pytest.fixture
def amo(sandbox: SandboxServer, sandbox_faults: SandboxState) -> httpx.Client:
    """An httpx client with the long-lived token; rate limit off unless a test turns it on."""
    sandbox_faults.set_faults("amocrm", rate_limit_rps=None)
    info = sandbox.info()["amocrm"]
    headers = {"Authorization": f"Bearer {info['long_lived_token']}"}
    with httpx.Client(base_url=info["base_url"], headers=headers, timeout=10) as client:
        yield client


def _token_request(sandbox: SandboxServer, **body: str) -> httpx.Response:
    info = sandbox.info()["amocrm"]
    payload = {
        "client_id": info["client_id"],
        "client_secret": info["client_secret"],
        "redirect_uri": "https://example.com",
        **body,
    }
    return http.post(f"{info['base_url']}/oauth2/access_token", json=payload)


def _fresh_code(sandbox: SandboxServer) -> str:
    return http.post(f"{sandbox.urls.control}/amocrm/auth_codes").json()["auth_code"]


def test_missing_token_is_401_problem_json(sandbox: SandboxServer, sandbox_faults: SandboxState) -> None:
    response = http.get(f"{sandbox.urls.amocrm}/api/v4/account", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json() == {
        "title": "Unauthorized",
        "type": "https://httpstatus.es/401",
        "status": 401,
        "detail": "Неверный логин или пароль",
    }


def test_auth_code_exchange_works_once(sandbox: SandboxServer, sandbox_faults: SandboxState) -> None:
    code = _fresh_code(sandbox)
    first = _token_request(sandbox, grant_type="authorization_code", code=code)
    assert first.status_code == 200
    pair = first.json()
    assert pair["token_type"] == "Bearer" and pair["expires_in"] == 86400 and pair["refresh_token"]
    assert isinstance(pair["server_time"], int)
    account = http.get(
        f"{sandbox.urls.amocrm}/api/v4/account", headers={"Authorization": f"Bearer {pair['access_token']}"}
    )
    assert account.status_code == 200 and account.json()["subdomain"] == "synkro-sandbox"
    again = _token_request(sandbox, grant_type="authorization_code", code=code)
    assert again.status_code == 400
    assert again.json()["hint"] == "Authorization code has been revoked"


def test_refresh_token_is_single_use_with_documented_revoked_body(
    sandbox: SandboxServer, sandbox_faults: SandboxState
) -> None:
    pair = _token_request(sandbox, grant_type="authorization_code", code=_fresh_code(sandbox)).json()
    renewed = _token_request(sandbox, grant_type="refresh_token", refresh_token=pair["refresh_token"])
    assert renewed.status_code == 200
    assert renewed.json()["refresh_token"] != pair["refresh_token"]
    reused = _token_request(sandbox, grant_type="refresh_token", refresh_token=pair["refresh_token"])
    assert reused.status_code == 401
    assert reused.headers["content-type"].startswith("application/problem+json")
    assert reused.json() == {
        "hint": "Token has been revoked",
        "title": "Некорректный запрос",
        "type": OAUTH_PROBLEM,
        "status": 401,
        "detail": "В запросе отсутствует ряд параметров или параметры невалидны",
    }
    # The new pair keeps working.
    again = _token_request(sandbox, grant_type="refresh_token", refresh_token=renewed.json()["refresh_token"])
    assert again.status_code == 200


def test_access_token_expires_after_configured_lifetime(
    sandbox: SandboxServer, sandbox_faults: SandboxState
) -> None:
    sandbox_faults.set_faults("amocrm", token_lifetime_s=1)
    pair = _token_request(sandbox, grant_type="authorization_code", code=_fresh_code(sandbox)).json()
    assert pair["expires_in"] == 1
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    assert http.get(f"{sandbox.urls.amocrm}/api/v4/account", headers=headers).status_code == 200
    time.sleep(1.1)
    assert http.get(f"{sandbox.urls.amocrm}/api/v4/account", headers=headers).status_code == 401


def test_bad_client_secret_is_rejected(sandbox: SandboxServer, sandbox_faults: SandboxState) -> None:
    response = _token_request(
        sandbox, grant_type="authorization_code", code=_fresh_code(sandbox), client_secret="wrong"
    )
    assert response.status_code == 401


def test_paging_follows_next_until_204_with_empty_body(amo: httpx.Client, sandbox: SandboxServer) -> None:
    seen: list[int] = []
    url: str | None = "/api/v4/leads?limit=20"
    pages = 0
    last_page: dict | None = None
    while url:
        response = amo.get(url)
        if response.status_code == 204:
            assert response.content == b""
            break
        assert response.headers["content-type"].startswith("application/hal+json")
        body = response.json()
        last_page = body
        seen.extend(lead["id"] for lead in body["_embedded"]["leads"])
        url = body["_links"]["next"]["href"]
        pages += 1
    assert sorted(seen) == sorted(lead.id for lead in sandbox.state.scenario.leads)
    assert len(seen) == len(set(seen))
    # 50 leads at 20 a page: the short third page still carries a `next` link (no totals).
    assert pages == 3 and last_page is not None and "next" in last_page["_links"]
    assert "_total_items" not in last_page


def test_page_past_the_end_is_204(amo: httpx.Client) -> None:
    response = amo.get("/api/v4/leads", params={"page": 999, "limit": 250})
    assert response.status_code == 204 and response.content == b""


def test_limit_over_250_falls_back_to_50(amo: httpx.Client) -> None:
    body = amo.get("/api/v4/leads", params={"limit": 500}).json()
    assert len(body["_embedded"]["leads"]) == 50


def test_with_contacts_embeds_links_only_when_asked(amo: httpx.Client, sandbox: SandboxServer) -> None:
    plain = amo.get("/api/v4/leads", params={"limit": 5}).json()["_embedded"]["leads"]
    assert all("contacts" not in lead["_embedded"] for lead in plain)
    rich = amo.get("/api/v4/leads", params={"limit": 250, "with": "contacts"}).json()["_embedded"]["leads"]
    for lead in rich:
        expected = sandbox.state.scenario.lead(lead["id"])
        assert expected is not None
        assert [(c["id"], c["is_main"]) for c in lead["_embedded"]["contacts"]] == list(expected.contacts)
        assert lead["custom_fields_values"] is None


def test_updated_at_filter_and_order(amo: httpx.Client, sandbox: SandboxServer) -> None:
    stamps = sorted(lead.updated_at for lead in sandbox.state.scenario.leads)
    lo, hi = stamps[10], stamps[30]
    params = {
        "filter[updated_at][from]": lo,
        "filter[updated_at][to]": hi,
        "order[updated_at]": "asc",
        "limit": 250,
    }
    leads = amo.get("/api/v4/leads", params=params).json()["_embedded"]["leads"]
    got = [lead["updated_at"] for lead in leads]
    assert got == sorted(got) and all(lo <= t <= hi for t in got)
    assert len(got) == sum(1 for t in stamps if lo <= t <= hi)
    desc = amo.get("/api/v4/leads", params={"order[updated_at]": "desc", "limit": 250}).json()
    got_desc = [lead["updated_at"] for lead in desc["_embedded"]["leads"]]
    assert got_desc == sorted(got_desc, reverse=True)


def test_filter_in_the_future_is_204(amo: httpx.Client) -> None:
    future = int(time.time()) + 86400
    assert amo.get("/api/v4/leads", params={"filter[updated_at][from]": future}).status_code == 204


def test_filter_by_ids(amo: httpx.Client, sandbox: SandboxServer) -> None:
    wanted = [sandbox.state.scenario.leads[3].id, sandbox.state.scenario.leads[7].id]
    params = [("filter[id][]", str(i)) for i in wanted]
    leads = amo.get("/api/v4/leads", params=params).json()["_embedded"]["leads"]
    assert sorted(lead["id"] for lead in leads) == sorted(wanted)


def test_filter_silently_ignored_when_addon_disabled(amo: httpx.Client, sandbox_faults: SandboxState) -> None:
    sandbox_faults.set_faults("amocrm", filter_enabled=False)
    account = amo.get("/api/v4/account", params={"with": "is_api_filter_enabled"}).json()
    assert account["is_api_filter_enabled"] is False
    future = int(time.time()) + 86400
    response = amo.get("/api/v4/leads", params={"filter[updated_at][from]": future, "limit": 10})
    assert response.status_code == 200 and len(response.json()["_embedded"]["leads"]) == 10


def test_contact_custom_fields_null_when_empty_and_phone_by_field_code(
    amo: httpx.Client, sandbox: SandboxServer
) -> None:
    contacts = amo.get("/api/v4/contacts", params={"limit": 250, "with": "leads"}).json()["_embedded"][
        "contacts"
    ]
    by_id = {c.id: c for c in sandbox.state.scenario.contacts}
    empties = [c for c in contacts if not by_id[c["id"]].phones and not by_id[c["id"]].email]
    assert empties, "the small scenario has contacts without phone and email"
    assert all(c["custom_fields_values"] is None for c in empties)
    for contact in contacts:
        phones = [
            v["value"]
            for f in contact["custom_fields_values"] or []
            if f["field_code"] == "PHONE"
            for v in f["values"]
        ]
        assert phones == [p.raw for p in by_id[contact["id"]].phones]
        assert "leads" in contact["_embedded"]


def test_missing_entity_is_204(amo: httpx.Client) -> None:
    assert amo.get("/api/v4/leads/1").status_code == 204
    assert amo.get("/api/v4/contacts/1").status_code == 204


def test_pipelines_repeat_won_and_lost_statuses(amo: httpx.Client) -> None:
    pipelines = amo.get("/api/v4/leads/pipelines").json()["_embedded"]["pipelines"]
    assert len(pipelines) >= 2
    for pipeline in pipelines:
        ids = {s["id"] for s in pipeline["_embedded"]["statuses"]}
        assert {142, 143} <= ids


def test_users_and_account_timezone(amo: httpx.Client, sandbox: SandboxServer) -> None:
    users = amo.get("/api/v4/users").json()
    assert users["_total_items"] == len(sandbox.state.scenario.users)
    account = amo.get("/api/v4/account", params={"with": "datetime_settings"}).json()
    assert account["_embedded"]["datetime_settings"]["timezone"] == "Europe/Moscow"
    assert account["country"] == "RU"


def test_rate_limit_answers_429_and_is_measured(amo: httpx.Client, sandbox_faults: SandboxState) -> None:
    sandbox_faults.set_faults("amocrm", rate_limit_rps=7)
    statuses = [amo.get("/api/v4/account").status_code for _ in range(12)]
    assert statuses[:7] == [200] * 7
    assert 429 in statuses[7:]
    report = http.get(f"{amo.base_url.scheme}://{amo.base_url.netloc.decode()}/_sandbox/requests").json()
    account = next(iter(report["amocrm"].values()))
    assert account["requests"] >= 12 and account["max_per_second"] >= 8 and account["rejected_429"] >= 1


def test_burst_of_429_then_recovery(amo: httpx.Client, sandbox_faults: SandboxState) -> None:
    sandbox_faults.set_faults("amocrm", burst_429=2)
    assert [amo.get("/api/v4/account").status_code for _ in range(3)] == [429, 429, 200]


def test_unpaid_account_is_402_and_blocked_is_403_html(
    amo: httpx.Client, sandbox_faults: SandboxState
) -> None:
    sandbox_faults.set_faults("amocrm", account_status="unpaid")
    unpaid = amo.get("/api/v4/leads")
    assert unpaid.status_code == 402 and unpaid.json()["status"] == 402
    sandbox_faults.set_faults("amocrm", account_status="blocked")
    blocked = amo.get("/api/v4/leads")
    assert blocked.status_code == 403 and blocked.headers["content-type"].startswith("text/html")


def test_server_errors_from_error_rate(amo: httpx.Client, sandbox_faults: SandboxState) -> None:
    sandbox_faults.set_faults("amocrm", error_rate=1.0)
    assert all(amo.get("/api/v4/account").status_code >= 500 for _ in range(3))


def test_dropped_connection_mid_page(amo: httpx.Client, sandbox: SandboxServer) -> None:
    http.post(f"{sandbox.urls.control}/faults", json={"amocrm": {"drop_connection": 1}}).raise_for_status()
    with pytest.raises(httpx.RemoteProtocolError):
        amo.get("/api/v4/leads", params={"limit": 250})
    assert amo.get("/api/v4/leads", params={"limit": 250}).status_code == 200


def test_latency_is_added(amo: httpx.Client, sandbox_faults: SandboxState) -> None:
    sandbox_faults.set_faults("amocrm", latency_ms=200)
    started = time.monotonic()
    amo.get("/api/v4/account")
    assert time.monotonic() - started >= 0.2


def test_fault_control_endpoint_round_trip(sandbox: SandboxServer, sandbox_faults: SandboxState) -> None:
    bad = http.post(f"{sandbox.urls.control}/faults", json={"amocrm": {"nonsense": 1}})
    assert bad.status_code == 400
    set_ = http.post(f"{sandbox.urls.control}/faults", json={"radist": {"latency_ms": 5}}).json()
    assert set_["radist"]["latency_ms"] == 5
    assert http.get(f"{sandbox.urls.control}/faults").json()["amocrm"]["rate_limit_rps"] == 7.0
