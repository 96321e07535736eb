//! Cycle-approximate timing of a port: the `offload_engines::cost` model applied
//! to what the device actually does.
//!
//! - `off`: no timing work at all; frames leave as fast as the emulator runs.
//! - `virtual`: a virtual clock that only the device's own work moves forward.
//!   Every doorbell and every received frame is an event at the current model
//!   time; the packets it starts are played through the cost model's event queue
//!   and the clock ends at the moment the last of them is done. The guest's own
//!   CPU time and idle time are zero in this clock. Deterministic.
//! - `paced`: model time is wall time since the port started. Frames get the same
//!   modelled departure times and are released to the wire at them by a pacer
//!   outside the device, which pushes back on the Tx rings through [`Backlog`].
//!   Tx descriptor write-backs, and the interrupts they cause, wait for their
//!   packet's modelled completion (see `completions`).
//!
//! See `docs/timing.md` ("Device integration") for the exact rules.

mod backlog;
mod clock;
mod completions;
mod device;
mod ledger;
mod schedule;
mod trace;
mod vectors;

use std::sync::Arc;
use std::time::Instant;

use offload_engines::cost::{Generation, LinkWidth, Params};
use serde::Serialize;

pub use backlog::Backlog;
pub use clock::ModelClock;
pub use completions::{Completion, WriteBack};
pub use device::DeviceTiming;
pub use ledger::{Ledger, QueueReport, TimingReport, Utilisation, VectorReport};
pub use schedule::{Booked, Schedule};
pub use trace::{Trace, TraceWriter};
pub use vectors::Vectors;

/// How a port's time is modelled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TimingMode {
    /// As fast as possible; no model.
    #[default]
    Off,
    /// Modelled times played out in real time.
    Paced,
    /// Modelled times on a virtual clock, no waiting.
    Virtual,
}

/// Everything a device needs to model its timing.
#[derive(Clone)]
pub struct TimingConfig {
    pub mode: TimingMode,
    pub params: Params,
    /// Model time zero. In paced mode model time is wall time since this instant,
    /// shared with the pacer so both sides agree on what a modelled time means.
    pub epoch: Instant,
    /// Paced mode: bytes handed to the pacer and not yet on the wire.
    pub backlog: Option<Arc<Backlog>>,
    /// `--trace`: one JSON line per packet.
    pub trace: Option<TraceWriter>,
    /// Called when the device's next timer moved earlier (a held interrupt or a
    /// deferred write-back), so whoever sleeps until [`DeviceTiming::next_timer`]
    /// looks again.
    pub wake: Option<Waker>,
}

/// See [`TimingConfig::wake`].
pub type Waker = Arc<dyn Fn() + Send + Sync>;

impl Default for TimingConfig {
    fn default() -> Self {
        TimingConfig {
            mode: TimingMode::Off,
            params: Params::default(),
            epoch: Instant::now(),
            backlog: None,
            trace: None,
            wake: None,
        }
    }
}

impl std::fmt::Debug for TimingConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimingConfig")
            .field("mode", &self.mode)
            .field("params", &self.params)
            .field("backlog", &self.backlog.is_some())
            .field("trace", &self.trace.is_some())
            .finish()
    }
}

/// `gen2x4` style name of a PCIe link.
pub fn pcie_name(generation: Generation, width: LinkWidth) -> String {
    let g = match generation {
        Generation::Gen1 => 1,
        Generation::Gen2 => 2,
        Generation::Gen3 => 3,
        Generation::Gen4 => 4,
        Generation::Gen5 => 5,
    };
    format!("gen{g}x{}", width.lanes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_pcie_links() {
        assert_eq!(pcie_name(Generation::Gen3, LinkWidth::X8), "gen3x8");
    }
}
