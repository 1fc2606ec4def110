"""Key hierarchy: master key (provider) → tenant data and index keys → one key per data subject.

The master key never touches the database. Tenant keys are stored wrapped by a master key version;
subject keys are stored wrapped by a tenant key version. Rotation re-wraps keys, never data.

A KMS or Vault Transit provider fits behind `KeyProvider`: it only has to wrap and unwrap 32-byte
keys for a version it names. The local provider below reads keys from the environment or a key file.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import stat
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

log = logging.getLogger("niaga.keys")

KEY_BYTES = 32
NONCE_BYTES = 12


class KeyConfigError(RuntimeError):
    """The master key is missing, malformed or cannot be created; start-up must stop."""


class KeyProvider(Protocol):
    """Wraps and unwraps data keys with a master key version it holds."""

    @property
    def active_version(self) -> int: ...

    @property
    def versions(self) -> tuple[int, ...]: ...

    def wrap(self, key: bytes, aad: bytes, version: int | None = None) -> tuple[int, bytes]: ...

    def unwrap(self, version: int, blob: bytes, aad: bytes) -> bytes: ...

    def fingerprint(self, version: int | None = None) -> str: ...


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-256-GCM with a random 96-bit nonce: nonce || ciphertext || tag."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes, blob: bytes, aad: bytes) -> bytes:
    """Inverse of `seal`; raises cryptography's InvalidTag on any tampering."""
    return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)


def _decode_key(text: str, where: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyConfigError(f"{where}: the master key is not valid base64") from None
    if len(raw) != KEY_BYTES:
        raise KeyConfigError(f"{where}: the master key must be {KEY_BYTES} bytes (got {len(raw)})")
    return raw


def parse_master_keys(text: str, where: str = "NIAGA_MASTER_KEY") -> dict[int, bytes]:
    """Parse 'KEY' (version 1) or 'v2:KEY,v1:KEY' into {version: key}."""
    keys: dict[int, bytes] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        if ":" in part:
            label, _, material = part.partition(":")
            if not (label.startswith("v") and label[1:].isdigit()):
                raise KeyConfigError(f"{where}: expected 'vN:KEY', got a label {label!r}")
            version = int(label[1:])
        else:
            version = 1
        if version in keys:
            raise KeyConfigError(f"{where}: key version {version} given twice")
        keys[version] = _decode_key(material if ":" in part else part, where)
    if not keys:
        raise KeyConfigError(f"{where}: no key given")
    return keys


class LocalKeyProvider:
    """Master keys held in this process, from NIAGA_MASTER_KEY or a 0600 key file."""

    def __init__(self, keys: dict[int, bytes], key_file: Path | None = None) -> None:
        if not keys:
            raise KeyConfigError("no master key")
        self._keys = dict(keys)
        self.key_file = key_file

    @property
    def active_version(self) -> int:
        return max(self._keys)

    @property
    def versions(self) -> tuple[int, ...]:
        return tuple(sorted(self._keys))

    def wrap(self, key: bytes, aad: bytes, version: int | None = None) -> tuple[int, bytes]:
        version = self.active_version if version is None else version
        return version, seal(self._keys[version], key, aad)

    def unwrap(self, version: int, blob: bytes, aad: bytes) -> bytes:
        if version not in self._keys and self.key_file is not None and self.key_file.exists():
            # Another process (`niaga keys rotate-master`) may have added a version since start-up.
            self._keys.update(_read_key_file(self.key_file))
        if version not in self._keys:
            raise KeyConfigError(f"master key version {version} is not configured")
        return open_sealed(self._keys[version], blob, aad)

    def fingerprint(self, version: int | None = None) -> str:
        """A short non-secret identifier of a master key version (to tell keys apart in backups)."""
        version = self.active_version if version is None else version
        return base64.b32encode(seal_fingerprint(self._keys[version])).decode()[:16]

    def add_version(self) -> int:
        """Create a new master key version in the key file (rotation); returns its number."""
        if self.key_file is None:
            raise KeyConfigError(
                "the master key comes from NIAGA_MASTER_KEY: add a new 'vN:KEY' entry there, then rotate"
            )
        version = self.active_version + 1
        self._keys[version] = os.urandom(KEY_BYTES)
        _write_key_file(self.key_file, self._keys)
        return version

    def drop_versions_below(self, version: int) -> list[int]:
        """Forget master key versions older than `version` (after every key was re-wrapped)."""
        dropped = [v for v in self._keys if v < version]
        for v in dropped:
            del self._keys[v]
        if self.key_file is not None and dropped:
            _write_key_file(self.key_file, self._keys)
        return dropped


def seal_fingerprint(key: bytes) -> bytes:
    """HMAC-free fingerprint: the GCM tag of an empty message under a fixed nonce."""
    return AESGCM(key).encrypt(b"\x00" * NONCE_BYTES, b"", b"niaga-master-fingerprint")


def _write_key_file(path: Path, keys: dict[int, bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps(
        {"format": 1, "keys": {str(v): base64.b64encode(k).decode() for v, k in sorted(keys.items())}}, indent=1
    )
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(payload)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _read_key_file(path: Path) -> dict[int, bytes]:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("master key file is readable by other users; run: chmod 600 %s", path)
    try:
        data = json.loads(path.read_text())
        return {int(v): _decode_key(k, str(path)) for v, k in data["keys"].items()}
    except KeyConfigError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError):
        raise KeyConfigError(f"{path}: not a niaga key file") from None


def provider_from_settings(master_key: str, key_file: Path) -> LocalKeyProvider:
    """The environment key wins; otherwise the key file, created on first run with mode 0600."""
    if master_key:
        return LocalKeyProvider(parse_master_keys(master_key))
    if key_file.exists():
        return LocalKeyProvider(_read_key_file(key_file), key_file)
    try:
        keys = {1: os.urandom(KEY_BYTES)}
        _write_key_file(key_file, keys)
    except OSError as exc:
        raise KeyConfigError(f"cannot create the master key file {key_file}: {exc.strerror}") from None
    log.warning(
        "created a new master key file at %s — back it up separately: losing it loses all personal data", key_file
    )
    return LocalKeyProvider(keys, key_file)


class BoundedCache:
    """A small thread-safe LRU for unwrapped keys, so memory use stays bounded."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._data: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):  # noqa: ANN001, ANN201
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key, value) -> None:  # noqa: ANN001
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.limit:
                self._data.popitem(last=False)

    def discard(self, key) -> None:  # noqa: ANN001
        with self._lock:
            self._data.pop(key, None)

    def discard_where(self, predicate) -> None:  # noqa: ANN001
        with self._lock:
            for key in [k for k in self._data if predicate(k)]:
                del self._data[key]

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)
