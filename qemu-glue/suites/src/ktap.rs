//! Reading what kselftest's runner printed: its TAP line per program
//! (`ok 1 selftests: drivers/net: ping.py`, `# SKIP`, `# TIMEOUT`) and, one level
//! down (lines prefixed `# `), each program's KTAP cases (`ok 3 ping.test_v4 #
//! SKIP reason`). The verdicts are the runner's and the tests' own; nothing here
//! decides one.

use serde::{Deserialize, Serialize};

/// A KTAP result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    /// An expected failure the test itself declared (`# XFAIL`): it counts as run, not failed.
    Xfail,
    Skip,
    Fail,
}

impl Status {
    /// What an `ok` / `not ok` line with this directive means.
    fn of(ok: bool, directive: &str) -> Self {
        let word = directive
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        match (ok, word.as_str()) {
            (true, "SKIP") => Status::Skip,
            (true, "XFAIL") => Status::Xfail,
            (true, _) => Status::Pass,
            // `not ok ... # SKIP` is how some harnesses report a skip too.
            (false, "SKIP") => Status::Skip,
            (false, _) => Status::Fail,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Xfail => "xfail",
            Status::Skip => "skip",
            Status::Fail => "fail",
        }
    }

    /// Ran and did what the test wanted (a declared expected failure included).
    pub fn is_pass(self) -> bool {
        matches!(self, Status::Pass | Status::Xfail)
    }
}

/// One KTAP case of a program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    pub name: String,
    pub status: Status,
    /// The directive's text (`# SKIP <reason>`), or the last diagnostic lines before a failure.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// One program (`drivers/net:ping.py`) as the runner reported it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Program {
    /// `collection:program`, as `run_kselftest.sh -t` takes it.
    pub name: String,
    pub status: Status,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    pub seconds: f64,
    pub cases: Vec<Case>,
}

/// An `ok N desc # directive` line: (ok, description, directive).
fn tap_line(line: &str) -> Option<(bool, &str, &str)> {
    let (ok, rest) = if let Some(r) = line.strip_prefix("not ok ") {
        (false, r)
    } else {
        (true, line.strip_prefix("ok ")?)
    };
    let (num, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    num.parse::<u32>().ok()?;
    let (desc, directive) = match rest.split_once(" # ") {
        Some((d, dir)) => (d, dir),
        None => match rest.strip_suffix(" #") {
            Some(d) => (d, ""),
            None => (rest, ""),
        },
    };
    Some((ok, desc.trim(), directive.trim()))
}

/// How many diagnostic lines before a failing case are kept as its reason.
const FAIL_CONTEXT: usize = 3;

/// Parses the runner's output for one program (`name` is `collection:program`).
/// A program the runner never gave a verdict (the guest died, the console was cut)
/// is a failure that says so.
pub fn parse_program(name: &str, lines: &[&str], seconds: f64) -> Program {
    let mut cases = Vec::new();
    let mut verdict: Option<(Status, String)> = None;
    let mut diagnostics: Vec<String> = Vec::new();
    for line in lines {
        if let Some(inner) = line.strip_prefix("# ") {
            if let Some((ok, desc, directive)) = tap_line(inner) {
                let status = Status::of(ok, directive);
                let reason = match (status, directive.is_empty()) {
                    (Status::Fail, true) => diagnostics.join(" | "),
                    _ => directive.to_string(),
                };
                cases.push(Case {
                    name: desc.to_string(),
                    status,
                    reason,
                });
                diagnostics.clear();
            } else if let Some(diag) = inner.strip_prefix("# ") {
                let diag = diag.trim();
                if !diag.is_empty() && !diag.starts_with("Totals:") {
                    diagnostics.push(diag.to_string());
                    if diagnostics.len() > FAIL_CONTEXT {
                        diagnostics.remove(0);
                    }
                }
            }
        } else if let Some((ok, desc, directive)) = tap_line(line) {
            if desc.starts_with("selftests:") {
                verdict = Some((Status::of(ok, directive), directive.to_string()));
            }
        }
    }
    let (status, reason) = verdict.unwrap_or((
        Status::Fail,
        "the runner gave no verdict (the program did not finish)".into(),
    ));
    Program {
        name: name.to_string(),
        status,
        reason,
        seconds,
        cases,
    }
}

/// The programs of one guest console: the lines between `TUNIC-KSFT-BEGIN <test>`
/// and `TUNIC-KSFT-END <test> <seconds>`. A program begun but never ended is parsed
/// from what it printed (and fails without the runner's verdict).
pub fn parse_console(console: &str) -> Vec<Program> {
    let mut programs = Vec::new();
    let mut current: Option<(String, Vec<&str>)> = None;
    for line in console.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(t) = line.strip_prefix("TUNIC-KSFT-BEGIN ") {
            if let Some((name, lines)) = current.take() {
                programs.push(parse_program(&name, &lines, 0.0));
            }
            current = Some((t.trim().to_string(), Vec::new()));
        } else if let Some(rest) = line.strip_prefix("TUNIC-KSFT-END ") {
            let mut words = rest.split_whitespace();
            let name = words.next().unwrap_or("");
            let seconds = words.next().and_then(|s| s.parse().ok()).unwrap_or(0.0);
            if let Some((cur, lines)) = current.take() {
                if cur == name {
                    programs.push(parse_program(&cur, &lines, seconds));
                } else {
                    programs.push(parse_program(&cur, &lines, 0.0));
                }
            }
        } else if let Some(l) = line.strip_prefix("TUNIC-KSFT ") {
            if let Some((_, lines)) = current.as_mut() {
                lines.push(l);
            }
        } else if line == "TUNIC-KSFT" {
            if let Some((_, lines)) = current.as_mut() {
                lines.push("");
            }
        }
    }
    if let Some((name, lines)) = current.take() {
        programs.push(parse_program(&name, &lines, 0.0));
    }
    programs
}

/// The raw runner output of the console (prefixes removed), as KTAP text.
pub fn raw_ktap(console: &str) -> String {
    let mut out = String::new();
    for line in console.lines() {
        if let Some(l) = line.strip_prefix("TUNIC-KSFT ") {
            out.push_str(l);
            out.push('\n');
        } else if let Some(t) = line.strip_prefix("TUNIC-KSFT-BEGIN ") {
            out.push_str(&format!("# tunic: begin {t}\n"));
        }
    }
    out
}

/// The guest's dmesg, as the suite printed it at the end.
pub fn dmesg(console: &str) -> String {
    console
        .lines()
        .filter_map(|l| l.strip_prefix("TUNIC-DMESG "))
        .fold(String::new(), |mut s, l| {
            s.push_str(l);
            s.push('\n');
            s
        })
}

/// What each NIC's driver counted during each program: the counters that moved between
/// the suite's "before" and "after" snapshots, per program, as text (`A` is NETIF, `B` the
/// endpoint). A counter that went backwards (a driver that resets its statistics with the
/// device) shows its negative change.
pub fn nic_stat_deltas(console: &str) -> String {
    use std::collections::BTreeMap;
    /// One counter's values before and after a program.
    type Snapshot = (Option<i128>, Option<i128>);
    // program -> (side, counter) -> snapshot, programs in the order they ran.
    let mut order: Vec<String> = Vec::new();
    let mut snaps: BTreeMap<String, BTreeMap<(String, String), Snapshot>> = BTreeMap::new();
    for line in console.lines() {
        let Some(rest) = line.strip_prefix("TUNIC-NICSTATS ") else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        let [phase, test, side, name, value] = f[..] else {
            continue;
        };
        let Ok(value) = value.parse::<i128>() else {
            continue;
        };
        if !snaps.contains_key(test) {
            order.push(test.to_string());
        }
        let slot = snaps
            .entry(test.to_string())
            .or_default()
            .entry((side.to_string(), name.to_string()))
            .or_default();
        match phase {
            "before" => slot.0 = Some(value),
            "after" => slot.1 = Some(value),
            _ => {}
        }
    }
    let mut out = String::new();
    for test in order {
        out.push_str(&test);
        out.push('\n');
        let mut moved = 0;
        for ((side, name), (before, after)) in &snaps[&test] {
            if let (Some(b), Some(a)) = (before, after) {
                if a != b {
                    out.push_str(&format!("  {side} {name}: {:+}\n", a - b));
                    moved += 1;
                }
            }
        }
        if moved == 0 {
            out.push_str("  (no counter moved, or no snapshot after it)\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nic_stat_deltas_show_what_moved_per_program() {
        let console = "\
TUNIC-NICSTATS before drivers/net:xdp.py A rx_drops 5
TUNIC-NICSTATS before drivers/net:xdp.py A rx_packets 100
TUNIC-NICSTATS before drivers/net:xdp.py B tx_packets 7
TUNIC-KSFT-BEGIN drivers/net:xdp.py
TUNIC-NICSTATS after drivers/net:xdp.py A rx_drops 8
TUNIC-NICSTATS after drivers/net:xdp.py A rx_packets 100
TUNIC-NICSTATS after drivers/net:xdp.py B tx_packets 2
TUNIC-NICSTATS before drivers/net:ping.py A rx_drops 8
";
        let text = nic_stat_deltas(console);
        assert_eq!(
            text,
            "drivers/net:xdp.py\n  A rx_drops: +3\n  B tx_packets: -5\n\
             drivers/net:ping.py\n  (no counter moved, or no snapshot after it)\n"
        );
    }

    const PING: &str = "\
TUNIC-KSFT-BEGIN drivers/net:ping.py
TUNIC-KSFT TAP version 13
TUNIC-KSFT 1..1
TUNIC-KSFT # timeout set to 600
TUNIC-KSFT # selftests: drivers/net: ping.py
TUNIC-KSFT # TAP version 13
TUNIC-KSFT # 1..4
TUNIC-KSFT # ok 1 ping.test_default_v4
TUNIC-KSFT # ok 2 ping.test_xdp_generic_sb # SKIP Test requires IPv6 connectivity
TUNIC-KSFT # # Exception| AssertionError: packets lost
TUNIC-KSFT # # Exception| at line 12
TUNIC-KSFT # not ok 3 ping.test_xdp_native_mb
TUNIC-KSFT # ok 4 ping.test_tx_csum # XFAIL device lacks it
TUNIC-KSFT # # Totals: pass:1 fail:1 xfail:1 xpass:0 skip:1 error:0
TUNIC-KSFT not ok 1 selftests: drivers/net: ping.py # exit=1
TUNIC-KSFT-END drivers/net:ping.py 41.5
TUNIC-KSFT-BEGIN drivers/net/hw:csum.py
TUNIC-KSFT TAP version 13
TUNIC-KSFT # selftests: drivers/net/hw: csum.py
TUNIC-KSFT # ok 1 csum.test_ipv4
";

    #[test]
    fn reads_programs_cases_and_directives() {
        let p = parse_console(PING);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].name, "drivers/net:ping.py");
        assert_eq!(p[0].status, Status::Fail);
        assert_eq!(p[0].reason, "exit=1");
        assert_eq!(p[0].seconds, 41.5);
        let statuses: Vec<Status> = p[0].cases.iter().map(|c| c.status).collect();
        assert_eq!(
            statuses,
            [Status::Pass, Status::Skip, Status::Fail, Status::Xfail]
        );
        assert_eq!(p[0].cases[1].reason, "SKIP Test requires IPv6 connectivity");
        assert!(p[0].cases[2].reason.contains("packets lost"));
        // Cut off: the runner never printed its verdict.
        assert_eq!(p[1].status, Status::Fail);
        assert!(p[1].reason.contains("no verdict"));
        assert_eq!(p[1].cases.len(), 1);
    }

    #[test]
    fn program_skips_and_timeouts_are_the_runners() {
        let skip = parse_program(
            "drivers/net:psp.py",
            &["ok 1 selftests: drivers/net: psp.py # SKIP"],
            1.0,
        );
        assert_eq!(skip.status, Status::Skip);
        let timeout = parse_program(
            "drivers/net:xdp.py",
            &["not ok 1 selftests: drivers/net: xdp.py # TIMEOUT 600 seconds"],
            600.0,
        );
        assert_eq!(timeout.status, Status::Fail);
        assert_eq!(timeout.reason, "TIMEOUT 600 seconds");
    }

    #[test]
    fn hostile_lines_do_not_panic() {
        for l in [
            "ok",
            "ok x",
            "not ok",
            "# ok 1",
            "# not ok 99999999999 x # ",
            "ok 1 #",
        ] {
            let _ = parse_program("x:y", &[l], 0.0);
        }
        let _ = parse_console("TUNIC-KSFT-END\nTUNIC-KSFT-BEGIN \nTUNIC-KSFT\n");
    }
}
