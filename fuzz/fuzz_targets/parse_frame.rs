//! The receive parser on arbitrary bytes: no panic, offsets inside the frame, and the
//! transmit and partial parsers agree with it whenever it succeeds.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use offload_engines::parse;

fuzz_target!(|data: &[u8]| {
    let Ok(p) = parse::parse_frame(data) else {
        return;
    };
    common::check_parsed(&p, data.len());
    assert_eq!(parse::parse_partial(data), Ok((p, None)));
    // The transmit policy only ever sees more bytes per packet, so it cannot fail where
    // the receive policy succeeds.
    let t = parse::parse_headers(data).expect("parse_headers fails where parse_frame succeeds");
    common::check_parsed(&t, data.len());
});
