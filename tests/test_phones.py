"""Phone normalisation: the spellings managers type in amoCRM and Radist sends, to one E.164 form."""

from __future__ import annotations

import pytest

from synkro.phones import NormalizedPhone, normalize_phone


@pytest.mark.parametrize(
    "raw",
    [
        "+7 (912) 345-67-89",
        "8 912 345 67 89",
        "79123456789",
        "9123456789",
        "+7 912 345-67-89 доб. 123",
        "+7 912 345 67 89 ext 12",
        "Иван моб. +7 912 345 67 89 (звонить вечером)",
        "79123456789@c.us",
        79123456789,
    ],
)
def test_russian_spellings_normalise_to_one_e164(raw: object) -> None:
    phone = normalize_phone(raw, "RU")
    assert phone == NormalizedPhone(raw=str(raw).strip(), e164="+79123456789", valid=True)


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("+44 20 7946 0958", "RU", "+442079460958"),
        ("442079460958", "RU", "+442079460958"),
        ("+1 415 555 2671", "RU", "+14155552671"),
        ("8 701 123 45 67", "KZ", "+77011234567"),
    ],
)
def test_foreign_numbers(raw: str, region: str, e164: str) -> None:
    assert normalize_phone(raw, region).e164 == e164


@pytest.mark.parametrize("raw", ["+79123", "нет телефона", "12", "", None])
def test_invalid_numbers_are_kept_raw_and_flagged(raw: str | None) -> None:
    phone = normalize_phone(raw, "RU")
    assert phone.e164 is None
    assert phone.valid is False
    assert phone.raw == (raw or "")
