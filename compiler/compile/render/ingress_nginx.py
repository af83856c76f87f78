"""ingress-nginx: patch a base manifest (kgit's baseline or a vendored upstream file).

The patches work on the upstream ``deploy.yaml`` of both providers (baremetal and cloud)
and find what they change by meaning: the controller is the workload that runs
``/nginx-ingress-controller``, its Service is the one that selects it and has the http and
https ports. In order:

1. workload kind: DaemonSet (from upstream's Deployment) or Deployment with ``replicas``;
2. exposure: NodePort with fixed node ports, HostNetwork, or LoadBalancer;
3. placement and size: nodeSelector, tolerations, resources;
4. IngressClass: name, default-class annotation, controller class in step with the flags;
5. images through ``ingress.nginx.imageRegistry`` (digests kept);
6. immutable objects: the admission Jobs get a name suffix derived from their spec, and
   they and the IngressClass carry ``kgit.dev/replace: "true"``; finished Jobs are kept
   (no ``ttlSecondsAfterFinished``) so that a plan after an apply is empty (docs/addons.md).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from compiler.compile.model import Cluster, IngressNginx
from compiler.compile.render.images import mirror_images, pod_spec_of
from compiler.compile.render.removed_apis import removed_api_warnings, served
from compiler.core.errors import KgitError
from compiler.core.plaindata import clone

CONTROLLER_BINARY = "/nginx-ingress-controller"
DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
REPLACE_ANNOTATION = "kgit.dev/replace"
OS_SELECTOR = {"kubernetes.io/os": "linux"}
JOB_HASH_LENGTH = 10
# Fields that only a LoadBalancer Service may carry; the API rejects them on other types.
_LOAD_BALANCER_FIELDS = (
    "allocateLoadBalancerNodePorts",
    "loadBalancerClass",
    "loadBalancerIP",
    "loadBalancerSourceRanges",
)


def render_ingress_nginx(cluster: Cluster, base: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ingress-nginx objects of ``cluster``: ``base`` patched; ``base`` is not changed."""
    spec = cluster.ingress_nginx
    if spec is None:
        return []
    objects = served(clone(base), cluster.kubernetes.version)
    index = _controller_index(objects)
    objects[index] = workload = _as_kind(objects[index], spec)
    pod = pod_spec_of(workload) or {}
    container = _controller_container(pod)
    service = _controller_service(objects, workload)
    _expose(spec, pod, container, service)
    _place(spec, pod, container)
    _ingress_class(spec, objects, container)
    mirror_images(objects, spec.image_registry)
    for obj in objects:
        if obj.get("kind") == "Job":
            make_replaceable(obj)
    return objects


def ingress_nginx_warnings(cluster: Cluster, base: list[dict[str, Any]], origin: str) -> list[str]:
    """What the user should know about rendering ``base`` for ``cluster`` (not errors)."""
    return removed_api_warnings("ingress-nginx", origin, base, cluster.kubernetes.version)


# --- 1. the controller workload -------------------------------------------------------------


def _as_kind(workload: dict[str, Any], spec: IngressNginx) -> dict[str, Any]:
    """The controller workload as the kind the spec asks for."""
    old = workload["spec"]
    if spec.kind == "DaemonSet":
        if workload["kind"] == "DaemonSet":
            return workload
        new_spec = _common_workload_fields(old)
        rolling = (old.get("strategy") or {}).get("rollingUpdate") or {}
        update: dict[str, Any] = {"type": "RollingUpdate"}
        if "maxUnavailable" in rolling:
            # maxSurge is left behind: a surge pod would fight the old one for host ports.
            update["rollingUpdate"] = {"maxUnavailable": rolling["maxUnavailable"]}
        new_spec["updateStrategy"] = update
        return {**workload, "kind": "DaemonSet", "spec": new_spec}
    if workload["kind"] == "Deployment":
        workload["spec"]["replicas"] = spec.replicas
        return workload
    new_spec = {"replicas": spec.replicas, **_common_workload_fields(old)}
    rolling = (old.get("updateStrategy") or {}).get("rollingUpdate") or {}
    strategy: dict[str, Any] = {"type": "RollingUpdate"}
    if "maxUnavailable" in rolling:
        strategy["rollingUpdate"] = {"maxUnavailable": rolling["maxUnavailable"]}
    new_spec["strategy"] = strategy
    return {**workload, "kind": "Deployment", "spec": new_spec}


def _common_workload_fields(spec: dict[str, Any]) -> dict[str, Any]:
    """What a Deployment and a DaemonSet spec share (replicas/strategy are left behind)."""
    keep = ("minReadySeconds", "revisionHistoryLimit", "selector", "template")
    return {key: spec[key] for key in keep if key in spec}


# --- 2. exposure ----------------------------------------------------------------------------


def _expose(
    spec: IngressNginx, pod: dict[str, Any], container: dict[str, Any], service: dict[str, Any]
) -> None:
    svc = service["spec"]
    if spec.exposure != "LoadBalancer":
        for field in _LOAD_BALANCER_FIELDS:
            svc.pop(field, None)
    for port in svc.get("ports") or []:
        port.pop("nodePort", None)  # set again below for NodePort; others must not pin one
    args = list(container.get("args") or [])
    publish_at = _publish_service_position(args)
    args = [arg for arg in args if not arg.startswith("--publish-service")]
    if spec.exposure == "HostNetwork":
        # The controller listens on ports 80/443 of its node. The Service stays, as
        # ClusterIP: in-cluster clients and monitoring keep a stable name, and switching the
        # exposure back and forth never deletes an object that others may reference.
        svc["type"] = "ClusterIP"
        svc.pop("externalTrafficPolicy", None)  # only NodePort and LoadBalancer have one
        pod["hostNetwork"] = True
        # Pods on the host network resolve through the node's resolv.conf unless told to
        # use the cluster DNS; the controller needs cluster names (the admission webhook).
        pod["dnsPolicy"] = "ClusterFirstWithHostNet"
    elif spec.exposure == "NodePort":
        svc["type"] = "NodePort"
        svc["externalTrafficPolicy"] = spec.external_traffic_policy
        node_ports = spec.node_ports
        fixed = {"http": node_ports.http, "https": node_ports.https} if node_ports else {}
        for port in svc.get("ports") or []:
            if port.get("name") in fixed:
                port["nodePort"] = fixed[port["name"]]
    else:
        svc["type"] = "LoadBalancer"
        svc["externalTrafficPolicy"] = spec.external_traffic_policy
        # As upstream's cloud manifest: Ingress status shows the load balancer's address.
        args.insert(publish_at, f"--publish-service=$(POD_NAMESPACE)/{service['metadata']['name']}")
    container["args"] = args


def _publish_service_position(args: list[str]) -> int:
    """Where --publish-service is, else right after the binary, as upstream's cloud file has it."""
    for index, arg in enumerate(args):
        if arg.startswith("--publish-service"):
            return index
    for index, arg in enumerate(args):
        if arg.endswith(CONTROLLER_BINARY):
            return index + 1
    return 0


# --- 3. placement and size ------------------------------------------------------------------


def _place(spec: IngressNginx, pod: dict[str, Any], container: dict[str, Any]) -> None:
    # The controller image is Linux-only: whatever else selects nodes, keep the OS label.
    pod["nodeSelector"] = {**OS_SELECTOR, **(pod.get("nodeSelector") or {}), **spec.node_selector}
    if spec.tolerations:
        pod["tolerations"] = [plain(t) for t in spec.tolerations]
    if spec.resources:
        container["resources"] = plain(spec.resources)


# --- 4. the IngressClass --------------------------------------------------------------------


def _ingress_class(
    spec: IngressNginx, objects: list[dict[str, Any]], container: dict[str, Any]
) -> None:
    classes = [obj for obj in objects if obj.get("kind") == "IngressClass"]
    if len(classes) != 1:
        raise KgitError(
            f"the ingress-nginx manifest has {len(classes)} IngressClass objects, expected 1",
            hint="is the file an upstream ingress-nginx deploy.yaml?",
        )
    ingress_class = classes[0]
    args = list(container.get("args") or [])
    controller_class = (
        _flag(args, "--controller-class")
        or (ingress_class.get("spec") or {}).get("controller")
        or "k8s.io/ingress-nginx"
    )
    name = spec.ingress_class.name
    ingress_class["metadata"]["name"] = name
    ingress_class.setdefault("spec", {})["controller"] = controller_class
    annotations = ingress_class["metadata"].setdefault("annotations", {})
    if spec.ingress_class.default:
        annotations[DEFAULT_CLASS_ANNOTATION] = "true"
    else:
        annotations.pop(DEFAULT_CLASS_ANNOTATION, None)
    # spec.controller is immutable: a change must be a delete and a create.
    annotations[REPLACE_ANNOTATION] = "true"
    args = _with_flag(args, "--controller-class", controller_class)
    container["args"] = _with_flag(args, "--ingress-class", name)


def _flag(args: list[str], flag: str) -> str | None:
    for arg in args:
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def _with_flag(args: list[str], flag: str, value: str) -> list[str]:
    """``args`` with one ``flag=value``, where the flag was, else at the end."""
    wanted = f"{flag}={value}"
    result: list[str] = []
    for arg in args:
        if arg == flag or arg.startswith(flag + "="):
            if wanted not in result:
                result.append(wanted)
            continue
        result.append(arg)
    if wanted not in result:
        result.append(wanted)
    return result


# --- 6. immutable Jobs ----------------------------------------------------------------------


def job_spec_digest(job: dict[str, Any]) -> str:
    """A short digest of a Job's spec: it changes exactly when the spec does."""
    canonical = json.dumps(job.get("spec") or {}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:JOB_HASH_LENGTH]


def make_replaceable(job: dict[str, Any]) -> None:
    """A Job's pod template is immutable. Naming the Job after its spec makes a changed Job
    a new object (the old one is pruned); the annotation tells the reconciler to delete and
    recreate a Job that kept its name anyway. Nothing refers to the Jobs by name: they
    name the admission Secret and webhook, never themselves, so the rename is safe."""
    # Upstream (v1.13+) deletes finished Jobs at once (ttlSecondsAfterFinished: 0). For a
    # declarative tool a vanished Job is a missing object, recreated by every apply and shown
    # by every plan (the same trap Argo CD users hit, kubernetes/ingress-nginx#13474). Kept,
    # the finished Job is simply up to date; when its spec changes so does its name, and the
    # old one is pruned.
    job["spec"].pop("ttlSecondsAfterFinished", None)
    metadata = job["metadata"]
    suffix = "-" + job_spec_digest(job)
    if not metadata["name"].endswith(suffix):
        metadata["name"] += suffix
    metadata.setdefault("annotations", {})[REPLACE_ANNOTATION] = "true"


# --- finding things -------------------------------------------------------------------------


def _runs_controller(container: dict[str, Any]) -> bool:
    words = [*(container.get("command") or []), *(container.get("args") or [])]
    return any(str(word).endswith(CONTROLLER_BINARY) for word in words)


def _controller_index(objects: list[dict[str, Any]]) -> int:
    for index, obj in enumerate(objects):
        containers = (pod_spec_of(obj) or {}).get("containers") or []
        is_workload = obj.get("kind") in ("Deployment", "DaemonSet")
        if is_workload and any(map(_runs_controller, containers)):
            return index
    raise KgitError(
        f"the ingress-nginx manifest has no Deployment or DaemonSet that runs {CONTROLLER_BINARY}",
        hint="is the file an upstream ingress-nginx deploy.yaml?",
    )


def _controller_container(pod: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in pod.get("containers") or [] if _runs_controller(c))


def _controller_service(objects: list[dict[str, Any]], workload: dict[str, Any]) -> dict[str, Any]:
    labels = ((workload["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}
    for obj in objects:
        if obj.get("kind") != "Service":
            continue
        spec = obj.get("spec") or {}
        selector = spec.get("selector") or {}
        names = {port.get("name") for port in spec.get("ports") or []}
        if selector and selector.items() <= labels.items() and {"http", "https"} <= names:
            return obj
    raise KgitError(
        "the ingress-nginx manifest has no Service with http and https ports for the controller",
        hint="is the file an upstream ingress-nginx deploy.yaml?",
    )


def plain(value: Any) -> Any:
    """A deep copy made of dicts and lists only (the model holds read-only mappings)."""
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value
