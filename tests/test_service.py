"""The use cases of service.py on real workbooks: refresh, due and check, end to end.

Every test writes a real .xlsx into tmp_path, runs the service through the real Excel
backend, and reads the result back with two independent readers (openpyxl and
python-calamine), both of which must open the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from conftest import (
    REGION_OF,
    SOURCE_OF,
    TEAM_CONFIG,
    TEAM_EXPECTED,
    TEAM_FIELDS,
    TEAM_OWNERS,
    TEAM_ROWS,
    TODAY,
    Cell,
    Layout,
    Tab,
    Team,
    as_date,
    calamine_rows,
    file_state,
    header_text,
    openpyxl_rows,
    records,
    write_team,
    write_workbook,
)
from openpyxl import load_workbook

from sheetfollow import i18n, service, vocab
from sheetfollow.calendar import calendar_for
from sheetfollow.config import Config, load_config
from sheetfollow.errors import SheetError, UsageError
from sheetfollow.exit_codes import ExitCode
from sheetfollow.fields import LOG_FIELDS, OWNED_FIELDS
from sheetfollow.models import Outcome, Owner, Prospect, Stage
from sheetfollow.rules import compute
from sheetfollow.schema import col_letter

OWNED_HEADERS = [header_text(name) for name in OWNED_FIELDS]


def refresh(team: Team, today: date = TODAY, **options: Any) -> service.RefreshSummary:
    config = load_config(team.config)
    return service.refresh(service.open_backend(None, config), config, today, **options)


def load(team: Team, today: date = TODAY) -> service.Pipeline:
    config = load_config(team.config)
    return service.load(service.open_backend(None, config), config, today)


def by_company(path: Path, tab: str = "Prospects", header_row: int = 1) -> dict[str, list[Any]]:
    """calamine's view: {company: row values}, company taken from the Company column."""
    rows = calamine_rows(path, tab)
    column = rows[header_row - 1].index("Company")
    return {str(row[column]): row for row in rows[header_row:] if row[column]}


# --- What refresh writes ------------------------------------------------------------------


def owners() -> dict[str, Owner]:
    """The team's Owners tab, as the documented fallback reads it: an unknown country ("XX")
    means the team calendar."""
    header, *rows = TEAM_OWNERS
    found = {}
    for row in rows:
        cells = dict(zip(header, row, strict=True))
        country = str(cells["Country"] or "")
        found[str(cells["Owner"])] = Owner(
            name=str(cells["Owner"]),
            email=str(cells["Email"]),
            delegate=str(cells["Delegate"] or ""),
            country="" if country == "XX" else country,
        )
    return found


def typed_prospect(row: int, cells: Mapping[str, Cell]) -> Prospect:
    """A team row as a Prospect, built by hand from the typed values (no sheet parsing)."""

    def text(name: str) -> str:
        return str(cells.get(name) or "")

    def day(name: str) -> date | None:
        value = cells.get(name)
        assert value is None or isinstance(value, date)
        return value

    value = cells.get("value")
    attempts = cells.get("attempts")
    return Prospect(
        row=row,
        id=text("id"),
        company=text("company"),
        contact=text("contact"),
        phone=text("phone"),
        owner=text("owner"),
        stage=Stage(text("stage")) if cells.get("stage") else None,
        value=float(value) if isinstance(value, (int, float)) else None,
        created=day("created"),
        last_contact=day("last_contact"),
        last_outcome=Outcome(text("last_outcome")) if cells.get("last_outcome") else None,
        attempts=attempts if isinstance(attempts, int) else 0,
        follow_up_on=day("follow_up_on"),
    )


def test_refresh_writes_what_the_rules_compute(team: Team) -> None:
    refresh(team)
    config = load_config(team.config)
    written = records(team.workbook)
    second_reader = by_company(team.workbook)
    checked = 0
    for number, cells in enumerate(TEAM_ROWS, start=2):
        if cells["company"] == "Golf SA":
            continue  # its Last contact is broken; see the needs-attention test
        owner = owners()[str(cells["owner"])]
        prospect = typed_prospect(number, cells)
        calendar = calendar_for(config.calendar, owner.country)
        want = compute(prospect, rules=config.rules, calendar=calendar, today=TODAY, owner=owner)
        row = written[prospect.company]
        assert as_date(row["Next follow-up"]) == want.next_follow_up
        assert row["Status"] == want.status.value
        assert (row["Step"] or "") == want.step
        assert row["Why"] == want.why
        assert row["Assigned to"] == want.assigned_to
        again = second_reader[prospect.company]
        assert again[TEAM_FIELDS.index("status")] == want.status.value
        assert again[TEAM_FIELDS.index("why")] == want.why
        assert again[TEAM_FIELDS.index("next_follow_up")] == want.next_follow_up
        checked += 1
    assert checked == len(TEAM_ROWS) - 1


def test_refresh_gives_the_answers_worked_out_by_hand(team: Team) -> None:
    refresh(team)
    written = records(team.workbook)
    for company, expected in TEAM_EXPECTED.items():
        row = written[company]
        got = (as_date(row["Next follow-up"]), row["Status"], row["Step"] or "")
        assert got == (expected.next_follow_up, expected.status, expected.step), company
        assert row["Assigned to"] == expected.assigned_to, company


def test_next_follow_up_is_a_real_date_cell_with_a_date_format(team: Team) -> None:
    refresh(team)
    workbook = load_workbook(team.workbook)
    sheet = workbook["Prospects"]
    column = TEAM_FIELDS.index("next_follow_up") + 1
    dated = 0
    for row in range(2, len(TEAM_ROWS) + 2):
        cell = sheet.cell(row=row, column=column)
        if cell.value is None:
            continue
        assert cell.is_date, (row, cell.value)
        assert isinstance(cell.value, datetime)
        assert any(part in cell.number_format.lower() for part in ("yy", "dd", "mmm")), (
            cell.number_format
        )
        dated += 1
    workbook.close()
    expected = sum(1 for e in TEAM_EXPECTED.values() if e.next_follow_up is not None)
    assert dated == expected == 7
    # calamine reads the same cells as dates, not as serial numbers or text.
    assert by_company(team.workbook)["Hotel Oy"][column - 1] == date(2026, 4, 1)


def test_blank_ids_are_filled_continuing_the_highest_existing_one(team: Team) -> None:
    summary = refresh(team)
    written = records(team.workbook)
    assert written["Echo Ltd"]["ID"] == "P-0011"
    assert written["Foxtrot AS"]["ID"] == "P-0012"
    ids = [row["ID"] for row in written.values()]
    assert len(ids) == len(set(ids)) == len(TEAM_ROWS)
    assert summary.ids_filled == 2


def non_owned_cells(
    rows: list[list[Any]], owned_columns: set[int], filled: set[tuple[int, int]]
) -> dict[tuple[int, int], Any]:
    """Every non-empty cell outside the owned columns and the IDs sheetfollow filled in."""
    return {
        (r, c): value
        for r, row in enumerate(rows, start=1)
        for c, value in enumerate(row, start=1)
        if value is not None and c not in owned_columns and (r, c) not in filled
    }


def test_every_cell_outside_the_owned_columns_is_unchanged(team: Team) -> None:
    owned = {TEAM_FIELDS.index(name) + 1 for name in OWNED_FIELDS}
    id_column = TEAM_FIELDS.index("id") + 1
    blank_ids = {(n, id_column) for n, row in enumerate(TEAM_ROWS, start=2) if "id" not in row}
    before = {
        "openpyxl": openpyxl_rows(team.workbook),
        "calamine": calamine_rows(team.workbook),
        "owners": calamine_rows(team.workbook, "Owners"),
    }
    formats_before = number_formats(team.workbook, owned, blank_ids)

    refresh(team)

    for reader, read in (("openpyxl", openpyxl_rows), ("calamine", calamine_rows)):
        kept = non_owned_cells(read(team.workbook), owned, blank_ids)
        assert kept == non_owned_cells(before[reader], owned, blank_ids), reader
    assert calamine_rows(team.workbook, "Owners") == before["owners"]
    assert number_formats(team.workbook, owned, blank_ids) == formats_before
    # The column sheetfollow does not know, formula included, is as it was.
    regions = {c: r["Region"] for c, r in records(team.workbook).items() if r["Region"]}
    assert regions == REGION_OF


def number_formats(
    path: Path, owned_columns: set[int], filled: set[tuple[int, int]]
) -> dict[str, str]:
    workbook = load_workbook(path)
    formats = {
        cell.coordinate: cell.number_format
        for row in workbook["Prospects"].iter_rows()
        for cell in row
        if cell.value is not None
        and cell.column not in owned_columns
        and (cell.row, cell.column) not in filled
    }
    workbook.close()
    return formats


def test_the_broken_row_needs_attention_and_the_rest_is_computed(team: Team) -> None:
    summary = refresh(team)
    written = records(team.workbook)
    golf = written["Golf SA"]
    assert golf["Status"] == "needs attention"
    assert golf["Why"].startswith("Check Prospects!J8: 'soon' is not a date")
    assert golf["Next follow-up"] is None
    # Its own data is left exactly as it was.
    assert golf["Last contact"] == "soon"
    assert golf["Attempts"] == 1
    assert golf["Last outcome"] == "no answer"
    assert summary.needs_attention == 1
    computed = [c for c, r in written.items() if r["Status"] != "needs attention"]
    assert len(computed) == len(TEAM_ROWS) - 1


def test_an_owner_whose_country_is_unknown_does_not_stop_the_run(team: Team) -> None:
    refresh(team)
    delta = records(team.workbook)["Delta GmbH"]
    assert (as_date(delta["Next follow-up"]), delta["Status"]) == (date(2026, 3, 9), "overdue")
    problems = service.check(load(team))
    assert [p.ref for p in problems if p.ref.startswith("Owners!")] == ["Owners!E4"]
    assert "'XX'" in problems[0].message


def test_the_summary_counts_what_was_worked_out_by_hand(team: Team) -> None:
    summary = refresh(team)
    assert summary.as_dict() == {
        "sheet": str(team.workbook),
        "rows": 10,
        "new": 2,  # Acme Tools, India Pty
        "due": 3,  # the two new leads and Cobalt BV
        "overdue": 2,  # Brick & Co, Delta GmbH
        "dead": 1,  # Foxtrot AS
        "needs_attention": 1,  # Golf SA
        # Five owned cells a row, less the empty ones: Foxtrot has no date (4), Golf SA no
        # date or step (3), Juliet Inc no date or step (3); plus the two IDs filled in.
        "cells_changed": 7 * 5 + 4 + 3 + 3 + 2,
        "ids_filled": 2,
        "columns_added": [],
        "skipped": [],
        "dry_run": False,
        "typed_touches": [],
        "pending": None,
        "notes": [],
    }


def test_a_second_refresh_on_the_same_day_does_not_touch_the_file(team: Team) -> None:
    refresh(team)
    before = file_state(team.workbook)
    backups = sorted((team.folder / ".sheetfollow" / "backups").iterdir())
    summary = refresh(team)
    assert summary.cells_changed == 0
    assert summary.ids_filled == 0
    assert file_state(team.workbook) == before
    assert sorted((team.folder / ".sheetfollow" / "backups").iterdir()) == backups


def test_dry_run_counts_the_changes_and_writes_nothing(team: Team) -> None:
    before = file_state(team.workbook)
    summary = refresh(team, dry_run=True)
    assert summary.dry_run
    assert summary.cells_changed == 47
    assert summary.ids_filled == 2
    assert file_state(team.workbook) == before
    assert not (team.folder / ".sheetfollow" / "backups").exists()
    # And the dry run predicted exactly what the real one does.
    assert refresh(team).cells_changed == 47


def test_another_today_gives_other_results(team: Team) -> None:
    friday = date(2026, 3, 13)
    refresh(team, friday)
    on_friday = records(team.workbook)
    assert on_friday["Echo Ltd"]["Status"] == "due"
    assert on_friday["Cobalt BV"]["Status"] == "overdue"
    assert on_friday["Acme Tools"]["Status"] == "overdue"
    assert as_date(on_friday["Echo Ltd"]["Next follow-up"]) == friday
    summary = refresh(team, TODAY)
    assert summary.cells_changed > 0
    assert records(team.workbook)["Echo Ltd"]["Status"] == "scheduled"


def test_rows_a_person_emptied_lose_their_stale_owned_cells(tmp_path: Path) -> None:
    stale: dict[str, Cell] = {
        "next_follow_up": date(2026, 3, 1),
        "status": "overdue",
        "step": "2 of 5",
        "why": "Attempt 2 was due a while ago.",
        "assigned_to": "Anna",
    }
    path = write_team(tmp_path, Layout(extra_rows=[stale]))
    team = Team(tmp_path, path, tmp_path / "sheetfollow.toml", TODAY)
    row = len(TEAM_ROWS) + 1  # 0-based index of the emptied row, below the team's
    owned = [TEAM_FIELDS.index(name) for name in OWNED_FIELDS]
    assert [calamine_rows(path)[row][i] for i in owned] == list(stale.values())
    summary = refresh(team)
    for read in (openpyxl_rows, calamine_rows):
        emptied = read(path)[row] if len(read(path)) > row else []
        assert not any(emptied), emptied
    assert summary.rows == len(TEAM_ROWS)
    assert summary.cells_changed == 47 + len(stale)
    assert refresh(team).cells_changed == 0


# --- Other layouts ------------------------------------------------------------------------


def localised(rows: tuple[Mapping[str, Cell], ...], lang: str) -> list[dict[str, Cell]]:
    """The team's rows with stages and outcomes typed in `lang`."""
    out = []
    for row in rows:
        copy = dict(row)
        if isinstance(row.get("stage"), str):
            copy["stage"] = vocab.STAGE_NAMES[lang][Stage(str(row["stage"]))]
        if isinstance(row.get("last_outcome"), str):
            copy["last_outcome"] = vocab.OUTCOME_NAMES[lang][Outcome(str(row["last_outcome"]))]
        out.append(copy)
    return out


INPUTS = [name for name in TEAM_FIELDS if name not in OWNED_FIELDS]

LAYOUTS = {
    "title rows above the headers": Layout(
        title_rows=[["Pipeline Q1 2026", None, "exported by hand"], [], ["Owner: everyone"]]
    ),
    "Dutch headers and words": Layout(lang="nl", rows=tuple(localised(TEAM_ROWS, "nl"))),
    "German headers and words": Layout(lang="de", rows=tuple(localised(TEAM_ROWS, "de"))),
    "columns in odd order": Layout(
        fields=[
            "why",
            "owner",
            "region",
            "last_outcome",
            "status",
            "company",
            "attempts",
            "next_follow_up",
            "last_contact",
            "value",
            "assigned_to",
            "created",
            "stage",
            "phone",
            "follow_up_on",
            "step",
            "contact",
            "id",
        ]
    ),
    "an Excel Table without the owned columns": Layout(
        fields=INPUTS, excel_table=True, title_rows=[["Our pipeline"]]
    ),
    "no owned columns, an unknown column last": Layout(fields=[*INPUTS, "source"]),
}


def config_for(layout: Layout) -> str:
    tabs = vocab.TAB_NAMES[layout.lang]
    return TEAM_CONFIG.replace('language = "en"', f'language = "{layout.lang}"') + (
        f'\n[tabs]\nprospects = "{tabs["prospects"]}"\nowners = "{tabs["owners"]}"\n'
    )


@pytest.mark.parametrize("layout", LAYOUTS.values(), ids=LAYOUTS.keys())
def test_every_layout_gives_the_same_answers(tmp_path: Path, layout: Layout) -> None:
    path = write_team(tmp_path, layout, config=config_for(layout))
    team = Team(tmp_path, path, tmp_path / "sheetfollow.toml", TODAY)
    tab = vocab.TAB_NAMES[layout.lang]["prospects"]
    before = openpyxl_rows(path, tab)
    summary = refresh(team)
    headers = vocab.PROSPECT_HEADERS[layout.lang]
    written = records(path, tab, header_row=layout.header_row(), key=headers["company"])
    assert set(written) == set(TEAM_EXPECTED)
    for company, expected in TEAM_EXPECTED.items():
        row = written[company]
        got = (
            as_date(row[headers["next_follow_up"]]),
            row[headers["status"]],
            row[headers["step"]] or "",
            row[headers["assigned_to"]],
        )
        # Status and Step in the sheet's language (i18n.py); the English of an "en" sheet.
        status = i18n.status_text(expected.status, layout.lang)
        step = i18n.step_text(expected.step, layout.lang)
        want = (expected.next_follow_up, status, step, expected.assigned_to)
        assert got == want, company
    assert summary.rows == len(TEAM_ROWS)
    after = openpyxl_rows(path, tab)
    # Whatever sat above the headers (titles) is left alone.
    above = layout.header_row() - 1
    assert [trimmed(row) for row in after[:above]] == [trimmed(row) for row in before[:above]]
    assert calamine_rows(path, tab)[layout.header_row() - 1][: len(layout.fields)] == [
        header_text(name, layout.lang) for name in layout.fields
    ]


def trimmed(row: list[Any]) -> list[Any]:
    """A row without its trailing empty cells (readers pad rows to the widest one)."""
    end = len(row)
    while end and row[end - 1] is None:
        end -= 1
    return row[:end]


@pytest.mark.parametrize(
    "layout",
    [
        LAYOUTS["no owned columns, an unknown column last"],
        LAYOUTS["an Excel Table without the owned columns"],
    ],
    ids=["plain", "excel table"],
)
def test_missing_owned_columns_are_added_after_the_last_used_column(
    tmp_path: Path, layout: Layout
) -> None:
    path = write_team(tmp_path, layout, config=config_for(layout))
    team = Team(tmp_path, path, tmp_path / "sheetfollow.toml", TODAY)
    summary = refresh(team)
    assert list(summary.columns_added) == OWNED_HEADERS
    header_row = layout.header_row()
    headers = openpyxl_rows(path)[header_row - 1]
    width = len(layout.fields)
    assert headers == [*(header_text(n) for n in layout.fields), *OWNED_HEADERS]
    written = records(path, header_row=header_row)
    assert written["Delta GmbH"]["Status"] == "overdue"
    if "source" in layout.fields:
        sources = {c: r["Lead source"] for c, r in written.items() if r["Lead source"]}
        assert sources == SOURCE_OF
    # The header cells of the new columns and every computed cell: 5 + 47.
    assert summary.cells_changed == len(OWNED_HEADERS) + 47
    if layout.excel_table:
        workbook = load_workbook(path)
        table = workbook["Prospects"].tables["Pipeline"]
        last_row = header_row + len(TEAM_ROWS)
        assert table.ref == f"A{header_row}:{col_letter(width + 5)}{last_row}"
        assert [c.name for c in table.tableColumns][width:] == OWNED_HEADERS
        workbook.close()
    assert refresh(team).cells_changed == 0


def test_a_missing_id_column_is_added_and_filled(tmp_path: Path) -> None:
    layout = Layout(fields=[name for name in TEAM_FIELDS if name != "id"])
    path = write_team(tmp_path, layout)
    team = Team(tmp_path, path, tmp_path / "sheetfollow.toml", TODAY)
    summary = refresh(team)
    assert summary.columns_added == ("ID",)
    ids = [row[-1] for row in openpyxl_rows(path)[1:]]
    assert ids == [f"P-{n:04d}" for n in range(1, len(TEAM_ROWS) + 1)]


# --- due and check ------------------------------------------------------------------------


def test_due_rows_come_in_the_call_order(team: Team) -> None:
    pipeline = load(team)
    rows = service.due_rows(pipeline, TODAY)
    assert [r.prospect.company for r in rows] == [
        "Acme Tools",  # a new lead from today, 5,000
        "India Pty",  # a new lead from today, 500
        "Brick & Co",  # overdue 9 days
        "Delta GmbH",  # overdue 2 days
        "Cobalt BV",  # due today, 8,000
    ]


@pytest.mark.parametrize(
    ("who", "companies"),
    [
        ("zoe", ["India Pty", "Cobalt BV"]),  # her own rows, the delegated one included
        ("ZOË", ["India Pty", "Cobalt BV"]),
        ("emile", ["India Pty"]),  # the delegate sees what was handed to him
        ("Anna", ["Acme Tools", "Brick & Co"]),
    ],
)
def test_due_rows_for_one_owner_or_delegate(team: Team, who: str, companies: list[str]) -> None:
    rows = service.due_rows(load(team), TODAY, who)
    assert [r.prospect.company for r in rows] == companies


def test_due_rows_for_a_name_nobody_has_is_an_error_that_suggests_close_names(team: Team) -> None:
    with pytest.raises(UsageError, match=r"no owner or delegate named 'Zoey'.*did you mean Zoë\?"):
        service.due_rows(load(team), TODAY, "Zoey")
    with pytest.raises(UsageError, match="the names it has are"):
        service.due_rows(load(team), TODAY, "Xqwzt")


BROKEN_FIELDS = (
    "id",
    "company",
    "contact",
    "owner",
    "value",
    "created",
    "last_contact",
    "last_outcome",
    "attempts",
    "follow_up_on",
)

CALLED: dict[str, Cell] = {"last_contact": date(2026, 3, 2), "attempts": 1}

#: Rows 2-10 of a sheet with one known bad cell in each row but the first.
BROKEN_ROWS: tuple[dict[str, Cell], ...] = (
    {"company": "Fine BV"},
    {"company": "Lots Ltd", "value": "lots"},
    {"company": "Three AG", **CALLED, "last_outcome": "no answer", "attempts": "three"},
    {"company": "Maybe SA", **CALLED, "last_outcome": "maybe later"},
    {"company": "Pieter NV", "owner": "Pieter"},
    {"company": "Later Oy", **CALLED, "last_outcome": "call back"},
    {"company": "Nobody Inc", "owner": None},
    {"company": "Future Co", **CALLED, "last_contact": date(2026, 4, 2), "last_outcome": "reached"},
    {"company": "Whenever", "follow_up_on": "next tuesday"},
)


def test_check_names_every_bad_cell(tmp_path: Path) -> None:
    base: dict[str, Cell] = {"owner": "Anna", "value": 100, "created": date(2026, 3, 1)}
    rows: list[list[Cell]] = [[header_text(name) for name in BROKEN_FIELDS]]
    for n, broken in enumerate(BROKEN_ROWS, start=1):
        cells = {**base, "id": f"P-{n}", "contact": f"Contact {n}", **broken}
        rows.append([cells.get(name) for name in BROKEN_FIELDS])
    owners_tab = [["Owner", "Email"], ["Anna", "anna@example.com"]]
    path = write_workbook(
        tmp_path / "broken.xlsx", Tab("Prospects", rows), Tab("Owners", owners_tab)
    )
    config = Config()
    pipeline = service.load(service.open_backend(str(path), config), config, TODAY)
    problems = service.check(pipeline)
    assert [p.ref for p in problems] == [
        "Prospects!E3",  # value "lots"
        "Prospects!I4",  # attempts "three"
        "Prospects!H5",  # outcome "maybe later"
        "Prospects!D6",  # owner not in Owners
        "Prospects!J7",  # call back without a date
        "Prospects!D8",  # no owner
        "Prospects!G9",  # last contact in the future
        "Prospects!J10",  # follow up on "next tuesday"
    ]
    assert "'lots'" in problems[0].message
    assert "'three'" in problems[1].message
    assert "'maybe later'" in problems[2].message
    assert "'Pieter'" in problems[3].message
    assert "'next tuesday'" in problems[-1].message
    statuses = {r.prospect.company: r.computed.status.value for r in pipeline.rows}
    assert statuses["Fine BV"] == "overdue"
    assert [c for c, s in statuses.items() if s == "needs attention"] == [
        "Lots Ltd",
        "Three AG",
        "Maybe SA",
        "Pieter NV",
        "Later Oy",
        "Nobody Inc",
        "Future Co",
        "Whenever",
    ]


def test_check_finds_nothing_wrong_in_a_starter_workbook(tmp_path: Path) -> None:
    from sheetfollow.starter import init

    init(tmp_path / "pipeline.xlsx", today=TODAY)
    config = load_config(tmp_path / "sheetfollow.toml")
    pipeline = service.load(service.open_backend(None, config), config, TODAY)
    assert len(pipeline.rows) == 2
    assert service.check(pipeline) == []


def test_a_date_the_calendar_cannot_handle_makes_one_row_need_attention(tmp_path: Path) -> None:
    # 31-12-9999 is a common "never" placeholder; with a Fri+Sat weekend rolling it forward
    # runs past the last date Python knows. The run goes on; only that row needs attention.
    (tmp_path / "sheetfollow.toml").write_text(
        'sheet = "p.xlsx"\n[calendar]\nweekend = ["fri", "sat"]\n', encoding="utf-8"
    )
    write_workbook(
        tmp_path / "p.xlsx",
        Tab(
            "Prospects",
            [
                ["Company", "Owner", "Follow up on", "Created"],
                ["Never Ltd", "Ann", date(9999, 12, 31), date(2026, 3, 2)],
                ["Soon BV", "Ann", None, date(2026, 3, 2)],
            ],
        ),
    )
    config = load_config(tmp_path / "sheetfollow.toml")
    summary = service.refresh(service.open_backend(None, config), config, date(2026, 3, 11))
    assert (summary.rows, summary.needs_attention, summary.overdue) == (2, 1, 1)
    rows = records(tmp_path / "p.xlsx")
    assert rows["Never Ltd"]["Status"] == "needs attention"
    assert rows["Never Ltd"]["Why"].startswith("Check Prospects!2:2: cannot work out a follow-up")
    assert rows["Soon BV"]["Status"] == "overdue"


# --- Missing touch columns -----------------------------------------------------------------

LOG_HEADER = [vocab.LOG_HEADERS["en"][name] for name in LOG_FIELDS]
#: One touch and one import in the Log: the touch is what makes a missing column an error.
LOG_WITH_A_TOUCH: list[list[Cell]] = [
    LOG_HEADER,
    [datetime(2026, 3, 2, 10, 0), "P-0007", "Delta GmbH", "Bob", "no answer"],
    [datetime(2026, 3, 3, 9, 0), "P-0001", "Acme Tools", "Anna", "imported"],
]
LOG_WITHOUT_TOUCHES: list[list[Cell]] = [LOG_HEADER, LOG_WITH_A_TOUCH[2]]


def team_with(
    folder: Path,
    *,
    headers: Mapping[str, str] = MappingProxyType({}),
    dropped: tuple[str, ...] = (),
    rows: tuple[Mapping[str, Cell], ...] = TEAM_ROWS,
    log: list[list[Cell]] | None = None,
    config: str = TEAM_CONFIG,
) -> Team:
    """The team workbook with some headers renamed (field -> text) or columns dropped."""
    fields = tuple(name for name in TEAM_FIELDS if name not in dropped)
    tab = Layout(fields=fields, rows=rows).tab()
    grid = [list(row) for row in tab.rows]
    grid[0] = [headers.get(name, text) for name, text in zip(fields, grid[0], strict=True)]
    tabs = [Tab("Prospects", grid), Tab("Owners", TEAM_OWNERS)]
    if log is not None:
        tabs.append(Tab("Log", log))
    path = write_workbook(folder / "pipeline.xlsx", *tabs)
    (folder / "sheetfollow.toml").write_text(config, encoding="utf-8")
    return Team(folder, path, folder / "sheetfollow.toml", TODAY)


def sheet_error(team: Team) -> str:
    with pytest.raises(SheetError) as caught:
        refresh(team)
    assert caught.value.exit_code is ExitCode.SHEET
    assert "\n" not in caught.value.message
    return caught.value.message


#: The team's rows as a fresh list: nobody has been called yet.
FRESH_ROWS = tuple(
    {k: v for k, v in row.items() if k not in service.TOUCH_FIELDS} for row in TEAM_ROWS
)


def test_a_renamed_last_contact_is_an_error_that_suggests_the_mapping(tmp_path: Path) -> None:
    team = team_with(tmp_path, headers={"last_contact": "Last called"}, log=LOG_WITH_A_TOUCH)
    before = file_state(team.workbook)
    assert sheet_error(team) == (
        f"{team.workbook}: Prospects!1:1 has no Last contact column, so every follow-up would "
        'restart from Created; map yours with [headers] last_contact = "Last called" in '
        "sheetfollow.toml (or rename it to Last contact); a list that never records touches "
        "can set require_touch_columns = false"
    )
    assert file_state(team.workbook) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipeline.xlsx", "sheetfollow.toml"]


def test_the_suggested_mapping_works(tmp_path: Path) -> None:
    config = TEAM_CONFIG + '[headers]\nlast_contact = "Last called"\n'
    team = team_with(tmp_path, headers={"last_contact": "Last called"}, config=config)
    assert refresh(team).overdue == 2


def test_a_touch_in_the_log_alone_makes_missing_columns_an_error(tmp_path: Path) -> None:
    team = team_with(tmp_path, dropped=service.TOUCH_FIELDS, rows=FRESH_ROWS, log=LOG_WITH_A_TOUCH)
    before = file_state(team.workbook)
    message = sheet_error(team)
    assert message.startswith(
        f"{team.workbook}: Prospects!1:1 has no Last contact, Last outcome or Attempts column, "
        "so every follow-up would restart from Created; name your columns Last contact, "
        'Last outcome and Attempts or map them with [headers] last_contact = "...", '
        'last_outcome = "...", attempts = "..." in sheetfollow.toml;'
    )
    assert file_state(team.workbook) == before


def test_a_fresh_list_may_lack_every_touch_column(tmp_path: Path) -> None:
    # An imported list: no touch columns, and only imports in the Log (or no Log at all).
    for log in (None, LOG_WITHOUT_TOUCHES):
        team = team_with(tmp_path, dropped=service.TOUCH_FIELDS, rows=FRESH_ROWS, log=log)
        summary = refresh(team)
        assert (summary.rows, summary.needs_attention) == (10, 0)


def test_empty_touch_columns_and_zero_attempts_are_still_a_fresh_list(tmp_path: Path) -> None:
    rows = tuple({**row, "attempts": 0} for row in FRESH_ROWS)
    team = team_with(tmp_path, dropped=("last_contact", "last_outcome"), rows=rows)
    assert refresh(team).rows == 10


def test_missing_columns_are_allowed_when_not_required(tmp_path: Path) -> None:
    config = "require_touch_columns = false\n" + TEAM_CONFIG
    team = team_with(
        tmp_path, headers={"last_contact": "Last called"}, log=LOG_WITH_A_TOUCH, config=config
    )
    assert refresh(team).cells_changed > 0
    delta = records(team.workbook)["Delta GmbH"]
    assert delta["Status"] and as_date(delta["Last called"]) == date(2026, 3, 2)


def test_missing_attempts_beside_last_contact_dates_is_an_error(tmp_path: Path) -> None:
    team = team_with(tmp_path, dropped=("attempts",))
    before = file_state(team.workbook)
    assert sheet_error(team).startswith(
        f"{team.workbook}: Prospects!1:1 has no Attempts column, so every cadence would "
        "restart from the first attempt; name your column Attempts or map it with [headers] "
        'attempts = "..." in sheetfollow.toml;'
    )
    assert file_state(team.workbook) == before


def test_each_missing_column_gets_the_header_that_looks_like_it(tmp_path: Path) -> None:
    # "Result of call" is as close to Last contact as to Last outcome by spelling, but it
    # holds outcomes, not dates; "Tries so far" shares the word "tries" with an alias.
    # There is no Log: the touches in the renamed columns are enough to refuse.
    team = team_with(
        tmp_path,
        headers={
            "last_contact": "Date of last call",
            "last_outcome": "Result of call",
            "attempts": "Tries so far",
        },
    )
    assert (
        'map yours with [headers] last_contact = "Date of last call", '
        'last_outcome = "Result of call", attempts = "Tries so far" in sheetfollow.toml '
        "(or rename them to Last contact, Last outcome and Attempts)"
    ) in sheet_error(team)


def test_a_header_that_holds_other_things_is_not_suggested(tmp_path: Path) -> None:
    # "Last call notes" is spelled like Last contact but holds text, not dates.
    rows = tuple({**row, "last_contact": f"rang {row['company']}"} for row in TEAM_ROWS)
    team = team_with(tmp_path, headers={"last_contact": "Last call notes"}, rows=rows)
    message = sheet_error(team)
    assert 'last_contact = "..."' in message
    assert "Last call notes" not in message


def test_the_log_is_not_read_when_every_touch_column_is_there(team: Team) -> None:
    config = load_config(team.config)
    backend = service.open_backend(None, config)
    read: list[str] = []
    real = backend.read_tab

    def read_tab(name: str) -> Any:
        read.append(name)
        return real(name)

    backend.read_tab = read_tab  # type: ignore[method-assign]
    service.load(backend, config, TODAY)
    assert "Log" not in read
