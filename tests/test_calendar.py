"""Business days: real public holidays, custom weekends, days off, rolling and counting."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import CALENDARS, PROPERTY

from sheetfollow.calendar import BusinessCalendar, calendar_for
from sheetfollow.config import CalendarConfig

NL = BusinessCalendar(country="NL")
PLAIN = BusinessCalendar()
FRI_SAT = BusinessCalendar(weekend=(4, 5))


@pytest.mark.parametrize(
    ("country", "subdivision", "day", "working"),
    [
        # King's Day, and the ordinary Tuesday after it.
        ("NL", "", date(2026, 4, 27), False),
        ("NL", "", date(2026, 4, 28), True),
        # Both days of Christmas; the Netherlands moves neither to a Monday.
        ("NL", "", date(2026, 12, 25), False),
        ("NL", "", date(2027, 12, 27), True),
        # Easter Monday 2027 is national in Germany and Denmark ...
        ("DE", "", date(2027, 3, 29), False),
        ("DK", "", date(2027, 3, 29), False),
        ("DK", "", date(2027, 3, 25), False),  # Maundy Thursday, Danish only
        ("NL", "", date(2027, 3, 25), True),
        ("DE", "", date(2026, 5, 1), False),  # Labour Day
        ("DE", "", date(2026, 12, 25), False),
        # ... regional in Spain (Catalonia keeps it) ...
        ("ES", "", date(2027, 3, 29), True),
        ("ES", "CT", date(2027, 3, 29), False),
        ("ES", "", date(2026, 1, 6), False),  # Epiphany
        ("ES", "", date(2026, 12, 8), False),  # Immaculate Conception
        # ... and an English, not a Scottish, bank holiday: "GB" alone does not have it.
        ("GB", "ENG", date(2027, 3, 29), False),
        ("GB", "SCT", date(2027, 3, 29), True),
        ("GB", "", date(2027, 3, 29), True),
        ("GB", "", date(2026, 12, 28), False),  # Boxing Day observed on the Monday
        ("GB", "", date(2027, 12, 27), False),  # Christmas Day observed
        # Without a country only the weekend counts.
        ("", "", date(2026, 12, 25), True),
        ("", "", date(2026, 12, 26), False),
    ],
)
def test_working_days_follow_the_countrys_public_holidays(
    country: str, subdivision: str, day: date, working: bool
) -> None:
    calendar = BusinessCalendar(country=country, subdivision=subdivision)
    assert calendar.is_working_day(day) is working


def test_holiday_name_names_the_holiday_and_nothing_else() -> None:
    assert NL.holiday_name(date(2026, 4, 27)) == "King's Day"
    assert NL.holiday_name(date(2026, 4, 28)) is None
    assert PLAIN.holiday_name(date(2026, 12, 25)) is None


def test_country_codes_are_case_insensitive() -> None:
    assert BusinessCalendar(country="nl").is_working_day(date(2026, 4, 27)) is False


@pytest.mark.parametrize(
    ("calendar", "day", "rolled"),
    [
        (NL, date(2026, 11, 18), date(2026, 11, 18)),  # a Wednesday stays
        (NL, date(2026, 11, 21), date(2026, 11, 23)),  # Saturday -> Monday
        (NL, date(2026, 11, 22), date(2026, 11, 23)),  # Sunday -> Monday
        (NL, date(2026, 4, 27), date(2026, 4, 28)),  # King's Day -> Tuesday
        (NL, date(2026, 12, 25), date(2026, 12, 28)),  # Christmas Friday -> Monday
        (PLAIN, date(2026, 12, 25), date(2026, 12, 25)),
        # England 2027: Christmas and Boxing Day on the weekend, both observed Mon and Tue.
        (BusinessCalendar(country="GB", subdivision="ENG"), date(2027, 12, 25), date(2027, 12, 29)),
        (FRI_SAT, date(2026, 11, 27), date(2026, 11, 29)),  # Friday -> Sunday
        (FRI_SAT, date(2026, 11, 29), date(2026, 11, 29)),  # Sunday works
    ],
)
def test_roll_forward(calendar: BusinessCalendar, day: date, rolled: date) -> None:
    assert calendar.roll_forward(day) == rolled


@pytest.mark.parametrize(
    ("calendar", "day", "n", "expected"),
    [
        (NL, date(2026, 11, 18), 0, date(2026, 11, 18)),  # a working day stays
        (NL, date(2026, 11, 21), 0, date(2026, 11, 23)),  # n=0 rolls a Saturday forward
        (NL, date(2026, 11, 16), 1, date(2026, 11, 17)),
        (NL, date(2026, 11, 16), 5, date(2026, 11, 23)),  # Mon + 5 = next Mon
        (NL, date(2026, 11, 20), 1, date(2026, 11, 23)),  # Fri + 1 = Mon
        # Counted from a Saturday: Monday is the first working day after it.
        (NL, date(2026, 11, 21), 1, date(2026, 11, 23)),
        (NL, date(2026, 11, 21), 2, date(2026, 11, 24)),
        # Across the year end in the Netherlands: Christmas, a weekend, New Year.
        (NL, date(2026, 12, 24), 1, date(2026, 12, 28)),
        (NL, date(2026, 12, 24), 5, date(2027, 1, 4)),
        (PLAIN, date(2026, 12, 24), 5, date(2026, 12, 31)),
        (NL, date(2026, 4, 24), 1, date(2026, 4, 28)),  # Fri + 1 skips King's Day
        (BusinessCalendar(country="DE"), date(2027, 3, 25), 1, date(2027, 3, 30)),  # Easter
        (FRI_SAT, date(2026, 11, 26), 1, date(2026, 11, 29)),  # Thu + 1 = Sun
        (FRI_SAT, date(2026, 11, 26), 4, date(2026, 12, 2)),
    ],
)
def test_add_business_days(calendar: BusinessCalendar, day: date, n: int, expected: date) -> None:
    assert calendar.add_business_days(day, n) == expected


def test_extra_days_off_are_skipped_like_holidays() -> None:
    # A team day out on Monday 23 Nov and the office closed on Tuesday.
    calendar = BusinessCalendar(country="NL", days_off=(date(2026, 11, 23), date(2026, 11, 24)))
    assert calendar.is_working_day(date(2026, 11, 23)) is False
    assert calendar.roll_forward(date(2026, 11, 21)) == date(2026, 11, 25)
    assert calendar.add_business_days(date(2026, 11, 20), 1) == date(2026, 11, 25)
    assert calendar.business_days_between(date(2026, 11, 20), date(2026, 11, 27)) == 3


def test_negative_business_days_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        NL.add_business_days(date(2026, 11, 18), -1)


@pytest.mark.parametrize(
    ("calendar", "start", "end", "count"),
    [
        (NL, date(2026, 11, 16), date(2026, 11, 16), 0),
        (NL, date(2026, 11, 16), date(2026, 11, 20), 4),  # Mon -> Fri
        (NL, date(2026, 11, 20), date(2026, 11, 23), 1),  # Fri -> Mon
        (NL, date(2026, 11, 21), date(2026, 11, 22), 0),  # a weekend
        (NL, date(2026, 12, 24), date(2027, 1, 4), 5),  # Christmas and New Year
        (PLAIN, date(2026, 12, 24), date(2027, 1, 4), 7),
        (FRI_SAT, date(2026, 11, 26), date(2026, 11, 29), 1),  # Thu -> Sun
    ],
)
def test_business_days_between_counts_working_days_after_start(
    calendar: BusinessCalendar, start: date, end: date, count: int
) -> None:
    assert calendar.business_days_between(start, end) == count
    assert calendar.business_days_between(end, start) == -count


def test_a_week_without_working_days_is_refused() -> None:
    with pytest.raises(ValueError, match="working day"):
        BusinessCalendar(weekend=range(7))


def test_a_year_of_days_off_stops_instead_of_looping() -> None:
    # Only Sundays work, and every Sunday of 2026 and 2027 is a day off.
    sundays = [date(2026, 1, 4) + timedelta(weeks=i) for i in range(105)]
    calendar = BusinessCalendar(weekend=(0, 1, 2, 3, 4, 5), days_off=sundays)
    with pytest.raises(ValueError, match="2026-01-01"):
        calendar.roll_forward(date(2026, 1, 1))


def test_an_owner_country_replaces_the_team_country() -> None:
    team = CalendarConfig(country="GB", subdivision="ENG", days_off=(date(2026, 11, 18),))
    dutch = BusinessCalendar.from_config(team, country="NL")
    assert dutch.is_working_day(date(2026, 4, 27)) is False  # King's Day
    assert dutch.is_working_day(date(2027, 3, 29)) is False  # Dutch Easter Monday
    assert dutch.is_working_day(date(2026, 11, 18)) is False  # the team's day off stays
    # England's subdivision means nothing in Spain: national Spanish holidays only.
    spanish = BusinessCalendar.from_config(team, country="ES")
    assert spanish.is_working_day(date(2027, 3, 29)) is True


def test_an_owner_in_the_team_country_keeps_the_team_subdivision() -> None:
    team = CalendarConfig(country="GB", subdivision="ENG")
    for owner_country in ("", "GB", "gb"):
        calendar = BusinessCalendar.from_config(team, country=owner_country)
        assert calendar.is_working_day(date(2027, 3, 29)) is False, owner_country


@pytest.mark.parametrize(
    ("team", "owner_country", "working_on_easter_monday_2027"),
    [
        (CalendarConfig(country="NL"), "GB-ENG", False),
        (CalendarConfig(country="NL"), "GB-SCT", True),
        (CalendarConfig(country="GB", subdivision="ENG"), "GB-SCT", True),
        (CalendarConfig(country="GB", subdivision="SCT"), "gb-eng", False),
        (CalendarConfig(), "ES-CT", False),
        (CalendarConfig(), "ES", True),
    ],
)
def test_an_owner_country_may_name_a_subdivision(
    team: CalendarConfig, owner_country: str, working_on_easter_monday_2027: bool
) -> None:
    calendar = BusinessCalendar.from_config(team, country=owner_country)
    assert calendar.is_working_day(date(2027, 3, 29)) is working_on_easter_monday_2027


def test_calendar_for_shares_one_calendar_per_config_and_country() -> None:
    team = CalendarConfig(country="NL", weekend=(4, 5))
    assert calendar_for(team, "DE") is calendar_for(team, "DE")
    assert calendar_for(team, "DE") is not calendar_for(team, "NL")
    german = calendar_for(team, "DE")
    assert german.country == "DE"
    assert german.is_working_day(date(2026, 11, 27)) is False  # a Friday: the team's weekend
    assert german.is_working_day(date(2026, 11, 29)) is True  # a Sunday


days = st.dates(date(2020, 1, 1), date(2030, 12, 31))


@PROPERTY
@given(calendar=st.sampled_from(CALENDARS), start=days, end=days)
def test_business_days_between_is_antisymmetric(
    calendar: BusinessCalendar, start: date, end: date
) -> None:
    assert calendar.business_days_between(start, end) == -calendar.business_days_between(end, start)


@PROPERTY
@given(calendar=st.sampled_from(CALENDARS), day=days, n=st.integers(1, 60))
def test_adding_n_business_days_crosses_exactly_n_working_days(
    calendar: BusinessCalendar, day: date, n: int
) -> None:
    later = calendar.add_business_days(day, n)
    assert calendar.is_working_day(later)
    assert calendar.business_days_between(day, later) == n
    # Nothing earlier would do: the day before has one working day fewer.
    assert calendar.business_days_between(day, later - timedelta(days=1)) == n - 1


@PROPERTY
@given(calendar=st.sampled_from(CALENDARS), day=days)
def test_roll_forward_finds_the_first_working_day(calendar: BusinessCalendar, day: date) -> None:
    rolled = calendar.roll_forward(day)
    assert calendar.is_working_day(rolled)
    skipped = [day + timedelta(days=i) for i in range((rolled - day).days)]
    assert not any(calendar.is_working_day(d) for d in skipped)
    assert calendar.add_business_days(day, 0) == rolled
