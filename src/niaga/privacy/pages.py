"""Staff pages of the privacy kernel: the record of processing."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from niaga.identity.models import Tenant
from niaga.identity.permissions import Perm
from niaga.identity.principal import Principal
from niaga.privacy.inventory import PURPOSE_LABELS, build_inventory, not_personal_reasons
from niaga.web.deps import Require, TransactionalRoute, db
from niaga.web.templating import render

router = APIRouter(route_class=TransactionalRoute)


@router.get("/privacy/inventory")
def inventory_page(request: Request, p: Principal = Depends(Require(Perm.PRIVACY_INVENTORY)),
                   session: Session = Depends(db)) -> Response:
    """The record of processing (UU PDP Pasal 31) generated from the personal-data declarations."""
    return render(request, "privacy/inventory.html", {
        "tenant": session.get(Tenant, p.tenant_id),
        "rows": build_inventory(),
        "purposes": [(purpose.value, label) for purpose, label in PURPOSE_LABELS.items()],
        "not_personal": list(not_personal_reasons().items()),
    })
