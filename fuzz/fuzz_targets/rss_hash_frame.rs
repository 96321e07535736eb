//! RSS on arbitrary bytes. Input: one flags byte (bit 0: tunnel-aware), four bytes of
//! hash-type bits, then the frame. No panic, the reported kind is an enabled type, no
//! types means no hash, and the indirection lookup stays in bounds.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use offload_engines::rss::{self, HashKind, HashTypes, Toeplitz};

const KEY: [u8; 40] = [
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
    0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
    0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
];

fn type_of(kind: HashKind) -> HashTypes {
    match kind {
        HashKind::Ipv4 => HashTypes::IPV4,
        HashKind::TcpIpv4 => HashTypes::TCP_IPV4,
        HashKind::UdpIpv4 => HashTypes::UDP_IPV4,
        HashKind::Ipv6 => HashTypes::IPV6,
        HashKind::TcpIpv6 => HashTypes::TCP_IPV6,
        HashKind::UdpIpv6 => HashTypes::UDP_IPV6,
        HashKind::Ipv6Ex => HashTypes::IPV6_EX,
        HashKind::TcpIpv6Ex => HashTypes::TCP_IPV6_EX,
        HashKind::UdpIpv6Ex => HashTypes::UDP_IPV6_EX,
    }
}

fuzz_target!(|data: &[u8]| {
    static TOEPLITZ: OnceLock<Toeplitz> = OnceLock::new();
    let t = TOEPLITZ.get_or_init(|| Toeplitz::new(&KEY));
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Some((types, frame)) = rest.split_first_chunk::<4>() else {
        return;
    };
    let types = HashTypes(u32::from_be_bytes(*types));
    let tunnel_aware = flags & 1 != 0;
    let r = rss::hash_frame(frame, t, types, tunnel_aware);
    assert_eq!(r, rss::hash_frame(frame, t, types, tunnel_aware));
    assert!(rss::hash_frame(frame, t, HashTypes::empty(), tunnel_aware).is_none());
    if let Some(r) = r {
        assert!(
            types.contains(type_of(r.kind)),
            "{r:?} not enabled in {types:?}"
        );
        for len in [1usize, 3, 64, 128] {
            let table: Vec<u8> = (0..len as u8).collect();
            assert!(usize::from(rss::indirect(r.hash, &table)) < len);
        }
    }
});
