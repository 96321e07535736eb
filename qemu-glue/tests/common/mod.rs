//! Shared helpers of the tests that run the `tunic` binary on generated captures.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapReader, PcapWriter};
use pcap_file::DataLink;

/// Large enough for a 64 KiB super-frame with its headers (libpcap's own default).
pub const SNAPLEN: u32 = 262_144;

/// A fresh directory for one test's files, removed when the test passes (kept for
/// inspection when it fails).
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl std::ops::Deref for ScratchDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

pub fn scratch_dir(test: &str) -> ScratchDir {
    let dir = std::env::temp_dir().join(format!("tunic-test-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    ScratchDir(dir)
}

pub fn write_pcap(path: &Path, frames: &[Vec<u8>]) {
    let header = PcapHeader {
        snaplen: SNAPLEN,
        datalink: DataLink::ETHERNET,
        ..Default::default()
    };
    let file = std::fs::File::create(path).expect("create pcap");
    let mut w = PcapWriter::with_header(file, header).expect("pcap header");
    for (i, f) in frames.iter().enumerate() {
        let p = PcapPacket::new(Duration::from_millis(i as u64), f.len() as u32, f);
        w.write_packet(&p).expect("write frame");
    }
}

pub fn read_pcap(path: &Path) -> Vec<Vec<u8>> {
    let file = std::fs::File::open(path).expect("open output pcap");
    let mut r = PcapReader::new(file).expect("output pcap header");
    let mut frames = Vec::new();
    while let Some(p) = r.next_packet() {
        frames.push(p.expect("output frame").data.into_owned());
    }
    frames
}

/// Runs the built `tunic` binary; never lets a panic pass unnoticed.
pub fn tunic(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_tunic"))
        .args(args)
        .output()
        .expect("run tunic");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked"),
        "tunic {args:?} panicked:\n{stderr}"
    );
    out
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs tunic and requires success; returns stdout.
pub fn tunic_ok(args: &[&str]) -> String {
    let o = tunic(args);
    assert!(
        o.status.success(),
        "tunic {args:?} failed: {}\n{}",
        stderr(&o),
        stdout(&o)
    );
    stdout(&o)
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}
