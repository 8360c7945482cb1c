"""Sheets packed in pieces (backends/_segments.py): a write of a few rows packs again only
the pieces those rows lie in, and the file is the same bytes as when the part is packed
whole; a table of pieces that does not describe the file is never trusted.

conftest.py packs every sheet in pieces of four rows and keeps the table however small the
part, so the rest of the suite goes this way too; here the two ways are compared."""

from __future__ import annotations

import random
import shutil
import zipfile
import zlib
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from python_calamine import CalamineWorkbook
from xlsx_fixtures import members, realistic, sheet_document

from backends.test_xlsx_write_path import random_rows, reference_last_row
from sheetfollow.backends import _segments, _tabcache
from sheetfollow.backends import xlsx as xlsx_module
from sheetfollow.backends.xlsx import XlsxBackend
from sheetfollow.sheet import CellValue, CellWrite, TabChanges

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus" / "xlsx"
CORPUS_FILES = sorted(CORPUS.glob("*.xls[xm]"))


def described_by_its_table(path: Path, tab: str) -> bool:
    """Whether the table of pieces kept for the tab's part, under the key of the part as it
    is in the file now, describes it: each piece unpacks alone to its length and checksum,
    and they add up to the member's size and checksum. False when no such table is kept."""
    backend = XlsxBackend(path)
    package = backend._package()
    part = package.info.find(tab).part  # type: ignore[union-attr]
    assert part is not None
    key = xlsx_module._member_digest(package, part)
    assert key is not None
    where = _tabcache.segments_path(path.parent / ".sheetfollow", path.name, part)
    table = _segments.Table.from_value(_tabcache.value_of(where, key))
    if table is None:
        return False
    info = package.zip.getinfo(part)
    assert (table.raw_size, table.packed_size, table.crc) == (
        info.file_size,
        info.compress_size,
        info.CRC,
    )
    stored = xlsx_module._member_data(package.data, info)
    at = 0
    for segment in table.segments:
        piece = _segments.unpack(stored[at : at + segment.packed], segment)
        if segment.first_row:
            assert _segments.first_row_of(piece) == segment.first_row
        at += segment.packed
    return True


# --------------------------------------------------------------------------- the pieces


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000), st.binary(max_size=3000))
def test_the_crc_of_two_pieces_is_combined_as_zlib_computes_it_whole(a: bytes, b: bytes) -> None:
    combined = _segments.crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b))
    assert combined == zlib.crc32(a + b)


def sheet(numbers: list[int], prefix: str = "", extra: str = "") -> bytes:
    """A worksheet part holding a row for each number (in order), Excel's markup."""
    p = prefix
    rows = "".join(
        f'<{p}row r="{n}" spans="1:2"><{p}c r="A{n}" t="s"><{p}v>{n % 7}</{p}v></{p}c>'
        f'<{p}c r="B{n}"><{p}v>{n * 3}</{p}v></{p}c></{p}row>'
        for n in numbers
    )
    ns = f' xmlns:{p[:-1]}="urn:x"' if p else ' xmlns="urn:x"'
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<{p}worksheet{ns}>'
        f'<{p}dimension ref="A1:B{max(numbers, default=1)}"/><{p}sheetData>{extra}{rows}'
        f'</{p}sheetData><{p}mergeCells><{p}mergeCell ref="A1:B1"/></{p}mergeCells>'
        f"</{p}worksheet>"
    ).encode()


def packed(data: bytes, chunks: Iterator[int]) -> tuple[bytes, _segments.Packer]:
    packer = _segments.Packer(6)
    out, at = [], 0
    while at < len(data):
        size = next(chunks)
        out.append(packer.compress(data[at : at + size]))
        at += size
    out.append(packer.flush())
    return b"".join(out), packer


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.integers(1, 3000), min_size=1, max_size=400, unique=True).map(sorted),
    st.lists(st.integers(1, 5000), min_size=1, max_size=20),
    st.sampled_from(["", "x:"]),
)
def test_where_the_pieces_end_depends_on_the_rows_only(
    numbers: list[int], sizes: list[int], prefix: str
) -> None:
    """However zipfile hands the part over, the same pieces and bytes; the stream unpacks
    to the part; each piece unpacks alone and starts with the first row of its block."""
    data = sheet(numbers, prefix)
    one, pieces = packed(data, iter(lambda: 1 << 20, None))
    other, again = packed(data, (sizes[i % len(sizes)] for i in range(10**9)))
    assert one == other and pieces.segments == again.segments
    assert zlib.decompress(one, -15) == data
    table = _segments.Table(tuple(pieces.segments), 6, pieces.plain)
    assert table.sound() and pieces.plain
    assert (table.raw_size, table.packed_size, table.crc) == (len(data), len(one), zlib.crc32(data))
    at = 0
    starts = []
    for segment in table.segments:
        piece = _segments.unpack(one[at : at + segment.packed], segment)
        if segment.first_row:
            assert _segments.first_row_of(piece) == segment.first_row
            starts.append(segment.first_row)
        at += segment.packed
    blocks = sorted({n // _segments.ROWS for n in numbers} - {0})
    # The first row of every block of row numbers after the first starts a piece.
    assert starts == [min(n for n in numbers if n // _segments.ROWS == b) for b in blocks]


@pytest.mark.parametrize("size", [1, 2, 7, 1 << 20])
@pytest.mark.parametrize(
    ("extra", "plain"),
    [
        ("", True),
        ('<row r="9"><c r="A9" t="inlineStr"><is><t>Call back?! a&lt;!b</t></is></c></row>', True),
        ("<!-- a note -->", False),
        ('<row r="9"><c r="A9" t="inlineStr"><is><t><![CDATA[x]]></t></is></c></row>', False),
        ("<?note x?>", False),
    ],
    ids=["none", "text with ! and ?", "comment", "CDATA", "instruction"],
)
def test_a_comment_among_the_rows_is_noticed_and_the_declaration_is_not(
    extra: str, plain: bool, size: int
) -> None:
    _, packer = packed(sheet([1, 2, 3], extra=extra), iter(lambda: size, None))
    assert packer.plain == plain


def test_a_piece_that_is_not_what_its_table_says_is_refused() -> None:
    data = sheet(list(range(1, 40)))
    stream, packer = packed(data, iter(lambda: 1 << 20, None))
    first = packer.segments[0]
    wrong = _segments.Segment(first.first_row, first.raw, first.packed, first.crc ^ 1)
    with pytest.raises(ValueError, match="not what its table says"):
        _segments.unpack(stream[: first.packed], wrong)
    assert _segments.Table.from_value(("segments", 6, True, (0, 10, 10))) is None
    assert _segments.Table.from_value(("segments", 6, True, (5, 10, 10, 1))) is None


# --------------------------------------------------------------------------- spliced writes


class Spy:
    """Counts the parts written by packing only their changed pieces again."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.spliced: list[str] = []
        real = xlsx_module._write_spliced

        def spy(target: zipfile.ZipFile, member: zipfile.ZipInfo, job: object) -> bool:
            done = real(target, member, job)  # type: ignore[arg-type]
            if done:
                self.spliced.append(member.filename)
            return done

        monkeypatch.setattr(xlsx_module, "_write_spliced", spy)


def tables(folder: Path) -> list[Path]:
    return sorted((folder / ".sheetfollow").glob("*.seg"))


def write_both(ours: Path, whole: Path, changes: list[TabChanges]) -> None:
    """The same write on two copies: `ours` as it comes, `whole` with its tables of pieces
    removed first (every part rewritten whole)."""
    for table in tables(whole.parent):
        table.unlink()
    XlsxBackend(ours).write(changes)
    XlsxBackend(whole).write(changes)


def copies(tmp_path: Path, source: Path) -> tuple[Path, Path]:
    paths = []
    for name in ("ours", "whole"):
        folder = tmp_path / name
        folder.mkdir()
        shutil.copy(source, folder / f"pipeline{source.suffix}")
        paths.append(folder / f"pipeline{source.suffix}")
    return paths[0], paths[1]


def test_marks_on_a_workbook_as_excel_writes_it_are_the_same_bytes_as_whole_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The benchmark's workbook (shared strings, a Table, formulas, a merged title): a first
    write of every row, then writes of a row or two and rows added to the Log, as `mark`
    makes them. Each spliced file is byte for byte the one a whole rewrite makes, and reads
    as written."""
    source = tmp_path / "source.xlsx"
    realistic().build(source, 200)
    ours, whole = copies(tmp_path, source)
    grid = CalamineWorkbook.from_path(str(source)).get_sheet_by_name("Prospects").to_python()
    header = next(i + 1 for i, row in enumerate(grid) if row and row[0] == "ID")
    width = len(grid[header - 1])
    rows = range(header + 1, header + 201)
    first = TabChanges(
        "Prospects", header_row=header, cells=[CellWrite(r, width + 1, f"first {r}") for r in rows]
    )
    write_both(ours, whole, [first])
    assert ours.read_bytes() == whole.read_bytes()
    assert tables(ours.parent)
    spy = Spy(monkeypatch)
    rng = random.Random(7)
    expected: dict[tuple[int, int], CellValue] = {}
    for step in range(12):
        chosen = rng.sample(rows, rng.choice([1, 1, 2, 3]))
        # Over the cells written before, and over a shared text Excel wrote (the company).
        cells = [CellWrite(row, width + 1, f"step {step} row {row}") for row in chosen]
        cells += [CellWrite(chosen[0], 2, f"renamed {step}")]
        cells += [CellWrite(chosen[0], width + 2, date(2026, 3, 1 + step))]
        changes = [
            TabChanges("Prospects", header_row=header, cells=cells),
            TabChanges("Log", append_rows=[[f"P-{step}", "no answer", date(2026, 3, 1 + step)]]),
        ]
        write_both(ours, whole, changes)
        assert ours.read_bytes() == whole.read_bytes(), step
        expected |= {(c.row, c.column): c.value for c in cells}
    assert len(spy.spliced) >= 20  # Prospects and the Log, nearly every time
    with zipfile.ZipFile(ours) as package:
        assert package.testzip() is None
    grid = CalamineWorkbook.from_path(str(ours)).get_sheet_by_name("Prospects").to_python()
    for (row, column), value in expected.items():
        got = grid[row - 1][column - 1]
        assert got == value or getattr(got, "date", lambda: None)() == value, (row, column)
    book = openpyxl.load_workbook(ours)
    log = [row for row in book["Log"].iter_rows(values_only=True) if row[0]]
    assert [row[0] for row in log[-12:]] == [f"P-{step}" for step in range(12)]


def corpus_writes(path: Path, rng: random.Random) -> list[TabChanges]:
    """A few cells in a few rows of every tab of the file that holds rows, each in a
    column past the tab's own (nothing of the file's is written over)."""
    reader = CalamineWorkbook.from_path(str(path))
    changes = []
    for name in reader.sheet_names:
        try:
            grid = reader.get_sheet_by_name(name).to_python(skip_empty_area=False)
        except Exception:
            continue  # a chart sheet
        if len(grid) < 3:
            continue
        column = max(len(row) for row in grid) + 2
        rows = rng.sample(range(1, len(grid) + 1), min(3, len(grid)))
        changes.append(TabChanges(name, cells=[CellWrite(r, column, f"x{r}") for r in rows]))
    return changes


@pytest.mark.parametrize("source", CORPUS_FILES, ids=lambda p: p.name)
def test_files_excel_made_are_the_same_bytes_spliced_and_whole(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every tab of each corpus file written three times: the first rewrite packs the tabs
    in pieces, the next ones pack only the changed pieces again; the files are those whole
    rewrites make, and every other part is the file's own."""
    ours, whole = copies(tmp_path, source)
    rng = random.Random(source.name)
    spy = Spy(monkeypatch)
    for _ in range(3):
        changes = corpus_writes(ours, rng)
        if not changes:
            pytest.skip("no tab with rows")
        write_both(ours, whole, changes)
        assert ours.read_bytes() == whole.read_bytes()
    # Spliced wherever a tab is in more than one piece (rows past the first block of 4).
    reader = CalamineWorkbook.from_path(str(ours))
    tall = [
        c.tab
        for c in changes
        if len(reader.get_sheet_by_name(c.tab).to_python(skip_empty_area=False)) >= _segments.ROWS
    ]
    assert bool(spy.spliced) == bool(tall)
    old, new = members(source), members(ours)
    written = {xlsx_module.XlsxBackend(ours)._package().info.find(c.tab).part for c in changes}  # type: ignore[union-attr]
    for name, data in old.items():
        if name not in written and name != "xl/workbook.xml":
            assert new[name] == data, name


# --------------------------------------------------------------------------- tables not trusted


def workbook_with_table(tmp_path: Path) -> tuple[Path, Path]:
    """A workbook written once (its Prospects part in pieces, their table kept), and the
    path of that table."""
    path = tmp_path / "pipeline.xlsx"
    realistic().build(path, 120)
    XlsxBackend(path).write(
        [TabChanges("Prospects", cells=[CellWrite(r, 30, f"v{r}") for r in range(5, 125)])]
    )
    backend = XlsxBackend(path)
    part = backend._package().info.find("Prospects").part  # type: ignore[union-attr]
    table = _tabcache.segments_path(path.parent / ".sheetfollow", path.name, part)
    assert table.exists()
    return path, table


def expected_after(path: Path, tmp_path: Path, changes: list[TabChanges]) -> bytes:
    """The bytes a whole rewrite of `changes` gives."""
    folder = tmp_path / "expected"
    folder.mkdir()
    shutil.copy(path, folder / path.name)
    XlsxBackend(folder / path.name).write(changes)
    return (folder / path.name).read_bytes()


def one_row() -> list[TabChanges]:
    return [TabChanges("Prospects", cells=[CellWrite(60, 30, "changed")])]


@pytest.mark.parametrize("damage", ["garbage", "truncated", "rows", "checksum", "sizes"])
def test_a_table_that_does_not_describe_the_part_is_not_used(
    damage: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A damaged table file, or one kept under the part's very key that lies about where
    its pieces start, their checksums or sizes: the part is rewritten whole, and the file
    is what a whole rewrite makes (no row written twice, no wrong checksum)."""
    path, where = workbook_with_table(tmp_path)
    expected = expected_after(path, tmp_path, one_row())
    backend = XlsxBackend(path)
    package = backend._package()
    part = package.info.find("Prospects").part  # type: ignore[union-attr]
    key = xlsx_module._member_digest(package, part)
    assert key is not None
    table = _segments.Table.from_value(_tabcache.value_of(where, key))
    assert table is not None and len(table.segments) > 4
    pieces = list(table.segments)
    if damage == "garbage":
        where.write_bytes(b"not a table" * 10)
    elif damage == "truncated":
        where.write_bytes(where.read_bytes()[:-40])
    else:
        if damage == "rows":
            # Every piece said to start 2 rows later: row 60 would be sought in the wrong one.
            pieces = [
                s if i == 0 else s.__class__(s.first_row + 2, s.raw, s.packed, s.crc)
                for i, s in enumerate(pieces)
            ]
        elif damage == "checksum":
            pieces[3] = _segments.Segment(pieces[3].first_row, pieces[3].raw, pieces[3].packed, 0)
        else:
            a, b = pieces[2], pieces[3]  # the boundary between two pieces moved
            pieces[2] = _segments.Segment(a.first_row, a.raw + 10, a.packed + 3, a.crc)
            pieces[3] = _segments.Segment(b.first_row, b.raw - 10, b.packed - 3, b.crc)
        _tabcache.keep_value(
            where, key, _segments.Table(tuple(pieces), table.level, True).to_value()
        )
    spy = Spy(monkeypatch)
    backend.write(one_row())
    assert spy.spliced == []
    assert path.read_bytes() == expected


def test_a_workbook_saved_by_another_program_is_rewritten_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Saved by openpyxl (another deflate, other bytes) after the table was kept: its key
    is another's, the part is rewritten whole (in pieces again) and reads as written."""
    path, _ = workbook_with_table(tmp_path)
    part = XlsxBackend(path)._package().info.find("Prospects").part  # type: ignore[union-attr]
    book = openpyxl.load_workbook(path)
    book["Prospects"].cell(70, 2).value = "typed in Excel"
    book.save(path)
    spy = Spy(monkeypatch)
    XlsxBackend(path).write(one_row())
    assert spy.spliced == []
    XlsxBackend(path).write([TabChanges("Prospects", cells=[CellWrite(61, 30, "again")])])
    assert spy.spliced == [part]
    grid = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Prospects").to_python()
    assert (grid[59][29], grid[60][29], grid[69][1]) == ("changed", "again", "typed in Excel")


# --------------------------------------------------------------------------- the last used row


@pytest.mark.parametrize("seed", range(60))
def test_the_last_used_row_found_from_the_last_piece_is_the_one_every_row_parsed_finds(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The random sheets of test_xlsx_write_path (values, formulas, rich text, formatted rows
    left empty at the end, gaps, rows without r=) packed in pieces of 2 to 16 rows: the row
    an append goes below, found from the last piece backwards, is the slow way's; where a
    row has no number it is not guessed (None: the whole part is read)."""
    rng = random.Random(seed)
    monkeypatch.setattr(_segments, "ROWS", rng.choice([2, 4, 16]))
    numbered = seed % 3 != 0
    data = sheet_document(random_rows(rng, numbered=numbered)).encode()
    stream, packer = packed(data, iter(lambda: rng.randint(5, 500), None))
    if len(packer.segments) < 2:
        return  # one piece: no table is kept
    table = _segments.Table(tuple(packer.segments), 6, packer.plain)
    found = xlsx_module._last_used(xlsx_module._Splice(table, memoryview(stream), None))
    if numbered:
        assert found == reference_last_row(data)
    else:
        assert found in (None, reference_last_row(data))
