"""The cadence engine: (prospect, rules, calendar, today) -> the owned columns. Pure.

The rules, in the order they are applied (DESIGN.md §3):

1. A row with problems (a date that is not a date, an unknown outcome, no owner ...) needs
   attention. Its Why names the first problem's cell; nothing else is computed.
   Then the row's phase: the last outcome decides when it is not interested, lost, won or
   delivered (it is the newest fact); otherwise a closed Stage a person set decides;
   otherwise the row is in the active pipeline (5).
2. Not interested is terminal: no follow-up ever; the row is kept for suppression.
3. Lost is terminal too, unless the row carries a revisit date in Follow up on: then that
   date (rolled to a working day) is its next follow-up; the status stays lost until the
   date comes and is due/overdue from then on.
4. After the sale: a win asks for a thank-you `thank_you_days` after the win; a delivery
   asks for a check-in call `checkin_days` later; once that touch is made the row is a
   customer, reviewed every `review_months` (0: never). A Follow up on date set after the
   last contact replaces these dates. The status is won or customer, never due/overdue:
   the touch still shows on the call list through `Computed.is_due`.
   An unanswered last outcome (no answer, voicemail) means the pending step was tried but
   not made. An unanswered call leaves the Stage as it is, so the Stage says which step:
   the thank-you of a won row, the check-in of a delivered row, the review of a customer
   when `review_months` > 0 (a customer without reviews has no step to retry). The step
   keeps its Step and is tried again after the cadence gap for the unanswered attempts
   so far (Attempts, at least 1), as in 5d: at least 1 business day, and at least
   `min_gap` once `min_gap_after` attempts were made, counted in business days from the
   last contact. After `max_attempts` unanswered attempts the step is given up: a won row
   has no follow-up; a customer's review cycle resumes from the last contact (none when
   `review_months` is 0). A Follow up on date set after the last contact still wins.
5. The active pipeline:
   a. A Follow up on date after the last contact (typed by a person, or set by `mark`
      with call back / --on / --in) wins over the cadence: snoozed until then, due on it.
   b. A lead never contacted is due `gaps[0]` business days after Created (0: the same
      business day); status new, or overdue once that day has passed.
   c. Dead: after `max_attempts` unanswered attempts, or when nothing moved for
      `window_days` since the last contact, but never before `min_attempts` unanswered
      attempts. Dead rows come back to life when a contact gets through (an answered
      outcome resets the attempt count).
   d. Otherwise the next touch depends on the last outcome: interested -> the same
      business day (send the quote); quote sent -> `quote_follow_up` business days;
      reached -> `reached_follow_up` business days; no answer / voicemail / nothing ->
      the cadence gap after the attempts made so far. Once `min_gap_after` attempts
      were made, no gap is shorter than `min_gap` business days.
   e. Status: overdue before today, due today, scheduled after.

Every date lands on a working day of the owner's calendar. Delegation: a prospect worth
less than `delegate_below` is assigned to the owner's delegate.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from sheetfollow.calendar import BusinessCalendar
from sheetfollow.config import Cadence, Rules
from sheetfollow.i18n import R_, Reason, Rn_, Why, why
from sheetfollow.models import Computed, Outcome, Owner, Prospect, Stage, Status
from sheetfollow.vocab import normalise

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def fmt_day(day: date) -> str:
    """A date as people read it in a sentence: 'Tue 24 Nov 2026' (whatever the locale)."""
    return f"{_DAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]} {day.year}"


def _ago(today: date, day: date) -> Reason:
    days = (today - day).days
    return Rn_("%(n)s day ago", "%(n)s days ago", days)


def cadence_for(prospect: Prospect, rules: Rules) -> Cadence:
    """The profile of the row's segment (and stage, when a 'segment/stage' profile exists)."""
    segment = prospect.segment.strip().casefold()
    keys = []
    if prospect.stage is not None:
        keys.append(f"{segment}/{prospect.stage.value}")
    keys += [segment, "default"]
    for key in keys:
        if key in rules.cadences:
            return rules.cadences[key]
    return Cadence()


def max_attempts_for(cadence: Cadence, rules: Rules) -> int:
    return cadence.max_attempts or rules.max_attempts


def _gap(cadence: Cadence, attempts_made: int) -> int:
    gaps = cadence.gaps
    return gaps[min(attempts_made, len(gaps) - 1)]


def assigned_to(prospect: Prospect, owner: Owner | None, rules: Rules) -> str:
    if (
        rules.delegate_below is not None
        and prospect.value is not None
        and prospect.value < rules.delegate_below
        and owner is not None
        and owner.delegate
    ):
        return owner.delegate
    return prospect.owner


def away_note(owner: Owner, today: date) -> str:
    """'Anna is away until Fri 11 Dec 2026' (or 'Anna is away' for a leave without an end)."""
    return str(_away(owner))


def _away(owner: Owner) -> Reason:
    if owner.away_until is None:
        return R_("%(name)s is away", name=owner.name)
    return R_("%(name)s is away until %(day)s", name=owner.name, day=owner.away_until)


def cover_note(owner: Owner, cover: Owner, today: date) -> Reason:
    """What a covered row's Why starts with: 'Anna is away until Fri 11 Dec 2026: Bert
    covers.'"""
    return R_("%(away)s: %(cover)s covers.", away=_away(owner), cover=cover.name)


def with_leave(
    computed: Computed,
    prospect: Prospect,
    owner: Owner | None,
    cover: Owner | None,
    today: date,
) -> Computed:
    """A due row of an owner away today goes to their cover (DESIGN.md §9): Assigned to is
    the cover and the Why says so. Without a cover (none set, or the cover is away too)
    the row stays with the owner and waits: due, then overdue, until they are back.
    Rows delegated to someone else, and rows not due today, are left as they are."""
    if owner is None or not owner.away_on(today) or not computed.is_due(today):
        return computed
    if normalise(computed.assigned_to) != normalise(prospect.owner):
        return computed
    if cover is not None and not cover.away_on(today):
        covered = why(cover_note(owner, cover, today), computed.why)
        return replace(computed, why=covered, assigned_to=cover.name)
    if cover is not None:
        note = R_(
            "%(away)s; %(cover)s (cover) is away too: it waits.",
            away=_away(owner),
            cover=cover.name,
        )
    else:
        note = R_("%(away)s; no cover: it waits.", away=_away(owner))
    return replace(computed, why=why(note, computed.why))


def compute(
    prospect: Prospect,
    *,
    rules: Rules,
    calendar: BusinessCalendar,
    today: date,
    owner: Owner | None = None,
) -> Computed:
    """The owned columns for one row. Deterministic: the same inputs give the same output."""
    who = assigned_to(prospect, owner, rules)
    if prospect.problems:
        first = prospect.problems[0]
        more = len(prospect.problems) - 1
        # The problem itself is in the words of the check that found it: a reason (in the
        # team's language where the sheet is written) or a plain text.
        problem = _problem(first.message)
        if more:
            check = Rn_(
                "Check %(cell)s: %(problem)s (and %(n)s more).",
                "Check %(cell)s: %(problem)s (and %(n)s more).",
                more,
                cell=first.ref,
                problem=problem,
            )
        else:
            check = R_("Check %(cell)s: %(problem)s.", cell=first.ref, problem=problem)
        return Computed(None, Status.NEEDS_ATTENTION, "", why(check), who)
    phase = _phase(prospect)
    if phase is None:
        return _pipeline(prospect, rules, calendar, today, who)
    if phase is Stage.NOT_INTERESTED:
        kept = _dated(
            prospect,
            R_("Not interested; kept so it is never imported again."),
            R_("Not interested on %(day)s; kept so it is never imported again."),
        )
        return Computed(None, Status.NOT_INTERESTED, "", why(kept), who)
    if phase is Stage.LOST:
        return _lost(prospect, calendar, today, who)
    return _after_sale(phase, prospect, rules, calendar, today, who)


def _problem(message: str) -> Reason | str:
    """A problem's message as a Why's value: its reason when it is one (schema.py's), else
    its text without the closing full stop (the Why adds its own)."""
    if type(message) is Why and not message.endswith("."):
        parts = message.parts
        if len(parts) == 1 and type(parts[0]) is Reason:
            return parts[0]
    return message.rstrip(".")


#: Outcomes that settle where a prospect stands, whatever its Stage cell still says.
_OUTCOME_PHASE = {
    Outcome.NOT_INTERESTED: Stage.NOT_INTERESTED,
    Outcome.LOST: Stage.LOST,
    Outcome.WON: Stage.WON,
    Outcome.DELIVERED: Stage.DELIVERED,
}
_CLOSED_STAGES = frozenset(
    {Stage.NOT_INTERESTED, Stage.LOST, Stage.WON, Stage.DELIVERED, Stage.CUSTOMER}
)

# What compute() reads of a row, for callers that share its result between rows with the
# same inputs (service.ComputeMemo): the Stage only when it is one of these (else only
# through cadence_for) ...
CLOSED_STAGES = _CLOSED_STAGES
#: ... and Attempts only after one of these last outcomes (an answered one resets the count).
COUNTING_OUTCOMES: frozenset[Outcome | None] = frozenset(
    {None, Outcome.NO_ANSWER, Outcome.VOICEMAIL}
)


def _phase(prospect: Prospect) -> Stage | None:
    """Where the row stands once out of the pipeline, or None while it is in it.

    The latest outcome decides (it is the newest fact); otherwise a closed stage a person
    set does.
    """
    if prospect.last_outcome in _OUTCOME_PHASE:
        return _OUTCOME_PHASE[prospect.last_outcome]
    if prospect.stage in _CLOSED_STAGES:
        return prospect.stage
    return None


def _hand_set(prospect: Prospect, calendar: BusinessCalendar) -> date | None:
    """A Follow up on date that counts: one after the last contact, on a working day."""
    chosen = prospect.follow_up_on
    if chosen is None or (prospect.last_contact is not None and chosen <= prospect.last_contact):
        return None
    return calendar.roll_forward(chosen)


def _dated(prospect: Prospect, undated: Reason, dated: Reason) -> Reason:
    """`dated` with the last contact as its %(day)s, or `undated` when there is none."""
    if prospect.last_contact is None:
        return undated
    return Reason(dated.code, (*dated.values, ("day", prospect.last_contact)))


def _lost(prospect: Prospect, calendar: BusinessCalendar, today: date, who: str) -> Computed:
    revisit = _hand_set(prospect, calendar)
    if revisit is None:
        lost = _dated(
            prospect,
            R_("Lost; no revisit date set."),
            R_("Lost on %(day)s; no revisit date set."),
        )
        return Computed(None, Status.LOST, "", why(lost), who)
    if revisit > today:
        later = _dated(
            prospect,
            R_("Lost; revisit on %(revisit)s.", revisit=revisit),
            R_("Lost on %(day)s; revisit on %(revisit)s.", revisit=revisit),
        )
        return Computed(revisit, Status.LOST, "revisit", why(later), who)
    status, when = _when(R_("Revisit"), revisit, today)
    because = R_("%(when)s: lost, with a revisit date set.", when=when)
    return Computed(revisit, status, "revisit", why(because), who)


def _when(what: Reason, day: date, today: date) -> tuple[Status, Reason]:
    """Status and the first half of a Why: 'Attempt 2 was due Fri 20 Nov 2026 (3 days ago)'."""
    if day > today:
        return Status.SCHEDULED, R_("%(what)s on %(day)s", what=what, day=day)
    if day == today:
        return Status.DUE, R_("%(what)s is due today", what=what)
    return Status.OVERDUE, R_(
        "%(what)s was due %(day)s (%(ago)s)", what=what, day=day, ago=_ago(today, day)
    )


def _after_touch(prospect: Prospect, calendar: BusinessCalendar, today: date, days: int) -> date:
    """days business days after the last contact (or Created); today when neither is known."""
    base = prospect.last_contact or prospect.created
    if base is None:
        return calendar.roll_forward(today)
    return calendar.add_business_days(base, days)


def _after_sale(
    phase: Stage,
    prospect: Prospect,
    rules: Rules,
    calendar: BusinessCalendar,
    today: date,
    who: str,
) -> Computed:
    hand_set = _hand_set(prospect, calendar)
    outcome = prospect.last_outcome
    if hand_set is None and outcome is not None and outcome.unanswered:
        retry = _retry(phase, outcome, prospect, rules, calendar, today, who)
        if retry is not None:
            return retry
    if phase is Stage.WON and outcome is Outcome.WON:
        day = hand_set or _after_touch(prospect, calendar, today, rules.thank_you_days)
        thanks = _dated(
            prospect,
            R_("Won: send a thank-you by %(by)s.", by=day),
            R_("Won on %(day)s: send a thank-you by %(by)s.", by=day),
        )
        return Computed(day, Status.WON, "thank-you", why(thanks), who)
    if phase is Stage.WON:
        if hand_set is not None:
            by_hand = R_("Won; follow-up set by hand for %(day)s.", day=hand_set)
            return Computed(hand_set, Status.WON, "follow-up", why(by_hand), who)
        return Computed(None, Status.WON, "", why(R_("Won; waiting for delivery.")), who)
    if outcome is Outcome.DELIVERED:
        day = hand_set or _after_touch(prospect, calendar, today, rules.checkin_days)
        check_in = _dated(
            prospect,
            R_("Delivered: check-in call on %(call)s.", call=day),
            R_("Delivered on %(day)s: check-in call on %(call)s.", call=day),
        )
        return Computed(day, Status.CUSTOMER, "check-in", why(check_in), who)
    return _customer(prospect, rules, calendar, who, hand_set)


#: The after-sale step pending in each phase: its Step, how a Why names its call, its status.
_PENDING = {
    Stage.WON: ("thank-you", R_("Thank-you call"), Status.WON),
    Stage.DELIVERED: ("check-in", R_("Check-in call"), Status.CUSTOMER),
    Stage.CUSTOMER: ("review", R_("Review call"), Status.CUSTOMER),
}


def _retry(
    phase: Stage,
    outcome: Outcome,
    prospect: Prospect,
    rules: Rules,
    calendar: BusinessCalendar,
    today: date,
    who: str,
) -> Computed | None:
    """The pending after-sale step again after an unanswered attempt at it (rule 4), or
    None when the phase has no step pending (a customer without periodic reviews)."""
    if phase not in _PENDING or (phase is Stage.CUSTOMER and rules.review_months <= 0):
        return None
    step, call, status = _PENDING[phase]
    cadence = cadence_for(prospect, rules)
    limit = max_attempts_for(cadence, rules)
    unanswered = max(prospect.attempts, 1)
    last = prospect.last_contact
    if unanswered >= limit:
        if last:
            given_up = Rn_(
                "%(call)s given up after %(n)s unanswered call, the last on %(day)s",
                "%(call)s given up after %(n)s unanswered calls, the last on %(day)s",
                unanswered,
                call=call,
                day=last,
            )
        else:
            given_up = Rn_(
                "%(call)s given up after %(n)s unanswered call",
                "%(call)s given up after %(n)s unanswered calls",
                unanswered,
                call=call,
            )
        review = _next_review(prospect, rules, calendar) if status is Status.CUSTOMER else None
        if review is None:
            return Computed(None, status, "", why(R_("%(why)s.", why=given_up)), who)
        next_review = R_("%(why)s; next account review on %(day)s.", why=given_up, day=review)
        return Computed(review, status, "review", why(next_review), who)
    gap = max(_gap(cadence, unanswered), 1)
    if unanswered >= rules.min_gap_after:
        gap = max(gap, rules.min_gap)
    day = _after_touch(prospect, calendar, today, gap)
    _, when = _when(R_("%(call)s again", call=call), day, today)
    voicemail = outcome is Outcome.VOICEMAIL
    if last and voicemail:
        tried = R_("the one on %(day)s went to voicemail", day=last)
    elif last:
        tried = R_("the one on %(day)s got no answer", day=last)
    elif voicemail:
        tried = R_("the last one went to voicemail")
    else:
        tried = R_("the last one got no answer")
    again = R_(
        "%(when)s: %(tried)s (attempt %(attempt)s of %(limit)s).",
        when=when,
        tried=tried,
        attempt=unanswered,
        limit=limit,
    )
    return Computed(day, status, step, why(again), who)


def _next_review(prospect: Prospect, rules: Rules, calendar: BusinessCalendar) -> date | None:
    """`review_months` after the last contact, on a working day; None without reviews."""
    if rules.review_months <= 0 or prospect.last_contact is None:
        return None
    return calendar.roll_forward(_add_months(prospect.last_contact, rules.review_months))


def _customer(
    prospect: Prospect,
    rules: Rules,
    calendar: BusinessCalendar,
    who: str,
    hand_set: date | None,
) -> Computed:
    if hand_set is not None:
        by_hand = R_("Customer; follow-up set by hand for %(day)s.", day=hand_set)
        return Computed(hand_set, Status.CUSTOMER, "follow-up", why(by_hand), who)
    day = _next_review(prospect, rules, calendar)
    if day is None:
        no_review = why(R_("Customer; no periodic review set."))
        return Computed(None, Status.CUSTOMER, "", no_review, who)
    review = Rn_(
        "Customer: account review every month, next %(day)s.",
        "Customer: account review every %(n)s months, next %(day)s.",
        rules.review_months,
        day=day,
    )
    return Computed(day, Status.CUSTOMER, "review", why(review), who)


def _add_months(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    for dom in (day.day, 30, 29, 28):
        try:
            return date(year, month, dom)
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has 28 days")


def _pipeline(
    prospect: Prospect, rules: Rules, calendar: BusinessCalendar, today: date, who: str
) -> Computed:
    cadence = cadence_for(prospect, rules)
    limit = max_attempts_for(cadence, rules)
    outcome = prospect.last_outcome
    # Only unanswered touches count towards dying; a conversation starts the count afresh.
    unanswered = 0
    if outcome is None or outcome.unanswered:
        # A logged contact is at least one attempt, even when nobody bumped Attempts.
        unanswered = max(prospect.attempts, 1 if prospect.last_contact else 0)
    step = f"{min(unanswered + 1, limit)} of {limit}"

    hand_set = _hand_set(prospect, calendar)
    if hand_set is not None:
        if hand_set > today:
            snoozed = R_("Snoozed until %(day)s: a follow-up date was set by hand.", day=hand_set)
            return Computed(hand_set, Status.SNOOZED, step, why(snoozed), who)
        status, when = _when(R_("Follow-up"), hand_set, today)
        by_hand = R_("%(when)s: a date set by hand.", when=when)
        return Computed(hand_set, status, step, why(by_hand), who)

    if prospect.last_contact is None:
        return _new_lead(prospect, cadence, calendar, today, who, step)

    dead_why = _dead(prospect, rules, today, unanswered, limit)
    if dead_why is not None:
        return Computed(None, Status.DEAD, f"{unanswered} of {limit}", dead_why, who)

    gap, what, because = _next_gap(outcome, prospect, rules, cadence, unanswered)
    day = calendar.add_business_days(prospect.last_contact, gap)
    status, when = _when(what, day, today)
    next_touch = R_("%(when)s: %(because)s.", when=when, because=because)
    return Computed(day, status, step, why(next_touch), who)


def _new_lead(
    prospect: Prospect,
    cadence: Cadence,
    calendar: BusinessCalendar,
    today: date,
    who: str,
    step: str,
) -> Computed:
    created = prospect.created or today
    day = calendar.add_business_days(created, cadence.gaps[0])
    status, when = _when(R_("First call"), day, today)
    if status is not Status.OVERDUE:
        status = Status.NEW
    lead = R_("%(when)s: a new lead from %(day)s.", when=when, day=created)
    return Computed(day, status, step, why(lead), who)


def _dead(prospect: Prospect, rules: Rules, today: date, unanswered: int, limit: int) -> str | None:
    if unanswered < rules.min_attempts:
        return None
    if unanswered >= limit:
        last = prospect.last_contact
        if last:
            return why(
                Rn_(
                    "Dead: %(n)s attempt without an answer, the last on %(day)s.",
                    "Dead: %(n)s attempts without an answer, the last on %(day)s.",
                    unanswered,
                    day=last,
                )
            )
        return why(
            Rn_(
                "Dead: %(n)s attempt without an answer.",
                "Dead: %(n)s attempts without an answer.",
                unanswered,
            )
        )
    # The row does not say when the unanswered run began, so the window counts from the
    # last touch: a prospect nobody has reached, and nobody has tried for window_days, is dead.
    since = prospect.last_contact or prospect.created
    if since is not None and (today - since).days > rules.window_days:
        return why(
            Rn_(
                "Dead: no progress for %(n)s day since %(day)s (the limit is %(limit)s).",
                "Dead: no progress for %(n)s days since %(day)s (the limit is %(limit)s).",
                (today - since).days,
                day=since,
                limit=rules.window_days,
            )
        )
    return None


def _next_gap(
    outcome: Outcome | None,
    prospect: Prospect,
    rules: Rules,
    cadence: Cadence,
    unanswered: int,
) -> tuple[int, Reason, Reason]:
    """Business days from the last contact to the next touch, what that touch is, and why."""
    last: Reason | date = prospect.last_contact or R_("the last contact")
    if outcome is Outcome.INTERESTED:
        return (
            0,
            R_("Quote"),
            R_("interested on %(day)s, so the quote goes out the same day", day=last),
        )
    if outcome is Outcome.QUOTE_SENT:
        gap = rules.quote_follow_up
        after = Rn_(
            "%(n)s business day after the quote sent on %(day)s",
            "%(n)s business days after the quote sent on %(day)s",
            gap,
            day=last,
        )
        return gap, R_("Quote follow-up"), after
    if outcome in (Outcome.REACHED, Outcome.CALL_BACK):
        gap = rules.reached_follow_up
        after = Rn_(
            "%(n)s business day after talking on %(day)s without a decision",
            "%(n)s business days after talking on %(day)s without a decision",
            gap,
            day=last,
        )
        return gap, R_("Next touch"), after
    gap = _gap(cadence, unanswered)
    if unanswered >= rules.min_gap_after:
        gap = max(gap, rules.min_gap)
    attempt = R_("Attempt %(attempt)s", attempt=unanswered + 1)
    if outcome is None:
        after = Rn_(
            "%(n)s business day after the touch on %(day)s",
            "%(n)s business days after the touch on %(day)s",
            gap,
            day=last,
        )
    elif outcome is Outcome.VOICEMAIL:
        after = Rn_(
            "%(n)s business day after the voicemail on %(day)s",
            "%(n)s business days after the voicemail on %(day)s",
            gap,
            day=last,
        )
    else:
        # No answer: every other outcome was decided above (or by the row's phase).
        after = Rn_(
            "%(n)s business day after the no answer on %(day)s",
            "%(n)s business days after the no answer on %(day)s",
            gap,
            day=last,
        )
    return gap, attempt, after
