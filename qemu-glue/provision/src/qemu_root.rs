//! The cached Debian trixie root holding QEMU 11 and the guest tools.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use super::mirror::debian_mirror;
use super::util::{run, unique_suffix, Progress};

/// Packages of the root. QEMU comes from trixie-backports; the rest are the
/// guest tools copied into the initramfs and the build-time helpers
/// (`kmod` for depmod, `xz-utils`/`zstd` for compressed modules).
const PACKAGES: &[&str] = &[
    "qemu-system-x86/trixie-backports",
    "qemu-system-common/trixie-backports",
    "qemu-system-data/trixie-backports",
    "seabios/trixie-backports",
    "iproute2",
    "ethtool",
    "iperf3",
    "tcpdump",
    "busybox-static",
    "kmod",
    "xz-utils",
    "zstd",
];

const STAMP: &str = ".tunic-root";

fn stamp_contents() -> String {
    format!("tunic-root v1\n{}\n", PACKAGES.join(","))
}

/// Returns `CACHE/root`, building it with `mmdebstrap` when it is missing or
/// was built from a different package list.
pub(crate) fn ensure_root(cache: &Path, progress: &Progress) -> Result<PathBuf> {
    let root = cache.join("root");
    let wanted = stamp_contents();
    if fs::read_to_string(root.join(STAMP)).ok().as_deref() == Some(wanted.as_str())
        && root.join("usr/bin/qemu-system-x86_64").exists()
    {
        return Ok(root);
    }

    let mirror = debian_mirror()?;
    if Command::new("mmdebstrap")
        .arg("--version")
        .output()
        .is_err()
    {
        bail!("mmdebstrap is needed to build the QEMU root (Debian: apt-get install mmdebstrap)");
    }
    progress.say(format!(
        "building QEMU root from {mirror} (about 15-60 s)..."
    ));
    let started = Instant::now();
    let building = cache.join(format!("root.building-{}", unique_suffix()));
    let result = (|| {
        run(
            mmdebstrap(PACKAGES)
                .arg("trixie")
                .arg(&building)
                .arg(format!("deb {mirror} trixie main"))
                .arg(format!("deb {mirror} trixie-backports main")),
            "mmdebstrap",
        )?;
        if !building.join("usr/bin/qemu-system-x86_64").exists() {
            bail!("mmdebstrap finished but the root has no qemu-system-x86_64");
        }
        fs::write(building.join(STAMP), &wanted)?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_dir_all(&building);
        return Err(e);
    }

    // Swap the new root in; a stale one is moved aside first.
    if root.exists() {
        let old = cache.join(format!("root.old-{}", unique_suffix()));
        fs::rename(&root, &old).context("moving the stale QEMU root aside")?;
        let _ = fs::remove_dir_all(&old);
    }
    fs::rename(&building, &root).context("renaming the new QEMU root into place")?;
    progress.say(format!(
        "QEMU root ready in {:.0} s",
        started.elapsed().as_secs_f64()
    ));
    Ok(root)
}

/// `mmdebstrap` making a minimal (apt variant) trixie root with `packages`; the
/// caller adds the suite, the target and the sources.
pub(crate) fn mmdebstrap(packages: &[&str]) -> Command {
    let mut cmd = Command::new("mmdebstrap");
    cmd.arg("--quiet")
        .arg("--variant=apt")
        .arg(format!("--include={}", packages.join(",")));
    cmd
}

/// `ld.so`-based invocation of a binary of the root, without chroot: the
/// root's loader, its library directory and the binary.
pub(crate) fn loader_command(root: &Path, binary: &str) -> Command {
    let libdir = root.join("usr/lib/x86_64-linux-gnu");
    let mut cmd = Command::new(root.join("usr/lib64/ld-linux-x86-64.so.2"));
    cmd.arg("--library-path")
        .arg(&libdir)
        .arg(root.join(binary.trim_start_matches('/')));
    cmd
}
