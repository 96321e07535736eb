//! `tunic segment`, `tunic csum` and `tunic rss` run as a user runs them: on pcap files,
//! checked against etherparse and the engines' own receive checks.

mod common;

use common::{path_str, read_pcap, scratch_dir, stderr, stdout, tunic, tunic_ok, write_pcap};
use offload_engines::rxcsum;
use serde_json::Value;
use testvectors::build::{self, Built, FrameSpec, Ip, Proto, Seed, Tunnel};
use testvectors::decode;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

/// Segments `frames` and returns the output frames and the JSON report.
fn segment(test: &str, mode: &str, mss: usize, frames: &[Vec<u8>]) -> (Vec<Vec<u8>>, Value) {
    let dir = scratch_dir(test);
    let (input, output) = (dir.join("in.pcap"), dir.join("out.pcap"));
    write_pcap(&input, frames);
    let mss = mss.to_string();
    let out = tunic_ok(&[
        "segment",
        "--mode",
        mode,
        "--mss",
        &mss,
        "--json",
        path_str(&input),
        path_str(&output),
    ]);
    (read_pcap(&output), json(&out))
}

/// Every segment cut from `b` has good checksums (by etherparse), IP lengths that match
/// its size, and the segments' payloads reassemble to the original one.
fn assert_segments_valid(b: &Built, segs: &[Vec<u8>], mss: usize) {
    let mut payload = Vec::new();
    for (k, s) in segs.iter().enumerate() {
        let v = decode::segment(b, s);
        assert!(v.checksums_ok(), "segment {k}: {}", v.line());
        assert!(
            s.len() <= b.header_len + mss,
            "segment {k} is {} bytes",
            s.len()
        );
        let ip_len = usize::from(v.ip.len) + if v.ip.version == 6 { 40 } else { 0 };
        assert_eq!(ip_len, s.len() - b.ip, "segment {k}: {}", v.line());
        if let Some(o) = &v.outer_ip {
            let outer_len = usize::from(o.len) + if o.version == 6 { 40 } else { 0 };
            assert_eq!(outer_len, s.len() - b.outer_ip, "segment {k}: {}", v.line());
        }
        // The engine's receive path agrees.
        let rx = rxcsum::validate(s);
        let l4 = rx.l4_ok().expect("an L4 verdict");
        assert!(l4.1, "segment {k}: rxcsum {rx:?}");
        assert_ne!(rx.ip_ok(), Some(false), "segment {k}: rxcsum {rx:?}");
        assert_ne!(rx.gre, Some(false), "segment {k}: rxcsum {rx:?}");
        payload.extend_from_slice(&s[b.header_len..]);
    }
    assert_eq!(payload, &b.frame[b.header_len..], "payload reassembles");
}

fn nvgre(outer: Ip, inner: Ip, proto: Proto, payload: usize) -> FrameSpec {
    FrameSpec {
        tunnel: Some(Tunnel::nvgre(outer, 0x12_3456, 0x78)),
        proto,
        ..FrameSpec::tcp(inner, payload, Seed::Final)
    }
}

#[test]
fn tso_64k_ipv4_at_mss_1448() {
    // 64 KiB of payload does not fit a final IPv4 length; the CLI seeds the checksums.
    let b = build::build(&FrameSpec::tcp(Ip::V4, 65536, Seed::Lso));
    let (segs, report) = segment("tso64k", "tso", 1448, std::slice::from_ref(&b.frame));
    assert_eq!(segs.len(), 46, "45 full segments and one of 376 bytes");
    assert_eq!(segs.last().unwrap().len() - b.header_len, 65536 - 45 * 1448);
    assert_segments_valid(&b, &segs, 1448);
    let f = &report["frames"][0];
    assert_eq!(f["result"], "segmented");
    assert_eq!(f["segments"], 46);
    assert_eq!(f["payload_bytes"], 65536);
    assert_eq!(report["summary"]["frames_out"], 46);
}

#[test]
fn table_output_names_frame_mode_segments_and_payload() {
    let b = build::build(&FrameSpec::tcp(Ip::V6, 10_000, Seed::Final));
    let dir = scratch_dir("table");
    let (input, output) = (dir.join("in.pcap"), dir.join("out.pcap"));
    write_pcap(&input, &[b.frame]);
    let out = tunic_ok(&[
        "segment",
        "--mode",
        "tso",
        "--mss",
        "1000",
        path_str(&input),
        path_str(&output),
    ]);
    let row = out
        .lines()
        .find(|l| l.trim_start().starts_with("1 "))
        .unwrap_or_else(|| panic!("no row for frame 1:\n{out}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cells[..5],
        ["1", "tso", "segmented", "10", "10000"],
        "{out}"
    );
}

#[test]
fn nvgre_lso_in_every_ip_mix() {
    for (outer, inner) in [
        (Ip::V4, Ip::V4),
        (Ip::V4, Ip::V6),
        (Ip::V6, Ip::V4),
        (Ip::V6, Ip::V6),
    ] {
        let b = build::build(&nvgre(outer, inner, Proto::Tcp, 65536 - 100));
        let (segs, _) = segment("nvgre", "nvgre", 1398, std::slice::from_ref(&b.frame));
        assert_eq!(segs.len(), (65536 - 100usize).div_ceil(1398));
        assert_segments_valid(&b, &segs, 1398);
    }
}

#[test]
fn uso_cuts_datagrams() {
    for ip in [Ip::V4, Ip::V6] {
        let spec = FrameSpec {
            proto: Proto::Udp,
            ..FrameSpec::tcp(ip, 5000, Seed::Final)
        };
        let b = build::build(&spec);
        let (segs, _) = segment("uso", "uso", 1200, std::slice::from_ref(&b.frame));
        assert_eq!(segs.len(), 5);
        assert_segments_valid(&b, &segs, 1200);
    }
}

#[test]
fn partial_replicates_headers_as_igb_gso_partial() {
    let mss = 1000;
    let mut cases = vec![
        build::build(&FrameSpec::tcp(Ip::V4, 3 * mss + 123, Seed::Final)),
        build::build(&FrameSpec::tcp(Ip::V6, 4 * mss, Seed::Final)),
    ];
    for (outer, inner) in [(Ip::V4, Ip::V4), (Ip::V6, Ip::V4), (Ip::V4, Ip::V6)] {
        cases.push(build::build(&nvgre(outer, inner, Proto::Tcp, 5 * mss + 7)));
    }
    let mut gre_csum = nvgre(Ip::V4, Ip::V4, Proto::Tcp, 3 * mss + 1);
    gre_csum.tunnel.as_mut().unwrap().gre_checksum = true;
    gre_csum.ip_extras = true;
    cases.push(build::build(&gre_csum));
    for b in &cases {
        let (segs, report) = segment("partial", "partial", mss, std::slice::from_ref(&b.frame));
        let payload = b.frame.len() - b.header_len;
        assert_eq!(segs.len(), payload.div_ceil(mss), "{report}");
        assert_segments_valid(b, &segs, mss);
    }
}

#[test]
fn partial_keeps_the_inner_ipv4_id_and_advances_the_outer() {
    let mss = 500;
    let b = build::build(&nvgre(Ip::V4, Ip::V4, Proto::Tcp, 3 * mss + 10));
    let (segs, _) = segment("partial-id", "partial", mss, std::slice::from_ref(&b.frame));
    let views: Vec<_> = segs.iter().map(|s| decode::segment(&b, s)).collect();
    let outer: Vec<u16> = views
        .iter()
        .map(|v| v.outer_ip.as_ref().unwrap().id.unwrap())
        .collect();
    let inner: Vec<u16> = views.iter().map(|v| v.ip.id.unwrap()).collect();
    assert_eq!(outer, [0x1000, 0x1001, 0x1002, 0x1003]);
    // One hardware TSO of three segments, then the remainder as a frame of its own.
    assert_eq!(inner, [0x4242, 0x4242, 0x4242, 0x4245]);
}

#[test]
fn small_unsegmentable_and_non_ip_frames_pass_through() {
    let small = build::build(&FrameSpec::tcp(Ip::V4, 100, Seed::Final)).frame;
    let udp_large = build::build(&FrameSpec {
        proto: Proto::Udp,
        ..FrameSpec::tcp(Ip::V4, 4000, Seed::Final)
    })
    .frame;
    let mut arp = vec![0xff; 6];
    arp.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x06]);
    arp.extend_from_slice(&[0u8; 28]);
    let large = build::build(&FrameSpec::tcp(Ip::V4, 3000, Seed::Final)).frame;
    let frames = vec![small.clone(), udp_large.clone(), arp.clone(), large];
    let (out, report) = segment("mixed", "tso", 1448, &frames);
    let results: Vec<&str> = report["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["result"].as_str().unwrap())
        .collect();
    assert_eq!(results, ["unchanged", "error", "unchanged", "segmented"]);
    assert!(report["frames"][1]["error"]
        .as_str()
        .unwrap()
        .contains("transport"));
    assert_eq!(out.len(), 1 + 1 + 1 + 3);
    assert_eq!(out[0], small);
    assert_eq!(out[1], udp_large, "refused frames are copied unchanged");
    assert_eq!(out[2], arp);

    // --strict makes a refusal fail the run, after writing the output.
    let dir = scratch_dir("strict");
    let (input, output) = (dir.join("in.pcap"), dir.join("out.pcap"));
    write_pcap(&input, &frames);
    let o = tunic(&[
        "segment",
        "--mode",
        "tso",
        "--mss",
        "1448",
        "--strict",
        path_str(&input),
        path_str(&output),
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("1 of 4 frames could not be segmented"));
}

#[test]
fn csum_verify_flags_a_corrupted_frame() {
    let good = build::build(&nvgre(Ip::V4, Ip::V4, Proto::Tcp, 200));
    let mut bad_inner = good.frame.clone();
    *bad_inner.last_mut().unwrap() ^= 0x55;
    let mut bad_outer_ip = good.frame.clone();
    bad_outer_ip[good.outer_ip + 8] ^= 1; // TTL
    let plain_udp = build::build(&FrameSpec {
        proto: Proto::Udp,
        ..FrameSpec::tcp(Ip::V6, 50, Seed::Final)
    });
    let dir = scratch_dir("csum");
    let input = dir.join("in.pcap");
    write_pcap(
        &input,
        &[
            good.frame.clone(),
            bad_inner,
            bad_outer_ip,
            plain_udp.frame.clone(),
        ],
    );

    let o = tunic(&["csum", "--verify", "--json", path_str(&input)]);
    assert!(!o.status.success(), "bad checksums fail the run");
    assert!(stderr(&o).contains("2 of 4 frames carry a bad checksum"));
    let r = json(&stdout(&o));
    let f = &r["frames"];
    assert_eq!(f[0]["ok"], true);
    assert_eq!(f[0]["outer_ipv4"], true);
    assert_eq!(f[0]["inner_ipv4"], true);
    assert_eq!(f[0]["inner_l4"]["protocol"], "tcp");
    assert_eq!(f[0]["inner_l4"]["ok"], true);
    assert_eq!(f[0]["vsid"], 0x12_3456);
    assert_eq!(f[0]["flow_id"], 0x78);
    assert_eq!(f[1]["ok"], false);
    assert_eq!(f[1]["inner_l4"]["ok"], false);
    assert_eq!(f[1]["inner_ipv4"], true);
    assert_eq!(f[2]["outer_ipv4"], false);
    assert_eq!(f[2]["inner_l4"]["ok"], true);
    assert_eq!(
        f[3]["outer_ipv4"],
        Value::Null,
        "IPv6 has no header checksum"
    );
    assert_eq!(f[3]["outer_l4"]["protocol"], "udp");
    assert_eq!(f[3]["outer_l4"]["ok"], true);
    assert_eq!(r["bad_frames"], 2);

    // The table marks the same frames.
    let o = tunic(&["csum", "--verify", path_str(&input)]);
    let text = stdout(&o);
    let bad_rows: Vec<&str> = text
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some("BAD"))
        .collect();
    assert_eq!(bad_rows.len(), 2, "{text}");
    assert!(text.contains("0x123456"), "{text}");

    // A clean file passes.
    write_pcap(&input, &[good.frame, plain_udp.frame]);
    tunic_ok(&["csum", "--verify", path_str(&input)]);
}

fn tcp_frame(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
    let mut f = Vec::new();
    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(src, dst, 64)
        .tcp(sport, dport, 1, 1000)
        .write(&mut f, &[])
        .unwrap();
    f
}

fn tcp6_frame(src: &str, dst: &str, sport: u16, dport: u16) -> Vec<u8> {
    let addr = |s: &str| s.parse::<std::net::Ipv6Addr>().unwrap().octets();
    let mut f = Vec::new();
    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv6(addr(src), addr(dst), 64)
        .tcp(sport, dport, 1, 1000)
        .write(&mut f, &[])
        .unwrap();
    f
}

use testvectors::rss_vectors::{V4 as MS_V4, V6 as MS_V6};

#[test]
fn rss_prints_the_microsoft_verification_hashes() {
    let mut frames: Vec<Vec<u8>> = MS_V4
        .iter()
        .map(|&(s, d, sp, dp, _, _)| tcp_frame(s, d, sp, dp))
        .collect();
    frames.extend(
        MS_V6
            .iter()
            .map(|&(s, d, sp, dp, _, _)| tcp6_frame(s, d, sp, dp)),
    );
    let two: Vec<u32> = MS_V4
        .iter()
        .map(|v| v.4)
        .chain(MS_V6.iter().map(|v| v.4))
        .collect();
    let four: Vec<u32> = MS_V4
        .iter()
        .map(|v| v.5)
        .chain(MS_V6.iter().map(|v| v.5))
        .collect();
    let dir = scratch_dir("rss");
    let input = dir.join("in.pcap");
    write_pcap(&input, &frames);

    // Default key (Microsoft's), all types: the 4-tuple hashes.
    let r = json(&tunic_ok(&[
        "rss",
        "--json",
        "--queues",
        "4",
        path_str(&input),
    ]));
    for (i, want) in four.iter().enumerate() {
        let f = &r["frames"][i];
        assert_eq!(f["hash"], format!("{want:#010x}"), "frame {}", i + 1);
        assert_eq!(f["queue"], (want & 127) % 4, "frame {}", i + 1);
    }
    assert_eq!(r["frames"][0]["hash_type"], "tcp-ipv4");
    assert_eq!(r["frames"][5]["hash_type"], "tcp-ipv6-ex");

    // Address-only types: the 2-tuple hashes; explicit key and table.
    let key = "6d:5a:56:da:25:5b:0e:c2:41:67:25:3d:43:a3:8f:b0:d0:ca:2b:cb:\
               ae:7b:30:b4:77:cb:2d:a3:80:30:f2:0c:6a:42:b7:3b:be:ac:01:fa";
    let text = tunic_ok(&[
        "rss",
        "--key",
        key,
        "--types",
        "ipv4,ipv6",
        "--reta",
        "3,1",
        path_str(&input),
    ]);
    for (i, want) in two.iter().enumerate() {
        let row = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(&(i + 1).to_string()))
            .unwrap_or_else(|| panic!("no row {}:\n{text}", i + 1));
        let cells: Vec<&str> = row.split_whitespace().collect();
        let kind = if i < 5 { "ipv4" } else { "ipv6" };
        let queue = if want & 1 == 0 { "3" } else { "1" };
        assert_eq!(
            cells,
            [&(i + 1).to_string(), &format!("{want:#010x}"), kind, queue]
        );
    }

    // No enabled type applies: no hash, default queue.
    let r = json(&tunic_ok(&[
        "rss",
        "--json",
        "--types",
        "udp-ipv4",
        path_str(&input),
    ]));
    assert_eq!(r["frames"][0]["hash"], Value::Null);
    assert_eq!(r["frames"][0]["queue"], 0);
}

#[test]
fn rss_tunnel_aware_hashes_the_inner_flow() {
    let b = build::build(&nvgre(Ip::V4, Ip::V4, Proto::Tcp, 64));
    let dir = scratch_dir("rss-tunnel");
    let input = dir.join("in.pcap");
    write_pcap(&input, &[b.frame]);
    let plain = json(&tunic_ok(&["rss", "--json", path_str(&input)]));
    let aware = json(&tunic_ok(&[
        "rss",
        "--json",
        "--tunnel-aware",
        path_str(&input),
    ]));
    assert_eq!(plain["frames"][0]["hash_type"], "ipv4");
    assert_eq!(aware["frames"][0]["hash_type"], "tcp-ipv4");
}

/// A valid capture's bytes, to cut and damage.
fn valid_pcap_bytes(dir: &std::path::Path) -> Vec<u8> {
    let p = dir.join("valid.pcap");
    write_pcap(&p, &vec![tcp_frame([1, 2, 3, 4], [5, 6, 7, 8], 1, 2); 2]);
    std::fs::read(p).unwrap()
}

#[test]
fn bad_inputs_fail_with_a_message() {
    let dir = scratch_dir("bad");
    let valid = valid_pcap_bytes(&dir);
    let file = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let good = file("good.pcap", &valid);
    let missing = dir.join("missing.pcap").to_str().unwrap().to_owned();
    let text = file("text.pcap", b"this is not a capture at all, just text\n");
    let empty = file("empty.pcap", b"");
    let truncated = file("truncated.pcap", &valid[..valid.len() - 10]);
    let pcapng = file(
        "capture.pcapng",
        &[
            0x0A, 0x0D, 0x0D, 0x0A, 28, 0, 0, 0, 0x4D, 0x3C, 0x2B, 0x1A, 1, 0, 0, 0, 0xff, 0xff,
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 28, 0, 0, 0,
        ],
    );
    let mut raw_ip = valid.clone();
    raw_ip[20..24].copy_from_slice(&101u32.to_le_bytes()); // LINKTYPE_RAW
    let raw_ip = file("rawip.pcap", &raw_ip);
    let out = dir.join("out.pcap").to_str().unwrap().to_owned();
    let seg = |input: &str, mss: &str| -> Vec<String> {
        ["segment", "--mode", "tso", "--mss", mss, input, &out]
            .map(String::from)
            .to_vec()
    };

    let cases: Vec<(Vec<String>, &str)> = vec![
        (seg(&missing, "1448"), "cannot read"),
        (seg(&text, "1448"), "not a pcap file"),
        (seg(&empty, "1448"), "not a pcap file"),
        (seg(&truncated, "1448"), "truncated"),
        (seg(&pcapng, "1448"), "pcapng"),
        (seg(&raw_ip, "1448"), "Ethernet"),
        (seg(&good, "0"), "0"),
        (seg(&good, "many"), "invalid value"),
        (
            ["segment", "--mode", "gso", "--mss", "1448", &good, &out]
                .map(String::from)
                .to_vec(),
            "invalid value",
        ),
        (
            [
                "segment",
                "--mode",
                "tso",
                "--mss",
                "1448",
                &good,
                "/nonexistent-dir/out.pcap",
            ]
            .map(String::from)
            .to_vec(),
            "cannot create",
        ),
        (
            vec!["csum".into(), "--verify".into(), truncated.clone()],
            "truncated",
        ),
        (
            vec!["csum".into(), "--verify".into(), pcapng.clone()],
            "pcapng",
        ),
        (vec!["csum".into(), good.clone()], "--verify"),
        (vec!["rss".into(), text.clone()], "not a pcap file"),
        (vec!["rss".into(), raw_ip.clone()], "Ethernet"),
        (
            vec!["rss".into(), "--key".into(), "zz".repeat(40), good.clone()],
            "not a hex digit",
        ),
        (
            vec![
                "rss".into(),
                "--key".into(),
                "6d5a56da".into(),
                good.clone(),
            ],
            "40 bytes",
        ),
        (
            vec![
                "rss".into(),
                "--types".into(),
                "tcp-ipv5".into(),
                good.clone(),
            ],
            "invalid value",
        ),
        (
            vec!["rss".into(), "--reta".into(), "0,1,2".into(), good.clone()],
            "power-of-two",
        ),
        (
            vec!["rss".into(), "--reta".into(), "0,300".into(), good.clone()],
            "invalid value",
        ),
        (
            vec!["rss".into(), "--queues".into(), "0".into(), good.clone()],
            "0",
        ),
        (
            vec![
                "rss".into(),
                "--queues".into(),
                "2".into(),
                "--reta".into(),
                "0,1".into(),
                good.clone(),
            ],
            "cannot be used with",
        ),
    ];
    for (args, needle) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = tunic(&args);
        let err = stderr(&o);
        assert!(!o.status.success(), "tunic {args:?} succeeded");
        assert!(
            err.contains(needle),
            "tunic {args:?}: stderr lacks {needle:?}:\n{err}"
        );
    }
    // The valid file itself is fine.
    tunic_ok(&["rss", &good]);
}
