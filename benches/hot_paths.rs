//! Hot paths, measured with criterion: what the disk probes' harness adds
//! to every operation besides the syscalls themselves (recording a latency
//! sample) and to every WAL record (framing it with length, CRC and
//! padding), and what `snapshot analyze` does per revision of the `key`
//! bucket (parse the revision key, decode the `mvccpb.KeyValue`, count it
//! under its user key) and per user key (its group). Run with
//! `cargo bench --bench hot_paths`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use etcd_doctor::keyspace::Grouping;
use etcd_doctor::measure::LatencyHistogram;
use etcd_doctor::probe::disk::wal::{frame_record, framed_len};
use etcd_doctor::snapshot::analyze::DEFAULT_MAX_KEYS;
use etcd_doctor::snapshot::keytable::KeyTable;
use etcd_doctor::snapshot::mvcc::{KeyValue, RevKey};

fn record_sample(c: &mut Criterion) {
    let mut hist = LatencyHistogram::new();
    let mut ns = 100_000u64;
    c.bench_function("record_sample", |b| {
        b.iter(|| {
            // Vary the value so the bucket lookup is not a constant.
            ns = ns.wrapping_mul(6364136223846793005).wrapping_add(1) % 50_000_000;
            hist.record(black_box(Duration::from_nanos(ns)));
        })
    });
}

fn frame_wal_record(c: &mut Criterion) {
    let mut group = c.benchmark_group("frame_wal_record");
    for payload_bytes in [64usize, 1024, 8192] {
        let payload = vec![0xabu8; payload_bytes];
        let mut out = Vec::with_capacity(framed_len(payload_bytes));
        let mut crc = 0u32;
        group.throughput(Throughput::Bytes(payload_bytes as u64));
        group.bench_function(format!("{payload_bytes}B"), |b| {
            b.iter(|| {
                out.clear();
                crc = frame_record(&mut out, black_box(&payload), crc);
                black_box(&out);
            })
        });
    }
    group.finish();
}

/// A `key` bucket entry as etcd writes it: revision key `main_sub`, and an
/// `mvccpb.KeyValue` {key, create, mod, version, value} (fields under 128
/// bytes and revisions under 128, so every varint is one byte).
fn revision(main: u8, key: &[u8], version: u8, value: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut rev = i64::from(main).to_be_bytes().to_vec();
    rev.push(b'_');
    rev.extend(0i64.to_be_bytes());
    let mut kv = vec![0x0a, key.len() as u8];
    kv.extend(key);
    kv.extend([0x10, 1, 0x18, main, 0x20, version, 0x2a, value.len() as u8]);
    kv.extend(value);
    (rev, kv)
}

/// Per revision: parse, decode and count 1000 revisions of 100 pods.
fn analyze_revision(c: &mut Criterion) {
    let entries: Vec<(Vec<u8>, Vec<u8>)> = (0..1000u32)
        .map(|i| {
            let key = format!("/registry/pods/ns-{}/pod-{}", i % 7, i % 100);
            revision(
                (i % 128) as u8,
                key.as_bytes(),
                (i / 100) as u8,
                &[b'v'; 100],
            )
        })
        .collect();
    let mut group = c.benchmark_group("analyze_revision");
    group.throughput(Throughput::Elements(entries.len() as u64));
    group.bench_function("1000_revisions", |b| {
        b.iter(|| {
            let mut table = KeyTable::<(u64, u64)>::default();
            for (rev, value) in &entries {
                let rev = RevKey::parse(black_box(rev)).unwrap();
                let kv = KeyValue::decode(black_box(value)).unwrap();
                let slot = table.get_within(kv.key, DEFAULT_MAX_KEYS).unwrap();
                slot.0 += 1;
                slot.1 = (kv.value_len as u64) << 1 | u64::from(rev.tombstone);
            }
            black_box(table.values().count());
        })
    });
    group.finish();
}

/// Per user key: its Kubernetes group (`/registry/<resource>/<namespace>/`).
fn group_key(c: &mut Criterion) {
    let grouping = Grouping::default();
    let key = b"/registry/pods/kube-system/coredns-7db6d8ff4d-x2x5z";
    c.bench_function("group_key", |b| {
        b.iter(|| black_box(grouping.group(black_box(key))))
    });
}

criterion_group!(
    benches,
    record_sample,
    frame_wal_record,
    analyze_revision,
    group_key
);
criterion_main!(benches);
