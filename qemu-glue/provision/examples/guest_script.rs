//! Runs a guest shell script under the harness and prints its results.
//!
//! ```text
//! cargo run -p guest-provision --example guest_script -- SCRIPT|- [options]
//!   --igb-pair            two QEMU igb NICs on hub 0
//!   --vfio-user SOCKET    a vfio-user NIC (repeatable; the server must listen)
//!   --qemu-stream MODEL:listen|connect:PATH
//!                         QEMU's igb or virtio-net on `-netdev stream` at PATH
//!                         (repeatable; a listening one before its peer)
//!   --timeout SECONDS     hard limit (default 300)
//!   --accel auto|kvm|tcg  accelerator (default auto, or TUNIC_ACCEL)
//!   --kernel PACKAGE      guest kernel package, e.g.
//!                         linux-image-amd64/trixie-backports
//!   --console             echo the serial console while it runs
//!   --full                run in the full Debian guest (python3, DPDK, the
//!                         selftests' tools) instead of the busybox initramfs
//!   --json                print the whole GuestRun as JSON
//! ```
//! The script can use the guest library (`result`, `check`, `nics_by_driver`,
//! `setup_pair`, `in_peer`, `iperf3_mbps`, ...).

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use guest_provision::{boot, provision, Accel, GuestSpec, Nic, ProvisionOptions, QemuNicModel};

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<bool> {
    let mut spec = GuestSpec::default();
    let mut script_path = None;
    let mut json = false;
    let mut full = false;
    let mut kernel_package = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--igb-pair" => {
                for last in [1, 2] {
                    spec.nics.push(Nic::QemuIgb {
                        hub: 0,
                        mac: [0x52, 0x54, 0x00, 0x12, 0x34, last],
                    });
                }
            }
            "--vfio-user" => {
                let socket = args.next().context("--vfio-user needs a socket path")?;
                spec.nics.push(Nic::VfioUser {
                    socket: PathBuf::from(socket),
                });
            }
            "--qemu-stream" => {
                let a = args
                    .next()
                    .context("--qemu-stream needs MODEL:listen|connect:PATH")?;
                let mut parts = a.splitn(3, ':');
                let (model, mode, path) = (parts.next(), parts.next(), parts.next());
                let model = match model {
                    Some("igb") => QemuNicModel::Igb,
                    Some("virtio-net") => QemuNicModel::VirtioNet,
                    other => bail!("--qemu-stream: model igb or virtio-net, not {other:?}"),
                };
                let listen = match mode {
                    Some("listen") => true,
                    Some("connect") => false,
                    other => bail!("--qemu-stream: listen or connect, not {other:?}"),
                };
                let Some(path) = path.filter(|p| !p.is_empty()) else {
                    bail!("--qemu-stream: a socket path after the mode");
                };
                let last = 0x10u8.wrapping_add(spec.nics.len() as u8);
                spec.nics.push(Nic::QemuStream {
                    model,
                    mac: [0x52, 0x54, 0x00, 0x12, 0x34, last],
                    path: PathBuf::from(path),
                    listen,
                });
            }
            "--timeout" => {
                let secs = args.next().context("--timeout needs seconds")?;
                spec.timeout = Duration::from_secs(secs.parse().context("--timeout")?);
            }
            "--accel" => {
                spec.accel = match args.next().as_deref() {
                    Some("auto") => Accel::Auto,
                    Some("kvm") => Accel::Kvm,
                    Some("tcg") => Accel::Tcg,
                    other => bail!("--accel auto|kvm|tcg, not {other:?}"),
                };
            }
            "--kernel" => kernel_package = Some(args.next().context("--kernel needs a package")?),
            "--console" => spec.echo_console = true,
            "--json" => json = true,
            "--full" => full = true,
            s if script_path.is_none() && !s.starts_with("--") || s == "-" => {
                script_path = Some(s.to_string());
            }
            other => bail!("unknown argument {other}"),
        }
    }
    spec.script = match script_path.as_deref() {
        None => bail!("usage: guest_script SCRIPT|- [--igb-pair] [--vfio-user SOCKET]..."),
        Some("-") => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s)?;
            s
        }
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?,
    };

    let assets = provision(&ProvisionOptions {
        progress: true,
        kernel_package,
        full_image: full,
        ..Default::default()
    })?;
    if full {
        spec.disk = assets.full_image.clone();
        spec.memory_mib = spec.memory_mib.max(1536);
    }
    let run = boot(&assets, &spec)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&run)?);
    } else {
        for r in &run.results {
            let status = if r.passed { "PASS" } else { "FAIL" };
            println!("{:<26} {status}  {}", r.name, r.evidence);
        }
        println!(
            "exit: {:?}, script exit: {:?}, accelerator: {:?}, boot {:.1} s, total {:.1} s",
            run.exit, run.script_exit, run.accel_used.kind, run.boot_seconds, run.total_seconds
        );
    }
    if !run.passed() && !spec.echo_console {
        eprintln!("console tail:\n{}", run.console_tail(30));
    }
    Ok(run.passed())
}
