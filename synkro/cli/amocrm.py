"""`synkro amocrm connect SLUG`: give Synkro access to a tenant's amoCRM account.

Two ways, both documented by amoCRM (docs/apis/amocrm.md §1.1):
- a private integration's authorization code (valid 20 minutes, single use) exchanged for an
  OAuth pair; the refresh token is then rotated by every load;
- a long-lived token (`--long-lived`, 1 day to 5 years, no refresh token).

Secrets are never command-line arguments (they would land in shell history and `ps`): the code,
the token and a missing client secret are prompted with hidden input or read from stdin
(`--code-stdin`, one per line in the order they are asked). Tokens go straight into the control
plane (encrypted) before anything else happens, because an exchanged code cannot be exchanged
again. Only the expiry is printed, never a token.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any

import typer

from synkro.cli.common import actor, console, controlplane, styled
from synkro.controlplane.errors import BadInputError

app = typer.Typer(help="amoCRM: connect a tenant's account (authorization code or long-lived token).")

REFRESH_TOKEN_DAYS = 90


def _read_secret(label: str, from_stdin: bool) -> str:
    value = sys.stdin.readline() if from_stdin else typer.prompt(label, hide_input=True)
    value = value.strip()
    if not value:
        raise BadInputError(f"{label.lower()} is empty")
    return value


def _expiry_text(moment: datetime | None) -> str:
    if moment is None:
        return "unknown expiry"
    left = moment - datetime.now(UTC)
    hours = left.total_seconds() / 3600
    span = f"in {hours:.0f} h" if abs(hours) < 48 else f"in {left.days} days"
    if left.total_seconds() <= 0:
        span = "already expired"
    return f"{moment:%Y-%m-%d %H:%M} UTC ({span})"


def _account(base_url: str, token: str) -> dict[str, Any] | None:
    """`GET /api/v4/account` with the new token: proves it works and yields the stable account id."""
    from synkro.clients.amocrm_connect import account_of

    account, problem = account_of(base_url, token)
    if problem:
        _unreachable(problem)
    return account


def _unreachable(problem: str) -> None:
    console.print(
        styled(("•", "yellow"), f" account not reachable with the new token: {problem}"), highlight=False
    )


@app.command("connect")
def connect(
    slug: str = typer.Argument(..., help="Tenant slug."),
    long_lived: bool = typer.Option(
        False, "--long-lived", help="Store a long-lived token (prompted, hidden) instead of a code."
    ),
    code_stdin: bool = typer.Option(
        False, "--code-stdin", help="Read the code (or the --long-lived token) from stdin, not a prompt."
    ),
    subdomain: str | None = typer.Option(None, help="Account subdomain, if not configured yet."),
    base_url: str | None = typer.Option(None, "--base-url", help="API origin (Kommo, proxy, sandbox)."),
    client_id: str | None = typer.Option(None, "--client-id", help="Integration ID, if not configured."),
    redirect_uri: str | None = typer.Option(
        None, "--redirect-uri", help="Must equal the integration's redirect URI exactly."
    ),
) -> None:
    """Exchange a pasted authorization code (or store a long-lived token) and print its expiry."""
    from synkro.clients.amocrm_connect import connect_with_code
    from synkro.clients.amocrm_oauth import OAuthApp, jwt_expiry
    from synkro.controlplane import NotFoundError
    from synkro.integrations.schemas import AmoCRMConfig

    cp = controlplane()
    cp.tenants.get(slug)
    try:
        current: AmoCRMConfig | None = cp.configs.get_config(slug, "amocrm")  # type: ignore[assignment]
    except NotFoundError:
        current = None
    public = {
        "subdomain": subdomain or (current.subdomain if current else None),
        "base_url": base_url or (current.base_url if current else None),
        "client_id": client_id or (current.client_id if current else None),
        "redirect_uri": redirect_uri or (current.redirect_uri if current else None),
    }
    if not public["subdomain"]:
        raise BadInputError(f"tenant {slug!r} has no amoCRM config yet: give --subdomain")
    # Validate the public part before asking for secrets (a throwaway model with a dummy token).
    probe = AmoCRMConfig.model_validate({**{k: v for k, v in public.items() if v}, "long_lived_token": "x"})
    origin = probe.effective_base_url
    patch: dict[str, Any] = {k: v for k, v in public.items() if v}

    if long_lived:
        token = _read_secret("Long-lived token", code_stdin)
        expires = jwt_expiry(token)
        patch.update(
            long_lived_token=token,
            expires_at=int(expires.timestamp()) if expires else None,
            access_token=None,
            refresh_token=None,
            auth_code=None,
        )
        account = _account(origin, token)
        if account is None:
            raise BadInputError("amoCRM did not accept the long-lived token; nothing was saved")
        patch["account_id"] = account.get("id")
        cp.configs.set_config(slug, "amocrm", patch, actor=actor())
        console.print(
            f"amoCRM connected for {slug}: account {account.get('id')} ({account.get('subdomain', '')}), "
            f"long-lived token expires {_expiry_text(expires)}; it cannot be refreshed, "
            "generate a new one before then",
            highlight=False,
        )
        return

    missing = [name for name in ("client_id", "redirect_uri") if not patch.get(name)]
    if missing:
        raise BadInputError(
            f"the code exchange needs {', '.join(missing)}: give --{missing[0].replace('_', '-')}"
        )
    secret = current.client_secret.get_secret_value() if current and current.client_secret else None
    if not secret:
        secret = _read_secret("Client secret", code_stdin)
        patch["client_secret"] = secret
    code = _read_secret("Authorization code", code_stdin)
    app_ = OAuthApp(origin, patch["client_id"], secret, patch["redirect_uri"])
    # Saved first inside: the code is spent, and this pair is now the tenant's only access.
    connected = connect_with_code(cp, slug, app_, code, patch, actor=actor())
    if connected.problem:
        _unreachable(connected.problem)
    account = connected.account
    who = f"account {account.get('id')} ({account.get('subdomain', '')})" if account else "account unknown"
    console.print(
        f"amoCRM connected for {slug}: {who}; access token expires {_expiry_text(connected.expires_at)} "
        f"and is refreshed automatically; the refresh token dies after {REFRESH_TOKEN_DAYS} days "
        "without a load",
        highlight=False,
    )
