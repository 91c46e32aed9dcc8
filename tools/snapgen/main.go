// Command snapgen writes an etcd snapshot file of a chosen shape and size
// without an etcd server, for benches/analyze_speed.sh: filling a member
// through its API takes hours at 8 GiB, this takes about a minute.
//
// The file is what `etcdctl snapshot save` produces: a bbolt database
// (go.etcd.io/bbolt, the version etcd 3.6 pins) with etcd's buckets - `key`
// holding revision keys (8-byte big-endian main revision, '_', 8-byte sub
// revision, 't' on tombstones) mapping to mvccpb.KeyValue records
// (go.etcd.io/etcd/api/v3), `meta` with consistent_index and term, `lease`
// - cut to its high-water mark (tx.Size(), what Tx.WriteTo streams) and
// followed by the sha256 of those bytes, as etcd's snapshot stream ends.
// Revisions are appended in order with etcd's fill percent for sequential
// puts (0.9), so pages are split as a member's would be.
//
// Shapes (SIZE is the database size to reach, bytes):
//
//	flat     keys of 1200-1300 B values under 4 prefixes, one revision each
//	history  1000 keys of 1 KB values, rewritten round-robin; each key is
//	         deleted (a tombstone) on one visit in 50 and recreated on the next
//	small    keys of ~40 B with 8-24 B values, one revision each
//	large    1 MiB values (1-1.25 MiB), one revision each
//
// Usage: snapgen SHAPE SIZE OUT. OUT must not exist.
package main

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand"
	"os"
	"strconv"

	bolt "go.etcd.io/bbolt"
	"go.etcd.io/etcd/api/v3/mvccpb"
)

// batchBytes is how many value bytes go into one bbolt transaction.
const batchBytes = 32 << 20

// shape says what the next revision writes.
type shape struct {
	// next returns the user key, the value length and whether the revision
	// is a deletion, for revision number i (0-based).
	next func(i int64) (key []byte, valueLen int, tombstone bool)
}

var prefixes = []string{"/registry/pods/default/", "/registry/configmaps/default/", "/registry/secrets/default/", "/registry/services/default/"}

func shapes(rng *rand.Rand) map[string]shape {
	return map[string]shape{
		"flat": {func(i int64) ([]byte, int, bool) {
			return fmt.Appendf(nil, "%sobject-%010d", prefixes[i%4], i), 1200 + rng.Intn(101), false
		}},
		"history": {func(i int64) ([]byte, int, bool) {
			return fmt.Appendf(nil, "%shot-%04d", prefixes[i%4], i%1000), 1000 + rng.Intn(49), (i%1000+i/1000)%50 == 49
		}},
		"small": {func(i int64) ([]byte, int, bool) {
			return fmt.Appendf(nil, "%sk%012d", prefixes[i%4], i), 8 + rng.Intn(17), false
		}},
		"large": {func(i int64) ([]byte, int, bool) {
			return fmt.Appendf(nil, "%sblob-%06d", prefixes[i%4], i), 1<<20 + rng.Intn(1<<18), false
		}},
	}
}

func revKey(main, sub int64, tombstone bool) []byte {
	b := make([]byte, 17, 18)
	binary.BigEndian.PutUint64(b, uint64(main))
	b[8] = '_'
	binary.BigEndian.PutUint64(b[9:], uint64(sub))
	if tombstone {
		b = append(b, 't')
	}
	return b
}

func u64be(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

// committedSize is the database size as of the last commit (inside an
// update, tx.Size() does not count the pages the commit will allocate).
func committedSize(db *bolt.DB) (size int64) {
	if err := db.View(func(tx *bolt.Tx) error { size = tx.Size(); return nil }); err != nil {
		fail("%v", err)
	}
	return size
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "snapgen: "+format+"\n", args...)
	os.Exit(2)
}

// keyState is what etcd's index keeps per key for the next revision.
type keyState struct{ create, version int64 }

func main() {
	if len(os.Args) != 4 {
		fail("usage: snapgen flat|history|small|large SIZE_BYTES OUT")
	}
	rng := rand.New(rand.NewSource(27))
	sh, ok := shapes(rng)[os.Args[1]]
	if !ok {
		fail("unknown shape %q", os.Args[1])
	}
	target, err := strconv.ParseInt(os.Args[2], 10, 64)
	if err != nil || target < 1<<20 || target > 64<<30 {
		fail("SIZE_BYTES %q: want 1 MiB to 64 GiB", os.Args[2])
	}
	out := os.Args[3]
	if _, err := os.Stat(out); err == nil {
		fail("%s exists; not replacing it", out)
	}
	db, err := bolt.Open(out, 0o600, &bolt.Options{NoSync: true, NoFreelistSync: true, NoGrowSync: true})
	if err != nil {
		fail("%v", err)
	}
	// Random, incompressible value bytes; values are slices of it.
	pool := make([]byte, 2<<20)
	rng.Read(pool)
	keys := map[string]*keyState{}
	var rev, size int64
	for size < target {
		err = db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("key"))
			if err != nil {
				return err
			}
			b.FillPercent = 0.9
			for batch := 0; batch < batchBytes; {
				rev++
				key, n, tomb := sh.next(rev - 1)
				s := keys[string(key)]
				// etcd deletes only a key that exists.
				tomb = tomb && s != nil && s.create != 0
				if s == nil || s.create == 0 {
					s = &keyState{create: rev}
					keys[string(key)] = s
				}
				kv := mvccpb.KeyValue{Key: key}
				if tomb {
					s.create, s.version = 0, 0
				} else {
					s.version++
					off := rng.Intn(len(pool) - n + 1)
					kv = mvccpb.KeyValue{Key: key, CreateRevision: s.create, ModRevision: rev, Version: s.version, Value: pool[off : off+n]}
				}
				if !tomb && os.Args[1] != "history" {
					delete(keys, string(key)) // one revision per key: nothing to remember
				}
				v, err := kv.Marshal()
				if err != nil {
					return err
				}
				if err := b.Put(revKey(rev, 0, tomb), v); err != nil {
					return err
				}
				batch += len(v) + 18 + 16
			}
			return nil
		})
		if err != nil {
			fail("%v", err)
		}
		size = committedSize(db)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		m, err := tx.CreateBucketIfNotExists([]byte("meta"))
		if err != nil {
			return err
		}
		if err := m.Put([]byte("consistent_index"), u64be(uint64(rev)+10)); err != nil {
			return err
		}
		if err := m.Put([]byte("term"), u64be(2)); err != nil {
			return err
		}
		for _, name := range []string{"lease", "alarm", "auth", "authRoles", "authUsers", "cluster", "members", "members_removed"} {
			if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		fail("%v", err)
	}
	size = committedSize(db)
	if err := db.Close(); err != nil {
		fail("%v", err)
	}
	// Cut to the high-water mark, then append sha256 of the bytes, as the
	// snapshot stream (Tx.WriteTo + hash) would.
	f, err := os.OpenFile(out, os.O_RDWR, 0)
	if err != nil {
		fail("%v", err)
	}
	if err := f.Truncate(size); err != nil {
		fail("%v", err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, size)); err != nil {
		fail("%v", err)
	}
	if _, err := f.WriteAt(h.Sum(nil), size); err != nil {
		fail("%v", err)
	}
	if err := f.Close(); err != nil {
		fail("%v", err)
	}
	fmt.Printf("%s: %d revisions, %d bytes\n", out, rev, size+sha256.Size)
}
