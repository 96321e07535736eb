//! Receive: a frame from the wire passes the receive filter, is steered to a queue
//! pair (RSS), and goes with its `virtio_net_hdr` (hash report included when
//! negotiated) into the buffers the driver offered on that pair's receive queue,
//! spread over several with mergeable buffers.

use std::collections::VecDeque;

use offload_engines::rxcsum;
use virtio_bindings::virtio_net::{
    VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_HASH_REPORT, VIRTIO_NET_F_MRG_RXBUF,
    VIRTIO_NET_HDR_F_DATA_VALID,
};
use virtio_bindings::virtio_ring::VIRTIO_RING_F_INDIRECT_DESC;

use super::net_hdr::NetHdr;
use super::queue::{Chain, QueueError};
use super::steering::Decision;
use super::VirtioNet;

/// Frames held per queue while the driver offers no buffers, like a NIC's receive FIFO.
const RX_BACKLOG_BYTES: usize = 64 * 1024;
const ETH_HEADER: usize = 14;

/// What became of one frame.
enum Delivery {
    Delivered,
    /// Not enough buffers yet: the frame waits for the driver to add some.
    NoBuffers,
    Dropped,
}

impl VirtioNet {
    /// A frame from the wire (no FCS).
    pub fn receive(&mut self, frame: &[u8]) {
        if !self.live() || !self.link_up {
            self.counters.rx_not_ready_drops += 1;
            return;
        }
        if frame.len() < ETH_HEADER {
            self.counters.rx_runt_drops += 1;
            return;
        }
        if let Err(why) = self.filter.check(frame, &self.mac) {
            self.counters.rx_filtered += 1;
            tracing::trace!(?why, "virtio-net receive filter dropped a frame");
            return;
        }
        let decision = self.steering.decide(frame, self.active_pairs);
        let pair = usize::from(decision.pair);
        if !self.queues.get(2 * pair).is_some_and(|q| q.enabled) {
            self.counters.rx_not_ready_drops += 1;
            return;
        }
        // Frames already waiting go first, so order is kept.
        if self.rx_backlog[pair].is_empty() {
            match self.deliver(pair, frame, decision) {
                Ok(Delivery::NoBuffers) => {}
                Ok(_) => return,
                Err(e) => return self.queue_failed(2 * pair, e),
            }
        }
        if self.rx_backlog_bytes[pair] + frame.len() > RX_BACKLOG_BYTES {
            self.counters.rx_backlog_drops += 1;
            return;
        }
        self.rx_backlog_bytes[pair] += frame.len();
        self.rx_backlog[pair].push_back(frame.to_vec());
    }

    /// Delivers frames waiting for pair `pair` while the driver has buffers for them.
    pub(super) fn drain_rx_backlog(&mut self, pair: usize) {
        while let Some(frame) = self.rx_backlog.get_mut(pair).and_then(VecDeque::pop_front) {
            let decision = self.steering.decide(&frame, self.active_pairs);
            match self.deliver(pair, &frame, decision) {
                Ok(Delivery::NoBuffers) => {
                    self.rx_backlog[pair].push_front(frame);
                    return;
                }
                Ok(_) => self.rx_backlog_bytes[pair] -= frame.len(),
                Err(e) => {
                    self.rx_backlog_bytes[pair] -= frame.len();
                    return self.queue_failed(2 * pair, e);
                }
            }
        }
    }

    /// The header for `frame`: DATA_VALID when tunic checked its checksums and every
    /// one it could check was good, as a NIC with receive checksum offload reports it.
    fn rx_header(&mut self, frame: &[u8], buffers: u16, decision: Decision) -> NetHdr {
        let mut hdr = NetHdr {
            num_buffers: buffers,
            ..NetHdr::default()
        };
        if self.features.has(VIRTIO_NET_F_HASH_REPORT) {
            (hdr.hash_value, hdr.hash_report) = decision.report;
        }
        // Negotiated, and not switched off since (`ethtool -K rx off`, or XDP attaching).
        if self.features.guest_offload(VIRTIO_NET_F_GUEST_CSUM) {
            // Nothing verified when the headers did not parse: no DATA_VALID.
            let v = decision
                .parsed
                .map_or_else(Default::default, |p| rxcsum::validate_parsed(frame, &p));
            let l4_good = matches!(v.l4_ok(), Some((_, true)));
            if l4_good && v.ip_ok() != Some(false) && v.gre != Some(false) {
                hdr.flags |= VIRTIO_NET_HDR_F_DATA_VALID as u8;
                self.counters.rx_data_valid += 1;
            }
        }
        hdr
    }

    fn deliver(
        &mut self,
        pair: usize,
        frame: &[u8],
        decision: Decision,
    ) -> Result<Delivery, QueueError> {
        let q = 2 * pair;
        let mergeable = self.features.has(VIRTIO_NET_F_MRG_RXBUF);
        let indirect = self.features.has(VIRTIO_RING_F_INDIRECT_DESC);
        let hdr_len = self.hdr_len();
        let total = hdr_len + frame.len();
        let mark = self.queues[q].avail_mark();
        let mut chains: Vec<Chain> = Vec::new();
        let mut room = 0usize;
        while room < total {
            match self.queues[q].pop(&self.dma, indirect)? {
                Some(c) => {
                    room = room.saturating_add(c.writable.len());
                    chains.push(c);
                }
                None => {
                    self.queues[q].rewind(mark);
                    return Ok(Delivery::NoBuffers);
                }
            }
            if !mergeable {
                break;
            }
        }
        if room < total {
            // Without mergeable buffers one buffer holds the frame; the driver sized
            // them for its MTU, so this frame is not for it. The buffer stays offered.
            self.queues[q].rewind(mark);
            self.counters.rx_oversize_drops += 1;
            return Ok(Delivery::Dropped);
        }

        let hdr = self.rx_header(frame, chains.len() as u16, decision);
        let mut data = std::mem::take(&mut self.scratch);
        data.clear();
        data.extend_from_slice(&hdr.to_tunnel_bytes()[..hdr_len]);
        data.extend_from_slice(frame);
        let result = self.scatter(q, &chains, &data);
        self.scratch = data;
        result?;
        self.counters.rx_packets += 1;
        self.counters.rx_bytes += frame.len() as u64;
        self.counters.rx_queue_packets[pair] += 1;
        if self.timing.is_some() {
            self.timed_rx(pair, frame.len(), chains.len());
        }
        if self.queues[q].publish(&self.dma)? {
            self.queue_used(q);
        }
        Ok(Delivery::Delivered)
    }

    /// Fills the chains in order, each as far as it holds, and reports each as used.
    fn scatter(&mut self, q: usize, chains: &[Chain], data: &[u8]) -> Result<(), QueueError> {
        let mut done = 0;
        for c in chains {
            let n = c.writable.len().min(data.len() - done);
            let written = c.writable.scatter(&self.dma, &data[done..done + n])?;
            done += written;
            self.queues[q].add_used(&self.dma, c, written as u32)?;
        }
        Ok(())
    }
}
