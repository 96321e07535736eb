//! Cycle-approximate timing model of the NIC: what each stage of a packet's path
//! costs in picoseconds, and a discrete-event core to play those costs out.
//!
//! - [`TxCost::of`] / [`RxCost::of`] turn a packet's shape into a [`Breakdown`]:
//!   its stages (descriptor fetch, DMA, engines, wire, write-back, interrupt), each
//!   with its unloaded latency and the time it keeps each shared [`Resource`] busy.
//! - [`Resources`] queues stages for the PCIe link (each direction), the engines and
//!   the wire; [`EventQueue`] and [`VirtualClock`] order everything in time.
//! - [`Moderation`] is the EITR interrupt throttle as a state machine.
//! - [`steady_rate`] runs a stream of identical packets through all of it.
//!
//! Everything is integer arithmetic on [`Picos`]: deterministic, no I/O, no
//! threads, and no panics for any parameter or packet shape. The parameters, their
//! defaults and sources, and the formulas are in `docs/timing.md`.

mod breakdown;
mod eitr;
mod engine;
mod events;
mod mac;
mod pcie;
mod resources;
mod stream;
mod time;

use thiserror::Error;

pub use breakdown::{
    Breakdown, Busy, Direction, Resource, RxCost, RxShape, Stage, StageCost, TxCost, TxShape,
    DESCRIPTOR_BYTES, MSIX_MESSAGE_BYTES,
};
pub use eitr::{eitr_interval, Moderation, Step, EITR_INTERVAL_MASK};
pub use engine::EngineCosts;
pub use events::{EventQueue, VirtualClock};
pub use mac::{serialization_time, wire_bytes, LinkSpeed, FCS, IFG, MIN_FRAME, PREAMBLE, SFD};
pub use pcie::{
    Generation, HeaderFormat, LinkCost, LinkWidth, PcieLink, COMPLETION_HEADER_BYTES, DLLP_BYTES,
    TLP_FRAMING_BYTES,
};
pub use resources::Resources;
pub use stream::{steady_rate, Rate};
pub use time::{DeviceClock, Picos, PS_PER_SEC};

/// Everything the cost of a packet depends on apart from the packet itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Params {
    pub clock: DeviceClock,
    pub pcie: PcieLink,
    pub engine: EngineCosts,
    pub speed: LinkSpeed,
}

/// A parameter no real device or PCIe link could have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ParamError {
    #[error("device clock must be above 0 Hz")]
    ZeroClock,
    #[error("max payload size {0} is not a power of two from 128 to 4096")]
    MaxPayload(u32),
    #[error("max read request size {0} is not a power of two from 128 to 4096")]
    MaxReadRequest(u32),
    #[error("completion payload {0} is not a multiple of 64 up to the max payload size")]
    CompletionPayload(u32),
    #[error("DLLP coalescing must be at least one TLP per DLLP")]
    DllpCoalescing,
    #[error("engine widths must be at least one byte per cycle")]
    EngineWidth,
}

impl Params {
    /// Checks the parameters against what the PCIe base specification and a real
    /// device allow. The cost functions accept anything; this is for configuration.
    pub fn validate(&self) -> Result<(), ParamError> {
        let tlp_size = |size: u32| size.is_power_of_two() && (128..=4096).contains(&size);
        let pcie = &self.pcie;
        if self.clock.hz == 0 {
            return Err(ParamError::ZeroClock);
        }
        if !tlp_size(pcie.max_payload) {
            return Err(ParamError::MaxPayload(pcie.max_payload));
        }
        if !tlp_size(pcie.max_read_request) {
            return Err(ParamError::MaxReadRequest(pcie.max_read_request));
        }
        let cpl = pcie.completion_payload;
        if cpl == 0 || !cpl.is_multiple_of(64) || cpl > pcie.max_payload {
            return Err(ParamError::CompletionPayload(cpl));
        }
        if pcie.tlps_per_ack == 0 || pcie.tlps_per_fc_update == 0 {
            return Err(ParamError::DllpCoalescing);
        }
        let e = &self.engine;
        if e.checksum_bytes_per_cycle == 0 || e.segmentation_bytes_per_cycle == 0 {
            return Err(ParamError::EngineWidth);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_named() {
        assert_eq!(Params::default().validate(), Ok(()));
        let mut p = Params::default();
        p.pcie.max_payload = 200;
        assert_eq!(p.validate(), Err(ParamError::MaxPayload(200)));
        let mut p = Params::default();
        p.pcie.completion_payload = 512;
        assert_eq!(p.validate(), Err(ParamError::CompletionPayload(512)));
        let mut p = Params::default();
        p.clock.hz = 0;
        assert_eq!(p.validate(), Err(ParamError::ZeroClock));
    }
}
