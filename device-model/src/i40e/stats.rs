//! The port and VSI statistics registers `ethtool -S` reads (GLPRT_*, GLV_*).

/// Statistics counters, read through their registers.
#[derive(Debug, Default)]
pub struct Stats {}

impl Stats {
    /// The value of a statistics register, or `None` when `off` is not one.
    pub fn read(&self, _off: u32) -> Option<u32> {
        None
    }
}
