"""JSON API for sales: pipelines and stages (managers), deals and their lines, moves, the forecast."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.orm import Session

from niaga.crm.sales import service
from niaga.crm.sales.schemas import (
    DealCreate, DealLose, DealMove, DealPage, DealRead, DealReopen, DealUpdate, ForecastLine, ForecastRead,
    LineCreate, LineRead, LineUpdate, PipelineCreate, PipelineRead, PipelineUpdate, StageCreate, StageOrder,
    StageRead, StageUpdate,
)
from niaga.identity.permissions import Perm
from niaga.identity.principal import Principal
from niaga.kit.errors import ValidationFailed
from niaga.kit.messages import Msg
from niaga.web.deps import Require, TransactionalRoute, db

router = APIRouter(tags=["crm"], route_class=TransactionalRoute)
READ, WRITE, MANAGE = Require(Perm.DEALS_READ), Require(Perm.DEALS_WRITE), Require(Perm.PIPELINES_MANAGE)


# -- pipelines ----------------------------------------------------------------------------------------
@router.get("/pipelines", response_model=list[PipelineRead])
def list_pipelines(p: Principal = Depends(READ), session: Session = Depends(db)) -> list:
    """The business's pipelines with their stages (the default pipeline is created on first use)."""
    return service.list_pipelines(session, p)


@router.post("/pipelines", response_model=PipelineRead, status_code=201)
def create_pipeline(body: PipelineCreate, p: Principal = Depends(MANAGE), session: Session = Depends(db)) -> object:
    """A new pipeline; without stages it gets the standard ones."""
    stages = [s.model_dump() for s in body.stages] if body.stages is not None else None
    return service.create_pipeline(session, p, body.name, stages, body.is_default)


@router.get("/pipelines/{pipeline_id}", response_model=PipelineRead)
def read_pipeline(pipeline_id: uuid.UUID, p: Principal = Depends(READ), session: Session = Depends(db)) -> object:
    """One pipeline with its stages."""
    return service.get_pipeline(session, p, pipeline_id)


@router.patch("/pipelines/{pipeline_id}", response_model=PipelineRead)
def update_pipeline(pipeline_id: uuid.UUID, body: PipelineUpdate, p: Principal = Depends(MANAGE),
                    session: Session = Depends(db)) -> object:
    """Rename a pipeline or make it the default."""
    pipeline = service.get_pipeline(session, p, pipeline_id)
    return service.update_pipeline(session, p, pipeline, name=body.name, is_default=body.is_default)


@router.delete("/pipelines/{pipeline_id}", status_code=204)
def delete_pipeline(pipeline_id: uuid.UUID, p: Principal = Depends(MANAGE), session: Session = Depends(db)) -> Response:
    """Remove a pipeline without deals (not the default one)."""
    service.delete_pipeline(session, p, service.get_pipeline(session, p, pipeline_id))
    return Response(status_code=204)


@router.post("/pipelines/{pipeline_id}/stages", response_model=StageRead, status_code=201)
def add_stage(pipeline_id: uuid.UUID, body: StageCreate, p: Principal = Depends(MANAGE),
              session: Session = Depends(db)) -> object:
    """Add a stage to a pipeline."""
    pipeline = service.get_pipeline(session, p, pipeline_id)
    return service.add_stage(session, p, pipeline, body.name, body.probability, body.kind, body.position)


@router.put("/pipelines/{pipeline_id}/stages/order", response_model=PipelineRead)
def reorder_stages(pipeline_id: uuid.UUID, body: StageOrder, p: Principal = Depends(MANAGE),
                   session: Session = Depends(db)) -> object:
    """Put the stages in a new order (every stage id exactly once)."""
    pipeline = service.get_pipeline(session, p, pipeline_id)
    return service.reorder_stages(session, p, pipeline, body.stage_ids)


@router.patch("/pipelines/{pipeline_id}/stages/{stage_id}", response_model=StageRead)
def update_stage(pipeline_id: uuid.UUID, stage_id: uuid.UUID, body: StageUpdate, p: Principal = Depends(MANAGE),
                 session: Session = Depends(db)) -> object:
    """Rename a stage or change its win probability."""
    pipeline = service.get_pipeline(session, p, pipeline_id)
    stage = service.get_stage(session, p, pipeline, stage_id)
    return service.update_stage(session, p, pipeline, stage, name=body.name, probability=body.probability)


@router.delete("/pipelines/{pipeline_id}/stages/{stage_id}", status_code=204)
def delete_stage(pipeline_id: uuid.UUID, stage_id: uuid.UUID, p: Principal = Depends(MANAGE),
                 session: Session = Depends(db)) -> Response:
    """Remove an empty open stage."""
    pipeline = service.get_pipeline(session, p, pipeline_id)
    service.delete_stage(session, p, pipeline, service.get_stage(session, p, pipeline, stage_id))
    return Response(status_code=204)


@router.get("/pipelines/{pipeline_id}/forecast", response_model=ForecastRead)
def pipeline_forecast(pipeline_id: uuid.UUID, p: Principal = Depends(READ),
                      session: Session = Depends(db)) -> ForecastRead:
    """Weighted value of the open deals you can see: per stage, per expected close month, in total."""
    report = service.forecast(session, p, service.get_pipeline(session, p, pipeline_id))
    return ForecastRead(
        pipeline_id=pipeline_id, count=report.count, value=report.value, weighted=report.weighted,
        stages=[ForecastLine(stage_id=uuid.UUID(s.key), name=s.label, probability=s.probability, count=s.count,
                             value=s.value, weighted=s.weighted) for s in report.stages],
        months=[ForecastLine(month=m.key or None, count=m.count, value=m.value, weighted=m.weighted)
                for m in report.months],
    )


# -- deals -------------------------------------------------------------------------------------------
@router.get("/deals", response_model=DealPage)
def list_deals(
    pipeline_id: uuid.UUID | None = None, stage_id: uuid.UUID | None = None, owner_id: uuid.UUID | None = None,
    status: str | None = Query(None, max_length=10), contact_id: uuid.UUID | None = None,
    company_id: uuid.UUID | None = None, cursor: str | None = Query(None, max_length=40),
    limit: int = Query(50, ge=1, le=200), p: Principal = Depends(READ), session: Session = Depends(db),
) -> DealPage:
    """Deals you can see, newest first, filtered by pipeline, stage, owner, status, contact or company."""
    after = None
    if cursor:
        try:
            after = uuid.UUID(cursor)
        except ValueError:
            raise ValidationFailed({"cursor": Msg("This page cursor is not valid.")}) from None
    deals, next_id = service.list_deals(session, p, pipeline_id=pipeline_id, stage_id=stage_id, owner_id=owner_id,
                                        status=status, contact_id=contact_id, company_id=company_id, after=after,
                                        limit=limit)
    return DealPage(items=[DealRead.model_validate(d) for d in deals], next_cursor=next_id.hex if next_id else None)


@router.post("/deals", response_model=DealRead, status_code=201)
def create_deal(body: DealCreate, p: Principal = Depends(WRITE), session: Session = Depends(db)) -> object:
    """Record a deal for a contact or a company."""
    data = body.model_dump()
    lines = data.pop("lines")
    return service.create_deal(session, p, **data, lines=lines)


@router.get("/deals/{deal_id}", response_model=DealRead)
def read_deal(deal_id: uuid.UUID, p: Principal = Depends(READ), session: Session = Depends(db)) -> object:
    """One deal with its product lines."""
    return service.get_deal(session, p, deal_id)


@router.patch("/deals/{deal_id}", response_model=DealRead)
def update_deal(deal_id: uuid.UUID, body: DealUpdate, p: Principal = Depends(WRITE),
                session: Session = Depends(db)) -> object:
    """Change a deal; changing the stage or pipeline is a move (a stage of another pipeline is refused)."""
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        raise ValidationFailed({"body": Msg("Give at least one field to change.")})
    return service.update_deal(session, p, service.get_deal(session, p, deal_id), changes)


@router.delete("/deals/{deal_id}", status_code=204)
def delete_deal(deal_id: uuid.UUID, p: Principal = Depends(WRITE), session: Session = Depends(db)) -> Response:
    """Remove a deal and its lines."""
    service.delete_deal(session, p, service.get_deal(session, p, deal_id))
    return Response(status_code=204)


@router.post("/deals/{deal_id}/move", response_model=DealRead)
def move_deal(deal_id: uuid.UUID, body: DealMove, p: Principal = Depends(WRITE),
              session: Session = Depends(db)) -> object:
    """Move a deal to another stage of its pipeline (audited as crm.deal_moved)."""
    deal = service.get_deal(session, p, deal_id)
    return service.move_deal(session, p, deal, body.stage_id, body.lost_reason)


@router.post("/deals/{deal_id}/win", response_model=DealRead)
def win_deal(deal_id: uuid.UUID, p: Principal = Depends(WRITE), session: Session = Depends(db)) -> object:
    """Mark a deal won."""
    return service.win_deal(session, p, service.get_deal(session, p, deal_id))


@router.post("/deals/{deal_id}/lose", response_model=DealRead)
def lose_deal(deal_id: uuid.UUID, body: DealLose, p: Principal = Depends(WRITE),
              session: Session = Depends(db)) -> object:
    """Mark a deal lost, with the reason."""
    return service.lose_deal(session, p, service.get_deal(session, p, deal_id), body.reason)


@router.post("/deals/{deal_id}/reopen", response_model=DealRead)
def reopen_deal(deal_id: uuid.UUID, body: DealReopen, p: Principal = Depends(WRITE),
                session: Session = Depends(db)) -> object:
    """Open a won or lost deal again."""
    return service.reopen_deal(session, p, service.get_deal(session, p, deal_id), body.stage_id)


@router.post("/deals/{deal_id}/lines", response_model=LineRead, status_code=201)
def add_line(deal_id: uuid.UUID, body: LineCreate, p: Principal = Depends(WRITE),
             session: Session = Depends(db)) -> object:
    """Add a product line; the deal's value becomes the sum of its lines."""
    deal = service.get_deal(session, p, deal_id)
    return service.add_line(session, p, deal, body.product_name, body.quantity, body.unit_price)


@router.patch("/deals/{deal_id}/lines/{line_id}", response_model=LineRead)
def update_line(deal_id: uuid.UUID, line_id: uuid.UUID, body: LineUpdate, p: Principal = Depends(WRITE),
                session: Session = Depends(db)) -> object:
    """Change a product line."""
    deal = service.get_deal(session, p, deal_id)
    line = service.get_line(deal, line_id)
    return service.update_line(session, p, deal, line, body.model_dump(exclude_unset=True))


@router.delete("/deals/{deal_id}/lines/{line_id}", status_code=204)
def delete_line(deal_id: uuid.UUID, line_id: uuid.UUID, p: Principal = Depends(WRITE),
                session: Session = Depends(db)) -> Response:
    """Remove a product line."""
    deal = service.get_deal(session, p, deal_id)
    service.delete_line(session, p, deal, service.get_line(deal, line_id))
    return Response(status_code=204)
