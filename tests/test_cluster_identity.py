"""A repository's spec is tied to its cluster: kgit refuses another spec's cluster.

Issue 18, symptom 4: applying another cluster's spec to the same API server warned
`... exists without kgit's ApplySet label; kgit will adopt it` 25 times and went ahead;
one wrong KUBECONFIG and a pipeline took over (and could prune) another cluster.
"""

from __future__ import annotations

from compiler.cli.app import main
from tests.reconcile_apply_helpers import configmap, namespace, write_out


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_another_specs_cluster_is_refused_naming_both_even_with_adopt(apiserver, tmp_path, capsys):
    objects = [namespace("web"), configmap("settings")]
    lab, other = tmp_path / "lab", tmp_path / "other"
    write_out(lab, objects, cluster="lab")
    write_out(other, objects, cluster="shop")
    kube = ["--kubeconfig", str(apiserver.kubeconfig)]
    assert _run(capsys, "apply", "--yes", "-O", str(lab), *kube)[0] == 0

    for extra in ([], ["--adopt"]):
        code, out, err = _run(capsys, "apply", "--yes", "-O", str(other), *kube, *extra)

        assert code == 1, out
        assert err.splitlines()[-1] == (
            f"error: this API server ({apiserver.url}) belongs to kgit cluster 'lab', not "
            "'shop' as out/ says: Namespace/web is a member of 'lab''s ApplySet; refusing "
            "to take it over (hint: check KUBECONFIG/--context; two specs cannot manage one "
            "cluster)"
        )
    live = apiserver.get("v1", "ConfigMap", "settings", "web")
    assert live["metadata"]["labels"]["applyset.kubernetes.io/part-of"].startswith("applyset-")
    assert apiserver.get("v1", "ConfigMap", "kgit-shop", "kube-system") is None


def test_unlabelled_objects_are_adopted_only_with_adopt(apiserver, tmp_path, capsys):
    apiserver.create(namespace("web"), manager="kubectl-create")
    apiserver.create(configmap("settings"), manager="kubectl-create")
    out_dir = tmp_path / "out"
    write_out(out_dir, [namespace("web"), configmap("settings")])
    cli = ["-O", str(out_dir), "--kubeconfig", str(apiserver.kubeconfig)]

    code, _, err = _run(capsys, "apply", "--yes", *cli)
    assert code == 1
    assert err.splitlines()[-1].startswith(
        "error: 2 objects exist on the cluster without kgit's ApplySet label: Namespace/web, "
        "ConfigMap/web/settings; kgit adopts objects only when told to"
    )
    code, out, _ = _run(capsys, "plan", "-o", "json", "--adopt", *cli)
    assert code == 0
    assert '"adopted": [\n    "ConfigMap/web/settings",\n    "Namespace/web"\n  ]' in out
    code, out, _ = _run(capsys, "apply", "--yes", "--adopt", *cli)
    assert code == 0
    warnings = [line for line in out.splitlines() if line.startswith("Warning:")]
    assert warnings == [
        "Warning: kgit will adopt 2 objects that exist without its ApplySet label: "
        "Namespace/web, ConfigMap/web/settings"
    ]


def test_a_server_that_matches_no_control_plane_address_of_the_spec_is_warned_about(repo_root):
    from compiler.compile import emit
    from compiler.reconcile.endpoints import server_mismatch

    files = emit.read_out(repo_root / "out")  # the bundled cluster: 192.168.10.10:6443
    # Pure comparisons of addresses: nothing connects to them.
    assert server_mismatch("https://192.168.10.10:6443", files) is None
    assert server_mismatch("https://127.0.0.1:6443", files) == (
        "the API server https://127.0.0.1:6443 matches no control-plane address in the spec "
        "(192.168.10.10:6443); check that KUBECONFIG/--context point at this cluster (a load "
        "balancer or tunnel in between is fine)"
    )
    assert server_mismatch("https://127.0.0.1:6443", {"index.json": b"{}"}) is None


def test_plan_warns_when_the_server_is_not_the_specs_control_plane(
    apiserver, repo_root, tmp_path, capsys
):
    out_dir = tmp_path / "out"
    spec = ["-f", str(repo_root / "cluster.yaml"), "-O", str(out_dir)]
    assert main(["compile", *spec]) == 0
    capsys.readouterr()
    main(["plan", *spec, "--kubeconfig", str(apiserver.kubeconfig)])
    err = capsys.readouterr().err
    assert f"warning: the API server {apiserver.url} matches no control-plane address" in err


def test_the_applyset_records_its_spec_and_refuses_another_repositorys_spec(
    apiserver, tmp_path, capsys
):
    import git

    objects = [namespace("web"), configmap("settings")]
    roots = {}
    for name, url in (("a", "git@github.com:acme/clusters.git"), ("b", "https://x/fork.git")):
        root = tmp_path / name
        write_out(root / "out", objects, cluster="lab")  # the same cluster name in both
        git.Repo.init(root).create_remote("origin", url)
        roots[name] = root
    kube = ["--kubeconfig", str(apiserver.kubeconfig)]

    def cli(name: str) -> list[str]:
        return ["-f", str(roots[name] / "cluster.yaml"), "-O", str(roots[name] / "out"), *kube]

    assert _run(capsys, "apply", "--yes", *cli("a"))[0] == 0
    parent = apiserver.get("v1", "ConfigMap", "kgit-lab", "kube-system")
    annotations = parent["metadata"]["annotations"]
    assert annotations["kgit.dev/cluster"] == "lab"
    assert annotations["kgit.dev/repository"] == "github.com/acme/clusters#cluster.yaml"

    for command in (["plan"], ["apply", "--yes", "--adopt"]):
        code, _, err = _run(capsys, *command, *cli("b"))
        assert code == 1
        assert err.splitlines()[-1].startswith(
            "error: cluster 'lab' on this API server is managed from "
            "github.com/acme/clusters#cluster.yaml, not from x/fork#cluster.yaml; refusing "
            "to plan or apply another spec's cluster"
        )
    assert _run(capsys, "plan", "--detailed-exitcode", *cli("a"))[0] == 0  # its own: fine
