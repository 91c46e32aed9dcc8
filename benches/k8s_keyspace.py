#!/usr/bin/env python3
"""Fills an etcd 3.5 member with a Kubernetes-like keyspace until its
database reaches a target size, for benches/analyze_speed.sh.

Writes through etcd's JSON gRPC gateway on the client URL (stdlib only, one
keep-alive connection, txns of at most 128 puts and 1 MiB), deterministic
(seeded). The shape follows a busy cluster: nodes, namespaces, pods,
deployments, replicasets, services, secrets and configmaps created once;
then rounds of churn (pod status updates, node heartbeats on
/registry/leases/kube-node-lease, events attached to an etcd lease, one
configmap rewritten every round as a leader-election record, pods deleted
and recreated); halfway, a compaction to the revision of a quarter of the
way (so the file has uncompacted history and free pages, as a cluster
compacted every few minutes has).

Usage: k8s_keyspace.py ENDPOINT TARGET_MIB (object counts as listed below
for 1024 MiB, scaled down for less)
"""

import base64
import http.client
import json
import random
import sys
import urllib.parse

# Object counts for 1024 MiB; smaller targets scale them down.
NAMESPACES = 40
NODES = 200
PODS = 15000
DEPLOYMENTS = 3000
SERVICES = 1500
SECRETS = 3000
CONFIGMAPS = 3000
EVENT_LEASES = 100
EVENTS_PER_ROUND = 2000
MAX_OPS = 128
MAX_TXN_BYTES = 1 << 20


class Etcd:
    """A keep-alive connection to etcd's gRPC gateway."""

    def __init__(self, endpoint):
        url = urllib.parse.urlparse(endpoint)
        self.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
        self.ops, self.bytes = [], 0

    def call(self, path, body):
        self.conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        resp = self.conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            sys.exit(f"{path}: HTTP {resp.status}: {data[:300]!r}")
        return json.loads(data)

    def put(self, key, value, lease=0):
        req = {"key": b64(key), "value": b64(value)}
        if lease:
            req["lease"] = str(lease)
        self.queue({"request_put": req}, len(key) + len(value))

    def delete(self, key):
        self.queue({"request_delete_range": {"key": b64(key)}}, len(key))

    def queue(self, op, size):
        if len(self.ops) >= MAX_OPS or self.bytes + size > MAX_TXN_BYTES:
            self.flush()
        self.ops.append(op)
        self.bytes += size

    def flush(self):
        if self.ops:
            self.call("/v3/kv/txn", {"success": self.ops})
        self.ops, self.bytes = [], 0

    def status(self):
        """(db size bytes, revision)."""
        self.flush()
        s = self.call("/v3/maintenance/status", {})
        return int(s["dbSize"]), int(s["header"]["revision"])


def b64(b):
    return base64.b64encode(b).decode()


def main():
    global NODES, PODS, DEPLOYMENTS, SERVICES, SECRETS, CONFIGMAPS, EVENTS_PER_ROUND
    endpoint, target = sys.argv[1], int(sys.argv[2]) << 20
    scale = min(max(target / (1024 << 20), 0.02), 1.0)
    NODES, PODS, DEPLOYMENTS, SERVICES, SECRETS, CONFIGMAPS, EVENTS_PER_ROUND = (
        max(int(n * scale), 10) for n in (NODES, PODS, DEPLOYMENTS, SERVICES, SECRETS, CONFIGMAPS, EVENTS_PER_ROUND))
    rng = random.Random(15)
    etcd = Etcd(endpoint)

    def value(kind, size):
        # Kubernetes stores protobuf behind a "k8s\0" magic.
        return b"k8s\x00" + kind.encode() + rng.randbytes(max(size + rng.randint(-size // 4, size // 4), 16))

    ns = [f"ns-{i:02d}" for i in range(NAMESPACES)] + ["kube-system", "default"]
    for n in ns:
        etcd.put(f"/registry/namespaces/{n}".encode(), value("Namespace", 400))
    for i in range(NODES):
        etcd.put(f"/registry/minions/node-{i:03d}".encode(), value("Node", 12000))
    for kind, count, size in [("deployments", DEPLOYMENTS, 3000), ("replicasets", DEPLOYMENTS, 3000),
                              ("services/specs", SERVICES, 1000), ("secrets", SECRETS, 4000),
                              ("configmaps", CONFIGMAPS, 16000)]:
        for i in range(count):
            etcd.put(f"/registry/{kind}/{ns[i % len(ns)]}/{kind.split('/')[0]}-{i}".encode(), value(kind, size))
    pods = [f"/registry/pods/{ns[i % len(ns)]}/pod-{i}".encode() for i in range(PODS)]
    for p in pods:
        etcd.put(p, value("Pod", 3500))
    etcd.flush()
    leases = [int(etcd.call("/v3/lease/grant", {"TTL": 3600})["ID"]) for _ in range(EVENT_LEASES)]

    rounds, compact_at, marks, event = 0, None, [], 0
    while True:
        size, rev = etcd.status()
        marks.append(rev)
        print(f"round {rounds}: db {size >> 20} MiB, revision {rev}", file=sys.stderr)
        if size >= target:
            break
        if compact_at is None and size >= target // 2:
            compact_at = marks[len(marks) // 2]
            etcd.call("/v3/kv/compaction", {"revision": str(compact_at), "physical": True})
        # A txn may name a key once: flush between the groups.
        for i in range(NODES):
            etcd.put(f"/registry/leases/kube-node-lease/node-{i:03d}".encode(), value("Lease", 400))
        for p in rng.sample(pods, PODS // 4):
            etcd.put(p, value("Pod", 3500))
        etcd.flush()
        for _ in range(EVENTS_PER_ROUND):
            etcd.put(f"/registry/events/{rng.choice(ns)}/pod-{rng.randrange(PODS)}.{event:x}".encode(),
                     value("Event", 800), lease=rng.choice(leases))
            event += 1
        for _ in range(50):
            etcd.put(b"/registry/configmaps/kube-system/cluster-autoscaler-status", value("ConfigMap", 2000))
            etcd.flush()
        for i in rng.sample(range(CONFIGMAPS), CONFIGMAPS // 15):
            etcd.put(f"/registry/configmaps/{ns[i % len(ns)]}/configmaps-{i}".encode(), value("ConfigMap", 16000))
        etcd.flush()
        for p in rng.sample(pods, PODS // 150):
            etcd.delete(p)
        etcd.flush()
        for p in rng.sample(pods, PODS // 150):
            etcd.put(p, value("Pod", 3500))
        rounds += 1


if __name__ == "__main__":
    main()
