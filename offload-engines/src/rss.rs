//! Receive-side scaling: the Toeplitz hash, the Microsoft RSS input selection for plain
//! and NVGRE frames, and the indirection-table lookup.

use core::net::IpAddr;
use core::ops::BitOr;

use crate::parse::{self, IpInfo, IpVersion, Layers, Transport};

/// RSS secret key length in bytes (320 bits).
pub const KEY_LEN: usize = 40;

/// The Toeplitz hash with a lookup table per input byte position: the hash is linear
/// over GF(2), so the contribution of each byte value at each position can be
/// precomputed and the hash becomes one XOR per input byte.
#[derive(Clone)]
pub struct Toeplitz {
    /// `tables[i][b]`: the hash contribution of byte value `b` at input position `i`.
    /// One table per key byte: input bytes past the key's length add nothing.
    tables: Box<[[u32; 256]]>,
}

impl core::fmt::Debug for Toeplitz {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Toeplitz").finish_non_exhaustive()
    }
}

impl Toeplitz {
    pub fn new(key: &[u8; KEY_LEN]) -> Self {
        Self::with_key(key)
    }

    /// A key of any length (the X710's is 52 bytes). Hashing n input bytes uses key
    /// bytes up to n+4; a key of k bytes therefore hashes inputs of up to k-4 bytes
    /// exactly, and key bits past its end count as zero (as for [`Toeplitz::new`]).
    /// An input byte at position k or later adds nothing.
    pub fn with_key(key: &[u8]) -> Self {
        let mut tables = vec![[0u32; 256]; key.len()].into_boxed_slice();
        for (i, table) in tables.iter_mut().enumerate() {
            // The 40 key bits starting at bit 8*i; key bits past the end are zero
            // (the key shifts left with zero fill).
            let window = (0..5).fold(0u64, |acc, j| {
                (acc << 8) | u64::from(key.get(i + j).copied().unwrap_or(0))
            });
            // Input bit j of this byte (MSB first) selects the 32 key bits starting at
            // bit 8*i + j.
            let per_bit: [u32; 8] =
                core::array::from_fn(|j| ((window >> (8 - j)) & 0xFFFF_FFFF) as u32);
            for b in 1..256usize {
                let low = b.trailing_zeros() as usize;
                table[b] = table[b & (b - 1)] ^ per_bit[7 - low];
            }
        }
        Self { tables }
    }

    /// Hashes `input`; bytes beyond the key's length see an all-zero key window and add
    /// nothing.
    pub fn hash(&self, input: &[u8]) -> u32 {
        input
            .iter()
            .zip(self.tables.iter())
            .fold(0, |h, (&b, t)| h ^ t[usize::from(b)])
    }
}

/// Enabled hash types. Bit values are NDIS's `NDIS_HASH_*` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct HashTypes(pub u32);

impl HashTypes {
    pub const IPV4: Self = Self(0x0000_0100);
    pub const TCP_IPV4: Self = Self(0x0000_0200);
    pub const IPV6: Self = Self(0x0000_0400);
    pub const IPV6_EX: Self = Self(0x0000_0800);
    pub const TCP_IPV6: Self = Self(0x0000_1000);
    pub const TCP_IPV6_EX: Self = Self(0x0000_2000);
    pub const UDP_IPV4: Self = Self(0x0000_4000);
    pub const UDP_IPV6: Self = Self(0x0000_8000);
    pub const UDP_IPV6_EX: Self = Self(0x0001_0000);
    pub const ALL: Self = Self(0x0001_FF00);

    pub const fn empty() -> Self {
        Self(0)
    }

    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0 && other.0 != 0
    }
}

impl BitOr for HashTypes {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashKind {
    Ipv4,
    TcpIpv4,
    UdpIpv4,
    Ipv6,
    TcpIpv6,
    UdpIpv6,
    Ipv6Ex,
    TcpIpv6Ex,
    UdpIpv6Ex,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RssResult {
    pub hash: u32,
    pub kind: HashKind,
}

/// Which header fields feed the hash. RSS as Microsoft specifies it hashes all four
/// (`InputSet::ALL`); a NIC with programmable input sets (the X710's
/// GLQF_HASH_INSET) may leave some out, and the rest keep their order: source
/// address, destination address, source port, destination port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputSet {
    pub src_ip: bool,
    pub dst_ip: bool,
    pub src_port: bool,
    pub dst_port: bool,
}

impl InputSet {
    pub const ALL: Self = Self {
        src_ip: true,
        dst_ip: true,
        src_port: true,
        dst_port: true,
    };
}

/// Hash input: source address, destination address, then ports when present.
struct Input {
    buf: [u8; 36],
    len: usize,
}

impl Input {
    fn new(ip: &IpInfo, set: InputSet) -> Self {
        let mut i = Input {
            buf: [0; 36],
            len: 0,
        };
        for (a, wanted) in [(ip.src, set.src_ip), (ip.dst, set.dst_ip)] {
            match a {
                _ if !wanted => {}
                IpAddr::V4(v4) => i.push(&v4.octets()),
                IpAddr::V6(v6) => i.push(&v6.octets()),
            }
        }
        i
    }

    fn push(&mut self, b: &[u8]) {
        self.buf[self.len..self.len + b.len()].copy_from_slice(b);
        self.len += b.len();
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// The 2-tuple kind enabled for this IP version, if any. The `_EX` types are accepted
/// as a superset of the plain ones; their Home-Address/Routing-header address
/// substitution is not performed **[tunic]**.
fn ip_kind(ip: &IpInfo, types: HashTypes) -> Option<HashKind> {
    match ip.version {
        IpVersion::V4 => types.contains(HashTypes::IPV4).then_some(HashKind::Ipv4),
        IpVersion::V6 if types.contains(HashTypes::IPV6_EX) => Some(HashKind::Ipv6Ex),
        IpVersion::V6 => types.contains(HashTypes::IPV6).then_some(HashKind::Ipv6),
    }
}

fn l4_kind(ip: &IpInfo, transport: Transport, types: HashTypes) -> Option<HashKind> {
    use HashKind as K;
    use HashTypes as T;
    let candidates: &[(T, K)] = match (ip.version, transport) {
        (IpVersion::V4, Transport::Tcp) => &[(T::TCP_IPV4, K::TcpIpv4)],
        (IpVersion::V4, Transport::Udp) => &[(T::UDP_IPV4, K::UdpIpv4)],
        (IpVersion::V6, Transport::Tcp) => {
            &[(T::TCP_IPV6_EX, K::TcpIpv6Ex), (T::TCP_IPV6, K::TcpIpv6)]
        }
        (IpVersion::V6, Transport::Udp) => {
            &[(T::UDP_IPV6_EX, K::UdpIpv6Ex), (T::UDP_IPV6, K::UdpIpv6)]
        }
        _ => &[],
    };
    candidates
        .iter()
        .find(|(t, _)| types.contains(*t))
        .map(|&(_, k)| k)
}

fn hash_2tuple(ip: &IpInfo, t: &Toeplitz, types: HashTypes, set: InputSet) -> Option<RssResult> {
    let kind = ip_kind(ip, types)?;
    Some(RssResult {
        hash: t.hash(Input::new(ip, set).bytes()),
        kind,
    })
}

/// Standard selection on one header stack: 4-tuple when the transport is TCP/UDP and
/// its type is enabled, else 2-tuple; fragments only ever 2-tuple.
/// With an input set that leaves both ports out, a TCP/UDP packet is hashed on its
/// addresses under its 4-tuple kind (the type that enabled it).
fn hash_layers(l: &Layers, t: &Toeplitz, types: HashTypes, set: InputSet) -> Option<RssResult> {
    let ip = l.ip?;
    if !ip.fragment {
        if let Some(l4) = l.l4 {
            if let Some(kind) = l4_kind(&ip, l4.transport, types) {
                let mut input = Input::new(&ip, set);
                if set.src_port {
                    input.push(&l4.src_port.to_be_bytes());
                }
                if set.dst_port {
                    input.push(&l4.dst_port.to_be_bytes());
                }
                return Some(RssResult {
                    hash: t.hash(input.bytes()),
                    kind,
                });
            }
        }
    }
    hash_2tuple(&ip, t, types, set)
}

/// Computes the RSS hash of a received frame, or None when no enabled hash type
/// applies (the NIC then reports no hash).
///
/// With `tunnel_aware`, a GRE frame carrying Ethernet (NVGRE) is hashed on its inner
/// addresses and ports when a TCP/UDP header follows the inner IP header, and
/// on the outer addresses otherwise. When only the inner 2-tuple type is
/// enabled for an inner TCP/UDP packet, the inner addresses are hashed **[tunic]**.
pub fn hash_frame(
    frame: &[u8],
    t: &Toeplitz,
    types: HashTypes,
    tunnel_aware: bool,
) -> Option<RssResult> {
    let (p, _) = parse::parse_partial(frame).ok()?;
    hash_parsed(&p, t, types, tunnel_aware)
}

/// [`hash_frame`] for a frame the caller has already parsed with
/// [`parse::parse_partial`], so a receive path that also validates checksums parses once.
pub fn hash_parsed(
    p: &parse::Parsed,
    t: &Toeplitz,
    types: HashTypes,
    tunnel_aware: bool,
) -> Option<RssResult> {
    hash_parsed_with(p, t, types, tunnel_aware, InputSet::ALL)
}

/// [`hash_parsed`] over the fields of `set` only (see [`InputSet`]).
pub fn hash_parsed_with(
    p: &parse::Parsed,
    t: &Toeplitz,
    types: HashTypes,
    tunnel_aware: bool,
    set: InputSet,
) -> Option<RssResult> {
    if tunnel_aware && p.gre.is_some_and(|g| g.carries_ethernet()) {
        let inner_4tuple = p.inner.filter(|l| {
            l.ip.is_some_and(|ip| !ip.fragment)
                && l.l4
                    .is_some_and(|l4| matches!(l4.transport, Transport::Tcp | Transport::Udp))
        });
        if let Some(r) = inner_4tuple.and_then(|l| hash_layers(&l, t, types, set)) {
            return Some(r);
        }
        return hash_2tuple(&p.outer.ip?, t, types, set);
    }
    hash_layers(&p.outer, t, types, set)
}

/// Indirection-table lookup: the low bits of the hash index the table. Meant for
/// power-of-two lengths; any other length still stays in bounds. Empty table: 0.
pub fn indirect(hash: u32, table: &[u8]) -> u8 {
    match table.len() {
        0 => 0,
        n => table[(hash as usize) & (n - 1)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Microsoft's RSS verification key and its first IPv4 row.
    const MS_KEY: [u8; KEY_LEN] = [
        0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f,
        0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
        0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
    ];
    const V4_4TUPLE: [u8; 12] = [66, 9, 149, 187, 161, 142, 100, 80, 0x0a, 0xea, 0x06, 0xe6];

    #[test]
    fn a_longer_key_keeps_the_40_byte_results() {
        let mut long = [0u8; 52];
        long[..KEY_LEN].copy_from_slice(&MS_KEY);
        long[KEY_LEN..].fill(0xA5);
        let short = Toeplitz::new(&MS_KEY);
        let wide = Toeplitz::with_key(&long);
        assert_eq!(short.hash(&V4_4TUPLE), 0x51cc_c178);
        assert_eq!(wide.hash(&V4_4TUPLE), 0x51cc_c178);
        assert_eq!(Toeplitz::with_key(&MS_KEY).hash(&V4_4TUPLE), 0x51cc_c178);
        // Input bytes 37..40 reach key bytes 40..44, which only the long key has.
        let input = [0x11u8; 40];
        assert_ne!(short.hash(&input), wide.hash(&input));
        assert_eq!(short.hash(&input[..36]), wide.hash(&input[..36]));
    }

    #[test]
    fn bit_serial_definition_agrees_with_the_tables() {
        let key: Vec<u8> = (0..52u32).map(|i| (i * 37 + 11) as u8).collect();
        let input: Vec<u8> = (0..48u32).map(|i| (i * 101 + 7) as u8).collect();
        // Definition: for every set input bit j, XOR in key bits j..j+31.
        let bit = |n: usize| {
            key.get(n / 8)
                .map_or(0u32, |b| u32::from(b >> (7 - n % 8)) & 1)
        };
        let mut want = 0u32;
        for j in 0..input.len() * 8 {
            if input[j / 8] >> (7 - j % 8) & 1 != 0 {
                want ^= (0..32).fold(0u32, |acc, k| (acc << 1) | bit(j + k));
            }
        }
        assert_eq!(Toeplitz::with_key(&key).hash(&input), want);
    }
}
