//! Accelerator choice: KVM when it is usable, TCG otherwise.
//!
//! kvm-pvm hosts expose a `/dev/kvm` that opens but cannot run a stock guest
//! kernel ("KVM internal error ... emulation failure"), so they get TCG too.

use std::fs::OpenOptions;
use std::path::Path;

use anyhow::{bail, Result};
use serde::Serialize;

/// What the caller asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Accel {
    /// `TUNIC_ACCEL` (`kvm` or `tcg`) if set, else detection.
    #[default]
    Auto,
    Kvm,
    Tcg,
}

/// What QEMU runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AccelKind {
    Kvm,
    Tcg,
}

/// The resolved accelerator and why it was chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccelChoice {
    pub kind: AccelKind,
    pub reason: String,
}

impl AccelChoice {
    /// QEMU arguments for this accelerator.
    pub fn qemu_args(&self) -> [&'static str; 4] {
        match self.kind {
            AccelKind::Kvm => ["-accel", "kvm", "-cpu", "host"],
            AccelKind::Tcg => ["-accel", "tcg", "-cpu", "max"],
        }
    }
}

impl Accel {
    /// Resolves `Auto` (environment, then host detection).
    pub fn resolve(self) -> Result<AccelChoice> {
        let choice = |kind, reason: &str| {
            Ok(AccelChoice {
                kind,
                reason: reason.to_string(),
            })
        };
        match self {
            Accel::Kvm => choice(AccelKind::Kvm, "requested"),
            Accel::Tcg => choice(AccelKind::Tcg, "requested"),
            Accel::Auto => match std::env::var("TUNIC_ACCEL").ok().as_deref().map(str::trim) {
                Some("kvm") => choice(AccelKind::Kvm, "TUNIC_ACCEL=kvm"),
                Some("tcg") => choice(AccelKind::Tcg, "TUNIC_ACCEL=tcg"),
                Some("") | Some("auto") | None => Ok(detect()),
                Some(other) => bail!("TUNIC_ACCEL={other}: expected kvm, tcg or auto"),
            },
        }
    }
}

fn detect() -> AccelChoice {
    let tcg = |reason: &str| AccelChoice {
        kind: AccelKind::Tcg,
        reason: reason.to_string(),
    };
    if Path::new("/sys/module/kvm_pvm").exists() {
        return tcg("/dev/kvm is kvm-pvm, which cannot run a stock guest kernel");
    }
    match OpenOptions::new().read(true).write(true).open("/dev/kvm") {
        Ok(_) => AccelChoice {
            kind: AccelKind::Kvm,
            reason: "/dev/kvm is usable".to_string(),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => tcg("/dev/kvm does not exist"),
        Err(e) => tcg(&format!("/dev/kvm cannot be opened: {e}")),
    }
}
