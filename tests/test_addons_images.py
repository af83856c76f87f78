"""Image references through a registry mirror (compiler/compile/render/images.py)."""

from __future__ import annotations

import doctest

import pytest

from compiler.compile.render import images
from compiler.compile.render.images import mirror_image, split_registry

DIGEST = "@sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("image", "registry", "expected"),
    [
        pytest.param(
            "ghcr.io/flannel-io/flannel:v0.28.9",
            None,
            "ghcr.io/flannel-io/flannel:v0.28.9",
            id="no-mirror",
        ),
        pytest.param(
            "ghcr.io/flannel-io/flannel:v0.28.9",
            "m.lab",
            "m.lab/flannel-io/flannel:v0.28.9",
            id="host-replaced",
        ),
        pytest.param(
            "registry.k8s.io/ingress-nginx/controller:v1.15.1" + DIGEST,
            "m.lab:5000/k8s",
            "m.lab:5000/k8s/ingress-nginx/controller:v1.15.1" + DIGEST,
            id="digest-kept",
        ),
        pytest.param(
            "flannel/flannel:v0.22.3",
            "m.lab",
            "m.lab/flannel/flannel:v0.22.3",
            id="implicit-docker-hub",
        ),
        pytest.param(
            "localhost:5000/pause:3.10", "m.lab", "m.lab/pause:3.10", id="localhost-registry"
        ),
        pytest.param(
            "m.lab/k8s/pause:3.10", "m.lab/k8s", "m.lab/k8s/pause:3.10", id="already-mirrored"
        ),
        pytest.param("ghcr.io/a/b:1", "m.lab/", "m.lab/a/b:1", id="trailing-slash"),
    ],
)
def test_mirror_image_replaces_the_registry_host_and_keeps_the_rest(image, registry, expected):
    assert mirror_image(image, registry) == expected


def test_mirroring_is_idempotent():
    once = mirror_image("ghcr.io/flannel-io/flannel:v0.28.9", "m.lab/ghcr")
    assert mirror_image(once, "m.lab/ghcr") == once


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        pytest.param("nginx:1.14.2", ("docker.io", "nginx:1.14.2"), id="bare-name"),
        pytest.param("library/nginx", ("docker.io", "library/nginx"), id="hub-namespace"),
        pytest.param("quay.io/x/y", ("quay.io", "x/y"), id="dotted-host"),
    ],
)
def test_split_registry_follows_dockers_rule(image, expected):
    assert split_registry(image) == expected


def test_the_module_examples_hold():
    result = doctest.testmod(images)
    assert result.attempted > 0 and result.failed == 0
