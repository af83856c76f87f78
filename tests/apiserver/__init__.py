"""An in-memory Kubernetes API server for tests: real clients (kubectl, the official
Python client) talk to it over HTTP on 127.0.0.1.

It implements what kgit's reconciler relies on, following the upstream API reference:
discovery, CRUD with resourceVersion/generation, LIST selectors and pagination,
server-side apply with managedFields, JSON/strategic merge patches, dry-run, server
defaults, immutable-field validation, status subresources, simulated controllers and
fault injection. See docs/testing-apiserver.md.
"""

from tests.apiserver.server import ApiServer, start_server

__all__ = ["ApiServer", "start_server"]
