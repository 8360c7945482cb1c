"""The calendar attachment of an owner's email: today's calls as events (RFC 5545).

Each follow-up becomes a 15-minute slot, one after the other from 09:00 on the day of the
email, in the team's time zone (floating local time when the config sets none), so that the
calls line up in the morning of the owner's calendar in the order of the email (the call
order of priority.py). Overdue calls are put on today too: that is when they can still be
made. A call the daily limit moved to a later day (capacity.py) is in that day's file. The
email, and so this file, goes out only on a working day of its reader (notifier.owner_plans
skips their days off), so no call lands on a day off; the coming days are listed in the
email alone.

An event's UID is the prospect and the day its follow-up fell due, so that importing the
next day's file again updates the same event (a call still overdue tomorrow moves to
tomorrow) instead of adding a second one. SEQUENCE counts the days the follow-up has been
waiting, which is what makes calendar programs accept the moved event as the newer one.
The events are free time (TRANSP:TRANSPARENT): a call list must not block colleagues who
plan a meeting.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

#: The first call of the day starts here, in the team's time zone.
FIRST_SLOT = time(9, 0)
#: How long each call is planned for.
SLOT = timedelta(minutes=15)
PRODID = "-//sheetfollow//follow-ups//EN"
_ZONE_RANGE = timedelta(days=400)

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class CalendarItem:
    """One follow-up to put in the calendar, its texts already in the owner's language."""

    uid: str
    summary: str
    description: str
    #: Days the follow-up has waited past its due date (0 when due today).
    days_late: int = 0


def follow_up_uid(key: str, due: date) -> str:
    """'P-0012-2026-03-09@sheetfollow': the same prospect and due date give the same UID.

    `key` is the prospect's ID (or another stable name for it); characters that do not
    belong in a UID become '-'.
    """
    safe = _UNSAFE.sub("-", key.strip()).strip("-") or "prospect"
    return f"{safe}-{due.isoformat()}@sheetfollow"


def calendar_file(items: Sequence[CalendarItem], *, day: date, timezone_name: str = "") -> bytes:
    """An iCalendar file (METHOD:PUBLISH) with one event per item, in slots from 09:00.

    `timezone_name` is an IANA zone ("Europe/Amsterdam"); "" gives floating times, which
    calendar programs show at 09:00 wherever the reader is.
    """
    zone = ZoneInfo(timezone_name) if timezone_name else None
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    calendar.add("calscale", "GREGORIAN")
    # The time the file describes, not the time it was made: the same day's list gives
    # the same bytes, which keeps re-sends and tests reproducible.
    stamp = datetime.combine(day, time(0), tzinfo=timezone.utc)
    start = datetime.combine(day, FIRST_SLOT, tzinfo=zone)
    for index, item in enumerate(items):
        calendar.add_component(_event(item, start + index * SLOT, stamp))
    if zone is not None:
        # The rules of the zone around this day are all a reader needs; the default range
        # (1970 to 2038) makes every attachment a few kilobytes of old daylight saving.
        calendar.add_missing_timezones(day - _ZONE_RANGE, day + _ZONE_RANGE)
    data: bytes = calendar.to_ical()
    return data


def _event(item: CalendarItem, start: datetime, stamp: datetime) -> Event:
    event = Event()
    event.add("uid", item.uid)
    event.add("dtstamp", stamp)
    event.add("sequence", item.days_late)
    event.add("dtstart", start)
    event.add("dtend", start + SLOT)
    event.add("summary", item.summary)
    event.add("description", item.description)
    event.add("transp", "TRANSPARENT")
    return event
