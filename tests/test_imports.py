"""Each command imports what it uses and nothing else: a library a command does not need costs
every run its import time (openpyxl alone is a tenth of a second, as much as reading a few
thousand rows). Each command runs as a real process on the example workbook."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from conftest import TODAY, Tab, header_text, write_workbook
from xlsx_fixtures import members, sheet_part

from sheetfollow import starter

#: Prints, at exit, every module the command loaded (after the command's own output and
#: exit code, whatever they are).
RUN = """
import atexit, json, os, sys
atexit.register(
    lambda: open(os.environ["MODULES_OUT"], "w").write(json.dumps(sorted(sys.modules)))
)
from sheetfollow.cli import main
sys.argv = ["sheetfollow", *sys.argv[1:]]
main()
"""

#: Libraries for work no command below does: writing a workbook from scratch (init, adopt),
#: a Google sheet, a misspelt name.
NEVER = ("openpyxl", "gspread", "google", "rapidfuzz")
#: What only the emails need.
EMAILS = ("jinja2", "icalendar", "phonenumbers", "sheetfollow.notify.render")
#: What only a person at a terminal sees.
SCREEN = ("rich.progress",)

COMMANDS = {
    "mark": (["mark", "P-0003", "no-answer", "--note", "x"], (*NEVER, *EMAILS, *SCREEN)),
    "due --json": (["due", "--json"], (*NEVER, *EMAILS, *SCREEN, "rich.table")),
    "refresh": (["refresh"], (*NEVER, *EMAILS, *SCREEN)),
    "stats --json": (["stats", "--json"], (*NEVER, *EMAILS, *SCREEN)),
    "notify --outbox": (["notify", "--outbox", "outbox"], (*NEVER, *SCREEN)),
}


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("example")
    starter.init(folder / "pipeline.xlsx", example=True, today=TODAY)
    return folder


@pytest.fixture
def example(made: Path, tmp_path: Path) -> Path:
    """A copy of the example for each test: commands write to it."""
    return Path(shutil.copytree(made, tmp_path / "example"))


def loaded_by(args: list[str], folder: Path) -> list[str]:
    out = folder / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", RUN, *args, "--today", TODAY.isoformat()],
        cwd=folder,
        env={**os.environ, "MODULES_OUT": str(out)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    modules: list[str] = json.loads(out.read_text())
    return modules


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_command_loads_only_what_it_uses(example: Path, command: str) -> None:
    args, unused = COMMANDS[command]
    loaded = loaded_by(args, example)
    assert "sheetfollow.backends.xlsx" in loaded  # it did read the workbook
    extra = sorted(
        name for name in loaded for lib in unused if name == lib or name.startswith(lib + ".")
    )
    assert extra == []
    # Public holidays of the countries worked in (the example's owners are in five), not of
    # all 250 the package knows; mark computes one row: its owner's country only.
    countries = [name for name in loaded if name.startswith("holidays.countries.")]
    assert 1 <= len(countries) <= (1 if command == "mark" else 5), countries


def test_notify_does_load_what_the_emails_need(example: Path) -> None:
    """The list above is no wish list: a command that needs a library does import it."""
    loaded = loaded_by(["notify", "--outbox", "outbox"], example)
    assert set(EMAILS) <= set(loaded)


def test_a_refresh_that_adds_the_status_column_colours_it_without_openpyxl(
    tmp_path: Path,
) -> None:
    """The starter's status colours reach a workbook without the starter's own library."""
    headers = [header_text(name) for name in ("id", "company", "owner", "created")]
    write_workbook(
        tmp_path / "pipeline.xlsx",
        Tab("Prospects", [headers, ["P-1", "Acme", "Anna", TODAY]]),
        Tab("Owners", [["Owner", "Email"], ["Anna", "anna@acme.example"]]),
    )
    loaded = loaded_by(["refresh", "--sheet", "pipeline.xlsx"], tmp_path)
    assert [name for name in loaded if name.split(".")[0] == "openpyxl"] == []
    sheet = members(tmp_path / "pipeline.xlsx")[sheet_part(tmp_path / "pipeline.xlsx", "Prospects")]
    overdue = starter.status_formula("F2", starter._STATUS_LOOKS[0], "en")
    assert b"<conditionalFormatting" in sheet
    assert f"<formula>{escape(overdue)}</formula>".encode() in sheet
