//! `struct virtio_net_hdr_v1`: the header ahead of every frame in both directions.
//! Field offsets are taken from the `virtio-bindings` layout, values are little-endian
//! (VERSION_1).

use std::mem::{offset_of, size_of};

use virtio_bindings::virtio_net::{
    virtio_net_hdr_v1, virtio_net_hdr_v1__bindgen_ty_1 as CsumUnion,
    virtio_net_hdr_v1__bindgen_ty_1__bindgen_ty_1 as CsumFields, virtio_net_hdr_v1_hash,
};

/// With VERSION_1 the header is always this long, mergeable buffers or not...
pub const HDR_LEN: usize = size_of::<virtio_net_hdr_v1>();
/// ...unless HASH_REPORT was negotiated: then both directions use
/// `virtio_net_hdr_v1_hash`, with the hash value and type after the plain header.
pub const HASH_HDR_LEN: usize = size_of::<virtio_net_hdr_v1_hash>();
/// With UDP tunnel segmentation negotiated both directions use
/// `virtio_net_hdr_v1_hash_tunnel`: the hash header, then the offsets of the
/// outer transport header and of the inner network header (virtio 1.4; not yet
/// in `virtio-bindings`, so laid out here after Linux's uAPI).
pub const TUNNEL_HDR_LEN: usize = HASH_HDR_LEN + 4;
const OUTER_TH_OFFSET: usize = HASH_HDR_LEN;
const INNER_NH_OFFSET: usize = HASH_HDR_LEN + 2;
const HASH_VALUE: usize = offset_of!(virtio_net_hdr_v1_hash, hash_value);
const HASH_REPORT: usize = offset_of!(virtio_net_hdr_v1_hash, hash_report);

const FLAGS: usize = offset_of!(virtio_net_hdr_v1, flags);
const GSO_TYPE: usize = offset_of!(virtio_net_hdr_v1, gso_type);
const HDR_LEN_FIELD: usize = offset_of!(virtio_net_hdr_v1, hdr_len);
const GSO_SIZE: usize = offset_of!(virtio_net_hdr_v1, gso_size);
const CSUM_START: usize = offset_of!(virtio_net_hdr_v1, __bindgen_anon_1)
    + offset_of!(CsumUnion, __bindgen_anon_1)
    + offset_of!(CsumFields, csum_start);
const CSUM_OFFSET: usize = offset_of!(virtio_net_hdr_v1, __bindgen_anon_1)
    + offset_of!(CsumUnion, __bindgen_anon_1)
    + offset_of!(CsumFields, csum_offset);
const NUM_BUFFERS: usize = offset_of!(virtio_net_hdr_v1, num_buffers);

/// The header's fields as host integers.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NetHdr {
    pub flags: u8,
    pub gso_type: u8,
    pub hdr_len: u16,
    pub gso_size: u16,
    pub csum_start: u16,
    pub csum_offset: u16,
    pub num_buffers: u16,
    /// Only in the hash header (receive side).
    pub hash_value: u32,
    pub hash_report: u16,
}

fn le16(b: &[u8; HDR_LEN], off: usize) -> u16 {
    u16::from_le_bytes([b[off], b[off + 1]])
}

impl NetHdr {
    pub fn parse(b: &[u8; HDR_LEN]) -> Self {
        Self {
            flags: b[FLAGS],
            gso_type: b[GSO_TYPE],
            hdr_len: le16(b, HDR_LEN_FIELD),
            gso_size: le16(b, GSO_SIZE),
            csum_start: le16(b, CSUM_START),
            csum_offset: le16(b, CSUM_OFFSET),
            num_buffers: le16(b, NUM_BUFFERS),
            hash_value: 0,
            hash_report: 0,
        }
    }

    /// The header as `virtio_net_hdr_v1_hash`; its first [`HDR_LEN`] bytes are the
    /// plain header.
    pub fn to_hash_bytes(self) -> [u8; HASH_HDR_LEN] {
        let mut b = [0u8; HASH_HDR_LEN];
        b[..HDR_LEN].copy_from_slice(&self.to_bytes());
        b[HASH_VALUE..HASH_VALUE + 4].copy_from_slice(&self.hash_value.to_le_bytes());
        b[HASH_REPORT..HASH_REPORT + 2].copy_from_slice(&self.hash_report.to_le_bytes());
        b
    }

    /// The two offsets of a tunnel header, `(outer_th_offset, inner_nh_offset)`.
    pub fn tunnel_offsets(b: &[u8; TUNNEL_HDR_LEN]) -> (u16, u16) {
        let at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
        (at(OUTER_TH_OFFSET), at(INNER_NH_OFFSET))
    }

    /// The header as `virtio_net_hdr_v1_hash_tunnel` (receive: no tunnel, the
    /// offsets 0); its first [`HASH_HDR_LEN`] bytes are the hash header.
    pub fn to_tunnel_bytes(self) -> [u8; TUNNEL_HDR_LEN] {
        let mut b = [0u8; TUNNEL_HDR_LEN];
        b[..HASH_HDR_LEN].copy_from_slice(&self.to_hash_bytes());
        b
    }

    pub fn to_bytes(self) -> [u8; HDR_LEN] {
        let mut b = [0u8; HDR_LEN];
        b[FLAGS] = self.flags;
        b[GSO_TYPE] = self.gso_type;
        for (off, v) in [
            (HDR_LEN_FIELD, self.hdr_len),
            (GSO_SIZE, self.gso_size),
            (CSUM_START, self.csum_start),
            (CSUM_OFFSET, self.csum_offset),
            (NUM_BUFFERS, self.num_buffers),
        ] {
            b[off..off + 2].copy_from_slice(&v.to_le_bytes());
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_the_twelve_byte_v1_header() {
        assert_eq!((HDR_LEN, HASH_HDR_LEN, TUNNEL_HDR_LEN), (12, 20, 24));
        assert_eq!((HASH_VALUE, HASH_REPORT), (12, 16));
        assert_eq!((CSUM_START, CSUM_OFFSET, NUM_BUFFERS), (6, 8, 10));
        let h = NetHdr {
            flags: 1,
            gso_type: 4,
            hdr_len: 74,
            gso_size: 1440,
            csum_start: 54,
            csum_offset: 16,
            num_buffers: 3,
            ..NetHdr::default()
        };
        assert_eq!(NetHdr::parse(&h.to_bytes()), h);
        let hashed = NetHdr {
            hash_value: 0x1234_5678,
            hash_report: 2,
            ..h
        }
        .to_hash_bytes();
        assert_eq!(&hashed[..HDR_LEN], &h.to_bytes());
        assert_eq!(&hashed[12..18], &[0x78, 0x56, 0x34, 0x12, 2, 0]);
    }
}
