// Command etcd is etcd's own server main (go.etcd.io/etcd/server/v3/etcdmain)
// built from the Go module proxy, for the API server that make test-k8s
// starts through envtest. This helper module is not part of keep.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
