//! `Segmenter::udp_tunnel` (TCP or UDP segmentation inside a UDP tunnel, at the
//! driver's offsets) on arbitrary bytes. Input: the MSS, the outer UDP, inner IP and
//! inner L4 offsets as big-endian u16s, a flag byte (bit 0: UDP inside, bit 1: the
//! outer UDP checksum asked for), then the frame. No panic, and the invariants of
//! `common::check_segments`.
#![no_main]

mod common;

use std::cell::RefCell;

use libfuzzer_sys::fuzz_target;
use offload_engines::segment::{L4Kind, Segmenter, UdpTunnelRequest};

thread_local! {
    static SEGMENTER: RefCell<Segmenter> = RefCell::new(Segmenter::new());
}

fuzz_target!(|data: &[u8]| {
    let Some((mss, rest)) = common::take_u16(data) else {
        return;
    };
    let Some((outer_udp, rest)) = common::take_u16(rest) else {
        return;
    };
    let Some((inner_ip, rest)) = common::take_u16(rest) else {
        return;
    };
    let Some((inner_l4, rest)) = common::take_u16(rest) else {
        return;
    };
    let Some((&flags, frame)) = rest.split_first() else {
        return;
    };
    let req = UdpTunnelRequest {
        outer_udp: usize::from(outer_udp),
        inner_ip: usize::from(inner_ip),
        inner_l4: usize::from(inner_l4),
        l4: if flags & 1 != 0 { L4Kind::Udp } else { L4Kind::Tcp },
        outer_checksum: flags & 2 != 0,
    };
    let mss = usize::from(mss);
    let mut segments = Vec::new();
    let result = SEGMENTER.with_borrow_mut(|s| {
        s.udp_tunnel(frame, mss, &req, &mut |seg| segments.push(seg.to_vec()))
    });
    // The header ends after the inner L4 header: 8 bytes of UDP, or TCP's data offset.
    let hdr_len = match req.l4 {
        L4Kind::Udp => Some(req.inner_l4 + 8),
        L4Kind::Tcp => frame
            .get(req.inner_l4 + 12)
            .map(|b| req.inner_l4 + usize::from(b >> 4) * 4),
    };
    common::check_segments(frame, hdr_len, mss, &result, &segments);
});
