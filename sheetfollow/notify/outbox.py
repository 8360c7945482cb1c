"""Delivery without a mail server: every email becomes an .eml file in a folder."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import unicodedata
from datetime import date
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from pathlib import Path
from types import TracebackType

from sheetfollow.errors import SheetfollowError
from sheetfollow.files import remove_stale_temps
from sheetfollow.notify.message import Message
from sheetfollow.notify.mime import DEFAULT_SENDER, POLICY

#: Folder name of the default outbox, next to the workbook.
OUTBOX_NAME = "outbox"


def slug(text: str) -> str:
    """ "Zoë Müller" -> "zoe-muller", "sarah@example.com" -> "sarah-example-com"."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    words = re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")
    return words[:60].rstrip("-") or "x"


class OutboxError(SheetfollowError):
    """The outbox folder cannot be created or written."""


class Outbox:
    """Writes each email as DIR/<day>-<kind>-<key>.eml, atomically: a file that exists is
    complete, so a mail client or a script that picks files up never sees half of one."""

    #: "written": the word the run state and the report use for this kind of delivery.
    status = "written"

    def __init__(self, folder: Path, day: date, *, sender: str = DEFAULT_SENDER) -> None:
        self.folder = folder
        self.day = day
        self.sender = sender
        #: Names given in this run, so two keys with the same slug do not overwrite each other.
        self._taken: dict[str, str] = {}
        # What runs killed while writing an email left behind (not what one writes now).
        remove_stale_temps(folder, r".+\.eml")

    @property
    def label(self) -> str:
        return f"outbox {self.folder}"

    def __enter__(self) -> Outbox:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Nothing to end: each file is complete once written."""

    def path_for(self, message: Message) -> Path:
        base = f"{self.day.isoformat()}-{slug(message.kind)}-{slug(message.key)}"
        name, number = base, 1
        while self._taken.get(name, message.key) != message.key:
            number += 1
            name = f"{base}-{number}"
        self._taken[name] = message.key
        return self.folder / f"{name}.eml"

    def send(self, message: Message, mail: EmailMessage) -> str:
        """Write the file; returns its path, for the report."""
        path = self.path_for(message)
        write_atomically(path, mail.as_bytes(policy=POLICY))
        return str(path)


def holds(path: Path, message_id: str) -> bool:
    """Whether the outbox file `path` is the email with this Message-ID: a run that died
    after writing it, before it said so, did write it (files are complete or absent)."""
    try:
        with open(path, "rb") as handle:
            headers = BytesHeaderParser(policy=POLICY).parse(handle)
    except OSError:
        return False
    return bool(message_id) and str(headers.get("Message-ID", "")).strip() == message_id.strip()


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, then rename it into place."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
        )
    except OSError as exc:
        raise OutboxError(f"cannot write to {path.parent}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp_name, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise OutboxError(f"cannot write {path}: {exc.strerror or exc}") from None
