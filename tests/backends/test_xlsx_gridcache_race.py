"""The parse cache under several real processes at once: people marking calls and reading
their lists while the others write. Every write stores entries and every read may take them;
whatever the interleaving, no touch is lost or doubled, every entry left is a full read of
the file, every table of pieces left describes the part it is kept for, and a command
answers the same with the cache as without it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest
from json_output import data_of

from backends.test_xlsx_gridcache import TODAY, _ids, _realistic, current_entries
from backends.test_xlsx_segments import described_by_its_table
from sheetfollow.backends.xlsx import XlsxBackend


def sheetfollow(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "sheetfollow", *args, "--sheet", "pipeline.xlsx", "--today", TODAY],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert done.returncode == 0, done.stderr
    return done


def logged(path: Path) -> Counter[tuple[str, str]]:
    """(ID, note) of every Log row."""
    table = XlsxBackend(path).read_tab("Log")
    assert table is not None
    header = [str(value) for value in table.rows[0]]
    ident, note = header.index("ID"), header.index("Note")
    return Counter((str(row[ident]), str(row[note])) for row in table.rows[1:] if row[ident])


@pytest.mark.parametrize("rows", [400, 3000])
def test_marks_and_reads_from_several_processes_at_once(tmp_path: Path, rows: int) -> None:
    """At 3,000 rows the Prospects part is big enough (2 MB) to be packed in pieces whose
    table is kept: each `mark` packs again only the pieces it changes."""
    path = _realistic(tmp_path / "pipeline.xlsx", rows)
    (tmp_path / ".sheetfollow").mkdir()
    sheetfollow(tmp_path, "refresh")
    sheetfollow(tmp_path, "due", "--json")  # the morning: every tab's entry kept
    assert {"Prospects", "Owners"} <= current_entries(path)
    assert described_by_its_table(path, "Prospects") == (rows > 1000)
    before = logged(path)
    chosen = _ids(path, 60)[10:34]  # 24 prospects, 8 for each of 3 people
    # Each person marks their calls one after the other and reads their list in between;
    # a mark that finds the workbook busy keeps its touch in the pending journal (exit 10).
    script = textwrap.dedent(
        """
        import subprocess, sys
        def run(*args):
            return subprocess.run([sys.executable, "-m", "sheetfollow", *args, "--sheet",
                                   "pipeline.xlsx", "--today", "TODAY"],
                                  capture_output=True, text=True)
        for ident in sys.argv[1:]:
            done = run("mark", ident, "no-answer", "--note", "race " + ident)
            assert done.returncode in (0, 10), done.stderr
            done = run("due", "--json")
            assert done.returncode == 0, done.stderr
        """
    ).replace("TODAY", TODAY)
    people = [
        subprocess.Popen([sys.executable, "-c", script, *chosen[n::3]], cwd=tmp_path)
        for n in range(3)
    ]
    assert [person.wait(timeout=600) for person in people] == [0, 0, 0]
    sheetfollow(tmp_path, "refresh")  # applies whatever waited in the journal
    added = logged(path) - before
    assert added == Counter({(ident, f"race {ident}"): 1 for ident in chosen})
    # Every entry left is a full read of the file (current_entries checks each it finds),
    # and the day's list is the same with the cache as without it.
    assert "Prospects" in current_entries(path)
    assert described_by_its_table(path, "Prospects") == (rows > 1000)
    warm = data_of(sheetfollow(tmp_path, "due", "--json").stdout)
    cold_folder = tmp_path / "cold"
    cold_folder.mkdir()
    shutil.copyfile(path, cold_folder / "pipeline.xlsx")
    cold = data_of(sheetfollow(cold_folder, "due", "--json").stdout)
    assert warm == cold
    assert len(warm) > 0
