//! The igb device under a hostile guest: the input is an operation stream
//! (register accesses, guest memory contents, descriptors, received frames,
//! resets), interpreted by `device_model::fuzzing::run_ops`, which checks the
//! device's invariants after every step (no DMA outside mapped memory, bounded
//! work per doorbell, monotonic counters, no oversized frame on the wire).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    device_model::fuzzing::run_ops_reused(data);
});
