//! The Intel X710 (`i40e`) personality: a 10 GbE port of the 700 series.
//!
//! The driver talks to it through three channels, each modelled here:
//! registers in BAR0 (reset, NVM, interrupts, queue doorbells, RSS tables;
//! [`regs::TABLE`]), the admin queue (firmware commands: capabilities, switch
//! and VSI configuration, link; [`adminq`], [`aq_cmds`]) and queue contexts the
//! driver writes into host memory (the HMC, [`hmc`]). Transmit and receive are
//! descriptor driven ([`tx`], [`rx`]): the context descriptor's tunnelling word
//! says what the NIC rewrites per segment, the Rx descriptor reports packet type
//! and per-layer checksum status, as `../shared/i40e-digest.md` lays out.

pub mod adminq;
pub mod aq_cmds;
pub mod counters;
pub mod hmc;
pub mod interrupts;
pub mod nvm;
pub mod ptype;
pub mod regfile;
pub mod regs;
pub mod rx;
pub mod stats;
pub mod switch;
pub mod tx;

use std::sync::Arc;
use std::time::Instant;

use dma::DmaSpace;
use offload_engines::segment::Segmenter;

use crate::irq::IrqSink;
use crate::pci::{BarKind, ConfigSpace, PciIdentity};
use crate::timing::TimingConfig;
use crate::wire::FrameSink;
use adminq::AdminQueue;
pub use counters::{Counters, ERROR_COUNTERS};
use hmc::{Hmc, RxContext, TxContext, RX_CONTEXT_LEN, TX_CONTEXT_LEN};
use interrupts::Interrupts;
use nvm::ShadowRam;
use regs::*;

/// X710 for 10GbE SFP+ (`I40E_DEV_ID_SFP_XL710`).
pub const DEVICE_ID: u16 = 0x1572;
pub const BAR0_SIZE: u64 = 8 * 1024 * 1024;
pub const BAR3_SIZE: u64 = 32 * 1024;
const MSIX_TABLE_OFFSET: u32 = 0;
const MSIX_PBA_OFFSET: u32 = 0x1000;
const REG_WORDS: usize = (BAR0_SIZE / 4) as usize;

/// What one port is built with.
#[derive(Debug, Clone)]
pub struct I40eConfig {
    pub mac: [u8; 6],
    /// Timing model; the X710 does not model time yet, so only "off" is accepted
    /// by the factory.
    pub timing: TimingConfig,
}

/// An Intel X710 PCIe function (PF 0, port 0).
pub struct I40e {
    regs: regfile::RegisterFile,
    config: ConfigSpace,
    pcie_cap: usize,
    mac: [u8; 6],
    sr: ShadowRam,
    aq: AdminQueue,
    hmc: Hmc,
    intr: Interrupts,
    switch: switch::Switch,
    txq: Vec<tx::TxQueue>,
    rxq: Vec<rx::RxQueue>,
    stats: stats::Stats,
    counters: Counters,
    /// The wire's state (a peer attached); the link also needs the PHY enabled.
    wire_up: bool,
    dma: Arc<DmaSpace>,
    irq: Arc<dyn IrqSink>,
    wire: Box<dyn FrameSink>,
    segmenter: Segmenter,
    scratch: Vec<u8>,
    /// Tx queues left with work after their pass's budget ran out.
    deferred: crate::doorbell::DeferredTx,
    epoch: Instant,
    /// Log lines about resets and unreadable queue contexts: a guest can cause
    /// both in a loop.
    reset_log: crate::ratelimit::RateLimit,
    context_log: crate::ratelimit::RateLimit,
}

impl I40e {
    pub fn new(
        cfg: I40eConfig,
        dma: Arc<DmaSpace>,
        irq: Arc<dyn IrqSink>,
        wire: Box<dyn FrameSink>,
    ) -> Self {
        let (config, pcie_cap) = Self::build_config();
        let mut dev = Self {
            regs: regfile::RegisterFile::new(REG_WORDS),
            config,
            pcie_cap,
            mac: cfg.mac,
            sr: ShadowRam::default(),
            aq: AdminQueue::default(),
            hmc: Hmc::default(),
            intr: Interrupts::default(),
            switch: switch::Switch::new(cfg.mac),
            txq: (0..QUEUES).map(|_| tx::TxQueue::default()).collect(),
            rxq: (0..QUEUES).map(|_| rx::RxQueue::default()).collect(),
            stats: stats::Stats::default(),
            counters: Counters::default(),
            wire_up: true,
            dma,
            irq,
            wire,
            segmenter: Segmenter::new(),
            scratch: Vec::new(),
            deferred: crate::doorbell::DeferredTx::default(),
            epoch: Instant::now(),
            reset_log: Default::default(),
            context_log: Default::default(),
        };
        dev.reset_registers();
        dev
    }

    /// Config space as on an X710: PM at 0x40, MSI at 0x50, MSI-X at 0x70 and the
    /// PCIe capability at 0xA0, where DPDK reads DevCap/DevCtl by fixed offset.
    fn build_config() -> (ConfigSpace, usize) {
        let mut c = ConfigSpace::new(PciIdentity {
            vendor: 0x8086,
            device: DEVICE_ID,
            revision: 0x02,
            class: [0x02, 0x00, 0x00],
            subsystem_vendor: 0x8086,
            subsystem: 0x0001,
        });
        c.bar(0, BarKind::Mem64, BAR0_SIZE as u32);
        c.bar(3, BarKind::Mem64, BAR3_SIZE as u32);
        c.place_next_cap(0x40);
        c.add_power_management();
        c.place_next_cap(0x50);
        c.add_msi(1);
        c.place_next_cap(0x70);
        c.add_msix(MSIX_VECTORS, 3, MSIX_TABLE_OFFSET, 3, MSIX_PBA_OFFSET);
        c.place_next_cap(0xA0);
        // 8 GT/s x8, as an X710 in a Gen3 x8 slot: no bandwidth warning at probe.
        let pcie = c.add_pcie_endpoint(3, 8, 512);
        // No legacy INTx (Interrupt Pin 0), as the X710's NVM may configure it per PF:
        // Linux flags every X710 "broken INTx masking" (a PCI quirk), so
        // uio_pci_generic, the binding DPDK has without an IOMMU, refuses a function
        // that has a pin, and binds one without (the PMD then polls, with its alarm,
        // for link and admin-queue events). Both drivers use MSI-X.
        c.set8(0x3d, 0);
        (c, pcie)
    }

    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    pub fn counters(&self) -> Counters {
        let mut c = self.counters.clone();
        c.aq_commands = self.aq.commands;
        c.aq_errors = self.aq.errors;
        c.aq_events_dropped = self.aq.events_dropped;
        c
    }

    /// The counters the fuzz harness bounds after every register access, read in
    /// place: `counters()` clones the per-queue maps, which per access was a fifth
    /// of a fuzz input's time.
    #[cfg(feature = "fuzzing")]
    pub(crate) fn work_counters(&self) -> [u64; 5] {
        let (tx, rx) = (&self.counters.tx, &self.counters.rx);
        [
            self.aq.commands,
            tx.tx_descriptors,
            tx.tx_frames,
            rx.rx_descriptors,
            rx.rx_frames,
        ]
    }

    pub fn config_read(&self, off: u64, data: &mut [u8]) {
        self.config.read(off, data);
    }

    pub fn config_write(&mut self, off: u64, data: &[u8]) {
        self.config.write(off, data);
        // PCIe Device Control bit 15: Function Level Reset.
        let devctl = self.pcie_cap + 8;
        if self.config.get16(devctl) & (1 << 15) != 0 {
            self.config
                .set16(devctl, self.config.get16(devctl) & !(1 << 15));
            self.reset_registers();
            self.counters.resets += 1;
        }
    }

    /// Whole-function reset (vfio-user DEVICE_RESET): as a power-on.
    /// A device-model bug was contained (a panic in one operation): the state
    /// behind the registers can no longer be trusted, so every queue stops, as
    /// after a malicious-driver event: Tx queues stall until QTX_ENA starts them
    /// again, Rx queues lose their context until the driver enables them anew.
    pub fn contain_fault(&mut self) {
        self.counters.device_faults += 1;
        self.txq.iter_mut().for_each(|q| q.stalled = true);
        self.rxq.iter_mut().for_each(|q| q.ctx = None);
        self.deferred.clear();
    }

    /// Who to wake when a Tx pass leaves work for the port's worker.
    pub fn set_waker(&mut self, wake: crate::timing::Waker) {
        self.deferred.set_waker(wake);
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
    }

    pub fn reset(&mut self) {
        (self.config, self.pcie_cap) = Self::build_config();
        self.reset_registers();
        self.counters.resets += 1;
    }

    /// A PF reset (PFGEN_CTRL.PFSWR, CORER, FLR): registers to their reset
    /// values, admin queue, HMC, VSIs and filters to power-on state.
    fn reset_registers(&mut self) {
        // Only the words written since the last reset are cleared (`regfile`).
        self.regs.clear();
        for r in TABLE {
            for i in 0..r.count {
                self.set(r.offset + i * r.stride, r.reset);
            }
        }
        for (pctype, set) in rx::HASH_INPUT_SET_DEFAULTS {
            let (lo, hi) = rx::hash_input_set_regs(pctype);
            self.set(lo, set as u32);
            self.set(hi, (set >> 32) as u32);
        }
        self.aq.reset();
        self.hmc.reset();
        self.intr.reset();
        self.switch.reset();
        self.stats = stats::Stats::default();
        self.txq
            .iter_mut()
            .for_each(|q| *q = tx::TxQueue::default());
        self.deferred.clear();
        self.rxq
            .iter_mut()
            .for_each(|q| *q = rx::RxQueue::default());
    }

    pub(crate) fn get(&self, off: u32) -> u32 {
        self.regs.get((off / 4) as usize)
    }

    pub(crate) fn set(&mut self, off: u32, v: u32) {
        self.regs.set((off / 4) as usize, v);
    }

    /// Link: the wire is up and the PHY configuration enables the link
    /// (set_phy_config without ENABLE_LINK takes it down, as DPDK's set_link_down does).
    pub fn link_up(&self) -> bool {
        self.wire_up && self.phy_link_enabled()
    }

    /// The wire came up or went down: the link status event goes to the ARQ.
    pub fn set_link(&mut self, up: bool) {
        let before = self.link_up();
        self.wire_up = up;
        if before != self.link_up() {
            self.link_changed();
        }
    }

    // ---- MMIO -----------------------------------------------------------------

    /// A guest read of BAR0: any size; registers are 32-bit, 64-bit reads of
    /// statistics return the register pair.
    pub fn mmio_read(&mut self, off: u64, data: &mut [u8]) {
        crate::mmio::read(self, off, data);
    }

    /// A guest write to BAR0. Partial writes merge into the stored register.
    pub fn mmio_write(&mut self, off: u64, data: &[u8]) {
        crate::mmio::write(self, off, data);
    }

    fn read32(&mut self, off: u32) -> u32 {
        match off {
            PFINT_ICR0 => self.icr0_read(),
            GLVFGEN_TIMER => self.epoch.elapsed().as_micros() as u32,
            PRTMAC_LINKSTA => {
                if self.link_up() {
                    PRTMAC_LINKSTA_UP_10G
                } else {
                    0
                }
            }
            o => self.stats.read(o).unwrap_or_else(|| self.get(o)),
        }
    }

    /// Reads a register as the admin queue's debug_read_reg and rx_ctl_reg_read do.
    pub(crate) fn debug_read(&mut self, off: u32) -> u32 {
        match off {
            // Port 0 enabled, ports 1..3 disabled: one port, partition 1.
            o if (PRTGEN_CNF..PRTGEN_CNF + 16).contains(&o) && o != PRTGEN_CNF => 1,
            o if o < BAR0_SIZE as u32 => self.read32(o & !3),
            _ => 0,
        }
    }

    pub(crate) fn write32(&mut self, off: u32, val: u32) {
        let Some((reg, idx)) = lookup(off) else {
            self.set(off, val);
            return;
        };
        let old = self.get(off);
        let v = (old & !reg.write_mask) | (val & reg.write_mask);
        match reg.behaviour {
            Effect::ReadOnly => return,
            Effect::None | Effect::ReadClear => {
                self.set(off, v);
                return;
            }
            Effect::Action => {}
        }
        let q = idx as usize;
        match reg.offset {
            PFGEN_CTRL => {
                if v & PFGEN_CTRL_PFSWR != 0 {
                    if let Some(suppressed) = self.reset_log.allow() {
                        tracing::info!(suppressed, "PF software reset");
                    }
                    self.counters.resets += 1;
                    self.reset_registers();
                }
            }
            GLGEN_RTRIG => {
                if v & 0x3 != 0 {
                    if let Some(suppressed) = self.reset_log.allow() {
                        tracing::info!(suppressed, "core/global reset");
                    }
                    self.counters.resets += 1;
                    self.reset_registers();
                }
            }
            GLNVM_SRCTL => self.srctl_write(v),
            PF_ATQLEN | PF_ARQLEN => {
                self.set(off, v);
                if v & AQ_LEN_ENABLE == 0 {
                    self.aq.reset();
                }
            }
            PF_ATQT => {
                self.set(off, v);
                self.atq_process();
            }
            PF_ARQT => {
                self.set(off, v);
                self.arq_flush();
            }
            PFINT_DYN_CTL0 => self.dyn_ctl_write(0, val),
            PFINT_DYN_CTLN => self.dyn_ctl_write(idx as u16 + 1, val),
            PFHMC_SDCMD => {
                self.set(off, v);
                let (lo, hi) = (self.get(PFHMC_SDDATALOW), self.get(PFHMC_SDDATAHIGH));
                self.hmc.sd_command(v, lo, hi);
            }
            QTX_ENA => self.tx_enable_write(q, v),
            QRX_ENA => self.rx_enable_write(q, v),
            QTX_TAIL => {
                self.set(off, v);
                self.tx_process(q);
            }
            QRX_TAIL => {
                self.set(off, v);
                self.rx_tail_written(q);
            }
            _ => self.set(off, v),
        }
    }

    fn srctl_write(&mut self, v: u32) {
        if v & GLNVM_SRCTL_START == 0 {
            self.set(GLNVM_SRCTL, (v & !GLNVM_SRCTL_DONE) | GLNVM_SRCTL_DONE);
            return;
        }
        let addr = ((v >> 14) & 0x7FFF) as usize;
        match self.sr.read(addr) {
            Some(w) => {
                self.set(GLNVM_SRDATA, u32::from(w) << 16);
                self.set(GLNVM_SRCTL, (v & !GLNVM_SRCTL_START) | GLNVM_SRCTL_DONE);
            }
            None => {
                // No DONE: the driver times out and reports the read as failed.
                self.counters.nvm_bad_reads += 1;
                self.set(GLNVM_SRCTL, v & !(GLNVM_SRCTL_START | GLNVM_SRCTL_DONE));
            }
        }
    }

    /// FPM offset of a queue's context: the area base (512-byte units) plus the index.
    fn context_fpm(&self, base_reg: u32, q: usize, len: usize) -> u64 {
        u64::from(self.get(base_reg)) * 512 + (q * len) as u64
    }

    fn tx_enable_write(&mut self, q: usize, v: u32) {
        let off = QTX_ENA + 4 * q as u32;
        if v & QENA_REQ == 0 {
            self.set(off, 0);
            self.txq[q].ctx = None;
            return;
        }
        let mut raw = [0u8; TX_CONTEXT_LEN];
        let fpm = self.context_fpm(GLHMC_LANTXBASE, q, TX_CONTEXT_LEN);
        match self.hmc.read(&self.dma, fpm, &mut raw) {
            Ok(()) => {
                let ctx = TxContext::decode(&raw);
                self.txq[q] = tx::TxQueue::started(ctx);
                self.set(QTX_HEAD + 4 * q as u32, u32::from(ctx.head));
                self.set(off, QENA_REQ | QENA_STAT);
            }
            Err(e) => {
                self.counters.hmc_errors += 1;
                if let Some(suppressed) = self.context_log.allow() {
                    tracing::warn!(queue = q, error = %e, suppressed, "Tx queue context unreadable: queue stays disabled");
                }
                self.set(off, QENA_REQ);
            }
        }
    }

    fn rx_enable_write(&mut self, q: usize, v: u32) {
        let off = QRX_ENA + 4 * q as u32;
        if v & QENA_REQ == 0 {
            self.set(off, 0);
            self.rxq[q].ctx = None;
            return;
        }
        let mut raw = [0u8; RX_CONTEXT_LEN];
        let fpm = self.context_fpm(GLHMC_LANRXBASE, q, RX_CONTEXT_LEN);
        match self.hmc.read(&self.dma, fpm, &mut raw) {
            Ok(()) => {
                let ctx = RxContext::decode(&raw);
                self.rxq[q] = rx::RxQueue::started(ctx);
                self.set(off, QENA_REQ | QENA_STAT);
            }
            Err(e) => {
                self.counters.hmc_errors += 1;
                if let Some(suppressed) = self.context_log.allow() {
                    tracing::warn!(queue = q, error = %e, suppressed, "Rx queue context unreadable: queue stays disabled");
                }
                self.set(off, QENA_REQ);
            }
        }
    }

    /// A frame arrived from the wire (no FCS).
    pub fn receive(&mut self, frame: &[u8]) {
        if !self.link_up() {
            self.counters.rx_link_down_drops += 1;
            return;
        }
        self.rx_frame(frame);
    }

    /// Sends the link status event (get_link_status, 0x0607) when the driver
    /// enabled link status events, and latches LINK_STAT_CHANGE.
    fn link_changed(&mut self) {
        if let Some(ev) = self.link_event() {
            self.post_event(ev);
        }
        self.raise_misc(ICR0_LINK_STAT_CHANGE);
    }
}

impl crate::mmio::DwordRegisters for I40e {
    const BAR_SIZE: u64 = BAR0_SIZE;
    fn read_dword(&mut self, off: u32) -> u32 {
        self.read32(off)
    }
    fn peek_dword(&self, off: u32) -> u32 {
        self.get(off)
    }
    fn write_dword(&mut self, off: u32, v: u32) {
        self.write32(off, v)
    }
}

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
