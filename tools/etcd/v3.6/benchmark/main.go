// Command benchmark is etcd's own load generator (tools/benchmark of etcd's
// root module go.etcd.io/etcd/v3), the reference of benches/load_ceiling.sh.
// The Go proxy serves the root module only at some tags (v3.6.0, v3.6.8,
// not v3.6.17), so ../go.mod pins v3.6.8 of it; the client, api and server
// modules it links resolve to the 3.6.17 of the server (go version -m).
// Its main is etcd's tools/benchmark/main.go.
package main

import (
	"fmt"
	"os"

	"go.etcd.io/etcd/v3/tools/benchmark/cmd"
)

func main() {
	if err := cmd.RootCmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
