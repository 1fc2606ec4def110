"""Settings: every knob is a `NIAGA_…` environment variable (or a line in an optional `.env`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Validated runtime settings; the README's configuration table mirrors this class."""

    model_config = SettingsConfigDict(env_prefix="NIAGA_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("var"), description="Directory for the SQLite database, keys, files and backups.")
    database_url: str = Field(
        "", description="SQLAlchemy URL. Empty: SQLite (WAL) at DATA_DIR/niaga.db. PostgreSQL: postgresql+psycopg://…"
    )
    base_url: str = Field("http://127.0.0.1:8000", description="Public URL of this server, used in links and emails.")
    master_key: str = Field(
        "",
        description="Master key(s): base64 of 32 bytes, or 'v2:KEY,v1:KEY' to keep older versions. "
        "Empty: a key file in DATA_DIR is created on first run.",
    )
    master_key_file: Path | None = Field(None, description="Key file path (default DATA_DIR/master.key).")
    require_https: bool = Field(False, description="Redirect HTTP to HTTPS, send HSTS and Secure cookies.")
    min_age: int = Field(18, ge=13, le=99, description="Minimum age in years for a staff account (policies H1).")
    session_idle_minutes: int = Field(120, ge=5, description="A staff session ends after this much inactivity.")
    session_max_hours: int = Field(24 * 7, ge=1, description="A staff session ends this long after login.")
    invite_ttl_hours: int = Field(72, ge=1, description="How long an invitation link stays valid.")
    access_link_hours: int = Field(
        72, ge=1, le=720, description="How long the download link of a person's access package stays valid."
    )
    login_max_failures: int = Field(5, ge=1, description="Failed logins before an account or address is locked.")
    login_lockout_minutes: int = Field(15, ge=1, description="How long a lockout lasts.")
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest accepted request body (bytes).")
    default_locale: str = Field("id", description="UI language when the visitor has not chosen: id or en.")
    log_level: str = Field("INFO", description="Logging level.")
    log_json: bool = Field(True, description="Structured JSON logs (false: human-readable console lines).")
    argon2_time_cost: int = Field(3, ge=1, description="argon2id passes; changing it rehashes on next login.")
    argon2_memory_kib: int = Field(65536, ge=8, description="argon2id memory in KiB.")
    backup_retention_days: int = Field(30, ge=1, description="Backups older than this are pruned (policies T3).")
    max_file_bytes: int = Field(
        10 * 1024 * 1024, ge=1024, description="Largest file the encrypted file store accepts (bytes)."
    )
    queue: str = Field(
        "sqlite", description="Background job queue: sqlite (file in DATA_DIR), redis (needs REDIS_URL), "
        "immediate (run jobs inline; one-off scripts) or memory (held in the process until run; the test suite)."
    )
    redis_url: str = Field("", description="Redis URL for the job queue at scale, e.g. redis://localhost:6379/0.")
    demo_password: str = Field("Demo-niaga-2026!", description="Password of the demo accounts made by `niaga demo`.")
    smtp_host: str = Field(
        "", description="Outgoing mail server. Empty: mail is written to DATA_DIR/outbox/ as .eml files (offline)."
    )
    smtp_port: int = Field(587, ge=1, le=65535, description="Outgoing mail server port.")
    smtp_security: str = Field("starttls", description="starttls, tls (implicit TLS, e.g. port 465) or none.")
    smtp_username: str = Field("", description="SMTP sign-in name; empty: no AUTH.")
    smtp_password: str = Field("", description="SMTP password.")
    smtp_timeout_seconds: float = Field(20.0, gt=0, description="Seconds to wait for the mail server.")
    mail_from: str = Field("niaga <no-reply@niaga.local>", description="Sender of the platform's emails.")
    meta_graph_base: str = Field(
        "https://graph.facebook.com", description="Meta Graph API base URL (WhatsApp Cloud API, Instagram messaging)."
    )
    meta_graph_version: str = Field("v21.0", pattern=r"^v\d+\.\d+$", description="Meta Graph API version, e.g. v21.0.")
    meta_timeout_seconds: float = Field(15.0, gt=0, description="Seconds to wait for the Meta Graph API.")
    telegram_api_base: str = Field("https://api.telegram.org", description="Telegram Bot API base URL.")
    line_api_base: str = Field("https://api.line.me", description="LINE Messaging API base URL (sending).")
    line_data_api_base: str = Field(
        "https://api-data.line.me", description="LINE Messaging API base URL for media content downloads."
    )
    chat_api_timeout_seconds: float = Field(15.0, gt=0, description="Seconds to wait for the Telegram and LINE APIs.")

    @field_validator("default_locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        if value not in ("id", "en"):
            raise ValueError("must be 'id' or 'en'")
        return value

    @field_validator("queue")
    @classmethod
    def _known_queue(cls, value: str) -> str:
        if value not in ("sqlite", "redis", "immediate", "memory"):
            raise ValueError("must be 'sqlite', 'redis', 'immediate' or 'memory'")
        return value

    @field_validator("smtp_security")
    @classmethod
    def _known_smtp_security(cls, value: str) -> str:
        if value not in ("starttls", "tls", "none"):
            raise ValueError("must be 'starttls', 'tls' or 'none'")
        return value

    @field_validator("database_url")
    @classmethod
    def _known_engine(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("only sqlite:/// and postgresql+psycopg:// URLs are supported")
        return value

    @property
    def effective_database_url(self) -> str:
        """The URL actually used: the configured one or the embedded SQLite file."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'niaga.db').resolve()}"

    @property
    def effective_key_file(self) -> Path:
        """Where the local master key file lives."""
        return self.master_key_file or self.data_dir / "master.key"


class SettingsError(RuntimeError):
    """Raised at start-up when the environment does not describe a valid configuration."""


def load_settings(**overrides: object) -> Settings:
    """Read and validate settings, turning pydantic's report into one readable message."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = "NIAGA_" + "_".join(str(p) for p in err["loc"]).upper()
            lines.append(f"{name}: {err['msg']}")
        raise SettingsError("Invalid configuration:\n  " + "\n  ".join(lines)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings, read once."""
    return load_settings()
