"""Delivery through a mail server, against a real SMTP server on loopback: STARTTLS and TLS
with a certificate made for the test, logins, refused recipients, dropped connections, and
every failure in plain words without the password in them. Also [smtp] in the config, the
password's sources, and the MIME form of a message."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timezone
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from conftest import Cli
from fakes.smtp_server import LOCALHOST, Certificates, SmtpServer, free_port, make_certificates

from sheetfollow.config import (
    _EMAIL_KEYS,
    _SMTP_KEYS,
    CONFIG_NAME,
    Config,
    EmailConfig,
    SmtpConfig,
    load_config,
)
from sheetfollow.errors import ConfigError
from sheetfollow.exit_codes import ExitCode
from sheetfollow.notify import smtp
from sheetfollow.notify.message import Attachment, Message
from sheetfollow.notify.mime import to_mime
from sheetfollow.notify.smtp import (
    DeliveryError,
    ServerError,
    SmtpSettings,
    SmtpTransport,
    settings_from,
)

# aiosmtpd itself sets a deprecated attribute on every successful login.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Session.login_data is deprecated:DeprecationWarning"
)

USER = "anna@example.com"
PASSWORD = "Tr0ub4dor&3-p4ss"
SENDER = "Sales follow-ups <sales@example.com>"
NOW = datetime(2026, 3, 11, 7, 0, tzinfo=timezone.utc)
TEMPLATE = Path(__file__).resolve().parents[1] / "templates" / CONFIG_NAME


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def server(certs: Certificates) -> Iterator[SmtpServer]:
    with SmtpServer(certs, security="starttls", users={USER: PASSWORD}) as running:
        yield running


def settings_for(
    server: SmtpServer, certs: Certificates, *, security: str = "starttls", password: str = PASSWORD
) -> SmtpSettings:
    return SmtpSettings(
        host=server.host,
        port=server.port,
        security=security,
        username=USER,
        sender=SENDER,
        ca_file=str(certs.ca),
        timeout=5.0,
        password=password,
    )


def message(to: str, subject: str = "2 follow-ups today") -> Message:
    return Message(
        kind="owner",
        key=to.partition("@")[0].title(),
        to=to,
        subject=subject,
        text=f"Good morning {to}\n. a line that starts with a dot\n",
        html=f"<p>Good morning {to}</p>",
    )


def send_all(transport: SmtpTransport, *addresses: str) -> list[str]:
    """Send one email to each address; what became of each ('250 ...' or the error)."""
    outcomes = []
    with transport:
        for to in addresses:
            mail = message(to)
            try:
                outcomes.append(transport.send(mail, to_mime(mail, sender=SENDER, now=NOW)))
            except (DeliveryError, ServerError) as error:
                outcomes.append(f"{type(error).__name__}: {error}")
    return outcomes


# --- Sending -------------------------------------------------------------------------------


def test_starttls_login_and_many_emails_over_one_connection(
    server: SmtpServer, certs: Certificates
) -> None:
    outcomes = send_all(
        SmtpTransport(settings_for(server, certs)), "a@example.com", "b@example.com"
    )
    assert all(outcome.startswith("250 ") for outcome in outcomes)
    got = server.received
    assert [r.rcpt_tos for r in got] == [("a@example.com",), ("b@example.com",)]
    assert {r.mail_from for r in got} == {"sales@example.com"}
    assert {r.user for r in got} == {USER}
    assert server.connections == 1
    first = got[0].message()
    assert first["From"] == SENDER
    assert first["Auto-Submitted"] == "auto-generated"
    body = first.get_body(("plain",))
    assert body is not None
    # SMTP's dot-stuffing is undone on arrival: the line is as written.
    assert "\n. a line that starts with a dot" in body.get_content().replace("\r\n", "\n")


def test_tls_from_the_start(certs: Certificates) -> None:
    with SmtpServer(certs, security="tls", users={USER: PASSWORD}) as implicit:
        settings = settings_for(implicit, certs, security="tls")
        assert send_all(SmtpTransport(settings), "a@example.com")[0].startswith("250 ")
        assert [r.user for r in implicit.received] == [USER]


def test_a_server_on_this_machine_without_tls_or_login(certs: Certificates) -> None:
    with SmtpServer(security="none") as plain:
        settings = replace(settings_for(plain, certs, security="none"), username="", password="")
        assert send_all(SmtpTransport(settings), "a@example.com")[0].startswith("250 ")
        assert [r.rcpt_tos for r in plain.received] == [("a@example.com",)]


def test_a_refused_recipient_fails_alone(certs: Certificates) -> None:
    with SmtpServer(certs, users={USER: PASSWORD}, refuse=["gone@example.com"]) as refusing:
        outcomes = send_all(
            SmtpTransport(settings_for(refusing, certs)),
            "a@example.com",
            "gone@example.com",
            "c@example.com",
        )
        assert outcomes[1] == (
            "DeliveryError: the server refused the address gone@example.com: "
            "550 5.1.1 <gone@example.com>: mailbox unavailable"
        )
        assert [r.rcpt_tos for r in refusing.received] == [("a@example.com",), ("c@example.com",)]
        assert refusing.connections == 1


def test_a_connection_the_server_dropped_is_opened_again(certs: Certificates) -> None:
    with SmtpServer(certs, users={USER: PASSWORD}, drop_after=1) as dropping:
        outcomes = send_all(
            SmtpTransport(settings_for(dropping, certs)),
            "a@example.com",
            "b@example.com",
            "c@example.com",
        )
        assert all(outcome.startswith("250 ") for outcome in outcomes), outcomes
        assert len(dropping.received) == 3
        assert dropping.connections == 3


# --- Failures in plain words ----------------------------------------------------------------


def test_a_wrong_password_is_a_plain_error_without_the_password(
    server: SmtpServer, certs: Certificates
) -> None:
    wrong = "not-the-Passw0rd"
    with pytest.raises(ServerError) as caught:
        smtp.connect(settings_for(server, certs, password=wrong))
    text = str(caught.value)
    assert text.startswith(
        f"the server refused the username or password for {USER} at {LOCALHOST} (535 "
    )
    assert caught.value.exit_code is ExitCode.REMOTE
    assert wrong not in text and wrong not in repr(caught.value.args)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_an_untrusted_certificate_says_to_set_ca_file(
    server: SmtpServer, certs: Certificates
) -> None:
    with pytest.raises(ServerError, match=r"certificate of 127\.0\.0\.1 is not trusted .*ca_file"):
        smtp.connect(replace(settings_for(server, certs), ca_file=""))


def test_a_host_that_does_not_exist(certs: Certificates) -> None:
    settings = SmtpSettings("smtp.exampel.invalid", 587, "starttls", "", SENDER, "", 5.0)
    with pytest.raises(ServerError, match=r"^cannot find host smtp\.exampel\.invalid "):
        smtp.connect(settings)


def test_a_port_nobody_listens_on() -> None:
    port = free_port()
    settings = SmtpSettings(LOCALHOST, port, "starttls", "", SENDER, "", 5.0)
    with pytest.raises(ServerError, match=f"^{LOCALHOST} refused the connection on port {port} "):
        smtp.connect(settings)


def test_tls_against_a_starttls_port_names_the_setting(
    server: SmtpServer, certs: Certificates
) -> None:
    with pytest.raises(ServerError, match=r"TLS with .* failed .*check smtp.security"):
        smtp.connect(settings_for(server, certs, security="tls"))


def test_starttls_against_a_tls_port_names_the_setting(certs: Certificates) -> None:
    """A TLS-from-the-start server waits for a handshake and never greets a plain client."""
    with SmtpServer(certs, security="tls", users={USER: PASSWORD}) as implicit:
        settings = replace(settings_for(implicit, certs), timeout=0.3)
        with pytest.raises(ServerError) as caught:
            smtp.connect(settings)
    assert str(caught.value) == (
        f"{LOCALHOST}:{implicit.port} said nothing within 0.3 seconds; if it expects TLS from "
        "the start (port 465), set smtp.security = 'tls'"
    )


def test_a_server_that_offers_no_starttls(certs: Certificates) -> None:
    with SmtpServer(security="none") as plain:
        settings = replace(settings_for(plain, certs), username="", password="")
        with pytest.raises(ServerError, match=r"does not offer STARTTLS; .*security = 'tls'"):
            smtp.connect(settings)


def test_a_server_that_went_away_fails_the_email_in_plain_words(certs: Certificates) -> None:
    """A server gone for good (not a dropped idle connection) is tried once more, not for
    ever."""
    with SmtpServer(certs, users={USER: PASSWORD}) as leaving:
        transport = SmtpTransport(settings_for(leaving, certs))
        with transport:
            first = message("a@example.com")
            transport.send(first, to_mime(first, sender=SENDER, now=NOW))
    # The server has stopped; the transport still holds its connection.
    outcome = send_all(transport, "b@example.com")[0]
    assert outcome.startswith(f"ServerError: {LOCALHOST} refused the connection on port ")


def test_the_password_never_shows_in_the_settings_repr(certs: Certificates) -> None:
    settings = SmtpSettings(LOCALHOST, 587, "starttls", USER, SENDER, "", 30.0, PASSWORD)
    assert PASSWORD not in repr(settings)
    assert smtp.scrub(f"535 bad {PASSWORD}", PASSWORD) == "535 bad ***"


# --- check --smtp -------------------------------------------------------------------------------


def test_check_goes_through_every_step(server: SmtpServer, certs: Certificates) -> None:
    steps = smtp.check(settings_for(server, certs))
    assert [(s.name, s.ok) for s in steps] == [
        ("dns", True),
        ("connect", True),
        ("tls", True),
        ("login", True),
    ]
    assert steps[2].text.endswith(f"certificate of {LOCALHOST} trusted")
    assert steps[3].text == f"logged in as {USER}"
    assert server.received == []


def test_check_stops_at_the_step_that_fails(server: SmtpServer, certs: Certificates) -> None:
    steps = smtp.check(replace(settings_for(server, certs), ca_file=""))
    assert [(s.name, s.ok) for s in steps] == [("dns", True), ("connect", True), ("tls", False)]
    assert "set smtp.ca_file" in steps[-1].text


def smtp_config(folder: Path, server: SmtpServer, certs: Certificates) -> Path:
    path = folder / CONFIG_NAME
    path.write_text(
        f'[smtp]\nhost = "{server.host}"\nport = {server.port}\nusername = "{USER}"\n'
        f'ca_file = "{certs.ca}"\nfrom = "{SENDER}"\n',
        encoding="utf-8",
    )
    return path


def test_check_smtp_on_the_command_line(cli: Cli, server: SmtpServer, certs: Certificates) -> None:
    config = smtp_config(cli.cwd, server, certs)
    good = cli("check", "--smtp", "--config", config, env={"SHEETFOLLOW_SMTP_PASSWORD": PASSWORD})
    assert good.exit_code == 0, good.output
    assert good.output.splitlines()[-1] == "the mail server works"
    assert f"  ok    login: logged in as {USER}" in good.output.splitlines()
    wrong = "wr0ng-Secret!"
    env = {"SHEETFOLLOW_SMTP_PASSWORD": wrong}
    bad = cli("check", "--smtp", "--json", "--config", config, env=env)
    assert bad.exit_code == ExitCode.REMOTE
    assert '"ok": false' in bad.output
    assert "refused the username or password" in bad.output
    assert wrong not in bad.output and PASSWORD not in good.output


def test_check_smtp_without_a_server_points_at_the_outbox(cli: Cli) -> None:
    result = cli("check", "--smtp", env={"SHEETFOLLOW_SMTP_HOST": ""})
    assert result.exit_code == 0
    assert "emails are written to the outbox folder" in result.output


# --- [smtp] and [email] in sheetfollow.toml -------------------------------------------------------


def config_with(folder: Path, text: str) -> Config:
    (folder / CONFIG_NAME).write_text(text, encoding="utf-8")
    return load_config(cwd=folder)


def config_error(folder: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        config_with(folder, text)
    return str(caught.value)


def test_smtp_and_email_keys_are_read(tmp_path: Path) -> None:
    config = config_with(
        tmp_path,
        '[smtp]\nhost = "smtp.example.com"\nport = 2525\nsecurity = "TLS"\nusername = "u"\n'
        'password_env = "MAIL_PW"\npassword_file = "secret.txt"\nca_file = "ca.pem"\n'
        f'from = "{SENDER}"\ntimeout = 12\n'
        '[email]\nmanager = "boss@example.com"\noutbox = "mails"\ncoming_days = 5\n',
    )
    assert config.smtp == SmtpConfig(
        host="smtp.example.com",
        port=2525,
        security="tls",
        username="u",
        password_env="MAIL_PW",
        password_file=str(tmp_path / "secret.txt"),
        ca_file=str(tmp_path / "ca.pem"),
        sender=SENDER,
        timeout=12.0,
    )
    assert config.email == EmailConfig("boss@example.com", str(tmp_path / "mails"), 5)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[smtp]\nsecurity = "ssl"\n',
            "smtp.security must be one of 'starttls', 'tls', 'none', not 'ssl'",
        ),
        ("[smtp]\nport = 0\n", "smtp.port must be a whole number from 1 to 65535, not 0"),
        ('[smtp]\nfrom = "sales"\n', "smtp.from must be an email address such as"),
        ('[smtp]\npasword = "x"\n', "unknown key 'smtp.pasword' (did you mean 'password_env'?)"),
        (
            '[smtp]\nhost = "smtp.example.com"\nsecurity = "none"\n',
            "smtp.security = 'none' sends mail and password unencrypted",
        ),
        ('[email]\nmanager = "Sarah"\n', "email.manager must be an email address such as"),
        ("[smtp]\ntimeout = 0\n", "smtp.timeout must be a number of seconds from 1 to 600"),
    ],
)
def test_bad_smtp_values_are_named(tmp_path: Path, text: str, message: str) -> None:
    assert message in config_error(tmp_path, text)


def test_the_template_documents_every_smtp_and_email_key() -> None:
    text = TEMPLATE.read_text(encoding="utf-8")
    for section, keys in (("smtp", _SMTP_KEYS), ("email", _EMAIL_KEYS)):
        body = text.split(f"\n[{section}]\n", 1)[1].split("\n[", 1)[0]
        missing = [key for key in keys if f"\n# {key} = " not in body]
        assert not missing, f"[{section}] does not document {missing}"


# --- The environment and the password -----------------------------------------------------


def test_without_a_host_there_is_no_server() -> None:
    assert settings_from(Config(), {}) is None


def test_the_environment_replaces_the_file(tmp_path: Path) -> None:
    config = config_with(tmp_path, '[smtp]\nhost = "smtp.example.com"\nfrom = "a@example.com"\n')
    settings = settings_from(
        config,
        {
            "SHEETFOLLOW_SMTP_HOST": "mail.internal",
            "SHEETFOLLOW_SMTP_PORT": "2465",
            "SHEETFOLLOW_SMTP_SECURITY": "tls",
            "SHEETFOLLOW_SMTP_USER": USER,
            "SHEETFOLLOW_SMTP_FROM": "cron@example.com",
            "SHEETFOLLOW_SMTP_PASSWORD": PASSWORD,
        },
    )
    assert settings == SmtpSettings(
        "mail.internal", 2465, "tls", USER, "cron@example.com", "", 30.0, PASSWORD
    )


@pytest.mark.parametrize(("security", "port"), [("starttls", 587), ("tls", 465), ("none", 25)])
def test_the_port_follows_the_security(tmp_path: Path, security: str, port: int) -> None:
    config = config_with(
        tmp_path, f'[smtp]\nhost = "localhost"\nsecurity = "{security}"\nfrom = "a@example.com"\n'
    )
    settings = settings_from(config, {})
    assert settings is not None and settings.port == port


def test_the_sender_defaults_to_a_username_that_is_an_address(tmp_path: Path) -> None:
    config = config_with(tmp_path, f'[smtp]\nhost = "smtp.example.com"\nusername = "{USER}"\n')
    settings = settings_from(config, {"SHEETFOLLOW_SMTP_PASSWORD": PASSWORD})
    assert settings is not None and settings.sender == USER
    bare = config_with(tmp_path, '[smtp]\nhost = "smtp.example.com"\n')
    with pytest.raises(ConfigError, match=r"smtp\.from is not set"):
        settings_from(bare, {})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SHEETFOLLOW_SMTP_PORT": "five"}, "SHEETFOLLOW_SMTP_PORT must be a port number"),
        ({"SHEETFOLLOW_SMTP_SECURITY": "ssl"}, "SHEETFOLLOW_SMTP_SECURITY must be one of"),
        ({"SHEETFOLLOW_SMTP_FROM": "nobody"}, "SHEETFOLLOW_SMTP_FROM must be an email address"),
        (
            {"SHEETFOLLOW_SMTP_SECURITY": "none"},
            "smtp.security = 'none' sends mail and password unencrypted",
        ),
    ],
)
def test_bad_environment_values_are_named(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    config = config_with(tmp_path, '[smtp]\nhost = "smtp.example.com"\nfrom = "a@example.com"\n')
    with pytest.raises(ConfigError, match=message):
        settings_from(config, env)


def with_login(folder: Path, extra: str = "") -> Config:
    return config_with(folder, f'[smtp]\nhost = "smtp.example.com"\nusername = "{USER}"\n{extra}')


def test_a_username_without_a_password_says_where_to_put_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from(with_login(tmp_path), {})
    assert str(caught.value) == (
        "sheetfollow.toml: smtp.username is set but there is no password: set the environment "
        "variable SHEETFOLLOW_SMTP_PASSWORD or smtp.password_file"
    )


def test_the_password_comes_from_the_named_variable(tmp_path: Path) -> None:
    config = with_login(tmp_path, 'password_env = "MAIL_PW"\n')
    settings = settings_from(config, {"MAIL_PW": PASSWORD, "SHEETFOLLOW_SMTP_PASSWORD": "other"})
    assert settings is not None and settings.password == PASSWORD


@pytest.mark.skipif(os.name == "nt", reason="file modes are POSIX")
def test_a_password_file_others_can_read_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "smtp-password"
    secret.write_text(PASSWORD + "\n", encoding="utf-8")
    secret.chmod(0o644)
    config = with_login(tmp_path, 'password_file = "smtp-password"\n')
    with pytest.raises(ConfigError) as caught:
        settings_from(config, {})
    assert str(caught.value) == (
        f"sheetfollow.toml: smtp.password_file: {secret} can be read by other users (mode 644); "
        f"make it private with: chmod 600 {secret}"
    )
    assert PASSWORD not in str(caught.value)
    secret.chmod(0o600)
    settings = settings_from(config, {})
    assert settings is not None and settings.password == PASSWORD  # without the newline


def test_a_missing_password_file_is_named(tmp_path: Path) -> None:
    config = with_login(tmp_path, 'password_file = "nowhere"\n')
    with pytest.raises(ConfigError, match=f"smtp.password_file: {tmp_path / 'nowhere'} does not"):
        settings_from(config, {})


# --- The email as it travels ------------------------------------------------------------------


def test_a_message_becomes_text_html_and_a_calendar() -> None:
    calendar = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nSUMMARY:Z\xc3\xb6e\r\nEND:VCALENDAR\r\n"
    rendered = Message(
        kind="owner",
        key="Zoë",
        to="zoe@example.com",
        subject="3 opvolgingen vandaag — Zoë",
        text="Goedemorgen Zoë\n",
        html="<p>Goedemorgen Zoë</p>",
        language="nl",
        attachments=(Attachment("follow-ups.ics", "text/calendar", calendar),),
    )
    raw = to_mime(rendered, sender=SENDER, now=NOW).as_bytes()
    assert raw.isascii()  # any server relays it unchanged
    assert b"\r\nSubject: 3 opvolgingen vandaag =?utf-8?" in raw
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert parsed["Subject"] == "3 opvolgingen vandaag — Zoë"
    assert parsed["Date"].datetime == NOW
    assert parsed["Message-ID"].endswith("@example.com>")
    assert parsed["Content-Language"] == "nl"
    assert parsed.get_content_type() == "multipart/mixed"
    text, html = parsed.get_body(("plain",)), parsed.get_body(("html",))
    assert text is not None and text.get_content() == "Goedemorgen Zoë\r\n"
    assert html is not None and html.get_content() == "<p>Goedemorgen Zoë</p>\r\n"
    (attached,) = parsed.iter_attachments()
    assert attached.get_content_type() == "text/calendar"
    assert attached.get_param("method") == "PUBLISH"
    assert attached.get_filename() == "follow-ups.ics"
    assert attached.get_content().replace("\r\n", "\n") == calendar.decode().replace("\r\n", "\n")
