"""Channel secrets (tokens, app secrets, passwords) sealed under the tenant's data key.

Not a person's data, so not under a subject key: the business's own credentials for its channel accounts.
The blob names the tenant key version it was sealed with, so a tenant key rotation leaves it readable.
"""

from __future__ import annotations

import json
import struct
import uuid
from typing import Any

from sqlalchemy.orm import Session

from niaga.privacy.keys import open_sealed, seal
from niaga.privacy.vault import get_vault

_HEADER = struct.Struct(">BH")  # format 1, tenant data key version


def _aad(tenant_id: uuid.UUID, channel_id: uuid.UUID) -> bytes:
    return f"niaga/channel-secrets/{tenant_id.hex}/{channel_id.hex}".encode()


def seal_secrets(session: Session, tenant_id: uuid.UUID, channel_id: uuid.UUID, secrets: dict[str, Any]) -> bytes:
    """Seal a channel's secrets for storage."""
    vault = get_vault()
    version = vault._active_tenant_version(session, tenant_id, "data")
    key = vault.tenant_key(session, tenant_id, "data", version)
    plaintext = json.dumps(secrets, separators=(",", ":")).encode()
    return _HEADER.pack(1, version) + seal(key, plaintext, _aad(tenant_id, channel_id))


def open_secrets(session: Session, tenant_id: uuid.UUID, channel_id: uuid.UUID, blob: bytes | None) -> dict[str, Any]:
    """The channel's secrets ({} when none were stored)."""
    if not blob:
        return {}
    _fmt, version = _HEADER.unpack_from(blob)
    key = get_vault().tenant_key(session, tenant_id, "data", version)
    return json.loads(open_sealed(key, blob[_HEADER.size:], _aad(tenant_id, channel_id)))


def payload_key(session: Session, tenant_id: uuid.UUID) -> tuple[int, bytes]:
    """(version, key) of the tenant data key that seals raw deliveries now."""
    vault = get_vault()
    version = vault._active_tenant_version(session, tenant_id, "data")
    return version, vault.tenant_key(session, tenant_id, "data", version)


def seal_payload(session: Session, tenant_id: uuid.UUID, event_id: uuid.UUID, payload: bytes) -> bytes:
    """Seal a raw provider delivery until it is processed."""
    return seal_payload_under(payload_key(session, tenant_id), tenant_id, event_id, payload)


def seal_payload_under(version_key: tuple[int, bytes], tenant_id: uuid.UUID, event_id: uuid.UUID,
                       payload: bytes) -> bytes:
    """Seal a raw delivery under a tenant data key already at hand ((version, key) from `payload_key`)."""
    version, key = version_key
    return _HEADER.pack(1, version) + seal(key, payload, f"niaga/inbound/{tenant_id.hex}/{event_id.hex}".encode())


def open_payload(session: Session, tenant_id: uuid.UUID, event_id: uuid.UUID, blob: bytes) -> bytes:
    """The raw delivery bytes of a stored event."""
    _fmt, version = _HEADER.unpack_from(blob)
    key = get_vault().tenant_key(session, tenant_id, "data", version)
    return open_sealed(key, blob[_HEADER.size:], f"niaga/inbound/{tenant_id.hex}/{event_id.hex}".encode())
