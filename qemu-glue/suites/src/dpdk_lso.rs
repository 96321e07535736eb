//! The host side of the DPDK suite's native NVGRE large send (X710 only).
//!
//! NIC B sends NVGRE TCP packets of one MTU each; testpmd's csum engine on NIC A
//! returns them asking the X710 for tunnel TSO (`tunnel_tso set MSS`), with the
//! outer length left at the whole packet's. Two oracles no one here wrote say what
//! the segments must be:
//! - **the kernel's software GSO**: B sends the same packets with the same MSS and
//!   its offloads off, so B's kernel segments them (window `-kernel`, B's frames);
//! - **DPDK's software GSO** (`set port 0 gso on`), for IPv4 in IPv4, the only NVGRE
//!   mix DPDK's GSO library segments (window `-sw`, A's frames).
//!
//! Allowed differences: the Ethernet addresses (the kernel's frames come from B,
//! testpmd swaps them), and the outer IPv4 ID's starting value with the header
//! checksum that covers it (the tunnel picks a new ID for each packet it sends, so
//! the runs start from different values). The outer ID's step from segment to
//! segment must match. Every checksum must verify, by tunic's parser and by tshark,
//! and the device's own counters must show that the X710 (not software) segmented.

use std::path::Path;

use guest_provision::CaseResult;
use offload_engines::parse::{parse_frame, IpVersion};
use tunic_wire::ledger::{delta_of, WindowDeltas};

use super::conformance::{self as conf, TsharkTally};
use super::differential::{all_checksums_ok, read_frames, tcp_seq_and_payload};

/// Outer and inner IP versions, as the guest script names them.
pub const MIXES: [&str; 4] = ["v4-in-v4", "v6-in-v4", "v4-in-v6", "v6-in-v6"];
/// The segment sizes the guest asks for (`LSO_MSS` in `guest/dpdk-suite.sh`).
pub const MSS: [u16; 3] = [300, 536, 1000];
/// Packets B sends per window (gso-send's COUNT).
const PACKETS: u64 = 2;
/// The X710's count of tunnel TSO packets.
const TUNNEL_TSO: &[&str] = &["tso_tunnel_packets"];

/// The cases the host reports, for `super::dpdk::cases`.
pub fn case_names() -> Vec<String> {
    let mut v = Vec::new();
    for m in MSS {
        for mix in MIXES {
            v.push(format!("dpdk-lso-{mix}-m{m}"));
        }
        v.push(format!("dpdk-lso-v4-in-v4-m{m}-dpdk-gso"));
    }
    v
}

/// Both oracles for every window the guest captured.
pub fn check(dir: &Path, a_mac: &[u8; 6], b_mac: &[u8; 6], d: &WindowDeltas) -> Vec<CaseResult> {
    let tshark = conf::which("tshark").is_some();
    let mut out = Vec::new();
    for m in MSS {
        for mix in MIXES {
            let base = format!("dpdk-lso-{mix}-m{m}");
            let verdict = against(dir, &base, "kernel", (1, b_mac), a_mac, d, tshark);
            out.push(result(base.clone(), verdict, "B's kernel (software GSO)"));
            if mix == "v4-in-v4" {
                let verdict = against(dir, &base, "sw", (0, a_mac), a_mac, d, tshark);
                out.push(result(
                    format!("{base}-dpdk-gso"),
                    verdict,
                    "DPDK's software GSO",
                ));
            }
        }
    }
    out
}

fn result(name: String, verdict: Result<String, String>, oracle: &str) -> CaseResult {
    let passed = verdict.is_ok();
    CaseResult {
        name,
        passed,
        evidence: match verdict {
            Ok(e) => format!("{e}, identical to {oracle} but for the fields allowed to differ"),
            Err(e) => format!("against {oracle}: {e}"),
        },
    }
}

/// The X710's segments of window `BASE-hw` against the oracle's frames in window
/// `BASE-ORACLE` (from `port`'s capture, sent by `src`).
fn against(
    dir: &Path,
    base: &str,
    oracle: &str,
    (port, src): (usize, &[u8; 6]),
    a_mac: &[u8; 6],
    d: &WindowDeltas,
    tshark: bool,
) -> Result<String, String> {
    let hw_pcap = dir.join(format!("port0-{base}-hw.pcap"));
    let frames = |p: &Path, mac| read_frames(p, mac).map_err(|e| format!("{}: {e}", p.display()));
    let hw = frames(&hw_pcap, a_mac)?;
    let oracle_pcap = dir.join(format!("port{port}-{base}-{oracle}.pcap"));
    let want = frames(&oracle_pcap, src)?;
    if hw.is_empty() || hw.len() != want.len() {
        return Err(format!(
            "the X710 sent {} segments, the oracle {}",
            hw.len(),
            want.len()
        ));
    }
    let blank_macs = port != 0;
    let (nh, nw) = (normalize(&hw, blank_macs), normalize(&want, blank_macs));
    for (i, (h, w)) in nh.iter().zip(&nw).enumerate() {
        if h != w {
            let at = h
                .iter()
                .zip(w)
                .position(|(x, y)| x != y)
                .unwrap_or(h.len().min(w.len()));
            return Err(format!(
                "segment {i}: first difference at byte {at} (len {} vs {}): X710 {:02x?} oracle {:02x?}",
                h.len(),
                w.len(),
                &h[at..(at + 8).min(h.len())],
                &w[at..(at + 8).min(w.len())]
            ));
        }
    }
    if let Some(i) = hw.iter().chain(&want).position(|f| !all_checksums_ok(f)) {
        return Err(format!(
            "frame {i} of the two runs: a checksum does not verify"
        ));
    }
    let segmented = delta_of(d, &format!("{base}-hw"), 0, TUNNEL_TSO);
    if segmented != Some(PACKETS) {
        return Err(format!(
            "the X710 counted {segmented:?} tunnel TSO packets in the window, not {PACKETS}"
        ));
    }
    if oracle == "sw" {
        let sw = delta_of(d, &format!("{base}-sw"), 0, TUNNEL_TSO);
        if sw != Some(0) {
            return Err(format!(
                "DPDK's GSO window shows {sw:?} tunnel TSO packets in the NIC, not 0"
            ));
        }
    }
    let tally = if tshark {
        let t = tshark_of(&hw_pcap)?;
        format!("; tshark: {t}")
    } else {
        return Err(conf::TSHARK_MISSING.into());
    };
    Ok(format!(
        "{} segments of {PACKETS} packets, the X710's tunnel TSO count +{PACKETS}{tally}",
        hw.len()
    ))
}

fn tshark_of(p: &Path) -> Result<TsharkTally, String> {
    let t = conf::tshark_tally(p).map_err(|e| format!("tshark on {}: {e}", p.display()))?;
    if t.passed() {
        Ok(t)
    } else {
        Err(format!("tshark on {}: {t}", p.display()))
    }
}

/// The frames with the fields that may differ made comparable: the Ethernet
/// addresses zeroed (when the runs come from different NICs), each outer IPv4 ID
/// replaced by its step from the first segment of the same packet, and the outer
/// IPv4 header checksum zeroed (it was verified on its own).
fn normalize(frames: &[Vec<u8>], blank_macs: bool) -> Vec<Vec<u8>> {
    let mut first_id = 0u16;
    let mut next_seq: Option<u32> = None;
    frames
        .iter()
        .map(|f| {
            let mut n = f.clone();
            if blank_macs {
                n[..12].fill(0);
            }
            let Ok(p) = parse_frame(f) else { return n };
            let tcp = tcp_seq_and_payload(f, &p);
            let continues = matches!((tcp, next_seq), (Some((seq, _)), Some(s)) if seq == s);
            next_seq = tcp.map(|(seq, len)| seq.wrapping_add(len as u32));
            if let Some(ip) = p.outer.ip.as_ref().filter(|ip| ip.version == IpVersion::V4) {
                let o = ip.offset;
                let id = u16::from_be_bytes([f[o + 4], f[o + 5]]);
                if !continues {
                    first_id = id;
                }
                n[o + 4..o + 6].copy_from_slice(&id.wrapping_sub(first_id).to_be_bytes());
                n[o + 10..o + 12].fill(0);
            }
            n
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An NVGRE frame (IPv4 in IPv4) carrying TCP with `seq` and `payload` bytes.
    fn frame(src_mac: u8, outer_id: u16, seq: u32, payload: usize) -> Vec<u8> {
        let mut f = vec![
            0x02, 0, 0, 0, 0, 0x0b, 0x02, 0, 0, 0, 0, src_mac, 0x08, 0x00,
        ];
        let inner_len = 14 + 20 + 20 + payload;
        let mut ip = vec![
            0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 47, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        ip[2..4].copy_from_slice(&((20 + 8 + inner_len) as u16).to_be_bytes());
        ip[4..6].copy_from_slice(&outer_id.to_be_bytes());
        f.extend(ip);
        f.extend([0x20, 0, 0x65, 0x58, 0, 0xc0, 0xde, 0x2a]);
        f.extend([2, 0, 0, 0, 0, 0x99, 2, 0, 0, 0, 0, 0x98, 0x08, 0x00]);
        let mut iip = vec![
            0x45, 0, 0, 0, 0, 7, 0, 0, 64, 6, 0, 0, 198, 19, 0, 1, 198, 19, 0, 2,
        ];
        iip[2..4].copy_from_slice(&((40 + payload) as u16).to_be_bytes());
        f.extend(iip);
        let mut tcp = vec![
            0x9c, 0x54, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x10, 0xff, 0xff, 0, 0, 0, 0,
        ];
        tcp[4..8].copy_from_slice(&seq.to_be_bytes());
        f.extend(tcp);
        f.extend((0..payload).map(|i| i as u8));
        f
    }

    #[test]
    fn outer_ids_compare_by_their_step_within_a_packet() {
        // Two packets of two segments each; the runs start at different outer IDs.
        let run = |id0: u16, mac| {
            vec![
                frame(mac, id0, 100, 300),
                frame(mac, id0 + 1, 400, 100),
                frame(mac, id0 + 9, 5000, 300),
                frame(mac, id0 + 10, 5300, 100),
            ]
        };
        assert_eq!(normalize(&run(7, 1), true), normalize(&run(900, 2), true));
        // Addresses count when both runs come from the same NIC.
        assert_ne!(normalize(&run(7, 1), false), normalize(&run(900, 2), false));
        // An ID that does not advance within a packet is a difference.
        let mut stuck = run(7, 1);
        stuck[1] = frame(1, 7, 400, 100);
        assert_ne!(normalize(&stuck, true), normalize(&run(7, 1), true));
    }

    #[test]
    fn every_mix_and_mss_is_a_case() {
        let names = case_names();
        assert_eq!(names.len(), MSS.len() * (MIXES.len() + 1));
        assert!(names.contains(&"dpdk-lso-v6-in-v6-m536".to_string()));
        assert!(names.contains(&"dpdk-lso-v4-in-v4-m1000-dpdk-gso".to_string()));
    }
}
