//! The X710 (i40e) device under a hostile guest: the input is an operation stream
//! (BAR0 register accesses, guest memory, admin queue commands of any opcode, flags,
//! length and buffer, a driver bring-up, Tx descriptors, received frames, config
//! space writes, resets, DMA map changes), interpreted by
//! `device_model::fuzzing::i40e::run_i40e_ops`, which checks the device's invariants
//! after every step (no DMA outside mapped memory, bounded work per doorbell,
//! monotonic counters, no frame longer than the MAC sends, no MSI-X vector past the
//! table). One device and its guest memory are reused per thread, reset between
//! inputs (`run_i40e_ops_reused`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    device_model::fuzzing::i40e::run_i40e_ops_reused(data);
});
