"""flannel: the patches, on kgit's baseline and on every upstream kube-flannel.yml we have."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from compiler.compile.addons import baseline_text, parse_manifest
from compiler.compile.render.flannel import (
    flannel_version,
    flannel_warnings,
    patch_net_conf,
    render_flannel,
    with_iface,
)
from compiler.core.errors import KgitError
from tests.test_addons_support import load_objects, make_cluster, manifest_diff, upstream_files

FLANNEL_FILES = ["kube-flannel-v0.22.3.yml", "kube-flannel-v0.26.7.yml", "kube-flannel-v0.28.9.yml"]
PSP_FILE = "kube-flannel-psp-v0.28.1.yml"

CUSTOM = {"podSubnet": "10.32.0.0/12", "flannel": {"backend": "host-gw", "iface": "ens3"}}


def _net_conf(objects):
    cm = next(o for o in objects if o["kind"] == "ConfigMap")
    return json.loads(cm["data"]["net-conf.json"])


def _flanneld(objects):
    ds = next(o for o in objects if o["kind"] == "DaemonSet")
    return next(c for c in ds["spec"]["template"]["spec"]["containers"])


def _baseline():
    return parse_manifest(baseline_text("flannel"))


@pytest.fixture(params=[*FLANNEL_FILES, PSP_FILE])
def upstream_flannel(request, upstream: Path) -> tuple[str, list[dict]]:
    return request.param, load_objects(upstream / request.param)


def test_the_fixture_list_covers_every_upstream_flannel_file(upstream):
    found = {p.name for p in upstream_files(upstream, "kube-flannel*.yml")}
    assert found == {*FLANNEL_FILES, PSP_FILE}


# --- exactly the intended changes -----------------------------------------------------------


def test_patching_upstream_changes_only_net_conf_and_flanneld_args(upstream_flannel):
    name, base = upstream_flannel
    result = render_flannel(make_cluster(network=CUSTOM), base)

    expected = {
        "ConfigMap/kube-flannel-cfg": {"data.net-conf.json"},
        "DaemonSet/kube-flannel-ds": {"spec.template.spec.containers[0].args"},
    }
    if name == PSP_FILE:  # Kubernetes 1.31 no longer serves policy/v1beta1
        expected["PodSecurityPolicy/psp.flannel.unprivileged"] = {"-"}
    assert manifest_diff(base, result) == expected

    before, after = _net_conf(base), _net_conf(result)
    assert after == {**before, "Network": "10.32.0.0/12", "Backend": {"Type": "host-gw"}}
    assert list(after) == list(before)  # the other keys keep their order
    assert _flanneld(result)["args"] == [*_flanneld(base)["args"], "--iface=ens3"]


def test_patching_keeps_podsecuritypolicy_where_the_api_still_exists(upstream):
    base = load_objects(upstream / PSP_FILE)
    result = render_flannel(make_cluster(network=CUSTOM, version="1.24.17"), base)
    assert [o["kind"] for o in result] == [o["kind"] for o in base]


def test_the_default_spec_leaves_the_baseline_as_it_is():
    base = _baseline()
    assert render_flannel(make_cluster(), base) == base


@pytest.mark.parametrize(
    "network",
    [
        pytest.param(CUSTOM, id="custom"),
        pytest.param({"kubeProxyMode": "nftables"}, id="nftables"),
        pytest.param(
            {"flannel": {"backendOptions": {"VNI": 4096}, "imageRegistry": "mirror.lab/ghcr"}},
            id="options-and-mirror",
        ),
    ],
)
def test_patching_twice_equals_patching_once(upstream_flannel, network):
    _name, base = upstream_flannel
    cluster = make_cluster(network=network)
    once = render_flannel(cluster, base)
    assert render_flannel(cluster, once) == once


def test_rendering_does_not_change_the_base():
    base = _baseline()
    kept = copy.deepcopy(base)
    render_flannel(make_cluster(network={**CUSTOM, "kubeProxyMode": "nftables"}), base)
    assert base == kept


# --- net-conf.json --------------------------------------------------------------------------


def test_backend_options_are_merged_into_backend():
    network = {"flannel": {"backend": "vxlan", "backendOptions": {"VNI": 4096, "Port": 4789}}}
    result = render_flannel(make_cluster(network=network), _baseline())
    assert _net_conf(result)["Backend"] == {"Type": "vxlan", "Port": 4789, "VNI": 4096}


@pytest.mark.parametrize(
    ("text", "backend", "expected_backend"),
    [
        pytest.param(
            '{"Backend": {"Type": "vxlan", "VNI": 7}}',
            "vxlan",
            {"Type": "vxlan", "VNI": 7},
            id="same-type-keeps-its-options",
        ),
        pytest.param(
            '{"Backend": {"Type": "vxlan", "VNI": 7}}',
            "host-gw",
            {"Type": "host-gw"},
            id="other-type-drops-vxlan-options",
        ),
    ],
)
def test_backend_type_change_drops_options_of_the_old_type(text, backend, expected_backend):
    patched = patch_net_conf(
        text, network="10.1.0.0/16", backend=backend, backend_options={}, nftables=None
    )
    assert json.loads(patched) == {"Backend": expected_backend, "Network": "10.1.0.0/16"}


def test_net_conf_is_rewritten_in_upstreams_layout():
    text = '{\n  "Network": "10.244.0.0/16",\n  "Backend": {\n    "Type": "vxlan"\n  }\n}\n'
    patched = patch_net_conf(
        text, network="10.32.0.0/12", backend="vxlan", backend_options={}, nftables=True
    )
    assert patched == (
        "{\n"
        '  "Network": "10.32.0.0/12",\n'
        '  "EnableNFTables": true,\n'
        '  "Backend": {\n'
        '    "Type": "vxlan"\n'
        "  }\n"
        "}\n"
    )


@pytest.mark.parametrize(
    ("file", "mode", "expected"),
    [
        pytest.param("kube-flannel-v0.28.9.yml", "nftables", True, id="v0.28-nftables"),
        pytest.param("kube-flannel-v0.26.7.yml", "nftables", True, id="v0.26-nftables"),
        pytest.param("kube-flannel-v0.28.9.yml", "ipvs", False, id="v0.28-ipvs"),
        pytest.param("kube-flannel-v0.22.3.yml", "nftables", None, id="v0.22-predates-the-key"),
        pytest.param("kube-flannel-v0.22.3.yml", "iptables", None, id="v0.22-iptables"),
    ],
)
def test_enable_nftables_follows_kube_proxy_mode_where_flannel_knows_it(
    upstream, file, mode, expected
):
    result = render_flannel(
        make_cluster(network={"kubeProxyMode": mode}), load_objects(upstream / file)
    )
    assert _net_conf(result).get("EnableNFTables") == expected


def test_enable_nftables_is_added_when_the_image_is_new_enough_but_the_key_is_absent():
    base = _baseline()
    cm = next(o for o in base if o["kind"] == "ConfigMap")
    cm["data"]["net-conf.json"] = '{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}'
    result = render_flannel(make_cluster(network={"kubeProxyMode": "nftables"}), base)
    assert list(_net_conf(result).items())[:2] == [
        ("Network", "10.244.0.0/16"),
        ("EnableNFTables", True),
    ]


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        pytest.param("ghcr.io/flannel-io/flannel:v0.28.9", (0, 28, 9), id="tag"),
        pytest.param("docker.io/flannel/flannel:v0.22.3", (0, 22, 3), id="docker-hub"),
        pytest.param("mirror.lab:5000/flannel:v0.25.5@sha256:" + "a" * 64, (0, 25, 5), id="digest"),
        pytest.param("ghcr.io/flannel-io/flannel:latest", None, id="not-a-version"),
    ],
)
def test_flannel_version_comes_from_the_flanneld_image_tag(image, expected):
    base = _baseline()
    _flanneld(base)["image"] = image
    assert flannel_version(base) == expected


# --- --iface --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(["--ip-masq"], ["--ip-masq", "--iface=ens3"], id="appended"),
        pytest.param(
            ["--iface=eth0", "--ip-masq"], ["--iface=ens3", "--ip-masq"], id="replaced-in-place"
        ),
        pytest.param(
            ["--ip-masq", "--iface", "eth0", "--kube-subnet-mgr"],
            ["--ip-masq", "--iface=ens3", "--kube-subnet-mgr"],
            id="separate-value-replaced",
        ),
        pytest.param(
            ["--iface=eth0", "--ip-masq", "--iface=eth1"],
            ["--iface=ens3", "--ip-masq"],
            id="duplicates-collapsed",
        ),
        pytest.param(
            ["--iface-regex=^eth", "--ip-masq"],
            ["--iface-regex=^eth", "--ip-masq", "--iface=ens3"],
            id="iface-regex-is-another-flag",
        ),
    ],
)
def test_with_iface_leaves_exactly_one_iface_flag(args, expected):
    assert with_iface(args, "ens3") == expected


def test_without_iface_the_flanneld_args_are_not_touched():
    base = _baseline()
    _flanneld(base)["args"].append("--iface=eth9")
    result = render_flannel(make_cluster(), base)
    assert _flanneld(result)["args"] == _flanneld(base)["args"]


# --- images ---------------------------------------------------------------------------------


def test_images_are_pulled_through_the_configured_mirror(upstream):
    base = load_objects(upstream / "kube-flannel-v0.22.3.yml")
    result = render_flannel(
        make_cluster(network={"flannel": {"imageRegistry": "mirror.lab:5000/hub"}}), base
    )
    pod = next(o for o in result if o["kind"] == "DaemonSet")["spec"]["template"]["spec"]
    assert [c["image"] for c in pod["initContainers"] + pod["containers"]] == [
        "mirror.lab:5000/hub/flannel/flannel-cni-plugin:v1.2.0",
        "mirror.lab:5000/hub/flannel/flannel:v0.22.3",
        "mirror.lab:5000/hub/flannel/flannel:v0.22.3",
    ]


# --- warnings and errors --------------------------------------------------------------------


def test_psp_objects_left_out_are_named_in_a_warning(upstream):
    base = load_objects(upstream / PSP_FILE)
    warnings = flannel_warnings(make_cluster(), base, "vendor/kube-flannel-psp.yml")
    assert warnings == [
        "flannel: vendor/kube-flannel-psp.yml: left out PodSecurityPolicy "
        "psp.flannel.unprivileged (policy/v1beta1): Kubernetes 1.31 no longer serves this API "
        "(removed in 1.25)"
    ]


def test_nftables_mode_with_a_flannel_that_predates_it_warns(upstream):
    base = load_objects(upstream / "kube-flannel-v0.22.3.yml")
    cluster = make_cluster(network={"kubeProxyMode": "nftables"})
    assert flannel_warnings(cluster, base, "vendor/kube-flannel-v0.22.3.yml") == [
        "flannel: vendor/kube-flannel-v0.22.3.yml: kube-proxy runs in nftables mode but this "
        "flannel version predates EnableNFTables (added in v0.25.0), so flannel keeps "
        "masquerading with iptables; vendor flannel v0.25.5 or newer, or use kgit's baseline"
    ]


def test_the_baseline_gives_no_warnings():
    cluster = make_cluster(network={"kubeProxyMode": "nftables"})
    assert flannel_warnings(cluster, _baseline(), "kgit:baseline/flannel.yaml") == []


@pytest.mark.parametrize(
    ("drop_kind", "message"),
    [
        pytest.param(
            "ConfigMap",
            "the flannel manifest has no ConfigMap with net-conf.json "
            "(hint: is the file an upstream kube-flannel.yml?)",
            id="no-configmap",
        ),
        pytest.param(
            "DaemonSet",
            "the flannel manifest has no DaemonSet container that runs flanneld "
            "(hint: is the file an upstream kube-flannel.yml?)",
            id="no-daemonset",
        ),
    ],
)
def test_a_base_that_is_not_flannel_is_one_clear_error(drop_kind, message):
    base = [o for o in _baseline() if o["kind"] != drop_kind]
    with pytest.raises(KgitError) as caught:
        render_flannel(make_cluster(network=CUSTOM), base)
    assert str(caught.value) == message


def test_net_conf_that_is_not_json_is_one_clear_error():
    base = _baseline()
    next(o for o in base if o["kind"] == "ConfigMap")["data"]["net-conf.json"] = "{oops"
    with pytest.raises(KgitError) as caught:
        render_flannel(make_cluster(), base)
    assert str(caught.value) == (
        "flannel net-conf.json is not valid JSON: "
        "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
    )
