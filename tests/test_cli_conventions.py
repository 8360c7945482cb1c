"""The command line follows the habits people bring from other tools: shell completion,
examples in every --help, one placeholder style, whole summaries, NO_COLOR, and dates in
the formats the cells take."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main
from conftest import Cli
from test_cli import HEAVY_LIBRARIES

from sheetfollow import starter
from sheetfollow.cli import app
from sheetfollow.exit_codes import ExitCode

TODAY = "2026-03-11"
#: The console script beside this Python: completion is keyed to the program's name.
SHEETFOLLOW = Path(sys.executable).with_name("sheetfollow")
SHELLS = ("bash", "zsh", "fish", "powershell", "pwsh")


def group() -> Any:
    return typer.main.get_command(app)


def commands() -> dict[str, Any]:
    found: dict[str, Any] = group().commands
    return found


def sheetfollow(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    assert SHEETFOLLOW.exists(), "install the package: pip install -e .[dev]"
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("_SHEETFOLLOW", "_TYPER"))}
    return subprocess.run(
        [str(SHEETFOLLOW), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**environ, "COLUMNS": "80", **(env or {})},
        check=False,
    )


# --- Shell completion -------------------------------------------------------------------------

#: Typer detects the shell it runs in; tests name it instead.
NAMED_SHELL = {"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}


@pytest.mark.parametrize("shell", SHELLS)
def test_show_completion_prints_a_script_for_each_shell(shell: str) -> None:
    done = sheetfollow("--show-completion", shell, env=NAMED_SHELL)
    assert done.returncode == 0, done.stderr
    assert "sheetfollow" in done.stdout
    assert "_SHEETFOLLOW_COMPLETE" in done.stdout


def test_completion_offers_command_names_and_options() -> None:
    def complete(words: str) -> list[str]:
        env = {
            "_SHEETFOLLOW_COMPLETE": "complete_bash",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split()) - 1),
        }
        done = sheetfollow(env=env)
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert complete("sheetfollow ma") == ["mark"]
    assert set(complete("sheetfollow p")) == {"pending"}
    assert "--owner" in complete("sheetfollow due --ow")
    # zsh and fish show each command's summary beside it: whole, never cut with "...".
    zsh = sheetfollow(
        env={"_SHEETFOLLOW_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "sheetfollow du"}
    )
    assert "follow-ups in the call order." in zsh.stdout
    assert "..." not in zsh.stdout


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_completion_installs_in_bash_and_completes_there(tmp_path: Path) -> None:
    home = {"HOME": str(tmp_path), **NAMED_SHELL}
    done = sheetfollow("--install-completion", "bash", env=home)
    assert done.returncode == 0, done.stderr
    assert "source" in (tmp_path / ".bashrc").read_text(encoding="utf-8")
    # What bash does on <TAB> after "sheetfollow ma", with the installed script.
    script = (
        "source ~/.bashrc; COMP_WORDS=(sheetfollow ma); COMP_CWORD=1; "
        '_sheetfollow_completion sheetfollow; echo "${COMPREPLY[@]}"'
    )
    path = f"{SHEETFOLLOW.parent}{os.pathsep}{os.environ.get('PATH', '')}"
    shell = subprocess.run(
        ["bash", "--norc", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={"HOME": str(tmp_path), "PATH": path},
        check=False,
    )
    assert shell.stdout.split() == ["mark"], shell.stderr


# --- Help ---------------------------------------------------------------------------------------


def help_of(cli: Cli, *command: str) -> str:
    result = cli(*command, "--help")
    assert result.exit_code == 0, result.output
    return result.stdout


def test_every_command_has_examples_that_parse(cli: Cli) -> None:
    root = group()
    for name, command in commands().items():
        text = help_of(cli, name)
        assert "Examples:" in text, name
        examples = text.split("Examples:", 1)[1].strip().splitlines()
        assert examples, name
        for line in examples:
            words = shlex.split(line)
            words = words[words.index("sheetfollow") + 1 :]  # after a cron time or a VAR=
            words = words[: words.index(">")] if ">" in words else words
            assert words[0] == name, line
            # Every option and argument in the example is one the command takes.
            parent = root.make_context("sheetfollow", [name], resilient_parsing=True)
            command.make_context(name, words[1:], parent=parent)


def test_help_fits_80_columns(cli: Cli) -> None:
    for name in ("", *commands()):
        text = help_of(cli, *([name] if name else []))
        too_wide = [line for line in text.splitlines() if len(line) > 80]
        assert too_wide == [], name


def test_the_command_list_shows_whole_one_line_summaries(cli: Cli) -> None:
    text = help_of(cli)
    listed = text.split("Commands:", 1)[1].strip().splitlines()
    # One line per command: none wrapped, none cut short.
    assert [line.split()[0] for line in listed] == list(commands())
    assert not [line for line in listed if "..." in line or "…" in line]


#: An option's placeholder in --help, as in "--owner NAME" or "-s, --sheet WORKBOOK".
OPTION_LINE = re.compile(r"^  (?:-\w, )?--[\w-]+ (\S+)(?:  |$)")


def test_placeholders_are_one_style(cli: Cli) -> None:
    for name, command in commands().items():
        text = help_of(cli, name)
        usage = text.splitlines()[0]
        assert not re.search(r"[{}<>]", usage), usage
        words = usage.split("[OPTIONS]", 1)[1].split()
        assert all(re.fullmatch(r"\[?[A-Z_]+\]?", word) for word in words), usage
        placeholders = [m[1] for line in text.splitlines() if (m := OPTION_LINE.match(line))]
        wrong = [p for p in placeholders if not re.fullmatch(r"[A-Z][A-Z_]*", p)]
        assert wrong == [], name
        arguments = [p for p in command.params if p.param_type_name == "argument"]
        for argument in arguments:
            assert f"\n  {argument.metavar or argument.name.upper()}  " in text, name
        assert not re.search(r"<(str|int|path|float|text)>", text), name


def test_help_imports_nothing_heavy() -> None:
    code = (
        "import json, sys\n"
        "from sheetfollow.cli import app\n"
        "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
        "sys.stderr.write(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = json.loads(done.stderr)
    heavy = [
        name
        for name in loaded
        for lib in (*HEAVY_LIBRARIES, "jsonschema", "sheetfollow.mark")
        if name == lib or name.startswith(lib + ".")
    ]
    assert heavy == []


# --- NO_COLOR -----------------------------------------------------------------------------------

#: A colour in an SGR escape: 30-37/90-97 (foreground), 40-47/100-107 (background), 38/48.
COLOUR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-8]|4[0-8]|9[0-7]|10[0-7])(?:;[0-9;]*)?m")


@pytest.fixture
def example(tmp_path: Path) -> Path:
    starter.init(tmp_path / "pipeline.xlsx", example=True, today=starter_day())
    return tmp_path / "sheetfollow.toml"


def starter_day() -> Any:
    from datetime import date

    return date.fromisoformat(TODAY)


def test_no_color_is_respected(example: Path) -> None:
    """FORCE_COLOR makes Rich colour a pipe as it would a terminal; NO_COLOR then wins, for
    the call list on stdout and the error line on stderr alike."""
    forced = {"FORCE_COLOR": "1", "TERM": "xterm-256color"}
    args = ("due", "--config", str(example), "--today", TODAY)
    coloured = sheetfollow(*args, env=forced)
    failed = sheetfollow("due", "--sheet", "missing.xlsx", env=forced)
    assert COLOUR.search(coloured.stdout) and COLOUR.search(failed.stderr)
    plain = sheetfollow(*args, env={**forced, "NO_COLOR": "1"})
    plain_error = sheetfollow("due", "--sheet", "missing.xlsx", env={**forced, "NO_COLOR": "1"})
    assert plain.returncode == 0, plain.stderr
    assert "follow-ups on Wed 11 Mar 2026" in plain.stdout
    assert not COLOUR.search(plain.stdout)
    assert "error:" in plain_error.stderr and not COLOUR.search(plain_error.stderr)


# --- Dates on the command line ------------------------------------------------------------------


@pytest.mark.parametrize(
    "given", ["2026-03-11", "11-03-2026", "11/03/2026", "11.3.2026", "11-3-26"]
)
def test_today_takes_the_formats_the_cells_take(cli: Cli, example: Path, given: str) -> None:
    result = cli("due", "--json", "--config", example, "--today", given)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["day"] == TODAY
    before = cli("--today", given, "stats", "--json", "--config", example, "--since", given)
    assert before.exit_code == 0, before.output
    assert json.loads(before.stdout)["data"]["since"] == TODAY


@pytest.mark.parametrize("given", ["2026-13-01", "31-02-2026", "tomorrow", "2026/3"])
def test_a_wrong_today_is_one_line_naming_the_option(cli: Cli, example: Path, given: str) -> None:
    result = cli("due", "--config", example, "--today", given)
    assert result.exit_code == ExitCode.USAGE
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: --today ") and repr(given) in line
    globally = cli("--today", given, "check", "--config", example)
    assert globally.exit_code == ExitCode.USAGE
    assert len(globally.stderr.strip().splitlines()) == 1
