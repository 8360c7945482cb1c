"""Every touch counts, tried as a team lives with its workbook: calls typed into the sheet
(saved by openpyxl or by LibreOffice), a colleague's Excel holding the file while people
mark calls and cron runs, and a command killed between writing and clearing the journal.

The workbook is the shipped example; the commands run as real processes where locks,
concurrency or kills are involved.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from backends.test_xlsx_locks import excel_owner_file
from conftest import Cli, file_state
from json_output import data_of
from soffice import SOFFICE, soffice_convert

from sheetfollow import starter
from sheetfollow.exit_codes import ExitCode
from sheetfollow.staged import Staged

TODAY = date(2026, 11, 27)  # a Friday
DAY = TODAY.isoformat()

#: Five different touches, as a person types them: ID, Last outcome, Follow up on.
TYPED: list[tuple[str, str, date | None]] = [
    ("P-0127", "No answer", None),  # overdue after two unanswered calls: a third
    ("P-0164", "Reached", None),  # a new lead, never called
    ("P-0052", "Won", None),  # a quote that was sent
    ("P-0037", "No answer", None),  # a delivered customer: the check-in call
    ("P-0111", "Call back", date(2026, 12, 10)),  # a call back, with its date typed too
]
#: The same touches as `mark` arguments.
MARKED = [
    ["P-0127", "no-answer"],
    ["P-0164", "reached"],
    ["P-0052", "won"],
    ["P-0037", "no-answer"],
    ["P-0111", "call-back", "--on", "2026-12-10"],
]
#: The columns a touch changes in a row, and the ones sheetfollow works out.
ROW_COLUMNS = (
    "Stage",
    "Last contact",
    "Last outcome",
    "Attempts",
    "Follow up on",
    "Next follow-up",
    "Status",
    "Step",
    "Why",
    "Assigned to",
)


def sheetfollow(
    folder: Path, *args: str, check: int | None = 0
) -> subprocess.CompletedProcess[str]:
    """The real command in a process of its own, run from `folder`."""
    done = subprocess.run(
        [sys.executable, "-m", "sheetfollow", *args, "--today", DAY],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200", "SHEETFOLLOW_DEBUG": "1"},
    )
    if check is not None:
        assert done.returncode == check, done.stdout + done.stderr
    return done


@pytest.fixture
def team(tmp_path: Path) -> Path:
    """The example workbook, refreshed once (which takes the first snapshot)."""
    starter.init(tmp_path / "pipeline.xlsx", example=True, today=TODAY)
    sheetfollow(tmp_path, "refresh")
    return tmp_path


def rows(path: Path, tab: str = "Prospects") -> list[dict[str, Any]]:
    book = openpyxl.load_workbook(path)
    values = [[cell.value for cell in row] for row in book[tab].iter_rows()]
    header = [str(h) for h in values[0]]
    # openpyxl keeps rows that only carry a style; they hold nothing.
    filled = [row for row in values[1:] if any(v not in (None, "") for v in row)]
    return [dict(zip(header, row, strict=False)) for row in filled]


def by_id(path: Path) -> dict[str, dict[str, Any]]:
    return {row["ID"]: row for row in rows(path) if row.get("ID")}


def log(path: Path) -> list[dict[str, Any]]:
    return rows(path, "Log")


def type_in(path: Path, touches: list[tuple[str, str, date | None]], day: date = TODAY) -> None:
    """What a person does in Excel: type the day and the outcome (and a date), then save."""
    book = openpyxl.load_workbook(path)
    sheet = book["Prospects"]
    header = [cell.value for cell in sheet[1]]
    column = {name: header.index(name) + 1 for name in header if name}
    where = {sheet.cell(r, column["ID"]).value: r for r in range(2, sheet.max_row + 1)}
    for ident, outcome, follow_up in touches:
        number = where[ident]
        when = datetime.combine(day, datetime.min.time())
        sheet.cell(number, column["Last contact"]).value = when
        sheet.cell(number, column["Last outcome"]).value = outcome
        if follow_up is not None:
            sheet.cell(number, column["Follow up on"]).value = follow_up
    book.save(path)


def save_with_libreoffice(path: Path, work: Path) -> None:
    """Open and save the workbook in LibreOffice, which rewrites the whole file its way."""
    assert SOFFICE is not None
    out = work / "lo"
    soffice_convert([path], "xlsx:Calc MS Excel 2007 XML", out, profile=work / "profile")
    shutil.copyfile(out / path.name, path)


def journal_lines(folder: Path) -> list[dict[str, Any]]:
    files = list((folder / ".sheetfollow").glob("*.pending.jsonl"))
    return [json.loads(line) for f in files for line in f.read_text().splitlines() if line]


# --- Typed touches ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "saved_by",
    [
        "openpyxl",
        pytest.param(
            "libreoffice",
            marks=[
                pytest.mark.soffice,
                pytest.mark.skipif(SOFFICE is None, reason="LibreOffice is not installed"),
            ],
        ),
    ],
)
def test_calls_typed_into_the_sheet_are_recorded_exactly_like_mark(
    team: Path, saved_by: str
) -> None:
    workbook, marked = team / "pipeline.xlsx", team / "marked.xlsx"
    shutil.copyfile(workbook, marked)
    log_before = log(workbook)
    type_in(workbook, TYPED)
    if saved_by == "libreoffice":
        save_with_libreoffice(workbook, team)
    for args in MARKED:
        sheetfollow(team, "mark", *args, "--date", DAY, "--sheet", str(marked))

    typed = sheetfollow(team, "refresh")
    assert "5 typed touches recorded:" in typed.stdout
    for ident, *_ in TYPED:
        assert ident in typed.stdout

    # The rows: exactly what mark gave.
    mine, theirs = by_id(workbook), by_id(marked)
    for ident, *_ in TYPED:
        got = {name: mine[ident][name] for name in ROW_COLUMNS}
        want = {name: theirs[ident][name] for name in ROW_COLUMNS}
        got["Last outcome"] = str(got["Last outcome"]).lower()  # as typed, vs the team's word
        want["Last outcome"] = str(want["Last outcome"]).lower()
        assert got == want, ident
    # The check-in of the customer stays due; the third no answer counts.
    assert mine["P-0037"]["Step"] == "check-in"
    assert mine["P-0127"]["Attempts"] == 3
    assert mine["P-0164"]["Stage"] == "Contacted"

    # The Log: one row per touch, as mark wrote it, noted as typed and by the row's owner.
    new = log(workbook)[len(log_before) :]
    marks = log(marked)[len(log_before) :]
    assert len(new) == len(marks) == 5

    def key(entry: dict[str, Any]) -> tuple[Any, ...]:
        return (entry["ID"], entry["By"], entry["Outcome"], entry["Next follow-up"])

    assert sorted(map(key, new)) == sorted(map(key, marks))
    assert {entry["Note"] for entry in new} == {"typed in the sheet"}
    assert all(entry["When"].date() == TODAY for entry in new)

    # Nothing more on the next refresh.
    state = file_state(workbook)
    again = sheetfollow(team, "refresh")
    assert "typed touch" not in again.stdout
    assert file_state(workbook) == state


def test_the_first_run_and_new_rows_invent_no_touch(tmp_path: Path) -> None:
    starter.init(tmp_path / "pipeline.xlsx", example=True, today=TODAY)
    workbook = tmp_path / "pipeline.xlsx"
    log_before = log(workbook)
    first = sheetfollow(tmp_path, "refresh")
    assert "typed touch" not in first.stdout
    assert log(workbook) == log_before
    book = openpyxl.load_workbook(workbook)
    assert book["sheetfollow_touches"].sheet_state == "hidden"
    # A row pasted in with a call already on it is taken as it is.
    sheet = book["Prospects"]
    header = [cell.value for cell in sheet[1]]
    new = sheet.max_row + 1
    for name, value in {
        "ID": "P-0999",
        "Company": "Pasted B.V.",
        "Owner": "Anna",
        "Stage": "Contacted",
        "Created": datetime(2026, 11, 2),
        "Last contact": datetime(2026, 11, 20),
        "Last outcome": "No answer",
        "Attempts": 1,
    }.items():
        sheet.cell(new, header.index(name) + 1).value = value
    book.save(workbook)
    sheetfollow(tmp_path, "refresh")
    assert log(workbook) == log_before
    # From then on a call typed on it counts.
    type_in(workbook, [("P-0999", "Voicemail", None)])
    sheetfollow(tmp_path, "refresh")
    assert [(e["ID"], e["Outcome"]) for e in log(workbook)[len(log_before) :]] == [
        ("P-0999", "voicemail")
    ]
    assert by_id(workbook)["P-0999"]["Attempts"] == 2


def test_corrections_and_edits_are_not_calls(team: Path) -> None:
    workbook = team / "pipeline.xlsx"
    type_in(workbook, TYPED[:2])
    sheetfollow(team, "refresh")
    count = len(log(workbook))
    # A date fixed to the day before, an outcome fixed on the same day, Attempts set by
    # hand, a date typed without an outcome yet.
    book = openpyxl.load_workbook(workbook)
    sheet = book["Prospects"]
    header = [cell.value for cell in sheet[1]]
    col = {name: header.index(name) + 1 for name in header if name}
    where = {sheet.cell(r, col["ID"]).value: r for r in range(2, sheet.max_row + 1)}
    sheet.cell(where["P-0127"], col["Last contact"]).value = datetime(2026, 11, 26)
    sheet.cell(where["P-0164"], col["Last outcome"]).value = "Interested"
    sheet.cell(where["P-0060"], col["Attempts"]).value = 1
    sheet.cell(where["P-0194"], col["Last contact"]).value = datetime(2026, 11, 27)
    book.save(workbook)
    dry = sheetfollow(team, "refresh", "--dry-run")
    assert "typed touch" not in dry.stdout
    sheetfollow(team, "refresh")
    assert len(log(workbook)) == count
    rows_now = by_id(workbook)
    assert rows_now["P-0060"]["Attempts"] == 1  # the person's value stays
    # Once the outcome of the new lead's call is typed, that call is recorded, on its day.
    type_in(workbook, [("P-0194", "Voicemail", None)])
    check = sheetfollow(team, "check", check=None)
    assert "1 typed touch to record" in check.stdout
    assert "P-0194" in check.stdout
    sheetfollow(team, "refresh")
    added = log(workbook)[count:]
    assert [(e["ID"], e["Outcome"], e["When"].date()) for e in added] == [
        ("P-0194", "voicemail", TODAY)
    ]


# --- A workbook held open by a colleague ---------------------------------------------------


def test_marks_and_the_morning_run_go_on_while_excel_holds_the_workbook(team: Path) -> None:
    workbook = team / "pipeline.xlsx"
    lock = team / "~$pipeline.xlsx"
    lock.write_bytes(excel_owner_file("Anna de Vries"))
    held = file_state(workbook)
    log_before = log(workbook)
    before = by_id(workbook)

    calls = [["P-0127", "no-answer"], ["P-0164", "reached"], ["P-0052", "quote-sent"]]
    for args in calls:
        done = sheetfollow(team, "mark", *args, check=ExitCode.PENDING)
        assert "open in Excel by Anna de Vries" in done.stderr
        assert "kept in" in done.stderr
        assert "recorded for" in done.stdout
    assert file_state(workbook) == held
    assert [line["data"]["id"] for line in journal_lines(team)] == ["P-0127", "P-0164", "P-0052"]

    # Reading commands see the calls as made.
    due = data_of(sheetfollow(team, "due", "--json").stdout)
    assert not {row["id"] for row in due} & {"P-0127", "P-0164"}
    pending = sheetfollow(team, "pending")
    assert "3 changes waiting" in pending.stdout

    # The morning run sends every list, and says the write-back waits.
    outbox = team / "outbox"
    run = sheetfollow(team, "run", "--outbox", str(outbox), check=ExitCode.PENDING)
    sent = sorted(p.name for p in outbox.glob("*.eml"))
    assert sent and len(sent) >= 5, run.stdout
    assert file_state(workbook) == held
    # Run again while Excel still has it: nothing is sent twice.
    sheetfollow(team, "run", "--outbox", str(outbox), check=ExitCode.PENDING)
    assert sorted(p.name for p in outbox.glob("*.eml")) == sent

    # Excel is closed: the next refresh writes everything, once.
    lock.unlink()
    sheetfollow(team, "refresh")
    after = by_id(workbook)
    assert after["P-0127"]["Attempts"] == before["P-0127"]["Attempts"] + 1
    assert after["P-0164"]["Last outcome"] == "Reached"
    assert after["P-0052"]["Stage"] == "Quote"
    added = Counter(entry["ID"] for entry in log(workbook)[len(log_before) :])
    assert added == Counter({"P-0127": 1, "P-0164": 1, "P-0052": 1})
    assert journal_lines(team) == []
    state = rows(workbook, "sheetfollow_state")
    assert len(state) == len(sent)
    # And nothing is sent again today.
    sheetfollow(team, "run", "--outbox", str(outbox))
    assert sorted(p.name for p in outbox.glob("*.eml")) == sent
    assert len(log(workbook)) == len(log_before) + 3


def test_marks_from_several_people_at_once_are_all_kept(team: Path) -> None:
    lock = team / "~$pipeline.xlsx"
    lock.write_bytes(excel_owner_file("Bram"))
    ids = [row["ID"] for row in rows(team / "pipeline.xlsx")[:60] if row.get("ID")]
    chosen = [ids[n] for n in range(0, 36, 3)]  # 12 prospects
    script = textwrap.dedent(
        """
        import subprocess, sys
        for ident in sys.argv[1:]:
            done = subprocess.run(
                [sys.executable, "-m", "sheetfollow", "mark", ident, "voicemail",
                 "--today", "DAY"], capture_output=True, text=True)
            assert done.returncode == 10, done.stderr
        """
    ).replace("DAY", DAY)
    people = [
        subprocess.Popen([sys.executable, "-c", script, *chosen[n::3]], cwd=team) for n in range(3)
    ]
    assert [person.wait(timeout=300) for person in people] == [0, 0, 0]
    assert sorted(line["data"]["id"] for line in journal_lines(team)) == sorted(chosen)
    log_before = len(log(team / "pipeline.xlsx"))
    lock.unlink()
    sheetfollow(team, "refresh")
    added = log(team / "pipeline.xlsx")[log_before:]
    assert sorted(entry["ID"] for entry in added) == sorted(chosen)


def test_a_command_killed_between_writing_and_clearing_the_journal_applies_nothing_twice(
    team: Path,
) -> None:
    workbook = team / "pipeline.xlsx"
    lock = team / "~$pipeline.xlsx"
    lock.write_bytes(excel_owner_file("Bram"))
    sheetfollow(team, "mark", "P-0127", "no-answer", "--note", "left a message", check=10)
    lock.unlink()
    log_before = len(log(workbook))
    # A refresh that dies (SIGKILL) the moment after its write, before the journal is
    # cleared: the touch is in the workbook, the journal line is still there.
    killer = textwrap.dedent(
        """
        import os, signal, sys
        from sheetfollow import journal
        journal.Journal.remove = lambda self, ids: os.kill(os.getpid(), signal.SIGKILL)
        from sheetfollow.cli import app
        sys.argv = ["sheetfollow", "refresh", "--today", "DAY"]
        app()
        """
    ).replace("DAY", DAY)
    killed = subprocess.run([sys.executable, "-c", killer], cwd=team, capture_output=True)
    assert killed.returncode == -signal.SIGKILL
    assert len(log(workbook)) == log_before + 1
    assert len(journal_lines(team)) == 1
    # The next command finds the change in the workbook and only clears the line.
    sheetfollow(team, "refresh")
    assert len(journal_lines(team)) == 0
    entries = [e for e in log(workbook) if e["Note"] == "left a message"]
    assert len(entries) == 1
    assert by_id(workbook)["P-0127"]["Attempts"] == 3


def test_a_change_that_no_longer_fits_is_held_reported_and_kept(team: Path) -> None:
    workbook = team / "pipeline.xlsx"
    lock = team / "~$pipeline.xlsx"
    lock.write_bytes(excel_owner_file("Bram"))
    sheetfollow(team, "mark", "P-0127", "no-answer", check=10)
    sheetfollow(team, "mark", "P-0164", "reached", check=10)
    # Meanwhile, in Excel, someone deletes P-0127's row and saves.
    book = openpyxl.load_workbook(workbook)
    sheet = book["Prospects"]
    header = [cell.value for cell in sheet[1]]
    for number in range(2, sheet.max_row + 1):
        if sheet.cell(number, header.index("ID") + 1).value == "P-0127":
            sheet.delete_rows(number)
            break
    book.save(workbook)
    lock.unlink()
    done = sheetfollow(team, "refresh")
    assert "is held: P-0127 is no longer in the tab 'Prospects'" in done.stdout
    assert by_id(workbook)["P-0164"]["Last outcome"] == "Reached"
    lines = journal_lines(team)
    assert [line["data"]["id"] for line in lines] == ["P-0127"]
    listed = sheetfollow(team, "pending")
    assert "held: P-0127 is no longer in the tab" in listed.stdout
    sheetfollow(team, "pending", "--drop", lines[0]["id"][:8])
    assert journal_lines(team) == []
    assert "nothing is waiting" in sheetfollow(team, "pending").stdout


def test_a_mark_reads_one_row_and_leaves_other_typed_calls_to_the_next_run(team: Path) -> None:
    # mark looks at its own row only: a call typed into another row meanwhile is neither
    # recorded nor lost by it (that row's snapshot is left as it was), and the next refresh
    # records it as it records any typed call.
    workbook = team / "pipeline.xlsx"
    log_before = log(workbook)
    type_in(workbook, [TYPED[0], TYPED[1]])  # P-0127 and P-0164
    marked = sheetfollow(team, "mark", "P-0127", "reached", "--date", DAY)
    assert "P-0127" in marked.stdout
    after_mark = log(workbook)[len(log_before) :]
    # P-0127's typed call first, then the mark; nothing of P-0164 yet.
    assert [(entry["ID"], entry["Outcome"]) for entry in after_mark] == [
        ("P-0127", "no answer"),
        ("P-0127", "reached"),
    ]
    assert by_id(workbook)["P-0164"]["Last outcome"] == "Reached"  # as typed, still there

    refreshed = sheetfollow(team, "refresh")
    assert "1 typed touch recorded:" in refreshed.stdout
    assert "P-0164" in refreshed.stdout and "P-0127" not in refreshed.stdout
    new = log(workbook)[len(log_before) + len(after_mark) :]
    assert [(entry["ID"], entry["Outcome"]) for entry in new] == [("P-0164", "reached")]
    assert by_id(workbook)["P-0164"]["Stage"] == "Contacted"


def test_due_lets_the_rows_go_and_still_sees_the_calls_typed(
    team: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`due` only reads: it lets go of the Prospects rows once they are understood (70 MB at
    200,000 prospects). The calls typed into the sheet are applied to what it reads all the
    same (the tab is read again from the parse cache to apply them; the next write records
    them), so its list is the one `due` gives once a refresh has recorded them."""
    other = team.parent / "other"
    shutil.copytree(team, other)
    untyped = {row["id"] for row in data_of(sheetfollow(other, "due", "--json").stdout)}
    for folder in (team, other):
        type_in(folder / "pipeline.xlsx", TYPED)
    state = file_state(team / "pipeline.xlsx")
    released: list[tuple[str, bool]] = []
    real = Staged.release

    def release(self: Staged, tab: str) -> bool:
        released.append((tab, real(self, tab)))
        return released[-1][1]

    monkeypatch.setattr(Staged, "release", release)
    result = cli("due", "--json", "--today", DAY)
    assert result.exit_code == 0, result.output
    assert released == [("Prospects", True)]
    assert file_state(team / "pipeline.xlsx") == state  # nothing written

    typed = sheetfollow(other, "refresh")
    assert "5 typed touches recorded:" in typed.stdout
    after = data_of(sheetfollow(other, "due", "--json").stdout)
    assert data_of(result.stdout) == after
    # Rows due before the calls were typed are not once they are.
    ids = {ident for ident, *_ in TYPED}
    assert ids & untyped and not ids & {row["id"] for row in after}
    # Once recorded, the rows are let go as well, and the list is the same.
    sheetfollow(team, "refresh")
    released.clear()
    again = cli("due", "--json", "--today", DAY)
    assert again.exit_code == 0, again.output
    assert released == [("Prospects", True)]
    assert data_of(again.stdout) == after
