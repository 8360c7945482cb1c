"""The fixed texts of the emails (owner's call list and manager's digest), by key.

Each text is marked for `pybabel extract` with its key as the gettext context, so the same
English word in two places ("Overdue" as a heading and as a column) can have two
translations. The translations live in sheetfollow/locale/<lang>/LC_MESSAGES/sheetfollow.po;
render.Strings looks them up. Placeholders are python-format: %(name)s.
"""

from __future__ import annotations

from collections.abc import Mapping

from sheetfollow.i18n import P_, Pn_

#: key -> English text, or (singular, plural) for a text with plural forms.
MESSAGES: Mapping[str, str | tuple[str, str]] = {
    "greeting": P_("greeting", "Good morning %(name)s,"),
    "greeting_anonymous": P_("greeting_anonymous", "Good morning,"),
    "intro": P_("intro", "Here are your follow-ups for %(day)s."),
    "section_first": P_("section_first", "First: promised and same-day calls"),
    "section_overdue": P_("section_overdue", "Overdue"),
    "section_today": P_("section_today", "Due today"),
    "section_coming": P_("section_coming", "Coming days"),
    "for_owner": P_("for_owner", "for %(owner)s"),
    "attempt": P_("attempt", "Attempt %(k)s of %(n)s"),
    "step_thank_you": P_("step_thank_you", "Thank-you after the sale"),
    "step_check_in": P_("step_check_in", "Check-in after delivery"),
    "step_review": P_("step_review", "Account review"),
    "step_follow_up": P_("step_follow_up", "Follow-up set by hand"),
    "step_revisit": P_("step_revisit", "Another try at a lost deal"),
    "label_phone": P_("label_phone", "Phone"),
    "label_email": P_("label_email", "Email"),
    "label_value": P_("label_value", "Value"),
    "label_channel": P_("label_channel", "Channel"),
    "label_note": P_("label_note", "Note"),
    "label_why": P_("label_why", "Why"),
    "label_record": P_("label_record", "Record the outcome"),
    "due_since": P_("due_since", "Due since %(day)s (%(days)s)"),
    "last_contact": P_("last_contact", "Last contact: %(outcome)s on %(day)s"),
    "last_contact_day": P_("last_contact_day", "Last contact: %(day)s"),
    "no_contact_yet": P_("no_contact_yet", "No contact yet"),
    "placeholder": P_("placeholder", "outcome"),
    "outcomes_help": P_(
        "outcomes_help",
        "After each call, replace <%(placeholder)s> with what happened: %(outcomes)s. For a call "
        "back, add when: call-back --in 2w.",
    ),
    "calendar_note": P_(
        "calendar_note",
        "The attached calendar file puts today's calls in your calendar, in 15-minute slots from "
        "%(start)s.",
    ),
    "footer": P_("footer", "Sent by sheetfollow from %(sheet)s."),
    "summary_call": P_("summary_call", "Call %(company)s"),
    "summary_email": P_("summary_email", "Email %(company)s"),
    "summary_visit": P_("summary_visit", "Visit %(company)s"),
    "summary": P_("summary", "%(counts)s; start with %(company)s"),
    "summary_late": Pn_(
        "summary_late",
        "%(n)s day overdue",
        "%(n)s days overdue",
    ),
    "step_first_call": P_("step_first_call", "First call"),
    "step_send_quote": P_("step_send_quote", "Send the quote"),
    "step_quote_follow_up": P_("step_quote_follow_up", "Follow up on the quote"),
    "step_quote_attempt": P_(
        "step_quote_attempt",
        "Follow up on the quote (attempt %(k)s of %(n)s)",
    ),
    "step_after_talk": P_("step_after_talk", "Follow up on the last conversation"),
    "step_call_back": P_("step_call_back", "Call back as agreed"),
    "buttons_help": P_(
        "buttons_help",
        "After a call, tap what happened and send the email that opens: sheetfollow records it. A"
        " note may go in that email.",
    ),
    "reply_subject": P_("reply_subject", "%(id)s · %(company)s: %(outcome)s"),
    "reply_note": P_("reply_note", "Note:"),
    "recorded_heading": P_("recorded_heading", "Recorded from your replies since the last list:"),
    "recorded_line": P_("recorded_line", "%(company)s: %(outcome)s (%(day)s)"),
    "call_back_in": P_("call_back_in", "Call back in"),
    "reply_call_back": P_("reply_call_back", "Call back in %(delay)s"),
    "delay_1w": P_("delay_1w", "1 week"),
    "delay_2w": P_("delay_2w", "2 weeks"),
    "delay_1m": P_("delay_1m", "1 month"),
    "open_sheet": P_("open_sheet", "Open the sheet"),
    "text_buttons": P_(
        "text_buttons",
        "The HTML version of this email has a button for each outcome: one tap records it.",
    ),
    "subject_today": Pn_(
        "subject_today",
        "%(n)s follow-up today",
        "%(n)s follow-ups today",
    ),
    "subject_overdue": Pn_(
        "subject_overdue",
        "%(n)s overdue",
        "%(n)s overdue",
    ),
    "days_late": Pn_(
        "days_late",
        "%(n)s day",
        "%(n)s days",
    ),
    "more": Pn_(
        "more",
        "and %(n)s more",
        "and %(n)s more",
    ),
    "more_in_sheet": Pn_(
        "more_in_sheet",
        "and %(n)s more: see the sheet",
        "and %(n)s more: see the sheet",
    ),
    "digest_subject": P_("digest_subject", "Team follow-ups: %(due)s, %(overdue)s"),
    "digest_subject_attention": P_(
        "digest_subject_attention",
        "Team follow-ups: %(due)s, %(overdue)s, %(attention)s",
    ),
    "digest_due": Pn_(
        "digest_due",
        "%(n)s due today",
        "%(n)s due today",
    ),
    "digest_overdue": Pn_(
        "digest_overdue",
        "%(n)s overdue",
        "%(n)s overdue",
    ),
    "digest_attention": Pn_(
        "digest_attention",
        "%(n)s needs attention",
        "%(n)s need attention",
    ),
    "digest_intro": P_("digest_intro", "The team's follow-ups for %(day)s."),
    "digest_team": P_("digest_team", "Per owner"),
    "col_owner": P_("col_owner", "Owner"),
    "col_today": P_("col_today", "Today"),
    "col_overdue": P_("col_overdue", "Overdue"),
    "col_done": P_("col_done", "Done"),
    "col_died": P_("col_died", "Died"),
    "col_won": P_("col_won", "Won"),
    "digest_overdue_list": P_("digest_overdue_list", "Overdue"),
    "digest_died_list": P_("digest_died_list", "Died"),
    "digest_won_list": P_("digest_won_list", "Won"),
    "digest_nothing": P_("digest_nothing", "Nothing overdue, nothing died and nothing won."),
    "funnel_title": P_("funnel_title", "Funnel per calling round"),
    "funnel_cohort": Pn_(
        "funnel_cohort",
        "%(n)s prospect first called since %(day)s",
        "%(n)s prospects first called since %(day)s",
    ),
    "col_round": P_("col_round", "Round"),
    "col_called": P_("col_called", "Called"),
    "col_reached": P_("col_reached", "Reached"),
    "col_interested": P_("col_interested", "Interested"),
    "col_funnel_won": P_("col_funnel_won", "Won"),
    "attention_title": P_("attention_title", "Needs attention"),
    "attention_none": P_("attention_none", "No row needs attention."),
    "digest_period": P_(
        "digest_period",
        "Done, died and won: since your previous digest, %(span)s.",
    ),
    "digest_period_first": P_(
        "digest_period_first",
        "Done, died and won: the last %(days)s, %(span)s (your first digest).",
    ),
    "day_range": P_("day_range", "%(first)s to %(last)s"),
    "days": Pn_(
        "days",
        "%(n)s day",
        "%(n)s days",
    ),
    "col_reach": P_("col_reach", "Reached"),
    "col_value": P_("col_value", "Overdue value"),
    "bar_done": P_("bar_done", "Calls done"),
    "bar_today": P_("bar_today", "Due today"),
    "bar_overdue": P_("bar_overdue", "Overdue"),
    "bar_value": P_("bar_value", "Overdue value"),
    "legend_reached": P_("legend_reached", "Reached"),
    "legend_missed": P_("legend_missed", "Not reached"),
    "died_won": P_("died_won", "Died: %(died)s · Won: %(won)s"),
    "no_owner": P_("no_owner", "No owner"),
    "role_manager": P_("role_manager", "manager"),
    "role_unlisted": P_("role_unlisted", "not in the %(tab)s tab"),
    "role_unmanaged": P_("role_unmanaged", "no manager with a digest"),
    "outside_title": P_("outside_title", "Outside the teams"),
    "outside_intro": P_(
        "outside_intro",
        "These rows are in no manager's team; the figures above include them.",
    ),
    "outside_no_owner": Pn_(
        "outside_no_owner",
        "No owner: %(n)s prospect",
        "No owner: %(n)s prospects",
    ),
    "outside_unlisted": P_("outside_unlisted", "Owner not in the %(tab)s tab: %(names)s"),
    "outside_manager": P_("outside_manager", "Owned by a manager: %(names)s"),
    "outside_unmanaged": P_("outside_unmanaged", "Owner whose manager gets no digest: %(names)s"),
    "name_count": P_("name_count", "%(name)s (%(n)s)"),
    "funnel_line": P_(
        "funnel_line",
        "%(called)s called · %(reached)s reached · %(interested)s interested · %(won)s won",
    ),
    "refused_title": P_("refused_title", "Replies not recorded"),
    "refused_intro": Pn_(
        "refused_intro",
        "%(n)s reply to a morning email was not recorded; it waits in the review folder of the "
        "inbox.",
        "%(n)s replies to morning emails were not recorded; they wait in the review folder of the"
        " inbox.",
    ),
    "refused_line": P_("refused_line", "%(when)s, from %(sender)s, about %(prospect)s: %(reason)s"),
    "digest_away": P_("digest_away", "Away: %(names)s"),
    "away_until": P_("away_until", "%(name)s until %(day)s"),
    "away_open": P_("away_open", "%(name)s (no return date)"),
    "away_covered": P_("away_covered", "%(who)s (%(cover)s covers)"),
    "away_waits": P_("away_waits", "%(who)s (no cover: their follow-ups wait)"),
}
