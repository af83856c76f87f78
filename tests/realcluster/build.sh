#!/usr/bin/env bash
# Build the real-server test control plane from Go modules, or reuse a cached build.
#
# Prints the directory holding the binaries (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl, kwok). The build lives outside
# the work tree, in $KGIT_REALCLUSTER_CACHE (default ~/.cache/kgit/realcluster),
# under a key hashed from go.mod, go.sum, etcd/main.go and this script: a warm run
# costs one hash and one test -x. A lock serialises concurrent callers (pytest-xdist
# workers, make) so the build happens once.
set -euo pipefail
PATH="$PATH:/usr/local/go/bin"  # where the Go tarball installs, if not on PATH
here="$(cd "$(dirname "$0")" && pwd)"
cache="${KGIT_REALCLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kgit/realcluster}"
binaries=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok)

key="$(cd "$here" && cat go.mod go.sum etcd/main.go build.sh | sha256sum | cut -c1-16)"
out="$cache/$key/bin"
complete() { for b in "${binaries[@]}"; do [[ -x "$out/$b" ]] || return 1; done; }

if complete; then echo "$out"; exit 0; fi
command -v go >/dev/null || { echo "build.sh: go is not installed" >&2; exit 3; }
mkdir -p "$cache/$key"
exec 9>"$cache/$key/lock"
flock 9
if complete; then echo "$out"; exit 0; fi

# The component-base and client-go version variables are what `kubectl version`
# and the server's /version report; upstream's build sets them the same way.
cd "$here"
version="$(go list -m -f '{{.Version}}' k8s.io/kubernetes)"
minor="$(echo "$version" | cut -d. -f2)"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean"
done
started=$SECONDS
tmp="$cache/$key/tmp.$$"
rm -rf "$tmp"; mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT  # a failed or interrupted build leaves nothing half-made
echo "build.sh: building the control plane ($version) into $out" >&2
go build -trimpath -ldflags "$ldflags" -o "$tmp/" \
  ./etcd \
  k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler \
  k8s.io/kubernetes/cmd/kubectl \
  sigs.k8s.io/kwok/cmd/kwok
rm -rf "$out"; mv "$tmp" "$out"
echo "build.sh: built in $((SECONDS - started)) s" >&2
echo "$out"
