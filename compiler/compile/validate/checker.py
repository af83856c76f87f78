"""The base of the semantic checks: where problems are collected, and shared field checks.

Semantic checks run even when the schema found problems, so they tolerate wrong types;
``report`` drops a problem about a field the schema already reported, so each mistake is
reported once.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from compiler.compile.load import Document, PathKey
from compiler.compile.validate.fields import Address, as_dict, as_str, at, show
from compiler.compile.validate.images import image_reference_problem
from compiler.core.errors import Problem
from compiler.core.quantity import parse_quantity
from compiler.core.sources import SourceTree

_BROADCAST = ipaddress.IPv4Address("255.255.255.255")


class FieldChecker:
    """Collects located problems; the checks of fields that several spec sections have."""

    def __init__(self, doc: Document, tree: SourceTree, known_bad: list[PathKey]) -> None:
        self.doc = doc
        self.tree = tree
        self.known_bad = known_bad
        self.problems: list[Problem] = []

    def _already_reported(self, path: PathKey) -> bool:
        for bad in self.known_bad:
            shorter = min(len(bad), len(path))
            if bad[:shorter] == path[:shorter]:
                return True
        return False

    def report(self, path: PathKey, message: str, *, key: bool = False) -> None:
        if self._already_reported(path):
            return
        location = self.doc.positions.of(path, key=key)
        self.problems.append(Problem(location, at(path, message)))

    def _image(self, path: PathKey, reference: str, shown: str | None = None) -> None:
        problem = image_reference_problem(reference)
        if problem is not None:
            what = "registry path" if shown is not None else "image reference"
            self.report(path, f"{show(shown or reference)} is not a valid {what}: {problem}")

    def _ip(self, path: PathKey, value: Any) -> Address | None:
        text = as_str(value)
        if text is None:
            return None
        try:
            return ipaddress.ip_address(text)
        except ValueError:
            self.report(path, f"{show(text)} is not a valid IP address")
            return None

    def _special(self, path: PathKey, ip: Address, what: str) -> bool:
        kind = (
            "unspecified"
            if ip.is_unspecified
            else "a loopback address"
            if ip.is_loopback
            else "a link-local address"
            if ip.is_link_local
            else "a multicast address"
            if ip.is_multicast
            else "the broadcast address"
            if ip == _BROADCAST
            else "a reserved address (240.0.0.0/4)"
            if ip.version == 4 and ip.is_reserved
            else None
        )
        if kind is not None:
            text = (
                f"{ip} is {kind}" if kind != "unspecified" else f"{ip} is the unspecified address"
            )
            self.report(path, f"{text}; {what} needs a routable address")
        return kind is not None

    def _resources(self, path: PathKey, value: Any) -> None:
        """A container's limits may not be below its requests (Kubernetes refuses it)."""
        resources = as_dict(value)
        requests, limits = as_dict(resources.get("requests")), as_dict(resources.get("limits"))
        for name in sorted(requests.keys() & limits.keys()):
            request = parse_quantity(str(requests[name]))
            limit = parse_quantity(str(limits[name]))
            if request is not None and limit is not None and limit < request:
                self.report(
                    (*path, "limits", name),
                    f"{limits[name]} is below the request ({requests[name]}); "
                    "a limit must be at least the request",
                )

    def _source(self, path: PathKey, source: str | None) -> None:
        if source is not None and not self.tree.is_file(source):
            self.report(
                path,
                f"file {source!r} does not exist in the repository "
                "(paths are relative to the directory of the spec and may not leave it)",
            )
