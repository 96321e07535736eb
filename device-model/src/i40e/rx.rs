//! Receive: steering, descriptors, packet types and per-layer checksum status.
//! (Filled in by the Rx work; this is the interface the rest of the device uses.)

use serde::Serialize;

use super::hmc::RxContext;
use super::I40e;

/// Per Rx queue state.
#[derive(Debug, Default)]
pub struct RxQueue {
    /// The context read at queue enable; `None` while the queue is disabled.
    pub ctx: Option<RxContext>,
    pub head: u16,
}

impl RxQueue {
    pub fn started(ctx: RxContext) -> Self {
        Self {
            ctx: Some(ctx),
            head: ctx.head,
        }
    }
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct RxCounters {
    pub rx_frames: u64,
}

impl I40e {
    /// A frame from the wire: filter, steer to a queue, write it to the ring.
    pub(super) fn rx_frame(&mut self, _frame: &[u8]) {}

    /// QRX_TAIL was written: new descriptors on queue `q`.
    pub(super) fn rx_tail_written(&mut self, _q: usize) {}
}
