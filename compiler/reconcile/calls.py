"""The requests of an apply that the cluster client does not make itself.

``ApplyCluster`` wraps the run's ``ClusterClient`` (compiler.reconcile.client, whose
``guard`` retries transient failures) and adds Lease reads/writes for the lock and Event
lists for the wait report. It satisfies ``lock.LeaseApi`` and ``wait.WaitClient``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from compiler.core.identity import ObjectId

if TYPE_CHECKING:
    from compiler.reconcile.client import ClusterClient

Body = dict[str, Any]
LEASE_API_VERSION = "coordination.k8s.io/v1"


def _in_namespace(body: Body, namespace: str) -> Body:
    return {**body, "metadata": {**body["metadata"], "namespace": namespace}}


@dataclass
class ApplyCluster:
    client: ClusterClient
    set_id: str = ""  # the ApplySet whose members ``read`` lists by label

    @property
    def context(self) -> str:
        return self.client.context

    @property
    def server(self) -> str:
        return self.client.server

    # -- objects ----------------------------------------------------------------------

    def resolve(self, ref: ObjectId) -> None:
        """Discover ref's resource now, on this thread: discovery fills shared caches."""
        self.client.resource_for(ref.api_version, ref.kind)

    def get(self, ref: ObjectId) -> Body | None:
        return self.client.get(ref)

    def read(self, refs: Sequence[ObjectId]) -> dict[ObjectId, Body | None]:
        """The live state of several members: one LIST per kind by the ApplySet label
        (a GET each for a kind with few of them), not a GET per object."""
        from compiler.reconcile.applyset import PART_OF_LABEL
        from compiler.reconcile.observe import read_objects

        if not self.set_id:
            return {ref: self.client.get(ref) for ref in refs}
        return read_objects(self.client, refs, f"{PART_OF_LABEL}={self.set_id}")

    def apply(self, body: Body, *, field_manager: str = "kgit") -> Body:
        return self.client.apply(body, field_manager=field_manager)

    def delete(
        self, ref: ObjectId, *, propagation: str = "Background", uid: str | None = None
    ) -> Body | None:
        preconditions = {"uid": uid} if uid else None
        return self.client.delete(ref, propagation_policy=propagation, preconditions=preconditions)

    def events_for(self, ref: ObjectId) -> list[Body]:
        """Events about one object (cluster-scoped objects' events live in 'default')."""
        return self.client.list(
            "v1",
            "Event",
            namespace=ref.namespace or "default",
            field_selector=f"involvedObject.name={ref.name},involvedObject.kind={ref.kind}",
        )

    # -- leases (lock.LeaseApi) -------------------------------------------------------

    def read_lease(self, namespace: str, name: str) -> Body | None:
        return self.client.get(ObjectId(LEASE_API_VERSION, "Lease", namespace, name))

    def create_lease(self, namespace: str, body: Body) -> Body:
        return self.client.create(_in_namespace(body, namespace))

    def replace_lease(self, namespace: str, body: Body) -> Body:
        return self.client.replace(_in_namespace(body, namespace))

    def delete_lease(self, namespace: str, name: str, resource_version: str | None) -> None:
        preconditions = {"resourceVersion": resource_version} if resource_version else None
        self.client.delete(
            ObjectId(LEASE_API_VERSION, "Lease", namespace, name),
            propagation_policy="Background",
            preconditions=preconditions,
        )
