//! Invariants shared by the fuzz targets.
#![allow(dead_code)]

use offload_engines::parse::Parsed;
use offload_engines::segment::{SegmentError, SegmentStats};

/// Splits a fuzz input into a big-endian u16 parameter and the rest.
pub fn take_u16(data: &[u8]) -> Option<(u16, &[u8])> {
    let (p, rest) = data.split_first_chunk::<2>()?;
    Some((u16::from_be_bytes(*p), rest))
}

/// Every offset the parser reports lies inside the frame, in header order.
pub fn check_parsed(p: &Parsed, len: usize) {
    let end = p.headers_end();
    assert!(end <= len, "headers end at {end}, frame has {len} bytes");
    let layers = std::iter::once(&p.outer).chain(p.inner.as_ref());
    for l in layers {
        assert!(l.eth.offset + l.eth.header_len <= len);
        if let Some(ip) = l.ip {
            assert!(ip.offset >= l.eth.offset + l.eth.header_len);
            assert!(ip.l4_offset() <= ip.end && ip.end <= len);
            if let Some(l4) = l.l4 {
                assert_eq!(l4.offset, ip.l4_offset());
                assert!(l4.offset + l4.header_len <= ip.end);
            }
        }
    }
    if let Some(g) = p.gre {
        assert!(g.offset + g.header_len <= len);
    }
}

/// What every segmentation must satisfy: nothing emitted on error; on success one
/// segment per MSS of payload (at least one), each no longer than header + MSS, whose
/// payloads concatenate to the input payload.
pub fn check_segments(
    frame: &[u8],
    hdr_len: Option<usize>,
    mss: usize,
    result: &Result<SegmentStats, SegmentError>,
    segments: &[Vec<u8>],
) {
    let stats = match result {
        Err(_) => {
            assert!(segments.is_empty(), "segments emitted before an error");
            return;
        }
        Ok(s) => s,
    };
    let hdr_len = hdr_len.expect("segmentation succeeded without locatable headers");
    assert!(mss > 0 && hdr_len <= frame.len());
    let payload = &frame[hdr_len..];
    assert_eq!(stats.segments, segments.len());
    assert_eq!(segments.len(), payload.len().div_ceil(mss).max(1));
    assert_eq!(stats.payload_bytes, payload.len());
    let mut at = 0;
    for s in segments {
        assert!(s.len() >= hdr_len && s.len() <= hdr_len + mss);
        let chunk = &s[hdr_len..];
        assert_eq!(
            chunk,
            &payload[at..at + chunk.len()],
            "payload bytes changed"
        );
        at += chunk.len();
    }
    assert_eq!(at, payload.len());
}
