//! Discrete-event core: a virtual clock and a queue of timed events.
//!
//! Events fire in time order; events due at the same instant fire in the order
//! they were scheduled, so a run is a pure function of its inputs. In virtual mode
//! the caller jumps the clock from event to event ([`EventQueue::step`]); in paced
//! mode it waits in real time until [`EventQueue::next_deadline`] and then drains
//! [`EventQueue::pop_due`].

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::time::Picos;

/// Modelled time that only moves forward.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VirtualClock {
    now: Picos,
}

impl VirtualClock {
    pub fn now(&self) -> Picos {
        self.now
    }

    /// Moves the clock to `at`; a time in the past leaves it where it is.
    pub fn advance_to(&mut self, at: Picos) {
        self.now = self.now.max(at);
    }
}

struct Entry<E> {
    at: Picos,
    seq: u64,
    event: E,
}

impl<E> Entry<E> {
    fn key(&self) -> (Picos, u64) {
        (self.at, self.seq)
    }
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl<E> Eq for Entry<E> {}

impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<E> Ord for Entry<E> {
    /// Reversed, so that the max-heap yields the earliest (time, sequence) first.
    fn cmp(&self, other: &Self) -> Ordering {
        other.key().cmp(&self.key())
    }
}

/// Pending events ordered by (time, scheduling order).
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    next_seq: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            next_seq: 0,
        }
    }
}

impl<E> EventQueue<E> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Schedules `event` at `at`. An event in the past is due at once.
    pub fn schedule(&mut self, at: Picos, event: E) {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        self.heap.push(Entry { at, seq, event });
    }

    /// Time of the earliest pending event.
    pub fn next_deadline(&self) -> Option<Picos> {
        self.heap.peek().map(|e| e.at)
    }

    /// Removes and returns the earliest event if it is due at `now`.
    pub fn pop_due(&mut self, now: Picos) -> Option<(Picos, E)> {
        if self.next_deadline()? > now {
            return None;
        }
        self.heap.pop().map(|e| (e.at, e.event))
    }

    /// Virtual mode: advances `clock` to the earliest event and returns it. The
    /// returned time is the clock's, so an event scheduled in the past is handled
    /// "now", never back in time.
    pub fn step(&mut self, clock: &mut VirtualClock) -> Option<(Picos, E)> {
        let entry = self.heap.pop()?;
        clock.advance_to(entry.at);
        Some((clock.now(), entry.event))
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_time_order_with_fifo_ties() {
        let mut q = EventQueue::new();
        q.schedule(Picos(30), "c");
        q.schedule(Picos(10), "a1");
        q.schedule(Picos(20), "b");
        q.schedule(Picos(10), "a2");
        q.schedule(Picos(10), "a3");
        let mut clock = VirtualClock::default();
        let order: Vec<_> = std::iter::from_fn(|| q.step(&mut clock)).collect();
        assert_eq!(
            order,
            [
                (Picos(10), "a1"),
                (Picos(10), "a2"),
                (Picos(10), "a3"),
                (Picos(20), "b"),
                (Picos(30), "c")
            ]
        );
        assert_eq!(clock.now(), Picos(30));
    }

    #[test]
    fn pop_due_only_returns_events_at_or_before_now() {
        let mut q = EventQueue::new();
        assert_eq!(q.next_deadline(), None);
        assert_eq!(q.pop_due(Picos::MAX), None);
        q.schedule(Picos(5), 1);
        q.schedule(Picos(7), 2);
        assert_eq!(q.next_deadline(), Some(Picos(5)));
        assert_eq!(q.pop_due(Picos(4)), None);
        assert_eq!(q.pop_due(Picos(6)), Some((Picos(5), 1)));
        assert_eq!(q.pop_due(Picos(6)), None);
        assert_eq!(q.len(), 1);
        assert_eq!(q.pop_due(Picos(7)), Some((Picos(7), 2)));
        assert!(q.is_empty());
    }

    #[test]
    fn virtual_clock_never_goes_back() {
        let mut q = EventQueue::new();
        let mut clock = VirtualClock::default();
        q.schedule(Picos(100), 'x');
        assert_eq!(q.step(&mut clock), Some((Picos(100), 'x')));
        q.schedule(Picos(40), 'y');
        assert_eq!(q.step(&mut clock), Some((Picos(100), 'y')));
        clock.advance_to(Picos(50));
        assert_eq!(clock.now(), Picos(100));
    }

    #[test]
    fn same_schedule_gives_same_order() {
        let run = || {
            let mut q = EventQueue::new();
            for i in 0..1000_u64 {
                q.schedule(Picos((i * 7919) % 13), i);
            }
            let mut clock = VirtualClock::default();
            std::iter::from_fn(|| q.step(&mut clock)).collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        assert!(a
            .windows(2)
            .all(|w| w[0].0 < w[1].0 || (w[0].0 == w[1].0 && w[0].1 < w[1].1)));
    }
}
