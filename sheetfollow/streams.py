"""Where the commands' text goes: stdout and stderr, each a `Stream`.

A person at a terminal gets Rich: colour, tables fitted to the window, progress bars. Cron,
a pipe, a script or a file gets the same lines as plain text, written straight to the
stream, so a run that nobody watches never loads Rich (about 25 ms of every nightly run,
more than reading a thousand rows).
"""

from __future__ import annotations

import os
import sys
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

#: Settings with which Rich may treat a stream that is no terminal as one: Rich decides.
_FORCING = ("FORCE_TERMINAL", "FORCE_COLOR", "TTY_COMPATIBLE")
#: Rich's tab stops, kept in plain text so that both ways print the same line.
_TAB = 8


class Stream:
    """stdout or stderr: plain lines unless a person watches a terminal."""

    def __init__(self, *, stderr: bool = False, console: Console | None = None) -> None:
        self._stderr = stderr
        #: Rich's Console, when made (or given: a test's, writing where the test reads).
        self._console = console
        #: -q: nothing is printed on this stream.
        self.quiet = False

    @property
    def file(self) -> IO[str]:
        if self._console is not None:
            return self._console.file
        # Looked up at each write: tests and callers may swap sys.stdout.
        return sys.stderr if self._stderr else sys.stdout

    @property
    def console(self) -> Console:
        """Rich's Console for this stream, made on first use."""
        if self._console is None:
            from rich.console import Console

            # Never Rich's emoji codes: ":thumbs_up:" typed in a cell is printed as typed.
            self._console = Console(stderr=self._stderr, emoji=False)
        self._console.quiet = self.quiet
        return self._console

    @property
    def is_terminal(self) -> bool:
        if self._console is None and not _may_be_terminal(self.file):
            return False
        return self.console.is_terminal

    @property
    def width(self) -> int:
        return self.console.width

    def line(self, text: str, *, end: str = "\n") -> None:
        """`text` as it is: never markup, never wrapped (cron logs and scripts read it line
        by line)."""
        if self.quiet:
            return
        if self.is_terminal:
            self.console.print(text, markup=False, highlight=False, soft_wrap=True, end=end)
        else:
            self.file.write(text.expandtabs(_TAB) + end)

    def tagged(self, tag: str, style: str, text: str) -> None:
        """`tag text`, the tag in `style` on a terminal ("error:" in bold red); `text` is
        never markup ("[...]" in a cell is text)."""
        if self.quiet:
            return
        if self.is_terminal:
            from rich.markup import escape

            self.console.print(f"[{style}]{tag}[/] {escape(text)}", highlight=False, soft_wrap=True)
        else:
            self.line(f"{tag} {text}")

    def show(self, renderable: Any) -> None:
        """A Rich table or text (a terminal's width when there is one, else 80 columns)."""
        self.console.print(renderable)


def _may_be_terminal(file: IO[str]) -> bool:
    """False when Rich would surely say the stream is no terminal (so it need not load)."""
    if any(name in os.environ for name in _FORCING):
        return True
    try:
        return file.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
