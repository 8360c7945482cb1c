"""One-tap replies: what an outcome button of the morning email puts in a message, and how a
reply is recognised and checked. Pure: no mail, no files.

A button is a `mailto:` link to the team's follow-up address. Its subject is text for the
person ("P-0079 · Acme: No answer") followed by a tag that sheetfollow reads back:

    [sf/no-answer//P-0079/DPAMD7WTGPJS5XW3ZQ4M7VHK]
    [sf/call-back/2w/P-0079/DPAMD7WTGPJS5XW3ZQ4M7VHK]

outcome (the word `sheetfollow mark` takes), delay (for call back: 1w, 2w, 1m; counted from
the day of the reply), prospect ID, and a token. The tag decides, whatever the person edits
around it, and survives "RE:", "AW:", "SV:" prefixes and folded headers.

The token is an HMAC (SHA-256) with the team secret over the sheet, the prospect ID, the
address the email went to and the day it was issued, which the token carries: a tag cannot be
made for another prospect or another recipient without the secret, and an old one can be
refused by age. The outcome is not signed: the person may tap any button of their own card.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import date, timedelta

from sheetfollow.models import Outcome

#: Days are counted from here in a token (two bytes reach into the 2190s).
_EPOCH = date(2020, 1, 1)
#: Bytes of the HMAC kept: 104 bits, far beyond guessing by mail (and with the two bytes
#: of the day, 15 bytes: 24 base32 letters without padding).
_MAC_BYTES = 13
#: The delays a call-back button offers, and what each means for `mark --in`.
DELAYS: tuple[str, ...] = ("1w", "2w", "1m")

_TAG = re.compile(
    r"\[sf/(?P<outcome>[a-z-]+)/(?P<delay>[0-9]*[dwm]?)/(?P<id>[^\]\r\n]+?)/"
    r"(?P<token>[A-Z2-7]{24})\]"
)
#: Folding and some mail apps put line breaks and runs of spaces into a long subject.
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Tag:
    """What a button says: this outcome (after this delay) for this prospect."""

    prospect_id: str
    outcome: Outcome
    #: For call back: "1w", "2w" or "1m" (`mark --in`); else "".
    delay: str
    token: str

    @property
    def text(self) -> str:
        word = self.outcome.value.replace(" ", "-")
        return f"[sf/{word}/{self.delay}/{self.prospect_id}/{self.token}]"


def sheet_identity(sheet: str) -> str:
    """The sheet a token is bound to: a Google Sheet's URL or key as written, a workbook by
    its file name (the same workbook on another machine or share still matches)."""
    text = sheet.strip()
    if "://" in text or ("/" not in text and "\\" not in text and "." not in text):
        return text
    return re.split(r"[\\/]", text)[-1].casefold()


def sign(secret: bytes, sheet: str, prospect_id: str, recipient: str, issued: date) -> str:
    """The token of a button in the email issued on `issued` to `recipient`."""
    days = (issued - _EPOCH).days
    if not 0 <= days < 1 << 16:
        raise ValueError(f"{issued} is outside the days a token can carry")
    stamp = days.to_bytes(2, "big")
    mac = _mac(secret, sheet, prospect_id, recipient, stamp)
    return base64.b32encode(stamp + mac).decode("ascii")


def _mac(secret: bytes, sheet: str, prospect_id: str, recipient: str, stamp: bytes) -> bytes:
    message = "\n".join(
        [sheet_identity(sheet), prospect_id.strip(), recipient.strip().casefold()]
    ).encode("utf-8")
    return hmac.new(secret, stamp + message, hashlib.sha256).digest()[:_MAC_BYTES]


def issued_on(token: str) -> date | None:
    """The day a token was issued, None when it is no token at all."""
    raw = _decode(token)
    return None if raw is None else _EPOCH + timedelta(days=int.from_bytes(raw[:2], "big"))


def verify(secret: bytes, token: str, sheet: str, prospect_id: str, recipient: str) -> bool:
    """Whether `token` was made with `secret` for this sheet, prospect and recipient."""
    raw = _decode(token)
    if raw is None:
        return False
    expected = _mac(secret, sheet, prospect_id, recipient, raw[:2])
    return hmac.compare_digest(raw[2:], expected)


def _decode(token: str) -> bytes | None:
    try:
        raw = base64.b32decode(token, casefold=False)
    except (ValueError, TypeError):
        return None
    return raw if len(raw) == 2 + _MAC_BYTES else None


def tag(
    secret: bytes,
    sheet: str,
    prospect_id: str,
    recipient: str,
    issued: date,
    outcome: Outcome,
    delay: str = "",
) -> Tag:
    """The tag of one button."""
    if delay and (outcome is not Outcome.CALL_BACK or delay not in DELAYS):
        raise ValueError(f"a delay ({delay!r}) goes with call back and one of {DELAYS}")
    token = sign(secret, sheet, prospect_id, recipient, issued)
    return Tag(prospect_id.strip(), outcome, delay, token)


def find_tag(subject: str) -> Tag | None:
    """The tag in a subject as a mail app sent it back, or None."""
    found = _TAG.search(_SPACE.sub(" ", subject))
    if found is None:
        return None
    try:
        outcome = Outcome(found["outcome"].replace("-", " "))
    except ValueError:
        return None
    delay = found["delay"]
    if delay and (outcome is not Outcome.CALL_BACK or delay not in DELAYS):
        return None
    return Tag(found["id"].strip(), outcome, delay, found["token"])
