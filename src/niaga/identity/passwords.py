"""Password hashing (argon2id, rehash when parameters change) and strength checks (zxcvbn)."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn

from niaga.kit.messages import Msg

MIN_LENGTH = 10
MAX_LENGTH = 256
MIN_SCORE = 3  # zxcvbn: 3 = "safely unguessable: moderate protection from offline slow-hash attacks"


class Passwords:
    """argon2id hasher with niaga's parameters."""

    def __init__(self, time_cost: int, memory_kib: int) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)
        self._dummy = self._hasher.hash("niaga-timing-equaliser")

    def hash(self, password: str) -> str:
        """A salted argon2id hash."""
        return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        """Constant-effort check; an unknown account still costs one verification."""
        try:
            return self._hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        """True when the hash was made with other parameters."""
        return self._hasher.check_needs_rehash(stored)


def _personal_terms(personal_values: list[str]) -> list[str]:
    terms: list[str] = []
    for value in filter(None, personal_values):
        lowered = value.lower()
        local = lowered.split("@", 1)[0]
        terms += [lowered, local, "".join(lowered.split())] + [w for w in re.split(r"[^a-z0-9]+", local) if w]
        terms += [w for w in lowered.split() if w]
    return sorted({t for t in terms if len(t) >= 3})


def password_problem(password: str, personal_values: list[str]) -> Msg | None:
    """Why a password is refused (too short, too long, guessable, built on one's own name), or None."""
    if len(password) < MIN_LENGTH:
        return Msg("Use at least {n} characters.", n=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        return Msg("Use at most {n} characters.", n=MAX_LENGTH)
    terms = _personal_terms(personal_values)
    compact = re.sub(r"[^a-z0-9]", "", password.lower())
    # The whole name or the email's local part inside the password is refused outright.
    whole = [t for t in terms if " " not in t and "@" not in t and len(t) >= 6]
    if any(t in compact for t in whole):
        return Msg("The password contains your name or email. Choose another.")
    result = zxcvbn(password[:100], user_inputs=terms)
    if result["score"] < MIN_SCORE:
        warning = result["feedback"].get("warning") or ""
        if "common" in warning.lower() or "top" in warning.lower():
            return Msg("This password is one of the most common passwords. Choose another.")
        return Msg("This password is too easy to guess. Add more words or characters.")
    return None
