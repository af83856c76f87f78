"""The store's indexes (sorted names, labels, cached item encodings) answer exactly what a
scan of every object would: checked against a brute-force filter written here, over
random writes, relabels and deletes.

Selector semantics: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.apiserver.selectors import parse_label_selector
from tests.apiserver.server import ApiServer
from tests.apiserver.store import Store

NAMESPACES = ["a", "b"]
NAMES = ["o0", "o1", "o2"]  # few keys, so writes often hit the same object
LABELS = st.dictionaries(
    st.sampled_from(["app", "tier"]), st.sampled_from(["x", "y", "z"]), max_size=2
)
WRITE = st.tuples(
    st.sampled_from(["put", "remove"]), st.sampled_from(NAMESPACES), st.sampled_from(NAMES), LABELS
)
# Each selector with the predicate it means, written out by hand (the oracle).
SELECTORS: dict[str, Callable[[dict[str, str]], bool]] = {
    "": lambda labels: True,
    "app=x": lambda labels: labels.get("app") == "x",
    "app==y": lambda labels: labels.get("app") == "y",
    "app!=x": lambda labels: labels.get("app") != "x",
    "app in (x,z)": lambda labels: labels.get("app") in ("x", "z"),
    "app notin (x)": lambda labels: labels.get("app") != "x",
    "app": lambda labels: "app" in labels,
    "!app": lambda labels: "app" not in labels,
    "app=x,tier=y": lambda labels: labels.get("app") == "x" and labels.get("tier") == "y",
    "tier,app!=z": lambda labels: "tier" in labels and labels.get("app") != "z",
    "app in (x),tier in (y,z)": lambda labels: (
        labels.get("app") == "x" and labels.get("tier") in ("y", "z")
    ),
}


def brute_force(
    objects: dict[tuple[str, str], dict[str, str]],
    selector: str,
    namespace: str | None,
    after: tuple[str, str] | None,
) -> list[tuple[str, str]]:
    """Every object in (namespace, name) order, tested one by one."""
    return [
        key
        for key in sorted(objects)
        if (namespace is None or key[0] == namespace)
        and (after is None or key > after)
        and SELECTORS[selector](objects[key])
    ]


def obj(namespace: str, name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
    }


@settings(max_examples=300, deadline=None)
@given(
    writes=st.lists(WRITE, max_size=40),
    selector=st.sampled_from(sorted(SELECTORS)),
    namespace=st.sampled_from([None, *NAMESPACES]),
    after=st.one_of(st.none(), st.tuples(st.sampled_from(NAMESPACES), st.sampled_from(NAMES))),
)
def test_select_equals_a_scan_of_every_object(
    writes: list[Any], selector: str, namespace: str | None, after: tuple[str, str] | None
) -> None:
    store = Store()
    model: dict[tuple[str, str], dict[str, str]] = {}
    for action, ns, name, labels in writes:
        if action == "put":
            store.put("", "configmaps", obj(ns, name, labels))
            model[(ns, name)] = labels
        else:
            store.remove("", "configmaps", ns, name)
            model.pop((ns, name), None)
    got = store.select("", "configmaps", namespace, parse_label_selector(selector), after=after)
    keys = [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in got]
    assert keys == brute_force(model, selector, namespace, after)


def _list(server: ApiServer, query: str) -> dict[str, Any]:
    url = f"{server.url}/api/v1/namespaces/default/configmaps?{query}"
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


def _write(server: ApiServer, name: str, labels: dict[str, str], data: dict[str, str]) -> None:
    body = json.dumps(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "labels": labels},
            "data": data,
        }
    ).encode()
    req = urllib.request.Request(
        f"{server.url}/api/v1/namespaces/default/configmaps/{name}?fieldManager=t",
        data=body,
        method="PATCH",
        headers={"Content-Type": "application/apply-patch+yaml"},
    )
    urllib.request.urlopen(req, timeout=10).read()


# https://kubernetes.io/docs/reference/using-api/api-concepts/#collections
def test_list_shows_each_write_and_relabel_at_once(apiserver: ApiServer) -> None:
    _write(apiserver, "one", {"app": "x"}, {"v": "1"})
    assert [i["data"] for i in _list(apiserver, "labelSelector=app%3Dx")["items"]] == [{"v": "1"}]
    _write(apiserver, "one", {"app": "x"}, {"v": "2"})
    assert [i["data"] for i in _list(apiserver, "labelSelector=app%3Dx")["items"]] == [{"v": "2"}]
    _write(apiserver, "one", {"app": "y"}, {"v": "2"})
    assert _list(apiserver, "labelSelector=app%3Dx")["items"] == []
    [item] = _list(apiserver, "labelSelector=app%3Dy")["items"]
    assert "kind" not in item and "apiVersion" not in item  # typed list items
    assert item["metadata"]["labels"] == {"app": "y"}


# https://kubernetes.io/docs/reference/using-api/api-concepts/#retrieving-large-results-sets-in-chunks
def test_selected_pages_cover_every_match_once_in_name_order(apiserver: ApiServer) -> None:
    for i in range(7):
        apiserver.create(obj("default", f"cm-{i}", {"app": "x" if i % 2 else "y"}))
    names, token = [], ""
    while True:
        page = _list(apiserver, f"labelSelector=app%3Dy&limit=2&continue={token}")
        names += [i["metadata"]["name"] for i in page["items"]]
        token = page["metadata"].get("continue", "")
        if not token:
            break
    assert names == ["cm-0", "cm-2", "cm-4", "cm-6"]
