//! The igb device's side of the timing model: what each Tx packet and Rx frame
//! cost, EITR moderation of its MSI-X vectors, and Tx back-pressure.
//!
//! Every method here is reached only when timing is on (`self.timing` is `Some`);
//! with timing off the data paths never call into the model.

use offload_engines::cost::{eitr_interval, Picos, RxShape, TxShape};

use super::interrupts::Cause;
use super::regs::*;
use super::Igb;
use crate::timing::Completion;
use crate::timing::TimingReport;

impl Igb {
    /// Sends the MSI-X messages of `vectors` and does the interrupt bookkeeping.
    pub(super) fn send_vectors(&mut self, vectors: u32) {
        if vectors == 0 {
            return;
        }
        for v in 0..u32::from(MSIX_VECTORS) {
            if vectors & (1 << v) != 0 && !self.irq.msix(v as u16) {
                self.counters.irq_unrouted += 1;
            }
        }
        self.intr.delivered(vectors);
        if let Some(t) = self.timing.as_mut() {
            t.vectors.delivered(vectors);
        }
        if let Some(m) = self.wall_itr.as_mut() {
            m.delivered(vectors);
        }
    }

    /// EITR: of the `pending` vectors, those whose interval allows a message now.
    pub(super) fn moderate(&mut self, pending: u32) -> u32 {
        let eitr: [u32; MSIX_VECTORS as usize] =
            std::array::from_fn(|v| self.get(EITR0 + 4 * v as u32));
        let interval = |v: usize| eitr_interval(eitr[v]);
        if let Some(t) = self.timing.as_mut() {
            return t.gate(pending, interval);
        }
        let Some(m) = self.wall_itr.as_mut() else {
            return pending;
        };
        let before = m.deadline();
        let fire = m.gate(pending, interval);
        // A held cause is a new deadline for the worker to keep.
        if m.deadline().is_some_and(|d| before.is_none_or(|b| d < b)) {
            if let Some(w) = &self.wake {
                w();
            }
        }
        fire
    }

    /// Moderation timers fired for `vectors`: send those still pending.
    fn fire_timers(&mut self, vectors: u32) {
        if self.intr.msix_mode() {
            self.send_vectors(vectors & self.intr.pending_vectors());
        }
    }

    /// Queue `q` fetched a Tx descriptor; `report` if it asks for a write-back (RS).
    pub(super) fn timed_fetch(&mut self, q: usize, report: bool) {
        if let Some(t) = self.timing.as_mut() {
            t.fetched(q, report);
        }
    }

    /// Queue `q` finished a Tx packet of `shape` (descriptor counts are the model's).
    pub(super) fn timed_packet(&mut self, q: usize, shape: TxShape) {
        if let Some(t) = self.timing.as_mut() {
            t.end_packet(q, shape);
        }
    }

    /// Before fetching the next descriptor of queue `q`: whether the Tx packet
    /// buffer is full (paced mode). Only at packet boundaries: a packet is never
    /// left half fetched.
    pub(super) fn tx_must_stop(&mut self, q: usize) -> bool {
        if self.txq[q].packet.first.is_some() {
            return false;
        }
        self.timing.as_mut().is_some_and(|t| t.must_stop(q))
    }

    /// The frames of this doorbell leave with their modelled departure times.
    pub(super) fn flush_timed_tx(&mut self) {
        let Some(t) = self.timing.as_mut() else {
            return;
        };
        let pending = self.intr.pending_vectors();
        let wire = &mut self.wire;
        let fired = t.run_tx(pending, |frame, at| wire.transmit_at(frame, at));
        self.fire_timers(fired);
    }

    /// Queue `q` received a frame of `bytes` into `descriptors` descriptors.
    pub(super) fn timed_rx(&mut self, q: usize, bytes: usize, descriptors: u32) {
        let checksum = self.get(RXCSUM) & (RXCSUM_IPOFLD | RXCSUM_TUOFLD) != 0;
        let Some(t) = self.timing.as_mut() else {
            return;
        };
        let shape = RxShape {
            descriptors,
            write_backs: descriptors,
            bytes: bytes as u64,
            checksum,
            interrupt: true,
        };
        let pending = self.intr.pending_vectors();
        let fired = t.run_rx(q, &shape, pending);
        self.fire_timers(fired);
    }

    /// The Tx packet buffer drained: queues stopped by it go on.
    pub fn resume_tx(&mut self) {
        let stalled = self.timing.as_mut().map_or(0, |t| t.take_stalled())
            | std::mem::take(&mut self.fc.stalled);
        for q in (0..QUEUES).filter(|q| stalled & (1 << q) != 0) {
            self.tx_process(q);
        }
    }

    /// Model time now; `None` with timing off.
    pub fn model_time(&self) -> Option<Picos> {
        self.timing.as_ref().map(|t| t.now())
    }

    /// When the next EITR timer is due, in model time.
    pub fn next_timer(&self) -> Option<Picos> {
        self.timing.as_ref().and_then(|t| t.next_timer())
    }

    /// Performs the Tx write-backs that are due (paced mode) and fires the EITR
    /// timers that are due (virtual mode: the next one).
    pub fn run_timers(&mut self) {
        let due = self
            .timing
            .as_mut()
            .map(|t| t.take_due())
            .unwrap_or_default();
        let mut completed = 0u32;
        for c in due {
            if let Completion::Status(wb) = c {
                if self.write_back(wb) {
                    completed |= 1 << wb.queue;
                }
            }
        }
        for q in (0..QUEUES).filter(|q| completed & (1 << q) != 0) {
            self.post(Cause::TxQueue(q));
        }
        let pending = self.intr.pending_vectors();
        let fired = self.timing.as_mut().map_or(0, |t| t.run_timers(pending));
        self.fire_timers(fired);
    }

    pub fn timing_report(&self) -> Option<TimingReport> {
        self.timing.as_ref().map(|t| t.report())
    }
}
