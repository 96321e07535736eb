//! Per-queue accounting of modelled work, and the report `tunic stats` prints.

use offload_engines::cost::{Breakdown, Picos, Resource, Resources};
use serde::Serialize;

use super::schedule::Booked;
use super::TimingMode;

#[derive(Debug, Default, Clone)]
struct QueueBook {
    tx_packets: u64,
    tx_frames: u64,
    tx_bytes: u64,
    /// Time with at least one of the queue's Tx packets in the device.
    tx_busy: Picos,
    tx_last: Picos,
    rx_frames: u64,
    rx_bytes: u64,
    rx_busy: Picos,
    rx_last: Picos,
    pcie_up: Picos,
    pcie_down: Picos,
    wire: Picos,
    causes: u64,
}

/// Adds the part of [start, done] not already covered by work ending at `last`.
fn add_busy(busy: &mut Picos, last: &mut Picos, start: Picos, done: Picos) {
    let from = start.max(*last);
    if done > from {
        *busy += done - from;
    }
    *last = (*last).max(done);
}

pub struct Ledger {
    queues: Vec<QueueBook>,
    /// Times a Tx queue stopped because the Tx packet buffer was full.
    pub tx_stalls: u64,
}

impl Ledger {
    pub fn new(queues: usize) -> Ledger {
        Ledger {
            queues: vec![QueueBook::default(); queues],
            tx_stalls: 0,
        }
    }

    fn book(&mut self, q: usize, b: &Breakdown) -> Option<&mut QueueBook> {
        let book = self.queues.get_mut(q)?;
        let busy = b.busy();
        book.pcie_up += busy.pcie_up;
        book.pcie_down += busy.pcie_down;
        book.wire += busy.wire;
        Some(book)
    }

    pub fn tx(&mut self, q: usize, frames: u64, bytes: u64, b: &Breakdown, at: &Booked) {
        if let Some(book) = self.book(q, b) {
            book.tx_packets += 1;
            book.tx_frames += frames;
            book.tx_bytes += bytes;
            add_busy(&mut book.tx_busy, &mut book.tx_last, at.start, at.done);
        }
    }

    pub fn rx(&mut self, q: usize, bytes: u64, b: &Breakdown, at: &Booked) {
        if let Some(book) = self.book(q, b) {
            book.rx_frames += 1;
            book.rx_bytes += bytes;
            add_busy(&mut book.rx_busy, &mut book.rx_last, at.start, at.done);
        }
    }

    /// An interrupt cause of queue `q` (Tx or Rx) was raised.
    pub fn cause(&mut self, q: usize) {
        if let Some(book) = self.queues.get_mut(q) {
            book.causes += 1;
        }
    }

    pub fn queues(&self, elapsed: Picos) -> Vec<QueueReport> {
        let share = |t: Picos| ratio(t, elapsed);
        self.queues
            .iter()
            .enumerate()
            .filter(|(_, b)| b.tx_packets + b.rx_frames + b.causes > 0)
            .map(|(queue, b)| QueueReport {
                queue,
                tx_packets: b.tx_packets,
                tx_frames: b.tx_frames,
                tx_bytes: b.tx_bytes,
                tx_busy_ps: b.tx_busy.as_ps(),
                rx_frames: b.rx_frames,
                rx_bytes: b.rx_bytes,
                rx_busy_ps: b.rx_busy.as_ps(),
                pcie_up_busy_ps: b.pcie_up.as_ps(),
                pcie_down_busy_ps: b.pcie_down.as_ps(),
                wire_busy_ps: b.wire.as_ps(),
                pcie_utilisation: share(b.pcie_up.max(b.pcie_down)),
                wire_utilisation: share(b.wire),
                interrupt_causes: b.causes,
            })
            .collect()
    }
}

fn ratio(part: Picos, whole: Picos) -> f64 {
    if whole == Picos::ZERO {
        0.0
    } else {
        part.as_ps() as f64 / whole.as_ps() as f64
    }
}

/// Share of model time each shared resource was busy.
#[derive(Debug, Clone, Serialize)]
pub struct Utilisation {
    pub pcie_up: f64,
    pub pcie_down: f64,
    pub tx_engine: f64,
    pub rx_engine: f64,
    pub tx_wire: f64,
    pub rx_wire: f64,
}

impl Utilisation {
    pub fn of(resources: &Resources, elapsed: Picos) -> Utilisation {
        let u = |r| ratio(resources.busy(r), elapsed);
        Utilisation {
            pcie_up: u(Resource::PcieUp),
            pcie_down: u(Resource::PcieDown),
            tx_engine: u(Resource::TxEngine),
            rx_engine: u(Resource::RxEngine),
            tx_wire: u(Resource::TxWire),
            rx_wire: u(Resource::RxWire),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct QueueReport {
    pub queue: usize,
    pub tx_packets: u64,
    pub tx_frames: u64,
    pub tx_bytes: u64,
    pub tx_busy_ps: u64,
    pub rx_frames: u64,
    pub rx_bytes: u64,
    pub rx_busy_ps: u64,
    pub pcie_up_busy_ps: u64,
    pub pcie_down_busy_ps: u64,
    pub wire_busy_ps: u64,
    /// The busier PCIe direction's share of model time taken by this queue.
    pub pcie_utilisation: f64,
    /// Share of model time this queue's frames kept the wire busy.
    pub wire_utilisation: f64,
    pub interrupt_causes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct VectorReport {
    pub vector: usize,
    /// MSI-X messages sent.
    pub raised: u64,
    /// Interrupts held back by EITR until the vector's interval ran out.
    pub moderated: u64,
    pub eitr_interval_us: u64,
}

/// What a timed port reports in its counters (`timing` key).
#[derive(Debug, Clone, Serialize)]
pub struct TimingReport {
    pub mode: TimingMode,
    pub link_speed_bps: u64,
    pub pcie: String,
    /// Model time now: the span the utilisations are shares of.
    pub model_time_ps: u64,
    pub utilisation: Utilisation,
    /// Paced mode: bytes waiting for the wire.
    pub tx_backlog_bytes: u64,
    pub tx_stalls: u64,
    pub queues: Vec<QueueReport>,
    pub vectors: Vec<VectorReport>,
}
