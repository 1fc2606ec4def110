"""The vault: creates, unwraps, caches and rotates tenant and subject keys.

One vault per process, configured at start-up from the key provider. Tenant keys are cached (bounded);
subject keys are unwrapped from the row read in the same query as the data, so an erasure made by any
process takes effect everywhere at once (a cache hit must match the wrapped key bytes that erasure deleted).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import uuid

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import bindparam, event, select
from sqlalchemy.orm import Session

from niaga.db.base import new_id, utcnow
from niaga.privacy.keys import NONCE_BYTES, KEY_BYTES, BoundedCache, KeyConfigError, KeyProvider, open_sealed, seal
from niaga.privacy.models import DataSubject, PlatformKey, TenantKey

PLATFORM_SCOPE = uuid.UUID(int=0)
_MISSING = object()


def _tenant_aad(tenant_id: uuid.UUID, purpose: str, version: int) -> bytes:
    return f"niaga/tenant-key/{tenant_id.hex}/{purpose}/{version}".encode()


def _subject_aad(tenant_id: uuid.UUID, subject_id: uuid.UUID, version: int) -> bytes:
    return f"niaga/subject-key/{tenant_id.hex}/{subject_id.hex}/{version}".encode()


# Built once (asked by every transaction that seals something, e.g. each webhook delivery).
_ACTIVE_TENANT_VERSION = (
    select(TenantKey.version)
    .where(TenantKey.tenant_id == bindparam("tenant_id"), TenantKey.purpose == bindparam("purpose"),
           TenantKey.retired_at.is_(None))
    .order_by(TenantKey.version.desc())
    .limit(1)
)


class Vault:
    """Key operations over one key provider."""

    def __init__(self, provider: KeyProvider, cache_size: int = 4096) -> None:
        self.provider = provider
        self._tenant_keys = BoundedCache(cache_size)
        self._subject_ciphers = BoundedCache(cache_size * 4)
        self._index_keys = BoundedCache(cache_size * 4)

    # -- tenant keys -------------------------------------------------------------------------------
    def create_tenant_keys(self, session: Session, tenant_id: uuid.UUID) -> None:
        """Give a new tenant its data key and index key (version 1)."""
        for purpose in ("data", "index"):
            key = os.urandom(KEY_BYTES)
            master_version, wrapped = self.provider.wrap(key, _tenant_aad(tenant_id, purpose, 1))
            session.add(
                TenantKey(tenant_id=tenant_id, purpose=purpose, version=1, master_version=master_version, wrapped=wrapped)
            )
            self._cache_new_tenant_key(session, (tenant_id, purpose, 1), key)
            session.info.setdefault(_ACTIVE_VERSIONS, {})[(tenant_id, purpose)] = 1

    def _active_tenant_version(self, session: Session, tenant_id: uuid.UUID, purpose: str) -> int:
        # Remembered for the rest of the transaction: creating many people in one transaction must not
        # query (and autoflush everything pending) once per person. A rotation committed meanwhile by another process only
        # means these people are wrapped by the previous version, which destroy_retired then keeps.
        remembered = session.info.setdefault(_ACTIVE_VERSIONS, {})
        version = remembered.get((tenant_id, purpose))
        if version is not None:
            return version
        version = session.scalar(_ACTIVE_TENANT_VERSION, {"tenant_id": tenant_id, "purpose": purpose})
        if version is None:
            raise KeyConfigError(f"tenant {tenant_id} has no active {purpose} key")
        remembered[(tenant_id, purpose)] = version
        return version

    def _cache_new_tenant_key(self, session: Session, cache_key: tuple, key: bytes) -> None:
        """Cache a key created in this transaction, and forget it if the transaction rolls back."""
        self._tenant_keys.put(cache_key, (key, AESGCM(key)))
        session.info.setdefault(_UNCOMMITTED_KEYS, []).append((self, cache_key))

    def _tenant_entry(self, session: Session, tenant_id: uuid.UUID, purpose: str, version: int) -> tuple:
        """(key, AES-GCM cipher) of a tenant key version; the cipher is made once, not per subject key."""
        cached = self._tenant_keys.get((tenant_id, purpose, version))
        if cached is not None:
            return cached
        row = session.get(TenantKey, (tenant_id, purpose, version))
        if row is None or row.wrapped is None:
            raise KeyConfigError(f"tenant {purpose} key version {version} is missing or destroyed")
        key = self.provider.unwrap(row.master_version, row.wrapped, _tenant_aad(tenant_id, purpose, version))
        entry = (key, AESGCM(key))
        self._tenant_keys.put((tenant_id, purpose, version), entry)
        return entry

    def tenant_key(self, session: Session, tenant_id: uuid.UUID, purpose: str, version: int) -> bytes:
        """The unwrapped tenant key of a purpose and version."""
        return self._tenant_entry(session, tenant_id, purpose, version)[0]

    # -- subject keys ------------------------------------------------------------------------------
    def new_subject(self, session: Session, tenant_id: uuid.UUID, kind: str) -> DataSubject:
        """Create a data subject with a fresh key wrapped by the tenant's active data key."""
        subject_id = new_id()
        tenant_version = self._active_tenant_version(session, tenant_id, "data")
        tenant_cipher = self._tenant_entry(session, tenant_id, "data", tenant_version)[1]
        key = os.urandom(KEY_BYTES)
        nonce = os.urandom(NONCE_BYTES)  # the layout of keys.seal: nonce || ciphertext || tag
        wrapped = nonce + tenant_cipher.encrypt(nonce, key, _subject_aad(tenant_id, subject_id, 1))
        cipher = AESGCM(key)
        # A new, pending row: the INSERT takes its values from the instance dict, so they go there
        # directly. The constructor would fire an attribute event per column (change history, needed
        # only for UPDATEs), which cost more than the rest of creating the person.
        subject = DataSubject()
        subject.__dict__.update(
            tenant_id=tenant_id, id=subject_id, kind=kind, key_version=1, tenant_key_version=tenant_version,
            key_wrapped=wrapped, created_at=utcnow(), erased_at=None, _niaga_cipher=(wrapped, cipher),
        )
        session.add(subject)
        self._subject_ciphers.put((tenant_id, subject_id), (wrapped, cipher))
        return subject

    def subject_cipher(self, session: Session | None, subject: DataSubject) -> AESGCM | None:
        """The subject's AES-GCM cipher, or None when the subject was erased."""
        state = subject.__dict__
        wrapped = state.get("key_wrapped", _MISSING)
        if wrapped is _MISSING:  # not loaded or expired: the mapped attribute (re)loads the row
            wrapped = subject.key_wrapped
        if wrapped is None:
            return None
        # Remembered on the loaded row too, so reading a row's several fields costs one cache lookup;
        # keyed by the very bytes object, so a rotation or an erasure of the row is seen at once.
        memo = state.get("_niaga_cipher")
        if memo is not None and memo[0] is wrapped:
            return memo[1]
        # The process-wide cache is keyed by person and checked against the wrapped bytes read with the
        # row: an erasure or re-wrap made by another process is seen on the next read.
        tenant_id, subject_id = subject.tenant_id, subject.id
        cache_key = (tenant_id, subject_id)
        hit = self._subject_ciphers.get(cache_key)
        if hit is not None and hit[0] == wrapped:
            state["_niaga_cipher"] = (wrapped, hit[1])
            return hit[1]
        if session is None:
            raise KeyConfigError("a detached record cannot load its tenant key")
        tenant_cipher = self._tenant_entry(session, tenant_id, "data", subject.tenant_key_version)[1]
        aad = _subject_aad(tenant_id, subject_id, subject.key_version)
        key = tenant_cipher.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], aad)
        cipher = AESGCM(key)
        self._subject_ciphers.put(cache_key, (wrapped, cipher))
        state["_niaga_cipher"] = (wrapped, cipher)
        return cipher

    def forget_subject(self, tenant_id: uuid.UUID, subject_id: uuid.UUID) -> None:
        """Drop a subject's cached cipher (called on erasure)."""
        self._subject_ciphers.discard((tenant_id, subject_id))  # O(1): erasure time must not grow with the cache

    # -- blind-index keys --------------------------------------------------------------------------
    def index_key(self, session: Session, tenant_id: uuid.UUID, field: str) -> bytes:
        """HMAC key for one field's blind index, derived per tenant (or the platform) and field."""
        cached = self._index_keys.get((tenant_id, field))
        if cached is not None:
            return cached
        if tenant_id == PLATFORM_SCOPE:
            root = self._platform_key(session, "index")
        else:
            root = self.tenant_key(session, tenant_id, "index", 1)
        derived = hmac.new(root, f"niaga/blind-index/{field}".encode(), hashlib.sha256).digest()
        self._index_keys.put((tenant_id, field), derived)
        return derived

    def _platform_key(self, session: Session, name: str) -> bytes:
        row = session.get(PlatformKey, name)
        aad = f"niaga/platform-key/{name}".encode()
        if row is None:
            key = os.urandom(KEY_BYTES)
            master_version, wrapped = self.provider.wrap(key, aad)
            session.add(PlatformKey(name=name, master_version=master_version, wrapped=wrapped))
            session.flush()
            return key
        return self.provider.unwrap(row.master_version, row.wrapped, aad)

    def platform_secret(self, session: Session, name: str) -> bytes:
        """A named platform-wide secret (CSRF, address hashing), created on first use."""
        cached = self._index_keys.get((PLATFORM_SCOPE, f"secret:{name}"))
        if cached is None:
            cached = self._platform_key(session, name)
            self._index_keys.put((PLATFORM_SCOPE, f"secret:{name}"), cached)
        return cached

    # -- rotation ----------------------------------------------------------------------------------
    def rotate_master(self, session: Session) -> int:
        """Re-wrap every tenant and platform key under the provider's active master version."""
        target = self.provider.active_version
        count = 0
        for row in session.scalars(select(TenantKey).where(TenantKey.wrapped.is_not(None))):
            if row.master_version == target:
                continue
            aad = _tenant_aad(row.tenant_id, row.purpose, row.version)
            key = self.provider.unwrap(row.master_version, row.wrapped, aad)
            row.master_version, row.wrapped = self.provider.wrap(key, aad, target)
            count += 1
        for row in session.scalars(select(PlatformKey)):
            if row.master_version == target:
                continue
            aad = f"niaga/platform-key/{row.name}".encode()
            key = self.provider.unwrap(row.master_version, row.wrapped, aad)
            row.master_version, row.wrapped = self.provider.wrap(key, aad, target)
            count += 1
        session.flush()
        return count

    def rotate_tenant(self, session: Session, tenant_id: uuid.UUID) -> tuple[int, int]:
        """New tenant data key version; re-wrap every live subject key under it. Returns (version, subjects)."""
        old_version = self._active_tenant_version(session, tenant_id, "data")
        new_version = old_version + 1
        new_key = os.urandom(KEY_BYTES)
        master_version, wrapped = self.provider.wrap(new_key, _tenant_aad(tenant_id, "data", new_version))
        session.add(
            TenantKey(
                tenant_id=tenant_id, purpose="data", version=new_version, master_version=master_version, wrapped=wrapped
            )
        )
        count = 0
        subjects = session.scalars(
            select(DataSubject).where(DataSubject.tenant_id == tenant_id, DataSubject.key_wrapped.is_not(None))
        )
        for subject in subjects:
            aad = _subject_aad(tenant_id, subject.id, subject.key_version)
            old_key = self.tenant_key(session, tenant_id, "data", subject.tenant_key_version)
            key = open_sealed(old_key, subject.key_wrapped, aad)
            subject.key_wrapped = seal(new_key, key, aad)
            subject.tenant_key_version = new_version
            count += 1
        for row in session.scalars(
            select(TenantKey).where(
                TenantKey.tenant_id == tenant_id, TenantKey.purpose == "data", TenantKey.version < new_version
            )
        ):
            row.retired_at = row.retired_at or utcnow()
        # A rolled-back rotation must not leave its key cached under a version number that the next
        # rotation will reuse with another key.
        self._cache_new_tenant_key(session, (tenant_id, "data", new_version), new_key)
        session.info.setdefault(_ACTIVE_VERSIONS, {})[(tenant_id, "data")] = new_version
        session.flush()
        return new_version, count

    def destroy_retired(self, session: Session, tenant_id: uuid.UUID | None = None) -> int:
        """Destroy retired tenant data key versions no subject still depends on."""
        query = select(TenantKey).where(TenantKey.retired_at.is_not(None), TenantKey.wrapped.is_not(None))
        if tenant_id is not None:
            query = query.where(TenantKey.tenant_id == tenant_id)
        destroyed = 0
        for row in session.scalars(query):
            in_use = session.scalar(
                select(DataSubject.id)
                .where(
                    DataSubject.tenant_id == row.tenant_id,
                    DataSubject.tenant_key_version == row.version,
                    DataSubject.key_wrapped.is_not(None),
                )
                .limit(1)
            )
            if in_use is None:
                row.wrapped = None
                self._tenant_keys.discard_where(lambda k, r=row: k == (r.tenant_id, r.purpose, r.version))
                destroyed += 1
        session.flush()
        return destroyed


_ACTIVE_VERSIONS = "niaga_active_key_versions"
_UNCOMMITTED_KEYS = "niaga_uncommitted_tenant_keys"


@event.listens_for(Session, "after_commit")
def _keys_committed(session: Session) -> None:
    session.info.pop(_UNCOMMITTED_KEYS, None)
    session.info.pop(_ACTIVE_VERSIONS, None)


@event.listens_for(Session, "after_soft_rollback")
def _keys_rolled_back(session: Session, _previous: object) -> None:
    # Conservative on any rollback, savepoints included: a dropped cache entry is only a re-read.
    for vault, cache_key in session.info.pop(_UNCOMMITTED_KEYS, []):
        vault._tenant_keys.discard_where(lambda k, c=cache_key: k == c)
    session.info.pop(_ACTIVE_VERSIONS, None)


_vault: Vault | None = None


def configure_vault(provider: KeyProvider) -> Vault:
    """Install the process-wide vault."""
    global _vault
    _vault = Vault(provider)
    return _vault


def get_vault() -> Vault:
    """The process-wide vault; start-up must have configured it."""
    if _vault is None:
        raise KeyConfigError("the key vault is not configured (call niaga.app.bootstrap first)")
    return _vault
