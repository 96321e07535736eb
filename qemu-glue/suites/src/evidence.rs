//! "The NIC really did it": per-case evidence from the device's own counters.
//!
//! A kernel that stops offloading (a feature turned off, a driver that falls back
//! to software GSO) still puts correct frames on the wire, so a wire check alone
//! cannot tell. Each case below reads the sending port's counter *delta over the
//! case's own window* (see `backend::ledger`): a whole-boot total would let one
//! offloaded case vouch for another that fell back.

use guest_provision::CaseResult;
use tunic_server::port::PersonalityKind;
use tunic_wire::ledger::{delta_of, WindowDeltas};

/// The sending NIC of every case window (A).
const SENDER: usize = 0;

/// The counters that say "the NIC segmented": per personality family.
struct Names {
    tso: &'static [&'static str],
    /// None: the personality has no tunnel segmentation (virtio-net).
    tunnel: Option<&'static [&'static str]>,
    uso: &'static [&'static str],
}

fn names(p: PersonalityKind) -> Names {
    match p {
        PersonalityKind::Igb => Names {
            tso: &["tso_packets"],
            // GSO_PARTIAL contexts whose IPLEN spans the tunnel headers.
            tunnel: Some(&["tso_tunnel_headers"]),
            uso: &["tso_udp"],
        },
        PersonalityKind::I40e => Names {
            tso: &["tso_packets"],
            // Context descriptors with a GRE tunnelling word.
            tunnel: Some(&["tso_tunnel_packets"]),
            uso: &["tso_udp"],
        },
        PersonalityKind::VirtioNet | PersonalityKind::VirtioNetPacked => Names {
            tso: &["tx_gso"],
            tunnel: None,
            uso: &["tx_uso"],
        },
    }
}

fn case(name: String, passed: bool, evidence: String) -> CaseResult {
    CaseResult {
        name,
        passed,
        evidence,
    }
}

/// A check on one window's delta; a window that never opened fails the case.
fn window_check(
    d: &WindowDeltas,
    name: String,
    window: &str,
    counters: &[&str],
    what: &str,
) -> CaseResult {
    match delta_of(d, window, SENDER, counters) {
        Some(n) => case(
            name,
            n > 0,
            format!(
                "{} +{n} during window '{window}': {what}",
                counters.join("+")
            ),
        ),
        None => case(
            name,
            false,
            format!("no counter window '{window}' was recorded (its marker never arrived)"),
        ),
    }
}

pub fn in_device_checks(
    d: &WindowDeltas,
    guest: &[CaseResult],
    personality: PersonalityKind,
) -> Vec<CaseResult> {
    let n = names(personality);
    let mut out = Vec::new();
    let ran = |c: &str| guest.iter().any(|g| g.name == c);
    // Plain TSO: the driver suite's bulk TCP windows (that suite always runs).
    for w in ["tso-ipv4", "tso-ipv6"] {
        out.push(window_check(
            d,
            format!("{w}-in-device"),
            w,
            n.tso,
            "TCP super-packets the NIC segmented",
        ));
    }
    if ran("uso") {
        out.push(window_check(
            d,
            "uso-in-device".into(),
            "uso",
            n.uso,
            "UDP_SEGMENT sends the NIC cut; a kernel segmenting in software leaves this at 0",
        ));
    }
    // NVGRE TCP over the gretap/ip6gretap device (UDP through a tunnel is not segmented).
    if let Some(tunnel) = n.tunnel {
        for g in guest
            .iter()
            .filter(|g| g.name.starts_with("nvgre-v") && !g.name.ends_with("-in-device"))
        {
            out.push(window_check(
                d,
                format!("{}-in-device", g.name),
                &g.name,
                tunnel,
                "tunnel TSO packets the NIC segmented (outer and inner headers per segment)",
            ));
        }
    }
    // Differential pairs: the software run must not have used the NIC, the offload run
    // must have (on virtio-net, which has no GRE segmentation, neither may for NVGRE).
    let pairs: Vec<&str> = d
        .keys()
        .filter_map(|k| k.strip_prefix("diff-")?.strip_suffix("-hw"))
        .collect();
    for p in pairs {
        let nvgre = p.starts_with("nvgre");
        let hw_names: &[&str] = match (nvgre, n.tunnel) {
            (true, Some(t)) => t,
            _ => n.tso,
        };
        let sw = delta_of(d, &format!("diff-{p}-sw"), SENDER, n.tso);
        let hw = delta_of(d, &format!("diff-{p}-hw"), SENDER, hw_names).unwrap_or(0);
        let hw_expected = !(nvgre && n.tunnel.is_none());
        let passed = sw == Some(0) && (hw > 0) == hw_expected;
        let evidence = format!(
            "software run: {} {}; offload run: {} +{hw}{}",
            n.tso.join("+"),
            sw.map_or("window missing".to_string(), |s| format!("+{s}")),
            hw_names.join("+"),
            if hw_expected {
                ""
            } else {
                " (this personality has no GRE segmentation: the kernel segments both runs)"
            }
        );
        out.push(case(format!("diff-{p}-in-device"), passed, evidence));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tunic_wire::ledger::Counters;

    fn deltas(w: &[(&str, &str, u64)]) -> WindowDeltas {
        let mut d = WindowDeltas::new();
        for (window, counter, n) in w {
            d.entry(window.to_string())
                .or_insert_with(|| vec![Counters::new(), Counters::new()])[0]
                .insert(counter.to_string(), *n);
        }
        d
    }

    fn verdict(out: &[CaseResult], name: &str) -> Option<bool> {
        out.iter().find(|c| c.name == name).map(|c| c.passed)
    }

    #[test]
    fn a_case_that_fell_back_to_software_fails_even_if_another_offloaded() {
        let guest: Vec<CaseResult> = ["nvgre-v4-in-v4", "nvgre-v6-in-v4"]
            .iter()
            .map(|n| case(n.to_string(), true, String::new()))
            .collect();
        let d = deltas(&[
            ("nvgre-v4-in-v4", "tso_tunnel_packets", 40),
            ("nvgre-v6-in-v4", "tso_tunnel_packets", 0),
        ]);
        let out = in_device_checks(&d, &guest, PersonalityKind::I40e);
        assert_eq!(verdict(&out, "nvgre-v4-in-v4-in-device"), Some(true));
        assert_eq!(verdict(&out, "nvgre-v6-in-v4-in-device"), Some(false));
    }

    #[test]
    fn differential_pairs_need_software_then_hardware() {
        let d = deltas(&[
            ("diff-tcp4-sw", "tso_packets", 0),
            ("diff-tcp4-hw", "tso_packets", 2),
            ("diff-tcp6-sw", "tso_packets", 2),
            ("diff-tcp6-hw", "tso_packets", 2),
            ("diff-nvgre-v4-in-v4-sw", "tx_gso", 0),
            ("diff-nvgre-v4-in-v4-hw", "tx_gso", 0),
        ]);
        let out = in_device_checks(&d, &[], PersonalityKind::Igb);
        assert_eq!(verdict(&out, "diff-tcp4-in-device"), Some(true));
        assert_eq!(verdict(&out, "diff-tcp6-in-device"), Some(false));
        // igb must have cut the tunnel itself.
        assert_eq!(verdict(&out, "diff-nvgre-v4-in-v4-in-device"), Some(false));
        let out = in_device_checks(&d, &[], PersonalityKind::VirtioNet);
        assert_eq!(verdict(&out, "diff-nvgre-v4-in-v4-in-device"), Some(true));
    }

    #[test]
    fn a_window_that_never_opened_fails() {
        let guest = [case("uso".into(), true, String::new())];
        let out = in_device_checks(&WindowDeltas::new(), &guest, PersonalityKind::VirtioNet);
        assert_eq!(verdict(&out, "uso-in-device"), Some(false));
    }
}
