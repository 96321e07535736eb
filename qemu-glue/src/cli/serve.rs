//! `tunic serve`: NICs on vfio-user sockets, wired to a backend.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use qemu_glue::backend::channel::{ChannelSink, WireCounters};
use qemu_glue::backend::inject::Spec;
use qemu_glue::backend::ledger::CaseLedger;
use qemu_glue::backend::{stream, tap, BackendSpec};
use qemu_glue::port::{parse_mac, rx_channel, PcapSpec, PersonalityKind, Port, PortSpec};
use qemu_glue::timing::{TimingArg, TimingArgs};

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// vfio-user socket to listen on; give it twice for two ports wired together.
    #[arg(long = "socket", required = true, num_args = 1)]
    pub sockets: Vec<PathBuf>,
    /// Device personality.
    #[arg(long, value_parser = qemu_glue::port::personality_parser(), default_value = "igb")]
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

fn parse_inject(s: &str) -> Result<Spec, String> {
    qemu_glue::backend::inject::parse_spec(s)?
        .ok_or_else(|| "use LAYER=N (corrupt-l4, corrupt-ip, corrupt-inner-l4, corrupt-inner-ip, corrupt-outer-ip); omit --inject for none".to_string())
}

pub fn default_mac(i: usize) -> [u8; 6] {
    [0x52, 0x54, 0x00, 0x74, 0x75, (i + 1) as u8]
}

pub fn run(a: ServeArgs) -> anyhow::Result<()> {
    let n = a.sockets.len();
    if n > 2 {
        anyhow::bail!("at most two --socket (two ports wired together) per process");
    }
    if a.macs.len() > n || a.pcaps.len() > n {
        anyhow::bail!("more --mac or --pcap values than --socket values");
    }
    let backend = a.backend.clone().unwrap_or(if n == 2 {
        BackendSpec::Wire
    } else {
        BackendSpec::None
    });
    if n == 2 && backend != BackendSpec::Wire {
        anyhow::bail!(
            "two ports are wired to each other; give one --socket to use --backend {backend:?}"
        );
    }
    if n == 1 && backend == BackendSpec::Wire {
        anyhow::bail!("--backend wire needs two --socket values (the two ends of the wire)");
    }
    let signals = block_signals();
    let stop = Arc::new(AtomicBool::new(false));
    let ports = Arc::new(start_ports(&a, &backend, &stop, None)?);
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

/// Starts the ports of `a` on `backend`.
pub fn start_ports(
    a: &ServeArgs,
    backend: &BackendSpec,
    stop: &Arc<AtomicBool>,
    ledger: Option<&CaseLedger>,
) -> anyhow::Result<Vec<Port>> {
    let n = a.sockets.len();
    if a.timing.timing == TimingArg::Off
        && (a.timing.link_speed.is_some() || a.timing.pcie.is_some())
    {
        anyhow::bail!(
            "--link-speed and --pcie model a link: use them with --timing paced or virtual"
        );
    }
    let timing = a.timing.port_timing()?;
    let channels: Vec<_> = (0..n).map(|_| rx_channel()).collect();
    // One per direction: port i's frames its peer's queue could not take.
    let wires: Vec<Arc<WireCounters>> = (0..n).map(|_| Arc::default()).collect();
    let mut ports = Vec::new();
    for (i, socket) in a.sockets.iter().enumerate() {
        let (_, rx) = channels[i].clone();
        let sink: Box<dyn device_model::FrameSink> = match backend {
            BackendSpec::Wire => Box::new(ChannelSink::new(
                channels[1 - i].0.clone(),
                wires[i].clone(),
            )),
            BackendSpec::None => Box::new(device_model::NullSink),
            BackendSpec::StreamConnect(p) => stream::connect(p, channels[i].0.clone())?,
            BackendSpec::StreamListen(p) => stream::listen(p, channels[i].0.clone())?,
            BackendSpec::Tap(name) => tap::open(name, channels[i].0.clone())?,
        };
        let spec = PortSpec {
            socket: socket.clone(),
            personality: a.personality,
            mac: a.macs.get(i).copied().unwrap_or(default_mac(i)),
            inject_every: a.inject,
            test_hooks: a.test_hooks,
            case_marks: ledger.map(CaseLedger::sender),
            pcap: match &a.pcap_windows {
                Some(dir) => Some(PcapSpec::Windows {
                    dir: dir.clone(),
                    prefix: format!("port{i}"),
                }),
                None => a.pcaps.get(i).cloned().map(PcapSpec::File),
            },
        };
        let mut port = Port::start_timed(spec, &timing, sink, rx, stop.clone())?;
        if *backend == BackendSpec::Wire {
            port.set_wire_counters(wires[i].clone());
        }
        ports.push(port);
    }
    Ok(ports)
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
