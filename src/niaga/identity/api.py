"""JSON API for identity: me, tenant, staff, invitations, tokens, audit."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from niaga.identity import accounts, auth, staff, teams
from niaga.identity.models import Tenant
from niaga.identity.permissions import Perm
from niaga.identity.principal import Principal
from niaga.identity.schemas import (
    AuditEventRead,
    InvitationCreate,
    InvitationCreated,
    InvitationRead,
    MeRead,
    Page,
    ProfileUpdate,
    StaffRead,
    StaffUpdate,
    TenantRead,
    TeamMembers,
    TeamRead,
    TeamWrite,
    TenantUpdate,
    TokenCreate,
    TokenCreated,
    TokenRead,
)
from niaga.kit.errors import ValidationFailed
from niaga.kit.messages import Msg
from niaga.privacy.audit import AuditEvent
from niaga.web.deps import TransactionalRoute, Require, db

router = APIRouter(tags=["identity"], route_class=TransactionalRoute)


def _me(user) -> MeRead:  # noqa: ANN001
    data = StaffRead.model_validate(user).model_dump()
    return MeRead(**data, birth_date=user.birth_date, accepted_policy_version=user.accepted_policy_version,
                  second_factor=bool(user.totp_secret), tenant_id=user.tenant_id)


@router.get("/me", response_model=MeRead)
def read_me(p: Principal = Depends(Require(Perm.ACCOUNT_SELF)), session: Session = Depends(db)) -> MeRead:
    """The signed-in staff member."""
    return _me(accounts.get_user(session, p.tenant_id, p.user_id))


@router.patch("/me", response_model=MeRead)
def update_me(body: ProfileUpdate, p: Principal = Depends(Require(Perm.ACCOUNT_SELF)),
              session: Session = Depends(db)) -> MeRead:
    """Change one's own name, position, phone and language."""
    user = accounts.get_user(session, p.tenant_id, p.user_id)
    accounts.update_profile(session, user, full_name=body.full_name, position=body.position, phone=body.phone,
                            locale=body.locale, actor=p.actor)
    return _me(user)


@router.get("/tenant", response_model=TenantRead)
def read_tenant(p: Principal = Depends(Require(Perm.TENANT_READ)), session: Session = Depends(db)) -> Tenant:
    """The business's settings."""
    return session.get(Tenant, p.tenant_id)


@router.patch("/tenant", response_model=TenantRead)
def update_tenant(body: TenantUpdate, p: Principal = Depends(Require(Perm.TENANT_UPDATE)),
                  session: Session = Depends(db)) -> Tenant:
    """Change the business's settings."""
    tenant = session.get(Tenant, p.tenant_id)
    return accounts.update_tenant(session, tenant, body.model_dump(exclude_unset=True), p.actor)


@router.get("/staff", response_model=list[StaffRead])
def list_staff(p: Principal = Depends(Require(Perm.STAFF_READ)), session: Session = Depends(db)) -> list:
    """Every staff member of the business."""
    return staff.list_staff(session, p)


@router.patch("/staff/{user_id}", response_model=StaffRead)
def update_staff(user_id: uuid.UUID, body: StaffUpdate, p: Principal = Depends(Require(Perm.STAFF_MANAGE)),
                 session: Session = Depends(db)) -> object:
    """Change a staff member's role or status."""
    if body.role is None and body.status is None:
        raise ValidationFailed({"body": Msg("Give a role or a status to change.")})
    user = None
    if body.role is not None:
        user = staff.change_role(session, p, user_id, body.role)
    if body.status is not None:
        user = staff.set_status(session, p, user_id, body.status == "active")
    return user


@router.get("/staff/invitations", response_model=list[InvitationRead])
def list_invitations(p: Principal = Depends(Require(Perm.STAFF_READ)), session: Session = Depends(db)) -> list:
    """Open invitations."""
    return staff.list_invitations(session, p)


@router.post("/staff/invitations", response_model=InvitationCreated, status_code=201)
def create_invitation(body: InvitationCreate, request: Request, p: Principal = Depends(Require(Perm.STAFF_INVITE)),
                      session: Session = Depends(db)) -> InvitationCreated:
    """Invite someone; the link is in the answer, once."""
    settings = request.app.state.settings
    token, row = staff.invite(session, p, body.email, body.role, settings)
    data = InvitationRead.model_validate(row).model_dump()
    return InvitationCreated(**data, link=f"{settings.base_url.rstrip('/')}/invite/{token}")


@router.delete("/staff/invitations/{invitation_id}", status_code=204)
def revoke_invitation(invitation_id: uuid.UUID, p: Principal = Depends(Require(Perm.STAFF_INVITE)),
                      session: Session = Depends(db)) -> Response:
    """Withdraw an open invitation."""
    staff.revoke_invitation(session, p, invitation_id)
    return Response(status_code=204)


@router.get("/tokens", response_model=list[TokenRead])
def list_tokens(p: Principal = Depends(Require(Perm.TOKENS_MANAGE)), session: Session = Depends(db)) -> list:
    """One's own API tokens."""
    return auth.list_tokens(session, accounts.get_user(session, p.tenant_id, p.user_id))


@router.post("/tokens", response_model=TokenCreated, status_code=201)
def create_token(body: TokenCreate, p: Principal = Depends(Require(Perm.TOKENS_MANAGE)),
                 session: Session = Depends(db)) -> TokenCreated:
    """A new API token; the secret is in the answer, once."""
    user = accounts.get_user(session, p.tenant_id, p.user_id)
    secret, row = auth.create_token(session, user, body.label, body.scopes, p.actor, body.expires_days)
    return TokenCreated(**TokenRead.model_validate(row).model_dump(), token=secret)


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: uuid.UUID, p: Principal = Depends(Require(Perm.TOKENS_MANAGE)),
                 session: Session = Depends(db)) -> Response:
    """Revoke one of one's tokens."""
    auth.revoke_token(session, accounts.get_user(session, p.tenant_id, p.user_id), token_id, p.actor)
    return Response(status_code=204)


@router.get("/audit", response_model=Page)
def list_audit(
    p: Principal = Depends(Require(Perm.AUDIT_READ)),
    session: Session = Depends(db),
    before: int | None = Query(None, ge=1, description="Show events older than this sequence number."),
    limit: int = Query(50, ge=1, le=200),
    action: str | None = Query(None, max_length=60),
) -> Page:
    """The business's audit log, newest first."""
    query = select(AuditEvent).where(AuditEvent.tenant_id == p.tenant_id)
    if before is not None:
        query = query.where(AuditEvent.seq < before)
    if action:
        query = query.where(AuditEvent.action == action)
    rows = list(session.scalars(query.order_by(AuditEvent.seq.desc()).limit(limit + 1)))
    items = [AuditEventRead.model_validate(r) for r in rows[:limit]]
    return Page(items=items, next_cursor=str(rows[limit - 1].seq) if len(rows) > limit else None)


@router.get("/teams", response_model=list[TeamRead])
def list_teams(p: Principal = Depends(Require(Perm.STAFF_READ)), session: Session = Depends(db)) -> list:
    """The business's teams and their members."""
    return [TeamRead(id=t.id, name=t.name, members=m) for t, m in teams.list_teams(session, p)]


@router.post("/teams", response_model=TeamRead, status_code=201)
def create_team(body: TeamWrite, p: Principal = Depends(Require(Perm.TEAMS_MANAGE)),
                session: Session = Depends(db)) -> TeamRead:
    """Create an empty team."""
    team = teams.create_team(session, p, body.name)
    return TeamRead(id=team.id, name=team.name, members=[])


@router.patch("/teams/{team_id}", response_model=TeamRead)
def rename_team(team_id: uuid.UUID, body: TeamWrite, p: Principal = Depends(Require(Perm.TEAMS_MANAGE)),
                session: Session = Depends(db)) -> TeamRead:
    """Rename a team."""
    team = teams.rename_team(session, p, team_id, body.name)
    members = dict((t.id, m) for t, m in teams.list_teams(session, p))[team.id]
    return TeamRead(id=team.id, name=team.name, members=members)


@router.put("/teams/{team_id}/members", response_model=TeamRead)
def set_team_members(team_id: uuid.UUID, body: TeamMembers, p: Principal = Depends(Require(Perm.TEAMS_MANAGE)),
                     session: Session = Depends(db)) -> TeamRead:
    """Replace a team's member list."""
    members = teams.set_members(session, p, team_id, body.members)
    team = teams.get_team(session, p, team_id)
    return TeamRead(id=team.id, name=team.name, members=members)


@router.delete("/teams/{team_id}", status_code=204)
def delete_team(team_id: uuid.UUID, p: Principal = Depends(Require(Perm.TEAMS_MANAGE)),
                session: Session = Depends(db)) -> Response:
    """Remove a team."""
    teams.delete_team(session, p, team_id)
    return Response(status_code=204)
