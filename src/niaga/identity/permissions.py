"""Roles and their fixed permission sets (policies.md K5). Domains add their permissions here."""

from __future__ import annotations

import enum


class Role(str, enum.Enum):
    """Staff roles, highest first."""

    OWNER = "owner"
    ADMIN = "admin"
    MANAGER = "manager"
    AGENT = "agent"
    CASHIER = "cashier"
    AUDITOR = "auditor"


class Perm(str, enum.Enum):
    """Every permission a route can require."""

    ACCOUNT_SELF = "account.self"  # own profile, password, sessions, second factor
    DASHBOARD = "dashboard.view"
    TENANT_READ = "tenant.read"
    TENANT_UPDATE = "tenant.update"
    STAFF_READ = "staff.read"
    STAFF_INVITE = "staff.invite"
    STAFF_MANAGE = "staff.manage"  # change roles, disable accounts
    TOKENS_MANAGE = "tokens.manage"  # own API tokens
    AUDIT_READ = "audit.read"
    PRIVACY_INVENTORY = "privacy.inventory"
    TEAMS_MANAGE = "teams.manage"
    # CRM (record-level visibility narrows what agents see: crm/visibility.py)
    CONTACTS_READ = "contacts.read"
    CONTACTS_WRITE = "contacts.write"
    CONTACTS_MERGE = "contacts.merge"
    CONTACTS_IMPORT = "contacts.import"
    CONTACTS_EXPORT = "contacts.export"
    DEALS_READ = "deals.read"
    DEALS_WRITE = "deals.write"
    PIPELINES_MANAGE = "pipelines.manage"
    TICKETS_READ = "tickets.read"
    TICKETS_WRITE = "tickets.write"
    SLA_MANAGE = "sla.manage"
    # Data-subject requests (privacy/requests): the queue, and deciding on requests
    PRIVACY_REQUESTS_READ = "privacy.requests.read"
    PRIVACY_REQUESTS_HANDLE = "privacy.requests.handle"
    # Inbox (agents see conversations assigned to them, their teams' and unassigned ones: inbox visibility)
    INBOX_READ = "inbox.read"
    INBOX_REPLY = "inbox.reply"  # reply, notes, assign, labels, resolve
    INBOX_MANAGE = "inbox.manage"  # channels and their secrets, canned responses, labels, agent limits
    BROADCASTS_SEND = "broadcasts.send"
    INBOX_REPORTS = "inbox.reports"


_ALL = frozenset(Perm)
_READ_ONLY = frozenset(
    {Perm.ACCOUNT_SELF, Perm.DASHBOARD, Perm.TENANT_READ, Perm.STAFF_READ, Perm.AUDIT_READ, Perm.PRIVACY_INVENTORY,
     Perm.PRIVACY_REQUESTS_READ,
     Perm.CONTACTS_READ, Perm.DEALS_READ, Perm.TICKETS_READ, Perm.INBOX_READ, Perm.INBOX_REPORTS}
)
_CRM_WORK = frozenset(
    {Perm.CONTACTS_READ, Perm.CONTACTS_WRITE, Perm.DEALS_READ, Perm.DEALS_WRITE, Perm.TICKETS_READ, Perm.TICKETS_WRITE,
     Perm.INBOX_READ, Perm.INBOX_REPLY}
)
_CRM_LEAD = _CRM_WORK | {Perm.CONTACTS_MERGE, Perm.CONTACTS_IMPORT, Perm.CONTACTS_EXPORT, Perm.PIPELINES_MANAGE,
                         Perm.SLA_MANAGE, Perm.TEAMS_MANAGE, Perm.INBOX_MANAGE, Perm.BROADCASTS_SEND,
                         Perm.INBOX_REPORTS}

ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.OWNER: _ALL,
    Role.ADMIN: _ALL,
    Role.MANAGER: frozenset(
        {Perm.ACCOUNT_SELF, Perm.DASHBOARD, Perm.TENANT_READ, Perm.STAFF_READ, Perm.TOKENS_MANAGE, Perm.PRIVACY_INVENTORY}
    ) | _CRM_LEAD | {Perm.PRIVACY_REQUESTS_READ, Perm.PRIVACY_REQUESTS_HANDLE},
    Role.AGENT: frozenset({Perm.ACCOUNT_SELF, Perm.DASHBOARD, Perm.TENANT_READ, Perm.TOKENS_MANAGE}) | _CRM_WORK,
    # Cashiers look customers up at the till (loyalty, receipts); the point-of-sale domain widens this.
    Role.CASHIER: frozenset({Perm.ACCOUNT_SELF, Perm.DASHBOARD, Perm.TENANT_READ, Perm.CONTACTS_READ}),
    Role.AUDITOR: _READ_ONLY,
}

# Who may give which role: nobody hands out a role above their own; only the owner makes admins.
ASSIGNABLE: dict[Role, frozenset[Role]] = {
    Role.OWNER: frozenset(set(Role) - {Role.OWNER}),
    Role.ADMIN: frozenset({Role.MANAGER, Role.AGENT, Role.CASHIER, Role.AUDITOR}),
}


# Roles that see every record of the tenant; the others see their own and their teams' records.
FULL_VISIBILITY = frozenset({Role.OWNER, Role.ADMIN, Role.MANAGER, Role.AUDITOR})


def has_permission(role: str, perm: Perm) -> bool:
    """True when the role's fixed set includes the permission."""
    try:
        return perm in ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return False


def can_assign(actor_role: str, target_role: str) -> bool:
    """True when a staff member of `actor_role` may give someone `target_role`."""
    try:
        return Role(target_role) in ASSIGNABLE.get(Role(actor_role), frozenset())
    except ValueError:
        return False
