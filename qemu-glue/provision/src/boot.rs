//! Booting a guest: the QEMU command line, console capture, the timeout and
//! the clean-up of the QEMU process.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use super::accel::{Accel, AccelChoice, AccelKind};
use super::guest_script::{
    marker, parse_results, parse_script_exit, CaseResult, BOOTED, DONE, GUEST_INIT, GUEST_LIB,
};
use super::initramfs::run_archive;
use super::qemu_root::loader_command;
use super::util::{sweep_stale_scratch, tail, ScratchDir};
use super::Assets;

/// Per-run scratch directories (holding the run's initramfs) in `$TMPDIR`.
const RUN_DIR_PREFIX: &str = "tunic-run-";

/// How long QEMU may take to exit after the guest printed `TUNIC-DONE`.
const POWEROFF_GRACE: Duration = Duration::from_secs(10);

/// A NIC of the guest. NICs are created in order, so the guest enumerates
/// them in the same order by PCI address (`nics_by_driver`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Nic {
    /// A vfio-user device (tunic's NIC). The server must already listen on
    /// `socket` (any host path) when the guest is spawned.
    VfioUser { socket: PathBuf },
    /// QEMU's own emulated Intel 82576 (igb), attached to QEMU hub `hub`;
    /// NICs on the same hub see each other's frames.
    QemuIgb { hub: u32, mac: [u8; 6] },
    /// QEMU's own virtio-net (`virtio-net-pci`, modern only: 1AF4:1041), attached
    /// to QEMU hub `hub` like [`Nic::QemuIgb`].
    QemuVirtioNet { hub: u32, mac: [u8; 6] },
    /// QEMU's own NIC of `model` on a `-netdev stream` Unix socket at `path`:
    /// listening there when `listen`, otherwise connecting to it (a tunic port
    /// with `stream:listen=`, or a QEMU NIC earlier in `GuestSpec::nics` that
    /// listens). The link between two processes that `tunic bench --topology
    /// stream` measures.
    QemuStream {
        model: QemuNicModel,
        mac: [u8; 6],
        path: PathBuf,
        listen: bool,
    },
}

/// Which of QEMU's own NICs a [`Nic::QemuStream`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QemuNicModel {
    Igb,
    VirtioNet,
}

impl QemuNicModel {
    /// QEMU's `-device` driver name and options for the model.
    fn device(self) -> &'static str {
        match self {
            Self::Igb => "igb",
            Self::VirtioNet => "virtio-net-pci,disable-legacy=on",
        }
    }
}

fn mac_text(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// What to boot and run.
#[derive(Debug, Clone)]
pub struct GuestSpec {
    pub nics: Vec<Nic>,
    /// Shell script (busybox ash) run by `/init` with the guest library
    /// ([`super::GUEST_LIB`]) sourced.
    pub script: String,
    pub memory_mib: u32,
    pub cpus: u32,
    /// Hard limit for the whole run, boot included.
    pub timeout: Duration,
    pub accel: Accel,
    /// Also write the serial console to this file (as it arrives).
    pub console_log: Option<PathBuf>,
    /// Echo the serial console and QEMU's stderr to stderr as they arrive.
    pub echo_console: bool,
    /// Appended to the kernel command line.
    pub extra_kernel_args: Vec<String>,
    /// Appended to the QEMU command line.
    pub extra_qemu_args: Vec<String>,
    /// Host files copied into the guest as executables: (guest path, host path).
    pub extra_files: Vec<(String, PathBuf)>,
    /// Run the script chrooted into this ext4 image (the full Debian guest), on a
    /// virtio disk with `snapshot=on`; `/tunic` is bind-mounted into it.
    pub disk: Option<PathBuf>,
    /// More ext4 images for the full guest, each on its own virtio disk with
    /// `snapshot=on`, mounted at the given path inside it (`/opt/ksft`).
    pub data_disks: Vec<(PathBuf, String)>,
}

impl Default for GuestSpec {
    fn default() -> Self {
        Self {
            nics: Vec::new(),
            script: String::new(),
            memory_mib: 1024,
            cpus: 2,
            timeout: Duration::from_secs(300),
            accel: Accel::Auto,
            console_log: None,
            echo_console: false,
            extra_kernel_args: Vec::new(),
            extra_qemu_args: Vec::new(),
            extra_files: Vec::new(),
            disk: None,
            data_disks: Vec::new(),
        }
    }
}

/// How the guest ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GuestExit {
    /// The script ran to the end (`TUNIC-DONE`).
    Completed,
    /// The kernel panicked before the script finished.
    KernelPanic,
    /// QEMU exited before `TUNIC-DONE` for another reason.
    Incomplete { qemu_status: Option<i32> },
}

/// The outcome of a guest run.
#[derive(Debug, Clone, Serialize)]
pub struct GuestRun {
    /// The whole serial console.
    pub serial: String,
    pub results: Vec<CaseResult>,
    pub exit: GuestExit,
    /// The script's exit status (`TUNIC-SCRIPT-EXIT`).
    pub script_exit: Option<i32>,
    pub accel_used: AccelChoice,
    /// Host seconds from starting QEMU to `/init` running.
    pub boot_seconds: f64,
    /// Host seconds from starting QEMU to QEMU exiting.
    pub total_seconds: f64,
    pub qemu_stderr: String,
    /// The QEMU command line, for reproducing a run by hand.
    pub qemu_command: Vec<String>,
}

impl GuestRun {
    /// Completed, script exited 0, at least one result and no failures.
    pub fn passed(&self) -> bool {
        self.exit == GuestExit::Completed
            && self.script_exit == Some(0)
            && !self.results.is_empty()
            && self.results.iter().all(|r| r.passed)
    }

    pub fn failures(&self) -> impl Iterator<Item = &CaseResult> {
        self.results.iter().filter(|r| !r.passed)
    }

    pub fn result(&self, name: &str) -> Option<&CaseResult> {
        self.results.iter().find(|r| r.name == name)
    }

    /// The last `lines` lines of the console.
    pub fn console_tail(&self, lines: usize) -> String {
        tail(&self.serial, lines)
    }
}

/// Boots a guest, runs `spec.script` and waits for it (see [`spawn`]).
pub fn boot(assets: &Assets, spec: &GuestSpec) -> Result<GuestRun> {
    spawn(assets, spec)?.wait()
}

#[derive(Default)]
struct Console {
    serial: String,
    booted_at: Option<Instant>,
    done_at: Option<Instant>,
}

/// A running guest. Dropping it kills QEMU; QEMU is also killed (SIGKILL)
/// when the thread that called [`spawn`] exits, so keep that thread alive
/// for the guest's lifetime.
pub struct RunningGuest {
    child: Child,
    console: Arc<Mutex<Console>>,
    readers: Vec<JoinHandle<()>>,
    qemu_stderr: Arc<Mutex<String>>,
    started: Instant,
    timeout: Duration,
    accel: AccelChoice,
    qemu_command: Vec<String>,
    _run_dir: ScratchDir,
}

/// Starts QEMU with the cached kernel and initramfs plus a per-run archive
/// carrying `spec.script`. Returns once QEMU is running.
pub fn spawn(assets: &Assets, spec: &GuestSpec) -> Result<RunningGuest> {
    for nic in &spec.nics {
        if let Nic::VfioUser { socket } = nic {
            if !socket.exists() {
                bail!(
                    "vfio-user socket {} does not exist: start the server before the guest",
                    socket.display()
                );
            }
        }
    }
    let accel = spec.accel.resolve()?;
    if accel.kind == AccelKind::Tcg {
        eprintln!(
            "[tunic] accelerator: TCG, software emulation ({}); set TUNIC_ACCEL=kvm to force KVM",
            accel.reason
        );
    }

    let tmp = std::env::temp_dir();
    sweep_stale_scratch(&tmp, RUN_DIR_PREFIX);
    let run_dir = ScratchDir::new(&tmp, RUN_DIR_PREFIX)?;
    let initrd = run_dir.0.join("initrd.cpio");
    {
        let mut data = fs::read(&assets.initramfs)
            .with_context(|| format!("reading {}", assets.initramfs.display()))?;
        data.extend(run_archive(
            GUEST_INIT,
            GUEST_LIB,
            &spec.script,
            &spec.extra_files,
        )?);
        fs::write(&initrd, data)?;
    }

    let args = qemu_args(assets, spec, &accel, &initrd)?;
    let mut cmd = loader_command(&assets.qemu_root, "usr/bin/qemu-system-x86_64");
    cmd.args(&args)
        .env(
            "QEMU_MODULE_DIR",
            assets.qemu_root.join("usr/lib/x86_64-linux-gnu/qemu"),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: prctl is async-signal-safe; nothing else runs in the child.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let qemu_command: Vec<String> = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut log = match &spec.console_log {
        Some(path) => {
            Some(File::create(path).with_context(|| format!("creating {}", path.display()))?)
        }
        None => None,
    };

    // Nothing below may fail before `RunningGuest` owns the child.
    let started = Instant::now();
    let mut child = cmd.spawn().context("starting QEMU")?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let console = Arc::new(Mutex::new(Console::default()));
    let qemu_stderr = Arc::new(Mutex::new(String::new()));
    let echo = spec.echo_console;
    let console_in = Arc::clone(&console);
    let serial_reader = thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut buf = Vec::new();
        while matches!(reader.read_until(b'\n', &mut buf), Ok(n) if n > 0) {
            let line = String::from_utf8_lossy(&buf);
            let line = line.trim_end_matches(['\n', '\r']);
            if let Some(log) = log.as_mut() {
                let _ = writeln!(log, "{line}");
            }
            if echo {
                eprintln!("[guest] {line}");
            }
            let mut c = console_in.lock().unwrap_or_else(|e| e.into_inner());
            c.serial.push_str(line);
            c.serial.push('\n');
            if c.booted_at.is_none() && marker(line, BOOTED).is_some() {
                c.booted_at = Some(Instant::now());
            }
            if marker(line, DONE).is_some() {
                c.done_at = Some(Instant::now());
            }
            buf.clear();
        }
    });
    let stderr_out = Arc::clone(&qemu_stderr);
    let stderr_reader = thread::spawn(move || {
        let mut text = String::new();
        let _ = BufReader::new(stderr).read_to_string(&mut text);
        if echo && !text.is_empty() {
            eprintln!("[qemu] {}", text.trim_end());
        }
        *stderr_out.lock().unwrap_or_else(|e| e.into_inner()) = text;
    });

    Ok(RunningGuest {
        child,
        console,
        readers: vec![serial_reader, stderr_reader],
        qemu_stderr,
        started,
        timeout: spec.timeout,
        accel,
        qemu_command,
        _run_dir: run_dir,
    })
}

fn qemu_args(
    assets: &Assets,
    spec: &GuestSpec,
    accel: &AccelChoice,
    initrd: &std::path::Path,
) -> Result<Vec<String>> {
    let root = &assets.qemu_root;
    let mem = spec.memory_mib;
    let mut cmdline = vec![
        "console=ttyS0",
        "quiet",
        "loglevel=3",
        "panic=-1",
        "rdinit=/init",
        "mitigations=off",
        // Under TCG, khugepaged collapsing pages copies memory slowly enough to stall
        // RCU for over 20 s (seen in a full selftests run: every command in the guest
        // timed out meanwhile). No guest here needs transparent huge pages; DPDK
        // reserves its own hugetlbfs pages.
        "transparent_hugepage=never",
    ]
    .into_iter()
    .map(str::to_string)
    .collect::<Vec<_>>();
    if spec.disk.is_some() {
        cmdline.push("tunic.root=/dev/vda".into());
        // The data disks follow the root disk: vdb, vdc, ...
        for (i, (_, at)) in spec.data_disks.iter().enumerate() {
            let dev = char::from(b'b' + i as u8);
            cmdline.push(format!("tunic.mount=/dev/vd{dev}:{at}"));
        }
    } else if !spec.data_disks.is_empty() {
        bail!("data disks are mounted inside the full guest image: set GuestSpec::disk too");
    }
    if spec.data_disks.len() > 8 {
        bail!("at most 8 data disks");
    }
    cmdline.extend(spec.extra_kernel_args.iter().cloned());

    let mut a: Vec<String> = Vec::new();
    let mut push = |items: &[&str]| a.extend(items.iter().map(|s| s.to_string()));
    push(&["-L", &root.join("usr/share/qemu").to_string_lossy()]);
    push(&["-L", &root.join("usr/share/seabios").to_string_lossy()]);
    push(&[
        "-no-user-config",
        "-nodefaults",
        "-display",
        "none",
        "-no-reboot",
    ]);
    push(&[
        "-object",
        &format!("memory-backend-memfd,id=mem,size={mem}M,share=on"),
        "-machine",
        "q35,memory-backend=mem",
        "-m",
        &format!("{mem}M"),
    ]);
    push(&accel.qemu_args());
    push(&["-smp", &spec.cpus.to_string()]);
    push(&[
        "-kernel",
        &assets.kernel.to_string_lossy(),
        "-initrd",
        &initrd.to_string_lossy(),
        "-append",
        &cmdline.join(" "),
    ]);
    push(&[
        "-chardev",
        "stdio,id=console,signal=off",
        "-serial",
        "chardev:console",
    ]);
    // Each NIC sits alone behind its own PCIe root port (igb reserves the
    // function numbers of its SR-IOV VFs on its bus, so two cannot share
    // pcie.0); the ports are created in order, so bus numbers follow
    // `spec.nics`.
    for (i, nic) in spec.nics.iter().enumerate() {
        let port = format!("nicport{i}");
        push(&[
            "-device",
            &format!(
                "pcie-root-port,id={port},bus=pcie.0,chassis={},slot={}",
                i + 1,
                i + 1
            ),
        ]);
        match nic {
            Nic::VfioUser { socket } => {
                let device = serde_json::json!({
                    "driver": "vfio-user-pci",
                    "bus": port,
                    "socket": { "path": socket.to_string_lossy(), "type": "unix" },
                });
                push(&["-device", &device.to_string()]);
            }
            Nic::QemuIgb { hub, mac } | Nic::QemuVirtioNet { hub, mac } => {
                let mac = mac_text(mac);
                let device = match nic {
                    Nic::QemuVirtioNet { .. } => QemuNicModel::VirtioNet.device(),
                    _ => QemuNicModel::Igb.device(),
                };
                push(&[
                    "-netdev",
                    &format!("hubport,id=nic{i},hubid={hub}"),
                    "-device",
                    &format!("{device},bus={port},netdev=nic{i},mac={mac}"),
                ]);
            }
            Nic::QemuStream {
                model,
                mac,
                path,
                listen,
            } => {
                let path = path.to_string_lossy().replace(',', ",,");
                let server = if *listen { "on" } else { "off" };
                push(&[
                    "-netdev",
                    &format!("stream,id=nic{i},server={server},addr.type=unix,addr.path={path}"),
                    "-device",
                    &format!(
                        "{},bus={port},netdev=nic{i},mac={}",
                        model.device(),
                        mac_text(mac)
                    ),
                ]);
            }
        }
    }
    if let Some(disk) = &spec.disk {
        // snapshot=on: the guest's writes go to a temporary overlay, never the cache.
        let drive = format!(
            "file={},if=virtio,format=raw,snapshot=on,cache=unsafe",
            disk.to_string_lossy().replace(',', ",,")
        );
        a.extend(["-drive".to_string(), drive]);
    }
    for (image, _) in &spec.data_disks {
        let drive = format!(
            "file={},if=virtio,format=raw,snapshot=on,cache=unsafe",
            image.to_string_lossy().replace(',', ",,")
        );
        a.extend(["-drive".to_string(), drive]);
    }
    a.extend(spec.extra_qemu_args.iter().cloned());
    Ok(a)
}

impl RunningGuest {
    /// QEMU's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The console so far.
    pub fn serial(&self) -> String {
        self.lock_console().serial.clone()
    }

    /// Waits for the guest to power off (or for the timeout, which kills
    /// QEMU and fails with the tail of the console).
    pub fn wait(mut self) -> Result<GuestRun> {
        let deadline = self.started + self.timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait()? {
                break status;
            }
            let done_at = self.lock_console().done_at;
            if done_at.is_some_and(|t| t.elapsed() > POWEROFF_GRACE) {
                // The script finished but the guest did not power off.
                break self.kill_and_reap()?;
            }
            if Instant::now() >= deadline {
                self.kill_and_reap()?;
                self.join_readers();
                bail!(
                    "guest did not finish within {} s (accelerator {:?}); last console lines:\n{}\n\
                     QEMU stderr:\n{}",
                    self.timeout.as_secs(),
                    self.accel.kind,
                    tail(&self.serial(), 40),
                    tail(&self.stderr(), 10),
                );
            }
            thread::sleep(Duration::from_millis(50));
        };
        let total_seconds = self.started.elapsed().as_secs_f64();
        self.join_readers();
        let console = std::mem::take(&mut *self.lock_console());
        let qemu_stderr = self.stderr();
        let serial = console.serial;

        let Some(booted_at) = console.booted_at else {
            if !status.success() {
                bail!(
                    "QEMU exited with {status} before the guest booted:\n{}\nconsole:\n{}",
                    tail(&qemu_stderr, 20),
                    tail(&serial, 20)
                );
            }
            // The guest never reached /init; classify below.
            return Ok(self.finish(serial, status, qemu_stderr, None, total_seconds, false));
        };
        let boot_seconds = booted_at.duration_since(self.started).as_secs_f64();
        let done = console.done_at.is_some();
        Ok(self.finish(
            serial,
            status,
            qemu_stderr,
            Some(boot_seconds),
            total_seconds,
            done,
        ))
    }

    fn finish(
        &self,
        serial: String,
        status: ExitStatus,
        qemu_stderr: String,
        boot_seconds: Option<f64>,
        total_seconds: f64,
        done: bool,
    ) -> GuestRun {
        let exit = if done {
            GuestExit::Completed
        } else if serial.contains("Kernel panic") {
            GuestExit::KernelPanic
        } else {
            GuestExit::Incomplete {
                qemu_status: status.code(),
            }
        };
        GuestRun {
            results: parse_results(&serial),
            script_exit: parse_script_exit(&serial),
            serial,
            exit,
            accel_used: self.accel.clone(),
            boot_seconds: boot_seconds.unwrap_or(f64::NAN),
            total_seconds,
            qemu_stderr,
            qemu_command: self.qemu_command.clone(),
        }
    }

    fn lock_console(&self) -> std::sync::MutexGuard<'_, Console> {
        self.console.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn stderr(&self) -> String {
        self.qemu_stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn kill_and_reap(&mut self) -> Result<ExitStatus> {
        let _ = self.child.kill();
        Ok(self.child.wait()?)
    }

    fn join_readers(&mut self) {
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
    }
}

impl Drop for RunningGuest {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.kill_and_reap();
        }
        self.join_readers();
    }
}
