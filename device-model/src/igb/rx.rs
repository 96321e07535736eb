//! Receive: address filtering, queue selection (RSS), checksum and hash
//! reporting, and advanced one-buffer descriptor write-back.
//!
//! Advanced Rx descriptor write-back (82576 datasheet, "Receive Descriptors"):
//! dword0 {RSS type 3:0, packet type 16:4, HDR_LEN 30:21, SPH 31}, dword1 RSS hash
//! (when RXCSUM.PCSD), dword2 extended status/errors {DD 0, EOP 1, VP 3, UDPCS 4,
//! L4CS 5, IPCS 6, L4E 29, IPE 30, RXE 31}, dword3 {length 15:0, VLAN 31:16}.

use offload_engines::parse::{self, Parsed};
use offload_engines::rss::{self, HashKind, HashTypes, Toeplitz};
use offload_engines::rxcsum::{self, L4Kind};
use offload_engines::vmq;

use super::interrupts::Cause;
use super::regs::*;
use super::stats;
use super::Igb;

const DESC_LEN: u64 = 16;
const STAT_DD: u32 = 1 << 0;
const STAT_EOP: u32 = 1 << 1;
const STAT_VP: u32 = 1 << 3;
const STAT_UDPCS: u32 = 1 << 4;
const STAT_L4CS: u32 = 1 << 5;
const STAT_IPCS: u32 = 1 << 6;
const ERR_L4E: u32 = 1 << 29;
const ERR_IPE: u32 = 1 << 30;
/// The 82576's receive packet buffer: frames wait here while a queue has no descriptors.
const RX_FIFO_BYTES: usize = 64 * 1024;
const SRRCTL_DROP_EN: u32 = 1 << 31;

/// Toeplitz tables derived from RSSRK, rebuilt when the key changes.
#[derive(Default)]
pub struct RssState {
    toeplitz: Option<Toeplitz>,
}

impl RssState {
    pub fn key_changed(&mut self) {
        self.toeplitz = None;
    }
}

/// What the MAC decided about one frame before DMA.
struct Classified {
    queue: usize,
    /// VMDq found no pool for the frame and the default pool is disabled.
    drop: bool,
    rss: Option<rss::RssResult>,
    vlan: Option<u16>,
}

impl Igb {
    /// A frame arrived from the wire (no FCS).
    pub fn receive(&mut self, frame: &[u8]) {
        // In MAC or PHY loopback the receiver hears only its own transmitter.
        if self.get(RCTL) & RCTL_LBM_MASK != 0 || self.phy.loopback() {
            self.counters.rx_filtered += 1;
            return;
        }
        if let Some(quanta) = super::flow_control::pause_quanta(frame) {
            if self.receive_pause(quanta) {
                return;
            }
        }
        self.receive_frame(frame);
    }

    /// A frame reached the MAC's receiver, from the wire or looped back.
    pub(super) fn receive_frame(&mut self, frame: &[u8]) {
        if self.get(RCTL) & RCTL_EN == 0 {
            self.counters.rx_disabled_drops += 1;
            return;
        }
        if frame.len() < 14 {
            self.stats.add(stats::RUC, 1);
            return;
        }
        let max = if self.get(RCTL) & RCTL_LPE != 0 {
            (self.get(RLPML) & 0x3fff) as usize
        } else {
            1518
        };
        let vlan_extra = if frame[12..14] == (self.get(VET) as u16).to_be_bytes() {
            4
        } else {
            0
        };
        // Max frame sizes count the FCS, which our frames do not carry.
        if frame.len() + 4 > max.max(64) + vlan_extra {
            self.stats.add(stats::ROC, 1);
            self.counters.rx_oversize_dropped += 1;
            return;
        }
        if !self.accepts(frame) {
            self.counters.rx_filtered += 1;
            return;
        }
        if !self.rx_fifo.is_empty() {
            self.enqueue(frame);
            self.drain_rx_fifo();
            return;
        }
        if !self.try_deliver(frame) {
            self.enqueue(frame);
        }
    }

    fn enqueue(&mut self, frame: &[u8]) {
        if self.rx_fifo_bytes + frame.len() > RX_FIFO_BYTES {
            self.stats.add(stats::MPC, 1);
            self.counters.rx_fifo_overflow_drops += 1;
            return;
        }
        self.rx_fifo_bytes += frame.len();
        self.rx_fifo.push_back(frame.to_vec());
        self.check_high_water();
    }

    /// Delivers waiting frames in order while their queues have descriptors.
    pub(super) fn drain_rx_fifo(&mut self) {
        if self.get(RCTL) & RCTL_EN == 0 {
            return;
        }
        while let Some(f) = self.rx_fifo.pop_front() {
            if !self.try_deliver(&f) {
                self.rx_fifo.push_front(f);
                break;
            }
            self.rx_fifo_bytes -= f.len();
        }
        self.check_low_water();
    }

    /// Destination address filter: RAR exact match, multicast table, broadcast, promiscuous.
    /// The valid receive-address entry holding `dst`, if any.
    fn rar_match(&self, dst: &[u8]) -> Option<usize> {
        (0..RAR_ENTRIES).find(|&n| {
            let rah = self.get(ral(n) + 4);
            rah & RAH_AV != 0 && {
                let lo = self.get(ral(n)).to_le_bytes();
                let hi = (rah as u16).to_le_bytes();
                dst == [lo[0], lo[1], lo[2], lo[3], hi[0], hi[1]]
            }
        })
    }

    /// VMDq pool of a frame: the pool bits (RAH 25:18) of the receive address it
    /// matched, else VT_CTL's default pool; `None` when VT_CTL.DIS_DEF_POOL drops it.
    /// Matched on the outer destination MAC only: the 82576 knows no tunnels.
    /// Broadcast and multicast go to the default pool (no replication is modelled).
    fn vmdq_pool(&self, dst: &[u8]) -> Option<usize> {
        let key = vmq::ClassifyKey {
            mac: dst.try_into().ok()?,
            vlan: None,
            vsid: None,
        };
        match self.vmdq.lookup(&key) {
            Some(pool) => Some(usize::from(pool)),
            None if self.get(VT_CTL) & VT_CTL_DIS_DEF_POOL != 0 => None,
            None => Some(usize::from(self.vmdq.default_queue())),
        }
    }

    /// Rebuilds the VMDq filter table from the receive addresses and VT_CTL; called
    /// whenever one of them is written, so a received frame only looks it up.
    pub(super) fn rebuild_vmdq(&mut self) {
        let default_pool = ((self.get(VT_CTL) >> 7) & 7) as u16;
        let mut table = vmq::VmqTable::new(default_pool, RAR_ENTRIES);
        for n in 0..RAR_ENTRIES {
            let rah = self.get(ral(n) + 4);
            let pools = (rah >> 18) & 0xff;
            if rah & RAH_AV == 0 || pools == 0 {
                continue;
            }
            let lo = self.get(ral(n)).to_le_bytes();
            let hi = (rah as u16).to_le_bytes();
            // The lowest pool bit of the first entry holding a MAC wins; a later
            // entry with the same MAC is refused as a duplicate and never consulted.
            let _ = table.add(vmq::VmqFilter {
                mac: [lo[0], lo[1], lo[2], lo[3], hi[0], hi[1]],
                vlan: None,
                vsid: None,
                queue: pools.trailing_zeros() as u16,
            });
        }
        self.vmdq = table;
    }

    fn accepts(&self, frame: &[u8]) -> bool {
        let rctl = self.get(RCTL);
        let dst = &frame[..6];
        // VLAN filter: with RCTL.VFE a tagged frame's VID must be set in VFTA.
        if rctl & RCTL_VFE != 0
            && frame.len() >= 16
            && frame[12..14] == (self.get(VET) as u16).to_be_bytes()
        {
            let vid = u32::from(u16::from_be_bytes([frame[14], frame[15]]) & 0x0fff);
            if self.get(VFTA + 4 * (vid >> 5)) & (1 << (vid & 31)) == 0 {
                return false;
            }
        }
        if dst[0] & 1 == 0 {
            if rctl & RCTL_UPE != 0 {
                return true;
            }
            return self.rar_match(dst).is_some();
        }
        if dst == [0xff; 6] {
            return rctl & RCTL_BAM != 0 || rctl & RCTL_MPE != 0;
        }
        if rctl & RCTL_MPE != 0 {
            return true;
        }
        let shift = match (rctl >> RCTL_MO_SHIFT) & 3 {
            0 => 4,
            1 => 3,
            2 => 2,
            _ => 0,
        };
        let hash = ((u32::from(dst[4]) >> shift) | (u32::from(dst[5]) << (8 - shift))) & 0xfff;
        self.get(MTA + 4 * (hash >> 5)) & (1 << (hash & 31)) != 0
    }

    fn hash_types(mrqc: u32) -> HashTypes {
        let mut t = HashTypes::empty();
        for (bit, ty) in [
            (MRQC_FIELD_TCP_IPV4, HashTypes::TCP_IPV4),
            (MRQC_FIELD_IPV4, HashTypes::IPV4),
            (MRQC_FIELD_TCP_IPV6_EX, HashTypes::TCP_IPV6_EX),
            (MRQC_FIELD_IPV6_EX, HashTypes::IPV6_EX),
            (MRQC_FIELD_IPV6, HashTypes::IPV6),
            (MRQC_FIELD_TCP_IPV6, HashTypes::TCP_IPV6),
            (MRQC_FIELD_UDP_IPV4, HashTypes::UDP_IPV4),
            (MRQC_FIELD_UDP_IPV6, HashTypes::UDP_IPV6),
            (MRQC_FIELD_UDP_IPV6_EX, HashTypes::UDP_IPV6_EX),
        ] {
            if mrqc & bit != 0 {
                t = t | ty;
            }
        }
        t
    }

    fn rss_key(&self) -> [u8; 40] {
        let mut key = [0u8; 40];
        for (i, chunk) in key.chunks_mut(4).enumerate() {
            chunk.copy_from_slice(&self.get(RSSRK + 4 * i as u32).to_le_bytes());
        }
        key
    }

    fn classify(&mut self, frame: &[u8], parsed: Option<&Parsed>) -> Classified {
        let mrqc = self.get(MRQC);
        // A frame that ends inside its tag has no TCI to report: it goes up untagged.
        let vlan = (frame.len() >= 16 && frame[12..14] == (self.get(VET) as u16).to_be_bytes())
            .then(|| u16::from_be_bytes([frame[14], frame[15]]));
        // MRQE (2:0): 0 = one queue; 1, 2 = RSS; 3 = VMDq pools; 5 = VMDq pools with
        // RSS inside each (pool n owns queues n and n + 8).
        let mrqe = mrqc & 7;
        let mut queue = 0usize;
        let mut result = None;
        if matches!(mrqe, 1 | 2 | 5) {
            let types = Self::hash_types(mrqc);
            if self.rss.toeplitz.is_none() {
                self.rss.toeplitz = Some(Toeplitz::new(&self.rss_key()));
            }
            if let Some(t) = &self.rss.toeplitz {
                result = parsed.and_then(|p| rss::hash_parsed(p, t, types, false));
            }
            if let Some(r) = result {
                let entry = r.hash & 0x7f;
                let reta = self.get(RETA + (entry & !3));
                queue = ((reta >> (8 * (entry & 3))) & 0x0f) as usize;
            }
        }
        let mut drop = false;
        if matches!(mrqe, 3 | 5) {
            match self.vmdq_pool(&frame[..6]) {
                Some(pool) => queue = pool + if mrqe == 5 { 8 * (queue & 1) } else { 0 },
                None => drop = true,
            }
        }
        Classified {
            queue: queue % QUEUES,
            rss: result,
            vlan,
            drop,
        }
    }

    /// Writes `frame` into queue descriptors if there is room; false when it must wait.
    fn try_deliver(&mut self, frame: &[u8]) -> bool {
        // One parse serves RSS and checksum reporting.
        let parsed = parse::parse_partial(frame).ok().map(|(p, _)| p);
        let c = self.classify(frame, parsed.as_ref());
        if c.drop {
            self.counters.rx_filtered += 1;
            return true;
        }
        let q = c.queue;
        let rxdctl = self.get(queue_off(false, q, Q_CTL));
        let srrctl = self.get(queue_off(false, q, Q_SRRCTL));
        if rxdctl & RXDCTL_ENABLE == 0 {
            self.counters.rx_disabled_drops += 1;
            return true;
        }
        let (base, count, head, tail) = {
            let b = u64::from(self.get(queue_off(false, q, Q_BAL)))
                | (u64::from(self.get(queue_off(false, q, Q_BAH))) << 32);
            (
                b,
                self.get(queue_off(false, q, Q_LEN)) / DESC_LEN as u32,
                self.get(queue_off(false, q, Q_HEAD)),
                self.get(queue_off(false, q, Q_TAIL)),
            )
        };
        if count == 0 || head >= count || tail >= count {
            if count != 0 {
                self.counters.ring_errors += 1;
                tracing::warn!(
                    queue = q,
                    head,
                    tail,
                    count,
                    "Rx head or tail beyond the ring: frame dropped"
                );
            }
            self.drop_no_descriptor(q);
            return true;
        }
        // Strip the VLAN tag when asked (CTRL.VME), reporting it in the descriptor.
        let strip = c.vlan.is_some() && self.get(CTRL) & CTRL_VME != 0;
        let append_fcs = self.get(RCTL) & RCTL_SECRC == 0;
        let owned;
        let data: &[u8] = if strip || append_fcs {
            let mut v = Vec::with_capacity(frame.len() + 4);
            if strip {
                v.extend_from_slice(&frame[..12]);
                v.extend_from_slice(&frame[16..]);
            } else {
                v.extend_from_slice(frame);
            }
            if append_fcs {
                let fcs = crc32fast::hash(&v).to_le_bytes();
                v.extend_from_slice(&fcs);
            }
            owned = v;
            &owned
        } else {
            frame
        };
        let bsize = match (srrctl & 0x7f) as usize * 1024 {
            0 => 2048,
            n => n,
        };
        let needed = data.len().div_ceil(bsize).max(1) as u32;
        let available = (tail + count - head) % count;
        if available < needed {
            if srrctl & SRRCTL_DROP_EN != 0 {
                self.drop_no_descriptor(q);
                return true;
            }
            return false;
        }
        let (dword0, dword1, status) = self.rx_report(frame, parsed.as_ref(), &c);
        // Buffers first, write-backs after: a frame whose descriptor or buffer lies
        // outside guest memory is dropped whole, with no descriptor written back or
        // consumed, so the next frame finds the ring as the driver left it.
        let mut h = head;
        for chunk in data.chunks(bsize) {
            let daddr = base.wrapping_add(u64::from(h) * DESC_LEN);
            let mut d = [0u8; 16];
            if self.dma.read(daddr, &mut d).is_err() {
                self.counters.rx_dma_errors += 1;
                tracing::warn!(
                    queue = q,
                    addr = daddr,
                    "Rx descriptor fetch outside guest memory: frame dropped"
                );
                return true;
            }
            let buf = u64::from_le_bytes(d[0..8].try_into().unwrap_or_default());
            if self.dma.write(buf, chunk).is_err() {
                self.counters.rx_dma_errors += 1;
                tracing::warn!(
                    queue = q,
                    addr = buf,
                    "Rx buffer outside guest memory: frame dropped"
                );
                return true;
            }
            h = (h + 1) % count;
        }
        let mut h = head;
        for (i, chunk) in data.chunks(bsize).enumerate() {
            let daddr = base.wrapping_add(u64::from(h) * DESC_LEN);
            let last = i as u32 + 1 == needed;
            let mut st = STAT_DD;
            if last {
                st |= STAT_EOP | status;
            }
            if strip {
                st |= STAT_VP;
            }
            let mut wb = [0u8; 16];
            wb[0..4].copy_from_slice(&dword0.to_le_bytes());
            wb[4..8].copy_from_slice(&dword1.to_le_bytes());
            wb[8..12].copy_from_slice(&st.to_le_bytes());
            wb[12..14].copy_from_slice(&(chunk.len() as u16).to_le_bytes());
            wb[14..16].copy_from_slice(&c.vlan.filter(|_| strip).unwrap_or(0).to_le_bytes());
            if self.dma.write(daddr, &wb).is_err() {
                // Fetched a moment ago: only an unmap in between gets here.
                self.counters.rx_dma_errors += 1;
                return true;
            }
            self.counters.rx_descriptors += 1;
            h = (h + 1) % count;
        }
        self.set(queue_off(false, q, Q_HEAD), h);
        self.stats.rx_good(&frame[..6], frame.len());
        self.counters.rx_frames += 1;
        self.counters.rx_bytes += frame.len() as u64;
        // Counted here, once per frame: a frame that waited in the packet buffer was
        // classified at every attempt to place it.
        if c.rss.is_some() {
            self.counters.rx_rss_hashed += 1;
        }
        if self.timing.is_some() {
            self.timed_rx(q, data.len(), needed);
        }
        self.post(Cause::RxQueue(q));
        true
    }

    fn drop_no_descriptor(&mut self, q: usize) {
        self.stats.add(stats::RNBC, 1);
        let off = queue_off(false, q, Q_RQDPC);
        self.set(off, self.get(off).wrapping_add(1));
        self.counters.rx_no_descriptor_drops += 1;
    }

    /// The descriptor's packet type, RSS fields and checksum status for `frame`.
    fn rx_report(
        &mut self,
        frame: &[u8],
        parsed: Option<&Parsed>,
        c: &Classified,
    ) -> (u32, u32, u32) {
        let rxcsum = self.get(RXCSUM);
        let mut status = 0;
        let mut ptype = 0u32;
        let csum = parsed.map_or_else(Default::default, |p| rxcsum::validate_parsed(frame, p));
        let ethertype_at = if c.vlan.is_some() { 16 } else { 12 };
        if frame.get(ethertype_at..ethertype_at + 2) == Some(&[0x86, 0xdd]) {
            ptype |= 1 << 2;
        }
        if let Some(ok) = csum.outer_ipv4 {
            ptype |= 1 << 0;
            if rxcsum & RXCSUM_IPOFLD != 0 {
                status |= STAT_IPCS;
                if !ok {
                    status |= ERR_IPE;
                }
            }
        }
        if let Some((kind, ok)) = csum.outer_l4 {
            ptype |= if kind == L4Kind::Tcp { 1 << 4 } else { 1 << 5 };
            if rxcsum & RXCSUM_TUOFLD != 0 {
                status |= STAT_L4CS;
                if kind == L4Kind::Udp {
                    status |= STAT_UDPCS;
                }
                if ok {
                    self.counters.rx_csum_good += 1;
                } else {
                    status |= ERR_L4E;
                    self.counters.rx_csum_bad += 1;
                }
            }
        }
        let rss_type = match c.rss.map(|r| r.kind) {
            Some(HashKind::TcpIpv4) => 1,
            Some(HashKind::Ipv4) => 2,
            Some(HashKind::TcpIpv6) => 3,
            Some(HashKind::Ipv6Ex) => 4,
            Some(HashKind::Ipv6) => 5,
            Some(HashKind::TcpIpv6Ex) => 6,
            Some(HashKind::UdpIpv4) => 7,
            Some(HashKind::UdpIpv6) => 8,
            Some(HashKind::UdpIpv6Ex) => 9,
            None => 0,
        };
        let dword1 = if rxcsum & RXCSUM_PCSD != 0 {
            c.rss.map_or(0, |r| r.hash)
        } else {
            0
        };
        ((ptype << 4) | rss_type, dword1, status)
    }
}
