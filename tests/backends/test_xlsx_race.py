"""Another program saving the workbook while sheetfollow writes it, and sheetfollow killed
while it writes: real processes, at random moments.

Each trial compares whole files byte for byte. A write is deterministic (the same change on
the same bytes gives the same bytes), so "ours on top of X" is the result of the same write
done once, on a copy of X, in this process.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import zipfile
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO

import pytest
import xlsxwriter
from python_calamine import CalamineWorkbook
from xlsx_fixtures import PROSPECT_HEADERS, STATUS_COLUMN, prospect_rows

from sheetfollow.backends.xlsx import XlsxBackend
from sheetfollow.errors import BusyError
from sheetfollow.sheet import CellWrite, TabChanges

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGKILL and fork are POSIX")

BUSY = BusyError.exit_code
#: Every fifth prospect's Status: thousands of cells, so a write takes a while.
STEP = 5


def big_workbook(path: Path, rows: int) -> None:
    """A pipeline as Excel saves one: shared strings, an Excel Table over the prospects,
    COUNTIF formulas on a summary tab, and no element at all for an empty cell."""
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Prospects")
    summary = book.add_worksheet("Summary")
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    for r, values in enumerate(prospect_rows(rows)[1:], start=1):
        for c, value in enumerate(values):
            if isinstance(value, date):
                sheet.write_datetime(r, c, datetime(value.year, value.month, value.day), day)
            elif value is not None:
                sheet.write(r, c, value)
    columns = [{"header": header} for header in PROSPECT_HEADERS]
    sheet.add_table(0, 0, rows, len(PROSPECT_HEADERS) - 1, {"name": "Pipeline", "columns": columns})
    for r, word in enumerate(["new", "due", "overdue", "dead"], start=1):
        summary.write(r, 0, word)
        summary.write_formula(r, 1, f"=COUNTIF(Prospects!L:L,A{r + 1})", None, 0)
    book.close()


def changes(rows: int, value: str) -> list[TabChanges]:
    cells = [CellWrite(row, STATUS_COLUMN, value) for row in range(2, rows + 2, STEP)]
    return [TabChanges("Prospects", cells=cells)]


def written(data: bytes, rows: int, value: str, scratch: Path) -> bytes:
    """What a write of `value` does to a workbook holding `data`, done here on a copy."""
    return changed(data, changes(rows, value), scratch)


def changed(data: bytes, change: list[TabChanges], scratch: Path) -> bytes:
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    copy = scratch / "pipeline.xlsx"
    copy.write_bytes(data)
    XlsxBackend(copy, backups=0).write(change)
    return copy.read_bytes()


def temporary_files(folder: Path) -> list[Path]:
    return sorted(folder.glob(".pipeline.xlsx.*.tmp"))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


class Lines:
    """Each line a process prints, with the moment it arrived (read by a thread, so that a
    test can wait for a line and keep time)."""

    def __init__(self, stream: IO[str] | None) -> None:
        assert stream is not None
        self.stream = stream
        self.queue: queue.Queue[tuple[float, str]] = queue.Queue()
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    def _pump(self) -> None:
        with self.stream:
            for line in self.stream:
                self.queue.put((time.monotonic(), line.strip()))
        self.queue.put((time.monotonic(), "<eof>"))

    def get(self, timeout: float = 120) -> tuple[float, str]:
        return self.queue.get(timeout=timeout)

    def close(self) -> None:
        self.thread.join(timeout=30)


# --------------------------------------------------------------------------- another writer

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from sheetfollow.backends import xlsx
    from sheetfollow.sheet import CellWrite, TabChanges
    from sheetfollow.errors import BusyError

    path, value, rows, step, column, exchange = sys.argv[1:]
    if exchange == "no":
        xlsx._renameat2 = lambda: None  # as on a system without renameat2
    backend = xlsx.XlsxBackend(Path(path))
    backend.read_tab("Prospects")
    print("read", flush=True)
    cells = [CellWrite(r, int(column), value) for r in range(2, int(rows) + 2, int(step))]
    try:
        backend.write([TabChanges("Prospects", cells=cells)])
    except BusyError as exc:
        print(exc, file=sys.stderr)
        sys.exit(exc.exit_code)
    """
)


@pytest.fixture(autouse=True)
def _small_pieces() -> None:
    """The writes compared here are made in child processes and in this one: both pack the
    parts as a user's run does (not in the small pieces conftest.py makes in-process)."""


RACE_ROWS = 30_000
MIN_TRIALS, MAX_TRIALS, TRIALS_BUDGET = 6, 16, 25.0
LOST_MESSAGES = (
    "was saved by someone else while sheetfollow worked; nothing was overwritten",
    "changed on disk since it was read; run again",
)


def finish(child: subprocess.Popen[str], events: Lines) -> tuple[int, str]:
    """The exit code and the error output of a writer, once it has ended."""
    code = child.wait(timeout=120)
    assert child.stderr is not None
    with child.stderr:
        error = child.stderr.read()
    events.close()
    return code, error


def save_as_another_program(path: Path, data: bytes) -> None:
    """A save as Excel or a sync client does it: a new file, renamed over the workbook."""
    temp = path.with_name("~other-program.tmp")
    temp.write_bytes(data)
    os.replace(temp, path)


def test_a_save_by_another_program_during_a_write_is_never_lost(tmp_path: Path) -> None:
    share, scratch = tmp_path / "share", tmp_path / "scratch"
    share.mkdir()
    path = share / "pipeline.xlsx"
    big_workbook(path, RACE_ROWS)
    ours_before = path.read_bytes()
    # Another program's save: a colleague renamed a company, in a row sheetfollow leaves.
    renamed = [TabChanges("Prospects", cells=[CellWrite(3, 2, "Renamed by a colleague")])]
    theirs = changed(ours_before, renamed, scratch)
    ours_on = {sha(ours_before): written(ours_before, RACE_ROWS, "due", scratch)}

    def run(exchange: str) -> subprocess.Popen[str]:
        args = [str(path), "due", str(RACE_ROWS), str(STEP), str(STATUS_COLUMN), exchange]
        return subprocess.Popen(
            [sys.executable, "-c", WRITER, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    # Undisturbed, the write is exactly the reference, and its timing is measured.
    started = time.monotonic()
    child = run("yes")
    events = Lines(child.stdout)
    read_at, line = events.get()
    assert line == "read"
    assert finish(child, events) == (0, "")
    reading, writing = read_at - started, time.monotonic() - read_at
    assert path.read_bytes() == ours_on[sha(ours_before)]

    rng = random.Random(20260311)
    outcomes: list[str] = []
    began = time.monotonic()
    while len(outcomes) < MAX_TRIALS and (
        len(outcomes) < MIN_TRIALS or time.monotonic() - began < TRIALS_BUDGET
    ):
        trial = len(outcomes)
        path.write_bytes(ours_before)
        exchange = "no" if trial % 2 else "yes"
        started = time.monotonic()
        child = run(exchange)
        events = Lines(child.stdout)
        if trial % 4 == 3:  # sometimes before sheetfollow has read the file
            moment = started + rng.uniform(0, reading)
        else:
            read_at, line = events.get()
            assert line == "read", finish(child, events)
            moment = read_at + rng.uniform(0, writing * 1.2)
        time.sleep(max(0.0, moment - time.monotonic()))
        save_as_another_program(path, theirs)
        code, error = finish(child, events)
        final = path.read_bytes()

        lost = sha(final) == sha(ours_on[sha(ours_before)])
        assert not lost, f"trial {trial}: the other program's save was overwritten"
        assert code in (0, BUSY), error
        if code == BUSY:
            assert sha(final) == sha(theirs), f"trial {trial}: refused, yet the file changed"
            assert error.count("\n") == 1 and error.rstrip("\n").endswith(LOST_MESSAGES), error
            outcomes.append("refused")
        elif final == theirs:
            outcomes.append("theirs came after ours")
        else:
            # Saved before sheetfollow read it: ours must be on top of exactly their bytes.
            if sha(theirs) not in ours_on:
                ours_on[sha(theirs)] = written(theirs, RACE_ROWS, "due", scratch)
            on_theirs = sha(final) == sha(ours_on[sha(theirs)])
            assert on_theirs, f"trial {trial}: ours on top of something else"
            outcomes.append("ours on theirs")
        assert temporary_files(share) == [], f"trial {trial}"

    assert len(outcomes) >= MIN_TRIALS
    assert "refused" in outcomes, outcomes


# --------------------------------------------------------------------------- kills

#: Forks one writer per request from a process that has imported everything once, so a
#: hundred kills fit in a minute. Each writer is a real process, killed with SIGKILL.
ZYGOTE = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from sheetfollow.sheet import CellWrite, TabChanges
    from sheetfollow.backends.xlsx import XlsxBackend
    from sheetfollow.errors import BusyError

    def write(path, value, rows, step, column):
        backend = XlsxBackend(Path(path))
        backend.read_tab("Prospects")
        print("read", flush=True)
        cells = [CellWrite(r, column, value) for r in range(2, rows + 2, step)]
        try:
            backend.write([TabChanges("Prospects", cells=cells)])
        except BusyError as exc:
            print("busy", exc, flush=True)
            return exc.exit_code
        return 0

    for request in sys.stdin:
        path, value, rows, step, column = request.split()
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = write(path, value, int(rows), int(step), int(column))
            finally:
                os._exit(code)
        print("started", pid, flush=True)
        _, status = os.waitpid(pid, 0)
        print("exit", os.waitstatus_to_exitcode(status), flush=True)
    """
)

KILL_ROWS = 3000
KILLS = 100
FULL_WRITE_EVERY = 8


class Writers:
    """One writing process per call, started by the zygote."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.zygote = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.events = Lines(self.zygote.stdout)

    def start(self, value: str) -> tuple[int, float]:
        """Start a write; (its pid, when it had read the workbook)."""
        assert self.zygote.stdin is not None
        self.zygote.stdin.write(f"{self.path} {value} {KILL_ROWS} {STEP} {STATUS_COLUMN}\n")
        pid, read_at = 0, 0.0
        while not (pid and read_at):
            moment, line = self.events.get(timeout=60)
            if line.startswith("started "):
                pid = int(line.split()[1])
            elif line == "read":
                read_at = moment
            else:
                raise AssertionError(f"the writer stopped before reading: {line}")
        return pid, read_at

    def result(self) -> tuple[int, float]:
        """The exit code of the last write (-9 when killed), and when it ended."""
        while True:
            moment, line = self.events.get(timeout=60)
            if line.startswith("exit "):
                return int(line.split()[1]), moment
            raise AssertionError(f"the writer said: {line}")

    def close(self) -> None:
        assert self.zygote.stdin is not None
        self.zygote.stdin.close()
        self.zygote.wait(timeout=30)
        self.events.close()


@pytest.fixture
def writers(tmp_path: Path) -> Iterator[Writers]:
    (tmp_path / "share").mkdir()
    started = Writers(tmp_path / "share" / "pipeline.xlsx")
    try:
        yield started
    finally:
        started.close()


def status_of(path: Path) -> object:
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Prospects").to_python()
    assert len(rows) == KILL_ROWS + 1
    return rows[1][STATUS_COLUMN - 1]


@pytest.mark.slow
def test_a_write_killed_at_any_moment_leaves_the_old_or_the_new_workbook(
    tmp_path: Path, writers: Writers
) -> None:
    path, scratch = writers.path, tmp_path / "scratch"
    share, backups = path.parent, path.parent / ".sheetfollow" / "backups"
    big_workbook(path, KILL_ROWS)
    references: dict[tuple[str, str], bytes] = {}

    def new_version(old: bytes, value: str) -> bytes:
        key = (sha(old), value)
        if key not in references:
            references[key] = written(old, KILL_ROWS, value, scratch)
        return references[key]

    # One undisturbed write: it is the reference, and its length sets the kill moments.
    old = path.read_bytes()
    writers.start("kill-a")
    code, ended = writers.result()
    pid, read_at = writers.start("kill-b")
    code, ended = writers.result()
    assert code == 0
    writing = ended - read_at
    assert path.read_bytes() == new_version(new_version(old, "kill-a"), "kill-b")

    # The kill moment is drawn within a window that starts at the measured length of a
    # write and shrinks whenever a write ends before its kill (a busy machine makes one
    # measurement a poor guide), so the test neither depends on timing nor loops for long.
    rng = random.Random(11)
    kills = attempts = 0
    window = writing
    current = status_of(path)
    while kills < KILLS:
        attempts += 1
        assert attempts < KILLS * 4, "most writes ended before their kill"
        old = path.read_bytes()
        value = "kill-b" if current == "kill-a" else "kill-a"
        pid, read_at = writers.start(value)
        aimed = bool(attempts % FULL_WRITE_EVERY)
        if aimed:
            time.sleep(max(0.0, read_at + rng.uniform(0, window) - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):  # it may have finished
                os.kill(pid, signal.SIGKILL)
        code, ended = writers.result()
        assert code in (0, -signal.SIGKILL), f"attempt {attempts}: exit {code}"
        kills += code == -signal.SIGKILL
        if code == 0:
            window = min(window, ended - read_at) * (0.8 if aimed else 1.0)

        now = path.read_bytes()
        new = new_version(old, value)
        state = {sha(old): "old", sha(new): "new"}.get(sha(now), "neither")
        assert state in ("old", "new"), f"attempt {attempts}: neither the old nor the new file"
        if code == 0:
            assert state == "new", f"attempt {attempts}: a write that ended wrote something else"
        with zipfile.ZipFile(path) as package:
            assert package.testzip() is None
        current = status_of(path)
        assert current == (value if state == "new" else "kill-b" if value == "kill-a" else "kill-a")

    # What the kills left behind is removed by a write once it is an hour old; nothing else.
    left = temporary_files(share) + temporary_files(backups)
    assert left, "no kill landed while a temporary file existed"
    two_hours_ago = (datetime.now() - timedelta(hours=2)).timestamp()
    for leftover in left:
        os.utime(leftover, (two_hours_ago, two_hours_ago))
    fresh = share / ".pipeline.xlsx.fresh_01.tmp"
    fresh.write_bytes(b"a run that was killed a minute ago")
    others = [
        share / name
        for name in (
            ".pipeline.xlsx.tmp",
            ".pipeline.xlsx.ABCDEFGH.tmp",
            ".pipeline.xlsx.abcdefgh.tmp.keep",
            ".other.xlsx.abcdefgh.tmp",
            "pipeline.xlsx.abcdefgh.tmp",
        )
    ]
    for other in others:
        other.write_bytes(b"not ours")
        os.utime(other, (two_hours_ago, two_hours_ago))

    old = path.read_bytes()
    value = "kill-b" if current == "kill-a" else "kill-a"
    writers.start(value)
    assert writers.result()[0] == 0
    assert path.read_bytes() == new_version(old, value)
    assert not any(leftover.exists() for leftover in left)
    assert fresh.exists() and all(other.exists() for other in others)
