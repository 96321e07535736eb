//! The DPDK part of `tunic conformance`: a second boot, into the full Debian
//! guest, where NIC A is driven by DPDK's PMD for the personality (testpmd from
//! Debian's `dpdk`, bound through `uio_pci_generic`) and NIC B stays on its
//! kernel driver as the peer. Fresh tunic ports, so nothing the kernel driver
//! left in the device carries over.

use std::path::Path;
use std::time::Duration;

use qemu_glue::backend::ledger::{delta_of, WindowDeltas};
use qemu_glue::harness::{self, Assets, CaseResult, GuestSpec};
use qemu_glue::port::PersonalityKind;

use super::demo::{AccelArg, Pcaps, WiredPair};

/// The cases the DPDK suite must report; one that does not fails as "did not run".
pub const CASES: &[&str] = &[
    "dpdk-probe",
    "dpdk-link",
    "dpdk-macswap",
    "dpdk-txonly",
    "dpdk-txonly-accounted",
];

/// The testpmd PMD each personality is driven by.
pub fn pmd(p: PersonalityKind) -> &'static str {
    match p {
        PersonalityKind::Igb => "net_e1000_igb",
        PersonalityKind::I40e => "net_i40e",
        PersonalityKind::VirtioNet | PersonalityKind::VirtioNetPacked => "net_virtio",
    }
}

/// Boots the DPDK guest on two fresh ports and returns its cases (after `wanted`).
pub fn run_suite(
    assets: &Assets,
    out: &Path,
    personality: PersonalityKind,
    accel: AccelArg,
    console: bool,
) -> anyhow::Result<Vec<CaseResult>> {
    let Some(disk) = assets.full_image.clone() else {
        anyhow::bail!("the DPDK suite needs the full guest image (provision with full_image)");
    };
    let dir = out.join("dpdk");
    let pair = WiredPair::start_as(&dir, Pcaps::Windows, Default::default(), personality)?;
    eprintln!(
        "[tunic] DPDK suite: testpmd's {} on tunic's {}, output in {}",
        pmd(personality),
        personality.name(),
        dir.display()
    );
    let spec = GuestSpec {
        nics: pair.nics(),
        script: format!(
            "TUNIC_DRIVER={}\n{}",
            super::demo::guest_driver(personality),
            include_str!("guest/dpdk-suite.sh")
        ),
        timeout: Duration::from_secs(900),
        accel: accel.into(),
        console_log: Some(dir.join("console.log")),
        echo_console: console,
        extra_files: vec![(
            "tunic/bin/tunic-guest".into(),
            super::conformance::guest_tool()?,
        )],
        // Hugepages (512 MiB) on top of the guest's own needs.
        memory_mib: 1536,
        disk: Some(disk),
        ..Default::default()
    };
    let run = harness::boot(assets, &spec)?;
    let mut results = run.results.clone();
    if let Some(l) = &pair.ledger {
        if let Some(c) = txonly_accounted(&results, &l.deltas()) {
            results.push(c);
        }
    }
    for c in CASES {
        if !results.iter().any(|r| r.name == *c) {
            results.push(CaseResult {
                name: (*c).to_string(),
                passed: false,
                evidence: format!(
                    "did not run (guest ended {:?}); console tail: {}",
                    run.exit,
                    run.console_tail(8).replace('\n', " | ")
                ),
            });
        }
    }
    drop(pair);
    Ok(results)
}

/// `key=N` in a case's evidence.
fn evidence_value(c: &CaseResult, key: &str) -> Option<u64> {
    c.evidence
        .split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
}

/// Nothing vanished in txonly: every frame testpmd counted as sent reached B's
/// driver, or was counted as dropped by B's NIC or by the wire into it.
fn txonly_accounted(guest: &[CaseResult], d: &WindowDeltas) -> Option<CaseResult> {
    let g = guest.iter().find(|c| c.name == "dpdk-txonly")?;
    let value = |k| evidence_value(g, k);
    let (Some(tx), Some(rx), Some(lost)) = (value("tx"), value("peer_rx"), value("peer_lost"))
    else {
        return Some(CaseResult {
            name: "dpdk-txonly-accounted".into(),
            passed: false,
            evidence: format!("the guest's counts are missing: {}", g.evidence),
        });
    };
    let wire = delta_of(d, "dpdk-txonly", 0, &["wire_tx_dropped"]);
    let sent = delta_of(d, "dpdk-txonly", 0, &["tx_frames"]);
    let (passed, evidence) = match (wire, sent) {
        (Some(wire), Some(sent)) => {
            let reached = rx + lost + wire;
            // B's stack may see a few frames of its own in the window (none expected).
            (
                sent == tx && reached >= tx && reached <= tx + 4,
                format!("testpmd sent {tx}, tunic's NIC A put {sent} on the wire; B's driver received {rx}, B's NIC counted {lost} missed, the wire dropped {wire}: {reached} accounted for"),
            )
        }
        _ => (false, "no counter window 'dpdk-txonly' was recorded".into()),
    };
    Some(CaseResult {
        name: "dpdk-txonly-accounted".into(),
        passed,
        evidence,
    })
}
