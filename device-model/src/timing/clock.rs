//! Model time: a virtual clock, or wall time since the port's epoch.

use std::time::Instant;

use offload_engines::cost::{Picos, VirtualClock};

pub enum ModelClock {
    Virtual(VirtualClock),
    Wall(Instant),
}

impl ModelClock {
    pub fn now(&self) -> Picos {
        match self {
            ModelClock::Virtual(c) => c.now(),
            ModelClock::Wall(epoch) => {
                Picos(u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX / 1000) * 1000)
            }
        }
    }

    /// Virtual time moves to `at` (never back); wall time moves by itself.
    pub fn advance_to(&mut self, at: Picos) {
        if let ModelClock::Virtual(c) = self {
            c.advance_to(at);
        }
    }

    pub fn is_virtual(&self) -> bool {
        matches!(self, ModelClock::Virtual(_))
    }
}
