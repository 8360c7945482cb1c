"""`inbox`: one-tap replies to the morning email, read back and recorded as touches.

Each call card of the morning email has outcome buttons: `mailto:` links whose subject
carries a tag (see reply.py). A person taps one, may type a note, and sends; the message
lands in the team's follow-up mailbox, which `sheetfollow inbox` (and `run`) reads.

What a message means is decided here, from its bytes and the sheet:

- the tag is found in the subject, whatever the mail app did around it ("RE: AW: SV:",
  folding); when the subject lost it (some apps on forward), in the body, if exactly one
  tag is there;
- the token must verify (HMAC with the team secret) for this sheet, the prospect of the tag
  and an address the email could have gone to (the owner's, the delegate's, the sender's);
- the sender (From) must be the prospect's owner or delegate, or a manager (a Manager of the
  Owners tab, an owner whose Digest is yes, or [email] manager);
- the email it answers must be at most [inbox] max_age_days old, and the prospect still in
  the sheet.

A valid reply is recorded through the path of `mark` (MarkRequest -> record_touch, in a
workspace that applies the pending journal first and keeps the touch there while the
workbook cannot be written). Its change ID is derived from the button (token, outcome,
delay) and the day of the touch, and that ID is written into the hidden touches tab in the
same write: a message delivered twice, the same button sent twice on one day, or a run that
stopped between writing the workbook and moving the message, records nothing twice.

Refused messages (forged, altered, expired, unknown prospect, no tag) are never applied.
Both kinds are noted in a small record beside the pending journal
(`.sheetfollow/<book>.inbox.jsonl`) that the emails read: `refused_since` for the manager's
digest, `recorded_since` for "recorded yesterday by email" in an owner's email.
"""

from __future__ import annotations

import email
import hashlib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sheetfollow import mark, reply, schema, service, snapshot, vocab, workspace
from sheetfollow.config import Config, is_address
from sheetfollow.errors import ConfigError, RemoteError, UsageError
from sheetfollow.exit_codes import ExitCode
from sheetfollow.journal import Journal, Pending
from sheetfollow.models import Owner, Prospect
from sheetfollow.secrets import INBOX_SECRET_ENV, create_team_secret, default_secret_path
from sheetfollow.sheet import Backend, Table

# What became of each message.
RECORDED = "recorded"
#: Recorded before: the same message again, or the same button sent twice on one day.
DUPLICATE = "already recorded"
REFUSED = "refused"

#: A note longer than this is cut (a Log cell is read by people, not a mail archive).
MAX_NOTE = 500
#: Records of replies older than this are dropped from the record file.
KEEP_RECORDS_DAYS = 62


class Fetched(Protocol):
    """A message as the mail reader hands it over (notify.imap.Incoming)."""

    @property
    def uid(self) -> str: ...

    @property
    def raw(self) -> bytes: ...


class Mailbox(Protocol):
    """The part of notify.imap.Mailbox the use case needs."""

    def messages(self, folder: str) -> Sequence[Fetched]: ...

    def move(self, uid: str, folder: str) -> None: ...


# --- Reading one message -----------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """What one message says, read from its bytes alone."""

    uid: str
    message_id: str
    #: The From address as written, and its display name.
    sender: str
    sender_name: str
    subject: str
    #: When it was sent (its Date header), None when it has none that can be read.
    sent: datetime | None
    tag: reply.Tag | None
    #: What the person typed above the quoted original, without the prefilled label.
    note: str
    #: Why the message cannot be read as a reply at all; "" when it can.
    problem: str = ""


def read_reply(uid: str, raw: bytes, labels: Iterable[str] | None = None) -> Reply:
    """Parse a message as mail apps send it (plain or HTML-only, quoted, signed, edited
    subject). `labels` are the words the buttons prefill the note with ("Note" ...)."""
    try:
        parsed = email.message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return _read(uid, parsed, note_labels() if labels is None else tuple(labels))
    # The email package raises assorted errors on hostile headers and bodies; one broken
    # message must not stop the others, so any of them makes it a refused message.
    except Exception as error:
        reason = f"the message cannot be read ({type(error).__name__})"
        return Reply(uid, "", "", "", "", None, None, "", problem=reason)


def _read(uid: str, msg: EmailMessage, labels: Sequence[str]) -> Reply:
    subject = _one_line(str(msg.get("Subject", "") or ""))
    message_id = str(msg.get("Message-ID", "") or "").strip()
    senders = [(name, addr) for name, addr in getaddresses([str(msg.get("From", "") or "")])]
    senders = [(name, addr) for name, addr in senders if "@" in addr]
    sender_name, sender = senders[0] if len(senders) == 1 else ("", "")
    sent = _sent(str(msg.get("Date", "") or ""))
    text = _body_text(msg)
    mine = _own_part(text)
    tag = reply.find_tag(subject)
    problem = ""
    if tag is None:
        # The subject lost the tag (a forward by some apps): the body may hold it, once.
        found = {t.text: t for t in _tags_in(text)}
        if len(found) == 1:
            tag = next(iter(found.values()))
        elif len(found) > 1:
            problem = f"{len(found)} different button tags in the body and none in the subject"
    if not sender and not problem:
        problem = "no single sender address in From"
    return Reply(
        uid=uid,
        message_id=message_id,
        sender=sender.strip(),
        sender_name=sender_name.strip(),
        subject=subject,
        sent=sent,
        tag=tag,
        note=_note(mine, labels),
        problem=problem,
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _sent(text: str) -> datetime | None:
    if not text.strip():
        return None
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    # "-0000" means "the zone is unknown": read it as UTC, as RFC 5322 says.
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


_TAG_LIKE = re.compile(r"\[sf/[^\[\]]{1,300}\]")


def _tags_in(text: str) -> list[reply.Tag]:
    found = (reply.find_tag(candidate) for candidate in _TAG_LIKE.findall(text))
    return [tag for tag in found if tag is not None]


def _body_text(msg: EmailMessage) -> str:
    """The message's text: its text/plain body, else its HTML body as text (HTML-only
    replies, as Outlook and some phones send them)."""
    plain = msg.get_body(preferencelist=("plain",))
    if plain is not None:
        return _content(plain)
    html = msg.get_body(preferencelist=("html",))
    if html is not None:
        return html_text(_content(html))
    return ""


def _content(part: Any) -> str:
    try:
        return str(part.get_content())
    except (LookupError, ValueError):
        # An unknown or wrong charset: the text is still mostly readable.
        payload = part.get_payload(decode=True) or b""
        return bytes(payload).decode("utf-8", "replace")


# --- The person's own text ---------------------------------------------------------------

#: Where the quoted original starts in a text made from HTML.
_QUOTE = "\x00quote\x00"

#: Elements that start a new line in HTML text.
_BLOCKS = frozenset(
    {
        "address", "article", "aside", "br", "dd", "div", "dl", "dt", "footer", "form", "h1",
        "h2", "h3", "h4", "h5", "h6", "header", "li", "main", "nav", "ol", "p", "pre",
        "section", "table", "td", "th", "tr", "ul",
    }
)  # fmt: skip
_HIDDEN = frozenset({"head", "script", "style", "title", "template"})
#: Classes and IDs that mail apps give the quoted original or the signature.
_QUOTE_MARKS = (
    "gmail_quote",
    "gmail_signature",
    "divrplyfwdmsg",
    "appendonsend",
    "moz-cite-prefix",
    "moz-signature",
    "yahoo_quoted",
    "ms-outlook-mobile-signature",
    "applemailsignature",
    "signature",
)


class _HtmlText(HTMLParser):
    """HTML as the text a person sees, up to where the quoted original (a blockquote, an
    Outlook reply header, Gmail's quote) or the signature starts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0
        self.quoted = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.quoted:
            return
        if tag in _HIDDEN:
            self.hidden += 1
            return
        marks = " ".join(
            (value or "") for name, value in attrs if name in ("class", "id", "type")
        ).casefold()
        if tag in ("blockquote", "hr") or any(mark in marks for mark in _QUOTE_MARKS):
            self.parts.append(f"\n{_QUOTE}\n")
            self.quoted = True
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in _BLOCKS and not self.quoted:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden and not self.quoted:
            self.parts.append(re.sub(r"[ \t\r\n\f]+", " ", data))


def html_text(source: str) -> str:
    """The text of an HTML body, line by line, up to the quoted original."""
    parser = _HtmlText()
    parser.feed(source)
    parser.close()
    lines = (line.strip() for line in "".join(parser.parts).replace("\xa0", " ").splitlines())
    return "\n".join(lines)


#: "On Mon, 9 Mar 2026 at 10:00, Anna <anna@example.com> wrote:", in the languages of the
#: team and the usual others; a long one is wrapped over two lines by some apps.
_ATTRIBUTION = re.compile(
    r"^(on|am|op|el|den|d\.|le|il|em|w dniu|dne)\b.*\b"
    r"(wrote|schrieb|schreef|escribió|escribio|skrev|a écrit|ha scritto|escreveu|napisał)\b.*:$",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(
    r"^(-{2,}|_{2,})?\s*("
    r"original message|forwarded message|oorspronkelijk bericht|doorgestuurd bericht|"
    r"ursprüngliche nachricht|weitergeleitete nachricht|originalnachricht|"
    r"oprindelig meddelelse|videresendt meddelelse|videresendt besked|"
    r"mensaje original|mensaje reenviado|message d'origine|message transféré"
    r")\s*(-{2,}|_{2,})?:?$",
    re.IGNORECASE,
)
_FORWARDED = re.compile(
    r"^(begin forwarded message|begin doorgestuurd bericht|anfang der weitergeleiteten "
    r"nachricht|start på videresendt besked|inicio del mensaje reenviado)\s*:?$",
    re.IGNORECASE,
)
#: Outlook's header block above the original: "From: ..." then "Sent: ..." or "Date: ...".
_HEADER_FROM = re.compile(r"^\*?(from|van|von|fra|de|da)\s*:\*?\s*\S", re.IGNORECASE)
_HEADER_SENT = re.compile(
    r"^\*?(sent|date|verzonden|datum|gesendet|sendt|dato|enviado|fecha|envoyé|inviato)"
    r"\s*:\*?\s*\S",
    re.IGNORECASE,
)
#: The signatures phones and mail apps add ("Sent from my iPhone" ...), in the team's
#: languages; narrow enough that a note like "Sent the quote" is kept.
_SIGNATURE = re.compile(
    r"^(sent from (my|outlook|mail for windows|yahoo)|(get|download) outlook for|"
    r"(verstuurd|verzonden) (vanaf|vanuit|met) (mijn|outlook)|outlook voor (ios|android)|"
    r"von meinem|gesendet (von|mit) (meinem|outlook)|outlook für (ios|android)|"
    r"sendt fra (min|outlook)|hent outlook til|"
    r"enviado (desde|con) (mi|outlook)|(obtener|descargar) outlook para)\b",
    re.IGNORECASE,
)


def _own_part(text: str) -> list[str]:
    """The lines the person wrote: up to the quoted original or the signature, without
    quoted (">") lines."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").splitlines()
    mine: list[str] = []
    for index, raw_line in enumerate(lines):
        line = raw_line.strip()
        two = f"{line} {lines[index + 1].strip()}" if index + 1 < len(lines) else line
        if (
            line == _QUOTE
            or raw_line.rstrip("\r\n") in ("-- ", "--")
            or _SEPARATOR.match(line)
            or _FORWARDED.match(line)
            or _ATTRIBUTION.match(line)
            or (_ATTRIBUTION.match(two) and not line.endswith(":"))
            or _SIGNATURE.match(line)
            or (_HEADER_FROM.match(line) and _header_block(lines[index + 1 : index + 4]))
        ):
            break
        if line.startswith(">"):
            continue
        mine.append(line)
    return mine


def _header_block(following: Sequence[str]) -> bool:
    return any(_HEADER_SENT.match(line.strip()) for line in following)


#: What the buttons may prefill the note with, in every language, besides the words in
#: the email texts of the catalogs (reply_note, label_note).
_BUILT_IN_LABELS = ("Note", "Notes", "Notitie", "Notiz", "Notat", "Nota", "Opmerking")


def note_labels() -> tuple[str, ...]:
    """The labels a button's body may start the note with, in every language."""
    from sheetfollow.notify.render import strings_table

    found: dict[str, None] = {}
    for table in strings_table().values():
        for key in ("reply_note", "label_note"):
            text = table.get(key)
            if isinstance(text, str) and text.strip():
                found[text.strip().rstrip(":：").strip()] = None
    for label in _BUILT_IN_LABELS:
        found.setdefault(label, None)
    return tuple(found)


def _note(lines: Sequence[str], labels: Sequence[str]) -> str:
    """The person's note: their lines, without the label the button prefilled and without
    the tag, on one line."""
    words = "|".join(re.escape(label) for label in sorted(labels, key=len, reverse=True))
    label = re.compile(rf"^\s*({words})\s*[:：]\s*", re.IGNORECASE) if words else None
    kept: list[str] = []
    for line in lines:
        text = _TAG_LIKE.sub(" ", line)
        if label is not None:
            text = label.sub("", text)
        text = " ".join(text.split())
        if text:
            kept.append(text)
    note = " ".join(kept)
    return note if len(note) <= MAX_NOTE else note[: MAX_NOTE - 1].rstrip() + "…"


# --- Deciding ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Team:
    """What deciding needs to know about the team and the sheet."""

    #: The sheet names a token may be bound to (the workbook's label, the config's sheet).
    sheets: tuple[str, ...]
    #: The Owners tab by normalised name (empty without one).
    owners: Mapping[str, Owner]
    #: Managers' addresses (casefolded) -> their names.
    managers: Mapping[str, str]
    #: The team's time zone; None: this machine's.
    zone: ZoneInfo | None
    max_age_days: int

    @classmethod
    def of(cls, sheet: Backend, config: Config) -> Team:
        owners = _owners(sheet, config)
        sheets = dict.fromkeys(s for s in (sheet.label, config.sheet or "") if s)
        return cls(
            sheets=tuple(sheets),
            owners=owners,
            managers=_managers(owners, config),
            zone=ZoneInfo(config.timezone) if config.timezone else None,
            max_age_days=config.inbox.max_age_days,
        )

    def person(self, name: str) -> Owner | None:
        return self.owners.get(vocab.normalise(name)) if name.strip() else None

    def name_of(self, address: str) -> str:
        """The name the Owners tab gives an address, else ""."""
        wanted = address.strip().casefold()
        for person in self.owners.values():
            if person.email and person.email.strip().casefold() == wanted:
                return person.name
        return self.managers.get(wanted, "")


def _owners(sheet: Backend, config: Config) -> Mapping[str, Owner]:
    table = sheet.read_tab(config.tabs.owners)
    if table is None:
        return {}
    owners, _ = schema.parse_owners(table, source=sheet.label)
    return owners


def _managers(owners: Mapping[str, Owner], config: Config) -> dict[str, str]:
    """Everyone who gets a digest: the Managers named in the Owners tab (by name or
    address), owners whose Digest is yes, and [email] manager."""
    found: dict[str, str] = {}
    for person in owners.values():
        named = person.manager.strip()
        if is_address(named):
            found.setdefault(named.casefold(), named)
        elif named:
            boss = owners.get(vocab.normalise(named))
            if boss is not None and boss.email:
                found.setdefault(boss.email.strip().casefold(), boss.name)
        if person.digest and person.email:
            found.setdefault(person.email.strip().casefold(), person.name)
    if config.email.manager:
        found.setdefault(config.email.manager.strip().casefold(), config.email.manager)
    return found


@dataclass(frozen=True)
class Decision:
    """A reply judged: recorded as this touch, or refused and why."""

    accepted: bool
    reason: str = ""
    #: For an accepted reply: the day of the touch, and who made it (a name).
    day: date | None = None
    by: str = ""
    #: The moment it was sent, in the team's time zone (the Log's When).
    moment: datetime | None = None


def decide(
    message: Reply, prospect: Prospect | None, team: Team, secret: bytes, today: date
) -> Decision:
    """Whether a reply may be recorded for `prospect` (the row its tag names, None when no
    row has that ID). Pure."""
    if message.problem:
        return Decision(False, message.problem)
    tag = message.tag
    if tag is None:
        return Decision(False, "no button tag ([sf/...]) in the subject: not a one-tap reply")
    if prospect is None:
        return Decision(False, f"no prospect has the ID {tag.prospect_id} (deleted, or renamed)")
    owner = team.person(prospect.owner)
    delegate = team.person(owner.delegate) if owner is not None else None
    # Those the email of this row goes to: the owner (by name in the Owners tab, or an
    # address typed as the Owner) and the owner's delegate.
    own = {p.email.strip().casefold() for p in (owner, delegate) if p is not None and p.email}
    if owner is None and is_address(prospect.owner):
        own.add(prospect.owner.strip().casefold())
    recipients = own | {message.sender.casefold()}
    if not any(
        reply.verify(secret, tag.token, sheet, tag.prospect_id, to)
        for sheet in team.sheets
        for to in recipients
    ):
        return Decision(
            False,
            f"the token of {tag.prospect_id} does not verify: altered, made for another "
            "prospect, recipient or sheet, or signed with another team secret",
        )
    sender = message.sender.casefold()
    if sender not in own and sender not in team.managers:
        who = prospect.owner or "nobody"
        return Decision(
            False,
            f"sent by {message.sender}, who is neither the owner of {tag.prospect_id} ({who}), "
            "the owner's delegate nor a manager",
        )
    issued = reply.issued_on(tag.token)
    assert issued is not None, "a token that verifies carries its day"
    if (today - issued).days > team.max_age_days:
        return Decision(
            False,
            f"answers the email of {issued.isoformat()}, more than {team.max_age_days} days "
            "ago ([inbox] max_age_days)",
        )
    moment = message.sent.astimezone(team.zone) if message.sent is not None else None
    day = moment.date() if moment is not None else today
    # Never in the future (a sender's clock ahead), never before the email it answers.
    day = max(min(day, today), min(issued, today))
    by = team.name_of(message.sender) or message.sender_name or message.sender
    # The Log's When is the moment it was sent, unless the day had to be moved.
    when = moment if moment is not None and moment.date() == day else None
    return Decision(True, day=day, by=by, moment=when)


def change_id(tag: reply.Tag, day: date) -> str:
    """The ID of the touch a button records on `day`: the same message delivered twice, or
    the same button sent twice that day, is one touch."""
    basis = "\n".join(["reply", tag.token, tag.outcome.value, tag.delay, day.isoformat()])
    return hashlib.sha256(basis.encode("utf-8")).hexdigest()[:32]


# --- Recording ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Handled:
    """One message, and what became of it."""

    message: Reply
    status: str
    #: Recorded: mark's summary line; refused: why; already recorded: since when.
    detail: str
    prospect_id: str = ""
    company: str = ""
    #: The prospect's owner (the row's Owner), for the owner's email.
    owner: str = ""
    by: str = ""
    day: date | None = None
    change: str = ""

    @property
    def folder_kind(self) -> str:
        """ "done" for recorded ones, "review" for refused ones."""
        return "review" if self.status == REFUSED else "done"

    def as_dict(self) -> dict[str, object]:
        m, tag = self.message, self.message.tag
        return {
            "uid": m.uid,
            "message_id": m.message_id or None,
            "from": m.sender,
            "subject": m.subject,
            "status": self.status,
            "detail": self.detail,
            "prospect": self.prospect_id or (tag.prospect_id if tag else None),
            "company": self.company or None,
            "outcome": tag.outcome.value if tag else None,
            "delay": (tag.delay or None) if tag else None,
            "note": m.note or None,
            "by": self.by or None,
            "day": self.day.isoformat() if self.day else None,
        }

    def line(self, dry_run: bool) -> str:
        m = self.message
        if self.status == REFUSED:
            verb = "would refuse" if dry_run else "refused"
            subject = f" {m.subject!r}" if m.subject else ""
            return f"{verb}{subject} from {m.sender or '?'}: {self.detail}"
        if self.status == DUPLICATE:
            return f"{DUPLICATE}: {self.prospect_id} from {m.sender}: {self.detail}"
        verb = "would record" if dry_run else "recorded"
        return f"{verb} from {m.sender}: {self.detail}"


@dataclass(frozen=True)
class InboxReport:
    sheet: str
    folder: str
    dry_run: bool
    handled: tuple[Handled, ...]
    #: Why the touches wait in the pending journal ("" when they were written).
    pending: str = ""
    #: Why some messages could not be moved out of the folder ("" when all were).
    move_error: str = ""
    #: Where recorded and refused messages went (or would go).
    done_folder: str = ""
    review_folder: str = ""

    def count(self, status: str) -> int:
        return sum(1 for h in self.handled if h.status == status)

    @property
    def exit_code(self) -> ExitCode:
        if self.move_error:
            return ExitCode.REMOTE
        if self.pending:
            return ExitCode.PENDING
        return ExitCode.OK

    def lines(self) -> list[str]:
        if not self.handled:
            return [f"{self.sheet}: no new replies in {self.folder}"]
        head = f"{self.sheet}: {_count(len(self.handled), 'message')} in {self.folder}"
        out = [head + (" (dry run: nothing recorded or moved)" if self.dry_run else "")]
        out += [f"  {h.line(self.dry_run)}" for h in self.handled]
        parts = [f"{self.count(s)} {s}" for s in (RECORDED, DUPLICATE, REFUSED) if self.count(s)]
        if parts and not self.dry_run:
            moved = []
            if self.count(RECORDED) + self.count(DUPLICATE):
                moved.append(f"recorded ones to {self.done_folder}")
            if self.count(REFUSED):
                moved.append(f"refused ones to {self.review_folder}")
            parts.append("moved " + " and ".join(moved))
        if parts:
            out.append(", ".join(parts))
        return out

    def as_dict(self) -> dict[str, object]:
        return {
            "sheet": self.sheet,
            "folder": self.folder,
            "dry_run": self.dry_run,
            "messages": [h.as_dict() for h in self.handled],
            "counts": {s: self.count(s) for s in (RECORDED, DUPLICATE, REFUSED)},
            "pending": self.pending or None,
            "move_error": self.move_error or None,
            "exit_code": int(self.exit_code),
        }


def process(
    backend: Backend,
    config: Config,
    today: date,
    fetched: Sequence[Fetched],
    secret: bytes,
    *,
    dry_run: bool = False,
    force: bool = False,
    now: datetime | None = None,
) -> InboxReport:
    """Decide what each message means and record the valid ones as touches, in one write
    (or in the pending journal while the workbook cannot be written). Moves nothing: the
    caller moves each message once this returned (so a crash in between re-reads it, and
    its change ID makes that harmless)."""
    empty = InboxReport(
        sheet=backend.label,
        folder=config.inbox.folder,
        dry_run=dry_run,
        handled=(),
        done_folder=config.inbox.done_folder,
        review_folder=config.inbox.review_folder,
    )
    if not fetched:
        return empty  # the sheet is not even read: most mornings bring no reply
    labels = note_labels()
    replies = [read_reply(item.uid, item.raw, labels) for item in fetched]
    ws = workspace.open_workspace(backend, config, today, now=now, typed=False)
    team = Team.of(ws.sheet, config)
    records = Records.for_sheet(backend.label, config)
    earlier = {r.message_id: r for r in records.read() if r.status == RECORDED and r.message_id}
    written = {*snapshot.applied_changes(ws.sheet, config), *(e.id for e in ws.journal.entries())}
    handled: list[Handled] = []
    kept: list[workspace.Kept] = []
    for message in replies:
        item, keep = _handle(ws, team, message, secret, today, written, earlier)
        handled.append(item)
        if keep is not None:
            kept.append(keep)
            written.add(item.change)
    pending = ""
    if kept and not dry_run:
        saved = ws.save(force=force, kept=kept)
        pending = saved.pending
    if not dry_run:
        records.add(handled, ws.now, today)
    return replace(empty, handled=tuple(handled), pending=pending)


def _handle(
    ws: workspace.Workspace,
    team: Team,
    message: Reply,
    secret: bytes,
    today: date,
    written: set[str],
    earlier: Mapping[str, Record],
) -> tuple[Handled, workspace.Kept | None]:
    config = ws.config
    table = service.prospects_table(ws.sheet, config)
    header = service.prospect_header(table, config, ws.sheet.label)
    number, prospect = _row_of(table, header, message.tag, today)
    decision = decide(message, prospect, team, secret, today)
    if not decision.accepted or message.tag is None or prospect is None or decision.day is None:
        return Handled(message, REFUSED, decision.reason), None
    tag, day = message.tag, decision.day
    ident = change_id(tag, day)
    base = Handled(
        message,
        DUPLICATE,
        "",
        prospect_id=prospect.id,
        company=prospect.company or prospect.contact,
        owner=prospect.owner,
        by=decision.by,
        day=day,
        change=ident,
    )
    before = earlier.get(message.message_id)
    if ident in written or before is not None:
        when = f" on {before.at[:10]}" if before is not None else ""
        what = "this message" if before is not None else "this button"
        detail = f"{what} was recorded before{when}; nothing recorded twice"
        return replace(base, detail=detail), None
    if ws.record_typed(number):
        # A call typed into this row since the last run goes into the Log first (as mark).
        table = service.prospects_table(ws.sheet, config)
    request = mark.MarkRequest(
        who=prospect.id,
        outcome=tag.outcome.value,
        note=message.note,
        within=tag.delay or None,
        by=decision.by,
        day=day.isoformat(),
    )
    try:
        touch = mark.read_touch(request, today)
        result = mark.record_touch(
            ws.sheet,
            config,
            today,
            table=table,
            header=header,
            number=number,
            touch=touch,
            owners=team.owners or None,
            change_id=ident,
            now=decision.moment,
        )
    except UsageError as error:
        return replace(base, status=REFUSED, detail=str(error)), None
    kept = workspace.kept_touch(ident, result, touch, "reply")
    return replace(base, status=RECORDED, detail=result.summary()), kept


def _row_of(
    table: Table, header: schema.HeaderMap, tag: reply.Tag | None, today: date
) -> tuple[int, Prospect | None]:
    """The row whose ID is the tag's (exactly, any case), parsed; (0, None) when there is
    none, or more than one."""
    if tag is None or "id" not in header.columns:
        return 0, None
    rows = [
        number
        for number in mark.find(table, header, tag.prospect_id).rows
        if _id_at(table, header, number).casefold() == tag.prospect_id.casefold()
    ]
    if len(rows) != 1:
        return 0, None
    prospect = schema.parse_prospect(
        table.rows[rows[0] - 1], rows[0], header, epoch=table.epoch, today=today
    )
    return rows[0], prospect


def _id_at(table: Table, header: schema.HeaderMap, number: int) -> str:
    values = table.rows[number - 1]
    column = header.columns["id"]
    return schema.cell_text(values[column - 1]).strip() if column <= len(values) else ""


# --- What the emails show: the record of replies -----------------------------------------


@dataclass(frozen=True)
class Record:
    """A reply as the record file keeps it."""

    #: When it was processed (ISO 8601, team time zone) ...
    at: str
    #: ... and the day the run took for today (`--today`), which dates compare with.
    seen: date | None
    status: str
    #: The day of the touch (recorded ones).
    day: date | None
    sender: str
    by: str
    prospect_id: str
    company: str
    owner: str
    outcome: str
    note: str
    subject: str
    #: Refused: why.
    reason: str
    message_id: str

    @property
    def moment(self) -> datetime | None:
        try:
            return datetime.fromisoformat(self.at)
        except ValueError:
            return None


class Records:
    """The record of replies of one sheet: `.sheetfollow/<book>.inbox.jsonl`, beside the
    pending journal (the same folder rules, the same fsynced lines)."""

    KIND = "reply"

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    @classmethod
    def for_sheet(cls, label: str, config: Config) -> Records:
        pending = Journal.for_sheet(label, config.path)
        rename = _records_path
        fallback = rename(pending.fallback) if pending.fallback is not None else None
        return cls(Journal(rename(pending.path), fallback))

    def read(self) -> list[Record]:
        return [r for r in (_record(e) for e in self.journal.entries()) if r is not None]

    def add(self, handled: Sequence[Handled], now: datetime, today: date) -> None:
        """Note recorded and refused messages (a message noted before is not noted
        again), and forget the ones older than KEEP_RECORDS_DAYS."""
        entries = self.journal.entries()
        known = {e.id for e in entries}
        old = [e.id for e in entries if _older(e, now - timedelta(days=KEEP_RECORDS_DAYS))]
        for item in handled:
            if item.status == DUPLICATE:
                continue
            key = _record_key(item)
            if key in known:
                continue
            known.add(key)
            data = {**_record_data(item), "seen": today.isoformat()}
            self.journal.append(self.KIND, data, change_id=key, at=now)
        self.journal.remove(old)


def _records_path(path: Path) -> Path:
    return path.with_name(path.name.removesuffix(".pending.jsonl") + ".inbox.jsonl")


def _record_key(item: Handled) -> str:
    m = item.message
    basis = "\n".join([item.status, m.message_id or m.uid, m.sender, m.subject])
    return hashlib.sha256(basis.encode("utf-8")).hexdigest()[:32]


def _record_data(item: Handled) -> dict[str, object]:
    m, tag = item.message, item.message.tag
    return {
        "status": item.status,
        "day": item.day.isoformat() if item.day else None,
        "sender": m.sender,
        "by": item.by,
        "prospect": item.prospect_id or (tag.prospect_id if tag else ""),
        "company": item.company,
        "owner": item.owner,
        "outcome": tag.outcome.value if tag else "",
        "note": m.note,
        "subject": m.subject[:300],
        "reason": item.detail if item.status == REFUSED else "",
        "message_id": m.message_id,
    }


def _record(entry: Pending) -> Record | None:
    if entry.kind != Records.KIND:
        return None
    data = entry.data
    return Record(
        at=entry.at,
        seen=_day(data.get("seen")),
        status=str(data.get("status") or ""),
        day=_day(data.get("day")),
        sender=str(data.get("sender") or ""),
        by=str(data.get("by") or ""),
        prospect_id=str(data.get("prospect") or ""),
        company=str(data.get("company") or ""),
        owner=str(data.get("owner") or ""),
        outcome=str(data.get("outcome") or ""),
        note=str(data.get("note") or ""),
        subject=str(data.get("subject") or ""),
        reason=str(data.get("reason") or ""),
        message_id=str(data.get("message_id") or ""),
    )


def _day(value: object) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _older(entry: Pending, limit: datetime) -> bool:
    try:
        when = datetime.fromisoformat(entry.at)
    except ValueError:
        return False
    if when.tzinfo is None or limit.tzinfo is None:
        return when.replace(tzinfo=None) < limit.replace(tzinfo=None)
    return when < limit


def _since(records: Iterable[Record], since: date | datetime) -> Iterator[Record]:
    """Records of runs on or after the day `since` (a date: the run's today), or processed
    after the moment `since` (a datetime: when the previous digest was sent)."""
    for record in records:
        if not isinstance(since, datetime):
            if record.seen is not None and record.seen >= since:
                yield record
            continue
        moment = record.moment
        if moment is None:
            continue
        if since.tzinfo is not None and moment.tzinfo is not None:
            if moment > since:
                yield record
        elif moment.replace(tzinfo=None) > since.replace(tzinfo=None):
            yield record


def refused_since(sheet: str, config: Config, since: date | datetime) -> list[Record]:
    """Replies refused since `since` (for the manager's digest): who sent what, and why.
    `sheet` is the backend's label."""
    found = Records.for_sheet(sheet, config).read()
    return [r for r in _since(found, since) if r.status == REFUSED]


def recorded_since(
    sheet: str, config: Config, since: date | datetime, who: str | None = None
) -> list[Record]:
    """Replies recorded since `since` (for "recorded yesterday by email" in an owner's
    email); with `who` (a name or an address), only those sent by that person or about
    that owner's prospects."""
    found = [r for r in _since(Records.for_sheet(sheet, config).read(), since)]
    found = [r for r in found if r.status == RECORDED]
    if who is None:
        return found
    wanted = vocab.normalise(who)
    return [
        r for r in found if wanted in {vocab.normalise(x) for x in (r.by, r.owner, r.sender) if x}
    ]


# --- The command -------------------------------------------------------------------------


def team_secret_or_error(config: Config, environ: Mapping[str, str]) -> bytes:
    from sheetfollow.secrets import team_secret

    secret = team_secret(config.inbox.secret_file, config.path, environ)
    if secret is None:
        raise ConfigError(
            "no team secret to check the reply buttons with: run 'sheetfollow inbox --init' "
            f"(it writes one beside sheetfollow.toml), or set {INBOX_SECRET_ENV}"
        )
    return secret


def read_inbox(
    backend: Backend,
    config: Config,
    today: date,
    *,
    environ: Mapping[str, str],
    dry_run: bool = False,
    force: bool = False,
    now: datetime | None = None,
    open_mailbox: Callable[[], AbstractContextManager[Mailbox]] | None = None,
) -> InboxReport:
    """Read the new messages of the [inbox] folder, record the valid replies, then move
    each message: recorded ones to done_folder, refused ones to review_folder. Nothing is
    ever deleted. `--dry-run` reads and decides, and records and moves nothing."""
    from sheetfollow.notify import imap

    if not (config.inbox.host or environ.get(imap.ENV_OVERRIDES["host"], "").strip()):
        raise ConfigError(
            "no [inbox] host in sheetfollow.toml: set address and host (the IMAP server the "
            "replies to the buttons arrive at) to read replies"
        )
    secret = team_secret_or_error(config, environ)
    if open_mailbox is None:
        source = config.path.name if config.path else "sheetfollow.toml"
        settings = imap.imap_settings(config.inbox, environ, source=source)

        def open_mailbox() -> AbstractContextManager[Mailbox]:
            return imap.Mailbox(settings)

    with open_mailbox() as box:
        fetched = box.messages(config.inbox.folder)
        report = process(
            backend, config, today, fetched, secret, dry_run=dry_run, force=force, now=now
        )
        if dry_run:
            return report
        folders = {"done": config.inbox.done_folder, "review": config.inbox.review_folder}
        try:
            for item in report.handled:
                box.move(item.message.uid, folders[item.folder_kind])
        except RemoteError as error:
            return _moved_partly(report, str(error))
    return report


def _moved_partly(report: InboxReport, error: str) -> InboxReport:
    text = (
        f"{error}; the messages left in {report.folder} are read again by the next run, "
        "which records nothing twice"
    )
    return replace(report, move_error=text)


@dataclass(frozen=True)
class SecretFile:
    path: Path
    created: bool
    #: The environment variable is set and is used instead of the file.
    from_environment: bool


def init_secret(config: Config, environ: Mapping[str, str]) -> SecretFile:
    """`inbox --init`: a new team secret in [inbox] secret_file, or beside sheetfollow.toml;
    an existing one is kept (replacing it would void every button already sent)."""
    if config.inbox.secret_file:
        path = Path(config.inbox.secret_file)
    else:
        default = default_secret_path(config.path)
        if default is None:
            raise ConfigError(
                "no sheetfollow.toml to keep the team secret beside: give --config, or set "
                "[inbox] secret_file"
            )
        path = default
    created = create_team_secret(path)
    return SecretFile(path, created, bool(environ.get(INBOX_SECRET_ENV, "").strip()))


def _count(n: int, word: str) -> str:
    return f"1 {word}" if n == 1 else f"{n} {word}s"
