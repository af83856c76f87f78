"""Validation the real server does for the kinds kgit emits: names, required fields and
immutable fields (422 Invalid), and unknown fields (``fieldValidation``).

References:
https://kubernetes.io/docs/concepts/overview/working-with-objects/names/
https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation
Immutable-field messages are the ``field.Invalid(..., "field is immutable")`` /
``"may not change once set"`` / ``Forbidden: field is immutable when `immutable` is set``
texts of pkg/apis/*/validation upstream.
"""

from __future__ import annotations

import re
from typing import Any

from tests.apiserver import schema
from tests.apiserver.schema import Node
from tests.apiserver.status import Cause

Obj = dict[str, Any]

DNS1123_SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
    "characters, '-' or '.', and must start and end with an alphanumeric "
    "character (e.g. 'example.com', regex used for validation is "
    f"'{DNS1123_SUBDOMAIN}')"
)
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
    "or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  "
    f"or '123-abc', regex used for validation is '{DNS1123_LABEL}')"
)

# Kinds whose names must be DNS-1123 labels rather than subdomains.
LABEL_NAMED = {"Namespace", "Service"}
# RBAC kinds accept any path segment name.
PATH_SEGMENT_NAMED = {"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"}


def validate_name(kind: str, name: str) -> list[Cause]:
    if not name:
        return [Cause("FieldValueRequired", "metadata.name", "name or generateName is required")]
    if kind in PATH_SEGMENT_NAMED:
        if name in (".", "..") or "/" in name or "%" in name:
            return [Cause("FieldValueInvalid", "metadata.name", "may not contain '/' or '%'", name)]
        return []
    if kind in LABEL_NAMED:
        if len(name) > 63 or not re.fullmatch(DNS1123_LABEL, name):
            return [Cause("FieldValueInvalid", "metadata.name", LABEL_MSG, name)]
        return []
    if len(name) > 253 or not re.fullmatch(DNS1123_SUBDOMAIN, name):
        return [Cause("FieldValueInvalid", "metadata.name", SUBDOMAIN_MSG, name)]
    return []


def _get(obj: Any, *path: str) -> Any:
    for p in path:
        obj = obj.get(p) if isinstance(obj, dict) else None
    return obj


def _containers(spec: Any, prefix: str) -> list[Cause]:
    out = []
    containers = _get(spec, "containers")
    if not containers:
        return [Cause("FieldValueRequired", f"{prefix}.containers", "")]
    for group in ("initContainers", "containers"):
        for i, c in enumerate(_get(spec, group) or []):
            if not c.get("name"):
                out.append(Cause("FieldValueRequired", f"{prefix}.{group}[{i}].name", ""))
            if not c.get("image"):
                out.append(Cause("FieldValueRequired", f"{prefix}.{group}[{i}].image", ""))
    return out


def _selector_matches(selector: Any, labels: Any) -> bool:
    labels = labels or {}
    for k, v in (_get(selector, "matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in _get(selector, "matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _workload(obj: Obj) -> list[Cause]:
    out = []
    selector = _get(obj, "spec", "selector")
    template = _get(obj, "spec", "template")
    if selector is None:
        out.append(Cause("FieldValueRequired", "spec.selector", ""))
    elif not _get(selector, "matchLabels") and not _get(selector, "matchExpressions"):
        out.append(
            Cause(
                "FieldValueInvalid",
                "spec.selector",
                "empty selector is invalid for deployment",
                selector,
            )
        )
    labels = _get(template, "metadata", "labels")
    if selector and not _selector_matches(selector, labels):
        out.append(
            Cause(
                "FieldValueInvalid",
                "spec.template.metadata.labels",
                "`selector` does not match template `labels`",
                labels,
            )
        )
    out += _containers(_get(template, "spec"), "spec.template.spec")
    replicas = _get(obj, "spec", "replicas")
    if isinstance(replicas, int) and replicas < 0:
        out.append(
            Cause(
                "FieldValueInvalid", "spec.replicas", "must be greater than or equal to 0", replicas
            )
        )
    return out


def _job(obj: Obj) -> list[Cause]:
    spec = _get(obj, "spec", "template", "spec")
    out = _containers(spec, "spec.template.spec")
    policy = _get(spec, "restartPolicy")
    if policy not in ("OnFailure", "Never"):
        out.append(
            Cause(
                "FieldValueNotSupported",
                "spec.template.spec.restartPolicy",
                'supported values: "OnFailure", "Never"',
                policy,
            )
        )
    return out


def _service(obj: Obj) -> list[Cause]:
    spec = _get(obj, "spec") or {}
    out = []
    if (
        spec.get("type") != "ExternalName"
        and not spec.get("ports")
        and spec.get("clusterIP") != "None"
    ):
        out.append(Cause("FieldValueRequired", "spec.ports", ""))
    if spec.get("type") == "ExternalName" and not spec.get("externalName"):
        out.append(Cause("FieldValueRequired", "spec.externalName", ""))
    for i, port in enumerate(spec.get("ports") or []):
        value = port.get("port")
        if not isinstance(value, int) or not 1 <= value <= 65535:
            out.append(
                Cause(
                    "FieldValueInvalid",
                    f"spec.ports[{i}].port",
                    "must be between 1 and 65535, inclusive",
                    value,
                )
            )
        node_port = port.get("nodePort")
        if node_port and not 30000 <= node_port <= 32767:
            out.append(
                Cause(
                    "FieldValueInvalid",
                    f"spec.ports[{i}].nodePort",
                    "provided port is not in the valid range. The range of valid "
                    "ports is 30000-32767",
                    node_port,
                )
            )
        if len(spec.get("ports") or []) > 1 and not port.get("name"):
            out.append(Cause("FieldValueRequired", f"spec.ports[{i}].name", ""))
    return out


def _ingress(obj: Obj) -> list[Cause]:
    out = []
    for i, rule in enumerate(_get(obj, "spec", "rules") or []):
        for j, path in enumerate(_get(rule, "http", "paths") or []):
            where = f"spec.rules[{i}].http.paths[{j}]"
            if not path.get("pathType"):
                out.append(
                    Cause("FieldValueRequired", f"{where}.pathType", "pathType must be specified")
                )
            elif path["pathType"] not in ("Exact", "Prefix", "ImplementationSpecific"):
                out.append(
                    Cause(
                        "FieldValueNotSupported",
                        f"{where}.pathType",
                        'supported values: "Exact", "ImplementationSpecific", "Prefix"',
                        path["pathType"],
                    )
                )
    return out


def _webhooks(obj: Obj) -> list[Cause]:
    out = []
    for i, hook in enumerate(obj.get("webhooks") or []):
        if not hook.get("sideEffects"):
            out.append(
                Cause(
                    "FieldValueRequired",
                    f"webhooks[{i}].sideEffects",
                    'must specify one of "None", "NoneOnDryRun"',
                )
            )
        if not hook.get("admissionReviewVersions"):
            out.append(
                Cause(
                    "FieldValueRequired",
                    f"webhooks[{i}].admissionReviewVersions",
                    'must specify one of "v1", "v1beta1"',
                )
            )
    return out


def _lease(obj: Obj) -> list[Cause]:
    spec = obj.get("spec") or {}
    duration = spec.get("leaseDurationSeconds")
    if duration is not None and (not isinstance(duration, int) or duration <= 0):
        return [
            Cause(
                "FieldValueInvalid", "spec.leaseDurationSeconds", "must be greater than 0", duration
            )
        ]
    return []


CREATE_RULES = {
    "Deployment": _workload,
    "DaemonSet": _workload,
    "StatefulSet": _workload,
    "ReplicaSet": _workload,
    "Job": _job,
    "Service": _service,
    "Ingress": _ingress,
    "ValidatingWebhookConfiguration": _webhooks,
    "MutatingWebhookConfiguration": _webhooks,
    "Lease": _lease,
}


def validate(obj: Obj) -> list[Cause]:
    kind = str(obj.get("kind"))
    meta = obj.get("metadata") or {}
    out = validate_name(kind, str(meta.get("name") or ""))
    rule = CREATE_RULES.get(kind)
    if rule is not None:
        out += rule(obj)
    return out


def _immutable(path: str, new: Any) -> Cause:
    return Cause("FieldValueInvalid", path, "field is immutable", new)


def validate_update(old: Obj, new: Obj) -> list[Cause]:
    """Immutable fields, as each kind's ValidateXUpdate reports them."""
    kind = str(new.get("kind"))
    out: list[Cause] = []
    if kind in ("Deployment", "DaemonSet", "StatefulSet", "ReplicaSet") and _get(
        old, "spec", "selector"
    ) != _get(new, "spec", "selector"):
        out.append(_immutable("spec.selector", _get(new, "spec", "selector")))
    if kind == "StatefulSet":
        for field in ("serviceName", "volumeClaimTemplates", "podManagementPolicy"):
            if _get(old, "spec", field) != _get(new, "spec", field):
                out.append(
                    Cause(
                        "FieldValueForbidden",
                        "spec",
                        "updates to statefulset spec for fields other than "
                        "'replicas', 'ordinals', 'template', 'updateStrategy', "
                        "'persistentVolumeClaimRetentionPolicy' and "
                        "'minReadySeconds' are forbidden",
                    )
                )
                break
    if kind == "Job":
        if _get(old, "spec", "selector") != _get(new, "spec", "selector"):
            out.append(_immutable("spec.selector", _get(new, "spec", "selector")))
        if _get(old, "spec", "template") != _get(new, "spec", "template"):
            out.append(_immutable("spec.template", _get(new, "spec", "template")))
        if _get(old, "spec", "completionMode") != _get(new, "spec", "completionMode"):
            out.append(_immutable("spec.completionMode", _get(new, "spec", "completionMode")))
    if kind == "Service":
        old_ips = _get(old, "spec", "clusterIPs") or []
        new_ips = _get(new, "spec", "clusterIPs") or []
        if _get(new, "spec", "type") != "ExternalName" and old_ips:
            for i, ip in enumerate(old_ips):
                if i < len(new_ips) and new_ips[i] != ip:
                    out.append(
                        Cause(
                            "FieldValueInvalid",
                            f"spec.clusterIPs[{i}]",
                            "may not change once set",
                            new_ips,
                        )
                    )
    if kind == "IngressClass" and _get(old, "spec", "controller") != _get(
        new, "spec", "controller"
    ):
        out.append(_immutable("spec.controller", _get(new, "spec", "controller")))
    if kind in ("RoleBinding", "ClusterRoleBinding") and old.get("roleRef") != new.get("roleRef"):
        out.append(
            Cause("FieldValueInvalid", "roleRef", "cannot change roleRef", new.get("roleRef"))
        )
    if kind in ("ConfigMap", "Secret") and old.get("immutable") is True:
        if new.get("immutable") is not True:
            out.append(
                Cause(
                    "FieldValueForbidden", "immutable", "field is immutable when `immutable` is set"
                )
            )
        for field in ("data", "binaryData", "stringData"):
            if old.get(field) != new.get(field):
                out.append(
                    Cause(
                        "FieldValueForbidden", field, "field is immutable when `immutable` is set"
                    )
                )
    if kind == "Secret" and old.get("type") != new.get("type"):
        out.append(_immutable("type", new.get("type")))
    if kind == "PriorityClass" and old.get("value") != new.get("value"):
        out.append(Cause("FieldValueForbidden", "value", "may not be changed in an update."))
    return out


def unknown_fields(obj: Any, node: Node, path: str = "") -> list[str]:
    """Remove fields the schema does not declare; return their dotted paths (as the
    ``unknown field "spec.foo"`` strict-decoding errors name them)."""
    found: list[str] = []
    if isinstance(obj, dict):
        known = schema.known_fields(node)
        for key in list(obj):
            where = f"{path}.{key}" if path else key
            if known is not None and key not in known:
                found.append(where)
                del obj[key]
                continue
            child = schema.child(node, key)
            if child is not None:
                found += unknown_fields(obj[key], child, where)
    elif isinstance(obj, list) and node.get("t") == "array":
        it = schema.item(node)
        for i, elem in enumerate(obj):
            found += unknown_fields(elem, it, f"{path}[{i}]")
    return found
