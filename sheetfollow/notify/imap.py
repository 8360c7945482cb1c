"""Reading the replies to the outcome buttons from an IMAP mailbox: the mail reader beside
the SMTP sender. It hands over messages and moves them on; what a message means is decided
by the inbox use case.

Nothing here deletes mail. Messages are fetched with BODY.PEEK[] (nothing is marked seen
before it is processed) and moved to another folder once handled: UID MOVE, or on a server
without MOVE, UID COPY + \\Deleted + UID EXPUNGE of that one message (UIDPLUS). A server with
neither keeps the copy flagged \\Deleted, which `messages` skips; a plain EXPUNGE (or CLOSE)
would also remove what someone else flagged, so it is never sent.

The password comes from an environment variable or a file only its owner can read; it is
never part of the settings' repr and never in a message.
"""

from __future__ import annotations

import base64
import imaplib
import re
import socket
import ssl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from sheetfollow.config import CONFIG_NAME, IMAP_SECURITY, LOCAL_HOSTS, InboxConfig
from sheetfollow.errors import ConfigError, RemoteError
from sheetfollow.notify.smtp import Step, env_port, scrub
from sheetfollow.secrets import read_private_file

#: Environment variables that replace [inbox] keys, as SHEETFOLLOW_SMTP_* do for [smtp].
ENV_OVERRIDES: Mapping[str, str] = {
    "host": "SHEETFOLLOW_IMAP_HOST",
    "port": "SHEETFOLLOW_IMAP_PORT",
    "username": "SHEETFOLLOW_IMAP_USER",
    "security": "SHEETFOLLOW_IMAP_SECURITY",
}

#: The port each security setting implies when none is given.
IMAP_PORTS: Mapping[str, int] = {"tls": 993, "starttls": 143, "none": 143}

#: The steps `check --inbox` goes through, in order.
STEPS: tuple[str, ...] = ("dns", "connect", "tls", "login", "folder")

#: Messages fetched per UID FETCH: a few round trips, not one reply of unbounded size.
_BATCH = 25


class ImapError(RemoteError):
    """The mailbox cannot be used: not found, not reachable, TLS, login, folder, a move.
    The message names the server and the step; `reason` is the same without them."""

    def __init__(self, server: str, step: str, reason: str) -> None:
        super().__init__(f"IMAP {server}, {step}: {reason}")
        self.step = step
        self.reason = reason


@dataclass(frozen=True)
class ImapSettings:
    """[inbox] with the environment applied and the password read: ready to connect."""

    host: str
    port: int
    security: str
    username: str
    ca_file: str
    timeout: float
    password: str = field(default="", repr=False)

    @property
    def server(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Incoming:
    """One message in the mailbox: its UID in the folder it was read from, and its bytes
    exactly as the server hands them out."""

    uid: str
    raw: bytes = field(repr=False)


# --- Settings --------------------------------------------------------------------------------


def imap_settings(
    inbox: InboxConfig, environ: Mapping[str, str], *, source: str = CONFIG_NAME
) -> ImapSettings:
    """The mailbox to read, from [inbox] and SHEETFOLLOW_IMAP_*; `source` names the config
    file in messages."""
    host = _env(environ, "host") or inbox.host
    if not host:
        raise ConfigError(
            f"{source}: inbox.host is not set: the IMAP server that receives the replies "
            f"sent to {inbox.address or 'inbox.address'}"
        )
    security = (_env(environ, "security") or inbox.security).lower()
    if security not in IMAP_SECURITY:
        raise ConfigError(
            f"{ENV_OVERRIDES['security']} must be one of {', '.join(IMAP_SECURITY)}, "
            f"not {security!r}"
        )
    if security == "none" and host.lower() not in LOCAL_HOSTS:
        raise ConfigError(
            f"{source}: inbox.security = 'none' sends the password unencrypted; it is only "
            f"allowed for a server on this machine (localhost), not {host!r}"
        )
    username = _env(environ, "username") or inbox.username
    if not username:
        raise ConfigError(
            f"{source}: inbox.username is not set: the login of the mailbox at {host} "
            f"(or set {ENV_OVERRIDES['username']})"
        )
    return ImapSettings(
        host=host,
        port=_port(environ) or inbox.port or IMAP_PORTS[security],
        security=security,
        username=username,
        ca_file=inbox.ca_file,
        timeout=inbox.timeout,
        password=_password(environ, inbox, source),
    )


def _env(environ: Mapping[str, str], key: str) -> str:
    return environ.get(ENV_OVERRIDES[key], "").strip()


def _port(environ: Mapping[str, str]) -> int | None:
    return env_port(environ, ENV_OVERRIDES["port"])


def _password(environ: Mapping[str, str], inbox: InboxConfig, source: str) -> str:
    from_env = environ.get(inbox.password_env, "")
    if from_env:
        return from_env
    if inbox.password_file:
        path = Path(inbox.password_file)
        where = f"{source}: inbox.password_file: {path}"
        # An editor's final newline is not part of the password; spaces may be.
        password = read_private_file(path, where).rstrip("\r\n")
        if not password:
            raise ConfigError(f"{where} is empty")
        return password
    raise ConfigError(
        f"{source}: there is no password for the mailbox {inbox.username or ''} at "
        f"{inbox.host}: set the environment variable {inbox.password_env} or "
        "inbox.password_file"
    )


# --- Folder names ----------------------------------------------------------------------------


def encode_folder(name: str) -> str:
    """`name` in IMAP's modified UTF-7 (RFC 3501 5.1.3): printable ASCII as itself ("&" as
    "&-"), everything else as UTF-16 in base64 between "&" and "-", with "," for "/"."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            data = "".join(pending).encode("utf-16-be")
            text = base64.b64encode(data).decode("ascii").rstrip("=").replace("/", ",")
            out.append(f"&{text}-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


_SHIFTED = re.compile(r"&([^-]*)-")


def decode_folder(name: str) -> str:
    """The Unicode name of a folder the server gives in modified UTF-7."""

    def expand(match: re.Match[str]) -> str:
        text = match[1]
        if not text:
            return "&"
        data = text.replace(",", "/")
        return base64.b64decode(data + "=" * (-len(data) % 4)).decode("utf-16-be")

    return _SHIFTED.sub(expand, name)


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unquoted(text: bytes) -> str:
    raw = text.decode("ascii", "replace")
    if raw.startswith('"') and raw.endswith('"'):
        return re.sub(r"\\(.)", r"\1", raw[1:-1])
    return raw


# --- Connecting ------------------------------------------------------------------------------

_CAN_FAIL = (OSError, imaplib.IMAP4.error)


def _text(data: object) -> str:
    """What the server said, from imaplib's responses and errors, on one line."""
    if isinstance(data, (list, tuple)):
        data = " ".join(_text(part) for part in data if isinstance(part, (bytes, str)))
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    return " ".join(str(data).split())


def tls_context(s: ImapSettings) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=s.ca_file or None)
    except (OSError, ssl.SSLError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(
            f"inbox.ca_file: {s.ca_file} cannot be read as a CA certificate ({reason})"
        ) from None


def _explain(error: BaseException, s: ImapSettings, step: str) -> ImapError:
    """A plain sentence for what went wrong, never with the password in it."""
    if isinstance(error, socket.gaierror):
        reason = f"cannot find host {s.host} (check inbox.host; is this machine online?)"
    elif isinstance(error, ssl.SSLCertVerificationError):
        step = "tls"
        reason = (
            f"the certificate of {s.host} is not trusted ({error.verify_message}); if the "
            "server uses a certificate of your company's own, set inbox.ca_file to its CA "
            "certificate"
        )
    elif isinstance(error, ssl.SSLError):
        step = "tls"
        reason = (
            f"TLS failed ({error.reason or error}); check inbox.security ('tls' for port "
            "993, 'starttls' for 143)"
        )
    elif isinstance(error, ConnectionRefusedError):
        reason = (
            f"{s.host} refused the connection on port {s.port} (check inbox.port: usually "
            "993 for tls, 143 for starttls)"
        )
    elif isinstance(error, TimeoutError):
        # A server that waits for a TLS handshake says nothing to a plain connection.
        hint = "; if it expects TLS from the start (port 993), set inbox.security = 'tls'"
        reason = (
            f"no answer within {s.timeout:g} seconds"
            f"{hint if s.security != 'tls' and step == 'connect' else ''}"
        )
    elif isinstance(error, imaplib.IMAP4.abort):
        reason = f"the server closed the connection ({_text(error.args)})"
    elif isinstance(error, imaplib.IMAP4.error) and step == "login":
        reason = (
            f"the server refused the username or password for {s.username} ({_text(error.args)})"
        )
    elif isinstance(error, imaplib.IMAP4.error):
        reason = f"the server refused: {_text(error.args)}"
    elif isinstance(error, OSError):
        reason = f"the connection failed: {error.strerror or error}"
    else:
        reason = str(error)
    return ImapError(s.server, step, scrub(reason, s.password))


class _Session:
    """Opens a connection step by step, so `check` can say which step failed."""

    def __init__(self, settings: ImapSettings) -> None:
        self.s = settings
        self.step = "connect"
        self.imap: imaplib.IMAP4 | None = None
        self.capabilities: frozenset[str] = frozenset()

    @contextmanager
    def _failing(self, step: str) -> Iterator[None]:
        self.step = step
        try:
            yield
        except _CAN_FAIL as error:
            self.close()
            failure = _explain(error, self.s, step)
            self.step = failure.step
            raise failure from None

    def fail(self, reason: str, step: str | None = None) -> ImapError:
        self.step = step or self.step
        return ImapError(self.s.server, self.step, scrub(reason, self.s.password))

    def connect(self) -> str:
        s = self.s
        with self._failing("connect"):
            if s.security == "tls":
                self.imap = imaplib.IMAP4_SSL(
                    s.host, s.port, ssl_context=tls_context(s), timeout=s.timeout
                )
            else:
                self.imap = imaplib.IMAP4(s.host, s.port, timeout=s.timeout)
            self._learn(ask=False)
        return f"connected to {s.server}"

    def secure(self) -> str:
        s, imap = self.s, self.open()
        with self._failing("tls"):
            if s.security == "starttls":
                if "STARTTLS" not in self.capabilities:
                    raise self.fail(
                        "the server does not offer STARTTLS; if it expects TLS from the "
                        "start (port 993), set inbox.security = 'tls'"
                    )
                imap.starttls(ssl_context=tls_context(s))
                self._learn(ask=False)
        if s.security == "none":
            return "no encryption (a server on this machine)"
        sock = imap.sock
        version = sock.version() if isinstance(sock, ssl.SSLSocket) else None
        return f"{version or 'TLS'}, certificate of {s.host} trusted"

    def login(self) -> str:
        s, imap = self.s, self.open()
        with self._failing("login"):
            if imap.state == "AUTH":
                # PREAUTH: the server logged us in already (a local, trusted connection).
                self._learn()
                return f"logged in by the server (PREAUTH) for {s.username}"
            if (s.username + s.password).isascii():
                if "LOGINDISABLED" in self.capabilities:
                    raise self.fail(
                        "the server does not allow logging in on this connection; check "
                        "inbox.security"
                    )
                imap.login(s.username, s.password)
            else:
                # LOGIN only carries ASCII; SASL PLAIN carries UTF-8 (RFC 4616).
                if "AUTH=PLAIN" not in self.capabilities:
                    raise self.fail(
                        "the username or password has non-ASCII characters, which this "
                        "server cannot take (it does not offer AUTH=PLAIN)"
                    )
                secret = b"\0" + s.username.encode() + b"\0" + s.password.encode()
                imap.authenticate("PLAIN", lambda _challenge: secret)
            self._learn()
        return f"logged in as {s.username}"

    def _learn(self, *, ask: bool = True) -> None:
        """What the server can do: it says more after TLS and after the login. imaplib asks
        on connecting and after STARTTLS, not after the login."""
        imap = self.open()
        if not ask:
            self.capabilities = frozenset(name.upper() for name in imap.capabilities)
            return
        typ, data = imap.capability()
        if typ == "OK" and data and isinstance(data[-1], bytes):
            self.capabilities = frozenset(data[-1].decode("ascii", "replace").upper().split())

    def open(self) -> imaplib.IMAP4:
        if self.imap is None:
            raise self.fail("not connected")
        return self.imap

    def close(self) -> None:
        # LOGOUT, never CLOSE: CLOSE expunges every message flagged \Deleted.
        imap, self.imap = self.imap, None
        if imap is None:
            return
        with suppress(*_CAN_FAIL):
            imap.logout()
        with suppress(OSError):
            imap.shutdown()


# --- The mailbox -----------------------------------------------------------------------------

_LIST = re.compile(rb'^\((?P<attrs>[^)]*)\) (?P<delim>NIL|"(?:\\.|[^"\\])*") ')
_NAMESPACE = re.compile(rb'^\(\("(?P<prefix>(?:\\.|[^"\\])*)" (?P<delim>NIL|"(?:\\.|[^"\\])*")\)')
_UID = re.compile(rb"\bUID (\d+)")


class Mailbox:
    """`with Mailbox(settings) as box:` a logged-in connection; `box.messages(folder)` and
    `box.move(uid, folder)`. Folder names are written with "/" between levels, whatever the
    server's separator, and in plain Unicode."""

    def __init__(self, settings: ImapSettings) -> None:
        self.settings = settings
        self._session = _Session(settings)
        self._selected: str | None = None
        self._existing: set[str] = set()
        self._delimiter: str | None = "/"
        self._prefix = ""

    @property
    def label(self) -> str:
        return f"imap {self.settings.server}"

    def __enter__(self) -> Mailbox:
        session = self._session
        try:
            session.connect()
            session.secure()
            session.login()
            with session._failing("folder"):
                self._learn_namespace()
        except BaseException:
            session.close()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    @property
    def capabilities(self) -> frozenset[str]:
        return self._session.capabilities

    def _learn_namespace(self) -> None:
        """The separator between folder levels and the prefix of personal folders ("" on
        most servers, "INBOX." on some older ones)."""
        imap = self._session.open()
        if "NAMESPACE" in self.capabilities:
            match = _NAMESPACE.match(_first(imap.namespace()))
            if match:
                self._prefix = _unquoted(match["prefix"])
                self._delimiter = _delimiter(match["delim"])
                return
        match = _LIST.match(_first(imap.list('""', '""')))
        if match:
            self._delimiter = _delimiter(match["delim"])

    def mailbox_name(self, folder: str) -> str:
        """`folder` ("sheetfollow/done") as this server names it, before encoding."""
        if folder.upper() == "INBOX":
            return "INBOX"
        name = folder if self._delimiter is None else folder.replace("/", self._delimiter)
        if self._prefix and not name.upper().startswith(self._prefix.upper()):
            name = self._prefix + name
        return name

    def _wire(self, folder: str) -> str:
        return _quoted(encode_folder(self.mailbox_name(folder)))

    def _call(self, step: str, what: str, typ_data: tuple[str, list[Any]]) -> list[Any]:
        typ, data = typ_data
        if typ != "OK":
            raise self._session.fail(f"{what} ({_text(data)})", step)
        return data

    def select(self, folder: str, *, readonly: bool = False) -> int:
        """Open `folder`; how many messages it holds."""
        imap = self._session.open()
        with self._session._failing("folder"):
            typ, data = imap.select(self._wire(folder), readonly=readonly)
            if typ != "OK":
                raise self._session.fail(
                    f"the folder {folder!r} cannot be opened ({_text(data)}); check inbox.folder"
                )
        self._selected = folder
        self._existing.add(folder)
        first = data[0] if data else b"0"
        return int(first) if isinstance(first, bytes) and first.isdigit() else 0

    def messages(self, folder: str) -> list[Incoming]:
        """Every message in `folder` not flagged \\Deleted, oldest first, unchanged (not
        even marked seen)."""
        imap = self._session.open()
        if self.select(folder) == 0:
            return []
        with self._session._failing("fetch"):
            found = self._call("fetch", "searching failed", imap.uid("SEARCH", "UNDELETED"))
            uids = [
                uid.decode() for part in found if isinstance(part, bytes) for uid in part.split()
            ]
            messages: list[Incoming] = []
            for start in range(0, len(uids), _BATCH):
                batch = ",".join(uids[start : start + _BATCH])
                data = self._call(
                    "fetch",
                    f"fetching messages {batch} failed",
                    imap.uid("FETCH", batch, "(UID BODY.PEEK[])"),
                )
                messages.extend(_fetched(data))
        wanted = set(uids)
        return sorted((m for m in messages if m.uid in wanted), key=lambda m: int(m.uid))

    def move(self, uid: str, folder: str) -> None:
        """Move message `uid` of the folder last read to `folder`, creating it (and
        subscribing to it) when missing. Only that message is touched."""
        if self._selected is None:
            raise self._session.fail(f"cannot move message {uid}: no folder was read", "move")
        if not uid.isdigit():
            raise ValueError(f"not a UID: {uid!r}")
        imap = self._session.open()
        target = self._wire(folder)
        self.ensure_folder(folder)
        what = f"moving message {uid} to {folder!r} failed"
        with self._session._failing("move"):
            if "MOVE" in self.capabilities:
                self._call("move", what, imap.uid("MOVE", uid, target))
                return
            self._call("move", what, imap.uid("COPY", uid, target))
            self._call("move", what, imap.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)"))
            if "UIDPLUS" in self.capabilities:
                self._call("move", what, imap.uid("EXPUNGE", uid))

    def ensure_folder(self, folder: str) -> None:
        """Create `folder` when it does not exist yet (with the levels above it)."""
        if folder in self._existing or folder.upper() == "INBOX":
            return
        imap = self._session.open()
        with self._session._failing("folder"):
            if not self._exists(folder):
                typ, data = imap.create(self._wire(folder))
                if typ != "OK" and "ALREADYEXISTS" not in _text(data).upper():
                    # Some servers create no missing levels above a new folder.
                    levels = folder.split("/")
                    for depth in range(1, len(levels)):
                        parent = "/".join(levels[:depth])
                        if not self._exists(parent):
                            imap.create(self._wire(parent))
                    self._call(
                        "folder",
                        f"the folder {folder!r} cannot be created",
                        imap.create(self._wire(folder)),
                    )
                # Mail apps show subscribed folders only; a refusal changes nothing else.
                imap.subscribe(self._wire(folder))
        self._existing.add(folder)

    def _exists(self, folder: str) -> bool:
        typ, data = self._session.open().list('""', self._wire(folder))
        return typ == "OK" and any(
            isinstance(line, bytes)
            and b"\\noselect" not in line.lower()
            and b"\\nonexistent" not in line.lower()
            for line in data
        )


def _first(typ_data: tuple[str, list[Any]]) -> bytes:
    """The first line of an answer, b"" when there is none."""
    typ, data = typ_data
    first = data[0] if typ == "OK" and data else None
    return first if isinstance(first, bytes) else b""


def _delimiter(raw: bytes) -> str | None:
    return None if raw == b"NIL" else _unquoted(raw)


def _fetched(data: list[Any]) -> list[Incoming]:
    """The messages in imaplib's answer to UID FETCH (UID BODY.PEEK[]): (head, literal)
    pairs, each followed by the rest of its line, where the UID may also stand."""
    found: list[Incoming] = []
    for index, item in enumerate(data):
        if not (isinstance(item, tuple) and len(item) == 2):
            continue
        head, literal = item
        if not (isinstance(head, bytes) and isinstance(literal, bytes)):
            continue
        if b"BODY[]" not in head.upper():
            continue
        match = _UID.search(head)
        tail = data[index + 1] if index + 1 < len(data) else b""
        if match is None and isinstance(tail, bytes):
            match = _UID.search(tail)
        if match is not None:
            found.append(Incoming(match[1].decode(), literal))
    return found


# --- check --inbox ---------------------------------------------------------------------------


def check(settings: ImapSettings, folder: str = "INBOX") -> list[Step]:
    """Find the host, connect, secure the connection, log in and open `folder` read-only,
    changing nothing; one Step per stage, up to the first that fails."""
    steps: list[Step] = []
    try:
        addresses = socket.getaddrinfo(settings.host, settings.port, type=socket.SOCK_STREAM)
    except OSError as error:
        return [Step("dns", False, _explain(error, settings, "dns").reason)]
    found = sorted({str(info[4][0]) for info in addresses})
    steps.append(Step("dns", True, f"found {settings.host} ({', '.join(found[:3])})"))

    box = Mailbox(settings)
    session = box._session
    try:
        for stage in (session.connect, session.secure, session.login):
            text = stage()
            steps.append(Step(session.step, True, text))
        session.step = "folder"
        with session._failing("folder"):
            box._learn_namespace()
        count = box.select(folder, readonly=True)
        noun = "message" if count == 1 else "messages"
        steps.append(Step("folder", True, f"{folder}: {count} {noun}"))
    except ImapError as error:
        if error.step == "tls" and len(steps) == 1:
            # With TLS from the start the handshake fails while connecting: the server was
            # reached, and the step to look at is TLS.
            steps.append(Step("connect", True, f"connected to {settings.server}"))
        steps.append(Step(error.step, False, error.reason))
    finally:
        box.close()
    return steps
