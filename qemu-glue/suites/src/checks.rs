//! What decides each conformance case: the `check` field of every case in `report.json`.
//!
//! A verdict is worth only what its check is worth, so the report says, per case, what
//! was compared and what would have failed it, next to the evidence the run recorded
//! (`counter_deltas`: what each port's counters rose by in the windows the case's verdict
//! read, or the case's own window; every window is in `window_counter_deltas`). The catalogue is
//! `testvectors/conformance/checks.tsv`, built into the binary so the report describes
//! the checks this binary runs. A test holds every declared case to an entry.

use std::collections::BTreeMap;

use guest_provision::CaseResult;
use serde::Serialize;
use tunic_wire::ledger::{Counters, WindowDeltas};

const CATALOGUE: &str = include_str!("../../../testvectors/conformance/checks.tsv");

/// `(name, check)` rows; a name ending in `*` is a prefix pattern.
fn rows() -> impl Iterator<Item = (&'static str, &'static str)> {
    CATALOGUE
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split_once('\t'))
        .map(|(n, c)| (n.trim(), c.trim()))
}

/// The check that decides `name`: its own entry, else the longest matching pattern.
pub fn check_of(name: &str) -> Option<&'static str> {
    // A merged report qualifies names ("igb 6.12: ping-ipv4"); the case is the last part.
    let name = name.rsplit(": ").next().unwrap_or(name);
    let mut best: Option<(usize, &'static str)> = None;
    for (n, c) in rows() {
        match n.strip_suffix('*') {
            None if n == name => return Some(c),
            Some(prefix)
                if name.starts_with(prefix) && best.is_none_or(|(len, _)| prefix.len() > len) =>
            {
                best = Some((prefix.len(), c));
            }
            _ => {}
        }
    }
    best.map(|(_, c)| c)
}

/// A case as the report writes it: the guest's result and the check behind it.
#[derive(Serialize)]
pub struct ReportedCase<'a> {
    #[serde(flatten)]
    pub case: &'a CaseResult,
    /// Absent only for a case the catalogue does not know (the test below keeps the
    /// declared ones known).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<&'static str>,
    /// Per window the case used, per port (A, B): the counters that rose, by how much.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub counter_deltas: BTreeMap<String, Vec<Counters>>,
}

/// The counter windows a case's verdict rests on: `X-in-device` reads window `X`,
/// `diff-P-in-device` the software and offload windows of pair P, and a case that
/// opened a window of its own name (`uso`, `nvgre-v4-in-v4`) has that one.
pub fn windows_of(case: &str) -> Vec<String> {
    if let Some(pair) = case
        .strip_prefix("diff-")
        .and_then(|p| p.strip_suffix("-in-device"))
    {
        return vec![format!("diff-{pair}-sw"), format!("diff-{pair}-hw")];
    }
    match case.strip_suffix("-in-device") {
        Some(window) => vec![window.to_string()],
        None => vec![case.to_string()],
    }
}

/// `deltas`' windows for `case`, each port's counters reduced to those that moved.
fn deltas_of(case: &str, deltas: &WindowDeltas) -> BTreeMap<String, Vec<Counters>> {
    windows_of(case)
        .into_iter()
        .filter_map(|w| {
            let ports = deltas.get(&w)?;
            let moved = ports
                .iter()
                .map(|c| {
                    c.iter()
                        .filter(|(_, n)| **n > 0)
                        .map(|(k, n)| (k.clone(), *n))
                        .collect()
                })
                .collect();
            Some((w, moved))
        })
        .collect()
}

/// The report's cases: each with its check and, where a window backs it, its deltas.
pub fn with_checks<'a>(cases: &'a [CaseResult], deltas: &WindowDeltas) -> Vec<ReportedCase<'a>> {
    cases
        .iter()
        .map(|case| ReportedCase {
            case,
            check: check_of(&case.name),
            counter_deltas: deltas_of(&case.name, deltas),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_case_carries_the_deltas_of_the_windows_its_verdict_read() {
        let mut d = WindowDeltas::new();
        let moved = |n: u64| Counters::from([("tso_packets".into(), n), ("rx_frames".into(), 0)]);
        d.insert("tso-ipv4".into(), vec![moved(7), moved(0)]);
        d.insert("diff-tcp4-sw".into(), vec![moved(0), moved(0)]);
        d.insert("diff-tcp4-hw".into(), vec![moved(2), moved(0)]);
        let cases: Vec<CaseResult> = ["tso-ipv4-in-device", "diff-tcp4-in-device", "probe"]
            .iter()
            .map(|n| CaseResult {
                name: n.to_string(),
                passed: true,
                evidence: String::new(),
            })
            .collect();
        let r = with_checks(&cases, &d);
        assert_eq!(r[0].counter_deltas["tso-ipv4"][0]["tso_packets"], 7);
        // Counters that did not move are left out.
        assert!(r[0].counter_deltas["tso-ipv4"][1].is_empty());
        assert_eq!(
            r[1].counter_deltas.keys().collect::<Vec<_>>(),
            ["diff-tcp4-hw", "diff-tcp4-sw"]
        );
        assert!(r[2].counter_deltas.is_empty());
    }

    #[test]
    fn every_declared_case_has_a_check() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(crate::expected::EXPECTED_DIR);
        let mut missing = Vec::new();
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            for name in text
                .lines()
                .map(|l| l.split('#').next().unwrap_or("").trim())
                .filter(|l| !l.is_empty())
            {
                seen += 1;
                if check_of(name).is_none() {
                    missing.push(format!("{}: {name}", path.display()));
                }
            }
        }
        assert!(
            seen > 100,
            "the declared lists were not found ({seen} names)"
        );
        assert!(missing.is_empty(), "cases without a check: {missing:#?}");
    }

    #[test]
    fn exact_entries_win_and_the_longest_pattern_is_taken() {
        let mut pattern = None;
        for (n, _) in rows() {
            if let Some(p) = n.strip_suffix('*') {
                pattern = Some(p.to_string());
                break;
            }
        }
        let Some(p) = pattern else { return };
        let case = format!("{p}made-up-case");
        assert!(check_of(&case).is_some());
        assert_eq!(check_of("no-such-case-in-any-suite"), None);
        assert_eq!(check_of("igb 6.12: ping-ipv4"), check_of("ping-ipv4"));
        assert!(check_of("ping-ipv4").is_some());
        // An exact row is never shadowed by a pattern it also matches (dpdk-lso-sent
        // against dpdk-lso-*, for one).
        let mut shadowed = 0;
        for (n, c) in rows().filter(|(n, _)| !n.ends_with('*')) {
            assert_eq!(check_of(n), Some(c), "{n}");
            shadowed +=
                rows().any(|(p, _)| p.strip_suffix('*').is_some_and(|p| n.starts_with(p))) as usize;
        }
        assert!(
            shadowed > 0,
            "no exact row overlaps a pattern: the rule is untested"
        );
    }

    #[test]
    fn every_row_has_a_name_and_a_check() {
        let bad: Vec<&str> = CATALOGUE
            .lines()
            .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
            .filter(|l| {
                l.split_once('\t')
                    .is_none_or(|(n, c)| n.trim().is_empty() || c.trim().is_empty())
            })
            .collect();
        assert!(bad.is_empty(), "malformed rows: {bad:?}");
    }
}
