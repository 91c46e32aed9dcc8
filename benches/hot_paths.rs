//! Hot paths of the disk probes, measured with criterion: what the harness
//! adds to every operation besides the syscalls themselves (recording a
//! latency sample) and to every WAL record (framing it with length, CRC
//! and padding). Run with `cargo bench --bench hot_paths`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use etcd_doctor::measure::LatencyHistogram;
use etcd_doctor::probe::disk::wal::{frame_record, framed_len};

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

criterion_group!(benches, record_sample, frame_wal_record);
criterion_main!(benches);
