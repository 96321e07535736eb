//! Plays a batch of packets through the cost model: every stage is booked on the
//! shared resources in time order, from the discrete-event queue.

use offload_engines::cost::{Breakdown, EventQueue, Picos, Resources, Stage, VirtualClock};

/// When one packet's work happened in model time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Booked {
    /// Ready to start (the doorbell or the frame's arrival).
    pub start: Picos,
    /// Its last bit left (Tx) or arrived from (Rx) the wire.
    pub wire_end: Picos,
    /// Its last stage (write-back or interrupt message) finished.
    pub done: Picos,
}

/// The port's shared resources, kept across batches so packets of consecutive
/// batches queue behind each other.
#[derive(Default)]
pub struct Schedule {
    resources: Resources,
    events: EventQueue<(usize, usize)>,
}

impl Schedule {
    pub fn resources(&self) -> &Resources {
        &self.resources
    }

    /// Runs `packets`, all ready at `start`, to completion. `before(t)` is called
    /// ahead of every event at model time t, so the caller can interleave its own
    /// timers (interrupt moderation) in time order.
    pub fn run(
        &mut self,
        start: Picos,
        packets: &[Breakdown],
        mut before: impl FnMut(Picos),
    ) -> Vec<Booked> {
        let mut booked = vec![
            Booked {
                start,
                wire_end: start,
                done: start,
            };
            packets.len()
        ];
        for p in 0..packets.len() {
            self.events.schedule(start, (p, 0));
        }
        let mut clock = VirtualClock::default();
        clock.advance_to(start);
        while let Some((now, (p, s))) = self.events.step(&mut clock) {
            before(now);
            let Some(stage) = packets[p].stages.get(s) else {
                booked[p].done = now;
                continue;
            };
            let done = self.resources.book(now, packets[p].direction, stage);
            if stage.stage == Stage::Wire {
                booked[p].wire_end = done;
            }
            self.events.schedule(done, (p, s + 1));
        }
        booked
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use offload_engines::cost::{LinkSpeed, Params, TxCost, TxShape};

    #[test]
    fn back_to_back_frames_leave_one_wire_time_apart() {
        let params = Params {
            speed: LinkSpeed::Gbps10,
            ..Params::default()
        };
        let b = TxCost::of(
            &params,
            &TxShape {
                descriptors: 1,
                write_backs: 1,
                bytes: 60,
                ..TxShape::default()
            },
        );
        let packets = vec![b; 200];
        let mut s = Schedule::default();
        let booked = s.run(Picos::ZERO, &packets, |_| {});
        let gaps: Vec<_> = booked
            .windows(2)
            .skip(50)
            .map(|w| w[1].wire_end - w[0].wire_end)
            .collect();
        assert!(gaps.iter().all(|&g| g == Picos(67_200)), "{gaps:?}");
        assert!(booked.iter().all(|b| b.done >= b.wire_end));
    }
}
