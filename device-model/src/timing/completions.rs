//! Paced mode: descriptor completions held until their packet's modelled completion.
//!
//! A NIC writes a Tx descriptor's status (DD) back, or a virtio device marks a chain
//! used, after the packet has left, so a driver that polls for completions, or waits
//! for the Tx interrupt, sees them at the speed of the link. In paced mode the device
//! stages each completion with the packet it completes, and once the batch is booked
//! through the model schedules it at that packet's `done` time. The port's receive
//! worker performs it when wall time gets there (see `Personality::run_timers`).

use offload_engines::cost::{EventQueue, Picos};

/// One status write-back into guest memory, and the Tx queue it completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteBack {
    pub queue: usize,
    pub addr: u64,
    /// The status dword, written little-endian.
    pub status: u32,
}

/// What a device does when a packet completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// Descriptor rings with status words (igb).
    Status(WriteBack),
    /// Virtqueues: chain `head` (`slots` ring slots) of virtqueue `queue` is used.
    Used { queue: usize, head: u16, slots: u16 },
}

#[derive(Default)]
pub struct Completions {
    /// Write-backs of this doorbell, each with the index (in the batch) of the last
    /// packet that had ended when its descriptor was processed; `None` if none had.
    staged: Vec<(Option<usize>, Completion)>,
    due: EventQueue<Completion>,
    /// The latest time scheduled so far, so that a write-back with no packet of its
    /// own does not overtake earlier ones.
    latest: Picos,
}

impl Completions {
    pub fn stage(&mut self, packet: Option<usize>, wb: Completion) {
        self.staged.push((packet, wb));
    }

    /// The batch's packets are booked and finish at `done[i]`; `now` is the model
    /// time of the doorbell. A write-back completes with its packet; one staged
    /// before any packet ended (a context descriptor, or a packet dropped for bad
    /// buffers) completes behind everything scheduled before it.
    pub fn schedule(&mut self, now: Picos, done: &[Picos]) {
        for (p, wb) in std::mem::take(&mut self.staged) {
            let at = match p.and_then(|p| done.get(p)) {
                Some(&at) => at,
                None => self.latest.max(now),
            };
            self.latest = self.latest.max(at);
            self.due.schedule(at, wb);
        }
    }

    pub fn next_deadline(&self) -> Option<Picos> {
        self.due.next_deadline()
    }

    /// The write-backs due at `now`, earliest first.
    pub fn take_due(&mut self, now: Picos) -> Vec<Completion> {
        std::iter::from_fn(|| self.due.pop_due(now).map(|(_, wb)| wb)).collect()
    }

    /// Device reset: in-flight completions are lost, as on hardware.
    pub fn clear(&mut self) {
        self.staged.clear();
        self.due = EventQueue::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wb(addr: u64) -> Completion {
        Completion::Status(WriteBack {
            queue: 0,
            addr,
            status: 1,
        })
    }

    #[test]
    fn write_backs_fall_due_at_their_packets_completion() {
        let mut c = Completions::default();
        c.stage(Some(0), wb(0x10));
        c.stage(Some(1), wb(0x20));
        c.schedule(Picos(5), &[Picos(100), Picos(200)]);
        assert_eq!(c.next_deadline(), Some(Picos(100)));
        assert!(c.take_due(Picos(99)).is_empty());
        assert_eq!(c.take_due(Picos(150)), vec![wb(0x10)]);
        // No packet of its own: behind what is already scheduled.
        c.stage(None, wb(0x30));
        c.schedule(Picos(160), &[]);
        assert_eq!(c.take_due(Picos(199)), vec![]);
        assert_eq!(c.take_due(Picos(250)), vec![wb(0x20), wb(0x30)]);
        assert_eq!(c.next_deadline(), None);
        // Later, with nothing in flight: due at the doorbell.
        c.stage(None, wb(0x40));
        c.schedule(Picos(300), &[]);
        assert_eq!(c.take_due(Picos(300)), vec![wb(0x40)]);
    }

    #[test]
    fn reset_drops_everything_in_flight() {
        let mut c = Completions::default();
        c.stage(Some(0), wb(0x10));
        c.schedule(Picos(0), &[Picos(100)]);
        c.stage(Some(0), wb(0x20));
        c.clear();
        c.schedule(Picos(0), &[Picos(1)]);
        assert!(c.take_due(Picos(1000)).is_empty());
    }
}
