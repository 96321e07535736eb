//! `tunic-guest toeplitz KEY_HEX SRC DST DPORT SPORT...`: the RSS hash of each IPv4
//! UDP/TCP 4-tuple under a key, one `SPORT HASH` line per source port.
//!
//! Written from the definition (Microsoft's RSS specification), bit by bit, and
//! deliberately not with the device's table-driven engine: it is the oracle the
//! DPDK suite checks the hashes the NIC reports against.

use std::net::Ipv4Addr;

/// Toeplitz: for every set input bit (MSB first), XOR in the 32 key bits starting at
/// that bit's position. Key bits past the key's end are zero.
pub fn hash(key: &[u8], input: &[u8]) -> u32 {
    let key_bit = |i: usize| key.get(i / 8).is_some_and(|b| b & (0x80 >> (i % 8)) != 0);
    let mut h = 0u32;
    for (i, _) in (0..input.len() * 8)
        .map(|i| (i, input[i / 8] & (0x80 >> (i % 8)) != 0))
        .filter(|(_, set)| *set)
    {
        let window = (0..32).fold(0u32, |w, j| (w << 1) | u32::from(key_bit(i + j)));
        h ^= window;
    }
    h
}

fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let s = s.trim_start_matches("0x");
    if !s.len().is_multiple_of(2) || s.is_empty() {
        return Err(format!("key '{s}' is not whole bytes of hex"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|_| format!("bad hex in key '{s}'")))
        .collect()
}

pub fn run(key: &str, src: &str, dst: &str, dport: &str, sports: &[&str]) -> Result<(), String> {
    let key = parse_hex(key)?;
    let ip = |s: &str| {
        s.parse::<Ipv4Addr>()
            .map_err(|_| format!("bad IPv4 address {s}"))
    };
    let port = |s: &str| s.parse::<u16>().map_err(|_| format!("bad port {s}"));
    let (src, dst, dport) = (ip(src)?, ip(dst)?, port(dport)?);
    for s in sports {
        let sport = port(s)?;
        let mut input = Vec::with_capacity(12);
        input.extend(src.octets());
        input.extend(dst.octets());
        input.extend(sport.to_be_bytes());
        input.extend(dport.to_be_bytes());
        println!("{sport} {:#010x}", hash(&key, &input));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The verification suite of Microsoft's RSS specification ("Verifying the RSS
    /// Hash Calculation"): its key and two of its IPv4 TCP/UDP rows.
    #[test]
    fn published_vectors() {
        let key = parse_hex(
            "6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa",
        )
        .unwrap();
        let t = |s: [u8; 4], d: [u8; 4], sp: u16, dp: u16| {
            let mut i = Vec::new();
            i.extend(s);
            i.extend(d);
            i.extend(sp.to_be_bytes());
            i.extend(dp.to_be_bytes());
            hash(&key, &i)
        };
        assert_eq!(
            t([66, 9, 149, 187], [161, 142, 100, 80], 2794, 1766),
            0x51cc_c178
        );
        assert_eq!(
            t([199, 92, 111, 2], [65, 69, 140, 83], 14230, 4739),
            0xc626_b0ea
        );
        // IPv4 only (8 bytes of input).
        assert_eq!(
            hash(&key, &[66, 9, 149, 187, 161, 142, 100, 80]),
            0x323e_8fc2
        );
    }
}
