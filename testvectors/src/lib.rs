//! Reference frames for tunic's offload engines, built with etherparse (an
//! implementation independent of `offload-engines`), and a decoder that turns emitted
//! segments into plain, snapshot-friendly fields with checksum verdicts computed by
//! etherparse.
//!
//! GRE is not something etherparse knows, so its few bytes are laid out here by hand;
//! everything inside and around it goes through etherparse's header types.

pub mod build;
pub mod decode;
pub mod ones;
pub mod rss_vectors;
