//! `--mode partial`: what Linux's igb driver hands the 82576 for a GSO_PARTIAL send,
//! and the segments the NIC's header-replicating TSO makes of it.
//!
//! The context descriptor covers the whole header stack as one "IP header": MACLEN is
//! the outer L2 length, IPLEN runs from the outer IP header to the innermost L4 header,
//! L4LEN is the innermost TCP/UDP header. The NIC only rewrites the outer IP header and
//! the innermost L4 header, so the stack prepares everything else per send:
//!
//! - the payload is cut into a multiple of the MSS (one hardware TSO) and a shorter
//!   remainder (a frame of its own), because the inner headers are written for an
//!   MSS-sized segment and stay constant across the hardware's segments;
//! - inner IPv4 total length and header checksum describe one segment; its ID is the
//!   same in every segment of the TSO (the remainder gets the next value);
//! - the outer IPv4 total length is zeroed and its checksum field is seeded with the
//!   complement of the bytes between the outer IP header and the inner L4 header, so
//!   that the NIC's checksum over the IPLEN span covers the outer header alone;
//! - a GRE checksum (C=1) is constant across segments (each segment's L4 bytes sum to
//!   the complement of its pseudo-header) and is filled in up front;
//! - the L4 checksum field holds the pseudo-header sum without the length.
//!
//! GRE with sequence numbers cannot be sent this way (every segment needs its own), and
//! neither can headers wider than the descriptor fields.

use offload_engines::checksum::{checksum, fold, sum};
use offload_engines::parse::{GreInfo, IpInfo, IpVersion, Parsed, Transport};
use offload_engines::segment::{
    L4Kind, ReplicateParams, SegmentStats, Segmenter, DEFAULT_TCP_FLAG_MASKS,
};

use super::segment::pseudo_sum;

/// Widths of the 82576 context-descriptor fields; igb turns the offload off for frames
/// whose headers do not fit them.
const MAX_MACLEN: usize = (1 << 7) - 1;
const MAX_IPLEN: usize = (1 << 9) - 1;
const MAX_L4LEN: usize = (1 << 8) - 1;

/// Masks that leave the TCP flags alone: a frame sent without TSO.
const NO_TSO_FLAG_MASKS: [u16; 3] = [0x0FFF; 3];

const IPV4_TOTAL_LEN: usize = 2;
const IPV4_ID: usize = 4;
const IPV4_CHECKSUM: usize = 10;
const IPV6_PAYLOAD_LEN: usize = 4;
const IPV6_HEADER_LEN: usize = 40;
const TCP_SEQ: usize = 4;
const TCP_FLAGS: usize = 13;
const TCP_CHECKSUM: usize = 16;
const UDP_CHECKSUM: usize = 6;
const TCP_FIN: u8 = 0x01;
const TCP_PSH: u8 = 0x08;
const TCP_CWR: u8 = 0x80;

/// The header stack as the context descriptor describes it.
struct Layout {
    outer: IpInfo,
    inner: Option<IpInfo>,
    gre: Option<GreInfo>,
    l4_off: usize,
    hdr_len: usize,
    kind: L4Kind,
    params: ReplicateParams,
}

fn layout(p: &Parsed, mss: usize) -> Result<Layout, String> {
    let outer = p.outer.ip.ok_or("not an IP frame")?;
    if outer.fragment {
        return Err("outer IP fragment".into());
    }
    if p.gre.is_some_and(|g| g.sequence.is_some()) {
        return Err(
            "GRE sequence numbers differ per segment, so GSO_PARTIAL cannot carry them".into(),
        );
    }
    let layers = p.innermost();
    let l4 = layers
        .l4
        .filter(|_| layers.ip.is_some_and(|ip| !ip.fragment))
        .ok_or("no TCP or UDP header")?;
    let kind = match l4.transport {
        Transport::Tcp => L4Kind::Tcp,
        Transport::Udp => L4Kind::Udp,
        _ => return Err("no TCP or UDP header".into()),
    };
    let maclen = outer.offset;
    let iplen = l4.offset - outer.offset;
    let l4len = l4.header_len;
    for (name, value, max) in [
        ("MACLEN", maclen, MAX_MACLEN),
        ("IPLEN", iplen, MAX_IPLEN),
        ("L4LEN", l4len, MAX_L4LEN),
    ] {
        if value > max {
            return Err(format!(
                "{name} {value} does not fit the context descriptor (max {max})"
            ));
        }
    }
    Ok(Layout {
        outer,
        inner: p.inner.and_then(|l| l.ip),
        gre: p.gre,
        l4_off: l4.offset,
        hdr_len: l4.offset + l4len,
        kind,
        params: ReplicateParams {
            maclen,
            iplen,
            l4len,
            mss,
            ipv4: outer.version == IpVersion::V4,
            l4: kind,
            tcp_flag_masks: DEFAULT_TCP_FLAG_MASKS,
        },
    })
}

/// One send the stack hands to the NIC: `segments` segments of `seg_payload` bytes
/// each, the first being segment number `first_segment` of the original frame.
struct Piece {
    payload_start: usize,
    segments: usize,
    seg_payload: usize,
    first_segment: usize,
    /// More payload follows in a later piece.
    more: bool,
}

/// Segments `frame` as the stack and NIC together would. With `as_seeded` the frame is
/// taken as the driver already prepared it and goes to the NIC as one TSO.
pub fn segment(
    segmenter: &mut Segmenter,
    frame: &[u8],
    parsed: &Parsed,
    mss: usize,
    as_seeded: bool,
    out: &mut dyn FnMut(&[u8]),
) -> Result<SegmentStats, String> {
    let l = layout(parsed, mss)?;
    if as_seeded {
        return segmenter
            .replicate(frame, &l.params, out)
            .map_err(|e| e.to_string());
    }
    let payload = frame.len() - l.hdr_len;
    let full = payload / mss;
    let rest = payload % mss;
    let mut pieces = Vec::with_capacity(2);
    if full > 0 {
        pieces.push(Piece {
            payload_start: 0,
            segments: full,
            seg_payload: mss,
            first_segment: 0,
            more: rest > 0,
        });
    }
    if rest > 0 {
        pieces.push(Piece {
            payload_start: full * mss,
            segments: 1,
            seg_payload: rest,
            first_segment: full,
            more: false,
        });
    }

    let mut total = SegmentStats::default();
    let mut request = Vec::new();
    for piece in &pieces {
        let start = l.hdr_len + piece.payload_start;
        let end = start + piece.segments * piece.seg_payload;
        request.clear();
        request.extend_from_slice(&frame[..l.hdr_len]);
        request.extend_from_slice(&frame[start..end]);
        prepare(&mut request, &l, piece);
        let params = ReplicateParams {
            tcp_flag_masks: if piece.segments == 1 {
                NO_TSO_FLAG_MASKS
            } else {
                DEFAULT_TCP_FLAG_MASKS
            },
            ..l.params
        };
        let stats = segmenter
            .replicate(&request, &params, out)
            .map_err(|e| e.to_string())?;
        total.segments += stats.segments;
        total.payload_bytes += stats.payload_bytes;
        total.unexpected_tcp_flags |= stats.unexpected_tcp_flags;
    }
    Ok(total)
}

fn get16(f: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([f[at], f[at + 1]])
}

fn put16(f: &mut [u8], at: usize, v: u16) {
    f[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// Writes the fields the stack prepares for one piece; the order matters, since each
/// checksum covers the fields written before it.
fn prepare(f: &mut [u8], l: &Layout, piece: &Piece) {
    let segment_no = piece.first_segment as u16;
    let l4_len = l.hdr_len - l.l4_off + piece.seg_payload;

    if l.kind == L4Kind::Tcp {
        let seq_at = l.l4_off + TCP_SEQ;
        let seq = u32::from_be_bytes([f[seq_at], f[seq_at + 1], f[seq_at + 2], f[seq_at + 3]]);
        let seq = seq.wrapping_add((piece.first_segment * l.params.mss) as u32);
        f[seq_at..seq_at + 4].copy_from_slice(&seq.to_be_bytes());
        // FIN and PSH belong to the last segment of the whole send, CWR to the first.
        if piece.more {
            f[l.l4_off + TCP_FLAGS] &= !(TCP_FIN | TCP_PSH);
        }
        if piece.first_segment > 0 {
            f[l.l4_off + TCP_FLAGS] &= !TCP_CWR;
        }
    }
    let (proto, csum_at) = match l.kind {
        L4Kind::Tcp => (6, l.l4_off + TCP_CHECKSUM),
        L4Kind::Udp => (17, l.l4_off + UDP_CHECKSUM),
    };
    let innermost_ip = l.inner.unwrap_or(l.outer);
    put16(f, csum_at, fold(pseudo_sum(&innermost_ip, proto, 0)));

    if let Some(ip) = l.inner {
        match ip.version {
            IpVersion::V4 => {
                let total = l.hdr_len - ip.offset + piece.seg_payload;
                put16(f, ip.offset + IPV4_TOTAL_LEN, total as u16);
                let id = get16(f, ip.offset + IPV4_ID).wrapping_add(segment_no);
                put16(f, ip.offset + IPV4_ID, id);
                put16(f, ip.offset + IPV4_CHECKSUM, 0);
                let c = checksum(&f[ip.offset..ip.offset + ip.ip_header_len]);
                put16(f, ip.offset + IPV4_CHECKSUM, c);
            }
            IpVersion::V6 => {
                let len = l.hdr_len - ip.offset - IPV6_HEADER_LEN + piece.seg_payload;
                put16(f, ip.offset + IPV6_PAYLOAD_LEN, len as u16);
            }
        }
    }

    if let Some(at) = l.gre.and_then(|g| g.checksum_field()) {
        let gre = l.gre.map(|g| g.offset).unwrap_or(at);
        put16(f, at, 0);
        // A segment's L4 bytes, final checksum included, sum to the complement of its
        // pseudo-header; everything else the GRE checksum covers is the same in every
        // segment of the piece.
        let l4_sum = !fold(pseudo_sum(&innermost_ip, proto, l4_len as u32));
        let c = !fold(sum(&f[gre..l.l4_off], u64::from(l4_sum)));
        put16(f, at, c);
    }

    let outer = l.outer;
    match outer.version {
        IpVersion::V4 => {
            put16(f, outer.offset + IPV4_TOTAL_LEN, 0);
            let id = get16(f, outer.offset + IPV4_ID).wrapping_add(segment_no);
            put16(f, outer.offset + IPV4_ID, id);
            let after_header = outer.offset + outer.ip_header_len;
            let seed = !fold(sum(&f[after_header..l.l4_off], 0));
            put16(f, outer.offset + IPV4_CHECKSUM, seed);
        }
        IpVersion::V6 => put16(f, outer.offset + IPV6_PAYLOAD_LEN, 0),
    }
}
