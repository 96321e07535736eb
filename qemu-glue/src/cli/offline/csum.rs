//! `tunic csum --verify`: the receive checksum verdicts the NIC reports for each frame,
//! layer by layer, plus the NVGRE identity of tunnelled frames.
//!
//! The exit status is non-zero when any frame carries a bad checksum, so the command
//! can gate a script; "-" (not checked: absent, IPv6, fragment, UDP without checksum,
//! unsupported encapsulation) never counts as bad.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::bail;
use offload_engines::parse;
use offload_engines::rxcsum::{self, L4Kind, RxCsum};
use serde::Serialize;

use super::{print, print_json, read_capture, verdict, Frame, OutputArgs};

#[derive(clap::Args, Debug)]
pub struct CsumArgs {
    /// Validate every checksum the NIC checks on receive.
    #[arg(long, required = true)]
    pub verify: bool,
    /// Capture to check (classic pcap, Ethernet).
    pub input: PathBuf,
    #[command(flatten)]
    pub format: OutputArgs,
}

/// One transport verdict.
#[derive(Debug, Serialize)]
struct L4Verdict {
    protocol: &'static str,
    ok: bool,
}

#[derive(Debug, Serialize)]
struct FrameReport {
    frame: usize,
    /// Every checked checksum is good (true when nothing was checked).
    ok: bool,
    outer_ipv4: Option<bool>,
    outer_l4: Option<L4Verdict>,
    gre: Option<bool>,
    inner_ipv4: Option<bool>,
    inner_l4: Option<L4Verdict>,
    vsid: Option<u32>,
    flow_id: Option<u8>,
    /// Why layers are missing: a parse error, or a capture cut short.
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

#[derive(Debug, Serialize)]
struct Report {
    input: PathBuf,
    frames: Vec<FrameReport>,
    bad_frames: usize,
}

fn l4_verdict(v: Option<(L4Kind, bool)>) -> Option<L4Verdict> {
    v.map(|(kind, ok)| L4Verdict {
        protocol: match kind {
            L4Kind::Tcp => "tcp",
            L4Kind::Udp => "udp",
        },
        ok,
    })
}

fn check(frame: &Frame) -> FrameReport {
    let r: RxCsum = rxcsum::validate(&frame.data);
    let note = frame
        .snapped()
        .or_else(|| match parse::parse_partial(&frame.data) {
            Err(e) | Ok((_, Some(e))) => Some(e.to_string()),
            Ok((_, None)) => None,
        });
    let verdicts = [
        r.outer_ipv4,
        r.outer_l4.map(|(_, ok)| ok),
        r.gre,
        r.inner_ipv4,
        r.inner_l4.map(|(_, ok)| ok),
    ];
    FrameReport {
        frame: frame.number,
        ok: !verdicts.contains(&Some(false)),
        outer_ipv4: r.outer_ipv4,
        outer_l4: l4_verdict(r.outer_l4),
        gre: r.gre,
        inner_ipv4: r.inner_ipv4,
        inner_l4: l4_verdict(r.inner_l4),
        vsid: r.tunnel.and_then(|g| g.vsid()),
        flow_id: r.tunnel.and_then(|g| g.flow_id()),
        note,
    }
}

pub fn run(a: CsumArgs) -> anyhow::Result<()> {
    let capture = read_capture(&a.input)?;
    let frames: Vec<FrameReport> = capture.frames.iter().map(check).collect();
    let report = Report {
        input: a.input,
        bad_frames: frames.iter().filter(|f| !f.ok).count(),
        frames,
    };
    if a.format.json {
        print_json(&report)?;
    } else {
        print(&table(&report))?;
    }
    if report.bad_frames > 0 {
        bail!(
            "{} of {} frames carry a bad checksum",
            report.bad_frames,
            report.frames.len()
        );
    }
    Ok(())
}

fn l4_cell(v: &Option<L4Verdict>) -> String {
    match v {
        Some(v) => format!("{} {}", v.protocol, verdict(Some(v.ok))),
        None => "-".to_owned(),
    }
}

fn table(r: &Report) -> String {
    let mut s = format!(
        "{}\n{:>6}  {:<6}  {:<10}  {:<10}  {:<5}  {:<10}  {:<10}  {:<8}  {:<4}  note\n",
        r.input.display(),
        "frame",
        "result",
        "outer-ipv4",
        "outer-l4",
        "gre",
        "inner-ipv4",
        "inner-l4",
        "vsid",
        "flow"
    );
    for f in &r.frames {
        let vsid = f.vsid.map_or("-".to_owned(), |v| format!("{v:#08x}"));
        let flow = f.flow_id.map_or("-".to_owned(), |v| format!("{v:#04x}"));
        let _ = writeln!(
            s,
            "{:>6}  {:<6}  {:<10}  {:<10}  {:<5}  {:<10}  {:<10}  {:<8}  {:<4}  {}",
            f.frame,
            if f.ok { "ok" } else { "BAD" },
            verdict(f.outer_ipv4),
            l4_cell(&f.outer_l4),
            verdict(f.gre),
            verdict(f.inner_ipv4),
            l4_cell(&f.inner_l4),
            vsid,
            flow,
            f.note.as_deref().unwrap_or("")
        );
    }
    let _ = writeln!(
        s,
        "{} frames, {} with a bad checksum",
        r.frames.len(),
        r.bad_frames
    );
    s
}
