"""ingress-nginx: the patches, on kgit's baseline and on every upstream deploy.yaml we have."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path

import pytest

from compiler.compile.addons import baseline_text, parse_manifest
from compiler.compile.render.ingress_nginx import ingress_nginx_warnings, render_ingress_nginx
from compiler.core.errors import KgitError
from tests.test_addons_support import load_objects, make_cluster, manifest_diff, upstream_files

INGRESS_FILES = [
    "ingress-nginx-baremetal-controller-v1.12.1.yaml",
    "ingress-nginx-baremetal-controller-v1.15.1.yaml",
    "ingress-nginx-cloud-controller-v1.12.1.yaml",
    "ingress-nginx-cloud-controller-v1.15.1.yaml",
]
JOB_SUFFIX = re.compile(r"-[0-9a-f]{10}$")

# The bundled cluster's choices, with values that differ from upstream's where it has any.
LAB = {
    "kind": "DaemonSet",
    "exposure": "NodePort",
    "nodePorts": {"http": 30080, "https": 30443},
    "externalTrafficPolicy": "Cluster",
    "nodeSelector": {"ingress": "true"},
    "tolerations": [
        {"key": "dedicated", "operator": "Equal", "value": "edge", "effect": "NoSchedule"}
    ],
    "resources": {"requests": {"cpu": "200m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
    "ingressClass": {"name": "nginx", "default": True},
}


def _baseline():
    return parse_manifest(baseline_text("ingress-nginx"))


def _pair(obj):
    """Pair objects across a render: the workload whatever its kind, Jobs without suffix."""
    kind, name = obj["kind"], obj["metadata"]["name"]
    if kind in ("Deployment", "DaemonSet"):
        kind = "Workload"
    if kind == "Job":
        name = JOB_SUFFIX.sub("", name)
    return f"{kind}/{name}"


def _one(objects, kind, name=None):
    found = [o for o in objects if o["kind"] == kind and name in (None, o["metadata"]["name"])]
    assert len(found) == 1, (kind, name, found)
    return found[0]


def _workload(objects):
    return next(o for o in objects if o["kind"] in ("Deployment", "DaemonSet"))


def _controller(objects):
    return _workload(objects)["spec"]["template"]["spec"]["containers"][0]


@pytest.fixture(params=INGRESS_FILES)
def upstream_ingress(request, upstream: Path) -> tuple[str, list[dict]]:
    return request.param, load_objects(upstream / request.param)


def test_the_fixture_list_covers_every_upstream_ingress_nginx_file(upstream):
    assert {p.name for p in upstream_files(upstream, "ingress-nginx-*.yaml")} == set(INGRESS_FILES)


# --- exactly the intended changes -----------------------------------------------------------


def test_patching_upstream_changes_exactly_the_intended_paths(upstream_ingress):
    name, base = upstream_ingress
    result = render_ingress_nginx(make_cluster(nginx=LAB), base)

    template = "spec.template.spec"
    workload = {
        "kind",
        "spec.strategy",
        "spec.updateStrategy",
        f"{template}.nodeSelector.ingress",
        f"{template}.tolerations",
        f"{template}.containers[0].resources.requests.cpu",
        f"{template}.containers[0].resources.requests.memory",
        f"{template}.containers[0].resources.limits",
    }
    service = {"spec.externalTrafficPolicy", "spec.ports[0].nodePort", "spec.ports[1].nodePort"}
    if "cloud" in name:  # back from upstream's LoadBalancer flavour to bare metal
        workload.add(f"{template}.containers[0].args")
        service.add("spec.type")
    job = {"metadata.name", "metadata.annotations"}
    if "v1.15" in name:  # finished Jobs are kept (see make_replaceable)
        job.add("spec.ttlSecondsAfterFinished")
    assert manifest_diff(base, result, pair=_pair) == {
        "Workload/ingress-nginx-controller": workload,
        "Service/ingress-nginx-controller": service,
        "Job/ingress-nginx-admission-create": job,
        "Job/ingress-nginx-admission-patch": job,
        "IngressClass/nginx": {"metadata.annotations"},
    }


def test_deployment_becomes_a_daemonset_with_the_same_template_and_history(upstream_ingress):
    _name, base = upstream_ingress
    cluster = make_cluster(nginx={"kind": "DaemonSet", "exposure": "NodePort"})
    before = _one(base, "Deployment")
    after = _one(render_ingress_nginx(cluster, base), "DaemonSet")
    template = copy.deepcopy(before["spec"]["template"])
    controller = template["spec"]["containers"][0]  # NodePort: no load balancer to publish
    controller["args"] = [a for a in controller["args"] if not a.startswith("--publish-service")]
    assert after["apiVersion"] == "apps/v1"
    assert after["metadata"] == before["metadata"]
    assert after["spec"] == {
        "minReadySeconds": before["spec"]["minReadySeconds"],
        "revisionHistoryLimit": before["spec"]["revisionHistoryLimit"],
        "selector": before["spec"]["selector"],
        "template": template,
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
    }


def test_deployment_kind_sets_replicas_and_keeps_the_strategy():
    base = _baseline()
    result = render_ingress_nginx(make_cluster(nginx={"kind": "Deployment", "replicas": 3}), base)
    deployment = _one(result, "Deployment")
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["strategy"] == _one(base, "Deployment")["spec"]["strategy"]


def test_nodeport_fixes_the_node_ports_and_the_traffic_policy():
    nginx = {"nodePorts": {"http": 31080, "https": 31443}, "externalTrafficPolicy": "Local"}
    result = render_ingress_nginx(make_cluster(nginx=nginx), _baseline())
    spec = _one(result, "Service", "ingress-nginx-controller")["spec"]
    assert spec["type"] == "NodePort"
    assert spec["externalTrafficPolicy"] == "Local"
    assert [(p["name"], p.get("nodePort")) for p in spec["ports"]] == [
        ("http", 31080),
        ("https", 31443),
    ]


def test_host_network_puts_the_controller_on_the_node_and_keeps_a_clusterip_service(
    upstream_ingress,
):
    _name, base = upstream_ingress
    result = render_ingress_nginx(make_cluster(nginx={"exposure": "HostNetwork"}), base)
    pod = _workload(result)["spec"]["template"]["spec"]
    assert pod["hostNetwork"] is True
    assert pod["dnsPolicy"] == "ClusterFirstWithHostNet"
    service = _one(result, "Service", "ingress-nginx-controller")["spec"]
    assert service["type"] == "ClusterIP"
    assert "externalTrafficPolicy" not in service
    assert all("nodePort" not in port for port in service["ports"])
    assert not any(a.startswith("--publish-service") for a in _controller(result)["args"])


def test_load_balancer_on_the_baremetal_file_gives_upstreams_cloud_flavour(upstream):
    """Upstream's own cloud manifest is the oracle for exposure: LoadBalancer."""
    for version in ("1.12.1", "1.15.1"):
        baremetal = load_objects(upstream / f"ingress-nginx-baremetal-controller-v{version}.yaml")
        cloud = load_objects(upstream / f"ingress-nginx-cloud-controller-v{version}.yaml")
        nginx = {"kind": "Deployment", "exposure": "LoadBalancer", "externalTrafficPolicy": "Local"}
        result = render_ingress_nginx(make_cluster(nginx=nginx), baremetal)

        name = "ingress-nginx-controller"
        assert _one(result, "Service", name) == _one(cloud, "Service", name)
        deployment = _one(result, "Deployment")
        assert deployment["spec"].pop("replicas") == 1
        assert deployment == _one(cloud, "Deployment")


def test_placement_merges_the_node_selector_with_the_linux_os_label():
    result = render_ingress_nginx(
        make_cluster(nginx={"nodeSelector": {"ingress": "true"}}), _baseline()
    )
    assert _workload(result)["spec"]["template"]["spec"]["nodeSelector"] == {
        "ingress": "true",
        "kubernetes.io/os": "linux",
    }


def test_placement_and_resources_come_from_the_spec():
    result = render_ingress_nginx(make_cluster(nginx=LAB), _baseline())
    pod = _workload(result)["spec"]["template"]["spec"]
    assert pod["tolerations"] == LAB["tolerations"]
    assert pod["containers"][0]["resources"] == LAB["resources"]
    json.dumps(result)  # plain data only: no read-only mappings from the model leak out


# --- the IngressClass -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ingress_class", "annotations"),
    [
        pytest.param(
            {"name": "nginx", "default": True},
            {"ingressclass.kubernetes.io/is-default-class": "true", "kgit.dev/replace": "true"},
            id="default",
        ),
        pytest.param(
            {"name": "public", "default": False}, {"kgit.dev/replace": "true"}, id="not-default"
        ),
    ],
)
def test_ingress_class_name_default_and_controller_flags_agree(ingress_class, annotations):
    result = render_ingress_nginx(make_cluster(nginx={"ingressClass": ingress_class}), _baseline())
    cls = _one(result, "IngressClass")
    assert cls["metadata"]["name"] == ingress_class["name"]
    assert cls["metadata"]["annotations"] == annotations
    args = _controller(result)["args"]
    assert f"--ingress-class={ingress_class['name']}" in args
    assert f"--controller-class={cls['spec']['controller']}" in args
    assert sum(a.startswith("--ingress-class") for a in args) == 1


def test_a_default_class_annotation_from_the_base_is_removed_when_not_default():
    base = _baseline()
    _one(base, "IngressClass")["metadata"]["annotations"] = {
        "ingressclass.kubernetes.io/is-default-class": "true"
    }
    result = render_ingress_nginx(make_cluster(nginx={"ingressClass": {"default": False}}), base)
    assert _one(result, "IngressClass")["metadata"]["annotations"] == {"kgit.dev/replace": "true"}


# --- the admission Jobs ---------------------------------------------------------------------


def test_jobs_are_named_after_a_hash_of_their_spec_and_marked_for_replacement():
    base = _baseline()
    result = render_ingress_nginx(make_cluster(nginx=LAB), base)
    for original in ("ingress-nginx-admission-create", "ingress-nginx-admission-patch"):
        job = next(o for o in result if o["metadata"]["name"].startswith(original + "-"))
        canonical = json.dumps(job["spec"], sort_keys=True, separators=(",", ":"))
        digest = hashlib.sha256(canonical.encode()).hexdigest()[:10]
        assert job["metadata"]["name"] == f"{original}-{digest}"
        assert job["metadata"]["annotations"] == {"kgit.dev/replace": "true"}


def test_finished_jobs_are_kept_so_a_plan_after_apply_is_empty(upstream_ingress):
    _name, base = upstream_ingress
    result = render_ingress_nginx(make_cluster(nginx={}), base)
    jobs = [o for o in result if o["kind"] == "Job"]
    assert len(jobs) == 2
    assert all("ttlSecondsAfterFinished" not in job["spec"] for job in jobs)


def test_a_changed_job_spec_changes_the_job_name_and_an_unchanged_one_keeps_it():
    base = _baseline()

    def names(objects):
        return sorted(o["metadata"]["name"] for o in objects if o["kind"] == "Job")

    plain = names(render_ingress_nginx(make_cluster(nginx=LAB), base))
    again = names(render_ingress_nginx(make_cluster(nginx={**LAB, "replicas": 2}), base))
    mirrored = names(
        render_ingress_nginx(make_cluster(nginx={**LAB, "imageRegistry": "mirror.lab"}), base)
    )
    assert plain == again
    assert set(plain).isdisjoint(mirrored)


def test_nothing_refers_to_a_job_by_its_name_so_renaming_is_safe(upstream_ingress):
    _name, base = upstream_ingress
    for job in (o for o in base if o["kind"] == "Job"):
        name = job["metadata"]["name"]
        referrers = [
            f"{o['kind']}/{o['metadata']['name']}"
            for o in base
            if o is not job and re.search(rf"\b{re.escape(name)}\b", json.dumps(o))
        ]
        assert referrers == []


# --- images ---------------------------------------------------------------------------------


def test_images_are_pulled_through_the_mirror_with_their_digests(upstream):
    base = load_objects(upstream / "ingress-nginx-baremetal-controller-v1.15.1.yaml")
    result = render_ingress_nginx(make_cluster(nginx={"imageRegistry": "harbor.lab/k8s"}), base)
    images = sorted(
        c["image"]
        for o in result
        if o["kind"] in ("DaemonSet", "Job")
        for c in o["spec"]["template"]["spec"]["containers"]
    )
    assert images == [
        "harbor.lab/k8s/ingress-nginx/controller:v1.15.1@sha256:"
        "594ceea76b01c592858f803f9ff4d2cb40542cae2060410b2c95f75907d659e1",
        "harbor.lab/k8s/ingress-nginx/kube-webhook-certgen:v1.6.9@sha256:"
        "01038e7de14b78d702d2849c3aad72fd25903c4765af63cf16aa3398f5d5f2dd",
        "harbor.lab/k8s/ingress-nginx/kube-webhook-certgen:v1.6.9@sha256:"
        "01038e7de14b78d702d2849c3aad72fd25903c4765af63cf16aa3398f5d5f2dd",
    ]


# --- purity and idempotence -----------------------------------------------------------------

CONFIGS = [
    pytest.param(LAB, id="lab"),
    pytest.param({"kind": "Deployment", "replicas": 2, "exposure": "LoadBalancer"}, id="lb"),
    pytest.param(
        {"exposure": "HostNetwork", "imageRegistry": "mirror.lab", "ingressClass": {"name": "x"}},
        id="hostnetwork-mirror",
    ),
]


@pytest.mark.parametrize("nginx", CONFIGS)
def test_patching_twice_equals_patching_once(upstream_ingress, nginx):
    _name, base = upstream_ingress
    cluster = make_cluster(nginx=nginx)
    once = render_ingress_nginx(cluster, base)
    assert render_ingress_nginx(cluster, once) == once


@pytest.mark.parametrize("nginx", CONFIGS)
def test_rendering_does_not_change_the_base(nginx):
    base = _baseline()
    kept = copy.deepcopy(base)
    render_ingress_nginx(make_cluster(nginx=nginx), base)
    assert base == kept


def test_a_cluster_without_ingress_nginx_renders_nothing():
    assert render_ingress_nginx(make_cluster(), _baseline()) == []


def test_upstream_files_give_no_version_warnings(upstream_ingress):
    _name, base = upstream_ingress
    assert ingress_nginx_warnings(make_cluster(nginx={}), base, "vendor/x.yaml") == []


@pytest.mark.parametrize(
    ("drop", "message"),
    [
        pytest.param(
            "Deployment",
            "the ingress-nginx manifest has no Deployment or DaemonSet that runs "
            "/nginx-ingress-controller (hint: is the file an upstream ingress-nginx deploy.yaml?)",
            id="no-controller",
        ),
        pytest.param(
            "Service",
            "the ingress-nginx manifest has no Service with http and https ports for the "
            "controller (hint: is the file an upstream ingress-nginx deploy.yaml?)",
            id="no-service",
        ),
        pytest.param(
            "IngressClass",
            "the ingress-nginx manifest has 0 IngressClass objects, expected 1 "
            "(hint: is the file an upstream ingress-nginx deploy.yaml?)",
            id="no-ingressclass",
        ),
    ],
)
def test_a_base_that_is_not_ingress_nginx_is_one_clear_error(drop, message):
    base = [o for o in _baseline() if o["kind"] != drop]
    with pytest.raises(KgitError) as caught:
        render_ingress_nginx(make_cluster(nginx={}), base)
    assert str(caught.value) == message
