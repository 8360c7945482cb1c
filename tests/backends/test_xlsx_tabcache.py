"""The parse cache of the tabs (backends/_tabcache.py): a hit is exactly what calamine reads,
an entry made for another version of a tab is never used, every write that only appends to
the touches tab leaves the entry of the new file, and a damaged or half-written entry is only
a miss. (tests/backends/test_xlsx_gridcache.py: the entries other writes leave.)"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import Cli, Tab, write_workbook
from openpyxl import load_workbook
from xlsx_fixtures import make_feature_workbook, minimal_workbook, realistic, sheet_document

from sheetfollow import snapshot
from sheetfollow.backends import _tabcache
from sheetfollow.backends import xlsx as xlsx_module
from sheetfollow.backends.xlsx import XlsxBackend

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus" / "xlsx"
TODAY = "2026-03-11"
TOUCHES = "sheetfollow_touches"
SEEN = date(2026, 12, 1)


def typed_grid(rows: list[list[Any]]) -> list[list[tuple[type, Any]]]:
    """Equal only when every value and its type are (1 == 1.0 == True, but not as cells)."""
    return [[(type(value), value) for value in row] for row in rows]


def plain_rows(path: Path, tab: str) -> list[list[Any]]:
    """The tab as read without any cache."""
    table = XlsxBackend(path).read_tab(tab)
    assert table is not None
    return table.rows


def entry_of(path: Path, tab: str = TOUCHES) -> list[list[Any]] | None:
    """The cache entry that holds this very version of the tab, if there is one."""
    backend = XlsxBackend(path, cached_tabs=(tab,))
    found = backend._cache_entry(backend._package(), tab)
    loaded = None if found is None else _tabcache.fetch(*found)
    return None if loaded is None else loaded.grid


def assert_entry_sound(path: Path, tab: str = TOUCHES) -> bool:
    """If an entry holds this version of the tab, it is what calamine reads; whether one does."""
    grid = entry_of(path, tab)
    if grid is not None:
        assert typed_grid(grid) == typed_grid(plain_rows(path, tab))
    return grid is not None


# --------------------------------------------------------------------------- hits


def _corpus() -> list[Path]:
    return sorted(p for p in CORPUS.iterdir() if p.suffix in (".xlsx", ".xlsm"))


def _odd_tabs(folder: Path) -> list[Path]:
    """Tabs as people and other tools leave them: every type of cell, dates as text and as
    datetimes, a far-off value (read with the empty rows and columns squeezed out), 1904."""
    typed = write_workbook(
        folder / "typed.xlsx",
        Tab(
            TOUCHES,
            [
                list(snapshot.COLUMNS),
                ["P-1", date(2026, 11, 20), "no answer", 2, "contacted", None, None, SEEN],
                ["P-2", "2026-11-20", "No Answer", "2", "Contacted", None, None, "01-12-2026", "x"],
                [" p-3 ", None, None, 0, "new", None, None, SEEN, True],
                [12345, 45678.5, -1, 1e20, "", "  ", None, None, None],
                [],
                ["P-4", date(1900, 3, 1), "ünïcödé ☎", 3, "<&>\"'", None, None, SEEN],
            ],
        ),
    )
    features = folder / "features1904.xlsx"
    make_feature_workbook(features, date1904=True)
    sparse = folder / "sparse.xlsx"
    minimal_workbook(
        sparse,
        {
            "Far": sheet_document(
                '<row r="1"><c r="A1" t="inlineStr"><is><t>ID</t></is></c></row>'
                '<row r="5"><c r="XFD5"><v>7</v></c></row>'
                '<row r="900000"><c r="B900000" t="inlineStr"><is><t>end</t></is></c></row>'
            ),
            "Gaps": sheet_document(
                '<row r="3"><c r="C3"><v>1.5</v></c><c r="E3" t="b"><v>1</v></c></row>'
                '<row r="7"><c r="A7" t="inlineStr"><is><t> padded </t></is></c>'
                '<c r="B7" t="e"><v>#N/A</v></c><c r="D7" t="str"><f>1+1</f><v>2</v></c></row>'
            ),
        },
    )
    return [typed, features, sparse]


def _workbooks(folder: Path) -> list[Path]:
    folder.mkdir()
    found = [*_corpus(), *_odd_tabs(folder)]
    built = folder / "realistic.xlsx"
    realistic().build(built, 600)
    found.append(built)
    return found


def test_a_hit_is_what_calamine_reads(tmp_path: Path) -> None:
    """Every tab of the corpus, of odd hand-made tabs and of the benchmark's workbook, read
    through the cache twice (a miss that stores, then a hit) and once without it."""
    hits = 0
    for source in _workbooks(tmp_path / "made"):
        folder = tmp_path / source.stem
        (folder / ".sheetfollow").mkdir(parents=True)
        path = folder / source.name
        shutil.copy(source, path)
        tabs = XlsxBackend(path).tab_names()
        for _ in range(2):
            cached = XlsxBackend(path, cached_tabs=tabs)
            for tab in tabs:
                plain = XlsxBackend(path).read_tab(tab)
                table = cached.read_tab(tab)
                assert (table is None) == (plain is None), (source.name, tab)
                if table is not None and plain is not None:
                    assert typed_grid(table.rows) == typed_grid(plain.rows), (source.name, tab)
                    assert (table.epoch, table.merged) == (plain.epoch, plain.merged)
        for tab in tabs:
            if XlsxBackend(path).read_tab(tab) is not None and assert_entry_sound(path, tab):
                hits += 1
    assert hits >= 20  # the corpus has chart sheets (no grid); every worksheet has its entry


def test_a_hit_comes_from_the_entry(tmp_path: Path) -> None:
    """The reads above did use the entries: one holding other cells under the same key is
    what the next read gives (so a wrong entry would be seen)."""
    path = _odd_tabs(tmp_path)[0]
    (tmp_path / ".sheetfollow").mkdir()
    backend = XlsxBackend(path, cached_tabs=(TOUCHES,))
    backend.read_tab(TOUCHES)
    where, key = backend._cache_entry(backend._package(), TOUCHES) or (None, "")
    assert where is not None and where.exists()
    meta = _tabcache.load(where, key)
    assert meta is not None
    _tabcache.store(where, key, meta[0], [["ID"], ["from the entry"]])
    table = XlsxBackend(path, cached_tabs=(TOUCHES,)).read_tab(TOUCHES)
    assert table is not None and table.rows == [["ID"], ["from the entry"]]


def test_no_folder_no_cache(tmp_path: Path) -> None:
    """Reading never makes the .sheetfollow folder (a workbook only read stays alone)."""
    path = _odd_tabs(tmp_path)[0]
    XlsxBackend(path, cached_tabs=(TOUCHES,)).read_tab(TOUCHES)
    assert not (tmp_path / ".sheetfollow").exists()


# --------------------------------------------------------------------------- the commands


def _run(cli: Cli, *args: str, code: int = 0) -> Any:
    result = cli(*args, "--sheet", "pipeline.xlsx", "--today", TODAY)
    assert result.exit_code == code, result.output
    return result


def _grids(folder: Path, tab: str = TOUCHES) -> list[Path]:
    """The entries of `tab` (one file however many versions it had)."""
    where = _tabcache.entry_path(folder / ".sheetfollow", "pipeline.xlsx", tab)
    return sorted(p for p in (folder / ".sheetfollow").glob("*.grid") if p == where)


@pytest.fixture()
def example(cli: Cli) -> Path:
    """The example workbook after its first refresh (the touches tab is there)."""
    assert cli("init", "--example", "--today", TODAY, "pipeline.xlsx").exit_code == 0
    _run(cli, "refresh")
    return cli.cwd / "pipeline.xlsx"


def test_each_append_leaves_the_entry_of_the_new_file(cli: Cli, example: Path) -> None:
    """`mark` and a refresh append to the touches tab; each leaves the entry the next command
    finds, equal to a full read; one entry for the tab however often it changed, and one
    for each other tab the commands read."""
    _run(cli, "due", "--json")
    assert assert_entry_sound(example)
    for ident in ("P-0020", "P-0021", "P-0020"):
        _run(cli, "mark", ident, "no-answer", "--note", "x")
        assert assert_entry_sound(example), ident
    # A touch typed into Prospects (openpyxl rewrites every part): a miss, then stored.
    book = load_workbook(example)
    sheet = book["Prospects"]
    header = [cell.value for cell in sheet[1]]
    row = next(r for r in range(2, sheet.max_row + 1) if sheet.cell(r, 1).value == "P-0022")
    sheet.cell(row, header.index("Last contact") + 1).value = date(2026, 3, 11)
    sheet.cell(row, header.index("Last outcome") + 1).value = "voicemail"
    book.save(example)
    assert not assert_entry_sound(example)
    _run(cli, "refresh")  # reads (stores), then appends the typed touch's snapshot
    assert assert_entry_sound(example)
    _run(cli, "mark", "P-0022", "no-answer")  # openpyxl wrote shared strings: still sound
    assert_entry_sound(example)
    assert len(_grids(cli.cwd)) == 1
    read = {"Prospects", "Owners", "Log", TOUCHES}
    # Each with the rows changed since it was kept whole beside it.
    assert len(list((cli.cwd / ".sheetfollow").glob("*.grid"))) <= 2 * (len(read) + 1)


def test_an_entry_for_another_version_of_the_tab_is_never_used(cli: Cli, example: Path) -> None:
    """The tab edited by another program between two commands: its entry is for the old
    version, and the snapshot changed by hand makes a typed touch, which is found."""
    _run(cli, "check", "--json", code=5)  # the example has problems to show
    old = entry_of(example)
    assert old is not None
    book = load_workbook(example)
    sheet = book[TOUCHES]
    header = [cell.value for cell in sheet[1]]
    contact, attempts = header.index("Last contact") + 1, header.index("Attempts") + 1
    row = next(
        r
        for r in range(sheet.max_row, 1, -1)
        if sheet.cell(r, contact).value is not None and (sheet.cell(r, attempts).value or 0) >= 1
    )
    ident = sheet.cell(row, 1).value
    # The snapshot now says the call before the last one: the last looks freshly typed.
    sheet.cell(row, contact).value = sheet.cell(row, contact).value - timedelta(days=14)
    sheet.cell(row, attempts).value = sheet.cell(row, attempts).value - 1
    book.save(example)
    typed = json.loads(_run(cli, "check", "--json", code=5).stdout)["data"]["typed_touches"]
    assert any(ident in line for line in typed), typed
    assert assert_entry_sound(example) and entry_of(example) != old
    assert len(_grids(cli.cwd)) == 1  # the old entry replaced


# --------------------------------------------------------------------------- damage


def _planted(key: str, marker: Path) -> bytes:
    """An entry under the right key and digest whose payload would create `marker` if it
    were unpickled with pickle's own loader."""

    class Evil:
        def __reduce__(self) -> tuple[Any, ...]:
            return (open, (str(marker), "w"))

    payload = pickle.dumps([[Evil()]])
    digest = hashlib.blake2b(payload, digest_size=32).hexdigest()
    return _tabcache._MAGIC + f"{key} {digest}\n".encode() + payload


@pytest.mark.parametrize("damage", ["empty", "truncated", "flipped", "garbage", "planted"])
def test_a_damaged_entry_is_a_miss_and_is_replaced(cli: Cli, example: Path, damage: str) -> None:
    _run(cli, "due", "--json")
    [entry] = _grids(cli.cwd)
    data = entry.read_bytes()
    key = data[len(_tabcache._MAGIC) : len(_tabcache._MAGIC) + 64].decode()
    marker = cli.cwd / "unpickled"
    damaged = {
        "empty": b"",
        "truncated": data[: len(data) // 2],
        "flipped": data[:-10] + bytes([data[-10] ^ 1]) + data[-9:],
        "garbage": os.urandom(len(data)),
        "planted": _planted(key, marker),
    }[damage]
    entry.write_bytes(damaged)
    assert entry_of(example) is None
    before = _run(cli, "due", "--json").stdout
    assert not marker.exists()
    assert entry.read_bytes() != damaged and assert_entry_sound(example)
    assert _run(cli, "due", "--json").stdout == before


def test_what_a_killed_store_leaves_is_harmless(cli: Cli, example: Path) -> None:
    """A store killed while writing leaves its temporary file (the entry is renamed into
    place only when whole); after a crash an entry may have lost its bytes. Neither is
    used; the temporary file is removed once an hour old, as the workbook writer's are.
    (tests/test_kill_cli.py kills the commands at random moments, stores included.)"""
    _run(cli, "due", "--json")
    [entry] = _grids(cli.cwd)
    data = entry.read_bytes()
    temp = entry.parent / f".{entry.name}.abcd1234.tmp"
    temp.write_bytes(data[:100])
    entry.write_bytes(data[: len(data) - 1])
    shown = _run(cli, "due", "--json").stdout
    assert assert_entry_sound(example) and temp.exists()
    hour_ago = time.time() - 3700
    os.utime(temp, (hour_ago, hour_ago))
    _run(cli, "mark", "P-0020", "no-answer")
    assert not temp.exists() and assert_entry_sound(example)
    assert json.loads(shown) is not None


def test_an_append_to_a_big_tab_leaves_the_entry_of_the_new_file(cli: Cli, example: Path) -> None:
    """A touches tab of several megabytes: the write keeps only the part's first and last
    bytes, and the rows `mark` appends are read from those; the entry is still a full read."""
    book = load_workbook(example)
    sheet = book[TOUCHES]
    for n in range(12_000):  # snapshots of prospects no longer in the sheet
        sheet.append(
            [f"P-9{n:05d}", date(2026, 2, 2), "no answer", 2, "contacted", None, None, SEEN]
        )
    book.save(example)
    part = XlsxBackend(example)._package().info.find(TOUCHES)
    assert part is not None and part.part is not None
    size = XlsxBackend(example)._package().zip.getinfo(part.part).file_size
    assert size > 3 * xlsx_module._KEPT  # more than the write keeps of it
    _run(cli, "due", "--json")
    assert assert_entry_sound(example)
    for ident in ("P-0020", "P-0021"):
        _run(cli, "mark", ident, "no-answer", "--note", "x")
        assert assert_entry_sound(example), ident


def test_appended_rows_not_all_kept_are_read_from_the_part() -> None:
    """When the bytes kept of a part begin inside the appended rows, the rows above cannot be
    told from them: the part is to be unpacked (None), not read short."""
    head = b'<?xml version="1.0"?><worksheet xmlns="x"><sheetData>'
    rows = b"".join(b'<row r="%d"><c r="A%d"><v>1</v></c></row>' % (n, n) for n in (5, 6, 7))
    tail = rows + b"</sheetData></worksheet>"
    assert xlsx_module._appended_rows(tail, head, 3, whole=False) is None
    found = xlsx_module._appended_rows(tail, head, 5, whole=False)
    assert found is not None and found != ()
    start, first, end = found
    assert start == b'<?xml version="1.0"?><worksheet xmlns="x">'
    assert tail[first:end] == rows[rows.index(b'<row r="6"') :]
    whole = head + rows + b"</sheetData></worksheet>"
    found = xlsx_module._appended_rows(whole, whole, 3, whole=True)
    assert found is not None and found != () and whole[found[1] : found[2]] == rows
