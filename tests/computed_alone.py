"""The oracle of the rules' shared results: every row of a pipeline computed on its own,
without the memo, as `mark` computes one, then planned for capacity as a read plans them."""

from __future__ import annotations

from datetime import date

from sheetfollow import capacity, service
from sheetfollow.config import Config
from sheetfollow.models import Row


def rows_computed_alone(pipeline: service.Pipeline, config: Config, today: date) -> list[Row]:
    owners = pipeline.owners
    alone = [
        service.compute_row(
            service.with_owner_problems(row.prospect, owners, pipeline.header),
            service.owner_of(row.prospect, owners),
            config,
            today,
            owners,
        )
        for row in pipeline.rows
    ]
    return capacity.plan(
        alone, today=today, calendar=config.calendar, rules=config.rules, owners=owners
    ).rows
