"""The same behaviour on both backends: the team's pipeline put into an .xlsx workbook and
into the fake Google Sheets server, then the day's commands through the command line.

Every command must give the same answer on both, and leave the same values in the sheet:
the Prospects tab with its owned columns, the Log, and the hidden run-state tab.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from backends.test_gsheets import KEY, team_config, team_tabs
from conftest import TEAM_EXPECTED, TEAM_ROWS, TODAY, Cli, Layout, calamine_rows, write_team
from fakes.sheets_server import FakeSheets, SheetDate
from json_output import data_of

from sheetfollow.backends.gsheets import ENDPOINT_ENV, sheet_url
from sheetfollow.exit_codes import ExitCode

BACKENDS = ("xlsx", "gsheets")
LEADS = Path(__file__).parent / "data" / "import" / "leads.csv"
EPOCH = date(1899, 12, 30)
#: Columns that hold a moment rather than a day: compared by their day (they hold the clock
#: time of the run, and an Excel file keeps a formula's result where Google keeps the formula).
MOMENTS = {"When", "At"}
NOT_COMPARED = {"Region"}


@dataclass
class Team:
    """The team's sheet on one backend, and how to read a tab of it back."""

    kind: str
    folder: Path
    config: Path
    label: str
    env: dict[str, str]
    tab: Callable[[str], list[list[Any]]]


@pytest.fixture(params=BACKENDS)
def team(request: pytest.FixtureRequest, tmp_path: Path, sheets_server: FakeSheets) -> Team:
    return make_team(request.param, tmp_path / request.param, sheets_server)


def make_team(kind: str, folder: Path, fake: FakeSheets, layout: Layout | None = None) -> Team:
    folder.mkdir(parents=True)
    if kind == "xlsx":
        workbook = write_team(folder, layout)
        return Team(
            kind,
            folder,
            folder / "sheetfollow.toml",
            str(workbook),
            {},
            lambda tab: calamine_rows(workbook, tab),
        )
    fake.add_spreadsheet(KEY, "Team", team_tabs(layout))
    key_file = fake.write_key_file(folder / "google-key.json")
    return Team(
        kind,
        folder,
        team_config(folder, key_file),
        f"{sheet_url(KEY)}/edit",  # as the config names it
        {ENDPOINT_ENV: fake.url},
        lambda tab: fake.tab(KEY, tab),
    )


def run(cli: Cli, team: Team, *args: str | Path, code: int = ExitCode.OK) -> Any:
    """A command with --json for TODAY on the team's sheet; its JSON, made comparable."""
    result = cli(
        *args, "--json", "--today", TODAY.isoformat(), "--config", team.config, env=team.env
    )
    assert result.exit_code == code, result.output
    return same_words(data_of(result.stdout), team)


def same_words(value: Any, team: Team) -> Any:
    """The sheet's name and the team's folder in words, so both backends can be compared."""
    if isinstance(value, dict):
        return {k: same_words(v, team) for k, v in value.items() if k != "google"}
    if isinstance(value, list):
        return [same_words(v, team) for v in value]
    if isinstance(value, str):
        return value.replace(team.label, "<sheet>").replace(str(team.folder), "<folder>")
    return value


def cells(team: Team, tab: str) -> list[dict[str, Any]]:
    """A tab's rows below its header as {header: value}: numbers as floats, dates as days,
    the team's folder in words."""
    rows = team.tab(tab)
    header = [str(h) for h in rows[0]]
    records = []
    for row in rows[1:]:
        record = {
            name: same_words(_comparable(name, value), team)
            for name, value in zip(header, row, strict=False)
            if name not in NOT_COMPARED
        }
        if any(v is not None for v in record.values()):
            records.append({name: record.get(name) for name in header if name not in NOT_COMPARED})
    return records


def _comparable(name: str, value: Any) -> Any:
    if isinstance(value, SheetDate):
        return value.day
    if isinstance(value, datetime):
        return value.date() if name in MOMENTS or not value.time() else value
    if isinstance(value, bool) or value is None or isinstance(value, (str, date)):
        return value
    if isinstance(value, (int, float)) and name in MOMENTS:
        return EPOCH + timedelta(days=int(value))
    return float(value)


# --- Each backend on its own ------------------------------------------------------------------


def test_refresh_writes_the_owned_columns_a_person_works_out(cli: Cli, team: Team) -> None:
    summary = run(cli, team, "refresh")
    assert summary["sheet"] == "<sheet>"
    # 10 rows x 5 owned cells, less 3 empty Next follow-ups and 2 empty Steps; 2 new IDs.
    assert (summary["rows"], summary["ids_filled"], summary["cells_changed"]) == (10, 2, 47)
    for record in cells(team, "Prospects"):
        expected = TEAM_EXPECTED[record["Company"]]
        got = (record["Next follow-up"], record["Status"], record["Step"] or "")
        assert got == (expected.next_follow_up, expected.status, expected.step)
        assert record["Assigned to"] == expected.assigned_to
        assert re.fullmatch(r"P-\d{4}", record["ID"])
    # Nothing changed since: a second refresh writes nothing.
    assert run(cli, team, "refresh")["cells_changed"] == 0


def test_mark_updates_the_row_and_appends_to_the_log(cli: Cli, team: Team) -> None:
    run(cli, team, "refresh")
    marked = run(cli, team, "mark", "P-0003", "no-answer", "--note", "rang twice")
    assert marked["row"]["attempts"] == 2
    row = next(r for r in cells(team, "Prospects") if r["ID"] == "P-0003")
    assert (row["Last contact"], row["Last outcome"], row["Attempts"]) == (TODAY, "No answer", 2.0)
    [entry] = cells(team, "Log")
    assert (entry["When"], entry["ID"], entry["Outcome"], entry["Note"]) == (
        TODAY,
        "P-0003",
        "no answer",
        "rang twice",
    )


def test_notify_writes_each_email_once_and_records_it_in_the_hidden_tab(
    cli: Cli, team: Team
) -> None:
    outbox = team.folder / "outbox"
    report = run(cli, team, "notify", "--outbox", outbox)
    assert report["counts"] == {"written": len(report["emails"])}
    assert len(list(outbox.glob("*.eml"))) == len(report["emails"])
    state = cells(team, "sheetfollow_state")
    assert [(r["Day"], r["Key"], r["Status"]) for r in state] == [
        (TODAY, e["key"], "written") for e in report["emails"]
    ]
    again = run(cli, team, "notify", "--outbox", outbox)
    assert {e["status"] for e in again["emails"]} == {"skipped"}
    assert len(cells(team, "sheetfollow_state")) == len(state)


# --- Both backends, side by side ----------------------------------------------------------------


@dataclass
class Day:
    """What a day of commands answered, and what it left in the sheet."""

    answers: dict[str, Any]
    tabs: dict[str, list[dict[str, Any]]]


def a_day(cli: Cli, team: Team) -> Day:
    outbox = team.folder / "outbox"
    answers = {
        "refresh": run(cli, team, "refresh"),
        "due": run(cli, team, "due"),
        "check": run(cli, team, "check", code=ExitCode.PROBLEMS),
        "mark": run(cli, team, "mark", "Brick & Co", "call-back", "--in", "2w", "--note", "x"),
        "import": run(cli, team, "import", LEADS),
        "due after": run(cli, team, "due"),
        "stats": run(cli, team, "stats"),
        "notify": run(cli, team, "notify", "--outbox", outbox),
        "refresh again": run(cli, team, "refresh"),
    }
    answers["mark"]["log"].pop("when")  # the clock time of the run
    tabs = {tab: cells(team, tab) for tab in ("Prospects", "Log", "sheetfollow_state")}
    return Day(answers, tabs)


def test_both_answer_every_command_alike_and_leave_the_same_values(
    tmp_path: Path, sheets_server: FakeSheets, cli: Cli
) -> None:
    days = {kind: a_day(cli, make_team(kind, tmp_path / kind, sheets_server)) for kind in BACKENDS}
    excel, google = days["xlsx"], days["gsheets"]
    assert excel.answers.keys() == google.answers.keys()
    for command in excel.answers:
        assert google.answers[command] == excel.answers[command], command
    assert excel.answers["import"]["added"], "the import added prospects"
    assert excel.answers["notify"]["emails"], "notify wrote emails"
    for tab in excel.tabs:
        assert len(google.tabs[tab]) == len(excel.tabs[tab]), tab
        pairs = zip(google.tabs[tab], excel.tabs[tab], strict=True)
        for row, (ours, theirs) in enumerate(pairs, start=2):
            assert ours == theirs, f"{tab} row {row}"
    assert len(excel.tabs["Prospects"]) > 10  # the imported rows are in
    assert len(excel.tabs["Log"]) > 1


@pytest.mark.parametrize("kind", BACKENDS)
def test_run_refreshes_then_emails_with_the_ids_it_just_filled_in(
    cli: Cli, kind: str, tmp_path: Path, sheets_server: FakeSheets
) -> None:
    # Acme Tools, due today, has no ID yet: the refresh of the run gives it P-0011.
    rows = [{k: v for k, v in row.items() if row["company"] != "Acme Tools" or k != "id"}
            for row in TEAM_ROWS]  # fmt: skip
    team = make_team(kind, tmp_path / kind, sheets_server, Layout(rows=rows))
    outbox = team.folder / "outbox"
    report = run(cli, team, "run", "--outbox", outbox)
    assert report["refresh"]["ids_filled"] == 3
    eml = (outbox / f"{TODAY.isoformat()}-owner-anna.eml").read_bytes()
    message = email.message_from_bytes(eml, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    anna = str(body.get_content())
    # The run is started from another folder: the command names the config it needs.
    mark = f"sheetfollow mark --config {team.config.resolve()}"
    assert f"{mark} P-0011 " in anna
    assert f"{mark} P-0002 " in anna
    assert "--sheet" not in anna
