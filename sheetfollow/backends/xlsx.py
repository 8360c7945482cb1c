"""The Excel backend (.xlsx, .xlsm).

Reading goes through python-calamine. Writing never re-saves the workbook through a library
model (that loses charts, notes, sparklines, macros...): the package is copied member by
member and only the parts that must change are edited as bytes: the target sheet's changed
rows, and where needed styles.xml (one date format), a table's range, workbook.xml
(fullCalcOnLoad, a new tab) and the package's lists of parts.
"""

from __future__ import annotations

import array
import contextlib
import dataclasses
import errno
import functools
import hashlib
import io
import itertools
import operator
import os
import posixpath
import re
import stat
import struct
import sys
import tempfile
import types
import zipfile
import zlib
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import IO, Any
from xml.parsers import expat

import python_calamine

from sheetfollow import collector
from sheetfollow.backends import _segments, _tabcache, _xlsxformat, lockfiles
from sheetfollow.backends import _xlsxml as xml
from sheetfollow.errors import BusyError, SheetError
from sheetfollow.files import fsync_folder, remove_stale_temps
from sheetfollow.sheet import (
    EPOCH_1900,
    EPOCH_1904,
    CellValue,
    RawValue,
    TabChanges,
    Table,
    WriteResult,
)

__all__ = ["XlsxBackend"]

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_MAX_ROW = 1_048_576
_MAX_COLUMN = 16_384
_FORBIDDEN_IN_TAB_NAME = re.compile(r"[\[\]:*?/\\]")
_CONTENT_TYPES = "[Content_Types].xml"
_BLOCK = 1 << 20
#: Value types calamine returns that a Table holds as they are.
_PLAIN = frozenset({str, float, int, bool, date, datetime})
#: A rewritten part above this size is compressed at zlib level 3 instead of 6: 2.5 times
#: faster on a 120 MB sheet, for a part about 13% larger.
_BIG_PART = 16 << 20
_BIG_PART_LEVEL = 3
#: A rewrite of at most this many rows of a sheet is checked row by row as it is written,
#: each row as it was and as it is (xml.RewriteCheck); one of more rows, each row as it is
#: only, or, when nearly every row of the sheet changes, the part whole once written.
_CHECKED_ROWS = 2000
#: A rewrite keeps at most this much of what it changed for the parse cache (_Capture): a
#: nightly refresh of 200,000 rows changes 120,000 cells (2 MB kept, each distinct cell
#: once), its first refresh a million (16 MB). Past it nothing is kept: reading it all back
#: would add to the write's memory.
_CAPTURED_MOST = 64 << 20
#: ... whole rows (those with a cell without r=) in batches of about this many bytes,
#: packed, and each read alone in turn; distinct cells too.
_BATCH = 4 << 20
#: Rows read alone (_rows_alone) that lie within twice their number plus this many rows of
#: each other are read where they are, not squeezed together.
_NOT_SQUEEZED = 1000
#: Whether python-calamine says where the cells of a sheet start (CalamineSheet.start).
_SHEET_START = hasattr(python_calamine.CalamineSheet, "start")
#: The values of a row read alone that holds none.
_NOTHING: Mapping[int, RawValue] = types.MappingProxyType({})
#: A part rewritten in a few rows packs again only the pieces they lie in (_write_spliced)
#: when those hold at most this much, or a quarter of the part.
_SPLICED_MOST = 16 << 20
#: How much of the start and of the end of a rewritten sheet a write keeps at least
#: (_SheetJob.head, .tail): the root tag, and the rows a `mark` appends to the touches tab.
_KEPT = _BLOCK
#: What the system says when a folder or file cannot be written for lack of permission or
#: because its file system is mounted read-only (a read-only share).
_READ_ONLY_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})

#: Zip members are checked before anything is unpacked: a 2 MB file whose sheet inflates to
#: 2 GB would otherwise exhaust memory in calamine. A full-height sheet (1,048,575 rows of 18
#: columns, Excel's markup) unpacks to 670 MB with values and shared strings, and to 1.24 GB
#: with a formula in every cell; twice the first leaves room for both.
MAX_MEMBER_BYTES = 2 << 30
#: Sheets deflate 6 to 30 times (measured on full-height sheets: values 6x, the same text
#: everywhere 20x, a formula in every cell 25x, empty formatted rows 29x); deflate itself
#: cannot go past about 1,030x. Only members larger than _RATIO_CHECKED_ABOVE are held to it.
MAX_RATIO = 200
_RATIO_CHECKED_ABOVE = 8 << 20
_INFLATE_CHUNK = 1 << 16
_LOCAL_HEADER = struct.Struct("<4s22xHH")
#: calamine holds a tab as a dense rectangle from A1 (32 bytes a cell, before Python's lists):
#: a lone value in XFD5 of a 3,000-row tab means 49 million cells, minutes and gigabytes. A
#: tab whose rectangle is larger than this, and than eight times the most cells its XML can
#: hold, is read with its empty rows and columns squeezed out.
_DENSE_CELLS = 2_000_000


@dataclass(frozen=True)
class _Fingerprint:
    size: int
    mtime_ns: int
    sha256: str


#: Unpacks a member of the package in pieces and counts (XlsxBackend._check_inflated).
_Check = Callable[[zipfile.ZipFile, bytes, zipfile.ZipInfo], "xml.SheetShape | None"]


class _Package:
    """One version of the workbook file, opened once.

    `check`, when given, is the zip-bomb check: every member is unchecked at first and
    checked before it is first read whole or calamine opens the package (calamine reads
    until a stream ends, whatever its entry declares). Reading a member in pieces through
    zipfile (shape, the writer's rewrite) stops at the size its entry declares, which the
    caller has checked already."""

    def __init__(self, data: bytes, check: _Check | None = None) -> None:
        self.data = data
        self.zip = zipfile.ZipFile(io.BytesIO(data))
        self.names = set(self.zip.namelist())
        self._check = check
        #: Members not yet unpacked and counted by `check`.
        self.unchecked: set[str] = set(self.names) if check is not None else set()
        #: Worksheet parts a cache entry holds (XlsxBackend._held_by_cache): checked only
        #: when read whole, not when calamine opens the package to read another tab.
        self.held: set[str] = set()
        #: Where the cells of each worksheet part lie, when known (found while checking it).
        self.shapes: dict[str, xml.SheetShape] = {}
        #: Cache keys (XlsxBackend._cache_entry) and digests of members, once computed.
        self.keys: dict[str, str] = {}
        self.digests: dict[str, str] = {}
        #: The pieces each member is packed in, once looked up (XlsxBackend._pieces_of).
        self.pieces: dict[str, _Splice | None] = {}
        #: How the cache held each tab read from it or stored (for a write's changes).
        self.found: dict[str, _tabcache.Found] = {}
        workbook = xml.find_workbook_part(self.read_optional("_rels/.rels"))
        if workbook not in self.names:
            raise xml.DamagedPart(f"the workbook part {workbook} is missing")
        self.info = xml.read_workbook_info(
            workbook, self.read(workbook), self.read_optional(xml.rels_part_of(workbook))
        )
        self._calamine: Any = None
        #: Tabs already read from these bytes, by name.
        self.grids: dict[str, list[list[RawValue]]] = {}

    def check(self, names: Collection[str]) -> None:
        """Run the zip-bomb check on those of `names` not checked yet, in the package's order
        (every entry of a name a broken zip holds twice)."""
        wanted = self.unchecked.intersection(names)
        if not wanted or self._check is None:
            return
        for info in self.zip.infolist():
            if info.filename in wanted:
                shape = self._check(self.zip, self.data, info)
                if shape is not None:
                    self.shapes.setdefault(info.filename, shape)
        self.unchecked -= wanted

    def read(self, name: str) -> bytes:
        if name in self.unchecked:
            self.check((name,))
        try:
            return self.zip.read(name)
        except KeyError as exc:
            raise xml.DamagedPart(f"the part {name} is missing") from exc
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
            raise xml.DamagedPart(f"the part {name} cannot be unpacked ({exc})") from exc

    def read_optional(self, name: str) -> bytes | None:
        return self.read(name) if name in self.names else None

    def shape(self, part: str) -> xml.SheetShape | None:
        shape = self.shapes.get(part)
        if shape is None and part in self.unchecked:
            # The check unpacks the part and takes its shape on the way: one pass, not two.
            self.check((part,))
            shape = self.shapes.get(part)
        if shape is None:
            shape = xml.SheetShape()
            try:
                with self.zip.open(part) as stream:
                    while piece := stream.read(_BLOCK):
                        shape.feed(piece)
            except (zipfile.BadZipFile, zlib.error, OSError, EOFError):
                return None  # calamine says what is wrong
            self.shapes[part] = shape
        return shape

    def tables(self, sheet_part: str) -> list[xml.TableInfo]:
        rels = xml.parse_rels(sheet_part, self.read_optional(xml.rels_part_of(sheet_part)))
        return [
            xml.read_table(rel.target, self.read(rel.target))
            for rel in rels
            if rel.type == xml.REL_TABLE and not rel.external and rel.target in self.names
        ]

    def calamine(self) -> Any:
        if self._calamine is None:
            # calamine unpacks a worksheet only when it is read (_read_grid checks it first);
            # every other part may be unpacked as it opens, the shared strings always.
            self.check(self.unchecked - self.held)
            self._calamine = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(self.data))
        return self._calamine


@dataclass
class _Loaded:
    package: _Package
    fingerprint: _Fingerprint


class XlsxBackend:
    """A workbook on disk. Reads are cached; a write replaces the file atomically."""

    #: Seconds to wait for another sheetfollow run that is writing the same file.
    lock_timeout: float = 5.0
    #: Told how far long work has come: (phase, fraction 0..1), at least every 2% or so of
    #: the rows or bytes of a phase ("reading Prospects", "writing pipeline.xlsx",
    #: "checking the new file"). None: nobody is told.
    progress: Callable[[str, float], None] | None = None

    def __init__(
        self,
        path: Path,
        *,
        backups: int = 3,
        stale_lock_after: timedelta = timedelta(hours=12),
        max_member_bytes: int = MAX_MEMBER_BYTES,
        max_ratio: float = MAX_RATIO,
        cached_tabs: Collection[str] = (),
    ) -> None:
        if backups < 0:
            raise ValueError("backups cannot be negative")
        if stale_lock_after < timedelta(0):
            raise ValueError("stale_lock_after cannot be negative")
        if max_member_bytes <= 0 or max_ratio <= 0:
            raise ValueError("max_member_bytes and max_ratio must be positive")
        self.path = Path(path)
        self.label = str(path)
        self.backups = backups
        #: No part of the package may unpack to more than this many bytes, and none larger
        #: than 8 MB may unpack to more than max_ratio times its packed size: the file is
        #: refused before anything is unpacked (a zip bomb).
        self.max_member_bytes = max_member_bytes
        self.max_ratio = max_ratio
        #: An Excel or LibreOffice lock file is called stale when neither it nor the workbook
        #: changed for longer than this (it still stops a write; only the message differs).
        self.stale_lock_after = stale_lock_after
        #: Tabs whose grid is kept in the parse cache (_tabcache) in the .sheetfollow folder:
        #: the tabs sheetfollow reads. A write leaves the entries of the new file.
        self.cached_tabs = frozenset(tab.casefold() for tab in cached_tabs)
        self._loaded: _Loaded | None = None

    # ------------------------------------------------------------------ reading

    def tab_names(self) -> list[str]:
        return [sheet.name for sheet in self._package().info.sheets]

    def read_tab(self, tab: str) -> Table | None:
        if not tab:
            return None
        package = self._package()
        entry = package.info.find(tab)
        if entry is None:
            return None
        epoch = EPOCH_1904 if package.info.date1904 else EPOCH_1900
        if entry.part is None:
            return Table(tab=entry.name, rows=[], epoch=epoch)
        with self._damaged():
            headers = [t.header_row for t in package.tables(entry.part) if t.header_row]
        rows = self._grid(package, entry.name)
        shape = package.shape(entry.part) if entry.part in package.names else None
        return Table(
            tab=entry.name,
            rows=rows,
            epoch=epoch,
            table_header_row=headers[0] if headers else None,
            merged=tuple(sorted(shape.merged)) if shape is not None else (),
        )

    def release(self, tab: str) -> bool:
        """Let go of the tab's grid when its parse-cache entry holds it (reading it again
        costs an unpickling, not a parse); a write then keeps no entry for it unless it is
        read again first."""
        if self._loaded is None:
            return False
        package = self._loaded.package
        entry = package.info.find(tab)
        if entry is None or entry.name not in package.found:
            return False
        package.grids.pop(entry.name, None)
        del package.found[entry.name]
        return True

    def _grid(self, package: _Package, name: str) -> list[list[RawValue]]:
        # A package is the bytes of one version of the file, so its grids never go stale;
        # the ID re-check before a write reuses the grid read moments before (a 30,000-row
        # tab takes half a second to read).
        if name not in package.grids:
            with collector.paused():  # thousands of objects a tab, all kept: no gc passes
                package.grids[name] = self._cached_grid(package, name)
        return package.grids[name]

    def _cached_grid(self, package: _Package, name: str) -> list[list[RawValue]]:
        """The tab's grid from the parse cache when it holds this very version of the tab,
        else read (and stored for the next run). A hit also gives the part's shape (its
        merged ranges, whether it holds formulas), so the part is not unpacked at all."""
        entry = self._cache_entry(package, name)
        sheet = package.info.find(name)
        part = sheet.part if sheet is not None else None
        if entry is not None and part is not None:
            found = _tabcache.fetch(*entry)
            shape = _shape_of(found.meta) if found is not None else None
            if found is not None and shape is not None:
                package.shapes.setdefault(part, shape)
                package.found[name] = found
                return found.grid
        grid = self._read_grid(package, name)
        if entry is not None and part is not None:
            shape = package.shape(part)
            if shape is not None:
                meta = _meta_of(shape)
                _tabcache.store(entry[0], entry[1], meta, grid)
                package.found[name] = _tabcache.Found(meta, grid, entry[1], len(grid), {})
        return grid

    def _cache_entry(self, package: _Package, name: str) -> tuple[Path, str] | None:
        """Where the tab's cache entry is kept and the key its content gives, or None when
        the tab is not cached (not one of the tabs sheetfollow reads, or no .sheetfollow
        folder: none is made to read)."""
        if name.casefold() not in self.cached_tabs:
            return None
        sheet = package.info.find(name)
        if sheet is None or sheet.part is None or sheet.part not in package.names:
            return None
        folder = self.path.parent / ".sheetfollow"
        if not folder.is_dir():
            return None
        key = package.keys.get(sheet.name)
        if key is None:
            try:
                key = package.keys[sheet.name] = _grid_key(package, sheet.name, sheet.part)
            except (KeyError, xml.DamagedPart, OSError):
                return None
        return _tabcache.entry_path(folder, self.path.name, sheet.name), key

    def _read_grid(self, package: _Package, name: str) -> list[list[RawValue]]:
        entry = package.info.find(name)
        part = entry.part if entry is not None else None
        shape = package.shape(part) if part is not None and part in package.names else None
        if (
            part is not None
            and shape is not None
            and _too_dense(shape.rows, shape.columns(), shape)
        ):
            return self._read_sparse(package, name, part, shape)
        progress = self._phase(f"reading {name}")
        if progress is not None:
            progress(0.0)
        if part is not None:
            with self._damaged():
                package.check((part,))  # usually done: taking its shape above checked it
        try:
            sheet = package.calamine().get_sheet_by_name(name)
            # calamine's Python lists become the Table's, fixed in place, so the tab is
            # never held twice in Python. Row by row where calamine's rows start in column
            # A (its rows always start in row 1), so progress can be told.
            start = sheet.start
            rows: list[list[RawValue]] = []
            values = _Cells().values
            if start is not None and start[1] == 0:
                height = max(sheet.total_height, 1)
                step = max(height // 50, 1)
                for number, row in enumerate(sheet.iter_rows(), start=1):
                    rows.append(values(row))
                    if progress is not None and number % step == 0:
                        progress(number / height)
            else:
                rows = [values(row) for row in sheet.to_python(skip_empty_area=False)]
            del sheet
        except python_calamine.CalamineError as exc:
            raise SheetError(f"{self.label}: the tab {name!r} cannot be read ({exc})") from exc
        while rows and all(value is None for value in rows[-1]):
            rows.pop()
        if progress is not None:
            progress(1.0)
        return rows

    def _read_sparse(
        self, package: _Package, name: str, part: str, shape: xml.SheetShape
    ) -> list[list[RawValue]]:
        """A tab whose used cells lie far apart (a value in XFD5 or in row 1,048,576):
        calamine reads a copy without the empty rows and columns, and each value goes back
        to its place. Rows come out only as long as their last value."""
        rows: list[int] | None = None
        with self._damaged():
            data = package.read(part)
            letters = shape.far_letters
            near = shape.columns(letters - 1)
            squeezed = b""
            if letters > 1 and not _too_dense(shape.rows, near, shape):
                # A few values far to the right: only their cells move (cheap).
                squeezed, columns = xml.squeeze_columns(data, letters, near)
            if not squeezed or _too_dense(shape.rows, len(columns), shape):
                squeezed, rows, columns = xml.squeeze_sheet(data)
            del data
            workbook = _one_sheet_workbook(package, squeezed)
        try:
            reader: Any = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(workbook))
            grid = reader.get_sheet_by_name("Sheet1").to_python(skip_empty_area=False)
        except python_calamine.CalamineError as exc:
            raise SheetError(f"{self.label}: the tab {name!r} cannot be read ({exc})") from exc
        # Columns 1..same kept their numbers (all but the far ones, usually): those values
        # are taken as they come, the others put back one by one.
        same = next((i for i, column in enumerate(columns) if column != i + 1), len(columns))
        width = len(columns)
        placed: dict[int, list[RawValue]] = {}
        numbers = rows if rows is not None else range(1, len(grid) + 1)
        for row, values in zip(numbers, grid, strict=False):
            line = placed.setdefault(row, [])
            line += [
                None if v == "" else v if type(v) in _PLAIN else _raw(v) for v in values[:same]
            ]
            for i in range(same, min(len(values), width)):
                value = values[i]
                if value == "":
                    continue
                column = columns[i]
                if column > len(line):
                    line += [None] * (column - len(line))
                line[column - 1] = value if type(value) in _PLAIN else _raw(value)
        grid_rows = [placed.get(row, []) for row in range(1, max(placed, default=0) + 1)]
        while grid_rows and all(value is None for value in grid_rows[-1]):
            grid_rows.pop()
        return grid_rows

    def _package(self) -> _Package:
        return self._state().package

    def _state(self) -> _Loaded:
        if self._loaded is None:
            data, fingerprint = self._read_file()
            self._check_format(data)
            self._check_members(data)
            with self._damaged():
                try:
                    # The few parts that say where the sheets are are checked as they are
                    # read; then every other part but those a cache entry holds.
                    package = _Package(data, self._check_inflated)
                except zipfile.BadZipFile as exc:
                    raise xml.DamagedPart(f"the zip container is broken ({exc})") from exc
                held = self._held_by_cache(package)
                package.check(package.unchecked - held)
                package.held = {sheet.part for sheet in package.info.sheets if sheet.part in held}
            self._loaded = _Loaded(package, fingerprint)
        return self._loaded

    def _held_by_cache(self, package: _Package) -> set[str]:
        """The members whose stored bytes a cache entry was made from: the parts of the
        cached tabs whose entry holds this version of them, and the shared strings and cell
        formats. Each was unpacked and counted when its entry was made (the entry's key is a
        hash of those very bytes, their declared size and checksum): they are not inflated
        again to open the workbook, only their first piece for a DTD. If one is ever read
        whole, or calamine opens the package (a miss), it is checked first (_Package). An
        entry planted with a forged key gains nothing: zipfile reads such a part in pieces
        that stop at the size its entry declares, which _check_declared has bounded."""
        if not self.cached_tabs or not (self.path.parent / ".sheetfollow").is_dir():
            return set()
        info = package.info
        held: set[str] = set()
        for sheet in info.sheets:
            entry = self._cache_entry(package, sheet.name)
            if entry is not None and _tabcache.holds(*entry):
                held.update(m for m in (sheet.part, info.styles, info.shared_strings) if m)
        held &= package.unchecked
        for member in package.zip.infolist():
            if member.filename in held:
                self._check_head(package.zip, member)
        return held

    def _read_file(self) -> tuple[bytes, _Fingerprint]:
        try:
            with open(self.path, "rb") as handle:
                data = handle.read()
                info = os.fstat(handle.fileno())
        except FileNotFoundError:
            raise SheetError(f"{self.label} was not found") from None
        except IsADirectoryError:
            raise SheetError(f"{self.label} is a folder, not a workbook") from None
        except OSError as exc:
            raise SheetError(f"{self.label} cannot be read: {exc.strerror or exc}") from None
        digest = hashlib.sha256(data).hexdigest()
        return data, _Fingerprint(info.st_size, info.st_mtime_ns, digest)

    def _check_format(self, data: bytes) -> None:
        suffix = self.path.suffix.lower()
        if data.startswith(_OLE_MAGIC):
            if "EncryptionInfo".encode("utf-16-le") in data:
                raise SheetError(
                    f"{self.label} is password-protected; remove the password in Excel "
                    "(File > Info > Protect Workbook) and save it again"
                )
            raise SheetError(
                f"{self.label} is an old-format Excel workbook; open it in Excel and save it "
                "as .xlsx (Excel Workbook)"
            )
        if not data.startswith(b"PK"):
            if suffix == ".xls":
                raise SheetError(
                    f"{self.label} is not an .xlsx workbook; open it in Excel and save it as "
                    ".xlsx (Excel Workbook)"
                )
            raise SheetError(f"{self.label} is not an Excel workbook (.xlsx or .xlsm)")
        with contextlib.suppress(zipfile.BadZipFile):
            names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
            if "mimetype" in names and "content.xml" in names:
                raise SheetError(
                    f"{self.label} is an OpenDocument spreadsheet; save it as .xlsx to use it"
                )
            if any(n.endswith("workbook.bin") for n in names):
                raise SheetError(
                    f"{self.label} is a binary .xlsb workbook; save it as .xlsx to use it"
                )

    def _check_members(self, data: bytes) -> None:
        """Refuse a package a part of which would unpack to too much, before anything (this
        module or calamine) unpacks it: here by the sizes the zip declares; then (_Package,
        _check_inflated) by inflating each part in small pieces and counting, as an entry
        may declare less than it holds, before the part is first read."""
        with self._damaged():
            try:
                package = zipfile.ZipFile(io.BytesIO(data))
            except zipfile.BadZipFile as exc:
                raise xml.DamagedPart(f"the zip container is broken ({exc})") from exc
            for info in package.infolist():
                self._check_declared(info)

    def _check_head(self, package: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
        """The cheap part of _check_inflated: no encryption, no DTD in the first piece."""
        name = info.filename
        if info.flag_bits & 0x1:
            raise xml.DamagedPart(f"the part {name} is encrypted inside the zip")
        if not name.endswith((".xml", ".rels")):
            return
        try:
            with package.open(info) as stream:
                head = stream.read(_INFLATE_CHUNK)
        except (zipfile.BadZipFile, zlib.error, NotImplementedError, EOFError) as exc:
            raise xml.DamagedPart(f"the part {name} cannot be unpacked ({exc})") from exc
        xml.refuse_dtd(name, head, final=False)

    def _too_large(self, name: str, detail: str, *, limit: str = "") -> SheetError:
        """`limit`: the setting that allows such a member, for a genuine workbook."""
        raise_it = (
            f"; if it is a genuine workbook, raise {limit} in sheetfollow.toml" if limit else ""
        )
        return SheetError(
            f"{self.label} is unusually large: {name} unpacks to {detail}; not opened (it "
            f"looks like a zip bomb{raise_it})"
        )

    def _check_declared(self, info: zipfile.ZipInfo) -> None:
        size, packed = info.file_size, info.compress_size
        if size > self.max_member_bytes:
            limit = _size(self.max_member_bytes)
            detail = f"{_size(size)} (limit {limit})"
            raise self._too_large(info.filename, detail, limit="max_unpacked_mb")
        if size > _RATIO_CHECKED_ABOVE and size > packed * self.max_ratio:
            ratio = f"{size / max(packed, 1):,.0f}"
            raise self._too_large(
                info.filename,
                f"{_size(size)} from {_size(packed)}, {ratio} times its packed size "
                f"(limit {self.max_ratio:,g} times)",
                limit="max_unpack_ratio",
            )

    def _check_inflated(
        self, package: zipfile.ZipFile, data: bytes, info: zipfile.ZipInfo
    ) -> xml.SheetShape | None:
        name = info.filename
        if info.flag_bits & 0x1:
            raise xml.DamagedPart(f"the part {name} is encrypted inside the zip")
        limit = min(info.file_size, self.max_member_bytes)
        head = bytearray()
        # Worksheets have their shape taken on the way (others, if any, when read).
        shape = xml.SheetShape() if "worksheets/" in name and name.endswith(".xml") else None

        def count(piece: bytes, total: int) -> int:
            total += len(piece)
            if total > limit:
                declared = f"more than the {_size(info.file_size)} its zip entry declares"
                raise self._too_large(name, declared)
            if len(head) < _INFLATE_CHUNK:
                head.extend(piece[: _INFLATE_CHUNK - len(head)])
            if shape is not None:
                shape.feed(piece)
            return total

        if info.compress_type == zipfile.ZIP_DEFLATED:
            # A reader may inflate until the stream ends, whatever the entry declares: so
            # the stream is inflated here first, a megabyte at a time, and counted.
            total = 0
            inflate = zlib.decompressobj(-zlib.MAX_WBITS)
            packed = _member_data(data, info)
            try:
                for at in range(0, len(packed), _INFLATE_CHUNK):
                    piece: bytes | memoryview = packed[at : at + _INFLATE_CHUNK]
                    while piece and not inflate.eof:
                        total = count(inflate.decompress(piece, _INFLATE_CHUNK * 16), total)
                        piece = inflate.unconsumed_tail
                    if inflate.eof:
                        break
                count(inflate.flush(), total)
            except zlib.error as exc:
                raise xml.DamagedPart(f"the part {name} cannot be unpacked ({exc})") from exc
        else:
            # Stored parts are their packed bytes; zipfile stops other methods at the
            # declared size.
            total = 0
            try:
                with package.open(info) as stream:
                    while piece := stream.read(_INFLATE_CHUNK * 16):
                        total = count(piece, total)
            except (zipfile.BadZipFile, zlib.error, NotImplementedError, EOFError) as exc:
                raise xml.DamagedPart(f"the part {name} cannot be unpacked ({exc})") from exc
        if name.endswith((".xml", ".rels")):
            xml.refuse_dtd(name, bytes(head), final=False)
        return shape

    @contextlib.contextmanager
    def _damaged(self) -> Iterator[None]:
        try:
            yield
        except xml.DamagedPart as exc:
            raise SheetError(f"{self.label} is damaged: {exc.message}") from exc

    # ------------------------------------------------------------------ writing

    def write(self, changes: list[TabChanges], *, force: bool = False) -> WriteResult:
        """Apply all changes in one atomic replacement of the file.

        Nothing is written when no cell would change. Raises BusyError, leaving the file as
        it was, when the workbook is open in Excel or LibreOffice (unless force), locked by
        another run, read-only, or changed on disk since this backend read it (even with force).
        """
        if not changes:
            return WriteResult(0, 0)
        state = self._state()
        with self._damaged():
            plan = _Plan(self.label, state.package)
            plan.stored_pieces = functools.partial(self._pieces_of, state.package)
            for change in changes:
                plan.apply(change)
            plan.finish()
        if not plan.parts:
            return WriteResult(plan.cells_written, plan.rows_appended, tuple(plan.skipped))
        for part, job in plan.parts.items():
            if not isinstance(job, _SheetJob):
                continue
            if self._keeps_entry(state.package, job.tab):
                # The new part's shape, taken as it is written: the cache entry keeps it.
                job.shape = xml.SheetShape()
            job.splice = self._splice_of(state.package, part, job)
        self._refuse_if_open(force, state.fingerprint.mtime_ns)
        self._refuse_if_read_only()
        import filelock  # a reading command never takes the lock: 15 ms it does not pay

        side = self._side_folder()
        lock = filelock.FileLock(str(side / f"{self.path.name}.lock"))
        try:
            lock.acquire(timeout=self.lock_timeout)
        except filelock.Timeout:
            raise BusyError(
                f"{self.label} is being written by another sheetfollow run; "
                "try again when it has finished"
            ) from None
        except OSError as exc:
            if exc.errno in _READ_ONLY_ERRNOS:
                raise self._read_only(side, exc.strerror) from None
            raise SheetError(
                f"{self.label} cannot be written: {side} cannot be used ({exc.strerror or exc})"
            ) from None
        try:
            self._refuse_if_changed(state)
            self._check_expected_ids(state, changes)
            with self._damaged():
                self._commit(state, plan)
        finally:
            lock.release()
        self._cache_written(state.package, changes, plan)
        self._keep_tables(plan)
        skipped = list(plan.skipped)
        for job in plan.parts.values():
            if isinstance(job, _SheetJob):
                skipped += job.skipped
        return WriteResult(plan.cells_written, plan.rows_appended, tuple(skipped))

    def _splice_of(self, package: _Package, part: str, job: _SheetJob) -> _Splice | None:
        """The pieces the part is packed in, when a write of a few of its rows may pack
        only theirs again (_write_spliced): the part as stored is the job's source, its
        pieces' table was kept by the write that made it (under its content key) and
        matches its size and checksum, and the rewrite changes rows only (no column
        widths, no formats after the rows)."""
        if not job.stored or job.size < _segments.SMALLEST:
            return None
        if len(job.writes.by_row) > _CHECKED_ROWS or job.ctx.new_widths:
            return None
        if job.ctx.after_sheet_data is not None:
            return None
        return self._pieces_of(package, part)

    def _pieces_of(self, package: _Package, part: str) -> _Splice | None:
        """The pieces the part as stored is packed in, from the table the write that made
        it kept under its content key, when that table matches its size and checksum."""
        if part not in package.pieces:
            package.pieces[part] = self._find_pieces(package, part)
        return package.pieces[part]

    def _find_pieces(self, package: _Package, part: str) -> _Splice | None:
        if part not in package.names:
            return None
        info = package.zip.getinfo(part)
        if info.compress_type != zipfile.ZIP_DEFLATED or info.flag_bits & 0x1:
            return None
        folder = self.path.parent / ".sheetfollow"
        if not folder.is_dir():
            return None
        try:
            key = _member_digest(package, part)
            packed = _member_data(package.data, info)
        except (KeyError, xml.DamagedPart):
            return None
        if key is None:
            return None
        path = _tabcache.segments_path(folder, self.path.name, part)
        table = _segments.Table.from_value(_tabcache.value_of(path, key))
        if table is None or not table.plain:
            return None
        if (table.raw_size, table.packed_size) != (info.file_size, info.compress_size):
            return None
        if table.crc != info.CRC:
            return None
        return _Splice(table, packed, package.shapes.get(part))

    def _keep_tables(self, plan: _Plan) -> None:
        """Keep, beside the cache, the pieces each big part just written is packed in,
        under the part's content key in the file written: the next write of a few of its
        rows packs only theirs again."""
        if self._loaded is None:
            return
        after = self._loaded.package
        folder = self.path.parent / ".sheetfollow"
        for part, job in plan.parts.items():
            if not isinstance(job, _SheetJob) or job.table is None:
                continue
            path = _tabcache.segments_path(folder, self.path.name, part)
            try:
                key = _member_digest(after, part)
            except (KeyError, xml.DamagedPart):
                key = None
            if key is None or (job.table.raw_size, job.table.packed_size) != (
                after.zip.getinfo(part).file_size,
                after.zip.getinfo(part).compress_size,
            ):
                with contextlib.suppress(OSError):
                    path.unlink()
                continue
            _tabcache.keep_value(path, key, job.table.to_value())

    def _keeps_entry(self, package: _Package, tab: str) -> bool:
        """Whether a write is to leave the cache entry of `tab` for the new file: a cached
        tab this run read (its grid is what the new one is made from)."""
        return tab.casefold() in self.cached_tabs and tab in package.grids

    def _cache_written(self, before: _Package, changes: list[TabChanges], plan: _Plan) -> None:
        """After a write: the cache entry of each cached tab this run read, for the file just
        written, so the next command finds it (every `mark` rewrites a row of Prospects and
        appends to the touches tab, which changes their members and so their keys; the
        writer packs small members again, which changes theirs). A tab the write rewrote:
        the grid read before the write with the rows the write replaced or added read again
        alone (_grid_after_write), else, for a tab only appended to, the rows below the old
        ones (_grid_after_append). A tab it copied: the same grid, when its part, the shared
        strings, the cell formats and the date system hold the same bytes as before.
        Whenever that cannot be sure (the tab was created or changed twice, the styles or
        shared strings changed, too many rows changed, the rectangle would widen or
        narrow...) nothing is stored and the next read parses the tab."""
        if not self.cached_tabs or self._loaded is None:
            return
        after = self._loaded.package
        counts: dict[str, int] = {}
        for change in changes:
            counts[change.tab.casefold()] = counts.get(change.tab.casefold(), 0) + 1
        for sheet in before.info.sheets:
            if sheet.part is None or not self._keeps_entry(before, sheet.name):
                continue
            now = after.info.find(sheet.name)
            entry = self._cache_entry(after, sheet.name)
            if now is None or now.part != sheet.part or entry is None:
                continue
            try:
                found = self._after_write(before, after, sheet, changes, counts, plan)
            except (KeyError, ValueError, xml.DamagedPart, python_calamine.CalamineError):
                found = None
            except BaseException as exc:
                # calamine panics on some values (a number far past its dates in a date
                # cell): the write is done, there is only no entry (a full read says why).
                if type(exc).__name__ != "PanicException":
                    raise
                found = None
            job = plan.parts.get(sheet.part)
            if isinstance(job, _SheetJob):
                job.check = None  # what it kept is read: let it go before the entry is kept
            if found is not None:
                old, new = before.grids[sheet.name], found[1]
                # The rows the write made anew (a grid is made from the one before it).
                changed = itertools.chain(
                    itertools.compress(range(len(new)), map(operator.is_not, new, old)),
                    range(len(old), len(new)),
                )
                since = before.found.get(sheet.name)
                _tabcache.keep(*entry, _meta_of(found[0]), new, since, changed)

    def _after_write(
        self,
        before: _Package,
        after: _Package,
        sheet: xml.SheetEntry,
        changes: list[TabChanges],
        counts: dict[str, int],
        plan: _Plan,
    ) -> tuple[xml.SheetShape, list[list[RawValue]]] | None:
        """The shape and grid a full read of `sheet` in `after` gives, or None (_cache_written)."""
        assert sheet.part is not None
        job = plan.parts.get(sheet.part)
        if job is None:
            if before.keys.get(sheet.name) == after.keys.get(sheet.name):
                return None  # the entry read or stored is still the one
            shape = before.shape(sheet.part)
            same = (
                before.info.date1904 == after.info.date1904
                and (before.info.styles, before.info.shared_strings)
                == (after.info.styles, after.info.shared_strings)
                and all(
                    _same_member(before, after, member)
                    for member in (sheet.part, before.info.styles, before.info.shared_strings)
                )
            )
            return (shape, before.grids[sheet.name]) if same and shape is not None else None
        if not isinstance(job, _SheetJob) or counts.get(sheet.name.casefold()) != 1:
            return None
        if job.shape is None:
            return None
        if isinstance(job.check, _Capture) and not job.check.overflow:
            grid = _grid_after_write(before, after, sheet.name, sheet.part, job, plan.shared)
            return None if grid is None else (job.shape, grid)
        change = next(c for c in changes if c.tab.casefold() == sheet.name.casefold())
        if change.create or change.new_headers or change.cells:
            return None
        grid = _grid_after_append(before, after, sheet.name, sheet.part, job)
        return None if grid is None else (job.shape, grid)

    def _side_folder(self) -> Path:
        folder = self.path.parent / ".sheetfollow"
        try:
            folder.mkdir(exist_ok=True)
        except OSError as exc:
            if exc.errno in _READ_ONLY_ERRNOS:
                raise self._read_only(folder.parent, exc.strerror) from None
            raise SheetError(
                f"{self.label} cannot be written: {folder} cannot be created "
                f"({exc.strerror or exc})"
            ) from None
        return folder

    def _refuse_if_open(self, force: bool, workbook_mtime_ns: int) -> None:
        if force:
            return
        lock = lockfiles.find_lock(self.path)
        if lock is None:
            return
        name, lock_name, holder = self.path.name, lock.path.name, lock.holder
        now = datetime.now(timezone.utc)
        saved = datetime.fromtimestamp(workbook_mtime_ns / 1e9, tz=timezone.utc)
        if lockfiles.is_stale(lock, saved, now, self.stale_lock_after):
            left = _ago(now - max(lock.modified, saved))
            who = f"{holder}, left {left}" if holder else f"left {left}"
            raise BusyError(
                f"{name}: {lock_name} ({who}) looks stale: nobody has saved the workbook since; "
                "delete it if nobody has the file open, or use --force",
                holder=holder,
            )
        if holder:
            raise BusyError(
                f"{name} is open in {lock.program} by {holder} ({lock_name}); "
                "close it or use --force",
                holder=holder,
            )
        raise BusyError(
            f"{name} is open in {lock.program} ({lock_name} exists); close it or use --force"
        )

    def _refuse_if_read_only(self) -> None:
        """A read-only share or file: say so before anything is tried (the side folder, the
        temporary copy). _side_folder and _commit map the same failures when this passes
        but the system refuses anyway (ACLs, a share that answers access() wrongly)."""
        folder = self.path.parent
        if not _writable(folder, os.W_OK | os.X_OK):
            raise self._read_only(folder, None)
        if not _writable(self.path, os.W_OK):
            raise self._read_only(self.path, None)

    def _read_only(self, path: Path, reason: str | None) -> BusyError:
        if reason is None:
            reason = os.strerror(errno.EROFS if _on_read_only_mount(path) else errno.EACCES)
        if path == self.path:
            return BusyError(f"{self.label} cannot be written: the file is read-only ({reason})")
        where = os.path.abspath(path)
        return BusyError(
            f"{self.label} cannot be written: the folder {where} is read-only ({reason})"
        )

    def _refuse_if_changed(self, state: _Loaded) -> None:
        try:
            unchanged = self._unchanged(state.fingerprint)
        except OSError as exc:
            raise BusyError(
                f"{self.label} cannot be read again before writing ({exc.strerror or exc}); "
                "is it open in another program?"
            ) from None
        if not unchanged:
            raise BusyError(f"{self.label} changed on disk since it was read; run again")

    def _overtaken(self) -> BusyError:
        return BusyError(
            f"{self.label} was saved by someone else while sheetfollow worked; "
            "nothing was overwritten"
        )

    def _unchanged(self, seen: _Fingerprint) -> bool:
        """True when the file on disk is still the version read: same size and modification
        time, then (only then worth reading) the same bytes, and not replaced meanwhile.
        A file that cannot be read raises OSError (Windows: open in another program)."""
        try:
            before = os.stat(self.path)
            if (before.st_size, before.st_mtime_ns) != (seen.size, seen.mtime_ns):
                return False
            with open(self.path, "rb") as handle:
                digest = _digest(handle)
                opened = os.fstat(handle.fileno())
            after = os.stat(self.path)
        except FileNotFoundError:
            return False
        return (
            digest == seen.sha256
            and _same_file(opened, after)
            and (after.st_size, after.st_mtime_ns) == (seen.size, seen.mtime_ns)
        )

    def _check_expected_ids(self, state: _Loaded, changes: list[TabChanges]) -> None:
        # The file cannot change under a fingerprint check, but a caller may hold row numbers
        # from another read; make sure each row still holds the prospect it was meant for.
        for change in changes:
            if not change.expected_ids or not change.id_column:
                continue
            entry = state.package.info.find(change.tab)
            if entry is None or entry.part is None:
                continue
            rows = self._grid(state.package, entry.name)
            column = change.id_column - 1
            for row, expected in change.expected_ids.items():
                cells = rows[row - 1] if 0 < row <= len(rows) else []
                found = cells[column] if column < len(cells) else None
                if found == expected:
                    continue  # the ID as it was read (a nightly refresh checks 100,000)
                if _id_text(found) != expected.strip():
                    raise BusyError(
                        f"{self.label}: row {row} of {entry.name} no longer holds ID "
                        f"{expected!r}; run again"
                    )

    def _commit(self, state: _Loaded, plan: _Plan) -> None:
        folder = self.path.parent
        self._remove_stale_temps(folder)
        try:
            original = os.stat(self.path)
            handle, temp_name = tempfile.mkstemp(
                dir=folder, prefix=f".{self.path.name}.", suffix=".tmp"
            )
        except FileNotFoundError as exc:
            if exc.filename == str(self.path):
                raise self._overtaken() from None
            raise SheetError(f"{self.label} cannot be written: {exc.strerror or exc}") from None
        except OSError as exc:
            if exc.errno in _READ_ONLY_ERRNOS and exc.filename != str(self.path):
                raise self._read_only(folder, exc.strerror) from None
            raise SheetError(f"{self.label} cannot be written: {exc.strerror or exc}") from None
        temp = Path(temp_name)
        ours: os.stat_result | None = None
        try:
            with os.fdopen(handle, "w+b") as out:
                _write_package(out, state.package, plan, self._phase(f"writing {self.path.name}"))
                out.flush()
                os.fsync(out.fileno())
                ours = os.fstat(out.fileno())
            _copy_ownership(temp, original)
            data, fingerprint = _read_back(temp)
            written = self._verify(data, plan)
            backup = self._keep_backup(state, original)
            self._replace(temp, ours, state.fingerprint)
        except BaseException as exc:
            # Only ever our own file: after a refused exchange `temp` names ours again.
            _remove_if_ours(temp, ours)
            if isinstance(exc, PermissionError):
                raise BusyError(
                    f"{self.label} could not be replaced ({exc.strerror}); "
                    "is it open in another program?"
                ) from None
            if isinstance(exc, OSError):
                raise SheetError(f"{self.label} cannot be written: {exc.strerror or exc}") from None
            raise
        fsync_folder(folder)
        if backup is not None:
            self._rotate_backups(backup.parent)
        self._loaded = _Loaded(written, fingerprint)

    def _phase(self, phase: str) -> Callable[[float], None] | None:
        """The progress hook for one phase of the work, or None when nobody listens."""
        progress = self.progress
        if progress is None:
            return None
        return lambda fraction: progress(phase, fraction)

    def _replace(self, temp: Path, ours: os.stat_result, seen: _Fingerprint) -> None:
        """Put the new version (at `temp`) in the workbook's place, unless someone else saved
        the workbook since it was read: then BusyError, their file stays, ours stays at temp.

        Minutes may pass between the read and this moment (Excel on a share, a sync client),
        so the file is looked at again here, under our lock. On Linux the two files swap
        names in one step (renameat2 RENAME_EXCHANGE), and the one swapped out must be
        byte-identical to what was read, else they swap back: no save can slip in between.
        Elsewhere (or on a file system that refuses the exchange) the check and os.replace
        are a few microseconds apart, and a save landing exactly then is overwritten.

        What is left even with the exchange, both within the milliseconds between the
        exchange and the removal of the file swapped out: a program writing into the file in
        place (rather than saving a new file over it) then; and a run killed then while the
        file swapped out is someone else's save, which waits under our temporary name until
        a later write removes it as stale, an hour on.
        """
        info = _stat_or_none(self.path)
        if info is None or (info.st_size, info.st_mtime_ns) != (seen.size, seen.mtime_ns):
            raise self._overtaken()
        try:
            exchanged = _exchange(temp, self.path)
        except FileNotFoundError:
            raise self._overtaken() from None
        if not exchanged:
            if not self._unchanged(seen):
                raise self._overtaken()
            os.replace(temp, self.path)
            return
        # `temp` now names the file that was the workbook a moment ago.
        try:
            with open(temp, "rb") as handle:
                same = (
                    _digest(handle) == seen.sha256
                    and os.fstat(handle.fileno()).st_size == seen.size
                )
        except BaseException:
            self._swap_back(temp, ours)
            raise
        if same:
            # The version read, already kept as a backup.
            with contextlib.suppress(OSError):
                temp.unlink()
            return
        self._swap_back(temp, ours)
        raise self._overtaken()

    def _swap_back(self, temp: Path, ours: os.stat_result) -> None:
        """Undo an exchange: the workbook's name goes back to the file swapped out."""
        _exchange(temp, self.path)
        now = _stat_or_none(temp)
        if now is None or _same_file(now, ours):
            return
        # Yet another save replaced ours between the two exchanges: it is the newest, so it
        # takes the workbook's name, and the one it superseded is kept with the backups.
        _exchange(temp, self.path)
        folder = self._side_folder() / "backups"
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        with contextlib.suppress(OSError):
            folder.mkdir(exist_ok=True)
            os.replace(temp, folder / f"{self.path.stem}.{stamp}{self.path.suffix}")

    def _remove_stale_temps(self, folder: Path) -> None:
        """Remove what killed runs left: this module's temporary files for this workbook,
        untouched for an hour. Called only under the write lock, so no run of ours is still
        writing them; nothing else is ever removed."""
        remove_stale_temps(folder, re.escape(self.path.name))

    def _verify(self, data: bytes, plan: _Plan) -> _Package:
        """Refuse to replace the workbook with one that does not read back: the package must
        open, and every part this write produced must unpack to what was written (the
        checksum it was written with) and be well-formed XML. A sheet rewritten in a few
        rows was proven well-formed while it was written (xml.RewriteCheck: where it
        changed; the rest is the old part byte for byte), so it is only unpacked here; the
        other parts are parsed. Both a piece at a time, so a rewritten sheet of a hundred
        megabytes is never held whole."""
        progress = self._phase("checking the new file")
        try:
            proven: set[str] = set()
            for name, content in plan.parts.items():
                check = content.check if isinstance(content, _SheetJob) else None
                if check is not None and check.error is not None:
                    raise xml.DamagedPart(f"{name}: {check.error}")
                if check is not None and check.proven:
                    proven.add(name)
            written = _Package(data)
            sizes = {name: written.zip.getinfo(name).file_size for name in plan.parts}
            total, done = max(sum(sizes.values()), 1), 0
            step, mark = max(total // 50, 1), 0
            for name, content in plan.parts.items():
                if isinstance(content, _SheetJob) and content.spliced is not None:
                    _check_spliced(written, name, content.spliced)
                    done += sizes[name]
                    continue
                parser = None if name in proven else expat.ParserCreate(namespace_separator=" ")
                with written.zip.open(name) as stream:
                    # zipfile compares the checksum once the last piece is read.
                    while piece := stream.read(_piece_size(sizes[name])):
                        if parser is not None:
                            parser.Parse(piece, False)
                        done += len(piece)
                        if progress is not None and done >= mark:
                            progress(done / total)
                            mark = done + step
                if parser is not None:
                    parser.Parse(b"", True)
        except (
            xml.DamagedPart,
            expat.ExpatError,
            zipfile.BadZipFile,
            zlib.error,
            EOFError,
            KeyError,
        ) as exc:
            raise SheetError(
                f"{self.label} was not changed: the new version did not read back ({exc}); "
                "please report this"
            ) from None
        if progress is not None:
            progress(1.0)
        return written

    def _keep_backup(self, state: _Loaded, original: os.stat_result) -> Path | None:
        """Keep the version this run read: its bytes, not the file on disk now, which someone
        may have saved over meanwhile (that is found out just before the replace)."""
        if self.backups == 0:
            return None
        folder = self._side_folder() / "backups"
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        target = folder / f"{self.path.stem}.{stamp}{self.path.suffix}"
        try:
            folder.mkdir(exist_ok=True)
            self._remove_stale_temps(folder)
            handle, name = tempfile.mkstemp(dir=folder, prefix=f".{self.path.name}.", suffix=".tmp")
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(state.package.data)
                    out.flush()
                    os.fsync(out.fileno())
                os.chmod(name, stat.S_IMODE(original.st_mode))
                mtime = state.fingerprint.mtime_ns
                os.utime(name, ns=(mtime, mtime))
                os.replace(name, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(name)
                raise
        except OSError as exc:
            if exc.errno in _READ_ONLY_ERRNOS and exc.filename != str(self.path):
                raise self._read_only(folder, exc.strerror) from None
            raise
        return target

    def _rotate_backups(self, folder: Path) -> None:
        pattern = re.compile(
            re.escape(self.path.stem) + r"\.\d{8}-\d{6}-\d{6}" + re.escape(self.path.suffix)
        )
        kept = sorted(p.name for p in folder.iterdir() if pattern.fullmatch(p.name))
        for name in kept[: -self.backups]:
            with contextlib.suppress(OSError):
                (folder / name).unlink()


class _Plan:
    """Every part that changes, computed before anything touches the disk."""

    def __init__(self, label: str, package: _Package) -> None:
        self.label = label
        self.package = package
        self.info = package.info
        self.parts: dict[str, bytes | _SheetJob] = {}
        self.new_parts: list[str] = []
        #: Cells written by rewrites already done (jobs count theirs when they run).
        self.done_cells = 0
        #: True once some cell is known to change.
        self.changes = False
        self.rows_appended = 0
        self.skipped: list[str] = []
        #: Rewrites not yet known to change anything (see apply).
        self.unprobed: dict[str, _SheetJob] = {}
        #: The pieces a part as stored is packed in, when their table is kept (the backend
        #: sets it: XlsxBackend._pieces_of).
        self.stored_pieces: Callable[[str], _Splice | None] = lambda part: None
        styles = self.info.styles
        self.styles = xml.StyleSheet(styles, package.read_optional(styles) if styles else None)
        strings = self.info.shared_strings
        self.shared = _SharedStrings(lambda: package.read_optional(strings) if strings else None)

    @property
    def cells_written(self) -> int:
        jobs = [job for job in self.parts.values() if isinstance(job, _SheetJob)]
        return self.done_cells + sum(job.cells_written for job in jobs)

    def current(self, part: str) -> bytes:
        pending = self.parts.get(part)
        if pending is None:
            return self.package.read(part)
        if isinstance(pending, _SheetJob):
            # A tab changed twice in one write (rare): the first rewrite is done in memory.
            rewrite = xml.rewrite_sheet(
                b"".join(pending.source()), pending.writes, pending.ctx, pending.header_cells
            )
            joined = rewrite.to_bytes()
            self.parts[part] = joined
            self.done_cells += rewrite.cells_written
            self.skipped += rewrite.skipped
            return joined
        return pending

    def pieces(self, part: str) -> Callable[[], Iterator[bytes]]:
        """The part as it stands in this plan, inflated a piece at a time on each call."""
        pending = self.parts.get(part)
        if isinstance(pending, _SheetJob):
            self.current(part)
            pending = self.parts.get(part)
        if isinstance(pending, bytes):
            data = pending
            return lambda: iter((data,))
        package = self.package

        def inflate() -> Iterator[bytes]:
            # A part a parse-cache entry holds was not unpacked and counted when the
            # workbook opened (_held_by_cache): its stored bytes, declared size and checksum
            # are those counted when the entry was made, and zipfile stops at that size.
            try:
                info = package.zip.getinfo(part)
                size = _piece_size(info.file_size)
                with package.zip.open(info) as stream:
                    while piece := stream.read(size):
                        yield piece
            except KeyError as exc:
                raise xml.DamagedPart(f"the part {part} is missing") from exc
            except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
                raise xml.DamagedPart(f"the part {part} cannot be unpacked ({exc})") from exc

        return inflate

    def size(self, part: str) -> int:
        pending = self.parts.get(part)
        if isinstance(pending, bytes):
            return len(pending)
        return self.package.zip.getinfo(part).file_size

    # -- one tab

    def apply(self, change: TabChanges) -> None:
        entry = self.info.find(change.tab)
        if entry is None:
            if not change.create:
                raise SheetError(f"{self.label} has no tab named {change.tab!r}")
            entry = self._create(change.tab, change.hidden)
        if entry.part is None:
            raise SheetError(f"{self.label}: {entry.name!r} is a chart sheet, not a worksheet")
        # The same tab changed twice: the first change is settled before the second.
        self._settle(entry.part)
        # A rewrite of the member as stored (not of a rewrite held in memory) may repack
        # only the pieces it changes (_write_spliced).
        stored = entry.part not in self.parts and entry.part in self.package.names
        source = self.pieces(entry.part)
        writes, header_cells = self._writes(change)
        appended = self._append(change, source, writes, entry.part if stored else None)
        tables = self._tables(entry.part)
        self._grow_tables(entry.name, tables, change, appended)
        epoch = EPOCH_1904 if self.info.date1904 else EPOCH_1900
        totals = [
            (t.totals_row, t.box.first_col, t.box.last_col, t.name)
            for t in tables
            if t.totals_row is not None
        ]
        ctx = xml.SheetContext(entry.name, epoch, self.styles, self.shared, totals)
        ctx.new_widths = _new_widths(change)
        ctx.after_sheet_data = _xlsxformat.status_colours(self.styles, change, writes)
        if any(isinstance(value, date) for value in writes.values()):
            # Settled before anything is written: styles.xml may come before the sheet in
            # the package. Only a workbook without any date format gains one here, and
            # then every date written needs it.
            self.styles.date_style()
        # The sheet is rewritten while it is copied into the new file. Rows appended below
        # the last used row change it for sure, unless a table's totals row is there.
        # Otherwise whether any cell changes is found out in finish(), and only when no
        # other part changes: a `mark` appends to the Log, so the file is written anyway
        # and a pass to find the changed cell of Prospects would be spent for nothing.
        job = _SheetJob(
            source, writes, ctx, frozenset(header_cells), self.size(entry.part), entry.name
        )
        job.stored = stored
        shape = self.package.shapes.get(entry.part)
        job.last_row = shape.last_row if shape is not None else 0
        if appended is not None and appended[2] and not _totals_among(totals, appended):
            self.parts[entry.part] = job
            self.changes = True
        else:
            self.unprobed[entry.part] = job

    def _settle(self, part: str, *, sure: bool = False) -> None:
        """Decide a rewrite held back by apply(): written when the file is written anyway
        (`sure`) or when some cell changes (found by a pass that stops at the first that
        does); else dropped, with the writes it refused."""
        job = self.unprobed.pop(part, None)
        if job is None:
            return
        if not sure:
            changed, skipped = xml.rewrite_stream(
                job.source(), job.writes, job.ctx, job.header_cells
            )
            if not changed:
                self.skipped += skipped
                return
        self.parts[part] = job
        self.changes = True

    def _writes(self, change: TabChanges) -> tuple[xml.Writes, set[tuple[int, int]]]:
        writes = xml.Writes()
        header_cells: set[tuple[int, int]] = set()
        for column, text in change.new_headers.items():
            if column > _MAX_COLUMN:
                # The caller puts new columns after the last used one; a stray value in the
                # header row's last column (XFD) leaves no room.
                raise SheetError(
                    f"{self.label}: the tab {change.tab!r} has no room for a new column "
                    f"{text!r}: it would go past XFD, the last column; clear the cells far "
                    f"to the right of the headers in row {change.header_row} and run again"
                )
            self._check_cell(change.tab, change.header_row, column)
            writes[change.header_row, column] = text
            header_cells.add((change.header_row, column))
        # Grouped by row here, in one pass (a first refresh writes 150,000 cells).
        rows: dict[int, dict[int, CellValue]] = {}
        for cell in change.cells:
            row, column = cell.row, cell.column
            if not (0 < row <= _MAX_ROW and 0 < column <= _MAX_COLUMN):
                self._check_cell(change.tab, row, column)
            held = rows.get(row)
            if held is None:
                rows[row] = {column: cell.value}
            else:
                held[column] = cell.value
        for row, cells in rows.items():
            writes.add_row(row, cells)
        return writes, header_cells

    def _check_cell(self, tab: str, row: int, column: int) -> None:
        if not (1 <= row <= _MAX_ROW and 1 <= column <= _MAX_COLUMN):
            raise SheetError(
                f"{self.label}: row {row}, column {column} is outside the sheet {tab!r}"
            )

    def _append(
        self,
        change: TabChanges,
        source: Callable[[], Iterator[bytes]],
        writes: xml.Writes,
        part: str | None = None,
    ) -> tuple[int, int, int] | None:
        """Turn append_rows into writes; (first row, last row, widest column) or None.
        `part`: the part as stored, whose pieces may give its last used row (_last_used)."""
        if not change.append_rows:
            return None
        splice = self.stored_pieces(part) if part is not None else None
        last = _last_used(splice) if splice is not None else None
        if last is None:
            last = xml.last_used_row(source())
        written = [
            row
            for row, cells in writes.by_row.items()
            if any(value not in (None, "") for value in cells.values())
        ]
        first = max([last, *written]) + 1
        if first + len(change.append_rows) - 1 > _MAX_ROW:
            raise SheetError(f"{self.label}: the tab {change.tab!r} has no room for more rows")
        width = 0
        for offset, values in enumerate(change.append_rows):
            if len(values) > _MAX_COLUMN:
                raise SheetError(f"{self.label}: a row for {change.tab!r} is too wide")
            cells: dict[int, CellValue] = {
                column: value
                for column, value in enumerate(values, start=1)
                if value is not None and value != ""
            }
            if cells:
                self.rows_appended += 1
                # Below every row written or used: nothing of these rows is held yet.
                writes.add_row(first + offset, cells)
                width = max(width, max(cells))
        return first, first + len(change.append_rows) - 1, width

    def _tables(self, sheet_part: str) -> list[xml.TableInfo]:
        rels_part = xml.rels_part_of(sheet_part)
        rels = xml.parse_rels(sheet_part, self._optional(rels_part))
        return [
            xml.read_table(rel.target, self.current(rel.target))
            for rel in rels
            if rel.type == xml.REL_TABLE and not rel.external and rel.target in self.package.names
        ]

    def _optional(self, part: str) -> bytes | None:
        if part in self.parts or part in self.package.names:
            return self.current(part)
        return None

    def _grow_tables(
        self,
        tab: str,
        tables: list[xml.TableInfo],
        change: TabChanges,
        appended: tuple[int, int, int] | None,
    ) -> None:
        for table in tables:
            box, names = table.box, []
            if table.header_row == change.header_row:
                column = box.last_col + 1
                while column in change.new_headers:
                    names.append(change.new_headers[column])
                    column += 1
                box = dataclasses.replace(box, last_col=column - 1)
            if appended is not None and _continues(table, appended):
                if table.totals_rows:
                    raise SheetError(
                        f"{self.label}: rows cannot be added below table {table.name} on "
                        f"{tab!r} because it has a totals row; turn the totals row off in "
                        "Excel (Table Design > Total Row) and run again"
                    )
                box = dataclasses.replace(box, last_row=appended[1])
            if box != table.box:
                self._check_names(table, names)
                data = self.current(table.part)
                self.parts[table.part] = xml.extend_table(data, table, box, names)

    def _check_names(self, table: xml.TableInfo, names: list[str]) -> None:
        taken = {name.casefold() for name in table.columns}
        for name in names:
            if not name.strip() or name.casefold() in taken:
                raise SheetError(
                    f"{self.label}: table {table.name} cannot get a column named {name!r}; "
                    "the name is empty or already used"
                )
            taken.add(name.casefold())

    # -- a new tab

    def _create(self, name: str, hidden: bool) -> xml.SheetEntry:
        self._check_tab_name(name)
        info = self.info
        folder = posixpath.dirname(info.part)
        numbers = [0]
        pattern = re.compile(re.escape(posixpath.join(folder, "worksheets/sheet")) + r"(\d+)\.xml")
        for member in [*self.package.names, *self.new_parts]:
            match = pattern.fullmatch(member)
            if match:
                numbers.append(int(match.group(1)))
        part = posixpath.join(folder, f"worksheets/sheet{max(numbers) + 1}.xml")
        used = {rel.rid for rel in info.rels}
        rid = next(f"rId{n}" for n in itertools.count(len(used) + 1) if f"rId{n}" not in used)
        sheet_id = max([0, *(s.sheet_id for s in info.sheets)]) + 1
        rels_part = xml.rels_part_of(info.part)
        target = posixpath.relpath(part, folder or ".")
        self.parts[rels_part] = xml.add_relationship(
            self.current(rels_part), rid, xml.REL_WORKSHEET, target
        )
        self.parts[info.part] = xml.add_sheet_entry(
            self.current(info.part), name, sheet_id, rid, hidden
        )
        self.parts[_CONTENT_TYPES] = xml.add_override(
            self.current(_CONTENT_TYPES), part, xml.CT_WORKSHEET
        )
        self.parts[part] = xml.NEW_WORKSHEET
        self.new_parts.append(part)
        entry = xml.SheetEntry(name, sheet_id, rid, part, hidden)
        rel = xml.Relationship(rid, xml.REL_WORKSHEET, part, False)
        self.info = dataclasses.replace(info, sheets=(*info.sheets, entry), rels=(*info.rels, rel))
        return entry

    def _check_tab_name(self, name: str) -> None:
        bad = (
            not name.strip()
            or len(name) > 31
            or _FORBIDDEN_IN_TAB_NAME.search(name)
            or name.startswith("'")
            or name.endswith("'")
            or name.casefold() == "history"
        )
        if bad:
            raise SheetError(
                f"{self.label}: {name!r} cannot be a tab name (at most 31 characters, "
                "none of [ ] : * ? / \\, no quote at either end)"
            )

    # -- the whole workbook

    def finish(self) -> None:
        for part in list(self.unprobed):
            # Once any part changes, the file is written: the rest need no probe.
            self._settle(part, sure=bool(self.parts))
        if not self.changes:
            return
        if self.styles.changed and self.styles.part and self.styles.data is not None:
            self.parts[self.styles.part] = self.styles.data
        if self._has_formulas():
            updated = xml.set_full_calc_on_load(self.current(self.info.part))
            if updated != self.current(self.info.part):
                self.parts[self.info.part] = updated

    def _has_formulas(self) -> bool:
        if any(name.endswith("calcChain.xml") for name in self.package.names):
            return True
        parts = [
            sheet.part
            for sheet in self.info.sheets
            if sheet.part is not None and sheet.part in self.package.names
        ]
        # Most are known from checking the package when it was read; small tabs first: a
        # summary's COUNTIF is found without unpacking the big sheet.
        parts.sort(key=lambda part: self.package.zip.getinfo(part).file_size)
        for part in parts:
            shape = self.package.shape(part)
            if shape is not None and shape.formulas:
                return True
        return False


def _new_widths(change: TabChanges) -> dict[int, float]:
    """Widths for the columns a change adds, as a starter workbook has them (a date and a
    sentence readable at a glance), at least as wide as the header."""
    if not change.new_headers:
        # Most writes add no column: the starter (and openpyxl with it) is not imported.
        return {}
    from sheetfollow.starter import column_width

    return {
        column: column_width(change.new_fields.get(column, ""), text)
        for column, text in change.new_headers.items()
    }


def _totals_among(totals: list[tuple[int, int, int, str]], appended: tuple[int, int, int]) -> bool:
    """True when a table's totals row lies among appended rows (its cells are not written)."""
    first, last, _ = appended
    return any(first <= row <= last for row, _, _, _ in totals)


def _continues(table: xml.TableInfo, appended: tuple[int, int, int]) -> bool:
    """True when appended rows start inside or right below the table, under its columns."""
    first, last, width = appended
    box = table.box
    return (
        box.first_row < first <= box.last_row + 1 and last > box.last_row and box.first_col <= width
    )


@dataclass
class _SheetJob:
    """A worksheet part rewritten while it is copied into the new file, a piece at a time."""

    source: Callable[[], Iterator[bytes]]
    writes: xml.Writes
    ctx: xml.SheetContext
    header_cells: frozenset[tuple[int, int]]
    #: The part's size before the rewrite.
    size: int
    tab: str
    #: The part's last row before the rewrite, when known (0: not known).
    last_row: int = 0
    cells_written: int = 0
    skipped: list[str] = dataclasses.field(default_factory=list)
    #: What the rewrite proved of the new part (None: it is to be parsed whole), and the
    #: rows it replaced and added (_Capture).
    check: xml.RewriteCheck | None = None
    #: When not None: fed the new part as it is written (its cache entry keeps it).
    shape: xml.SheetShape | None = None
    #: The first and the last bytes of the new part as written, and its size: the parse
    #: cache reads the rows appended at its end from them instead of unpacking it again.
    head: bytes = b""
    tail: list[bytearray] = dataclasses.field(default_factory=list)
    written: int = 0
    #: Whether `source` is the member as stored in the package read.
    stored: bool = False
    #: The pieces the old part is packed in, when only the pieces a few rows lie in are to
    #: be packed again (_write_spliced); None: the part is rewritten whole.
    splice: _Splice | None = None
    #: What a spliced write put in the member (_Spliced), for the check after the fsync.
    spliced: _Spliced | None = None
    #: The pieces the new part was packed in (kept beside the cache for the next write).
    table: _segments.Table | None = None

    def run(self, stream: IO[bytes], progress: Callable[[float], None] | None) -> None:
        # Each write costs a compressor call: small pieces go over in blocks.
        block = bytearray()

        def out(chunk: bytes | memoryview) -> None:
            nonlocal block
            block.extend(chunk)
            if len(block) >= _BLOCK:
                stream.write(block)
                block = self._keep(block)

        read = 0
        step = max(self.size // 50, 1)
        mark = step

        def pieces() -> Iterator[bytes]:
            nonlocal read, mark
            for piece in self.source():
                yield piece
                read += len(piece)
                if progress is not None and read >= mark:
                    progress(min(read / max(self.size, 1), 1.0))
                    mark = read + step

        # The rows are checked as they are written: a few rows as they were and as they
        # are; many (a nightly refresh), only as they are. When nearly every row changes
        # (or how many the part holds is not known) parsing the new part whole (in
        # _verify) costs no more. Either way what changed is kept.
        rows = len(self.writes.by_row)
        if rows <= _CHECKED_ROWS:
            check = _Capture()
        else:
            many = rows * 4 <= self.last_row * 3
            check = _Capture(checked=many, rows_taken=False, limit=self.size * 3 // 4)
        self.cells_written, self.skipped = xml.rewrite_stream(
            pieces(), self.writes, self.ctx, self.header_cells, out, check
        )
        stream.write(block)
        self._keep(block)
        if check is not None:
            check.finish()
        self.check = check

    def _keep(self, block: bytearray) -> bytearray:
        """Keeps a block written (the last two, each of _BLOCK bytes but the last, hold at
        least _KEPT) and gives a new one to fill: the blocks are kept, not copied."""
        if not self.written:
            self.head = bytes(block[:_KEPT])
        if self.shape is not None:
            self.shape.feed(bytes(block))
        self.written += len(block)
        self.tail = [*self.tail[-1:], block]
        return bytearray()

    def upper_size(self) -> int:
        """At least the size of the new part: zipfile decides on ZIP64 from it."""
        return self.size + 512 * len(self.writes) + 4096


class _SharedStrings(xml.SharedStrings):
    """The plan's shared strings, whose items the parse cache reuses once split."""

    def plain_items(self) -> list[bytes] | None:
        """Each item's markup from just after its <si> (up to and past its </si>), when the
        list is written as Excel writes it; else None."""
        if self._items is None:
            self._items = self._split(self._load() or b"")
        return self._items if self._plain else None


class _Capture(xml.RewriteCheck):
    """The check of a rewrite that also keeps what it takes out and puts in, for the parse
    cache (_grid_after_write). Of a row whose cells all have r=, only the cells that
    changed, as their markup after the reference: each distinct markup once, by number
    (a nightly refresh writes 120,000 Whys at 200,000 rows, a few thousand of them
    distinct), and four numbers a cell. Of any other row, the whole row, as it was and as
    it is. Past _CAPTURED_MOST bytes nothing is kept (`overflow`). Unless `checked`, the
    rows are not checked as they are written (the part is parsed whole once written)."""

    def __init__(
        self, *, checked: bool = True, rows_taken: bool = True, limit: int = xml.RewriteCheck.LIMIT
    ) -> None:
        super().__init__(limit=limit, rows_taken=rows_taken)
        if not checked:
            self.proven = False
        self.wants_cells = True
        #: The whole rows taken out and put in, in batches of about _BATCH bytes read one
        #: at a time (_grid_after_write); each packed once full.
        self.batches: list[tuple[_Rows, _Rows]] = []
        #: Each distinct cell markup after its reference, by number (b"": no cell, 0).
        self.texts: dict[bytes, int] = {b"": 0}
        #: Row, column, the cell taken out and the one put in, for every cell changed.
        self.cells = array.array("I")
        self.size = 0
        self._batch_size = 0
        self.overflow = False

    def replaced(self, old: bytes, new: bytes, cells: xml.CellsChanged | None = None) -> None:
        if cells is None:
            self._keep(bytes(old), bytes(new))
        else:
            self._keep_cells(cells)
        if self.proven:  # else the part is parsed whole: nothing to check here
            super().replaced(old, new, cells)

    def inserted(self, new: bytes) -> None:
        self._keep(None, bytes(new))
        if self.proven:
            super().inserted(new)

    def _keep_cells(self, cells: xml.CellsChanged) -> None:
        if self.overflow:
            return
        texts, kept = self.texts, self.cells
        for column, taken, put in zip(cells.columns, cells.taken, cells.put, strict=True):
            was = texts.get(taken)
            if was is None:
                was = texts[taken] = len(texts)
                self.size += len(taken)
            now = texts.get(put)
            if now is None:
                now = texts[put] = len(texts)
                self.size += len(put)
            kept.extend((cells.number, column, was, now))
        self.size += 16 * len(cells.columns)
        if self.size > _CAPTURED_MOST:
            self._overflow()

    def _keep(self, taken: bytes | None, put: bytes) -> None:
        if self.overflow:
            return
        size = len(put) + (len(taken) if taken is not None else 0)
        self.size += size
        if self.size > _CAPTURED_MOST:
            self._overflow()
            return
        if not self.batches or self._batch_size >= _BATCH:
            if self.batches:
                for rows in self.batches[-1]:
                    rows.pack()
            self.batches.append((_Rows(), _Rows()))
            self._batch_size = 0
        self._batch_size += size
        batch = self.batches[-1]
        if taken is not None:
            batch[0].rows.append(taken)
        batch[1].rows.append(put)

    def _overflow(self) -> None:
        self.overflow = True
        self.wants_cells = False
        self.batches, self.texts, self.cells = [], {}, array.array("I")


class _Rows:
    """Row elements kept one after the other (_Capture), packed once their batch is full:
    a nightly refresh of 200,000 rows keeps about 40 MB of them, 5 MB packed."""

    def __init__(self) -> None:
        self.rows: list[bytes] = []
        self._packed = b""
        self._lengths = array.array("I")

    def pack(self) -> None:
        self._lengths = array.array("I", map(len, self.rows))
        self._packed = zlib.compress(b"".join(self.rows), 1)
        self.rows = []

    def unpacked(self) -> list[bytes]:
        if not self._lengths:
            return self.rows
        data, at, rows = zlib.decompress(self._packed), 0, []
        for length in self._lengths:
            rows.append(data[at : at + length])
            at += length
        return rows


def _write_package(
    out: IO[bytes],
    package: _Package,
    plan: _Plan,
    progress: Callable[[float], None] | None = None,
) -> None:
    jobs = [job for job in plan.parts.values() if isinstance(job, _SheetJob)]
    total = max(sum(job.size for job in jobs), 1)
    done = 0

    def job_progress(job: _SheetJob) -> Callable[[float], None] | None:
        if progress is None:
            return None
        before = done
        return lambda fraction: progress((before + fraction * job.size) / total)

    with zipfile.ZipFile(out, "w", allowZip64=True) as target:
        target.comment = package.zip.comment
        stamp = (1980, 1, 1, 0, 0, 0)
        for info in package.zip.infolist():
            stamp = info.date_time if info.filename == package.info.part else stamp
            content = plan.parts.get(info.filename)
            hook = job_progress(content) if isinstance(content, _SheetJob) else None
            _copy_member(target, info, content, package, hook)
            if isinstance(content, _SheetJob):
                done += content.size
        for name in plan.new_parts:
            member = zipfile.ZipInfo(name, date_time=stamp)
            member.compress_type = zipfile.ZIP_DEFLATED
            content = plan.parts[name]
            if isinstance(content, _SheetJob):
                _write_job(target, member, content, job_progress(content))
                done += content.size
            else:
                target.writestr(member, content)
    if progress is not None:
        progress(1.0)


def _copy_member(
    target: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    content: bytes | _SheetJob | None,
    package: _Package,
    progress: Callable[[float], None] | None = None,
) -> None:
    member = zipfile.ZipInfo(info.filename, date_time=info.date_time)
    kept = info.compress_type in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
    member.compress_type = info.compress_type if kept else zipfile.ZIP_DEFLATED
    member.external_attr = info.external_attr
    member.create_system = info.create_system
    member.comment = info.comment
    if content is None:
        if kept and info.file_size > _BLOCK and _copy_packed(target, info, member, package):
            return
        target.writestr(member, package.read(info.filename))
    elif isinstance(content, bytes):
        target.writestr(member, content)
    else:
        _write_job(target, member, content, progress)


def _copy_packed(
    target: zipfile.ZipFile, info: zipfile.ZipInfo, member: zipfile.ZipInfo, package: _Package
) -> bool:
    """Copy a large unchanged part as it is packed, without unpacking and packing it again
    (the shared strings of a big sheet: a second or so). The part was unpacked and counted
    when the workbook was read, or is held by a parse-cache entry (the same stored bytes
    were counted when the entry was made); its bytes and checksum go over unchanged. False
    (nothing written) where that cannot be done (_write_packed)."""
    if info.flag_bits & 0x1:
        return False
    member.internal_attr = info.internal_attr
    member.flag_bits = info.flag_bits & 0x800
    packed = _member_data(package.data, info)
    return _write_packed(target, member, [packed], info.CRC, info.file_size, info.compress_size)


def _write_packed(
    target: zipfile.ZipFile,
    member: zipfile.ZipInfo,
    chunks: list[bytes | memoryview],
    crc: int,
    size: int,
    packed_size: int,
) -> bool:
    """Write a member whose packed bytes are `chunks`, with its checksum and sizes. zipfile
    has no public way to do this: False (and nothing written) where its internals differ."""
    needed = ("_lock", "_writecheck", "fp", "filelist", "NameToInfo", "start_dir")
    if not all(hasattr(target, name) for name in needed):
        return False
    member.CRC = crc
    member.compress_size = packed_size
    member.file_size = size
    # No data descriptor: the sizes and checksum are known and go in the local header.
    member.flag_bits &= 0x800
    zip64 = max(size, packed_size) > zipfile.ZIP64_LIMIT
    inner: Any = target  # zipfile's private parts, checked above
    out = inner.fp
    if out is None:
        return False
    with inner._lock:
        inner._writecheck(member)
        inner._didModify = True
        member.header_offset = out.tell()
        out.write(member.FileHeader(zip64))
        for chunk in chunks:
            out.write(chunk)
        inner.filelist.append(member)
        inner.NameToInfo[member.filename] = member
        inner.start_dir = out.tell()
    return True


def _write_job(
    target: zipfile.ZipFile,
    member: zipfile.ZipInfo,
    job: _SheetJob,
    progress: Callable[[float], None] | None,
) -> None:
    if job.splice is not None and _write_spliced(target, member, job):
        if progress is not None:
            progress(1.0)
        return
    # Streamed, so a 200,000-row part is never held whole in memory.
    member.file_size = job.upper_size()
    level = zlib.Z_DEFAULT_COMPRESSION
    if job.size > _BIG_PART:
        level = _BIG_PART_LEVEL
        _set_compress_level(member, level)
    with target.open(member, "w") as stream:
        packer = _pack_in_pieces(stream, member, job, level)
        job.run(stream, progress)
    if packer is not None and len(packer.segments) > 1 and job.written >= _segments.SMALLEST:
        job.table = _segments.Table(tuple(packer.segments), level, packer.plain)


def _pack_in_pieces(
    stream: IO[bytes], member: zipfile.ZipInfo, job: _SheetJob, level: int
) -> _segments.Packer | None:
    """Have a part packed in pieces (_segments.py) by the stream zipfile writes it through;
    None (the part packed as zipfile packs it) where zipfile's internals are not what they
    were checked to be. A part of fewer than _segments.ROWS rows is the same bytes either
    way."""
    if member.compress_type != zipfile.ZIP_DEFLATED:
        return None
    compressor = getattr(stream, "_compressor", None)
    if type(compressor) is not type(zlib.compressobj()):
        return None
    packer = _segments.Packer(level)
    inner: Any = stream  # zipfile's private part, checked above
    inner._compressor = packer
    return packer


@dataclass
class _Splice:
    """A part as stored, and the pieces it is packed in (_segments.Table)."""

    table: _segments.Table
    packed: memoryview
    #: The part's shape when known (from the parse cache): the new one is made from it.
    shape: xml.SheetShape | None


@dataclass
class _Spliced:
    """What a spliced write put in the member: its packed bytes in order (the old pieces'
    and the new), and where each new run of pieces starts, with its pieces."""

    chunks: list[bytes | memoryview]
    fresh: list[tuple[int, list[_segments.Segment]]]
    crc: int
    size: int
    packed_size: int


def _write_spliced(target: zipfile.ZipFile, member: zipfile.ZipInfo, job: _SheetJob) -> bool:
    """Write a part rewritten in a few rows by packing again only the pieces those rows lie
    in (with the first and the last, which hold the part's head and end): the pieces are
    unpacked and rewritten together, with a unique marker in place of each stretch of
    pieces left out, then cut apart at the markers and packed again; every other piece
    goes over as it is stored.
    False (nothing written) when that cannot be sure; the part is then rewritten whole."""
    splice = job.splice
    assert splice is not None
    table, packed = splice.table, splice.packed
    segments, starts = table.segments, table.starts
    rows = sorted(job.writes.by_row)
    chosen = _segments.included(table, rows)
    data: dict[int, bytes] = {}

    def unpack(index: int) -> bytes:
        if index not in data:
            data[index] = table.unpack(packed, index)
        return data[index]

    # Held in memory while rewritten: at most a quarter of a big part.
    most = max(table.raw_size // 4, _SPLICED_MOST)
    if sum(segments[index].raw for index in chosen) > most:
        return False
    try:
        for index in sorted(chosen):
            unpack(index)
        for row in rows:
            # A row past the last of its piece goes before the first row of the next.
            index = _segments.piece_of(table, row)
            if index + 1 < len(segments) and (_segments.last_row_in(data[index]) or 0) < row:
                chosen.add(index + 1)
                unpack(index + 1)
    except ValueError:
        return False
    # Each piece used starts with the row its table says (the rows are found by them).
    if any(
        index and _segments.first_row_of(data[index]) != segments[index].first_row
        for index in chosen
    ):
        return False
    if sum(segments[index].raw for index in chosen) > most:
        return False
    groups = _segments.runs(chosen)
    marker = b"<sheetfollow-cut-%s/>" % os.urandom(8).hex().encode()
    source: list[bytes] = []
    for number, group in enumerate(groups):
        if number:
            source.append(marker)
        source.extend(data[index] for index in group)
    if any(marker in piece for piece in data.values()):
        return False
    chunks: list[bytes | memoryview] = []
    check = _Capture()
    written, skipped = xml.rewrite_stream(
        source, job.writes, job.ctx, job.header_cells, chunks.append, check
    )
    check.finish()
    if not check.proven or check.error is not None:
        return False  # the whole rewrite says what is wrong, or parses the part whole
    new = b"".join(chunks).split(marker)
    if len(new) != len(groups):
        return False
    # The last piece is always rewritten (included): the last group ends the stream.
    final = len(groups) - 1
    made: dict[int, tuple[list[_segments.Segment], bytes]] = {}
    for number, (group, content) in enumerate(zip(groups, new, strict=True)):
        first = segments[group[0]].first_row
        if first and _segments.first_row_of(content) != first:
            return False  # its first row rewritten without its number first
        packer = _segments.Packer(table.level, first_row=first)
        body = packer.compress(content) + packer.end(final=number == final)
        if not packer.plain:
            return False
        made[group[0]] = (packer.segments, body)
    ends = {group[0]: group[-1] for group in groups}
    pieces: list[_segments.Segment] = []
    out: list[bytes | memoryview] = []
    fresh: list[tuple[int, list[_segments.Segment]]] = []
    at = index = 0
    while index < len(segments):
        if index in made:
            new_pieces, body = made[index]
            fresh.append((at, new_pieces))
            pieces += new_pieces
            out.append(body)
            at += len(body)
            index = ends[index] + 1
        else:
            pieces.append(segments[index])
            out.append(packed[starts[index] : starts[index + 1]])
            at += segments[index].packed
            index += 1
    new_table = _segments.Table(tuple(pieces), table.level, table.plain)
    crc, size = new_table.crc, new_table.raw_size
    if not _write_packed(target, member, out, crc, size, at):
        return False
    job.cells_written, job.skipped = written, skipped
    job.check = check
    job.table = new_table
    job.spliced = _Spliced(out, fresh, crc, size, at)
    job.head, job.written = new[0][:_KEPT], size
    job.tail = [bytearray(new[-1])]
    if job.shape is not None:
        before = [b"".join(data[index] for index in group) for group in groups]
        job.shape = _spliced_shape(splice.shape, size, before, new)
    return True


def _last_used(splice: _Splice) -> int | None:
    """The last row with a value or a formula in a part packed in pieces, found from its
    last piece backwards (xml.last_used_row unpacks the whole part: 56 MB for the touches
    tab of 200,000 rows, for each row a `mark` adds); None when the pieces cannot tell."""
    table, packed = splice.table, splice.packed
    last = len(table.segments) - 1
    try:
        head = table.unpack(packed, 0)
        found = xml.sheet_data_start(head)
        if found is None:
            return None
        prefix, begin = found
        close = b"</" + prefix + b"sheetData>"
        for index in range(last, -1, -1):
            piece = head if index == 0 else table.unpack(packed, index)
            limit = len(piece)
            if index == last:
                limit = piece.find(close)
                if limit < 0:
                    return None
            row = xml.last_marked_in_piece(piece, prefix, begin if index == 0 else 0, limit)
            if row is None or row:
                return row
    except ValueError:
        return None
    return 0


def _check_spliced(written: _Package, name: str, spliced: _Spliced) -> None:
    """That the member `name` of the file written holds what _write_spliced put there: its
    declared checksum and sizes, the old pieces byte for byte, and each new piece unpacking
    to its length and checksum (the checksum of the whole is combined from the pieces')."""
    info = written.zip.getinfo(name)
    declared = (info.compress_type, info.CRC, info.file_size, info.compress_size)
    if declared != (zipfile.ZIP_DEFLATED, spliced.crc, spliced.size, spliced.packed_size):
        raise xml.DamagedPart(f"the part {name} was not written as meant")
    stored = _member_data(written.data, info)
    at = 0
    for chunk in spliced.chunks:
        if stored[at : at + len(chunk)] != chunk:
            raise xml.DamagedPart(f"the part {name} was not written as meant")
        at += len(chunk)
    for start, pieces in spliced.fresh:
        for piece in pieces:
            try:
                _segments.unpack(stored[start : start + piece.packed], piece)
            except ValueError as exc:
                raise xml.DamagedPart(f"the part {name}: {exc}") from None
            start += piece.packed


def _spliced_shape(
    old: xml.SheetShape | None, size: int, before: list[bytes], after: list[bytes]
) -> xml.SheetShape | None:
    """The shape of a part whose stretches `before` became `after` (the rest unchanged),
    made from its old shape `old`; None when that cannot be sure (a stretch held the only
    widest reference, or the formulas, and lost it)."""
    if old is None:
        return None
    was, now = _shape_of_stretches(before), _shape_of_stretches(after)
    if old.size - was.size + now.size != size or now.last_row < was.last_row:
        return None
    shape = xml.SheetShape()
    shape.size = size
    shape.last_row = max(old.last_row, now.last_row)
    for letters in (2, 3):
        if now.widest[letters] < was.widest[letters] >= old.widest[letters]:
            return None
        shape.widest[letters] = max(old.widest[letters], now.widest[letters])
    if was.formulas and not now.formulas:
        return None
    shape.formulas = old.formulas or now.formulas
    shape.merged = (old.merged - was.merged) | now.merged
    return shape


def _shape_of_stretches(stretches: list[bytes]) -> xml.SheetShape:
    """The shape of stretches of whole rows (each taken alone), added up."""
    total = xml.SheetShape()
    for content in stretches:
        piece = xml.SheetShape()
        piece.feed(content)
        total.size += piece.size
        total.last_row = max(total.last_row, piece.last_row)
        total.widest = [max(a, b) for a, b in zip(total.widest, piece.widest, strict=True)]
        total.formulas = total.formulas or piece.formulas
        total.merged |= piece.merged
    return total


def _piece_size(size: int) -> int:
    """How much of a part to unpack at a time: a megabyte, less for a part of a few (so
    progress moves at least every 2%), never less than 64 kB."""
    return min(_BLOCK, max(_INFLATE_CHUNK, size // 64))


def _set_compress_level(member: zipfile.ZipInfo, level: int) -> None:
    # ZipFile.open(..., "w") has no level argument; the level travels on the ZipInfo, whose
    # attribute is _compresslevel up to Python 3.12 and compress_level from 3.13.
    for name in ("compress_level", "_compresslevel"):
        if hasattr(member, name):
            setattr(member, name, level)


def _too_dense(rows: int, columns: int, shape: xml.SheetShape) -> bool:
    """True when calamine's rectangle of rows x columns would dwarf the cells in it."""
    return rows * columns > max(_DENSE_CELLS, 8 * shape.cells)


_ONE_SHEET_PARTS = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{xml.CT_WORKSHEET}"/>'
        '<Override PartName="/xl/styles.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
        "</Types>"
    ),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{xml.REL_OFFICE_DOCUMENT}" Target="xl/workbook.xml"/>'
        "</Relationships>"
    ),
}


def _one_sheet_workbook(
    package: _Package, sheet: bytes, *, strings: bool = True, shared: bytes | None = None
) -> bytes:
    """A package holding only `sheet` (as Sheet1) and what its values need from `package`:
    the shared strings (unless `strings` is false: the sheet uses none; `shared`: these
    instead), the cell formats and the date system."""
    info = package.info
    parts: dict[str, bytes] = {name: text.encode() for name, text in _ONE_SHEET_PARTS.items()}
    rels = [f'<Relationship Id="rId1" Type="{xml.REL_WORKSHEET}" Target="worksheets/sheet1.xml"/>']
    for rid, rel_type, source, copy in (
        ("rId2", xml.REL_STYLES, info.styles, "styles.xml"),
        (
            "rId3",
            xml.REL_SHARED_STRINGS,
            info.shared_strings if strings else None,
            "sharedStrings.xml",
        ),
    ):
        if shared is not None and copy == "sharedStrings.xml":
            data: bytes | None = shared
        else:
            data = package.read_optional(source) if source else None
        if data is not None:
            parts[f"xl/{copy}"] = data
            rels.append(f'<Relationship Id="{rid}" Type="{rel_type}" Target="{copy}"/>')
    parts["xl/_rels/workbook.xml.rels"] = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        + "".join(rels)
        + "</Relationships>"
    ).encode()
    parts["xl/workbook.xml"] = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        f'<workbookPr date1904="{1 if info.date1904 else 0}"/>'
        '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
    ).encode()
    parts["xl/worksheets/sheet1.xml"] = sheet
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED, allowZip64=True) as target:
        for name, data in parts.items():
            target.writestr(name, data)
    return out.getvalue()


def _grid_key(package: _Package, tab: str, part: str) -> str:
    """The parse-cache key of a tab: everything calamine's values for it depend on, and
    everything the zip-bomb check looked at in the members it reads (their entries'
    declared size, checksum and flags with their stored bytes)."""
    info = package.info
    parts: list[bytes | memoryview | str | None] = [
        tab,
        part,
        "1904" if info.date1904 else "1900",
        _calamine_build(),
    ]
    parts += [_member_digest(package, m) for m in (part, info.styles, info.shared_strings)]
    return _tabcache.content_key(parts)


def _member_digest(package: _Package, member: str | None) -> str | None:
    """A hash of a member as stored, once per package: every cached tab's key holds the
    shared strings (28 MB packed at 200,000 rows)."""
    if member is None or member not in package.names:
        return None
    digest = package.digests.get(member)
    if digest is None:
        found = package.zip.getinfo(member)
        declared = (found.compress_type, found.file_size, found.CRC, found.flag_bits)
        digest = _tabcache.content_key([repr(declared), _member_data(package.data, found)])
        package.digests[member] = digest
    return digest


def _meta_of(shape: xml.SheetShape) -> _tabcache.Meta:
    """What a cache entry keeps of the tab's part besides its grid: its shape (xml.SheetShape),
    which a read takes while unpacking the part, as plain values."""
    return (
        "shape",
        shape.last_row,
        shape.size,
        tuple(shape.widest),
        shape.formulas,
        tuple(sorted(shape.merged)),
    )


def _shape_of(meta: _tabcache.Meta) -> xml.SheetShape | None:
    """The shape `_meta_of` kept, or None when the entry holds something else."""
    try:
        tag, last_row, size, widest, formulas, merged = meta
        shape = xml.SheetShape()
        shape.last_row, shape.size, shape.formulas = int(last_row), int(size), bool(formulas)
        shape.widest = [bytes(letters) for letters in widest]
        shape.merged = {(int(a), int(b), int(c), int(d)) for a, b, c, d in merged}
    except (TypeError, ValueError):
        return None
    if tag != "shape" or len(shape.widest) != 4:
        return None
    return shape


@functools.lru_cache(maxsize=1)
def _calamine_build() -> str:
    """Which calamine reads the tabs: another build may read a cell otherwise."""
    module = sys.modules[python_calamine.CalamineWorkbook.__module__]
    where = getattr(module, "__file__", None) or ""
    try:
        found = os.stat(where)
    except OSError:
        return where
    return f"{where}:{found.st_size}:{found.st_mtime_ns}"


def _same_member(before: _Package, after: _Package, name: str | None) -> bool:
    """Whether the member `name` holds the same bytes in both packages: as stored (the
    writer copies the large members it does not change without unpacking them), else
    unpacked (it packs the small ones again, and another program's deflate differs)."""
    if name is None:
        return True
    if (name in before.names) != (name in after.names):
        return False
    if name not in before.names:
        return True
    old, new = before.zip.getinfo(name), after.zip.getinfo(name)
    if (old.CRC, old.file_size) != (new.CRC, new.file_size):
        return False
    if old.compress_type == new.compress_type and _member_data(before.data, old) == _member_data(
        after.data, new
    ):
        return True
    return before.read(name) == after.read(name)


#: A row's start tag and its number (r="..."), as sheetfollow and Excel write them.
_ROW_START = re.compile(rb'<row\b[^>]*?\sr="(\d+)"')
#: The same with any prefix, and a worksheet's root start tag.
_ANY_ROW_START = re.compile(rb'<((?:[\w.-]+:)?)row\b[^>]*?\sr="(\d+)"')
_ROOT_START = re.compile(rb"<((?:[\w.-]+:)?)worksheet\b[^>]*>")
#: The row a cell's r= names.
_CELL_ROW = re.compile(rb"""<(?:[\w.-]+:)?c\s[^>]*?\br\s*=\s*["'][A-Za-z$]*(\d+)["']""")
#: A cell holding a shared text: its start tag up to the index in <v>.
_SHARED_CELL = re.compile(
    rb'(<(?:[\w.-]+:)?c\s[^>]*?\bt=(["\'])s\2[^>]*>\s*<((?:[\w.-]+:)?)v>)\s*(\d+)\s*(</\3v>)'
)
_SST_START = re.compile(rb"<((?:[\w.-]+:)?)sst\b[^>]*>")
_SST_COUNTS = re.compile(rb"""\s(?:count|uniqueCount)\s*=\s*(["'])[^"']*\1""")


def _grid_after_write(
    before: _Package, after: _Package, tab: str, part: str, job: _SheetJob, shared: _SharedStrings
) -> list[list[RawValue]] | None:
    """The grid a full read of `tab` in `after` gives, made from its grid in `before` and a
    read of the rows the write replaced and added alone (job.check, a _Capture), each put
    back in its place; None when that cannot be sure. Of a row whose cells all have r=,
    only the cells that changed are read, as they were and as they are, each distinct
    one once.

    Exact because calamine reads a cell from its row's markup, the shared strings, the cell
    formats and the date system only, and a cell with r= from its own markup: the rows the
    write did not touch are the old part's bytes, and the rest must be the same (else
    None). A cell with r= is where its r= says, whatever is taken out or put in beside it,
    so the cells of a row the write did not change are also the old part's bytes in their
    old places (the editor keeps a row by its cells only when each names its own column
    and row). Checked on the way: the rows (cells) taken out, read alone, give what the
    full read gave for them (so they stand alone: no row without its number, nothing else
    in the part feeding them); the rectangle keeps its width (no cell calamine holds past
    the old last column; a value still in that column); the new part is read as a
    rectangle, as the old one was (its shape, taken as it was written). Not detected: a
    part holding two elements for the same row (no spreadsheet program writes that)."""
    capture = job.check
    old = before.grids[tab]
    if not isinstance(capture, _Capture) or capture.overflow or not old or job.shape is None:
        return None
    width = len(old[0])
    old_shape = before.shape(part)
    if old_shape is None or _too_dense(old_shape.rows, old_shape.columns(), old_shape):
        return None  # read with its empty rows and columns squeezed out: not a rectangle
    if _too_dense(job.shape.rows, job.shape.columns(), job.shape):
        return None
    if before.info.date1904 != after.info.date1904 or before.info.styles != after.info.styles:
        return None
    strings = before.info.shared_strings
    if strings != after.info.shared_strings or not _same_member(before, after, strings):
        return None
    if not _same_member(before, after, before.info.styles):
        return None
    root = _ROOT_START.search(job.head)
    if root is None:
        return None
    grid = list(old)
    blank: list[RawValue] = [None] * width
    every = range(1, width + 1)
    # Whole rows a batch at a time.
    for taken_rows, put_rows in capture.batches:
        taken = _rows_alone(after, root, taken_rows.unpacked(), width, shared)
        put = _rows_alone(after, root, put_rows.unpacked(), width, shared)
        if taken is None or put is None:
            return None
        for number, cells in taken.items():
            was = old[number - 1] if number <= len(old) else blank
            for column in every:
                value, before_value = cells.get(column), was[column - 1]
                if type(value) is not type(before_value) or value != before_value:
                    return None
        for number in put.keys() - taken.keys():
            if number <= len(old) and any(value is not None for value in old[number - 1]):
                return None  # values in a row the write added: another element holds them
        top = max(put, default=0)
        if top > len(grid):
            grid += [[None] * width for _ in range(top - len(grid))]
        for number, cells in put.items():
            row = list(blank)
            for column, value in cells.items():
                row[column - 1] = value
            grid[number - 1] = row
    if not capture.cells:
        return _trimmed(grid, width)
    # Cells: each distinct one read once. Those taken out must hold what the entry has
    # there; those put in replace it. The row's other cells are the old part's bytes.
    values = _cells_alone(after, root, list(capture.texts), shared)
    if values is None:
        return None
    kept = iter(capture.cells)  # row, column, taken, put: four numbers a cell
    current = 0
    row = was = blank
    for number, column, taken_id, put_id in zip(kept, kept, kept, kept, strict=True):
        if number != current:
            current = number
            if number > len(grid):
                grid += [list(blank) for _ in range(number - len(grid))]
            was = old[number - 1] if number <= len(old) else blank
            row = grid[number - 1] = list(grid[number - 1])
        if column > width:
            return None  # a cell past the old rectangle: it may widen
        value, before_value = values[taken_id], was[column - 1]
        if type(value) is not type(before_value) or value != before_value:
            return None
        row[column - 1] = values[put_id]
    return _trimmed(grid, width)


def _trimmed(grid: list[list[RawValue]], width: int) -> list[list[RawValue]] | None:
    """`grid` as calamine holds it: without empty rows at the end; None when its last column
    holds nothing any more (calamine's rectangle may narrow)."""
    if width and not any(row[width - 1] is not None for row in grid):
        return None
    while grid and all(value is None for value in grid[-1]):
        grid.pop()
    return grid


def _cells_alone(
    package: _Package, root: re.Match[bytes], texts: list[bytes], shared: _SharedStrings
) -> list[RawValue] | None:
    """What calamine reads in each cell whose markup after its reference is one of `texts`
    (a part of `package` whose root start tag is `root`): a cell with r= is read from its
    own markup, the shared strings, the cell formats and the date system, wherever it is.
    Each is read in column A of a row of its own, a batch at a time; `texts[0]` is no cell
    (None). None when one holds more than a cell."""
    prefix = root.group(1)
    values: list[RawValue] = [None]
    at = 1
    while at < len(texts):
        rows: list[bytes] = []
        size = 0
        while at < len(texts) and size < _BATCH:
            number = len(rows) + 1
            rows.append(
                b'<%srow r="%d"><%sc r="A%d"%s</%srow>'
                % (prefix, number, prefix, number, texts[at], prefix)
            )
            size += len(rows[-1])
            at += 1
        found = _rows_alone(package, root, rows, 1, shared)
        if found is None:
            return None
        values += (found[number].get(1) for number in range(1, len(rows) + 1))
    return values


def _rows_alone(
    package: _Package,
    root: re.Match[bytes],
    rows: list[bytes],
    width: int,
    shared: _SharedStrings,
) -> dict[int, Mapping[int, RawValue]] | None:
    """Each of `rows` (whole row elements of a part of `package` whose root start tag is
    `root`) as calamine reads it in a part holding only them, by row number: the values it
    holds by column (1 for A); None when a row has no number or holds a cell calamine keeps
    past column `width`."""
    numbers: list[int] = []
    for row in rows:
        match = _ANY_ROW_START.match(row)
        if match is None:
            return None
        number = int(match.group(2))
        if any(int(found) != number for found in _CELL_ROW.findall(row)):
            return None  # a cell whose r= names another row: read alone, it is misplaced
        numbers.append(number)
    if not rows:
        return {}
    if len(set(numbers)) != len(numbers):
        return None
    prefix = root.group(1)
    sheet = b"".join(
        (
            root.group(0),
            b"<%ssheetData>" % prefix,
            *rows,
            b"</%ssheetData></%sworksheet>" % (prefix, prefix),
        )
    )
    # Rows far apart have their empty rows and columns squeezed out: a row of 200,000 is
    # read as row 1, not as the last of a rectangle of 200,000 rows. Rows close together
    # (a nightly refresh changes every other row) are read where they are, from the first
    # cell calamine holds: squeezing costs a call for every cell.
    squeeze = (
        max(numbers) - min(numbers) >= 2 * len(numbers) + _NOT_SQUEEZED
        or not _SHEET_START  # a python-calamine that does not say where a sheet starts
    )
    kept_rows: Sequence[int]
    columns: Sequence[int]
    if squeeze:
        sheet, kept_rows, columns = xml.squeeze_sheet(sheet)
    few = None
    if _shared_texts(sheet, 0, len(sheet)):
        sheet, few = _few_shared_strings(package, sheet, shared)
    workbook = _one_sheet_workbook(
        package,
        sheet,
        strings=_shared_texts(sheet, 0, len(sheet)) or few is not None,
        shared=few,
    )
    reader: Any = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(workbook))
    held_sheet = reader.get_sheet_by_name("Sheet1")
    if squeeze:
        grid = held_sheet.to_python(skip_empty_area=False)
    else:
        grid = held_sheet.to_python(skip_empty_area=True)
        top, left = held_sheet.start or (0, 0)
        kept_rows = range(top + 1, top + 1 + len(grid))
        columns = range(left + 1, left + 1 + (len(grid[0]) if grid else 0))
    held = len(grid[0]) if grid else 0
    if any(column > width for column in columns[:held]):
        return None  # calamine keeps a cell past the old rectangle: it may widen
    values = _Cells().values
    found: dict[int, Mapping[int, RawValue]] = dict.fromkeys(numbers, _NOTHING)
    lines: Iterable[tuple[int, list[Any]]]
    if squeeze:
        lines = zip(kept_rows, grid, strict=False)
    else:
        # Only the rows read: calamine holds nothing in those between them.
        first = kept_rows[0] if kept_rows else 0
        lines = (
            (number, grid[number - first]) for number in numbers if 0 <= number - first < len(grid)
        )
    for number, line in lines:
        found[number] = {
            columns[index]: value for index, value in enumerate(values(line)) if value is not None
        }
    return found


def _few_shared_strings(
    package: _Package, sheet: bytes, shared: _SharedStrings
) -> tuple[bytes, bytes | None]:
    """`sheet` with its shared-text cells pointing into a list of only the texts they use,
    and that list: calamine reads 28 MB of shared strings at 200,000 rows to open a
    package. The items are the package's own markup, byte for byte (`shared`: the same
    list, split already when the write compared cells). (sheet, None) when that is not
    sure: the package's list is then used whole."""
    strings = package.info.shared_strings
    if strings is None or strings not in package.names:
        return sheet, None
    with package.zip.open(strings) as stream:
        start = stream.read(_INFLATE_CHUNK)
    root = _SST_START.search(start)
    items = shared.plain_items()
    if root is None or items is None:
        return sheet, None
    chosen: dict[int, int] = {}

    def point(match: re.Match[bytes]) -> bytes:
        index = int(match.group(4))
        if index >= len(items):
            raise xml.DamagedPart(f"shared string {index} does not exist")
        new = chosen.setdefault(index, len(chosen))
        return b"%s%d%s" % (match.group(1), new, match.group(5))

    pointed, cells = _SHARED_CELL.subn(point, sheet)
    if cells != sheet.count(b't="s"') + sheet.count(b"t='s'"):
        return sheet, None  # a shared text written otherwise: the whole list
    body = []
    for index in chosen:
        item = items[index]
        end = item.find(b"</si>")
        if end < 0:
            return sheet, None
        body.append(b"<si>" + item[:end] + b"</si>")
    start = _SST_COUNTS.sub(b"", root.group(0))
    return pointed, b"".join((start, *body, b"</%ssst>" % root.group(1)))


def _grid_after_append(
    before: _Package,
    after: _Package,
    tab: str,
    part: str,
    kept: _SheetJob | None = None,
) -> list[list[RawValue]] | None:
    """The grid a full read of `tab` in `after` gives, from its grid in `before` (to which
    rows were only appended) and a read of the rows below it alone; None when that cannot
    be sure. The rows are found in what the write `kept` of the part when it holds them
    all (a `mark` appends one row), else in the part unpacked again."""
    old = before.grids[tab]
    if not old or part not in after.names:
        return None
    width = len(old[0])
    if {width} != set(map(len, old)):
        return None  # not calamine's rectangle: read another way
    old_shape = before.shape(part)
    if old_shape is None or _too_dense(old_shape.rows, old_shape.columns(), old_shape):
        return None
    info_before, info_after = before.info, after.info
    if info_before.date1904 != info_after.date1904 or info_before.styles != info_after.styles:
        return None
    if not _same_member(before, after, info_before.styles):
        return None  # a cell format the rows above use may read otherwise now
    strings = info_before.shared_strings == info_after.shared_strings and _same_member(
        before, after, info_before.shared_strings
    )
    size = after.zip.getinfo(part).file_size
    found = None
    if kept is not None and kept.written == size:
        data = b"".join(kept.tail)
        whole = len(data) == size
        start = data if whole else kept.head
        # Whether the rows above use shared strings is known only from all of them.
        if strings or whole:
            found = _appended_rows(data, start, len(old), whole=whole)
    if found is None:
        data = after.read(part)
        found = _appended_rows(data, data, len(old), whole=True)
    if not found:
        return None
    head, begin, end = found
    if not strings and _shared_texts(data, 0, begin):
        return None  # the rows above use shared strings, which changed
    added_xml = data[begin:end]
    # The shape a read of the whole part finds (xml.SheetShape: the last row, the widest
    # column and the size are each the larger of the old rows' and the new rows'): a tab
    # too sparse for calamine's rectangle is read another way.
    added_shape = xml.SheetShape()
    added_shape.feed(added_xml)
    rows_after = max(old_shape.rows, added_shape.rows)
    columns_after = max(old_shape.columns(), added_shape.columns())
    if rows_after * columns_after > max(_DENSE_CELLS, 8 * (size // 16)):
        return None
    sheet = head + b"<sheetData>" + added_xml + b"</sheetData></worksheet>"
    # sheetfollow writes its rows with inline texts: the shared strings are not unpacked.
    workbook = _one_sheet_workbook(
        after, sheet, strings=_shared_texts(added_xml, 0, len(added_xml))
    )
    reader: Any = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(workbook))
    added = reader.get_sheet_by_name("Sheet1")
    first = added.start
    rows = added.to_python(skip_empty_area=True)
    if first is None or not rows:
        return None
    top, left = first
    if top < len(old) or left + len(rows[0]) > width:
        return None  # overlaps the old grid, or widens the rectangle: a full read decides
    values = _Cells().values
    grid = list(old)
    grid += [[None] * width for _ in range(top - len(old))]
    for row in rows:
        row = values(row)
        grid.append([None] * left + row + [None] * (width - left - len(row)))
    while grid and all(value is None for value in grid[-1]):
        grid.pop()
    return grid


def _appended_rows(
    data: bytes, start: bytes, old_rows: int, *, whole: bool
) -> tuple[bytes, int, int] | tuple[()] | None:
    """The root start tag (from `start`, the part's first bytes) and where in `data` (the
    part's last bytes, or all of it when `whole`) the rows numbered past `old_rows` begin
    and end; () when that cannot be sure, None when `data` does not reach back far enough
    to tell."""
    end = data.rfind(b"</sheetData>")
    root = start.find(b"<worksheet")
    if end < 0 or root < 0:
        return None if not whole else ()
    close = start.find(b">", root)
    if close < 0:
        return None if not whole else ()
    # The rows numbered past the old grid, found from the end (they are the last ones).
    first, at = -1, end
    while True:
        at = data.rfind(b"<row", 0, at)
        if at < 0:
            if not whole:
                return None  # the rows may go on before the bytes kept
            break
        match = _ROW_START.match(data, at)
        if match is None:
            return ()  # a row without its number
        if int(match.group(1)) <= old_rows:
            break
        first = at
    if first < 0:
        return ()
    return start[: close + 1], first, end


def _shared_texts(data: bytes, start: int, end: int) -> bool:
    """Whether a cell of data[start:end] may be a shared text (t="s", with either quote)."""
    return data.find(b't="s"', start, end) >= 0 or data.find(b"t='s'", start, end) >= 0


def _member_data(data: bytes, info: zipfile.ZipInfo) -> memoryview:
    """The packed bytes of a zip member, found through its local header."""
    at = info.header_offset
    try:
        signature, name_length, extra_length = _LOCAL_HEADER.unpack_from(data, at)
    except struct.error:
        signature = b""
    if signature != b"PK\x03\x04":
        raise xml.DamagedPart(f"the zip entry of {info.filename} is broken")
    start = at + _LOCAL_HEADER.size + name_length + extra_length
    return memoryview(data)[start : start + info.compress_size]


def _size(count: int) -> str:
    """Bytes as a person reads them, in the binary units Windows shows: "2.0 GB"."""
    amount = float(count)
    for unit in ("bytes", "KB", "MB", "GB"):
        if amount < 1024 or unit == "GB":
            return f"{count:,} bytes" if unit == "bytes" else f"{amount:,.1f} {unit}"
        amount /= 1024
    raise AssertionError  # pragma: no cover


def _writable(path: Path, mode: int) -> bool:
    effective = os.access in os.supports_effective_ids
    return os.access(path, mode, effective_ids=effective)


def _on_read_only_mount(path: Path) -> bool:
    statvfs = getattr(os, "statvfs", None)
    if statvfs is None:
        return False
    try:
        return bool(statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _ago(elapsed: timedelta) -> str:
    """How long ago, in the unit a person would use: "40 minutes ago", "3 days ago"."""
    minutes = int(elapsed.total_seconds() // 60)
    if minutes < 1:
        return "moments ago"
    hours, days = minutes // 60, minutes // (60 * 24)
    if hours < 2:
        count, unit = minutes, "minute"
    elif days < 2:
        count, unit = hours, "hour"
    else:
        count, unit = days, "day"
    return f"{count} {unit}{'' if count == 1 else 's'} ago"


def _copy_ownership(path: Path, original: os.stat_result) -> None:
    os.chmod(path, stat.S_IMODE(original.st_mode))
    if hasattr(os, "chown"):
        # Only the owner's own runs or root can keep the owner; others keep the file theirs.
        with contextlib.suppress(OSError):
            os.chown(path, original.st_uid, original.st_gid)


def _read_back(path: Path) -> tuple[bytes, _Fingerprint]:
    with open(path, "rb") as handle:
        data = handle.read()
        info = os.fstat(handle.fileno())
    return data, _Fingerprint(info.st_size, info.st_mtime_ns, hashlib.sha256(data).hexdigest())


def _digest(handle: IO[bytes]) -> str:
    digest = hashlib.sha256()
    while block := handle.read(_BLOCK):
        digest.update(block)
    return digest.hexdigest()


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _stat_or_none(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def _remove_if_ours(temp: Path, ours: os.stat_result | None) -> None:
    """Remove our temporary file; `ours` is None until it is complete."""
    with contextlib.suppress(OSError):
        if ours is None or _same_file(os.lstat(temp), ours):
            temp.unlink()


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
#: What renameat2 answers where the file system (or the kernel) cannot exchange.
_NO_EXCHANGE = frozenset({errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP})


@functools.cache
def _renameat2() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes  # only where a file is put in place

    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # a C library without it (glibc before 2.28)
        return None
    function.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    function.restype = ctypes.c_int
    return function


def _exchange(a: Path, b: Path) -> bool:
    """Swap the files named a and b in one step; False when this system cannot."""
    rename = _renameat2()
    if rename is None:
        return False
    if rename(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    import ctypes  # loaded by _renameat2 already

    code = ctypes.get_errno()
    if code in _NO_EXCHANGE:
        return False
    raise OSError(code, os.strerror(code), str(b))


#: The rows a tab's repeated texts and dates are learnt from: every row up to _LEARN_ALL, then
#: one in _LEARN_EVERY (a value that fills a column, a status, an owner, a date, turns up in
#: the first rows or soon after; learning from every row would cost a Python step per cell).
_LEARN_ALL = 256
_LEARN_EVERY = 32


class _Cells:
    """Turns calamine's rows into RawValues in place, for one tab: empty cells ("") become
    None, times and durations what _raw makes of them, and a text or date seen before
    becomes the object read first. calamine makes a new object for every cell, and most
    cells of a pipeline repeat a handful of texts (stage, owner, status, step, why) and a
    few hundred dates: sharing them holds a 200,000-row tab in 150 MB less. Runs once per
    row of every tab read: type checks and look-ups in C, no Python code per cell in the
    common case."""

    def __init__(self) -> None:
        #: Only texts and dates (never numbers: 1 == 1.0 == True) are keys, so a look-up
        #: of any other value finds nothing and gives the value back.
        self.known: dict[object, RawValue] = {"": None}
        self.rows = 0

    def values(self, row: list[Any]) -> list[RawValue]:
        types = set(map(type, row))
        if not types <= _PLAIN:
            return [None if v == "" else v if type(v) in _PLAIN else _raw(v) for v in row]
        if str in types or date in types:
            known = self.known
            # dict.get(value, value): the object known, or the value itself, all in C.
            row[:] = map(known.get, row, row)
            self.rows += 1
            if self.rows <= _LEARN_ALL or self.rows % _LEARN_EVERY == 0:
                for value in row:
                    if type(value) is str or type(value) is date:
                        known.setdefault(value, value)
        return row


def _raw(value: object) -> RawValue:
    if value == "":
        return None
    if isinstance(value, (str, float, int, date)):
        return value
    if isinstance(value, time):
        # A time of day on its own ("call at 14:30") reads best as text.
        return value.isoformat(timespec="minutes" if value.second == 0 else "seconds")
    if isinstance(value, timedelta):
        return value.total_seconds() / 86400
    return str(value)


def _id_text(value: RawValue) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value).strip()
