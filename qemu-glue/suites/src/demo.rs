//! `tunic demo`: provision QEMU and a Debian guest, serve two wired tunic NICs,
//! boot, and show the guest's `igb` driver working across them.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use guest_provision::{Accel, GuestSpec, Nic, ProvisionOptions};
use tunic_server::port::{PcapSpec, PersonalityKind, PortCounters};
use tunic_server::timing::{TimingArgs, TimingOverride};
use tunic_server::topology::{self, PortPlan, Shared};
use tunic_wire::BackendSpec;

use tunic_server::topology::default_mac;
use tunic_wire::ledger::CaseLedger;

const DEMO_SCRIPT: &str = include_str!("guest/demo.sh");

#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Seconds of iperf3 traffic.
    #[arg(long, default_value_t = 10)]
    pub seconds: u32,
    /// Show the guest's serial console as it boots.
    #[arg(long)]
    pub console: bool,
    /// Accelerator: auto (KVM when it really runs a guest, else TCG), kvm or tcg.
    #[arg(long, default_value = "auto")]
    pub accel: AccelArg,
    /// Directory for the pcaps of both ports and the console log.
    #[arg(long, default_value = "target/demo")]
    pub out: PathBuf,
    /// Device personality of both NICs.
    #[arg(long, value_parser = tunic_server::port::personality_parser(), default_value = "igb")]
    pub personality: PersonalityKind,
}

/// The guest driver that binds a personality.
pub fn guest_driver(p: PersonalityKind) -> &'static str {
    p.guest_driver()
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum AccelArg {
    Auto,
    Kvm,
    Tcg,
}

impl From<AccelArg> for Accel {
    fn from(a: AccelArg) -> Self {
        match a {
            AccelArg::Auto => Accel::Auto,
            AccelArg::Kvm => Accel::Kvm,
            AccelArg::Tcg => Accel::Tcg,
        }
    }
}

/// What a wired pair records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pcaps {
    None,
    /// All traffic of each port in `portN.pcap`.
    Full,
    /// Case windows opened by marker frames, `portN-CASE.pcap`.
    Windows,
}

/// Two tunic ports wired together, served from this process, sockets in `dir`.
pub struct WiredPair {
    pub ports: Vec<tunic_server::port::Port>,
    /// With case windows: both ports' counters at every window mark.
    pub ledger: Option<CaseLedger>,
    stop: Arc<AtomicBool>,
}

impl WiredPair {
    /// Two ports of `personality`, both timed by `timing`.
    pub fn start_as(
        dir: &std::path::Path,
        pcaps: Pcaps,
        timing: TimingArgs,
        personality: PersonalityKind,
    ) -> anyhow::Result<Self> {
        Self::start_on(
            dir,
            pcaps,
            timing,
            personality,
            vec![BackendSpec::Wire, BackendSpec::Wire],
        )
    }

    /// One port of `personality` per backend (two `Wire`s make the pair; one
    /// `StreamListen` is a single NIC facing a QEMU `-netdev stream` peer).
    pub fn start_on(
        dir: &std::path::Path,
        pcaps: Pcaps,
        timing: TimingArgs,
        personality: PersonalityKind,
        backends: Vec<BackendSpec>,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let sockets: Vec<PathBuf> = (0..backends.len())
            .map(|i| dir.join(format!("tunic{i}.sock")))
            .collect();
        for s in &sockets {
            let _ = std::fs::remove_file(s);
        }
        timing.check()?;
        let plans: Vec<PortPlan> = sockets
            .into_iter()
            .zip(backends)
            .enumerate()
            .map(|(i, (socket, backend))| PortPlan {
                socket,
                personality,
                mac: default_mac(i),
                backend,
                pcap: match pcaps {
                    Pcaps::Full => Some(PcapSpec::File(dir.join(format!("port{i}.pcap")))),
                    Pcaps::Windows => Some(PcapSpec::Windows {
                        dir: dir.to_path_buf(),
                        prefix: format!("port{i}"),
                    }),
                    _ => None,
                },
                timing: TimingOverride::default(),
            })
            .collect();
        let stop = Arc::new(AtomicBool::new(false));
        let ledger = (pcaps == Pcaps::Windows).then(CaseLedger::default);
        let shared = Shared {
            timing: timing.port_timing()?,
            inject: None,
            // The conformance suite (case windows) switches fault injection with markers.
            test_hooks: pcaps == Pcaps::Windows,
            ledger: ledger.as_ref(),
        };
        let ports = topology::start(&plans, &shared, &stop)?;
        if let Some(l) = &ledger {
            l.start(
                ports.iter().map(|p| p.counter_source()).collect(),
                stop.clone(),
            )?;
        }
        Ok(Self {
            ports,
            ledger,
            stop,
        })
    }

    pub fn nics(&self) -> Vec<Nic> {
        self.ports
            .iter()
            .map(|p| Nic::VfioUser {
                socket: p.socket().to_path_buf(),
            })
            .collect()
    }

    /// Both ports' counters, in port order.
    pub fn counters(&self) -> Vec<PortCounters> {
        self.ports.iter().map(|p| p.counters()).collect()
    }

    /// Both ports' counters as JSON, for reports and checks by name.
    pub fn counter_values(&self) -> Vec<serde_json::Value> {
        self.ports.iter().map(|p| p.counters().to_json()).collect()
    }
}

impl Drop for WiredPair {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for p in &self.ports {
            p.flush();
            let _ = std::fs::remove_file(p.socket());
        }
    }
}

pub fn run(a: DemoArgs) -> anyhow::Result<()> {
    let assets = guest_provision::provision(&ProvisionOptions {
        progress: true,
        ..Default::default()
    })?;
    eprintln!(
        "[tunic] guest kernel {} ({})",
        assets.kernel_release, assets.kernel_package
    );
    let out = std::path::absolute(&a.out)?;
    let pair = WiredPair::start_as(&out, Pcaps::Full, TimingArgs::default(), a.personality)?;
    eprintln!(
        "[tunic] serving two {} ports on {} and {}",
        guest_driver(a.personality),
        pair.ports[0].socket().display(),
        pair.ports[1].socket().display()
    );
    let spec = GuestSpec {
        nics: pair.nics(),
        script: format!(
            "TUNIC_IPERF_SECONDS={}\nTUNIC_DRIVER={}\n{DEMO_SCRIPT}",
            a.seconds,
            guest_driver(a.personality)
        ),
        timeout: Duration::from_secs(240 + u64::from(a.seconds)),
        accel: a.accel.into(),
        console_log: Some(out.join("console.log")),
        echo_console: a.console,
        ..Default::default()
    };
    let run = guest_provision::boot(&assets, &spec)?;
    println!();
    println!("{:<24} {:<6} evidence", "check", "result");
    for r in &run.results {
        println!(
            "{:<24} {:<6} {}",
            r.name,
            if r.passed { "pass" } else { "FAIL" },
            r.evidence
        );
    }
    println!();
    for (i, c) in pair.counter_values().iter().enumerate() {
        println!("port{i} counters: {c}");
    }
    println!("pcaps and console log: {}", out.display());
    if !run.passed() {
        anyhow::bail!("the demo failed; console tail:\n{}", run.console_tail(30));
    }
    println!(
        "demo passed: {} checks (boot {:.1} s)",
        run.results.len(),
        run.boot_seconds
    );
    Ok(())
}
