"""A parse cache for the tabs of a workbook, kept beside it.

Every command reads the Prospects tab, the Owners tab and sheetfollow's hidden touches tab
(and some the Log): parsing them through calamine is most of what a command costs on a big
workbook. Like a .pyc, the grid calamine gave for a tab is kept in
`.sheetfollow/<workbook>.<tab>.grid` under a key that is a hash of everything the values
depend on: the tab's zip member as stored (compressed) with its declared size and checksum,
the shared strings and styles members, the date system, calamine's build and this module's
format. With the grid the entry keeps what else a read finds in the tab's part (its merged
ranges and shape, xml.SheetShape), so that a hit unpacks nothing. Any other version of the
tab (edited in Excel, by a script, restored from a backup) has another key, so its entry is
never used; a file that is not exactly what `store` wrote (truncated, damaged, an older
format) is ignored and replaced. Deleting the files is always safe: the next read parses
the tab and stores it again.

One file per tab (the newest whole entry only), and beside it one file of the rows changed
since that entry (a `mark` changes a few rows of a tab of 200,000: those are kept, not the
whole grid again); each written to a temporary name and renamed into place: several runs at
once each store an entry that is right for its own key, and the last rename wins (changes
whose whole entry was replaced meanwhile are a miss). The files are read with an unpickler
that makes only plain values and dates, so a file planted in the folder cannot run code.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import io
import os
import pickle
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sheetfollow.files import remove_stale_temps
from sheetfollow.sheet import RawValue

#: Raised whenever what is stored, or how the grid is made from a tab, changes: entries of
#: another format never match a key of this one.
FORMAT = b"sheetfollow tab cache 3"
_MAGIC = b"SFGRID2\n"
_DIGEST = 32
_HEX = 2 * _DIGEST
#: The header: magic, the key, the payload's digest, a newline.
_HEADER = len(_MAGIC) + _HEX + 1 + _HEX + 1

#: How much of an entry is read at a time to hash it.
_PIECE = 1 << 20

Grid = list[list[RawValue]]
#: What an entry keeps besides the grid: plain values only (xlsx.py says which).
Meta = tuple[Any, ...]


def content_key(parts: Iterable[bytes | memoryview | str | None]) -> str:
    """A strong hash of `parts` in order (None and b"" hashed apart from each other)."""
    digest = hashlib.blake2b(FORMAT, digest_size=_DIGEST)
    for part in parts:
        if part is None:
            digest.update(b"\x00none")
            continue
        data = part.encode() if isinstance(part, str) else part
        digest.update(b"\x01" + len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def entry_path(folder: Path, workbook: str, tab: str) -> Path:
    """Where the entry for `tab` of the workbook named `workbook` is kept in `folder`."""
    # Tab names may hold characters a file name cannot; case differs only as Excel ignores.
    tag = hashlib.blake2b(tab.casefold().encode(), digest_size=8).hexdigest()
    return folder / f"{workbook}.{tag}.grid"


def segments_path(folder: Path, workbook: str, part: str) -> Path:
    """Where the table of the pieces a worksheet part was packed in is kept (_segments.py)."""
    tag = hashlib.blake2b(b"segments " + part.encode(), digest_size=8).hexdigest()
    return folder / f"{workbook}.{tag}.seg"


def keep_value(path: Path, key: str, value: tuple[Any, ...]) -> None:
    """Keep a tuple of plain values under `key` at `path` (as an entry is kept)."""
    _write(path, key, value)


def value_of(path: Path, key: str) -> Any:
    """What `keep_value` kept under `key` at `path`, or None (absent, another key, damaged)."""
    return _payload(path, key)


def changes_path(path: Path) -> Path:
    """Where the rows changed since the entry at `path` are kept (see `fetch`)."""
    tag = hashlib.blake2b(b"changes " + path.name.encode(), digest_size=8).hexdigest()
    return path.with_name(f"{path.name.rsplit('.', 2)[0]}.{tag}.grid")


def holds(path: Path, key: str) -> bool:
    """Whether the entry at `path`, or the changes kept beside it, say they were made under
    `key` (their headers only: whether the content is whole is found out by `fetch`)."""
    for where in (path, changes_path(path)):
        try:
            with open(where, "rb") as handle:
                header = handle.read(_HEADER)
        except OSError:
            continue
        if _key_of(header) == key:
            return True
    return False


def _key_of(data: bytes) -> str | None:
    if len(data) < _HEADER or not data.startswith(_MAGIC):
        return None
    header = data[len(_MAGIC) : _HEADER].decode("ascii", "replace")
    return header[:_HEX] if header[-1] == "\n" else None


@dataclass
class Found:
    """A grid from the cache, and how it was kept: the whole entry it was made from (its key
    and length) and the rows that differ from it (none when it is that entry)."""

    meta: Meta
    grid: Grid
    base: str
    base_rows: int
    changed: dict[int, list[RawValue]]


def fetch(path: Path, key: str) -> Found | None:
    """The grid kept under `key`, whole at `path` or as the rows changed since the whole
    entry there (`keep`), or None (absent, another key, damaged)."""
    found = load(path, key)
    if found is not None:
        return Found(found[0], found[1], key, len(found[1]), {})
    changes = _payload(changes_path(path), key)
    if type(changes) is not tuple or len(changes) != 4:
        return None
    meta, base, length, rows = changes
    if type(meta) is not tuple or type(base) is not str or type(length) is not int:
        return None
    if type(rows) is not dict or not set(map(type, rows.values())) <= {list}:
        return None
    whole = load(path, base)
    if whole is None:
        return None
    first = whole[1]
    grid = first[:length]
    try:
        grid += [rows[index] for index in range(len(first), length)]
        for index, row in rows.items():
            if index < length:
                grid[index] = row
    except (KeyError, IndexError, TypeError):
        return None
    return Found(meta, grid, base, len(first), rows)


def keep(
    path: Path, key: str, meta: Meta, grid: Grid, since: Found | None, changed: Iterable[int]
) -> None:
    """Keep `grid` under `key`: as the rows that differ from the whole entry `since` was
    made from (`changed`: the rows changed since `since`, and every row past its length)
    when they are at most a tenth of the grid (a day of `mark`s stores a few rows each, not
    37 MB), else whole."""
    if since is not None:
        length = len(grid)
        wanted = {*since.changed, *changed}
        rows = {index: grid[index] for index in sorted(wanted) if 0 <= index < length}
        if len(rows) <= length // 10:
            _write(changes_path(path), key, (meta, since.base, length, rows))
            return
    store(path, key, meta, grid)


def load(path: Path, key: str) -> tuple[Meta, Grid] | None:
    """The whole entry stored under `key` at `path`, or None (absent, another key, damaged)."""
    found = _payload(path, key)
    if type(found) is not tuple or len(found) != 2 or type(found[0]) is not tuple:
        return None
    meta, grid = found
    if type(grid) is not list or not set(map(type, grid)) <= {list}:
        return None
    return meta, grid


def _payload(path: Path, key: str) -> Any:
    """What the file at `path` holds under `key`, or None (absent, another key, damaged).
    The file is hashed and then unpickled as it is read, a piece at a time: a 37 MB entry is
    never held whole beside the values it makes."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(_HEADER)
            if _key_of(header) != key:
                return None
            digest = hashlib.blake2b(digest_size=_DIGEST)
            while piece := handle.read(_PIECE):
                digest.update(piece)
            if digest.hexdigest() != header[len(_MAGIC) + _HEX + 1 : -1].decode("ascii", "replace"):
                return None
            handle.seek(_HEADER)
            try:
                return _Unpickler(handle).load()
            except Exception:  # whatever a damaged file raises, it is only a miss
                return None
    except OSError:
        return None


def store(path: Path, key: str, meta: Meta, grid: Grid) -> None:
    """Keep `meta` and `grid` under `key` at `path`, replacing the entry there. Never raises
    for the file system: a folder that cannot be written only means no cache."""
    _write(path, key, (meta, grid))


def _write(path: Path, key: str, content: Any) -> None:
    folder = path.parent
    temp: str | None = None
    try:
        # What killed runs left of this workbook's entries' temporary files, an hour on.
        workbook = re.escape(path.name.rsplit(".", 2)[0])
        remove_stale_temps(folder, workbook + r"\.[0-9a-f]{16}\.(?:grid|seg)")
        handle, temp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(handle, "wb") as out:
            # Pickled straight into the file (37 MB for 200,000 rows are never held as one
            # bytes object); the header, with the payload's digest, is written last.
            out.write(bytes(_HEADER))
            hashed = _Hashed(out)
            pickle.dump(content, hashed, protocol=pickle.HIGHEST_PROTOCOL)
            out.seek(0)
            out.write(_MAGIC + f"{key} {hashed.digest.hexdigest()}\n".encode("ascii"))
        # No fsync: after a crash a file that lost its bytes fails its digest and is a miss.
        os.replace(temp, path)
        temp = None
    except OSError:
        pass
    finally:
        if temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp)


class _Hashed:
    """A file that also hashes what is written to it."""

    def __init__(self, out: io.BufferedWriter) -> None:
        self.out = out
        self.digest = hashlib.blake2b(digest_size=_DIGEST)

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self.out.write(data)


#: The only classes an entry may name: cells are None, texts, numbers and these.
_ALLOWED = {("datetime", "date"): datetime.date, ("datetime", "datetime"): datetime.datetime}


class _Unpickler(pickle.Unpickler):
    """Makes lists, tuples, texts, bytes, numbers, None and dates; refuses every other
    class."""

    def find_class(self, module: str, name: str) -> Any:
        found = _ALLOWED.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"{module}.{name} is not a cell value")
        return found
