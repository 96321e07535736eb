//! `tunic bench`: guest iperf3 throughput over tunic's igb against QEMU's own
//! emulated igb, same guest, accelerator and machine, in the same run.

use std::time::Duration;

use qemu_glue::harness::{self, GuestSpec, Nic, ProvisionOptions};

use super::demo::{AccelArg, Pcaps, WiredPair};

const SCRIPT: &str = r#"
set -- $(nics_by_driver igb)
setup_pair $1 $2 || { result setup fail "link"; exit 1; }
for i in $(seq 1 $TUNIC_ROUNDS); do
    m=$(iperf3_mbps $TUNIC_SECONDS)
    [ -n "$m" ] && result iperf3-$i pass "$m" || result iperf3-$i fail "$(tail -n 3 /tmp/iperf3.out)"
done
"#;

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// `timing`: the timing model's throughput sweep and plot instead of the guest benchmark.
    #[command(subcommand)]
    pub kind: Option<BenchKind>,
    /// Seconds per iperf3 run.
    #[arg(long, default_value_t = 10)]
    pub seconds: u32,
    /// iperf3 runs per NIC kind (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub rounds: u32,
    #[arg(long, default_value = "auto")]
    pub accel: AccelArg,
}

#[derive(clap::Subcommand, Debug)]
pub enum BenchKind {
    /// Sweep frame size 64..9000 at 1/10/25/100 Gb/s through the timing model and draw
    /// throughput against the line rate and the PCIe bound (SVG).
    Timing {
        #[arg(long, default_value = "docs/timing-throughput.svg")]
        out: String,
    },
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn measure(assets: &harness::Assets, nics: Vec<Nic>, a: &BenchArgs) -> anyhow::Result<Vec<f64>> {
    let spec = GuestSpec {
        nics,
        script: format!(
            "TUNIC_SECONDS={}\nTUNIC_ROUNDS={}\n{SCRIPT}",
            a.seconds, a.rounds
        ),
        timeout: Duration::from_secs(120 + u64::from(a.rounds * (a.seconds + 5))),
        accel: a.accel.into(),
        ..Default::default()
    };
    let run = harness::boot(assets, &spec)?;
    if !run.passed() {
        anyhow::bail!("benchmark guest failed:\n{}", run.console_tail(20));
    }
    Ok(run
        .results
        .iter()
        .filter_map(|r| r.evidence.trim().parse().ok())
        .collect())
}

pub fn run(a: BenchArgs) -> anyhow::Result<()> {
    if let Some(BenchKind::Timing { out }) = &a.kind {
        return super::bench_timing::run(out);
    }
    let assets = harness::provision(&ProvisionOptions {
        progress: true,
        ..Default::default()
    })?;
    eprintln!("[tunic] baseline: QEMU's own igb pair");
    let baseline = measure(
        &assets,
        vec![
            Nic::QemuIgb {
                hub: 0,
                mac: [0x52, 0x54, 0, 0x12, 0x34, 1],
            },
            Nic::QemuIgb {
                hub: 0,
                mac: [0x52, 0x54, 0, 0x12, 0x34, 2],
            },
        ],
        &a,
    )?;
    eprintln!("[tunic] tunic igb pair");
    let dir = std::env::temp_dir().join(format!("tunic-bench-{}", std::process::id()));
    let pair = WiredPair::start(&dir, Pcaps::None)?;
    let tunic = measure(&assets, pair.nics(), &a)?;
    drop(pair);
    let _ = std::fs::remove_dir_all(&dir);
    let (b, t) = (median(baseline.clone()), median(tunic.clone()));
    println!(
        "guest iperf3 TCP, {} x {} s, {} vCPUs",
        a.rounds,
        a.seconds,
        GuestSpec::default().cpus
    );
    println!("  QEMU igb  : median {b:.0} Mbit/s  runs {baseline:?}");
    println!("  tunic igb : median {t:.0} Mbit/s  runs {tunic:?}");
    println!(
        "  ratio tunic / QEMU igb: {:.2}",
        if b > 0.0 { t / b } else { 0.0 }
    );
    Ok(())
}
