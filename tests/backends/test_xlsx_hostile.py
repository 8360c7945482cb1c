"""Workbooks that would stop a run: zip bombs, document type declarations, and a value far
in a corner (XFD5) that made every command build a grid of 16,384 columns.

The bombs are real zip files, built without ever holding what they unpack to: a deflate
stream of zeros is a short block repeated (after a full flush the compressor starts over,
so every megabyte of zeros packs to the same kilobyte).
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import textwrap
import time
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import xlsxwriter
from conftest import TEAM_CONFIG, TEAM_OWNERS, TODAY, Cell, Layout, Tab, write_workbook
from xlsx_fixtures import PROSPECT_HEADERS, STATUS_COLUMN, make_feature_workbook, prospect_rows

from sheetfollow import vocab
from sheetfollow.backends import _xlsxml, xlsx
from sheetfollow.backends.xlsx import MAX_MEMBER_BYTES, MAX_RATIO, XlsxBackend
from sheetfollow.errors import SheetError
from sheetfollow.sheet import CellWrite, TabChanges, Table

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus" / "xlsx"
SHEET = "xl/worksheets/sheet1.xml"  # Prospects, in the feature workbook
MiB = 1 << 20
GiB = 1 << 30

# --------------------------------------------------------------------------- building bombs


def zeros(count: int) -> bytes:
    """A raw deflate stream that inflates to `count` zero bytes (a whole number of MiB)."""
    assert count % MiB == 0
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = packer.compress(bytes(MiB)) + packer.flush(zlib.Z_FULL_FLUSH)
    return block * (count // MiB) + packer.flush()


def deflated(data: bytes) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


def write_zip(path: Path, members: Mapping[str, tuple[bytes, int, int]]) -> None:
    """A zip file by hand: name -> (raw deflate data, declared size, declared CRC-32), so a
    member can declare any size. Declared sizes must stay below 4 GiB (no zip64)."""
    out, central = bytearray(), bytearray()
    for name, (data, size, crc) in members.items():
        encoded, offset = name.encode(), len(out)
        fields = (8, 0, 0x21, crc, len(data), size, len(encoded), 0)  # deflate, 1980-01-01
        out += struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, *fields) + encoded + data
        central += struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, *fields, 0, 0, 0, 0, offset)
        central += encoded
    end = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, len(members), len(members), 0, 0, 0)
    end = end[:12] + struct.pack("<2I", len(central), len(out)) + end[20:]
    path.write_bytes(bytes(out + central + end))


def bombed(path: Path, name: str, stream: bytes, size: int) -> None:
    """The feature workbook with the member `name` replaced by (or added as) `stream`,
    declaring `size` bytes."""
    source = path.with_name("source.xlsx")
    make_feature_workbook(source)
    with zipfile.ZipFile(source) as package:
        members = {
            info.filename: (deflated(package.read(info)), info.file_size, info.CRC)
            for info in package.infolist()
        }
    source.unlink()
    members[name] = (stream, size, 0)
    write_zip(path, members)


def status(value: str, row: int = 2) -> list[TabChanges]:
    return [TabChanges("Prospects", cells=[CellWrite(row, STATUS_COLUMN, value)])]


def refused(path: Path, **options: object) -> str:
    """The one-line message a write gets; it comes quickly and nothing is written."""
    before = path.read_bytes()
    started = time.monotonic()
    with pytest.raises(SheetError) as raised:
        XlsxBackend(path, **options).write(status("due"))  # type: ignore[arg-type]
    assert time.monotonic() - started < 5
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name], "nothing written"
    message = str(raised.value)
    assert "\n" not in message
    return message


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    return tmp_path / "pipeline.xlsx"


# --------------------------------------------------------------------------- zip bombs


def test_the_default_limits(workbook: Path) -> None:
    backend = XlsxBackend(workbook)
    assert (backend.max_member_bytes, backend.max_ratio) == (2 * GiB, 200)
    assert (backend.max_member_bytes, backend.max_ratio) == (MAX_MEMBER_BYTES, MAX_RATIO)


def test_a_sheet_that_unpacks_past_the_limit_is_refused_before_it_is_unpacked(
    workbook: Path,
) -> None:
    stream = zeros(3 * GiB)
    bombed(workbook, SHEET, stream, 3 * GiB)
    assert workbook.stat().st_size < 4 * MiB

    assert refused(workbook) == (
        f"{workbook} is unusually large: {SHEET} unpacks to 3.0 GB (limit 2.0 GB); "
        "not opened (it looks like a zip bomb; if it is a genuine workbook, raise "
        "max_unpacked_mb in sheetfollow.toml)"
    )


def test_an_unrelated_member_that_inflates_a_thousand_times_is_refused(workbook: Path) -> None:
    stream = zeros(2 * GiB)
    bombed(workbook, "xl/media/image1.png", stream, 2 * GiB)
    ratio = f"{2 * GiB / len(stream):,.0f}"

    assert refused(workbook) == (
        f"{workbook} is unusually large: xl/media/image1.png unpacks to 2.0 GB from 2.0 MB, "
        f"{ratio} times its packed size (limit 200 times); not opened (it looks like a zip bomb; "
        "if it is a genuine workbook, raise max_unpack_ratio in sheetfollow.toml)"
    )


def test_a_huge_ratio_below_the_size_limit_is_refused(workbook: Path) -> None:
    stream = zeros(512 * MiB)
    bombed(workbook, "xl/sharedStrings.xml", stream, 512 * MiB)
    packed, ratio = f"{len(stream) / 1024:.1f} KB", f"{512 * MiB / len(stream):,.0f}"

    assert refused(workbook) == (
        f"{workbook} is unusually large: xl/sharedStrings.xml unpacks to 512.0 MB from {packed}, "
        f"{ratio} times its packed size (limit 200 times); not opened (it looks like a zip bomb; "
        "if it is a genuine workbook, raise max_unpack_ratio in sheetfollow.toml)"
    )


@pytest.mark.parametrize(
    ("setting", "refusal"),
    [
        ("max_unpacked_mb = 256", "512.0 MB (limit 256.0 MB)"),
        ("max_unpack_ratio = 2000", None),
    ],
)
def test_the_limits_are_set_in_sheetfollow_toml(
    workbook: Path, setting: str, refusal: str | None
) -> None:
    # 512 MiB of shared strings packed 1,000 times: refused by default for its ratio.
    bombed(workbook, "xl/sharedStrings.xml", zeros(512 * MiB), 512 * MiB)
    (workbook.parent / "sheetfollow.toml").write_text(setting + "\n", encoding="utf-8")
    before = workbook.read_bytes()

    checked = subprocess.run(
        [sys.executable, "-m", "sheetfollow", "check", "--sheet", str(workbook)],
        cwd=workbook.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    if refusal is None:  # allowed through, it is unpacked: zeros are no shared strings
        assert "zip bomb" not in checked.stderr, checked.stderr
        assert "the tab 'Prospects' cannot be read" in checked.stderr, checked.stderr
    else:
        assert checked.returncode == 4, checked.stderr
        assert checked.stderr.count("\n") == 1, checked.stderr
        assert refusal in checked.stderr and "raise max_unpacked_mb" in checked.stderr
    assert workbook.read_bytes() == before


def test_a_member_that_declares_less_than_it_holds_is_stopped_while_inflating(
    workbook: Path,
) -> None:
    # 2 GiB of zeros behind an entry that says 20 KB: the sizes look like any sheet's.
    bombed(workbook, SHEET, zeros(2 * GiB), 20_000)

    assert refused(workbook) == (
        f"{workbook} is unusually large: {SHEET} unpacks to more than the 19.5 KB its zip "
        "entry declares; not opened (it looks like a zip bomb)"
    )


BOUNDED_READ = textwrap.dedent(
    """
    import resource, sys
    from pathlib import Path
    limit = int(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from sheetfollow.backends.xlsx import XlsxBackend
    from sheetfollow.errors import SheetError
    try:
        XlsxBackend(Path(sys.argv[1])).read_tab("Prospects")
    except SheetError as exc:
        print(exc)
        sys.exit(exc.exit_code)
    print("read")
    """
)


def read_in_a_bounded_process(path: Path, limit: int = 1 * GiB) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BOUNDED_READ, str(path), str(limit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_lying_bomb_is_refused_by_a_process_that_may_use_1_gb(workbook: Path) -> None:
    make_feature_workbook(workbook)
    control = read_in_a_bounded_process(workbook)
    assert (control.returncode, control.stdout) == (0, "read\n"), control.stderr

    bombed(workbook, SHEET, zeros(2 * GiB), 20_000)
    done = read_in_a_bounded_process(workbook)

    assert done.returncode == SheetError.exit_code, done.stderr
    assert done.stdout.startswith(f"{workbook} is unusually large: {SHEET} unpacks to more")


def test_the_limits_are_keyword_arguments(workbook: Path) -> None:
    make_feature_workbook(workbook)
    with zipfile.ZipFile(workbook) as package:
        largest = max(package.infolist(), key=lambda info: info.file_size)

    small = refused(workbook, max_member_bytes=largest.file_size - 1)

    assert small.startswith(f"{workbook} is unusually large: {largest.filename} unpacks to ")
    assert XlsxBackend(workbook, max_member_bytes=largest.file_size).tab_names()
    # Only parts above 8 MB are held to the ratio: the feature workbook's are far smaller.
    assert XlsxBackend(workbook, max_ratio=1).tab_names()
    with pytest.raises(ValueError, match="must be positive"):
        XlsxBackend(workbook, max_ratio=0)


def test_a_broken_deflate_stream_is_damaged_not_a_crash(workbook: Path) -> None:
    stream = b"\xff" + zeros(4 * MiB)[1:]  # the first block's type is 3, which deflate lacks
    bombed(workbook, SHEET, stream, 4 * MiB)

    assert refused(workbook) == (
        f"{workbook} is damaged: the part {SHEET} cannot be unpacked (Error -3 while "
        "decompressing data: invalid block type)"
    )


# --------------------------------------------------------------------------- DTDs

EXTERNAL = '<!DOCTYPE sst [<!ENTITY secret SYSTEM "file:///etc/passwd">]>'
LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">'
        for n in range(1, 10)
    )
    + "]>"
)


def with_doctype(path: Path, part: str, doctype: str, *, text: str = "", pad: int = 0) -> None:
    """The feature workbook with a DOCTYPE after the XML declaration of `part` (after a
    comment of `pad` bytes), and `text` put in the part's first <t> or name attribute."""
    source = path.with_name("source.xlsx")
    make_feature_workbook(source)
    with zipfile.ZipFile(source) as package, zipfile.ZipFile(path, "w") as target:
        for info in package.infolist():
            data = package.read(info)
            if info.filename == part:
                head, _, rest = data.partition(b"?>")
                comment = b"<!--" + b"x" * pad + b"-->" if pad else b""
                rest = rest.replace(b"<t>", b"<t>" + text.encode(), 1)
                rest = rest.replace(b'name="Prospects"', b'name="' + text.encode() + b'"', 1)
                data = head + b"?>" + comment + doctype.encode() + rest
            target.writestr(info, data, zipfile.ZIP_DEFLATED)
    source.unlink()


@pytest.mark.parametrize(
    ("part", "doctype", "text"),
    [
        pytest.param("xl/sharedStrings.xml", EXTERNAL, "&secret;", id="external-entity"),
        pytest.param("xl/styles.xml", LAUGHS, "", id="billion-laughs"),
        pytest.param(
            "xl/workbook.xml", '<!DOCTYPE w [<!ENTITY t "Prospects">]>', "&t;", id="workbook"
        ),
        pytest.param(
            SHEET, '<!DOCTYPE worksheet SYSTEM "http://example.com/x.dtd">', "", id="sheet"
        ),
    ],
)
def test_a_part_with_a_doctype_is_refused(
    workbook: Path, part: str, doctype: str, text: str
) -> None:
    with_doctype(workbook, part, doctype, text=text)

    assert refused(workbook) == (
        f"{workbook} is damaged: {part} has a document type declaration (<!DOCTYPE>), which "
        "Excel files never have"
    )


def test_a_doctype_behind_a_long_comment_is_still_refused(workbook: Path) -> None:
    # Past the first 64 KB the package check cannot see it; the parser of small parts does.
    with_doctype(workbook, "xl/workbook.xml", '<!DOCTYPE w [<!ENTITY t "P">]>', pad=100_000)

    assert "xl/workbook.xml has a document type declaration" in refused(workbook)


def test_parse_xml_refuses_a_dtd_in_any_encoding() -> None:
    document = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a [<!ENTITY b "c">]><a>&b;</a>'
    with pytest.raises(_xlsxml.DamagedPart, match="document type declaration"):
        _xlsxml.parse_xml("x.xml", document.encode("utf-16"))
    assert _xlsxml.parse_xml("x.xml", b"<!-- fine --><a/>").tag == "a"


# --------------------------------------------------------------------------- far corners


def corner_workbook(path: Path, rows: int, corners: Mapping[str, object]) -> None:
    """Prospects (a header and `rows` prospects, as XlsxWriter writes them: no element for an
    empty cell), then opened and saved by openpyxl with values put at far cells ("XFD5").
    (XlsxWriter itself would take half a minute: it walks every column of every row.)"""
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Prospects")
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    for r, values in enumerate(prospect_rows(rows)):
        for c, value in enumerate(values):
            if isinstance(value, date):
                sheet.write_datetime(r, c, value, day)
            elif value is not None:
                sheet.write(r, c, value)
    book.add_worksheet("Summary").write(0, 0, "total")
    book.close()
    add_far_values(path, "Prospects", corners)


def add_far_values(path: Path, tab: str, values: Mapping[str, object]) -> None:
    if not values:
        return
    book = openpyxl.load_workbook(path)
    for ref, value in values.items():
        book[tab][ref] = value
    book.save(path)


#: A1 reference -> (row, column), 0-based.
CORNERS = {
    "XFD1": (0, 16383),
    "XFD5": (4, 16383),
    "A1048576": (1048575, 0),
    "XFD1048576": (1048575, 16383),
}


@pytest.fixture(scope="module")
def plain_3000(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Table]:
    """A 3,000-prospect workbook, and its Prospects tab as read."""
    path = tmp_path_factory.mktemp("plain") / "plain.xlsx"
    corner_workbook(path, 3000, {})
    table = XlsxBackend(path).read_tab("Prospects")
    assert table is not None
    return path, table


@pytest.mark.parametrize("where", list(CORNERS))
def test_a_value_in_a_far_corner_is_read_in_its_place(
    tmp_path: Path, plain_3000: tuple[Path, Table], where: str
) -> None:
    far = tmp_path / "far.xlsx"
    shutil.copy(plain_3000[0], far)
    add_far_values(far, "Prospects", {where: "stray"})
    expected = plain_3000[1]
    row, column = CORNERS[where]

    started = time.monotonic()
    table = XlsxBackend(far).read_tab("Prospects")
    elapsed = time.monotonic() - started

    assert table is not None
    assert elapsed < 10, "3,000 rows, read as 3,000 x 16,384 cells, took minutes"
    assert len(table.rows) == (row + 1 if row > 3000 else len(expected.rows))
    assert table.rows[row][column] == "stray"
    assert not any(table.rows[row][column + 1 :])
    for number, (got, want) in enumerate(zip(table.rows, expected.rows, strict=False)):
        assert got[: len(want)] == want
        if number != row:
            assert not any(got[len(want) :])
    assert all(line == [] for line in table.rows[len(expected.rows) : row])


def test_cells_around_a_far_value_are_written_and_it_survives(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.xlsx"
    corner_workbook(path, 200, {"XFD5": "stray"})

    XlsxBackend(path).write(status("due", row=5) + status("won", row=6))

    with zipfile.ZipFile(path) as package:
        assert package.testzip() is None
    table = XlsxBackend(path).read_tab("Prospects")
    assert table is not None
    assert table.rows[4][STATUS_COLUMN - 1] == "due"
    assert table.rows[5][STATUS_COLUMN - 1] == "won"
    assert table.rows[4][16383] == "stray"
    assert table.rows[0][:12] == PROSPECT_HEADERS and not any(table.rows[0][12:])


def test_no_room_for_a_new_column_after_xfd_says_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.xlsx"
    corner_workbook(path, 10, {"XFD1": "stray"})
    change = TabChanges("Prospects", new_headers={16385: "Why"})

    with pytest.raises(SheetError) as raised:
        XlsxBackend(path).write([change])

    assert str(raised.value) == (
        f"{path}: the tab 'Prospects' has no room for a new column 'Why': it would go past XFD, "
        "the last column; clear the cells far to the right of the headers in row 1 and run again"
    )


def squeezed_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    """Read every tab through the path for sparse tabs, however small."""
    monkeypatch.setattr(xlsx, "_too_dense", lambda rows, columns, shape: True)


def trimmed(rows: Sequence[Sequence[object]]) -> list[list[object]]:
    out = []
    for row in rows:
        row = list(row)
        while row and row[-1] is None:
            row.pop()
        out.append(row)
    return out


@pytest.mark.parametrize(
    "source", ["feature", "feature-1904", *sorted(p.name for p in CORPUS.iterdir())]
)
def test_the_sparse_path_reads_every_value_as_calamine_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    path = tmp_path / "book.xlsx"
    if source.startswith("feature"):
        make_feature_workbook(path, date1904=source.endswith("1904"))
    else:
        path = CORPUS / source
    plain = XlsxBackend(path)
    expected = {tab: plain.read_tab(tab) for tab in plain.tab_names()}

    squeezed_everywhere(monkeypatch)
    sparse = XlsxBackend(path)

    for tab, table in expected.items():
        got = sparse.read_tab(tab)
        assert (got is None) == (table is None)
        if got is not None and table is not None:
            assert trimmed(got.rows) == trimmed(table.rows), tab


# --------------------------------------------------------------------------- whole commands

PEAK = textwrap.dedent(
    """
    import json, resource, subprocess, sys, time
    started = time.monotonic()
    done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    print(json.dumps({"code": done.returncode, "out": done.stdout, "err": done.stderr,
                      "peak": peak, "seconds": time.monotonic() - started}))
    """
)


def run_measured(folder: Path, *args: str) -> dict[str, Any]:
    """`sheetfollow ARGS` as a real process: exit code, output, peak memory and time."""
    env = {k: v for k, v in os.environ.items() if k != "SHEETFOLLOW_DEBUG"}
    command = [sys.executable, "-m", "sheetfollow", "--today", TODAY.isoformat(), *args]
    done = subprocess.run(
        [sys.executable, "-c", PEAK, *command],
        cwd=folder,
        env={**env, "COLUMNS": "100", "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_a_value_in_xfd5_no_longer_stops_every_command(tmp_path: Path) -> None:
    extra: list[Mapping[str, Cell]] = [
        {"company": f"Extra {n}", "contact": f"C {n}", "owner": "Anna", "stage": "new",
         "created": date(2026, 3, 2)}
        for n in range(3000)
    ]  # fmt: skip
    owners = Tab(vocab.TAB_NAMES["en"]["owners"], TEAM_OWNERS)
    write_workbook(tmp_path / "pipeline.xlsx", Layout(extra_rows=extra).tab(), owners)
    add_far_values(tmp_path / "pipeline.xlsx", "Prospects", {"XFD5": "stray"})
    (tmp_path / "sheetfollow.toml").write_text(TEAM_CONFIG, encoding="utf-8")

    for command in ("due", "refresh"):
        result = run_measured(tmp_path, command)
        assert result["code"] == 0, result["err"]
        # Before: 3,000 rows x 16,384 columns, many GB and minutes; now like any tab.
        assert int(result["peak"]) < 600 * MiB, result
        assert float(result["seconds"]) < 60, result

    table = XlsxBackend(tmp_path / "pipeline.xlsx").read_tab("Prospects")
    assert table is not None and table.rows[4][16383] == "stray"


def test_a_bomb_stops_a_command_with_its_message_and_exit_code(tmp_path: Path) -> None:
    workbook = tmp_path / "pipeline.xlsx"
    bombed(workbook, SHEET, zeros(2 * GiB), 20_000)
    (tmp_path / "sheetfollow.toml").write_text(TEAM_CONFIG, encoding="utf-8")

    result = run_measured(tmp_path, "due")

    assert result["code"] == SheetError.exit_code
    assert f"{SHEET} unpacks to more than the 19.5 KB its zip entry declares" in str(result["err"])
    assert int(result["peak"]) < 400 * MiB
