//! The kernel's own NIC selftests (`tools/testing/selftests/drivers/net` and
//! `drivers/net/hw`), built from Debian's `linux-source-<series>` of the guest
//! kernel and cached as a small ext4 image that the full guest mounts at
//! [`GUEST_PATH`].
//!
//! They are built on the host, in a throw-away trixie root (build-essential,
//! clang for the BPF objects, python3-yaml for the YNL code generator) made by
//! the host's `mmdebstrap`, and installed with the kernel's own
//! `make -C tools/testing/selftests install`, so the tree the guest runs is
//! exactly what kselftest installs, `run_kselftest.sh` included. The source must
//! come from the same upstream release as the guest kernel (the tests track the
//! kernel's uAPI); a mismatch is an error, not a warning.
//!
//! Kept apart from the full guest image, which holds no kernel: one image serves
//! every kernel, one selftests image per kernel release. That image also carries the
//! kernel's module tree, which the guest's `/init` puts in place of the initramfs's
//! few modules, with the kernel's modprobe helper pointed at the full guest's kmod.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use super::mirror::debian_mirror;
use super::qemu_root::mmdebstrap;
use super::util::{chroot, run, unique_suffix, Progress};

/// Where the full guest finds the installed selftests (`run_kselftest.sh` at its top).
pub const GUEST_PATH: &str = "/opt/ksft";

/// The collections built and installed.
pub const TARGETS: &[&str] = &["drivers/net", "drivers/net/hw"];

/// Bump when the build or the image layout changes.
const FORMAT: &str = "tunic-selftests v2";

/// What building the selftests needs besides the source: the compiler and make,
/// clang and llvm for the `.bpf.o` programs, python3-yaml for the YNL generator,
/// rsync for kselftest's install step, and the headers of libraries some helpers
/// probe for.
const BUILD_PACKAGES: &[&str] = &[
    "build-essential",
    "clang",
    "llvm",
    "rsync",
    "bc",
    "bison",
    "flex",
    "python3",
    "python3-yaml",
    "python3-jsonschema",
    "libelf-dev",
    "zlib1g-dev",
    "libmnl-dev",
    "libcap-dev",
    "pkg-config",
    "xz-utils",
];

/// `7.3` of `7.3.4+deb13-amd64`: the series Debian names its source package by.
pub fn kernel_series(release: &str) -> Option<String> {
    let mut parts = release.split(['.', '-', '+']);
    let major = parts
        .next()
        .filter(|p| p.chars().all(|c| c.is_ascii_digit()))?;
    let minor = parts
        .next()
        .filter(|p| p.chars().all(|c| c.is_ascii_digit()))?;
    (!major.is_empty() && !minor.is_empty()).then(|| format!("{major}.{minor}"))
}

/// The upstream version of a Debian kernel release or package version:
/// `7.3.4` of `7.3.4+deb13-amd64` and of `7.3.4-1~bpo13+1`.
pub fn upstream_version(v: &str) -> &str {
    v.split(['+', '-', '~']).next().unwrap_or(v)
}

/// Returns `CACHE/selftests/ksft-<release>.ext4` for the guest kernel `release`,
/// building it when missing. The image also carries the kernel's whole module tree
/// (`modules/<release>`, from `modules`), since the tests create devices, qdiscs
/// and tunnels of every kind and the kernel loads their modules on demand.
pub(crate) fn ensure_selftests(
    cache: &Path,
    release: &str,
    modules: &Path,
    progress: &Progress,
) -> Result<PathBuf> {
    let series = kernel_series(release)
        .with_context(|| format!("cannot tell the kernel series of release '{release}'"))?;
    let dir = cache.join("selftests");
    let path = dir.join(format!("ksft-{release}.ext4"));
    let stamp = dir.join(format!("ksft-{release}.stamp"));
    if path.is_file()
        && path.with_extension("list").is_file()
        && fs::read_to_string(&stamp).ok().as_deref() == Some(FORMAT)
    {
        return Ok(path);
    }
    for tool in ["mmdebstrap", "mkfs.ext4"] {
        if Command::new(tool).arg("--version").output().is_err()
            && Command::new(tool).arg("-V").output().is_err()
        {
            bail!("{tool} is needed to build the kernel's selftests (Debian: apt-get install mmdebstrap e2fsprogs)");
        }
    }
    let mirror = debian_mirror()?;
    let source = format!("linux-source-{series}");
    progress.say(format!(
        "building the kernel's selftests ({}) from Debian's {source} (about 5 min, once per kernel)...",
        TARGETS.join(", ")
    ));
    let started = Instant::now();
    fs::create_dir_all(&dir)?;
    let tree = dir.join(format!(".build-{}", unique_suffix()));
    let tmp = dir.join(format!(".ksft-{}.ext4", unique_suffix()));
    let result = (|| {
        let mut packages: Vec<&str> = BUILD_PACKAGES.to_vec();
        packages.push(&source);
        run(
            mmdebstrap(&packages)
                // trixie first; a newer kernel's source lives only in backports.
                .arg("--aptopt=APT::Default-Release \"trixie\"")
                .arg("trixie")
                .arg(&tree)
                .arg(format!("deb {mirror} trixie main"))
                .arg(format!("deb {mirror} trixie-backports main")),
            "mmdebstrap (selftests build root)",
        )?;
        let version = run(
            chroot(&tree).args(["dpkg-query", "-W", "-f=${Version}", &source]),
            "dpkg-query",
        )?;
        if upstream_version(&version) != upstream_version(release) {
            bail!(
                "Debian's {source} is {version}, but the guest kernel is {release}: \
                 the selftests must match the kernel (pick the kernel with --kernel)"
            );
        }
        let targets = TARGETS.join(" ");
        let script = format!(
            "set -e; mkdir -p /build; cd /build; \
             tar -xf /usr/src/{source}.tar.xz; cd {source}; \
             make -s headers; \
             make -s -C tools/testing/selftests TARGETS='{targets}' install \
                 INSTALL_PATH=/ksft -j$(nproc)"
        );
        // kselftest's install goes on past a collection that failed to build.
        let log = run(
            chroot(&tree).args(["sh", "-c", &format!("({script}) 2>&1")]),
            "make -C tools/testing/selftests install",
        )?;
        let ksft = tree.join("ksft");
        for t in TARGETS {
            if !ksft.join(t).is_dir() {
                let errors: Vec<&str> = log
                    .lines()
                    .filter(|l| l.contains("rror") || l.contains("No module"))
                    .take(12)
                    .collect();
                bail!(
                    "the selftests install has no {t}; the build said:\n{}",
                    errors.join("\n")
                );
            }
        }
        fs::create_dir_all(ksft.join("modules"))?;
        run(
            Command::new("cp")
                .arg("-a")
                .arg(modules)
                .arg(ksft.join("modules").join(release)),
            "copying the kernel's modules",
        )?;
        let described = format!("{source} {version}, built for {release}");
        fs::write(ksft.join("tunic-source.txt"), format!("{described}\n"))?;
        fs::write(path.with_extension("source"), &described)?;
        let mib = super::image::dir_size(&ksft)? / (1 << 20) * 13 / 10 + 64;
        run(
            Command::new("mkfs.ext4")
                .args(["-q", "-F", "-L", "ksft", "-d"])
                .arg(&ksft)
                .arg(&tmp)
                .arg(format!("{mib}M")),
            "mkfs.ext4 -d (selftests image)",
        )?;
        fs::rename(&tmp, &path)?;
        // The programs, readable on the host without mounting the image.
        fs::copy(ksft.join("kselftest-list.txt"), path.with_extension("list"))
            .context("the selftests install has no kselftest-list.txt")?;
        fs::write(&stamp, FORMAT)?;
        Ok(())
    })();
    let _ = fs::remove_dir_all(&tree);
    let _ = fs::remove_file(&tmp);
    result?;
    progress.say(format!(
        "selftests ready in {:.0} s: {}",
        started.elapsed().as_secs_f64(),
        path.display()
    ));
    Ok(path)
}

/// Which Debian source package the selftests image was built from, for reports.
pub fn source(image: &Path) -> String {
    fs::read_to_string(image.with_extension("source")).unwrap_or_default()
}

/// The programs installed in a selftests image (`collection:program`, as
/// `run_kselftest.sh -t` takes them), from the list kselftest's install wrote.
pub fn programs(image: &Path) -> Result<Vec<String>> {
    let list = image.with_extension("list");
    let text = fs::read_to_string(&list).with_context(|| format!("reading {}", list.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| l.contains(':') && !l.starts_with('#'))
        .map(str::to_string)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_and_upstream_versions_of_debian_kernels() {
        assert_eq!(kernel_series("7.3.4+deb13-amd64").as_deref(), Some("7.3"));
        assert_eq!(
            kernel_series("6.12.57+deb13-amd64").as_deref(),
            Some("6.12")
        );
        assert_eq!(kernel_series("amd64"), None);
        assert_eq!(upstream_version("7.3.4+deb13-amd64"), "7.3.4");
        assert_eq!(upstream_version("7.3.4-1~bpo13+1"), "7.3.4");
        assert_eq!(upstream_version("6.12.57-1"), "6.12.57");
    }
}
