"""The notify and run use cases: who gets which email today, delivering it once, and
recording that it went out.

Every owner with something due gets one email with the rows assigned to them; every
manager gets one digest. What went out is appended to the workbook's hidden state tab in one
write after delivery, so the next run (on any machine) sends nothing twice, and retries
what failed.

Two runs at once still send each email once: a sending run holds the run lock from before it
reads the sheet until what it sent is recorded, and claims each email in the send log before
sending it (see notify/state.py). The one window left: a run killed after the mail server
accepted an email and before its "sent" line reached the disk; the next run sends that
email again and says so (for the outbox it finds the file and does not).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from sheetfollow import digests, inbox, journal, reply, secrets, sends, service, vocab
from sheetfollow.calendar import DAY_OFF, HOLIDAY, DayOff, calendar_for
from sheetfollow.config import Config, is_address
from sheetfollow.errors import ConfigError, SheetfollowError, UsageError
from sheetfollow.exit_codes import ExitCode
from sheetfollow.log import LogEntry, read_log
from sheetfollow.models import Outcome, Owner, Row
from sheetfollow.notify import digest, render, state
from sheetfollow.notify.message import Message
from sheetfollow.notify.mime import DEFAULT_SENDER, to_mime
from sheetfollow.notify.outbox import OUTBOX_NAME, Outbox, OutboxError, holds
from sheetfollow.notify.smtp import (
    ENV_OVERRIDES,
    DeliveryError,
    ServerError,
    SmtpTransport,
    settings_from,
)
from sheetfollow.rules import away_note
from sheetfollow.sheet import Backend
from sheetfollow.workspace import Kept, Saved, Workspace, open_workspace

# What happened to each email, as the report and --json say it.
SENT = state.SENT
WRITTEN = state.WRITTEN
FAILED = state.FAILED
SKIPPED = "skipped"
WOULD_SEND = "would send"
WOULD_WRITE = "would write"


class Transport(Protocol):
    """Where emails go: a mail server, or the outbox folder."""

    @property
    def status(self) -> str:
        """The state word for a delivered email: "sent" or "written"."""
        ...

    @property
    def label(self) -> str:
        """ "smtp smtp.example.com:587" or "outbox /path", for the report."""
        ...

    @property
    def sender(self) -> str:
        """The From of every email."""
        ...

    def send(self, message: Message, mail: EmailMessage) -> str:
        """Deliver one email; returns a detail for the run state (server reply, file)."""
        ...

    def close(self) -> None:
        """End the connection, if there is one."""
        ...


@dataclass(frozen=True)
class Delivery:
    """One email of today: to whom, and what became of it."""

    #: "owner" or "digest".
    kind: str
    #: The owner's name, or the manager's address (digests).
    key: str
    to: str
    subject: str
    #: SENT, WRITTEN, SKIPPED, FAILED, WOULD_SEND or WOULD_WRITE.
    status: str
    #: Why it was skipped or failed; the server's reply or the file when it went out.
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "key": self.key,
            "to": self.to,
            "subject": self.subject,
            "status": self.status,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class NotifyReport:
    sheet: str
    day: date
    #: Where emails went (or would go): "smtp host:port" or "outbox DIR".
    via: str
    dry_run: bool
    deliveries: tuple[Delivery, ...]
    #: Things a person should know that are no failure (a delegate without an email ...).
    notes: tuple[str, ...] = ()
    #: Why the outcomes could not be recorded in the state tab; "" when they were.
    unrecorded: str = ""
    unrecorded_code: ExitCode = ExitCode.OK
    #: Why the mail server could not be used at all; "" when it could.
    server_error: str = ""

    def count(self, status: str) -> int:
        return sum(1 for d in self.deliveries if d.status == status)

    @property
    def exit_code(self) -> ExitCode:
        """Unrecorded outcomes first (the next run would send again), then an unusable
        server (REMOTE), then single failed emails (DELIVERY)."""
        if self.unrecorded:
            return self.unrecorded_code
        if self.server_error:
            return ExitCode.REMOTE
        if self.count(FAILED):
            return ExitCode.DELIVERY
        return ExitCode.OK

    def as_dict(self) -> dict[str, object]:
        return {
            "sheet": self.sheet,
            "day": self.day.isoformat(),
            "via": self.via,
            "dry_run": self.dry_run,
            "emails": [d.as_dict() for d in self.deliveries],
            "counts": {
                status: self.count(status)
                for status in (SENT, WRITTEN, SKIPPED, FAILED, WOULD_SEND, WOULD_WRITE)
                if self.count(status)
            },
            "notes": list(self.notes),
            "server_error": self.server_error or None,
            "unrecorded": self.unrecorded or None,
            "exit_code": int(self.exit_code),
        }

    def lines(self) -> list[str]:
        """The report as plain lines: one per email, then the notes and the totals."""
        head = "would go" if self.dry_run else "went"
        out = [f"{self.sheet}: emails for {self.day.isoformat()} {head} to {self.via}"]
        width = max((len(d.status) for d in self.deliveries), default=0)
        for d in self.deliveries:
            who = f"{d.key} <{d.to}>" if d.to and d.to != d.key else d.key
            what = d.subject if d.status in (SENT, WRITTEN, WOULD_SEND, WOULD_WRITE) else ""
            tail = "; ".join(part for part in (what, d.detail) if part)
            out.append(f"  {d.status:<{width}}  {d.kind:<6}  {who}: {tail}".rstrip(": "))
        out += [f"  note: {note}" for note in self.notes]
        totals = [
            f"{self.count(s)} {s}"
            for s in (SENT, WRITTEN, WOULD_SEND, WOULD_WRITE, SKIPPED, FAILED)
            if self.count(s)
        ]
        out.append(", ".join(totals) if totals else "no emails today")
        if self.count(FAILED) and not self.dry_run:
            out.append("failed emails are tried again on the next run")
        return out


@dataclass(frozen=True)
class RunReport:
    """`run`: the refresh, then the emails."""

    refresh: service.RefreshSummary
    notify: NotifyReport

    @property
    def exit_code(self) -> ExitCode:
        return self.notify.exit_code

    def as_dict(self) -> dict[str, object]:
        return {"refresh": self.refresh.as_dict(), "notify": self.notify.as_dict()}


# --- Use cases --------------------------------------------------------------------------------


def run(
    backend: Backend,
    config: Config,
    today: date,
    *,
    dry_run: bool = False,
    owner: str | None = None,
    outbox: Path | None = None,
    force: bool = False,
    now: datetime | None = None,
    transport: Transport | None = None,
    env: Mapping[str, str] | None = None,
) -> RunReport:
    """Refresh the sheet, then send today's emails: the line for cron.

    Everything the run changes (typed touches, the owned columns, what was sent) goes into
    the workbook in one write after the emails went out. When the workbook cannot be
    written, the emails still go out and what must not be lost waits in the pending journal.
    """
    # The mail set-up is checked first, so a broken one stops the run before it writes.
    transport = transport or make_transport(backend, config, today, outbox, env)
    with _sending(backend, config, dry_run) as waited:
        ws = open_workspace(backend, config, today, now=now)
        summary = service.refresh_in(ws, dry_run=dry_run)
        report, kept = notify_in(
            ws, dry_run=dry_run, owner=owner, force=force, now=now, transport=transport, env=env
        )
        if dry_run:
            return RunReport(summary, report)
        report, saved = _save(ws, report, kept, force)
        _forget_old_sends(ws, saved)
    report = _waited(report, waited)
    if saved is not None:
        cells = summary.cells_changed - len(saved.skipped) if saved.written else 0
        summary = replace(
            summary, skipped=saved.skipped, cells_changed=cells, pending=saved.pending
        )
    return RunReport(summary, report)


def notify(
    backend: Backend,
    config: Config,
    today: date,
    *,
    dry_run: bool = False,
    owner: str | None = None,
    outbox: Path | None = None,
    force: bool = False,
    now: datetime | None = None,
    transport: Transport | None = None,
    env: Mapping[str, str] | None = None,
) -> NotifyReport:
    """Email each owner today's call list and each manager the digest, once a day.

    `owner` limits the run to one recipient (an owner, delegate or manager, by name or
    address). `force` sends again what already went out today. `transport` replaces the
    one the config and `outbox` choose (the mail server, or the outbox folder).
    """
    transport = transport or make_transport(backend, config, today, outbox, env)
    with _sending(backend, config, dry_run) as waited:
        ws = open_workspace(backend, config, today, now=now)
        report, kept = notify_in(
            ws, dry_run=dry_run, owner=owner, force=force, now=now, transport=transport, env=env
        )
        report = replace(report, notes=(*report.notes, *ws.notes()))
        if dry_run:
            return report
        report, saved = _save(ws, report, kept, force)
        _forget_old_sends(ws, saved)
    return _waited(report, waited)


def _sending(
    backend: Backend, config: Config, dry_run: bool
) -> contextlib.AbstractContextManager[float]:
    """The run lock, held from before the sheet is read until what was sent is recorded: a
    second run on this machine waits, then reads what the first recorded. A dry run sends
    and writes nothing, so it does not wait."""
    if dry_run:
        return contextlib.nullcontext(0.0)
    return state.run_lock(journal.Journal.for_sheet(backend.label, config.path), backend.label)


def _waited(report: NotifyReport, seconds: float) -> NotifyReport:
    if seconds < 1:
        return report
    note = f"waited {seconds:.0f} s for another sheetfollow run on {report.sheet} to finish"
    return replace(report, notes=(note, *report.notes))


def _forget_old_sends(ws: Workspace, saved: Saved | None) -> None:
    """Once this run's records are in the workbook or the pending journal, the send log's
    lines of earlier days say nothing new; today's stay for a run elsewhere that read the
    sheet before this run wrote it."""
    if saved is None:
        return
    with contextlib.suppress(SheetfollowError):
        state.SendLog(ws.journal).prune(before=ws.today)


def notify_in(
    ws: Workspace,
    *,
    dry_run: bool,
    owner: str | None,
    force: bool,
    now: datetime | None,
    transport: Transport,
    env: Mapping[str, str] | None = None,
) -> tuple[NotifyReport, list[Kept]]:
    """Send today's emails from the sheet as `ws` sees it (pending changes and typed
    touches applied); what went out is staged in `ws` and returned to keep if the
    workbook cannot be written."""
    sheet, config, today = ws.sheet, ws.config, ws.today
    pipeline = ws.pipeline()
    log = state.SendLog(ws.journal)
    recorded = sends.read_state(sheet, config)
    known, recovered, more = _recover(log, recorded, dry_run)
    sent = state.RunState((*recorded.entries, *known))
    plans, notes = owner_plans(
        pipeline, config, today, sheet.label, env=env, sent=sent, days_off=not force
    )
    notes += more
    # Promised and same-day calls beyond someone's daily limit (capacity.py): on their email
    # all the same, and said here.
    notes += [
        f"over the daily limit: {load.line()}" for load in pipeline.over_limit if load.day == today
    ]
    refused = _refused_replies(sheet.label, config, notes)
    plans += digest_plans(
        pipeline, config, read_log(sheet, config), today, sent, refused, days_off=not force
    )
    if owner:
        plans = _only(plans, owner, sheet.label)
    resting = sum(plan.day_off for plan in plans)
    if resting:
        notes.append(
            f"not sent on a day off: {_count(resting, 'email')}; the rows stay due, so the "
            "next working day's email carries them (--force sends today's anyway)"
        )
    moment = _moment(config, now)
    slots: list[Delivery | None] = []
    pending: list[tuple[int, Message]] = []
    for plan in plans:
        slots.append(_before_sending(plan, sent, today, force, dry_run, transport))
        if slots[-1] is None and plan.message is not None:
            pending.append((len(slots) - 1, plan.message))
    claims = None if dry_run else _Claims(log, journal.new_id(), today, force, moment, notes)
    server_error, tried = _deliver(pending, slots, transport, moment, claims)
    deliveries = tuple(d for d in slots if d is not None)
    report = NotifyReport(
        sheet=sheet.label,
        day=today,
        via=transport.label,
        dry_run=dry_run,
        deliveries=deliveries,
        notes=tuple(notes),
        server_error=server_error,
    )
    attempted = [d for slot in tried if (d := slots[slot]) is not None]
    return report, _stage_record(ws, report, attempted, recovered, moment)


# --- Choosing the transport -------------------------------------------------------------------


def make_transport(
    backend: Backend,
    config: Config,
    today: date,
    outbox: Path | None,
    env: Mapping[str, str] | None,
) -> Transport:
    """The mail server from [smtp] (and the environment); without one, or with `outbox`,
    the outbox folder."""
    environ = os.environ if env is None else env
    if outbox is not None:
        return Outbox(outbox, today, sender=_sender(config, environ))
    settings = settings_from(config, environ)
    if settings is None:
        return Outbox(default_outbox(config, backend.label), today, sender=_sender(config, environ))
    return SmtpTransport(settings)


def default_outbox(config: Config, sheet: str) -> Path:
    """[email] outbox, else an outbox folder next to the workbook (or the config file)."""
    if config.email.outbox:
        return Path(config.email.outbox)
    if "://" not in sheet and Path(sheet).suffix.lower() in (".xlsx", ".xlsm"):
        return Path(sheet).parent / OUTBOX_NAME
    if config.path is not None:
        return config.path.parent / OUTBOX_NAME
    return Path(OUTBOX_NAME)


def _sender(config: Config, environ: Mapping[str, str]) -> str:
    """The From of outbox files: what a mail server would send, when one is set up."""
    return (
        environ.get(ENV_OVERRIDES["sender"], "").strip()
        or config.smtp.sender
        or (config.smtp.username if is_address(config.smtp.username) else DEFAULT_SENDER)
    )


def _moment(config: Config, now: datetime | None) -> datetime:
    """Now, aware, in the team's time zone (the machine's when none is set)."""
    zone = ZoneInfo(config.timezone) if config.timezone else None
    if now is None:
        return datetime.now(zone).astimezone(zone)
    return now.astimezone(zone)


# --- Who gets what ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """One email to send today, or why there is none."""

    kind: str
    key: str
    to: str
    message: Message | None
    #: Without a message: SKIPPED (nothing to say) or FAILED (nobody to say it to) ...
    status: str = ""
    #: ... and why.
    reason: str = ""
    #: The person's name when the key is an address (a manager's digest), for --owner.
    name: str = ""
    #: Skipped because today is not a working day for the person.
    day_off: bool = False


def owner_plans(
    pipeline: service.Pipeline,
    config: Config,
    today: date,
    sheet: str,
    *,
    env: Mapping[str, str] | None = None,
    sent: state.RunState | None = None,
    days_off: bool = True,
) -> tuple[list[Plan], list[str]]:
    """One plan per owner (or delegate) with rows assigned to them, and per owner of the
    Owners tab; the notes say where a delegated row went to its owner instead, and why
    the emails have no outcome buttons when [inbox] asks for them and there is no secret.
    With buttons, each email confirms the replies recorded since the person's previous one
    (`sent`: what went out before).

    A person whose today is not a working day (see day_off) gets no email: their plan is
    skipped with the reason, and their rows stay due, so the next working day's email
    carries them. `days_off=False` (--force) sends on a day off all the same."""
    owners = pipeline.owners or {}
    groups, names, moved = _recipients(pipeline.rows, owners)
    notes = [
        f"{_count(n, 'follow-up')} assigned to {delegate} went to {owner}: {delegate} {why}"
        for (delegate, owner, why), n in moved.items()
    ]
    secret = None
    if config.inbox.address:
        environ = os.environ if env is None else env
        secret = secrets.team_secret(config.inbox.secret_file, config.path, environ)
        if secret is None:
            notes.append(
                f"no outcome buttons: [inbox] address is set but there is no team secret "
                f"(${secrets.INBOX_SECRET_ENV}, or `sheetfollow inbox --init`); the emails "
                "show the mark command"
            )
    replied = _recorded_replies(sheet, config, today, notes) if secret is not None else []
    plans = []
    # Everyone in the Owners tab, in its order, then names found only in the sheet.
    keys = [*owners, *(key for key in groups if key not in owners)]
    for key in keys:
        person = owners.get(key) or Owner(name=names[key])
        off = day_off(config, today, person.country) if days_off else None
        if off is not None:
            plans.append(_day_off_plan("owner", person.name, person.email, today, off))
            continue
        if days_off and person.away_on(today):
            plans.append(_away_plan(person, owners, today))
            continue
        message = render.owner_message(
            person,
            groups.get(key, []),
            today=today,
            config=config,
            sheet=sheet,
            coming_days=config.email.coming_days,
            replies=_replies(
                secret,
                config,
                sheet,
                person,
                groups.get(key, []),
                today,
                _confirmed(replied, person, sent or state.RunState(), today),
            ),
        )
        plans.append(_owner_plan(person, message))
    return plans, notes


def day_off(config: Config, today: date, country: str = "") -> tuple[DayOff, date] | None:
    """Why today is not a working day for someone in `country` (their Owners tab Country;
    "" = the team's), and their next working day; None when today is a working day."""
    calendar = calendar_for(config.calendar, country)
    off = calendar.day_off(today)
    if off is None:
        return None
    return off, calendar.roll_forward(today)


def day_off_reason(name: str, today: date, off: DayOff, next_day: date, kind: str) -> str:
    """Why `name` gets nothing today, for the report: "Sat 5 Dec is not a working day for
    Lucía (weekend); the email of Mon 7 Dec carries everything"."""
    if off.kind == HOLIDAY:
        why = f"a public holiday in {off.region}: {off.name}"
    elif off.kind == DAY_OFF:
        why = "a day off in [calendar] days_off"
    else:
        why = off.kind
    noun = "digest" if kind == "digest" else "email"
    return (
        f"{_short_day(today)} is not a working day for {name} ({why}); "
        f"the {noun} of {_short_day(next_day)} carries everything"
    )


def _short_day(day: date) -> str:
    """The day as "Sat 5 Dec", in English whatever the machine's locale, as the report is."""
    return f"{_WEEKDAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]}"


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _day_off_plan(
    kind: str, key: str, to: str, today: date, off: tuple[DayOff, date], name: str = ""
) -> Plan:
    reason = day_off_reason(name or key, today, *off, kind)
    return Plan(kind, key, to, None, SKIPPED, reason, name, day_off=True)


def _away_plan(person: Owner, owners: Mapping[str, Owner], today: date) -> Plan:
    """An owner on leave gets no email; their due rows went to their cover (see
    rules.with_leave) or wait for their return."""
    note = away_note(person, today)
    cover = owners.get(vocab.normalise(person.cover)) if person.cover else None
    if cover is not None and not cover.away_on(today):
        why = f"{note}: {cover.name} covers their follow-ups"
    elif cover is not None:
        why = f"{note} and {cover.name} (cover) too: their follow-ups wait"
    else:
        why = f"{note} with no cover: their follow-ups wait"
    return Plan("owner", person.name, person.email, None, SKIPPED, why)


def _replies(
    secret: bytes | None,
    config: Config,
    sheet: str,
    person: Owner,
    rows: Sequence[Row],
    today: date,
    recorded: tuple[render.Recorded, ...] = (),
) -> render.Replies | None:
    """The outcome buttons of one person's email: each row's token, signed for the address
    the email goes to and for today, so a reply proves which email it answers."""
    if secret is None or not person.email:
        return None
    tokens = {
        ident: reply.sign(secret, sheet, ident, person.email, today)
        for row in rows
        if (ident := row.prospect.id.strip())
    }
    return render.Replies(config.inbox.address, tokens, recorded)


#: How far back an email confirms replies when the person never had one before.
_CONFIRM_DAYS = 7


def _recorded_replies(
    sheet: str, config: Config, today: date, notes: list[str]
) -> list[inbox.Record]:
    """The replies `inbox` recorded lately, read once for every email of the run."""
    try:
        return inbox.recorded_since(sheet, config, today - timedelta(days=31))
    except SheetfollowError as error:
        notes.append(f"the emails do not confirm recorded replies: {error}")
        return []


def _confirmed(
    records: Sequence[inbox.Record], person: Owner, sent: state.RunState, today: date
) -> tuple[render.Recorded, ...]:
    """The replies by `person` (or about their prospects) recorded after their previous
    email went out (else in the last week), oldest first."""
    if not records:
        return ()
    names = {vocab.normalise(n) for n in (person.name, person.email) if n}
    previous = sent.last_before(today, "owner", person.name)
    since = previous.at if previous is not None and previous.at is not None else None
    found = []
    for r in records:
        if not names & {vocab.normalise(x) for x in (r.by, r.owner, r.sender) if x}:
            continue
        if r.day is None or not r.outcome:
            continue
        moment = r.moment
        if since is not None and moment is not None:
            if moment.replace(tzinfo=None) <= since.replace(tzinfo=None):
                continue
        elif r.seen is None or r.seen < today - timedelta(days=_CONFIRM_DAYS):
            continue
        try:
            outcome = Outcome(r.outcome)
        except ValueError:
            continue
        found.append(render.Recorded(r.company or r.prospect_id, outcome, r.day))
    return tuple(found)


def _owner_plan(person: Owner, message: Message | None) -> Plan:
    if message is None:
        return Plan("owner", person.name, person.email, None, SKIPPED, "nothing due today")
    if not person.email:
        return Plan(
            "owner",
            person.name,
            "",
            None,
            FAILED,
            f"no email address: add {person.name} with an email to the Owners tab",
        )
    return Plan("owner", message.key, message.to, message)


def _recipients(
    rows: Iterable[Row], owners: Mapping[str, Owner]
) -> tuple[dict[str, list[Row]], dict[str, str], Counter[tuple[str, str, str]]]:
    """Rows by who gets them (normalised name), the names as written, and the rows that went
    to their owner because the delegate cannot be emailed."""
    groups: dict[str, list[Row]] = {}
    names: dict[str, str] = {}
    moved: Counter[tuple[str, str, str]] = Counter()
    fold = vocab.normalise
    for row in rows:
        computed = row.computed
        if computed.next_follow_up is None or not computed.status.actionable:
            continue
        owner = row.prospect.owner.strip()
        who = computed.assigned_to.strip() or owner
        if not who:
            continue
        key = fold(who)
        if owner and key != fold(owner):
            why = _unreachable(owners.get(key))
            if why:
                moved[(who, owner, why)] += 1
                who, key = owner, fold(owner)
        groups.setdefault(key, []).append(row)
        names.setdefault(key, who)
    return groups, names, moved


def _unreachable(person: Owner | None) -> str:
    if person is None:
        return "is not in the Owners tab"
    if not person.email:
        return "has no email in the Owners tab"
    return ""


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def digest_plans(
    pipeline: service.Pipeline,
    config: Config,
    entries: Sequence[LogEntry],
    today: date,
    sent: state.RunState | None = None,
    refused: Sequence[digest.RefusedReply] = (),
    *,
    days_off: bool = True,
) -> list[Plan]:
    """One digest per manager (see sheetfollow/digests.py): what it covers, counted since
    the previous digest that `sent` says went out to that manager; a failed plan per
    Manager who cannot be emailed. A manager's day off (their Owners tab Country, else the
    team's calendar) is skipped, unless `days_off` is False (--force); the next digest
    counts from the previous one, so nothing done meanwhile is left out."""
    owners = pipeline.owners or {}
    managers, unreachable = digests.recipients(owners, config)
    plans = [
        Plan(
            "digest",
            named,
            "",
            None,
            FAILED,
            f"no email address for the manager of {', '.join(team)}: "
            f"{named} {_unreachable(owners.get(vocab.normalise(named)))}",
        )
        for named, team in unreachable.items()
    ]
    covered = digests.coverage(managers, owners, pipeline.rows)
    sheet = config.sheet or ""
    for manager, groups, at_top in zip(managers, covered, digests.top(managers), strict=True):
        off = day_off(config, today, manager.country) if days_off else None
        if off is not None:
            plans.append(_day_off_plan("digest", manager.to, manager.to, today, off, manager.name))
            continue
        shown = digests.view(
            groups,
            pipeline.rows,
            entries,
            today=today,
            since=digests.period(sent or state.RunState(), manager.to, today),
            config=config,
            refused=refused,
            at_top=at_top,
            owners=owners,
        )
        message = digest.digest_message(
            shown,
            manager=manager.name,
            to=manager.to,
            language=manager.language,
            sheet=sheet,
            link=render.sheet_link(sheet, config),
        )
        if message is None:
            plans.append(
                Plan("digest", manager.to, manager.to, None, SKIPPED, "no owners", manager.name)
            )
        else:
            plans.append(Plan("digest", message.key, message.to, message, name=manager.name))
    return plans


def _refused_replies(sheet: str, config: Config, notes: list[str]) -> list[digest.RefusedReply]:
    """The replies `inbox` refused, from its record beside the journal: each digest lists
    those since the previous digest. A record that cannot be read stops no email."""
    try:
        records = inbox.refused_since(sheet, config, date.min)
    except SheetfollowError as error:
        notes.append(f"the digests do not list refused replies: {error}")
        return []
    return [
        digest.RefusedReply(r.moment, r.sender, r.prospect_id, r.reason, r.company)
        for r in records
        if r.moment is not None
    ]


def _only(plans: list[Plan], who: str, sheet: str) -> list[Plan]:
    wanted = vocab.normalise(who)
    found = [p for p in plans if wanted in {vocab.normalise(n) for n in (p.key, p.to, p.name) if n}]
    if not found:
        raise UsageError(
            f"{who!r} gets no email from {sheet}: not an owner, delegate or manager there"
        )
    return found


# --- Sending and recording --------------------------------------------------------------------


def _before_sending(
    plan: Plan,
    sent: state.RunState,
    today: date,
    force: bool,
    dry_run: bool,
    transport: Transport,
) -> Delivery | None:
    """What becomes of a plan without sending it, or None when it is to be sent."""
    message = plan.message
    if message is None:
        return Delivery(plan.kind, plan.key, plan.to, "", plan.status, plan.reason)
    earlier = sent.delivered(today, plan.kind, plan.key)
    if earlier is not None and not force:
        return Delivery(plan.kind, plan.key, plan.to, message.subject, SKIPPED, _already(earlier))
    if dry_run:
        would = WOULD_SEND if transport.status == SENT else WOULD_WRITE
        return Delivery(plan.kind, plan.key, plan.to, message.subject, would)
    return None


def _already(earlier: state.Entry) -> str:
    at = f" at {earlier.at:%H:%M}" if earlier.at else ""
    verb = "sent" if earlier.status == SENT else "written to the outbox"
    return f"already {verb} today{at}; --force sends it again"


def _deliver(
    pending: Sequence[tuple[int, Message]],
    deliveries: list[Delivery | None],
    transport: Transport,
    moment: datetime,
    claims: _Claims | None = None,
) -> tuple[str, list[int]]:
    """Send the pending messages into their slots of `deliveries`; returns why the server
    could not be used ("" when it could) and the slots this run tried (the others another
    run sent, or is sending). One refused email does not stop the others; a server that
    cannot be used at all fails every email still waiting. With `claims`, each email is
    claimed before it is sent and its outcome noted right after."""
    if not pending:
        return "", []
    server_error = ""
    tried: list[int] = []
    try:
        for slot, message in pending:
            if server_error:
                deliveries[slot] = _delivery(message, FAILED, server_error)
                tried.append(slot)
                continue
            claim = ""
            try:
                mail = to_mime(message, sender=transport.sender, now=moment)
                if claims is not None:
                    claim, verdict = claims.take(message, mail, _file_of(transport, message))
                    if verdict is not None:
                        deliveries[slot] = verdict
                        continue
                detail = transport.send(message, mail)
            except (DeliveryError, OutboxError) as error:
                done = _delivery(message, FAILED, str(error))
            except ServerError as error:
                server_error = str(error)
                done = _delivery(message, FAILED, server_error)
            else:
                done = _delivery(message, transport.status, detail)
            deliveries[slot] = done
            tried.append(slot)
            if claims is not None and claim:
                claims.settle(claim, done)
    finally:
        transport.close()
    return server_error, tried


def _file_of(transport: Transport, message: Message) -> str:
    """Where the outbox will write the email ("" for a mail server): a run that finds the
    file after its writer died knows it went out."""
    return str(transport.path_for(message).absolute()) if isinstance(transport, Outbox) else ""


@dataclass
class _Claims:
    """This run's side of the send log: a claim before each email, its outcome right after.

    A claim stands when no run said the email went out (--force: ignored) and no claim made
    before it is still open (no outcome yet). An open claim of a run that is over (its
    process is gone; on another machine: older than STALE_CLAIM) stands in nobody's way:
    that run may have died after the server accepted the email, so it may arrive twice, and
    the report says so. An open claim of a run still going is waited for (CLAIM_WAIT in all).
    """

    log: state.SendLog
    run: str
    day: date
    force: bool
    moment: datetime
    notes: list[str]
    #: Seconds still to wait for other runs' outcomes.
    wait: float = field(default_factory=lambda: state.CLAIM_WAIT)

    def take(self, message: Message, mail: EmailMessage, file: str) -> tuple[str, Delivery | None]:
        """Claim the email; returns the claim's ID, and None when this run is to send it,
        else what became of it (sent by another run; or being sent by one, failed here)."""
        entry = state.Entry(self.day, message.kind, message.key, message.to, "", self.moment)
        try:
            claim = self.log.claim(
                self.run, entry, message_id=str(mail["Message-ID"] or ""), file=file
            )
        except SheetfollowError as error:
            why = f"not sent: it could not be claimed in the send log first ({error})"
            return "", _delivery(message, FAILED, why)
        start = time.monotonic()
        try:
            while True:
                verdict = self._verdict(claim, message)
                if not isinstance(verdict, state.Claim):
                    break
                if time.monotonic() - start >= self.wait:
                    verdict = _delivery(message, FAILED, self._unsettled(verdict))
                    break
                time.sleep(state.CLAIM_POLL)
        except SheetfollowError as error:
            why = f"not sent: the send log could not be read back ({error})"
            verdict = _delivery(message, FAILED, why)
        self.wait = max(0.0, self.wait - (time.monotonic() - start))
        if verdict is not None:
            self._settle(claim, state.WITHDRAWN, entry)
        return claim, verdict

    def _verdict(self, claim: str, message: Message) -> Delivery | state.Claim | None:
        """None: send; a Delivery: do not; a Claim: wait for that run's outcome."""
        now = datetime.now(timezone.utc)
        about = self.log.about(self.day, message.kind, message.key)
        if not self.force:
            for c in about:
                if c.outcome == SENT and c.record is not None:
                    return _delivery(message, SKIPPED, _already(c.record))
        mine = next((n for n, c in enumerate(about) if c.id == claim), len(about))
        before = [c for c in about[:mine] if not c.outcome]
        for c in before:
            if not c.over(now):
                return c
        for c in before:
            self.notes.append(
                f"the email to {message.key} was claimed at {self._clock(c.at)} by a run on "
                f"{c.host} (process {c.pid}) that stopped before it said whether the email "
                "went out; it is sent now, and arrives twice if that run had sent it"
            )
        return None

    def _unsettled(self, other: state.Claim) -> str:
        after = self._clock(other.at + state.STALE_CLAIM)
        return (
            f"not sent: a run on {other.host} claimed this email at {self._clock(other.at)} "
            f"and has not said whether it went out; if that run stopped, a run after {after} "
            "sends it"
        )

    def _clock(self, moment: datetime) -> str:
        return f"{moment.astimezone(self.moment.tzinfo):%H:%M}"

    def settle(self, claim: str, done: Delivery) -> None:
        status = SENT if done.status in state.DELIVERED else FAILED
        entry = state.Entry(
            self.day, done.kind, done.key, done.to, done.status, self.moment, done.detail
        )
        self._settle(claim, status, entry)

    def _settle(self, claim: str, outcome: str, entry: state.Entry) -> None:
        try:
            self.log.settle(self.run, claim, outcome, entry)
        except SheetfollowError as error:
            self.notes.append(
                f"what became of the email to {entry.key} could not be noted in "
                f"{self.log.path} ({error}); it is recorded in the workbook with the others"
            )


def _recover(
    log: state.SendLog, recorded: state.RunState, dry_run: bool
) -> tuple[list[state.Entry], list[state.Entry], list[str]]:
    """From the send log: every email a run said went out (so none is sent twice), those of
    them that a run which is over never recorded (to record now), and notes.

    A claim whose run is over without an outcome, for an outbox file that is there with the
    claim's Message-ID, went out too: the file is complete or absent."""
    lines = log.read()
    if not lines:
        return [], [], []
    now = datetime.now(timezone.utc)
    known: list[state.Entry] = []
    unrecorded: list[state.Entry] = []
    for line, entry in state.delivered_records(lines):
        known.append(entry)
        if state.line_over(line, now) and not recorded.holds(entry):
            unrecorded.append(entry)
    found: list[state.Entry] = []
    for claim in state.claims(lines):
        if claim.outcome or not claim.file or not claim.over(now):
            continue
        if not holds(Path(claim.file), claim.message_id):
            continue
        entry = state.Entry(
            claim.day, claim.kind, claim.key, claim.to, WRITTEN, claim.moment, claim.file
        )
        known.append(entry)
        found.append(entry)
        if not dry_run:
            with contextlib.suppress(SheetfollowError):
                log.settle(claim.run, claim.id, SENT, entry)
        if not recorded.holds(entry):
            unrecorded.append(entry)
    notes = [
        f"{entry.to or entry.key}'s email was written to the outbox by a run that stopped "
        f"before it said so ({entry.detail}); it is not written again"
        for entry in found
    ]
    if unrecorded:
        one = len(unrecorded) == 1
        verb = ("is" if one else "are") + (" recorded now" if not dry_run else " to be recorded")
        notes.append(
            f"{_count(len(unrecorded), 'email')} sent by a run that stopped before recording "
            f"{'it' if one else 'them'} ({', '.join(e.key for e in unrecorded)}) {verb}"
        )
    return known, [] if dry_run else unrecorded, notes


def _delivery(message: Message, status: str, detail: str) -> Delivery:
    return Delivery(message.kind, message.key, message.to, message.subject, status, detail)


def _stage_record(
    ws: Workspace,
    report: NotifyReport,
    attempted: Sequence[Delivery],
    recovered: Sequence[state.Entry],
    moment: datetime,
) -> list[Kept]:
    """Stage what was attempted (and what an earlier run sent but never recorded) into the
    state tab; the same, to keep in the journal."""
    entries = [
        *recovered,
        *(
            state.Entry(report.day, d.kind, d.key, d.to, d.status, moment, d.detail)
            for d in attempted
        ),
    ]
    if not entries:
        return []
    # No ID is recorded with these rows: a record of sends applied twice says the same.
    change_id = journal.new_id()
    ws.sheet.write([sends.append_changes(ws.sheet, ws.config, entries)])
    data = {"emails": [state.to_record(e) for e in entries]}
    return [Kept(change_id, journal.SENT, data, f"record of {_count(len(entries), 'email')}")]


def _save(
    ws: Workspace, report: NotifyReport, kept: list[Kept], force: bool
) -> tuple[NotifyReport, Saved | None]:
    """Write what the run staged; when that cannot be done, say what waits (or is lost)."""
    delivered = sum(1 for d in report.deliveries if d.status in state.DELIVERED and kept)
    try:
        saved = ws.save(force=force, kept=kept)
    except SheetfollowError as error:
        if isinstance(error, ConfigError):
            raise
        if not kept:
            raise
        if not delivered:
            # Failed emails are retried whether or not that is recorded.
            note = f"the failed emails could not be recorded in {ws.sheet.label} ({error})"
            return replace(report, notes=(*report.notes, note)), None
        reason = (
            f"{_count(delivered, 'email')} went out but could not be recorded in the hidden "
            f"tab {ws.config.tabs.state!r} of {ws.sheet.label} ({error}); the send log "
            f"{state.SendLog(ws.journal).path} keeps them from going out again, and the next "
            "run that can write records them"
        )
        return replace(report, unrecorded=reason, unrecorded_code=error.exit_code), None
    if saved.pending:
        reason = f"the workbook could not be written: {saved.pending}"
        return replace(report, unrecorded=reason, unrecorded_code=ExitCode.PENDING), saved
    return report, saved
