"""Fixtures for kit tests: a real local SMTP server."""

from tests.support.smtp import smtp_factory, smtp_server  # noqa: F401
