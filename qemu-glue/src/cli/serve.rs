//! `tunic serve`: NICs on vfio-user sockets, wired to a backend.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use clap::ValueEnum;
use tunic_server::port::{parse_mac, PcapSpec, PersonalityKind, Port};
use tunic_server::timing::{parse_link_speed, parse_pcie, TimingArg, TimingArgs, TimingOverride};
use tunic_server::topology::{self, default_mac, PortPlan, Shared};
use tunic_wire::inject::Spec;
use tunic_wire::BackendSpec;

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// vfio-user socket to listen on; give it twice for two ports wired together.
    #[arg(long = "socket", required_unless_present = "ports", num_args = 1)]
    pub sockets: Vec<PathBuf>,
    /// One port, instead of --socket: socket=PATH[,personality=P][,mac=MAC][,backend=B][,pcap=FILE]
    /// [,timing=T][,link-speed=S][,pcie=L]. Repeat for any number of ports. backend defaults
    /// to none with one port, wire with two and switch (the built-in learning switch joining
    /// every switch port) with more; personality defaults to --personality; timing,
    /// link-speed and pcie to --timing, --link-speed and --pcie. Paths may not contain commas.
    #[arg(long = "port", value_parser = parse_port, conflicts_with_all = ["sockets", "macs", "pcaps", "backend"])]
    pub ports: Vec<PortArg>,
    /// Device personality.
    #[arg(long, value_parser = tunic_server::port::personality_parser(), default_value = "igb")]
    pub personality: PersonalityKind,
    /// Where each port's wire goes: wire (the two ports back to back; the default with two
    /// sockets), none (the default with one), stream:connect=PATH, stream:listen=PATH, tap:NAME.
    #[arg(long)]
    pub backend: Option<BackendSpec>,
    /// MAC address per port, in socket order (default 52:54:00:74:75:NN).
    #[arg(long = "mac", value_parser = parse_mac)]
    pub macs: Vec<[u8; 6]>,
    /// Record each port's traffic to a pcap file, in socket order.
    #[arg(long = "pcap")]
    pub pcaps: Vec<PathBuf>,
    /// Instead of --pcap: record case windows opened by marker frames into DIR/portN-NAME.pcap.
    #[arg(long, conflicts_with = "pcaps")]
    pub pcap_windows: Option<PathBuf>,
    /// Receive fault injection on every port: corrupt-l4=N flips a TCP/UDP payload bit of
    /// every Nth frame received, so the NIC must report a bad checksum; corrupt-ip=N an
    /// IPv4 header checksum bit; corrupt-inner-l4=N, corrupt-inner-ip=N and
    /// corrupt-outer-ip=N the same in the layers of NVGRE frames.
    #[arg(long, value_parser = parse_inject)]
    pub inject: Option<Spec>,
    /// Let `inject=` marker frames from the wire switch fault injection on and off (what
    /// the conformance suite does). Off by default: no wire peer can switch it on.
    #[arg(long)]
    pub test_hooks: bool,
    #[command(flatten)]
    pub timing: TimingArgs,
    /// Rewrite FILE every second (and at exit) with every port's counters and, when
    /// timed, its per-queue timing statistics; `tunic stats FILE` prints them.
    #[arg(long)]
    pub stats_file: Option<PathBuf>,
}

/// One `--port` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortArg {
    pub socket: PathBuf,
    pub personality: Option<PersonalityKind>,
    pub mac: Option<[u8; 6]>,
    pub backend: Option<BackendSpec>,
    pub pcap: Option<PathBuf>,
    pub timing: TimingOverride,
}

const PORT_KEYS: &str = "socket, personality, mac, backend, pcap, timing, link-speed or pcie";

fn parse_port(s: &str) -> Result<PortArg, String> {
    let mut socket = None;
    let mut port = PortArg {
        socket: PathBuf::new(),
        personality: None,
        mac: None,
        backend: None,
        pcap: None,
        timing: TimingOverride::default(),
    };
    for field in s.split(',') {
        let Some((key, value)) = field.split_once('=') else {
            return Err(format!("'{field}': expected KEY=VALUE ({PORT_KEYS})"));
        };
        let twice = || format!("'{key}' given twice in '{s}'");
        match key {
            "socket" if socket.is_none() && !value.is_empty() => {
                socket = Some(PathBuf::from(value))
            }
            "personality" if port.personality.is_none() => {
                port.personality = Some(value.parse().map_err(|e| format!("{e}"))?)
            }
            "mac" if port.mac.is_none() => port.mac = Some(parse_mac(value)?),
            "backend" if port.backend.is_none() => port.backend = Some(value.parse()?),
            "pcap" if port.pcap.is_none() && !value.is_empty() => port.pcap = Some(value.into()),
            "timing" if port.timing.mode.is_none() => {
                port.timing.mode = Some(
                    TimingArg::from_str(value, true)
                        .map_err(|_| format!("timing '{value}': expected off, paced or virtual"))?,
                )
            }
            "link-speed" if port.timing.link_speed.is_none() => {
                port.timing.link_speed = Some(parse_link_speed(value)?)
            }
            "pcie" if port.timing.pcie.is_none() => port.timing.pcie = Some(parse_pcie(value)?),
            "socket" | "personality" | "mac" | "backend" | "pcap" | "timing" | "link-speed"
            | "pcie"
                if !value.is_empty() =>
            {
                return Err(twice())
            }
            "socket" | "pcap" => return Err(format!("'{key}' needs a path")),
            _ => return Err(format!("unknown key '{key}': expected {PORT_KEYS}")),
        }
    }
    port.socket = socket.ok_or_else(|| format!("'{s}': socket=PATH is required"))?;
    Ok(port)
}

fn parse_inject(s: &str) -> Result<Spec, String> {
    tunic_wire::inject::parse_spec(s)?
        .ok_or_else(|| "use LAYER=N (corrupt-l4, corrupt-ip, corrupt-inner-l4, corrupt-inner-ip, corrupt-outer-ip); omit --inject for none".to_string())
}

pub fn run(a: ServeArgs) -> anyhow::Result<()> {
    let plans = plans(&a)?;
    topology::validate(&plans)?;
    a.timing.check()?;
    let signals = block_signals();
    let stop = Arc::new(AtomicBool::new(false));
    let shared = Shared {
        timing: a.timing.port_timing()?,
        inject: a.inject,
        test_hooks: a.test_hooks,
        ledger: None,
    };
    let ports = Arc::new(topology::start(&plans, &shared, &stop)?);
    print_qemu_usage(&ports);
    if let Some(path) = &a.stats_file {
        super::stats::write_every_second(path.clone(), ports.clone())?;
    }
    // Serve until killed; the socket files are removed by the signal handler.
    let sockets: Vec<PathBuf> = ports.iter().map(|p| p.socket().to_path_buf()).collect();
    wait_for_signal(&signals, &sockets);
    for p in ports.iter() {
        p.flush();
    }
    if let Some(path) = &a.stats_file {
        super::stats::write(path, &ports)?;
    }
    Ok(())
}

/// The ports `a` asks for.
pub fn plans(a: &ServeArgs) -> anyhow::Result<Vec<PortPlan>> {
    let windows = |i: usize| {
        a.pcap_windows.as_ref().map(|dir| PcapSpec::Windows {
            dir: dir.clone(),
            prefix: format!("port{i}"),
        })
    };
    if !a.ports.is_empty() {
        let n = a.ports.len();
        let default = match n {
            1 => BackendSpec::None,
            2 => BackendSpec::Wire,
            _ => BackendSpec::Switch,
        };
        return Ok(a
            .ports
            .iter()
            .enumerate()
            .map(|(i, p)| PortPlan {
                socket: p.socket.clone(),
                personality: p.personality.unwrap_or(a.personality),
                mac: p.mac.unwrap_or(default_mac(i)),
                backend: p.backend.clone().unwrap_or(default.clone()),
                pcap: p.pcap.clone().map(PcapSpec::File).or_else(|| windows(i)),
                timing: p.timing,
            })
            .collect());
    }
    let n = a.sockets.len();
    if n > 2 {
        anyhow::bail!("at most two --socket values; give each port as --port socket=PATH,... for more (they share the built-in switch)");
    }
    if a.macs.len() > n || a.pcaps.len() > n {
        anyhow::bail!("more --mac or --pcap values than --socket values");
    }
    let backend = a.backend.clone().unwrap_or(if n == 2 {
        BackendSpec::Wire
    } else {
        BackendSpec::None
    });
    if n == 2 && backend != BackendSpec::Wire && backend != BackendSpec::Switch {
        anyhow::bail!(
            "two ports are wired to each other; give one --socket to use --backend {backend:?}, or use --port for each"
        );
    }
    Ok(a.sockets
        .iter()
        .enumerate()
        .map(|(i, socket)| PortPlan {
            socket: socket.clone(),
            personality: a.personality,
            mac: a.macs.get(i).copied().unwrap_or(default_mac(i)),
            backend: backend.clone(),
            pcap: a
                .pcaps
                .get(i)
                .cloned()
                .map(PcapSpec::File)
                .or_else(|| windows(i)),
            timing: TimingOverride::default(),
        })
        .collect())
}

fn print_qemu_usage(ports: &[Port]) {
    println!("tunic: serving {} port(s). Start QEMU (>= 10.1) with shared guest RAM and one device per socket:", ports.len());
    println!(
        "  -object memory-backend-memfd,id=mem,size=1G,share=on -machine q35,memory-backend=mem \\"
    );
    for p in ports {
        println!(
            "  -device '{{\"driver\":\"vfio-user-pci\",\"socket\":{{\"path\":\"{}\",\"type\":\"unix\"}}}}' \\",
            p.socket().display()
        );
    }
    println!("Stop with Ctrl-C.");
}

/// Blocks SIGINT and SIGTERM in this thread and every thread started after it,
/// so that [`wait_for_signal`] receives them.
pub fn block_signals() -> libc::sigset_t {
    // SAFETY: plain sigset manipulation on a zeroed sigset_t.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

/// Waits for SIGINT or SIGTERM, then removes the sockets.
fn wait_for_signal(set: &libc::sigset_t, sockets: &[PathBuf]) {
    let mut sig = 0;
    // SAFETY: sigwait on a set of signals blocked in all threads.
    unsafe {
        libc::sigwait(set, &mut sig);
    }
    for s in sockets {
        let _ = std::fs::remove_file(s);
    }
}
