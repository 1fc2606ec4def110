"""Every route, called as every role and as a member of another tenant (DESIGN.md rules 2 and 3).

The matrix is generated from the app's routes: a new route is covered the moment it exists. It must
declare its access (`Require(perm)` or `PUBLIC`); path parameters are filled with real records of
tenant A, so tenant B's owner — who holds every permission in their own tenant — must get 404 and
leave tenant A's data untouched and unseen.
"""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select

from niaga.crm.models import Company, Contact
from niaga.identity import auth, staff
from niaga.identity.models import ApiToken, Invitation, StaffSession, Team, TeamMember, Tenant, User
from niaga.identity.permissions import ROLE_PERMISSIONS, Role
from niaga.privacy.audit import Actor
from niaga.web.deps import CSRF_COOKIE, PUBLIC, SESSION_COOKIE, Require, app_routes, route_access
from tests.conftest import api_token, csrf_pair
from tests.crm.service_desk import matrix as service_desk_matrix
from tests.inbox import broadcast_matrix
from tests.inbox import agent_matrix as inbox_agent_matrix
from tests.privacy.requests import matrix as privacy_requests_matrix

NOT_API_ROUTES = {"/openapi.json", "/api/docs", "/api/docs/oauth2-redirect", "/static"}

# Bodies that would change tenant A's data if authorization or tenancy failed.
API_BODIES = {
    ("PATCH", "/api/v1/me"): {"full_name": "Penyusup", "phone": "081299998888", "locale": "en"},
    ("PATCH", "/api/v1/tenant"): {"name": "Diambil Alih"},
    ("PATCH", "/api/v1/staff/{user_id}"): {"status": "disabled"},
    ("POST", "/api/v1/teams"): {"name": "Tim Penyusup"},
    ("PATCH", "/api/v1/teams/{team_id}"): {"name": "Tim Diambil Alih"},
    ("PUT", "/api/v1/teams/{team_id}/members"): {"members": []},
    ("POST", "/api/v1/staff/invitations"): {"email": "penyusup@luar.example", "role": "agent"},
    ("POST", "/api/v1/tokens"): {"label": "penyusup"},
    # sales (pipelines, stages, deals, lines)
    ("POST", "/api/v1/pipelines"): {"name": "Pipeline Penyusup"},
    ("PATCH", "/api/v1/pipelines/{pipeline_id}"): {"name": "Diambil Alih", "is_default": True},
    ("POST", "/api/v1/pipelines/{pipeline_id}/stages"): {"name": "Tahap Penyusup", "probability": 50},
    ("PUT", "/api/v1/pipelines/{pipeline_id}/stages/order"): {"stage_ids": []},
    ("PATCH", "/api/v1/pipelines/{pipeline_id}/stages/{stage_id}"): {"name": "Diambil", "probability": 5},
    ("POST", "/api/v1/deals"): {"title": "Penyusup", "value": 1},
    ("PATCH", "/api/v1/deals/{deal_id}"): {"title": "Diambil Alih", "value": 1},
    ("POST", "/api/v1/deals/{deal_id}/move"): {"stage_id": "00000000-0000-7000-8000-000000000001"},
    ("POST", "/api/v1/deals/{deal_id}/lose"): {"reason": "Penyusup"},
    ("POST", "/api/v1/deals/{deal_id}/reopen"): {},
    ("POST", "/api/v1/deals/{deal_id}/lines"): {"product_name": "Penyusup", "quantity": 1, "unit_price": 1},
    ("PATCH", "/api/v1/deals/{deal_id}/lines/{line_id}"): {"quantity": 99},
    ("POST", "/api/v1/contacts"): {"full_name": "Penyusup", "emails": ["penyusup@luar.example"]},
    ("POST", "/api/v1/contacts/search"): {"q": "rahasia@sinarabadi.example"},
    ("PATCH", "/api/v1/contacts/{contact_id}"): {"full_name": "Diambil Alih", "tags": ["diambil"]},
    ("POST", "/api/v1/contacts/{contact_id}/merge"): {"duplicate_id": "00000000-0000-7000-8000-000000000001"},
    ("POST", "/api/v1/companies"): {"name": "PT Penyusup"},
    ("PATCH", "/api/v1/companies/{company_id}"): {"name": "PT Diambil Alih"},
    # inbox channel settings
    ("POST", "/api/v1/inbox/channels"): {"kind": "webchat", "name": "Chat Penyusup"},
    ("PATCH", "/api/v1/inbox/channels/{channel_id}"): {"name": "Diambil Alih", "active": False},
    ("PUT", "/api/v1/inbox/channels/{channel_id}/secrets"): {"secrets": {"identity_secret": "penyusup"}},
}
PAGE_FORMS = {
    "/staff/{user_id}": {"action": "disable"},
    "/teams": {"name": "Tim Penyusup"},
    "/teams/{team_id}": {"action": "delete"},
    "/staff/invite": {"email": "penyusup@luar.example", "role": "agent"},
    "/settings": {"name": "Diambil Alih", "industry": "retail", "timezone": "Asia/Jakarta", "locale": "id"},
    "/account/profile": {"full_name": "Penyusup", "phone": "081299998888", "locale": "id"},
    "/account/tokens": {"label": "penyusup"},
    # contacts and companies pages
    "/contacts/new": {"full_name": "Penyusup", "emails": "penyusup@luar.example"},
    "/contacts/search": {"q": "081255501234"},  # tenant A's phone: its name shows if tenancy fails
    "/contacts/{contact_id}/edit": {"full_name": "Diambil Alih", "emails": "rahasia@sinarabadi.example"},
    "/contacts/{contact_id}/merge-candidates": {"q": "081255501234"},
    "/companies/new": {"name": "PT Penyusup"},
    "/companies/{company_id}/edit": {"name": "PT Diambil Alih"},
    # sales pages
    "/deals/new": {"title": "Penyusup", "value": "1"},
    "/deals/{deal_id}": {"title": "Diambil Alih", "value": "1"},
    "/deals/{deal_id}/move": {"stage_id": "00000000-0000-7000-8000-000000000001"},
    "/deals/{deal_id}/lose": {"reason": "Penyusup"},
    "/deals/{deal_id}/lines": {"product_name": "Penyusup", "quantity": "1", "unit_price": "1"},
    "/settings/pipelines": {"name": "Pipeline Penyusup"},
    "/settings/pipelines/{pipeline_id}": {"action": "rename", "name": "Diambil Alih"},
    "/settings/pipelines/{pipeline_id}/stages": {"name": "Tahap Penyusup", "probability": "50", "kind": "open"},
    "/settings/pipelines/{pipeline_id}/stages/{stage_id}": {"action": "save", "name": "Diambil", "probability": "5"},
    # inbox channel settings
    "/inbox/channels/new": {"kind": "webchat", "name": "Chat Penyusup"},
    "/inbox/channels/{channel_id}": {"name": "Diambil Alih", "allowed_origins": "https://penyusup.example"},
    "/inbox/channels/{channel_id}/active": {"active": "off"},
}
API_BODIES.update(service_desk_matrix.API_BODIES)
PAGE_FORMS.update(service_desk_matrix.PAGE_FORMS)
API_BODIES.update(broadcast_matrix.API_BODIES)
PAGE_FORMS.update(broadcast_matrix.PAGE_FORMS)
API_BODIES.update(inbox_agent_matrix.API_BODIES)
PAGE_FORMS.update(inbox_agent_matrix.PAGE_FORMS)
API_BODIES.update(privacy_requests_matrix.API_BODIES)
PAGE_FORMS.update(privacy_requests_matrix.PAGE_FORMS)


def all_routes(app) -> list[tuple[str, APIRoute]]:  # noqa: ANN001
    return [(path, r) for path, r in app_routes(app) if isinstance(r, APIRoute)]


def test_every_route_declares_its_access(app):
    routes = all_routes(app)
    assert len(routes) > 20
    undeclared = [f"{sorted(r.methods)} {path}" for path, r in routes if route_access(r) is None]
    assert not undeclared, f"routes without Require(...) or PUBLIC: {undeclared}"
    others = {path for path, r in app_routes(app) if not isinstance(r, APIRoute)}
    assert others <= NOT_API_ROUTES, f"unexpected non-API routes: {others - NOT_API_ROUTES}"


class World:
    """Tenant A with one member per role and a record of each kind; tenant B's owner as the outsider."""

    def __init__(self, session, tenant_a, tenant_b, settings) -> None:  # noqa: ANN001
        self.session = session
        self.a, self.b = tenant_a, tenant_b
        self.users = {Role.OWNER: tenant_a.owner}
        for role in (Role.ADMIN, Role.MANAGER, Role.AGENT, Role.CASHIER, Role.AUDITOR):
            self.users[role] = tenant_a.add_staff(session, role, name=f"Staf {role.value.title()} Sinar")
        self.target = tenant_a.add_staff(session, Role.AGENT, name="Target Agen Sinar")
        _, self.invitation = staff.invite(session, tenant_a.principal(), "calon@sinarabadi.example", "cashier",
                                          settings)
        _, self.owner_token = auth.create_token(session, tenant_a.owner, "a-token", [], Actor.system())
        _, self.owner_session = auth.start_session(session, tenant_a.owner, settings, user_agent="x",
                                                   client=None, client_ref=None)
        from niaga.identity import teams

        self.team = teams.create_team(session, tenant_a.principal(), "Tim Rahasia Sinar")
        teams.set_members(session, tenant_a.principal(), self.team.id, [self.target.id])
        from niaga.crm.contacts import companies, service as contacts

        self.company = companies.create_company(session, tenant_a.principal(), {"name": "PT Sinar Rahasia"})
        self.contact = contacts.create_contact(session, tenant_a.principal(), {
            "full_name": "Kontak Rahasia Sinar", "emails": ["rahasia@sinarabadi.example"], "phones": ["081255501234"],
            "company_id": self.company.id})
        # Sales: a pipeline of tenant A with a deal (and a product line) of a contact of its own.
        from niaga.crm.models import Contact as SalesContact
        from niaga.crm.sales import service as sales
        from niaga.privacy.vault import get_vault

        buyer = SalesContact(tenant_id=tenant_a.id, full_name="Pembeli Rahasia Sinar",
                             subject=get_vault().new_subject(session, tenant_a.id, "contact"))
        session.add(buyer)
        session.flush()
        self.pipeline = sales.create_pipeline(session, tenant_a.principal(), "Pipeline Rahasia Sinar")
        self.deal = sales.create_deal(session, tenant_a.principal(), title="Transaksi Rahasia Sinar",
                                      contact_id=buyer.id, value=5_000_000,
                                      lines=[{"product_name": "Produk Rahasia Sinar", "quantity": 2,
                                              "unit_price": 2_500_000}])
        # Inbox: a channel of tenant A (its webhook key is the webhook routes' path parameter).
        from niaga.inbox import service as inbox

        self.channel = inbox.create_channel(session, tenant_a.principal(), kind="webchat", name="Chat Rahasia Sinar",
                                            secrets={"secret": "rahasia-sinar"})
        session.commit()
        self.params = {
            "kind": "webchat",
            "key": self.channel.webhook_key,
            "channel_id": str(self.channel.id),
            "user_id": str(self.target.id),
            "invitation_id": str(self.invitation.id),
            "token_id": str(self.owner_token.id),
            "session_id": str(self.owner_session.id),
            "team_id": str(self.team.id),
            "token": "bukan-token-undangan",
            "code": "en",
            "pipeline_id": str(self.pipeline.id),
            "stage_id": str(self.pipeline.stages[1].id),
            "deal_id": str(self.deal.id),
            "line_id": str(self.deal.lines[0].id),
            "contact_id": str(self.contact.id),
            "company_id": str(self.company.id),
            "tenant_slug": tenant_a.tenant.slug,
        }
        self.secrets = ["Toko Sinar Abadi", "Target Agen Sinar", "Rina Kusuma", "calon@sinarabadi.example",
                        "Kontak Rahasia Sinar", "rahasia@sinarabadi.example", "PT Sinar Rahasia"]
        desk_params, desk_secrets = service_desk_matrix.records(session, tenant_a)
        self.params.update(desk_params)
        self.secrets += desk_secrets
        broadcast_params, broadcast_secrets = broadcast_matrix.records(session, tenant_a)
        self.params.update(broadcast_params)
        self.secrets += broadcast_secrets
        inbox_params, inbox_secrets = inbox_agent_matrix.records(session, tenant_a)
        self.params.update(inbox_params)
        self.secrets += inbox_secrets
        request_params, request_secrets = privacy_requests_matrix.records(session, tenant_a, settings.data_dir / "outbox")
        self.params.update(request_params)
        self.secrets += request_secrets
        self.secrets += ["Chat Rahasia Sinar", "Pipeline Rahasia Sinar", "Transaksi Rahasia Sinar",
                         "Pembeli Rahasia Sinar", "Produk Rahasia Sinar"]

    def fill(self, template: str) -> str:
        names = re.findall(r"{(\w+)}", template)
        missing = [n for n in names if n not in self.params]
        assert not missing, f"{template}: add a tenant-A record for path parameter(s) {missing} to the matrix"
        path = template
        for name in names:
            path = path.replace("{" + name + "}", self.params[name])
        return path

    def fingerprint(self, database) -> tuple:  # noqa: ANN001
        """What tenant A's records look like; an outsider's calls must not change it."""
        s = database.session()
        try:
            return self._fingerprint(s)
        finally:
            s.rollback()
            s.close()

    def _fingerprint(self, s) -> tuple:  # noqa: ANN001
        return (
            s.get(Tenant, self.a.id).name,
            s.get(User, (self.a.id, self.target.id)).status,
            s.get(User, (self.a.id, self.target.id)).role,
            str(s.get(User, (self.a.id, self.a.owner.id)).full_name),
            s.get(Invitation, (self.a.id, self.invitation.id)).revoked_at,
            s.get(ApiToken, (self.a.id, self.owner_token.id)).revoked_at,
            s.get(StaffSession, (self.a.id, self.owner_session.id)).revoked_at,
            len(list(s.scalars(select(Invitation).where(Invitation.tenant_id == self.a.id)))),
            len(list(s.scalars(select(ApiToken).where(ApiToken.tenant_id == self.a.id)))),
            str(s.get(Contact, (self.a.id, self.contact.id)).full_name),
            s.get(Contact, (self.a.id, self.contact.id)).tags,
            s.get(Company, (self.a.id, self.company.id)).name,
            len(list(s.scalars(select(Contact.id).where(Contact.tenant_id == self.a.id)))),
            service_desk_matrix.fingerprint(s, self.a.id),
            broadcast_matrix.fingerprint(s, self.a.id),
            inbox_agent_matrix.fingerprint(s, self.a.id),
            privacy_requests_matrix.fingerprint(s, self.a.id),
            _sales_fingerprint(s, self),
            s.get(Team, (self.a.id, self.team.id)).name if s.get(Team, (self.a.id, self.team.id)) else None,
            len(list(s.scalars(select(TeamMember).where(TeamMember.tenant_id == self.a.id)))),
            _channel_fingerprint(s, self),
        )


def _channel_fingerprint(s, world) -> tuple:  # noqa: ANN001
    """Tenant A's channels as an outsider could change them."""
    from niaga.inbox.models import Channel

    channel = s.get(Channel, (world.a.id, world.channel.id))
    return (channel.name, channel.active, channel.config, channel.secrets_sealed, channel.account_ref,
            len(list(s.scalars(select(Channel.id).where(Channel.tenant_id == world.a.id)))))


def _sales_fingerprint(s, world) -> tuple:  # noqa: ANN001
    """Tenant A's sales records as an outsider could change them."""
    from niaga.crm.sales.models import Deal, DealLine, Pipeline

    deal = s.get(Deal, (world.a.id, world.deal.id))
    pipeline = s.get(Pipeline, (world.a.id, world.pipeline.id))
    return (str(deal.title), deal.value, deal.stage_id, deal.status, [(ln.quantity, ln.unit_price) for ln in deal.lines],
            pipeline.name, pipeline.is_default, [(st.name, st.probability, st.position) for st in pipeline.stages],
            len(list(s.scalars(select(Deal.id).where(Deal.tenant_id == world.a.id)))),
            len(list(s.scalars(select(DealLine.id).where(DealLine.tenant_id == world.a.id)))),
            len(list(s.scalars(select(Pipeline.id).where(Pipeline.tenant_id == world.a.id)))))


def _client(app, session, user: User | None, settings, api: bool) -> TestClient:  # noqa: ANN001
    client = TestClient(app, raise_server_exceptions=False)
    cookie, _ = csrf_pair(session)
    client.cookies.set(CSRF_COOKIE, cookie)
    if user is not None:
        if api:
            client.headers["Authorization"] = f"Bearer {api_token(session, user)}"
        else:
            token, _ = auth.start_session(session, user, settings, user_agent="matrix", client=None, client_ref=None)
            session.commit()
            client.cookies.set(SESSION_COOKIE, token)
    return client


def _call(client: TestClient, template: str, method: str, path: str, csrf: str):  # noqa: ANN201
    api = template.startswith("/api/")
    if method == "GET":
        return client.get(path, follow_redirects=False)
    if api:
        body = API_BODIES.get((method, template), {})
        return client.request(method, path, json=body, headers={"X-CSRF-Token": csrf}, follow_redirects=False)
    form = {**PAGE_FORMS.get(template, {}), "csrf_token": csrf}
    return client.request(method, path, data=form, follow_redirects=False)


@pytest.fixture
def world(session, tenant_a, tenant_b, settings) -> World:  # noqa: ANN001
    return World(session, tenant_a, tenant_b, settings)


IDENTITIES = ["anonymous", *(r.value for r in Role), "other-tenant-owner"]
ENGINE_SENSITIVE = {"other-tenant-owner", "agent"}


# One test per identity, so the workers of a parallel run share the matrix between them.
@pytest.mark.parametrize("identity", IDENTITIES)
def test_route_matrix_roles_and_tenants(app, session, database, world, settings, identity):
    if database.dialect == "postgresql" and identity not in ENGINE_SENSITIVE:
        pytest.skip("a role's permissions are decided in Python, the same on both engines; on PostgreSQL the "
                    "matrix runs the identities whose answers come from queries (tenancy, record visibility)")
    _, csrf = csrf_pair(session)
    everyone: dict[str, User | None] = {"anonymous": None, **{r.value: u for r, u in world.users.items()},
                                        "other-tenant-owner": world.b.owner}
    identities = {identity: everyone[identity]}
    failures: list[str] = []
    for api in (True, False):
        clients = {name: _client(app, session, user, settings, api) for name, user in identities.items()}
        before = world.fingerprint(database)
        for template, route in all_routes(app):
            if template.startswith("/api/") != api:
                continue
            access = route_access(route)
            for method in sorted(route.methods - {"HEAD"}):
                path = world.fill(template)
                for name, client in clients.items():
                    # Each call runs in its own savepoint so one role's change cannot affect the next call.
                    nested = database.connection.begin_nested()
                    try:
                        resp = _call(client, template, method, path, csrf)
                        label = f"{method} {template} as {name}: {resp.status_code}"
                        if name == "other-tenant-owner" and world.fingerprint(database) != before:
                            failures.append(f"{label}, changed tenant A's records")
                    finally:
                        nested.rollback()
                    if resp.status_code >= 500:
                        failures.append(f"{label} (server error)")
                        continue
                    if access is PUBLIC:
                        continue
                    assert isinstance(access, Require)
                    user = identities[name]
                    if user is None:
                        expected_anon = 401 if api else 303
                        if resp.status_code != expected_anon or (not api and "/login" not in resp.headers["location"]):
                            failures.append(f"{label}, expected {expected_anon} to sign-in")
                        continue
                    role = Role(user.role)
                    allowed = access.perm in ROLE_PERMISSIONS[role]
                    if not allowed and resp.status_code != 403:
                        failures.append(f"{label}, expected 403 for {access.perm.value}")
                    if allowed and resp.status_code in (401, 403):
                        failures.append(f"{label}, role holds {access.perm.value} but was refused")
                    if name == "other-tenant-owner":
                        if "{" in template and resp.status_code not in (404, 403):
                            failures.append(f"{label}, expected 404 for tenant A's record")
                        leaked = [s for s in world.secrets if s in resp.text]
                        if leaked:
                            failures.append(f"{label}, response shows tenant A's data")
    assert not failures, "\n".join(failures)


def test_unknown_ids_are_404_not_500(client, session, tenant_a):
    token = api_token(session, tenant_a.owner)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.patch(f"/api/v1/staff/{uuid.uuid4()}", json={"status": "disabled"}, headers=headers).status_code == 404
    resp = client.patch("/api/v1/staff/not-a-uuid", json={"status": "disabled"}, headers=headers)
    assert resp.status_code == 422 and resp.headers["content-type"].startswith("application/problem+json")
