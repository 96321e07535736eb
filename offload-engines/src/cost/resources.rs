//! Contention: packets queue for the link, the engines and the wire.
//!
//! Each resource serves the stages that need it one after another, in the order
//! they ask. Callers must book in time order (drive this from the event queue), so
//! a resource is never reserved ahead of a stage that is ready earlier.

use super::breakdown::{Direction, Resource, StageCost};
use super::time::Picos;

/// When each resource is next free, and how long it has been busy in total.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    free_at: [Picos; 6],
    busy: [Picos; 6],
}

fn index(resource: Resource) -> usize {
    match resource {
        Resource::PcieUp => 0,
        Resource::PcieDown => 1,
        Resource::TxEngine => 2,
        Resource::RxEngine => 3,
        Resource::TxWire => 4,
        Resource::RxWire => 5,
    }
}

impl Resources {
    pub fn new() -> Resources {
        Resources::default()
    }

    /// Runs `stage` of a packet going `direction`, ready at `at`: each resource it
    /// uses serves it as soon as it is free. Returns when the stage is done, which
    /// is never before `at` plus the stage's unloaded latency.
    pub fn book(&mut self, at: Picos, direction: Direction, stage: &StageCost) -> Picos {
        let mut done = at + stage.latency;
        for (resource, busy) in stage.busy.per_resource(direction) {
            if busy == Picos::ZERO {
                continue;
            }
            let i = index(resource);
            let end = self.free_at[i].max(at) + busy;
            self.free_at[i] = end;
            self.busy[i] += busy;
            done = done.max(end);
        }
        done
    }

    /// When `resource` finishes the work booked so far.
    pub fn free_at(&self, resource: Resource) -> Picos {
        self.free_at[index(resource)]
    }

    /// Total time `resource` has been booked: divided by elapsed time, its
    /// utilization.
    pub fn busy(&self, resource: Resource) -> Picos {
        self.busy[index(resource)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::breakdown::{Busy, Stage};

    fn wire(ps: u64) -> StageCost {
        StageCost {
            stage: Stage::Wire,
            latency: Picos(ps),
            busy: Busy {
                wire: Picos(ps),
                ..Busy::default()
            },
            tlps: 0,
        }
    }

    #[test]
    fn second_frame_waits_for_the_wire_and_directions_are_independent() {
        let mut r = Resources::new();
        assert_eq!(r.book(Picos(0), Direction::Tx, &wire(100)), Picos(100));
        assert_eq!(r.book(Picos(10), Direction::Tx, &wire(100)), Picos(200));
        assert_eq!(r.book(Picos(10), Direction::Rx, &wire(100)), Picos(110));
        assert_eq!(r.busy(Resource::TxWire), Picos(200));
        assert_eq!(r.free_at(Resource::RxWire), Picos(110));
    }

    #[test]
    fn round_trip_latency_does_not_hold_the_link() {
        let read = StageCost {
            stage: Stage::PayloadRead,
            latency: Picos(1000),
            busy: Busy {
                pcie_down: Picos(100),
                ..Busy::default()
            },
            tlps: 2,
        };
        let mut r = Resources::new();
        assert_eq!(r.book(Picos(0), Direction::Tx, &read), Picos(1000));
        assert_eq!(r.book(Picos(0), Direction::Tx, &read), Picos(1000));
        assert_eq!(r.free_at(Resource::PcieDown), Picos(200));
    }
}
