"""notify and run: who gets which email, once a day and never twice, delivered through a
real SMTP server on loopback or written to the outbox, with what went out recorded in the
workbook's hidden state tab."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import icalendar
import pytest
from conftest import (
    TEAM_CONFIG,
    TODAY,
    Cell,
    Cli,
    Layout,
    Tab,
    as_date,
    file_state,
    openpyxl_rows,
    records,
    write_workbook,
)
from fakes.smtp_server import Certificates, Received, SmtpServer, make_certificates
from json_output import data_of

from sheetfollow import notifier
from sheetfollow.backends.xlsx import XlsxBackend
from sheetfollow.config import CONFIG_NAME, load_config
from sheetfollow.errors import SheetError, UsageError
from sheetfollow.exit_codes import ExitCode
from sheetfollow.notify.message import Message
from sheetfollow.notify.outbox import Outbox

# aiosmtpd itself sets a deprecated attribute on every successful login.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Session.login_data is deprecated:DeprecationWarning"
)

USER = "sales@example.com"
PASSWORD = "c0rrect-Horse-battery"
ENV = {"SHEETFOLLOW_SMTP_PASSWORD": PASSWORD}
#: The moment of the run, for the At column and the Date header.
NOW = datetime(2026, 3, 11, 6, 30, tzinfo=timezone.utc)
STATE_TAB = "sheetfollow_state"

#: The team of conftest's workbook, with managers: Sarah manages Anna and Zoë (and wants the
#: digest), Bob's manager is only an address. Zoë reads Dutch, Bob German.
OWNERS: tuple[tuple[Cell, ...], ...] = (
    ("Owner", "Email", "Delegate", "Language", "Country", "Manager", "Digest"),
    ("Anna", "anna@example.com", None, "en", "NL", "Sarah", "no"),
    ("Zoë", "zoe@example.com", "Émile", "nl", "NL", "Sarah", "no"),
    ("Bob", "bob@example.com", None, "de", "NL", "boss@example.com", "no"),
    ("Émile", "emile@example.com", None, "en", "NL", None, "no"),
    ("Sarah", "sarah@example.com", None, "en", "GB", None, "yes"),
)

#: Who gets what on TODAY (worked out from conftest's TEAM_EXPECTED): Anna has Acme Tools
#: (a new lead, today) and Brick & Co (overdue since 2 March), Echo Ltd coming on Friday;
#: Zoë has Cobalt BV; Bob has Delta GmbH (overdue); Émile, Zoë's delegate, has India Pty.
#: Sarah has nothing to call, but gets the digest of Anna and Zoë; boss@ the one of Bob.
EXPECTED_RECIPIENTS = [
    "anna@example.com",
    "bob@example.com",
    "boss@example.com",
    "emile@example.com",
    "sarah@example.com",
    "zoe@example.com",
]


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def server(certs: Certificates) -> Iterator[SmtpServer]:
    with SmtpServer(certs, users={USER: PASSWORD}) as running:
        yield running


def smtp_section(server: SmtpServer, certs: Certificates) -> str:
    return (
        f'\n[smtp]\nhost = "{server.host}"\nport = {server.port}\nusername = "{USER}"\n'
        f'ca_file = "{certs.ca}"\nfrom = "Sales follow-ups <{USER}>"\n'
    )


def write_team(
    folder: Path,
    smtp: str = "",
    owners: Sequence[Sequence[Cell]] = OWNERS,
    extra: str = "",
) -> Path:
    tabs = [Layout().tab("Prospects")]
    if owners:
        tabs.append(Tab("Owners", owners))
    path = write_workbook(folder / "pipeline.xlsx", *tabs)
    (folder / CONFIG_NAME).write_text(TEAM_CONFIG + extra + smtp, encoding="utf-8")
    return path


def use_server(folder: Path, server: SmtpServer, certs: Certificates) -> None:
    """Point the team's config at another server (a new one listens on another port)."""
    config = folder / CONFIG_NAME
    text = config.read_text(encoding="utf-8").split("\n[smtp]\n")[0]
    config.write_text(text + smtp_section(server, certs), encoding="utf-8")


@pytest.fixture
def mailed_team(tmp_path: Path, server: SmtpServer, certs: Certificates) -> Path:
    """The team workbook, its config sending through `server`."""
    write_team(tmp_path, smtp_section(server, certs))
    return tmp_path


def notify(
    folder: Path,
    day: date = TODAY,
    *,
    env: dict[str, str] = ENV,
    **options: object,
) -> notifier.NotifyReport:
    """A run as cron starts it: a fresh backend, as on any machine."""
    config = load_config(folder / CONFIG_NAME)
    backend = XlsxBackend(folder / "pipeline.xlsx")
    return notifier.notify(backend, config, day, env=env, now=NOW, **options)  # type: ignore[arg-type]


def by_recipient(received: Sequence[Received]) -> dict[str, EmailMessage]:
    found: dict[str, EmailMessage] = {}
    for mail in received:
        (to,) = mail.rcpt_tos
        assert to not in found, f"{to} got two emails"
        found[to] = mail.message()
    return found


def text_of(mail: EmailMessage, kind: str = "plain") -> str:
    part = mail.get_body((kind,))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def statuses(report: notifier.NotifyReport) -> dict[str, str]:
    return {f"{d.kind} {d.key}": d.status for d in report.deliveries}


def state_rows(folder: Path) -> list[list[object]]:
    return openpyxl_rows(folder / "pipeline.xlsx", STATE_TAB)


# --- Who gets what --------------------------------------------------------------------------


def test_each_owner_gets_one_email_with_their_rows_and_each_manager_a_digest(
    mailed_team: Path, server: SmtpServer
) -> None:
    report = notify(mailed_team)
    assert report.exit_code is ExitCode.OK, report.lines()
    mails = by_recipient(server.received)
    assert sorted(mails) == EXPECTED_RECIPIENTS
    assert server.connections == 1
    assert statuses(report) == {
        "owner Anna": "sent",
        "owner Zoë": "sent",
        "owner Bob": "sent",
        "owner Émile": "sent",
        "owner Sarah": "skipped",
        "digest sarah@example.com": "sent",
        "digest boss@example.com": "sent",
    }
    anna = text_of(mails["anna@example.com"])
    assert "Acme Tools" in anna and "Brick & Co" in anna and "Echo Ltd" in anna
    assert "Cobalt BV" not in anna and "India Pty" not in anna
    assert mails["anna@example.com"]["Subject"] == "2 follow-ups today, 1 overdue"
    assert "Brick &amp; Co" in text_of(mails["anna@example.com"], "html")
    # The delegate gets the delegated row, the owner does not.
    assert "India Pty" in text_of(mails["emile@example.com"])
    assert "India Pty" not in text_of(mails["zoe@example.com"])
    # In the owner's language.
    assert mails["zoe@example.com"]["Subject"] == "1 opvolging vandaag"
    assert mails["zoe@example.com"]["Content-Language"] == "nl"
    assert mails["bob@example.com"]["Content-Language"] == "de"
    for mail in mails.values():
        assert mail["From"] == f"Sales follow-ups <{USER}>"
        assert mail["Auto-Submitted"] == "auto-generated"


def test_each_digest_covers_the_owners_who_name_that_manager(
    mailed_team: Path, server: SmtpServer
) -> None:
    notify(mailed_team)
    mails = by_recipient(server.received)
    sarah, boss = text_of(mails["sarah@example.com"]), text_of(mails["boss@example.com"])
    assert "Anna" in sarah and "Zoë" in sarah and "Bob" not in sarah
    assert "Bob" in boss and "Anna" not in boss
    assert mails["sarah@example.com"]["Subject"].startswith("Team follow-ups: ")


def test_the_calendar_attachment_holds_todays_calls(mailed_team: Path, server: SmtpServer) -> None:
    notify(mailed_team)
    mail = by_recipient(server.received)["anna@example.com"]
    (attached,) = mail.iter_attachments()
    assert attached.get_content_type() == "text/calendar"
    assert attached.get_param("method") == "PUBLISH"
    calendar = icalendar.Calendar.from_ical(attached.get_content())
    events = {str(e["UID"]): e for e in calendar.walk("VEVENT")}
    # Brick & Co fell due on 2 March, Acme Tools today; both are called today. Echo Ltd
    # (Friday) is in the email's coming days, not in today's calendar.
    assert sorted(events) == ["P-0001-2026-03-11@sheetfollow", "P-0002-2026-03-02@sheetfollow"]
    assert {e.decoded("DTSTART").date() for e in events.values()} == {TODAY}
    assert int(events["P-0002-2026-03-02@sheetfollow"]["SEQUENCE"]) == 9
    assert "Brick & Co" in str(events["P-0002-2026-03-02@sheetfollow"]["SUMMARY"])


def test_a_delegate_without_an_email_leaves_the_row_with_its_owner(
    tmp_path: Path, server: SmtpServer, certs: Certificates
) -> None:
    owners = [
        row if row[0] != "Émile" else ("Émile", None, None, "en", "NL", None, "no")
        for row in OWNERS
    ]
    write_team(tmp_path, smtp_section(server, certs), owners)
    report = notify(tmp_path)
    mails = by_recipient(server.received)
    assert "emile@example.com" not in mails
    assert "India Pty" in text_of(mails["zoe@example.com"])
    assert report.notes == (
        "1 follow-up assigned to Émile went to Zoë: Émile has no email in the Owners tab",
    )
    assert (
        "  note: 1 follow-up assigned to Émile went to Zoë: Émile has no email in the Owners tab"
        in report.lines()
    )


def test_without_an_owners_tab_nobody_is_silently_left_out(
    tmp_path: Path, server: SmtpServer, certs: Certificates
) -> None:
    write_team(tmp_path, smtp_section(server, certs), owners=())
    report = notify(tmp_path)
    assert server.received == []
    failed = {d.key: d.detail for d in report.deliveries if d.status == notifier.FAILED}
    assert failed["Anna"] == "no email address: add Anna with an email to the Owners tab"
    # Without an Owners tab nobody has a delegate: India Pty stays with Zoë.
    assert set(failed) == {"Anna", "Zoë", "Bob"}
    assert report.exit_code is ExitCode.DELIVERY


def test_a_manager_the_owners_tab_cannot_email_is_reported(
    tmp_path: Path, server: SmtpServer, certs: Certificates
) -> None:
    owners = [(*row[:5], "Carla" if row[0] == "Bob" else row[5], row[6]) for row in OWNERS]
    write_team(tmp_path, smtp_section(server, certs), owners)
    report = notify(tmp_path)
    (failed,) = [d for d in report.deliveries if d.status == notifier.FAILED]
    assert (failed.kind, failed.key) == ("digest", "Carla")
    assert failed.detail == (
        "no email address for the manager of Bob: Carla is not in the Owners tab"
    )
    assert "boss@example.com" not in by_recipient(server.received)
    assert report.exit_code is ExitCode.DELIVERY


def test_email_manager_gets_a_digest_of_the_whole_team(
    tmp_path: Path, server: SmtpServer, certs: Certificates
) -> None:
    write_team(
        tmp_path, smtp_section(server, certs), extra='\n[email]\nmanager = "ceo@example.com"\n'
    )
    notify(tmp_path)
    digest = text_of(by_recipient(server.received)["ceo@example.com"])
    assert all(name in digest for name in ("Anna", "Zoë", "Bob", "Émile", "Sarah"))


def test_owner_limits_the_run_to_one_person(mailed_team: Path, server: SmtpServer) -> None:
    report = notify(mailed_team, owner="bob")
    assert [d.key for d in report.deliveries] == ["Bob"]
    assert [r.rcpt_tos for r in server.received] == [("bob@example.com",)]
    # A manager by name: her own call list (nothing today) and her digest.
    sarah = notify(mailed_team, owner="Sarah")
    assert [(d.kind, d.status) for d in sarah.deliveries] == [
        ("owner", notifier.SKIPPED),
        ("digest", notifier.SENT),
    ]
    with pytest.raises(UsageError, match="'Nobody' gets no email"):
        notify(mailed_team, owner="Nobody")


# --- Once a day, never twice, never silently never -------------------------------------------


def test_the_second_run_of_the_day_sends_nothing_and_force_sends_again(
    mailed_team: Path, server: SmtpServer
) -> None:
    notify(mailed_team)
    assert len(server.received) == 6
    rows = state_rows(mailed_team)
    assert rows[0] == ["Day", "Kind", "Key", "To", "Status", "At", "Detail"]
    assert [(as_date(r[0]), r[1], r[2], r[4]) for r in rows[1:]] == [
        (TODAY, "owner", "Anna", "sent"),
        (TODAY, "owner", "Zoë", "sent"),
        (TODAY, "owner", "Bob", "sent"),
        (TODAY, "owner", "Émile", "sent"),
        (TODAY, "digest", "sarah@example.com", "sent"),
        (TODAY, "digest", "boss@example.com", "sent"),
    ]
    assert rows[1][5] == datetime(2026, 3, 11, 7, 30)  # the team's time, Amsterdam
    assert str(rows[1][6]).startswith("250 ")
    # The tab is hidden from the people using the workbook.
    assert ' state="hidden"' in _workbook_xml(mailed_team)

    again = notify(mailed_team)
    assert len(server.received) == 6
    assert {d.status for d in again.deliveries} == {notifier.SKIPPED}
    assert again.deliveries[0].detail == "already sent today at 07:30; --force sends it again"
    assert len(state_rows(mailed_team)) == 7

    forced = notify(mailed_team, force=True)
    assert forced.count(notifier.SENT) == 6
    assert len(server.received) == 12
    assert len(state_rows(mailed_team)) == 13


def _workbook_xml(folder: Path) -> str:
    with zipfile.ZipFile(folder / "pipeline.xlsx") as package:
        return package.read("xl/workbook.xml").decode("utf-8")


def test_a_refused_address_fails_alone_and_only_it_is_retried(
    tmp_path: Path, certs: Certificates
) -> None:
    with SmtpServer(certs, users={USER: PASSWORD}, refuse=["zoe@example.com"]) as refusing:
        write_team(tmp_path, smtp_section(refusing, certs))
        report = notify(tmp_path)
        assert sorted(by_recipient(refusing.received)) == [
            a for a in EXPECTED_RECIPIENTS if a != "zoe@example.com"
        ]
    assert report.exit_code is ExitCode.DELIVERY
    (failed,) = [d for d in report.deliveries if d.status == notifier.FAILED]
    assert failed.key == "Zoë"
    assert failed.detail.startswith("the server refused the address zoe@example.com: 550 ")
    assert "failed emails are tried again on the next run" in report.lines()
    assert [r[4] for r in state_rows(tmp_path)[1:]].count("failed") == 1

    with SmtpServer(certs, users={USER: PASSWORD}) as accepting:
        use_server(tmp_path, accepting, certs)
        retry = notify(tmp_path)
        assert [r.rcpt_tos for r in accepting.received] == [("zoe@example.com",)]
    assert retry.exit_code is ExitCode.OK
    assert statuses(retry)["owner Zoë"] == "sent"


def test_a_dropped_connection_is_opened_again(tmp_path: Path, certs: Certificates) -> None:
    with SmtpServer(certs, users={USER: PASSWORD}, drop_after=2) as dropping:
        write_team(tmp_path, smtp_section(dropping, certs))
        report = notify(tmp_path)
        assert sorted(by_recipient(dropping.received)) == EXPECTED_RECIPIENTS
        assert dropping.connections == 3
    assert report.exit_code is ExitCode.OK


def test_a_wrong_password_fails_every_email_in_plain_words_and_is_retried(
    mailed_team: Path, server: SmtpServer, cli: Cli
) -> None:
    wrong = "Wr0ng-pa55word"
    report = notify(mailed_team, env={"SHEETFOLLOW_SMTP_PASSWORD": wrong})
    assert server.received == []
    assert report.exit_code is ExitCode.REMOTE
    assert report.server_error.startswith(
        f"the server refused the username or password for {USER} at 127.0.0.1 (535 "
    )
    assert report.count(notifier.FAILED) == 6
    shown = "\n".join(report.lines()) + json.dumps(report.as_dict())
    assert wrong not in shown and PASSWORD not in shown
    assert [r[4] for r in state_rows(mailed_team)[1:]] == ["failed"] * 6
    # Failed, so the next run (with the right password) sends them all.
    assert notify(mailed_team).count(notifier.SENT) == 6

    result = cli(
        "notify",
        "--force",
        "--today",
        TODAY.isoformat(),
        "--config",
        mailed_team / CONFIG_NAME,
        env={"SHEETFOLLOW_SMTP_PASSWORD": wrong},
    )
    assert result.exit_code == ExitCode.REMOTE
    assert "error: the server refused the username or password" in result.output
    assert wrong not in result.output


def test_a_day_cron_missed_needs_nothing_special(mailed_team: Path, server: SmtpServer) -> None:
    notify(mailed_team)
    friday = date(2026, 3, 13)  # Thursday's run never happened
    config = load_config(mailed_team / CONFIG_NAME)
    backend = XlsxBackend(mailed_team / "pipeline.xlsx")
    report = notifier.run(backend, config, friday, env=ENV, now=NOW)
    assert report.exit_code is ExitCode.OK
    assert report.notify.count(notifier.SENT) == 6
    anna = by_recipient(server.received[6:])["anna@example.com"]
    # Acme Tools, due on Wednesday, is overdue now; Echo Ltd falls due today.
    assert anna["Subject"] == "3 follow-ups today, 2 overdue"
    overdue = text_of(anna).split("OVERDUE (2)")[1].split("DUE TODAY")[0]
    assert "Acme Tools" in overdue and "Brick & Co" in overdue
    assert records(mailed_team / "pipeline.xlsx")["Acme Tools"]["Status"] == "overdue"


def test_emails_sent_while_the_workbook_is_open_are_recorded_later_and_never_resent(
    mailed_team: Path, server: SmtpServer, cli: Cli
) -> None:
    lock = mailed_team / "~$pipeline.xlsx"  # Excel has the workbook open
    lock.write_bytes(b"")
    workbook = mailed_team / "pipeline.xlsx"
    before = file_state(workbook)
    args = ("--today", TODAY.isoformat(), "--config", mailed_team / CONFIG_NAME)
    result = cli("notify", *args, env=ENV)
    assert len(server.received) == 6
    assert result.exit_code == ExitCode.PENDING, result.output
    assert "record of 6 emails kept in" in result.output
    assert file_state(workbook) == before
    # Still open: the next run reads the journal and sends nothing again.
    again = cli("notify", *args, env=ENV)
    assert again.exit_code == ExitCode.PENDING, again.output
    assert len(server.received) == 6
    assert "already sent today" in again.output
    # Closed: the next command writes the record into the hidden tab, once.
    lock.unlink()
    closed = cli("notify", *args, env=ENV)
    assert closed.exit_code == 0, closed.output
    assert len(server.received) == 6
    assert not list((mailed_team / ".sheetfollow").glob("*.pending.jsonl"))
    state_rows = XlsxBackend(workbook).read_tab("sheetfollow_state")
    assert state_rows is not None
    assert sum(1 for row in state_rows.rows[1:] if row[4] == "sent") == 6


def test_a_dry_run_sends_and_writes_nothing(mailed_team: Path, server: SmtpServer) -> None:
    before = file_state(mailed_team / "pipeline.xlsx")
    report = notify(mailed_team, dry_run=True)
    assert server.received == [] and server.connections == 0
    assert file_state(mailed_team / "pipeline.xlsx") == before
    assert report.count(notifier.WOULD_SEND) == 6
    assert "  would send  owner   Anna <anna@example.com>: 2 follow-ups today, 1 overdue" in (
        report.lines()
    )


# --- The outbox ---------------------------------------------------------------------------------


def parse(path: Path) -> EmailMessage:
    parsed = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_without_a_mail_server_emails_are_written_to_the_outbox(tmp_path: Path) -> None:
    write_team(tmp_path)
    report = notify(tmp_path, env={})
    outbox = tmp_path / "outbox"
    assert report.via == f"outbox {outbox}"
    names = sorted(p.name for p in outbox.iterdir())
    assert names == [
        "2026-03-11-digest-boss-example-com.eml",
        "2026-03-11-digest-sarah-example-com.eml",
        "2026-03-11-owner-anna.eml",
        "2026-03-11-owner-bob.eml",
        "2026-03-11-owner-emile.eml",
        "2026-03-11-owner-zoe.eml",
    ]
    anna = parse(outbox / "2026-03-11-owner-anna.eml")
    assert anna["To"] == "anna@example.com"
    assert anna["Subject"] == "2 follow-ups today, 1 overdue"
    assert "Brick & Co" in text_of(anna) and "Brick &amp; Co" in text_of(anna, "html")
    assert [a.get_filename() for a in anna.iter_attachments()] == ["follow-ups-2026-03-11.ics"]
    assert {r[4] for r in state_rows(tmp_path)[1:]} == {"written"}
    # Written counts as delivered: the next run writes nothing.
    again = notify(tmp_path, env={})
    assert again.count(notifier.WRITTEN) == 0 and len(list(outbox.iterdir())) == 6


def test_outbox_on_the_command_line_wins_over_the_mail_server(
    mailed_team: Path, server: SmtpServer, cli: Cli
) -> None:
    result = cli(
        "notify",
        "--json",
        "--outbox",
        "mails",
        "--today",
        TODAY.isoformat(),
        "--config",
        mailed_team / CONFIG_NAME,
        env=ENV,
    )
    assert result.exit_code == 0, result.output
    assert server.received == []
    found = data_of(result.stdout)
    assert found["via"] == "outbox mails"
    assert found["counts"] == {"written": 6, "skipped": 1}
    assert len(list((cli.cwd / "mails").glob("*.eml"))) == 6


# --- run --------------------------------------------------------------------------------------


def test_run_refreshes_then_notifies(mailed_team: Path, server: SmtpServer, cli: Cli) -> None:
    result = cli(
        "run", "--today", TODAY.isoformat(), "--config", mailed_team / CONFIG_NAME, env=ENV
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"{mailed_team / 'pipeline.xlsx'}: 10 prospects · ")
    assert lines[-1] == "6 sent, 1 skipped"
    assert records(mailed_team / "pipeline.xlsx")["Brick & Co"]["Status"] == "overdue"
    assert len(server.received) == 6


def test_the_readme_first_command_writes_the_demo_emails(tmp_path: Path) -> None:
    """As the README's first command runs it: a real process, the example workbook."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHEETFOLLOW_")}
    base = [sys.executable, "-m", "sheetfollow"]
    outputs = []
    for argv in (
        ["init", "--example", "--overwrite", "demo/pipeline.xlsx"],
        ["run", "--config", "demo/sheetfollow.toml", "--outbox", "demo/outbox"],
        ["run", "--config", "demo/sheetfollow.toml", "--outbox", "demo/outbox"],
    ):
        done = subprocess.run(
            [*base, *argv], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    files = sorted((tmp_path / "demo" / "outbox").glob("*.eml"))
    # Five owners, one digest, but none for whom today is a day off (the tests run on
    # weekends too); the second run wrote none again.
    resting = outputs[1].count("is not a working day for")
    assert len(files) + resting == 6, outputs[1]
    for path in files:
        mail = parse(path)
        assert mail["To"] and mail["Subject"]
        assert text_of(mail) and text_of(mail, "html")
    assert done.stdout.splitlines()[-1] == "6 skipped"


# --- The state tab and the outbox's names ---------------------------------------------------------


def test_the_state_tab_is_read_by_its_headers(
    tmp_path: Path, server: SmtpServer, certs: Certificates
) -> None:
    """Columns moved or added by a person, and another day's rows, do not confuse it."""
    tabs = [
        Layout().tab("Prospects"),
        Tab("Owners", OWNERS),
        Tab(
            STATE_TAB,
            [
                ["Status", "Key", "Note", "Day", "Kind", "To"],
                ["sent", "anna", "by hand", TODAY, "owner", "anna@example.com"],
                ["failed", "Bob", None, TODAY, "owner", "bob@example.com"],
                ["sent", "Zoë", None, date(2026, 3, 10), "owner", "zoe@example.com"],
            ],
        ),
    ]
    write_workbook(tmp_path / "pipeline.xlsx", *tabs)
    (tmp_path / CONFIG_NAME).write_text(TEAM_CONFIG + smtp_section(server, certs), "utf-8")
    report = notify(tmp_path)
    assert statuses(report)["owner Anna"] == notifier.SKIPPED
    assert statuses(report)["owner Bob"] == notifier.SENT
    assert statuses(report)["owner Zoë"] == notifier.SENT
    rows = state_rows(tmp_path)
    assert rows[0] == ["Status", "Key", "Note", "Day", "Kind", "To", "At", "Detail"]
    status, key, note, day, kind, to = rows[-1][:6]
    assert (status, key, note, as_date(day), kind, to) == (
        "sent",
        "boss@example.com",
        None,
        TODAY,
        "digest",
        "boss@example.com",
    )


def test_a_state_tab_without_its_columns_stops_before_sending(
    tmp_path: Path, server: SmtpServer
) -> None:
    tabs = [Layout().tab("Prospects"), Tab("Owners", OWNERS), Tab(STATE_TAB, [["What", "When"]])]
    write_workbook(tmp_path / "pipeline.xlsx", *tabs)
    (tmp_path / CONFIG_NAME).write_text(TEAM_CONFIG, "utf-8")
    with pytest.raises(SheetError, match="lacks the columns Day, Kind, Key, Status"):
        notify(tmp_path, env={})
    assert not (tmp_path / "outbox").exists()


def test_outbox_names_are_plain_and_never_collide(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path, TODAY)
    first = Message("owner", "Zoë Müller", "z@example.com", "s", "t", "h")
    second = Message("owner", "zoe muller", "z2@example.com", "s", "t", "h")
    assert outbox.path_for(first).name == "2026-03-11-owner-zoe-muller.eml"
    assert outbox.path_for(second).name == "2026-03-11-owner-zoe-muller-2.eml"
    assert outbox.path_for(first).name == "2026-03-11-owner-zoe-muller.eml"


# --- The send log beside the workbook ----------------------------------------------------------


def send_log(folder: Path) -> list[dict[str, object]]:
    path = folder / ".sheetfollow" / "pipeline.xlsx.sends.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_each_email_is_claimed_before_it_is_sent_and_its_outcome_noted_after(
    mailed_team: Path, server: SmtpServer
) -> None:
    notify(mailed_team)
    lines = send_log(mailed_team)
    assert [line["kind"] for line in lines] == ["claim", "sent"] * 6
    claim, sent = lines[0], lines[1]
    assert claim["data"]["key"] == "Anna" and claim["data"]["day"] == TODAY.isoformat()
    assert (
        claim["data"]["message_id"]
        == by_recipient(server.received)["anna@example.com"]["Message-ID"]
    )
    assert sent["data"]["claim"] == claim["id"]
    assert sent["data"]["record"]["status"] == "sent"
    assert sent["data"]["record"]["detail"].startswith("250 ")
    # The run lock sits beside it.
    assert (mailed_team / ".sheetfollow" / "pipeline.xlsx.notify.lock").exists()


def test_the_send_log_keeps_today_and_forgets_earlier_days_once_recorded(
    mailed_team: Path, server: SmtpServer
) -> None:
    notify(mailed_team)
    notify(mailed_team)  # skipped: nothing claimed, nothing dropped
    assert {line["data"]["day"] for line in send_log(mailed_team)} == {TODAY.isoformat()}
    assert len(send_log(mailed_team)) == 12
    thursday = date(2026, 3, 12)
    notify(mailed_team, thursday)
    assert {line["data"]["day"] for line in send_log(mailed_team)} == {thursday.isoformat()}


def test_a_dry_run_takes_no_lock_and_claims_nothing(mailed_team: Path, server: SmtpServer) -> None:
    notify(mailed_team, dry_run=True)
    assert not (mailed_team / ".sheetfollow").exists()
