"""A Status column the writer adds is coloured like a starter workbook's, in the team's
language; the workbook's own formats stay as they were, and the parts stay in schema order."""

from __future__ import annotations

import posixpath
import re
import shutil
import warnings
import zlib
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from conftest import Cli
from lxml import etree
from soffice import SOFFICE, soffice_convert
from test_adopt import TEAMS, make_workbook
from xlsx_fixtures import (
    MAIN_NS,
    MINIMAL_STYLES,
    REL_NS,
    members,
    minimal_workbook,
    sheet_document,
)

from sheetfollow import starter
from sheetfollow.backends._xlsxformat import AfterSheetData
from sheetfollow.backends.xlsx import XlsxBackend
from sheetfollow.sheet import CellWrite, TabChanges

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus" / "xlsx"
CORPUS_FILES = sorted(CORPUS.glob("*.xls[xm]"))
TODAY = "2026-12-01"
M = f"{{{MAIN_NS}}}"

#: CT_Worksheet's and CT_Stylesheet's sequences (ECMA-376 Part 1, 18.3.1.99 and 18.8.39).
WORKSHEET_ORDER = [
    "sheetPr",
    "dimension",
    "sheetViews",
    "sheetFormatPr",
    "cols",
    "sheetData",
    "sheetCalcPr",
    "sheetProtection",
    "protectedRanges",
    "scenarios",
    "autoFilter",
    "sortState",
    "dataConsolidate",
    "customSheetViews",
    "mergeCells",
    "phoneticPr",
    "conditionalFormatting",
    "dataValidations",
    "hyperlinks",
    "printOptions",
    "pageMargins",
    "pageSetup",
    "headerFooter",
    "rowBreaks",
    "colBreaks",
    "customProperties",
    "cellWatches",
    "ignoredErrors",
    "smartTags",
    "drawing",
    "legacyDrawing",
    "legacyDrawingHF",
    "drawingHF",
    "picture",
    "oleObjects",
    "controls",
    "webPublishItems",
    "tableParts",
    "extLst",
]
STYLESHEET_ORDER = [
    "numFmts",
    "fonts",
    "fills",
    "borders",
    "cellStyleXfs",
    "cellXfs",
    "cellStyles",
    "dxfs",
    "tableStyles",
    "colors",
    "extLst",
]


def in_schema_order(root: Any, order: list[str]) -> bool:
    """True when the element's children (main namespace) follow the schema's sequence."""
    places = [
        order.index(etree.QName(child).localname)
        for child in root
        if isinstance(child.tag, str) and etree.QName(child).namespace == MAIN_NS
    ]
    return places == sorted(places)


def status_rules(sheet: Any) -> dict[str, list[tuple[str, str, str | None]]]:
    """sqref -> [(formula, text colour, fill colour)], colours as RRGGBB."""
    found: dict[str, list[tuple[str, str, str | None]]] = {}
    for cf in sheet.conditional_formatting:
        for rule in cf.rules:
            if rule.dxf is None or rule.dxf.font is None or not rule.formula:
                continue  # a data bar, an icon set: not a colour of ours
            fill = rule.dxf.fill.bgColor.rgb[-6:] if rule.dxf.fill is not None else None
            colour = rule.dxf.font.color.rgb[-6:]
            found.setdefault(str(cf.sqref), []).append((rule.formula[0], colour, fill))
    return found


def load(path: Path) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # x14 extensions openpyxl cannot model
        return openpyxl.load_workbook(path)


def adopted(cli: Cli, tmp_path: Path, lang: str) -> tuple[Path, str]:
    """A team's workbook (headers in row 3, a Status column of its own), adopted and
    refreshed once; and the letter of the Status column sheetfollow added."""
    team = TEAMS[lang]
    path = tmp_path / "team.xlsx"
    make_workbook(path, team)
    assert cli("adopt", path).exit_code == 0
    result = cli("refresh", "--today", TODAY)
    assert result.exit_code == 0, result.output
    sheet = load(path)[team.tab]
    config = (tmp_path / "sheetfollow.toml").read_text(encoding="utf-8")
    header = re.search(r'^status = "(.*)"$', config, re.MULTILINE).group(1)  # type: ignore[union-attr]
    letter = next(c.column_letter for c in sheet[3] if c.value == header)
    return path, letter


@pytest.mark.parametrize("lang", list(TEAMS))
def test_the_added_status_column_has_the_starters_colours(
    cli: Cli, tmp_path: Path, lang: str
) -> None:
    path, letter = adopted(cli, tmp_path, lang)
    sheet = load(path)[TEAMS[lang].tab]
    rules = status_rules(sheet)
    # Only the new column: the team's own Status (G) keeps no colours it did not have. From
    # below the headers (row 3) to well below the last prospect, for the rows people add.
    assert len(rules) == 1
    sqref, ours = next(iter(rules.items()))
    first, last = re.fullmatch(f"{letter}(\\d+):{letter}(\\d+)", sqref).groups()  # type: ignore[union-attr]
    assert int(first) == 4 and int(last) >= 1000 + 6

    prospects = starter.new_workbook(lang).worksheets[0]
    theirs = next(iter(status_rules(prospects).items()))
    starter_cell = theirs[0].split(":")[0]
    expected = [(f.replace(starter_cell, f"{letter}4"), c, fill) for f, c, fill in theirs[1]]
    assert ours == expected
    # Every word refresh wrote is one the colours know, in the team's language.
    written = {sheet[f"{letter}{row}"].value for row in (4, 5, 6)}
    assert written and all(any(f'="{w}"' in f for f, _, _ in ours) for w in written), written


def test_a_second_refresh_adds_nothing(cli: Cli, tmp_path: Path) -> None:
    path, _ = adopted(cli, tmp_path, "nl")
    styles = members(path)["xl/styles.xml"]
    sheet = members(path)["xl/worksheets/sheet1.xml"]
    assert cli("refresh", "--today", "2026-12-02").exit_code == 0

    assert members(path)["xl/styles.xml"] == styles
    after = members(path)["xl/worksheets/sheet1.xml"]
    assert after.count(b"<conditionalFormatting") == sheet.count(b"<conditionalFormatting") == 1


def test_a_starter_workbook_gets_no_second_set(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "pipeline.xlsx"
    assert cli("init", path, "--lang", "de").exit_code == 0
    before = status_rules(load(path).worksheets[0])
    dxfs = members(path)["xl/styles.xml"].count(b"<dxf>")
    assert cli("refresh", "--sheet", path, "--today", TODAY).exit_code == 0

    assert status_rules(load(path).worksheets[0]) == before
    assert members(path)["xl/styles.xml"].count(b"<dxf>") == dxfs


def status_column_change(column: int, tab: str = "Prospects") -> TabChanges:
    return TabChanges(
        tab,
        new_headers={column: "Status"},
        new_fields={column: "status"},
        cells=[CellWrite(2, column, "overdue"), CellWrite(3, column, "due")],
    )


def first_worksheet(parts: dict[str, bytes]) -> tuple[str, str]:
    """The name and part of a workbook's first worksheet (not a chart sheet)."""
    workbook = etree.fromstring(parts["xl/workbook.xml"])
    rels = {
        rel.get("Id"): rel.get("Target")
        for rel in etree.fromstring(parts["xl/_rels/workbook.xml.rels"])
    }
    for sheet in workbook.iter(f"{M}sheet"):
        target = posixpath.normpath(posixpath.join("xl", rels[sheet.get(f"{{{REL_NS}}}id")]))
        if "/worksheets/" in target:
            return sheet.get("name"), target
    raise AssertionError("no worksheet")


def after_cells(data: bytes, skip: str = "") -> list[bytes]:
    """The canonical XML of each child of <worksheet> after <sheetData> (but those holding
    `skip`): the cells, dimension and widths change with a new column, these must not."""
    root = etree.fromstring(data)
    cells = root.find(f"{M}sheetData")
    found = [etree.tostring(child, method="c14n") for child in cells.itersiblings()]
    return [c for c in found if not skip or skip.encode() not in c]


def priorities(data: bytes) -> list[int]:
    root = etree.fromstring(data)
    # An x14 extension of a main rule (a data bar's) has no priority of its own.
    return [int(r.get("priority")) for r in root.iter("{*}cfRule") if r.get("priority")]


def add_status_to(source: Path, target: Path) -> tuple[str, str]:
    shutil.copy(source, target)
    tab, part = first_worksheet(members(target))
    XlsxBackend(target).write([status_column_change(200, tab)])  # GR: right of every sheet
    return tab, part


@pytest.mark.parametrize("source", CORPUS_FILES, ids=lambda p: p.name)
def test_excel_workbooks_keep_every_format_of_their_own(source: Path, tmp_path: Path) -> None:
    target = tmp_path / f"pipeline{source.suffix}"
    tab, part = add_status_to(source, target)
    old, new = members(source), members(target)

    for name, data in old.items():
        if name not in (part, "xl/styles.xml", "xl/workbook.xml") and "/tables/" not in name:
            assert new[name] == data, f"{name} changed"
    # The sheet: the team's parts all there, one block more, in schema order.
    ours = 'sqref="GR2:GR1003"'
    assert after_cells(new[part], skip=ours) == after_cells(old[part])
    assert len(after_cells(new[part])) == len(after_cells(old[part])) + 1
    assert in_schema_order(etree.fromstring(new[part]), WORKSHEET_ORDER)
    # Their rules keep their priorities; ours come after all of them (x14 ones included).
    theirs, now = priorities(old[part]), priorities(new[part])
    top = max(theirs, default=0)
    assert sorted(now) == sorted([*theirs, *range(top + 1, top + 8)])
    # styles.xml: the same, with seven differential formats after the existing ones.
    old_styles, new_styles = (
        etree.fromstring(old["xl/styles.xml"]),
        etree.fromstring(new["xl/styles.xml"]),
    )
    assert in_schema_order(new_styles, STYLESHEET_ORDER)
    old_dxfs = old_styles.find(f"{M}dxfs")
    new_dxfs = new_styles.find(f"{M}dxfs")
    assert new_dxfs is not None
    kept = [] if old_dxfs is None else [etree.tostring(d, method="c14n") for d in old_dxfs]
    assert [etree.tostring(d, method="c14n") for d in new_dxfs][: len(kept)] == kept
    assert len(new_dxfs) == int(new_dxfs.get("count")) == len(kept) + 7
    others = [etree.tostring(c, method="c14n") for c in old_styles if c.tag != f"{M}dxfs"]
    assert [etree.tostring(c, method="c14n") for c in new_styles if c.tag != f"{M}dxfs"] == others
    # openpyxl reads the new rules on the new column, pointing at the new formats.
    rules = status_rules(load(target)[tab])
    assert rules[ours.split('"')[1]][0] == ('GR2="overdue"', "9C0006", "FFC7CE")


TAILS = {
    "nothing": "",
    "margins": '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3"'
    ' footer="0.3"/>',
    "merges and validation": '<mergeCells count="1"><mergeCell ref="A5:B5"/></mergeCells>'
    '<dataValidations count="1"><dataValidation type="list" sqref="B2:B9">'
    '<formula1>"a,b"</formula1></dataValidation></dataValidations>'
    '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>',
    "own rules and an extension": '<autoFilter ref="A1:B3"/>'
    '<conditionalFormatting sqref="A2:A9"><cfRule type="cellIs" dxfId="0" priority="4" '
    'operator="equal"><formula>"x&gt;y"</formula></cfRule></conditionalFormatting>'
    '<hyperlinks><hyperlink ref="A2" display="a &gt; b"/></hyperlinks>'
    "<!-- <conditionalFormatting> in a comment --><extLst><ext uri="
    '"{78C0D931-6437-407d-A8EE-F0AAD7539E65}" xmlns:x14="http://schemas.microsoft.com/'
    'office/spreadsheetml/2009/9/main"><x14:conditionalFormattings><x14:conditionalFormatting>'
    '<x14:cfRule type="dataBar" priority="9" id="{1}"/></x14:conditionalFormatting>'
    "</x14:conditionalFormattings></ext></extLst>",
}
STYLES = {
    "no dxfs": MINIMAL_STYLES,
    "empty dxfs": MINIMAL_STYLES.replace("</styleSheet>", '<dxfs count="0"/></styleSheet>'),
    "dxfs and followers": MINIMAL_STYLES.replace(
        "</styleSheet>",
        '<dxfs count="1"><dxf><font><b/></font></dxf></dxfs>'
        '<tableStyles count="0" defaultTableStyle="TableStyleMedium2"/>'
        '<colors><mruColors><color rgb="FF00FF00"/></mruColors></colors></styleSheet>',
    ),
    "followers without dxfs": MINIMAL_STYLES.replace(
        "</cellStyles>",
        '</cellStyles><tableStyles count="0"/><extLst><ext uri="{X}"/></extLst>',
    ),
}


def prefixed(markup: str) -> str:
    """The same markup with every main-namespace element written as x:name."""
    return re.sub(r"<(/?)(?!x14:)(\w)", r"<\1x:\2", markup).replace(
        f'<x:styleSheet xmlns="{MAIN_NS}"', f'<x:styleSheet xmlns:x="{MAIN_NS}"'
    )


@pytest.mark.parametrize("prefix", ["", "x"])
@pytest.mark.parametrize("styles", list(STYLES))
@pytest.mark.parametrize("tail", list(TAILS))
def test_new_markup_goes_where_the_schema_wants_it(
    tmp_path: Path, tail: str, styles: str, prefix: str
) -> None:
    rows = '<row r="1"><c r="A1" t="inlineStr"><is><t>Company</t></is></c></row>'
    tail_markup, styles_markup = TAILS[tail], STYLES[styles]
    if prefix:
        tail_markup, styles_markup = prefixed(tail_markup), prefixed(styles_markup)
        rows = prefixed(rows)
    path = tmp_path / "book.xlsx"
    minimal_workbook(
        path,
        {"Prospects": sheet_document(rows, prefix=prefix, tail=tail_markup)},
        styles=styles_markup,
    )
    before = members(path)
    XlsxBackend(path).write([status_column_change(2)])
    after = members(path)

    sheet = etree.fromstring(after["xl/worksheets/sheet1.xml"])
    style_root = etree.fromstring(after["xl/styles.xml"])
    assert in_schema_order(sheet, WORKSHEET_ORDER)
    assert in_schema_order(style_root, STYLESHEET_ORDER)
    dxfs = style_root.find(f"{M}dxfs")
    assert dxfs is not None and int(dxfs.get("count")) == len(dxfs)
    added = [f for f in sheet.findall(f"{M}conditionalFormatting") if f.get("sqref") == "B2:B1003"]
    assert len(added) == 1
    ids = [int(rule.get("dxfId")) for rule in added[0]]
    assert ids == list(range(len(dxfs) - 7, len(dxfs)))
    assert dxfs[ids[0]].find(f"{M}font/{M}color").get("rgb") == "FF9C0006"
    numbers = priorities(after["xl/worksheets/sheet1.xml"])
    assert len(set(numbers)) == len(numbers)
    assert min(int(r.get("priority")) for r in added[0]) > max(
        priorities(before["xl/worksheets/sheet1.xml"]), default=0
    )
    # openpyxl and calamine read the result.
    assert load(path)["Prospects"]["B2"].value == "overdue"


def test_the_end_of_the_cells_is_found_when_split_between_pieces() -> None:
    part = b"<sheetData><row r='1'/></sheetData><pageMargins/></worksheet>"
    for cut in range(1, len(part)):
        out: list[bytes | memoryview] = []
        after = AfterSheetData(out.append, b"", lambda tail, _: tail.upper())
        after(part[:cut])
        after(memoryview(part[cut:]))
        after.close()
        assert b"".join(out) == b"<sheetData><row r='1'/></sheetData><PAGEMARGINS/></WORKSHEET>"


def convert(paths: list[Path], target: str, folder: Path) -> None:
    soffice_convert(paths, target, folder)


def fill_colours(pdf: bytes) -> set[tuple[int, int, int]]:
    """The fill colours a PDF paints with (its `r g b rg` operators), as 0-255 triples."""
    colours: set[tuple[int, int, int]] = set()
    for stream in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.DOTALL):
        try:
            text = zlib.decompress(stream.group(1))
        except zlib.error:
            continue
        for match in re.finditer(rb"([\d.]+) ([\d.]+) ([\d.]+) rg\b", text):
            red, green, blue = (round(float(v) * 255) for v in match.groups())
            colours.add((red, green, blue))
    return colours


@pytest.mark.soffice
@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice is not installed")
def test_libreoffice_paints_the_statuses_in_their_colours(cli: Cli, tmp_path: Path) -> None:
    path, letter = adopted(cli, tmp_path, "nl")
    written = {load(path)["Pijplijn"][f"{letter}{row}"].value for row in (4, 5, 6)}
    assert "Te laat" in written  # what the Dutch sheet calls overdue
    convert([path], "pdf", tmp_path / "lo")

    colours = fill_colours((tmp_path / "lo" / "team.pdf").read_bytes())
    assert (0xFF, 0xC7, 0xCE) in colours  # the overdue cells' red
    assert (0x9C, 0x00, 0x06) in colours  # and their dark red text
    # A colour no written status has is painted nowhere: LibreOffice evaluated each cell.
    assert (0xC6, 0xEF, 0xCE) not in colours  # won


@pytest.mark.soffice
@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice is not installed")
def test_libreoffice_reads_the_new_rules_in_every_excel_workbook(tmp_path: Path) -> None:
    written = []
    for source in CORPUS_FILES:
        target = tmp_path / source.name
        written.append((target, add_status_to(source, target)[0]))
    out = tmp_path / "lo"
    convert([t for t, _ in written], "xlsx:Calc MS Excel 2007 XML", out)

    for target, tab in written:
        rules = status_rules(load(out / f"{target.stem}.xlsx")[tab])
        colours = {(f, c, fill) for found in rules.values() for f, c, fill in found}
        assert ('GR2="overdue"', "9C0006", "FFC7CE") in colours, target.name
