"""Small helpers every validation module shares: field paths, shown values, loose types.

The semantic checks run on documents that may also have shape problems, so they read
fields through ``as_dict``/``as_list``/``as_str``/``as_int``, which answer an empty value
for a wrong type (the schema reports that) instead of raising.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

from compiler.compile.load import PathKey

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

DIGITS = re.compile(r"[0-9]{1,9}")
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def json_path(path: PathKey) -> str:
    """'spec.nodes[1].labels["example.com/role"]' from its parts."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(str(part)):
            text += f".{part}" if text else str(part)
        else:
            text += "[" + json.dumps(str(part)) + "]"
    return text


def show(value: Any) -> str:
    """A value as the user wrote it, short, with control characters made visible."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        text = repr(value)
        return text if len(text) <= 80 else text[:76] + "...'"
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def at(path: PathKey, message: str) -> str:
    where = json_path(path)
    return f"{where}: {message}" if where else message


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def ip_family(version: int) -> str:
    return "IPv4" if version == 4 else "IPv6"


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
