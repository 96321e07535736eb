//! The transmit parser on arbitrary bytes: no panic, offsets inside the frame.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use offload_engines::parse;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = parse::parse_headers(data) {
        common::check_parsed(&p, data.len());
    }
});
