"""Synthetic clusters for benchmarks: N nodes, M apps (one strategic-merge overlay each),
K external services, written as a repository kgit can compile."""

from __future__ import annotations

import argparse
from pathlib import Path

from compiler.core import yamlout


def cluster_spec(apps: int, nodes: int, external: int, namespaces: int = 10) -> dict:
    node_list = [
        {
            "name": f"node-{i:04d}",
            "address": f"192.168.{100 + i // 250}.{i % 250 + 1}",
            "role": "control-plane" if i == 0 else "worker",
        }
        for i in range(nodes)
    ]
    app_list = [
        {
            "name": f"app-{i:05d}",
            "namespace": f"team-{i % namespaces:02d}",
            "image": f"registry.example/team/app-{i % 50}:1.{i % 7}.0",
            "replicas": 1 + i % 3,
            "ports": [8080],
            "env": [{"name": "APP_INDEX", "value": str(i)}],
            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
            "ingress": {"host": f"app-{i:05d}.bench.example", "path": "/"},
            "overlays": [f"overlays/app-{i:05d}.yaml"],
        }
        for i in range(apps)
    ]
    services = [
        {
            "name": f"ext-{i:04d}",
            "namespace": "external",
            "ports": [{"port": 5432, "targetPort": 5432}],
            "addresses": [f"10.200.{i // 250}.{i % 250 + 1}"],
        }
        for i in range(external)
    ]
    return {
        "apiVersion": "kgit.dev/v1alpha1",
        "kind": "Cluster",
        "metadata": {"name": "bench"},
        "spec": {
            "kubernetes": {"version": "1.31.4"},
            "runtime": {"name": "containerd"},
            "network": {"podSubnet": "10.244.0.0/16", "serviceSubnet": "10.96.0.0/16"},
            "nodes": node_list,
            "apps": app_list,
            "externalServices": services,
        },
    }


def overlay_patch(index: int, namespaces: int = 10) -> dict:
    """One strategic-merge patch per app: a probe and a volume, merged by list keys.

    The patch names its namespace so that kustomize, which matches on it, finds the target.
    """
    name = f"app-{index:05d}"
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": f"team-{index % namespaces:02d}"},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": name,
                            "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
                            "volumeMounts": [{"name": "cache", "mountPath": "/cache"}],
                        }
                    ],
                    "volumes": [{"name": "cache", "emptyDir": {}}],
                }
            }
        },
    }


def write_repo(root: Path, *, apps: int, nodes: int, external: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "overlays").mkdir(exist_ok=True)
    (root / "cluster.yaml").write_text(yamlout.dump(cluster_spec(apps, nodes, external)))
    for i in range(apps):
        (root / "overlays" / f"app-{i:05d}.yaml").write_text(yamlout.dump(overlay_patch(i)))
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root", type=Path)
    parser.add_argument("--apps", type=int, default=100)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--external", type=int, default=0)
    args = parser.parse_args()
    write_repo(args.root, apps=args.apps, nodes=args.nodes, external=args.external)


if __name__ == "__main__":
    main()
