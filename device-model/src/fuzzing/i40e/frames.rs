//! Well-formed frames for the X710 harness: TCP or UDP over IPv4 or IPv6, or a
//! non-IP EtherType, plain or carried in NVGRE (Ethernet over GRE with a key) over
//! an outer IPv4 or IPv6 header, with every checksum complete. [`Layout`] gives the
//! header offsets a driver puts into Tx descriptors.

use offload_engines::checksum::{checksum, fold, pseudo_ipv4, pseudo_ipv6, sum};

/// What to build: `proto` picks UDPv4, TCPv4, UDPv6, TCPv6 or ARP (modulo 5);
/// `tunnel` none, NVGRE over IPv4 or NVGRE over IPv6 (modulo 3); `payload` bytes of
/// `fill` follow the innermost headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Packet {
    pub proto: u8,
    pub tunnel: u8,
    pub payload: u16,
    pub fill: u8,
}

/// Header offsets and lengths, untagged (the device inserts Tx tags itself).
#[derive(Debug, Clone, Copy, Default)]
pub struct Layout {
    /// The outer Ethernet header.
    pub maclen: usize,
    /// Outer IP header length and whether it is IPv6 (tunnels only).
    pub outer: Option<(usize, bool)>,
    /// GRE header plus inner Ethernet header (tunnels only).
    pub natlen: usize,
    /// Innermost IP header length and version, when there is one.
    pub ip: Option<(usize, bool)>,
    /// Transport header length and whether it is UDP.
    pub l4: Option<(usize, bool)>,
}

impl Layout {
    /// Where the innermost IP header starts.
    pub fn ip_at(&self) -> usize {
        self.maclen + self.outer.map_or(0, |(len, _)| len) + self.natlen
    }

    /// Every header in front of the payload.
    pub fn headers(&self) -> usize {
        self.ip_at() + self.ip.map_or(0, |(len, _)| len) + self.l4.map_or(0, |(len, _)| len)
    }
}

/// The harness's peer on the wire.
pub const PEER: [u8; 6] = [0x02, 0, 0, 0, 0, 0x77];
/// The tenant (VSID) of NVGRE frames, which the bring-up's cloud filter matches.
pub const VSID: u32 = 0x00_1234;
const ADDR4: [[u8; 4]; 2] = [[198, 18, 0, 9], [198, 18, 0, 10]];
const ADDR6: [[u8; 16]; 2] = [
    [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9],
    [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10],
];
const GRE_KEY_PRESENT: u16 = 0x2000;
const ETHERTYPE_TEB: u16 = 0x6558;

/// The pseudo-header sum of an L4 segment of `len` bytes.
fn pseudo(v6: bool, next: u8, len: usize) -> u64 {
    if v6 {
        pseudo_ipv6(ADDR6[0], ADDR6[1], next, len as u32)
    } else {
        pseudo_ipv4(ADDR4[0], ADDR4[1], next, len as u32)
    }
}

/// `body` behind an IP header (checksummed for IPv4); returns the header length too.
fn wrap_ip(v6: bool, next: u8, body: &[u8]) -> (Vec<u8>, usize) {
    // A body past 64 KiB does not fit the length fields: the guest's problem.
    let mut out = Vec::with_capacity(body.len() + 40);
    if v6 {
        out.extend_from_slice(&[0x60, 0, 0, 0]);
        out.extend_from_slice(&(body.len() as u16).to_be_bytes());
        out.extend_from_slice(&[next, 64]);
        ADDR6.iter().for_each(|a| out.extend_from_slice(a));
    } else {
        let total = (body.len() + 20) as u16;
        out.extend_from_slice(&[0x45, 0]);
        out.extend_from_slice(&total.to_be_bytes());
        out.extend_from_slice(&[0x00, 0x2a, 0x40, 0, 64, next, 0, 0]);
        ADDR4.iter().for_each(|a| out.extend_from_slice(a));
        let c = checksum(&out);
        out[10..12].copy_from_slice(&c.to_be_bytes());
    }
    let hdr = out.len();
    out.extend_from_slice(body);
    (out, hdr)
}

/// An Ethernet header (with an 802.1Q tag when given) in front of `body`.
fn wrap_eth(dst: [u8; 6], vlan: Option<u16>, ethertype: u16, body: &[u8]) -> Vec<u8> {
    let tag = vlan.map(|tci| [0x81, 0x00, (tci >> 8) as u8, tci as u8]);
    let mut out = Vec::with_capacity(body.len() + 18);
    out.extend_from_slice(&dst);
    out.extend_from_slice(&PEER);
    out.extend(tag.iter().flatten());
    out.extend_from_slice(&ethertype.to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// The innermost packet: (EtherType, bytes, IP layout, L4 layout).
type Inner = (u16, Vec<u8>, Option<(usize, bool)>, Option<(usize, bool)>);

fn inner(p: &Packet, bad_csum: bool) -> Inner {
    let data = vec![p.fill; usize::from(p.payload)];
    let (v6, udp) = match p.proto % 5 {
        4 => return (0x0806, data, None, None),
        n => (n >= 2, n % 2 == 0),
    };
    let next = if udp { 17 } else { 6 };
    let mut seg: Vec<u8> = if udp {
        let len = (8 + data.len()) as u16;
        [0x30, 0x39, 0x00, 0x35, (len >> 8) as u8, len as u8, 0, 0].to_vec()
    } else {
        let mut t = vec![0x30, 0x39, 0x01, 0xbb, 0, 0, 0, 1, 0, 0, 0, 0];
        t.extend_from_slice(&[0x50, 0x18, 0x20, 0x00, 0, 0, 0, 0]);
        t
    };
    let hdr = seg.len();
    seg.extend_from_slice(&data);
    let mut c = !fold(sum(&seg, pseudo(v6, next, seg.len())));
    if udp && c == 0 {
        c = 0xffff;
    }
    if bad_csum {
        c ^= 0x5a5a;
    }
    let at = if udp { 6 } else { 16 };
    seg[at..at + 2].copy_from_slice(&c.to_be_bytes());
    let (ip, ip_hdr) = wrap_ip(v6, next, &seg);
    let ethertype = if v6 { 0x86dd } else { 0x0800 };
    (ethertype, ip, Some((ip_hdr, v6)), Some((hdr, udp)))
}

/// The frame to `dst` (tagged with `vlan`) and its layout.
pub fn build(p: &Packet, dst: [u8; 6], vlan: Option<u16>, bad_csum: bool) -> (Vec<u8>, Layout) {
    let (ethertype, body, ip, l4) = inner(p, bad_csum);
    let mut layout = Layout {
        maclen: if vlan.is_some() { 18 } else { 14 },
        ip,
        l4,
        ..Layout::default()
    };
    let frame = match p.tunnel % 3 {
        0 => wrap_eth(dst, vlan, ethertype, &body),
        t => {
            let outer_v6 = t == 2;
            // GRE with the key bit: flags, protocol (transparent Ethernet), VSID<<8.
            let mut gre = GRE_KEY_PRESENT.to_be_bytes().to_vec();
            gre.extend_from_slice(&ETHERTYPE_TEB.to_be_bytes());
            gre.extend_from_slice(&(VSID << 8).to_be_bytes());
            let inner_eth = wrap_eth(dst, None, ethertype, &body);
            layout.natlen = gre.len() + 14;
            gre.extend(inner_eth);
            let (outer, hdr) = wrap_ip(outer_v6, 47, &gre);
            layout.outer = Some((hdr, outer_v6));
            wrap_eth(dst, vlan, if outer_v6 { 0x86dd } else { 0x0800 }, &outer)
        }
    };
    (frame, layout)
}
