"""A parse cache for sheetfollow's own hidden tabs, kept beside the workbook.

The touches tab (snapshot.py) has a row per prospect and more, and every command reads it:
parsing it through calamine is a second pass over a tab the size of Prospects. Like a .pyc,
the grid calamine gave for a tab is kept in `.sheetfollow/<workbook>.<tab>.grid` under a key
that is a hash of everything the values depend on: the tab's zip member as stored
(compressed), the shared strings and styles members, the date system, calamine's build and
this module's format. Any other version of the tab (edited in Excel, by a script, restored
from a backup) has another key, so its entry is never used; a file that is not exactly what
`store` wrote (truncated, damaged, an older format) is ignored and replaced. Deleting the
files is always safe: the next read parses the tab and stores it again.

One file per tab (the newest entry only), written to a temporary name and renamed into
place: several runs at once store the same content, and the last rename wins. The file is
read with an unpickler that makes only plain values and dates, so a file planted in the
folder cannot run code.
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
from pathlib import Path
from typing import Any

from sheetfollow.files import remove_stale_temps
from sheetfollow.sheet import RawValue

#: Raised whenever what is stored, or how the grid is made from a tab, changes: entries of
#: another format never match a key of this one.
FORMAT = b"sheetfollow tab cache 1"
_MAGIC = b"SFGRID1\n"
_DIGEST = 32
_HEX = 2 * _DIGEST
#: The header: magic, the key, the payload's digest, a newline.
_HEADER = len(_MAGIC) + _HEX + 1 + _HEX + 1

Grid = list[list[RawValue]]


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


def load(path: Path, key: str) -> Grid | None:
    """The grid stored under `key` at `path`, or None (absent, another key, damaged)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    if len(data) < _HEADER or not data.startswith(_MAGIC):
        return None
    header = data[len(_MAGIC) : _HEADER].decode("ascii", "replace")
    if header[:_HEX] != key or header[-1] != "\n":
        return None
    payload = memoryview(data)[_HEADER:]
    if hashlib.blake2b(payload, digest_size=_DIGEST).hexdigest() != header[_HEX + 1 : -1]:
        return None
    try:
        grid = _Unpickler(io.BytesIO(payload)).load()
    except Exception:  # whatever a damaged file raises, it is only a miss
        return None
    if type(grid) is not list or not all(type(row) is list for row in grid):
        return None
    found: Grid = grid
    return found


def store(path: Path, key: str, grid: Grid) -> None:
    """Keep `grid` under `key` at `path`, replacing the entry there. Never raises for the
    file system: a folder that cannot be written only means no cache."""
    payload = pickle.dumps(grid, protocol=pickle.HIGHEST_PROTOCOL)
    digest = hashlib.blake2b(payload, digest_size=_DIGEST).hexdigest()
    header = _MAGIC + f"{key} {digest}\n".encode("ascii")
    folder = path.parent
    temp: str | None = None
    try:
        # What killed runs left of this entry's temporary files, an hour on.
        remove_stale_temps(folder, re.escape(path.name))
        handle, temp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(handle, "wb") as out:
            out.write(header)
            out.write(payload)
        # No fsync: after a crash a file that lost its bytes fails its digest and is a miss.
        os.replace(temp, path)
        temp = None
    except OSError:
        pass
    finally:
        if temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp)


#: The only classes an entry may name: cells are None, texts, numbers and these.
_ALLOWED = {("datetime", "date"): datetime.date, ("datetime", "datetime"): datetime.datetime}


class _Unpickler(pickle.Unpickler):
    """Makes lists, texts, numbers, None and dates; refuses every other class."""

    def find_class(self, module: str, name: str) -> Any:
        found = _ALLOWED.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"{module}.{name} is not a cell value")
        return found
