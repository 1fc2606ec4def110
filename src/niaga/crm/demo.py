"""Registers the CRM's demo seeders (contacts first: the others attach to them)."""

from __future__ import annotations

from niaga.crm.contacts.demo import seed as seed_contacts
from niaga.crm.sales.demo import seed as seed_sales
from niaga.crm.service_desk.demo import seed as seed_service_desk

SEEDERS = [seed_contacts, seed_sales, seed_service_desk]
