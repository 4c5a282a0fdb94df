"""amoCRM's consent page (`https://www.amocrm.ru/oauth`), emulated for the portal's Connect flow.

What the real page does (../shared/docs/apis/amocrm.md §1.1): opened as
`/oauth?client_id=…&state=…&mode=popup|post_message`, it shows the integration and the account,
and on "Allow" sends the browser to the integration's *registered* redirect URI (never one the
request names) with `code`, `referer` (the account host, `subdomain.amocrm.ru`), `platform`
(1 = amocrm.ru) and `state`; on refusal with `error=access_denied` and `state`. The code is valid
20 minutes, once, and only with that same redirect URI at `POST /oauth2/access_token`.

In the sandbox the "www" host is the amoCRM mount itself, so the consent page is
`{sandbox}/amocrm/oauth`. The registered redirect URI defaults to the portal's default callback
and is changed the way a developer edits the integration:
`POST /_sandbox/amocrm/integration {"redirect_uri": "…"}` (`GET` shows it).
"""

from __future__ import annotations

import html
import json
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.state import SandboxState

PAGE = """<!doctype html>
<html lang="ru"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>amoCRM — {title}</title>
<style>
body {{ font: 15px/1.45 system-ui, sans-serif; background: #eef2f6; margin: 0; color: #1f2d3d; }}
.box {{ max-width: 440px; margin: 48px auto; background: #fff; border-radius: 8px; padding: 28px;
       box-shadow: 0 2px 10px rgba(0,0,0,.08); }}
.brand {{ font-weight: 700; color: #2b7fd4; letter-spacing: .02em; }}
h1 {{ font-size: 20px; margin: 12px 0; }}
ul {{ padding-left: 20px; }} .muted {{ color: #6b7b8c; font-size: 13px; }}
.row {{ display: flex; gap: 12px; margin-top: 20px; flex-wrap: wrap; }}
button {{ font: inherit; padding: 10px 18px; border-radius: 6px; border: 1px solid #2b7fd4;
         cursor: pointer; }}
.allow {{ background: #2b7fd4; color: #fff; }} .deny {{ background: #fff; color: #2b7fd4; }}
</style></head><body><div class="box">
<div class="brand">amoCRM <span class="muted">(Synkro sandbox)</span></div>
{body}
</div></body></html>"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(PAGE.format(title=html.escape(title), body=body), status_code=status)


def _error(message: str, status: int = 400) -> HTMLResponse:
    return _page("ошибка", f'<h1 data-testid="sandbox-consent-error">{html.escape(message)}</h1>', status)


def account_host(state: SandboxState) -> str:
    """The `referer` amoCRM sends: the account's own host."""
    return f"{state.credentials.amocrm_subdomain}.amocrm.ru"


def consent_routes(state: SandboxState) -> list[BaseRoute]:
    """`GET /oauth` shows the consent page; its form `POST /oauth` allows or refuses."""
    from sandbox.amocrm import issue_auth_code

    creds = state.credentials

    async def consent(request: Request) -> Response:
        params = request.query_params
        if params.get("client_id") != creds.amocrm_client_id:
            return _error("Интеграция не найдена (неизвестный client_id)", 404)
        hidden = "".join(
            f'<input type="hidden" name="{name}" value="{html.escape(params.get(name, ""))}">'
            for name in ("client_id", "state", "mode")
        )
        back = _origin(state.amo_redirect_uri)
        action = f"{request.scope.get('root_path', '')}/oauth"
        body = (
            '<h1 data-testid="sandbox-consent">Предоставить доступ</h1>'
            "<p>Интеграция <b>Synkro</b> запрашивает доступ к аккаунту "
            f'<b data-testid="sandbox-consent-account">{html.escape(account_host(state))}</b>:</p>'
            "<ul><li>данные аккаунта (сделки, контакты, пользователи)</li></ul>"
            f'<p class="muted">После разрешения вы вернётесь на {html.escape(back)}</p>'
            f'<form method="post" action="{action}">{hidden}<div class="row">'
            '<button class="allow" name="decision" value="allow" data-testid="sandbox-consent-allow">'
            "Разрешить</button>"
            '<button class="deny" name="decision" value="deny" data-testid="sandbox-consent-deny">'
            "Отказать</button></div></form>"
        )
        return _page("предоставить доступ", body)

    async def decide(request: Request) -> Response:
        form = await request.form()
        if form.get("client_id") != creds.amocrm_client_id:
            return _error("Интеграция не найдена (неизвестный client_id)", 404)
        target = state.amo_redirect_uri
        if not target:
            return _error("У интеграции не задан адрес перенаправления (redirect URI)")
        query: dict[str, str] = {}
        if form.get("decision") == "allow":
            code = issue_auth_code(state)
            state.amo_code_redirects[code] = target
            query.update(code=code, referer=account_host(state), platform="1")
        else:
            query["error"] = "access_denied"
        if form.get("state"):
            query["state"] = str(form.get("state"))
        glue = "&" if urlsplit(target).query else "?"
        return RedirectResponse(f"{target}{glue}{urlencode(query)}", status_code=302)

    return [Route("/oauth", consent, methods=["GET"]), Route("/oauth", decide, methods=["POST"])]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else url


def integration_routes(state: SandboxState) -> list[BaseRoute]:
    """`/_sandbox/amocrm/integration`: the integration's settings a developer would edit."""

    async def show(request: Request) -> Response:
        return JSONResponse(
            {"client_id": state.credentials.amocrm_client_id, "redirect_uri": state.amo_redirect_uri}
        )

    async def change(request: Request) -> Response:
        try:
            payload = json.loads(await request.body() or b"{}")
            uri = payload["redirect_uri"]
            if not isinstance(uri, str):
                raise ValueError("redirect_uri must be a string")
            parts = urlsplit(uri)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError("redirect_uri must be an http(s) URL")
        except (ValueError, KeyError, TypeError) as exc:
            return JSONResponse(
                {"error": f"expected {{'redirect_uri': 'https://…'}}: {exc}"}, status_code=400
            )
        state.amo_redirect_uri = uri
        return await show(request)

    return [
        Route("/integration", show, methods=["GET"]),
        Route("/integration", change, methods=["POST"]),
    ]
