"""The run log: every command appends what it read, changed, sent and skipped, and why, to a
rotating text file, so that "why did I get no list on Tuesday?" has an answer afterwards.

Where: `log_file` in sheetfollow.toml; else `.sheetfollow/<workbook>.log` beside the workbook
(for a Google Sheet, beside sheetfollow.toml), once that folder exists (sheetfollow makes it
at its first write: a command on a sheet that is not there leaves no folder behind); else,
and when that cannot be written, this user's log folder. Until the place is known, the
lines wait in memory.

One line per record, each tagged with the run it belongs to:

    2026-12-05T07:00:01+01:00 3f2a9c INFO start: run -q (anna@sales-pc, sheetfollow 0.1.0, pid 42)
    2026-12-05T07:00:02+01:00 3f2a9c INFO end: run, exit 0 in 1.20 s

The log holds what the commands print (people's names, companies, notes: the workbook's own
content) and never a secret: passwords and keys never reach a message in the first place.
A log that cannot be written never fails a command.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import logging
import logging.handlers
import os
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from sheetfollow import __version__
from sheetfollow.text import printable

#: Rotated at this size, keeping this many older files (<name>.log.1 ... .5): a year of
#: nightly runs of a team of twenty fits in the newest two.
MAX_BYTES = 1 << 20
BACKUPS = 5

_LOGGER = "sheetfollow.run"
_LINE = re.compile(r"(\S+) ([0-9a-f]{6}) (DEBUG|INFO|WARNING|ERROR) (.*)")
#: Records that are also printed: -v shows only the others on stderr.
_SHOWN = "sheetfollow_shown"


def log_name(sheet: str) -> str:
    """The file name of a sheet's log: "pipeline.xlsx.log", or the Google Sheet's key."""
    if "://" not in sheet and Path(sheet).suffix.lower() in (".xlsx", ".xlsm"):
        return Path(sheet).name + ".log"
    found = re.search(r"/d/([A-Za-z0-9_-]+)", sheet)
    key = found[1] if found else sheet
    return (re.sub(r"[^A-Za-z0-9_.-]", "_", key)[:80] or "sheet") + ".log"


def beside(sheet: str, config_path: Path | None) -> Path:
    """The log file in the .sheetfollow folder of a sheet (the journal's folder)."""
    if "://" not in sheet and Path(sheet).suffix.lower() in (".xlsx", ".xlsm"):
        folder = Path(sheet).resolve().parent
    else:
        folder = config_path.parent if config_path is not None else Path.cwd()
    return folder / ".sheetfollow" / log_name(sheet)


def log_path(sheet: str | None, config_file: Path | None, log_file: str = "") -> Path | None:
    """The log of a sheet: `log_file` from the config, else beside the sheet."""
    if log_file:
        return Path(log_file)
    return beside(sheet, config_file) if sheet else None


def user_log_folder() -> Path:
    """This user's own log folder: $XDG_STATE_HOME/sheetfollow/log (Linux),
    %LOCALAPPDATA%\\sheetfollow\\Logs (Windows), ~/Library/Logs/sheetfollow (macOS)."""
    from platformdirs import user_log_dir

    return Path(user_log_dir("sheetfollow", appauthor=False))


def fallback(sheet: str | None) -> Path:
    """Where a run's lines go when they cannot go beside the sheet, or there is no sheet."""
    if not sheet:
        return user_log_folder() / "sheetfollow.log"
    identity = sheet if "://" in sheet else str(Path(sheet).resolve())
    digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:12]
    return user_log_folder() / f"{log_name(sheet)[:-4]}-{digest}.log"


class _File(logging.handlers.RotatingFileHandler):
    """A log file that never interrupts a command: a full disk, a share gone read-only or a
    rotation another process got to first lose log lines, not the run."""

    def handleError(self, record: logging.LogRecord) -> None:
        pass


class _Format(logging.Formatter):
    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created).astimezone().isoformat("T", "seconds")
        text = printable(record.getMessage())  # one line: a note with a line break stays one
        return f"{moment} {self.run_id} {record.levelname} {text}"


class _Detail(logging.Filter):
    """-v: the records that were not printed already."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, _SHOWN, False)


@dataclass
class Session:
    """One command's lines: kept in memory until their file is known, then appended."""

    argv: Sequence[str]
    run_id: str = field(default_factory=lambda: os.urandom(3).hex())
    started: float = field(default_factory=time.monotonic)
    #: The command reads the log or the config: it does not add a run of its own.
    silent: bool = False
    #: Its name, once known ("run", "mark").
    command: str = ""
    file: Path | None = None
    _waiting: list[logging.LogRecord] = field(default_factory=list)
    _handler: logging.Handler | None = None
    _stderr: logging.Handler | None = None
    _sheet: str | None = None
    _wanted: Path | None = None
    _tried: bool = False

    def __post_init__(self) -> None:
        self.logger = logging.getLogger(f"{_LOGGER}.{self.run_id}")
        self.logger.propagate = False
        self.logger.setLevel(logging.DEBUG)
        self.logger.addHandler(_Keep(self._waiting))
        user, host = _user(), _host()
        shown = " ".join(_quote(arg) for arg in self.argv) or "(no command)"
        self.info(f"start: {shown} ({user}@{host}, sheetfollow {__version__}, pid {os.getpid()})")

    # -- what a run says

    def info(self, text: str, *, shown: bool = False) -> None:
        self._arrived()
        self.logger.info(text, extra={_SHOWN: shown})

    def _arrived(self) -> None:
        """The .sheetfollow folder appeared (the command's first write made it): the lines
        held so far go there, and the next ones straight after them."""
        wanted = self._wanted
        if (
            self._handler is None
            and not self._tried
            and not self.silent
            and wanted is not None
            and wanted.parent.is_dir()
        ):
            self._tried = True  # once: a log that cannot be opened is not retried per line
            self._open(wanted)

    def detail(self, text: str) -> None:
        self.logger.debug(text, extra={_SHOWN: False})

    def warning(self, text: str, *, shown: bool = True) -> None:
        self.logger.warning(text, extra={_SHOWN: shown})

    def error(self, text: str, *, shown: bool = True) -> None:
        self.logger.error(text, extra={_SHOWN: shown})

    def verbose(self, stream: TextIO) -> None:
        """-v: the details no other output shows, on `stream` (stderr), as they come."""
        if self._stderr is None:
            handler = logging.StreamHandler(stream)
            handler.setFormatter(logging.Formatter("%(message)s"))
            handler.addFilter(_Detail())
            self._stderr = handler
            self.logger.addHandler(handler)
            for record in self._waiting:
                if handler.filter(record):
                    handler.handle(record)

    # -- where it goes

    def place(self, sheet: str | None, config_file: Path | None, log_file: str = "") -> None:
        """The sheet is known: the lines go to `log_file`, or beside the sheet once the
        .sheetfollow folder is there (now, or by the end of the command)."""
        if self._handler is not None:
            return
        self._sheet = sheet
        self._wanted = log_path(sheet, config_file, log_file)
        if self.silent:
            return
        if self._wanted is not None and (log_file or self._wanted.parent.is_dir()):
            self._open(self._wanted)

    @property
    def where(self) -> Path | None:
        """The file the lines go to, or will go to once the .sheetfollow folder is made."""
        return self.file or self._wanted

    def _open(self, wanted: Path) -> None:
        for candidate in (wanted, fallback(self._sheet)):
            try:
                candidate.parent.mkdir(parents=True, exist_ok=True)
                handler = _File(
                    candidate, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
                )
            except OSError:
                continue
            handler.setFormatter(_Format(self.run_id))
            for record in self._waiting:
                handler.handle(record)
            self._waiting.clear()
            self.logger.handlers = [h for h in self.logger.handlers if not isinstance(h, _Keep)]
            self.logger.addHandler(handler)
            self._handler, self.file = handler, candidate
            return

    def end(self, code: int, *, usage: bool = False) -> None:
        """The command is done: its exit code and time, and the file is closed. A command
        line that was not understood (exit 2, --help) is no run, and is not logged."""
        seconds = time.monotonic() - self.started
        name = f"{self.command}, " if self.command else ""
        self.info(f"end: {name}exit {code} in {seconds:.2f} s")
        if self._handler is None and not self.silent and not usage:
            if self._wanted is not None and self._wanted.parent.is_dir():
                self._open(self._wanted)
            else:
                # No .sheetfollow folder beside the sheet (never written, or no sheet at
                # all): the user's own log keeps the run, for the person who asks tomorrow.
                self._open(fallback(self._sheet))
        self.close()

    def close(self) -> None:
        for handler in list(self.logger.handlers):
            self.logger.removeHandler(handler)
            handler.close()
        self._handler = self._stderr = None


class _Keep(logging.Handler):
    """Holds the records until their file is known."""

    def __init__(self, into: list[logging.LogRecord]) -> None:
        super().__init__(logging.DEBUG)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record)


def _host() -> str:
    """This machine's name, as gethostname gives it (the socket module, slower to load, only
    where os.uname is missing: Windows)."""
    uname = getattr(os, "uname", None)
    if uname is not None:
        return str(uname().nodename)
    import socket

    return socket.gethostname()


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):
        return "?"


def _quote(arg: str) -> str:
    return arg if arg and not re.search(r"[\s'\"\\]", arg) else repr(arg)


# --- Reading it back ------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    moment: str
    level: str
    text: str


@dataclass
class Run:
    """One command as the log remembers it."""

    run_id: str
    started: str
    #: The command line as given, and the command's name.
    command: str = ""
    name: str = ""
    code: int | None = None
    seconds: float | None = None
    lines: list[Line] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """The line that says most about the run: its first error, else its last report."""
        for line in self.lines:
            if line.level == "ERROR":
                return line.text
        said = [
            line.text
            for line in self.lines
            if line.level in ("INFO", "WARNING") and not line.text.startswith(("start:", "end:"))
        ]
        return said[-1].strip() if said else ""

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.run_id,
            "started": self.started,
            "command": self.name,
            "argv": self.command,
            "exit_code": self.code,
            "seconds": self.seconds,
            "verdict": self.verdict,
            "lines": [{"at": x.moment, "level": x.level, "text": x.text} for x in self.lines],
        }


_START = re.compile(r"start: (.*) \(([^()]*), sheetfollow [^()]*\)$")
_END = re.compile(r"end: (?:([\w-]+), )?exit (\d+) in ([0-9.]+) s$")


def files(path: Path) -> list[Path]:
    """A log and its rotated copies, oldest first."""
    older = [path.with_name(f"{path.name}.{n}") for n in range(BACKUPS, 0, -1)]
    return [p for p in (*older, path) if p.is_file()]


def read_runs(paths: Iterable[Path]) -> list[Run]:
    """The runs in these log files, oldest first (runs of several files merged by time)."""
    runs: dict[str, Run] = {}
    for path in paths:
        for text in _lines(path):
            found = _LINE.fullmatch(text)
            if not found:
                continue
            moment, run_id, level, message = found.groups()
            run = runs.get(run_id)
            if run is None:
                run = runs[run_id] = Run(run_id, moment)
            run.lines.append(Line(moment, level, message))
            start, end = _START.fullmatch(message), _END.fullmatch(message)
            if start:
                run.command = start[1]
            elif end:
                run.name = end[1] or run.name
                run.code, run.seconds = int(end[2]), float(end[3])
    return sorted(runs.values(), key=lambda run: _when(run.started))


def _when(moment: str) -> float:
    with contextlib.suppress(ValueError):
        return datetime.fromisoformat(moment).timestamp()
    return 0.0


def _lines(path: Path) -> Iterator[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                yield line.rstrip("\n")
    except OSError:
        return


def table(runs: Sequence[Run], width: int) -> list[str]:
    """The runs as lines of at most `width` characters: when, exit code, command, verdict."""
    rows = []
    for run in runs:
        when = run.started[:16].replace("T", " ")
        code = "?" if run.code is None else str(run.code)
        command = run.name or "?"
        rows.append((when, code, command, run.verdict or "-"))
    widest = max((len(row[2]) for row in rows), default=7)
    out = []
    for when, code, command, verdict in rows:
        line = f"{when}  {code:>4}  {command:<{widest}}  {verdict}"
        out.append(line if len(line) <= width else line[: max(width - 3, 0)] + "...")
    return out


def as_records(runs: Iterable[Run]) -> list[dict[str, Any]]:
    return [run.as_dict() for run in runs]
