"""Inbox report for a period: first-response and resolution times in business hours, volumes.

Decisions:
- A conversation counts in the period of the local date (the business's zone) it was opened; a conversation
  the customer reopened counts from the reopening (that is when the business had to answer again).
- Times are business time of the business's calendar (the service desk's hours and holidays, in its zone):
  a message that arrives Friday evening and is answered Monday morning has waited only the open hours in
  between. First response: from opening to the first reply sent to the customer (notes do not count).
  Resolution: from opening to being marked resolved.
- Volumes per channel, agent (the current assignee) and label; messages are counted by the time they were
  sent or received, notes left out. No message text is read: only times, ids and counts.
"""

from __future__ import annotations

import statistics
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from niaga.crm.service_desk import sla, sla_settings
from niaga.crm.service_desk.reports import period  # noqa: F401 - the same period rules as the SLA report
from niaga.identity.principal import Principal
from niaga.inbox.models import Channel, Conversation, Message
from niaga.inbox.service import visible_clause


@dataclass
class Figures:
    """Counts and business times for one group of conversations."""

    key: str
    label: str = ""
    conversations: int = 0
    answered: int = 0
    resolved: int = 0
    messages_in: int = 0
    messages_out: int = 0
    response_seconds: list[int] = field(default_factory=list, repr=False)
    resolution_seconds: list[int] = field(default_factory=list, repr=False)

    @staticmethod
    def _minutes(values: list[int], how: str) -> int | None:
        if not values:
            return None
        seconds = statistics.median(values) if how == "median" else statistics.fmean(values)
        return round(seconds / 60)

    @property
    def median_first_response_minutes(self) -> int | None:
        """Median business minutes to the first reply (None when nobody was answered)."""
        return self._minutes(self.response_seconds, "median")

    @property
    def average_first_response_minutes(self) -> int | None:
        """Average business minutes to the first reply."""
        return self._minutes(self.response_seconds, "mean")

    @property
    def median_resolution_minutes(self) -> int | None:
        """Median business minutes to resolution."""
        return self._minutes(self.resolution_seconds, "median")

    @property
    def average_resolution_minutes(self) -> int | None:
        """Average business minutes to resolution."""
        return self._minutes(self.resolution_seconds, "mean")

    def as_dict(self) -> dict:
        """JSON shape."""
        return {"key": self.key, "label": self.label, "conversations": self.conversations, "answered": self.answered,
                "resolved": self.resolved, "messages_in": self.messages_in, "messages_out": self.messages_out,
                "median_first_response_minutes": self.median_first_response_minutes,
                "average_first_response_minutes": self.average_first_response_minutes,
                "median_resolution_minutes": self.median_resolution_minutes,
                "average_resolution_minutes": self.average_resolution_minutes}


@dataclass
class InboxReport:
    """The report for a period."""

    since: date
    until: date
    zone: str
    total: Figures
    by_channel: list[Figures]
    by_agent: list[Figures]  # key: the assignee's user id hex, or "" for unassigned
    by_label: list[Figures]

    def as_dict(self) -> dict:
        """JSON shape."""
        return {"since": self.since.isoformat(), "until": self.until.isoformat(), "zone": self.zone,
                "total": self.total.as_dict(), "by_channel": [r.as_dict() for r in self.by_channel],
                "by_agent": [r.as_dict() for r in self.by_agent], "by_label": [r.as_dict() for r in self.by_label]}


def _bounds(zone: str, since: date, until: date) -> tuple[datetime, datetime]:
    tz = ZoneInfo(zone)
    start = datetime.combine(since, time(), tz).astimezone(UTC)
    end = datetime.combine(until + timedelta(days=1), time(), tz).astimezone(UTC)
    return start, end


def inbox_report(session: Session, principal: Principal, since: date, until: date) -> InboxReport:
    """Figures for the visible conversations opened between two local dates (inclusive)."""
    cal = sla_settings.tenant_calendar(session, principal.tenant_id)
    start, end = _bounds(cal.zone, since, until)
    channels = {c.id: c for c in session.scalars(select(Channel).where(Channel.tenant_id == principal.tenant_id))}
    total = Figures("all")
    by_channel: dict[str, Figures] = {}
    by_agent: dict[str, Figures] = {}
    by_label: dict[str, Figures] = defaultdict(lambda: Figures(""))
    query = (select(Conversation.channel_id, Conversation.assignee_id, Conversation.labels, Conversation.opened_at,
                    Conversation.first_reply_at, Conversation.resolved_at, Conversation.status)
             .where(visible_clause(principal), Conversation.opened_at >= start, Conversation.opened_at < end))
    for channel_id, assignee_id, labels, opened, replied, resolved, status in session.execute(query):
        groups = [total, _group(by_channel, channel_id.hex, _channel_label(channels.get(channel_id))),
                  _group(by_agent, assignee_id.hex if isinstance(assignee_id, uuid.UUID) else "")]
        for name in labels or []:
            row = by_label[name]
            row.key = row.label = name
            groups.append(row)
        response = sla.business_seconds(cal, opened, replied) if replied is not None else None
        resolution = sla.business_seconds(cal, opened, resolved) if status == "resolved" and resolved else None
        for row in groups:
            row.conversations += 1
            if response is not None:
                row.answered += 1
                row.response_seconds.append(response)
            if resolution is not None:
                row.resolved += 1
                row.resolution_seconds.append(resolution)
    _count_messages(session, principal, start, end, channels, total, by_channel)
    return InboxReport(since, until, cal.zone, total, _sorted(by_channel), _sorted(by_agent), _sorted(by_label))


def _group(groups: dict[str, Figures], key: str, label: str = "") -> Figures:
    if key not in groups:
        groups[key] = Figures(key, label)
    return groups[key]


def _channel_label(channel: Channel | None) -> str:
    return channel.name if channel is not None else ""


def _sorted(groups: dict[str, Figures]) -> list[Figures]:
    return sorted(groups.values(), key=lambda r: (-r.conversations, r.key))


def _count_messages(session: Session, principal: Principal, start: datetime, end: datetime,
                    channels: dict[uuid.UUID, Channel], total: Figures, by_channel: dict[str, Figures]) -> None:
    """Messages received and sent in the period per channel (notes left out)."""
    query = (select(Message.channel_id, Message.direction, func.count())
             .join(Conversation, (Conversation.tenant_id == Message.tenant_id)
                   & (Conversation.id == Message.conversation_id))
             .where(visible_clause(principal), Message.at >= start, Message.at < end, Message.private.is_(False))
             .group_by(Message.channel_id, Message.direction))
    for channel_id, direction, count in session.execute(query):
        row = _group(by_channel, channel_id.hex, _channel_label(channels.get(channel_id)))
        for target in (total, row):
            if direction == "in":
                target.messages_in += count
            else:
                target.messages_out += count
