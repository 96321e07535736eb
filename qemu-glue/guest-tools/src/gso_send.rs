//! Hands the kernel TCP super-packets through an AF_PACKET socket with a
//! virtio-net header (PACKET_VNET_HDR), exactly as a virtual NIC's backend
//! would. The same bytes then reach the wire either through the kernel's
//! software segmentation (offloads off) or through the NIC's TSO (offloads
//! on): the differential oracle compares the two.
//!
//! The packets are built here, deterministically: fixed addresses, ports,
//! sequence numbers, IPv4 ID and a payload of repeating byte counts.

use std::net::IpAddr;

const VIRTIO_NET_HDR_F_NEEDS_CSUM: u8 = 1;
const VIRTIO_NET_HDR_GSO_TCPV4: u8 = 1;
const VIRTIO_NET_HDR_GSO_TCPV6: u8 = 4;

pub struct Spec {
    pub dst_mac: [u8; 6],
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub payload: usize,
    pub mss: u16,
    pub timestamps: bool,
    pub ip_id: u16,
    pub count: u32,
}

fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    let mut m = [0u8; 6];
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return Err(format!("bad MAC {s}"));
    }
    for (b, p) in m.iter_mut().zip(parts) {
        *b = u8::from_str_radix(p, 16).map_err(|_| format!("bad MAC {s}"))?;
    }
    Ok(m)
}

/// `DST_MAC SRC DST SPORT DPORT PAYLOAD MSS ts|nots IP_ID COUNT`
pub fn parse(a: &[&str]) -> Result<Spec, String> {
    let [mac, src, dst, sport, dport, payload, mss, ts, id, count] = a else {
        return Err(
            "gso-send IFACE DST_MAC SRC DST SPORT DPORT PAYLOAD MSS ts|nots IP_ID COUNT".into(),
        );
    };
    let n = |s: &str| {
        s.parse::<u32>()
            .map_err(|_| format!("'{s}' is not a number"))
    };
    let spec = Spec {
        dst_mac: parse_mac(mac)?,
        src: src.parse().map_err(|_| format!("bad address {src}"))?,
        dst: dst.parse().map_err(|_| format!("bad address {dst}"))?,
        sport: n(sport)? as u16,
        dport: n(dport)? as u16,
        payload: n(payload)? as usize,
        mss: n(mss)? as u16,
        timestamps: *ts == "ts",
        ip_id: n(id)? as u16,
        count: n(count)?,
    };
    if spec.src.is_ipv4() != spec.dst.is_ipv4()
        || spec.mss == 0
        || spec.payload == 0
        || spec.payload > 60000
    {
        return Err("addresses of one family, MSS > 0 and 0 < PAYLOAD <= 60000".into());
    }
    Ok(spec)
}

fn fold(mut s: u64) -> u16 {
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

fn sum(data: &[u8]) -> u64 {
    data.chunks(2)
        .map(|c| u64::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum()
}

/// One super-packet: Ethernet + IP + TCP + payload, checksum field seeded with
/// the pseudo-header sum (CHECKSUM_PARTIAL), plus its virtio-net header.
pub fn build(spec: &Spec, src_mac: [u8; 6], k: u32) -> (Vec<u8>, [u8; 10]) {
    let opts: &[u8] = if spec.timestamps {
        &[1, 1, 8, 10, 0, 0, 0x12, 0x34, 0, 0, 0x56, 0x78]
    } else {
        &[]
    };
    let thlen = 20 + opts.len();
    let l4_len = thlen + spec.payload;
    let mut f = Vec::with_capacity(14 + 40 + l4_len);
    f.extend_from_slice(&spec.dst_mac);
    f.extend_from_slice(&src_mac);
    let pseudo = match (spec.src, spec.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            f.extend_from_slice(&[0x08, 0x00]);
            let mut ip = [0u8; 20];
            ip[0] = 0x45;
            ip[2..4].copy_from_slice(&((20 + l4_len) as u16).to_be_bytes());
            ip[4..6].copy_from_slice(&spec.ip_id.wrapping_add((k * 100) as u16).to_be_bytes());
            ip[6] = 0x40;
            ip[8] = 64;
            ip[9] = 6;
            ip[12..16].copy_from_slice(&s.octets());
            ip[16..20].copy_from_slice(&d.octets());
            let c = !fold(sum(&ip));
            ip[10..12].copy_from_slice(&c.to_be_bytes());
            f.extend_from_slice(&ip);
            sum(&s.octets()) + sum(&d.octets()) + 6 + l4_len as u64
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            f.extend_from_slice(&[0x86, 0xdd]);
            let mut ip = [0u8; 40];
            ip[0] = 0x60;
            ip[4..6].copy_from_slice(&(l4_len as u16).to_be_bytes());
            ip[6] = 6;
            ip[7] = 64;
            ip[8..24].copy_from_slice(&s.octets());
            ip[24..40].copy_from_slice(&d.octets());
            f.extend_from_slice(&ip);
            sum(&s.octets()) + sum(&d.octets()) + 6 + l4_len as u64
        }
        _ => unreachable!("parse() checked the families"),
    };
    let l4 = f.len();
    f.extend_from_slice(&spec.sport.to_be_bytes());
    f.extend_from_slice(&spec.dport.to_be_bytes());
    f.extend_from_slice(&(0x1000_0000u32.wrapping_add(k * 0x10_0000)).to_be_bytes());
    f.extend_from_slice(&0x2000_0000u32.to_be_bytes());
    f.push(((thlen / 4) as u8) << 4);
    f.push(0x18); // ACK, PSH
    f.extend_from_slice(&0xffffu16.to_be_bytes());
    f.extend_from_slice(&fold(pseudo).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(opts);
    f.extend((0..spec.payload).map(|i| (i % 251) as u8));
    let mut h = [0u8; 10];
    h[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    h[1] = if spec.src.is_ipv4() {
        VIRTIO_NET_HDR_GSO_TCPV4
    } else {
        VIRTIO_NET_HDR_GSO_TCPV6
    };
    h[2..4].copy_from_slice(&((l4 + thlen) as u16).to_le_bytes());
    h[4..6].copy_from_slice(&spec.mss.to_le_bytes());
    h[6..8].copy_from_slice(&(l4 as u16).to_le_bytes());
    h[8..10].copy_from_slice(&16u16.to_le_bytes());
    (f, h)
}

pub fn run(iface: &str, spec: &Spec) -> Result<(), String> {
    let src_mac = crate::raw::iface_mac(iface)?;
    let sock = crate::raw::PacketSocket::open(iface, true)?;
    for k in 0..spec.count {
        let (frame, hdr) = build(spec, src_mac, k);
        let mut buf = hdr.to_vec();
        buf.extend_from_slice(&frame);
        sock.send(&buf)?;
        // Let each send clear the NIC before the next: the captures stay in send order.
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Ok(())
}
