"""The commands' text off a terminal is written plain, without loading Rich: the same
characters Rich's Console wrote there, and Rich's colours still on a terminal."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from rich.markup import escape

from sheetfollow.streams import Stream

TEXTS = [
    "pipeline.xlsx: 30000 prospects · 968 due · 16202 overdue",
    "a\tb\t\tc",  # Rich's tab stops
    "[bold]not markup[/] and [link=x]neither[/link]",
    ":thumbs_up: stays as typed",
    "Zoë Ødegård — 3 days ago, 45 € ✓",
    "x" * 300,  # never wrapped
    "",
    "  indented  ",
]


class _Pipe(io.StringIO):
    def isatty(self) -> bool:
        return False


def _rich(text: str, *, stderr: bool = False, tag: tuple[str, str] | None = None) -> str:
    """What Rich's Console, as the CLI made it before, wrote for a line off a terminal."""
    buffer = _Pipe()
    console = Console(file=buffer, emoji=False)
    if tag is None:
        console.print(text, markup=False, highlight=False, soft_wrap=True)
    else:
        console.print(f"[{tag[1]}]{tag[0]}[/] {escape(text)}", highlight=False, soft_wrap=True)
    return buffer.getvalue()


@pytest.fixture
def no_forcing(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FORCE_TERMINAL", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("text", TEXTS)
def test_a_line_off_a_terminal_is_what_rich_wrote(
    text: str, monkeypatch: pytest.MonkeyPatch, no_forcing: None
) -> None:
    for stderr in (False, True):
        pipe = _Pipe()
        monkeypatch.setattr(sys, "stderr" if stderr else "stdout", pipe)
        stream = Stream(stderr=stderr)
        stream.line(text)
        assert pipe.getvalue() == _rich(text)
        stream.line(text, end="")
        assert pipe.getvalue() == _rich(text) + _rich(text)[:-1]


@pytest.mark.parametrize("text", TEXTS)
def test_a_tagged_line_off_a_terminal_is_what_rich_wrote(
    text: str, monkeypatch: pytest.MonkeyPatch, no_forcing: None
) -> None:
    pipe = _Pipe()
    monkeypatch.setattr(sys, "stderr", pipe)
    Stream(stderr=True).tagged("error:", "bold red", text)
    assert pipe.getvalue() == _rich(text, tag=("error:", "bold red"))


def test_quiet_prints_nothing(monkeypatch: pytest.MonkeyPatch, no_forcing: None) -> None:
    pipe = _Pipe()
    monkeypatch.setattr(sys, "stdout", pipe)
    stream = Stream()
    stream.quiet = True
    stream.line("hidden")
    stream.tagged("note:", "bold", "hidden")
    assert pipe.getvalue() == ""
    stream.quiet = False
    stream.line("shown")
    assert pipe.getvalue() == "shown\n"


def test_forcing_a_terminal_is_left_to_rich(
    monkeypatch: pytest.MonkeyPatch, no_forcing: None
) -> None:
    """FORCE_COLOR (Rich's own setting) makes a pipe a terminal for Rich: colours."""
    pipe = _Pipe()
    monkeypatch.setattr(sys, "stderr", pipe)
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TERM", "xterm-256color")
    stream = Stream(stderr=True)
    assert stream.is_terminal
    stream.tagged("error:", "bold red", "[x] no markup")
    assert "\x1b[" in pipe.getvalue()
    assert "[x] no markup" in pipe.getvalue()


def test_a_command_on_a_terminal_gets_colours_and_off_one_loads_no_rich(
    tmp_path: Path,
) -> None:
    """A real run: an error on a pseudo-terminal is in colour (Rich); in a pipe it is the
    same words, plain, and Rich was never imported."""
    script = (
        "import atexit, sys\n"
        "atexit.register(lambda: sys.__stdout__.write("
        "'RICH=%s\\n' % any(m == 'rich' or m.startswith('rich.') for m in sys.modules)))\n"
        "from sheetfollow.cli import main\n"
        "sys.argv = ['sheetfollow', 'due', '--sheet', 'nowhere.xlsx']\n"
        "main()\n"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("FORCE_TERMINAL", "FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR")
    }
    env["TERM"] = "xterm-256color"
    piped = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert piped.returncode != 0
    assert piped.stderr.startswith("error: ")
    assert "nowhere.xlsx" in piped.stderr
    assert "\x1b[" not in piped.stderr
    assert "RICH=False" in piped.stdout

    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-c", script],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=follower,
            timeout=60,
        )
        os.close(follower)
        follower = -1
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal's other end is closed: all was read
                break
            if not chunk:
                break
            seen += chunk
    finally:
        if follower >= 0:
            os.close(follower)
        os.close(leader)
    shown = seen.decode()
    assert done.returncode == piped.returncode
    assert "\x1b[" in shown  # "error:" in bold red
    assert "nowhere.xlsx" in shown
    assert b"RICH=True" in done.stdout


def test_a_long_line_is_never_wrapped_off_a_terminal(
    monkeypatch: pytest.MonkeyPatch, no_forcing: None
) -> None:
    """stats --csv went through Rich without soft wrap: a row of more than 80 characters came
    out broken in two in a pipe. Lines are written whole now."""
    row = ",".join(f"field {n}" for n in range(30)) + "\n"
    pipe = _Pipe()
    monkeypatch.setattr(sys, "stdout", pipe)
    Stream().line(row, end="")
    assert pipe.getvalue() == row
    wrapped = _Pipe()
    Console(file=wrapped, emoji=False).print(row, markup=False, highlight=False, end="")
    assert wrapped.getvalue() != row  # what the old way did to it
