//! The timing options of a port (`--timing`, `--link-speed`, `--pcie`, `--trace`)
//! and what they become in the device.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use device_model::timing::{TimingMode, TraceWriter};
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

    /// These options as an override of the untimed default: one place decides
    /// what a port's timing is, for `--timing` and for `--port ...,timing=` alike.
    fn as_override(&self) -> TimingOverride {
        TimingOverride {
            mode: Some(self.timing),
            link_speed: self.link_speed,
            pcie: self.pcie,
        }
    }

    /// Refuses link options without a model to apply them to.
    pub fn check(&self) -> anyhow::Result<()> {
        self.as_override().apply(&PortTiming::default()).map(|_| ())
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
        self.as_override().apply(&PortTiming {
            trace,
            ..PortTiming::default()
        })
    }
}

/// A port's own timing where it differs from the topology's: `--port
/// ...,timing=paced,link-speed=10g,pcie=gen3x8`. Ports of one topology can then
/// run at different speeds, or one be timed and another (an X710) not.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimingOverride {
    pub mode: Option<TimingArg>,
    pub link_speed: Option<LinkSpeed>,
    pub pcie: Option<(Generation, LinkWidth)>,
}

impl TimingOverride {
    /// `shared` with these choices applied; the trace file stays shared. Link
    /// options whose timing ends up off are refused: they model nothing.
    pub fn apply(&self, shared: &PortTiming) -> anyhow::Result<PortTiming> {
        let mode = self.mode.map_or(shared.mode, TimingMode::from);
        if mode == TimingMode::Off && (self.link_speed.is_some() || self.pcie.is_some()) {
            anyhow::bail!(
                "link speed and PCIe options model a link: use them with --timing paced or virtual, or timing=paced or virtual on the --port"
            );
        }
        let mut t = shared.clone();
        t.mode = mode;
        if let Some(speed) = self.link_speed {
            t.params.speed = speed;
        }
        if let Some((generation, width)) = self.pcie {
            t.params.pcie.generation = generation;
            t.params.pcie.width = width;
        }
        Ok(t)
    }
}

/// What a port is timed with.
#[derive(Clone, Default)]
pub struct PortTiming {
    pub mode: TimingMode,
    pub params: Params,
    pub trace: Option<TraceWriter>,
}

/// Parses `gen1`..`gen5` followed by `x1`..`x16`, e.g. `gen2x4`.
pub fn parse_pcie(s: &str) -> Result<(Generation, LinkWidth), String> {
    let bad = || format!("'{s}': expected genG xW, e.g. gen2x4 (G 1-5, W 1, 2, 4, 8 or 16)");
    let rest = s.strip_prefix("gen").ok_or_else(bad)?;
    let (g, w) = rest.split_once('x').ok_or_else(bad)?;
    let generation = match g {
        "1" => Generation::Gen1,
        "2" => Generation::Gen2,
        "3" => Generation::Gen3,
        "4" => Generation::Gen4,
        "5" => Generation::Gen5,
        _ => return Err(bad()),
    };
    let width = match w {
        "1" => LinkWidth::X1,
        "2" => LinkWidth::X2,
        "4" => LinkWidth::X4,
        "8" => LinkWidth::X8,
        "16" => LinkWidth::X16,
        _ => return Err(bad()),
    };
    Ok((generation, width))
}

/// Parses `10m`, `100m`, `1g`, `10g`, `25g` or `100g`.
pub fn parse_link_speed(s: &str) -> Result<LinkSpeed, String> {
    match s.to_ascii_lowercase().as_str() {
        "10m" => Ok(LinkSpeed::Mbps10),
        "100m" => Ok(LinkSpeed::Mbps100),
        "1g" => Ok(LinkSpeed::Gbps1),
        "10g" => Ok(LinkSpeed::Gbps10),
        "25g" => Ok(LinkSpeed::Gbps25),
        "100g" => Ok(LinkSpeed::Gbps100),
        _ => Err(format!("'{s}': expected 10m, 100m, 1g, 10g, 25g or 100g")),
    }
}

#[cfg(test)]
mod parser_tests {
    use super::*;

    #[test]
    fn parses_link_options() {
        assert_eq!(parse_pcie("gen2x4"), Ok((Generation::Gen2, LinkWidth::X4)));
        assert_eq!(
            parse_pcie("gen5x16"),
            Ok((Generation::Gen5, LinkWidth::X16))
        );
        assert!(parse_pcie("gen6x4").is_err());
        assert!(parse_pcie("gen2x3").is_err());
        assert!(parse_pcie("2x4").is_err());
        assert_eq!(parse_link_speed("10G"), Ok(LinkSpeed::Gbps10));
        assert_eq!(parse_link_speed("100m"), Ok(LinkSpeed::Mbps100));
        assert!(parse_link_speed("40g").is_err());
    }
}
