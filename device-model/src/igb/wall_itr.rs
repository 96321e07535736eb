//! EITR with timing off: the same throttle the timing model runs
//! (`timing::Vectors`), on the wall clock. Each vector sends at most one message
//! per interval; a cause that arrives while its interval runs waits for the end
//! of it, a deadline the port's worker keeps (`Igb::next_deadline`). A driver's
//! `ethtool -C rx-usecs` therefore changes the interrupt rate it sees whatever
//! the timing mode, as on silicon.

use std::time::{Duration, Instant};

use offload_engines::cost::Picos;

use crate::timing::Vectors;

pub struct WallModeration {
    epoch: Instant,
    vectors: Vectors,
}

impl WallModeration {
    pub fn new(vectors: usize) -> Self {
        Self {
            epoch: Instant::now(),
            vectors: Vectors::new(vectors),
        }
    }

    fn now(&self, at: Instant) -> Picos {
        let ns = at.saturating_duration_since(self.epoch).as_nanos();
        Picos::from_ns(u64::try_from(ns).unwrap_or(u64::MAX / 1000))
    }

    /// Of the `pending` vectors, those whose interval allows a message now; the
    /// rest are held for the end of their interval.
    pub fn gate(&mut self, pending: u32, interval: impl Fn(usize) -> Picos) -> u32 {
        let now = self.now(Instant::now());
        self.vectors.gate(now, pending, interval)
    }

    /// When the next held cause may go out.
    pub fn deadline(&self) -> Option<Instant> {
        let at = self.vectors.next_timer()?;
        Some(self.epoch + Duration::from_nanos(at.as_ps() / 1000))
    }

    /// The intervals that ended by `now`: the vectors whose held cause is still
    /// `pending` and must send its message.
    pub fn due(&mut self, now: Instant, pending: u32) -> u32 {
        let now = self.now(now);
        self.vectors.due(now, pending)
    }

    pub fn reset(&mut self) {
        self.vectors.reset();
    }

    /// Messages sent.
    pub fn delivered(&mut self, vectors: u32) {
        self.vectors.delivered(vectors);
    }
}
