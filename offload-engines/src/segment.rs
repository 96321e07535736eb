//! Segmentation offloads: header-replicating TSO as the Intel 82576 performs it from a
//! context descriptor ([`replicate`]), parser-driven large send for plain TCP
//! ([`tso`]), plain UDP ([`uso`]) and NVGRE/GRE tunnels ([`nvgre_lso`], R-20..R-29),
//! and TCP or UDP inside a UDP tunnel (VXLAN, Geneve) located by the driver's offsets
//! ([`Segmenter::udp_tunnel`], virtio's UDP tunnel GSO).
//!
//! All of them share one engine: a validated [`Plan`] saying which header fields to
//! rewrite, run once per segment over a reusable scratch buffer. Per segment the work is
//! a copy of header and payload chunk, a handful of field stores, and checksum passes;
//! nothing is allocated after the scratch buffer has grown to one segment.

use thiserror::Error;

use crate::checksum::{fold, pseudo_ipv4, pseudo_ipv6, sum};
use crate::parse::{self, IpVersion, Parsed, Transport};
use crate::txcsum;
use crate::wire::{be16, be32, ipv4, ipv6, put16, put32, tcp, udp};

/// Transport protocol of a segmentation or checksum request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum L4Kind {
    Tcp,
    Udp,
}

/// Longest header stack (frame start to end of the innermost L4 header) segmented;
/// NDIS suggests 256 bytes as the capability. Longer headers are refused.
pub const MAX_HEADER_LEN: usize = 256;

/// 82576 reset values of DTXTCPFLGL/H: first and middle segments drop FIN and PSH, the
/// last drops CWR.
pub const DEFAULT_TCP_FLAG_MASKS: [u16; 3] = [0x0FF6, 0x0FF6, 0x0F7F];

/// R-25 masks for parser-driven LSO: PSH and FIN only on the last segment, CWR only on
/// the first. A single-segment send keeps every flag.
pub const LSO_TCP_FLAG_MASKS: [u16; 3] = [0x0FF6, 0x0F76, 0x0F7F];

const TCP_FLAG_BITS: u16 = 0x0FFF;
/// URG, RST, SYN: not expected in a large send; copied and reported.
const TCP_UNEXPECTED_FLAGS: u16 = 0x0020 | 0x0004 | 0x0002;

/// Header-replicating TSO parameters, as a 82576 context descriptor carries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplicateParams {
    /// Offset of the (outer) IP header.
    pub maclen: usize,
    /// IP header span: from `maclen` to the L4 header (for GSO_PARTIAL GRE: outer IP +
    /// GRE + inner Ethernet + inner IP).
    pub iplen: usize,
    /// L4 header length (TCP with options; 8 for UDP).
    pub l4len: usize,
    pub mss: usize,
    /// TUCMD.IPV4: rewrite IPv4 total length, ID and header checksum (over
    /// `maclen..maclen + iplen`, field as seeded); false: IPv6 payload length.
    pub ipv4: bool,
    pub l4: L4Kind,
    /// First, middle, last segment AND-masks over the 12 TCP flag bits.
    pub tcp_flag_masks: [u16; 3],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SegmentStats {
    pub segments: usize,
    pub payload_bytes: usize,
    /// URG, RST or SYN was set in the input TCP header: copied, but worth counting
    ///
    pub unexpected_tcp_flags: bool,
}

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum SegmentError {
    #[error("MSS is zero")]
    MssZero,
    #[error("header stack of {len} bytes exceeds the {max}-byte limit")]
    HeaderTooLong { len: usize, max: usize },
    #[error("frame of {available} bytes is shorter than its {needed}-byte header")]
    Truncated { needed: usize, available: usize },
    #[error("{field} lies outside the header")]
    FieldOutOfBounds { field: &'static str },
    #[error("a {len}-byte segment does not fit the 16-bit length fields")]
    SegmentTooLong { len: usize },
    #[error("not segmentable: {0}")]
    Unsupported(&'static str),
    #[error("driver says the {field} starts at {driver}, parsing finds {parsed}")]
    OffsetMismatch {
        field: &'static str,
        driver: usize,
        parsed: usize,
    },
    #[error("cannot locate headers: {0}")]
    Parse(#[from] parse::ParseError),
}

/// The header offsets an NDIS LSO v2 request on an encapsulated packet carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TunnelOffsets {
    pub inner_frame: usize,
    pub inner_ip: usize,
    pub inner_l4: usize,
}

/// An IP header rewritten per segment.
#[derive(Debug, Clone, Copy)]
struct IpRewrite {
    off: usize,
    v4: bool,
    /// Bytes covered by the IPv4 header checksum, starting at `off`.
    csum_span: usize,
    /// Zero the IPv4 checksum field before summing (LSO), or sum it as seeded (82576
    /// IPCSE semantics of `replicate`).
    zero_csum: bool,
}

/// TCP or UDP segmentation inside a UDP tunnel, located by the driver: where the
/// outer UDP header, the inner IP header and the inner L4 header start (virtio's
/// `outer_th_offset`, `inner_nh_offset` and `csum_start`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpTunnelRequest {
    pub outer_udp: usize,
    pub inner_ip: usize,
    pub inner_l4: usize,
    pub l4: L4Kind,
    /// Compute every segment's outer UDP checksum; otherwise the field goes out
    /// as sent (zero: the tunnel sends no checksum).
    pub outer_checksum: bool,
}

/// The outer UDP header of a UDP tunnel, rewritten per segment.
#[derive(Debug, Clone, Copy)]
struct UdpTunnelRewrite {
    off: usize,
    checksum: bool,
}

#[derive(Debug, Clone, Copy)]
struct GreRewrite {
    off: usize,
    csum_field: Option<usize>,
    seq_field: Option<usize>,
}

/// Everything the per-segment loop needs, validated against the header length so that
/// the loop's field accesses cannot go out of bounds.
#[derive(Debug, Clone, Copy)]
struct Plan {
    hdr_len: usize,
    outer_ip: IpRewrite,
    inner_ip: Option<IpRewrite>,
    gre: Option<GreRewrite>,
    udp_tunnel: Option<UdpTunnelRewrite>,
    l4_off: usize,
    l4: L4Kind,
    mss: usize,
    masks: [u16; 3],
    single_mask: u16,
}

impl Plan {
    fn validate(&self, frame_len: usize) -> Result<(), SegmentError> {
        if self.mss == 0 {
            return Err(SegmentError::MssZero);
        }
        if self.hdr_len > MAX_HEADER_LEN {
            return Err(SegmentError::HeaderTooLong {
                len: self.hdr_len,
                max: MAX_HEADER_LEN,
            });
        }
        if self.hdr_len > frame_len {
            return Err(SegmentError::Truncated {
                needed: self.hdr_len,
                available: frame_len,
            });
        }
        let within = |end: Option<usize>, field: &'static str| match end {
            Some(e) if e <= self.hdr_len => Ok(()),
            _ => Err(SegmentError::FieldOutOfBounds { field }),
        };
        for (ip, name) in [
            (Some(self.outer_ip), "outer IP header"),
            (self.inner_ip, "inner IP header"),
        ] {
            let Some(ip) = ip else { continue };
            // Every rewritten IP byte lies before the L4 header, which itself lies
            // inside the header: the per-segment stores cannot touch payload or run
            // past the scratch buffer.
            let ip_end = if ip.v4 {
                if ip.csum_span < ipv4::MIN_HEADER_LEN {
                    return Err(SegmentError::FieldOutOfBounds { field: name });
                }
                ip.off.checked_add(ip.csum_span)
            } else {
                ip.off.checked_add(ipv6::HEADER_LEN)
            };
            if ip_end.is_none_or(|e| e > self.l4_off) {
                return Err(SegmentError::FieldOutOfBounds { field: name });
            }
        }
        if let Some(u) = self.udp_tunnel {
            // The outer UDP header lies after the outer IP header and before the
            // inner one, so its stores touch neither.
            let inner = self.inner_ip.map_or(self.l4_off, |ip| ip.off);
            if u.off < self.outer_ip.off
                || u.off.checked_add(udp::HEADER_LEN).is_none_or(|e| e > inner)
            {
                return Err(SegmentError::FieldOutOfBounds {
                    field: "outer UDP header",
                });
            }
        }
        if let Some(g) = self.gre {
            for f in [g.csum_field, g.seq_field].into_iter().flatten() {
                within(f.checked_add(4), "GRE option word")?;
            }
            within(Some(g.off), "GRE header")?;
        }
        let l4_min = match self.l4 {
            L4Kind::Tcp => tcp::MIN_HEADER_LEN,
            L4Kind::Udp => udp::HEADER_LEN,
        };
        within(self.l4_off.checked_add(l4_min), "L4 header")?;
        // The largest segment must still fit every 16-bit length field.
        let largest = self.hdr_len + self.mss.min(frame_len - self.hdr_len);
        let outermost_span = largest - self.outer_ip.off;
        let span_limit = if self.outer_ip.v4 {
            usize::from(u16::MAX)
        } else {
            usize::from(u16::MAX) + ipv6::HEADER_LEN
        };
        if outermost_span > span_limit {
            return Err(SegmentError::SegmentTooLong { len: largest });
        }
        Ok(())
    }
}

/// The IPv4 identification of segment `k`: the first keeps the packet's,
/// each next one adds 1, wrapping.
#[cfg(not(feature = "mutant-frozen-ip-id"))]
fn segment_id(id0: u16, k: usize) -> u16 {
    id0.wrapping_add(k as u16)
}

/// A deliberately wrong engine, compiled only with the test-only feature
/// `mutant-frozen-ip-id`: every segment repeats the first ID. `scripts/test`
/// builds it to prove the test suite catches a segmentation bug.
#[cfg(feature = "mutant-frozen-ip-id")]
fn segment_id(id0: u16, _k: usize) -> u16 {
    id0
}

/// Segmentation with a scratch buffer that is reused across calls, so that a device
/// worker allocates once. The free functions build a temporary one.
#[derive(Debug, Default)]
pub struct Segmenter {
    scratch: Vec<u8>,
}

impl Segmenter {
    pub fn new() -> Self {
        Self::default()
    }

    /// See [`replicate`].
    pub fn replicate(
        &mut self,
        frame: &[u8],
        p: &ReplicateParams,
        out: &mut dyn FnMut(&[u8]),
    ) -> Result<SegmentStats, SegmentError> {
        let overflow = SegmentError::FieldOutOfBounds {
            field: "header lengths",
        };
        let l4_off = p.maclen.checked_add(p.iplen).ok_or(overflow)?;
        let hdr_len = l4_off.checked_add(p.l4len).ok_or(overflow)?;
        let l4_min = match p.l4 {
            L4Kind::Tcp => tcp::MIN_HEADER_LEN,
            L4Kind::Udp => udp::HEADER_LEN,
        };
        if p.l4len < l4_min {
            return Err(SegmentError::FieldOutOfBounds { field: "L4 header" });
        }
        let plan = Plan {
            hdr_len,
            outer_ip: IpRewrite {
                off: p.maclen,
                v4: p.ipv4,
                csum_span: p.iplen,
                zero_csum: false,
            },
            inner_ip: None,
            gre: None,
            udp_tunnel: None,
            l4_off,
            l4: p.l4,
            mss: p.mss,
            masks: p.tcp_flag_masks,
            single_mask: p.tcp_flag_masks[0] & p.tcp_flag_masks[2],
        };
        self.run(frame, &plan, out)
    }

    /// See [`tso`].
    pub fn tso(
        &mut self,
        frame: &[u8],
        mss: usize,
        out: &mut dyn FnMut(&[u8]),
    ) -> Result<SegmentStats, SegmentError> {
        let p = parse::parse_headers(frame)?;
        let plan = plain_plan(&p, mss, L4Kind::Tcp)?;
        self.run(frame, &plan, out)
    }

    /// See [`uso`].
    pub fn uso(
        &mut self,
        frame: &[u8],
        mss: usize,
        out: &mut dyn FnMut(&[u8]),
    ) -> Result<SegmentStats, SegmentError> {
        let p = parse::parse_headers(frame)?;
        let plan = plain_plan(&p, mss, L4Kind::Udp)?;
        self.run(frame, &plan, out)
    }

    /// See [`nvgre_lso`].
    pub fn nvgre_lso(
        &mut self,
        frame: &[u8],
        mss: usize,
        out: &mut dyn FnMut(&[u8]),
    ) -> Result<SegmentStats, SegmentError> {
        let p = parse::parse_headers(frame)?;
        let plan = tunnel_plan(&p, mss)?;
        self.run(frame, &plan, out)
    }

    /// [`nvgre_lso`] after checking the driver's offsets against the parsed headers
    /// the NIC may verify them); a disagreement is refused, not guessed around.
    pub fn nvgre_lso_checked(
        &mut self,
        frame: &[u8],
        mss: usize,
        offsets: &TunnelOffsets,
        out: &mut dyn FnMut(&[u8]),
    ) -> Result<SegmentStats, SegmentError> {
        let p = parse::parse_headers(frame)?;
        let plan = tunnel_plan(&p, mss)?;
        let inner = p.inner.map(|l| l.eth.offset).unwrap_or(0);
        let inner_ip = plan.inner_ip.map(|ip| ip.off).unwrap_or(0);
        for (field, driver, parsed) in [
            ("inner frame", offsets.inner_frame, inner),
            ("inner IP header", offsets.inner_ip, inner_ip),
            ("inner L4 header", offsets.inner_l4, plan.l4_off),
        ] {
            if driver != parsed {
                return Err(SegmentError::OffsetMismatch {
                    field,
                    driver,
                    parsed,
                });
            }
        }
        self.run(frame, &plan, out)
    }

    /// TCP (TSO) or UDP (USO) segmentation of the packet inside a UDP tunnel, at
    /// the offsets the driver gives. Each segment gets the outer IP length, ID and
    /// checksum, the outer UDP length (and checksum when asked for), the inner IP
    /// length, ID and checksum, and the inner TCP sequence, flags and checksum (or
    /// UDP length and checksum), as software GSO over a UDP tunnel makes them. The
    /// outer headers are parsed and must agree with the offsets; the inner ones are
    /// taken where the driver says, and refused where they cannot be.
    pub fn udp_tunnel(
        &mut self,
        frame: &[u8],
        mss: usize,
        req: &UdpTunnelRequest,
        out: &mut dyn FnMut(&[u8]),
    ) -> Result<SegmentStats, SegmentError> {
        let plan = udp_tunnel_plan(frame, mss, req)?;
        self.run(frame, &plan, out)
    }

    fn run(
        &mut self,
        frame: &[u8],
        plan: &Plan,
        out: &mut dyn FnMut(&[u8]),
    ) -> Result<SegmentStats, SegmentError> {
        plan.validate(frame.len())?;
        let (header, payload) = frame.split_at(plan.hdr_len);
        let l4 = plan.l4_off;

        // Values every segment derives its fields from, read once from the input.
        let outer_id = be16(header, plan.outer_ip.off + ipv4::ID);
        let inner_id = plan.inner_ip.map(|ip| be16(header, ip.off + ipv4::ID));
        let gre_seq = plan.gre.and_then(|g| g.seq_field).map(|f| be32(header, f));
        let (csum_field, is_udp) = match plan.l4 {
            L4Kind::Tcp => (l4 + tcp::CHECKSUM, false),
            L4Kind::Udp => (l4 + udp::CHECKSUM, true),
        };
        // Pseudo-header sum without the length, as the host seeds it.
        let seed = u64::from(be16(header, csum_field));
        let (seq0, flags0) = match plan.l4 {
            L4Kind::Tcp => (
                be32(header, l4 + tcp::SEQ),
                be16(header, l4 + tcp::OFFSET_FLAGS),
            ),
            L4Kind::Udp => (0, 0),
        };

        let n = payload.len().div_ceil(plan.mss).max(1);
        let mut stats = SegmentStats {
            segments: 0,
            payload_bytes: 0,
            unexpected_tcp_flags: plan.l4 == L4Kind::Tcp && flags0 & TCP_UNEXPECTED_FLAGS != 0,
        };
        let mut chunks = payload.chunks(plan.mss);
        for k in 0..n {
            let chunk = chunks.next().unwrap_or(&[]);
            let s = &mut self.scratch;
            s.clear();
            s.extend_from_slice(header);
            s.extend_from_slice(chunk);
            let seg_len = s.len();
            let l4_len = seg_len - l4;

            // Lengths and identifications of both IP headers.
            for (ip, id0) in [
                (Some(plan.outer_ip), Some(outer_id)),
                (plan.inner_ip, inner_id),
            ] {
                let (Some(ip), Some(id0)) = (ip, id0) else {
                    continue;
                };
                if ip.v4 {
                    put16(s, ip.off + ipv4::TOTAL_LEN, (seg_len - ip.off) as u16);
                    put16(s, ip.off + ipv4::ID, segment_id(id0, k));
                } else {
                    let payload_len = seg_len - ip.off - ipv6::HEADER_LEN;
                    put16(s, ip.off + ipv6::PAYLOAD_LEN, payload_len as u16);
                }
            }
            if let (Some(f), Some(seq)) = (plan.gre.and_then(|g| g.seq_field), gre_seq) {
                put32(s, f, seq.wrapping_add(k as u32));
            }

            // Transport header and checksum: seed + this segment's L4 length, then the
            // L4 bytes.
            match plan.l4 {
                L4Kind::Tcp => {
                    put32(s, l4 + tcp::SEQ, seq0.wrapping_add((k * plan.mss) as u32));
                    let mask = match (k, n) {
                        (_, 1) => plan.single_mask,
                        (0, _) => plan.masks[0],
                        (k, n) if k + 1 == n => plan.masks[2],
                        _ => plan.masks[1],
                    };
                    let flags = (flags0 & !TCP_FLAG_BITS) | (flags0 & mask & TCP_FLAG_BITS);
                    put16(s, l4 + tcp::OFFSET_FLAGS, flags);
                }
                L4Kind::Udp => put16(s, l4 + udp::LENGTH, l4_len as u16),
            }
            put16(s, csum_field, fold(seed + l4_len as u64));
            txcsum::insert_l4(s, l4, csum_field - l4, is_udp).map_err(|_| {
                SegmentError::FieldOutOfBounds {
                    field: "L4 checksum",
                }
            })?;

            // Enclosing checksums last, innermost first: each covers the previous ones.
            if let Some(ip) = plan.inner_ip.filter(|ip| ip.v4) {
                ipv4_checksum(s, &ip);
            }
            if let Some(u) = plan.udp_tunnel {
                let udp_len = seg_len - u.off;
                put16(s, u.off + udp::LENGTH, udp_len as u16);
                if u.checksum {
                    outer_udp_checksum(s, &plan.outer_ip, u.off, udp_len);
                }
            }
            if let Some(f) = plan.gre.and_then(|g| g.csum_field) {
                let g = plan.gre.map(|g| g.off).unwrap_or(0);
                put16(s, f, 0);
                let c = !fold(sum(&s[g..], 0));
                put16(s, f, c);
            }
            if plan.outer_ip.v4 {
                ipv4_checksum(s, &plan.outer_ip);
            }

            out(s);
            stats.segments += 1;
            stats.payload_bytes += chunk.len();
        }
        Ok(stats)
    }
}

fn ipv4_checksum(s: &mut [u8], ip: &IpRewrite) {
    if ip.zero_csum {
        put16(s, ip.off + ipv4::CHECKSUM, 0);
    }
    let span = &s[ip.off..ip.off + ip.csum_span];
    // Per segment, twice for NVGRE: the common 20-byte header is five 32-bit words,
    // summed directly rather than through the bulk loop.
    let acc = match <&[u8; 20]>::try_from(span) {
        Ok(h) => h
            .chunks_exact(4)
            .map(|w| u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]])))
            .sum(),
        Err(_) => sum(span, 0),
    };
    put16(s, ip.off + ipv4::CHECKSUM, !fold(acc));
}

/// The outer UDP checksum of one segment: pseudo-header (outer addresses, UDP,
/// this segment's UDP length) and everything from the UDP header on, with the
/// inner checksums already in place. A computed 0 goes out as 0xFFFF (RFC 768).
fn outer_udp_checksum(s: &mut [u8], ip: &IpRewrite, off: usize, udp_len: usize) {
    const UDP: u8 = 17;
    put16(s, off + udp::CHECKSUM, 0);
    let pseudo = if ip.v4 {
        let a = |o: usize| [s[o], s[o + 1], s[o + 2], s[o + 3]];
        pseudo_ipv4(
            a(ip.off + ipv4::SRC),
            a(ip.off + ipv4::DST),
            UDP,
            udp_len as u32,
        )
    } else {
        let a = |o: usize| -> [u8; 16] { s[o..o + 16].try_into().unwrap_or([0; 16]) };
        pseudo_ipv6(
            a(ip.off + ipv6::SRC),
            a(ip.off + ipv6::DST),
            UDP,
            udp_len as u32,
        )
    };
    let c = !fold(sum(&s[off..], pseudo));
    put16(s, off + udp::CHECKSUM, if c == 0 { 0xFFFF } else { c });
}

/// Checks the driver's offsets of a UDP tunnel request against the frame.
fn udp_tunnel_plan(frame: &[u8], mss: usize, req: &UdpTunnelRequest) -> Result<Plan, SegmentError> {
    let p = parse::parse_headers(frame)?;
    let ip = outer_ip(&p)?;
    let outer = p
        .outer
        .l4
        .filter(|l4| l4.transport == Transport::Udp)
        .ok_or(SegmentError::Unsupported("the outer transport is not UDP"))?;
    if outer.offset != req.outer_udp {
        return Err(SegmentError::OffsetMismatch {
            field: "outer UDP header",
            driver: req.outer_udp,
            parsed: outer.offset,
        });
    }
    let bad = |field| SegmentError::FieldOutOfBounds { field };
    // Every offset lies inside the frame (outer UDP < inner IP < inner L4), so the
    // sums below cannot overflow whatever the driver wrote.
    if req.inner_ip < req.outer_udp + udp::HEADER_LEN || req.inner_ip >= frame.len() {
        return Err(bad("inner IP header"));
    }
    if req.inner_l4 <= req.inner_ip || req.inner_l4 >= frame.len() {
        return Err(bad("L4 header"));
    }
    let first = *frame.get(req.inner_ip).ok_or(bad("inner IP header"))?;
    let inner_ip = match first >> 4 {
        4 => {
            let ihl = usize::from(first & 0x0f) * 4;
            let hdr = frame
                .get(req.inner_ip..req.inner_ip + ihl.max(ipv4::MIN_HEADER_LEN))
                .ok_or(bad("inner IP header"))?;
            if ihl < ipv4::MIN_HEADER_LEN || req.inner_l4 != req.inner_ip + ihl {
                return Err(bad("inner IP header"));
            }
            let frag = be16(hdr, ipv4::FLAGS_FRAGMENT);
            if frag & (ipv4::MORE_FRAGMENTS | ipv4::FRAGMENT_OFFSET_MASK) != 0 {
                return Err(SegmentError::Unsupported("inner IP fragment"));
            }
            let want = match req.l4 {
                L4Kind::Tcp => 6,
                L4Kind::Udp => 17,
            };
            if hdr[ipv4::PROTOCOL] != want {
                return Err(SegmentError::Unsupported(
                    "inner protocol is not the one to segment",
                ));
            }
            IpRewrite {
                off: req.inner_ip,
                v4: true,
                csum_span: ihl,
                zero_csum: true,
            }
        }
        6 if req.inner_l4 >= req.inner_ip + ipv6::HEADER_LEN => IpRewrite {
            off: req.inner_ip,
            v4: false,
            csum_span: ipv6::HEADER_LEN,
            zero_csum: true,
        },
        _ => return Err(bad("inner IP header")),
    };
    let l4_len = match req.l4 {
        L4Kind::Tcp => {
            let doff = frame
                .get(req.inner_l4 + tcp::OFFSET_FLAGS)
                .ok_or(bad("L4 header"))?
                >> 4;
            usize::from(doff) * 4
        }
        L4Kind::Udp => udp::HEADER_LEN,
    };
    Ok(Plan {
        hdr_len: req.inner_l4 + l4_len,
        outer_ip: lso_ip(&ip),
        inner_ip: Some(inner_ip),
        gre: None,
        udp_tunnel: Some(UdpTunnelRewrite {
            off: req.outer_udp,
            checksum: req.outer_checksum,
        }),
        l4_off: req.inner_l4,
        l4: req.l4,
        mss,
        masks: LSO_TCP_FLAG_MASKS,
        single_mask: TCP_FLAG_BITS,
    })
}

fn lso_ip(ip: &parse::IpInfo) -> IpRewrite {
    IpRewrite {
        off: ip.offset,
        v4: ip.version == IpVersion::V4,
        csum_span: ip.ip_header_len,
        zero_csum: true,
    }
}

fn l4_of(
    l4: Option<parse::L4Info>,
    want: Option<L4Kind>,
) -> Result<(parse::L4Info, L4Kind), SegmentError> {
    let l4 = l4.ok_or(SegmentError::Unsupported("no TCP or UDP header"))?;
    let kind = match l4.transport {
        Transport::Tcp => L4Kind::Tcp,
        Transport::Udp => L4Kind::Udp,
        _ => return Err(SegmentError::Unsupported("no TCP or UDP header")),
    };
    match want {
        Some(w) if w != kind => Err(SegmentError::Unsupported("unexpected transport protocol")),
        _ => Ok((l4, kind)),
    }
}

fn plain_plan(p: &Parsed, mss: usize, want: L4Kind) -> Result<Plan, SegmentError> {
    if p.gre.is_some() {
        return Err(SegmentError::Unsupported("tunnelled frame; use nvgre_lso"));
    }
    let ip = p
        .outer
        .ip
        .ok_or(SegmentError::Unsupported("not an IP frame"))?;
    if ip.fragment {
        return Err(SegmentError::Unsupported("IP fragment"));
    }
    let (l4, kind) = l4_of(p.outer.l4, Some(want))?;
    Ok(Plan {
        hdr_len: l4.offset + l4.header_len,
        outer_ip: lso_ip(&ip),
        inner_ip: None,
        gre: None,
        udp_tunnel: None,
        l4_off: l4.offset,
        l4: kind,
        mss,
        masks: LSO_TCP_FLAG_MASKS,
        single_mask: TCP_FLAG_BITS,
    })
}

/// The outer IP header of a tunnelled frame, which may not be a fragment.
fn outer_ip(p: &Parsed) -> Result<parse::IpInfo, SegmentError> {
    let ip = p
        .outer
        .ip
        .ok_or(SegmentError::Unsupported("not an IP frame"))?;
    if ip.fragment {
        return Err(SegmentError::Unsupported("outer IP fragment"));
    }
    Ok(ip)
}

fn tunnel_plan(p: &Parsed, mss: usize) -> Result<Plan, SegmentError> {
    let ip = outer_ip(p)?;
    let g = p
        .gre
        .ok_or(SegmentError::Unsupported("not a version-0 GRE frame"))?;
    let inner = p
        .inner
        .ok_or(SegmentError::Unsupported("GRE does not carry Ethernet"))?;
    let iip = inner
        .ip
        .ok_or(SegmentError::Unsupported("inner frame is not IP"))?;
    if iip.fragment {
        return Err(SegmentError::Unsupported("inner IP fragment"));
    }
    let (l4, kind) = l4_of(inner.l4, None)?;
    Ok(Plan {
        hdr_len: l4.offset + l4.header_len,
        outer_ip: lso_ip(&ip),
        inner_ip: Some(lso_ip(&iip)),
        gre: Some(GreRewrite {
            off: g.offset,
            csum_field: g.checksum_field(),
            seq_field: g.sequence_field(),
        }),
        udp_tunnel: None,
        l4_off: l4.offset,
        l4: kind,
        mss,
        masks: LSO_TCP_FLAG_MASKS,
        single_mask: TCP_FLAG_BITS,
    })
}

/// Header-replicating TSO exactly as the 82576 performs it from a context descriptor.
///
/// `frame` is the header (`maclen + iplen + l4len` bytes) followed by the payload. Each
/// emitted segment is the header followed by up to `mss` payload bytes, with: IPv4 total
/// length, ID (+1 per segment, wrapping) and header checksum over `maclen..maclen+iplen`
/// with the field as seeded (see [`txcsum::insert_ipv4_header`]), or the IPv6 payload
/// length; TCP sequence number advanced by `mss` per segment, flags masked by
/// `tcp_flag_masks` (a single segment uses first & last), and the checksum computed from
/// the seeded field plus the segment's L4 length; for UDP the length field and checksum.
pub fn replicate(
    frame: &[u8],
    p: &ReplicateParams,
    out: &mut dyn FnMut(&[u8]),
) -> Result<SegmentStats, SegmentError> {
    Segmenter::new().replicate(frame, p, out)
}

/// Plain TCP large send: headers located by parsing (lengths from the buffer, R-29);
/// IPv4 header checksum recomputed; TCP checksum field seeded with the pseudo-header sum
/// without length; flags.
pub fn tso(
    frame: &[u8],
    mss: usize,
    out: &mut dyn FnMut(&[u8]),
) -> Result<SegmentStats, SegmentError> {
    Segmenter::new().tso(frame, mss, out)
}

/// Plain UDP segmentation: each segment becomes a datagram with its own UDP length and
/// checksum (seeded like TCP), IPv4 ID advancing per segment.
pub fn uso(
    frame: &[u8],
    mss: usize,
    out: &mut dyn FnMut(&[u8]),
) -> Result<SegmentStats, SegmentError> {
    Segmenter::new().uso(frame, mss, out)
}

/// Large send of a GRE-encapsulated Ethernet frame (NVGRE, R-20..R-29) carrying TCP or
/// UDP: per segment both IP headers get lengths, IDs and checksums rewritten
/// independently of their versions, the GRE key is untouched, a GRE
/// checksum (C=1) is recomputed and a GRE sequence number (S=1) advances by one
/// **[tunic]** (R-28).
pub fn nvgre_lso(
    frame: &[u8],
    mss: usize,
    out: &mut dyn FnMut(&[u8]),
) -> Result<SegmentStats, SegmentError> {
    Segmenter::new().nvgre_lso(frame, mss, out)
}
