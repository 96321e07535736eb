//! The optimised checksum against a word-at-a-time reference.

use offload_engines::checksum::{checksum, fold, incremental_update, sum};
use proptest::prelude::*;

fn naive_fold(data: &[u8], init: u32) -> u16 {
    let mut acc = init;
    for pair in data.chunks(2) {
        acc += u32::from(u16::from_be_bytes([
            pair[0],
            pair.get(1).copied().unwrap_or(0),
        ]));
        acc = (acc & 0xFFFF) + (acc >> 16);
    }
    acc as u16
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn sum_matches_reference(data in proptest::collection::vec(any::<u8>(), 0..4096), init in any::<u16>()) {
        prop_assert_eq!(fold(sum(&data, u64::from(init))), naive_fold(&data, u32::from(init)));
        prop_assert_eq!(checksum(&data), !naive_fold(&data, 0));
    }

    #[test]
    fn split_at_even_boundary_is_associative(data in proptest::collection::vec(any::<u8>(), 0..2048), cut in 0usize..1024) {
        let cut = (cut * 2).min(data.len() & !1);
        let chained = sum(&data[cut..], sum(&data[..cut], 0));
        prop_assert_eq!(fold(chained), fold(sum(&data, 0)));
    }

    #[test]
    fn incremental_update_matches_recompute(mut words in proptest::collection::vec(any::<u16>(), 10..30), idx in 0usize..9, new in any::<u16>()) {
        // Word 0 non-zero, like a real header's version/length word.
        words[0] |= 0x4000;
        let bytes = |w: &[u16]| w.iter().flat_map(|x| x.to_be_bytes()).collect::<Vec<u8>>();
        let c = checksum(&bytes(&words));
        let old = words[idx + 1];
        words[idx + 1] = new;
        prop_assert_eq!(incremental_update(c, old, new), checksum(&bytes(&words)));
    }
}
