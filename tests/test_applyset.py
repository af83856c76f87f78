"""ApplySet (KEP-3659): the id kubectl computes, the parent ConfigMap, the inventory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from compiler import __version__
from compiler.core import yamlout
from compiler.core.errors import PlanError
from compiler.core.identity import ObjectId
from compiler.reconcile.applyset import (
    ID_LABEL,
    PART_OF_LABEL,
    applyset_id,
    check_parent,
    parent_manifest,
    parent_ref,
    read_inventory,
    with_member_labels,
)
from tests.reconcile_plan_helpers import apply_out, deployment, namespace, service, write_out

MEMBERS = [
    ObjectId("apps/v1", "Deployment", "web", "nginx"),
    ObjectId("v1", "Service", "web", "nginx"),
    ObjectId("v1", "Namespace", "", "web"),
    ObjectId("v1", "ConfigMap", "kube-system", "settings"),
    ObjectId("networking.k8s.io/v1", "Ingress", "prod", "site"),
]


def kubectl_or_skip() -> str:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not installed")
    return kubectl


def test_id_matches_the_one_kubectl_computes(apiserver, tmp_path: Path):
    kubectl = kubectl_or_skip()
    manifest = tmp_path / "ns.yaml"
    manifest.write_text(yamlout.dump(namespace("web")))
    result = subprocess.run(
        [
            kubectl,
            "--kubeconfig",
            str(apiserver.kubeconfig),
            "apply",
            "--server-side",
            "--prune",
            "--applyset=configmaps/kgit-lab",
            "-n",
            "kube-system",
            "-f",
            str(manifest),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "KUBECTL_APPLYSET": "true"},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    member = apiserver.get("v1", "Namespace", "web")
    parent = apiserver.get("v1", "ConfigMap", "kgit-lab", "kube-system")
    expected = applyset_id(parent_ref("lab"))
    assert member["metadata"]["labels"][PART_OF_LABEL] == expected
    assert parent["metadata"]["labels"][ID_LABEL] == expected


def test_parent_is_a_configmap_in_kube_system_with_the_kep_annotations():
    parent = parent_manifest("lab", MEMBERS)
    assert ObjectId.of(parent) == ObjectId("v1", "ConfigMap", "kube-system", "kgit-lab")
    assert parent["metadata"]["labels"] == {ID_LABEL: applyset_id(parent_ref("lab"))}
    assert parent["metadata"]["annotations"] == {
        "applyset.kubernetes.io/tooling": f"kgit/{__version__}",
        "applyset.kubernetes.io/contains-group-kinds": (
            "ConfigMap,Deployment.apps,Ingress.networking.k8s.io,Namespace,Service"
        ),
        # The parent's own namespace is implied; the others are listed.
        "applyset.kubernetes.io/additional-namespaces": "prod,web",
        "kgit.dev/cluster": "lab",  # which spec the cluster belongs to
    }


def test_inventory_round_trips_and_lists_group_kinds():
    parent = parent_manifest("lab", MEMBERS)
    assert read_inventory(parent) == set(MEMBERS)
    assert read_inventory(None) == set()
    annotations = parent["metadata"]["annotations"]
    assert set(annotations["applyset.kubernetes.io/contains-group-kinds"].split(",")) == {
        "ConfigMap",
        "Deployment.apps",
        "Ingress.networking.k8s.io",
        "Namespace",
        "Service",
    }
    rows = json.loads(parent["data"]["inventory.json"])["members"]
    assert rows[0] == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "namespace": "kube-system",
        "name": "settings",
    }


def test_member_labels_are_added_without_touching_the_input():
    body = deployment()
    labelled = with_member_labels(body, "applyset-x-v1")
    assert labelled["metadata"]["labels"] == {"app": "nginx", PART_OF_LABEL: "applyset-x-v1"}
    assert body["metadata"]["labels"] == {"app": "nginx"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(
            {"applyset.kubernetes.io/tooling": "kubectl/v1.32"},
            "the ApplySet parent ConfigMap/kube-system/kgit-lab exists but is managed by "
            "'kubectl', not kgit",
            id="other-tool",
        ),
        pytest.param(
            {ID_LABEL: "applyset-wrong-v1"},
            "the ApplySet parent ConfigMap/kube-system/kgit-lab has label "
            f"applyset.kubernetes.io/id='applyset-wrong-v1', expected "
            f"{applyset_id(parent_ref('lab'))!r}",
            id="wrong-id",
        ),
    ],
)
def test_a_parent_kgit_does_not_own_is_refused(change, message):
    parent = parent_manifest("lab", MEMBERS)
    for key, value in change.items():
        where = "labels" if key == ID_LABEL else "annotations"
        parent["metadata"][where][key] = value
    with pytest.raises(PlanError) as caught:
        check_parent(parent, "lab")
    assert caught.value.message == message


def test_unreadable_inventory_is_an_error_not_an_empty_set():
    parent = parent_manifest("lab", MEMBERS)
    parent["data"]["inventory.json"] = "{not json"
    with pytest.raises(PlanError) as caught:
        read_inventory(parent)
    assert caught.value.message == (
        "the ApplySet parent ConfigMap/kube-system/kgit-lab has an unreadable inventory.json; "
        "kgit will not prune from it"
    )


def test_kubectl_lists_members_by_the_part_of_label(apiserver, tmp_path: Path):
    kubectl = kubectl_or_skip()
    out = write_out(tmp_path / "out", [namespace("web"), deployment(), service()])
    apply_out(apiserver.kubeconfig, out)
    result = subprocess.run(
        [
            kubectl,
            "--kubeconfig",
            str(apiserver.kubeconfig),
            "get",
            "deployments,services",
            "-A",
            "-l",
            f"{PART_OF_LABEL}={applyset_id(parent_ref('lab'))}",
            "-o",
            "name",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["deployment.apps/nginx", "service/nginx"]
