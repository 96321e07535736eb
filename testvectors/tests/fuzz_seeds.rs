//! The seed corpus of the fuzz targets (`fuzz/`, run by `scripts/fuzz`): reference
//! frames in the input layout each target expects. Regenerate with
//! `cargo test -p testvectors --test fuzz_seeds -- --ignored`; the check below keeps
//! the stored corpus in step with this file.

use std::collections::BTreeMap;
use std::path::PathBuf;

use testvectors::build::{self, Built, FrameSpec, Ip, Proto, Seed, Tunnel};

/// Target name -> (file name -> contents).
type Corpus = BTreeMap<&'static str, BTreeMap<String, Vec<u8>>>;

const MSS: u16 = 100;
/// All NDIS hash types (`HashTypes::ALL`).
const ALL_HASH_TYPES: [u8; 4] = [0x00, 0x01, 0xFF, 0x00];

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz-corpus")
}

fn plain(ip: Ip, proto: Proto, seed: Seed) -> FrameSpec {
    FrameSpec {
        proto,
        ..FrameSpec::tcp(ip, 250, seed)
    }
}

fn tunnel(outer: Ip, inner: Ip, proto: Proto, seed: Seed) -> FrameSpec {
    FrameSpec {
        tunnel: Some(Tunnel::nvgre(outer, 0x00_1234, 5)),
        ..plain(inner, proto, seed)
    }
}

/// Named frame specs covering the layer combinations the parser walks.
fn specs(seed: Seed) -> Vec<(&'static str, FrameSpec)> {
    let mut v = vec![
        ("tcp4", plain(Ip::V4, Proto::Tcp, seed)),
        (
            "tcp6_ext",
            FrameSpec {
                ip_extras: true,
                ..plain(Ip::V6, Proto::Tcp, seed)
            },
        ),
        (
            "tcp4_vlan_opts_ts",
            FrameSpec {
                vlan: Some(0x0123),
                ip_extras: true,
                tcp_timestamps: true,
                ..plain(Ip::V4, Proto::Tcp, seed)
            },
        ),
        ("udp4", plain(Ip::V4, Proto::Udp, seed)),
        ("udp6", plain(Ip::V6, Proto::Udp, seed)),
        ("icmp4", plain(Ip::V4, Proto::Icmp, seed)),
        ("nvgre_4in4_tcp", tunnel(Ip::V4, Ip::V4, Proto::Tcp, seed)),
        ("nvgre_4in6_tcp", tunnel(Ip::V6, Ip::V4, Proto::Tcp, seed)),
        ("nvgre_6in4_udp", tunnel(Ip::V4, Ip::V6, Proto::Udp, seed)),
        ("nvgre_6in6_tcp", tunnel(Ip::V6, Ip::V6, Proto::Tcp, seed)),
        ("nvgre_icmp", tunnel(Ip::V4, Ip::V4, Proto::Icmp, seed)),
    ];
    let mut cks = tunnel(Ip::V4, Ip::V4, Proto::Tcp, seed);
    let t = cks.tunnel.as_mut().unwrap();
    t.gre_checksum = true;
    t.seq = Some(0xFFFF_FFFE);
    t.outer_vlan = Some(7);
    v.push(("gre_cks_4in4_tcp", cks));
    v
}

/// `inner` (a whole frame) inside VXLAN (UDP to 4789, VNI 100) over outer IPv4 or
/// IPv6 with no outer UDP checksum, as Linux hands a tunnel GSO packet to virtio-net;
/// with the outer UDP, inner IP and inner L4 offsets.
fn vxlan(outer: Ip, inner: &Built) -> (Vec<u8>, [u16; 3]) {
    use offload_engines::checksum::checksum;
    let udp_len = 8 + 8 + inner.frame.len();
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
    match outer {
        Ip::V4 => {
            f.extend([0x08, 0x00, 0x45, 0, 0, 0, 0x10, 0x01, 0x40, 0, 64, 17, 0, 0]);
            f[16..18].copy_from_slice(&((20 + udp_len) as u16).to_be_bytes());
            f.extend(build::OUTER_SRC4);
            f.extend(build::OUTER_DST4);
            let c = checksum(&f[14..34]);
            f[24..26].copy_from_slice(&c.to_be_bytes());
        }
        Ip::V6 => {
            f.extend([0x86, 0xdd, 0x60, 0, 0, 0]);
            f.extend((udp_len as u16).to_be_bytes());
            f.extend([17, 64]);
            f.extend([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
            f.extend([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        }
    }
    let outer_udp = f.len();
    f.extend([0xd4, 0x31, 0x12, 0xb5]);
    f.extend((udp_len as u16).to_be_bytes());
    f.extend([0, 0, 0x08, 0, 0, 0, 0, 0, 100, 0]);
    let shift = f.len();
    f.extend(&inner.frame);
    (
        f,
        [outer_udp, shift + inner.ip, shift + inner.l4].map(|o| o as u16),
    )
}

fn with_prefix(prefix: &[u8], frame: &[u8]) -> Vec<u8> {
    [prefix, frame].concat()
}

fn replicate_params(b: &Built, ipv4: bool, udp: bool) -> Vec<u8> {
    let iplen = (b.l4 - b.outer_ip) as u16;
    let mut p = vec![b.outer_ip as u8];
    p.extend_from_slice(&iplen.to_be_bytes());
    p.push((b.header_len - b.l4) as u8);
    p.extend_from_slice(&MSS.to_be_bytes());
    p.push(u8::from(ipv4) | u8::from(udp) << 1);
    for mask in [0x0FF6u16, 0x0FF6, 0x0F7F] {
        p.extend_from_slice(&mask.to_be_bytes());
    }
    p
}

fn corpus() -> Corpus {
    let mut c = Corpus::new();
    let mut add = |target: &'static str, name: &str, bytes: Vec<u8>| {
        c.entry(target)
            .or_default()
            .insert(format!("{name}.bin"), bytes);
    };
    for (name, spec) in specs(Seed::Final) {
        let f = build::build(&spec).frame;
        for target in [
            "parse_frame",
            "parse_headers",
            "parse_partial",
            "rxcsum_validate",
        ] {
            add(target, name, f.clone());
        }
        add(
            "rss_hash_frame",
            name,
            with_prefix(&[&[1u8][..], &ALL_HASH_TYPES].concat(), &f),
        );
    }
    for (name, spec) in specs(Seed::Lso) {
        let b = build::build(&spec);
        let mss = MSS.to_be_bytes();
        let target = match (spec.tunnel.is_some(), spec.proto) {
            (_, Proto::Icmp) => continue,
            (true, _) => "segment_nvgre_lso",
            (false, Proto::Tcp) => "segment_tso",
            (false, Proto::Udp) => "segment_uso",
        };
        add(target, name, with_prefix(&mss, &b.frame));
        let outer_v4 = spec.tunnel.as_ref().map_or(spec.ip, |t| t.outer) == Ip::V4;
        let params = replicate_params(&b, outer_v4, spec.proto == Proto::Udp);
        add("segment_replicate", name, with_prefix(&params, &b.frame));
    }
    for (name, outer, inner, proto) in [
        ("vxlan_4in4_tcp", Ip::V4, Ip::V4, Proto::Tcp),
        ("vxlan_6in4_tcp", Ip::V4, Ip::V6, Proto::Tcp),
        ("vxlan_4in6_udp", Ip::V6, Ip::V4, Proto::Udp),
        ("vxlan_6in6_tcp", Ip::V6, Ip::V6, Proto::Tcp),
    ] {
        let b = build::build(&plain(inner, proto, Seed::Lso));
        let (frame, offsets) = vxlan(outer, &b);
        let mut prefix = MSS.to_be_bytes().to_vec();
        for o in offsets {
            prefix.extend(o.to_be_bytes());
        }
        // UDP inside (bit 0); the outer checksum asked for on IPv6 (bit 1).
        prefix.push(u8::from(proto == Proto::Udp) | u8::from(outer == Ip::V6) << 1);
        add("segment_udp_tunnel", name, with_prefix(&prefix, &frame));
    }
    c
}

#[test]
#[ignore = "writes testvectors/fuzz-corpus"]
fn write_fuzz_seed_corpus() {
    let root = corpus_dir();
    for (target, files) in corpus() {
        let dir = root.join(target);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in files {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
}

#[test]
fn stored_fuzz_seed_corpus_is_current() {
    for (target, files) in corpus() {
        for (name, bytes) in files {
            let path = corpus_dir().join(target).join(&name);
            let stored = std::fs::read(&path).unwrap_or_default();
            assert!(
                stored == bytes,
                "{} is stale; regenerate with \
                 `cargo test -p testvectors --test fuzz_seeds -- --ignored`",
                path.display()
            );
        }
    }
}
