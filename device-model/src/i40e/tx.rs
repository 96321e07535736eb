//! Transmit: data and context descriptors feeding the offload engines.
//! (Filled in by the Tx work; this is the interface the rest of the device uses.)

use serde::Serialize;

use super::hmc::TxContext;
use super::I40e;

/// Per Tx queue state between doorbells.
#[derive(Debug, Default)]
pub struct TxQueue {
    /// The context read at queue enable; `None` while the queue is disabled.
    pub ctx: Option<TxContext>,
    pub head: u16,
}

impl TxQueue {
    pub fn started(ctx: TxContext) -> Self {
        Self {
            ctx: Some(ctx),
            head: ctx.head,
        }
    }
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct TxCounters {
    pub tx_frames: u64,
}

impl I40e {
    /// QTX_TAIL was written: process queue `q` from its head to the tail.
    pub(super) fn tx_process(&mut self, _q: usize) {}
}
