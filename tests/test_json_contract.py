"""Every --json output, success and error alike, is one object in the documented envelope,
and validates against the schema kept in docs/json/output.schema.json."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from io import StringIO
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import typer.main
from backends.test_xlsx_locks import excel_owner_file
from conftest import Cli
from fakes.imap_server import ImapAccount

from sheetfollow import output, starter
from sheetfollow.cli import app
from sheetfollow.exit_codes import ExitCode
from sheetfollow.secrets import INBOX_SECRET_ENV

SCHEMA_FILE = Path(__file__).parents[1] / "docs" / "json" / "output.schema.json"
DATA = Path(__file__).parent / "data"
TODAY = date(2026, 3, 11)
DAY = TODAY.isoformat()


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example workbook and its config, made once; each test works on a copy."""
    folder = tmp_path_factory.mktemp("example")
    starter.init(folder / "pipeline.xlsx", example=True, today=TODAY)
    return folder


@pytest.fixture
def demo(example: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "demo"
    shutil.copytree(example, folder)
    return folder


def envelope(
    validator: jsonschema.protocols.Validator, stdout: str, command: str
) -> dict[str, Any]:
    """The one JSON object on stdout (json.loads refuses anything after it), validated."""
    found: dict[str, Any] = json.loads(stdout)
    validator.validate(found)
    assert found["version"] == output.VERSION
    assert found["command"] == command
    return found


# --- Each command, as it succeeds and as it fails ---------------------------------------------


def lock(folder: Path) -> None:
    """Excel's owner file beside the workbook: the workbook is open on someone's laptop."""
    (folder / "~$pipeline.xlsx").write_bytes(excel_owner_file("Anna de Vries"))


def broken_config(folder: Path) -> None:
    (folder / "sheetfollow.toml").write_text("[rules\n", encoding="utf-8")


def unsheeted(folder: Path) -> None:
    """A config that names a workbook that is not there."""
    config = folder / "sheetfollow.toml"
    text = config.read_text(encoding="utf-8")
    assert 'sheet = "pipeline.xlsx"' in text
    config.write_text(text.replace('sheet = "pipeline.xlsx"', 'sheet = "gone.xlsx"'), "utf-8")


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    code: int
    #: The error's kind; None: the command's data (whatever the exit code says besides).
    kind: str | None = None
    setup: Callable[[Path], None] | None = None
    #: Given --config and --today (adopt takes neither: it writes a config).
    shared: bool = True

    @property
    def id(self) -> str:
        return " ".join(self.args) + (f" [{self.setup.__name__}]" if self.setup else "")


CASES = [
    Case(("due",), ExitCode.OK),
    Case(("due", "--explain", "--owner", "Lucía"), ExitCode.OK),
    Case(("due", "--sheet", "missing.xlsx"), ExitCode.SHEET, "sheet"),
    Case(("due", "--bogus"), ExitCode.USAGE, "usage"),
    Case(("due",), ExitCode.CONFIG, "config", broken_config),
    Case(("refresh",), ExitCode.OK),
    Case(("refresh", "--dry-run"), ExitCode.OK),
    Case(("refresh",), ExitCode.BUSY, "busy", lock),
    Case(("check",), ExitCode.PROBLEMS),
    Case(("check", "--smtp"), ExitCode.OK),
    Case(("check", "--inbox"), ExitCode.OK),
    Case(("check", "--smtp", "--inbox"), ExitCode.USAGE, "usage"),
    Case(("check",), ExitCode.CONFIG, "config", broken_config),
    Case(("stats",), ExitCode.OK),
    Case(("stats", "--by", "segment", "--since", "01-01-2026"), ExitCode.OK),
    Case(("stats", "--since", "2026-02-30"), ExitCode.USAGE, "usage"),
    Case(("stats", "--csv"), ExitCode.USAGE, "usage"),
    Case(("mark", "P-0085", "reached", "--note", "see you at the fair"), ExitCode.OK),
    Case(("mark", "P-0085", "no answer"), ExitCode.PENDING, None, lock),
    Case(("mark", "Talleres", "reached"), ExitCode.NO_MATCH, "no_match"),
    Case(("mark", "P-0085", "maybe"), ExitCode.USAGE, "usage"),
    Case(("mark",), ExitCode.USAGE, "usage"),
    Case(("import", str(DATA / "import" / "leads.csv")), ExitCode.OK),
    Case(("import", str(DATA / "import" / "hubspot.csv"), "--dry-run"), ExitCode.OK),
    Case(("import", "nothing-here.csv"), ExitCode.USAGE, "usage"),
    Case(("notify", "--outbox", "out"), ExitCode.OK),
    Case(("notify", "--dry-run"), ExitCode.OK),
    Case(("notify", "--outbox", "out"), ExitCode.CONFIG, "config", broken_config),
    Case(("run", "--outbox", "out"), ExitCode.OK),
    Case(("run", "--dry-run"), ExitCode.OK),
    Case(("run", "--outbox", "out"), ExitCode.SHEET, "sheet", unsheeted),
    Case(("inbox", "--dry-run"), ExitCode.CONFIG, "config"),
    Case(("pending",), ExitCode.OK),
    Case(("pending", "--drop", "abcdef12"), ExitCode.USAGE, "usage"),
    Case(("config",), ExitCode.OK),
    Case(("config",), ExitCode.CONFIG, "config", broken_config),
    Case(("log",), ExitCode.OK),
    Case(("log", "-n", "0"), ExitCode.USAGE, "usage"),
    Case(("adopt", "demo/pipeline.xlsx", "--print"), ExitCode.OK, shared=False),
    Case(("adopt", "demo/missing.xlsx", "--print"), ExitCode.SHEET, "sheet", shared=False),
]
#: The commands CASES runs with --json: every command that has the option.
COVERED = {case.args[0] for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_every_json_output_is_one_envelope(
    case: Case, cli: Cli, demo: Path, validator: jsonschema.protocols.Validator
) -> None:
    if case.setup is not None:
        case.setup(demo)
    config = demo / "sheetfollow.toml"
    shared = ("--config", config, "--today", DAY) if case.shared else ()
    result = cli(*case.args, "--json", *shared)
    assert result.exit_code == case.code, result.output
    found = envelope(validator, result.stdout, case.args[0])
    if case.kind is None:
        assert "error" not in found
        assert found["day"] == DAY or not case.shared
        assert found["sheet"] in (str(demo / "pipeline.xlsx"), None)
        return
    error = found["error"]
    assert (error["code"], error["kind"]) == (case.code, case.kind)
    # The same line a person reads on stderr.
    assert error["message"] in " ".join(result.stderr.split()) or case.kind == "usage"


def test_the_cases_cover_every_command_with_json() -> None:
    group: Any = typer.main.get_command(app)
    with_json = {
        name
        for name, command in group.commands.items()
        if any("--json" in getattr(p, "opts", ()) for p in command.params)
    }
    assert with_json == COVERED


def test_a_locked_workbook_is_an_error_or_kept_pending_never_plain_text(
    cli: Cli, demo: Path, validator: jsonschema.protocols.Validator
) -> None:
    lock(demo)
    common = ("--json", "--config", demo / "sheetfollow.toml", "--today", DAY)
    refreshed = cli("refresh", *common)
    error = envelope(validator, refreshed.stdout, "refresh")["error"]
    assert (error["code"], error["kind"]) == (ExitCode.BUSY, "busy")
    assert "open in Excel" in error["message"]
    # A touch is never lost to a lock: it waits in the journal, and says so (exit 10).
    marked = cli("mark", "P-0085", "reached", *common)
    assert marked.exit_code == ExitCode.PENDING, marked.output
    kept = envelope(validator, marked.stdout, "mark")["data"]
    assert "open in Excel" in kept["pending"]
    assert kept["row"]["last_outcome"] == "reached"


def test_an_ambiguous_name_lists_the_candidates(
    cli: Cli, demo: Path, validator: jsonschema.protocols.Validator
) -> None:
    result = cli("mark", "Talleres", "reached", "--json", "--config", demo / "sheetfollow.toml")
    assert result.exit_code == ExitCode.NO_MATCH
    error = envelope(validator, result.stdout, "mark")["error"]
    assert error["message"].startswith("2 prospects match 'Talleres'")
    assert [line.split()[0] for line in error["candidates"]] == ["P-0034", "P-0085"]


def test_due_lists_the_rows_as_data(
    cli: Cli, demo: Path, validator: jsonschema.protocols.Validator
) -> None:
    config = demo / "sheetfollow.toml"
    listed = cli("due", "--json", "--config", config, "--today", "11-03-2026")
    found = envelope(validator, listed.stdout, "due")
    assert (found["sheet"], found["day"]) == (str(demo / "pipeline.xlsx"), DAY)
    assert found["data"] and all(row["id"] or row["company"] for row in found["data"])
    # An owner the sheet does not know: the error names the ones it has.
    nobody = cli("due", "--json", "--config", config, "--owner", "Nobody")
    assert nobody.exit_code == ExitCode.USAGE
    error = envelope(validator, nobody.stdout, "due")["error"]
    assert "Anna" in error["message"] and error["kind"] == "usage"


def test_a_usage_error_before_json_is_read_is_json_too(
    cli: Cli, demo: Path, validator: jsonschema.protocols.Validator
) -> None:
    # The unknown option comes first: it stops the parsing before --json is seen.
    result = cli("due", "--bogus", "--json", "--config", demo / "sheetfollow.toml")
    assert result.exit_code == ExitCode.USAGE
    error = envelope(validator, result.stdout, "due")["error"]
    assert "--bogus" in error["message"]
    # Without --json, errors stay plain text; "--json" as a note's text is no --json.
    plain = cli("mark", "Nobody", "reached", "--note", "--json", "--config", demo / "x.toml")
    assert plain.exit_code == ExitCode.CONFIG
    assert plain.stdout == ""


def test_inbox_reads_replies_as_data(
    tmp_path: Path, imap_server: ImapAccount, validator: jsonschema.protocols.Validator
) -> None:
    starter.init(tmp_path / "pipeline.xlsx", example=True, today=TODAY)
    config = tmp_path / "sheetfollow.toml"
    # The template's commented [inbox] section gives way to the test's mailbox.
    head, _, tail = config.read_text(encoding="utf-8").partition("\n[inbox]\n")
    rest = tail.split("\n[", 1)
    text = head + "\n" + (("[" + rest[1]) if len(rest) > 1 else "")
    config.write_text(text + "\n" + imap_server.inbox_toml("tls"), encoding="utf-8")
    common = ["--json", "--config", str(config), "--today", DAY]
    env = {**os.environ, **imap_server.env(), INBOX_SECRET_ENV: "a team secret, 0123456789abcdef"}
    for command in (["inbox", "--dry-run"], ["run", "--dry-run"]):
        done = subprocess.run(
            [sys.executable, "-m", "sheetfollow", *command, *common],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        found = envelope(validator, done.stdout, command[0])["data"]
        inbox = found if command[0] == "inbox" else found["inbox"]
        assert inbox["messages"] == [] and inbox["dry_run"] is True


# --- The writer ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        [],
        [{"id": "P-1", "company": "Ünïcode & Co", "value": 1.5, "note": None, "won": False}],
        [{"id": "P-1"}, {"id": "P-2", "tags": ["a", "b"]}, {}, 3, "text"],
        {"sheet": "x.xlsx", "rows": 3, "nested": {"list": [1, {"a": []}]}},
    ],
)
def test_the_text_is_what_json_dumps_indent_2_writes(data: object) -> None:
    """Written piece by piece for speed, but the same text as the whole thing dumped."""
    stream = StringIO()
    output.write_data(stream, "due", "pipeline.xlsx", TODAY, data)
    whole = {"version": 1, "command": "due", "sheet": "pipeline.xlsx", "day": DAY, "data": data}
    assert stream.getvalue() == json.dumps(whole, indent=2, ensure_ascii=False) + "\n"
    streamed = StringIO()
    output.write_data(
        streamed, "due", "pipeline.xlsx", TODAY, iter(data) if isinstance(data, list) else data
    )
    assert streamed.getvalue() == stream.getvalue()


def test_an_error_message_is_one_line() -> None:
    stream = StringIO()
    output.write_error(stream, "mark", None, None, ExitCode.SHEET, "cell B2:\nbad", holder="Anna")
    found = json.loads(stream.getvalue())
    assert found["error"] == {
        "code": 4,
        "kind": "sheet",
        "message": "cell B2: bad",
        "holder": "Anna",
    }
    assert (found["sheet"], found["day"]) == (None, None)


def test_the_readme_documents_each_commands_data() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n### JSON output\n", 1)[1].split("\n### ", 1)[0]
    per_command = section.split("Each command's `data`:", 1)[1]
    documented = set(re.findall(r"^\| `([a-z]+)` \| ", per_command, flags=re.MULTILINE))
    assert documented == COVERED
    assert "docs/json/output.schema.json" in section
