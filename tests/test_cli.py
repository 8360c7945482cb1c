"""The sheetfollow command, as the README describes it, on real workbooks in tmp_path.

Most tests run the Typer app in-process (CliRunner); the golden files and one end-to-end
test run the real `python -m sheetfollow` as a subprocess.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import typer
from conftest import (
    TEAM_ROWS,
    TODAY,
    Cell,
    Cli,
    Layout,
    Tab,
    Team,
    as_date,
    file_state,
    openpyxl_rows,
    records,
    write_team,
    write_workbook,
)
from json_output import data_of
from typer.testing import CliRunner

import sheetfollow
import sheetfollow.cli
from sheetfollow.exit_codes import ExitCode

GOLDEN = Path(__file__).parent / "golden"
ISO_TODAY = TODAY.isoformat()

SUMMARY = "10 prospects · 3 due · 2 overdue · 2 new · 1 dead · 1 need attention · 47 cells changed"


def one_error_line(stderr: str) -> str:
    """The single line a failing command prints on stderr."""
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


def nothing_written(folder: Path) -> bool:
    """No backup, lock or temporary file: sheetfollow never started a write here."""
    return not (folder / ".sheetfollow").exists() and not list(folder.glob(".*.tmp"))


# --- refresh ----------------------------------------------------------------------------


def test_refresh_prints_the_summary_and_fills_the_sheet(cli: Cli, team: Team) -> None:
    result = cli("refresh", "--config", team.config, "--today", ISO_TODAY)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"{team.workbook}: {SUMMARY}"
    assert "  2 new IDs filled in" in lines
    assert "  run 'sheetfollow check' to see which cells need attention" in lines
    assert result.stderr == ""
    written = records(team.workbook)
    assert written["Delta GmbH"]["Status"] == "overdue"
    assert as_date(written["Echo Ltd"]["Next follow-up"]) == date(2026, 3, 13)


def test_refresh_json_reports_the_counts(cli: Cli, team: Team) -> None:
    result = cli("refresh", "--json", "--config", team.config, "--today", ISO_TODAY)
    assert result.exit_code == 0, result.output
    summary = data_of(result.stdout)
    counts = {k: summary[k] for k in ("rows", "due", "overdue", "new", "dead", "needs_attention")}
    assert counts == {"rows": 10, "due": 3, "overdue": 2, "new": 2, "dead": 1, "needs_attention": 1}
    assert (summary["cells_changed"], summary["ids_filled"], summary["dry_run"]) == (47, 2, False)


def test_a_second_refresh_leaves_the_file_alone(cli: Cli, team: Team) -> None:
    assert cli("refresh", "--config", team.config, "--today", ISO_TODAY).exit_code == 0
    before = file_state(team.workbook)
    result = cli("refresh", "--config", team.config, "--today", ISO_TODAY)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].endswith(" 0 cells changed")
    assert "new IDs" not in result.stdout
    assert file_state(team.workbook) == before


def test_dry_run_reports_the_changes_and_leaves_the_file_byte_identical(
    cli: Cli, team: Team
) -> None:
    before = file_state(team.workbook)
    result = cli("refresh", "--dry-run", "--config", team.config, "--today", ISO_TODAY)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].endswith(" 47 cells would change")
    assert file_state(team.workbook) == before
    assert nothing_written(team.folder)
    as_json = cli("refresh", "--dry-run", "--json", "--config", team.config, "--today", ISO_TODAY)
    assert data_of(as_json.stdout)["dry_run"] is True
    assert file_state(team.workbook) == before


def test_the_today_option_changes_the_results(cli: Cli, team: Team) -> None:
    result = cli("refresh", "--config", team.config, "--today", "2026-03-13")
    assert result.exit_code == 0, result.output
    assert " 1 due · 5 overdue · 0 new · " in result.stdout
    assert records(team.workbook)["Echo Ltd"]["Status"] == "due"
    due = cli("due", "--json", "--config", team.config, "--today", "2026-03-13")
    assert "Echo Ltd" in [row["company"] for row in data_of(due.stdout)]


def test_excel_lock_file_stops_the_write_and_force_overrides_it(cli: Cli, team: Team) -> None:
    lock = team.folder / f"~${team.workbook.name}"
    lock.write_bytes(b"\x00" * 165)
    before = file_state(team.workbook)
    result = cli("refresh", "--config", team.config, "--today", ISO_TODAY)
    assert result.exit_code == int(ExitCode.BUSY) == 6
    line = one_error_line(result.stderr)
    assert "open in Excel" in line and "--force" in line
    assert file_state(team.workbook) == before
    forced = cli("refresh", "--force", "--config", team.config, "--today", ISO_TODAY)
    assert forced.exit_code == 0, forced.output
    assert records(team.workbook)["Delta GmbH"]["Status"] == "overdue"


def test_refresh_keeps_the_last_three_versions_as_backups(cli: Cli, team: Team) -> None:
    days = ["2026-03-11", "2026-03-12", "2026-03-13", "2026-03-16", "2026-03-17"]
    versions = []
    for day in days:
        versions.append(team.workbook.read_bytes())
        result = cli("refresh", "--config", team.config, "--today", day)
        assert result.exit_code == 0, result.output
        assert not result.stdout.splitlines()[0].endswith(" 0 cells changed")
    backups = sorted((team.folder / ".sheetfollow" / "backups").iterdir())
    assert [b.read_bytes() for b in backups] == versions[-3:]


def test_a_status_column_of_your_own_is_left_alone(cli: Cli, tmp_path: Path) -> None:
    fields = ["company", "owner", "created", "status", "follow_up_status"]
    headers: list[Cell] = ["Company", "Owner", "Created", "Status", "Follow-up status"]
    rows: list[list[Cell]] = [
        headers,
        ["Acme Tools", "Anna", TODAY, "hot lead", None],
        ["Brick & Co", "Anna", date(2026, 3, 2), "cold", None],
    ]
    path = write_workbook(tmp_path / "own.xlsx", Tab("Prospects", rows))
    config = tmp_path / "sheetfollow.toml"
    config.write_text('sheet = "own.xlsx"\n[headers]\nstatus = "Follow-up status"\n')
    result = cli("refresh", "--today", ISO_TODAY)
    assert result.exit_code == 0, result.output
    written = records(path)
    assert [written[c]["Status"] for c in ("Acme Tools", "Brick & Co")] == ["hot lead", "cold"]
    assert written["Acme Tools"]["Follow-up status"] == "new"
    assert written["Brick & Co"]["Follow-up status"] == "overdue"
    # The ID and the other owned columns were missing: added after the last used column.
    added = openpyxl_rows(path)[0][len(fields) :]
    assert added == ["ID", "Next follow-up", "Step", "Why", "Assigned to"]


# --- due --------------------------------------------------------------------------------


def due_companies(stdout: str) -> list[str]:
    """The Company column of the due table, top to bottom."""
    lines = stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("Due "))
    start = lines[header].index("Company")
    end = lines[header].index("Contact")
    return [line[start:end].strip() for line in lines[header + 1 :] if line.strip()]


#: The team's due list in the call order: today's new leads, overdue (oldest first), today's.
CALL_ORDER = ["Acme Tools", "India Pty", "Brick & Co", "Delta GmbH", "Cobalt BV"]


def test_due_lists_in_the_call_order(cli: Cli, team: Team) -> None:
    result = cli("due", "--config", team.config, "--today", ISO_TODAY)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("5 follow-ups on Wed 11 Mar 2026, 2 overdue")
    assert due_companies(result.stdout) == CALL_ORDER


@pytest.mark.parametrize(
    ("owner", "companies"),
    [
        ("zoe", ["India Pty", "Cobalt BV"]),
        ("ZOË", ["India Pty", "Cobalt BV"]),
        ("Emile", ["India Pty"]),
        ("émile", ["India Pty"]),
        ("anna", ["Acme Tools", "Brick & Co"]),
    ],
)
def test_due_for_one_owner_or_delegate(
    cli: Cli, team: Team, owner: str, companies: list[str]
) -> None:
    result = cli("due", "--json", "--owner", owner, "--config", team.config, "--today", ISO_TODAY)
    assert result.exit_code == 0, result.output
    assert [row["company"] for row in data_of(result.stdout)] == companies


def test_due_json_is_valid_json_with_iso_dates(cli: Cli, team: Team) -> None:
    result = cli("due", "--json", "--config", team.config, "--today", ISO_TODAY)
    assert result.exit_code == 0, result.output
    rows = data_of(result.stdout)
    assert [row["company"] for row in rows] == CALL_ORDER
    delta = rows[3]
    assert delta["next_follow_up"] == "2026-03-09"
    assert delta["last_contact"] == "2026-03-02"
    assert delta["days_overdue"] == 2
    assert (delta["status"], delta["step"], delta["assigned_to"]) == ("overdue", "3 of 5", "Bob")
    india = rows[1]
    assert (india["owner"], india["assigned_to"], india["value"]) == ("Zoë", "Émile", 500)
    for row in rows:
        date.fromisoformat(row["next_follow_up"])


def test_nothing_due(cli: Cli, team: Team, tmp_path: Path) -> None:
    # Bob's one row is next due on Mon 9 Mar: a person the sheet knows, with nothing due.
    result = cli("due", "--owner", "Bob", "--config", team.config, "--today", "2026-03-02")
    assert result.exit_code == 0, result.output
    assert result.stdout == "Nothing due for Bob on 2026-03-02.\n"
    snoozed_only = tmp_path / "quiet"
    snoozed_only.mkdir()
    write_team(snoozed_only, Layout(rows=(TEAM_ROWS[7],)))
    quiet = cli("due", "--config", snoozed_only / "sheetfollow.toml", "--today", ISO_TODAY)
    assert quiet.exit_code == 0, quiet.output
    assert quiet.stdout == f"Nothing due on {ISO_TODAY}.\n"
    empty_json = cli(
        "due", "--json", "--config", snoozed_only / "sheetfollow.toml", "--today", ISO_TODAY
    )
    assert data_of(empty_json.stdout) == []


@pytest.mark.parametrize(
    ("name", "suggested"),
    [("Zoey", "did you mean Zoë?"), ("Emil", "did you mean Émile?"), ("Xqwzt", "names it has")],
)
def test_due_for_a_name_nobody_has_is_an_error_never_nothing_due(
    cli: Cli, team: Team, name: str, suggested: str
) -> None:
    result = cli("due", "--owner", name, "--config", team.config, "--today", ISO_TODAY)
    assert result.exit_code == ExitCode.USAGE, result.output
    assert result.stdout == ""
    line = one_error_line(result.stderr)
    assert f"no owner or delegate named '{name}'" in line and suggested in line


def test_due_table_shows_id_owner_and_step(team: Team) -> None:
    result = run_module(
        "due", "--config", str(team.config), "--today", ISO_TODAY, cwd=team.folder, columns=100
    )
    assert result.returncode == 0, result.stderr
    header = next(line for line in result.stdout.splitlines() if line.startswith("Due "))
    assert header.split() == ["Due", "ID", "Company", "Contact", "Phone", "For", "Step", "Value"]
    brick = next(line for line in result.stdout.splitlines() if "Brick & Co" in line)
    assert brick.split()[:3] == ["9d", "late", "P-0002"]


@pytest.mark.parametrize("width", [80, 160])
def test_due_explain_says_why_each_row_is_where_it_is(cli: Cli, team: Team, width: int) -> None:
    args = ("due", "--explain", "--config", str(team.config), "--today", ISO_TODAY)
    result = run_module(*args, cwd=team.folder, columns=width)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "Order" in next(line for line in lines if line.startswith("Due "))
    assert max(len(line.rstrip()) for line in lines) <= width
    reasons = {
        "Acme Tools": "2 new lead, same day",
        "India Pty": "2 new lead, same day",
        "Brick & Co": "3 overdue, oldest first",
        "Delta GmbH": "3 overdue, oldest first",
        "Cobalt BV": "4 today, by value",
    }
    for company, reason in reasons.items():
        assert reason in next(line for line in lines if company in line)
    listed = cli("due", "--json", "--explain", "--config", team.config, "--today", ISO_TODAY)
    assert [row["order"] for row in data_of(listed.stdout)] == list(reasons.values())


def test_what_people_type_is_shown_as_typed_never_as_markup(cli: Cli, tmp_path: Path) -> None:
    odd: dict[str, Cell] = {
        "company": "Kilo [UK] Ltd",
        "contact": "Kim [/] Kilo",
        "owner": "Anna",
        "value": 100,
        "created": TODAY,
    }
    broken: dict[str, Cell] = {
        "company": "Lima [bold]",
        "owner": "Anna",
        "last_contact": "[/i] soon",
    }
    write_team(tmp_path, Layout(rows=(odd, broken)))
    due = cli("due", "--today", ISO_TODAY)
    assert due.exit_code == 0, due.output
    assert "Kilo [UK] Ltd" in due.stdout and "Kim [/] Kilo" in due.stdout
    check = cli("check", "--today", ISO_TODAY)
    assert check.exit_code == ExitCode.PROBLEMS, check.output
    assert "Prospects!J3: '[/i] soon' is not a date" in check.stdout
    missing = cli("due", "--sheet", "pipeline [old].xlsx")
    assert missing.exit_code == ExitCode.SHEET
    assert one_error_line(missing.stderr) == "error: pipeline [old].xlsx was not found"


def run_module(*args: str, cwd: Path, columns: int = 80) -> subprocess.CompletedProcess[str]:
    """The real program, as a person's shell runs it."""
    env = {k: v for k, v in os.environ.items() if k not in ("SHEETFOLLOW_DEBUG", "LINES")}
    env |= {"COLUMNS": str(columns), "PYTHONIOENCODING": "utf-8", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "sheetfollow", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
    )


def visible(text: str) -> str:
    """Text as a reader sees it: without the padding at the end of each line."""
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


@pytest.mark.parametrize("columns", [80, 160])
def test_due_table_matches_the_golden_file(team: Team, columns: int) -> None:
    result = run_module(
        "due", "--config", str(team.config), "--today", ISO_TODAY, cwd=team.folder, columns=columns
    )
    assert result.returncode == 0, result.stderr
    got = visible(result.stdout)
    golden = GOLDEN / f"due-{columns}-columns.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(got, encoding="utf-8")
    assert got == golden.read_text(encoding="utf-8")
    assert max(len(line) for line in got.splitlines()) <= columns


# --- check ------------------------------------------------------------------------------


def test_check_lists_every_problem_by_cell_and_exits_5(cli: Cli, team: Team) -> None:
    result = cli("check", "--config", team.config, "--today", ISO_TODAY)
    assert result.exit_code == int(ExitCode.PROBLEMS) == 5
    assert result.stdout.splitlines() == [
        f"{team.workbook}: 10 prospects, headers in row 1",
        "  columns left alone: 'Region'",
        "  Owners!E4: 'XX' is not a country code with known public holidays "
        "(use NL, DE, DK, ES, GB ...); the team calendar is used",
        "  Prospects!J8: 'soon' is not a date (use 2026-12-31 or 31-12-2026)",
        "2 problems",
    ]


def test_check_json(cli: Cli, team: Team) -> None:
    result = cli("check", "--json", "--config", team.config, "--today", ISO_TODAY)
    assert result.exit_code == ExitCode.PROBLEMS
    report = data_of(result.stdout)
    assert report["rows"] == 10
    assert report["unknown_columns"] == ["Region"]
    assert [p["ref"] for p in report["problems"]] == ["Owners!E4", "Prospects!J8"]
    assert "'soon'" in report["problems"][1]["message"]


def test_check_exits_0_when_nothing_is_wrong(cli: Cli, tmp_path: Path) -> None:
    assert cli("init", "--today", ISO_TODAY, "pipeline.xlsx").exit_code == 0
    result = cli("check", "--today", ISO_TODAY)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "no problems found"
    as_json = cli("check", "--json", "--today", ISO_TODAY)
    assert as_json.exit_code == 0
    assert data_of(as_json.stdout)["problems"] == []


# --- errors -----------------------------------------------------------------------------


def test_a_missing_workbook(cli: Cli, tmp_path: Path) -> None:
    result = cli("refresh", "--sheet", "missing.xlsx")
    assert result.exit_code == int(ExitCode.SHEET) == 4
    assert one_error_line(result.stderr) == "error: missing.xlsx was not found"
    assert result.stdout == ""
    assert not (tmp_path / "missing.xlsx").exists()
    assert nothing_written(tmp_path)


def test_no_sheet_given_at_all(cli: Cli, tmp_path: Path) -> None:
    result = cli("due")
    assert result.exit_code == ExitCode.SHEET
    assert "--sheet" in one_error_line(result.stderr)


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 1024, "old-format"),
        ("notes.xlsx", b"Company;Owner\nAcme;Anna\n", "not an Excel workbook"),
    ],
    ids=["xls", "text named xlsx"],
)
@pytest.mark.parametrize("command", ["refresh", "due", "check"])
def test_a_file_that_is_not_a_workbook(
    cli: Cli, tmp_path: Path, command: str, name: str, content: bytes, says: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    result = cli(command, "--sheet", name)
    assert result.exit_code == ExitCode.SHEET
    line = one_error_line(result.stderr)
    assert line.startswith(f"error: {name} ") and says in line
    assert path.read_bytes() == content
    assert nothing_written(tmp_path)


def test_a_workbook_without_a_prospects_tab(cli: Cli, tmp_path: Path) -> None:
    path = write_workbook(
        tmp_path / "other.xlsx", Tab("Leads", [["Company", "Owner"], ["Acme", "Anna"]])
    )
    before = file_state(path)
    result = cli("refresh", "--sheet", "other.xlsx")
    assert result.exit_code == ExitCode.SHEET
    line = one_error_line(result.stderr)
    assert "no tab named 'Prospects'" in line and "Leads" in line
    assert file_state(path) == before
    assert nothing_written(tmp_path)


def test_missing_required_headers(cli: Cli, tmp_path: Path) -> None:
    rows = [["Company", "Contact", "Email"], ["Acme", "Ann", "ann@example.com"]]
    path = write_workbook(tmp_path / "pipeline.xlsx", Tab("Prospects", rows))
    before = file_state(path)
    result = cli("refresh", "--sheet", "pipeline.xlsx")
    assert result.exit_code == ExitCode.SHEET
    line = one_error_line(result.stderr)
    assert "pipeline.xlsx" in line and "Prospects!1:1" in line and "Owner" in line
    assert file_state(path) == before
    assert nothing_written(tmp_path)


@pytest.mark.parametrize(
    ("toml", "names"),
    [
        ('colour = "red"\n', "unknown key 'colour'"),
        ("[rules]\nmax_attempt = 4\n", "unknown key 'rules.max_attempt'"),
        ('backups = "three"\n', "backups must be a whole number"),
        ('[rules]\nmin_gap = "five"\n', "rules.min_gap must be a whole number"),
        ('[calendar]\nweekend = "sat"\n', "calendar.weekend must be a list"),
        ("sheet = \n", "line 1"),
    ],
    ids=[
        "unknown key",
        "misspelt key",
        "text for a number",
        "nested wrong type",
        "not a list",
        "not toml",
    ],
)
def test_a_bad_config_names_the_file_and_the_key(
    cli: Cli, team: Team, toml: str, names: str
) -> None:
    team.config.write_text(toml, encoding="utf-8")
    before = file_state(team.workbook)
    for args in (["refresh"], ["refresh", "--config", str(team.config)]):
        result = cli(*args, "--sheet", team.workbook)
        assert result.exit_code == int(ExitCode.CONFIG) == 3, result.output
        line = one_error_line(result.stderr)
        assert "sheetfollow.toml" in line and names in line, line
    assert file_state(team.workbook) == before
    assert nothing_written(team.folder)


def test_a_missing_config_file_given_on_the_command_line(cli: Cli, team: Team) -> None:
    result = cli("due", "--config", "nowhere.toml", "--sheet", team.workbook)
    assert result.exit_code == ExitCode.CONFIG
    assert one_error_line(result.stderr) == "error: nowhere.toml: no such config file"


def test_a_folder_that_cannot_be_made_is_a_clear_error(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a folder\n", encoding="utf-8")
    result = cli("init", "notes.txt/pipeline.xlsx")
    assert result.exit_code == ExitCode.SHEET
    assert one_error_line(result.stderr).startswith("error: cannot create the folder notes.txt")


def _app_with_a_failing_command() -> typer.Typer:
    """An app with the real error handling and one command that fails like a bug would."""
    app = typer.Typer(cls=sheetfollow.cli._Commands)

    @app.command()
    def boom() -> None:
        raise RuntimeError("a bug")

    @app.command()
    def other() -> None:
        """Present so that the app is a group and `boom` a sub-command."""

    return app


def test_an_unexpected_error_is_one_line_that_says_how_to_get_the_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SHEETFOLLOW_DEBUG", raising=False)
    result = CliRunner().invoke(_app_with_a_failing_command(), ["boom"])
    assert result.exit_code == int(ExitCode.ERROR) == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0] == (
        "unexpected error: RuntimeError: a bug (set SHEETFOLLOW_DEBUG=1 for the traceback)"
    )
    assert "Traceback" not in result.stderr
    monkeypatch.setenv("SHEETFOLLOW_DEBUG", "1")
    debug = CliRunner().invoke(_app_with_a_failing_command(), ["boom"])
    assert debug.exit_code == 1
    assert "Traceback (most recent call last):" in debug.stderr
    assert "RuntimeError: a bug" in debug.stderr


# --- global options ---------------------------------------------------------------------


def test_global_options_work_before_and_after_the_command(cli: Cli, team: Team) -> None:
    sheet, config = str(team.workbook), str(team.config)
    after = cli("due", "--sheet", sheet, "--config", config, "--today", ISO_TODAY)
    before = cli("--sheet", sheet, "--config", config, "--today", ISO_TODAY, "due")
    mixed = cli("-s", sheet, "--today", ISO_TODAY, "due", "-c", config)
    assert after.exit_code == before.exit_code == mixed.exit_code == 0, before.output
    assert after.stdout == before.stdout == mixed.stdout
    assert due_companies(after.stdout) == CALL_ORDER
    # The command's own option wins over the global one.
    own = cli("--today", "2026-03-13", "due", "--json", "--config", config, "--today", ISO_TODAY)
    delta = next(row for row in data_of(own.stdout) if row["company"] == "Delta GmbH")
    assert delta["days_overdue"] == 2


def test_global_sheet_beats_the_config_sheet(cli: Cli, team: Team, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    copy = write_team(other, Layout(rows=(TEAM_ROWS[0],)), name="copy.xlsx")
    result = cli("--sheet", copy, "refresh", "--config", team.config, "--today", ISO_TODAY)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{copy}: 1 prospects")
    assert records(copy)["Acme Tools"]["Status"] == "new"
    assert records(team.workbook)["Acme Tools"]["Status"] is None


def test_version(cli: Cli) -> None:
    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout == f"sheetfollow {sheetfollow.__version__}\n"
    assert sheetfollow.__version__ == importlib.metadata.version("sheetfollow")


@pytest.mark.parametrize(
    "args",
    [
        ["due", "--today", "notadate"],
        ["--today", "notadate", "due"],
        ["refresh", "--today", "2026-02-30"],
        ["init", "--today", "tomorrow", "x.xlsx"],
        ["due", "--no-such-option"],
        ["frobnicate"],
        ["init", "--lang", "fr", "x.xlsx"],
    ],
)
def test_a_wrong_command_line_exits_2(cli: Cli, team: Team, args: list[str]) -> None:
    before = file_state(team.workbook)
    result = cli(*args, "--config", team.config) if args[0] == "due" else cli(*args)
    assert result.exit_code == int(ExitCode.USAGE) == 2, result.output
    assert result.stdout == ""
    if "--today" in args:
        # A wrong date is one line naming the option, as every other error is.
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith("error: --today ")
    else:
        assert "Usage:" in result.stderr
    assert file_state(team.workbook) == before
    assert not (team.folder / "x.xlsx").exists()


def test_a_bad_today_is_named_in_the_message(cli: Cli, team: Team) -> None:
    result = cli("due", "--config", team.config, "--today", "notadate")
    assert "--today" in result.stderr and "'notadate' is not a date" in result.stderr


# --- init -------------------------------------------------------------------------------


def test_init_then_refresh_and_due_as_the_readme_shows(cli: Cli, tmp_path: Path) -> None:
    init = cli("--today", ISO_TODAY, "init", "pipeline.xlsx")
    assert init.exit_code == 0, init.output
    assert init.stdout.splitlines() == [
        "wrote pipeline.xlsx",
        "wrote sheetfollow.toml",
        "next: sheetfollow refresh --config sheetfollow.toml",
    ]
    refresh = cli("refresh", "--sheet", "pipeline.xlsx", "--today", ISO_TODAY)
    assert refresh.exit_code == 0, refresh.output
    assert refresh.stdout.startswith("pipeline.xlsx: 2 prospects · ")
    due = cli("due", "--sheet", "pipeline.xlsx", "--today", ISO_TODAY)
    assert due.exit_code == 0, due.output
    assert due.stdout.startswith("2 follow-ups on Wed 11 Mar 2026, 0 overdue")
    listed = cli("due", "--json", "--sheet", "pipeline.xlsx", "--today", ISO_TODAY)
    companies = [row["company"] for row in data_of(listed.stdout)]
    # The new lead from today first (the call order), then the other call due today.
    assert companies == ["Northwind Supplies Ltd", "Harbour Tools Ltd"]
    assert records(tmp_path / "pipeline.xlsx")["Northwind Supplies Ltd"]["Status"] == "new"


def test_init_in_german_then_refresh_and_due(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "team" / "pipeline.xlsx"
    init = cli("init", "--lang", "de", "--today", ISO_TODAY, path)
    assert init.exit_code == 0, init.output
    config = tmp_path / "team" / "sheetfollow.toml"
    refresh = cli("refresh", "--config", config, "--today", ISO_TODAY)
    assert refresh.exit_code == 0, refresh.output
    assert " 2 prospects · " in refresh.stdout
    written = records(path, "Interessenten", key="Firma")
    # The team's language, as the starter's status colours expect it.
    assert written["Muster Maschinenbau GmbH"]["Status"] == "Neu"
    due = cli("due", "--json", "--config", config, "--today", ISO_TODAY)
    companies = [row["company"] for row in data_of(due.stdout)]
    assert companies == ["Muster Maschinenbau GmbH", "Beispiel Logistik GmbH"]


def test_init_example_then_refresh_from_another_folder(cli: Cli, tmp_path: Path) -> None:
    init = cli("init", "--example", "--today", ISO_TODAY, tmp_path / "shared" / "demo.xlsx")
    assert init.exit_code == 0, init.output
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.chdir(elsewhere)
    config = tmp_path / "shared" / "sheetfollow.toml"
    refresh = cli("refresh", "--json", "--config", config, "--today", ISO_TODAY)
    assert refresh.exit_code == 0, refresh.output
    summary = data_of(refresh.stdout)
    assert summary["sheet"] == str(tmp_path / "shared" / "demo.xlsx")
    assert summary["rows"] == 200
    assert summary["needs_attention"] > 0
    assert summary["cells_changed"] > 0
    assert list(elsewhere.iterdir()) == []
    again = cli("refresh", "--json", "--config", config, "--today", ISO_TODAY)
    assert data_of(again.stdout)["cells_changed"] == 0


def test_init_refuses_to_overwrite(cli: Cli, tmp_path: Path) -> None:
    assert cli("init", "--today", ISO_TODAY, "pipeline.xlsx").exit_code == 0
    workbook = file_state(tmp_path / "pipeline.xlsx")
    config = file_state(tmp_path / "sheetfollow.toml")
    result = cli("init", "--example", "pipeline.xlsx")
    assert result.exit_code != 0
    line = one_error_line(result.stderr)
    # An existing workbook is pointed to adopt, which never changes it; never to --overwrite.
    assert "pipeline.xlsx already exists" in line and "sheetfollow adopt" in line
    assert "--overwrite" not in line
    assert file_state(tmp_path / "pipeline.xlsx") == workbook
    assert file_state(tmp_path / "sheetfollow.toml") == config
    # A workbook of another name is refused too, because the config next to it exists.
    other = cli("init", "other.xlsx")
    assert "sheetfollow.toml already exists" in one_error_line(other.stderr)
    assert not (tmp_path / "other.xlsx").exists()
    replaced = cli("init", "--example", "--overwrite", "pipeline.xlsx")
    assert replaced.exit_code == 0, replaced.output
    assert file_state(tmp_path / "pipeline.xlsx").data != workbook.data


# --- the real program -------------------------------------------------------------------


def test_the_real_program_runs_the_readme_demo(tmp_path: Path) -> None:
    init = run_module("init", "--example", "--overwrite", "demo/pipeline.xlsx", cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    assert init.stdout.splitlines()[:2] == [
        "wrote demo/pipeline.xlsx",
        "wrote demo/sheetfollow.toml",
    ]
    refresh = run_module("refresh", "--config", "demo/sheetfollow.toml", cwd=tmp_path)
    assert refresh.returncode == 0, refresh.stderr
    first = refresh.stdout.splitlines()[0]
    assert first.startswith(f"{tmp_path / 'demo' / 'pipeline.xlsx'}: 200 prospects · ")
    assert " need attention · " in first and first.endswith(" cells changed")
    assert "new IDs filled in" in refresh.stdout
    due = run_module("due", "--config", "demo/sheetfollow.toml", cwd=tmp_path, columns=120)
    assert due.returncode == 0, due.stderr
    assert " follow-ups on " in due.stdout.splitlines()[0]
    assert due.stdout.splitlines()[1].split()[:4] == ["Due", "ID", "Company", "Contact"]
    check = run_module("check", "--config", "demo/sheetfollow.toml", cwd=tmp_path)
    assert check.returncode == ExitCode.PROBLEMS
    assert "'next tuesday' is not a date" in check.stdout


# --- missing touch columns ----------------------------------------------------------------


def renamed_last_contact(folder: Path) -> Path:
    """The team workbook whose Last contact header a person changed to "Last called"."""
    tab = Layout().tab()
    grid = [list(row) for row in tab.rows]
    grid[0] = ["Last called" if text == "Last contact" else text for text in grid[0]]
    path = write_workbook(folder / "pipeline.xlsx", Tab("Prospects", grid))
    (folder / "sheetfollow.toml").write_text('sheet = "pipeline.xlsx"\n', encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "command", [["refresh"], ["check"], ["due"], ["run", "--outbox", "mails"]], ids=" ".join
)
def test_a_renamed_touch_column_stops_the_command_with_exit_4(
    cli: Cli, tmp_path: Path, command: list[str]
) -> None:
    path = renamed_last_contact(tmp_path)
    before = file_state(path)
    result = cli(*command, "--today", ISO_TODAY)
    assert result.exit_code == ExitCode.SHEET == 4
    assert one_error_line(result.stderr) == (
        f"error: {path}: Prospects!1:1 has no Last contact column, so every follow-up would "
        'restart from Created; map yours with [headers] last_contact = "Last called" in '
        "sheetfollow.toml (or rename it to Last contact); a list that never records touches "
        "can set require_touch_columns = false"
    )
    assert result.stdout == ""
    assert file_state(path) == before
    assert nothing_written(tmp_path)
    assert not (tmp_path / "mails").exists()


def test_the_mapping_the_error_suggests_makes_the_command_work(cli: Cli, tmp_path: Path) -> None:
    path = renamed_last_contact(tmp_path)
    config = tmp_path / "sheetfollow.toml"
    config.write_text(
        'sheet = "pipeline.xlsx"\n[headers]\nlast_contact = "Last called"\n', encoding="utf-8"
    )
    result = cli("refresh", "--today", ISO_TODAY)
    assert result.exit_code == 0, result.output
    assert records(path)["Delta GmbH"]["Status"] == "overdue"


#: Libraries only some commands need: importing the CLI (as `--help` and every command do)
#: must not load them.
HEAVY_LIBRARIES = (
    "holidays",
    "jinja2",
    "babel",
    "icalendar",
    "phonenumbers",
    "gspread",
    "google",
    "rapidfuzz",
    "rich.progress",
    "rich.table",
    "sheetfollow.notify",
)


def test_importing_the_cli_loads_no_heavy_library() -> None:
    code = "import json, sys\nimport sheetfollow.cli\nprint(json.dumps(sorted(sys.modules)))\n"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    loaded = json.loads(result.stdout)
    heavy = [
        name
        for name in loaded
        if any(name == lib or name.startswith(lib + ".") for lib in HEAVY_LIBRARIES)
    ]
    assert heavy == []


class _Watched:
    """A backend stand-in with the progress hook the Excel backend offers."""

    progress = None


def test_the_progress_bar_follows_the_backend_on_a_terminal_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io

    from rich.console import Console

    from sheetfollow.streams import Stream

    screen = io.StringIO()
    on_screen = Console(file=screen, force_terminal=True, width=80)
    monkeypatch.setattr(sheetfollow.cli, "err", Stream(stderr=True, console=on_screen))
    backend = _Watched()
    with sheetfollow.cli._progress("reading", backend) as bar:  # type: ignore[arg-type]
        assert bar is not None
        assert backend.progress is not None
        backend.progress("reading Prospects", 0.5)
        counter = sheetfollow.cli._counter(bar, "computing")
        assert counter is not None
        counter(10, 20)
    assert backend.progress is None  # unhooked afterwards
    assert "computing" in screen.getvalue()

    piped = Console(file=io.StringIO(), width=80)
    monkeypatch.setattr(sheetfollow.cli, "err", Stream(stderr=True, console=piped))
    with sheetfollow.cli._progress("reading", backend) as bar:  # type: ignore[arg-type]
        assert bar is None  # not a terminal: cron, a pipe, a test
        assert backend.progress is None
