"""spec.addons: third-party add-ons from vendored, pinned upstream manifests.

The manifests are real upstream files from ../shared/upstream (ingress-nginx, flannel,
NGINX Gateway Fabric and the Gateway API CRDs), copied into each test's own repository and
pinned in its kgit.lock. The namespace move is checked against ``kubectl kustomize``
(a kustomization with ``namespace:``), the staging against the test API server.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from compiler.cli.app import main
from compiler.compile.lockfile import LockEntry, dump_lock
from compiler.compile.model import build_cluster
from compiler.compile.render.third_party import render_third_party
from compiler.core.errors import KgitError
from tests.test_addons_support import MINIMAL_SPEC, load_objects, manifest_diff

KUBECTL = shutil.which("kubectl")
JOB_SUFFIX = re.compile(r"-[0-9a-f]{10}$")
INGRESS = "ingress-nginx-baremetal-controller-v1.15.1.yaml"
SPEC = """\
apiVersion: kgit.dev/v1alpha1
kind: Cluster
metadata:
  name: lab
spec:
  kubernetes:
    version: "1.32.2"
  nodes:
    - name: cp-1
      address: 192.168.10.10
      role: control-plane
"""


def _cluster(addon: dict[str, Any]):
    spec = yaml.safe_load(yaml.safe_dump(MINIMAL_SPEC))
    spec["spec"]["addons"] = [addon]
    return build_cluster(spec)


def _vendor(repo: Path, upstream: Path, files: dict[str, str], pin: bool = True) -> None:
    """Copy upstream files into ``repo``/vendor (target -> file under ../shared/upstream)."""
    entries = {}
    for target, name in files.items():
        path = repo / target
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(upstream / name, path)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        entries[target] = LockEntry("url", "", f"https://upstream.example/{name}", digest)
    if pin:
        (repo / "kgit.lock").write_text(dump_lock(entries))


def _pair(obj: dict[str, Any]) -> str:
    return f"{obj['kind']}/{JOB_SUFFIX.sub('', obj['metadata']['name'])}"


def _by_key(objects: list[dict[str, Any]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {
        (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o for o in objects
    }


# --- the namespace move, against kustomize --------------------------------------------------


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed (the kustomize oracle)")
@pytest.mark.parametrize(
    "name",
    [
        "ingress-nginx-baremetal-controller-v1.12.1.yaml",
        "ingress-nginx-baremetal-controller-v1.15.1.yaml",
        "ingress-nginx-cloud-controller-v1.15.1.yaml",
        "kube-flannel-v0.28.9.yml",
        "gateway/nginx-gateway-fabric-v2.6.7-default.yaml",
    ],
)
def test_namespace_move_matches_kubectl_kustomize(upstream: Path, tmp_path: Path, name: str):
    # kustomize moves what kgit renders without a namespace (nulls dropped, Jobs named
    # after their spec: kgit's own rules, tested below); kgit's move must agree with it.
    base = load_objects(upstream / name)
    unmoved = _cluster({"name": "x", "source": "vendor/x.yaml"})
    as_is = render_third_party(unmoved, unmoved.addons[0], base)
    moved = _cluster({"name": "x", "source": "vendor/x.yaml", "namespace": "edge"})
    ours = render_third_party(moved, moved.addons[0], base)

    (tmp_path / "m.yaml").write_text(yaml.safe_dump_all(as_is))
    (tmp_path / "kustomization.yaml").write_text("namespace: edge\nresources: [m.yaml]\n")
    run = subprocess.run(
        [KUBECTL, "kustomize", str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    theirs = [d for d in yaml.safe_load_all(run.stdout) if d]
    for obj in theirs:
        # The one documented difference: kustomize does not know that GatewayClass (whose
        # CRD is not in the file) is cluster-scoped, and gives it a namespace.
        if obj["kind"] == "GatewayClass":
            del obj["metadata"]["namespace"]
    assert _by_key(ours) == _by_key(theirs)
    assert {o["metadata"].get("namespace") for o in ours} <= {"edge", None}


def test_without_namespace_only_nulls_and_jobs_change_and_the_base_is_kept(upstream: Path):
    base = load_objects(upstream / INGRESS)
    before = yaml.safe_dump_all(base)
    cluster = _cluster({"name": "x", "source": "vendor/x.yaml"})
    rendered = render_third_party(cluster, cluster.addons[0], base)
    assert manifest_diff(base, rendered, pair=_pair) == {
        "ConfigMap/ingress-nginx-controller": {"data"},  # upstream's `data:` (null)
        "Job/ingress-nginx-admission-create": {
            "metadata.name",
            "metadata.annotations",
            "spec.ttlSecondsAfterFinished",
        },
        "Job/ingress-nginx-admission-patch": {
            "metadata.name",
            "metadata.annotations",
            "spec.ttlSecondsAfterFinished",
        },
    }
    moved = _cluster({"name": "x", "source": "vendor/x.yaml", "namespace": "edge"})
    render_third_party(moved, moved.addons[0], base)
    assert yaml.safe_dump_all(base) == before


def test_a_manifest_with_two_namespaces_cannot_be_moved(upstream: Path):
    # Two real manifests in one file: flannel's namespace and ingress-nginx's.
    base = load_objects(upstream / "kube-flannel-v0.28.9.yml") + load_objects(upstream / INGRESS)
    cluster = _cluster({"name": "x", "source": "vendor/x.yaml", "namespace": "edge"})
    with pytest.raises(KgitError) as caught:
        render_third_party(cluster, cluster.addons[0], base)
    assert str(caught.value) == (
        "spec.addons[0].namespace: vendor/x.yaml creates 2 namespaces (ingress-nginx, "
        "kube-flannel); kgit can move an add-on into one namespace only (hint: leave "
        "namespace out, or change the namespaces with an overlay)"
    )


# --- compile: files, sources, overlays, pins ------------------------------------------------


def test_compile_writes_the_addon_under_its_name_with_overlays(upstream: Path, tmp_path: Path):
    _vendor(tmp_path, upstream, {"vendor/ingress-nginx.yaml": INGRESS})
    (tmp_path / "overlays").mkdir()
    (tmp_path / "overlays" / "edge.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ingress-nginx-controller\n"
        "data:\n  use-forwarded-headers: 'true'\n"
    )
    (tmp_path / "cluster.yaml").write_text(
        SPEC + "  addons:\n    - name: edge\n      source: vendor/ingress-nginx.yaml\n"
        "      namespace: edge\n      overlays: [overlays/edge.yaml]\n"
    )
    assert main(["compile", "-f", str(tmp_path / "cluster.yaml")]) == 0
    folder = tmp_path / "out" / "manifests" / "addons" / "edge"
    files = sorted(p.name for p in folder.iterdir())
    assert len(files) == 19  # every object of upstream's file
    assert "validatingwebhookconfiguration-ingress-nginx-admission.yaml" in files
    config = yaml.safe_load((folder / "configmap-ingress-nginx-controller.yaml").read_text())
    assert config["metadata"]["namespace"] == "edge"
    assert config["metadata"]["annotations"]["kgit.dev/source"] == "cluster.yaml#addons/edge"
    assert config["data"] == {"use-forwarded-headers": "true"}


def test_an_unpinned_source_is_a_validation_error(upstream: Path, tmp_path: Path, capsys):
    _vendor(tmp_path, upstream, {"vendor/ingress-nginx.yaml": INGRESS}, pin=False)
    (tmp_path / "cluster.yaml").write_text(
        SPEC + "  addons:\n    - name: edge\n      source: vendor/ingress-nginx.yaml\n"
    )
    assert main(["validate", "-f", str(tmp_path / "cluster.yaml")]) == 1
    err = capsys.readouterr().err.replace(str(tmp_path) + "/", "")
    assert err.splitlines()[0] == (
        "error: cluster.yaml:14:15: spec.addons[0].source: 'vendor/ingress-nginx.yaml' is not "
        "pinned in kgit.lock; an add-on's manifest must be vendored with "
        "`kgit vendor url URL --sha256 HEX`, which pins it"
    )


def test_a_changed_source_is_refused_with_the_command_that_pins_it_again(
    upstream: Path, tmp_path: Path, capsys
):
    _vendor(tmp_path, upstream, {"vendor/ingress-nginx.yaml": INGRESS})
    (tmp_path / "cluster.yaml").write_text(
        SPEC + "  addons:\n    - name: edge\n      source: vendor/ingress-nginx.yaml\n"
    )
    with (tmp_path / "vendor" / "ingress-nginx.yaml").open("a") as handle:
        handle.write("# edited by hand\n")
    assert main(["compile", "-f", str(tmp_path / "cluster.yaml")]) == 1
    err = capsys.readouterr().err
    assert "vendor/ingress-nginx.yaml does not match kgit.lock" in err
    assert "`kgit vendor url https://upstream.example/" in err
    assert not (tmp_path / "out").exists()


def test_duplicate_addon_names_are_reported_at_the_second(upstream: Path, tmp_path, capsys):
    _vendor(tmp_path, upstream, {"vendor/ingress-nginx.yaml": INGRESS})
    entry = "    - name: edge\n      source: vendor/ingress-nginx.yaml\n"
    (tmp_path / "cluster.yaml").write_text(SPEC + "  addons:\n" + entry + entry)
    assert main(["validate", "-f", str(tmp_path / "cluster.yaml")]) == 1
    err = capsys.readouterr().err.replace(str(tmp_path) + "/", "")
    assert err.splitlines()[0] == (
        "error: cluster.yaml:15:13: spec.addons[1].name: duplicate add-on 'edge' (also addons[0])"
    )


# --- staging against the test API server ----------------------------------------------------


def test_addons_are_staged_crds_then_custom_resources_webhooks_after_their_backend(
    upstream: Path, tmp_path: Path, apiserver, capsys
):
    # NGF's control plane as a third-party add-on (its GatewayClass, NginxGateway and
    # NginxProxy need the CRDs of two other add-ons), and ingress-nginx (its webhook needs
    # its controller, which takes a while to be ready).
    _vendor(
        tmp_path,
        upstream,
        {
            "vendor/gateway-api.yaml": "gateway/gateway-api-v1.5.1-standard-install.yaml",
            "vendor/ngf-crds.yaml": "gateway/nginx-gateway-fabric-v2.6.7-crds.yaml",
            "vendor/ngf.yaml": "gateway/nginx-gateway-fabric-v2.6.7-default.yaml",
            "vendor/ingress-nginx.yaml": INGRESS,
        },
    )
    (tmp_path / "cluster.yaml").write_text(
        SPEC
        + "  addons:\n"
        + "".join(
            f"    - name: {name}\n      source: vendor/{name}.yaml\n"
            for name in ("ngf", "gateway-api", "ngf-crds", "ingress-nginx")
        )
    )
    apiserver.controllers.set("Deployment", "ready", delay=0.3)
    spec = str(tmp_path / "cluster.yaml")
    assert main(["compile", "-f", spec]) == 0
    kubeconfig = str(apiserver.kubeconfig)
    assert main(["apply", "--yes", "-f", spec, "--kubeconfig", kubeconfig]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[-1].startswith("Apply complete: ") and " 0 deleted, 0 skipped." in lines[-1]

    def at(text: str, where: list[str] = lines) -> int:
        return next(i for i, line in enumerate(where) if line.startswith(text))

    # Custom resources after every CRD (their CRDs are in other add-ons).
    last_crd = max(i for i, line in enumerate(lines) if "CustomResourceDefinition" in line)
    assert last_crd < at("NginxProxy.gateway.nginx.org/nginx-gateway/")
    assert last_crd < at("GatewayClass.gateway.networking.k8s.io/nginx created")
    # The webhook only once the controller behind its Service is ready: apply waited for
    # it (progress goes to stderr), and registered the webhook after that wait.
    progress = captured.err.splitlines()
    assert at("Waiting for the workloads that serve admission webhooks", progress) < at(
        "Deployment.apps/ingress-nginx/ingress-nginx-controller ready", progress
    )
    requests = list(apiserver.requests)
    webhook_write = next(
        i
        for i, r in enumerate(requests)
        if r.resource == "validatingwebhookconfigurations"
        and r.method == "PATCH"
        and "dryRun" not in r.query
    )
    controller_reads = [
        i
        for i, r in enumerate(requests)
        if r.resource == "deployments"
        and r.name == "ingress-nginx-controller"
        and r.method == "GET"
    ]
    assert controller_reads and controller_reads[0] < webhook_write
    code = main(["plan", "--detailed-exitcode", "-f", spec, "--kubeconfig", kubeconfig])
    assert code == 0, capsys.readouterr()


def test_removing_an_addon_prunes_it_but_keeps_its_crds_until_prune_protected(
    upstream: Path, tmp_path: Path, apiserver, capsys
):
    _vendor(
        tmp_path,
        upstream,
        {
            "vendor/gateway-api.yaml": "gateway/gateway-api-v1.5.1-standard-install.yaml",
            "vendor/ingress-nginx.yaml": INGRESS,
        },
    )
    entries = {
        name: f"    - name: {name}\n      source: vendor/{name}.yaml\n"
        for name in ("ingress-nginx", "gateway-api")  # the one that stays keeps its index
    }
    spec = tmp_path / "cluster.yaml"
    spec.write_text(SPEC + "  addons:\n" + "".join(entries.values()))
    common = ["-f", str(spec), "--kubeconfig", str(apiserver.kubeconfig)]
    assert main(["compile", "-f", str(spec)]) == 0
    assert main(["apply", "--yes", *common]) == 0
    crd = ("apiextensions.k8s.io/v1", "CustomResourceDefinition")
    assert apiserver.get(*crd, "httproutes.gateway.networking.k8s.io") is not None
    capsys.readouterr()

    spec.write_text(SPEC + "  addons:\n" + entries["ingress-nginx"])
    assert main(["compile", "-f", str(spec)]) == 0
    assert main(["apply", "--yes", *common]) == 0
    out = capsys.readouterr().out.splitlines()
    # The policy and its binding go; the 8 CRDs (and every HTTPRoute of the cluster) stay.
    assert out[-1] == "Apply complete: 0 created, 0 configured, 0 replaced, 2 deleted, 8 skipped."
    assert (
        "CustomResourceDefinition.apiextensions.k8s.io/httproutes.gateway.networking.k8s.io "
        "skipped (protected kind: use --prune-protected)"
    ) in out
    assert apiserver.get(*crd, "httproutes.gateway.networking.k8s.io") is not None

    assert main(["apply", "--yes", "--prune-protected", *common]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "Apply complete: 0 created, 0 configured, 0 replaced, 8 deleted, 0 skipped."
    assert apiserver.get(*crd, "httproutes.gateway.networking.k8s.io") is None
