"""`is_transient` on the exceptions our clients really raise: requests to the sandbox with faults
(amoCRM, Radist, Gemini, Telegram), a real Postgres that refuses, drops and locks, dlt wrapping.

Every exception here comes from a real call, not a constructor, so a change in how a client or SDK
raises shows up as a changed verdict.
"""

from __future__ import annotations

import asyncio
import socket
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import dlt
import httpx
import psycopg
import pytest
import sqlalchemy as sa
from google import genai
from google.genai import types
from telegram import Bot
from telegram.request import HTTPXRequest

from sandbox.server import SandboxServer
from sandbox.state import SandboxState
from synkro.clients.amocrm import AmoCRMClient, StaticTokenProvider
from synkro.clients.amocrm_oauth import OAuthApp, _token_request
from synkro.clients.radist import RadistClient
from synkro.controlplane import BadInputError, ControlPlane
from synkro.controlplane.locks import TELEGRAM_DELIVERY, LockTimeout, tenant_lock
from synkro.db import with_database
from synkro.failures import exception_chain, is_transient
from tests.controlplane_helpers import new_slug


def raised(call: Callable[[], Any]) -> BaseException:
    """The exception `call` raises (the test fails if it raises none)."""
    try:
        call()
    except BaseException as exc:
        return exc
    raise AssertionError(f"{call} raised nothing")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- amoCRM ---------------------------------------------------------------------------------------


def amocrm(sandbox: SandboxServer, token: str | None = None, attempts: int = 2) -> AmoCRMClient:
    token = token or sandbox.info()["amocrm"]["long_lived_token"]
    return AmoCRMClient(
        sandbox.urls.amocrm, StaticTokenProvider(token), max_attempts=attempts, backoff_base=0.01
    )


def test_amocrm_blocked_unpaid_and_revoked_are_permanent(
    sandbox: SandboxServer, sandbox_faults: SandboxState
) -> None:
    for status, code in (("blocked", 403), ("unpaid", 402)):
        sandbox_faults.set_faults("amocrm", account_status=status)
        exc = raised(lambda: amocrm(sandbox).get("/api/v4/account"))
        assert type(exc).__name__ == "AmoCRMAccountError" and exc.status == code
        assert not is_transient(exc)
    sandbox_faults.reset_faults()
    exc = raised(lambda: amocrm(sandbox, token="revoked-token").get("/api/v4/account"))
    assert type(exc).__name__ == "AmoCRMAuthError" and not is_transient(exc)
    exc = raised(lambda: amocrm(sandbox).get("/api/v4/no_such_thing"))
    assert type(exc).__name__ == "AmoCRMHTTPError" and exc.status == 404 and not is_transient(exc)


def test_amocrm_5xx_429_and_dropped_connections_are_transient(
    sandbox: SandboxServer, sandbox_faults: SandboxState
) -> None:
    sandbox_faults.set_faults("amocrm", error_rate=1.0)
    exc = raised(lambda: amocrm(sandbox).get("/api/v4/account"))
    assert type(exc).__name__ == "AmoCRMUnavailableError" and "HTTP 50" in str(exc)
    assert is_transient(exc)
    sandbox_faults.reset_faults()
    sandbox_faults.set_faults("amocrm", burst_429=2)
    exc = raised(lambda: amocrm(sandbox).get("/api/v4/account"))
    assert "HTTP 429" in str(exc) and is_transient(exc)
    sandbox_faults.set_faults("amocrm", drop_connection=2)
    exc = raised(lambda: amocrm(sandbox).get("/api/v4/account"))
    assert "connection error" in str(exc) and is_transient(exc)


def test_amocrm_token_endpoint_5xx_is_transient_and_a_refused_grant_permanent(
    sandbox: SandboxServer, sandbox_faults: SandboxState
) -> None:
    info = sandbox.info()["amocrm"]
    app = OAuthApp(sandbox.urls.amocrm, info["client_id"], info["client_secret"], "https://example.com/cb")
    grant = {"grant_type": "refresh_token", "refresh_token": "not-a-refresh-token"}
    refused = raised(lambda: _token_request(app, grant, None, attempts=1))
    assert type(refused).__name__ == "AmoCRMAuthError" and not is_transient(refused)
    sandbox_faults.set_faults("amocrm", error_rate=1.0)
    unavailable = raised(lambda: _token_request(app, grant, None, attempts=1))
    assert type(unavailable).__name__ == "AmoCRMUnavailableError" and is_transient(unavailable)
    closed = OAuthApp(f"http://127.0.0.1:{_free_port()}", "id", "secret", "https://example.com/cb")
    unreachable = raised(lambda: _token_request(closed, grant, None, attempts=1))
    # Raised `from None`; the hidden context (httpx.ConnectError) is what makes it transient.
    assert "unreachable" in str(unreachable) and unreachable.__suppress_context__
    assert is_transient(unreachable)


# --- Radist ---------------------------------------------------------------------------------------


def radist(sandbox: SandboxServer, key: str | None = None) -> RadistClient:
    info = sandbox.info()["radist"]
    return RadistClient(
        sandbox.urls.radist, key or info["api_key"], info["company_id"], max_attempts=2, backoff_base=0.01
    )


def test_radist_bad_key_and_blocked_account_are_permanent_5xx_transient(
    sandbox: SandboxServer, sandbox_faults: SandboxState
) -> None:
    bad_key = raised(lambda: radist(sandbox, key="wrong-key").companies())
    assert type(bad_key).__name__ == "RadistAuthError" and not is_transient(bad_key)
    sandbox_faults.set_faults("radist", account_status="unpaid")
    unpaid = raised(lambda: radist(sandbox).companies())
    assert unpaid.status == 402 and not is_transient(unpaid)
    sandbox_faults.reset_faults()
    sandbox_faults.set_faults("radist", error_rate=1.0)
    down = raised(lambda: radist(sandbox).companies())
    assert type(down).__name__ == "RadistUnavailableError" and is_transient(down)


# --- httpx itself ---------------------------------------------------------------------------------


def test_httpx_timeouts_refusals_and_5xx_are_transient_4xx_permanent(
    sandbox: SandboxServer, sandbox_faults: SandboxState
) -> None:
    refused = raised(lambda: httpx.get(f"http://127.0.0.1:{_free_port()}/"))
    assert isinstance(refused, httpx.ConnectError) and is_transient(refused)
    sandbox_faults.set_faults("radist", latency_ms=500)
    timeout = raised(lambda: httpx.get(f"{sandbox.urls.radist}/companies/", timeout=0.05))
    assert isinstance(timeout, httpx.ReadTimeout) and is_transient(timeout)
    sandbox_faults.reset_faults()
    sandbox_faults.set_faults("radist", error_rate=1.0)
    server_error = raised(lambda: httpx.get(f"{sandbox.urls.radist}/companies/").raise_for_status())
    assert isinstance(server_error, httpx.HTTPStatusError) and is_transient(server_error)
    sandbox_faults.reset_faults()
    forbidden = raised(lambda: httpx.get(f"{sandbox.urls.radist}/companies/").raise_for_status())
    assert forbidden.response.status_code in (401, 403) and not is_transient(forbidden)
    assert not is_transient(raised(lambda: httpx.get("ftp://127.0.0.1/")))  # UnsupportedProtocol


# --- Gemini ---------------------------------------------------------------------------------------


def gemini(sandbox: SandboxServer, key: str | None = None) -> Callable[[], Any]:
    client = genai.Client(
        api_key=key or sandbox.info()["gemini"]["api_key"],
        http_options=types.HttpOptions(base_url=sandbox.urls.gemini, api_version="v1beta"),
    )
    return lambda: client.models.generate_content(model="gemini-3.8-flash", contents="hi")


def queue_gemini_error(sandbox: SandboxServer, **error: Any) -> None:
    httpx.post(f"{sandbox.urls.control}/gemini/errors", json={"count": 1, **error}).raise_for_status()


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        ({"code": 503}, True),
        ({"code": 500}, True),
        ({"code": 429, "quota": "minute", "retry_delay_s": 1}, True),
        ({"code": 429, "quota": "day"}, False),
        ({"code": 400}, False),
        ({"code": 403}, False),
        ({"code": 402}, False),
    ],
)
def test_gemini_api_errors(sandbox: SandboxServer, error: dict, transient: bool) -> None:
    queue_gemini_error(sandbox, **error)
    exc = raised(gemini(sandbox))
    assert exc.code == error["code"]
    assert type(exc).__name__ == ("ServerError" if error["code"] >= 500 else "ClientError")
    assert is_transient(exc) is transient


def test_gemini_invalid_and_denied_keys_are_permanent(sandbox: SandboxServer) -> None:
    invalid = raised(gemini(sandbox, key="not-a-key"))
    assert invalid.code == 400 and not is_transient(invalid)
    key = f"denied-{new_slug()}"
    httpx.post(f"{sandbox.urls.control}/gemini/keys", json={"key": key, "state": "denied"}).raise_for_status()
    denied = raised(gemini(sandbox, key=key))
    assert denied.code == 403 and not is_transient(denied)


# --- Telegram -------------------------------------------------------------------------------------


def telegram(sandbox: SandboxServer, call: Callable[[Bot], Any], token: str | None = None, **request) -> Any:
    async def main() -> Any:
        bot = Bot(
            token or sandbox.info()["telegram"]["bot_token"],
            base_url=f"{sandbox.urls.telegram}/bot",
            request=HTTPXRequest(**request) if request else None,
        )
        async with bot:
            return await call(bot)

    return lambda: asyncio.run(main())


def chat(sandbox: SandboxServer, chat_id: int, **settings: Any) -> int:
    body = {"chat_id": chat_id, **settings}
    httpx.post(f"{sandbox.urls.control}/telegram/chats", json=body).raise_for_status()
    return chat_id


def test_telegram_refusals_are_permanent_flood_control_and_timeouts_transient(
    sandbox: SandboxServer, sandbox_faults: SandboxState
) -> None:
    blocked = chat(sandbox, 770_000_001, blocked=True)
    forbidden = raised(telegram(sandbox, lambda bot: bot.send_message(blocked, "x")))
    assert type(forbidden).__name__ == "Forbidden" and not is_transient(forbidden)
    not_found = raised(telegram(sandbox, lambda bot: bot.send_message(770_999_999, "x")))
    assert type(not_found).__name__ == "BadRequest" and not is_transient(not_found)
    bad_html = chat(sandbox, 770_000_002)
    unparsable = raised(telegram(sandbox, lambda bot: bot.send_message(bad_html, "<b>x", parse_mode="HTML")))
    assert type(unparsable).__name__ == "BadRequest" and not is_transient(unparsable)
    bad_token = raised(telegram(sandbox, lambda bot: bot.get_me(), token="999:wrong"))
    assert type(bad_token).__name__ == "InvalidToken" and not is_transient(bad_token)

    flooded = chat(sandbox, 770_000_003, retry_after=5, count=1)
    flood = raised(telegram(sandbox, lambda bot: bot.send_message(flooded, "x")))
    assert type(flood).__name__ == "RetryAfter" and is_transient(flood)
    sandbox_faults.set_faults("telegram", latency_ms=500)
    timed_out = raised(telegram(sandbox, lambda bot: bot.get_me(), read_timeout=0.05))
    assert type(timed_out).__name__ == "TimedOut" and is_transient(timed_out)


# --- Postgres -------------------------------------------------------------------------------------


def test_postgres_connection_loss_is_transient_and_bad_settings_or_sql_permanent(database_url: str) -> None:
    refused = raised(lambda: psycopg.connect(f"postgresql://127.0.0.1:{_free_port()}/x", connect_timeout=2))
    assert isinstance(refused, psycopg.OperationalError) and is_transient(refused)
    no_database = raised(lambda: psycopg.connect(with_database(database_url, "no_such_database_x")))
    assert isinstance(no_database, psycopg.OperationalError) and not is_transient(no_database)

    victim = psycopg.connect(database_url, autocommit=True)
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute("select pg_terminate_backend(%s)", (victim.info.backend_pid,))
    terminated = raised(lambda: victim.execute("select 1"))
    assert isinstance(terminated, psycopg.errors.AdminShutdown) and is_transient(terminated)
    closed = raised(lambda: victim.execute("select 1"))
    assert "closed" in str(closed) and is_transient(closed)

    with psycopg.connect(database_url, autocommit=True) as conn:
        syntax = raised(lambda: conn.execute("selec 1"))
        assert isinstance(syntax, psycopg.errors.SyntaxError) and not is_transient(syntax)
        conn.execute("create temporary table t (id int primary key)")
        conn.execute("insert into t values (1)")
        duplicate = raised(lambda: conn.execute("insert into t values (1)"))
        assert isinstance(duplicate, psycopg.errors.UniqueViolation) and not is_transient(duplicate)


def test_sqlalchemy_invalidated_connection_is_transient(database_url: str) -> None:
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            pid = conn.exec_driver_sql("select pg_backend_pid()").scalar()
            with psycopg.connect(database_url, autocommit=True) as admin:
                admin.execute("select pg_terminate_backend(%s)", (pid,))
            lost = raised(lambda: conn.exec_driver_sql("select 1"))
        assert isinstance(lost, sa.exc.OperationalError) and lost.connection_invalidated
        assert is_transient(lost)
        with engine.connect() as conn:
            bad = raised(lambda: conn.exec_driver_sql("select * from no_such_table"))
        assert isinstance(bad, sa.exc.ProgrammingError) and not is_transient(bad)
    finally:
        engine.dispose()


def test_lock_timeout_is_transient(database_url: str) -> None:
    cp = ControlPlane(database_url)
    slug = new_slug("f")
    cp.tenants.create(slug, slug, "UTC", actor="test")
    with tenant_lock(cp, slug, TELEGRAM_DELIVERY):
        busy = raised(lambda: tenant_lock(cp, slug, TELEGRAM_DELIVERY, timeout_seconds=0.1).__enter__())
    assert isinstance(busy, LockTimeout) and is_transient(busy)


# --- wrapping -------------------------------------------------------------------------------------


def _through_dlt(produce: Callable[[], Any]) -> BaseException:
    @dlt.resource(name="probe")
    def probe() -> Iterator[dict]:
        yield {"id": 1}
        produce()

    pipeline = dlt.pipeline("failures_probe", destination="dummy", pipelines_dir=tempfile.mkdtemp())
    return raised(lambda: pipeline.extract(probe()))


def test_verdict_is_found_through_wrappers(sandbox: SandboxServer, sandbox_faults: SandboxState) -> None:
    sandbox_faults.set_faults("amocrm", error_rate=1.0)
    down = _through_dlt(lambda: amocrm(sandbox).get("/api/v4/account"))
    assert type(down).__name__ == "PipelineStepFailed"
    assert [type(e).__name__ for e in exception_chain(down)][-1] == "AmoCRMUnavailableError"
    assert is_transient(down)
    sandbox_faults.reset_faults()
    sandbox_faults.set_faults("amocrm", account_status="blocked")
    blocked = _through_dlt(lambda: amocrm(sandbox).get("/api/v4/account"))
    assert type(blocked).__name__ == "PipelineStepFailed" and not is_transient(blocked)

    def wrapped(inner: BaseException) -> BaseException:
        try:
            raise inner
        except BaseException as exc:
            try:
                raise RuntimeError("step failed") from exc
            except RuntimeError as outer:
                return outer

    assert is_transient(wrapped(ConnectionResetError()))
    assert not is_transient(wrapped(BadInputError("bad slug")))
    assert not is_transient(RuntimeError("no idea"))  # nothing known: fail fast
    # The outermost verdict wins: a permanent error raised while handling a transient one.
    try:
        try:
            raise TimeoutError()
        except TimeoutError:
            raise ValueError("invalid settings") from None
    except ValueError as exc:
        assert not is_transient(exc)
