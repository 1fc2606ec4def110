"""Sales pipelines, their ordered stages, deals and deal lines (policies.md PR1).

A deal is a record about a customer, so its free-text fields are sealed under the customer's key: the
contact's, or the company's when the deal has no contact. Erasing that person shreds the deal's title and
lost reason while its value and stage stay for the business's figures.

The database itself refuses a deal in a stage of another pipeline: the deal's (tenant, pipeline, stage)
must match a row of `stages` with that exact (tenant, pipeline, id), which the unique constraint on
stages makes a valid foreign-key target.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKeyConstraint, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from niaga.db.base import Base, TenantOwned, Timestamped
from niaga.privacy.fields import Category, Purpose, Retention, SubjectOwned, personal, subject_fk
from niaga.web.i18n import N_

STAGE_KINDS = ("open", "won", "lost")
DEAL_STATUSES = STAGE_KINDS  # a deal's status is always the kind of the stage it is in
# One quadrillion rupiah: far above any real deal, far below the 64-bit integer limit.
MAX_RUPIAH = 10**15


class Pipeline(TenantOwned, Timestamped, Base):
    """A sales process with its own ordered stages; one pipeline of each tenant is the default."""

    __tablename__ = "pipelines"

    name: Mapped[str] = mapped_column(
        String(80), info={"not_personal": N_("The name of a sales process ('Penjualan'), chosen by the business")}
    )
    position: Mapped[int] = mapped_column(default=0)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)

    stages: Mapped[list["Stage"]] = relationship(
        primaryjoin="and_(Pipeline.tenant_id == Stage.tenant_id, Pipeline.id == foreign(Stage.pipeline_id))",
        order_by="Stage.position", lazy="selectin", cascade="all, delete-orphan",
    )

    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        # At most one default per tenant, even when two first requests create it at the same time.
        Index("uq_pipelines_default", "tenant_id", unique=True, sqlite_where=text("is_default"),
              postgresql_where=text("is_default")),
    )


class Stage(TenantOwned, Base):
    """A step of a pipeline with the chance that a deal in it is won; won and lost stages close deals."""

    __tablename__ = "stages"

    pipeline_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(
        String(80), info={"not_personal": N_("The name of a step of a sales process ('Proposal')")}
    )
    position: Mapped[int] = mapped_column(default=0)
    probability: Mapped[int] = mapped_column(default=0)  # percent, 0-100
    kind: Mapped[str] = mapped_column(String(10), default="open")

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "pipeline_id"], ["pipelines.tenant_id", "pipelines.id"],
                             ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "pipeline_id", "id"),  # the target of the deals' composite key
        UniqueConstraint("tenant_id", "pipeline_id", "name"),
        CheckConstraint("probability >= 0 AND probability <= 100", name="probability_range"),
        CheckConstraint("kind IN ('open', 'won', 'lost')", name="kind"),
    )


class Deal(TenantOwned, SubjectOwned, Timestamped, Base):
    """A sale in progress with a customer: a contact, a company, or both."""

    __tablename__ = "deals"

    title = personal(Category.TRANSACTION, [Purpose.U1], retention=Retention.RELATIONSHIP,
                     description="Deal title: what is being sold to the customer")
    lost_reason = personal(Category.TRANSACTION, [Purpose.U1], retention=Retention.RELATIONSHIP,
                           description="Why the customer did not buy (free text)")
    value: Mapped[int] = mapped_column(BigInteger, default=0)  # whole rupiah
    expected_close_date: Mapped[date | None]
    owner_id: Mapped[uuid.UUID | None]
    team_id: Mapped[uuid.UUID | None]
    contact_id: Mapped[uuid.UUID | None]
    company_id: Mapped[uuid.UUID | None]
    pipeline_id: Mapped[uuid.UUID]
    stage_id: Mapped[uuid.UUID]
    status: Mapped[str] = mapped_column(String(10), default="open")
    closed_at: Mapped[datetime | None]

    lines: Mapped[list["DealLine"]] = relationship(
        primaryjoin="and_(Deal.tenant_id == DealLine.tenant_id, Deal.id == foreign(DealLine.deal_id))",
        order_by="DealLine.position", lazy="selectin", cascade="all, delete-orphan",
    )

    __table_args__ = (
        subject_fk(),
        ForeignKeyConstraint(["tenant_id", "pipeline_id", "stage_id"],
                             ["stages.tenant_id", "stages.pipeline_id", "stages.id"],
                             name="fk_deals_stage_of_pipeline"),
        ForeignKeyConstraint(["tenant_id", "contact_id"], ["contacts.tenant_id", "contacts.id"],
                             name="fk_deals_contact_contacts"),
        ForeignKeyConstraint(["tenant_id", "company_id"], ["companies.tenant_id", "companies.id"],
                             name="fk_deals_company_companies"),
        ForeignKeyConstraint(["tenant_id", "owner_id"], ["users.tenant_id", "users.id"], name="fk_deals_owner_users"),
        ForeignKeyConstraint(["tenant_id", "team_id"], ["teams.tenant_id", "teams.id"], name="fk_deals_team_teams"),
        CheckConstraint("contact_id IS NOT NULL OR company_id IS NOT NULL", name="has_customer"),
        CheckConstraint("status IN ('open', 'won', 'lost')", name="status"),
        CheckConstraint("value >= 0", name="value_not_negative"),
        Index("ix_deals_stage", "tenant_id", "pipeline_id", "stage_id"),
        Index("ix_deals_contact", "tenant_id", "contact_id"),
        Index("ix_deals_company", "tenant_id", "company_id"),
        Index("ix_deals_owner", "tenant_id", "owner_id"),
    )


class DealLine(TenantOwned, Base):
    """A product on a deal: quantity × unit price; when a deal has lines, its value is their sum."""

    __tablename__ = "deal_lines"

    deal_id: Mapped[uuid.UUID]
    product_name: Mapped[str] = mapped_column(
        String(160), info={"not_personal": N_("The name of a product or service the business sells")}
    )
    quantity: Mapped[int] = mapped_column(default=1)
    unit_price: Mapped[int] = mapped_column(BigInteger, default=0)  # whole rupiah
    position: Mapped[int] = mapped_column(default=0)

    @property
    def total(self) -> int:
        """Quantity × unit price, in rupiah."""
        return self.quantity * self.unit_price

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "deal_id"], ["deals.tenant_id", "deals.id"], ondelete="CASCADE"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price >= 0", name="unit_price_not_negative"),
        Index("ix_deal_lines_deal", "tenant_id", "deal_id"),
    )


__all__ = ["Pipeline", "Stage", "Deal", "DealLine", "STAGE_KINDS", "DEAL_STATUSES", "MAX_RUPIAH"]
