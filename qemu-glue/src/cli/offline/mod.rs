//! Offline commands: run the offload engines over the frames of a pcap file, without a
//! VM, so that their behaviour can be inspected and snapshot-tested.
//!
//! `segment` writes the wire frames a NIC would send for each frame; `csum` reports the
//! receive checksum verdicts per layer; `rss` reports the hash and queue per frame. Each
//! prints a table, or one JSON document with `--json`.

pub mod csum;
mod gso_partial;
pub mod rss;
pub mod segment;

use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use pcap_file::pcap::{PcapHeader, PcapReader, PcapWriter};
use pcap_file::{DataLink, PcapError};

/// Output choice shared by the offline commands.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct OutputArgs {
    /// Print one JSON document instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// One captured frame.
#[derive(Debug, Clone)]
pub struct Frame {
    /// 1-based, as Wireshark numbers frames.
    pub number: usize,
    pub timestamp: Duration,
    pub data: Vec<u8>,
    /// Length on the wire; larger than `data` when the capture cut the frame short.
    pub orig_len: usize,
}

impl Frame {
    /// The capture kept fewer bytes than the frame had: no engine result is meaningful.
    pub fn snapped(&self) -> Option<String> {
        (self.data.len() < self.orig_len).then(|| {
            format!(
                "capture kept {} of {} bytes (snap length)",
                self.data.len(),
                self.orig_len
            )
        })
    }
}

/// A classic pcap file of Ethernet frames.
#[derive(Debug)]
pub struct Capture {
    pub header: PcapHeader,
    pub frames: Vec<Frame>,
}

const PCAP_HEADER_LEN: usize = 24;
/// The section-header block type that starts every pcapng file.
const PCAPNG_MAGIC: [u8; 4] = [0x0A, 0x0D, 0x0D, 0x0A];
const PCAP_MAGICS: [[u8; 4]; 4] = [
    [0xA1, 0xB2, 0xC3, 0xD4],
    [0xD4, 0xC3, 0xB2, 0xA1],
    [0xA1, 0xB2, 0x3C, 0x4D],
    [0x4D, 0x3C, 0xB2, 0xA1],
];

/// Reads a whole capture, turning every way a file can be unusable into a message that
/// names the file (and the frame, for a broken record).
pub fn read_capture(path: &Path) -> anyhow::Result<Capture> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let name = path.display();
    let magic: [u8; 4] = bytes
        .get(..4)
        .and_then(|m| m.try_into().ok())
        .unwrap_or_default();
    if magic == PCAPNG_MAGIC {
        bail!(
            "{name} is a pcapng file; tunic reads classic pcap \
             (convert it with: editcap -F pcap {name} OUT.pcap)"
        );
    }
    if bytes.len() < PCAP_HEADER_LEN || !PCAP_MAGICS.contains(&magic) {
        bail!("{name} is not a pcap file (no pcap file header)");
    }
    let mut reader = PcapReader::new(&bytes[..])
        .map_err(|e| anyhow::anyhow!("{name}: unreadable pcap file header: {e}"))?;
    let header = reader.header();
    if header.datalink != DataLink::ETHERNET {
        bail!(
            "{name}: link type {:?}, but tunic's engines need Ethernet frames (LINKTYPE_ETHERNET)",
            header.datalink
        );
    }
    let mut frames = Vec::new();
    while let Some(packet) = reader.next_packet() {
        let number = frames.len() + 1;
        let packet = packet.map_err(|e| match e {
            PcapError::IncompleteBuffer => truncated(&name, number),
            PcapError::IoError(io) if io.kind() == ErrorKind::UnexpectedEof => {
                truncated(&name, number)
            }
            e => anyhow::anyhow!("{name}: frame {number}: {e}"),
        })?;
        frames.push(Frame {
            number,
            timestamp: packet.timestamp,
            orig_len: packet.orig_len as usize,
            data: packet.data.into_owned(),
        });
    }
    Ok(Capture { header, frames })
}

fn truncated(name: &impl std::fmt::Display, number: usize) -> anyhow::Error {
    anyhow::anyhow!("{name}: truncated pcap file: the file ends inside frame {number}")
}

/// Writes frames to a pcap file with the input's header, so that timestamps keep their
/// resolution and the snap length still covers every frame (no output frame is longer
/// than the input frame it came from).
pub struct CaptureWriter {
    path: PathBuf,
    writer: PcapWriter<std::io::BufWriter<std::fs::File>>,
}

impl CaptureWriter {
    pub fn create(path: &Path, header: PcapHeader) -> anyhow::Result<Self> {
        let file = std::fs::File::create(path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        let writer = PcapWriter::with_header(std::io::BufWriter::new(file), header)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Self {
            path: path.to_owned(),
            writer,
        })
    }

    pub fn write(&mut self, timestamp: Duration, data: &[u8]) -> anyhow::Result<()> {
        let packet = pcap_file::pcap::PcapPacket::new(timestamp, data.len() as u32, data);
        self.writer
            .write_packet(&packet)
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        Ok(())
    }

    pub fn finish(self) -> anyhow::Result<()> {
        self.writer
            .into_writer()
            .flush()
            .with_context(|| format!("cannot write {}", self.path.display()))
    }
}

/// Prints a report; a closed pipe (`| head`) ends the output quietly instead of failing.
/// Trailing blanks (an empty last table column) are dropped.
pub fn print(text: &str) -> anyhow::Result<()> {
    let text: String = text.lines().flat_map(|l| [l.trim_end(), "\n"]).collect();
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != ErrorKind::BrokenPipe => Err(e).context("cannot write to stdout"),
        _ => Ok(()),
    }
}

/// Prints a report as pretty JSON.
pub fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(value).context("cannot encode the report")?;
    text.push('\n');
    print(&text)
}

/// "good", "BAD" or "-" for a checksum verdict.
pub fn verdict(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "good",
        Some(false) => "BAD",
        None => "-",
    }
}
