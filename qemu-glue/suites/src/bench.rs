//! `tunic bench`: guest iperf3 throughput over tunic's NIC against QEMU's own
//! emulated NIC of the same kind (igb, or virtio-net with `--personality
//! virtio-net`), same guest, accelerator and machine, in the same run.

use std::path::Path;
use std::time::Duration;

use guest_provision::{GuestSpec, Nic, ProvisionOptions, QemuNicModel};
use tunic_server::port::PersonalityKind;
use tunic_server::timing::TimingArgs;
use tunic_wire::BackendSpec;

use super::demo::{guest_driver, AccelArg, Pcaps, WiredPair};

/// Run with `TUNIC_DRIVER` (the NIC under test's driver), `TUNIC_PEER_DRIVER` (its
/// peer's: the same driver for a pair), `TUNIC_SECONDS` and `TUNIC_ROUNDS` set. The
/// sender is the first NIC of the driver under test (lowest PCI address), the receiver
/// the first other NIC of the peer's driver; where both are virtio-net, the two ends
/// are the same kind of device and either can send. The `offloads` result
/// (not a number, so not a throughput sample) records what the driver negotiated,
/// which differs between the two device models; `retr-N` is the sender's TCP
/// retransmissions in round N, as iperf3 counts them; `irqs-N` (informational, not a
/// check) the NICs' interrupts per guest CPU around round N.
const SCRIPT: &str = r#"
A=; B=
for n in $(nics_by_driver $TUNIC_DRIVER) $(nics_by_driver $TUNIC_PEER_DRIVER); do
    if [ -z "$A" ]; then A=$n; elif [ -z "$B" ] && [ "$n" != "$A" ]; then B=$n; fi
done
[ -n "$B" ] || { result setup fail "want a $TUNIC_DRIVER NIC and a $TUNIC_PEER_DRIVER peer, have: $A"; exit 1; }
setup_pair $A $B || { result setup fail "link"; exit 1; }
result offloads pass "$(ethtool -k $A | awk -F': ' '/^(tx-checksumming|tcp-segmentation-offload):/ { printf "%s=%s ", $1, $2 }')$(in_peer ethtool -k $B | awk -F': ' '/^rx-checksumming:/ { printf "peer-%s=%s", $1, $2 }')"
# nic_irqs NIC: the interrupts each CPU took for the NIC's vectors so far, "cpu0+cpu1+...".
nic_irqs() {
    awk -v n="$1" 'NR == 1 { cpus = NF; next }
        $NF == n || index($NF, n "-") == 1 { for (c = 1; c <= cpus; c++) t[c] += $(c + 1) }
        END { for (c = 1; c <= cpus; c++) printf "%s%d", (c > 1 ? "+" : ""), t[c] }' /proc/interrupts
}
for i in $(seq 1 $TUNIC_ROUNDS); do
    irq_a=$(nic_irqs $A); irq_b=$(nic_irqs $B)
    m=$(iperf3_mbps $TUNIC_SECONDS)
    result irqs-$i pass "sender $A per CPU before/after: $irq_a / $(nic_irqs $A); receiver $B: $irq_b / $(nic_irqs $B)"
    if [ -n "$m" ]; then
        result iperf3-$i pass "$m"
        r=$(iperf3_retransmits)
        [ -n "$r" ] && result retr-$i pass "$r" || result retr-$i fail "no sender line: $(tail -n 3 /tmp/iperf3.out)"
    else
        result iperf3-$i fail "$(tail -n 3 /tmp/iperf3.out)"
    fi
done
"#;

/// Where the NIC under test sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Topology {
    /// Two NICs of the kind wired back to back: tunic's two ports on its built-in
    /// wire, QEMU's two on one QEMU hub.
    Pair,
    /// One NIC of the kind against QEMU's own virtio-net in the same guest, over a
    /// QEMU `-netdev stream` Unix socket: tunic's port on `stream:listen=`, QEMU's
    /// NIC of the kind on `-netdev stream,server=on` as the anchor. The link crosses a
    /// process boundary as it does beside any other QEMU network.
    Stream,
}

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
    /// The link under test (guest iperf3 benchmark only).
    #[arg(long, value_enum, default_value_t = Topology::Pair)]
    pub topology: Topology,
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

/// The QEMU NIC model of a personality's kind.
fn qemu_model(p: PersonalityKind) -> QemuNicModel {
    match p {
        PersonalityKind::VirtioNet | PersonalityKind::VirtioNetPacked => QemuNicModel::VirtioNet,
        PersonalityKind::Igb | PersonalityKind::I40e => QemuNicModel::Igb,
    }
}

/// QEMU's virtio-net peer of the stream topology on `path`: connecting to tunic's
/// listening port, listening for QEMU's own NIC in the anchor.
fn stream_peer(path: &Path, listen: bool) -> Nic {
    Nic::QemuStream {
        model: QemuNicModel::VirtioNet,
        mac: [0x52, 0x54, 0, 0x12, 0x35, 2],
        path: path.to_path_buf(),
        listen,
    }
}

/// The anchor of the stream topology: QEMU's virtio-net peer listening on `path`,
/// then QEMU's own NIC of the kind connecting to it. The listening end comes first
/// because QEMU opens its netdevs in command-line order and a connecting one needs
/// its listener. (QEMU's igb as the listening end, with the peer connecting as it
/// does to tunic, hung the guest under iperf3 on QEMU 11 with TCG: both ends in one
/// QEMU process. Which end listens does not change the link: frames cross the
/// same socket both ways.)
fn qemu_stream_pair(p: PersonalityKind, path: &Path) -> Vec<Nic> {
    vec![
        stream_peer(path, true),
        Nic::QemuStream {
            model: qemu_model(p),
            mac: [0x52, 0x54, 0, 0x12, 0x35, 1],
            path: path.to_path_buf(),
            listen: false,
        },
    ]
}

/// One boot's iperf3 rounds.
#[derive(Debug, Default)]
struct Rounds {
    mbps: Vec<f64>,
    retransmissions: Vec<u64>,
}

fn measure(
    assets: &guest_provision::Assets,
    nics: Vec<Nic>,
    a: &BenchArgs,
) -> anyhow::Result<Rounds> {
    let driver = guest_driver(a.personality);
    let peer_driver = match a.topology {
        Topology::Pair => driver,
        Topology::Stream => guest_driver(PersonalityKind::VirtioNet),
    };
    let spec = GuestSpec {
        nics,
        script: format!(
            "TUNIC_DRIVER={driver}\nTUNIC_PEER_DRIVER={peer_driver}\nTUNIC_SECONDS={}\nTUNIC_ROUNDS={}\n{SCRIPT}",
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
    // Where each round's interrupts went (the guest's vCPUs): a whole boot that is
    // slower than another often differs here, not in the device.
    for r in run.results.iter().filter(|r| r.name.starts_with("irqs-")) {
        eprintln!("[tunic] {} interrupts: {}", r.name, r.evidence.trim());
    }
    Ok(Rounds {
        mbps: numbers(&run.results, "iperf3-"),
        retransmissions: numbers(&run.results, "retr-"),
    })
}

/// The numbers the results named `prefix`N carry, in round order.
fn numbers<T: std::str::FromStr>(results: &[guest_provision::CaseResult], prefix: &str) -> Vec<T> {
    results
        .iter()
        .filter(|r| r.name.starts_with(prefix))
        .filter_map(|r| r.evidence.trim().parse().ok())
        .collect()
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
    if a.dpdk && a.topology != Topology::Pair {
        anyhow::bail!("--dpdk runs testpmd on a pair of NICs of one kind: it takes no --topology");
    }
    if a.dpdk {
        return run_dpdk(&a);
    }
    let assets = guest_provision::provision(&ProvisionOptions {
        progress: true,
        ..Default::default()
    })?;
    let kind = label(a.personality);
    let dir = std::env::temp_dir().join(format!("tunic-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let link = match a.topology {
        Topology::Pair => format!("{kind} pair"),
        Topology::Stream => format!("{kind} against QEMU's virtio-net over -netdev stream"),
    };
    eprintln!("[tunic] baseline: QEMU's own {link}");
    let baseline = match a.topology {
        Topology::Pair => measure(&assets, qemu_pair(a.personality), &a),
        Topology::Stream => {
            let path = dir.join("qemu-stream.sock");
            let _ = std::fs::remove_file(&path);
            measure(&assets, qemu_stream_pair(a.personality, &path), &a)
        }
    }?;
    eprintln!("[tunic] tunic {link}");
    let (ports, nics) = match a.topology {
        Topology::Pair => {
            let pair =
                WiredPair::start_as(&dir, Pcaps::None, TimingArgs::default(), a.personality)?;
            let nics = pair.nics();
            (pair, nics)
        }
        Topology::Stream => {
            let path = dir.join("tunic-stream.sock");
            let _ = std::fs::remove_file(&path);
            let port = WiredPair::start_on(
                &dir,
                Pcaps::None,
                TimingArgs::default(),
                a.personality,
                vec![BackendSpec::StreamListen(path.clone())],
            )?;
            let mut nics = port.nics();
            nics.push(stream_peer(&path, false));
            (port, nics)
        }
    };
    let tunic = measure(&assets, nics, &a);
    let dropped = nonzero_drops(ports.counters().iter().map(|c| c.numbers()));
    if !dropped.is_empty() {
        eprintln!("[tunic] frames tunic's ports counted as dropped: {dropped}");
    }
    drop(ports);
    let tunic = tunic?;
    let _ = std::fs::remove_dir_all(&dir);
    let (b, t) = (median(baseline.mbps.clone()), median(tunic.mbps.clone()));
    println!(
        "guest iperf3 TCP, {} x {} s, {} vCPUs, {link}, host load at the end: {}",
        a.rounds,
        a.seconds,
        GuestSpec::default().cpus,
        host_load()
    );
    println!(
        "  QEMU {kind}  : median {b:.0} Mbit/s  runs {:?}  retransmissions {:?}",
        baseline.mbps, baseline.retransmissions
    );
    println!(
        "  tunic {kind} : median {t:.0} Mbit/s  runs {:?}  retransmissions {:?}",
        tunic.mbps, tunic.retransmissions
    );
    println!(
        "  ratio tunic / QEMU {kind}: {:.2}",
        if b > 0.0 { t / b } else { 0.0 }
    );
    Ok(())
}

/// Every counter with "drop" in its name that is not zero, port by port, as
/// `portN.name=value`: where a frame the benchmark lost was counted.
fn nonzero_drops(ports: impl Iterator<Item = tunic_wire::ledger::Counters>) -> String {
    ports
        .enumerate()
        .flat_map(|(i, counters)| {
            counters
                .into_iter()
                .filter(|(name, n)| name.contains("drop") && *n > 0)
                .map(move |(name, n)| format!("port{i}.{name}={n}"))
        })
        .collect::<Vec<_>>()
        .join(" ")
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
        assert_eq!(a.topology, Topology::Pair);
    }

    #[test]
    fn the_stream_anchor_puts_the_listening_virtio_peer_first_and_the_kind_connects() {
        let a = bench_args(&["--topology", "stream"]);
        assert_eq!(a.topology, Topology::Stream);
        let path = Path::new("/tmp/x.sock");
        let nics = qemu_stream_pair(a.personality, path);
        assert!(matches!(
            &nics[0],
            Nic::QemuStream { model: QemuNicModel::VirtioNet, listen: true, path: p, .. } if p == path
        ));
        assert!(matches!(
            &nics[1],
            Nic::QemuStream { model: QemuNicModel::Igb, listen: false, path: p, .. } if p == path
        ));
        // tunic's port listens and the same peer connects to it.
        assert!(matches!(
            stream_peer(path, false),
            Nic::QemuStream {
                model: QemuNicModel::VirtioNet,
                listen: false,
                ..
            }
        ));
        assert!(matches!(
            qemu_stream_pair(PersonalityKind::VirtioNet, path)[1],
            Nic::QemuStream {
                model: QemuNicModel::VirtioNet,
                listen: false,
                ..
            }
        ));
    }

    #[test]
    fn drops_are_named_by_their_counters() {
        let port: tunic_wire::ledger::Counters = [
            ("rx_no_descriptor_drops".to_string(), 3),
            ("rx_frames".to_string(), 9),
            ("wire_tx_dropped".to_string(), 0),
        ]
        .into();
        assert_eq!(
            nonzero_drops([port].into_iter()),
            "port0.rx_no_descriptor_drops=3"
        );
    }
}
