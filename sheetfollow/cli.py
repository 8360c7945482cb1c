"""The command line. Each command parses its options, calls one service function, prints."""

from __future__ import annotations

import errno
import inspect
import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.core import TyperArgument, TyperGroup

from sheetfollow import __version__, output
from sheetfollow.config import (
    Config,
    Found,
    find_config,
    find_sheet,
    nothing_found,
    read_config,
    team_date_order,
    today_in,
)
from sheetfollow.errors import (
    ConfigError,
    RemoteError,
    SheetError,
    SheetfollowError,
    UsageError,
)
from sheetfollow.exit_codes import ExitCode
from sheetfollow.fields import LANGUAGES
from sheetfollow.models import Row, Status
from sheetfollow.sheet import Backend
from sheetfollow.streams import Stream
from sheetfollow.text import printable


class _Later:
    """A module imported on its first use, so that `--help` and completion never load the
    engine (the rules, the planner, the translations)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        import importlib

        return getattr(importlib.import_module(self._name), attribute)


if TYPE_CHECKING:
    from rich.progress import Progress
    from rich.table import Table as RichTable
    from rich.text import Text

    from sheetfollow import i18n, service
    from sheetfollow.notifier import NotifyReport
    from sheetfollow.runlog import Session
    from sheetfollow.workspace import Workspace
else:
    service = _Later("sheetfollow.service")
    i18n = _Later("sheetfollow.i18n")

out = Stream()
err = Stream(stderr=True)

#: Set to get the full traceback of an unexpected error.
DEBUG_ENV = "SHEETFOLLOW_DEBUG"


#: Typer's own exceptions (usage errors, --help, exits) pass through untouched. Typer may or
#: may not build on click, so its base class is found from a public Typer exception.
_CLI_FLOW: tuple[type[BaseException], ...] = (
    typer.Exit,
    typer.Abort,
    *(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"),
)


class _Commands(TyperGroup):
    """Turns every error into one line on stderr and a documented exit code."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, command in self.commands.items():
            summary, examples = _HELP.get(name, ("", ()))
            command.short_help = command.short_help or summary or None
            if examples and not command.epilog:
                command.epilog = _examples(examples)
            for param in command.params:
                _conventional(param)

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)  # in the order they are defined, not alphabetical

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name, command, rest = super().resolve_command(ctx, args)
        # Kept for a usage error found while parsing the command's options (an unknown one),
        # before --json itself is read: still the JSON error a script waits for.
        ctx.meta[_ARGS] = (name or "", list(rest))
        if command is not None and "help_option_names" not in (command.context_settings or {}):
            # Its --help is made on first use, with the names this context hands down: made
            # here, it too is coerced without pydantic (see _AsGiven).
            _take_as_given(command.get_help_option(ctx))
        return name, command, rest

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        ctx.meta[_ARGV] = list(args)  # as given, for the run log
        # Without pydantic (see _AsGiven): Typer adds its completion options after __init__,
        # and --help is made on first use.
        for param in (*self.params, self.get_help_option(ctx)):
            _take_as_given(param)
        # A new command line: no -q or -v of a previous one in this process (tests) holds.
        out.quiet = _verbosity.verbose = False
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        with _logged(ctx):
            return self._invoke(ctx)

    def _invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except SheetfollowError as error:
            _json_error(ctx, error.exit_code, str(error), _error_details(error))
            _error(str(error))
            raise typer.Exit(int(error.exit_code)) from None
        except _CLI_FLOW as flow:
            # A usage error (exit 2) of a --json command is JSON too; --help and exits not.
            code = getattr(flow, "exit_code", 0)
            if not isinstance(flow, (typer.Exit, typer.Abort)) and code:
                _json_error(ctx, code, _flow_message(flow), parsing=True)
            raise
        except KeyboardInterrupt:
            _json_error(ctx, 130, "interrupted; nothing was written.")
            err.line("interrupted; nothing was written.")
            raise typer.Exit(130) from None
        except OSError as error:
            # A file the command needs cannot be read or written: not our bug, and the
            # person can act on the path and the reason (permissions, a full disk).
            line = _file_error(error)
            if line is None:
                _unexpected(error, ctx)
            if os.environ.get(DEBUG_ENV):
                traceback.print_exc()
            _json_error(ctx, ExitCode.SHEET, line)
            _error(line)
            raise typer.Exit(int(ExitCode.SHEET)) from None
        except Exception as error:
            _unexpected(error, ctx)


class _Argument(TyperArgument):
    """An argument as Click shows one: by its METAVAR, bare when required ("mark PROSPECT
    OUTCOME"), rather than Typer's "{who}" and "who <str>"."""

    @property
    def display_name_raw(self) -> str:
        return self.metavar or (self.name or "").upper()

    def _usage_display_name(self) -> str:
        name = self.display_name_raw if self.required else f"[{self.display_name_raw}]"
        return name + ("..." if self.nargs != 1 else "")

    def display_type_rich(self, ctx: Any) -> str:
        return ""  # the metavar says what it is


def _conventional(param: Any) -> None:
    """One placeholder style in every --help, Click's: an UPPER word (WORKBOOK, DATE, NAME),
    never Typer's "<str>"."""
    if type(param) is TyperArgument:
        param.__class__ = _Argument  # the same object, only shown differently: no new state
    elif not getattr(param, "is_flag", True) and param.metavar is None:
        long = max(param.opts, key=len)
        param.metavar = long.lstrip("-").replace("-", "_").upper()
    _take_as_given(param)


#: A Path option or argument as Typer makes one by default: any path, no checks but that an
#: existing one be readable.
_PLAIN_PATH: dict[str, object] = {
    "path_type": None,
    "exists": False,
    "resolve_path": False,
    "allow_dash": False,
    "file_okay": True,
    "dir_okay": True,
    "readable": True,
    "writable": False,
}


class _AsGiven:
    """Typer coerces every value through a pydantic TypeAdapter (even the None of a flag not
    given), and building the first one imports pydantic, which looks its plugins up in every
    installed package's metadata: a tenth of a second on each run, for values that are
    already what they should be. A str parameter's value is the str given, a flag's the bool
    or None; a Path parameter's is the Path of the str, checked as Typer checks it. Anything
    else, and every value Typer would refuse, goes to Typer's own coercion, built as Typer
    builds it: its messages stay Typer's."""

    def __init__(self, kind: type) -> None:
        self._kind = kind

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        if value is None:
            return None
        if self._kind is not Path:
            if type(value) is self._kind:
                return value
        elif isinstance(value, Path) or (type(value) is str and "\0" not in value):
            path = value if isinstance(value, Path) else Path(value)
            try:
                os.stat(path)
            except OSError:
                return path  # a path that does not exist yet is a fine path
            if os.access(path, os.R_OK):
                return path
        param._runtime_param = None  # from now on Typer's own, for this parameter
        return param.get_runtime_param().coerce(value, param=param, ctx=ctx)


#: The Typer releases whose coercion internals _AsGiven was checked against (tests/test_imports
#: fails when a newer one is installed and loads pydantic again: add it after checking).
_AS_GIVEN_TYPERS = ("0.29.",)


def _take_as_given(param: Any) -> None:
    """Gives a str, bool or plain Path parameter the coercion above; leaves any other (an int
    with a minimum, a list, a choice) and a Typer that coerces in another way as they are."""
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None or getattr(param, "_runtime_param", False) is not None:
        return
    if not typer.__version__.startswith(_AS_GIVEN_TYPERS):
        return  # another Typer's internals may differ: its own coercion, slower but its own
    info = descriptor.parameter_info
    if param.multiple or param.nargs != 1 or info.parser is not None or descriptor.is_choice:
        return
    if descriptor.annotation in (str, bool):
        param._runtime_param = _AsGiven(descriptor.annotation)
    elif descriptor.annotation is Path and all(
        getattr(info, name) == plain for name, plain in _PLAIN_PATH.items()
    ):
        param._runtime_param = _AsGiven(Path)


#: Where _Commands keeps the command's name and its arguments, as given.
_ARGS = "sheetfollow.args"


def _json_error(
    ctx: Any,
    code: int,
    message: str,
    details: dict[str, object] | None = None,
    *,
    parsing: bool = False,
) -> None:
    """The error as the one JSON object on stdout, when the command was given --json."""
    g = ctx.find_object(_Globals)
    if g is None:
        return
    if not g.json and parsing:
        name, args = ctx.meta.get(_ARGS, ("", []))
        given = args[: args.index("--")] if "--" in args else args
        g.json, g.command = "--json" in given, name
    if not g.json:
        return
    output.write_error(sys.stdout, g.command, g.label, g.day, code, message, **(details or {}))


def _error_details(error: SheetfollowError) -> dict[str, object]:
    """What a script can act on beyond the message."""
    candidates = getattr(error, "candidates", ())
    holder = getattr(error, "holder", "")
    return {
        **({"candidates": list(candidates)} if candidates else {}),
        **({"holder": holder} if holder else {}),
    }


def _flow_message(flow: BaseException) -> str:
    """A usage error's message as Typer words it, with the option it is about."""
    hint = getattr(flow, "param_hint", None)
    format_message = getattr(flow, "format_message", None)
    text = format_message() if callable(format_message) else str(flow)
    if hint and isinstance(hint, str) and hint not in text:
        text = f"{hint}: {text}"
    return str(text)


def _error(text: str) -> None:
    """An error in one line on stderr. Messages quote cells, paths and tab names: "[...]" in
    them is text, not markup, and control characters in them are shown, not obeyed."""
    if _session is not None:
        _session.error(f"error: {text}")
    err.tagged("error:", "bold red", printable(text))


def _unexpected(error: Exception, ctx: Any = None) -> NoReturn:
    """A bug: one line that says how to get the traceback, or the traceback itself."""
    if ctx is not None:
        line = f"{type(error).__name__}: {error} (set {DEBUG_ENV}=1 for the traceback)"
        _json_error(ctx, ExitCode.ERROR, line)
    if _session is not None:
        _session.error(f"unexpected error: {type(error).__name__}: {error}")
    if os.environ.get(DEBUG_ENV):
        traceback.print_exc()
    else:
        err.tagged(
            "unexpected error:",
            "bold red",
            f"{type(error).__name__}: {printable(str(error))} "
            f"(set {DEBUG_ENV}=1 for the traceback)",
        )
    raise typer.Exit(int(ExitCode.ERROR)) from None


#: Errors of the disk itself rather than of one file: whatever was being written, it failed.
_DISK_ERRNOS = frozenset(
    getattr(errno, name) for name in ("ENOSPC", "EDQUOT", "EROFS", "EFBIG") if hasattr(errno, name)
)


def _file_error(error: OSError) -> str | None:
    """One line for a file that cannot be read or written, with its path and the reason:
    "cannot write /srv/sales/.sheetfollow/backups: No space left on device". None for an
    OSError that names no file and is no disk error (a socket's): that one is a bug."""
    reason = error.strerror or str(error)
    path = error.filename
    if path is None:
        if error.errno not in _DISK_ERRNOS:
            return None
        return f"cannot write to the disk: {reason}"
    shown = os.fsdecode(path) if isinstance(path, (str, bytes, os.PathLike)) else str(path)
    verb = "write" if error.errno in _DISK_ERRNOS else "access"
    return f"cannot {verb} {shown}: {reason}{_owner_hint(error, shown)}"


def _owner_hint(error: OSError, path: str) -> str:
    """For a refused file: who owns the nearest folder on its path that can be looked at,
    when that is somebody else (a .sheetfollow folder made by another user's cron job)."""
    if error.errno not in (errno.EACCES, errno.EPERM) or not hasattr(os, "geteuid"):
        return ""
    for place in (Path(path), *Path(path).parents):
        try:
            owner = place.stat().st_uid
        except OSError:
            continue
        if owner == os.geteuid():
            return ""
        import pwd

        try:
            name = pwd.getpwuid(owner).pw_name
        except KeyError:
            name = f"uid {owner}"
        return f" ({place} belongs to the user {name})"
    return ""


app = typer.Typer(
    cls=_Commands,
    help="Follow-up discipline for sales pipelines that live in a spreadsheet.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)

#: Each command's one-line summary (in `sheetfollow --help` and in shell completion, where
#: Click would cut a docstring's first sentence short with "...") and the examples its
#: --help ends with. _Commands gives them to the commands.
_HELP: dict[str, tuple[str, tuple[str, ...]]] = {
    "init": (
        "Write a starter workbook and a commented sheetfollow.toml.",
        (
            "sheetfollow init --example demo/pipeline.xlsx",
            "sheetfollow init --lang nl --country NL verkoop/pipeline.xlsx",
        ),
    ),
    "adopt": (
        "Set sheetfollow up on a workbook the team already has.",
        ("sheetfollow adopt pipeline.xlsx --print", "sheetfollow adopt pipeline.xlsx"),
    ),
    "refresh": (
        "Recompute Next follow-up, Status, Step, Why and Assigned to.",
        (
            "sheetfollow refresh --dry-run",
            "sheetfollow refresh --config /srv/sales/sheetfollow.toml",
        ),
    ),
    "due": (
        "Today's follow-ups in the call order.",
        (
            "sheetfollow due",
            "sheetfollow due --owner Anna --explain",
            "sheetfollow due --today 31-12-2026 --json > calls.json",
        ),
    ),
    "notify": (
        "Email each owner today's call list and each manager the digest.",
        (
            "sheetfollow notify --dry-run",
            "sheetfollow notify --outbox out",
            "sheetfollow notify --owner Anna --force",
        ),
    ),
    "run": (
        "Read the replies, refresh, then notify: the line for cron.",
        (
            "sheetfollow run --dry-run",
            "30 6 * * 1-5  sheetfollow run --quiet -c /srv/sales/sheetfollow.toml",
        ),
    ),
    "inbox": (
        "Record the replies to the email's outcome buttons.",
        ("sheetfollow inbox --init", "sheetfollow inbox --dry-run"),
    ),
    "check": (
        "Validate the config, the headers and every row.",
        ("sheetfollow check", "sheetfollow check --smtp", "sheetfollow check --inbox --json"),
    ),
    "stats": (
        "Funnel per calling round, and touches per owner or segment.",
        (
            "sheetfollow stats --since 2026-01-01",
            "sheetfollow stats --by segment --csv > stats.csv",
        ),
    ),
    "mark": (
        "Record a touch: update the row, append it to the Log.",
        (
            "sheetfollow mark P-0012 no-answer",
            'sheetfollow mark "Acme B.V." call-back --on 31-12-2026 --note "at the fair"',
            "sheetfollow mark jan@acme.example interested --in 2w --channel email",
        ),
    ),
    "import": (
        "Add new prospects from a CSV or Excel file, skipping duplicates.",
        (
            "sheetfollow import hubspot-export.csv --dry-run",
            "sheetfollow import leads.xlsx --owner Anna --segment retail",
        ),
    ),
    "pending": (
        "List (or drop) the changes waiting to be written.",
        ("sheetfollow pending", "sheetfollow pending --drop 3f9c2a1b"),
    ),
    "config": (
        "Show which sheetfollow.toml and sheet are used, and why.",
        ("sheetfollow config", "SHEETFOLLOW_CONFIG=/srv/sales/sheetfollow.toml sheetfollow config"),
    ),
    "log": (
        "Show the last runs from the run log.",
        ("sheetfollow log", "sheetfollow log -n 3 --full", "sheetfollow log --json"),
    ),
}


def _examples(lines: tuple[str, ...]) -> str:
    # "\b": Click keeps the lines as they are instead of rewrapping them into a paragraph.
    return "Examples:\n\n\b\n" + "\n".join(f"  {line}" for line in lines)


SheetOpt = Annotated[
    str | None,
    typer.Option(
        "--sheet",
        "-s",
        metavar="WORKBOOK",
        help="The workbook (.xlsx/.xlsm), or a Google Sheets URL or key. Default: "
        "SHEETFOLLOW_SHEET, else sheet in the config.",
    ),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        metavar="FILE",
        help="sheetfollow.toml to use. Default: the one SHEETFOLLOW_CONFIG names, else the "
        "nearest in this folder or above, else the user config folder's (see 'config').",
    ),
]
TodayOpt = Annotated[
    str | None,
    typer.Option(
        "--today",
        metavar="DATE",
        help="Pretend today is this date (2026-12-31 or 31-12-2026), for reproducible runs.",
    ),
]


def _json_flag(ctx: typer.Context, value: bool) -> bool:
    """Eager, so it is known before any other option is checked: their errors come as JSON
    too."""
    if value:
        g = ctx.ensure_object(_Globals)
        g.json, g.command = True, ctx.info_name or ""
    return value


JsonOpt = Annotated[
    bool,
    typer.Option(
        "--json",
        is_eager=True,
        callback=_json_flag,
        help="Print one JSON object for scripts (see JSON output in the README).",
    ),
]
ForceOpt = Annotated[
    bool, typer.Option("--force", help="Write even though Excel seems to have the file open.")
]


#: Where _Commands keeps the command line as given (for the run log).
_ARGV = "sheetfollow.argv"
#: The run log of the command being run (sheetfollow/runlog.py); None between commands.
_session: Session | None = None


@contextmanager
def _logged(ctx: Any) -> Iterator[None]:
    """Every command goes into the run log: its command line, what it printed (or would
    have, with --quiet or --json), its errors and its exit code."""
    global _session
    from sheetfollow.runlog import Session

    session = _session = Session(ctx.meta.get(_ARGV, []))
    if _verbosity.verbose:  # -v before the command name
        session.verbose(sys.stderr)
    code: object = 0
    try:
        yield
    except BaseException as exc:
        code = getattr(exc, "exit_code", getattr(exc, "code", 1))
        raise
    finally:
        number = code if isinstance(code, int) else int(code is not None)
        session.end(number, usage=number == ExitCode.USAGE)
        _session = None


def _quiet(value: bool) -> None:
    """-q: errors only, for cron, which mails whatever a job prints; the log keeps it all."""
    if value:
        out.quiet = True


@dataclass
class _Verbosity:
    verbose: bool = False


_verbosity = _Verbosity()


def _verbose(value: bool) -> None:
    """-v: also the details (which config and sheet, and why; where the log is)."""
    if value:
        _verbosity.verbose = True
        if _session is not None:
            _session.verbose(sys.stderr)


QuietOpt = Annotated[
    bool,
    typer.Option(
        "--quiet",
        "-q",
        callback=_quiet,
        help="Print errors only (--json still prints its JSON); the run log keeps the rest.",
    ),
]
VerboseOpt = Annotated[
    bool,
    typer.Option(
        "--verbose",
        "-v",
        callback=_verbose,
        help="Also print on stderr which config and sheet were used and why, and the log file.",
    ),
]


def _log_place(found: Found, config: Config, sheet: str | None, rule: str, day: date) -> None:
    """The run log learns where it belongs, and records how the command found its way."""
    if _session is None:
        return
    how = found.rule or f"none found; looked at {', '.join(found.looked)}"
    _session.detail(f"config: {found.file or 'built-in defaults'} ({how})")
    _session.detail(f"sheet: {sheet or 'none'} ({rule or 'not set'})")
    zone = config.timezone or "the zone of this machine"
    _session.detail(f"today: {day.isoformat()} (in {zone})")
    _session.place(sheet, config.path, config.log_file)
    _session.detail(f"run log: {_session.where or 'the user log folder'}")


def _log_only(lines: list[str] | tuple[str, ...]) -> None:
    """What the text output would have said, for the log of a --json run."""
    if _session is not None:
        for line in lines:
            _session.info(line)


@contextmanager
def _muted() -> Iterator[None]:
    """Text output that goes to the run log only (a --json run's report)."""
    was, out.quiet = out.quiet, True
    try:
        yield
    finally:
        out.quiet = was


@dataclass
class _Globals:
    sheet: str | None = None
    config: Path | None = None
    today: str | None = None
    #: For the JSON envelope (sheetfollow/output.py), errors included: filled in as known.
    json: bool = False
    command: str = ""
    label: str | None = None
    day: date | None = None


@dataclass(frozen=True)
class _Run:
    config: Config
    sheet: str | None
    today: date
    #: How the config was found, and which rule gave the sheet (see `sheetfollow config`).
    found: Found | None = None
    sheet_rule: str = ""


def _run(ctx: typer.Context, sheet: str | None, config: Path | None, today: str | None) -> _Run:
    """Resolve the options every command shares: its own, else the global ones."""
    g: _Globals = ctx.ensure_object(_Globals)
    if _session is not None:
        _session.command = ctx.info_name or ""
    when = today or g.today
    g.day = _early_today(when) if when else None
    found = find_config(config or g.config)
    cfg = read_config(found)
    target, rule = find_sheet(sheet or g.sheet, cfg)
    g.label = target
    if when:
        # Read again in the team's date order: 11/02/2026 is 2 Nov for a US team.
        g.day = _parse_today(when, team_date_order(cfg))
    g.day = g.day or today_in(cfg)
    _log_place(found, cfg, target, rule, g.day)
    return _Run(cfg, target, g.day, found, rule)


def _open(
    ctx: typer.Context, sheet: str | None, config: Path | None, today: str | None
) -> tuple[_Run, Backend]:
    run = _run(ctx, sheet, config, today)
    if run.sheet is None and run.found is not None and run.found.file is None:
        raise SheetError(nothing_found(run.found))
    backend = service.open_backend(run.sheet, run.config)
    ctx.ensure_object(_Globals).label = backend.label
    return run, backend


def _view(
    ctx: typer.Context,
    sheet: str | None,
    config: Path | None,
    today: str | None,
    *,
    lean: bool = False,
) -> tuple[_Run, Workspace]:
    """For commands that only read: the sheet with the pending changes and the typed
    touches applied, as the next write will leave it; notes about them on stderr. `lean`:
    the command needs the Prospects tab understood only, not its cells (Workspace.lean)."""
    from sheetfollow.workspace import open_workspace

    run, backend = _open(ctx, sheet, config, today)
    ws = open_workspace(backend, run.config, run.today, lean=lean)
    _notes(ws.notes())
    return run, ws


def _early_today(text: str) -> date:
    """--today before the config is read, so that a date no order can read fails first;
    the team's order decides once the config is known."""
    try:
        return _parse_today(text)
    except UsageError:
        return _parse_today(text, "MDY")


def _parse_today(text: str, order: str = "DMY") -> date:
    """--today as --on takes it, and as the cells are read: 2026-12-31, or in the team's
    date order, 31-12-2026 (a wrong one is one line naming --today, exit 2)."""
    from sheetfollow.schema import parse_day

    return parse_day(text, "--today", order)


def _version(value: bool) -> None:
    if value:
        out.line(f"sheetfollow {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    ctx: typer.Context,
    sheet: SheetOpt = None,
    config: ConfigOpt = None,
    today: TodayOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Follow-up discipline for sales pipelines that live in a spreadsheet."""
    ctx.obj = _Globals(sheet, config, today)


class _Bar:
    """One progress bar on stderr for a command's long work: reading (the backend reports
    as it goes), computing, writing, sending. Each phase fills the bar from 0 to 100%."""

    def __init__(self, bar: Progress, label: str) -> None:
        self._bar = bar
        self._task = bar.add_task(label, total=None)

    def phase(self, label: str, fraction: float) -> None:
        """A phase and how far it is (0..1): the backend's `progress` hook."""
        done = min(max(fraction, 0.0), 1.0) * 100
        self._bar.update(self._task, description=label, completed=done, total=100)

    def counter(self, label: str) -> service.Progress:
        """A (done, total) callback for a phase counted in items."""

        def advance(done: int, total: int) -> None:
            self.phase(label, done / total if total else 1.0)

        return advance


@contextmanager
def _progress(label: str, backend: Backend | None = None) -> Iterator[_Bar | None]:
    """A progress bar on stderr for long work, only when a person watches a terminal (never
    under cron, in a pipe or in tests); it also follows the backend's reading and writing."""
    if not err.is_terminal:
        yield None
        return
    # Imported here: only a command that shows a bar pays for Rich's progress machinery.
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        console=err.console,
        transient=True,
    ) as progress:
        bar = _Bar(progress, label)
        hooked = backend is not None and hasattr(backend, "progress")
        if hooked:
            backend.progress = bar.phase  # type: ignore[union-attr]
        try:
            yield bar
        finally:
            if hooked:
                backend.progress = None  # type: ignore[union-attr]


def _counter(bar: _Bar | None, label: str) -> service.Progress | None:
    return bar.counter(label) if bar is not None else None


def _print_json(ctx: typer.Context, data: object) -> None:
    """The command's result in the one JSON envelope (sheetfollow/output.py), straight to
    stdout: no highlighting, no wrapping, and nothing held twice (Rich's print_json parses
    it again and styles every token). A list (due's) is written record by record."""
    g: _Globals = ctx.ensure_object(_Globals)
    day = g.day or today_in(Config())
    output.write_data(sys.stdout, g.command or ctx.info_name or "", g.label, day, data)


@app.command()
def init(
    ctx: typer.Context,
    path: Annotated[
        Path, typer.Argument(metavar="WORKBOOK", help="Where to write the workbook.")
    ] = Path("prospects.xlsx"),
    lang: Annotated[
        str, typer.Option("--lang", help=f"Language of tabs and headers: {', '.join(LANGUAGES)}.")
    ] = "en",
    example: Annotated[
        bool, typer.Option("--example", help="A filled demo workbook instead of an empty one.")
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace files that already exist.")
    ] = False,
    country: Annotated[
        str | None,
        typer.Option(
            "--country",
            metavar="CODE",
            help="Public holidays of this country (NL, DE, DK, ES, GB, US ...). Default: the "
            "usual one for --lang.",
        ),
    ] = None,
    timezone: Annotated[
        str | None,
        typer.Option(
            "--timezone",
            metavar="ZONE",
            help="The team's time zone (Europe/Berlin). Default: the country's.",
        ),
    ] = None,
    today: TodayOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Write a starter workbook and a commented sheetfollow.toml next to it. For a workbook
    the team already has, use `sheetfollow adopt` instead."""
    from sheetfollow import starter

    if lang not in LANGUAGES:
        raise typer.BadParameter(f"choose one of {', '.join(LANGUAGES)}", param_hint="--lang")
    g: _Globals = ctx.find_object(_Globals) or _Globals()
    when = today or g.today
    day = _parse_today(when) if when else today_in(Config())
    written = starter.init(
        path,
        lang=lang,
        example=example,
        overwrite=overwrite,
        today=day,
        country=country,
        timezone=timezone,
    )
    for item in written:
        _say(f"wrote {item}")
    config = path.parent / "sheetfollow.toml"
    _say(f"next: sheetfollow refresh --config {config}")


@app.command()
def adopt(
    ctx: typer.Context,
    workbook: Annotated[
        str,
        typer.Argument(
            help="The workbook the team already has (.xlsx/.xlsm), or a Google Sheets URL or key."
        ),
    ],
    tab: Annotated[
        str | None,
        typer.Option("--tab", help="The tab with the prospects. Default: the best fit."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a sheetfollow.toml that already exists.")
    ] = False,
    print_: Annotated[
        bool, typer.Option("--print", help="Show the sheetfollow.toml; write nothing.")
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Where to write. Default: beside the workbook."),
    ] = None,
    json_: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Set sheetfollow up on a workbook the team already has. Reads it (never changes it)
    and writes only sheetfollow.toml: the tab, the header mapping, language, country, date
    order, and the columns the first refresh will add."""
    from sheetfollow import adopt as adopting

    backend = service.open_backend(workbook, Config())
    target = config or adopting.default_target(workbook)
    sheet_value = adopting.sheet_value(workbook, target)
    found, text = adopting.adopt(
        backend, target, sheet_value=sheet_value, force=force, write=not print_, tab=tab
    )
    if json_:
        _print_json(ctx, {**found.as_dict(), "config": str(target), "written": not print_})
        return
    if print_:
        out.line(text, end="")
        return
    for line in found.lines():
        _say(line)
    _say(f"wrote {target} (the workbook was not changed)")
    _say(f"next: sheetfollow check --config {target}, then sheetfollow refresh --dry-run")


@app.command()
def refresh(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; write nothing.")
    ] = False,
    force: ForceOpt = False,
    json_: JsonOpt = False,
    sheet: SheetOpt = None,
    config: ConfigOpt = None,
    today: TodayOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Recompute Next follow-up, Status, Step, Why and Assigned to, and write them back."""
    run, backend = _open(ctx, sheet, config, today)
    with _progress("reading", backend) as bar:
        summary = service.refresh(
            backend,
            run.config,
            run.today,
            dry_run=dry_run,
            force=force,
            progress=_counter(bar, "computing"),
        )
    if json_:
        _print_json(ctx, summary.as_dict())
        with _muted():
            _print_summary(summary)
    else:
        _print_summary(summary)
    _end_pending(summary.pending)


def _end_pending(pending: str) -> None:
    """When the workbook could not be written and the changes wait in the journal: one
    line on stderr, and the documented exit code."""
    if pending:
        if _session is not None:
            _session.warning(f"pending: {pending}")
        err.tagged("pending:", "bold yellow", printable(pending))
        raise typer.Exit(int(ExitCode.PENDING))


def _notes(lines: list[str] | tuple[str, ...]) -> None:
    """Notes about pending changes, on stderr so --json output stays clean."""
    for line in lines:
        if _session is not None:
            _session.info(f"note: {line}", shown=not out.quiet)
        if not out.quiet:
            err.line(f"note: {printable(line)}")


def _say(text: str) -> None:
    """A line of plain text: never markup (it quotes paths and cells), never wrapped (cron
    logs and scripts read it line by line)."""
    if _session is not None:
        _session.info(text, shown=True)
    out.line(printable(text))


def _print_summary(s: service.RefreshSummary) -> None:
    verb = "would change" if s.dry_run else "changed"
    _say(
        f"{s.sheet}: {s.rows} prospects · {s.due} due · {s.overdue} overdue · {s.new} new · "
        f"{s.dead} dead · {s.needs_attention} need attention · {s.cells_changed} cells {verb}"
    )
    if s.typed:
        verb = "would be recorded" if s.dry_run else "recorded"
        _say(f"  {len(s.typed)} typed {'touch' if len(s.typed) == 1 else 'touches'} {verb}:")
        for line in s.typed:
            _say(f"    {line}")
    for note in s.notes:
        _say(f"  {note}")
    if s.ids_filled:
        _say(f"  {s.ids_filled} new IDs filled in")
    if s.columns_added:
        _say(f"  columns added: {', '.join(s.columns_added)}")
    for message in s.skipped:
        _say(f"  skipped {message}")
    if s.needs_attention:
        _say("  run 'sheetfollow check' to see which cells need attention")


@app.command()
def due(
    ctx: typer.Context,
    owner: Annotated[
        str | None, typer.Option("--owner", "-o", help="Only this owner's (or delegate's) list.")
    ] = None,
    explain: Annotated[
        bool, typer.Option("--explain", help="Add an Order column: why each row is where it is.")
    ] = False,
    json_: JsonOpt = False,
    sheet: SheetOpt = None,
    config: ConfigOpt = None,
    today: TodayOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Today's follow-ups in the call order: promised call-backs, same-day leads and quotes,
    overdue (oldest first), then due today (largest value first)."""
    run, ws = _view(ctx, sheet, config, today, lean=True)
    pipeline = ws.pipeline()
    rows = service.due_rows(pipeline, run.today, owner)
    if json_:
        _print_json(ctx, _due_records(rows, run.today, explain=explain))
        return
    if not rows:
        who = f" for {owner}" if owner else ""
        _say(f"Nothing due{who} on {run.today.isoformat()}.")
        return
    out.show(_due_table(rows, run.today, out.width, explain=explain, language=run.config.language))
    from sheetfollow import capacity

    language = run.config.language
    for line in capacity.notes(pipeline.rows, pipeline.over_limit, run.today, owner, language):
        _say(line)


def _due_records(rows: list[Row], today: date, *, explain: bool) -> Iterator[dict[str, Any]]:
    """due --json's records, made as they are written: a big list is never held twice."""
    from sheetfollow import priority

    for row in rows:
        item = service.row_as_dict(row, today)
        if explain:
            item["order"] = priority.place(row, today).reason
        yield item


_STATUS_STYLE = {
    Status.OVERDUE: "bold red",
    Status.DUE: "yellow",
    Status.NEW: "cyan",
    Status.WON: "green",
    Status.CUSTOMER: "green",
}


#: Terminal widths from which the optional columns of the due table are shown; narrower
#: terminals get the columns a caller needs most (everything is in --json).
_WITH_OWNER_AND_STEP = 100
_WITH_WHY = 140


def _whole_amount(value: float, language: str) -> str:
    """A value as the team writes whole amounts: 145,500 in English, 145.500 in Dutch."""
    if language == "en":
        return f"{value:,.0f}"
    return i18n.number_text(round(value), language)


def _due_table(
    rows: list[Row], today: date, width: int, *, explain: bool = False, language: str = "en"
) -> RichTable:
    from rich.cells import cell_len
    from rich.table import Table as RichTable
    from rich.text import Text

    from sheetfollow import priority

    overdue = sum(1 for r in rows if (r.computed.next_follow_up or today) < today)
    table = RichTable(
        title=i18n.due_title(len(rows), today, overdue, language),
        title_justify="left",
        box=None,
        header_style="bold",
        pad_edge=False,
    )
    middle = width >= _WITH_OWNER_AND_STEP
    wide = width >= _WITH_WHY
    # --explain makes room for the Order by leaving out whom to call, unless there is room.
    reach = wide or not explain
    # Each column, with the most it may take; None: as wide as its widest cell. Company and
    # Contact share what the others leave (Why, when shown, wraps into the rest).
    columns: list[tuple[str, int | None, list[str]]] = []

    def add(name: str, most: int | None, values: list[str]) -> None:
        columns.append((name, most, [printable(v) for v in values]))

    def late(row: Row) -> int:
        return (today - (row.computed.next_follow_up or today)).days

    add("Due", None, [i18n.due_when(late(r), language) for r in rows])
    add("ID", 10, [r.prospect.id for r in rows])
    add("Company", 30 if middle else 22, [r.prospect.company for r in rows])
    if reach:
        add("Contact", 20 if middle else 16, [r.prospect.contact for r in rows])
        add("Phone", 18, [r.prospect.phone for r in rows])
    add("For", 12 if middle else 8, [r.computed.assigned_to for r in rows])
    if middle:
        add("Step", 10, [i18n.step_text(r.computed.step, language) for r in rows])
    values = [r.prospect.value for r in rows]
    add("Value", None, [_whole_amount(v, language) if v is not None else "" for v in values])
    if explain:
        add("Order", None, [priority.place(r, today).reason_in(language) for r in rows])
    natural = {
        name: min(
            max([cell_len(i18n.due_heading(name, language)), *(cell_len(v) for v in values)]),
            most or width,
        )
        for name, most, values in columns
    }
    flexible = [name for name in ("Company", "Contact") if name in natural]
    used = sum(n for name, n in natural.items() if name not in flexible) + 2 * len(columns)
    room = max(width - used - (20 if wide else 0), 8 * len(flexible))
    if sum(natural[name] for name in flexible) > room:
        # The company is what a caller looks for: it gets three parts of five.
        company = max(room * 3 // 5 if len(flexible) == 2 else room, 8)
        natural["Company"] = min(natural["Company"], company)
        if "Contact" in natural:
            natural["Contact"] = min(natural["Contact"], max(room - natural["Company"], 8))
    for name, _, _ in columns:
        right = name == "Value"
        table.add_column(
            i18n.due_heading(name, language),
            justify="right" if right else "left",
            no_wrap=True,
            overflow="ellipsis",
            width=natural[name],
        )
    if wide:
        table.add_column(i18n.due_heading("Why", language), overflow="fold")
    for index, row in enumerate(rows):
        # Text, not str: what people typed in the sheet ("ACME [UK]") is never markup.
        cells = [Text(values[index]) for _, _, values in columns]
        cells[0].stylize(_STATUS_STYLE.get(row.computed.status, ""))
        if wide:
            cells.append(Text(printable(i18n.localise(row.computed.why, language))))
        table.add_row(*cells)
    return table


def _texts(*values: str) -> list[Text]:
    from rich.text import Text

    return [Text(printable(value)) for value in values]


ResendOpt = Annotated[
    bool,
    typer.Option("--force", help="Send again to those who already got today's email."),
]
OwnerOnlyOpt = Annotated[
    str | None,
    typer.Option(
        "--owner",
        "-o",
        metavar="NAME",
        help="Only the email of this owner, delegate or manager (name or address).",
    ),
]
OutboxOpt = Annotated[
    Path | None,
    typer.Option(
        "--outbox",
        metavar="DIR",
        help="Write every email as an .eml file to DIR instead of sending it.",
    ),
]
NotifyDryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Show who would get which email; send and write nothing.")
]


@app.command("notify")
def notify_command(
    ctx: typer.Context,
    dry_run: NotifyDryRunOpt = False,
    force: ResendOpt = False,
    owner: OwnerOnlyOpt = None,
    outbox: OutboxOpt = None,
    json_: JsonOpt = False,
    sheet: SheetOpt = None,
    config: ConfigOpt = None,
    today: TodayOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Email each owner today's call list and each manager the digest, once a day.

    Exit 7 when some emails failed (they are retried on the next run), 8 when the mail
    server cannot be used, 6 when what went out could not be recorded in the workbook.
    """
    from sheetfollow import notifier

    run, backend = _open(ctx, sheet, config, today)
    report = notifier.notify(
        backend, run.config, run.today, dry_run=dry_run, owner=owner, outbox=outbox, force=force
    )
    if json_:
        _print_json(ctx, report.as_dict())
        _log_only(report.lines())
    else:
        for line in report.lines():
            _say(line)
    _end_notify(report)


@app.command("run")
def run_command(
    ctx: typer.Context,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Show what would change and who would get which email; write and send nothing.",
        ),
    ] = False,
    force: ResendOpt = False,
    outbox: OutboxOpt = None,
    json_: JsonOpt = False,
    sheet: SheetOpt = None,
    config: ConfigOpt = None,
    today: TodayOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Read the replies to the email's buttons ([inbox]), refresh, then notify: the line
    for cron. Exit codes as for notify; 8 also when the inbox could not be read (the emails
    still go out)."""
    from sheetfollow import notifier

    run, backend = _open(ctx, sheet, config, today)
    replies, inbox_code = _run_inbox(backend, run, dry_run=dry_run, force=force, json_=json_)
    report = notifier.run(
        backend, run.config, run.today, dry_run=dry_run, outbox=outbox, force=force
    )
    if json_:
        found = report.as_dict()
        if replies is not None:
            found["inbox"] = replies
        _print_json(ctx, found)
        with _muted():
            _print_summary(report.refresh)
        _log_only(report.notify.lines())
    else:
        _print_summary(report.refresh)
        for line in report.notify.lines():
            _say(line)
    if inbox_code and not report.notify.exit_code:
        raise typer.Exit(int(inbox_code))
    _end_notify(report.notify)


def _run_inbox(
    backend: Backend, run: _Run, *, dry_run: bool, force: bool, json_: bool
) -> tuple[dict[str, object] | None, ExitCode]:
    """`run` reads the replies first, so today's lists already count them. A mail server
    that cannot be used is reported and the morning emails still go out; touches that wait
    in the pending journal are written by the run itself (or it exits 10)."""
    inbox_config = run.config.inbox
    if not (inbox_config.address and inbox_config.host):
        return None, ExitCode.OK
    from sheetfollow import inbox

    try:
        report = inbox.read_inbox(
            backend, run.config, run.today, environ=os.environ, dry_run=dry_run, force=force
        )
    except SheetfollowError as error:
        if not isinstance(error, (RemoteError, ConfigError)):
            raise
        _error(f"the replies were not read: {error}; the emails go out all the same")
        return {"error": str(error)}, error.exit_code
    if not json_:
        for line in report.lines():
            _say(line)
    else:
        _log_only(report.lines())
    if report.move_error:
        _error(report.move_error)
    code = ExitCode.REMOTE if report.move_error else ExitCode.OK
    return report.as_dict(), code


@app.command("inbox")
def inbox_command(
    ctx: typer.Context,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Read and decide, but record and move nothing."),
    ] = False,
    init_: Annotated[
        bool,
        typer.Option(
            "--init",
            help="Create the team secret that signs the buttons (a file only you can read, "
            "beside sheetfollow.toml or at [inbox] secret_file); an existing one is kept.",
        ),
    ] = False,
    force: ForceOpt = False,
    json_: JsonOpt = False,
    sheet: SheetOpt = None,
    config: ConfigOpt = None,
    today: TodayOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Record the replies to the email's outcome buttons, read from the [inbox] mailbox.

    Each valid reply is recorded as `mark` records a touch and moved to done_folder; a
    forged, altered, expired or unknown one is moved to review_folder. Nothing is deleted.
    Exit 8 when the mail server cannot be used, 10 when the touches wait in the pending
    journal.
    """
    from sheetfollow import inbox

    if init_:
        _init_secret(_run(ctx, sheet, config, today).config)
        return
    run, backend = _open(ctx, sheet, config, today)
    report = inbox.read_inbox(
        backend, run.config, run.today, environ=os.environ, dry_run=dry_run, force=force
    )
    if json_:
        _print_json(ctx, report.as_dict())
        _log_only(report.lines())
    else:
        for line in report.lines():
            _say(line)
    if report.move_error:
        _error(report.move_error)
        raise typer.Exit(int(report.exit_code))
    _end_pending(report.pending)


def _init_secret(config: Config) -> None:
    from sheetfollow import inbox
    from sheetfollow.secrets import INBOX_SECRET_ENV

    made = inbox.init_secret(config, os.environ)
    if made.created:
        _say(f"wrote a new team secret to {made.path} (only you can read it)")
    else:
        _say(
            f"{made.path} already holds the team secret: kept (a new one would void every "
            "button already sent)"
        )
    where = f" --config {config.path}" if config.path else ""
    _say(
        f"sheetfollow finds it there when it runs as this user with{where or ' its config'} "
        "(cron too). For another user or machine, copy it with 'install -m 600' and set "
        f"[inbox] secret_file, or put its contents in {INBOX_SECRET_ENV}."
    )
    if made.from_environment:
        _say(f"note: {INBOX_SECRET_ENV} is set, and is used instead of the file")


def _end_notify(report: NotifyReport) -> None:
    """Exit with the report's code; first a loud line when the mail server could not be
    used or what went out could not be recorded."""
    problem = report.unrecorded or report.server_error
    if report.unrecorded and report.unrecorded_code == ExitCode.PENDING:
        # Everything went out; only the write-back waits, so this is no error.
        _end_pending(report.unrecorded)
    if problem:
        _error(problem)
    if report.exit_code:
        raise typer.Exit(int(report.exit_code))


@app.command()
def check(
    ctx: typer.Context,
    smtp: Annotated[
        bool,
        typer.Option(
            "--smtp",
            help="Check the mail server instead of the sheet: find it, connect, start TLS and "
            "log in, sending nothing. Exit 8 when a step fails.",
        ),
    ] = False,
    inbox: Annotated[
        bool,
        typer.Option(
            "--inbox",
            help="Check the [inbox] mailbox instead of the sheet: find the IMAP server, "
            "connect, secure the connection, log in and open the folder, changing nothing. "
            "Exit 8 when a step fails.",
        ),
    ] = False,
    json_: JsonOpt = False,
    sheet: SheetOpt = None,
    config: ConfigOpt = None,
    today: TodayOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Validate the config, the headers and every row. Exit 5 when there are problems."""
    if smtp and inbox:
        raise UsageError("check --smtp and check --inbox are separate: give one of them")
    if smtp:
        _check_smtp(ctx, _run(ctx, sheet, config, today).config, json_)
        return
    if inbox:
        _check_inbox(ctx, _run(ctx, sheet, config, today).config, json_)
        return
    run, backend = _open(ctx, sheet, config, today)
    google = _check_access(ctx, backend, json_)
    from sheetfollow.workspace import open_workspace

    ws = open_workspace(backend, run.config, run.today)
    pipeline = ws.pipeline()
    problems = service.check(pipeline)
    typed = [item.line() for item in ws.typed_touches]
    if json_:
        _print_json(
            ctx,
            {
                "sheet": backend.label,
                "rows": len(pipeline.rows),
                "unknown_columns": list(pipeline.header.unknown),
                "left_alone": [
                    {"row": item.row, "kind": item.kind, "text": item.text}
                    for item in pipeline.left_alone
                ],
                "problems": [{"ref": p.ref, "message": p.message} for p in problems],
                "typed_touches": typed,
                "pending": ws.notes(),
                **({"google": google} if google else {}),
            },
        )
    else:
        _print_check(backend.label, pipeline, problems, typed, ws.notes())
    if problems:
        raise typer.Exit(int(ExitCode.PROBLEMS))


def _check_access(ctx: typer.Context, backend: Backend, json_: bool) -> dict[str, object] | None:
    """For a Google Sheet, say which service account is used and whether the sheet is
    shared with it; stop with the reason when it is not."""
    access = service.sheet_access(backend)
    if access is None:
        return None
    if json_ and access.error is not None:
        # The error envelope, with what was found out: which account, which key file.
        error = access.error
        _json_error(ctx, error.exit_code, str(error), {"google": access.as_dict()})
        _error(str(error))
        raise typer.Exit(int(error.exit_code))
    if not json_:
        _say(f"service account: {access.account} (key {access.key_file})")
        if access.shared:
            _say(f"  the sheet {access.title!r} is shared with it")
    if access.error is not None:
        raise access.error
    return access.as_dict()


def _check_smtp(ctx: typer.Context, config: Config, json_: bool) -> None:
    from sheetfollow.notify import smtp

    settings = smtp.settings_from(config, os.environ)
    if settings is None:
        _print_no_server(
            ctx, "no mail server set ([smtp] host): emails are written to the outbox folder", json_
        )
        return
    steps = smtp.check(settings)
    heading = f"{settings.server} ({settings.security})"
    verdicts = ("the mail server works", "the mail server cannot be used")
    _print_steps(ctx, settings.server, heading, steps, len(smtp.STEPS), verdicts, json_)


def _check_inbox(ctx: typer.Context, config: Config, json_: bool) -> None:
    from sheetfollow.config import CONFIG_NAME
    from sheetfollow.notify import imap

    if not (config.inbox.host or os.environ.get(imap.ENV_OVERRIDES["host"], "").strip()):
        _print_no_server(
            ctx,
            "no mailbox set ([inbox] host): the emails carry no outcome buttons and no "
            "replies are read",
            json_,
        )
        return
    source = config.path.name if config.path else CONFIG_NAME
    settings = imap.imap_settings(config.inbox, os.environ, source=source)
    steps = imap.check(settings, config.inbox.folder)
    heading = f"{settings.server} ({settings.security}, {settings.username})"
    verdicts = ("the mailbox works", "the mailbox cannot be used")
    _print_steps(ctx, settings.server, heading, steps, len(imap.STEPS), verdicts, json_)


def _print_no_server(ctx: typer.Context, text: str, json_: bool) -> None:
    if json_:
        _print_json(ctx, {"server": None, "ok": True, "steps": [], "note": text})
    else:
        _say(text)


def _print_steps(
    ctx: typer.Context,
    server: str,
    heading: str,
    steps: list[Any],
    expected: int,
    verdicts: tuple[str, str],
    json_: bool,
) -> None:
    """The steps of a server check (connect, TLS, login ...), each ok or FAIL with why, and
    exit REMOTE unless every one of them passed."""
    ok = all(step.ok for step in steps) and len(steps) == expected
    if json_:
        found = [{"step": s.name, "ok": s.ok, "text": s.text} for s in steps]
        _print_json(ctx, {"server": server, "ok": ok, "steps": found})
    else:
        _say(heading)
        for step in steps:
            _say(f"  {'ok  ' if step.ok else 'FAIL'}  {step.name}: {step.text}")
        _say(verdicts[0] if ok else verdicts[1])
    if not ok:
        raise typer.Exit(int(ExitCode.REMOTE))


def _print_check(
    label: str,
    pipeline: service.Pipeline,
    problems: list[Any],
    typed: list[str],
    notes: list[str],
) -> None:
    config_note = f"{label}: {len(pipeline.rows)} prospects, headers in row "
    _say(f"{config_note}{pipeline.header.header_row}")
    if pipeline.header.unknown:
        left = ", ".join(repr(u) for u in pipeline.header.unknown)
        _say(f"  columns left alone: {left}")
    for item in pipeline.left_alone:
        _say(f"  {item.line()}")
    if typed:
        noun = "touch" if len(typed) == 1 else "touches"
        _say(f"  {len(typed)} typed {noun} to record (the next refresh or run records them):")
        for line in typed:
            _say(f"    {line}")
    for note in notes:
        _say(f"  {note}")
    for problem in problems:
        _say(f"  {problem.ref}: {problem.message}")
    if problems:
        _say(f"{len(problems)} problems")
    else:
        _say("no problems found")


@app.command("stats")
def stats_command(
    ctx: typer.Context,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="DATE",
            help="Start of the period (2026-02-01 or 01-02-2026); it ends today. Default: 30 "
            "days ago. The funnel counts the prospects first called in the period.",
        ),
    ] = None,
    by: Annotated[
        str,
        typer.Option("--by", metavar="GROUP", help="Group the table by owner or by segment."),
    ] = "owner",
    json_: JsonOpt = False,
    csv_: Annotated[
        bool, typer.Option("--csv", help="Print CSV: the funnel, a blank line, the table.")
    ] = False,
    sheet: SheetOpt = None,
    config: ConfigOpt = None,
    today: TodayOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Funnel per calling round; per owner or segment: touches, due, overdue, died, won.

    Round k counts the prospects whose first k-1 touches in the Log went unanswered and who
    had a k-th: how many were reached then, became interested and were won. Touches count
    for the prospect's owner, whoever made them. Due and overdue are the call list now.
    """
    from sheetfollow import stats
    from sheetfollow.log import read_log

    if json_ and csv_:
        raise typer.BadParameter("choose --json or --csv, not both", param_hint="--csv")
    if by not in stats.GROUP_BY:
        raise typer.BadParameter(f"choose {' or '.join(stats.GROUP_BY)}", param_hint="--by")
    start = _parse_since(since) if since else None
    run, ws = _view(ctx, sheet, config, today)
    pipeline = ws.pipeline()
    report = stats.build(
        read_log(ws.sheet, run.config),
        pipeline.rows,
        today=run.today,
        since=start,
        by=by,
        rules=run.config.rules,
        owners=pipeline.owners,
    )
    if json_:
        _print_json(ctx, report.as_dict())
    elif csv_:
        # Names in the table are people's text: no markup, no :emoji: codes.
        out.line(stats.to_csv(report), end="")
    else:
        out.show(stats.render(report, out.width))


def _parse_since(text: str) -> date:
    from sheetfollow.schema import parse_day

    return parse_day(text, "--since")


@app.command("mark")
def mark_command(
    ctx: typer.Context,
    who: Annotated[
        str,
        typer.Argument(
            metavar="PROSPECT",
            help="The prospect: an ID, an email address, or a company or contact.",
        ),
    ],
    outcome: Annotated[
        str,
        typer.Argument(
            help="What happened: reached, no-answer, voicemail, interested, call-back, "
            "quote-sent, not-interested, won, delivered or lost (also in nl, de, da, es)."
        ),
    ],
    note: Annotated[str, typer.Option("--note", metavar="TEXT", help="A note for the Log.")] = "",
    channel: Annotated[
        str | None,
        typer.Option("--channel", metavar="CHANNEL", help="How it went: phone, email or visit."),
    ] = None,
    on: Annotated[
        str | None,
        typer.Option(
            "--on", metavar="DATE", help="Follow up on this date (2026-12-31 or 31-12-2026)."
        ),
    ] = None,
    in_: Annotated[
        str | None,
        typer.Option(
            "--in",
            metavar="DELAY",
            help="Follow up this long after the touch: 3d, 2w or 3m (days, weeks, months).",
        ),
    ] = None,
    by: Annotated[
        str | None,
        typer.Option("--by", metavar="NAME", help="Who made the touch. Default: Assigned to."),
    ] = None,
    date_: Annotated[
        str | None,
        typer.Option("--date", metavar="DATE", help="The day of the touch. Default: today."),
    ] = None,
    force: ForceOpt = False,
    json_: JsonOpt = False,
    sheet: SheetOpt = None,
    config: ConfigOpt = None,
    today: TodayOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Record a touch: update the prospect's row, append it to the Log, recompute the row."""
    from sheetfollow import mark
    from sheetfollow.errors import NoMatchError

    request = mark.MarkRequest(
        who, outcome, note=note, channel=channel, on=on, within=in_, by=by, day=date_
    )
    run, backend = _open(ctx, sheet, config, today)
    try:
        result = mark.mark(backend, run.config, run.today, request, force=force)
    except NoMatchError as error:
        _json_error(ctx, error.exit_code, str(error), {"candidates": list(error.candidates)})
        _error(str(error))
        for line in error.candidates:
            err.line(f"  {printable(line)}")
        raise typer.Exit(int(error.exit_code)) from None
    if json_:
        _print_json(ctx, result.as_dict(run.today))
        _log_only([result.summary(run.config.language)])
    else:
        _say(result.summary(run.config.language))
    _end_pending(result.pending)


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(
            help="A CSV (any delimiter; UTF-8 or Windows-1252), e.g. a HubSpot, Pipedrive or "
            "Salesforce export, or an .xlsx/.xlsm whose first tab holds the prospects."
        ),
    ],
    owner: Annotated[
        str | None,
        typer.Option(
            "--owner",
            "-o",
            help="Owner of lines without one. Default: the owners of the Owners tab in turn.",
        ),
    ] = None,
    segment: Annotated[
        str | None, typer.Option("--segment", help="Segment of lines without one.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would be added; write nothing.")
    ] = False,
    force: ForceOpt = False,
    json_: JsonOpt = False,
    sheet: SheetOpt = None,
    config: ConfigOpt = None,
    today: TodayOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Add new prospects from a CSV or Excel file; skip duplicates and those who said no."""
    from sheetfollow import importer

    run, backend = _open(ctx, sheet, config, today)
    with _progress("reading", backend) as bar:
        report = importer.import_file(
            backend,
            run.config,
            file,
            run.today,
            owner=owner,
            segment=segment,
            by=importer.os_user(),
            dry_run=dry_run,
            force=force,
            progress=_counter(bar, "importing"),
        )
    if json_:
        _print_json(ctx, report.as_dict())
        _log_only(report.text())
    else:
        for line in report.text():
            _say(line)
    _end_pending(report.pending)


@app.command("pending")
def pending_command(
    ctx: typer.Context,
    drop: Annotated[
        list[str] | None,
        typer.Option(
            "--drop",
            metavar="ID",
            help="Discard this pending change (the first 8 characters of its ID are enough). "
            "It is never written.",
        ),
    ] = None,
    json_: JsonOpt = False,
    sheet: SheetOpt = None,
    config: ConfigOpt = None,
    today: TodayOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """List the changes waiting to be written while the workbook could not be (open in
    Excel, locked, read-only): touches, imports and records of sent emails."""
    from sheetfollow import workspace

    run, backend = _open(ctx, sheet, config, today)
    listing = workspace.pending(backend, run.config, run.today, drop=drop or ())
    if json_:
        _print_json(ctx, listing.as_dict())
        return
    for line in listing.lines():
        _say(line)


@app.command("config")
def config_command(
    ctx: typer.Context,
    json_: JsonOpt = False,
    sheet: SheetOpt = None,
    config: ConfigOpt = None,
    today: TodayOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Show which sheetfollow.toml and sheet a command run here uses, why, and its log.

    The config is --config, else the file SHEETFOLLOW_CONFIG names, else sheetfollow.toml
    in this folder or a parent (up to a repository's root), else the one in the user config
    folder. The sheet is --sheet, else SHEETFOLLOW_SHEET, else `sheet` in the config.
    """
    from sheetfollow import runlog
    from sheetfollow.config import CONFIG_ENV

    if _session is not None:
        _session.silent = True  # looking at the set-up is no run
    run = _run(ctx, sheet, config, today)
    found = run.found or find_config(None)
    where = runlog.log_path(run.sheet, run.config.path, run.config.log_file)
    log_file = where or runlog.fallback(None)
    places = [p for p in found.looked if p not in ("--config", CONFIG_ENV)]
    if json_:
        _print_json(
            ctx,
            {
                "config_file": str(found.file) if found.file else None,
                "config_found_by": found.rule or None,
                "looked": places,
                "sheet": run.sheet,
                "sheet_found_by": run.sheet_rule or None,
                "log_file": str(log_file),
                "timezone": run.config.timezone,
            },
        )
        return
    if found.file is not None:
        _say(f"config  {found.file} (from {found.rule})")
    else:
        _say("config  none found: the built-in defaults apply; looked at")
        for place in places:
            _say(f"          {place}")
    if run.sheet:
        _say(f"sheet   {run.sheet} (from {run.sheet_rule})")
    else:
        _say("sheet   none")
    _say(f"log     {log_file}")
    zone = run.config.timezone or "the zone of this machine"
    _say(f"today   {run.today.isoformat()} (in {zone})")
    if run.sheet is None and found.file is None:
        _say(nothing_found(found))


@app.command("log")
def log_command(
    ctx: typer.Context,
    count: Annotated[
        int,
        typer.Option("--count", "-n", metavar="N", min=1, help="How many of the last runs."),
    ] = 10,
    full: Annotated[
        bool, typer.Option("--full", help="Every line of those runs, not one line each.")
    ] = False,
    json_: JsonOpt = False,
    sheet: SheetOpt = None,
    config: ConfigOpt = None,
    today: TodayOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Show the last runs from the run log: when, exit code, command, what happened.

    Every command appends to the log what it read, changed, sent and skipped, and why
    (.sheetfollow/<workbook>.log beside the workbook, or log_file in the config).
    """
    from sheetfollow import runlog

    if _session is not None:
        _session.silent = True  # reading the log is no run
    run = _run(ctx, sheet, config, today)
    where = runlog.log_path(run.sheet, run.config.path, run.config.log_file)
    places = [p for p in (where, runlog.fallback(run.sheet)) if p is not None]
    runs = runlog.read_runs(f for place in places for f in runlog.files(place))[-count:]
    if json_:
        _print_json(ctx, {"log_files": [str(p) for p in places], "runs": runlog.as_records(runs)})
        return
    if not runs:
        _say(f"no runs in the log yet (looked at {', '.join(str(p) for p in places)})")
        return
    if full:
        for item in runs:
            for line in item.lines:
                _say(f"{line.moment} {item.run_id} {line.level} {line.text}")
        return
    _say(f"{'when':<16}  exit  command  what happened")
    for row in runlog.table(runs, out.width):
        _say(row)


def _resolve_annotations(app: typer.Typer) -> None:
    """Typer reads the signature of every command on each run (all of them, for the one that
    runs) and evaluates each annotation, a string here, twice; an option callback's once for
    each option it serves. Evaluated once, here, they are taken as they are: 0.01 s of each
    run, --help included."""
    todo: list[Any] = [info.callback for info in app.registered_commands]
    if app.registered_callback is not None:
        todo.append(app.registered_callback.callback)
    done: set[Any] = set()
    while todo:
        function = todo.pop()
        if function is None or function in done:
            continue
        done.add(function)
        function.__annotations__ = inspect.get_annotations(function, eval_str=True)
        for hint in function.__annotations__.values():
            # The callbacks of its options (--json, -q, -v) are read as the commands are.
            extras = getattr(hint, "__metadata__", ())
            todo.extend(getattr(extra, "callback", None) for extra in extras)


_resolve_annotations(app)  # after the last command


def main() -> None:
    """Console-script entry point."""
    sys.exit(app())
