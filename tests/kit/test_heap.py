"""The servers freeze their start-up heap (bench/crypto.py's figures assume it)."""

from __future__ import annotations

import base64
import os
import subprocess
import sys


def test_the_web_app_freezes_what_start_up_loaded_so_collections_skip_it(tmp_path):
    env = {**os.environ, "NIAGA_DATA_DIR": str(tmp_path), "NIAGA_QUEUE": "memory",
           "NIAGA_MASTER_KEY": base64.b64encode(os.urandom(32)).decode()}
    probe = "import gc; before = gc.get_freeze_count(); import niaga.asgi; print(before, gc.get_freeze_count())"
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    before, after = map(int, out.stdout.split())
    assert before == 0 and after > 50_000  # modules, mappers, routes, templates: all frozen
