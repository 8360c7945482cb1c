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
from sheetfollow.models import Computed, Outcome, Owner, Prospect, Stage, Status
from sheetfollow.vocab import normalise

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def fmt_day(day: date) -> str:
    """A date as people read it in a sentence: 'Tue 24 Nov 2026' (whatever the locale)."""
    return f"{_DAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]} {day.year}"


def _ago(today: date, day: date) -> str:
    days = (today - day).days
    return "1 day ago" if days == 1 else f"{days} days ago"


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
    if owner.away_until is None:
        return f"{owner.name} is away"
    return f"{owner.name} is away until {fmt_day(owner.away_until)}"


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
    note = away_note(owner, today)
    if cover is not None and not cover.away_on(today):
        why = f"{note}: {cover.name} covers. {computed.why}".strip()
        return replace(computed, why=why, assigned_to=cover.name)
    reason = f"{cover.name} (cover) is away too" if cover is not None else "no cover"
    return replace(computed, why=f"{note}; {reason}: it waits. {computed.why}".strip())


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
        tail = f" (and {more} more)" if more else ""
        text = f"{first.ref}: {first.message.rstrip('.')}"
        return Computed(None, Status.NEEDS_ATTENTION, "", f"Check {text}{tail}.", who)
    phase = _phase(prospect)
    if phase is None:
        return _pipeline(prospect, rules, calendar, today, who)
    if phase is Stage.NOT_INTERESTED:
        why = f"Not interested{_on(prospect)}; kept so it is never imported again."
        return Computed(None, Status.NOT_INTERESTED, "", why, who)
    if phase is Stage.LOST:
        return _lost(prospect, calendar, today, who)
    return _after_sale(phase, prospect, rules, calendar, today, who)


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


def _on(prospect: Prospect) -> str:
    return f" on {fmt_day(prospect.last_contact)}" if prospect.last_contact else ""


def _lost(prospect: Prospect, calendar: BusinessCalendar, today: date, who: str) -> Computed:
    revisit = _hand_set(prospect, calendar)
    if revisit is None:
        return Computed(None, Status.LOST, "", f"Lost{_on(prospect)}; no revisit date set.", who)
    if revisit > today:
        why = f"Lost{_on(prospect)}; revisit on {fmt_day(revisit)}."
        return Computed(revisit, Status.LOST, "revisit", why, who)
    status, when = _when("Revisit", revisit, today)
    return Computed(revisit, status, "revisit", f"{when}: lost, with a revisit date set.", who)


def _when(what: str, day: date, today: date) -> tuple[Status, str]:
    """Status and the first half of a Why: 'Attempt 2 was due Fri 20 Nov 2026 (3 days ago)'."""
    if day > today:
        return Status.SCHEDULED, f"{what} on {fmt_day(day)}"
    if day == today:
        return Status.DUE, f"{what} is due today"
    return Status.OVERDUE, f"{what} was due {fmt_day(day)} ({_ago(today, day)})"


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
        why = f"Won{_on(prospect)}: send a thank-you by {fmt_day(day)}."
        return Computed(day, Status.WON, "thank-you", why, who)
    if phase is Stage.WON:
        if hand_set is not None:
            why = f"Won; follow-up set by hand for {fmt_day(hand_set)}."
            return Computed(hand_set, Status.WON, "follow-up", why, who)
        return Computed(None, Status.WON, "", "Won; waiting for delivery.", who)
    if outcome is Outcome.DELIVERED:
        day = hand_set or _after_touch(prospect, calendar, today, rules.checkin_days)
        why = f"Delivered{_on(prospect)}: check-in call on {fmt_day(day)}."
        return Computed(day, Status.CUSTOMER, "check-in", why, who)
    return _customer(prospect, rules, calendar, who, hand_set)


#: The after-sale step pending in each phase: its Step, how a Why names its call, its status.
_PENDING = {
    Stage.WON: ("thank-you", "Thank-you call", Status.WON),
    Stage.DELIVERED: ("check-in", "Check-in call", Status.CUSTOMER),
    Stage.CUSTOMER: ("review", "Review call", Status.CUSTOMER),
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
        tail = f", the last on {fmt_day(last)}" if last else ""
        why = f"{call} given up after {_count(unanswered, 'unanswered call')}{tail}"
        review = _next_review(prospect, rules, calendar) if status is Status.CUSTOMER else None
        if review is None:
            return Computed(None, status, "", f"{why}.", who)
        return Computed(
            review, status, "review", f"{why}; next account review on {fmt_day(review)}.", who
        )
    gap = max(_gap(cadence, unanswered), 1)
    if unanswered >= rules.min_gap_after:
        gap = max(gap, rules.min_gap)
    day = _after_touch(prospect, calendar, today, gap)
    _, when = _when(f"{call} again", day, today)
    tried = f"the one on {fmt_day(last)}" if last else "the last one"
    heard = "went to voicemail" if outcome is Outcome.VOICEMAIL else "got no answer"
    why = f"{when}: {tried} {heard} (attempt {unanswered} of {limit})."
    return Computed(day, status, step, why, who)


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
        why = f"Customer; follow-up set by hand for {fmt_day(hand_set)}."
        return Computed(hand_set, Status.CUSTOMER, "follow-up", why, who)
    day = _next_review(prospect, rules, calendar)
    if day is None:
        return Computed(None, Status.CUSTOMER, "", "Customer; no periodic review set.", who)
    every = "every month" if rules.review_months == 1 else f"every {rules.review_months} months"
    why = f"Customer: account review {every}, next {fmt_day(day)}."
    return Computed(day, Status.CUSTOMER, "review", why, who)


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
            why = f"Snoozed until {fmt_day(hand_set)}: a follow-up date was set by hand."
            return Computed(hand_set, Status.SNOOZED, step, why, who)
        status, when = _when("Follow-up", hand_set, today)
        return Computed(hand_set, status, step, f"{when}: a date set by hand.", who)

    if prospect.last_contact is None:
        return _new_lead(prospect, cadence, calendar, today, who, step)

    dead_why = _dead(prospect, rules, today, unanswered, limit)
    if dead_why is not None:
        return Computed(None, Status.DEAD, f"{unanswered} of {limit}", dead_why, who)

    gap, what, because = _next_gap(outcome, prospect, rules, cadence, unanswered)
    day = calendar.add_business_days(prospect.last_contact, gap)
    status, when = _when(what, day, today)
    return Computed(day, status, step, f"{when}: {because}.", who)


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
    status, when = _when("First call", day, today)
    if status is not Status.OVERDUE:
        status = Status.NEW
    return Computed(day, status, step, f"{when}: a new lead from {fmt_day(created)}.", who)


def _dead(prospect: Prospect, rules: Rules, today: date, unanswered: int, limit: int) -> str | None:
    if unanswered < rules.min_attempts:
        return None
    if unanswered >= limit:
        last = prospect.last_contact
        tail = f", the last on {fmt_day(last)}" if last else ""
        return f"Dead: {_count(unanswered, 'attempt')} without an answer{tail}."
    # The row does not say when the unanswered run began, so the window counts from the
    # last touch: a prospect nobody has reached, and nobody has tried for window_days, is dead.
    since = prospect.last_contact or prospect.created
    if since is not None and (today - since).days > rules.window_days:
        return (
            f"Dead: no progress for {(today - since).days} days since {fmt_day(since)} "
            f"(the limit is {rules.window_days})."
        )
    return None


def _count(n: int, word: str) -> str:
    return f"1 {word}" if n == 1 else f"{n} {word}s"


def _next_gap(
    outcome: Outcome | None,
    prospect: Prospect,
    rules: Rules,
    cadence: Cadence,
    unanswered: int,
) -> tuple[int, str, str]:
    """Business days from the last contact to the next touch, what that touch is, and why."""
    last = fmt_day(prospect.last_contact) if prospect.last_contact else "the last contact"
    if outcome is Outcome.INTERESTED:
        return 0, "Quote", f"interested on {last}, so the quote goes out the same day"
    if outcome is Outcome.QUOTE_SENT:
        gap = rules.quote_follow_up
        return gap, "Quote follow-up", f"{_days(gap)} after the quote sent on {last}"
    if outcome in (Outcome.REACHED, Outcome.CALL_BACK):
        gap = rules.reached_follow_up
        return gap, "Next touch", f"{_days(gap)} after talking on {last} without a decision"
    gap = _gap(cadence, unanswered)
    if unanswered >= rules.min_gap_after:
        gap = max(gap, rules.min_gap)
    heard = outcome.value if outcome is not None else "touch"
    return gap, f"Attempt {unanswered + 1}", f"{_days(gap)} after the {heard} on {last}"


def _days(n: int) -> str:
    return "1 business day" if n == 1 else f"{n} business days"
