"""Rows with the same inputs share the rules' result within one read (service.ComputeMemo):
every row must come out exactly as it does computed on its own, whoever owns it and
whatever it is worth (Assigned to depends on both), on a real workbook."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from computed_alone import rows_computed_alone
from conftest import TEAM_ROWS, TODAY, Layout, Tab, write_team, write_workbook

from sheetfollow import service
from sheetfollow.config import load_config


def _copies() -> list[dict[str, object]]:
    """Each team row again, with the same inputs to the rules but another ID, another
    owner (from another country: another calendar) or a value on the other side of
    delegate_below (1000)."""
    copies: list[dict[str, object]] = []
    for number, row in enumerate(TEAM_ROWS):
        for owner, value in (("Anna", 500), ("Zoë", 50_000), (row["owner"], 999)):
            copy = {**row, "owner": owner, "value": value, "company": f"Copy {number} {value}"}
            copy["id"] = f"C-{number:02d}-{value}"
            copies.append(copy)
    return copies


def test_rows_that_share_their_inputs_come_out_as_computed_alone(tmp_path: Path) -> None:
    write_team(tmp_path, Layout(extra_rows=_copies()))
    config = load_config(tmp_path / "sheetfollow.toml")
    backend = service.open_backend(None, config)
    pipeline = service.load(backend, config, TODAY)

    planned = rows_computed_alone(pipeline, config, TODAY)
    assert pipeline.rows == planned
    assert len(pipeline.rows) == len(TEAM_ROWS) * 4

    # The copies did share results: same inputs, and yet not the same Assigned to.
    by_inputs: dict[tuple[object, ...], set[str]] = {}
    for row in pipeline.rows:
        p = row.prospect
        inputs = (p.last_contact, p.last_outcome, p.attempts, p.stage, p.created, p.owner)
        by_inputs.setdefault(inputs, set()).add(row.computed.assigned_to)
    assert any(len(assigned) > 1 for assigned in by_inputs.values())


def test_rows_the_rules_cannot_date_each_need_attention(tmp_path: Path) -> None:
    # Rolling 31-12-9999 past a Fri+Sat weekend runs out of dates: the rules raise, nothing
    # is remembered, and each such row names its own cell.
    (tmp_path / "sheetfollow.toml").write_text(
        'sheet = "p.xlsx"\n[calendar]\nweekend = ["fri", "sat"]\n', encoding="utf-8"
    )
    never = date(9999, 12, 31)
    write_workbook(
        tmp_path / "p.xlsx",
        Tab(
            "Prospects",
            [
                ["Company", "Owner", "Follow up on", "Created"],
                ["Never Ltd", "Ann", never, date(2026, 3, 2)],
                ["Soon BV", "Ann", None, date(2026, 3, 2)],
                ["Never Again", "Ann", never, date(2026, 3, 2)],
            ],
        ),
    )
    config = load_config(tmp_path / "sheetfollow.toml")
    pipeline = service.load(service.open_backend(None, config), config, TODAY)
    whys = {row.prospect.company: row.computed.why for row in pipeline.rows}
    assert whys["Never Ltd"].startswith("Check Prospects!2:2: cannot work out")
    assert whys["Never Again"].startswith("Check Prospects!4:4: cannot work out")
    assert [row.computed.status.value for row in pipeline.rows] == [
        "needs attention",
        "overdue",
        "needs attention",
    ]
