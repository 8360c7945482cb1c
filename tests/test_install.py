"""Install what you use: the Google libraries are the extra sheetfollow[google]. An Excel-only
install pulls none of them, works without them, and a Google Sheet given to it says in one
line what to install."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sheetfollow.exit_codes import ExitCode

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
#: What the Google backend imports (sheetfollow/backends/gsheets.py), by distribution name.
GOOGLE = {"gspread", "google-auth", "requests"}
SHEET_KEY = "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms"


def name_of(requirement: str) -> str:
    found = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert found, requirement
    return found[0].lower().replace("_", "-")


def test_the_google_libraries_are_an_extra_in_pyproject() -> None:
    assert not GOOGLE & {name_of(r) for r in PROJECT["dependencies"]}
    extras = PROJECT["optional-dependencies"]
    assert {name_of(r) for r in extras["google"]} == GOOGLE
    assert "sheetfollow[google]" in extras["dev"]  # the tests run the Google backend too


def test_the_installed_metadata_requires_google_libraries_only_for_the_extra() -> None:
    """What pip reads: the Requires-Dist of the installed distribution."""
    requires = importlib.metadata.distribution("sheetfollow").requires or []
    unconditional = {name_of(r) for r in requires if "extra ==" not in r}
    assert not GOOGLE & unconditional, unconditional
    assert "platformdirs" in unconditional
    for_google = {name_of(r) for r in requires if re.search(r"extra == .google.", r)}
    assert for_google == GOOGLE


#: Runs sheetfollow's command line in a Python where the Google libraries cannot be imported,
#: as after `pip install .`: None in sys.modules makes every import of them fail.
WITHOUT_GOOGLE = """
import sys
for name in ("gspread", "google", "google.auth", "google.oauth2", "requests"):
    sys.modules[name] = None
from sheetfollow.cli import main
sys.argv[0] = "sheetfollow"
main()
"""


def without_google(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_GOOGLE, *args],
        cwd=cwd,
        env={**os.environ, "COLUMNS": "80", "SHEETFOLLOW_DEBUG": "1"},
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def excel_team(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("excel")
    made = without_google(folder, "init", "--example", "--today", "2026-12-07", "pipeline.xlsx")
    assert made.returncode == 0, made.stderr
    return folder


def test_an_excel_team_needs_no_google_library(excel_team: Path) -> None:
    for args in (("refresh",), ("notify", "--dry-run")):
        result = without_google(excel_team, *args, "--today", "2026-12-07")
        assert result.returncode in (ExitCode.OK, ExitCode.PROBLEMS), (args, result.stderr)
        assert "Traceback" not in result.stderr


def test_a_google_sheet_without_the_libraries_says_what_to_install(excel_team: Path) -> None:
    result = without_google(excel_team, "check", "--sheet", SHEET_KEY)
    assert result.returncode == ExitCode.CONFIG
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: {SHEET_KEY} is a Google Sheet")
    assert line.endswith("pip install 'sheetfollow[google]'")

    url = f"https://docs.google.com/spreadsheets/d/{SHEET_KEY}/edit"
    as_json = without_google(excel_team, "due", "--json", "--sheet", url)
    assert as_json.returncode == ExitCode.CONFIG
    error = json.loads(as_json.stdout)["error"]
    assert (error["code"], error["kind"]) == (ExitCode.CONFIG, "config")
    assert url in error["message"]
