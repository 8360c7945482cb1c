"""Headers, cell parsing and problems, read from real .xlsx files written to disk."""

from __future__ import annotations

import random
import re
import shutil
import zipfile
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
import python_calamine
import xlsxwriter  # type: ignore[import-untyped]
from hypothesis import given
from hypothesis import strategies as st

from sheetfollow import fields, vocab
from sheetfollow.errors import SheetError
from sheetfollow.models import Channel, Outcome, Owner, Problem, Prospect, Stage
from sheetfollow.schema import (
    BadValue,
    HeaderMap,
    cell_ref,
    col_letter,
    col_number,
    map_headers,
    owned_values,
    parse_amount,
    parse_date,
    parse_owners,
    parse_prospect,
    parse_prospects,
)
from sheetfollow.sheet import EPOCH_1900, EPOCH_1904, RawValue, Table

CORPUS = Path(__file__).resolve().parent / "data" / "corpus" / "xlsx"
TODAY = date(2026, 5, 1)
EN = vocab.PROSPECT_HEADERS["en"]


# --- Real workbooks: written with XlsxWriter, read with calamine as the Excel reader does ----


def write_xlsx(path: Path, sheets: dict[str, Sequence[Any]], *, date_1904: bool = False) -> Path:
    """A workbook whose date and datetime values are real date cells with a date format."""
    book = xlsxwriter.Workbook(str(path), {"date_1904": date_1904})
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    moment = book.add_format({"num_format": "dd/mm/yyyy hh:mm"})
    for name, rows in sheets.items():
        sheet = book.add_worksheet(name)
        for r, values in enumerate(rows):
            for c, value in enumerate(values):
                if isinstance(value, datetime):
                    sheet.write_datetime(r, c, value, moment)
                elif isinstance(value, date):
                    sheet.write_datetime(r, c, value, day)
                elif isinstance(value, str):
                    sheet.write_string(r, c, value)  # "46085" and "=x" stay text
                elif value is not None:
                    sheet.write(r, c, value)
    book.close()
    return path


def read_xlsx(path: Path) -> dict[str, Table]:
    """Every tab of a workbook as a Table, with the epoch its serial numbers count from."""
    with zipfile.ZipFile(path) as package:
        workbook_xml = package.read("xl/workbook.xml").decode()
    uses_1904 = re.search(r'date1904="(1|true)"', workbook_xml) is not None
    book = python_calamine.CalamineWorkbook.from_path(str(path))
    epoch = EPOCH_1904 if uses_1904 else EPOCH_1900
    # calamine's cell types are RawValue's, plus time-of-day cells that these files never hold.
    return {
        name: Table(
            name,
            cast(
                list[list[RawValue]], book.get_sheet_by_name(name).to_python(skip_empty_area=False)
            ),
            epoch=epoch,
        )
        for name in book.sheet_names
    }


def one_tab(
    tmp_path: Path, rows: Sequence[Any], *, tab: str = "Prospects", date_1904: bool = False
) -> Table:
    path = write_xlsx(tmp_path / "pipeline.xlsx", {tab: rows}, date_1904=date_1904)
    return read_xlsx(path)[tab]


def prospects_in(table: Table, **kwargs: Any) -> list[Prospect]:
    return parse_prospects(table, map_headers(table, source="pipeline.xlsx"), **kwargs)


# --- A1 references ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "letters"),
    [
        (1, "A"),
        (2, "B"),
        (26, "Z"),
        (27, "AA"),
        (28, "AB"),
        (52, "AZ"),
        (53, "BA"),
        (702, "ZZ"),
        (703, "AAA"),
        (16384, "XFD"),
    ],
)
def test_col_letter(n: int, letters: str) -> None:
    assert col_letter(n) == letters
    assert col_number(letters) == n
    assert col_number(letters.lower()) == n


@given(st.integers(min_value=1, max_value=10**6))
def test_col_letter_round_trips(n: int) -> None:
    letters = col_letter(n)
    assert re.fullmatch("[A-Z]+", letters)
    assert col_number(letters) == n


@pytest.mark.parametrize("bad", ["", "A1", "3", "Ä"])
def test_col_number_refuses_what_is_not_a_column(bad: str) -> None:
    with pytest.raises(ValueError):
        col_number(bad)


def test_col_letter_refuses_zero() -> None:
    with pytest.raises(ValueError):
        col_letter(0)


@pytest.mark.parametrize(
    ("tab", "row", "col", "ref"),
    [
        ("Prospects", 17, 6, "Prospects!F17"),
        ("Prospects", 17, None, "Prospects!17:17"),
        ("My deals", 17, 6, "'My deals'!F17"),
        ("Deals-2026", 2, 28, "'Deals-2026'!AB2"),
        ("O'Neil", 1, 1, "'O''Neil'!A1"),
        ("AB12", 3, 1, "'AB12'!A3"),  # a bare AB12!A3 would read as a cell
        ("R1C1", 3, 1, "'R1C1'!A3"),
        ("2026", 3, 1, "'2026'!A3"),
        ("Interessenten", 3, 2, "Interessenten!B3"),
        ("Último", 3, 2, "Último!B3"),
    ],
)
def test_cell_ref(tab: str, row: int, col: int | None, ref: str) -> None:
    assert cell_ref(tab, row, col) == ref


# --- Header matching -------------------------------------------------------------------------


@pytest.mark.parametrize("lang", vocab.LANGS)
def test_headers_in_every_language_in_any_order_below_a_title(tmp_path: Path, lang: str) -> None:
    names = vocab.PROSPECT_HEADERS[lang]
    order = list(fields.ALL_FIELDS)
    random.Random(lang).shuffle(order)
    rows = [["Pipeline 2026"], [], [names[name] for name in order]]
    table = one_tab(tmp_path, rows, tab=vocab.TAB_NAMES[lang]["prospects"])

    hm = map_headers(table)

    assert hm.tab == vocab.TAB_NAMES[lang]["prospects"]
    assert hm.header_row == 3
    assert dict(hm.columns) == {name: i for i, name in enumerate(order, start=1)}
    assert hm.last_column == len(order)
    assert hm.unknown == ()


@pytest.mark.parametrize(
    ("name", "aliases", "names"),
    [
        ("log", vocab.LOG_ALIASES, vocab.LOG_HEADERS),
        ("owners", vocab.OWNER_ALIASES, vocab.OWNER_HEADERS),
    ],
)
def test_log_and_owner_headers_in_every_language(
    name: str, aliases: dict[str, frozenset[str]], names: dict[str, dict[str, str]]
) -> None:
    for lang in vocab.LANGS:
        headers: list[RawValue] = list(names[lang].values())
        hm = map_headers(Table(name, [headers]), aliases=aliases, required=())
        assert dict(hm.columns) == {f: i for i, f in enumerate(names[lang], start=1)}, lang


@given(
    st.permutations(fields.ALL_FIELDS),
    st.integers(min_value=0, max_value=19),
    st.sampled_from(vocab.LANGS),
)
def test_any_column_order_and_any_title_rows(order: list[str], blank_rows: int, lang: str) -> None:
    names = vocab.PROSPECT_HEADERS[lang]
    # blank_rows rows above the header: a title, then empty rows.
    title: list[RawValue] = ["My pipeline"]
    empty: list[RawValue] = [None]
    above = [title] + [empty] * (blank_rows - 1)
    header: list[RawValue] = [names[name] for name in order]
    rows = [*above[:blank_rows], header]
    hm = map_headers(Table("Prospects", rows))
    assert hm.header_row == blank_rows + 1
    assert [hm.columns[name] for name in order] == list(range(1, len(order) + 1))


def test_case_accents_and_punctuation_do_not_matter(tmp_path: Path) -> None:
    rows = [
        [
            "COMPANY",
            "E-MAIL",
            "nachster kontakt",
            "Owner ",
            "follow_up_on",
            "LAST.TOUCH",
            "Notes",
            "Region",
        ]
    ]
    hm = map_headers(one_tab(tmp_path, rows))
    assert dict(hm.columns) == {
        "company": 1,
        "email": 2,
        "next_follow_up": 3,
        "owner": 4,
        "follow_up_on": 5,
        "last_contact": 6,
        "notes": 7,
    }
    assert hm.unknown == ("Region",)
    assert hm.last_column == 8


def test_languages_can_be_mixed_in_one_header_row() -> None:
    row: list[RawValue] = ["Bedrijf", "Ejer", "Nächster Kontakt", "Último resultado", "Phone"]
    hm = map_headers(Table("Prospects", [row]))
    assert dict(hm.columns) == {
        "company": 1,
        "owner": 2,
        "next_follow_up": 3,
        "last_outcome": 4,
        "phone": 5,
    }


def test_excel_table_header_row_is_taken_as_given() -> None:
    # The Table's header row wins even when an earlier row happens to look like headers.
    rows: list[list[RawValue]] = [["Company", "Owner"], ["notes"], ["Company", "Owner", "ID"]]
    hm = map_headers(Table("Prospects", rows, table_header_row=3))
    assert hm.header_row == 3
    assert dict(hm.columns) == {"company": 1, "owner": 2, "id": 3}


def test_override_wins_over_aliases(tmp_path: Path) -> None:
    rows = [["Klant", "Owner", "Rep", "Volgende stap"]]
    hm = map_headers(
        one_tab(tmp_path, rows),
        overrides={"company": "klant", "owner": "Rep", "follow_up_on": "Volgende stap"},
    )
    assert dict(hm.columns) == {"company": 1, "owner": 3, "follow_up_on": 4}
    # The column that would have been Owner is left alone rather than clashing.
    assert hm.unknown == ("Owner",)


def test_override_of_a_header_that_is_not_there(tmp_path: Path) -> None:
    table = one_tab(tmp_path, [["Company", "Owner"]])
    with pytest.raises(SheetError) as raised:
        map_headers(table, overrides={"owner": "Rep"}, source="pipeline.xlsx")
    assert str(raised.value) == (
        "pipeline.xlsx: Prospects!1:1: override for 'owner' names "
        "header 'Rep' but tab Prospects has no such header"
    )


def test_override_of_an_unknown_field() -> None:
    with pytest.raises(SheetError, match=r"\[headers\] names 'ownr', which is not a column"):
        map_headers(Table("Prospects", [["Company", "Owner"]]), overrides={"ownr": "Rep"})


def test_two_columns_for_one_field(tmp_path: Path) -> None:
    rows = [["ID", "Name", "Company", "Owner", "", "", "", "Organisation"]]
    with pytest.raises(SheetError) as raised:
        map_headers(one_tab(tmp_path, rows), source="pipeline.xlsx")
    assert str(raised.value) == (
        "pipeline.xlsx: Prospects!C1 and Prospects!H1 both look like 'Company'; rename one "
        "or set [headers] company in sheetfollow.toml"
    )


def test_missing_required_columns(tmp_path: Path) -> None:
    with pytest.raises(SheetError) as raised:
        map_headers(
            one_tab(tmp_path, [["Title"], ["ID", "Phone", "Email"]]), source="pipeline.xlsx"
        )
    assert str(raised.value) == (
        "pipeline.xlsx: Prospects!2:2: tab Prospects needs columns Company, Owner; add them "
        "to the header row or set [headers] in sheetfollow.toml"
    )
    assert raised.value.exit_code == SheetError.exit_code


def test_no_header_row(tmp_path: Path) -> None:
    rows = [["Quarterly numbers"], ["Q1", 12], ["Q2", 14]]
    with pytest.raises(SheetError) as raised:
        map_headers(one_tab(tmp_path, rows), source="pipeline.xlsx")
    assert str(raised.value) == (
        "pipeline.xlsx, tab Prospects: no header row found "
        "(looked for Company, Owner, ... in rows 1-3)"
    )


def test_headers_below_row_20_are_not_looked_for() -> None:
    header: list[RawValue] = ["Company", "Owner"]
    notes: list[RawValue] = ["notes"]
    rows = [notes] * 20 + [header]
    with pytest.raises(SheetError, match=r"no header row found .* in rows 1-20\)"):
        map_headers(Table("Prospects", rows))
    assert map_headers(Table("Prospects", rows[1:])).header_row == 20


def test_an_empty_tab() -> None:
    with pytest.raises(SheetError, match="tab Prospects: the tab is empty"):
        map_headers(Table("Prospects", []))


def test_a_sheet_excel_made_for_something_else_names_what_is_missing(tmp_path: Path) -> None:
    # Year/Category/Cost/Revenue: two words look like ours (Category, Revenue), the rest not.
    copy = Path(shutil.copy(CORPUS / "WithChartSheet.xlsx", tmp_path))
    table = read_xlsx(copy)["Sheet1"]
    with pytest.raises(SheetError) as raised:
        map_headers(table, source=copy.name)
    assert str(raised.value).startswith(
        "WithChartSheet.xlsx: Sheet1!1:1: tab Sheet1 needs columns Company, Owner;"
    )

    other = read_xlsx(Path(shutil.copy(CORPUS / "64759.xlsx", tmp_path)))["File"]
    with pytest.raises(SheetError, match=r"64759\.xlsx, tab File: no header row found"):
        map_headers(other, source="64759.xlsx")


def test_repeated_headers_in_an_excel_file_are_reported_with_both_cells(tmp_path: Path) -> None:
    copy = Path(shutil.copy(CORPUS / "ExcelPivotTableSample.xlsx", tmp_path))
    table = read_xlsx(copy)["Tabelle1"]  # Field1 Field2 Field3 _ Field1 Field2 Field3
    with pytest.raises(SheetError) as raised:
        map_headers(
            table, overrides={"company": "Field1", "created": "Field3"}, required=("company",)
        )
    assert str(raised.value).startswith("Tabelle1!A1 and Tabelle1!E1 both look like 'Company'")
    # The dates Excel itself stored in that tab read as dates.
    assert [parse_date(row[2], epoch=table.epoch) for row in table.rows[1:]] == [
        date(2022, 1, 1),
        date(2022, 1, 2),
        date(2022, 1, 3),
    ]


# --- Dates -----------------------------------------------------------------------------------

DATE_CASES: list[tuple[Any, date]] = [
    (date(2026, 3, 4), date(2026, 3, 4)),
    (datetime(2026, 3, 4, 15, 30), date(2026, 3, 4)),
    (46085, date(2026, 3, 4)),
    (46085.75, date(2026, 3, 4)),
    ("2026-03-04", date(2026, 3, 4)),
    ("2026-03-04 15:30", date(2026, 3, 4)),
    ("2026-03-04T15:30:00", date(2026, 3, 4)),
    ("2026-03-04T15:30:00+02:00", date(2026, 3, 4)),
    ("2026/03/04", date(2026, 3, 4)),
    ("04-03-2026", date(2026, 3, 4)),
    ("04/03/2026", date(2026, 3, 4)),
    ("04.03.2026", date(2026, 3, 4)),
    ("04-03-26", date(2026, 3, 4)),
    ("4-3-2026", date(2026, 3, 4)),
    ("1-2-2026", date(2026, 2, 1)),
    ("31-12-2026", date(2026, 12, 31)),
    (" 31/12/2026 ", date(2026, 12, 31)),
    ("31.12.2026 09:00", date(2026, 12, 31)),
]


def test_every_date_form_in_a_real_workbook(tmp_path: Path) -> None:
    rows = [["Company", "Owner", "Follow up on"]]
    rows += [[f"Co {i}", "Ann", value] for i, (value, _) in enumerate(DATE_CASES)]
    parsed = prospects_in(one_tab(tmp_path, rows))
    assert [(p.follow_up_on, p.problems) for p in parsed] == [
        (expected, ()) for _, expected in DATE_CASES
    ]


BAD_DATES: list[tuple[Any, str]] = [
    ("next tuesday", "'next tuesday' is not a date (use 2026-12-31 or 31-12-2026)"),
    ("31-02-2026", "'31-02-2026' is not a date (use 2026-12-31 or 31-12-2026)"),
    ("12/31/2026", "'12/31/2026' is not a date (use 2026-12-31 or 31-12-2026)"),
    ("2026-13-01", "'2026-13-01' is not a date (use 2026-12-31 or 31-12-2026)"),
    ("31-12/2026", "'31-12/2026' is not a date (use 2026-12-31 or 31-12-2026)"),
    ("46085", "'46085' is not a date (use 2026-12-31 or 31-12-2026)"),
    (True, "'TRUE' is not a date (use 2026-12-31 or 31-12-2026)"),
    (0, "0 is not a date (a date number lies between 1 and 2958465; use 2026-12-31 or 31-12-2026)"),
    (
        -3,
        "-3 is not a date (a date number lies between 1 and 2958465; use 2026-12-31 or 31-12-2026)",
    ),
    (
        2958466,
        "2958466 is not a date (a date number lies between 1 and 2958465; use "
        "2026-12-31 or 31-12-2026)",
    ),
]


def test_bad_dates_become_problems_on_their_cell(tmp_path: Path) -> None:
    rows = [["Company", "Owner", "Stage", "Last contact"]]
    rows += [[f"Co {i}", "Ann", "New", value] for i, (value, _) in enumerate(BAD_DATES)]
    parsed = prospects_in(one_tab(tmp_path, rows))
    assert [(p.last_contact, p.problems) for p in parsed] == [
        (None, (Problem(f"Prospects!D{row}", message),))
        for row, (_, message) in enumerate(BAD_DATES, start=2)
    ]
    # The rest of each row is still read.
    assert {p.stage for p in parsed} == {Stage.NEW}


def test_serials_and_date_cells_in_a_1904_workbook(tmp_path: Path) -> None:
    rows = [
        ["Company", "Owner", "Created", "Last contact"],
        ["Acme", "Ann", date(2026, 3, 4), 44623],
    ]
    table = one_tab(tmp_path, rows, date_1904=True)
    assert table.epoch == EPOCH_1904
    [acme] = prospects_in(table)
    assert acme.created == date(2026, 3, 4)
    assert acme.last_contact == date(1904, 1, 1) + timedelta(days=44623) == date(2026, 3, 4)


def test_the_largest_serial_is_a_problem_in_the_1904_system_not_a_crash() -> None:
    with pytest.raises(ValueError, match="2958465 is not a date"):
        parse_date(2958465, epoch=EPOCH_1904)
    assert parse_date(2958465, epoch=EPOCH_1900) == date(9999, 12, 31)


def test_dates_that_record_the_past_cannot_be_in_the_future(tmp_path: Path) -> None:
    rows = [
        ["Company", "Owner", "Created", "Last contact", "Follow up on"],
        ["Acme", "Ann", "2026-05-02", date(2026, 6, 1), date(2026, 6, 1)],
        ["Beta", "Ann", TODAY, TODAY, None],
    ]
    acme, beta = prospects_in(one_tab(tmp_path, rows), today=TODAY)
    assert acme.problems == (
        Problem("Prospects!C2", "2026-05-02 is in the future (today is 2026-05-01)"),
        Problem("Prospects!D2", "2026-06-01 is in the future (today is 2026-05-01)"),
    )
    assert (acme.created, acme.last_contact, acme.follow_up_on) == (None, None, date(2026, 6, 1))
    assert beta.problems == ()
    # Without a today nothing is judged against the clock.
    acme_anytime = prospects_in(one_tab(tmp_path, rows))[0]
    assert acme_anytime.last_contact == date(2026, 6, 1)


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)))
def test_iso_day_first_and_serial_of_a_date_all_read_as_that_date(d: date) -> None:
    serial = (d - EPOCH_1900).days
    forms: list[RawValue] = [
        d.isoformat(),
        f"{d.day}-{d.month}-{d.year}",
        f"{d.day:02d}/{d.month:02d}/{d.year}",
        f"{d.day}.{d.month}.{d.year}",
        serial,
        float(serial) + 0.5,
        datetime(d.year, d.month, d.day, 23, 59),
    ]
    assert {parse_date(form, epoch=EPOCH_1900) for form in forms} == {d}
    if d > EPOCH_1904:
        assert parse_date((d - EPOCH_1904).days, epoch=EPOCH_1904) == d


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)))
def test_two_digit_years_are_this_century(d: date) -> None:
    assert parse_date(f"{d.day:02d}-{d.month:02d}-{d.year % 100:02d}", epoch=EPOCH_1900) == d


# --- Money, attempts, choices ----------------------------------------------------------------

AMOUNTS: list[tuple[Any, float]] = [
    (12500, 12500.0),
    (12500.5, 12500.5),
    ("€ 12.500", 12500.0),
    ("12,500.00", 12500.0),
    ("12.500,50", 12500.5),
    ("$1,200", 1200.0),
    ("1 200", 1200.0),
    ("1\u00a0200,75 €", 1200.75),
    ("12,5", 12.5),
    ("12.50", 12.5),
    ("1.250.000", 1250000.0),
    ("1,250,000.99", 1250000.99),
    ("€ 1.250,-", 1250.0),
    ("DKK 3.400,00", 3400.0),
    ("kr. 900", 900.0),
    ("1200kr", 1200.0),
    ("1200 EUR", 1200.0),
    ("-250", -250.0),
    ("0", 0.0),
]


def test_amounts(tmp_path: Path) -> None:
    rows = [["Company", "Owner", "Value"]]
    rows += [[f"Co {i}", "Ann", value] for i, (value, _) in enumerate(AMOUNTS)]
    parsed = prospects_in(one_tab(tmp_path, rows))
    assert [(p.value, p.problems) for p in parsed] == [(expected, ()) for _, expected in AMOUNTS]


@pytest.mark.parametrize(
    "text", ["lots", "5k", "1.2.3", "12.500.00", "1,00,000", "€", "12..5", "1234.567"]
)
def test_amounts_that_are_not_amounts(text: str) -> None:
    with pytest.raises(BadValue) as raised:
        parse_amount(text)
    assert raised.value.message == f"'{text}' is not an amount (use 12500 or 12.500,50)"


def test_attempts(tmp_path: Path) -> None:
    rows = [
        ["Company", "Owner", "Attempts"],
        ["A", "Ann", 3],
        ["B", "Ann", 3.0],
        ["C", "Ann", "3"],
        ["D", "Ann", None],
        ["E", "Ann", 2.5],
        ["F", "Ann", -1],
        ["G", "Ann", "three"],
        ["H", "Ann", 0],
    ]
    parsed = prospects_in(one_tab(tmp_path, rows))
    assert [p.attempts for p in parsed] == [3, 3, 3, 0, 0, 0, 0, 0]
    assert [str(problem) for p in parsed for problem in p.problems] == [
        "Prospects!C6: '2.5' is not a number of attempts (use 0, 1, 2 ...)",
        "Prospects!C7: '-1' is not a number of attempts (use 0, 1, 2 ...)",
        "Prospects!C8: 'three' is not a number of attempts (use 0, 1, 2 ...)",
    ]


def test_stage_outcome_and_channel_in_any_language(tmp_path: Path) -> None:
    rows = [["Company", "Owner", "Stage", "Last outcome", "Channel"]]
    expected = []
    for i, lang in enumerate(vocab.LANGS):
        for stage, outcome, channel in zip(
            Stage, Outcome, [*Channel, *Channel, *Channel], strict=False
        ):
            rows.append(
                [
                    f"Co {lang} {i}",
                    "Ann",
                    vocab.STAGE_NAMES[lang][stage],
                    vocab.OUTCOME_NAMES[lang][outcome].upper(),
                    vocab.CHANNEL_NAMES[lang][channel],
                ]
            )
            expected.append((stage, outcome, channel))
    parsed = prospects_in(one_tab(tmp_path, rows))
    assert [(p.stage, p.last_outcome, p.channel) for p in parsed] == expected
    assert [p for p in parsed if p.problems and p.last_outcome is not Outcome.CALL_BACK] == []


def test_unknown_choices_list_the_english_words(tmp_path: Path) -> None:
    rows = [
        ["Company", "Owner", "Stage", "Last outcome", "Channel", "Follow up on"],
        ["Acme", "Ann", "hot", "n/a", "fax", "2026-06-01"],
    ]
    [acme] = prospects_in(one_tab(tmp_path, rows))
    assert (acme.stage, acme.last_outcome, acme.channel) == (None, None, None)
    assert [str(p) for p in acme.problems] == [
        "Prospects!C2: 'hot' is not a known stage (use new, contacted, interested, quote, won, "
        "delivered, customer, lost or not interested)",
        "Prospects!D2: 'n/a' is not a known outcome (use reached, no answer, voicemail, "
        "interested, call back, quote sent, not interested, won, delivered or lost)",
        "Prospects!E2: 'fax' is not a known channel (use phone, email or visit)",
    ]


# --- Whole rows ------------------------------------------------------------------------------


def test_a_full_row_in_dutch(tmp_path: Path) -> None:
    nl = vocab.PROSPECT_HEADERS["nl"]
    header = [nl[name] for name in fields.INPUT_FIELDS]
    row = [
        42.0,
        " Acme BV ",
        "Jan de Vries",
        "jan@acme.nl",
        31612345678,
        "Ann",
        "Offerte",
        "Groothandel",
        "€ 12.500",
        "01-03-2026",
        date(2026, 4, 20),
        "Terugbellen",
        2.0,
        "15-05-2026",
        "Telefoon",
        "Wil in mei terug gebeld worden",
    ]
    [p] = prospects_in(one_tab(tmp_path, [header, row], tab="Prospects"), today=TODAY)
    assert p == Prospect(
        row=2,
        id="42",
        company="Acme BV",
        contact="Jan de Vries",
        email="jan@acme.nl",
        phone="31612345678",
        owner="Ann",
        stage=Stage.QUOTE,
        segment="Groothandel",
        value=12500.0,
        created=date(2026, 3, 1),
        last_contact=date(2026, 4, 20),
        last_outcome=Outcome.CALL_BACK,
        attempts=2,
        follow_up_on=date(2026, 5, 15),
        channel=Channel.PHONE,
        notes="Wil in mei terug gebeld worden",
        problems=(),
    )


def test_empty_rows_are_skipped_even_when_owned_cells_hold_something(tmp_path: Path) -> None:
    rows = [
        ["Company", "Owner", "Next follow-up", "Status", "Why"],
        ["Acme", "Ann"],
        [],
        [None, "  ", date(2026, 5, 4), "due", "first call"],
        ["Beta", "Ann"],
    ]
    table = one_tab(tmp_path, rows)
    hm = map_headers(table)
    assert [
        parse_prospect(values, row, hm, epoch=table.epoch) is None
        for row, values in enumerate(table.rows[1:], start=2)
    ] == [False, True, True, False]
    assert [p.row for p in parse_prospects(table, hm)] == [2, 5]


def test_who_and_what_are_needed(tmp_path: Path) -> None:
    rows = [
        ["Company", "Contact", "Owner", "Phone"],
        ["Acme", "", "", "0612"],
        ["", "", "Ann", "0612"],
        ["", "Jan", "Ann", ""],
    ]
    acme, nameless, jan = prospects_in(one_tab(tmp_path, rows))
    assert acme.problems == (Problem("Prospects!C2", "no owner"),)
    assert nameless.problems == (Problem("Prospects!A3", "no company or contact"),)
    assert jan.problems == ()


def test_call_back_needs_a_later_date(tmp_path: Path) -> None:
    rows = [
        ["Company", "Owner", "Last contact", "Last outcome", "Follow up on"],
        ["A", "Ann", "2026-04-20", "call back", None],
        ["B", "Ann", "2026-04-20", "call back", "2026-04-20"],
        ["C", "Ann", "2026-04-20", "call back", "2026-04-21"],
        ["D", "Ann", None, "terugbellen", "2026-04-21"],
        ["E", "Ann", "2026-04-20", "call back", "someday"],
    ]
    parsed = prospects_in(one_tab(tmp_path, rows))
    assert [[str(problem) for problem in p.problems] for p in parsed] == [
        ["Prospects!E2: call back needs a date in Follow up on"],
        ["Prospects!E3: call back needs a date in Follow up on after Last contact"],
        [],
        [],
        ["Prospects!E6: 'someday' is not a date (use 2026-12-31 or 31-12-2026)"],
    ]


def test_call_back_without_a_follow_up_column_points_at_the_outcome() -> None:
    table = Table("Prospects", [["Company", "Owner", "Last outcome"], ["A", "Ann", "Rückruf"]])
    [a] = prospects_in(table)
    assert a.problems == (Problem("Prospects!C2", "call back needs a date in Follow up on"),)


def test_problems_on_a_tab_with_a_quoted_name(tmp_path: Path) -> None:
    rows = [["Company", "Owner", "Created"], ["Acme", "", "soon"]]
    [acme] = prospects_in(one_tab(tmp_path, rows, tab="My deals"))
    assert [str(p) for p in acme.problems] == [
        "'My deals'!B2: no owner",
        "'My deals'!C2: 'soon' is not a date (use 2026-12-31 or 31-12-2026)",
    ]


def test_owned_values(tmp_path: Path) -> None:
    rows = [
        ["Company", "Owner", "Next follow-up", "Status", "Step", "Why", "Assigned to"],
        ["A", "Ann", date(2026, 5, 4), "due", "2 of 5", "second call", "Bob"],
        ["B", "Ann", 46146, "", 2.0, None, None],
        ["C", "Ann", "tomorrow", "overdue"],
        ["D", "Ann"],
    ]
    table = one_tab(tmp_path, rows)
    hm = map_headers(table)
    held = [owned_values(values, hm, epoch=table.epoch) for values in table.rows[1:]]
    assert held == [
        {
            "next_follow_up": date(2026, 5, 4),
            "status": "due",
            "step": "2 of 5",
            "why": "second call",
            "assigned_to": "Bob",
        },
        {
            "next_follow_up": date(2026, 5, 4),
            "status": "",
            "step": "2",
            "why": "",
            "assigned_to": "",
        },
        {
            "next_follow_up": "tomorrow",
            "status": "overdue",
            "step": "",
            "why": "",
            "assigned_to": "",
        },
        {"next_follow_up": None, "status": "", "step": "", "why": "", "assigned_to": ""},
    ]


def test_owned_values_only_for_columns_that_exist() -> None:
    hm = HeaderMap("Prospects", 1, {"company": 1, "status": 3}, 3, ())
    assert owned_values(["A", None, "dead"], hm, epoch=EPOCH_1900) == {"status": "dead"}


# --- Owners ----------------------------------------------------------------------------------


def test_owners_tab(tmp_path: Path) -> None:
    rows = [
        ["Team"],
        ["Eigenaar", "E-mail", "Vervanger", "Taal", "Land", "Manager", "Overzicht"],
        ["Ann", "ann@acme.nl", "Bob", "nl", "nl", "Mia", "nee"],
        ["Bob", "bob@acme.nl", "", "Deutsch", "DE", "Mia", ""],
        ["Mia", "mia@acme.nl", "", "", "ES", "", "sí"],
        ["Ole", "ole.acme.dk", "", "fr", "Denmark", "", "maybe"],
        ["ann", "other@acme.nl", "", "", "", "", 1],
        ["", "nobody@acme.nl"],
        ["Kim", "", "", "da-DK", "", "", True],
        [],
    ]
    path = write_xlsx(tmp_path / "team.xlsx", {"Eigenaren": rows})
    owners, problems = parse_owners(read_xlsx(path)["Eigenaren"], source="team.xlsx")

    assert owners == {
        "ann": Owner("Ann", "ann@acme.nl", "Bob", "nl", "NL", "Mia", False),
        "bob": Owner("Bob", "bob@acme.nl", "", "de", "DE", "Mia", False),
        "mia": Owner("Mia", "mia@acme.nl", "", "en", "ES", "", True),
        "ole": Owner("Ole", "", "", "en", "", "", False),
        "kim": Owner("Kim", "", "", "da", "", "", True),
    }
    assert [str(p) for p in problems] == [
        "Eigenaren!B6: 'ole.acme.dk' is not an email address",
        "Eigenaren!D6: 'fr' is not a language sheetfollow writes (use en, nl, de, da or es); "
        "using en",
        "Eigenaren!E6: 'Denmark' is not a country code with known public holidays "
        "(use NL, DE, DK, ES, GB ...); the team calendar is used",
        "Eigenaren!G6: 'maybe' is not yes or no",
        "Eigenaren!A7: 'ann' is listed twice; the first row is used",
        "Eigenaren!A8: no owner name",
        "Eigenaren!B9: no email for Kim",
    ]


def test_owners_default_language_comes_from_the_caller() -> None:
    table = Table(
        "Owners",
        [["Owner", "Email", "Language"], ["Ann", "ann@x.dk", None], ["Bob", "bob@x.dk", "Klingon"]],
    )
    owners, problems = parse_owners(table, default_language="da")
    assert owners["ann"].language == "da"
    assert owners["bob"].language == "da"
    assert [p.message for p in problems] == [
        "'Klingon' is not a language sheetfollow writes (use en, nl, de, da or es); using da"
    ]


@pytest.mark.parametrize(
    ("value", "digest"),
    [
        ("yes", True),
        ("Ja", True),
        ("JA", True),
        ("sí", True),
        ("si", True),
        ("1", True),
        (1, True),
        ("TRUE", True),
        ("x", True),
        (True, True),
        ("no", False),
        ("nee", False),
        ("nein", False),
        ("nej", False),
        ("0", False),
        (0, False),
        (False, False),
        (None, False),
    ],
)
def test_digest_words(value: RawValue, digest: bool) -> None:
    table = Table("Owners", [["Owner", "Email", "Digest"], ["Ann", "ann@x.nl", value]])
    owners, problems = parse_owners(table)
    assert (owners["ann"].digest, problems) == (digest, ())


def test_owners_tab_without_an_owner_column() -> None:
    with pytest.raises(SheetError, match="tab Owners needs a column Owner; add it"):
        parse_owners(Table("Owners", [["Email", "Language", "Digest"]]))


@pytest.mark.parametrize(
    ("outcome", "attempts", "message"),
    [
        ("no answer", 2, "Last outcome is 'no answer' but Last contact is empty"),
        ("", 3, "Attempts is 3 but Last contact is empty"),
    ],
)
def test_a_touch_without_a_date_needs_attention(
    tmp_path: Path, outcome: str, attempts: int, message: str
) -> None:
    header = ["Company", "Owner", "Last contact", "Last outcome", "Attempts"]
    table = one_tab(tmp_path, [header, ["Acme", "Ann", None, outcome, attempts]])
    [prospect] = prospects_in(table)
    assert [str(p) for p in prospect.problems] == [
        f"Prospects!C2: {message}; fill in the date of that touch"
    ]


def test_a_closed_row_needs_no_date(tmp_path: Path) -> None:
    header = ["Company", "Owner", "Last contact", "Last outcome"]
    [prospect] = prospects_in(one_tab(tmp_path, [header, ["Acme", "Ann", None, "won"]]))
    assert prospect.problems == ()
