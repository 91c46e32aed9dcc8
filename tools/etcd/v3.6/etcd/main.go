// Command etcd is the etcd server of the pinned module in ../go.mod,
// started through its own entry point (go.etcd.io/etcd/server/v3/etcdmain,
// as etcd's server/main.go does).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
