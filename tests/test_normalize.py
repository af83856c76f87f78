"""normalize: what the server owns, and "unchanged" decided from managedFields alone.

The live objects here are written by hand in the shape the API server returns (FieldsV1
as documented at https://kubernetes.io/docs/reference/using-api/server-side-apply/);
the plan tests check the same decisions against the test API server.
"""

from __future__ import annotations

import copy
import hashlib
import json
from decimal import Decimal

import pytest

from compiler.reconcile.normalize import drift, fingerprint, for_display, parse_quantity

DESIRED = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "prod", "labels": {"app": "web"}},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [
                    {
                        "name": "web",
                        "image": "nginx:1.27",
                        "ports": [{"containerPort": 80}],
                        "resources": {"requests": {"cpu": "0.5", "memory": "1024Mi"}},
                    }
                ]
            },
        },
    },
}

KGIT_FIELDS = {
    "f:metadata": {"f:labels": {"f:app": {}}},
    "f:spec": {
        "f:replicas": {},
        "f:selector": {},
        "f:template": {
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {
                "f:containers": {
                    'k:{"name":"web"}': {
                        ".": {},
                        "f:image": {},
                        "f:name": {},
                        "f:ports": {
                            'k:{"containerPort":80,"protocol":"TCP"}': {
                                ".": {},
                                "f:containerPort": {},
                            }
                        },
                        "f:resources": {"f:requests": {"f:cpu": {}, "f:memory": {}}},
                    }
                }
            },
        },
    },
}


def live_object() -> dict:
    """DESIRED as the server returns it: defaults filled in, quantities canonical."""
    live = copy.deepcopy(DESIRED)
    live["metadata"].update(
        uid="0b7c",
        resourceVersion="41",
        generation=1,
        creationTimestamp="2026-01-01T00:00:00Z",
        managedFields=[
            {
                "manager": "kgit",
                "operation": "Apply",
                "apiVersion": "apps/v1",
                "fieldsType": "FieldsV1",
                "fieldsV1": copy.deepcopy(KGIT_FIELDS),
            },
            {
                "manager": "kube-controller-manager",
                "operation": "Update",
                "subresource": "status",
                "fieldsV1": {"f:status": {"f:replicas": {}}},
            },
        ],
        annotations={"deployment.kubernetes.io/revision": "1"},
    )
    spec = live["spec"]
    spec.update(revisionHistoryLimit=10, progressDeadlineSeconds=600)
    spec["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}}
    container = spec["template"]["spec"]["containers"][0]
    container.update(imagePullPolicy="IfNotPresent", terminationMessagePath="/dev/termination-log")
    container["ports"][0]["protocol"] = "TCP"
    container["resources"]["requests"] = {"cpu": "500m", "memory": "1Gi"}
    spec["template"]["spec"].update(restartPolicy="Always", dnsPolicy="ClusterFirst")
    live["status"] = {"replicas": 2}
    return live


def fields_of(live: dict) -> dict:
    return live["metadata"]["managedFields"][0]["fieldsV1"]


def test_server_defaults_and_canonical_quantities_are_not_drift():
    assert drift(DESIRED, live_object(), "kgit") is None


def edit_desired_image(desired: dict, live: dict) -> None:
    desired["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28"


def edit_live_replicas(desired: dict, live: dict) -> None:
    live["spec"]["replicas"] = 5  # kubectl scale


def remove_desired_label(desired: dict, live: dict) -> None:
    del desired["metadata"]["labels"]["app"]


def add_desired_env(desired: dict, live: dict) -> None:
    desired["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "A", "value": "1"}]


def add_desired_container(desired: dict, live: dict) -> None:
    containers = desired["spec"]["template"]["spec"]["containers"]
    containers.append({"name": "sidecar", "image": "busybox"})


def remove_live_port(desired: dict, live: dict) -> None:
    live["spec"]["template"]["spec"]["containers"][0]["ports"] = []


def edit_live_selector(desired: dict, live: dict) -> None:
    live["spec"]["selector"]["matchLabels"]["tier"] = "x"


def drop_kgit_ownership(desired: dict, live: dict) -> None:
    live["metadata"]["managedFields"][0]["manager"] = "kubectl-client-side-apply"


def edit_cpu_value(desired: dict, live: dict) -> None:
    live["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "600m"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        pytest.param(
            edit_desired_image,
            "spec.template.spec.containers[name=web].image differs",
            id="image-changed-in-out",
        ),
        pytest.param(edit_live_replicas, "spec.replicas differs", id="scaled-out-of-band"),
        pytest.param(
            remove_desired_label,
            "metadata.labels.app is no longer in the manifest",
            id="field-removed-from-out",
        ),
        pytest.param(
            add_desired_env,
            "spec.template.spec.containers[name=web].env is not owned by kgit",
            id="field-added-to-out",
        ),
        pytest.param(
            add_desired_container,
            "spec.template.spec.containers: kgit owns 1 items, the manifest has 2",
            id="list-item-added",
        ),
        pytest.param(
            remove_live_port,
            "spec.template.spec.containers[name=web].ports[containerPort=80,protocol=TCP] "
            "is missing",
            id="list-item-removed-live",
        ),
        pytest.param(edit_live_selector, "spec.selector.matchLabels differs", id="atomic-map-grew"),
        pytest.param(drop_kgit_ownership, "not applied by kgit yet", id="not-kgits"),
        pytest.param(
            edit_cpu_value,
            "spec.template.spec.containers[name=web].resources.requests.cpu differs",
            id="quantity-really-changed",
        ),
    ],
)
def test_drift_names_the_first_difference(change, reason):
    desired, live = copy.deepcopy(DESIRED), live_object()
    change(desired, live)
    assert drift(desired, live, "kgit") == reason


def test_atomic_map_equal_to_desired_is_not_drift():
    # spec.selector is owned as a whole ("f:selector": {}): compared by value.
    live = live_object()
    assert fields_of(live)["f:spec"]["f:selector"] == {}
    assert drift(DESIRED, live, "kgit") is None


def test_empty_map_in_manifest_matches_an_absent_field():
    desired = copy.deepcopy(DESIRED)
    desired["metadata"]["annotations"] = {}
    assert drift(desired, live_object(), "kgit") is None


def test_display_form_drops_what_the_server_owns():
    live = live_object()
    before = copy.deepcopy(live)
    shown = for_display(live)
    assert shown is not None
    assert sorted(shown["metadata"]) == ["annotations", "labels", "name", "namespace"]
    assert "status" not in shown
    assert live == before  # the live object itself is left alone
    shown["spec"]["replicas"] = 99  # and the display form is a copy of it
    shown["metadata"]["labels"]["x"] = "y"
    assert live == before


def test_fingerprint_is_the_digest_of_the_display_form_and_changes_nothing():
    live = live_object()
    before = copy.deepcopy(live)
    shown = json.dumps(for_display(live), sort_keys=True, separators=(",", ":"))
    assert fingerprint(live) == "sha256:" + hashlib.sha256(shown.encode()).hexdigest()
    assert live == before


def test_fingerprint_ignores_status_and_bookkeeping_but_not_spec_or_labels():
    live = live_object()
    status_only = copy.deepcopy(live)
    status_only["status"] = {"observedGeneration": 9, "readyReplicas": 1}
    status_only["metadata"]["resourceVersion"] = "999"
    status_only["metadata"]["managedFields"] = []
    scaled = copy.deepcopy(live)
    scaled["spec"]["replicas"] = 7
    relabelled = copy.deepcopy(live)
    relabelled["metadata"]["labels"]["team"] = "b"
    assert fingerprint(status_only) == fingerprint(live)
    assert fingerprint(scaled) != fingerprint(live)
    assert fingerprint(relabelled) != fingerprint(live)


def test_fingerprint_of_a_secret_is_its_resource_version_not_a_digest_of_its_data():
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "web", "resourceVersion": "42"},
        "data": {"password": "aHVudGVyMg=="},
    }
    assert fingerprint(secret) == "resourceVersion:42"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        pytest.param("500m", Decimal("0.5"), id="milli"),
        pytest.param("0.5", Decimal("0.5"), id="decimal"),
        pytest.param("1Gi", Decimal(2**30), id="binary-suffix"),
        pytest.param("1024Mi", Decimal(2**30), id="binary-suffix-other-unit"),
        pytest.param("1e3", Decimal(1000), id="exponent"),
        pytest.param("2k", Decimal(2000), id="decimal-suffix"),
        pytest.param("abc", None, id="not-a-quantity"),
        pytest.param("", None, id="empty"),
    ],
)
def test_parse_quantity(text, value):
    assert parse_quantity(text) == value


def test_an_empty_key_in_an_atomic_map_does_not_hide_drift_after_it():
    # selector is owned as a whole; matchExpressions: [] is not stored by the server, and
    # must not end the comparison before matchLabels (keys compare in manifest order).
    desired = copy.deepcopy(DESIRED)
    desired["spec"]["selector"] = {"matchExpressions": [], "matchLabels": {"app": "web"}}
    live = live_object()
    assert drift(desired, live, "kgit") is None
    live["spec"]["selector"]["matchLabels"]["app"] = "other"
    assert drift(desired, live, "kgit") == "spec.selector.matchLabels.app differs"
