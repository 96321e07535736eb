//! qemu-glue: everything between tunic's device models and the outside world —
//! the vfio-user server, packet backends, and the harness that boots a guest.
pub mod backend;
pub mod containment;
pub mod harness;
pub mod irq;
pub mod log_limit;
pub mod port;
pub mod server;
pub mod timing;
pub mod topology;
