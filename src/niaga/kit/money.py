"""Rupiah: integer amounts, shown as 'Rp 15.000'."""

from __future__ import annotations


def format_rupiah(amount: int) -> str:
    """'Rp 15.000' (thousands with '.', no decimals); negative as '-Rp 15.000'."""
    if not isinstance(amount, int):
        raise TypeError("rupiah amounts are integers")
    sign = "-" if amount < 0 else ""
    return f"{sign}Rp {abs(amount):,}".replace(",", ".")
