//! The in-process wire: a port's transmit sink feeds its peer's receive channel.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use crossbeam_channel::{Sender, TrySendError};
use device_model::timing::Backlog;
use device_model::{FrameSink, RoomKick};

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

/// Bytes a port may have on its way to a receiver before it stops fetching Tx
/// descriptors: the 82576's 40 KB Tx packet buffer (TXPBS at reset). The frames a
/// wire holds are frames its sender has not yet put on the cable.
pub const WIRE_BYTES: u64 = 40 * 1024;

/// The back-pressure of one wire: what its sender has queued and its receiver not
/// yet taken. A sender with no room stops its Tx queues (`FrameSink::has_room`);
/// the receiver taking frames kicks it when there is room again.
pub struct WireGate {
    queued: Backlog,
    kick: OnceLock<RoomKick>,
}

impl WireGate {
    pub fn new(limit: u64) -> Arc<Self> {
        Arc::new(Self {
            queued: Backlog::new(limit),
            kick: OnceLock::new(),
        })
    }

    pub fn sent(&self, bytes: usize) {
        self.queued.add(bytes as u64);
    }

    /// Whether the sender may queue another packet; a no raises the flag that
    /// makes [`WireGate::taken`] kick it.
    pub fn has_room(&self) -> bool {
        !self.queued.must_stop(0)
    }

    /// The receiver took `bytes` off the wire.
    pub fn taken(&self, bytes: usize) {
        if self.queued.release(bytes as u64) {
            if let Some(kick) = self.kick.get() {
                kick();
            }
        }
    }

    pub fn on_room(&self, kick: RoomKick) {
        let _ = self.kick.set(kick);
    }
}

/// Transmits into a channel; never blocks the device. With a gate, the device
/// learns when the receiver is behind and stops its queues instead of losing.
pub struct ChannelSink {
    tx: Sender<Frame>,
    counters: Arc<WireCounters>,
    gate: Option<Arc<WireGate>>,
}

impl ChannelSink {
    pub fn new(tx: Sender<Frame>, counters: Arc<WireCounters>) -> Self {
        Self {
            tx,
            counters,
            gate: None,
        }
    }

    pub fn gated(tx: Sender<Frame>, counters: Arc<WireCounters>, gate: Arc<WireGate>) -> Self {
        Self {
            tx,
            counters,
            gate: Some(gate),
        }
    }
}

impl FrameSink for ChannelSink {
    fn transmit(&mut self, frame: &[u8]) {
        match self.tx.try_send(frame.to_vec()) {
            Ok(()) => {
                if let Some(g) = &self.gate {
                    g.sent(frame.len());
                }
            }
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn has_room(&self) -> bool {
        self.gate.as_ref().is_none_or(|g| g.has_room())
    }

    fn on_room(&mut self, kick: RoomKick) {
        if let Some(g) = &self.gate {
            g.on_room(kick);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sender stops at the gate's limit and is kicked once the receiver has
    /// taken enough; nothing is dropped on the way.
    #[test]
    fn a_gated_wire_pushes_back_and_kicks_its_sender_when_drained() {
        let (tx, rx) = crossbeam_channel::bounded(1024);
        let counters = Arc::new(WireCounters::default());
        let gate = WireGate::new(4000);
        let mut sink = ChannelSink::gated(tx, counters.clone(), gate.clone());
        let kicks = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let k = kicks.clone();
        sink.on_room(Arc::new(move || {
            k.fetch_add(1, Ordering::SeqCst);
        }));
        let mut sent = 0;
        while sink.has_room() {
            sink.transmit(&[0u8; 1500]);
            sent += 1;
        }
        assert_eq!(
            sent, 3,
            "4000 bytes take three 1500-byte frames, the third over the limit"
        );
        assert_eq!(kicks.load(Ordering::SeqCst), 0);
        let f: Frame = rx.recv().unwrap();
        gate.taken(f.len());
        assert_eq!(
            kicks.load(Ordering::SeqCst),
            1,
            "back under the limit: kicked"
        );
        assert!(sink.has_room());
        gate.taken(1500);
        assert_eq!(kicks.load(Ordering::SeqCst), 1, "one kick per stop");
        assert_eq!(counters.dropped.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn an_ungated_sink_always_has_room_and_counts_what_a_full_queue_loses() {
        let (tx, _rx) = crossbeam_channel::bounded(1);
        let counters = Arc::new(WireCounters::default());
        let mut sink = ChannelSink::new(tx, counters.clone());
        sink.transmit(&[1]);
        sink.transmit(&[2]);
        assert!(sink.has_room());
        assert_eq!(counters.dropped.load(Ordering::Relaxed), 1);
    }
}
