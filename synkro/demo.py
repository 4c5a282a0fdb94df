"""The `make demo` story: the whole product on the embedded Postgres and the local sandbox.

It is the same path a real tenant takes — tenant, configs through the validated control plane,
amoCRM connected by exchanging an authorization code, a forced run through Dagster — only the
services are the sandbox's. Nothing here shortcuts a step: if a step fails the demo fails.
"""

from __future__ import annotations

import html
import re
from typing import Any

import httpx

from synkro.clients.amocrm_oauth import OAuthApp, exchange_code
from synkro.controlplane import ControlPlane, NotFoundError

DEMO_SLUG = "demo"
DEMO_PORT = 8765
# The portal's callback at its default address (`make dev` serves it there): "Connect amoCRM" on
# the demo tenant comes back to it.
REDIRECT_URI = "http://127.0.0.1:8000/oauth/amocrm/callback"


def configure_tenant(cp: ControlPlane, info: dict[str, Any], slug: str = DEMO_SLUG) -> None:
    """(Re)create the demo tenant and point every integration at the sandbox."""
    try:
        cp.tenants.get(slug)
        cp.tenants.delete(slug)
    except NotFoundError:
        pass
    cp.tenants.create(slug, "Demo Company (sandbox)", timezone="Europe/Moscow", actor="demo")
    amo = info["amocrm"]
    app = OAuthApp(
        base_url=amo["base_url"],
        client_id=amo["client_id"],
        client_secret=amo["client_secret"],
        redirect_uri=REDIRECT_URI,
    )
    pair = exchange_code(app, amo["auth_code"])
    cp.configs.set_config(
        slug,
        "amocrm",
        {
            "subdomain": amo["subdomain"],
            "base_url": amo["base_url"],
            "oauth_url": amo["oauth_url"],
            "client_id": amo["client_id"],
            "client_secret": amo["client_secret"],
            "redirect_uri": REDIRECT_URI,
            "access_token": pair.access_token,
            "refresh_token": pair.refresh_token,
            "expires_at": pair.expires_at.isoformat() if pair.expires_at else None,
        },
        actor="demo",
    )
    radist = info["radist"]
    cp.configs.set_config(
        slug,
        "radist",
        {"base_url": radist["base_url"], "company_id": radist["company_id"], "api_key": radist["api_key"]},
        actor="demo",
    )
    gemini = info["gemini"]
    model = pick_model(gemini)
    cp.configs.set_config(
        slug,
        "gemini",
        {
            "base_url": gemini["base_url"],
            "api_key": gemini["api_key"],
            "api_version": "v1beta",
            "model": model,
        },
        actor="demo",
    )
    telegram = info["telegram"]
    cp.configs.set_config(
        slug,
        "telegram",
        {
            "base_url": telegram["base_url"],
            "bot_token": telegram["bot_token"],
            "chat_id": telegram["chat_id"],
        },
        actor="demo",
    )


def _model_version(name: str) -> tuple[int, ...]:
    match = re.match(r"gemini-(\d+(?:\.\d+)*)", name)
    return tuple(int(part) for part in match.group(1).split(".")) if match else ()


def pick_model(gemini: dict[str, Any]) -> str:
    """The newest pinned, non-preview flash-lite model the key can use (the brief's cheap default),
    else the newest flash, chosen from the live model list — never from a hard-coded one."""
    from synkro.analysis.gemini import list_models

    names = [m.name.removeprefix("models/") for m in list_models({**gemini, "api_version": "v1beta"})]
    if not names:
        raise RuntimeError("the Gemini endpoint lists no model that supports generateContent")
    for family in ("flash-lite", "flash"):
        pattern = re.compile(rf"gemini-(\d+(?:\.\d+)?)-{family}")
        versions = [(float(m.group(1)), name) for name in names if (m := pattern.fullmatch(name))]
        if versions:
            return max(versions)[1]
    return names[0]


def telegram_messages(control_url: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{control_url}/telegram/messages", timeout=10)
    response.raise_for_status()
    body = response.json()
    return body.get("messages", body) if isinstance(body, dict) else body


def html_to_terminal(text: str) -> str:
    """Telegram HTML as a terminal shows it: bold/links kept readable, tags dropped."""
    text = re.sub(r'<a href="([^"]+)">([^<]*)</a>', r"\2 (\1)", text)
    text = re.sub(r"</?(b|strong|i|em|u|ins|s|strike|del|code|pre|blockquote|tg-spoiler)[^>]*>", "", text)
    return html.unescape(text)


DEMO_LOGINS = (
    ("owner@demo.synkro.local", "admin", DEMO_SLUG),
    ("operator@demo.synkro.local", "super_admin", None),
)


def demo_logins(cp: ControlPlane) -> tuple[str, list[tuple[str, str]]]:
    """Portal logins for `make dev`: the demo tenant's admin and an operator, with a password
    made fresh for this session (printed once by `synkro dev`, never stored in the clear)."""
    import contextlib
    import secrets

    from synkro.controlplane import AlreadyExistsError

    password = "demo-" + secrets.token_urlsafe(9)
    made = []
    slugs = {t.slug for t in cp.tenants.list()}
    for email, role, tenant in DEMO_LOGINS:
        if tenant is not None and tenant not in slugs:
            continue  # `synkro dev --no-sandbox` before any demo: only the operator
        with contextlib.suppress(AlreadyExistsError):
            cp.users.add(email, "Demo", actor="demo")
        cp.users.grant(email, role, tenant, actor="demo")
        cp.accounts.set_password(email, password, actor="demo")
        made.append((email, role))
    return password, made
