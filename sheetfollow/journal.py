"""The pending journal: changes kept beside the workbook while it cannot be written.

One JSON object per line, each written and fsynced before the command that made it reports
success, in `.sheetfollow/<workbook>.pending.jsonl` next to the workbook (for a Google Sheet,
next to sheetfollow.toml). When that folder cannot be written either (a read-only share), the
journal goes to this user's own state folder, and the message says where.

Every change carries an ID. The write that applies a change also records its ID in the
hidden state tab, in the same atomic write; the journal line is removed afterwards. A command
killed between the two finds the ID recorded and drops the line without applying it again:
each change is applied exactly once.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sheetfollow.errors import SheetError
from sheetfollow.files import fsync_folder, remove_stale_temps

#: Lines are read only in this format; a newer sheetfollow's lines are left alone.
VERSION = 1
#: Seconds to wait for another command appending to or clearing the same journal.
LOCK_TIMEOUT = 30.0

TOUCH = "touch"
IMPORT = "import"
SENT = "sent"


@dataclass(frozen=True)
class Pending:
    """One change waiting to be written."""

    id: str
    kind: str
    #: When it was kept, in the team's time zone (ISO 8601).
    at: str
    #: Who ran the command, and where.
    user: str
    host: str
    data: Mapping[str, Any]
    #: The file the line is in.
    path: Path

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "kind": self.kind,
            "at": self.at,
            "user": self.user,
            "host": self.host,
            "data": dict(self.data),
        }


def new_id() -> str:
    return uuid.uuid4().hex


class Journal:
    """The pending changes of one sheet, in the order they were made."""

    def __init__(self, path: Path, fallback: Path | None = None) -> None:
        self.path = path
        self.fallback = fallback

    @classmethod
    def for_sheet(cls, label: str, config_path: Path | None) -> Journal:
        """The journal of a workbook path, or of a Google Sheet (by its label)."""
        if "://" not in label and Path(label).suffix.lower() in (".xlsx", ".xlsm"):
            workbook = Path(label)
            folder, name = workbook.parent, workbook.name
            identity = str(workbook.resolve())
        else:
            folder = config_path.parent if config_path is not None else Path.cwd()
            name = _safe_name(_google_key(label))
            identity = label
        fallback = _user_state_folder() / f"{name}-{_short_hash(identity)}.pending.jsonl"
        return cls(folder / ".sheetfollow" / f"{name}.pending.jsonl", fallback)

    # -- reading

    def entries(self) -> list[Pending]:
        """Every pending change, oldest first (both places, in the order they were kept)."""
        found: list[Pending] = []
        for path in self._places():
            found.extend(_read(path))
        if self.fallback is not None and self.fallback.exists() and self.path.exists():
            found.sort(key=_moment)  # stable: lines of one second keep their file order
        return found

    def _places(self) -> list[Path]:
        return [p for p in (self.path, self.fallback) if p is not None and p.exists()]

    # -- writing

    def append(self, kind: str, data: Mapping[str, Any], *, change_id: str, at: datetime) -> Path:
        """Keep one change; returns the file it went to. Fsynced before it returns."""
        record = {
            "v": VERSION,
            "id": change_id,
            "kind": kind,
            "at": at.isoformat(timespec="seconds"),
            "user": _user(),
            "host": socket.gethostname(),
            "data": dict(data),
        }
        line = json.dumps(record, ensure_ascii=False, sort_keys=True, default=str)
        errors: list[str] = []
        for path in (self.path, self.fallback):
            if path is None:
                continue
            try:
                _append_line(path, line)
            except OSError as exc:
                errors.append(f"{path}: {exc.strerror or exc}")
                continue
            return path
        raise SheetError(
            "the change could not be kept in the pending journal either (" + "; ".join(errors) + ")"
        )

    def keep_file(self, source: Path, change_id: str) -> Path:
        """A copy of `source` beside the journal, for a change that needs the file later
        (an import); fsynced. Removed once the change is applied."""
        errors: list[str] = []
        for path in (self.path, self.fallback):
            if path is None:
                continue
            target = path.parent / "files" / f"{change_id}-{source.name}"
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
                with open(target, "rb+") as handle:
                    os.fsync(handle.fileno())
            except OSError as exc:
                errors.append(f"{target.parent}: {exc.strerror or exc}")
                continue
            return target
        raise SheetError(f"{source} could not be kept for later (" + "; ".join(errors) + ")")

    def remove(self, ids: Iterable[str]) -> None:
        """Drop the lines of these changes (applied, or discarded by a person)."""
        gone = set(ids)
        if not gone:
            return
        for path in self._places():
            with _locked(path):
                lines = path.read_text(encoding="utf-8").splitlines()
                kept = [line for line in lines if _id_of(line) not in gone]
                if len(kept) == len(lines):
                    continue
                if not any(line.strip() for line in kept):
                    path.unlink()
                    continue
                _replace(path, "".join(line + "\n" for line in kept))


class Tail:
    """The lines of one journal file, read as it grows: each `read` parses only what was
    appended since the last one, so a run that reads its log before every email does not
    read the whole file each time. A file replaced or cut short (`remove` rewrote it) is read
    again from the start."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: tuple[int, int] | None = None  # (device, inode) of what was read
        self._offset = 0

    def read(self) -> tuple[list[Pending], bool]:
        """(the lines added since the last read, whether they start over from the first)."""
        try:
            with open(self.path, "rb") as handle:
                status = os.fstat(handle.fileno())
                same = self._file == (status.st_dev, status.st_ino)
                again = not same or status.st_size < self._offset
                if again:
                    self._offset = 0
                handle.seek(self._offset)
                data = handle.read()
        except FileNotFoundError:
            again, self._file, self._offset = self._file is not None, None, 0
            return [], again
        except OSError as exc:
            raise SheetError(f"the pending journal {self.path} cannot be read ({exc})") from None
        self._file = (status.st_dev, status.st_ino)
        complete = data[: data.rfind(b"\n") + 1]  # a line still being written waits
        self._offset += len(complete)
        try:
            text = complete.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SheetError(f"the pending journal {self.path} cannot be read ({exc})") from None
        lines = [_parse(line, self.path) for line in text.splitlines()]
        return [line for line in lines if line is not None], again


def _moment(item: Pending) -> datetime:
    try:
        when = datetime.fromisoformat(item.at)
    except ValueError:
        return datetime.min.replace(tzinfo=timezone.utc)
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _read(path: Path) -> list[Pending]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise SheetError(f"the pending journal {path} cannot be read ({exc})") from None
    found = []
    for line in text.splitlines():
        item = _parse(line, path)
        if item is not None:
            found.append(item)
    return found


def _parse(line: str, path: Path) -> Pending | None:
    """A line as a Pending; None for a blank line, a line cut short by a crash while it was
    written (its command never said it was kept) or one from a newer version."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict) or record.get("v") != VERSION:
        return None
    data = record.get("data")
    if not isinstance(record.get("id"), str) or not isinstance(data, dict):
        return None
    return Pending(
        id=record["id"],
        kind=str(record.get("kind", "")),
        at=str(record.get("at", "")),
        user=str(record.get("user", "")),
        host=str(record.get("host", "")),
        data=data,
        path=path,
    )


def _id_of(line: str) -> str | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record.get("id") if isinstance(record, dict) else None


def _append_line(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path):
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_BINARY", 0)
        handle = os.open(path, flags, 0o600)
        try:
            size = os.fstat(handle).st_size
            data = (line + "\n").encode("utf-8")
            if size and not _ends_with_newline(path):
                data = b"\n" + data  # a line cut short by a crash stays on its own line
            os.write(handle, data)
            os.fsync(handle)
        finally:
            os.close(handle)
    fsync_folder(path.parent)


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def _replace(path: Path, text: str) -> None:
    remove_stale_temps(path.parent, re.escape(path.name))
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    fsync_folder(path.parent)


@contextlib.contextmanager
def _locked(path: Path) -> Any:
    # Imported here: a command that only reads (due, stats) never takes a lock, and filelock
    # costs more to import than its lock costs to take.
    import filelock

    lock = filelock.FileLock(str(path) + ".lock")
    try:
        lock.acquire(timeout=LOCK_TIMEOUT)
    except filelock.Timeout:
        raise SheetError(f"the pending journal {path} is busy; try again") from None
    try:
        yield
    finally:
        lock.release()


def _user_state_folder() -> Path:
    if os.name == "nt":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "sheetfollow" / "pending"
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "sheetfollow" / "pending"


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


_KEY = re.compile(r"/d/([A-Za-z0-9_-]+)")


def _google_key(label: str) -> str:
    match = _KEY.search(label)
    return match[1] if match else label


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)[:80] or "sheet"


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):
        return ""
