"""A customer asks a business for their data in the privacy center, confirms with the emailed code and
downloads the package after a staff member approved the request in the queue (real browser, real server).

The live server has no mail server configured, so mail goes to the offline outbox (DATA_DIR/outbox), where
the test reads the code as a person would read their inbox.
"""

from __future__ import annotations

import io
import re
import zipfile
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from niaga.crm.contacts import service as contacts
from niaga.identity.models import Tenant, User
from niaga.identity.permissions import ROLE_PERMISSIONS, Role
from niaga.identity.principal import Principal
from tests.browser.flows import sign_up, unique_email

pytestmark = pytest.mark.browser
CUSTOMER = "sari.wulandari@pelanggan.example"


def _mails_to(outbox: Path, address: str) -> list:
    found = []
    for path in sorted(outbox.glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=default_policy)
        if message["To"] == address:
            found.append(message)
    return found


def _add_customer(live_server, company: str) -> str:  # noqa: ANN001
    """The business's customer, as the CRM would hold them; returns the business's slug."""
    with live_server.database.transaction() as session:
        tenant = session.scalar(select(Tenant).where(Tenant.name == company))
        owner = session.scalar(select(User).where(User.tenant_id == tenant.id, User.role == "owner"))
        principal = Principal(tenant_id=tenant.id, user_id=owner.id, subject_id=owner.subject_id, role=Role.OWNER,
                              permissions=ROLE_PERMISSIONS[Role.OWNER], via="session")
        contacts.create_contact(session, principal, {"full_name": "Sari Wulandari", "emails": [CUSTOMER],
                                                     "phones": ["081377711122"]})
        return tenant.slug


def test_customer_requests_their_data_and_downloads_it_after_staff_approve(browser, page, live_server) -> None:
    # Packaging a person's data and a loaded CI machine can take longer than the suite's 10-second default.
    page.set_default_timeout(30_000)
    company = "Toko Privasi Jaya"
    sign_up(page, company=company, name="Rudi Hartono", email=unique_email("rudi"))
    slug = _add_customer(live_server, company)
    outbox = live_server.settings.data_dir / "outbox"

    customer = browser.new_context(base_url=live_server.url, locale="id-ID", timezone_id="Asia/Jakarta")
    customer.set_default_timeout(30_000)
    try:
        visitor = customer.new_page()
        visitor.goto(f"/privacy-center/{slug}")
        expect(visitor.get_by_role("heading", name=f"Pusat privasi {company}")).to_be_visible()
        visitor.get_by_label("Lihat data saya (akses)").check()
        visitor.get_by_label("Email atau nomor telepon Anda").fill(CUSTOMER)
        visitor.get_by_role("button", name="Lanjutkan").click()
        expect(visitor.get_by_role("heading", name="Masukkan kode Anda")).to_be_visible()
        status_url = visitor.url
        assert re.fullmatch(re.escape(live_server.url) + rf"/privacy-center/{slug}/requests/[\w-]{{40,}}", status_url)

        [mail] = _mails_to(outbox, CUSTOMER)
        assert mail["Subject"] == f"Kode verifikasi Anda untuk {company}"
        code = re.search(r"\b(\d{6})\b", mail.get_content()).group(1)
        visitor.get_by_label("Kode").fill("000000" if code != "000000" else "111111")
        visitor.get_by_role("button", name="Konfirmasi").click()
        expect(visitor.get_by_test_id("request-error")).to_contain_text("Sisa 4 percobaan")
        visitor.get_by_label("Kode").fill(code)
        visitor.get_by_role("button", name="Konfirmasi").click()
        expect(visitor.get_by_test_id("status")).to_have_text("Diterima, menunggu ditangani")
        expect(visitor.get_by_test_id("due")).to_contain_text("WIB")

        # The owner finds it in the queue, with the hours left, and approves it.
        page.get_by_test_id("nav-privacy-requests").click()
        row = page.get_by_test_id("request-row").first
        expect(row).to_contain_text("Sari Wulandari")
        expect(row.get_by_test_id("time-left")).to_contain_text("Sisa 72 jam")
        row.get_by_role("link", name="DSR-1").click()
        expect(page.get_by_test_id("trail")).to_contain_text("Identitas dikonfirmasi dengan kode")
        page.get_by_role("button", name="Setujui dan laksanakan").click()
        expect(page.get_by_test_id("status")).to_have_text("Selesai")
        expect(page.get_by_role("status").first).to_contain_text("telah diberi tahu lewat email")

        # The customer's status page now offers the download; the email carries the same link.
        visitor.goto(status_url)
        expect(visitor.get_by_test_id("status")).to_have_text("Selesai")
        link = visitor.get_by_test_id("download")
        href = link.get_attribute("href")
        assert href in _mails_to(outbox, CUSTOMER)[-1].get_content()
        with visitor.expect_download() as download_info:
            link.click()
        data = Path(download_info.value.path()).read_bytes()
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            names = package.namelist()
            assert any(name.endswith(".json") for name in names)
            assert CUSTOMER in "".join(package.read(n).decode("utf-8", "ignore") for n in names if n.endswith(".json"))
    finally:
        customer.close()
