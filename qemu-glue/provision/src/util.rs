//! Small helpers shared by the provisioning steps.

use std::fmt::Display;
use std::fs::{self, File, OpenOptions};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};

/// Progress lines on stderr, enabled by `ProvisionOptions::progress`.
#[derive(Clone, Copy)]
pub(crate) struct Progress(pub bool);

impl Progress {
    pub fn say(&self, msg: impl Display) {
        if self.0 {
            eprintln!("[tunic] {msg}");
        }
    }
}

/// An exclusive `flock` on a file, released on drop.
pub(crate) struct FileLock(#[allow(dead_code)] File);

impl FileLock {
    pub fn acquire(path: &Path, progress: &Progress) -> Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .with_context(|| format!("opening lock file {}", path.display()))?;
        let fd = file.as_raw_fd();
        // SAFETY: flock on a file descriptor we own.
        if unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            progress.say(format!(
                "waiting for another process holding {}",
                path.display()
            ));
            // SAFETY: as above.
            if unsafe { libc::flock(fd, libc::LOCK_EX) } != 0 {
                return Err(std::io::Error::last_os_error())
                    .with_context(|| format!("locking {}", path.display()));
            }
        }
        Ok(Self(file))
    }
}

/// Runs a command to completion, capturing its output. Fails with the tail of
/// its output when it exits unsuccessfully. Returns stdout.
pub(crate) fn run(cmd: &mut Command, what: &str) -> Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("{what}: cannot run {:?}", cmd.get_program()))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        bail!(
            "{what} failed ({}):\n{}\n{}",
            out.status,
            tail(&stdout, 20),
            tail(&stderr, 30)
        );
    }
    Ok(stdout)
}

/// A `chroot ROOT ...` command with a clean, predictable environment.
pub(crate) fn chroot(root: &Path) -> Command {
    let mut cmd = Command::new("chroot");
    cmd.arg(root)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("HOME", "/root")
        .env("LC_ALL", "C")
        .env("DEBIAN_FRONTEND", "noninteractive");
    cmd
}

/// The path of `host_path` as seen inside `root` (both must be canonical).
pub(crate) fn inside(root: &Path, host_path: &Path) -> Result<String> {
    let rel = host_path
        .strip_prefix(root)
        .with_context(|| format!("{} is not under {}", host_path.display(), root.display()))?;
    Ok(format!("/{}", rel.display()))
}

/// A string unique to this process and call, for temporary names.
pub(crate) fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A scratch directory removed on drop.
pub(crate) struct ScratchDir(pub PathBuf);

impl ScratchDir {
    pub fn new(parent: &Path, prefix: &str) -> Result<Self> {
        let path = parent.join(format!("{prefix}{}", unique_suffix()));
        fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Self(path))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Removes `parent/<prefix><pid>-...` scratch directories (or files) whose process is
/// gone (left behind by a process that was killed before cleaning up).
pub(crate) fn sweep_stale_scratch(parent: &Path, prefix: &str) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(prefix)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let path = entry.path();
            let _ = if path.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
        }
    }
}

/// The last `n` lines of `s`.
pub(crate) fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// FNV-1a, for cache keys (stable across Rust versions, unlike `DefaultHasher`).
pub(crate) fn fnv1a(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
    }

    #[test]
    fn inside_translates() {
        assert_eq!(
            inside(Path::new("/c/root"), Path::new("/c/root/tmp/x")).unwrap(),
            "/tmp/x"
        );
        assert!(inside(Path::new("/c/root"), Path::new("/elsewhere")).is_err());
    }
}
