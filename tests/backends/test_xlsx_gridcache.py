"""The parse cache of every tab a command reads (backends/_tabcache.py) after writes: after
any write through the backend, every entry that holds a version of a tab holds exactly what a
full read (calamine, no cache) of the written file gives, grid and shape; the day's commands
leave the entries the next command finds; a hit opens neither calamine nor the parts held."""

from __future__ import annotations

import json
import shutil
import zipfile
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

import pytest
from conftest import Cli, Tab, write_workbook
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from soffice import SOFFICE, soffice_convert
from xlsx_fixtures import minimal_workbook, realistic, sheet_document

from sheetfollow.backends import _tabcache
from sheetfollow.backends import xlsx as xlsx_module
from sheetfollow.backends.xlsx import XlsxBackend
from sheetfollow.errors import SheetError
from sheetfollow.sheet import CellValue, CellWrite, TabChanges

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus" / "xlsx"
TODAY = "2026-03-11"
TOUCHES = "sheetfollow_touches"
#: The tabs the commands read (service.open_backend caches them all).
TABS = ("Prospects", "Owners", "Log", "sheetfollow_state", TOUCHES)


def typed(rows: list[list[Any]]) -> list[list[tuple[type, Any]]]:
    """Equal only when every value and its type are (1 == 1.0 == True, but not as cells)."""
    return [[(type(value), value) for value in row] for row in rows]


def current_entries(path: Path, tabs: tuple[str, ...] | list[str] = TABS) -> set[str]:
    """The tabs whose cache entry holds this very version of them; each is checked against a
    full read of the file without the cache: its grid, and the shape (merged ranges,
    formulas, extent) a read takes while unpacking the part."""
    held = set()
    for tab in tabs:
        backend = XlsxBackend(path, cached_tabs=tabs)
        package = backend._package()
        where = backend._cache_entry(package, tab)
        found = None if where is None else _tabcache.fetch(*where)
        if found is None:
            continue
        plain = XlsxBackend(path)
        table = plain.read_tab(tab)
        assert table is not None, tab
        assert typed(found.grid) == typed(table.rows), (path.name, tab)
        sheet = plain._package().info.find(tab)
        assert sheet is not None and sheet.part is not None
        shape = plain._package().shape(sheet.part)
        assert shape is not None
        assert found.meta == xlsx_module._meta_of(shape), (path.name, tab)
        held.add(tab)
    return held


def _realistic(path: Path, rows: int) -> Path:
    realistic().build(path, rows)
    return path


def _run(cli: Cli, *args: str, code: int = 0) -> Any:
    result = cli(*args, "--sheet", "pipeline.xlsx", "--today", TODAY)
    assert result.exit_code == code, result.output
    return result


def _ids(path: Path, count: int) -> list[str]:
    table = XlsxBackend(path).read_tab("Prospects")
    assert table is not None
    return [str(row[0]) for row in table.rows[1:] if row and row[0]][:count]


# --------------------------------------------------------------------------- the commands


def test_a_day_of_commands_on_a_workbook_as_excel_writes_it(cli: Cli) -> None:
    """The benchmark's workbook (shared strings, an Excel Table): the first refresh, the
    morning's `due`, `mark`s, a touch typed in Excel, an import. After each write every entry
    is a full read, and after each `mark` those of Prospects and the touches tab are there
    for the next command."""
    path = _realistic(cli.cwd / "pipeline.xlsx", 300)
    (cli.cwd / ".sheetfollow").mkdir()
    _run(cli, "refresh")
    current_entries(path)
    _run(cli, "due", "--json")
    assert {"Prospects", "Owners", TOUCHES} <= current_entries(path)
    for ident in _ids(path, 40)[10:13]:
        _run(cli, "mark", ident, "no-answer", "--note", "x")
        assert {"Prospects", TOUCHES, "Log"} <= current_entries(path), ident
    # A touch typed in Excel (openpyxl saves every part again): every entry is a miss.
    book = load_workbook(path)
    sheet = book["Prospects"]
    top = next(r for r in range(1, 10) if sheet.cell(r, 1).value == "ID")
    header = [cell.value for cell in sheet[top]]
    sheet.cell(top + 20, header.index("Last contact") + 1).value = date(2026, 3, 10)
    sheet.cell(top + 20, header.index("Last outcome") + 1).value = "voicemail"
    book.save(path)
    assert current_entries(path) == set()
    _run(cli, "refresh")
    assert {"Prospects", TOUCHES} <= current_entries(path)
    csv = cli.cwd / "new.csv"
    csv.write_text("Company,Phone\nAcme Imported,+31 20 123 4567\nBeta Imported,+31 20 765 4321\n")
    _run(cli, "import", str(csv))
    assert "Prospects" in current_entries(path)
    _run(cli, "mark", _ids(path, 5)[2], "reached", "--note", "y")
    assert {"Prospects", TOUCHES} <= current_entries(path)


def test_an_edit_between_two_commands_is_never_served(cli: Cli) -> None:
    """Prospects changed by another program after the entry was made: the entry is for the
    old version, and the next command shows the edit."""
    assert cli("init", "--example", "--today", TODAY, "pipeline.xlsx").exit_code == 0
    path = cli.cwd / "pipeline.xlsx"
    _run(cli, "refresh")
    first = json.loads(_run(cli, "due", "--json").stdout)
    assert "Prospects" in current_entries(path)
    ident = first["data"][0]["id"]
    book = load_workbook(path)
    sheet = book["Prospects"]
    header = [cell.value for cell in sheet[1]]
    row = next(r for r in range(2, sheet.max_row + 1) if sheet.cell(r, 1).value == ident)
    sheet.cell(row, header.index("Company") + 1).value = "Renamed in Excel"
    book.save(path)
    shown = json.loads(_run(cli, "due", "--json").stdout)["data"]
    assert any(r["id"] == ident and r["company"] == "Renamed in Excel" for r in shown)
    assert "Prospects" in current_entries(path)


@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice is not installed")
def test_a_workbook_saved_by_libreoffice(cli: Cli) -> None:
    assert cli("init", "--example", "--today", TODAY, "made.xlsx").exit_code == 0
    saved = cli.cwd / "saved"
    soffice_convert([cli.cwd / "made.xlsx"], "xlsx:Calc MS Excel 2007 XML", saved)
    path = cli.cwd / "pipeline.xlsx"
    shutil.copy(saved / "made.xlsx", path)
    (cli.cwd / ".sheetfollow").mkdir()
    _run(cli, "refresh")
    current_entries(path)
    _run(cli, "due", "--json")
    for ident in _ids(path, 25)[20:23]:
        _run(cli, "mark", ident, "no-answer")
        assert {"Prospects", TOUCHES} <= current_entries(path), ident


# --------------------------------------------------------------------------- the backend


def _write(path: Path, tab: str, changes: TabChanges) -> set[str]:
    """Read every tab through the cache (stores the entries), write, and check them all."""
    tabs = XlsxBackend(path).tab_names()
    backend = XlsxBackend(path, cached_tabs=tabs)
    for name in tabs:
        backend.read_tab(name)
    backend.write([changes])
    return current_entries(path, tabs)


#: Values of every kind a write puts in a cell.
VALUES: list[CellValue] = ["text", "", 42, 3.5, -1e20, date(2026, 3, 11), "=1+1", " padded ", None]


def _corpus() -> list[Path]:
    return sorted(p for p in CORPUS.iterdir() if p.suffix in (".xlsx", ".xlsm"))


@pytest.mark.parametrize("source", _corpus(), ids=lambda p: p.name)
def test_cells_written_into_files_made_by_excel(tmp_path: Path, source: Path) -> None:
    """Every worksheet of every corpus file (Excel, Google Sheets exports, LibreOffice):
    cells of every kind written into its rows and below them; then once more (the styles
    hold a date format by then, so the entry is made from the rows written)."""
    (tmp_path / ".sheetfollow").mkdir()
    path = tmp_path / source.name
    shutil.copy(source, path)
    for tab in XlsxBackend(path).tab_names():
        table = XlsxBackend(path).read_tab(tab)
        if table is None or not table.rows:
            continue
        width = max(len(table.rows[0]), 1)
        for round_ in range(2):
            cells = [
                CellWrite(row, 1 + (row + i) % width, VALUES[(row + i + round_) % len(VALUES)])
                for i, row in enumerate((2, 3, len(table.rows), len(table.rows) + 2))
            ]
            try:
                _write(path, tab, TabChanges(tab, cells=cells))  # checks every entry
            except SheetError:
                break  # a chart sheet, a protected cell...: nothing written, nothing to see


def test_most_corpus_writes_leave_their_entry(tmp_path: Path) -> None:
    """So that the test above cannot pass by storing nothing."""
    stored = tried = 0
    for source in _corpus():
        folder = tmp_path / source.stem
        (folder / ".sheetfollow").mkdir(parents=True)
        path = folder / source.name
        shutil.copy(source, path)
        for tab in XlsxBackend(path).tab_names():
            table = XlsxBackend(path).read_tab(tab)
            if table is None or len(table.rows) < 3:
                continue
            row = table.rows[1]
            column = next((i + 1 for i, v in enumerate(row) if isinstance(v, str)), None)
            if column is None:
                continue
            tried += 1
            held = _write(path, tab, TabChanges(tab, cells=[CellWrite(2, column, "changed")]))
            stored += tab in held
    assert tried >= 8 and stored >= tried * 3 // 4, (stored, tried)


def _small(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".sheetfollow").mkdir(exist_ok=True)
    rows: list[list[Any]] = [["ID", "Name", "When", "Count", "Note", "Flag"]]
    for n in range(1, 13):
        when = date(2026, 1, n) if n % 3 else None
        rows.append(
            [f"P-{n}", f"name {n % 4}", when, n * 1.5, "=1+1" if n == 5 else "", n % 2 == 0]
        )
    return write_workbook(folder / "small.xlsx", Tab("Data", rows))


def test_a_new_column_and_appended_rows(tmp_path: Path) -> None:
    """A column added (a new header past the rectangle) and rows appended below it: each
    entry left is a full read (the new column widens the rectangle: none is left)."""
    path = _small(tmp_path)
    XlsxBackend(path, cached_tabs=["Data"]).read_tab("Data")
    held = _write(path, "Data", TabChanges("Data", new_headers={7: "Added"}))
    assert "Data" not in held
    held = _write(path, "Data", TabChanges("Data", append_rows=[["P-99", "new", date(2026, 2, 2)]]))
    assert "Data" in held
    cells = [CellWrite(3, 7, "in the new column"), CellWrite(4, 2, None)]
    assert "Data" in _write(path, "Data", TabChanges("Data", cells=cells))


CHANGE = st.tuples(
    st.integers(1, 16),
    st.integers(1, 7),
    st.one_of(
        st.none(),
        st.sampled_from(["", "name 1", "P-3", "x & <y>", "ünï ☎", "=SUM(A1:A2)"]),
        st.integers(-5, 10**6),
        # (A number far past calamine's dates in a date cell makes it panic on any read.)
        st.floats(-1e9, 1e9, allow_nan=False),
        st.dates(date(1900, 3, 1), date(2100, 1, 1)),
    ),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    changes=st.lists(CHANGE, max_size=12),
    appended=st.lists(
        st.lists(st.sampled_from([None, "a", 1, date(2026, 5, 1)]), max_size=8), max_size=3
    ),
)
def test_random_change_sets(tmp_path: Path, changes: list[Any], appended: list[Any]) -> None:
    folder = tmp_path / f"h{abs(hash((tuple(changes), repr(appended))))}"
    path = _small(folder)
    cells = [CellWrite(row, column, value) for row, column, value in changes]
    _write(path, "Data", TabChanges("Data", cells=cells, append_rows=appended))
    shutil.rmtree(folder)


# --------------------------------------------------------------------------- hits


def _rezip(source: Path, target: Path, extra: dict[str, tuple[bytes, int, int]]) -> None:
    """`source`'s members as they are stored (same bytes, sizes and checksums: the cache
    keys do not change), plus `extra` (name -> raw deflate data, declared size, CRC)."""
    from backends.test_xlsx_hostile import write_zip

    data = source.read_bytes()
    with zipfile.ZipFile(source) as package:
        members = {
            info.filename: (bytes(xlsx_module._member_data(data, info)), info.file_size, info.CRC)
            for info in package.infolist()
        }
    assert all(info.compress_type == zipfile.ZIP_DEFLATED for info in package.infolist())
    write_zip(target, {**members, **extra})


def test_a_hit_opens_no_calamine(cli: Cli) -> None:
    """The shared strings replaced by markup calamine refuses to open: a command fails when
    it reads a tab, and succeeds, showing what the sound file shows, when every tab it
    reads is held by an entry (made here from the sound file's full reads)."""
    from backends.test_xlsx_hostile import deflated

    sound = _realistic(cli.cwd / "sound.xlsx", 200)
    assert cli("refresh", "--sheet", "sound.xlsx", "--today", TODAY).exit_code == 0
    path = cli.cwd / "pipeline.xlsx"
    strings = XlsxBackend(sound)._package().info.shared_strings
    assert strings is not None
    broken = b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>x'
    data = sound.read_bytes()
    with zipfile.ZipFile(sound) as package:
        members = {
            info.filename: (bytes(xlsx_module._member_data(data, info)), info.file_size, info.CRC)
            for info in package.infolist()
        }
    members[strings] = (deflated(broken), len(broken), zipfile.crc32(broken))
    from backends.test_xlsx_hostile import write_zip

    write_zip(path, members)
    shutil.rmtree(cli.cwd / ".sheetfollow")
    (cli.cwd / ".sheetfollow").mkdir()
    assert _run(cli, "due", "--json", code=SheetError.exit_code).exit_code
    expected = cli("due", "--json", "--sheet", "sound.xlsx", "--today", TODAY).stdout
    backend = XlsxBackend(path, cached_tabs=TABS)
    package = backend._package()
    for tab in XlsxBackend(sound).tab_names():
        where = backend._cache_entry(package, tab)
        read = XlsxBackend(sound)
        table = read.read_tab(tab)
        sheet = read._package().info.find(tab)
        if where is None or table is None or sheet is None or sheet.part is None:
            continue
        shape = read._package().shape(sheet.part)
        assert shape is not None
        _tabcache.store(*where, xlsx_module._meta_of(shape), table.rows)
    shown = json.loads(_run(cli, "due", "--json").stdout)
    assert shown["data"] and shown["data"] == json.loads(expected)["data"]


def test_a_bomb_beside_the_held_parts_is_still_refused(cli: Cli, tmp_path: Path) -> None:
    """Only the parts an entry was made from skip being unpacked and counted when the
    workbook opens: a part that unpacks to far more than it declares, added beside them,
    is refused as it is without a cache."""
    from backends.test_xlsx_hostile import zeros

    assert cli("init", "--example", "--today", TODAY, "made.xlsx").exit_code == 0
    path = cli.cwd / "pipeline.xlsx"
    _rezip(cli.cwd / "made.xlsx", path, {})
    (cli.cwd / ".sheetfollow").mkdir()
    _run(cli, "due", "--json")
    opened = XlsxBackend(path, cached_tabs=TABS)
    package = opened._package()
    assert package.unchecked and "Prospects" in current_entries(path)  # the held parts
    clean = tmp_path / "clean.xlsx"
    shutil.copy(path, clean)
    _rezip(clean, path, {"xl/media/bomb.xml": (zeros(64 << 20), 20_000, 0)})
    result = _run(cli, "due", "--json", code=SheetError.exit_code)
    assert "xl/media/bomb.xml unpacks to more" in result.output


# --------------------------------------------------------------------------- changed rows


def test_a_mark_keeps_only_the_rows_it_changed(cli: Cli) -> None:
    """After the day's first command the whole grid of Prospects is kept; each `mark` then
    keeps only the rows changed since (a few hundred bytes, not the whole tab again), and
    the next command reads the whole entry with those rows put in. Changes whose whole
    entry was replaced, or that are damaged, are a miss."""
    path = _realistic(cli.cwd / "pipeline.xlsx", 300)
    (cli.cwd / ".sheetfollow").mkdir()
    _run(cli, "refresh")
    _run(cli, "due", "--json")
    backend = XlsxBackend(path, cached_tabs=TABS)
    where = backend._cache_entry(backend._package(), "Prospects")
    assert where is not None
    whole = where[0].read_bytes()
    changes = _tabcache.changes_path(where[0])
    for ident in _ids(path, 30)[20:24]:
        _run(cli, "mark", ident, "no-answer")
        assert {"Prospects", TOUCHES} <= current_entries(path), ident
        assert where[0].read_bytes() == whole  # the whole entry stays as it was
        assert 0 < changes.stat().st_size < len(whole) // 10
    backend = XlsxBackend(path, cached_tabs=TABS)
    path_now, key = backend._cache_entry(backend._package(), "Prospects") or (where[0], "")
    found = _tabcache.fetch(path_now, key)
    assert found is not None and 4 <= len(found.changed) < 50
    kept = changes.read_bytes()
    changes.write_bytes(kept[:-5] + bytes([kept[-5] ^ 1]) + kept[-4:])
    assert _tabcache.fetch(path_now, key) is None
    changes.write_bytes(kept)
    assert _tabcache.fetch(path_now, key) is not None
    _tabcache.store(where[0], "0" * 64, found.meta, found.grid)  # another run's whole entry
    assert _tabcache.fetch(path_now, key) is None
    assert "Prospects" not in current_entries(path)
    _run(cli, "due", "--json")  # reads the tab again, keeps it whole
    assert "Prospects" in current_entries(path)


class _Watched(xlsx_module._Capture):
    """A _Capture that is kept where the test sees it."""

    made: ClassVar[list[xlsx_module._Capture]] = []

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.made.append(self)


@pytest.mark.parametrize(
    ("batch", "where_they_are"),
    [(xlsx_module._BATCH, True), (600, True), (xlsx_module._BATCH, False)],
    ids=["one batch", "batches", "squeezed together"],
)
def test_the_nightly_refresh_leaves_the_entry_of_prospects(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, batch: int, where_they_are: bool
) -> None:
    """The next day's refresh writes the Why of every overdue row again (about half of them:
    "was due 3 March (8 days ago)" counts another day), more rows than are checked as they
    are written. It keeps the cells it changed (read back in one batch, or in many), and
    the entry it leaves for the morning's first command is a full read: that command reads
    no tab again."""
    path = _realistic(cli.cwd / "pipeline.xlsx", 300)
    (cli.cwd / ".sheetfollow").mkdir()
    _run(cli, "refresh")
    _run(cli, "due", "--json")
    assert "Prospects" in current_entries(path)
    monkeypatch.setattr(xlsx_module, "_CHECKED_ROWS", 20)
    monkeypatch.setattr(xlsx_module, "_BATCH", batch)
    # Read where they are (from the first cell calamine holds), or with every empty row
    # and column squeezed out, as rows far apart are (and as an older python-calamine,
    # which does not say where a sheet starts, reads them all).
    monkeypatch.setattr(xlsx_module, "_SHEET_START", where_they_are)
    squeezed: list[int] = []
    squeeze = xlsx_module.xml.squeeze_sheet

    def counted(data: bytes) -> tuple[bytes, list[int], list[int]]:
        squeezed.append(len(data))
        return squeeze(data)

    monkeypatch.setattr(xlsx_module.xml, "squeeze_sheet", counted)
    alone: list[int] = []
    rows_alone = xlsx_module._rows_alone

    def read_alone(*args: Any) -> Any:
        alone.append(len(args[2]))
        return rows_alone(*args)

    monkeypatch.setattr(xlsx_module, "_rows_alone", read_alone)
    monkeypatch.setattr(_Watched, "made", [])
    monkeypatch.setattr(xlsx_module, "_Capture", _Watched)
    result = cli("refresh", "--sheet", "pipeline.xlsx", "--today", "2026-03-12")
    assert result.exit_code == 0, result.output
    (capture,) = [c for c in _Watched.made if c.cells]
    rows = set(capture.cells[0::4])
    assert len(rows) > 20 and capture.proven and not capture.rows_taken  # rows put in parsed
    # Each distinct cell read once, in one batch or in many.
    assert sum(alone) == len(capture.texts) - 1 > 20
    assert (len(alone) > 5) == (batch < 1000)
    assert bool(squeezed) != where_they_are
    assert {"Prospects", "Owners", TOUCHES} <= current_entries(path)

    def no_read(*_: object) -> None:
        raise AssertionError("a tab was read again")

    monkeypatch.setattr(XlsxBackend, "_read_grid", no_read)
    result = cli("due", "--json", "--sheet", "pipeline.xlsx", "--today", "2026-03-12")
    assert result.exit_code == 0, result.output


def test_more_changed_than_is_kept_leaves_no_entry(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rewrite that changes more than _CAPTURED_MOST bytes keeps nothing: no entry for the
    tab (the next command reads it), and the entries left are still full reads."""
    path = _realistic(cli.cwd / "pipeline.xlsx", 300)
    (cli.cwd / ".sheetfollow").mkdir()
    _run(cli, "refresh")
    _run(cli, "due", "--json")
    monkeypatch.setattr(xlsx_module, "_CAPTURED_MOST", 2000)
    result = cli("refresh", "--sheet", "pipeline.xlsx", "--today", "2026-03-12")
    assert result.exit_code == 0, result.output
    held = current_entries(path)
    assert "Prospects" not in held and {"Owners", TOUCHES} <= held


@pytest.mark.parametrize("batch", [xlsx_module._BATCH, 60], ids=["one batch", "batches"])
def test_rows_with_and_without_references_in_one_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    """Rows whose cells all have r= are kept by the cells changed; rows with a cell without
    r= (each in the column after the one before it) whole. One write changing, emptying
    and adding cells in both kinds of row leaves an entry that is a full read, whether
    what it kept is read back in one batch or in many (each packed)."""
    monkeypatch.setattr(xlsx_module, "_BATCH", batch)
    rows = ['<row r="1">' + "".join(
        f'<c r="{letter}1" t="inlineStr"><is><t>{letter}</t></is></c>' for letter in "ABCDE"
    ) + "</row>"]  # fmt: skip
    for number in range(2, 12):
        if number % 2:
            cells = "".join(f"<c><v>{number * 10 + i}</v></c>" for i in range(1, 5))
            rows.append(f'<row r="{number}"><c r="A{number}"><v>{number}</v></c>{cells}</row>')
        else:
            cells = "".join(f'<c r="{letter}{number}"><v>{number}</v></c>' for letter in "ACE")
            rows.append(f'<row r="{number}">{cells}</row>')
    path = tmp_path / "refs.xlsx"
    minimal_workbook(path, {"Data": sheet_document("".join(rows))})
    (tmp_path / ".sheetfollow").mkdir()
    cells = [
        CellWrite(row, column, value)
        for row in range(2, 12)
        for column, value in ((2, f"new {row}"), (3, None), (5, row * 1.5))
    ]
    assert "Data" in _write(path, "Data", TabChanges("Data", cells=cells))
    table = XlsxBackend(path).read_tab("Data")
    assert table is not None
    assert table.rows[2] == [3.0, "new 3", None, 33.0, 4.5]  # B..E had no r=
    assert table.rows[3] == [4.0, "new 4", None, None, 6.0]


def test_a_cell_written_past_the_last_column_widens_the_tab(tmp_path: Path) -> None:
    """Rows whose cells all have r=, three columns wide; a write puts a cell in column E of
    one of them: the tab reads five columns wide, and the entry left (if any) says so."""
    rows = "".join(
        f'<row r="{n}">' + "".join(f'<c r="{c}{n}"><v>{n}</v></c>' for c in "ABC") + "</row>"
        for n in range(1, 6)
    )
    path = tmp_path / "wide.xlsx"
    minimal_workbook(path, {"Data": sheet_document(rows)})
    (tmp_path / ".sheetfollow").mkdir()
    _write(path, "Data", TabChanges("Data", cells=[CellWrite(3, 5, "far")]))  # checks entries
    table = XlsxBackend(path).read_tab("Data")
    assert table is not None
    assert table.rows[2] == [3.0, 3.0, 3.0, None, "far"] and len(table.rows[0]) == 5


@pytest.mark.parametrize("where_they_are", [True, False], ids=["where they are", "squeezed"])
def test_a_cell_whose_reference_names_another_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where_they_are: bool
) -> None:
    """Row 3's last cell says it is C4 (a reader puts it there). A write into C3 replaces
    that cell, so C4 empties: the entry left must say so (here: there is none)."""
    monkeypatch.setattr(xlsx_module, "_SHEET_START", where_they_are)
    rows = (
        '<row r="1"><c r="A1"><v>1</v></c><c r="B1"><v>2</v></c><c r="C1"><v>3</v></c></row>'
        '<row r="3"><c r="A3"><v>4</v></c><c r="C4"><v>5</v></c></row>'
        '<row r="5"><c r="A5"><v>6</v></c></row>'
    )
    path = tmp_path / "stray.xlsx"
    minimal_workbook(path, {"Data": sheet_document(rows)})
    (tmp_path / ".sheetfollow").mkdir()
    before = XlsxBackend(path).read_tab("Data")
    assert before is not None and before.rows[3] == [None, None, 5.0]
    _write(path, "Data", TabChanges("Data", cells=[CellWrite(3, 3, "x")]))  # checks entries
    table = XlsxBackend(path).read_tab("Data")
    assert table is not None
    assert table.rows[2] == [4.0, None, "x"] and table.rows[3] == [None, None, None]


ROW_WITHOUT_REFERENCES = st.tuples(
    st.integers(2, 8),
    st.integers(1, 6),
    st.one_of(
        st.none(),
        st.just(""),
        st.text(alphabet="ab xy&<", min_size=1, max_size=4),
        st.integers(-5, 500),
    ),
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    layout=st.lists(st.lists(st.booleans(), min_size=1, max_size=6), min_size=7, max_size=7),
    changes=st.lists(ROW_WITHOUT_REFERENCES, max_size=10),
)
def test_random_writes_into_rows_with_cells_without_references(
    tmp_path: Path, layout: list[list[bool]], changes: list[Any]
) -> None:
    """Rows 2 to 8 hold cells from column A on, each with or without r= (one without is in
    the column after the cell before it). Cells written, emptied and added at random: read
    back, every cell not written holds what it held, in its column, each written one what
    was written; and the entry left is a full read."""
    folder = tmp_path / f"r{abs(hash((repr(layout), repr(changes))))}"
    folder.mkdir()
    (folder / ".sheetfollow").mkdir()
    header = "".join(f'<c r="{c}1" t="inlineStr"><is><t>{c}</t></is></c>' for c in "ABCDEF")
    rows = [f'<row r="1">{header}</row>']
    expected: dict[tuple[int, int], Any] = {}
    for number, referenced in enumerate(layout, start=2):
        cells = []
        for column, with_r in enumerate(referenced, start=1):
            ref = f' r="{"ABCDEF"[column - 1]}{number}"' if with_r else ""
            cells.append(f'<c{ref} t="inlineStr"><is><t>v{number}{column}</t></is></c>')
            expected[number, column] = f"v{number}{column}"
        rows.append(f'<row r="{number}">{"".join(cells)}</row>')
    path = folder / "rows.xlsx"
    minimal_workbook(path, {"Data": sheet_document("".join(rows))})
    written = {(row, column): value for row, column, value in changes}
    for (row, column), value in written.items():
        expected[row, column] = None if value in (None, "") else value
    cells = [CellWrite(row, column, value) for (row, column), value in written.items()]
    _write(path, "Data", TabChanges("Data", cells=cells))  # checks every entry
    table = XlsxBackend(path).read_tab("Data")
    assert table is not None
    for number in range(2, 9):
        values = list(table.rows[number - 1]) if number <= len(table.rows) else []
        values += [None] * (6 - len(values))
        assert values == [expected.get((number, column)) for column in range(1, 7)], number
    shutil.rmtree(folder)
