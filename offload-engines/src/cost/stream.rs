//! Steady-state throughput of a stream of identical packets, by running them
//! through the event queue and the shared resources.

use super::breakdown::Breakdown;
use super::events::{EventQueue, VirtualClock};
use super::resources::Resources;
use super::time::{Picos, PS_PER_SEC};

/// Packets finished over a span of virtual time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub packets: u64,
    pub span: Picos,
}

impl Rate {
    pub fn per_second(&self) -> f64 {
        if self.span == Picos::ZERO {
            return f64::INFINITY;
        }
        self.packets as f64 * PS_PER_SEC as f64 / self.span.as_ps() as f64
    }
}

#[derive(Debug, Clone, Copy)]
struct Next {
    packet: u64,
    stage: usize,
}

/// Sends `packets` copies of the packet `breakdown` describes, keeping up to
/// `in_flight` started and unfinished (the descriptors a driver keeps queued),
/// and measures the rate at which they finish in steady state: from the middle of
/// the run, once the pipeline has filled, to the last packet that still had
/// `in_flight` packets behind it, before the final drain.
///
/// To reach the bottleneck's rate `in_flight` must cover the packet's latency
/// (Little's law: latency / bottleneck time per packet), and `packets` should be
/// many times `in_flight`.
pub fn steady_rate(breakdown: &Breakdown, packets: u64, in_flight: u64) -> Rate {
    let in_flight = in_flight.max(1);
    let mut queue = EventQueue::new();
    let mut clock = VirtualClock::default();
    let mut resources = Resources::new();
    let mut started = 0;
    while started < packets.min(in_flight) {
        queue.schedule(
            Picos::ZERO,
            Next {
                packet: started,
                stage: 0,
            },
        );
        started += 1;
    }
    let from = packets / 2;
    let to = packets.saturating_sub(in_flight).max(from + 1);
    let (mut finished, mut from_at, mut to_at) = (0_u64, Picos::ZERO, Picos::ZERO);
    while let Some((now, next)) = queue.step(&mut clock) {
        let Some(stage) = breakdown.stages.get(next.stage) else {
            finished += 1;
            if finished == from {
                from_at = now;
            }
            if finished <= to {
                to_at = now;
            }
            if started < packets {
                queue.schedule(
                    now,
                    Next {
                        packet: started,
                        stage: 0,
                    },
                );
                started += 1;
            }
            continue;
        };
        let done = resources.book(now, breakdown.direction, stage);
        queue.schedule(
            done,
            Next {
                packet: next.packet,
                stage: next.stage + 1,
            },
        );
    }
    Rate {
        packets: finished.min(to).saturating_sub(from),
        span: to_at - from_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::breakdown::{TxCost, TxShape};
    use crate::cost::Params;

    #[test]
    fn one_packet_in_flight_runs_at_its_latency() {
        let b = TxCost::of(
            &Params::default(),
            &TxShape {
                descriptors: 1,
                write_backs: 1,
                bytes: 1514,
                ..TxShape::default()
            },
        );
        let rate = steady_rate(&b, 100, 1);
        assert_eq!(rate.packets, 49);
        assert_eq!(rate.span, b.total().saturating_mul(49));
    }

    #[test]
    fn empty_stream_does_not_divide_by_zero() {
        let b = Breakdown {
            direction: crate::cost::Direction::Tx,
            stages: Vec::new(),
        };
        assert_eq!(steady_rate(&b, 0, 0).packets, 0);
        assert!(steady_rate(&b, 10, 4).per_second().is_infinite());
        assert!(steady_rate(&b, 1, 4).per_second().is_infinite());
    }
}
