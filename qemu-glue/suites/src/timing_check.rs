//! `tunic timing-check`: the guest check of the timing model. Boots the guest on
//! two wired tunic NICs in paced mode and runs iperf3 over them: at 1 Gb/s TCP
//! goodput must land between 900 and 950 Mbit/s (line rate minus Ethernet, IP and
//! TCP overhead: 1448 payload bytes per 1538 wire bytes is 94.1%), and at 100 and
//! 10 Mb/s between 90% and 95% of line rate likewise; at 10 Gb/s and up the figure
//! is reported, limited by the emulator and the guest rather than by pacing. On
//! virtio-net it also checks that notification coalescing, a model timer on the paced
//! device, still delays ping replies by `ethtool -C rx-usecs` (`notf-coal-paced`).

use std::time::Duration;

use guest_provision::{GuestSpec, ProvisionOptions};
use offload_engines::cost::LinkSpeed;
use tunic_server::timing::parse_link_speed;
use tunic_server::timing::TimingArgs;

use super::demo::{guest_driver, AccelArg, Pcaps, WiredPair};
use tunic_server::port::PersonalityKind;

const SCRIPT: &str = r#"
set -- $(nics_by_driver $TUNIC_DRIVER)
setup_pair $1 $2 || { result setup fail "link"; exit 1; }
# The driver reads the negotiated speed from the device (igb: STATUS; virtio_net:
# the SPEED_DUPLEX configuration field).
s=$(cat /sys/class/net/$1/speed)
[ "$s" = "$TUNIC_SPEED" ] && result link-speed pass "$s" || result link-speed fail "$s, expected $TUNIC_SPEED"
m=$(iperf3_mbps $TUNIC_SECONDS)
[ -n "$m" ] && result iperf3 pass "$m" || result iperf3 fail "$(tail -n 3 /tmp/iperf3.out)"
# virtio-net's interrupt moderation (NOTF_COAL) on the paced device: its time limit
# is a timer of the model, which must still hold the notification in real time.
if [ "$TUNIC_DRIVER" = virtio_net ]; then
    check_notf_coal notf-coal-paced $1
fi
"#;

/// The most TCP goodput a paced link can carry, as a share of its line rate: 1448
/// payload bytes per 1538 wire bytes is 94.1%, so above 95% the pacer let too much
/// through. This bound does not depend on how fast the host runs the guest.
const GOODPUT_CEILING: f64 = 0.95;

/// The goodput band in Mbit/s a paced link at `speed` must land in, if it has one:
/// from `floor` of line rate (how close the guest must come to filling the link) to
/// the ceiling.
fn goodput_band(speed: LinkSpeed, floor: f64) -> Option<std::ops::RangeInclusive<f64>> {
    let mbps = speed.bits_per_second() as f64 / 1e6;
    (speed.bits_per_second() <= 1_000_000_000).then_some(floor * mbps..=GOODPUT_CEILING * mbps)
}

/// The speed in Mbit/s the guest's driver should report: the 82576 says at most
/// 1000; virtio-net reports any speed.
fn reported_speed_mbps(speed: LinkSpeed, personality: PersonalityKind) -> u64 {
    let mbps = speed.bits_per_second() / 1_000_000;
    mbps.min(personality.max_speed_mbps())
}

/// `1 Gb/s`, `100 Mb/s`.
fn speed_name(speed: LinkSpeed) -> String {
    let bps = speed.bits_per_second();
    if bps >= 1_000_000_000 {
        format!("{} Gb/s", bps / 1_000_000_000)
    } else {
        format!("{} Mb/s", bps / 1_000_000)
    }
}

#[derive(clap::Args, Debug)]
pub struct TimingCheckArgs {
    /// Seconds of iperf3 per link speed.
    #[arg(long, default_value_t = 10)]
    pub seconds: u32,
    /// Link speeds to check, in order.
    #[arg(long = "link-speed", value_parser = parse_link_speed, default_values = ["100m", "1g", "10g"])]
    pub speeds: Vec<LinkSpeed>,
    #[arg(long, default_value = "auto")]
    pub accel: AccelArg,
    /// Device personality of both NICs.
    #[arg(long, value_parser = tunic_server::port::personality_parser(), default_value = "igb")]
    pub personality: PersonalityKind,
    /// The least goodput, as a share of line rate, a paced link of at most 1 Gb/s must
    /// carry. 0.90 on a quiet machine; the lower bound measures how fast the host runs
    /// the guest (under TCG it can fall short of filling even 100 Mb/s), the upper
    /// bound (0.95) the pacer alone.
    #[arg(long, default_value_t = 0.90, value_parser = parse_share)]
    pub floor: f64,
}

fn parse_share(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=GOODPUT_CEILING).contains(&v) => Ok(v),
        _ => Err(format!(
            "'{s}' is not a share between 0 and {GOODPUT_CEILING}"
        )),
    }
}

/// What one paced pair showed.
struct Measured {
    mbps: f64,
    /// The sending port's timing report.
    timing: serde_json::Value,
    /// virtio-net: the paced coalescing case's evidence.
    coalescing: Option<String>,
}

/// iperf3 Mbit/s over a paced pair at `speed`, and the sending port's timing report.
fn measure(
    assets: &guest_provision::Assets,
    speed: LinkSpeed,
    a: &TimingCheckArgs,
) -> anyhow::Result<Measured> {
    // A directory per speed: the previous pair's threads may still unlink their
    // socket paths while the next pair starts.
    let dir = std::env::temp_dir().join(format!(
        "tunic-timing-check-{}-{}",
        std::process::id(),
        speed.bits_per_second() / 1_000_000
    ));
    let pair = WiredPair::start_as(&dir, Pcaps::None, TimingArgs::paced(speed), a.personality)?;
    let spec = GuestSpec {
        nics: pair.nics(),
        script: format!(
            "TUNIC_SECONDS={}\nTUNIC_SPEED={}\nTUNIC_DRIVER={}\n{SCRIPT}",
            a.seconds,
            reported_speed_mbps(speed, a.personality),
            guest_driver(a.personality)
        ),
        timeout: Duration::from_secs(180 + u64::from(a.seconds)),
        accel: a.accel.into(),
        ..Default::default()
    };
    let run = guest_provision::boot(assets, &spec)?;
    let counters = pair.counter_values();
    drop(pair);
    let _ = std::fs::remove_dir_all(&dir);
    if !run.passed() {
        anyhow::bail!("timing-check guest failed:\n{}", run.console_tail(20));
    }
    let mbps = run
        .results
        .iter()
        .filter(|r| r.name == "iperf3")
        .find_map(|r| r.evidence.trim().parse().ok())
        .unwrap_or(0.0);
    // The iperf3 client sends from the first port.
    let timing = counters
        .first()
        .map(|c| c["timing"].clone())
        .unwrap_or_default();
    let coalescing = run
        .results
        .iter()
        .find(|r| r.name == "notf-coal-paced")
        .map(|r| r.evidence.clone());
    Ok(Measured {
        mbps,
        timing,
        coalescing,
    })
}

pub fn run(a: TimingCheckArgs) -> anyhow::Result<()> {
    let assets = guest_provision::provision(&ProvisionOptions {
        progress: true,
        ..Default::default()
    })?;
    let mut failed = Vec::new();
    for &speed in &a.speeds {
        let name = speed_name(speed);
        eprintln!("[tunic] paced {name} pair");
        let Measured {
            mbps,
            timing,
            coalescing,
        } = measure(&assets, speed, &a)?;
        let verdict = match goodput_band(speed, a.floor) {
            Some(band) if band.contains(&mbps) => {
                format!("pass ({:.0}-{:.0})", band.start(), band.end())
            }
            Some(band) => {
                failed.push(name.clone());
                format!("FAIL (expected {:.0}-{:.0})", band.start(), band.end())
            }
            None => "reported".to_string(),
        };
        println!(
            "paced {name:>8}: iperf3 TCP {mbps:.1} Mbit/s  {verdict}  \
             (sender: Tx wire {:.1}% of model time, {} Tx stalls on a full packet buffer)",
            timing["utilisation"]["tx_wire"].as_f64().unwrap_or(0.0) * 100.0,
            timing["tx_stalls"].as_u64().unwrap_or(0),
        );
        if let Some(c) = coalescing {
            println!("paced {name:>8}: notification coalescing: {c}");
        }
    }
    if !failed.is_empty() {
        anyhow::bail!(
            "paced links did not carry {:.0}-{:.0}% of line rate as TCP goodput: {}",
            a.floor * 100.0,
            GOODPUT_CEILING * 100.0,
            failed.join(", ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_scale_with_the_link() {
        assert_eq!(goodput_band(LinkSpeed::Gbps1, 0.90), Some(900.0..=950.0));
        assert_eq!(goodput_band(LinkSpeed::Mbps100, 0.90), Some(90.0..=95.0));
        assert_eq!(goodput_band(LinkSpeed::Mbps100, 0.80), Some(80.0..=95.0));
        assert_eq!(goodput_band(LinkSpeed::Gbps10, 0.90), None);
        assert_eq!(speed_name(LinkSpeed::Mbps100), "100 Mb/s");
    }
}
