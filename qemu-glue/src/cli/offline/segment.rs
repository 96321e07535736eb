//! `tunic segment`: the wire frames a NIC sends for each frame of a capture.
//!
//! Every input frame is treated as one send request. A frame whose payload (the bytes
//! behind its innermost parsed header) fits in one MSS passes through unchanged. A
//! larger one is segmented by the chosen engine; if the engine refuses it, the frame is
//! copied unchanged to the output (so the output still holds every input frame, in
//! order) and the refusal is reported on its row. `--strict` turns refusals into a
//! non-zero exit.
//!
//! By default the checksum fields are prepared the way a driver prepares them before
//! handing a large send to the NIC, so any capture (with final, partial or garbage
//! checksums) can be fed in; `--as-seeded` takes the file's fields as they are.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::bail;
use offload_engines::checksum::{fold, pseudo_ipv4, pseudo_ipv6};
use offload_engines::parse::{self, Parsed, Transport};
use offload_engines::segment::{SegmentStats, Segmenter};
use serde::Serialize;

use super::{gso_partial, print, print_json, read_capture, CaptureWriter, Frame, OutputArgs};

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Plain TCP large send, headers located by the parser.
    Tso,
    /// Header-replicating TSO as the 82576 performs it from a context descriptor, fed
    /// the way Linux's igb driver feeds it for GSO_PARTIAL (tunnels included).
    Partial,
    /// NVGRE/GRE large send: both IP headers, GRE and the inner TCP/UDP rewritten.
    Nvgre,
    /// Plain UDP segmentation.
    Uso,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Tso => "tso",
            Mode::Partial => "partial",
            Mode::Nvgre => "nvgre",
            Mode::Uso => "uso",
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct SegmentArgs {
    /// Segmentation offload to apply.
    #[arg(long, value_enum)]
    pub mode: Mode,
    /// Maximum segment size: payload bytes per segment.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=65535))]
    pub mss: u32,
    /// Use the checksum seeds and length fields found in the file instead of preparing
    /// them as a driver would (for frames captured at a driver's descriptor ring).
    #[arg(long)]
    pub as_seeded: bool,
    /// Exit non-zero if any frame cannot be segmented.
    #[arg(long)]
    pub strict: bool,
    /// Capture of the frames to send (classic pcap, Ethernet).
    pub input: PathBuf,
    /// Where to write the frames the NIC puts on the wire.
    pub output: PathBuf,
    #[command(flatten)]
    pub format: OutputArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Outcome {
    Segmented,
    /// The payload fits in one MSS: the frame is sent as it is.
    Unchanged,
    /// The engine refused the frame; it was copied to the output unchanged.
    Error,
}

#[derive(Debug, Serialize)]
struct FrameReport {
    frame: usize,
    mode: Mode,
    result: Outcome,
    /// Frames written to the output for this input frame.
    segments: usize,
    /// Payload bytes behind the innermost header (0 for a refused frame).
    payload_bytes: usize,
    /// URG, RST or SYN in a large send: copied, but worth knowing.
    unexpected_tcp_flags: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Debug, Serialize)]
struct Summary {
    frames_in: usize,
    frames_out: usize,
    segmented: usize,
    unchanged: usize,
    errors: usize,
}

#[derive(Debug, Serialize)]
struct Report {
    mode: Mode,
    mss: u32,
    input: PathBuf,
    output: PathBuf,
    frames: Vec<FrameReport>,
    summary: Summary,
}

pub fn run(a: SegmentArgs) -> anyhow::Result<()> {
    let capture = read_capture(&a.input)?;
    let mut writer = CaptureWriter::create(&a.output, capture.header)?;
    let mut segmenter = Segmenter::new();
    let mut frames = Vec::with_capacity(capture.frames.len());
    let mut segments: Vec<Vec<u8>> = Vec::new();
    for frame in &capture.frames {
        segments.clear();
        let report = match segment_frame(&mut segmenter, &a, frame, &mut segments) {
            Ok(r) => r,
            Err(error) => {
                segments.clear();
                segments.push(frame.data.clone());
                FrameReport {
                    frame: frame.number,
                    mode: a.mode,
                    result: Outcome::Error,
                    segments: 1,
                    payload_bytes: 0,
                    unexpected_tcp_flags: false,
                    error: Some(error),
                }
            }
        };
        for s in &segments {
            writer.write(frame.timestamp, s)?;
        }
        frames.push(report);
    }
    writer.finish()?;

    let count = |o: Outcome| frames.iter().filter(|f| f.result == o).count();
    let summary = Summary {
        frames_in: frames.len(),
        frames_out: frames.iter().map(|f| f.segments).sum(),
        segmented: count(Outcome::Segmented),
        unchanged: count(Outcome::Unchanged),
        errors: count(Outcome::Error),
    };
    let report = Report {
        mode: a.mode,
        mss: a.mss,
        input: a.input,
        output: a.output,
        frames,
        summary,
    };
    if a.format.json {
        print_json(&report)?;
    } else {
        print(&table(&report))?;
    }
    if a.strict && report.summary.errors > 0 {
        bail!(
            "{} of {} frames could not be segmented",
            report.summary.errors,
            report.summary.frames_in
        );
    }
    Ok(())
}

/// Segments one frame into `out`; Err carries the reason the frame was refused.
fn segment_frame(
    segmenter: &mut Segmenter,
    a: &SegmentArgs,
    frame: &Frame,
    out: &mut Vec<Vec<u8>>,
) -> Result<FrameReport, String> {
    if let Some(why) = frame.snapped() {
        return Err(why);
    }
    let data = &frame.data;
    let mss = a.mss as usize;
    let parsed = parse::parse_headers(data).map_err(|e| format!("cannot locate headers: {e}"))?;
    let payload = data.len() - parsed.headers_end();
    let mut report = FrameReport {
        frame: frame.number,
        mode: a.mode,
        result: Outcome::Unchanged,
        segments: 1,
        payload_bytes: payload,
        unexpected_tcp_flags: false,
        error: None,
    };
    if payload <= mss {
        out.push(data.clone());
        return Ok(report);
    }

    let mut emit = |s: &[u8]| out.push(s.to_vec());
    let stats: SegmentStats = match a.mode {
        Mode::Partial => {
            gso_partial::segment(segmenter, data, &parsed, mss, a.as_seeded, &mut emit)?
        }
        mode => {
            let mut request = data.clone();
            if !a.as_seeded {
                seed_l4_checksum(&mut request, &parsed);
            }
            let result = match mode {
                Mode::Tso => segmenter.tso(&request, mss, &mut emit),
                Mode::Uso => segmenter.uso(&request, mss, &mut emit),
                _ => segmenter.nvgre_lso(&request, mss, &mut emit),
            };
            result.map_err(|e| e.to_string())?
        }
    };
    report.result = Outcome::Segmented;
    report.segments = stats.segments;
    report.payload_bytes = stats.payload_bytes;
    report.unexpected_tcp_flags = stats.unexpected_tcp_flags;
    Ok(report)
}

/// The L4 checksum field of a large send holds the pseudo-header sum without the
/// length; a capture usually holds a final or length-including value instead.
/// Frames without TCP/UDP are left alone: the engine refuses them anyway.
pub(super) fn seed_l4_checksum(frame: &mut [u8], parsed: &Parsed) {
    let layers = parsed.innermost();
    let (Some(ip), Some(l4)) = (layers.ip, layers.l4) else {
        return;
    };
    let (proto, field) = match l4.transport {
        Transport::Tcp => (6, l4.offset + 16),
        Transport::Udp => (17, l4.offset + 6),
        _ => return,
    };
    let sum = pseudo_sum(&ip, proto, 0);
    frame[field..field + 2].copy_from_slice(&fold(sum).to_be_bytes());
}

/// Pseudo-header sum over the addresses of `ip` with the given L4 length.
pub(super) fn pseudo_sum(ip: &parse::IpInfo, proto: u8, len: u32) -> u64 {
    use core::net::IpAddr;
    match (ip.src, ip.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => pseudo_ipv4(s.octets(), d.octets(), proto, len),
        (IpAddr::V6(s), IpAddr::V6(d)) => pseudo_ipv6(s.octets(), d.octets(), proto, len),
        // The parser never mixes address families within one header.
        _ => 0,
    }
}

fn table(r: &Report) -> String {
    let mut s = format!(
        "{} -> {} (mode {}, MSS {})\n{:>6}  {:<8}  {:<9}  {:>8}  {:>8}  note\n",
        r.input.display(),
        r.output.display(),
        r.mode.name(),
        r.mss,
        "frame",
        "mode",
        "result",
        "segments",
        "payload"
    );
    for f in &r.frames {
        let mode = f.mode.name();
        let result = match f.result {
            Outcome::Segmented => "segmented",
            Outcome::Unchanged => "unchanged",
            Outcome::Error => "error",
        };
        let note = match (&f.error, f.result, f.unexpected_tcp_flags) {
            (Some(e), _, _) => format!("passed through: {e}"),
            (None, Outcome::Unchanged, _) => "fits in one segment".to_owned(),
            (None, _, true) => "URG/RST/SYN set in a large send (copied)".to_owned(),
            _ => String::new(),
        };
        let payload = match f.result {
            Outcome::Error => "-".to_owned(),
            _ => f.payload_bytes.to_string(),
        };
        let _ = writeln!(
            s,
            "{:>6}  {:<8}  {:<9}  {:>8}  {:>8}  {}",
            f.frame, mode, result, f.segments, payload, note
        );
    }
    let m = &r.summary;
    let _ = writeln!(
        s,
        "{} frames in, {} frames out: {} segmented, {} unchanged, {} not segmentable",
        m.frames_in, m.frames_out, m.segmented, m.unchanged, m.errors
    );
    s
}
