//! The partial parser on arbitrary bytes: no panic, the layers it keeps lie inside the
//! frame, and its error is exactly the one parse_frame reports.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use offload_engines::parse;

fuzz_target!(|data: &[u8]| {
    match parse::parse_partial(data) {
        Ok((p, err)) => {
            common::check_parsed(&p, data.len());
            match err {
                None => assert_eq!(parse::parse_frame(data), Ok(p)),
                Some(e) => assert_eq!(parse::parse_frame(data), Err(e)),
            }
        }
        Err(e) => assert_eq!(parse::parse_frame(data), Err(e)),
    }
});
