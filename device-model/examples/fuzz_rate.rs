//! Runs the stored corpus of a whole-device fuzz target (and random mutations of it)
//! through its entry point for a few seconds and prints inputs per second: the
//! figure `docs/reliability.md` quotes, without cargo-fuzz.
//!
//! `cargo run --release -p device-model --features fuzzing --example fuzz_rate -- i40e_ops [SECONDS [CORPUS_DIR]]`
//!
//! CORPUS_DIR (default: the target's seeds in `testvectors/fuzz-corpus/`) can be a
//! campaign's grown corpus, `fuzz/corpus/TARGET`, whose inputs are what libFuzzer runs.

use std::time::{Duration, Instant};

fn main() {
    let target = std::env::args().nth(1).unwrap_or_else(|| "i40e_ops".into());
    let seconds: u64 = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let run: fn(&[u8]) = match target.as_str() {
        "igb_ops" => device_model::fuzzing::run_ops_reused,
        "virtio_ops" => device_model::fuzzing::virtio::run_virtio_ops_reused,
        "i40e_ops" => device_model::fuzzing::i40e::run_i40e_ops_reused,
        // The same inputs on a device built per input: the reuse's baseline.
        "i40e_ops_fresh" => |d| {
            device_model::fuzzing::i40e::run_i40e_ops(d);
        },
        other => {
            eprintln!("unknown target {other}: igb_ops, virtio_ops, i40e_ops or i40e_ops_fresh");
            std::process::exit(2);
        }
    };
    let dir = std::env::args().nth(3).map_or_else(
        || {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../testvectors/fuzz-corpus")
                .join(target.trim_end_matches("_fresh"))
        },
        std::path::PathBuf::from,
    );
    let mut corpus: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| std::fs::read(e.ok()?.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    if corpus.is_empty() {
        corpus.push(vec![0; 64]);
    }
    // A small deterministic mutator: flip a byte of a corpus entry per run.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut runs = 0u64;
    let start = Instant::now();
    while Instant::now() < deadline {
        let mut input = corpus[(next() as usize) % corpus.len()].clone();
        if !input.is_empty() {
            let i = (next() as usize) % input.len();
            input[i] ^= next() as u8;
        }
        run(&input);
        runs += 1;
    }
    let rate = runs as f64 / start.elapsed().as_secs_f64();
    println!("{target}: {runs} inputs in {seconds} s, {rate:.0} per second");
}
