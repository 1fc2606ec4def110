"""Declarative base, naming convention and the column helpers every model shares."""

from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import datetime, timezone

from sqlalchemy import DateTime, ForeignKey, MetaData, Uuid, func
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


_last_id = [0, 0]  # (milliseconds, 12-bit counter) of the previous id in this process
_id_lock = threading.Lock()


def new_id() -> uuid.UUID:
    """A time-ordered UUID (version 7 layout with a per-millisecond counter): increasing within a process,
    so new rows land at the end of indexes and ids made in one transaction sort in creation order."""
    with _id_lock:
        millis = time.time_ns() // 1_000_000
        if millis <= _last_id[0]:
            millis, counter = _last_id[0], _last_id[1] + 1
            if counter > 0xFFF:  # more than 4096 ids in one millisecond: borrow the next millisecond
                millis, counter = millis + 1, 0
        else:
            counter = int.from_bytes(os.urandom(2), "big") & 0x3FF  # leave room to count up
        _last_id[0], _last_id[1] = millis, counter
    raw = bytearray(millis.to_bytes(6, "big") + counter.to_bytes(2, "big") + os.urandom(8))
    raw[6] = (raw[6] & 0x0F) | 0x70
    raw[8] = (raw[8] & 0x3F) | 0x80
    return uuid.UUID(bytes=bytes(raw))


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; always returns aware datetimes (SQLite forgets the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):  # noqa: ANN001, ANN201
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value, dialect):  # noqa: ANN001, ANN201
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    """Root of every niaga model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), uuid.UUID: Uuid()}


class Timestamped:
    """created_at / updated_at maintained by the ORM."""

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TenantOwned:
    """DESIGN.md rule 2: primary key (tenant_id, id); foreign keys between tenant tables include tenant_id."""

    @declared_attr
    def tenant_id(cls) -> Mapped[uuid.UUID]:  # noqa: N805
        return mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True, sort_order=-20)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id, sort_order=-19)


__all__ = ["Base", "TenantOwned", "Timestamped", "UTCDateTime", "new_id", "utcnow", "func"]
