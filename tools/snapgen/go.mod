// snapgen: writes etcd snapshot files of a given shape for
// benches/analyze_speed.sh, from the bbolt and mvccpb modules etcd 3.6 pins
// (see ../etcd/v3.6/go.mod); checked against go.sum.
module etcd-doctor.local/tools/snapgen

go 1.26.0

require (
	go.etcd.io/bbolt v1.4.3
	go.etcd.io/etcd/api/v3 v3.6.17
)

require (
	github.com/gogo/protobuf v1.3.2 // indirect
	github.com/golang/protobuf v1.5.4 // indirect
	golang.org/x/sys v0.49.0 // indirect
	google.golang.org/protobuf v1.36.11 // indirect
)
