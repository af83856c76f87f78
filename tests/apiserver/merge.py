"""Merging: the apply merge of structured-merge-diff, strategic merge patch, JSON merge
patch (RFC 7386) and JSON patch (RFC 6902).

References:
https://kubernetes.io/docs/reference/using-api/server-side-apply/#merge-strategy
https://github.com/kubernetes/community/blob/master/contributors/devel/sig-api-machinery/strategic-merge-patch.md
https://kubernetes.io/docs/tasks/manage-kubernetes-objects/update-api-object-kubectl-patch/
"""

from __future__ import annotations

import copy
from typing import Any

from tests.apiserver import schema
from tests.apiserver.fieldpath import element_for
from tests.apiserver.schema import Node
from tests.apiserver.status import ApiError, bad_request


def apply_merge(live: Any, config: Any, node: Node) -> Any:
    """Merge an applied configuration into the live value, following the schema:
    structs and granular maps merge per field, ``map`` lists per key, ``set`` lists
    as a union, atomic values are replaced."""
    if isinstance(config, dict) and isinstance(live, dict) and not schema.is_atomic_map(node):
        out = dict(live)
        for k, v in config.items():
            if v is None:
                out.pop(k, None)
                continue
            out[k] = apply_merge(live.get(k), v, schema.child(node, k) or schema.ANY)
        return out
    if (
        isinstance(config, list)
        and isinstance(live, list)
        and node.get("t") == "array"
        and schema.list_type(node) in ("map", "set")
    ):
        it = schema.item(node)
        out_list = list(live)
        index = {element_for(e, node): i for i, e in enumerate(out_list)}
        for elem in config:
            key = element_for(elem, node)
            if key in index:
                i = index[key]
                out_list[i] = apply_merge(out_list[i], elem, it)
            else:
                index[key] = len(out_list)
                out_list.append(copy.deepcopy(elem))
        return out_list
    return copy.deepcopy(config)


def json_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = json_merge_patch(out.get(k), v)
    return out


def strategic_merge_patch(target: Any, patch: Any, node: Node) -> Any:
    """Strategic merge patch for built-in kinds (merge keys from the OpenAPI
    ``x-kubernetes-patch-merge-key``/``x-kubernetes-patch-strategy``)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return None
    out = dict(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    for k, v in patch.items():
        if k.startswith("$setElementOrder/") or k in ("$retainKeys", "$patch"):
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            field = k.split("/", 1)[1]
            out[field] = [x for x in out.get(field) or [] if x not in v]
            continue
        if v is None:
            out.pop(k, None)
            continue
        cn = schema.child(node, k) or schema.ANY
        if isinstance(v, dict):
            merged = strategic_merge_patch(out.get(k), v, cn)
            if merged is None:
                out.pop(k, None)
            else:
                out[k] = merged
        elif isinstance(v, list):
            out[k] = _smp_list(out.get(k), v, cn)
        else:
            out[k] = v
    if isinstance(retain, list):
        out = {k: v for k, v in out.items() if k in retain}
    return out


def _smp_list(current: Any, patch: list[Any], node: Node) -> list[Any]:
    strategy = str(node.get("ps", ""))
    merge_key = node.get("pmk")
    if any(isinstance(e, dict) and e.get("$patch") == "replace" for e in patch):
        return [copy.deepcopy(e) for e in patch if not (isinstance(e, dict) and "$patch" in e)]
    if "merge" not in strategy.split(","):
        return copy.deepcopy(patch)
    out = list(current) if isinstance(current, list) else []
    if not merge_key:
        return out + [copy.deepcopy(e) for e in patch if e not in out]
    it = schema.item(node)
    for elem in patch:
        if not isinstance(elem, dict):
            raise bad_request("unable to find api field in struct for the merge key")
        idx = next(
            (
                i
                for i, e in enumerate(out)
                if isinstance(e, dict) and e.get(merge_key) == elem.get(merge_key)
            ),
            None,
        )
        if elem.get("$patch") == "delete":
            if idx is not None:
                del out[idx]
            continue
        if idx is None:
            out.append({k: copy.deepcopy(v) for k, v in elem.items() if k != "$patch"})
        else:
            out[idx] = strategic_merge_patch(out[idx], elem, it)
    return out


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902 (add, remove, replace, move, copy, test)."""
    if not isinstance(operations, list):
        raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    doc = copy.deepcopy(target)
    for op in operations:
        name = op.get("op")
        path = _pointer(op.get("path", ""))
        if name == "add":
            doc = _put(doc, path, copy.deepcopy(op.get("value")), insert=True)
        elif name == "remove":
            doc = _remove(doc, path)
        elif name == "replace":
            _get(doc, path)
            doc = _put(doc, path, copy.deepcopy(op.get("value")), insert=False)
        elif name in ("move", "copy"):
            source = _pointer(op.get("from", ""))
            value = copy.deepcopy(_get(doc, source))
            if name == "move":
                doc = _remove(doc, source)
            doc = _put(doc, path, value, insert=True)
        elif name == "test":
            if _get(doc, path) != op.get("value"):
                raise ApiError(
                    422,
                    "Invalid",
                    "the server rejected our request due to an error in our request",
                    None,
                )
        else:
            raise bad_request(f"Unexpected kind: {name}")
    return doc


def _pointer(text: str) -> list[str]:
    if text == "":
        return []
    return [p.replace("~1", "/").replace("~0", "~") for p in text.split("/")[1:]]


def _missing(path: list[str]) -> ApiError:
    return ApiError(
        422,
        "Invalid",
        "the server rejected our request due to an error in our "
        f"request: doc is missing path: /{'/'.join(path)}",
        None,
    )


def _get(doc: Any, path: list[str]) -> Any:
    node = doc
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise _missing(path)
    return node


def _put(doc: Any, path: list[str], value: Any, insert: bool) -> Any:
    if not path:
        return value
    parent = _get(doc, path[:-1])
    last = path[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        elif last.isdigit() and int(last) <= len(parent):
            if insert:
                parent.insert(int(last), value)
            else:
                parent[int(last)] = value
        else:
            raise _missing(path)
    else:
        raise _missing(path)
    return doc


def _remove(doc: Any, path: list[str]) -> Any:
    parent = _get(doc, path[:-1])
    last = path[-1]
    if isinstance(parent, dict) and last in parent:
        del parent[last]
    elif isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        del parent[int(last)]
    else:
        raise _missing(path)
    return doc
