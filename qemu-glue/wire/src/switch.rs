//! The built-in learning switch: joins any number of a process's ports on one
//! Ethernet segment, so several guests (VMQ tests with several VMs, a bridge of
//! three NICs) share it without a tap device or root.
//!
//! It behaves as an 802.1D bridge without spanning tree: it learns each source
//! MAC's port, forwards a unicast frame to the port that address was learned on
//! and floods broadcast, multicast and unknown unicast to every other port. A
//! frame is never sent back out of the port it came from. Like the two-port wire,
//! it never blocks a device: a port whose receive queue is full loses the frame,
//! and the sending port's `wire_tx_dropped` counts it (as it counts a runt too
//! short to carry addresses).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crossbeam_channel::{Sender, TrySendError};
use device_model::FrameSink;

use super::channel::WireCounters;
use super::Frame;

/// Addresses the switch remembers at most; past it the table starts over (frames
/// to forgotten addresses are flooded until they are learned again), so a peer
/// sending from random source addresses cannot grow it without bound.
pub const MAX_LEARNED: usize = 4096;

/// The switch's shared state: each port's receive queue and the learned addresses.
pub struct Switch {
    ports: Vec<Sender<Frame>>,
    learned: Mutex<HashMap<[u8; 6], usize>>,
}

impl Switch {
    /// A switch joining the ports whose receive queues are `ports`.
    pub fn new(ports: Vec<Sender<Frame>>) -> Arc<Self> {
        Arc::new(Self {
            ports,
            learned: Mutex::new(HashMap::new()),
        })
    }

    /// The sink port `index` transmits into; its losses count in `counters`.
    pub fn sink(self: &Arc<Self>, index: usize, counters: Arc<WireCounters>) -> SwitchPort {
        SwitchPort {
            switch: self.clone(),
            index,
            counters,
        }
    }

    /// Forwards `frame`, sent by port `from`; returns the frames lost (to full
    /// queues, or a runt with no addresses to switch on).
    fn forward(&self, from: usize, frame: &[u8]) -> u64 {
        if frame.len() < 14 {
            return 1;
        }
        let (dst, src) = (mac(&frame[0..6]), mac(&frame[6..12]));
        let out = {
            let mut learned = self.learned.lock().unwrap_or_else(|e| e.into_inner());
            // A multicast source is not an address anyone can be reached at.
            if src[0] & 1 == 0 {
                if learned.len() >= MAX_LEARNED && !learned.contains_key(&src) {
                    learned.clear();
                }
                learned.insert(src, from);
            }
            if dst[0] & 1 == 0 {
                learned.get(&dst).copied()
            } else {
                None
            }
        };
        let mut lost = 0;
        let mut send = |to: usize| {
            if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
                self.ports[to].try_send(frame.to_vec())
            {
                lost += 1;
            }
        };
        match out {
            // Learned on the sender's own port: the destination is behind it already.
            Some(to) if to == from => {}
            Some(to) => send(to),
            None => (0..self.ports.len()).filter(|&p| p != from).for_each(send),
        }
        lost
    }
}

fn mac(b: &[u8]) -> [u8; 6] {
    let mut m = [0u8; 6];
    m.copy_from_slice(&b[..6]);
    m
}

/// One port's connection to the switch.
pub struct SwitchPort {
    switch: Arc<Switch>,
    index: usize,
    counters: Arc<WireCounters>,
}

impl FrameSink for SwitchPort {
    fn transmit(&mut self, frame: &[u8]) {
        let lost = self.switch.forward(self.index, frame);
        if lost > 0 {
            self.counters
                .dropped
                .fetch_add(lost, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossbeam_channel::{bounded, Receiver};
    use std::sync::atomic::Ordering;

    fn frame(dst: [u8; 6], src: [u8; 6]) -> Vec<u8> {
        let mut f = dst.to_vec();
        f.extend(src);
        f.extend([0x08, 0x00]);
        f.resize(60, 0);
        f
    }

    fn addr(n: u8) -> [u8; 6] {
        [0x52, 0x54, 0, 0, 0, n]
    }

    fn rig(
        n: usize,
        depth: usize,
    ) -> (
        Vec<SwitchPort>,
        Vec<Receiver<Frame>>,
        Vec<Arc<WireCounters>>,
    ) {
        let (txs, rxs): (Vec<_>, Vec<_>) = (0..n).map(|_| bounded(depth)).unzip();
        let switch = Switch::new(txs);
        let counters: Vec<Arc<WireCounters>> = (0..n).map(|_| Arc::default()).collect();
        let sinks = (0..n)
            .map(|i| switch.sink(i, counters[i].clone()))
            .collect();
        (sinks, rxs, counters)
    }

    fn drained(rxs: &[Receiver<Frame>]) -> Vec<usize> {
        rxs.iter().map(|r| r.try_iter().count()).collect()
    }

    #[test]
    fn floods_until_it_learns_then_forwards_to_one_port() {
        let (mut sinks, rxs, counters) = rig(3, 16);
        // Unknown destination: everyone but the sender.
        sinks[0].transmit(&frame(addr(2), addr(1)));
        assert_eq!(drained(&rxs), vec![0, 1, 1]);
        // Port 1 answers: 1's address is learned, 0's was.
        sinks[1].transmit(&frame(addr(1), addr(2)));
        assert_eq!(drained(&rxs), vec![1, 0, 0]);
        sinks[0].transmit(&frame(addr(2), addr(1)));
        assert_eq!(drained(&rxs), vec![0, 1, 0]);
        // Broadcast floods, never back to the sender.
        sinks[2].transmit(&frame([0xff; 6], addr(3)));
        assert_eq!(drained(&rxs), vec![1, 1, 0]);
        // A frame for an address behind the sender's own port goes nowhere.
        sinks[2].transmit(&frame(addr(3), addr(4)));
        assert_eq!(drained(&rxs), vec![0, 0, 0]);
        // Runts are not forwarded, and count as lost.
        sinks[0].transmit(&[0u8; 10]);
        assert_eq!(drained(&rxs), vec![0, 0, 0]);
        assert_eq!(counters[0].dropped.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_full_queue_loses_the_frame_and_the_sender_counts_it() {
        let (mut sinks, rxs, counters) = rig(3, 2);
        for _ in 0..5 {
            sinks[0].transmit(&frame([0xff; 6], addr(1)));
        }
        assert_eq!(drained(&rxs), vec![0, 2, 2]);
        assert_eq!(counters[0].dropped.load(Ordering::Relaxed), 6);
        assert_eq!(counters[1].dropped.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn random_source_addresses_cannot_grow_the_table_without_bound() {
        let (mut sinks, rxs, _) = rig(2, 1);
        for i in 0..(3 * MAX_LEARNED as u32) {
            let b = i.to_be_bytes();
            sinks[0].transmit(&frame([0xff; 6], [0x02, 0, b[0], b[1], b[2], b[3]]));
            drained(&rxs);
        }
        let table = sinks[0].switch.learned.lock().unwrap().len();
        assert!(table <= MAX_LEARNED, "{table} addresses held");
        // Multicast sources are never learned.
        sinks[1].transmit(&frame(addr(9), [0x01, 0, 0x5e, 0, 0, 1]));
        assert!(!sinks[0]
            .switch
            .learned
            .lock()
            .unwrap()
            .contains_key(&[0x01, 0, 0x5e, 0, 0, 1]));
    }
}
