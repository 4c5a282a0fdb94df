"""`python -m sandbox serve`: the local emulators of amoCRM, Radist, Gemini and Telegram.

`synkro sandbox serve`, `synkro demo` and `synkro dev` run this command as a process of its own,
because the product imports nothing from the sandbox. Bad input (a `--fault` or
`$SYNKRO_SANDBOX_FAULTS` naming an unknown service or setting, or a value of the wrong type)
is refused before anything starts, with exit code 2, like every `synkro` usage error.

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

app = typer.Typer(
    help="Local emulators of amoCRM, Radist, Gemini and Telegram with generated tenant data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()

FAULTS_ENV = "SYNKRO_SANDBOX_FAULTS"


@app.callback()
def root() -> None:
    """Keeps `serve` a subcommand (typer would make a lone command the whole program)."""


def _coerce(service: str, name: str, raw: str) -> Any:
    """Turn `--fault amocrm.rate_limit_rps=none` style values into the setting's type."""
    default = getattr(FaultSettings(), name)
    if isinstance(default, bool):  # before "off" means None: a switch turned off is False
        return raw.lower() in ("1", "true", "yes", "on")
    if raw.lower() in ("none", "off", "null"):
        return None
    try:
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float) or name == "rate_limit_rps":
            return float(raw)
    except ValueError:
        raise ValueError(f"{service}.{name} expects a number, got {raw!r}") from None
    return raw


def _check_service(service: str) -> None:
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}, expected one of {', '.join(SERVICES)}")


def parse_faults(specs: list[str], env_json: str | None) -> dict[str, dict[str, Any]]:
    """Faults from `$SYNKRO_SANDBOX_FAULTS` (JSON `{service: {...}}`) then `--fault` flags.

    Raises ValueError naming the bad service, setting or value; every change is validated
    against `FaultSettings` here so a typo fails before the server starts, not on first request.
    """
    faults: dict[str, dict[str, Any]] = {}
    if env_json:
        try:
            loaded = json.loads(env_json)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{FAULTS_ENV} is not valid JSON: {exc.msg}") from None
        if not isinstance(loaded, dict):
            raise ValueError(f"{FAULTS_ENV} must be a JSON object {{service: {{setting: value}}}}")
        for service, changes in loaded.items():
            _check_service(service)
            if not isinstance(changes, dict):
                raise ValueError(f"{FAULTS_ENV}: the settings of {service!r} must be a JSON object")
            faults.setdefault(service, {}).update(changes)
    for spec in specs:
        key, sep, value = spec.partition("=")
        service, dot, name = key.partition(".")
        if not sep or not dot:
            raise ValueError(f"expected SERVICE.SETTING=VALUE, got {spec!r}")
        _check_service(service)
        if not hasattr(FaultSettings(), name):
            raise ValueError(f"unknown fault setting {name!r} in {spec!r}")
        faults.setdefault(service, {})[name] = _coerce(service, name, value)
    validate_faults(faults)
    return faults


def validate_faults(faults: dict[str, dict[str, Any]]) -> None:
    """Apply each service's changes to a throwaway `FaultSettings`, so bad values fail here."""
    for service, changes in faults.items():
        try:
            FaultSettings().update(changes)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{service}: {exc}") from None


def _print_info(info: dict[str, Any]) -> None:
    console.print("[bold green]Synkro sandbox is ready[/]")
    for service, values in info.items():
        console.print(f"[bold]{service}[/]")
        for key, value in values.items():
            console.print(f"  {key}: {value}", highlight=False, soft_wrap=True)
    console.print("control: faults, ground truth, request log under /_sandbox/ (Ctrl+C stops)")


def _flag_faults(
    amocrm_rps: float | None, latency_ms: int | None, error_rate: float | None, token_lifetime: int | None
) -> dict[str, dict[str, Any]]:
    """The shorthand flags as fault changes; they apply after (and win over) `--fault`."""
    faults: dict[str, dict[str, Any]] = {}
    if amocrm_rps is not None:
        faults.setdefault("amocrm", {})["rate_limit_rps"] = amocrm_rps or None
    if token_lifetime is not None:
        faults.setdefault("amocrm", {})["token_lifetime_s"] = token_lifetime
    for service in SERVICES:
        if latency_ms is not None:
            faults.setdefault(service, {})["latency_ms"] = latency_ms
        if error_rate is not None:
            faults.setdefault(service, {})["error_rate"] = error_rate
    return faults


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
    """Serve all four emulators in one process until Ctrl+C or SIGTERM."""
    from sandbox.server import serve

    if scenario not in SIZES:
        raise typer.BadParameter(f"--scenario must be one of {', '.join(SIZES)}")
    try:
        faults = parse_faults(fault, os.environ.get(FAULTS_ENV))
        for service, changes in _flag_faults(amocrm_rps, latency_ms, error_rate, token_lifetime).items():
            faults.setdefault(service, {}).update(changes)
        validate_faults(faults)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    with contextlib.suppress(KeyboardInterrupt):
        serve(
            port=port, seed=seed, scenario=scenario, info_file=info_file, faults=faults, on_ready=_print_info
        )
