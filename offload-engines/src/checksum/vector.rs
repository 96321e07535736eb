//! Vector summing of the bulk of a checksum block, chosen at run time by CPU feature.
//!
//! The trick that makes a 16-bit ones'-complement sum cheap on x86 is `pmaddwd`
//! (`madd_epi16`): it multiplies signed 16-bit lanes by 1 and adds neighbouring pairs
//! into 32-bit lanes, widening and reducing in one instruction. The words are unsigned,
//! so each is first biased by flipping its top bit (`w ^ 0x8000 = w - 32768` as `i16`);
//! every pair then sums 65536 too little, and 65536 is added back per pair at the end.
//! Each 32-bit lane gains at most 65536 in magnitude per step, so the signed lane sums
//! are flushed into a 64-bit total every [`STEPS_PER_FLUSH`] steps, well before they
//! could overflow.
//!
//! The sums are of little-endian words, like the scalar path in the parent module, which
//! swaps the folded result back to network order once.

/// Steps (vector loads per accumulator) between flushes: 2^14 steps of at most 2^16
/// each stay below 2^31 in magnitude.
const STEPS_PER_FLUSH: usize = 1 << 14;

/// Sums a prefix of `data` as little-endian 16-bit words with the widest vector unit
/// the CPU has. Returns the (unfolded) sum and how many bytes it covered: all of them
/// with AVX-512, else a multiple of 32 so the caller's scalar tail stays 16-bit
/// aligned; `(0, 0)` when no vector unit is available.
pub(super) fn sum_prefix(data: &[u8]) -> (u64, usize) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512bw") {
            // SAFETY: the CPU supports AVX-512BW, checked just above.
            return unsafe { x86::sum_avx512(data) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { x86::sum_avx2(data) };
        }
    }
    let _ = data;
    (0, 0)
}

#[cfg(target_arch = "x86_64")]
pub(super) mod x86 {
    use super::STEPS_PER_FLUSH;
    use std::arch::x86_64::*;

    /// 64-byte steps with AVX-512BW; the last partial step is a masked load, which
    /// zero-fills the bytes past the end, so this covers all of `data` and the caller
    /// has no scalar tail to sum (on a 1500-byte frame that tail was a fifth of the
    /// time). A zero-filled high byte leaves an odd last byte the low half of its
    /// little-endian word, as the scalar path's zero padding does.
    ///
    /// # Safety
    /// The CPU must support AVX-512BW.
    #[target_feature(enable = "avx512bw,avx512f")]
    pub unsafe fn sum_avx512(data: &[u8]) -> (u64, usize) {
        let full = data.len() / 64;
        let rem = data.len() % 64;
        let bias = _mm512_set1_epi16(i16::MIN);
        let ones = _mm512_set1_epi16(1);
        let pairs = |v: __m512i| _mm512_madd_epi16(_mm512_xor_si512(v, bias), ones);
        let mut total: i64 = 0;
        let mut step = 0;
        loop {
            let end = (step + STEPS_PER_FLUSH).min(full);
            let mut acc = _mm512_setzero_si512();
            while step < end {
                // SAFETY: step < data.len() / 64, so these 64 bytes are inside `data`;
                // loadu has no alignment requirement.
                let v = unsafe { _mm512_loadu_si512(data.as_ptr().add(step * 64).cast()) };
                acc = _mm512_add_epi32(acc, pairs(v));
                step += 1;
            }
            let last = step == full;
            if last && rem != 0 {
                // SAFETY: the mask selects the `rem` bytes from full * 64 on, all inside
                // `data`; masked-off bytes are not read (no fault past the end).
                let v = unsafe {
                    _mm512_maskz_loadu_epi8((1u64 << rem) - 1, data.as_ptr().add(full * 64).cast())
                };
                acc = _mm512_add_epi32(acc, pairs(v));
            }
            // Sign-extend the 16 lanes to 64 bits before adding them up.
            let lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(acc));
            let hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64::<1>(acc));
            total += _mm512_reduce_add_epi64(_mm512_add_epi64(lo, hi));
            if last {
                break;
            }
        }
        // 16 pairs (32 words) per step, the masked one included (its zero words were
        // biased too), each pair 65536 short.
        let steps = full + usize::from(rem != 0);
        let bias_back = (steps as i64) * 16 * 65536;
        ((total + bias_back) as u64, data.len())
    }

    /// 32-byte steps with AVX2, two accumulators so consecutive adds do not wait on
    /// each other. Covers `data.len() / 32 * 32` bytes.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub unsafe fn sum_avx2(data: &[u8]) -> (u64, usize) {
        let steps = data.len() / 32;
        let bias = _mm256_set1_epi16(i16::MIN);
        let ones = _mm256_set1_epi16(1);
        let load = |i: usize| {
            // SAFETY: callers pass i < steps = data.len() / 32, so the 32 bytes at
            // i * 32 are inside `data`; loadu has no alignment requirement.
            let v = unsafe { _mm256_loadu_si256(data.as_ptr().add(i * 32).cast()) };
            _mm256_madd_epi16(_mm256_xor_si256(v, bias), ones)
        };
        let mut total: i64 = 0;
        let mut step = 0;
        while step < steps {
            let end = (step + 2 * STEPS_PER_FLUSH).min(steps);
            let (mut a, mut b) = (_mm256_setzero_si256(), _mm256_setzero_si256());
            while step + 1 < end {
                a = _mm256_add_epi32(a, load(step));
                b = _mm256_add_epi32(b, load(step + 1));
                step += 2;
            }
            if step < end {
                a = _mm256_add_epi32(a, load(step));
                step += 1;
            }
            let mut lanes = [0i32; 16];
            // SAFETY: `lanes` is 64 writable bytes; storeu has no alignment requirement.
            unsafe {
                _mm256_storeu_si256(lanes.as_mut_ptr().cast(), a);
                _mm256_storeu_si256(lanes.as_mut_ptr().add(8).cast(), b);
            }
            total += lanes.iter().map(|&l| i64::from(l)).sum::<i64>();
        }
        // 8 pairs (16 words) per step, each pair 65536 short.
        let bias_back = (steps as i64) * 8 * 65536;
        ((total + bias_back) as u64, steps * 32)
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::x86;

    /// Little-endian 16-bit word sum, unreduced; an odd last byte is the low half of
    /// a zero-padded word.
    fn reference(data: &[u8]) -> u64 {
        data.chunks(2)
            .map(|w| u64::from(u16::from_le_bytes([w[0], w.get(1).copied().unwrap_or(0)])))
            .sum()
    }

    fn patterns() -> Vec<Vec<u8>> {
        let mut out = vec![
            vec![0xFF; 4096],
            vec![0x00; 4096],
            vec![0x80; 4096],
            (0..4096u32).map(|i| (i * 131 + 7) as u8).collect(),
        ];
        // Longer than one flush interval at either width.
        out.push(
            (0..(3 << 20) + 96)
                .map(|i: u32| (i ^ (i >> 9)) as u8)
                .collect(),
        );
        out.push(vec![0xFF; (2 << 20) + 64]);
        out
    }

    /// `covers_all`: the function sums every byte (masked tail) rather than whole
    /// `width`-byte steps only.
    fn check(f: unsafe fn(&[u8]) -> (u64, usize), width: usize, covers_all: bool) {
        for data in patterns() {
            let lens = [
                0,
                1,
                2,
                3,
                width - 1,
                width,
                width + 1,
                width + 2,
                1499,
                1500,
            ];
            for len in lens.into_iter().chain([data.len() - 1, data.len()]) {
                let len = len.min(data.len());
                // SAFETY: only called after the feature check below.
                let (s, covered) = unsafe { f(&data[..len]) };
                let expected = if covers_all { len } else { len / width * width };
                assert_eq!(covered, expected, "len {len}");
                assert_eq!(s, reference(&data[..covered]), "len {len}");
            }
        }
    }

    #[test]
    fn avx2_matches_reference() {
        if std::arch::is_x86_feature_detected!("avx2") {
            check(x86::sum_avx2, 32, false);
        }
    }

    #[test]
    fn avx512_matches_reference() {
        if std::arch::is_x86_feature_detected!("avx512bw") {
            check(x86::sum_avx512, 64, true);
        }
    }
}
