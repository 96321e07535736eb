//! `tunic conformance`: boots the guest on two wired tunic NICs, runs the named
//! cases with the guest's own drivers, and reports a table, `report.json` and a
//! JUnit XML file.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use guest_provision::{CaseResult, GuestSpec, ProvisionOptions};
use serde::Serialize;
use tunic_server::port::PersonalityKind;
use tunic_wire::ledger::WindowDeltas;

use super::demo::{AccelArg, Pcaps, WiredPair};
use super::shard::Shard;

/// A guest script and the cases it reports.
struct Suite {
    script: &'static str,
    /// Name prefixes of the cases this suite (or the host checks after it) reports.
    cases: &'static [&'static str],
    /// The personalities whose drivers report what the suite reads (empty: all).
    only: &'static [PersonalityKind],
}

/// The guest suites, run in this order in one boot. The driver suite always runs:
/// it builds the two-NIC topology the others use.
const SUITES: [Suite; 9] = [
    Suite {
        script: include_str!("guest/driver-suite.sh"),
        cases: &[
            "probe",
            "virtio-features",
            "ethtool-driver",
            "link-up",
            "ping-",
            "iperf3-",
            "capture-windows",
            "netdev-stats",
            "ethtool-stats",
            "tso-ipv4-in-device",
            "tso-ipv6-in-device",
            "tshark-port0-tso",
            "tshark-port1-tso",
            "tshark-port0-udp",
            "tshark-port1-udp",
            "device-errors",
        ],
        only: &[],
    },
    Suite {
        script: include_str!("guest/checksum-suite.sh"),
        cases: &["rx-csum-"],
        // The driver must count the NIC's checksum errors: igb per queue, i40e per port.
        only: &[PersonalityKind::Igb, PersonalityKind::I40e],
    },
    Suite {
        script: include_str!("guest/offload-suite.sh"),
        cases: &[
            "gso-features",
            "uso",
            "tshark-port0-uso",
            "tshark-port1-uso",
            "nvgre-",
            "tshark-port0-nvgre",
            "tshark-port1-nvgre",
        ],
        only: &[],
    },
    Suite {
        script: include_str!("guest/differential-suite.sh"),
        cases: &[
            "differential-sent",
            "diff-",
            "tso-diff-",
            "snapshot-",
            "tshark-port0-diff",
            "tshark-port1-diff",
        ],
        only: &[],
    },
    Suite {
        script: include_str!("guest/rss-suite.sh"),
        cases: &["rss-"],
        only: &[],
    },
    Suite {
        script: include_str!("guest/flow-control-suite.sh"),
        cases: &["flow-control-"],
        // 802.3x PAUSE is modelled on the 82576.
        only: &[PersonalityKind::Igb],
    },
    Suite {
        script: include_str!("guest/macvlan-suite.sh"),
        cases: &["macvlan-"],
        // Host check: macvlan-vsi-steering.
        // Macvlan offload (l2-fwd-offload) is an i40e driver feature.
        only: &[PersonalityKind::I40e],
    },
    Suite {
        script: include_str!("guest/lifecycle-suite.sh"),
        cases: &[
            "mtu-9000",
            "down-up",
            "notf-coal",
            "eitr-rate",
            "ethtool-selftest",
            "after-selftest",
        ],
        only: &[],
    },
    Suite {
        script: include_str!("guest/reload-suite.sh"),
        cases: &["rmmod-modprobe"],
        only: &[],
    },
];

/// Whether case `name` is one the user asked for (all when none named).
fn wanted(filters: &[String], name: &str) -> bool {
    filters.is_empty()
        || filters
            .iter()
            .any(|f| name == f || name.starts_with(&format!("{f}-")))
}

/// A piece of a conformance run that a shard takes whole: one guest suite (an index
/// into [`SUITES`]) or the DPDK boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Suite(usize),
    Dpdk,
}

/// The units of a run on `personality`, in their stable order: the suites that
/// apply, then the DPDK boot. `--shard K/N` takes every Nth from the Kth.
fn units(personality: PersonalityKind) -> Vec<Unit> {
    SUITES
        .iter()
        .enumerate()
        .filter(|(_, s)| s.only.is_empty() || s.only.contains(&personality))
        .map(|(i, _)| Unit::Suite(i))
        .chain(std::iter::once(Unit::Dpdk))
        .collect()
}

/// The unit that reports case `name`: the suite with the longest matching case
/// prefix (`tshark-port0-nvgre` is the offload suite's, not the driver suite's
/// `tshark-port0-`...); a case no suite names (a host check such as
/// `tshark-checksums`) is the driver suite's.
fn unit_of(name: &str) -> Unit {
    if name.starts_with("dpdk") {
        return Unit::Dpdk;
    }
    SUITES
        .iter()
        .enumerate()
        .flat_map(|(i, s)| s.cases.iter().map(move |p| (i, *p)))
        .filter(|(_, p)| name.starts_with(p))
        .max_by_key(|(_, p)| p.len())
        .map_or(Unit::Suite(0), |(i, _)| Unit::Suite(i))
}

/// Whether `shard` (all, when none) reports `unit`.
fn shard_takes(shard: Option<Shard>, personality: PersonalityKind, unit: Unit) -> bool {
    let Some(shard) = shard else { return true };
    let position = units(personality).iter().position(|u| *u == unit);
    shard.takes(position.unwrap_or(0))
}

/// Whether case `name` is this run's to report: asked for, and its unit's shard.
fn owned(a: &ConformanceArgs, name: &str) -> bool {
    wanted(&a.cases, name) && shard_takes(a.shard, a.personality, unit_of(name))
}

/// The suites to run for the requested cases and shard; an error names a case no
/// suite has. The driver suite always runs, since it builds the topology the others
/// use; a shard that does not own it runs it without reporting its cases.
fn select_suites(
    filters: &[String],
    personality: PersonalityKind,
    shard: Option<Shard>,
) -> anyhow::Result<String> {
    // DPDK cases run in their own boot (`super::dpdk`).
    for f in filters.iter().filter(|f| !f.starts_with("dpdk")) {
        let known = SUITES.iter().any(|s| {
            s.cases
                .iter()
                .any(|p| f.starts_with(p) || p.starts_with(f.as_str()))
        });
        if !known {
            anyhow::bail!("no conformance case named '{f}' (see docs/conformance.md for the list)");
        }
    }
    let scripts: Vec<&str> = SUITES
        .iter()
        .enumerate()
        .filter(|(_, s)| s.only.is_empty() || s.only.contains(&personality))
        .filter(|(i, s)| {
            *i == 0
                || (shard_takes(shard, personality, Unit::Suite(*i))
                    && (filters.is_empty()
                        || s.cases.iter().any(|p| {
                            filters
                                .iter()
                                .any(|f| f.starts_with(p) || p.starts_with(f.as_str()))
                        })))
        })
        .map(|(_, s)| s.script)
        .collect();
    Ok(scripts.join("\n"))
}

/// Whether the kernel-driver boot has anything to report for this shard.
fn kernel_units_in(shard: Option<Shard>, personality: PersonalityKind) -> bool {
    units(personality)
        .into_iter()
        .any(|u| u != Unit::Dpdk && shard_takes(shard, personality, u))
}

#[derive(clap::Args, Debug)]
pub struct ConformanceArgs {
    /// Where report.json, junit.xml, the pcaps and the console log go.
    #[arg(long, default_value = "target/conformance")]
    pub out: PathBuf,
    /// Debian kernel package for the guest (default: trixie's linux-image-amd64).
    #[arg(long)]
    pub kernel: Option<String>,
    /// Seconds of iperf3 traffic per direction.
    #[arg(long, default_value_t = 10)]
    pub seconds: u32,
    #[arg(long, default_value = "auto")]
    pub accel: AccelArg,
    /// Show the guest's serial console.
    #[arg(long)]
    pub console: bool,
    /// Device personality of both NICs: igb runs every suite; virtio-net runs the driver,
    /// offload (tunnels), differential, lifecycle and reload suites.
    #[arg(long, value_parser = tunic_server::port::personality_parser(), default_value = "igb")]
    pub personality: PersonalityKind,
    /// Run only these cases (repeatable; a name or a name prefix such as `tso-diff`).
    #[arg(long = "case")]
    pub cases: Vec<String>,
    /// Write the decoded-header snapshots of this run as the new reference
    /// (after reviewing the `.txt.new` files a failing run left).
    #[arg(long)]
    pub accept_snapshots: bool,
    /// Leave out the DPDK suite (a second boot, into the full Debian guest image,
    /// which is built and cached on first use).
    #[arg(long)]
    pub no_dpdk: bool,
    /// Write this run's cases as the list the personality must report on this
    /// kernel series (`testvectors/conformance/expected/`), instead of checking
    /// the run against it.
    #[arg(long, conflicts_with_all = ["cases", "shard"])]
    pub record_expected: bool,
    /// Run and report this share of the suites only: `K/N` takes every Nth suite from
    /// the Kth (the DPDK boot counts as one), in a stable order, so shards `1/N` ...
    /// `N/N` with the same options report every case once; `tunic report merge` joins
    /// them. Every shard still runs the driver suite, which builds the topology.
    #[arg(long, value_parser = super::shard::parse)]
    pub shard: Option<Shard>,
}

#[derive(Serialize)]
struct Report<'a> {
    personality: &'a str,
    kernel: &'a str,
    /// `K/N` when this run is one shard of a larger one.
    #[serde(skip_serializing_if = "Option::is_none")]
    shard: Option<String>,
    accel: String,
    boot_seconds: f64,
    total_seconds: f64,
    passed: bool,
    /// Each case with the check that decided it (`checks.rs`).
    cases: Vec<super::checks::ReportedCase<'a>>,
    device_counters: Vec<serde_json::Value>,
    /// Per case window, per port: what each counter rose by (the in-device evidence).
    window_counter_deltas: &'a WindowDeltas,
}

pub fn run(a: ConformanceArgs) -> anyhow::Result<()> {
    // `--case dpdk-...` alone needs only the DPDK boot; any other case the first one.
    let dpdk_case = |f: &String| f.starts_with("dpdk");
    let want_dpdk = !a.no_dpdk
        && (a.cases.is_empty() || a.cases.iter().any(dpdk_case))
        && shard_takes(a.shard, a.personality, Unit::Dpdk);
    let want_kernel = (a.cases.is_empty() || !a.cases.iter().all(dpdk_case))
        && kernel_units_in(a.shard, a.personality);
    if !want_kernel && !want_dpdk {
        anyhow::bail!(
            "shard {} of the {} run has nothing to run (it has {} suites; with --no-dpdk one fewer)",
            a.shard.map_or_else(|| "-".into(), |s| s.to_string()),
            a.personality.name(),
            units(a.personality).len()
        );
    }
    let assets = guest_provision::provision(&ProvisionOptions {
        progress: true,
        kernel_package: a.kernel.clone(),
        full_image: want_dpdk,
        ..Default::default()
    })?;
    let out = std::path::absolute(&a.out)?;
    std::fs::create_dir_all(&out)?;
    let mut boot = match want_kernel {
        true => kernel_boot(&a, &assets, &out)?,
        false => KernelBoot {
            completed: true,
            ..Default::default()
        },
    };
    if want_dpdk {
        let (results, deltas) =
            super::dpdk::run_suite(&assets, &out, a.personality, a.accel, a.console)?;
        boot.results.extend(results);
        boot.window_deltas.extend(deltas);
    }
    boot.results.retain(|c| owned(&a, &c.name));
    let repo = std::env::current_dir()?;
    let series = super::expected::kernel_series(&assets.kernel_release);
    if a.record_expected {
        let path = super::expected::record(&repo, a.personality, &series, &boot.results)?;
        println!("declared case list written: {}", path.display());
    } else if want_kernel {
        let declared = super::expected::load(&repo, a.personality, &series)?;
        let undeclared = super::expected::check(&declared, &mut boot.results, |n| owned(&a, n));
        for name in undeclared {
            println!(
                "note: case '{name}' ran but is not declared in {}",
                declared.file.display()
            );
        }
    }
    let passed =
        boot.completed && !boot.results.is_empty() && boot.results.iter().all(|r| r.passed);
    let report = Report {
        personality: a.personality.name(),
        kernel: &assets.kernel_release,
        shard: a.shard.map(|s| s.to_string()),
        accel: boot.accel.clone(),
        boot_seconds: boot.boot_seconds,
        total_seconds: boot.total_seconds,
        passed,
        cases: super::checks::with_checks(&boot.results, &boot.window_deltas),
        device_counters: boot.counters.clone(),
        window_counter_deltas: &boot.window_deltas,
    };
    std::fs::write(
        out.join("report.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    std::fs::write(
        out.join("junit.xml"),
        junit(
            a.personality.name(),
            &assets.kernel_release,
            &boot.results,
            boot.total_seconds,
        ),
    )?;
    println!();
    println!("{:<22} {:<7} evidence", "case", "verdict");
    for r in &boot.results {
        println!(
            "{:<22} {:<7} {}",
            r.name,
            if r.passed { "pass" } else { "FAIL" },
            r.evidence
        );
    }
    let failed = boot.results.iter().filter(|r| !r.passed).count();
    println!();
    println!(
        "conformance: {} passed, {} failed",
        boot.results.len() - failed,
        failed
    );
    println!("report: {}", out.join("report.json").display());
    if !passed {
        anyhow::bail!("conformance failed; console tail:\n{}", boot.console_tail);
    }
    Ok(())
}

/// What the kernel-driver boot produced.
#[derive(Default)]
struct KernelBoot {
    results: Vec<CaseResult>,
    /// The guest ran to its end (true when that boot was not asked for).
    completed: bool,
    counters: Vec<serde_json::Value>,
    window_deltas: WindowDeltas,
    accel: String,
    boot_seconds: f64,
    total_seconds: f64,
    console_tail: String,
}

/// The first boot: the guest's in-tree driver on two wired tunic ports, every
/// suite that applies, then the host-side checks and oracles.
fn kernel_boot(
    a: &ConformanceArgs,
    assets: &guest_provision::Assets,
    out: &std::path::Path,
) -> anyhow::Result<KernelBoot> {
    let pair = WiredPair::start_as(out, Pcaps::Windows, Default::default(), a.personality)?;
    eprintln!(
        "[tunic] conformance on {} ({}), output in {}",
        assets.kernel_release,
        assets.kernel_package,
        out.display()
    );
    let spec = GuestSpec {
        nics: pair.nics(),
        script: format!(
            "TUNIC_IPERF_SECONDS={}\nTUNIC_DRIVER={}\n{}",
            a.seconds,
            super::demo::guest_driver(a.personality),
            select_suites(&a.cases, a.personality, a.shard)?
        ),
        timeout: Duration::from_secs(600 + 2 * u64::from(a.seconds)),
        accel: a.accel.into(),
        console_log: Some(out.join("console.log")),
        echo_console: a.console,
        extra_files: vec![("tunic/bin/tunic-guest".into(), guest_tool()?)],
        cpus: guest_cpus(a.personality),
        ..Default::default()
    };
    let mut run = guest_provision::boot(assets, &spec)?;
    // The host-side checks read the devices' counters, over the boot and per case window.
    let window_deltas = pair.ledger.as_ref().map(|l| l.deltas()).unwrap_or_default();
    let host = host_checks(&pair, &window_deltas, &run.results, a.personality);
    run.results.extend(host);
    let counters = pair.counter_values();
    // Stopping the ports flushes the captures the checksum oracle reads.
    drop(pair);
    run.results.extend(tshark_checks(out)?);
    let repo = std::env::current_dir()?;
    run.results.extend(super::differential::check(
        out,
        &tunic_server::topology::default_mac(0),
        &repo,
        a.accept_snapshots,
        // Same device, same wire output: one set of snapshots per family.
        a.personality.family(),
    )?);
    Ok(KernelBoot {
        completed: run.exit == guest_provision::GuestExit::Completed,
        results: run.results.clone(),
        counters,
        window_deltas,
        accel: format!("{:?}", run.accel_used.kind),
        boot_seconds: run.boot_seconds,
        total_seconds: run.total_seconds,
        console_tail: run.console_tail(25),
    })
}

/// vCPUs of the conformance guest. Linux i40e gives the PF one queue pair per online
/// CPU and splits the MSI-X vectors between the PF and macvlan channels by the same
/// count: four CPUs give RSS over four queues and three offloaded macvlans.
fn guest_cpus(p: PersonalityKind) -> u32 {
    match p {
        PersonalityKind::I40e => 4,
        _ => GuestSpec::default().cpus,
    }
}

/// The guest helper, built beside this binary. Under `cargo run` a missing one is
/// built with the same profile, so the README's commands work on a fresh clone.
pub fn guest_tool() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let tool = exe.with_file_name("tunic-guest");
    if let (false, Some(cargo)) = (tool.exists(), std::env::var_os("CARGO")) {
        let release = exe
            .parent()
            .and_then(|d| d.file_name())
            .is_some_and(|n| n == "release");
        eprintln!("[tunic] building the guest helper tunic-guest");
        let mut cmd = std::process::Command::new(cargo);
        cmd.args(["build", "-q", "-p", "qemu-glue", "--bin", "tunic-guest"]);
        if release {
            cmd.arg("--release");
        }
        let status = cmd.status()?;
        if !status.success() {
            anyhow::bail!("building tunic-guest failed ({status})");
        }
    }
    if !tool.exists() {
        anyhow::bail!(
            "{} is missing: build it with `cargo build --release -p qemu-glue --bins`",
            tool.display()
        );
    }
    Ok(tool)
}

/// tshark's own checksum validation on every per-case capture: an oracle that is
/// not tunic. Each capture must hold frames and no bad IPv4, TCP or UDP checksum
/// (tunnelled frames are decoded and checked inside too).
fn tshark_checks(dir: &std::path::Path) -> anyhow::Result<Vec<CaseResult>> {
    let mut pcaps: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|e| e == "pcap")
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().contains('-'))
        })
        .collect();
    pcaps.sort();
    if which("tshark").is_none() {
        return Ok(vec![CaseResult {
            name: "tshark-checksums".into(),
            passed: false,
            evidence: TSHARK_MISSING.into(),
        }]);
    }
    let mut results = Vec::new();
    for p in pcaps {
        let stem = p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let t = tshark_tally(&p)?;
        results.push(CaseResult {
            name: format!("tshark-{stem}"),
            passed: t.passed(),
            evidence: format!("{t} (tshark {})", p.display()),
        });
    }
    Ok(results)
}

pub(super) const TSHARK_MISSING: &str = "tshark is not installed (scripts/setup-host installs it)";

/// What tshark made of one capture's checksums.
pub(super) struct TsharkTally {
    pub total: usize,
    pub bad: usize,
    pub good_l4: usize,
}

impl TsharkTally {
    /// Frames, none bad, and at least one TCP/UDP checksum tshark could verify.
    pub fn passed(&self) -> bool {
        self.total > 0 && self.bad == 0 && self.good_l4 > 0
    }
}

impl std::fmt::Display for TsharkTally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} frames, {} with a verified TCP/UDP checksum, {} bad",
            self.total, self.good_l4, self.bad
        )
    }
}

/// One tshark pass over a capture: the checksum status fields of every frame (0 bad,
/// 1 good, 2 unverified; a field repeats per layer, e.g. outer and inner IPv4).
pub(super) fn tshark_tally(p: &std::path::Path) -> anyhow::Result<TsharkTally> {
    let out = std::process::Command::new("tshark")
        .args(["-r"])
        .arg(p)
        .args([
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "tcp.check_checksum:TRUE",
            "-o",
            "udp.check_checksum:TRUE",
        ])
        .args([
            "-T",
            "fields",
            "-E",
            "separator=;",
            "-E",
            "occurrence=a",
            "-E",
            "aggregator=,",
        ])
        .args([
            "-e",
            "ip.checksum.status",
            "-e",
            "tcp.checksum.status",
            "-e",
            "udp.checksum.status",
        ])
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut t = TsharkTally {
        total: 0,
        bad: 0,
        good_l4: 0,
    };
    for line in text.lines() {
        t.total += 1;
        let fields: Vec<&str> = line.split(';').collect();
        let statuses = |i: usize| {
            fields.get(i).map_or(Vec::new(), |f| {
                f.split(',').filter(|v| !v.is_empty()).collect::<Vec<_>>()
            })
        };
        if (0..3).any(|i| statuses(i).contains(&"0")) {
            t.bad += 1;
        }
        if (1..3).any(|i| statuses(i).contains(&"1")) {
            t.good_l4 += 1;
        }
    }
    Ok(t)
}

pub(super) fn which(cmd: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| std::path::Path::new(d).join(cmd))
        .find(|p| p.exists())
}

/// Evidence only the device has: what its engines were really asked to do.
fn host_checks(
    pair: &WiredPair,
    window_deltas: &WindowDeltas,
    guest: &[CaseResult],
    personality: PersonalityKind,
) -> Vec<CaseResult> {
    let counters = pair.counter_values();
    let sum = |k: &str| {
        counters
            .iter()
            .map(|c| c[k].as_u64().unwrap_or(0))
            .sum::<u64>()
    };
    // Each personality's own error counters (the device crate lists them and tests
    // that they exist).
    let error_names: &[&str] = match personality {
        PersonalityKind::Igb => device_model::igb::ERROR_COUNTERS,
        PersonalityKind::I40e => device_model::i40e::ERROR_COUNTERS,
        PersonalityKind::VirtioNet | PersonalityKind::VirtioNetPacked => {
            device_model::virtio_net::ERROR_COUNTERS
        }
    };
    let by_name: Vec<String> = error_names
        .iter()
        .map(|n| (n, sum(n)))
        .filter(|(_, v)| *v > 0)
        .map(|(n, v)| format!("{n} {v}"))
        .collect();
    let errors: u64 = error_names.iter().map(|n| sum(n)).sum();
    let injected = sum("rx_injected_l4_corruptions");
    // What the driver counted in the plain and (X710) the NVGRE inner-layer cases.
    let flagged: Option<u64> = guest
        .iter()
        .filter(|c| c.name.starts_with("rx-csum-fault"))
        .map(|c| {
            c.evidence
                .split_whitespace()
                .find_map(|w| w.strip_prefix("csum_err=+")?.parse::<u64>().ok())
        })
        .sum();
    let mut checks = vec![CaseResult {
        name: "device-errors".into(),
        passed: errors == 0,
        evidence: format!(
            "errors counted by tunic in {}: {errors}{}",
            error_names.join(", "),
            if by_name.is_empty() {
                String::new()
            } else {
                format!(" ({})", by_name.join(", "))
            }
        ),
    }];
    if matches!(personality, PersonalityKind::Igb | PersonalityKind::I40e) {
        checks.push(CaseResult {
            name: "rx-csum-fault-count".into(),
            passed: injected > 0 && flagged == Some(injected),
            evidence: format!("tunic corrupted {injected} frames; the guest driver counted {flagged:?} checksum errors"),
        });
    }
    // The NIC did each case's segmentation: counter deltas over the case's window.
    checks.extend(super::evidence::in_device_checks(
        window_deltas,
        guest,
        personality,
    ));
    // Macvlan offload: B's frames for each macvlan reached a VSI of its own.
    if guest.iter().any(|c| c.name == "macvlan-offload") {
        let vsis: Vec<(String, u64)> = counters
            .get(1)
            .and_then(|c| c["rx_vsi_frames"].as_object())
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                    .collect()
            })
            .unwrap_or_default();
        let own = vsis.iter().filter(|(k, n)| k != "0" && *n >= 20).count();
        checks.push(CaseResult {
            name: "macvlan-vsi-steering".into(),
            passed: own >= 3,
            evidence: format!("frames per VSI at B's NIC: {vsis:?}; {own} VSIs besides the main one took at least the 20 pings of a macvlan (3 needed)"),
        });
    }
    checks
}

pub(super) fn xml_escape(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .map(|c| match c {
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '&' => "&amp;".to_string(),
            '"' => "&quot;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// JUnit XML as CI systems read it: one testsuite, one testcase per case.
/// `classname` is the personality (or the merged run's name); a failure's message
/// carries the check that failed it beside its evidence.
pub(super) fn junit(classname: &str, kernel: &str, cases: &[CaseResult], seconds: f64) -> String {
    let failures = cases.iter().filter(|c| !c.passed).count();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuite name=\"tunic-conformance ({})\" tests=\"{}\" failures=\"{}\" time=\"{:.1}\">",
        xml_escape(kernel),
        cases.len(),
        failures,
        seconds
    );
    for c in cases {
        let _ = write!(
            x,
            "  <testcase classname=\"{}\" name=\"{}\">",
            xml_escape(classname),
            xml_escape(&c.name)
        );
        let check = super::checks::check_of(&c.name).unwrap_or("(no check catalogued)");
        if c.passed {
            let _ = write!(
                x,
                "<system-out>{}\ncheck: {}</system-out>",
                xml_escape(&c.evidence),
                xml_escape(check)
            );
        } else {
            let _ = write!(
                x,
                "<failure message=\"{}\">check: {}</failure>",
                xml_escape(&c.evidence),
                xml_escape(check)
            );
        }
        x.push_str("</testcase>\n");
    }
    x.push_str("</testsuite>\n");
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The case names a guest script reports: the word after `result`, `check` or
    /// `check_notf_coal`, up to the first shell expansion (`iperf3-tcp-$dir` gives
    /// `iperf3-tcp-`).
    fn reported_names(script: &str) -> Vec<String> {
        let mut names = Vec::new();
        for line in script.lines().filter(|l| !l.trim_start().starts_with('#')) {
            let words: Vec<&str> = line.split_whitespace().collect();
            for w in words.windows(2) {
                if matches!(w[0], "result" | "check" | "check_notf_coal") {
                    let name: String = w[1]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                        .collect();
                    if !name.is_empty() {
                        names.push(name);
                    }
                }
            }
        }
        names
    }

    /// `--case NAME` selects a case only if its suite lists it: every case a script
    /// reports must be covered by its suite's list.
    #[test]
    fn every_reported_case_is_selectable() {
        for suite in &SUITES {
            let names = reported_names(suite.script);
            assert!(!names.is_empty());
            for name in names {
                assert!(
                    suite
                        .cases
                        .iter()
                        .any(|p| name.starts_with(p) || p.starts_with(name.as_str())),
                    "case '{name}' is reported but not listed in its suite"
                );
                let one = std::slice::from_ref(&name);
                assert!(select_suites(one, PersonalityKind::Igb, None).is_ok());
            }
        }
    }

    /// Each case a script reports belongs to the suite that reports it, so the shard
    /// that runs the suite is the one that reports the case.
    #[test]
    fn every_case_belongs_to_the_suite_that_reports_it() {
        for (i, suite) in SUITES.iter().enumerate() {
            for name in reported_names(suite.script) {
                assert_eq!(unit_of(&name), Unit::Suite(i), "case '{name}'");
            }
        }
        assert_eq!(unit_of("dpdk-txonly-accounted"), Unit::Dpdk);
        assert_eq!(unit_of("tshark-checksums"), Unit::Suite(0));
        assert_eq!(unit_of("tshark-port1-nvgre-ipv6"), unit_of("nvgre-ipv4"));
    }

    /// Shards 1/N ... N/N with the same options run each suite once between them and
    /// report each case once; every shard runs the driver suite for its topology.
    #[test]
    fn shards_cover_every_suite_and_case_once() {
        for personality in [
            PersonalityKind::Igb,
            PersonalityKind::VirtioNet,
            PersonalityKind::I40e,
        ] {
            let all = units(personality);
            for n in 1..=all.len() + 1 {
                for unit in &all {
                    let owners = (1..=n)
                        .filter(|&k| shard_takes(Some(Shard { k, n }), personality, *unit))
                        .count();
                    assert_eq!(owners, 1, "{unit:?} in {n} shards");
                }
                for k in 1..=n {
                    let shard = Some(Shard { k, n });
                    let script = select_suites(&[], personality, shard).unwrap();
                    assert!(script.starts_with(SUITES[0].script));
                    for (i, s) in SUITES.iter().enumerate().skip(1) {
                        let runs = script.contains(s.script);
                        let takes = all.contains(&Unit::Suite(i))
                            && shard_takes(shard, personality, Unit::Suite(i));
                        assert_eq!(runs, takes, "suite {i} in shard {k}/{n}");
                    }
                }
            }
            assert!(kernel_units_in(None, personality));
        }
        // The DPDK boot is the last unit: a shard that holds only it needs no kernel boot.
        let n = units(PersonalityKind::Igb).len();
        assert!(!kernel_units_in(
            Some(Shard { k: n, n }),
            PersonalityKind::Igb
        ));
    }

    #[test]
    fn junit_escapes_and_counts() {
        let cases = vec![
            CaseResult {
                name: "a".into(),
                passed: true,
                evidence: "x < y".into(),
            },
            CaseResult {
                name: "b\"".into(),
                passed: false,
                evidence: "broke & \u{1b}ran".into(),
            },
        ];
        let x = junit("igb", "6.12", &cases, 1.0);
        assert!(x.contains("classname=\"igb\""));
        assert!(x.contains("tests=\"2\" failures=\"1\""));
        assert!(x.contains("x &lt; y"));
        assert!(x.contains("name=\"b&quot;\""));
        assert!(x.contains("broke &amp; ran"));
    }
}
