"""Loading add-on bases (baseline or vendored, checked against kgit.lock) and the pipeline."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

from compiler.compile.addons import baseline_text, load_base, parse_manifest
from compiler.compile.lockfile import LockEntry, dump_lock
from compiler.compile.pipeline import (
    CompileOptions,
    compile_tree,
    load_and_validate,
    render_resources,
)
from compiler.compile.warnings import INGRESS_NGINX_RETIRED, spec_warnings
from compiler.core.errors import KgitError, SpecError, StageError
from compiler.core.sources import DirectoryTree, MemoryTree
from tests.test_addons_support import MINIMAL_SPEC, make_cluster

FLANNEL_PATH = "vendor/kube-flannel-v0.28.9.yml"
FLANNEL_URL = "https://github.com/flannel-io/flannel/releases/download/v0.28.9/kube-flannel.yml"


def _locked_tree(content: bytes, locked: bytes, extra: dict[str, bytes] | None = None):
    entry = LockEntry("flannel", "0.28.9", FLANNEL_URL, hashlib.sha256(locked).hexdigest())
    files = {FLANNEL_PATH: content, "kgit.lock": dump_lock({FLANNEL_PATH: entry}).encode()}
    return MemoryTree({**files, **(extra or {})})


# --- load_base ------------------------------------------------------------------------------


def test_without_source_the_baseline_is_the_base():
    objects, origin = load_base("flannel", MemoryTree({}), None)
    assert origin == "kgit:baseline/flannel.yaml"
    assert [o["kind"] for o in objects] == [
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "ConfigMap",
        "DaemonSet",
    ]


def test_a_vendored_source_is_read_through_the_source_tree():
    text = baseline_text("flannel").encode()
    objects, origin = load_base("flannel", MemoryTree({"vendor/f.yml": text}), "vendor/f.yml")
    assert origin == "vendor/f.yml"
    assert objects == parse_manifest(baseline_text("flannel"))


def test_a_vendored_file_matching_the_lock_is_accepted():
    text = baseline_text("flannel").encode()
    objects, _origin = load_base("flannel", _locked_tree(text, text), FLANNEL_PATH)
    assert len(objects) == 6


def test_a_vendored_file_that_no_longer_matches_the_lock_is_refused():
    locked = baseline_text("flannel").encode()
    edited = locked.replace(b"10.244.0.0/16", b"10.99.0.0/16")
    with pytest.raises(KgitError) as caught:
        load_base("flannel", _locked_tree(edited, locked), FLANNEL_PATH)
    assert str(caught.value) == (
        f"{FLANNEL_PATH} does not match kgit.lock: expected sha256 "
        f"{hashlib.sha256(locked).hexdigest()}, found {hashlib.sha256(edited).hexdigest()} "
        f"(hint: restore the file as vendored (git checkout -- {FLANNEL_PATH}) or vendor it "
        "again with `kgit vendor flannel 0.28.9`, which updates kgit.lock)"
    )


def test_a_file_the_lock_does_not_list_is_not_checked():
    text = baseline_text("flannel").encode()
    tree = _locked_tree(b"unused", b"unused", {"vendor/mine.yml": text})
    objects, _origin = load_base("flannel", tree, "vendor/mine.yml")
    assert len(objects) == 6


def test_a_malformed_lock_is_one_clear_error():
    text = baseline_text("flannel").encode()
    tree = MemoryTree({FLANNEL_PATH: text, "kgit.lock": b"vendor: [1, 2]\n"})
    with pytest.raises(KgitError) as caught:
        load_base("flannel", tree, FLANNEL_PATH)
    assert str(caught.value) == "kgit.lock must be a mapping with a 'vendor' mapping"


def test_a_missing_source_is_a_spec_error_naming_the_file():
    with pytest.raises(SpecError) as caught:
        load_base("flannel", MemoryTree({}), "vendor/gone.yml")
    assert str(caught.value) == "vendor/gone.yml:1:1: file not found"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "kind: X\na: [",
            "vendor/x.yml:2:5: YAML syntax error: while parsing a flow node "
            "expected the node content, but found '<stream end>'",
            id="yaml-syntax",
        ),
        pytest.param(
            "---\n- 1\n", "vendor/x.yml: document 1 is not a Kubernetes object", id="list"
        ),
        pytest.param("---\n# nothing\n", "vendor/x.yml holds no Kubernetes objects", id="empty"),
    ],
)
def test_a_source_that_is_not_a_manifest_is_one_clear_error(text, message):
    with pytest.raises(KgitError) as caught:
        load_base("flannel", MemoryTree({"vendor/x.yml": text.encode()}), "vendor/x.yml")
    assert str(caught.value) == message


def test_yaml_aliases_do_not_share_objects_between_places():
    text = "apiVersion: v1\nkind: X\nmetadata: {name: a}\nx: &l {k: v}\ny: *l\n"
    [obj] = parse_manifest(text)
    obj["x"]["k"] = "changed"
    assert obj["y"] == {"k": "v"}


# --- the pipeline ---------------------------------------------------------------------------


def _spec_tree(network: dict | None = None, nginx: dict | None = None, files=None) -> MemoryTree:
    spec = yaml.safe_load(yaml.safe_dump(MINIMAL_SPEC))
    if network:
        spec["spec"]["network"] = network
    if nginx is not None:
        spec["spec"]["ingress"] = {"nginx": nginx}
    return MemoryTree({"cluster.yaml": yaml.safe_dump(spec).encode(), **(files or {})})


def _render(tree: MemoryTree) -> tuple[dict[str, str], list[str]]:
    _doc, cluster = load_and_validate(tree, CompileOptions())
    warnings: list[str] = []
    resources = render_resources(cluster, tree, "cluster.yaml", warnings)
    return {r.file: r.body["kind"] for r in resources}, warnings


def test_the_pipeline_places_addon_objects_under_manifests():
    files, warnings = _render(_spec_tree(nginx={}))
    assert files["manifests/flannel/configmap-kube-flannel-cfg.yaml"] == "ConfigMap"
    assert files["manifests/ingress-nginx/daemonset-ingress-nginx-controller.yaml"] == "DaemonSet"
    assert files["manifests/ingress-nginx/ingressclass-nginx.yaml"] == "IngressClass"
    assert warnings == []  # the retirement warning is spec_warnings' job


def test_the_pipeline_passes_addon_warnings_on(upstream):
    psp = (upstream / "kube-flannel-psp-v0.28.1.yml").read_bytes()
    tree = _spec_tree(
        network={"flannel": {"source": "vendor/psp.yml"}}, files={"vendor/psp.yml": psp}
    )
    files, warnings = _render(tree)
    assert "manifests/flannel/podsecuritypolicy-psp.flannel.unprivileged.yaml" not in files
    assert warnings == [
        "flannel: vendor/psp.yml: left out PodSecurityPolicy psp.flannel.unprivileged "
        "(policy/v1beta1): Kubernetes 1.31 no longer serves this API (removed in 1.25)"
    ]


def test_the_pipeline_refuses_a_tampered_vendored_file_with_the_stage_named():
    locked = baseline_text("flannel").encode()
    tree = _locked_tree(locked + b"# edited\n", locked)
    tree = MemoryTree({**tree.files, **_spec_tree({"flannel": {"source": FLANNEL_PATH}}).files})
    with pytest.raises(StageError) as caught:
        compile_tree(tree)
    assert str(caught.value).startswith(f"render: {FLANNEL_PATH} does not match kgit.lock: ")


def test_compiling_the_bundled_cluster_emits_flannel_and_ingress_nginx(repo_root: Path):
    compiled = compile_tree(DirectoryTree(repo_root))
    flannel = {f for f in compiled.files if f.startswith("manifests/flannel/")}
    ingress = {f for f in compiled.files if f.startswith("manifests/ingress-nginx/")}
    assert "manifests/flannel/daemonset-kube-flannel-ds.yaml" in flannel
    assert len(flannel) == 6
    assert "manifests/ingress-nginx/daemonset-ingress-nginx-controller.yaml" in ingress
    assert len(ingress) == 19
    config = yaml.safe_load(compiled.files["manifests/flannel/configmap-kube-flannel-cfg.yaml"])
    assert '"Network": "10.244.0.0/16"' in config["data"]["net-conf.json"]
    assert INGRESS_NGINX_RETIRED in compiled.warnings


# --- the retirement warning -----------------------------------------------------------------


def test_ingress_nginx_retirement_is_a_warning_only_when_it_is_used():
    # (the minimal spec's nodes get Debian's containerd with config format 3: warned too)
    without = spec_warnings(make_cluster())
    assert not [w for w in without if "ingress-nginx" in w]
    assert [w for w in spec_warnings(make_cluster(nginx={})) if w not in without] == [
        "ingress-nginx is retired upstream: best-effort maintenance ended in March 2026 and "
        "controller v1.15.1 is its last release, so security fixes will not come; move to the "
        "Gateway API with spec.ingress.gateway (NGINX Gateway Fabric), step by step in "
        "docs/migrate-to-gateway.md, or set spec.ingress.nginx.acknowledgeRetirement: true "
        "to silence this warning"
    ]
    assert spec_warnings(make_cluster(nginx={"acknowledgeRetirement": True})) == without


def test_kgit_validate_prints_the_retirement_warning_and_succeeds(tmp_path: Path, capsys):
    from compiler.cli.app import main

    spec = yaml.safe_load(yaml.safe_dump(MINIMAL_SPEC))
    spec["spec"]["ingress"] = {"nginx": {}}
    (tmp_path / "cluster.yaml").write_text(yaml.safe_dump(spec))
    assert main(["validate", "-f", str(tmp_path / "cluster.yaml")]) == 0
    assert capsys.readouterr().err.startswith(f"warning: {INGRESS_NGINX_RETIRED}\n")


def test_kgit_compile_commit_prints_the_retirement_warning_once(tmp_path: Path, capsys):
    # --commit compiles twice (hand-edit check, then the commit); the warning comes once.
    from compiler.cli.app import main
    from tests.git_helpers import commit_all, init_repo

    spec = yaml.safe_load(yaml.safe_dump(MINIMAL_SPEC))
    spec["spec"]["ingress"] = {"nginx": {}}
    (tmp_path / "cluster.yaml").write_text(yaml.safe_dump(spec))
    commit_all(init_repo(tmp_path), "spec")
    assert main(["compile", "--commit", "-f", str(tmp_path / "cluster.yaml")]) == 0
    assert capsys.readouterr().err.count(INGRESS_NGINX_RETIRED) == 1
    assert main(["validate", "-f", str(tmp_path / "cluster.yaml")]) == 0  # a new command
    assert capsys.readouterr().err.count(INGRESS_NGINX_RETIRED) == 1


def test_acknowledged_retirement_keeps_validate_and_compile_quiet(tmp_path: Path, capsys):
    from compiler.cli.app import main

    spec = yaml.safe_load(yaml.safe_dump(MINIMAL_SPEC))
    spec["spec"]["ingress"] = {"nginx": {"acknowledgeRetirement": True}}
    (tmp_path / "cluster.yaml").write_text(yaml.safe_dump(spec))
    assert main(["validate", "-f", str(tmp_path / "cluster.yaml")]) == 0
    assert main(["compile", "-f", str(tmp_path / "cluster.yaml")]) == 0
    assert "ingress-nginx" not in capsys.readouterr().err
