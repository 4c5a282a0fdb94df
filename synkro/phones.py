"""Phone normalisation to E.164, shared by the amoCRM and Radist sources.

amoCRM phones are free text typed by managers (`+7 (912) 345-67-89`, `8 912 345 67 89`,
`9123456789 доб. 12`, `Иван моб. +7 912…`), while Radist gives bare digits (`79991234567`) or a
WhatsApp id (`79991234567@c.us`). Matching a dialog to a contact only works when both sides are
reduced to the same E.164 string, so both sources call `normalize_phone` with the tenant's region.
Invalid numbers are never dropped: the raw string is kept and flagged, so an operator can see and
fix them in the CRM.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

_DIGITS = re.compile(r"\d")
_WHATSAPP_SUFFIX = re.compile(r"@[a-z.]+$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class NormalizedPhone:
    """A phone as typed (`raw`) next to its E.164 form (`None` when it cannot be trusted)."""

    raw: str
    e164: str | None
    valid: bool


def _e164(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _parse_valid(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def normalize_phone(raw: str | int | None, region: str = "RU") -> NormalizedPhone:
    """Normalise one phone string to E.164 using `region` for numbers written without a country code.

    Tries, in order: the string as a whole (handles punctuation, `8…` trunk prefix, 10-digit
    national numbers and extensions such as `доб. 12`/`ext 12`, which are dropped from the E.164
    form); digits-only input read as international (`447946…` typed without `+`); and finally the
    first valid number found inside free text with notes around it. Anything else is returned with
    `e164=None, valid=False` and the raw string intact.
    """
    text = "" if raw is None else str(raw).strip()
    if not text or not _DIGITS.search(text):
        return NormalizedPhone(raw=text, e164=None, valid=False)
    candidate = _WHATSAPP_SUFFIX.sub("", text)
    region = (region or "RU").upper()

    number = _parse_valid(candidate, region)
    if number is None and candidate.isdigit():
        number = _parse_valid("+" + candidate, None)
    if number is None:
        for match in phonenumbers.PhoneNumberMatcher(candidate, region, leniency=phonenumbers.Leniency.VALID):
            number = match.number
            break
    if number is None:
        return NormalizedPhone(raw=text, e164=None, valid=False)
    return NormalizedPhone(raw=text, e164=_e164(number), valid=True)
