//! The guest driver: bring-up through the common configuration (3.1.1), then what
//! `virtio_net` does with a working device: transmits with offload headers, control
//! commands and receive buffers, on the rings of `rings`.
//!
//! These operations behave like Linux's driver, so traffic keeps flowing and later
//! operations reach deep paths; hostile ones come from the other operations.

use virtio_bindings::virtio_config::*;
use virtio_bindings::virtio_net::*;
use virtio_bindings::virtio_ring::VIRTIO_RING_F_INDIRECT_DESC;

use super::super::{RAM_HIGH, RAM_LOW};
use super::frames::{self, Packet};
use super::harness::{Harness, MAC};
use super::rings::{ring_area, Ring, AREA, RINGS};
use super::Offload;
use crate::virtio_net::layout::{common, DEVICE_CFG_OFFSET, NOTIFY_OFFSET, NOTIFY_OFF_MULTIPLIER};
use crate::virtio_net::{
    feature_bit as bit, NetHdr, MAX_QUEUE_PAIRS, MAX_QUEUE_SIZE, NEED_CSUM, NEED_CTRL_VQ,
    NET_HASH_HDR_LEN, NET_HDR_LEN, NET_TUNNEL_HDR_LEN, VIRTIO_NET_F_HOST_UDP_TUNNEL_GSO,
    VIRTIO_NET_F_HOST_UDP_TUNNEL_GSO_CSUM,
};

const PAIRS: usize = MAX_QUEUE_PAIRS as usize;
pub(super) const QUEUES: usize = 2 * PAIRS + 1;
/// Buffers come from the rest of low RAM, then high RAM (which can be unmapped).
const BUF_REGIONS: [(u64, u64); 2] = [
    (0x4_0000, RAM_LOW.0 + RAM_LOW.1),
    (RAM_HIGH.0, RAM_HIGH.0 + RAM_HIGH.1),
];
/// Addresses worth aiming at: region edges, the gap, the top of the address
/// space, far away, buffers; the rings follow (see [`Driver::address`]).
const EDGES: [u64; 9] = [
    RAM_LOW.0,
    RAM_LOW.0 + RAM_LOW.1,
    RAM_HIGH.0,
    RAM_HIGH.0 + RAM_HIGH.1,
    0x2000_0000,
    u64::MAX,
    1 << 48,
    BUF_REGIONS[0].0,
    RINGS,
];
/// Where frames from the harness come from and its transmits go to.
const PEER: [u8; 6] = [0x02, 0, 0, 0, 0, 1];
/// A unicast address that is not the device's (a driver may add it with
/// MAC_TABLE_SET or MAC_ADDR_SET).
const OTHER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 9];
/// Receive buffers a bring-up offers per queue: mergeable ones of Linux's size, or
/// without mergeable buffers one MTU-sized frame each, up to `MAX_RX_LEN`.
const BRING_UP_RX: u8 = 8;
const MERGEABLE_RX_LEN: u16 = 1536;
const MAX_RX_LEN: u16 = 16 * 1024;

/// What the guest driver negotiated and where its rings stand.
pub(super) struct Driver {
    pub features: u128,
    pub packed: bool,
    pub(super) rings: Vec<Ring>,
    next_buf: u64,
}

impl Default for Driver {
    fn default() -> Self {
        Self {
            features: 0,
            packed: false,
            rings: vec![Ring::new(MAX_QUEUE_SIZE); QUEUES],
            next_buf: BUF_REGIONS[0].0,
        }
    }
}

/// The driver's features made consistent, as a driver that knows the spec's
/// dependencies (5.1.3.1) picks them from what it wants.
fn consistent(wanted: u128, packed: bool, offered: u128) -> u128 {
    let mut f = (wanted & offered) | bit(VIRTIO_F_VERSION_1);
    f &= !bit(VIRTIO_F_RING_PACKED);
    if packed {
        f |= offered & bit(VIRTIO_F_RING_PACKED);
    }
    if f & NEED_CSUM != 0 {
        f |= bit(VIRTIO_NET_F_CSUM);
    }
    if NEED_CTRL_VQ.iter().any(|&b| f & bit(b) != 0) {
        f |= bit(VIRTIO_NET_F_CTRL_VQ);
    }
    f
}

impl Driver {
    /// A harness address (`target` modulo the table: an edge, or a ring area of a
    /// queue) plus `offset`, wrapping.
    pub fn address(target: u8, offset: i32) -> u64 {
        let t = usize::from(target) % (EDGES.len() + 3 * QUEUES);
        let base = match EDGES.get(t) {
            Some(&a) => a,
            None => {
                let r = t - EDGES.len();
                ring_area(r / 3, (r % 3) as u64)
            }
        };
        base.wrapping_add(i64::from(offset) as u64)
    }

    fn has(&self, feature: u32) -> bool {
        self.features & bit(feature) != 0
    }

    fn ctrl_queue(&self) -> usize {
        if self.has(VIRTIO_NET_F_MQ) || self.has(VIRTIO_NET_F_RSS) {
            2 * PAIRS
        } else {
            2
        }
    }

    /// The device's rule (`VirtioNet::hdr_len`), from what was negotiated.
    fn hdr_len(&self) -> usize {
        if self.has(VIRTIO_NET_F_HOST_UDP_TUNNEL_GSO) {
            NET_TUNNEL_HDR_LEN
        } else if self.has(VIRTIO_NET_F_HASH_REPORT) {
            NET_HASH_HDR_LEN
        } else {
            NET_HDR_LEN
        }
    }

    /// `len` bytes of buffer memory, 16-byte aligned, reused round-robin.
    pub(super) fn alloc(&mut self, len: usize) -> u64 {
        let len = (len as u64 + 15) & !15;
        let region = BUF_REGIONS
            .iter()
            .position(|&(s, e)| (s..e).contains(&self.next_buf))
            .unwrap_or(0);
        if self.next_buf + len > BUF_REGIONS[region].1 {
            self.next_buf = BUF_REGIONS[(region + 1) % BUF_REGIONS.len()].0;
        }
        let a = self.next_buf;
        self.next_buf += len;
        a
    }

    /// The frame a peer sends: `dst` picks the device, broadcast, IPv4 and IPv6
    /// multicast, or [`OTHER_MAC`].
    pub fn rx_frame(p: &Packet, dst: u8, vlan: Option<u16>, bad_csum: bool) -> Vec<u8> {
        let dst = match dst % 5 {
            0 => MAC,
            1 => [0xff; 6],
            2 => [0x01, 0x00, 0x5e, 0, 0, 1],
            3 => [0x33, 0x33, 0, 0, 0, 1],
            _ => OTHER_MAC,
        };
        let (mut f, l4) = frames::build(p, dst, vlan);
        if let Some(l4) = l4 {
            frames::complete(&mut f, &l4);
        }
        if bad_csum {
            if let Some(last) = f.last_mut() {
                *last ^= 0x5a;
            }
        }
        f
    }
}

impl Harness {
    fn device_features(&mut self) -> u128 {
        (0..4).fold(0, |f, sel| {
            self.set_common(common::DEVICE_FEATURE_SELECT, 4, sel);
            f | u128::from(self.common(common::DEVICE_FEATURE, 4)) << (32 * sel)
        })
    }

    /// Reset, negotiation, queue setup (3.1.1), DRIVER_OK, then what Linux does
    /// next: the queue pair count and receive buffers.
    pub(super) fn bring_up(&mut self, features: u64, packed: bool, size: u8, pairs: u8) {
        let (ack, driver) = (VIRTIO_CONFIG_S_ACKNOWLEDGE, VIRTIO_CONFIG_S_DRIVER);
        let features_ok = VIRTIO_CONFIG_S_FEATURES_OK;
        self.set_status(0);
        self.set_status(ack);
        self.set_status(ack | driver);
        let offered = self.device_features();
        // Feature bits 64 and up (the UDP tunnel offloads) mirror bits 0 and up of
        // the input, so inputs stay 64 bits and the corpus keeps its meaning.
        let wanted = u128::from(features) | u128::from(features) << 64;
        let f = consistent(wanted, packed, offered);
        for sel in 0..4 {
            self.set_common(common::DRIVER_FEATURE_SELECT, 4, sel);
            self.set_common(
                common::DRIVER_FEATURE,
                4,
                (f >> (32 * sel)) as u64 & 0xffff_ffff,
            );
        }
        self.set_status(ack | driver | features_ok);
        if self.common(common::DEVICE_STATUS, 1) as u32 & features_ok == 0 {
            return self.set_status(ack | driver | VIRTIO_CONFIG_S_FAILED);
        }
        let packed = f & bit(VIRTIO_F_RING_PACKED) != 0;
        let size = if packed {
            u16::from(size) % MAX_QUEUE_SIZE + 1
        } else {
            1 << (size % 9)
        };
        self.drv.features = f;
        self.drv.packed = packed;
        self.drv.rings = vec![Ring::new(size); QUEUES];
        self.set_common(common::CONFIG_MSIX_VECTOR, 2, 0);
        let pairs = if self.drv.has(VIRTIO_NET_F_MQ) || self.drv.has(VIRTIO_NET_F_RSS) {
            usize::from(pairs) % PAIRS + 1
        } else {
            1
        };
        let mut queues: Vec<usize> = (0..2 * pairs).collect();
        if self.drv.has(VIRTIO_NET_F_CTRL_VQ) {
            queues.push(self.drv.ctrl_queue());
        }
        for q in queues {
            self.setup_queue(q, size);
        }
        self.set_status(ack | driver | features_ok | VIRTIO_CONFIG_S_DRIVER_OK);
        if self.drv.has(VIRTIO_NET_F_MQ) && pairs > 1 {
            let n = (pairs as u16).to_le_bytes();
            self.ctrl(
                VIRTIO_NET_CTRL_MQ as u8,
                VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET as u8,
                &n,
                1,
            );
        }
        let rx_len = if self.drv.has(VIRTIO_NET_F_MRG_RXBUF) {
            MERGEABLE_RX_LEN
        } else {
            let mut mtu = [0u8; 2];
            self.bar_read(DEVICE_CFG_OFFSET + 10, &mut mtu);
            let frame = usize::from(u16::from_le_bytes(mtu)) + 18 + self.drv.hdr_len();
            frame.min(usize::from(MAX_RX_LEN)) as u16
        };
        for pair in 0..pairs {
            self.offer_rx(pair as u8, BRING_UP_RX, rx_len);
        }
    }

    /// Queue setup as `vp_modern_find_vqs` does it, 64-bit addresses as two halves.
    fn setup_queue(&mut self, q: usize, size: u16) {
        self.set_common(common::QUEUE_SELECT, 2, q as u64);
        self.set_common(common::QUEUE_SIZE, 2, u64::from(size));
        self.set_common(common::QUEUE_MSIX_VECTOR, 2, q as u64 + 1);
        self.poke(ring_area(q, 0), &[0; 3 * AREA as usize]);
        let areas = [
            (common::QUEUE_DESC, ring_area(q, 0)),
            (common::QUEUE_DRIVER, ring_area(q, 1)),
            (common::QUEUE_DEVICE, ring_area(q, 2)),
        ];
        for (field, a) in areas {
            self.set_common(field, 4, a & 0xffff_ffff);
            self.set_common(field + 4, 4, a >> 32);
        }
        self.set_common(common::QUEUE_ENABLE, 2, 1);
    }

    /// A notification as Linux sends it: the queue index at the queue's address.
    pub(super) fn kick(&mut self, q: u16) {
        let off = NOTIFY_OFFSET + u64::from(q) * u64::from(NOTIFY_OFF_MULTIPLIER);
        self.bar_write(off, &q.to_le_bytes());
    }

    /// A packet on pair `queue`'s transmit queue, with the header `offload` asks for.
    pub(super) fn send(&mut self, queue: u8, packet: &Packet, offload: &Offload, pieces: u8) {
        let q = 2 * (usize::from(queue) % PAIRS) + 1;
        let (mut frame, l4) = frames::build(packet, PEER, None);
        let mut hdr = NetHdr::default();
        let l4 = l4.unwrap_or_default();
        match offload {
            Offload::None => frames::complete(&mut frame, &l4),
            Offload::Csum | Offload::Gso { .. } => {
                hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM as u8;
                hdr.csum_start = l4.csum_start;
                hdr.csum_offset = l4.csum_offset;
                if let Offload::Gso { size } = offload {
                    hdr.gso_type = l4.gso_type;
                    hdr.gso_size = *size;
                    hdr.hdr_len = l4.hdr_len;
                }
            }
            Offload::Raw(_) => {}
        }
        let hdr_len = self.drv.hdr_len();
        let mut head = match offload {
            // A tunnel header's two offsets repeat the raw hash fields (meaningless
            // on transmit), so a 20-byte input still reaches every header field.
            Offload::Raw(raw) => [&raw[..], &raw[12..16]].concat()[..hdr_len].to_vec(),
            _ => hdr.to_tunnel_bytes()[..hdr_len].to_vec(),
        };
        // A tunnelled GSO send, as Linux makes it once the tunnel offload is on:
        // the outer IP version in gso_type, the two offsets, and (when negotiated
        // and the fill byte is odd) the outer UDP checksum asked for.
        if let (Offload::Gso { .. }, Some(t), true) =
            (offload, l4.tunnel, head.len() == NET_TUNNEL_HDR_LEN)
        {
            head[1] |= if t.outer_v6 { 0x40 } else { 0x20 };
            if packet.fill & 1 != 0 && self.drv.has(VIRTIO_NET_F_HOST_UDP_TUNNEL_GSO_CSUM) {
                head[0] |= 8;
            }
            head[20..22].copy_from_slice(&t.outer_udp.to_le_bytes());
            head[22..24].copy_from_slice(&t.inner_ip.to_le_bytes());
        }
        let indirect = pieces & 4 != 0 && self.drv.has(VIRTIO_RING_F_INDIRECT_DESC);
        let parts = usize::from(pieces & 3) + 1;
        let mut bufs = Vec::new();
        let body = if pieces & 8 != 0 {
            [head, frame].concat()
        } else {
            let a = self.drv.alloc(head.len());
            self.poke(a, &head);
            bufs.push((a, head.len() as u32, false));
            frame
        };
        for chunk in body.chunks(body.len().div_ceil(parts).max(1)) {
            let a = self.drv.alloc(chunk.len());
            self.poke(a, chunk);
            bufs.push((a, chunk.len() as u32, false));
        }
        if self.add_chain(q, &bufs, indirect) {
            self.kick(q as u16);
        }
    }

    /// A control command as Linux sends it: header, data, then `ack` writable bytes.
    pub(super) fn ctrl(&mut self, class: u8, command: u8, payload: &[u8], ack: u8) {
        let q = self.drv.ctrl_queue();
        let mut bufs = Vec::new();
        let h = self.drv.alloc(2);
        self.poke(h, &[class, command]);
        bufs.push((h, 2, false));
        if !payload.is_empty() {
            let d = self.drv.alloc(payload.len());
            self.poke(d, payload);
            bufs.push((d, payload.len() as u32, false));
        }
        if ack > 0 {
            let a = self.drv.alloc(usize::from(ack));
            self.poke(a, &[0xee]);
            bufs.push((a, u32::from(ack), true));
        }
        if self.add_chain(q, &bufs, false) {
            self.kick(q as u16);
        }
    }

    /// Up to `count` receive buffers of `len` bytes on pair `queue`, as many as fit.
    pub(super) fn offer_rx(&mut self, queue: u8, count: u8, len: u16) {
        let q = 2 * (usize::from(queue) % PAIRS);
        for _ in 0..count {
            let a = self.drv.alloc(usize::from(len));
            if !self.add_chain(q, &[(a, u32::from(len), true)], false) {
                break;
            }
        }
        self.kick(q as u16);
    }
}
