"""Pipeline settings for managers: pipelines (create, rename, default, delete) and their stages (add, rename,
probability, order with up/down buttons, delete). Each form on the page is separate; a refused form comes
back with its message next to it and what was typed."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from niaga.crm.sales import forms, service
from niaga.identity.permissions import Perm
from niaga.identity.principal import Principal
from niaga.kit.errors import DomainError, ValidationFailed
from niaga.kit.messages import Msg
from niaga.web.deps import Require, TransactionalRoute, db
from niaga.web.forms import form_data
from niaga.web.i18n import N_
from niaga.web.templating import render

router = APIRouter(route_class=TransactionalRoute)
MANAGE = Require(Perm.PIPELINES_MANAGE)
KIND_LABELS = {"open": N_("Open"), "won": N_("Won"), "lost": N_("Lost")}
PROBABILITY_MESSAGE = Msg("The win probability is a whole number from 0 to 100.")


def _page(request: Request, session: Session, p: Principal, scope: str | None = None,
          exc: DomainError | None = None, values: dict[str, str] | None = None) -> Response:
    errors: dict[str, str] = {}
    if exc is not None:
        errors = exc.errors if isinstance(exc, ValidationFailed) else {"form": exc.message}
    ctx: dict[str, Any] = {
        "pipelines": service.list_pipelines(session, p),
        "kinds": KIND_LABELS,
        "scope": scope,  # which form the messages and typed values belong to
        "errors": errors,
        "values": values or {},
    }
    return render(request, "crm/sales/pipelines.html", ctx, status_code=exc.status if exc else 200)


def _done(anchor: str) -> Response:
    return RedirectResponse(f"/settings/pipelines?saved=1#{anchor}", status_code=303)


@router.get("/settings/pipelines")
def pipelines_page(request: Request, p: Principal = Depends(MANAGE), session: Session = Depends(db)) -> Response:
    """The business's pipelines and stages, with forms to change them."""
    return _page(request, session, p)


@router.post("/settings/pipelines")
def create_pipeline(request: Request, form: dict = Depends(form_data), p: Principal = Depends(MANAGE),
                    session: Session = Depends(db)) -> Response:
    """A new pipeline with the standard stages."""
    try:
        with session.begin_nested():
            pipeline = service.create_pipeline(session, p, form.get("name", ""))
    except DomainError as exc:
        return _page(request, session, p, "new", exc, forms.kept(form, "name"))
    return _done(f"pipeline-{pipeline.id}")


@router.post("/settings/pipelines/{pipeline_id}")
def update_pipeline(pipeline_id: uuid.UUID, request: Request, form: dict = Depends(form_data),
                    p: Principal = Depends(MANAGE), session: Session = Depends(db)) -> Response:
    """Rename the pipeline (action=rename) or make it the default (action=default)."""
    pipeline = service.get_pipeline(session, p, pipeline_id)
    action = form.get("action", "rename")
    try:
        with session.begin_nested():
            if action == "default":
                service.update_pipeline(session, p, pipeline, is_default=True)
            elif action == "rename":
                service.update_pipeline(session, p, pipeline, name=form.get("name", ""))
            else:
                raise ValidationFailed({"action": Msg("Unknown action.")})
    except DomainError as exc:
        session.expire_all()
        return _page(request, session, p, f"pipeline-{pipeline_id}", exc, forms.kept(form, "name"))
    return _done(f"pipeline-{pipeline_id}")


@router.post("/settings/pipelines/{pipeline_id}/delete")
def delete_pipeline(pipeline_id: uuid.UUID, request: Request, p: Principal = Depends(MANAGE),
                    session: Session = Depends(db)) -> Response:
    """Delete a pipeline that is not the default and has no deals."""
    pipeline = service.get_pipeline(session, p, pipeline_id)
    try:
        with session.begin_nested():
            service.delete_pipeline(session, p, pipeline)
    except DomainError as exc:
        session.expire_all()
        return _page(request, session, p, f"pipeline-{pipeline_id}", exc)
    return _done("pipelines")


@router.post("/settings/pipelines/{pipeline_id}/stages")
def add_stage(pipeline_id: uuid.UUID, request: Request, form: dict = Depends(form_data),
              p: Principal = Depends(MANAGE), session: Session = Depends(db)) -> Response:
    """Add a stage (open stages go after the last open one)."""
    pipeline = service.get_pipeline(session, p, pipeline_id)
    errors: dict[str, str] = {}
    probability = forms.whole(form.get("probability"), "probability", errors, PROBABILITY_MESSAGE)
    try:
        if errors:
            raise ValidationFailed(errors)
        with session.begin_nested():
            stage = service.add_stage(session, p, pipeline, form.get("name", ""), probability,
                                      form.get("kind", "open"))
    except DomainError as exc:
        session.expire_all()
        return _page(request, session, p, f"add-{pipeline_id}", exc, forms.kept(form, "name", "probability", "kind"))
    return _done(f"stage-{stage.id}")


@router.post("/settings/pipelines/{pipeline_id}/stages/{stage_id}")
def change_stage(pipeline_id: uuid.UUID, stage_id: uuid.UUID, request: Request, form: dict = Depends(form_data),
                 p: Principal = Depends(MANAGE), session: Session = Depends(db)) -> Response:
    """Save a stage's name and probability (action=save), move it (up, down) or delete it (delete)."""
    pipeline = service.get_pipeline(session, p, pipeline_id)
    stage = service.get_stage(session, p, pipeline, stage_id)
    action = form.get("action", "save")
    errors: dict[str, str] = {}
    try:
        with session.begin_nested():
            if action == "save":
                probability = forms.whole(form.get("probability"), "probability", errors, PROBABILITY_MESSAGE)
                if errors:
                    raise ValidationFailed(errors)
                service.update_stage(session, p, pipeline, stage, name=form.get("name", ""), probability=probability)
            elif action in ("up", "down"):
                service.move_stage(session, p, pipeline, stage, -1 if action == "up" else 1)
            elif action == "delete":
                service.delete_stage(session, p, pipeline, stage)
                return _done(f"pipeline-{pipeline_id}")
            else:
                raise ValidationFailed({"action": Msg("Unknown action.")})
    except DomainError as exc:
        session.expire_all()
        return _page(request, session, p, f"stage-{stage_id}", exc, forms.kept(form, "name", "probability"))
    return _done(f"stage-{stage_id}")
