"""Dates and amounts typed the way the team types them; init's defaults per language."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

import pytest
from conftest import Cli

from sheetfollow import schema
from sheetfollow.config import Config, config_from_text, team_date_order, team_locale
from sheetfollow.errors import ConfigError
from sheetfollow.sheet import EPOCH_1900

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@pytest.mark.parametrize(
    ("text", "order", "expected"),
    [
        ("11/02/2026", "DMY", date(2026, 2, 11)),
        ("11/02/2026", "MDY", date(2026, 11, 2)),
        ("12/31/2026", "MDY", date(2026, 12, 31)),
        ("31.12.2026", "DMY", date(2026, 12, 31)),
        ("26-12-31", "YMD", date(2026, 12, 31)),
        ("2026-02-11", "MDY", date(2026, 2, 11)),  # ISO reads the same in every order
        ("2026-02-11", "DMY", date(2026, 2, 11)),
    ],
)
def test_text_dates_in_the_teams_order(text: str, order: str, expected: date) -> None:
    assert schema.parse_date(text, epoch=EPOCH_1900, order=order) == expected


def test_a_day_first_date_is_no_date_for_a_month_first_team() -> None:
    with pytest.raises(schema.BadValue, match="12/31/2026"):
        schema.parse_date("31/12/2026", epoch=EPOCH_1900, order="MDY")


@pytest.mark.parametrize(
    ("text", "locale", "expected"),
    [
        ("12.500,50", "nl_NL", 12500.5),
        ("€ 12,500", "en_US", 12500.0),
        ("12 500 kr", "da_DK", 12500.0),
        ("12,5", "nl_NL", 12.5),
        ("12.5", "en_US", 12.5),
        ("1.234.567", "de_DE", 1234567.0),
        ("1.500", "es_ES", 1500.0),  # not how es_ES groups, but the guess reads it
        ("12.500,50", "", 12500.5),  # no locale: the guess
    ],
)
def test_amounts_in_the_teams_locale(text: str, locale: str, expected: float) -> None:
    assert schema.parse_amount(text, locale) == expected


def test_date_order_key_and_its_defaults() -> None:
    def load(text: str) -> Config:
        return config_from_text(text, source="sheetfollow.toml", base=Path("."))

    assert team_date_order(load('date_order = "mdy"\n')) == "MDY"
    assert team_date_order(load('[calendar]\ncountry = "US"\n')) == "MDY"
    assert team_date_order(load('[calendar]\ncountry = "NL"\n')) == "DMY"
    assert team_date_order(Config()) == "DMY"
    assert team_locale(load('language = "nl"\n[calendar]\ncountry = "NL"\n')) == "nl_NL"
    with pytest.raises(ConfigError, match="date_order"):
        load('date_order = "DDMM"\n')


def test_a_us_sheet_reads_month_first(cli: Cli, tmp_path: Path) -> None:
    import openpyxl

    path = tmp_path / "pipeline.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Prospects"
    sheet.append(["Company", "Owner", "Value", "Last contact", "Last outcome", "Attempts"])
    sheet.append(["Acme", "Anna", "$12,500", "11/02/2026", "no answer", 1])
    book.save(path)
    (tmp_path / "sheetfollow.toml").write_text(
        'sheet = "pipeline.xlsx"\n[calendar]\ncountry = "US"\n', encoding="utf-8"
    )
    result = cli("due", "--json", "--today", "2026-11-05")
    assert result.exit_code == 0, result.output
    assert '"last_contact": "2026-11-02"' in result.output
    assert '"value": 12500.0' in result.output


@pytest.mark.parametrize(
    ("args", "zone", "country"),
    [
        (["--lang", "de"], "Europe/Berlin", "DE"),
        (["--lang", "da"], "Europe/Copenhagen", "DK"),
        (["--lang", "es"], "Europe/Madrid", "ES"),
        (["--lang", "nl"], "Europe/Amsterdam", "NL"),
        (["--lang", "en", "--country", "US"], "America/New_York", "US"),
        (["--lang", "de", "--country", "AT", "--timezone", "Europe/Vienna"], "Europe/Vienna", "AT"),
    ],
)
def test_init_picks_the_languages_zone_and_country(
    cli: Cli, tmp_path: Path, args: list[str], zone: str, country: str
) -> None:
    result = cli("init", tmp_path / "p.xlsx", *args, "--today", "2026-12-01")
    assert result.exit_code == 0, result.output
    config = tomllib.loads((tmp_path / "sheetfollow.toml").read_text(encoding="utf-8"))
    assert config["timezone"] == zone
    assert config["calendar"]["country"] == country
    assert config["date_order"] == ("MDY" if country == "US" else "DMY")


def test_mark_on_reads_the_teams_order(cli: Cli, tmp_path: Path) -> None:
    result = cli("init", tmp_path / "p.xlsx", "--country", "US", "--today", "2026-12-01")
    assert result.exit_code == 0, result.output
    marked = cli(
        "mark", "P-0002", "call-back", "--on", "12/14/2026", "--today", "2026-12-01", "--json"
    )
    assert marked.exit_code == 0, marked.output
    assert "2026-12-14" in marked.output


def test_today_is_read_in_the_teams_date_order(cli: Cli, tmp_path: Path) -> None:
    """A US team's --today 12/07/2026 is 7 Dec; a Dutch team's is 12 Jul."""
    us, nl = tmp_path / "us", tmp_path / "nl"
    for folder, args in ((us, ("--country", "US")), (nl, ())):
        folder.mkdir()
        made = cli("init", folder / "p.xlsx", "--example", *args, "--today", "2026-12-01")
        assert made.exit_code == 0, made.output
    days = {}
    for folder in (us, nl):
        result = cli(
            "due", "--json", "--today", "12/07/2026", "--config", folder / "sheetfollow.toml"
        )
        assert result.exit_code == 0, result.output
        days[folder.name] = json.loads(result.stdout)["day"]
    assert days == {"us": "2026-12-07", "nl": "2026-07-12"}
    wrong = cli("due", "--today", "31/31/2026", "--config", us / "sheetfollow.toml")
    assert wrong.exit_code == 2
    assert "--today '31/31/2026' is not a date" in wrong.output
