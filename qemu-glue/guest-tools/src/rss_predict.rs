//! Predicts the receive queue of each UDP flow from the key and indirection
//! table the driver programmed: the table as `ethtool -x` reports it, the key
//! from `ethtool -x` when the driver exposes it, else from the kernel's
//! `net.core.netdev_rss_key` (which `igb` programs and does not report).

use std::net::Ipv4Addr;

use offload_engines::rss::Toeplitz;

struct RssConfig {
    key: [u8; 40],
    table: Vec<u8>,
}

/// Parses `ethtool -x` output: indirection rows `  N:  q q q ...` and the key line `aa:bb:...`.
fn parse_ethtool_x(text: &str) -> Result<RssConfig, String> {
    let mut table = Vec::new();
    let mut key = None;
    let mut in_key = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("RSS hash key") {
            in_key = true;
            continue;
        }
        if in_key {
            key = key.or(parse_key(t));
            in_key = false;
            continue;
        }
        if let Some((idx, rest)) = t.split_once(':') {
            if idx.trim().parse::<usize>().is_ok() {
                for q in rest.split_whitespace() {
                    table.push(
                        q.parse::<u8>()
                            .map_err(|_| format!("bad table entry '{q}'"))?,
                    );
                }
            }
        }
    }
    let key = key.unwrap_or([0; 40]);
    if table.is_empty() || !table.len().is_power_of_two() {
        return Err(format!("indirection table of {} entries", table.len()));
    }
    Ok(RssConfig { key, table })
}

/// A colon-separated hex key of at least 40 bytes; RSS uses the first 40.
fn parse_key(text: &str) -> Option<[u8; 40]> {
    let bytes: Vec<u8> = text
        .trim()
        .split(':')
        .map(|h| u8::from_str_radix(h, 16))
        .collect::<Result<_, _>>()
        .ok()?;
    let mut k = [0u8; 40];
    k.copy_from_slice(bytes.get(..40)?);
    Some(k)
}

pub fn run(
    file: &str,
    src: &str,
    dst: &str,
    count: &str,
    base: &str,
    dport: &str,
) -> Result<(), String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
    let mut cfg = parse_ethtool_x(&text)?;
    if cfg.key == [0; 40] {
        let sys = std::fs::read_to_string("/proc/sys/net/core/netdev_rss_key").map_err(|e| {
            format!("the driver reports no key and netdev_rss_key is unreadable: {e}")
        })?;
        cfg.key = parse_key(&sys).ok_or("netdev_rss_key is not a hex key of 40+ bytes")?;
    }
    let src: Ipv4Addr = src.parse().map_err(|_| format!("bad IPv4 {src}"))?;
    let dst: Ipv4Addr = dst.parse().map_err(|_| format!("bad IPv4 {dst}"))?;
    let count: u16 = count.parse().map_err(|_| "bad count".to_string())?;
    let base: u16 = base.parse().map_err(|_| "bad port".to_string())?;
    let dport: u16 = dport.parse().map_err(|_| "bad port".to_string())?;
    let t = Toeplitz::new(&cfg.key);
    let queues = usize::from(*cfg.table.iter().max().unwrap_or(&0)) + 1;
    let mut per_queue = vec![0u32; queues];
    for i in 0..count {
        // Microsoft RSS input for UDP/IPv4: source address, destination address, source port, destination port.
        let mut input = [0u8; 12];
        input[0..4].copy_from_slice(&src.octets());
        input[4..8].copy_from_slice(&dst.octets());
        input[8..10].copy_from_slice(&base.wrapping_add(i).to_be_bytes());
        input[10..12].copy_from_slice(&dport.to_be_bytes());
        let h = t.hash(&input);
        let q = cfg.table[(h as usize) & (cfg.table.len() - 1)];
        per_queue[usize::from(q)] += 1;
    }
    for (q, n) in per_queue.iter().enumerate() {
        println!("{q} {n}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ethtool_x() {
        let text = "RX flow hash indirection table for eth1 with 2 RX ring(s):\n    0:      0     1     0     1\n    4:      0     1     0     1\nRSS hash key:\n6d:5a:56:da:25:5b:0e:c2:41:67:25:3d:43:a3:8f:b0:d0:ca:2b:cb:ae:7b:30:b4:77:cb:2d:a3:80:30:f2:0c:6a:42:b7:3b:be:ac:01:fa\nRSS hash function:\n    toeplitz: on\n";
        let c = parse_ethtool_x(text).unwrap();
        assert_eq!(c.table, vec![0, 1, 0, 1, 0, 1, 0, 1]);
        assert_eq!(c.key[0], 0x6d);
        assert_eq!(c.key[39], 0xfa);
        let no_key = "RX flow hash indirection table for eth1 with 2 RX ring(s):\n    0:      0     1\nRSS hash key:\nOperation not supported\n";
        assert_eq!(parse_ethtool_x(no_key).unwrap().key, [0; 40]);
        assert!(parse_key("6d:5a").is_none());
    }
}
