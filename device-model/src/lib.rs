//! Device models: PCI config space, register files, rings, interrupts and the
//! device personalities (Intel 82576 / `igb`, virtio-net), built on the offload engines.

pub mod factory;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod i40e;
pub mod igb;
pub mod irq;
mod mmio;
pub mod pci;
pub mod personality;
pub mod ratelimit;
pub mod timing;
pub mod virtio_net;
pub mod wire;

pub use irq::{IrqSink, NoIrq};
pub use personality::Personality;
pub use wire::{FrameSink, NullSink};
