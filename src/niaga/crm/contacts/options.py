"""What the contact and company forms offer: owners, teams, companies, and the labels of stored codes.

Agents are offered only themselves and their own teams (the service refuses anything else); managers and
above choose among all active staff and teams. Staff names are only listed to those who may assign them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from niaga.crm.contacts import repository as repo
from niaga.crm.models import ADDRESS_KINDS, GENDERS
from niaga.crm.visibility import sees_everything
from niaga.identity.models import User
from niaga.identity.principal import Principal
from niaga.web.i18n import N_

LABELS = {
    "gender": {"female": N_("Female"), "male": N_("Male"), "other": N_("Other"),
               "unspecified": N_("Prefer not to say")},
    "address": {"office": N_("Office address"), "billing": N_("Billing address"),
                "shipping": N_("Shipping address")},
    "source": {"manual": N_("Entered by staff"), "import": N_("Imported from a file"), "pos": N_("Point of sale"),
               "email": N_("Email"), "webchat": N_("Web chat")},
    "field": {"full_name": N_("Name"), "emails": N_("Emails"), "phones": N_("Phones"), "birth_date": N_("Date of birth"),
              "gender": N_("Gender"), "company_id": N_("Company"), "position": N_("Position"), "notes": N_("Notes"),
              "tags": N_("Tags"), "owner_id": N_("Owner"), "team_id": N_("Team"),
              "loyalty_card_number": N_("Loyalty card number"), "row": N_("Row"), "address_shipping": N_("Address"),
              "address_office": N_("Office address"), "address_billing": N_("Billing address"),
              "addresses": N_("Address"), "company": N_("Company")},
    "import_field": {"full_name": N_("Name"), "email": N_("Email"), "phone": N_("Phone"),
                     "address": N_("Street address"), "city": N_("City"), "province": N_("Province"),
                     "postal_code": N_("Postal code"), "company": N_("Company"), "position": N_("Position"),
                     "birth_date": N_("Date of birth"), "gender": N_("Gender"), "tags": N_("Tags"),
                     "notes": N_("Notes"), "loyalty_card_number": N_("Loyalty card number")},
}


def owner_choices(session: Session, principal: Principal) -> list[User]:
    """Staff a principal may filter by or assign: everyone for managers and above, else self and teammates."""
    staff = repo.active_staff(session, principal.tenant_id)
    if sees_everything(principal):
        return staff
    mates = {principal.user_id}
    for team in repo.teams_of_user(session, principal.tenant_id, principal.user_id):
        mates.update(repo.team_member_ids(session, principal.tenant_id, team.id))
    return [u for u in staff if u.id in mates]


def assignable_owners(session: Session, principal: Principal) -> list[User]:
    """Who a principal may make the owner of a record (agents: only themselves)."""
    if sees_everything(principal):
        return repo.active_staff(session, principal.tenant_id)
    return [u for u in repo.active_staff(session, principal.tenant_id) if u.id == principal.user_id]


def team_choices(session: Session, principal: Principal) -> list[Any]:
    """Teams a principal may give a record to."""
    if sees_everything(principal):
        return repo.teams(session, principal.tenant_id)
    return repo.teams_of_user(session, principal.tenant_id, principal.user_id)


def form_choices(session: Session, principal: Principal, record: Any = None) -> dict[str, Any]:
    """Everything a contact or company form lists. A record's current owner and team stay in the lists even
    when the principal could not choose them, so saving the form does not quietly change them."""
    owners = assignable_owners(session, principal)
    teams = team_choices(session, principal)
    if record is not None and record.owner_id and record.owner_id not in {u.id for u in owners}:
        current = repo.staff_member(session, principal.tenant_id, record.owner_id)
        owners += [current] if current is not None else []
    if record is not None and record.team_id and record.team_id not in {t.id for t in teams}:
        current_team = repo.team(session, principal.tenant_id, record.team_id)
        teams += [current_team] if current_team is not None else []
    return {
        "owners": owners, "teams": teams,
        "companies": repo.company_choices(session, principal), "genders": GENDERS,
        "address_kinds": ADDRESS_KINDS, "labels": LABELS,
    }
