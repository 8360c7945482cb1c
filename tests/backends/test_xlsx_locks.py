"""Who holds the workbook (Excel's and LibreOffice's lock files) and read-only folders and files.

The owner files are built byte for byte as LibreOffice writes and reads them
(svl/source/misc/msodocumentlockfile.cxx, reverse-engineered from MS Office 2016).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook
from xlsx_fixtures import STATUS_COLUMN, make_feature_workbook

from sheetfollow.backends.lockfiles import LockFile, find_lock, is_stale
from sheetfollow.backends.xlsx import XlsxBackend
from sheetfollow.errors import BusyError, SheetError
from sheetfollow.sheet import CellWrite, TabChanges

EXCEL_OWNER_FILE_SIZE = 165
LIBREOFFICE_LINE = (
    "{name},anna,laptop-anna,11.03.2026 09:15,file:///home/anna/.config/libreoffice/4;"
)


def excel_owner_file(name: str, *, utf16_at: int = 55) -> bytes:
    """An Excel owner file: the name's length, the name in cp1252 padded with spaces, at
    utf16_at the length as 2 bytes and the name in UTF-16-LE, then space-and-zero padding.
    Excel puts the UTF-16 copy at 55; Word's owner files (and the layout as first described
    to us) at 54."""
    data = bytes([len(name)]) + name.encode("cp1252", errors="replace")
    data = data.ljust(utf16_at, b" ")
    data += len(name).to_bytes(2, "little") + name.encode("utf-16-le")
    while len(data) < EXCEL_OWNER_FILE_SIZE:
        data += b" \x00"
    return data[:EXCEL_OWNER_FILE_SIZE]


def status(value: str, row: int = 2) -> list[TabChanges]:
    return [TabChanges("Prospects", cells=[CellWrite(row, STATUS_COLUMN, value)])]


def status_on_disk(path: Path, row: int = 2) -> object:
    sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Prospects")
    return sheet.to_python(skip_empty_area=False)[row - 1][STATUS_COLUMN - 1]


def set_age(path: Path, age: timedelta) -> None:
    moment = (datetime.now(timezone.utc) - age).timestamp()
    os.utime(path, (moment, moment))


def refused(path: Path, **options: object) -> BusyError:
    """The BusyError a write raises, after checking it left the workbook as it was."""
    before = path.read_bytes()
    with pytest.raises(BusyError) as raised:
        XlsxBackend(path, **options).write(status("due"))  # type: ignore[arg-type]
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []
    return raised.value


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    path = tmp_path / "pipeline.xlsx"
    make_feature_workbook(path)
    return path


# ------------------------------------------------------------------ reading the lock files


@pytest.mark.parametrize("utf16_at", [55, 54])
@pytest.mark.parametrize("name", ["Anna de Vries", "Lucía Núñez", "Łucja Żak-Øberg"])
def test_an_excel_owner_file_names_who_has_the_workbook_open(
    workbook: Path, name: str, utf16_at: int
) -> None:
    owner = workbook.parent / "~$pipeline.xlsx"
    owner.write_bytes(excel_owner_file(name, utf16_at=utf16_at))
    assert owner.stat().st_size == EXCEL_OWNER_FILE_SIZE

    lock = find_lock(workbook)

    assert lock is not None
    assert (lock.path, lock.program, lock.holder) == (owner, "Excel", name)
    assert abs(lock.modified - datetime.now(timezone.utc)) < timedelta(minutes=1)


def test_the_utf16_copy_is_preferred_to_the_ansi_one(workbook: Path) -> None:
    data = excel_owner_file("Łucja Żak")
    assert data[1:10] == b"?ucja ?ak"  # neither "Ł" nor "Ż" has a place in cp1252
    (workbook.parent / "~$pipeline.xlsx").write_bytes(data)

    lock = find_lock(workbook)

    assert lock is not None and lock.holder == "Łucja Żak"


def test_without_its_utf16_copy_the_ansi_name_is_read_as_cp1252(workbook: Path) -> None:
    data = excel_owner_file("Lucía Núñez")[:60]  # cut inside the UTF-16 copy
    assert data[1:12] == "Lucía Núñez".encode("cp1252")
    (workbook.parent / "~$pipeline.xlsx").write_bytes(data)

    lock = find_lock(workbook)

    assert lock is not None and lock.holder == "Lucía Núñez"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"owner", id="text"),
        pytest.param(excel_owner_file("Anna de Vries")[:6], id="cut-inside-the-name"),
        pytest.param(b"\x00" + excel_owner_file("Anna de Vries")[1:], id="length-zero"),
        pytest.param(b"\xff" * EXCEL_OWNER_FILE_SIZE, id="all-ones"),
        pytest.param(
            b"\x05\x81\x8d\x8f\x90\x9d".ljust(55, b" ") + b"\x05\x00" + b"\x00\xd8" * 5,
            id="no-valid-encoding",
        ),
    ],
)
def test_a_garbled_excel_owner_file_still_stops_a_write_without_a_holder(
    workbook: Path, data: bytes
) -> None:
    (workbook.parent / "~$pipeline.xlsx").write_bytes(data)

    lock = find_lock(workbook)
    error = refused(workbook)

    assert lock is not None and (lock.program, lock.holder) == ("Excel", "")
    assert str(error) == (
        "pipeline.xlsx is open in Excel (~$pipeline.xlsx exists); close it or use --force"
    )
    assert error.holder == ""


def test_an_owner_file_that_cannot_be_read_still_stops_a_write(workbook: Path) -> None:
    (workbook.parent / "~$pipeline.xlsx").mkdir()  # open() fails on it, even for root

    lock = find_lock(workbook)
    error = refused(workbook)

    assert lock is not None and lock.holder == ""
    assert "is open in Excel (~$pipeline.xlsx exists)" in str(error)


@pytest.mark.parametrize(
    ("line", "holder"),
    [
        pytest.param(LIBREOFFICE_LINE.format(name="Anna de Vries"), "Anna de Vries", id="name"),
        pytest.param(LIBREOFFICE_LINE.format(name="Lucía Núñez"), "Lucía Núñez", id="utf-8"),
        pytest.param(LIBREOFFICE_LINE.format(name="de Vries\\, Anna"), "de Vries, Anna", id="esc"),
        # No name under Tools > Options > User Data: LibreOffice shows the system user.
        pytest.param(LIBREOFFICE_LINE.format(name=""), "anna", id="no-name-set"),
        pytest.param(",", "", id="garbled"),
        pytest.param("\udcff", "", id="not-utf-8"),
    ],
)
def test_a_libreoffice_lock_names_who_has_the_workbook_open(
    workbook: Path, line: str, holder: str
) -> None:
    lock_path = workbook.parent / ".~lock.pipeline.xlsx#"
    lock_path.write_bytes(line.encode("utf-8", errors="surrogateescape"))

    lock = find_lock(workbook)
    error = refused(workbook)

    assert lock is not None and (lock.program, lock.holder) == ("LibreOffice", holder)
    assert error.holder == holder
    if holder:
        assert str(error) == (
            f"pipeline.xlsx is open in LibreOffice by {holder} (.~lock.pipeline.xlsx#); "
            "close it or use --force"
        )
    else:
        assert str(error) == (
            "pipeline.xlsx is open in LibreOffice (.~lock.pipeline.xlsx# exists); "
            "close it or use --force"
        )


def test_libreoffice_writing_an_excel_owner_file_too_is_still_libreoffice(workbook: Path) -> None:
    (workbook.parent / "~$pipeline.xlsx").write_bytes(excel_owner_file("Anna de Vries"))
    (workbook.parent / ".~lock.pipeline.xlsx#").write_text(
        LIBREOFFICE_LINE.format(name="Anna de Vries"), encoding="utf-8"
    )

    lock = find_lock(workbook)

    assert lock is not None and (lock.program, lock.holder) == ("LibreOffice", "Anna de Vries")


def test_no_lock_file_no_lock(workbook: Path) -> None:
    assert find_lock(workbook) is None


# ------------------------------------------------------------------ refusing, fresh or stale


def test_refuses_naming_who_has_it_open_in_excel(workbook: Path) -> None:
    (workbook.parent / "~$pipeline.xlsx").write_bytes(excel_owner_file("Anna de Vries"))

    error = refused(workbook)

    assert str(error) == (
        "pipeline.xlsx is open in Excel by Anna de Vries (~$pipeline.xlsx); close it or use --force"
    )
    assert error.holder == "Anna de Vries"


def test_a_lock_left_for_days_with_no_save_since_is_called_stale(workbook: Path) -> None:
    owner = workbook.parent / "~$pipeline.xlsx"
    owner.write_bytes(excel_owner_file("Lucía Núñez"))
    set_age(owner, timedelta(days=3, hours=2))
    set_age(workbook, timedelta(days=3, hours=5))

    error = refused(workbook)

    assert str(error) == (
        "pipeline.xlsx: ~$pipeline.xlsx (Lucía Núñez, left 3 days ago) looks stale: nobody has "
        "saved the workbook since; delete it if nobody has the file open, or use --force"
    )
    assert error.holder == "Lucía Núñez"


def test_a_stale_lock_without_a_name_says_when_it_was_left(workbook: Path) -> None:
    owner = workbook.parent / "~$pipeline.xlsx"
    owner.write_bytes(b"owner")
    set_age(owner, timedelta(hours=2, minutes=10))
    set_age(workbook, timedelta(hours=3))

    error = refused(workbook, stale_lock_after=timedelta(minutes=30))

    assert str(error).startswith("pipeline.xlsx: ~$pipeline.xlsx (left 2 hours ago) looks stale")
    assert error.holder == ""


@pytest.mark.parametrize(
    ("lock_age", "workbook_age"),
    [
        pytest.param(timedelta(days=3), timedelta(minutes=5), id="saved-since"),
        pytest.param(timedelta(minutes=5), timedelta(days=3), id="opened-recently"),
        pytest.param(timedelta(hours=11), timedelta(hours=11), id="within-12-hours"),
    ],
)
def test_a_lock_is_not_stale_while_either_file_is_recent(
    workbook: Path, lock_age: timedelta, workbook_age: timedelta
) -> None:
    lock_path = workbook.parent / ".~lock.pipeline.xlsx#"
    lock_path.write_text(LIBREOFFICE_LINE.format(name="Anna de Vries"), encoding="utf-8")
    set_age(lock_path, lock_age)
    set_age(workbook, workbook_age)

    error = refused(workbook)

    assert str(error).startswith("pipeline.xlsx is open in LibreOffice by Anna de Vries")


def test_is_stale_when_neither_file_changed_for_longer_than_the_limit() -> None:
    now = datetime(2026, 3, 11, 12, 0, tzinfo=timezone.utc)
    hours = [now - timedelta(hours=n) for n in range(30)]
    limit = timedelta(hours=12)

    def lock(modified: datetime) -> LockFile:
        return LockFile(Path("~$pipeline.xlsx"), "Excel", "Anna", modified)

    assert is_stale(lock(hours[20]), hours[13], now, limit)
    assert not is_stale(lock(hours[20]), hours[12], now, limit)  # exactly the limit
    assert not is_stale(lock(hours[20]), hours[1], now, limit)
    assert not is_stale(lock(hours[2]), hours[20], now, limit)


@pytest.mark.parametrize("stale", [False, True])
def test_force_still_writes_over_an_excel_lock(workbook: Path, stale: bool) -> None:
    owner = workbook.parent / "~$pipeline.xlsx"
    owner.write_bytes(excel_owner_file("Anna de Vries"))
    if stale:
        set_age(owner, timedelta(days=3))
        set_age(workbook, timedelta(days=3))

    XlsxBackend(workbook).write(status("due"), force=True)

    assert status_on_disk(workbook) == "due"
    assert owner.read_bytes() == excel_owner_file("Anna de Vries")


# ------------------------------------------------------------------ read-only folders and files

WRITE_AS = textwrap.dedent(
    """
    import json, os, shutil, sys, tempfile
    from pathlib import Path
    from sheetfollow.sheet import CellWrite, TabChanges
    from sheetfollow.backends.xlsx import XlsxBackend

    path, column, uid = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    changes = [TabChanges("Prospects", cells=[CellWrite(2, column, "due")])]
    if uid != os.geteuid():
        # Rehearse on a private copy first: modules and codecs imported on first use cannot
        # be loaded once this process has dropped to a user who cannot read the interpreter.
        with tempfile.TemporaryDirectory() as scratch:
            copy = Path(scratch) / path.name
            shutil.copy(path, copy)
            XlsxBackend(copy).write(changes)
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
        except OSError as exc:
            print(json.dumps({"skip": f"cannot become uid {uid}: {exc}"}))
            sys.exit()
    if not os.access(path, os.R_OK):
        print(json.dumps({"skip": f"uid {uid} cannot read {path}"}))
        sys.exit()
    try:
        XlsxBackend(path).write(changes)
    except Exception as exc:
        error = {"type": type(exc).__name__, "message": str(exc)}
        print(json.dumps({**error, "holder": getattr(exc, "holder", None)}))
    else:
        print(json.dumps({"type": None}))
    """
)


@pytest.fixture
def share() -> Iterator[Path]:
    """A folder another user can reach: tmp_path is private to root when the tests run as
    root. Its modes are set by each test and put back for clean-up."""
    folder = Path(tempfile.mkdtemp(prefix="sheetfollow-share-"))
    try:
        yield folder
    finally:
        for path in [folder, *folder.rglob("*")]:
            with contextlib.suppress(OSError):
                os.chmod(path, 0o700)
        shutil.rmtree(folder, ignore_errors=True)


def write_as_someone_else(path: Path) -> dict[str, object]:
    """Run a write in a real process as a user the modes apply to: `nobody` when the tests
    run as root (root ignores them), otherwise the current user."""
    uid = 65534 if os.geteuid() == 0 else os.geteuid()
    done = subprocess.run(
        [sys.executable, "-c", WRITE_AS, str(path), str(STATUS_COLUMN), str(uid)],
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    if "skip" in result:
        pytest.skip(str(result["skip"]))
    return result


def prepare(share: Path, *, folder: int, file: int, side: int | None = None) -> Path:
    path = share / "pipeline.xlsx"
    make_feature_workbook(path)
    if side is not None:
        (share / ".sheetfollow").mkdir()
        os.chmod(share / ".sheetfollow", side)
    os.chmod(path, file)
    os.chmod(share, folder)
    return path


@pytest.mark.parametrize(
    ("folder", "file", "side", "where"),
    [
        pytest.param(0o555, 0o666, None, "the folder {share} is read-only", id="folder"),
        pytest.param(0o777, 0o444, None, "the file is read-only", id="file"),
        pytest.param(
            0o777, 0o666, 0o555, "the folder {share}/.sheetfollow is read-only", id="side"
        ),
    ],
)
def test_a_read_only_share_or_file_is_busy_not_broken(
    share: Path, folder: int, file: int, side: int | None, where: str
) -> None:
    path = prepare(share, folder=folder, file=file, side=side)
    before = path.read_bytes()

    result = write_as_someone_else(path)

    assert result == {
        "type": "BusyError",
        "message": f"{path} cannot be written: {where.format(share=share)} (Permission denied)",
        "holder": "",
    }
    assert path.read_bytes() == before
    assert [p.name for p in share.iterdir() if p.name.endswith(".tmp")] == []


def test_the_same_user_writes_once_the_share_is_writable(share: Path) -> None:
    path = prepare(share, folder=0o777, file=0o666)

    assert write_as_someone_else(path) == {"type": None}
    assert status_on_disk(path) == "due"


# A file system that refuses every write (EROFS) or fills up (ENOSPC) cannot be made here
# without mounting one, so these two inject the system's answer where the temporary copy is
# created; the answers themselves are the kernel's.


def test_a_read_only_file_system_found_late_is_busy(
    workbook: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> tuple[int, str]:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(workbook.parent / ".x.tmp"))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)

    error = refused(workbook)

    assert str(error) == (
        f"{workbook} cannot be written: the folder {workbook.parent} is read-only "
        "(Read-only file system)"
    )


def test_a_full_disk_stays_a_sheet_error(workbook: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*args: object, **kwargs: object) -> tuple[int, str]:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(workbook.parent / ".x.tmp"))

    monkeypatch.setattr(tempfile, "mkstemp", full)
    before = workbook.read_bytes()

    with pytest.raises(SheetError) as raised:
        XlsxBackend(workbook).write(status("due"))

    assert not isinstance(raised.value, BusyError)
    assert str(raised.value) == f"{workbook} cannot be written: No space left on device"
    assert workbook.read_bytes() == before
