"""The operator's admin at `/admin`: sqladmin over the control plane, for super_admins only.

How it hangs together:
- sqladmin is mounted as a sub-application at `/admin`, inside the portal's middleware stack, so
  the same security headers, CSRF check and session cookie apply. There is no second login: the
  authentication backend reads the portal's own session (`optional_user`); not signed in sends
  the browser to `/login?next=…`, signed in without `super_admin` answers 403 (the portal's
  error page). sqladmin's own login and logout pages are redirects.
- Its model views (`views.py`) only read: `can_create/can_edit/can_delete/can_export` are off.
  Every change is a custom page of ours (`@expose`, POST with the CSRF token) that calls the
  control plane repositories with the signed-in user as the audit actor.
- Nothing secret is mapped or shown: configs show `••••1234` masks through the repository, the
  users list leaves out password hashes, sessions/nonces/throttling tables are not mapped at all.
- Our templates (`templates/`) override sqladmin's layout: statics by root-relative path, the
  portal's language, a POST sign-out, and the Dagster UI link when `SYNKRO_DAGSTER_UI_URL` is set.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, quote

import jinja2
from fastapi import FastAPI
from sqladmin import Admin
from sqladmin.authentication import AuthenticationBackend
from sqladmin.i18n import I18nConfig, set_locale
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from synkro.controlplane import ControlPlane
from synkro.web.access import optional_user
from synkro.web.config import LANG_COOKIE
from synkro.web.i18n import LANGUAGES, translate
from synkro.web.templating import csrf_token, lang_url, render, request_lang

TEMPLATES = Path(__file__).parent / "templates"
BASE_URL = "/admin"


class PortalSession(AuthenticationBackend):
    """sqladmin's gate, answered from the portal's session: no login of its own."""

    def __init__(self) -> None:
        # The base class would add a second SessionMiddleware (and a second cookie) here;
        # the portal's SessionMiddleware already wraps the whole app.
        self.middlewares = []

    async def login(self, request: Request) -> Response:
        return RedirectResponse(f"/login?next={BASE_URL}", status_code=303)

    async def logout(self, request: Request) -> Response:
        return RedirectResponse("/", status_code=303)

    async def authenticate(self, request: Request) -> Response | bool:
        user = await run_in_threadpool(optional_user, request)
        lang = request_lang(request)
        set_locale(lang)  # sqladmin's own words follow the portal's language choice
        if user is None:
            path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(path, safe='/?=&')}", status_code=303)
        if not user.is_super_admin:
            return render(request, "error.html", status_code=403, status=403, detail=None)
        return True

    async def get_user_id(self, request: Request) -> str | None:
        user = getattr(request.state, "user", None)
        return user.email if user else None


class RememberLanguage:
    """`?lang=` on an admin page is remembered as on the portal's pages (the same cookie, path /)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lang = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("lang", [None])[0]
        if scope["type"] != "http" or lang not in LANGUAGES:
            await self.app(scope, receive, send)
            return

        async def remember(message: dict) -> None:
            if message["type"] == "http.response.start":
                cookie = f"{LANG_COOKIE}={lang}; Path=/; Max-Age={365 * 24 * 3600}; SameSite=lax; HttpOnly"
                message = {
                    **message,
                    "headers": [*message.get("headers", []), (b"set-cookie", cookie.encode())],
                }
            await send(message)

        await self.app(scope, receive, remember)


class PortalAdmin(Admin):
    """sqladmin's Admin with its login/logout pages turned into redirects to the portal's."""

    async def login(self, request: Request) -> Response:
        return RedirectResponse(f"/login?next={BASE_URL}", status_code=303)

    async def logout(self, request: Request) -> Response:
        # Signing out is `POST /logout` (CSRF-protected); a GET link must not end a session.
        return RedirectResponse("/account", status_code=303)


def install_admin(app: FastAPI, cp: ControlPlane) -> PortalAdmin:
    """Mount the admin at /admin on `app` (after the portal's routes, so theirs match first)."""
    from synkro.web.admin import views

    admin = PortalAdmin(
        app,
        engine=cp.engine,
        base_url=BASE_URL,
        title="Synkro admin",
        favicon_url="/static/favicon.svg",
        templates_dir=str(TEMPLATES),
        authentication_backend=PortalSession(),
        middlewares=[Middleware(RememberLanguage)],
        i18n_config=I18nConfig(default_locale="ru", language_cookie_name=None, language_header_name=None),
    )
    # Inside the sub-application `request.app` is sqladmin's Starlette app: give it what the
    # portal's helpers look up there (the control plane, the config).
    admin.admin.state.cp = cp
    admin.admin.state.config = app.state.config
    _install_template_helpers(admin.templates.env)
    for view in views.VIEWS:
        admin.add_view(view)
    return admin


def _install_template_helpers(env: jinja2.Environment) -> None:
    @jinja2.pass_context
    def t(context, key: str, **values: object) -> str:
        return translate(request_lang(context["request"]), key, **values)

    @jinja2.pass_context
    def token(context) -> str:
        return csrf_token(context["request"])

    @jinja2.pass_context
    def lang_link(context, code: str) -> str:
        return lang_url(context["request"], code)

    @jinja2.pass_context
    def current_lang(context) -> str:
        return request_lang(context["request"])

    env.globals.update(t=t, csrf_token=token, lang_url=lang_link, current_lang=current_lang)
