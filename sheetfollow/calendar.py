"""Business days: weekends, public holidays of a country, and a team's extra days off."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

from sheetfollow.config import CalendarConfig

if TYPE_CHECKING:
    # Imported where a calendar is built: the holiday tables take a while to load, and
    # `sheetfollow --help` needs none of them.
    import holidays

#: A long run of days off (a misconfigured weekend, say) must not loop forever.
_MAX_SKIP = 366


#: Why a day is not a working day (DayOff.kind).
WEEKEND = "weekend"
HOLIDAY = "public holiday"
DAY_OFF = "day off"


@dataclass(frozen=True)
class DayOff:
    """Why a day is not a working day: the code, and for a public holiday its name and the
    region whose holiday it is ("ES", "ES-MD"). Wording it is the reader's job."""

    kind: str
    name: str = ""
    region: str = ""


class BusinessCalendar:
    """Working days for one country (public holidays) with a given weekend and days off."""

    def __init__(
        self,
        *,
        country: str = "",
        subdivision: str = "",
        weekend: Iterable[int] = (5, 6),
        days_off: Iterable[date] = (),
    ) -> None:
        self.country = country.upper()
        self.subdivision = subdivision.upper() if self.country else ""
        self.weekend = frozenset(weekend)
        if len(self.weekend) >= 7:
            raise ValueError("a week needs at least one working day")
        self.days_off = frozenset(days_off)
        self._holidays: holidays.HolidayBase | None = None
        if self.country:
            # Imported here, and only this country's tables (holiday_tables): `--help` needs
            # none; names are in English whatever the machine's locale.
            from sheetfollow.holiday_tables import country_holidays

            self._holidays = country_holidays(self.country, subdivision)
        # Every row asks about the same few weeks: each day is looked up once per calendar.
        self._working: dict[date, bool] = {}
        self._rolled: dict[date, date] = {}
        self._added: dict[tuple[date, int], date] = {}

    @classmethod
    def from_config(cls, config: CalendarConfig, *, country: str = "") -> BusinessCalendar:
        """The team calendar, with an owner's country (if any) replacing the team's.

        An owner's country may name a subdivision too, as the Owners tab allows: "GB-ENG".
        """
        own, _, subdivision = (country or config.country).upper().partition("-")
        if not subdivision and own == config.country.upper():
            # The team's subdivision (England, Catalonia ...) still holds for an owner in the
            # team's own country; it means nothing in another one.
            subdivision = config.subdivision
        return cls(
            country=own,
            subdivision=subdivision,
            weekend=config.weekend,
            days_off=config.days_off,
        )

    def holiday_name(self, day: date) -> str | None:
        if self._holidays is None:
            return None
        name = self._holidays.get(day)
        return str(name) if name else None

    def day_off(self, day: date) -> DayOff | None:
        """Why `day` is not a working day (the weekend first, then a public holiday, then a
        configured day off); None when it is one."""
        if day.weekday() in self.weekend:
            return DayOff(WEEKEND)
        name = self.holiday_name(day)
        if name is not None:
            region = "-".join(part for part in (self.country, self.subdivision) if part)
            return DayOff(HOLIDAY, name=name, region=region)
        if day in self.days_off:
            return DayOff(DAY_OFF)
        return None

    def is_working_day(self, day: date) -> bool:
        known = self._working.get(day)
        if known is None:
            known = self._working[day] = (
                day.weekday() not in self.weekend
                and day not in self.days_off
                and (self._holidays is None or day not in self._holidays)
            )
        return known

    def roll_forward(self, day: date) -> date:
        """The day itself when it is a working day, else the next working day."""
        rolled = self._rolled.get(day)
        if rolled is not None:
            return rolled
        for offset in range(_MAX_SKIP):
            candidate = day + timedelta(days=offset)
            if self.is_working_day(candidate):
                self._rolled[day] = candidate
                return candidate
        raise ValueError(f"no working day within a year after {day.isoformat()}")

    def add_business_days(self, day: date, n: int) -> date:
        """n working days after day (n=0: day rolled forward to a working day)."""
        if n < 0:
            raise ValueError("n must not be negative")
        if n == 0:
            return self.roll_forward(day)
        added = self._added.get((day, n))
        if added is not None:
            return added
        # Count from the day itself, not from it rolled forward: one working day after a
        # Saturday is the Monday, as business_days_between counts it.
        result = day
        for _ in range(n):
            result = self.roll_forward(result + timedelta(days=1))
        self._added[day, n] = result
        return result

    def business_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]; negative when end is before start."""
        if end < start:
            return -self.business_days_between(end, start)
        count = 0
        day = start + timedelta(days=1)
        while day <= end:
            count += self.is_working_day(day)
            day += timedelta(days=1)
        return count


def is_known_region(code: str) -> bool:
    """Whether public holidays are known for a country code, optionally with a subdivision
    ("NL", "GB-ENG", "ES-CT")."""
    # Loading no country's tables, but for the subdivisions of one.
    from sheetfollow.holiday_tables import country_codes, subdivisions

    country, _, subdivision = code.upper().partition("-")
    if not subdivision:
        return country in country_codes()
    known = subdivisions(country)
    return known is not None and subdivision in known


@lru_cache(maxsize=64)
def calendar_for(config: CalendarConfig, country: str = "") -> BusinessCalendar:
    """Calendars are costly to build (holiday tables); share one per country."""
    return BusinessCalendar.from_config(config, country=country)


def day_off_for(config: CalendarConfig, day: date, country: str = "") -> DayOff | None:
    """Why `day` is not a working day for someone in `country` (an Owners tab Country, with
    or without a subdivision; "" = the team's [calendar] country), with the team's weekend
    and [calendar] days_off; None when it is a working day for them."""
    return calendar_for(config, country).day_off(day)
