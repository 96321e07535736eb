//! The guest driver: what Linux's `i40e` does with a working device (admin queue,
//! firmware commands, HMC queue contexts, rings, interrupts, RSS), then transmits
//! with checksum and TSO offloads, receive buffers and admin events cleaned and
//! re-posted.
//!
//! These operations behave like the driver, so traffic keeps flowing and later
//! operations reach deep paths; hostile ones come from the other operations.

use super::super::RAM_HIGH;
use super::frames::{self, PEER, VSID};
use super::harness::{Budget, Harness, MAC};
use super::{RxPacket, TxDesc, TxOffload, TxPacket};
use crate::i40e::adminq::{DESC_LEN, FLAG_BUF, FLAG_LB, FLAG_RD};
use crate::i40e::aq_cmds::opc;
use crate::i40e::hmc::{RX_CONTEXT_LEN, TX_CONTEXT_LEN};
use crate::i40e::regs::*;
use crate::i40e::switch::{
    cloud, props, MAIN_VSI_SEID, PROMISC_BROADCAST, PROMISC_MULTICAST, VSI_PROPS_LEN,
};

/// Queue pairs a bring-up uses at most.
pub(super) const MAX_PAIRS: usize = 4;
const AQ_ENTRIES: u32 = 32;
const ARQ_BUF_LEN: u16 = 128;
const TX_ENTRIES: u32 = 64;
const RX_ENTRIES: u32 = 32;
const RX_BUF_STRIDE: u64 = 2048;
/// BUF_SZ is 14 bits: the longest buffer one data descriptor carries.
const MAX_TX_BUF: usize = 0x3FFF;

// Guest memory: the admin queue, its buffers and the HMC page in low RAM, then
// the rings (or in high RAM, which can be unmapped), then packet buffers.
const ATQ: u64 = 0x1000;
const ARQ: u64 = 0x1400;
const AQ_BUF: u64 = 0x2000;
const ARQ_BUFS: u64 = 0x3000;
const HMC_PAGE: u64 = 0x8000;
/// FPM offset of the Rx contexts (the Tx contexts start at 0).
const RX_CTX_FPM: u64 = 0x4000;
const RINGS: u64 = 0x1_0000;
const TX_BUFS: u64 = 0x2_0000;
const RX_BUFS: u64 = 0x4_0000;

/// The driver's own structures, worth aiming at after the shared edges (RAM
/// region ends, the gap, the top of the address space, far away).
const OWN_ADDRESSES: [u64; 7] = [ATQ, AQ_BUF, HMC_PAGE, RINGS, TX_BUFS, RX_BUFS, ARQ_BUFS];
/// The edges of the parent module's address table.
const EDGES: usize = 7;

/// What a [`super::I40eOp::BringUp`] flag bit asks for (the bit is its value).
#[derive(Clone, Copy)]
enum Flag {
    /// Tx completion by head write-back, else by DD in the descriptors.
    HeadWb,
    RxDesc32,
    KeepCrc,
    /// 512-byte Rx buffers, so frames chain.
    SmallRxBuf,
    HighRings,
    NoCloudFilter,
}

/// A data descriptor's qw1 (`i40e_type.h`): DTYPE 0, CMD from bit 4, OFFSET from
/// 16, BUF_SZ from 34, L2TAG1 from 48.
fn data_qw1(cmd: u64, offset: u64, len: u64, l2tag1: u64) -> u64 {
    (cmd << 4) | (offset << 16) | (len << 34) | (l2tag1 << 48)
}

/// A context descriptor's qw1: DTYPE 1, CMD from bit 4 (TSO 1, IL2TAG2 4), TLEN
/// from 30, MSS from 50.
fn context_qw1(tso: bool, l2tag2: bool, tlen: u64, mss: u64) -> u64 {
    let cmd = u64::from(tso) | (u64::from(l2tag2) << 2);
    1 | (cmd << 4) | (tlen << 30) | (mss << 50)
}

/// What the guest driver set up.
#[derive(Debug, Default)]
pub(super) struct Driver {
    /// Queue pairs brought up (0 before any bring-up).
    pairs: usize,
    flags: u8,
    /// Next Rx descriptor to clean, per queue.
    rx_next: [u32; MAX_PAIRS],
}

impl Driver {
    /// Entry `target` (modulo the count) of the shared edges and the driver's own
    /// structures, plus `offset`, wrapping.
    pub(super) fn address(target: u8, offset: i32) -> u64 {
        Self::table(usize::from(target) % (EDGES + OWN_ADDRESSES.len()))
            .unwrap_or(0)
            .wrapping_add(i64::from(offset) as u64)
    }

    fn table(i: usize) -> Option<u64> {
        match i.checked_sub(EDGES) {
            None => super::super::ADDRESSES.get(i).copied(),
            Some(own) => OWN_ADDRESSES.get(own).copied(),
        }
    }

    fn has(&self, f: Flag) -> bool {
        self.flags >> f as u8 & 1 != 0
    }

    fn rings(&self) -> u64 {
        if self.has(Flag::HighRings) {
            RAM_HIGH.0
        } else {
            RINGS
        }
    }

    fn tx_ring(&self, q: usize) -> u64 {
        self.rings() + 0x400 * q as u64
    }

    fn rx_ring(&self, q: usize) -> u64 {
        self.rings() + 0x1000 + 0x400 * q as u64
    }

    fn head_wb(&self, q: usize) -> u64 {
        self.rings() + 0x2000 + 0x10 * q as u64
    }

    fn rx_desc_len(&self) -> u64 {
        if self.has(Flag::RxDesc32) {
            32
        } else {
            16
        }
    }

    fn rx_buf(q: usize, i: u32) -> u64 {
        RX_BUFS + (q as u64 * u64::from(RX_ENTRIES) + u64::from(i)) * RX_BUF_STRIDE
    }

    /// A frame from the peer: to the device, broadcast, multicast or another host.
    pub(super) fn rx_frame(r: &RxPacket) -> Vec<u8> {
        let to = match r.dst % 4 {
            0 => MAC,
            1 => [0xff; 6],
            2 => [0x01, 0x00, 0x5e, 0x00, 0x00, 0x01],
            _ => [0x02, 0, 0, 0, 0, 0x09],
        };
        frames::build(&r.packet, to, r.vlan, r.bad_csum).0
    }
}

/// A queue context: fields at (bit, value) in a little-endian bit string.
fn context<const N: usize>(fields: &[(usize, u64)]) -> [u8; N] {
    let mut words = [0u64; 4];
    for &(lsb, v) in fields {
        let (w, s) = (lsb / 64, lsb % 64);
        words[w] |= v << s;
        if s != 0 && w + 1 < words.len() {
            words[w + 1] |= v >> (64 - s);
        }
    }
    let mut out = [0u8; N];
    for (chunk, w) in out.chunks_mut(8).zip(words) {
        chunk.copy_from_slice(&w.to_le_bytes()[..chunk.len()]);
    }
    out
}

/// A 16-byte Tx descriptor from its two quadwords.
fn tx_desc(qw0: u64, qw1: u64) -> [u8; 16] {
    let mut d = [0u8; 16];
    d[..8].copy_from_slice(&qw0.to_le_bytes());
    d[8..].copy_from_slice(&qw1.to_le_bytes());
    d
}

fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

impl Harness {
    /// Register writes as one step (the driver programming a table).
    fn write_all(&mut self, regs: &[(u32, u32)]) {
        let budget = Budget {
            doorbells: regs.len() as u64,
            frames: 0,
        };
        self.step(budget, |d| {
            for &(off, v) in regs {
                d.mmio_write(u64::from(off), &v.to_le_bytes());
            }
        });
    }

    /// Both admin rings at the driver's addresses, every ARQ descriptor posted.
    fn setup_admin_queue(&mut self) {
        for (bal, bah, len, head, tail, base) in [
            (PF_ATQBAL, PF_ATQBAH, PF_ATQLEN, PF_ATQH, PF_ATQT, ATQ),
            (PF_ARQBAL, PF_ARQBAH, PF_ARQLEN, PF_ARQH, PF_ARQT, ARQ),
        ] {
            self.write(len, 0);
            self.write(bal, base as u32);
            self.write(bah, (base >> 32) as u32);
            self.write(head, 0);
            self.write(tail, 0);
            self.write(len, AQ_ENTRIES | AQ_LEN_ENABLE);
        }
        self.post_arq();
        self.write(PF_ARQT, AQ_ENTRIES - 1);
    }

    fn post_arq(&mut self) {
        let mut ring = vec![0u8; AQ_ENTRIES as usize * DESC_LEN];
        for (i, d) in ring.chunks_mut(DESC_LEN).enumerate() {
            let buf = ARQ_BUFS + i as u64 * u64::from(ARQ_BUF_LEN);
            put16(d, 0, FLAG_BUF);
            put16(d, 4, ARQ_BUF_LEN);
            d[24..28].copy_from_slice(&((buf >> 32) as u32).to_le_bytes());
            d[28..32].copy_from_slice(&(buf as u32).to_le_bytes());
        }
        self.poke(ARQ, &ring);
    }

    /// Puts `desc` into the ATQ at ATQT (setting the queue up when it is disabled),
    /// with `buf`'s bytes at its address, and rings the doorbell. Returns the
    /// descriptor as the device left it.
    pub(super) fn admin_command(
        &mut self,
        mut desc: [u8; DESC_LEN],
        buf: Option<(u64, &[u8])>,
    ) -> [u8; DESC_LEN] {
        let len = self.reg(PF_ATQLEN);
        if len & AQ_LEN_ENABLE == 0 || len & AQ_LEN_MASK == 0 {
            self.setup_admin_queue();
        }
        let n = (self.reg(PF_ATQLEN) & AQ_LEN_MASK).max(1);
        let base = u64::from(self.reg(PF_ATQBAL)) | u64::from(self.reg(PF_ATQBAH)) << 32;
        let tail = self.reg(PF_ATQT) % n;
        if let Some((addr, data)) = buf {
            desc[24..28].copy_from_slice(&((addr >> 32) as u32).to_le_bytes());
            desc[28..32].copy_from_slice(&(addr as u32).to_le_bytes());
            self.poke(addr, data);
        }
        let at = base.wrapping_add(u64::from(tail) * DESC_LEN as u64);
        self.poke(at, &desc);
        self.write(PF_ATQT, (tail + 1) % n);
        let mut done = [0u8; DESC_LEN];
        self.peek(at, &mut done);
        done
    }

    /// One of the driver's own commands: parameters as (offset, le16) pairs, an
    /// indirect buffer the device reads.
    fn command(&mut self, opcode: u16, params: &[(usize, u16)], buf: Option<&[u8]>) {
        let mut d = [0u8; DESC_LEN];
        put16(&mut d, 2, opcode);
        if let Some(b) = buf {
            let lb = if b.len() > 512 { FLAG_LB } else { 0 };
            put16(&mut d, 0, FLAG_BUF | FLAG_RD | lb);
            put16(&mut d, 4, b.len() as u16);
        }
        for &(off, v) in params {
            put16(&mut d, 16 + off, v);
        }
        self.admin_command(d, buf.map(|b| (AQ_BUF, b)));
    }

    /// What the driver does before traffic, on 1, 2 or 4 queue pairs.
    pub(super) fn bring_up(&mut self, pairs: u8, flags: u8) {
        let pairs = 1usize << (pairs % 3);
        self.drv = Driver {
            pairs,
            flags,
            rx_next: [0; MAX_PAIRS],
        };
        self.setup_admin_queue();
        self.command(opc::GET_VERSION, &[], None);
        // LSE_ENABLE (3): arm link status events.
        self.command(opc::GET_LINK_STATUS, &[(0, 3)], None);
        let promisc = PROMISC_BROADCAST | PROMISC_MULTICAST;
        self.command(
            opc::SET_VSI_PROMISCUOUS_MODES,
            &[(0, promisc), (2, promisc), (4, MAIN_VSI_SEID)],
            None,
        );
        // The main VSI's queue map (TC0: queues 0..pairs) and VLAN stripping.
        let mut vsi = [0u8; VSI_PROPS_LEN];
        put16(
            &mut vsi,
            props::VALID_SECTIONS,
            0x0040 | 0x0004, // the queue map and VLAN sections
        );
        vsi[props::PORT_VLAN_FLAGS] = props::PVLAN_MODE_ALL | props::PVLAN_EMOD_STR_BOTH;
        let pow = pairs.trailing_zeros() as u16;
        put16(
            &mut vsi,
            props::TC_MAPPING,
            pow << props::TC_QUE_NUMBER_SHIFT,
        );
        self.command(
            opc::UPDATE_VSI_PARAMETERS,
            &[(0, MAIN_VSI_SEID)],
            Some(&vsi),
        );
        if !self.drv.has(Flag::NoCloudFilter) {
            // NVGRE frames for the device's inner address and VSID to the last queue.
            let mut e = [0u8; 64];
            e[cloud::INNER_MAC..cloud::INNER_MAC + 6].copy_from_slice(&MAC);
            let kind =
                cloud::IMAC_TEN_ID | cloud::TO_QUEUE | cloud::TNL_NVGRE << cloud::TNL_TYPE_SHIFT;
            put16(&mut e, cloud::FLAGS, kind);
            e[cloud::TENANT_ID..cloud::TENANT_ID + 4].copy_from_slice(&VSID.to_le_bytes());
            put16(&mut e, cloud::QUEUE_NUMBER, pairs as u16 - 1);
            self.command(
                opc::ADD_CLOUD_FILTERS,
                &[(0, 1), (2, MAIN_VSI_SEID)],
                Some(&e),
            );
        }
        self.write_all(&[
            (PFHMC_SDDATAHIGH, (HMC_PAGE >> 32) as u32),
            // VALID, direct, 512 backing pages, the page address.
            (PFHMC_SDDATALOW, HMC_PAGE as u32 | (512 << 2) | 3),
            (PFHMC_SDCMD, 1 << 31),
            (GLHMC_LANTXBASE, 0),
            (GLHMC_LANRXBASE, (RX_CTX_FPM / 512) as u32),
            (PFQF_HENA0, u32::MAX),
            (PFQF_HENA1, u32::MAX),
            (PFINT_ICR0_ENA, ICR0_ADMINQ | ICR0_LINK_STAT_CHANGE),
            (PFINT_DYN_CTL0, DYN_CTL_INTENA),
        ]);
        let mut rss: Vec<(u32, u32)> = (0..13u32)
            .map(|i| (PFQF_HKEY + 0x80 * i, 0x6d5a_56da_u32.rotate_left(i)))
            .collect();
        rss.extend((0..128u32).map(|i| {
            let entry = |k: u32| ((4 * i + k) % pairs as u32) << (8 * k);
            (PFQF_HLUT + 0x80 * i, (0..4).map(entry).sum())
        }));
        self.write_all(&rss);
        for q in 0..pairs {
            let cause = QINT_CAUSE_ENA | (q as u32 + 1);
            self.write_all(&[
                (QINT_RQCTL + 4 * q as u32, cause),
                (QINT_TQCTL + 4 * q as u32, cause),
                (PFINT_DYN_CTLN + 4 * q as u32, DYN_CTL_INTENA),
            ]);
            self.start_tx(q);
            self.start_rx(q);
        }
    }

    fn start_tx(&mut self, q: usize) {
        let head_wb = self.drv.has(Flag::HeadWb);
        let ctx: [u8; TX_CONTEXT_LEN] = context(&[
            (32, self.drv.tx_ring(q) >> 7),
            (160, u64::from(head_wb)),
            (161, u64::from(TX_ENTRIES)),
            (192, self.drv.head_wb(q)),
        ]);
        self.poke(HMC_PAGE + (q * TX_CONTEXT_LEN) as u64, &ctx);
        let r = 4 * q as u32;
        // Disabled, owned by the PF, head and tail at 0, then enabled.
        self.write(QTX_ENA + r, 0);
        self.write_all(&[(QTX_CTL + r, 2), (QTX_HEAD + r, 0), (QTX_TAIL + r, 0)]);
        self.write(QTX_ENA + r, QENA_REQ);
    }

    fn start_rx(&mut self, q: usize) {
        let d = &self.drv;
        let buf_len = if d.has(Flag::SmallRxBuf) { 512 } else { 2048 };
        let ctx: [u8; RX_CONTEXT_LEN] = context(&[
            (32, d.rx_ring(q) >> 7),
            (89, u64::from(RX_ENTRIES)),
            (102, buf_len >> 7),
            (116, u64::from(d.has(Flag::RxDesc32))),
            (117, u64::from(!d.has(Flag::KeepCrc))),
            (119, 1),
            (174, 9728),
        ]);
        self.poke(HMC_PAGE + RX_CTX_FPM + (q * RX_CONTEXT_LEN) as u64, &ctx);
        let dlen = self.drv.rx_desc_len() as usize;
        let mut ring = vec![0u8; RX_ENTRIES as usize * dlen];
        for (i, d) in ring.chunks_mut(dlen).enumerate() {
            d[..8].copy_from_slice(&Driver::rx_buf(q, i as u32).to_le_bytes());
        }
        self.poke(self.drv.rx_ring(q), &ring);
        let r = 4 * q as u32;
        self.write(QRX_ENA + r, 0);
        self.write(QRX_TAIL + r, 0);
        self.write(QRX_ENA + r, QENA_REQ);
        self.write(QRX_TAIL + r, RX_ENTRIES - 1);
        self.drv.rx_next[q] = 0;
    }

    /// Re-posts what the device consumed: ring 0 is the ARQ (every descriptor, the
    /// tail just behind ARQH), ring n Rx queue n - 1 (descriptors with DD, from the
    /// next one to clean).
    pub(super) fn refill(&mut self, ring: u8) {
        let which = usize::from(ring) % (self.drv.pairs + 1);
        if which == 0 {
            self.post_arq();
            let head = self.reg(PF_ARQH);
            self.write(PF_ARQT, (head + AQ_ENTRIES - 1) % AQ_ENTRIES);
            return;
        }
        let q = which - 1;
        let (base, dlen) = (self.drv.rx_ring(q), self.drv.rx_desc_len());
        let mut next = self.drv.rx_next[q];
        for _ in 0..RX_ENTRIES {
            let at = base + dlen * u64::from(next);
            let mut qw1 = [0u8; 8];
            self.peek(at + 8, &mut qw1);
            if qw1[0] & 1 == 0 {
                break;
            }
            let mut d = vec![0u8; dlen as usize];
            d[..8].copy_from_slice(&Driver::rx_buf(q, next).to_le_bytes());
            self.poke(at, &d);
            next = (next + 1) % RX_ENTRIES;
        }
        self.drv.rx_next[q] = next;
        self.write(
            QRX_TAIL + 4 * q as u32,
            (next + RX_ENTRIES - 1) % RX_ENTRIES,
        );
    }

    /// Writes descriptors at queue `q`'s tail (as the register says), then with
    /// `kick` moves the tail past them.
    fn post_tx(&mut self, q: usize, descs: &[[u8; 16]], kick: bool) {
        let ring = self.drv.tx_ring(q);
        let tail_reg = QTX_TAIL + 4 * q as u32;
        let mut tail = self.reg(tail_reg) % TX_ENTRIES;
        for d in descs {
            self.poke(ring + 16 * u64::from(tail), d);
            tail = (tail + 1) % TX_ENTRIES;
        }
        if kick {
            self.write(tail_reg, tail);
        }
    }

    pub(super) fn tx_descs(&mut self, queue: u8, kick: bool, descs: &[TxDesc]) {
        let raw: Vec<[u8; 16]> = descs
            .iter()
            .map(|d| {
                let qw0 = match Driver::table(usize::from(d.base)) {
                    Some(a) => a.wrapping_add(d.qw0),
                    None => d.qw0,
                };
                tx_desc(qw0, d.qw1)
            })
            .collect();
        self.post_tx(usize::from(queue) % MAX_PAIRS, &raw, kick);
    }

    /// A packet as the driver sends it: a context descriptor for TSO or a tunnel's
    /// checksums, data descriptors over the buffers, EOP and RS on the last.
    pub(super) fn send(&mut self, t: &TxPacket) {
        let (frame, l) = frames::build(&t.packet, PEER, None, false);
        self.poke(TX_BUFS, &frame);
        let (mss, tagged) = match t.offload {
            TxOffload::Tso { mss } => (Some(mss), false),
            TxOffload::TsoTagged { mss } => (Some(mss), true),
            _ => (None, false),
        };
        let csum = t.offload != TxOffload::None;
        let mut descs = Vec::new();
        let tunnel = match l.outer {
            Some((len, v6)) if csum => {
                let eipt = if v6 { 1 } else { 3 };
                // EIPT, EIPLEN (x4 B), L4TUNT 2 (GRE), NATLEN (x2 B).
                eipt | ((len as u64 / 4) << 2) | (2 << 9) | ((l.natlen as u64 / 2) << 12)
            }
            _ => 0,
        };
        if mss.is_some() || tunnel != 0 {
            let tlen = (frame.len() - l.headers()) as u64 & 0x3_FFFF;
            let mss_field = u64::from(mss.unwrap_or(0)) & 0x3FFF;
            // L2TAG2 (VLAN 100) at bits 32..47.
            let qw0 = tunnel | if tagged { 0x0064 << 32 } else { 0 };
            let qw1 = context_qw1(mss.is_some(), tagged, tlen, mss_field);
            descs.push(tx_desc(qw0, qw1));
        }
        // CMD: IL2TAG1 (8), IIPT from bit 5, L4T from bit 8.
        let mut cmd = if tagged { 0x8 } else { 0 };
        if csum {
            if let Some((_, v6)) = l.ip {
                cmd |= (if v6 { 1 } else { 3 }) << 5;
            }
            if let Some((_, udp)) = l.l4 {
                cmd |= (if udp { 3 } else { 1 }) << 8;
            }
        }
        let offset = (l.maclen as u64 / 2)
            | ((l.ip.map_or(0, |(n, _)| n) as u64 / 4) << 7)
            | ((l.l4.map_or(0, |(n, _)| n) as u64 / 4) << 14);
        let n = (usize::from(t.pieces % 4) + 1).max(frame.len().div_ceil(MAX_TX_BUF));
        let chunk = frame.len().div_ceil(n).max(1);
        let parts = frame.len().div_ceil(chunk);
        // L2TAG1: VLAN 7 when the tag is inserted.
        let tag = if tagged { 7 } else { 0 };
        for i in 0..parts {
            let len = chunk.min(frame.len() - i * chunk) as u64;
            // EOP and RS on the last buffer.
            let last = if i + 1 == parts { 0x3 } else { 0 };
            let qw1 = data_qw1(cmd | last, offset, len, tag);
            descs.push(tx_desc(TX_BUFS + (i * chunk) as u64, qw1));
        }
        self.post_tx(usize::from(t.queue) % MAX_PAIRS, &descs, true);
    }
}
