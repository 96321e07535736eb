//! Transmit: data and context descriptors feeding the offload engines.
//!
//! Descriptor layouts (`i40e_type.h`; `../shared/i40e-digest.md` §3.1), 16 bytes each:
//! - data (DTYPE 0): qw0 buffer address; qw1 DTYPE 0..3, CMD 4..13 {EOP, RS, ICRC, IL2TAG1,
//!   DUMMY, IIPT 5..6, FCOET, L4T 8..9}, OFFSET 16..33 {MACLEN 7 bits x2 B, IPLEN 7 bits x4 B,
//!   L4LEN 4 bits x4 B}, BUF_SZ 34..47, L2TAG1 48..63;
//! - context (DTYPE 1), for the packet whose data descriptors follow: qw0 tunnelling word
//!   {EIPT 0..1, EIPLEN 2..7 (x4 B), L4TUNT 9..10, EIP_NOINC 11, NATLEN 12..18 (x2 B),
//!   DECTTL 19..22, L4T_CS 23} and L2TAG2 32..47; qw1 DTYPE, CMD 4..19 {TSO, TSYN, IL2TAG2,
//!   IL2TAG2_IL2H, SWTCH, SWPE}, TLEN 30..47, MSS 50..63;
//! - filter programming (DTYPE 8, Flow Director / ATR sideband): counted and skipped;
//!   every other type is a bad descriptor, counted and skipped.
//!
//! Completion: with `head_wb_ena` (Linux) the new head is written as a le32 at
//! `head_wb_addr` after each doorbell's batch, whatever RS says (Linux sets RS on every
//! fourth packet only); without it (DPDK) every data descriptor with RS gets DTYPE 0xF
//! (DESC_DONE) written into its qw1. Either way QTX_HEAD follows and the queue cause
//! (QINT_TQCTL) is raised.
//!
//! Decisions where the drivers do not settle silicon behaviour **[tunic]**:
//! - Offload fields (CMD, OFFSET, L2TAG1) come from a packet's first data descriptor
//!   (both drivers write the same values into every descriptor of a packet).
//! - A context descriptor applies to the next packet that starts after it; a second one
//!   before that packet replaces the first.
//! - Plain TSO and checksum insertion compute IPv4 header checksums from scratch (the
//!   field is zeroed first), so a seeded or stale field does not matter. Under TSO the
//!   IPv4 header checksums are rewritten even with IIPT/EIPT "IPv4 without checksum",
//!   since the lengths and IDs change per segment.
//! - TSO flag masks: GLLAN_TSOMSK_F/M/L hold the flags to clear (Linux writes PSH|FIN,
//!   PSH|FIN|CWR, CWR). A TSO whose payload fits one segment keeps every flag. Tunnel TSO
//!   applies the same registers (patched on top of the engine's R-25 masks when they differ).
//! - EIP_NOINC (neither driver sets it): the outer IPv4 ID stays at the packet's value in
//!   every segment (the inner ID still advances); the outer checksum is updated to match.
//! - The GRE header is copied per segment; a GRE checksum (C=1) is recomputed by the
//!   engine, which for the MSS-sized segments of Linux GSO_PARTIAL gives the value the
//!   stack precomputed (local checksum offload), and a GRE sequence number advances.
//! - Tunnel TSO takes the header versions from the frame, not from EIPT/IIPT, and checks
//!   the descriptor offsets against the parsed headers: a mismatch drops the packet.
//! - TSO of UDP tunnels (VXLAN/GENEVE) and IP-in-IP is refused (counted); checksum
//!   insertion works for any tunnel, since it only needs the descriptor offsets.
//! - MSS below 64 is refused (Linux's `i40e_features_check` never sends it).
//! - VLAN insertion: L2TAG2 (context IL2TAG2) is the outer tag with TPID 0x88A8, L2TAG1
//!   (data IL2TAG1) the inner one with 0x8100 (Linux's switch config: first_tag 802.1ad,
//!   second_tag 802.1Q). Tags are inserted into each segment after segmentation, so the
//!   descriptor offsets describe the untagged frame.
//! - Frames shorter than 60 bytes are padded (the MAC pads; the drivers pad only to 17).
//!   Packets shorter than 17 bytes (`I40E_MIN_TX_LEN`) are dropped and counted.
//! - Data descriptors with DUMMY (Flow Director programming packets) are consumed but
//!   not transmitted.
//! - SCTP (L4T 2) checksum insertion computes the CRC32c over the SCTP packet.
//! - A descriptor fetch outside guest memory or a head/tail beyond the ring stops the
//!   queue until it is enabled again (QTX_ENA), as a malicious-driver event would.

use dma::SgList;
use offload_engines::checksum::incremental_update;
use offload_engines::segment::{
    L4Kind, ReplicateParams, SegmentError, SegmentStats, Segmenter, TunnelOffsets,
    LSO_TCP_FLAG_MASKS,
};
use offload_engines::txcsum;
use serde::Serialize;

use super::hmc::TxContext;
use super::regs::*;
use super::I40e;
use crate::doorbell::TxBudget;
use crate::wire::FrameSink;

const DESC_LEN: u64 = 16;

const DTYPE_MASK: u64 = 0xF;
const DTYPE_DATA: u64 = 0x0;
const DTYPE_CONTEXT: u64 = 0x1;
const DTYPE_FILTER_PROG: u64 = 0x8;
const DTYPE_DESC_DONE: u64 = 0xF;

// Data descriptor CMD (qw1 bits 4..13, shifted down).
const CMD_EOP: u16 = 0x0001;
const CMD_RS: u16 = 0x0002;
const CMD_IL2TAG1: u16 = 0x0008;
const CMD_DUMMY: u16 = 0x0010;
const CMD_IIPT_SHIFT: u16 = 5;
const CMD_L4T_SHIFT: u16 = 8;
const IIPT_NONIP: u16 = 0;
const IIPT_IPV6: u16 = 1;
const IIPT_IPV4_CSUM: u16 = 3;
const L4T_TCP: u16 = 1;
const L4T_SCTP: u16 = 2;
const L4T_UDP: u16 = 3;

// Context descriptor CMD (qw1 bits 4..19, shifted down).
const CTX_CMD_TSO: u16 = 0x0001;
const CTX_CMD_TSYN: u16 = 0x0002;
const CTX_CMD_IL2TAG2: u16 = 0x0004;
const CTX_CMD_IGNORED: u16 = 0x0008 | 0x0030 | 0x0040;

// Tunnelling word (context qw0 bits 0..31).
const EIPT_IPV4_CSUM: u32 = 3;
const L4TUNT_NONE: u32 = 0;
const L4TUNT_UDP: u32 = 1;
const L4TUNT_GRE: u32 = 2;
const TUN_EIP_NOINC: u32 = 1 << 11;

const GRE_FLAG_C: u16 = 0x8000;
const GRE_FLAG_K: u16 = 0x2000;
const GRE_FLAG_S: u16 = 0x1000;

const TPID_8021Q: u16 = 0x8100;
const TPID_8021AD: u16 = 0x88A8;

/// Largest packet gathered from the host: a 256 KiB TSO super-packet cap (TLEN is
/// 18 bits) with its headers.
pub const MAX_TX_PACKET: usize = 256 * 1024;
/// Largest frame put on the wire: a 9728-byte maximum frame plus two inserted tags.
pub const MAX_TX_FRAME: usize = 9728 + 8;
/// Frames shorter than this (60 + FCS = 64) are padded by the MAC.
const MIN_FRAME: usize = 60;
/// `I40E_MIN_TX_LEN`: the drivers never hand over shorter packets.
const MIN_TX_LEN: usize = 17;
/// Smallest MSS segmented (`i40e_features_check` turns TSO off below it).
const MIN_TSO_MSS: usize = 64;
const TCP_FLAG_BITS: u16 = 0x0FFF;

// Causes logged once per queue (bits of `TxQueue::warned`).
const W_RING: u32 = 1 << 0;
const W_DESC_DMA: u32 = 1 << 1;
const W_BAD_DTYPE: u32 = 1 << 2;
const W_PKT_DMA: u32 = 1 << 3;
const W_OVERSIZE: u32 = 1 << 4;
const W_TSO: u32 = 1 << 5;
const W_CSUM: u32 = 1 << 6;
const W_WB_DMA: u32 = 1 << 7;
const W_RUNT: u32 = 1 << 8;
const W_FRAME_LONG: u32 = 1 << 9;
const W_CTX_CMD: u32 = 1 << 10;
const W_TLEN: u32 = 1 << 11;

/// Offload fields of a packet's first data descriptor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct DataCmd {
    cmd: u16,
    offset: u32,
    l2tag1: u16,
}

impl DataCmd {
    fn from_qw1(qw1: u64) -> Self {
        Self {
            cmd: ((qw1 >> 4) & 0x3FF) as u16,
            offset: ((qw1 >> 16) & 0x3_FFFF) as u32,
            l2tag1: (qw1 >> 48) as u16,
        }
    }
    fn maclen(&self) -> usize {
        (self.offset & 0x7F) as usize * 2
    }
    fn iplen(&self) -> usize {
        ((self.offset >> 7) & 0x7F) as usize * 4
    }
    fn l4len(&self) -> usize {
        ((self.offset >> 14) & 0xF) as usize * 4
    }
    fn iipt(&self) -> u16 {
        (self.cmd >> CMD_IIPT_SHIFT) & 3
    }
    fn l4t(&self) -> u16 {
        (self.cmd >> CMD_L4T_SHIFT) & 3
    }
}

/// A context descriptor, decoded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct CtxDesc {
    tunnel: u32,
    l2tag2: u16,
    cmd: u16,
    tlen: u32,
    mss: u16,
}

impl CtxDesc {
    fn from_qws(qw0: u64, qw1: u64) -> Self {
        Self {
            tunnel: qw0 as u32,
            l2tag2: (qw0 >> 32) as u16,
            cmd: ((qw1 >> 4) & 0xFFFF) as u16,
            tlen: ((qw1 >> 30) & 0x3_FFFF) as u32,
            mss: ((qw1 >> 50) & 0x3FFF) as u16,
        }
    }
    fn eipt(&self) -> u32 {
        self.tunnel & 3
    }
    fn eiplen(&self) -> usize {
        ((self.tunnel >> 2) & 0x3F) as usize * 4
    }
    fn l4tunt(&self) -> u32 {
        (self.tunnel >> 9) & 3
    }
    fn natlen(&self) -> usize {
        ((self.tunnel >> 12) & 0x7F) as usize * 2
    }
    /// An outer IP header is described: the packet is tunnelled.
    fn tunnelled(&self) -> bool {
        self.eipt() != 0
    }
    fn tso(&self) -> bool {
        self.cmd & CTX_CMD_TSO != 0
    }
}

/// The descriptors of the packet being gathered (it ends at EOP).
#[derive(Debug, Default)]
struct PendingPacket {
    sg: SgList,
    first: Option<DataCmd>,
    ctx: Option<CtxDesc>,
    /// More than [`MAX_TX_PACKET`] bytes described: dropped at EOP.
    oversize: bool,
}

impl PendingPacket {
    fn reset(&mut self) {
        self.sg.clear();
        self.first = None;
        self.ctx = None;
        self.oversize = false;
    }
}

/// Per Tx queue state between doorbells.
#[derive(Debug, Default)]
pub struct TxQueue {
    /// The context read at queue enable; `None` while the queue is disabled.
    pub ctx: Option<TxContext>,
    pub head: u16,
    /// A ring error stopped the queue; QTX_ENA starts it again.
    pub stalled: bool,
    /// A context descriptor waiting for its packet.
    next_ctx: Option<CtxDesc>,
    packet: PendingPacket,
    /// Reused for frames that get tags inserted, padding or per-segment patches.
    frame_buf: Vec<u8>,
    /// Causes already logged on this queue (`W_*` bits).
    warned: u32,
}

impl TxQueue {
    pub fn started(ctx: TxContext) -> Self {
        Self {
            ctx: Some(ctx),
            head: ctx.head,
            ..Self::default()
        }
    }

    /// Whether `cause` is logged for the first time on this queue.
    fn first(&mut self, cause: u32) -> bool {
        let new = self.warned & cause == 0;
        self.warned |= cause;
        new
    }
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct TxCounters {
    /// Frames put on the wire (TSO segments included) and their bytes.
    pub tx_frames: u64,
    pub tx_bytes: u64,
    /// Descriptors consumed, of every type.
    pub tx_descriptors: u64,
    /// Packets with the context TSO bit (segmented or refused) and the segments made.
    pub tso_packets: u64,
    pub tso_segments: u64,
    /// GRE/NVGRE TSO done in the device: the conformance evidence for tunnel LSO.
    pub tso_tunnel_packets: u64,
    /// Of `tso_packets`, UDP segmentation (L4T = UDP): Linux's USO.
    pub tso_udp: u64,
    /// TSO packets refused (bad parameters, unsupported tunnel, engine refusal): dropped.
    pub tso_errors: u64,
    /// Of `tso_errors`: UDP-tunnel or IP-in-IP TSO, which tunic does not segment.
    pub tso_tunnel_refused: u64,
    /// TSO packets whose TLEN disagreed with the buffers (the buffers win).
    pub tso_tlen_mismatches: u64,
    /// Packets with at least one checksum inserted without TSO.
    pub tx_csum_offloads: u64,
    /// Checksum requests with an offset outside the frame: sent with the checksums
    /// that could be inserted.
    pub tx_csum_errors: u64,
    /// Descriptor fetches, buffer reads or write-backs outside guest memory.
    pub tx_dma_errors: u64,
    /// Descriptors of an unknown or unexpected type, skipped.
    pub tx_bad_descriptors: u64,
    /// Flow Director programming descriptors (DTYPE 8), skipped.
    pub tx_fdir_descriptors: u64,
    /// Packets marked DUMMY (Flow Director programming packets), not transmitted.
    pub tx_dummy_packets: u64,
    /// Packets over [`MAX_TX_PACKET`] or frames over [`MAX_TX_FRAME`]: dropped.
    pub tx_oversize_dropped: u64,
    /// Packets shorter than 17 bytes: dropped.
    pub tx_runt_dropped: u64,
    /// Tx passes that stopped at their budget with descriptors left, resumed by the
    /// port's worker (`doorbell`): work, not an error.
    pub tx_deferred_passes: u64,
    /// Head or tail beyond the ring, or an empty ring: the queue stopped.
    pub tx_ring_errors: u64,
    /// Frames not sent because the link was down.
    pub tx_link_down_drops: u64,
}

/// Why a packet was not segmented.
#[derive(Debug)]
enum Refused {
    Engine(SegmentError),
    Params(&'static str),
    Tunnel(&'static str),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Engine(e) => write!(f, "{e}"),
            Refused::Params(s) => f.write_str(s),
            Refused::Tunnel(s) => write!(f, "not supported: {s}"),
        }
    }
}

/// A per-segment edit of a frame before its tags are inserted.
type Patch<'p> = &'p mut dyn FnMut(&mut [u8]);

/// Where frames leave: tag insertion, padding, length limit, link, counters.
struct Wire<'a> {
    sink: &'a mut dyn FrameSink,
    counters: &'a mut TxCounters,
    stats: &'a mut super::stats::Stats,
    /// Statistics index of the VSI that owns the queue.
    vsi: u16,
    buf: &'a mut Vec<u8>,
    /// (TPID, TCI) of the tags to insert after the MAC addresses, outermost first.
    tags: [Option<(u16, u16)>; 2],
    link_up: bool,
    /// A frame over [`MAX_TX_FRAME`] was dropped.
    too_long: bool,
}

impl Wire<'_> {
    fn send(&mut self, frame: &[u8]) {
        self.send_patched(frame, None);
    }

    /// Sends `frame`, after `patch` (at the untagged offsets) when given.
    fn send_patched(&mut self, frame: &[u8], patch: Option<Patch<'_>>) {
        let tagged = self.tags.iter().any(Option::is_some) && frame.len() >= 12;
        let out: &[u8] = if tagged || patch.is_some() || frame.len() < MIN_FRAME {
            let b = &mut *self.buf;
            b.clear();
            b.extend_from_slice(frame);
            if let Some(p) = patch {
                p(b);
            }
            if tagged {
                let mut tags = [0u8; 8];
                let mut n = 0;
                for (tpid, tci) in self.tags.iter().flatten() {
                    tags[n..n + 2].copy_from_slice(&tpid.to_be_bytes());
                    tags[n + 2..n + 4].copy_from_slice(&tci.to_be_bytes());
                    n += 4;
                }
                b.splice(12..12, tags[..n].iter().copied());
            }
            if b.len() < MIN_FRAME {
                b.resize(MIN_FRAME, 0);
            }
            b
        } else {
            frame
        };
        if out.len() > MAX_TX_FRAME {
            self.counters.tx_oversize_dropped += 1;
            self.too_long = true;
            return;
        }
        if !self.link_up {
            self.counters.tx_link_down_drops += 1;
            return;
        }
        self.stats.tx_vsi_frame(self.vsi, out);
        self.counters.tx_frames += 1;
        self.counters.tx_bytes += out.len() as u64;
        self.sink.transmit(out);
    }
}

fn be16_at(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

fn put16_at(b: &mut [u8], at: usize, v: u16) -> Option<()> {
    b.get_mut(at..at.checked_add(2)?)?
        .copy_from_slice(&v.to_be_bytes());
    Some(())
}

/// Replaces the 16-bit word at `at` and updates the checksum at `csum` to match.
fn patch_word(b: &mut [u8], at: usize, new: u16, csum: usize) -> Option<()> {
    let old = be16_at(b, at)?;
    if old == new {
        return Some(());
    }
    let c = be16_at(b, csum)?;
    put16_at(b, at, new)?;
    put16_at(b, csum, incremental_update(c, old, new))
}

/// Recomputes an IPv4 header checksum from scratch over `len` bytes at `off`.
fn ipv4_header_checksum(frame: &mut [u8], off: usize, len: usize) -> bool {
    let Some(field) = off.checked_add(10) else {
        return false;
    };
    let Some(saved) = be16_at(frame, field) else {
        return false;
    };
    let _ = put16_at(frame, field, 0);
    if txcsum::insert_ipv4_header(frame, off, len).is_ok() {
        true
    } else {
        let _ = put16_at(frame, field, saved);
        false
    }
}

const fn crc32c_table() -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x82F6_3B78
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

static CRC32C: [u32; 256] = crc32c_table();

fn crc32c(data: &[u8]) -> u32 {
    !data.iter().fold(!0u32, |c, &b| {
        CRC32C[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8)
    })
}

/// The SCTP checksum (RFC 4960 appendix B) over `frame[l4..]`, stored little-endian.
fn insert_sctp(frame: &mut [u8], l4: usize) -> bool {
    let Some(field) = l4.checked_add(8) else {
        return false;
    };
    let Some(end) = field.checked_add(4).filter(|&e| e <= frame.len()) else {
        return false;
    };
    frame[field..end].fill(0);
    let c = crc32c(&frame[l4..]);
    frame[field..end].copy_from_slice(&c.to_le_bytes());
    true
}

/// The TCP flag masks of a TSO from GLLAN_TSOMSK_F/M/L (flags to clear).
fn masks_from_regs(f: u32, m: u32, l: u32) -> [u16; 3] {
    [f, m, l].map(|r| !(r as u16) & TCP_FLAG_BITS)
}

impl I40e {
    /// QTX_TAIL was written: process queue `q` from its head towards the tail, at
    /// most one ring's worth and one [`TxBudget`]; the rest is deferred to the
    /// port's worker.
    pub(super) fn tx_process(&mut self, q: usize) {
        let Some(queue) = self.txq.get(q) else {
            return;
        };
        let Some(ctx) = queue.ctx else {
            return;
        };
        if queue.stalled {
            return;
        }
        let tail = self.get(QTX_TAIL + 4 * q as u32);
        let qlen = u32::from(ctx.qlen);
        let mut head = u32::from(queue.head);
        if qlen == 0 || head >= qlen || tail >= qlen {
            self.counters.tx.tx_ring_errors += 1;
            let queue = &mut self.txq[q];
            queue.stalled = true;
            if queue.first(W_RING) {
                tracing::warn!(
                    queue = q,
                    head,
                    tail,
                    qlen,
                    "Tx head or tail beyond the ring: queue stopped"
                );
            }
            return;
        }
        let mut processed = 0u32;
        let mut budget = TxBudget::start(self.counters.tx.tx_bytes);
        while head != tail && processed < qlen {
            let between_packets = self.txq[q].packet.first.is_none();
            if between_packets && budget.spent(self.counters.tx.tx_bytes) {
                self.counters.tx.tx_deferred_passes += 1;
                self.deferred.defer(q);
                break;
            }
            budget.fetched();
            let addr = ctx.base.wrapping_add(u64::from(head) * DESC_LEN);
            let mut d = [0u8; 16];
            if self.dma.read(addr, &mut d).is_err() {
                self.counters.tx.tx_dma_errors += 1;
                let queue = &mut self.txq[q];
                queue.stalled = true;
                if queue.first(W_DESC_DMA) {
                    tracing::warn!(
                        queue = q,
                        addr,
                        "Tx descriptor fetch outside guest memory: queue stopped"
                    );
                }
                break;
            }
            self.counters.tx.tx_descriptors += 1;
            let mut qw0 = [0u8; 8];
            let mut qw1 = [0u8; 8];
            qw0.copy_from_slice(&d[..8]);
            qw1.copy_from_slice(&d[8..]);
            let (qw0, qw1) = (u64::from_le_bytes(qw0), u64::from_le_bytes(qw1));
            let rs = self.tx_descriptor(q, qw0, qw1);
            if rs && !ctx.head_wb_ena {
                let done = (qw1 & !DTYPE_MASK) | DTYPE_DESC_DONE;
                if self
                    .dma
                    .write(addr.wrapping_add(8), &done.to_le_bytes())
                    .is_err()
                {
                    self.tx_wb_error(q, addr);
                }
            }
            head = (head + 1) % qlen;
            processed += 1;
        }
        if processed == 0 {
            return;
        }
        // head < qlen <= 8191: it fits the 13-bit field.
        self.txq[q].head = head as u16;
        self.set(QTX_HEAD + 4 * q as u32, head);
        if ctx.head_wb_ena
            && self
                .dma
                .write(ctx.head_wb_addr, &head.to_le_bytes())
                .is_err()
        {
            self.tx_wb_error(q, ctx.head_wb_addr);
        }
        self.raise_queue(QINT_TQCTL + 4 * q as u32);
    }

    fn tx_wb_error(&mut self, q: usize, addr: u64) {
        self.counters.tx.tx_dma_errors += 1;
        if self.txq[q].first(W_WB_DMA) {
            tracing::warn!(
                queue = q,
                addr,
                "Tx write-back outside guest memory: dropped"
            );
        }
    }

    /// Handles one descriptor; returns whether it is a data descriptor asking for a
    /// status write-back (RS).
    fn tx_descriptor(&mut self, q: usize, qw0: u64, qw1: u64) -> bool {
        match qw1 & DTYPE_MASK {
            DTYPE_DATA => {
                let d = DataCmd::from_qw1(qw1);
                let len = ((qw1 >> 34) & 0x3FFF) as usize;
                let queue = &mut self.txq[q];
                let pkt = &mut queue.packet;
                if pkt.first.is_none() {
                    pkt.first = Some(d);
                    pkt.ctx = queue.next_ctx.take();
                }
                if pkt.sg.len().saturating_add(len) > MAX_TX_PACKET {
                    pkt.oversize = true;
                } else if len > 0 && !pkt.oversize {
                    pkt.sg.push(qw0, len);
                }
                if d.cmd & CMD_EOP != 0 {
                    self.tx_packet(q);
                }
                d.cmd & CMD_RS != 0
            }
            DTYPE_CONTEXT => {
                let c = CtxDesc::from_qws(qw0, qw1);
                let queue = &mut self.txq[q];
                if c.cmd & (CTX_CMD_TSYN | CTX_CMD_IGNORED) != 0 && queue.first(W_CTX_CMD) {
                    tracing::debug!(
                        queue = q,
                        cmd = c.cmd,
                        "Tx context TSYN/IL2H/SWTCH/SWPE not modelled: ignored"
                    );
                }
                queue.next_ctx = Some(c);
                false
            }
            DTYPE_FILTER_PROG => {
                self.counters.tx.tx_fdir_descriptors += 1;
                false
            }
            dtype => {
                self.counters.tx.tx_bad_descriptors += 1;
                if self.txq[q].first(W_BAD_DTYPE) {
                    tracing::warn!(queue = q, dtype, "Tx descriptor of unexpected type skipped");
                }
                false
            }
        }
    }

    /// EOP: gather the packet, run its offloads, send it.
    fn tx_packet(&mut self, q: usize) {
        let queue = &mut self.txq[q];
        let mut pkt = std::mem::take(&mut queue.packet);
        let mut buf = std::mem::take(&mut queue.frame_buf);
        let mut frame = std::mem::take(&mut self.scratch);
        frame.clear();
        self.tx_packet_inner(q, &pkt, &mut frame, &mut buf);
        pkt.reset();
        let queue = &mut self.txq[q];
        queue.packet = pkt;
        queue.frame_buf = buf;
        self.scratch = frame;
    }

    fn tx_packet_inner(
        &mut self,
        q: usize,
        pkt: &PendingPacket,
        frame: &mut Vec<u8>,
        buf: &mut Vec<u8>,
    ) {
        let Some(d) = pkt.first else {
            return;
        };
        let c = pkt.ctx.unwrap_or_default();
        if pkt.oversize {
            self.counters.tx.tx_oversize_dropped += 1;
            if self.txq[q].first(W_OVERSIZE) {
                tracing::warn!(
                    queue = q,
                    max = MAX_TX_PACKET,
                    "Tx packet larger than the device gathers: dropped"
                );
            }
            return;
        }
        if let Err(e) = pkt.sg.gather(&self.dma, frame, MAX_TX_PACKET) {
            self.counters.tx.tx_dma_errors += 1;
            if self.txq[q].first(W_PKT_DMA) {
                tracing::warn!(queue = q, error = %e, "Tx packet buffer outside guest memory: dropped");
            }
            return;
        }
        if d.cmd & CMD_DUMMY != 0 {
            self.counters.tx.tx_dummy_packets += 1;
            return;
        }
        if frame.len() < MIN_TX_LEN {
            self.counters.tx.tx_runt_dropped += 1;
            if self.txq[q].first(W_RUNT) {
                tracing::warn!(
                    queue = q,
                    len = frame.len(),
                    "Tx packet shorter than 17 bytes: dropped"
                );
            }
            return;
        }
        let masks = masks_from_regs(
            self.get(GLLAN_TSOMSK_F),
            self.get(GLLAN_TSOMSK_M),
            self.get(GLLAN_TSOMSK_L),
        );
        let mut tags = [None, None];
        if c.cmd & CTX_CMD_IL2TAG2 != 0 {
            tags[0] = Some((TPID_8021AD, c.l2tag2));
        }
        if d.cmd & CMD_IL2TAG1 != 0 {
            tags[1] = Some((TPID_8021Q, d.l2tag1));
        }
        let mut segmenter = std::mem::take(&mut self.segmenter);
        // QTX_CTL: a VM queue (PFVF_Q = 1) belongs to the VSI in VFVM_INDX, any
        // other to the PF's main VSI; statistics index = VSI number.
        let qtx_ctl = self.get(QTX_CTL + 4 * q as u32);
        let vsi = if qtx_ctl & 3 == 1 {
            ((qtx_ctl >> 7) & 0x1FF) as u16
        } else {
            0
        };
        let link_up = self.link_up();
        let mut wire = Wire {
            sink: &mut *self.wire,
            counters: &mut self.counters.tx,
            stats: &mut self.stats,
            vsi,
            buf,
            tags,
            link_up,
            too_long: false,
        };
        let mut tlen_mismatch = false;
        let mut csum_error = false;
        let tso = if c.tso() {
            wire.counters.tso_packets += 1;
            let r = tso_packet(&mut segmenter, frame, &d, &c, masks, &mut wire);
            if let Ok((s, hdr)) = &r {
                wire.counters.tso_segments += s.segments as u64;
                if c.tunnelled() {
                    wire.counters.tso_tunnel_packets += 1;
                } else if d.l4t() == L4T_UDP {
                    wire.counters.tso_udp += 1;
                }
                tlen_mismatch = frame.len().checked_sub(*hdr) != Some(c.tlen as usize);
                if tlen_mismatch {
                    wire.counters.tso_tlen_mismatches += 1;
                }
            }
            Some(r)
        } else {
            match tx_checksums(frame, &d, &c) {
                Ok(true) => wire.counters.tx_csum_offloads += 1,
                Ok(false) => {}
                Err(()) => {
                    wire.counters.tx_csum_offloads += 1;
                    wire.counters.tx_csum_errors += 1;
                    csum_error = true;
                }
            }
            wire.send(frame);
            None
        };
        let too_long = wire.too_long;
        self.segmenter = segmenter;
        let queue = &mut self.txq[q];
        if let Some(Err(e)) = tso {
            self.counters.tx.tso_errors += 1;
            if matches!(e, Refused::Tunnel(_)) {
                self.counters.tx.tso_tunnel_refused += 1;
            }
            if queue.first(W_TSO) {
                tracing::warn!(queue = q, reason = %e, mss = c.mss, "TSO packet refused: dropped");
            }
        }
        if tlen_mismatch && queue.first(W_TLEN) {
            tracing::debug!(
                queue = q,
                tlen = c.tlen,
                len = frame.len(),
                "TSO TLEN disagrees with the buffers; buffers win"
            );
        }
        if csum_error && queue.first(W_CSUM) {
            tracing::warn!(
                queue = q,
                offset = d.offset,
                "Tx checksum offsets outside the frame: sent unchanged"
            );
        }
        if too_long && queue.first(W_FRAME_LONG) {
            tracing::warn!(
                queue = q,
                max = MAX_TX_FRAME,
                mss = c.mss,
                "Tx frame longer than the MAC sends: dropped"
            );
        }
    }
}

/// Offsets of the (inner, for tunnels) IP and L4 headers from the descriptors.
fn inner_offsets(d: &DataCmd, c: &CtxDesc) -> (usize, usize) {
    let ip = if c.tunnelled() {
        d.maclen() + c.eiplen() + c.natlen()
    } else {
        d.maclen()
    };
    (ip, ip + d.iplen())
}

/// Checksum insertion without TSO. Ok(whether anything was requested); Err when an
/// offset lies outside the frame (what could be done is done).
fn tx_checksums(frame: &mut [u8], d: &DataCmd, c: &CtxDesc) -> Result<bool, ()> {
    let (ip, l4) = inner_offsets(d, c);
    let mut asked = false;
    let mut ok = true;
    match d.l4t() {
        L4T_TCP => {
            asked = true;
            ok &= txcsum::insert_l4(frame, l4, 16, false).is_ok();
        }
        L4T_UDP => {
            asked = true;
            ok &= txcsum::insert_l4(frame, l4, 6, true).is_ok();
        }
        L4T_SCTP => {
            asked = true;
            ok &= insert_sctp(frame, l4);
        }
        _ => {}
    }
    if d.iipt() == IIPT_IPV4_CSUM {
        asked = true;
        ok &= ipv4_header_checksum(frame, ip, d.iplen());
    }
    if c.tunnelled() && c.eipt() == EIPT_IPV4_CSUM {
        asked = true;
        ok &= ipv4_header_checksum(frame, d.maclen(), c.eiplen());
    }
    if ok {
        Ok(asked)
    } else {
        Err(())
    }
}

/// TSO of one packet; on success the stats and the header length segmented.
fn tso_packet(
    seg: &mut Segmenter,
    frame: &mut [u8],
    d: &DataCmd,
    c: &CtxDesc,
    masks: [u16; 3],
    wire: &mut Wire<'_>,
) -> Result<(SegmentStats, usize), Refused> {
    let mss = usize::from(c.mss);
    if mss < MIN_TSO_MSS {
        return Err(Refused::Params("MSS below 64"));
    }
    if c.tunnelled() {
        tso_tunnel(seg, frame, d, c, masks, wire)
    } else {
        tso_plain(seg, frame, d, mss, masks, wire)
    }
}

fn tso_plain(
    seg: &mut Segmenter,
    frame: &mut [u8],
    d: &DataCmd,
    mss: usize,
    masks: [u16; 3],
    wire: &mut Wire<'_>,
) -> Result<(SegmentStats, usize), Refused> {
    let ipv4 = match d.iipt() {
        IIPT_NONIP => return Err(Refused::Params("TSO of a non-IP packet (IIPT 0)")),
        IIPT_IPV6 => false,
        _ => true,
    };
    let l4 = match d.l4t() {
        L4T_TCP => L4Kind::Tcp,
        L4T_UDP => L4Kind::Udp,
        _ => return Err(Refused::Params("TSO needs L4T TCP or UDP")),
    };
    let (maclen, iplen, l4len) = (d.maclen(), d.iplen(), d.l4len());
    let hdr = maclen + iplen + l4len;
    // A payload that fits one segment keeps every flag (it is first and last).
    let masks = if frame.len().saturating_sub(hdr) <= mss {
        [TCP_FLAG_BITS; 3]
    } else {
        masks
    };
    if ipv4 {
        // The engine sums the checksum field as seeded: start from zero.
        let _ = put16_at(frame, maclen + 10, 0);
    }
    let p = ReplicateParams {
        maclen,
        iplen,
        l4len,
        mss,
        ipv4,
        l4,
        tcp_flag_masks: masks,
    };
    seg.replicate(frame, &p, &mut |s| wire.send(s))
        .map(|s| (s, hdr))
        .map_err(Refused::Engine)
}

fn tso_tunnel(
    seg: &mut Segmenter,
    frame: &[u8],
    d: &DataCmd,
    c: &CtxDesc,
    masks: [u16; 3],
    wire: &mut Wire<'_>,
) -> Result<(SegmentStats, usize), Refused> {
    match c.l4tunt() {
        L4TUNT_GRE => {}
        L4TUNT_UDP => return Err(Refused::Tunnel("TSO of a UDP tunnel (VXLAN/GENEVE)")),
        L4TUNT_NONE => return Err(Refused::Tunnel("TSO of IP-in-IP")),
        _ => return Err(Refused::Params("reserved L4TUNT")),
    }
    let mss = usize::from(c.mss);
    let maclen = d.maclen();
    let gre_off = maclen + c.eiplen();
    let gre_flags =
        be16_at(frame, gre_off).ok_or(Refused::Params("GRE header outside the frame"))?;
    let gre_len = 4 + 4 * [GRE_FLAG_C, GRE_FLAG_K, GRE_FLAG_S]
        .iter()
        .filter(|&&f| gre_flags & f != 0)
        .count();
    let (inner_ip, inner_l4) = inner_offsets(d, c);
    let offsets = TunnelOffsets {
        inner_frame: gre_off + gre_len,
        inner_ip,
        inner_l4,
    };

    // Per-segment patches on top of what the engine does: EIP_NOINC, and TCP flag
    // masks when the registers differ from the engine's R-25 masks.
    let outer_v4 = frame.get(maclen).is_some_and(|b| b >> 4 == 4);
    let noinc_id = if c.tunnel & TUN_EIP_NOINC != 0 && outer_v4 {
        be16_at(frame, maclen + 4)
    } else {
        None
    };
    let tcp_hdr = frame
        .get(inner_l4 + 12)
        .map(|b| usize::from(b >> 4) * 4)
        .filter(|_| d.l4t() == L4T_TCP);
    let flags = match tcp_hdr {
        Some(th) if masks != LSO_TCP_FLAG_MASKS => {
            let payload = frame.len().saturating_sub(inner_l4 + th);
            let n = payload.div_ceil(mss).max(1);
            be16_at(frame, inner_l4 + 12).map(|f0| (f0, n))
        }
        _ => None,
    };
    let hdr = inner_l4 + tcp_hdr.unwrap_or(8);
    let mut k = 0usize;
    let r = seg.nvgre_lso_checked(frame, mss, &offsets, &mut |s| {
        if noinc_id.is_none() && flags.is_none() {
            wire.send(s);
        } else {
            let mut patch = |b: &mut [u8]| {
                if let Some(id0) = noinc_id {
                    let _ = patch_word(b, maclen + 4, id0, maclen + 10);
                }
                if let Some((f0, n)) = flags {
                    let mask = match k {
                        _ if n == 1 => TCP_FLAG_BITS,
                        0 => masks[0],
                        k if k + 1 == n => masks[2],
                        _ => masks[1],
                    };
                    let want = (f0 & !TCP_FLAG_BITS) | (f0 & mask);
                    let _ = patch_word(b, inner_l4 + 12, want, inner_l4 + 16);
                }
            };
            wire.send_patched(s, Some(&mut patch));
        }
        k += 1;
    });
    r.map(|s| (s, hdr)).map_err(Refused::Engine)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use dma::DmaSpace;
    use offload_engines::checksum::{fold, pseudo_ipv4, pseudo_ipv6, sum};
    use offload_engines::rxcsum;

    use super::super::test_support::{rd, set_bits, wr};
    use super::super::I40eConfig;
    use super::*;

    const MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 1];
    const RING: u64 = 0x1_0000;
    const QLEN: u16 = 64;
    const BUFS: u64 = 0x40_0000;
    const HMC_PAGE: u64 = 0x20_0000;

    type Frames = Arc<Mutex<Vec<Vec<u8>>>>;

    struct Rig {
        dev: I40e,
        dma: Arc<DmaSpace>,
        frames: Frames,
        tail: u32,
        next_buf: u64,
    }

    /// A device with Tx queue 0 enabled the way Linux does it (HMC, QTX_ENA), with
    /// head write-back (`head_wb`) or DD write-back.
    fn rig(head_wb: bool) -> Rig {
        let dma = Arc::new(DmaSpace::new());
        dma.map_anonymous(0, 16 << 20).unwrap();
        let frames: Frames = Arc::default();
        let sink = frames.clone();
        let mut dev = I40e::new(
            I40eConfig {
                mac: MAC,
                timing: Default::default(),
            },
            dma.clone(),
            Arc::new(crate::NoIrq),
            Box::new(move |f: &[u8]| sink.lock().unwrap().push(f.to_vec())),
        );
        wr(&mut dev, PFHMC_SDDATAHIGH, 0);
        wr(&mut dev, PFHMC_SDDATALOW, HMC_PAGE as u32 | (512 << 2) | 3);
        wr(&mut dev, PFHMC_SDCMD, 1 << 31);
        wr(&mut dev, GLHMC_LANTXBASE, 0);
        let mut ctx = [0u8; 128];
        set_bits(&mut ctx, 32, 57, RING >> 7);
        set_bits(&mut ctx, 160, 1, u64::from(head_wb));
        set_bits(&mut ctx, 161, 13, u64::from(QLEN));
        set_bits(&mut ctx, 192, 64, RING + u64::from(QLEN) * 16);
        dma.write(HMC_PAGE, &ctx).unwrap();
        wr(&mut dev, QTX_HEAD, 0);
        wr(&mut dev, QTX_ENA, QENA_REQ);
        assert_eq!(rd(&mut dev, QTX_ENA), QENA_REQ | QENA_STAT);
        Rig {
            dev,
            dma,
            frames,
            tail: 0,
            next_buf: BUFS,
        }
    }

    impl Rig {
        /// Copies `data` into a fresh guest buffer; returns its address.
        fn buf(&mut self, data: &[u8]) -> u64 {
            let a = self.next_buf;
            self.dma.write(a, data).unwrap();
            self.next_buf += (data.len() as u64 + 0xFFF) & !0xFFF;
            a
        }

        fn post(&mut self, descs: &[[u8; 16]]) {
            for d in descs {
                let at = RING + u64::from(self.tail) * 16;
                self.dma.write(at, d).unwrap();
                self.tail = (self.tail + 1) % u32::from(QLEN);
            }
            let t = self.tail;
            wr(&mut self.dev, QTX_TAIL, t);
        }

        /// Posts a packet split into buffers of at most `chunk` bytes, with an optional
        /// context descriptor; the data descriptors share `cmd`, `off` and `tag`.
        fn send(
            &mut self,
            frame: &[u8],
            chunk: usize,
            ctx: Option<[u8; 16]>,
            cmd: u16,
            off: u32,
            tag: u16,
        ) {
            let mut descs: Vec<[u8; 16]> = ctx.into_iter().collect();
            let parts: Vec<&[u8]> = frame.chunks(chunk).collect();
            for (i, p) in parts.iter().enumerate() {
                let a = self.buf(p);
                let eop = if i + 1 == parts.len() {
                    CMD_EOP | CMD_RS
                } else {
                    0
                };
                descs.push(data_desc(a, p.len(), cmd | eop, off, tag));
            }
            self.post(&descs);
        }

        fn take(&self) -> Vec<Vec<u8>> {
            std::mem::take(&mut *self.frames.lock().unwrap())
        }

        fn counters(&self) -> TxCounters {
            self.dev.counters().tx
        }

        fn head_wb(&self) -> u32 {
            let mut b = [0u8; 4];
            self.dma.read(RING + u64::from(QLEN) * 16, &mut b).unwrap();
            u32::from_le_bytes(b)
        }
    }

    fn data_desc(addr: u64, len: usize, cmd: u16, off: u32, tag: u16) -> [u8; 16] {
        let qw1 = DTYPE_DATA
            | (u64::from(cmd) << 4)
            | (u64::from(off) << 16)
            | ((len as u64) << 34)
            | (u64::from(tag) << 48);
        let mut d = [0u8; 16];
        d[..8].copy_from_slice(&addr.to_le_bytes());
        d[8..].copy_from_slice(&qw1.to_le_bytes());
        d
    }

    fn ctx_desc(tunnel: u32, l2tag2: u16, cmd: u16, tlen: usize, mss: usize) -> [u8; 16] {
        let qw0 = u64::from(tunnel) | (u64::from(l2tag2) << 32);
        let qw1 =
            DTYPE_CONTEXT | (u64::from(cmd) << 4) | ((tlen as u64) << 30) | ((mss as u64) << 50);
        let mut d = [0u8; 16];
        d[..8].copy_from_slice(&qw0.to_le_bytes());
        d[8..].copy_from_slice(&qw1.to_le_bytes());
        d
    }

    fn offset(maclen: usize, iplen: usize, l4len: usize) -> u32 {
        (maclen / 2) as u32 | (((iplen / 4) as u32) << 7) | (((l4len / 4) as u32) << 14)
    }

    fn tunnel_word(eipt: u32, eiplen: usize, l4tunt: u32, natlen: usize) -> u32 {
        eipt | (((eiplen / 4) as u32) << 2) | (l4tunt << 9) | (((natlen / 2) as u32) << 12)
    }

    fn iipt(v: u16) -> u16 {
        v << CMD_IIPT_SHIFT
    }
    fn l4t(v: u16) -> u16 {
        v << CMD_L4T_SHIFT
    }

    // ---- frame builders -------------------------------------------------------------

    const V4_SRC: [u8; 4] = [10, 0, 0, 1];
    const V4_DST: [u8; 4] = [10, 0, 0, 2];
    const V6_SRC: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const V6_DST: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

    fn be16(b: &[u8], at: usize) -> u16 {
        u16::from_be_bytes([b[at], b[at + 1]])
    }
    fn be32(b: &[u8], at: usize) -> u32 {
        u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    fn eth(ethertype: u16) -> Vec<u8> {
        let mut f = vec![0x02, 0, 0, 0, 0, 2];
        f.extend_from_slice(&MAC);
        f.extend_from_slice(&ethertype.to_be_bytes());
        f
    }

    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    enum V {
        V4,
        V6,
    }

    /// An IP header for `payload` bytes of `proto`; IPv4 with a valid checksum.
    fn ip(v: V, proto: u8, payload: usize, id: u16) -> Vec<u8> {
        match v {
            V::V4 => {
                let mut h = vec![0x45, 0];
                h.extend_from_slice(&((20 + payload) as u16).to_be_bytes());
                h.extend_from_slice(&id.to_be_bytes());
                h.extend_from_slice(&[0x40, 0, 64, proto, 0, 0]);
                h.extend_from_slice(&V4_SRC);
                h.extend_from_slice(&V4_DST);
                let c = !fold(sum(&h, 0));
                h[10..12].copy_from_slice(&c.to_be_bytes());
                h
            }
            V::V6 => {
                let mut h = vec![0x60, 0, 0, 0];
                h.extend_from_slice(&(payload as u16).to_be_bytes());
                h.extend_from_slice(&[proto, 64]);
                h.extend_from_slice(&V6_SRC);
                h.extend_from_slice(&V6_DST);
                h
            }
        }
    }

    fn ethertype(v: V) -> u16 {
        match v {
            V::V4 => 0x0800,
            V::V6 => 0x86DD,
        }
    }

    fn pseudo(v: V, proto: u8, len: usize) -> u16 {
        fold(match v {
            V::V4 => pseudo_ipv4(V4_SRC, V4_DST, proto, len as u32),
            V::V6 => pseudo_ipv6(V6_SRC, V6_DST, proto, len as u32),
        })
    }

    /// A TCP header with timestamps (32 bytes), checksum field zero.
    fn tcp(seq: u32, flags: u16) -> Vec<u8> {
        let mut h = vec![0x30, 0x39, 0x00, 0x50];
        h.extend_from_slice(&seq.to_be_bytes());
        h.extend_from_slice(&[0, 0, 0, 1]);
        h.extend_from_slice(&((8u16 << 12) | flags).to_be_bytes());
        h.extend_from_slice(&[0xFF, 0xFF, 0, 0, 0, 0]);
        h.extend_from_slice(&[1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9]);
        h
    }

    fn payload(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + 3) as u8).collect()
    }

    /// A plain Ethernet/IP/TCP frame as the stack builds it (valid IPv4 header
    /// checksum, TCP checksum field zero).
    fn tcp_frame(v: V, data: &[u8], flags: u16) -> Vec<u8> {
        let t = tcp(1000, flags);
        let mut f = eth(ethertype(v));
        f.extend(ip(v, 6, t.len() + data.len(), 0x1234));
        f.extend(t);
        f.extend_from_slice(data);
        f
    }

    /// Zeroes IPv4 tot_len and check (or IPv6 payload_len) at `off`, as `i40e_tso` does.
    fn zero_lengths(f: &mut [u8], off: usize) {
        if f[off] >> 4 == 4 {
            f[off + 2..off + 4].fill(0);
            f[off + 10..off + 12].fill(0);
        } else {
            f[off + 4..off + 6].fill(0);
        }
    }

    fn seed_tcp(f: &mut [u8], v: V, l4: usize, len: Option<usize>) {
        let s = pseudo(v, 6, len.unwrap_or(0));
        f[l4 + 16..l4 + 18].copy_from_slice(&s.to_be_bytes());
    }

    const FLAGS_ALL: u16 = 0x0080 | 0x0010 | 0x0008 | 0x0001; // CWR ACK PSH FIN
    const FIN: u16 = 0x001;
    const PSH: u16 = 0x008;
    const CWR: u16 = 0x080;

    fn tso_cmd(v: V) -> u16 {
        l4t(L4T_TCP)
            | iipt(match v {
                V::V4 => IIPT_IPV4_CSUM,
                V::V6 => IIPT_IPV6,
            })
    }

    fn ip_len(v: V) -> usize {
        match v {
            V::V4 => 20,
            V::V6 => 40,
        }
    }

    // ---- tests ----------------------------------------------------------------------

    #[test]
    fn plain_frame_goes_out_unchanged_and_head_is_written_back() {
        let mut r = rig(true);
        let f = tcp_frame(V::V4, &payload(100), 0x18);
        r.send(&f, 64, None, 0, 0, 0);
        assert_eq!(r.take(), vec![f.clone()]);
        assert_eq!(r.head_wb(), 3, "three data descriptors");
        let c = r.counters();
        assert_eq!(
            (c.tx_frames, c.tx_bytes, c.tx_descriptors),
            (1, f.len() as u64, 3)
        );
        assert_eq!(rd(&mut r.dev, QTX_HEAD), 3);
    }

    #[test]
    fn short_frames_are_padded_and_runts_dropped() {
        let mut r = rig(true);
        let mut f = eth(0x88B5);
        f.extend_from_slice(&[1, 2, 3]);
        r.send(&f, 64, None, 0, 0, 0);
        let out = r.take();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].len(), 60);
        assert_eq!(&out[0][..f.len()], &f[..]);
        r.send(&f[..16], 64, None, 0, 0, 0);
        assert!(r.take().is_empty());
        assert_eq!(r.counters().tx_runt_dropped, 1);
    }

    fn check_plain_tso(v: V) {
        let mut r = rig(true);
        let mss = 1000;
        let data = payload(3 * mss + 123);
        let mut f = tcp_frame(v, &data, FLAGS_ALL);
        let (ipl, l4) = (ip_len(v), 14 + ip_len(v));
        zero_lengths(&mut f, 14);
        seed_tcp(&mut f, v, l4, None);
        let hdr = l4 + 32;
        let ctx = ctx_desc(0, 0, CTX_CMD_TSO, f.len() - hdr, mss);
        r.send(&f, 4000, Some(ctx), tso_cmd(v), offset(14, ipl, 32), 0);
        let segs = r.take();
        assert_eq!(segs.len(), 4);
        let mut got = Vec::new();
        for (k, s) in segs.iter().enumerate() {
            let chunk = if k == 3 { 123 } else { mss };
            assert_eq!(s.len(), hdr + chunk);
            match v {
                V::V4 => {
                    assert_eq!(usize::from(be16(s, 16)), s.len() - 14);
                    assert_eq!(be16(s, 18), 0x1234 + k as u16);
                }
                V::V6 => assert_eq!(usize::from(be16(s, 18)), s.len() - 54),
            }
            assert_eq!(be32(s, l4 + 4), 1000 + (k * mss) as u32);
            let flags = be16(s, l4 + 12) & 0xFFF;
            let want = match k {
                0 => FLAGS_ALL & !(FIN | PSH),
                3 => FLAGS_ALL & !CWR,
                _ => FLAGS_ALL & !(FIN | PSH | CWR),
            };
            assert_eq!(flags, want, "segment {k}");
            let cs = rxcsum::validate(s);
            if v == V::V4 {
                assert_eq!(cs.outer_ipv4, Some(true));
            }
            assert_eq!(cs.outer_l4, Some((L4Kind::Tcp, true)), "segment {k}");
            got.extend_from_slice(&s[hdr..]);
        }
        assert_eq!(got, data);
        let c = r.counters();
        assert_eq!((c.tso_packets, c.tso_segments, c.tso_errors), (1, 4, 0));
        assert_eq!(c.tso_tlen_mismatches, 0);
    }

    #[test]
    fn tso_ipv4_tcp_four_segments() {
        check_plain_tso(V::V4);
    }

    #[test]
    fn tso_ipv6_tcp_four_segments() {
        check_plain_tso(V::V6);
    }

    #[test]
    fn tso_flags_follow_the_mask_registers() {
        let mut r = rig(true);
        // Clear nothing anywhere: every segment keeps every flag.
        for reg in [GLLAN_TSOMSK_F, GLLAN_TSOMSK_M, GLLAN_TSOMSK_L] {
            wr(&mut r.dev, reg, 0);
        }
        let mut f = tcp_frame(V::V4, &payload(2500), FLAGS_ALL);
        zero_lengths(&mut f, 14);
        seed_tcp(&mut f, V::V4, 34, None);
        let ctx = ctx_desc(0, 0, CTX_CMD_TSO, 2500, 1000);
        r.send(&f, 9000, Some(ctx), tso_cmd(V::V4), offset(14, 20, 32), 0);
        let segs = r.take();
        assert_eq!(segs.len(), 3);
        for s in &segs {
            assert_eq!(be16(s, 34 + 12) & 0xFFF, FLAGS_ALL);
            assert_eq!(rxcsum::validate(s).outer_l4, Some((L4Kind::Tcp, true)));
        }
    }

    #[test]
    fn single_segment_tso_keeps_its_flags() {
        let mut r = rig(true);
        let mut f = tcp_frame(V::V4, &payload(500), FLAGS_ALL);
        zero_lengths(&mut f, 14);
        seed_tcp(&mut f, V::V4, 34, None);
        let ctx = ctx_desc(0, 0, CTX_CMD_TSO, 500, 1000);
        r.send(&f, 9000, Some(ctx), tso_cmd(V::V4), offset(14, 20, 32), 0);
        let segs = r.take();
        assert_eq!(segs.len(), 1);
        assert_eq!(be16(&segs[0], 46) & 0xFFF, FLAGS_ALL);
        let cs = rxcsum::validate(&segs[0]);
        assert_eq!(cs.outer_ipv4, Some(true));
        assert_eq!(cs.outer_l4, Some((L4Kind::Tcp, true)));
    }

    #[test]
    fn uso_segments_udp() {
        let mut r = rig(true);
        let data = payload(2000);
        let mut f = eth(0x0800);
        f.extend(ip(V::V4, 17, 8 + data.len(), 7));
        f.extend_from_slice(&[0x10, 0x00, 0x20, 0x00, 0, 0, 0, 0]);
        f.extend_from_slice(&data);
        zero_lengths(&mut f, 14);
        let s = pseudo(V::V4, 17, 0);
        f[40..42].copy_from_slice(&s.to_be_bytes());
        let ctx = ctx_desc(0, 0, CTX_CMD_TSO, 2000, 800);
        let cmd = l4t(L4T_UDP) | iipt(IIPT_IPV4_CSUM);
        r.send(&f, 9000, Some(ctx), cmd, offset(14, 20, 8), 0);
        let segs = r.take();
        assert_eq!(segs.len(), 3);
        for s in &segs {
            let cs = rxcsum::validate(s);
            assert_eq!(cs.outer_ipv4, Some(true));
            assert_eq!(cs.outer_l4, Some((L4Kind::Udp, true)));
        }
    }

    #[test]
    fn checksum_only_tcp_and_udp() {
        let mut r = rig(true);
        for v in [V::V4, V::V6] {
            let data = payload(300);
            let mut f = tcp_frame(v, &data, 0x18);
            let l4 = 14 + ip_len(v);
            seed_tcp(&mut f, v, l4, Some(32 + data.len()));
            if v == V::V4 {
                // DPDK with IP_CKSUM: the header checksum field arrives zeroed.
                f[24..26].fill(0);
            }
            let cmd = l4t(L4T_TCP)
                | iipt(if v == V::V4 {
                    IIPT_IPV4_CSUM
                } else {
                    IIPT_IPV6
                });
            r.send(&f, 100, None, cmd, offset(14, ip_len(v), 32), 0);
            let out = r.take();
            assert_eq!(out.len(), 1);
            let cs = rxcsum::validate(&out[0]);
            assert_eq!(cs.outer_l4, Some((L4Kind::Tcp, true)), "{v:?}");
            if v == V::V4 {
                assert_eq!(cs.outer_ipv4, Some(true));
            }

            let mut f = eth(ethertype(v));
            f.extend(ip(v, 17, 8 + data.len(), 1));
            f.extend_from_slice(&[0x10, 0x00, 0x20, 0x00]);
            f.extend_from_slice(&((8 + data.len()) as u16).to_be_bytes());
            f.extend_from_slice(&pseudo(v, 17, 8 + data.len()).to_be_bytes());
            f.extend_from_slice(&data);
            let cmd = l4t(L4T_UDP) | iipt(if v == V::V4 { 2 } else { IIPT_IPV6 });
            r.send(&f, 100, None, cmd, offset(14, ip_len(v), 8), 0);
            let out = r.take();
            assert_eq!(
                rxcsum::validate(&out[0]).outer_l4,
                Some((L4Kind::Udp, true))
            );
        }
        assert_eq!(r.counters().tx_csum_offloads, 4);
        assert_eq!(r.counters().tx_csum_errors, 0);
    }

    #[test]
    fn sctp_crc32c() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        let mut f = eth(0x0800);
        let mut sctp = vec![0u8; 12];
        sctp.extend_from_slice(&payload(40));
        f.extend(ip(V::V4, 132, sctp.len(), 1));
        f.extend_from_slice(&sctp);
        let d = DataCmd {
            cmd: l4t(L4T_SCTP) | iipt(2),
            offset: offset(14, 20, 12),
            l2tag1: 0,
        };
        assert_eq!(tx_checksums(&mut f, &d, &CtxDesc::default()), Ok(true));
        let mut check = f[34..].to_vec();
        let stored = u32::from_le_bytes([check[8], check[9], check[10], check[11]]);
        check[8..12].fill(0);
        assert_eq!(stored, crc32c(&check));
        assert_ne!(stored, 0);
    }

    #[test]
    fn vlan_tags_are_inserted_after_the_macs() {
        let mut r = rig(true);
        let f = tcp_frame(V::V4, &payload(100), 0x18);
        r.send(&f, 64, None, CMD_IL2TAG1, 0, 0x0064);
        let out = r.take();
        assert_eq!(&out[0][12..16], &[0x81, 0x00, 0x00, 0x64]);
        assert_eq!(&out[0][16..], &f[12..]);
        // QinQ: L2TAG2 outer (802.1ad), L2TAG1 inner.
        let ctx = ctx_desc(0, 0x0200, CTX_CMD_IL2TAG2, 0, 0);
        r.send(&f, 64, Some(ctx), CMD_IL2TAG1, 0, 0x0064);
        let out = r.take();
        assert_eq!(
            &out[0][12..20],
            &[0x88, 0xA8, 0x02, 0x00, 0x81, 0x00, 0x00, 0x64]
        );
        assert_eq!(&out[0][20..], &f[12..]);
    }

    #[test]
    fn tso_segments_each_get_the_vlan_tag() {
        let mut r = rig(true);
        let mut f = tcp_frame(V::V4, &payload(2500), 0x10);
        zero_lengths(&mut f, 14);
        seed_tcp(&mut f, V::V4, 34, None);
        let ctx = ctx_desc(0, 0, CTX_CMD_TSO, 2500, 1000);
        r.send(
            &f,
            9000,
            Some(ctx),
            tso_cmd(V::V4) | CMD_IL2TAG1,
            offset(14, 20, 32),
            5,
        );
        let segs = r.take();
        assert_eq!(segs.len(), 3);
        for s in &segs {
            assert_eq!(&s[12..16], &[0x81, 0x00, 0x00, 0x05]);
            let cs = rxcsum::validate(s);
            assert_eq!(cs.outer_ipv4, Some(true));
            assert_eq!(cs.outer_l4, Some((L4Kind::Tcp, true)));
        }
    }

    /// An NVGRE frame: outer Ethernet, outer IP, GRE (K, 0x6558, `gre_flags` extra),
    /// inner Ethernet, inner IP, TCP, `data`. Returns the frame and its inner L4 offset.
    fn nvgre_frame(outer: V, inner: V, data: &[u8], gre_csum: bool) -> (Vec<u8>, usize) {
        let t = tcp(5000, FLAGS_ALL);
        let mut inner_frame = eth(ethertype(inner));
        inner_frame.extend(ip(inner, 6, t.len() + data.len(), 0x4000));
        inner_frame.extend(t);
        inner_frame.extend_from_slice(data);
        let mut gre = Vec::new();
        let flags: u16 = GRE_FLAG_K | if gre_csum { GRE_FLAG_C } else { 0 };
        gre.extend_from_slice(&flags.to_be_bytes());
        gre.extend_from_slice(&0x6558u16.to_be_bytes());
        if gre_csum {
            gre.extend_from_slice(&[0, 0, 0, 0]);
        }
        gre.extend_from_slice(&[0x12, 0x34, 0x56, 0x01]);
        let mut f = eth(ethertype(outer));
        f.extend(ip(outer, 47, gre.len() + inner_frame.len(), 0xFFFE));
        let l4 = f.len() + gre.len() + 14 + ip_len(inner);
        f.extend(gre);
        f.extend(inner_frame);
        (f, l4)
    }

    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Driver {
        /// GSO_PARTIAL: outer and inner tot_len/check zeroed.
        Linux,
        /// testpmd csum engine: lengths left full, checksums zeroed.
        Dpdk,
    }

    fn check_nvgre_tso(outer: V, inner: V, driver: Driver) {
        let mut r = rig(driver == Driver::Linux);
        let mss = 1400;
        let nseg = 4;
        let data = payload(mss * nseg);
        let (mut f, l4) = nvgre_frame(outer, inner, &data, false);
        let inner_ip = l4 - ip_len(inner);
        match driver {
            Driver::Linux => {
                zero_lengths(&mut f, 14);
                zero_lengths(&mut f, inner_ip);
            }
            Driver::Dpdk => {
                for off in [14, inner_ip] {
                    if f[off] >> 4 == 4 {
                        f[off + 10..off + 12].fill(0);
                    }
                }
            }
        }
        seed_tcp(&mut f, inner, l4, None);
        let eipt = match outer {
            V::V4 => EIPT_IPV4_CSUM,
            V::V6 => 1,
        };
        let tunnel = tunnel_word(eipt, ip_len(outer), L4TUNT_GRE, 8 + 14);
        let hdr = l4 + 32;
        let ctx = ctx_desc(tunnel, 0, CTX_CMD_TSO, f.len() - hdr, mss);
        // Header in its own buffer, as Linux maps the linear part first.
        let cmd = tso_cmd(inner);
        let off = offset(14, ip_len(inner), 32);
        let h = r.buf(&f[..hdr]);
        let p = r.buf(&f[hdr..]);
        r.post(&[
            ctx,
            data_desc(h, hdr, cmd, off, 0),
            data_desc(p, f.len() - hdr, cmd | CMD_EOP | CMD_RS, off, 0),
        ]);
        let segs = r.take();
        assert_eq!(segs.len(), nseg, "{outer:?}/{inner:?}");
        let mut got = Vec::new();
        for (k, s) in segs.iter().enumerate() {
            assert_eq!(s.len(), hdr + mss);
            match outer {
                V::V4 => {
                    assert_eq!(usize::from(be16(s, 16)), s.len() - 14);
                    assert_eq!(be16(s, 18), 0xFFFEu16.wrapping_add(k as u16));
                }
                V::V6 => assert_eq!(usize::from(be16(s, 18)), s.len() - 54),
            }
            match inner {
                V::V4 => {
                    assert_eq!(usize::from(be16(s, inner_ip + 2)), s.len() - inner_ip);
                    assert_eq!(be16(s, inner_ip + 4), 0x4000 + k as u16);
                }
                V::V6 => assert_eq!(usize::from(be16(s, inner_ip + 4)), s.len() - inner_ip - 40),
            }
            assert_eq!(be32(s, l4 + 4), 5000 + (k * mss) as u32);
            let want = match k {
                0 => FLAGS_ALL & !(FIN | PSH),
                k if k + 1 == nseg => FLAGS_ALL & !CWR,
                _ => FLAGS_ALL & !(FIN | PSH | CWR),
            };
            assert_eq!(be16(s, l4 + 12) & 0xFFF, want, "segment {k}");
            let gre = 14 + ip_len(outer);
            assert_eq!(
                &s[gre..gre + 8],
                &[0x20, 0x00, 0x65, 0x58, 0x12, 0x34, 0x56, 0x01]
            );
            let cs = rxcsum::validate(s);
            assert_eq!(cs.outer_ipv4, (outer == V::V4).then_some(true));
            assert_eq!(cs.inner_ipv4, (inner == V::V4).then_some(true));
            assert_eq!(cs.inner_l4, Some((L4Kind::Tcp, true)), "segment {k}");
            assert!(cs.tunnel.is_some_and(|g| g.is_nvgre()));
            got.extend_from_slice(&s[hdr..]);
        }
        assert_eq!(got, data);
        let c = r.counters();
        assert_eq!(
            (c.tso_tunnel_packets, c.tso_segments, c.tso_errors),
            (1, nseg as u64, 0)
        );
        assert_eq!(c.tso_tlen_mismatches, 0);
    }

    #[test]
    fn nvgre_tso_linux_gso_partial_all_version_mixes() {
        for (o, i) in [
            (V::V4, V::V4),
            (V::V4, V::V6),
            (V::V6, V::V4),
            (V::V6, V::V6),
        ] {
            check_nvgre_tso(o, i, Driver::Linux);
        }
    }

    #[test]
    fn nvgre_tso_dpdk_full_outer_length_all_version_mixes() {
        for (o, i) in [
            (V::V4, V::V4),
            (V::V4, V::V6),
            (V::V6, V::V4),
            (V::V6, V::V6),
        ] {
            check_nvgre_tso(o, i, Driver::Dpdk);
        }
    }

    #[test]
    fn nvgre_tso_with_eip_noinc_keeps_the_outer_id() {
        let mut r = rig(true);
        let data = payload(3000);
        let (mut f, l4) = nvgre_frame(V::V4, V::V4, &data, false);
        zero_lengths(&mut f, 14);
        zero_lengths(&mut f, l4 - 20);
        seed_tcp(&mut f, V::V4, l4, None);
        let tunnel = tunnel_word(EIPT_IPV4_CSUM, 20, L4TUNT_GRE, 22) | TUN_EIP_NOINC;
        let ctx = ctx_desc(tunnel, 0, CTX_CMD_TSO, 3000, 1000);
        r.send(&f, 9000, Some(ctx), tso_cmd(V::V4), offset(14, 20, 32), 0);
        let segs = r.take();
        assert_eq!(segs.len(), 3);
        for (k, s) in segs.iter().enumerate() {
            assert_eq!(be16(s, 18), 0xFFFE);
            assert_eq!(be16(s, l4 - 20 + 4), 0x4000 + k as u16);
            let cs = rxcsum::validate(s);
            assert_eq!(cs.outer_ipv4, Some(true));
            assert_eq!(cs.inner_ipv4, Some(true));
            assert_eq!(cs.inner_l4, Some((L4Kind::Tcp, true)));
        }
    }

    #[test]
    fn nvgre_tso_flags_follow_the_mask_registers() {
        let mut r = rig(true);
        // Clear FIN only, and only in the first segment.
        wr(&mut r.dev, GLLAN_TSOMSK_F, u32::from(FIN));
        wr(&mut r.dev, GLLAN_TSOMSK_M, 0);
        wr(&mut r.dev, GLLAN_TSOMSK_L, 0);
        let (mut f, l4) = nvgre_frame(V::V6, V::V4, &payload(3000), false);
        zero_lengths(&mut f, 14);
        zero_lengths(&mut f, l4 - 20);
        seed_tcp(&mut f, V::V4, l4, None);
        let tunnel = tunnel_word(1, 40, L4TUNT_GRE, 22);
        let ctx = ctx_desc(tunnel, 0, CTX_CMD_TSO, 3000, 1000);
        r.send(&f, 9000, Some(ctx), tso_cmd(V::V4), offset(14, 20, 32), 0);
        let segs = r.take();
        assert_eq!(segs.len(), 3);
        for (k, s) in segs.iter().enumerate() {
            let want = if k == 0 { FLAGS_ALL & !FIN } else { FLAGS_ALL };
            assert_eq!(be16(s, l4 + 12) & 0xFFF, want, "segment {k}");
            let cs = rxcsum::validate(s);
            assert_eq!(cs.inner_ipv4, Some(true));
            assert_eq!(cs.inner_l4, Some((L4Kind::Tcp, true)), "segment {k}");
        }
    }

    #[test]
    fn gre_csum_tso_recomputes_the_gre_checksum() {
        let mut r = rig(true);
        let data = payload(2800);
        let (mut f, l4) = nvgre_frame(V::V4, V::V4, &data, true);
        zero_lengths(&mut f, 14);
        zero_lengths(&mut f, l4 - 20);
        seed_tcp(&mut f, V::V4, l4, None);
        let tunnel = tunnel_word(EIPT_IPV4_CSUM, 20, L4TUNT_GRE, 12 + 14);
        let ctx = ctx_desc(tunnel, 0, CTX_CMD_TSO, 2800, 1400);
        r.send(&f, 9000, Some(ctx), tso_cmd(V::V4), offset(14, 20, 32), 0);
        let segs = r.take();
        assert_eq!(segs.len(), 2);
        for s in &segs {
            let cs = rxcsum::validate(s);
            assert_eq!(cs.gre, Some(true));
            assert_eq!(cs.inner_l4, Some((L4Kind::Tcp, true)));
        }
    }

    #[test]
    fn tunnel_tso_with_wrong_offsets_or_udp_tunnel_is_refused() {
        let mut r = rig(true);
        let (mut f, l4) = nvgre_frame(V::V4, V::V4, &payload(3000), false);
        seed_tcp(&mut f, V::V4, l4, None);
        // NATLEN one word short.
        let tunnel = tunnel_word(EIPT_IPV4_CSUM, 20, L4TUNT_GRE, 20);
        let ctx = ctx_desc(tunnel, 0, CTX_CMD_TSO, 3000, 1000);
        r.send(&f, 9000, Some(ctx), tso_cmd(V::V4), offset(14, 20, 32), 0);
        assert!(r.take().is_empty());
        let tunnel = tunnel_word(EIPT_IPV4_CSUM, 20, L4TUNT_UDP, 22);
        let ctx = ctx_desc(tunnel, 0, CTX_CMD_TSO, 3000, 1000);
        r.send(&f, 9000, Some(ctx), tso_cmd(V::V4), offset(14, 20, 32), 0);
        assert!(r.take().is_empty());
        let c = r.counters();
        assert_eq!((c.tso_errors, c.tso_tunnel_refused), (2, 1));
        // The queue keeps going.
        let g = tcp_frame(V::V4, &payload(10), 0);
        r.send(&g, 9000, None, 0, 0, 0);
        assert_eq!(r.take().len(), 1);
    }

    #[test]
    fn nvgre_checksum_only_fills_outer_inner_and_tcp() {
        let mut r = rig(true);
        let data = payload(200);
        let (mut f, l4) = nvgre_frame(V::V4, V::V4, &data, false);
        f[24..26].fill(0); // outer check zeroed (DPDK OUTER_IP_CKSUM)
        f[l4 - 20 + 10..l4 - 20 + 12].fill(0);
        seed_tcp(&mut f, V::V4, l4, Some(32 + data.len()));
        let tunnel = tunnel_word(EIPT_IPV4_CSUM, 20, L4TUNT_GRE, 22);
        let ctx = ctx_desc(tunnel, 0, 0, 0, 0);
        let cmd = l4t(L4T_TCP) | iipt(IIPT_IPV4_CSUM);
        r.send(&f, 9000, Some(ctx), cmd, offset(14, 20, 32), 0);
        let out = r.take();
        let cs = rxcsum::validate(&out[0]);
        assert_eq!(cs.outer_ipv4, Some(true));
        assert_eq!(cs.inner_ipv4, Some(true));
        assert_eq!(cs.inner_l4, Some((L4Kind::Tcp, true)));
    }

    #[test]
    fn dd_write_back_marks_rs_descriptors_done() {
        let mut r = rig(false);
        let f = tcp_frame(V::V4, &payload(100), 0);
        let a = r.buf(&f);
        r.post(&[
            data_desc(a, 50, 0, 0, 0),
            data_desc(a + 50, f.len() - 50, CMD_EOP | CMD_RS, 0, 0),
            data_desc(a, f.len(), CMD_EOP, 0, 0),
        ]);
        assert_eq!(r.take().len(), 2);
        let dtype = |i: u64| {
            let mut b = [0u8; 8];
            r.dma.read(RING + i * 16 + 8, &mut b).unwrap();
            u64::from_le_bytes(b) & 0xF
        };
        assert_eq!((dtype(0), dtype(1), dtype(2)), (0, 0xF, 0));
        assert_eq!(r.head_wb(), 0, "no head write-back without head_wb_ena");
        assert_eq!(rd(&mut r.dev, QTX_HEAD), 3);
    }

    #[test]
    fn head_write_back_reports_progress_without_rs() {
        let mut r = rig(true);
        let f = tcp_frame(V::V4, &payload(100), 0);
        for _ in 0..3 {
            let a = r.buf(&f);
            r.post(&[data_desc(a, f.len(), CMD_EOP, 0, 0)]);
        }
        assert_eq!(r.head_wb(), 3);
        assert_eq!(r.take().len(), 3);
        // Wrap around the ring.
        for _ in 0..QLEN {
            let a = r.buf(&f);
            r.post(&[data_desc(a, f.len(), CMD_EOP, 0, 0)]);
        }
        assert_eq!(r.head_wb(), (3 + u32::from(QLEN)) % u32::from(QLEN));
        assert_eq!(r.counters().tx_frames, 3 + u64::from(QLEN));
    }

    #[test]
    fn queue_interrupt_is_raised_after_a_batch() {
        let mut r = rig(true);
        wr(&mut r.dev, QINT_TQCTL, QINT_CAUSE_ENA | 1);
        wr(&mut r.dev, PFINT_DYN_CTLN, DYN_CTL_INTENA);
        let f = tcp_frame(V::V4, &payload(10), 0);
        r.send(&f, 9000, None, 0, 0, 0);
        assert_eq!(r.dev.intr.fired[1], 1);
    }

    #[test]
    fn hostile_descriptors_do_not_panic() {
        let mut r = rig(true);
        // BUF_SZ at its maximum, many times over: over the packet cap, dropped.
        let descs: Vec<[u8; 16]> = (0..20).map(|_| data_desc(0x100, 0x3FFF, 0, 0, 0)).collect();
        r.post(&descs);
        r.post(&[data_desc(0x100, 0x3FFF, CMD_EOP, 0, 0)]);
        assert_eq!(r.counters().tx_oversize_dropped, 1);
        // Buffer outside guest memory.
        r.post(&[data_desc(u64::MAX - 10, 100, CMD_EOP, 0, 0)]);
        r.post(&[data_desc(1 << 40, 100, CMD_EOP, 0, 0)]);
        assert_eq!(r.counters().tx_dma_errors, 2);
        // Absurd offsets with every offload requested.
        let f = tcp_frame(V::V4, &payload(100), 0);
        let a = r.buf(&f);
        let all = l4t(L4T_SCTP) | iipt(IIPT_IPV4_CSUM);
        r.post(&[
            ctx_desc(u32::MAX, 0xFFFF, !CTX_CMD_TSO, 0x3FFFF, 0x3FFF),
            data_desc(a, f.len(), all | CMD_EOP | CMD_RS, 0x3_FFFF, 0xFFFF),
        ]);
        // TSO with absurd offsets and MSS, and with MSS 0.
        for mss in [0x3FFF, 0, 64] {
            r.post(&[
                ctx_desc(u32::MAX, 0xFFFF, 0xFFFF, 0x3FFFF, mss),
                data_desc(a, f.len(), 0x3FF & !CMD_DUMMY, 0x3_FFFF, 0xFFFF),
            ]);
            r.post(&[
                ctx_desc(0, 0, CTX_CMD_TSO, 0x3FFFF, mss),
                data_desc(a, f.len(), tso_cmd(V::V4) | CMD_EOP, 0x3_FFFF, 0),
            ]);
        }
        // Unknown descriptor types and a filter programming descriptor.
        let mut odd = data_desc(0, 0, 0, 0, 0);
        odd[8] = 0x0F;
        let mut fd = data_desc(0, 0, 0, 0, 0);
        fd[8] = 0x08;
        r.post(&[odd, fd]);
        let c = r.counters();
        assert_eq!((c.tx_bad_descriptors, c.tx_fdir_descriptors), (1, 1));
        assert_eq!((c.tx_csum_errors, c.tso_errors), (1, 6));
        r.take();
        // A tail beyond the ring stops the queue; re-enabling starts it again.
        wr(&mut r.dev, QTX_TAIL, u32::from(QLEN) + 5);
        assert_eq!(r.counters().tx_ring_errors, 1);
        wr(&mut r.dev, QTX_TAIL, 0);
        assert_eq!(
            r.counters().tx_ring_errors,
            1,
            "stopped: nothing more is done"
        );
        assert!(r.dev.txq[0].stalled);
        // A ring outside guest memory stops the queue too.
        let mut q = TxContext {
            base: u64::MAX - 64,
            qlen: 8,
            ..TxContext::default()
        };
        r.dev.txq[1] = TxQueue::started(q);
        wr(&mut r.dev, QTX_TAIL + 4, 3);
        assert!(r.dev.txq[1].stalled);
        // Head beyond the ring.
        q.base = RING;
        q.head = 9;
        r.dev.txq[2] = TxQueue::started(q);
        wr(&mut r.dev, QTX_TAIL + 8, 3);
        assert!(r.dev.txq[2].stalled);
        // Head write-back address outside memory: counted.
        q.head = 0;
        q.head_wb_ena = true;
        q.head_wb_addr = 1 << 50;
        r.dev.txq[3] = TxQueue::started(q);
        let before = r.counters().tx_dma_errors;
        wr(&mut r.dev, QTX_TAIL + 12, 1);
        assert_eq!(r.counters().tx_dma_errors, before + 1);
        // A disabled queue does nothing.
        wr(&mut r.dev, QTX_TAIL + 16, 3);
        assert_eq!(r.dev.txq[4].head, 0);
    }

    #[test]
    fn dummy_packets_are_consumed_not_sent() {
        let mut r = rig(true);
        let f = tcp_frame(V::V4, &payload(100), 0);
        r.send(&f, 9000, None, CMD_DUMMY, 0, 0);
        assert!(r.take().is_empty());
        assert_eq!(r.counters().tx_dummy_packets, 1);
        assert_eq!(r.head_wb(), 1);
    }

    #[test]
    fn link_down_drops_frames() {
        let mut r = rig(true);
        r.dev.wire_up = false;
        let f = tcp_frame(V::V4, &payload(100), 0);
        r.send(&f, 9000, None, 0, 0, 0);
        assert!(r.take().is_empty());
        assert_eq!(r.counters().tx_link_down_drops, 1);
        assert_eq!(r.head_wb(), 1);
    }
}
