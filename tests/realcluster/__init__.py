"""A real control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
KWOK) built from Go modules, for tests that must agree with upstream Kubernetes."""
