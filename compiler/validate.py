"""Stage 2, validate: the JSON Schema (shape), then semantic checks (meaning).

Every problem is collected with its ``file:line:col`` and raised together as one
``SpecError``; nothing after this stage can receive a value the checks did not accept.
"""

from __future__ import annotations

import difflib
import ipaddress
from collections.abc import Iterator
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from compiler.errors import Problem, SpecError
from compiler.loader import Document, PathKey
from compiler.schema import cluster_schema
from compiler.sources import SourceTree
from compiler.versions import SUPPORTED_RANGE, KubeVersion

NODE_PORT_RANGE = range(30000, 32768)


def _validator() -> Draft202012Validator:
    return Draft202012Validator(cluster_schema())


def _describe_type(value: Any) -> str:
    names = {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a mapping",
        type(None): "empty (null)",
    }
    return names.get(type(value), type(value).__name__)


def _expected(types: str | list[str]) -> str:
    words = {
        "string": "a string",
        "integer": "a whole number",
        "number": "a number",
        "boolean": "true or false",
        "array": "a list",
        "object": "a mapping",
        "null": "null",
    }
    if isinstance(types, str):
        types = [types]
    return " or ".join(words.get(t, t) for t in types)


def _leaf_errors(error: ValidationError) -> Iterator[ValidationError]:
    """For oneOf/anyOf, report the branch that got furthest instead of a schema dump."""
    if error.validator in ("oneOf", "anyOf") and error.context:
        deepest = max(len(e.absolute_path) for e in error.context)
        # Prefer errors from the branch whose type matched (they go deepest).
        candidates = [e for e in error.context if len(e.absolute_path) == deepest]
        if deepest > len(error.absolute_path) or all(e.validator != "type" for e in candidates):
            best = [e for e in candidates if e.validator != "type"] or candidates
            for sub in best[:1]:
                yield from _leaf_errors(sub)
            return
    yield error


def _schema_message(error: ValidationError) -> tuple[str, str | None, bool]:
    """(message, hint, points_at_key) for one jsonschema error, in plain words."""
    validator = error.validator
    value = error.instance
    schema = error.schema if isinstance(error.schema, dict) else {}
    hint = schema.get("x-hint")
    if validator == "additionalProperties":
        allowed = sorted((error.schema.get("properties") or {}).keys())
        extras = sorted(set(value) - set(allowed)) if isinstance(value, dict) else []
        key = extras[0] if extras else "?"
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        message = f"unknown key {key!r}"
        if close:
            message += f"; did you mean {close[0]!r}?"
        elif allowed:
            message += f" (allowed: {', '.join(allowed)})"
        return message, None, True
    if validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return f"missing required key {missing!r}", None, False
    if validator == "type":
        return (
            f"must be {_expected(error.validator_value)}, not {_describe_type(value)}",
            "quote values such as yes, on or 1.30 to keep them strings"
            if "string" in str(error.validator_value) and not isinstance(value, str)
            else None,
            False,
        )
    if validator == "enum":
        options = ", ".join(str(o) for o in error.validator_value)
        close = difflib.get_close_matches(str(value), [str(o) for o in error.validator_value], 1)
        text = f"{value!r} is not one of: {options}"
        return (text + (f"; did you mean {close[0]!r}?" if close else ""), None, False)
    if validator == "const":
        return f"must be {error.validator_value!r}, not {value!r}", None, False
    if validator == "pattern":
        expected = hint or f"a value matching {error.validator_value}"
        return f"{value!r} is not valid: expected {expected}", None, False
    if validator in ("maxLength", "minLength"):
        size = "long" if validator == "maxLength" else "short"
        return f"{value!r} is too {size} (limit {error.validator_value} characters)", None, False
    if validator in ("minimum", "maximum"):
        word = "at least" if validator == "minimum" else "at most"
        return f"{value!r} must be {word} {error.validator_value}", None, False
    if validator == "minItems":
        return f"needs at least {error.validator_value} item(s)", None, False
    if validator == "minProperties":
        return f"needs at least {error.validator_value} entry", None, False
    if validator == "propertyNames":
        return f"key {error.instance!r} is not valid here", hint, True
    if validator in ("oneOf", "not"):
        return _one_of_message(error), None, False
    return error.message, None, False


def _one_of_message(error: ValidationError) -> str:
    path = list(error.absolute_path)
    if "externalServices" in path:
        return "set either addresses and ports, or externalName, not both"
    if "env" in path:
        return "set either value or valueFrom"
    return "does not match any allowed form"


def schema_problems(doc: Document) -> list[Problem]:
    problems: list[Problem] = []
    for top in _validator().iter_errors(doc.data):
        for error in _leaf_errors(top):
            message, hint, at_key = _schema_message(error)
            path: PathKey = tuple(error.absolute_path)
            if error.validator == "additionalProperties" and isinstance(error.instance, dict):
                allowed = set((error.schema.get("properties") or {}).keys())
                for extra in sorted(set(error.instance) - allowed):
                    close = difflib.get_close_matches(extra, sorted(allowed), n=1, cutoff=0.6)
                    text = f"unknown key {extra!r}" + (
                        f"; did you mean {close[0]!r}?" if close else ""
                    )
                    problems.append(Problem(doc.positions.of((*path, extra), key=True), text))
                continue
            if error.validator == "propertyNames":
                location = doc.positions.of((*path, error.instance), key=True)
            else:
                location = doc.positions.of(path, key=at_key)
            problems.append(Problem(location, message, hint))
    return problems


# --- semantic checks --------------------------------------------------------------------


class _Checker:
    def __init__(self, doc: Document, tree: SourceTree) -> None:
        self.doc = doc
        self.tree = tree
        self.problems: list[Problem] = []

    def report(self, path: PathKey, message: str, *, key: bool = False) -> None:
        self.problems.append(Problem(self.doc.positions.of(path, key=key), message))

    def run(self) -> list[Problem]:
        spec = self.doc.data["spec"]
        self.kubernetes(spec)
        subnets = self.network(spec.get("network") or {})
        self.nodes(spec.get("nodes") or [], subnets)
        self.ingress(((spec.get("ingress") or {}).get("nginx")) or {})
        self.apps(spec.get("apps") or [])
        self.external_services(spec.get("externalServices") or [])
        return self.problems

    def kubernetes(self, spec: dict[str, Any]) -> None:
        version = str(spec["kubernetes"]["version"])
        parsed = KubeVersion.parse(version)
        if not parsed.supported:
            self.report(
                ("spec", "kubernetes", "version"),
                f"Kubernetes {version} is not supported (supported: {SUPPORTED_RANGE})",
            )

    def network(self, net: dict[str, Any]) -> list[tuple[str, ipaddress._BaseNetwork]]:
        found = []
        for key, default in (("podSubnet", "10.244.0.0/16"), ("serviceSubnet", "10.96.0.0/12")):
            text = net.get(key, default)
            try:
                found.append((key, ipaddress.ip_network(text, strict=True)))
            except ValueError as exc:
                self.report(("spec", "network", key), f"{text!r} is not a valid CIDR: {exc}")
        (_, pods), (_, services) = found if len(found) == 2 else ((None, None), (None, None))
        if pods is not None and pods.version == services.version and pods.overlaps(services):
            self.report(
                ("spec", "network", "serviceSubnet"),
                f"serviceSubnet {found[1][1]} overlaps podSubnet {found[0][1]}",
            )
        return found

    def _ip(self, path: PathKey, text: str) -> ipaddress._BaseAddress | None:
        try:
            return ipaddress.ip_address(text)
        except ValueError:
            self.report(path, f"{text!r} is not a valid IP address")
            return None

    def nodes(self, nodes: list[dict[str, Any]], subnets: list) -> None:
        control_planes = [i for i, n in enumerate(nodes) if n.get("role") == "control-plane"]
        if nodes and not control_planes:
            self.report(("spec", "nodes"), "at least one node must have role control-plane")
        names: dict[str, int] = {}
        addresses: dict[str, int] = {}
        for i, node in enumerate(nodes):
            name, address = node.get("name"), node.get("address")
            if name in names:
                self.report(
                    ("spec", "nodes", i, "name"),
                    f"duplicate node name {name!r} (also nodes[{names[name]}])",
                )
            names.setdefault(name, i)
            ip = self._ip(("spec", "nodes", i, "address"), address)
            if ip is not None:
                if str(ip) in addresses:
                    self.report(
                        ("spec", "nodes", i, "address"),
                        f"duplicate node address {address} (also nodes[{addresses[str(ip)]}])",
                    )
                addresses.setdefault(str(ip), i)
                for key, net in subnets:
                    if ip.version == net.version and ip in net:
                        self.report(
                            ("spec", "nodes", i, "address"),
                            f"node address {address} is inside {key} {net}",
                        )
            if node.get("schedulable") is not None and node.get("role") == "worker":
                self.report(
                    ("spec", "nodes", i, "schedulable"),
                    "schedulable applies to control-plane nodes only",
                    key=True,
                )

    def ingress(self, nginx: dict[str, Any]) -> None:
        base = ("spec", "ingress", "nginx")
        if "replicas" in nginx and nginx.get("kind", "DaemonSet") != "Deployment":
            self.report(
                (*base, "replicas"), "replicas is only valid with kind: Deployment", key=True
            )
        ports = nginx.get("nodePorts") or {}
        if ports and nginx.get("exposure", "NodePort") != "NodePort":
            self.report(
                (*base, "nodePorts"), "nodePorts is only valid with exposure: NodePort", key=True
            )
        seen: dict[int, str] = {}
        for name, port in sorted(ports.items()):
            if port not in NODE_PORT_RANGE:
                self.report(
                    (*base, "nodePorts", name), f"node port {port} is outside the range 30000-32767"
                )
            if port in seen:
                self.report(
                    (*base, "nodePorts", name), f"node port {port} is already used by {seen[port]}"
                )
            seen.setdefault(port, name)
        self._source((*base, "source"), nginx.get("source"))

    def _source(self, path: PathKey, source: str | None) -> None:
        if source is None:
            return
        if not self.tree.is_file(source):
            self.report(path, f"file {source!r} does not exist in the repository")

    def apps(self, apps: list[dict[str, Any]]) -> None:
        seen: dict[tuple[str, str], int] = {}
        for i, app in enumerate(apps):
            ident = (app.get("namespace", "default"), app.get("name"))
            if ident in seen:
                self.report(
                    ("spec", "apps", i, "name"),
                    f"duplicate app {ident[1]!r} in namespace {ident[0]!r} "
                    f"(also apps[{seen[ident]}])",
                )
            seen.setdefault(ident, i)
            for j, alias in enumerate(app.get("hostAliases") or []):
                self._ip(("spec", "apps", i, "hostAliases", j, "ip"), alias.get("ip"))
            for j, overlay in enumerate(app.get("overlays") or []):
                path = ("spec", "apps", i, "overlays", j)
                if not overlay.startswith("overlays/"):
                    self.report(path, f"overlay {overlay!r} must be under overlays/")
                else:
                    self._source(path, overlay)

    def external_services(self, services: list[dict[str, Any]]) -> None:
        for i, svc in enumerate(services):
            name = svc.get("externalName")
            if name is not None:
                try:
                    ipaddress.ip_address(name)
                except ValueError:
                    continue
                self.report(
                    ("spec", "externalServices", i, "externalName"),
                    f"externalName must be a DNS name, not the IP address {name}; "
                    "use addresses for an IP",
                )
            for j, address in enumerate(svc.get("addresses") or []):
                self._ip(("spec", "externalServices", i, "addresses", j), address)


def validate_document(doc: Document, tree: SourceTree) -> None:
    """Raise one SpecError listing every problem of the document, or return None.

    ``tree`` is where ``source:`` and overlay paths are looked up.
    """
    problems = schema_problems(doc)
    if not problems:
        problems = _Checker(doc, tree).run()
    if problems:
        raise SpecError(problems)
