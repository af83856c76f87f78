"""ObjectId: one identity for an object, as the API server keys it."""

from compiler.core.identity import ObjectId


def test_version_is_not_part_of_the_identity():
    old = ObjectId("apps/v1beta2", "Deployment", "web", "nginx")
    new = ObjectId("apps/v1", "Deployment", "web", "nginx")
    assert old == new
    assert new in {old}
    assert {old: "recorded"}[new] == "recorded"


def test_group_kind_namespace_and_name_are():
    base = ObjectId("apps/v1", "Deployment", "web", "nginx")
    assert base != ObjectId("extensions/v1beta1", "Deployment", "web", "nginx")
    assert base != ObjectId("apps/v1", "DaemonSet", "web", "nginx")
    assert base != ObjectId("apps/v1", "Deployment", "prod", "nginx")
    assert base != ObjectId("apps/v1", "Deployment", "web", "api")


def test_scope_comes_from_the_object():
    role = ObjectId.of(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "flannel"},
        }
    )
    assert role.namespace == ""
    assert str(role) == "ClusterRole.rbac.authorization.k8s.io/flannel"
    svc = ObjectId.of(
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api", "namespace": "shop"}}
    )
    assert str(svc) == "Service/shop/api"


def test_orders_by_group_then_kind_namespace_name():
    ids = [
        ObjectId("apps/v1", "Deployment", "a", "x"),
        ObjectId("v1", "Service", "b", "y"),
        ObjectId("v1", "ConfigMap", "b", "z"),
    ]
    assert [i.kind for i in sorted(ids)] == ["ConfigMap", "Service", "Deployment"]
