"""A rendered Message -> a standard email: text and HTML alternatives, attachments, headers."""

from __future__ import annotations

import email.policy
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

from sheetfollow.notify.message import Attachment, Message

#: Every line of the email stays 7-bit ASCII (non-ASCII text is quoted-printable or base64),
#: so that any mail server relays it unchanged; lines end in CRLF as SMTP wants.
POLICY = email.policy.SMTP.clone(cte_type="7bit")

#: The sender when none is configured: outbox files still need a From to open in a mail client.
DEFAULT_SENDER = "sheetfollow <sheetfollow@localhost>"


def to_mime(message: Message, *, sender: str, now: datetime) -> EmailMessage:
    """The email as a mail server or client expects it. `now` must be timezone-aware."""
    mail = EmailMessage(policy=POLICY)
    mail["From"] = sender or DEFAULT_SENDER
    mail["To"] = message.to
    mail["Subject"] = message.subject
    mail["Date"] = format_datetime(now)
    mail["Message-ID"] = make_msgid("sheetfollow", domain=domain_of(sender or DEFAULT_SENDER))
    # Keeps out-of-office replies and auto-forward loops away from a machine-sent list.
    mail["Auto-Submitted"] = "auto-generated"
    mail["X-Auto-Response-Suppress"] = "All"
    mail.set_content(message.text, subtype="plain", charset="utf-8")
    mail.add_alternative(message.html, subtype="html", charset="utf-8")
    for attachment in message.attachments:
        _attach(mail, attachment)
    # Last: adding parts moves the top-level Content-* headers into the first part.
    mail["Content-Language"] = message.language
    return mail


def domain_of(sender: str) -> str:
    """The domain of "Name <a@example.com>" (for Message-IDs); "localhost" without one."""
    _, address = parseaddr(sender)
    domain = address.rpartition("@")[2]
    return domain or "localhost"


def address_of(sender: str) -> str:
    """The bare address of "Name <a@example.com>", for the SMTP envelope."""
    _, address = parseaddr(sender)
    return address or sender.strip()


def _attach(mail: EmailMessage, attachment: Attachment) -> None:
    maintype, _, subtype = attachment.mime_type.partition("/")
    params = dict(attachment.params)
    if attachment.mime_type == "text/calendar":
        # Calendar clients only offer "add to calendar" for a published event list.
        params.setdefault("method", "PUBLISH")
    if maintype == "text":
        # As text with a charset (not base64 bytes), so clients read the calendar directly.
        mail.add_attachment(
            attachment.data.decode("utf-8"),
            subtype=subtype,
            charset="utf-8",
            filename=attachment.filename,
            params=params,
        )
    else:
        mail.add_attachment(
            attachment.data,
            maintype=maintype,
            subtype=subtype,
            filename=attachment.filename,
            params=params,
        )
