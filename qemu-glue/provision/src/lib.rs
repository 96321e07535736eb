//! Provisions QEMU and a small Debian guest, boots it with NICs, runs a guest
//! script and returns structured results.
//!
//! # Flow
//!
//! 1. [`provision`] fills a cache directory (`$TUNIC_CACHE`, else
//!    `~/.cache/tunic`) and returns [`Assets`]. Every step is skipped when its
//!    output is already cached; each output is built in a temporary directory
//!    and renamed into place, and a lock file serialises concurrent callers.
//!    - `root/`: a Debian trixie tree built with the host's `mmdebstrap`
//!      holding QEMU 11 (trixie-backports) and the guest tools. The Debian
//!      mirror is taken from `TUNIC_DEBIAN_MIRROR` or from the host's apt
//!      sources. Build steps that need Debian tools (`apt-get`,
//!      `dpkg-deb`, `depmod`, `xz`) run with `chroot` into this tree.
//!    - `kernels/<package>/`: a trixie `linux-image-*` package (default: the
//!      one `linux-image-amd64` depends on) with `vmlinuz` and a depmod'ed
//!      module tree.
//!    - `initramfs/base-*.cpio`: an uncompressed newc archive with dash as
//!      `/bin/sh`, busybox applets, `ip`, `tc`, `ethtool`, `iperf3`,
//!      `tcpdump`, their libraries, and the NIC/tunnel kernel modules
//!      (decompressed, with their own `modules.dep`).
//!    - `images/full-*.ext4` (only when asked for): a whole Debian trixie root
//!      with DPDK and python3, see [`image`].
//! 2. [`spawn`] (or [`boot`], which spawns and waits) appends a second small
//!    archive holding `/init`, the guest shell library `/tunic/lib.sh` and the
//!    caller's `/tunic/script.sh` to a copy of the base archive, and starts
//!    QEMU from the cached root through the root's own dynamic loader, so no
//!    chroot is needed at run time and all paths (kernel, sockets, logs) are
//!    ordinary host paths. The accelerator is chosen automatically: KVM when it
//!    is usable, TCG otherwise (kvm-pvm hosts included), announced on stderr.
//! 3. In the guest, `/init` mounts proc/sys/dev, loads the modules, prints
//!    `TUNIC-BOOTED`, runs the script with the library sourced, prints
//!    `TUNIC-SCRIPT-EXIT <rc>` and `TUNIC-DONE`, then powers off.
//! 4. The script reports with `result <name> pass|fail <evidence>`, which
//!    prints `TUNIC-RESULT <name> <pass|fail> <evidence>` on the serial console
//!    (ttyS0). The host collects the console, parses those lines into
//!    [`CaseResult`]s and returns a [`GuestRun`]. A hard timeout kills QEMU
//!    and returns an error carrying the tail of the console; QEMU is also
//!    killed when a [`RunningGuest`] is dropped or the calling process dies.

mod accel;
mod boot;
mod guest_script;
mod image;
mod initramfs;
mod kernel;
mod mirror;
mod qemu_root;
mod selftests;
mod util;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

pub use accel::{Accel, AccelChoice, AccelKind};
pub use boot::{boot, spawn, GuestExit, GuestRun, GuestSpec, Nic, QemuNicModel, RunningGuest};
pub use guest_script::{parse_results, CaseResult, GUEST_LIB};
pub use mirror::debian_mirror;
pub use selftests::{
    kernel_series, programs as selftests_programs, source as selftests_source, upstream_version,
    GUEST_PATH as SELFTESTS_GUEST_PATH,
};

/// Everything needed to boot a guest; produced by [`provision`].
#[derive(Debug, Clone)]
pub struct Assets {
    /// The cache directory all other paths live under.
    pub cache_dir: PathBuf,
    /// The Debian root holding QEMU and the guest tools.
    pub qemu_root: PathBuf,
    /// The guest kernel image (`vmlinuz`).
    pub kernel: PathBuf,
    /// The base initramfs (uncompressed newc cpio, without `/init`).
    pub initramfs: PathBuf,
    /// `uname -r` of the guest kernel.
    pub kernel_release: String,
    /// The Debian package the kernel came from.
    pub kernel_package: String,
    /// Modules `/init` loads at boot (dependencies are resolved by modprobe).
    pub boot_modules: Vec<String>,
    /// The full Debian guest image (ext4), when asked for: see [`image`].
    pub full_image: Option<PathBuf>,
    /// The kernel's NIC selftests built for this kernel (ext4), when asked for:
    /// mounted at [`SELFTESTS_GUEST_PATH`] in the full guest (see [`selftests`]).
    pub selftests: Option<PathBuf>,
}

/// Options for [`provision`].
#[derive(Debug, Clone, Default)]
pub struct ProvisionOptions {
    /// Cache directory; default `$TUNIC_CACHE`, else `~/.cache/tunic`.
    pub cache_dir: Option<PathBuf>,
    /// Kernel package, e.g. `linux-image-amd64` (the default),
    /// `linux-image-6.12.117+deb13-amd64`, or a trixie-backports image.
    /// Metapackages are resolved to the image they depend on.
    pub kernel_package: Option<String>,
    /// Print progress lines (`[tunic] ...`) to stderr.
    pub progress: bool,
    /// Kernel modules to add (with their dependencies) and load at boot,
    /// on top of [`DEFAULT_MODULES`].
    pub extra_modules: Vec<String>,
    /// Also provide the full Debian guest image (DPDK, python3), and the modules
    /// to mount it; a guest boots into it with [`GuestSpec::disk`].
    pub full_image: bool,
    /// Also build (once per kernel release) the kernel's NIC selftests; implies
    /// `full_image`, and adds the modules the tests create devices with.
    pub selftests: bool,
}

/// Modules the selftests create devices or qdiscs with (`?`: where the kernel has it).
pub const SELFTESTS_MODULES: &[&str] = &[
    "vxlan",
    "geneve",
    "dummy",
    "macsec",
    "netconsole",
    "sch_fq",
    "sch_etf?",
    "sch_netem?",
];

/// Modules always put in the initramfs and loaded by `/init`.
pub const DEFAULT_MODULES: &[&str] = &[
    "igb",
    "virtio_net",
    "i40e",
    "ip_gre",
    "ip6_gre",
    "veth",
    "macvlan",
];

/// Provisions (or finds in the cache) QEMU, the guest kernel and the base
/// initramfs. Idempotent; safe to call from several processes at once.
pub fn provision(opts: &ProvisionOptions) -> Result<Assets> {
    let cache_dir = match &opts.cache_dir {
        Some(dir) => dir.clone(),
        None => default_cache_dir()?,
    };
    fs::create_dir_all(&cache_dir)
        .with_context(|| format!("creating cache directory {}", cache_dir.display()))?;
    let cache_dir = cache_dir.canonicalize()?;
    let progress = util::Progress(opts.progress);
    let _lock = util::FileLock::acquire(&cache_dir.join(".lock"), &progress)?;
    // Leftovers of provisioning runs that were killed half-way.
    for (dir, prefix) in [
        (cache_dir.clone(), "root.building-"),
        (cache_dir.clone(), "root.old-"),
        (cache_dir.join("initramfs"), ".base-"),
        (cache_dir.join("images"), ".full-"),
        (cache_dir.join("root/tmp"), "tunic-kernel-"),
        (cache_dir.join("root/tmp"), "tunic-initramfs-"),
    ] {
        util::sweep_stale_scratch(&dir, prefix);
    }

    let qemu_root = qemu_root::ensure_root(&cache_dir, &progress)?;
    let kernel = kernel::ensure_kernel(
        &qemu_root,
        &cache_dir,
        opts.kernel_package.as_deref(),
        &progress,
    )?;
    let mut boot_modules: Vec<String> = DEFAULT_MODULES.iter().map(|m| m.to_string()).collect();
    let image_modules = image::MODULES.iter().map(|m| m.to_string());
    let wanted: Vec<String> = opts
        .extra_modules
        .iter()
        .cloned()
        .chain(image_modules.filter(|_| opts.full_image || opts.selftests))
        .chain(
            SELFTESTS_MODULES
                .iter()
                .map(|m| m.to_string())
                .filter(|_| opts.selftests),
        )
        .collect();
    for m in &wanted {
        if !boot_modules.contains(m) {
            boot_modules.push(m.clone());
        }
    }
    let initramfs =
        initramfs::ensure_base(&qemu_root, &cache_dir, &kernel, &boot_modules, &progress)?;
    let full_image = match opts.full_image || opts.selftests {
        true => Some(image::ensure_full_image(&cache_dir, &progress)?),
        false => None,
    };
    let selftests = match opts.selftests {
        true => Some(selftests::ensure_selftests(
            &cache_dir,
            &kernel.release,
            &kernel.modules,
            &progress,
        )?),
        false => None,
    };
    Ok(Assets {
        cache_dir,
        qemu_root,
        kernel: kernel.vmlinuz,
        initramfs,
        kernel_release: kernel.release,
        kernel_package: kernel.package,
        boot_modules,
        full_image,
        selftests,
    })
}

/// `$TUNIC_CACHE`, else `~/.cache/tunic`.
pub fn default_cache_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("TUNIC_CACHE").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .context("neither TUNIC_CACHE nor HOME is set")?;
    Ok(Path::new(&home).join(".cache").join("tunic"))
}
