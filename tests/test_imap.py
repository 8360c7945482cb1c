"""Reading replies from a mailbox, against a real Dovecot on loopback (tests/fakes/
imap_server.py): [inbox] settings and their environment overrides, TLS, STARTTLS and a
plain login on this machine, every failure named by its step without the password in it,
messages fetched byte for byte and left unseen, moves that create folders and delete
nothing (also on servers without MOVE or UIDPLUS, with another separator or a prefix),
non-ASCII folder names, and `sheetfollow check --inbox`."""

from __future__ import annotations

import os
import re
import time
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import Cli
from fakes.imap_server import DovecotServer, ImapAccount
from fakes.smtp_server import free_port
from hypothesis import given
from hypothesis import strategies as st
from json_output import data_of

from sheetfollow.config import CONFIG_NAME, InboxConfig, load_config
from sheetfollow.errors import ConfigError
from sheetfollow.exit_codes import ExitCode
from sheetfollow.notify import imap
from sheetfollow.notify.imap import ImapError, ImapSettings, Mailbox, imap_settings

PASSWORD_ENV = "SHEETFOLLOW_IMAP_PASSWORD"


def settings_for(
    account: ImapAccount, *, security: str = "tls", timeout: float = 10.0, **changes: object
) -> ImapSettings:
    settings = ImapSettings(
        host=account.host,
        port=account.tls_port if security == "tls" else account.port,
        security=security,
        username=account.user,
        ca_file=str(account.ca_file),
        timeout=timeout,
        password=account.password,
    )
    return replace(settings, **changes)  # type: ignore[arg-type]


def reply(subject: str, body: str = "Spoke to her, sends the PO on Friday.") -> bytes:
    """A reply as a mail app sends it: CRLF lines, UTF-8 in 8 bits."""
    text = (
        "From: Anna de Vries <anna@example.com>\r\n"
        "To: followup@example.com\r\n"
        f"Subject: {subject}\r\n"
        "Message-ID: <" + str(time.monotonic_ns()) + "@phone.example.com>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
        f"{body}\r\n"
    )
    return text.encode("utf-8")


def failure(settings: ImapSettings, folder: str = "INBOX") -> ImapError:
    with pytest.raises(ImapError) as caught, Mailbox(settings) as box:
        box.messages(folder)
    return caught.value


# --- [inbox] and the environment -------------------------------------------------------------


def test_settings_come_from_inbox_with_the_usual_ports() -> None:
    inbox = InboxConfig(host="imap.example.com", username="followup@example.com")
    env = {PASSWORD_ENV: "hunter2 with spaces"}
    tls = imap_settings(inbox, env)
    assert (tls.host, tls.port, tls.security, tls.username) == (
        "imap.example.com",
        993,
        "tls",
        "followup@example.com",
    )
    assert tls.password == "hunter2 with spaces"
    assert "hunter2" not in repr(tls)
    assert imap_settings(replace(inbox, security="starttls"), env).port == 143
    assert imap_settings(replace(inbox, port=1993), env).port == 1993


def test_environment_overrides_inbox() -> None:
    inbox = InboxConfig(host="imap.example.com", username="followup@example.com", port=993)
    env = {
        PASSWORD_ENV: "pw",
        "SHEETFOLLOW_IMAP_HOST": "localhost",
        "SHEETFOLLOW_IMAP_PORT": "10143",
        "SHEETFOLLOW_IMAP_USER": "other@example.com",
        "SHEETFOLLOW_IMAP_SECURITY": "NONE",
    }
    settings = imap_settings(inbox, env)
    assert (settings.host, settings.port, settings.security, settings.username) == (
        "localhost",
        10143,
        "none",
        "other@example.com",
    )
    # An empty variable (as cron or a .env file leaves it) does not override.
    blank = {name: "" for name in imap.ENV_OVERRIDES.values()}
    assert imap_settings(inbox, {**blank, PASSWORD_ENV: "pw"}).host == "imap.example.com"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SHEETFOLLOW_IMAP_PORT": "99999"}, "SHEETFOLLOW_IMAP_PORT must be a port number"),
        ({"SHEETFOLLOW_IMAP_SECURITY": "ssl"}, "SHEETFOLLOW_IMAP_SECURITY must be one of tls"),
        (
            {"SHEETFOLLOW_IMAP_SECURITY": "none"},
            "inbox.security = 'none' sends the password unencrypted; it is only allowed for "
            "a server on this machine (localhost), not 'imap.example.com'",
        ),
        ({PASSWORD_ENV: ""}, "set the environment variable SHEETFOLLOW_IMAP_PASSWORD or"),
    ],
)
def test_wrong_settings_are_named(env: dict[str, str], message: str) -> None:
    inbox = InboxConfig(host="imap.example.com", username="followup@example.com")
    full = {PASSWORD_ENV: "pw", **env}
    with pytest.raises(ConfigError) as caught:
        imap_settings(inbox, full)
    assert message in str(caught.value)


def test_host_and_username_are_needed() -> None:
    with pytest.raises(ConfigError, match=r"^sheetfollow\.toml: inbox\.host is not set"):
        imap_settings(InboxConfig(address="followup@example.com"), {PASSWORD_ENV: "pw"})
    with pytest.raises(ConfigError, match=r"inbox\.username is not set"):
        imap_settings(InboxConfig(host="imap.example.com"), {PASSWORD_ENV: "pw"})


def test_password_file_must_be_private(tmp_path: Path) -> None:
    secret = tmp_path / "imap.pw"
    secret.write_text("correct horse \n", encoding="utf-8")
    secret.chmod(0o600)
    inbox = InboxConfig(host="imap.example.com", username="u", password_file=str(secret))
    assert imap_settings(inbox, {}).password == "correct horse "
    assert imap_settings(inbox, {PASSWORD_ENV: "from env"}).password == "from env"
    if os.name != "nt":
        secret.chmod(0o644)
        with pytest.raises(ConfigError, match=r"inbox\.password_file: .* chmod 600"):
            imap_settings(inbox, {})


def test_inbox_section_reaches_the_settings(tmp_path: Path, imap_server: ImapAccount) -> None:
    (tmp_path / CONFIG_NAME).write_text(imap_server.inbox_toml("starttls"), encoding="utf-8")
    config = load_config(cwd=tmp_path)
    settings = imap_settings(config.inbox, imap_server.env())
    assert settings == settings_for(imap_server, security="starttls", timeout=30.0)


# --- Connecting and logging in ---------------------------------------------------------------


@pytest.mark.parametrize("security", ["tls", "starttls", "none"])
def test_each_security_logs_in_and_reads(imap_server: ImapAccount, security: str) -> None:
    imap_server.deliver(reply("P-0079 · Acme: Reached"))
    with Mailbox(settings_for(imap_server, security=security)) as box:
        assert [m.raw for m in box.messages("INBOX")] == imap_server.folder_messages()
    logins = [
        line
        for line in imap_server.server.log().splitlines()
        if f"Login: user=<{imap_server.user}>" in line
    ]
    assert len(logins) == 1, imap_server.server.log()
    # Dovecot says "TLS" for an encrypted connection, "secured" for a plain one on loopback.
    assert ("TLS" in logins[0]) is (security != "none"), logins[0]


def test_wrong_password_names_the_login_step_not_the_password(imap_server: ImapAccount) -> None:
    wrong = 'Wr0ng "quoted" pass\\word'
    error = failure(settings_for(imap_server, password=wrong))
    assert error.step == "login"
    assert str(error).startswith(f"IMAP {imap_server.host}:{imap_server.tls_port}, login: ")
    assert f"refused the username or password for {imap_server.user}" in str(error)
    assert wrong not in str(error) and "Wr0ng" not in str(error)
    assert error.exit_code == ExitCode.REMOTE


def test_non_ascii_password_logs_in(dovecot: DovecotServer) -> None:
    account = dovecot.add_user("pässwörd ✓")
    account.deliver(reply("hi"))
    with Mailbox(settings_for(account)) as box:
        assert len(box.messages("INBOX")) == 1


def test_connection_refused_names_host_and_port(imap_server: ImapAccount) -> None:
    port = free_port()
    error = failure(settings_for(imap_server, port=port))
    assert error.step == "connect"
    assert str(error) == (
        f"IMAP {imap_server.host}:{port}, connect: {imap_server.host} refused the connection "
        f"on port {port} (check inbox.port: usually 993 for tls, 143 for starttls)"
    )


def test_unknown_host_is_a_dns_failure(imap_server: ImapAccount) -> None:
    error = failure(settings_for(imap_server, host="imap.exampel.invalid"))
    assert "cannot find host imap.exampel.invalid (check inbox.host" in str(error)
    steps = imap.check(settings_for(imap_server, host="imap.exampel.invalid"))
    assert [(s.name, s.ok) for s in steps] == [("dns", False)]


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_untrusted_certificate_fails_at_tls(imap_server: ImapAccount, security: str) -> None:
    error = failure(settings_for(imap_server, security=security, ca_file=""))
    assert error.step == "tls"
    assert "the certificate of 127.0.0.1 is not trusted" in str(error)
    assert "set inbox.ca_file to its CA certificate" in str(error)


def test_tls_against_the_plain_port_says_to_check_security(imap_server: ImapAccount) -> None:
    error = failure(settings_for(imap_server, port=imap_server.port))
    assert error.step == "tls"
    assert "check inbox.security ('tls' for port 993, 'starttls' for 143)" in str(error)


def test_plain_connection_to_the_tls_port_times_out_with_a_hint(
    imap_server: ImapAccount,
) -> None:
    settings = settings_for(imap_server, security="starttls", port=imap_server.tls_port)
    error = failure(replace(settings, timeout=0.5))
    assert error.step == "connect"
    assert (
        "no answer within 0.5 seconds; if it expects TLS from the start (port 993), set "
        "inbox.security = 'tls'" in str(error)
    )


def test_unreadable_ca_file_is_a_config_error(imap_server: ImapAccount, tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate", encoding="utf-8")
    settings = settings_for(imap_server, ca_file=str(bad))
    with (
        pytest.raises(ConfigError, match=r"^inbox\.ca_file: .* cannot be read as a CA"),
        Mailbox(settings),
    ):
        pass


# --- Reading ---------------------------------------------------------------------------------


def test_messages_are_the_bytes_delivered_in_order_and_stay_unseen(
    imap_server: ImapAccount,
) -> None:
    first = reply("RE: AW: P-0079 · Acme: Reached", "Très bien — ok 👍\r\n> quoted line")
    # A reply with a big attachment: more than one read from the socket, far past a line.
    attachment = os.urandom(3_000_000).hex().encode()
    big = (
        reply("SV: big")
        + b"\r\n".join(attachment[i : i + 76] for i in range(0, len(attachment), 76))
        + b"\r\n"
    )
    latin = (
        b"Subject: =?iso-8859-1?q?R=E9ponse?=\r\nContent-Type: text/plain; charset=iso-8859-1"
        b"\r\nContent-Transfer-Encoding: 8bit\r\n\r\nR\xe9ponse sans UTF-8\r\n"
    )
    uids = [imap_server.deliver(raw) for raw in (first, big, latin)]
    with Mailbox(settings_for(imap_server)) as box:
        fetched = box.messages("INBOX")
    assert [m.uid for m in fetched] == [str(uid) for uid in uids]
    assert [m.raw for m in fetched] == imap_server.folder_messages("INBOX")
    assert fetched[0].raw == first and fetched[2].raw == latin
    assert len(fetched[1].raw) > 6_000_000
    assert [m.seen for m in imap_server.stored("INBOX")] == [False, False, False]


def test_many_messages_come_in_order_over_several_fetches(imap_server: ImapAccount) -> None:
    count = 2 * imap._BATCH + 3
    raws = [reply(f"reply {n}") for n in range(count)]
    for raw in raws:
        imap_server.deliver(raw)
    with Mailbox(settings_for(imap_server)) as box:
        assert [m.raw for m in box.messages("INBOX")] == raws


def test_an_empty_folder_has_no_messages(imap_server: ImapAccount) -> None:
    with Mailbox(settings_for(imap_server)) as box:
        assert box.messages("INBOX") == []


def test_messages_skip_those_flagged_deleted(imap_server: ImapAccount) -> None:
    gone = imap_server.deliver(reply("deleted by someone"))
    kept = imap_server.deliver(reply("new"))
    imap_server.flag("INBOX", gone, "\\Deleted")
    with Mailbox(settings_for(imap_server)) as box:
        assert [m.uid for m in box.messages("INBOX")] == [str(kept)]
    assert len(imap_server.stored("INBOX")) == 2


def test_a_missing_folder_is_named(imap_server: ImapAccount) -> None:
    error = failure(settings_for(imap_server), "Replies")
    assert error.step == "folder"
    assert str(error).startswith(f"IMAP {imap_server.host}:{imap_server.tls_port}, folder: ")
    assert "the folder 'Replies' cannot be opened" in str(error)
    assert "check inbox.folder" in str(error)


# --- Moving ----------------------------------------------------------------------------------


def test_move_creates_the_nested_folder_and_deletes_nothing(imap_server: ImapAccount) -> None:
    raws = [reply(f"message {n}") for n in range(3)]
    for raw in raws:
        imap_server.deliver(raw)
    with Mailbox(settings_for(imap_server)) as box:
        fetched = box.messages("INBOX")
        box.move(fetched[1].uid, "sheetfollow/done")
        box.move(fetched[2].uid, "sheetfollow/done")
        assert [m.raw for m in box.messages("INBOX")] == [raws[0]]
    assert imap_server.folder_messages("INBOX") == [raws[0]]
    assert imap_server.folder_messages("sheetfollow/done") == raws[1:]
    assert "sheetfollow/done" in imap_server.subscribed()
    assert not any(m.deleted for m in imap_server.stored("sheetfollow/done"))


def test_move_into_an_existing_folder(imap_server: ImapAccount) -> None:
    imap_server.deliver(reply("already there"), "sheetfollow/review")
    imap_server.deliver(reply("new"))
    with Mailbox(settings_for(imap_server)) as box:
        box.move(box.messages("INBOX")[0].uid, "sheetfollow/review")
    assert len(imap_server.folder_messages("sheetfollow/review")) == 2
    assert imap_server.folder_messages("INBOX") == []


def test_move_before_reading_is_refused(imap_server: ImapAccount) -> None:
    refused = r", move: cannot move message 1: no folder was read"
    with pytest.raises(ImapError, match=refused), Mailbox(settings_for(imap_server)) as box:
        box.move("1", "sheetfollow/done")


@pytest.mark.parametrize(
    ("without", "left_flagged"),
    [(("MOVE",), False), (("MOVE", "UIDPLUS"), True)],
    ids=["copy-expunge-uid", "copy-flag-only"],
)
def test_move_without_move_touches_that_message_only(
    without: tuple[str, ...], left_flagged: bool
) -> None:
    with DovecotServer(without=without) as server:
        account = server.add_user()
        theirs = account.deliver(reply("flagged \\Deleted by someone's mail app"))
        account.flag("INBOX", theirs, "\\Deleted")
        raw = reply("a reply")
        mine = account.deliver(raw)
        other = account.deliver(reply("another reply"))
        with Mailbox(settings_for(account)) as box:
            assert not box.capabilities & set(without)
            assert [m.uid for m in box.messages("INBOX")] == [str(mine), str(other)]
            box.move(str(mine), "sheetfollow/done")
            # What is left to read is the other reply only, with or without the expunge.
            assert [m.uid for m in box.messages("INBOX")] == [str(other)]
        inbox = {m.uid: m for m in account.stored("INBOX")}
        assert theirs in inbox and inbox[theirs].deleted  # someone else's: not expunged
        assert other in inbox and not inbox[other].deleted
        assert (mine in inbox) is left_flagged
        if left_flagged:
            assert inbox[mine].deleted
        assert account.folder_messages("sheetfollow/done") == [raw]


@pytest.mark.parametrize(
    ("separator", "prefix"),
    [(".", ""), (".", "INBOX."), ("/", "")],
    ids=["dot", "courier", "slash"],
)
def test_folders_follow_the_servers_separator_and_prefix(separator: str, prefix: str) -> None:
    with DovecotServer(separator=separator, prefix=prefix) as server:
        account = server.add_user()
        raw = reply("to file")
        account.deliver(raw)
        with Mailbox(settings_for(account)) as box:
            box.move(box.messages("INBOX")[0].uid, "sheetfollow/done")
            assert box.mailbox_name("sheetfollow/done") == f"{prefix}sheetfollow{separator}done"
        assert "sheetfollow/done" in account.folders()
        assert account.folder_messages("sheetfollow/done") == [raw]


# --- Folder names in modified UTF-7 -----------------------------------------------------------

NAMES = [
    "INBOX",
    "Afgehandeld ✓",
    "Opvolging/Beantwortet – Büro",
    "Réponses & notes",
    "~peter/mail/台北/日本語",
    "Svar 📞 modtaget",
    "&",
    "a&b-c",
]


def test_folder_names_encode_as_rfc_3501_says() -> None:
    # The example of RFC 3501 5.1.3.
    assert imap.encode_folder("~peter/mail/台北/日本語") == "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
    assert imap.encode_folder("Réponses & notes") == "R&AOk-ponses &- notes"
    assert imap.decode_folder("~peter/mail/&U,BTFw-/&ZeVnLIqe-") == "~peter/mail/台北/日本語"


def test_folder_names_encode_as_dovecot_does(imap_server: ImapAccount) -> None:
    output = imap_server.server.doveadm("mailbox mutf7", "-8", *NAMES, user=None)
    assert [imap.encode_folder(name) for name in NAMES] == output.splitlines()


@given(st.text(st.characters(blacklist_categories=("Cs",))))
def test_folder_names_round_trip(name: str) -> None:
    encoded = imap.encode_folder(name)
    assert encoded.isascii()
    assert all(0x20 <= ord(ch) <= 0x7E for ch in encoded)
    assert imap.decode_folder(encoded) == name


def test_non_ascii_folders_on_the_server(imap_server: ImapAccount) -> None:
    raw = reply("Svar: Kunde ringer tilbage")
    imap_server.deliver(raw, "Opfølgning/Svar ✓")
    with Mailbox(settings_for(imap_server)) as box:
        fetched = box.messages("Opfølgning/Svar ✓")
        assert [m.raw for m in fetched] == [raw]
        box.move(fetched[0].uid, "Opfølgning/Behandlet – ok & færdig")
    assert imap_server.folder_messages("Opfølgning/Svar ✓") == []
    assert imap_server.folder_messages("Opfølgning/Behandlet – ok & færdig") == [raw]
    assert "Opfølgning/Behandlet – ok & færdig" in imap_server.subscribed()


# --- check --inbox ---------------------------------------------------------------------------


def test_check_goes_through_every_step_and_changes_nothing(imap_server: ImapAccount) -> None:
    imap_server.deliver(reply("new"))
    steps = imap.check(settings_for(imap_server))
    assert [(s.name, s.ok) for s in steps] == [(name, True) for name in imap.STEPS]
    assert steps[2].text.endswith("certificate of 127.0.0.1 trusted")
    assert steps[3].text == f"logged in as {imap_server.user}"
    assert steps[4].text == "INBOX: 1 message"
    assert imap_server.folders() == ["INBOX"]
    assert not imap_server.stored()[0].seen


@pytest.mark.parametrize(
    ("change", "failed", "says"),
    [
        ({"password": "nope"}, "login", "refused the username or password"),
        ({"ca_file": ""}, "tls", "set inbox.ca_file"),
        ({"security": "starttls", "ca_file": ""}, "tls", "set inbox.ca_file"),
        ({"folder": "Replies"}, "folder", "the folder 'Replies' cannot be opened"),
    ],
)
def test_check_stops_at_the_step_that_fails(
    imap_server: ImapAccount, change: dict[str, str], failed: str, says: str
) -> None:
    folder = change.pop("folder", "INBOX")
    settings = settings_for(imap_server, **change)
    if settings.security == "starttls":
        settings = replace(settings, port=imap_server.port)
    steps = imap.check(settings, folder)
    names = list(imap.STEPS[: imap.STEPS.index(failed) + 1])
    assert [s.name for s in steps] == names
    assert [s.ok for s in steps] == [True] * (len(names) - 1) + [False]
    assert says in steps[-1].text
    assert "nope" not in steps[-1].text


def test_check_when_nothing_listens(imap_server: ImapAccount) -> None:
    steps = imap.check(settings_for(imap_server, port=free_port()))
    assert [(s.name, s.ok) for s in steps] == [("dns", True), ("connect", False)]
    assert "refused the connection" in steps[-1].text


def write_config(cli: Cli, account: ImapAccount, **keys: str | int) -> Path:
    path = cli.cwd / CONFIG_NAME
    path.write_text(account.inbox_toml(**keys), encoding="utf-8")
    return path


def test_check_inbox_on_the_command_line(cli: Cli, imap_server: ImapAccount) -> None:
    config = write_config(cli, imap_server)
    good = cli("check", "--inbox", "--config", config, env=imap_server.env())
    assert good.exit_code == 0, good.output
    lines = good.output.splitlines()
    assert lines[0] == f"{imap_server.host}:{imap_server.tls_port} (tls, {imap_server.user})"
    assert f"  ok    login: logged in as {imap_server.user}" in lines
    assert "  ok    folder: INBOX: 0 messages" in lines
    assert lines[-1] == "the mailbox works"

    wrong = "wr0ng-Secret!"
    bad = cli("check", "--inbox", "--config", config, env={PASSWORD_ENV: wrong})
    assert bad.exit_code == ExitCode.REMOTE
    assert re.search(
        r"^  FAIL  login: the server refused the username or password", bad.output, re.M
    )
    assert bad.output.splitlines()[-1] == "the mailbox cannot be used"
    assert wrong not in bad.output and imap_server.password not in good.output


def test_check_inbox_json_names_the_failing_step(cli: Cli, imap_server: ImapAccount) -> None:
    config = write_config(cli, imap_server, folder="Replies")
    result = cli("check", "--inbox", "--json", "--config", config, env=imap_server.env())
    assert result.exit_code == ExitCode.REMOTE
    data = data_of(result.stdout)
    assert data["server"] == f"{imap_server.host}:{imap_server.tls_port}"
    assert data["ok"] is False
    assert [(s["step"], s["ok"]) for s in data["steps"]] == [
        ("dns", True),
        ("connect", True),
        ("tls", True),
        ("login", True),
        ("folder", False),
    ]
    assert "'Replies' cannot be opened" in data["steps"][-1]["text"]

    good = cli(
        "check",
        "--inbox",
        "--json",
        "--config",
        write_config(cli, imap_server),
        env=imap_server.env(),
    )
    assert good.exit_code == 0 and data_of(good.stdout)["ok"] is True


def test_check_inbox_without_a_mailbox_says_so(cli: Cli) -> None:
    result = cli("check", "--inbox", env={"SHEETFOLLOW_IMAP_HOST": ""})
    assert result.exit_code == 0, result.output
    assert "no mailbox set ([inbox] host)" in result.output


def test_check_inbox_without_a_password_is_a_config_error(
    cli: Cli, imap_server: ImapAccount
) -> None:
    config = write_config(cli, imap_server)
    result = cli("check", "--inbox", "--config", config, env={PASSWORD_ENV: ""})
    assert result.exit_code == ExitCode.CONFIG
    assert "set the environment variable SHEETFOLLOW_IMAP_PASSWORD" in result.output


def test_check_smtp_and_inbox_together_is_a_usage_error(cli: Cli) -> None:
    result = cli("check", "--smtp", "--inbox")
    assert result.exit_code == ExitCode.USAGE
    assert "give one of them" in result.output
