"""kgit's baselines are the newest upstream releases "plus nothing".

A user who switches between the baseline and a vendored upstream file must see only the
differences they asked for, so the baseline has the same kinds, names, images, container
ports, args and volumes as the newest upstream file in ../shared/upstream/ (the oracle).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from compiler.compile.addons import baseline_text, parse_manifest
from tests.test_addons_support import (
    container_facts,
    kinds_and_names,
    load_objects,
    newest,
    pod_volumes,
    upstream_files,
)

ADDONS = [
    pytest.param(("flannel", "kube-flannel-v*.yml"), id="flannel"),
    pytest.param(
        ("ingress-nginx", "ingress-nginx-baremetal-controller-v*.yaml"), id="ingress-nginx"
    ),
]


@pytest.fixture(params=ADDONS)
def pair(request, upstream: Path) -> tuple[list[dict], list[dict]]:
    addon, pattern = request.param
    return parse_manifest(baseline_text(addon)), load_objects(
        newest(upstream_files(upstream, pattern))
    )


def test_baseline_has_the_same_kinds_and_names(pair):
    baseline, latest = pair
    assert kinds_and_names(baseline) == kinds_and_names(latest)


@pytest.mark.parametrize(
    "field", ["image", "command", "args", "ports", "volumeMounts", "env", "securityContext"]
)
def test_baseline_containers_match(pair, field):
    baseline, latest = pair
    assert container_facts(baseline, field) == container_facts(latest, field)


def test_baseline_has_the_same_volumes(pair):
    baseline, latest = pair
    assert pod_volumes(baseline) == pod_volumes(latest)


def test_baseline_is_upstream_plus_nothing(pair):
    baseline, latest = pair

    def by_key(objects):
        return {(o["kind"], o["metadata"]["name"]): o for o in objects}

    assert by_key(baseline) == by_key(latest)


def test_baseline_images_are_pinned(pair):
    baseline, _latest = pair
    images = container_facts(baseline, "image").values()
    # flannel publishes tags only; ingress-nginx pins digests, and so do we.
    assert all(":" in image.rsplit("/", 1)[-1] for image in images)
    if any("ingress-nginx" in image for image in images):
        assert all("@sha256:" in image for image in images)
