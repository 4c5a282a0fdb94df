"""Phone extraction: the spellings managers type in amoCRM and Radist sends, to E.164 numbers.

Three layers: the single-number spellings (`normalize_phone`, used for Radist chats), a table of
awkward real-world values with every number they hold, and property tests that build values from
known numbers the way people type them and check that every number comes back, in order.
"""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from synkro.phones import NormalizedPhone, PhoneValue, extract_numbers, extract_values, normalize_phone


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


A, B, C = "+79123456789", "+79261112233", "+74951234567"

AWKWARD = [
    ("+7 912 345-67-89, 8 926 111 22 33", (A, B)),
    ("+7 912 345-67-89,8 926 111 22 33", (A, B)),
    ("8 912 345 67 89 / 8 926 111-22-33", (A, B)),
    ("89123456789/89261112233", (A, B)),
    ("+79123456789; +79261112233", (A, B)),
    ("8-912-345-67-89 или 8-926-111-22-33", (A, B)),
    ("+7 912 345 67 89\n+7 926 111 22 33", (A, B)),
    ("+7 912 345 67 89\r\n8 926 111 22 33\n", (A, B)),
    ("89123456789 89261112233", (A, B)),
    ("Иван: +7 912 345-67-89, жена Мария 8 926 111 22 33", (A, B)),
    ("моб. 9123456789 (Иван), раб. 8 (495) 123-45-67 доб. 204", (A, C)),
    ("8 (495) 123-45-67 доб. 12, моб. +7 912 345 67 89", (C, A)),
    ("+7 495 123 45 67 ext. 7 / +7 912 345 67 89", (C, A)),
    ("секретарь 8(495)1234567 после 18:00", (C,)),
    ("79123456789@c.us", (A,)),
    ("WhatsApp 79123456789@c.us, звонить 8 926 111 22 33", (A, B)),
    ("375291234567", ("+375291234567",)),
    ("+7 912 345 67 89 или 375291234567 (Минск)", (A, "+375291234567")),
    ("+44 7946 095812 / 49 1512 3456789", ("+447946095812", "+4915123456789")),
    ("+998 90 123 45 67 роуминг", ("+998901234567",)),
    ("+7 912 345-67-89 (тот же: 89123456789)", (A,)),
    ("+7912", ()),
    ("звонить после 18", ()),
    ("", ()),
]


@pytest.mark.parametrize(("raw", "numbers"), AWKWARD)
def test_awkward_values_yield_every_number(raw: str, numbers: tuple[str, ...]) -> None:
    assert extract_numbers(raw, "RU") == numbers


@pytest.mark.parametrize(
    ("values", "numbers"),
    [
        (["+7 912", "345-67-89"], [(A,), (A,)]),
        (["8 (912) 345", "67-89", "+7 926 111 22 33"], [(A,), (A,), (B,)]),
        # a complete number next to a fragment is not glued to it; the fragment stays junk
        (["+7 926 111 22 33", "345-67-89"], [(B,), ()]),
        (["+7912", "доб. 12"], [(), ()]),
        (["8 912 345 67 89, 8 926 111 22 33", "+7912"], [(A, B), ()]),
    ],
)
def test_a_number_split_over_two_values_counts_for_both(
    values: list[str], numbers: list[tuple[str, ...]]
) -> None:
    got = extract_values(values, "RU")
    assert [v.numbers for v in got] == numbers
    assert [v.raw for v in got] == values
    assert all(isinstance(v, PhoneValue) and v.valid == bool(v.numbers) for v in got)


# ---- property tests ------------------------------------------------------------------------

RU_MOBILE_PREFIXES = ("900", "912", "916", "926", "903", "985", "999", "962", "977", "950")
FOREIGN = ("BY", "DE", "GB", "UZ", "US", "TR", "KZ", "AM", "GE")
SEPARATORS = (", ", ",", " / ", "/", "; ", ";", " или ", " ИЛИ ", "\n", "\r\n", " ", ", \n", " или\n")
WORDS = ("Иван", "жена", "моб.", "раб.", "(личный)", "секретарь Ольга", "WhatsApp", "звонить вечером", "тел:")


@st.composite
def ru_mobile(draw: st.DrawFn) -> str:
    prefix = draw(st.sampled_from(RU_MOBILE_PREFIXES))
    rest = draw(st.integers(0, 10**7 - 1))
    number = f"+7{prefix}{rest:07d}"
    assume(phonenumbers.is_valid_number(phonenumbers.parse(number)))
    return number


@st.composite
def foreign_number(draw: st.DrawFn) -> str:
    region = draw(st.sampled_from(FOREIGN))
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    national = str(example.national_number)
    tail = draw(st.integers(0, 10**4 - 1))
    candidate = phonenumbers.parse(f"+{example.country_code}{national[:-4]}{tail:04d}")
    assume(phonenumbers.is_valid_number(candidate))
    return phonenumbers.format_number(candidate, phonenumbers.PhoneNumberFormat.E164)


def _reads_as_russian(digits: str) -> bool:
    """A foreign number typed without `+` that is also a valid Russian national number is
    ambiguous to anyone, people included; the generator leaves such spellings out."""
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(digits, "RU"))
    except phonenumbers.NumberParseException:
        return False


@st.composite
def spelled(draw: st.DrawFn, number: str) -> str:
    """`number` (E.164) the way a manager might type it."""
    parsed = phonenumbers.parse(number)
    if parsed.country_code == 7 and str(parsed.national_number).startswith("9"):
        n = str(parsed.national_number)
        a, b, c, d = n[:3], n[3:6], n[6:8], n[8:]
        return draw(
            st.sampled_from(
                (
                    f"+7 ({a}) {b}-{c}-{d}",
                    f"8 {a} {b} {c} {d}",
                    f"7{n}",
                    n,
                    number,
                    f"8({a}){b}{c}{d}",
                    f"8-{a}-{b}-{c}-{d}",
                    f"+7 {a} {b}-{c}-{d} доб. {draw(st.integers(1, 999))}",
                    f"7{n}@c.us",
                )
            )
        )
    forms = [
        phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL),
        number,
        f"{number[1:]}@c.us",
    ]
    if not _reads_as_russian(number[1:]):
        forms.append(number[1:])  # typed without +
    return draw(st.sampled_from(forms))


@st.composite
def phone_value(draw: st.DrawFn) -> tuple[str, tuple[str, ...]]:
    """A free-text value built from known, distinct numbers, with words and separators around."""
    numbers = draw(st.lists(st.one_of(ru_mobile(), foreign_number()), min_size=1, max_size=4, unique=True))
    parts = []
    for i, number in enumerate(numbers):
        before = draw(st.sampled_from(("", *(w + " " for w in WORDS))))
        after = draw(st.sampled_from(("", *(" " + w for w in WORDS))))
        parts.append(f"{before}{draw(spelled(number))}{after}")
        if i < len(numbers) - 1:
            parts.append(draw(st.sampled_from(SEPARATORS)))
    return "".join(parts), tuple(numbers)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(phone_value())
def test_every_number_of_a_generated_value_comes_back(value: tuple[str, tuple[str, ...]]) -> None:
    raw, numbers = value
    assert extract_numbers(raw, "RU") == numbers


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(phone_value(), min_size=1, max_size=4), ru_mobile(), st.data())
def test_every_number_of_a_contact_comes_back_split_included(
    values: list[tuple[str, tuple[str, ...]]], split: str, data: st.DataObject
) -> None:
    """A contact's values, one of them a number broken over two values, give back every number."""
    assume(all(split not in numbers for _, numbers in values))
    n = split[2:]
    head, tail = data.draw(
        st.sampled_from(((f"+7 {n[:3]}", n[3:]), (f"8 ({n[:3]}) {n[3:6]}", f"{n[6:8]}-{n[8:]}")))
    )
    at = data.draw(st.integers(0, len(values)))
    raws = [raw for raw, _ in values]
    raws[at:at] = [head, tail]
    got = extract_values(raws, "RU")
    expected = [numbers for _, numbers in values]
    expected[at:at] = [(split,), (split,)]
    assert [v.numbers for v in got] == expected
