//! `tunic selftests`: the kernel's own NIC tests (`drivers/net`, `drivers/net/hw`)
//! in the full Debian guest, on two wired tunic NICs (NIC A as `NETIF`, NIC B in
//! netns `remote` as the endpoint), and with `--baseline` on QEMU's own NIC of the
//! same kind in the same invocation. The verdicts are kselftest's; tunic only
//! collects them into `report.json`, `junit.xml` and the raw KTAP, and holds a run
//! to the recorded expectations (`testvectors/selftests/`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use guest_provision::{GuestSpec, Nic, ProvisionOptions};
use serde::{Deserialize, Serialize};
use tunic_server::port::PersonalityKind;

use super::demo::{AccelArg, Pcaps, WiredPair};
use super::ktap::{self, Program, Status};
use super::shard::Shard;

/// The guest kernel the selftests are written for by default: the newest Debian
/// ships (trixie-backports), whose `linux-source` the tests are built from.
const DEFAULT_KERNEL: &str = "linux-image-amd64/trixie-backports";

/// The subset `.ci/run` runs: link, counters, queues, and the offloads tunic does
/// in the device (checksums, TSO, RSS).
pub const CI_SUBSET: &[&str] = &[
    "drivers/net:ping.py",
    "drivers/net:stats.py",
    "drivers/net:queues.py",
    "drivers/net/hw:csum.py",
    "drivers/net/hw:tso.py",
    "drivers/net/hw:toeplitz.py",
    "drivers/net/hw:rss_api.py",
];

/// Programs that hang the guest kernel with a personality's driver, whatever the
/// device does, and so are not run unless named with `--test`. Each is reported as
/// a skip with this reason; `docs/selftests.md` has the evidence.
pub fn kernel_hangs(p: PersonalityKind) -> &'static [(&'static str, &'static str)] {
    match p {
        // i40e keeps one q_vector per LAN MSI-X vector and enables NAPI only on those
        // with rings; after `ethtool -L combined 1` the other vectors' NAPIs stay
        // disabled (NAPI_STATE_SCHED set), and turning threaded NAPI off then waits in
        // napi_stop_kthread() for them to go idle, forever (7.3's net/core/dev.c).
        PersonalityKind::I40e => &[(
            "drivers/net:napi_threaded.py",
            "not run: hangs the kernel with i40e on any X710 with two or more queue vectors \
             (threaded off after `ethtool -L combined 1` waits in napi_stop_kthread() for a \
             NAPI the driver left disabled); name it with --test to run it anyway",
        )],
        _ => &[],
    }
}

/// Where the recorded expectations live, relative to the repository.
pub const EXPECTED_DIR: &str = "testvectors/selftests";

#[derive(clap::Args, Debug)]
pub struct SelftestsArgs {
    /// Device personality of both NICs.
    #[arg(long, value_parser = tunic_server::port::personality_parser(), default_value = "igb")]
    pub personality: PersonalityKind,
    /// Debian kernel package of the guest; the selftests are built from the
    /// matching linux-source (default: the trixie-backports kernel).
    #[arg(long, default_value = DEFAULT_KERNEL)]
    pub kernel: String,
    /// Run only these programs (repeatable): `ping.py`, `hw/csum.py` or
    /// `drivers/net/hw:csum.py`. Default: every program of drivers/net and drivers/net/hw.
    #[arg(long = "test", conflicts_with = "subset")]
    pub tests: Vec<String>,
    /// A named subset: `ci` (ping, stats, queues, csum, tso, toeplitz, rss_api).
    #[arg(long, value_parser = ["ci"])]
    pub subset: Option<String>,
    /// Run this share of the selected programs only: `K/N` takes every Nth program
    /// from the Kth (a stable split; `tunic selftests --shard 1/3` ... `3/3` cover all).
    #[arg(long, value_parser = super::shard::parse)]
    pub shard: Option<Shard>,
    /// Also run the same programs on QEMU's own NIC of the same kind (igb, or
    /// virtio-net-pci), in a second boot, as a second column of the report.
    #[arg(long)]
    pub baseline: bool,
    /// Seconds each program may run (kselftest's runner kills it after that).
    #[arg(long, default_value_t = 600)]
    pub test_timeout: u64,
    /// Where report.json, junit.xml, the KTAP and the consoles go
    /// (default: target/selftests/<personality>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long, default_value = "auto")]
    pub accel: AccelArg,
    /// Show the guest's serial console.
    #[arg(long)]
    pub console: bool,
    /// Write tunic's results of this run as the expectations for the personality and
    /// kernel series (the programs run replace theirs; the others are kept).
    #[arg(long)]
    pub record_expected: bool,
}

/// `drivers/net/hw:csum.py` of `csum.py`, `hw/csum.py` or the full name, among the
/// installed programs.
fn resolve(name: &str, installed: &[String]) -> anyhow::Result<String> {
    let wanted = name.trim();
    let exact = |full: &String| {
        let (coll, prog) = full.split_once(':').unwrap_or(("", full));
        let short = coll.strip_prefix("drivers/net").unwrap_or(coll);
        let short = short.trim_start_matches('/');
        full == wanted
            || (short.is_empty() && prog == wanted)
            || format!("{short}/{prog}") == wanted
            || format!("{coll}/{prog}") == wanted
    };
    if let Some(f) = installed.iter().find(|f| exact(f)) {
        return Ok(f.clone());
    }
    // A bare program name that only one collection has (`csum.py`).
    let by_prog: Vec<&String> = installed
        .iter()
        .filter(|f| f.split_once(':').is_some_and(|(_, p)| p == wanted))
        .collect();
    match by_prog.as_slice() {
        [one] => Ok((*one).clone()),
        [] => bail!(
            "no selftest named '{name}'; installed: {}",
            installed.join(" ")
        ),
        many => bail!(
            "'{name}' is ambiguous: {}",
            many.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        ),
    }
}

/// The programs a run selects, in a stable order.
fn select(a: &SelftestsArgs, installed: &[String]) -> anyhow::Result<Vec<String>> {
    let mut chosen: Vec<String> = if let Some(subset) = &a.subset {
        match subset.as_str() {
            "ci" => CI_SUBSET
                .iter()
                .map(|t| resolve(t, installed))
                .collect::<anyhow::Result<_>>()?,
            other => bail!("unknown subset '{other}'"),
        }
    } else if a.tests.is_empty() {
        installed.to_vec()
    } else {
        a.tests
            .iter()
            .map(|t| resolve(t, installed))
            .collect::<anyhow::Result<_>>()?
    };
    chosen.dedup();
    if let Some(shard) = a.shard {
        chosen = chosen
            .into_iter()
            .enumerate()
            .filter(|(i, _)| shard.takes(*i))
            .map(|(_, t)| t)
            .collect();
    }
    if chosen.is_empty() {
        bail!("no selftest selected");
    }
    Ok(chosen)
}

/// Splits the selection into the programs to run and those set aside because they
/// hang the kernel with this driver (reported as skips with the reason). A program
/// named with `--test` always runs.
fn set_aside_hangs(a: &SelftestsArgs, selected: Vec<String>) -> (Vec<String>, Vec<Program>) {
    let hangs = kernel_hangs(a.personality);
    let mut run = Vec::new();
    let mut not_run = Vec::new();
    for t in selected {
        match hangs.iter().find(|(h, _)| *h == t && a.tests.is_empty()) {
            Some((_, why)) => not_run.push(Program {
                name: t,
                status: Status::Skip,
                reason: why.to_string(),
                seconds: 0.0,
                cases: Vec::new(),
            }),
            None => run.push(t),
        }
    }
    (run, not_run)
}

/// One NIC's run of the selected programs.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Column {
    /// `tunic igb`, `qemu igb`.
    pub nic: String,
    /// The guest reached the end of the suite.
    pub completed: bool,
    /// The topology the tests need came up (link, addresses, the endpoint answers).
    pub setup: String,
    pub setup_passed: bool,
    pub programs: Vec<Program>,
    pub boot_seconds: f64,
    pub total_seconds: f64,
}

impl Column {
    /// The KTAP cases by status, a program without cases counted as one.
    pub fn tally(&self) -> Tally {
        let mut t = Tally::default();
        for p in &self.programs {
            let statuses: Vec<Status> = match p.cases.is_empty() {
                true => vec![p.status],
                false => p.cases.iter().map(|c| c.status).collect(),
            };
            for s in statuses {
                match s {
                    Status::Pass => t.pass += 1,
                    Status::Xfail => t.xfail += 1,
                    Status::Skip => t.skip += 1,
                    Status::Fail => t.fail += 1,
                }
            }
        }
        t
    }

    fn program(&self, name: &str) -> Option<&Program> {
        self.programs.iter().find(|p| p.name == name)
    }
}

/// Cases by status. An expected failure the test declared (`XFAIL`: the device
/// lacks a feature, such as LRO) is neither a pass nor a failure.
#[derive(Default, Debug, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub pass: usize,
    pub fail: usize,
    pub skip: usize,
    pub xfail: usize,
}

impl Tally {
    /// Passed, of the cases that ran to a pass or a failure.
    pub fn pass_rate(&self) -> f64 {
        match self.pass + self.fail {
            0 => 0.0,
            ran => self.pass as f64 / ran as f64,
        }
    }
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} passed, {} failed, {} skipped, {} expected failures; {:.0}% of the cases that ran passed",
            self.pass,
            self.fail,
            self.skip,
            self.xfail,
            100.0 * self.pass_rate()
        )
    }
}

/// Boots the full guest on `nics` and runs `tests`.
fn run_column(
    assets: &guest_provision::Assets,
    nic: String,
    nics: Vec<Nic>,
    a: &SelftestsArgs,
    tests: &[String],
    out: &Path,
    tag: &str,
) -> anyhow::Result<Column> {
    let (Some(disk), Some(ksft)) = (assets.full_image.clone(), assets.selftests.clone()) else {
        bail!("the selftests need the full guest image and the selftests image");
    };
    eprintln!(
        "[tunic] selftests on {nic}: {} program(s), up to {} s each",
        tests.len(),
        a.test_timeout
    );
    let spec = GuestSpec {
        nics,
        script: format!(
            "TUNIC_DRIVER={}\nTUNIC_KSFT={}\nTUNIC_KSFT_TIMEOUT={}\nTUNIC_KSFT_TESTS='{}'\n{}",
            super::demo::guest_driver(a.personality),
            guest_provision::SELFTESTS_GUEST_PATH,
            a.test_timeout,
            tests.join(" "),
            include_str!("guest/selftests-suite.sh")
        ),
        // Boot, set-up, and every program's own limit with some slack.
        timeout: Duration::from_secs(300 + tests.len() as u64 * (a.test_timeout + 60)),
        accel: a.accel.into(),
        console_log: Some(out.join(format!("console-{tag}.log"))),
        echo_console: a.console,
        memory_mib: 2048,
        disk: Some(disk),
        data_disks: vec![(ksft, guest_provision::SELFTESTS_GUEST_PATH.into())],
        ..Default::default()
    };
    let run = guest_provision::boot(assets, &spec)?;
    let mut programs = ktap::parse_console(&run.serial);
    // Declared: every selected program reports, or fails as not run.
    for t in tests {
        if !programs.iter().any(|p| &p.name == t) {
            programs.push(Program {
                name: t.clone(),
                status: Status::Fail,
                reason: format!(
                    "did not run (guest ended {:?}); console tail: {}",
                    run.exit,
                    run.console_tail(6).replace('\n', " | ")
                ),
                seconds: 0.0,
                cases: Vec::new(),
            });
        }
    }
    programs.retain(|p| tests.contains(&p.name));
    std::fs::write(out.join(format!("{tag}.ktap")), ktap::raw_ktap(&run.serial))?;
    std::fs::write(
        out.join(format!("dmesg-{tag}.txt")),
        ktap::dmesg(&run.serial),
    )?;
    std::fs::write(
        out.join(format!("nic-stats-{tag}.txt")),
        ktap::nic_stat_deltas(&run.serial),
    )?;
    let setup = run.result("selftests-setup");
    Ok(Column {
        nic,
        completed: run.exit == guest_provision::GuestExit::Completed,
        setup: setup
            .map(|c| c.evidence.clone())
            .unwrap_or_else(|| format!("no set-up result; console: {}", run.console_tail(8))),
        setup_passed: setup.is_some_and(|c| c.passed),
        programs,
        boot_seconds: run.boot_seconds,
        total_seconds: run.total_seconds,
    })
}

/// What a personality is expected to do per program on a kernel series: the
/// program's verdict and each case's.
#[derive(Serialize, Deserialize, Default, Debug, Clone, PartialEq)]
pub struct Expected {
    pub program: BTreeMap<String, ExpectedProgram>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ExpectedProgram {
    pub status: Status,
    #[serde(default)]
    pub cases: BTreeMap<String, Status>,
}

fn expected_path(repo: &Path, p: PersonalityKind, series: &str) -> PathBuf {
    repo.join(EXPECTED_DIR)
        .join(format!("{}-{series}.json", p.name()))
}

/// How a run compares with its expectations.
#[derive(Serialize, Default, Debug)]
pub struct Comparison {
    /// Expected to pass and did not: each fails the run.
    pub regressions: Vec<String>,
    /// Passed where the expectations say otherwise (record them).
    pub newly_passing: Vec<String>,
    /// Ran, with no expectation recorded.
    pub unrecorded: Vec<String>,
}

pub fn compare(expected: &Expected, col: &Column) -> Comparison {
    let mut c = Comparison::default();
    for p in &col.programs {
        let Some(e) = expected.program.get(&p.name) else {
            c.unrecorded.push(p.name.clone());
            continue;
        };
        if e.status.is_pass() && !p.status.is_pass() {
            c.regressions.push(format!(
                "{}: expected {}, got {} {}",
                p.name,
                e.status.name(),
                p.status.name(),
                p.reason
            ));
        } else if !e.status.is_pass() && p.status.is_pass() {
            c.newly_passing.push(p.name.clone());
        }
        for (case, want) in &e.cases {
            let got = p.cases.iter().find(|x| &x.name == case);
            match got {
                Some(g) if want.is_pass() && !g.status.is_pass() => c.regressions.push(format!(
                    "{}: {case}: expected {}, got {} {}",
                    p.name,
                    want.name(),
                    g.status.name(),
                    g.reason
                )),
                Some(g) if !want.is_pass() && g.status.is_pass() => {
                    c.newly_passing.push(format!("{}: {case}", p.name))
                }
                None if want.is_pass() => c.regressions.push(format!(
                    "{}: {case}: expected {}, did not run",
                    p.name,
                    want.name()
                )),
                _ => {}
            }
        }
        for case in p.cases.iter().filter(|x| !e.cases.contains_key(&x.name)) {
            c.unrecorded.push(format!("{}: {}", p.name, case.name));
        }
    }
    c
}

/// The expectations with this column's programs recorded (the others kept).
pub fn record(mut expected: Expected, col: &Column) -> Expected {
    for p in &col.programs {
        expected.program.insert(
            p.name.clone(),
            ExpectedProgram {
                status: p.status,
                cases: p.cases.iter().map(|c| (c.name.clone(), c.status)).collect(),
            },
        );
    }
    expected
}

#[derive(Serialize)]
struct Report<'a> {
    personality: &'a str,
    kernel: &'a str,
    selftests_source: String,
    accel: String,
    passed: bool,
    columns: &'a [Column],
    /// Per column: the cases by status and the pass rate.
    totals: Vec<serde_json::Value>,
    expectations: Option<String>,
    comparison: &'a Comparison,
    /// Cases QEMU's NIC passes and tunic's does not (with `--baseline`).
    behind_baseline: &'a [String],
    device_counters: Vec<serde_json::Value>,
}

/// Cases (or whole programs) that pass on `base` and not on `col`.
fn behind(col: &Column, base: &Column) -> Vec<String> {
    let mut v = Vec::new();
    for b in &base.programs {
        let Some(t) = col.program(&b.name) else {
            continue;
        };
        if b.cases.is_empty() {
            if b.status.is_pass() && !t.status.is_pass() {
                v.push(b.name.clone());
            }
            continue;
        }
        for bc in b.cases.iter().filter(|c| c.status.is_pass()) {
            let ok = t
                .cases
                .iter()
                .any(|c| c.name == bc.name && c.status.is_pass());
            if !ok {
                v.push(format!("{}: {}", b.name, bc.name));
            }
        }
    }
    v
}

pub fn run(a: SelftestsArgs) -> anyhow::Result<()> {
    if a.baseline && a.personality == PersonalityKind::I40e {
        bail!("--baseline needs QEMU's own NIC of the same kind, and QEMU has no X710");
    }
    let assets = guest_provision::provision(&ProvisionOptions {
        progress: true,
        kernel_package: Some(a.kernel.clone()),
        selftests: true,
        ..Default::default()
    })?;
    let ksft = assets.selftests.clone().context("no selftests image")?;
    let installed = guest_provision::selftests_programs(&ksft)?;
    let selected = select(&a, &installed)?;
    let (tests, not_run) = set_aside_hangs(&a, selected);
    for p in &not_run {
        eprintln!("[tunic] {}: {}", p.name, p.reason);
    }
    if tests.is_empty() {
        bail!("every selected program is one that hangs the kernel with this driver; name it with --test to run it anyway");
    }
    let out = match &a.out {
        Some(o) => o.clone(),
        None => PathBuf::from("target/selftests").join(a.personality.name()),
    };
    let out = std::path::absolute(out)?;
    std::fs::create_dir_all(&out)?;
    let source = guest_provision::selftests_source(&ksft);

    let pair = WiredPair::start_as(&out, Pcaps::None, Default::default(), a.personality)?;
    let mut columns = vec![run_column(
        &assets,
        format!("tunic {}", a.personality.name()),
        pair.nics(),
        &a,
        &tests,
        &out,
        "tunic",
    )?];
    let counters = pair.counter_values();
    drop(pair);
    if a.baseline {
        columns.push(run_column(
            &assets,
            format!("qemu {}", qemu_kind(a.personality)),
            super::bench::qemu_pair(a.personality),
            &a,
            &tests,
            &out,
            "qemu",
        )?);
    }

    for c in &mut columns {
        c.programs.extend(not_run.iter().cloned());
    }

    let repo = std::env::current_dir()?;
    let series = guest_provision::kernel_series(&assets.kernel_release)
        .unwrap_or_else(|| assets.kernel_release.clone());
    let path = expected_path(&repo, a.personality, &series);
    let expected: Option<Expected> = match std::fs::read_to_string(&path) {
        Ok(text) => Some(
            serde_json::from_str(&text)
                .with_context(|| format!("reading the expectations {}", path.display()))?,
        ),
        Err(_) => None,
    };
    let tunic = &columns[0];
    let comparison = match &expected {
        Some(e) if !a.record_expected => compare(e, tunic),
        _ => Comparison::default(),
    };
    if a.record_expected {
        let new = record(expected.clone().unwrap_or_default(), tunic);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, serde_json::to_string_pretty(&new)? + "\n")?;
        println!("expectations written: {}", path.display());
    }
    let behind_baseline = columns.get(1).map(|b| behind(tunic, b)).unwrap_or_default();
    let healthy = columns.iter().all(|c| c.completed && c.setup_passed);
    let passed = healthy && comparison.regressions.is_empty();

    let report = Report {
        personality: a.personality.name(),
        kernel: &assets.kernel_release,
        selftests_source: source,
        accel: guest_provision::Accel::from(a.accel)
            .resolve()
            .map(|c| format!("{:?}", c.kind))
            .unwrap_or_default(),
        passed,
        columns: &columns,
        totals: columns
            .iter()
            .map(|c| {
                let t = c.tally();
                serde_json::json!({"nic": c.nic, "tally": t, "pass_rate": t.pass_rate()})
            })
            .collect(),
        expectations: expected.as_ref().map(|_| path.display().to_string()),
        comparison: &comparison,
        behind_baseline: &behind_baseline,
        device_counters: counters,
    };
    std::fs::write(
        out.join("report.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    std::fs::write(
        out.join("junit.xml"),
        junit(&assets.kernel_release, &columns),
    )?;
    std::fs::write(
        out.join("summary.md"),
        markdown(
            &assets.kernel_release,
            &guest_provision::selftests_source(&ksft),
            &columns,
        ),
    )?;
    print!("{}", table(&columns));
    for c in &columns {
        println!("{}: {}", c.nic, c.tally());
    }
    if a.baseline {
        println!(
            "passing on {} but not on {}: {}",
            columns[1].nic,
            columns[0].nic,
            if behind_baseline.is_empty() {
                "none".to_string()
            } else {
                behind_baseline.join("; ")
            }
        );
    }
    match &expected {
        None if !a.record_expected => println!(
            "note: no expectations recorded for {} on {series} ({}): record them with --record-expected",
            a.personality.name(),
            path.display()
        ),
        _ => {}
    }
    for n in &comparison.newly_passing {
        println!("newly passing (record it): {n}");
    }
    for n in &comparison.unrecorded {
        println!("note: no expectation recorded for {n}");
    }
    for r in &comparison.regressions {
        println!("REGRESSION {r}");
    }
    println!("report: {}", out.join("report.json").display());
    for c in columns.iter().filter(|c| !(c.completed && c.setup_passed)) {
        println!("{}: the guest did not finish the suite: {}", c.nic, c.setup);
    }
    if !passed {
        bail!("selftests failed");
    }
    Ok(())
}

/// The run as Markdown (`summary.md`): the per-program table, then every failing
/// case per column with its reason, for docs/selftests.md and for reviewers.
pub fn markdown(kernel: &str, source: &str, columns: &[Column]) -> String {
    let mut s = format!("Kernel {kernel}; selftests from {source}.\n\n| program |");
    for c in columns {
        let _ = write!(s, " {} |", c.nic);
    }
    s.push_str("\n|---|");
    s.push_str(&"---|".repeat(columns.len()));
    s.push('\n');
    if let Some(first) = columns.first() {
        for p in &first.programs {
            let _ = write!(s, "| `{}` |", p.name);
            for c in columns {
                let _ = write!(s, " {} |", cell(c.program(&p.name)));
            }
            s.push('\n');
        }
    }
    s.push_str("\nCells: cases passed/failed/skipped (+ expected failures the test declared), or the program's own verdict when it reports no cases.\n");
    for c in columns {
        let _ = write!(s, "\n**{}**: {}\n\n", c.nic, c.tally());
        for p in &c.programs {
            let failing: Vec<String> = match p.cases.is_empty() {
                true if p.status == Status::Fail => vec![format!("(program) {}", p.reason)],
                _ => p
                    .cases
                    .iter()
                    .filter(|k| k.status == Status::Fail)
                    .map(|k| format!("{} {}", k.name, k.reason))
                    .collect(),
            };
            for f in failing {
                let f: String = f.chars().take(240).collect();
                let _ = writeln!(s, "- `{}`: {}", p.name, f.replace('|', "\\|"));
            }
        }
    }
    s
}

fn qemu_kind(p: PersonalityKind) -> &'static str {
    match p {
        PersonalityKind::Igb | PersonalityKind::I40e => "igb",
        PersonalityKind::VirtioNet | PersonalityKind::VirtioNetPacked => "virtio-net-pci",
    }
}

/// `pass 7 / fail 1 / skip 2` of a program, or its own verdict when it has no cases.
fn cell(p: Option<&Program>) -> String {
    let Some(p) = p else {
        return "-".into();
    };
    if p.cases.is_empty() {
        return p.status.name().to_string();
    }
    let n = |s: Status| p.cases.iter().filter(|c| c.status == s).count();
    let xfail = match n(Status::Xfail) {
        0 => String::new(),
        x => format!(" +{x} xfail"),
    };
    format!(
        "{}/{}/{}{xfail}",
        n(Status::Pass),
        n(Status::Fail),
        n(Status::Skip)
    )
}

/// The per-program table: pass/fail/skip case counts per column.
pub fn table(columns: &[Column]) -> String {
    let mut s = format!("\n{:<34}", "program (cases pass/fail/skip)");
    for c in columns {
        let _ = write!(s, " {:<18}", c.nic);
    }
    s.push('\n');
    let Some(first) = columns.first() else {
        return s;
    };
    for p in &first.programs {
        let _ = write!(s, "{:<34}", p.name);
        for c in columns {
            let _ = write!(s, " {:<18}", cell(c.program(&p.name)));
        }
        s.push('\n');
    }
    s.push('\n');
    s
}

pub(super) fn junit(kernel: &str, columns: &[Column]) -> String {
    use super::conformance::xml_escape;
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    for c in columns {
        let mut cases = Vec::new();
        for p in &c.programs {
            if p.cases.is_empty() {
                cases.push((p.name.clone(), p.name.clone(), p.status, p.reason.clone()));
            }
            for k in &p.cases {
                cases.push((p.name.clone(), k.name.clone(), k.status, k.reason.clone()));
            }
        }
        let failures = cases.iter().filter(|c| c.2 == Status::Fail).count();
        let skipped = cases.iter().filter(|c| c.2 == Status::Skip).count();
        let seconds: f64 = c.programs.iter().map(|p| p.seconds).sum();
        let _ = writeln!(
            x,
            "  <testsuite name=\"kernel selftests on {} ({})\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\" time=\"{seconds:.1}\">",
            xml_escape(&c.nic),
            xml_escape(kernel),
            cases.len()
        );
        for (class, name, status, reason) in cases {
            let _ = write!(
                x,
                "    <testcase classname=\"{}\" name=\"{}\">",
                xml_escape(&class),
                xml_escape(&name)
            );
            match status {
                Status::Fail => {
                    let _ = write!(x, "<failure message=\"{}\"/>", xml_escape(&reason));
                }
                Status::Skip => {
                    let _ = write!(x, "<skipped message=\"{}\"/>", xml_escape(&reason));
                }
                _ => {}
            }
            x.push_str("</testcase>\n");
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use ktap::Case;

    fn installed() -> Vec<String> {
        [
            "drivers/net:ping.py",
            "drivers/net:stats.py",
            "drivers/net/hw:csum.py",
            "drivers/net/hw:tso.py",
            "drivers/net:queues.py",
            "drivers/net/hw:toeplitz.py",
            "drivers/net/hw:rss_api.py",
        ]
        .map(String::from)
        .to_vec()
    }

    #[test]
    fn names_resolve_in_every_form_and_unknown_ones_are_refused() {
        let i = installed();
        for n in [
            "csum.py",
            "hw/csum.py",
            "drivers/net/hw:csum.py",
            "drivers/net/hw/csum.py",
        ] {
            assert_eq!(resolve(n, &i).unwrap(), "drivers/net/hw:csum.py", "{n}");
        }
        assert_eq!(resolve("ping.py", &i).unwrap(), "drivers/net:ping.py");
        assert!(resolve("nope.py", &i).is_err());
    }

    #[test]
    fn shards_split_the_selection_stably_and_cover_it() {
        let i = installed();
        let mut all = Vec::new();
        for k in 1..=3 {
            let a = args(Some(Shard { k, n: 3 }));
            all.extend(select(&a, &i).unwrap());
        }
        all.sort();
        let mut want = i.clone();
        want.sort();
        assert_eq!(all, want);
    }

    #[test]
    fn a_program_that_hangs_the_kernel_is_a_skip_with_its_reason_unless_named() {
        let mut a = args(None);
        a.personality = PersonalityKind::I40e;
        let all = vec![
            "drivers/net:napi_threaded.py".to_string(),
            "drivers/net:ping.py".to_string(),
        ];
        let (run, not_run) = set_aside_hangs(&a, all.clone());
        assert_eq!(run, ["drivers/net:ping.py"]);
        assert_eq!(not_run.len(), 1);
        assert_eq!(not_run[0].status, Status::Skip);
        assert!(not_run[0].reason.contains("napi_stop_kthread"));
        a.tests = vec!["napi_threaded.py".into()];
        assert_eq!(set_aside_hangs(&a, all.clone()).0.len(), 2);
        a.personality = PersonalityKind::Igb;
        a.tests.clear();
        assert_eq!(set_aside_hangs(&a, all).0.len(), 2);
    }

    fn args(shard: Option<Shard>) -> SelftestsArgs {
        SelftestsArgs {
            personality: PersonalityKind::Igb,
            kernel: DEFAULT_KERNEL.into(),
            tests: Vec::new(),
            subset: None,
            shard,
            baseline: false,
            test_timeout: 600,
            out: None,
            accel: AccelArg::Auto,
            console: false,
            record_expected: false,
        }
    }

    fn column(cases: &[(&str, Status)]) -> Column {
        Column {
            nic: "tunic igb".into(),
            completed: true,
            setup: String::new(),
            setup_passed: true,
            programs: vec![Program {
                name: "drivers/net:ping.py".into(),
                status: if cases.iter().all(|c| c.1 != Status::Fail) {
                    Status::Pass
                } else {
                    Status::Fail
                },
                reason: String::new(),
                seconds: 1.0,
                cases: cases
                    .iter()
                    .map(|(n, s)| Case {
                        name: n.to_string(),
                        status: *s,
                        reason: String::new(),
                    })
                    .collect(),
            }],
            boot_seconds: 0.0,
            total_seconds: 0.0,
        }
    }

    #[test]
    fn a_recorded_pass_that_fails_or_vanishes_is_a_regression() {
        let good = column(&[("a", Status::Pass), ("b", Status::Fail)]);
        let e = record(Expected::default(), &good);
        assert!(compare(&e, &good).regressions.is_empty());
        let worse = column(&[("b", Status::Pass), ("a", Status::Skip)]);
        let c = compare(&e, &worse);
        assert_eq!(c.regressions.len(), 1, "{:?}", c.regressions);
        assert_eq!(c.newly_passing.len(), 2, "{:?}", c.newly_passing);
        let vanished = column(&[("b", Status::Fail)]);
        assert!(compare(&e, &vanished).regressions[0].contains("did not run"));
    }

    #[test]
    fn the_baseline_column_names_what_tunic_is_behind_on() {
        let tunic = column(&[("a", Status::Pass), ("b", Status::Fail)]);
        let qemu = column(&[("a", Status::Pass), ("b", Status::Pass)]);
        assert_eq!(behind(&tunic, &qemu), ["drivers/net:ping.py: b"]);
        assert!(behind(&qemu, &tunic).is_empty());
        let x = junit("7.3", &[tunic, qemu]);
        assert_eq!(x.matches("<testsuite ").count(), 2);
        assert_eq!(x.matches("<failure").count(), 1);
    }
}
