//! The DPDK part of `tunic conformance`: a second boot, into the full Debian
//! guest, where NIC A is driven by DPDK's PMD for the personality (testpmd from
//! Debian's `dpdk`, bound through `uio_pci_generic`) and NIC B stays on its
//! kernel driver as the peer. Fresh tunic ports, so nothing the kernel driver
//! left in the device carries over.

use std::path::Path;
use std::time::Duration;

use guest_provision::{Assets, CaseResult, GuestSpec};
use tunic_server::port::PersonalityKind;
use tunic_wire::ledger::{delta_of, WindowDeltas};

use super::demo::{AccelArg, Pcaps, WiredPair};

/// The cases the DPDK suite must report for a personality; one that does not
/// report fails as "did not run".
pub fn cases(p: PersonalityKind) -> Vec<String> {
    let mut c = vec![
        "dpdk-probe",
        "dpdk-link",
        "dpdk-macswap",
        "dpdk-txonly",
        "dpdk-txonly-accounted",
        "dpdk-rx-csum-l4",
        "dpdk-rss-key",
    ];
    // virtio-net reports no IPv4 checksum status, and its PMD neither sets the link
    // down nor hears link events without MSI-X; only the X710 checks NVGRE's layers.
    if !matches!(
        p,
        PersonalityKind::VirtioNet | PersonalityKind::VirtioNetPacked
    ) {
        c.extend(["dpdk-link-event", "dpdk-rx-csum-ip"]);
    }
    if p == PersonalityKind::I40e {
        c.extend([
            "dpdk-rx-csum-nvgre-inner-l4",
            "dpdk-rx-csum-nvgre-inner-ip",
            "dpdk-rx-csum-nvgre-outer-ip",
            "dpdk-lso-sent",
            "dpdk-vsid-steer-match",
            "dpdk-vsid-steer-match-mac",
            "dpdk-vsid-steer-match-vsid",
            "dpdk-vsid-steer-other-vsid",
            "dpdk-vsid-steer-other-mac",
            "dpdk-vsid-steer-unknown-vsid",
        ]);
    }
    let mut c: Vec<String> = c.into_iter().map(str::to_string).collect();
    if p == PersonalityKind::I40e {
        c.extend(super::dpdk_lso::case_names());
    }
    c
}

/// The testpmd PMD each personality is driven by.
pub fn pmd(p: PersonalityKind) -> &'static str {
    match p {
        PersonalityKind::Igb => "net_e1000_igb",
        PersonalityKind::I40e => "net_i40e",
        PersonalityKind::VirtioNet | PersonalityKind::VirtioNetPacked => "net_virtio",
    }
}

/// Boots the DPDK guest on two fresh ports; returns its cases and counter windows.
pub fn run_suite(
    assets: &Assets,
    out: &Path,
    personality: PersonalityKind,
    accel: AccelArg,
    console: bool,
) -> anyhow::Result<(Vec<CaseResult>, WindowDeltas)> {
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
            "TUNIC_DRIVER={}\n{}\n{}",
            super::demo::guest_driver(personality),
            include_str!("guest/testpmd-lib.sh"),
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
    let run = guest_provision::boot(assets, &spec)?;
    let mut results = run.results.clone();
    let deltas = pair.ledger.as_ref().map(|l| l.deltas()).unwrap_or_default();
    if let Some(c) = txonly_accounted(&results, &deltas) {
        results.push(c);
    }
    // Stopping the ports flushes the captures the LSO oracles read.
    drop(pair);
    if personality == PersonalityKind::I40e {
        results.extend(super::dpdk_lso::check(
            &dir,
            &tunic_server::topology::default_mac(0),
            &tunic_server::topology::default_mac(1),
            &deltas,
        ));
    }
    for c in cases(personality) {
        if !results.iter().any(|r| r.name == c) {
            results.push(CaseResult {
                name: c,
                passed: false,
                evidence: format!(
                    "did not run (guest ended {:?}); console tail: {}",
                    run.exit,
                    run.console_tail(8).replace('\n', " | ")
                ),
            });
        }
    }
    Ok((results, deltas))
}

/// `key=N` in a case's evidence.
fn evidence_value(c: &CaseResult, key: &str) -> Option<u64> {
    c.evidence
        .split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
}

/// What a port's device counted as sent: igb and i40e `tx_frames`, virtio-net `tx_packets`.
const SENT: &[&str] = &["tx_frames", "tx_packets"];
/// Frames a device put into the guest's receive buffers.
const DELIVERED: &[&str] = &["rx_frames", "rx_packets"];
/// Frames a device received and dropped, each counted once, by cause (igb, i40e and
/// virtio-net names; a personality has only its own).
const DROPPED: &[&str] = &[
    "rx_fifo_overflow_drops",
    "rx_no_descriptor_drops",
    "rx_disabled_drops",
    "rx_reset_drops",
    "rx_filtered",
    "rx_oversize_dropped",
    "rx_undersize_dropped",
    "rx_dma_errors",
    "rx_ring_errors",
    "rx_not_ready_drops",
    "rx_backlog_drops",
    "rx_oversize_drops",
    "rx_runt_drops",
];

/// Nothing vanished in txonly: every frame testpmd counted as sent left tunic's NIC
/// A, and either reached NIC B (which delivered it to its driver, which counted it,
/// or dropped it and counted why) or was dropped, and counted, by the wire into B.
fn txonly_accounted(guest: &[CaseResult], d: &WindowDeltas) -> Option<CaseResult> {
    let g = guest.iter().find(|c| c.name == "dpdk-txonly")?;
    let case = |passed, evidence| CaseResult {
        name: "dpdk-txonly-accounted".into(),
        passed,
        evidence,
    };
    let (Some(tx), Some(driver_rx)) = (evidence_value(g, "tx"), evidence_value(g, "peer_rx"))
    else {
        return Some(case(
            false,
            format!("the guest's counts are missing: {}", g.evidence),
        ));
    };
    let w = "dpdk-txonly";
    let counts = (
        delta_of(d, w, 0, SENT),
        delta_of(d, w, 0, &["wire_tx_dropped"]),
        delta_of(d, w, 1, DELIVERED),
        delta_of(d, w, 1, DROPPED),
    );
    let (Some(sent), Some(wire), Some(delivered), Some(dropped)) = counts else {
        return Some(case(false, format!("no counter window '{w}' was recorded")));
    };
    let arrived = delivered + dropped + wire;
    // B's driver reads its counters a little after the window's counts; allow a few.
    let driver_ok = driver_rx <= delivered && delivered - driver_rx <= 4;
    Some(case(
        sent == tx && arrived == sent && driver_ok,
        format!("testpmd sent {tx}, tunic's NIC A put {sent} on the wire; the wire dropped {wire}; NIC B delivered {delivered} (its driver counted {driver_rx}) and dropped {dropped}: {arrived} accounted for"),
    ))
}
