"""`synkro check SLUG amocrm`: can a load run, and will it see everything?

What is verified, and why each matters (docs/apis/amocrm.md):
- the token: OAuth access tokens live a day and are refreshed by every load, but the refresh token
  dies after 3 months unused; long-lived tokens cannot be refreshed at all. Both ages are read from
  the stored tokens *before* any request (a request may refresh the pair and hide the danger).
- the account answers `/api/v4/account` (402 unpaid and 403 blocked stop every load);
- admin rights: `/api/v4/users` is admin-only, and a non-admin token silently sees a subset of leads;
- API filters: `filter[updated_at]` is a paid add-on that is silently ignored when off, so it is
  probed with a timestamp a day ahead (an honoured filter answers 204);
- with `--sample N`: N recent contacts with every number of their phones, and the Radist dialogs
  found for each, so the owner sees the matching work before the first report; and the matching
  quality over all contacts and chats read (values with no valid number, chats matching no
  contact or several), counts plus masked examples (synkro.checks.matching).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from dlt_sources.amocrm import rows as amo_rows
from dlt_sources.amocrm.sync import probe_updated_at_filter
from dlt_sources.radist import rows as radist_rows
from synkro.checks import CheckOptions, CheckResult
from synkro.checks.matching import ContactPhones, match_chats, quality_report
from synkro.clients.amocrm import AmoCRMAccountError, AmoCRMAuthError, AmoCRMClient, AmoCRMError
from synkro.clients.amocrm_oauth import jwt_expiry, jwt_issued_at
from synkro.clients.radist import RadistError
from synkro.clients.tenant_clients import amocrm_client_for, radist_client_for

REFRESH_TOKEN_LIFETIME = timedelta(days=90)
REFRESH_TOKEN_WARN = timedelta(days=75)
LONG_LIVED_WARN = timedelta(days=14)
ACCESS_WARN = timedelta(hours=1)
SAMPLE_SCAN_PAGES = 200  # Radist contacts pages (100 each) searched for the sample's phones
CONTACT_SCAN_PAGES = 40  # amoCRM contacts pages (250 each) read for the matching-quality figures


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None


def _when(moment: datetime, now: datetime) -> str:
    delta = moment - now
    if abs(delta) < timedelta(hours=48):
        span = f"{abs(delta.total_seconds()) / 3600:.0f} h"
    else:
        span = f"{abs(delta.days)} days"
    return f"{moment:%Y-%m-%d %H:%M} UTC ({'in ' + span if delta.total_seconds() > 0 else span + ' ago'})"


def token_lines(result: CheckResult, config: Any, now: datetime) -> None:
    """Expiry of the stored token(s), judged before any request can refresh them."""
    long_lived = _secret(config.long_lived_token)
    if long_lived:
        expires = jwt_expiry(long_lived) or (
            datetime.fromtimestamp(config.expires_at, UTC) if config.expires_at else None
        )
        if expires is None:
            result.add("token expiry", None, "long-lived token with unknown expiry (not a JWT)")
        elif expires <= now:
            result.add(
                "token expiry", False, f"long-lived token expired {_when(expires, now)}; generate a new one"
            )
        elif expires - now <= LONG_LIVED_WARN:
            result.add(
                "token expiry", None, f"long-lived token expires {_when(expires, now)}; generate a new one"
            )
        else:
            result.add("token expiry", True, f"long-lived token expires {_when(expires, now)}")
        return
    access = _secret(config.access_token)
    if not access:
        result.add("token", False, "no token stored: run `synkro amocrm connect SLUG`")
        return
    expires = datetime.fromtimestamp(config.expires_at, UTC) if config.expires_at else jwt_expiry(access)
    issued = jwt_issued_at(access)
    if issued is None and expires is not None:
        issued = expires - timedelta(days=1)  # amoCRM access tokens live one day
    if issued is not None:
        age = now - issued
        dies = issued + REFRESH_TOKEN_LIFETIME
        if age >= REFRESH_TOKEN_LIFETIME:
            result.add(
                "refresh token",
                None,
                f"unused for {age.days} days: amoCRM refresh tokens die after 3 months; "
                "if the check below fails, reconnect with `synkro amocrm connect`",
            )
        elif age >= REFRESH_TOKEN_WARN:
            result.add(
                "refresh token",
                None,
                f"unused for {age.days} days, dies {_when(dies, now)} unless a load (or this check) "
                "refreshes it",
            )
        else:
            result.add("refresh token", True, f"issued {age.days} days ago, valid until {dies:%Y-%m-%d}")
    if expires is not None:
        state = "expired, refreshed on the next request" if expires <= now else "refreshed automatically"
        result.add("access token", True, f"expires {_when(expires, now)}; {state}")


def note_refresh(result: CheckResult, client: AmoCRMClient) -> None:
    """If this check's own requests rotated the pair, the refresh-token warning no longer holds."""
    if not getattr(client.tokens, "refresh_count", 0):
        return
    for line in result.lines:
        if line.name == "refresh token":
            line.ok = True
            line.detail = f"renewed by this check (before: {line.detail.split(':')[0]})"
            return
    result.add("refresh token", True, "renewed by this check")


def _admin_line(result: CheckResult, client: AmoCRMClient, account: dict) -> None:
    try:
        body = client.get("/api/v4/users", {"limit": 250}) or {}
    except AmoCRMAccountError as exc:
        if exc.status != 403:
            raise
        result.add(
            "admin rights",
            False,
            "/api/v4/users answered 403: the token's user is not an admin, so users are not loaded and "
            "leads outside that user's rights are invisible; reconnect as an admin",
        )
        return
    users = (body.get("_embedded") or {}).get("users") or []
    me = next((u for u in users if u.get("id") == account.get("current_user_id")), None)
    if me is not None and not (me.get("rights") or {}).get("is_admin"):
        result.add("admin rights", False, f"user {me.get('name')!r} is not an admin; reconnect as an admin")
        return
    who = f"user {me.get('name')!r} is an admin" if me else "users endpoint readable"
    result.add("admin rights", True, f"{who}; {body.get('_total_items', len(users))} users")


def run(tctx: Any, options: CheckOptions) -> CheckResult:
    result = CheckResult("amocrm", on_line=options.on_line)
    config = tctx.config("amocrm")
    now = datetime.now(UTC)
    token_lines(result, config, now)
    try:
        client = amocrm_client_for(tctx.cp, tctx.slug)
    except AmoCRMError as exc:
        result.add("token", False, str(exc))
        return result
    with client:
        try:
            account = client.get("/api/v4/account", {"with": "is_api_filter_enabled"}) or {}
        except AmoCRMAuthError as exc:
            result.add("token", False, str(exc))
            return result
        except AmoCRMAccountError as exc:
            result.add("account", False, str(exc))
            return result
        result.add("token", True, "accepted by amoCRM")
        note_refresh(result, client)
        detail = f"{account.get('name')!r}, id {account.get('id')}, {account.get('subdomain')}"
        if config.account_id and account.get("id") != config.account_id:
            result.add("account", False, f"{detail}: not the connected account {config.account_id}")
        else:
            result.add("account", True, f"{detail}, country {account.get('country')}")
        _admin_line(result, client, account)
        flag = account.get("is_api_filter_enabled")
        if probe_updated_at_filter(client):
            result.add("API filters", True, f"filter[updated_at] honoured (is_api_filter_enabled={flag})")
        else:
            result.add(
                "API filters",
                None,
                f"filter[updated_at] is ignored (is_api_filter_enabled={flag}; paid add-on off?): "
                "incremental loads read newest-first without a filter, which costs more requests",
            )
        if options.sample > 0:
            sample_block(tctx, client, options.sample, result)
    return result


def read_contacts(
    client: AmoCRMClient, n: int, region: str
) -> tuple[list[tuple[dict, list[dict]]], ContactPhones]:
    """The `n` most recently updated contacts that carry a phone (with their phone rows), and every
    contact's numbers up to `CONTACT_SCAN_PAGES` pages: the matching needs all contacts, not the sample."""
    sample: list[tuple[dict, list[dict]]] = []
    index = ContactPhones()
    pages = client.paginate("/api/v4/contacts", "contacts", {"order[updated_at]": "desc"}, limit=250)
    for page_no, page in enumerate(pages, start=1):
        for contact in page:
            phones = [p for p in amo_rows.contact_phone_rows(contact, region) if not p.get("_tombstone")]
            index.add(contact["id"], phones)
            if phones and len(sample) < n:
                sample.append((contact, phones))
        if page_no >= CONTACT_SCAN_PAGES:
            index.capped = True
            break
    return sample, index


def read_chats(tctx: Any, region: str) -> tuple[list[dict], str]:
    """Radist chat rows (as the loader builds them) up to `SAMPLE_SCAN_PAGES` pages, and a note on
    what was not read ("" when everything was)."""
    if tctx.config("radist") is None:
        return [], "no radist config: dialogs not looked up"
    found: list[dict] = []
    try:
        with radist_client_for(tctx.cp, tctx.slug) as radist:
            channels = {int(s["connection_id"]): str(s.get("type") or "") for s in radist.sources()}
            for i, contact in enumerate(radist.contacts_with_chats()):
                if i >= SAMPLE_SCAN_PAGES * 100:
                    return found, f"searched the first {i} Radist contacts only"
                found.extend(
                    radist_rows.chat_row(contact, chat, region, channels)
                    for chat in contact.get("chats") or []
                )
    except RadistError as exc:
        return [], f"Radist lookup failed: {exc}"
    return found, ""


def sample_block(tctx: Any, client: AmoCRMClient, n: int, result: CheckResult) -> None:
    """Adds to `result` the printable sample and the same as `data["sample"]`:
    `[{contact_id, name, looked_up, phones: {e164: [chat_id]}}]` (`looked_up` False: Radist was not
    searched, so an empty chat list means "unknown", not "none"); every number of a phone value is
    shown, each with its dialogs. Then the matching-quality line and block
    (synkro.checks.matching), as data under `data["matching"]`.
    """
    region = tctx.settings.phone_region
    sample, index = read_contacts(client, n, region)
    chat_rows, note = read_chats(tctx, region)
    looked_up = not note.startswith("no radist") and not note.startswith("Radist lookup failed")
    text, data = _sample_text(sample, index, chat_rows, note, looked_up)
    result.extra.append(text)
    result.data["sample"] = data
    summary, block, quality = quality_report(
        index, match_chats(index, chat_rows) if looked_up else None, note
    )
    problems = quality["values_without_number"] + quality.get("chats_unmatched", 0)
    problems += quality.get("chats_ambiguous", 0)
    result.add("matching quality", True if problems == 0 else None, summary)
    result.extra.append(block)
    result.data["matching"] = quality


def _sample_text(
    sample: list[tuple[dict, list[dict]]],
    index: ContactPhones,
    chat_rows: list[dict],
    note: str,
    looked_up: bool,
) -> tuple[str, list[dict]]:
    if not sample:
        return "Sample: no amoCRM contact with a phone found.", []
    chats: dict[str, list[dict]] = {}
    for row in chat_rows:
        if row["phone_e164"] in index.by_number:
            chats.setdefault(row["phone_e164"], []).append(row)
    lines = [f"Sample: {len(sample)} recent amoCRM contacts and their Radist dialogs"]
    if note:
        lines.append(f"({note})")
    for contact, phones in sample:
        lines.append(f"contact {contact['id']} {contact.get('name') or '(no name)'}")
        for phone in phones:
            numbers = (phone["phone_numbers"] or "").split()
            if not numbers:
                lines.append(f"  {phone['phone_raw']} → invalid: not matchable")
                continue
            for number in numbers:
                shown = f"  {phone['phone_raw']} → {number}"
                found = chats.get(number, [])
                if not found:
                    lines.append(f"{shown}: no dialog" if looked_up else shown)
                    continue
                lines.append(f"{shown}: {len(found)} dialog(s)")
                for row in sorted(found, key=lambda r: r["chat_id"]):
                    last = row["last_message_at"]
                    when = f", last message {last:%Y-%m-%d %H:%M} UTC" if last else ""
                    lines.append(f"    chat {row['chat_id']} ({row['channel'] or 'unknown channel'}{when})")
    data = [
        {
            "contact_id": contact["id"],
            "name": contact.get("name") or None,
            "looked_up": looked_up,
            "phones": {
                number: sorted(r["chat_id"] for r in chats.get(number, []))
                for p in phones
                for number in (p["phone_numbers"] or "").split()
            },
        }
        for contact, phones in sample
    ]
    return "\n".join(lines), data
