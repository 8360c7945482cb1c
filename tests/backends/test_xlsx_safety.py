"""A write is all or nothing, never collides, and never lands on someone else's save."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook
from xlsx_fixtures import STATUS_COLUMN, make_feature_workbook

from sheetfollow.backends.base import CellWrite, TabChanges
from sheetfollow.backends.xlsx import XlsxBackend
from sheetfollow.errors import BusyError, SheetError


def status(value: str, row: int = 2) -> list[TabChanges]:
    return [TabChanges("Prospects", cells=[CellWrite(row, STATUS_COLUMN, value)])]


def status_on_disk(path: Path, row: int = 2) -> object:
    sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Prospects")
    return sheet.to_python(skip_empty_area=False)[row - 1][STATUS_COLUMN - 1]


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    path = tmp_path / "pipeline.xlsx"
    make_feature_workbook(path)
    return path


def test_refuses_while_excel_has_the_file_open(workbook: Path) -> None:
    (workbook.parent / "~$pipeline.xlsx").write_bytes(b"owner")
    data = workbook.read_bytes()

    with pytest.raises(BusyError) as raised:
        XlsxBackend(workbook).write(status("due"))

    assert str(raised.value) == (
        "pipeline.xlsx is open in Excel (~$pipeline.xlsx exists); close it or use --force"
    )
    assert workbook.read_bytes() == data


def test_force_writes_despite_a_stale_excel_lock_file(workbook: Path) -> None:
    (workbook.parent / "~$pipeline.xlsx").write_bytes(b"owner")

    XlsxBackend(workbook).write(status("due"), force=True)

    assert status_on_disk(workbook) == "due"


def test_refuses_while_libreoffice_has_the_file_open(workbook: Path) -> None:
    (workbook.parent / ".~lock.pipeline.xlsx#").write_text("user,host")
    with pytest.raises(BusyError, match="open in LibreOffice"):
        XlsxBackend(workbook).write(status("due"))


def test_nothing_to_change_is_not_refused_while_open(workbook: Path) -> None:
    (workbook.parent / "~$pipeline.xlsx").write_bytes(b"owner")
    result = XlsxBackend(workbook).write(status("new", row=4))
    assert result.cells_written == 0


def test_refuses_when_the_file_changed_since_it_was_read(workbook: Path, tmp_path: Path) -> None:
    backend = XlsxBackend(workbook)
    assert backend.read_tab("Prospects") is not None
    XlsxBackend(workbook).write(status("won", row=3))  # someone else's save
    theirs = workbook.read_bytes()

    for force in (False, True):
        with pytest.raises(BusyError, match="changed on disk since it was read; run again"):
            backend.write(status("due"), force=force)

    assert workbook.read_bytes() == theirs


def test_a_same_size_same_time_change_is_caught_by_its_content(workbook: Path) -> None:
    backend = XlsxBackend(workbook)
    backend.tab_names()
    stat = os.stat(workbook)
    data = bytearray(workbook.read_bytes())
    data[-30] ^= 0x01  # one flipped bit; size and modification time stay the same
    workbook.write_bytes(bytes(data))
    os.utime(workbook, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    with pytest.raises(BusyError, match="changed on disk"):
        backend.write(status("due"))


def test_atomic_write_leaves_no_temporary_file(workbook: Path) -> None:
    os.chmod(workbook, 0o640)

    XlsxBackend(workbook).write(status("due"))

    assert sorted(p.name for p in workbook.parent.iterdir()) == [".sheetfollow", "pipeline.xlsx"]
    assert os.stat(workbook).st_mode & 0o777 == 0o640
    with zipfile.ZipFile(workbook) as package:
        assert package.testzip() is None


def test_a_failed_write_leaves_the_original_and_no_temporary_file(workbook: Path) -> None:
    side = workbook.parent / ".sheetfollow"
    side.mkdir()
    (side / "backups").write_text("a file where the backups folder should be")
    data = workbook.read_bytes()

    with pytest.raises(SheetError, match=r"pipeline\.xlsx cannot be written"):
        XlsxBackend(workbook).write(status("due"))

    assert workbook.read_bytes() == data
    assert sorted(p.name for p in workbook.parent.iterdir()) == [".sheetfollow", "pipeline.xlsx"]


def test_backups_keep_the_previous_versions_and_rotate(workbook: Path) -> None:
    backend = XlsxBackend(workbook, backups=2)
    before_each_write = []
    for word in ["due", "overdue", "dead", "won"]:
        before_each_write.append(workbook.read_bytes())
        backend.write(status(word))

    folder = workbook.parent / ".sheetfollow" / "backups"
    kept = sorted(folder.iterdir())
    assert all(p.name.startswith("pipeline.") and p.suffix == ".xlsx" for p in kept)
    assert [p.read_bytes() for p in kept] == before_each_write[-2:]


def test_backups_can_be_turned_off(workbook: Path) -> None:
    XlsxBackend(workbook, backups=0).write(status("due"))
    assert not (workbook.parent / ".sheetfollow" / "backups").exists()


HOLD_LOCK = textwrap.dedent(
    """
    import sys
    import filelock
    lock = filelock.FileLock(sys.argv[1])
    lock.acquire()
    print("locked", flush=True)
    sys.stdin.read()
    lock.release()
    """
)


def test_refuses_while_another_run_holds_the_lock(workbook: Path) -> None:
    side = workbook.parent / ".sheetfollow"
    side.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(side / "pipeline.xlsx.lock")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        backend = XlsxBackend(workbook)
        backend.lock_timeout = 0
        data = workbook.read_bytes()

        with pytest.raises(BusyError, match="another sheetfollow run"):
            backend.write(status("due"))

        assert workbook.read_bytes() == data
    finally:
        holder.communicate("")
    assert holder.returncode == 0

    XlsxBackend(workbook).write(status("due"))
    assert status_on_disk(workbook) == "due"


def test_refuses_when_a_row_no_longer_holds_the_expected_id(workbook: Path) -> None:
    changes = TabChanges(
        "Prospects",
        cells=[CellWrite(2, STATUS_COLUMN, "due")],
        expected_ids={2: "P0002"},
        id_column=1,
    )
    with pytest.raises(BusyError, match="row 2 of Prospects no longer holds ID 'P0002'"):
        XlsxBackend(workbook).write([changes])

    changes.expected_ids = {2: "P0001"}
    assert XlsxBackend(workbook).write([changes]).cells_written == 1


def test_a_write_that_would_not_read_back_leaves_the_workbook_as_it_was(
    workbook: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Inject the failure the guard exists for: a part rewritten into broken XML.
    from sheetfollow.backends import _xlsxml

    path = workbook
    before = path.read_bytes()
    real = _xlsxml.add_sheet_entry

    def broken(data: bytes, *args: object) -> bytes:
        return real(data, *args).replace(b"</sheets>", b"<sheets>")  # type: ignore[arg-type]

    monkeypatch.setattr(_xlsxml, "add_sheet_entry", broken)
    with pytest.raises(SheetError, match="was not changed: the new version did not read back"):
        XlsxBackend(path).write([TabChanges(tab="State", create=True, new_headers={1: "Day"})])
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []
