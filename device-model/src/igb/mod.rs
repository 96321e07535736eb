//! The Intel 82576 (`igb`) personality.
//!
//! Register semantics follow the 82576 datasheet and what the Linux `igb`
//! driver relies on from probe to traffic. The device is descriptor driven:
//! it does what the context and data descriptors say, exactly as silicon would,
//! and never re-parses a frame to guess what the driver meant.

mod counters;
mod eeprom;
mod flow_control;
mod interrupts;
pub mod phy;
pub mod registers;
pub mod regs;
mod rx;
mod stats;
mod timed;
mod tx;
mod wall_itr;

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use dma::DmaSpace;
use offload_engines::cost::LinkSpeed;
use offload_engines::segment::Segmenter;

pub use counters::{Counters, ERROR_COUNTERS};
use eeprom::Eeprom;
use interrupts::{Cause, Interrupts};
use phy::Phy;
use registers::{Access, Behaviour, Effect};
use regs::*;
use stats::Stats;

use crate::doorbell::DeferredTx;
use crate::irq::IrqSink;
use crate::pci::{BarKind, ConfigSpace, PciIdentity};
use crate::timing::{DeviceTiming, TimingConfig};
use crate::wire::FrameSink;

pub const DEVICE_ID: u16 = 0x10c9;
pub const BAR0_SIZE: u64 = 128 * 1024;
pub const BAR3_SIZE: u64 = 16 * 1024;
/// MSI-X table and PBA offsets inside BAR3.
pub const MSIX_TABLE_OFFSET: u32 = 0;
pub const MSIX_PBA_OFFSET: u32 = 0x2000;

const REG_WORDS: usize = (BAR0_SIZE / 4) as usize;

/// What one port is built with.
#[derive(Debug, Clone)]
pub struct IgbConfig {
    pub mac: [u8; 6],
    /// Timing model; `TimingConfig::default()` is off.
    pub timing: TimingConfig,
    /// How long the PHY negotiates before the link comes up ([`phy::AUTONEG_TIME`];
    /// zero links at once, for tests and fuzzing that must not depend on the clock).
    pub autoneg_time: std::time::Duration,
}

/// Per Tx queue state that lives between doorbells.
#[derive(Default)]
struct TxQueue {
    contexts: [tx::Context; 2],
    packet: tx::PendingPacket,
}

/// An Intel 82576 PCIe function.
pub struct Igb {
    regs: Box<[u32]>,
    config: ConfigSpace,
    pcie_cap: usize,
    eeprom: Eeprom,
    phy: Phy,
    intr: Interrupts,
    stats: Stats,
    counters: Counters,
    dma: Arc<DmaSpace>,
    irq: Arc<dyn IrqSink>,
    wire: Box<dyn FrameSink>,
    txq: Vec<TxQueue>,
    rx_fifo: VecDeque<Vec<u8>>,
    rx_fifo_bytes: usize,
    /// 802.3x PAUSE state: XOFF sent, paused by the partner, stopped queues.
    fc: flow_control::FlowControl,
    rss: rx::RssState,
    /// VMDq pool filters, rebuilt from RAL/RAH and VT_CTL when they are written.
    vmdq: offload_engines::vmq::VmqTable,
    segmenter: Segmenter,
    scratch: Vec<u8>,
    /// Tx queues left with work after their pass's budget ran out.
    deferred: DeferredTx,
    /// Wakes the port's worker (deferred Tx, a new auto-negotiation deadline).
    wake: Option<crate::timing::Waker>,
    unmodelled_logged: HashSet<u32>,
    /// `None` with timing off, so the untimed paths pay one branch at most.
    timing: Option<Box<DeviceTiming>>,
    /// EITR on the wall clock, with timing off (with timing on the model runs it).
    wall_itr: Option<wall_itr::WallModeration>,
}

impl Igb {
    pub fn new(
        cfg: IgbConfig,
        dma: Arc<DmaSpace>,
        irq: Arc<dyn IrqSink>,
        wire: Box<dyn FrameSink>,
    ) -> Self {
        let mut dev = Self {
            regs: vec![0u32; REG_WORDS].into_boxed_slice(),
            config: Self::build_config().0,
            pcie_cap: Self::build_config().1,
            eeprom: Eeprom::new(cfg.mac, DEVICE_ID),
            phy: Phy::new().with_autoneg_time(cfg.autoneg_time),
            intr: Interrupts::default(),
            stats: Stats::default(),
            counters: Counters::default(),
            dma,
            irq,
            wire,
            txq: (0..QUEUES).map(|_| TxQueue::default()).collect(),
            rx_fifo: VecDeque::new(),
            rx_fifo_bytes: 0,
            fc: flow_control::FlowControl::default(),
            rss: rx::RssState::default(),
            vmdq: offload_engines::vmq::VmqTable::new(0, RAR_ENTRIES),
            segmenter: Segmenter::new(),
            scratch: Vec::new(),
            deferred: DeferredTx::default(),
            wake: None,
            unmodelled_logged: HashSet::new(),
            timing: DeviceTiming::new(&cfg.timing, usize::from(MSIX_VECTORS), QUEUES).map(Box::new),
            wall_itr: None,
        };
        if dev.timing.is_none() {
            dev.wall_itr = Some(wall_itr::WallModeration::new(usize::from(MSIX_VECTORS)));
        }
        dev.reset_registers();
        dev
    }

    /// Config space and the offset of its PCIe capability.
    fn build_config() -> (ConfigSpace, usize) {
        let mut c = ConfigSpace::new(PciIdentity {
            vendor: 0x8086,
            device: DEVICE_ID,
            revision: 0x01,
            class: [0x02, 0x00, 0x00],
            subsystem_vendor: 0x8086,
            subsystem: 0xa02c,
        });
        c.bar(0, BarKind::Mem32, BAR0_SIZE as u32);
        c.bar(3, BarKind::Mem32, BAR3_SIZE as u32);
        c.add_power_management();
        c.add_msi(1);
        c.add_msix(MSIX_VECTORS, 3, MSIX_TABLE_OFFSET, 3, MSIX_PBA_OFFSET);
        let pcie = c.add_pcie_endpoint(1, 4, 256);
        (c, pcie)
    }

    pub fn mac(&self) -> [u8; 6] {
        self.eeprom.mac()
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    pub fn config_read(&self, off: u64, data: &mut [u8]) {
        self.config.read(off, data);
    }

    pub fn config_write(&mut self, off: u64, data: &[u8]) {
        self.config.write(off, data);
        // PCIe Device Control bit 15, Initiate Function Level Reset: the function's
        // registers go back to power-on state at once; the bit always reads 0.
        let devctl = self.pcie_cap + 8;
        if self.config.get16(devctl) & (1 << 15) != 0 {
            tracing::info!("function level reset");
            self.config
                .set16(devctl, self.config.get16(devctl) & !(1 << 15));
            self.counters.resets += 1;
            self.phy.reset();
            self.autoneg_started();
            self.reset_registers();
        }
        // Command bit 10 (INTx disable) gates the pin: unmasking with a cause still
        // pending asserts it again (uio_pci_generic unmasks after each interrupt).
        if !self.intr.msix_mode() {
            self.update_irq();
        }
    }

    /// Whole-function reset (vfio-user DEVICE_RESET, PCIe FLR): as a power-on.
    pub fn reset(&mut self) {
        (self.config, self.pcie_cap) = Self::build_config();
        self.phy.reset();
        self.autoneg_started();
        self.reset_registers();
        self.counters.resets += 1;
    }

    /// Software reset (CTRL.RST): every MAC register to its default, the NVM
    /// reloaded (MAC address into RAL0/RAH0), queues and FIFOs emptied.
    fn reset_registers(&mut self) {
        self.regs.fill(0);
        self.intr.reset();
        self.stats = Stats::default();
        self.txq.iter_mut().for_each(|q| *q = TxQueue::default());
        self.deferred.clear();
        // Frames still waiting for descriptors are lost with the reset, and counted.
        self.counters.rx_reset_drops += self.rx_fifo.len() as u64;
        self.rx_fifo.clear();
        self.rx_fifo_bytes = 0;
        // An XOFF in force ends with the buffer: the worker takes frames again.
        if std::mem::take(&mut self.fc).xoff_sent {
            if let Some(w) = &self.wake {
                w();
            }
        }
        self.rss = rx::RssState::default();
        if let Some(t) = self.timing.as_mut() {
            t.reset();
        }
        if let Some(m) = self.wall_itr.as_mut() {
            m.reset();
        }
        for reg in registers::TABLE.iter().filter(|r| r.reset != 0) {
            for i in 0..reg.count {
                self.set(reg.instance(i), reg.reset);
            }
        }
        let mac = self.eeprom.mac();
        self.set(ral(0), u32::from_le_bytes([mac[0], mac[1], mac[2], mac[3]]));
        self.set(
            ral(0) + 4,
            u32::from(u16::from_le_bytes([mac[4], mac[5]])) | RAH_AV,
        );
        self.rebuild_vmdq();
    }

    /// A device-model bug was contained (a panic in one operation): the state
    /// behind the registers can no longer be trusted, so the device stops every
    /// queue, as silicon does after an internal error. Queue enable bits read back
    /// clear; the driver's Tx watchdog sees the hang and resets the device.
    pub fn contain_fault(&mut self) {
        self.counters.device_faults += 1;
        for q in 0..QUEUES {
            for tx in [true, false] {
                let off = queue_off(tx, q, Q_CTL);
                let enable = if tx { TXDCTL_ENABLE } else { RXDCTL_ENABLE };
                self.set(off, self.get(off) & !enable);
            }
        }
        self.deferred.clear();
    }

    /// A register's stored value, without a read's side effects: what the fuzzing
    /// harness checks ring sizes with after every step.
    #[cfg(feature = "fuzzing")]
    pub(crate) fn reg(&self, off: u32) -> u32 {
        self.get(off)
    }

    fn get(&self, off: u32) -> u32 {
        self.regs.get((off / 4) as usize).copied().unwrap_or(0)
    }

    fn set(&mut self, off: u32, v: u32) {
        if let Some(r) = self.regs.get_mut((off / 4) as usize) {
            *r = v;
        }
    }

    /// Link as the MAC sees it: PHY linked and the MAC told to use it.
    fn link_up(&self) -> bool {
        self.phy.link()
    }

    /// The wire came up or went down (peer attached or gone).
    pub fn set_link(&mut self, up: bool) {
        let before = self.link_up();
        self.phy.set_link(up);
        self.autoneg_started();
        if before != self.link_up() {
            self.post(Cause::Other(ICR_LSC));
        }
    }

    fn status(&self) -> u32 {
        let mut s = 0;
        if self.link_up() {
            // The modelled link's speed as the MAC resolved it; the driver reads it
            // here. Faster models than 1 Gb/s still say 1000, the most the 82576 can.
            let speed = match self.timing.as_ref().map(|t| t.params().speed) {
                Some(LinkSpeed::Mbps10) => STATUS_SPEED_10,
                Some(LinkSpeed::Mbps100) => STATUS_SPEED_100,
                _ => STATUS_SPEED_1000,
            };
            s |= STATUS_LU | STATUS_FD | speed;
        }
        if self.get(CTRL) & CTRL_GIO_MASTER_DISABLE == 0 {
            s |= STATUS_GIO_MASTER_ENABLE;
        }
        if self.fc.paused(std::time::Instant::now()) {
            s |= flow_control::STATUS_TXOFF;
        }
        s
    }

    // ---- MMIO -----------------------------------------------------------------

    /// A guest read of BAR0. Any size or alignment; registers are 32-bit.
    pub fn mmio_read(&mut self, off: u64, data: &mut [u8]) {
        crate::mmio::read(self, off, data);
    }

    /// A guest write to BAR0. Partial writes merge into the stored register.
    pub fn mmio_write(&mut self, off: u64, data: &[u8]) {
        crate::mmio::write(self, off, data);
    }

    /// BAR3 holds the MSI-X table and PBA; QEMU emulates them, so accesses
    /// that reach us are ordinary memory.
    pub fn msix_bar_read(&mut self, _off: u64, data: &mut [u8]) {
        data.fill(0);
    }

    /// A register's current value without read side effects, for merging
    /// partial writes: state kept outside the register array included.
    fn peek32(&self, off: u32) -> u32 {
        let Some((reg, i)) = registers::lookup(off) else {
            return self.get(unlisted_offset(off));
        };
        match (reg.behaviour.access, reg.behaviour.effect) {
            // Write-only, read-to-clear and write-one-to-clear registers merge with zeros.
            (Access::Wo | Access::Rc | Access::RcW1c, _) => 0,
            (_, Effect::Ims) => self.intr.ims,
            (_, Effect::Eims) => self.intr.eims,
            (_, Effect::InterruptState) => self.intr.state(off).unwrap_or(0),
            _ => self.get(reg.instance(i)),
        }
    }

    fn read32(&mut self, off: u32) -> u32 {
        let Some((reg, i)) = registers::lookup(off) else {
            if queue_reg(off).is_none() {
                self.log_unmodelled(off, "read");
            }
            return self.get(unlisted_offset(off));
        };
        let at = reg.instance(i);
        self.count_access(reg.behaviour.effect);
        let v = match reg.behaviour.effect {
            Effect::Status => self.status(),
            Effect::Eecd => {
                let v = self.get(EECD);
                if v & EECD_REQ != 0 {
                    v | EECD_GNT
                } else {
                    v & !EECD_GNT
                }
            }
            Effect::CfgDone => EEMNGCTL_CFG_DONE0 | EEMNGCTL_CFG_DONE1,
            Effect::Icr => {
                let v = self.intr.read_icr();
                self.update_irq();
                // With the ICS trace below: when a forced cause was raised and when
                // the driver's handler read it (the self-test allows 10 ms).
                tracing::trace!(target: "tunic::igb::intr", icr = v, "ICR read");
                v
            }
            Effect::Eicr => self.intr.read_eicr(),
            Effect::Ims => self.intr.ims,
            Effect::Eims => self.intr.eims,
            Effect::InterruptState => self.intr.state(off).unwrap_or(0),
            Effect::Statistic => self.stats.read(off),
            _ => self.get(at),
        };
        match reg.behaviour.access {
            Access::Wo => 0,
            // Statistics clear in `Stats`; a stored read-to-clear register here.
            Access::Rc if reg.behaviour.effect != Effect::Statistic => {
                self.set(at, 0);
                v
            }
            _ => v,
        }
    }

    fn write32(&mut self, off: u32, v: u32) {
        let Some((reg, i)) = registers::lookup(off) else {
            if queue_reg(off).is_none() {
                self.log_unmodelled(off, "write");
            }
            self.set(unlisted_offset(off), v);
            return;
        };
        let at = reg.instance(i);
        self.count_access(reg.behaviour.effect);
        let was = self.get(at);
        let Behaviour { access, effect } = reg.behaviour;
        if access == Access::Rw && effect != Effect::InterruptState {
            self.set(at, (was & !reg.write_mask) | (v & reg.write_mask));
        }
        self.register_effect(effect, off, i as usize, v, was);
    }

    /// One BAR0 access to a register of the table, by class.
    fn count_access(&mut self, effect: Effect) {
        let c = &mut self.counters;
        let n = match effect {
            Effect::RxTail | Effect::TxTail => &mut c.mmio_doorbell_writes,
            Effect::Icr
            | Effect::Ics
            | Effect::Ims
            | Effect::Imc
            | Effect::Eicr
            | Effect::Eics
            | Effect::Eims
            | Effect::Eimc
            | Effect::InterruptState => &mut c.mmio_interrupt_accesses,
            Effect::Statistic => &mut c.mmio_statistics_reads,
            _ => &mut c.mmio_other_accesses,
        };
        *n += 1;
    }

    /// What a write does beyond the storage its table row gives it.
    fn register_effect(&mut self, effect: Effect, off: u32, q: usize, v: u32, was: u32) {
        let rising = |bit: u32| v & bit != 0 && was & bit == 0;
        match effect {
            Effect::Ctrl => {
                if v & CTRL_RST != 0 {
                    tracing::debug!("CTRL.RST: software reset");
                    self.counters.resets += 1;
                    self.reset_registers();
                    return;
                }
                if v & CTRL_PHY_RST != 0 {
                    self.phy.reset();
                    self.autoneg_started();
                }
                self.flow_control_changed(was);
            }
            Effect::Eerd => {
                if v & 1 != 0 {
                    let addr = ((v >> 2) & 0x3fff) as usize;
                    let word = self.eeprom.word(addr).unwrap_or(0xffff);
                    self.set(EERD, (u32::from(word) << 16) | (v & 0xfffc) | 0x2);
                }
            }
            Effect::Mdic => self.mdic(v),
            Effect::Icr => {
                self.intr.icr &= !v;
                self.update_irq();
            }
            Effect::Ics => {
                self.post(Cause::Other(v));
                tracing::trace!(
                    target: "tunic::igb::intr",
                    ics = v,
                    ims = self.intr.ims,
                    msix_mode = self.intr.msix_mode(),
                    raised = self.intr.raised,
                    "ICS"
                );
            }
            Effect::Ims => {
                self.intr.ims |= v;
                self.refresh_other();
            }
            Effect::Imc => {
                self.intr.ims &= !v;
                self.update_irq();
            }
            Effect::Eics => {
                self.intr.eicr |= v & ((1 << MSIX_VECTORS) - 1);
                if !self.intr.msix_mode() {
                    self.intr.icr |= ICR_RXT0;
                }
                self.update_irq();
            }
            Effect::Eims => {
                self.intr.eims |= v;
                self.update_irq();
            }
            Effect::Eimc => self.intr.eims &= !v,
            Effect::Eicr => self.intr.eicr &= !v,
            Effect::InterruptState => {
                if let Some(field) = self.intr.state_mut(off) {
                    *field = v;
                }
            }
            Effect::Rctl => {
                if rising(RCTL_EN) {
                    self.drain_rx_fifo();
                }
            }
            Effect::Tctl => {
                if rising(TCTL_EN) {
                    (0..QUEUES).for_each(|q| self.tx_process(q));
                }
            }
            Effect::RssKey => self.rss.key_changed(),
            Effect::VmdqFilter => self.rebuild_vmdq(),
            Effect::TxTail => self.tx_process(q),
            Effect::RxTail => self.drain_rx_fifo(),
            // Enable takes effect at once: the queue has no in-flight DMA.
            Effect::TxQueueCtl if v & TXDCTL_ENABLE != 0 => self.tx_process(q),
            Effect::RxQueueCtl if v & RXDCTL_ENABLE != 0 => self.drain_rx_fifo(),
            Effect::TxQueueCtl
            | Effect::RxQueueCtl
            | Effect::None
            | Effect::Status
            | Effect::Eecd
            | Effect::CfgDone
            | Effect::Statistic => {}
        }
    }

    fn mdic(&mut self, v: u32) {
        const READY: u32 = 1 << 28;
        const ERROR: u32 = 1 << 30;
        let phy_addr = (v >> 21) & 0x1f;
        let reg = ((v >> 16) & 0x1f) as usize;
        let op = (v >> 26) & 3;
        if phy_addr != phy::PHY_ADDR {
            self.set(MDIC, (v & !(1 << 31)) | READY | ERROR);
            return;
        }
        let link_before = self.link_up();
        let data = match op {
            1 => {
                self.phy.write(reg, v as u16);
                self.autoneg_started();
                v & 0xffff
            }
            2 => u32::from(self.phy.read(reg)),
            _ => {
                self.set(MDIC, v | READY | ERROR);
                return;
            }
        };
        self.set(MDIC, (v & 0x7fff_0000 & !ERROR) | data | READY);
        if link_before != self.link_up() {
            self.post(Cause::Other(ICR_LSC));
        }
    }

    fn log_unmodelled(&mut self, off: u32, what: &'static str) {
        if self.unmodelled_logged.len() < 4096 && self.unmodelled_logged.insert(off) {
            tracing::debug!(
                reg = format_args!("{off:#07x}"),
                what,
                "register not modelled: plain storage"
            );
        }
    }

    // ---- interrupts -------------------------------------------------------------

    fn post(&mut self, cause: Cause) {
        if let (Some(t), Cause::RxQueue(q) | Cause::TxQueue(q)) = (self.timing.as_mut(), cause) {
            t.ledger.cause(q);
        }
        self.intr.post(cause);
        self.update_irq();
    }

    /// After IMS changes in MSI-X mode, pending "other" causes route to their vector.
    fn refresh_other(&mut self) {
        if self.intr.msix_mode() && self.intr.icr & self.intr.ims != 0 {
            self.intr.post(Cause::Other(0));
        }
        self.update_irq();
    }

    fn update_irq(&mut self) {
        if self.intr.msix_mode() {
            let mut pending = self.intr.pending_vectors();
            if pending == 0 {
                return;
            }
            pending = self.moderate(pending);
            self.send_vectors(pending);
        } else {
            let pending = self.intr.legacy_pending();
            let level = self.config.intx_condition(pending);
            if level != self.intr.legacy_level {
                self.intr.legacy_level = level;
                self.irq.legacy(level);
                if level {
                    self.intr.raised += 1;
                }
            }
        }
    }

    /// Who to wake when a Tx pass leaves work for the port's worker, or when
    /// auto-negotiation starts (its end is a deadline the worker must keep).
    pub fn set_waker(&mut self, wake: crate::timing::Waker) {
        self.deferred.set_waker(wake.clone());
        self.wake = Some(wake);
    }

    /// The wall-clock moment the PHY's auto-negotiation ends, while it runs.
    pub fn next_deadline(&self) -> Option<std::time::Instant> {
        [
            self.phy.autoneg_deadline(),
            self.fc.deadline(),
            self.wall_itr.as_ref().and_then(|m| m.deadline()),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Auto-negotiation done: the link is up, and the driver hears of it (LSC).
    /// A pause the link partner asked for ended; an XOFF is due for refresh.
    pub fn run_deadlines(&mut self) {
        let now = std::time::Instant::now();
        if self.phy.finish_autoneg(now) && self.link_up() {
            self.post(Cause::Other(ICR_LSC));
        }
        self.run_flow_control_deadlines(now);
        // EITR intervals that ended: their held causes go out if still pending.
        let pending = self.intr.pending_vectors();
        if let Some(m) = self.wall_itr.as_mut() {
            let fire = m.due(now, pending);
            if self.intr.msix_mode() {
                self.send_vectors(fire);
            }
        }
    }

    /// CTRL was written: a pause no longer honoured ends, and an XOFF no longer
    /// allowed stops holding the wire.
    fn flow_control_changed(&mut self, was: u32) {
        let now = self.get(CTRL);
        let off = |bit| was & bit != 0 && now & bit == 0;
        if off(flow_control::CTRL_RFCE) && self.fc.paused_until.take().is_some() {
            self.resume_stalled();
        }
        if off(flow_control::CTRL_TFCE) {
            self.check_low_water();
        }
    }

    /// A PHY event started auto-negotiation: the worker learns of the new deadline.
    fn autoneg_started(&self) {
        if self.phy.autoneg_deadline().is_some() {
            if let Some(w) = &self.wake {
                w();
            }
        }
    }

    /// Whether a Tx pass ran out of budget with descriptors left.
    pub fn has_deferred(&self) -> bool {
        self.deferred.any()
    }

    /// Resumes the deferred Tx queues, one budget each.
    pub fn run_deferred(&mut self) {
        for q in self.deferred.take() {
            self.tx_process(q);
        }
        // A resumed queue the driver stopped meanwhile ends its doorbell unplayed.
        if !self.deferred.any() && self.timing.is_some() {
            self.flush_timed_tx();
        }
    }
}

/// Where an offset no table row names is stored: a queue block's unnamed
/// offsets fold onto their canonical block like the named ones.
fn unlisted_offset(off: u32) -> u32 {
    match queue_reg(off) {
        Some((tx, q, reg)) => queue_off(tx, q, reg),
        None => off,
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod timing_tests;

impl crate::mmio::DwordRegisters for Igb {
    const BAR_SIZE: u64 = BAR0_SIZE;
    fn read_dword(&mut self, off: u32) -> u32 {
        self.read32(off)
    }
    fn peek_dword(&self, off: u32) -> u32 {
        self.peek32(off)
    }
    fn write_dword(&mut self, off: u32, v: u32) {
        self.write32(off, v)
    }
}
