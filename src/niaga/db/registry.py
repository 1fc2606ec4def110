"""Imports every model module so that `metadata` describes the whole schema."""

from __future__ import annotations

from niaga.db.base import Base
from niaga.crm import models as _crm  # noqa: F401
from niaga.crm.sales import models as _crm_sales  # noqa: F401
from niaga.crm.service_desk import models as _crm_service_desk  # noqa: F401
from niaga.identity import models as _identity  # noqa: F401
from niaga.inbox import models as _inbox  # noqa: F401
from niaga.inbox import agent_models as _inbox_agents  # noqa: F401
from niaga.inbox import broadcast_models as _inbox_broadcasts  # noqa: F401
from niaga.privacy import audit as _audit  # noqa: F401
from niaga.privacy import consent as _consent  # noqa: F401
from niaga.privacy import file_models as _privacy_files  # noqa: F401
from niaga.privacy import models as _privacy  # noqa: F401
from niaga.privacy.rights import models as _privacy_rights  # noqa: F401
from niaga.privacy.requests import models as _privacy_requests  # noqa: F401

metadata = Base.metadata
