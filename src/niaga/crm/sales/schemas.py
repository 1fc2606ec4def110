"""API shapes for sales: pipelines and stages, deals and lines, the forecast.

Amounts and counts are strict integers: 1.5, "100" and true are refused rather than coerced (no float
anywhere near money). Lengths and ranges are checked by the service, which words the messages.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from niaga.privacy.fields import Unreadable

StrictInt = Annotated[int, Field(strict=True)]
# Free text is bounded here only against abuse; the service gives the real limits with clear messages.
Text = Annotated[str, Field(max_length=2000)]
Ids = Annotated[list[uuid.UUID], Field(max_length=100)]


def _personal(value: Any) -> Any:
    return str(value) if isinstance(value, Unreadable) else value


# A personal value: the erased / unreadable marker reads as "[erased]" / "[unreadable]".
PersonalStr = Annotated[str | None, BeforeValidator(_personal)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StageRead(BaseModel):
    """A stage of a pipeline."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    position: int
    probability: int
    kind: str


class PipelineRead(BaseModel):
    """A pipeline with its stages in order."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    position: int
    is_default: bool
    stages: list[StageRead]


class StageCreate(_In):
    """A stage to add (open stages go after the last open one unless a position is given)."""

    name: Text
    probability: StrictInt
    kind: Literal["open", "won", "lost"] = "open"
    position: StrictInt | None = None


class StageSpecIn(_In):
    """A stage of a new pipeline."""

    name: Text
    probability: StrictInt
    kind: Literal["open", "won", "lost"] = "open"


class PipelineCreate(_In):
    """A new pipeline; without stages it gets the standard ones."""

    name: Text
    is_default: bool = False
    stages: Annotated[list[StageSpecIn], Field(max_length=100)] | None = None


class PipelineUpdate(_In):
    """Rename a pipeline or make it the default."""

    name: Text | None = None
    is_default: bool | None = None


class StageUpdate(_In):
    """Rename a stage or change its win probability."""

    name: Text | None = None
    probability: StrictInt | None = None


class StageOrder(_In):
    """Every stage id of the pipeline, in the new order."""

    stage_ids: Ids


class LineCreate(_In):
    """A product line: quantity × unit price (whole rupiah)."""

    product_name: Text
    quantity: StrictInt
    unit_price: StrictInt


class LineUpdate(_In):
    """Change a product line."""

    product_name: Text | None = None
    quantity: StrictInt | None = None
    unit_price: StrictInt | None = None


class LineRead(BaseModel):
    """A product line with its total."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    product_name: str
    quantity: int
    unit_price: int
    total: int
    position: int


class DealCreate(_In):
    """A new deal: a title, a contact or a company, and optionally everything else."""

    title: Text
    contact_id: uuid.UUID | None = None
    company_id: uuid.UUID | None = None
    pipeline_id: uuid.UUID | None = None
    stage_id: uuid.UUID | None = None
    value: StrictInt = 0
    expected_close_date: date | None = None
    owner_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    lost_reason: Text | None = None
    lines: Annotated[list[LineCreate], Field(max_length=500)] | None = None


class DealUpdate(_In):
    """The fields to change (absent fields stay; null clears the optional ones)."""

    title: Text | None = None
    contact_id: uuid.UUID | None = None
    company_id: uuid.UUID | None = None
    pipeline_id: uuid.UUID | None = None
    stage_id: uuid.UUID | None = None
    value: StrictInt | None = None
    expected_close_date: date | None = None
    owner_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    lost_reason: Text | None = None


class DealMove(_In):
    """Move a deal to a stage of its pipeline; a lost stage needs the reason."""

    stage_id: uuid.UUID
    lost_reason: Text | None = None


class DealLose(_In):
    """Why the deal was lost."""

    reason: Text


class DealReopen(_In):
    """Where a reopened deal goes (the pipeline's first open stage when not given)."""

    stage_id: uuid.UUID | None = None


class DealRead(BaseModel):
    """A deal as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    title: PersonalStr
    value: int
    expected_close_date: date | None
    status: str
    lost_reason: PersonalStr
    closed_at: datetime | None
    pipeline_id: uuid.UUID
    stage_id: uuid.UUID
    contact_id: uuid.UUID | None
    company_id: uuid.UUID | None
    owner_id: uuid.UUID | None
    team_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    lines: list[LineRead]


class DealPage(BaseModel):
    """A page of deals, newest first, and the cursor for the next page."""

    items: list[DealRead]
    next_cursor: str | None = None


class ForecastLine(BaseModel):
    """Open deals of one stage or one expected close month."""

    stage_id: uuid.UUID | None = None
    name: str | None = None
    probability: int | None = None
    month: str | None = None  # "YYYY-MM"; null for deals without an expected close date
    count: int
    value: int
    weighted: int


class ForecastRead(BaseModel):
    """A pipeline's weighted forecast of open deals."""

    pipeline_id: uuid.UUID
    count: int
    value: int
    weighted: int
    stages: list[ForecastLine]
    months: list[ForecastLine]
