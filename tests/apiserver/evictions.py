"""``POST pods/NAME/eviction``: the Eviction API, with PodDisruptionBudgets respected.

Upstream, the eviction is refused with 429 TooManyRequests when a PodDisruptionBudget
selecting the pod has no disruption left (``status.disruptionsAllowed``, computed by the
disruption controller). Here the budget is computed from the spec at request time: pods of
the namespace that the PDB selects, minus ``minAvailable``, or ``maxUnavailable``
(integers only). An allowed eviction deletes the pod at once and answers a Success Status.
https://kubernetes.io/docs/concepts/scheduling-eviction/api-eviction/
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.apiserver.messages import Request, Response, Route
from tests.apiserver.status import ApiError

if TYPE_CHECKING:
    from tests.apiserver.server import ApiServer


def _selects(pdb: dict[str, Any], pod: dict[str, Any]) -> bool:
    wanted = ((pdb.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    labels = pod["metadata"].get("labels") or {}
    return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())


def _allowed(server: ApiServer, pdb: dict[str, Any], namespace: str) -> int:
    spec = pdb.get("spec") or {}
    if isinstance(spec.get("maxUnavailable"), int):
        return spec["maxUnavailable"]
    pods = [p for p in server.store.list("", "pods", namespace) if _selects(pdb, p)]
    minimum = spec.get("minAvailable")
    return len(pods) - minimum if isinstance(minimum, int) else 0


def evict(server: ApiServer, req: Request, route: Route) -> Response:
    del req
    namespace, name = route.namespace or "", route.name or ""
    with server.store.lock:
        pod = server.store.get("", "pods", namespace, name)
        if pod is None:
            raise ApiError(
                404, "NotFound", f'pods "{name}" not found', {"name": name, "kind": "pods"}
            )
        for pdb in server.store.list("policy", "poddisruptionbudgets", namespace):
            if _selects(pdb, pod) and _allowed(server, pdb, namespace) <= 0:
                raise ApiError(
                    429,
                    "TooManyRequests",
                    "Cannot evict pod as it would violate the pod's disruption budget.",
                    {
                        "causes": [
                            {
                                "reason": "DisruptionBudget",
                                "message": (
                                    f"The disruption budget {pdb['metadata']['name']} needs more "
                                    "healthy pods"
                                ),
                            }
                        ]
                    },
                )
        server.store.remove("", "pods", namespace, name)
    return Response(
        201,
        {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201},
    )
