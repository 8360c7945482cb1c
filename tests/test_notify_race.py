"""Once a day, never twice, whatever runs at once: `sheetfollow run` as real processes.

Two runs started together on one workbook (cron and a run by hand), to the outbox and to a
real SMTP server on loopback; two "machines" that do not see each other's lock; a run killed
after its emails went out and before it recorded them; a run killed after it claimed an
email and before it sent it. Counted per recipient and day: every email goes out once, and
the hidden state tab records each once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import filelock
import pytest
from conftest import TODAY, as_date, file_state, openpyxl_rows
from fakes.smtp_server import Certificates, SmtpServer, make_certificates
from test_notify import EXPECTED_RECIPIENTS, PASSWORD, USER, smtp_section, write_team

from sheetfollow import notifier
from sheetfollow.backends.xlsx import XlsxBackend
from sheetfollow.config import CONFIG_NAME, load_config
from sheetfollow.exit_codes import ExitCode
from sheetfollow.notify import state

# aiosmtpd itself sets a deprecated attribute on every successful login.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Session.login_data is deprecated:DeprecationWarning"
)

#: Pairs of runs started together per test: before the run lock and the send log, more than
#: half of such pairs sent every email twice; few enough to stay around half a minute.
TRIALS = 10
#: Without the send log, two machines that ignore each other's lock doubled every email in
#: every trial; a few trials show that it holds.
MACHINE_TRIALS = 6
STATE_TAB = "sheetfollow_state"
T = TypeVar("T")
#: The emails of TODAY, by state key: four owners' call lists and two digests.
EXPECTED_KEYS = sorted(
    [
        ("owner", "Anna"),
        ("owner", "Bob"),
        ("owner", "Zoë"),
        ("owner", "Émile"),
        ("digest", "boss@example.com"),
        ("digest", "sarah@example.com"),
    ]
)

#: Runs the CLI after patching the package: argv[1] is Python run first, the rest the command.
#: It starts the command when told to on stdin, so that runs started together do not have
#: their start-up (imports) between them.
LAUNCHER = textwrap.dedent(
    """
    import sys
    exec(sys.argv[1])
    from sheetfollow.cli import app
    sys.argv = ["sheetfollow", *sys.argv[2:]]
    sys.stdin.readline()
    app()
    """
)
#: Patches: a run dies (SIGKILL) at a point of its work.
KILL_ON_WRITE = """
import os, signal
from sheetfollow.backends.xlsx import XlsxBackend
XlsxBackend.write = lambda self, changes, force=False: os.kill(os.getpid(), signal.SIGKILL)
"""
KILL_ON_SEND = """
import os, signal
from sheetfollow.notify.outbox import Outbox
from sheetfollow.notify.smtp import SmtpTransport
die = lambda self, message, mail: os.kill(os.getpid(), signal.SIGKILL)
SmtpTransport.send = Outbox.send = die
"""
KILL_AFTER_SENDING = """
import os, signal
from sheetfollow.notify import state
settle = state.SendLog.settle
def dying(self, run, claim, outcome, entry):
    if outcome == state.SENT:
        os.kill(os.getpid(), signal.SIGKILL)
    settle(self, run, claim, outcome, entry)
state.SendLog.settle = dying
"""
#: Another machine: its own host name, and a run lock it does not share (a share that does
#: not honour locks): only the send log stands between two runs.
OTHER_MACHINE = """
import contextlib, socket
from sheetfollow.notify import state
socket.gethostname = lambda: HOST
state.run_lock = lambda *args, **kwargs: contextlib.nullcontext(0.0)
"""


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def server(certs: Certificates) -> Iterator[SmtpServer]:
    with SmtpServer(certs, users={USER: PASSWORD}) as running:
        yield running


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHEETFOLLOW_")}
    return {**env, "SHEETFOLLOW_SMTP_PASSWORD": PASSWORD, "SHEETFOLLOW_DEBUG": "1"}


def command(folder: Path) -> list[str]:
    return ["run", "--json", "--today", TODAY.isoformat(), "--config", str(folder / CONFIG_NAME)]


def start(folder: Path, patch: str = "") -> subprocess.Popen[str]:
    argv = [sys.executable, "-c", LAUNCHER, patch, *command(folder)]
    return subprocess.Popen(
        argv,
        cwd=folder,
        env=environment(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def finish() -> Iterator[Any]:
    """Starts processes at once and waits for them; kills any left behind by a failing test."""
    started: list[subprocess.Popen[str]] = []

    def wait(*processes: subprocess.Popen[str]) -> list[tuple[int, dict[str, Any], str]]:
        started.extend(processes)
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        done = []
        for process in processes:
            out, err = process.communicate(timeout=120)
            # The run's report; {} when it failed (its error is in the envelope instead).
            report = json.loads(out).get("data", {}) if out.strip().startswith("{") else {}
            done.append((process.returncode, report, err))
        return done

    yield wait
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def run(folder: Path, patch: str = "") -> tuple[int, dict[str, Any], str]:
    done = subprocess.run(
        [sys.executable, "-c", LAUNCHER, patch, *command(folder)],
        cwd=folder,
        env=environment(),
        input="go\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = json.loads(done.stdout).get("data", {}) if done.stdout.strip() else {}
    return done.returncode, report, done.stderr


def went_out(report: dict[str, Any]) -> list[tuple[str, str]]:
    """(kind, key) of every email this run sent or wrote."""
    return [
        (e["kind"], e["key"])
        for e in report["notify"]["emails"]
        if e["status"] in (notifier.SENT, notifier.WRITTEN)
    ]


def recorded(folder: Path) -> Counter[tuple[str, str]]:
    """How often the state tab says each email of TODAY went out."""
    rows = openpyxl_rows(folder / "pipeline.xlsx", STATE_TAB)
    assert list(rows[0][:5]) == ["Day", "Kind", "Key", "To", "Status"]
    return Counter(
        (str(r[1]), str(r[2]))
        for r in rows[1:]
        if as_date(r[0]) == TODAY and r[4] in (notifier.SENT, notifier.WRITTEN)
    )


def once_each(counts: Counter[Any], expected: Sequence[Any]) -> None:
    assert sorted(counts.elements()) == sorted(expected), counts


def in_process(folder: Path, use_case: Callable[..., T]) -> T:
    """`notifier.notify` or `notifier.run` as a fresh run would, in this process."""
    config = load_config(folder / CONFIG_NAME)
    backend = XlsxBackend(folder / "pipeline.xlsx")
    return use_case(backend, config, TODAY, env={"SHEETFOLLOW_SMTP_PASSWORD": PASSWORD})


# --- Two runs started together ----------------------------------------------------------------


@pytest.mark.slow
def test_two_runs_at_once_write_each_outbox_email_once(tmp_path: Path, finish: Any) -> None:
    for trial in range(TRIALS):
        folder = tmp_path / f"trial-{trial}"
        folder.mkdir()
        write_team(folder)
        results = finish(start(folder), start(folder))
        out = Counter(email for _, report, _ in results for email in went_out(report))
        once_each(out, EXPECTED_KEYS)
        for code, _, err in results:
            assert code == 0, err
        once_each(recorded(folder), EXPECTED_KEYS)
        assert len(list((folder / "outbox").glob("*.eml"))) == len(EXPECTED_KEYS)
        # The second run waited for the first and then read what it recorded.
        later = [report for _, report, _ in results if not went_out(report)]
        assert later, f"trial {trial}: both runs wrote emails"
        skipped = {e["detail"] for e in later[0]["notify"]["emails"] if e["kind"] == "owner"}
        assert any(d.startswith("already written to the outbox today") for d in skipped)


@pytest.mark.slow
def test_two_runs_at_once_send_each_email_once_through_a_mail_server(
    tmp_path: Path, finish: Any, server: SmtpServer, certs: Certificates
) -> None:
    for trial in range(TRIALS):
        folder = tmp_path / f"trial-{trial}"
        folder.mkdir()
        write_team(folder, smtp_section(server, certs))
        before = len(server.received)
        results = finish(start(folder), start(folder))
        got = Counter(to for mail in server.received[before:] for to in mail.rcpt_tos)
        once_each(got, EXPECTED_RECIPIENTS)
        for code, _, err in results:
            assert code == 0, err
        once_each(recorded(folder), EXPECTED_KEYS)


@pytest.mark.slow
def test_two_machines_that_ignore_each_others_lock_send_each_email_once(
    tmp_path: Path, finish: Any, server: SmtpServer, certs: Certificates
) -> None:
    """Only the send log between them: each claims an email before sending it, and the
    one whose claim came second leaves it to the first."""
    for trial in range(MACHINE_TRIALS):
        folder = tmp_path / f"trial-{trial}"
        folder.mkdir()
        write_team(folder, smtp_section(server, certs))
        before = len(server.received)
        machines = [OTHER_MACHINE.replace("HOST", repr(name)) for name in ("cron-box", "laptop")]
        results = finish(*(start(folder, patch) for patch in machines))
        got = Counter(to for mail in server.received[before:] for to in mail.rcpt_tos)
        once_each(got, EXPECTED_RECIPIENTS)
        # Both wrote the workbook: one of them found it changed (exit 10 when it had a
        # record to keep, 6 when it had nothing), and the next run puts it all in once.
        assert {code for code, _, _ in results} <= {0, ExitCode.PENDING, ExitCode.BUSY}, results
        after = in_process(folder, notifier.run)
        assert after.exit_code is ExitCode.OK, after.notify.lines()
        assert after.notify.count(notifier.SENT) == 0
        assert len(server.received) == before + len(EXPECTED_RECIPIENTS)
        once_each(recorded(folder), EXPECTED_KEYS)


# --- Killed halfway ---------------------------------------------------------------------------


def test_a_run_killed_after_sending_and_before_recording_sends_nothing_twice(
    tmp_path: Path, server: SmtpServer, certs: Certificates
) -> None:
    write_team(tmp_path, smtp_section(server, certs))
    workbook = tmp_path / "pipeline.xlsx"
    before = file_state(workbook)
    code, _, _ = run(tmp_path, KILL_ON_WRITE)
    assert code == -signal.SIGKILL
    assert len(server.received) == len(EXPECTED_RECIPIENTS)
    assert file_state(workbook) == before  # nothing recorded in the workbook

    code, report, err = run(tmp_path)
    assert code == 0, err
    assert went_out(report) == []
    assert len(server.received) == len(EXPECTED_RECIPIENTS)
    once_each(recorded(tmp_path), EXPECTED_KEYS)
    assert "6 emails sent by a run that stopped before recording them (Anna, " in " ".join(
        report["notify"]["notes"]
    )
    # And the next run records nothing again.
    code, report, err = run(tmp_path)
    assert (code, went_out(report)) == (0, [])
    once_each(recorded(tmp_path), EXPECTED_KEYS)


def test_a_run_killed_after_claiming_and_before_sending_loses_no_email(
    tmp_path: Path, server: SmtpServer, certs: Certificates
) -> None:
    write_team(tmp_path, smtp_section(server, certs))
    code, _, _ = run(tmp_path, KILL_ON_SEND)
    assert code == -signal.SIGKILL
    assert server.received == []

    code, report, err = run(tmp_path)
    assert code == 0, err
    got = Counter(to for mail in server.received for to in mail.rcpt_tos)
    once_each(got, EXPECTED_RECIPIENTS)
    once_each(recorded(tmp_path), EXPECTED_KEYS)
    (note,) = [n for n in report["notify"]["notes"] if "claimed at" in n]
    assert note.startswith("the email to Anna was claimed at ")
    assert "stopped before it said whether the email went out; it is sent now" in note


def test_an_outbox_file_written_by_a_run_killed_before_saying_so_is_not_written_again(
    tmp_path: Path,
) -> None:
    write_team(tmp_path)
    code, _, _ = run(tmp_path, KILL_AFTER_SENDING)
    assert code == -signal.SIGKILL
    (written,) = (tmp_path / "outbox").glob("*.eml")
    assert written.name == "2026-03-11-owner-anna.eml"
    kept = file_state(written)

    code, report, err = run(tmp_path)
    assert code == 0, err
    assert file_state(written) == kept
    assert ("owner", "Anna") not in went_out(report)
    once_each(recorded(tmp_path), EXPECTED_KEYS)
    assert any(
        n.startswith("anna@example.com's email was written to the outbox by a run that stopped")
        for n in report["notify"]["notes"]
    )


def test_the_one_window_a_mail_server_accepted_and_the_run_died_sends_again_and_says_so(
    tmp_path: Path, server: SmtpServer, certs: Certificates
) -> None:
    """Documented: killed between the server's OK and the "sent" line, the email goes out
    again on the next run (a day is never lost), and the report says it may arrive twice."""
    write_team(tmp_path, smtp_section(server, certs))
    code, _, _ = run(tmp_path, KILL_AFTER_SENDING)
    assert code == -signal.SIGKILL
    assert [m.rcpt_tos for m in server.received] == [("anna@example.com",)]

    code, report, err = run(tmp_path)
    assert code == 0, err
    got = Counter(to for mail in server.received for to in mail.rcpt_tos)
    assert got["anna@example.com"] == 2
    once_each(recorded(tmp_path), EXPECTED_KEYS)
    assert any("arrives twice if that run had sent it" in n for n in report["notify"]["notes"])


# --- Waiting ------------------------------------------------------------------------------------


def test_a_run_waits_a_bounded_time_for_the_run_lock_then_says_so_in_one_line(
    tmp_path: Path, server: SmtpServer, certs: Certificates
) -> None:
    write_team(tmp_path, smtp_section(server, certs))
    workbook = tmp_path / "pipeline.xlsx"
    before = file_state(workbook)
    path = tmp_path / ".sheetfollow" / "pipeline.xlsx.notify.lock"
    path.parent.mkdir()
    with filelock.FileLock(str(path)):
        code, _, err = run(tmp_path, "from sheetfollow.notify import state\n"
                                     "state.RUN_LOCK_TIMEOUT = 1.0")  # fmt: skip
    assert code == ExitCode.BUSY
    assert err.strip().splitlines() == [
        f"error: {workbook}: another sheetfollow run has held {path} for 1 second while it "
        "sends and records today's emails; nothing was sent or written; try again when it "
        "has finished"
    ]
    assert server.received == []
    assert file_state(workbook) == before


def _claim_from_another_machine(folder: Path, minutes_ago: int) -> None:
    """A claim on Anna's email by a run on another machine, with no outcome yet."""
    log = folder / ".sheetfollow" / "pipeline.xlsx.sends.jsonl"
    log.parent.mkdir(exist_ok=True)
    at = datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)
    line = {
        "v": 1,
        "id": "c0ffee" * 5 + "00",
        "kind": "claim",
        "at": at.isoformat(timespec="seconds"),
        "user": "cron",
        "host": "other-machine",
        "data": {
            "run": "f" * 32,
            "pid": 4242,
            "day": TODAY.isoformat(),
            "email": "owner",
            "key": "Anna",
            "to": "anna@example.com",
        },
    }
    log.write_text(json.dumps(line) + "\n", encoding="utf-8")


def test_an_email_another_machine_is_sending_is_left_to_it_and_retried_if_it_never_says(
    tmp_path: Path, server: SmtpServer, certs: Certificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(state, "CLAIM_WAIT", 0.5)
    write_team(tmp_path, smtp_section(server, certs))
    _claim_from_another_machine(tmp_path, minutes_ago=1)
    report = in_process(tmp_path, notifier.notify)
    assert "anna@example.com" not in {to for m in server.received for to in m.rcpt_tos}
    (anna,) = [d for d in report.deliveries if d.key == "Anna"]
    assert anna.status == notifier.FAILED
    assert anna.detail.startswith("not sent: a run on other-machine claimed this email at ")
    assert report.exit_code is ExitCode.DELIVERY
    assert recorded(tmp_path)[("owner", "Anna")] == 0


def test_a_claim_another_machine_left_long_ago_does_not_cost_the_day(
    tmp_path: Path, server: SmtpServer, certs: Certificates
) -> None:
    write_team(tmp_path, smtp_section(server, certs))
    _claim_from_another_machine(tmp_path, minutes_ago=45)
    report = in_process(tmp_path, notifier.notify)
    assert report.exit_code is ExitCode.OK, report.lines()
    got = Counter(to for mail in server.received for to in mail.rcpt_tos)
    once_each(got, EXPECTED_RECIPIENTS)
    assert any(
        n.startswith("the email to Anna was claimed at ") and "on other-machine" in n
        for n in report.notes
    )
