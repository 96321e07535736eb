//! At most one log line per cause per second: a guest that repeats a mistake
//! thousands of times a second must not fill the log. The counters keep the
//! exact totals; the line that is let through says how many were suppressed.

use std::time::{Duration, Instant};

const INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Default, Clone)]
pub struct RateLimit {
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimit {
    /// `Some(n)` when a line may be logged now, `n` being the lines suppressed
    /// since the last one; `None` to stay quiet.
    pub fn allow(&mut self) -> Option<u64> {
        let now = Instant::now();
        match self.last {
            Some(t) if now.duration_since(t) < INTERVAL => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_a_second_with_the_suppressed_count() {
        let mut r = RateLimit::default();
        assert_eq!(r.allow(), Some(0));
        for _ in 0..1000 {
            assert_eq!(r.allow(), None);
        }
        r.last = Some(Instant::now() - INTERVAL);
        assert_eq!(r.allow(), Some(1000));
    }
}
