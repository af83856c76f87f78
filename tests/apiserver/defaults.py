"""Server-side defaulting of the built-in kinds kgit emits.

Each function sets one group of defaults, idempotently, so that create, update, apply and
dry-run give the same object. Sources: the API reference pages named in each docstring
(https://kubernetes.io/docs/reference/kubernetes-api/) and the defaulters in
kubernetes/kubernetes ``pkg/apis/<group>/v1/defaults.go``.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Callable
from typing import Any

Obj = dict[str, Any]

SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")
NODE_PORT_RANGE = (30000, 32767)


class Allocator:
    """Deterministic ClusterIP / NodePort allocation (the ipallocator and portallocator
    pick randomly; here a hash of namespace/name picks, and collisions probe forward)."""

    def __init__(self) -> None:
        self.ips: set[str] = {str(SERVICE_CIDR.network_address + 1)}  # kubernetes svc
        self.ports: set[int] = set()

    @staticmethod
    def _seed(text: str) -> int:
        return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16)

    def ip(self, key: str) -> str:
        size = SERVICE_CIDR.num_addresses - 2
        start = self._seed(key) % size
        for i in range(size):
            ip = str(SERVICE_CIDR.network_address + 1 + (start + i) % size)
            if ip not in self.ips:
                return ip
        raise RuntimeError("service CIDR exhausted")

    def port(self, key: str) -> int:
        low, high = NODE_PORT_RANGE
        size = high - low + 1
        start = self._seed(key) % size
        for i in range(size):
            port = low + (start + i) % size
            if port not in self.ports:
                return port
        raise RuntimeError("node port range exhausted")

    def reserve(self, obj: Obj) -> None:
        spec = obj.get("spec") or {}
        for ip in spec.get("clusterIPs") or []:
            self.ips.add(ip)
        for port in spec.get("ports") or []:
            if port.get("nodePort"):
                self.ports.add(port["nodePort"])

    def release(self, obj: Obj) -> None:
        spec = obj.get("spec") or {}
        for ip in spec.get("clusterIPs") or []:
            self.ips.discard(ip)
        for port in spec.get("ports") or []:
            self.ports.discard(port.get("nodePort"))


def _set(d: Obj, key: str, value: Any) -> None:
    if d.get(key) is None:
        d[key] = value


# --- pod templates -----------------------------------------------------------------


def default_probe(probe: Obj) -> None:
    """Probe: timeoutSeconds 1, periodSeconds 10, successThreshold 1, failureThreshold 3;
    httpGet.scheme HTTP. (core/v1 Probe, pod-v1 reference; SetDefaults_Probe)"""
    _set(probe, "timeoutSeconds", 1)
    _set(probe, "periodSeconds", 10)
    _set(probe, "successThreshold", 1)
    _set(probe, "failureThreshold", 3)
    if isinstance(probe.get("httpGet"), dict):
        _set(probe["httpGet"], "scheme", "HTTP")


def default_container(c: Obj) -> None:
    """Container: imagePullPolicy Always for ``:latest`` or untagged images, else
    IfNotPresent; terminationMessagePath /dev/termination-log; terminationMessagePolicy
    File; resources {}; ports[].protocol TCP; env fieldRef.apiVersion v1.
    (https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#Container,
    SetDefaults_Container, SetDefaults_ContainerPort, SetDefaults_ObjectFieldSelector)"""
    image = str(c.get("image") or "")
    if c.get("imagePullPolicy") is None:
        name = image.split("@", 1)[0]
        tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else ""
        digest = "@" in image
        c["imagePullPolicy"] = (
            "Always" if (not digest and tag in ("", "latest")) else "IfNotPresent"
        )
    _set(c, "terminationMessagePath", "/dev/termination-log")
    _set(c, "terminationMessagePolicy", "File")
    _set(c, "resources", {})
    for port in c.get("ports") or []:
        _set(port, "protocol", "TCP")
    for env in c.get("env") or []:
        field_ref = (env.get("valueFrom") or {}).get("fieldRef")
        if isinstance(field_ref, dict):
            _set(field_ref, "apiVersion", "v1")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        if isinstance(c.get(probe), dict):
            default_probe(c[probe])


def default_volume(v: Obj) -> None:
    """Volume sources: configMap/secret defaultMode 420 (0644); projected defaultMode 420;
    downwardAPI defaultMode 420; hostPath type "". (SetDefaults_ConfigMapVolumeSource,
    SetDefaults_SecretVolumeSource, SetDefaults_HostPathVolumeSource)"""
    for source in ("configMap", "secret", "projected", "downwardAPI"):
        if isinstance(v.get(source), dict):
            _set(v[source], "defaultMode", 420)
    if isinstance(v.get("hostPath"), dict):
        _set(v["hostPath"], "type", "")


def default_pod_spec(spec: Obj) -> None:
    """PodSpec: restartPolicy Always, dnsPolicy ClusterFirst, schedulerName
    default-scheduler, securityContext {}, terminationGracePeriodSeconds 30.
    (https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#PodSpec,
    SetDefaults_PodSpec)"""
    _set(spec, "restartPolicy", "Always")
    _set(spec, "dnsPolicy", "ClusterFirst")
    _set(spec, "schedulerName", "default-scheduler")
    _set(spec, "securityContext", {})
    _set(spec, "terminationGracePeriodSeconds", 30)
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if isinstance(c, dict):
            default_container(c)
    for v in spec.get("volumes") or []:
        if isinstance(v, dict):
            default_volume(v)


def default_pod_template(template: Obj | None) -> None:
    """PodTemplateSpec: pod spec defaults. Since v1.33 a template's zero
    ``creationTimestamp`` is omitted (1.32 wrote ``creationTimestamp: null``); checked
    against a real v1.36 server by tests/test_apiserver_differential.py."""
    if not isinstance(template, dict):
        return
    spec = template.get("spec")
    if isinstance(spec, dict):
        default_pod_spec(spec)


# --- apps/v1 -----------------------------------------------------------------------


def default_deployment(obj: Obj, old: Obj | None, alloc: Allocator) -> None:
    """Deployment: replicas 1, strategy RollingUpdate with maxSurge/maxUnavailable 25%,
    revisionHistoryLimit 10, progressDeadlineSeconds 600.
    (https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/deployment-v1/,
    apps/v1 SetDefaults_Deployment)"""
    spec = obj.setdefault("spec", {})
    _set(spec, "replicas", 1)
    strategy = spec.setdefault("strategy", {})
    _set(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        _set(rolling, "maxUnavailable", "25%")
        _set(rolling, "maxSurge", "25%")
    _set(spec, "revisionHistoryLimit", 10)
    _set(spec, "progressDeadlineSeconds", 600)
    default_pod_template(spec.get("template"))


def default_daemonset(obj: Obj, old: Obj | None, alloc: Allocator) -> None:
    """DaemonSet: updateStrategy RollingUpdate {maxUnavailable 1, maxSurge 0},
    revisionHistoryLimit 10.
    (https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/daemon-set-v1/,
    SetDefaults_DaemonSet)"""
    spec = obj.setdefault("spec", {})
    strategy = spec.setdefault("updateStrategy", {})
    _set(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        _set(rolling, "maxUnavailable", 1)
        _set(rolling, "maxSurge", 0)
    _set(spec, "revisionHistoryLimit", 10)
    default_pod_template(spec.get("template"))
    # The v1 form of the internal spec.templateGeneration: 1 on create, +1 whenever an
    # update changes the template (pkg/registry/apps/daemonset/strategy.go).
    generation = 1
    if old is not None:
        old_meta = old.get("metadata") or {}
        generation = int((old_meta.get("annotations") or {}).get(TEMPLATE_GENERATION, "1"))
        if (old.get("spec") or {}).get("template") != spec.get("template"):
            generation += 1
    annotations = obj.setdefault("metadata", {}).setdefault("annotations", {})
    annotations[TEMPLATE_GENERATION] = str(generation)


TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"


def default_statefulset(obj: Obj, old: Obj | None, alloc: Allocator) -> None:
    """StatefulSet: replicas 1, podManagementPolicy OrderedReady, updateStrategy
    RollingUpdate {partition 0}, revisionHistoryLimit 10,
    persistentVolumeClaimRetentionPolicy Retain/Retain.
    (https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/stateful-set-v1/,
    SetDefaults_StatefulSet)"""
    spec = obj.setdefault("spec", {})
    _set(spec, "replicas", 1)
    _set(spec, "podManagementPolicy", "OrderedReady")
    strategy = spec.setdefault("updateStrategy", {})
    _set(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        _set(strategy.setdefault("rollingUpdate", {}), "partition", 0)
    _set(spec, "revisionHistoryLimit", 10)
    policy = spec.setdefault("persistentVolumeClaimRetentionPolicy", {})
    _set(policy, "whenDeleted", "Retain")
    _set(policy, "whenScaled", "Retain")
    for claim in spec.get("volumeClaimTemplates") or []:
        claim.setdefault("apiVersion", "v1")
        claim.setdefault("kind", "PersistentVolumeClaim")
        _set(claim.setdefault("spec", {}), "volumeMode", "Filesystem")
        _set(claim.setdefault("status", {}), "phase", "Pending")
    default_pod_template(spec.get("template"))


def default_replicaset(obj: Obj, old: Obj | None, alloc: Allocator) -> None:
    """ReplicaSet: replicas 1. (replica-set-v1 reference, SetDefaults_ReplicaSet)"""
    spec = obj.setdefault("spec", {})
    _set(spec, "replicas", 1)
    default_pod_template(spec.get("template"))


# --- batch/v1 ----------------------------------------------------------------------


def default_job(obj: Obj, old: Obj | None, alloc: Allocator) -> None:
    """Job: completions 1 and parallelism 1 (when both unset), backoffLimit 6,
    completionMode NonIndexed, suspend false, podReplacementPolicy TerminatingOrFailed;
    unless manualSelector, the selector and template labels
    ``batch.kubernetes.io/controller-uid``/``job-name`` (and legacy ``controller-uid``,
    ``job-name``) are generated from the Job's uid.
    (https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/job-v1/,
    batch/v1 SetDefaults_Job, pkg/registry/batch/job/strategy.go generateSelector)"""
    spec = obj.setdefault("spec", {})
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    _set(spec, "parallelism", 1)
    _set(spec, "backoffLimit", 6)
    _set(spec, "completionMode", "NonIndexed")
    _set(spec, "suspend", False)
    if not spec.get("podFailurePolicy"):
        _set(spec, "podReplacementPolicy", "TerminatingOrFailed")
    uid = obj.get("metadata", {}).get("uid", "")
    if not spec.get("manualSelector") and uid:
        name = obj["metadata"].get("name", "")
        generated = {"batch.kubernetes.io/controller-uid": uid}
        if spec.get("selector") is None:
            spec["selector"] = {"matchLabels": generated}
        template = spec.setdefault("template", {})
        labels = template.setdefault("metadata", {}).setdefault("labels", {})
        for key, value in (
            ("batch.kubernetes.io/controller-uid", uid),
            ("batch.kubernetes.io/job-name", name),
            ("controller-uid", uid),
            ("job-name", name),
        ):
            labels.setdefault(key, value)
        spec["manualSelector"] = False
    # A Job without labels takes its template's (SetDefaults_Job), generated ones
    # included.
    meta = obj.setdefault("metadata", {})
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels")
    if not meta.get("labels") and template_labels:
        meta["labels"] = dict(template_labels)
    default_pod_template(spec.get("template"))


def default_cronjob(obj: Obj, old: Obj | None, alloc: Allocator) -> None:
    """CronJob: concurrencyPolicy Allow, suspend false, successfulJobsHistoryLimit 3,
    failedJobsHistoryLimit 1. (cron-job-v1 reference, SetDefaults_CronJob)"""
    spec = obj.setdefault("spec", {})
    _set(spec, "concurrencyPolicy", "Allow")
    _set(spec, "suspend", False)
    _set(spec, "successfulJobsHistoryLimit", 3)
    _set(spec, "failedJobsHistoryLimit", 1)
    job_template = spec.setdefault("jobTemplate", {})
    default_pod_template((job_template.get("spec") or {}).get("template"))


# --- core/v1 -----------------------------------------------------------------------


def default_pod(obj: Obj, old: Obj | None, alloc: Allocator) -> None:
    """Pod: pod spec defaults plus enableServiceLinks true, priority 0,
    preemptionPolicy PreemptLowerPriority, status phase Pending.
    (https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/)"""
    spec = obj.setdefault("spec", {})
    default_pod_spec(spec)
    _set(spec, "enableServiceLinks", True)
    _set(spec, "priority", 0)
    _set(spec, "preemptionPolicy", "PreemptLowerPriority")
    _set(obj.setdefault("status", {}), "phase", "Pending")


def default_service(obj: Obj, old: Obj | None, alloc: Allocator) -> None:
    """Service: type ClusterIP, sessionAffinity None, ports[].protocol TCP,
    ports[].targetPort = port, clusterIP/clusterIPs allocated from the service CIDR
    (kubeadm's default 10.96.0.0/12) and kept on update, ipFamilies [IPv4],
    ipFamilyPolicy SingleStack, internalTrafficPolicy Cluster; for NodePort and
    LoadBalancer externalTrafficPolicy Cluster and allocated nodePorts; LoadBalancer
    allocateLoadBalancerNodePorts true; status.loadBalancer {}.
    (https://kubernetes.io/docs/reference/kubernetes-api/service-resources/service-v1/,
    core/v1 SetDefaults_Service, pkg/registry/core/service/storage alloc.go)"""
    spec = obj.setdefault("spec", {})
    meta = obj.get("metadata", {})
    key = f"{meta.get('namespace')}/{meta.get('name')}"
    _set(spec, "type", "ClusterIP")
    kind = spec["type"]
    old_spec = (old or {}).get("spec") or {}
    if kind == "ExternalName":
        _set(spec, "sessionAffinity", "None")
        for port in spec.get("ports") or []:
            _set(port, "protocol", "TCP")
            _set(port, "targetPort", port.get("port"))
        _set(obj.setdefault("status", {}), "loadBalancer", {})
        return
    _set(spec, "sessionAffinity", "None")
    for port in spec.get("ports") or []:
        _set(port, "protocol", "TCP")
        _set(port, "targetPort", port.get("port"))
    # normalizeClusterIPs: a changed clusterIP with clusterIPs left as they were
    # changes clusterIPs[0] too (and validation then refuses the change).
    if (
        old_spec.get("clusterIP")
        and spec.get("clusterIP")
        and spec["clusterIP"] != old_spec["clusterIP"]
        and spec.get("clusterIPs") == old_spec.get("clusterIPs")
        and spec["clusterIPs"]
    ):
        spec["clusterIPs"] = [spec["clusterIP"], *spec["clusterIPs"][1:]]
    # patchAllocatedValues: an update that omits allocated values keeps them.
    if not spec.get("clusterIP") and old_spec.get("clusterIP"):
        spec["clusterIP"] = old_spec["clusterIP"]
        spec["clusterIPs"] = list(old_spec.get("clusterIPs") or [old_spec["clusterIP"]])
    if not spec.get("clusterIP") and spec.get("clusterIPs"):
        spec["clusterIP"] = spec["clusterIPs"][0]
    if not spec.get("clusterIP"):
        spec["clusterIP"] = alloc.ip(key)
    if not spec.get("clusterIPs"):
        spec["clusterIPs"] = [spec["clusterIP"]]
    headless = spec["clusterIP"] == "None"
    if not headless or spec.get("selector"):
        _set(spec, "ipFamilies", ["IPv4"])
        _set(spec, "ipFamilyPolicy", "SingleStack")
    _set(spec, "internalTrafficPolicy", "Cluster")
    if kind in ("NodePort", "LoadBalancer"):
        _set(spec, "externalTrafficPolicy", "Cluster")
        old_ports = {
            (p.get("port"), p.get("protocol", "TCP")): p.get("nodePort")
            for p in old_spec.get("ports") or []
        }
        for port in spec.get("ports") or []:
            if not port.get("nodePort"):
                kept = old_ports.get((port.get("port"), port.get("protocol")))
                port["nodePort"] = kept or alloc.port(f"{key}/{port.get('port')}")
    if kind == "LoadBalancer":
        _set(spec, "allocateLoadBalancerNodePorts", True)
    _set(obj.setdefault("status", {}), "loadBalancer", {})


def default_namespace(obj: Obj, old: Obj | None, alloc: Allocator) -> None:
    """Namespace: spec.finalizers [kubernetes], status.phase Active, and the label
    ``kubernetes.io/metadata.name`` = name (always set, cannot be changed).
    (https://kubernetes.io/docs/reference/kubernetes-api/cluster-resources/namespace-v1/,
    https://kubernetes.io/docs/reference/labels-annotations-taints/#kubernetes-io-metadata-name)"""
    meta = obj.setdefault("metadata", {})
    labels = meta.get("labels") or {}
    labels["kubernetes.io/metadata.name"] = meta.get("name", "")
    meta["labels"] = labels
    spec = obj.setdefault("spec", {})
    _set(spec, "finalizers", ["kubernetes"])
    status = obj.setdefault("status", {})
    _set(status, "phase", "Active")


def default_secret(obj: Obj, old: Obj | None, alloc: Allocator) -> None:
    """Secret: type Opaque. (https://kubernetes.io/docs/reference/kubernetes-api/
    config-and-storage-resources/secret-v1/, SetDefaults_Secret)"""
    _set(obj, "type", "Opaque")


def default_pvc(obj: Obj, old: Obj | None, alloc: Allocator) -> None:
    """PersistentVolumeClaim: volumeMode Filesystem, status.phase Pending.
    (persistent-volume-claim-v1 reference, SetDefaults_PersistentVolumeClaimSpec)"""
    _set(obj.setdefault("spec", {}), "volumeMode", "Filesystem")
    _set(obj.setdefault("status", {}), "phase", "Pending")


def default_endpoints(obj: Obj, old: Obj | None, alloc: Allocator) -> None:
    """Endpoints: subsets[].ports[].protocol TCP. (SetDefaults_EndpointPort)"""
    for subset in obj.get("subsets") or []:
        for port in subset.get("ports") or []:
            _set(port, "protocol", "TCP")


def default_endpointslice(obj: Obj, old: Obj | None, alloc: Allocator) -> None:
    """EndpointSlice: ports[].name "", ports[].protocol TCP, endpoints[].conditions {}.
    (https://kubernetes.io/docs/reference/kubernetes-api/service-resources/endpoint-slice-v1/,
    discovery/v1 SetDefaults_EndpointPort)"""
    for port in obj.get("ports") or []:
        _set(port, "name", "")
        _set(port, "protocol", "TCP")
    for endpoint in obj.get("endpoints") or []:
        if isinstance(endpoint, dict):
            _set(endpoint, "conditions", {})


def default_networkpolicy(obj: Obj, old: Obj | None, alloc: Allocator) -> None:
    """NetworkPolicy: policyTypes [Ingress] (+ Egress when egress rules are given),
    ports[].protocol TCP. (network-policy-v1 reference, SetDefaults_NetworkPolicy)"""
    spec = obj.setdefault("spec", {})
    if not spec.get("policyTypes"):
        types = ["Ingress"]
        if spec.get("egress"):
            types.append("Egress")
        spec["policyTypes"] = types
    for direction in ("ingress", "egress"):
        for rule in spec.get(direction) or []:
            for port in rule.get("ports") or []:
                _set(port, "protocol", "TCP")


def default_ingress(obj: Obj, old: Obj | None, alloc: Allocator) -> None:
    """Ingress: status.loadBalancer {} (no spec defaults; pathType is required).
    (https://kubernetes.io/docs/reference/kubernetes-api/service-resources/ingress-v1/)"""
    _set(obj.setdefault("status", {}), "loadBalancer", {})


def default_webhooks(obj: Obj, old: Obj | None, alloc: Allocator) -> None:
    """Validating/MutatingWebhookConfiguration webhooks: failurePolicy Fail, matchPolicy
    Equivalent, namespaceSelector {}, objectSelector {}, timeoutSeconds 10, rules[].scope
    "*", clientConfig.service.port 443; mutating: reinvocationPolicy Never.
    (https://kubernetes.io/docs/reference/kubernetes-api/extend-resources/
    validating-webhook-configuration-v1/, admissionregistration/v1 defaults.go)"""
    for hook in obj.get("webhooks") or []:
        _set(hook, "failurePolicy", "Fail")
        _set(hook, "matchPolicy", "Equivalent")
        _set(hook, "namespaceSelector", {})
        _set(hook, "objectSelector", {})
        _set(hook, "timeoutSeconds", 10)
        if obj.get("kind") == "MutatingWebhookConfiguration":
            _set(hook, "reinvocationPolicy", "Never")
        for rule in hook.get("rules") or []:
            _set(rule, "scope", "*")
        service = (hook.get("clientConfig") or {}).get("service")
        if isinstance(service, dict):
            _set(service, "port", 443)


def default_priorityclass(obj: Obj, old: Obj | None, alloc: Allocator) -> None:
    """PriorityClass: preemptionPolicy PreemptLowerPriority.
    (priority-class-v1 reference, scheduling/v1 SetDefaults_PriorityClass)"""
    _set(obj, "preemptionPolicy", "PreemptLowerPriority")


def default_rolebinding(obj: Obj, old: Obj | None, alloc: Allocator) -> None:
    """RoleBinding/ClusterRoleBinding: subjects[].apiGroup rbac.authorization.k8s.io for
    User and Group, "" for ServiceAccount. (rbac/v1 SetDefaults_Subject)"""
    for subject in obj.get("subjects") or []:
        if subject.get("kind") in ("User", "Group"):
            _set(subject, "apiGroup", "rbac.authorization.k8s.io")
        elif subject.get("kind") == "ServiceAccount":
            _set(subject, "apiGroup", "")


def default_crd(obj: Obj, old: Obj | None, alloc: Allocator) -> None:
    """CustomResourceDefinition: spec.conversion.strategy None; names.singular and
    listKind derived from kind. (custom-resource-definition-v1 reference,
    apiextensions/v1 SetDefaults_CustomResourceDefinitionSpec)"""
    spec = obj.setdefault("spec", {})
    _set(spec.setdefault("conversion", {}), "strategy", "None")
    names = spec.setdefault("names", {})
    if names.get("kind"):
        _set(names, "singular", str(names["kind"]).lower())
        _set(names, "listKind", f"{names['kind']}List")


Defaulter = Callable[[Obj, "Obj | None", Allocator], None]

DEFAULTERS: dict[str, Defaulter] = {
    "Deployment": default_deployment,
    "DaemonSet": default_daemonset,
    "StatefulSet": default_statefulset,
    "ReplicaSet": default_replicaset,
    "Job": default_job,
    "CronJob": default_cronjob,
    "Pod": default_pod,
    "Service": default_service,
    "Namespace": default_namespace,
    "Secret": default_secret,
    "PersistentVolumeClaim": default_pvc,
    "Endpoints": default_endpoints,
    "EndpointSlice": default_endpointslice,
    "NetworkPolicy": default_networkpolicy,
    "Ingress": default_ingress,
    "ValidatingWebhookConfiguration": default_webhooks,
    "MutatingWebhookConfiguration": default_webhooks,
    "PriorityClass": default_priorityclass,
    "RoleBinding": default_rolebinding,
    "ClusterRoleBinding": default_rolebinding,
    "CustomResourceDefinition": default_crd,
}


def apply_defaults(obj: Obj, old: Obj | None, alloc: Allocator, builtin: bool) -> None:
    if not builtin:
        return
    fn = DEFAULTERS.get(str(obj.get("kind")))
    if fn is not None:
        fn(obj, old, alloc)
