//! Decodes emitted frames with etherparse into plain fields and checksum verdicts.
//! The header offsets come from the [`Built`] frame the segments were cut from, since
//! segmentation never moves headers.

use std::fmt::Write as _;

use etherparse::{Ipv4Header, Ipv6Header, TcpHeader, UdpHeader};
use serde::Serialize;

use crate::build::Built;
use crate::ones;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IpView {
    pub version: u8,
    /// IPv4 total length, or IPv6 payload length.
    pub len: u16,
    pub id: Option<u16>,
    pub checksum_ok: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GreView {
    pub flags: String,
    pub protocol: u16,
    pub key: Option<u32>,
    pub vsid: Option<u32>,
    pub flow_id: Option<u8>,
    pub seq: Option<u32>,
    pub checksum_ok: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum L4View {
    Tcp {
        seq: u32,
        flags: String,
        checksum_ok: bool,
    },
    Udp {
        len: u16,
        checksum_ok: bool,
    },
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SegmentView {
    pub frame_len: usize,
    pub outer_ip: Option<IpView>,
    pub gre: Option<GreView>,
    pub ip: IpView,
    pub l4: L4View,
    pub payload_len: usize,
}

impl SegmentView {
    /// Every checksum present verifies.
    pub fn checksums_ok(&self) -> bool {
        let ip_ok = |v: &IpView| v.checksum_ok != Some(false);
        self.outer_ip.as_ref().is_none_or(ip_ok)
            && ip_ok(&self.ip)
            && self
                .gre
                .as_ref()
                .is_none_or(|g| g.checksum_ok != Some(false))
            && match &self.l4 {
                L4View::Tcp { checksum_ok, .. } | L4View::Udp { checksum_ok, .. } => *checksum_ok,
                L4View::Other => true,
            }
    }

    /// One compact line for snapshots.
    pub fn line(&self) -> String {
        let mut s = format!("len={}", self.frame_len);
        let ip = |s: &mut String, tag: &str, v: &IpView| {
            let _ = write!(s, " {tag}v{}(len={}", v.version, v.len);
            if let Some(id) = v.id {
                let _ = write!(s, " id={id:#06x}");
            }
            if let Some(ok) = v.checksum_ok {
                let _ = write!(s, " csum={}", verdict(ok));
            }
            s.push(')');
        };
        if let Some(o) = &self.outer_ip {
            ip(&mut s, "outer:ip", o);
        }
        if let Some(g) = &self.gre {
            let _ = write!(s, " gre({} proto={:#06x}", g.flags, g.protocol);
            if let (Some(v), Some(f)) = (g.vsid, g.flow_id) {
                let _ = write!(s, " vsid={v:#08x} flow={f:#04x}");
            } else if let Some(k) = g.key {
                let _ = write!(s, " key={k:#010x}");
            }
            if let Some(q) = g.seq {
                let _ = write!(s, " seq={q:#010x}");
            }
            if let Some(ok) = g.checksum_ok {
                let _ = write!(s, " csum={}", verdict(ok));
            }
            s.push(')');
        }
        ip(&mut s, "ip", &self.ip);
        match &self.l4 {
            L4View::Tcp {
                seq,
                flags,
                checksum_ok,
            } => {
                let _ = write!(
                    s,
                    " tcp(seq={seq:#010x} flags={flags} csum={})",
                    verdict(*checksum_ok)
                );
            }
            L4View::Udp { len, checksum_ok } => {
                let _ = write!(s, " udp(len={len} csum={})", verdict(*checksum_ok));
            }
            L4View::Other => s.push_str(" other"),
        }
        let _ = write!(s, " payload={}", self.payload_len);
        s
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "BAD"
    }
}

struct IpAddrs {
    src: Vec<u8>,
    dst: Vec<u8>,
}

fn decode_ip(seg: &[u8], off: usize) -> (IpView, IpAddrs) {
    match seg[off] >> 4 {
        4 => {
            let (h, _) = Ipv4Header::from_slice(&seg[off..]).expect("IPv4 header");
            (
                IpView {
                    version: 4,
                    len: h.total_len,
                    id: Some(h.identification),
                    checksum_ok: Some(h.header_checksum == h.calc_header_checksum()),
                },
                IpAddrs {
                    src: h.source.to_vec(),
                    dst: h.destination.to_vec(),
                },
            )
        }
        _ => {
            let (h, _) = Ipv6Header::from_slice(&seg[off..]).expect("IPv6 header");
            (
                IpView {
                    version: 6,
                    len: h.payload_length,
                    id: None,
                    checksum_ok: None,
                },
                IpAddrs {
                    src: h.source.to_vec(),
                    dst: h.destination.to_vec(),
                },
            )
        }
    }
}

fn tcp_flags(h: &TcpHeader) -> String {
    [
        (h.cwr, 'C'),
        (h.ece, 'E'),
        (h.urg, 'U'),
        (h.ack, 'A'),
        (h.psh, 'P'),
        (h.rst, 'R'),
        (h.syn, 'S'),
        (h.fin, 'F'),
    ]
    .iter()
    .filter(|(set, _)| *set)
    .map(|&(_, c)| c)
    .collect()
}

/// Decodes one segment cut from `b`'s frame.
pub fn segment(b: &Built, seg: &[u8]) -> SegmentView {
    let (outer_ip, gre) = match b.gre {
        Some(g) => {
            let (v, _) = decode_ip(seg, b.outer_ip);
            let flags = u16::from_be_bytes([seg[g], seg[g + 1]]);
            let (c, k, s) = (
                flags & 0x8000 != 0,
                flags & 0x2000 != 0,
                flags & 0x1000 != 0,
            );
            let mut at = g + 4 + if c { 4 } else { 0 };
            let word =
                |at: usize| u32::from_be_bytes([seg[at], seg[at + 1], seg[at + 2], seg[at + 3]]);
            let key = k.then(|| word(at));
            if k {
                at += 4;
            }
            let seq = s.then(|| word(at));
            let protocol = u16::from_be_bytes([seg[g + 2], seg[g + 3]]);
            let flag_str: String = [(c, 'C'), (k, 'K'), (s, 'S')]
                .iter()
                .filter(|(set, _)| *set)
                .map(|&(_, ch)| ch)
                .collect();
            (
                Some(v),
                Some(GreView {
                    flags: flag_str,
                    protocol,
                    key,
                    vsid: key.filter(|_| protocol == 0x6558).map(|k| k >> 8),
                    flow_id: key.filter(|_| protocol == 0x6558).map(|k| k as u8),
                    seq,
                    checksum_ok: c.then(|| ones::sum16(&seg[g..], 0) == 0xFFFF),
                }),
            )
        }
        None => (None, None),
    };
    let (ip, addrs) = decode_ip(seg, b.ip);
    let proto = if ip.version == 4 {
        seg[b.ip + 9]
    } else {
        // Builder puts at most one extension header before L4; its first byte is the
        // upper-layer protocol.
        if b.l4 - b.ip > 40 {
            seg[b.ip + 40]
        } else {
            seg[b.ip + 6]
        }
    };
    let l4 = match proto {
        6 => {
            let (h, payload) = TcpHeader::from_slice(&seg[b.l4..]).expect("TCP header");
            let expect = if ip.version == 4 {
                h.calc_checksum_ipv4_raw(
                    addrs.src.clone().try_into().unwrap(),
                    addrs.dst.clone().try_into().unwrap(),
                    payload,
                )
            } else {
                h.calc_checksum_ipv6_raw(
                    addrs.src.clone().try_into().unwrap(),
                    addrs.dst.clone().try_into().unwrap(),
                    payload,
                )
            };
            L4View::Tcp {
                seq: h.sequence_number,
                flags: tcp_flags(&h),
                checksum_ok: expect.ok() == Some(h.checksum),
            }
        }
        17 => {
            let (h, _) = UdpHeader::from_slice(&seg[b.l4..]).expect("UDP header");
            let payload = &seg[b.l4 + 8..];
            let expect = if ip.version == 4 {
                h.calc_checksum_ipv4_raw(
                    addrs.src.clone().try_into().unwrap(),
                    addrs.dst.clone().try_into().unwrap(),
                    payload,
                )
            } else {
                h.calc_checksum_ipv6_raw(
                    addrs.src.clone().try_into().unwrap(),
                    addrs.dst.clone().try_into().unwrap(),
                    payload,
                )
            };
            L4View::Udp {
                len: h.length,
                checksum_ok: expect.ok() == Some(h.checksum),
            }
        }
        _ => L4View::Other,
    };
    SegmentView {
        frame_len: seg.len(),
        outer_ip,
        gre,
        ip,
        l4,
        payload_len: seg.len() - b.header_len,
    }
}
