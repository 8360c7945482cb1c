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

from sheetfollow.backends.xlsx import XlsxBackend
from sheetfollow.errors import BusyError, SheetError
from sheetfollow.sheet import CellWrite, TabChanges


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


# --------------------------------------------------------------------------- saves while we work
# test_xlsx_race.py runs these races between real processes at random moments; here each
# lands at one exact moment of the commit, so every path and message is checked every time.

import ctypes  # noqa: E402  (the imports of the tests appended below)
import errno  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import datetime, timedelta  # noqa: E402
from typing import Any  # noqa: E402

from sheetfollow.backends import xlsx  # noqa: E402

OVERTAKEN = "was saved by someone else while sheetfollow worked; nothing was overwritten"


def save_over(path: Path, data: bytes, *, same_size_and_time: bool = False) -> None:
    """Another program's save: a new file renamed over the workbook. With same_size_and_time
    it keeps the size and modification time, so only its bytes tell it apart."""
    before = os.stat(path)
    temp = path.with_name("~other.tmp")
    temp.write_bytes(data)
    if same_size_and_time:
        assert len(data) == before.st_size
        os.utime(temp, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(temp, path)


def flipped(data: bytes) -> bytes:
    changed = bytearray(data)
    changed[-30] ^= 0x01  # in the zip's central directory: a different file, same size
    return bytes(changed)


def during_verify(monkeypatch: pytest.MonkeyPatch, action: Callable[[], None]) -> None:
    """Run `action` once the new version is written, just before the backup and replace."""
    real = XlsxBackend._verify

    def verify(self: XlsxBackend, *args: Any) -> None:
        real(self, *args)
        action()

    monkeypatch.setattr(XlsxBackend, "_verify", verify)


def no_exchange(monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    """As on a system without renameat2 ("missing"), or a file system that refuses it."""
    if how == "missing":
        monkeypatch.setattr(xlsx, "_renameat2", lambda: None)
        return

    def refuse(*args: object) -> int:
        ctypes.set_errno(errno.EINVAL)
        return -1

    monkeypatch.setattr(xlsx, "_renameat2", lambda: refuse)


def backups_of(path: Path) -> list[bytes]:
    folder = path.parent / ".sheetfollow" / "backups"
    return [p.read_bytes() for p in sorted(folder.iterdir())] if folder.exists() else []


@pytest.mark.parametrize("replace", ["exchange", "missing", "refused"])
@pytest.mark.parametrize("same_size_and_time", [False, True])
def test_a_save_landing_during_the_commit_is_kept_and_the_change_refused(
    workbook: Path, monkeypatch: pytest.MonkeyPatch, replace: str, same_size_and_time: bool
) -> None:
    if replace != "exchange":
        no_exchange(monkeypatch, replace)
    read = workbook.read_bytes()
    theirs = flipped(read) if same_size_and_time else read + b"their save"
    backend = XlsxBackend(workbook)
    backend.read_tab("Prospects")
    during_verify(
        monkeypatch, lambda: save_over(workbook, theirs, same_size_and_time=same_size_and_time)
    )

    with pytest.raises(BusyError) as raised:
        backend.write(status("due"))

    assert str(raised.value) == f"{workbook} {OVERTAKEN}"
    assert workbook.read_bytes() == theirs
    assert backups_of(workbook) == [read], "the backup is the version read, not theirs"
    assert [p.name for p in workbook.parent.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.parametrize("replace", ["exchange", "missing", "refused"])
def test_without_other_saves_each_way_of_replacing_writes(
    workbook: Path, monkeypatch: pytest.MonkeyPatch, replace: str
) -> None:
    if replace != "exchange":
        no_exchange(monkeypatch, replace)
    read = workbook.read_bytes()

    XlsxBackend(workbook).write(status("due"))

    assert status_on_disk(workbook) == "due"
    assert backups_of(workbook) == [read]
    assert [p.name for p in workbook.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_a_second_save_between_the_two_exchanges_ends_up_as_the_workbook(
    workbook: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    read = workbook.read_bytes()
    first, second = flipped(read), read + b"their second save"
    backend = XlsxBackend(workbook)
    backend.read_tab("Prospects")
    # The first save keeps size and time, so only the exchange's own check can see it; the
    # second lands between our exchange and the exchange back.
    during_verify(monkeypatch, lambda: save_over(workbook, first, same_size_and_time=True))
    real, calls = xlsx._exchange, []

    def exchange(a: Path, b: Path) -> bool:
        done = real(a, b)
        calls.append(done)
        if len(calls) == 1:
            save_over(workbook, second)
        return done

    monkeypatch.setattr(xlsx, "_exchange", exchange)

    with pytest.raises(BusyError, match=OVERTAKEN):
        backend.write(status("due"))

    assert workbook.read_bytes() == second, "the last save is the workbook"
    assert sorted(backups_of(workbook)) == sorted([read, first]), "the one before is kept"
    assert [p.name for p in workbook.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_a_replace_refused_as_on_windows_is_busy_in_one_line(
    workbook: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Windows refuses to replace a file another program holds open (Excel does).
    no_exchange(monkeypatch, "missing")
    real = os.replace

    def replace(src: object, dst: object) -> None:
        if Path(str(dst)) == workbook:
            raise PermissionError(errno.EACCES, "Access is denied", str(workbook))
        real(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(xlsx.os, "replace", replace)
    before = workbook.read_bytes()

    with pytest.raises(BusyError) as raised:
        XlsxBackend(workbook).write(status("due"))

    assert str(raised.value) == (
        f"{workbook} could not be replaced (Access is denied); is it open in another program?"
    )
    assert workbook.read_bytes() == before
    assert [p.name for p in workbook.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_only_our_own_temporary_files_an_hour_old_are_removed(workbook: Path) -> None:
    folder = workbook.parent
    backups = folder / ".sheetfollow" / "backups"
    backups.mkdir(parents=True)
    hours_ago = (datetime.now() - timedelta(hours=1, minutes=5)).timestamp()
    ours = [folder / ".pipeline.xlsx.k3v9_x0q.tmp", backups / ".pipeline.xlsx.a1b2c3d4.tmp"]
    kept = [
        folder / ".pipeline.xlsx.fresh_01.tmp",  # a killed run's, but not an hour old
        folder / ".pipeline.xlsx.tmp",
        folder / ".pipeline.xlsx.ABCDEFGH.tmp",
        folder / ".pipeline.xlsx.abcdefghi.tmp",
        folder / ".other.xlsx.abcdefgh.tmp",
        folder / "pipeline.xlsx.abcdefgh.tmp",
        folder / ".pipeline.xlsx.abcdefgh.tmp.keep",
    ]
    for path in ours + kept:
        path.write_bytes(b"left behind")
        if path.name != ".pipeline.xlsx.fresh_01.tmp":
            os.utime(path, (hours_ago, hours_ago))
    target = folder / "precious.txt"
    target.write_text("not ours")
    link = folder / ".pipeline.xlsx.symlink0.tmp"
    link.symlink_to(target)
    os.utime(link, (hours_ago, hours_ago), follow_symlinks=False)
    directory = folder / ".pipeline.xlsx.folder00.tmp"
    directory.mkdir()
    os.utime(directory, (hours_ago, hours_ago))

    XlsxBackend(workbook).write(status("due"))

    assert not any(path.exists() for path in ours)
    assert all(path.exists() for path in kept)
    assert link.is_symlink() and target.read_text() == "not ours"
    assert directory.is_dir()


def test_nothing_is_cleaned_up_without_a_write(workbook: Path) -> None:
    leftover = workbook.parent / ".pipeline.xlsx.k3v9_x0q.tmp"
    leftover.write_bytes(b"left behind")
    hours_ago = (datetime.now() - timedelta(hours=2)).timestamp()
    os.utime(leftover, (hours_ago, hours_ago))

    XlsxBackend(workbook).read_tab("Prospects")
    assert XlsxBackend(workbook).write(status("new", row=4)).cells_written == 0

    assert leftover.exists()
