//! The virtio-net device under a hostile guest: the input is a device setup and an
//! operation stream (virtio BAR and config space accesses, notifications, guest
//! memory, descriptor chains, control commands, received frames, resets, timers),
//! interpreted by `device_model::fuzzing::virtio::run_virtio_ops`, which checks the
//! device's invariants after every step (no DMA outside mapped memory or before
//! DRIVER_OK, bounded work per notification, monotonic counters, no frame longer
//! than the MTU or a GSO segment allows, no MSI-X vector past the table).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    device_model::fuzzing::virtio::run_virtio_ops_reused(data);
});
