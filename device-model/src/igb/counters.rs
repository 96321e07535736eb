//! What tunic saw the device do, beyond the datasheet's statistics registers:
//! the evidence conformance cases check (e.g. that TSO contexts with tunnel-length
//! headers were processed) and the reasons frames or descriptors were refused.

use serde::Serialize;

#[derive(Debug, Default, Clone, Serialize)]
pub struct Counters {
    pub tx_frames: u64,
    /// Tx descriptors fetched from guest rings (work done on the guest's behalf).
    pub tx_descriptors: u64,
    pub tx_bytes: u64,
    pub rx_frames: u64,
    /// Rx descriptors filled and written back.
    pub rx_descriptors: u64,
    pub rx_bytes: u64,
    pub tso_packets: u64,
    pub tso_segments: u64,
    /// TSO contexts whose IPLEN spans more than any single IPv4 header (60 bytes):
    /// the GSO_PARTIAL form Linux uses for GRE/NVGRE tunnels.
    pub tso_tunnel_headers: u64,
    /// Of `tso_packets`, UDP segmentation (TUCMD.L4T = UDP): Linux's USO.
    pub tso_udp: u64,
    pub tso_errors: u64,
    pub tx_csum_offloads: u64,
    pub tx_csum_errors: u64,
    pub tx_dma_errors: u64,
    pub tx_bad_descriptors: u64,
    pub tx_oversize_dropped: u64,
    pub rx_dma_errors: u64,
    pub rx_no_descriptor_drops: u64,
    pub rx_fifo_overflow_drops: u64,
    /// Frames waiting in the receive FIFO when a reset emptied it.
    pub rx_reset_drops: u64,
    pub rx_filtered: u64,
    pub rx_oversize_dropped: u64,
    pub rx_disabled_drops: u64,
    pub rx_csum_good: u64,
    pub rx_csum_bad: u64,
    pub rx_rss_hashed: u64,
    pub loopback_frames: u64,
    /// 802.3x: PAUSE frames sent (XOFF when the receive buffer passed its high
    /// mark, and its refreshes; XON when it drained) and received with CTRL.RFCE.
    pub fc_xoff_sent: u64,
    pub fc_xon_sent: u64,
    pub fc_xoff_received: u64,
    pub fc_xon_received: u64,
    /// Tx queues that stopped fetching descriptors: paused by the link partner,
    /// or the wire could take no more (back-pressure, not loss).
    pub tx_paused_stops: u64,
    pub tx_wire_full_stops: u64,
    /// Tx passes that stopped at their budget with descriptors left, resumed by the
    /// port's worker (`doorbell`): work, not an error.
    pub tx_deferred_passes: u64,
    pub irq_unrouted: u64,
    /// BAR0 accesses by the register table's class: what the driver spends its
    /// MMIO round trips on (`tunic stats --rate` turns them into rates).
    pub mmio_doorbell_writes: u64,
    pub mmio_interrupt_accesses: u64,
    pub mmio_statistics_reads: u64,
    pub mmio_other_accesses: u64,
    pub ring_errors: u64,
    pub resets: u64,
    /// Operations in which the device model itself failed (a contained panic): a
    /// tunic bug, never the driver's; the device stopped its queues.
    pub device_faults: u64,
}

/// What a correct driver never makes the device count: refused TSO contexts and checksum
/// requests, DMA outside guest memory, unknown descriptors, oversize frames, ring
/// violations and interrupts without a route. `tunic conformance`'s `device-errors` sums them.
pub const ERROR_COUNTERS: &[&str] = &[
    "tso_errors",
    "tx_csum_errors",
    "tx_dma_errors",
    "tx_bad_descriptors",
    "tx_oversize_dropped",
    "rx_dma_errors",
    "ring_errors",
    "irq_unrouted",
    "device_faults",
];
