"""Small file-system helpers shared by the workbook writer, the pending journal and the
outbox."""

from __future__ import annotations

import contextlib
import os
import re
import stat
from datetime import datetime, timedelta
from pathlib import Path


def fsync_folder(folder: Path) -> None:
    """Make a rename or a new file in `folder` durable (POSIX; a no-op elsewhere)."""
    if os.name != "posix":
        return
    # Some network file systems refuse to sync a directory; the rename itself has happened.
    with contextlib.suppress(OSError):
        handle = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


#: A temporary file of ours older than this was left by a run that was killed.
STALE_TEMP_AGE = timedelta(hours=1)


def remove_stale_temps(folder: Path, names: str, age: timedelta = STALE_TEMP_AGE) -> None:
    """Remove what killed runs left in `folder`: the temporary files that
    `tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp")` makes for a file whose name
    matches the regular expression `names`, untouched for `age`. No run still writes a file
    that old; nothing else is ever removed."""
    pattern = re.compile(r"\.(?:" + names + r")\.[a-z0-9_]{8}\.tmp")
    oldest = datetime.now().timestamp() - age.total_seconds()
    try:
        listed = os.listdir(folder)
    except OSError:
        return
    for found in listed:
        if not pattern.fullmatch(found):
            continue
        with contextlib.suppress(OSError):
            info = os.lstat(folder / found)
            if stat.S_ISREG(info.st_mode) and info.st_mtime < oldest:
                os.unlink(folder / found)
