//! Toeplitz hash against the verification suite Microsoft publishes in "Verifying the
//! RSS Hash Calculation" (the same table appears as the RSS verification suite in Intel
//! datasheets and in DPDK's and Knot DNS's test suites, which is where the values were
//! cross-checked).

use offload_engines::rss::{hash_frame, indirect, HashKind, HashTypes, Toeplitz};

use testvectors::rss_vectors::{KEY, V4, V6};

/// Bit-at-a-time Toeplitz straight from the NDIS pseudocode, as a second reference.
fn toeplitz_bitwise(key: &[u8; 40], input: &[u8]) -> u32 {
    let mut result = 0u32;
    let bit = |i: usize| -> u32 {
        key.get(i / 8)
            .map_or(0, |b| u32::from(b >> (7 - i % 8) & 1))
    };
    for (i, byte) in input.iter().enumerate() {
        for j in 0..8 {
            if byte >> (7 - j) & 1 == 1 {
                let start = i * 8 + j;
                let window = (0..32).fold(0u32, |w, k| (w << 1) | bit(start + k));
                result ^= window;
            }
        }
    }
    result
}

#[test]
fn microsoft_ipv4_vectors() {
    let t = Toeplitz::new(&KEY);
    for (src, dst, sp, dp, h2, h4) in V4 {
        let mut input = Vec::new();
        input.extend_from_slice(&src);
        input.extend_from_slice(&dst);
        assert_eq!(t.hash(&input), h2, "IPv4 {src:?} -> {dst:?}");
        input.extend_from_slice(&sp.to_be_bytes());
        input.extend_from_slice(&dp.to_be_bytes());
        assert_eq!(t.hash(&input), h4, "TCP/IPv4 {src:?} -> {dst:?}");
        assert_eq!(toeplitz_bitwise(&KEY, &input), h4);
    }
}

#[test]
fn microsoft_ipv6_vectors() {
    let t = Toeplitz::new(&KEY);
    for (src, dst, sp, dp, h2, h4) in V6 {
        let s: std::net::Ipv6Addr = src.parse().unwrap();
        let d: std::net::Ipv6Addr = dst.parse().unwrap();
        let mut input = Vec::new();
        input.extend_from_slice(&s.octets());
        input.extend_from_slice(&d.octets());
        assert_eq!(t.hash(&input), h2, "IPv6 {src} -> {dst}");
        input.extend_from_slice(&sp.to_be_bytes());
        input.extend_from_slice(&dp.to_be_bytes());
        assert_eq!(t.hash(&input), h4, "TCP/IPv6 {src} -> {dst}");
        assert_eq!(toeplitz_bitwise(&KEY, &input), h4);
    }
}

#[test]
fn table_hash_matches_bitwise_on_long_inputs() {
    let t = Toeplitz::new(&KEY);
    let input: Vec<u8> = (0..48u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
    for len in 0..=input.len() {
        assert_eq!(
            t.hash(&input[..len]),
            toeplitz_bitwise(&KEY, &input[..len]),
            "len {len}"
        );
    }
}

fn tcp4_frame(src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16) -> Vec<u8> {
    let mut v = Vec::new();
    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(src, dst, 64)
        .tcp(sp, dp, 1, 1000)
        .write(&mut v, b"hello")
        .unwrap();
    v
}

#[test]
fn hash_frame_selects_the_microsoft_input() {
    let t = Toeplitz::new(&KEY);
    let (src, dst, sp, dp, h2, h4) = V4[0];
    let f = tcp4_frame(src, dst, sp, dp);
    let all = HashTypes::IPV4 | HashTypes::TCP_IPV4;
    let r = hash_frame(&f, &t, all, false).unwrap();
    assert_eq!((r.hash, r.kind), (h4, HashKind::TcpIpv4));
    let r = hash_frame(&f, &t, HashTypes::IPV4, false).unwrap();
    assert_eq!((r.hash, r.kind), (h2, HashKind::Ipv4));
    assert!(hash_frame(&f, &t, HashTypes::IPV6 | HashTypes::TCP_IPV6, false).is_none());

    // A fragment is hashed on addresses only, even with the TCP type enabled.
    let mut frag = f.clone();
    frag[14 + 6] |= 0x20; // MF
    let r = hash_frame(&frag, &t, all, false).unwrap();
    assert_eq!((r.hash, r.kind), (h2, HashKind::Ipv4));
}

#[test]
fn hash_frame_ipv6_tcp() {
    let t = Toeplitz::new(&KEY);
    let (src, dst, sp, dp, h2, h4) = V6[0];
    let s: std::net::Ipv6Addr = src.parse().unwrap();
    let d: std::net::Ipv6Addr = dst.parse().unwrap();
    let mut f = Vec::new();
    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv6(s.octets(), d.octets(), 64)
        .tcp(sp, dp, 1, 1000)
        .write(&mut f, b"x")
        .unwrap();
    let r = hash_frame(&f, &t, HashTypes::IPV6 | HashTypes::TCP_IPV6, false).unwrap();
    assert_eq!((r.hash, r.kind), (h4, HashKind::TcpIpv6));
    let r = hash_frame(&f, &t, HashTypes::IPV6, false).unwrap();
    assert_eq!((r.hash, r.kind), (h2, HashKind::Ipv6));
}

#[test]
fn indirection_uses_low_bits_and_never_panics() {
    let table: Vec<u8> = (0..128u8).collect();
    assert_eq!(indirect(0x51ccc178, &table), (0x51ccc178u32 & 127) as u8);
    assert_eq!(indirect(u32::MAX, &[]), 0);
    assert_eq!(indirect(7, &[9, 8, 7]), [9, 8, 7][7 & 2]);
}
