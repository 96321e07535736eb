//! Receive checksum validation on arbitrary bytes: no panic, and tunnel verdicts only
//! for frames with a parsed tunnel.
#![no_main]

use libfuzzer_sys::fuzz_target;
use offload_engines::rxcsum;

fuzz_target!(|data: &[u8]| {
    let r = rxcsum::validate(data);
    if r.gre.is_some() || r.inner_ipv4.is_some() || r.inner_l4.is_some() {
        assert!(r.tunnel.is_some(), "inner verdicts without a tunnel: {r:?}");
    }
    if r.tunnel.is_some() {
        assert!(
            r.outer_l4.is_none(),
            "a GRE frame has no outer TCP/UDP: {r:?}"
        );
    }
    assert_eq!(
        r.ip_ok().is_none(),
        r.outer_ipv4.is_none() && r.inner_ipv4.is_none()
    );
    assert_eq!(r, rxcsum::validate(data), "validation is deterministic");
});
