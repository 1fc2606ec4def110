"""Record-level visibility, in one place (DESIGN rule 3): agents see their own and their teams' records,
managers and above see everything, auditors read everything and write nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, or_, select, true
from sqlalchemy.orm import Session

from niaga.identity.models import TeamMember
from niaga.identity.permissions import FULL_VISIBILITY
from niaga.identity.principal import Principal


def sees_everything(principal: Principal) -> bool:
    """True for roles that see every record of the tenant."""
    return principal.role in FULL_VISIBILITY


def visible(principal: Principal, model: Any) -> ColumnElement[bool]:
    """WHERE clause limiting `model` (with tenant_id, owner_id, team_id) to what the principal may see."""
    in_tenant = model.tenant_id == principal.tenant_id
    if sees_everything(principal):
        return in_tenant & true()
    teams = select(TeamMember.team_id).where(
        TeamMember.tenant_id == principal.tenant_id, TeamMember.user_id == principal.user_id
    )
    return in_tenant & or_(model.owner_id == principal.user_id, model.team_id.in_(teams))


def can_see(session: Session, principal: Principal, record: Any) -> bool:
    """The same rule for one loaded record."""
    if record is None or record.tenant_id != principal.tenant_id:
        return False
    if sees_everything(principal) or record.owner_id == principal.user_id:
        return True
    if record.team_id is None:
        return False
    return session.get(TeamMember, (principal.tenant_id, record.team_id, principal.user_id)) is not None
