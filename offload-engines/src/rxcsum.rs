//! Receive checksum validation. Every layer gets its own verdict;
//! `None` means "not verified" (absent, not IPv4, a fragment, an unparseable or
//! unsupported encapsulation), never "bad".

use crate::checksum::{fold, pseudo_ipv4, pseudo_ipv6, sum};
use crate::parse::{self, GreInfo, IpInfo, IpVersion, L4Info, Transport};
pub use crate::segment::L4Kind;
use crate::wire::{be16, ip_proto, udp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RxCsum {
    /// Outer IPv4 header checksum.
    pub outer_ipv4: Option<bool>,
    /// TCP/UDP directly over the outer IP (frames that are not tunnelled).
    pub outer_l4: Option<(L4Kind, bool)>,
    /// GRE checksum, when the GRE header has C=1 **[tunic]**.
    pub gre: Option<bool>,
    pub inner_ipv4: Option<bool>,
    pub inner_l4: Option<(L4Kind, bool)>,
    /// The GRE header of a version-0 GRE frame (key, VSID, FlowID, flags).
    pub tunnel: Option<GreInfo>,
}

impl RxCsum {
    /// The single "IP checksum" verdict NDIS reports for IP-in-IP: good only if
    /// every IPv4 header checked is good, failed if any is bad.
    pub fn ip_ok(&self) -> Option<bool> {
        match (self.outer_ipv4, self.inner_ipv4) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(true) && b.unwrap_or(true)),
        }
    }

    /// The transport verdict of the innermost TCP/UDP header.
    pub fn l4_ok(&self) -> Option<(L4Kind, bool)> {
        self.inner_l4.or(self.outer_l4)
    }
}

/// A span verifies when its ones'-complement sum, checksum included, is all ones.
fn verifies(acc: u64) -> bool {
    fold(acc) == 0xFFFF
}

fn ipv4_header_ok(frame: &[u8], ip: &IpInfo) -> Option<bool> {
    (ip.version == IpVersion::V4)
        .then(|| verifies(sum(&frame[ip.offset..ip.offset + ip.ip_header_len], 0)))
}

fn pseudo(ip: &IpInfo, proto: u8, len: usize) -> u64 {
    match (ip.src, ip.dst) {
        (core::net::IpAddr::V4(s), core::net::IpAddr::V4(d)) => {
            pseudo_ipv4(s.octets(), d.octets(), proto, len as u32)
        }
        (core::net::IpAddr::V6(s), core::net::IpAddr::V6(d)) => {
            pseudo_ipv6(s.octets(), d.octets(), proto, len as u32)
        }
        // The parser always produces matching address families.
        _ => 0,
    }
}

fn l4_ok(frame: &[u8], ip: &IpInfo, l4: &L4Info) -> Option<(L4Kind, bool)> {
    if ip.fragment {
        return None;
    }
    match l4.transport {
        Transport::Tcp => {
            let span = &frame[l4.offset..ip.end];
            let ok = verifies(sum(span, pseudo(ip, ip_proto::TCP, span.len())));
            Some((L4Kind::Tcp, ok))
        }
        Transport::Udp => {
            if be16(frame, l4.offset + udp::CHECKSUM) == 0 {
                // Zero means "no checksum" over IPv4; over IPv6 it is forbidden
                // (RFC 8200 section 8.1), so it counts as bad there.
                return match ip.version {
                    IpVersion::V4 => None,
                    IpVersion::V6 => Some((L4Kind::Udp, false)),
                };
            }
            // The parser checked 8 <= length <= IP payload.
            let ulen = usize::from(be16(frame, l4.offset + udp::LENGTH));
            let span = &frame[l4.offset..l4.offset + ulen];
            let ok = verifies(sum(span, pseudo(ip, ip_proto::UDP, ulen)));
            Some((L4Kind::Udp, ok))
        }
        Transport::Icmpv4 | Transport::Icmpv6 => None,
    }
}

/// Validates every checksum the frame carries and the NIC is able to check.
pub fn validate(frame: &[u8]) -> RxCsum {
    match parse::parse_partial(frame) {
        Ok((p, _)) => validate_parsed(frame, &p),
        Err(_) => RxCsum::default(),
    }
}

/// [`validate`] for a frame the caller has already parsed with
/// [`parse::parse_partial`]. A `p` that does not fit `frame` verifies nothing.
pub fn validate_parsed(frame: &[u8], p: &parse::Parsed) -> RxCsum {
    let mut r = RxCsum::default();
    let Some(ip) = p.outer.ip else {
        return r;
    };
    // Every span summed below lies within the outer IP packet.
    if ip.end > frame.len() {
        return r;
    }
    r.outer_ipv4 = ipv4_header_ok(frame, &ip);
    if let Some(l4) = p.outer.l4 {
        r.outer_l4 = l4_ok(frame, &ip, &l4);
    }
    let Some(g) = p.gre else {
        return r;
    };
    r.tunnel = Some(g);
    if g.has_checksum() {
        r.gre = Some(verifies(sum(&frame[g.offset..ip.end], 0)));
    }
    if let Some(inner) = p.inner {
        if let Some(iip) = inner.ip {
            r.inner_ipv4 = ipv4_header_ok(frame, &iip);
            if let Some(l4) = inner.l4 {
                r.inner_l4 = l4_ok(frame, &iip, &l4);
            }
        }
    }
    r
}
