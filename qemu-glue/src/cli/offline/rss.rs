//! `tunic rss`: the RSS hash, hash type and receive queue the NIC picks for each frame
//! with a configurable Toeplitz key, hash types and indirection table.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{bail, Context};
use offload_engines::rss::{self, HashKind, HashTypes, Toeplitz, KEY_LEN};
use serde::Serialize;

use super::{print, print_json, read_capture, OutputArgs};

/// The key Microsoft's "Verifying the RSS Hash Calculation" uses; its published hashes
/// make a quick check of any setup.
const MICROSOFT_KEY: &str =
    "6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa";

/// Entries of the default indirection table (the 82576's RETA and NDIS's maximum).
const DEFAULT_TABLE_LEN: usize = 128;

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashType {
    Ipv4,
    TcpIpv4,
    UdpIpv4,
    Ipv6,
    TcpIpv6,
    UdpIpv6,
    Ipv6Ex,
    TcpIpv6Ex,
    UdpIpv6Ex,
}

impl HashType {
    fn bits(self) -> HashTypes {
        match self {
            HashType::Ipv4 => HashTypes::IPV4,
            HashType::TcpIpv4 => HashTypes::TCP_IPV4,
            HashType::UdpIpv4 => HashTypes::UDP_IPV4,
            HashType::Ipv6 => HashTypes::IPV6,
            HashType::TcpIpv6 => HashTypes::TCP_IPV6,
            HashType::UdpIpv6 => HashTypes::UDP_IPV6,
            HashType::Ipv6Ex => HashTypes::IPV6_EX,
            HashType::TcpIpv6Ex => HashTypes::TCP_IPV6_EX,
            HashType::UdpIpv6Ex => HashTypes::UDP_IPV6_EX,
        }
    }
}

impl HashType {
    /// The name `--types` takes for this type.
    fn name(self) -> &'static str {
        match self {
            HashType::Ipv4 => "ipv4",
            HashType::TcpIpv4 => "tcp-ipv4",
            HashType::UdpIpv4 => "udp-ipv4",
            HashType::Ipv6 => "ipv6",
            HashType::TcpIpv6 => "tcp-ipv6",
            HashType::UdpIpv6 => "udp-ipv6",
            HashType::Ipv6Ex => "ipv6-ex",
            HashType::TcpIpv6Ex => "tcp-ipv6-ex",
            HashType::UdpIpv6Ex => "udp-ipv6-ex",
        }
    }

    fn of_kind(k: HashKind) -> Self {
        match k {
            HashKind::Ipv4 => HashType::Ipv4,
            HashKind::TcpIpv4 => HashType::TcpIpv4,
            HashKind::UdpIpv4 => HashType::UdpIpv4,
            HashKind::Ipv6 => HashType::Ipv6,
            HashKind::TcpIpv6 => HashType::TcpIpv6,
            HashKind::UdpIpv6 => HashType::UdpIpv6,
            HashKind::Ipv6Ex => HashType::Ipv6Ex,
            HashKind::TcpIpv6Ex => HashType::TcpIpv6Ex,
            HashKind::UdpIpv6Ex => HashType::UdpIpv6Ex,
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct RssArgs {
    /// Toeplitz secret key: 40 bytes as 80 hex digits (":" or "-" between bytes are
    /// allowed). Default: the Microsoft verification key.
    #[arg(long, default_value = MICROSOFT_KEY)]
    pub key: String,
    /// Enabled hash types, comma-separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "ipv4,tcp-ipv4,udp-ipv4,ipv6,tcp-ipv6,udp-ipv6,ipv6-ex,tcp-ipv6-ex,udp-ipv6-ex"
    )]
    pub types: Vec<HashType>,
    /// Hash NVGRE frames on their inner headers.
    #[arg(long)]
    pub tunnel_aware: bool,
    /// Receive queues; the indirection table spreads them round-robin over 128 entries.
    #[arg(long, conflicts_with = "reta", value_parser = clap::value_parser!(u16).range(1..=128))]
    pub queues: Option<u16>,
    /// Indirection table: the queue of each entry, comma-separated; the number of
    /// entries must be a power of two up to 128.
    #[arg(long, value_delimiter = ',')]
    pub reta: Option<Vec<u8>>,
    /// Capture to hash (classic pcap, Ethernet).
    pub input: PathBuf,
    #[command(flatten)]
    pub format: OutputArgs,
}

/// Parses an RSS key written as hex digits, optionally with byte separators.
pub fn parse_key(text: &str) -> anyhow::Result<[u8; KEY_LEN]> {
    let digits: Vec<char> = text
        .trim()
        .trim_start_matches("0x")
        .chars()
        .filter(|c| !matches!(c, ':' | '-' | '_' | ' '))
        .collect();
    if let Some(bad) = digits.iter().find(|c| !c.is_ascii_hexdigit()) {
        bail!("--key: {bad:?} is not a hex digit");
    }
    if digits.len() != 2 * KEY_LEN {
        bail!(
            "--key: the RSS key is {KEY_LEN} bytes ({} hex digits), got {} hex digits",
            2 * KEY_LEN,
            digits.len()
        );
    }
    let mut key = [0u8; KEY_LEN];
    for (byte, pair) in key.iter_mut().zip(digits.chunks(2)) {
        let hex: String = pair.iter().collect();
        *byte = u8::from_str_radix(&hex, 16).context("--key")?;
    }
    Ok(key)
}

fn table_of(a: &RssArgs) -> anyhow::Result<Vec<u8>> {
    match &a.reta {
        Some(t) if t.is_empty() || !t.len().is_power_of_two() || t.len() > DEFAULT_TABLE_LEN => {
            bail!(
                "--reta: the indirection table needs a power-of-two number of entries \
                 up to {DEFAULT_TABLE_LEN}, got {}",
                t.len()
            )
        }
        Some(t) => Ok(t.clone()),
        None => {
            let queues = usize::from(a.queues.unwrap_or(1));
            Ok((0..DEFAULT_TABLE_LEN).map(|i| (i % queues) as u8).collect())
        }
    }
}

#[derive(Debug, Serialize)]
struct FrameReport {
    frame: usize,
    /// None: no enabled hash type applies; the NIC reports no hash and uses queue 0.
    hash: Option<String>,
    hash_type: Option<&'static str>,
    queue: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

#[derive(Debug, Serialize)]
struct Report {
    input: PathBuf,
    key: String,
    types: Vec<&'static str>,
    tunnel_aware: bool,
    indirection_table: Vec<u8>,
    frames: Vec<FrameReport>,
}

pub fn run(a: RssArgs) -> anyhow::Result<()> {
    let key = parse_key(&a.key)?;
    let table = table_of(&a)?;
    let capture = read_capture(&a.input)?;
    let toeplitz = Toeplitz::new(&key);
    let types = a
        .types
        .iter()
        .fold(HashTypes::empty(), |acc, t| acc | t.bits());

    let frames = capture
        .frames
        .iter()
        .map(|f| {
            let r = rss::hash_frame(&f.data, &toeplitz, types, a.tunnel_aware);
            FrameReport {
                frame: f.number,
                hash: r.map(|r| format!("{:#010x}", r.hash)),
                hash_type: r.map(|r| HashType::of_kind(r.kind).name()),
                queue: r.map_or(0, |r| rss::indirect(r.hash, &table)),
                note: f.snapped(),
            }
        })
        .collect();
    let report = Report {
        input: a.input.clone(),
        key: key.iter().map(|b| format!("{b:02x}")).collect(),
        types: {
            use clap::ValueEnum;
            HashType::value_variants()
                .iter()
                .filter(|t| types.contains(t.bits()))
                .map(|t| t.name())
                .collect()
        },
        tunnel_aware: a.tunnel_aware,
        indirection_table: table,
        frames,
    };
    if a.format.json {
        print_json(&report)
    } else {
        print(&text_table(&report))
    }
}

fn text_table(r: &Report) -> String {
    let mut s = format!(
        "{} (key {}, {}tunnel-aware, {} table entries)\n{:>6}  {:<10}  {:<11}  {:>5}  note\n",
        r.input.display(),
        r.key,
        if r.tunnel_aware { "" } else { "not " },
        r.indirection_table.len(),
        "frame",
        "hash",
        "type",
        "queue"
    );
    for f in &r.frames {
        let _ = writeln!(
            s,
            "{:>6}  {:<10}  {:<11}  {:>5}  {}",
            f.frame,
            f.hash.as_deref().unwrap_or("-"),
            f.hash_type.unwrap_or("-"),
            f.queue,
            f.note.as_deref().unwrap_or("")
        );
    }
    s
}
