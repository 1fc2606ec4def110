"""Structured logs with personal data redacted before anything is written.

Everything, including third-party loggers (uvicorn, SQLAlchemy), passes through `redact`: keys that name
personal or secret values are masked, and emails, phone numbers, NIKs and bearer tokens inside any text
are replaced. Call sites still must not log personal values; this is the second wall.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

SECRET_KEYS = frozenset(
    {
        "email", "phone", "name", "full_name", "password", "token", "secret", "address", "birth_date",
        "nik", "npwp", "ip", "client", "user_agent", "authorization", "cookie", "body", "text",
    }
)
_PATTERNS = [
    (re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"), "[email]"),
    (re.compile(r"(?<!\w)(\+?62|0)8\d{1,3}[\s-]?\d{3,4}[\s-]?\d{3,5}(?!\w)"), "[phone]"),
    (re.compile(r"(?<!\d)\d{16}(?!\d)"), "[number]"),
    (re.compile(r"(?i)bearer\s+[\w.~+/=-]+"), "Bearer [token]"),
]


def scrub(text: str) -> str:
    """Replace emails, phones, 16-digit numbers and bearer tokens in free text."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: mask personal keys, scrub personal patterns in every string."""
    for key, value in list(event.items()):
        if key.lower() in SECRET_KEYS:
            event[key] = "[redacted]"
        elif isinstance(value, str):
            event[key] = scrub(value)
        elif isinstance(value, (list, tuple)):
            event[key] = [scrub(v) if isinstance(v, str) else v for v in value]
    return event


def configure_logging(level: str = "INFO", json_output: bool = True) -> None:
    """Route structlog and stdlib logging through one redacting pipeline."""
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.format_exc_info,
        redact,
    ]
    renderer = structlog.processors.JSONRenderer() if json_output else structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, redact, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # The access log would write client addresses and raw paths (tokens); niaga logs requests itself.
    logging.getLogger("uvicorn.access").disabled = True


def get_logger(name: str) -> Any:
    """A structlog logger bound to a name."""
    return structlog.get_logger(name)
