"""Who has a workbook open: the lock files Excel and LibreOffice leave beside it.

Excel's owner file "~$book.xlsx" is 165 bytes. Byte 0 is the length of the user name, bytes
1-54 the name in the Windows ANSI code page padded with spaces; at offset 55 (54 in Word's
162-byte files) the length again as a 2-byte little-endian number, then the name in UTF-16-LE,
then padding. The layout is Microsoft's, undocumented; this follows LibreOffice, which reads
and writes these files (svl/source/misc/msodocumentlockfile.cxx) and can write one itself
when it opens an .xlsx.

LibreOffice's ".~lock.book.xlsx#" is one UTF-8 line of five fields, each ended by "," and the
last by ";" ("\\" escapes those three characters): the name set in LibreOffice (Tools >
Options > User Data, often empty), the system user name, the host, the time it was opened
(dd.mm.yyyy hh:mm, local time) and the user profile's URL (svl/source/misc/lockfilecommon.cxx).
LibreOffice itself shows the first field, or the second when the first is empty.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Literal

__all__ = ["LockFile", "Program", "excel_holder", "find_lock", "is_stale", "libreoffice_holder"]

Program = Literal["Excel", "LibreOffice"]

#: More than any holder name needs; a lock file is a few hundred bytes.
_READ_AT_MOST = 4096
#: Office allows 52 characters; the ANSI field leaves room for 54.
_MAX_NAME = 54
#: Where the 2-byte length of the UTF-16 copy sits: Excel and PowerPoint, then Word.
_UTF16_OFFSETS = (55, 54)


@dataclass(frozen=True)
class LockFile:
    """A lock file beside a workbook. holder is "" when the file does not say who."""

    path: Path
    program: Program
    holder: str
    #: When the lock file was last written (timezone-aware, UTC).
    modified: datetime


def find_lock(workbook: Path) -> LockFile | None:
    """The lock file Excel or LibreOffice keeps beside workbook, if any.

    Never raises: a lock file that cannot be read or understood still counts, with holder "".
    """
    folder, name = workbook.parent, workbook.name
    # LibreOffice can write an Excel owner file next to its own lock ("Create MSO lock file"),
    # so its own lock, which Excel never writes, says which program it is.
    candidates: tuple[tuple[Path, Program], ...] = (
        (folder / f".~lock.{name}#", "LibreOffice"),
        (folder / f"~${name}", "Excel"),
    )
    for path, program in candidates:
        try:
            info = os.lstat(path)
        except OSError:
            continue
        try:
            with open(path, "rb") as handle:
                data = handle.read(_READ_AT_MOST)
        except OSError:
            data = b""
        holder = excel_holder(data) if program == "Excel" else libreoffice_holder(data)
        modified = datetime.fromtimestamp(info.st_mtime, tz=timezone.utc)
        return LockFile(path, program, holder, modified)
    return None


def is_stale(
    lock: LockFile, workbook_mtime: datetime, now: datetime, stale_after: timedelta
) -> bool:
    """True when neither the lock file nor the workbook changed for longer than stale_after:
    nobody opened the workbook and nothing saved it since, as after a crash or an abandoned
    session. All times must be timezone-aware."""
    return now - max(lock.modified, workbook_mtime) > stale_after


def excel_holder(data: bytes) -> str:
    """The user name in an Excel owner file, or "" when it cannot be told."""
    if not data or not 0 < data[0] <= _MAX_NAME:
        return ""
    for offset in _UTF16_OFFSETS:
        # At the wrong offset the two bytes read as a length far above 54.
        size = int.from_bytes(data[offset : offset + 2], "little")
        end = offset + 2 + 2 * size
        if 0 < size <= _MAX_NAME and len(data) >= end:
            try:
                name = _clean(data[offset + 2 : end].decode("utf-16-le"))
            except UnicodeDecodeError:
                continue
            if name:
                return name
    # No readable UTF-16 copy: the ANSI one, if it is whole and means something in cp1252.
    ansi = data[1 : 1 + data[0]]
    if len(ansi) < data[0]:
        return ""
    try:
        return _clean(ansi.decode("cp1252"))
    except UnicodeDecodeError:
        return ""


def libreoffice_holder(data: bytes) -> str:
    """The user's name in a LibreOffice lock file, or "" when it cannot be told."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return ""
    fields: list[str] = []
    current: list[str] = []
    escaped = False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in ",;":
            fields.append("".join(current))
            current = []
            if char == ";" or len(fields) == 2:
                break
        else:
            current.append(char)
    for field in fields:
        name = _clean(field)
        if name:
            return name
    return ""


def _clean(name: str) -> str:
    name = name.strip()
    return name if name.isprintable() else ""
