//! The full Debian guest: an ext4 image of a trixie root with what the busybox
//! initramfs cannot carry (DPDK's testpmd, python3 for the kernel's selftests),
//! built once with the host's `mmdebstrap` and `mkfs.ext4 -d` and cached.
//!
//! The image holds no kernel or modules: the busybox initramfs of the booted
//! kernel loads every module (virtio_blk and ext4 included), mounts the image
//! from a virtio disk with `snapshot=on` (writes go to a throw-away overlay, so
//! the cached image never changes) and runs the script chrooted into it. One
//! image therefore serves every guest kernel.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use super::mirror::debian_mirror;
use super::qemu_root::mmdebstrap;
use super::util::{fnv1a, run, unique_suffix, Progress};

/// Packages of the full guest. DPDK (testpmd and the PMDs of tunic's personalities); python3 and
/// python3-yaml, socat, iperf3, jq, bpftool and netcat for the kernel's selftests, with ethtool
/// and iproute2 from unstable (the 7.x selftests use `ethtool --json -l` and `ip` options
/// trixie's lack; both install on trixie's libraries); pciutils and kmod to find and bind
/// NICs; ping and busybox for the guest library.
pub const PACKAGES: &[&str] = &[
    // dpdk-testpmd ships in dpdk-dev; the PMDs are only Recommends of dpdk, which
    // mmdebstrap does not install, so they are named.
    "dpdk",
    "dpdk-dev",
    "librte-net-i40e25",
    "librte-net-e1000-25",
    "librte-net-virtio25",
    "librte-mempool-ring25",
    "python3",
    "python3-yaml",
    "socat",
    "iperf3",
    "jq",
    "bpftool",
    "netcat-openbsd",
    "ethtool/unstable",
    "iproute2/unstable",
    // unstable's iproute2 needs unstable's libbpf1, and dpdk-dev's libbpf-dev pins
    // its own libbpf1: both from unstable keep them in step.
    "libbpf-dev/unstable",
    "kmod",
    "pciutils",
    "procps",
    "tcpdump",
    "iputils-ping",
    // netpoll_basic.py watches the kernel with it.
    "bpftrace",
    // Applets the guest library uses (usleep) that Debian has no binary for.
    "busybox",
];

/// Bump when the image layout changes.
const FORMAT: &str = "tunic-full-image v2";

/// Modules the initramfs must load to mount the image, and to hand a NIC to DPDK.
/// ext4 asks the crypto API for crc32c by name at mount time, which no module
/// dependency records; its module is `crc32c_generic` in 6.12 and
/// `crc32c-cryptoapi` in 7.x (`?`: where the kernel has it).
pub const MODULES: &[&str] = &[
    "virtio_blk",
    "crc32c_generic?",
    "crc32c-cryptoapi?",
    "ext4",
    "uio_pci_generic",
];

/// Returns `CACHE/images/full-HASH.ext4`, building it when missing.
pub(crate) fn ensure_full_image(cache: &Path, progress: &Progress) -> Result<PathBuf> {
    let key = format!("{FORMAT}\n{}", PACKAGES.join(","));
    let dir = cache.join("images");
    let path = dir.join(format!("full-{:016x}.ext4", fnv1a(key.as_bytes())));
    if path.is_file() {
        return Ok(path);
    }
    let mirror = debian_mirror()?;
    for tool in ["mmdebstrap", "mkfs.ext4"] {
        if Command::new(tool).arg("-V").output().is_err()
            && Command::new(tool).arg("--version").output().is_err()
        {
            bail!("{tool} is needed to build the full guest image (Debian: apt-get install mmdebstrap e2fsprogs)");
        }
    }
    progress.say(format!(
        "building the full Debian guest image ({}) from {mirror} (about 1-3 min, once)...",
        PACKAGES.join(" ")
    ));
    let started = Instant::now();
    fs::create_dir_all(&dir)?;
    let tree = dir.join(format!(".full-tree-{}", unique_suffix()));
    let tmp = dir.join(format!(".full-{}.ext4", unique_suffix()));
    let result = (|| {
        run(
            mmdebstrap(PACKAGES)
                // Documentation and apt's lists are of no use in a test guest.
                .arg("--dpkgopt=path-exclude=/usr/share/doc/*")
                .arg("--dpkgopt=path-exclude=/usr/share/man/*")
                .arg("--dpkgopt=path-exclude=/usr/share/locale/*")
                .arg("--customize-hook=rm -rf \"$1\"/var/lib/apt/lists/* \"$1\"/var/cache/apt/*")
                .arg("--customize-hook=mkdir -p \"$1\"/tunic \"$1\"/dev/hugepages")
                // trixie for everything but the packages named `/unstable`.
                .arg("--aptopt=APT::Default-Release \"trixie\"")
                .arg("trixie")
                .arg(&tree)
                .arg(format!("deb {mirror} trixie main"))
                // A mirror's unstable Release can be past its Valid-Until (a
                // frozen or slow mirror); only two packages come from it.
                .arg(format!("deb [check-valid-until=no] {mirror} unstable main")),
            "mmdebstrap (full guest image)",
        )?;
        if !tree.join("usr/bin/dpdk-testpmd").exists() {
            bail!("mmdebstrap finished but the tree has no dpdk-testpmd");
        }
        let used = dir_size(&tree)?;
        // ext4's metadata and some room for the overlay-less writes of tools
        // that insist (snapshot=on keeps them off the image anyway).
        let mib = used / (1 << 20) * 13 / 10 + 256;
        run(
            Command::new("mkfs.ext4")
                .arg("-q")
                .arg("-F")
                .arg("-L")
                .arg("tunic")
                .arg("-d")
                .arg(&tree)
                .arg(&tmp)
                .arg(format!("{mib}M")),
            "mkfs.ext4 -d (full guest image)",
        )?;
        fs::rename(&tmp, &path)?;
        Ok(())
    })();
    let _ = fs::remove_dir_all(&tree);
    let _ = fs::remove_file(&tmp);
    result?;
    progress.say(format!(
        "full guest image ready in {:.0} s ({} MiB)",
        started.elapsed().as_secs_f64(),
        fs::metadata(&path)?.len() >> 20
    ));
    Ok(path)
}

/// Bytes under `dir`, symlinks not followed.
pub(super) fn dir_size(dir: &Path) -> Result<u64> {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let e = e?;
            let m = e.metadata()?;
            if m.is_dir() {
                stack.push(e.path());
            } else {
                // Whole 4 KiB blocks: ext4 stores a small file in one.
                total += m.len().div_ceil(4096) * 4096;
            }
        }
    }
    Ok(total)
}
