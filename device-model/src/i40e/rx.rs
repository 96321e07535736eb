//! Receive: steering, descriptors, packet types and per-layer checksum status.
//!
//! Per frame, in order (digest §4, §5):
//! 1. MAC checks: runts (< 14 bytes) count in GLPRT_RUC, frames whose length
//!    with FCS exceeds PRTGL_SAH.MFS in GLPRT_ROC; both are dropped.
//! 2. One parse ([`parse::parse_partial`]) feeds the packet type ([`ptype`]),
//!    the switch, the checksum engine and RSS.
//! 3. The switch ([`Switch::classify`](super::switch::Switch::classify)) picks
//!    the VSI from the outer destination MAC, the outer 802.1Q tag and, for
//!    Ethernet-over-GRE with a key, the VSID and inner destination MAC.
//! 4. The queue: a filter's fixed queue, else RSS through the PF's LUT, else the
//!    VSI's first queue.
//! 5. DMA into one-buffer descriptors (16 or 32 bytes), chaining over up to five
//!    buffers, then the queue's interrupt cause.
//!
//! Write-back (`i40e_16byte_rx_desc`/`i40e_32byte_rx_desc`, i40e_type.h): qw0
//! bits 16..31 L2TAG1, 32..63 the RSS hash; qw1 status (DD 0, EOF 1, L2TAG1P 2,
//! L3L4P 3, FLTSTAT 12..13 = 3 when hashed), errors from bit 19 (IPE +3, L4E +4,
//! EIPE +5), ptype 30..37, buffer length 38..51. SPH (63) and the header length
//! stay 0: Linux takes SPH for a programming-status descriptor. Every descriptor
//! of a chain carries DD and its own length; EOF and the packet fields go on the
//! last one, which is what both drivers read them from.
//!
//! Decisions where the drivers do not settle silicon behaviour **(assumptions)**:
//! * Checksums (digest §4.3): L3L4P is set only when at least one layer was
//!   checked. For tunnels (IP-in-IP, GRE, NVGRE) IPE and L4E refer to the inner
//!   IPv4 header and the innermost TCP/UDP, EIPE to the outer IPv4 header; the GRE
//!   checksum is not reported (the descriptor has no bit for it).
//! * RSS: a tunnel frame with TCP/UDP behind its inner IP header is
//!   hashed on the inner 4-tuple under the inner PCTYPE; any other tunnel frame
//!   on the outer addresses under the outer "other" PCTYPE. SCTP frames hash
//!   their addresses only, L2 payload frames are not hashed, and the XOR hash
//!   (GLQF_CTL.HTOEP = 0) is not modelled: the hash is always Toeplitz. The hash
//!   is reported whenever the PCTYPE is enabled, also when a filter fixes the
//!   queue. All VSIs share the PF's key and LUT (VSI-relative entries, taken
//!   modulo the VSI's queue count).
//! * Only 802.1Q (TPID 0x8100) outer tags are VLANs to the switch and stripping;
//!   the FCS appended for crcstrip = 0 is the one of the frame as received (tag
//!   included). rxmax is compared with the bytes written to host memory.

use std::collections::BTreeMap;
use std::sync::Arc;

use offload_engines::parse::{self, IpVersion, Parsed};
use offload_engines::rss::{self, HashTypes, Toeplitz};
use offload_engines::rxcsum;
use serde::Serialize;

use super::hmc::RxContext;
use super::ptype::{self, Analysis, Decoded, Payload, Tunnel};
use super::regs::*;
use super::switch::RxTarget;
use super::I40e;

// qw1 status bits.
pub const RXD_DD: u64 = 1 << 0;
pub const RXD_EOF: u64 = 1 << 1;
pub const RXD_L2TAG1P: u64 = 1 << 2;
pub const RXD_L3L4P: u64 = 1 << 3;
pub const RXD_FLTSTAT_SHIFT: u32 = 12;
pub const FLTSTAT_RSS_HASH: u64 = 3;
// qw1 error bits (shifted by RXD_ERROR_SHIFT).
pub const RXD_ERROR_SHIFT: u32 = 19;
pub const RXD_ERR_RXE: u64 = 1 << 0;
pub const RXD_ERR_IPE: u64 = 1 << 3;
pub const RXD_ERR_L4E: u64 = 1 << 4;
pub const RXD_ERR_EIPE: u64 = 1 << 5;
pub const RXD_ERR_OVERSIZE: u64 = 1 << 6;
pub const RXD_PTYPE_SHIFT: u32 = 30;
pub const RXD_LENGTH_SHIFT: u32 = 38;
const RXD_LENGTH_MASK: u64 = 0x3FFF;

/// `I40E_MAX_CHAINED_RX_BUFFERS`.
pub const MAX_CHAIN: usize = 5;
const ETH_HLEN: usize = 14;
const FCS_LEN: usize = 4;
const TPID_8021Q: u16 = 0x8100;
const KEY_WORDS: usize = 13;
const HKEY_STRIDE: u32 = 0x80;
const HLUT_STRIDE: u32 = 0x80;
const PFQF_CTL_0_HASHLUTSIZE: u32 = 1 << 16;
const LUT_ENTRY_MASK: u32 = 0x3F;
/// The MAC's maximum frame size when PRTGL_SAH.MFS reads 0.
const DEFAULT_MFS: usize = 9728;

/// Hash PCTYPEs (`enum i40e_filter_pctype`): bit numbers of PFQF_HENA.
pub mod pctype {
    pub const NONF_IPV4_UDP: u8 = 31;
    pub const NONF_IPV4_TCP: u8 = 33;
    pub const NONF_IPV4_SCTP: u8 = 34;
    pub const NONF_IPV4_OTHER: u8 = 35;
    pub const FRAG_IPV4: u8 = 36;
    pub const NONF_IPV6_UDP: u8 = 41;
    pub const NONF_IPV6_TCP: u8 = 43;
    pub const NONF_IPV6_SCTP: u8 = 44;
    pub const NONF_IPV6_OTHER: u8 = 45;
    pub const FRAG_IPV6: u8 = 46;
    pub const L2_PAYLOAD: u8 = 63;
}

/// Fields of a 64-bit hash input set (GLQF_HASH_INSET), as field-vector words:
/// IPv4 addresses take two words each, IPv6 addresses eight.
pub mod inset {
    pub const L4_DST: u64 = 1 << 33;
    pub const L4_SRC: u64 = 1 << 34;
    pub const IPV4_DST: u64 = 0x3 << 35;
    pub const IPV4_SRC: u64 = 0x3 << 47;
    pub const IPV6_DST: u64 = 0xFF << 35;
    pub const IPV6_SRC: u64 = 0xFF << 43;
}

/// What the NVM loads into GLQF_HASH_INSET at reset: TCP, UDP and SCTP hash
/// both addresses and both ports, other and fragmented IP both addresses.
pub const HASH_INPUT_SET_DEFAULTS: [(u8, u64); 10] = {
    use inset::*;
    use pctype::*;
    const V4: u64 = IPV4_SRC | IPV4_DST;
    const V6: u64 = IPV6_SRC | IPV6_DST;
    const PORTS: u64 = L4_SRC | L4_DST;
    [
        (NONF_IPV4_UDP, V4 | PORTS),
        (NONF_IPV4_TCP, V4 | PORTS),
        (NONF_IPV4_SCTP, V4 | PORTS),
        (NONF_IPV4_OTHER, V4),
        (FRAG_IPV4, V4),
        (NONF_IPV6_UDP, V6 | PORTS),
        (NONF_IPV6_TCP, V6 | PORTS),
        (NONF_IPV6_SCTP, V6 | PORTS),
        (NONF_IPV6_OTHER, V6),
        (FRAG_IPV6, V6),
    ]
};

/// The offsets of a PCTYPE's input set words (low, high).
pub fn hash_input_set_regs(pctype: u8) -> (u32, u32) {
    let base = GLQF_HASH_INSET + u32::from(pctype) * 8;
    (base, base + 4)
}

/// The hash fields an input set names. An address counts when any of its words is
/// in the set: the driver sets or clears them together.
fn input_set_fields(set: u64) -> rss::InputSet {
    use inset::*;
    rss::InputSet {
        src_ip: set & (IPV4_SRC | IPV6_SRC) != 0,
        dst_ip: set & (IPV4_DST | IPV6_DST) != 0,
        src_port: set & L4_SRC != 0,
        dst_port: set & L4_DST != 0,
    }
}

/// Per Rx queue state.
#[derive(Debug, Default)]
pub struct RxQueue {
    /// The context read at queue enable; `None` while the queue is disabled.
    pub ctx: Option<RxContext>,
    pub head: u16,
}

impl RxQueue {
    pub fn started(ctx: RxContext) -> Self {
        Self {
            ctx: Some(ctx),
            head: ctx.head,
        }
    }
}

/// The Toeplitz tables of the last key seen in PFQF_HKEY.
#[derive(Clone, Default)]
struct RssCache {
    key: [u32; KEY_WORDS],
    toeplitz: Option<Arc<Toeplitz>>,
}

/// Receive state that is not evidence (kept beside the counters, not serialized).
#[derive(Clone, Default)]
pub struct RxState {
    rss: RssCache,
    /// Causes already logged (one bit each): warnings are printed once.
    warned: u32,
}

impl std::fmt::Debug for RxState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RxState")
            .field("warned", &self.warned)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct RxCounters {
    /// Frames written to a ring.
    pub rx_frames: u64,
    pub rx_bytes: u64,
    pub rx_descriptors: u64,
    /// No VSI took the frame.
    pub rx_filtered: u64,
    /// The queue was disabled or had too few free descriptors.
    pub rx_no_descriptor_drops: u64,
    /// Longer than PRTGL_SAH.MFS, the queue's rxmax or five buffers.
    pub rx_oversize_dropped: u64,
    /// Shorter than an Ethernet header.
    pub rx_undersize_dropped: u64,
    /// A descriptor or buffer outside guest memory.
    pub rx_dma_errors: u64,
    /// Queue context or tail the ring cannot hold (qlen or dbuff 0, tail past the end).
    pub rx_ring_errors: u64,
    /// Delivered with L3L4P and no checksum error / with an error bit.
    pub rx_csum_good: u64,
    pub rx_csum_bad: u64,
    pub rx_rss_hashed: u64,
    pub rx_tunnel_frames: u64,
    pub rx_vlan_stripped: u64,
    /// Frames delivered per absolute queue (queues that received any).
    pub rx_queue_frames: BTreeMap<u16, u64>,
    /// Frames delivered per VSI number (VSIs that received any): macvlan offload
    /// puts each macvlan's traffic on its own VSI.
    pub rx_vsi_frames: BTreeMap<u16, u64>,
    #[serde(skip)]
    pub state: RxState,
}

/// Log causes (bits of `RxState::warned`).
#[derive(Clone, Copy)]
enum Warn {
    Ring = 0,
    DescriptorDma = 1,
    BufferDma = 2,
    Disabled = 3,
    Chain = 4,
}

/// What the descriptor reports besides the buffer lengths.
#[derive(Debug, Clone, Copy, Default)]
struct Report {
    ptype: u8,
    /// L3L4P when a layer was checked.
    status: u64,
    /// Error bits, unshifted.
    errors: u64,
    hash: Option<u32>,
    l2tag1: Option<u16>,
}

/// Why a frame found no room.
enum Refused {
    NoDescriptor,
    Oversize,
    Dma,
    Ring,
}

/// Where the RSS input comes from.
enum HashSource {
    /// The frame's own parse; `true` to take the inner headers of Ethernet-over-GRE.
    Frame(bool),
    /// The decapsulated inner packet of IP-in-IP / IP-in-GRE.
    Decap,
}

fn pctype_of(v: IpVersion, p: Payload) -> (u8, HashTypes) {
    use pctype::*;
    match (v, p) {
        (IpVersion::V4, Payload::Tcp) => (NONF_IPV4_TCP, HashTypes::TCP_IPV4),
        (IpVersion::V4, Payload::Udp) => (NONF_IPV4_UDP, HashTypes::UDP_IPV4),
        (IpVersion::V4, Payload::Sctp) => (NONF_IPV4_SCTP, HashTypes::IPV4),
        (IpVersion::V4, Payload::Frag) => (FRAG_IPV4, HashTypes::IPV4),
        (IpVersion::V4, _) => (NONF_IPV4_OTHER, HashTypes::IPV4),
        (IpVersion::V6, Payload::Tcp) => (NONF_IPV6_TCP, HashTypes::TCP_IPV6),
        (IpVersion::V6, Payload::Udp) => (NONF_IPV6_UDP, HashTypes::UDP_IPV6),
        (IpVersion::V6, Payload::Sctp) => (NONF_IPV6_SCTP, HashTypes::IPV6),
        (IpVersion::V6, Payload::Frag) => (FRAG_IPV6, HashTypes::IPV6),
        (IpVersion::V6, _) => (NONF_IPV6_OTHER, HashTypes::IPV6),
    }
}

/// The PCTYPE, enabled hash types and input of a frame's RSS hash.
fn rss_input(a: &Analysis) -> Option<(u8, HashTypes, HashSource)> {
    let Decoded::Ip {
        outer,
        tunnel,
        inner,
        payload,
    } = a.decoded
    else {
        return None;
    };
    let Some(t) = tunnel else {
        let (pc, ty) = pctype_of(outer, payload);
        return Some((pc, ty, HashSource::Frame(false)));
    };
    match (inner, payload) {
        (Some(iv), Payload::Tcp | Payload::Udp) => {
            let (pc, ty) = pctype_of(iv, payload);
            let src = match t {
                Tunnel::GrenatMac | Tunnel::GrenatMacVlan => HashSource::Frame(true),
                Tunnel::Ip | Tunnel::Grenat => HashSource::Decap,
            };
            Some((pc, ty, src))
        }
        _ => {
            let (pc, ty) = pctype_of(outer, Payload::L3);
            Some((pc, ty, HashSource::Frame(false)))
        }
    }
}

/// The TCI of an outer 802.1Q tag.
fn outer_vlan(frame: &[u8]) -> Option<u16> {
    let tpid = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
    if tpid != TPID_8021Q {
        return None;
    }
    Some(u16::from_be_bytes([*frame.get(14)?, *frame.get(15)?]))
}

impl I40e {
    /// A frame from the wire: filter, steer to a queue, write it to the ring.
    pub(super) fn rx_frame(&mut self, frame: &[u8]) {
        if frame.len() < ETH_HLEN {
            self.stats.rx_undersize();
            self.counters.rx.rx_undersize_dropped += 1;
            return;
        }
        let mfs = match (self.get(PRTGL_SAH) >> 16) as usize {
            0 => DEFAULT_MFS,
            n => n,
        };
        if frame.len() + FCS_LEN > mfs {
            self.stats.rx_oversize();
            self.counters.rx.rx_oversize_dropped += 1;
            return;
        }
        self.stats.rx_frame(frame);
        let parsed = parse::parse_partial(frame).ok().map(|(p, _)| p);
        let analysis = ptype::analyse(frame, parsed.as_ref(), &|port| self.switch.udp_tunnel(port));
        let vlan = outer_vlan(frame);
        let nvgre = parsed
            .as_ref()
            .and_then(|p| Some((p.gre?.vsid()?, p.inner?.eth.dst)));
        let mut dst = [0u8; 6];
        dst.copy_from_slice(&frame[..6]);
        let Some(target) = self.switch.classify(dst, vlan, nvgre) else {
            self.counters.rx.rx_filtered += 1;
            return;
        };
        self.stats.rx_vsi_frame(target.vsi, frame);
        let hash = self.rss_hash(parsed.as_ref(), &analysis);
        let q = self.pick_queue(&target, hash);
        let (status, errors) = checksum_report(frame, parsed.as_ref(), &analysis);
        let report = Report {
            ptype: analysis.ptype,
            status,
            errors,
            hash,
            l2tag1: vlan.filter(|_| target.strip_vlan),
        };
        match self.deliver(q, frame, &report) {
            Ok(()) => {
                let c = &mut self.counters.rx;
                c.rx_frames += 1;
                c.rx_bytes += frame.len() as u64;
                *c.rx_queue_frames.entry(q as u16).or_default() += 1;
                *c.rx_vsi_frames.entry(target.vsi).or_default() += 1;
                if hash.is_some() {
                    c.rx_rss_hashed += 1;
                }
                if analysis.tunnel().is_some() {
                    c.rx_tunnel_frames += 1;
                }
                if report.l2tag1.is_some() {
                    c.rx_vlan_stripped += 1;
                }
                if errors != 0 {
                    c.rx_csum_bad += 1;
                } else if status & RXD_L3L4P != 0 {
                    c.rx_csum_good += 1;
                }
                self.raise_queue(QINT_RQCTL + 4 * q as u32);
            }
            Err(Refused::NoDescriptor) => {
                self.counters.rx.rx_no_descriptor_drops += 1;
                self.stats.rx_no_descriptor(target.vsi);
            }
            Err(Refused::Oversize) => {
                self.counters.rx.rx_oversize_dropped += 1;
                self.stats.rx_discard_other();
            }
            Err(Refused::Dma) => {
                self.counters.rx.rx_dma_errors += 1;
                self.stats.rx_discard_other();
            }
            Err(Refused::Ring) => {
                self.counters.rx.rx_ring_errors += 1;
                self.stats.rx_no_descriptor(target.vsi);
            }
        }
    }

    /// QRX_TAIL was written: new descriptors on queue `q`. Frames that found no
    /// descriptor were dropped when they arrived (there is no receive FIFO), so
    /// there is nothing to deliver; a tail beyond the ring is only noted.
    pub(super) fn rx_tail_written(&mut self, q: usize) {
        let Some(ctx) = self.rxq.get(q).and_then(|r| r.ctx) else {
            return;
        };
        let tail = self.get(QRX_TAIL + 4 * q as u32);
        if tail >= u32::from(ctx.qlen) {
            self.warn_once(Warn::Ring, || {
                tracing::warn!(
                    queue = q,
                    tail,
                    qlen = ctx.qlen,
                    "Rx tail beyond the ring: frames for the queue are dropped"
                )
            });
        }
    }

    fn warn_once(&mut self, cause: Warn, log: impl FnOnce()) {
        let bit = 1u32 << cause as u32;
        if self.counters.rx.state.warned & bit == 0 {
            self.counters.rx.state.warned |= bit;
            log();
        }
    }

    /// The Toeplitz tables for the key now in PFQF_HKEY(0..12), rebuilt only
    /// when the key changed.
    fn toeplitz(&mut self) -> Arc<Toeplitz> {
        let words: [u32; KEY_WORDS] =
            std::array::from_fn(|i| self.get(PFQF_HKEY + HKEY_STRIDE * i as u32));
        let cache = &mut self.counters.rx.state.rss;
        if cache.key != words {
            cache.toeplitz = None;
            cache.key = words;
        }
        cache
            .toeplitz
            .get_or_insert_with(|| {
                let mut key = [0u8; 4 * KEY_WORDS];
                for (chunk, w) in key.chunks_mut(4).zip(words) {
                    chunk.copy_from_slice(&w.to_le_bytes());
                }
                Arc::new(Toeplitz::with_key(&key))
            })
            .clone()
    }

    /// The RSS hash, when the frame's PCTYPE is enabled in PFQF_HENA, over the
    /// fields of that PCTYPE's input set (GLQF_HASH_INSET).
    fn rss_hash(&mut self, parsed: Option<&Parsed>, a: &Analysis) -> Option<u32> {
        let p = parsed?;
        let hena = u64::from(self.get(PFQF_HENA0)) | (u64::from(self.get(PFQF_HENA1)) << 32);
        let (pc, types, src) = rss_input(a)?;
        if hena & (1u64 << pc) == 0 {
            return None;
        }
        let (lo, hi) = hash_input_set_regs(pc);
        let fields = input_set_fields(u64::from(self.get(lo)) | (u64::from(self.get(hi)) << 32));
        let t = self.toeplitz();
        let r = match src {
            HashSource::Frame(inner) => rss::hash_parsed_with(p, &t, types, inner, fields),
            HashSource::Decap => {
                rss::hash_parsed_with(&a.decap.as_ref()?.parsed, &t, types, false, fields)
            }
        }?;
        Some(r.hash)
    }

    /// The absolute queue: a filter's queue, else the LUT entry of the hash, else
    /// the VSI's first queue; entries are VSI-relative.
    fn pick_queue(&self, t: &RxTarget, hash: Option<u32>) -> usize {
        let count = t.queue_count.max(1);
        let rel = match (t.fixed_queue, hash) {
            (Some(fq), _) => fq % count,
            (None, Some(h)) if count > 1 => {
                let size: usize = if self.get(PFQF_CTL_0) & PFQF_CTL_0_HASHLUTSIZE != 0 {
                    512
                } else {
                    128
                };
                let idx = h as usize & (size - 1);
                let reg = self.get(PFQF_HLUT + HLUT_STRIDE * (idx / 4) as u32);
                let entry = (reg >> (8 * (idx % 4))) & LUT_ENTRY_MASK;
                entry as u16 % count
            }
            _ => 0,
        };
        usize::from(t.queue_base.saturating_add(rel)) % QUEUES
    }

    /// Writes the frame into queue `q`'s ring and its descriptors.
    fn deliver(&mut self, q: usize, frame: &[u8], r: &Report) -> Result<(), Refused> {
        let Some(ctx) = self.rxq.get(q).and_then(|x| x.ctx) else {
            self.warn_once(Warn::Disabled, || {
                tracing::warn!(queue = q, "frame for a disabled Rx queue dropped")
            });
            return Err(Refused::NoDescriptor);
        };
        // What goes to host memory: tag stripped, FCS appended when asked.
        let owned;
        let data: &[u8] = if r.l2tag1.is_some() || !ctx.crcstrip {
            let mut v = Vec::with_capacity(frame.len() + FCS_LEN);
            if r.l2tag1.is_some() {
                v.extend_from_slice(&frame[..12]);
                v.extend_from_slice(&frame[16..]);
            } else {
                v.extend_from_slice(frame);
            }
            if !ctx.crcstrip {
                v.extend_from_slice(&crc32fast::hash(frame).to_le_bytes());
            }
            owned = v;
            &owned
        } else {
            frame
        };
        if data.len() > ctx.rxmax {
            return Err(Refused::Oversize);
        }
        let qlen = u32::from(ctx.qlen);
        let tail = self.get(QRX_TAIL + 4 * q as u32);
        let head = u32::from(self.rxq[q].head);
        if qlen == 0 || ctx.dbuff == 0 || tail >= qlen || head >= qlen {
            self.warn_once(Warn::Ring, || {
                tracing::warn!(
                    queue = q,
                    qlen,
                    dbuff = ctx.dbuff,
                    head,
                    tail,
                    "Rx ring unusable (length, buffer size, head or tail): frame dropped"
                )
            });
            return Err(Refused::Ring);
        }
        let needed = data.len().div_ceil(ctx.dbuff).max(1);
        if needed > MAX_CHAIN {
            self.warn_once(Warn::Chain, || {
                tracing::warn!(
                    queue = q,
                    len = data.len(),
                    dbuff = ctx.dbuff,
                    "frame needs more than five Rx buffers: dropped"
                )
            });
            return Err(Refused::Oversize);
        }
        let available = ((tail + qlen - head) % qlen) as usize;
        if available < needed {
            return Err(Refused::NoDescriptor);
        }
        let dsize: u64 = if ctx.dsize32 { 32 } else { 16 };
        let desc_addr = |i: usize| {
            ctx.base
                .wrapping_add(u64::from((head + i as u32) % qlen) * dsize)
        };
        // Fetch every buffer address first, then copy, then write back: a DMA
        // failure leaves the ring untouched.
        let mut bufs = [0u64; MAX_CHAIN];
        for (i, b) in bufs.iter_mut().enumerate().take(needed) {
            let mut qw0 = [0u8; 8];
            let a = desc_addr(i);
            if self.dma.read(a, &mut qw0).is_err() {
                self.warn_once(Warn::DescriptorDma, || {
                    tracing::warn!(
                        queue = q,
                        addr = a,
                        "Rx descriptor outside guest memory: frame dropped"
                    )
                });
                return Err(Refused::Dma);
            }
            *b = u64::from_le_bytes(qw0);
        }
        for (chunk, &b) in data.chunks(ctx.dbuff).zip(&bufs) {
            if self.dma.write(b, chunk).is_err() {
                self.warn_once(Warn::BufferDma, || {
                    tracing::warn!(
                        queue = q,
                        addr = b,
                        "Rx buffer outside guest memory: frame dropped"
                    )
                });
                return Err(Refused::Dma);
            }
        }
        for (i, chunk) in data.chunks(ctx.dbuff).enumerate() {
            let last = i + 1 == needed;
            let len = (chunk.len() as u64 & RXD_LENGTH_MASK) << RXD_LENGTH_SHIFT;
            let (qw0, qw1) = if last {
                let mut status = RXD_DD | RXD_EOF | r.status;
                let mut qw0 = 0u64;
                if let Some(tag) = r.l2tag1 {
                    status |= RXD_L2TAG1P;
                    qw0 |= u64::from(tag) << 16;
                }
                if let Some(h) = r.hash {
                    status |= FLTSTAT_RSS_HASH << RXD_FLTSTAT_SHIFT;
                    qw0 |= u64::from(h) << 32;
                }
                let qw1 = status
                    | (r.errors << RXD_ERROR_SHIFT)
                    | (u64::from(r.ptype) << RXD_PTYPE_SHIFT)
                    | len;
                (qw0, qw1)
            } else {
                (0, RXD_DD | len)
            };
            let a = desc_addr(i);
            // qw2/qw3 (zero: no extended status, flex bytes or FD id), qw0, and
            // the status word last: the driver polls it.
            let ok = (!ctx.dsize32 || self.dma.write(a + 16, &[0u8; 16]).is_ok())
                && self.dma.write(a, &qw0.to_le_bytes()).is_ok()
                && self.dma.write(a + 8, &qw1.to_le_bytes()).is_ok();
            if !ok {
                // The descriptor was readable a moment ago; only a concurrent
                // unmap gets here. Count it and give up on the rest.
                self.counters.rx.rx_dma_errors += 1;
                break;
            }
            self.counters.rx.rx_descriptors += 1;
        }
        self.rxq[q].head = ((head + needed as u32) % qlen) as u16;
        Ok(())
    }
}

/// L3L4P and the error bits (digest §4.3): only layers that were checked report.
fn checksum_report(frame: &[u8], parsed: Option<&Parsed>, a: &Analysis) -> (u64, u64) {
    let Some(p) = parsed else {
        return (0, 0);
    };
    if matches!(a.decoded, Decoded::L2(_)) {
        return (0, 0);
    }
    let outer = rxcsum::validate_parsed(frame, p);
    let (outer_ip, inner_ip, l4) = match (a.tunnel(), &a.decap) {
        (None, _) => (None, outer.outer_ipv4, outer.outer_l4),
        (Some(_), Some(d)) => {
            let r = rxcsum::validate_parsed(&d.buf, &d.parsed);
            (outer.outer_ipv4, r.outer_ipv4, r.outer_l4)
        }
        (Some(_), None) => (outer.outer_ipv4, outer.inner_ipv4, outer.inner_l4),
    };
    let mut errors = 0;
    if outer_ip == Some(false) {
        errors |= RXD_ERR_EIPE;
    }
    if inner_ip == Some(false) {
        errors |= RXD_ERR_IPE;
    }
    if l4.is_some_and(|(_, ok)| !ok) {
        errors |= RXD_ERR_L4E;
    }
    let checked = outer_ip.is_some() || inner_ip.is_some() || l4.is_some();
    (if checked { RXD_L3L4P } else { 0 }, errors)
}

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use dma::DmaSpace;
    use offload_engines::checksum::{checksum, fold, pseudo_ipv4, pseudo_ipv6, sum};

    use super::super::switch::{props, MAIN_VSI_SEID};
    use super::*;

    const MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 1];
    const RING: u64 = 0x10_0000;
    const BUFS: u64 = 0x40_0000;
    const BUF_STRIDE: u64 = 0x4000;
    const QLEN: u16 = 16;

    /// Microsoft's RSS verification key (the first 40 of the X710's 52 bytes).
    const MS_KEY: [u8; 40] = [
        0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f,
        0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
        0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
    ];
    /// Published rows: IPv4 src, dst, ports, 2-tuple and 4-tuple hash.
    const V4_ROW1: ([u8; 4], [u8; 4], u16, u16, u32, u32) = (
        [66, 9, 149, 187],
        [161, 142, 100, 80],
        2794,
        1766,
        0x323e_8fc2,
        0x51cc_c178,
    );
    const V4_ROW2: ([u8; 4], [u8; 4], u16, u16, u32, u32) = (
        [199, 92, 111, 2],
        [65, 69, 140, 83],
        14230,
        4739,
        0xd718_262a,
        0xc626_b0ea,
    );
    const V6_ROW1: (&str, &str, u16, u16, u32, u32) = (
        "3ffe:2501:200:1fff::7",
        "3ffe:2501:200:3::1",
        2794,
        1766,
        0x2cc1_8cd5,
        0x4020_7d3d,
    );

    fn device() -> (I40e, Arc<DmaSpace>) {
        let (dev, dma) = super::super::test_support::device(MAC);
        dma.map_anonymous(0, 16 << 20).unwrap();
        (dev, dma)
    }

    fn context(q: usize, dbuff: usize, dsize32: bool) -> RxContext {
        RxContext {
            head: 0,
            base: RING + q as u64 * 0x1000,
            qlen: QLEN,
            dbuff,
            hbuff: 0,
            dtype: 0,
            dsize32,
            crcstrip: true,
            l2tsel: true,
            showiv: false,
            rxmax: 9728,
        }
    }

    fn dsize(ctx: &RxContext) -> u64 {
        if ctx.dsize32 {
            32
        } else {
            16
        }
    }

    fn buf_addr(q: usize, i: u16) -> u64 {
        BUFS + (q as u64 * u64::from(QLEN) + u64::from(i)) * BUF_STRIDE
    }

    /// Starts queue `q` with `posted` descriptors as the drivers post them.
    fn start(dev: &mut I40e, dma: &DmaSpace, q: usize, ctx: RxContext, posted: u16) {
        dev.rxq[q] = RxQueue::started(ctx);
        for i in 0..QLEN {
            let a = ctx.base + u64::from(i) * dsize(&ctx);
            dma.write(a, &buf_addr(q, i).to_le_bytes()).unwrap();
            dma.write(a + 8, &[0u8; 24][..dsize(&ctx) as usize - 8])
                .unwrap();
        }
        dev.set(QRX_TAIL + 4 * q as u32, u32::from(posted));
    }

    fn desc(dma: &DmaSpace, ctx: &RxContext, i: u16) -> (u64, u64) {
        let mut d = [0u8; 16];
        dma.read(ctx.base + u64::from(i) * dsize(ctx), &mut d)
            .unwrap();
        (
            u64::from_le_bytes(d[..8].try_into().unwrap()),
            u64::from_le_bytes(d[8..].try_into().unwrap()),
        )
    }

    fn length(qw1: u64) -> usize {
        ((qw1 >> RXD_LENGTH_SHIFT) & RXD_LENGTH_MASK) as usize
    }

    fn ptype_of(qw1: u64) -> u8 {
        (qw1 >> RXD_PTYPE_SHIFT) as u8
    }

    fn errors(qw1: u64) -> u64 {
        (qw1 >> RXD_ERROR_SHIFT) & 0xFF
    }

    fn read_buf(dma: &DmaSpace, addr: u64, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        dma.read(addr, &mut v).unwrap();
        v
    }

    // ---- frames -------------------------------------------------------------------

    fn l4_segment(proto: u8, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
        let mut s = Vec::new();
        s.extend_from_slice(&sport.to_be_bytes());
        s.extend_from_slice(&dport.to_be_bytes());
        if proto == 6 {
            s.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xFF, 0xFF, 0, 0, 0, 0]);
        } else {
            s.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
            s.extend_from_slice(&[0, 0]);
        }
        s.extend_from_slice(payload);
        s
    }

    fn fill_l4_checksum(seg: &mut [u8], proto: u8, pseudo: u64) {
        let at = if proto == 6 { 16 } else { 6 };
        let c = !fold(sum(seg, pseudo));
        seg[at..at + 2].copy_from_slice(&c.to_be_bytes());
    }

    fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, body: &[u8]) -> Vec<u8> {
        let mut h = vec![0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, proto, 0, 0];
        h[2..4].copy_from_slice(&((20 + body.len()) as u16).to_be_bytes());
        h.extend_from_slice(&src);
        h.extend_from_slice(&dst);
        let c = checksum(&h);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        h.extend_from_slice(body);
        h
    }

    fn ipv4_l4(src: [u8; 4], dst: [u8; 4], proto: u8, sport: u16, dport: u16) -> Vec<u8> {
        let mut seg = l4_segment(proto, sport, dport, b"hello, tunic");
        let pseudo = pseudo_ipv4(src, dst, proto, seg.len() as u32);
        fill_l4_checksum(&mut seg, proto, pseudo);
        ipv4(src, dst, proto, &seg)
    }

    fn ipv6_l4(src: &str, dst: &str, proto: u8, sport: u16, dport: u16) -> Vec<u8> {
        let (s, d): (Ipv6Addr, Ipv6Addr) = (src.parse().unwrap(), dst.parse().unwrap());
        let mut seg = l4_segment(proto, sport, dport, b"hello, tunic");
        let pseudo = pseudo_ipv6(s.octets(), d.octets(), proto, seg.len() as u32);
        fill_l4_checksum(&mut seg, proto, pseudo);
        let mut h = vec![0x60, 0, 0, 0];
        h.extend_from_slice(&(seg.len() as u16).to_be_bytes());
        h.extend_from_slice(&[proto, 64]);
        h.extend_from_slice(&s.octets());
        h.extend_from_slice(&d.octets());
        h.extend(seg);
        h
    }

    fn eth(dst: [u8; 6], vlan: Option<u16>, ethertype: u16, body: &[u8]) -> Vec<u8> {
        let mut f = dst.to_vec();
        f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x99]);
        if let Some(tci) = vlan {
            f.extend_from_slice(&[0x81, 0x00]);
            f.extend_from_slice(&tci.to_be_bytes());
        }
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(body);
        f
    }

    /// NVGRE: outer IPv4, GRE K=1 0x6558 with VSID 0x1234 and FlowID 7.
    fn nvgre4(outer_src: [u8; 4], outer_dst: [u8; 4], inner: &[u8]) -> Vec<u8> {
        let mut g = vec![0x20, 0x00, 0x65, 0x58, 0x00, 0x12, 0x34, 0x07];
        g.extend_from_slice(inner);
        eth(MAC, None, 0x0800, &ipv4(outer_src, outer_dst, 47, &g))
    }

    fn tcp4_frame() -> Vec<u8> {
        let (s, d, sp, dp, _, _) = V4_ROW1;
        eth(MAC, None, 0x0800, &ipv4_l4(s, d, 6, sp, dp))
    }

    fn inner_tcp4() -> Vec<u8> {
        let (s, d, sp, dp, _, _) = V4_ROW1;
        eth(
            [0x02, 0, 0, 0, 0, 0x11],
            None,
            0x0800,
            &ipv4_l4(s, d, 6, sp, dp),
        )
    }

    /// The key registers: MS key in bytes 0..40, anything in 40..52.
    fn program_rss(dev: &mut I40e, hena: u64) {
        let mut key = [0x5Au8; 52];
        key[..40].copy_from_slice(&MS_KEY);
        for (i, c) in key.chunks(4).enumerate() {
            dev.set(
                PFQF_HKEY + 0x80 * i as u32,
                u32::from_le_bytes(c.try_into().unwrap()),
            );
        }
        dev.set(PFQF_HENA0, hena as u32);
        dev.set(PFQF_HENA1, (hena >> 32) as u32);
    }

    fn set_main_queues(dev: &mut I40e, pow: u16) {
        let v = dev.switch.vsi_mut(MAIN_VSI_SEID).unwrap();
        let tc = (pow << props::TC_QUE_NUMBER_SHIFT).to_le_bytes();
        v.props[props::TC_MAPPING..props::TC_MAPPING + 2].copy_from_slice(&tc);
        v.props[props::QUEUE_MAPPING..props::QUEUE_MAPPING + 2].copy_from_slice(&[0, 0]);
    }

    // ---- tests --------------------------------------------------------------------

    #[test]
    fn tcp4_frame_written_back_with_length_eof_dd_and_ptype_26() {
        let (mut dev, dma) = device();
        let ctx = context(0, 2048, false);
        start(&mut dev, &dma, 0, ctx, 8);
        dev.set(QINT_RQCTL, QINT_CAUSE_ENA | 1);
        dev.set(PFINT_DYN_CTLN, DYN_CTL_INTENA);
        let f = tcp4_frame();
        dev.receive(&f);
        let (qw0, qw1) = desc(&dma, &ctx, 0);
        assert_eq!(length(qw1), f.len());
        assert_eq!(qw1 & (RXD_DD | RXD_EOF), RXD_DD | RXD_EOF);
        assert_ne!(qw1 & RXD_L3L4P, 0, "IPv4 and TCP were checked");
        assert_eq!(errors(qw1), 0);
        assert_eq!(ptype_of(qw1), 26);
        assert_eq!(qw1 >> 63, 0, "SPH stays 0");
        assert_eq!(qw1 & (3 << RXD_FLTSTAT_SHIFT), 0, "no RSS: no hash");
        assert_eq!(qw0, 0);
        assert_eq!(read_buf(&dma, buf_addr(0, 0), f.len()), f);
        assert_eq!(dev.rxq[0].head, 1);
        let c = dev.counters().rx;
        assert_eq!((c.rx_frames, c.rx_descriptors, c.rx_csum_good), (1, 1, 1));
        assert_eq!(c.rx_queue_frames.get(&0), Some(&1));
        assert_eq!(dev.intr.fired[1], 1, "queue interrupt on vector 1");
        // Statistics: port and main VSI saw one unicast frame.
        assert_eq!(dev.stats.read(super::super::stats::port::UPRCL), Some(1));
        assert_eq!(
            dev.stats.read(super::super::stats::vsi::UPRCL + 32),
            Some(1)
        );
        assert_eq!(
            dev.stats.read(super::super::stats::vsi::GORCL + 32),
            Some(f.len() as u32 + 4)
        );
    }

    #[test]
    fn udp6_and_nvgre_ptypes() {
        let (mut dev, dma) = device();
        let ctx = context(0, 2048, false);
        start(&mut dev, &dma, 0, ctx, 15);
        let (s, d, sp, dp, _, _) = V6_ROW1;
        let udp6 = eth(MAC, None, 0x86DD, &ipv6_l4(s, d, 17, sp, dp));
        let nv = nvgre4([10, 0, 0, 1], [10, 0, 0, 2], &inner_tcp4());
        let inner6 = eth(
            [2, 0, 0, 0, 0, 0x11],
            None,
            0x86DD,
            &ipv6_l4(s, d, 6, sp, dp),
        );
        let nv_mixed = nvgre4([10, 0, 0, 1], [10, 0, 0, 2], &inner6);
        let mut outer6 = Vec::new();
        {
            // NVGRE over IPv6 carrying TCP/IPv4.
            let mut g = vec![0x20, 0x00, 0x65, 0x58, 0x00, 0x12, 0x34, 0x07];
            g.extend_from_slice(&inner_tcp4());
            let mut h = vec![0x60, 0, 0, 0];
            h.extend_from_slice(&(g.len() as u16).to_be_bytes());
            h.extend_from_slice(&[47, 64]);
            h.extend_from_slice(&[0xfe; 16]);
            h.extend_from_slice(&[0xfd; 16]);
            h.extend(g);
            outer6.extend(eth(MAC, None, 0x86DD, &h));
        }
        for (i, (f, want)) in [(udp6, 90u8), (nv, 63), (nv_mixed, 70), (outer6, 129)]
            .iter()
            .enumerate()
        {
            dev.receive(f);
            let (_, qw1) = desc(&dma, &ctx, i as u16);
            assert_eq!(ptype_of(qw1), *want, "frame {i}");
            assert_eq!(length(qw1), f.len());
            assert_ne!(qw1 & RXD_L3L4P, 0);
            assert_eq!(errors(qw1), 0, "frame {i}: all checksums good");
        }
        assert_eq!(dev.counters().rx.rx_tunnel_frames, 3);
    }

    #[test]
    fn checksum_errors_name_the_layer() {
        let (mut dev, dma) = device();
        let ctx = context(0, 2048, false);
        start(&mut dev, &dma, 0, ctx, 15);
        let good = nvgre4([10, 0, 0, 1], [10, 0, 0, 2], &inner_tcp4());
        // Offsets: outer IPv4 at 14 (checksum 24), GRE at 34, inner Ethernet at 42,
        // inner IPv4 at 56 (checksum 66), inner TCP at 76 (checksum 92).
        let flip = |at: usize| {
            let mut f = good.clone();
            f[at] ^= 0x01;
            f
        };
        let cases = [
            (flip(24), RXD_ERR_EIPE),
            (flip(66), RXD_ERR_IPE),
            (flip(92), RXD_ERR_L4E),
            (flip(24 + 1), RXD_ERR_EIPE),
        ];
        for (i, (f, want)) in cases.iter().enumerate() {
            dev.receive(f);
            let (_, qw1) = desc(&dma, &ctx, i as u16);
            assert_eq!(errors(qw1), *want, "case {i}");
            assert_ne!(qw1 & RXD_L3L4P, 0);
            assert_eq!(ptype_of(qw1), 63);
        }
        // Plain TCP/IPv4 with a bad IP header checksum: IPE, not EIPE.
        let mut f = tcp4_frame();
        f[24] ^= 0x10;
        dev.receive(&f);
        let (_, qw1) = desc(&dma, &ctx, 4);
        assert_eq!(errors(qw1), RXD_ERR_IPE);
        // ARP: nothing checked, nothing reported.
        dev.receive(&eth([0xFF; 6], None, 0x0806, &[0u8; 28]));
        // (broadcast is not accepted before the driver asks: filtered)
        assert_eq!(dev.counters().rx.rx_filtered, 1);
        let arp = eth(MAC, None, 0x0806, &[0u8; 28]);
        dev.receive(&arp);
        let (_, qw1) = desc(&dma, &ctx, 5);
        assert_eq!((ptype_of(qw1), qw1 & RXD_L3L4P, errors(qw1)), (11, 0, 0));
        let c = dev.counters().rx;
        assert_eq!((c.rx_csum_bad, c.rx_csum_good), (5, 0));
    }

    #[test]
    fn the_hash_input_set_chooses_the_fields_and_resets_to_the_four_tuple() {
        let (mut dev, dma) = device();
        let ctx = context(0, 2048, false);
        start(&mut dev, &dma, 0, ctx, 8);
        program_rss(&mut dev, 1u64 << pctype::NONF_IPV4_TCP);
        let (lo, hi) = hash_input_set_regs(pctype::NONF_IPV4_TCP);
        let read = |dev: &I40e| u64::from(dev.get(lo)) | (u64::from(dev.get(hi)) << 32);
        // What the driver reads back for `ethtool -n rx-flow-hash tcp4`: sdfn.
        assert_eq!(
            read(&dev),
            inset::IPV4_SRC | inset::IPV4_DST | inset::L4_SRC | inset::L4_DST
        );
        let (_, _, _, _, h2, h4) = V4_ROW1;
        let hash_of_next = |dev: &mut I40e| {
            dev.receive(&tcp4_frame());
            (desc(&dma, &ctx, dev.rxq[0].head - 1).0 >> 32) as u32
        };
        assert_eq!(hash_of_next(&mut dev), h4);
        // `ethtool -N rx-flow-hash tcp4 sd`: the addresses only, Microsoft's 2-tuple value.
        let sd = inset::IPV4_SRC | inset::IPV4_DST;
        dev.set(lo, sd as u32);
        dev.set(hi, (sd >> 32) as u32);
        assert_eq!(hash_of_next(&mut dev), h2);
        // A PF reset brings the NVM's input sets back.
        dev.reset();
        assert_eq!(read(&dev), sd | inset::L4_SRC | inset::L4_DST);
    }

    #[test]
    fn rss_hash_matches_the_microsoft_vectors_and_picks_the_lut_queue() {
        let (mut dev, dma) = device();
        set_main_queues(&mut dev, 3); // 8 queues
        let ctxs: Vec<RxContext> = (0..8).map(|q| context(q, 2048, false)).collect();
        for (q, c) in ctxs.iter().enumerate() {
            start(&mut dev, &dma, q, *c, 8);
        }
        // LUT of 512 entries, entry i = i % 7 (so that % 8 shows the mask at work
        // only through the table), 6-bit entries with junk in the top bits.
        dev.set(PFQF_CTL_0, PFQF_CTL_0_HASHLUTSIZE);
        for r in 0..128u32 {
            let b: [u8; 4] = std::array::from_fn(|k| ((4 * r + k as u32) % 7) as u8 | 0xC0);
            dev.set(PFQF_HLUT + 0x80 * r, u32::from_le_bytes(b));
        }
        let hena = (1u64 << pctype::NONF_IPV4_TCP)
            | (1u64 << pctype::NONF_IPV4_OTHER)
            | (1u64 << pctype::NONF_IPV6_UDP);
        program_rss(&mut dev, hena);
        let lut_queue = |h: u32| ((h as usize & 511) % 7) % 8;

        let (s, d, _, _, h2, h4) = V4_ROW1;
        let cases: Vec<(Vec<u8>, u32)> = vec![
            // 4-tuple of TCP/IPv4.
            (tcp4_frame(), h4),
            // ICMP/IPv4: "other", the 2-tuple.
            (
                eth(
                    MAC,
                    None,
                    0x0800,
                    &ipv4(s, d, 1, &[8, 0, 0xf7, 0xff, 0, 0, 0, 0]),
                ),
                h2,
            ),
            // UDP/IPv6 4-tuple.
            {
                let (s6, d6, sp6, dp6, _, h6) = V6_ROW1;
                (eth(MAC, None, 0x86DD, &ipv6_l4(s6, d6, 17, sp6, dp6)), h6)
            },
            // NVGRE with inner TCP: the inner 4-tuple.
            (nvgre4([10, 0, 0, 1], [10, 0, 0, 2], &inner_tcp4()), h4),
            // NVGRE with inner ICMP: the outer 2-tuple.
            {
                let (os, od, _, _, oh2, _) = V4_ROW2;
                let icmp = ipv4(s, d, 1, &[8, 0, 0xf7, 0xff, 0, 0, 0, 0]);
                let inner = eth([2, 0, 0, 0, 0, 0x11], None, 0x0800, &icmp);
                (nvgre4(os, od, &inner), oh2)
            },
        ];
        for (i, (f, want)) in cases.iter().enumerate() {
            let before = dev.counters().rx.rx_queue_frames.clone();
            dev.receive(f);
            let q = lut_queue(*want);
            let after = dev.counters().rx.rx_queue_frames;
            assert_eq!(
                after.get(&(q as u16)).copied().unwrap_or(0),
                before.get(&(q as u16)).copied().unwrap_or(0) + 1,
                "case {i}: hash {want:#x} goes to queue {q}"
            );
            let head = dev.rxq[q].head;
            let (qw0, qw1) = desc(&dma, &ctxs[q], head - 1);
            assert_eq!((qw0 >> 32) as u32, *want, "case {i}");
            assert_eq!((qw1 >> RXD_FLTSTAT_SHIFT) & 3, FLTSTAT_RSS_HASH);
        }
        assert_eq!(dev.counters().rx.rx_rss_hashed, 5);
        // UDP/IPv4 is not enabled: no hash, the VSI's first queue.
        let (s2, d2, sp2, dp2, _, _) = V4_ROW2;
        dev.receive(&eth(MAC, None, 0x0800, &ipv4_l4(s2, d2, 17, sp2, dp2)));
        let (_, qw1) = desc(&dma, &ctxs[0], dev.rxq[0].head - 1);
        assert_eq!((qw1 >> RXD_FLTSTAT_SHIFT) & 3, 0);
        assert_eq!(ptype_of(qw1), 24);
        // A 128-entry table: the index keeps 7 bits.
        dev.set(PFQF_CTL_0, 0);
        let before = dev.counters().rx.rx_queue_frames;
        dev.receive(&tcp4_frame());
        let q = ((h4 as usize & 127) % 7) % 8;
        assert_eq!(
            dev.counters().rx.rx_queue_frames.get(&(q as u16)).copied(),
            Some(before.get(&(q as u16)).copied().unwrap_or(0) + 1)
        );
    }

    #[test]
    fn toeplitz_tables_are_rebuilt_only_when_the_key_changes() {
        let (mut dev, _dma) = device();
        program_rss(&mut dev, 0);
        let a = dev.toeplitz();
        let b = dev.toeplitz();
        assert!(Arc::ptr_eq(&a, &b));
        dev.set(PFQF_HKEY + 0x80 * 12, 0x1234_5678);
        let c = dev.toeplitz();
        assert!(!Arc::ptr_eq(&a, &c));
    }

    #[test]
    fn a_frame_larger_than_one_buffer_chains() {
        let (mut dev, dma) = device();
        let ctx = context(0, 256, false);
        start(&mut dev, &dma, 0, ctx, 8);
        let mut f = tcp4_frame();
        f.resize(400, 0xEE); // padding behind the IP packet
        dev.receive(&f);
        let (_, d0) = desc(&dma, &ctx, 0);
        let (_, d1) = desc(&dma, &ctx, 1);
        assert_eq!((length(d0), length(d1)), (256, 144));
        assert_eq!(d0 & (RXD_DD | RXD_EOF), RXD_DD);
        assert_eq!(d1 & (RXD_DD | RXD_EOF), RXD_DD | RXD_EOF);
        assert_eq!(ptype_of(d1), 26);
        assert_eq!(read_buf(&dma, buf_addr(0, 0), 256), f[..256]);
        assert_eq!(read_buf(&dma, buf_addr(0, 1), 144), f[256..]);
        assert_eq!(dev.rxq[0].head, 2);
        // Six buffers' worth is refused, as is anything above rxmax.
        let mut big = tcp4_frame();
        big.resize(256 * 5 + 1, 0);
        dev.receive(&big);
        assert_eq!(dev.counters().rx.rx_oversize_dropped, 1);
        assert_eq!(dev.rxq[0].head, 2);
        let mut small = ctx;
        small.rxmax = 399;
        dev.rxq[0].ctx = Some(small);
        dev.receive(&f);
        assert_eq!(dev.counters().rx.rx_oversize_dropped, 2);
        assert_eq!(rd_rxerr1(&dev), 2, "GL_RXERR1 of the PF counts both");
        small.rxmax = 400;
        dev.rxq[0].ctx = Some(small);
        dev.receive(&f);
        assert_eq!(dev.rxq[0].head, 4);
    }

    fn rd_rxerr1(dev: &I40e) -> u32 {
        dev.stats
            .read(super::super::stats::GL_RXERR1L + 8 * 128)
            .unwrap()
    }

    #[test]
    fn thirty_two_byte_descriptors_crc_and_vlan_stripping() {
        let (mut dev, dma) = device();
        let mut ctx = context(0, 2048, true);
        ctx.crcstrip = false;
        start(&mut dev, &dma, 0, ctx, 4);
        dev.switch.vsi_mut(MAIN_VSI_SEID).unwrap().props[props::PORT_VLAN_FLAGS] =
            props::PVLAN_MODE_ALL | props::PVLAN_EMOD_STR_BOTH;
        let inner = ipv4_l4([10, 0, 0, 1], [10, 0, 0, 2], 17, 1000, 2000);
        let tagged = eth(MAC, Some(0x2064), 0x0800, &inner);
        dev.receive(&tagged);
        let (qw0, qw1) = desc(&dma, &ctx, 0);
        let untagged = eth(MAC, None, 0x0800, &inner);
        assert_eq!(length(qw1), untagged.len() + 4, "tag out, FCS in");
        assert_ne!(qw1 & RXD_L2TAG1P, 0);
        assert_eq!((qw0 >> 16) as u16, 0x2064);
        assert_eq!(ptype_of(qw1), 24);
        let got = read_buf(&dma, buf_addr(0, 0), untagged.len() + 4);
        assert_eq!(got[..untagged.len()], untagged[..]);
        assert_eq!(
            got[untagged.len()..],
            crc32fast::hash(&tagged).to_le_bytes()
        );
        // The second descriptor sits 32 bytes on.
        dev.receive(&untagged);
        let (qw0, qw1) = desc(&dma, &ctx, 1);
        assert_eq!(qw1 & (RXD_DD | RXD_EOF | RXD_L2TAG1P), RXD_DD | RXD_EOF);
        assert_eq!(qw0, 0);
        assert_eq!(dev.counters().rx.rx_vlan_stripped, 1);
    }

    #[test]
    fn no_descriptor_and_disabled_queue_drops_are_counted() {
        let (mut dev, dma) = device();
        // Queue 0 disabled.
        dev.receive(&tcp4_frame());
        assert_eq!(dev.counters().rx.rx_no_descriptor_drops, 1);
        let ctx = context(0, 2048, false);
        start(&mut dev, &dma, 0, ctx, 2);
        dev.receive(&tcp4_frame());
        dev.receive(&tcp4_frame());
        dev.receive(&tcp4_frame()); // head == tail: ring full
        let c = dev.counters().rx;
        assert_eq!((c.rx_frames, c.rx_no_descriptor_drops), (2, 2));
        let (_, qw1) = desc(&dma, &ctx, 2);
        assert_eq!(qw1, 0, "the descriptor at the tail is not touched");
        // The main VSI (number 0) counts in statistics block 4.
        assert_eq!(dev.stats.read(super::super::stats::vsi::RDPC + 32), Some(2));
        assert_eq!(dev.stats.read(super::super::stats::port::UPRCL), Some(4));
        // The driver posts more: delivery resumes.
        dev.write32(QRX_TAIL, 5);
        dev.receive(&tcp4_frame());
        assert_eq!(dev.counters().rx.rx_frames, 3);
        // A tail beyond the ring is a ring error, not a crash.
        dev.write32(QRX_TAIL, 999);
        dev.receive(&tcp4_frame());
        assert_eq!(dev.counters().rx.rx_ring_errors, 1);
    }

    #[test]
    fn hostile_rings_do_not_panic() {
        let (mut dev, dma) = device();
        let mut ctx = context(0, 0, false);
        start(&mut dev, &dma, 0, ctx, 4);
        dev.receive(&tcp4_frame());
        ctx.dbuff = 128;
        ctx.base = u64::MAX - 8;
        start_without_writes(&mut dev, 0, ctx, 4);
        dev.receive(&tcp4_frame());
        ctx.base = RING;
        start(&mut dev, &dma, 0, ctx, 4);
        dma.write(RING, &(u64::MAX - 2).to_le_bytes()).unwrap();
        dev.receive(&tcp4_frame());
        assert_eq!(dev.rxq[0].head, 0, "nothing consumed");
        let c = dev.counters().rx;
        assert_eq!((c.rx_ring_errors, c.rx_dma_errors), (1, 2));
        for n in [0usize, 1, 13, 14, 15, 17, 40] {
            dev.receive(&vec![0x02; n]);
        }
        dev.receive(&vec![0x02; 9725]);
        assert_eq!(dev.counters().rx.rx_undersize_dropped, 3);
        assert_eq!(dev.counters().rx.rx_oversize_dropped, 1);
    }

    fn start_without_writes(dev: &mut I40e, q: usize, ctx: RxContext, tail: u32) {
        dev.rxq[q] = RxQueue::started(ctx);
        dev.set(QRX_TAIL + 4 * q as u32, tail);
    }
}
