//! Wireshark as an independent judge of `tunic segment`: every frame the segmentation
//! modes write must carry checksums tshark calls good, and tshark must read the
//! expected number of frames.
//!
//! Needs `tshark` on PATH (`TUNIC_WITH_TSHARK=1 scripts/setup-host` installs it). When it
//! is missing the test fails under CI (`CI` set) and is skipped with a notice otherwise.

mod common;

use std::process::Command;

use common::{path_str, scratch_dir, tunic_ok, write_pcap};
use testvectors::build::{self, FrameSpec, Ip, Proto, Seed, Tunnel};

/// Checksum status fields of the layers the engines rewrite; tshark's value for a bad
/// checksum is 0, for a good one 1, for an unchecked one 2.
const STATUS_FIELDS: [&str; 4] = [
    "ip.checksum.status",
    "tcp.checksum.status",
    "udp.checksum.status",
    "gre.checksum.status",
];
const BAD: &str = "0";
const GOOD: &str = "1";

fn tshark_available() -> bool {
    Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

struct Case {
    name: &'static str,
    mode: &'static str,
    mss: usize,
    spec: FrameSpec,
}

fn nvgre(outer: Ip, inner: Ip) -> FrameSpec {
    FrameSpec {
        tunnel: Some(Tunnel::nvgre(outer, 0x00_5001, 7)),
        tcp_timestamps: true,
        ..FrameSpec::tcp(inner, 30_000, Seed::Final)
    }
}

fn cases() -> Vec<Case> {
    let mut v = vec![
        Case {
            name: "tso-ipv4",
            mode: "tso",
            mss: 1448,
            spec: FrameSpec::tcp(Ip::V4, 40_000, Seed::Final),
        },
        Case {
            name: "tso-ipv6",
            mode: "tso",
            mss: 1428,
            spec: FrameSpec {
                ip_extras: true,
                ..FrameSpec::tcp(Ip::V6, 40_000, Seed::Final)
            },
        },
        Case {
            name: "uso-ipv4",
            mode: "uso",
            mss: 1472,
            spec: FrameSpec {
                proto: Proto::Udp,
                ..FrameSpec::tcp(Ip::V4, 20_000, Seed::Final)
            },
        },
        Case {
            name: "uso-ipv6",
            mode: "uso",
            mss: 1452,
            spec: FrameSpec {
                proto: Proto::Udp,
                ..FrameSpec::tcp(Ip::V6, 20_000, Seed::Final)
            },
        },
    ];
    for (name, outer, inner) in [
        ("nvgre-v4-in-v4", Ip::V4, Ip::V4),
        ("nvgre-v6-in-v4", Ip::V4, Ip::V6),
        ("nvgre-v4-in-v6", Ip::V6, Ip::V4),
        ("nvgre-v6-in-v6", Ip::V6, Ip::V6),
    ] {
        v.push(Case {
            name,
            mode: "nvgre",
            mss: 1378,
            spec: nvgre(outer, inner),
        });
    }
    let mut gre_csum = nvgre(Ip::V4, Ip::V4);
    gre_csum.tunnel.as_mut().unwrap().gre_checksum = true;
    v.push(Case {
        name: "partial-nvgre-gre-checksum",
        mode: "partial",
        mss: 1400,
        spec: gre_csum,
    });
    v
}

/// Runs tshark over `pcap` and returns, per frame, every checksum status it reported.
fn tshark_statuses(pcap: &std::path::Path) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.args(["-r", path_str(pcap), "-n"]);
    for pref in ["ip", "tcp", "udp"] {
        cmd.args(["-o", &format!("{pref}.check_checksum:TRUE")]);
    }
    cmd.args(["-T", "fields", "-E", "separator=/t", "-E", "occurrence=a"]);
    cmd.args(["-E", "aggregator=,", "-e", "frame.number"]);
    for f in STATUS_FIELDS {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("run tshark");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            l.split('\t')
                .skip(1)
                .flat_map(|cell| cell.split(','))
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

#[test]
fn tshark_finds_every_segment_checksum_good() {
    if !tshark_available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "tshark is not installed (CI installs it: TUNIC_WITH_TSHARK=1 scripts/setup-host)"
        );
        eprintln!("SKIPPED: tshark not on PATH; install it to run the Wireshark oracle");
        return;
    }
    let dir = scratch_dir("tshark");
    for case in cases() {
        let b = build::build(&case.spec);
        let input = dir.join(&format!("{}-in.pcap", case.name));
        let output = dir.join(&format!("{}-out.pcap", case.name));
        write_pcap(&input, std::slice::from_ref(&b.frame));
        let mss = case.mss.to_string();
        tunic_ok(&[
            "segment",
            "--mode",
            case.mode,
            "--mss",
            &mss,
            "--strict",
            path_str(&input),
            path_str(&output),
        ]);
        let expected = (b.frame.len() - b.header_len).div_ceil(case.mss);
        let frames = tshark_statuses(&output);
        assert_eq!(frames.len(), expected, "{}: frames tshark read", case.name);
        for (i, statuses) in frames.iter().enumerate() {
            assert!(
                !statuses.iter().any(|s| s == BAD),
                "{}: frame {} has a bad checksum: {statuses:?}",
                case.name,
                i + 1
            );
            // Every frame has at least its L4 checksum actually checked.
            assert!(
                statuses.iter().any(|s| s == GOOD),
                "{}: frame {}: nothing verified: {statuses:?}",
                case.name,
                i + 1
            );
        }
    }
}
