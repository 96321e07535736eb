//! The Rx descriptor's packet type: the X710's default ptype table.
//!
//! Numbering as in DPDK's `i40e_get_default_pkt_type` and Linux's
//! `libie_rx_pt_lut` (digest §4.2): L2 types first (1 plain, 2 timesync, 6 LLDP,
//! 11 ARP), then one 66-entry block per outer IP version starting at 22 (IPv4)
//! and 88 (IPv6):
//!
//! | offset | what |
//! |---|---|
//! | +0 | outer fragment |
//! | +1 .. +6 | L3, UDP, (reserved), TCP, SCTP, ICMP |
//! | +7 .. +20 | IP-in-IP, inner IPv4 then inner IPv6 |
//! | +21 .. +35 | GRE/NAT: no inner IP, then inner IPv4 and IPv6 |
//! | +36 .. +50 | GRE/NAT -> MAC |
//! | +51 .. +65 | GRE/NAT -> MAC/VLAN |
//!
//! Each inner-IP group has seven entries: fragment, L3, UDP, (reserved), TCP,
//! SCTP, ICMP. NVGRE carrying TCP over IPv4 in IPv4 is therefore 63.
//!
//! Recognised tunnels: GRE (version 0) always; carrying Ethernet (0x6558, NVGRE)
//! it is GRE/NAT -> MAC (or MAC/VLAN when the inner frame is tagged), carrying
//! IPv4/IPv6 directly it is GRE/NAT -> IP, anything else GRE/NAT alone. IPv4 and
//! IPv6 over IP (protocols 4 and 41) are IP-in-IP. UDP tunnels (VXLAN, Geneve)
//! are GRE/NAT to the hardware too, but only on ports registered with
//! add_udp_tunnel: [`udp_tunnel_inner`] is where they will plug in; until the
//! parser walks them they classify as plain outer UDP.

use offload_engines::parse::{self, IpInfo, IpVersion, Layers, Parsed, Transport};

const ETH_ARP: u16 = 0x0806;
const ETH_LLDP: u16 = 0x88CC;
const ETH_PTP: u16 = 0x88F7;
const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86DD;
const PROTO_IPIP: u8 = 4;
const PROTO_IPV6: u8 = 41;
const PROTO_SCTP: u8 = 132;

pub const PTYPE_L2: u8 = 1;
pub const PTYPE_TIMESYNC: u8 = 2;
pub const PTYPE_LLDP: u8 = 6;
pub const PTYPE_ARP: u8 = 11;
const IPV4_BASE: u8 = 22;
const IPV6_BASE: u8 = 88;

/// What follows the last IP header the parser understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    /// The IP header says fragment: nothing behind it was looked at.
    Frag,
    /// IP with no (recognised) transport header.
    L3,
    Udp,
    Tcp,
    Sctp,
    Icmp,
}

impl Payload {
    /// Index inside a seven-entry group (fragment, L3, UDP, reserved, TCP, SCTP, ICMP).
    fn slot(self) -> u8 {
        match self {
            Payload::Frag => 0,
            Payload::L3 => 1,
            Payload::Udp => 2,
            Payload::Tcp => 4,
            Payload::Sctp => 5,
            Payload::Icmp => 6,
        }
    }

    /// The payload of one parsed IP header.
    pub fn of(ip: &IpInfo, l4: Option<&parse::L4Info>) -> Self {
        if ip.fragment {
            return Payload::Frag;
        }
        match l4.map(|l| l.transport) {
            Some(Transport::Tcp) => Payload::Tcp,
            Some(Transport::Udp) => Payload::Udp,
            Some(Transport::Icmpv4 | Transport::Icmpv6) => Payload::Icmp,
            None if ip.protocol == PROTO_SCTP => Payload::Sctp,
            None => Payload::L3,
        }
    }
}

/// The tunnel kinds of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tunnel {
    /// IPv4/IPv6 directly over the outer IP.
    Ip,
    /// GRE (or a registered UDP tunnel) with no inner Ethernet.
    Grenat,
    /// GRE carrying Ethernet (NVGRE).
    GrenatMac,
    /// The same with an 802.1Q tag on the inner frame.
    GrenatMacVlan,
}

/// The fields the ptype number encodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded {
    /// Not IP (or an IP header the parser refused): the ethertype's L2 type.
    L2(u8),
    Ip {
        outer: IpVersion,
        /// `None`: not tunnelled; then `payload` is the outer payload.
        tunnel: Option<Tunnel>,
        /// Version of the tunnel's inner IP header; `None` for a tunnel with none.
        inner: Option<IpVersion>,
        /// Payload of the innermost IP header (ignored for a tunnel without inner IP).
        payload: Payload,
    },
}

impl Decoded {
    /// The 8-bit ptype of the descriptor.
    pub fn number(&self) -> u8 {
        let (outer, tunnel, inner, payload) = match *self {
            Decoded::L2(n) => return n,
            Decoded::Ip {
                outer,
                tunnel,
                inner,
                payload,
            } => (outer, tunnel, inner, payload),
        };
        let base = match outer {
            IpVersion::V4 => IPV4_BASE,
            IpVersion::V6 => IPV6_BASE,
        };
        let group = |v: IpVersion| match v {
            IpVersion::V4 => 0,
            IpVersion::V6 => 7,
        };
        match tunnel {
            None => match payload {
                Payload::Frag => base,
                p => base + p.slot(),
            },
            Some(Tunnel::Ip) => {
                // IP-in-IP always has an inner header.
                let v = inner.unwrap_or(IpVersion::V4);
                base + 7 + group(v) + payload.slot()
            }
            Some(t) => {
                let start = base
                    + match t {
                        Tunnel::Grenat => 21,
                        Tunnel::GrenatMac => 36,
                        _ => 51,
                    };
                match inner {
                    None => start,
                    Some(v) => start + 1 + group(v) + payload.slot(),
                }
            }
        }
    }
}

/// An inner IP packet that is not behind an Ethernet header (IP-in-IP, IP-in-GRE):
/// copied behind a synthetic Ethernet header so the frame parser and the checksum
/// and hash engines can walk it like a frame of its own.
#[derive(Debug, Clone)]
pub struct Decap {
    pub buf: Vec<u8>,
    pub parsed: Parsed,
}

impl Decap {
    /// The inner IP stack (the synthetic frame's outer layers).
    pub fn layers(&self) -> &Layers {
        &self.parsed.outer
    }
}

/// The classification of one received frame.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub decoded: Decoded,
    pub ptype: u8,
    /// For IP-in-IP and IP-in-GRE: the parsed inner packet.
    pub decap: Option<Decap>,
}

impl Analysis {
    /// The tunnel kind, if the frame is tunnelled.
    pub fn tunnel(&self) -> Option<Tunnel> {
        match self.decoded {
            Decoded::Ip { tunnel, .. } => tunnel,
            Decoded::L2(_) => None,
        }
    }
}

/// The inner Ethernet stack of a UDP tunnel frame (VXLAN `kind` 0, Geneve 1) on a
/// port registered with add_udp_tunnel: the hook where UDP tunnels plug in. The
/// frame parser does not walk them yet, so this answers `None` and the frame stays
/// plain outer UDP (no inner checksum, outer hash) **(decision)**.
pub fn udp_tunnel_inner(_frame: &[u8], _udp: &parse::L4Info, _kind: u8) -> Option<Layers> {
    None
}

fn l2_type(ethertype: u16) -> u8 {
    match ethertype {
        ETH_ARP => PTYPE_ARP,
        ETH_LLDP => PTYPE_LLDP,
        ETH_PTP => PTYPE_TIMESYNC,
        _ => PTYPE_L2,
    }
}

/// Parses `inner` (an IP packet of `version`) behind a synthetic Ethernet header.
fn decap(inner: &[u8], version: IpVersion) -> Option<Decap> {
    let ethertype = match version {
        IpVersion::V4 => ETH_IPV4,
        IpVersion::V6 => ETH_IPV6,
    };
    let mut buf = Vec::with_capacity(14 + inner.len());
    buf.extend_from_slice(&[0u8; 12]);
    buf.extend_from_slice(&ethertype.to_be_bytes());
    buf.extend_from_slice(inner);
    let (parsed, _) = parse::parse_partial(&buf).ok()?;
    // An inner header the parser refused (bad version, truncated) is no inner IP.
    parsed.outer.ip?;
    Some(Decap { buf, parsed })
}

/// Classifies a frame from its parse (`None` when even the Ethernet header was
/// unusable). `udp_tunnel` answers the registered tunnel type of a UDP port.
pub fn analyse(
    frame: &[u8],
    parsed: Option<&Parsed>,
    udp_tunnel: &dyn Fn(u16) -> Option<u8>,
) -> Analysis {
    let l2 = |n: u8| Analysis {
        decoded: Decoded::L2(n),
        ptype: n,
        decap: None,
    };
    let Some(p) = parsed else {
        return l2(PTYPE_L2);
    };
    let Some(ip) = p.outer.ip else {
        return l2(l2_type(p.outer.eth.ethertype));
    };
    let outer = ip.version;
    let plain = |payload: Payload| Decoded::Ip {
        outer,
        tunnel: None,
        inner: None,
        payload,
    };
    let mut decap_out = None;
    let decoded = if ip.fragment {
        plain(Payload::Frag)
    } else if let Some(g) = p.gre {
        if g.carries_ethernet() {
            match p.inner {
                None => Decoded::Ip {
                    outer,
                    tunnel: Some(Tunnel::Grenat),
                    inner: None,
                    payload: Payload::L3,
                },
                Some(inner) => {
                    let tunnel = if inner.eth.vlan_tci[0].is_some() {
                        Tunnel::GrenatMacVlan
                    } else {
                        Tunnel::GrenatMac
                    };
                    match inner.ip {
                        Some(iip) => Decoded::Ip {
                            outer,
                            tunnel: Some(tunnel),
                            inner: Some(iip.version),
                            payload: Payload::of(&iip, inner.l4.as_ref()),
                        },
                        None => Decoded::Ip {
                            outer,
                            tunnel: Some(tunnel),
                            inner: None,
                            payload: Payload::L3,
                        },
                    }
                }
            }
        } else {
            let start = g.offset + g.header_len;
            let version = match g.protocol {
                ETH_IPV4 => Some(IpVersion::V4),
                ETH_IPV6 => Some(IpVersion::V6),
                _ => None,
            };
            decap_out = version.and_then(|v| decap(frame.get(start..ip.end)?, v));
            tunnel_over(outer, Tunnel::Grenat, decap_out.as_ref())
        }
    } else if matches!(ip.protocol, PROTO_IPIP | PROTO_IPV6) {
        let v = if ip.protocol == PROTO_IPIP {
            IpVersion::V4
        } else {
            IpVersion::V6
        };
        decap_out = frame.get(ip.l4_offset()..ip.end).and_then(|b| decap(b, v));
        match decap_out {
            Some(_) => tunnel_over(outer, Tunnel::Ip, decap_out.as_ref()),
            // An unparseable inner header: the outer IP is all there is.
            None => plain(Payload::L3),
        }
    } else if let Some(inner) = p
        .outer
        .l4
        .filter(|l| l.transport == Transport::Udp)
        .and_then(|l| udp_tunnel_inner(frame, &l, udp_tunnel(l.dst_port)?))
    {
        let tunnel = if inner.eth.vlan_tci[0].is_some() {
            Tunnel::GrenatMacVlan
        } else {
            Tunnel::GrenatMac
        };
        Decoded::Ip {
            outer,
            tunnel: Some(tunnel),
            inner: inner.ip.map(|i| i.version),
            payload: inner
                .ip
                .map_or(Payload::L3, |i| Payload::of(&i, inner.l4.as_ref())),
        }
    } else {
        plain(Payload::of(&ip, p.outer.l4.as_ref()))
    };
    Analysis {
        ptype: decoded.number(),
        decoded,
        decap: decap_out,
    }
}

fn tunnel_over(outer: IpVersion, tunnel: Tunnel, d: Option<&Decap>) -> Decoded {
    match d.and_then(|d| d.layers().ip.map(|ip| (ip, d.layers().l4))) {
        Some((iip, l4)) => Decoded::Ip {
            outer,
            tunnel: Some(tunnel),
            inner: Some(iip.version),
            payload: Payload::of(&iip, l4.as_ref()),
        },
        None => Decoded::Ip {
            outer,
            tunnel: Some(tunnel),
            inner: None,
            payload: Payload::L3,
        },
    }
}

#[cfg(test)]
mod tests {
    //! The classifier against a model of libie's lookup table (libie/rx.c,
    //! `libie_rx_pt_lut`), rebuilt here from the structure of its macros: for every
    //! frame shape the number the classifier picks must be the libie entry that
    //! describes that shape.

    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum OuterIp {
        L2,
        V4,
        V6,
    }
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Tun {
        None,
        Ip,
        Grenat,
        GrenatMac,
        GrenatMacVlan,
    }
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum End {
        None,
        V4,
        V6,
    }
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Prot {
        None,
        Udp,
        Tcp,
        Sctp,
        Icmp,
        Timesync,
    }
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Layer {
        L2,
        L3,
        L4,
    }

    /// One libie entry: outer IP, outer fragment, tunnel, tunnel end IP, tunnel
    /// end fragment, inner protocol, payload layer. `None` = LIBIE_RX_PT_UNUSED.
    type Entry = Option<(OuterIp, bool, Tun, End, bool, Prot, Layer)>;

    fn libie_table() -> Vec<Entry> {
        let l2 = Some((
            OuterIp::L2,
            false,
            Tun::None,
            End::None,
            false,
            Prot::None,
            Layer::L2,
        ));
        let ts = Some((
            OuterIp::L2,
            false,
            Tun::None,
            End::None,
            false,
            Prot::Timesync,
            Layer::L2,
        ));
        let l3 = Some((
            OuterIp::L2,
            false,
            Tun::None,
            End::None,
            false,
            Prot::None,
            Layer::L3,
        ));
        let mut t: Vec<Entry> = vec![None, l2, ts, l2, None, None, l2, l2, None, None, l2, None];
        t.extend(std::iter::repeat_n(l3, 10));
        for oip in [OuterIp::V4, OuterIp::V6] {
            let l3e = |tun, end, frag| Some((oip, false, tun, end, frag, Prot::None, Layer::L3));
            let l4e = |tun, end, prot| Some((oip, false, tun, end, false, prot, Layer::L4));
            let nof = |t: &mut Vec<Entry>, tun, end| {
                t.push(l3e(tun, end, false));
                t.push(l4e(tun, end, Prot::Udp));
                t.push(None);
                t.push(l4e(tun, end, Prot::Tcp));
                t.push(l4e(tun, end, Prot::Sctp));
                t.push(l4e(tun, end, Prot::Icmp));
            };
            let tun_ver = |t: &mut Vec<Entry>, tun, end| {
                t.push(l3e(tun, end, true));
                nof(t, tun, end);
            };
            // raw
            t.push(Some((
                oip,
                true,
                Tun::None,
                End::None,
                false,
                Prot::None,
                Layer::L3,
            )));
            nof(&mut t, Tun::None, End::None);
            // IP-in-IP
            tun_ver(&mut t, Tun::Ip, End::V4);
            tun_ver(&mut t, Tun::Ip, End::V6);
            for tun in [Tun::Grenat, Tun::GrenatMac, Tun::GrenatMacVlan] {
                t.push(l3e(tun, End::None, false));
                tun_ver(&mut t, tun, End::V4);
                tun_ver(&mut t, tun, End::V6);
            }
        }
        t
    }

    /// The libie description of what the classifier decoded.
    fn describe(d: &Decoded) -> Entry {
        let Decoded::Ip {
            outer,
            tunnel,
            inner,
            payload,
        } = *d
        else {
            unreachable!("L2 types are checked separately");
        };
        let oip = match outer {
            IpVersion::V4 => OuterIp::V4,
            IpVersion::V6 => OuterIp::V6,
        };
        let tun = match tunnel {
            None => Tun::None,
            Some(Tunnel::Ip) => Tun::Ip,
            Some(Tunnel::Grenat) => Tun::Grenat,
            Some(Tunnel::GrenatMac) => Tun::GrenatMac,
            Some(Tunnel::GrenatMacVlan) => Tun::GrenatMacVlan,
        };
        let end = match inner {
            None => End::None,
            Some(IpVersion::V4) => End::V4,
            Some(IpVersion::V6) => End::V6,
        };
        let has_end = tun == Tun::None || end != End::None;
        let (prot, layer) = match payload {
            _ if !has_end => (Prot::None, Layer::L3),
            Payload::Frag | Payload::L3 => (Prot::None, Layer::L3),
            Payload::Udp => (Prot::Udp, Layer::L4),
            Payload::Tcp => (Prot::Tcp, Layer::L4),
            Payload::Sctp => (Prot::Sctp, Layer::L4),
            Payload::Icmp => (Prot::Icmp, Layer::L4),
        };
        let frag = has_end && payload == Payload::Frag;
        let (ofrag, efrag) = if tun == Tun::None {
            (frag, false)
        } else {
            (false, frag)
        };
        Some((oip, ofrag, tun, end, efrag, prot, layer))
    }

    // ---- frame builders ------------------------------------------------------------

    fn ipv4(proto: u8, frag: bool, payload: &[u8]) -> Vec<u8> {
        let total = (20 + payload.len()) as u16;
        let mut h = vec![
            0x45, 0, 0, 0, 0, 1, 0, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        h[2..4].copy_from_slice(&total.to_be_bytes());
        if frag {
            h[6] = 0x20; // MF
        }
        h.extend_from_slice(payload);
        h
    }

    fn ipv6(next: u8, frag: bool, payload: &[u8]) -> Vec<u8> {
        let mut extra = Vec::new();
        let next_hdr = if frag {
            extra.extend_from_slice(&[next, 0, 0, 1, 0, 0, 0, 1]);
            44
        } else {
            next
        };
        let plen = (extra.len() + payload.len()) as u16;
        let mut h = vec![0x60, 0, 0, 0];
        h.extend_from_slice(&plen.to_be_bytes());
        h.extend_from_slice(&[next_hdr, 64]);
        h.extend_from_slice(&[0xfe; 16]);
        h.extend_from_slice(&[0xfd; 16]);
        h.extend(extra);
        h.extend_from_slice(payload);
        h
    }

    fn l4(p: Payload) -> (u8, Vec<u8>) {
        match p {
            Payload::Tcp => {
                let mut t = vec![0u8; 20];
                t[12] = 0x50;
                (6, t)
            }
            Payload::Udp => (17, vec![0, 1, 0, 2, 0, 8, 0, 0]),
            Payload::Sctp => (132, vec![0u8; 12]),
            Payload::Icmp => (0xFF, vec![8, 0, 0, 0]), // protocol fixed per version below
            Payload::L3 | Payload::Frag => (253, vec![1, 2, 3, 4]),
        }
    }

    fn ip_packet(v: IpVersion, p: Payload) -> Vec<u8> {
        let (mut proto, body) = l4(p);
        if p == Payload::Icmp {
            proto = if v == IpVersion::V4 { 1 } else { 58 };
        }
        match v {
            IpVersion::V4 => ipv4(proto, p == Payload::Frag, &body),
            IpVersion::V6 => ipv6(proto, p == Payload::Frag, &body),
        }
    }

    fn eth(ethertype: u16, vlan: bool, body: &[u8]) -> Vec<u8> {
        let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
        if vlan {
            f.extend_from_slice(&[0x81, 0x00, 0x00, 0x05]);
        }
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(body);
        f
    }

    fn ethertype(v: IpVersion) -> u16 {
        match v {
            IpVersion::V4 => ETH_IPV4,
            IpVersion::V6 => ETH_IPV6,
        }
    }

    fn outer(v: IpVersion, proto: u8, body: &[u8]) -> Vec<u8> {
        let pkt = match v {
            IpVersion::V4 => ipv4(proto, false, body),
            IpVersion::V6 => ipv6(proto, false, body),
        };
        eth(ethertype(v), false, &pkt)
    }

    fn gre(protocol: u16, key: bool, body: &[u8]) -> Vec<u8> {
        let mut g = vec![if key { 0x20 } else { 0 }, 0];
        g.extend_from_slice(&protocol.to_be_bytes());
        if key {
            g.extend_from_slice(&[0, 0, 100, 0]);
        }
        g.extend_from_slice(body);
        g
    }

    fn classify(f: &[u8]) -> Analysis {
        let p = parse::parse_partial(f).ok().map(|(p, _)| p);
        analyse(f, p.as_ref(), &|port| (port == 4789).then_some(0))
    }

    const VERSIONS: [IpVersion; 2] = [IpVersion::V4, IpVersion::V6];
    const PAYLOADS: [Payload; 6] = [
        Payload::Frag,
        Payload::L3,
        Payload::Udp,
        Payload::Tcp,
        Payload::Sctp,
        Payload::Icmp,
    ];

    /// Every frame shape the classifier distinguishes, with the decoding it must give.
    fn shapes() -> Vec<(Vec<u8>, Decoded)> {
        let mut v = Vec::new();
        for o in VERSIONS {
            for p in PAYLOADS {
                let f = eth(ethertype(o), false, &ip_packet(o, p));
                let d = Decoded::Ip {
                    outer: o,
                    tunnel: None,
                    inner: None,
                    payload: p,
                };
                v.push((f, d));
            }
            // GRE/NAT with nothing parseable inside, and GRE -> MAC -> ARP.
            let d = |tunnel| Decoded::Ip {
                outer: o,
                tunnel: Some(tunnel),
                inner: None,
                payload: Payload::L3,
            };
            v.push((
                outer(o, 47, &gre(0x88B5, false, &[0; 8])),
                d(Tunnel::Grenat),
            ));
            let arp = eth(ETH_ARP, false, &[0; 28]);
            v.push((outer(o, 47, &gre(0x6558, true, &arp)), d(Tunnel::GrenatMac)));
            let arp = eth(ETH_ARP, true, &[0; 28]);
            v.push((
                outer(o, 47, &gre(0x6558, true, &arp)),
                d(Tunnel::GrenatMacVlan),
            ));
            for i in VERSIONS {
                for p in PAYLOADS {
                    let inner_ip = ip_packet(i, p);
                    let d = |tunnel| Decoded::Ip {
                        outer: o,
                        tunnel: Some(tunnel),
                        inner: Some(i),
                        payload: p,
                    };
                    let ipip = if i == IpVersion::V4 { 4 } else { 41 };
                    v.push((outer(o, ipip, &inner_ip), d(Tunnel::Ip)));
                    let g = gre(ethertype(i), false, &inner_ip);
                    v.push((outer(o, 47, &g), d(Tunnel::Grenat)));
                    let g = gre(0x6558, true, &eth(ethertype(i), false, &inner_ip));
                    v.push((outer(o, 47, &g), d(Tunnel::GrenatMac)));
                    let g = gre(0x6558, true, &eth(ethertype(i), true, &inner_ip));
                    v.push((outer(o, 47, &g), d(Tunnel::GrenatMacVlan)));
                }
            }
        }
        v
    }

    #[test]
    fn every_ip_shape_gets_the_libie_entry_that_describes_it() {
        let table = libie_table();
        assert_eq!(table.len(), 154, "libie's table: 22 L2 entries + 2 x 66");
        let mut seen = std::collections::BTreeSet::new();
        for (f, want) in shapes() {
            let a = classify(&f);
            assert_eq!(a.decoded, want, "decoding of {f:02x?}");
            let n = usize::from(a.ptype);
            assert_eq!(
                table.get(n).copied().flatten(),
                describe(&want),
                "ptype {n} for {want:?}"
            );
            seen.insert(n);
        }
        // Every used entry of the IP blocks is reachable.
        let used: Vec<usize> = (22..table.len()).filter(|&i| table[i].is_some()).collect();
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), used);
    }

    #[test]
    fn numbers_the_drivers_rely_on() {
        let tcp4 = eth(ETH_IPV4, false, &ip_packet(IpVersion::V4, Payload::Tcp));
        assert_eq!(classify(&tcp4).ptype, 26);
        let udp6 = eth(ETH_IPV6, false, &ip_packet(IpVersion::V6, Payload::Udp));
        assert_eq!(classify(&udp6).ptype, 90);
        let inner = eth(ETH_IPV4, false, &ip_packet(IpVersion::V4, Payload::Tcp));
        let nvgre = outer(IpVersion::V4, 47, &gre(0x6558, true, &inner));
        assert_eq!(classify(&nvgre).ptype, 63);
        let nvgre6 = outer(IpVersion::V6, 47, &gre(0x6558, true, &inner));
        assert_eq!(classify(&nvgre6).ptype, 129);
        let ip_gre = outer(
            IpVersion::V4,
            47,
            &gre(0x0800, false, &ip_packet(IpVersion::V4, Payload::Tcp)),
        );
        assert_eq!(classify(&ip_gre).ptype, 48);
    }

    #[test]
    fn l2_types() {
        let table = libie_table();
        for (et, n) in [(ETH_LLDP, 6u8), (ETH_PTP, 2), (0x88B5, 1)] {
            let a = classify(&eth(et, false, &[0; 46]));
            assert_eq!(a.ptype, n);
            assert!(table[usize::from(n)].is_some_and(|e| e.0 == OuterIp::L2 && e.6 == Layer::L2));
        }
        // DPDK names 11 ARP; libie leaves it unused, which Linux treats as plain L2
        // (no hash, no checksum).
        assert_eq!(classify(&eth(ETH_ARP, false, &[0; 28])).ptype, PTYPE_ARP);
        assert_eq!(table[11], None);
        // A broken IP header and a runt classify as L2.
        assert_eq!(classify(&eth(ETH_IPV4, false, &[0x45, 0, 0])).ptype, 1);
        assert_eq!(analyse(&[0; 4], None, &|_| None).ptype, 1);
    }
}
