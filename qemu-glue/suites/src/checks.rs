//! What decides each conformance case: the `check` field of every case in `report.json`.
//!
//! A verdict is worth only what its check is worth, so the report says, per case, what
//! was compared and what would have failed it, next to the evidence the run recorded
//! (the counter deltas of its window are in `window_counter_deltas`). The catalogue is
//! `testvectors/conformance/checks.tsv`, built into the binary so the report describes
//! the checks this binary runs. A test holds every declared case to an entry.

use guest_provision::CaseResult;
use serde::Serialize;

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
}

pub fn with_checks(cases: &[CaseResult]) -> Vec<ReportedCase<'_>> {
    cases
        .iter()
        .map(|case| ReportedCase {
            case,
            check: check_of(&case.name),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
