//! Byte offsets of the header fields the engines read or rewrite, and big-endian
//! accessors. Offsets are relative to the start of the respective header.
//!
//! Accessors index directly: callers establish the header length once (the parser,
//! or a segmentation plan's validation) and only then touch fields, which keeps the
//! hot paths free of repeated bounds bookkeeping while still never reading past a
//! checked range.

pub(crate) fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

pub(crate) fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

pub(crate) fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

pub(crate) fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

pub(crate) mod ethernet {
    pub const HEADER_LEN: usize = 14;
    pub const DST: usize = 0;
    pub const SRC: usize = 6;
    pub const ETHERTYPE: usize = 12;
    pub const VLAN_TAG_LEN: usize = 4;
    /// Tags stacked deeper than this are not walked (802.1Q plus one QinQ level).
    pub const MAX_VLAN_TAGS: usize = 2;
    pub const TYPE_IPV4: u16 = 0x0800;
    pub const TYPE_IPV6: u16 = 0x86DD;
    pub const TYPE_VLAN: u16 = 0x8100;
    pub const TYPE_QINQ: u16 = 0x88A8;
    /// Pre-standard QinQ tag type still emitted by some switches.
    pub const TYPE_QINQ_LEGACY: u16 = 0x9100;
}

pub(crate) mod ipv4 {
    pub const MIN_HEADER_LEN: usize = 20;
    pub const TOTAL_LEN: usize = 2;
    pub const ID: usize = 4;
    pub const FLAGS_FRAGMENT: usize = 6;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: usize = 10;
    pub const SRC: usize = 12;
    pub const DST: usize = 16;
    pub const MORE_FRAGMENTS: u16 = 0x2000;
    pub const FRAGMENT_OFFSET_MASK: u16 = 0x1FFF;
}

pub(crate) mod ipv6 {
    pub const HEADER_LEN: usize = 40;
    pub const PAYLOAD_LEN: usize = 4;
    pub const NEXT_HEADER: usize = 6;
    pub const SRC: usize = 8;
    pub const DST: usize = 24;
    pub const EXT_HOP_BY_HOP: u8 = 0;
    pub const EXT_ROUTING: u8 = 43;
    pub const EXT_FRAGMENT: u8 = 44;
    pub const EXT_DEST_OPTS: u8 = 60;
}

pub(crate) mod gre {
    pub const FLAGS: usize = 0;
    pub const PROTOCOL: usize = 2;
    pub const BASE_LEN: usize = 4;
    pub const OPTION_LEN: usize = 4;
    pub const FLAG_CHECKSUM: u16 = 0x8000;
    pub const FLAG_KEY: u16 = 0x2000;
    pub const FLAG_SEQUENCE: u16 = 0x1000;
    /// Routing present, strict source route and recursion control (RFC 1701 bits that
    /// RFC 2784 receivers must see as zero) plus the version field.
    pub const MUST_BE_ZERO: u16 = 0x4000 | 0x0800 | 0x0700 | VERSION_MASK;
    pub const VERSION_MASK: u16 = 0x0007;
    pub const PROTO_TRANSPARENT_ETHERNET: u16 = 0x6558;
}

pub(crate) mod tcp {
    pub const MIN_HEADER_LEN: usize = 20;
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const SEQ: usize = 4;
    /// Data offset (4 bits), reserved (3 bits) and the 9 flag bits share this word;
    /// 82576 flag masks cover its low 12 bits.
    pub const OFFSET_FLAGS: usize = 12;
    pub const CHECKSUM: usize = 16;
}

pub(crate) mod udp {
    pub const HEADER_LEN: usize = 8;
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const LENGTH: usize = 4;
    pub const CHECKSUM: usize = 6;
}

pub(crate) mod ip_proto {
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const GRE: u8 = 47;
    pub const ICMPV6: u8 = 58;
}
