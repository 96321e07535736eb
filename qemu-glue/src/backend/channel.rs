//! The in-process wire: a port's transmit sink feeds its peer's receive channel.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crossbeam_channel::{Sender, TrySendError};
use device_model::FrameSink;

use super::Frame;

/// Frames a port's wire lost, each counted once, so none vanishes silently.
#[derive(Default, Debug)]
pub struct WireCounters {
    /// Sent by the port and lost on the way: the receiving queue was full (the peer
    /// is not draining), or the outside peer (stream, tap) could not take it.
    pub dropped: AtomicU64,
    /// Sent to the port by an outside peer (stream, tap) and lost before the device
    /// saw it: the port's receive queue was full.
    pub rx_dropped: AtomicU64,
}

/// Transmits into a channel; never blocks the device.
pub struct ChannelSink {
    tx: Sender<Frame>,
    counters: Arc<WireCounters>,
}

impl ChannelSink {
    pub fn new(tx: Sender<Frame>, counters: Arc<WireCounters>) -> Self {
        Self { tx, counters }
    }
}

impl FrameSink for ChannelSink {
    fn transmit(&mut self, frame: &[u8]) {
        match self.tx.try_send(frame.to_vec()) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
