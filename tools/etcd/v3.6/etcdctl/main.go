// Command etcdctl is the etcdctl of the pinned module in ../go.mod,
// through its entry point go.etcd.io/etcd/etcdctl/v3/ctlv3.MustStart
// (as etcd's etcdctl/main.go does).
package main

import "go.etcd.io/etcd/etcdctl/v3/ctlv3"

func main() {
	ctlv3.MustStart()
}
