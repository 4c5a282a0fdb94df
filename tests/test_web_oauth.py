"""Issue 10: Connect amoCRM through the consent page, in a real browser, app, Postgres and sandbox.

The round trip: an admin presses Connect, lands on the sandbox's consent page, allows, and comes
back through `/oauth/amocrm/callback` with tokens stored encrypted and the check recorded. Then
everything that must be refused: a replayed callback, a forged, expired or someone else's
`state`, a wrong `referer`, a refusal at amoCRM, a signed-out callback; each stores nothing,
and the code never shows up in a page, the audit log or an error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from sqlalchemy import update

from sandbox.server import SandboxServer
from sandbox.state import DEFAULT_AMO_REDIRECT_URI
from synkro.clients.tenant_clients import amocrm_client_for
from synkro.controlplane.tables import oauth_states
from synkro.integrations.schemas import AmoCRMConfig
from synkro.web.app import csp_for
from synkro.web.routes.oauth import account_hosts, referer_host
from tests.fixtures.portal import DESKTOP, PHONE, Portal, screenshot, sign_in

CALLBACK = "/oauth/amocrm/callback"


@pytest.fixture
def registered(portal: Portal, sandbox: SandboxServer) -> Iterator[str]:
    """The sandbox integration's redirect URI set to this portal's callback, as amoCRM requires."""
    uri = portal.config.amocrm_redirect_uri
    httpx.post(f"{sandbox.urls.control}/amocrm/integration", json={"redirect_uri": uri}).raise_for_status()
    yield uri
    httpx.post(
        f"{sandbox.urls.control}/amocrm/integration", json={"redirect_uri": DEFAULT_AMO_REDIRECT_URI}
    ).raise_for_status()


def configure(portal: Portal, sandbox: SandboxServer, slug: str, **fields: object) -> None:
    """What the admin types into the amoCRM step before connecting: account and integration keys."""
    amo = sandbox.info()["amocrm"]
    document = {k: amo[k] for k in ("subdomain", "base_url", "oauth_url", "client_id", "client_secret")}
    portal.cp.configs.set_config(slug, "amocrm", {**document, **fields}, actor="tests")


def connect_page(portal: Portal, slug: str) -> str:
    return f"{portal.url}/t/{slug}/settings/amocrm/connect"


def to_consent(page, portal: Portal, sandbox: SandboxServer, slug: str) -> None:
    page.goto(connect_page(portal, slug))
    page.click("[data-testid=amocrm-connect]")
    page.wait_for_url(f"{sandbox.urls.amocrm}/oauth?*")


def allow_and_capture(page, portal: Portal, sandbox: SandboxServer, slug: str) -> str:
    """Press Connect, allow at the consent page, and keep the callback URL without opening it.

    The consent form's answer is fetched from the sandbox as is (302 to the callback) and the
    browser is told 204, so it stays put (Playwright does not route redirect targets).
    """
    to_consent(page, portal, sandbox, slug)
    captured: list[str] = []

    def is_decision(url: str) -> bool:
        return url == f"{sandbox.urls.amocrm}/oauth"

    def keep_location(route) -> None:
        answer = route.fetch(max_redirects=0)
        captured.append(answer.headers["location"])
        route.fulfill(status=204)

    page.route(is_decision, keep_location)
    with page.expect_response(lambda r: is_decision(r.url)):
        page.click("[data-testid=sandbox-consent-allow]")
    page.unroute(is_decision)
    assert captured and captured[0].startswith(f"{portal.url}{CALLBACK}?")
    return captured[0]


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode(query)}"


def code_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["code"][0]


def stored(portal: Portal, slug: str) -> tuple[int, AmoCRMConfig]:
    record = portal.cp.configs.get_record(slug, "amocrm")
    assert isinstance(record.config, AmoCRMConfig)
    return record.version, record.config


def audit_text(portal: Portal, slug: str | None = None) -> str:
    return json.dumps([entry.to_dict() for entry in portal.cp.audit.list(tenant=slug, limit=500)])


def refused(page, reason: str) -> None:
    card = page.locator("[data-testid=oauth-refused]")
    assert card.get_attribute("data-reason") == reason, page.inner_text("main")


def test_connect_round_trip_stores_tokens_and_a_replay_is_refused(
    portal: Portal, sandbox: SandboxServer, registered: str, page
) -> None:
    slug = portal.tenant("oauth")
    admin = portal.account("admin", slug)
    configure(portal, sandbox, slug)
    sign_in(page, portal, admin, f"/t/{slug}/settings/amocrm/connect")
    assert page.locator("[data-testid=amocrm-grant]").inner_text() == "Не подключено"
    assert page.locator("[data-testid=amocrm-redirect-uri]").input_value() == registered
    screenshot(page, "amocrm-connect")
    page.set_viewport_size(PHONE)
    screenshot(page, "amocrm-connect-phone")
    page.set_viewport_size(DESKTOP)

    page.click("[data-testid=amocrm-connect]")
    page.wait_for_url(f"{sandbox.urls.amocrm}/oauth?*")
    consent = parse_qs(urlsplit(page.url).query)
    assert consent["client_id"] == [sandbox.state.credentials.amocrm_client_id]
    assert consent["mode"] == ["post_message"] and consent["state"][0]
    assert page.locator("[data-testid=sandbox-consent-account]").inner_text() == "synkro-sandbox.amocrm.ru"
    screenshot(page, "amocrm-consent")

    with page.expect_response(lambda r: CALLBACK in r.url) as answer:
        page.click("[data-testid=sandbox-consent-allow]")
    callback = answer.value
    callback_url = callback.url
    code = code_of(callback_url)
    assert callback.status == 303
    assert callback.headers["location"] == f"/t/{slug}/settings/amocrm?amocrm=connected"
    assert parse_qs(urlsplit(callback_url).query)["referer"] == ["synkro-sandbox.amocrm.ru"]
    page.wait_for_load_state()
    assert code not in page.content()  # the wizard (404 until its branch lands) never shows it

    _, config = stored(portal, slug)
    assert config.access_token and config.refresh_token and config.expires_at
    assert config.account_id == sandbox.state.credentials.amocrm_account_id
    assert config.redirect_uri == registered
    assert portal.cp.configs.get_record(slug, "amocrm").status == "ok"  # the check ran on the new token
    with amocrm_client_for(portal.cp, slug) as client:
        assert client.get("/api/v4/account")["id"] == config.account_id
    version, config = stored(portal, slug)
    access = config.access_token.get_secret_value()
    refresh = config.refresh_token.get_secret_value()

    page.goto(f"{connect_page(portal, slug)}?amocrm=connected")
    assert page.locator("[data-testid=amocrm-connected]").is_visible()
    assert page.locator("[data-testid=amocrm-oauth]").get_attribute("data-grant") == "oauth"
    assert page.locator("[data-testid=amocrm-connect]").inner_text() == "Подключить заново"
    html = page.content()
    for secret in (code, access, refresh, sandbox.state.credentials.amocrm_client_secret):
        assert secret not in html
    screenshot(page, "amocrm-connected")

    # The callback replayed (browser history, a leaked link): the state is spent.
    page.goto(callback_url)
    refused(page, "used")
    assert code not in page.content()
    screenshot(page, "amocrm-refused-used")
    assert stored(portal, slug)[0] == version
    assert stored(portal, slug)[1].access_token.get_secret_value() == access
    log = audit_text(portal, slug)
    assert "oauth.connected" in log and '"reason": "used"' in log
    for secret in (code, access, refresh, consent["state"][0]):
        assert secret not in log


def test_forged_and_expired_states_are_refused(
    portal: Portal, sandbox: SandboxServer, registered: str, page
) -> None:
    slug = portal.tenant("oauth")
    admin = portal.account("admin", slug)
    configure(portal, sandbox, slug)
    sign_in(page, portal, admin, f"/t/{slug}/settings/amocrm/connect")
    callback_url = allow_and_capture(page, portal, sandbox, slug)
    state = parse_qs(urlsplit(callback_url).query)["state"][0]
    before = stored(portal, slug)[0]

    page.goto(with_query(callback_url, state="made-up-state"))
    refused(page, "forged")
    tampered = state[:-2] + ("AA" if not state.endswith("AA") else "BB")
    page.goto(with_query(callback_url, state=tampered))
    refused(page, "forged")

    # Twenty minutes pass (the row's expiry moved into the past, as the clock would).
    user_id = portal.cp.users.get(admin.email).id
    with portal.cp.engine.begin() as conn:
        conn.execute(
            update(oauth_states)
            .where(oauth_states.c.user_id == user_id, oauth_states.c.used_at.is_(None))
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    page.goto(callback_url)
    refused(page, "expired")
    assert code_of(callback_url) not in page.content()
    version, config = stored(portal, slug)
    assert version == before and config.access_token is None and config.refresh_token is None


def test_someone_elses_state_and_a_wrong_referer_are_refused(
    portal: Portal, sandbox: SandboxServer, registered: str, page, browser
) -> None:
    slug = portal.tenant("oauth")
    admin = portal.account("admin", slug)
    configure(portal, sandbox, slug)
    sign_in(page, portal, admin, f"/t/{slug}/settings/amocrm/connect")
    callback_url = allow_and_capture(page, portal, sandbox, slug)
    before = stored(portal, slug)[0]

    # Another admin of the same company, and an admin of another company, open A's callback link.
    other_slug = portal.tenant("oauth")
    for other in (portal.account("admin", slug), portal.account("admin", other_slug)):
        context = browser.new_context(viewport=DESKTOP, locale="ru-RU")
        try:
            theirs = context.new_page()
            sign_in(theirs, portal, other, "/account")
            theirs.goto(callback_url)
            refused(theirs, "other_user")
        finally:
            context.close()
    assert stored(portal, slug)[0] == before

    # A's own callback, but the grant came from another amoCRM account.
    page.goto(with_query(callback_url, referer="someone-else.amocrm.ru"))
    refused(page, "wrong_account")
    assert "someone-else.amocrm.ru" in page.inner_text("[data-testid=oauth-refused]")
    assert code_of(callback_url) not in page.content()
    screenshot(page, "amocrm-refused-referer")
    version, config = stored(portal, slug)
    assert version == before and config.access_token is None


def test_deny_at_amocrm_stores_nothing(portal: Portal, sandbox: SandboxServer, registered: str, page) -> None:
    slug = portal.tenant("oauth")
    admin = portal.account("admin", slug)
    configure(portal, sandbox, slug)
    sign_in(page, portal, admin, f"/t/{slug}/settings/amocrm/connect")
    before = stored(portal, slug)[0]
    to_consent(page, portal, sandbox, slug)
    with page.expect_response(lambda r: CALLBACK in r.url) as answer:
        page.click("[data-testid=sandbox-consent-deny]")
    assert "error=access_denied" in answer.value.url and answer.value.status == 303
    assert page.url == f"{portal.url}/oauth/amocrm/refused"
    refused(page, "denied")
    page.set_viewport_size(PHONE)
    screenshot(page, "amocrm-refused-denied-phone")
    assert stored(portal, slug)[0] == before


def test_connect_explains_what_is_missing_and_needs_an_admin(
    portal: Portal, sandbox: SandboxServer, page
) -> None:
    slug = portal.tenant("oauth")
    admin = portal.account("admin", slug)
    sign_in(page, portal, admin, f"/t/{slug}/settings/amocrm/connect")
    missing = page.locator("[data-testid=amocrm-connect-missing]").inner_text()
    assert "поддомен" in missing and "client_id" in missing and "client_secret" in missing
    assert page.locator("[data-testid=amocrm-connect]").is_disabled()

    # A long-lived token and no integration keys: the secret is still missing.
    amo = sandbox.info()["amocrm"]
    portal.cp.configs.set_config(
        slug,
        "amocrm",
        {
            "subdomain": amo["subdomain"],
            "base_url": amo["base_url"],
            "long_lived_token": amo["long_lived_token"],
        },
        actor="tests",
    )
    page.goto(f"{connect_page(portal, slug)}?lang=en")
    assert page.locator("[data-testid=amocrm-grant]").inner_text() == "A long-lived token is in use"
    missing = page.locator("[data-testid=amocrm-connect-missing]").inner_text()
    assert "client_id" in missing and "client_secret" in missing
    assert amo["long_lived_token"] not in page.content()
    screenshot(page, "amocrm-connect-missing")
    token = page.locator("meta[name=csrf-token]").get_attribute("content")
    answer = page.request.post(f"{connect_page(portal, slug)}", form={"csrftoken": token}, max_redirects=0)
    assert answer.status == 409

    # A viewer sees neither the page nor the action.
    viewer = portal.account("viewer", slug)
    with httpx.Client(base_url=portal.url) as http:
        http.get("/login")
        csrf = http.cookies["csrftoken"]
        http.post("/login", data={"email": viewer.email, "password": viewer.password, "csrftoken": csrf})
        assert http.get(f"/t/{slug}/settings/amocrm/connect").status_code == 403
        assert http.post(f"/t/{slug}/settings/amocrm/connect", data={"csrftoken": csrf}).status_code == 403


def test_callback_without_a_session_is_refused_without_passing_the_code_on(portal: Portal) -> None:
    code = "def50200" + "c0de" * 16
    with httpx.Client(base_url=portal.url) as http:
        answer = http.get(CALLBACK, params={"code": code, "state": "x", "referer": "a.amocrm.ru"})
        # Not to the sign-in form with the code in `next=`: to the refusal page, code left behind.
        assert answer.status_code == 303 and answer.headers["location"] == "/oauth/amocrm/refused"
        assert answer.headers["referrer-policy"] == "no-referrer"
        page = http.get(answer.headers["location"])
    assert page.status_code == 401 and 'data-reason="signed_out"' in page.text
    assert code not in page.text and "next=" not in page.text
    assert code not in audit_text(portal)


def test_sandbox_consent_codes_need_the_registered_redirect_uri(
    sandbox: SandboxServer, registered: str
) -> None:
    amo = sandbox.info()["amocrm"]
    with httpx.Client() as http:
        answer = http.post(
            f"{sandbox.urls.amocrm}/oauth",
            data={"decision": "allow", "client_id": amo["client_id"], "state": "s1"},
        )
        assert answer.status_code == 302
        back = answer.headers["location"]
        assert back.startswith(registered + "?")
        query = parse_qs(urlsplit(back).query)
        assert query["state"] == ["s1"] and query["referer"] == ["synkro-sandbox.amocrm.ru"]
        body = {
            "client_id": amo["client_id"],
            "client_secret": amo["client_secret"],
            "grant_type": "authorization_code",
            "code": query["code"][0],
        }
        token_url = f"{amo['base_url']}/oauth2/access_token"
        wrong = http.post(token_url, json=body | {"redirect_uri": "https://elsewhere.example/cb"})
        assert wrong.status_code == 400 and "redirect_uri" in wrong.json()["hint"]
        right = http.post(token_url, json=body | {"redirect_uri": registered})
        assert right.status_code == 200 and right.json()["refresh_token"]


def test_referer_names_the_configured_account() -> None:
    assert referer_host("https://Acme.amocrm.ru/") == "acme.amocrm.ru"
    assert referer_host("acme.kommo.com") == "acme.kommo.com"
    plain = AmoCRMConfig(subdomain="acme", client_id="id", client_secret="secret")
    assert account_hosts(plain) == {"acme.amocrm.ru"}
    kommo = AmoCRMConfig(subdomain="acme.kommo.com", client_id="id", client_secret="secret")
    assert account_hosts(kommo) == {"acme.kommo.com"}
    assert kommo.effective_oauth_url == "https://www.kommo.com"
    assert plain.effective_oauth_url == "https://www.amocrm.ru"
    proxied = AmoCRMConfig(
        subdomain="acme", base_url="http://127.0.0.1:9/amocrm", client_id="i", client_secret="s"
    )
    assert {"acme.amocrm.ru", "acme.kommo.com", "127.0.0.1:9"} <= account_hosts(proxied)
    assert "evil.amocrm.ru" not in account_hosts(proxied)


def test_form_redirects_to_plain_http_only_on_a_local_portal(portal: Portal) -> None:
    from dataclasses import replace

    local = csp_for(portal.config)
    public = csp_for(replace(portal.config, public_url="https://synkro.example"))
    assert "form-action 'self' https: http:" in local
    assert "form-action 'self' https:;" in public and "http:;" not in public
