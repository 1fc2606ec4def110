"""Password hashing (argon2id, rehash when parameters change) and strength checks (zxcvbn)."""

from __future__ import annotations

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


def password_problem(password: str, personal_words: list[str]) -> Msg | None:
    """Why a password is refused (too short, too long, guessable), or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return Msg("Use at least {n} characters.", n=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        return Msg("Use at most {n} characters.", n=MAX_LENGTH)
    result = zxcvbn(password[:100], user_inputs=[w for w in personal_words if w])
    if result["score"] < MIN_SCORE:
        warning = result["feedback"].get("warning") or ""
        if "common" in warning.lower() or "top" in warning.lower():
            return Msg("This password is one of the most common passwords. Choose another.")
        if personal_words and any(w and w.lower() in password.lower() for w in personal_words):
            return Msg("The password contains your name or email. Choose another.")
        return Msg("This password is too easy to guess. Add more words or characters.")
    return None
