"""In a real browser: an owner moves a deal on the kanban with the card's own form (no drag and drop needed)
and finds it in the new column, then drags it back (kanban.js submits the same form)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from niaga.crm.models import Contact
from niaga.crm.sales import service
from niaga.identity.models import Tenant, User
from niaga.identity.permissions import ROLE_PERMISSIONS, Role
from niaga.identity.principal import Principal
from niaga.privacy.vault import get_vault
from tests.browser.conftest import browser, context, live_server, page  # noqa: F401 - the browser fixtures
from tests.browser.flows import sign_up, unique_email

pytestmark = pytest.mark.browser


def _seed_deal(live_server, company: str) -> None:  # noqa: ANN001
    """A contact and a deal in the first stage, for the business signed up as `company`."""
    with live_server.database.transaction() as session:
        tenant = session.scalars(select(Tenant).where(Tenant.name == company)).one()
        owner = session.scalars(select(User).where(User.tenant_id == tenant.id, User.role == "owner")).one()
        principal = Principal(tenant_id=tenant.id, user_id=owner.id, subject_id=owner.subject_id, role=Role.OWNER,
                              permissions=ROLE_PERMISSIONS[Role.OWNER], via="session")
        contact = Contact(tenant_id=tenant.id, subject=get_vault().new_subject(session, tenant.id, "contact"),
                          full_name="Ibu Ratna Sari")
        session.add(contact)
        session.flush()
        service.create_deal(session, principal, title="Renovasi dapur", contact_id=contact.id, value=15_000_000)


def test_owner_moves_a_deal_to_another_stage_on_the_kanban(page, live_server, tmp_path):  # noqa: ANN001
    company = "Bengkel Kayu Jati"
    sign_up(page, company=company, name="Rudi Hartono", email=unique_email("rudi"))
    _seed_deal(live_server, company)

    page.goto("/deals")
    expect(page.get_by_role("heading", name="Deal · Penjualan")).to_be_visible()
    prospek = page.locator("section.kanban-col", has=page.get_by_role("heading", name="Prospek", exact=True))
    card = prospek.get_by_test_id("deal-card").filter(has_text="Renovasi dapur")
    expect(card).to_contain_text("Ibu Ratna Sari")
    expect(card).to_contain_text("Rp 15.000.000")
    expect(card).to_contain_text("Rudi Hartono")

    # The no-JavaScript path: choose the stage on the card and press Move.
    card.get_by_label("Pindahkan ke tahap").select_option(label="Proposal")
    card.get_by_role("button", name="Pindahkan").click()
    expect(page.get_by_test_id("moved")).to_have_text("Deal sudah dipindahkan.")
    proposal = page.locator("section.kanban-col", has=page.get_by_role("heading", name="Proposal", exact=True))
    expect(proposal.get_by_test_id("deal-card").filter(has_text="Renovasi dapur")).to_be_visible()
    expect(prospek.get_by_test_id("deal-card")).to_have_count(0)
    expect(proposal.get_by_test_id("column-value")).to_have_text("Rp 15.000.000")
    page.screenshot(path=str(tmp_path / "kanban.png"), full_page=True)

    # Drag and drop does the same through the same form.
    moved_card = proposal.get_by_test_id("deal-card").filter(has_text="Renovasi dapur")
    negosiasi = page.locator("section.kanban-col", has=page.get_by_role("heading", name="Negosiasi", exact=True))
    moved_card.drag_to(negosiasi.locator("ul.kanban-cards"))
    expect(negosiasi.get_by_test_id("deal-card").filter(has_text="Renovasi dapur")).to_be_visible()

    # The deal page tells the same story.
    negosiasi.get_by_role("link", name="Renovasi dapur").click()
    expect(page.get_by_test_id("deal-stage")).to_have_text("Penjualan · Negosiasi")
