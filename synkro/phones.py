"""Phone extraction to E.164, shared by the amoCRM and Radist sources.

An amoCRM phone field is free text typed by managers, so one value may hold several numbers
(`+7 912 345-67-89, 8 916 111 22 33`, `… / …`, `… или …`, one per line), notes, extensions and
names around them (`Иван моб. +7 912… (звонить вечером)`, `доб. 12`), foreign numbers with or
without `+`, a WhatsApp id (`79991234567@c.us`), or a number split over two values
(`+7 916` | `123-45-67`). Radist gives bare digits or a WhatsApp id. Matching a dialog to a
contact only works when both sides are reduced to the same E.164 strings, so both sources call
this module with the tenant's region, and **every** valid number of a contact is a matching key.
Invalid values are never dropped: the raw string is kept and flagged, so an operator can see and
fix them in the CRM.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import phonenumbers

_DIGITS = re.compile(r"\d")
# A WhatsApp id is the international number without `+`; the suffix tells it is one.
_WHATSAPP_ID = re.compile(r"(\d{7,15})@(?:c\.us|s\.whatsapp\.net)\b", re.IGNORECASE)
# A run of digits with the punctuation people put inside a number, for the fallback pass over
# text the phonenumbers matcher left unclaimed (e.g. a foreign number typed without `+`).
_DIGIT_RUN = re.compile(r"\+?\d[\d\s().\-]{5,20}\d")
MIN_DIGITS, MAX_DIGITS = 8, 15  # E.164 numbers have at most 15 digits; shorter runs are notes
# A value that is one number and nothing else (most of them): parsed directly, without the matcher.
_SINGLE_NUMBER = re.compile(r"\s*\+?[\d\s().\-]{8,24}")


@dataclass(frozen=True, slots=True)
class NormalizedPhone:
    """A phone as typed (`raw`) next to its first E.164 form (`None` when it cannot be trusted)."""

    raw: str
    e164: str | None
    valid: bool


@dataclass(frozen=True, slots=True)
class PhoneValue:
    """One phone value as typed and every valid number in it, in order of appearance.

    `numbers` may be filled from a neighbouring value too (a number split over two values counts
    for both halves), so "this value yields no number" means the manager's text needs fixing.
    """

    raw: str
    numbers: tuple[str, ...]

    @property
    def e164(self) -> str | None:
        return self.numbers[0] if self.numbers else None

    @property
    def valid(self) -> bool:
        return bool(self.numbers)


def _e164(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _parse_valid(text: str, region: str | None) -> str | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    return _e164(number) if phonenumbers.is_valid_number(number) else None


def _digit_run_number(run: str, region: str) -> str | None:
    """A bare run of digits: national for `region` first, else international typed without `+`."""
    digits = re.sub(r"\D", "", run)
    if not MIN_DIGITS <= len(digits) <= MAX_DIGITS:
        return None
    return _parse_valid(run, region) or (
        None if run.lstrip().startswith("+") else _parse_valid("+" + digits, None)
    )


def extract_numbers(raw: str | int | None, region: str = "RU") -> tuple[str, ...]:
    """Every valid number in one free-text value, as E.164, in order of appearance, without repeats.

    Two passes: phonenumbers' matcher finds numbers among words, separators and extensions (an
    extension such as `доб. 12` belongs to its number and is dropped from the E.164 form); the text
    it leaves unclaimed is then searched for digit runs, which catches foreign numbers typed
    without `+` (`447946095812`) that the region-bound matcher cannot read.
    """
    text = "" if raw is None else str(raw)
    if not _DIGITS.search(text):
        return ()
    region = (region or "RU").upper()
    text = _WHATSAPP_ID.sub(lambda m: f" +{m.group(1)} ", text)
    if _SINGLE_NUMBER.fullmatch(text) and MIN_DIGITS <= len(re.sub(r"\D", "", text)) <= MAX_DIGITS:
        single = _digit_run_number(text, region)
        if single:
            return (single,)
    found: list[tuple[int, str]] = []
    claimed = list(text)
    matcher = phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID)
    for match in matcher:
        found.append((match.start, _e164(match.number)))
        claimed[match.start : match.end] = " " * (match.end - match.start)
    rest = "".join(claimed)
    for run in _DIGIT_RUN.finditer(rest):
        number = _digit_run_number(run.group(), region)
        if number:
            found.append((run.start(), number))
    ordered = [number for _, number in sorted(found)]
    return tuple(dict.fromkeys(ordered))


def extract_values(raws: Sequence[str | int | None], region: str = "RU") -> list[PhoneValue]:
    """The phone values of one contact, each with every number it holds.

    A number split over two neighbouring values (`+7 916` then `123-45-67`) is found by reading
    the two together when neither yields a number on its own; the number then counts for both
    halves, so neither is reported as junk.
    """
    texts = ["" if raw is None else str(raw).strip() for raw in raws]
    numbers = [list(extract_numbers(text, region)) for text in texts]
    for i in range(len(texts) - 1):
        if numbers[i] or numbers[i + 1] or not (_DIGITS.search(texts[i]) and _DIGITS.search(texts[i + 1])):
            continue
        joined = extract_numbers(f"{texts[i]} {texts[i + 1]}", region)
        if joined:
            numbers[i] = list(joined)
            numbers[i + 1] = list(joined)
    return [PhoneValue(raw=text, numbers=tuple(found)) for text, found in zip(texts, numbers, strict=True)]


def normalize_phone(raw: str | int | None, region: str = "RU") -> NormalizedPhone:
    """The first valid number of one value (a Radist chat has exactly one), raw string kept."""
    text = "" if raw is None else str(raw).strip()
    numbers = extract_numbers(text, region)
    return NormalizedPhone(raw=text, e164=numbers[0] if numbers else None, valid=bool(numbers))


_MASKED_DIGIT = re.compile(r"\d(?=(?:\D*\d){4})")


def mask_phone(raw: str | None) -> str:
    """A phone value for an owner's eyes in a report: every digit but the last four is `•`, the
    words and separators stay so the value can still be found in the CRM (the dbt twin is the
    `mask_phone` macro)."""
    return _MASKED_DIGIT.sub("•", raw or "")
