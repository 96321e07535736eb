//! Frame builder: plain or GRE/NVGRE frames with any mix of IPv4/IPv6, IPv4 options,
//! IPv6 extension headers, TCP timestamps, VLAN tags and GRE C/K/S words.

use etherparse::{
    EtherType, Ethernet2Header, IpFragOffset, IpNumber, Ipv4Header, Ipv6FlowLabel, Ipv6Header,
    TcpHeader, UdpHeader,
};

use crate::ones;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Ip {
    V4,
    V6,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Proto {
    Tcp,
    Udp,
    Icmp,
}

/// How the checksum and length fields are left in the built frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seed {
    /// A finished frame as received: every length and checksum correct.
    Final,
    /// A large send as the host hands it over: IP checksums zero, L4 checksum seeded
    /// with the pseudo-header sum without length, IP lengths as far as they fit.
    Lso,
    /// A checksum-offload frame: IP checksums zero, L4 checksum seeded with the
    /// pseudo-header sum including the length.
    TxCsum,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpFlags {
    pub cwr: bool,
    pub psh: bool,
    pub fin: bool,
}

#[derive(Debug, Clone)]
pub struct Tunnel {
    pub outer: Ip,
    /// Outer IPv4 options, or an outer IPv6 destination-options header.
    pub outer_extras: bool,
    pub outer_vlan: Option<u16>,
    pub outer_id: u16,
    pub gre_checksum: bool,
    pub key: Option<u32>,
    pub seq: Option<u32>,
    pub protocol: u16,
}

impl Tunnel {
    /// Plain NVGRE: C=0, K=1, S=0, protocol 0x6558.
    pub fn nvgre(outer: Ip, vsid: u32, flow_id: u8) -> Self {
        Tunnel {
            outer,
            outer_extras: false,
            outer_vlan: None,
            outer_id: 0x1000,
            gre_checksum: false,
            key: Some(vsid << 8 | u32::from(flow_id)),
            seq: None,
            protocol: 0x6558,
        }
    }
}

#[derive(Debug, Clone)]
pub struct FrameSpec {
    pub tunnel: Option<Tunnel>,
    /// The innermost IP header.
    pub ip: Ip,
    /// IPv4 options, or an IPv6 hop-by-hop header, on the innermost IP header.
    pub ip_extras: bool,
    pub proto: Proto,
    pub tcp_timestamps: bool,
    pub flags: TcpFlags,
    /// Innermost IPv4 identification.
    pub id: u16,
    pub seq: u32,
    pub payload_len: usize,
    /// VLAN tag on the innermost Ethernet header.
    pub vlan: Option<u16>,
    pub seed: Seed,
}

impl FrameSpec {
    pub fn tcp(ip: Ip, payload_len: usize, seed: Seed) -> Self {
        FrameSpec {
            tunnel: None,
            ip,
            ip_extras: false,
            proto: Proto::Tcp,
            tcp_timestamps: false,
            flags: TcpFlags {
                cwr: true,
                psh: true,
                fin: true,
            },
            id: 0x4242,
            seq: 0x1000_0000,
            payload_len,
            vlan: None,
            seed,
        }
    }
}

/// A built frame and the offsets of its headers.
#[derive(Debug, Clone)]
pub struct Built {
    pub frame: Vec<u8>,
    pub outer_ip: usize,
    pub gre: Option<usize>,
    pub gre_len: usize,
    pub inner_eth: Option<usize>,
    /// Innermost IP header.
    pub ip: usize,
    pub l4: usize,
    /// Frame start to end of the innermost L4 header.
    pub header_len: usize,
}

pub const SRC4: [u8; 4] = [192, 0, 2, 10];
pub const DST4: [u8; 4] = [198, 51, 100, 20];
pub const OUTER_SRC4: [u8; 4] = [203, 0, 113, 1];
pub const OUTER_DST4: [u8; 4] = [203, 0, 113, 2];
pub const SRC6: [u8; 16] = [
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];
pub const DST6: [u8; 16] = [
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20,
];
pub const OUTER_SRC6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
pub const OUTER_DST6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
pub const INNER_DST_MAC: [u8; 6] = [0x02, 0xaa, 0, 0, 0, 0x01];
pub const INNER_SRC_MAC: [u8; 6] = [0x02, 0xaa, 0, 0, 0, 0x02];
pub const OUTER_DST_MAC: [u8; 6] = [0x02, 0xbb, 0, 0, 0, 0x01];
pub const OUTER_SRC_MAC: [u8; 6] = [0x02, 0xbb, 0, 0, 0, 0x02];
pub const SPORT: u16 = 40000;
pub const DPORT: u16 = 5201;

/// Deterministic payload so that reassembly checks are meaningful.
pub fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + 7) as u8).collect()
}

fn ethernet(dst: [u8; 6], src: [u8; 6], vlan: Option<u16>, ether_type: u16) -> Vec<u8> {
    let mut v = Vec::new();
    let outer_type = if vlan.is_some() { 0x8100 } else { ether_type };
    Ethernet2Header {
        source: src,
        destination: dst,
        ether_type: EtherType(outer_type),
    }
    .write(&mut v)
    .expect("write to Vec");
    if let Some(tci) = vlan {
        v.extend_from_slice(&tci.to_be_bytes());
        v.extend_from_slice(&ether_type.to_be_bytes());
    }
    v
}

/// An IPv4 header (optionally with 8 bytes of options: NOP padding plus a router
/// alert) or an IPv6 header (optionally followed by an 8-byte extension header of type
/// `ext_type` holding a PadN option). Returns the bytes; the length fields describe
/// `upper_len` bytes after the header, saturating to 0 when they do not fit.
#[allow(clippy::too_many_arguments)]
fn ip_header(
    ip: Ip,
    src4: [u8; 4],
    dst4: [u8; 4],
    src6: [u8; 16],
    dst6: [u8; 16],
    extras: bool,
    ext_type: u8,
    proto: u8,
    id: u16,
    upper_len: usize,
    with_checksum: bool,
) -> Vec<u8> {
    let mut v = Vec::new();
    match ip {
        Ip::V4 => {
            let mut h = Ipv4Header {
                time_to_live: 64,
                protocol: IpNumber(proto),
                source: src4,
                destination: dst4,
                identification: id,
                dont_fragment: true,
                fragment_offset: IpFragOffset::ZERO,
                ..Default::default()
            };
            if extras {
                h.options = [1, 1, 1, 1, 0x94, 0x04, 0, 0].into();
            }
            let total = h.header_len() + upper_len;
            h.total_len = u16::try_from(total).unwrap_or(0);
            if with_checksum {
                h.header_checksum = h.calc_header_checksum();
            }
            // write_raw: `write` would always fill in the checksum.
            h.write_raw(&mut v).expect("write to Vec");
        }
        Ip::V6 => {
            let ext_len = if extras { 8 } else { 0 };
            let h = Ipv6Header {
                traffic_class: 0,
                flow_label: Ipv6FlowLabel::ZERO,
                payload_length: u16::try_from(ext_len + upper_len).unwrap_or(0),
                next_header: IpNumber(if extras { ext_type } else { proto }),
                hop_limit: 64,
                source: src6,
                destination: dst6,
            };
            h.write(&mut v).expect("write to Vec");
            if extras {
                v.extend_from_slice(&[proto, 0, 1, 4, 0, 0, 0, 0]);
            }
        }
    }
    v
}

/// Builds the frame described by `spec`.
pub fn build(spec: &FrameSpec) -> Built {
    let data = payload(spec.payload_len);
    let (src6, dst6) = (SRC6, DST6);

    // Innermost L4 header.
    let (l4, proto) = match spec.proto {
        Proto::Tcp => {
            let mut t = TcpHeader::new(SPORT, DPORT, spec.seq, 0xfff0);
            t.ack = true;
            t.acknowledgment_number = 0x0bad_cafe;
            t.cwr = spec.flags.cwr;
            t.psh = spec.flags.psh;
            t.fin = spec.flags.fin;
            if spec.tcp_timestamps {
                t.set_options_raw(&[1, 1, 8, 10, 0, 0, 0x12, 0x34, 0, 0, 0x56, 0x78])
                    .expect("12 bytes of options");
            }
            let len = t.header_len() + data.len();
            t.checksum = match (spec.seed, spec.ip) {
                (Seed::Final, Ip::V4) => t.calc_checksum_ipv4_raw(SRC4, DST4, &data).unwrap(),
                (Seed::Final, Ip::V6) => t.calc_checksum_ipv6_raw(src6, dst6, &data).unwrap(),
                (seed, ip) => seed_value(seed, ip, 6, len),
            };
            (t.to_bytes().to_vec(), 6u8)
        }
        Proto::Udp => {
            let len = 8 + data.len();
            let mut u = UdpHeader {
                source_port: SPORT,
                destination_port: DPORT,
                length: u16::try_from(len).unwrap_or(0),
                checksum: 0,
            };
            u.checksum = match (spec.seed, spec.ip) {
                (Seed::Final, Ip::V4) => u.calc_checksum_ipv4_raw(SRC4, DST4, &data).unwrap(),
                (Seed::Final, Ip::V6) => u.calc_checksum_ipv6_raw(src6, dst6, &data).unwrap(),
                (seed, ip) => seed_value(seed, ip, 17, len),
            };
            (u.to_bytes().to_vec(), 17u8)
        }
        Proto::Icmp => {
            // Echo request; checksum over the message (ICMPv6 adds a pseudo-header).
            let (ty, proto) = match spec.ip {
                Ip::V4 => (8u8, 1u8),
                Ip::V6 => (128u8, 58u8),
            };
            let mut h = vec![ty, 0, 0, 0, 0x12, 0x34, 0, 1];
            if spec.seed == Seed::Final {
                let mut msg = h.clone();
                msg.extend_from_slice(&data);
                let init = match spec.ip {
                    Ip::V4 => 0,
                    Ip::V6 => u32::from(ones::pseudo(&src6, &dst6, 58, Some(msg.len() as u32))),
                };
                let c = !ones::sum16(&msg, init);
                h[2..4].copy_from_slice(&c.to_be_bytes());
            }
            (h, proto)
        }
    };
    let upper_len = l4.len() + data.len();
    let ip_hdr = ip_header(
        spec.ip,
        SRC4,
        DST4,
        src6,
        dst6,
        spec.ip_extras,
        0, // hop-by-hop
        proto,
        spec.id,
        upper_len,
        spec.seed == Seed::Final,
    );
    let ether_type = match spec.ip {
        Ip::V4 => 0x0800,
        Ip::V6 => 0x86DD,
    };

    let Some(t) = &spec.tunnel else {
        let mut frame = ethernet(OUTER_DST_MAC, OUTER_SRC_MAC, spec.vlan, ether_type);
        let ip = frame.len();
        frame.extend_from_slice(&ip_hdr);
        let l4_off = frame.len();
        frame.extend_from_slice(&l4);
        let header_len = frame.len();
        frame.extend_from_slice(&data);
        return Built {
            frame,
            outer_ip: ip,
            gre: None,
            gre_len: 0,
            inner_eth: None,
            ip,
            l4: l4_off,
            header_len,
        };
    };

    let mut inner = ethernet(INNER_DST_MAC, INNER_SRC_MAC, spec.vlan, ether_type);
    let inner_ip_rel = inner.len();
    inner.extend_from_slice(&ip_hdr);
    let l4_rel = inner.len();
    inner.extend_from_slice(&l4);
    let inner_hdr_len = inner.len();
    inner.extend_from_slice(&data);

    let mut gre = Vec::new();
    let flags: u16 = (u16::from(t.gre_checksum) << 15)
        | (u16::from(t.key.is_some()) << 13)
        | (u16::from(t.seq.is_some()) << 12);
    gre.extend_from_slice(&flags.to_be_bytes());
    gre.extend_from_slice(&t.protocol.to_be_bytes());
    if t.gre_checksum {
        gre.extend_from_slice(&[0, 0, 0, 0]);
    }
    if let Some(k) = t.key {
        gre.extend_from_slice(&k.to_be_bytes());
    }
    if let Some(s) = t.seq {
        gre.extend_from_slice(&s.to_be_bytes());
    }
    let gre_len = gre.len();
    if t.gre_checksum && spec.seed == Seed::Final {
        let mut all = gre.clone();
        all.extend_from_slice(&inner);
        let c = !ones::sum16(&all, 0);
        gre[4..6].copy_from_slice(&c.to_be_bytes());
    }

    let outer_ip_hdr = ip_header(
        t.outer,
        OUTER_SRC4,
        OUTER_DST4,
        OUTER_SRC6,
        OUTER_DST6,
        t.outer_extras,
        60, // destination options
        47,
        t.outer_id,
        gre_len + inner.len(),
        spec.seed == Seed::Final,
    );
    let outer_type = match t.outer {
        Ip::V4 => 0x0800,
        Ip::V6 => 0x86DD,
    };
    let mut frame = ethernet(OUTER_DST_MAC, OUTER_SRC_MAC, t.outer_vlan, outer_type);
    let outer_ip = frame.len();
    frame.extend_from_slice(&outer_ip_hdr);
    let gre_off = frame.len();
    frame.extend_from_slice(&gre);
    let inner_eth = frame.len();
    frame.extend_from_slice(&inner);
    Built {
        frame,
        outer_ip,
        gre: Some(gre_off),
        gre_len,
        inner_eth: Some(inner_eth),
        ip: inner_eth + inner_ip_rel,
        l4: inner_eth + l4_rel,
        header_len: inner_eth + inner_hdr_len,
    }
}

fn seed_value(seed: Seed, ip: Ip, proto: u8, l4_len: usize) -> u16 {
    let len = match seed {
        Seed::TxCsum => Some(l4_len as u32),
        _ => None,
    };
    match ip {
        Ip::V4 => ones::pseudo(&SRC4, &DST4, proto, len),
        Ip::V6 => ones::pseudo(&SRC6, &DST6, proto, len),
    }
}
