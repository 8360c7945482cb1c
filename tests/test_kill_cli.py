"""`refresh`, `mark`, `import` and `run` killed with SIGKILL at random moments, two hundred
times and more, as real processes, on a pipeline of a thousand prospects made as Excel makes
files: what they leave is always the old workbook or the new one, the next command succeeds,
and no email is lost or sent twice.

The commands go through the real command line: a zygote process imports sheetfollow once
and forks one child per command, which calls the Typer app with the command's arguments, so
that a killed command costs a fork rather than a Python start-up. The zygote reaps a child
only when the test says so, so the process killed is always the command's. A kill is aimed
at a random moment of the command, drawn within a window that starts at the measured length
of the command undisturbed and shrinks whenever one ends before its kill (and grows back
slowly while kills land, so the test neither depends on the machine's speed nor loops for
long); or at a random moment of its write, drawn the same way from the moment our temporary
file appears beside the workbook; or at the moment the workbook is replaced, which cuts off
what the command does after its write (clearing the journal, noting what was sent); for a
run, also the moment an email is in the outbox.

The test works through business days. Each day: a refresh, a mark, an import and a run, until
each command has its share of the kills; every fourth day starts with a mark while Excel
holds the workbook, which goes to the pending journal (killed, too, at a random moment or the
moment its change is kept) for the next command to apply. A command killed before its write
is started again, as a person would; one killed after it is not. At most two kills come in a
row; then a command runs to its end. After every attempt:

- the workbook is exactly the file before the command, or the command's complete result. A
  killed refresh left the very bytes the same refresh makes of a copy (a refresh is
  deterministic); a killed run, the same tabs and the records of the emails. As mark, import
  and run stamp times and change IDs, the rest is checked by content: the zip is sound and
  opens (with openpyxl too, after a kill), and every cell is as before except where the
  command's change, and the changes it takes from the pending journal, are there entirely: a
  touch's row cells, its one Log row and its one snapshot row with the change's ID; all
  imported rows, each with its Log and snapshot row; a run's records, one per email sent;
- a change kept in the pending journal is applied once: never a second Log row, never an
  attempt counted twice; once a command has run to its end, the journal is empty;
- a command that ends by itself exits 0 (10: a mark while Excel holds the workbook), and one
  that is killed had said nothing wrong until then;
- nothing is left beside the workbook but our temporary files, and no copy of an import file;
- an outbox file, once written, is never written again; at the end of each day every owner
  with calls due, and the manager, has exactly one email, recorded once in the workbook.

At the end a refresh removes the temporary files the kills left (once they are an hour old)
and succeeds, `check` finds the workbook sound, and openpyxl reads it whole.
"""

from __future__ import annotations

import contextlib
import email.policy
import email.utils
import hashlib
import io
import json
import os
import queue
import random
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import IO, Any

import openpyxl
import pytest
import xlsxwriter
from backends.test_xlsx_locks import excel_owner_file
from python_calamine import CalamineWorkbook

from sheetfollow import service, vocab
from sheetfollow.calendar import day_off_for
from sheetfollow.config import CalendarConfig, load_config
from sheetfollow.models import Outcome

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGKILL and fork are POSIX")

#: Prospects in the workbook (and rows in its snapshot tab). A write of it takes some 50 ms,
#: a command 0.1 to 0.3 s (without Python's start-up); it all grows with the rows, and with
#: twice as many the test takes twice as long, past a minute and a half on a busy machine.
ROWS = 1000
COMMANDS = ("refresh", "mark", "import", "run")
#: Kills that landed (the command died of SIGKILL), at least, per command and in all; a
#: command is aimed at until it has its share.
KILLS_EACH, KILLS = 40, 200
QUOTA = KILLS // len(COMMANDS)
#: Of them, at least this many in the middle of a write (our temporary file left behind).
IN_WRITE = 25
#: At most this many kills in a row; then a command runs undisturbed.
CHAIN = 2
#: Every this many days, the day starts with a mark while Excel holds the workbook.
HELD_EVERY = 4
#: New prospects in each day's import file.
IMPORTED = 3
#: A guard: so many days without enough kills means most commands ended before their kill.
MAX_DAYS = 150
#: How kills are aimed: at a random moment of the command, at a random moment of its write
#: (after our temporary file appears), or the moment the workbook is replaced; by weight. A
#: command that has pending changes to apply is cut more often right after its write (before
#: it clears the journal); a mark while Excel holds the workbook, at a random moment or the
#: moment its change is in the pending journal.
MODES = {"anywhere": 12, "write": 6, "replaced": 2}
#: A run is also cut the moment an email is in the outbox (before it noted that it sent it).
RUN_MODES = {"anywhere": 10, "write": 4, "replaced": 2, "emailed": 4}
PENDING_MODES = {"anywhere": 1, "write": 1, "replaced": 2}
HELD_MODES = {"anywhere": 1, "kept": 1}
#: Seconds between two looks at a command that is to be killed.
POLL = 0.001
#: How the kill windows shrink when a command ends first, and grow while kills land.
SHRINK, GROW = 0.9, 1.05
FIRST_DAY = date(2026, 3, 2)  # a Monday

OWNERS = (
    ("Anna", "anna@example.com"),
    ("Bob", "bob@example.com"),
    ("Chloé", "chloe@example.com"),
    ("Dirk", "dirk@example.com"),
)
MANAGER = "boss@example.com"
CONFIG = f"""\
sheet = "pipeline.xlsx"
timezone = "Europe/Amsterdam"
language = "en"

[calendar]
country = "NL"

[email]
manager = "{MANAGER}"
"""
HEADERS = [
    vocab.PROSPECT_HEADERS["en"][name]
    for name in (
        "id", "company", "contact", "email", "phone", "owner", "stage", "segment", "value",
        "created", "last_contact", "last_outcome", "attempts", "follow_up_on", "channel",
        "notes", "next_follow_up", "status", "step", "why", "assigned_to",
    )
]  # fmt: skip
#: The columns sheetfollow owns, and the ones a touch writes.
OWNED = ("Next follow-up", "Status", "Step", "Why", "Assigned to")
TOUCH_COLUMNS = ("Last contact", "Last outcome", "Attempts", "Stage", "Follow up on", "Channel")
TOUCHES, STATE = "sheetfollow_touches", "sheetfollow_state"
#: Statuses whose Next follow-up is a call to make (Status.actionable).
NOT_ACTIONABLE = ("dead", "not interested", "needs attention")
#: Outcomes the day's marks record, in turn.
MARKED = (Outcome.NO_ANSWER, Outcome.REACHED, Outcome.VOICEMAIL, Outcome.INTERESTED)
ANSWERED = (Outcome.REACHED, Outcome.INTERESTED, Outcome.CALL_BACK, Outcome.QUOTE_SENT)
CHANGE_ID = re.compile(r"[0-9a-f]{32}")

#: What may lie beside the workbook: ours, and what killed writes leave (`tempfile`'s names).
BESIDE = re.compile(r"pipeline\.xlsx|sheetfollow\.toml|\.sheetfollow|\.pipeline\.xlsx\.\w{8}\.tmp")
OUR_TEMP = re.compile(r"\.pipeline\.xlsx\.\w{8}\.tmp")
SIDE = re.compile(
    r"pipeline\.xlsx\.(lock|notify\.lock|(sends|pending)\.jsonl(\.lock)?|log(\.\d)?)"
    r"|\.pipeline\.xlsx\.(sends|pending)\.jsonl\.\w{8}\.tmp|backups|files"
    # The parse cache (backends/_tabcache.py) with the tables of the pieces big parts are
    # packed in (backends/_segments.py), and a killed store's temp.
    r"|pipeline\.xlsx\.[0-9a-f]{16}\.(grid|seg)"
    r"|\.pipeline\.xlsx\.[0-9a-f]{16}\.(grid|seg)\.\w{8}\.tmp"
)
BACKUP = re.compile(r"pipeline\.\d{8}-\d{6}-\d{6}\.xlsx|\.pipeline\.xlsx\.\w{8}\.tmp")
EML = re.compile(r"(\d{4}-\d\d-\d\d)-(owner|digest)-[a-z0-9-]+\.eml")
EML_TEMP = re.compile(r"\.\d{4}-\d\d-\d\d-(owner|digest)-[a-z0-9-]+\.eml\.\w{8}\.tmp")


# --------------------------------------------------------------------------- the workbook


@pytest.fixture(autouse=True)
def _small_pieces() -> None:
    """The refresh a killed one is compared with is made in this process: it packs the
    parts as the commands' processes do (not in the small pieces conftest.py makes)."""


def pipeline(path: Path, rows: int) -> None:
    """A pipeline as Excel saves one (shared strings, an Excel Table over the prospects, no
    element for an empty cell): a few new leads and unanswered calls due, a fifth snoozed
    until a day of the coming months (so each day brings calls due), the rest said no."""
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Prospects")
    day = book.add_format({"num_format": "yyyy-mm-dd"})

    def put(r: int, name: str, value: object) -> None:
        column = HEADERS.index(name)
        if isinstance(value, date):
            sheet.write_datetime(r, column, datetime(value.year, value.month, value.day), day)
        elif isinstance(value, (int, float)):
            sheet.write_number(r, column, value)
        else:
            sheet.write_string(r, column, str(value))

    for n in range(1, rows + 1):
        owner = OWNERS[n % len(OWNERS)][0]
        cells: dict[str, object] = {
            "ID": f"P-{n:05d}",
            "Company": f"Company {n} B.V.",
            "Contact": f"Contact {n}",
            "Email": f"c{n}@example.com",
            "Phone": f"+31 20 {n:07d}",
            "Owner": owner,
            "Segment": ("retail", "capital goods", "services")[n % 3],
            "Value": 1000 + (n * 37) % 50_000,
            "Created": FIRST_DAY - timedelta(days=20 + n % 40),
        }
        kind = n % 50
        if kind < 2:
            cells["Stage"] = "New"
        elif kind < 5:
            cells.update(
                {
                    "Stage": "Contacted",
                    "Last contact": FIRST_DAY - timedelta(days=1 + n % 9),
                    "Last outcome": "No answer",
                    "Attempts": 1 + n % 3,
                }
            )
        elif kind < 15:
            cells.update(
                {
                    "Stage": "Interested",
                    "Last contact": FIRST_DAY - timedelta(days=10),
                    "Last outcome": "Reached",
                    "Attempts": 0,
                    "Follow up on": FIRST_DAY + timedelta(days=1 + n % 150),
                }
            )
        else:
            said = "Not interested" if n % 2 else "Lost"
            cells.update(
                {
                    "Stage": said,
                    "Last contact": FIRST_DAY - timedelta(days=30),
                    "Last outcome": said,
                }
            )
        if n % 7 == 0:
            cells["Notes"] = f"note {n}"
        for name, value in cells.items():
            put(n, name, value)
    columns = [{"header": header} for header in HEADERS]
    sheet.add_table(0, 0, rows, len(HEADERS) - 1, {"name": "Pipeline", "columns": columns})
    owners = book.add_worksheet("Owners")
    lines = [("Owner", "Email", "Language", "Country")]
    lines += [(name, address, "en", "NL") for name, address in OWNERS]
    for r, line in enumerate(lines):
        for c, text in enumerate(line):
            owners.write_string(r, c, text)
    log = book.add_worksheet("Log")
    for c, header in enumerate(vocab.LOG_HEADERS["en"].values()):
        log.write_string(0, c, header)
    book.close()


def leads(path: Path, day: int) -> tuple[str, ...]:
    """An import file of new prospects; their companies."""
    companies = tuple(f"Kill Import {day}-{n} Ltd" for n in range(1, IMPORTED + 1))
    lines = ["Company,Contact,Email,Phone"]
    for n, company in enumerate(companies, start=1):
        phone = f"+31 30 {day:03d}{n:04d}"
        lines.append(f"{company},Lead {day}-{n},lead{day}.{n}@leads.example,{phone}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return companies


def business_days(after: date) -> Iterator[date]:
    """The team's working days after `after` (no weekend, no Dutch public holiday): on a
    day off nobody gets an email, so a day's emails are checked on working days only."""
    team = CalendarConfig(country="NL")
    day = after
    while True:
        day += timedelta(days=1)
        if day_off_for(team, day) is None:
            yield day


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


# --------------------------------------------------------------------------- reading it


@dataclass(frozen=True)
class Book:
    """The workbook's bytes, and every tab's values as python-calamine reads them."""

    data: bytes
    tabs: dict[str, list[list[Any]]]
    _records: dict[str, list[dict[str, Any]]] = field(default_factory=dict, compare=False)

    def tab(self, name: str) -> list[list[Any]]:
        return self.tabs.get(name, [])

    def records(self, tab: str) -> list[dict[str, Any]]:
        """The rows below the header, as {header: value}."""
        if tab not in self._records:
            rows = self.tab(tab)
            found = [dict(zip(rows[0], row, strict=False)) for row in rows[1:]] if rows else []
            self._records[tab] = found
        return self._records[tab]

    def prospect(self, ident: str) -> dict[str, Any]:
        (row,) = [r for r in self.records("Prospects") if r["ID"] == ident]
        return row

    def changes(self) -> set[str]:
        """The IDs of the changes the workbook holds (the snapshot tab's Change column)."""
        return {str(r["Change"]) for r in self.records(TOUCHES) if r.get("Change")}


def read_book(data: bytes) -> Book:
    workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
    tabs = {name: workbook.get_sheet_by_name(name).to_python() for name in workbook.sheet_names}
    return Book(data, tabs)


def as_day(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else None


# --------------------------------------------------------------------------- the commands

#: Imports sheetfollow once, then forks one child per command line read from stdin; each
#: child runs the Typer app with it. A child's pid stays reserved (unreaped) until the test
#: has killed it or seen it end.
ZYGOTE = textwrap.dedent(
    """
    import json, os, sys
    import gc
    from sheetfollow import cli, importer, mark, notifier, service, stats, workspace

    def invoke(argv):
        try:
            cli.app(argv, prog_name="sheetfollow", standalone_mode=True)
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else 1
        return 0

    # What a command loads on first use (holidays, templates) is loaded here, once.
    kept = os.dup(1), os.dup(2)
    quiet = os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 1), os.dup2(quiet, 2)
    codes = [invoke(argv) for argv in json.loads(sys.argv[1])]
    sys.stdout.flush(), sys.stderr.flush()
    os.dup2(kept[0], 1), os.dup2(kept[1], 2)
    for fd in (*kept, quiet):
        os.close(fd)
    gc.freeze()  # what the children inherit is never scanned, nor copied by a scan
    print("ready", *codes, flush=True)

    while request := sys.stdin.readline():
        argv, output = json.loads(request)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                log = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                os.dup2(log, 1), os.dup2(log, 2)
                code = invoke(argv)
                sys.stdout.flush(), sys.stderr.flush()
            finally:
                os._exit(code)
        print("started", pid, flush=True)
        status = None
        if hasattr(os, "waitid"):  # ended, not reaped: the pid stays the child's
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        else:
            _, status = os.waitpid(pid, 0)
        print("ended", flush=True)
        sys.stdin.readline()
        if status is None:
            _, status = os.waitpid(pid, 0)
        print("exit", os.waitstatus_to_exitcode(status), flush=True)
    """
)


class Lines:
    """Each line a process prints, with the moment it arrived."""

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


@dataclass(frozen=True)
class Ran:
    """How a command ended: its exit code (-9: killed), how long it ran, what it said."""

    code: int
    seconds: float
    output: str

    @property
    def killed(self) -> bool:
        return self.code == -signal.SIGKILL


class Zygote:
    """Starts each command as a child of a process that has imported sheetfollow."""

    def __init__(self, work: Path, warm: Sequence[Sequence[str]]) -> None:
        self.logs = work / "logs"
        self.logs.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SHEETFOLLOW_")}
        env.update(COLUMNS="200", SHEETFOLLOW_DEBUG="1", XDG_STATE_HOME=str(work / "state"))
        self.process = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE, json.dumps([list(argv) for argv in warm])],
            cwd=work,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.lines = Lines(self.process.stdout)
        self.count = 0
        _, ready = self.lines.get(timeout=300)
        assert ready.split()[0] == "ready", ready
        assert set(ready.split()[1:]) <= {"0"}, f"a warm-up command failed: {ready}"

    def _say(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text + "\n")

    def run(self, argv: Sequence[str], due: Callable[[float], bool] | None = None) -> Ran:
        """Run one command to its end; with `due`, SIGKILL it as soon as `due(seconds since
        it started)` says so (looked at every millisecond), unless it has ended by then."""
        self.count += 1
        output = self.logs / f"{self.count:04d}-{argv[0]}.txt"
        self._say(json.dumps([list(argv), str(output)]))
        started, line = self.lines.get()
        assert line.startswith("started "), line
        pid = int(line.split()[1])
        while True:
            try:
                ended, line = self.lines.get(timeout=120 if due is None else POLL)
                break
            except queue.Empty:
                if due is None or due(time.monotonic() - started):
                    with contextlib.suppress(ProcessLookupError):  # not reaped: still ours
                        os.kill(pid, signal.SIGKILL)
                    assert due is not None, f"{argv[0]} ran for two minutes: {output}"
                    ended, line = self.lines.get()
                    break
        assert line == "ended", line
        self._say("reap")
        _, line = self.lines.get()
        assert line.startswith("exit "), line
        said = output.read_text(errors="replace") if output.exists() else ""  # killed at once
        return Ran(int(line.split()[1]), ended - started, said)

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def temporaries(folder: Path) -> set[str]:
    """Our temporary files beside the workbook: the writes that were killed (or are on)."""
    return {name for name in os.listdir(folder) if OUR_TEMP.fullmatch(name)}


class During:
    """Due `delay` seconds into the write: after our temporary file appeared."""

    def __init__(self, share: Path, delay: float) -> None:
        self.share = share
        self.delay = delay
        self.before = temporaries(share)
        self.began: float | None = None

    def __call__(self, elapsed: float) -> bool:
        if self.began is None:
            if not temporaries(self.share) - self.before:
                return False
            self.began = elapsed
        return elapsed >= self.began + self.delay


class Replaced:
    """Due the moment the workbook has been replaced: what a command does after its write
    (clearing the journal, noting what was sent, tidying) is cut off."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.inode = path.stat().st_ino

    def __call__(self, elapsed: float) -> bool:
        return os.stat(self.path).st_ino != self.inode


def emails(outbox: Path) -> set[str]:
    return {n for n in os.listdir(outbox) if EML.fullmatch(n)} if outbox.exists() else set()


class Emailed:
    """Due the moment an email is in the outbox: the run is cut off before, or just after,
    it noted in the send log that the email went out."""

    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox
        self.before = emails(outbox)

    def __call__(self, elapsed: float) -> bool:
        return bool(emails(self.outbox) - self.before)


class Kept:
    """Due the moment the pending journal has grown: a change is kept there, and the command
    that kept it is cut off before it could say so."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = path.stat().st_size if path.exists() else 0

    def __call__(self, elapsed: float) -> bool:
        try:
            return self.path.stat().st_size > self.size
        except FileNotFoundError:
            return False


@dataclass
class Aim:
    """Where one command's kills go: within `window` seconds of its start, or `write`
    seconds of the start of its write. Seen once, `window` is the command's length; both
    shrink whenever a command ends before its kill and grow back slowly while kills land,
    so that most kills land on a busy machine or an idle one."""

    window: float
    write: float
    longest: float

    def ended(self, mode: str, seconds: float, into_write: float | None) -> None:
        """A command ran to its end: killed too late (`mode`), or let run ("")."""
        self.longest = max(self.longest, seconds)
        if mode == "anywhere":
            self.window = min(self.window, seconds) * SHRINK
        elif mode == "write" and into_write is not None:
            self.write = min(self.write, seconds - into_write) * SHRINK

    def landed(self, mode: str) -> None:
        if mode == "anywhere":
            self.window = min(self.window * GROW, self.longest)
        elif mode == "write":
            self.write = min(self.write * GROW, self.longest)


# --------------------------------------------------------------------------- the changes


@dataclass(frozen=True)
class Touch:
    """A touch a mark records; `change` is its ID once known (from the pending journal)."""

    id: str
    outcome: Outcome
    note: str
    day: date
    change: str = ""


@dataclass(frozen=True)
class Step:
    """One command of the day, with the change it makes."""

    kind: str
    day: date
    argv: tuple[str, ...]
    touch: Touch | None = None
    #: An import: its companies and its file's name.
    companies: tuple[str, ...] = ()
    file: str = ""


def pending_touches(share: Path) -> list[Touch]:
    """The touches kept in the pending journal (a line cut short by a kill is no line)."""
    path = share / ".sheetfollow" / "pipeline.xlsx.pending.jsonl"
    found = []
    with contextlib.suppress(FileNotFoundError):
        for line in path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                assert record["kind"] == "touch", record
                data = record["data"]
                outcome, day = Outcome(data["outcome"]), date.fromisoformat(data["day"])
                found.append(Touch(data["id"], outcome, data["note"], day, record["id"]))
    return found


def journal_text(share: Path) -> str | None:
    path = share / ".sheetfollow" / "pipeline.xlsx.pending.jsonl"
    return path.read_text(encoding="utf-8") if path.exists() else None


def attempts_after(row: dict[str, Any], outcome: Outcome) -> int:
    """Attempts once the touch is recorded (as README's Recording a touch says)."""
    if outcome in ANSWERED:
        return 0
    last = vocab.OUTCOME_ALIASES.get(vocab.normalise(str(row["Last outcome"])))
    if last is not None and not last.unanswered:
        return 1
    return max(int(row["Attempts"] or 0), 1 if row["Last contact"] else 0) + 1


def check_touch(old: Book, new: Book, touch: Touch, what: str) -> None:
    before, after = old.prospect(touch.id), new.prospect(touch.id)
    assert as_day(after["Last contact"]) == touch.day, f"{what}: {touch.id}'s Last contact"
    word = vocab.OUTCOME_NAMES["en"][touch.outcome]
    assert after["Last outcome"] == word, f"{what}: {touch.id}'s Last outcome"
    wanted = attempts_after(before, touch.outcome)
    assert after["Attempts"] == wanted, (
        f"{what}: {touch.id} has {after['Attempts']} attempts, not {wanted}: "
        "a touch counted twice, or not at all"
    )


def check_change(
    old: Book, new: Book, step: Step, pending: Sequence[Touch], computed: Book | None, what: str
) -> None:
    """`new` is `old` with the step's change, and the pending journal's, complete; nothing
    else. `computed`: the workbook a refresh makes of `old` (for run)."""
    touches = [*pending, *([step.touch] if step.touch else [])]
    touched = {t.id for t in touches}
    recomputes = step.kind in ("refresh", "run")
    assert list(new.tabs)[: len(old.tabs)] == list(old.tabs), f"{what}: tabs lost or moved"
    created = set(new.tabs) - set(old.tabs)
    assert created <= ({STATE} if step.kind == "run" else set()), f"{what}: tabs {created}"
    assert new.tab("Owners") == old.tab("Owners"), f"{what}: the Owners tab changed"

    # The Prospects tab: owned columns (all of them for refresh and run, a touched row's for
    # the others), a touched row's touch cells, and rows an import appends; nothing else.
    header = old.tab("Prospects")[0]
    assert new.tab("Prospects")[0] == header, f"{what}: the header row changed"
    owned = {header.index(name) for name in OWNED}
    touch_cells = {header.index(name) for name in TOUCH_COLUMNS}
    before_rows, after_rows = old.tab("Prospects")[1:], new.tab("Prospects")[1:]
    added = len(after_rows) - len(before_rows)
    assert added == len(step.companies), f"{what}: {added} rows more in Prospects"
    for before, after in zip(before_rows, after_rows, strict=False):
        if before == after:
            continue
        free = set(owned) if recomputes else set()
        if before[0] in touched:
            free |= owned | touch_cells
        changed = [header[c] for c in range(len(header)) if before[c] != after[c] and c not in free]
        assert not changed, (
            f"{what}: {step.kind} changed {changed} of {before[0]}, which none of its changes "
            "touches (half of a change, or one applied twice)"
        )
    appended = after_rows[len(before_rows) :]
    assert [row[1] for row in appended] == list(step.companies), (
        f"{what}: rows appended to Prospects: {[row[1] for row in appended]}, "
        f"expected {list(step.companies)}"
    )
    for touch in touches:
        check_touch(old, new, touch, what)
    new_ids = [str(row[0]) for row in appended]
    for row in appended:
        record = dict(zip(header, row, strict=True))
        assert record["Status"] == "new" and as_day(record["Created"]) == step.day, what
        assert record["Owner"] in {name for name, _ in OWNERS}, what

    # The Log and the snapshot tab: appended to, exactly the rows of these changes.
    for tab in ("Log", TOUCHES, STATE):
        kept = old.tab(tab)
        assert new.tab(tab)[: len(kept)] == kept, f"{what}: the tab {tab!r} was rewritten"
    logged = [
        (r["ID"], r["Outcome"], r["Note"]) for r in new.records("Log")[len(old.records("Log")) :]
    ]
    wanted = [(t.id, t.outcome.value, t.note) for t in touches]
    wanted += [(ident, "imported", f"from {step.file}") for ident in new_ids]
    assert logged == wanted, f"{what}: Log rows added {logged}, expected {wanted}"
    snapped = new.records(TOUCHES)[len(old.records(TOUCHES)) :]
    assert [r["ID"] for r in snapped] == [t.id for t in touches] + new_ids, (
        f"{what}: snapshot rows added for {[r['ID'] for r in snapped][:20]}"
    )
    for snap, touch in zip(snapped, touches, strict=False):
        assert as_day(snap["Last contact"]) == touch.day, what
        if touch.change:
            assert snap["Change"] == touch.change, f"{what}: the journal's change has another ID"
        else:
            assert CHANGE_ID.fullmatch(str(snap["Change"])), what
    if new_ids:
        (one,) = {str(r["Change"]) for r in snapped[len(touches) :]}
        assert CHANGE_ID.fullmatch(one), f"{what}: the imported rows carry no change ID"
    assert not (old.changes() & {str(r["Change"]) for r in snapped}), (
        f"{what}: a change already in the workbook was applied again"
    )

    # The emails' records: only a run adds them, each email of the day once.
    records = new.records(STATE)[len(old.records(STATE)) :]
    if step.kind != "run":
        assert records == [], f"{what}: {step.kind} recorded emails"
    for record in records:
        assert as_day(record["Day"]) == step.day and record["Status"] == "written", what
    if computed is not None:
        for tab in ("Prospects", "Log", TOUCHES):
            assert new.tab(tab) == computed.tab(tab), (
                f"{what}: the tab {tab!r} is not what a refresh makes of the old workbook"
            )


def delivered_once(book: Book, what: str) -> Counter[tuple[date | None, str, str]]:
    """Each email's record of having gone out, at most once per day."""
    sent = Counter(
        (as_day(r["Day"]), str(r["Kind"]), str(r["Key"]))
        for r in book.records(STATE)
        if r["Status"] in ("sent", "written")
    )
    twice = [key for key, n in sent.items() if n > 1]
    assert not twice, f"{what}: emails recorded twice: {twice}"
    return sent


def due_recipients(book: Book, day: date) -> list[str]:
    """Who gets an email on `day`: each owner with a call due or overdue, and the manager."""
    emails = {str(r["Owner"]): str(r["Email"]) for r in book.records("Owners")}
    names = {
        str(r["Assigned to"])
        for r in book.records("Prospects")
        if r["Status"] not in NOT_ACTIONABLE
        and (due := as_day(r["Next follow-up"])) is not None
        and due <= day
    }
    return sorted([emails[name] for name in names] + [MANAGER])


def refreshed(old: bytes, journal: str | None, day: date, scratch: Path) -> bytes:
    """What an undisturbed refresh makes of `old` (with this pending journal), done here."""
    shutil.rmtree(scratch, ignore_errors=True)
    (scratch / ".sheetfollow").mkdir(parents=True)
    (scratch / "sheetfollow.toml").write_text(CONFIG, encoding="utf-8")
    (scratch / "pipeline.xlsx").write_bytes(old)
    if journal is not None:
        path = scratch / ".sheetfollow" / "pipeline.xlsx.pending.jsonl"
        path.write_text(journal, encoding="utf-8")
    config = load_config(scratch / "sheetfollow.toml")
    service.refresh(service.open_backend(None, config), config, day)
    return (scratch / "pipeline.xlsx").read_bytes()


# --------------------------------------------------------------------------- the test


@dataclass
class Tally:
    attempts: int = 0
    #: Kills that landed, per command, and how they were aimed.
    kills: Counter[str] = field(default_factory=Counter)
    modes: Counter[str] = field(default_factory=Counter)
    #: Kills in the middle of a write (a temporary file of ours was left), and after it (the
    #: workbook was the new one).
    in_write: Counter[str] = field(default_factory=Counter)
    after_write: Counter[str] = field(default_factory=Counter)
    #: Marks killed while Excel held the workbook, and the changes they had kept; kills that
    #: left a change applied in the workbook and still in the journal.
    held: int = 0
    kept: int = 0
    uncleared: int = 0
    #: Kills whose next command ran to its end.
    followed: int = 0

    def enough(self) -> bool:
        each = all(self.kills[kind] >= KILLS_EACH for kind in COMMANDS)
        return each and sum(self.kills.values()) >= KILLS

    def line(self) -> str:
        return (
            f"{self.attempts} commands; kills {dict(self.kills)} (aimed {dict(self.modes)}; "
            f"mid-write {dict(self.in_write)}; after the write {dict(self.after_write)}); "
            f"{self.held} held marks killed, {self.kept} of them kept; {self.uncleared} kills "
            "left an applied change in the journal; "
            f"{self.followed} kills followed by a command that ran to its end"
        )


class Run:
    """The test's state: the workbook as last checked, and what is known about it."""

    def __init__(self, work: Path) -> None:
        self.share = work / "share"
        self.path = self.share / "pipeline.xlsx"
        self.config = self.share / "sheetfollow.toml"
        self.outbox = work / "outbox"
        self.scratch = work / "scratch"
        self.book: Book
        self.zygote: Zygote
        #: The day whose refresh the workbook is known to hold (owned columns computed).
        self.computed_for: date | None = None
        #: Each outbox file as first seen: (inode, modification time, size).
        self.sent: dict[str, tuple[int, int, int]] = {}
        self.aims: dict[str, Aim] = {}
        self.rng = random.Random(20260302)
        self.tally = Tally()
        #: Kills in a row just before.
        self.streak = 0

    def argv(self, *args: str, day: date) -> tuple[str, ...]:
        where = ("--config", str(self.config), "--sheet", str(self.path))
        return (*args, *where, "--today", day.isoformat())

    # -- one attempt

    def kill(
        self, kind: str, aim: bool, pending: bool
    ) -> tuple[str, Callable[[float], bool] | None]:
        """How the next command of this kind is to be killed: ("", None) to let it run."""
        target = self.aims.get(kind)
        if not aim or target is None or self.streak >= CHAIN:
            return "", None
        modes = RUN_MODES if kind == "run" else MODES
        if pending:
            modes = PENDING_MODES
        if kind == "held":
            modes = HELD_MODES
        mode = self.rng.choices(list(modes), weights=list(modes.values()))[0]
        if mode == "write":
            return mode, During(self.share, self.rng.uniform(0, target.write))
        if mode == "replaced":
            return mode, Replaced(self.path)
        if mode == "kept":
            return mode, Kept(self.share / ".sheetfollow" / "pipeline.xlsx.pending.jsonl")
        if mode == "emailed":
            return mode, Emailed(self.outbox)
        moment = self.rng.uniform(0, target.window)
        return mode, lambda elapsed: elapsed >= moment

    def attempt(self, step: Step, *, aim: bool = True, held: bool = False) -> tuple[Ran, str]:
        """Run the step (killed, when `aim`, at a moment chosen by `kill`) and check what it
        left. Returns how it ended and "old" or "new": the workbook before the command, or
        its complete result."""
        self.tally.attempts += 1
        kind = "held" if held else step.kind
        old, journal = self.book, journal_text(self.share)
        pending = [t for t in pending_touches(self.share) if t.change not in old.changes()]
        left_before = temporaries(self.share)
        mode, due = self.kill(kind, aim, bool(pending))
        ran = self.zygote.run(step.argv, due)
        how = f"{'killed' if ran.killed else 'ended'} after {ran.seconds:.3f} s"
        what = f"attempt {self.tally.attempts} ({step.kind} on {step.day}, {how})"
        if held:
            what += " while Excel held the workbook"
        expected = 10 if held else 0
        assert ran.killed or ran.code == expected, f"{what}: exit {ran.code}\n{ran.output[-3000:]}"
        into = due.began if isinstance(due, During) else None
        if ran.killed:
            # Until then all went well.
            assert "error:" not in ran.output, f"{what}:\n{ran.output}"
            assert "Traceback" not in ran.output, f"{what}:\n{ran.output}"
            self.aims[kind].landed(mode)
            self.streak += 1
        else:
            length = Aim(ran.seconds, ran.seconds / 2, ran.seconds)
            self.aims.setdefault(kind, length).ended(mode, ran.seconds, into)
            self.tally.followed += self.streak > 0
            self.streak = 0

        data = self.path.read_bytes()
        state = "old" if data == old.data else "new"
        if state == "new":
            assert not held, f"{what}: the workbook changed while Excel held it"
            self.check_new(old, data, step, pending, journal, ran.killed, what)
        delivered_once(self.book, what)
        if ran.killed:
            if held:
                self.tally.held += 1
            else:
                self.tally.kills[step.kind] += 1
                self.tally.modes[mode] += 1
                self.tally.in_write[step.kind] += bool(temporaries(self.share) - left_before)
                self.tally.after_write[step.kind] += state == "new"
                done = self.book.changes()
                self.tally.uncleared += any(t.change in done for t in pending_touches(self.share))
        elif not held:
            left = pending_touches(self.share)
            assert left == [], f"{what}: the pending journal still holds {left}"
            if step.kind in ("refresh", "run"):
                self.computed_for = step.day
        self.check_files(what, held=held)
        return ran, state

    def check_new(
        self,
        old: Book,
        data: bytes,
        step: Step,
        pending: list[Touch],
        journal: str | None,
        killed: bool,
        what: str,
    ) -> None:
        """The workbook is not the old one: it must be sound and hold exactly the command's
        change."""
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as package:
                damaged = package.testzip()
        except zipfile.BadZipFile as error:
            damaged = str(error)
        assert damaged is None, f"{what}: neither the old workbook nor a sound one: {damaged}"
        new = read_book(data)
        if killed and step.kind != "refresh":  # a refresh's is compared byte for byte below
            opened = openpyxl.load_workbook(io.BytesIO(new.data), read_only=True)
            assert opened.sheetnames == list(new.tabs), f"{what}: openpyxl reads other tabs"
            opened.close()
        computed = None
        if step.kind == "refresh" and killed:
            reference = refreshed(old.data, journal, step.day, self.scratch)
            assert new.data == reference, (
                f"{what}: neither the old workbook ({sha(old.data)}) nor the new one "
                f"({sha(reference)}), but {sha(new.data)}"
            )
        elif step.kind == "run" and killed:
            if self.computed_for == step.day and not pending:
                computed = old  # a refresh now changes nothing
            else:
                computed = read_book(refreshed(old.data, journal, step.day, self.scratch))
        check_change(old, new, step, pending, computed, what)
        self.book = new
        if step.kind in ("refresh", "run"):
            self.computed_for = step.day

    def check_files(self, what: str, *, held: bool = False) -> None:
        """Only ours beside the workbook (and Excel's lock file while it holds it) and in the
        outbox; no outbox file written twice."""
        excel = {"~$pipeline.xlsx"} if held else set()
        strays = [n for n in os.listdir(self.share) if not BESIDE.fullmatch(n) and n not in excel]
        assert not strays, f"{what}: files that are not ours beside the workbook: {strays}"
        side = self.share / ".sheetfollow"
        strays = [name for name in os.listdir(side) if not SIDE.fullmatch(name)]
        assert not strays, f"{what}: files that are not ours in {side}: {strays}"
        if (side / "backups").exists():
            strays = [n for n in os.listdir(side / "backups") if not BACKUP.fullmatch(n)]
            assert not strays, f"{what}: files that are not ours among the backups: {strays}"
        if (side / "files").exists():
            # Copies of import files are kept for imports in the pending journal, and no
            # others: this test keeps none there, so a copy here is one nothing will remove.
            copies = os.listdir(side / "files")
            assert not copies, f"{what}: copies of import files left in {side / 'files'}: {copies}"
        if not self.outbox.exists():
            return
        for name in os.listdir(self.outbox):
            if EML_TEMP.fullmatch(name):
                continue
            assert EML.fullmatch(name), f"{what}: a stray file in the outbox: {name}"
            info = (self.outbox / name).stat()
            seen = (info.st_ino, info.st_mtime_ns, info.st_size)
            assert self.sent.setdefault(name, seen) == seen, f"{what}: {name} was written again"

    # -- a day

    def phase(self, step: Step, *, aim: bool = True) -> None:
        """A command until its change is in: started again after a kill that left the old
        workbook, as a person would."""
        while True:
            ran, state = self.attempt(step, aim=aim)
            if state == "new" or not ran.killed:
                return

    def held_mark(self, step: Step) -> None:
        """A mark while Excel holds the workbook: kept in the pending journal (or not at all,
        when killed before it was), for the next command to apply."""
        assert step.touch is not None
        lock = self.share / "~$pipeline.xlsx"
        lock.write_bytes(excel_owner_file("Kill Test"))
        try:
            before = {t.change for t in pending_touches(self.share)}
            ran, _ = self.attempt(step, held=True)
        finally:
            lock.unlink()
        kept = [(t.id, t.note) for t in pending_touches(self.share) if t.change not in before]
        if ran.killed:
            assert kept in ([], [(step.touch.id, step.touch.note)]), kept
            self.tally.kept += bool(kept)
        else:
            assert kept == [(step.touch.id, step.touch.note)], kept

    def check_day(self, day: date) -> None:
        """Every owner with calls due, and the manager, got one email today, recorded once."""
        what = f"the emails of {day}"
        wanted = due_recipients(self.book, day)
        assert len(wanted) > 2, f"{what}: hardly anything due; the data no longer tests much"
        recorded = sorted(
            str(r["To"])
            for r in self.book.records(STATE)
            if as_day(r["Day"]) == day and r["Status"] == "written"
        )
        assert recorded == wanted, f"{what}: recorded {recorded}, expected {wanted}"
        parser = BytesHeaderParser(policy=email.policy.default)
        to = sorted(
            email.utils.parseaddr(str(parser.parsebytes(path.read_bytes())["To"]))[1]
            for path in self.outbox.glob(f"{day.isoformat()}-*.eml")
        )
        assert to == wanted, f"{what}: the outbox holds emails to {to}, expected {wanted}"

    def pick(self, used: set[str], number: int, day: date) -> Touch:
        """A prospect with a call due that no mark touched yet, and an outcome."""
        due = [
            str(r["ID"])
            for r in self.book.records("Prospects")
            if r["Status"] in ("new", "due", "overdue") and str(r["ID"]) not in used
        ]
        ident = self.rng.choice(due)
        used.add(ident)
        return Touch(ident, MARKED[number % len(MARKED)], f"kill test {number}: {ident}", day)

    def mark(self, touch: Touch) -> Step:
        word = touch.outcome.value.replace(" ", "-")
        argv = self.argv("mark", touch.id, word, "--note", touch.note, day=touch.day)
        return Step("mark", touch.day, argv, touch)


@pytest.mark.slow
def test_commands_killed_at_any_moment_leave_the_old_or_the_new_workbook(tmp_path: Path) -> None:
    run = Run(tmp_path)
    run.share.mkdir()
    (tmp_path / "leads").mkdir()
    pipeline(run.path, ROWS)
    run.config.write_text(CONFIG, encoding="utf-8")
    warm = tmp_path / "leads" / "warm-up.csv"
    leads(warm, 0)
    dry = [
        run.argv("refresh", "--dry-run", day=FIRST_DAY),
        run.argv("run", "--dry-run", "--outbox", str(run.outbox), day=FIRST_DAY),
        run.argv("import", str(warm), "--dry-run", day=FIRST_DAY),
    ]
    run.zygote = Zygote(tmp_path, dry)
    used: set[str] = set()
    started = time.monotonic()
    try:
        # The first refresh takes the first snapshot of every row.
        first = run.zygote.run(run.argv("refresh", day=FIRST_DAY))
        assert first.code == 0, first.output
        run.book, run.computed_for = read_book(run.path.read_bytes()), FIRST_DAY
        days = business_days(FIRST_DAY)
        for number in range(MAX_DAYS):
            if run.tally.enough():
                break
            day = next(days)
            # The first day runs undisturbed: each command's length is measured.
            aim = number > 0
            if aim and number % HELD_EVERY == 0:
                run.held_mark(run.mark(run.pick(used, -number, day)))
            # A command with its share of the kills is left out (a day without a run is a day
            # cron missed), so that the test ends when the last command has its share.
            wants = {kind: not aim or run.tally.kills[kind] < QUOTA for kind in COMMANDS}
            if wants["refresh"]:
                run.phase(Step("refresh", day, run.argv("refresh", day=day)), aim=aim)
            if wants["mark"]:
                run.phase(run.mark(run.pick(used, number, day)), aim=aim)
            if wants["import"]:
                file = tmp_path / "leads" / f"leads-{number}.csv"
                companies = leads(file, number + 1)
                argv = run.argv("import", str(file), day=day)
                run.phase(Step("import", day, argv, companies=companies, file=file.name), aim=aim)
            if wants["run"]:
                argv = run.argv("run", "--outbox", str(run.outbox), day=day)
                run.phase(Step("run", day, argv), aim=aim)
                run.check_day(day)
        else:
            raise AssertionError(f"after {MAX_DAYS} days: {run.tally.line()}")

        # The next refresh removes what killed writes left once it is an hour old, and
        # succeeds; the workbook reads as it should.
        side = run.share / ".sheetfollow"
        left = [run.share / name for name in temporaries(run.share)]
        left += [side / "backups" / name for name in temporaries(side / "backups")]
        assert left, "no kill left a temporary file"
        two_hours_ago = (datetime.now() - timedelta(hours=2)).timestamp()
        for leftover in left:
            os.utime(leftover, (two_hours_ago, two_hours_ago))
        day = next(days)
        final = run.zygote.run(run.argv("refresh", day=day))
        assert final.code == 0, final.output
        check = run.zygote.run(run.argv("check", day=day))
        assert check.code == 0 and "no problems found" in check.output, check.output
        assert [leftover for leftover in left if leftover.exists()] == []
        run.check_files("the final refresh")
        assert pending_touches(run.share) == []
        book = openpyxl.load_workbook(run.path)
        assert book.sheetnames == ["Prospects", "Owners", "Log", TOUCHES, STATE]
        book.close()
    finally:
        run.zygote.close()
    outbox_temps = [n for n in os.listdir(run.outbox) if EML_TEMP.fullmatch(n)]
    side_temps = [n for n in os.listdir(run.share / ".sheetfollow") if n.endswith(".tmp")]
    print(
        f"\n{run.tally.line()}; {time.monotonic() - started:.0f} s; windows "
        f"{ {kind: (round(a.window, 3), round(a.write, 3)) for kind, a in run.aims.items()} }; "
        f"left in the outbox {outbox_temps}, beside the journal {side_temps}"
    )
    assert run.tally.enough(), run.tally.line()
    assert sum(run.tally.in_write.values()) >= IN_WRITE, run.tally.line()
    assert sum(run.tally.after_write.values()) > 0, run.tally.line()
