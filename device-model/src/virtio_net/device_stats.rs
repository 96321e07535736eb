//! VIRTIO_NET_F_DEVICE_STATS (virtio 1.3, 5.1.6.5.8): the device's own per-queue
//! counts, read through the control queue (VIRTIO_NET_CTRL_STATS_QUERY for the types
//! offered, VIRTIO_NET_CTRL_STATS_GET for the values).
//!
//! tunic offers the transmit GSO type: GSO packets the device segmented and the
//! segments it made of them. Linux reports these as the netdev queue statistics
//! `tx-hw-gso-packets`, `tx-hw-gso-bytes`, `tx-hw-gso-wire-packets` and
//! `-wire-bytes`, by which the kernel's `tso.py` tells segmentation the NIC did from
//! segmentation the stack did. The counts are the device's since it was created: a
//! driver reset does not zero them, so a reader never sees them go backwards.

use virtio_bindings::virtio_net::{
    VIRTIO_NET_STATS_TYPE_REPLY_TX_GSO, VIRTIO_NET_STATS_TYPE_TX_GSO,
};

/// The statistics types offered (`virtio_net_stats_capabilities`).
pub const OFFERED: u64 = VIRTIO_NET_STATS_TYPE_TX_GSO as u64;

/// One entry of a GET request: `vq_index`, three reserved words, `types_bitmap`.
const REQUEST_ENTRY: usize = 16;
/// `virtio_net_stats_reply_hdr`: type, reserved, vq_index, reserved, size.
const REPLY_HEADER: usize = 8;
/// `virtio_net_stats_tx_gso`: the header and six 64-bit counts.
const TX_GSO_REPLY: usize = REPLY_HEADER + 6 * 8;

/// `virtio_net_stats_tx_gso` of one transmit queue.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TxGso {
    /// GSO packets segmented, and their bytes as the driver handed them over.
    pub packets: u64,
    pub bytes: u64,
    /// The frames those packets became, and their bytes on the wire.
    pub segments: u64,
    pub segments_bytes: u64,
    /// GSO packets that fit in one segment and went out as they were.
    pub packets_noseg: u64,
    pub bytes_noseg: u64,
}

impl TxGso {
    /// One GSO packet of `bytes` that went out as `segments` frames of `wire_bytes`.
    pub fn count(&mut self, bytes: u64, segments: u64, wire_bytes: u64) {
        if segments > 1 {
            self.packets += 1;
            self.bytes += bytes;
            self.segments += segments;
            self.segments_bytes += wire_bytes;
        } else {
            self.packets_noseg += 1;
            self.bytes_noseg += bytes;
        }
    }
}

/// The device's statistics, per queue pair.
#[derive(Debug, Clone)]
pub struct DeviceStats {
    pub tx_gso: Vec<TxGso>,
}

impl DeviceStats {
    pub fn new(pairs: usize) -> Self {
        Self {
            tx_gso: vec![TxGso::default(); pairs],
        }
    }

    /// The reply to VIRTIO_NET_CTRL_STATS_QUERY.
    pub fn query() -> [u8; 8] {
        OFFERED.to_le_bytes()
    }

    /// The reply to VIRTIO_NET_CTRL_STATS_GET for `request` (entries of
    /// `virtio_net_ctrl_queue_stats`): one reply structure per type asked of each
    /// queue, in the request's order. A type not offered, a queue the device does
    /// not have, or a transmit type asked of a receive queue refuses the whole
    /// command, as the specification requires.
    pub fn get(&self, request: &[u8]) -> Result<Vec<u8>, &'static str> {
        // Linux asks with no entries at all for a queue none of whose types is offered
        // (a receive queue here): nothing to answer, and not an error.
        if !request.len().is_multiple_of(REQUEST_ENTRY) {
            return Err("statistics request is not a whole number of entries");
        }
        let mut reply = Vec::with_capacity(request.len() / REQUEST_ENTRY * TX_GSO_REPLY);
        for entry in request.chunks_exact(REQUEST_ENTRY) {
            let vq = u16::from_le_bytes([entry[0], entry[1]]);
            let mut types = [0u8; 8];
            types.copy_from_slice(&entry[8..16]);
            let types = u64::from_le_bytes(types);
            if types & !OFFERED != 0 {
                return Err("statistics type not offered");
            }
            let pair = usize::from(vq / 2);
            if pair >= self.tx_gso.len() {
                return Err("statistics asked of a queue the device does not have");
            }
            if types & OFFERED != 0 {
                if vq.is_multiple_of(2) {
                    return Err("transmit statistics asked of a receive queue");
                }
                let s = self.tx_gso[pair];
                reply.push(VIRTIO_NET_STATS_TYPE_REPLY_TX_GSO as u8);
                reply.push(0);
                reply.extend_from_slice(&vq.to_le_bytes());
                reply.extend_from_slice(&[0, 0]);
                reply.extend_from_slice(&(TX_GSO_REPLY as u16).to_le_bytes());
                for v in [
                    s.packets,
                    s.bytes,
                    s.segments,
                    s.segments_bytes,
                    s.packets_noseg,
                    s.bytes_noseg,
                ] {
                    reply.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
        Ok(reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(vq: u16, types: u64) -> Vec<u8> {
        let mut e = vq.to_le_bytes().to_vec();
        e.extend_from_slice(&[0; 6]);
        e.extend_from_slice(&types.to_le_bytes());
        e
    }

    #[test]
    fn a_get_answers_each_transmit_queue_asked_with_its_gso_counts() {
        let mut s = DeviceStats::new(2);
        s.tx_gso[1].count(9000, 7, 9300);
        s.tx_gso[1].count(600, 1, 600);
        let mut req = entry(3, OFFERED);
        req.extend(entry(1, OFFERED));
        let r = s.get(&req).unwrap();
        assert_eq!(r.len(), 2 * TX_GSO_REPLY);
        assert_eq!(r[0], 18, "VIRTIO_NET_STATS_TYPE_REPLY_TX_GSO");
        assert_eq!(u16::from_le_bytes([r[2], r[3]]), 3);
        assert_eq!(usize::from(u16::from_le_bytes([r[6], r[7]])), TX_GSO_REPLY);
        let word = |i: usize| u64::from_le_bytes(r[8 + 8 * i..16 + 8 * i].try_into().unwrap());
        assert_eq!(
            [word(0), word(1), word(2), word(3), word(4), word(5)],
            [1, 9000, 7, 9300, 1, 600]
        );
        // Queue 1 (pair 0) has sent nothing.
        assert!(r[TX_GSO_REPLY + 8..].iter().all(|&b| b == 0));
        assert_eq!(
            u16::from_le_bytes([r[TX_GSO_REPLY + 2], r[TX_GSO_REPLY + 3]]),
            1
        );
    }

    #[test]
    fn a_get_the_device_cannot_answer_is_refused_whole() {
        let s = DeviceStats::new(2);
        assert_eq!(
            s.get(&[]).unwrap(),
            Vec::<u8>::new(),
            "what Linux sends for a receive queue"
        );
        assert!(s.get(&entry(1, OFFERED)[..15]).is_err());
        assert!(s.get(&entry(0, OFFERED)).is_err(), "receive queue");
        assert!(s.get(&entry(5, OFFERED)).is_err(), "no such queue");
        assert!(s.get(&entry(1, 1)).is_err(), "RX_BASIC is not offered");
        let mut req = entry(1, OFFERED);
        req.extend(entry(4, OFFERED));
        assert!(s.get(&req).is_err(), "one bad entry refuses all");
        assert_eq!(s.get(&entry(1, 0)).unwrap(), Vec::<u8>::new());
        assert_eq!(DeviceStats::query(), OFFERED.to_le_bytes());
    }
}
