"""Errors a person can understand, rendered as application/problem+json by the API."""

from __future__ import annotations


class DomainError(Exception):
    """A refusal with a clear message; `status` is the HTTP status it maps to."""

    status = 400
    code = "bad-request"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code


class NotFound(DomainError):
    """The thing does not exist here (or belongs to another tenant: the same answer)."""

    status = 404
    code = "not-found"


class Conflict(DomainError):
    """The request clashes with existing data (duplicate, stale state)."""

    status = 409
    code = "conflict"


class Forbidden(DomainError):
    """Authenticated, but the role does not allow it."""

    status = 403
    code = "forbidden"


class Unauthorized(DomainError):
    """Not signed in, or the credentials are wrong."""

    status = 401
    code = "unauthorized"


class TooManyRequests(DomainError):
    """Rate limit or lockout."""

    status = 429
    code = "too-many-requests"

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ValidationFailed(DomainError):
    """One or more fields are invalid; `errors` maps field name to message."""

    status = 422
    code = "validation-failed"

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors
