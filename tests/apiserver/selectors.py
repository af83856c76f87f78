"""Label and field selectors, as in https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors
and https://kubernetes.io/docs/concepts/overview/working-with-objects/field-selectors/.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.apiserver.status import ApiError, bad_request

_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_SET = re.compile(rf"^\s*(?P<key>{_KEY})\s+(?P<op>in|notin)\s*\((?P<values>[^)]*)\)\s*$")
_CMP = re.compile(rf"^\s*(?P<key>{_KEY})\s*(?P<op>==|=|!=|>|<)\s*(?P<value>[^=!<>]*?)\s*$")
_EXISTS = re.compile(rf"^\s*(?P<neg>!?)\s*(?P<key>{_KEY})\s*$")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # in, notin, exists, !, =, !=, gt, lt
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            return not present or value not in self.values
        if not present:
            return False
        try:
            number = int(str(value))
        except ValueError:
            return False
        bound = int(self.values[0])
        return number > bound if self.op == "gt" else number < bound


def _split(selector: str) -> list[str]:
    """Split on commas that are not inside ``( )``."""
    parts, depth, current = [], 0, ""
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return parts


def _check_value(value: str, selector: str) -> None:
    if len(value) > 63 or not re.fullmatch(_VALUE, value):
        raise bad_request(
            f"unable to parse requirement: values[0][{selector}]: Invalid value: "
            f'"{value}": a valid label must be an empty string or consist of '
            "alphanumeric characters, '-', '_' or '.', and must start and end "
            "with an alphanumeric character"
        )


def parse_label_selector(selector: str) -> list[Requirement]:
    """Parse ``labelSelector``; malformed selectors are a 400 BadRequest upstream."""
    if not selector.strip():
        return []
    out = []
    for part in _split(selector):
        if m := _SET.match(part):
            values = tuple(v.strip() for v in m["values"].split(",") if v.strip())
            for v in values:
                _check_value(v, selector)
            out.append(Requirement(m["key"], m["op"], values))
        elif m := _EXISTS.match(part):
            out.append(Requirement(m["key"], "!" if m["neg"] else "exists"))
        elif m := _CMP.match(part):
            op = {"==": "=", "=": "=", "!=": "!=", ">": "gt", "<": "lt"}[m["op"]]
            if op in ("gt", "lt") and not m["value"].isdigit():
                raise bad_request(
                    "unable to parse requirement: for 'Gt', 'Lt' operators, "
                    "the value must be an integer"
                )
            _check_value(m["value"], selector)
            out.append(Requirement(m["key"], op, (m["value"],)))
        else:
            raise bad_request(
                f"unable to parse requirement: found '{part.strip()}', expected: identifier"
            )
    return out


def labels_match(requirements: list[Requirement], obj: dict[str, Any]) -> bool:
    labels = obj.get("metadata", {}).get("labels") or {}
    return all(r.matches(labels) for r in requirements)


def _get(obj: dict[str, Any], dotted: str) -> str:
    node: Any = obj
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if node is None:
        return ""
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)


# Field labels each kind supports beyond metadata.name / metadata.namespace
# (pkg/registry/*/strategy.go GetAttrs / AddFieldLabelConversionFunc upstream).
EXTRA_FIELDS: dict[str, tuple[str, ...]] = {
    "Secret": ("type",),
    "Namespace": ("status.phase",),
    "Pod": (
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
        "spec.hostNetwork",
    ),
    "Event": (
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ),
    "Job": ("status.successful",),
    "ReplicaSet": ("status.replicas",),
    "Node": ("spec.unschedulable",),
}


def parse_field_selector(selector: str, kind: str) -> Callable[[dict[str, Any]], bool]:
    """Parse ``fieldSelector``; unknown field labels are a 400 BadRequest upstream."""
    if not selector.strip():
        return lambda obj: True
    allowed = {"metadata.name", "metadata.namespace", *EXTRA_FIELDS.get(kind, ())}
    tests: list[tuple[str, bool, str]] = []
    for part in selector.split(","):
        m = re.match(r"^\s*([^=!\s]+)\s*(==|=|!=)\s*(.*?)\s*$", part)
        if not m:
            raise bad_request(f"invalid selector: '{selector}'; can't understand '{part}'")
        key, op, value = m.groups()
        if key not in allowed:
            raise ApiError(
                400,
                "BadRequest",
                f'"{key}" is not a known field selector: only "metadata.name", '
                f'"metadata.namespace"',
            )
        tests.append((key, op != "!=", value))

    def match(obj: dict[str, Any]) -> bool:
        return all((_get(obj, key) == value) == equal for key, equal, value in tests)

    return match
