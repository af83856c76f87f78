// Command etcd runs etcd's own server main from the go.etcd.io/etcd/server/v3
// module, so the test control plane's etcd is built from the same go.sum as
// the Kubernetes binaries (etcd's root module is a separate tree of tools).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
