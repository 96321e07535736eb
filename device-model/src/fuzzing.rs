//! A hostile guest for the igb model: an operation stream decoded from arbitrary
//! bytes (register accesses, guest memory contents, descriptors, received frames,
//! mapping changes, resets), applied to an [`Igb`] over in-memory guest RAM, with
//! the device's safety invariants checked after every step.
//!
//! [`run_ops`] is the libFuzzer entry point: every byte string decodes to some
//! operations, and an invariant violation panics (a crash to the fuzzer). The
//! property tests build typed [`Op`]s, [`encode`] them and run the same bytes.
//!
//! Invariants, checked after each operation (the work bound after each register
//! write inside one):
//! - every DMA access the device made that was allowed lies inside mapped guest
//!   memory (the [`DmaSpace`] access recorder is on);
//! - one register write or one received frame fetches at most one ring's worth of
//!   Tx descriptors per queue and fills at most one ring's worth of Rx descriptors
//!   per queue;
//! - no counter ever goes backwards, and every frame counted as sent went either
//!   onto the wire or back into the receiver (loopback);
//! - no frame on the wire is longer than the MAC sends, and no MSI-X vector
//!   outside the function's table is raised.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use dma::DmaSpace;

use crate::igb::regs::*;
use crate::igb::{Igb, IgbConfig, BAR0_SIZE};
use crate::irq::IrqSink;

/// The same hostile guest for the X710 (i40e) personality.
pub mod i40e;
/// The same hostile guest for the virtio-net personality.
pub mod virtio;
/// Counter structs as plain words, for per-step checks without JSON.
pub mod words;

/// Guest RAM the harness maps: a low region and a second one above a gap, so
/// accesses can straddle a region's end, fall into the gap or beyond both.
pub const RAM_LOW: (u64, u64) = (0, 0x10_0000);
pub const RAM_HIGH: (u64, u64) = (0x4000_0000, 0x2_0000);
/// Largest frame the MAC puts on the wire (jumbo 9728 + a VLAN tag).
pub const MAX_WIRE_FRAME: usize = 9728 + 4;
/// Operations decoded from one input at most: keeps each fuzz input quick.
pub const MAX_OPS: usize = 256;
const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
/// Deferred Tx passes a harness runs after one step at most, as the port's worker
/// would; more are left to the next step (a ring of MSS-1 TSO packets is one
/// packet per pass).
pub(crate) const MAX_DEFERRED_PASSES: usize = 1024;

/// Where [`Op::BringUp`] puts rings and buffers.
const TX_RING: u64 = 0x1_0000;
const RX_RING: u64 = 0x2_0000;
const RX_BUFS: u64 = 0x4_0000;
const RING_ENTRIES: u32 = 64;

/// Registers a hostile guest pokes first. Per-queue entries add `0x40 * queue`.
const INTERESTING: &[(u32, bool)] = &[
    (TX_QUEUE_BASE + Q_BAL, true),
    (TX_QUEUE_BASE + Q_BAH, true),
    (TX_QUEUE_BASE + Q_LEN, true),
    (TX_QUEUE_BASE + Q_HEAD, true),
    (TX_QUEUE_BASE + Q_TAIL, true),
    (TX_QUEUE_BASE + Q_CTL, true),
    (RX_QUEUE_BASE + Q_BAL, true),
    (RX_QUEUE_BASE + Q_BAH, true),
    (RX_QUEUE_BASE + Q_LEN, true),
    (RX_QUEUE_BASE + Q_SRRCTL, true),
    (RX_QUEUE_BASE + Q_HEAD, true),
    (RX_QUEUE_BASE + Q_TAIL, true),
    (RX_QUEUE_BASE + Q_CTL, true),
    (RX_QUEUE_BASE + Q_RQDPC, true),
    (LEGACY_TX_BASE + Q_TAIL, true),
    (LEGACY_RX_BASE + Q_TAIL, true),
    (RCTL, false),
    (TCTL, false),
    (CTRL, false),
    (IVAR0, true),
    (IVAR_MISC, false),
    (EIMS, false),
    (EIAC, false),
    (EIAM, false),
    (GPIE, false),
    (IMS, false),
    (ICS, false),
    (EICS, false),
    (MRQC, false),
    (RETA, true),
    (RSSRK, true),
    (RXCSUM, false),
    (RLPML, false),
    (VET, false),
    (MDIC, false),
    (EERD, false),
    (ICR, false),
    (EICR, false),
];

/// Guest addresses worth aiming at: region edges, the gap, the top of the
/// address space, the rings themselves.
const ADDRESSES: &[u64] = &[
    RAM_LOW.0,
    RAM_LOW.0 + RAM_LOW.1,
    RAM_HIGH.0,
    RAM_HIGH.0 + RAM_HIGH.1,
    0x2000_0000,
    u64::MAX,
    1 << 48,
    TX_RING,
    RX_RING,
    RX_BUFS,
];

/// One step of a hostile guest (or of its wire).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// A 32-bit register write: `reg` picks from the interesting registers (queue
    /// registers of queue `queue`), anything beyond the table is a raw offset.
    Write {
        reg: u8,
        queue: u8,
        value: u32,
    },
    Read {
        reg: u8,
        queue: u8,
    },
    /// An MMIO write of any size and alignment, anywhere in (or past) BAR0.
    RawWrite {
        offset: u32,
        data: Vec<u8>,
    },
    /// Guest memory contents at `ADDRESSES[base] + offset` (wrapping), ignoring refusals.
    Memory {
        base: u8,
        offset: i32,
        data: Vec<u8>,
    },
    /// A 16-byte descriptor at slot `slot` of the ring queue `queue` currently points to.
    Descriptor {
        tx: bool,
        queue: u8,
        slot: u16,
        desc: [u8; 16],
    },
    /// A Tx context descriptor with any MACLEN/IPLEN/L4LEN/MSS, then data descriptors
    /// covering `len` bytes at `ADDRESSES[buf] + offset`, then the doorbell.
    Send {
        queue: u8,
        ctx: TxContext,
        buf: u8,
        offset: u32,
        len: u32,
        descs: u8,
        cmd: u8,
        olinfo: u32,
    },
    /// A frame from the wire.
    Receive {
        frame: Vec<u8>,
    },
    /// A well-behaved driver's bring-up: rings, buffers, interrupts, RCTL and TCTL on.
    BringUp {
        queues: u8,
    },
    /// CTRL.RST, a function level reset or a vfio-user device reset.
    Reset {
        kind: u8,
    },
    /// QEMU unmaps or maps back the high RAM region.
    ToggleHighRam,
    /// The wire goes down or comes back.
    Link {
        up: bool,
    },
}

/// Raw context descriptor fields, unchecked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TxContext {
    pub maclen: u8,
    pub iplen: u16,
    pub l4len: u8,
    pub mss: u16,
    pub tucmd: u16,
    pub vlan: u16,
}

/// Reads fields from fuzz input; past the end every read yields zero, so any
/// input decodes.
struct Cursor<'a> {
    data: &'a [u8],
}

impl Cursor<'_> {
    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let n = N.min(self.data.len());
        out[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        out
    }
    fn u8(&mut self) -> u8 {
        self.bytes::<1>()[0]
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.bytes())
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.bytes())
    }
    fn vec(&mut self, len: usize) -> Vec<u8> {
        let n = len.min(self.data.len());
        let v = self.data[..n].to_vec();
        self.data = &self.data[n..];
        v
    }
}

/// Decodes an operation stream (see [`encode`] for the layout).
pub fn decode(data: &[u8]) -> Vec<Op> {
    let mut c = Cursor { data };
    let mut ops = Vec::new();
    while !c.data.is_empty() && ops.len() < MAX_OPS {
        let op = match c.u8() % 11 {
            0 => Op::Write {
                reg: c.u8(),
                queue: c.u8(),
                value: c.u32(),
            },
            1 => Op::Read {
                reg: c.u8(),
                queue: c.u8(),
            },
            2 => {
                let offset = c.u32();
                let len = usize::from(c.u8() % 9);
                Op::RawWrite {
                    offset,
                    data: c.vec(len),
                }
            }
            3 => {
                let base = c.u8();
                let offset = c.u32() as i32;
                let len = usize::from(c.u8());
                Op::Memory {
                    base,
                    offset,
                    data: c.vec(len),
                }
            }
            4 => Op::Descriptor {
                tx: c.u8() & 1 != 0,
                queue: c.u8(),
                slot: c.u16(),
                desc: c.bytes(),
            },
            5 => Op::Send {
                queue: c.u8(),
                ctx: TxContext {
                    maclen: c.u8(),
                    iplen: c.u16(),
                    l4len: c.u8(),
                    mss: c.u16(),
                    tucmd: c.u16(),
                    vlan: c.u16(),
                },
                buf: c.u8(),
                offset: c.u32(),
                len: c.u32(),
                descs: c.u8(),
                cmd: c.u8(),
                olinfo: c.u32(),
            },
            6 => {
                let len = usize::from(c.u16());
                Op::Receive { frame: c.vec(len) }
            }
            7 => Op::BringUp { queues: c.u8() },
            8 => Op::Reset { kind: c.u8() },
            9 => Op::ToggleHighRam,
            _ => Op::Link {
                up: c.u8() & 1 != 0,
            },
        };
        ops.push(op);
    }
    ops
}

/// The byte form of `ops`, which [`decode`] turns back into the same operations
/// (payloads longer than their length field are cut).
pub fn encode(ops: &[Op]) -> Vec<u8> {
    let mut b = Vec::new();
    for op in ops {
        match op {
            Op::Write { reg, queue, value } => {
                b.extend([0, *reg, *queue]);
                b.extend(value.to_le_bytes());
            }
            Op::Read { reg, queue } => b.extend([1, *reg, *queue]),
            Op::RawWrite { offset, data } => {
                let data = &data[..data.len().min(8)];
                b.push(2);
                b.extend(offset.to_le_bytes());
                b.push(data.len() as u8);
                b.extend(data);
            }
            Op::Memory { base, offset, data } => {
                let data = &data[..data.len().min(255)];
                b.extend([3, *base]);
                b.extend(offset.to_le_bytes());
                b.push(data.len() as u8);
                b.extend(data);
            }
            Op::Descriptor {
                tx,
                queue,
                slot,
                desc,
            } => {
                b.extend([4, u8::from(*tx), *queue]);
                b.extend(slot.to_le_bytes());
                b.extend(desc);
            }
            Op::Send {
                queue,
                ctx,
                buf,
                offset,
                len,
                descs,
                cmd,
                olinfo,
            } => {
                b.extend([5, *queue, ctx.maclen]);
                b.extend(ctx.iplen.to_le_bytes());
                b.push(ctx.l4len);
                b.extend(ctx.mss.to_le_bytes());
                b.extend(ctx.tucmd.to_le_bytes());
                b.extend(ctx.vlan.to_le_bytes());
                b.push(*buf);
                b.extend(offset.to_le_bytes());
                b.extend(len.to_le_bytes());
                b.extend([*descs, *cmd]);
                b.extend(olinfo.to_le_bytes());
            }
            Op::Receive { frame } => {
                let frame = &frame[..frame.len().min(usize::from(u16::MAX))];
                b.push(6);
                b.extend((frame.len() as u16).to_le_bytes());
                b.extend(frame);
            }
            Op::BringUp { queues } => b.extend([7, *queues]),
            Op::Reset { kind } => b.extend([8, *kind]),
            Op::ToggleHighRam => b.push(9),
            Op::Link { up } => b.extend([10, u8::from(*up)]),
        }
    }
    b
}

/// What a run did, for reports and for tests that want to see coverage.
#[derive(Debug, Default, Clone)]
pub struct RunReport {
    pub ops: usize,
    pub dma_allowed: u64,
    pub dma_refused: u64,
    pub wire_frames: u64,
    pub tx_descriptors: u64,
    pub rx_descriptors: u64,
    pub tx_frames: u64,
    pub rx_frames: u64,
    /// Every counter of the device at the end, by name.
    pub counters: Vec<(String, u64)>,
}

/// Runs the operations `data` decodes to; panics when an invariant breaks.
pub fn run_ops(data: &[u8]) -> RunReport {
    run(&decode(data))
}

/// As [`run_ops`], on one device and guest memory kept for the whole thread and
/// reset before each input, as a driver resets a device between runs: what the
/// fuzz target calls, at thousands of inputs a second instead of the hundreds a
/// fresh device and fresh mappings per input allow.
pub fn run_ops_reused(data: &[u8]) {
    thread_local! {
        static REUSED: std::cell::RefCell<Option<Harness>> = const { std::cell::RefCell::new(None) };
    }
    let ops = decode(data);
    REUSED.with(|cell| {
        let mut slot = cell.borrow_mut();
        let h = slot.get_or_insert_with(Harness::new);
        h.restart();
        for op in ops.iter().take(MAX_OPS) {
            h.apply(op);
        }
        h.check_memory_and_counters();
    });
}

/// Runs `ops` against a fresh device; panics when an invariant breaks.
pub fn run(ops: &[Op]) -> RunReport {
    let mut h = Harness::new();
    for op in ops.iter().take(MAX_OPS) {
        h.apply(op);
    }
    h.report(ops.len().min(MAX_OPS))
}

#[derive(Default)]
struct Wire {
    frames: u64,
    longest: usize,
}

/// Raises nothing, but remembers the highest vector the device asked for.
#[derive(Default)]
struct VectorCheck {
    highest: AtomicU64,
    raised: AtomicU64,
}

impl VectorCheck {
    fn clear(&self) {
        self.highest.store(0, Ordering::Relaxed);
        self.raised.store(0, Ordering::Relaxed);
    }
}

impl IrqSink for VectorCheck {
    fn msix(&self, vector: u16) -> bool {
        self.highest
            .fetch_max(u64::from(vector) + 1, Ordering::Relaxed);
        self.raised.fetch_add(1, Ordering::Relaxed);
        true
    }
    fn msix_enabled(&self) -> bool {
        true
    }
    fn legacy(&self, _asserted: bool) {}
}

struct Harness {
    dev: Igb,
    dma: Arc<DmaSpace>,
    wire: Arc<Mutex<Wire>>,
    irq: Arc<VectorCheck>,
    high_mapped: bool,
    /// Every counter's value after the last step ([`words::words`] order).
    counters: Vec<u64>,
    scratch: Vec<u64>,
    /// Ring capacities (Tx, Rx) after the last step; `None` when a write outside
    /// a step may have changed them.
    rings: Option<(u64, u64)>,
    allowed: u64,
    refused: u64,
}

impl Harness {
    fn new() -> Self {
        let dma = Arc::new(DmaSpace::new());
        map(&dma, RAM_LOW);
        map(&dma, RAM_HIGH);
        dma.start_recording();
        let wire = Arc::new(Mutex::new(Wire::default()));
        let w = wire.clone();
        let irq = Arc::new(VectorCheck::default());
        let dev = Igb::new(
            IgbConfig {
                mac: MAC,
                timing: Default::default(),
                autoneg_time: std::time::Duration::ZERO,
            },
            dma.clone(),
            irq.clone(),
            Box::new(move |f: &[u8]| {
                let mut w = w.lock().unwrap_or_else(|e| e.into_inner());
                w.frames += 1;
                w.longest = w.longest.max(f.len());
            }),
        );
        let mut h = Self {
            dev,
            dma,
            wire,
            irq,
            high_mapped: true,
            counters: Vec::new(),
            scratch: Vec::new(),
            rings: None,
            allowed: 0,
            refused: 0,
        };
        words::words(h.dev.counters(), &mut h.counters);
        h
    }

    /// Back to a just-built harness for the next input: the device reset to
    /// power-on (PCIe FLR), guest RAM zeroed and both regions mapped, the wire,
    /// vector check and access log emptied. Counters keep counting; the
    /// baseline moves with them.
    fn restart(&mut self) {
        self.rings = None;
        self.dev.reset();
        restore_ram(&self.dma, &mut self.high_mapped);
        *self.wire.lock().unwrap_or_else(|e| e.into_inner()) = Wire::default();
        self.irq.clear();
        self.allowed = 0;
        self.refused = 0;
        words::words(self.dev.counters(), &mut self.counters);
    }

    /// Every counter by name, for a report (slow: only at the end of a run).
    fn named_counters(&self) -> Vec<(String, u64)> {
        words::names(self.dev.counters())
            .into_iter()
            .zip(self.counters.iter().copied())
            .collect()
    }

    fn read(&mut self, off: u32) -> u32 {
        let mut b = [0u8; 4];
        self.dev.mmio_read(u64::from(off), &mut b);
        u32::from_le_bytes(b)
    }

    /// A register write that only configures (a ring's base, length or head
    /// before its queue is enabled): its effects are checked with the next step's.
    fn configure(&mut self, off: u32, v: u32) {
        self.rings = None;
        self.dev.mmio_write(u64::from(off), &v.to_le_bytes());
    }

    /// One register write, with the per-step invariants checked after it.
    fn write(&mut self, off: u32, v: u32) {
        self.step(|h| h.dev.mmio_write(u64::from(off), &v.to_le_bytes()));
    }

    /// Ring sizes in descriptors, (Tx, Rx), summed over the queues.
    fn ring_capacity(&mut self) -> (u64, u64) {
        let mut sum = |tx: bool| {
            (0..QUEUES)
                .map(|q| u64::from(self.dev_reg(queue_off(tx, q, Q_LEN)) / 16))
                .sum::<u64>()
        };
        (sum(true), sum(false))
    }

    /// A ring register's value (ring base, length, head, tail and STATUS reads have
    /// no side effects).
    fn dev_reg(&mut self, off: u32) -> u32 {
        self.dev.reg(off)
    }

    fn step(&mut self, f: impl FnOnce(&mut Self)) {
        // The capacity after the last step, unless something since may have changed it.
        let before = match self.rings.take() {
            Some(r) => r,
            None => self.ring_capacity(),
        };
        let c0 = self.dev.counters().clone();
        let wire0 = self.wire_frames();
        f(self);
        self.drain_deferred();
        let after = self.ring_capacity();
        self.rings = Some(after);
        let c = self.dev.counters().clone();
        let tx_work = c.tx_descriptors.saturating_sub(c0.tx_descriptors);
        let rx_work = c.rx_descriptors.saturating_sub(c0.rx_descriptors);
        assert!(
            tx_work <= before.0.max(after.0),
            "one step fetched {tx_work} Tx descriptors; the rings hold {} at most",
            before.0.max(after.0)
        );
        assert!(
            rx_work <= before.1.max(after.1),
            "one step filled {rx_work} Rx descriptors; the rings hold {} at most",
            before.1.max(after.1)
        );
        let sent = c.tx_frames.saturating_sub(c0.tx_frames);
        let looped = c.loopback_frames.saturating_sub(c0.loopback_frames);
        let wired = self.wire_frames() - wire0;
        assert!(
            wired + looped <= sent,
            "{wired} frames on the wire and {looped} looped back, but {sent} counted as sent"
        );
        if self.dev_link_up() {
            assert_eq!(
                wired + looped,
                sent,
                "frames counted as sent but neither on the wire nor looped back"
            );
        }
    }

    /// What the port's worker does after a register write: the Tx passes it left
    /// (`doorbell`), each of which must make progress or find its queue stopped.
    fn drain_deferred(&mut self) {
        for _ in 0..crate::fuzzing::MAX_DEFERRED_PASSES {
            if !self.dev.has_deferred() {
                return;
            }
            let before = self.dev.counters().tx_descriptors;
            self.dev.run_deferred();
            assert!(
                self.dev.counters().tx_descriptors > before || !self.dev.has_deferred(),
                "a deferred Tx pass made no progress and stays deferred"
            );
        }
    }

    fn wire_frames(&self) -> u64 {
        self.wire.lock().unwrap_or_else(|e| e.into_inner()).frames
    }

    fn dev_link_up(&mut self) -> bool {
        self.read(STATUS) & STATUS_LU != 0
    }

    fn check_memory_and_counters(&mut self) {
        for a in self.dma.take_accesses() {
            if check_access(&self.dma, &a) {
                self.allowed += 1;
            } else {
                self.refused += 1;
            }
        }
        words::words(self.dev.counters(), &mut self.scratch);
        if let Some(i) = (0..self.counters.len()).find(|&i| self.scratch[i] < self.counters[i]) {
            let name = words::names(self.dev.counters()).swap_remove(i);
            panic!(
                "counter {name} went back from {} to {}",
                self.counters[i], self.scratch[i]
            );
        }
        std::mem::swap(&mut self.counters, &mut self.scratch);
        let w = self.wire.lock().unwrap_or_else(|e| e.into_inner());
        assert!(
            w.longest <= MAX_WIRE_FRAME,
            "a {}-byte frame reached the wire",
            w.longest
        );
        drop(w);
        let highest = self.irq.highest.load(Ordering::Relaxed);
        assert!(
            highest <= u64::from(MSIX_VECTORS),
            "MSI-X vector {} raised; the function has {MSIX_VECTORS}",
            highest - 1
        );
    }

    /// PCIe Device Control, found through the capability list as a driver finds it.
    fn pcie_devctl(&self) -> u64 {
        find_pcie_devctl(|off, b| self.dev.config_read(off, b))
    }

    fn reg_offset(reg: u8, queue: u8) -> u32 {
        match INTERESTING.get(usize::from(reg)) {
            Some(&(off, per_queue)) if per_queue => {
                let q = u32::from(queue);
                match off {
                    o if (LEGACY_TX_BASE..LEGACY_TX_BASE + 0x400).contains(&o)
                        || (LEGACY_RX_BASE..LEGACY_RX_BASE + 0x400).contains(&o) =>
                    {
                        o + 0x100 * (q % 4)
                    }
                    o if o == IVAR0 || o == RETA || o == RSSRK => o + 4 * (q % 32),
                    o => o + 0x40 * (q % QUEUES as u32),
                }
            }
            Some(&(off, _)) => off,
            // Anything else: a raw dword in BAR0, chosen by both bytes.
            None => (u32::from(reg) << 8 | u32::from(queue)) * 4 % BAR0_SIZE as u32,
        }
    }

    fn address(base: u8, offset: i64) -> u64 {
        ADDRESSES[usize::from(base) % ADDRESSES.len()].wrapping_add(offset as u64)
    }

    fn ring_base(&mut self, tx: bool, q: usize) -> (u64, u32) {
        let base = u64::from(self.dev_reg(queue_off(tx, q, Q_BAL)))
            | u64::from(self.dev_reg(queue_off(tx, q, Q_BAH))) << 32;
        (base, self.dev_reg(queue_off(tx, q, Q_LEN)) / 16)
    }

    /// One operation, then the whole-state invariants (DMA inside mapped memory,
    /// counters never going back, wire and vectors sane); the work bound per
    /// doorbell is checked on every register write inside it (`step`).
    fn apply(&mut self, op: &Op) {
        self.rings = None;
        self.apply_op(op);
        self.check_memory_and_counters();
    }

    fn apply_op(&mut self, op: &Op) {
        match op {
            Op::Write { reg, queue, value } => self.write(Self::reg_offset(*reg, *queue), *value),
            Op::Read { reg, queue } => {
                let off = Self::reg_offset(*reg, *queue);
                self.step(|h| {
                    h.read(off);
                });
            }
            Op::RawWrite { offset, data } => {
                let off = u64::from(*offset) % (BAR0_SIZE + 16);
                self.step(|h| h.dev.mmio_write(off, data));
            }
            Op::Memory { base, offset, data } => {
                let _ = self
                    .dma
                    .write(Self::address(*base, i64::from(*offset)), data);
                self.check_memory_and_counters();
            }
            Op::Descriptor {
                tx,
                queue,
                slot,
                desc,
            } => {
                let (base, count) = self.ring_base(*tx, usize::from(*queue) % QUEUES);
                let slot = u64::from(*slot) % u64::from(count.max(1) + 2);
                let _ = self.dma.write(base.wrapping_add(16 * slot), desc);
                self.check_memory_and_counters();
            }
            Op::Send {
                queue,
                ctx,
                buf,
                offset,
                len,
                descs,
                cmd,
                olinfo,
            } => self.send(
                usize::from(*queue) % QUEUES,
                ctx,
                Self::address(*buf, i64::from(*offset)),
                *len,
                *descs,
                *cmd,
                *olinfo,
            ),
            Op::Receive { frame } => self.step(|h| h.dev.receive(frame)),
            Op::BringUp { queues } => self.bring_up(usize::from(*queues) % 4 + 1),
            Op::Reset { kind } => match kind % 3 {
                0 => self.write(CTRL, CTRL_RST),
                1 => {
                    let devctl = self.pcie_devctl();
                    self.step(|h| h.dev.config_write(devctl, &(1u16 << 15).to_le_bytes()))
                }
                _ => self.step(|h| h.dev.reset()),
            },
            Op::ToggleHighRam => toggle_high_ram(&self.dma, &mut self.high_mapped),
            Op::Link { up } => self.step(|h| h.dev.set_link(*up)),
        }
    }

    /// Writes a context descriptor and `descs` data descriptors at the queue's tail,
    /// then rings the doorbell.
    #[allow(clippy::too_many_arguments)]
    fn send(
        &mut self,
        q: usize,
        ctx: &TxContext,
        buf: u64,
        len: u32,
        descs: u8,
        cmd: u8,
        olinfo: u32,
    ) {
        let (base, count) = self.ring_base(true, q);
        if count == 0 {
            return self.write(queue_off(true, q, Q_TAIL), 1);
        }
        let mut tail = self.dev_reg(queue_off(true, q, Q_TAIL)) % count;
        let mut put = |h: &mut Self, d: [u8; 16]| {
            let _ = h.dma.write(base.wrapping_add(16 * u64::from(tail)), &d);
            tail = (tail + 1) % count;
        };
        let mut c = [0u8; 16];
        let lens = u32::from(ctx.iplen & 0x1ff)
            | u32::from(ctx.maclen & 0x7f) << 9
            | u32::from(ctx.vlan) << 16;
        c[0..4].copy_from_slice(&lens.to_le_bytes());
        let tucmd = (u32::from(ctx.tucmd) & 0x7ff) << 9 | 2 << 20 | 1 << 29;
        c[8..12].copy_from_slice(&tucmd.to_le_bytes());
        let mss_l4 = u32::from(ctx.l4len) << 8 | u32::from(ctx.mss) << 16 | (olinfo & 0x10);
        c[12..16].copy_from_slice(&mss_l4.to_le_bytes());
        put(self, c);
        let n = u32::from(descs % 4) + 1;
        let chunk = (len & 0xffff) / n;
        for i in 0..n {
            let last = i + 1 == n;
            let mut d = [0u8; 16];
            d[0..8].copy_from_slice(&buf.wrapping_add(u64::from(i * chunk)).to_le_bytes());
            // DCMD: EOP only on the last; IFCS, RS, DEXT, VLE, TSE from `cmd`.
            let dcmd = (u32::from(cmd) & 0xfe) | u32::from(last);
            let w2 = chunk | 3 << 20 | dcmd << 24 | 1 << 29;
            d[8..12].copy_from_slice(&w2.to_le_bytes());
            d[12..16].copy_from_slice(&olinfo.to_le_bytes());
            put(self, d);
        }
        self.write(queue_off(true, q, Q_TAIL), tail);
    }

    /// What the Linux driver does before traffic, on `queues` queue pairs.
    fn bring_up(&mut self, queues: usize) {
        self.write(GPIE, GPIE_MSIX_MODE | GPIE_EIAME | GPIE_NSICR | GPIE_PBA);
        self.write(IVAR0, (1 | IVAR_VALID) | ((2 | IVAR_VALID) << 8));
        self.write(IVAR_MISC, IVAR_VALID << 8);
        self.write(EIAC, 7);
        self.write(EIAM, 7);
        self.write(EIMS, 7);
        for q in 0..queues {
            let tx_ring = TX_RING + 0x400 * q as u64;
            let rx_ring = RX_RING + 0x400 * q as u64;
            // Ring registers only configure; the writes that start work (queue
            // enables, the Rx tail, TCTL and RCTL) are checked steps.
            self.configure(queue_off(true, q, Q_BAL), tx_ring as u32);
            self.configure(queue_off(true, q, Q_BAH), 0);
            self.configure(queue_off(true, q, Q_LEN), 16 * RING_ENTRIES);
            self.configure(queue_off(true, q, Q_HEAD), 0);
            self.configure(queue_off(true, q, Q_TAIL), 0);
            self.write(queue_off(true, q, Q_CTL), TXDCTL_ENABLE);
            self.configure(queue_off(false, q, Q_BAL), rx_ring as u32);
            self.configure(queue_off(false, q, Q_BAH), 0);
            self.configure(queue_off(false, q, Q_LEN), 16 * RING_ENTRIES);
            self.configure(queue_off(false, q, Q_SRRCTL), 2);
            self.configure(queue_off(false, q, Q_HEAD), 0);
            // The whole ring in one write, as a driver's memset-and-fill ends up.
            let mut ring = [0u8; 16 * RING_ENTRIES as usize];
            for (i, desc) in ring.chunks_exact_mut(16).enumerate() {
                let buf = RX_BUFS + 0x800 * (i as u64 + u64::from(RING_ENTRIES) * q as u64);
                desc[..8].copy_from_slice(&buf.to_le_bytes());
            }
            let _ = self.dma.write(rx_ring, &ring);
            self.write(queue_off(false, q, Q_CTL), RXDCTL_ENABLE);
            self.write(queue_off(false, q, Q_TAIL), RING_ENTRIES - 1);
        }
        self.write(TCTL, TCTL_EN | TCTL_PSP);
        self.write(RCTL, RCTL_EN | RCTL_BAM | RCTL_LPE);
        self.write(RLPML, 9018);
    }

    fn report(mut self, ops: usize) -> RunReport {
        self.check_memory_and_counters();
        let c = self.dev.counters().clone();
        RunReport {
            ops,
            dma_allowed: self.allowed,
            dma_refused: self.refused,
            wire_frames: self.wire_frames(),
            tx_descriptors: c.tx_descriptors,
            rx_descriptors: c.rx_descriptors,
            tx_frames: c.tx_frames,
            rx_frames: c.rx_frames,
            counters: self.named_counters(),
        }
    }
}

fn map(dma: &DmaSpace, (addr, size): (u64, u64)) {
    dma.map_anonymous(addr, size)
        .unwrap_or_else(|e| panic!("mapping harness RAM {addr:#x}+{size:#x}: {e}"));
}

/// Guest RAM as a just-built harness has it, for the next input: both regions
/// mapped, every byte zero, no access records. Only what was written is zeroed
/// (`zero_written`; the harnesses record every access): giving whole mappings back
/// made each input fault in every page it touched again.
fn restore_ram(dma: &DmaSpace, high_mapped: &mut bool) {
    if !*high_mapped {
        map(dma, RAM_HIGH);
        *high_mapped = true;
    }
    dma.zero_written();
    dma.take_accesses();
}

/// Unmaps the high RAM region if it is mapped, maps it (fresh, zeroed) if not: QEMU
/// removing and adding guest memory while the device runs.
fn toggle_high_ram(dma: &DmaSpace, mapped: &mut bool) {
    if *mapped {
        let _ = dma.unmap(RAM_HIGH.0, RAM_HIGH.1);
    } else {
        map(dma, RAM_HIGH);
    }
    *mapped = !*mapped;
}

/// Offset of PCIe Device Control in a config space read through `read`, found by
/// walking the capability list as a driver does; the command register (a harmless
/// write) when there is no PCIe capability.
pub(crate) fn find_pcie_devctl(read: impl Fn(u64, &mut [u8])) -> u64 {
    let mut b = [0u8; 2];
    read(0x34, &mut b[..1]);
    let mut at = u64::from(b[0]);
    for _ in 0..48 {
        if at == 0 {
            break;
        }
        read(at, &mut b);
        if b[0] == 0x10 {
            return at + 8;
        }
        at = u64::from(b[1]);
    }
    0x4
}

/// The invariant on one recorded DMA access: one the space allowed lies wholly in
/// mapped guest memory. Returns whether it was allowed (refused ones are counted).
pub(crate) fn check_access(dma: &DmaSpace, a: &dma::DmaAccess) -> bool {
    if a.allowed {
        assert!(
            dma.covers(a.addr, a.len),
            "DMA {:?} of {:#x}+{:#x} allowed outside mapped memory {:x?}",
            a.direction,
            a.addr,
            a.len,
            dma.mapped_ranges()
        );
    }
    a.allowed
}
