//! Transmit: advanced context and data descriptors feeding the offload engines.
//!
//! Descriptor layouts (82576 datasheet, "Transmit Descriptors"):
//! - context (DTYP=2): vlan_macip_lens {IPLEN 8:0, MACLEN 15:9, VLAN 31:16},
//!   seqnum_seed, type_tucmd_mlhl {TUCMD 19:9 incl. IPV4 bit 10 and L4T 12:11, DTYP 23:20, DEXT 29},
//!   mss_l4len_idx {IDX 6:4, L4LEN 15:8, MSS 31:16};
//! - data (DTYP=3): buffer address, cmd_type_len {DTALEN 15:0, DTYP 23:20,
//!   DCMD 31:24 = EOP, IFCS, -, RS, -, DEXT, VLE, TSE}, olinfo_status {DD 0, IDX 6:4, CC 7,
//!   POPTS 13:8 = IXSM, TXSM, PAYLEN 31:14}.
//! - legacy (DEXT=0): buffer, length 15:0, CSO 23:16, CMD 31:24 {EOP, IFCS, IC, RS}, STA/CSS/VLAN.

use dma::SgList;
use offload_engines::cost::TxShape;
use offload_engines::segment::{L4Kind, ReplicateParams};
use offload_engines::txcsum;

use super::interrupts::Cause;
use super::regs::*;
use super::Igb;
use crate::doorbell::TxBudget;
use crate::timing::{Completion, WriteBack};

const DESC_LEN: u64 = 16;
const DTYP_CONTEXT: u32 = 2;
const DTYP_DATA: u32 = 3;
const DCMD_EOP: u32 = 1 << 24;
const DCMD_RS: u32 = 1 << 27;
const DCMD_DEXT: u32 = 1 << 29;
const DCMD_VLE: u32 = 1 << 30;
const DCMD_TSE: u32 = 1 << 31;
const POPTS_IXSM: u32 = 1 << 8;
const POPTS_TXSM: u32 = 1 << 9;
const TUCMD_IPV4: u32 = 1 << 10;
const TUCMD_L4T_TCP: u32 = 1 << 11;
const TUCMD_L4T_MASK: u32 = 3 << 11;
const STA_DD: u32 = 1;
/// Largest packet the 82576 accepts from the host: a 64 KiB TSO payload plus headers.
pub const MAX_TX_PACKET: usize = 256 * 1024;
/// Largest frame put on the wire without TSO (jumbo 9.5 KiB plus VLAN tag).
const MAX_TX_FRAME: usize = 9728 + 4;
/// Frames shorter than this are padded when TCTL.PSP is set (64 with FCS).
const MIN_FRAME: usize = 60;

/// One context slot (the 82576 keeps two per queue).
#[derive(Debug, Default, Clone, Copy)]
pub struct Context {
    pub maclen: usize,
    pub iplen: usize,
    pub vlan: u16,
    pub tucmd: u32,
    pub mss: usize,
    pub l4len: usize,
}

/// The data descriptors of a packet seen so far (it ends at EOP).
#[derive(Default)]
pub struct PendingPacket {
    pub sg: SgList,
    /// cmd_type_len and olinfo_status of the first data descriptor.
    pub first: Option<(u32, u32)>,
    pub legacy_cso: Option<(usize, usize)>,
    pub broken: bool,
}

impl PendingPacket {
    fn clear(&mut self) {
        self.sg.clear();
        self.first = None;
        self.legacy_cso = None;
        self.broken = false;
    }
}

impl Igb {
    fn ring(&self, tx: bool, q: usize) -> (u64, u32, u32, u32) {
        let base = u64::from(self.get(queue_off(tx, q, Q_BAL)))
            | (u64::from(self.get(queue_off(tx, q, Q_BAH))) << 32);
        let count = self.get(queue_off(tx, q, Q_LEN)) / DESC_LEN as u32;
        (
            base,
            count,
            self.get(queue_off(tx, q, Q_HEAD)),
            self.get(queue_off(tx, q, Q_TAIL)),
        )
    }

    /// Processes queue `q` from TDH towards TDT: at most one ring's worth and one
    /// [`TxBudget`] per call; what is left is deferred to the port's worker, so a
    /// doorbell's work under the device lock is bounded.
    pub(super) fn tx_process(&mut self, q: usize) {
        if self.get(TCTL) & TCTL_EN == 0 || self.get(queue_off(true, q, Q_CTL)) & TXDCTL_ENABLE == 0
        {
            return;
        }
        let (base, count, mut head, tail) = self.ring(true, q);
        if count == 0 || head == tail {
            return;
        }
        if head >= count || tail >= count {
            self.counters.ring_errors += 1;
            tracing::warn!(
                queue = q,
                head,
                tail,
                count,
                "Tx head or tail beyond the ring: queue stalled"
            );
            return;
        }
        let mut completed = false;
        let mut budget = TxBudget::start(self.counters.tx_bytes);
        let mut deferred = false;
        let mut fetched = DescriptorBurst::default();
        for _ in 0..count {
            if head == tail {
                break;
            }
            let between_packets = self.txq[q].packet.first.is_none();
            if between_packets && budget.spent(self.counters.tx_bytes) {
                self.counters.tx_deferred_passes += 1;
                self.deferred.defer(q);
                deferred = true;
                break;
            }
            if self.timing.is_some() && self.tx_must_stop(q) {
                break;
            }
            if between_packets && self.tx_held(q) {
                break;
            }
            budget.fetched();
            let addr = base.wrapping_add(u64::from(head) * DESC_LEN);
            self.counters.tx_descriptors += 1;
            let Some(d) = fetched.get(&self.dma, base, head, tail, count) else {
                self.counters.tx_dma_errors += 1;
                tracing::warn!(
                    queue = q,
                    addr,
                    "Tx descriptor fetch outside guest memory: queue stalled"
                );
                break;
            };
            let buf = u64::from_le_bytes(d[0..8].try_into().unwrap_or_default());
            let w2 = u32::from_le_bytes(d[8..12].try_into().unwrap_or_default());
            let w3 = u32::from_le_bytes(d[12..16].try_into().unwrap_or_default());
            if self.timing.is_some() {
                self.timed_fetch(q, w2 & DCMD_RS != 0);
            }
            let report = self.tx_descriptor(q, buf, w2, w3);
            if report {
                // Write back DD into the status dword of a descriptor that asked (RS);
                // paced, once the packet has completed in the model.
                let wb = WriteBack {
                    queue: q,
                    addr: addr.wrapping_add(12),
                    status: w3 | STA_DD,
                };
                match self.timing.as_mut() {
                    Some(t) if t.defers_write_backs() => t.defer(Completion::Status(wb)),
                    _ => completed |= self.write_back(wb),
                }
            }
            head = (head + 1) % count;
        }
        self.set(queue_off(true, q, Q_HEAD), head);
        let held = deferred && self.timing.as_mut().is_some_and(|t| t.hold_for_next_pass());
        if self.timing.is_some() && !held {
            self.flush_timed_tx();
        }
        if completed {
            self.post(Cause::TxQueue(q));
        }
    }

    /// Writes a descriptor's status back; whether it completed the descriptor (the
    /// write may fall outside guest memory: counted, and no completion).
    pub(super) fn write_back(&mut self, wb: WriteBack) -> bool {
        if self.dma.write(wb.addr, &wb.status.to_le_bytes()).is_err() {
            self.counters.tx_dma_errors += 1;
            tracing::warn!(
                queue = wb.queue,
                addr = wb.addr,
                "Tx write-back outside guest memory: dropped"
            );
            return false;
        }
        true
    }

    /// Handles one descriptor; returns whether it asks for a status write-back.
    fn tx_descriptor(&mut self, q: usize, buf: u64, w2: u32, w3: u32) -> bool {
        let dext = w2 & DCMD_DEXT != 0;
        let dtyp = (w2 >> 20) & 0xf;
        if dext && dtyp == DTYP_CONTEXT {
            let idx = ((w3 >> 4) & 1) as usize;
            let lo = buf as u32;
            self.txq[q].contexts[idx] = Context {
                iplen: (lo & 0x1ff) as usize,
                maclen: ((lo >> 9) & 0x7f) as usize,
                vlan: (lo >> 16) as u16,
                tucmd: w2,
                l4len: ((w3 >> 8) & 0xff) as usize,
                mss: (w3 >> 16) as usize,
            };
            return w2 & DCMD_RS != 0;
        }
        if dext && dtyp != DTYP_DATA {
            self.counters.tx_bad_descriptors += 1;
            tracing::warn!(queue = q, dtyp, "Tx descriptor of unknown type skipped");
            return w2 & DCMD_RS != 0;
        }
        let len = (w2 & 0xffff) as usize;
        let pkt = &mut self.txq[q].packet;
        if pkt.first.is_none() {
            pkt.first = Some((w2, w3));
            if !dext {
                // Legacy descriptor checksum: CSO in w2 23:16, CSS in w3 15:8.
                if w2 & (1 << 26) != 0 {
                    pkt.legacy_cso =
                        Some((((w3 >> 8) & 0xff) as usize, ((w2 >> 16) & 0xff) as usize));
                }
            }
        }
        if pkt.sg.len().saturating_add(len) > MAX_TX_PACKET {
            pkt.broken = true;
        } else if len > 0 {
            pkt.sg.push(buf, len);
        }
        let rs = w2 & DCMD_RS != 0;
        if w2 & DCMD_EOP != 0 {
            self.tx_packet(q);
        }
        rs
    }

    /// The descriptors of one packet are complete: gather, offload, send.
    fn tx_packet(&mut self, q: usize) {
        let mut pkt = std::mem::take(&mut self.txq[q].packet);
        let Some((cmd, olinfo)) = pkt.first else {
            pkt.clear();
            self.txq[q].packet = pkt;
            return;
        };
        let mut frame = std::mem::take(&mut self.scratch);
        frame.clear();
        let ok = !pkt.broken && pkt.sg.gather(&self.dma, &mut frame, MAX_TX_PACKET).is_ok();
        let legacy_cso = pkt.legacy_cso;
        pkt.clear();
        self.txq[q].packet = pkt;
        if !ok {
            self.counters.tx_dma_errors += 1;
            tracing::warn!(
                queue = q,
                "Tx packet buffers outside guest memory or too large: dropped"
            );
            self.scratch = frame;
            return;
        }
        let ctx = self.txq[q].contexts[((olinfo >> 4) & 1) as usize];
        if cmd & DCMD_DEXT != 0 && cmd & DCMD_VLE != 0 {
            insert_vlan(&mut frame, self.get(VET) as u16, ctx.vlan);
        }
        let tso = cmd & DCMD_DEXT != 0 && cmd & DCMD_TSE != 0;
        // The packet's cost is booked after its frames are produced.
        let shape = self.timing.is_some().then(|| {
            let checksum = tso
                || (cmd & DCMD_DEXT != 0 && olinfo & (POPTS_IXSM | POPTS_TXSM) != 0)
                || (cmd & DCMD_DEXT == 0 && legacy_cso.is_some());
            TxShape {
                bytes: frame.len() as u64,
                header_len: if tso {
                    (ctx.maclen + ctx.iplen + ctx.l4len) as u32
                } else {
                    0
                },
                mss: if tso { ctx.mss as u32 } else { 0 },
                checksum,
                ..TxShape::default()
            }
        });
        if tso {
            self.tx_tso(q, &frame, &ctx, olinfo);
        } else {
            if cmd & DCMD_DEXT != 0 {
                self.tx_checksums(&mut frame, &ctx, olinfo);
            } else if let Some((css, cso)) = legacy_cso {
                if txcsum::insert_l4(&mut frame, css, cso.saturating_sub(css), false).is_err() {
                    self.counters.tx_csum_errors += 1;
                }
            }
            if frame.len() > MAX_TX_FRAME {
                self.counters.tx_oversize_dropped += 1;
                tracing::warn!(
                    queue = q,
                    len = frame.len(),
                    "Tx frame longer than the MAC sends: dropped"
                );
            } else {
                self.emit(&frame);
            }
        }
        if let Some(shape) = shape {
            self.timed_packet(q, shape);
        }
        self.scratch = frame;
    }

    fn tx_checksums(&mut self, frame: &mut [u8], ctx: &Context, olinfo: u32) {
        if olinfo & (POPTS_IXSM | POPTS_TXSM) == 0 {
            return;
        }
        self.counters.tx_csum_offloads += 1;
        let mut ok = true;
        if olinfo & POPTS_IXSM != 0 && ctx.tucmd & TUCMD_IPV4 != 0 {
            ok &= txcsum::insert_ipv4_header(frame, ctx.maclen, ctx.iplen).is_ok();
        }
        if olinfo & POPTS_TXSM != 0 {
            let start = ctx.maclen + ctx.iplen;
            ok &= match ctx.tucmd & TUCMD_L4T_MASK {
                TUCMD_L4T_TCP => txcsum::insert_l4(frame, start, 16, false).is_ok(),
                0 => txcsum::insert_l4(frame, start, 6, true).is_ok(),
                // SCTP's CRC32c is not offered by this model: the frame goes out as given.
                _ => true,
            };
        }
        if !ok {
            self.counters.tx_csum_errors += 1;
            tracing::warn!(
                maclen = ctx.maclen,
                iplen = ctx.iplen,
                "Tx checksum offsets outside the frame: sent unchanged"
            );
        }
    }

    fn tx_tso(&mut self, q: usize, frame: &[u8], ctx: &Context, olinfo: u32) {
        let masks_lo = self.get(DTXTCPFLGL);
        let masks_hi = self.get(DTXTCPFLGH);
        let p = ReplicateParams {
            maclen: ctx.maclen,
            iplen: ctx.iplen,
            l4len: ctx.l4len,
            mss: ctx.mss,
            ipv4: ctx.tucmd & TUCMD_IPV4 != 0,
            l4: if ctx.tucmd & TUCMD_L4T_MASK == TUCMD_L4T_TCP {
                L4Kind::Tcp
            } else {
                L4Kind::Udp
            },
            tcp_flag_masks: [
                (masks_lo & 0xfff) as u16,
                ((masks_lo >> 16) & 0xfff) as u16,
                (masks_hi & 0xfff) as u16,
            ],
        };
        let paylen = (olinfo >> 14) as usize;
        let hdr = ctx.maclen + ctx.iplen + ctx.l4len;
        if hdr + paylen != frame.len() {
            tracing::debug!(
                queue = q,
                paylen,
                hdr,
                len = frame.len(),
                "TSO PAYLEN disagrees with the buffers; buffers win"
            );
        }
        self.counters.tso_packets += 1;
        self.counters.tso_udp += u64::from(p.l4 == L4Kind::Udp);
        if ctx.iplen > 60 {
            self.counters.tso_tunnel_headers += 1;
        }
        // Each segment goes onto the wire as it is built (the segmenter checks the
        // headers before the first), so no doorbell holds a packet's segments.
        let mut segmenter = std::mem::take(&mut self.segmenter);
        let result = segmenter.replicate(frame, &p, &mut |seg| {
            if seg.len() > MAX_TX_FRAME {
                self.counters.tx_oversize_dropped += 1;
                tracing::warn!(
                    queue = q,
                    len = seg.len(),
                    mss = ctx.mss,
                    "TSO segment longer than the MAC sends: dropped"
                );
                return;
            }
            self.emit(seg);
        });
        self.segmenter = segmenter;
        match result {
            Ok(s) => {
                self.counters.tso_segments += s.segments as u64;
                self.stats.add(super::stats::TSCTC, 1);
            }
            Err(e) => {
                self.counters.tso_errors += 1;
                self.stats.add(super::stats::TSCTFC, 1);
                tracing::warn!(queue = q, error = %e, "TSO context unusable: packet dropped");
            }
        }
    }

    /// Puts one frame on the wire (or back into our receiver under loopback).
    fn emit(&mut self, frame: &[u8]) {
        let padded;
        let frame = if frame.len() < MIN_FRAME && self.get(TCTL) & TCTL_PSP != 0 {
            let mut f = frame.to_vec();
            f.resize(MIN_FRAME, 0);
            padded = f;
            &padded[..]
        } else {
            frame
        };
        self.stats.tx_good(frame);
        self.counters.tx_frames += 1;
        self.counters.tx_bytes += frame.len() as u64;
        if self.get(RCTL) & RCTL_LBM_MASK != 0 || self.phy.loopback() {
            // Straight into our own receiver, where the bounded receive FIFO holds
            // it like a frame from the wire (or drops and counts it when full).
            self.counters.loopback_frames += 1;
            self.receive_frame(frame);
            return;
        }
        if self.link_up() {
            match self.timing.as_mut() {
                // Held until the model says when the doorbell's frames leave.
                Some(t) => t.push_frame(frame),
                None => self.wire.transmit(frame),
            }
        }
    }
}

/// Inserts an 802.1Q tag after the MAC addresses (VLE).
fn insert_vlan(frame: &mut Vec<u8>, tpid: u16, tci: u16) {
    if frame.len() < 12 {
        return;
    }
    let mut tag = [0u8; 4];
    tag[..2].copy_from_slice(&tpid.to_be_bytes());
    tag[2..].copy_from_slice(&tci.to_be_bytes());
    frame.splice(12..12, tag);
}

/// Descriptors the queue fetched ahead in one DMA read, as the 82576 fills its
/// on-chip descriptor cache in bursts: only descriptors the driver has handed over
/// (between TDH and TDT), never past the ring's end. One guest-memory access per
/// burst instead of per descriptor is most of a small frame's fetch cost.
struct DescriptorBurst {
    first: u32,
    len: u32,
    bytes: [u8; BURST as usize * DESC_LEN as usize],
}

/// Descriptors per burst.
const BURST: u32 = 16;

impl Default for DescriptorBurst {
    fn default() -> Self {
        Self {
            first: 0,
            len: 0,
            bytes: [0; BURST as usize * DESC_LEN as usize],
        }
    }
}

impl DescriptorBurst {
    /// Descriptor `head`, fetched with the ones after it when it is not held yet;
    /// `None` when it lies outside guest memory (a burst that does is retried one
    /// descriptor at a time, so the error names the exact descriptor).
    fn get(
        &mut self,
        dma: &dma::DmaSpace,
        base: u64,
        head: u32,
        tail: u32,
        count: u32,
    ) -> Option<[u8; 16]> {
        if !(self.first..self.first + self.len).contains(&head) {
            // Up to TDT, or to the ring's end when TDT has wrapped.
            let handed_over = if tail > head {
                tail - head
            } else {
                count - head
            };
            let n = handed_over.clamp(1, BURST);
            let addr = base.wrapping_add(u64::from(head) * DESC_LEN);
            let want = n as usize * DESC_LEN as usize;
            self.first = head;
            self.len = if dma.read(addr, &mut self.bytes[..want]).is_ok() {
                n
            } else if dma.read(addr, &mut self.bytes[..DESC_LEN as usize]).is_ok() {
                1
            } else {
                0
            };
            if self.len == 0 {
                return None;
            }
        }
        let at = (head - self.first) as usize * DESC_LEN as usize;
        self.bytes[at..at + 16].try_into().ok()
    }
}
