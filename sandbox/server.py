"""One Starlette app serving every emulator under a path prefix, plus the control API.

Layout (see docs/architecture.md): `/amocrm`, `/radist/v2`, `/gemini`, `/telegram`, `/supabase`,
`/_sandbox`.
Emulators are imported by name and mounted when importable, so the server works while the
Gemini and Telegram emulators are still being written. `SandboxServer` runs uvicorn in a
background thread on a free port for tests; `serve()` runs it in the foreground for the CLI.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.faults import SCOPE_KEY, SERVICES
from sandbox.info import write_info_file
from sandbox.scenario import SIZES, generate_scenario
from sandbox.scenario_cache import CACHED_SIZES, load_or_generate
from sandbox.state import SandboxState

log = logging.getLogger(__name__)

# service -> (module, mount path)
EMULATORS: dict[str, tuple[str, str]] = {
    "amocrm": ("sandbox.amocrm", "/amocrm"),
    "radist": ("sandbox.radist", "/radist/v2"),
    "gemini": ("sandbox.gemini", "/gemini"),
    "telegram": ("sandbox.telegram", "/telegram"),
    "supabase": ("sandbox.supabase", "/supabase"),
}


class DropConnectionMiddleware:
    """Cuts a response mid-body when `faults.check()` marked the request.

    The real response is produced, its headers (with the full Content-Length) are sent, then
    only half the body, and the connection is closed: exactly what a client sees when a proxy
    dies mid-page. Uvicorn logs "response incomplete" for it, which is the point.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        marks: dict[str, Any] = {}
        scope[SCOPE_KEY] = marks
        cut = False

        async def guarded_send(message: Message) -> None:
            nonlocal cut
            if cut:
                return
            if marks.get("drop") and message["type"] == "http.response.body":
                body = message.get("body", b"")
                await send(
                    {"type": "http.response.body", "body": body[: max(1, len(body) // 2)], "more_body": True}
                )
                cut = True
                return
            await send(message)

        await self.app(scope, receive, guarded_send)
        if cut:
            # Returning without finishing the body makes uvicorn close the connection.
            return


def _control_routes(state: SandboxState) -> list[BaseRoute]:
    async def get_faults(request: Request) -> Response:
        return JSONResponse({svc: s.to_dict() for svc, s in state.faults.items()})

    async def post_faults(request: Request) -> Response:
        try:
            payload = await request.json()
            if not isinstance(payload, dict):
                raise ValueError("expected a JSON object {service: {setting: value}}")
            for service, changes in payload.items():
                if service not in state.faults:
                    raise ValueError(f"unknown service {service!r}")
                if changes == "reset":
                    state.faults[service] = type(state.faults[service])()
                    continue
                state.faults[service].update(changes)
        except (ValueError, TypeError, json.JSONDecodeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({svc: s.to_dict() for svc, s in state.faults.items()})

    async def reset(request: Request) -> Response:
        state.reset_faults()
        return JSONResponse({svc: s.to_dict() for svc, s in state.faults.items()})

    async def ground_truth(request: Request) -> Response:
        return JSONResponse(state.ground_truth())

    async def requests_log(request: Request) -> Response:
        return JSONResponse(state.requests.summary(request.query_params.get("service")))

    async def clear_requests(request: Request) -> Response:
        state.requests.clear()
        return JSONResponse({"cleared": True})

    async def regenerate(request: Request) -> Response:
        body = await request.body()
        params = json.loads(body) if body else {}
        now = params.get("now")
        changed = state.scenario.advance(
            now=float(now) if now is not None else None,
            inserts=bool(params.get("inserts", True)),
            deletions=bool(params.get("deletions", True)),
        )
        return JSONResponse({"generation": state.scenario.generation, **changed})

    async def info(request: Request) -> Response:
        return JSONResponse(state.info())

    async def new_auth_code(request: Request) -> Response:
        from sandbox.amocrm import issue_auth_code

        return JSONResponse({"auth_code": issue_auth_code(state)})

    return [
        Route("/faults", get_faults, methods=["GET"]),
        Route("/faults", post_faults, methods=["POST"]),
        Route("/reset", reset, methods=["POST"]),
        Route("/ground_truth", ground_truth, methods=["GET"]),
        Route("/requests", requests_log, methods=["GET"]),
        Route("/requests", clear_requests, methods=["DELETE"]),
        Route("/regenerate", regenerate, methods=["POST"]),
        Route("/info", info, methods=["GET"]),
        Route("/amocrm/auth_codes", new_auth_code, methods=["POST"]),
    ]


def build_app(state: SandboxState) -> ASGIApp:
    """The single ASGI app of the sandbox, wrapped in the drop-connection middleware."""
    routes: list[BaseRoute] = []
    control: list[BaseRoute] = _control_routes(state)
    for service, (module_name, prefix) in EMULATORS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            log.info("sandbox: %s emulator not available yet", service)
            continue
        app = module.build_app(state)
        routes.append(Mount(prefix, app=app) if not isinstance(app, list) else Mount(prefix, routes=app))
        extra: Callable[[SandboxState], list[BaseRoute]] | None = getattr(module, "control_routes", None)
        if extra is not None:
            control.append(Mount(f"/{service}", routes=extra(state)))
    routes.append(Mount("/_sandbox", routes=control))
    return DropConnectionMiddleware(Starlette(routes=routes))


def create_state(
    seed: int = 42, scenario: str = "small", now: float | None = None, cache_dir: Path | None = None
) -> SandboxState:
    """Generate the scenario (from the on-disk cache for `large`) and wrap it in a fresh state.

    `cache_dir` defaults to `<synkro_home>/cache/sandbox`; see sandbox.scenario_cache.
    """
    if scenario not in SIZES:
        raise ValueError(f"scenario must be one of {sorted(SIZES)}")
    if scenario in CACHED_SIZES:
        from synkro.paths import synkro_home

        directory = cache_dir or synkro_home() / "cache" / "sandbox"
        generated = load_or_generate(seed, scenario, time.time() if now is None else now, directory)
    else:
        generated = generate_scenario(seed=seed, size=scenario, now=now)
    state = SandboxState(scenario=generated, seed=seed)
    from sandbox.amocrm import init_tokens

    init_tokens(state)
    return state


def fast_server_options() -> dict[str, str]:
    """uvicorn's C parser and event loop when installed (both come with uvicorn's extras).

    The sandbox answers 250-row pages from memory, so per-request overhead of the pure-Python
    h11 parser and asyncio's selector loop is most of its cost; httptools and uvloop roughly
    double the pages per second. Without them uvicorn's defaults still work, only slower.
    """
    options: dict[str, str] = {}
    if importlib.util.find_spec("httptools") is not None:
        options["http"] = "httptools"
    if importlib.util.find_spec("uvloop") is not None:
        options["loop"] = "uvloop"
    return options


def _run_forever(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """`asyncio.run`, on uvloop when it is installed (see `fast_server_options`)."""
    if fast_server_options().get("loop") == "uvloop":
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(main())
        return
    asyncio.run(main())


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class SandboxUrls:
    root: str
    amocrm: str
    radist: str
    gemini: str
    telegram: str
    control: str
    supabase: str = ""


def urls_for(root: str) -> SandboxUrls:
    return SandboxUrls(
        root=root,
        amocrm=f"{root}/amocrm",
        radist=f"{root}/radist/v2",
        gemini=f"{root}/gemini",
        telegram=f"{root}/telegram",
        control=f"{root}/_sandbox",
        supabase=f"{root}/supabase",
    )


class SandboxServer:
    """Runs the sandbox in a background thread; use as a context manager.

    >>> with SandboxServer(seed=1) as sb:
    ...     httpx.get(sb.urls.amocrm + "/api/v4/account", headers=...)
    """

    def __init__(
        self,
        seed: int = 42,
        scenario: str = "small",
        now: float | None = None,
        port: int = 0,
        state: SandboxState | None = None,
        log_level: str = "warning",
    ) -> None:
        self.state = state or create_state(seed=seed, scenario=scenario, now=now)
        self.port = port or free_port()
        self.urls = urls_for(f"http://127.0.0.1:{self.port}")
        self.state.base_url = self.urls.root
        config = uvicorn.Config(
            build_app(self.state),
            host="127.0.0.1",
            port=self.port,
            log_level=log_level,
            access_log=False,
            lifespan="off",
            **fast_server_options(),  # type: ignore[arg-type]
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def start(self) -> SandboxServer:
        self._thread = threading.Thread(target=self._server.run, name="synkro-sandbox", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"sandbox failed to start on port {self.port}")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def info(self) -> dict[str, Any]:
        return self.state.info()


def serve(
    port: int = 8765,
    seed: int = 42,
    scenario: str = "small",
    info_file: str | Path | None = None,
    faults: dict[str, dict[str, Any]] | None = None,
    on_ready: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    """Serve in the foreground until interrupted; writes the info file once listening."""
    state = create_state(seed=seed, scenario=scenario)
    for service, changes in (faults or {}).items():
        if service not in SERVICES:
            raise ValueError(f"unknown service {service!r}")
        state.faults[service].update(changes)
    port = port or free_port()
    state.base_url = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(
        uvicorn.Config(
            build_app(state),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            **fast_server_options(),  # type: ignore[arg-type]
        )
    )

    async def run() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                await task
                return
            await asyncio.sleep(0.01)
        info = state.info()
        if info_file:
            write_info_file(info_file, info)
        if on_ready:
            on_ready(info)
        await task

    _run_forever(run)
