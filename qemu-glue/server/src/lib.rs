//! tunic-server: ports. A port is one device personality behind a vfio-user
//! socket, with its interrupts (QEMU's eventfds), its worker threads and its
//! wire; a topology is ports joined by wires, built in one place
//! ([`topology::start`]) for every command that serves NICs.
pub mod containment;
pub mod irq;
pub mod log_limit;
pub mod port;
pub mod server;
pub mod timing;
pub mod topology;
