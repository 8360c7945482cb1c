"""A real SMTP server on loopback for the tests: aiosmtpd in a thread, storing what it gets.

It speaks STARTTLS or TLS from the start with a certificate made for the test run (a CA and
a server certificate for localhost and 127.0.0.1), asks for a login (AUTH PLAIN and LOGIN,
only over TLS), and can misbehave the way real servers do: refuse one recipient with 550,
or drop the connection after a number of emails.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

LOCALHOST = "127.0.0.1"


# --- Certificates ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Certificates:
    #: The CA certificate clients trust: what smtp.ca_file points at.
    ca: Path
    #: The server's certificate (for localhost and 127.0.0.1) and its key.
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def make_certificates(folder: Path, *, hosts: Iterable[str] = ("localhost",)) -> Certificates:
    """A CA and a server certificate it signed, valid for `hosts` and 127.0.0.1."""
    now = datetime.now(timezone.utc)
    ca_key, server_key = _key(), _key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sheetfollow test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    names: list[x509.GeneralName] = [x509.DNSName(host) for host in hosts]
    names.append(x509.IPAddress(ipaddress.ip_address(LOCALHOST)))
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    paths = Certificates(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    paths.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths.cert.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(_pem_key(server_key))
    return paths


# --- The server ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """One email as the server got it: the envelope and the bytes of the message."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    #: The user that logged in on the connection that sent it ("" without a login).
    user: str

    def message(self) -> EmailMessage:
        parsed = BytesParser(policy=policy.default).parsebytes(self.data)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class _Handler:
    refuse: frozenset[str]
    drop_after: int | None
    received: list[Received] = field(default_factory=list)
    #: The client's (address, port) of every connection that said EHLO; STARTTLS starts
    #: a new session on the same connection, so sessions are not counted.
    peers: set[Any] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        with self.lock:
            self.peers.add(tuple(session.peer))
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address.lower() in self.refuse:
            return "550 5.1.1 <" + address + ">: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        user = session.auth_data.login.decode() if session.auth_data else ""
        with self.lock:
            self.received.append(
                Received(envelope.mail_from, tuple(envelope.rcpt_tos), envelope.content, user)
            )
            count = len(self.received)
        if self.drop_after is not None and count % self.drop_after == 0:
            # After the reply has gone out: the next email finds the connection closed.
            server.loop.call_soon(server.transport.close)
        return "250 2.0.0 OK: queued as " + str(count)


class _Authenticator:
    def __init__(self, users: Mapping[str, str]) -> None:
        self.users = dict(users)

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = data.login.decode(), data.password.decode()
        if self.users.get(user) == password:
            return AuthResult(success=True, auth_data=data)
        return AuthResult(success=False, handled=False)


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind((LOCALHOST, 0))
        port: int = probe.getsockname()[1]
    return port


class SmtpServer:
    """`with SmtpServer(certs, security="starttls", users={"anna": "pw"}) as server:` then
    server.port and server.received. security: "starttls", "tls" (implicit) or "none"."""

    def __init__(
        self,
        certs: Certificates | None = None,
        *,
        security: str = "starttls",
        users: Mapping[str, str] | None = None,
        refuse: Iterable[str] = (),
        drop_after: int | None = None,
    ) -> None:
        self.handler = _Handler(frozenset(a.lower() for a in refuse), drop_after)
        self.host = LOCALHOST
        self.port = free_port()
        kwargs: dict[str, Any] = {
            "hostname": LOCALHOST,
            "port": self.port,
            "server_hostname": "localhost",
            "ready_timeout": 5.0,
        }
        if security in ("starttls", "tls"):
            assert certs is not None, "TLS needs certificates"
            context = certs.server_context()
            kwargs["tls_context" if security == "starttls" else "ssl_context"] = context
            kwargs["require_starttls"] = security == "starttls"
        if users is not None:
            kwargs["authenticator"] = _Authenticator(users)
            # aiosmtpd offers AUTH over STARTTLS only when asked to require TLS, and over
            # TLS from the start only when not (it does not count that as TLS).
            kwargs["auth_require_tls"] = security == "starttls"
            kwargs["auth_required"] = security == "starttls"
        self.controller = Controller(self.handler, **kwargs)

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    @property
    def connections(self) -> int:
        """How many connections said EHLO so far."""
        with self.handler.lock:
            return len(self.handler.peers)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.controller.stop()
