//! EITR interrupt moderation of every MSI-X vector, with its timers.
//!
//! A vector whose throttle is running holds its cause; the timer the throttle
//! armed fires it. In virtual mode timers fire when the model clock passes them
//! during the device's work; in paced mode when wall time reaches them.

use offload_engines::cost::{EventQueue, Moderation, Picos};

pub struct Vectors {
    throttle: Vec<Moderation>,
    /// Vectors with a cause held for their timer.
    held: u32,
    timers: EventQueue<usize>,
    raised: Vec<u64>,
    moderated: Vec<u64>,
}

impl Vectors {
    pub fn new(count: usize) -> Vectors {
        Vectors {
            throttle: vec![Moderation::new(Picos::ZERO); count],
            held: 0,
            timers: EventQueue::new(),
            raised: vec![0; count],
            moderated: vec![0; count],
        }
    }

    /// Back to power-on: counters at zero, nothing held. Totals are kept.
    pub fn reset(&mut self) {
        self.throttle.fill(Moderation::new(Picos::ZERO));
        self.held = 0;
        self.timers = EventQueue::new();
    }

    /// `pending` vectors have a cause at `now`: returns those that may send their
    /// message now; the others are held for their timers.
    pub fn gate(&mut self, now: Picos, pending: u32, interval: impl Fn(usize) -> Picos) -> u32 {
        let mut fire = 0;
        for v in (0..self.throttle.len()).filter(|v| pending & (1 << v) != 0) {
            self.throttle[v].set_interval(interval(v));
            let step = self.throttle[v].on_cause(now);
            if let Some(at) = step.arm {
                self.timers.schedule(at, v);
            }
            if step.fire {
                fire |= 1 << v;
                self.held &= !(1 << v);
            } else if self.held & (1 << v) == 0 {
                self.held |= 1 << v;
                self.moderated[v] += 1;
            }
        }
        fire
    }

    /// Fires the timers due at `now`; returns the vectors whose held cause is still
    /// `pending` and must send its message.
    pub fn due(&mut self, now: Picos, pending: u32) -> u32 {
        let mut fire = 0;
        while let Some((at, v)) = self.timers.pop_due(now) {
            let step = self.throttle[v].on_timer(at);
            if let Some(next) = step.arm {
                self.timers.schedule(next, v);
            }
            if step.fire {
                self.held &= !(1 << v);
                if pending & (1 << v) != 0 {
                    fire |= 1 << v;
                }
            }
        }
        fire
    }

    pub fn next_timer(&self) -> Option<Picos> {
        self.timers.next_deadline()
    }

    /// Messages sent for `vectors`.
    pub fn delivered(&mut self, vectors: u32) {
        for (v, n) in self.raised.iter_mut().enumerate() {
            if vectors & (1 << v) != 0 {
                *n += 1;
            }
        }
    }

    /// (raised, moderated, interval) per vector.
    pub fn report(&self) -> impl Iterator<Item = (usize, u64, u64, Picos)> + '_ {
        (0..self.throttle.len()).map(|v| {
            (
                v,
                self.raised[v],
                self.moderated[v],
                self.throttle[v].interval(),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_cause_fires_at_its_timer_if_still_pending() {
        let mut v = Vectors::new(2);
        let us = Picos::from_us;
        let ivl = |_| us(10);
        assert_eq!(v.gate(us(0), 0b10, ivl), 0b10);
        assert_eq!(v.gate(us(1), 0b10, ivl), 0);
        assert_eq!(v.gate(us(2), 0b10, ivl), 0, "already held");
        assert_eq!(v.next_timer(), Some(us(10)));
        assert_eq!(v.due(us(9), 0b10), 0);
        assert_eq!(v.due(us(10), 0b10), 0b10);
        assert_eq!(v.report().nth(1).map(|r| r.2), Some(1));
    }
}
