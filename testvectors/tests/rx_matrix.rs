//! Receive checksum validation over the requirements' Rx vectors.

use etherparse::Ipv4Header;
use offload_engines::rxcsum::{self, L4Kind, RxCsum};
use serde::Serialize;
use testvectors::build::{self, Built, FrameSpec, Ip, Proto, Seed, Tunnel};

fn nvgre(outer: Ip, inner: Ip, proto: Proto) -> FrameSpec {
    FrameSpec {
        tunnel: Some(Tunnel::nvgre(outer, 0x00_5001, 0x42)),
        proto,
        ..FrameSpec::tcp(inner, 300, Seed::Final)
    }
}

fn flip(frame: &mut [u8], at: usize) {
    frame[at] ^= 0x01;
}

fn fix_ipv4_checksum(frame: &mut [u8], off: usize) {
    let (h, _) = Ipv4Header::from_slice(&frame[off..]).unwrap();
    let c = h.calc_header_checksum();
    frame[off + 10..off + 12].copy_from_slice(&c.to_be_bytes());
}

fn l4_checksum_at(b: &Built, proto: Proto) -> usize {
    match proto {
        Proto::Tcp => b.l4 + 16,
        Proto::Udp => b.l4 + 6,
        Proto::Icmp => b.l4 + 2,
    }
}

#[derive(Serialize)]
struct Row {
    case: &'static str,
    outer_ipv4: Option<bool>,
    outer_l4: Option<String>,
    gre: Option<bool>,
    inner_ipv4: Option<bool>,
    inner_l4: Option<String>,
    ip_ok: Option<bool>,
    tunnel: Option<String>,
}

fn hex(v: Option<u32>) -> String {
    v.map_or_else(|| "-".to_string(), |x| format!("{x:#x}"))
}

fn row(case: &'static str, r: &RxCsum) -> Row {
    let l4 = |v: Option<(L4Kind, bool)>| {
        v.map(|(k, ok)| format!("{k:?} {}", if ok { "ok" } else { "BAD" }))
    };
    Row {
        case,
        outer_ipv4: r.outer_ipv4,
        outer_l4: l4(r.outer_l4),
        gre: r.gre,
        inner_ipv4: r.inner_ipv4,
        inner_l4: l4(r.inner_l4),
        ip_ok: r.ip_ok(),
        tunnel: r.tunnel.map(|g| {
            format!(
                "flags={:#06x} proto={:#06x} nvgre={} vsid={} flow={} seq={}",
                g.flags,
                g.protocol,
                g.is_nvgre(),
                hex(g.vsid()),
                hex(g.flow_id().map(u32::from)),
                hex(g.sequence)
            )
        }),
    }
}

#[test]
fn rx_matrix() {
    let mut rows = Vec::new();
    let good = Some(true);
    let bad = Some(false);

    // Each bad checksum alone and all combined, in all four IP version mixes.
    for (outer, inner, name_good, name_bad_outer, name_bad_inner_ip, name_bad_l4, name_all) in [
        (
            Ip::V4,
            Ip::V4,
            "v4/v4 good",
            "v4/v4 bad outer IP",
            "v4/v4 bad inner IP",
            "v4/v4 bad TCP",
            "v4/v4 all bad",
        ),
        (
            Ip::V6,
            Ip::V4,
            "v4-in-v6 good",
            "v4-in-v6 bad outer IP",
            "v4-in-v6 bad inner IP",
            "v4-in-v6 bad TCP",
            "v4-in-v6 all bad",
        ),
        (
            Ip::V4,
            Ip::V6,
            "v6-in-v4 good",
            "v6-in-v4 bad outer IP",
            "v6-in-v4 bad inner IP",
            "v6-in-v4 bad TCP",
            "v6-in-v4 all bad",
        ),
        (
            Ip::V6,
            Ip::V6,
            "v6/v6 good",
            "v6/v6 bad outer IP",
            "v6/v6 bad inner IP",
            "v6/v6 bad TCP",
            "v6/v6 all bad",
        ),
    ] {
        let b = build::build(&nvgre(outer, inner, Proto::Tcp));
        let r = rxcsum::validate(&b.frame);
        let v4 = |ip: Ip| (ip == Ip::V4).then_some(true);
        assert_eq!(r.outer_ipv4, v4(outer));
        assert_eq!(r.inner_ipv4, v4(inner));
        assert_eq!(r.inner_l4, Some((L4Kind::Tcp, true)));
        assert_eq!(r.outer_l4, None);
        assert_eq!(r.gre, None);
        rows.push(row(name_good, &r));

        let mut f = b.frame.clone();
        flip(&mut f, b.outer_ip + 10); // v4: checksum; v6: payload length low bits
        if outer == Ip::V4 {
            let r = rxcsum::validate(&f);
            assert_eq!(
                (r.outer_ipv4, r.inner_ipv4, r.ip_ok()),
                (bad, v4(inner), bad)
            );
            assert_eq!(r.inner_l4, Some((L4Kind::Tcp, true)));
            rows.push(row(name_bad_outer, &r));
        }

        if inner == Ip::V4 {
            let mut f = b.frame.clone();
            flip(&mut f, b.ip + 10);
            let r = rxcsum::validate(&f);
            assert_eq!(
                (r.outer_ipv4, r.inner_ipv4, r.ip_ok()),
                (v4(outer), bad, bad)
            );
            assert_eq!(r.inner_l4, Some((L4Kind::Tcp, true)));
            rows.push(row(name_bad_inner_ip, &r));
        }

        let mut f = b.frame.clone();
        flip(&mut f, l4_checksum_at(&b, Proto::Tcp));
        let r = rxcsum::validate(&f);
        assert_eq!(r.inner_l4, Some((L4Kind::Tcp, false)));
        assert_eq!((r.outer_ipv4, r.inner_ipv4), (v4(outer), v4(inner)));
        rows.push(row(name_bad_l4, &r));

        let mut f = b.frame.clone();
        if outer == Ip::V4 {
            flip(&mut f, b.outer_ip + 10);
        }
        if inner == Ip::V4 {
            flip(&mut f, b.ip + 10);
        }
        flip(&mut f, l4_checksum_at(&b, Proto::Tcp));
        let r = rxcsum::validate(&f);
        assert_eq!(r.inner_l4, Some((L4Kind::Tcp, false)));
        assert_eq!(
            r.ip_ok(),
            (outer == Ip::V4 || inner == Ip::V4).then_some(false)
        );
        rows.push(row(name_all, &r));
    }

    // GRE checksum, sequence number, C+K+S.
    for (c, k, s, name) in [
        (true, true, false, "GRE C+K good"),
        (false, true, true, "GRE K+S"),
        (true, true, true, "GRE C+K+S good"),
    ] {
        let mut spec = nvgre(Ip::V4, Ip::V4, Proto::Tcp);
        let t = spec.tunnel.as_mut().unwrap();
        t.gre_checksum = c;
        t.key = k.then_some((0x5001 << 8) | 0x42);
        t.seq = s.then_some(7);
        let b = build::build(&spec);
        let r = rxcsum::validate(&b.frame);
        assert_eq!(r.gre, c.then_some(true));
        assert_eq!(r.inner_l4, Some((L4Kind::Tcp, true)));
        assert_eq!(r.tunnel.unwrap().sequence, s.then_some(7));
        assert!(!r.tunnel.unwrap().is_nvgre() || (!c && !s));
        rows.push(row(name, &r));
        if c {
            let mut f = b.frame.clone();
            flip(&mut f, b.gre.unwrap() + 4);
            let r = rxcsum::validate(&f);
            assert_eq!(r.gre, bad);
            assert_eq!(r.inner_l4, Some((L4Kind::Tcp, true)));
            rows.push(row(
                if s {
                    "GRE C+K+S bad checksum"
                } else {
                    "GRE C+K bad checksum"
                },
                &r,
            ));
        }
    }

    // GRE carrying IPv4 directly (0x0800): not NVGRE, no inner result.
    let b = build::build(&nvgre(Ip::V4, Ip::V4, Proto::Tcp));
    let mut f = b.frame.clone();
    let g = b.gre.unwrap();
    f[g + 2..g + 4].copy_from_slice(&0x0800u16.to_be_bytes());
    let r = rxcsum::validate(&f);
    assert_eq!((r.outer_ipv4, r.inner_ipv4, r.inner_l4), (good, None, None));
    assert!(r.tunnel.is_some());
    rows.push(row("GRE protocol 0x0800", &r));

    // GRE version 1 (PPTP-style): unsupported encapsulation, passed up opaque.
    let mut f = b.frame.clone();
    f[g + 1] |= 0x01;
    let r = rxcsum::validate(&f);
    assert_eq!((r.outer_ipv4, r.tunnel, r.inner_ipv4), (good, None, None));
    rows.push(row("GRE version 1", &r));

    // Unknown inner protocol: inner IP verified, no transport verdict.
    let mut f = b.frame.clone();
    f[b.ip + 9] = 132;
    fix_ipv4_checksum(&mut f, b.ip);
    let r = rxcsum::validate(&f);
    assert_eq!((r.inner_ipv4, r.inner_l4), (good, None));
    rows.push(row("unknown inner protocol", &r));

    // Outer fragment: only the outer IP header can be verified.
    let mut f = b.frame.clone();
    f[b.outer_ip + 6] |= 0x20;
    fix_ipv4_checksum(&mut f, b.outer_ip);
    let r = rxcsum::validate(&f);
    assert_eq!(
        (r.outer_ipv4, r.tunnel, r.inner_ipv4, r.inner_l4),
        (good, None, None, None)
    );
    rows.push(row("outer fragment", &r));

    // Inner 802.1Q tag: neither dropped nor a reason to stop.
    let b = build::build(&FrameSpec {
        vlan: Some(0x0064),
        ..nvgre(Ip::V4, Ip::V4, Proto::Tcp)
    });
    let r = rxcsum::validate(&b.frame);
    assert_eq!(
        (r.inner_ipv4, r.inner_l4),
        (good, Some((L4Kind::Tcp, true)))
    );
    rows.push(row("inner 802.1Q tag", &r));

    // Reserved VSID: reported, not policed.
    let mut spec = nvgre(Ip::V4, Ip::V4, Proto::Tcp);
    spec.tunnel.as_mut().unwrap().key = Some(0x123 << 8);
    let r = rxcsum::validate(&build::build(&spec).frame);
    assert_eq!(r.tunnel.unwrap().vsid(), Some(0x123));
    assert_eq!(r.inner_l4, Some((L4Kind::Tcp, true)));
    rows.push(row("reserved VSID", &r));

    // Inner UDP, with and without checksum; inner ICMP.
    let b = build::build(&nvgre(Ip::V6, Ip::V4, Proto::Udp));
    let r = rxcsum::validate(&b.frame);
    assert_eq!(r.inner_l4, Some((L4Kind::Udp, true)));
    rows.push(row("inner UDP", &r));
    let mut f = b.frame.clone();
    f[b.l4 + 6..b.l4 + 8].copy_from_slice(&[0, 0]);
    let r = rxcsum::validate(&f);
    assert_eq!(r.inner_l4, None, "UDP/IPv4 checksum 0 means none");
    rows.push(row("inner UDP/IPv4 without checksum", &r));
    let b = build::build(&nvgre(Ip::V4, Ip::V6, Proto::Udp));
    let mut f = b.frame.clone();
    f[b.l4 + 6..b.l4 + 8].copy_from_slice(&[0, 0]);
    let r = rxcsum::validate(&f);
    assert_eq!(
        r.inner_l4,
        Some((L4Kind::Udp, false)),
        "UDP/IPv6 requires a checksum"
    );
    rows.push(row("inner UDP/IPv6 zero checksum", &r));
    let b = build::build(&nvgre(Ip::V4, Ip::V4, Proto::Icmp));
    let r = rxcsum::validate(&b.frame);
    assert_eq!((r.inner_ipv4, r.inner_l4), (good, None));
    rows.push(row("inner ICMP", &r));

    // Plain frames: TCP/UDP straight over the outer IP.
    for (ip, proto, name) in [
        (Ip::V4, Proto::Tcp, "plain TCP/IPv4"),
        (Ip::V6, Proto::Tcp, "plain TCP/IPv6"),
        (Ip::V4, Proto::Udp, "plain UDP/IPv4"),
        (Ip::V6, Proto::Udp, "plain UDP/IPv6"),
    ] {
        let b = build::build(&FrameSpec {
            proto,
            ..FrameSpec::tcp(ip, 200, Seed::Final)
        });
        let kind = if proto == Proto::Tcp {
            L4Kind::Tcp
        } else {
            L4Kind::Udp
        };
        let r = rxcsum::validate(&b.frame);
        assert_eq!(r.outer_l4, Some((kind, true)));
        assert_eq!(r.inner_l4, None);
        rows.push(row(name, &r));
        let mut f = b.frame.clone();
        flip(&mut f, l4_checksum_at(&b, proto));
        assert_eq!(rxcsum::validate(&f).outer_l4, Some((kind, false)));
    }

    // Ethernet padding behind a short packet is not summed.
    let b = build::build(&FrameSpec::tcp(Ip::V4, 2, Seed::Final));
    let mut f = b.frame.clone();
    f.resize(60, 0xEE);
    let r = rxcsum::validate(&f);
    assert_eq!(r.outer_l4, Some((L4Kind::Tcp, true)));
    rows.push(row("padded short frame", &r));

    insta::assert_yaml_snapshot!("rx_matrix", rows);
}
