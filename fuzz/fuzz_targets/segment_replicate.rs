//! `segment::replicate` with context-descriptor parameters taken from the input, as a
//! guest writes them. Input: MACLEN (u8), IPLEN (u16), L4LEN (u8), MSS (u16), a flags
//! byte (bit 0: IPv4, bit 1: UDP), three TCP flag masks (u16 each), then the frame.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use offload_engines::segment::{self, L4Kind, ReplicateParams};

const PARAMS_LEN: usize = 13;

fuzz_target!(|data: &[u8]| {
    let Some((p, frame)) = data.split_first_chunk::<PARAMS_LEN>() else {
        return;
    };
    let u16_at = |i: usize| u16::from_be_bytes([p[i], p[i + 1]]);
    let params = ReplicateParams {
        maclen: usize::from(p[0]),
        iplen: usize::from(u16_at(1)),
        l4len: usize::from(p[3]),
        mss: usize::from(u16_at(4)),
        ipv4: p[6] & 1 != 0,
        l4: if p[6] & 2 != 0 {
            L4Kind::Udp
        } else {
            L4Kind::Tcp
        },
        tcp_flag_masks: [u16_at(7), u16_at(9), u16_at(11)],
    };
    let mut segments = Vec::new();
    let result = segment::replicate(frame, &params, &mut |s| segments.push(s.to_vec()));
    let hdr_len = params.maclen + params.iplen + params.l4len;
    common::check_segments(frame, Some(hdr_len), params.mss, &result, &segments);
});
