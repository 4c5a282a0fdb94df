"""Mask personal data in dialog text before it leaves the server.

Why: transcripts go to Google's Gemini API. Phone numbers, e-mails and card numbers are not
needed to judge a sales conversation and must never reach a third party, so they are replaced
with neutral placeholders. Masking errs on the side of hiding too much: a long order number that
looks like a phone is masked too.
"""

from __future__ import annotations

import re

PHONE_MASK = "[телефон]"
EMAIL_MASK = "[email]"
CARD_MASK = "[карта]"

_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
# A run of digits with common separators. Card candidates first (13–19 digits), then phones.
_DIGIT_RUN_RE = re.compile(r"(?<![\w])(?:\+\s?|\+?\()?\d(?:[\s\-–().]{0,3}\d){6,22}(?![\w])")


def _luhn_ok(digits: str) -> bool:
    """True when the digit string passes the Luhn checksum used by payment cards."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _mask_digit_run(match: re.Match[str]) -> str:
    raw = match.group(0)
    digits = re.sub(r"\D", "", raw)
    if 13 <= len(digits) <= 19 and _luhn_ok(digits):
        return CARD_MASK
    if len(digits) >= 10 or (raw.startswith("+") and len(digits) >= 8):
        return PHONE_MASK
    if 7 <= len(digits) <= 9 and re.search(r"\d{3}[\s\-]\d{2}[\s\-]\d{2}$", raw):
        # Local numbers without area code: "123-45-67".
        return PHONE_MASK
    return raw


def mask_pii(text: str | None) -> str:
    """Return ``text`` with e-mails, card numbers (Luhn-valid) and phone numbers replaced."""
    if not text:
        return ""
    text = _EMAIL_RE.sub(EMAIL_MASK, text)
    return _DIGIT_RUN_RE.sub(_mask_digit_run, text)
