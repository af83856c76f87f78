# ruff: noqa: E501  (expected messages are asserted exactly, and they are long lines)
"""Specs Kubernetes would refuse, or that no cluster can hold, refused by kgit validate at
the offending value: a limit below its request, a node address that is not unicast, an
env value too large for any object, the same env name twice."""

from __future__ import annotations

import pytest

from tests.test_validate import APP, _validate, add, sub

INVALID = [
    pytest.param(
        add(
            APP + "      resources:\n        requests: {memory: 256Mi, cpu: 500m}\n"
            "        limits: {memory: 128Mi, cpu: '0.25'}\n"
        ),
        [
            "cluster.yaml:17:26: spec.apps[0].resources.limits.memory: 128Mi is below the request (256Mi); a limit must be at least the request",
            "cluster.yaml:17:38: spec.apps[0].resources.limits.cpu: 0.25 is below the request (500m); a limit must be at least the request",
        ],
        id="app-limits-below-requests",
    ),
    pytest.param(
        add(
            "  ingress:\n    nginx:\n      resources:\n        requests: {memory: 1Gi}\n"
            "        limits: {memory: 1000Mi}\n"
        ),
        [
            "cluster.yaml:16:26: spec.ingress.nginx.resources.limits.memory: 1000Mi is below the request (1Gi); a limit must be at least the request",
        ],
        id="ingress-limit-below-request",
    ),
    pytest.param(
        sub("192.168.10.10", "255.255.255.255"),
        [
            "cluster.yaml:10:16: spec.nodes[0].address: 255.255.255.255 is the broadcast address; a node needs a routable address",
        ],
        id="node-address-broadcast",
    ),
    pytest.param(
        sub("192.168.10.10", "240.0.0.7"),
        [
            "cluster.yaml:10:16: spec.nodes[0].address: 240.0.0.7 is a reserved address (240.0.0.0/4); a node needs a routable address",
        ],
        id="node-address-reserved",
    ),
    pytest.param(
        sub("192.168.10.10", "224.0.0.1"),
        [
            "cluster.yaml:10:16: spec.nodes[0].address: 224.0.0.1 is a multicast address; a node needs a routable address",
        ],
        id="node-address-multicast",
    ),
    pytest.param(
        sub("192.168.10.10", "0.0.0.0"),
        [
            "cluster.yaml:10:16: spec.nodes[0].address: 0.0.0.0 is the unspecified address; a node needs a routable address",
        ],
        id="node-address-unspecified",
    ),
    pytest.param(
        add(
            APP
            + "      env:\n        - {name: MODE, value: a}\n        - {name: LEVEL, value: b}\n"
            "        - {name: MODE, value: c}\n"
        ),
        [
            "cluster.yaml:18:18: spec.apps[0].env[2].name: duplicate environment variable 'MODE' (also env[0])",
        ],
        id="duplicate-env-name",
    ),
    pytest.param(
        add(
            APP + "      initContainers:\n        - name: init\n          image: busybox:1.28\n"
            "          env: [{name: A, value: '1'}, {name: A, value: '2'}]\n"
        ),
        [
            "cluster.yaml:18:47: spec.apps[0].initContainers[0].env[1].name: duplicate environment variable 'A' (also env[0])",
        ],
        id="duplicate-init-env-name",
    ),
]


@pytest.mark.parametrize(("text", "expected"), INVALID)
def test_invalid_spec_is_reported_at_the_offending_value(
    tmp_path, monkeypatch, capsys, text, expected
):
    code, errors, _out = _validate(tmp_path, monkeypatch, capsys, text)
    count = len(expected)
    assert errors == [f"error: {line}" for line in expected] + [
        f"{count} error{'s' if count != 1 else ''} found"
    ]
    assert code == 1


def test_limits_equal_to_requests_and_limits_alone_are_fine(tmp_path, monkeypatch, capsys):
    text = add(
        APP + "      resources:\n        requests: {memory: 1Gi, cpu: 1}\n"
        "        limits: {memory: 1024Mi, cpu: 1000m, ephemeral-storage: 1Gi}\n"
    )
    assert _validate(tmp_path, monkeypatch, capsys, text)[:2] == (0, [])


def test_an_env_value_larger_than_any_object_can_be_is_refused(tmp_path, monkeypatch, capsys):
    text = add(
        APP + "      env:\n        - name: BIG\n          value: " + "x" * (2 * 1024 * 1024) + "\n"
    )
    code, errors, _out = _validate(tmp_path, monkeypatch, capsys, text)
    assert code == 1
    assert errors == [
        "error: cluster.yaml:17:18: spec.apps[0].env[0].value: is 2097152 bytes; the Deployment "
        "holding it must stay under 1.5 MiB (etcd's request limit), so an env value may be at "
        "most 1048576 bytes",
        "1 error found",
    ]
