"""`mark` on real workbooks: what a touch does to its row and to the Log, how WHO is found,
and that nothing else in the file changes.

Every expected date below is worked out by hand for TODAY (Wed 11 Mar 2026) with the default
rules and the Dutch calendar (no holidays in March 2026; Easter Monday is 6 April).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from conftest import (
    TODAY,
    Cell,
    Cli,
    Tab,
    file_state,
    header_text,
    openpyxl_rows,
    write_workbook,
)
from json_output import data_of, error_of
from openpyxl import load_workbook
from xlsx_fixtures import members, raw_cells, sheet_part

from sheetfollow import mark, service
from sheetfollow.config import load_config
from sheetfollow.errors import NoMatchError, UsageError
from sheetfollow.exit_codes import ExitCode
from sheetfollow.fields import OWNED_FIELDS
from sheetfollow.models import Outcome, Status

#: 14:30 UTC is 15:30 in Amsterdam (CET) on TODAY.
NOW = datetime(2026, 3, 11, 14, 30, tzinfo=timezone.utc)
WHEN = datetime(2026, 3, 11, 15, 30)

FIELDS: tuple[str, ...] = (
    "id",
    "company",
    "contact",
    "email",
    "owner",
    "stage",
    "created",
    "last_contact",
    "last_outcome",
    "attempts",
    "follow_up_on",
    "channel",
    "notes",
    "next_follow_up",
    "status",
    "step",
    "why",
    "assigned_to",
)
HEADERS = [header_text(name) for name in FIELDS]

#: Sheet row -> the row's cells by field.
ROWS: Mapping[int, Mapping[str, Cell]] = {
    # Two unanswered calls, the last on Monday.
    2: {
        "id": "P-0001",
        "company": "Acme B.V.",
        "contact": "Jan de Vries",
        "email": "jan@acme.example",
        "owner": "Anna",
        "stage": "contacted",
        "created": date(2026, 2, 2),
        "last_contact": date(2026, 3, 9),
        "last_outcome": "no answer",
        "attempts": 2,
        "notes": "[VIP] ask for Jan",
    },
    # A new lead from yesterday.
    3: {
        "id": "P-0002",
        "company": "Brick & Co",
        "contact": "Bert Brick",
        "email": "bert@brick.example",
        "owner": "Anna",
        "stage": "new",
        "created": date(2026, 3, 10),
    },
    4: {
        "id": "P-0003",
        "company": "Café Zürich",
        "contact": "Zoë Müller",
        "email": "zoe@cafe.example",
        "owner": "Bob",
        "stage": "contacted",
        "created": date(2026, 2, 2),
        "last_contact": date(2026, 3, 2),
        "last_outcome": "reached",
    },
    # Five unanswered attempts: dead. No ID yet.
    5: {
        "company": "Delta GmbH",
        "contact": "Dieter Delta",
        "owner": "Bob",
        "stage": "contacted",
        "created": date(2026, 1, 5),
        "last_contact": date(2026, 3, 2),
        "last_outcome": "no answer",
        "attempts": 5,
    },
    6: {
        "id": "P-0005",
        "company": "Delta Logistics",
        "contact": "Dora Dahl",
        "owner": "Bob",
        "stage": "new",
        "created": date(2026, 3, 9),
    },
    # The quote went out yesterday; Follow up on holds a date that is already used up.
    7: {
        "id": "P-0006",
        "company": "Echo Ltd",
        "contact": "Eve Echo",
        "owner": "Anna",
        "stage": "quote",
        "created": date(2026, 2, 2),
        "last_contact": date(2026, 3, 10),
        "last_outcome": "quote sent",
        "follow_up_on": date(2026, 3, 10),
    },
    # Asked to be called again on 1 April.
    8: {
        "id": "P-0007",
        "company": "Foxtrot AS",
        "contact": "Finn Fox",
        "owner": "Anna",
        "stage": "contacted",
        "created": date(2026, 2, 2),
        "last_contact": date(2026, 3, 5),
        "last_outcome": "reached",
        "follow_up_on": date(2026, 4, 1),
    },
    # Attempts is not a number: the row needs attention.
    9: {
        "id": "P-0008",
        "company": "Golf SA",
        "contact": "Gil Golf",
        "owner": "Anna",
        "stage": "contacted",
        "created": date(2026, 2, 2),
        "last_contact": date(2026, 3, 9),
        "last_outcome": "no answer",
        "attempts": "three",
    },
    # The same company twice.
    10: {
        "id": "P-0009",
        "company": "Hotel Oy",
        "contact": "Heikki Holm",
        "owner": "Bob",
        "stage": "lost",
        "created": date(2026, 1, 5),
        "last_contact": date(2026, 2, 2),
        "last_outcome": "lost",
    },
    11: {
        "id": "P-0010",
        "company": "Hotel Oy",
        "contact": "Hanna Holm",
        "owner": "Bob",
        "stage": "new",
        "created": date(2026, 3, 11),
    },
}
ACME = 2

OWNERS = Tab(
    "Owners",
    [
        ["Owner", "Email", "Country"],
        ["Anna", "anna@example.com", "NL"],
        ["Bob", "bob@example.com", "NL"],
    ],
)
LOG_HEADERS = ["When", "ID", "Company", "By", "Outcome", "Channel", "Note", "Next follow-up"]
LOG = Tab(
    "Log",
    [
        LOG_HEADERS,
        [datetime(2026, 3, 2, 10, 0), "P-0003", "Café Zürich", "Bob", "reached", "phone", "", None],
        [datetime(2026, 3, 9, 9, 15), "P-0001", "Acme B.V.", "Anna", "no answer", "", "", None],
    ],
)
#: A tab of the team's own, which mark must leave alone.
NOTES = Tab("Notes", [["Targets"], ["Q1", 40], [datetime(2026, 1, 1), "kick-off"]])

CONFIG = """\
sheet = "pipeline.xlsx"
timezone = "Europe/Amsterdam"
language = "en"

[calendar]
country = "NL"
"""


def prospects(rows: Mapping[int, Mapping[str, Cell]] = ROWS, fields: Sequence[str] = FIELDS) -> Tab:
    grid: list[list[Cell]] = [[header_text(name) for name in fields]]
    for number in sorted(rows):
        grid.append([rows[number].get(name) for name in fields])
    return Tab("Prospects", grid)


def workbook(folder: Path, *tabs: Tab, config: str = CONFIG) -> Path:
    """A workbook of `tabs` (default: Prospects, Owners, Log, Notes) and its config."""
    chosen = tabs or (prospects(), OWNERS, LOG, NOTES)
    path = write_workbook(folder / "pipeline.xlsx", *chosen)
    (folder / "sheetfollow.toml").write_text(config, encoding="utf-8")
    return path


@pytest.fixture
def book(tmp_path: Path) -> Path:
    return workbook(tmp_path)


def run(path: Path, who: str, outcome: str, **options: Any) -> mark.MarkResult:
    config = load_config(path.parent / "sheetfollow.toml")
    backend = service.open_backend(None, config)
    request = mark.MarkRequest(who, outcome, **options)
    return mark.mark(backend, config, TODAY, request, now=NOW)


def sheet_row(path: Path, number: int, tab: str = "Prospects") -> dict[str, Any]:
    """Row `number` of a tab as {header: value}, read by openpyxl (dates as datetimes)."""
    rows = openpyxl_rows(path, tab)
    return dict(zip([str(h) for h in rows[0]], rows[number - 1], strict=False))


def log_rows(path: Path, tab: str = "Log") -> list[dict[str, Any]]:
    rows = openpyxl_rows(path, tab)
    return [dict(zip([str(h) for h in rows[0]], row, strict=False)) for row in rows[1:]]


def midnight(day: date | None) -> datetime | None:
    """How openpyxl reads a date cell."""
    return datetime(day.year, day.month, day.day) if day else None


# --- What each outcome does ----------------------------------------------------------------


#: Acme after one touch today: (Stage, Attempts, Follow up on, Next follow-up, Status, Step).
EFFECTS: Mapping[str, tuple[str, int, date | None, date | None, str, str]] = {
    # The fourth attempt: gap 7 business days (never under min_gap 5 after two attempts).
    "no answer": ("contacted", 3, None, date(2026, 3, 20), "scheduled", "4 of 5"),
    "voicemail": ("contacted", 3, None, date(2026, 3, 20), "scheduled", "4 of 5"),
    # Talked: the count starts again; next touch 5 business days later.
    "reached": ("contacted", 0, None, date(2026, 3, 18), "scheduled", "1 of 5"),
    # Interested: the quote goes out the same day.
    "interested": ("Interested", 0, None, date(2026, 3, 11), "due", "1 of 5"),
    "call back": ("contacted", 0, date(2026, 3, 25), date(2026, 3, 25), "snoozed", "1 of 5"),
    "quote sent": ("Quote", 0, None, date(2026, 3, 16), "scheduled", "1 of 5"),
    "not interested": ("Not interested", 2, None, None, "not interested", ""),
    "won": ("Won", 2, None, date(2026, 3, 12), "won", "thank-you"),
    "delivered": ("Delivered", 2, None, date(2026, 3, 18), "customer", "check-in"),
    "lost": ("Lost", 2, None, None, "lost", ""),
}
#: The words written into Last outcome (config language en).
WRITTEN = {o.value: o.value.capitalize() for o in Outcome}


@pytest.mark.parametrize("outcome", list(EFFECTS))
def test_each_outcome_updates_the_row_and_appends_to_the_log(book: Path, outcome: str) -> None:
    stage, attempts, follow_up, next_day, status, step = EFFECTS[outcome]
    within = "2w" if outcome == "call back" else None
    result = run(book, "P-0001", outcome, within=within, note="spoke to reception")
    row = sheet_row(book, ACME)
    assert row["Last contact"] == midnight(TODAY)
    assert row["Last outcome"] == WRITTEN[outcome]
    assert row["Attempts"] == attempts
    assert row["Stage"] == stage
    assert row["Follow up on"] == midnight(follow_up)
    assert row["Next follow-up"] == midnight(next_day)
    assert (row["Status"], row["Step"] or "", row["Assigned to"]) == (status, step, "Anna")
    assert row["Why"] == result.row.computed.why and row["Why"]
    # Cells mark does not own keep what the person typed.
    assert (row["Notes"], row["Email"], row["Created"]) == (
        "[VIP] ask for Jan",
        "jan@acme.example",
        datetime(2026, 2, 2),
    )
    *earlier, added = log_rows(book)
    assert [e["ID"] for e in earlier] == ["P-0003", "P-0001"]
    assert added == {
        "When": WHEN,
        "ID": "P-0001",
        "Company": "Acme B.V.",
        "By": "Anna",
        "Outcome": outcome,
        "Channel": None,
        "Note": "spoke to reception",
        "Next follow-up": midnight(next_day),
    }


@pytest.mark.parametrize("outcome", list(EFFECTS))
def test_only_the_prospects_and_log_sheets_change(book: Path, outcome: str) -> None:
    before = members(book)
    prospects_part, log_part = sheet_part(book, "Prospects"), sheet_part(book, "Log")
    run(book, "acme", outcome, within="2w" if outcome == "call back" else None)
    after = members(book)
    # One part is added: the hidden tab with the touch snapshot (and the package lists
    # that name it).
    assert list(after)[: len(before)] == list(before)
    added = [name for name in after if name not in before]
    assert added == [sheet_part(book, "sheetfollow_touches")]
    package = {"xl/workbook.xml", "xl/_rels/workbook.xml.rels", "[Content_Types].xml"}
    changed = {name for name in before if after[name] != before[name]}
    assert changed - package == {prospects_part, log_part}
    assert openpyxl.load_workbook(book)["sheetfollow_touches"].sheet_state == "hidden"
    # In the Prospects sheet only the marked row changes, and only in the columns mark
    # writes to.
    old, new = raw_cells(before[prospects_part]), raw_cells(after[prospects_part])
    differ = {key for key in old.keys() | new.keys() if old.get(key) != new.get(key)}
    touched = {"last_contact", "last_outcome", "attempts", "stage", "follow_up_on"}
    allowed = {FIELDS.index(name) + 1 for name in touched | set(OWNED_FIELDS)}
    assert differ
    assert {row for row, _ in differ} == {ACME}
    assert {column for _, column in differ} <= allowed
    # Earlier Log rows are untouched; one row is added at the end.
    old_log, new_log = raw_cells(before[log_part]), raw_cells(after[log_part])
    assert {key: new_log[key] for key in old_log} == old_log
    assert {row for row, _ in new_log.keys() - old_log.keys()} == {4}


def test_two_unanswered_calls_on_one_day_count_twice(book: Path) -> None:
    run(book, "P-0001", "no-answer")
    result = run(book, "P-0001", "voicemail", channel="phone")
    assert sheet_row(book, ACME)["Attempts"] == 4
    assert sheet_row(book, ACME)["Channel"] == "Phone"
    assert result.attempt == 4
    assert [e["Outcome"] for e in log_rows(book)[2:]] == ["no answer", "voicemail"]
    assert log_rows(book)[3]["Channel"] == "phone"


def test_the_summary_says_what_was_recorded_and_what_comes_next(book: Path) -> None:
    result = run(book, "P-0001", "no answer")
    assert result.summary() == (
        "Acme B.V. (P-0001): no answer recorded for Wed 11 Mar 2026 — attempt 3 of 5; "
        "next follow-up Fri 20 Mar 2026: Attempt 4 on Fri 20 Mar 2026: "
        "7 business days after the no answer on Wed 11 Mar 2026."
    )
    lost = run(book, "P-0006", "lost")
    assert lost.summary() == (
        "Echo Ltd (P-0006): lost recorded for Wed 11 Mar 2026; "
        "no follow-up: Lost on Wed 11 Mar 2026; no revisit date set."
    )


def test_a_first_call_makes_a_new_lead_contacted(book: Path) -> None:
    result = run(book, "Brick & Co", "no answer")
    row = sheet_row(book, 3)
    assert (row["Stage"], row["Attempts"], row["Last outcome"]) == ("Contacted", 1, "No answer")
    # The second gap of the cadence: 2 business days.
    assert row["Next follow-up"] == datetime(2026, 3, 13)
    assert result.attempt == 1


def test_a_stage_never_moves_back(book: Path) -> None:
    # Echo is at quote: interested and reached leave it there.
    run(book, "P-0006", "interested")
    assert sheet_row(book, 7)["Stage"] == "quote"
    run(book, "P-0006", "reached")
    assert sheet_row(book, 7)["Stage"] == "quote"


def test_a_lost_prospect_reached_again_is_back_in_play(book: Path) -> None:
    run(book, "Heikki Holm", "no answer")
    row = sheet_row(book, 10)
    assert (row["Stage"], row["Status"]) == ("lost", "lost")  # nobody got through
    run(book, "Heikki Holm", "interested")
    row = sheet_row(book, 10)
    assert (row["Stage"], row["Status"]) == ("Interested", "due")


def test_reaching_a_dead_prospect_revives_it_and_fills_its_id(book: Path) -> None:
    config = load_config(book.parent / "sheetfollow.toml")
    pipeline = service.load(service.open_backend(None, config), config, TODAY)
    [delta] = [r for r in pipeline.rows if r.prospect.company == "Delta GmbH"]
    assert delta.computed.status is Status.DEAD
    result = run(book, "Dieter Delta", "reached")
    row = sheet_row(book, 5)
    assert (row["ID"], row["Attempts"], row["Status"]) == ("P-0011", 0, "scheduled")
    assert row["Next follow-up"] == datetime(2026, 3, 18)
    assert result.id_filled
    assert log_rows(book)[-1]["ID"] == "P-0011"


def test_a_used_up_follow_up_date_is_cleared_and_a_later_one_kept(book: Path) -> None:
    run(book, "Echo Ltd", "reached")
    assert sheet_row(book, 7)["Follow up on"] is None
    run(book, "Foxtrot", "no answer")
    row = sheet_row(book, 8)
    assert row["Follow up on"] == datetime(2026, 4, 1)
    assert (row["Status"], row["Next follow-up"]) == ("snoozed", datetime(2026, 4, 1))


def test_a_row_that_needs_attention_is_still_recorded(book: Path) -> None:
    result = run(book, "Golf SA", "no answer")
    row = sheet_row(book, 9)
    assert (row["Last contact"], row["Last outcome"]) == (midnight(TODAY), "No answer")
    assert row["Attempts"] == "three"  # a person's cell that cannot be counted stays
    assert row["Status"] == "needs attention"
    assert result.needs_attention
    assert result.attempt is None
    assert "the row needs attention: Check Prospects!J9: 'three'" in result.summary()
    added = log_rows(book)[-1]
    assert (added["ID"], added["Outcome"], added["Next follow-up"]) == ("P-0008", "no answer", None)


def test_by_is_who_made_the_touch(book: Path) -> None:
    run(book, "P-0001", "reached", by="Sam")
    assert log_rows(book)[-1]["By"] == "Sam"


def test_json_gives_the_row_and_the_log_entry(book: Path) -> None:
    result = run(book, "P-0001", "call back", on="2026-03-31", channel="email", note="after fair")
    found = json.loads(json.dumps(result.as_dict(TODAY)))
    assert found["row"]["id"] == "P-0001"
    assert found["row"]["status"] == "snoozed"
    assert found["row"]["next_follow_up"] == "2026-03-31"
    assert found["log"] == {
        "when": "2026-03-11T15:30:00+01:00",
        "id": "P-0001",
        "company": "Acme B.V.",
        "by": "Anna",
        "outcome": "call back",
        "channel": "email",
        "note": "after fair",
        "next_follow_up": "2026-03-31",
    }


# --- Dates ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "follow_up", "next_day"),
    [
        ({"on": "2026-03-31"}, date(2026, 3, 31), date(2026, 3, 31)),
        ({"on": "31-03-2026"}, date(2026, 3, 31), date(2026, 3, 31)),
        # A Saturday: the follow-up rolls to Monday.
        ({"within": "10d"}, date(2026, 3, 21), date(2026, 3, 23)),
        ({"within": "2w"}, date(2026, 3, 25), date(2026, 3, 25)),
        # 11 April is a Saturday.
        ({"within": "1m"}, date(2026, 4, 11), date(2026, 4, 13)),
        ({"within": "3 months"}, date(2026, 6, 11), date(2026, 6, 11)),
    ],
)
def test_on_and_in_set_follow_up_on(
    book: Path, options: dict[str, str], follow_up: date, next_day: date
) -> None:
    run(book, "P-0001", "call-back", **options)
    row = sheet_row(book, ACME)
    assert row["Follow up on"] == midnight(follow_up)
    assert row["Next follow-up"] == midnight(next_day)
    assert row["Status"] == "snoozed"


def test_in_months_keeps_to_the_end_of_a_short_month() -> None:
    assert mark.add_delay(date(2026, 1, 31), "1m") == date(2026, 2, 28)
    assert mark.add_delay(date(2026, 12, 15), "2m") == date(2027, 2, 15)


def test_date_records_a_touch_made_earlier(book: Path) -> None:
    result = run(book, "P-0001", "no answer", day="10-03-2026")
    row = sheet_row(book, ACME)
    assert row["Last contact"] == datetime(2026, 3, 10)
    # 7 business days after Tue 10 Mar.
    assert row["Next follow-up"] == datetime(2026, 3, 19)
    assert log_rows(book)[-1]["When"] == datetime(2026, 3, 10, 15, 30)
    assert result.touch.day == date(2026, 3, 10)


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"outcome": "call back"}, "call back needs a date"),
        ({"day": "2026-03-12"}, "is in the future"),
        ({"day": "2026-03-06"}, "before the last contact (Prospects!H2 is 2026-03-09)"),
        ({"day": "someday"}, "--date 'someday' is not a date"),
        ({"on": "2026-03-11"}, "not after the touch"),
        ({"on": "2026-03-31", "within": "2w"}, "not both"),
        ({"within": "soon"}, "not a delay like 3d, 2w or 3m"),
        ({"within": "0d"}, "not after the touch"),
        ({"outcome": "maybe"}, "'maybe' is not an outcome; use one of reached, no-answer"),
        ({"channel": "pigeon"}, "not a channel; use one of phone, email, visit"),
        ({"who": "  "}, "WHO is empty"),
    ],
)
def test_a_wrong_request_is_refused_and_nothing_changes(
    book: Path, options: dict[str, str], words: str
) -> None:
    before = file_state(book)
    request = {"who": "P-0001", "outcome": "reached", **options}
    with pytest.raises(UsageError) as raised:
        run(book, request.pop("who"), request.pop("outcome"), **request)
    assert words in str(raised.value)
    assert file_state(book) == before
    assert not (book.parent / ".sheetfollow").exists()


# --- Finding the prospect ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "row"),
    [
        ("P-0003", 4),
        ("p-0003", 4),
        ("JAN@ACME.EXAMPLE", 2),
        ("Brick & Co", 3),
        ("cafe zurich", 4),
        ("CAFÉ ZÜRICH", 4),
        ("zoe muller", 4),
        ("Jan de Vries", 2),
        ("Brick", 3),  # a unique beginning
        ("Logistics", 6),  # a unique part
        ("Acmee", 2),  # a typo
        ("Jan de Vris", 2),
        ("Zoe Muler", 4),
    ],
)
def test_who_finds_one_prospect(book: Path, who: str, row: int) -> None:
    result = run(book, who, "reached")
    assert result.row.prospect.row == row
    assert sheet_row(book, row)["Last contact"] == midnight(TODAY)


@pytest.mark.parametrize(
    ("who", "listed"),
    [
        ("Delta", ["row 5", "P-0005"]),  # two companies begin with it
        ("Hotel Oy", ["P-0009", "P-0010"]),  # one company, two rows
        ("hotell", ["P-0009", "P-0010"]),  # a typo close to both
    ],
)
def test_several_matches_list_the_candidates_and_change_nothing(
    book: Path, who: str, listed: list[str]
) -> None:
    before = file_state(book)
    with pytest.raises(NoMatchError) as raised:
        run(book, who, "reached")
    error = raised.value
    assert error.exit_code is ExitCode.NO_MATCH
    assert f"2 prospects match {who!r}" in error.message
    assert [line.split()[0:2] for line in error.candidates] == [
        cells.split()[0:2] for cells in listed_lines(listed)
    ]
    assert file_state(book) == before
    assert not (book.parent / ".sheetfollow").exists()


def listed_lines(ids: list[str]) -> list[str]:
    """The first words of a candidate line: its ID (or row) and the start of the company."""
    company = {
        "row 5": "row 5",
        "P-0005": "P-0005 Delta",
        "P-0009": "P-0009 Hotel",
        "P-0010": "P-0010 Hotel",
    }
    return [company[i] for i in ids]


def test_candidates_show_company_contact_owner_and_status(book: Path) -> None:
    with pytest.raises(NoMatchError) as raised:
        run(book, "Hotel Oy", "reached")
    first, second = raised.value.candidates
    assert first.split() == ["P-0009", "Hotel", "Oy", "Heikki", "Holm", "Bob", "lost"]
    assert second.split() == ["P-0010", "Hotel", "Oy", "Hanna", "Holm", "Bob", "new"]
    # Aligned in columns.
    assert first.index("Heikki") == second.index("Hanna")


def test_no_match_changes_nothing(book: Path) -> None:
    before = file_state(book)
    with pytest.raises(NoMatchError) as raised:
        run(book, "Zyxwv Corp", "reached")
    assert "no prospect matches 'Zyxwv Corp'" in raised.value.message
    assert raised.value.candidates == ()
    with pytest.raises(NoMatchError):
        run(book, "nobody@acme.example", "reached")
    with pytest.raises(NoMatchError):
        run(book, "P-0099", "reached")
    assert file_state(book) == before


def test_a_near_miss_suggests_the_close_ones(book: Path) -> None:
    with pytest.raises(NoMatchError) as raised:
        run(book, "Ecko Ldt", "reached")
    assert "did you mean" in raised.value.message
    assert raised.value.candidates[0].split()[:3] == ["P-0006", "Echo", "Ltd"]


# --- The Log tab ---------------------------------------------------------------------------


def test_a_missing_log_is_created_with_its_headers(tmp_path: Path) -> None:
    path = workbook(tmp_path, prospects(), OWNERS, NOTES)
    before = members(path)
    run(path, "P-0001", "no answer")
    rows = openpyxl_rows(path, "Log")
    assert rows[0] == LOG_HEADERS
    assert rows[1][:5] == [WHEN, "P-0001", "Acme B.V.", "Anna", "no answer"]
    after = members(path)
    # The other tabs are as they were.
    for tab in ("Owners", "Notes"):
        part = sheet_part(path, tab)
        assert after[part] == before[part]


def test_a_log_that_is_an_excel_table_grows_by_the_new_row(tmp_path: Path) -> None:
    history = Tab("Log", LOG.rows, table_header=1)
    path = workbook(tmp_path, prospects(), OWNERS, history)
    before = raw_cells(members(path)[sheet_part(path, "Log")])
    run(path, "P-0001", "voicemail")
    after = raw_cells(members(path)[sheet_part(path, "Log")])
    assert {key: after[key] for key in before} == before
    loaded = load_workbook(path)
    try:
        [table] = loaded["Log"].tables.values()
        assert table.ref == "A1:H4"
    finally:
        loaded.close()
    assert log_rows(path)[-1]["Outcome"] == "voicemail"


# --- Columns and languages -----------------------------------------------------------------


def test_missing_columns_are_added_as_refresh_adds_them(tmp_path: Path) -> None:
    fields = ("company", "owner", "created")
    path = workbook(tmp_path, prospects({2: ROWS[2]}, fields), OWNERS)
    result = run(path, "Acme", "call back", within="2w")
    rows = openpyxl_rows(path)
    added = [
        "Last contact", "Last outcome", "Attempts", "Follow up on", "ID",
        "Next follow-up", "Status", "Step", "Why", "Assigned to",
    ]  # fmt: skip
    assert rows[0] == ["Company", "Owner", "Created", *added]
    assert rows[1][:9] == [
        "Acme B.V.", "Anna", datetime(2026, 2, 2), midnight(TODAY), "Call back", 0,
        datetime(2026, 3, 25), "P-0001", datetime(2026, 3, 25),
    ]  # fmt: skip
    assert rows[1][9] == "snoozed"
    assert result.columns_added == tuple(added)


DUTCH = """\
sheet = "pipeline.xlsx"
timezone = "Europe/Amsterdam"
language = "nl"

[tabs]
log = "Logboek"
owners = "Eigenaren"

[calendar]
country = "NL"
"""


def test_a_dutch_sheet_gets_dutch_words(tmp_path: Path) -> None:
    fields = ("id", "company", "owner", "stage", "created", "last_contact", "last_outcome")
    grid = [
        [header_text(name, "nl") for name in fields],
        ["P-0001", "Acme B.V.", "Anna", "Nieuw", date(2026, 3, 10), None, None],
    ]
    owners = Tab("Eigenaren", [["Eigenaar", "E-mail"], ["Anna", "anna@example.com"]])
    path = workbook(tmp_path, Tab("Prospects", grid), owners, config=DUTCH)
    run(path, "acme", "geen gehoor", channel="telefoon")
    rows = openpyxl_rows(path)
    cells = dict(zip(rows[0], rows[1], strict=True))
    assert cells["Fase"] == "Gecontacteerd"
    assert cells["Laatste resultaat"] == "Geen gehoor"
    assert cells["Pogingen"] == 1
    assert cells["Kanaal"] == "Telefoon"
    logged = openpyxl_rows(path, "Logboek")
    assert logged[0][0] == "Wanneer"
    # The Log speaks the team's language too (it read English words before).
    assert logged[1][4:6] == ["Geen gehoor", "Telefoon"]


@pytest.mark.parametrize(
    ("word", "outcome"),
    [
        ("no-answer", Outcome.NO_ANSWER),
        ("geen gehoor", Outcome.NO_ANSWER),
        ("nicht erreicht", Outcome.NO_ANSWER),
        ("ikke truffet", Outcome.NO_ANSWER),
        ("no contesta", Outcome.NO_ANSWER),
        ("Buzón de voz", Outcome.VOICEMAIL),
        ("Rückruf", Outcome.CALL_BACK),
        ("offerte verstuurd", Outcome.QUOTE_SENT),
        ("not-interested", Outcome.NOT_INTERESTED),
        ("Vundet", Outcome.WON),
    ],
)
def test_outcome_words_of_every_language(book: Path, word: str, outcome: Outcome) -> None:
    within = "2w" if outcome is Outcome.CALL_BACK else None
    result = run(book, "P-0001", word, within=within)
    assert result.touch.outcome is outcome
    # The sheet's language is English: the English word is written.
    assert sheet_row(book, ACME)["Last outcome"] == WRITTEN[outcome.value]
    assert log_rows(book)[-1]["Outcome"] == outcome.value


# --- The command line ----------------------------------------------------------------------


def test_the_command_records_the_touch_and_prints_one_line(cli: Cli, book: Path) -> None:
    config = book.parent / "sheetfollow.toml"
    result = cli("mark", "Acmee", "no-answer", "--config", config, "--today", TODAY.isoformat())
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "Acme B.V. (P-0001): no answer recorded for Wed 11 Mar 2026 — attempt 3 of 5; "
        "next follow-up Fri 20 Mar 2026: Attempt 4 on Fri 20 Mar 2026: "
        "7 business days after the no answer on Wed 11 Mar 2026."
    ]
    assert sheet_row(book, ACME)["Attempts"] == 3
    assert log_rows(book)[-1]["When"].date() == TODAY


def test_the_command_json(cli: Cli, book: Path) -> None:
    config = book.parent / "sheetfollow.toml"
    result = cli(
        "--config", config, "--today", "2026-03-11", "mark", "P-0002", "interested", "--json"
    )
    assert result.exit_code == 0, result.output
    found = data_of(result.stdout)
    assert (found["row"]["company"], found["row"]["status"]) == ("Brick & Co", "due")
    assert found["log"]["outcome"] == "interested"


def test_the_command_lists_candidates_and_exits_9(cli: Cli, book: Path) -> None:
    before = file_state(book)
    config = book.parent / "sheetfollow.toml"
    result = cli("mark", "Hotel Oy", "reached", "--config", config, "--today", "2026-03-11")
    assert result.exit_code == ExitCode.NO_MATCH
    first, *candidates = result.stderr.splitlines()
    assert first.startswith("error: 2 prospects match 'Hotel Oy'")
    assert [line.split()[0] for line in candidates] == ["P-0009", "P-0010"]
    assert result.stdout == ""
    assert file_state(book) == before


def test_the_command_refuses_call_back_without_a_date(cli: Cli, book: Path) -> None:
    before = file_state(book)
    config = book.parent / "sheetfollow.toml"
    result = cli("mark", "P-0001", "call back", "--config", config, "--today", "2026-03-11")
    assert result.exit_code == ExitCode.USAGE
    assert "call back needs a date" in result.stderr
    assert file_state(book) == before


@pytest.mark.parametrize("outcome", list(EFFECTS))
def test_the_marked_row_is_computed_as_refresh_computes_it(book: Path, outcome: str) -> None:
    run(book, "P-0001", outcome, within="2w" if outcome == "call back" else None)
    config = load_config(book.parent / "sheetfollow.toml")
    pipeline = service.load(service.open_backend(None, config), config, TODAY)
    changes, _ = service.plan_refresh(pipeline, config)
    # Refresh would fill the other rows' empty columns, but finds nothing to change in Acme's.
    assert {cell.row for cell in changes.cells} == set(ROWS) - {ACME}


def test_the_command_json_lists_the_candidates_too(cli: Cli, book: Path) -> None:
    config = book.parent / "sheetfollow.toml"
    result = cli("mark", "Delta", "reached", "--json", "--config", config, "--today", "2026-03-11")
    assert result.exit_code == ExitCode.NO_MATCH
    found = error_of(result.stdout)
    assert (found["code"], found["kind"]) == (ExitCode.NO_MATCH, "no_match")
    assert found["message"].startswith("2 prospects match 'Delta'")
    assert [line.split()[:2] for line in found["candidates"]] == [
        ["row", "5"],
        ["P-0005", "Delta"],
    ]
