"""Emulator of the two Supabase HTTP endpoints `synkro check SLUG supabase` calls.

Mounted at `/supabase`, so the sandbox's project URL is `http://127.0.0.1:PORT/supabase` and our
client appends `/auth/v1/health` and `/rest/v1/` exactly as against `https://<ref>.supabase.co`.
Behaviour follows docs/apis/supabase.md §1–2:
- `/auth/v1/health` answers 200 `{version, name: "GoTrue", description}` for any valid key; 401
  `No API key found in request` without one, `Invalid API key` for an unknown one.
- new keys (`sb_publishable_…`, `sb_secret_…`) are not JWTs: `Authorization: Bearer` must be the same
  value as `apikey`; a secret key with a browser-like User-Agent is refused with 401.
- `/rest/v1/` (the OpenAPI root) is served only to secret/service_role keys; publishable/anon keys get
  403 `Access to schema is forbidden` (the self-hosted parity status). An `Accept-Profile` naming a
  schema that is not exposed gets PostgREST's 406 `PGRST106`.

Tests change the exposed schemas with `POST /_sandbox/supabase/exposed_schemas` (a JSON list).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.state import SandboxState

PROJECT_REF = "sandboxref"
PUBLISHABLE_KEY = "sb_publishable_sandbox-supabase-publishable"
SECRET_KEY = "sb_secret_sandbox-fake"  # short on purpose: not shaped like a real key
DEFAULT_EXPOSED = ("public", "graphql_public")
GOTRUE_VERSION = "v2.170.0"
_BROWSER_MARKERS = ("Mozilla/", "Chrome/", "Safari/", "Firefox/")


def _legacy_jwt(role: str) -> str:
    """An unsigned-looking legacy key with the payload fields Supabase puts there (role, iss, ref)."""

    def b64(data: dict[str, Any]) -> str:
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    payload = {"iss": "supabase", "ref": PROJECT_REF, "role": role, "iat": 1700000000, "exp": 2015576000}
    return f"{b64({'alg': 'HS256', 'typ': 'JWT'})}.{b64(payload)}.sandbox-signature"


LEGACY_ANON_KEY = _legacy_jwt("anon")
LEGACY_SERVICE_ROLE_KEY = _legacy_jwt("service_role")
# key -> the Postgres role it maps to
KEYS: dict[str, str] = {
    PUBLISHABLE_KEY: "anon",
    SECRET_KEY: "service_role",
    LEGACY_ANON_KEY: "anon",
    LEGACY_SERVICE_ROLE_KEY: "service_role",
}


def _data(state: SandboxState) -> dict[str, Any]:
    return state.service_data.setdefault("supabase", {"exposed_schemas": list(DEFAULT_EXPOSED)})


def _key_error(request: Request) -> tuple[str | None, Response | None]:
    """The role of the request's key, or the 401 Supabase's gateway answers."""
    key = request.headers.get("apikey")
    if not key:
        return None, JSONResponse({"message": "No API key found in request"}, status_code=401)
    role = KEYS.get(key)
    if role is None:
        return None, JSONResponse(
            {
                "message": "Invalid API key",
                "hint": "Double check your Supabase `anon` or `service_role` API key.",
            },
            status_code=401,
        )
    if key.startswith("sb_"):
        bearer = request.headers.get("authorization")
        if bearer is not None and bearer != f"Bearer {key}":
            return None, JSONResponse({"message": "Invalid API key"}, status_code=401)
        user_agent = request.headers.get("user-agent", "")
        if key.startswith("sb_secret_") and any(marker in user_agent for marker in _BROWSER_MARKERS):
            return None, JSONResponse(
                {"message": "Forbidden use of secret API key in browser"}, status_code=401
            )
    return role, None


def build_app(state: SandboxState) -> Starlette:
    async def health(request: Request) -> Response:
        _, error = _key_error(request)
        if error is not None:
            return error
        return JSONResponse(
            {
                "version": GOTRUE_VERSION,
                "name": "GoTrue",
                "description": "GoTrue is a user registration and authentication API",
            }
        )

    async def rest_root(request: Request) -> Response:
        role, error = _key_error(request)
        if error is not None:
            return error
        exposed = _data(state)["exposed_schemas"]
        profile = request.headers.get("accept-profile")
        if profile is not None and profile not in exposed:
            return JSONResponse(
                {
                    "code": "PGRST106",
                    "details": None,
                    "hint": f"Only the following schemas are exposed: {', '.join(exposed)}",
                    "message": f"Invalid schema: {profile}",
                },
                status_code=406,
            )
        if role != "service_role":
            return JSONResponse(
                {
                    "message": "Access to schema is forbidden",
                    "hint": "Accessing the schema via the Data API is only allowed using a secret API key.",
                },
                status_code=403,
            )
        schema = profile or exposed[0]
        return JSONResponse(
            {
                "swagger": "2.0",
                "info": {"title": f"PostgREST API ({schema})", "version": "12.2.3"},
                "paths": {},
            },
            media_type="application/openapi+json",
        )

    return Starlette(
        routes=[
            Route("/auth/v1/health", health, methods=["GET"]),
            Route("/rest/v1/", rest_root, methods=["GET"]),
        ]
    )


def control_routes(state: SandboxState) -> list[BaseRoute]:
    async def set_exposed(request: Request) -> Response:
        schemas = await request.json()
        if not isinstance(schemas, list) or not all(isinstance(s, str) for s in schemas):
            return JSONResponse({"error": "expected a JSON list of schema names"}, status_code=400)
        _data(state)["exposed_schemas"] = schemas or list(DEFAULT_EXPOSED)
        return JSONResponse({"exposed_schemas": _data(state)["exposed_schemas"]})

    return [Route("/exposed_schemas", set_exposed, methods=["POST"])]


def sandbox_config(base_url: str, *, secret: bool = True) -> dict[str, str]:
    """A `supabase` integration config document pointing at this emulator (no database_url)."""
    doc = {"url": f"{base_url}/supabase", "anon_key": PUBLISHABLE_KEY}
    if secret:
        doc["service_role_key"] = SECRET_KEY
    return doc
