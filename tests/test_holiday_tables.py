"""Holiday tables loaded one country at a time are the package's own tables: the same
holidays, names, country codes and subdivisions as when every country is loaded. Each side
runs in its own process, since a process loads the countries only once."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

#: Countries and subdivisions teams use, one that borrows another's tables (Åland: Finland),
#: and codes written as aliases.
CASES = [
    ("NL", ""),
    ("DE", "BY"),
    ("DK", ""),
    ("ES", "CT"),
    ("GB", "ENG"),
    ("AX", ""),
    ("UK", ""),
    ("USA", "CA"),
]

TABLES = """
import json, sys
from datetime import date, timedelta
if sys.argv[1] == "all":
    import holidays.countries  # every country, as the package loads them by itself
from sheetfollow.calendar import BusinessCalendar, is_known_region
from sheetfollow import holiday_tables

cases = json.loads(sys.argv[2])
first = date(2020, 1, 1)
days = [first + timedelta(days=n) for n in range(12 * 366)]
tables = {}
for country, subdivision in cases:
    calendar = BusinessCalendar(country=country, subdivision=subdivision)
    tables[f"{country}-{subdivision}"] = [
        (day.isoformat(), calendar.holiday_name(day)) for day in days
        if calendar.holiday_name(day) is not None
    ]
loaded = sorted(m for m in sys.modules if m.startswith("holidays.countries."))
checks = ["NL", "nl", "NL-XX", "DE-BY", "GB-ENG", "ES-CT", "XX", "JAN", "MON", "UK", "US-CA"]
known = {code: is_known_region(code) for code in checks}
regions = {
    code: sorted(holiday_tables.subdivisions(code) or ())
    for code in sorted(holiday_tables.country_codes())
}
print(json.dumps({"tables": tables, "loaded": loaded, "known": known, "regions": regions}))
"""


def run(mode: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", TABLES, mode, json.dumps(CASES)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.fixture(scope="module")
def every_country() -> dict[str, Any]:
    return run("all")


@pytest.fixture(scope="module")
def one_at_a_time() -> dict[str, Any]:
    return run("lean")


def test_the_tables_are_the_same(
    every_country: dict[str, Any], one_at_a_time: dict[str, Any]
) -> None:
    assert one_at_a_time["tables"] == every_country["tables"]
    assert all(one_at_a_time["tables"].values())  # every case has holidays


def test_the_codes_and_subdivisions_are_the_same(
    every_country: dict[str, Any], one_at_a_time: dict[str, Any]
) -> None:
    assert one_at_a_time["known"] == every_country["known"]
    assert one_at_a_time["regions"] == every_country["regions"]


def test_the_codes_are_those_the_package_lists() -> None:
    code = (
        "import json, holidays\n"
        "print(json.dumps({c: sorted(s.upper() for s in subs) "
        "for c, subs in holidays.list_supported_countries().items()}))"
    )
    listed = json.loads(
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
    )
    lean = run("lean")
    assert lean["regions"] == listed


def test_only_the_countries_asked_for_are_loaded(one_at_a_time: dict[str, Any]) -> None:
    modules = {name.rsplit(".", 1)[1] for name in one_at_a_time["loaded"]}
    # Åland borrows Finland's tables; UK is an alias of GB.
    expected = {
        "netherlands",
        "germany",
        "denmark",
        "spain",
        "united_kingdom",
        "aland_islands",
        "finland",
        "united_states",
    }
    assert modules == expected


def test_the_package_still_gives_every_country_by_name() -> None:
    code = (
        "from sheetfollow.calendar import BusinessCalendar\n"
        "import sys\n"
        "calendar = BusinessCalendar(country='NL')\n"
        "from holidays.countries import Netherlands, Germany\n"
        "from holidays.countries.netherlands import Netherlands as Loaded\n"
        "assert Netherlands is Loaded and isinstance(calendar._holidays, Loaded)\n"
        "print(len([m for m in sys.modules if m.startswith('holidays.countries.')]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert int(done.stdout) > 200  # asking the package by name loaded it all, as before
