"""The pending journal and the send log read as they grow (journal.Tail), and the temporary
files killed runs leave beside them."""

from __future__ import annotations

import os
from datetime import date, datetime, timezone
from pathlib import Path

from sheetfollow.journal import Journal, Tail
from sheetfollow.notify import state

NOW = datetime(2026, 11, 27, 7, 0, tzinfo=timezone.utc)
DAY = date(2026, 11, 27)


def test_a_tail_reads_each_line_once_and_waits_for_a_line_still_being_written(
    tmp_path: Path,
) -> None:
    journal = Journal(tmp_path / "book.pending.jsonl")
    tail = Tail(journal.path)
    assert tail.read() == ([], False)

    journal.append("touch", {"n": 1}, change_id="a", at=NOW)
    journal.append("touch", {"n": 2}, change_id="b", at=NOW)
    lines, again = tail.read()
    assert ([line.id for line in lines], again) == (["a", "b"], True)

    with journal.path.open("a", encoding="utf-8") as half:  # a writer killed mid-line
        half.write('{"v": 1, "id": "c", "kind": "touch"')
    assert tail.read() == ([], False)

    journal.append("touch", {"n": 4}, change_id="d", at=NOW)
    lines, again = tail.read()
    assert ([line.id for line in lines], again) == (["d"], False)


def test_a_tail_starts_over_when_the_file_is_rewritten_or_removed(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "book.pending.jsonl")
    tail = Tail(journal.path)
    for ident in "abc":
        journal.append("touch", {}, change_id=ident, at=NOW)
    assert [line.id for line in tail.read()[0]] == ["a", "b", "c"]

    journal.remove(["b"])
    lines, again = tail.read()
    assert ([line.id for line in lines], again) == (["a", "c"], True)

    journal.remove(["a", "c"])
    assert not journal.path.exists()
    assert tail.read() == ([], True)
    assert tail.read() == ([], False)


def test_the_send_log_finds_the_claims_on_an_email_as_a_full_read_does(tmp_path: Path) -> None:
    log = state.SendLog(Journal(tmp_path / "book.pending.jsonl"))
    anna = state.Entry(DAY, "owner", "Anna", "anna@example.com", "", NOW)
    bert = state.Entry(DAY, "owner", "Bert", "bert@example.com", "", NOW)
    first = log.claim("run-1", anna)
    assert [c.id for c in log.about(DAY, "owner", "anna")] == [first]

    log.claim("run-1", bert)
    log.settle("run-1", first, state.WITHDRAWN, anna)
    second = log.claim("run-2", anna)
    log.settle("run-2", second, state.SENT, anna)

    found = log.about(DAY, "owner", "ÄNNA")
    assert [(c.id, c.outcome) for c in found] == [(first, state.WITHDRAWN), (second, state.SENT)]
    assert found == [c for c in state.claims(log.read()) if c.about(DAY, "owner", "Anna")]
    assert log.about(date(2026, 11, 28), "owner", "Anna") == []


def test_temporary_files_killed_runs_left_are_removed_once_an_hour_old(tmp_path: Path) -> None:
    from sheetfollow.notify.outbox import Outbox

    old = datetime.now().timestamp() - 2 * 3600
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    left = [
        outbox / ".2026-11-27-owner-anna.eml.k2j_8xq1.tmp",
        tmp_path / ".book.pending.jsonl.ab12cd34.tmp",
    ]
    kept = [
        outbox / ".2026-11-27-owner-bert.eml.fresh_01.tmp",  # a run writing it now
        outbox / ".notes.txt.ab12cd34.tmp",  # not ours
        outbox / "2026-11-27-owner-anna.eml.ab12cd34.tmp",
        tmp_path / ".other.pending.jsonl.ab12cd34.tmp",
    ]
    for path in left + kept:
        path.write_bytes(b"x")
    for path in left + kept[1:]:
        os.utime(path, (old, old))

    Outbox(outbox, DAY)
    journal = Journal(tmp_path / "book.pending.jsonl")
    for ident in "ab":
        journal.append("touch", {}, change_id=ident, at=NOW)
    journal.remove(["a"])  # rewrites the journal

    assert not any(path.exists() for path in left)
    assert all(path.exists() for path in kept)
