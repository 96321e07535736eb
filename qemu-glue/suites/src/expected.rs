//! The cases a conformance run must report.
//!
//! A case that never runs would otherwise not fail: a suite that stops half way,
//! a guest tool that is missing, a capture that was never written all make cases
//! vanish from the report rather than fail. Each personality and kernel series
//! therefore has a declared list, `testvectors/conformance/expected/<personality>-<series>.txt`
//! (one case name per line, `#` comments), and every declared case that the run
//! selected but did not report is added as a failure, "did not run". DPDK cases
//! are declared by the DPDK suite itself (`dpdk::cases`) and left out here.
//!
//! `tunic conformance --record-expected` writes the list from a run: for a new
//! kernel series, or after a suite gained or lost a case on purpose.

use std::path::{Path, PathBuf};

use guest_provision::CaseResult;
use tunic_server::port::PersonalityKind;

/// Where the declared lists live, relative to the repository.
pub const EXPECTED_DIR: &str = "testvectors/conformance/expected";
/// The series of the default guest kernel (trixie's): the list a kernel without one
/// of its own is held to.
const DEFAULT_SERIES: &str = "6.12";

/// "6.12" of "6.12.117+deb13-amd64": cases follow the driver, which follows the series.
pub fn kernel_series(release: &str) -> String {
    guest_provision::kernel_series(release).unwrap_or_else(|| release.to_string())
}

/// Whether the DPDK suite, not this list, declares the case.
fn declared_elsewhere(name: &str) -> bool {
    name.starts_with("dpdk-")
}

/// A declared list and where it came from.
pub struct Declared {
    pub names: Vec<String>,
    pub file: PathBuf,
    /// The list is this kernel series' own, not the default series' stand-in.
    pub exact: bool,
}

fn list_path(repo: &Path, personality: PersonalityKind, series: &str) -> PathBuf {
    repo.join(EXPECTED_DIR)
        .join(format!("{}-{series}.txt", personality.name()))
}

fn parse(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// The list for `personality` on kernel series `series`, or the default series'
/// list when that one has none.
pub fn load(repo: &Path, personality: PersonalityKind, series: &str) -> anyhow::Result<Declared> {
    let own = list_path(repo, personality, series);
    let (file, exact) = if own.exists() {
        (own, true)
    } else {
        (list_path(repo, personality, DEFAULT_SERIES), false)
    };
    let text = std::fs::read_to_string(&file).map_err(|e| {
        anyhow::anyhow!(
            "no declared case list for {} ({}: {e}); record one with --record-expected",
            personality.name(),
            file.display()
        )
    })?;
    Ok(Declared {
        names: parse(&text),
        file,
        exact,
    })
}

/// Adds a failing "did not run" result for every declared case that `wanted`
/// selects and `results` lacks. Returns the reported cases the list does not
/// declare (a new case: its own verdict stands, and the list wants updating).
pub fn check(
    declared: &Declared,
    results: &mut Vec<CaseResult>,
    wanted: impl Fn(&str) -> bool,
) -> Vec<String> {
    let undeclared = results
        .iter()
        .map(|r| r.name.clone())
        .filter(|n| !declared_elsewhere(n) && !declared.names.contains(n))
        .collect();
    let stand_in = if declared.exact {
        String::new()
    } else {
        " (this kernel series has no list of its own: held to the default series'; \
         record one with --record-expected if it differs by design)"
            .to_string()
    };
    for name in declared.names.iter().filter(|n| wanted(n)) {
        if !results.iter().any(|r| &r.name == name) {
            results.push(CaseResult {
                name: name.clone(),
                passed: false,
                evidence: format!(
                    "did not run: declared in {} but not reported{stand_in}",
                    declared.file.display()
                ),
            });
        }
    }
    undeclared
}

/// Writes this run's cases as the declared list of `personality` on `series`.
pub fn record(
    repo: &Path,
    personality: PersonalityKind,
    series: &str,
    results: &[CaseResult],
) -> anyhow::Result<PathBuf> {
    let path = list_path(repo, personality, series);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut text = format!(
        "# Cases `tunic conformance --personality {}` must report on kernel series {series}\n\
         # (DPDK cases are declared by the DPDK suite). Written by --record-expected.\n",
        personality.name()
    );
    for r in results.iter().filter(|r| !declared_elsewhere(&r.name)) {
        text.push_str(&r.name);
        text.push('\n');
    }
    std::fs::write(&path, text)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &str) -> CaseResult {
        CaseResult {
            name: name.into(),
            passed: true,
            evidence: String::new(),
        }
    }

    #[test]
    fn series_of_debian_kernel_releases() {
        assert_eq!(kernel_series("6.12.117+deb13-amd64"), "6.12");
        assert_eq!(kernel_series("7.3.4+bpo-amd64"), "7.3");
        assert_eq!(kernel_series("odd"), "odd");
    }

    #[test]
    fn a_declared_case_that_did_not_report_fails_and_a_new_one_is_named() {
        let declared = Declared {
            names: parse("# header\nprobe\nping-ipv4  # comment\nrss-queues\n\n"),
            file: PathBuf::from("x.txt"),
            exact: true,
        };
        let mut results = vec![result("probe"), result("new-case"), result("dpdk-probe")];
        let undeclared = check(&declared, &mut results, |n| n != "rss-queues");
        assert_eq!(undeclared, vec!["new-case".to_string()]);
        let missing: Vec<_> = results.iter().filter(|r| !r.passed).collect();
        assert_eq!(missing.len(), 1, "rss-queues was not selected");
        assert_eq!(missing[0].name, "ping-ipv4");
        assert!(missing[0].evidence.starts_with("did not run"));
    }

    #[test]
    fn every_declared_list_is_well_formed_and_recorded_lists_round_trip() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let dir = repo.join(EXPECTED_DIR);
        let mut lists = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            let names = parse(&text);
            assert!(names.len() > 10, "a list with {} cases", names.len());
            assert!(names.iter().all(|n| !n.contains(char::is_whitespace)));
            assert!(names.iter().all(|n| !declared_elsewhere(n)));
            lists += 1;
        }
        assert!(lists >= 5, "one list per personality, and i40e on 7.3");
        let tmp = std::env::temp_dir().join(format!("tunic-expected-{}", std::process::id()));
        let path = record(
            &tmp,
            PersonalityKind::Igb,
            "9.9",
            &[result("a"), result("b")],
        )
        .unwrap();
        let back = load(&tmp, PersonalityKind::Igb, "9.9").unwrap();
        assert_eq!(
            (back.names, back.exact),
            (vec!["a".into(), "b".into()], true)
        );
        std::fs::remove_dir_all(tmp).unwrap();
        assert!(path.ends_with("igb-9.9.txt"));
    }
}
