//! The differential TSO oracle's host side: for each case, the frames A put on
//! the wire with offloads off (the guest kernel's software segmentation) must
//! equal, byte for byte, the frames tunic's NIC produced with offloads on.
//!
//! Allowed differences, per case (the standards let these differ):
//! - plain TCP: none. Software GSO and the 82576 both start at the packet's
//!   IPv4 ID and add one per segment.
//! - NVGRE: the outer IPv4 ID (the tunnel picks a new one per super-packet,
//!   so the two runs start from different values) and the inner IPv4 ID
//!   (GSO_PARTIAL with TSO_MANGLEID lets the NIC keep it fixed where software
//!   increments it), with the header checksums that cover them. Every other
//!   byte must match, and both sides' checksums must verify.
//!
//! Each case's offload-side frames are also reduced to decoded headers and
//! compared with the snapshot committed under `testvectors/conformance/`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use guest_provision::CaseResult;
use offload_engines::parse::{parse_frame, IpVersion, Parsed};
use offload_engines::rxcsum;
use pcap_file::pcap::PcapReader;

/// Where the decoded-header snapshots of the offload runs live.
pub const SNAPSHOT_DIR: &str = "testvectors/conformance";

pub(super) fn read_frames(path: &Path, src_mac: &[u8; 6]) -> anyhow::Result<Vec<Vec<u8>>> {
    let f = std::fs::File::open(path)?;
    let mut r = PcapReader::new(f)?;
    let mut out = Vec::new();
    while let Some(p) = r.next_packet() {
        let p = p?;
        let d = &p.data;
        // Only the case's own segments: from A's MAC, TCP to the discard port from the
        // case's source ports (not markers, the peer's resets, or a tunnel's own chatter).
        if d.len() > 14 && d[6..12] == src_mac[..] && is_case_segment(d) {
            out.push(d.to_vec());
        }
    }
    Ok(out)
}

/// gso-send's flows: source ports 40000-40099 to port 9.
pub(super) fn is_case_segment(f: &[u8]) -> bool {
    let Ok(p) = parse_frame(f) else { return false };
    p.innermost().l4.as_ref().is_some_and(|t| {
        t.transport == offload_engines::parse::Transport::Tcp
            && t.dst_port == 9
            && (40000..40100).contains(&t.src_port)
    })
}

/// Zeroes the IPv4 ID and header checksum of the IP header at `off`.
fn blank_ipv4_id(f: &mut [u8], off: usize) {
    if let Some(h) = f.get_mut(off..off + 12) {
        h[4..6].fill(0);
        h[10..12].fill(0);
    }
}

fn normalize(f: &[u8], tunnel: bool) -> Vec<u8> {
    let mut n = f.to_vec();
    if !tunnel {
        return n;
    }
    if let Ok(p) = parse_frame(f) {
        for ip in [
            p.outer.ip.as_ref(),
            p.inner.as_ref().and_then(|i| i.ip.as_ref()),
        ]
        .into_iter()
        .flatten()
        {
            if ip.version == IpVersion::V4 {
                blank_ipv4_id(&mut n, ip.offset);
            }
        }
    }
    n
}

pub(super) fn all_checksums_ok(f: &[u8]) -> bool {
    let c = rxcsum::validate(f);
    c.ip_ok() != Some(false) && c.l4_ok().is_some_and(|(_, ok)| ok) && c.gre != Some(false)
}

/// The innermost TCP header's sequence number and the payload bytes after it.
pub(super) fn tcp_seq_and_payload(f: &[u8], p: &Parsed) -> Option<(u32, usize)> {
    let l = p.innermost();
    let t = l.l4.as_ref()?;
    let seq = f.get(t.offset + 4..t.offset + 8)?;
    let end = l.ip.as_ref().map_or(f.len(), |ip| ip.end);
    Some((
        u32::from_be_bytes([seq[0], seq[1], seq[2], seq[3]]),
        end.saturating_sub(t.offset + t.header_len),
    ))
}

/// Where the previous frame of a capture left off: its outer IPv4 ID and the
/// TCP sequence number the next segment of the same send would carry.
#[derive(Default)]
struct Cursor {
    outer_id: Option<u16>,
    next_seq: Option<u32>,
}

/// One line per frame: the fields a reviewer of TSO output cares about.
///
/// A tunnel picks each super-packet's outer IPv4 ID itself, differently from one
/// kernel to the next, so outer IDs are shown as the step from the previous
/// segment of the same send (`id=+1`), and `id=new` where a send starts.
fn decode(f: &[u8], cur: &mut Cursor) -> String {
    let Ok(p) = parse_frame(f) else {
        return format!("len={} unparseable", f.len());
    };
    let mut s = format!("len={}", f.len());
    let tcp = p.innermost().l4.as_ref().and_then(|t| {
        let (seq, payload) = tcp_seq_and_payload(f, &p)?;
        let flags = u16::from_be_bytes([f[t.offset + 12], f[t.offset + 13]]) & 0x0fff;
        Some((seq, flags, t.header_len, payload))
    });
    let continues = matches!((tcp, cur.next_seq), (Some((seq, ..)), Some(n)) if seq == n);
    let ip_fields = |s: &mut String, inner: bool, cur: &mut Cursor| {
        let layers = if inner {
            p.inner.as_ref()
        } else {
            Some(&p.outer)
        };
        let Some(ip) = layers.and_then(|l| l.ip.as_ref()) else {
            return;
        };
        let tag = if inner { "inner" } else { "ip" };
        match ip.version {
            IpVersion::V4 => {
                let id = u16::from_be_bytes([f[ip.offset + 4], f[ip.offset + 5]]);
                let len = u16::from_be_bytes([f[ip.offset + 2], f[ip.offset + 3]]);
                if inner || p.gre.is_none() {
                    let _ = write!(s, " {tag}4 len={len} id={id:#06x}");
                } else {
                    match cur.outer_id.filter(|_| continues) {
                        Some(prev) => {
                            let _ = write!(s, " {tag}4 len={len} id=+{}", id.wrapping_sub(prev));
                        }
                        None => {
                            let _ = write!(s, " {tag}4 len={len} id=new");
                        }
                    }
                    cur.outer_id = Some(id);
                }
            }
            IpVersion::V6 => {
                let len = u16::from_be_bytes([f[ip.offset + 4], f[ip.offset + 5]]);
                let _ = write!(s, " {tag}6 plen={len}");
            }
        }
    };
    ip_fields(&mut s, false, cur);
    if let Some(g) = &p.gre {
        let hex = |v: Option<u32>| v.map_or("-".to_string(), |v| format!("{v:#x}"));
        let _ = write!(
            s,
            " gre key vsid={} flowid={}",
            hex(g.vsid()),
            hex(g.flow_id().map(u32::from))
        );
        ip_fields(&mut s, true, cur);
    }
    if let Some((seq, flags, hlen, payload)) = tcp {
        let _ = write!(
            s,
            " tcp seq={seq:#010x} flags={flags:#05x} hlen={hlen} payload={payload}"
        );
        cur.next_seq = Some(seq.wrapping_add(payload as u32));
    }
    let _ = write!(
        s,
        " csum={}",
        if all_checksums_ok(f) { "ok" } else { "BAD" }
    );
    s
}

/// Compares every `port0-diff-NAME-sw.pcap` with its `-hw.pcap` twin in `dir`;
/// snapshots live in `SNAPSHOT_DIR/<personality>/` (the NICs differ in what they
/// offload: virtio-net has no GRE TSO, so its tunnel frames are the kernel's own).
pub fn check(
    dir: &Path,
    src_mac: &[u8; 6],
    repo: &Path,
    accept: bool,
    personality: &str,
) -> anyhow::Result<Vec<CaseResult>> {
    let snapshots = repo.join(SNAPSHOT_DIR).join(personality);
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| {
            n.strip_prefix("port0-diff-")?
                .strip_suffix("-sw.pcap")
                .map(str::to_string)
        })
        .collect();
    names.sort();
    let mut results = Vec::new();
    for name in names {
        let sw = read_frames(&dir.join(format!("port0-diff-{name}-sw.pcap")), src_mac)?;
        let hw = read_frames(&dir.join(format!("port0-diff-{name}-hw.pcap")), src_mac)?;
        let tunnel = name.starts_with("nvgre");
        let mut verdict = Ok(());
        if sw.is_empty() || sw.len() != hw.len() {
            verdict = Err(format!(
                "{} software frames vs {} offload frames",
                sw.len(),
                hw.len()
            ));
        }
        for (i, (a, b)) in sw.iter().zip(&hw).enumerate() {
            if verdict.is_err() {
                break;
            }
            let (na, nb) = (normalize(a, tunnel), normalize(b, tunnel));
            if na != nb {
                let at = na
                    .iter()
                    .zip(&nb)
                    .position(|(x, y)| x != y)
                    .unwrap_or(na.len().min(nb.len()));
                verdict = Err(format!(
                    "frame {i}: first difference at byte {at} (len {} vs {}): sw {:02x?} hw {:02x?}",
                    a.len(),
                    b.len(),
                    &na[at..(at + 8).min(na.len())],
                    &nb[at..(at + 8).min(nb.len())]
                ));
            } else if !all_checksums_ok(a) || !all_checksums_ok(b) {
                verdict = Err(format!("frame {i}: a checksum does not verify"));
            }
        }
        let policy = if tunnel {
            "outer and inner IPv4 ID (and their header checksums) may differ"
        } else {
            "no field may differ"
        };
        results.push(CaseResult {
            name: format!("tso-diff-{name}"),
            passed: verdict.is_ok(),
            evidence: match &verdict {
                Ok(()) => format!(
                    "{} frames identical to the kernel's software segmentation ({policy})",
                    hw.len()
                ),
                Err(e) => e.clone(),
            },
        });
        results.push(snapshot(&name, &hw, &snapshots, personality, accept)?);
    }
    Ok(results)
}

fn snapshot(
    name: &str,
    frames: &[Vec<u8>],
    dir: &Path,
    personality: &str,
    accept: bool,
) -> anyhow::Result<CaseResult> {
    let mut cur = Cursor::default();
    let mut text = format!(
        "# Decoded headers of the frames tunic's {personality} put on the wire for case {name}.\n"
    );
    for (i, f) in frames.iter().enumerate() {
        let _ = writeln!(text, "{i:3}: {}", decode(f, &mut cur));
    }
    let path: PathBuf = dir.join(format!("{name}.txt"));
    let old = std::fs::read_to_string(&path).ok();
    let (passed, evidence) = match old {
        Some(old) if old == text => (
            true,
            format!("{} frames match {}", frames.len(), path.display()),
        ),
        _ if accept => {
            std::fs::create_dir_all(dir)?;
            std::fs::write(&path, &text)?;
            (true, format!("snapshot written: {}", path.display()))
        }
        Some(old) => {
            let new_path = path.with_extension("txt.new");
            std::fs::write(&new_path, &text)?;
            let line = old
                .lines()
                .zip(text.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            (false, format!("differs from {} at line {line}; new output in {} (review, then run with --accept-snapshots)", path.display(), new_path.display()))
        }
        None => {
            let new_path = path.with_extension("txt.new");
            std::fs::create_dir_all(dir)?;
            std::fs::write(&new_path, &text)?;
            (
                false,
                format!(
                    "no snapshot {}; new output in {}",
                    path.display(),
                    new_path.display()
                ),
            )
        }
    };
    Ok(CaseResult {
        name: format!("snapshot-{name}"),
        passed,
        evidence,
    })
}
