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
    pub rx_link_down_drops: u64,
    #[serde(flatten)]
    pub tx: super::tx::TxCounters,
    #[serde(flatten)]
    pub rx: super::rx::RxCounters,
}
