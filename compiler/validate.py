"""Stage 2, validate: the JSON Schema (shape), then semantic checks (meaning).

Every problem is collected with its ``file:line:col`` and raised together as one
``SpecError``; nothing after this stage can receive a value the checks did not accept.

Messages name the field as a JSON path (``spec.nodes[1].address: ...``), the way
Kubernetes itself reports invalid fields. Semantic checks still run when the schema found
problems, but skip every field the schema already complained about, so each mistake is
reported once.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from collections.abc import Iterator
from datetime import date, datetime
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from compiler.errors import Problem, SpecError
from compiler.loader import Document, PathKey
from compiler.model import DEFAULT_POD_SUBNET, DEFAULT_SERVICE_SUBNET
from compiler.schema import cluster_schema
from compiler.sources import SourceTree
from compiler.versions import SUPPORTED_RANGE, KubeVersion

NODE_PORT_RANGE = range(30000, 32768)

# kubeadm refuses a Service subnet with more than 2^20 addresses (/12 for IPv4, /108 for
# IPv6: MaximumBitsForServiceSubnet in cmd/kubeadm/app/constants), and a pod subnet that
# is smaller than one node's share or more than 2^16 node shares (PodSubnetNodeMaskMaxDiff).
MAX_SERVICE_SUBNET_BITS = 20
MAX_POD_SUBNET_NODE_MASK_DIFF = 16
DEFAULT_NODE_MASK = {4: 24, 6: 64}  # kube-controller-manager --node-cidr-mask-size-ipv4/6

# kube-proxy's nftables mode: alpha behind the NFTablesProxyMode gate in 1.29 and 1.30,
# beta and on by default from 1.31, GA in 1.33 (KEP-3866).
NFTABLES_ALPHA_MINOR = 29
NFTABLES_BETA_MINOR = 31

# The kubelet may only set node labels under kubernetes.io/ and k8s.io/ from this list
# (NodeRestriction; kubelet --node-labels fails otherwise). node-role.kubernetes.io/* is
# famously not on it.
KUBELET_ALLOWED_LABELS = frozenset(
    {
        "kubernetes.io/hostname",
        "kubernetes.io/arch",
        "kubernetes.io/os",
        "beta.kubernetes.io/arch",
        "beta.kubernetes.io/os",
        "beta.kubernetes.io/instance-type",
        "node.kubernetes.io/instance-type",
        "failure-domain.beta.kubernetes.io/region",
        "failure-domain.beta.kubernetes.io/zone",
        "topology.kubernetes.io/region",
        "topology.kubernetes.io/zone",
    }
)
KUBELET_ALLOWED_LABEL_DOMAINS = ("kubelet.kubernetes.io", "node.kubernetes.io")

# Free-text fields whose strings may span lines (they only ever reach a YAML manifest as
# data). Every other string reaches a script, a config file or an object name, where a
# newline or other control character can only be a mistake or an attack.
_MULTILINE_FIELDS = (
    ("spec", "apps", int, "env", int, "value"),
    ("spec", "apps", int, "initContainers", int, "command", int),
    ("spec", "apps", int, "initContainers", int, "args", int),
    ("spec", "apps", int, "initContainers", int, "env", int, "value"),
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x85\u2028\u2029]")
_CONTROL_OR_NEWLINE = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


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


def _show(value: Any) -> str:
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


def _at(path: PathKey, message: str) -> str:
    where = json_path(path)
    return f"{where}: {message}" if where else message


# --- schema problems in plain words -----------------------------------------------------


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(cluster_schema())


def _describe_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, datetime):
        return "a date and time"
    if isinstance(value, date):
        return "a date"
    names = {
        int: "a whole number",
        float: "a decimal number",
        str: "a string",
        list: "a list",
        dict: "a mapping",
        type(None): "empty (null)",
        bytes: "binary data",
        set: "a set",
    }
    return names.get(type(value), type(value).__name__)


_TYPE_WORDS = {
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "a boolean",
    "array": "a list",
    "object": "a mapping",
    "null": "null",
}


def _expected(types: str | list[str]) -> str:
    names = [types] if isinstance(types, str) else list(types)
    if names == ["boolean"]:
        return "true or false"
    words = [_TYPE_WORDS.get(t, t) for t in names]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _one_line(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _either(options: list[str]) -> str:
    """'either value or valueFrom'; 'either addresses and ports, or externalName'."""
    joiner = ", or " if any(" and " in option for option in options) else " or "
    return "either " + joiner.join(options)


class _Found:
    """One schema problem: the field it is about, the message, and where to point.

    ``path`` is the field (semantic checks skip it and everything below it); the location
    is ``anchor`` (default: the path), at its key or at its value.
    """

    def __init__(
        self,
        path: PathKey,
        message: str,
        hint: str | None = None,
        key: bool = False,
        *,
        anchor: PathKey | None = None,
        suggests: str | None = None,
        missing: bool = False,
    ) -> None:
        self.path = path
        self.message = message
        self.hint = hint
        self.key = key
        self.anchor = path if anchor is None else anchor
        self.suggests = suggests  # for an unknown key: the known key it is close to
        self.missing = missing  # a required key that is absent (path ends with its name)


def _branch_errors(error: ValidationError) -> dict[int, list[ValidationError]]:
    branches: dict[int, list[ValidationError]] = {}
    for sub in error.context or []:
        branches.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
    return branches


def _alternatives(error: ValidationError) -> list[list[str]]:
    """For a oneOf of required-key sets: each branch's required keys."""
    return [list(branch.get("required", [])) for branch in error.validator_value]


def _explain_alternatives(error: ValidationError) -> Iterator[_Found]:
    """oneOf over mappings that differ by which keys they require (env, externalServices)."""
    path = tuple(error.absolute_path)
    present = set(error.instance) if isinstance(error.instance, dict) else set()
    options = _alternatives(error)
    described = [" and ".join(keys) for keys in options]
    touched = [keys for keys in options if present & set(keys)]
    if len(touched) > 1:
        yield _Found(path, _at(path, f"set {_either(described)}, not both"))
    elif len(touched) == 1:
        for key in (key for key in touched[0] if key not in present):
            message = f"missing required key {key!r} (set {_either(described)})"
            yield _Found((*path, key), _at(path, message), anchor=path, missing=True)
    else:
        yield _Found(path, _at(path, f"needs {_either(described)}"))


def _schema_found(error: ValidationError) -> Iterator[_Found]:
    """Plain-words problems for one jsonschema error (recursing into oneOf branches)."""
    path: PathKey = tuple(error.absolute_path)
    validator = error.validator
    value = error.instance
    schema = error.schema if isinstance(error.schema, dict) else {}
    hint = schema.get("x-hint")

    if validator in ("oneOf", "anyOf"):
        yield from _explain_one_of(error)
        return
    if "propertyNames" in error.relative_schema_path:
        # The instance is the offending key itself; point at it.
        key_path = (*path, value)
        if validator == "enum":
            allowed = ", ".join(str(o) for o in error.validator_value)
            message = f"key {_show(value)} is not one of: {allowed}"
        else:
            message = f"key {_show(value)} is not valid: expected {hint or error.validator_value}"
        yield _Found(key_path, _at(path, message), key=True)
        return
    if validator == "additionalProperties":
        allowed = sorted((schema.get("properties") or {}).keys())
        extras = sorted(set(value) - set(allowed)) if isinstance(value, dict) else []
        for extra in extras:
            close = difflib.get_close_matches(str(extra), allowed, n=1, cutoff=0.6)
            text = f"unknown key {extra!r}"
            if close:
                text += f"; did you mean {close[0]!r}?"
            elif allowed:
                text += f" (allowed: {', '.join(allowed)})"
            suggests = close[0] if close else None
            yield _Found((*path, extra), _at(path, text), key=True, suggests=suggests)
        return
    if validator == "required":
        present = set(value) if isinstance(value, dict) else set()
        for key in error.validator_value:
            if key not in present:
                # Point at the mapping's own key (``spec:``) when it has one.
                message = _at(path, f"missing required key {key!r}")
                yield _Found((*path, key), message, key=True, anchor=path, missing=True)
        return

    message: str
    if validator == "type":
        message = f"must be {_expected(error.validator_value)}, not {_describe_type(value)}"
        wants_string = "string" in error.validator_value
        if wants_string and isinstance(value, bool | int | float | date):
            hint = "quote values such as yes, on, 1.30 or 2024-01-01 to keep them strings"
        else:
            hint = None
    elif validator == "enum":
        options = [str(o) for o in error.validator_value]
        close = difflib.get_close_matches(str(value), options, 1)
        message = f"{_show(value)} is not one of: {', '.join(options)}"
        if close:
            message += f"; did you mean {close[0]!r}?"
        hint = None
    elif validator == "const":
        message = f"must be {error.validator_value!r}, not {_show(value)}"
        hint = None
    elif validator == "pattern":
        message = f"{_show(value)} is not valid: expected {hint or error.validator_value}"
        hint = None
    elif validator in ("maxLength", "minLength"):
        word = "at most" if validator == "maxLength" else "at least"
        message = f"{_show(value)} is too {'long' if word == 'at most' else 'short'} "
        message += f"({word} {error.validator_value} characters)"
        hint = None
    elif validator in ("minimum", "maximum"):
        word = "at least" if validator == "minimum" else "at most"
        message = f"{_show(value)} must be {word} {error.validator_value}"
        hint = None
    elif validator == "minItems":
        count = error.validator_value
        message = f"needs at least {count} item{'s' if count != 1 else ''}"
        hint = None
    elif validator == "minProperties":
        count = error.validator_value
        message = f"needs at least {count} entr{'ies' if count != 1 else 'y'}"
        hint = None
    elif validator == "not":
        message = "is not allowed here"
        hint = None
    else:
        message = error.message
        hint = None
    yield _Found(path, _at(path, message), hint)


def _explain_one_of(error: ValidationError) -> Iterator[_Found]:
    """Report the branch the user evidently meant, instead of a dump of every branch.

    A branch whose ``type`` does not match the value is not what the user meant. If exactly
    one branch has the right type, its problems are the real ones (e.g. a port that is a
    whole number but too big). If none has, the value has the wrong type. If several have,
    the branches differ by which keys they require, and we say which keys to set.
    """
    path: PathKey = tuple(error.absolute_path)
    branches = _branch_errors(error)
    if not branches:  # valid under more than one branch
        yield from _explain_alternatives(error)
        return
    right_type = {
        index: errors
        for index, errors in branches.items()
        if not any(e.validator == "type" and not e.relative_path for e in errors)
    }
    if len(right_type) == 1:
        for sub in next(iter(right_type.values())):
            yield from _schema_found(sub)
        return
    if not right_type:
        types: list[str] = []
        for errors in branches.values():
            for sub in errors:
                if sub.validator == "type" and not sub.relative_path:
                    for name in (
                        [sub.validator_value]
                        if isinstance(sub.validator_value, str)
                        else sub.validator_value
                    ):
                        if name not in types:
                            types.append(name)
        words = [_TYPE_WORDS.get(t, t) for t in types]
        message = f"must be {_one_line(words)}, not {_describe_type(error.instance)}"
        yield _Found(path, _at(path, message))
        return
    yield from _explain_alternatives(error)


def _control_characters(data: Any, path: PathKey = ()) -> Iterator[_Found]:
    """Strings (and keys) with newlines or other control characters.

    JSON Schema patterns cannot catch these reliably: Python's ``$`` also matches before
    a final newline, so ``eth0\\n`` passes ``^[a-z0-9]+$``.
    """
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(key, str) and _CONTROL_OR_NEWLINE.search(key):
                yield _Found(
                    (*path, key),
                    _at(path, f"key {_show(key)} must not contain newlines or control characters"),
                    key=True,
                )
            yield from _control_characters(value, (*path, key))
    elif isinstance(data, list):
        for index, item in enumerate(data):
            yield from _control_characters(item, (*path, index))
    elif isinstance(data, str):
        multiline = any(_matches(path, pattern) for pattern in _MULTILINE_FIELDS)
        bad = _CONTROL if multiline else _CONTROL_OR_NEWLINE
        if bad.search(data):
            what = "control characters" if multiline else "newlines or control characters"
            yield _Found(path, _at(path, f"{_show(data)} must not contain {what}"))


def _matches(path: PathKey, pattern: tuple[Any, ...]) -> bool:
    if len(path) != len(pattern):
        return False
    return all(
        isinstance(part, int) if want is int else part == want
        for part, want in zip(path, pattern, strict=True)
    )


def _schema_findings(doc: Document) -> list[_Found]:
    found: list[_Found] = []
    for error in _validator().iter_errors(doc.data):
        found.extend(_schema_found(error))
    # A misspelt key is one mistake, not also a missing one: keep the did-you-mean only.
    # jsonschema reports a 'required' once per missing key, each time with the full list.
    unique = {(f.path, f.message): f for f in found}
    found = list(unique.values())
    suggested = {(*f.path[:-1], f.suggests) for f in found if f.suggests}
    found = [f for f in found if not (f.missing and f.path in suggested)]
    reported = {f.path for f in found}
    found.extend(f for f in _control_characters(doc.data) if f.path not in reported)
    return found


def schema_problems(doc: Document) -> list[Problem]:
    """The document's shape problems, one per mistake, with positions."""
    return [_problem(doc, f) for f in _schema_findings(doc)]


def _problem(doc: Document, found: _Found) -> Problem:
    # ``of`` falls back to the nearest enclosing value (a missing key has no position).
    location = doc.positions.of(found.anchor, key=found.key)
    return Problem(location, found.message, found.hint)


# --- image references -------------------------------------------------------------------
#
# The grammar of github.com/distribution/reference (the one Docker, containerd and CRI-O
# use):
#   reference      := name [ ":" tag ] [ "@" digest ]
#   name           := [domain "/"] path-component ["/" path-component]*
#   domain         := host [":" port]     host: DNS name, IPv4 address or [IPv6]
#   path-component := [a-z0-9]+ ((\. | _ | __ | -+) [a-z0-9]+)*
#   tag            := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
#   digest         := algorithm ":" hex       algorithm: [A-Za-z][A-Za-z0-9]* ([+._-] ...)*
# The first component is a domain only if it contains '.' or ':', is 'localhost', or has
# an uppercase letter (otherwise 'library/nginx' would be a host called library).

_DOMAIN_COMPONENT = r"(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])"
_HOST = re.compile(
    rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9A-Fa-f:.]+\])(?::[0-9]+)?"
)
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST_ALGORITHM = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[+._-][A-Za-z][A-Za-z0-9]*)*")
_HEX = re.compile(r"[0-9a-fA-F]{32,}")
_DIGEST_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
NAME_TOTAL_LENGTH_MAX = 255


def image_reference_problem(reference: str) -> str | None:
    """Why ``reference`` is not a well-formed image reference, or None if it is one."""
    rest, _, digest = reference.partition("@")
    if "@" in reference:
        algorithm, colon, hexpart = digest.partition(":")
        if not colon or not _DIGEST_ALGORITHM.fullmatch(algorithm):
            return f"the digest {digest!r} must be algorithm:hex, such as sha256:<64 hex digits>"
        if not _HEX.fullmatch(hexpart):
            return f"the digest {digest!r} must end in at least 32 hexadecimal digits"
        want = _DIGEST_LENGTHS.get(algorithm)
        if want is not None and len(hexpart) != want:
            return f"a {algorithm} digest has {want} hexadecimal digits, not {len(hexpart)}"
    name, tag = rest, None
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        name, tag = rest[:colon], rest[colon + 1 :]
        if len(tag) > 128:
            return f"the tag is {len(tag)} characters long; at most 128 are allowed"
        if not _TAG.fullmatch(tag):
            return (
                f"the tag {tag!r} is not valid: letters, digits, '_', '.' and '-', "
                "not starting with '.' or '-'"
            )
    if not name:
        return "the image name is empty"
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        return f"the name is longer than {NAME_TOTAL_LENGTH_MAX} characters"
    components = name.split("/")
    first = components[0]
    if len(components) > 1 and (
        "." in first or ":" in first or first == "localhost" or first.lower() != first
    ):
        if not _HOST.fullmatch(first):
            return f"the registry {first!r} is not a valid host[:port]"
        components = components[1:]
    for component in components:
        if not component:
            return "the name has an empty path component ('//' or a trailing '/')"
        if component.lower() != component and _PATH_COMPONENT.fullmatch(component.lower()):
            return f"the repository path must be lowercase ({component!r})"
        if not _PATH_COMPONENT.fullmatch(component):
            return (
                f"the path component {component!r} is not valid: lowercase letters and digits, "
                "separated by '.', '_', '__' or '-'"
            )
    return None


# --- semantic checks --------------------------------------------------------------------

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _family(version: int) -> str:
    return "IPv4" if version == 4 else "IPv6"


class _Checker:
    """Semantic checks over a document that may also have shape problems.

    Every accessor tolerates wrong types (the schema reports those); ``report`` drops
    problems about a field the schema already reported, so no mistake is reported twice.
    """

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
        self.problems.append(Problem(location, _at(path, message)))

    def run(self) -> list[Problem]:
        spec = _dict(self.doc.data.get("spec"))
        kube = _dict(spec.get("kubernetes"))
        version = self.kubernetes(kube)
        self.runtime(_dict(spec.get("runtime")))
        network = _dict(spec.get("network"))
        subnets = self.network(network, kube, version)
        self.nodes(_list(spec.get("nodes")), subnets, kube)
        secrets = self.secrets(_list(spec.get("secrets")))
        services = self.external_services(_list(spec.get("externalServices")))
        self.ingress(_dict(_dict(spec.get("ingress")).get("nginx")))
        self.apps(_list(spec.get("apps")), services, secrets)
        return self.problems

    # kubernetes and runtime --------------------------------------------------------

    def kubernetes(self, kube: dict[str, Any]) -> KubeVersion | None:
        base = ("spec", "kubernetes")
        text = _str(kube.get("version"))
        version = None
        if text is not None:
            try:
                version = KubeVersion.parse(text)
            except ValueError:
                version = None  # the schema's pattern reports it
            if version is not None and not version.supported:
                self.report(
                    (*base, "version"),
                    f"Kubernetes {version} is not supported (supported: {SUPPORTED_RANGE})",
                )
                version = None
        endpoint = _str(kube.get("controlPlaneEndpoint"))
        if endpoint is not None:
            self._host_port((*base, "controlPlaneEndpoint"), endpoint)
        repository = _str(kube.get("imageRepository"))
        if repository is not None:
            self._image((*base, "imageRepository"), f"{repository}/name:tag", repository)
        return version

    def _host_port(self, path: PathKey, text: str) -> None:
        if text.startswith("["):
            host, _, port = text[1:].partition("]")
            port = port.removeprefix(":")
            try:
                ipaddress.IPv6Address(host)
            except ValueError:
                self.report(path, f"{_show(host)} in brackets is not an IPv6 address")
                return
        else:
            host, _, port = text.partition(":")
            if not _is_ip(host) and not _DNS_SUBDOMAIN.fullmatch(host):
                self.report(path, f"{_show(host)} is not an IP address or a lowercase DNS name")
                return
        if port and not _DIGITS.fullmatch(port):
            self.report(path, f"port {_show(port)} is not a number")
        elif port and not 1 <= int(port) <= 65535:
            self.report(path, f"port {port} is outside 1-65535")

    def _image(self, path: PathKey, reference: str, shown: str | None = None) -> None:
        problem = image_reference_problem(reference)
        if problem is not None:
            what = "registry path" if shown is not None else "image reference"
            self.report(path, f"{_show(shown or reference)} is not a valid {what}: {problem}")

    def runtime(self, runtime: dict[str, Any]) -> None:
        base = ("spec", "runtime")
        pause = _str(runtime.get("pauseImage"))
        if pause is not None:
            self._image((*base, "pauseImage"), pause)
        seen: dict[str, int] = {}
        for i, mirror in enumerate(_list(runtime.get("registryMirrors"))):
            registry = _str(_dict(mirror).get("registry"))
            if registry is None:
                continue
            path = (*base, "registryMirrors", i, "registry")
            if registry in seen:
                self.report(
                    path,
                    f"registry {registry} is already mirrored by registryMirrors[{seen[registry]}]",
                )
            seen.setdefault(registry, i)
            for j, endpoint in enumerate(_list(_dict(mirror).get("endpoints"))):
                port = re.match(r"^https?://[^/:]+:([0-9]+)", _str(endpoint) or "")
                if port and not 1 <= int(port.group(1)) <= 65535:
                    self.report(
                        (*base, "registryMirrors", i, "endpoints", j),
                        f"port {port.group(1)} is outside 1-65535",
                    )

    # network ------------------------------------------------------------------------

    def _cidr(self, path: PathKey, text: str) -> Network | None:
        try:
            return ipaddress.ip_network(text, strict=True)
        except ValueError:
            pass
        try:
            loose = ipaddress.ip_network(text, strict=False)
        except ValueError:
            self.report(path, f"{_show(text)} is not a valid CIDR such as 10.244.0.0/16")
            return None
        self.report(
            path,
            f"{text} has host bits set; the network is {loose} (write that, or a larger prefix)",
        )
        return None

    def network(
        self, net: dict[str, Any], kube: dict[str, Any], version: KubeVersion | None
    ) -> dict[str, Network]:
        base = ("spec", "network")
        subnets: dict[str, Network] = {}
        for key, default in (
            ("podSubnet", DEFAULT_POD_SUBNET),
            ("serviceSubnet", DEFAULT_SERVICE_SUBNET),
        ):
            text = _str(net.get(key, default))
            parsed = self._cidr((*base, key), text) if text is not None else None
            if parsed is not None:
                subnets[key] = parsed
        pods, services = subnets.get("podSubnet"), subnets.get("serviceSubnet")
        if services is not None:
            if services.max_prefixlen - services.prefixlen > MAX_SERVICE_SUBNET_BITS:
                limit = services.max_prefixlen - MAX_SERVICE_SUBNET_BITS
                self.report(
                    (*base, "serviceSubnet"),
                    f"{services} is too large: kubeadm allows at most /{limit} for "
                    f"{_family(services.version)} ({2**MAX_SERVICE_SUBNET_BITS} addresses)",
                )
            elif services.num_addresses < 10:
                # kubeadm puts the DNS Service at the tenth address.
                self.report(
                    (*base, "serviceSubnet"),
                    f"{services} is too small: it needs at least 10 addresses",
                )
        if pods is not None:
            self._pod_subnet_size(pods, kube)
        if pods is not None and services is not None:
            if pods.version != services.version:
                self.report(
                    (*base, "serviceSubnet"),
                    f"{services} is {_family(services.version)} but podSubnet {pods} is "
                    f"{_family(pods.version)}; kgit builds single-stack clusters, use one family",
                )
            elif pods.overlaps(services):
                self.report((*base, "serviceSubnet"), f"{services} overlaps podSubnet {pods}")
        self._source((*base, "flannel", "source"), _str(_dict(net.get("flannel")).get("source")))
        mode = net.get("kubeProxyMode")
        if mode == "nftables" and version is not None:
            self._nftables(version, _dict(kube.get("featureGates")))
        return subnets

    def _pod_subnet_size(self, pods: Network, kube: dict[str, Any]) -> None:
        args = _dict(_dict(kube.get("controllerManager")).get("extraArgs"))
        flag = f"node-cidr-mask-size-ipv{pods.version}"
        node_mask = DEFAULT_NODE_MASK[pods.version]
        for name in (flag, "node-cidr-mask-size"):
            text = str(args.get(name, ""))
            if _DIGITS.fullmatch(text):
                node_mask = int(text)
                break
        path = ("spec", "network", "podSubnet")
        if pods.prefixlen > node_mask:
            self.report(
                path, f"{pods} is smaller than one node's share (/{node_mask}); use a larger subnet"
            )
        elif node_mask - pods.prefixlen > MAX_POD_SUBNET_NODE_MASK_DIFF:
            self.report(
                path,
                f"{pods} is too large: with node shares of /{node_mask} kubeadm allows at most "
                f"/{node_mask - MAX_POD_SUBNET_NODE_MASK_DIFF}",
            )

    def _nftables(self, version: KubeVersion, gates: dict[str, Any]) -> None:
        path = ("spec", "network", "kubeProxyMode")
        if version.minor < NFTABLES_ALPHA_MINOR:
            self.report(path, f"nftables needs Kubernetes 1.29 or newer, not {version}")
        elif version.minor < NFTABLES_BETA_MINOR and gates.get("NFTablesProxyMode") is not True:
            self.report(
                path,
                f"nftables is alpha in Kubernetes {version.minor_series[1:]}: set "
                "spec.kubernetes.featureGates.NFTablesProxyMode: true, or use 1.31 or newer",
            )

    # nodes --------------------------------------------------------------------------

    def _ip(self, path: PathKey, value: Any) -> Address | None:
        text = _str(value)
        if text is None:
            return None
        try:
            return ipaddress.ip_address(text)
        except ValueError:
            self.report(path, f"{_show(text)} is not a valid IP address")
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
            else None
        )
        if kind is not None:
            text = (
                f"{ip} is {kind}" if kind != "unspecified" else f"{ip} is the unspecified address"
            )
            self.report(path, f"{text}; {what} needs a routable address")
        return kind is not None

    def nodes(self, nodes: list[Any], subnets: dict[str, Network], kube: dict[str, Any]) -> None:
        base = ("spec", "nodes")
        entries = [_dict(n) for n in nodes]
        control_planes = [i for i, n in enumerate(entries) if n.get("role") == "control-plane"]
        if nodes and not control_planes:
            self.report(
                base,
                "at least one node must have role control-plane (it runs kubeadm init)",
                key=True,
            )
        if len(control_planes) > 1 and "controlPlaneEndpoint" not in kube:
            self.report(
                (*base, control_planes[1], "role"),
                "a second control-plane node needs spec.kubernetes.controlPlaneEndpoint "
                "(a load-balanced address for the API servers)",
            )
        names: dict[str, int] = {}
        addresses: dict[Address, int] = {}
        pods = subnets.get("podSubnet")
        for i, node in enumerate(entries):
            name = _str(node.get("name"))
            if name is not None:
                if name in names:
                    self.report(
                        (*base, i, "name"),
                        f"duplicate node name {name!r} (also nodes[{names[name]}])",
                    )
                names.setdefault(name, i)
            path = (*base, i, "address")
            ip = self._ip(path, node.get("address"))
            if ip is not None and not self._special(path, ip, "a node"):
                if ip in addresses:
                    self.report(path, f"duplicate node address {ip} (also nodes[{addresses[ip]}])")
                addresses.setdefault(ip, i)
                if pods is not None and ip.version != pods.version:
                    self.report(
                        path,
                        f"{ip} is {_family(ip.version)} but podSubnet {pods} is "
                        f"{_family(pods.version)}; nodes and subnets must use one IP family",
                    )
                for key, net in subnets.items():
                    if ip.version == net.version and ip in net:
                        self.report(path, f"{ip} is inside {key} {net}")
            if "schedulable" in node and node.get("role") == "worker":
                self.report(
                    (*base, i, "schedulable"), "applies to control-plane nodes only", key=True
                )
            for key in _dict(node.get("labels")):
                self._node_label((*base, i, "labels", key), str(key))
            taints: dict[tuple[str | None, str | None], int] = {}
            for j, taint in enumerate(_list(node.get("taints"))):
                ident = (_str(_dict(taint).get("key")), _str(_dict(taint).get("effect")))
                if ident in taints:
                    self.report(
                        (*base, i, "taints", j),
                        f"duplicate taint {ident[0]}:{ident[1]} (also taints[{taints[ident]}])",
                    )
                taints.setdefault(ident, j)

    def _node_label(self, path: PathKey, key: str) -> None:
        self._qualified_name(path, key)
        prefix, slash, _ = key.rpartition("/")
        if not slash:
            return
        restricted = any(
            prefix == domain or prefix.endswith("." + domain)
            for domain in ("kubernetes.io", "k8s.io")
        )
        allowed = key in KUBELET_ALLOWED_LABELS or any(
            prefix == domain or prefix.endswith("." + domain)
            for domain in KUBELET_ALLOWED_LABEL_DOMAINS
        )
        if restricted and not allowed:
            self.report(
                path,
                f"the kubelet may not set label {key!r} on its own node (labels under "
                "kubernetes.io/ and k8s.io/ are reserved); use your own prefix",
                key=True,
            )

    def _qualified_name(self, path: PathKey, key: str) -> None:
        prefix, slash, _ = key.rpartition("/")
        if slash and len(prefix) > 253:
            self.report(path, "the prefix of this key is longer than 253 characters", key=True)

    # ingress-nginx ------------------------------------------------------------------

    def ingress(self, nginx: dict[str, Any]) -> None:
        base = ("spec", "ingress", "nginx")
        if "replicas" in nginx and nginx.get("kind", "DaemonSet") != "Deployment":
            self.report((*base, "replicas"), "is only valid with kind: Deployment", key=True)
        ports = _dict(nginx.get("nodePorts"))
        if "nodePorts" in nginx and nginx.get("exposure", "NodePort") != "NodePort":
            self.report((*base, "nodePorts"), "is only valid with exposure: NodePort", key=True)
        seen: dict[int, str] = {}
        for name, value in sorted(ports.items()):
            port = _int(value)
            if port is None:
                continue
            if port not in NODE_PORT_RANGE:
                self.report(
                    (*base, "nodePorts", name), f"{port} is outside the NodePort range 30000-32767"
                )
            elif port in seen:
                self.report(
                    (*base, "nodePorts", name), f"{port} is already the {seen[port]} node port"
                )
            seen.setdefault(port, name)
        self._tolerations((*base, "tolerations"), _list(nginx.get("tolerations")))
        self._source((*base, "source"), _str(nginx.get("source")))

    def _tolerations(self, base: PathKey, tolerations: list[Any]) -> None:
        # The rules of Kubernetes' validateTolerations (pkg/apis/core/validation).
        for i, raw in enumerate(tolerations):
            toleration = _dict(raw)
            operator = toleration.get("operator", "Equal")
            if operator == "Exists" and toleration.get("value"):
                self.report((*base, i, "value"), "must be empty when operator is Exists", key=True)
            if not toleration.get("key") and operator != "Exists":
                self.report((*base, i), "a toleration without a key needs operator: Exists")
            if "tolerationSeconds" in toleration and toleration.get("effect") != "NoExecute":
                self.report(
                    (*base, i, "tolerationSeconds"),
                    "is only valid with effect: NoExecute",
                    key=True,
                )

    def _source(self, path: PathKey, source: str | None) -> None:
        if source is not None and not self.tree.is_file(source):
            self.report(
                path,
                f"file {source!r} does not exist in the repository "
                "(paths are relative to the directory of the spec and may not leave it)",
            )

    # apps, external services, secrets ----------------------------------------------

    def secrets(self, secrets: list[Any]) -> dict[tuple[str, str], dict[str, Any]]:
        found: dict[tuple[str, str], dict[str, Any]] = {}
        where: dict[tuple[str, str], int] = {}
        for i, raw in enumerate(secrets):
            secret = _dict(raw)
            name = _str(secret.get("name"))
            namespace = _str(secret.get("namespace", "default"))
            if name is None or namespace is None:
                continue
            ident = (namespace, name)
            if ident in where:
                self.report(
                    ("spec", "secrets", i, "name"),
                    f"duplicate secret {name!r} in namespace {namespace!r} "
                    f"(also secrets[{where[ident]}])",
                )
                continue
            where[ident] = i
            found[ident] = secret
        return found

    def external_services(self, services: list[Any]) -> dict[tuple[str, str], int]:
        seen: dict[tuple[str, str], int] = {}
        for i, raw in enumerate(services):
            service = _dict(raw)
            base = ("spec", "externalServices", i)
            name = _str(service.get("name"))
            namespace = _str(service.get("namespace", "default"))
            if name is not None and namespace is not None:
                if (namespace, name) in seen:
                    self.report(
                        (*base, "name"),
                        f"duplicate external service {name!r} in namespace {namespace!r} "
                        f"(also externalServices[{seen[(namespace, name)]}])",
                    )
                seen.setdefault((namespace, name), i)
            external_name = _str(service.get("externalName"))
            if external_name is not None and _is_ip(external_name):
                self.report(
                    (*base, "externalName"),
                    f"must be a DNS name, not the IP address {external_name}; "
                    "use addresses and ports for an IP",
                )
            for j, address in enumerate(_list(service.get("addresses"))):
                ip = self._ip((*base, "addresses", j), address)
                if ip is not None:
                    self._special((*base, "addresses", j), ip, "an endpoint")
            self._unique_ports(base, _list(service.get("ports")), "port")
        return seen

    def _unique_ports(self, base: PathKey, ports: list[Any], number_key: str) -> None:
        numbers: dict[tuple[int, str], int] = {}
        names: dict[str, int] = {}
        for j, raw in enumerate(ports):
            entry = {number_key: raw} if _int(raw) is not None else _dict(raw)
            number = _int(entry.get(number_key))
            protocol = str(entry.get("protocol", "TCP"))
            if number is not None:
                if (number, protocol) in numbers:
                    self.report(
                        (*base, "ports", j),
                        f"port {number}/{protocol} is listed twice "
                        f"(also ports[{numbers[(number, protocol)]}])",
                    )
                numbers.setdefault((number, protocol), j)
            name = _str(entry.get("name"))
            if name is not None:
                if name in names:
                    self.report(
                        (*base, "ports", j, "name"),
                        f"duplicate port name {name!r} (also ports[{names[name]}])",
                    )
                names.setdefault(name, j)

    def apps(
        self,
        apps: list[Any],
        services: dict[tuple[str, str], int],
        secrets: dict[tuple[str, str], dict[str, Any]],
    ) -> None:
        seen: dict[tuple[str, str], int] = {}
        routes: dict[tuple[str, str], int] = {}
        for i, raw in enumerate(apps):
            app = _dict(raw)
            base = ("spec", "apps", i)
            name = _str(app.get("name"))
            namespace = _str(app.get("namespace", "default")) or "default"
            if name is not None:
                ident = (namespace, name)
                if ident in seen:
                    self.report(
                        (*base, "name"),
                        f"duplicate app {name!r} in namespace {namespace!r} "
                        f"(also apps[{seen[ident]}])",
                    )
                elif ident in services:
                    self.report(
                        (*base, "name"),
                        f"externalServices[{services[ident]}] already defines a Service "
                        f"{name!r} in namespace {namespace!r}",
                    )
                seen.setdefault(ident, i)
            image = _str(app.get("image"))
            if image is not None:
                self._image((*base, "image"), image)
            self._unique_ports(base, _list(app.get("ports")), "containerPort")
            self._env((*base, "env"), _list(app.get("env")), namespace, secrets)
            containers = {name} if name else set()
            for j, raw_init in enumerate(_list(app.get("initContainers"))):
                init = _dict(raw_init)
                init_path = (*base, "initContainers", j)
                init_name = _str(init.get("name"))
                if init_name is not None:
                    if init_name in containers:
                        self.report(
                            (*init_path, "name"),
                            f"container name {init_name!r} is already used in this app "
                            "(the app's own container is named after the app)",
                        )
                    containers.add(init_name)
                init_image = _str(init.get("image"))
                if init_image is not None:
                    self._image((*init_path, "image"), init_image)
                self._env((*init_path, "env"), _list(init.get("env")), namespace, secrets)
            for j, alias in enumerate(_list(app.get("hostAliases"))):
                self._ip((*base, "hostAliases", j, "ip"), _dict(alias).get("ip"))
            self._app_ingress(base, app, namespace, secrets, routes)
            for j, overlay in enumerate(_list(app.get("overlays"))):
                path = (*base, "overlays", j)
                text = _str(overlay)
                if text is None:
                    continue
                if not text.startswith("overlays/"):
                    self.report(path, f"{text!r} must be a file under overlays/")
                else:
                    self._source(path, text)

    def _env(
        self,
        base: PathKey,
        env: list[Any],
        namespace: str,
        secrets: dict[tuple[str, str], dict[str, Any]],
    ) -> None:
        for j, raw in enumerate(env):
            ref = _dict(_dict(_dict(raw).get("valueFrom")).get("secretKeyRef"))
            secret_name, key = _str(ref.get("name")), _str(ref.get("key"))
            secret = secrets.get((namespace, secret_name or ""))
            if secret is None or key is None:
                continue  # a Secret made outside kgit is fine
            keys = _dict(secret.get("fromEnv"))
            if key not in keys:
                self.report(
                    (*base, j, "valueFrom", "secretKeyRef", "key"),
                    f"secret {secret_name!r} has no key {key!r} "
                    f"(it has: {', '.join(sorted(keys))})",
                )

    def _app_ingress(
        self,
        base: PathKey,
        app: dict[str, Any],
        namespace: str,
        secrets: dict[tuple[str, str], dict[str, Any]],
        routes: dict[tuple[str, str], int],
    ) -> None:
        if "ingress" not in app:
            return
        ingress = _dict(app.get("ingress"))
        path = (*base, "ingress")
        if not _list(app.get("ports")):
            self.report(
                path,
                "needs ports: the Ingress routes to the app's Service, which exists only "
                "when ports are set",
                key=True,
            )
        host = _str(ingress.get("host"))
        if host is not None and _is_ip(host):
            self.report((*path, "host"), f"must be a DNS name, not the IP address {host}")
        url_path = _str(ingress.get("path", "/"))
        if host is not None and url_path is not None:
            route = (host, url_path)
            if route in routes:
                self.report(
                    (*path, "path"),
                    f"{host}{url_path} is already routed to apps[{routes[route]}]",
                )
            routes.setdefault(route, int(base[-1]))
        tls = _str(ingress.get("tlsSecret"))
        secret = secrets.get((namespace, tls or ""))
        if secret is not None and secret.get("type") != "kubernetes.io/tls":
            self.report(
                (*path, "tlsSecret"),
                f"secret {tls!r} must have type kubernetes.io/tls to hold a certificate",
            )
        elif secret is not None and not {"tls.crt", "tls.key"} <= set(_dict(secret.get("fromEnv"))):
            self.report((*path, "tlsSecret"), f"secret {tls!r} needs the keys tls.crt and tls.key")


_DIGITS = re.compile(r"[0-9]{1,9}")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _bad_paths(found: list[_Found]) -> list[PathKey]:
    return [f.path for f in found]


def validate_document(doc: Document, tree: SourceTree) -> None:
    """Raise one SpecError listing every problem of the document, or return None.

    ``tree`` is where ``source:`` and overlay paths are looked up.
    """
    found = _schema_findings(doc)
    problems = [_problem(doc, f) for f in found]
    problems += _Checker(doc, tree, _bad_paths(found)).run()
    if problems:
        raise SpecError(problems)
