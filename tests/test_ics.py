"""The calendar attachment: parsed back with icalendar, as a calendar program reads it."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Component

from sheetfollow.config import CalendarConfig, Config
from sheetfollow.models import Outcome, Owner, Prospect, Stage
from sheetfollow.notify import ics
from sheetfollow.notify.render import owner_message
from sheetfollow.service import compute_row

TODAY = date(2026, 3, 11)
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
ITEMS = (
    ics.CalendarItem(
        ics.follow_up_uid("P-0002", date(2026, 3, 2)), "Call Brick (Bert)", "late", days_late=9
    ),
    ics.CalendarItem(ics.follow_up_uid("P-0001", TODAY), "Call Acme B.V. (Jan de Vries)", "now"),
)


def events(data: bytes) -> list[Component]:
    calendar = Calendar.from_ical(data)
    assert str(calendar["METHOD"]) == "PUBLISH"
    assert str(calendar["PRODID"]) == ics.PRODID
    assert str(calendar["VERSION"]) == "2.0"
    return calendar.walk("VEVENT")


def moment(event: Component, name: str) -> datetime:
    value = event.decoded(name)
    assert isinstance(value, datetime)
    return value


def test_one_event_per_item_in_fifteen_minute_slots_from_nine_in_the_team_zone() -> None:
    data = ics.calendar_file(ITEMS, day=TODAY, timezone_name="Europe/Amsterdam")
    first, second = events(data)
    assert [str(e["UID"]) for e in (first, second)] == [
        "P-0002-2026-03-02@sheetfollow",
        "P-0001-2026-03-11@sheetfollow",
    ]
    starts = [moment(e, "DTSTART") for e in (first, second)]
    ends = [moment(e, "DTEND") for e in (first, second)]
    assert starts == [
        datetime(2026, 3, 11, 9, 0, tzinfo=AMSTERDAM),
        datetime(2026, 3, 11, 9, 15, tzinfo=AMSTERDAM),
    ]
    assert [end - start for start, end in zip(starts, ends, strict=True)] == [ics.SLOT] * 2
    assert all(str(start.tzinfo) == "Europe/Amsterdam" for start in starts)
    assert b"DTSTART;TZID=Europe/Amsterdam:20260311T090000" in data
    # The zone travels with the file, so that calendars without the tz database agree.
    calendar = Calendar.from_ical(data)
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Amsterdam"]
    assert [int(str(e["SEQUENCE"])) for e in (first, second)] == [9, 0]
    assert str(first["SUMMARY"]) == "Call Brick (Bert)"
    assert str(first["TRANSP"]) == "TRANSPARENT"


def test_without_a_time_zone_the_times_float() -> None:
    data = ics.calendar_file(ITEMS, day=TODAY)
    starts = [moment(e, "DTSTART") for e in events(data)]
    assert starts == [datetime(2026, 3, 11, 9, 0), datetime(2026, 3, 11, 9, 15)]
    assert b"VTIMEZONE" not in data
    assert b"DTSTART:20260311T090000\r\n" in data


def test_on_the_day_clocks_go_forward_the_slots_keep_their_wall_time() -> None:
    spring = date(2026, 3, 29)
    data = ics.calendar_file(ITEMS, day=spring, timezone_name="Europe/Amsterdam")
    starts = [moment(e, "DTSTART") for e in events(data)]
    assert [s.strftime("%H:%M") for s in starts] == ["09:00", "09:15"]
    assert all(s.utcoffset() == timedelta(hours=2) for s in starts)


def test_the_same_list_gives_the_same_file() -> None:
    once = ics.calendar_file(ITEMS, day=TODAY, timezone_name="Europe/Amsterdam")
    assert once == ics.calendar_file(ITEMS, day=TODAY, timezone_name="Europe/Amsterdam")
    # DTSTAMP is the day described, in UTC: the file does not depend on the clock.
    stamps = [moment(e, "DTSTAMP") for e in events(once)]
    assert {s.isoformat() for s in stamps} == {"2026-03-11T00:00:00+00:00"}


def test_uids_are_stable_and_safe() -> None:
    assert ics.follow_up_uid("P-0012", date(2026, 3, 9)) == "P-0012-2026-03-09@sheetfollow"
    assert ics.follow_up_uid("acme b.v./nl", TODAY) == "acme-b.v.-nl-2026-03-11@sheetfollow"
    assert ics.follow_up_uid("  ", TODAY) == "prospect-2026-03-11@sheetfollow"


def test_an_empty_list_is_a_valid_empty_calendar() -> None:
    assert events(ics.calendar_file([], day=TODAY, timezone_name="Europe/Amsterdam")) == []


def test_the_owners_email_puts_overdue_and_todays_calls_in_the_calendar() -> None:
    config = Config(timezone="Europe/Amsterdam", calendar=CalendarConfig(country="NL"))
    owner = Owner("Jan", "jan@example.com", language="en", country="NL")
    prospects = [
        # Due today, with an ID.
        Prospect(
            2,
            id="P-0012",
            company="Acme B.V.",
            contact="Jan de Vries",
            phone="020 123 4567",
            owner="Jan",
            stage=Stage.NEW,
            value=900,
            created=TODAY,
        ),
        # Due a week ago, without an ID: its UID comes from the company.
        Prospect(
            3,
            company="Brick & Co",
            contact="Bert",
            email="bert@brick.example",
            owner="Jan",
            stage=Stage.NEW,
            created=date(2026, 3, 4),
        ),
        # Due on Friday: in the email's coming days, not in the calendar.
        Prospect(
            4,
            id="P-0013",
            company="Later",
            owner="Jan",
            stage=Stage.QUOTE,
            created=date(2026, 2, 1),
            last_contact=date(2026, 3, 10),
            last_outcome=Outcome.QUOTE_SENT,
        ),
    ]
    rows = [compute_row(p, owner, config, TODAY) for p in prospects]
    message = owner_message(owner, rows, today=TODAY, config=config, sheet="")
    assert message is not None
    assert "Later" in message.text
    found = events(message.attachments[0].data)
    # In the call order: today's new lead (same day) before the overdue one.
    assert [str(e["UID"]) for e in found] == [
        "P-0012-2026-03-11@sheetfollow",
        "brick-co-2026-03-04@sheetfollow",
    ]
    assert [moment(e, "DTSTART") for e in found] == [
        datetime(2026, 3, 11, 9, 0, tzinfo=AMSTERDAM),
        datetime(2026, 3, 11, 9, 15, tzinfo=AMSTERDAM),
    ]
    assert [str(e["SUMMARY"]) for e in found] == [
        "Call Acme B.V. (Jan de Vries)",
        "Email Brick & Co (Bert)",
    ]
    description = str(found[0]["DESCRIPTION"])
    assert description.splitlines() == [
        "Phone: 020 123 4567",
        "Why: " + rows[0].computed.why,
        "Record the outcome: sheetfollow mark P-0012 <outcome>",
    ]
    late = str(found[1]["DESCRIPTION"])
    assert "Due since Wed 4 Mar (7 days)" in late.splitlines()
    assert "Record the outcome: sheetfollow mark 'Brick & Co' <outcome>" in late.splitlines()
    assert [int(str(e["SEQUENCE"])) for e in found] == [0, 7]


def test_the_calendar_is_in_the_owners_language() -> None:
    config = Config(timezone="", calendar=CalendarConfig(country="NL"))
    owner = Owner("Jan", "jan@example.com", language="nl", country="NL")
    row = compute_row(
        Prospect(
            2,
            id="P-1",
            company="Acme",
            contact="Jan",
            phone="020 123 4567",
            owner="Jan",
            stage=Stage.NEW,
            created=TODAY,
        ),
        owner,
        config,
        TODAY,
    )
    message = owner_message(owner, [row], today=TODAY, config=config, sheet="")
    assert message is not None
    (event,) = events(message.attachments[0].data)
    assert str(event["SUMMARY"]) == "Bel Acme (Jan)"
    assert "Resultaat vastleggen: sheetfollow mark P-1 <resultaat>" in str(event["DESCRIPTION"])
    assert moment(event, "DTSTART") == datetime(2026, 3, 11, 9, 0)
