"""Teams: groups of staff whose members see each other's CRM records (crm/visibility.py)."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from niaga.identity.models import Team, TeamMember, User
from niaga.identity.principal import Principal
from niaga.kit.errors import NotFound, ValidationFailed
from niaga.kit.messages import Msg
from niaga.privacy import audit

MAX_TEAM_NAME = 80


def _clean_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned or len(cleaned) > MAX_TEAM_NAME:
        raise ValidationFailed({"name": Msg("Give the team a name of at most {n} characters.", n=MAX_TEAM_NAME)})
    return cleaned


def list_teams(session: Session, principal: Principal) -> list[tuple[Team, list[uuid.UUID]]]:
    """The tenant's teams with their member ids, by name."""
    teams = list(session.scalars(select(Team).where(Team.tenant_id == principal.tenant_id).order_by(Team.name)))
    members: dict[uuid.UUID, list[uuid.UUID]] = {t.id: [] for t in teams}
    for team_id, user_id in session.execute(
        select(TeamMember.team_id, TeamMember.user_id).where(TeamMember.tenant_id == principal.tenant_id)
    ):
        members.setdefault(team_id, []).append(user_id)
    return [(t, members[t.id]) for t in teams]


def get_team(session: Session, principal: Principal, team_id: uuid.UUID) -> Team:
    """A team of the principal's tenant, or NotFound."""
    team = session.get(Team, (principal.tenant_id, team_id))
    if team is None:
        raise NotFound(Msg("No such team."))
    return team


def create_team(session: Session, principal: Principal, name: str) -> Team:
    """A new, empty team; names are unique within the business."""
    team = Team(tenant_id=principal.tenant_id, name=_clean_name(name))
    session.add(team)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise ValidationFailed({"name": Msg("A team with this name already exists.")}) from None
    audit.record(session, principal.tenant_id, "team.created", principal.actor, target_type="team", target_id=team.id)
    return team


def rename_team(session: Session, principal: Principal, team_id: uuid.UUID, name: str) -> Team:
    """Give a team another name."""
    team = get_team(session, principal, team_id)
    team.name = _clean_name(name)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise ValidationFailed({"name": Msg("A team with this name already exists.")}) from None
    audit.record(session, principal.tenant_id, "team.renamed", principal.actor, target_type="team", target_id=team.id)
    return team


def delete_team(session: Session, principal: Principal, team_id: uuid.UUID) -> None:
    """Remove a team; records that named it keep their owner and lose the team."""
    from niaga.db.registry import metadata

    team = get_team(session, principal, team_id)
    # Any table that points at teams (contacts, deals, tickets, …) keeps its rows and forgets the team.
    for table in metadata.tables.values():
        for fk in table.foreign_key_constraints:
            if fk.referred_table.name == "teams" and table.name != "team_members":
                column = next(c for c in fk.columns if c.name != "tenant_id")
                session.execute(table.update().where(table.c.tenant_id == principal.tenant_id,
                                                     column == team.id).values({column.name: None}))
    session.delete(team)
    session.flush()
    audit.record(session, principal.tenant_id, "team.deleted", principal.actor, target_type="team", target_id=team_id)


def set_members(session: Session, principal: Principal, team_id: uuid.UUID, user_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """Replace a team's members with staff of the same business."""
    team = get_team(session, principal, team_id)
    wanted = list(dict.fromkeys(user_ids))
    found = set(session.scalars(select(User.id).where(User.tenant_id == principal.tenant_id, User.id.in_(wanted))))
    if len(found) != len(wanted):
        raise ValidationFailed({"members": Msg("Every member must be a staff member of this business.")})
    session.execute(delete(TeamMember).where(TeamMember.tenant_id == principal.tenant_id,
                                             TeamMember.team_id == team.id))
    for user_id in wanted:
        session.add(TeamMember(tenant_id=principal.tenant_id, team_id=team.id, user_id=user_id))
    session.flush()
    audit.record(session, principal.tenant_id, "team.members_set", principal.actor, target_type="team",
                 target_id=team.id, details={"members": len(wanted)})
    return wanted
