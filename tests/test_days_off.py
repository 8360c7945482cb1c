"""Days off are days off: nobody gets a call list (or a digest) on a day that is not a
working day for them, and the next working day's email carries everything.

The properties call the use case (notifier.owner_plans) on random teams, calendars and days;
the end-to-end test runs the real CLI on the example workbook over a weekend and Christmas.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import icalendar
import pytest
from conftest import Cli, Tab, write_workbook
from hypothesis import given, settings
from hypothesis import strategies as st
from json_output import data_of

from sheetfollow import notifier, service, vocab
from sheetfollow.backends.xlsx import XlsxBackend
from sheetfollow.calendar import DAY_OFF, HOLIDAY, WEEKEND, BusinessCalendar, day_off_for
from sheetfollow.config import CalendarConfig, Config
from sheetfollow.models import Owner, Prospect, Row, Stage

# --- The calendar says why a day is off --------------------------------------------------------


def test_a_day_off_says_why() -> None:
    spain = BusinessCalendar(country="ES", days_off=[date(2026, 12, 24)])
    assert spain.day_off(date(2026, 12, 5)).kind == WEEKEND  # type: ignore[union-attr]
    holiday = spain.day_off(date(2026, 12, 8))
    assert holiday is not None and holiday.kind == HOLIDAY and holiday.region == "ES"
    assert "Immaculate Conception" in holiday.name
    assert spain.day_off(date(2026, 12, 24)).kind == DAY_OFF  # type: ignore[union-attr]
    assert spain.day_off(date(2026, 12, 9)) is None


def test_an_owners_country_and_region_replace_the_teams() -> None:
    team = CalendarConfig(country="NL")
    # 8 Dec is a holiday in Spain, not in the Netherlands.
    assert day_off_for(team, date(2026, 12, 8)) is None
    assert day_off_for(team, date(2026, 12, 8), "ES") is not None
    # 2 May is the Community of Madrid's own holiday (a Saturday in 2026: 2027's is Sunday).
    madrid = day_off_for(team, date(2025, 5, 2), "ES-MD")
    assert madrid is not None and madrid.region == "ES-MD"
    assert day_off_for(team, date(2025, 5, 2), "ES") is None
    # A team that works weekends says so with an empty [calendar] weekend.
    assert day_off_for(CalendarConfig(country="NL", weekend=()), date(2026, 12, 5)) is None


# --- Properties over random teams, calendars and days -----------------------------------------

COUNTRIES = ("", "NL", "DE", "ES", "DK", "GB")
FIRST_DAY = date(2026, 1, 1)
LAST_DAY = date(2027, 12, 31)


@pytest.fixture(scope="module")
def base_pipeline(tmp_path_factory: pytest.TempPathFactory) -> service.Pipeline:
    """A real (tiny) workbook's pipeline, whose rows and owners each example replaces."""
    path = tmp_path_factory.mktemp("base") / "pipeline.xlsx"
    write_workbook(
        path,
        Tab("Prospects", [["ID", "Company", "Owner", "Stage", "Created"]]),
        Tab("Owners", [["Owner", "Email"]]),
    )
    return service.load(XlsxBackend(path), Config(), FIRST_DAY)


@st.composite
def teams(draw: st.DrawFn) -> tuple[Config, date, dict[str, Owner], list[Prospect]]:
    weekend = draw(st.sets(st.integers(0, 6), max_size=6))
    today = draw(st.dates(FIRST_DAY, LAST_DAY))
    days_off = draw(st.sets(st.dates(today - timedelta(days=10), today + timedelta(days=3))))
    calendar = CalendarConfig(
        country=draw(st.sampled_from(COUNTRIES[1:])),
        weekend=tuple(sorted(weekend)),
        days_off=tuple(sorted(days_off)),
    )
    config = Config(calendar=calendar)
    config = replace(config, email=replace(config.email, max_cards=1000))
    names = [f"Owner{n}" for n in range(draw(st.integers(1, 6)))]
    owners = {
        vocab.normalise(name): Owner(
            name=name,
            email=f"{name.lower()}@example.com",
            country=draw(st.sampled_from(COUNTRIES)),
        )
        for name in names
    }
    prospects = [
        Prospect(
            row=n + 2,
            id=f"P-{n + 1}",
            company=f"Company {n + 1}",
            owner=draw(st.sampled_from(names)),
            stage=Stage.NEW,
            value=float(draw(st.integers(0, 50_000))),
            created=today - timedelta(days=draw(st.integers(-5, 30))),
        )
        for n in range(draw(st.integers(0, 25)))
    ]
    return config, today, owners, prospects


def _called(plan: notifier.Plan) -> tuple[set[str], set[date]]:
    """The prospect IDs in a plan's calendar file, and the days its events are on."""
    if plan.message is None:
        return set(), set()
    ids: set[str] = set()
    days: set[date] = set()
    for attachment in plan.message.attachments:
        for event in icalendar.Calendar.from_ical(attachment.data).walk("VEVENT"):
            found = re.match(r"(P-\d+)-\d{4}-", str(event["UID"]))
            assert found is not None
            ids.add(found.group(1))
            days.add(event.decoded("DTSTART").date())
    return ids, days


@settings(max_examples=60, deadline=None)
@given(teams())
def test_no_email_on_a_day_off_and_every_due_row_reaches_exactly_one_working_person(
    base_pipeline: service.Pipeline,
    team: tuple[Config, date, dict[str, Owner], list[Prospect]],
) -> None:
    config, today, owners, prospects = team
    rows: Sequence[Row] = [
        service.compute_row(p, owners[vocab.normalise(p.owner)], config, today) for p in prospects
    ]
    pipeline = replace(base_pipeline, rows=list(rows), owners=owners)
    plans, _ = notifier.owner_plans(pipeline, config, today, "pipeline.xlsx")
    by_owner = {vocab.normalise(plan.key): plan for plan in plans}
    assert set(by_owner) == set(owners)
    seen: list[str] = []
    for key, owner in owners.items():
        plan = by_owner[key]
        off = day_off_for(config.calendar, today, owner.country)
        due = {r.prospect.id for r in rows if r.prospect.owner == owner.name}
        due = {r.prospect.id for r in rows if r.prospect.id in due and r.computed.is_due(today)}
        if off is not None:
            assert plan.message is None and plan.day_off and plan.status == notifier.SKIPPED
            assert "not a working day for " + owner.name in plan.reason
            continue
        ids, days = _called(plan)
        # Everything due for a working owner is on their list, nothing else, all on today.
        assert ids == due
        assert (plan.message is None) == (not due)
        assert days <= {today}
        seen += ids
    # No row is on two lists, and every due row of a working owner is on one.
    assert len(seen) == len(set(seen))
    working = {
        r.prospect.id
        for r in rows
        if r.computed.is_due(today)
        and day_off_for(config.calendar, today, owners[vocab.normalise(r.prospect.owner)].country)
        is None
    }
    assert set(seen) == working


@settings(max_examples=30, deadline=None)
@given(teams(), st.integers(1, 10))
def test_a_row_due_on_a_day_off_is_on_the_next_working_days_email(
    base_pipeline: service.Pipeline,
    team: tuple[Config, date, dict[str, Owner], list[Prospect]],
    later: int,
) -> None:
    """No row is lost: what was due on a person's day off is on their list on their next
    working day (nobody called meanwhile, so it is still due)."""
    config, today, owners, prospects = team
    for owner in owners.values():
        calendar = BusinessCalendar.from_config(config.calendar, country=owner.country)
        if calendar.is_working_day(today):
            continue
        mine = [p for p in prospects if p.owner == owner.name]
        due_then = {
            p.id
            for p in mine
            if service.compute_row(p, owner, config, today).computed.is_due(today)
        }
        # The next working day, or one a few working days later: nothing due is dropped.
        day = calendar.add_business_days(today, later)
        rows = [service.compute_row(p, owner, config, day) for p in mine]
        pipeline = replace(base_pipeline, rows=rows, owners={vocab.normalise(owner.name): owner})
        plans, _ = notifier.owner_plans(pipeline, config, day, "pipeline.xlsx")
        ids, days = _called(plans[0])
        assert due_then <= ids
        assert days <= {day}


# --- The example workbook over a weekend and Christmas ----------------------------------------


def _emails(outbox: Path, day: date, kind: str) -> list[Path]:
    return sorted(outbox.glob(f"{day.isoformat()}-{kind}-*.eml"))


def _calendar_ids(path: Path) -> tuple[set[str], set[date]]:
    from email import policy
    from email.parser import BytesParser

    mail = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    ids: set[str] = set()
    days: set[date] = set()
    for part in mail.walk():
        if part.get_content_type() != "text/calendar":
            continue
        for event in icalendar.Calendar.from_ical(part.get_payload(decode=True)).walk("VEVENT"):
            found = re.match(r"(P-\d+)-\d{4}-", str(event["UID"]))
            assert found is not None
            ids.add(found.group(1))
            days.add(event.decoded("DTSTART").date())
    return ids, days


def _due(cli: Cli, config: Path, day: date) -> dict[str, set[str]]:
    """`due --json` on `day`: the due IDs by who gets them."""
    result = cli("due", "--config", config, "--today", day.isoformat(), "--json")
    assert result.exit_code == 0, result.output
    found = data_of(result.stdout)
    items = found if isinstance(found, list) else found.get("rows", found.get("due", []))
    by: dict[str, set[str]] = {}
    for item in items:
        who = item.get("assigned_to") or item.get("owner")
        by.setdefault(who, set()).add(item["id"])
    return by


def test_the_example_sends_nothing_on_the_weekend_or_christmas_and_monday_carries_it_all(
    cli: Cli, tmp_path: Path
) -> None:
    friday, saturday, sunday, monday = (date(2026, 12, 4) + timedelta(days=n) for n in range(4))
    sheet = tmp_path / "demo" / "pipeline.xlsx"
    assert cli("init", "--example", "--today", friday.isoformat(), sheet).exit_code == 0
    config = sheet.parent / "sheetfollow.toml"
    # Every call in the email (and its calendar file), so the test can see them all.
    config.write_text(config.read_text().replace("# max_cards = 15", "max_cards = 1000"))
    outbox = tmp_path / "outbox"

    def run(day: date, *more: str) -> str:
        args = ("run", "--config", config, "--outbox", outbox, "--today", day.isoformat())
        result = cli(*args, *more)
        assert result.exit_code == 0, result.output
        return result.output

    for day in (saturday, sunday):
        report = run(day)
        assert not _emails(outbox, day, "owner") and not _emails(outbox, day, "digest")
        # The run still refreshed the sheet, and says why nothing went out.
        assert "prospects" in report.splitlines()[0]
        for name in ("Anna", "Jonas", "Mette", "Lucía", "Sarah"):
            assert f"not a working day for {name} (weekend)" in report
        assert "not sent on a day off: 6 emails" in report
    # The run filled in the blank IDs; what is due on Saturday waits for Monday.
    due_on_saturday = _due(cli, config, saturday)
    assert sum(map(len, due_on_saturday.values())) > 0
    report = data_of(run(saturday, "--json"))
    skipped = [e for e in report["notify"]["emails"] if e["kind"] == "owner"]
    assert skipped and all(e["status"] == "skipped" for e in skipped)
    assert all("not a working day" in e["detail"] for e in skipped)

    run(monday)
    mails = _emails(outbox, monday, "owner")
    assert len(mails) == 5 and _emails(outbox, monday, "digest")
    due_on_monday = _due(cli, config, monday)
    for mail in mails:
        ids, days = _calendar_ids(mail)
        assert days == {monday}
        # Monday's email carries everything that fell due over the weekend, and Monday's.
        owner = next(n for n in due_on_saturday if vocab.normalise(n) in mail.name.lower())
        assert due_on_saturday[owner] <= ids
        assert ids == due_on_monday[owner]

    # 8 Dec is a public holiday in Spain only: Lucía alone gets nothing.
    report = run(date(2026, 12, 8))
    assert "public holiday in ES: Immaculate Conception" in report
    names = {p.name for p in _emails(outbox, date(2026, 12, 8), "owner")}
    assert len(names) == 4 and not any("luc" in n for n in names)

    # Christmas: nobody; Mon 28 Dec is a holiday in England (Boxing Day, substitute), so
    # Sarah (GB), and her digest, wait until Tuesday.
    christmas = date(2026, 12, 25)
    run(christmas)
    assert not list(outbox.glob(f"{christmas.isoformat()}-*.eml"))
    report = run(date(2026, 12, 28))
    assert len(_emails(outbox, date(2026, 12, 28), "owner")) == 4
    assert not _emails(outbox, date(2026, 12, 28), "digest")
    assert "the digest of Tue 29 Dec carries everything" in report
    run(date(2026, 12, 29))
    assert len(_emails(outbox, date(2026, 12, 29), "owner")) == 5
    assert _emails(outbox, date(2026, 12, 29), "digest")


def test_force_sends_on_a_day_off(cli: Cli, tmp_path: Path) -> None:
    sheet = tmp_path / "pipeline.xlsx"
    assert cli("init", "--example", "--today", "2026-12-07", sheet).exit_code == 0
    config = tmp_path / "sheetfollow.toml"
    outbox = tmp_path / "outbox"
    args = ("notify", "--config", config, "--outbox", outbox, "--today", "2026-12-08")
    result = cli(*args, "--owner", "Lucía")
    assert result.exit_code == 0, result.output
    assert "not a working day for Lucía" in result.output
    assert not list(outbox.glob("*.eml")) if outbox.exists() else True
    result = cli(*args, "--owner", "Lucía", "--force")
    assert result.exit_code == 0, result.output
    assert len(list(outbox.glob("2026-12-08-owner-*.eml"))) == 1


def test_a_team_that_works_weekends_gets_its_emails_on_saturday(cli: Cli, tmp_path: Path) -> None:
    sheet = tmp_path / "pipeline.xlsx"
    assert cli("init", "--example", "--today", "2026-12-04", sheet).exit_code == 0
    config = tmp_path / "sheetfollow.toml"
    text = config.read_text()
    assert 'weekend = ["sat", "sun"]' in text
    config.write_text(text.replace('weekend = ["sat", "sun"]', "weekend = []"))
    outbox = tmp_path / "outbox"
    result = cli("run", "--config", config, "--outbox", outbox, "--today", "2026-12-05")
    assert result.exit_code == 0, result.output
    assert len(list(outbox.glob("2026-12-05-owner-*.eml"))) == 5
