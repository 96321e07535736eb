//! Device models: PCI config space, register files, rings, interrupts and the
//! device personalities (Intel 82576 / `igb`, virtio-net), built on the offload engines.

#[cfg(test)]
mod docgen;
pub mod doorbell;
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
pub mod regtable;
pub mod timing;
pub mod virtio_net;
pub mod wire;

pub use irq::{IrqSink, NoIrq};
pub use personality::{CounterReport, DeviceCounters, Personality};
pub use wire::{FrameSink, NullSink, RoomKick};

#[cfg(test)]
mod error_counter_lists {
    /// Each personality's error list names counters it reports, so a renamed counter
    /// cannot silently drop out of the conformance check that sums them.
    #[test]
    fn every_listed_error_counter_is_reported() {
        let reported = [
            (
                serde_json::to_value(crate::igb::Counters::default()),
                crate::igb::ERROR_COUNTERS,
            ),
            (
                serde_json::to_value(crate::i40e::Counters::default()),
                crate::i40e::ERROR_COUNTERS,
            ),
            (
                serde_json::to_value(crate::virtio_net::Counters::default()),
                crate::virtio_net::ERROR_COUNTERS,
            ),
        ];
        for (json, names) in reported {
            let json = json.unwrap();
            for name in names {
                assert!(json.get(name).is_some(), "{name} is not in the counters");
            }
        }
    }
}
