"""amoCRM OAuth in the portal: the **Connect amoCRM** button and the consent callback.

The round trip (docs/apis/amocrm.md §1.1):
1. An admin presses Connect (`POST /t/{slug}/settings/amocrm/connect`, CSRF-protected). A signed,
   single-use `state` bound to the tenant and the user is stored (`cp.oauth_states`), and the
   browser goes (303) to `{oauth_url}/oauth?client_id=…&state=…&mode=post_message`.
2. The user allows access in amoCRM; amoCRM sends the browser to the integration's redirect URI,
   `{SYNKRO_PUBLIC_URL}/oauth/amocrm/callback?code=…&referer=…&state=…`.
3. The callback spends the state (refused when forged, reused, expired or someone else's),
   checks that `referer` is the configured account, exchanges the code at the configured base URL
   (never at a host taken from the request) with the portal's redirect URI, stores the pair
   encrypted, runs the amoCRM check (its status is recorded) and returns to the wizard with
   `?amocrm=connected`.

A refusal stores nothing and sends the browser on to a page of its own saying why
(`/oauth/amocrm/refused`), so the code leaves the address bar. The code and the tokens never
reach a log, an audit entry, a page or an error text.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.responses import RedirectResponse, Response

from synkro.controlplane.oauth_states import OAuthStateError
from synkro.integrations.schemas import AMOCRM_HOST_SUFFIXES, AmoCRMConfig
from synkro.web.access import TenantAccess, controlplane, optional_user, require, tenant_access
from synkro.web.i18n import translate
from synkro.web.templating import TEMPLATES, render, request_lang

log = logging.getLogger(__name__)
router = APIRouter()

PROVIDER = "amocrm"
# The wizard's address after a successful connection; the partial shows the notice for it.
CONNECTED_PARAM = ("amocrm", "connected")


def wizard_url(slug: str) -> str:
    return f"/t/{slug}/settings/amocrm"


@dataclass(frozen=True)
class ConnectView:
    """What `_amocrm_connect.html` shows for the tenant of the page."""

    slug: str
    can_connect: bool
    missing: list[str] = field(default_factory=list)
    grant: str = "none"  # none | oauth | long_lived
    expires_at: datetime | None = None
    account_id: int | None = None
    account_host: str = ""
    redirect_uri: str = ""
    consent_host: str = ""
    just_connected: bool = False


def connect_view(request: Request) -> ConnectView | None:
    """The partial's data, read from the control plane for the page's tenant (None off-tenant)."""
    access: TenantAccess | None = getattr(request.state, "access", None)
    if access is None:
        return None
    config = controlplane(request).configs.find_config(access.slug, PROVIDER)
    redirect_uri = request.app.state.config.amocrm_redirect_uri
    base = {"slug": access.slug, "can_connect": access.at_least("admin"), "redirect_uri": redirect_uri}
    if not isinstance(config, AmoCRMConfig):
        return ConnectView(**base, missing=["subdomain", "client_id", "client_secret"])
    grant = "long_lived" if config.long_lived_token else "oauth" if config.access_token else "none"
    return ConnectView(
        **base,
        missing=[name for name in ("client_id", "client_secret") if not getattr(config, name)],
        grant=grant,
        expires_at=datetime.fromtimestamp(config.expires_at, UTC) if config.expires_at else None,
        account_id=config.account_id,
        account_host=urlsplit(config.effective_base_url).netloc,
        consent_host=urlsplit(config.effective_oauth_url).netloc,
        just_connected=grant == "oauth"
        and request.query_params.get(CONNECTED_PARAM[0]) == CONNECTED_PARAM[1],
    )


# The wizard includes the partial without knowing what it needs: the partial asks for itself.
TEMPLATES.env.globals["amocrm_connect_view"] = connect_view


def referer_host(referer: str | None) -> str:
    """`referer` as a bare host (amoCRM sends `sub.amocrm.ru`; a scheme or path is tolerated)."""
    raw = (referer or "").strip().lower()
    if "://" not in raw:
        raw = "//" + raw
    parts = urlsplit(raw)
    return (parts.netloc or "").rstrip(".")


def account_hosts(config: AmoCRMConfig) -> set[str]:
    """The hosts a `referer` may name for this tenant's account.

    An account host as base URL (`acme.amocrm.ru`, `acme.kommo.com`) is the only one: the same
    name in another family is another account. Behind a proxy or the sandbox the base URL says
    nothing about the family, so the subdomain in any family, or the base URL's host, is taken.
    """
    base = urlsplit(config.effective_base_url)
    own = {f"{config.subdomain}{suffix}" for suffix in AMOCRM_HOST_SUFFIXES}
    if base.hostname in own:
        return {base.hostname}
    return own | {base.netloc, base.hostname or ""}


def consent_url(config: AmoCRMConfig, state: str) -> str:
    query = urlencode({"client_id": config.client_id, "state": state, "mode": "post_message"})
    return f"{config.effective_oauth_url}/oauth?{query}"


@router.get("/t/{slug}/settings/amocrm/connect")
def connect_page(request: Request, access: TenantAccess = Depends(require("admin"))) -> Response:
    """The Connect button on a page of its own (the wizard's amoCRM step includes the same part)."""
    return render(request, "amocrm_connect.html", section="settings")


@router.post("/t/{slug}/settings/amocrm/connect")
def connect_start(request: Request, access: TenantAccess = Depends(require("admin"))) -> Response:
    cp = controlplane(request)
    config = cp.configs.find_config(access.slug, PROVIDER)
    if not isinstance(config, AmoCRMConfig) or not config.connectable:
        raise HTTPException(
            status_code=409, detail=translate(request_lang(request), "oauth.not_ready_detail")
        )
    state = cp.oauth_states.issue(
        PROVIDER, access.slug, access.user.id, request.app.state.config.state_secret, actor=access.user.email
    )
    return RedirectResponse(consent_url(config, state), status_code=303)


REFUSAL_KEY = "oauth_refusal"
REFUSED_PATH = "/oauth/amocrm/refused"


def _refuse(
    request: Request,
    reason: str,
    status: int,
    *,
    slug: str | None = None,
    actor: str | None = None,
    values: dict[str, Any] | None = None,
    audit_tenant: str | None = None,
) -> Response:
    """Refuse the callback: audit why (never the code or the state), then show it on a clean URL.

    The refusal page has an address of its own, so the code leaves the address bar and the
    history at once and no link on the page (language switch, ...) can carry it on. `slug` (the
    way back) is given only once the user's access to the tenant is established; the audit entry
    names the tenant of a refused state (`audit_tenant`) without showing it to the visitor.
    """
    tenant = slug or audit_tenant
    controlplane(request).audit.record(
        actor or "anonymous", "oauth.refused", tenant, {"provider": PROVIDER, "reason": reason}
    )
    log.info("amoCRM OAuth callback refused (%s) for tenant %s", reason, tenant or "?")
    request.session[REFUSAL_KEY] = {"reason": reason, "status": status, "slug": slug, "values": values or {}}
    response = RedirectResponse(REFUSED_PATH, status_code=303)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@router.get(REFUSED_PATH)
def refused_page(request: Request) -> Response:
    refusal = request.session.get(REFUSAL_KEY) or {"reason": "no_state", "status": 400}
    slug = refusal.get("slug")
    return render(
        request,
        "oauth_result.html",
        status_code=int(refusal.get("status") or 400),
        reason=refusal["reason"],
        values=refusal.get("values") or {},
        back=wizard_url(slug) if slug else None,
    )


@router.get("/oauth/amocrm/callback")
def callback(
    request: Request,
    code: str | None = None,
    state: str | None = None,
    referer: str | None = None,
    error: str | None = None,
) -> Response:
    from synkro.checks import CheckOptions, run_check
    from synkro.clients.amocrm import AmoCRMError
    from synkro.clients.amocrm_connect import connect_with_code
    from synkro.clients.amocrm_oauth import OAuthApp
    from synkro.tenant_context import TenantContext

    cp = controlplane(request)
    user = optional_user(request)
    if user is None:
        # Not to the login form with `next=`: that would put the code into a page.
        return _refuse(request, "signed_out", 401)
    if not state:
        return _refuse(request, "no_state", 400, actor=user.email)
    secret = request.app.state.config.state_secret
    try:
        spent = cp.oauth_states.consume(PROVIDER, state, secret, user_id=user.id)
    except OAuthStateError as exc:
        return _refuse(request, exc.reason, 400, actor=user.email, audit_tenant=exc.tenant)
    slug = spent.tenant
    access = tenant_access(request, slug, "admin")  # the role may have gone since the button
    actor = access.user.email
    if error:
        return _refuse(request, "denied", 400, slug=slug, actor=actor)
    if not code:
        return _refuse(request, "no_code", 400, slug=slug, actor=actor)
    config = cp.configs.find_config(slug, PROVIDER)
    if not isinstance(config, AmoCRMConfig) or not config.connectable:
        return _refuse(request, "not_ready", 409, slug=slug, actor=actor)
    got = referer_host(referer)
    hosts = account_hosts(config)
    if got not in hosts:
        expected = next(iter(hosts)) if len(hosts) == 1 else f"{config.subdomain}.amocrm.ru"
        values = {"got": got[:100] or "—", "expected": expected}
        return _refuse(request, "wrong_account", 400, slug=slug, actor=actor, values=values)

    redirect_uri = request.app.state.config.amocrm_redirect_uri
    app = OAuthApp(
        base_url=config.effective_base_url,  # the configured account, never the request's referer
        client_id=config.client_id or "",
        client_secret=config.client_secret.get_secret_value() if config.client_secret else "",
        redirect_uri=redirect_uri,
    )
    try:
        connected = connect_with_code(cp, slug, app, code, {"redirect_uri": redirect_uri}, actor=actor)
    except AmoCRMError as exc:
        detail = str(exc).replace(code, "••••")[:300]
        return _refuse(request, "exchange_failed", 502, slug=slug, actor=actor, values={"detail": detail})
    result = run_check(TenantContext.load(slug, cp), PROVIDER, CheckOptions())
    account_id = connected.account.get("id") if connected.account else None
    cp.audit.record(
        actor,
        "oauth.connected",
        slug,
        {"provider": PROVIDER, "account_id": account_id, "check": "ok" if result.ok else "error"},
    )
    log.info("amoCRM connected for %s through the portal (account %s)", slug, account_id)
    return RedirectResponse(f"{wizard_url(slug)}?{urlencode([CONNECTED_PARAM])}", status_code=303)
