"""What a person does in the browser, step by step, with the words they see (Bahasa Indonesia)."""

from __future__ import annotations

import uuid

from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD


def unique_email(name: str) -> str:
    """An email no other test in the module uses."""
    return f"{name}-{uuid.uuid4().hex[:8]}@contoh.example"


def sign_up(page: Page, *, company: str, name: str, email: str) -> None:
    """Create a business account through the sign-up form and land on the dashboard."""
    page.goto("/signup")
    expect(page.get_by_role("heading", name="Buat akun bisnis Anda")).to_be_visible()
    page.get_by_label("Nama bisnis").fill(company)
    page.get_by_label("Bidang usaha").select_option(label="Makanan & minuman")
    page.get_by_label("Zona waktu").select_option("Asia/Makassar")
    page.get_by_label("Nama lengkap Anda").fill(name)
    page.get_by_label("Jabatan").fill("Pemilik")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Nomor HP").fill("0812-3456-7890")
    page.get_by_label("Tanggal lahir").fill("1989-11-23")
    page.get_by_label("Kata sandi").fill(PASSWORD)
    page.get_by_label("Saya menyetujui syarat layanan dan kebijakan privasi.").check()
    page.get_by_role("button", name="Daftar").click()
    expect(page).to_have_url("/dashboard")
    expect(page.get_by_test_id("greeting")).to_have_text(f"Selamat datang, {name}")


def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    """Fill and send the sign-in form."""
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Kata sandi").fill(password)
    page.get_by_role("button", name="Masuk").click()


def sign_out(page: Page, label: str = "Keluar") -> None:
    """Press the sign-out button in the top bar."""
    page.get_by_role("button", name=label).click()
    expect(page).to_have_url("/login")
