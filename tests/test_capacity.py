"""The daily capacity: more due than a person can call is spread over their next working
days (sheetfollow/capacity.py), end to end through the CLI on the example workbook, and as
properties over random teams, calendars, leave and limits."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest
from conftest import Cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from json_output import data_of
from openpyxl import load_workbook

from sheetfollow import capacity, priority, schema, vocab
from sheetfollow.calendar import calendar_for
from sheetfollow.config import CalendarConfig, Config
from sheetfollow.models import Outcome, Owner, Prospect, Stage, Status
from sheetfollow.service import compute_row
from sheetfollow.sheet import Table

MONDAY = date(2026, 12, 7)


def _config(limit: int = 0, country: str = "NL") -> Config:
    return Config(calendar=CalendarConfig(country=country, calls_per_day=limit))


def _late(n: int, day: date, owner: str = "Anna", value: float = 1000.0) -> Prospect:
    """A lead created on `day` (due that day), not called yet: overdue after it."""
    return Prospect(
        n,
        id=f"P-{n:04d}",
        company=f"Company {n:04d}",
        owner=owner,
        stage=Stage.NEW,
        created=day,
        value=value,
    )


def _promised(n: int, on: date, owner: str = "Anna") -> Prospect:
    """A call-back promised for `on`."""
    return Prospect(
        n,
        id=f"P-{n:04d}",
        company=f"Promise {n:04d}",
        owner=owner,
        stage=Stage.CONTACTED,
        created=on - timedelta(days=30),
        last_contact=on - timedelta(days=7),
        last_outcome=Outcome.CALL_BACK,
        attempts=0,
        follow_up_on=on,
    )


def _plan(
    prospects: list[Prospect], config: Config, today: date, owners: dict[str, Owner] | None = None
) -> capacity.Planned:
    team = owners or {"anna": Owner("Anna", "anna@example.com", country="NL")}
    rows = [
        compute_row(p, team.get(vocab.normalise(p.owner)), config, today, team) for p in prospects
    ]
    return capacity.plan(
        rows, today=today, calendar=config.calendar, rules=config.rules, owners=team
    )


# --- The plan ---------------------------------------------------------------------------------


def test_forty_due_after_a_holiday_ten_a_day_and_the_promises_on_top() -> None:
    # 40 leads due on Thu 24 Dec 2026, still waiting after Christmas (Fri 25 Dec in NL) and
    # the weekend, and two call-backs promised for Monday 28 Dec.
    monday = date(2026, 12, 28)
    prospects = [_late(n, date(2026, 12, 24), value=1000 + n) for n in range(2, 42)]
    prospects += [_promised(50, monday), _promised(51, monday)]
    planned = _plan(prospects, _config(10), monday)
    # A late call left on today keeps its day (overdue since Thursday).
    days = Counter(max(r.computed.next_follow_up or monday, monday) for r in planned.rows)
    # Monday: 10 plus the 2 promised; then 10 a day on the working days that follow (Tue 29,
    # Wed 30, Thu 31 Dec: 1 January is a public holiday).
    assert days[monday] == 12
    assert days[date(2026, 12, 29)] == 10 and days[date(2026, 12, 30)] == 10
    assert days[date(2026, 12, 31)] == 10
    assert planned.moved == 30
    # The promises stay on their day, and the day is reported past its limit.
    for row in planned.rows:
        if row.prospect.company.startswith("Promise"):
            assert row.computed.next_follow_up == monday and row.computed.due_by_rules is None
    assert [load.line() for load in planned.over] == [
        "Anna, Mon 28 Dec 2026: 12 of 10 calls (2 promised or same-day beyond the limit)"
    ]
    moved = [r for r in planned.rows if r.computed.due_by_rules is not None]
    assert len(moved) == 30
    for row in moved:
        c = row.computed
        assert c.status is Status.SCHEDULED, "a moved call does not shout overdue"
        assert c.due_by_rules == date(2026, 12, 24)
        assert c.why.startswith(
            f"Moved from Mon 28 Dec 2026 to {c.next_follow_up and _fmt(c.next_follow_up)}: "
            "Anna's 10 calls a day were already planned. First call was due"
        )
        # The digest and stats still see it as overdue.
        assert capacity.was_due(row, monday)
    # The call order decides who stays: the oldest first, then the largest value; the ten
    # largest of the forty stay on Monday.
    kept = sorted(
        r.prospect.value or 0
        for r in planned.rows
        if r.computed.due_by_rules is None and r.prospect.company.startswith("Company")
    )
    assert kept == [1000 + n for n in range(32, 42)]


def _fmt(day: date) -> str:
    from sheetfollow.rules import fmt_day

    return fmt_day(day)


def test_without_a_limit_nothing_changes() -> None:
    prospects = [_late(n, date(2026, 12, 1)) for n in range(2, 60)]
    config = _config(0)
    team = {"anna": Owner("Anna", "anna@example.com", country="NL")}
    rows = [compute_row(p, team["anna"], config, MONDAY, team) for p in prospects]
    planned = capacity.plan(
        rows, today=MONDAY, calendar=config.calendar, rules=config.rules, owners=team
    )
    assert planned.rows == rows and planned.moved == 0 and planned.over == ()


def test_the_owners_tab_limit_wins_over_the_config_and_a_delegate_has_their_own() -> None:
    team = {
        "anna": Owner("Anna", "anna@example.com", country="NL", calls_per_day=3),
        "bert": Owner("Bert", "bert@example.com", country="NL"),
    }
    prospects = [_late(n, MONDAY) for n in range(2, 8)]
    prospects += [_late(n, MONDAY, owner="Bert") for n in range(10, 16)]
    planned = _plan(prospects, _config(5), MONDAY, team)
    on_monday = Counter(
        r.computed.assigned_to for r in planned.rows if r.computed.next_follow_up == MONDAY
    )
    # Leads created today are same-day: they are kept whatever the limit.
    assert on_monday == {"Anna": 6, "Bert": 6}
    later = [_late(n, MONDAY - timedelta(days=3)) for n in range(2, 8)]
    later += [_late(n, MONDAY - timedelta(days=3), owner="Bert") for n in range(10, 16)]
    planned = _plan(later, _config(5), MONDAY, team)
    on_monday = Counter(r.computed.assigned_to for r in planned.rows if r.computed.is_due(MONDAY))
    assert on_monday == {"Anna": 3, "Bert": 5}


def test_same_day_quotes_and_leads_are_kept_but_late_ones_wait_their_turn() -> None:
    quote = Prospect(
        90,
        id="P-0090",
        company="Quote today",
        owner="Anna",
        stage=Stage.INTERESTED,
        created=date(2026, 11, 1),
        last_contact=MONDAY,
        last_outcome=Outcome.INTERESTED,
        attempts=0,
    )
    lead_today = _late(91, MONDAY)
    late = [_late(n, date(2026, 12, 1), value=10_000) for n in range(2, 6)]
    planned = _plan([quote, lead_today, *late], _config(2), MONDAY)
    by_id = {r.prospect.id: r.computed for r in planned.rows}
    assert by_id["P-0090"].next_follow_up == MONDAY
    assert by_id["P-0091"].next_follow_up == MONDAY
    # The kept calls come on top of the limit: two late leads stay today (overdue since
    # 1 Dec), the other two go to Tuesday; the same value, so by ID.
    assert [by_id[f"P-{n:04d}"].next_follow_up for n in range(2, 6)] == [
        date(2026, 12, 1),
        date(2026, 12, 1),
        date(2026, 12, 8),
        date(2026, 12, 8),
    ]
    assert [load.line() for load in planned.over] == [
        "Anna, Mon 7 Dec 2026: 4 of 2 calls (2 promised or same-day beyond the limit)"
    ]


def test_a_row_returning_from_leave_without_cover_is_spread_with_the_owners_limit() -> None:
    away = Owner(
        "Anna",
        "anna@example.com",
        country="NL",
        away_from=date(2026, 11, 30),
        away_until=date(2026, 12, 4),
        calls_per_day=4,
    )
    prospects = [_late(n, date(2026, 11, 30) + timedelta(days=n % 5)) for n in range(2, 14)]
    # During the leave: the rows wait for the first day back, 4 of them, the rest after.
    during = _plan(prospects, _config(), date(2026, 12, 2), {"anna": away})
    # Those that fit on the first day back keep their own day (they wait: due, then
    # overdue), the others are moved.
    days = Counter(max(r.computed.next_follow_up or MONDAY, MONDAY) for r in during.rows)
    assert days[MONDAY] == 4
    assert days[date(2026, 12, 8)] == 4 and days[date(2026, 12, 9)] == 4
    # The Why says why the call moved, and, for one due today, that the owner is away.
    moved = [r.computed for r in during.rows if r.computed.due_by_rules]
    assert len(moved) == 8
    assert all("Anna's 4 calls a day were already planned." in c.why for c in moved)
    waiting = "Anna is away until Fri 4 Dec 2026; no cover: it waits."
    assert all(
        waiting in c.why for c in moved if c.due_by_rules and c.due_by_rules <= date(2026, 12, 2)
    )
    # On the day back, the same plan: four on Monday.
    back = _plan(prospects, _config(), MONDAY, {"anna": away})
    assert sum(1 for r in back.rows if r.computed.is_due(MONDAY)) == 4
    # Without a limit everything is due on the first day back.
    unlimited = {
        "anna": Owner(
            "Anna",
            "anna@example.com",
            country="NL",
            away_from=away.away_from,
            away_until=away.away_until,
        )
    }
    back = _plan(prospects, _config(), MONDAY, unlimited)
    assert all(r.computed.is_due(MONDAY) for r in back.rows)
    assert all(r.computed.due_by_rules is None for r in back.rows)


def test_the_cover_calls_with_their_own_limit_while_the_owner_is_away() -> None:
    team = {
        "anna": Owner(
            "Anna",
            "anna@example.com",
            country="NL",
            away_from=MONDAY,
            away_until=date(2026, 12, 8),
            cover="Bert",
        ),
        "bert": Owner("Bert", "bert@example.com", country="NL", calls_per_day=3),
    }
    prospects = [_late(n, date(2026, 12, 1)) for n in range(2, 12)]
    planned = _plan(prospects, _config(), MONDAY, team)
    by_day: dict[date, list[str]] = {}
    for r in planned.rows:
        assert r.computed.next_follow_up is not None
        day = max(r.computed.next_follow_up, MONDAY)
        by_day.setdefault(day, []).append(r.computed.assigned_to)
    # Bert covers on Monday and Tuesday, 3 a day; Anna, back on Wednesday without a limit,
    # takes the rest.
    assert by_day[MONDAY] == ["Bert"] * 3
    assert by_day[date(2026, 12, 8)] == ["Bert"] * 3
    assert by_day[date(2026, 12, 9)] == ["Anna"] * 4
    anna = [r.computed.why for r in planned.rows if r.computed.next_follow_up == date(2026, 12, 9)]
    assert all(
        why.startswith("Moved from Mon 7 Dec 2026 to Wed 9 Dec 2026: Bert's 3") for why in anna
    )
    assert not any("Bert covers" in why for why in anna)


def test_a_bad_calls_per_day_is_reported_and_the_team_default_used() -> None:
    headers = [vocab.OWNER_HEADERS["en"][name] for name in ("owner", "email", "calls_per_day")]
    table = Table(
        "Owners",
        [headers, ["Anna", "anna@example.com", "lots"], ["Bert", "bert@example.com", 7]],
    )
    owners, problems = schema.parse_owners(table)
    assert owners["anna"].calls_per_day is None and owners["bert"].calls_per_day == 7
    assert [p.ref for p in problems] == ["Owners!C2"]
    assert "[calendar] calls_per_day is used" in problems[0].message


def test_the_config_key_is_checked(tmp_path: Path) -> None:
    from sheetfollow.config import config_from_text
    from sheetfollow.errors import ConfigError

    config = config_from_text("[calendar]\ncalls_per_day = 12\n", source="x.toml", base=tmp_path)
    assert config.calendar.calls_per_day == 12
    with pytest.raises(ConfigError, match=r"calendar\.calls_per_day"):
        config_from_text("[calendar]\ncalls_per_day = -1\n", source="x.toml", base=tmp_path)


# --- Properties -------------------------------------------------------------------------------

COUNTRIES = ("NL", "DE", "ES", "GB", "")
NAMES = ("Anna", "Bert", "Cleo", "Dirk")
START = date(2026, 12, 14)


@st.composite
def teams(draw: st.DrawFn) -> dict[str, Owner]:
    size = draw(st.integers(1, len(NAMES)))
    team = {}
    for name in NAMES[:size]:
        leave = draw(st.booleans())
        begin = START + timedelta(days=draw(st.integers(-10, 20)))
        team[vocab.normalise(name)] = Owner(
            name,
            f"{name.lower()}@example.com",
            country=draw(st.sampled_from(COUNTRIES)),
            calls_per_day=draw(st.one_of(st.none(), st.integers(1, 4))),
            away_from=begin if leave else None,
            away_until=begin + timedelta(days=draw(st.integers(0, 12))) if leave else None,
            cover=draw(st.sampled_from(("", *NAMES[:size]))) if leave else "",
        )
    # What schema.parse_owners keeps: a cover that is someone else in the tab.
    for key, owner in list(team.items()):
        if owner.cover and (
            vocab.normalise(owner.cover) == key or vocab.normalise(owner.cover) not in team
        ):
            team[key] = replace(owner, cover="")
    return team


@st.composite
def pipelines(draw: st.DrawFn, names: tuple[str, ...]) -> list[Prospect]:
    rows = []
    for n in range(2, 2 + draw(st.integers(0, 30))):
        kind = draw(st.sampled_from(("lead", "tried", "promised", "interested")))
        owner = draw(st.sampled_from(names))
        created = START + timedelta(days=draw(st.integers(-25, 5)))
        value = float(draw(st.integers(0, 5)) * 1000)
        common = {"id": f"P-{n:04d}", "company": f"C{n % 7}", "owner": owner, "value": value}
        if kind == "lead":
            rows.append(Prospect(n, stage=Stage.NEW, created=created, **common))  # type: ignore[arg-type]
            continue
        last = created + timedelta(days=draw(st.integers(0, 10)))
        if kind == "tried":
            rows.append(
                Prospect(
                    n,
                    stage=Stage.CONTACTED,
                    created=created,
                    last_contact=last,
                    last_outcome=Outcome.NO_ANSWER,
                    attempts=draw(st.integers(1, 3)),
                    **common,  # type: ignore[arg-type]
                )
            )
        elif kind == "promised":
            rows.append(
                Prospect(
                    n,
                    stage=Stage.CONTACTED,
                    created=created,
                    last_contact=last,
                    last_outcome=Outcome.CALL_BACK,
                    follow_up_on=last + timedelta(days=draw(st.integers(1, 14))),
                    **common,  # type: ignore[arg-type]
                )
            )
        else:
            rows.append(
                Prospect(
                    n,
                    stage=Stage.INTERESTED,
                    created=created,
                    last_contact=last,
                    last_outcome=Outcome.INTERESTED,
                    **common,  # type: ignore[arg-type]
                )
            )
    return rows


@st.composite
def worlds(draw: st.DrawFn) -> tuple[dict[str, Owner], list[Prospect], int]:
    team = draw(teams())
    names = tuple(owner.name for owner in team.values())
    return team, draw(pipelines(names)), draw(st.integers(0, 3))


def _works(team: dict[str, Owner], config: Config, name: str, day: date) -> bool:
    owner = team.get(vocab.normalise(name))
    calendar = calendar_for(config.calendar, owner.country if owner else "")
    return calendar.is_working_day(day) and not (owner is not None and owner.away_on(day))


def _limit(team: dict[str, Owner], config: Config, name: str) -> int | None:
    owner = team.get(vocab.normalise(name))
    limit = owner.calls_per_day if owner is not None and owner.calls_per_day else None
    return limit or config.calendar.calls_per_day or None


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(worlds())
def test_properties_over_a_simulated_fortnight(
    world: tuple[dict[str, Owner], list[Prospect], int],
) -> None:
    team, prospects, default = world
    config = _config(default)
    for offset in range(14):
        today = START + timedelta(days=offset)
        rows = [
            compute_row(p, team.get(vocab.normalise(p.owner)), config, today, team)
            for p in prospects
        ]
        planned = capacity.plan(
            rows, today=today, calendar=config.calendar, rules=config.rules, owners=team
        )
        again = capacity.plan(
            list(reversed(rows)),
            today=today,
            calendar=config.calendar,
            rules=config.rules,
            owners=team,
        )
        # Deterministic: the same sheet and day give the same plan, whatever the row order.
        assert planned.rows == list(reversed(again.rows))
        assert planned.over == again.over
        # No row lost or doubled: every row is there once, each with one caller.
        assert [r.prospect.row for r in planned.rows] == [p.row for p in prospects]
        lists: Counter[str] = Counter()
        kept: Counter[str] = Counter()
        for before, after in zip(rows, planned.rows, strict=True):
            b, a = before.computed, after.computed
            if a.due_by_rules is None:
                assert a == b, "a call that is not moved is left as the rules made it"
            else:
                # Moved: only ever later, so the not-pushy gap holds; never a kept call; on
                # a working day of whoever calls it then; still due by the rules.
                assert b.next_follow_up is not None and a.next_follow_up is not None
                assert a.due_by_rules == b.next_follow_up
                assert a.next_follow_up > max(b.next_follow_up, today)
                assert not priority.promised(before)
                assert _works(team, config, a.assigned_to, a.next_follow_up)
                assert a.status not in (Status.DUE, Status.OVERDUE)
                assert capacity.was_due(after, today) == b.is_due(today)
                assert "calls a day were already planned" in a.why
            if a.is_due(today) and _works(team, config, a.assigned_to, today):
                lists[vocab.normalise(a.assigned_to)] += 1
                kept[vocab.normalise(a.assigned_to)] += priority.pinned(after, today)
        # Nobody's list today is longer than their limit, but for the kept calls (reported).
        for who, count in lists.items():
            limit = _limit(team, config, who)
            if limit is not None and count > limit:
                assert count - limit <= kept[who]
                assert any(
                    load.day == today
                    and vocab.normalise(load.caller) == who
                    and load.calls >= count
                    for load in planned.over
                )


# --- End to end -------------------------------------------------------------------------------


def _due(cli: Cli, config: Path, day: date, *more: str) -> list[dict[str, object]]:
    result = cli("due", "--config", config, "--today", day.isoformat(), "--json", *more)
    assert result.exit_code == 0, result.output
    found: list[dict[str, object]] = data_of(result.stdout)
    return found


def test_the_example_with_ten_calls_a_day_after_christmas_and_a_week_of_leave(
    cli: Cli, tmp_path: Path
) -> None:
    """Done when: with calls-per-day = 10 and 40 due after a holiday, Monday has 10 plus the
    promised ones and the rest is spread over the following days with a Why that says so;
    an owner with leave next week has their calls on the cover's list and back on their own
    list on return."""
    monday = date(2026, 12, 28)  # after Christmas (Fri 25 Dec) and the weekend
    sheet = tmp_path / "demo" / "pipeline.xlsx"
    assert cli("init", "--example", "--today", "2026-12-07", sheet).exit_code == 0
    config = sheet.parent / "sheetfollow.toml"
    before = [r for r in _due(cli, config, monday) if r["assigned_to"] == "Anna"]
    assert len(before) >= 30, "the example has a pile for Anna after Christmas"
    # Two call-backs promised for Monday, recorded the week before.
    promised = [str(r["id"]) for r in before if not str(r["why"]).startswith("Follow-up")][:2]
    for ident in promised:
        marked = cli(
            "mark", ident, "call back", "--on", monday.isoformat(), "--today", "2026-12-18",
            "--config", config,
        )  # fmt: skip
        assert marked.exit_code == 0, marked.output
    text = config.read_text(encoding="utf-8")
    assert "\ncalls_per_day = 0\n" in text, "the template documents the key"
    config.write_text(text.replace("\ncalls_per_day = 0\n", "\ncalls_per_day = 10\n"))
    refreshed = cli("refresh", "--config", config, "--today", monday.isoformat())
    assert refreshed.exit_code == 0, refreshed.output

    anna = _due(cli, config, monday, "--owner", "Anna")
    # The two promised today, and a call-back promised before Christmas and not made yet.
    kept = [r for r in anna if r["last_outcome"] == "call back"]
    assert set(promised) <= {r["id"] for r in kept} and len(kept) == 3
    assert len(anna) == 10 + len(kept)
    # The rest is in the sheet, spread over the following working days with its Why.
    workbook = load_workbook(sheet, read_only=True)
    tab = workbook["Prospects"]
    header = [cell for cell in next(tab.iter_rows(values_only=True))]
    rows = [
        dict(zip(header, values, strict=False))
        for values in tab.iter_rows(min_row=2, values_only=True)
    ]
    workbook.close()
    head = "Moved from Mon 28 Dec 2026"
    moved = [r for r in rows if r["Assigned to"] == "Anna" and str(r["Why"]).startswith(head)]
    assert len(moved) == len(before) - len(anna)
    assert all("Anna's 10 calls a day were already planned." in str(r["Why"]) for r in moved)
    # Waiting its planned day, a moved call does not shout overdue (a won or customer row
    # keeps its status).
    assert {r["Status"] for r in moved} <= {"scheduled", "won", "customer"}
    assert "scheduled" in {r["Status"] for r in moved}
    days = Counter(r["Next follow-up"].date() for r in moved)
    assert min(days) == date(2026, 12, 29) and max(days.values()) <= 10
    assert date(2027, 1, 1) not in days  # New Year's Day is nobody's working day in NL
    # `due` says so under the list.
    said = cli("due", "--config", config, "--today", monday.isoformat(), "--owner", "Anna")
    assert f"{len(moved)} calls due by now moved to Tue 29 Dec 2026" in said.output

    # Monday's email has the same 10 plus the promised ones, as its calendar file does, and
    # the report says the day is past the limit.
    outbox = tmp_path / "outbox"
    sent = cli("notify", "--config", config, "--outbox", outbox, "--today", monday.isoformat())
    assert sent.exit_code == 0, sent.output
    assert f"over the daily limit: Anna, Mon 28 Dec 2026: {len(anna)} of 10 calls" in sent.output
    mail = next(outbox.rglob("*anna*.eml")).read_text(encoding="utf-8", errors="replace")
    assert f"Subject: {len(anna)} opvolgingen vandaag" in mail  # Anna reads Dutch
    assert mail.count("BEGIN:VEVENT") == len(anna)

    # Jonas is away the week of 4 January; Mette covers.
    workbook = load_workbook(sheet)
    owners = workbook["Owners"]
    columns = {cell.value: cell.column for cell in owners[1]}
    for line in owners.iter_rows(min_row=2):
        if line[0].value == "Jonas":
            owners.cell(line[0].row, columns["Away from"], date(2027, 1, 4))
            owners.cell(line[0].row, columns["Away until"], date(2027, 1, 8))
            owners.cell(line[0].row, columns["Cover"], "Mette")
    workbook.save(sheet)
    away = date(2027, 1, 5)
    on_leave = _due(cli, config, away)
    covered = [r for r in on_leave if r["owner"] == "Jonas"]
    assert covered and all(r["assigned_to"] == "Mette" for r in covered)
    assert all(
        "Jonas is away until Fri 8 Jan 2027: Mette covers." in str(r["why"]) for r in covered
    )
    back = _due(cli, config, date(2027, 1, 11))
    jonas = [r for r in back if r["owner"] == "Jonas"]
    assert jonas and all(r["assigned_to"] == "Jonas" for r in jonas)
    # Back on his own list, at most his 10 a day but for the calls promised to someone.
    promises = [r for r in jonas if r["last_outcome"] == "call back" or "by hand" in str(r["why"])]
    assert len(jonas) <= 10 + len(promises)


def test_stats_and_the_digest_still_count_a_moved_call_as_due() -> None:
    from sheetfollow import digests, stats
    from sheetfollow.digests import Group, Since

    monday = date(2026, 12, 28)
    prospects = [_late(n, date(2026, 12, 24)) for n in range(2, 22)]
    prospects += [_late(n, monday) for n in range(30, 33)]
    config = _config(5)
    team = {"anna": Owner("Anna", "anna@example.com", country="NL")}
    rows = [compute_row(p, team["anna"], config, monday, team) for p in prospects]
    planned = capacity.plan(
        rows, today=monday, calendar=config.calendar, rules=config.rules, owners=team
    )
    assert planned.moved == 15
    for these in (rows, planned.rows):
        totals = stats.build([], these, today=monday, rules=config.rules).totals
        assert (totals.overdue, totals.due) == (20, 3)
        shown = digests.view(
            [Group("anna", "Anna", digests.TEAM)],
            these,
            [],
            today=monday,
            since=Since(monday - timedelta(days=1), None, first=False),
            config=config,
            owners=team,
        )
        assert (shown.owners[0].overdue, shown.owners[0].today) == (20, 3)
