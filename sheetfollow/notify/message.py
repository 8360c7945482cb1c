"""A rendered email, before it is turned into MIME and delivered (or written to the outbox)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Attachment:
    filename: str
    #: "text/calendar", ...
    mime_type: str
    data: bytes
    #: Extra Content-Type parameters, e.g. {"method": "PUBLISH"} for calendars.
    params: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Message:
    """One email to one person. Rendering is pure; delivery happens elsewhere."""

    #: "owner" (the day's call list) or "digest" (the manager's summary).
    kind: str
    #: Who it is about: the owner's (or delegate's) name, or the manager's address for digests.
    #: Together with the day and the kind it identifies the send in the run state.
    key: str
    to: str
    subject: str
    text: str
    html: str
    language: str = "en"
    attachments: tuple[Attachment, ...] = field(default=())
