//! Builds a personality from its kind, so that the transport and the harness
//! never name a concrete device: a new personality is one folder plus one arm here.

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use dma::DmaSpace;

use crate::i40e::{I40e, I40eConfig};
use crate::igb::{Igb, IgbConfig};
use crate::irq::IrqSink;
use crate::personality::Personality;
use crate::timing::{TimingConfig, TimingMode};
use crate::virtio_net::{VirtioNet, VirtioNetConfig};
use crate::wire::FrameSink;

/// The device personalities tunic can serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Intel 82576 (8086:10C9), Linux `igb`.
    Igb,
    /// Modern virtio-net (1AF4:1041), Linux `virtio_net`, split virtqueues.
    VirtioNet,
    /// The same virtio-net device offering packed virtqueues (VIRTIO_F_RING_PACKED).
    VirtioNetPacked,
    /// Intel X710 10 GbE (8086:1572), Linux `i40e`.
    I40e,
}

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::Igb,
        Kind::VirtioNet,
        Kind::VirtioNetPacked,
        Kind::I40e,
    ];

    /// The name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Igb => "igb",
            Kind::VirtioNet => "virtio-net",
            Kind::VirtioNetPacked => "virtio-net-packed",
            Kind::I40e => "i40e",
        }
    }

    /// One line for `--help`.
    pub fn help(self) -> &'static str {
        match self {
            Kind::Igb => "Intel 82576 (8086:10C9), Linux igb",
            Kind::VirtioNet => "modern virtio-net (1AF4:1041), Linux virtio_net, split virtqueues",
            Kind::VirtioNetPacked => "the virtio-net device offering packed virtqueues",
            Kind::I40e => "Intel X710 10 GbE (8086:1572), Linux i40e",
        }
    }

    /// The guest kernel module that binds to it.
    pub fn guest_driver(self) -> &'static str {
        match self {
            Kind::Igb => "igb",
            Kind::VirtioNet | Kind::VirtioNetPacked => "virtio_net",
            Kind::I40e => "i40e",
        }
    }

    /// The device family whose snapshots and conformance cases it shares.
    pub fn family(self) -> &'static str {
        match self {
            Kind::VirtioNetPacked => "virtio-net",
            k => k.name(),
        }
    }

    /// Whether the personality runs on the timing model.
    pub fn timed(self) -> bool {
        !matches!(self, Kind::I40e)
    }

    /// The fastest link the device can report, in Mb/s.
    pub fn max_speed_mbps(self) -> u64 {
        match self {
            Kind::Igb => 1_000,
            Kind::I40e => 10_000,
            Kind::VirtioNet | Kind::VirtioNetPacked => u64::from(u32::MAX),
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FactoryError {
    #[error("unknown personality {0:?}: choose one of igb, virtio-net, virtio-net-packed, i40e")]
    Unknown(String),
    #[error("the {0} personality has no timing model yet: run it with --timing off")]
    NoTiming(Kind),
}

impl FromStr for Kind {
    type Err = FactoryError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| FactoryError::Unknown(s.to_string()))
    }
}

/// What every port is built with, whatever its personality.
pub struct PortConfig {
    pub mac: [u8; 6],
    /// Link speed the device reports where it reports one (virtio-net).
    pub speed_mbps: u32,
    pub timing: TimingConfig,
}

/// The device of `kind`, behind the `Personality` face the transport uses.
pub fn build(
    kind: Kind,
    cfg: PortConfig,
    dma: Arc<DmaSpace>,
    irq: Arc<dyn IrqSink>,
    wire: Box<dyn FrameSink>,
) -> Result<Arc<Mutex<dyn Personality>>, FactoryError> {
    if !kind.timed() && cfg.timing.mode != TimingMode::Off {
        return Err(FactoryError::NoTiming(kind));
    }
    Ok(match kind {
        Kind::Igb => Arc::new(Mutex::new(Igb::new(
            IgbConfig {
                mac: cfg.mac,
                timing: cfg.timing,
                autoneg_time: crate::igb::phy::AUTONEG_TIME,
            },
            dma,
            irq,
            wire,
        ))),
        Kind::VirtioNet | Kind::VirtioNetPacked => Arc::new(Mutex::new(VirtioNet::new(
            VirtioNetConfig {
                mac: cfg.mac,
                speed_mbps: cfg.speed_mbps,
                packed_ring: kind == Kind::VirtioNetPacked,
                timing: cfg.timing,
                ..VirtioNetConfig::default()
            },
            dma,
            irq,
            wire,
        ))),
        Kind::I40e => Arc::new(Mutex::new(I40e::new(
            I40eConfig {
                mac: cfg.mac,
                timing: cfg.timing,
            },
            dma,
            irq,
            wire,
        ))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for k in Kind::ALL {
            assert_eq!(k.name().parse::<Kind>(), Ok(k));
        }
        assert!(matches!(
            "e1000".parse::<Kind>(),
            Err(FactoryError::Unknown(_))
        ));
    }

    #[test]
    fn every_kind_builds_and_shows_its_bars() {
        for k in Kind::ALL {
            let dev = build(
                k,
                PortConfig {
                    mac: [2, 0, 0, 0, 0, 1],
                    speed_mbps: 1000,
                    timing: TimingConfig::default(),
                },
                Arc::new(DmaSpace::new()),
                Arc::new(crate::NoIrq),
                Box::new(crate::NullSink),
            )
            .unwrap();
            assert!(!dev.lock().unwrap().bar_sizes().is_empty(), "{k}");
        }
    }
}
