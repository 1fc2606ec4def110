"""Jinja2 rendering with the catalog, CSRF token and display helpers in every template."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from fastapi import Request
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from niaga.identity.accounts import TIMEZONES
from niaga.kit.messages import translate
from niaga.kit.money import format_rupiah
from niaga.kit.phone import display_phone
from niaga.privacy.fields import Unreadable
from niaga.web.deps import CSRF_COOKIE, LANG_COOKIE, csrf_token_for, ensure_csrf_cookie
from niaga.web.i18n import accepted_locale, gettext_for, pick_locale

TEMPLATE_DIR = Path(__file__).parent / "templates"
templates = Jinja2Templates(directory=str(TEMPLATE_DIR))
templates.env.autoescape = True
templates.env.filters["rupiah"] = format_rupiah


def request_locale(request: Request) -> str:
    """The UI language: the chosen cookie, else the staff member's setting, else (for API clients and
    first visits) the browser's Accept-Language, else the platform default."""
    principal = getattr(request.state, "principal", None)
    return pick_locale(
        request.cookies.get(LANG_COOKIE), principal.locale if principal else None,
        accepted_locale(request.headers.get("accept-language")) or request.app.state.settings.default_locale,
    )


DEFAULT_ZONE = "Asia/Jakarta"
TIME_FORMATS = {"id": "d MMM y HH.mm", "en": "d MMM y HH:mm"}


def tenant_zone(request: Request) -> str:
    """The signed-in tenant's time zone (WIB for visitors), looked up once per request."""
    zone = getattr(request.state, "tenant_zone", None)
    if zone:
        return zone
    zone = DEFAULT_ZONE
    principal = getattr(request.state, "principal", None)
    session = getattr(request.state, "db", None)
    if principal is not None and session is not None:
        from niaga.identity.models import Tenant

        tenant = session.get(Tenant, principal.tenant_id)
        if tenant is not None and tenant.timezone in TIMEZONES:
            zone = tenant.timezone
    request.state.tenant_zone = zone
    return zone


def _local_time(request: Request, locale: str):  # noqa: ANN202
    """`when(dt)`: a stored UTC time shown in the tenant's zone, e.g. "17 Agu 2026 10.05 WIB" (rule 6)."""

    def when(value: datetime | None) -> str:
        if value is None:
            return ""
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        zone = tenant_zone(request)
        text = format_datetime(value, TIME_FORMATS.get(locale, TIME_FORMATS["id"]), tzinfo=ZoneInfo(zone),
                               locale=locale)
        return f"{text} {TIMEZONES[zone]}"

    return when


def _personal_filter(gettext):  # noqa: ANN001, ANN202
    def render(value: Any) -> Any:
        if isinstance(value, Unreadable):
            label = gettext("erased") if value.reason == "erased" else gettext("unreadable")
            return Markup('<span class="erased">') + escape(label) + Markup("</span>")
        return "" if value is None else value

    return render


def render(request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200) -> Any:
    """Render a page in the request's language, with the CSRF token at hand."""
    locale = request_locale(request)
    gettext = gettext_for(locale)
    cookie = ensure_csrf_cookie(request)
    ctx = {
        "_": gettext,
        "t": lambda message: translate(message, gettext),
        "locale": locale,
        "csrf_token": csrf_token_for(request.state.db, cookie),
        "principal": getattr(request.state, "principal", None),
        "pv": _personal_filter(gettext),
        "phone": lambda v: display_phone(v) if isinstance(v, str) and v else _personal_filter(gettext)(v),
        "path": request.url.path,
        "when": _local_time(request, locale),
        "zone_label": lambda zone: TIMEZONES.get(zone, zone),
    }
    ctx.update(context or {})
    response = templates.TemplateResponse(request, name, ctx, status_code=status_code)
    new_cookie = getattr(request.state, "new_csrf_cookie", None)
    if new_cookie:
        response.set_cookie(
            CSRF_COOKIE, new_cookie, httponly=True, samesite="lax",
            secure=request.app.state.settings.require_https, path="/",
        )
    return response
