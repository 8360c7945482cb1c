"""Exit codes: a contract that cron scripts rely on. Documented in the README."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0
    #: An unexpected error: a bug. The message says how to get the traceback.
    ERROR = 1
    #: The command line was wrong (unknown option, missing argument).
    USAGE = 2
    #: sheetfollow.toml is missing a value, has a wrong one, or cannot be read.
    CONFIG = 3
    #: The sheet cannot be read or understood: not found, not a workbook, no Prospects tab,
    #: required headers missing.
    SHEET = 4
    #: The run finished, but `check` found problems (or rows need attention).
    PROBLEMS = 5
    #: Nothing was written because the sheet is busy: open in Excel, locked by another run,
    #: or changed on disk while we worked. Safe to retry later.
    BUSY = 6
    #: Some emails could not be delivered; they are retried on the next run.
    DELIVERY = 7
    #: A remote service (Google Sheets, SMTP) failed or refused us.
    REMOTE = 8
    #: `mark` could not tell which prospect was meant: no match, or several (listed).
    NO_MATCH = 9
    #: Done, but the workbook could not be written (open in Excel, locked, read-only, or
    #: changed meanwhile): the changes wait in the pending journal beside it and are applied,
    #: exactly once, by the next command that can write. Emails went out.
    PENDING = 10
