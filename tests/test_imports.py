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
from typing import Any
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
#: a Google sheet, a misspelt name; and what Typer would load to coerce option values (pydantic,
#: with its plugin lookup through every installed package's metadata) and the holidays package
#: to tell its own version (importlib.metadata).
NEVER = ("openpyxl", "gspread", "google", "rapidfuzz", "pydantic", "importlib.metadata")
#: What only the emails need.
EMAILS = ("jinja2", "icalendar", "phonenumbers", "sheetfollow.notify.render", "email")
#: What only a person at a terminal sees: Rich's colours, tables and bars (these runs write
#: to a pipe, as under cron).
SCREEN = ("rich",)
#: The mail side: sending, and the record of what was sent.
MAIL = ("sheetfollow.notify", "sheetfollow.sends")

#: What only a write needs: the workbook's lock, and the C call that swaps files into place.
WRITE = ("filelock", "ctypes")

COMMANDS = {
    "mark": (["mark", "P-0003", "no-answer", "--note", "x"], (*NEVER, *EMAILS, *SCREEN, *MAIL)),
    "due --json": (["due", "--json"], (*NEVER, *EMAILS, *SCREEN, *MAIL, *WRITE)),
    "refresh": (["refresh"], (*NEVER, *EMAILS, *SCREEN, *MAIL)),
    "stats --json": (["stats", "--json"], (*NEVER, *EMAILS, *SCREEN, *MAIL, *WRITE)),
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


def loaded_by(args: list[str], folder: Path, *, today: bool = True) -> list[str]:
    out = folder / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", RUN, *args, *(["--today", TODAY.isoformat()] if today else [])],
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


@pytest.mark.parametrize("command", [["due", "--json"], ["stats", "--json"], ["refresh"]])
def test_a_command_that_records_no_touch_loads_no_marking(
    example: Path, command: list[str]
) -> None:
    """mark's code is loaded to record a touch (mark, a touch typed into the sheet, one waiting
    in the journal), not by every command that opens the workbook, with --today or without."""
    for today in (False, True):
        loaded = loaded_by(command, example, today=today)
        assert "sheetfollow.backends.xlsx" in loaded
        assert "sheetfollow.mark" not in loaded
    assert "sheetfollow.mark" in loaded_by(["mark", "P-0003", "no-answer"], example, today=False)


def test_notify_does_load_what_the_emails_need(example: Path) -> None:
    """The list above is no wish list: a command that needs a library does import it."""
    loaded = loaded_by(["notify", "--outbox", "outbox"], example)
    assert set(EMAILS) <= set(loaded)
    assert set(MAIL) <= set(loaded)


def test_help_loads_no_pydantic_and_typer_still_words_the_errors(example: Path) -> None:
    """--help as before without pydantic; a value Typer coerces itself (an int with a minimum)
    still gets Typer's own words."""
    out = example / "modules.json"
    for args, code, text in (
        (["--help"], 0, "Usage: sheetfollow"),
        (["mark", "--help"], 0, "PROSPECT"),
        (["log", "--count", "many"], 2, "Input should be a valid integer"),
        (["log", "--count", "0"], 2, "Input should be greater than or equal to 1"),
    ):
        done = subprocess.run(
            [sys.executable, "-c", RUN, *args],
            cwd=example,
            env={**os.environ, "MODULES_OUT": str(out), "COLUMNS": "200"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == code, done.stderr
        assert text in done.stdout + done.stderr
        if code == 0:
            assert "pydantic" not in json.loads(out.read_text()), args


def _typer_params() -> tuple[Any, list[Any]]:
    """Every parameter of every command, as Typer builds them for a run, --help included, and
    the context they are coerced in."""
    import typer

    from sheetfollow.cli import app

    group = typer.main.get_command(app)
    context = group.make_context("sheetfollow", ["--help"], resilient_parsing=True)
    commands = [group, *group.commands.values()]  # type: ignore[attr-defined]
    return context, [
        param
        for command in commands
        for param in (*command.params, command.get_help_option(context))
        if param is not None
    ]


VALUES = ["", "x", "-", "Anna", " spaced ", "é ü", "a/b/", "//x", "~/y", "../z", "P-0003"]


def test_values_taken_as_given_are_what_typers_own_coercion_makes_of_them(
    tmp_path: Path,
) -> None:
    """sheetfollow takes str, flag and plain Path values as given, to keep pydantic out of every
    run: the values are the same (type and all) as Typer's own coercion gives, including a
    path that exists."""
    (tmp_path / "here.txt").write_text("x")
    context, params = _typer_params()
    from sheetfollow.cli import _AsGiven, _take_as_given

    taken = 0
    for param in params:
        _take_as_given(param)
        ours = param._runtime_param
        if not isinstance(ours, _AsGiven):
            continue
        taken += 1
        param._runtime_param = None
        typers = param.get_runtime_param()
        assert not isinstance(typers, _AsGiven)
        values: list[Any] = [None, *VALUES, str(tmp_path / "here.txt"), str(tmp_path)]
        if param.type_descriptor.annotation is bool:
            values = [None]
        for value in values:
            expected = typers.coerce(value, param=param, ctx=context)
            got = ours.coerce(value, param=param, ctx=context)
            assert (type(got), got) == (type(expected), expected), (param.name, value)
    # --sheet, --config, --today and --owner, mark's arguments, --help and the flags...
    assert taken >= len(params) - 5


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


def test_the_holidays_version_is_the_packages_own_without_importlib_metadata() -> None:
    """holidays asks importlib.metadata for its version on import; sheetfollow reads the same
    METADATA file instead, and the package sees the same version either way."""
    code = (
        "import json, sys\n"
        "from sheetfollow import holiday_tables\n"
        "package = holiday_tables.package()\n"
        "loaded = 'importlib.metadata' in sys.modules\n"
        "import holidays.version\n"
        "from importlib.metadata import version\n"
        "print(json.dumps([loaded, package.__version__, holidays.version.__version__,"
        " version('holidays')]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded, ours, module, metadata = json.loads(done.stdout)
    assert not loaded
    assert ours == module == metadata


def test_every_commands_annotations_are_evaluated_once_at_import() -> None:
    """Typer evaluates a string annotation each time it reads a signature (each command twice
    a run); the CLI evaluates them once. A command added below that line would be read the
    slow way: this says so."""
    from sheetfollow.cli import app

    functions = [info.callback for info in app.registered_commands]
    assert app.registered_callback is not None
    functions.append(app.registered_callback.callback)
    unevaluated = [
        function.__name__
        for function in functions
        if function is not None
        and any(isinstance(hint, str) for hint in function.__annotations__.values())
    ]
    assert len(functions) > 10
    assert unevaluated == []
