//! Tunnel-aware RSS, VMQ classification and the parser's view of
//! the reference frames.

use offload_engines::parse::{self, IpVersion, ParseError, Transport};
use offload_engines::rss::{hash_frame, HashKind, HashTypes, Toeplitz};
use offload_engines::vmq::{VmqError, VmqFilter, VmqTable};
use testvectors::build::{self, FrameSpec, Ip, Proto, Seed, Tunnel, INNER_DST_MAC, OUTER_DST_MAC};

const KEY: [u8; 40] = [
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
    0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
    0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
];

fn nvgre(outer: Ip, inner: Ip, proto: Proto, vsid: u32) -> FrameSpec {
    FrameSpec {
        tunnel: Some(Tunnel::nvgre(outer, vsid, 9)),
        proto,
        ..FrameSpec::tcp(inner, 64, Seed::Final)
    }
}

fn input(src: &[u8], dst: &[u8], ports: Option<(u16, u16)>) -> Vec<u8> {
    let mut v = [src, dst].concat();
    if let Some((s, d)) = ports {
        v.extend_from_slice(&s.to_be_bytes());
        v.extend_from_slice(&d.to_be_bytes());
    }
    v
}

#[test]
fn tunnel_aware_rss_hashes_inner_4tuple() {
    let t = Toeplitz::new(&KEY);
    for (outer, inner) in [
        (Ip::V4, Ip::V4),
        (Ip::V6, Ip::V4),
        (Ip::V4, Ip::V6),
        (Ip::V6, Ip::V6),
    ] {
        for proto in [Proto::Tcp, Proto::Udp] {
            let b = build::build(&nvgre(outer, inner, proto, 0x100));
            let r = hash_frame(&b.frame, &t, HashTypes::ALL, true).unwrap();
            let (src, dst): (&[u8], &[u8]) = match inner {
                Ip::V4 => (&build::SRC4, &build::DST4),
                Ip::V6 => (&build::SRC6, &build::DST6),
            };
            let expect = t.hash(&input(src, dst, Some((build::SPORT, build::DPORT))));
            assert_eq!(r.hash, expect, "{outer:?}/{inner:?}/{proto:?}");
            let kind = match (inner, proto) {
                (Ip::V4, Proto::Tcp) => HashKind::TcpIpv4,
                (Ip::V4, _) => HashKind::UdpIpv4,
                (Ip::V6, Proto::Tcp) => HashKind::TcpIpv6Ex,
                (Ip::V6, _) => HashKind::UdpIpv6Ex,
            };
            assert_eq!(r.kind, kind);

            // Tunnel-unaware: the outer addresses, as for any GRE packet.
            let r = hash_frame(&b.frame, &t, HashTypes::ALL, false).unwrap();
            let (osrc, odst): (&[u8], &[u8]) = match outer {
                Ip::V4 => (&build::OUTER_SRC4, &build::OUTER_DST4),
                Ip::V6 => (&build::OUTER_SRC6, &build::OUTER_DST6),
            };
            assert_eq!(r.hash, t.hash(&input(osrc, odst, None)));
        }
    }
}

#[test]
fn tunnel_without_inner_transport_hashes_outer_2tuple() {
    let t = Toeplitz::new(&KEY);
    let b = build::build(&nvgre(Ip::V4, Ip::V4, Proto::Icmp, 0x100));
    let r = hash_frame(&b.frame, &t, HashTypes::ALL, true).unwrap();
    assert_eq!(r.kind, HashKind::Ipv4);
    assert_eq!(
        r.hash,
        t.hash(&input(&build::OUTER_SRC4, &build::OUTER_DST4, None))
    );

    // Unparseable inner (truncated): outer 2-tuple as well.
    let b = build::build(&nvgre(Ip::V6, Ip::V4, Proto::Tcp, 0x100));
    let mut f = b.frame[..b.l4 + 4].to_vec();
    let payload_len = (f.len() - b.outer_ip - 40) as u16;
    f[b.outer_ip + 4..b.outer_ip + 6].copy_from_slice(&payload_len.to_be_bytes());
    let r = hash_frame(&f, &t, HashTypes::ALL, true).unwrap();
    assert_eq!(r.kind, HashKind::Ipv6Ex);
    assert_eq!(
        r.hash,
        t.hash(&input(&build::OUTER_SRC6, &build::OUTER_DST6, None))
    );
}

#[test]
fn vmq_matches_inner_mac_vlan_and_vsid() {
    let mut table = VmqTable::new(0, 8);
    table
        .add(VmqFilter {
            mac: INNER_DST_MAC,
            vlan: None,
            vsid: None,
            queue: 1,
        })
        .unwrap();
    table
        .add(VmqFilter {
            mac: INNER_DST_MAC,
            vlan: None,
            vsid: Some(0x5000),
            queue: 2,
        })
        .unwrap();
    table
        .add(VmqFilter {
            mac: INNER_DST_MAC,
            vlan: Some(100),
            vsid: None,
            queue: 3,
        })
        .unwrap();
    table
        .add(VmqFilter {
            mac: OUTER_DST_MAC,
            vlan: None,
            vsid: None,
            queue: 4,
        })
        .unwrap();
    assert_eq!(
        table.add(VmqFilter {
            mac: OUTER_DST_MAC,
            vlan: None,
            vsid: None,
            queue: 5,
        }),
        Err(VmqError::Duplicate)
    );

    let frame = |vsid: u32, vlan: Option<u16>| {
        build::build(&FrameSpec {
            vlan,
            ..nvgre(Ip::V4, Ip::V6, Proto::Tcp, vsid)
        })
        .frame
    };
    assert_eq!(
        table.classify(&frame(0x5000, None)),
        2,
        "VSID-qualified wins"
    );
    assert_eq!(table.classify(&frame(0x5001, None)), 1, "inner MAC");
    assert_eq!(table.classify(&frame(0x5001, Some(100))), 3, "inner VLAN");
    assert_eq!(
        table.classify(&frame(0x5001, Some(0x2000 | 100))),
        3,
        "PCP ignored"
    );
    let plain = build::build(&FrameSpec::tcp(Ip::V4, 10, Seed::Final)).frame;
    assert_eq!(table.classify(&plain), 4, "outer MAC without a tunnel");
    assert!(table.remove(OUTER_DST_MAC, None, None));
    assert_eq!(table.classify(&plain), 0, "default queue");
    assert_eq!(table.classify(&[]), 0);

    let mut full = VmqTable::new(7, 1);
    let f = VmqFilter {
        mac: [1; 6],
        vlan: None,
        vsid: None,
        queue: 1,
    };
    full.add(f).unwrap();
    assert_eq!(
        full.add(VmqFilter { mac: [2; 6], ..f }),
        Err(VmqError::TableFull { capacity: 1 })
    );
}

#[test]
fn parser_reports_offsets_of_reference_frames() {
    let spec = FrameSpec {
        ip_extras: true,
        tcp_timestamps: true,
        vlan: Some(7),
        ..nvgre(Ip::V6, Ip::V6, Proto::Tcp, 0xABCDEF)
    };
    let mut spec = spec;
    let t = spec.tunnel.as_mut().unwrap();
    t.outer_extras = true;
    t.outer_vlan = Some(0x0123);
    t.gre_checksum = true;
    t.seq = Some(5);
    let b = build::build(&spec);
    let p = parse::parse_frame(&b.frame).unwrap();
    assert_eq!(p.outer.eth.vlan_id(), Some(0x123));
    let oip = p.outer.ip.unwrap();
    assert_eq!(
        (oip.offset, oip.version, oip.header_len),
        (b.outer_ip, IpVersion::V6, 48)
    );
    assert!(oip.ext_headers);
    let g = p.gre.unwrap();
    assert_eq!((g.offset, g.header_len), (b.gre.unwrap(), b.gre_len));
    assert_eq!(
        (g.vsid(), g.flow_id(), g.sequence),
        (Some(0xABCDEF), Some(9), Some(5))
    );
    assert!(!g.is_nvgre());
    let inner = p.inner.unwrap();
    assert_eq!(inner.eth.offset, b.inner_eth.unwrap());
    assert_eq!(inner.eth.vlan_id(), Some(7));
    let iip = inner.ip.unwrap();
    assert_eq!((iip.offset, iip.l4_offset()), (b.ip, b.l4));
    let l4 = inner.l4.unwrap();
    assert_eq!(
        (l4.transport, l4.offset, l4.offset + l4.header_len),
        (Transport::Tcp, b.l4, b.header_len)
    );
    assert_eq!(p.headers_end(), b.header_len);

    // Every truncation point of a valid frame is a structured error, never a panic,
    // and the outer layers survive in the partial parse.
    for cut in 0..b.header_len {
        let e = parse::parse_frame(&b.frame[..cut]).unwrap_err();
        assert!(matches!(e, ParseError::Truncated { .. }), "cut {cut}: {e}");
    }
    // Cut inside the inner TCP header but keep the outer length consistent: the outer
    // layers and GRE are still reported.
    let mut cut = b.frame[..b.l4 + 10].to_vec();
    let outer_payload = (cut.len() - b.outer_ip - 40) as u16;
    cut[b.outer_ip + 4..b.outer_ip + 6].copy_from_slice(&outer_payload.to_be_bytes());
    let (partial, err) = parse::parse_partial(&cut).unwrap();
    assert!(err.is_some());
    assert!(partial.gre.is_some() && partial.outer.ip.is_some());

    // IPv6 fragment header: not parseable beyond IP.
    let mut f = b.frame.clone();
    f[b.outer_ip + 40] = 44;
    let p = parse::parse_frame(&f).unwrap();
    assert!(p.outer.ip.unwrap().fragment);
    assert!(p.gre.is_none() && p.inner.is_none());
}
