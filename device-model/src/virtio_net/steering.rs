//! Which receive queue a frame goes to, and the hash reported with it.
//!
//! With RSS configured (`VIRTIO_NET_CTRL_MQ_RSS_CONFIG`, 5.1.6.5.7) the Toeplitz hash
//! of the enabled hash types indexes the driver's indirection table; a frame no type
//! applies to goes to `unclassified_queue`. Without RSS, several queue pairs are
//! steered by the same hash over a fixed key, so one flow stays on one queue **[tunic]**
//! (the spec's automatic steering follows the queue the flow last transmitted on).
//! `VIRTIO_NET_CTRL_MQ_HASH_CONFIG` only sets what is hashed for HASH_REPORT.
//! The hashing itself is `offload_engines::rss`, outer headers only: virtio's hash
//! types have no tunnel mode.

use offload_engines::parse::{parse_partial, Parsed};
use offload_engines::rss::{hash_parsed, HashKind, HashTypes, Toeplitz, KEY_LEN};
use virtio_bindings::virtio_net::*;

/// Longest indirection table and key the device accepts (device configuration).
pub const MAX_TABLE_LEN: u16 = 128;
pub const MAX_KEY_LEN: u8 = KEY_LEN as u8;
/// The hash types tunic computes; the `_EX` ones would need IPv6 extension-header
/// address substitution, which the engine does not do.
pub const SUPPORTED_HASH_TYPES: u32 = VIRTIO_NET_RSS_HASH_TYPE_IPv4
    | VIRTIO_NET_RSS_HASH_TYPE_TCPv4
    | VIRTIO_NET_RSS_HASH_TYPE_UDPv4
    | VIRTIO_NET_RSS_HASH_TYPE_IPv6
    | VIRTIO_NET_RSS_HASH_TYPE_TCPv6
    | VIRTIO_NET_RSS_HASH_TYPE_UDPv6;

/// Microsoft's sample RSS key, for steering before the driver configured one.
const DEFAULT_KEY: [u8; KEY_LEN] = [
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
    0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
    0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
];

/// Where a frame goes and what is reported with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub pair: u16,
    /// (hash value, `VIRTIO_NET_HASH_REPORT_*`).
    pub report: (u32, u16),
    /// The frame's headers, parsed once here for the checksum check as well.
    pub parsed: Option<Parsed>,
}

/// An RSS or hash configuration the driver sent, checked.
#[derive(Debug, PartialEq, Eq)]
pub struct RssCommand {
    pub hash_types: u32,
    pub key: Vec<u8>,
    /// RSS_CONFIG only: indirection table, unclassified queue, and the number of
    /// queue pairs the driver uses from now on (`max_tx_vq`).
    pub steering: Option<(Vec<u16>, u16, u16)>,
}

pub struct Steering {
    hash_types: u32,
    /// Shared with every device until a driver sets its own key: building the
    /// tables is most of a reset's work otherwise.
    toeplitz: std::sync::Arc<Toeplitz>,
    /// Empty until RSS_CONFIG: automatic steering.
    table: Vec<u16>,
    unclassified: u16,
}

/// The Toeplitz tables of [`DEFAULT_KEY`], built once per process.
fn default_toeplitz() -> std::sync::Arc<Toeplitz> {
    static DEFAULT: std::sync::OnceLock<std::sync::Arc<Toeplitz>> = std::sync::OnceLock::new();
    DEFAULT
        .get_or_init(|| std::sync::Arc::new(Toeplitz::new(&DEFAULT_KEY)))
        .clone()
}

impl Default for Steering {
    fn default() -> Self {
        Self {
            hash_types: 0,
            toeplitz: default_toeplitz(),
            table: Vec::new(),
            unclassified: 0,
        }
    }
}

fn engine_types(virtio: u32) -> HashTypes {
    [
        (VIRTIO_NET_RSS_HASH_TYPE_IPv4, HashTypes::IPV4),
        (VIRTIO_NET_RSS_HASH_TYPE_TCPv4, HashTypes::TCP_IPV4),
        (VIRTIO_NET_RSS_HASH_TYPE_UDPv4, HashTypes::UDP_IPV4),
        (VIRTIO_NET_RSS_HASH_TYPE_IPv6, HashTypes::IPV6),
        (VIRTIO_NET_RSS_HASH_TYPE_TCPv6, HashTypes::TCP_IPV6),
        (VIRTIO_NET_RSS_HASH_TYPE_UDPv6, HashTypes::UDP_IPV6),
    ]
    .into_iter()
    .filter(|(v, _)| virtio & v != 0)
    .fold(HashTypes::empty(), |acc, (_, e)| acc | e)
}

fn report_type(kind: HashKind) -> u16 {
    (match kind {
        HashKind::Ipv4 => VIRTIO_NET_HASH_REPORT_IPv4,
        HashKind::TcpIpv4 => VIRTIO_NET_HASH_REPORT_TCPv4,
        HashKind::UdpIpv4 => VIRTIO_NET_HASH_REPORT_UDPv4,
        HashKind::Ipv6 => VIRTIO_NET_HASH_REPORT_IPv6,
        HashKind::TcpIpv6 => VIRTIO_NET_HASH_REPORT_TCPv6,
        HashKind::UdpIpv6 => VIRTIO_NET_HASH_REPORT_UDPv6,
        HashKind::Ipv6Ex => VIRTIO_NET_HASH_REPORT_IPv6_EX,
        HashKind::TcpIpv6Ex => VIRTIO_NET_HASH_REPORT_TCPv6_EX,
        HashKind::UdpIpv6Ex => VIRTIO_NET_HASH_REPORT_UDPv6_EX,
    }) as u16
}

impl Steering {
    pub fn apply(&mut self, cmd: RssCommand) {
        // A shorter key is zero-padded: the hash input never reaches past it anyway
        // when the driver sized the key for the types it enabled.
        let mut key = [0u8; KEY_LEN];
        let n = cmd.key.len().min(KEY_LEN);
        key[..n].copy_from_slice(&cmd.key[..n]);
        self.hash_types = cmd.hash_types;
        self.toeplitz = std::sync::Arc::new(Toeplitz::new(&key));
        if let Some((table, unclassified, _)) = cmd.steering {
            self.table = table;
            self.unclassified = unclassified;
        }
    }

    /// The pair for `frame` among `active` pairs, and its hash report.
    pub fn decide(&self, frame: &[u8], active: u16) -> Decision {
        let parsed = parse_partial(frame).ok().map(|(p, _)| p);
        let hash = |types: u32| {
            parsed
                .as_ref()
                .and_then(|p| hash_parsed(p, &self.toeplitz, engine_types(types), false))
        };
        let configured = hash(self.hash_types);
        let report = configured.map_or((0, VIRTIO_NET_HASH_REPORT_NONE as u16), |r| {
            (r.hash, report_type(r.kind))
        });
        let pair = if !self.table.is_empty() {
            match configured {
                Some(r) => self.table[(r.hash as usize) & (self.table.len() - 1)],
                None => self.unclassified,
            }
        } else if active > 1 {
            hash(SUPPORTED_HASH_TYPES).map_or(0, |r| (r.hash % u32::from(active)) as u16)
        } else {
            0
        };
        Decision {
            pair,
            report,
            parsed,
        }
    }
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// `struct virtio_net_rss_config`: hash types, table mask, unclassified queue, the
/// table, `max_tx_vq`, key length and key. Refused (the driver gets VIRTIO_NET_ERR)
/// when anything is out of what the device configuration allows.
pub fn parse_rss_config(b: &[u8], max_pairs: u16) -> Result<RssCommand, &'static str> {
    let short = "RSS configuration truncated";
    let hash_types = le32(b, 0).ok_or(short)?;
    let mask = le16(b, 4).ok_or(short)?;
    let unclassified = le16(b, 6).ok_or(short)?;
    let entries = usize::from(mask) + 1;
    if !entries.is_power_of_two() || entries > usize::from(MAX_TABLE_LEN) {
        return Err("indirection table length not a power of two up to the maximum");
    }
    let table: Vec<u16> = (0..entries)
        .map(|i| le16(b, 8 + 2 * i))
        .collect::<Option<_>>()
        .ok_or(short)?;
    let rest = 8 + 2 * entries;
    let max_tx_vq = le16(b, rest).ok_or(short)?;
    let key = parse_key(b, rest + 2)?;
    if max_tx_vq == 0 || max_tx_vq > max_pairs {
        return Err("max_tx_vq outside 1..=max_virtqueue_pairs");
    }
    if unclassified >= max_pairs || table.iter().any(|&q| q >= max_pairs) {
        return Err("queue index beyond max_virtqueue_pairs");
    }
    check_types(hash_types)?;
    Ok(RssCommand {
        hash_types,
        key,
        steering: Some((table, unclassified, max_tx_vq)),
    })
}

/// `struct virtio_net_hash_config`: hash types, 8 reserved bytes, key length, key.
pub fn parse_hash_config(b: &[u8]) -> Result<RssCommand, &'static str> {
    let hash_types = le32(b, 0).ok_or("hash configuration truncated")?;
    check_types(hash_types)?;
    Ok(RssCommand {
        hash_types,
        key: parse_key(b, 12)?,
        steering: None,
    })
}

fn parse_key(b: &[u8], at: usize) -> Result<Vec<u8>, &'static str> {
    let len = *b.get(at).ok_or("key length missing")?;
    if len > MAX_KEY_LEN {
        return Err("key longer than rss_max_key_size");
    }
    b.get(at + 1..at + 1 + usize::from(len))
        .map(<[u8]>::to_vec)
        .ok_or("key truncated")
}

fn check_types(types: u32) -> Result<(), &'static str> {
    if types & !SUPPORTED_HASH_TYPES != 0 {
        return Err("hash type not in supported_hash_types");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rss_config(types: u32, table: &[u16], max_tx_vq: u16, key: &[u8]) -> Vec<u8> {
        let mut b = types.to_le_bytes().to_vec();
        b.extend_from_slice(&((table.len() - 1) as u16).to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        for q in table {
            b.extend_from_slice(&q.to_le_bytes());
        }
        b.extend_from_slice(&max_tx_vq.to_le_bytes());
        b.push(key.len() as u8);
        b.extend_from_slice(key);
        b
    }

    /// An IPv4 UDP frame from 66.9.149.187:2794 to 161.142.100.80:1766, the first row
    /// of Microsoft's RSS verification table.
    fn ms_udp_frame() -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00, 0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0]);
        f.extend_from_slice(&[66, 9, 149, 187, 161, 142, 100, 80]);
        f.extend_from_slice(&2794u16.to_be_bytes());
        f.extend_from_slice(&1766u16.to_be_bytes());
        f.extend_from_slice(&[0, 8, 0, 0]);
        f
    }

    #[test]
    fn rss_indexes_the_table_with_the_published_hash() {
        let table: Vec<u16> = (0..128).map(|i| i % 4).collect();
        let cmd = parse_rss_config(
            &rss_config(SUPPORTED_HASH_TYPES, &table, 4, &DEFAULT_KEY),
            4,
        )
        .unwrap();
        let mut s = Steering::default();
        s.apply(cmd);
        let d = s.decide(&ms_udp_frame(), 4);
        // Microsoft's table: TCP/UDP 4-tuple hash 0x51ccc178 for this flow.
        assert_eq!(d.report, (0x51cc_c178, VIRTIO_NET_HASH_REPORT_UDPv4 as u16));
        assert_eq!(d.pair, table[0x78 & 127]);
        // Only the 2-tuple enabled: the IPv4 hash 0x323e8fc2, reported as IPv4.
        let mut s = Steering::default();
        s.apply(
            parse_rss_config(
                &rss_config(VIRTIO_NET_RSS_HASH_TYPE_IPv4, &table, 4, &DEFAULT_KEY),
                4,
            )
            .unwrap(),
        );
        assert_eq!(
            s.decide(&ms_udp_frame(), 4).report,
            (0x323e_8fc2, VIRTIO_NET_HASH_REPORT_IPv4 as u16)
        );
    }

    #[test]
    fn unhashable_frames_go_to_the_unclassified_queue_with_no_report() {
        let mut s = Steering::default();
        let mut cfg = rss_config(SUPPORTED_HASH_TYPES, &[1, 2], 3, &DEFAULT_KEY);
        cfg[6] = 2; // unclassified queue
        s.apply(parse_rss_config(&cfg, 3).unwrap());
        let arp = [vec![0xff; 12], vec![0x08, 0x06], vec![0; 28]].concat();
        let d = s.decide(&arp, 3);
        assert_eq!((d.pair, d.report), (2, (0, 0)));
    }

    #[test]
    fn bad_configurations_are_refused() {
        let ok = rss_config(SUPPORTED_HASH_TYPES, &[0, 1], 2, &[1; 40]);
        assert!(parse_rss_config(&ok, 2).is_ok());
        assert!(
            parse_rss_config(&ok[..ok.len() - 1], 2).is_err(),
            "short key"
        );
        assert!(parse_rss_config(&ok, 1).is_err(), "queue 1 of 1");
        let three = rss_config(SUPPORTED_HASH_TYPES, &[0, 1, 0], 2, &[1; 40]);
        assert!(parse_rss_config(&three, 2).is_err(), "not a power of two");
        let ex = rss_config(VIRTIO_NET_RSS_HASH_TYPE_IP_EX, &[0], 1, &[]);
        assert!(parse_rss_config(&ex, 1).is_err(), "unsupported type");
        let long_key = rss_config(SUPPORTED_HASH_TYPES, &[0], 1, &[1; 41]);
        assert!(parse_rss_config(&long_key, 1).is_err());
        assert!(parse_rss_config(&[], 1).is_err());
        let mut hash = SUPPORTED_HASH_TYPES.to_le_bytes().to_vec();
        hash.extend_from_slice(&[0; 8]);
        hash.push(2);
        hash.extend_from_slice(&[7, 8]);
        assert_eq!(
            parse_hash_config(&hash),
            Ok(RssCommand {
                hash_types: SUPPORTED_HASH_TYPES,
                key: vec![7, 8],
                steering: None
            })
        );
    }

    #[test]
    fn automatic_steering_keeps_a_flow_on_one_pair() {
        let s = Steering::default();
        let f = ms_udp_frame();
        let d = s.decide(&f, 4);
        assert_eq!(d, s.decide(&f, 4));
        assert!(d.pair < 4);
        assert_eq!(
            d.report.1, 0,
            "nothing reported before a hash configuration"
        );
        assert_eq!(s.decide(&f, 1).pair, 0);
    }
}
