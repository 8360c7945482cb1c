"""The run log and --quiet/--verbose: a night under cron prints nothing, and the log says
afterwards what happened, including why somebody got no email that day.

The example workbook (`init --example`), the real command line (in-process, and as cron
starts it in a real process), real log files; the user log folder is the test's own
(tests/conftest.py sets XDG_STATE_HOME).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Cli

from sheetfollow import runlog
from sheetfollow.config import CONFIG_NAME
from sheetfollow.exit_codes import ExitCode

SATURDAY = "2026-12-05"
#: A Tuesday, and the Immaculate Conception: a public holiday in Spain, where Lucía works.
HOLIDAY = "2026-12-08"


@pytest.fixture
def team(cli: Cli, tmp_path: Path) -> Path:
    """The example workbook and its config, in a folder of their own."""
    folder = tmp_path / "sales"
    made = cli("init", "--example", "--today", SATURDAY, folder / "pipeline.xlsx")
    assert made.exit_code == 0, made.output
    return folder


def top_key(config: Path, line: str) -> None:
    """Add a top-level key (before the first [table])."""
    config.write_text(line + "\n" + config.read_text(encoding="utf-8"), encoding="utf-8")


def log_of(team: Path) -> Path:
    return team / ".sheetfollow" / "pipeline.xlsx.log"


def runs(cli: Cli, team: Path, *more: str) -> list[dict[str, object]]:
    shown = cli("log", "--json", "--config", team / CONFIG_NAME, *more)
    assert shown.exit_code == 0, shown.output
    found: list[dict[str, object]] = json.loads(shown.stdout)["data"]["runs"]
    return found


def texts(run: dict[str, object]) -> list[str]:
    return [line["text"] for line in run["lines"]]  # type: ignore[attr-defined,index]


def test_run_quiet_under_cron_prints_nothing_and_the_log_says_why_no_email_went_out(
    team: Path,
) -> None:
    """As cron starts it: a real process, no terminal, the working folder of the crontab."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sheetfollow",
            "run",
            "-q",
            "--config",
            CONFIG_NAME,
            "--today",
            SATURDAY,
        ],
        cwd=team,
        env={**os.environ, "SHEETFOLLOW_DEBUG": "1"},
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    text = log_of(team).read_text(encoding="utf-8")
    for owner in ("Anna", "Jonas", "Mette", "Lucía", "Sarah"):
        assert f"Sat 5 Dec is not a working day for {owner} (weekend)" in text
    assert "200 prospects" in text  # what was read and computed
    assert "end: run, exit 0 in " in text
    first = text.splitlines()[0]
    start = r"\S+ [0-9a-f]{6} INFO start: run -q --config sheetfollow.toml --today 2026-12-05 \("
    assert re.match(start, first), first


def test_the_log_explains_a_public_holiday_and_log_shows_the_last_runs(
    cli: Cli, team: Path
) -> None:
    config = team / CONFIG_NAME
    saturday = cli("run", "-q", "--config", config, "--today", SATURDAY)
    holiday = cli("run", "-q", "--config", config, "--today", HOLIDAY)
    assert saturday.exit_code == holiday.exit_code == 0
    assert saturday.stdout == holiday.stdout == ""

    last = runs(cli, team)[-1]
    assert (last["command"], last["exit_code"]) == ("run", 0)
    lucia = [line for line in texts(last) if "for Lucía" in line]
    assert lucia and "a public holiday in ES" in lucia[0]
    assert "Tue 8 Dec is not a working day for Lucía" in lucia[0]
    # The others worked that day and got their list.
    assert not [line for line in texts(last) if "for Anna" in line and "not a working" in line]

    table = cli("log", "--config", config, "-n", "2")
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["when", "exit", "command", "what", "happened"]
    assert len(lines) == 3
    assert all(len(line) <= 80 for line in lines)
    assert [line.split()[2:4] for line in lines[1:]] == [["0", "run"], ["0", "run"]]

    full = cli("log", "--config", config, "-n", "1", "--full")
    assert any("a public holiday in ES" in line for line in full.stdout.splitlines())
    assert len(runs(cli, team, "-n", "1")) == 1


def test_a_json_run_logs_what_the_text_would_have_said(cli: Cli, team: Path) -> None:
    result = cli("run", "--json", "--config", team / CONFIG_NAME, "--today", SATURDAY)
    assert result.exit_code == 0
    assert json.loads(result.stdout)["command"] == "run"
    said = texts(runs(cli, team)[-1])
    assert any("200 prospects" in line for line in said)
    assert any("not a working day for Lucía (weekend)" in line for line in said)


def test_verbose_says_which_config_and_sheet_and_where_the_log_is(cli: Cli, team: Path) -> None:
    os.chdir(team)
    quiet = cli("due", "--today", SATURDAY)
    assert "config:" not in quiet.stderr
    for args in (("-v", "due"), ("due", "--verbose")):
        result = cli(*args, "--today", SATURDAY)
        assert result.exit_code == 0, result.output
        assert f"config: {team / CONFIG_NAME} (the working folder)" in result.stderr
        assert f"sheet: {team / 'pipeline.xlsx'} (sheet in the config)" in result.stderr
        assert f"run log: {log_of(team)}" in result.stderr
        assert "follow-ups on" in result.stdout  # the table, as without -v


def test_quiet_still_prints_errors_and_they_are_logged_for_the_next_morning(
    cli: Cli, tmp_path: Path
) -> None:
    missing = tmp_path / "gone" / "pipeline.xlsx"
    result = cli("run", "--quiet", "--sheet", missing, "--today", SATURDAY)
    assert result.exit_code == ExitCode.SHEET
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ") and str(missing) in line
    # No log is made beside a workbook that is not there: the user's log keeps it.
    assert not (tmp_path / "gone" / ".sheetfollow").exists()
    kept = runlog.read_runs(runlog.files(runlog.fallback(str(missing))))
    assert kept[-1].name == "run" and kept[-1].code == ExitCode.SHEET
    assert kept[-1].verdict == line
    shown = cli("log", "--sheet", missing, "--json")
    assert json.loads(shown.stdout)["data"]["runs"][-1]["exit_code"] == ExitCode.SHEET


def test_a_log_that_cannot_be_written_never_fails_the_command(cli: Cli, team: Path) -> None:
    blocker = team / "not-a-folder"
    blocker.write_text("a file where the log's folder should be", encoding="utf-8")
    config = team / CONFIG_NAME
    top_key(config, f"log_file = {json.dumps(str(blocker / 'sheetfollow.log'))}")
    result = cli("refresh", "--config", config, "--today", SATURDAY)
    assert result.exit_code == 0, result.output
    # It went to the user's own log folder instead.
    kept = runlog.read_runs(runlog.files(runlog.fallback(str(team / "pipeline.xlsx"))))
    assert [run.name for run in kept] == ["refresh"]


def test_log_file_in_the_config_puts_the_log_there(cli: Cli, team: Path) -> None:
    config = team / CONFIG_NAME
    top_key(config, 'log_file = "logs/sheetfollow.log"')
    assert cli("refresh", "--config", config, "--today", SATURDAY).exit_code == 0
    kept = runlog.read_runs(runlog.files(team / "logs" / "sheetfollow.log"))
    assert [run.name for run in kept] == ["refresh"]
    assert [run["command"] for run in runs(cli, team)] == ["refresh"]


def test_reading_the_log_or_the_config_and_wrong_command_lines_add_no_run(
    cli: Cli, team: Path
) -> None:
    config = team / CONFIG_NAME
    assert cli("refresh", "--config", config, "--today", SATURDAY).exit_code == 0
    assert cli("log", "--config", config).exit_code == 0
    assert cli("config", "--config", config).exit_code == 0
    assert cli("refresh", "--config", config, "--no-such-option").exit_code == ExitCode.USAGE
    assert cli("refresh", "--help").exit_code == 0
    assert [run["command"] for run in runs(cli, team)] == ["refresh"]


def test_rotated_files_are_read_oldest_first(tmp_path: Path) -> None:
    log = tmp_path / "pipeline.xlsx.log"

    def line(moment: str, run_id: str, text: str) -> str:
        return f"{moment} {run_id} INFO {text}\n"

    (tmp_path / "pipeline.xlsx.log.2").write_text(
        line("2026-12-01T07:00:00+01:00", "aaaaaa", "start: run (a@b, sheetfollow 1, pid 1)")
        + line("2026-12-01T07:00:01+01:00", "aaaaaa", "end: run, exit 0 in 1.00 s"),
        encoding="utf-8",
    )
    (tmp_path / "pipeline.xlsx.log.1").write_text(
        line("2026-12-02T07:00:00+01:00", "bbbbbb", "start: run (a@b, sheetfollow 1, pid 2)")
        + "a line some other program wrote\n",
        encoding="utf-8",
    )
    log.write_text(
        line("2026-12-02T07:00:09+01:00", "bbbbbb", "end: run, exit 7 in 9.00 s"),
        encoding="utf-8",
    )
    found = runlog.read_runs(runlog.files(log))
    assert [(run.run_id, run.code) for run in found] == [("aaaaaa", 0), ("bbbbbb", 7)]
    assert runlog.table(found, 40)[1] == "2026-12-02 07:00     7  run  -"


def test_a_run_killed_midway_shows_as_unfinished(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text(
        "2026-12-02T07:00:00+01:00 cccccc INFO start: mark P-1 won (a@b, sheetfollow 1, pid 3)\n"
        "2026-12-02T07:00:00+01:00 cccccc DEBUG sheet: /srv/sales/pipeline.xlsx (--sheet)\n",
        encoding="utf-8",
    )
    (run,) = runlog.read_runs(runlog.files(log))
    assert run.code is None and run.command == "mark P-1 won"
    assert runlog.table([run], 80)[0].split()[2] == "?"
