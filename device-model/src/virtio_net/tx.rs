//! Transmit: chains from the transmit queue, the `virtio_net_hdr` ahead of each frame
//! handed to the checksum and segmentation engines, frames onto the wire.

use offload_engines::checksum::fold;
use offload_engines::cost::TxShape;
use offload_engines::segment::{L4Kind, UdpTunnelRequest};
use offload_engines::txcsum;
use virtio_bindings::virtio_net::{
    VIRTIO_NET_F_CSUM, VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_HOST_TSO6, VIRTIO_NET_F_HOST_USO,
    VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_ECN, VIRTIO_NET_HDR_GSO_NONE,
    VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6, VIRTIO_NET_HDR_GSO_UDP_L4,
};
use virtio_bindings::virtio_ring::VIRTIO_RING_F_INDIRECT_DESC;

use super::features::{VIRTIO_NET_F_HOST_UDP_TUNNEL_GSO, VIRTIO_NET_F_HOST_UDP_TUNNEL_GSO_CSUM};
use super::net_hdr::{NetHdr, HDR_LEN, TUNNEL_HDR_LEN};
use super::queue::{Chain, QueueError};
use super::VirtioNet;
use crate::doorbell::TxBudget;
use crate::timing::Completion;

/// UDP tunnel GSO bits of `gso_type` and the outer-checksum flag (virtio 1.4;
/// not yet in `virtio-bindings`): the outer IP version of the tunnel.
const VIRTIO_NET_HDR_GSO_UDP_TUNNEL_IPV4: u32 = 0x20;
const VIRTIO_NET_HDR_GSO_UDP_TUNNEL_IPV6: u32 = 0x40;
const VIRTIO_NET_HDR_GSO_UDP_TUNNEL: u32 =
    VIRTIO_NET_HDR_GSO_UDP_TUNNEL_IPV4 | VIRTIO_NET_HDR_GSO_UDP_TUNNEL_IPV6;
const VIRTIO_NET_HDR_F_UDP_TUNNEL_CSUM: u32 = 8;

/// Largest chain gathered: a 64 KiB GSO packet with its headers and the net header.
/// Bigger ones are dropped without allocating what the guest asked for.
const MAX_TX_CHAIN: usize = TUNNEL_HDR_LEN + 64 * 1024 + 256;
/// Ethernet header and one VLAN tag on top of the MTU.
const L2_OVERHEAD: usize = 14 + 4;

/// Why one packet was dropped (the queue itself is fine).
#[derive(Debug, thiserror::Error)]
enum TxDrop {
    #[error("packet longer than the MTU allows")]
    TooLong,
    #[error("chain shorter than the virtio_net_hdr")]
    NoHeader,
    #[error("offload asked for without being negotiated")]
    NotNegotiated,
    #[error("offload failed: {0}")]
    Offload(String),
}

impl VirtioNet {
    /// Sends what the driver queued: at most one ring's worth and one [`TxBudget`]
    /// per call, the rest deferred to the port's worker.
    pub(super) fn tx_process(&mut self, q: usize) {
        let pair = q / 2;
        let indirect = self.features.has(VIRTIO_RING_F_INDIRECT_DESC);
        let mut broken = None;
        let mut budget = TxBudget::start(self.counters.tx_bytes);
        let mut deferred = false;
        for _ in 0..self.queues[q].size {
            if budget.spent(self.counters.tx_bytes) {
                // Perhaps nothing is left: the resumed pass then finds the ring empty.
                self.counters.tx_deferred_passes += 1;
                self.deferred.defer(q);
                deferred = true;
                break;
            }
            if self.tx_must_stop(pair) {
                break;
            }
            let chain = match self.queues[q].pop(&self.dma, indirect) {
                Ok(Some(c)) => {
                    budget.fetched();
                    c
                }
                Ok(None) => break,
                Err(e) => {
                    broken = Some(e);
                    break;
                }
            };
            if let Some(t) = self.timing.as_mut() {
                // Every descriptor is fetched; one used element is written back.
                for i in 0..chain.readable.segments().len().max(1) {
                    t.fetched(pair, i == 0);
                }
            }
            if let Err(e) = self.tx_chain(pair, &chain) {
                broken = Some(e);
                break;
            }
            // The device writes nothing into transmit buffers. Paced, the chain is
            // used when the model says its packet is done.
            let used = Completion::Used {
                queue: q,
                head: chain.head,
                slots: chain.slots,
            };
            match self.timing.as_mut() {
                Some(t) if t.defers_write_backs() => t.defer(used),
                _ => {
                    if let Err(e) = self.queues[q].add_used(&self.dma, &chain, 0) {
                        broken = Some(e);
                        break;
                    }
                }
            }
        }
        // Packets sent before a chain broke the queue are counted as sent: they leave
        // with this notification, not with a later one or never (a reset drops them).
        // A pass that stopped at its budget leaves them to the rest of its doorbell.
        let held = deferred
            && broken.is_none()
            && self.timing.as_mut().is_some_and(|t| t.hold_for_next_pass());
        if !held {
            self.flush_timed_tx();
        }
        if let Some(e) = broken {
            return self.queue_failed(q, e);
        }
        match self.queues[q].publish(&self.dma) {
            Ok(true) => self.queue_used(q),
            Ok(false) => {}
            Err(e) => self.queue_failed(q, e),
        }
    }

    /// One packet. Buffers outside guest memory fail the queue; a packet the device
    /// cannot send as asked is dropped and counted.
    fn tx_chain(&mut self, pair: usize, chain: &Chain) -> Result<(), QueueError> {
        if chain.readable.len() > MAX_TX_CHAIN {
            self.tx_drop(TxDrop::TooLong);
            return Ok(());
        }
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        let gathered = chain.readable.gather(&self.dma, &mut buf, MAX_TX_CHAIN);
        let result = match gathered {
            Ok(()) => {
                match self.tx_packet(pair, &mut buf) {
                    Ok(shape) => {
                        if let Some(t) = self.timing.as_mut() {
                            t.end_packet(pair, shape);
                        }
                    }
                    Err(why) => self.tx_drop(why),
                }
                Ok(())
            }
            Err(e) => Err(QueueError::Dma(e)),
        };
        self.scratch = buf;
        result
    }

    fn tx_drop(&mut self, why: TxDrop) {
        self.counters.tx_dropped += 1;
        tracing::debug!(%why, "virtio-net transmit dropped");
    }

    /// Sends one packet; its shape for the timing model.
    fn tx_packet(&mut self, pair: usize, buf: &mut [u8]) -> Result<TxShape, TxDrop> {
        // With HASH_REPORT the driver sends the longer header too; its hash fields
        // mean nothing on transmit.
        let hdr_len = self.hdr_len();
        if buf.len() < hdr_len {
            return Err(TxDrop::NoHeader);
        }
        let (hdr, frame) = buf.split_at_mut(hdr_len);
        let tunnel = hdr
            .first_chunk::<TUNNEL_HDR_LEN>()
            .map(NetHdr::tunnel_offsets);
        let Some(hdr) = hdr.first_chunk::<HDR_LEN>() else {
            return Err(TxDrop::NoHeader);
        };
        let hdr = NetHdr::parse(hdr);
        let needs_csum = u32::from(hdr.flags) & VIRTIO_NET_HDR_F_NEEDS_CSUM != 0;
        if needs_csum && !self.features.has(VIRTIO_NET_F_CSUM) {
            return Err(TxDrop::NotNegotiated);
        }
        let tunnel_gso = u32::from(hdr.gso_type) & VIRTIO_NET_HDR_GSO_UDP_TUNNEL;
        let gso =
            u32::from(hdr.gso_type) & !(VIRTIO_NET_HDR_GSO_ECN | VIRTIO_NET_HDR_GSO_UDP_TUNNEL);
        if gso == VIRTIO_NET_HDR_GSO_NONE && tunnel_gso == 0 {
            if frame.len() > usize::from(self.cfg.mtu) + L2_OVERHEAD {
                return Err(TxDrop::TooLong);
            }
            if needs_csum {
                // The header names only where the sum starts and where it goes. A
                // computed 0 is sent as 0xFFFF only at UDP's offset, where 0 would mean
                // "no checksum" (RFC 768); anywhere else (TCP) it stays 0, the value a
                // full computation gives (RFC 1624 section 3: receivers and tshark
                // treat a TCP 0xFFFF as the mark of a broken incremental update).
                let (start, offset) = (usize::from(hdr.csum_start), usize::from(hdr.csum_offset));
                txcsum::insert_l4(frame, start, offset, offset == txcsum::UDP_CHECKSUM_OFFSET)
                    .map_err(|e| TxDrop::Offload(e.to_string()))?;
                self.counters.tx_csum += 1;
            }
            self.emit(frame);
            return Ok(TxShape {
                bytes: frame.len() as u64,
                checksum: needs_csum,
                ..TxShape::default()
            });
        }
        let negotiated = match gso {
            VIRTIO_NET_HDR_GSO_TCPV4 => self.features.has(VIRTIO_NET_F_HOST_TSO4),
            VIRTIO_NET_HDR_GSO_TCPV6 => self.features.has(VIRTIO_NET_F_HOST_TSO6),
            VIRTIO_NET_HDR_GSO_UDP_L4 => self.features.has(VIRTIO_NET_F_HOST_USO),
            _ => false,
        };
        let udp = gso == VIRTIO_NET_HDR_GSO_UDP_L4;
        if !negotiated || !needs_csum {
            return Err(TxDrop::NotNegotiated);
        }
        let tunnel = tunnel_request(&hdr, tunnel_gso, tunnel, udp)?;
        if let Some(t) = &tunnel {
            if !self.features.has(VIRTIO_NET_F_HOST_UDP_TUNNEL_GSO)
                || (t.outer_checksum && !self.features.has(VIRTIO_NET_F_HOST_UDP_TUNNEL_GSO_CSUM))
            {
                return Err(TxDrop::NotNegotiated);
            }
        }
        // Each segment carries gso_size payload bytes after its headers: more than
        // the MTU would put frames on the wire that the link does not carry.
        if hdr.gso_size > self.cfg.mtu {
            return Err(TxDrop::TooLong);
        }
        unseed_length(frame, &hdr)?;
        let Self {
            segmenter,
            wire,
            counters,
            device_stats,
            timing,
            ..
        } = self;
        let mut sent = 0u64;
        let mut bytes = 0u64;
        let mut out = |seg: &[u8]| {
            sent += 1;
            bytes += seg.len() as u64;
            match timing.as_mut() {
                Some(t) => t.push_frame(seg),
                None => wire.transmit(seg),
            }
        };
        let mss = usize::from(hdr.gso_size);
        let stats = match &tunnel {
            Some(t) => segmenter.udp_tunnel(frame, mss, t, &mut out),
            None if udp => segmenter.uso(frame, mss, &mut out),
            None => segmenter.tso(frame, mss, &mut out),
        }
        .map_err(|e| TxDrop::Offload(e.to_string()))?;
        counters.tx_gso += 1;
        counters.tx_uso += u64::from(udp);
        counters.tx_udp_tunnel_gso += u64::from(tunnel.is_some());
        counters.tx_gso_segments += stats.segments as u64;
        counters.tx_packets += sent;
        counters.tx_bytes += bytes;
        if let Some(q) = device_stats.tx_gso.get_mut(pair) {
            q.count(frame.len() as u64, sent, bytes);
        }
        Ok(TxShape {
            bytes: frame.len() as u64,
            header_len: u32::from(hdr.hdr_len),
            mss: u32::from(hdr.gso_size),
            checksum: true,
            ..TxShape::default()
        })
    }

    fn emit(&mut self, frame: &[u8]) {
        self.counters.tx_packets += 1;
        self.counters.tx_bytes += frame.len() as u64;
        match self.timing.as_mut() {
            // Held until the model says when this notification's frames leave.
            Some(t) => t.push_frame(frame),
            None => self.wire.transmit(frame),
        }
    }
}

/// GSO over a UDP tunnel (`gso_type` with UDP_TUNNEL_IPV4 or _IPV6): where the
/// tunnel header says the outer UDP and inner IP headers are, the inner L4 header
/// at `csum_start` (the segmenter checks them against the frame). Both tunnel bits
/// at once is a malformed packet.
fn tunnel_request(
    hdr: &NetHdr,
    tunnel_gso: u32,
    offsets: Option<(u16, u16)>,
    udp: bool,
) -> Result<Option<UdpTunnelRequest>, TxDrop> {
    if tunnel_gso == 0 {
        return Ok(None);
    }
    let Some((outer_th, inner_nh)) = offsets else {
        return Err(TxDrop::NotNegotiated);
    };
    if tunnel_gso == VIRTIO_NET_HDR_GSO_UDP_TUNNEL {
        return Err(TxDrop::Offload("both UDP tunnel types set".into()));
    }
    Ok(Some(UdpTunnelRequest {
        outer_udp: usize::from(outer_th),
        inner_ip: usize::from(inner_nh),
        inner_l4: usize::from(hdr.csum_start),
        l4: if udp { L4Kind::Udp } else { L4Kind::Tcp },
        outer_checksum: u32::from(hdr.flags) & VIRTIO_NET_HDR_F_UDP_TUNNEL_CSUM != 0,
    }))
}

/// Linux seeds the checksum field of a GSO packet (TCP, and UDP for USO) with the pseudo-header sum over the
/// whole L4 length (`tcp_v4_send_check`); the segmenter adds each segment's own length
/// to a seed without it. Subtracts the length, in ones'-complement arithmetic.
fn unseed_length(frame: &mut [u8], hdr: &NetHdr) -> Result<(), TxDrop> {
    let start = usize::from(hdr.csum_start);
    let field = start + usize::from(hdr.csum_offset);
    let (Some(bytes), Some(l4_len)) = (frame.get(field..field + 2), frame.len().checked_sub(start))
    else {
        return Err(TxDrop::Offload("checksum field outside the packet".into()));
    };
    let seed = u16::from_be_bytes([bytes[0], bytes[1]]);
    let len = l4_len as u32;
    let minus_len = u64::from(!((len >> 16) as u16)) + u64::from(!(len as u16));
    let unseeded = fold(u64::from(seed) + minus_len);
    frame[field..field + 2].copy_from_slice(&unseeded.to_be_bytes());
    Ok(())
}
