"""The touch snapshots read lazily (snapshot.Snapshots): the same snapshots as parsing every
row of the hidden tab, and `unchanged` deciding from the cells what Snap.same_touch decides,
on a real workbook whose hidden tab holds the cells people and other tools leave there."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import Tab, write_workbook

from sheetfollow import snapshot, vocab
from sheetfollow.config import Config
from sheetfollow.models import Outcome, Prospect, Stage
from sheetfollow.service import open_backend
from sheetfollow.sheet import Backend

D20, D27, D30 = date(2026, 11, 20), date(2026, 11, 27), date(2026, 11, 30)
SEEN = date(2026, 12, 1)
NA = Outcome.NO_ANSWER

#: (ID, Last contact, Last outcome, Attempts, Stage, Follow up on, Recorded, Seen, Change)
ROWS: list[list[object]] = [
    ["P-1", D20, "no answer", 2, "contacted", None, None, SEEN, None],
    ["P-2", D20, "No Answer", 2, "Contacted", None, None, SEEN, None],  # typed by hand
    ["P-3", "2026-11-20", "no answer", 2, "contacted", None, None, SEEN, None],  # text date
    ["P-4", D20, "no answer", 1, "contacted", None, None, SEEN, None],
    ["P-4", D27, "voicemail", 2, "contacted", None, None, None, None],  # no Seen: skipped
    ["P-5", D20, "no answer", "2", "contacted", D30, D20, SEEN, "abc"],  # Attempts as text
    ["P-6", D20, "no answer"],  # cut short: no Seen, no snapshot
    ["P-7", datetime(2026, 11, 20, 9, 30), "reached", 0, None, None, None, SEEN, None],
    [" p-8 ", None, None, 0, "new", None, None, SEEN, None],  # spaces and case in the ID
    ["P-9", D20, "no answer", 2, "contacted", None, None, "01-12-2026", None],  # text Seen
    ["P-1", D27, "voicemail", 3, "contacted", D30, D27, SEEN, "x1"],  # P-1's later row wins
]


@pytest.fixture()
def snaps(tmp_path: Path) -> tuple[snapshot.Snapshots, dict[str, snapshot.Snap]]:
    """A fresh read (no row parsed yet), and what parsing every row gives: the last
    readable row of each ID."""
    config = Config()
    backend, every = touches_tab(tmp_path, config, ROWS)
    return snapshot.read_snapshots(backend, config), every


def touches_tab(
    folder: Path, config: Config, rows: list[list[Any]]
) -> tuple[Backend, dict[str, snapshot.Snap]]:
    """A workbook whose touches tab holds `rows`, opened, and every ID's Snap as parsing
    every row gives it."""
    path = write_workbook(
        folder / "pipeline.xlsx",
        Tab("Prospects", [["ID", "Company"], ["P-1", "Acme"]]),
        Tab(config.tabs.touches, [list(snapshot.COLUMNS), *rows]),
    )
    backend = open_backend(str(path), config)
    return backend, {snapshot.key(s.id): s for s in snapshot._all(backend, config)}


def test_the_same_snapshots_as_parsing_every_row(
    snaps: tuple[snapshot.Snapshots, dict[str, snapshot.Snap]],
) -> None:
    lazy, every = snaps
    assert dict(lazy) == every
    assert set(every) == {"p-1", "p-2", "p-3", "p-4", "p-5", "p-7", "p-8", "p-9"}
    assert lazy.get("p-6") is None and "p-6" not in lazy and len(lazy) == len(every)
    assert every["p-4"].last_contact == D20  # the unreadable last row does not count
    assert every["p-1"].change == "x1"


def _variants(snap: snapshot.Snap) -> list[Prospect]:
    """The prospect whose touch columns hold what `snap` saw, then one per column changed."""
    same = Prospect(
        row=2,
        id=snap.id,
        last_contact=snap.last_contact,
        last_outcome=snap.last_outcome,
        attempts=snap.attempts,
        stage=snap.stage,
        follow_up_on=snap.follow_up_on,
    )
    changed = [
        Prospect(**{**_fields(same), "last_contact": D30}),
        Prospect(**{**_fields(same), "last_contact": None}),
        Prospect(**{**_fields(same), "last_outcome": Outcome.REACHED}),
        Prospect(**{**_fields(same), "last_outcome": None}),
        Prospect(**{**_fields(same), "attempts": snap.attempts + 1}),
        Prospect(**{**_fields(same), "stage": Stage.QUOTE}),
        Prospect(**{**_fields(same), "follow_up_on": date(2027, 1, 4)}),
    ]
    return [same, *(p for p in changed if p != same)]


def _fields(prospect: Prospect) -> dict[str, object]:
    return {name: getattr(prospect, name) for name in Prospect.__slots__}


def test_unchanged_decides_as_the_snap_does(
    snaps: tuple[snapshot.Snapshots, dict[str, snapshot.Snap]],
) -> None:
    lazy, every = snaps
    keyed = [(key, p) for key, snap in every.items() for p in _variants(snap)]
    keyed += [("p-6", Prospect(row=3, id="P-6")), ("", Prospect(row=4))]
    # What P-4's last row holds: that row has no Seen day, so it is no snapshot.
    unseen = Prospect(row=5, id="P-4", last_contact=D27, last_outcome=Outcome.VOICEMAIL)
    unseen = replace(unseen, attempts=2, stage=Stage.CONTACTED)
    assert lazy.unchanged([("p-4", unseen)]) == [False]  # asked first, of the fresh read
    keyed.append(("p-4", unseen))
    wanted = [key in every and every[key].same_touch(p) for key, p in keyed]
    # A fresh read, every row as its snapshot saw it: all unchanged, and the rows as
    # sheetfollow writes them (P-1's, P-8's) told so without making their Snap.
    same = [(key, _variants(snap)[0]) for key, snap in every.items()]
    assert lazy.unchanged(same) == [True] * len(same)
    assert "p-1" not in lazy._parsed and "p-8" not in lazy._parsed
    # Words and dates typed by hand, a last row without its Seen day: read as a Snap.
    assert {"p-2", "p-3", "p-4"} <= set(lazy._parsed)
    assert lazy.unchanged(keyed) == wanted
    assert wanted.count(True) == len(every)  # each snapshot matches its own row only


def test_each_word_written_reads_as_the_member_it_equals() -> None:
    # Snapshots.unchanged compares a cell's word with the member: that is only right while
    # every member equals its word, and that word reads back as that member.
    for member in Outcome:
        assert member == member.value
        assert vocab.OUTCOME_ALIASES[vocab.normalise(member.value)] is member
    for stage in Stage:
        assert stage == stage.value
        assert vocab.STAGE_ALIASES[vocab.normalise(stage.value)] is stage


def test_a_workbook_without_the_tab_has_no_snapshots(tmp_path: Path) -> None:
    config = Config()
    path = write_workbook(tmp_path / "p.xlsx", Tab("Prospects", [["ID"], ["P-1"]]))
    lazy = snapshot.read_snapshots(open_backend(str(path), config), config)
    assert not lazy and len(lazy) == 0 and lazy.unchanged([("p-1", Prospect(row=2))]) == [False]


@pytest.mark.parametrize("ids", [["P-1", None], [" P-1 ", 1001.0]], ids=["text", "mixed"])
def test_one_id_read_alone_is_its_snapshot_among_all(tmp_path: Path, ids: list[object]) -> None:
    """read_snapshot (mark's: one ID, without the others' Snaps) finds each ID's last
    readable row, whether the ID column holds only text and blanks (looked up in C) or a
    number too, and finds nothing for an ID the tab does not have."""
    config = Config()
    rows = [*ROWS, [ids[0], D30, "reached", 0, "contacted", None, D30, SEEN, "y2"]]
    rows += [[ids[1], D20, "no answer", 1, "contacted", None, None, SEEN, None], [None, D20]]
    backend, every = touches_tab(tmp_path, config, rows)
    for ident in [*every, "P-6", "p-10", "1001", ""]:
        assert snapshot.read_snapshot(backend, config, ident) == every.get(snapshot.key(ident))
    assert snapshot.read_snapshot(backend, config, "p-1") == every["p-1"]
    assert every["p-1"].change == "y2"
