"""The plan's one-line header names the field that really changed.

Issue 18, symptom 3: an env change showed as `~ update Deployment.apps/shop/api
(metadata.annotations.kubernetes.io/change-cause differs)`, and a replica count changed out
of band as `(spec.replicas is not owned by kgit)`.
"""

from __future__ import annotations

import copy
import json
import urllib.request

from compiler.reconcile.model import ActionKind
from tests.reconcile_apply_helpers import client_for, converge, namespace, plan

NGINX = "Deployment.apps/web/nginx"


def _deployment(env_value: str, cause: str) -> dict:
    labels = {"app": "nginx"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "nginx",
            "namespace": "web",
            "annotations": {"kubernetes.io/change-cause": cause},
        },
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": {"kubernetes.io/change-cause": cause},
                },
                "spec": {
                    "containers": [
                        {
                            "name": "nginx",
                            "image": "nginx:1.14.2",
                            "env": [{"name": "MODE", "value": env_value}],
                        }
                    ]
                },
            },
        },
    }


def _patch(apiserver, body: dict) -> None:
    """An edit by another field manager (what `kubectl scale` or `kubectl annotate` does)."""
    request = urllib.request.Request(
        f"{apiserver.url}/apis/apps/v1/namespaces/web/deployments/nginx?fieldManager=kubectl",
        data=json.dumps(body).encode(),
        method="PATCH",
        headers={"Content-Type": "application/merge-patch+json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def _update_reason(made) -> str:
    (action,) = [a for a in made.actions if a.kind is not ActionKind.NOOP]
    assert (action.kind, str(action.ref)) == (ActionKind.UPDATE, NGINX)
    return action.reason


def test_an_env_change_is_named_not_the_change_cause_that_follows_it(apiserver):
    client = client_for(apiserver)
    converge(client, [namespace("web"), _deployment("blue", "first")])

    _, made = plan(client, [namespace("web"), _deployment("green", "env MODE changed")])

    assert _update_reason(made) == (
        "spec.template.spec.containers[name=nginx].env[name=MODE].value: blue -> green, "
        "and 2 more fields"
    )


def test_a_replica_count_changed_out_of_band_is_named_with_its_values(apiserver):
    client = client_for(apiserver)
    objects = [namespace("web"), _deployment("blue", "first")]
    converge(client, objects)
    _patch(apiserver, {"spec": {"replicas": 7}})

    _, made = plan(client, copy.deepcopy(objects))

    assert _update_reason(made) == "spec.replicas: 7 -> 2"


def test_drift_in_a_field_kgit_does_not_own_is_no_change(apiserver):
    client = client_for(apiserver)
    objects = [namespace("web"), _deployment("blue", "first")]
    converge(client, objects)
    _patch(apiserver, {"metadata": {"annotations": {"team": "payments"}}})

    _, made = plan(client, copy.deepcopy(objects))

    assert not made.has_changes()


def test_headline_prefers_fields_a_person_changed_and_counts_the_rest():
    from compiler.reconcile.plan import headline

    before = {"spec": {"replicas": 1}, "metadata": {"annotations": {"kgit.dev/source": "a"}}}
    after = {"spec": {"replicas": 3}, "metadata": {"annotations": {"kgit.dev/source": "b"}}}
    assert headline(before, after) == "spec.replicas: 1 -> 3, and 1 more field"
    only_own = {"metadata": {"annotations": {"kgit.dev/source": "b"}}}
    assert headline({"metadata": {"annotations": {"kgit.dev/source": "a"}}}, only_own) == (
        "metadata.annotations.kgit.dev/source: a -> b"
    )
    assert headline(before, before) is None
