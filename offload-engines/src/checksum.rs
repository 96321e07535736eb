//! Internet checksum (RFC 1071) and its incremental update (RFC 1624).
//!
//! The accumulator is a `u64` holding an *unfolded* sum: callers chain [`sum`] calls
//! over disjoint even-length pieces (pseudo-header, header, payload) and fold once.
//! Ones'-complement addition is associative and commutative modulo 0xFFFF, so the
//! order and grouping of the pieces does not matter, only their byte alignment does:
//! every piece except the last must have even length.

mod vector;

/// Bytes summed between reductions of the accumulator. Each step adds at most
/// `u32::MAX`, so `BLOCK / 4` steps on top of a reduced (< 2^33) accumulator cannot
/// overflow a `u64`; reducing per block keeps [`sum`] total for any slice length.
const BLOCK: usize = 1 << 20;

/// Adds `data`, read as big-endian 16-bit words (an odd trailing byte is the high half
/// of a zero-padded word), to `initial`. The result is unfolded; see [`fold`].
pub fn sum(data: &[u8], initial: u64) -> u64 {
    let mut acc = reduce(initial);
    let mut blocks = data.chunks(BLOCK);
    for block in &mut blocks {
        acc = reduce(acc + sum_block(block));
    }
    acc
}

/// Sums a block of at most [`BLOCK`] bytes.
///
/// The ones'-complement sum is byte-order independent (RFC 1071 §2(B)): summing the data
/// as little-endian words and swapping the bytes of the folded result gives the
/// big-endian sum. So the block is read as native little-endian 64-bit words, four
/// independent 128-bit accumulators keep the carries (no per-word byte swap, no carry
/// chain between lanes), and one swap at the end restores network order. A tail shorter
/// than 8 bytes is zero-padded on the right, which keeps an odd last byte the high half
/// of its big-endian word. Where the CPU has a vector unit, it sums the bulk first
/// (see [`vector`]); its sum is of little-endian 16-bit words too, and it leaves an
/// even-length prefix behind, so the two partial sums simply add.
fn sum_block(block: &[u8]) -> u64 {
    let word = |b: &[u8]| u128::from(u64::from_le_bytes(b.try_into().unwrap_or([0; 8])));
    let (bulk, covered) = vector::sum_prefix(block);
    let block = block.get(covered..).unwrap_or_default();
    let mut chunks = block.chunks_exact(32);
    let (mut a, mut b, mut c, mut d) = (0u128, 0u128, 0u128, 0u128);
    for ch in &mut chunks {
        a += word(&ch[0..8]);
        b += word(&ch[8..16]);
        c += word(&ch[16..24]);
        d += word(&ch[24..32]);
    }
    let mut acc = a + b + c + d + u128::from(bulk);
    let mut words = chunks.remainder().chunks_exact(8);
    for w in &mut words {
        acc += word(w);
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        let mut pad = [0u8; 8];
        pad[..tail.len()].copy_from_slice(tail);
        acc += word(&pad);
    }
    // 128 -> 64 -> 16 bits with end-around carries, then back to network byte order.
    while acc >> 64 != 0 {
        acc = (acc as u64 as u128) + (acc >> 64);
    }
    u64::from(fold(acc as u64).swap_bytes())
}

/// Shrinks the accumulator below 2^33 without changing its value modulo 0xFFFF.
fn reduce(acc: u64) -> u64 {
    (acc & 0xFFFF_FFFF) + (acc >> 32)
}

/// Folds an accumulator to 16 bits with end-around carry. Not complemented. Returns 0
/// only for an accumulator of 0; a non-zero multiple of 0xFFFF folds to 0xFFFF.
pub fn fold(sum: u64) -> u16 {
    let mut s = reduce(sum);
    s = (s & 0xFFFF) + (s >> 16);
    s = (s & 0xFFFF) + (s >> 16);
    s = (s & 0xFFFF) + (s >> 16);
    s as u16
}

/// The Internet checksum of `data`: the complement of its folded sum.
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum(data, 0))
}

/// Unfolded IPv4 pseudo-header sum (RFC 793/768): addresses, protocol, length.
/// `len` is added as a 32-bit quantity so that callers may pass a length that does not
/// fit the 16-bit field (it is still congruent to the folded value).
pub fn pseudo_ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, len: u32) -> u64 {
    let s = sum(&src, 0);
    let s = sum(&dst, s);
    s + u64::from(proto) + u64::from(len >> 16) + u64::from(len & 0xFFFF)
}

/// Unfolded IPv6 pseudo-header sum (RFC 8200 section 8.1): addresses, upper-layer
/// length (32 bits), next header.
pub fn pseudo_ipv6(src: [u8; 16], dst: [u8; 16], next: u8, len: u32) -> u64 {
    let s = sum(&src, 0);
    let s = sum(&dst, s);
    s + u64::from(next) + u64::from(len >> 16) + u64::from(len & 0xFFFF)
}

/// RFC 1624 equation 3: the checksum after one 16-bit word changes from `old` to
/// `new`, `HC' = ~(~HC + ~m + m')`. Equation 3 rather than 2 because the latter can
/// produce the negative zero 0xFFFF where a full recomputation gives 0x0000.
pub fn incremental_update(old_csum: u16, old: u16, new: u16) -> u16 {
    !fold(u64::from(!old_csum) + u64::from(!old) + u64::from(new))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Word-by-word reference straight from RFC 1071's definition.
    fn naive(data: &[u8]) -> u16 {
        let mut acc: u32 = 0;
        for pair in data.chunks(2) {
            let w = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
            acc += u32::from(w);
            acc = (acc & 0xFFFF) + (acc >> 16);
        }
        !(acc as u16)
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&data, 0)), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn ipv4_header_known_value() {
        // A textbook IPv4 header whose checksum field holds 0xb861.
        let mut h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(checksum(&h), 0xb861);
        h[10] = 0xb8;
        h[11] = 0x61;
        assert_eq!(checksum(&h), 0);
    }

    #[test]
    fn odd_lengths_match_naive() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1001).collect();
        for len in 0..data.len() {
            assert_eq!(checksum(&data[..len]), naive(&data[..len]), "len {len}");
        }
    }

    #[test]
    fn chaining_even_pieces_equals_whole() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 7 + 3) as u8).collect();
        let whole = fold(sum(&data, 0));
        let chained = fold(sum(&data[1234..], sum(&data[..1234], 0)));
        assert_eq!(whole, chained);
    }

    #[test]
    fn initial_near_u64_max_does_not_overflow() {
        let data = vec![0xFFu8; 3 * BLOCK + 5];
        let _ = fold(sum(&data, u64::MAX));
    }

    #[test]
    fn incremental_matches_recompute() {
        let mut h = [
            0x45u8, 0x00, 0x00, 0x73, 0x12, 0x34, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        let c = checksum(&h);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        for new_id in [0u16, 1, 0x1235, 0xFFFF, 0x8000] {
            let mut g = h;
            g[4..6].copy_from_slice(&new_id.to_be_bytes());
            let inc = incremental_update(c, 0x1234, new_id);
            g[10..12].copy_from_slice(&[0, 0]);
            assert_eq!(inc, checksum(&g), "id {new_id:#x}");
        }
    }

    #[test]
    fn pseudo_headers_match_byte_layout() {
        let src = [10, 0, 0, 1];
        let dst = [192, 168, 1, 200];
        let bytes = [10, 0, 0, 1, 192, 168, 1, 200, 0, 6, 0x05, 0xdc];
        assert_eq!(fold(pseudo_ipv4(src, dst, 6, 1500)), fold(sum(&bytes, 0)));

        let s6 = [0x20u8; 16];
        let d6 = [0xfe; 16];
        let mut b6 = Vec::new();
        b6.extend_from_slice(&s6);
        b6.extend_from_slice(&d6);
        b6.extend_from_slice(&70000u32.to_be_bytes());
        b6.extend_from_slice(&[0, 0, 0, 17]);
        assert_eq!(fold(pseudo_ipv6(s6, d6, 17, 70000)), fold(sum(&b6, 0)));
    }
}
