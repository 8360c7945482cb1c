"""Secrets never reach a message, so no message is ever "redacted".

Replacing the password in a finished message by "***" garbles whatever else happens to
contain it: with the password "example", "anna@example.com" read "anna@***.com". Messages
are built from what is not secret instead (the host, the user, the server's reply), and
the password never goes into them in the first place. Against a real SMTP server on
loopback; the secret files are real files with real modes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Cli
from fakes.smtp_server import Certificates, SmtpServer, make_certificates

from sheetfollow.config import CONFIG_NAME
from sheetfollow.errors import ConfigError
from sheetfollow.exit_codes import ExitCode
from sheetfollow.notify import smtp
from sheetfollow.notify.smtp import ServerError, SmtpSettings
from sheetfollow.secrets import read_private_file

# aiosmtpd itself sets a deprecated attribute on every successful login.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Session.login_data is deprecated:DeprecationWarning"
)

USER = "anna@example.com"
PASSWORD = "Tr0ub4dor&3-p4ss"
SENDER = "Sales follow-ups <sales@example.com>"
#: A wrong password that shares nothing with the message it causes.
UNRELATED = "wr0ng-Secret!"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def server(certs: Certificates) -> Iterator[SmtpServer]:
    with SmtpServer(certs, security="starttls", users={USER: PASSWORD}) as running:
        yield running


def settings(server: SmtpServer, certs: Certificates, password: str) -> SmtpSettings:
    return SmtpSettings(
        host=server.host,
        port=server.port,
        security="starttls",
        username=USER,
        sender=SENDER,
        ca_file=str(certs.ca),
        timeout=5.0,
        password=password,
    )


def refusal(server: SmtpServer, certs: Certificates, password: str) -> str:
    with pytest.raises(ServerError) as caught:
        smtp.connect(settings(server, certs, password))
    return str(caught.value)


# Each wrong password is a piece of the message it causes: the user's domain, the host, the
# server's reply code, a word of the sentence.
@pytest.mark.parametrize("wrong", ["example", "127.0.0.1", "535", "password", "anna"])
def test_a_refused_password_does_not_change_a_word_of_the_message(
    server: SmtpServer, certs: Certificates, wrong: str
) -> None:
    expected = refusal(server, certs, UNRELATED)
    assert expected.startswith(
        f"the server refused the username or password for {USER} at {server.host} (535 "
    )
    assert refusal(server, certs, wrong) == expected
    assert "***" not in refusal(server, certs, wrong)


@pytest.mark.parametrize("secret", ["certificate", "trusted", "127.0.0.1"])
def test_a_tls_failure_does_not_change_with_the_password(
    server: SmtpServer, certs: Certificates, secret: str
) -> None:
    """The certificate is not trusted (no ca_file): a message that has nothing to do with
    the password must come out the same whatever the password is."""

    def message(password: str) -> str:
        untrusted = SmtpSettings(
            server.host, server.port, "starttls", USER, SENDER, "", 5.0, password
        )
        with pytest.raises(ServerError) as caught:
            smtp.connect(untrusted)
        return str(caught.value)

    assert message(secret) == message(UNRELATED)


def test_check_smtp_shows_the_user_and_host_whatever_the_password(
    cli: Cli, server: SmtpServer, certs: Certificates
) -> None:
    config = cli.cwd / CONFIG_NAME
    config.write_text(
        f'[smtp]\nhost = "{server.host}"\nport = {server.port}\nusername = "{USER}"\n'
        f'ca_file = "{certs.ca}"\nfrom = "{SENDER}"\n',
        encoding="utf-8",
    )
    env = {"SHEETFOLLOW_SMTP_PASSWORD": "example"}
    result = cli("check", "--smtp", "--config", config, env=env)
    assert result.exit_code == ExitCode.REMOTE
    failed = [line for line in result.output.splitlines() if "FAIL" in line]
    assert len(failed) == 1
    assert f"refused the username or password for {USER} at {server.host}" in failed[0]
    assert "***" not in result.output


# --- Secret files: their content never shows ----------------------------------------------


@pytest.mark.skipif(os.name == "nt", reason="file modes are POSIX")
@pytest.mark.parametrize(
    ("content", "mode", "says"),
    [
        (PASSWORD.encode() + b"\n", 0o644, "can be read by other users (mode 644)"),
        (PASSWORD.encode() + b"\xff\xfe\n", 0o600, "cannot be read (not UTF-8 text)"),
    ],
)
def test_a_refused_secret_file_is_named_never_quoted(
    tmp_path: Path, content: bytes, mode: int, says: str
) -> None:
    secret = tmp_path / "smtp-password"
    secret.write_bytes(content)
    secret.chmod(mode)
    where = f"sheetfollow.toml: smtp.password_file: {secret}"
    with pytest.raises(ConfigError) as caught:
        read_private_file(secret, where)
    assert str(caught.value).startswith(f"{where} {says}")
    assert PASSWORD not in str(caught.value)
    assert PASSWORD[:6] not in str(caught.value)


@pytest.mark.skipif(os.name == "nt", reason="file modes are POSIX")
def test_a_key_file_that_is_not_a_key_is_named_never_quoted(tmp_path: Path) -> None:
    from sheetfollow.backends.gsheets import load_service_account

    key = tmp_path / "google-key.json"
    private = "-----BEGIN PRIVATE KEY-----\\nU0VDUkVUS0VZTUFURVJJQUwtMDEyMzQ1\\n-----END..."
    for text in (
        f'{{"type": "service_account", "private_key": "{private}"',  # cut short: not JSON
        f'{{"type": "service_account", "client_email": "a@b.c", "token_uri": "https://t",'
        f' "private_key": "{private}"}}',  # JSON, but the key cannot be used
    ):
        key.write_text(text, encoding="utf-8")
        key.chmod(0o600)
        with pytest.raises(ConfigError) as caught:
            load_service_account(key)
        assert str(key) in str(caught.value)
        assert "U0VDUkVUS0VZ" not in str(caught.value)


# --- The run log: what a run did, never with what it signed in with ------------------------

MONDAY = "2026-12-07"


def test_the_run_log_records_the_sending_and_the_refusal_never_the_password(
    cli: Cli, server: SmtpServer, certs: Certificates
) -> None:
    """A morning run through a real mail server on loopback, then one with a wrong password:
    the log beside the workbook says what went out and why the second failed, and holds
    neither password."""
    sheet = cli.cwd / "sales" / "pipeline.xlsx"
    assert cli("init", "--example", "--today", MONDAY, sheet).exit_code == 0
    config = sheet.parent / CONFIG_NAME
    text = config.read_text(encoding="utf-8")
    assert text.count("\n[smtp]\n") == 1
    smtp_keys = (
        f'host = "{server.host}"\nport = {server.port}\nusername = "{USER}"\n'
        f'ca_file = "{certs.ca}"\nfrom = "{SENDER}"\n'
    )
    config.write_text(text.replace("\n[smtp]\n", f"\n[smtp]\n{smtp_keys}"), encoding="utf-8")

    sent = cli("run", "--quiet", "--config", config, env={"SHEETFOLLOW_SMTP_PASSWORD": PASSWORD})
    assert (sent.exit_code, sent.stdout) == (0, ""), sent.output
    assert server.received
    wrong = "Wr0ng!" + PASSWORD[::-1]
    refused = cli(
        "check", "--smtp", "--quiet", "--config", config,
        env={"SHEETFOLLOW_SMTP_PASSWORD": wrong},
    )  # fmt: skip
    assert refused.exit_code == ExitCode.REMOTE

    log = (sheet.parent / ".sheetfollow" / "pipeline.xlsx.log").read_text(encoding="utf-8")
    assert "sent" in log and "anna@example.com" in log
    assert f"refused the username or password for {USER} at {server.host}" in log
    for secret in (PASSWORD, wrong, PASSWORD[:8], wrong[:8]):
        assert secret not in log
