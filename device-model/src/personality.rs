//! The face every device personality shows to a transport (vfio-user) and a wire.

use std::time::Instant;

use offload_engines::cost::Picos;
use serde::Serialize;

use crate::timing::Waker;

/// A PCI function with BARs, config space and one Ethernet port.
pub trait Personality: Send {
    /// (BAR index, size in bytes) of each implemented BAR.
    fn bar_sizes(&self) -> Vec<(u32, u64)>;
    fn config_size(&self) -> u64;
    fn msix_vectors(&self) -> u32;
    fn config_read(&mut self, off: u64, data: &mut [u8]);
    fn config_write(&mut self, off: u64, data: &[u8]);
    fn bar_read(&mut self, bar: u32, off: u64, data: &mut [u8]);
    fn bar_write(&mut self, bar: u32, off: u64, data: &[u8]);
    /// Function-level reset: back to power-on state.
    fn reset(&mut self);
    /// An operation panicked inside the device model (a tunic bug): show it the
    /// way silicon shows an internal error (queues stopped or NEEDS_RESET) and
    /// count it in `device_faults`, so the driver's recovery path runs and the
    /// port stays up.
    fn contain_fault(&mut self);
    /// A frame arrived from the wire (no FCS).
    fn receive(&mut self, frame: &[u8]);
    /// What the device counted, typed: conformance evidence, `tunic stats` and
    /// `tunic demo` output. Serialised only at the edge (the port).
    fn counters(&self) -> CounterReport;
    /// Model time now (picoseconds since the port's epoch); `None` with timing off.
    fn model_time(&self) -> Option<Picos> {
        None
    }
    /// Model time of the next timer: interrupt moderation, or (paced) a Tx
    /// write-back waiting for its packet's modelled completion.
    fn next_timer(&self) -> Option<Picos> {
        None
    }
    /// Performs the write-backs and fires the moderation timers that are due
    /// (virtual time: jumps to the next moderation timer).
    fn run_timers(&mut self) {}
    /// The Tx packet buffer or the wire has room again: Tx queues stopped by it go on.
    fn resume_tx(&mut self) {}
    /// Whether frames from the wire must wait on it for now: the device asked its
    /// link partner to pause (802.3x XOFF) and has not released it. The port's
    /// worker then parks data frames (a bounded number; beyond it they stay on the
    /// wire) and delivers them in order once this turns false and the device wakes
    /// it; MAC control frames (PAUSE) still reach the device at once, as they reach
    /// the MAC on silicon, so two ports that hold each other still pause their Tx.
    fn rx_held(&self) -> bool {
        false
    }
    /// Wall-clock timers of a device with timing off (virtio-net notification
    /// coalescing; with timing on they are model timers, see `next_timer`): the
    /// earliest deadline...
    fn next_deadline(&self) -> Option<Instant> {
        None
    }
    /// ...what to do when it passes...
    fn run_deadlines(&mut self) {}
    /// ...and who to tell when a new, earlier one is set, or when a Tx pass left
    /// work for later (see `has_deferred`).
    fn set_waker(&mut self, _wake: Waker) {}
    /// A doorbell's Tx pass ran out of its budget with descriptors left
    /// (`crate::doorbell`): the port's worker calls `run_deferred`, one budget per
    /// queue per call and the device released in between, until this is false.
    fn has_deferred(&self) -> bool {
        false
    }
    fn run_deferred(&mut self) {}
}

impl Personality for crate::igb::Igb {
    fn bar_sizes(&self) -> Vec<(u32, u64)> {
        vec![(0, crate::igb::BAR0_SIZE), (3, crate::igb::BAR3_SIZE)]
    }
    fn config_size(&self) -> u64 {
        crate::pci::CONFIG_SPACE_SIZE as u64
    }
    fn msix_vectors(&self) -> u32 {
        u32::from(crate::igb::regs::MSIX_VECTORS)
    }
    fn config_read(&mut self, off: u64, data: &mut [u8]) {
        crate::igb::Igb::config_read(self, off, data)
    }
    fn config_write(&mut self, off: u64, data: &[u8]) {
        crate::igb::Igb::config_write(self, off, data)
    }
    fn bar_read(&mut self, bar: u32, off: u64, data: &mut [u8]) {
        match bar {
            0 => self.mmio_read(off, data),
            _ => self.msix_bar_read(off, data),
        }
    }
    fn bar_write(&mut self, bar: u32, off: u64, data: &[u8]) {
        if bar == 0 {
            self.mmio_write(off, data)
        }
    }
    fn reset(&mut self) {
        crate::igb::Igb::reset(self)
    }
    fn contain_fault(&mut self) {
        crate::igb::Igb::contain_fault(self)
    }
    fn receive(&mut self, frame: &[u8]) {
        crate::igb::Igb::receive(self, frame)
    }
    fn counters(&self) -> CounterReport {
        CounterReport {
            device: DeviceCounters::Igb(crate::igb::Igb::counters(self).clone()),
            timing: self.timing_report(),
        }
    }
    fn model_time(&self) -> Option<Picos> {
        crate::igb::Igb::model_time(self)
    }
    fn next_timer(&self) -> Option<Picos> {
        crate::igb::Igb::next_timer(self)
    }
    fn run_timers(&mut self) {
        crate::igb::Igb::run_timers(self)
    }
    fn resume_tx(&mut self) {
        crate::igb::Igb::resume_tx(self)
    }
    fn rx_held(&self) -> bool {
        crate::igb::Igb::rx_held(self)
    }
    fn next_deadline(&self) -> Option<Instant> {
        crate::igb::Igb::next_deadline(self)
    }
    fn run_deadlines(&mut self) {
        crate::igb::Igb::run_deadlines(self)
    }
    fn set_waker(&mut self, wake: Waker) {
        crate::igb::Igb::set_waker(self, wake)
    }
    fn has_deferred(&self) -> bool {
        crate::igb::Igb::has_deferred(self)
    }
    fn run_deferred(&mut self) {
        crate::igb::Igb::run_deferred(self)
    }
}

impl Personality for crate::virtio_net::VirtioNet {
    fn bar_sizes(&self) -> Vec<(u32, u64)> {
        use crate::virtio_net::layout::*;
        vec![
            (u32::from(MSIX_BAR), MSIX_BAR_SIZE),
            (u32::from(VIRTIO_BAR), VIRTIO_BAR_SIZE),
        ]
    }
    fn config_size(&self) -> u64 {
        crate::pci::CONFIG_SPACE_SIZE as u64
    }
    fn msix_vectors(&self) -> u32 {
        u32::from(crate::virtio_net::VirtioNet::msix_vectors(self))
    }
    fn config_read(&mut self, off: u64, data: &mut [u8]) {
        crate::virtio_net::VirtioNet::config_read(self, off, data)
    }
    fn config_write(&mut self, off: u64, data: &[u8]) {
        crate::virtio_net::VirtioNet::config_write(self, off, data)
    }
    fn bar_read(&mut self, bar: u32, off: u64, data: &mut [u8]) {
        if bar == u32::from(crate::virtio_net::layout::VIRTIO_BAR) {
            crate::virtio_net::VirtioNet::bar_read(self, off, data)
        } else {
            // The MSI-X BAR: QEMU emulates table and PBA, what reaches us reads as 0.
            data.fill(0)
        }
    }
    fn bar_write(&mut self, bar: u32, off: u64, data: &[u8]) {
        if bar == u32::from(crate::virtio_net::layout::VIRTIO_BAR) {
            crate::virtio_net::VirtioNet::bar_write(self, off, data)
        }
    }
    fn reset(&mut self) {
        crate::virtio_net::VirtioNet::reset(self)
    }
    fn contain_fault(&mut self) {
        crate::virtio_net::VirtioNet::contain_fault(self)
    }
    fn receive(&mut self, frame: &[u8]) {
        crate::virtio_net::VirtioNet::receive(self, frame)
    }
    fn counters(&self) -> CounterReport {
        CounterReport {
            device: DeviceCounters::VirtioNet(crate::virtio_net::VirtioNet::counters(self).clone()),
            timing: self.timing_report(),
        }
    }
    fn model_time(&self) -> Option<Picos> {
        crate::virtio_net::VirtioNet::model_time(self)
    }
    fn next_timer(&self) -> Option<Picos> {
        crate::virtio_net::VirtioNet::next_timer(self)
    }
    fn run_timers(&mut self) {
        crate::virtio_net::VirtioNet::run_timers(self)
    }
    fn resume_tx(&mut self) {
        crate::virtio_net::VirtioNet::resume_tx(self)
    }
    fn next_deadline(&self) -> Option<Instant> {
        crate::virtio_net::VirtioNet::next_deadline(self)
    }
    fn run_deadlines(&mut self) {
        crate::virtio_net::VirtioNet::run_deadlines(self)
    }
    fn set_waker(&mut self, wake: Waker) {
        crate::virtio_net::VirtioNet::set_waker(self, wake)
    }
    fn has_deferred(&self) -> bool {
        crate::virtio_net::VirtioNet::has_deferred(self)
    }
    fn run_deferred(&mut self) {
        crate::virtio_net::VirtioNet::run_deferred(self)
    }
}

impl Personality for crate::i40e::I40e {
    fn bar_sizes(&self) -> Vec<(u32, u64)> {
        vec![(0, crate::i40e::BAR0_SIZE), (3, crate::i40e::BAR3_SIZE)]
    }
    fn config_size(&self) -> u64 {
        crate::pci::CONFIG_SPACE_SIZE as u64
    }
    fn msix_vectors(&self) -> u32 {
        u32::from(crate::i40e::regs::MSIX_VECTORS)
    }
    fn config_read(&mut self, off: u64, data: &mut [u8]) {
        crate::i40e::I40e::config_read(self, off, data)
    }
    fn config_write(&mut self, off: u64, data: &[u8]) {
        crate::i40e::I40e::config_write(self, off, data)
    }
    fn bar_read(&mut self, bar: u32, off: u64, data: &mut [u8]) {
        match bar {
            0 => self.mmio_read(off, data),
            // The MSI-X BAR: QEMU emulates table and PBA.
            _ => data.fill(0),
        }
    }
    fn bar_write(&mut self, bar: u32, off: u64, data: &[u8]) {
        if bar == 0 {
            self.mmio_write(off, data)
        }
    }
    fn reset(&mut self) {
        crate::i40e::I40e::reset(self)
    }
    fn contain_fault(&mut self) {
        crate::i40e::I40e::contain_fault(self)
    }
    fn receive(&mut self, frame: &[u8]) {
        crate::i40e::I40e::receive(self, frame)
    }
    fn counters(&self) -> CounterReport {
        CounterReport {
            device: DeviceCounters::I40e(crate::i40e::I40e::counters(self)),
            timing: None,
        }
    }
    fn set_waker(&mut self, wake: Waker) {
        crate::i40e::I40e::set_waker(self, wake)
    }
    fn has_deferred(&self) -> bool {
        crate::i40e::I40e::has_deferred(self)
    }
    fn run_deferred(&mut self) {
        crate::i40e::I40e::run_deferred(self)
    }
}

/// What one personality counts beyond its datasheet statistics (the evidence
/// that it did the work, and every frame or descriptor it refused).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(untagged)]
pub enum DeviceCounters {
    /// A device that counts nothing (test doubles).
    #[default]
    None,
    Igb(crate::igb::Counters),
    VirtioNet(crate::virtio_net::Counters),
    I40e(crate::i40e::Counters),
}

/// A device's counters and, when it is timed, its timing report. It serialises
/// flat: every counter a named number, the report under `timing`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CounterReport {
    #[serde(flatten)]
    pub device: DeviceCounters,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timing: Option<crate::timing::TimingReport>,
}
