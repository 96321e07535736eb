//! The device under test, its wire and interrupt sinks, and the invariants checked
//! after every step.
//!
//! A step is one thing the guest or the port does to the device (a BAR or config
//! access, a received frame, a timer run). Guest memory writes the harness makes as
//! the guest's CPU are not steps: their DMA records are dropped, so every recorded
//! access is the device's own.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dma::DmaSpace;
use virtio_bindings::virtio_config::VIRTIO_CONFIG_S_DRIVER_OK;

use super::super::{map, restore_ram, toggle_high_ram, words, RAM_HIGH, RAM_LOW};
use super::driver::Driver;
use super::{VirtioOp, VirtioReport, VirtioSetup};
use crate::irq::IrqSink;
use crate::timing::TimingConfig;
use crate::virtio_net::layout::{common, COMMON_OFFSET};
use crate::virtio_net::{
    Counters, VirtioNet, VirtioNetConfig, MAX_QUEUE_PAIRS, MAX_QUEUE_SIZE, NET_HASH_HDR_LEN,
};

pub(super) const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
/// Ethernet header and one VLAN tag: what a frame may carry on top of the MTU.
const L2_OVERHEAD: usize = 14 + 4;
/// The longest packet the device gathers from one transmit chain: a 64 KiB GSO
/// packet with up to 256 bytes of headers, behind the (hash) net header. Stated
/// here rather than taken from the device, so the harness checks the device's limit.
const MAX_TX_PACKET: usize = NET_HASH_HDR_LEN + 64 * 1024 + 256;
/// Frames one transmit chain can become: a GSO packet is cut into segments of at
/// least one payload byte (gso_size 0 is refused), so never more segments than the
/// packet has bytes.
const MAX_GSO_SEGMENTS: u64 = MAX_TX_PACKET as u64;
/// A step processes each transmit queue (one per pair) at most once: a kick
/// notifies one, DRIVER_OK and `resume_tx` notify each once. One notification takes
/// at most one ring's worth of chains (the available index may run at most `queue
/// size` ahead), and no live queue is larger than MAX_QUEUE_SIZE.
const MAX_FRAMES_PER_STEP: u64 = MAX_QUEUE_PAIRS as u64 * MAX_QUEUE_SIZE as u64 * MAX_GSO_SEGMENTS;
/// Each delivered frame takes at least one receive chain, and guest memory does not
/// change during a step, so a receive queue yields at most one ring's worth.
const MAX_RX_PER_STEP: u64 = MAX_QUEUE_PAIRS as u64 * MAX_QUEUE_SIZE as u64;
/// One control queue, one ring's worth of commands.
const MAX_CTRL_PER_STEP: u64 = MAX_QUEUE_SIZE as u64;
/// Longest a timer op waits for a deadline to pass.
const MAX_WAIT: Duration = Duration::from_micros(200);

#[derive(Default)]
struct Wire {
    frames: u64,
    longest: usize,
    /// Frames longer than the MTU (plus L2 header) allows a non-GSO frame to be.
    over_mtu: u64,
}

impl Wire {
    /// One frame the device put on the wire; `longest_plain` is the MTU's frame.
    fn count(&mut self, len: usize, longest_plain: usize) {
        self.frames += 1;
        self.longest = self.longest.max(len);
        self.over_mtu += u64::from(len > longest_plain);
    }
}

/// Remembers what the device raised: the highest MSI-X vector, and any MSI-X
/// message sent while the guest had MSI-X off.
#[derive(Default)]
struct IrqCheck {
    msix_on: AtomicBool,
    highest: AtomicU64,
    raised: AtomicU64,
    raised_while_off: AtomicU64,
}

impl IrqSink for IrqCheck {
    fn msix(&self, vector: u16) -> bool {
        if !self.msix_on.load(Ordering::Relaxed) {
            self.raised_while_off.fetch_add(1, Ordering::Relaxed);
        }
        self.highest
            .fetch_max(u64::from(vector) + 1, Ordering::Relaxed);
        self.raised.fetch_add(1, Ordering::Relaxed);
        true
    }
    fn msix_enabled(&self) -> bool {
        self.msix_on.load(Ordering::Relaxed)
    }
    fn legacy(&self, asserted: bool) {
        self.raised
            .fetch_add(u64::from(asserted), Ordering::Relaxed);
    }
}

pub(super) struct Harness {
    /// What the device was built as.
    pub(super) setup: VirtioSetup,
    pub(super) dev: VirtioNet,
    pub(super) dma: Arc<DmaSpace>,
    pub(super) drv: Driver,
    wire: Arc<Mutex<Wire>>,
    irq: Arc<IrqCheck>,
    high_mapped: bool,
    /// Every counter's value at the last check ([`words::words`] order).
    counters: Vec<u64>,
    scratch: Vec<u64>,
    /// The counters' names, for when their number changes (per-queue lists).
    counter_names: Vec<String>,
    in_step: bool,
    allowed: u64,
    refused: u64,
    packed_packets: u64,
    split_packets: u64,
}

/// The counters the per-step bounds look at.
#[derive(Clone, Copy)]
struct Work {
    sent: u64,
    segments: u64,
    received: u64,
    ctrl: u64,
}

impl Work {
    fn of(c: &Counters) -> Self {
        Self {
            sent: c.tx_packets,
            segments: c.tx_gso_segments,
            received: c.rx_packets,
            ctrl: c.ctrl_commands + c.ctrl_errors,
        }
    }
}

/// Counters by name, per-queue ones as `name[i]`, in a fixed order.
fn flatten(c: &Counters) -> Vec<(String, u64)> {
    let json = serde_json::to_value(c).unwrap_or_default();
    let mut out = Vec::new();
    for (k, v) in json.as_object().into_iter().flatten() {
        match v.as_array() {
            Some(a) => out.extend(
                a.iter()
                    .enumerate()
                    .map(|(i, x)| (format!("{k}[{i}]"), x.as_u64().unwrap_or(0))),
            ),
            None => out.push((k.clone(), v.as_u64().unwrap_or(0))),
        }
    }
    out
}

impl Harness {
    pub(super) fn new(setup: &VirtioSetup) -> Self {
        let dma = Arc::new(DmaSpace::new());
        map(&dma, RAM_LOW);
        map(&dma, RAM_HIGH);
        dma.start_recording();
        let wire = Arc::new(Mutex::new(Wire::default()));
        let irq = Arc::new(IrqCheck::default());
        irq.msix_on.store(true, Ordering::Relaxed);
        let dev = Self::device(setup, &dma, &irq, &wire);
        let mut counters = Vec::new();
        words::words(dev.counters(), &mut counters);
        let counter_names = words::names(dev.counters());
        Self {
            setup: *setup,
            dev,
            dma,
            drv: Driver::default(),
            wire,
            irq,
            high_mapped: true,
            counter_names,
            counters,
            scratch: Vec::new(),
            in_step: false,
            allowed: 0,
            refused: 0,
            packed_packets: 0,
            split_packets: 0,
        }
    }

    /// A device built as `setup` says, on the harness's memory, interrupt check and wire.
    fn device(
        setup: &VirtioSetup,
        dma: &Arc<DmaSpace>,
        irq: &Arc<IrqCheck>,
        wire: &Arc<Mutex<Wire>>,
    ) -> VirtioNet {
        let w = wire.clone();
        let longest_plain = usize::from(setup.mtu) + L2_OVERHEAD;
        VirtioNet::new(
            VirtioNetConfig {
                mac: MAC,
                mtu: setup.mtu,
                packed_ring: setup.packed_ring,
                timing: TimingConfig {
                    mode: setup.timing,
                    ..TimingConfig::default()
                },
                ..VirtioNetConfig::default()
            },
            dma.clone(),
            irq.clone(),
            Box::new(move |f: &[u8]| {
                w.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .count(f.len(), longest_plain)
            }),
        )
    }

    /// Back to a just-built harness for the next input: the device reset (status 0,
    /// as a driver resets it) or, for another setup (MTU, ring layout, timing: what
    /// the device is built with), built anew; the driver forgotten, guest RAM zeroed
    /// and both regions mapped, the wire and interrupt checks emptied. Guest memory
    /// is kept either way: consecutive inputs seldom share a setup, and mapping
    /// and faulting in fresh RAM per input was most of a grown corpus's time.
    pub(super) fn restart(&mut self, setup: &VirtioSetup) {
        if *setup == self.setup {
            self.dev.reset();
        } else {
            self.dev = Self::device(setup, &self.dma, &self.irq, &self.wire);
            self.setup = *setup;
        }
        self.drv = Driver::default();
        restore_ram(&self.dma, &mut self.high_mapped);
        *self.wire.lock().unwrap_or_else(|e| e.into_inner()) = Wire::default();
        self.irq.msix_on.store(true, Ordering::Relaxed);
        self.irq.highest.store(0, Ordering::Relaxed);
        self.irq.raised.store(0, Ordering::Relaxed);
        self.irq.raised_while_off.store(0, Ordering::Relaxed);
        self.allowed = 0;
        self.refused = 0;
        self.packed_packets = 0;
        self.split_packets = 0;
        words::words(self.dev.counters(), &mut self.counters);
        self.counter_names = words::names(self.dev.counters());
    }

    /// Guest memory written by the guest's CPU: refusals ignored, not device DMA.
    pub(super) fn poke(&self, addr: u64, data: &[u8]) {
        debug_assert!(!self.in_step, "guest writes happen between steps");
        let _ = self.dma.write(addr, data);
        self.dma.take_accesses();
    }

    /// Guest memory read by the guest's CPU (zeros where unmapped).
    pub(super) fn peek(&self, addr: u64, out: &mut [u8]) {
        debug_assert!(!self.in_step, "guest reads happen between steps");
        if self.dma.read(addr, out).is_err() {
            out.fill(0);
        }
        self.dma.take_accesses();
    }

    pub(super) fn bar_write(&mut self, off: u64, data: &[u8]) {
        self.step(|h| h.dev.bar_write(off, data));
    }

    pub(super) fn bar_read(&mut self, off: u64, out: &mut [u8]) {
        self.step(|h| h.dev.bar_read(off, out));
    }

    pub(super) fn set_common(&mut self, field: usize, width: usize, v: u64) {
        self.bar_write(COMMON_OFFSET + field as u64, &v.to_le_bytes()[..width]);
    }

    pub(super) fn common(&mut self, field: usize, width: usize) -> u64 {
        let mut b = [0u8; 8];
        self.bar_read(COMMON_OFFSET + field as u64, &mut b[..width]);
        u64::from_le_bytes(b)
    }

    pub(super) fn set_status(&mut self, s: u32) {
        self.set_common(common::DEVICE_STATUS, 1, u64::from(s));
    }

    /// Runs `f` (the device doing something) and checks every invariant after it.
    pub(super) fn step(&mut self, f: impl FnOnce(&mut Self)) {
        let c0 = Work::of(self.dev.counters());
        let (frames0, over0) = self.wire_state();
        self.in_step = true;
        f(self);
        // What the port's worker does next: the Tx passes the step left, each making
        // progress or finding its queue stopped.
        for _ in 0..crate::fuzzing::MAX_DEFERRED_PASSES {
            if !self.dev.has_deferred() {
                break;
            }
            let before = self.dev.counters().tx_packets + self.dev.counters().tx_dropped;
            self.dev.run_deferred();
            let after = self.dev.counters().tx_packets + self.dev.counters().tx_dropped;
            assert!(
                after > before || !self.dev.has_deferred(),
                "a deferred Tx pass made no progress and stays deferred"
            );
        }
        self.in_step = false;
        let c = Work::of(self.dev.counters());
        let (frames, over) = self.wire_state();
        let wired = frames - frames0;
        let sent = c.sent.saturating_sub(c0.sent);
        assert_eq!(
            wired, sent,
            "{wired} frames reached the wire in one step, {sent} counted as sent"
        );
        assert!(
            wired <= MAX_FRAMES_PER_STEP,
            "one step sent {wired} frames; the bound is {MAX_FRAMES_PER_STEP}"
        );
        let segments = c.segments.saturating_sub(c0.segments);
        assert!(
            over - over0 <= segments,
            "{} frames longer than the MTU allows, but only {segments} GSO segments made",
            over - over0
        );
        let rx = c.received.saturating_sub(c0.received);
        assert!(rx <= MAX_RX_PER_STEP, "one step delivered {rx} frames");
        let ctrl = c.ctrl.saturating_sub(c0.ctrl);
        assert!(
            ctrl <= MAX_CTRL_PER_STEP,
            "one step completed {ctrl} control commands"
        );
        let moved = sent + rx;
        if self.drv.packed {
            self.packed_packets += moved;
        } else {
            self.split_packets += moved;
        }
        self.check_memory();
    }

    fn wire_state(&self) -> (u64, u64) {
        let w = self.wire.lock().unwrap_or_else(|e| e.into_inner());
        (w.frames, w.over_mtu)
    }

    fn check_memory_and_counters(&mut self) {
        self.check_memory();
        self.check_counters();
    }

    /// DMA only after DRIVER_OK and inside mapped memory; wire and vectors sane.
    fn check_memory(&mut self) {
        let started = u32::from(self.dev.status()) & VIRTIO_CONFIG_S_DRIVER_OK != 0;
        for a in self.dma.take_accesses() {
            assert!(
                started,
                "DMA {:?} of {:#x}+{:#x} with device status {:#x} (no DRIVER_OK)",
                a.direction,
                a.addr,
                a.len,
                self.dev.status()
            );
            if crate::fuzzing::check_access(&self.dma, &a) {
                self.allowed += 1;
            } else {
                self.refused += 1;
            }
        }
        let longest = self.wire.lock().unwrap_or_else(|e| e.into_inner()).longest;
        assert!(
            longest <= MAX_TX_PACKET,
            "a {longest}-byte frame reached the wire"
        );
        let highest = self.irq.highest.load(Ordering::Relaxed);
        let vectors = u64::from(self.dev.msix_vectors());
        assert!(
            highest <= vectors,
            "MSI-X vector {} raised; the function has {vectors}",
            highest - 1
        );
        let off = self.irq.raised_while_off.load(Ordering::Relaxed);
        assert_eq!(off, 0, "MSI-X messages sent while MSI-X was off");
    }

    /// No counter went back since the last check.
    fn check_counters(&mut self) {
        words::words(self.dev.counters(), &mut self.scratch);
        if self.scratch.len() == self.counters.len() {
            if let Some(i) = (0..self.counters.len()).find(|&i| self.scratch[i] < self.counters[i])
            {
                panic!(
                    "counter {} went back from {} to {}",
                    self.counter_names[i], self.counters[i], self.scratch[i]
                );
            }
        } else {
            // A per-queue list changed length: match the counters by name.
            let names = words::names(self.dev.counters());
            for (name, new) in names.iter().zip(&self.scratch) {
                if let Some(i) = self.counter_names.iter().position(|n| n == name) {
                    let old = self.counters[i];
                    assert!(*new >= old, "counter {name} went back from {old} to {new}");
                }
            }
            self.counter_names = names;
        }
        std::mem::swap(&mut self.counters, &mut self.scratch);
    }

    /// PCIe Device Control, found through the capability list as a driver finds it.
    fn pcie_devctl(&self) -> u64 {
        crate::fuzzing::find_pcie_devctl(|off, b| self.dev.config_read(off, b))
    }

    /// Waits (briefly) for the next coalescing deadline or paced write-back, then
    /// runs both.
    fn wait_and_run(&mut self) {
        let now = Instant::now();
        let deadline = self
            .dev
            .next_deadline()
            .map(|d| d.saturating_duration_since(now));
        let timer = self
            .dev
            .next_timer()
            .zip(self.dev.model_time())
            .map(|(t, now)| Duration::from_nanos(t.as_ps().saturating_sub(now.as_ps()) / 1000));
        let wait = match (deadline, timer) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(w) = wait {
            std::thread::sleep(w.min(MAX_WAIT));
        }
        self.step(|h| {
            h.dev.run_deadlines();
            h.dev.run_timers();
        });
    }

    /// One operation, then every invariant; counters are compared per
    /// operation, the rest after every step inside it.
    pub(super) fn apply(&mut self, op: &VirtioOp) {
        self.apply_op(op);
        self.check_memory_and_counters();
    }

    fn apply_op(&mut self, op: &VirtioOp) {
        match op {
            VirtioOp::BarRead { offset, len } => {
                let mut b = [0u8; 8];
                let len = usize::from(*len).min(8);
                self.bar_read(u64::from(*offset), &mut b[..len]);
            }
            VirtioOp::BarWrite { offset, data } => self.bar_write(u64::from(*offset), data),
            VirtioOp::Common { field, value } => {
                let (f, w) = common::FIELDS[usize::from(*field) % common::FIELDS.len()];
                self.set_common(f, w, *value);
            }
            VirtioOp::Config { offset, data } => {
                self.step(|h| h.dev.config_write(u64::from(*offset), data))
            }
            VirtioOp::Notify { queue } => self.kick(*queue),
            VirtioOp::Memory {
                target,
                offset,
                data,
            } => self.poke(Driver::address(*target, *offset), data),
            VirtioOp::BringUp {
                features,
                packed,
                size,
                pairs,
            } => self.bring_up(*features, *packed, *size, *pairs),
            VirtioOp::Chain {
                queue,
                indirect,
                kick,
                descs,
            } => self.raw_chain(*queue, *indirect, *kick, descs),
            VirtioOp::Send {
                queue,
                packet,
                offload,
                pieces,
            } => self.send(*queue, packet, offload, *pieces),
            VirtioOp::Ctrl {
                class,
                command,
                payload,
                ack,
            } => self.ctrl(*class, *command, payload, *ack),
            VirtioOp::Receive { frame } => self.step(|h| h.dev.receive(frame)),
            VirtioOp::ReceivePacket {
                packet,
                dst,
                vlan,
                bad_csum,
            } => {
                let frame = Driver::rx_frame(packet, *dst, *vlan, *bad_csum);
                self.step(|h| h.dev.receive(&frame));
            }
            VirtioOp::OfferRx { queue, count, len } => self.offer_rx(*queue, *count, *len),
            VirtioOp::Reset { kind } => match kind % 3 {
                0 => self.set_status(0),
                1 => {
                    let devctl = self.pcie_devctl();
                    self.step(|h| h.dev.config_write(devctl, &(1u16 << 15).to_le_bytes()));
                }
                _ => self.step(|h| h.dev.reset()),
            },
            VirtioOp::Timers { kind } => match kind % 4 {
                0 => self.step(|h| h.dev.run_deadlines()),
                1 => self.step(|h| h.dev.run_timers()),
                2 => self.step(|h| h.dev.resume_tx()),
                _ => self.wait_and_run(),
            },
            VirtioOp::Link { up } => self.step(|h| h.dev.set_link(*up)),
            VirtioOp::ToggleHighRam => toggle_high_ram(&self.dma, &mut self.high_mapped),
            VirtioOp::Msix { enabled } => self.irq.msix_on.store(*enabled, Ordering::Relaxed),
        }
    }

    /// The last checks of an input.
    pub(super) fn finish(&mut self) {
        self.check_memory_and_counters();
    }

    pub(super) fn report(mut self, ops: usize) -> VirtioReport {
        self.check_memory_and_counters();
        VirtioReport {
            ops,
            dma_allowed: self.allowed,
            dma_refused: self.refused,
            wire_frames: self.wire_state().0,
            interrupts: self.irq.raised.load(Ordering::Relaxed),
            packed_packets: self.packed_packets,
            split_packets: self.split_packets,
            counters: flatten(self.dev.counters()),
        }
    }
}
