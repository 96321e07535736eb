//! Well-formed frames for the virtio harness: IPv4/IPv6 with UDP or TCP, or a
//! non-IP EtherType, optionally 802.1Q-tagged, with checksums complete (what a peer
//! sends) or seeded the way Linux leaves them for NEEDS_CSUM and GSO.

use offload_engines::checksum::{fold, pseudo_ipv4, pseudo_ipv6, sum};
use offload_engines::txcsum;
use virtio_bindings::virtio_net::{
    VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6, VIRTIO_NET_HDR_GSO_UDP_L4,
};

/// What to build: `proto` picks UDPv4, TCPv4, UDPv6, TCPv6 or ARP (modulo 5), or,
/// from [`TUNNEL_PROTO`] up, TCP inside a VXLAN tunnel (outer and inner IPv4 or
/// IPv6 by its low bits); `payload` bytes of `fill` follow the headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Packet {
    pub proto: u8,
    pub payload: u16,
    pub fill: u8,
}

/// `Packet::proto` values from here up build a VXLAN-tunnelled TCP frame.
pub const TUNNEL_PROTO: u8 = 252;

/// Where a tunnelled frame's outer UDP and inner IP headers are, for the tunnel
/// header of a transmit, and the outer IP version (the GSO tunnel type).
#[derive(Debug, Clone, Copy, Default)]
pub struct Tunnel {
    pub outer_udp: u16,
    pub inner_ip: u16,
    pub outer_v6: bool,
}

/// Where the transport checksum is, for the `virtio_net_hdr` of a transmit.
#[derive(Debug, Clone, Copy, Default)]
pub struct L4 {
    pub csum_start: u16,
    pub csum_offset: u16,
    /// Up to the end of the transport header.
    pub hdr_len: u16,
    /// `VIRTIO_NET_HDR_GSO_*` for segmenting this packet.
    pub gso_type: u8,
    pub tunnel: Option<Tunnel>,
    udp: bool,
}

const SRC_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x00, 0x00, 0x01];
const V4: ([u8; 4], [u8; 4]) = ([198, 18, 0, 1], [198, 18, 0, 2]);
const V6: ([u8; 16], [u8; 16]) = (
    [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
);

/// The frame and, for UDP and TCP, where its checksum lives. The L4 checksum holds
/// the pseudo-header sum (seeded); [`complete`] finishes it.
pub fn build(p: &Packet, dst: [u8; 6], vlan: Option<u16>) -> (Vec<u8>, Option<L4>) {
    if p.proto >= TUNNEL_PROTO {
        return build_vxlan(p, dst, vlan);
    }
    let mut f = dst.to_vec();
    f.extend(SRC_MAC);
    if let Some(tci) = vlan {
        f.extend([0x81, 0x00]);
        f.extend(tci.to_be_bytes());
    }
    let payload = usize::from(p.payload);
    let (v6, udp) = match p.proto % 5 {
        0 => (false, true),
        1 => (false, false),
        2 => (true, true),
        3 => (true, false),
        _ => {
            f.extend([0x08, 0x06]);
            f.resize(f.len() + payload, p.fill);
            return (f, None);
        }
    };
    let l4_hdr = if udp { 8 } else { 20 };
    let l4_len = l4_hdr + payload;
    let proto = if udp { 17 } else { 6 };
    let seed = if v6 {
        f.extend([0x86, 0xdd, 0x60, 0, 0, 0]);
        // A payload past 64 KiB does not fit the field: the guest's problem.
        f.extend((l4_len as u16).to_be_bytes());
        f.extend([proto, 64]);
        f.extend(V6.0);
        f.extend(V6.1);
        fold(pseudo_ipv6(V6.0, V6.1, proto, l4_len as u32))
    } else {
        f.extend([0x08, 0x00]);
        let ip_at = f.len();
        let total = (20 + l4_len) as u16;
        f.extend([
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            1,
            0x40,
            0,
            64,
            proto,
            0,
            0,
        ]);
        f.extend(V4.0);
        f.extend(V4.1);
        let c = !fold(sum(&f[ip_at..], 0));
        f[ip_at + 10..ip_at + 12].copy_from_slice(&c.to_be_bytes());
        fold(pseudo_ipv4(V4.0, V4.1, proto, l4_len as u32))
    };
    let csum_start = f.len();
    let csum_offset = if udp {
        f.extend([0x30, 0x39, 0x00, 0x35]);
        f.extend((l4_len as u16).to_be_bytes());
        f.extend([0, 0]);
        6
    } else {
        f.extend([
            0x30, 0x39, 0x00, 0x50, 0, 0, 0x10, 0, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff,
        ]);
        f.extend([0, 0, 0, 0]);
        16
    };
    f[csum_start + csum_offset..csum_start + csum_offset + 2].copy_from_slice(&seed.to_be_bytes());
    let l4 = L4 {
        csum_start: csum_start as u16,
        csum_offset: csum_offset as u16,
        hdr_len: (csum_start + l4_hdr) as u16,
        gso_type: match (udp, v6) {
            (true, _) => VIRTIO_NET_HDR_GSO_UDP_L4,
            (false, false) => VIRTIO_NET_HDR_GSO_TCPV4,
            (false, true) => VIRTIO_NET_HDR_GSO_TCPV6,
        } as u8,
        tunnel: None,
        udp,
    };
    f.resize(f.len() + payload, p.fill);
    (f, Some(l4))
}

/// TCP inside VXLAN (UDP to 4789, VNI 100): the inner frame as [`build`] seeds it,
/// behind outer Ethernet, IP and UDP headers with no outer checksum. Bit 0 of
/// `proto` makes the outer IP IPv6, bit 1 the inner one.
fn build_vxlan(p: &Packet, dst: [u8; 6], vlan: Option<u16>) -> (Vec<u8>, Option<L4>) {
    let inner_proto = if p.proto & 2 != 0 { 3 } else { 1 };
    let (inner, l4) = build(
        &Packet {
            proto: inner_proto,
            ..*p
        },
        [2, 0, 0, 0, 0, 2],
        None,
    );
    let outer_v6 = p.proto & 1 != 0;
    let (mut f, _) = build(
        &Packet {
            proto: if outer_v6 { 2 } else { 0 },
            payload: 0,
            fill: 0,
        },
        dst,
        vlan,
    );
    // `f` is an empty outer UDP datagram: give it VXLAN and the inner frame, and
    // fix the outer lengths (the outer checksum stays 0: none asked for).
    let outer_udp = f.len() - 8;
    let udp_len = 8 + 8 + inner.len();
    f.extend([0x08, 0, 0, 0, 0, 0, 100, 0]);
    let inner_at = f.len();
    f.extend(&inner);
    f[outer_udp + 2..outer_udp + 4].copy_from_slice(&4789u16.to_be_bytes());
    f[outer_udp + 4..outer_udp + 6].copy_from_slice(&(udp_len as u16).to_be_bytes());
    f[outer_udp + 6..outer_udp + 8].copy_from_slice(&[0, 0]);
    if outer_v6 {
        f[outer_udp - 36..outer_udp - 34].copy_from_slice(&(udp_len as u16).to_be_bytes());
    } else {
        let ip = outer_udp - 20;
        f[ip + 2..ip + 4].copy_from_slice(&((20 + udp_len) as u16).to_be_bytes());
        f[ip + 10..ip + 12].copy_from_slice(&[0, 0]);
        let c = !fold(sum(&f[ip..outer_udp], 0));
        f[ip + 10..ip + 12].copy_from_slice(&c.to_be_bytes());
    }
    let shift = inner_at as u16;
    let l4 = l4.map(|l4| L4 {
        csum_start: l4.csum_start + shift,
        hdr_len: l4.hdr_len + shift,
        tunnel: Some(Tunnel {
            outer_udp: outer_udp as u16,
            inner_ip: shift + 14,
            outer_v6,
        }),
        ..l4
    });
    (f, l4)
}

/// Finishes the seeded transport checksum, as a peer's stack would have.
pub fn complete(frame: &mut [u8], l4: &L4) {
    let _ = txcsum::insert_l4(
        frame,
        usize::from(l4.csum_start),
        usize::from(l4.csum_offset),
        l4.udp,
    );
}
