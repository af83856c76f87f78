"""Kubernetes resource quantities ("100m", "64Mi", "0.5", "1e3") as exact decimals.

Shared by validation (a limit below its request) and the reconciler (the server stores
quantities in canonical form, so "1024Mi" and "1Gi" are the same value).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

_SUFFIXES = {
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}


def parse_quantity(text: str) -> Decimal | None:
    """The value of a resource.Quantity string, or None when it is not one."""
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if suffix and text.endswith(suffix):
            number = text[: -len(suffix)]
            break
    else:
        suffix, number = "", text
    if not number or number.strip() != number:
        return None
    try:
        value = Decimal(number)
    except InvalidOperation:
        return None
    return value * _SUFFIXES[suffix] if value.is_finite() else None
