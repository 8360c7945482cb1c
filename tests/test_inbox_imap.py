"""One tap, end to end: `sheetfollow run --outbox` writes the morning emails with their outcome
buttons; the buttons' mailto: links, sent as a mail app sends them, land in a real IMAP
mailbox (Dovecot on loopback); `sheetfollow inbox`, a real process, records each valid one
once, moves it to the done folder, and moves a forged one to review.

Skipped where Dovecot is not installed (.ci/run installs dovecot-imapd).
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from backends.test_xlsx_locks import excel_owner_file
from conftest import file_state
from fakes.imap_server import ImapAccount
from json_output import data_of

from sheetfollow import reply, starter
from sheetfollow.exit_codes import ExitCode
from sheetfollow.models import Outcome
from sheetfollow.secrets import INBOX_SECRET_ENV

TODAY = date(2026, 11, 27)  # a Friday
DAY = TODAY.isoformat()
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
SECRET = "a team secret only the tests know, 0123456789"
ANNA = "anna@example.com"


# --- The team and the commands -------------------------------------------------------------------


@pytest.fixture
def team(tmp_path: Path, imap_server: ImapAccount) -> Path:
    """The example workbook with [inbox] pointing at the test's mailbox (TLS, its CA)."""
    starter.init(tmp_path / "pipeline.xlsx", example=True, today=TODAY)
    config = tmp_path / "sheetfollow.toml"
    text = config.read_text(encoding="utf-8")
    if "\n[inbox]\n" in text:  # the template's commented section gives way to the test's
        head, _, tail = text.partition("\n[inbox]\n")
        rest = tail.split("\n[", 1)
        text = head + "\n" + (("[" + rest[1]) if len(rest) > 1 else "")
    config.write_text(text + "\n" + imap_server.inbox_toml("tls"), encoding="utf-8")
    return tmp_path


def sheetfollow(
    folder: Path,
    imap: ImapAccount,
    *args: str,
    check: int | None = 0,
    today: str = DAY,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """The real command in a process of its own, run from `folder`."""
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SHEETFOLLOW_IMAP_", "SHEETFOLLOW_SMTP_", INBOX_SECRET_ENV))
    }
    done = subprocess.run(
        [sys.executable, "-m", "sheetfollow", *args, "--today", today],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **environ,
            **imap.env(),
            INBOX_SECRET_ENV: SECRET,
            "COLUMNS": "200",
            "SHEETFOLLOW_DEBUG": "1",
            **(env or {}),
        },
    )
    if check is not None:
        assert done.returncode == check, done.stdout + done.stderr
    return done


def rows(path: Path, tab: str = "Prospects") -> list[dict[str, Any]]:
    book = openpyxl.load_workbook(path)
    values = [[cell.value for cell in row] for row in book[tab].iter_rows()]
    header = [str(h) for h in values[0]]
    filled = [row for row in values[1:] if any(v not in (None, "") for v in row)]
    return [dict(zip(header, row, strict=False)) for row in filled]


def by_id(folder: Path) -> dict[str, dict[str, Any]]:
    return {row["ID"]: row for row in rows(folder / "pipeline.xlsx") if row.get("ID")}


def log(folder: Path) -> list[dict[str, Any]]:
    return rows(folder / "pipeline.xlsx", "Log")


# --- The buttons of an email, and what a mail app sends from one -------------------------------


@dataclass(frozen=True)
class Button:
    """A mailto: link of the email, as a mail app reads it."""

    to: str
    subject: str
    body: str

    @property
    def tag(self) -> reply.Tag:
        found = reply.find_tag(self.subject)
        assert found is not None, self.subject
        return found


def buttons(eml: Path) -> list[Button]:
    """The outcome buttons of an .eml: its HTML part's mailto: links that carry a tag."""
    message = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
    assert isinstance(message, EmailMessage)
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    hrefs = [html.unescape(h) for h in re.findall(r'href="(mailto:[^"]*)"', part.get_content())]
    found = []
    for href in hrefs:
        url = urlsplit(href)
        fields = dict(item.split("=", 1) for item in url.query.split("&") if "=" in item)
        if "%5Bsf%2F" not in fields.get("subject", ""):
            continue
        # RFC 6068: every part percent-encoded; "+" is a plus, not a space.
        found.append(Button(unquote(url.path), unquote(fields["subject"]), unquote(fields["body"])))
    return found


def tapped(
    button: Button,
    sender: str = f"Anna de Vries <{ANNA}>",
    note: str = "",
    sent: datetime | None = None,
) -> bytes:
    """What iOS Mail sends after a tap on `button`: the note typed after the prefilled label,
    its signature below; as the mail server stores it (a Received line on top)."""
    label, _, rest = button.body.partition(" ")
    body = f"{label} {note}{rest}".rstrip() + "\n\nSent from my iPhone\n"
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = sender
    msg["To"] = button.to
    msg["Subject"] = button.subject
    msg["Date"] = format_datetime(sent or datetime(2026, 11, 27, 10, 5, tzinfo=AMSTERDAM))
    msg["Message-ID"] = make_msgid(domain="icloud.example")
    msg["X-Mailer"] = "iPhone Mail (22B91)"
    msg.set_content(body)
    received = (
        b"Received: from [10.0.0.7] (phone.example [192.0.2.7])\r\n"
        b"\tby mx.example.com with ESMTPSA; Fri, 27 Nov 2026 10:05:02 +0100\r\n"
    )
    return received + msg.as_bytes()


def owner_email(outbox: Path, name: str) -> Path:
    found = sorted(outbox.glob(f"{DAY}-owner-{name}.eml"))
    assert len(found) == 1, sorted(p.name for p in outbox.glob("*.eml"))
    return found[0]


def by_prospect(found: list[Button]) -> dict[str, list[Button]]:
    cards: dict[str, list[Button]] = {}
    for button in found:
        cards.setdefault(button.tag.prospect_id, []).append(button)
    return cards


def pick(card: list[Button], outcome: Outcome, delay: str = "") -> Button:
    return next(b for b in card if b.tag.outcome is outcome and b.tag.delay == delay)


# --- End to end --------------------------------------------------------------------------------


def test_buttons_of_the_morning_email_record_each_touch_once(
    team: Path, imap_server: ImapAccount
) -> None:
    outbox = team / "outbox"
    sheetfollow(team, imap_server, "run", "--outbox", str(outbox))
    cards = by_prospect(buttons(owner_email(outbox, "anna")))
    assert len(cards) >= 3, cards.keys()
    # Three cards, one with a call-back row (every card but an after-sale one has it).
    second = next(
        ident
        for ident, card in cards.items()
        if len(card) > 3 and any(b.tag.delay == "2w" for b in card)
    )
    first, third = [ident for ident in cards if ident != second][:2]
    assert {b.to for card in cards.values() for b in card} == {"followup@example.com"}
    before = by_id(team)
    log_before = len(log(team))

    imap_server.deliver(tapped(pick(cards[first], Outcome.NO_ANSWER)))
    imap_server.deliver(tapped(pick(cards[second], Outcome.CALL_BACK, "2w"), note="na de beurs"))
    imap_server.deliver(tapped(pick(cards[third], Outcome.REACHED), note="wil een offerte"))
    forged = tapped(
        pick(cards[first], Outcome.REACHED), sender="Mallory <mallory@attacker.example>"
    )
    imap_server.deliver(forged)

    done = sheetfollow(team, imap_server, "inbox")
    assert "4 messages in INBOX" in done.stdout
    assert "3 recorded, 1 refused" in done.stdout
    assert "refused" in done.stdout and "mallory@attacker.example" in done.stdout

    after = by_id(team)
    # The Dutch buttons of Anna's email, recorded in the sheet's language (English).
    assert after[first]["Last outcome"] == "No answer"
    assert after[first]["Attempts"] == (before[first]["Attempts"] or 0) + 1
    assert after[second]["Last outcome"] == "Call back"
    assert after[second]["Follow up on"].date() == date(2026, 12, 11)
    assert after[third]["Last outcome"] == "Reached"
    new = log(team)[log_before:]
    assert [(e["ID"], e["By"]) for e in new] == [(first, "Anna"), (second, "Anna"), (third, "Anna")]
    assert [e["Note"] for e in new] == [None, "na de beurs", "wil een offerte"]
    assert after[first]["Last contact"].date() == TODAY

    assert imap_server.folder_messages("INBOX") == []
    assert len(imap_server.folder_messages("sheetfollow/done")) == 3
    review = imap_server.folder_messages("sheetfollow/review")
    assert len(review) == 1 and b"mallory@attacker.example" in review[0]

    # The same message delivered again (a re-sent copy, a server hiccup): nothing twice.
    imap_server.deliver(imap_server.folder_messages("sheetfollow/done")[0])
    again = sheetfollow(team, imap_server, "inbox")
    assert "1 already recorded" in again.stdout
    assert len(log(team)) == log_before + 3
    assert by_id(team)[first]["Attempts"] == after[first]["Attempts"]
    assert len(imap_server.folder_messages("sheetfollow/done")) == 4


def test_a_reply_while_excel_holds_the_workbook_is_kept_and_applied_once(
    team: Path, imap_server: ImapAccount
) -> None:
    outbox = team / "outbox"
    sheetfollow(team, imap_server, "run", "--outbox", str(outbox))
    cards = by_prospect(buttons(owner_email(outbox, "anna")))
    ident = next(iter(cards))
    workbook, lock = team / "pipeline.xlsx", team / "~$pipeline.xlsx"
    lock.write_bytes(excel_owner_file("Anna de Vries"))
    held = file_state(workbook)
    log_before = len(log(team))

    imap_server.deliver(tapped(pick(cards[ident], Outcome.REACHED), note="belt terug"))
    done = sheetfollow(team, imap_server, "inbox", check=ExitCode.PENDING)
    assert "open in Excel by Anna de Vries" in done.stderr
    assert file_state(workbook) == held
    # Safe in the journal, so the message is done.
    assert imap_server.folder_messages("INBOX") == []
    assert len(imap_server.folder_messages("sheetfollow/done")) == 1
    due = data_of(sheetfollow(team, imap_server, "due", "--json").stdout)
    assert ident not in {row["id"] for row in due}

    lock.unlink()
    sheetfollow(team, imap_server, "refresh")
    assert by_id(team)[ident]["Last outcome"] == "Reached"
    assert [(e["ID"], e["Note"]) for e in log(team)[log_before:]] == [(ident, "belt terug")]
    sheetfollow(team, imap_server, "refresh")
    assert len(log(team)) == log_before + 1


def test_a_dry_run_moves_and_records_nothing(team: Path, imap_server: ImapAccount) -> None:
    outbox = team / "outbox"
    sheetfollow(team, imap_server, "run", "--outbox", str(outbox))
    card = next(iter(by_prospect(buttons(owner_email(outbox, "anna"))).values()))
    raw = tapped(pick(card, Outcome.NO_ANSWER))
    imap_server.deliver(raw)
    held = file_state(team / "pipeline.xlsx")
    done = sheetfollow(team, imap_server, "inbox", "--dry-run", "--json")
    report = data_of(done.stdout)
    assert report["dry_run"] is True
    assert [m["status"] for m in report["messages"]] == ["recorded"]
    assert file_state(team / "pipeline.xlsx") == held
    assert len(imap_server.folder_messages("INBOX")) == 1
    assert "sheetfollow/done" not in imap_server.folders()


def test_run_reads_the_replies_first_and_sends_the_emails_when_the_mailbox_fails(
    team: Path, imap_server: ImapAccount
) -> None:
    outbox = team / "outbox"
    sheetfollow(team, imap_server, "run", "--outbox", str(outbox))
    card = next(iter(by_prospect(buttons(owner_email(outbox, "anna"))).values()))
    ident = card[0].tag.prospect_id
    imap_server.deliver(tapped(pick(card, Outcome.REACHED)))

    # Monday: the run records the reply before it works out the lists.
    monday = "2026-11-30"
    run = sheetfollow(team, imap_server, "run", "--outbox", str(outbox), today=monday)
    assert "1 recorded" in run.stdout
    assert by_id(team)[ident]["Last outcome"] == "Reached"
    assert by_id(team)[ident]["Last contact"].date() == TODAY  # the day it was sent
    monday_email = next(outbox.glob(f"{monday}-owner-anna.eml"))
    assert ident not in by_prospect(buttons(monday_email))  # called: not on Monday's list
    assert imap_server.folder_messages("INBOX") == []

    # Tuesday the mail server is down: the emails still go out, and the run says so (8).
    tuesday = "2026-12-01"
    broken = {"SHEETFOLLOW_IMAP_PORT": "1"}
    down = sheetfollow(
        team,
        imap_server,
        "run",
        "--outbox",
        str(outbox),
        today=tuesday,
        env=broken,
        check=ExitCode.REMOTE,
    )
    assert "the replies were not read" in down.stderr
    assert sorted(outbox.glob(f"{tuesday}-owner-*.eml")), down.stdout + down.stderr
