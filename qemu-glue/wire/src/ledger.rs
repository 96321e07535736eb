//! The case ledger: every port's counters, snapshotted at each case marker, so
//! that a conformance case's evidence is what the devices counted *during that
//! case* (a counter delta) rather than over the whole boot.
//!
//! A guest script brackets a case with `pcap=NAME` ... `pcap=off` marker frames
//! (see [`super::marker`]). The receiving port's worker hands each window name
//! to the ledger's thread, which locks every device in turn and records its
//! counters. The worker never waits on the ledger (a full channel drops the mark,
//! and the ledger counts it), and the ledger never holds two device locks.
//!
//! Only ports with test hooks feed a ledger; `tunic serve` has none.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};

/// Marks that may wait for the ledger thread.
const PENDING_MARKS: usize = 64;
/// Snapshots kept; a guest that sends more marks than this gets no more.
const MAX_SNAPSHOTS: usize = 4096;

/// Numeric counters of one device, by name (nested maps are left out).
pub type Counters = BTreeMap<String, u64>;

/// Reads one port's counters; what the ledger snapshots at each mark.
pub type CounterSource = Box<dyn Fn() -> Counters + Send>;

/// What every device had counted when the window `window` opened.
#[derive(Debug, Clone)]
struct Snapshot {
    window: String,
    ports: Vec<Counters>,
}

/// Counter deltas per window: for each port, `counter -> increase`.
pub type WindowDeltas = BTreeMap<String, Vec<Counters>>;

pub struct CaseLedger {
    marks: Sender<String>,
    pending: Receiver<String>,
    snapshots: Arc<Mutex<Vec<Snapshot>>>,
    devices: Arc<Mutex<Vec<CounterSource>>>,
    /// Marks lost to a full channel or a full ledger.
    pub dropped: Arc<AtomicU64>,
}

impl Default for CaseLedger {
    fn default() -> Self {
        let (marks, pending) = crossbeam_channel::bounded(PENDING_MARKS);
        Self {
            marks,
            pending,
            snapshots: Arc::default(),
            devices: Arc::default(),
            dropped: Arc::default(),
        }
    }
}

/// The handle a port's receive worker reports window marks through.
#[derive(Clone)]
pub struct MarkSender {
    marks: Sender<String>,
    dropped: Arc<AtomicU64>,
}

impl MarkSender {
    /// Never blocks: a mark the ledger cannot take is counted as dropped.
    pub fn mark(&self, window: &str) {
        if self.marks.try_send(window.to_string()).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl CaseLedger {
    pub fn sender(&self) -> MarkSender {
        MarkSender {
            marks: self.marks.clone(),
            dropped: self.dropped.clone(),
        }
    }

    /// Starts recording the ports' counters (`devices`, in port order) until
    /// `stop` is set.
    pub fn start(&self, devices: Vec<CounterSource>, stop: Arc<AtomicBool>) -> std::io::Result<()> {
        *self.devices.lock().unwrap_or_else(|e| e.into_inner()) = devices;
        let pending = self.pending.clone();
        let snapshots = self.snapshots.clone();
        let devices = self.devices.clone();
        let dropped = self.dropped.clone();
        std::thread::Builder::new()
            .name("tunic-ledger".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let Ok(window) = pending.recv_timeout(Duration::from_millis(200)) else {
                        continue;
                    };
                    let ports = snapshot(&devices);
                    let mut s = snapshots.lock().unwrap_or_else(|e| e.into_inner());
                    if s.len() < MAX_SNAPSHOTS {
                        s.push(Snapshot { window, ports });
                    } else {
                        dropped.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })?;
        Ok(())
    }

    /// Each window's counter increases, from its mark to the next one (or to now,
    /// for the last). A window opened twice adds up both stretches.
    pub fn deltas(&self) -> WindowDeltas {
        // Marks still queued are taken first, so a case just ended is not lost.
        let mut s = self
            .snapshots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        while let Ok(window) = self.pending.try_recv() {
            s.push(Snapshot {
                window,
                ports: snapshot(&self.devices),
            });
        }
        s.push(Snapshot {
            window: "off".into(),
            ports: snapshot(&self.devices),
        });
        window_deltas(&s)
    }
}

fn snapshot(devices: &Mutex<Vec<CounterSource>>) -> Vec<Counters> {
    let devices = devices.lock().unwrap_or_else(|e| e.into_inner());
    devices.iter().map(|read| read()).collect()
}

fn window_deltas(s: &[Snapshot]) -> WindowDeltas {
    let mut out = WindowDeltas::new();
    for pair in s.windows(2) {
        let (open, close) = (&pair[0], &pair[1]);
        if open.window == "off" {
            continue;
        }
        let entry = out
            .entry(open.window.clone())
            .or_insert_with(|| vec![Counters::new(); open.ports.len()]);
        for (port, (a, b)) in open.ports.iter().zip(&close.ports).enumerate() {
            for (k, after) in b {
                let d = after.saturating_sub(a.get(k).copied().unwrap_or(0));
                if let Some(slot) = entry.get_mut(port) {
                    *slot.entry(k.clone()).or_default() += d;
                }
            }
        }
    }
    out
}

/// One port's increase of the sum of `names` in a window (0 when absent).
pub fn delta_of(deltas: &WindowDeltas, window: &str, port: usize, names: &[&str]) -> Option<u64> {
    let c = deltas.get(window)?.get(port)?;
    Some(names.iter().map(|n| c.get(*n).copied().unwrap_or(0)).sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(window: &str, tso: u64) -> Snapshot {
        Snapshot {
            window: window.into(),
            ports: vec![Counters::from([("tso_packets".to_string(), tso)])],
        }
    }

    #[test]
    fn a_window_gets_what_was_counted_until_the_next_mark() {
        let s = [
            snap("a", 5),
            snap("off", 9),
            snap("b", 9),
            snap("c", 9),
            snap("a", 10),
            snap("off", 11),
        ];
        let d = window_deltas(&s);
        assert_eq!(delta_of(&d, "a", 0, &["tso_packets"]), Some(5));
        assert_eq!(delta_of(&d, "b", 0, &["tso_packets"]), Some(0));
        assert_eq!(delta_of(&d, "c", 0, &["tso_packets"]), Some(1));
        assert_eq!(delta_of(&d, "off", 0, &["tso_packets"]), None);
        assert_eq!(delta_of(&d, "a", 1, &["tso_packets"]), None);
    }

    #[test]
    fn marks_past_the_channel_are_counted_not_waited_for() {
        let l = CaseLedger::default();
        let s = l.sender();
        for _ in 0..PENDING_MARKS + 3 {
            s.mark("x");
        }
        assert_eq!(l.dropped.load(Ordering::Relaxed), 3);
    }
}
