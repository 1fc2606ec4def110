"""Rich consoles for the operator CLI."""

from __future__ import annotations

import sys

from rich.console import Console


def cli_console(stderr: bool = False) -> Console:
    """A Rich console; piped or captured output gets a wide page so tables are never cut to 80 columns."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else 200)
