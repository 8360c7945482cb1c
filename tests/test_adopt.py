"""`sheetfollow adopt`: a team's own workbook, set up without changing it, then run.

Each workbook is made by hand the way teams make them: a title row above the headers,
headers in the team's language (a currency after Value), a Status column of the team's own
(Warm/Koud/Heet ...), a totals row with a formula, a note under the list, an Owners tab.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from conftest import Cli
from openpyxl.styles import Font, PatternFill

from sheetfollow.exit_codes import ExitCode

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TODAY = "2026-12-01"


@dataclass(frozen=True)
class Team:
    lang: str
    country: str
    date_order: str
    tab: str
    owners_tab: str
    headers: tuple[str, ...]  # company, contact, email, owner, value, last contact, status
    statuses: tuple[str, str, str]
    total: str
    last_contacts: tuple[str, str, str]  # typed as text, in the team's order
    owners: tuple[str, str, str, str]  # Owners tab headers: owner, email, language, country


TEAMS = {
    "nl": Team(
        "nl",
        "NL",
        "DMY",
        "Pijplijn",
        "Eigenaren",
        ("Bedrijf", "Contactpersoon", "E-mail", "Eigenaar", "Waarde (€)", "Laatste contact"),
        ("Warm", "Koud", "Heet"),
        "Totaal",
        ("25-11-2026", "20-11-2026", "13-11-2026"),
        ("Eigenaar", "E-mail", "Taal", "Land"),
    ),
    "de": Team(
        "de",
        "DE",
        "DMY",
        "Vertrieb",
        "Verantwortliche",
        ("Firma", "Ansprechpartner", "E-Mail", "Verantwortlich", "Wert (EUR)", "Letzter Kontakt"),
        ("Heiß", "Lauwarm", "Kalt"),
        "Summe",
        ("25.11.2026", "20.11.2026", "13.11.2026"),
        ("Verantwortlich", "E-Mail", "Sprache", "Land"),
    ),
    "da": Team(
        "da",
        "DK",
        "DMY",
        "Salg",
        "Ejere",
        ("Virksomhed", "Kontaktperson", "E-mail", "Ejer", "Værdi (kr)", "Sidste kontakt"),
        ("Varm", "Kold", "Lun"),
        "I alt",
        ("25-11-2026", "20-11-2026", "13-11-2026"),
        ("Ejer", "E-mail", "Sprog", "Land"),
    ),
    "es": Team(
        "es",
        "ES",
        "DMY",
        "Ventas",
        "Propietarios",
        (
            "Empresa",
            "Contacto",
            "Correo electrónico",
            "Propietario",
            "Valor (€)",
            "Último contacto",
        ),
        ("Caliente", "Frío", "Tibio"),
        "Total",
        ("25/11/2026", "20/11/2026", "13/11/2026"),
        ("Propietario", "Correo electrónico", "Idioma", "País"),
    ),
    "en": Team(
        "en",
        "US",
        "MDY",
        "Pipeline",
        "Owners",
        ("Company", "Contact", "Email", "Owner", "Value ($)", "Last contact"),
        ("Hot", "Cold", "Warm"),
        "Total",
        ("11/25/2026", "11/20/2026", "11/13/2026"),
        ("Owner", "Email", "Language", "Country"),
    ),
}


def make_workbook(path: Path, team: Team) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = team.tab
    sheet["A1"] = f"{team.tab} 2026"
    sheet["A1"].font = Font(bold=True, size=14)
    headers = [*team.headers, "Status", "Notes" if team.lang == "en" else "Region"]
    for column, text in enumerate(headers, start=1):
        cell = sheet.cell(row=3, column=column, value=text)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="FFD966")
    people = [
        ("Alpha", "Ann", "ann@alpha.example", "Anna", 12500, team.last_contacts[0]),
        ("Beta", "Ben", "ben@beta.example", "Anna", 3000, team.last_contacts[1]),
        ("Gamma", "Gus", "gus@gamma.example", "Bob", 7000, team.last_contacts[2]),
    ]
    for row, (values, status) in enumerate(zip(people, team.statuses, strict=True), start=4):
        for column, value in enumerate([*values, status, "north"], start=1):
            sheet.cell(row=row, column=column, value=value)
    sheet.cell(row=7, column=1, value=team.total)
    sheet.cell(row=7, column=5, value="=SUM(E4:E6)")
    sheet.cell(row=9, column=1, value="Only customers in our region.")
    owners = book.create_sheet(team.owners_tab)
    owners.append(list(team.owners))
    owners.append(["Anna", "anna@example.com", team.lang, team.country])
    owners.append(["Bob", "bob@example.com", team.lang, team.country])
    book.save(path)


def cells(path: Path, tab: str) -> dict[tuple[int, int], Any]:
    book = openpyxl.load_workbook(path)
    sheet = book[tab]
    return {
        (cell.row, cell.column): cell.value
        for row in sheet.iter_rows()
        for cell in row
        if cell.value is not None
    }


@pytest.mark.parametrize("lang", list(TEAMS))
def test_adopt_then_run_changes_no_team_cell(cli: Cli, tmp_path: Path, lang: str) -> None:
    team = TEAMS[lang]
    workbook = tmp_path / "team.xlsx"
    make_workbook(workbook, team)
    before = workbook.read_bytes()
    team_cells = cells(workbook, team.tab)

    adopted = cli("adopt", workbook)
    assert adopted.exit_code == 0, adopted.output
    assert workbook.read_bytes() == before  # adopt never changes the workbook
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sheetfollow.toml", "team.xlsx"]
    assert "holds your own values" in adopted.output
    assert "row 7: totals row" in adopted.output

    config = tomllib.loads((tmp_path / "sheetfollow.toml").read_text(encoding="utf-8"))
    assert config["language"] == lang
    assert config["calendar"]["country"] == team.country
    assert config["date_order"] == team.date_order
    assert config["tabs"]["prospects"] == team.tab
    assert config["tabs"]["owners"] == team.owners_tab
    assert config["headers"]["value"] == team.headers[4]
    assert config["headers"]["status"].endswith("(sheetfollow)")

    checked = cli("check", "--today", TODAY)
    assert checked.exit_code == 0, checked.output
    assert "row 7: totals row" in checked.output
    assert "row 9: note or heading" in checked.output

    ran = cli("run", "--outbox", tmp_path / "outbox", "--today", TODAY)
    assert ran.exit_code == 0, ran.output
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 2

    after = cells(workbook, team.tab)
    # Every team cell is as it was; the new cells are all in new columns to the right.
    assert {key: after[key] for key in team_cells} == team_cells
    added = set(after) - set(team_cells)
    assert added and all(column > 8 for _, column in added)
    # The totals row and the note got nothing: no ID, no status.
    assert not [key for key in added if key[0] in (7, 8, 9)]
    # Dates typed in the team's order were read so: the first row's follow-up comes after
    # its last contact on 25 November, not on a day in February.
    headers = {after[(3, c)]: c for c in range(1, 20) if (3, c) in after}
    next_header = [h for h in headers if h not in team.headers and "(sheetfollow)" not in h]
    statuses = [after[(r, headers[config["headers"]["status"]])] for r in (4, 5, 6)]
    assert all(statuses)
    dates = [
        after[(4, headers[h])] for h in next_header if hasattr(after.get((4, headers[h])), "year")
    ]
    assert dates and dates[0].date() >= date(2026, 11, 25)


def test_adopt_refuses_to_replace_a_config(cli: Cli, tmp_path: Path) -> None:
    workbook = tmp_path / "team.xlsx"
    make_workbook(workbook, TEAMS["nl"])
    (tmp_path / "sheetfollow.toml").write_text('language = "de"\n', encoding="utf-8")

    refused = cli("adopt", workbook)
    assert refused.exit_code == ExitCode.USAGE
    assert "--force" in refused.output
    assert (tmp_path / "sheetfollow.toml").read_text(encoding="utf-8") == 'language = "de"\n'

    shown = cli("adopt", workbook, "--print")
    assert shown.exit_code == 0
    assert 'status = "Status (sheetfollow)"' in shown.output
    assert (tmp_path / "sheetfollow.toml").read_text(encoding="utf-8") == 'language = "de"\n'

    replaced = cli("adopt", workbook, "--force", "--json")
    assert replaced.exit_code == 0, replaced.output
    assert 'language = "nl"' in (tmp_path / "sheetfollow.toml").read_text(encoding="utf-8")


def test_init_on_a_workbook_points_to_adopt(cli: Cli, tmp_path: Path) -> None:
    workbook = tmp_path / "team.xlsx"
    make_workbook(workbook, TEAMS["nl"])
    before = workbook.read_bytes()
    result = cli("init", workbook)
    assert result.exit_code == ExitCode.USAGE
    assert "sheetfollow adopt" in result.output
    assert "--overwrite" not in result.output
    assert workbook.read_bytes() == before


def test_the_teams_status_is_never_taken_over(cli: Cli, tmp_path: Path) -> None:
    """Without adopt's mapping, check and --dry-run warn, and refresh refuses in one line."""
    workbook = tmp_path / "team.xlsx"
    make_workbook(workbook, TEAMS["nl"])
    (tmp_path / "sheetfollow.toml").write_text(
        'sheet = "team.xlsx"\nrequire_touch_columns = false\n'
        '[tabs]\nprospects = "Pijplijn"\nowners = "Eigenaren"\n',
        encoding="utf-8",
    )
    before = workbook.read_bytes()

    checked = cli("check", "--today", TODAY)
    assert checked.exit_code == ExitCode.PROBLEMS
    assert "Pijplijn!G3: column 'Status' holds your own values (Warm, Koud, Heet)" in (
        checked.output
    )
    dry = cli("refresh", "--dry-run", "--today", TODAY)
    assert dry.exit_code == 0
    assert "warning: Pijplijn!G3" in dry.output
    refused = cli("refresh", "--today", TODAY)
    assert refused.exit_code == ExitCode.SHEET
    assert '[headers] status = "Status (sheetfollow)"' in refused.output
    assert workbook.read_bytes() == before

    # The fix the message gives works without typing the new header in first.
    with (tmp_path / "sheetfollow.toml").open("a", encoding="utf-8") as config:
        config.write('[headers]\nstatus = "Status (sheetfollow)"\n')
    done = cli("refresh", "--today", TODAY)
    assert done.exit_code == 0, done.output
    after = cells(workbook, "Pijplijn")
    assert [after[(r, 7)] for r in (4, 5, 6)] == ["Warm", "Koud", "Heet"]
    assert "Status (sheetfollow)" in after.values()
