//! The guest initramfs: a cached base archive with tools, libraries and
//! modules, plus a small per-run archive (`/init`, the guest library and the
//! script) appended at boot. Both are uncompressed newc cpio archives; the
//! kernel unpacks concatenated archives in order, later entries winning.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use super::kernel::Kernel;
use super::util::{chroot, fnv1a, inside, run, unique_suffix, Progress, ScratchDir};

/// Bump when the archive layout changes, to invalidate cached archives.
const FORMAT: &str = "tunic-initramfs v1";

/// Tools copied from the root (with their libraries), by name; each is looked
/// up in `usr/bin` and `usr/sbin`, and every hit (file or symlink) is kept.
/// `/bin/sh` is dash, as on Debian: busybox ash would run its own applets
/// (e.g. a limited `ip`) ahead of `$PATH`; under dash the real tools win and
/// busybox applet links only fill the gaps.
const TOOLS: &[&str] = &[
    "dash", "sh", "busybox", "ip", "tc", "ss", "bridge", "ethtool", "iperf3", "tcpdump",
];

/// Libraries loaded at run time without being listed by `ld.so --list`
/// (iperf3 and anything using pthread_cancel need libgcc_s).
const EXTRA_LIBS: &[&str] = &["/usr/lib/x86_64-linux-gnu/libgcc_s.so.1"];

const ETC_PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
    tcpdump:x:100:101::/nonexistent:/usr/sbin/nologin\n\
    nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
const ETC_GROUP: &str = "root:x:0:\ntcpdump:x:101:\nnogroup:x:65534:\n";

/// Returns the cached base archive for this kernel and module set, building
/// it if needed.
pub(crate) fn ensure_base(
    root: &Path,
    cache: &Path,
    kernel: &Kernel,
    boot_modules: &[String],
    progress: &Progress,
) -> Result<PathBuf> {
    let key = format!(
        "{FORMAT}\n{}\n{}\n{}\n{}\n{}",
        kernel.package,
        kernel.release,
        boot_modules.join(","),
        TOOLS.join(","),
        EXTRA_LIBS.join(",")
    );
    let dir = cache.join("initramfs");
    let path = dir.join(format!(
        "base-{}-{:016x}.cpio",
        kernel.release,
        fnv1a(key.as_bytes())
    ));
    if path.is_file() {
        return Ok(path);
    }

    progress.say(format!(
        "building guest initramfs for {}...",
        kernel.release
    ));
    let started = Instant::now();
    let mut archive = Archive::default();
    for d in [
        "dev", "proc", "sys", "run", "tmp", "root", "mnt", "var", "etc", "tunic",
    ] {
        archive.dir(d, 0o755)?;
    }
    archive.dir("tmp", 0o1777)?;
    for (link, target) in [
        ("bin", "usr/bin"),
        ("sbin", "usr/sbin"),
        ("lib", "usr/lib"),
        ("lib64", "usr/lib64"),
        ("var/run", "../run"),
    ] {
        archive.symlink(link, target)?;
    }
    archive.chardev("dev/console", 0o600, 5, 1)?;
    archive.chardev("dev/null", 0o666, 1, 3)?;
    archive.file("etc/passwd", 0o644, ETC_PASSWD.as_bytes().to_vec())?;
    archive.file("etc/group", 0o644, ETC_GROUP.as_bytes().to_vec())?;
    archive.file(
        "etc/hosts",
        0o644,
        b"127.0.0.1 localhost\n::1 localhost\n".to_vec(),
    )?;
    archive.file(
        "etc/tunic/modules",
        0o644,
        format!("{}\n", boot_modules.join("\n")).into_bytes(),
    )?;
    archive.file(
        "etc/tunic/kernel",
        0o644,
        format!("{} {}\n", kernel.package, kernel.release).into_bytes(),
    )?;

    add_tools(&mut archive, root)?;
    add_modules(&mut archive, root, kernel, boot_modules)?;

    fs::create_dir_all(&dir)?;
    let tmp = dir.join(format!(".base-{}.tmp", unique_suffix()));
    fs::write(&tmp, archive.to_newc()).with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, &path)?;
    progress.say(format!(
        "guest initramfs ready in {:.0} s ({} MiB)",
        started.elapsed().as_secs_f64(),
        fs::metadata(&path)?.len() >> 20
    ));
    Ok(path)
}

/// Copies the tools, their shared libraries and busybox's applet links.
fn add_tools(archive: &mut Archive, root: &Path) -> Result<()> {
    let mut elf_binaries = Vec::new();
    for tool in TOOLS {
        let mut found = false;
        for dir in ["usr/bin", "usr/sbin"] {
            let rel = format!("{dir}/{tool}");
            let host = root.join(&rel);
            let Ok(meta) = fs::symlink_metadata(&host) else {
                continue;
            };
            found = true;
            if meta.file_type().is_symlink() {
                let target = fs::read_link(&host)?;
                archive.symlink(&rel, &target.to_string_lossy())?;
            } else {
                archive.copy(&rel, &host)?;
                elf_binaries.push(format!("/{rel}"));
            }
        }
        if !found {
            bail!("{tool} is missing from the QEMU root {}", root.display());
        }
    }

    // Shared libraries, as resolved by the root's own loader.
    let mut libs: BTreeSet<String> = EXTRA_LIBS.iter().map(|s| s.to_string()).collect();
    let script = elf_binaries
        .iter()
        .filter(|b| !b.ends_with("/busybox"))
        .map(|b| format!("/lib64/ld-linux-x86-64.so.2 --list {b} || exit 1"))
        .collect::<Vec<_>>()
        .join("; ");
    let listing = run(chroot(root).args(["sh", "-c", &script]), "ld.so --list")?;
    for line in listing.lines() {
        let line = line.trim();
        if line.contains("not found") {
            bail!("unresolved library in the QEMU root: {line}");
        }
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.split_whitespace().next(),
            None => line
                .split_whitespace()
                .next()
                .filter(|p| p.starts_with('/')),
        };
        if let Some(p) = path.filter(|p| p.starts_with('/')) {
            libs.insert(p.to_string());
        }
    }
    for lib in &libs {
        // Store each library under its canonical directory (the archive's
        // /lib and /lib64 are symlinks into /usr) with its requested name.
        let host = root.join(lib.trim_start_matches('/'));
        let (parent, name) = match (host.parent(), host.file_name()) {
            (Some(p), Some(n)) => (p, n),
            _ => bail!("odd library path {lib}"),
        };
        let parent = parent
            .canonicalize()
            .with_context(|| format!("resolving {}", parent.display()))?;
        let rel = inside(root, &parent.join(name))?;
        archive.copy(rel.trim_start_matches('/'), &host)?;
    }

    // Busybox applets, where no real tool of the same name exists.
    let applets = run(
        Command::new(root.join("usr/bin/busybox")).arg("--list"),
        "busybox --list",
    )?;
    for applet in applets.lines().map(str::trim).filter(|a| !a.is_empty()) {
        if applet == "busybox" || TOOLS.contains(&applet) {
            continue;
        }
        let rel = format!("usr/bin/{applet}");
        if !archive.contains(&rel) && !archive.contains(&format!("usr/sbin/{applet}")) {
            archive.symlink(&rel, "busybox")?;
        }
    }
    Ok(())
}

/// Adds `boot_modules` and their dependencies (per modules.dep), decompressed
/// and re-indexed with depmod so busybox `modprobe` works in the guest.
fn add_modules(
    archive: &mut Archive,
    root: &Path,
    kernel: &Kernel,
    boot_modules: &[String],
) -> Result<()> {
    let dep_text = fs::read_to_string(kernel.modules.join("modules.dep"))?;
    let deps = parse_modules_dep(&dep_text);
    let builtin: BTreeSet<String> = fs::read_to_string(kernel.modules.join("modules.builtin"))
        .unwrap_or_default()
        .lines()
        .map(module_name)
        .collect();

    let mut files = BTreeSet::new();
    for m in boot_modules {
        // `NAME?`: only where this kernel has it (module names change between kernels).
        let (m, optional) = match m.strip_suffix('?') {
            Some(m) => (m, true),
            None => (m.as_str(), false),
        };
        let name = module_name(m);
        match deps.get(&name) {
            Some((path, dependencies)) => {
                files.insert(path.clone());
                files.extend(dependencies.iter().cloned());
            }
            None if builtin.contains(&name) || optional => {}
            None => bail!("kernel {} has no module {m}", kernel.release),
        }
    }

    let scratch = ScratchDir::new(&root.join("tmp"), "tunic-initramfs-")?;
    let stage = scratch.0.join("lib/modules").join(&kernel.release);
    for rel in &files {
        let dest = stage.join(rel);
        fs::create_dir_all(dest.parent().unwrap_or(&stage))?;
        fs::copy(kernel.modules.join(rel), &dest)
            .with_context(|| format!("copying module {rel}"))?;
    }
    for meta in [
        "modules.builtin",
        "modules.builtin.modinfo",
        "modules.order",
    ] {
        let src = kernel.modules.join(meta);
        if src.exists() {
            fs::copy(&src, stage.join(meta))?;
        }
    }
    let inner = inside(root, &scratch.0)?;
    let script = format!(
        "set -e; d='{inner}'; \
         find \"$d\" -name '*.ko.xz' -exec xz -d {{}} +; \
         find \"$d\" -name '*.ko.zst' -exec zstd -q -d --rm {{}} +; \
         find \"$d\" -name '*.ko.gz' -exec gzip -d {{}} +; \
         depmod -b \"$d\" '{}'",
        kernel.release
    );
    run(
        chroot(root).args(["sh", "-c", &script]),
        "module decompression/depmod",
    )?;
    archive.copy_tree(&stage, &format!("usr/lib/modules/{}", kernel.release))
}

/// `name -> (path, dependency paths)` from a modules.dep file.
fn parse_modules_dep(text: &str) -> BTreeMap<String, (String, Vec<String>)> {
    text.lines()
        .filter_map(|line| {
            let (path, deps) = line.split_once(':')?;
            let deps = deps.split_whitespace().map(str::to_string).collect();
            Some((module_name(path), (path.to_string(), deps)))
        })
        .collect()
}

/// `kernel/net/ipv4/ip_gre.ko.xz` -> `ip_gre`; dashes become underscores.
fn module_name(path_or_name: &str) -> String {
    let base = path_or_name.rsplit('/').next().unwrap_or(path_or_name);
    let base = base.split(".ko").next().unwrap_or(base);
    base.replace('-', "_")
}

/// The per-run archive: `/init`, the guest library, the script, and any
/// extra executables (guest path, host file) the caller brings.
pub(crate) fn run_archive(
    init: &str,
    lib: &str,
    script: &str,
    extra: &[(String, PathBuf)],
) -> Result<Vec<u8>> {
    let mut archive = Archive::default();
    archive.file("init", 0o755, init.as_bytes().to_vec())?;
    archive.file("tunic/lib.sh", 0o644, lib.as_bytes().to_vec())?;
    archive.file("tunic/script.sh", 0o755, script.as_bytes().to_vec())?;
    for (guest, host) in extra {
        let data = std::fs::read(host).with_context(|| format!("reading {}", host.display()))?;
        archive.file(guest, 0o755, data)?;
    }
    Ok(archive.to_newc())
}

enum Entry {
    Dir(u32),
    File(u32, Vec<u8>),
    Symlink(String),
    CharDev(u32, u32, u32),
}

/// An in-memory archive; paths are relative, parents are added implicitly,
/// and entries are written sorted so that directories precede their contents.
#[derive(Default)]
struct Archive {
    entries: BTreeMap<String, Entry>,
}

impl Archive {
    fn contains(&self, path: &str) -> bool {
        self.entries.contains_key(path)
    }

    fn insert(&mut self, path: &str, entry: Entry) -> Result<()> {
        let path = path.trim_start_matches('/').trim_end_matches('/');
        let mut parent = Path::new(path).parent();
        while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
            let key = p.to_string_lossy().into_owned();
            match self.entries.get(&key) {
                None => {
                    self.entries.insert(key, Entry::Dir(0o755));
                }
                Some(Entry::Dir(_)) => {}
                Some(_) => bail!("initramfs: parent {key} of {path} is not a directory"),
            }
            parent = p.parent();
        }
        self.entries.insert(path.to_string(), entry);
        Ok(())
    }

    fn dir(&mut self, path: &str, mode: u32) -> Result<()> {
        self.insert(path, Entry::Dir(mode))
    }

    fn file(&mut self, path: &str, mode: u32, data: Vec<u8>) -> Result<()> {
        self.insert(path, Entry::File(mode, data))
    }

    fn symlink(&mut self, path: &str, target: &str) -> Result<()> {
        self.insert(path, Entry::Symlink(target.to_string()))
    }

    fn chardev(&mut self, path: &str, mode: u32, major: u32, minor: u32) -> Result<()> {
        self.insert(path, Entry::CharDev(mode, major, minor))
    }

    /// Copies a host file (following symlinks), keeping its permission bits.
    fn copy(&mut self, path: &str, host: &Path) -> Result<()> {
        let data = fs::read(host).with_context(|| format!("reading {}", host.display()))?;
        let mode = fs::metadata(host)?.permissions().mode() & 0o7777;
        self.file(path, mode, data)
    }

    /// Copies a host directory tree (regular files and directories).
    fn copy_tree(&mut self, host: &Path, path: &str) -> Result<()> {
        self.dir(path, 0o755)?;
        for entry in fs::read_dir(host)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let child = format!("{path}/{name}");
            if entry.file_type()?.is_dir() {
                self.copy_tree(&entry.path(), &child)?;
            } else {
                self.copy(&child, &entry.path())?;
            }
        }
        Ok(())
    }

    fn to_newc(&self) -> Vec<u8> {
        let total: usize = self
            .entries
            .values()
            .map(|e| match e {
                Entry::File(_, d) => d.len() + 256,
                _ => 256,
            })
            .sum();
        let mut out = Vec::with_capacity(total + 512);
        for (ino, (path, entry)) in self.entries.iter().enumerate() {
            let ino = ino as u32 + 1;
            let (mode, nlink, data, rdev): (u32, u32, &[u8], (u32, u32)) = match entry {
                Entry::Dir(m) => (0o040000 | m, 2, &[], (0, 0)),
                Entry::File(m, d) => (0o100000 | m, 1, d, (0, 0)),
                Entry::Symlink(t) => (0o120777, 1, t.as_bytes(), (0, 0)),
                Entry::CharDev(m, ma, mi) => (0o020000 | m, 1, &[], (*ma, *mi)),
            };
            write_entry(&mut out, path, ino, mode, nlink, data, rdev);
        }
        write_entry(&mut out, "TRAILER!!!", 0, 0, 1, &[], (0, 0));
        // Pad so that a following archive starts on a 512-byte boundary.
        out.resize(out.len().next_multiple_of(512), 0);
        out
    }
}

fn write_entry(
    out: &mut Vec<u8>,
    name: &str,
    ino: u32,
    mode: u32,
    nlink: u32,
    data: &[u8],
    rdev: (u32, u32),
) {
    let fields = [
        ino,
        mode,
        0, // uid
        0, // gid
        nlink,
        0, // mtime: fixed, for reproducible archives
        data.len() as u32,
        0, // devmajor
        0, // devminor
        rdev.0,
        rdev.1,
        name.len() as u32 + 1,
        0, // check
    ];
    out.extend_from_slice(b"070701");
    for f in fields {
        out.extend_from_slice(format!("{f:08x}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    out.resize(out.len().next_multiple_of(4), 0);
    out.extend_from_slice(data);
    out.resize(out.len().next_multiple_of(4), 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names() {
        assert_eq!(module_name("kernel/net/ipv4/ip_gre.ko.xz"), "ip_gre");
        assert_eq!(module_name("i2c-algo-bit"), "i2c_algo_bit");
        assert_eq!(module_name("kernel/drivers/x/a-b.ko"), "a_b");
    }

    #[test]
    fn modules_dep_closure_input() {
        let deps = parse_modules_dep(
            "kernel/drivers/net/ethernet/intel/igb/igb.ko.xz: kernel/drivers/dca/dca.ko.xz \
             kernel/drivers/i2c/algos/i2c-algo-bit.ko.xz\nkernel/drivers/dca/dca.ko.xz:\n",
        );
        let (path, d) = &deps["igb"];
        assert!(path.ends_with("igb.ko.xz"));
        assert_eq!(d.len(), 2);
        assert!(deps["dca"].1.is_empty());
    }

    #[test]
    fn newc_layout() {
        let mut a = Archive::default();
        a.file("x/y", 0o644, b"hello".to_vec()).unwrap();
        a.symlink("bin", "usr/bin").unwrap();
        let bytes = a.to_newc();
        assert_eq!(bytes.len() % 512, 0);
        assert!(bytes.starts_with(b"070701"));
        let text = String::from_utf8_lossy(&bytes);
        // Parent directory first, then the file, trailer last.
        let (x, y, t) = (
            text.find("x\0").unwrap(),
            text.find("x/y\0").unwrap(),
            text.find("TRAILER!!!").unwrap(),
        );
        assert!(x < y && y < t);
        assert!(text.contains("hello"));
        assert!(a.symlink("bin/ls", "busybox").is_err());
    }
}
