"""The Kubernetes API side of the host half: Node labels and taints, cordon, drain,
uncordon, and the bootstrap token that joining nodes use.

kubeadm sets labels and taints only when a node joins, so later changes go through the
API. kgit remembers which labels and taints it set in two annotations on the Node
(``kgit.dev/managed-labels``, ``kgit.dev/managed-taints``): a label removed from
cluster.yaml is removed from the Node only if kgit had set it, and labels and taints that
others set (the kubelet's, the node controller's ``not-ready`` taints) are left alone.

The bootstrap token is made by kgit, not by ``kubeadm token create`` (whose argv would
carry it): a ``bootstrap.kubernetes.io/token`` Secret in kube-system, as kubeadm itself
writes it, expiring after ``TOKEN_TTL``, and deleted again when the apply ends.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import string
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from compiler.core.errors import KgitError
from compiler.hosts.facts import NodeObject, node_object

MANAGED_LABELS = "kgit.dev/managed-labels"
MANAGED_TAINTS = "kgit.dev/managed-taints"
TOKEN_TTL = timedelta(hours=1)
_TOKEN_ALPHABET = string.ascii_lowercase + string.digits
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
# (connect, read) seconds for every Node API request, as the object side has them: a
# server that accepts and never answers must not hang a host apply.
REQUEST_TIMEOUT = (10.0, 30.0)


class NodeApiError(KgitError):
    reference = "node-api"


@dataclass(frozen=True)
class JoinToken:
    token_id: str
    secret: str

    @property
    def value(self) -> str:
        return f"{self.token_id}.{self.secret}"

    def __repr__(self) -> str:  # never the secret, not even in a traceback
        return f"JoinToken({self.token_id}.****)"


def new_join_token() -> JoinToken:
    pick = lambda n: "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(n))  # noqa: E731
    return JoinToken(pick(6), pick(16))


def new_certificate_key() -> str:
    """32 random bytes as hex: what ``kubeadm certs certificate-key`` prints."""
    return secrets.token_hex(32)


def ca_cert_hash(ca_pem: bytes) -> str:
    """kubeadm's discovery hash: sha256 of the CA certificate's SubjectPublicKeyInfo."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        cert = x509.load_pem_x509_certificate(ca_pem)
    except ValueError as exc:
        raise NodeApiError(f"the cluster CA certificate cannot be read: {exc}") from None
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "sha256:" + hashlib.sha256(spki).hexdigest()


class NodeApi:
    """A CoreV1Api for the cluster, from a kubeconfig held in memory."""

    def __init__(self, kubeconfig: Mapping[str, Any]) -> None:
        from kubernetes import client, config

        self._client = config.new_client_from_config_dict(dict(kubeconfig))
        self.core = client.CoreV1Api(self._client)

    def close(self) -> None:
        self._client.close()

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from kubernetes.client.exceptions import ApiException

        try:
            response = fn(*args, _preload_content=False, _request_timeout=REQUEST_TIMEOUT, **kwargs)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise NodeApiError(
                f"{what}: the API server answered {exc.status} {exc.reason}"
            ) from None
        except Exception as exc:  # urllib3 connection errors and the like
            raise NodeApiError(f"{what}: cannot reach the API server ({exc})") from None
        data = response.data
        return json.loads(data) if data else None

    # -- reading --------------------------------------------------------------------------

    def nodes(self) -> dict[str, NodeObject]:
        listed = self._call("listing Nodes", self.core.list_node) or {}
        return {item["metadata"]["name"]: node_object(item) for item in listed.get("items", [])}

    # -- labels and taints ----------------------------------------------------------------

    def set_labels_and_taints(
        self,
        name: str,
        labels: Mapping[str, str],
        remove_labels: Sequence[str],
        taints: Sequence[tuple[str, str, str]],
        managed_taints: Sequence[tuple[str, str, str]],
        managed_labels: Sequence[str],
    ) -> None:
        """Set ``labels``, drop ``remove_labels``, and make the taints kgit manages
        ``taints`` (replacing ``managed_taints``), keeping everyone else's; record
        ``managed_labels`` (every label cluster.yaml gives the node) and ``taints``."""
        live = self._call(f"reading Node {name}", self.core.read_node, name)
        if live is None:
            raise NodeApiError(f"Node {name} does not exist")
        # Replaced: the taints kgit set before and those it sets now (by key and effect).
        replaced = {(k, e) for k, _, e in (*managed_taints, *taints)}
        kept = [
            t
            for t in (live.get("spec") or {}).get("taints") or []
            if (t.get("key"), t.get("effect")) not in replaced
        ]
        body = {
            "metadata": {
                "resourceVersion": live["metadata"]["resourceVersion"],
                "labels": {**dict(labels), **dict.fromkeys(remove_labels)},
                "annotations": {
                    MANAGED_LABELS: json.dumps(sorted(managed_labels)),
                    MANAGED_TAINTS: json.dumps([list(t) for t in taints]),
                },
            },
            "spec": {"taints": kept + [taint_body(t) for t in taints] or None},
        }
        self._call(f"updating Node {name}", self.core.patch_node, name, body)

    # -- cordon, drain, uncordon ----------------------------------------------------------

    def cordon(self, name: str, unschedulable: bool) -> None:
        body = {"spec": {"unschedulable": True if unschedulable else None}}
        if self._call(f"cordoning {name}", self.core.patch_node, name, body) is None:
            raise NodeApiError(f"Node {name} does not exist")

    def drain(self, name: str, timeout: float) -> None:
        """Cordon, then evict every pod but DaemonSet and static ones (PodDisruptionBudgets
        answer 429 and are retried until ``timeout``), and wait until they are gone."""
        self.cordon(name, True)
        deadline = time.monotonic() + timeout
        while True:
            pods = [p for p in self._pods_on(name) if evictable(p)]
            if not pods:
                return
            for pod in pods:
                self._evict(pod)
            if time.monotonic() > deadline:
                left = ", ".join(
                    f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in pods
                )
                raise NodeApiError(
                    f"draining {name}: pods still there after {timeout:.0f}s "
                    f"(a PodDisruptionBudget may forbid evicting them): {left}"
                )
            time.sleep(1)

    def _pods_on(self, name: str) -> list[dict[str, Any]]:
        listed = self._call(
            f"listing pods on {name}",
            self.core.list_pod_for_all_namespaces,
            field_selector=f"spec.nodeName={name}",
        )
        return list((listed or {}).get("items", []))

    def _evict(self, pod: Mapping[str, Any]) -> None:
        from kubernetes.client.exceptions import ApiException

        meta = pod["metadata"]
        body = {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
        }
        try:
            self.core.create_namespaced_pod_eviction(
                meta["name"], meta["namespace"], body, _request_timeout=REQUEST_TIMEOUT
            )
        except ApiException as exc:
            if exc.status in (404, 429):  # gone already / a PodDisruptionBudget says wait
                return
            raise NodeApiError(
                f"evicting {meta['namespace']}/{meta['name']}: {exc.status} {exc.reason}"
            ) from None

    # -- bootstrap tokens -----------------------------------------------------------------

    def create_join_token(self, token: JoinToken, now: datetime | None = None) -> None:
        expires = (now or datetime.now(UTC)) + TOKEN_TTL
        data = {
            "token-id": token.token_id,
            "token-secret": token.secret,
            "expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "usage-bootstrap-authentication": "true",
            "usage-bootstrap-signing": "true",
            "auth-extra-groups": "system:bootstrappers:kubeadm:default-node-token",
            "description": "kgit hosts apply (deleted when the apply ends)",
        }
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "bootstrap.kubernetes.io/token",
            "metadata": {"name": f"bootstrap-token-{token.token_id}", "namespace": "kube-system"},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
        }
        self._call(
            "creating the bootstrap token", self.core.create_namespaced_secret, "kube-system", body
        )

    def delete_join_token(self, token: JoinToken) -> None:
        self._call(
            "deleting the bootstrap token",
            self.core.delete_namespaced_secret,
            f"bootstrap-token-{token.token_id}",
            "kube-system",
        )


def taint_body(taint: tuple[str, str, str]) -> dict[str, str]:
    key, value, effect = taint
    return {"key": key, "effect": effect, **({"value": value} if value else {})}


def managed(annotations: Mapping[str, str], key: str) -> list[Any]:
    try:
        value = json.loads(annotations.get(key, "[]"))
    except ValueError:
        return []
    return value if isinstance(value, list) else []


def evictable(pod: Mapping[str, Any]) -> bool:
    meta = pod.get("metadata") or {}
    if MIRROR_ANNOTATION in (meta.get("annotations") or {}):
        return False  # a static pod: the kubelet owns it
    if any(ref.get("kind") == "DaemonSet" for ref in meta.get("ownerReferences") or []):
        return False  # its controller would put it right back
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed")
