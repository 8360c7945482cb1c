"""`sheetfollow import` on real files: CSVs as Excel, HubSpot, Pipedrive and Salesforce export
them (tests/data/import), workbooks written with XlsxWriter, and the team's pipeline workbook,
read back with openpyxl after every import.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    TEAM_CONFIG,
    TEAM_FIELDS,
    TEAM_OWNERS,
    TODAY,
    Cell,
    Cli,
    Layout,
    Tab,
    as_date,
    file_state,
    openpyxl_rows,
    records,
    write_team,
    write_workbook,
)
from json_output import data_of
from openpyxl import load_workbook
from xlsx_fixtures import add_prospects_sheet, make_feature_workbook, members, sheet_part

from sheetfollow import importer, service
from sheetfollow.config import load_config
from sheetfollow.errors import ConfigError, SheetError, UsageError
from sheetfollow.exit_codes import ExitCode
from sheetfollow.importer import ImportReport, company_key, email_key, phone_key
from sheetfollow.schema import col_letter

DATA = Path(__file__).parent / "data" / "import"
NOW = datetime(2026, 3, 11, 9, 30)

#: The team's columns with an Email column after Contact, so emails can be matched.
FIELDS: tuple[str, ...] = (*TEAM_FIELDS[:3], "email", *TEAM_FIELDS[3:])

#: Rows 12-14 of the import team's sheet, below the ten team rows.
EXTRA_ROWS: tuple[Mapping[str, Cell], ...] = (
    # Alive: one unanswered call. Matched by email in any case and by phone in any form.
    {
        "id": "P-0011",
        "company": "Kilo Trading B.V.",
        "contact": "Kees Kilo",
        "email": "Kees@Kilo.example",
        "phone": "+31 20 123 4567",
        "owner": "Zoë",
        "stage": "contacted",
        "value": 3000,
        "created": date(2026, 2, 2),
        "last_contact": date(2026, 3, 9),
        "last_outcome": "no answer",
        "attempts": 1,
    },
    # Lost, by its Stage.
    {
        "id": "P-0012",
        "company": "Lima Foods S.L.",
        "contact": "Luis Lima",
        "email": "luis@lima.example",
        "owner": "Anna",
        "stage": "lost",
        "created": date(2026, 1, 5),
    },
    # Lost, by its Last outcome (the Stage still says quote). The last row: owner Bob.
    {
        "id": "P-0013",
        "company": "Mike & Co GmbH",
        "contact": "Mick Mike",
        "owner": "Bob",
        "stage": "quote",
        "created": date(2026, 1, 5),
        "last_contact": date(2026, 3, 2),
        "last_outcome": "lost",
    },
)
LAYOUT = Layout(fields=FIELDS, extra_rows=EXTRA_ROWS)


def ref(field: str, row: int) -> str:
    return f"Prospects!{col_letter(FIELDS.index(field) + 1)}{row}"


@pytest.fixture
def sheet(tmp_path: Path) -> Path:
    """The team's workbook with emails and three more rows; its sheetfollow.toml next to it."""
    return write_team(tmp_path, LAYOUT)


def run(workbook: Path, file: Path, *, today: date = TODAY, **options: Any) -> ImportReport:
    config = load_config(workbook.parent / "sheetfollow.toml")
    backend = service.open_backend(str(workbook), config)
    options.setdefault("by", "tester")
    return importer.import_file(backend, config, file, today, now=NOW, **options)


def write_csv(folder: Path, text: str, name: str = "in.csv", encoding: str = "utf-8") -> Path:
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


def added_rows(workbook: Path) -> list[dict[str, Any]]:
    """The rows below the import team's 13, as {header: value}."""
    rows = openpyxl_rows(workbook)
    header = [str(h) for h in rows[0]]
    return [dict(zip(header, row, strict=False)) for row in rows[14:]]


def log_rows(workbook: Path) -> list[list[Any]]:
    return openpyxl_rows(workbook, "Log")


# --- Each exporter's file ------------------------------------------------------------------


def test_excel_semicolons_in_windows_1252(sheet: Path) -> None:
    report = run(sheet, DATA / "excel-nl-cp1252.csv")
    assert [a.company for a in report.added] == ["Müller GmbH", "Café Zürich"]
    found = records(sheet)
    assert found["Müller GmbH"]["Contact"] == "Jörg Müller"
    assert found["Müller GmbH"]["Value"] == 12500.5
    assert found["Müller GmbH"]["Segment"] == "capital goods"
    assert found["Müller GmbH"]["Phone"] == "030 1234567"
    assert found["Café Zürich"]["Contact"] == "Renée Faßbender"
    assert found["Café Zürich"]["Email"] == "renee@cafe-zurich.example"
    assert found["Café Zürich"]["Value"] == 800
    assert report.unknown_columns == ("Bron",)


def test_hubspot_with_a_byte_order_mark(sheet: Path) -> None:
    report = run(sheet, DATA / "hubspot.csv")
    found = records(sheet)
    # The first header is read without the mark: First Name makes the contact.
    assert found["Northwind Traders Ltd"]["Contact"] == "Jane Doe"
    assert found["Northwind Traders Ltd"]["Phone"] == "+44 20 7946 0000"
    assert found["Hafnia ApS"]["Contact"] == "Søren Kierkegaard"
    # "anna" in the file is the Owners tab's Anna; the line without an owner takes a turn.
    assert found["Northwind Traders Ltd"]["Owner"] == "Anna"
    assert found["Hafnia ApS"]["Owner"] == "Émile"
    assert report.unknown_columns == ("Lifecycle Stage",)


def test_pipedrive_tab_separated(sheet: Path) -> None:
    report = run(sheet, DATA / "pipedrive.tsv")
    found = records(sheet)
    assert found["Sol y Sombra S.L."]["Contact"] == "Ana García"
    assert found["Sol y Sombra S.L."]["Email"] == "ana@sol.example"
    assert found["Sol y Sombra S.L."]["Value"] == 4500
    assert found["Hein & Zonen B.V."]["Value"] == 1250
    assert report.unknown_columns == ("Deal - Title",)


def test_salesforce_with_quoted_commas_and_a_note_over_two_lines(sheet: Path) -> None:
    report = run(sheet, DATA / "salesforce.csv")
    # The first record takes lines 2 and 3 of the file.
    assert [(a.line, a.company) for a in report.added] == [
        (2, "Baker, Sons & Co Inc"),
        (4, "Analytical Engines Ltd"),
    ]
    found = records(sheet)
    assert found["Baker, Sons & Co Inc"]["Contact"] == "Tom Baker"
    assert found["Baker, Sons & Co Inc"]["Notes"] == "Met at the fair,\nwants a call in spring"
    assert found["Baker, Sons & Co Inc"]["Owner"] == "Bob"
    assert found["Analytical Engines Ltd"]["Owner"] == "Zoë"


def test_an_excel_workbook_below_a_title_row(sheet: Path, tmp_path: Path) -> None:
    fair = write_workbook(
        tmp_path / "fair.xlsx",
        Tab(
            "Export",
            [
                ["Leads from the trade fair"],
                ["Company", "Contact", "Email", "Phone", "Value", "Follow up on"],
                ["November Nets", "Nina", "nina@nets.example", 31201119999, 2500, date(2026, 4, 1)],
                ["Oscar Oils", "Oscar", None, "+31 20 111 8888", None, None],
            ],
        ),
        Tab("Notes", [["Company", "Contact"], ["Not imported", "From the second tab"]]),
    )
    report = run(sheet, fair)
    assert [(a.line, a.company) for a in report.added] == [(3, "November Nets"), (4, "Oscar Oils")]
    found = records(sheet)
    assert found["November Nets"]["Phone"] == "31201119999"
    assert as_date(found["November Nets"]["Follow up on"]) == date(2026, 4, 1)
    # A date a person chose wins over the cadence: snoozed until then.
    assert found["November Nets"]["Status"] == "snoozed"
    assert as_date(found["November Nets"]["Next follow-up"]) == date(2026, 4, 1)
    assert "Not imported" not in found


def test_the_delimiter_named_on_a_sep_line_and_pipes(sheet: Path, tmp_path: Path) -> None:
    named = write_csv(tmp_path, "sep=;\nCompany;Contact\nPapa, Inc;Pam\n", "named.csv")
    piped = write_csv(tmp_path, "Company|Contact|Value\nQuebec Quilts|Quinn|1,5\n", "piped.csv")
    first = run(sheet, named)
    second = run(sheet, piped)
    assert [(a.line, a.company) for a in first.added] == [(3, "Papa, Inc")]
    assert [a.company for a in second.added] == ["Quebec Quilts"]
    assert records(sheet)["Quebec Quilts"]["Value"] == 1.5


def test_utf16_text_as_excel_saves_unicode_text(sheet: Path, tmp_path: Path) -> None:
    path = write_csv(tmp_path, "\ufeffCompany\tContact\nRomeo Røde\tRolf\n", encoding="utf-16-le")
    report = run(sheet, path)
    assert [a.company for a in report.added] == ["Romeo Røde"]


# --- Duplicates and suppression ------------------------------------------------------------


def test_duplicates_of_the_sheet_and_of_earlier_lines_on_each_key(sheet: Path) -> None:
    report = run(sheet, DATA / "duplicates.csv")
    found = [(s.line, s.of, s.of_name, s.on) for s in report.duplicates]
    assert found == [
        (2, ref("email", 12), "P-0011 Kilo Trading B.V.", ("email",)),
        (3, ref("phone", 12), "P-0011 Kilo Trading B.V.", ("phone",)),
        (4, ref("company", 4), "P-0003 Cobalt BV", ("company",)),
        (6, "line 5", "Acme B.V.", ("company",)),
        (7, "line 5", "Acme B.V.", ("email",)),
        (8, "line 5", "Acme B.V.", ("phone",)),
    ]
    assert [(a.line, a.company) for a in report.added] == [(5, "Acme B.V.")]
    assert not report.suppressed
    assert [row["Company"] for row in added_rows(sheet)] == ["Acme B.V."]


def test_suppressed_rows_are_never_added_again(sheet: Path) -> None:
    report = run(sheet, DATA / "suppressed.csv")
    found = [(s.line, s.of, s.of_name, s.why, s.on) for s in report.suppressed]
    assert found == [
        (2, ref("company", 11), "P-0006 Juliet Inc", "not interested", ("company",)),
        (3, ref("email", 13), "P-0012 Lima Foods S.L.", "lost", ("email",)),
        (4, ref("company", 14), "P-0013 Mike & Co GmbH", "lost", ("company",)),
        (5, ref("phone", 7), "Foxtrot AS", "dead", ("phone", "company")),
    ]
    assert not report.added
    assert not report.duplicates
    assert not added_rows(sheet)


def test_a_line_matching_a_live_row_and_a_dead_one_is_suppressed(
    sheet: Path, tmp_path: Path
) -> None:
    # Kilo's email, Foxtrot's phone: whoever said no (or died) wins over a plain duplicate.
    path = write_csv(tmp_path, "Company,Email,Phone\nKilo Two,kees@kilo.example,+4722 5550106\n")
    report = run(sheet, path)
    assert [(s.of_name, s.why) for s in report.suppressed] == [("Foxtrot AS", "dead")]
    assert not report.duplicates


def test_without_a_country_phones_without_their_code_stay_digits(tmp_path: Path) -> None:
    workbook = write_team(tmp_path, LAYOUT, config=TEAM_CONFIG.replace('country = "NL"', ""))
    report = run(workbook, DATA / "duplicates.csv")
    # "020-1234567" is no longer "+31 20 123 4567"; "020-9876543" is not "+31 20 987 6543".
    assert 3 not in [s.line for s in report.duplicates]
    assert 8 not in [s.line for s in report.duplicates]
    assert [a.line for a in report.added] == [3, 5, 8]


def test_import_default_country_reads_phones_of_that_country(tmp_path: Path) -> None:
    config = TEAM_CONFIG.replace('country = "NL"', "") + '\n[import]\ndefault_country = "nl"\n'
    workbook = write_team(tmp_path, LAYOUT, config=config)
    report = run(workbook, DATA / "duplicates.csv")
    assert [s.line for s in report.duplicates] == [2, 3, 4, 6, 7, 8]


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Acme B.V.", "ACME bv"),
        ("Acme BV", "acme b. v."),
        ("Müller GmbH & Co. KG", "müller gmbh"),
        ("Foxtrot A/S", "FOXTROT AS"),
        ("Hafnia ApS", "hafnia"),
        ("Sol y Sombra, S.L.", "Sol y Sombra SL"),
        ("Golf S.A.", "golf sa"),
        ("Northwind Traders Ltd.", "Northwind Traders Limited"),
        ("Echo, Inc.", "Echo Corp"),
        ("Delta LLC", "delta plc"),
        ("Café Noir", "CAFE NOIR"),
    ],
)
def test_company_names_that_are_the_same_company(one: str, other: str) -> None:
    assert company_key(one) == company_key(other) != ""


@pytest.mark.parametrize(
    ("one", "other"),
    [("Acme Tools", "Acme"), ("Delta Dairy", "Delta GmbH"), ("AB Foods", "Foods")],
)
def test_company_names_that_are_not(one: str, other: str) -> None:
    assert company_key(one) != company_key(other)


def test_a_name_that_is_only_a_legal_form_is_kept() -> None:
    assert company_key("AG") == "ag"


@pytest.mark.parametrize(
    ("text", "region", "key"),
    [
        ("+31 20 123 4567", "NL", "31201234567"),
        ("020-1234567", "NL", "31201234567"),
        ("0031 20 1234567", "NL", "31201234567"),
        ("+31 (0)20 123 4567", "", "31201234567"),
        ("0031 20 1234567", "", "31201234567"),
        ("020-1234567", "", "0201234567"),
        ("31201234567", "", "31201234567"),
        ("n/a", "NL", ""),
        ("12", "NL", ""),
    ],
)
def test_phone_keys(text: str, region: str, key: str) -> None:
    assert phone_key(text, region) == key


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (" Kees@Kilo.Example ", "kees@kilo.example"),
        ("mailto:ann@acme.example", "ann@acme.example"),
        ("a@x.example; b@y.example", "a@x.example"),
        ("Jan <jan@acme.example>", "jan@acme.example"),
        ("n/a", ""),
    ],
)
def test_email_keys(text: str, key: str) -> None:
    assert email_key(text) == key


# --- Lines that cannot be imported -------------------------------------------------------


def test_broken_lines_are_rejected_with_why_and_the_rest_is_imported(sheet: Path) -> None:
    report = run(sheet, DATA / "broken.csv")
    assert [(r.line, r.reason) for r in report.rejected] == [
        (3, "no company, contact or email"),
        (4, "Value: 'twelve' is not an amount (use 12500 or 12.500,50)"),
        (5, "Last contact: 'soon' is not a date (use 2026-12-31 or 31-12-2026)"),
        (6, "6 values for 5 columns (a value holding the delimiter needs quotes)"),
    ]
    assert [(a.line, a.company) for a in report.added] == [(2, "Good One"), (7, "Good Two")]
    assert report.lines == 6
    assert [row["Company"] for row in added_rows(sheet)] == ["Good One", "Good Two"]


def test_a_file_without_a_column_to_import_from(sheet: Path, tmp_path: Path) -> None:
    path = write_csv(tmp_path, "Colour,Size\nred,XL\n")
    before = file_state(sheet)
    with pytest.raises(SheetError) as caught:
        run(sheet, path)
    assert str(caught.value) == (
        "in.csv: no column to import prospects from; it needs a Company, Contact (or First "
        "and Last name) or Email column (its columns: 'Colour', 'Size')"
    )
    assert file_state(sheet) == before


def test_columns_sheetfollow_fills_itself_are_not_imported(sheet: Path, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        "ID,Company,Stage,Status,Created\nX-99,Sierra Sails,won,dead,2020-01-01\n",
    )
    report = run(sheet, path)
    assert report.columns_set_here == ("ID", "Stage", "Status", "Created")
    [row] = added_rows(sheet)
    assert (row["ID"], row["Stage"], row["Status"]) == ("P-0014", "New", "new")
    assert as_date(row["Created"]) == TODAY


# --- New rows ----------------------------------------------------------------------------


def test_new_rows_continue_the_ids_and_take_turns_after_the_last_rows_owner(sheet: Path) -> None:
    report = run(sheet, DATA / "leads.csv")
    # The sheet's last row is Bob's; the Owners tab lists Anna, Zoë, Bob, Émile.
    assert [(a.id, a.owner) for a in report.added] == [
        ("P-0014", "Émile"),
        ("P-0015", "Anna"),
        ("P-0016", "Zoë"),
        ("P-0017", "Bob"),
        ("P-0018", "Émile"),
    ]
    assert [(r["ID"], r["Owner"]) for r in added_rows(sheet)] == [
        (a.id, a.owner) for a in report.added
    ]


def test_owner_option_and_segment_option(sheet: Path) -> None:
    run(sheet, DATA / "excel-nl-cp1252.csv", owner="bob", segment="retail")
    found = records(sheet)
    assert found["Müller GmbH"]["Owner"] == "Bob"
    assert found["Café Zürich"]["Owner"] == "Bob"
    # The file's segment wins over --segment.
    assert found["Müller GmbH"]["Segment"] == "capital goods"
    assert found["Café Zürich"]["Segment"] == "retail"


def test_an_owner_option_not_in_the_owners_tab(sheet: Path) -> None:
    before = file_state(sheet)
    with pytest.raises(UsageError) as caught:
        run(sheet, DATA / "leads.csv", owner="Nobody")
    assert str(caught.value) == (
        "--owner 'Nobody' is not in the Owners tab (owners: Anna, Zoë, Bob, Émile)"
    )
    assert file_state(sheet) == before


def test_import_owners_in_the_config_take_turns(tmp_path: Path) -> None:
    config = TEAM_CONFIG + '\n[import]\nowners = ["zoë", "Anna"]\n'
    workbook = write_team(tmp_path, LAYOUT, config=config)
    report = run(workbook, DATA / "leads.csv")
    assert [a.owner for a in report.added] == ["Zoë", "Anna", "Zoë", "Anna", "Zoë"]


def test_import_owners_must_be_in_the_owners_tab(tmp_path: Path) -> None:
    workbook = write_team(tmp_path, LAYOUT, config=TEAM_CONFIG + '[import]\nowners = ["Kim"]\n')
    with pytest.raises(ConfigError) as caught:
        run(workbook, DATA / "leads.csv")
    assert str(caught.value).startswith(
        "sheetfollow.toml: import.owners names 'Kim', who is not in the Owners tab"
    )


def test_without_an_owners_tab_the_sheets_owners_take_turns(tmp_path: Path) -> None:
    header = ["Company", "Owner", "Created"]
    rows = [("One", "Kim"), ("Two", "Lee"), ("Three", "Kim")]
    workbook = write_workbook(
        tmp_path / "pipeline.xlsx",
        Tab("Prospects", [header, *([name, owner, TODAY] for name, owner in rows)]),
    )
    (tmp_path / "sheetfollow.toml").write_text(TEAM_CONFIG, encoding="utf-8")
    report = run(workbook, DATA / "leads.csv")
    assert [a.owner for a in report.added] == ["Lee", "Kim", "Lee", "Kim", "Lee"]


def test_without_an_owners_tab_names_are_spelled_as_in_the_sheet(tmp_path: Path) -> None:
    header = ["Company", "Owner", "Created"]
    workbook = write_workbook(
        tmp_path / "pipeline.xlsx", Tab("Prospects", [header, ["One", "Lee", TODAY]])
    )
    (tmp_path / "sheetfollow.toml").write_text(TEAM_CONFIG, encoding="utf-8")
    report = run(workbook, DATA / "pipedrive.tsv", owner="LEE")
    assert [a.owner for a in report.added] == ["Lee", "Lee"]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            'default_country = "XX"',
            "import.default_country must be a country code such as 'NL', 'DE' or 'GB', "
            "or \"\", not 'XX'",
        ),
        ('owners = ["Anna", "anna"]', "import.owners names an owner twice"),
        (
            "owners = 3",
            'import.owners must be a list of owner names such as ["Anna", "Bob"], not 3',
        ),
    ],
)
def test_the_import_section_of_the_config_is_checked(
    tmp_path: Path, section: str, message: str
) -> None:
    (tmp_path / "sheetfollow.toml").write_text(f"[import]\n{section}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "sheetfollow.toml")
    assert str(caught.value) == f"{tmp_path / 'sheetfollow.toml'}: {message}"


def test_no_owner_anywhere_stops_the_import(tmp_path: Path) -> None:
    workbook = write_workbook(tmp_path / "pipeline.xlsx", Tab("Prospects", [["Company", "Owner"]]))
    (tmp_path / "sheetfollow.toml").write_text(TEAM_CONFIG, encoding="utf-8")
    before = file_state(workbook)
    with pytest.raises(UsageError) as caught:
        run(workbook, DATA / "leads.csv")
    assert str(caught.value) == (
        "line 2 has no owner: add an Owner column to the file, pass --owner NAME, or list the "
        "owners in the Owners tab"
    )
    assert file_state(workbook) == before


def test_new_rows_get_their_computed_columns(sheet: Path) -> None:
    run(sheet, DATA / "leads.csv")
    first = added_rows(sheet)[0]
    # A lead created today is due the same business day (Wed 11 Mar 2026).
    assert first["Stage"] == "New"
    assert as_date(first["Created"]) == TODAY
    assert as_date(first["Next follow-up"]) == TODAY
    assert first["Status"] == "new"
    assert first["Step"] == "1 of 5"
    assert first["Why"] == "First call is due today: a new lead from Wed 11 Mar 2026."
    assert first["Assigned to"] == "Émile"


def test_a_refresh_after_an_import_changes_nothing(sheet: Path) -> None:
    config = load_config(sheet.parent / "sheetfollow.toml")
    service.refresh(service.open_backend(None, config), config, TODAY)
    for name in ("leads.csv", "hubspot.csv", "excel-nl-cp1252.csv"):
        run(sheet, DATA / name)
    again = service.refresh(service.open_backend(None, config), config, TODAY, dry_run=True)
    assert again.cells_changed == 0
    assert again.ids_filled == 0


def test_small_values_go_to_the_owners_delegate(sheet: Path, tmp_path: Path) -> None:
    # delegate_below = 1000 in the team's config; Zoë's delegate is Émile.
    path = write_csv(tmp_path, "Company,Owner,Value\nTango Tea,Zoë,400\nUniform Co,Zoë,4000\n")
    run(sheet, path)
    found = records(sheet)
    assert found["Tango Tea"]["Assigned to"] == "Émile"
    assert found["Uniform Co"]["Assigned to"] == "Zoë"


def test_missing_columns_are_added_and_the_excel_table_grows(tmp_path: Path) -> None:
    # The standard team sheet has no Email column.
    workbook = write_team(tmp_path, Layout(excel_table=True))
    report = run(workbook, DATA / "leads.csv")
    assert report.columns_added == ("Email",)
    assert records(workbook)["Alpha Tools"]["Email"] == "al@alpha.example"
    book = load_workbook(workbook)
    try:
        assert book["Prospects"].tables["Pipeline"].ref == f"A1:{col_letter(21)}16"
    finally:
        book.close()


def test_the_excel_table_grows_by_the_new_rows(tmp_path: Path) -> None:
    workbook = write_team(tmp_path, Layout(fields=FIELDS, excel_table=True, extra_rows=EXTRA_ROWS))
    run(workbook, DATA / "leads.csv")
    book = load_workbook(workbook)
    try:
        assert book["Prospects"].tables["Pipeline"].ref == f"A1:{col_letter(len(FIELDS))}19"
    finally:
        book.close()


# --- The Log -------------------------------------------------------------------------------


def test_one_log_row_per_added_prospect(sheet: Path) -> None:
    report = run(sheet, DATA / "duplicates.csv")
    header, *rows = log_rows(sheet)
    assert header == [
        "When", "ID", "Company", "By", "Outcome", "Channel", "Note", "Next follow-up",
    ]  # fmt: skip
    midnight = datetime(2026, 3, 11)
    assert rows == [
        [NOW, "P-0014", "Acme B.V.", "tester", "imported", None, "from duplicates.csv", midnight],
    ]
    assert [a.id for a in report.added] == ["P-0014"]


def test_log_rows_go_below_an_existing_log(tmp_path: Path) -> None:
    earlier = [datetime(2026, 3, 9, 10, 0), "P-0003", "Cobalt BV", "Zoë", "no answer"]
    workbook = write_workbook(
        tmp_path / "pipeline.xlsx",
        LAYOUT.tab(),
        Tab("Owners", TEAM_OWNERS),
        Tab("Log", [["When", "ID", "Company", "By", "Outcome"], earlier]),
    )
    (tmp_path / "sheetfollow.toml").write_text(TEAM_CONFIG, encoding="utf-8")
    run(workbook, DATA / "pipedrive.tsv", by="")
    header, *rows = log_rows(workbook)
    # Missing Log columns are added; By is each row's owner when nobody is named.
    assert header == ["When", "ID", "Company", "By", "Outcome", "Channel", "Note", "Next follow-up"]
    assert rows[0][:5] == earlier
    assert [[*row[1:5], row[6]] for row in rows[1:]] == [
        ["P-0014", "Sol y Sombra S.L.", "Émile", "imported", "from pipedrive.tsv"],
        ["P-0015", "Hein & Zonen B.V.", "Anna", "imported", "from pipedrive.tsv"],
    ]


def test_nothing_to_add_writes_nothing(sheet: Path) -> None:
    before = file_state(sheet)
    report = run(sheet, DATA / "suppressed.csv")
    assert not report.added
    assert file_state(sheet) == before
    assert not (sheet.parent / ".sheetfollow").exists()


# --- Dry run and the rest of the workbook ---------------------------------------------------


def test_dry_run_reports_the_same_and_leaves_the_file_byte_identical(sheet: Path) -> None:
    before = file_state(sheet)
    dry = run(sheet, DATA / "duplicates.csv", dry_run=True)
    assert file_state(sheet) == before
    real = run(sheet, DATA / "duplicates.csv")
    assert {**dry.as_dict(), "dry_run": False} == real.as_dict()
    assert dry.dry_run and not real.dry_run
    assert file_state(sheet) != before


def test_every_other_part_of_the_workbook_is_unchanged(tmp_path: Path) -> None:
    feature = tmp_path / "feature.xlsx"
    make_feature_workbook(feature)
    log = [["When", "ID", "Company", "By", "Outcome", "Channel", "Note", "Next follow-up"]]
    workbook = tmp_path / "pipeline.xlsx"
    add_prospects_sheet(feature, workbook, log, name="Log")
    # The feature workbook has no Last outcome column (and Last contact dates): allowed here,
    # so that the only parts that change are the ones the import writes.
    config = "require_touch_columns = false\n" + TEAM_CONFIG
    (tmp_path / "sheetfollow.toml").write_text(config, encoding="utf-8")
    before = members(workbook)
    report = run(workbook, DATA / "leads.csv")
    assert len(report.added) == 5
    after = members(workbook)
    # Added: the hidden tab with the new rows' touch snapshot (and the lists naming it).
    assert list(after)[: len(before)] == list(before)
    assert [name for name in after if name not in before] == [
        sheet_part(workbook, "sheetfollow_touches")
    ]
    package = {"xl/workbook.xml", "xl/_rels/workbook.xml.rels", "[Content_Types].xml"}
    changed = {name for name in before if before[name] != after[name]} - package
    prospects, log_part = sheet_part(workbook, "Prospects"), sheet_part(workbook, "Log")
    table_parts = {name for name in changed if re.fullmatch(r"xl/tables/table\d+\.xml", name)}
    # Only the two sheets written to and the Table that grew.
    assert changed == {prospects, log_part, *table_parts}
    assert len(table_parts) == 1
    table = after[table_parts.pop()].decode()
    # Five rows appended (13 -> 18) and the three missing owned columns added (L -> O).
    assert 'ref="A1:O18"' in table
    with zipfile.ZipFile(workbook) as package:
        assert package.testzip() is None


# --- Progress ------------------------------------------------------------------------------


def test_progress_is_reported_up_to_the_last_line(sheet: Path) -> None:
    calls: list[tuple[int, int]] = []
    run(sheet, DATA / "leads.csv", progress=lambda done, total: calls.append((done, total)))
    assert calls[0] == (0, 5)
    assert calls[-1] == (5, 5)


# --- The command ---------------------------------------------------------------------------


def shared(workbook: Path) -> list[str]:
    """The options every import on the command line below takes."""
    return ["--config", str(workbook.parent / "sheetfollow.toml"), "--today", TODAY.isoformat()]


KILO = "P-0011 Kilo Trading B.V."


def test_the_import_command_prints_the_report(cli: Cli, sheet: Path) -> None:
    result = cli("import", DATA / "duplicates.csv", *shared(sheet))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "duplicates.csv: 7 lines · 1 added · 6 duplicates · 0 suppressed · 0 rejected",
        "added:",
        "  line 5 -> P-0014 Acme B.V. (Émile, new)",
        "duplicates:",
        f"  line 2 New Name Inc: duplicate of {ref('email', 12)} ({KILO}) on email",
        f"  line 3 Other Name: duplicate of {ref('phone', 12)} ({KILO}) on phone",
        f"  line 4 COBALT b.v.: duplicate of {ref('company', 4)} (P-0003 Cobalt BV) on company",
        "  line 6 ACME bv: duplicate of line 5 (Acme B.V.) on company",
        "  line 7 Zulu Works: duplicate of line 5 (Acme B.V.) on email",
        "  line 8 Yankee Ltd: duplicate of line 5 (Acme B.V.) on phone",
    ]
    assert records(sheet)["Acme B.V."]["ID"] == "P-0014"


def test_the_import_command_reports_suppressed_rejected_and_unknown(
    cli: Cli, sheet: Path, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path,
        'Company,Contact,Source\n"Juliet, Inc",Jules,fair\n,,web\n"[bold]Acme[/] B.V.",Ann,web\n',
    )
    result = cli("import", path, "--dry-run", *shared(sheet))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "in.csv: 3 lines · 1 would be added · 0 duplicates · 1 suppressed · 1 rejected",
        "would be added:",
        "  line 4 -> P-0014 [bold]Acme[/] B.V. (Émile, new)",
        "suppressed:",
        f"  line 2 Juliet, Inc: {ref('company', 11)} (P-0006 Juliet Inc) is not interested; "
        "same company",
        "rejected:",
        "  line 3: no company, contact or email",
        "unknown columns, not imported: 'Source'",
        "dry run: nothing was written",
    ]


def test_the_import_command_json(cli: Cli, sheet: Path) -> None:
    result = cli("import", DATA / "suppressed.csv", "--json", *shared(sheet))
    assert result.exit_code == 0, result.output
    found = data_of(result.stdout)
    assert found["file"] == "suppressed.csv"
    assert found["lines"] == 4
    assert found["added"] == []
    assert found["suppressed"][3] == {
        "line": 5,
        "name": "Foxtrot A/S",
        "of": ref("phone", 7),
        "of_name": "Foxtrot AS",
        "on": ["phone", "company"],
        "why": "dead",
    }
    assert found["dry_run"] is False


def test_the_import_command_json_lists_the_added_rows(cli: Cli, sheet: Path) -> None:
    result = cli("import", DATA / "hubspot.csv", "--json", "--owner", "Zoë", *shared(sheet))
    assert result.exit_code == 0, result.output
    assert data_of(result.stdout)["added"] == [
        {
            "line": 2,
            "id": "P-0014",
            "company": "Northwind Traders Ltd",
            "contact": "Jane Doe",
            "owner": "Anna",
            "status": "new",
            "next_follow_up": "2026-03-11",
        },
        {
            "line": 3,
            "id": "P-0015",
            "company": "Hafnia ApS",
            "contact": "Søren Kierkegaard",
            "owner": "Zoë",
            "status": "new",
            "next_follow_up": "2026-03-11",
        },
    ]
    log = log_rows(sheet)
    assert [row[2] for row in log[1:]] == ["Northwind Traders Ltd", "Hafnia ApS"]
    assert all(as_date(row[0]) == TODAY for row in log[1:])


def test_the_import_command_errors(cli: Cli, sheet: Path) -> None:
    missing = cli("import", "nope.csv", *shared(sheet))
    assert missing.exit_code == ExitCode.USAGE
    assert missing.stderr.splitlines() == ["error: nope.csv: no such file"]
    unknown = cli("import", DATA / "leads.csv", "--owner", "Kim", *shared(sheet))
    assert unknown.exit_code == ExitCode.USAGE
    assert "--owner 'Kim' is not in the Owners tab" in unknown.stderr
    assert not (sheet.parent / ".sheetfollow").exists()


def test_an_import_into_an_open_workbook_waits_and_is_applied_once(cli: Cli, sheet: Path) -> None:
    lock = sheet.parent / f"~${sheet.name}"
    lock.write_bytes(b"\x00" * 165)
    before = file_state(sheet)
    rows_before = len(added_rows(sheet))
    waiting = cli("import", DATA / "leads.csv", *shared(sheet))
    assert waiting.exit_code == ExitCode.PENDING, waiting.output
    assert "open in Excel" in waiting.stderr
    assert "import of leads.csv kept in" in waiting.stderr
    assert file_state(sheet) == before
    # Reading commands already see the new prospects.
    due = cli("due", "--json", *shared(sheet))
    assert "Echo Electric" in due.stdout
    lock.unlink()
    applied = cli("refresh", *shared(sheet))
    assert applied.exit_code == 0, applied.output
    companies = [row["Company"] for row in added_rows(sheet)]
    assert companies.count("Echo Electric") == 1
    again = cli("refresh", *shared(sheet))
    assert again.exit_code == 0
    assert len(added_rows(sheet)) == len(companies) > rows_before
    assert not list((sheet.parent / ".sheetfollow").glob("*.pending.jsonl"))


def test_force_imports_into_an_open_workbook(cli: Cli, sheet: Path) -> None:
    (sheet.parent / f"~${sheet.name}").write_bytes(b"\x00" * 165)
    forced = cli("import", DATA / "leads.csv", "--force", *shared(sheet))
    assert forced.exit_code == 0, forced.output
    assert [row["Company"] for row in added_rows(sheet)][-1] == "Echo Electric"
