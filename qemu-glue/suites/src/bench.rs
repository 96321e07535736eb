//! `tunic bench`: guest iperf3 throughput over tunic's NIC against QEMU's own
//! emulated NIC of the same kind (igb, or virtio-net with `--personality
//! virtio-net`), same guest, accelerator and machine, in the same run.

use std::time::Duration;

use guest_provision::{GuestSpec, Nic, ProvisionOptions};
use tunic_server::port::PersonalityKind;
use tunic_server::timing::TimingArgs;

use super::demo::{guest_driver, AccelArg, Pcaps, WiredPair};

/// Run with `TUNIC_DRIVER`, `TUNIC_SECONDS` and `TUNIC_ROUNDS` set. The
/// `offloads` result (not a number, so not a throughput sample) records what the
/// driver negotiated, which differs between the two device models.
const SCRIPT: &str = r#"
set -- $(nics_by_driver $TUNIC_DRIVER)
[ $# -ge 2 ] || { result setup fail "want two $TUNIC_DRIVER NICs, have: $*"; exit 1; }
setup_pair $1 $2 || { result setup fail "link"; exit 1; }
result offloads pass "$(ethtool -k $1 | awk -F': ' '/^(tx-checksumming|tcp-segmentation-offload):/ { printf "%s=%s ", $1, $2 }')$(in_peer ethtool -k $2 | awk -F': ' '/^rx-checksumming:/ { printf "peer-%s=%s", $1, $2 }')"
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
    /// NIC kind: tunic's igb against QEMU's igb, or tunic's virtio-net against QEMU's
    /// virtio-net-pci.
    #[arg(long, value_parser = tunic_server::port::personality_parser(), default_value = "igb")]
    pub personality: PersonalityKind,
    /// Through DPDK instead of the kernel: testpmd's txonly and io-forwarding rates with
    /// both NICs on the personality's PMD, in the full Debian guest.
    #[arg(long)]
    pub dpdk: bool,
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

/// The label of a personality in the report.
fn label(p: PersonalityKind) -> &'static str {
    match p {
        PersonalityKind::Igb => "igb",
        PersonalityKind::VirtioNet => "virtio-net",
        PersonalityKind::VirtioNetPacked => "virtio-net (packed rings)",
        PersonalityKind::I40e => "i40e",
    }
}

/// QEMU's own pair of NICs of the personality's kind, both on hub 0.
pub(super) fn qemu_pair(p: PersonalityKind) -> Vec<Nic> {
    (1..=2)
        .map(|i| {
            let mac = [0x52, 0x54, 0, 0x12, 0x34, i];
            match p {
                PersonalityKind::Igb => Nic::QemuIgb { hub: 0, mac },
                PersonalityKind::VirtioNet | PersonalityKind::VirtioNetPacked => {
                    Nic::QemuVirtioNet { hub: 0, mac }
                }
                // Refused in `run` before we get here: QEMU has no X710.
                PersonalityKind::I40e => Nic::QemuIgb { hub: 0, mac },
            }
        })
        .collect()
}

fn measure(
    assets: &guest_provision::Assets,
    nics: Vec<Nic>,
    a: &BenchArgs,
) -> anyhow::Result<Vec<f64>> {
    let spec = GuestSpec {
        nics,
        script: format!(
            "TUNIC_DRIVER={}\nTUNIC_SECONDS={}\nTUNIC_ROUNDS={}\n{SCRIPT}",
            guest_driver(a.personality),
            a.seconds,
            a.rounds
        ),
        timeout: Duration::from_secs(120 + u64::from(a.rounds * (a.seconds + 5))),
        accel: a.accel.into(),
        ..Default::default()
    };
    let run = guest_provision::boot(assets, &spec)?;
    if !run.passed() {
        anyhow::bail!("benchmark guest failed:\n{}", run.console_tail(20));
    }
    for r in run.results.iter().filter(|r| r.name == "offloads") {
        eprintln!("[tunic] guest offloads: {}", r.evidence.trim());
    }
    Ok(run
        .results
        .iter()
        .filter_map(|r| r.evidence.trim().parse().ok())
        .collect())
}

/// One boot of the DPDK benchmark: (txonly, io) frames per second, per round.
fn measure_dpdk(
    assets: &guest_provision::Assets,
    nics: Vec<Nic>,
    a: &BenchArgs,
    console: &std::path::Path,
) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    let Some(disk) = assets.full_image.clone() else {
        anyhow::bail!("the DPDK benchmark needs the full guest image");
    };
    let spec = GuestSpec {
        nics,
        script: format!(
            "TUNIC_DRIVER={}\nTUNIC_SECONDS={}\nTUNIC_ROUNDS={}\n{}\n{}",
            guest_driver(a.personality),
            a.seconds,
            a.rounds,
            include_str!("guest/testpmd-lib.sh"),
            include_str!("guest/bench-dpdk.sh")
        ),
        timeout: Duration::from_secs(600 + u64::from(a.rounds * (2 * a.seconds + 10))),
        accel: a.accel.into(),
        memory_mib: 1536,
        disk: Some(disk),
        console_log: Some(console.to_path_buf()),
        ..Default::default()
    };
    let run = guest_provision::boot(assets, &spec)?;
    if !run.passed() {
        anyhow::bail!(
            "DPDK benchmark guest failed (console: {}):\n{}",
            console.display(),
            run.console_tail(20)
        );
    }
    let rates = |prefix: &str| -> Vec<f64> {
        run.results
            .iter()
            .filter(|r| r.name.starts_with(prefix))
            .filter_map(|r| r.evidence.trim().parse().ok())
            .collect()
    };
    for r in run.results.iter().filter(|r| r.name == "load") {
        eprintln!("[tunic] guest load average: {}", r.evidence.trim());
    }
    Ok((rates("txonly-"), rates("io-")))
}

fn run_dpdk(a: &BenchArgs) -> anyhow::Result<()> {
    let assets = guest_provision::provision(&ProvisionOptions {
        progress: true,
        full_image: true,
        ..Default::default()
    })?;
    let kind = label(a.personality);
    let pmd = super::dpdk::pmd(a.personality);
    eprintln!("[tunic] baseline: testpmd's {pmd} on QEMU's own {kind} pair");
    let dir = std::env::temp_dir().join(format!("tunic-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (bt, bi) = measure_dpdk(
        &assets,
        qemu_pair(a.personality),
        a,
        &dir.join("console-qemu.log"),
    )?;
    eprintln!("[tunic] testpmd's {pmd} on tunic's {kind} pair");
    let pair = WiredPair::start_as(&dir, Pcaps::None, TimingArgs::default(), a.personality)?;
    let (tt, ti) = measure_dpdk(&assets, pair.nics(), a, &dir.join("console-tunic.log"))?;
    drop(pair);
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "testpmd ({pmd}), {} rounds x {} s per engine, {} vCPUs, host load at the end: {}",
        a.rounds,
        a.seconds,
        GuestSpec::default().cpus,
        host_load()
    );
    for (engine, b, t) in [("txonly", bt, tt), ("io (tx_first)", bi, ti)] {
        let (mb, mt) = (median(b.clone()), median(t.clone()));
        println!("  {engine}: QEMU {kind} median {mb:.0} frames/s {b:?}; tunic {kind} median {mt:.0} frames/s {t:?}; ratio tunic / QEMU {:.2}",
            if mb > 0.0 { mt / mb } else { 0.0 });
    }
    Ok(())
}

/// The host's load averages, for the report.
fn host_load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

pub fn run(a: BenchArgs) -> anyhow::Result<()> {
    if let Some(BenchKind::Timing { out }) = &a.kind {
        return super::bench_timing::run(out);
    }
    if a.personality == PersonalityKind::I40e {
        anyhow::bail!(
            "tunic bench compares against QEMU's own NIC of the same kind, and QEMU has no X710: \
             choose --personality igb or virtio-net"
        );
    }
    if a.dpdk {
        return run_dpdk(&a);
    }
    let assets = guest_provision::provision(&ProvisionOptions {
        progress: true,
        ..Default::default()
    })?;
    let kind = label(a.personality);
    eprintln!("[tunic] baseline: QEMU's own {kind} pair");
    let baseline = measure(&assets, qemu_pair(a.personality), &a)?;
    eprintln!("[tunic] tunic {kind} pair");
    let dir = std::env::temp_dir().join(format!("tunic-bench-{}", std::process::id()));
    let pair = WiredPair::start_as(&dir, Pcaps::None, TimingArgs::default(), a.personality)?;
    let tunic = measure(&assets, pair.nics(), &a)?;
    drop(pair);
    let _ = std::fs::remove_dir_all(&dir);
    let (b, t) = (median(baseline.clone()), median(tunic.clone()));
    println!(
        "guest iperf3 TCP, {} x {} s, {} vCPUs, host load at the end: {}",
        a.rounds,
        a.seconds,
        GuestSpec::default().cpus,
        host_load()
    );
    println!("  QEMU {kind}  : median {b:.0} Mbit/s  runs {baseline:?}");
    println!("  tunic {kind} : median {t:.0} Mbit/s  runs {tunic:?}");
    println!(
        "  ratio tunic / QEMU {kind}: {:.2}",
        if b > 0.0 { t / b } else { 0.0 }
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    /// `tunic bench`'s arguments on their own.
    #[derive(clap::Parser)]
    struct Bench {
        #[command(flatten)]
        args: BenchArgs,
    }

    fn bench_args(args: &[&str]) -> BenchArgs {
        Bench::try_parse_from([&["bench"], args].concat())
            .unwrap()
            .args
    }

    #[test]
    fn personality_defaults_to_igb_and_picks_the_matching_qemu_nic() {
        let a = bench_args(&[]);
        assert_eq!(a.personality, PersonalityKind::Igb);
        assert!(qemu_pair(a.personality)
            .iter()
            .all(|n| matches!(n, Nic::QemuIgb { hub: 0, .. })));

        let a = bench_args(&["--personality", "virtio-net", "--rounds", "1"]);
        assert_eq!(a.personality, PersonalityKind::VirtioNet);
        assert_eq!(guest_driver(a.personality), "virtio_net");
        assert_eq!(label(a.personality), "virtio-net");
        let pair = qemu_pair(a.personality);
        assert_eq!(pair.len(), 2);
        assert!(pair
            .iter()
            .all(|n| matches!(n, Nic::QemuVirtioNet { hub: 0, .. })));
        assert_ne!(pair[0], pair[1], "the two NICs need distinct MACs");
    }
}
