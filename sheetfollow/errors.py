"""One error root. The CLI turns every SheetfollowError into one line and an exit code."""

from __future__ import annotations

from sheetfollow.exit_codes import ExitCode


class SheetfollowError(Exception):
    """An error a user can act on. Its message is one plain sentence."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(SheetfollowError):
    """The command asked for something it should not do as given (e.g. replace a file)."""

    exit_code = ExitCode.USAGE


class ConfigError(SheetfollowError):
    """sheetfollow.toml is wrong. The message names the file and the key."""

    exit_code = ExitCode.CONFIG


class SheetError(SheetfollowError):
    """The sheet cannot be read or understood. The message names the file, tab or cell."""

    exit_code = ExitCode.SHEET


class BusyError(SheetfollowError):
    """Nothing was written: the workbook is open, locked, read-only or changed underneath us.

    Safe to retry. A command that has something to keep (a touch, an import, what was sent)
    puts it in the pending journal instead, to be applied by the next command that can write.
    """

    exit_code = ExitCode.BUSY

    def __init__(self, message: str, *, holder: str = "") -> None:
        super().__init__(message)
        #: Who holds the file, when known (the name Excel or LibreOffice wrote in its lock
        #: file), for messages like "held by Anna de Vries".
        self.holder = holder


class NoMatchError(SheetfollowError):
    """A name, ID or email that matches no prospect, or several. Nothing was changed."""

    exit_code = ExitCode.NO_MATCH

    def __init__(self, message: str, candidates: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        #: One line per candidate ("P-0012  Acme B.V.  Jan de Vries"), for the CLI to list.
        self.candidates = candidates


class RemoteError(SheetfollowError):
    """A remote service failed or refused."""

    exit_code = ExitCode.REMOTE
