"""`sheetfollow init`: the starter workbook, the shipped example and the commented config."""

from __future__ import annotations

import hashlib
import importlib.resources
import importlib.util
import re
import sys
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.cell.rich_text import CellRichText
from python_calamine import CalamineWorkbook
from soffice import SOFFICE, soffice_convert

from sheetfollow import vocab
from sheetfollow.config import CONFIG_NAME, Config, load_config
from sheetfollow.errors import SheetfollowError
from sheetfollow.fields import (
    ALL_FIELDS,
    ALL_OWNER_FIELDS,
    LANGUAGES,
    LOG_FIELDS,
    OWNED_FIELDS,
    OWNER_FIELDS,
)
from sheetfollow.models import Outcome, Stage, Status
from sheetfollow.starter import (
    DATE_FORMAT,
    EXAMPLE_ANCHOR,
    LAST_ROW,
    init,
    templates,
    write_config,
    write_example,
    write_starter,
)

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_EXAMPLE = ROOT / "templates" / "example.xlsx"
TODAY = date(2027, 3, 10)


def column(field: str, fields: tuple[str, ...] = ALL_FIELDS) -> str:
    return chr(ord("A") + fields.index(field))


def cell_date(value: object) -> date | None:
    """openpyxl hands dates back as midnight datetimes."""
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else None


def values(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    workbook = load_workbook(path)
    return {sheet.title: list(sheet.iter_rows(values_only=True)) for sheet in workbook}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- The starter workbook ---------------------------------------------------------------------


@pytest.fixture(params=LANGUAGES)
def starter(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Path]:
    lang: str = request.param
    path = tmp_path / f"starter-{lang}.xlsx"
    write_starter(path, lang=lang, today=TODAY)
    return lang, path


def test_starter_tabs_are_named_in_the_language_with_prospects_first(
    starter: tuple[str, Path],
) -> None:
    lang, path = starter
    workbook = load_workbook(path)
    names = vocab.TAB_NAMES[lang]
    assert workbook.sheetnames == [names["prospects"], names["log"], names["owners"]]
    assert workbook.active.title == names["prospects"]


def test_starter_headers_are_plain_text_in_field_order(starter: tuple[str, Path]) -> None:
    lang, path = starter
    workbook = load_workbook(path, rich_text=True)
    expected = [
        [vocab.PROSPECT_HEADERS[lang][name] for name in ALL_FIELDS],
        [vocab.LOG_HEADERS[lang][name] for name in LOG_FIELDS],
        [vocab.OWNER_HEADERS[lang][name] for name in ALL_OWNER_FIELDS],
    ]
    for sheet, headers in zip(workbook.worksheets, expected, strict=True):
        row = list(sheet[1])
        assert [cell.value for cell in row] == headers
        for cell in row:
            assert type(cell.value) is str and not isinstance(cell.value, CellRichText)
            assert cell.data_type == "s" and cell.font.bold
        assert sheet.freeze_panes == "A2"


def test_starter_headers_are_recognised_as_their_fields(starter: tuple[str, Path]) -> None:
    """What init writes, the header matching reads back: in every language."""
    _, path = starter
    reader = CalamineWorkbook.from_path(str(path))
    tabs = reader.sheet_names
    for tab, fields, aliases in zip(
        tabs,
        (ALL_FIELDS, LOG_FIELDS, ALL_OWNER_FIELDS),
        (vocab.HEADER_ALIASES, vocab.LOG_ALIASES, vocab.OWNER_ALIASES),
        strict=True,
    ):
        headers = reader.get_sheet_by_name(tab).to_python()[0]
        for name, header in zip(fields, headers, strict=True):
            assert vocab.normalise(str(header)) in aliases[name], (tab, name, header)


def test_starter_columns_are_wide_enough_and_filtered(starter: tuple[str, Path]) -> None:
    _, path = starter
    prospects = load_workbook(path).worksheets[0]
    for index, header in enumerate(prospects[1], start=1):
        width = prospects.column_dimensions[chr(ord("A") + index - 1)].width
        assert width >= len(str(header.value)) + 3
    last = column(ALL_FIELDS[-1])
    assert prospects.auto_filter.ref == f"A1:{last}{prospects.max_row}"


def _dropdowns(sheet: Any) -> dict[str, tuple[list[str], Any]]:
    found = {}
    for validation in sheet.data_validations.dataValidation:
        assert validation.type == "list"
        choices = validation.formula1.strip('"').split(",")
        for ref in str(validation.sqref).split():
            found[ref] = (choices, validation)
    return found


def test_starter_dropdowns_offer_the_words_of_the_language(starter: tuple[str, Path]) -> None:
    lang, path = starter
    workbook = load_workbook(path)
    prospects, log, owners = workbook.worksheets
    stage, outcome, channel = column("stage"), column("last_outcome"), column("channel")
    lists = _dropdowns(prospects)
    assert set(lists) == {
        f"{stage}2:{stage}{LAST_ROW}",
        f"{outcome}2:{outcome}{LAST_ROW}",
        f"{channel}2:{channel}{LAST_ROW}",
    }
    assert lists[f"{stage}2:{stage}{LAST_ROW}"][0] == list(vocab.STAGE_NAMES[lang].values())
    assert lists[f"{outcome}2:{outcome}{LAST_ROW}"][0] == list(vocab.OUTCOME_NAMES[lang].values())
    assert lists[f"{channel}2:{channel}{LAST_ROW}"][0] == list(vocab.CHANNEL_NAMES[lang].values())
    for _, validation in lists.values():
        assert validation.allow_blank
    digest = column("digest", OWNER_FIELDS)
    assert _dropdowns(owners)[f"{digest}2:{digest}{LAST_ROW}"][0] == list(vocab.YES_NO[lang])
    log_outcome = column("outcome", LOG_FIELDS)
    assert f"{log_outcome}2:{log_outcome}{LAST_ROW}" in _dropdowns(log)


def test_starter_dropdown_lists_fit_excel_in_every_language() -> None:
    # Excel rejects a list dropdown whose formula is longer than 255 characters.
    for lang in LANGUAGES:
        for names in (vocab.STAGE_NAMES, vocab.OUTCOME_NAMES, vocab.CHANNEL_NAMES):
            assert len(",".join(names[lang].values())) <= 255


def test_starter_number_formats(starter: tuple[str, Path]) -> None:
    _, path = starter
    prospects = load_workbook(path).worksheets[0]
    for name in ("created", "last_contact", "follow_up_on", "next_follow_up"):
        assert prospects.column_dimensions[column(name)].number_format == DATE_FORMAT
    assert prospects.column_dimensions[column("value")].number_format == "#,##0"
    # The example rows: real dates in date format, a real number in Value.
    created = prospects[f"{column('created')}2"]
    assert cell_date(created.value) == TODAY and created.number_format == DATE_FORMAT
    called = prospects[f"{column('last_contact')}3"]
    assert cell_date(called.value) == TODAY - timedelta(days=2)
    assert called.number_format == DATE_FORMAT
    assert isinstance(prospects[f"{column('value')}2"].value, int)


def test_starter_rows_use_the_languages_words_and_leave_owned_columns_empty(
    starter: tuple[str, Path],
) -> None:
    lang, path = starter
    tabs = values(path)
    prospects, log, owners = (tabs[vocab.TAB_NAMES[lang][tab]] for tab in vocab.TAB_NAMES[lang])
    rows = [dict(zip(ALL_FIELDS, row, strict=True)) for row in prospects[1:]]
    assert 1 <= len(rows) <= 2
    for row in rows:
        assert all(row[name] is None for name in OWNED_FIELDS)
        assert row["owner"] == owners[1][0]
        assert vocab.STAGE_ALIASES[vocab.normalise(row["stage"])] in Stage
    assert rows[-1]["last_outcome"] == vocab.OUTCOME_NAMES[lang][Outcome.NO_ANSWER]
    # The Log tells the same story as the row it belongs to.
    entry = dict(zip(LOG_FIELDS, log[1], strict=True))
    assert (entry["id"], entry["company"]) == (rows[-1]["id"], rows[-1]["company"])
    assert cell_date(entry["when"]) == cell_date(rows[-1]["last_contact"])
    owner = dict(zip(ALL_OWNER_FIELDS, owners[1], strict=True))
    assert owner["language"] == lang and owner["digest"] == vocab.YES_NO[lang][0]
    # Leave and the daily limit have their columns, empty, so a team finds where they go.
    assert all(owner[name] is None for name in ("away_from", "away_until", "cover"))
    assert owner["calls_per_day"] is None
    assert owner["email"] == "anna@example.com"


#: The colours people should see, per status: (fill, text).
STATUS_COLOURS = {
    Status.OVERDUE: ("FFC7CE", "9C0006"),  # red
    Status.DUE: ("F8CBAD", "843C0C"),  # orange
    Status.NEW: ("DDEBF7", "1F4E78"),  # blue
    Status.SCHEDULED: ("EDEDED", "404040"),  # grey
    Status.SNOOZED: ("EDEDED", "404040"),
    Status.DEAD: (None, "595959"),  # dark grey text
    Status.WON: ("C6EFCE", "006100"),  # green
    Status.CUSTOMER: ("C6EFCE", "006100"),
    Status.NEEDS_ATTENTION: ("FFEB9C", "7F6000"),  # yellow
}


def _matching_rule(rules: list[Any], text: str) -> Any:
    """The first rule whose formula is true for a Status cell holding `text`.

    The formulas compare the cell with quoted words, which Excel does without regard to case.
    """
    for rule in rules:
        words = re.findall(r'="([^"]*)"', rule.formula[0])
        if text.casefold() in (word.casefold() for word in words):
            return rule
    return None


def test_status_is_coloured_by_its_english_value(starter: tuple[str, Path]) -> None:
    lang, path = starter
    prospects = load_workbook(path).worksheets[0]
    status = column("status")
    ranges = {str(rng.sqref): rng.rules for rng in prospects.conditional_formatting}
    rules = ranges[f"{status}2:{status}{LAST_ROW}"]
    for rule in rules:
        assert rule.type == "expression" and rule.formula[0].count(f"{status}2=") >= 1
    for member, (fill, text) in STATUS_COLOURS.items():
        for shown in (member.value, member.value.title(), vocab.STATUS_NAMES[lang][member]):
            rule = _matching_rule(rules, shown)
            assert rule is not None, (member, shown)
            assert rule.dxf.font.color.rgb.endswith(text)
            if fill is None:
                assert rule.dxf.fill is None
            else:
                assert rule.dxf.fill.bgColor.rgb.endswith(fill)
    assert _matching_rule(rules, "something else") is None


def test_starter_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "mine.xlsx"
    path.write_bytes(b"a workbook someone cares about")
    with pytest.raises(SheetfollowError, match="already exists"):
        write_starter(path, today=TODAY)
    assert path.read_bytes() == b"a workbook someone cares about"


def test_starter_rejects_an_unknown_language(tmp_path: Path) -> None:
    with pytest.raises(SheetfollowError, match="unknown language 'fr'"):
        write_starter(tmp_path / "x.xlsx", lang="fr", today=TODAY)
    assert not (tmp_path / "x.xlsx").exists()


def test_starter_opens_in_a_second_reader(starter: tuple[str, Path]) -> None:
    lang, path = starter
    reader = CalamineWorkbook.from_path(str(path))
    prospects = reader.get_sheet_by_name(vocab.TAB_NAMES[lang]["prospects"]).to_python()
    assert len(prospects) == 3
    assert prospects[1][ALL_FIELDS.index("created")] == TODAY


# --- The shipped example ----------------------------------------------------------------------


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_example", ROOT / "tests" / "data" / "make_example.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_committed_example_is_what_the_generator_makes(tmp_path: Path) -> None:
    fresh = tmp_path / "example.xlsx"
    load_generator().build(fresh)
    assert values(fresh) == values(SHIPPED_EXAMPLE)


def test_the_generator_is_deterministic(tmp_path: Path) -> None:
    generator = load_generator()
    generator.build(tmp_path / "one.xlsx")
    generator.build(tmp_path / "two.xlsx")
    assert values(tmp_path / "one.xlsx") == values(tmp_path / "two.xlsx")


def test_the_example_is_found_as_package_data() -> None:
    shipped = importlib.resources.files("sheetfollow.templates")
    assert (shipped / "example.xlsx").is_file()
    assert (shipped / CONFIG_NAME).is_file()
    assert (templates() / "example.xlsx").read_bytes() == SHIPPED_EXAMPLE.read_bytes()


@pytest.fixture(scope="module")
def example() -> dict[str, list[dict[str, Any]]]:
    tabs = values(SHIPPED_EXAMPLE)
    assert list(tabs) == ["Prospects", "Log", "Owners"]
    return {
        tab: [dict(zip(fields, row, strict=True)) for row in tabs[tab][1:]]
        for tab, fields in (
            ("Prospects", ALL_FIELDS),
            ("Log", LOG_FIELDS),
            ("Owners", ALL_OWNER_FIELDS),
        )
    }


def test_example_owners(example: dict[str, list[dict[str, Any]]]) -> None:
    owners = example["Owners"]
    assert len(owners) == 5
    assert {o["language"] for o in owners} == set(LANGUAGES)
    assert {o["country"] for o in owners} == {"NL", "DE", "DK", "ES", "GB"}
    assert all(re.fullmatch(r"[a-z]+@example\.com", o["email"]) for o in owners)
    names = {o["owner"] for o in owners}
    managers = [o for o in owners if o["digest"] == "yes"]
    assert len(managers) == 1
    assert all(o["manager"] == managers[0]["owner"] for o in owners if o is not managers[0])
    delegates = [o["delegate"] for o in owners if o["delegate"]]
    assert len(delegates) == 1 and delegates[0] in names


def test_example_prospects_cover_every_stage_and_outcome(
    example: dict[str, list[dict[str, Any]]],
) -> None:
    rows = example["Prospects"]
    assert 190 <= len(rows) <= 210
    stages = Counter(vocab.STAGE_ALIASES[vocab.normalise(r["stage"])] for r in rows)
    assert set(stages) == set(Stage)
    outcomes = Counter(
        vocab.OUTCOME_ALIASES.get(vocab.normalise(r["last_outcome"]))
        for r in rows
        if r["last_outcome"]
    )
    assert set(outcomes) - {None} == set(Outcome)
    assert {r["segment"] for r in rows} == {"consumables", "capital goods", "services"}
    owners = Counter(r["owner"] for r in rows)
    assert sum(1 for count in owners.values() if count >= 25) == 5
    anchor_leads = [r for r in rows if cell_date(r["created"]) == EXAMPLE_ANCHOR]
    assert anchor_leads and all(r["last_contact"] is None for r in anchor_leads)
    attempts = {r["attempts"] for r in rows if r["last_outcome"] in ("No answer", "Voicemail")}
    assert {1, 2, 3, 4, 5} <= attempts
    call_backs = [r for r in rows if r["last_outcome"] == "Call back"]
    assert sum(1 for r in call_backs if cell_date(r["follow_up_on"])) >= 8
    lost = [r for r in rows if r["stage"] == "Lost"]
    assert any(r["follow_up_on"] for r in lost) and any(not r["follow_up_on"] for r in lost)


def test_example_owned_columns_are_empty_and_some_ids_are_blank(
    example: dict[str, list[dict[str, Any]]],
) -> None:
    rows = example["Prospects"]
    assert all(r[name] is None for r in rows for name in OWNED_FIELDS)
    blank = [r for r in rows if r["id"] is None]
    assert 2 <= len(blank) <= len(rows) // 10
    ids = [r["id"] for r in rows if r["id"] is not None]
    assert len(ids) == len(set(ids))


def test_example_has_the_deliberately_broken_rows(
    example: dict[str, list[dict[str, Any]]],
) -> None:
    rows = example["Prospects"]
    known_owners = {o["owner"] for o in example["Owners"]}

    def count(test: Any) -> int:
        return sum(1 for r in rows if test(r))

    assert count(lambda r: r["follow_up_on"] == "next tuesday") == 1
    assert count(lambda r: r["last_outcome"] == "maybe later") == 1
    assert count(lambda r: r["owner"] is None) == 1
    assert count(lambda r: r["attempts"] == "three") == 1
    assert count(lambda r: r["value"] == "lots") == 1
    assert count(lambda r: r["last_outcome"] == "Call back" and r["follow_up_on"] is None) == 1
    future = [r for r in rows if (cell_date(r["last_contact"]) or date.min) > EXAMPLE_ANCHOR]
    assert len(future) == 1
    assert count(lambda r: r["owner"] is not None and r["owner"] not in known_owners) == 1


def test_example_values_dates_and_phones_are_realistic(
    example: dict[str, list[dict[str, Any]]],
) -> None:
    rows = example["Prospects"]
    amounts = [r["value"] for r in rows if isinstance(r["value"], (int, float))]
    assert len(amounts) == len(rows) - 1
    assert all(500 <= amount <= 250_000 for amount in amounts)
    for r in rows:
        created, last = cell_date(r["created"]), cell_date(r["last_contact"])
        assert created is not None and created <= EXAMPLE_ANCHOR
        if last is not None and last <= EXAMPLE_ANCHOR:
            assert created <= last
    phones = [r["phone"] for r in rows if r["phone"]]
    for pattern in (r"\+31 \d\d \d{3} \d{4}", r"0\d\d-\d{7}", r"0049 \d+ \d+", r"\+45 "):
        assert any(re.fullmatch(pattern, p) or re.match(pattern, p) for p in phones), pattern


def test_example_log_agrees_with_the_rows(example: dict[str, list[dict[str, Any]]]) -> None:
    rows = example["Prospects"]
    log = example["Log"]
    assert len(log) >= len(rows)
    whens = [entry["when"] for entry in log]
    assert whens == sorted(whens) and whens[-1].date() <= EXAMPLE_ANCHOR
    by_company = {r["company"]: r for r in rows}
    assert len(by_company) == len(rows)  # company names are unique
    last_touch: dict[str, dict[str, Any]] = {}
    for entry in log:
        row = by_company[entry["company"]]
        assert entry["id"] == row["id"]
        last_touch[entry["company"]] = entry
    for company, entry in last_touch.items():
        row = by_company[company]
        if cell_date(row["last_contact"]) and cell_date(row["last_contact"]) <= EXAMPLE_ANCHOR:
            assert entry["when"].date() == cell_date(row["last_contact"])
            if row["last_outcome"] != "maybe later":
                assert entry["outcome"] == row["last_outcome"]
    contacted = [r for r in rows if r["last_contact"] is not None]
    assert {r["company"] for r in contacted} == set(last_touch)


# --- write_example ----------------------------------------------------------------------------


def test_write_example_moves_every_date_to_today(tmp_path: Path) -> None:
    before = sha256(SHIPPED_EXAMPLE)
    target = tmp_path / "demo.xlsx"
    write_example(target, today=TODAY)
    assert sha256(SHIPPED_EXAMPLE) == before  # the shipped file is never touched

    shift = TODAY - EXAMPLE_ANCHOR
    original, moved = values(SHIPPED_EXAMPLE), values(target)
    assert list(original) == list(moved)
    seen_three_days_back = False
    dates = 0
    for tab in original:
        assert len(original[tab]) == len(moved[tab])
        for old_row, new_row in zip(original[tab], moved[tab], strict=True):
            for old, new in zip(old_row, new_row, strict=True):
                if isinstance(old, datetime):
                    assert new == old + shift
                    dates += 1
                    if old.date() == EXAMPLE_ANCHOR - timedelta(days=3):
                        assert new.date() == TODAY - timedelta(days=3)
                        seen_three_days_back = True
                else:
                    assert new == old  # text that looks like a date ("next tuesday") stays
    assert seen_three_days_back and dates > 500


def test_write_example_keeps_the_layout(tmp_path: Path) -> None:
    target = tmp_path / "demo.xlsx"
    write_example(target, today=TODAY)
    prospects = load_workbook(target).worksheets[0]
    assert prospects.freeze_panes == "A2"
    assert len(prospects.data_validations.dataValidation) == 3
    assert len(list(prospects.conditional_formatting)) == 1
    assert prospects[f"{column('created')}2"].number_format == DATE_FORMAT


def test_write_example_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "demo.xlsx"
    target.write_bytes(b"keep me")
    with pytest.raises(SheetfollowError, match="already exists"):
        write_example(target, today=TODAY)
    assert target.read_bytes() == b"keep me"


# --- write_config and init --------------------------------------------------------------------


def test_write_config_fills_in_sheet_and_language(tmp_path: Path) -> None:
    path = tmp_path / CONFIG_NAME
    write_config(path, sheet="pipeline 2027.xlsx", lang="da")
    config = load_config(path)
    assert config.sheet == str(tmp_path.resolve() / "pipeline 2027.xlsx")
    assert config.language == "da"
    text = path.read_text(encoding="utf-8")
    assert text.count("# ") > 40  # the comments came along
    shipped = (ROOT / "templates" / CONFIG_NAME).read_text(encoding="utf-8")
    assert len(text.splitlines()) == len(shipped.splitlines())


def test_write_config_escapes_awkward_sheet_names(tmp_path: Path) -> None:
    path = tmp_path / CONFIG_NAME
    awkward = 'C:\\Sales\\"Q1" pipeline.xlsx'
    write_config(path, sheet=awkward, lang="en")
    sheet = load_config(path).sheet
    assert sheet is not None and sheet.endswith(awkward)


def test_write_config_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / CONFIG_NAME
    path.write_text("backups = 1\n", encoding="utf-8")
    with pytest.raises(SheetfollowError, match="already exists"):
        write_config(path, sheet="p.xlsx", lang="en")
    assert path.read_text(encoding="utf-8") == "backups = 1\n"


def test_init_writes_a_workbook_and_a_config_that_points_at_it(tmp_path: Path) -> None:
    path = tmp_path / "prospects.xlsx"
    written = init(path, lang="nl", today=TODAY)
    assert written == [path, tmp_path / CONFIG_NAME]
    config = load_config(cwd=tmp_path)
    assert config.sheet == str(path.resolve())
    assert config.language == "nl"
    assert load_workbook(path).sheetnames[0] == vocab.TAB_NAMES["nl"]["prospects"]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_init_config_names_the_tabs_of_the_workbook(tmp_path: Path, lang: str) -> None:
    path = tmp_path / "prospects.xlsx"
    init(path, lang=lang, today=TODAY)
    tabs = load_config(cwd=tmp_path).tabs
    assert load_workbook(path).sheetnames == [tabs.prospects, tabs.log, tabs.owners]


def test_init_example_config_names_the_english_tabs(tmp_path: Path) -> None:
    path = tmp_path / "demo.xlsx"
    init(path, lang="es", example=True, today=TODAY)
    config = load_config(cwd=tmp_path)
    assert config.language == "es"
    assert load_workbook(path).sheetnames == [
        config.tabs.prospects,
        config.tabs.log,
        config.tabs.owners,
    ]


def test_init_writes_nothing_when_the_config_exists(tmp_path: Path) -> None:
    (tmp_path / CONFIG_NAME).write_text("backups = 1\n", encoding="utf-8")
    with pytest.raises(SheetfollowError, match="already exists"):
        init(tmp_path / "prospects.xlsx", today=TODAY)
    assert not (tmp_path / "prospects.xlsx").exists()


def test_init_overwrite_replaces_both_files(tmp_path: Path) -> None:
    path = tmp_path / "prospects.xlsx"
    path.write_bytes(b"old")
    (tmp_path / CONFIG_NAME).write_text("backups = 1\n", encoding="utf-8")
    init(path, example=True, overwrite=True, today=TODAY)
    assert len(values(path)["Prospects"]) > 150
    assert load_config(cwd=tmp_path).backups == Config().backups
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([CONFIG_NAME, "prospects.xlsx"])


# --- What people see ----------------------------------------------------------------------------


def rendered_cells(workbook: Path, tmp_path: Path) -> dict[str, tuple[str | None, str | None]]:
    """Cell text -> (fill, text colour) as LibreOffice renders the first tab to HTML."""
    profile = tmp_path / "lo-profile"  # a private profile: parallel runs do not collide
    soffice_convert([workbook], "html", tmp_path, profile=profile, timeout=180)
    html = workbook.with_suffix(".html").read_text(encoding="utf-8", errors="replace")
    shown: dict[str, tuple[str | None, str | None]] = {}
    for attrs, body in re.findall(r"<td([^>]*)>(.*?)</td>", html, re.S):
        text = re.sub(r"<[^>]+>", "", body).strip()
        fill = re.search(r'bgcolor="#([0-9A-Fa-f]{6})"', attrs)
        colour = re.search(r'color="#([0-9A-Fa-f]{6})"', body)
        shown.setdefault(
            text, (fill[1].upper() if fill else None, colour[1].upper() if colour else None)
        )
    return shown


@pytest.mark.soffice
@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice is not installed")
def test_libreoffice_shows_status_colours_and_dates(tmp_path: Path) -> None:
    path = tmp_path / "starter.xlsx"
    write_starter(path, lang="de", today=TODAY)
    workbook = load_workbook(path)
    prospects = workbook.worksheets[0]
    statuses = [*STATUS_COLOURS, Status.LOST]
    for row, status in enumerate(statuses, start=4):
        prospects[f"{column('status')}{row}"] = status.value
    prospects[f"{column('status')}{len(statuses) + 4}"] = "Überfällig"  # German for overdue
    workbook.save(path)

    shown = rendered_cells(path, tmp_path)
    for status, (fill, text) in STATUS_COLOURS.items():
        assert shown[status.value] == (fill, text), status
    assert shown["lost"] == (None, "595959")
    assert shown["Überfällig"] == STATUS_COLOURS[Status.OVERDUE]
    assert TODAY.isoformat() in shown  # Created, shown as yyyy-mm-dd
