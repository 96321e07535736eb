//! Header-replicating TSO on plain TCP super-packets built by etherparse: the segments
//! must reassemble to the original payload, every IP and TCP checksum must verify with
//! etherparse, and lengths, IDs, sequence numbers and flags must follow R-21..R-27.

use etherparse::{Ipv4Header, Ipv6Header, TcpHeader};
use offload_engines::segment::{self, L4Kind, ReplicateParams, Segmenter, DEFAULT_TCP_FLAG_MASKS};
use proptest::prelude::*;
use testvectors::build::{self, FrameSpec, Ip, Seed, TcpFlags};

#[derive(Debug, Clone)]
struct Case {
    ip: Ip,
    ip_extras: bool,
    timestamps: bool,
    vlan: Option<u16>,
    payload_len: usize,
    mss: usize,
    id: u16,
    seq: u32,
    flags: TcpFlags,
}

fn arb_case() -> impl Strategy<Value = Case> {
    (
        prop_oneof![Just(Ip::V4), Just(Ip::V6)],
        any::<bool>(),
        any::<bool>(),
        proptest::option::of(0u16..4096),
        0usize..20_000,
        1usize..3000,
        prop_oneof![any::<u16>(), 0xFFF0u16..=0xFFFF],
        prop_oneof![any::<u32>(), 0xFFFF_0000u32..=0xFFFF_FFFF],
        (any::<bool>(), any::<bool>(), any::<bool>()),
    )
        .prop_map(
            |(ip, ip_extras, timestamps, vlan, payload_len, mss, id, seq, (cwr, psh, fin))| Case {
                ip,
                ip_extras,
                timestamps,
                vlan,
                payload_len,
                mss,
                id,
                seq,
                flags: TcpFlags { cwr, psh, fin },
            },
        )
}

fn check(c: &Case, seg_tool: &mut Segmenter) -> Result<(), TestCaseError> {
    let spec = FrameSpec {
        ip_extras: c.ip_extras,
        tcp_timestamps: c.timestamps,
        vlan: c.vlan,
        id: c.id,
        seq: c.seq,
        flags: c.flags,
        ..FrameSpec::tcp(c.ip, c.payload_len, Seed::Lso)
    };
    let b = build::build(&spec);
    let p = ReplicateParams {
        maclen: b.ip,
        iplen: b.l4 - b.ip,
        l4len: b.header_len - b.l4,
        mss: c.mss,
        ipv4: c.ip == Ip::V4,
        l4: L4Kind::Tcp,
        tcp_flag_masks: DEFAULT_TCP_FLAG_MASKS,
    };
    let mut segs: Vec<Vec<u8>> = Vec::new();
    let stats = seg_tool
        .replicate(&b.frame, &p, &mut |s| segs.push(s.to_vec()))
        .map_err(|e| TestCaseError::fail(format!("replicate failed: {e}")))?;

    // full-MSS segments, then at most one shorter one.
    let expect_n = c.payload_len.div_ceil(c.mss).max(1);
    prop_assert_eq!(stats.segments, expect_n);
    prop_assert_eq!(segs.len(), expect_n);
    prop_assert_eq!(stats.payload_bytes, c.payload_len);

    let mut reassembled = Vec::with_capacity(c.payload_len);
    for (k, s) in segs.iter().enumerate() {
        let last = k + 1 == segs.len();
        let chunk = &s[b.header_len..];
        if !last {
            prop_assert_eq!(chunk.len(), c.mss);
        }
        reassembled.extend_from_slice(chunk);
        // the header is copied; only the rewritten fields may differ.
        prop_assert_eq!(&s[..b.ip], &b.frame[..b.ip]);

        let tcp_bytes = &s[b.l4..];
        let (tcp, payload) = TcpHeader::from_slice(tcp_bytes).unwrap();
        let expect_csum = match c.ip {
            Ip::V4 => {
                let (ip, _) = Ipv4Header::from_slice(&s[b.ip..]).unwrap();
                prop_assert_eq!(usize::from(ip.total_len), s.len() - b.ip);
                prop_assert_eq!(ip.identification, c.id.wrapping_add(k as u16));
                prop_assert_eq!(ip.header_checksum, ip.calc_header_checksum());
                tcp.calc_checksum_ipv4(&ip, payload).unwrap()
            }
            Ip::V6 => {
                let (ip, _) = Ipv6Header::from_slice(&s[b.ip..]).unwrap();
                prop_assert_eq!(usize::from(ip.payload_length), s.len() - b.ip - 40);
                tcp.calc_checksum_ipv6(&ip, payload).unwrap()
            }
        };
        prop_assert_eq!(tcp.checksum, expect_csum, "TCP checksum of segment {}", k);
        prop_assert_eq!(tcp.sequence_number, c.seq.wrapping_add((k * c.mss) as u32));
        // 82576 default masks: FIN/PSH cleared except on the last segment; CWR cleared
        // on the last segment of a multi-segment send; a single segment uses first &
        // last (clears all three).
        let single = segs.len() == 1;
        prop_assert_eq!(tcp.fin, c.flags.fin && last && !single);
        prop_assert_eq!(tcp.psh, c.flags.psh && last && !single);
        prop_assert_eq!(tcp.cwr, c.flags.cwr && !last);
        prop_assert!(tcp.ack);
        // options copied unchanged.
        prop_assert_eq!(tcp.options.as_slice(), &b.frame[b.l4 + 20..b.header_len]);
    }
    prop_assert_eq!(reassembled, build::payload(c.payload_len));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn replicate_reassembles_and_verifies(c in arb_case()) {
        let mut s = Segmenter::new();
        check(&c, &mut s)?;
    }
}

#[test]
fn replicate_rejects_bad_parameters() {
    let b = build::build(&FrameSpec::tcp(Ip::V4, 100, Seed::Lso));
    let good = ReplicateParams {
        maclen: 14,
        iplen: 20,
        l4len: 20,
        mss: 10,
        ipv4: true,
        l4: L4Kind::Tcp,
        tcp_flag_masks: DEFAULT_TCP_FLAG_MASKS,
    };
    let mut sink = |_: &[u8]| {};
    assert!(segment::replicate(&b.frame, &good, &mut sink).is_ok());
    let err = |p: ReplicateParams| segment::replicate(&b.frame, &p, &mut |_| {}).unwrap_err();
    assert_eq!(
        err(ReplicateParams { mss: 0, ..good }),
        segment::SegmentError::MssZero
    );
    assert!(matches!(
        err(ReplicateParams {
            maclen: 250,
            ..good
        }),
        segment::SegmentError::HeaderTooLong { .. }
    ));
    assert!(matches!(
        err(ReplicateParams {
            maclen: 150,
            ..good
        }),
        segment::SegmentError::Truncated { .. }
    ));
    assert!(matches!(
        err(ReplicateParams { l4len: 8, ..good }),
        segment::SegmentError::FieldOutOfBounds { .. }
    ));
    assert!(matches!(
        err(ReplicateParams {
            maclen: usize::MAX,
            ..good
        }),
        segment::SegmentError::FieldOutOfBounds { .. }
    ));
}

#[test]
fn single_segment_uses_first_and_last_masks() {
    let spec = FrameSpec::tcp(Ip::V4, 100, Seed::Lso);
    let b = build::build(&spec);
    let p = ReplicateParams {
        maclen: 14,
        iplen: 20,
        l4len: 20,
        mss: 1000,
        ipv4: true,
        l4: L4Kind::Tcp,
        tcp_flag_masks: [0x0FFF, 0x0FFF, 0x0FF7],
    };
    let mut segs = Vec::new();
    segment::replicate(&b.frame, &p, &mut |s| segs.push(s.to_vec())).unwrap();
    let (tcp, _) = TcpHeader::from_slice(&segs[0][34..]).unwrap();
    assert!(tcp.fin && tcp.cwr && !tcp.psh);
}
