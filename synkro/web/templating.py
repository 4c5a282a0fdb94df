"""`render()`: the one way a page is produced, so every page gets the same context.

Templates get `t(key, **values)` (the request's language), `lang`, `user`, `csrf_token()`,
`access` (the user's standing in the tenant of the page, when there is one), `lang_url(code)`
and `now`. Autoescaping is on for every template.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

from synkro.web.access import optional_user
from synkro.web.config import LANG_COOKIE
from synkro.web.i18n import LANGUAGES, pick_language, translate

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
TEMPLATES.env.autoescape = True
TEMPLATES.env.trim_blocks = True
TEMPLATES.env.lstrip_blocks = True


def csrf_token(request: Request) -> str:
    """The CSRF token for forms (`<input name="csrftoken">`) and the `x-csrftoken` header."""
    getter = request.scope.get("csrftoken")
    return getter() if getter else ""


def lang_url(request: Request, code: str) -> str:
    return str(request.url.include_query_params(lang=code))


def local_time(moment: datetime | None, zone: str | None = None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A timestamp in the tenant's zone (UTC when none), for tables and status lines."""
    if moment is None:
        return "—"
    if zone:
        from zoneinfo import ZoneInfo

        moment = moment.astimezone(ZoneInfo(zone))
    else:
        moment = moment.astimezone(UTC)
    return moment.strftime(fmt)


TEMPLATES.env.filters["local_time"] = local_time


def request_lang(request: Request) -> str:
    """`?lang=` of this visit, else the remembered choice, else the user's setting, else Russian."""
    if not hasattr(request.state, "lang"):
        user = optional_user(request)
        request.state.lang = pick_language(
            request.query_params.get("lang"), request.cookies.get(LANG_COOKIE), user.lang if user else None
        )
    return request.state.lang


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    lang = request_lang(request)
    base = {
        "request": request,
        "lang": lang,
        "t": lambda key, **values: translate(lang, key, **values),
        "user": optional_user(request),
        "csrf_token": lambda: csrf_token(request),
        "lang_url": lambda code: lang_url(request, code),
        "access": getattr(request.state, "access", None),
        "now": datetime.now(UTC),
    }
    response = TEMPLATES.TemplateResponse(request, name, base | context, status_code=status_code)
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="lax", httponly=True)
    return response
