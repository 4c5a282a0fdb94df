"""`synkro sandbox serve`: the local emulators of amoCRM, Radist, Gemini and Telegram.

The credentials printed here are the sandbox's own fake ones, so printing them is fine (and is
what a new user needs to connect Synkro to the sandbox).
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any

import typer
from rich.console import Console

from sandbox.faults import SERVICES, FaultSettings
from sandbox.scenario import SIZES

app = typer.Typer(help="Local emulators of amoCRM, Radist, Gemini and Telegram with generated tenant data.")
console = Console()

FAULTS_ENV = "SYNKRO_SANDBOX_FAULTS"


def _coerce(name: str, raw: str) -> Any:
    """Turn `--fault amocrm.rate_limit_rps=none` style values into the setting's type."""
    default = getattr(FaultSettings(), name)
    if raw.lower() in ("none", "off", "null"):
        return None
    if isinstance(default, bool):
        return raw.lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float) or name == "rate_limit_rps":
        return float(raw)
    return raw


def parse_faults(specs: list[str], env_json: str | None) -> dict[str, dict[str, Any]]:
    """Faults from `$SYNKRO_SANDBOX_FAULTS` (JSON `{service: {...}}`) then `--fault` flags."""
    faults: dict[str, dict[str, Any]] = {}
    if env_json:
        loaded = json.loads(env_json)
        if not isinstance(loaded, dict):
            raise typer.BadParameter(f"{FAULTS_ENV} must be a JSON object")
        for service, changes in loaded.items():
            faults.setdefault(service, {}).update(changes)
    for spec in specs:
        key, sep, value = spec.partition("=")
        service, dot, name = key.partition(".")
        if not sep or not dot or service not in SERVICES:
            raise typer.BadParameter(
                f"expected SERVICE.SETTING=VALUE with SERVICE in {SERVICES}, got {spec!r}"
            )
        if not hasattr(FaultSettings(), name):
            raise typer.BadParameter(f"unknown fault setting {name!r}")
        faults.setdefault(service, {})[name] = _coerce(name, value)
    for service, changes in faults.items():
        FaultSettings().update(changes)  # validate before starting
        if service not in SERVICES:
            raise typer.BadParameter(f"unknown service {service!r}")
    return faults


def _print_info(info: dict[str, Any]) -> None:
    console.print("[bold green]Synkro sandbox is ready[/]")
    for service, values in info.items():
        console.print(f"[bold]{service}[/]")
        for key, value in values.items():
            console.print(f"  {key}: {value}", highlight=False, soft_wrap=True)
    console.print("control: faults, ground truth, request log under /_sandbox/ (Ctrl+C stops)")


@app.command("serve")
def serve_cmd(
    port: int = typer.Option(8765, "--port", help="TCP port on 127.0.0.1 (0 = any free port)."),
    seed: int = typer.Option(42, "--seed", help="Scenario seed; the same seed serves the same data."),
    scenario: str = typer.Option("small", "--scenario", help=f"Scenario size: {', '.join(SIZES)}."),
    info_file: str | None = typer.Option(
        None, "--info-file", help="Write base URLs and credentials here as JSON."
    ),
    fault: list[str] = typer.Option(
        [], "--fault", help="SERVICE.SETTING=VALUE, e.g. amocrm.rate_limit_rps=none, radist.burst_429=5."
    ),
    amocrm_rps: float | None = typer.Option(None, "--amocrm-rps", help="amoCRM rate limit (0 = off)."),
    latency_ms: int | None = typer.Option(None, "--latency-ms", help="Extra latency for every service."),
    error_rate: float | None = typer.Option(
        None, "--error-rate", help="Share of 5xx answers, every service."
    ),
    token_lifetime: int | None = typer.Option(
        None, "--token-lifetime", help="amoCRM access token lifetime, s."
    ),
) -> None:
    """Serve all four emulators in one process until Ctrl+C."""
    from sandbox.server import serve

    if scenario not in SIZES:
        raise typer.BadParameter(f"--scenario must be one of {', '.join(SIZES)}")
    faults = parse_faults(fault, os.environ.get(FAULTS_ENV))
    if amocrm_rps is not None:
        faults.setdefault("amocrm", {})["rate_limit_rps"] = amocrm_rps or None
    if token_lifetime is not None:
        faults.setdefault("amocrm", {})["token_lifetime_s"] = token_lifetime
    for service in SERVICES:
        if latency_ms is not None:
            faults.setdefault(service, {})["latency_ms"] = latency_ms
        if error_rate is not None:
            faults.setdefault(service, {})["error_rate"] = error_rate
    with contextlib.suppress(KeyboardInterrupt):
        serve(
            port=port, seed=seed, scenario=scenario, info_file=info_file, faults=faults, on_ready=_print_info
        )
