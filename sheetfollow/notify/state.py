"""Which emails went out on which day: the records, and, while a run is sending, the run
lock and the send log that keep two runs from sending one email twice.

The records live in the workbook's hidden state tab (read and appended by the notify use
case, sheetfollow/sends.py), so a run on another machine knows what was already sent today.
This module only deals in records and in files of the journal's folder.

The tab is written once, after the emails went out. What happens in between is made safe by
two things in the journal's folder (`.sheetfollow/` beside the workbook, or beside
sheetfollow.toml for a Google Sheet):

- `<book>.notify.lock`: held by a sending run from before it reads the sheet until what it
  sent is recorded, so a second run on this machine waits, then reads what the first recorded;
- `<book>.sends.jsonl`, the send log: before each email a run appends (fsynced) a claim
  line, and sends only when its claim is the first open one for that day, kind and key and
  no run said it went out; right after the server accepts it (or the outbox file is
  written) it appends a "sent" line, or "failed", or "withdrawn" when it did not send.
  This serves runs on two machines that do not see each other's lock, and a run killed
  between sending and recording: the next run records its "sent" lines and sends nothing
  twice. Lines of earlier days are dropped once the state tab (or the pending journal)
  holds them; today's stay, for a run elsewhere that read the tab before it was written.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from functools import cached_property
from pathlib import Path
from typing import Any

import filelock

from sheetfollow import vocab
from sheetfollow.errors import BusyError, SheetError
from sheetfollow.journal import Journal, Pending, Tail, new_id

SENT = "sent"
WRITTEN = "written"
FAILED = "failed"
#: Statuses that mean the email is out: the same one is not sent again that day.
DELIVERED: frozenset[str] = frozenset({SENT, WRITTEN})


@dataclass(frozen=True)
class Entry:
    """One email's outcome on one day."""

    day: date
    #: "owner" or "digest", as Message.kind.
    kind: str
    #: Message.key: the owner's name, or the manager's address.
    key: str
    to: str
    #: SENT, WRITTEN or FAILED.
    status: str
    at: datetime | None = None
    detail: str = ""


def same_key(a: str, b: str) -> bool:
    """Names and addresses compare as people write them: any case, any accents."""
    return vocab.normalise(a) == vocab.normalise(b)


@dataclass(frozen=True)
class RunState:
    entries: tuple[Entry, ...] = ()

    def delivered(self, day: date, kind: str, key: str) -> Entry | None:
        """The first entry saying this email went out on `day`, if one does."""
        found = self._delivered.get((day, kind, vocab.normalise(key)))
        return found[0] if found else None

    def holds(self, record: Entry) -> bool:
        """Whether the tab already has this record of a delivered email: same day, kind and
        key, and the same moment (to the second; a row without a readable At matches)."""
        found = self._delivered.get((record.day, record.kind, vocab.normalise(record.key)), [])
        return any(
            entry.at is None or record.at is None or _same_moment(entry.at, record.at)
            for entry in found
        )

    def last_before(self, day: date, kind: str, key: str) -> Entry | None:
        """The last record of this email going out on a day before `day`; None when it
        never did."""
        found = [e for e in self._by_email.get((kind, vocab.normalise(key)), []) if e.day < day]
        # Records of one day keep the order they were written in: the last is the latest.
        return max(reversed(found), key=lambda e: e.day, default=None)

    @cached_property
    def _by_email(self) -> dict[tuple[str, str], list[Entry]]:
        """The records of each delivered email (kind and key), whatever the day."""
        index: dict[tuple[str, str], list[Entry]] = {}
        for (_, kind, key), entries in self._delivered.items():
            index.setdefault((kind, key), []).extend(entries)
        return index

    @cached_property
    def _delivered(self) -> dict[tuple[date, str, str], list[Entry]]:
        """The entries of delivered emails by day, kind and key (as people write it), in
        the order of the tab: asked once per email, so found without a scan."""
        index: dict[tuple[date, str, str], list[Entry]] = {}
        for entry in self.entries:
            if entry.status in DELIVERED:
                email = (entry.day, entry.kind, vocab.normalise(entry.key))
                index.setdefault(email, []).append(entry)
        return index


def _same_moment(a: datetime, b: datetime) -> bool:
    # The tab keeps the team's wall-clock time without a zone; a cell read back from a
    # serial number may be a hair off the second it was written as.
    naive = [m.replace(tzinfo=None, microsecond=0) for m in (a, b)]
    return abs(naive[0] - naive[1]) <= timedelta(seconds=1)


def to_record(entry: Entry) -> dict[str, str | None]:
    """An entry as a journal or send log line holds it."""
    return {
        "day": entry.day.isoformat(),
        "kind": entry.kind,
        "key": entry.key,
        "to": entry.to,
        "status": entry.status,
        "at": entry.at.isoformat(timespec="seconds") if entry.at else None,
        "detail": entry.detail,
    }


def from_record(record: Mapping[str, Any]) -> Entry:
    at = record.get("at")
    return Entry(
        day=date.fromisoformat(str(record["day"])),
        kind=str(record["kind"]),
        key=str(record["key"]),
        to=str(record.get("to") or ""),
        status=str(record["status"]),
        at=datetime.fromisoformat(str(at)) if at else None,
        detail=str(record.get("detail") or ""),
    )


# --- The run lock and the send log ----------------------------------------------------------

#: Send log lines besides SENT and FAILED: a run's claim before it sends, and its word that
#: it did not send after all (another run came first, or had sent it already).
CLAIM = "claim"
WITHDRAWN = "withdrawn"
OUTCOMES: frozenset[str] = frozenset({SENT, FAILED, WITHDRAWN})

#: A claim without an outcome older than this (on this machine: sooner, once its process is
#: gone) is taken to be left by a run that died: its email is sent (a day is never lost;
#: see Claim.over).
STALE_CLAIM = timedelta(minutes=30)
#: Seconds a run waits in all for the outcome of emails another machine is sending.
CLAIM_WAIT = 60.0
#: Seconds between two looks at the send log while waiting.
CLAIM_POLL = 0.2
#: Seconds a run waits for another run on this machine that holds the run lock.
RUN_LOCK_TIMEOUT = 600.0

_LOCK_SUFFIX = ".notify.lock"
_LOG_SUFFIX = ".sends.jsonl"


@contextlib.contextmanager
def run_lock(journal: Journal, label: str, timeout: float | None = None) -> Iterator[float]:
    """Hold `<book>.notify.lock` in the journal's folder (the user's own state folder when
    that cannot be written); yields the seconds spent waiting for it. Raises BusyError after
    `timeout` seconds (RUN_LOCK_TIMEOUT)."""
    wait = RUN_LOCK_TIMEOUT if timeout is None else timeout
    errors: list[str] = []
    for place in (journal.path, journal.fallback):
        if place is None:
            continue
        path = _beside(place, _LOCK_SUFFIX)
        fresh = not path.parent.exists()
        lock = filelock.FileLock(str(path))
        start = time.monotonic()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            lock.acquire(timeout=wait)
        except filelock.Timeout:
            raise BusyError(
                f"{label}: another sheetfollow run has held {path} for {_duration(wait)} while "
                "it sends and records today's emails; nothing was sent or written; try again "
                "when it has finished"
            ) from None
        except OSError as exc:
            errors.append(f"{path.parent}: {exc.strerror or exc}")
            continue
        break
    else:
        raise SheetError(
            f"{label}: the emails cannot be sent: no place for the lock that keeps two runs "
            "from sending them twice (" + "; ".join(errors) + ")"
        )
    done = False
    try:
        yield time.monotonic() - start
        done = True
    finally:
        # The first run beside this workbook stopped on an error before it kept anything:
        # it leaves no folder behind (the parse-cache entries its reads stored there are
        # only a cache, and no other run can have made them in a folder this one made).
        cached = _only_cached(path) if fresh and not done else None
        if cached is not None:
            for stale in (path, *cached):
                with contextlib.suppress(OSError):
                    stale.unlink()
        lock.release()
        if cached is not None:
            with contextlib.suppress(OSError):
                path.parent.rmdir()


#: A parse-cache entry (or table of a part's pieces) kept beside the workbook
#: (backends/_tabcache.py).
_CACHE_ENTRY = re.compile(r".+\.[0-9a-f]{16}\.(?:grid|seg)")


def _only_cached(path: Path) -> list[Path] | None:
    """The other files in the lock's folder when all are parse-cache entries, else None."""
    try:
        others = [p for p in path.parent.iterdir() if p.name != path.name]
    except OSError:
        return None
    if all(p.is_file() and _CACHE_ENTRY.fullmatch(p.name) for p in others):
        return others
    return None


@dataclass(frozen=True)
class Claim:
    """A run's claim on one email, with what became of it."""

    id: str
    #: The run that made it, and where.
    run: str
    host: str
    pid: int
    #: When it was made, by the clock of its machine.
    at: datetime
    day: date
    kind: str
    key: str
    to: str
    #: The Message-ID of the email, and its file when it went to the outbox.
    message_id: str = ""
    file: str = ""
    #: The moment the run records for its emails (the At of the state tab).
    moment: datetime | None = None
    #: "" while none was given; else SENT, FAILED or WITHDRAWN ...
    outcome: str = ""
    #: ... with the record it gave (SENT and FAILED).
    record: Entry | None = None

    def about(self, day: date, kind: str, key: str) -> bool:
        return self.day == day and self.kind == kind and same_key(self.key, key)

    def over(self, now: datetime) -> bool:
        """Whether the run that made this claim has ended: on this machine when its process
        is gone; anywhere when the claim is older than STALE_CLAIM (the clocks of the
        machines are taken to agree within minutes)."""
        if now - self.at > STALE_CLAIM:
            return True
        if self.host == socket.gethostname():
            return self.pid == os.getpid() or not _alive(self.pid)
        return False


class SendLog:
    """`<book>.sends.jsonl` in the journal's folder: the claims and outcomes of emails.

    A line is a journal line (fsynced before append returns): {"v": 1, "id", "kind": "claim"
    | "sent" | "failed" | "withdrawn", "at": when it was written, "user", "host", "data"}.
    A claim's data: run, pid, day, email ("owner" or "digest"), key, to, message_id, file
    (outbox), moment. An outcome's: run, pid, claim (the claim's id), day, email, key, and
    for sent and failed the record the state tab gets (day, kind, key, to, status, at,
    detail).
    """

    def __init__(self, journal: Journal) -> None:
        fallback = _beside(journal.fallback, _LOG_SUFFIX) if journal.fallback else None
        self.journal = Journal(_beside(journal.path, _LOG_SUFFIX), fallback)
        self._tail = Tail(self.journal.path)
        self._index = _ClaimIndex()

    @property
    def path(self) -> Path:
        return self.journal.path

    def read(self) -> list[Pending]:
        return self.journal.entries()

    def about(self, day: date, kind: str, key: str) -> list[Claim]:
        """The claims on one email in the order they were made, each with its first outcome.

        Asked before every email of a run: the log is read as it grows and kept indexed,
        so a run's cost grows with its emails, not with their square."""
        fallback = self.journal.fallback
        if fallback is not None and fallback.exists():  # two files: merged in time order
            return [c for c in claims(self.read()) if c.about(day, kind, key)]
        lines, again = self._tail.read()
        if again:
            self._index = _ClaimIndex()
        self._index.add(lines)
        return self._index.about(day, kind, key)

    def claim(
        self,
        run: str,
        entry: Entry,
        *,
        message_id: str = "",
        file: str = "",
    ) -> str:
        """Append a claim on the email `entry` is about (its day, kind, key, to and moment);
        returns the claim's ID."""
        ident = new_id()
        data = {
            **_line(run, entry),
            "to": entry.to,
            "message_id": message_id,
            "file": file,
            "moment": entry.at.isoformat(timespec="seconds") if entry.at else None,
        }
        self.journal.append(CLAIM, data, change_id=ident, at=datetime.now(timezone.utc))
        return ident

    def settle(self, run: str, claim: str, outcome: str, entry: Entry) -> None:
        """Append what became of a claim: SENT and FAILED with the record, or WITHDRAWN."""
        data: dict[str, object] = {**_line(run, entry), "claim": claim}
        if outcome in (SENT, FAILED):
            data["record"] = to_record(entry)
        self.journal.append(outcome, data, change_id=new_id(), at=datetime.now(timezone.utc))

    def prune(self, before: date) -> None:
        """Drop the lines of days before `before` (recorded by then)."""
        old = [line.id for line in self.read() if _day_of(line) < before]
        self.journal.remove(old)


def claims(lines: Sequence[Pending]) -> list[Claim]:
    """The claims in the order they were made, each with its first outcome."""
    index = _ClaimIndex()
    index.add(lines)
    return [index.settled(ident) for ident in index.claims]


class _ClaimIndex:
    """Claims and their first outcomes, from log lines added in the order they were
    written, found by the email they are about."""

    def __init__(self) -> None:
        self.claims: dict[str, Claim] = {}
        self.outcomes: dict[str, Pending] = {}
        self.by_email: dict[tuple[date, str, str], list[str]] = {}

    def add(self, lines: Iterable[Pending]) -> None:
        for line in lines:
            try:
                if line.kind == CLAIM:
                    claim = _claim(line)
                    if line.id not in self.claims:
                        email = (claim.day, claim.kind, vocab.normalise(claim.key))
                        self.by_email.setdefault(email, []).append(line.id)
                    self.claims[line.id] = claim
                elif line.kind in OUTCOMES:
                    self.outcomes.setdefault(str(line.data["claim"]), line)
            except (KeyError, ValueError, TypeError):
                continue  # a line this version cannot read says nothing about today

    def about(self, day: date, kind: str, key: str) -> list[Claim]:
        found = self.by_email.get((day, kind, vocab.normalise(key)), [])
        return [self.settled(ident) for ident in found]

    def settled(self, ident: str) -> Claim:
        claim = self.claims[ident]
        outcome = self.outcomes.get(ident)
        if outcome is None:
            return claim
        record = outcome.data.get("record")
        try:
            entry = from_record(record) if isinstance(record, Mapping) else None
        except (KeyError, ValueError, TypeError):
            entry = None
        return replace(claim, outcome=outcome.kind, record=entry)


def delivered_records(lines: Sequence[Pending]) -> list[tuple[Pending, Entry]]:
    """Every "sent" line with its record: emails that went out, recorded or not."""
    found = []
    for line in lines:
        record = line.data.get("record")
        if line.kind != SENT or not isinstance(record, Mapping):
            continue
        try:
            found.append((line, from_record(record)))
        except (KeyError, ValueError, TypeError):
            continue
    return found


def line_over(line: Pending, now: datetime) -> bool:
    """Whether the run that wrote `line` has ended (as Claim.over says it)."""
    return _claim_like(line).over(now)


def _claim(line: Pending) -> Claim:
    data = line.data
    moment = data.get("moment")
    return replace(
        _claim_like(line),
        to=str(data.get("to") or ""),
        message_id=str(data.get("message_id") or ""),
        file=str(data.get("file") or ""),
        moment=datetime.fromisoformat(str(moment)) if moment else None,
    )


def _claim_like(line: Pending) -> Claim:
    data = line.data
    at = datetime.fromisoformat(line.at)
    return Claim(
        id=line.id,
        run=str(data.get("run") or ""),
        host=line.host,
        pid=int(data.get("pid") or 0),
        at=at if at.tzinfo else at.replace(tzinfo=timezone.utc),
        day=date.fromisoformat(str(data["day"])),
        kind=str(data["email"]),
        key=str(data["key"]),
        to="",
    )


def _line(run: str, entry: Entry) -> dict[str, object]:
    return {
        "run": run,
        "pid": os.getpid(),
        "day": entry.day.isoformat(),
        "email": entry.kind,
        "key": entry.key,
    }


def _day_of(line: Pending) -> date:
    try:
        return date.fromisoformat(str(line.data.get("day")))
    except ValueError:
        return date.min


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if os.name != "posix":
        # No harmless probe here: the run lock is held, so a run of this machine is over.
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _beside(journal_path: Path, suffix: str) -> Path:
    """`.sheetfollow/pipeline.xlsx.pending.jsonl` -> `.sheetfollow/pipeline.xlsx<suffix>`."""
    name = journal_path.name.removesuffix(".pending.jsonl")
    return journal_path.with_name(name + suffix)


def _duration(seconds: float) -> str:
    if seconds >= 120:
        return f"{seconds / 60:g} minutes"
    return f"{seconds:g} second" + ("" if seconds == 1 else "s")
