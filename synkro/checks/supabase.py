"""`synkro check SLUG supabase`: can Synkro use the tenant's Supabase project as its warehouse?

What is verified, and why (docs/apis/supabase.md):
- API keys: `GET {url}/auth/v1/health` proves the project answers and the key is valid; the OpenAPI
  root `GET {url}/rest/v1/` is served only to secret keys, which tells a secret key from a
  publishable one whatever its prefix says. Legacy JWT keys are decoded locally (role, project ref).
  With a secret key, `Accept-Profile` probes that no tenant schema is exposed to the Data API.
- Postgres: the DSN's shape first (transaction pooler on 6543, the IPv6-only direct host, a pooler
  user without `.<ref>`), then a real connection with `sslmode=require`, then what Synkro needs: the
  tenant schemas usable (USAGE + CREATE) or creatable, a statement timeout above Supabase's 2-minute
  default, RLS on the tenant tables and the event trigger that keeps it on for new ones.
Key values never appear in the output; only their kind does.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import socket
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg

from synkro.checks import CheckOptions, CheckResult
from synkro.supabase_setup import TenantWarehouseNames, names_for

HTTP_TIMEOUT = 10.0
CONNECT_TIMEOUT = 10
# Below this the loads and dbt full refreshes risk Supabase's cancellations (default 2 minutes).
MIN_STATEMENT_TIMEOUT_MS = 10 * 60 * 1000
STRONG_SSLMODES = {"require", "verify-ca", "verify-full"}
USER_AGENT = "synkro-check/1 (server)"  # a browser-like agent makes Supabase refuse secret keys
_DIRECT_HOST = re.compile(r"^db\.([a-z0-9]+)\.supabase\.co$")
_POOLER_HOST = re.compile(r"^aws-\d+-[a-z0-9-]+\.pooler\.supabase\.com$")
_PROJECT_HOST = re.compile(r"^([a-z0-9]+)\.supabase\.co$")
# Which key kinds belong in which config field.
EXPECTED_KINDS = {
    "anon_key": {"publishable", "legacy anon"},
    "service_role_key": {"secret", "legacy service_role"},
}


def project_ref(url: str | None) -> str | None:
    """`abc` for `https://abc.supabase.co`; None for any other host (self-hosted, the sandbox)."""
    host = (urlsplit(url).hostname or "") if url else ""
    match = _PROJECT_HOST.fullmatch(host)
    return match.group(1) if match else None


def _jwt_payload(value: str) -> dict[str, Any] | None:
    parts = value.split(".")
    if len(parts) != 3:
        return None
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded))
    except (binascii.Error, ValueError):
        return None
    return payload if isinstance(payload, dict) else None


def key_kind(value: str) -> tuple[str, dict[str, Any] | None]:
    """(kind, JWT payload): publishable, secret, legacy anon, legacy service_role or unknown."""
    if value.startswith("sb_publishable_"):
        return "publishable", None
    if value.startswith("sb_secret_"):
        return "secret", None
    payload = _jwt_payload(value) if value.startswith("eyJ") else None
    if payload is not None and payload.get("role") in {"anon", "service_role"}:
        return f"legacy {payload['role']}", payload
    return "unknown", payload


def _headers(value: str, kind: str) -> dict[str, str]:
    headers = {"apikey": value, "User-Agent": USER_AGENT}
    if kind.startswith("legacy"):
        headers["Authorization"] = f"Bearer {value}"  # legacy keys are JWTs; new keys must not differ
    return headers


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:120]
    if isinstance(body, dict):
        return str(body.get("message") or body.get("msg") or body.get("error") or "")[:200]
    return ""


def check_keys(
    result: CheckResult,
    url: str,
    keys: dict[str, str | None],
    *,
    schemas: Iterable[str] = (),
    client: httpx.Client | None = None,
) -> None:
    """Health, validity and secret-vs-publishable for each configured key; exposure with a secret one."""
    configured = {field: value for field, value in keys.items() if value}
    if not configured:
        result.add(
            "api keys", None, "none configured; Synkro needs only the Postgres DSN (keys are for REST checks)"
        )
        return
    ref = project_ref(url)
    base = url.rstrip("/")
    own_client = client is None
    http = client or httpx.Client(timeout=HTTP_TIMEOUT)
    try:
        secret_keys: list[tuple[str, str]] = []
        for field, value in configured.items():
            kind, payload = key_kind(value)
            name = f"{field}"
            if payload is not None and ref is not None and payload.get("ref") != ref:
                result.add(name, False, f"{kind} JWT is for project {payload.get('ref')!r}, not {ref!r}")
                continue
            try:
                health = http.get(f"{base}/auth/v1/health", headers=_headers(value, kind))
            except httpx.HTTPError as exc:
                result.add(
                    name,
                    False,
                    f"/auth/v1/health unreachable ({type(exc).__name__}); (a paused free project?)",
                )
                continue
            if health.status_code == 401:
                result.add(name, False, f"rejected by /auth/v1/health: {_message(health) or '401'}")
                continue
            if health.status_code != 200:
                result.add(name, False, f"/auth/v1/health answered HTTP {health.status_code}")
                continue
            version = (health.json() or {}).get("version", "?") if _is_json(health) else "?"
            try:
                root = http.get(f"{base}/rest/v1/", headers=_headers(value, kind))
            except httpx.HTTPError as exc:
                result.add(name, False, f"/rest/v1/ unreachable ({type(exc).__name__})")
                continue
            if root.status_code == 200:
                actual = "secret"
            elif root.status_code in (401, 403) and "forbidden" in _message(root).lower():
                actual = "publishable"
            else:
                result.add(
                    name, None, f"valid (GoTrue {version}); /rest/v1/ answered HTTP {root.status_code}"
                )
                continue
            described = f"valid {actual} key ({kind}), GoTrue {version}"
            expected = EXPECTED_KINDS.get(field, set())
            if field == "service_role_key" and actual != "secret":
                result.add(
                    name,
                    False,
                    "holds a publishable key: the Data API refused it the schema; use an sb_secret_ key",
                )
            elif field == "anon_key" and actual == "secret":
                result.add(name, None, "holds a secret key; keep secret keys in service_role_key only")
                secret_keys.append((value, kind))
            elif kind not in expected and kind != "unknown":
                result.add(name, None, f"{described}, but a {kind} key is unusual in {field}")
            else:
                result.add(
                    name,
                    True,
                    described + (" (legacy keys retire by end of 2026)" if "legacy" in kind else ""),
                )
            if actual == "secret":
                secret_keys.append((value, kind))
        if secret_keys:
            _check_exposure(result, http, base, secret_keys[0], list(schemas))
    finally:
        if own_client:
            http.close()


def _is_json(response: httpx.Response) -> bool:
    try:
        response.json()
    except ValueError:
        return False
    return True


def _check_exposure(
    result: CheckResult, http: httpx.Client, base: str, key: tuple[str, str], schemas: list[str]
) -> None:
    """PostgREST refuses a profile it does not serve with 406/PGRST106: that is the answer we want."""
    exposed: list[str] = []
    for schema in schemas:
        headers = _headers(*key) | {"Accept-Profile": schema}
        try:
            response = http.get(f"{base}/rest/v1/", headers=headers)
        except httpx.HTTPError as exc:
            result.add("data api exposure", None, f"not checked ({type(exc).__name__})")
            return
        if response.status_code == 200:
            exposed.append(schema)
    if exposed:
        result.add(
            "data api exposure",
            None,
            f"exposed through the Data API: {', '.join(exposed)}; remove them under Settings → API",
        )
    else:
        result.add("data api exposure", True, "no tenant schema is exposed through the Data API")


def resolve_ipv4(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)
    except OSError:
        return []
    return sorted({info[4][0] for info in infos})


def check_dsn_shape(
    result: CheckResult,
    dsn: str,
    *,
    ref: str | None = None,
    ipv4_resolver: Callable[[str, int], list[str]] = resolve_ipv4,
) -> None:
    """What the DSN alone says: pooler mode, IPv6-only direct host, pooler user, sslmode."""
    parts = urlsplit(dsn)
    host = parts.hostname or ""
    port = parts.port or 5432
    user = parts.username or ""
    if port == 6543:
        result.add(
            "connection mode",
            None,
            "port 6543 is transaction mode: session state (SET, temp tables) is lost between transactions; "
            "use the session pooler on port 5432 or the direct host for dlt and dbt",
        )
    direct = _DIRECT_HOST.fullmatch(host)
    if direct:
        addresses = ipv4_resolver(host, port)
        if addresses:
            result.add("connection mode", True, f"direct host with an IPv4 address (the IPv4 add-on): {host}")
        else:
            result.add(
                "connection mode",
                None,
                f"{host} is IPv6-only (no IPv4 address): from IPv4-only hosts use the session pooler "
                f"aws-N-<region>.pooler.supabase.com:5432 with user <role>.{direct.group(1)}",
            )
        if ref and direct.group(1) != ref:
            result.add("project", False, f"the DSN is for project {direct.group(1)!r}, the url for {ref!r}")
    elif _POOLER_HOST.fullmatch(host):
        if "." not in user:
            result.add(
                "pooler user",
                False,
                f"user {user!r} lacks the project ref; the pooler wants <role>.<project_ref> "
                "(else 'Tenant or user not found')",
            )
        elif ref and user.rsplit(".", 1)[1] != ref:
            result.add(
                "pooler user", False, f"user is for project {user.rsplit('.', 1)[1]!r}, the url for {ref!r}"
            )
        elif port == 5432:
            result.add("connection mode", True, "Supavisor session pooler (port 5432)")
    mode = parse_qs(parts.query).get("sslmode", [None])[0]
    if mode in {"disable", "allow", "prefer"}:
        result.add(
            "dsn sslmode",
            None,
            f"the DSN says sslmode={mode}; use sslmode=require (Supabase does not force SSL)",
        )


def _explain_connect_error(exc: Exception) -> str:
    text = str(exc).strip()
    lowered = text.lower()
    if "server does not support ssl" in lowered:
        return "the server does not accept SSL, but Synkro connects with sslmode=require"
    if "ssl connection is required" in lowered:
        return "the server requires SSL (SSL enforcement is on): connect with sslmode=require"
    if "tenant or user not found" in lowered:
        return "Tenant or user not found: wrong aws-N pooler cluster or a user without .<project_ref>"
    if "emaxconnsession" in lowered or "max clients reached" in lowered:
        return "the session pooler is full (pool size): lower dlt load workers and dbt threads"
    if "password authentication failed" in lowered:
        return "password authentication failed (URL-encode special characters in the password)"
    if "timeout" in lowered or "timed out" in lowered:
        return "connection timed out; a free project pauses after ~7 days without activity"
    first = text.splitlines()[-1] if text else type(exc).__name__
    return f"{type(exc).__name__}: {first}"


def check_postgres(
    result: CheckResult,
    dsn: str,
    names: TenantWarehouseNames,
    *,
    sslmode: str | None = "require",
) -> None:
    """Connect (with `sslmode`, None = as the DSN says) and check what Synkro needs there."""
    kwargs: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT, "autocommit": True}
    given = parse_qs(urlsplit(dsn).query).get("sslmode", [None])[0]
    if sslmode is not None and given not in STRONG_SSLMODES:  # never weaken a verify-full DSN
        kwargs["sslmode"] = sslmode
    try:
        conn = psycopg.connect(dsn, **kwargs)
    except psycopg.Error as exc:
        result.add("postgres", False, _explain_connect_error(exc))
        return
    with conn:
        user, version, can_create, is_super = conn.execute(
            "select current_user, current_setting('server_version'), "
            "has_database_privilege(current_database(), 'CREATE'), "
            "(select rolsuper from pg_roles where rolname = current_user)"
        ).fetchone()
        ssl_row = conn.execute("select ssl from pg_stat_ssl where pid = pg_backend_pid()").fetchone()
        ssl = f"SSL {'on' if ssl_row and ssl_row[0] else 'off'}"
        result.add("postgres", True, f"connected as {user}, PostgreSQL {version}, {ssl}")
        if user == "postgres" or is_super:
            result.add(
                "role",
                None,
                f"connected as {user}; prefer {names.loader} from `synkro supabase sql {names.slug}`",
            )
        timeout_ms = int(
            conn.execute("select setting from pg_settings where name = 'statement_timeout'").fetchone()[0]
        )
        if 0 < timeout_ms < MIN_STATEMENT_TIMEOUT_MS:
            result.add(
                "statement timeout",
                None,
                f"{timeout_ms // 1000}s is short: ALTER ROLE {user} SET statement_timeout = '30min'",
            )
        else:
            result.add("statement timeout", True, "none" if timeout_ms == 0 else f"{timeout_ms // 1000}s")
        _check_schemas(result, conn, names, bool(can_create))
        _check_rls(result, conn, names)


def _check_schemas(
    result: CheckResult, conn: psycopg.Connection, names: TenantWarehouseNames, can_create: bool
) -> None:
    missing: list[str] = []
    lacking: list[str] = []
    for schema in names.all_schemas:
        row = conn.execute(
            "select has_schema_privilege(oid, 'USAGE'), has_schema_privilege(oid, 'CREATE') "
            "from pg_namespace where nspname = %s",
            (schema,),
        ).fetchone()
        if row is None:
            missing.append(schema)
        elif not (row[0] and row[1]):
            lacking.append(schema)
    if lacking:
        result.add(
            "privileges",
            False,
            f"no USAGE+CREATE on {', '.join(lacking)}; run `synkro supabase sql {names.slug}` as postgres",
        )
    elif missing and not can_create:
        result.add(
            "privileges",
            False,
            f"{', '.join(missing)} missing and this user cannot create schemas; "
            f"run `synkro supabase sql {names.slug}` as postgres",
        )
    elif missing:
        result.add("privileges", True, f"usable; will create {', '.join(missing)} (prefer the setup SQL)")
    else:
        result.add("privileges", True, "USAGE and CREATE on every tenant schema")


def _check_rls(result: CheckResult, conn: psycopg.Connection, names: TenantWarehouseNames) -> None:
    without = conn.execute(
        "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where c.relkind in ('r', 'p') and not c.relrowsecurity and n.nspname = any(%s)",
        (list(names.all_schemas),),
    ).fetchone()[0]
    trigger = conn.execute(
        "select evtenabled <> 'D' from pg_event_trigger where evtname = %s", (names.event_trigger,)
    ).fetchone()
    if without:
        result.add("row level security", None, f"{without} tenant table(s) without RLS; run the setup SQL")
    elif not trigger or not trigger[0]:
        result.add(
            "row level security",
            None,
            f"no event trigger {names.event_trigger}: tables created later get no RLS; "
            f"run `synkro supabase sql {names.slug}`",
        )
    else:
        result.add("row level security", True, "on for every tenant table, and for new ones (event trigger)")


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None


def run(tctx: Any, options: CheckOptions) -> CheckResult:
    result = CheckResult("supabase", on_line=options.on_line)
    config = tctx.config("supabase")
    names = names_for(tctx.slug)
    ref = project_ref(config.url)
    if config.url:
        keys = {"anon_key": _secret(config.anon_key), "service_role_key": _secret(config.service_role_key)}
        check_keys(result, config.url, keys, schemas=names.all_schemas)
    else:
        result.add("api", None, "no project url configured; REST checks skipped")
    dsn = _secret(config.database_url)
    if dsn:
        check_dsn_shape(result, dsn, ref=ref)
        check_postgres(result, dsn, names, sslmode="require")
    else:
        result.add("postgres", None, "no database_url: the tenant's data stays in the installation database")
    return result
