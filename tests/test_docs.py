"""Docs that cannot drift: the README's commands, options and exit codes match the program,
and the README's test command is the one CI runs."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer.main

from sheetfollow.cli import DEBUG_ENV, app
from sheetfollow.exit_codes import ExitCode
from sheetfollow.fields import LANGUAGES

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
CI = (ROOT / ".ci" / "run").read_text(encoding="utf-8")

COMMANDS: dict[str, Any] = dict(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
GROUP: Any = typer.main.get_command(app)
#: Options every command that reads a sheet takes (README: "Every command takes ...").
SHARED = ("--sheet", "--config", "--today")


def sh_blocks(text: str) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def section(text: str, heading: str) -> str:
    """The text under a Markdown heading, up to the next heading of the same or higher level."""
    level = heading.split(" ")[0]
    start = text.index(f"\n{heading}\n") + len(heading) + 2
    following = re.compile(rf"^#{{1,{len(level)}}} ", re.MULTILINE).search(text, start)
    return text[start : following.start() if following else len(text)]


def table(text: str) -> list[list[str]]:
    """The body rows of the first Markdown table in `text`, cells stripped; "\\|" is a "|"."""
    rows: list[list[str]] = []
    for line in text.splitlines():
        if not line.startswith("|"):
            if rows:
                break
            continue
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if all(set(c) <= set("-: ") for c in cells):
            continue
        rows.append(cells)
    return rows[1:]  # without the header row


def long_options(command: Any) -> set[str]:
    return {opt for p in command.params for opt in p.opts if opt.startswith("--")}


def all_options(command: Any) -> set[str]:
    return {opt for p in command.params for opt in p.opts if opt.startswith("-")}


# --- Commands -----------------------------------------------------------------------------

COMMAND_ROWS = table(section(README, "## Commands"))


def readme_command(cell: str) -> tuple[str, str]:
    """ "`sheetfollow due [--owner NAME] [--json]`" -> ("due", "[--owner NAME] [--json]")."""
    match = re.fullmatch(r"`sheetfollow ([a-z]+)(.*)`", cell)
    assert match, f"not a command cell: {cell!r}"
    return match[1], match[2]


def test_the_program_has_commands() -> None:
    assert len(COMMANDS) >= 4


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help(name: str) -> None:
    command = COMMANDS[name]
    assert command.help and command.help.strip(), name
    for param in command.params:
        assert getattr(param, "help", None), f"{name} {param.opts} has no help text"


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_is_in_the_readme_table(name: str) -> None:
    listed = [readme_command(row[0])[0] for row in COMMAND_ROWS]
    assert name in listed
    row = COMMAND_ROWS[listed.index(name)]
    assert row[1], f"the README does not say what {name} does"


def test_the_readme_table_lists_only_real_commands_with_real_options() -> None:
    assert COMMAND_ROWS
    for row in COMMAND_ROWS:
        name, usage = readme_command(row[0])
        assert name in COMMANDS, f"the README lists {name}, which does not exist"
        for option in re.findall(r"--[a-z][a-z-]*", usage):
            assert option in long_options(COMMANDS[name]), f"{name} has no {option}"


def test_the_readme_language_choices_are_the_real_ones() -> None:
    init_row = next(row for row in COMMAND_ROWS if readme_command(row[0])[0] == "init")
    match = re.search(r"--lang ([a-z|]+)", init_row[0])
    assert match
    assert tuple(match[1].split("|")) == LANGUAGES


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_takes_the_shared_options(name: str) -> None:
    # init writes a new workbook instead of reading one: it takes --today only. adopt reads
    # the workbook it is given and writes a config: it takes --config only.
    wanted = {"init": ("--today",), "adopt": ("--config",)}.get(name, SHARED)
    assert set(wanted) <= long_options(COMMANDS[name])


def test_the_shared_options_also_work_before_the_command() -> None:
    assert set(SHARED) <= long_options(GROUP)
    shared = section(README, "## Commands")
    for option in SHARED:
        assert f"`{option} " in shared


@pytest.mark.parametrize("name", COMMANDS)
def test_every_option_of_a_command_is_mentioned_in_the_readme(name: str) -> None:
    for option in long_options(COMMANDS[name]):
        assert re.search(rf"{re.escape(option)}\b", README), f"{name} {option}"


# --- Exit codes ---------------------------------------------------------------------------

EXIT_ROWS = {int(row[0]): row[1] for row in table(section(README, "### Exit codes"))}

#: A word each meaning must contain, so a renumbered code cannot keep the old text.
MEANING = {
    ExitCode.OK: "done",
    ExitCode.ERROR: DEBUG_ENV,
    ExitCode.USAGE: "command line",
    ExitCode.CONFIG: "sheetfollow.toml",
    ExitCode.SHEET: "sheet",
    ExitCode.PROBLEMS: "check",
    ExitCode.BUSY: "nothing written",
    ExitCode.DELIVERY: "email",
    ExitCode.REMOTE: "remote",
    ExitCode.NO_MATCH: "which prospect",
    ExitCode.PENDING: "pending journal",
}


@pytest.mark.parametrize("code", list(ExitCode), ids=[c.name for c in ExitCode])
def test_every_exit_code_is_in_the_readme_with_its_number(code: ExitCode) -> None:
    assert int(code) in EXIT_ROWS, f"{code.name} ({int(code)}) is not in the README"
    assert MEANING[code].casefold() in EXIT_ROWS[int(code)].casefold()


def test_the_readme_lists_no_exit_code_that_does_not_exist() -> None:
    assert set(EXIT_ROWS) == {int(code) for code in ExitCode}


# --- The commands in the README ------------------------------------------------------------


def sheetfollow_calls(block: str) -> list[list[str]]:
    """Every sheetfollow invocation in a shell block, as argv without the program."""
    calls = []
    for line in block.splitlines():
        for part in line.split("&&"):
            words = shlex.split(part, comments=True)
            if words and Path(words[0]).name == "sheetfollow":
                calls.append(words[1:])
    return calls


def check_call(argv: list[str]) -> None:
    """Fail unless `argv` names a real command and only options it (or the app) takes."""
    index = 0
    while index < len(argv) and argv[index].startswith("-"):
        option = argv[index]
        assert option in all_options(GROUP), f"no global option {option}"
        takes_value = not next(p for p in GROUP.params if option in p.opts).is_flag
        index += 2 if takes_value else 1
    assert index < len(argv), f"no command in {argv}"
    before, name, after = argv[:index], argv[index], argv[index + 1 :]
    assert name in COMMANDS, f"no command {name!r}"
    for word in after:
        if word.startswith("-"):
            assert word in all_options(COMMANDS[name]), f"{name} has no option {word}"
    # And the app's own parser accepts the whole line (option values, arguments).
    context = GROUP.make_context("sheetfollow", [*before, name], resilient_parsing=True)
    COMMANDS[name].make_context(name, list(after), parent=context)


def test_the_readme_first_command_uses_only_real_commands_and_options() -> None:
    first = sh_blocks(README)[0]
    calls = sheetfollow_calls(first)
    assert [call[0] for call in calls] == ["init", "run"]
    for call in calls:
        check_call(call)


def test_every_sheetfollow_line_in_the_readme_is_valid() -> None:
    calls = [call for block in sh_blocks(README) for call in sheetfollow_calls(block)]
    assert len(calls) >= 6
    for call in calls:
        check_call(call)


def test_the_readme_test_command_is_what_ci_runs() -> None:
    block = sh_blocks(README)[1]
    lines = [line for line in block.splitlines() if line.strip()]
    assert len(lines) == 1
    command = lines[0]
    assert "pytest" in command
    assert command in CI.splitlines()
    # "near the top": before the set-up instructions.
    assert README.index(command) < README.index("## Set it up")
