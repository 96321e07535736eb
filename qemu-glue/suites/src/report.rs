//! `tunic report merge`: joins the reports of many shards (`tunic selftests
//! --shard K/N`, or conformance runs of several personalities or kernels) into
//! one `report.json` and `junit.xml`, so a CI matrix ends in one verdict.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use guest_provision::CaseResult;
use serde_json::Value;

use super::checks::ReportedCase;
use super::selftests::Column;

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    #[command(subcommand)]
    pub command: ReportCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum ReportCommand {
    /// Merge report.json files (all from `tunic selftests`, or all from `tunic conformance`).
    Merge(MergeArgs),
}

#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// Where the merged report.json and junit.xml go.
    #[arg(long, default_value = "target/merged")]
    pub out: PathBuf,
    /// The reports to merge (report.json files, or directories holding one).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
}

pub fn run(a: ReportArgs) -> anyhow::Result<()> {
    match a.command {
        ReportCommand::Merge(m) => merge(&m),
    }
}

fn read(path: &Path) -> anyhow::Result<Value> {
    let file = match path.is_dir() {
        true => path.join("report.json"),
        false => path.to_path_buf(),
    };
    let text =
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))
}

/// The merged report and its JUnit text.
pub fn merge_values(reports: &[Value]) -> anyhow::Result<(Value, String)> {
    let kind = |r: &Value| match (r.get("columns"), r.get("cases")) {
        (Some(_), _) => Some("selftests"),
        (None, Some(_)) => Some("conformance"),
        _ => None,
    };
    let kinds: Vec<Option<&str>> = reports.iter().map(kind).collect();
    if kinds.iter().any(Option::is_none) {
        bail!("an input is neither a selftests nor a conformance report");
    }
    if kinds.windows(2).any(|w| w[0] != w[1]) {
        bail!("the inputs mix selftests and conformance reports");
    }
    let all_passed = reports
        .iter()
        .all(|r| r.get("passed").and_then(Value::as_bool) == Some(true));
    match kinds[0] {
        Some("selftests") => merge_selftests(reports, all_passed),
        _ => merge_conformance(reports, all_passed),
    }
}

fn merge_selftests(reports: &[Value], passed: bool) -> anyhow::Result<(Value, String)> {
    let mut columns: Vec<(String, Column)> = Vec::new();
    let mut regressions = Vec::new();
    for r in reports {
        let personality = r["personality"].as_str().unwrap_or("?");
        let kernel = r["kernel"].as_str().unwrap_or("?");
        let cols: Vec<Column> = serde_json::from_value(r["columns"].clone())
            .context("a selftests report's columns are unreadable")?;
        for c in cols {
            // One column per NIC and kernel: shards of the same run join up.
            let key = format!("{} on {kernel}", c.nic);
            match columns.iter_mut().find(|(k, _)| *k == key) {
                Some((_, into)) => {
                    for p in c.programs {
                        if into.programs.iter().any(|q| q.name == p.name) {
                            bail!("{} ran in two shards of {key}", p.name);
                        }
                        into.programs.push(p);
                    }
                    into.completed &= c.completed;
                    into.setup_passed &= c.setup_passed;
                    into.total_seconds += c.total_seconds;
                }
                None => columns.push((key, c)),
            }
        }
        if let Some(list) = r["comparison"]["regressions"].as_array() {
            regressions.extend(
                list.iter()
                    .filter_map(Value::as_str)
                    .map(|s| format!("{personality} {kernel}: {s}")),
            );
        }
    }
    let cols: Vec<Column> = columns
        .into_iter()
        .map(|(key, mut c)| {
            c.nic = key;
            c
        })
        .collect();
    let junit = super::selftests::junit("merged", &cols);
    let merged = serde_json::json!({
        "merged_from": reports.len(),
        "passed": passed,
        "columns": cols,
        "regressions": regressions,
    });
    Ok((merged, junit))
}

type CaseDeltas = BTreeMap<String, Vec<tunic_wire::ledger::Counters>>;

/// A case of a shard's `report.json`: the guest's result and the deltas it carried.
#[derive(serde::Deserialize)]
struct ShardCase {
    #[serde(flatten)]
    case: CaseResult,
    #[serde(default)]
    counter_deltas: CaseDeltas,
}

fn merge_conformance(reports: &[Value], passed: bool) -> anyhow::Result<(Value, String)> {
    let mut cases: Vec<CaseResult> = Vec::new();
    // Each case's counter deltas, as its shard reported them, beside it.
    let mut deltas: Vec<CaseDeltas> = Vec::new();
    for r in reports {
        let kernel = r["kernel"].as_str().unwrap_or("?");
        let list: Vec<ShardCase> = serde_json::from_value(r["cases"].clone())
            .context("a conformance report's cases are unreadable")?;
        // Runs of several personalities or kernels name the same cases: qualify them.
        let tag = format!("{} {kernel}", r["personality"].as_str().unwrap_or("?"));
        for ShardCase {
            case: mut c,
            counter_deltas,
        } in list
        {
            // Shards of one run share a tag and must not share a case.
            if cases
                .iter()
                .any(|d| d.name == c.name || d.name == format!("{tag}: {}", c.name))
            {
                bail!("{} was reported by two shards of {tag}", c.name);
            }
            if reports.len() > 1 {
                c.name = format!("{tag}: {}", c.name);
            }
            cases.push(c);
            deltas.push(counter_deltas);
        }
    }
    let seconds: f64 = reports
        .iter()
        .filter_map(|r| r["total_seconds"].as_f64())
        .sum();
    let junit = super::conformance::junit("tunic-conformance", "merged", &cases, seconds);
    let merged = serde_json::json!({
        "merged_from": reports.len(),
        "passed": passed && cases.iter().all(|c| c.passed),
        "cases": cases
            .iter()
            .zip(deltas)
            .map(|(case, counter_deltas)| ReportedCase {
                case,
                check: super::checks::check_of(&case.name),
                counter_deltas,
            })
            .collect::<Vec<_>>(),
    });
    Ok((merged, junit))
}

fn merge(a: &MergeArgs) -> anyhow::Result<()> {
    let reports: Vec<Value> = a.inputs.iter().map(|p| read(p)).collect::<Result<_, _>>()?;
    let (merged, junit) = merge_values(&reports)?;
    std::fs::create_dir_all(&a.out)?;
    std::fs::write(
        a.out.join("report.json"),
        serde_json::to_string_pretty(&merged)?,
    )?;
    std::fs::write(a.out.join("junit.xml"), junit)?;
    let passed = merged["passed"].as_bool() == Some(true);
    println!(
        "merged {} reports into {}: {}",
        reports.len(),
        a.out.join("report.json").display(),
        if passed { "passed" } else { "FAILED" }
    );
    if !passed {
        bail!("a merged report failed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(program: &str, passed: bool) -> Value {
        serde_json::json!({
            "personality": "igb", "kernel": "7.3.4", "passed": passed,
            "columns": [{
                "nic": "tunic igb", "completed": true, "setup": "", "setup_passed": true,
                "boot_seconds": 1.0, "total_seconds": 10.0,
                "programs": [{"name": program, "status": "pass", "seconds": 1.0, "cases": []}]
            }],
            "comparison": {"regressions": if passed { vec![] } else { vec!["x: expected pass"] }}
        })
    }

    #[test]
    fn shards_of_one_run_join_into_one_column() {
        let (m, junit) = merge_values(&[
            shard("drivers/net:ping.py", true),
            shard("drivers/net:stats.py", true),
        ])
        .unwrap();
        assert_eq!(m["columns"].as_array().unwrap().len(), 1);
        assert_eq!(m["columns"][0]["programs"].as_array().unwrap().len(), 2);
        assert_eq!(m["passed"], true);
        assert_eq!(junit.matches("<testcase").count(), 2);
    }

    #[test]
    fn one_failing_shard_fails_the_merge_and_duplicates_are_refused() {
        let (m, _) = merge_values(&[
            shard("drivers/net:ping.py", true),
            shard("drivers/net:stats.py", false),
        ])
        .unwrap();
        assert_eq!(m["passed"], false);
        assert_eq!(m["regressions"].as_array().unwrap().len(), 1);
        assert!(merge_values(&[shard("a:b", true), shard("a:b", true)]).is_err());
        let conformance = serde_json::json!({"kernel": "6.12", "passed": true, "cases": []});
        assert!(merge_values(&[shard("a:b", true), conformance]).is_err());
    }

    fn conformance_shard(shard: &str, cases: &[&str]) -> Value {
        let cases: Vec<Value> = cases
            .iter()
            .map(|n| serde_json::json!({"name": n, "passed": true, "evidence": "x"}))
            .collect();
        serde_json::json!({
            "personality": "igb", "kernel": "6.12.1", "shard": shard, "passed": true,
            "total_seconds": 5.0, "cases": cases
        })
    }

    #[test]
    fn conformance_shards_join_and_a_case_in_two_shards_is_refused() {
        let (m, junit) = merge_values(&[
            conformance_shard("1/2", &["probe", "rss-spread"]),
            conformance_shard("2/2", &["uso"]),
        ])
        .unwrap();
        assert_eq!(m["cases"].as_array().unwrap().len(), 3);
        assert_eq!(m["cases"][2]["name"], "igb 6.12.1: uso");
        assert_eq!(junit.matches("<testcase").count(), 3);
        // A case's counter deltas survive the merge, beside its check.
        let mut with = conformance_shard("1/1", &["uso-in-device"]);
        with["cases"][0]["counter_deltas"] = serde_json::json!({"uso": [{"tso_udp": 3}, {}]});
        let (m, _) = merge_values(&[with]).unwrap();
        assert_eq!(m["cases"][0]["counter_deltas"]["uso"][0]["tso_udp"], 3);
        assert!(m["cases"][0]["check"].is_string());
        assert!(merge_values(&[
            conformance_shard("1/2", &["probe"]),
            conformance_shard("2/2", &["probe"]),
        ])
        .is_err());
    }
}
