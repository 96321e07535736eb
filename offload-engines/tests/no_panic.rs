//! Every entry point survives arbitrary bytes and parameters: guest memory and
//! descriptor fields reach them unchecked.

use offload_engines::{parse, rss, rxcsum, segment, txcsum, vmq};
use proptest::prelude::*;

fn arb_frame() -> impl Strategy<Value = Vec<u8>> {
    // Mostly random bytes behind a plausible Ethernet/IP/GRE prefix, so that the deep
    // layers are reached too, not only the EtherType check.
    let prefix = prop_oneof![
        Just(vec![]),
        Just(vec![
            0u8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00, 0x45
        ]),
        Just(vec![
            0u8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x86, 0xdd, 0x60
        ]),
        Just(vec![
            0u8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x81, 0x00, 0, 5, 0x08, 0x00, 0x46
        ]),
    ];
    (prefix, proptest::collection::vec(any::<u8>(), 0..400)).prop_map(|(mut p, tail)| {
        p.extend(tail);
        p
    })
}

/// A valid NVGRE TCP frame whose bytes are then overwritten at random positions.
fn mutated_nvgre() -> impl Strategy<Value = Vec<u8>> {
    mutated(nvgre_tcp_frame())
}

/// A valid VXLAN frame (outer IPv4/UDP to 4789, inner IPv4/TCP, 600 payload bytes)
/// mutated the same way: the UDP tunnel segmenter at offsets 34, 64, 84.
fn mutated_vxlan() -> impl Strategy<Value = Vec<u8>> {
    mutated(vxlan_tcp_frame())
}

/// `base` with one to five bytes overwritten at random positions.
fn mutated(base: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let n = base.len();
    proptest::collection::vec((0..n, any::<u8>()), 1..6).prop_map(move |muts| {
        let mut f = base.clone();
        for (i, b) in muts {
            f[i] = b;
        }
        f
    })
}

fn vxlan_tcp_frame() -> Vec<u8> {
    let payload = 600usize;
    let inner_len = 20 + 20 + payload;
    let udp_len = 8 + 8 + 14 + inner_len;
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    f.extend([
        0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ]);
    f[16..18].copy_from_slice(&((20 + udp_len) as u16).to_be_bytes());
    f.extend([0xd4, 0x31, 0x12, 0xb5]);
    f.extend((udp_len as u16).to_be_bytes());
    f.extend([0, 0, 0x08, 0, 0, 0, 0, 0, 100, 0]);
    f.extend([2, 0, 0, 0, 0, 4, 2, 0, 0, 0, 0, 3, 0x08, 0x00]);
    f.extend([
        0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 1, 0, 1, 10, 1, 0, 2,
    ]);
    f[66..68].copy_from_slice(&(inner_len as u16).to_be_bytes());
    f.extend([
        0x30, 0x39, 0, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0,
    ]);
    f.resize(f.len() + payload, 0xa5);
    f
}

fn nvgre_tcp_frame() -> Vec<u8> {
    let mut inner = Vec::new();
    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 3], [2, 0, 0, 0, 0, 4])
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .tcp(1000, 2000, 7, 100)
        .write(&mut inner, &[0xab; 100])
        .unwrap();
    let mut gre = vec![0x20, 0x00, 0x65, 0x58, 0x00, 0x12, 0x34, 0x01];
    gre.extend_from_slice(&inner);
    let mut f = Vec::new();
    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([192, 168, 0, 1], [192, 168, 0, 2], 64)
        .write(&mut f, etherparse::IpNumber(47), &gre)
        .unwrap();
    f
}

fn exercise(frame: &[u8], mss: usize, maclen: usize, iplen: usize, l4len: usize) {
    let _ = parse::parse_frame(frame);
    let _ = parse::parse_headers(frame);
    let _ = rxcsum::validate(frame);
    let t = rss::Toeplitz::new(&[0x6d; 40]);
    let _ = rss::hash_frame(frame, &t, rss::HashTypes::ALL, true);
    let _ = rss::hash_frame(frame, &t, rss::HashTypes::ALL, false);
    let mut table = vmq::VmqTable::new(0, 4);
    let _ = table.add(vmq::VmqFilter {
        mac: [2, 0, 0, 0, 0, 3],
        vlan: None,
        vsid: Some(0x1234),
        queue: 3,
    });
    let _ = table.classify(frame);
    let mut emitted = 0usize;
    let mut out = |s: &[u8]| emitted += s.len();
    let _ = segment::tso(frame, mss, &mut out);
    let _ = segment::uso(frame, mss, &mut out);
    let _ = segment::nvgre_lso(frame, mss, &mut out);
    let mut seg = segment::Segmenter::new();
    for l4 in [segment::L4Kind::Tcp, segment::L4Kind::Udp] {
        for outer_checksum in [true, false] {
            // The driver's three offsets, taken from the descriptor-shaped inputs.
            let req = segment::UdpTunnelRequest {
                outer_udp: maclen,
                inner_ip: iplen,
                inner_l4: l4len,
                l4,
                outer_checksum,
            };
            let _ = seg.udp_tunnel(frame, mss, &req, &mut out);
        }
    }
    for l4 in [segment::L4Kind::Tcp, segment::L4Kind::Udp] {
        for ipv4 in [true, false] {
            let p = segment::ReplicateParams {
                maclen,
                iplen,
                l4len,
                mss,
                ipv4,
                l4,
                tcp_flag_masks: segment::DEFAULT_TCP_FLAG_MASKS,
            };
            let _ = segment::replicate(frame, &p, &mut out);
        }
    }
    let mut m = frame.to_vec();
    let _ = txcsum::offload(
        &mut m,
        txcsum::TxCsumCaps {
            ipv4: true,
            tcp: true,
            udp: true,
        },
    );
    let _ = txcsum::insert_l4(&mut m, maclen, iplen, true);
    let _ = txcsum::insert_ipv4_header(&mut m, maclen, iplen);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes(frame in arb_frame(), mss in 0usize..2000, maclen in 0usize..80, iplen in 0usize..300, l4len in 0usize..80) {
        exercise(&frame, mss, maclen, iplen, l4len);
    }

    #[test]
    fn mutated_valid_frames(frame in mutated_nvgre(), mss in 0usize..200) {
        exercise(&frame, mss, 14, 20, 20);
    }

    #[test]
    fn mutated_vxlan_frames(frame in mutated_vxlan(), mss in 0usize..300) {
        exercise(&frame, mss, 34, 64, 84);
    }

    #[test]
    fn huge_descriptor_values(frame in arb_frame(), mss in any::<usize>(), maclen in any::<usize>(), iplen in any::<usize>(), l4len in any::<usize>()) {
        exercise(&frame, mss, maclen, iplen, l4len);
    }
}

#[test]
fn the_vxlan_base_frame_segments() {
    let f = vxlan_tcp_frame();
    let req = segment::UdpTunnelRequest {
        outer_udp: 34,
        inner_ip: 64,
        inner_l4: 84,
        l4: segment::L4Kind::Tcp,
        outer_checksum: true,
    };
    let mut n = 0;
    let stats = segment::Segmenter::new().udp_tunnel(&f, 200, &req, &mut |_| n += 1);
    assert_eq!(stats.map(|s| s.segments), Ok(3));
    assert_eq!(
        n, 3,
        "the mutations start from a frame that reaches segmentation"
    );
}

#[test]
fn valid_nvgre_frame_parses_fully() {
    let f = nvgre_tcp_frame();
    let p = parse::parse_frame(&f).unwrap();
    let g = p.gre.unwrap();
    assert!(g.is_nvgre());
    assert_eq!(g.vsid(), Some(0x1234));
    assert_eq!(g.flow_id(), Some(1));
    let inner = p.inner.unwrap();
    assert_eq!(inner.eth.dst, [2, 0, 0, 0, 0, 4]);
    assert_eq!(inner.l4.unwrap().dst_port, 2000);
    let r = rxcsum::validate(&f);
    assert_eq!(r.outer_ipv4, Some(true));
    assert_eq!(r.inner_ipv4, Some(true));
    assert_eq!(r.inner_l4, Some((segment::L4Kind::Tcp, true)));
    assert_eq!(r.outer_l4, None);
}
