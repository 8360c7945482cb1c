"""Delivery through a mail server: one connection per run, errors in plain words.

The password comes from an environment variable or a file only its owner can read; it is
never a command-line option, never part of the config's repr, and never in a message.
"""

from __future__ import annotations

import base64
import smtplib
import socket
import ssl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType

from sheetfollow.config import (
    CONFIG_NAME,
    LOCAL_HOSTS,
    SMTP_PORTS,
    SMTP_SECURITY,
    Config,
    is_address,
)
from sheetfollow.errors import ConfigError, RemoteError, SheetfollowError
from sheetfollow.exit_codes import ExitCode
from sheetfollow.notify.message import Message
from sheetfollow.notify.mime import POLICY, address_of
from sheetfollow.secrets import read_private_file

#: Environment variables that replace [smtp] keys: the same config file can then serve a
#: laptop (outbox) and the server that runs cron (SMTP).
ENV_OVERRIDES: Mapping[str, str] = {
    "host": "SHEETFOLLOW_SMTP_HOST",
    "port": "SHEETFOLLOW_SMTP_PORT",
    "username": "SHEETFOLLOW_SMTP_USER",
    "sender": "SHEETFOLLOW_SMTP_FROM",
    "security": "SHEETFOLLOW_SMTP_SECURITY",
}


class DeliveryError(SheetfollowError):
    """One email could not be delivered (a refused recipient); the others go on."""

    exit_code = ExitCode.DELIVERY


class ServerError(RemoteError):
    """The mail server cannot be used at all: not found, not reachable, TLS, login."""


@dataclass(frozen=True)
class SmtpSettings:
    """[smtp] with the environment applied and the password read: ready to connect."""

    host: str
    port: int
    security: str
    username: str
    sender: str
    ca_file: str
    timeout: float
    password: str = field(default="", repr=False)

    @property
    def server(self) -> str:
        return f"{self.host}:{self.port}"


def settings_from(config: Config, env: Mapping[str, str]) -> SmtpSettings | None:
    """The mail server to use, or None when there is none (emails go to the outbox)."""
    source = config.path.name if config.path else CONFIG_NAME
    smtp = config.smtp
    host = _env(env, "host") or smtp.host
    if not host:
        return None
    security = (_env(env, "security") or smtp.security).lower()
    if security not in SMTP_SECURITY:
        raise ConfigError(
            f"{ENV_OVERRIDES['security']} must be one of {', '.join(SMTP_SECURITY)}, "
            f"not {security!r}"
        )
    if security == "none" and host.lower() not in LOCAL_HOSTS:
        raise ConfigError(
            f"{source}: smtp.security = 'none' sends mail and password unencrypted; it is "
            f"only allowed for a server on this machine (localhost), not {host!r}"
        )
    username = _env(env, "username") or smtp.username
    return SmtpSettings(
        host=host,
        port=_port(env) or smtp.port or SMTP_PORTS[security],
        security=security,
        username=username,
        sender=_sender(env, config, username, source),
        ca_file=smtp.ca_file,
        timeout=smtp.timeout,
        password=_password(env, config, source) if username else "",
    )


def _env(env: Mapping[str, str], key: str) -> str:
    return env.get(ENV_OVERRIDES[key], "").strip()


def _port(env: Mapping[str, str]) -> int | None:
    return env_port(env, ENV_OVERRIDES["port"])


def env_port(env: Mapping[str, str], variable: str) -> int | None:
    """The port an environment variable sets (SHEETFOLLOW_SMTP_PORT, ..._IMAP_PORT), or
    None when it is not set."""
    text = env.get(variable, "").strip()
    if not text:
        return None
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ConfigError(f"{variable} must be a port number from 1 to 65535, not {text!r}")
    return int(text)


def _sender(env: Mapping[str, str], config: Config, username: str, source: str) -> str:
    sender = _env(env, "sender")
    if sender and not is_address(address_of(sender)):
        raise ConfigError(f"{ENV_OVERRIDES['sender']} must be an email address, not {sender!r}")
    sender = sender or config.smtp.sender or (username if is_address(username) else "")
    if not sender:
        raise ConfigError(
            f"{source}: smtp.from is not set: the address emails are sent from, such as "
            "'Sales <sales@example.com>'"
        )
    return sender


def _password(env: Mapping[str, str], config: Config, source: str) -> str:
    smtp = config.smtp
    from_env = env.get(smtp.password_env, "")
    if from_env:
        return from_env
    if smtp.password_file:
        return _password_file(Path(smtp.password_file), source)
    raise ConfigError(
        f"{source}: smtp.username is set but there is no password: set the environment "
        f"variable {smtp.password_env} or smtp.password_file"
    )


def _password_file(path: Path, source: str) -> str:
    where = f"{source}: smtp.password_file: {path}"
    text = read_private_file(path, where)
    # An editor's final newline is not part of the password; spaces may be.
    password = text.rstrip("\r\n")
    if not password:
        raise ConfigError(f"{where} is empty")
    return password


# --- Connecting ------------------------------------------------------------------------------


def scrub(text: str, secret: str) -> str:
    """`text` without the secret in it, in plain or in the base64 forms AUTH sends."""
    if not secret:
        return text
    forms = {secret, base64.b64encode(secret.encode()).decode()}
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, "***")
    return text


def _reply(error: smtplib.SMTPResponseException) -> str:
    raw = error.smtp_error
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return f"{error.smtp_code} {' '.join(text.split())}"


def _explain(error: BaseException, s: SmtpSettings) -> SheetfollowError:
    """A plain sentence for what went wrong while connecting, securing or logging in."""
    where = s.server
    if isinstance(error, smtplib.SMTPAuthenticationError):
        message = (
            f"the server refused the username or password for {s.username} at {s.host} "
            f"({_reply(error)})"
        )
    elif isinstance(error, smtplib.SMTPNotSupportedError):
        message = f"{where} {error}"
    elif isinstance(error, smtplib.SMTPServerDisconnected) and "timed out" in str(error):
        # A server that waits for a TLS handshake says nothing to a plain connection.
        hint = "; if it expects TLS from the start (port 465), set smtp.security = 'tls'"
        message = (
            f"{where} said nothing within {s.timeout:g} seconds"
            f"{hint if s.security != 'tls' else ''}"
        )
    elif isinstance(error, smtplib.SMTPServerDisconnected):
        message = f"{where} closed the connection ({error or 'without a word'})"
    elif isinstance(error, smtplib.SMTPResponseException):
        message = f"{where} refused us: {_reply(error)}"
    elif isinstance(error, socket.gaierror):
        message = f"cannot find host {s.host} (check smtp.host; is this machine online?)"
    elif isinstance(error, ssl.SSLCertVerificationError):
        message = (
            f"the certificate of {s.host} is not trusted ({error.verify_message}); if the "
            "server uses a certificate of your company's own, set smtp.ca_file to its CA "
            "certificate"
        )
    elif isinstance(error, ssl.SSLError):
        message = (
            f"TLS with {where} failed ({error.reason or error}); check smtp.security "
            "('tls' for port 465, 'starttls' for 587)"
        )
    elif isinstance(error, ConnectionRefusedError):
        message = (
            f"{s.host} refused the connection on port {s.port} (check smtp.port: usually "
            "587 for starttls, 465 for tls)"
        )
    elif isinstance(error, TimeoutError):
        message = f"{where} did not answer within {s.timeout:g} seconds"
    elif isinstance(error, OSError):
        message = f"cannot connect to {where}: {error.strerror or error}"
    else:
        message = f"{where}: {error}"
    return ServerError(message)


def tls_context(s: SmtpSettings) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=s.ca_file or None)
    except (OSError, ssl.SSLError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(
            f"smtp.ca_file: {s.ca_file} cannot be read as a CA certificate ({reason})"
        ) from None


class _Session:
    """Opens a connection step by step, so `check` can say which step failed."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.s = settings
        self.step = "connect"
        self.smtp: smtplib.SMTP | None = None

    @contextmanager
    def _failing(self) -> Iterator[None]:
        try:
            yield
        except (OSError, smtplib.SMTPException) as error:
            self.close()
            raise _explain(error, self.s) from None

    def connect(self) -> str:
        s, self.step = self.s, "connect"
        with self._failing():
            if s.security == "tls":
                self.smtp = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=s.timeout, context=tls_context(s)
                )
            else:
                self.smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            self.smtp.ehlo()
        return f"connected to {s.server}"

    def secure(self) -> str:
        s, smtp, self.step = self.s, self._open(), "tls"
        with self._failing():
            if s.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise smtplib.SMTPNotSupportedError(
                        "does not offer STARTTLS; if it expects TLS from the start (port "
                        "465), set smtp.security = 'tls'"
                    )
                smtp.starttls(context=tls_context(s))
                smtp.ehlo()
        if s.security == "none":
            return "no encryption (a server on this machine)"
        sock = smtp.sock
        version = sock.version() if isinstance(sock, ssl.SSLSocket) else None
        return f"{version or 'TLS'}, certificate of {s.host} trusted"

    def login(self) -> str:
        s, smtp, self.step = self.s, self._open(), "login"
        if not s.username:
            return "no username: sending without logging in"
        with self._failing():
            if not smtp.has_extn("auth"):
                raise smtplib.SMTPNotSupportedError(
                    "does not offer login (AUTH) on this connection; check smtp.security"
                )
            smtp.login(s.username, s.password)
        return f"logged in as {s.username}"

    def _open(self) -> smtplib.SMTP:
        if self.smtp is None:
            raise ServerError(f"{self.s.server}: not connected")
        return self.smtp

    def close(self) -> None:
        smtp, self.smtp = self.smtp, None
        if smtp is None:
            return
        with suppress(OSError, smtplib.SMTPException):
            smtp.quit()
        with suppress(OSError):
            smtp.close()


def connect(settings: SmtpSettings) -> smtplib.SMTP:
    """A connection that is secured and logged in, or a ServerError that says why not."""
    session = _Session(settings)
    session.connect()
    session.secure()
    session.login()
    return session._open()


# --- check --smtp ------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    name: str
    ok: bool
    text: str


#: The steps `check --smtp` goes through, in order.
STEPS: tuple[str, ...] = ("dns", "connect", "tls", "login")


def check(settings: SmtpSettings) -> list[Step]:
    """Find the host, connect, secure the connection and log in, sending nothing; one Step
    per stage, up to the first that fails."""
    steps: list[Step] = []
    try:
        addresses = socket.getaddrinfo(settings.host, settings.port, type=socket.SOCK_STREAM)
    except OSError as error:
        return [Step("dns", False, str(_explain(error, settings)))]
    found = sorted({str(info[4][0]) for info in addresses})
    steps.append(Step("dns", True, f"found {settings.host} ({', '.join(found[:3])})"))

    session = _Session(settings)
    try:
        for stage in (session.connect, session.secure, session.login):
            text = stage()
            steps.append(Step(session.step, True, text))
    except ServerError as error:
        steps.append(Step(session.step, False, str(error)))
    finally:
        session.close()
    return steps


# --- Sending ---------------------------------------------------------------------------------


class _Stale(Exception):
    """The server dropped an idle connection before this email started: safe to resend."""


class SmtpTransport:
    """Sends every email of a run over one connection, opened when the first email goes
    out. A connection the server dropped in between is opened again, once per email."""

    #: The word the run state and the report use for this kind of delivery.
    status = "sent"

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    @property
    def label(self) -> str:
        return f"smtp {self.settings.server}"

    @property
    def sender(self) -> str:
        return self.settings.sender

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            with suppress(OSError, smtplib.SMTPException):
                smtp.quit()
            with suppress(OSError):
                smtp.close()

    def send(self, message: Message, mail: EmailMessage) -> str:
        """Deliver one email. Raises DeliveryError when the server refuses this one email,
        ServerError when the server cannot be used at all."""
        for attempt in (1, 2):
            if self._smtp is None:
                self._smtp = connect(self.settings)
            try:
                return self._transfer(self._smtp, message.to, mail)
            except _Stale:
                self._drop()
                if attempt == 2:
                    raise ServerError(
                        f"{self.settings.server} closed the connection again right after it "
                        "was opened"
                    ) from None
        raise AssertionError("unreachable")

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            with suppress(OSError):
                smtp.close()

    def _transfer(self, smtp: smtplib.SMTP, to: str, mail: EmailMessage) -> str:
        sender = address_of(self.settings.sender)
        options = self._options(smtp, sender, to)
        try:
            code, reply = smtp.mail(sender, options)
        except (smtplib.SMTPServerDisconnected, OSError):
            raise _Stale() from None
        if code == 421:  # "service closing": the server ends an idle session
            raise _Stale()
        try:
            if code != 250:
                self._reset(smtp)
                raise ServerError(
                    f"{self.settings.server} refused the sender {sender}: {_text(code, reply)}"
                )
            code, reply = smtp.rcpt(to)
            if code not in (250, 251):
                self._reset(smtp)
                raise DeliveryError(f"the server refused the address {to}: {_text(code, reply)}")
            code, reply = smtp.data(mail.as_bytes(policy=POLICY))
        except smtplib.SMTPServerDisconnected:
            self._drop()
            raise DeliveryError(
                f"{self.settings.server} closed the connection while the email to {to} was "
                "being sent"
            ) from None
        except smtplib.SMTPResponseException as error:
            self._reset(smtp)
            raise DeliveryError(
                f"the server did not accept the email to {to}: {_reply(error)}"
            ) from None
        except OSError as error:
            self._drop()
            raise DeliveryError(
                f"the connection to {self.settings.server} broke while the email to {to} was "
                f"being sent ({error.strerror or error})"
            ) from None
        if code != 250:
            self._reset(smtp)
            raise DeliveryError(
                f"the server did not accept the email to {to}: {_text(code, reply)}"
            )
        return _text(code, reply)

    def _options(self, smtp: smtplib.SMTP, sender: str, to: str) -> list[str]:
        if (sender + to).isascii():
            return []
        if not smtp.has_extn("smtputf8"):
            raise DeliveryError(
                f"{self.settings.server} cannot deliver to or from an address with non-ASCII "
                f"characters ({to})"
            )
        return ["SMTPUTF8"]

    def _reset(self, smtp: smtplib.SMTP) -> None:
        try:
            smtp.rset()
        except (OSError, smtplib.SMTPException):
            self._drop()


def _text(code: int, reply: bytes) -> str:
    return f"{code} {' '.join(reply.decode('utf-8', 'replace').split())}"
