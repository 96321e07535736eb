//! The vfio-user server under a hostile client: the input is a message stream
//! (well-formed, mutated and raw, with memfds and eventfds attached), served
//! by tunic's own protocol layer in front of a real igb; see
//! `tunic_server::server::fuzzing`. Every reply must be whole, every error reply
//! must carry an errno, and the device model must never fault.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tunic_server::server::fuzzing::run_stream(data);
});
