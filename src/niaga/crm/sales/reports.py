"""The kanban board and the weighted forecast of a pipeline, both limited to the deals the principal sees.

Weighted value = value × stage probability / 100. Each figure is rounded once, to whole rupiah (half
up), from the exact sum of value × probability, so a total may differ by a rupiah from the sum of its
rounded parts, never more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from niaga.crm.sales.models import Deal, Pipeline, Stage
from niaga.crm.visibility import visible
from niaga.identity.principal import Principal

CARDS_PER_COLUMN = 50


def weighted(value_times_percent: int) -> int:
    """Whole rupiah from a sum of value × percent (half up)."""
    return (value_times_percent + 50) // 100


@dataclass
class Column:
    """One stage on the kanban: its newest deals, how many there are and what they are worth."""

    stage: Stage
    deals: list[Deal] = field(default_factory=list)
    count: int = 0
    value: int = 0

    @property
    def more(self) -> int:
        """Deals in the stage that are not shown on the board."""
        return self.count - len(self.deals)


def board(session: Session, p: Principal, pipeline: Pipeline, limit: int = CARDS_PER_COLUMN) -> list[Column]:
    """The pipeline's stages in order, each with the visible deals in it (most recently changed first)."""
    in_pipeline = (visible(p, Deal), Deal.pipeline_id == pipeline.id)
    totals = {stage_id: (count, value or 0) for stage_id, count, value in session.execute(
        select(Deal.stage_id, func.count(), func.sum(Deal.value)).where(*in_pipeline).group_by(Deal.stage_id))}
    columns = []
    for stage in pipeline.stages:
        count, value = totals.get(stage.id, (0, 0))
        deals = list(session.scalars(select(Deal).where(*in_pipeline, Deal.stage_id == stage.id)
                                     .order_by(Deal.updated_at.desc(), Deal.id.desc()).limit(limit))) if count else []
        columns.append(Column(stage, deals, count, int(value)))
    return columns


@dataclass
class Line:
    """One row of the forecast: open deals of a stage or of a month."""

    key: str  # stage id, or "YYYY-MM", or "" for deals without an expected close date
    label: str
    count: int = 0
    value: int = 0
    probability: int | None = None  # the stage's, on stage rows
    _weighted_sum: int = 0  # value × percent, exact

    @property
    def weighted(self) -> int:
        """Weighted value in whole rupiah."""
        return weighted(self._weighted_sum)


@dataclass
class Forecast:
    """A pipeline's weighted forecast of open deals: per stage, per expected close month, and in total."""

    pipeline: Pipeline
    stages: list[Line]
    months: list[Line]
    count: int
    value: int
    weighted: int


def forecast(session: Session, p: Principal, pipeline: Pipeline) -> Forecast:
    """Sum of value × win probability of the visible open deals of a pipeline."""
    rows = session.execute(
        select(Deal.stage_id, Deal.value, Deal.expected_close_date, Stage.probability)
        .join(Stage, (Stage.tenant_id == Deal.tenant_id) & (Stage.id == Deal.stage_id))
        .where(visible(p, Deal), Deal.pipeline_id == pipeline.id, Deal.status == "open")
    ).all()
    stages = {s.id: Line(str(s.id), s.name, probability=s.probability) for s in pipeline.stages if s.kind == "open"}
    months: dict[str, Line] = {}
    total = 0
    value = 0
    for stage_id, deal_value, close, probability in rows:
        product = deal_value * probability
        total += product
        value += deal_value
        for line in (stages.get(stage_id), _month_line(months, close)):
            if line is not None:
                line.count += 1
                line.value += deal_value
                line._weighted_sum += product
    ordered_months = sorted(months.values(), key=lambda m: m.key or "9999-99")
    return Forecast(pipeline, list(stages.values()), ordered_months, len(rows), value, weighted(total))


def _month_line(months: dict[str, Line], close: date | None) -> Line:
    key = close.strftime("%Y-%m") if close else ""
    if key not in months:
        months[key] = Line(key, key)
    return months[key]

