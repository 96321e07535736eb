//! At most one log line per cause per port a second, wherever the line comes from
//! (debug and trace lines, asked for: a bounded burst a second).
//!
//! A guest, a vfio-user client or a wire peer can repeat a mistake thousands of
//! times a second, and every mistake has a `tracing` line; unlimited, that fills a
//! CI runner's disk. This layer lets one event per (call site, thread) through each
//! second. Each port's work runs on its own threads (its vfio-user connection, its
//! receive worker), so a thread stands for a port. The counters keep the exact
//! totals; when a call site speaks again after being held back, a line first says
//! how many of its events were suppressed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use tracing::callsite::Identifier;
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// One line per cause per port within this interval.
const INTERVAL: Duration = Duration::from_secs(1);
/// Debug and trace lines a cause may log per port within the interval. They are off
/// unless asked for (-v, -vv, RUST_LOG), and whoever asks follows a sequence (igb's
/// ICS writes and ICR reads, dozens in a self-test's second) that one line a second
/// would hide; a hostile guest still cannot make them unbounded.
const TRACE_LINES_PER_INTERVAL: u32 = 1000;
/// Causes tracked at once; beyond that the table starts afresh (a bound on memory
/// whatever the number of connections that come and go).
const MAX_CAUSES: usize = 4096;

#[derive(Default)]
struct Cause {
    /// When this cause's current interval began, and how many lines it let through.
    window: Option<(Instant, u32)>,
    suppressed: u64,
}

/// The `tracing` layer that holds back repeated events.
#[derive(Default)]
pub struct LogLimit {
    causes: Mutex<HashMap<(Identifier, ThreadId), Cause>>,
}

impl LogLimit {
    /// `Some(n)`: let the event through, `n` events of its cause having been held
    /// back since the last one; `None`: hold it back. A cause gets `budget` lines per
    /// interval.
    fn admit(&self, key: (Identifier, ThreadId), now: Instant, budget: u32) -> Option<u64> {
        let mut causes = self.causes.lock().unwrap_or_else(|e| e.into_inner());
        if causes.len() >= MAX_CAUSES && !causes.contains_key(&key) {
            causes.clear();
        }
        let cause = causes.entry(key).or_default();
        match &mut cause.window {
            Some((start, _)) if now.duration_since(*start) >= INTERVAL => {
                cause.window = Some((now, 1));
            }
            Some((_, admitted)) if *admitted >= budget => {
                cause.suppressed += 1;
                return None;
            }
            Some((_, admitted)) => *admitted += 1,
            None => cause.window = Some((now, 1)),
        }
        Some(std::mem::take(&mut cause.suppressed))
    }
}

impl<S: Subscriber> Layer<S> for LogLimit {
    fn event_enabled(&self, event: &Event<'_>, _cx: Context<'_, S>) -> bool {
        let meta = event.metadata();
        let budget = if *meta.level() > tracing::Level::INFO {
            TRACE_LINES_PER_INTERVAL
        } else {
            1
        };
        let key = (meta.callsite(), std::thread::current().id());
        match self.admit(key, Instant::now(), budget) {
            None => false,
            Some(0) => true,
            Some(n) => {
                // Said from this layer's own call site, which is limited like any other.
                tracing::warn!(
                    suppressed = n,
                    cause = meta.name(),
                    target = meta.target(),
                    "repeated log lines suppressed in the last second (the counters have them all)"
                );
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::Arc;
    use tracing_subscriber::layer::SubscriberExt;

    /// Log output collected in memory.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn captured_lines(run: impl FnOnce()) -> Vec<String> {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::registry()
            .with(LogLimit::default())
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(move || writer.clone()),
            );
        tracing::subscriber::with_default(subscriber, run);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        text.lines().map(str::to_string).collect()
    }

    #[test]
    fn a_flood_from_one_cause_is_one_line() {
        let lines = captured_lines(|| {
            for i in 0..10_000 {
                tracing::warn!(i, "guest did something odd");
            }
        });
        assert_eq!(lines.len(), 1, "{lines:?}");
    }

    #[test]
    fn debug_and_trace_lines_asked_for_get_a_bounded_burst() {
        let lines = captured_lines(|| {
            for i in 0..100 {
                tracing::debug!(i, "a step being traced");
                tracing::trace!(i, "a finer step");
            }
        });
        assert_eq!(lines.len(), 200, "{lines:?}");
        let flood = captured_lines(|| {
            for i in 0..(3 * TRACE_LINES_PER_INTERVAL) {
                tracing::debug!(i, "a guest repeating itself");
            }
        });
        assert_eq!(flood.len(), TRACE_LINES_PER_INTERVAL as usize);
    }

    #[test]
    fn different_causes_each_get_their_line() {
        let lines = captured_lines(|| {
            for _ in 0..100 {
                tracing::warn!("first cause");
                tracing::warn!("second cause");
            }
        });
        assert_eq!(lines.len(), 2, "{lines:?}");
    }

    #[test]
    fn each_thread_is_limited_on_its_own() {
        let lines = captured_lines(|| {
            let dispatch = tracing::dispatcher::get_default(|d| d.clone());
            let emit = move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    for _ in 0..100 {
                        tracing::warn!("per port");
                    }
                })
            };
            let (a, b) = (emit.clone(), emit);
            std::thread::spawn(a).join().unwrap();
            std::thread::spawn(b).join().unwrap();
        });
        assert_eq!(lines.len(), 2, "{lines:?}");
    }

    #[test]
    fn the_next_line_after_a_quiet_second_says_how_many_were_held_back() {
        let limit = LogLimit::default();
        let key = (
            tracing::callsite::Identifier(&CALLSITE),
            std::thread::current().id(),
        );
        let t0 = Instant::now();
        assert_eq!(limit.admit(key.clone(), t0, 1), Some(0));
        for _ in 0..41 {
            assert_eq!(
                limit.admit(key.clone(), t0 + Duration::from_millis(10), 1),
                None
            );
        }
        assert_eq!(limit.admit(key, t0 + INTERVAL, 1), Some(41));
    }

    #[test]
    fn the_table_of_causes_is_bounded() {
        let limit = LogLimit::default();
        let t0 = Instant::now();
        let threads: Vec<ThreadId> = (0..MAX_CAUSES + 10)
            .map(|_| {
                std::thread::spawn(|| std::thread::current().id())
                    .join()
                    .unwrap()
            })
            .collect();
        for id in threads {
            limit.admit((tracing::callsite::Identifier(&CALLSITE), id), t0, 1);
        }
        assert!(limit.causes.lock().unwrap().len() <= MAX_CAUSES);
    }

    struct TestCallsite;
    static CALLSITE: TestCallsite = TestCallsite;
    impl tracing::callsite::Callsite for TestCallsite {
        fn set_interest(&self, _: tracing::subscriber::Interest) {}
        fn metadata(&self) -> &tracing::Metadata<'_> {
            unimplemented!("never registered")
        }
    }
}
