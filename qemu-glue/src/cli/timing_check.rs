//! `tunic timing-check`: the guest check of the timing model. Boots the guest on
//! two wired tunic NICs in paced mode and runs iperf3 over them: at 1 Gb/s TCP
//! goodput must land between 900 and 950 Mbit/s (line rate minus Ethernet, IP and
//! TCP overhead); at 10 Gb/s the figure is reported, limited by the emulator and
//! the guest rather than by pacing.

use std::time::Duration;

use device_model::timing::parse_link_speed;
use offload_engines::cost::LinkSpeed;
use qemu_glue::harness::{self, GuestSpec, ProvisionOptions};
use qemu_glue::timing::TimingArgs;

use super::demo::{AccelArg, Pcaps, WiredPair};

const SCRIPT: &str = r#"
set -- $(nics_by_driver igb)
setup_pair $1 $2 || { result setup fail "link"; exit 1; }
m=$(iperf3_mbps $TUNIC_SECONDS)
[ -n "$m" ] && result iperf3 pass "$m" || result iperf3 fail "$(tail -n 3 /tmp/iperf3.out)"
"#;

/// TCP goodput a paced 1 Gb/s link must carry, in Mbit/s.
const GOODPUT_1G: std::ops::RangeInclusive<f64> = 900.0..=950.0;

#[derive(clap::Args, Debug)]
pub struct TimingCheckArgs {
    /// Seconds of iperf3 per link speed.
    #[arg(long, default_value_t = 10)]
    pub seconds: u32,
    /// Link speeds to check, in order.
    #[arg(long = "link-speed", value_parser = parse_link_speed, default_values = ["1g", "10g"])]
    pub speeds: Vec<LinkSpeed>,
    #[arg(long, default_value = "auto")]
    pub accel: AccelArg,
}

/// iperf3 Mbit/s over a paced pair at `speed`, and the sending port's timing report.
fn measure(
    assets: &harness::Assets,
    speed: LinkSpeed,
    a: &TimingCheckArgs,
) -> anyhow::Result<(f64, serde_json::Value)> {
    let dir = std::env::temp_dir().join(format!("tunic-timing-check-{}", std::process::id()));
    let pair = WiredPair::start_timed(&dir, Pcaps::None, TimingArgs::paced(speed))?;
    let spec = GuestSpec {
        nics: pair.nics(),
        script: format!("TUNIC_SECONDS={}\n{SCRIPT}", a.seconds),
        timeout: Duration::from_secs(180 + u64::from(a.seconds)),
        accel: a.accel.into(),
        ..Default::default()
    };
    let run = harness::boot(assets, &spec)?;
    let counters: Vec<serde_json::Value> = pair
        .counters()
        .iter()
        .map(|c| serde_json::from_str(c).unwrap_or_default())
        .collect();
    drop(pair);
    let _ = std::fs::remove_dir_all(&dir);
    if !run.passed() {
        anyhow::bail!("timing-check guest failed:\n{}", run.console_tail(20));
    }
    let mbps = run
        .results
        .iter()
        .find_map(|r| r.evidence.trim().parse().ok())
        .unwrap_or(0.0);
    // The iperf3 client sends from the first port.
    let timing = counters
        .first()
        .map(|c| c["timing"].clone())
        .unwrap_or_default();
    Ok((mbps, timing))
}

pub fn run(a: TimingCheckArgs) -> anyhow::Result<()> {
    let assets = harness::provision(&ProvisionOptions {
        progress: true,
        ..Default::default()
    })?;
    let mut failed = false;
    for &speed in &a.speeds {
        let gbps = speed.bits_per_second() / 1_000_000_000;
        eprintln!("[tunic] paced {gbps} Gb/s pair");
        let (mbps, timing) = measure(&assets, speed, &a)?;
        let verdict = if speed == LinkSpeed::Gbps1 {
            if GOODPUT_1G.contains(&mbps) {
                "pass (900-950)"
            } else {
                failed = true;
                "FAIL (expected 900-950)"
            }
        } else {
            "reported"
        };
        println!(
            "paced {gbps:>3} Gb/s: iperf3 TCP {mbps:.0} Mbit/s  {verdict}  \
             (sender: Tx wire {:.1}% of model time, {} Tx stalls on a full packet buffer)",
            timing["utilisation"]["tx_wire"].as_f64().unwrap_or(0.0) * 100.0,
            timing["tx_stalls"].as_u64().unwrap_or(0),
        );
    }
    if failed {
        anyhow::bail!("the paced 1 Gb/s link did not carry 900-950 Mbit/s of TCP goodput");
    }
    Ok(())
}
