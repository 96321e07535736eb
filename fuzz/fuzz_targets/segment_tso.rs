//! `segment::tso` on arbitrary bytes. Input: the MSS as a big-endian u16, then the
//! frame. No panic, and the invariants of `common::check_segments`.
#![no_main]

mod common;

use std::cell::RefCell;

use libfuzzer_sys::fuzz_target;
use offload_engines::parse;
use offload_engines::segment::Segmenter;

thread_local! {
    // One scratch buffer for the whole run, as a device worker keeps one.
    static SEGMENTER: RefCell<Segmenter> = RefCell::new(Segmenter::new());
}

fuzz_target!(|data: &[u8]| {
    let Some((mss, frame)) = common::take_u16(data) else {
        return;
    };
    let mss = usize::from(mss);
    let mut segments = Vec::new();
    let result =
        SEGMENTER.with_borrow_mut(|s| s.tso(frame, mss, &mut |seg| segments.push(seg.to_vec())));
    let hdr_len = parse::parse_headers(frame).ok().map(|p| p.headers_end());
    common::check_segments(frame, hdr_len, mss, &result, &segments);
});
