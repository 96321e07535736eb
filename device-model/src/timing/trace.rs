//! `--trace`: one JSON line per packet with its modelled stages.

use std::io::Write;
use std::sync::{Arc, Mutex};

use offload_engines::cost::{Breakdown, Direction};

use super::schedule::Booked;

/// Where trace lines go, shared by the ports of one process.
pub type TraceWriter = Arc<Mutex<dyn Write + Send>>;

pub struct Trace(pub TraceWriter);

impl Trace {
    pub fn packet(&self, queue: usize, len: u64, segments: u64, b: &Breakdown, at: &Booked) {
        let stages: serde_json::Map<String, serde_json::Value> = b
            .stages
            .iter()
            .map(|s| (format!("{:?}", s.stage), s.latency.as_ps().into()))
            .collect();
        let (dir, wire_key) = match b.direction {
            Direction::Tx => ("tx", "departure_ps"),
            Direction::Rx => ("rx", "arrival_ps"),
        };
        let line = serde_json::json!({
            "dir": dir,
            "queue": queue,
            "len": len,
            "segments": segments,
            "start_ps": at.start.as_ps(),
            "stages_ps": stages,
            wire_key: at.wire_end.as_ps(),
            "done_ps": at.done.as_ps(),
        });
        let mut w = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if writeln!(w, "{line}").is_err() {
            tracing::debug!("trace line not written");
        }
    }
}
