//! The guest side: `/init`, the shell library scripts use, and the console
//! line protocol.
//!
//! Lines the guest prints on ttyS0:
//! - `TUNIC-BOOTED <uptime> <release>`: `/init` reached userspace.
//! - `TUNIC-RESULT <name> <pass|fail> <evidence...>`: one per case.
//! - `TUNIC-SCRIPT-EXIT <rc>`: the script's exit status.
//! - `TUNIC-DONE`: the script finished; the guest powers off next.

use serde::Serialize;

/// The guest shell library, sourced before every script (see its header for
/// the helpers: `result`, `check`, `nics_by_driver`, `setup_pair`, ...).
pub const GUEST_LIB: &str = include_str!("guest/lib.sh");

/// The guest's `/init`.
pub(crate) const GUEST_INIT: &str = include_str!("guest/init.sh");

pub(crate) const BOOTED: &str = "TUNIC-BOOTED";
pub(crate) const DONE: &str = "TUNIC-DONE";
const RESULT: &str = "TUNIC-RESULT ";
const SCRIPT_EXIT: &str = "TUNIC-SCRIPT-EXIT ";

/// One `TUNIC-RESULT` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct CaseResult {
    pub name: String,
    pub passed: bool,
    pub evidence: String,
}

/// Finds a protocol marker in a console line (kernel messages may precede it
/// on the same line).
pub(crate) fn marker<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    line.find(marker).map(|i| &line[i + marker.len()..])
}

/// All `TUNIC-RESULT` lines of a console log, in order.
pub fn parse_results(serial: &str) -> Vec<CaseResult> {
    serial
        .lines()
        .filter_map(|line| {
            let rest = marker(line.trim_end_matches('\r'), RESULT)?;
            let mut parts = rest.splitn(3, ' ');
            let name = parts.next()?.to_string();
            let passed = match parts.next()? {
                "pass" => true,
                "fail" => false,
                _ => return None,
            };
            let evidence = parts.next().unwrap_or("").trim().to_string();
            Some(CaseResult {
                name,
                passed,
                evidence,
            })
        })
        .collect()
}

/// The status printed by `TUNIC-SCRIPT-EXIT`, if any.
pub(crate) fn parse_script_exit(serial: &str) -> Option<i32> {
    serial
        .lines()
        .filter_map(|l| marker(l, SCRIPT_EXIT))
        .filter_map(|rest| rest.trim().parse().ok())
        .next_back()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_results_and_exit() {
        let serial = "noise\r\nTUNIC-RESULT link pass eth0 up, 1000Mb/s\r\n\
            [   3.1] igb: blah TUNIC-RESULT ping fail rc=1: 100% loss\n\
            TUNIC-RESULT bare pass\nTUNIC-RESULT weird maybe x\n\
            TUNIC-SCRIPT-EXIT 3\nTUNIC-DONE\n";
        let r = parse_results(serial);
        assert_eq!(r.len(), 3);
        assert_eq!(
            r[0],
            CaseResult {
                name: "link".into(),
                passed: true,
                evidence: "eth0 up, 1000Mb/s".into()
            }
        );
        assert!(!r[1].passed);
        assert_eq!(r[1].evidence, "rc=1: 100% loss");
        assert_eq!(r[2].evidence, "");
        assert_eq!(parse_script_exit(serial), Some(3));
    }
}
