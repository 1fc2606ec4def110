"""The FastAPI application: middleware, error handling, routers, health check."""

from __future__ import annotations

import asyncio

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text

from niaga.config import Settings, get_settings
from niaga.db import migrate
from niaga.db.engine import Database
from niaga.identity.passwords import Passwords
from niaga.inbox import assignment as _inbox_assignment  # noqa: F401 - installs the auto-assignment hook
from niaga.inbox import privacy_codes as _privacy_codes  # noqa: F401 - privacy-center codes by WhatsApp
from niaga.inbox import service as _inbox_service  # noqa: F401 - registers the timeline source
from niaga.inbox.broadcast_pages import unsubscribe_router
from niaga.inbox.webchat_routes import router as webchat_router
from niaga.inbox.webhooks import receiver as webhook_receiver
from niaga.inbox.webhooks import router as webhook_router
from niaga.kit.logging import configure_logging
from niaga.privacy.keys import provider_from_settings
from niaga.privacy.vault import configure_vault
from niaga.web import errors
from niaga.web.deps import PUBLIC, TransactionalRoute
from niaga.web.middleware import BodySizeLimit, RequestLog, SecurityHeaders
from niaga.web.templating import TEMPLATE_DIR

STATIC_DIR = TEMPLATE_DIR.parent / "static"


def bootstrap(settings: Settings) -> Database:
    """Process start-up shared by the server, the worker and the CLI: logs, keys, database."""
    configure_logging(settings.log_level, settings.log_json)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    configure_vault(provider_from_settings(settings.master_key, settings.effective_key_file))
    return Database.from_url(settings.effective_database_url)


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    """Build the ASGI app; tests pass their own settings and database."""
    settings = settings or get_settings()
    if database is None:
        database = bootstrap(settings)
    else:
        configure_logging(settings.log_level, settings.log_json)
    app = FastAPI(
        title="niaga",
        version="0.1.0",
        description="Privacy-first business platform for Indonesian SMEs. JSON API under /api/v1.",
        docs_url="/api/docs",
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.router.route_class = TransactionalRoute
    app.state.settings = settings
    app.state.database = database
    app.state.passwords = Passwords(settings.argon2_time_cost, settings.argon2_memory_kib)
    # SQLite has one writer: requests of this process take turns (see TransactionalRoute).
    app.state.write_gate = asyncio.Semaphore(1) if database.dialect == "sqlite" else None

    errors.install(app)
    app.add_middleware(SecurityHeaders, require_https=settings.require_https)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestLog)

    @app.get("/healthz", dependencies=[Depends(PUBLIC)], tags=["ops"])
    def healthz(request: Request) -> JSONResponse:
        """Database reachability and whether migrations are current."""
        db = request.app.state.database
        try:
            with db.engine.connect().execution_options(readonly=True) as conn:
                conn.execute(text("SELECT 1"))
            reachable = True
            current = migrate.is_current(db.engine)
        except Exception:  # noqa: BLE001 - health reports, never raises
            reachable, current = False, False
        ok = reachable and current
        return JSONResponse(
            {"status": "ok" if ok else "degraded", "database": "reachable" if reachable else "unreachable",
             "migrations": "current" if current else "pending", "engine": db.dialect},
            status_code=200 if ok else 503,
        )

    from niaga.api import api_router
    from niaga.pages import page_router

    app.include_router(api_router)
    app.include_router(page_router)
    app.include_router(webhook_router)
    app.include_router(webhook_receiver)  # deliveries: stored by the group commit, not the request transaction
    app.include_router(unsubscribe_router)  # public, token-authorised, one-click capable: no form CSRF
    app.include_router(webchat_router)  # public widget endpoints: no page CSRF, CORS per channel
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    return app
