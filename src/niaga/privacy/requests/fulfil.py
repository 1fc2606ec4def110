"""Carrying out an approved request through the rights services (`niaga.privacy.rights`).

The rights package is imported when a request is carried out, so the queue works (and refuses with a
clear message) on a build where a right's service is missing.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from niaga.identity.models import Tenant
from niaga.identity.principal import Principal
from niaga.kit.errors import Conflict, ValidationFailed
from niaga.kit.messages import Msg
from niaga.privacy.requests import notices
from niaga.privacy.requests.models import PrivacyRequest, RequestKind
from niaga.privacy.requests.notices import Mailer

MAX_CHANGES = 20


@dataclass(frozen=True)
class Fulfilment:
    """What carrying out did: a download link for access and copies; whether the person was erased."""

    download_link: str | None = None
    erased: bool = False
    told_before_erasure: bool = False


def _rights(name: str) -> Any:
    try:
        module = importlib.import_module("niaga.privacy.rights")
        return getattr(module, name)
    except (ImportError, AttributeError):
        raise Conflict(Msg("This kind of request cannot be carried out automatically yet; handle it by hand and "
                           "record it in a note.")) from None


def correctable_fields() -> tuple[str, ...]:
    """The fields a correction may change (empty when the rights services are missing)."""
    try:
        return tuple(importlib.import_module("niaga.privacy.rights").CORRECTABLE)
    except (ImportError, AttributeError):
        return ()


def parse_changes(raw: str) -> dict[str, str]:
    """'field = new value' lines (from the staff form) as a dict."""
    changes: dict[str, str] = {}
    for line in (raw or "").splitlines()[:MAX_CHANGES]:
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise ValidationFailed({"changes": Msg("Write one change per line as: field = new value.")})
        changes[name.strip().lower()] = value.strip()[:500]
    return changes


def carry_out(session: Session, tenant: Tenant, request: PrivacyRequest, principal: Principal, *, mailer: Mailer,
              settings: Any, changes: dict[str, str]) -> Fulfilment:
    """Run the right the request asks for, in the caller's transaction."""
    kind = RequestKind(request.kind)
    subject_id = request.subject_id
    common = {"actor": principal.actor, "request_id": request.id}
    if kind in (RequestKind.ACCESS, RequestKind.PORTABLE_COPY):
        prepare = _rights("prepare_access_package")
        download_path = _rights("download_path")
        _row, token = prepare(session, tenant.id, subject_id, language=request.language,
                              portable=kind is RequestKind.PORTABLE_COPY, settings=settings, **common)
        link = mailer.link(download_path(tenant.slug, token))
        request.download_link = link
        return Fulfilment(download_link=link)
    if kind is RequestKind.CORRECTION:
        if not changes:
            raise ValidationFailed({"changes": Msg("Write the corrections to make, one per line: field = new value.")})
        allowed = correctable_fields()
        unknown = sorted(set(changes) - set(allowed))
        if unknown:
            raise ValidationFailed({"changes": Msg("These fields cannot be corrected here: {fields}.",
                                                   fields=", ".join(unknown))})
        _rights("apply_correction")(session, tenant.id, subject_id, changes, **common)
        return Fulfilment()
    if kind in (RequestKind.DELETION, RequestKind.GUARDIAN_REMOVAL):
        from niaga.privacy.requests.service import notice_email

        told: list[bool] = []
        to = notice_email(session, request)

        def notify() -> None:
            # Called by the rights service while the address still reads; a mail failure stops the deletion.
            if to:
                mailer.send(tenant, to, *notices.deletion_email(tenant, request.language))
                told.append(True)

        name = "delete_person" if kind is RequestKind.DELETION else "guardian_removal"
        _rights(name)(session, tenant.id, subject_id, notify=notify, **common)
        return Fulfilment(erased=True, told_before_erasure=bool(told))
    name = {RequestKind.WITHDRAW_CONSENT: "withdraw_all_consents", RequestKind.RESTRICT: "restrict_person",
            RequestKind.OBJECT_AUTOMATED: "object_to_automated"}[kind]
    _rights(name)(session, tenant.id, subject_id, **common)
    return Fulfilment()
