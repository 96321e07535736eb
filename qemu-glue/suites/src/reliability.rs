//! `tunic reliability`: fault and soak tests with the real guest driver.
//!
//! Four tunic NICs are served from this process: pair X (the fault target, its
//! wire a stream relay this process can cut) and pair Y (the bystander, wired
//! in-process, and the soak pair). Two boots:
//! 1. traffic on X, then QEMU is killed with SIGKILL; tunic must keep serving
//!    and leak no thread or fd;
//! 2. a new QEMU on the same sockets: ping, then driver unbind during iperf3,
//!    the offline self-test under load, CTRL.RST and a Tx ring base outside
//!    guest RAM through /dev/mem, the wire vanishing and returning, the soak,
//!    and a full driver unload. Pair Y's pings must not lose a frame during
//!    any fault on X.
//!
//! After the soak, each direction of Y must account for every frame: sent by
//! one device = received or counted as dropped by the other + dropped on the
//! wire. tunic's resident memory must not grow between the soak's first and
//! last quarter.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use guest_provision::{Assets, CaseResult, GuestSpec, Nic, ProvisionOptions};
use serde_json::Value;
use tunic_server::port::{PersonalityKind, Port};
use tunic_server::timing::TimingOverride;
use tunic_server::topology::{self, PortPlan, Shared};
use tunic_wire::BackendSpec;

use super::demo::AccelArg;

const TRAFFIC_SCRIPT: &str = include_str!("guest/reliability-traffic.sh");
const FAULTS_SCRIPT: &str = include_str!("guest/reliability-faults.sh");
/// Anonymous resident memory (tunic's own heap and stacks) tunic may gain between
/// the soak's second and last quarter (the first is warm-up: allocator arenas,
/// wire queues and receive FIFOs filling to their bounds). A leak grows on: at a
/// few thousand frames a second, one byte per frame kept passes this limit within
/// the soak. Measured: 100 KiB in a 120 s soak, 144 KiB in 600 s, from about
/// 4 MiB in all. Guest RAM is not tunic's: the client's memfd, mapped once per
/// connection, counts in VmRSS as shared memory (RssShmem) for every page the
/// device has touched, and grows as the guest hands it buffers it had not used
/// before (a clean-clone run saw VmRSS gain 8.5 MiB in its last half that way
/// while tunic's own memory was about 4 MiB in all).
const RSS_GROWTH_LIMIT_KIB: u64 = 4 * 1024;

#[derive(clap::Args, Debug)]
pub struct ReliabilityArgs {
    /// Seconds of soak traffic (bidirectional iperf3 plus a ping flood); 1800 for the long run.
    #[arg(long, default_value_t = 120)]
    pub soak_seconds: u32,
    /// Where report.json and the console logs go.
    #[arg(long, default_value = "target/reliability")]
    pub out: PathBuf,
    #[arg(long, default_value = "auto")]
    pub accel: AccelArg,
    /// Show the guest's serial console.
    #[arg(long)]
    pub console: bool,
}

/// Provisions the busybox guest (progress shown) and creates `out`, made absolute:
/// what every command that boots guests on ports of its own starts with.
pub(super) fn provision_with_out(out: &Path) -> anyhow::Result<(Assets, PathBuf)> {
    let assets = guest_provision::provision(&ProvisionOptions {
        progress: true,
        ..Default::default()
    })?;
    let out = std::path::absolute(out)?;
    std::fs::create_dir_all(&out)?;
    Ok((assets, out))
}

pub fn run(a: ReliabilityArgs) -> anyhow::Result<()> {
    let (assets, out) = provision_with_out(&a.out)?;
    let mut rig = Rig::start(&out)?;
    let mut results = kill_qemu_mid_traffic(&assets, &a, &mut rig, &out)?;
    // Shown at once: the second boot is long, and a partial run still has evidence.
    for r in &results {
        eprintln!(
            "[tunic] reliability: {} {} {}",
            r.name,
            verdict(r),
            r.evidence
        );
    }
    results.extend(faults_and_soak(&assets, &a, &mut rig, &out)?);
    results.push(rig.still_serving());
    report(&out, "reliability", &results)
}

/// The four ports, their wires and what this process measures about itself.
struct Rig {
    ports: Vec<Port>,
    /// Frames the in-process wire of pair Y dropped, per direction (Y0→Y1, Y1→Y0).
    relay: Option<Relay>,
    relay_ends: [PathBuf; 2],
    stop: Arc<AtomicBool>,
}

impl Rig {
    fn start(dir: &Path) -> anyhow::Result<Self> {
        let path = |name: &str| {
            let p = dir.join(name);
            let _ = std::fs::remove_file(&p);
            p
        };
        let stop = Arc::new(AtomicBool::new(false));
        let relay_ends = [path("wire-x0.sock"), path("wire-x1.sock")];
        // X0 and X1 reach each other through the relay (which the wire-cut case
        // cuts); Y0 and Y1 are the cable of the bystander pair.
        let plans: Vec<PortPlan> = ["x0", "x1", "y0", "y1"]
            .iter()
            .enumerate()
            .map(|(i, name)| PortPlan {
                socket: path(&format!("{name}.sock")),
                personality: PersonalityKind::Igb,
                mac: [0x52, 0x54, 0x00, 0x74, 0x76, i as u8 + 1],
                backend: match i {
                    0 | 1 => BackendSpec::StreamListen(relay_ends[i].clone()),
                    _ => BackendSpec::Wire,
                },
                pcap: None,
                timing: TimingOverride::default(),
            })
            .collect();
        let ports = topology::start(&plans, &Shared::default(), &stop)?;
        let mut rig = Self {
            ports,
            relay: None,
            relay_ends,
            stop,
        };
        rig.relay_up()?;
        Ok(rig)
    }

    fn nics(&self) -> Vec<Nic> {
        self.ports
            .iter()
            .map(|p| Nic::VfioUser {
                socket: p.socket().to_path_buf(),
            })
            .collect()
    }

    fn relay_up(&mut self) -> anyhow::Result<()> {
        if self.relay.is_none() {
            self.relay = Some(Relay::connect(&self.relay_ends)?);
        }
        Ok(())
    }

    fn relay_down(&mut self) {
        if let Some(r) = self.relay.take() {
            r.cut();
        }
    }

    fn counters(&self) -> Vec<Value> {
        self.ports.iter().map(|p| p.counters().to_json()).collect()
    }

    /// Frames Y0 and Y1 sent that the other's receive queue could not take.
    fn y_wire_drops(&self) -> [u64; 2] {
        let c = self.counters();
        [2, 3].map(|i| c[i]["wire_tx_dropped"].as_u64().unwrap_or(0))
    }

    /// Every socket is still there and accepts a connection.
    fn still_serving(&self) -> CaseResult {
        let bad: Vec<String> = self
            .ports
            .iter()
            .filter(|p| UnixStream::connect(p.socket()).is_err())
            .map(|p| p.socket().display().to_string())
            .collect();
        // The probe connections above end at once; let the servers go back to accept.
        std::thread::sleep(Duration::from_millis(500));
        case(
            "tunic-still-serving",
            bad.is_empty(),
            if bad.is_empty() {
                "all four sockets accept connections after every fault".into()
            } else {
                format!("not accepting: {}", bad.join(", "))
            },
        )
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.relay_down();
        self.stop.store(true, Ordering::Relaxed);
        for p in &self.ports {
            let _ = std::fs::remove_file(p.socket());
        }
        for p in &self.relay_ends {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// The wire of pair X: two stream connections whose bytes are copied across.
struct Relay {
    conns: Vec<UnixStream>,
    threads: Vec<JoinHandle<()>>,
}

impl Relay {
    fn connect(ends: &[PathBuf; 2]) -> anyhow::Result<Self> {
        let a = UnixStream::connect(&ends[0])?;
        let b = UnixStream::connect(&ends[1])?;
        let mut threads = Vec::new();
        for (mut from, mut to) in [
            (a.try_clone()?, b.try_clone()?),
            (b.try_clone()?, a.try_clone()?),
        ] {
            threads.push(std::thread::spawn(move || {
                let _ = std::io::copy(&mut from, &mut to);
            }));
        }
        Ok(Self {
            conns: vec![a, b],
            threads,
        })
    }

    fn cut(self) {
        for c in &self.conns {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
        for t in self.threads {
            let _ = t.join();
        }
    }
}

pub(super) fn case(name: &str, passed: bool, evidence: String) -> CaseResult {
    CaseResult {
        name: name.into(),
        passed,
        evidence,
    }
}

/// Open fds and threads of this process.
fn fds_and_threads() -> (usize, usize) {
    let count = |dir: &str| std::fs::read_dir(dir).map_or(0, |d| d.count());
    (count("/proc/self/fd"), count("/proc/self/task"))
}

/// One memory sample of this process, from `/proc/self/status`.
#[derive(Clone, Copy, Debug, Default)]
struct MemorySample {
    /// RssAnon: tunic's heap and stacks, what a leak grows.
    own_kib: u64,
    /// RssShmem: the guest RAM pages tunic has touched through the client's
    /// memfd mappings (bounded by what the client mapped).
    guest_kib: u64,
}

impl MemorySample {
    fn of_self() -> Self {
        Self::parse(&std::fs::read_to_string("/proc/self/status").unwrap_or_default())
    }

    fn parse(status: &str) -> Self {
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
                .unwrap_or(0)
        };
        Self {
            own_kib: field("RssAnon:"),
            guest_kib: field("RssShmem:"),
        }
    }
}

/// Refuses to start a guest while another QEMU runs on this machine (shared CPUs).
fn wait_for_idle_machine() {
    let busy = || {
        std::process::Command::new("pgrep")
            .args(["-f", "qemu-system"])
            .output()
            .is_ok_and(|o| !o.stdout.is_empty())
    };
    let mut told = false;
    while busy() {
        if !told {
            eprintln!("[tunic] another QEMU is running; waiting for it to finish");
            told = true;
        }
        std::thread::sleep(Duration::from_secs(5));
    }
}

fn guest_spec(
    a: &ReliabilityArgs,
    rig: &Rig,
    script: String,
    log: PathBuf,
    timeout: u64,
) -> GuestSpec {
    GuestSpec {
        nics: rig.nics(),
        script,
        timeout: Duration::from_secs(timeout),
        accel: a.accel.into(),
        console_log: Some(log),
        echo_console: a.console,
        // Lets busybox devmem reach BARs a driver has claimed (CONFIG_IO_STRICT_DEVMEM).
        extra_kernel_args: vec!["iomem=relaxed".into()],
        ..Default::default()
    }
}

/// (a) QEMU dies mid-traffic: tunic keeps serving and frees the client's resources.
fn kill_qemu_mid_traffic(
    assets: &Assets,
    a: &ReliabilityArgs,
    rig: &mut Rig,
    out: &Path,
) -> anyhow::Result<Vec<CaseResult>> {
    wait_for_idle_machine();
    let before = fds_and_threads();
    let spec = guest_spec(
        a,
        rig,
        TRAFFIC_SCRIPT.into(),
        out.join("console-kill.log"),
        300,
    );
    let guest = guest_provision::spawn(assets, &spec)?;
    let deadline = Instant::now() + spec.timeout;
    while !guest.serial().contains("TUNIC-STEP traffic") {
        if Instant::now() > deadline || guest.serial().contains("TUNIC-DONE") {
            anyhow::bail!("the first guest never started traffic:\n{}", guest.serial());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(3));
    let tx_before_kill = rig.counters()[0]["tx_frames"].as_u64().unwrap_or(0);
    eprintln!(
        "[tunic] reliability: killing QEMU (pid {}) mid-traffic",
        guest.pid()
    );
    // SAFETY: signalling the QEMU child this process spawned, by its pid.
    unsafe {
        libc::kill(guest.pid() as i32, libc::SIGKILL);
    }
    let run = guest.wait();
    // The servers notice the closed sockets, reset the devices and free the maps.
    std::thread::sleep(Duration::from_secs(3));
    let after = fds_and_threads();
    Ok(vec![
        case(
            "kill-qemu-mid-traffic",
            tx_before_kill > 1000 && run.is_ok(),
            format!(
                "{tx_before_kill} frames sent by X0 before SIGKILL; guest run: {}",
                run.as_ref()
                    .map_or_else(|e| e.to_string(), |r| format!("{:?}", r.exit))
            ),
        ),
        case(
            "kill-qemu-no-leaks",
            after == before,
            format!(
                "fds {} -> {}, threads {} -> {} (before boot, after the kill)",
                before.0, after.0, before.1, after.1
            ),
        ),
    ])
}

/// Counter snapshots taken at the guest's `TUNIC-STEP` lines.
#[derive(Default)]
struct Steps {
    seen: Vec<(String, Vec<Value>, [u64; 2])>,
}

impl Steps {
    fn at(&self, step: &str) -> Option<&(String, Vec<Value>, [u64; 2])> {
        self.seen.iter().find(|(s, _, _)| s == step)
    }

    fn delta(&self, from: &str, to: &str, port: usize, key: &str) -> Option<u64> {
        let get = |s: &str| {
            self.at(s)
                .map(|(_, c, _)| c[port][key].as_u64().unwrap_or(0))
        };
        Some(get(to)?.saturating_sub(get(from)?))
    }
}

/// Samples tunic's resident memory once a second while `run` is set.
struct RssSampler {
    samples: Arc<Mutex<Vec<MemorySample>>>,
    run: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl RssSampler {
    fn start() -> Self {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let run = Arc::new(AtomicBool::new(true));
        let (s, r) = (samples.clone(), run.clone());
        let thread = std::thread::spawn(move || {
            while r.load(Ordering::Relaxed) {
                s.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(MemorySample::of_self());
                std::thread::sleep(Duration::from_secs(1));
            }
        });
        Self {
            samples,
            run,
            thread: Some(thread),
        }
    }

    fn stop(mut self) -> Vec<MemorySample> {
        self.run.store(false, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        std::mem::take(&mut *self.samples.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// The second boot: every fault on pair X, the soak on pair Y.
fn faults_and_soak(
    assets: &Assets,
    a: &ReliabilityArgs,
    rig: &mut Rig,
    out: &Path,
) -> anyhow::Result<Vec<CaseResult>> {
    wait_for_idle_machine();
    let script = format!("TUNIC_SOAK_SECONDS={}\n{FAULTS_SCRIPT}", a.soak_seconds);
    let timeout = 900 + u64::from(a.soak_seconds);
    let spec = guest_spec(a, rig, script, out.join("console-faults.log"), timeout);
    let guest = guest_provision::spawn(assets, &spec)?;
    let mut steps = Steps::default();
    let mut rss: Option<RssSampler> = None;
    let mut rss_samples = Vec::new();
    let mut handled = 0;
    let started = Instant::now();
    loop {
        let serial = guest.serial();
        let new: Vec<String> = serial
            .lines()
            .filter_map(|l| l.split("TUNIC-STEP ").nth(1))
            .map(|s| s.trim().to_string())
            .skip(handled)
            .collect();
        for step in new {
            handled += 1;
            eprintln!("[tunic] reliability: guest step {step}");
            match step.as_str() {
                "wire-cut" => {
                    eprintln!("[tunic] reliability: cutting pair X's wire");
                    rig.relay_down();
                }
                "wire-restore" => {
                    eprintln!("[tunic] reliability: pair X's wire returns");
                    rig.relay_up()?;
                }
                "soak-start" => rss = Some(RssSampler::start()),
                "soak-end" => rss_samples = rss.take().map(RssSampler::stop).unwrap_or_default(),
                _ => {}
            }
            steps.seen.push((step, rig.counters(), rig.y_wire_drops()));
        }
        if serial.contains("TUNIC-DONE") || started.elapsed() > spec.timeout {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let run = guest.wait()?;
    let mut results = run.results.clone();
    if run.script_exit != Some(0) {
        results.push(case(
            "fault-script",
            false,
            format!(
                "guest script exit {:?}; console tail:\n{}",
                run.script_exit,
                run.console_tail(20)
            ),
        ));
    }
    if let (Some(before), Some(after)) = (
        steps.delta("bad-ring-before", "bad-ring-after", 0, "tx_dma_errors"),
        steps.delta("bad-ring-before", "bad-ring-after", 2, "tx_dma_errors"),
    ) {
        results.push(case(
            "bad-ring-dma-error-counted",
            before > 0 && after == 0,
            format!("X0 tx_dma_errors +{before}, Y0 (bystander) +{after}"),
        ));
    }
    if let Some(resets) = steps.delta("ctrl-rst-before", "ctrl-rst-after", 0, "resets") {
        results.push(case(
            "ctrl-rst-seen-by-tunic",
            resets > 0,
            format!("X0 resets +{resets} (CTRL.RST and the driver's own recovery)"),
        ));
    }
    // The guest's FLR reaches tunic as a PCIe FLR in config space or, through QEMU's
    // vfio-user client, as DEVICE_RESET; either resets the function's registers.
    if let Some(resets) = steps.delta("flr-before", "flr-after", 0, "resets") {
        results.push(case(
            "flr-seen-by-tunic",
            resets > 0,
            format!("X0 resets +{resets} (function-level reset and the driver's recovery)"),
        ));
    }
    results.extend(soak_accounting(&steps, a.soak_seconds));
    results.push(rss_growth(&rss_samples));
    Ok(results)
}

/// Frames a device saw arrive from the wire: delivered or counted as dropped.
const RX_ACCOUNTED: [&str; 7] = [
    "rx_frames",
    "rx_filtered",
    "rx_disabled_drops",
    "rx_oversize_dropped",
    "rx_fifo_overflow_drops",
    "rx_no_descriptor_drops",
    "rx_dma_errors",
];

/// The sender's counters that say how flow control and a full wire held it back.
const FLOW_CONTROL_EVIDENCE: &[&str] = &[
    "fc_xoff_sent",
    "fc_xon_sent",
    "fc_xoff_received",
    "fc_xon_received",
    "tx_paused_stops",
    "tx_wire_full_stops",
    "resets",
];

fn soak_accounting(steps: &Steps, seconds: u32) -> Vec<CaseResult> {
    let (Some(start), Some(end)) = (steps.at("soak-start"), steps.at("soak-end")) else {
        return vec![case(
            "soak-accounting",
            false,
            "the soak did not run".into(),
        )];
    };
    let d = |port: usize, key: &str| {
        end.1[port][key]
            .as_u64()
            .unwrap_or(0)
            .saturating_sub(start.1[port][key].as_u64().unwrap_or(0))
    };
    let mut results = Vec::new();
    for (from, to, dir) in [(2usize, 3usize, 0usize), (3, 2, 1)] {
        let sent = d(from, "tx_frames") - d(from, "loopback_frames");
        let arrived: u64 = RX_ACCOUNTED.iter().map(|k| d(to, k)).sum();
        let wire = end.2[dir] - start.2[dir];
        let unaccounted = sent as i64 - arrived as i64 - wire as i64;
        let name = format!("soak-accounting-y{}-to-y{}", from - 2, to - 2);
        // How the sender was held back meanwhile (evidence, not part of the verdict).
        let held: Vec<String> = FLOW_CONTROL_EVIDENCE
            .iter()
            .map(|k| format!("{k} {}", d(from, k)))
            .collect();
        results.push(case(
            &name,
            unaccounted == 0 && sent > 0,
            format!(
                "{seconds} s: sent {sent} = received {} + dropped by the receiver {} + dropped on the wire {wire}; unaccounted {unaccounted}; sender: {}",
                d(to, "rx_frames"),
                arrived - d(to, "rx_frames"),
                held.join(", "),
            ),
        ));
    }
    results
}

fn rss_growth(samples: &[MemorySample]) -> CaseResult {
    if samples.len() < 8 {
        return case(
            "soak-memory",
            false,
            format!("{} RSS samples", samples.len()),
        );
    }
    let q = samples.len() / 4;
    let own: Vec<u64> = samples.iter().map(|s| s.own_kib).collect();
    if own.contains(&0) {
        // A kernel without RssAnon in /proc/PID/status (before 4.5): nothing to judge.
        return case(
            "soak-memory",
            false,
            "RssAnon missing from /proc/self/status in a sample".into(),
        );
    }
    let mean = |s: &[u64]| s.iter().sum::<u64>() / s.len() as u64;
    let (warm_up, second, last) = (
        mean(&own[..q]),
        mean(&own[q..2 * q]),
        mean(&own[own.len() - q..]),
    );
    let growth = last.saturating_sub(second);
    let guest = |s: Option<&MemorySample>| s.map_or(0, |s| s.guest_kib);
    case(
        "soak-memory",
        growth <= RSS_GROWTH_LIMIT_KIB,
        format!(
            "tunic's own memory (RssAnon) warm-up quarter {warm_up} KiB, second quarter {second} KiB, last quarter {last} KiB (growth {growth} KiB, limit {RSS_GROWTH_LIMIT_KIB}); {} samples, peak {} KiB; guest RAM touched through the client's mappings (RssShmem, not tunic's) {} -> {} KiB",
            samples.len(),
            own.iter().max().copied().unwrap_or(0),
            guest(samples.first()),
            guest(samples.last()),
        ),
    )
}

fn verdict(r: &CaseResult) -> &'static str {
    if r.passed {
        "pass"
    } else {
        "FAIL"
    }
}

/// Writes `out/report.json`, prints the cases and fails the command if any failed.
pub(super) fn report(out: &Path, command: &str, results: &[CaseResult]) -> anyhow::Result<()> {
    std::fs::write(
        out.join("report.json"),
        serde_json::to_string_pretty(results)?,
    )?;
    println!();
    println!("{:<34} {:<7} evidence", "case", "verdict");
    for r in results {
        println!("{:<34} {:<7} {}", r.name, verdict(r), r.evidence);
    }
    let failed = results.iter().filter(|r| !r.passed).count();
    println!();
    println!("report: {}", out.join("report.json").display());
    println!(
        "{command}: {} passed, {failed} failed",
        results.len() - failed
    );
    if failed > 0 {
        anyhow::bail!("{failed} {command} case(s) failed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{rss_growth, MemorySample};

    fn own(kib: impl Iterator<Item = u64>) -> Vec<MemorySample> {
        kib.map(|own_kib| MemorySample {
            own_kib,
            guest_kib: 0,
        })
        .collect()
    }

    #[test]
    fn soak_memory_passes_a_warm_up_plateau_and_fails_steady_growth() {
        // 9 MiB gained in the first quarter, then flat: warm-up.
        let plateau = own((0..128u64).map(|i| 40_000 + (i.min(32) * 9 * 1024) / 32));
        assert!(
            rss_growth(&plateau).passed,
            "{}",
            rss_growth(&plateau).evidence
        );
        // 200 KiB a sample, all the way: a leak.
        let leak = own((0..128u64).map(|i| 40_000 + 200 * i));
        assert!(!rss_growth(&leak).passed, "{}", rss_growth(&leak).evidence);
        assert!(!rss_growth(&own(1..4)).passed, "too few samples");
        let unread = own(std::iter::repeat_n(0, 128));
        assert!(!rss_growth(&unread).passed, "no RssAnon read is no verdict");
    }

    #[test]
    fn soak_memory_counts_tunics_own_memory_not_the_guest_ram_it_touched() {
        // The guest hands the device fresh buffers all soak long: its shared
        // pages grow; tunic's heap stays flat.
        let samples: Vec<MemorySample> = (0..128u64)
            .map(|i| MemorySample {
                own_kib: 4_000,
                guest_kib: 40_000 + 200 * i,
            })
            .collect();
        let r = rss_growth(&samples);
        assert!(r.passed, "{}", r.evidence);
        assert!(r.evidence.contains("40000 -> 65400 KiB"), "{}", r.evidence);
    }

    #[test]
    fn memory_sample_reads_anon_and_shmem_apart() {
        let status = "VmRSS:\t   96884 kB\nRssAnon:\t    4288 kB\nRssFile:\t    5676 kB\nRssShmem:\t   86920 kB\n";
        let s = MemorySample::parse(status);
        assert_eq!((s.own_kib, s.guest_kib), (4288, 86920));
    }
}
