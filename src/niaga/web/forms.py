"""Form parsing for pages: the parsed form as a dict of strings (files are handled separately)."""

from __future__ import annotations

from fastapi import Request

MAX_FIELD = 10_000


async def form_data(request: Request) -> dict[str, str]:
    """Text fields of an urlencoded or multipart form, each cut to a sane length."""
    form = await request.form()
    # Repeated fields (checkbox groups) keep every value here.
    request.state.form_lists = {
        key: [v[:MAX_FIELD] for v in form.getlist(key) if isinstance(v, str)][:500] for key in form.keys()
    }
    return {key: value[:MAX_FIELD] for key, value in form.items() if isinstance(value, str)}
