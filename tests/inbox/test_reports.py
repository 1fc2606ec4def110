"""The inbox report: first response and resolution counted in the business's hours and zone; volumes."""

from __future__ import annotations

from datetime import date

import pytest

from niaga.crm.service_desk import sla_settings
from niaga.identity.permissions import Role
from niaga.inbox import conversations, reports
from niaga.kit.errors import ValidationFailed
from tests.crm.service_desk.helpers import wib
from tests.inbox.agent_helpers import arrive, conversation_of, new_channel, principal_of

WEEKDAYS_8_TO_17 = {d: ("08:00", "17:00") for d in range(5)}  # Monday to Friday


@pytest.fixture
def setup(session, tenant_a):  # noqa: ANN001, ANN201
    owner = tenant_a.principal()
    sla_settings.save_week(session, owner, WEEKDAYS_8_TO_17)
    agent = tenant_a.add_staff(session, Role.AGENT, name="Agen Laporan")
    chat = new_channel(session, tenant_a, "webchat", "Chat Situs")
    wa = new_channel(session, tenant_a, "whatsapp", "WhatsApp Toko")
    conversations.create_label(session, owner, "komplain")
    return owner, agent, chat, wa


def _answered(session, owner, channel, sender, opened, replied, resolved=None, assignee=None, labels=()):  # noqa: ANN001, ANN202
    conversation = conversation_of(session, arrive(session, channel, sender, "Halo", at=opened))
    conversation.opened_at = opened  # the customer's first message: the pipeline stamps its own clock
    conversation.first_reply_at = replied
    conversation.assignee_id = assignee.id if assignee else None
    if labels:
        conversations.set_labels(session, owner, conversation, list(labels))
    if resolved is not None:
        conversation.status, conversation.resolved_at = "resolved", resolved
    session.flush()
    return conversation


def test_friday_afternoon_answered_monday_morning_counts_only_open_hours(session, setup):  # noqa: ANN001
    owner, agent, chat, _ = setup
    # 27 November 2026 is a Friday. Open 16:00-17:00 on Friday (1 h), then 08:00-09:30 on Monday (1.5 h).
    _answered(session, owner, chat, "v-1", wib(27, 16), wib(30, 9, 30), resolved=wib(30, 11), assignee=agent)
    report = reports.inbox_report(session, owner, date(2026, 11, 27), date(2026, 11, 30))
    assert report.total.conversations == 1 and report.total.answered == 1
    assert report.total.median_first_response_minutes == 150  # 2.5 business hours, not 65.5 wall-clock hours
    assert report.total.median_resolution_minutes == 240  # + Monday 09:30-11:00
    # Opened on Saturday (closed) and answered Monday 09:30: only Monday's 1.5 h count.
    _answered(session, owner, chat, "v-2", wib(28, 10), wib(30, 9, 30))
    report = reports.inbox_report(session, owner, date(2026, 11, 28), date(2026, 11, 28))
    assert report.total.median_first_response_minutes == 90


def test_volumes_per_channel_agent_and_label_for_the_period(session, setup):  # noqa: ANN001
    owner, agent, chat, wa = setup
    _answered(session, owner, chat, "v-1", wib(23, 9), wib(23, 9, 10), assignee=agent, labels=["komplain"])
    _answered(session, owner, chat, "v-2", wib(23, 10), wib(23, 10, 30), assignee=agent)
    _answered(session, owner, wa, "6281200000001", wib(24, 9), None)
    _answered(session, owner, wa, "6281200000002", wib(20, 9), wib(20, 9, 5))  # the Friday before: outside
    report = reports.inbox_report(session, owner, date(2026, 11, 23), date(2026, 11, 24))
    assert report.total.conversations == 3 and report.total.answered == 2
    channels = {r.label: r.conversations for r in report.by_channel if r.conversations}
    assert channels == {"Chat Situs": 2, "WhatsApp Toko": 1}
    agents = {r.key: r.conversations for r in report.by_agent}
    assert agents == {agent.id.hex: 2, "": 1}
    assert [(r.key, r.conversations, r.median_first_response_minutes) for r in report.by_label] == [
        ("komplain", 1, 10)]
    assert report.total.median_first_response_minutes == 20  # 10 and 30 minutes
    data = report.as_dict()
    assert data["zone"] == "Asia/Jakarta" and data["total"]["conversations"] == 3


def test_an_agent_reports_only_what_they_may_see(session, tenant_a, setup):  # noqa: ANN001
    owner, agent, chat, _ = setup
    colleague = tenant_a.add_staff(session, Role.AGENT, name="Agen Lain")
    _answered(session, owner, chat, "v-1", wib(23, 9), wib(23, 9, 10), assignee=colleague)
    _answered(session, owner, chat, "v-2", wib(23, 9), wib(23, 9, 10), assignee=agent)
    report = reports.inbox_report(session, principal_of(agent), date(2026, 11, 23), date(2026, 11, 23))
    assert report.total.conversations == 1


def test_a_bad_period_is_refused(session, setup):  # noqa: ANN001
    today = date(2026, 11, 30)
    for since, until in (("2026-13-01", ""), ("2026-11-30", "2026-11-01"), ("2024-01-01", "2026-11-30")):
        with pytest.raises(ValidationFailed):
            reports.period(since, until, today)
