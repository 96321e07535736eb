//! tunic-suites: the suites that boot a guest on tunic NICs, and their verdicts.
//! Each suite declares the cases it must report; a verdict comes from a check
//! that could have failed (`checks`), with the counter deltas it used
//! (`evidence`).
pub mod bench;
pub mod bench_timing;
pub mod checks;
pub mod conformance;
pub mod demo;
pub mod differential;
pub mod dpdk;
pub mod dpdk_lso;
pub mod evidence;
pub mod expected;
pub mod ktap;
pub mod reliability;
pub mod report;
pub mod selftests;
pub mod shard;
pub mod switch;
pub mod timing_check;
