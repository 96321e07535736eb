//! What tunic saw the X710 do beyond its statistics registers: evidence for
//! conformance cases and the reasons commands, descriptors or frames were refused.

use serde::Serialize;

#[derive(Debug, Default, Clone, Serialize)]
pub struct Counters {
    pub resets: u64,
    pub aq_commands: u64,
    /// Admin commands answered with an error (unknown opcodes included).
    pub aq_errors: u64,
    /// ARQ events dropped because the driver posted no descriptor for them.
    pub aq_events_dropped: u64,
    pub nvm_bad_reads: u64,
    /// Queue enables whose context could not be read from the HMC.
    pub hmc_errors: u64,
    /// Operations in which the device model itself failed (a contained panic): a
    /// tunic bug, never the driver's; the device stopped its queues.
    pub device_faults: u64,
    pub rx_link_down_drops: u64,
    #[serde(flatten)]
    pub tx: super::tx::TxCounters,
    #[serde(flatten)]
    pub rx: super::rx::RxCounters,
}

/// What a correct driver never makes the device count: refused TSO and checksum
/// requests, DMA outside guest memory, unknown descriptors, ring violations, queue
/// contexts the HMC could not give and bad NVM reads. (Admin commands answered with an
/// error are left out: the drivers probe for commands the model answers ESRCH.)
/// `tunic conformance`'s `device-errors` sums them.
pub const ERROR_COUNTERS: &[&str] = &[
    "tso_errors",
    "tx_csum_errors",
    "tx_dma_errors",
    "tx_bad_descriptors",
    "rx_dma_errors",
    "rx_ring_errors",
    "hmc_errors",
    "nvm_bad_reads",
    "device_faults",
];
