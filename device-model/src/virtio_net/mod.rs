//! A modern virtio-net device (1AF4:1041, virtio 1.x over PCI) that the guest's
//! `virtio_net` driver binds to.
//!
//! BAR4 holds the virtio-pci structures (common configuration, ISR, device
//! configuration, notifications) that vendor capabilities in config space point at;
//! BAR1 holds the MSI-X table and PBA, which QEMU emulates. Queue 2k receives and
//! queue 2k+1 transmits for pair k (up to [`MAX_QUEUE_PAIRS`]); the control queue
//! follows the pairs. Guest memory is reached only through `DmaSpace`, offloads are
//! done by the offload engines (RSS hashing included), and a ring the guest corrupted
//! puts the device into NEEDS_RESET instead of being trusted.

mod coalesce;
mod common_cfg;
mod counters;
mod ctrl;
mod device_stats;
mod features;
pub mod layout;
mod net_hdr;
mod queue;
mod rx;
mod rx_filter;
mod steering;
mod timed;
mod tx;

use std::collections::VecDeque;
use std::mem::{offset_of, size_of};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dma::DmaSpace;
use offload_engines::cost::Picos;
use offload_engines::segment::Segmenter;
use virtio_bindings::virtio_config::{
    VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_CONFIG_S_FAILED, VIRTIO_CONFIG_S_FEATURES_OK,
    VIRTIO_CONFIG_S_NEEDS_RESET, VIRTIO_F_RING_PACKED,
};
use virtio_bindings::virtio_net::{
    virtio_net_config, VIRTIO_NET_F_CTRL_VLAN, VIRTIO_NET_F_HASH_REPORT, VIRTIO_NET_F_MQ,
    VIRTIO_NET_F_RSS, VIRTIO_NET_S_LINK_UP,
};
use virtio_bindings::virtio_ring::VIRTIO_RING_F_EVENT_IDX;

pub use counters::{Counters, ERROR_COUNTERS};
pub use features::OFFERED as OFFERED_FEATURES;
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use features::{bit as feature_bit, NEED_CSUM, NEED_CTRL_VQ};
pub use features::{VIRTIO_NET_F_HOST_UDP_TUNNEL_GSO, VIRTIO_NET_F_HOST_UDP_TUNNEL_GSO_CSUM};
pub use net_hdr::{
    NetHdr, HASH_HDR_LEN as NET_HASH_HDR_LEN, HDR_LEN as NET_HDR_LEN,
    TUNNEL_HDR_LEN as NET_TUNNEL_HDR_LEN,
};
pub use queue::MAX_QUEUE_SIZE;

use crate::irq::IrqSink;
use crate::pci::{BarKind, ConfigSpace, PciIdentity};
use crate::timing::{DeviceTiming, TimingConfig, Waker};
use crate::wire::FrameSink;
use coalesce::Coalescer;
use features::Features;
use layout::*;
use queue::{QueueError, Virtqueue};
use rx_filter::RxFilter;
use steering::Steering;

pub const VENDOR_ID: u16 = 0x1af4;
/// 0x1040 + the virtio device type (1, network): a modern-only device.
pub const DEVICE_ID: u16 = 0x1041;
/// Receive/transmit queue pairs offered (`max_virtqueue_pairs`).
pub const MAX_QUEUE_PAIRS: u16 = 4;
/// Every virtqueue: the pairs, then the control queue.
const QUEUES: u16 = 2 * MAX_QUEUE_PAIRS + 1;

/// What one port is built with.
#[derive(Debug, Clone)]
pub struct VirtioNetConfig {
    pub mac: [u8; 6],
    /// Advertised in the device configuration; Linux takes it as both MTU and max MTU.
    pub mtu: u16,
    /// Link speed in Mbit/s for SPEED_DUPLEX (full duplex always).
    pub speed_mbps: u32,
    /// Offer VIRTIO_F_RING_PACKED, so the driver uses packed virtqueues.
    pub packed_ring: bool,
    /// The timing model, as for igb (off by default).
    pub timing: TimingConfig,
}

impl Default for VirtioNetConfig {
    fn default() -> Self {
        Self {
            mac: [0x52, 0x54, 0x00, 0x12, 0x34, 0x56],
            // Jumbo frames, as the 82576 takes them; the guest starts at this MTU
            // and can lower it.
            mtu: 9000,
            speed_mbps: 1000,
            packed_ring: false,
            timing: TimingConfig::default(),
        }
    }
}

/// A virtio-net PCI function.
pub struct VirtioNet {
    cfg: VirtioNetConfig,
    config: ConfigSpace,
    pcie_cap: usize,
    dma: Arc<DmaSpace>,
    irq: Arc<dyn IrqSink>,
    wire: Box<dyn FrameSink>,
    features: Features,
    status: u8,
    config_generation: u8,
    config_msix_vector: u16,
    queue_select: u16,
    queues: Vec<Virtqueue>,
    isr: u8,
    link_up: bool,
    /// The address the device filters on: the configured one until the driver sets
    /// another (CTRL_MAC_ADDR).
    mac: [u8; 6],
    filter: RxFilter,
    steering: Steering,
    /// Queue pairs the driver uses (VQ_PAIRS_SET or RSS `max_tx_vq`).
    active_pairs: u16,
    /// Frames waiting for receive buffers, per queue pair, and their bytes.
    rx_backlog: Vec<VecDeque<Vec<u8>>>,
    rx_backlog_bytes: Vec<usize>,
    segmenter: Segmenter,
    scratch: Vec<u8>,
    counters: Counters,
    /// DEVICE_STATS: the counts the driver reads through the control queue.
    device_stats: device_stats::DeviceStats,
    /// Per queue: notifications held back (NOTF_COAL).
    coalesce: Vec<Coalescer>,
    /// Tells the port's worker that a coalescing deadline was set.
    wake: Option<Waker>,
    /// Transmit queues left with chains after their pass's budget ran out.
    deferred: crate::doorbell::DeferredTx,
    /// Queue pairs whose Tx stopped because the wire had no room (bit per pair).
    wire_stalled: u32,
    /// Zero of the coalescing clock when timing is off (see [`Self::coalesce_now`]).
    epoch: Instant,
    /// `None` with timing off; the ledger counts per queue pair.
    timing: Option<Box<DeviceTiming>>,
}

impl VirtioNet {
    pub fn new(
        cfg: VirtioNetConfig,
        dma: Arc<DmaSpace>,
        irq: Arc<dyn IrqSink>,
        wire: Box<dyn FrameSink>,
    ) -> Self {
        let (config, pcie_cap) = Self::build_config();
        let pairs = usize::from(MAX_QUEUE_PAIRS);
        let offered = features::offered(cfg.packed_ring);
        let timing = DeviceTiming::new(&cfg.timing, usize::from(1 + QUEUES), pairs).map(Box::new);
        Self {
            timing,
            mac: cfg.mac,
            cfg,
            config,
            pcie_cap,
            dma,
            irq,
            wire,
            features: Features::new(offered),
            status: 0,
            config_generation: 0,
            config_msix_vector: VIRTIO_MSI_NO_VECTOR,
            queue_select: 0,
            queues: vec![Virtqueue::default(); usize::from(QUEUES)],
            isr: 0,
            link_up: true,
            filter: RxFilter::new(false),
            steering: Steering::default(),
            active_pairs: 1,
            rx_backlog: vec![VecDeque::new(); pairs],
            rx_backlog_bytes: vec![0; pairs],
            segmenter: Segmenter::new(),
            scratch: Vec::new(),
            counters: Counters {
                rx_queue_packets: vec![0; pairs],
                ..Counters::default()
            },
            device_stats: device_stats::DeviceStats::new(pairs),
            coalesce: vec![Coalescer::default(); usize::from(QUEUES)],
            wake: None,
            deferred: crate::doorbell::DeferredTx::default(),
            wire_stalled: 0,
            epoch: Instant::now(),
        }
    }

    /// Config space and the offset of its PCIe capability.
    fn build_config() -> (ConfigSpace, usize) {
        let mut c = ConfigSpace::new(PciIdentity {
            vendor: VENDOR_ID,
            device: DEVICE_ID,
            // Revision 1 or higher: no legacy (transitional) interface.
            revision: 0x01,
            class: [0x02, 0x00, 0x00],
            subsystem_vendor: VENDOR_ID,
            subsystem: 0x1100,
        });
        c.bar(usize::from(MSIX_BAR), BarKind::Mem32, MSIX_BAR_SIZE as u32);
        c.bar(
            usize::from(VIRTIO_BAR),
            BarKind::Mem32,
            VIRTIO_BAR_SIZE as u32,
        );
        c.add_power_management();
        let queues = QUEUES;
        c.add_msix(
            1 + queues,
            MSIX_BAR,
            MSIX_TABLE_OFFSET,
            MSIX_BAR,
            MSIX_PBA_OFFSET,
        );
        c.add_vendor_specific(&cap_body(
            VIRTIO_PCI_CAP_COMMON_CFG,
            COMMON_OFFSET,
            REGION_LEN,
        ));
        c.add_vendor_specific(&notify_cap_body(queues));
        c.add_vendor_specific(&cap_body(VIRTIO_PCI_CAP_ISR_CFG, ISR_OFFSET, REGION_LEN));
        c.add_vendor_specific(&cap_body(
            VIRTIO_PCI_CAP_DEVICE_CFG,
            DEVICE_CFG_OFFSET,
            REGION_LEN,
        ));
        let pcie = c.add_pcie_endpoint(1, 1, 256);
        (c, pcie)
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The device status byte (ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK, NEEDS_RESET, FAILED).
    pub fn status(&self) -> u8 {
        self.status
    }

    /// One MSI-X vector for configuration changes, then one per queue.
    pub fn msix_vectors(&self) -> u16 {
        1 + QUEUES
    }

    /// The control queue's index: after the pairs the driver can use, which is one
    /// pair unless MQ or RSS was negotiated (5.1.2).
    fn ctrl_queue(&self) -> usize {
        let multi = self.features.has(VIRTIO_NET_F_MQ) || self.features.has(VIRTIO_NET_F_RSS);
        2 * usize::from(if multi { MAX_QUEUE_PAIRS } else { 1 })
    }

    /// Length of the `virtio_net_hdr` ahead of every frame, both directions.
    /// The net header of both directions: the tunnel header once UDP tunnel
    /// segmentation is negotiated (its hash fields are there even without
    /// HASH_REPORT), else the hash header with HASH_REPORT, else the plain one.
    fn hdr_len(&self) -> usize {
        if self
            .features
            .has(features::VIRTIO_NET_F_HOST_UDP_TUNNEL_GSO)
            || self
                .features
                .has(features::VIRTIO_NET_F_GUEST_UDP_TUNNEL_GSO)
        {
            NET_TUNNEL_HDR_LEN
        } else if self.features.has(VIRTIO_NET_F_HASH_REPORT) {
            NET_HASH_HDR_LEN
        } else {
            NET_HDR_LEN
        }
    }

    /// CTRL_MAC_ADDR: the driver's address replaces the configured one until reset.
    fn set_mac(&mut self, mac: [u8; 6]) {
        self.mac = mac;
    }

    pub fn config_read(&self, off: u64, data: &mut [u8]) {
        self.config.read(off, data);
    }

    pub fn config_write(&mut self, off: u64, data: &[u8]) {
        self.config.write(off, data);
        // PCIe Device Control bit 15, Initiate Function Level Reset.
        let devctl = self.pcie_cap + 8;
        if self.config.get16(devctl) & (1 << 15) != 0 {
            self.config
                .set16(devctl, self.config.get16(devctl) & !(1 << 15));
            self.device_reset();
        }
        // Unmasking INTx (Command bit 10) with the ISR still set asserts the pin again.
        if self.isr != 0 && !self.irq.msix_enabled() && self.config.intx_condition(true) {
            self.irq.legacy(true);
        }
    }

    /// Whole-function reset (vfio-user DEVICE_RESET): as a power-on.
    pub fn reset(&mut self) {
        (self.config, self.pcie_cap) = Self::build_config();
        self.device_reset();
    }

    /// Device reset (status 0 written, 2.4): features, queues and pending work are gone.
    fn device_reset(&mut self) {
        self.counters.resets += 1;
        self.features = Features::new(features::offered(self.cfg.packed_ring));
        self.status = 0;
        self.config_msix_vector = VIRTIO_MSI_NO_VECTOR;
        self.queue_select = 0;
        self.queues.iter_mut().for_each(Virtqueue::reset);
        if self.isr != 0 {
            self.isr = 0;
            self.config.intx_condition(false);
            self.irq.legacy(false);
        }
        self.rx_backlog.iter_mut().for_each(VecDeque::clear);
        self.rx_backlog_bytes.fill(0);
        self.wire_stalled = 0;
        self.mac = self.cfg.mac;
        self.filter = RxFilter::new(false);
        self.steering = Steering::default();
        self.active_pairs = 1;
        self.coalesce.fill(Coalescer::default());
        self.deferred.clear();
        if let Some(t) = self.timing.as_mut() {
            t.reset();
        }
    }

    /// Called when a coalescing deadline is set, so the caller of
    /// [`Self::run_deadlines`] wakes up for it.
    pub fn set_waker(&mut self, wake: Waker) {
        self.deferred.set_waker(wake.clone());
        self.wake = Some(wake);
    }

    /// Whether a Tx pass ran out of budget with chains left.
    pub fn has_deferred(&self) -> bool {
        self.deferred.any()
    }

    /// Resumes the deferred transmit queues, one budget each.
    pub fn run_deferred(&mut self) {
        for q in self.deferred.take() {
            self.queue_notified(q);
        }
        // A resumed queue the driver stopped meanwhile ends its doorbell unplayed.
        if !self.deferred.any() {
            self.flush_timed_tx();
        }
    }

    /// The clock notification coalescing runs on: model time with timing on (the
    /// deadlines are then timers of the model, see `timed.rs`), else wall-clock time
    /// since the device was created.
    fn coalesce_now(&self) -> Picos {
        match &self.timing {
            Some(t) => t.now(),
            None => {
                Picos::from_ns(u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX))
            }
        }
    }

    /// The earliest held notification's deadline (wall clock), with timing off;
    /// with timing on the deadlines are model timers ([`Self::next_timer`]).
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.timing.is_some() {
            return None;
        }
        let at = self.next_coalesce_deadline()?;
        // Rounded up: waking before the deadline would find nothing due.
        Some(self.epoch + Duration::from_nanos(at.as_ps().div_ceil(1000)))
    }

    fn next_coalesce_deadline(&self) -> Option<Picos> {
        self.coalesce.iter().filter_map(Coalescer::deadline).min()
    }

    /// Sends the held notifications whose time has come.
    pub fn run_deadlines(&mut self) {
        let now = self.coalesce_now();
        for q in 0..self.coalesce.len() {
            if self.coalesce[q].due(now) {
                self.counters.notifications_coalesced += 1;
                self.queue_interrupt(q);
            }
        }
    }

    /// Queue `q` published used buffers and the driver wants to be told: now, or
    /// when coalescing lets it.
    fn queue_used(&mut self, q: usize) {
        let used = u32::from(self.queues[q].last_published);
        let armed = self.coalesce[q].deadline().is_some();
        let now = self.coalesce_now();
        if self.coalesce[q].on_used(used, now) {
            self.queue_interrupt(q);
        } else if !armed {
            self.wake_worker();
        }
    }

    /// A coalescing deadline was set that the port's worker may not know of yet.
    fn wake_worker(&self) {
        if let Some(wake) = &self.wake {
            wake();
        }
    }

    /// The driver finished setting up and nothing went wrong since.
    fn live(&self) -> bool {
        let s = u32::from(self.status);
        s & VIRTIO_CONFIG_S_DRIVER_OK != 0
            && s & VIRTIO_CONFIG_S_FEATURES_OK != 0
            && s & (VIRTIO_CONFIG_S_NEEDS_RESET | VIRTIO_CONFIG_S_FAILED) == 0
    }

    /// DRIVER_OK: features are final, rings are checked once, then work that waited
    /// is done.
    fn activate(&mut self) {
        self.filter = RxFilter::new(self.features.has(VIRTIO_NET_F_CTRL_VLAN));
        let event_idx = self.features.has(VIRTIO_RING_F_EVENT_IDX);
        let packed = self.features.has(VIRTIO_F_RING_PACKED);
        for q in 0..self.queues.len() {
            self.queues[q].event_idx = event_idx;
            self.queues[q].packed = packed;
            if self.queues[q].enabled {
                self.check_queue(q);
            }
        }
        for q in 0..self.queues.len() {
            self.queue_notified(q);
        }
    }

    fn check_queue(&mut self, q: usize) {
        if let Err(e) = self.queues[q].validate(&self.dma) {
            self.queue_failed(q, e);
        }
    }

    /// A ring violation: the device stops using its queues until the driver resets it
    /// (2.1.2), and says so with a configuration change.
    fn queue_failed(&mut self, q: usize, e: QueueError) {
        self.counters.queue_errors += 1;
        tracing::warn!(queue = q, error = %e, "virtqueue error: device needs reset");
        self.needs_reset();
    }

    /// A device-model bug was contained (a panic in one operation): the device
    /// stops using its queues and asks for a reset (2.1.2), as for a ring violation.
    pub fn contain_fault(&mut self) {
        self.counters.device_faults += 1;
        self.needs_reset();
    }

    fn needs_reset(&mut self) {
        if self.status & VIRTIO_CONFIG_S_NEEDS_RESET as u8 == 0 {
            self.status |= VIRTIO_CONFIG_S_NEEDS_RESET as u8;
            if self.status & VIRTIO_CONFIG_S_DRIVER_OK as u8 != 0 {
                self.config_interrupt();
            }
        }
    }

    /// The driver kicked queue `q`.
    fn queue_notified(&mut self, q: usize) {
        if !self.live() || !self.queues.get(q).is_some_and(|q| q.enabled) {
            return;
        }
        let ctrl = self.ctrl_queue();
        if q == ctrl {
            self.ctrl_process(q);
        } else if q < ctrl && q.is_multiple_of(2) {
            self.drain_rx_backlog(q / 2);
        } else if q < ctrl {
            self.tx_process(q);
        }
    }

    fn queue_interrupt(&mut self, q: usize) {
        let vector = self.queues[q].msix_vector;
        self.interrupt(vector, ISR_QUEUE);
    }

    fn config_interrupt(&mut self) {
        self.interrupt(self.config_msix_vector, ISR_CONFIG);
    }

    /// MSI-X when the guest enabled it (a NO_VECTOR source stays silent), else the ISR
    /// bit and INTx.
    fn interrupt(&mut self, vector: u16, isr: u8) {
        if self.irq.msix_enabled() {
            if vector != VIRTIO_MSI_NO_VECTOR {
                self.irq.msix(vector);
            }
        } else {
            self.isr |= isr;
            // Each interrupt signals again while the ISR is unread (the line's holder
            // acknowledges by reading it); Command bit 10 holds the pin back.
            if self.config.intx_condition(true) {
                self.irq.legacy(true);
            }
        }
    }

    /// The wire came up or went down.
    pub fn set_link(&mut self, up: bool) {
        if self.link_up != up {
            self.link_up = up;
            self.config_generation = self.config_generation.wrapping_add(1);
            if self.status & VIRTIO_CONFIG_S_DRIVER_OK as u8 != 0 {
                self.config_interrupt();
            }
        }
    }

    /// `struct virtio_net_config` as the driver reads it.
    fn device_config(&self) -> [u8; size_of::<virtio_net_config>()] {
        let mut b = [0u8; size_of::<virtio_net_config>()];
        let mut put = |off: usize, v: &[u8]| b[off..off + v.len()].copy_from_slice(v);
        let status = if self.link_up {
            VIRTIO_NET_S_LINK_UP as u16
        } else {
            0
        };
        put(offset_of!(virtio_net_config, mac), &self.mac);
        put(offset_of!(virtio_net_config, status), &status.to_le_bytes());
        put(
            offset_of!(virtio_net_config, max_virtqueue_pairs),
            &MAX_QUEUE_PAIRS.to_le_bytes(),
        );
        put(
            offset_of!(virtio_net_config, mtu),
            &self.cfg.mtu.to_le_bytes(),
        );
        put(
            offset_of!(virtio_net_config, speed),
            &self.cfg.speed_mbps.to_le_bytes(),
        );
        put(offset_of!(virtio_net_config, duplex), &[1]);
        put(
            offset_of!(virtio_net_config, rss_max_key_size),
            &[steering::MAX_KEY_LEN],
        );
        put(
            offset_of!(virtio_net_config, rss_max_indirection_table_length),
            &steering::MAX_TABLE_LEN.to_le_bytes(),
        );
        put(
            offset_of!(virtio_net_config, supported_hash_types),
            &steering::SUPPORTED_HASH_TYPES.to_le_bytes(),
        );
        b
    }

    /// A guest read of the virtio BAR: any size or alignment.
    pub fn bar_read(&mut self, off: u64, data: &mut [u8]) {
        data.fill(0);
        let (region, rel) = (off / REGION_LEN, off % REGION_LEN);
        match region * REGION_LEN {
            COMMON_OFFSET => self.common_read(rel, data),
            // A read of no bytes reads nothing, so it clears nothing.
            ISR_OFFSET if rel == 0 && !data.is_empty() => {
                // Read-to-clear, and it deasserts INTx (4.1.4.5).
                data[0] = std::mem::take(&mut self.isr);
                self.config.intx_condition(false);
                self.irq.legacy(false);
            }
            DEVICE_CFG_OFFSET => {
                let cfg = self.device_config();
                for (i, b) in data.iter_mut().enumerate() {
                    *b = cfg.get(rel as usize + i).copied().unwrap_or(0);
                }
            }
            _ => {}
        }
    }

    /// A guest write to the virtio BAR. The device configuration is read-only.
    pub fn bar_write(&mut self, off: u64, data: &[u8]) {
        let (region, rel) = (off / REGION_LEN, off % REGION_LEN);
        match region * REGION_LEN {
            COMMON_OFFSET => self.common_write(rel, data),
            NOTIFY_OFFSET => {
                let q = rel / u64::from(NOTIFY_OFF_MULTIPLIER);
                self.queue_notified(q as usize);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
