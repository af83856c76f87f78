"""The cluster client: credentials (kubeconfig or in-cluster), one request path with
timeouts and retries, and the errors a request can end in.

Only the reconcile side imports this package, and the ``kubernetes`` library loads with
it: the compile commands never import it (a test holds them to that).
"""

from compiler.reconcile.client.client import (
    FIELD_MANAGER,
    ClientOptions,
    ClusterClient,
    connect,
)
from compiler.reconcile.client.credentials import Credentials, load_credentials
from compiler.reconcile.client.errors import ApiRejected, ClusterUnreachable, UnservedKind

__all__ = [
    "FIELD_MANAGER",
    "ApiRejected",
    "ClientOptions",
    "ClusterClient",
    "ClusterUnreachable",
    "Credentials",
    "UnservedKind",
    "connect",
    "load_credentials",
]
