"""The working-hours calendar settings: normalised when valid, refused with a clear message when not."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from synkro.controlplane.settings import TenantSettings, settings_problems


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ({"working_hours": " 09:00 - 18:00 "}, ("09:00-18:00", "1,2,3,4,5", "")),
        ({"working_hours": "20:00-24:00"}, ("20:00-24:00", "1,2,3,4,5", "")),
        ({"working_days": "1-6"}, ("09:00-18:00", "1,2,3,4,5,6", "")),
        ({"working_days": "7, 1-3, 2"}, ("09:00-18:00", "1,2,3,7", "")),
        (
            {"holidays": "2027-01-02; 2027-01-01,2027-01-01"},
            ("09:00-18:00", "1,2,3,4,5", "2027-01-01,2027-01-02"),
        ),
    ],
)
def test_calendar_settings_are_normalised(given: dict[str, str], stored: tuple[str, str, str]) -> None:
    s = TenantSettings(**given)
    assert (s.working_hours, s.working_days, s.holidays) == stored


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"working_hours": "9-18"}, "working_hours: must be local working hours HH:MM-HH:MM"),
        ({"working_hours": "18:00-09:00"}, "working_hours: the end must be later than the start"),
        ({"working_hours": "09:00-09:00"}, "working_hours: the end must be later than the start"),
        ({"working_hours": "24:00-24:00"}, "working_hours: must be local working hours"),
        ({"working_days": "0,1"}, "working_days: must be ISO weekdays 1 (Monday)"),
        ({"working_days": "5-1"}, "working_days: the range 5-1 runs backwards"),
        ({"working_days": ""}, "working_days: must be ISO weekdays"),
        ({"holidays": "2026-13-01"}, "holidays: '2026-13-01' is not a date YYYY-MM-DD"),
        ({"holidays": "1.1.2027"}, "holidays: '1.1.2027' is not a date"),
    ],
)
def test_bad_calendar_settings_name_what_is_wrong(given: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        TenantSettings(**given)
    assert message in settings_problems(caught.value)
