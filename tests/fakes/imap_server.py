"""A real IMAP server on loopback for the tests: Dovecot (/usr/sbin/dovecot), started by the
tests in a temp dir, with a certificate the tests made. .ci/run installs dovecot-imapd; where
Dovecot is missing, the tests that use it are skipped with the reason.

The API, for tests:

    def test_something(imap_server: ImapAccount) -> None:
        imap_server.deliver(raw_bytes)                    # a new message in INBOX
        imap_server.deliver(raw_bytes, "sheetfollow/review")   # or in any folder (created)
        ...                                               # code under test reads / moves
        imap_server.folder_messages("sheetfollow/done")   # -> list[bytes], in UID order
        imap_server.stored("INBOX")                       # -> list[Stored(uid, raw, flags)]
        imap_server.folders()                             # -> ["INBOX", "sheetfollow/done", ...]

`imap_server` (function scope) is a fresh, empty mailbox (a new user) on one Dovecot that
runs for the whole session (`dovecot`). An ImapAccount has:

    host         "127.0.0.1"
    port         plain IMAP port: STARTTLS, or a plain login (Dovecot trusts loopback)
    tls_port     IMAPS port: TLS from the start
    user, password
    ca_file      Path of the CA certificate that signed the server's (for localhost and
                 127.0.0.1): what [inbox] ca_file points at
    separator    the server's hierarchy separator ("/" unless started otherwise)
    prefix       what personal folder names start with ("" unless started otherwise)
    deliver(raw, folder="INBOX")   store a message as a mail server delivering it would
                 (with `doveadm save`), creating the folder when missing; its UID
    flag(folder, uid, *flags)      add flags such as "\\Deleted" to one message
    create_folder(folder)
    folder_messages(folder="INBOX") -> list[bytes]      what is in the folder, from disk, with
                 CRLF line ends as IMAP hands them out (Dovecot keeps LF on disk and adds
                 the CR when serving: compare what the code under test fetched with this)
    stored(folder="INBOX") -> list[Stored]              the same with UID and flags
    folders() -> list[str]                              every folder, sorted
    subscribed() -> list[str]                           the folders subscribed to
    inbox_toml(security="tls", **keys) -> str   an [inbox] section for sheetfollow.toml
    env() -> dict[str, str]            {"SHEETFOLLOW_IMAP_PASSWORD": password}
    server       the DovecotServer (its .log() is Dovecot's log, for assertion messages)

Folder names in this API are always written with "/" between levels and in plain Unicode
("Opvolging/Afgehandeld ✓"), whatever the server's separator; the fixture reads and writes
the mailbox with `doveadm` and from disk (maildir, folder names stored as UTF-8), never
through the code under test, so a mistake in its IMAP encoding cannot hide itself.

A server with other settings is a context manager: `with DovecotServer(separator=".",
without=("MOVE",), prefix="INBOX.") as server: account = server.add_user()` (about 0.1 s
to start).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import pytest
from fakes.smtp_server import LOCALHOST, Certificates, free_port, make_certificates

if sys.platform != "win32":  # conftest imports this everywhere; Dovecot runs on POSIX only
    import pwd

DOVECOT = Path("/usr/sbin/dovecot")
DOVEADM = Path("/usr/bin/doveadm")

#: Dovecot's login processes refuse to run as root: as root the tests use the users the
#: Debian package creates, and the mailboxes belong to `nobody`.
_ROOT_LOGIN_USER = "dovenull"
_ROOT_INTERNAL_USER = "dovecot"
_ROOT_MAIL_USER = "nobody"

#: What Dovecot 2.3 announces after login; a test server can go `without` some of it.
_CAPABILITIES = (
    "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES "
    "THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN "
    "NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT "
    "SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY "
    "PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY"
)


def missing_reason() -> str | None:
    """Why a real Dovecot cannot run here, or None."""
    if not DOVECOT.exists() or not DOVEADM.exists():
        return f"Dovecot is not installed ({DOVECOT}, {DOVEADM}; .ci/run installs dovecot-imapd)"
    if os.getuid() == 0:
        for name in (_ROOT_LOGIN_USER, _ROOT_INTERNAL_USER, _ROOT_MAIL_USER):
            try:
                pwd.getpwnam(name)
            except KeyError:
                return f"the user {name} that Dovecot runs as is missing"
    return None


@dataclass(frozen=True)
class Stored:
    """One message as it lies in the mailbox."""

    uid: int
    #: The message as IMAP hands it out (CRLF line ends).
    raw: bytes
    #: Maildir's letters: S seen, T deleted (\\Deleted), F flagged, R answered, D draft.
    flags: str

    @property
    def deleted(self) -> bool:
        return "T" in self.flags

    @property
    def seen(self) -> bool:
        return "S" in self.flags


_CONF = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = {host}
default_internal_user = {internal_user}
default_login_user = {login_user}
first_valid_uid = 1
auth_failure_delay = 0
auth_mechanisms = plain login
mail_fsync = never
ssl = required
ssl_min_protocol = TLSv1.2
ssl_cert = <{cert}
ssl_key = <{key}
mail_location = maildir:~/Maildir:LAYOUT=fs:UTF-8:INBOX=~/Maildir/INBOX
{capability}
namespace inbox {{
  inbox = yes
  separator = {separator}
  prefix = {prefix}
}}
passdb {{
  driver = passwd-file
  args = {root}/users/%u
}}
userdb {{
  driver = passwd-file
  args = {root}/users/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = {host}
    port = {port}
  }}
  inet_listener imaps {{
    address = {host}
    port = {tls_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
  # No auth penalty: one test's wrong password must not slow every later login.
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""


class DovecotServer:
    """One Dovecot master process (`dovecot -F`) with its own config, ports and mailboxes
    in a temp dir. `separator`: between folder levels ("/" like most servers, "." like
    Dovecot's and Cyrus' defaults); `without`: capabilities it does not announce after login
    ("MOVE", "UIDPLUS"), to meet an older server; `prefix`: what the names of personal
    folders start with ("INBOX." on Courier-style servers)."""

    def __init__(
        self, *, separator: str = "/", without: tuple[str, ...] = (), prefix: str = ""
    ) -> None:
        reason = missing_reason()
        if reason:
            pytest.skip(reason)
        self.host = LOCALHOST
        self.separator = separator
        self.without = without
        self.prefix = prefix
        self.port = free_port()
        self.tls_port = free_port()
        # Not under pytest's tmp dirs: those are 0700, and Dovecot's login processes (not
        # root) must reach the sockets in base_dir.
        self.root = Path(tempfile.mkdtemp(prefix="sheetfollow-dovecot-"))
        self.root.chmod(0o755)
        self.certs: Certificates = make_certificates(self.root / "certs")
        self.config = self.root / "dovecot.conf"
        self.process: subprocess.Popen[bytes] | None = None
        self._users = 0

    # --- Running -----------------------------------------------------------------------

    def __enter__(self) -> DovecotServer:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        (self.root / "run").mkdir()
        (self.root / "state").mkdir()
        (self.root / "home").mkdir()
        (self.root / "users").mkdir()
        if os.getuid() == 0:
            internal, login = _ROOT_INTERNAL_USER, _ROOT_LOGIN_USER
        else:
            internal = login = pwd.getpwuid(os.getuid()).pw_name
        capability = ""
        if self.without:
            kept = [name for name in _CAPABILITIES.split() if name not in self.without]
            capability = "protocol imap {\n  imap_capability = " + " ".join(kept) + "\n}"
        self.config.write_text(
            _CONF.format(
                root=self.root,
                host=self.host,
                port=self.port,
                tls_port=self.tls_port,
                internal_user=internal,
                login_user=login,
                cert=self.certs.cert,
                key=self.certs.key,
                separator=self.separator,
                prefix=self.prefix,
                capability=capability,
            )
        )
        self.process = subprocess.Popen(
            [str(DOVECOT), "-F", "-c", str(self.config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # Its own process group, so stop() ends its children with it.
            start_new_session=True,
        )
        deadline = time.monotonic() + 15
        while not (self._listening(self.port) and self._listening(self.tls_port)):
            if self.process.poll() is not None:
                output = (
                    self.process.stdout.read().decode("utf-8", "replace")
                    if (self.process.stdout)
                    else ""
                )
                raise AssertionError(
                    f"Dovecot did not start (exit {self.process.returncode}):\n{output}\n"
                    f"{self.log()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"Dovecot did not listen within 15 s:\n{self.log()}")
            time.sleep(0.05)

    def _listening(self, port: int) -> bool:
        with socket.socket() as probe:
            probe.settimeout(1)
            return probe.connect_ex((self.host, port)) == 0

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            # SIGTERM to the whole group (the master alone waits a second for its
            # children), then SIGKILL to whatever is left of it.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(10)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
            if process.stdout is not None:
                process.stdout.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        """Dovecot's log so far (for assertion messages)."""
        path = self.root / "dovecot.log"
        return path.read_text("utf-8", "replace") if path.exists() else "(no log)"

    # --- Mailboxes ---------------------------------------------------------------------

    def add_user(self, password: str = "s3cret pass word") -> ImapAccount:
        """A new user with an empty INBOX."""
        self._users += 1
        user = f"user{self._users}@example.com"
        home = self.root / "home" / f"user{self._users}"
        (home / "Maildir").mkdir(parents=True)
        if os.getuid() == 0:
            entry = pwd.getpwnam(_ROOT_MAIL_USER)
            uid, gid = entry.pw_uid, entry.pw_gid
            for path in (home, home / "Maildir"):
                os.chown(path, uid, gid)
        else:
            uid, gid = os.getuid(), os.getgid()
        # A file per user: Dovecot looks at a changed passwd-file at most once a second.
        (self.root / "users" / user).write_text(
            f"{user}:{{PLAIN}}{password}:{uid}:{gid}::{home}\n", encoding="utf-8"
        )
        account = ImapAccount(self, user, password, home / "Maildir")
        account.create_folder("INBOX")
        return account

    def doveadm(self, command: str, *args: str, user: str | None, data: bytes | None = None) -> str:
        """Run `doveadm COMMAND -u USER ARGS...` ("mailbox create", "save", ...) on the
        mailboxes directly (user None: a command for no mailbox); its output."""
        who = ["-u", user] if user else []
        result = subprocess.run(
            [str(DOVEADM), "-c", str(self.config), *command.split(), *who, *args],
            input=data,
            capture_output=True,
            timeout=30,
            check=False,
        )
        if result.returncode != 0:
            raise AssertionError(
                f"doveadm {command} {' '.join(args)} failed ({result.returncode}): "
                f"{result.stderr.decode('utf-8', 'replace')}"
            )
        return result.stdout.decode("utf-8")


class ImapAccount:
    """One user's mailbox on a running DovecotServer (see the module's docstring)."""

    def __init__(self, server: DovecotServer, user: str, password: str, maildir: Path) -> None:
        self.server = server
        self.host = server.host
        self.port = server.port
        self.tls_port = server.tls_port
        self.user = user
        self.password = password
        self.ca_file = server.certs.ca
        self.separator = server.separator
        self.prefix = server.prefix
        self.maildir = maildir

    def _name(self, folder: str) -> str:
        """A "/" path as doveadm wants it: with the server's separator and prefix."""
        if folder == "INBOX":
            return folder
        return self.prefix + folder.replace("/", self.separator)

    def _path(self, name: str) -> str:
        """A name doveadm gives as a "/" path."""
        if self.prefix and name.startswith(self.prefix):
            name = name[len(self.prefix) :]
        return name.replace(self.separator, "/")

    def create_folder(self, folder: str) -> None:
        if (self._box(folder) / "cur").is_dir():
            return
        if folder == "INBOX":
            # Opening INBOX creates it; `mailbox create INBOX` would fail once it exists.
            self.server.doveadm("mailbox status", "messages", "INBOX", user=self.user)
            return
        self.server.doveadm("mailbox create", "-s", self._name(folder), user=self.user)

    def deliver(self, raw: bytes, folder: str = "INBOX") -> int:
        """Store `raw` in `folder` (created when missing) as a mail server would; its UID."""
        self.create_folder(folder)
        before = {m.uid for m in self.stored(folder)}
        self.server.doveadm("save", "-m", self._name(folder), user=self.user, data=raw)
        new = [m.uid for m in self.stored(folder) if m.uid not in before]
        assert len(new) == 1, f"delivered one message to {folder}, found new UIDs {new}"
        return new[0]

    def flag(self, folder: str, uid: int, *flags: str) -> None:
        self.server.doveadm(
            "flags add",
            " ".join(flags),
            "mailbox",
            self._name(folder),
            "uid",
            str(uid),
            user=self.user,
        )

    def folders(self) -> list[str]:
        listed = self.server.doveadm("mailbox list", user=self.user)
        return sorted(self._path(line) for line in listed.splitlines() if line)

    def subscribed(self) -> list[str]:
        """The folders a mail app shows (those subscribed to)."""
        listed = self.server.doveadm("mailbox list", "-s", user=self.user)
        return sorted(self._path(line) for line in listed.splitlines() if line)

    def stored(self, folder: str = "INBOX") -> list[Stored]:
        """The messages in `folder` in UID order, read from disk (maildir)."""
        box = self._box(folder)
        uidlist = box / "dovecot-uidlist"
        if not uidlist.exists():
            return []
        files = {
            path.name.split(":2,")[0]: path
            for sub in ("new", "cur")
            for path in (box / sub).iterdir()
        }
        messages = []
        for line in uidlist.read_text("utf-8").splitlines()[1:]:
            match = re.match(r"(\d+)\b.*? :(.+)$", line)
            if not match or match[2] not in files:
                continue  # expunged
            path = files[match[2]]
            flags = path.name.split(":2,")[1] if ":2," in path.name else ""
            # Dovecot serves each bare LF of its files as CRLF.
            raw = re.sub(rb"(?<!\r)\n", b"\r\n", path.read_bytes())
            messages.append(Stored(int(match[1]), raw, flags))
        return messages

    def _box(self, folder: str) -> Path:
        """The maildir of `folder` (LAYOUT=fs: a directory per level, named in UTF-8)."""
        return self.maildir.joinpath(*folder.split("/"))

    def folder_messages(self, folder: str = "INBOX") -> list[bytes]:
        return [message.raw for message in self.stored(folder)]

    # --- For sheetfollow's config ------------------------------------------------------

    def inbox_toml(self, security: str = "tls", **keys: str | int) -> str:
        """An [inbox] section that reaches this mailbox (the password comes from env())."""
        values: dict[str, str | int] = {
            "address": "followup@example.com",
            "host": self.host,
            "port": self.tls_port if security == "tls" else self.port,
            "security": security,
            "username": self.user,
            "ca_file": str(self.ca_file),
        }
        values.update(keys)
        lines = ["[inbox]"]
        for key, value in values.items():
            text = str(value) if isinstance(value, int) else _toml_string(value)
            lines.append(f"{key} = {text}")
        return "\n".join(lines) + "\n"

    def env(self) -> dict[str, str]:
        return {"SHEETFOLLOW_IMAP_PASSWORD": self.password}


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --- Fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    """One Dovecot for the session (skipped where Dovecot is not installed)."""
    with DovecotServer() as server:
        yield server


@pytest.fixture
def imap_server(dovecot: DovecotServer) -> ImapAccount:
    """A fresh, empty mailbox on the session's Dovecot."""
    return dovecot.add_user()


__all__ = [
    "DovecotServer",
    "ImapAccount",
    "Stored",
    "dovecot",
    "imap_server",
    "missing_reason",
]
