//! Throughput of the hot paths, each beside a memcpy of the same bytes so that results
//! read as "cost relative to touching the data once".

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use offload_engines::checksum;
use offload_engines::rss::{hash_frame, HashTypes, Toeplitz};
use offload_engines::segment::Segmenter;

const RSS_KEY: [u8; 40] = [
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
    0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
    0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
];

fn bytes(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 131 + 17) as u8).collect()
}

fn bench_checksum(c: &mut Criterion) {
    let mut g = c.benchmark_group("checksum");
    for len in [1500usize, 64 * 1024] {
        let data = bytes(len);
        let mut dst = vec![0u8; len];
        g.throughput(Throughput::Bytes(len as u64));
        g.bench_with_input(BenchmarkId::new("sum", len), &data, |b, d| {
            b.iter(|| checksum::checksum(black_box(d)))
        });
        g.bench_with_input(BenchmarkId::new("memcpy", len), &data, |b, d| {
            b.iter(|| {
                dst.copy_from_slice(black_box(d));
                black_box(&dst);
            })
        });
    }
    g.finish();
}

/// Outer IPv4 + NVGRE + inner Ethernet/IPv4/TCP with 64 KiB of payload.
fn nvgre_super_packet(payload_len: usize) -> Vec<u8> {
    let mut inner = Vec::new();
    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 3], [2, 0, 0, 0, 0, 4])
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .tcp(40000, 5201, 1, 0xffff)
        .write(&mut inner, &[])
        .unwrap();
    inner.extend(bytes(payload_len));
    let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00];
    let ip = etherparse::Ipv4Header {
        time_to_live: 64,
        protocol: etherparse::IpNumber(47),
        source: [192, 168, 0, 1],
        destination: [192, 168, 0, 2],
        ..Default::default()
    };
    ip.write_raw(&mut f).unwrap();
    f.extend_from_slice(&[0x20, 0x00, 0x65, 0x58, 0x12, 0x34, 0x56, 0x01]);
    f.extend(inner);
    f
}

fn bench_lso(c: &mut Criterion) {
    let mut g = c.benchmark_group("nvgre_lso");
    let frame = nvgre_super_packet(64 * 1024);
    let mut seg = Segmenter::new();
    let mut dst = vec![0u8; frame.len()];
    g.throughput(Throughput::Bytes(frame.len() as u64));
    g.bench_function("mss1418_64KiB", |b| {
        b.iter(|| {
            let mut n = 0usize;
            seg.nvgre_lso(black_box(&frame), 1418, &mut |s| n += s.len())
                .unwrap();
            black_box(n)
        })
    });
    g.bench_function("memcpy_64KiB", |b| {
        b.iter(|| {
            dst.copy_from_slice(black_box(&frame));
            black_box(&dst);
        })
    });
    g.finish();
}

fn bench_toeplitz(c: &mut Criterion) {
    let mut g = c.benchmark_group("toeplitz");
    let t = Toeplitz::new(&RSS_KEY);
    let input = [66u8, 9, 149, 187, 161, 142, 100, 80, 0x0a, 0xea, 0x06, 0xe6];
    let mut dst = [0u8; 12];
    g.throughput(Throughput::Elements(1));
    g.bench_function("tcp_ipv4_tuple", |b| b.iter(|| t.hash(black_box(&input))));
    g.bench_function("memcpy_12B", |b| {
        b.iter(|| {
            dst.copy_from_slice(black_box(&input));
            black_box(&dst);
        })
    });
    let mut frame = Vec::new();
    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([66, 9, 149, 187], [161, 142, 100, 80], 64)
        .tcp(2794, 1766, 1, 1000)
        .write(&mut frame, &[0; 10])
        .unwrap();
    let types = HashTypes::IPV4 | HashTypes::TCP_IPV4;
    g.bench_function("hash_frame_tcp_ipv4", |b| {
        b.iter(|| hash_frame(black_box(&frame), &t, types, true))
    });
    g.finish();
}

criterion_group!(benches, bench_checksum, bench_lso, bench_toeplitz);
criterion_main!(benches);
