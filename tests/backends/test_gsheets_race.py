"""Races on a Google Sheet, run as they happen: real sheetfollow processes against the fake
Sheets server, all at once, and people moving rows while a write is on its way.

The fake serves every request in turn, as Google applies each request atomically; what
these tests prove is what sheetfollow does between its requests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path
from typing import Any

from conftest import TODAY, Cli
from fakes.sheets_server import FakeSheets, SheetDate
from json_output import data_of

from backends.test_gsheets_touches import TOUCHES_TAB, Team, make_team, records, sf
from sheetfollow.exit_codes import ExitCode

KEY = "1RacesOnTheTeamSheet-abcdefghijklmnopqrstuvwx"
DAY = TODAY.isoformat()
#: Prospects enough for three people to mark eight each, none twice.
PEOPLE, MARKS = 3, 8
EXTRA = tuple(
    {
        "id": f"P-{n:04d}",
        "company": f"Prospect {n}",
        "owner": "Anna",
        "stage": "contacted",
        "value": 2000,
        "created": TODAY.replace(day=2),
        "last_contact": TODAY.replace(day=4),
        "last_outcome": "no answer",
        "attempts": 1,
    }
    for n in range(100, 100 + PEOPLE * MARKS + 2)
)


def team_of(fake: FakeSheets, folder: Path, cli: Cli) -> Team:
    """The team's sheet with the extra prospects, refreshed once (as every morning): the
    hidden tab of touch snapshots exists, as on any sheet in use."""
    team = make_team(fake, folder, KEY, EXTRA)
    sf(cli, team, "refresh")
    return team


def by_id(fake: FakeSheets) -> dict[str, dict[str, Any]]:
    return {str(r["ID"]): r for r in records(fake, KEY, "Prospects") if r.get("ID")}


def environment(team: Team) -> dict[str, str]:
    return {**os.environ, **team.env, "SHEETFOLLOW_DEBUG": "1"}


#: One person: waits for the start signal, then runs `sheetfollow mark` for each ID given,
#: each a command of its own (a new connection, token and read), and prints the exit codes.
PERSON = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from sheetfollow.cli import app

    go, config, *ids = sys.argv[1:]
    while not Path(go).exists():
        time.sleep(0.005)
    codes = []
    for ident in ids:
        try:
            app(["mark", ident, "no-answer", "--today", "DAY", "--config", config])
        except SystemExit as stop:
            codes.append(stop.code or 0)
    print(json.dumps(codes))
    """
).replace("DAY", DAY)


def test_marks_from_three_people_at_once_lose_no_log_row(
    sheets_server: FakeSheets, tmp_path: Path, cli: Cli
) -> None:
    fake = sheets_server
    team = team_of(fake, tmp_path / "team", cli)
    before = by_id(fake)
    log_before = len(records(fake, KEY, "Log"))
    touches_before = len(records(fake, KEY, TOUCHES_TAB))
    ids = [str(extra["id"]) for extra in EXTRA][: PEOPLE * MARKS]
    go = tmp_path / "go"
    people = [
        subprocess.Popen(
            [sys.executable, "-c", PERSON, str(go), str(team.config), *ids[n::PEOPLE]],
            cwd=team.folder,
            env=environment(team),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(PEOPLE)
    ]
    time.sleep(0.5)  # all three started (their imports done), waiting for the signal
    go.touch()
    outputs = [person.communicate(timeout=120) for person in people]
    for (out, err), person in zip(outputs, people, strict=True):
        assert person.returncode == 0, err
        assert json.loads(out.splitlines()[-1]) == [0] * MARKS, err
    # Every mark is in the Log and in the touch snapshots, once: none took another's row.
    log = records(fake, KEY, "Log")[log_before:]
    assert Counter(str(entry["ID"]) for entry in log) == Counter(ids)
    assert {entry["Outcome"] for entry in log} == {"no answer"}
    snapshots = records(fake, KEY, TOUCHES_TAB)[touches_before:]
    assert Counter(str(snap["ID"]) for snap in snapshots) == Counter(ids)
    after = by_id(fake)
    for ident in ids:
        assert after[ident]["Attempts"] == before[ident]["Attempts"] + 1, ident
        assert after[ident]["Last contact"] == SheetDate(TODAY), ident
    untouched = set(before) - set(ids)
    assert {i: after[i] for i in untouched} == {i: before[i] for i in untouched}
    assert not (team.journal.exists() and team.journal.read_text(encoding="utf-8").strip())


def test_a_row_inserted_while_a_mark_is_on_its_way_puts_no_cell_on_another_prospect(
    sheets_server: FakeSheets, tmp_path: Path, cli: Cli
) -> None:
    fake = sheets_server
    team = team_of(fake, tmp_path / "team", cli)
    target = str(EXTRA[10]["id"])
    rows = records(fake, KEY, "Prospects")
    before = by_id(fake)
    newcomer = ["P-0999", "Newcomer Ltd"]
    # A person inserts a prospect at the top after sheetfollow checked the IDs, before
    # Google applies its write: every row below moves down one.
    fake.before_next_write(lambda: fake.insert_rows(KEY, "Prospects", 2, [newcomer]))
    done = subprocess.run(
        [sys.executable, "-m", "sheetfollow", "mark", target, "no-answer", "--json",
         "--today", DAY, "--config", str(team.config)],
        cwd=team.folder, env=environment(team), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == ExitCode.OK, done.stderr
    after = by_id(fake)
    assert set(after) == {*before, "P-0999"}
    # Not one cell of another prospect changed; the newcomer is as it was typed.
    for ident, row in before.items():
        if ident != target:
            assert after[ident] == row, ident
    assert [after["P-0999"][h] for h in ("ID", "Company")] == newcomer
    assert not any(v for h, v in after["P-0999"].items() if h not in ("ID", "Company"))
    # The touch is on its prospect, now one row further down.
    mine = after[target]
    assert (mine["Attempts"], mine["Last outcome"]) == (before[target]["Attempts"] + 1, "No answer")
    assert mine["Last contact"] == SheetDate(TODAY)
    assert records(fake, KEY, "Prospects")[len(rows)]["ID"] == rows[-1]["ID"]
    # It says so, plainly.
    report = data_of(done.stdout)
    [warning] = report["skipped"]
    assert f"rows of 'Prospects' moved while the cells of {target} were on their way" in warning
    log = records(fake, KEY, "Log")
    assert [str(entry["ID"]) for entry in log].count(target) == 1
