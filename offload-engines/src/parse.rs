//! Zero-copy frame parser: locates every header of a plain or GRE/NVGRE frame and
//! returns offsets and decoded identity fields. The frame is never copied or modified.
//!
//! Layers walked: Ethernet with up to two VLAN tags (802.1Q, 802.1ad/QinQ), IPv4 with
//! options, IPv6 with hop-by-hop/routing/destination-options extension headers, then
//! TCP, UDP, ICMP/ICMPv6 or GRE (RFC 2784/2890, version 0). GRE carrying transparent
//! Ethernet (0x6558, which NVGRE is, R-3) is followed into the inner Ethernet frame and
//! its IP and transport headers. Fragments (IPv4 MF/offset, an IPv6 fragment header)
//! stop the walk after the IP header: nothing behind them can be trusted.
//!
//! Two length policies exist because receive and transmit see different frames:
//! [`parse_frame`] (receive) trusts the IP length fields, requires the frame to hold
//! the whole packet and ignores Ethernet padding behind it; [`parse_headers`]
//! (transmit/LSO) ignores the length fields, since the host may leave them stale or
//! zero for a super-packet, and lets every packet extend to the end of the buffer
//!

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use thiserror::Error;

use crate::wire::{be16, be32, ethernet, gre, ip_proto, ipv4, ipv6, tcp, udp};

/// Which header stack a layer belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    Outer,
    /// Inside a GRE tunnel carrying Ethernet.
    Inner,
}

/// The header kind named in a [`ParseError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    Ethernet,
    Vlan,
    Ipv4,
    Ipv6,
    Ipv6Extension,
    Gre,
    Tcp,
    Udp,
    Icmp,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl fmt::Display for Depth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Depth::Outer => "outer",
            Depth::Inner => "inner",
        })
    }
}

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    #[error(
        "{depth} {layer} header at offset {offset} needs {needed} bytes, {available} available"
    )]
    Truncated {
        depth: Depth,
        layer: Layer,
        offset: usize,
        needed: usize,
        available: usize,
    },
    #[error("{depth} {layer} header at offset {offset} is malformed: {what}")]
    Malformed {
        depth: Depth,
        layer: Layer,
        offset: usize,
        what: &'static str,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpVersion {
    V4,
    V6,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthInfo {
    pub offset: usize,
    /// 14 plus 4 per VLAN tag.
    pub header_len: usize,
    pub dst: [u8; 6],
    pub src: [u8; 6],
    /// Tag control information of up to two tags, outermost first.
    pub vlan_tci: [Option<u16>; 2],
    /// The EtherType after the tags.
    pub ethertype: u16,
}

impl EthInfo {
    /// VLAN ID (low 12 bits of the TCI) of the outermost tag.
    pub fn vlan_id(&self) -> Option<u16> {
        self.vlan_tci[0].map(|tci| tci & 0x0FFF)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpInfo {
    pub offset: usize,
    pub version: IpVersion,
    /// The IPv4 header with options, or the 40-byte IPv6 base header.
    pub ip_header_len: usize,
    /// From `offset` to the upper-layer header: IPv4 options and IPv6 extension
    /// headers included.
    pub header_len: usize,
    /// Upper-layer protocol (IPv4 protocol, or the last IPv6 next-header value).
    pub protocol: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// A fragment: nothing after the IP header was parsed.
    pub fragment: bool,
    /// IPv6 extension headers were walked (any at all).
    pub ext_headers: bool,
    /// One past the last byte of this IP packet inside the frame.
    pub end: usize,
}

impl IpInfo {
    pub fn l4_offset(&self) -> usize {
        self.offset + self.header_len
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    Udp,
    Icmpv4,
    Icmpv6,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L4Info {
    pub offset: usize,
    pub transport: Transport,
    /// TCP with options, 8 for UDP, 4 for ICMP (type, code, checksum).
    pub header_len: usize,
    /// Ports; 0 for ICMP.
    pub src_port: u16,
    pub dst_port: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GreInfo {
    pub offset: usize,
    /// 4 plus 4 per optional word.
    pub header_len: usize,
    /// The first 16 bits: C, K, S flags and version.
    pub flags: u16,
    pub protocol: u16,
    pub checksum: Option<u16>,
    pub key: Option<u32>,
    pub sequence: Option<u32>,
}

impl GreInfo {
    pub fn has_checksum(&self) -> bool {
        self.flags & gre::FLAG_CHECKSUM != 0
    }

    /// Frame offset of the GRE checksum field, when C=1.
    pub fn checksum_field(&self) -> Option<usize> {
        self.has_checksum().then_some(self.offset + gre::BASE_LEN)
    }

    /// Frame offset of the key word, when K=1.
    pub fn key_field(&self) -> Option<usize> {
        self.key?;
        Some(self.offset + gre::BASE_LEN + gre::OPTION_LEN * usize::from(self.has_checksum()))
    }

    /// Frame offset of the sequence-number word, when S=1.
    pub fn sequence_field(&self) -> Option<usize> {
        self.sequence?;
        Some(self.offset + self.header_len - gre::OPTION_LEN)
    }

    /// GRE carrying an Ethernet frame (0x6558): the inner layers were parsed.
    pub fn carries_ethernet(&self) -> bool {
        self.protocol == gre::PROTO_TRANSPARENT_ETHERNET
    }

    /// Exactly NVGRE: C=0, K=1, S=0, protocol 0x6558.
    pub fn is_nvgre(&self) -> bool {
        let cks = gre::FLAG_CHECKSUM | gre::FLAG_KEY | gre::FLAG_SEQUENCE;
        self.flags & cks == gre::FLAG_KEY && self.carries_ethernet()
    }

    /// The 24-bit Virtual Subnet ID: the key's upper bits on Ethernet-carrying GRE.
    pub fn vsid(&self) -> Option<u32> {
        self.key.filter(|_| self.carries_ethernet()).map(|k| k >> 8)
    }

    /// The 8-bit FlowID: the key's low byte on Ethernet-carrying GRE.
    pub fn flow_id(&self) -> Option<u8> {
        self.key
            .filter(|_| self.carries_ethernet())
            .map(|k| (k & 0xFF) as u8)
    }
}

/// One header stack: Ethernet, then IP and transport where present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layers {
    pub eth: EthInfo,
    /// None for a non-IP EtherType.
    pub ip: Option<IpInfo>,
    /// None for fragments, GRE, and protocols other than TCP/UDP/ICMP(v6).
    pub l4: Option<L4Info>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed {
    pub outer: Layers,
    /// A version-0 GRE header over the outer IP. Unsupported GRE (another version, or
    /// RFC 1701 routing bits) leaves this None with `outer.ip.protocol == 47`, and the
    /// frame is treated as opaque.
    pub gre: Option<GreInfo>,
    /// The frame inside Ethernet-carrying GRE.
    pub inner: Option<Layers>,
}

impl Parsed {
    /// The stack a tunnel-unaware consumer would act on: inner if present.
    pub fn innermost(&self) -> &Layers {
        self.inner.as_ref().unwrap_or(&self.outer)
    }

    /// Offset of the first byte after the innermost parsed header.
    pub fn headers_end(&self) -> usize {
        let l = self.innermost();
        match (l.l4, l.ip) {
            (Some(l4), _) => l4.offset + l4.header_len,
            (None, Some(ip)) => ip.l4_offset(),
            (None, None) => l.eth.offset + l.eth.header_len,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LengthPolicy {
    /// Receive: IP length fields bound each packet.
    Trust,
    /// Transmit: every packet runs to the end of the buffer.
    Buffer,
}

/// Parses a received frame; any truncation or malformation is an error.
pub fn parse_frame(frame: &[u8]) -> Result<Parsed, ParseError> {
    match parse_impl(frame, LengthPolicy::Trust)? {
        (p, None) => Ok(p),
        (_, Some(e)) => Err(e),
    }
}

/// Parses a frame to transmit: IP length fields are ignored.
pub fn parse_headers(frame: &[u8]) -> Result<Parsed, ParseError> {
    match parse_impl(frame, LengthPolicy::Buffer)? {
        (p, None) => Ok(p),
        (_, Some(e)) => Err(e),
    }
}

/// Like [`parse_frame`], but keeps the layers parsed before an error, so that consumers
/// can still act on the outer headers of a frame whose inner part is broken.
/// Fails outright only when the outer Ethernet header itself is unusable.
pub fn parse_partial(frame: &[u8]) -> Result<(Parsed, Option<ParseError>), ParseError> {
    parse_impl(frame, LengthPolicy::Trust)
}

fn parse_impl(
    frame: &[u8],
    policy: LengthPolicy,
) -> Result<(Parsed, Option<ParseError>), ParseError> {
    let eth = parse_eth(frame, 0, frame.len(), Depth::Outer)?;
    let mut p = Parsed {
        outer: Layers {
            eth,
            ip: None,
            l4: None,
        },
        gre: None,
        inner: None,
    };
    let err = parse_rest(frame, &mut p, policy).err();
    Ok((p, err))
}

fn parse_rest(frame: &[u8], p: &mut Parsed, policy: LengthPolicy) -> Result<(), ParseError> {
    let eth = p.outer.eth;
    let ip_off = eth.offset + eth.header_len;
    let Some(ip) = parse_ip(
        frame,
        ip_off,
        frame.len(),
        eth.ethertype,
        Depth::Outer,
        policy,
    )?
    else {
        return Ok(());
    };
    p.outer.ip = Some(ip);
    if ip.fragment {
        return Ok(());
    }
    if ip.protocol != ip_proto::GRE {
        p.outer.l4 = parse_l4(frame, &ip, Depth::Outer, policy)?;
        return Ok(());
    }
    let Some(g) = parse_gre(frame, ip.l4_offset(), ip.end)? else {
        return Ok(());
    };
    p.gre = Some(g);
    if !g.carries_ethernet() {
        return Ok(());
    }
    let inner_eth = parse_eth(frame, g.offset + g.header_len, ip.end, Depth::Inner)?;
    let mut inner = Layers {
        eth: inner_eth,
        ip: None,
        l4: None,
    };
    let inner_ip_off = inner_eth.offset + inner_eth.header_len;
    // Store what we have before each fallible step so a partial parse keeps it.
    p.inner = Some(inner);
    let Some(iip) = parse_ip(
        frame,
        inner_ip_off,
        ip.end,
        inner_eth.ethertype,
        Depth::Inner,
        policy,
    )?
    else {
        return Ok(());
    };
    inner.ip = Some(iip);
    p.inner = Some(inner);
    if iip.fragment || iip.protocol == ip_proto::GRE {
        // Nested tunnels are not followed.
        return Ok(());
    }
    inner.l4 = parse_l4(frame, &iip, Depth::Inner, policy)?;
    p.inner = Some(inner);
    Ok(())
}

fn need(
    limit: usize,
    offset: usize,
    needed: usize,
    depth: Depth,
    layer: Layer,
) -> Result<(), ParseError> {
    let available = limit.saturating_sub(offset);
    if needed > available {
        return Err(ParseError::Truncated {
            depth,
            layer,
            offset,
            needed,
            available,
        });
    }
    Ok(())
}

fn malformed(depth: Depth, layer: Layer, offset: usize, what: &'static str) -> ParseError {
    ParseError::Malformed {
        depth,
        layer,
        offset,
        what,
    }
}

fn parse_eth(frame: &[u8], off: usize, limit: usize, depth: Depth) -> Result<EthInfo, ParseError> {
    need(limit, off, ethernet::HEADER_LEN, depth, Layer::Ethernet)?;
    let h = &frame[off..];
    let mut dst = [0u8; 6];
    let mut src = [0u8; 6];
    dst.copy_from_slice(&h[ethernet::DST..ethernet::DST + 6]);
    src.copy_from_slice(&h[ethernet::SRC..ethernet::SRC + 6]);
    let mut ethertype = be16(h, ethernet::ETHERTYPE);
    let mut header_len = ethernet::HEADER_LEN;
    let mut vlan_tci = [None; 2];
    for slot in vlan_tci.iter_mut().take(ethernet::MAX_VLAN_TAGS) {
        if !matches!(
            ethertype,
            ethernet::TYPE_VLAN | ethernet::TYPE_QINQ | ethernet::TYPE_QINQ_LEGACY
        ) {
            break;
        }
        // A tag is the TPID just read, then the TCI, then the next EtherType.
        need(
            limit,
            off,
            header_len + ethernet::VLAN_TAG_LEN,
            depth,
            Layer::Vlan,
        )?;
        *slot = Some(be16(h, header_len));
        ethertype = be16(h, header_len + 2);
        header_len += ethernet::VLAN_TAG_LEN;
    }
    Ok(EthInfo {
        offset: off,
        header_len,
        dst,
        src,
        vlan_tci,
        ethertype,
    })
}

fn parse_ip(
    frame: &[u8],
    off: usize,
    limit: usize,
    ethertype: u16,
    depth: Depth,
    policy: LengthPolicy,
) -> Result<Option<IpInfo>, ParseError> {
    match ethertype {
        ethernet::TYPE_IPV4 => parse_ipv4(frame, off, limit, depth, policy).map(Some),
        ethernet::TYPE_IPV6 => parse_ipv6(frame, off, limit, depth, policy).map(Some),
        _ => Ok(None),
    }
}

fn parse_ipv4(
    frame: &[u8],
    off: usize,
    limit: usize,
    depth: Depth,
    policy: LengthPolicy,
) -> Result<IpInfo, ParseError> {
    need(limit, off, ipv4::MIN_HEADER_LEN, depth, Layer::Ipv4)?;
    let h = &frame[off..limit];
    if h[0] >> 4 != 4 {
        return Err(malformed(depth, Layer::Ipv4, off, "version is not 4"));
    }
    let ihl = usize::from(h[0] & 0x0F) * 4;
    if ihl < ipv4::MIN_HEADER_LEN {
        return Err(malformed(depth, Layer::Ipv4, off, "IHL below 5"));
    }
    need(limit, off, ihl, depth, Layer::Ipv4)?;
    let end = match policy {
        LengthPolicy::Buffer => limit,
        LengthPolicy::Trust => {
            let total = usize::from(be16(h, ipv4::TOTAL_LEN));
            if total < ihl {
                return Err(malformed(
                    depth,
                    Layer::Ipv4,
                    off,
                    "total length below header length",
                ));
            }
            need(limit, off, total, depth, Layer::Ipv4)?;
            off + total
        }
    };
    let frag = be16(h, ipv4::FLAGS_FRAGMENT);
    let fragment = frag & ipv4::MORE_FRAGMENTS != 0 || frag & ipv4::FRAGMENT_OFFSET_MASK != 0;
    let mut src = [0u8; 4];
    let mut dst = [0u8; 4];
    src.copy_from_slice(&h[ipv4::SRC..ipv4::SRC + 4]);
    dst.copy_from_slice(&h[ipv4::DST..ipv4::DST + 4]);
    Ok(IpInfo {
        offset: off,
        version: IpVersion::V4,
        ip_header_len: ihl,
        header_len: ihl,
        protocol: h[ipv4::PROTOCOL],
        src: IpAddr::V4(Ipv4Addr::from(src)),
        dst: IpAddr::V4(Ipv4Addr::from(dst)),
        fragment,
        ext_headers: false,
        end,
    })
}

fn parse_ipv6(
    frame: &[u8],
    off: usize,
    limit: usize,
    depth: Depth,
    policy: LengthPolicy,
) -> Result<IpInfo, ParseError> {
    need(limit, off, ipv6::HEADER_LEN, depth, Layer::Ipv6)?;
    let h = &frame[off..limit];
    if h[0] >> 4 != 6 {
        return Err(malformed(depth, Layer::Ipv6, off, "version is not 6"));
    }
    let end = match policy {
        LengthPolicy::Buffer => limit,
        LengthPolicy::Trust => {
            let total = ipv6::HEADER_LEN + usize::from(be16(h, ipv6::PAYLOAD_LEN));
            need(limit, off, total, depth, Layer::Ipv6)?;
            off + total
        }
    };
    let mut src = [0u8; 16];
    let mut dst = [0u8; 16];
    src.copy_from_slice(&h[ipv6::SRC..ipv6::SRC + 16]);
    dst.copy_from_slice(&h[ipv6::DST..ipv6::DST + 16]);

    // Walk the extension headers R-7 names; each is at least 8 bytes long, so the walk
    // is bounded by the packet length.
    let mut next = h[ipv6::NEXT_HEADER];
    let mut header_len = ipv6::HEADER_LEN;
    let mut fragment = false;
    loop {
        match next {
            ipv6::EXT_HOP_BY_HOP | ipv6::EXT_ROUTING | ipv6::EXT_DEST_OPTS => {
                need(end, off + header_len, 2, depth, Layer::Ipv6Extension)?;
                let ext_len = (usize::from(frame[off + header_len + 1]) + 1) * 8;
                need(end, off + header_len, ext_len, depth, Layer::Ipv6Extension)?;
                next = frame[off + header_len];
                header_len += ext_len;
            }
            ipv6::EXT_FRAGMENT => {
                fragment = true;
                break;
            }
            _ => break,
        }
    }
    Ok(IpInfo {
        offset: off,
        version: IpVersion::V6,
        ip_header_len: ipv6::HEADER_LEN,
        header_len,
        protocol: next,
        src: IpAddr::V6(Ipv6Addr::from(src)),
        dst: IpAddr::V6(Ipv6Addr::from(dst)),
        fragment,
        ext_headers: header_len > ipv6::HEADER_LEN || fragment,
        end,
    })
}

fn parse_l4(
    frame: &[u8],
    ip: &IpInfo,
    depth: Depth,
    policy: LengthPolicy,
) -> Result<Option<L4Info>, ParseError> {
    let off = ip.l4_offset();
    let end = ip.end;
    let l4 = match (ip.protocol, ip.version) {
        (ip_proto::TCP, _) => {
            need(end, off, tcp::MIN_HEADER_LEN, depth, Layer::Tcp)?;
            let len = usize::from(frame[off + tcp::OFFSET_FLAGS] >> 4) * 4;
            if len < tcp::MIN_HEADER_LEN {
                return Err(malformed(depth, Layer::Tcp, off, "data offset below 5"));
            }
            need(end, off, len, depth, Layer::Tcp)?;
            L4Info {
                offset: off,
                transport: Transport::Tcp,
                header_len: len,
                src_port: be16(frame, off + tcp::SRC_PORT),
                dst_port: be16(frame, off + tcp::DST_PORT),
            }
        }
        (ip_proto::UDP, _) => {
            need(end, off, udp::HEADER_LEN, depth, Layer::Udp)?;
            if policy == LengthPolicy::Trust {
                let ulen = usize::from(be16(frame, off + udp::LENGTH));
                if ulen < udp::HEADER_LEN || ulen > end - off {
                    return Err(malformed(
                        depth,
                        Layer::Udp,
                        off,
                        "length field outside the IP payload",
                    ));
                }
            }
            L4Info {
                offset: off,
                transport: Transport::Udp,
                header_len: udp::HEADER_LEN,
                src_port: be16(frame, off + udp::SRC_PORT),
                dst_port: be16(frame, off + udp::DST_PORT),
            }
        }
        (ip_proto::ICMP, IpVersion::V4) | (ip_proto::ICMPV6, IpVersion::V6) => {
            need(end, off, 4, depth, Layer::Icmp)?;
            L4Info {
                offset: off,
                transport: if ip.version == IpVersion::V4 {
                    Transport::Icmpv4
                } else {
                    Transport::Icmpv6
                },
                header_len: 4,
                src_port: 0,
                dst_port: 0,
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(l4))
}

/// Parses a GRE header; Ok(None) for a GRE variant this NIC does not understand.
fn parse_gre(frame: &[u8], off: usize, end: usize) -> Result<Option<GreInfo>, ParseError> {
    let depth = Depth::Outer;
    need(end, off, gre::BASE_LEN, depth, Layer::Gre)?;
    let flags = be16(frame, off + gre::FLAGS);
    if flags & gre::MUST_BE_ZERO != 0 {
        return Ok(None);
    }
    let has = |bit: u16| flags & bit != 0;
    let words = usize::from(has(gre::FLAG_CHECKSUM))
        + usize::from(has(gre::FLAG_KEY))
        + usize::from(has(gre::FLAG_SEQUENCE));
    let header_len = gre::BASE_LEN + gre::OPTION_LEN * words;
    need(end, off, header_len, depth, Layer::Gre)?;
    let mut at = off + gre::BASE_LEN;
    let mut take = |present: bool| {
        present.then(|| {
            let v = be32(frame, at);
            at += gre::OPTION_LEN;
            v
        })
    };
    let checksum = take(has(gre::FLAG_CHECKSUM)).map(|w| (w >> 16) as u16);
    let key = take(has(gre::FLAG_KEY));
    let sequence = take(has(gre::FLAG_SEQUENCE));
    Ok(Some(GreInfo {
        offset: off,
        header_len,
        flags,
        protocol: be16(frame, off + gre::PROTOCOL),
        checksum,
        key,
        sequence,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth(tags: &[(u16, u16)], ethertype: u16) -> Vec<u8> {
        let mut f = vec![1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2];
        for &(tpid, tci) in tags {
            f.extend_from_slice(&tpid.to_be_bytes());
            f.extend_from_slice(&tci.to_be_bytes());
        }
        f.extend_from_slice(&ethertype.to_be_bytes());
        f
    }

    #[test]
    fn qinq_tags_are_read_outermost_first() {
        let f = eth(&[(0x88A8, 0x2064), (0x8100, 0x00C8)], 0x0806);
        let p = parse_frame(&f).unwrap();
        assert_eq!(p.outer.eth.vlan_tci, [Some(0x2064), Some(0x00C8)]);
        assert_eq!(p.outer.eth.vlan_id(), Some(0x064));
        assert_eq!(p.outer.eth.header_len, 22);
        assert_eq!(p.outer.eth.ethertype, 0x0806);
        assert_eq!(p.outer.ip, None);
    }

    #[test]
    fn third_tag_is_not_walked() {
        let f = eth(&[(0x8100, 1), (0x8100, 2), (0x8100, 3)], 0x0800);
        let p = parse_frame(&f).unwrap();
        assert_eq!(p.outer.eth.ethertype, 0x8100);
        assert_eq!(p.outer.ip, None);
    }

    #[test]
    fn truncated_tag_is_an_error() {
        let f = &eth(&[(0x8100, 1)], 0x0800)[..16];
        assert!(matches!(
            parse_frame(f),
            Err(ParseError::Truncated {
                layer: Layer::Vlan,
                ..
            })
        ));
    }

    #[test]
    fn ipv4_header_checks() {
        let mut f = eth(&[], 0x0800);
        f.extend_from_slice(&[
            0x45, 0, 0, 20, 0, 0, 0, 0, 64, 253, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8,
        ]);
        let p = parse_frame(&f).unwrap();
        let ip = p.outer.ip.unwrap();
        assert_eq!((ip.header_len, ip.end, ip.protocol), (20, 34, 253));
        assert_eq!(p.outer.l4, None);
        // A total length beyond the frame is a truncated packet.
        let mut g = f.clone();
        g[16..18].copy_from_slice(&40u16.to_be_bytes());
        assert!(matches!(
            parse_frame(&g),
            Err(ParseError::Truncated {
                layer: Layer::Ipv4,
                ..
            })
        ));
        let mut g = f.clone();
        g[14] = 0x44;
        assert!(matches!(
            parse_frame(&g),
            Err(ParseError::Malformed {
                layer: Layer::Ipv4,
                ..
            })
        ));
        let mut g = f.clone();
        g[14] = 0x65;
        assert!(matches!(parse_frame(&g), Err(ParseError::Malformed { .. })));
        // Lengths are ignored for transmit frames, so a zero total length is fine.
        let mut g = f;
        g[14 + 9] = 6;
        g[16..18].copy_from_slice(&[0, 0]);
        g.extend_from_slice(&[0u8; 20]);
        g[14 + 20 + 12] = 0x50;
        let p = parse_headers(&g).unwrap();
        assert_eq!(p.outer.l4.unwrap().header_len, 20);
    }
}
