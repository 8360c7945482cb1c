"""Where sheetfollow finds its config and its sheet: --config, SHEETFOLLOW_CONFIG, the working
folder and its parents, the user config folder; --sheet, SHEETFOLLOW_SHEET, the config.

Real files in real folders; the user config folder is the test's own (tests/conftest.py sets
XDG_CONFIG_HOME), and every walk up the folders stops at a `.git` the test puts there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Cli, calamine_rows

from sheetfollow.config import (
    BY_ENV,
    BY_FOLDER,
    BY_OPTION,
    BY_PARENT,
    BY_USER,
    CONFIG_ENV,
    CONFIG_NAME,
    SHEET_ENV,
    find_config,
    find_sheet,
    load_config,
    user_config_file,
)
from sheetfollow.errors import ConfigError
from sheetfollow.exit_codes import ExitCode

SATURDAY = "2026-12-05"
MONDAY = "2026-12-07"


def config_at(folder: Path, text: str = 'id_prefix = "X-"\n') -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CONFIG_NAME
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A repository folder (it holds .git) with a sub-folder to work in: the walk up the
    folders stops at it, whatever lies above in the test machine's /tmp."""
    root = tmp_path / "project"
    (root / ".git").mkdir(parents=True)
    (root / "deep" / "er").mkdir(parents=True)
    return root


def data(result: object) -> dict[str, object]:
    """The `data` of a --json output."""
    found = json.loads(result.stdout)  # type: ignore[attr-defined]
    assert "data" in found, found
    return found["data"]  # type: ignore[no-any-return]


# --- The order of the rules -----------------------------------------------------------------


def test_each_rule_is_tried_in_order_and_the_first_found_wins(project: Path) -> None:
    work = project / "deep" / "er"
    option = config_at(project / "option")
    named = config_at(project / "named")
    here = config_at(work)
    parent = config_at(project / "deep")
    user = config_at(user_config_file().parent)
    env = {CONFIG_ENV: str(named)}

    assert find_config(option, cwd=work, env=env).rule == BY_OPTION
    assert find_config(None, cwd=work, env=env).file == named.resolve()
    assert find_config(None, cwd=work, env={}).file == here.resolve()
    here.unlink()
    found = find_config(None, cwd=work, env={})
    assert (found.file, found.rule, found.source) == (parent.resolve(), BY_PARENT, str(parent))
    parent.unlink()
    found = find_config(None, cwd=work, env={})
    assert (found.file, found.rule) == (user.resolve(), BY_USER)
    user.unlink()
    found = find_config(None, cwd=work, env={})
    assert found.file is None and found.rule == ""
    # Every place it looked, nearest first, the user folder last.
    assert found.looked == (
        BY_OPTION,
        CONFIG_ENV,
        str(work.resolve() / CONFIG_NAME),
        str(project.resolve() / "deep" / CONFIG_NAME),
        str(project.resolve() / CONFIG_NAME),
        str(user),
    )


def test_the_walk_up_stops_at_the_repository_root(project: Path) -> None:
    # A config above the repository belongs to something else: never used.
    config_at(project.parent)
    found = find_config(None, cwd=project / "deep", env={})
    assert found.file is None
    assert str(project.parent / CONFIG_NAME) not in found.looked


def test_a_config_in_the_working_folder_is_named_as_before(project: Path) -> None:
    config_at(project, "backups = 999\n")
    with pytest.raises(ConfigError) as caught:
        load_config(cwd=project, env={})
    assert str(caught.value).startswith(f"{CONFIG_NAME}: backups must be")
    assert find_config(None, cwd=project, env={}).rule == BY_FOLDER


def test_a_config_found_elsewhere_is_named_by_its_full_path(project: Path) -> None:
    parent = config_at(project, "backups = 999\n")
    with pytest.raises(ConfigError) as caught:
        load_config(cwd=project / "deep", env={})
    assert str(caught.value).startswith(f"{parent}: backups must be")


def test_the_variable_naming_a_missing_file_is_an_error_that_names_the_variable(
    cli: Cli, project: Path
) -> None:
    os.chdir(project)
    result = cli("due", env={CONFIG_ENV: str(project / "gone.toml")})
    assert result.exit_code == ExitCode.CONFIG
    assert result.stderr.splitlines() == [
        f"error: {project / 'gone.toml'}: no such config file ({CONFIG_ENV} names it)"
    ]


def test_the_sheet_is_the_option_then_the_variable_then_the_config(tmp_path: Path) -> None:
    config = load_config(config_at(tmp_path, 'sheet = "book.xlsx"\n'), env={})
    assert find_sheet(None, config, {}) == (str(tmp_path / "book.xlsx"), "sheet in the config")
    env = {SHEET_ENV: "/srv/other.xlsx"}
    assert find_sheet(None, config, env) == ("/srv/other.xlsx", SHEET_ENV)
    assert find_sheet("mine.xlsx", config, env) == ("mine.xlsx", "--sheet")


# --- Through the command line ----------------------------------------------------------------


def test_config_says_what_was_used_and_why(cli: Cli, project: Path) -> None:
    shared = project / "shared"
    assert cli("init", "--example", "--today", MONDAY, shared / "pipeline.xlsx").exit_code == 0
    os.chdir(project / "deep")
    env = {CONFIG_ENV: str(shared / CONFIG_NAME)}
    found = data(cli("config", "--json", env=env))
    assert found["config_file"] == str(shared.resolve() / CONFIG_NAME)
    assert found["config_found_by"] == BY_ENV
    assert found["sheet"] == str(shared.resolve() / "pipeline.xlsx")
    assert found["sheet_found_by"] == "sheet in the config"
    assert found["log_file"] == str(shared.resolve() / ".sheetfollow" / "pipeline.xlsx.log")

    text = cli("config", env={**env, SHEET_ENV: str(shared / "other.xlsx")})
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    assert lines[0] == f"config  {shared.resolve() / CONFIG_NAME} (from {CONFIG_ENV})"
    assert lines[1] == f"sheet   {shared / 'other.xlsx'} (from {SHEET_ENV})"
    assert lines[2] == f"log     {shared.resolve() / '.sheetfollow' / 'other.xlsx.log'}"


def test_nothing_found_names_the_places_and_suggests_init_or_adopt(cli: Cli, project: Path) -> None:
    os.chdir(project / "deep")
    result = cli("due")
    assert result.exit_code == ExitCode.SHEET
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: no sheet given and no {CONFIG_NAME} found (looked in ")
    for folder in (project.resolve() / "deep", project.resolve(), user_config_file().parent):
        assert str(folder) in line
    assert CONFIG_ENV in line and SHEET_ENV in line
    assert "sheetfollow init" in line and "sheetfollow adopt" in line

    shown = data(cli("config", "--json"))
    assert shown["config_file"] is None and shown["sheet"] is None
    assert str(project.resolve() / CONFIG_NAME) in shown["looked"]  # type: ignore[operator]


def test_a_config_in_the_user_folder_serves_every_folder(cli: Cli, project: Path) -> None:
    shared = project / "shared"
    assert cli("init", "--example", "--today", MONDAY, shared / "pipeline.xlsx").exit_code == 0
    config_at(user_config_file().parent, f"sheet = {json.dumps(str(shared / 'pipeline.xlsx'))}\n")
    os.chdir(project / "deep" / "er")
    found = data(cli("config", "--json"))
    assert found["config_found_by"] == BY_USER
    due = cli("due", "--json", "--today", MONDAY)
    assert due.exit_code == 0, due.output
    assert data(due)


def test_a_salesperson_sets_the_variable_once_and_mark_works_from_any_folder(
    tmp_path: Path, project: Path
) -> None:
    """The real program, as a shell starts it, in a folder far from the workbook."""
    shared = tmp_path / "server" / "sales"
    env = {
        **os.environ,
        CONFIG_ENV: str(shared / CONFIG_NAME),
        "COLUMNS": "80",
        "SHEETFOLLOW_DEBUG": "1",
    }

    def sheetfollow(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sheetfollow", *args],
            cwd=project / "deep",
            env=env,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=120,
            check=False,
        )

    made = sheetfollow("init", "--example", "--today", MONDAY, str(shared / "pipeline.xlsx"))
    assert made.returncode == 0, made.stderr
    calls = sheetfollow("due", "--json", "--today", MONDAY)
    assert calls.returncode == 0, calls.stderr
    first = json.loads(calls.stdout)["data"][0]
    before = len(calamine_rows(shared / "pipeline.xlsx", "Log"))

    marked = sheetfollow("mark", first["id"], "no-answer", "--today", MONDAY)
    assert marked.returncode == 0, marked.stderr
    assert first["id"] in marked.stdout
    log = calamine_rows(shared / "pipeline.xlsx", "Log")
    assert len(log) == before + 1
    assert first["id"] in [str(cell) for cell in log[-1]]
    # Nothing was written where the command was typed.
    assert sorted(p.name for p in (project / "deep").iterdir()) == ["er"]
