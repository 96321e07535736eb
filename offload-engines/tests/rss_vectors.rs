//! Toeplitz hash against the verification suite Microsoft publishes in "Verifying the
//! RSS Hash Calculation" (the same table appears as the RSS verification suite in Intel
//! datasheets and in DPDK's and Knot DNS's test suites, which is where the values were
//! cross-checked).

use offload_engines::rss::{hash_frame, indirect, HashKind, HashTypes, Toeplitz};

const KEY: [u8; 40] = [
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
    0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
    0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
];

/// Source, destination, source port, destination port, 2-tuple hash, 4-tuple hash.
type Vector<A> = (A, A, u16, u16, u32, u32);

const V4: [Vector<[u8; 4]>; 5] = [
    (
        [66, 9, 149, 187],
        [161, 142, 100, 80],
        2794,
        1766,
        0x323e8fc2,
        0x51ccc178,
    ),
    (
        [199, 92, 111, 2],
        [65, 69, 140, 83],
        14230,
        4739,
        0xd718262a,
        0xc626b0ea,
    ),
    (
        [24, 19, 198, 95],
        [12, 22, 207, 184],
        12898,
        38024,
        0xd2d0a5de,
        0x5c2b394a,
    ),
    (
        [38, 27, 205, 30],
        [209, 142, 163, 6],
        48228,
        2217,
        0x82989176,
        0xafc7327f,
    ),
    (
        [153, 39, 163, 191],
        [202, 188, 127, 2],
        44251,
        1303,
        0x5d1809c5,
        0x10e828a2,
    ),
];

const V6: [Vector<&str>; 3] = [
    (
        "3ffe:2501:200:1fff::7",
        "3ffe:2501:200:3::1",
        2794,
        1766,
        0x2cc18cd5,
        0x40207d3d,
    ),
    (
        "3ffe:501:8::260:97ff:fe40:efab",
        "ff02::1",
        14230,
        4739,
        0x0f0c461c,
        0xdde51bbf,
    ),
    (
        "3ffe:1900:4545:3:200:f8ff:fe21:67cf",
        "fe80::200:f8ff:fe21:67cf",
        44251,
        38024,
        0x4b61e985,
        0x02d1feef,
    ),
];

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
