"""Pipelines and their ordered stages: the default pipeline, changes by managers, and the rules that keep
every pipeline usable (at least one open stage, exactly one won and one lost stage)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from niaga.crm.sales.models import STAGE_KINDS, Deal, Pipeline, Stage
from niaga.identity.principal import Principal
from niaga.kit.errors import Conflict, NotFound, ValidationFailed
from niaga.kit.messages import Msg
from niaga.privacy import audit

NAME_MAX = 80
MAX_STAGES = 30
MAX_PIPELINES = 50
DEFAULT_PIPELINE_NAME = "Penjualan"


@dataclass(frozen=True)
class StageSpec:
    """A stage to create: name, win probability in percent, kind (open, won or lost)."""

    name: str
    probability: int
    kind: str = "open"


# Every new business starts with this pipeline (created on first use, see ensure_default_pipeline).
DEFAULT_STAGES = (
    StageSpec("Prospek", 10),
    StageSpec("Kualifikasi", 25),
    StageSpec("Proposal", 50),
    StageSpec("Negosiasi", 75),
    StageSpec("Menang", 100, "won"),
    StageSpec("Kalah", 0, "lost"),
)


# -- reading ----------------------------------------------------------------------------------------
def ensure_default_pipeline(session: Session, tenant_id: uuid.UUID) -> Pipeline:
    """The tenant's default pipeline, created with the standard stages the first time sales is used.

    Created lazily rather than at sign-up so that businesses that existed before sales, and every other
    path that creates a tenant, get it too. Two first requests racing are stopped by the unique indexes
    (name, and one default per tenant); the loser reads the winner's pipeline.
    """
    found = session.scalar(select(Pipeline).where(Pipeline.tenant_id == tenant_id, Pipeline.is_default.is_(True)))
    if found is not None:
        return found
    first = session.scalar(select(Pipeline).where(Pipeline.tenant_id == tenant_id)
                           .order_by(Pipeline.position, Pipeline.created_at).limit(1))
    if first is not None:
        first.is_default = True  # cannot normally happen: the service never leaves a tenant without one
        session.flush()
        return first
    try:
        with session.begin_nested():
            pipeline = _new_pipeline(session, tenant_id, DEFAULT_PIPELINE_NAME, DEFAULT_STAGES, is_default=True)
    except IntegrityError:
        pipeline = session.scalar(select(Pipeline).where(Pipeline.tenant_id == tenant_id,
                                                         Pipeline.is_default.is_(True)))
        if pipeline is None:
            raise
    return pipeline


def list_pipelines(session: Session, p: Principal) -> list[Pipeline]:
    """The tenant's pipelines in their display order (the default one exists after this call)."""
    ensure_default_pipeline(session, p.tenant_id)
    return list(session.scalars(select(Pipeline).where(Pipeline.tenant_id == p.tenant_id)
                                .order_by(Pipeline.position, Pipeline.created_at)))


def get_pipeline(session: Session, p: Principal, pipeline_id: uuid.UUID | None) -> Pipeline:
    """One pipeline of the tenant; the default when no id is given."""
    if pipeline_id is None:
        return ensure_default_pipeline(session, p.tenant_id)
    pipeline = session.get(Pipeline, (p.tenant_id, pipeline_id))
    if pipeline is None:
        raise NotFound(Msg("No such pipeline."))
    return pipeline


def get_stage(session: Session, p: Principal, pipeline: Pipeline, stage_id: uuid.UUID) -> Stage:
    """One stage of a pipeline (a stage of another pipeline is 'not found' here)."""
    stage = session.get(Stage, (p.tenant_id, stage_id))
    if stage is None or stage.pipeline_id != pipeline.id:
        raise NotFound(Msg("No such stage in this pipeline."))
    return stage


def first_stage(pipeline: Pipeline, kind: str = "open") -> Stage:
    """The first stage of a kind, in pipeline order (every pipeline has one of each kind)."""
    for stage in pipeline.stages:
        if stage.kind == kind:
            return stage
    messages = {"won": Msg("This pipeline has no won stage."), "lost": Msg("This pipeline has no lost stage.")}
    raise Conflict(messages.get(kind, Msg("This pipeline has no open stage.")))


def deal_count(session: Session, tenant_id: uuid.UUID, *where: object) -> int:
    """How many deals (of any owner) match; used before removing stages and pipelines."""
    return session.scalar(select(func.count()).select_from(Deal).where(Deal.tenant_id == tenant_id, *where)) or 0


# -- validation ------------------------------------------------------------------------------------
def _clean_name(raw: object, field: str, errors: dict[str, str]) -> str:
    name = " ".join(str(raw or "").split())
    if not name:
        errors[field] = Msg("Give a name.")
    elif len(name) > NAME_MAX:
        errors[field] = Msg("Use at most {max} characters.", max=NAME_MAX)
    return name


def _check_probability(value: object, kind: str, field: str, errors: dict[str, str]) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        errors[field] = Msg("The win probability is a whole number from 0 to 100.")
        return 0
    if kind == "won" and value != 100:
        errors[field] = Msg("A won stage has a win probability of 100.")
    if kind == "lost" and value != 0:
        errors[field] = Msg("A lost stage has a win probability of 0.")
    return value


def _check_stage_set(specs: list[StageSpec], field: str, errors: dict[str, str]) -> None:
    kinds = [s.kind for s in specs]
    if len(specs) > MAX_STAGES:
        errors[field] = Msg("A pipeline has at most {max} stages.", max=MAX_STAGES)
    elif kinds.count("open") < 1 or kinds.count("won") != 1 or kinds.count("lost") != 1:
        errors[field] = Msg("A pipeline needs at least one open stage, one won stage and one lost stage.")
    names = [s.name.casefold() for s in specs]
    if len(set(names)) != len(names):
        errors[field] = Msg("Two stages of a pipeline cannot have the same name.")


def clean_stage_specs(raw: list[dict] | None, field: str = "stages") -> list[StageSpec]:
    """Validate stages given as dicts (name, probability, kind); the standard stages when none are given."""
    if raw is None:
        return list(DEFAULT_STAGES)
    errors: dict[str, str] = {}
    specs = []
    for i, item in enumerate(raw):
        kind = item.get("kind", "open")
        if kind not in STAGE_KINDS:
            errors[f"{field}.{i}.kind"] = Msg("A stage is open, won or lost.")
            kind = "open"
        name = _clean_name(item.get("name"), f"{field}.{i}.name", errors)
        probability = _check_probability(item.get("probability"), kind, f"{field}.{i}.probability", errors)
        specs.append(StageSpec(name, probability, kind))
    if not errors:
        _check_stage_set(specs, field, errors)
    if errors:
        raise ValidationFailed(errors)
    return specs


def _name_taken(session: Session, tenant_id: uuid.UUID, name: str, except_id: uuid.UUID | None = None) -> bool:
    query = select(Pipeline.id).where(Pipeline.tenant_id == tenant_id, func.lower(Pipeline.name) == name.lower())
    if except_id is not None:
        query = query.where(Pipeline.id != except_id)
    return session.scalar(query.limit(1)) is not None


# -- changes ---------------------------------------------------------------------------------------
def _new_pipeline(session: Session, tenant_id: uuid.UUID, name: str, specs: tuple[StageSpec, ...] | list[StageSpec],
                  *, is_default: bool, position: int = 0) -> Pipeline:
    pipeline = Pipeline(tenant_id=tenant_id, name=name, is_default=is_default, position=position)
    session.add(pipeline)
    session.flush()
    for i, spec in enumerate(specs):
        pipeline.stages.append(Stage(tenant_id=tenant_id, name=spec.name, probability=spec.probability,
                                     kind=spec.kind, position=i))
    session.flush()
    return pipeline


def _audit(session: Session, p: Principal, action: str, pipeline: Pipeline, **details: object) -> None:
    audit.record(session, p.tenant_id, action, p.actor, target_type="pipeline", target_id=pipeline.id,
                 purpose="U1", details=details)


def create_pipeline(session: Session, p: Principal, name: str, stages: list[dict] | None = None,
                    is_default: bool = False) -> Pipeline:
    """A new pipeline with the given stages (the standard ones when none are given)."""
    existing = list_pipelines(session, p)
    errors: dict[str, str] = {}
    name = _clean_name(name, "name", errors)
    if not errors and _name_taken(session, p.tenant_id, name):
        errors["name"] = Msg("A pipeline with this name already exists.")
    if len(existing) >= MAX_PIPELINES:
        errors["name"] = Msg("A business has at most {max} pipelines.", max=MAX_PIPELINES)
    try:
        specs = clean_stage_specs(stages)
    except ValidationFailed as exc:
        errors.update(exc.errors)
        specs = []
    if errors:
        raise ValidationFailed(errors)
    position = max((pl.position for pl in existing), default=-1) + 1
    pipeline = _new_pipeline(session, p.tenant_id, name, specs, is_default=False, position=position)
    if is_default:
        _make_default(session, p.tenant_id, pipeline)
    _audit(session, p, "crm.pipeline_created", pipeline, stages=len(specs))
    return pipeline


def _make_default(session: Session, tenant_id: uuid.UUID, pipeline: Pipeline) -> None:
    for other in session.scalars(select(Pipeline).where(Pipeline.tenant_id == tenant_id,
                                                        Pipeline.is_default.is_(True), Pipeline.id != pipeline.id)):
        other.is_default = False
    session.flush()  # the old default goes first: at most one default per tenant is a unique index
    pipeline.is_default = True
    session.flush()


def update_pipeline(session: Session, p: Principal, pipeline: Pipeline, *, name: str | None = None,
                    is_default: bool | None = None) -> Pipeline:
    """Rename a pipeline or make it the default."""
    errors: dict[str, str] = {}
    if name is not None:
        name = _clean_name(name, "name", errors)
        if not errors and _name_taken(session, p.tenant_id, name, except_id=pipeline.id):
            errors["name"] = Msg("A pipeline with this name already exists.")
    if is_default is False and pipeline.is_default:
        errors["is_default"] = Msg("Make another pipeline the default instead.")
    if errors:
        raise ValidationFailed(errors)
    if name is not None:
        pipeline.name = name
    if is_default:
        _make_default(session, p.tenant_id, pipeline)
    session.flush()
    _audit(session, p, "crm.pipeline_updated", pipeline, renamed=name is not None, is_default=pipeline.is_default)
    return pipeline


def delete_pipeline(session: Session, p: Principal, pipeline: Pipeline) -> None:
    """Remove a pipeline that is not the default and holds no deals."""
    if pipeline.is_default:
        raise Conflict(Msg("The default pipeline cannot be deleted; make another pipeline the default first."))
    if deal_count(session, p.tenant_id, Deal.pipeline_id == pipeline.id):
        raise Conflict(Msg("This pipeline still has deals; move them to another pipeline or delete them first."))
    _audit(session, p, "crm.pipeline_deleted", pipeline)
    session.delete(pipeline)
    session.flush()


def _renumber(stages: list[Stage]) -> None:
    for i, stage in enumerate(stages):
        stage.position = i


def add_stage(session: Session, p: Principal, pipeline: Pipeline, name: str, probability: object,
              kind: str = "open", position: int | None = None) -> Stage:
    """Add a stage; open stages go after the last open stage unless a position is given."""
    errors: dict[str, str] = {}
    stages = list(pipeline.stages)
    if kind not in STAGE_KINDS:
        errors["kind"] = Msg("A stage is open, won or lost.")
        kind = "open"
    elif kind != "open" and any(s.kind == kind for s in stages):
        errors["kind"] = Msg("A pipeline has exactly one won stage and one lost stage.")
    name = _clean_name(name, "name", errors)
    if "name" not in errors and any(s.name.casefold() == name.casefold() for s in stages):
        errors["name"] = Msg("Two stages of a pipeline cannot have the same name.")
    if len(stages) >= MAX_STAGES:
        errors["name"] = Msg("A pipeline has at most {max} stages.", max=MAX_STAGES)
    probability = _check_probability(probability, kind, "probability", errors)
    if position is not None and (isinstance(position, bool) or not isinstance(position, int)
                                 or not 0 <= position <= len(stages)):
        errors["position"] = Msg("The position is a whole number from 0 to {max}.", max=len(stages))
    if errors:
        raise ValidationFailed(errors)
    if position is None:
        open_positions = [i for i, s in enumerate(stages) if s.kind == "open"]
        position = (open_positions[-1] + 1) if open_positions else 0
    stage = Stage(tenant_id=p.tenant_id, name=name, probability=probability, kind=kind)
    pipeline.stages.append(stage)
    stages.insert(position, stage)
    _renumber(stages)
    session.flush()
    session.expire(pipeline, ["stages"])
    _audit(session, p, "crm.stage_added", pipeline, stage_id=stage.id)
    return stage


def update_stage(session: Session, p: Principal, pipeline: Pipeline, stage: Stage, *, name: str | None = None,
                 probability: object = None) -> Stage:
    """Rename a stage or change its win probability (its kind stays)."""
    errors: dict[str, str] = {}
    if name is not None:
        name = _clean_name(name, "name", errors)
        if not errors and any(s.name.casefold() == name.casefold() and s.id != stage.id for s in pipeline.stages):
            errors["name"] = Msg("Two stages of a pipeline cannot have the same name.")
    if probability is not None:
        _check_probability(probability, stage.kind, "probability", errors)
    if errors:
        raise ValidationFailed(errors)
    if name is not None:
        stage.name = name
    if probability is not None:
        stage.probability = probability  # type: ignore[assignment]
    session.flush()
    _audit(session, p, "crm.stage_updated", pipeline, stage_id=stage.id)
    return stage


def delete_stage(session: Session, p: Principal, pipeline: Pipeline, stage: Stage) -> None:
    """Remove an empty stage; the won and lost stages and the last open stage stay."""
    if stage.kind != "open":
        raise Conflict(Msg("A pipeline keeps its won and lost stages."))
    if sum(1 for s in pipeline.stages if s.kind == "open") <= 1:
        raise Conflict(Msg("A pipeline needs at least one open stage."))
    if deal_count(session, p.tenant_id, Deal.stage_id == stage.id):
        raise Conflict(Msg("This stage still has deals; move them to another stage first."))
    _audit(session, p, "crm.stage_deleted", pipeline, stage_id=stage.id)
    pipeline.stages.remove(stage)  # the orphan is deleted at flush
    _renumber(list(pipeline.stages))
    session.flush()
    session.expire(pipeline, ["stages"])


def reorder_stages(session: Session, p: Principal, pipeline: Pipeline, stage_ids: list[uuid.UUID]) -> Pipeline:
    """Put the pipeline's stages in the given order (every stage exactly once)."""
    stages = {s.id: s for s in pipeline.stages}
    if len(stage_ids) != len(stages) or set(stage_ids) != set(stages):
        raise ValidationFailed({"stage_ids": Msg("List every stage of this pipeline exactly once.")})
    _renumber([stages[i] for i in stage_ids])
    session.flush()
    session.expire(pipeline, ["stages"])
    _audit(session, p, "crm.stages_reordered", pipeline)
    return pipeline


def move_stage(session: Session, p: Principal, pipeline: Pipeline, stage: Stage, step: int) -> Pipeline:
    """Move a stage one place earlier (-1) or later (+1); used by the settings page's buttons."""
    order = [s.id for s in pipeline.stages]
    i = order.index(stage.id)
    j = i + (1 if step > 0 else -1)
    if 0 <= j < len(order):
        order[i], order[j] = order[j], order[i]
    return reorder_stages(session, p, pipeline, order)
