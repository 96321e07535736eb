//! NVGRE Tx checksum offload (R-30..R-32) and the 82576 seeded-IPv4-checksum path used
//! by GSO_PARTIAL tunnels.

use offload_engines::segment::{self, L4Kind, ReplicateParams, DEFAULT_TCP_FLAG_MASKS};
use offload_engines::txcsum::{self, TxCsumCaps};
use testvectors::build::{self, FrameSpec, Ip, Proto, Seed, Tunnel};
use testvectors::decode::{self, L4View};
use testvectors::ones;

const ALL: TxCsumCaps = TxCsumCaps {
    ipv4: true,
    tcp: true,
    udp: true,
};

fn nvgre(outer: Ip, inner: Ip, proto: Proto) -> FrameSpec {
    FrameSpec {
        tunnel: Some(Tunnel::nvgre(outer, 0x00_7777, 1)),
        proto,
        ..FrameSpec::tcp(inner, 777, Seed::TxCsum)
    }
}

#[test]
fn outer_and_inner_ip_and_l4_in_every_mix() {
    for outer in [Ip::V4, Ip::V6] {
        for inner in [Ip::V4, Ip::V6] {
            for proto in [Proto::Tcp, Proto::Udp] {
                let spec = FrameSpec {
                    ip_extras: true,
                    ..nvgre(outer, inner, proto)
                };
                let b = build::build(&spec);
                let mut f = b.frame.clone();
                let done = txcsum::offload(&mut f, ALL).unwrap();
                let v = decode::segment(&b, &f);
                assert!(
                    v.checksums_ok(),
                    "{outer:?}/{inner:?}/{proto:?}: {}",
                    v.line()
                );
                assert_eq!(done.outer_ipv4, outer == Ip::V4);
                assert_eq!(done.inner_ipv4, inner == Ip::V4);
                let kind = if proto == Proto::Tcp {
                    L4Kind::Tcp
                } else {
                    L4Kind::Udp
                };
                assert_eq!(done.l4, Some(kind));
                assert!(!done.gre);
            }
        }
    }
}

#[test]
fn inner_icmp_gets_ip_checksums_only() {
    let b = build::build(&nvgre(Ip::V4, Ip::V4, Proto::Icmp));
    let mut f = b.frame.clone();
    let done = txcsum::offload(&mut f, ALL).unwrap();
    assert!(done.outer_ipv4 && done.inner_ipv4);
    assert_eq!(done.l4, None);
    let v = decode::segment(&b, &f);
    assert_eq!(v.outer_ip.unwrap().checksum_ok, Some(true));
    assert_eq!(v.ip.checksum_ok, Some(true));
    assert_eq!(v.l4, L4View::Other);
    // The ICMP bytes are untouched.
    assert_eq!(&f[b.l4..], &b.frame[b.l4..]);
}

#[test]
fn udp_not_offloaded_unless_advertised() {
    let b = build::build(&nvgre(Ip::V4, Ip::V4, Proto::Udp));
    let mut f = b.frame.clone();
    let done = txcsum::offload(
        &mut f,
        TxCsumCaps {
            ipv4: true,
            tcp: true,
            udp: false,
        },
    )
    .unwrap();
    assert_eq!(done.l4, None);
    assert_eq!(
        &f[b.l4 + 6..b.l4 + 8],
        &b.frame[b.l4 + 6..b.l4 + 8],
        "seed left alone"
    );
    let v = decode::segment(&b, &f);
    assert_eq!(v.ip.checksum_ok, Some(true));
}

#[test]
fn gre_checksum_recomputed_after_inner() {
    let mut spec = nvgre(Ip::V6, Ip::V4, Proto::Tcp);
    spec.tunnel.as_mut().unwrap().gre_checksum = true;
    let b = build::build(&spec);
    let mut f = b.frame.clone();
    let done = txcsum::offload(&mut f, ALL).unwrap();
    assert!(done.gre);
    let v = decode::segment(&b, &f);
    assert!(v.checksums_ok(), "{}", v.line());
    assert_eq!(v.gre.unwrap().checksum_ok, Some(true));
}

/// Linux GSO_PARTIAL over GRE on igb: the context descriptor's IPLEN spans outer IP +
/// GRE + inner Ethernet + inner IP, the inner headers are final for a full-MSS segment,
/// and the outer checksum field is seeded so that the non-outer-IP bytes cancel out.
#[test]
fn replicate_with_seeded_outer_checksum_over_the_tunnel_span() {
    let mss = 1000;
    let spec = FrameSpec {
        tunnel: Some(Tunnel::nvgre(Ip::V4, 0x00_2222, 3)),
        ..FrameSpec::tcp(Ip::V4, 3 * mss, Seed::Lso)
    };
    let b = build::build(&spec);
    let mut f = b.frame.clone();
    // Inner IPv4 as it must look in every segment.
    let inner_total = (b.header_len - b.ip + mss) as u16;
    f[b.ip + 2..b.ip + 4].copy_from_slice(&inner_total.to_be_bytes());
    let (h, _) = etherparse::Ipv4Header::from_slice(&f[b.ip..]).unwrap();
    f[b.ip + 10..b.ip + 12].copy_from_slice(&h.calc_header_checksum().to_be_bytes());
    // Seed: the complement of everything between the outer IP header and the inner L4
    // header (the valid inner IPv4 header sums to zero anyway).
    let gre = b.gre.unwrap();
    let seed = !ones::sum16(&f[gre..b.l4], 0);
    f[b.outer_ip + 10..b.outer_ip + 12].copy_from_slice(&seed.to_be_bytes());

    let p = ReplicateParams {
        maclen: b.outer_ip,
        iplen: b.l4 - b.outer_ip,
        l4len: b.header_len - b.l4,
        mss,
        ipv4: true,
        l4: L4Kind::Tcp,
        tcp_flag_masks: DEFAULT_TCP_FLAG_MASKS,
    };
    let mut segs = Vec::new();
    let stats = segment::replicate(&f, &p, &mut |s| segs.push(s.to_vec())).unwrap();
    assert_eq!(stats.segments, 3);
    for (k, s) in segs.iter().enumerate() {
        let v = decode::segment(&b, s);
        assert!(v.checksums_ok(), "segment {k}: {}", v.line());
        assert_eq!(
            usize::from(v.outer_ip.as_ref().unwrap().len),
            s.len() - b.outer_ip
        );
        assert_eq!(v.ip.id, Some(spec.id), "inner ID is left to the host");
    }
}
