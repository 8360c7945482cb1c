"""The scheduling recipes of docs/scheduling.md and the README: every sheetfollow command
line in them is one the program accepts, the systemd units pass `systemd-analyze verify`
(where it is installed), the Windows task is well-formed XML that runs the shipped .cmd,
and the .cmd runs `sheetfollow run --quiet`."""

from __future__ import annotations

import getpass
import re
import shlex
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import typer.main

from sheetfollow.cli import app

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SCHEDULING = (DOCS / "scheduling.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")
SERVICE = DOCS / "systemd" / "sheetfollow.service"
TIMER = DOCS / "systemd" / "sheetfollow.timer"
TASK = DOCS / "windows" / "sheetfollow-task.xml"
WRAPPER = DOCS / "windows" / "sheetfollow-run.cmd"
TASK_NS = {"t": "http://schemas.microsoft.com/windows/2004/02/mit/task"}

GROUP: Any = typer.main.get_command(app)


def parse(argv: list[str]) -> str:
    """The command `argv` (without the program) runs; fails unless the program's own parser
    accepts the whole line."""
    assert argv and not argv[0].startswith("-"), argv
    context = GROUP.make_context("sheetfollow", [argv[0]], resilient_parsing=True)
    command = GROUP.commands[argv[0]]
    command.make_context(argv[0], list(argv[1:]), parent=context)
    return str(argv[0])


def after_program(words: list[str]) -> list[str]:
    """The arguments after the word that starts sheetfollow (a path ending in it)."""
    for index, word in enumerate(words):
        if re.search(r"sheetfollow(\.exe)?\"?$", word):
            return words[index + 1 :]
    raise AssertionError(f"no sheetfollow in {words}")


def code_blocks(text: str) -> list[str]:
    return re.findall(r"^```[a-z]*\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def crontab_lines(text: str) -> list[str]:
    return [
        line
        for block in code_blocks(text)
        for line in block.splitlines()
        if re.match(r"[0-9*]", line) and "sheetfollow" in line
    ]


# --- cron -------------------------------------------------------------------------------------

_FIELDS = (range(60), range(24), range(1, 32), range(1, 13), range(8))


def _cron_field(text: str, allowed: range) -> bool:
    for part in text.split(","):
        body, _, step = part.partition("/")
        if step and not step.isdigit():
            return False
        if body == "*":
            continue
        low, _, high = body.partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            return False
        if int(low) not in allowed or (high and int(high) not in allowed):
            return False
    return True


@pytest.mark.parametrize("source", ["README.md", "docs/scheduling.md"])
def test_the_crontab_lines_are_valid_and_quiet(source: str) -> None:
    text = README if source == "README.md" else SCHEDULING
    lines = crontab_lines(text)
    assert lines, f"no crontab line in {source}"
    for line in lines:
        fields = line.split(None, 5)
        for field, allowed in zip(fields[:5], _FIELDS, strict=True):
            assert _cron_field(field, allowed), f"{source}: {field!r} in {line!r}"
        for part in fields[5].split("&&"):
            words = shlex.split(part)
            if any(word.endswith("sheetfollow") for word in words):
                argv = after_program(words)
                assert parse(argv) == "run"
                assert "--quiet" in argv or "-q" in argv, line


@pytest.mark.parametrize("source", ["README.md", "docs/scheduling.md"])
def test_cron_tz_names_a_real_time_zone(source: str) -> None:
    text = README if source == "README.md" else SCHEDULING
    zones = re.findall(r"^CRON_TZ=(\S+)$", text, flags=re.MULTILINE)
    assert zones
    for zone in zones:
        ZoneInfo(zone)


# --- systemd ----------------------------------------------------------------------------------


def unit_values(path: Path, key: str) -> list[str]:
    return re.findall(rf"^{key}=(.*)$", path.read_text(encoding="utf-8"), flags=re.MULTILINE)


def test_the_service_runs_sheetfollow_run_quietly() -> None:
    (exec_start,) = unit_values(SERVICE, "ExecStart")
    argv = after_program(shlex.split(exec_start))
    assert parse(argv) == "run"
    assert "--quiet" in argv
    assert unit_values(SERVICE, "Type") == ["oneshot"]
    assert unit_values(TIMER, "Persistent") == ["true"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_the_systemd_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    """The units as shipped, with their paths and user made real for this machine: the
    program (a real executable), its folder and the user running the test."""
    program = Path(sys.executable).parent / "sheetfollow"
    if not program.exists():
        pytest.skip("the sheetfollow script is not installed beside this Python")
    for unit in (SERVICE, TIMER):
        text = unit.read_text(encoding="utf-8")
        text = text.replace("/srv/sales/.venv/bin/sheetfollow", str(program))
        text = text.replace("/srv/sales", str(tmp_path)).replace(
            "User=sales", f"User={getpass.getuser()}"
        )
        (tmp_path / unit.name).write_text(text, encoding="utf-8")
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", "sheetfollow.service", "sheetfollow.timer"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    ours = [line for line in result.stderr.splitlines() if "sheetfollow" in line]
    assert result.returncode == 0 and not ours, result.stderr
    calendar = subprocess.run(
        ["systemd-analyze", "calendar", *unit_values(TIMER, "OnCalendar")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert calendar.returncode == 0, calendar.stderr
    assert "Next elapse" in calendar.stdout


# --- Windows ----------------------------------------------------------------------------------


def test_the_windows_task_is_well_formed_and_runs_the_wrapper_on_working_days() -> None:
    task = ET.parse(TASK).getroot()
    assert task.tag == f"{{{TASK_NS['t']}}}Task"
    (command,) = [e.text for e in task.iterfind("t:Actions/t:Exec/t:Command", TASK_NS)]
    (folder,) = [e.text for e in task.iterfind("t:Actions/t:Exec/t:WorkingDirectory", TASK_NS)]
    assert command and folder
    assert command.rsplit("\\", 1) == [folder, WRAPPER.name]
    trigger = task.find("t:Triggers/t:CalendarTrigger", TASK_NS)
    assert trigger is not None
    start = trigger.findtext("t:StartBoundary", namespaces=TASK_NS) or ""
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT07:00:00", start)
    days = trigger.find("t:ScheduleByWeek/t:DaysOfWeek", TASK_NS)
    assert days is not None
    assert [d.tag.split("}")[1] for d in days] == [
        "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
    ]  # fmt: skip
    # Runs while its user is logged on: the OneDrive sync client lives in that session.
    logon = task.findtext("t:Principals/t:Principal/t:LogonType", namespaces=TASK_NS)
    assert logon == "InteractiveToken"
    assert task.findtext("t:Settings/t:StartWhenAvailable", namespaces=TASK_NS) == "true"


def test_the_cmd_wrapper_runs_sheetfollow_run_quietly_with_windows_line_ends() -> None:
    data = WRAPPER.read_bytes()
    assert data.count(b"\n") == data.count(b"\r\n") > 0  # cmd.exe needs CRLF
    lines = data.decode("ascii").splitlines()
    (program,) = [line for line in lines if line.startswith('set "SHEETFOLLOW=')]
    assert program.endswith('sheetfollow.exe"')
    (call,) = [line for line in lines if line.startswith('"%SHEETFOLLOW%"')]
    argv = shlex.split(call.replace("%~dp0", "C:/Sales/"))[1:]
    assert parse(argv) == "run"
    assert argv[argv.index("--config") + 1] == "C:/Sales/sheetfollow.toml"
    assert "--quiet" in argv
    assert lines[-1] == "exit /b %ERRORLEVEL%"  # the exit code reaches Task Scheduler


def test_the_schtasks_lines_name_the_task_file_and_the_wrapper() -> None:
    lines = [
        line
        for block in code_blocks(SCHEDULING)
        for line in block.splitlines()
        if line.startswith("schtasks /create")
    ]
    assert any(f"/xml {TASK.name}" in line for line in lines)
    assert any(WRAPPER.name in line and "/st 07:00" in line for line in lines)


def test_the_scheduling_doc_links_only_files_that_exist() -> None:
    links = re.findall(r"\]\(((?:systemd|windows)/[^)]+)\)", SCHEDULING)
    assert {*links} == {
        "systemd/sheetfollow.service",
        "systemd/sheetfollow.timer",
        "windows/sheetfollow-run.cmd",
        "windows/sheetfollow-task.xml",
    }
    assert "docs/scheduling.md" in README
