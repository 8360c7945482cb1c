"""The manager's digest: per owner what was done and what is due or late, the funnel, the
rows outside any team, the rows that need attention and the replies that were refused.

Pure: a DigestView in, a Message out. The view holds plain numbers, days and names, worked
out by the notify use case (sheetfollow/digests.py); this module only words and draws them.
Bars are tables of cells with widths in percent and background colours: mail programs
(Outlook's Word engine included) draw those, where they drop images, flex boxes and CSS
gradients.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import TypeVar

from babel.numbers import format_percent

from sheetfollow import i18n
from sheetfollow.notify import render
from sheetfollow.notify.message import Message
from sheetfollow.notify.render import Strings

#: The digest lists at most this many rows per owner and list; the rest is counted (the
#: owner's own email has them all).
DIGEST_LIST_LENGTH = 5
#: At most this many owners are shown (a block of bars, a line of the plain text's table);
#: the rest are counted. Their rows are in the subject's figures all the same.
MAX_OWNER_BLOCKS = 60
#: The widest a bar of the plain text gets, in characters.
TEXT_BAR_WIDTH = 20

# Why a group of rows is in a digest: the manager's team (or the whole team) ...
TEAM = ""
# ... or because no other digest would show them:
#: The owner is a manager (one who gets a digest).
MANAGER = "manager"
#: The Owner cell names nobody in the Owners tab.
UNLISTED = "unlisted"
#: The Owner cell is blank.
NO_OWNER = "no owner"
#: The owner is in the Owners tab, but no manager of theirs gets a digest.
UNMANAGED = "unmanaged"

#: The colours of the bars, by what a part of a bar stands for.
COLOURS: Mapping[str, str] = {
    "reached": "#1d4ed8",
    "missed": "#bfdbfe",
    "today": "#2563eb",
    "overdue": "#c62828",
    "value": "#d97706",
    "interested": "#22c55e",
    "won": "#166534",
    "track": "#eef0f3",
}


# --- What the use case hands over ----------------------------------------------------------


@dataclass(frozen=True)
class Late:
    """An overdue follow-up."""

    company: str
    due: date


@dataclass(frozen=True)
class OwnerFigures:
    """One owner's rows in the digest (or the rows without an owner)."""

    #: As written in the sheet; "" for the rows without an owner (role NO_OWNER).
    name: str
    #: TEAM, MANAGER, UNLISTED, NO_OWNER or UNMANAGED.
    role: str = TEAM
    #: Rows the owner has in the sheet, whatever their status.
    prospects: int = 0
    #: Follow-ups due today (overdue ones not included) ...
    today: int = 0
    #: ... and due before today.
    overdue: int = 0
    #: The Value of the overdue rows, added up.
    overdue_value: float = 0.0
    #: Touches recorded by or for the owner in the digest's period, and how many of them
    #: got through (any outcome but no answer and voicemail).
    done: int = 0
    reached: int = 0
    #: Companies that died, and that were won, in the period.
    died: tuple[str, ...] = ()
    won: tuple[str, ...] = ()
    #: The overdue rows, oldest first.
    late: tuple[Late, ...] = ()


@dataclass(frozen=True)
class FunnelStep:
    """One calling round of the funnel (see sheetfollow.stats)."""

    label: str
    called: int
    reached: int
    interested: int
    won: int


@dataclass(frozen=True)
class Funnel:
    #: The prospects first called from `since` through today, round by round.
    since: date
    cohort: int
    steps: tuple[FunnelStep, ...]


@dataclass(frozen=True)
class Attention:
    """A row that needs attention: where, whose and why."""

    ref: str
    company: str
    owner: str
    why: str


@dataclass(frozen=True)
class RefusedReply:
    """A reply to a morning email that was not recorded (it waits in the review folder)."""

    at: datetime
    sender: str
    #: The prospect the reply named ("" when it named none that could be read) ...
    prospect: str
    #: ... and why it was refused, in the inbox's words.
    reason: str
    #: The prospect's company, when the sheet has the prospect.
    company: str = ""


@dataclass(frozen=True)
class Away:
    """An owner on leave today: until when ("None": no return date) and who covers
    ("": nobody; their follow-ups wait)."""

    name: str
    until: date | None
    cover: str = ""


@dataclass(frozen=True)
class DigestView:
    """Everything one manager's digest shows."""

    today: date
    owners: tuple[OwnerFigures, ...]
    #: Done, died and won count from this day through yesterday: the day of the previous
    #: digest to this manager (today's touches are the next digest's) ...
    since: date
    #: ... when there was one; else this is the first, and it looks back from `since`.
    first: bool = False
    attention: tuple[Attention, ...] = ()
    funnel: Funnel | None = None
    refused: tuple[RefusedReply, ...] = ()
    #: The name of the Owners tab, as the sheet's config has it.
    owners_tab: str = "Owners"
    #: The ISO 4217 code of the Value column ("" = plain numbers).
    currency: str = ""
    #: The owners of the digest who are away today, and who covers for them.
    away: tuple[Away, ...] = ()

    @property
    def due_today(self) -> int:
        return sum(owner.today for owner in self.owners)

    @property
    def overdue(self) -> int:
        return sum(owner.overdue for owner in self.owners)


# --- The message -----------------------------------------------------------------------------


def digest_message(
    view: DigestView, *, manager: str, to: str, language: str, sheet: str, link: str = ""
) -> Message | None:
    """The digest `view` for the manager `manager` (a name, or only an address) at `to`, in
    `language`; `sheet` names the workbook in the footer, `link` opens it ("" for none).
    None when the digest covers nobody."""
    if not view.owners:
        return None
    t = Strings(language)
    today = view.today
    subject = digest_subject(view, t)
    figures = _figures(view, t)
    named = manager.strip() and "@" not in manager
    shown = view.owners[:MAX_OWNER_BLOCKS]
    hidden = len(view.owners) - len(shown)
    scale = _Scale.of(view.owners)
    blocks = [_block(owner, view, scale, t) for owner in shown]
    context = {
        "lang": t.language,
        "subject": subject,
        "summary": figures,
        "sheet_link": link,
        "greeting": t("greeting", name=manager.strip()) if named else t("greeting_anonymous"),
        "intro": t("digest_intro", day=t.long_day(today)),
        "away": _away(view.away, t, today),
        "t": t,
        "colours": COLOURS,
        "period": _period(view, t),
        "blocks": blocks,
        "more_owners": t.count("more", hidden) if hidden else "",
        "team_table": _team_table(view, shown, t),
        "details": [b for b in blocks if b.lists],
        "outside": _outside(view.owners, t, view.owners_tab),
        "funnel": _funnel(view.funnel, t),
        "funnel_table": _funnel_table(view.funnel, t),
        "cohort": _cohort(view.funnel, t, today),
        # The Why in the manager's language (the rules keep it as reasons: i18n.py).
        "attention": tuple(
            replace(item, why=i18n.localise(item.why, t.language)) for item in view.attention
        ),
        "refused": [_refused_line(reply, t, today) for reply in view.refused],
        "refused_intro": t.count("refused_intro", len(view.refused)) if view.refused else "",
        "footer": t("footer", sheet=render._sheet_name(sheet)),
    }
    return Message(
        kind="digest",
        key=to,
        to=to,
        subject=subject,
        text=_render("digest.txt.j2", context),
        html=_render("digest.html.j2", context),
        language=t.language,
    )


def digest_subject(view: DigestView, t: Strings) -> str:
    """'Team follow-ups: 2 due today, 3 overdue, 1 needs attention': the numbers `refresh`
    prints for the same rows (due today leaves the overdue out)."""
    values = {
        "due": t.count("digest_due", view.due_today),
        "overdue": t.count("digest_overdue", view.overdue),
        "attention": t.count("digest_attention", len(view.attention)),
    }
    return t("digest_subject_attention" if view.attention else "digest_subject", **values)


def _figures(view: DigestView, t: Strings) -> str:
    """The subject's figures, to open the email with: '2 due today, 3 overdue'."""
    parts = [t.count("digest_due", view.due_today), t.count("digest_overdue", view.overdue)]
    if view.attention:
        parts.append(t.count("digest_attention", len(view.attention)))
    return ", ".join(parts)


def _away(away: Sequence[Away], t: Strings, today: date) -> str:
    """'Away: Anna until Fri 11 Dec (Bert covers)'; "" when nobody is away."""
    if not away:
        return ""
    lines = []
    for one in away:
        if one.until is None:
            who = t("away_open", name=one.name)
        else:
            who = t("away_until", name=one.name, day=t.day(one.until, today))
        if one.cover:
            lines.append(t("away_covered", who=who, cover=one.cover))
        else:
            lines.append(t("away_waits", who=who))
    return t("digest_away", names="; ".join(lines))


def _render(name: str, context: Mapping[str, object]) -> str:
    return render.environment().get_template(name).render(**context)


# --- Words -----------------------------------------------------------------------------------


def owner_label(owner: OwnerFigures, t: Strings, tab: str) -> str:
    """The owner's name, and why the rows are here when it is not the manager's team:
    'Sarah (manager)', 'Pieter (not in the Owners tab)', 'No owner'."""
    if owner.role == NO_OWNER:
        return t("no_owner")
    role = {
        MANAGER: t("role_manager"),
        UNLISTED: t("role_unlisted", tab=tab),
        UNMANAGED: t("role_unmanaged"),
    }.get(owner.role, "")
    return f"{owner.name} ({role})" if role else owner.name


def _period(view: DigestView, t: Strings) -> str:
    """'Done, died and won: since your previous digest, Fri 6 Mar to Sun 8 Mar.'"""
    last = view.today - timedelta(days=1)
    if view.since >= last:
        span = t.day(last, view.today)
    else:
        span = t("day_range", first=t.day(view.since, view.today), last=t.day(last, view.today))
    if view.first:
        days = t.count("days", (view.today - view.since).days)
        return t("digest_period_first", days=days, span=span)
    return t("digest_period", span=span)


def _percent(part: int, whole: int, t: Strings) -> str:
    if whole <= 0:
        return "–"
    return str(format_percent(part / whole, locale=t.locale))


def _refused_line(reply: RefusedReply, t: Strings, today: date) -> str:
    when = f"{t.day(reply.at.date(), today)} {t.clock(reply.at.time())}"
    prospect = " ".join(part for part in (reply.prospect, reply.company) if part)
    return t(
        "refused_line",
        when=when,
        sender=render.shorten(reply.sender, render.FIELD_LENGTH),
        prospect=render.shorten(prospect, render.FIELD_LENGTH) or "?",
        reason=render.shorten(reply.reason, render.FIELD_LENGTH),
    )


def _outside(owners: Sequence[OwnerFigures], t: Strings, tab: str) -> list[str]:
    """The lines about rows outside the teams: 'No owner: 3 prospects', 'Owner not in the
    Owners tab: Zoë (2)' ..."""
    lines = []
    blank = sum(o.prospects for o in owners if o.role == NO_OWNER)
    if blank:
        lines.append(t.count("outside_no_owner", blank))
    for role, key in (
        (UNLISTED, "outside_unlisted"),
        (MANAGER, "outside_manager"),
        (UNMANAGED, "outside_unmanaged"),
    ):
        found = [o for o in owners if o.role == role and o.prospects]
        if found:
            names = ", ".join(t("name_count", name=o.name, n=t.number(o.prospects)) for o in found)
            lines.append(t(key, names=names, tab=tab))
    return lines


def _cohort(funnel: Funnel | None, t: Strings, today: date) -> str:
    if funnel is None:
        return ""
    return t.count("funnel_cohort", funnel.cohort, day=t.day(funnel.since, today))


# --- Bars ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BarLine:
    """One figure of an owner as a bar: its label, the bar's cells (width in percent, what
    the part stands for), and the figure written out."""

    label: str
    cells: tuple[tuple[int, str], ...]
    figure: str
    #: What colours the figure: "overdue" when it is above zero, else "".
    tone: str = ""


@dataclass(frozen=True)
class Block:
    """An owner as the HTML digest shows them."""

    label: str
    bars: tuple[BarLine, ...]
    #: "Died: 1 · Won: 2".
    outcome: str
    #: (title, items, what colours the title): overdue, died, won; only those with items.
    lists: tuple[tuple[str, tuple[str, ...], str], ...] = field(default=())


def bar_cells(parts: Iterable[tuple[float, str]], largest: float) -> tuple[tuple[int, str], ...]:
    """The cells of a bar whose full width is `largest`: each part in whole percent (a part
    above zero gets at least 1), then the empty rest as "track"."""
    cells: list[tuple[int, str]] = []
    if largest > 0:
        total = 0.0
        end = 0
        for value, kind in parts:
            if value <= 0:
                continue
            total += value
            # Rounded where each part ends, not each part alone: the parts add up.
            stop = min(100, max(end + 1, round(total * 100 / largest)))
            if stop > end:
                cells.append((stop - end, kind))
                end = stop
        if end < 100:
            cells.append((100 - end, "track"))
    return tuple(cells) or ((100, "track"),)


@dataclass(frozen=True)
class _Scale:
    """What fills a bar: the largest figure of any owner of the digest."""

    done: int
    due: int
    value: float

    @classmethod
    def of(cls, owners: Sequence[OwnerFigures]) -> _Scale:
        return cls(
            done=max(o.done for o in owners),
            due=max(max(o.today, o.overdue) for o in owners),
            value=max(o.overdue_value for o in owners),
        )


def _block(owner: OwnerFigures, view: DigestView, scale: _Scale, t: Strings) -> Block:
    done = t.number(owner.done)
    if owner.done:
        done = f"{done} ({_percent(owner.reached, owner.done, t)})"
    bars = (
        BarLine(
            t("bar_done"),
            bar_cells(
                [(owner.reached, "reached"), (owner.done - owner.reached, "missed")], scale.done
            ),
            done,
        ),
        BarLine(
            t("bar_today"), bar_cells([(owner.today, "today")], scale.due), t.number(owner.today)
        ),
        BarLine(
            t("bar_overdue"),
            bar_cells([(owner.overdue, "overdue")], scale.due),
            t.number(owner.overdue),
            "overdue" if owner.overdue else "",
        ),
        BarLine(
            t("bar_value"),
            bar_cells([(owner.overdue_value, "value")], scale.value),
            t.money(owner.overdue_value, view.currency),
        ),
    )
    lists = (
        (
            t("digest_overdue_list"),
            # Only the shown ones are worded: an owner may have thousands overdue.
            _capped(owner.late, t, lambda x: _late(x, t, view.today)),
            "overdue",
        ),
        (t("digest_died_list"), _capped(owner.died, t), "died"),
        (t("digest_won_list"), _capped(owner.won, t), "won"),
    )
    return Block(
        label=owner_label(owner, t, view.owners_tab),
        bars=bars,
        outcome=t("died_won", died=t.number(len(owner.died)), won=t.number(len(owner.won))),
        lists=tuple(item for item in lists if item[1]),
    )


def _late(item: Late, t: Strings, today: date) -> str:
    """'Acme Tools (9 days)': how late, as the owner's email says it."""
    return f"{item.company} ({t.count('days_late', (today - item.due).days)})"


_Item = TypeVar("_Item")


def _capped(
    items: Sequence[_Item], t: Strings, word: Callable[[_Item], str] = str
) -> tuple[str, ...]:
    """The first DIGEST_LIST_LENGTH items (as `word` puts them), then "and 4 more"."""
    shown = tuple(word(item) for item in items[:DIGEST_LIST_LENGTH])
    if len(items) <= DIGEST_LIST_LENGTH:
        return shown
    rest = len(items) - DIGEST_LIST_LENGTH
    return (*shown, t.count("more", rest))


@dataclass(frozen=True)
class FunnelLine:
    label: str
    cells: tuple[tuple[int, str], ...]
    #: "131 called · 58 reached · 40 interested · 8 won".
    figures: str


def _funnel(funnel: Funnel | None, t: Strings) -> list[FunnelLine]:
    """Each round as a bar as long as the prospects called in it: won, interested (not
    won), reached (not interested), not reached."""
    if funnel is None or not funnel.steps:
        return []
    largest = max(step.called for step in funnel.steps)
    lines = []
    for s in funnel.steps:
        parts = [
            (s.won, "won"),
            (s.interested - s.won, "interested"),
            (s.reached - s.interested, "reached"),
            (s.called - s.reached, "missed"),
        ]
        figures = t(
            "funnel_line",
            called=t.number(s.called),
            reached=t.number(s.reached),
            interested=t.number(s.interested),
            won=t.number(s.won),
        )
        lines.append(FunnelLine(s.label, bar_cells(parts, largest), figures))
    return lines


# --- Plain text ------------------------------------------------------------------------------


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns for a plain-text email: the first left-aligned, the others right-aligned."""
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest]).rstrip()

    return "\n".join(line(row) for row in [headers, *rows])


def text_bar(cells: Sequence[tuple[int, str]], width: int = TEXT_BAR_WIDTH) -> str:
    """A bar's cells in characters: solid for what got through, shaded for the rest."""
    out = ""
    for percent, kind in cells:
        if kind == "track":
            continue
        blocks = max(1, round(percent * width / 100))
        out += ("░" if kind == "missed" else "█") * blocks
    return out


def _team_table(view: DigestView, shown: Sequence[OwnerFigures], t: Strings) -> str:
    headers = ["owner", "done", "reach", "today", "overdue", "value", "died", "won"]
    rows = [
        [
            owner_label(o, t, view.owners_tab),
            t.number(o.done),
            _percent(o.reached, o.done, t),
            t.number(o.today),
            t.number(o.overdue),
            t.money(o.overdue_value, view.currency),
            t.number(len(o.died)),
            t.number(len(o.won)),
        ]
        for o in shown
    ]
    return text_table([t(f"col_{name}") for name in headers], rows)


def _funnel_table(funnel: Funnel | None, t: Strings) -> str:
    if funnel is None or not funnel.steps:
        return ""
    names = ("round", "called", "reached", "interested", "funnel_won")
    largest = max(step.called for step in funnel.steps)
    table = text_table(
        [t(f"col_{name}") for name in names],
        [
            [s.label, *(t.number(n) for n in (s.called, s.reached, s.interested, s.won))]
            for s in funnel.steps
        ],
    )
    lines = table.split("\n")
    width = max(len(line) for line in lines)
    bars = [""] + [
        text_bar(bar_cells([(s.reached, "reached"), (s.called - s.reached, "missed")], largest))
        for s in funnel.steps
    ]
    return "\n".join(
        f"{line.ljust(width)}  {bar}".rstrip() for line, bar in zip(lines, bars, strict=True)
    )
