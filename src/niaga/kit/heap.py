"""Start-up heap settling for long-running processes (the web server, the worker)."""

from __future__ import annotations

import gc


def settle_heap() -> int:
    """Collect once, then move every object alive now out of the collector's sight; returns how many.

    A server process carries a large, permanent heap after start-up (modules, mappers, compiled templates,
    routes). CPython's full collections walk all of it again and again while requests allocate; frozen, a
    collection walks only what was made since. Measured with the privacy kernel's ORM workload
    (bench/crypto.py): creating contacts about a quarter faster. Call it once start-up is complete.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
