"""One-tap replies, decided and recorded: messages as mail apps send them (iOS Mail, Gmail,
Outlook, quoted, HTML-only, signed, forwarded, with localised reply prefixes), built here as
raw RFC 5322 bytes and handed to the use case with the shipped example workbook on disk.

The IMAP side (a real Dovecot, the real command) is tests/test_inbox_imap.py.
"""

from __future__ import annotations

import email
import json
import os
import shutil
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from email import policy
from email.header import Header
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from backends.test_xlsx_locks import excel_owner_file
from conftest import Cli, file_state

from sheetfollow import inbox, mark, notifier, reply, service, starter
from sheetfollow.config import Config, load_config
from sheetfollow.exit_codes import ExitCode
from sheetfollow.inbox import DUPLICATE, RECORDED, REFUSED
from sheetfollow.models import Outcome
from sheetfollow.secrets import INBOX_SECRET_ENV

TODAY = date(2026, 11, 27)  # a Friday
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
#: 9:14 in Amsterdam on TODAY: when the replies below were sent.
SENT = datetime(2026, 11, 27, 9, 14, 3, tzinfo=AMSTERDAM)
SECRET = b"0123456789abcdef0123456789abcdef-team"
FOLLOW_UP = "followup@example.com"
ANNA = "anna@example.com"  # owns P-0111; the delegate of Sarah
SARAH = "sarah@example.com"  # owns P-0127; the Manager of everyone, Digest yes
LUCIA = "lucia@example.com"  # owns P-0164 (a new lead) and P-0052 (a quote sent)
JONAS = "jonas@example.com"  # a colleague: no right to P-0111

#: The columns a touch changes in a row, and the ones sheetfollow works out.
ROW_COLUMNS = (
    "Stage",
    "Last contact",
    "Last outcome",
    "Attempts",
    "Follow up on",
    "Next follow-up",
    "Status",
    "Step",
    "Why",
    "Assigned to",
)

INBOX_SECTION = f"""
[inbox]
address = "{FOLLOW_UP}"
host = "127.0.0.1"
security = "none"
username = "followup"
"""


# --- The team: the example workbook, refreshed once ----------------------------------------


@pytest.fixture(scope="session")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("example")
    starter.init(folder / "pipeline.xlsx", example=True, today=TODAY)
    with_inbox(folder / "sheetfollow.toml")
    config = load_config(folder / "sheetfollow.toml")
    service.refresh(service.open_backend(None, config), config, TODAY)
    return folder


@pytest.fixture
def team(prepared: Path, tmp_path: Path) -> Path:
    """A fresh copy of the refreshed example workbook and its config (with [inbox])."""
    for name in ("pipeline.xlsx", "sheetfollow.toml"):
        shutil.copyfile(prepared / name, tmp_path / name)
    return tmp_path


def with_inbox(path: Path, section: str = INBOX_SECTION) -> None:
    """The starter's config with an [inbox] section (replacing its commented one)."""
    text = path.read_text(encoding="utf-8")
    if "\n[inbox]\n" in text:
        head, _, tail = text.partition("\n[inbox]\n")
        rest = tail.split("\n[", 1)
        text = head + "\n" + (("[" + rest[1]) if len(rest) > 1 else "")
    path.write_text(text + section, encoding="utf-8")


def config_of(folder: Path) -> Config:
    return load_config(folder / "sheetfollow.toml")


@dataclass
class Fetched:
    uid: str
    raw: bytes


def process(folder: Path, *raws: bytes, today: date = TODAY, **options: Any) -> inbox.InboxReport:
    config = config_of(folder)
    backend = service.open_backend(None, config)
    fetched = [Fetched(str(n), raw) for n, raw in enumerate(raws, 1)]
    return inbox.process(backend, config, today, fetched, SECRET, **options)


def statuses(report: inbox.InboxReport) -> list[str]:
    return [h.status for h in report.handled]


# --- Reading the workbook back --------------------------------------------------------------


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


def snapshots(folder: Path) -> list[dict[str, Any]]:
    return rows(folder / "pipeline.xlsx", "sheetfollow_touches")


def day_of(value: Any) -> date | None:
    return value.date() if isinstance(value, datetime) else value


# --- Messages as mail apps send them ----------------------------------------------------------


def tag(
    prospect: str,
    outcome: Outcome,
    *,
    to: str,
    delay: str = "",
    issued: date = TODAY,
    secret: bytes = SECRET,
    sheet: str = "pipeline.xlsx",
) -> reply.Tag:
    return reply.tag(secret, sheet, prospect, to, issued, outcome, delay)


def subject(button: reply.Tag, company: str = "Advies Eindhoven B.V.", prefix: str = "") -> str:
    """The subject a button prefills, as the owner-email renders it: text, then the tag."""
    word = button.outcome.value.capitalize()
    return f"{prefix}{button.prospect_id} · {company}: {word} {button.text}"


def composed(
    *,
    sender: str,
    subject_: str,
    body: str,
    sent: datetime = SENT,
    message_id: str | None = None,
    mailer: str = "iPhone Mail (22B91)",
) -> bytes:
    """What a phone's mail app sends from a tapped mailto: link: plain text, quoted-printable
    where needed, a long subject folded over lines."""
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = sender
    msg["To"] = FOLLOW_UP
    msg["Subject"] = subject_
    msg["Date"] = format_datetime(sent)
    msg["Message-ID"] = message_id or make_msgid(domain="example.com")
    msg["X-Mailer"] = mailer
    msg.set_content(body)
    return msg.as_bytes()


def ios_tap(button: reply.Tag, sender: str = ANNA, note: str = "", **options: Any) -> bytes:
    """A button tapped in iOS Mail, a note typed after the prefilled label, sent."""
    body = f"Note: {note}\n\nSent from my iPhone\n"
    return composed(
        sender=f"Anna de Vries <{sender}>", subject_=subject(button), body=body, **options
    )


def gmail_reply(button: reply.Tag, note: str, prefix: str = "Re: ") -> bytes:
    """Gmail answering the message a button made: plain and HTML, the original quoted under
    "On ... wrote:", the subject with a prefix."""
    original = subject(button)
    plain = (
        f"{note}\r\n\r\nOn Fri, 27 Nov 2026 at 09:02, Anna de Vries <{ANNA}> wrote:\r\n"
        f"\r\n> Note: first try\r\n> {button.text}\r\n"
    )
    html = (
        f'<div dir="ltr">{note}</div><br><div class="gmail_quote"><div dir="ltr" '
        f'class="gmail_attr">On Fri, 27 Nov 2026 at 09:02, Anna de Vries &lt;{ANNA}&gt; '
        'wrote:<br></div><blockquote class="gmail_quote" style="margin:0px 0px 0px '
        '0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex">Note: first '
        "try</blockquote></div>"
    )
    headers = [
        ("From", f"Anna de Vries <{ANNA}>"),
        ("Date", format_datetime(SENT)),
        ("Message-ID", f"<CAJ{len(note)}x{note.encode().hex()[:12]}@mail.gmail.com>"),
        ("Subject", f"{prefix}{original}"),
        ("To", FOLLOW_UP),
        ("Content-Type", 'multipart/alternative; boundary="000000000000a1b2c3"'),
        ("MIME-Version", "1.0"),
    ]
    body = "\r\n".join(
        [
            "--000000000000a1b2c3",
            'Content-Type: text/plain; charset="UTF-8"',
            "Content-Transfer-Encoding: 8bit",
            "",
            plain,
            "--000000000000a1b2c3",
            'Content-Type: text/html; charset="UTF-8"',
            "Content-Transfer-Encoding: 8bit",
            "",
            html,
            "--000000000000a1b2c3--",
            "",
        ]
    )
    return _raw(headers, body)


def outlook_html_reply(button: reply.Tag, note: str, prefix: str = "AW: ") -> bytes:
    """Outlook (desktop or web) in German: HTML only, quoted-printable, the original under a
    "Von: ... Gesendet: ..." block after a rule."""
    html = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
        '<style type="text/css">p {margin:0}</style></head><body dir="ltr">'
        '<div class="elementToProof" style="font-family: Aptos; font-size: 12pt;">'
        f"{note}</div>"
        '<div id="appendonsend"></div><hr style="display:inline-block;width:98%" tabindex="-1">'
        '<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri" style="font-size:11pt">'
        f"<b>Von:</b> Anna de Vries &lt;{ANNA}&gt;<br><b>Gesendet:</b> Freitag, 27. November "
        f"2026 09:02<br><b>An:</b> {FOLLOW_UP}<br><b>Betreff:</b> {subject(button)}</font>"
        "</div><div>Note: first try</div></body></html>"
    )
    headers = [
        ("From", f"Anna de Vries <{ANNA}>"),
        ("To", FOLLOW_UP),
        ("Subject", f"{prefix}{subject(button)}"),
        ("Thread-Topic", "Advies Eindhoven"),
        ("Date", format_datetime(SENT)),
        ("Message-ID", "<AM0PR10MB2345ABCDEF@AM0PR10MB2345.EURPRD10.PROD.OUTLOOK.COM>"),
        ("Content-Language", "de-DE"),
        ("Content-Type", 'text/html; charset="utf-8"'),
        ("Content-Transfer-Encoding", "8bit"),
        ("MIME-Version", "1.0"),
    ]
    return _raw(headers, html + "\r\n")


def _raw(headers: list[tuple[str, str]], body: str) -> bytes:
    """A message on the wire: non-ASCII header values as (folded) UTF-8 encoded words, as
    Gmail and Outlook write them; an 8-bit UTF-8 body."""
    lines = []
    for name, value in headers:
        if not value.isascii():
            value = Header(value, "utf-8", header_name=name).encode(linesep="\r\n")
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode("utf-8")


# --- Recorded exactly like mark -----------------------------------------------------------------


def test_a_tapped_button_is_recorded_exactly_like_mark(team: Path, tmp_path: Path) -> None:
    other = tmp_path / "marked"
    other.mkdir()
    for name in ("pipeline.xlsx", "sheetfollow.toml"):
        shutil.copyfile(team / name, other / name)
    log_before = log(team)
    snaps_before = len(snapshots(team))

    button = tag("P-0111", Outcome.NO_ANSWER, to=ANNA)
    report = process(team, ios_tap(button, note="left a message with the receptionist"))
    assert statuses(report) == [RECORDED]
    assert "P-0111" in report.handled[0].detail
    assert not report.pending

    config = config_of(other)
    request = mark.MarkRequest(
        "P-0111", "no-answer", note="left a message with the receptionist", by="Anna"
    )
    mark.mark(service.open_backend(None, config), config, TODAY, request, now=SENT)

    mine, theirs = by_id(team), by_id(other)
    assert {c: mine["P-0111"][c] for c in ROW_COLUMNS} == {
        c: theirs["P-0111"][c] for c in ROW_COLUMNS
    }
    assert day_of(mine["P-0111"]["Last contact"]) == TODAY
    assert mine["P-0111"]["Last outcome"] == "No answer"
    # Every other row is untouched.
    assert {k: v for k, v in mine.items() if k != "P-0111"} == {
        k: v for k, v in theirs.items() if k != "P-0111"
    }
    new, marked = log(team)[len(log_before) :], log(other)[len(log_before) :]
    assert new == marked
    assert len(new) == 1
    entry = new[0]
    assert (entry["ID"], entry["By"], entry["Outcome"]) == ("P-0111", "Anna", "no answer")
    assert entry["Note"] == "left a message with the receptionist"
    assert entry["When"] == datetime(2026, 11, 27, 9, 14, 3)  # when it was sent, team time
    # One snapshot row, carrying the change ID that makes it exactly once.
    snaps = snapshots(team)[snaps_before:]
    assert len(snaps) == 1 and snaps[0]["ID"] == "P-0111"
    assert snaps[0]["Change"] == report.handled[0].change
    theirs_snap = snapshots(other)[snaps_before:][0]
    assert {k: v for k, v in snaps[0].items() if k != "Change"} == {
        k: v for k, v in theirs_snap.items() if k != "Change"
    }


def test_call_back_in_two_weeks_sets_follow_up_on(team: Path) -> None:
    button = tag("P-0111", Outcome.CALL_BACK, to=ANNA, delay="2w")
    report = process(team, ios_tap(button, note="after the trade fair"))
    assert statuses(report) == [RECORDED]
    row = by_id(team)["P-0111"]
    assert day_of(row["Follow up on"]) == TODAY + timedelta(weeks=2)
    assert day_of(row["Next follow-up"]) == TODAY + timedelta(weeks=2)
    assert row["Last outcome"] == "Call back"
    assert row["Attempts"] == 0


def test_several_replies_are_written_in_one_write(team: Path) -> None:
    before = len(log(team))
    report = process(
        team,
        ios_tap(tag("P-0164", Outcome.REACHED, to=LUCIA), sender=LUCIA),
        ios_tap(tag("P-0052", Outcome.WON, to=LUCIA), sender=LUCIA),
        ios_tap(tag("P-0111", Outcome.VOICEMAIL, to=ANNA)),
    )
    assert statuses(report) == [RECORDED] * 3
    rows_ = by_id(team)
    assert rows_["P-0164"]["Stage"] == "Contacted"
    assert rows_["P-0052"]["Stage"] == "Won"
    assert rows_["P-0111"]["Last outcome"] == "Voicemail"
    assert [(e["ID"], e["Outcome"]) for e in log(team)[before:]] == [
        ("P-0164", "reached"),
        ("P-0052", "won"),
        ("P-0111", "voicemail"),
    ]
    assert len(list((team / ".sheetfollow" / "backups").glob("*"))) == 1


def test_the_touch_is_on_the_day_it_was_sent_never_later_than_today(team: Path) -> None:
    thursday = SENT - timedelta(days=1)
    early = process(
        team,
        ios_tap(
            tag("P-0111", Outcome.REACHED, to=ANNA, issued=TODAY - timedelta(1)), sent=thursday
        ),
    )
    assert statuses(early) == [RECORDED]
    assert day_of(by_id(team)["P-0111"]["Last contact"]) == TODAY - timedelta(days=1)
    # A sender whose clock runs a day ahead: the touch is today's.
    ahead = process(
        team,
        ios_tap(
            tag("P-0164", Outcome.REACHED, to=LUCIA), sender=LUCIA, sent=SENT + timedelta(days=1)
        ),
    )
    assert statuses(ahead) == [RECORDED]
    assert day_of(by_id(team)["P-0164"]["Last contact"]) == TODAY
    # Late on Thursday in New York is Friday in Amsterdam: the team's day counts.
    late = datetime(2026, 11, 26, 22, 30, tzinfo=ZoneInfo("America/New_York"))
    process(team, ios_tap(tag("P-0052", Outcome.WON, to=LUCIA), sender=LUCIA, sent=late))
    assert day_of(by_id(team)["P-0052"]["Last contact"]) == TODAY


# --- Who may send ---------------------------------------------------------------------------


def test_the_owners_delegate_and_a_manager_may_send(team: Path) -> None:
    # Sarah owns P-0127 and names Anna her delegate; Sarah manages Anna.
    report = process(
        team,
        ios_tap(tag("P-0127", Outcome.NO_ANSWER, to=ANNA), sender=ANNA),
        ios_tap(tag("P-0111", Outcome.REACHED, to=ANNA), sender=SARAH),
    )
    assert statuses(report) == [RECORDED, RECORDED]
    assert [h.by for h in report.handled] == ["Anna", "Sarah"]
    assert log(team)[-1]["By"] == "Sarah"


def test_a_forged_sender_is_refused_and_nothing_is_written(team: Path) -> None:
    held = file_state(team / "pipeline.xlsx")
    valid = tag("P-0111", Outcome.WON, to=ANNA)  # a real button of Anna's
    report = process(
        team,
        ios_tap(valid, sender="mallory@attacker.example"),
        ios_tap(valid, sender=JONAS),  # a colleague who is no manager of Anna
    )
    assert statuses(report) == [REFUSED, REFUSED]
    for item in report.handled:
        assert "neither the owner of P-0111 (Anna)" in item.detail
        assert item.folder_kind == "review"
    assert file_state(team / "pipeline.xlsx") == held
    refused = inbox.refused_since(str(team / "pipeline.xlsx"), config_of(team), TODAY)
    assert [r.sender for r in refused] == ["mallory@attacker.example", JONAS]
    assert all("neither the owner" in r.reason for r in refused)


def test_a_token_for_another_prospect_is_refused(team: Path) -> None:
    held = file_state(team / "pipeline.xlsx")
    real = tag("P-0111", Outcome.WON, to=ANNA)
    altered = reply.Tag("P-0112", real.outcome, real.delay, real.token)
    report = process(team, ios_tap(altered))
    assert statuses(report) == [REFUSED]
    assert "token of P-0112 does not verify" in report.handled[0].detail
    assert file_state(team / "pipeline.xlsx") == held


def test_a_token_of_another_secret_or_sheet_is_refused(team: Path) -> None:
    held = file_state(team / "pipeline.xlsx")
    report = process(
        team,
        ios_tap(tag("P-0111", Outcome.WON, to=ANNA, secret=b"someone else's secret!!")),
        ios_tap(tag("P-0111", Outcome.WON, to=ANNA, sheet="other-team.xlsx")),
        ios_tap(tag("P-0111", Outcome.WON, to=JONAS)),  # made for Jonas, sent by Anna
    )
    assert statuses(report) == [REFUSED] * 3
    assert all("does not verify" in h.detail for h in report.handled)
    assert file_state(team / "pipeline.xlsx") == held


def test_an_expired_button_is_refused(team: Path) -> None:
    old = tag("P-0111", Outcome.REACHED, to=ANNA, issued=TODAY - timedelta(days=15))
    fresh = tag("P-0164", Outcome.REACHED, to=LUCIA, issued=TODAY - timedelta(days=14))
    report = process(team, ios_tap(old), ios_tap(fresh, sender=LUCIA))
    assert statuses(report) == [REFUSED, RECORDED]
    assert "answers the email of 2026-11-12, more than 14 days ago" in report.handled[0].detail


def test_an_unknown_prospect_is_refused(team: Path) -> None:
    report = process(team, ios_tap(tag("P-9999", Outcome.REACHED, to=ANNA)))
    assert statuses(report) == [REFUSED]
    assert report.handled[0].detail.startswith("no prospect has the ID P-9999")


def test_a_message_without_a_tag_or_unreadable_is_refused(team: Path) -> None:
    plain = composed(sender=ANNA, subject_="Lunch on Friday?", body="Who's in?\n")
    report = process(team, plain, b"\x00\xff garbage \r\n\r\n\x00", b"")
    assert statuses(report) == [REFUSED, REFUSED, REFUSED]
    assert "no button tag" in report.handled[0].detail


# --- Exactly once ---------------------------------------------------------------------------


def test_a_message_delivered_twice_is_recorded_once(team: Path) -> None:
    before = len(log(team))
    raw = ios_tap(tag("P-0111", Outcome.NO_ANSWER, to=ANNA))
    first = process(team, raw, raw)
    assert statuses(first) == [RECORDED, DUPLICATE]
    again = process(team, raw)
    assert statuses(again) == [DUPLICATE]
    assert "recorded before" in again.handled[0].detail
    assert len(log(team)) == before + 1
    assert by_id(team)["P-0111"]["Attempts"] == 1


def test_the_same_button_sent_twice_on_one_day_is_one_touch(team: Path) -> None:
    # A double tap, or a resend because the first seemed stuck: two Message-IDs, one call.
    before = len(log(team))
    button = tag("P-0111", Outcome.NO_ANSWER, to=ANNA)
    report = process(
        team,
        ios_tap(button, note="first"),
        ios_tap(button, note="second", sent=SENT + timedelta(minutes=3)),
    )
    assert statuses(report) == [RECORDED, DUPLICATE]
    assert len(log(team)) == before + 1
    # The same button on the next working day is the next call.
    monday = date(2026, 11, 30)
    later = process(
        team,
        ios_tap(button, sent=datetime(2026, 11, 30, 10, 0, tzinfo=AMSTERDAM)),
        today=monday,
    )
    assert statuses(later) == [RECORDED]
    assert len(log(team)) == before + 2
    assert by_id(team)["P-0111"]["Attempts"] == 2


def test_a_reply_while_excel_holds_the_workbook_waits_in_the_journal(team: Path) -> None:
    workbook = team / "pipeline.xlsx"
    lock = team / "~$pipeline.xlsx"
    lock.write_bytes(excel_owner_file("Anna de Vries"))
    held = file_state(workbook)
    raw = ios_tap(tag("P-0111", Outcome.REACHED, to=ANNA), note="wants a demo")
    report = process(team, raw)
    assert statuses(report) == [RECORDED]
    assert "open in Excel by Anna de Vries" in report.pending
    assert report.exit_code is ExitCode.PENDING
    assert file_state(workbook) == held
    journal = list((team / ".sheetfollow").glob("*.pending.jsonl"))
    lines = [json.loads(line) for line in journal[0].read_text().splitlines()]
    assert [(line["data"]["id"], line["data"]["source"]) for line in lines] == [("P-0111", "reply")]
    # Delivered again while Excel still has it: nothing kept twice.
    assert statuses(process(team, raw)) == [DUPLICATE]
    assert len(journal[0].read_text().splitlines()) == 1

    lock.unlink()
    before = len(log(team))
    config = config_of(team)
    service.refresh(service.open_backend(None, config), config, TODAY)
    assert by_id(team)["P-0111"]["Last outcome"] == "Reached"
    assert [(e["ID"], e["Note"]) for e in log(team)[before:]] == [("P-0111", "wants a demo")]
    assert statuses(process(team, raw)) == [DUPLICATE]
    assert len(log(team)) == before + 1


# --- What mail apps make of a message -------------------------------------------------------


@pytest.mark.parametrize(
    "prefix", ["RE: ", "Re: AW: ", "AW: ", "SV: ", "VS: ", "Antw: ", "RV: ", "Fwd: ", "WG: "]
)
def test_reply_prefixes_in_every_language_leave_the_tag(team: Path, prefix: str) -> None:
    button = tag("P-0111", Outcome.REACHED, to=ANNA)
    raw = composed(sender=ANNA, subject_=subject(button, prefix=prefix), body="Note: ok\n")
    report = process(team, raw, dry_run=True)
    assert statuses(report) == [RECORDED]
    assert report.handled[0].message.note == "ok"


def test_a_long_subject_folded_over_lines_keeps_its_tag(team: Path) -> None:
    button = tag("P-0052", Outcome.WON, to=LUCIA)
    long = subject(
        button, company="Suministros Industriales del Cantábrico S.A. (planta de Avilés)"
    )
    raw = composed(sender=LUCIA, subject_=long, body="Nota: firmado hoy\n")
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert b"\r\n " in head.split(b"Subject:", 1)[1].split(b"\r\nX-Mailer", 1)[0]  # folded
    report = process(team, raw)
    assert statuses(report) == [RECORDED]
    assert report.handled[0].message.note == "firmado hoy"


def test_a_gmail_reply_quoting_the_original(team: Path) -> None:
    button = tag("P-0111", Outcome.QUOTE_SENT, to=ANNA)
    report = process(team, gmail_reply(button, "Quote 2026-114 sent, 7.100 EUR"))
    assert statuses(report) == [RECORDED]
    assert report.handled[0].message.note == "Quote 2026-114 sent, 7.100 EUR"
    assert log(team)[-1]["Note"] == "Quote 2026-114 sent, 7.100 EUR"


def test_an_outlook_html_only_reply(team: Path) -> None:
    button = tag("P-0111", Outcome.INTERESTED, to=ANNA)
    report = process(team, outlook_html_reply(button, "Möchte ein Angebot &amp; einen Termin"))
    assert statuses(report) == [RECORDED]
    assert report.handled[0].message.note == "Möchte ein Angebot & einen Termin"


@pytest.mark.parametrize(
    ("body", "note"),
    [
        ("Note: call after 3\n\nSent from my iPhone\n", "call after 3"),
        ("Notitie: na drieën bellen\n\nVerstuurd vanaf mijn iPhone\n", "na drieën bellen"),
        ("Notiz: nach 15 Uhr\n\nVon meinem iPhone gesendet\n", "nach 15 Uhr"),
        ("Note: efter kl. 15\n\nSendt fra min iPhone\n", "efter kl. 15"),
        ("Nota: después de las 3\n\nEnviado desde mi iPhone\n", "después de las 3"),
        ("Note: \n\nGet Outlook for Android\n", ""),
        ("Note: Sent the quote by post\n\nSent from my iPad\n", "Sent the quote by post"),
        (
            "Notiz: Angebot kommt\n\nVon: Anna de Vries <anna@example.com>\nGesendet: "
            "Freitag, 27. November 2026 09:02\nAn: followup@example.com\n\nNotiz:\n",
            "Angebot kommt",
        ),
        (
            "spoke to the CFO\nNote: \n-- \nAnna de Vries\nSales, +31 6 1234 5678\n",
            "spoke to the CFO",
        ),
        (
            "Note: budget in Q1\r\n\r\n-----Original Message-----\r\nFrom: Anna\r\nNote: x\r\n",
            "budget in Q1",
        ),
        (
            "budget in Q1\n\nFrom: Anna de Vries <anna@example.com>\nSent: Friday, 27 November"
            " 2026 09:02\nTo: followup@example.com\nSubject: x\n\nNote: first try\n",
            "budget in Q1",
        ),
        (
            "wants a demo\n\nOp vr 27 nov 2026 om 09:02 schreef Anna de Vries "
            "<anna@example.com>:\n> Note:\n",
            "wants a demo",
        ),
        (
            "wants a demo\n\nAm 27.11.2026 um 09:02 schrieb Anna de Vries "
            "<anna@example.com>:\n\n> x\n",
            "wants a demo",
        ),
        (
            "wants a demo\n\nDen 27. nov. 2026 kl. 09.02 skrev Anna de Vries <anna@example.com>:\n",
            "wants a demo",
        ),
        (
            "wants a demo\n\nEl vie, 27 nov 2026 a las 9:02, Anna de Vries "
            "(<anna@example.com>) escribió:\n",
            "wants a demo",
        ),
        (
            "wants a demo\n\nOn Fri, 27 Nov 2026 at 09:02, Anna de Vries "
            "<anna@example.com>\nwrote:\n> x\n",
            "wants a demo",
        ),
    ],
)
def test_the_note_is_what_the_person_typed(team: Path, body: str, note: str) -> None:
    button = tag("P-0111", Outcome.REACHED, to=ANNA)
    raw = composed(sender=ANNA, subject_=subject(button), body=body)
    report = process(team, raw, dry_run=True)
    assert statuses(report) == [RECORDED]
    assert report.handled[0].message.note == note


def test_a_forward_that_lost_the_tag_from_its_subject(team: Path) -> None:
    button = tag("P-0111", Outcome.REACHED, to=ANNA)
    body = (
        "Reached him after all.\n\n---------- Forwarded message ---------\n"
        f"From: Anna de Vries <{ANNA}>\nDate: Fri, 27 Nov 2026 at 09:02\n"
        f"Subject: {subject(button)}\nTo: <{FOLLOW_UP}>\n\nNote:\n"
    )
    raw = composed(sender=ANNA, subject_="Fwd: P-0111 · Advies Eindhoven B.V.", body=body)
    report = process(team, raw)
    assert statuses(report) == [RECORDED]
    assert report.handled[0].message.note == "Reached him after all."


def test_a_reply_to_the_whole_morning_email_is_no_button(team: Path) -> None:
    # Quoting a card with several buttons: which one was meant cannot be told.
    buttons = [tag("P-0111", o, to=ANNA) for o in (Outcome.REACHED, Outcome.NO_ANSWER)]
    body = "Thanks!\n\n> " + "\n> ".join(f"mailto:{FOLLOW_UP} {b.text}" for b in buttons) + "\n"
    raw = composed(sender=ANNA, subject_="Re: Your calls for Friday 27 November", body=body)
    report = process(team, raw)
    assert statuses(report) == [REFUSED]
    assert "2 different button tags" in report.handled[0].detail


# --- Dry run and the record the emails read -------------------------------------------------


def test_a_dry_run_records_nothing(team: Path) -> None:
    held = file_state(team / "pipeline.xlsx")
    report = process(
        team,
        ios_tap(tag("P-0111", Outcome.REACHED, to=ANNA)),
        ios_tap(tag("P-0111", Outcome.REACHED, to=ANNA), sender=JONAS),
        dry_run=True,
    )
    assert statuses(report) == [RECORDED, REFUSED]
    assert report.lines()[1].startswith("  would record from anna@example.com: ")
    assert report.lines()[2].startswith("  would refuse ")
    assert file_state(team / "pipeline.xlsx") == held
    assert not (team / ".sheetfollow").exists() or not list(
        (team / ".sheetfollow").glob("*.inbox.jsonl")
    )


def test_recorded_and_refused_replies_are_kept_for_the_emails(team: Path) -> None:
    process(
        team,
        ios_tap(tag("P-0111", Outcome.NO_ANSWER, to=ANNA), note="line busy"),
        ios_tap(tag("P-0164", Outcome.REACHED, to=LUCIA), sender=LUCIA),
        ios_tap(tag("P-0164", Outcome.WON, to=LUCIA), sender="mallory@attacker.example"),
    )
    label, config = str(team / "pipeline.xlsx"), config_of(team)
    anna = inbox.recorded_since(label, config, TODAY, who="Anna")
    assert [(r.prospect_id, r.outcome, r.note, r.day) for r in anna] == [
        ("P-0111", "no answer", "line busy", TODAY)
    ]
    assert [r.prospect_id for r in inbox.recorded_since(label, config, TODAY, who=LUCIA)] == [
        "P-0164"
    ]
    assert len(inbox.recorded_since(label, config, TODAY)) == 2
    refused = inbox.refused_since(label, config, TODAY)
    assert [(r.sender, r.prospect_id) for r in refused] == [("mallory@attacker.example", "P-0164")]
    # "Since the previous digest": a moment after they were processed finds none.
    later = datetime.now(timezone.utc) + timedelta(minutes=1)
    assert inbox.refused_since(label, config, later) == []
    assert inbox.recorded_since(label, config, TODAY + timedelta(days=1)) == []


# --- The command ---------------------------------------------------------------------------


def test_inbox_without_a_server_says_so_in_one_line(cli: Cli, tmp_path: Path) -> None:
    starter.init(tmp_path / "pipeline.xlsx", example=True, today=TODAY)
    done = cli("inbox", "--config", tmp_path / "sheetfollow.toml", "--today", TODAY.isoformat())
    assert done.exit_code == ExitCode.CONFIG, done.output
    assert "no [inbox] host in sheetfollow.toml" in done.output
    assert len(done.output.strip().splitlines()) == 1


def test_inbox_without_a_team_secret_says_how_to_make_one(cli: Cli, team: Path) -> None:
    done = cli("inbox", "--config", team / "sheetfollow.toml", env={INBOX_SECRET_ENV: ""})
    assert done.exit_code == ExitCode.CONFIG, done.output
    assert "sheetfollow inbox --init" in done.output


def test_inbox_init_writes_a_private_secret_once_and_never_prints_it(cli: Cli, team: Path) -> None:
    config = team / "sheetfollow.toml"
    first = cli("inbox", "--init", "--config", config, env={INBOX_SECRET_ENV: ""})
    assert first.exit_code == 0, first.output
    path = team / ".sheetfollow" / "inbox.secret"
    secret = path.read_text().strip()
    assert len(secret) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert f"wrote a new team secret to {path}" in first.output
    assert secret not in first.output
    again = cli("inbox", "--init", "--config", config, env={INBOX_SECRET_ENV: ""})
    assert again.exit_code == 0
    assert "already holds the team secret: kept" in again.output
    assert path.read_text().strip() == secret


@pytest.fixture(autouse=True)
def _no_secret_from_outside(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(INBOX_SECRET_ENV, raising=False)
    yield


def test_the_secret_file_is_what_the_command_reads(team: Path) -> None:
    from sheetfollow.secrets import team_secret

    config = config_of(team)
    made = inbox.init_secret(config, os.environ)
    assert made.created
    assert team_secret("", config.path, os.environ) == made.path.read_text().strip().encode()


def owner_email_text(folder: Path, owner: str, today: date) -> str:
    """The plain text of `owner`'s morning email, as `notify --outbox` writes it today."""
    outbox = folder / f"outbox-{today.isoformat()}"
    config = config_of(folder)
    backend = service.open_backend(None, config)
    environ = {**os.environ, INBOX_SECRET_ENV: SECRET.decode()}
    notifier.notify(backend, config, today, outbox=outbox, owner=owner, env=environ)
    (found,) = [p for p in outbox.glob("*.eml") if "owner" in p.name]
    message = email.message_from_bytes(found.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def test_the_next_email_confirms_the_replies_recorded_since_the_last_one(team: Path) -> None:
    heading = "Registrado a partir de tus respuestas desde la última lista:"  # Lucía reads Spanish
    first = owner_email_text(team, "Lucia", TODAY)
    assert heading not in first

    time.sleep(1.1)  # the state tab keeps when an email went out to the second
    process(
        team,
        ios_tap(tag("P-0164", Outcome.NO_ANSWER, to=LUCIA), sender=LUCIA),
        ios_tap(tag("P-0111", Outcome.REACHED, to=ANNA)),  # Anna's: not in Lucia's email
    )
    monday = TODAY + timedelta(days=3)
    confirmed = owner_email_text(team, "Lucia", monday)
    lines = confirmed.splitlines()
    start = lines.index(heading)
    assert lines[start + 1] == "  + Informática del Mediterráneo S.A.: No contesta (vie, 27 nov)"
    assert not lines[start + 2].startswith("  + ")

    # Once confirmed, the next email does not say it again.
    assert heading not in owner_email_text(team, "Lucia", monday + timedelta(days=1))
