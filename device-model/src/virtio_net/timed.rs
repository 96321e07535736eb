//! The virtio-net device's side of the timing model, as for igb (`igb::timed`):
//! what each transmitted packet and received frame costs, Tx back-pressure, and in
//! paced mode transmit chains marked used at their packet's modelled completion.
//!
//! Only reached with timing on (`self.timing` is `Some`). virtio has no EITR; its
//! interrupt moderation is notification coalescing (`coalesce`), whose deadlines are
//! then model timers like igb's moderation timers: paced, they fall due in real
//! time; in virtual time an idle device's clock jumps to them.

use offload_engines::cost::{Picos, RxShape};

use super::queue::Chain;
use super::VirtioNet;
use crate::timing::{Completion, TimingReport};

impl VirtioNet {
    /// Paced: whether the Tx packet buffer is too full to take the next chain of
    /// pair `pair` (chains are whole packets, so this is a packet boundary).
    pub(super) fn tx_must_stop(&mut self, pair: usize) -> bool {
        if self.timing.as_mut().is_some_and(|t| t.must_stop(pair)) {
            return true;
        }
        // The wire can take no more: the queue waits, as behind a full Tx buffer.
        if self.wire.has_room() {
            return false;
        }
        if self.wire_stalled & (1 << pair) == 0 {
            self.counters.tx_wire_full_stops += 1;
        }
        self.wire_stalled |= 1 << pair;
        true
    }

    /// The frames of this notification leave with their modelled departure times.
    pub(super) fn flush_timed_tx(&mut self) {
        if let Some(t) = self.timing.as_mut() {
            let wire = &mut self.wire;
            t.run_tx(0, |frame, at| wire.transmit_at(frame, at));
        }
    }

    /// Pair `pair` received a frame of `bytes` into `buffers` chains.
    pub(super) fn timed_rx(&mut self, pair: usize, bytes: usize, buffers: usize) {
        let checksum = self
            .features
            .guest_offload(virtio_bindings::virtio_net::VIRTIO_NET_F_GUEST_CSUM);
        if let Some(t) = self.timing.as_mut() {
            let shape = RxShape {
                descriptors: buffers as u32,
                write_backs: buffers as u32,
                bytes: bytes as u64,
                checksum,
                interrupt: true,
            };
            t.run_rx(pair, &shape, 0);
        }
    }

    /// The Tx packet buffer drained: pairs stopped by it go on.
    pub fn resume_tx(&mut self) {
        let stalled = self.timing.as_mut().map_or(0, |t| t.take_stalled())
            | std::mem::take(&mut self.wire_stalled);
        let ctrl = self.ctrl_queue();
        for pair in (0..ctrl / 2).filter(|p| stalled & (1 << p) != 0) {
            self.queue_notified(2 * pair + 1);
        }
    }

    pub fn model_time(&self) -> Option<Picos> {
        self.timing.as_ref().map(|t| t.now())
    }

    /// The model's own next timer or the earliest coalescing deadline.
    pub fn next_timer(&self) -> Option<Picos> {
        let model = self.timing.as_ref().and_then(|t| t.next_timer());
        let coalesce = self.timing.as_ref().and(self.next_coalesce_deadline());
        match (model, coalesce) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Marks used the transmit chains whose packets are done (paced mode) and
    /// notifies the driver for them, then sends the held notifications that are due.
    pub fn run_timers(&mut self) {
        // Virtual time: when the earliest timer is a coalescing deadline, the idle
        // device's clock moves to it (the model jumps to its own timers itself).
        let coalesce = self.next_coalesce_deadline();
        if let (Some(t), Some(d)) = (self.timing.as_mut(), coalesce) {
            if t.next_timer().is_none_or(|m| d <= m) {
                t.idle_until(d);
            }
        }
        let due = self
            .timing
            .as_mut()
            .map(|t| t.take_due())
            .unwrap_or_default();
        let mut touched = 0u64;
        for c in due {
            let Completion::Used { queue, head, slots } = c else {
                continue;
            };
            let chain = Chain {
                head,
                slots,
                ..Chain::default()
            };
            if queue >= self.queues.len() {
                continue;
            }
            if let Err(e) = self.queues[queue].add_used(&self.dma, &chain, 0) {
                return self.queue_failed(queue, e);
            }
            touched |= 1 << queue;
        }
        for q in (0..self.queues.len()).filter(|q| touched & (1 << q) != 0) {
            match self.queues[q].publish(&self.dma) {
                Ok(true) => self.queue_used(q),
                Ok(false) => {}
                Err(e) => return self.queue_failed(q, e),
            }
        }
        if let Some(t) = self.timing.as_mut() {
            t.run_timers(0);
        }
        self.run_deadlines();
    }

    pub fn timing_report(&self) -> Option<TimingReport> {
        self.timing.as_ref().map(|t| t.report())
    }
}
