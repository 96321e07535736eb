//! The cached guest kernel: a Debian `linux-image-*` package, unpacked, with
//! its module tree indexed by depmod.
//!
//! Layout of `CACHE/kernels/<package>/`: `vmlinuz`, `config`,
//! `lib/modules/<release>/...` (compressed modules plus depmod output) and a
//! `.tunic-kernel` stamp holding the release.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use super::util::{chroot, inside, run, Progress, ScratchDir};

const DEFAULT_PACKAGE: &str = "linux-image-amd64";
const STAMP: &str = ".tunic-kernel";

pub(crate) struct Kernel {
    pub package: String,
    pub release: String,
    pub vmlinuz: PathBuf,
    /// `.../lib/modules/<release>`
    pub modules: PathBuf,
}

pub(crate) fn ensure_kernel(
    root: &Path,
    cache: &Path,
    requested: Option<&str>,
    progress: &Progress,
) -> Result<Kernel> {
    let requested = requested.unwrap_or(DEFAULT_PACKAGE);
    let kernels = cache.join("kernels");
    // A metapackage is resolved once and remembered, so later runs need
    // neither the network nor chroot (and keep the same kernel).
    let alias = kernels.join(format!("{}.resolved", requested.replace('/', "_")));
    if let Ok(package) = fs::read_to_string(&alias) {
        let package = package.trim();
        if let Some(kernel) = load(&kernels.join(package), package) {
            return Ok(kernel);
        }
    }
    let package = resolve_package(root, requested)?;
    let dir = kernels.join(&package);
    if let Some(kernel) = load(&dir, &package) {
        fs::write(&alias, format!("{package}\n"))?;
        return Ok(kernel);
    }

    progress.say(format!("fetching guest kernel {package}..."));
    let started = Instant::now();
    let scratch = ScratchDir::new(&root.join("tmp"), "tunic-kernel-")?;
    let work = inside(root, &scratch.0)?;
    let packages = package_set(root, &package)?.join(" ");
    let download = |update: bool| {
        let script = format!(
            "{}cd '{work}' && apt-get -q -o APT::Sandbox::User=root download {packages}",
            if update { "apt-get -q update && " } else { "" }
        );
        run(chroot(root).args(["sh", "-c", &script]), "apt-get download")
    };
    if download(false).is_err() {
        // The root's package lists may be stale: refresh once and retry.
        download(true)?;
    }
    run(
        chroot(root).args([
            "sh",
            "-c",
            &format!(
                "cd '{work}' && for deb in ./*.deb; do dpkg-deb -x \"$deb\" x || exit 1; done"
            ),
        ]),
        "dpkg-deb -x",
    )?;

    let x = scratch.0.join("x");
    let modules_parent = [x.join("usr/lib/modules"), x.join("lib/modules")]
        .into_iter()
        .find(|p| p.is_dir())
        .with_context(|| format!("{package} has no lib/modules directory"))?;
    let release = fs::read_dir(&modules_parent)?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .next()
        .with_context(|| format!("{package} has an empty modules directory"))?;

    let out = scratch.0.join("out");
    fs::create_dir_all(out.join("lib/modules"))?;
    // vmlinuz and config: in /boot (up to 6.x packages) or in the module
    // directory (split packages of newer kernels).
    let moddir = modules_parent.join(&release);
    let vmlinuz = [
        x.join(format!("boot/vmlinuz-{release}")),
        moddir.join("vmlinuz"),
    ]
    .into_iter()
    .find(|p| p.is_file())
    .with_context(|| format!("{package} contains no vmlinuz for {release}"))?;
    fs::rename(vmlinuz, out.join("vmlinuz"))?;
    for config in [
        x.join(format!("boot/config-{release}")),
        moddir.join("config"),
    ] {
        if config.is_file() {
            fs::rename(config, out.join("config"))?;
            break;
        }
    }
    fs::rename(&moddir, out.join("lib/modules").join(&release))?;
    run(
        chroot(root).args(["depmod", "-b", &format!("{work}/out"), &release]),
        "depmod",
    )?;
    fs::write(out.join(STAMP), format!("{release}\n"))?;

    fs::create_dir_all(&kernels)?;
    if dir.exists() {
        fs::remove_dir_all(&dir)?;
    }
    fs::rename(&out, &dir).with_context(|| format!("moving the kernel to {}", dir.display()))?;
    fs::write(&alias, format!("{package}\n"))?;
    progress.say(format!(
        "guest kernel {release} ready in {:.0} s",
        started.elapsed().as_secs_f64()
    ));
    load(&dir, &package).context("kernel cache entry unreadable right after creation")
}

fn load(dir: &Path, package: &str) -> Option<Kernel> {
    let release = fs::read_to_string(dir.join(STAMP)).ok()?.trim().to_string();
    let vmlinuz = dir.join("vmlinuz");
    let modules = dir.join("lib/modules").join(&release);
    (vmlinuz.is_file() && modules.join("modules.dep").is_file()).then(|| Kernel {
        package: package.to_string(),
        release,
        vmlinuz,
        modules,
    })
}

/// A concrete image package (`linux-image-6.12.117+deb13-amd64`) is used as
/// is; a metapackage (`linux-image-amd64`, optionally `.../release`) is
/// resolved to the image it depends on, using the root's package lists.
fn resolve_package(root: &Path, requested: &str) -> Result<String> {
    if is_concrete(requested) {
        return Ok(requested.to_string());
    }
    let depends = |update: bool| {
        let script = format!(
            "{}apt-cache depends '{requested}'",
            if update {
                "apt-get -q update >&2 && "
            } else {
                ""
            }
        );
        run(
            chroot(root).args(["sh", "-c", &script]),
            "apt-cache depends",
        )
    };
    let out = match depends(false) {
        Ok(out) => out,
        Err(_) => depends(true)?,
    };
    match image_dependency(&out) {
        Some(pkg) => Ok(pkg),
        None => bail!("{requested} does not depend on a linux-image package:\n{out}"),
    }
}

/// The image package plus the packages newer Debian kernels split it into
/// (`linux-binary-<release>` with vmlinuz, `linux-modules-<release>`,
/// `linux-base-<release>`): its dependencies named `linux-*-<release>`.
fn package_set(root: &Path, package: &str) -> Result<Vec<String>> {
    let out = run(
        chroot(root).args(["apt-cache", "depends", package]),
        "apt-cache depends",
    )?;
    let mut set = vec![package.to_string()];
    set.extend(release_split_parts(package, &out));
    Ok(set)
}

fn release_split_parts(package: &str, apt_cache_output: &str) -> Vec<String> {
    let Some(release) = package.strip_prefix("linux-image-") else {
        return Vec::new();
    };
    let suffix = format!("-{release}");
    let mut parts: Vec<String> = apt_cache_output
        .lines()
        .filter_map(|line| {
            let line = line.trim().trim_start_matches('|');
            let dep = line
                .strip_prefix("Depends:")
                .or_else(|| line.strip_prefix("PreDepends:"))?
                .trim();
            (dep.starts_with("linux-") && dep.ends_with(&suffix) && dep != package)
                .then(|| dep.to_string())
        })
        .collect();
    parts.dedup();
    parts
}

fn is_concrete(name: &str) -> bool {
    name.strip_prefix("linux-image-")
        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
}

fn image_dependency(apt_cache_output: &str) -> Option<String> {
    apt_cache_output.lines().find_map(|line| {
        let dep = line
            .trim()
            .trim_start_matches('|')
            .strip_prefix("Depends:")?;
        let dep = dep.trim().trim_start_matches('<').trim_end_matches('>');
        is_concrete(dep).then(|| dep.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_metapackage_output() {
        let out = "linux-image-amd64\n  Depends: linux-image-6.12.117+deb13-amd64\n";
        assert_eq!(
            image_dependency(out).as_deref(),
            Some("linux-image-6.12.117+deb13-amd64")
        );
        assert!(is_concrete("linux-image-6.16.3+deb13-amd64"));
        assert!(!is_concrete("linux-image-amd64"));
        assert!(!is_concrete("linux-image-cloud-amd64"));
    }

    #[test]
    fn finds_split_kernel_packages() {
        let out = "linux-image-7.3.4+deb13-amd64\n  PreDepends: linux-base\n \
            |Depends: dracut\n  Depends: <linux-initramfs-tool>\n    dracut\n\
            \x20 Depends: linux-base-7.3.4+deb13-amd64\n\
            \x20 Depends: linux-binary-7.3.4+deb13-amd64\n\
            \x20 Depends: linux-modules-7.3.4+deb13-amd64\n";
        assert_eq!(
            release_split_parts("linux-image-7.3.4+deb13-amd64", out),
            [
                "linux-base-7.3.4+deb13-amd64",
                "linux-binary-7.3.4+deb13-amd64",
                "linux-modules-7.3.4+deb13-amd64"
            ]
        );
        let old = "linux-image-6.12.117+deb13-amd64\n  PreDepends: kmod\n  Depends: linux-base\n";
        assert!(release_split_parts("linux-image-6.12.117+deb13-amd64", old).is_empty());
    }
}
