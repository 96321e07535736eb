//! The timing options of a port (`--timing`, `--link-speed`, `--pcie`, `--trace`)
//! and what they become in the device.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use device_model::timing::{parse_link_speed, parse_pcie, TimingMode, TraceWriter};
use offload_engines::cost::{Generation, LinkSpeed, LinkWidth, Params};

/// `--timing`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum TimingArg {
    /// No model: frames leave as fast as tunic runs.
    #[default]
    Off,
    /// Frames leave at their modelled times in real time, with Tx back-pressure.
    Paced,
    /// Modelled times on a virtual clock, no waiting (deterministic).
    Virtual,
}

impl From<TimingArg> for TimingMode {
    fn from(t: TimingArg) -> TimingMode {
        match t {
            TimingArg::Off => TimingMode::Off,
            TimingArg::Paced => TimingMode::Paced,
            TimingArg::Virtual => TimingMode::Virtual,
        }
    }
}

/// Timing options shared by `serve` and the commands that boot a guest on a wired pair.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct TimingArgs {
    /// Timing model: off, paced or virtual (see docs/timing.md).
    #[arg(long, value_enum, default_value = "off")]
    pub timing: TimingArg,
    /// Modelled port speed with --timing paced or virtual: 10m, 100m, 1g, 10g, 25g or 100g.
    #[arg(long, value_parser = parse_link_speed)]
    pub link_speed: Option<LinkSpeed>,
    /// Modelled PCIe link, e.g. gen2x4 (gen1..gen5, x1..x16; default the 82576's gen2x4).
    #[arg(long, value_parser = parse_pcie)]
    pub pcie: Option<(Generation, LinkWidth)>,
    /// Write one JSON line per packet (stages, costs, departure time) to FILE.
    #[arg(long)]
    pub trace: Option<PathBuf>,
}

impl TimingArgs {
    pub fn paced(speed: LinkSpeed) -> TimingArgs {
        TimingArgs {
            timing: TimingArg::Paced,
            link_speed: Some(speed),
            ..TimingArgs::default()
        }
    }

    pub fn params(&self) -> Params {
        let mut p = Params {
            speed: self.link_speed.unwrap_or(LinkSpeed::Gbps1),
            ..Params::default()
        };
        if let Some((generation, width)) = self.pcie {
            p.pcie.generation = generation;
            p.pcie.width = width;
        }
        p
    }

    /// Refuses link options without a model to apply them to.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.timing == TimingArg::Off && (self.link_speed.is_some() || self.pcie.is_some()) {
            anyhow::bail!(
                "--link-speed and --pcie model a link: use them with --timing paced or virtual"
            );
        }
        Ok(())
    }

    /// The per-port part, with the trace file opened once for all ports.
    pub fn port_timing(&self) -> anyhow::Result<PortTiming> {
        let trace: Option<TraceWriter> = match &self.trace {
            None => None,
            Some(path) => {
                let f = File::create(path)
                    .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))?;
                Some(Arc::new(Mutex::new(BufWriter::new(f))))
            }
        };
        Ok(PortTiming {
            mode: self.timing.into(),
            params: self.params(),
            trace,
        })
    }
}

/// What a port is timed with.
#[derive(Clone, Default)]
pub struct PortTiming {
    pub mode: TimingMode,
    pub params: Params,
    pub trace: Option<TraceWriter>,
}
