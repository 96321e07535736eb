//! Pure packet logic behind tunic's NIC offloads.
//!
//! Everything here works on byte slices the caller owns: no I/O, no threads, no global
//! state beyond a reusable scratch buffer that the caller holds. Guest-controlled bytes
//! and descriptor fields reach these functions unchecked, so every entry point returns
//! a structured error or a "cannot tell" verdict instead of panicking, and no allocation
//! is sized from a number the guest wrote (only from the frame it handed over).
//!
//! Requirement identifiers (R-n) refer to `shared/nvgre-offload-requirements.md`.

pub mod caps;
pub mod checksum;
pub mod cost;
pub mod parse;
pub mod rss;
pub mod rxcsum;
pub mod segment;
pub mod txcsum;
pub mod vmq;
mod wire;
