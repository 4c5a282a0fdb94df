"""`create_app()`: the portal as one ASGI app.

The stack, outermost first: security headers → CSRF (asgi-csrf: every POST must carry the
`csrftoken` form field or the `x-csrftoken` header matching its signed cookie; `/login` is
protected even without cookies) → signed session cookie (Starlette's SessionMiddleware; it
holds only a random token, the session itself is a row in `synkro.web_sessions`) → routes.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from asgi_csrf import asgi_csrf
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from synkro.controlplane import ControlPlane, open_controlplane
from synkro.web.access import SignInRequired
from synkro.web.admin import install_admin
from synkro.web.config import SESSION_COOKIE, WebConfig
from synkro.web.templating import render

STATIC = Path(__file__).parent / "static"
# Route modules, each with `router`; their order is the order FastAPI matches paths in.
ROUTE_MODULES = [
    "auth",
    "tenant",
    "oauth",
    "settings",
    "runs",
    "reports",
    "users",
    "rubric",
    "managers",
    "dialogs",
    "verdicts",
    "calibration",
]
ERROR_STATUSES = {400, 401, 403, 404, 405, 409, 429}
# No inline script or style: every script is a file of ours under /static (no CDN either).
# `form-action` covers where a form's redirect lands too: Connect amoCRM's POST answers 303 to
# the consent page (https; a local install over http also reaches the sandbox's http page).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self' https:; base-uri 'none'"
)


def csp_for(config: WebConfig) -> str:
    """The CSP; a portal reached over plain http (a local install) may also send forms to http."""
    return (
        CSP
        if config.secure_cookies
        else CSP.replace("form-action 'self' https:", "form-action 'self' https: http:")
    )


class SecurityHeaders:
    """Headers every response carries: no framing, no sniffing, no caching of signed-in pages."""

    def __init__(self, app: ASGIApp, csp: str = CSP):
        self.app = app
        self.csp = csp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                names = {k.lower() for k, _ in headers}
                extra = {
                    b"x-content-type-options": b"nosniff",
                    b"x-frame-options": b"DENY",
                    b"referrer-policy": b"same-origin",
                    b"content-security-policy": self.csp.encode(),
                }
                if not static:
                    extra[b"cache-control"] = b"no-store"
                headers += [(k, v) for k, v in extra.items() if k not in names]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class CSRFProtection:
    """asgi-csrf as a middleware class, with a refusal page that says what went wrong."""

    def __init__(self, app: ASGIApp, secret: str, secure: bool):
        self.app = asgi_csrf(
            app,
            signing_secret=secret,
            always_protect={"/login"},
            cookie_secure=secure,
            send_csrf_failed=_csrf_failed,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


async def _csrf_failed(scope: Scope, send: Send, message_id: Any = None) -> None:
    response = PlainTextResponse(
        "403 Forbidden: the form's security token is missing or stale. "
        "Reload the page and submit it again.\n"
        "403: токен безопасности формы отсутствует или устарел. Обновите страницу и отправьте форму снова.",
        status_code=403,
    )
    await response({**scope, "type": "http"}, _no_body, send)


async def _no_body() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def create_app(cp: ControlPlane | None = None, config: WebConfig | None = None) -> FastAPI:
    cp = cp or open_controlplane()
    config = config or WebConfig.from_env(cp.box)
    app = FastAPI(title="Synkro", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.cp = cp
    app.state.config = config
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for name in ROUTE_MODULES:
        app.include_router(importlib.import_module(f"synkro.web.routes.{name}").router)
    install_admin(app, cp)  # /admin (sqladmin), mounted after the routes so theirs match first
    _install_error_pages(app)
    # add_middleware puts each new one outside the previous: sessions innermost, headers outermost.
    app.add_middleware(
        SessionMiddleware,
        secret_key=config.session_secret,
        session_cookie=SESSION_COOKIE,
        max_age=14 * 24 * 3600,
        same_site="lax",
        https_only=config.secure_cookies,
    )
    app.add_middleware(CSRFProtection, secret=config.csrf_secret, secure=config.secure_cookies)
    app.add_middleware(SecurityHeaders, csp=csp_for(config))
    return app


def _install_error_pages(app: FastAPI) -> None:
    @app.exception_handler(SignInRequired)
    async def sign_in(request: Request, exc: SignInRequired) -> Response:
        if request.method in ("GET", "HEAD"):
            return RedirectResponse(f"/login?next={exc.next_path}", status_code=303)
        return _error(request, 401)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        response = _error(
            request, exc.status_code, exc.detail if exc.status_code in (400, 409, 429) else None
        )
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        fields = ", ".join(".".join(str(p) for p in e.get("loc", ())[1:]) or "?" for e in exc.errors())
        return _error(request, 400, fields)


def _error(request: Request, status: int, detail: str | None = None) -> Response:
    status = status if status in ERROR_STATUSES else 400
    return render(request, "error.html", status_code=status, status=status, detail=detail)
