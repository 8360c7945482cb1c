"""Rows share the rules' result by what the rules read of them (service.ComputeMemo): a
Segment through the cadence it gives, a Stage only when it closes the row (or picks a
segment/stage profile), Attempts only after an unanswered or no outcome. Every row must
come out exactly as computed on its own, on a real workbook with cadence profiles."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from computed_alone import rows_computed_alone
from conftest import TEAM_CONFIG, TEAM_ROWS, TODAY, Layout, write_team

from sheetfollow import service
from sheetfollow.config import load_config

#: Two segments with profiles of their own, one of them equal to the default, and one
#: segment/stage profile: rows of "retail" share with rows without a profile, rows of
#: "machines" do not, and "machines" rows at stage quote follow their own profile.
CONFIG = (
    TEAM_CONFIG
    + """
[cadence]
default = [0, 2, 5, 7, 7]
retail = [0, 2, 5, 7, 7]
machines = [1, 3, 8]
"machines/quote" = { gaps = [2, 4], max_attempts = 3 }
"""
)

SEGMENTS = ("", "retail", "machines", "Machines ")
STAGES = ("new", "contacted", "interested", "quote", "won", "customer")


def _copies() -> list[dict[str, object]]:
    """Each team row again under every segment and stage, and with Attempts changed (which
    counts only after no answer, voicemail or no outcome at all)."""
    copies: list[dict[str, object]] = []
    for number, row in enumerate(TEAM_ROWS):
        for segment in SEGMENTS:
            for stage in STAGES:
                for attempts in (row.get("attempts"), 2, 4):
                    copies.append(
                        {
                            **row,
                            "segment": segment,
                            "stage": stage,
                            "attempts": attempts,
                            "id": f"C-{number:02d}-{len(copies):04d}",
                        }
                    )
    return copies


def test_rows_that_share_what_the_rules_read_come_out_as_computed_alone(
    tmp_path: Path,
) -> None:
    write_team(tmp_path, Layout(extra_rows=_copies()), config=CONFIG)
    config = load_config(tmp_path / "sheetfollow.toml")
    backend = service.open_backend(None, config)
    pipeline = service.load(backend, config, TODAY)
    planned = rows_computed_alone(pipeline, config, TODAY)
    assert len(pipeline.rows) == len(TEAM_ROWS) * (1 + len(SEGMENTS) * len(STAGES) * 3)
    for shared, own in zip(pipeline.rows, planned, strict=True):
        assert shared == own, shared.prospect.row

    # The profiles made a difference (else the test shows nothing about them) ...
    steps = {(r.prospect.segment.strip().casefold(), r.computed.step) for r in pipeline.rows}
    assert {segment for segment, step in steps if step.endswith("of 3")} == {"machines"}
    # ... and the rows did share: fewer results than distinct rows by every field.
    memo = service.ComputeMemo()
    owners = pipeline.owners
    for row in pipeline.rows:
        service.compute_row(
            row.prospect, service.owner_of(row.prospect, owners), config, TODAY, owners, memo=memo
        )
    inputs = {
        (p.segment, p.stage, p.attempts, p.last_contact, p.last_outcome, p.follow_up_on, p.created)
        for p in (row.prospect for row in pipeline.rows)
        if not p.problems
    }
    assert len(memo.computed) < len(inputs)


def test_a_closed_stage_is_never_shared_with_an_open_one(tmp_path: Path) -> None:
    """The same touch at stage contacted and at stage won: different rows of the rules."""
    touch = {
        "company": "Kilo BV",
        "contact": "Kim",
        "owner": "Anna",
        "created": date(2026, 2, 2),
        "last_contact": date(2026, 3, 9),
        "last_outcome": "no answer",
        "attempts": 1,
    }
    rows = [{**touch, "id": f"K-{n}", "stage": stage} for n, stage in enumerate(STAGES)]
    write_team(tmp_path, Layout(rows=rows), config=CONFIG)
    config = load_config(tmp_path / "sheetfollow.toml")
    pipeline = service.load(service.open_backend(None, config), config, TODAY)
    status = {row.prospect.stage.value: row.computed.status.value for row in pipeline.rows}
    assert status["won"] == "won"
    assert status["customer"] == "customer"
    assert status["contacted"] in {"due", "overdue", "scheduled"}
