"""`synkro check SLUG radist`: is the key valid, does it see the company, may it read dialogs?

Why these probes, in this order (docs/apis/radist.md §3): `GET /companies/` needs no scope, so it
separates a wrong key (401) and an unpaid (402) or blocked (403) company from a key that merely
lacks a scope. Chats and messages need the `messaging` scope, probed with the cheap chat-sources
list; the connections list needs `connections`, which loading does not (only nice for labels), so
its absence is a warning. Configured `connection_ids` must exist, or the load silently finds
nothing.
"""

from __future__ import annotations

from typing import Any

from synkro.checks import CheckOptions, CheckResult
from synkro.clients.radist import RadistAuthError, RadistError
from synkro.clients.tenant_clients import radist_client_for


def _account_problem(exc: RadistError) -> str:
    if exc.status == 402:
        return f"the Radist subscription is not paid (402): loading is paused. {exc}"
    if exc.status == 403:
        return f"Radist refused the company (403: blocked, or not visible to this key). {exc}"
    return str(exc)


def run(tctx: Any, options: CheckOptions) -> CheckResult:
    result = CheckResult("radist", on_line=options.on_line)
    config = tctx.config("radist")
    with radist_client_for(tctx.cp, tctx.slug) as client:
        try:
            companies = client.companies()
        except RadistError as exc:
            if exc.status == 401:
                result.add("API key", False, f"invalid or revoked key (401). {exc}")
            else:
                result.add("API key", False, _account_problem(exc))
            return result
        result.add("API key", True, f"valid; sees {len(companies)} companies")
        ids = {int(c["id"]): c.get("name") for c in companies if c.get("id") is not None}
        if config.company_id is None:
            if len(ids) == 1:
                only = next(iter(ids))
                result.add("company", None, f"not configured; the key sees only {only} ({ids[only]}): set it")
            else:
                listed = ", ".join(f"{i} ({n})" for i, n in ids.items())
                result.add("company", False, f"not configured and the key sees several: {listed}")
            return result
        if config.company_id not in ids:
            result.add(
                "company", False, f"{config.company_id} is not visible to this key (sees {sorted(ids)})"
            )
            return result
        result.add("company", True, f"{config.company_id} ({ids[config.company_id]})")

        try:
            sources = client.sources()
        except RadistError as exc:
            if isinstance(exc, RadistAuthError) and exc.status == 403:
                result.add(
                    "messaging scope",
                    False,
                    f"the key cannot read chats: give it the 'messaging' scope. {exc}",
                )
            else:
                result.add("messaging scope", False, _account_problem(exc))
            return result
        kinds = sorted({str(s.get("type")) for s in sources})
        result.add("messaging scope", True, f"{len(sources)} chat sources ({', '.join(kinds) or 'none'})")

        try:
            connections = client.connections()
        except RadistAuthError as exc:
            result.add(
                "connections", None, f"not listed (key lacks the 'connections' scope, optional): {exc}"
            )
            connections = None
        except RadistError as exc:
            result.add("connections", False, _account_problem(exc))
            return result
        if connections is not None:
            shown = ", ".join(
                f"{c.get('id')} {c.get('type')}{'' if c.get('active', True) else ' (inactive)'}"
                for c in connections
            )
            result.add("connections", True if connections else None, shown or "no connections")
        known = {int(s["connection_id"]) for s in sources if s.get("connection_id") is not None}
        missing = [cid for cid in config.connection_ids if cid not in known]
        if missing:
            result.add("configured connections", False, f"{missing} are not chat sources of this company")
        elif config.connection_ids:
            result.add("configured connections", True, f"{config.connection_ids}")
        if not sources:
            result.add("dialogs", None, "no chat sources: nothing to load yet")
    return result
