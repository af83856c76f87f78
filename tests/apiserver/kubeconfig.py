"""A kubeconfig for the test server (plain HTTP, a static token nobody checks)."""

from __future__ import annotations

from pathlib import Path

import yaml


def kubeconfig_dict(url: str, context: str = "kgit-test") -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": context, "cluster": {"server": url}}],
        "users": [{"name": context, "user": {"token": "kgit-test-token"}}],
        "contexts": [
            {
                "name": context,
                "context": {"cluster": context, "user": context, "namespace": "default"},
            }
        ],
        "current-context": context,
    }


def write_kubeconfig(path: Path, url: str, context: str = "kgit-test") -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(kubeconfig_dict(url, context), sort_keys=False))
    return path
