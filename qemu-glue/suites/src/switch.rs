//! `tunic switch`: several VMs on one Ethernet segment.
//!
//! `tunic serve` (this binary, run as a user runs it) serves four igb ports, which
//! with more than two ports join its built-in learning switch. Two guests, one QEMU
//! each, take two of the NICs apiece and put every NIC in its own network namespace,
//! so all traffic crosses the switch: pings between every guest's NICs and its own,
//! one iperf3 stream alone, then two at once. Across the lone stream the host reads
//! the four ports' counters from `tunic serve --stats-file`: a learning switch sends
//! the stream only to its destination, so the two idle ports must see next to none
//! of it (a switch that flooded unicast would hand them every frame).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use guest_provision::{CaseResult, GuestSpec, Nic, RunningGuest};
use serde_json::Value;

use super::demo::AccelArg;
use super::reliability::{case, provision_with_out, report};

const SCRIPT: &str = include_str!("guest/switch-suite.sh");

/// Every case a run must report; one that did not is a failure, "did not run".
const DECLARED: &[&str] = &[
    "switch-serve-up",
    "switch-a-setup",
    "switch-a-ping-other-guest",
    "switch-a-ping-other-guest-nic1",
    "switch-a-ping-own-nics",
    "switch-a-served",
    "switch-b-setup",
    "switch-b-ping-other-guest",
    "switch-b-ping-other-guest-nic1",
    "switch-b-ping-own-nics",
    "switch-iperf-b0-a0",
    "switch-iperf-pair-0",
    "switch-iperf-pair-1",
    "switch-learned-unicast",
    "switch-serve-clean",
];

/// How many frames an idle port may see during the lone stream: broadcasts (ARP)
/// and the last echoes of the ping phase, against thousands of stream frames.
const IDLE_PORT_FRAMES: u64 = 64;

#[derive(clap::Args, Debug)]
pub struct SwitchArgs {
    /// Where report.json, the consoles, serve.log and the stats file go.
    #[arg(long, default_value = "target/switch")]
    pub out: PathBuf,
    #[arg(long, default_value = "auto")]
    pub accel: AccelArg,
    /// Show both guests' serial consoles.
    #[arg(long)]
    pub console: bool,
}

/// The `tunic serve` child, killed when the run ends however it ends.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn run(a: SwitchArgs) -> anyhow::Result<()> {
    let (assets, out) = provision_with_out(&a.out)?;
    let sockets: Vec<PathBuf> = (0..4).map(|i| out.join(format!("s{i}.sock"))).collect();
    for s in &sockets {
        let _ = std::fs::remove_file(s);
    }
    let stats = out.join("stats.json");
    let _ = std::fs::remove_file(&stats);
    let log_path = out.join("serve.log");
    let log = File::create(&log_path)?;
    let mut serve = Command::new(std::env::current_exe()?);
    serve.arg("serve");
    for s in &sockets {
        serve.arg("--port").arg(format!("socket={}", s.display()));
    }
    serve
        .arg("--stats-file")
        .arg(&stats)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    let mut serve = Serve(serve.spawn()?);

    let mut results = vec![serve_up(&mut serve, &sockets, &log_path)];
    if results[0].passed {
        results.extend(guests(&a, &assets, &sockets, &stats, &out));
        results.push(serve_clean(&mut serve, &log_path, &stats));
    }
    for name in DECLARED {
        if !results.iter().any(|r| r.name == *name) {
            results.push(case(name, false, "did not run".into()));
        }
    }
    report(&out, "switch", &results)
}

/// All four sockets listen within 20 s.
fn serve_up(serve: &mut Serve, sockets: &[PathBuf], log: &Path) -> CaseResult {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !sockets.iter().all(|s| s.exists()) {
        if Instant::now() > deadline || serve.0.try_wait().ok().flatten().is_some() {
            return case(
                "switch-serve-up",
                false,
                format!("tunic serve: {}", log_tail(log)),
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    case(
        "switch-serve-up",
        true,
        format!("tunic serve listens on {} ports", sockets.len()),
    )
}

/// Boots both guests side by side and collects their cases and the switch's.
fn guests(
    a: &SwitchArgs,
    assets: &guest_provision::Assets,
    sockets: &[PathBuf],
    stats: &Path,
    out: &Path,
) -> Vec<CaseResult> {
    let spec = |role: &str, socks: &[PathBuf]| GuestSpec {
        nics: socks
            .iter()
            .map(|s| Nic::VfioUser { socket: s.clone() })
            .collect(),
        script: format!("ROLE={role}\n{SCRIPT}"),
        // Two guests share the two host cores.
        cpus: 1,
        timeout: Duration::from_secs(600),
        accel: a.accel.into(),
        console_log: Some(out.join(format!("console-{role}.log"))),
        echo_console: a.console,
        ..Default::default()
    };
    let mut results = Vec::new();
    let guest_a = match guest_provision::spawn(assets, &spec("a", &sockets[..2])) {
        Ok(g) => g,
        Err(e) => return vec![case("switch-a-setup", false, format!("guest a: {e:#}"))],
    };
    let guest_b = match guest_provision::spawn(assets, &spec("b", &sockets[2..])) {
        Ok(g) => g,
        Err(e) => return vec![case("switch-b-setup", false, format!("guest b: {e:#}"))],
    };
    let deadline = Instant::now() + Duration::from_secs(600);
    let before = await_step(&guest_b, "learn-start", deadline).and_then(|()| read_ports(stats));
    let after = await_step(&guest_b, "learn-end", deadline).and_then(|()| {
        // The stats file is rewritten every second: let it catch up with the end.
        std::thread::sleep(Duration::from_millis(1500));
        read_ports(stats)
    });
    results.push(learned_unicast(before, after));
    for (role, guest) in [("b", guest_b), ("a", guest_a)] {
        match guest.wait() {
            Ok(run) => results.extend(run.results),
            Err(e) => results.push(case(
                &format!("switch-{role}-guest"),
                false,
                format!("guest {role}: {e:#}"),
            )),
        }
    }
    results
}

/// Waits for `TUNIC-STEP <name>` on the guest's console.
fn await_step(guest: &RunningGuest, name: &str, deadline: Instant) -> anyhow::Result<()> {
    let marker = format!("TUNIC-STEP {name}");
    while !guest.serial().contains(&marker) {
        if Instant::now() > deadline || guest.serial().contains("TUNIC-DONE") {
            anyhow::bail!("guest b never reached step {name}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

/// Frames that reached each port from the wire, accepted or filtered by its MAC.
fn read_ports(stats: &Path) -> anyhow::Result<Vec<u64>> {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(stats)?)?;
    let ports = doc["ports"]
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("{}: no ports", stats.display()))?;
    Ok(ports
        .iter()
        .map(|p| {
            let c = &p["counters"];
            c["rx_frames"].as_u64().unwrap_or(0) + c["rx_filtered"].as_u64().unwrap_or(0)
        })
        .collect())
}

/// During b0 -> a0 alone, port 0 (a0) takes the stream and ports 1 and 3 (a1, b1)
/// next to nothing.
fn learned_unicast(
    before: anyhow::Result<Vec<u64>>,
    after: anyhow::Result<Vec<u64>>,
) -> CaseResult {
    let name = "switch-learned-unicast";
    let (before, after) = match (before, after) {
        (Ok(b), Ok(a)) if b.len() == 4 && a.len() == 4 => (b, a),
        (b, a) => {
            return case(
                name,
                false,
                format!("no counters across the window: {b:?} / {a:?}"),
            )
        }
    };
    let delta: Vec<u64> = after
        .iter()
        .zip(&before)
        .map(|(a, b)| a.saturating_sub(*b))
        .collect();
    let passed = delta[0] >= 1000 && delta[1] <= IDLE_PORT_FRAMES && delta[3] <= IDLE_PORT_FRAMES;
    case(
        name,
        passed,
        format!(
            "frames reaching each port during b0 -> a0 alone: a0 {}, a1 {}, b0 {}, b1 {} \
             (the stream's destination at least 1000, each idle port at most {IDLE_PORT_FRAMES})",
            delta[0], delta[1], delta[2], delta[3]
        ),
    )
}

/// tunic serve is still running and logged no device fault, panic or error. The
/// frames the switch could not hand to a full port are counted, not lost: the
/// evidence names them.
fn serve_clean(serve: &mut Serve, log: &Path, stats: &Path) -> CaseResult {
    let dropped: u64 = std::fs::read_to_string(stats)
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|d| {
            d["ports"].as_array().map(|ps| {
                ps.iter()
                    .filter_map(|p| p["counters"]["wire_tx_dropped"].as_u64())
                    .sum()
            })
        })
        .unwrap_or(0);
    let exited = serve.0.try_wait().ok().flatten();
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let bad: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("ERROR") || l.contains("panicked") || l.contains("device model bug"))
        .take(3)
        .collect();
    case(
        "switch-serve-clean",
        exited.is_none() && bad.is_empty(),
        match exited {
            Some(status) => format!("tunic serve exited: {status}; {}", log_tail(log)),
            None if bad.is_empty() => format!(
                "tunic serve still running, no error in its log; wire_tx_dropped (counted) {dropped}"
            ),
            None => format!("serve.log: {}", bad.join(" | ")),
        },
    )
}

fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(5)..].join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_learned_unicast_check_fails_a_flooding_switch() {
        let ok = learned_unicast(Ok(vec![0, 0, 0, 0]), Ok(vec![9000, 10, 4000, 12]));
        assert!(ok.passed, "{}", ok.evidence);
        let flooded = learned_unicast(Ok(vec![0, 0, 0, 0]), Ok(vec![9000, 9000, 4000, 9000]));
        assert!(!flooded.passed);
        let idle = learned_unicast(Ok(vec![5, 5, 5, 5]), Ok(vec![50, 6, 40, 6]));
        assert!(!idle.passed, "a stream that never ran is no evidence");
        let missing = learned_unicast(Err(anyhow::anyhow!("no file")), Ok(vec![1, 2, 3, 4]));
        assert!(!missing.passed);
    }

    #[test]
    fn every_guest_case_is_declared() {
        for line in SCRIPT.lines() {
            for word in line.split(|c: char| c.is_whitespace() || c == '"') {
                if let Some(rest) = word.strip_prefix("switch-") {
                    let name = format!("switch-{rest}");
                    // Cases named per role in the script: expand both.
                    let names: Vec<String> = if name.contains("$ROLE") {
                        ["a", "b"]
                            .iter()
                            .map(|r| name.replace("$ROLE", r))
                            .collect()
                    } else {
                        vec![name]
                    };
                    for n in names.iter().filter(|n| !n.contains('$')) {
                        assert!(DECLARED.contains(&n.as_str()), "{n} is not declared");
                    }
                }
            }
        }
    }
}
