"""Text typed by people, made safe to show: in a message, on a terminal, on one line.

A cell can hold anything: line breaks, tabs, terminal escape sequences (stored in the file as
``_x001B_``), thousands of characters. Shown raw, a line break splits a problem in two, and an
escape sequence can clear the screen or retitle the window. These functions show such
characters as visible escapes instead, the way Python writes them in a string.
"""

from __future__ import annotations

import re

#: C0 controls, DEL and C1 controls (everything a terminal may act on), and the Unicode line
#: and paragraph separators (which split a line as much as a line break does).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

#: How much of a cell a message quotes before it cuts the text short.
QUOTE_LIMIT = 60


def printable(text: str) -> str:
    """`text` with every control character shown as an escape (a line break as \\n)."""
    return _CONTROL.sub(lambda m: _NAMED.get(m[0], _escape(m[0])), text)


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def quoted(text: str, limit: int = QUOTE_LIMIT) -> str:
    """A cell's text as a message quotes it: in quotes, on one line, at most `limit`
    characters of it (then an ellipsis)."""
    shown = text if len(text) <= limit else text[: limit - 1] + "…"
    return f"'{printable(shown)}'"
