//! The device under test, its wire and interrupt sinks, and the invariants checked
//! after every step.
//!
//! A step is one thing the guest or the port does to the device (an MMIO or config
//! access, a received frame, a reset, a link change). Guest memory writes the
//! harness makes as the guest's CPU are not steps: their DMA records are dropped, so
//! every recorded access is the device's own.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use dma::DmaSpace;

use super::super::{
    check_access, find_pcie_devctl, map, restore_ram, toggle_high_ram, VectorCheck, Wire, RAM_HIGH,
    RAM_LOW,
};
use super::driver::Driver;
use super::{I40eOp, I40eReport, Reg};
use crate::i40e::regs::*;
use crate::i40e::rx::MAX_CHAIN;
use crate::i40e::tx::MAX_TX_PACKET;
use crate::i40e::{Counters, I40e, I40eConfig, BAR0_SIZE};
use crate::wire::FrameSink;

pub(super) const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x57];
/// The longest frame the MAC sends: a 9728-byte frame and two inserted tags. Stated
/// here rather than taken from the device, so the harness checks the device's limit.
const LONGEST_FRAME: usize = 9728 + 2 * 4;
/// ATQLEN/ARQLEN hold 10 bits: one doorbell runs at most 1023 commands.
const AQ_RING_MAX: u64 = 0x3FF;
/// A Tx queue context holds a 13-bit length: one doorbell fetches at most 8191
/// descriptors.
const TX_RING_MAX: u64 = 0x1FFF;
/// Frames one Tx descriptor can end as: a packet of at most MAX_TX_PACKET bytes cut
/// into segments of at least 64 payload bytes (smaller MSS values are refused).
const MAX_SEGMENTS: u64 = (MAX_TX_PACKET / 64) as u64 + 1;
/// Vectors 0..129 exist (the misc vector and 128 queue vectors).
const VECTORS: u64 = MSIX_VECTORS as u64;

/// What one step may do: the doorbells it rings and the frames it hands in.
#[derive(Clone, Copy, Default)]
pub(super) struct Budget {
    /// Register dwords an MMIO write touched (each can be one ATQT or QTX_TAIL).
    pub doorbells: u64,
    /// Frames received from the wire.
    pub frames: u64,
}

impl Budget {
    pub const NONE: Self = Self {
        doorbells: 0,
        frames: 0,
    };

    pub fn mmio(off: u64, len: usize) -> Self {
        let first = off & !3;
        let end = off.saturating_add(len as u64);
        Self {
            doorbells: end.saturating_sub(first).div_ceil(4),
            frames: 0,
        }
    }
}

/// The counters the per-step bounds look at.
#[derive(Clone, Copy)]
struct Work {
    aq: u64,
    tx_descs: u64,
    tx_frames: u64,
    rx_descs: u64,
    rx_frames: u64,
}

impl Work {
    fn of(dev: &I40e) -> Self {
        let [aq, tx_descs, tx_frames, rx_descs, rx_frames] = dev.work_counters();
        Self {
            aq,
            tx_descs,
            tx_frames,
            rx_descs,
            rx_frames,
        }
    }
}

/// Counters by name, map entries as `name.key`.
fn by_name(c: &Counters) -> BTreeMap<String, u64> {
    fn walk(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, u64>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    let name = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&name, x, out);
                }
            }
            x => {
                out.insert(prefix.to_string(), x.as_u64().unwrap_or(0));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk("", &serde_json::to_value(c).unwrap_or_default(), &mut out);
    out
}

pub(super) struct Harness {
    pub(super) dev: I40e,
    /// What the device put on the wire, and the vectors it raised.
    sinks: (Arc<Mutex<Wire>>, Arc<VectorCheck>),
    pub(super) dma: Arc<DmaSpace>,
    high_mapped: bool,
    pub(super) drv: Driver,
    /// The counters at the last check, for a by-name comparison when the words
    /// cannot decide (names are worked out only then).
    counters: Counters,
    /// The counters as words at the last check, and a buffer for the next.
    last_words: Vec<u64>,
    words_now: Vec<u64>,
    allowed: u64,
    refused: u64,
}

/// The wire as the device sees it: every frame is counted and measured.
struct Tap(Arc<Mutex<Wire>>);

impl FrameSink for Tap {
    fn transmit(&mut self, frame: &[u8]) {
        let mut w = self.0.lock().unwrap_or_else(|e| e.into_inner());
        w.frames += 1;
        w.longest = w.longest.max(frame.len());
    }
}

impl Harness {
    pub(super) fn new() -> Self {
        let ram = DmaSpace::new();
        for region in [RAM_LOW, RAM_HIGH] {
            map(&ram, region);
        }
        ram.start_recording();
        let dma = Arc::new(ram);
        let (wire, irq) = (Arc::default(), Arc::new(VectorCheck::default()));
        let cfg = I40eConfig {
            mac: MAC,
            timing: Default::default(),
        };
        let dev = I40e::new(
            cfg,
            dma.clone(),
            irq.clone(),
            Box::new(Tap(Arc::clone(&wire))),
        );
        Self {
            counters: dev.counters(),
            dev,
            sinks: (wire, irq),
            dma,
            high_mapped: true,
            drv: Driver::default(),
            last_words: Vec::new(),
            words_now: Vec::new(),
            allowed: 0,
            refused: 0,
        }
    }

    /// Guest memory accessed by the guest's CPU, not by the device: the records
    /// of what `f` does are dropped.
    fn cpu<R>(&self, f: impl FnOnce(&DmaSpace) -> R) -> R {
        let r = f(&self.dma);
        self.dma.take_accesses();
        r
    }

    /// Guest memory written by the guest's CPU (refusals ignored).
    pub(super) fn poke(&self, addr: u64, data: &[u8]) {
        let _ = self.cpu(|m| m.write(addr, data));
    }

    /// Guest memory read by the guest's CPU (zeros where unmapped).
    pub(super) fn peek(&self, addr: u64, out: &mut [u8]) {
        if self.cpu(|m| m.read(addr, out)).is_err() {
            out.fill(0);
        }
    }

    /// A register as the driver reads it (a step: some reads have side effects).
    pub(super) fn reg(&mut self, off: u32) -> u32 {
        let mut b = [0u8; 4];
        self.step(Budget::NONE, |d| d.mmio_read(u64::from(off), &mut b));
        u32::from_le_bytes(b)
    }

    pub(super) fn write(&mut self, off: u32, v: u32) {
        let off = u64::from(off);
        self.step(Budget::mmio(off, 4), |d| {
            d.mmio_write(off, &v.to_le_bytes())
        });
    }

    /// Runs `f` (the device doing something) and checks every invariant after it.
    pub(super) fn step(&mut self, budget: Budget, f: impl FnOnce(&mut I40e)) {
        let c0 = Work::of(&self.dev);
        let wire0 = self.wire_frames();
        f(&mut self.dev);
        // What the port's worker does next: the Tx passes the step left, each making
        // progress or finding its queue stopped.
        for _ in 0..crate::fuzzing::MAX_DEFERRED_PASSES {
            if !self.dev.has_deferred() {
                break;
            }
            let before = Work::of(&self.dev).tx_descs;
            self.dev.run_deferred();
            assert!(
                Work::of(&self.dev).tx_descs > before || !self.dev.has_deferred(),
                "a deferred Tx pass made no progress and stays deferred"
            );
        }
        let c = Work::of(&self.dev);
        let aq = c.aq - c0.aq;
        assert!(
            aq <= budget.doorbells * AQ_RING_MAX,
            "one step ran {aq} admin commands with {} doorbells",
            budget.doorbells
        );
        let tx = c.tx_descs - c0.tx_descs;
        let tails = budget.doorbells + aq;
        assert!(
            tx <= tails * TX_RING_MAX,
            "one step fetched {tx} Tx descriptors; {tails} tail writes allow {}",
            tails * TX_RING_MAX
        );
        let rx = c.rx_descs - c0.rx_descs;
        let rx_frames = c.rx_frames - c0.rx_frames;
        assert!(
            rx <= budget.frames * MAX_CHAIN as u64 && rx_frames <= budget.frames,
            "{} frames in, but {rx_frames} delivered over {rx} Rx descriptors",
            budget.frames
        );
        let wired = self.wire_frames() - wire0;
        let sent = c.tx_frames - c0.tx_frames;
        assert_eq!(
            wired, sent,
            "{wired} frames reached the wire in one step, {sent} counted as sent"
        );
        assert!(
            wired <= tx * MAX_SEGMENTS,
            "{wired} frames from {tx} Tx descriptors"
        );
        self.check_memory();
    }

    fn wire_frames(&self) -> u64 {
        self.sinks
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .frames
    }

    /// The invariants that hold between any two steps (the counters are compared
    /// once per operation, `check_counters`).
    fn check_memory(&mut self) {
        for a in self.dma.take_accesses() {
            if check_access(&self.dma, &a) {
                self.allowed += 1;
            } else {
                self.refused += 1;
            }
        }
        let longest = self
            .sinks
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .longest;
        assert!(
            longest <= LONGEST_FRAME,
            "a {longest}-byte frame reached the wire"
        );
        let highest = self.sinks.1.highest.load(Ordering::Relaxed);
        assert!(
            highest <= VECTORS,
            "MSI-X vector {} raised; the function has {VECTORS}",
            highest - 1
        );
    }

    /// No counter went back since the last check. The counters are compared as
    /// words (`words`), which is cheap; only when their number changed (a per-queue
    /// map gained an entry, shifting the words after it) or one seems to have gone
    /// back are they compared by name, which decides.
    fn check_counters(&mut self) {
        let now = self.dev.counters();
        super::super::words::words(&now, &mut self.words_now);
        let same_shape = self.words_now.len() == self.last_words.len();
        let grew_only = same_shape
            && self
                .words_now
                .iter()
                .zip(&self.last_words)
                .all(|(n, o)| n >= o);
        std::mem::swap(&mut self.words_now, &mut self.last_words);
        if !grew_only {
            let named = by_name(&now);
            for (name, old) in by_name(&self.counters) {
                let new = named.get(&name).copied().unwrap_or(0);
                assert!(new >= old, "counter {name} went back from {old} to {new}");
            }
        }
        self.counters = now;
    }

    /// Offset of an interesting register (`reg` modulo the table, instance `index`),
    /// or past the table a raw dword anywhere in BAR0.
    fn reg_offset(r: Reg) -> u32 {
        match INTERESTING.get(usize::from(r.table)) {
            Some(&(off, count, stride)) => off + stride * (u32::from(r.index) % count),
            None => ((u32::from(r.table) << 15) | (u32::from(r.index) << 7)) % BAR0_SIZE as u32,
        }
    }

    /// One operation, then the counters; the rest is checked after every step in it.
    pub(super) fn apply(&mut self, op: &I40eOp) {
        self.apply_op(op);
        self.check_counters();
    }

    fn apply_op(&mut self, op: &I40eOp) {
        match op {
            I40eOp::Write { reg, value } => self.write(Self::reg_offset(*reg), *value),
            I40eOp::Read(reg) => {
                self.reg(Self::reg_offset(*reg));
            }
            I40eOp::RawWrite { offset, data } => {
                let off = u64::from(*offset) % (BAR0_SIZE + 16);
                self.step(Budget::mmio(off, data.len()), |d| d.mmio_write(off, data));
            }
            I40eOp::RawRead { offset, len } => {
                let off = u64::from(*offset) % (BAR0_SIZE + 16);
                let mut b = [0u8; 8];
                let len = usize::from(*len).min(8);
                self.step(Budget::NONE, |d| d.mmio_read(off, &mut b[..len]));
            }
            I40eOp::Memory {
                target,
                offset,
                data,
            } => self.poke(Driver::address(*target, *offset), data),
            I40eOp::AdminCommand { cmd, buf, data } => {
                let buf = buf.map(|(t, o)| (Driver::address(t, o), data.as_slice()));
                self.admin_command(cmd.bytes(), buf);
            }
            I40eOp::BringUp { pairs, flags } => self.bring_up(*pairs, *flags),
            I40eOp::TxDescs { queue, kick, descs } => self.tx_descs(*queue, *kick, descs),
            I40eOp::Send(t) => self.send(t),
            I40eOp::Receive { frame } => self.receive(frame),
            I40eOp::ReceivePacket(r) => {
                let frame = Driver::rx_frame(r);
                self.receive(&frame);
            }
            I40eOp::Refill { ring } => self.refill(*ring),
            I40eOp::Config { offset, data } => {
                self.step(Budget::NONE, |d| d.config_write(u64::from(*offset), data))
            }
            I40eOp::Reset { kind } => match kind % 4 {
                0 => self.write(PFGEN_CTRL, PFGEN_CTRL_PFSWR),
                1 => self.write(GLGEN_RTRIG, 1),
                2 => {
                    let devctl = find_pcie_devctl(|off, b| self.dev.config_read(off, b));
                    self.step(Budget::NONE, |d| {
                        d.config_write(devctl, &(1u16 << 15).to_le_bytes())
                    });
                }
                _ => self.step(Budget::NONE, |d| d.reset()),
            },
            I40eOp::ToggleHighRam => toggle_high_ram(&self.dma, &mut self.high_mapped),
            I40eOp::Link { up } => self.step(Budget::NONE, |d| d.set_link(*up)),
        }
    }

    pub(super) fn receive(&mut self, frame: &[u8]) {
        let budget = Budget {
            doorbells: 0,
            frames: 1,
        };
        self.step(budget, |d| d.receive(frame));
    }

    /// Back to a device and guest memory as a fresh harness has them: the device
    /// reset (FLR), high RAM mapped again, RAM zeroed, sinks and records cleared.
    pub(super) fn restart(&mut self) {
        self.dev.reset();
        restore_ram(&self.dma, &mut self.high_mapped);
        *self.sinks.0.lock().unwrap_or_else(|e| e.into_inner()) = Wire::default();
        self.sinks.1.clear();
        self.drv = Driver::default();
        self.allowed = 0;
        self.refused = 0;
        self.counters = self.dev.counters();
        super::super::words::words(&self.counters, &mut self.last_words);
    }

    /// The end of an input: the invariants once more.
    pub(super) fn finish(&mut self) {
        self.check_memory();
        self.check_counters();
    }

    pub(super) fn report(mut self, ops: usize) -> I40eReport {
        self.finish();
        I40eReport {
            ops,
            dma_allowed: self.allowed,
            dma_refused: self.refused,
            wire_frames: self.wire_frames(),
            interrupts: self.sinks.1.raised.load(Ordering::Relaxed),
            counters: by_name(&self.counters).into_iter().collect(),
        }
    }
}

/// Registers a hostile guest pokes first: (offset, instances, stride).
pub const INTERESTING: &[(u32, u32, u32)] = &[
    (PF_ATQBAL, 1, 4),
    (PF_ATQBAH, 1, 4),
    (PF_ATQLEN, 1, 4),
    (PF_ATQH, 1, 4),
    (PF_ATQT, 1, 4),
    (PF_ARQBAL, 1, 4),
    (PF_ARQBAH, 1, 4),
    (PF_ARQLEN, 1, 4),
    (PF_ARQH, 1, 4),
    (PF_ARQT, 1, 4),
    (PFGEN_CTRL, 1, 4),
    (GLGEN_RTRIG, 1, 4),
    (GLNVM_SRCTL, 1, 4),
    (GLNVM_SRDATA, 1, 4),
    (PFHMC_SDCMD, 1, 4),
    (PFHMC_SDDATALOW, 1, 4),
    (PFHMC_SDDATAHIGH, 1, 4),
    (GLHMC_LANTXBASE, 1, 4),
    (GLHMC_LANRXBASE, 1, 4),
    (QTX_ENA, QUEUES as u32, 4),
    (QRX_ENA, QUEUES as u32, 4),
    (QTX_TAIL, QUEUES as u32, 4),
    (QRX_TAIL, QUEUES as u32, 4),
    (QTX_HEAD, QUEUES as u32, 4),
    (QTX_CTL, QUEUES as u32, 4),
    (QINT_RQCTL, QUEUES as u32, 4),
    (QINT_TQCTL, QUEUES as u32, 4),
    (PFINT_DYN_CTL0, 1, 4),
    (PFINT_DYN_CTLN, 512, 4),
    (PFINT_ICR0, 1, 4),
    (PFINT_ICR0_ENA, 1, 4),
    (PFQF_HKEY, 13, 0x80),
    (PFQF_HLUT, 128, 0x80),
    (PFQF_HENA0, 1, 4),
    (PFQF_HENA1, 1, 4),
    (PFQF_CTL_0, 1, 4),
    (GLLAN_TSOMSK_F, 1, 4),
    (GLLAN_TSOMSK_M, 1, 4),
    (GLLAN_TSOMSK_L, 1, 4),
    (PRTGL_SAH, 1, 4),
    (PRTMAC_LINKSTA, 1, 4),
    (GLVFGEN_TIMER, 1, 4),
];
