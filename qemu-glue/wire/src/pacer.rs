//! Paced mode: frames leave for the wire at their modelled departure times.
//!
//! One thread holds the frames in a deadline queue and sleeps until the earliest
//! is due: the only place tunic waits for model time. Bytes waiting here are the
//! device's Tx packet buffer ([`Backlog`]); when releasing frames drains it below
//! its limit while the device is stopped, the pacer kicks the port.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use device_model::timing::Backlog;
use device_model::FrameSink;
use offload_engines::cost::{EventQueue, Picos};

use super::Frame;

/// The device's end: queues frames for the pacer thread.
pub struct PacedSink {
    tx: Sender<(Picos, Frame)>,
}

impl FrameSink for PacedSink {
    fn transmit(&mut self, frame: &[u8]) {
        // An untimed frame is due at once.
        self.transmit_at(frame, Picos::ZERO);
    }

    fn transmit_at(&mut self, frame: &[u8], departure: Picos) {
        let _ = self.tx.send((departure, frame.to_vec()));
    }
}

/// Model time `at` as an instant.
pub fn instant_of(epoch: Instant, at: Picos) -> Instant {
    epoch + Duration::from_nanos(at.as_ps() / 1000)
}

/// How soon the pacer looks again at a wire that had no room.
const WIRE_RETRY: Duration = Duration::from_millis(1);

fn model_now(epoch: Instant) -> Picos {
    Picos(u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX / 1000) * 1000)
}

/// Starts the pacer in front of `wire`; `kick` is signalled when a stopped device
/// may go on.
pub fn start(
    wire: Box<dyn FrameSink>,
    epoch: Instant,
    backlog: Arc<Backlog>,
    kick: Sender<()>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<PacedSink> {
    let (tx, rx) = crossbeam_channel::unbounded();
    std::thread::Builder::new()
        .name("tunic-pacer".into())
        .spawn(move || run(wire, &rx, epoch, &backlog, &kick, &stop))?;
    Ok(PacedSink { tx })
}

fn run(
    mut wire: Box<dyn FrameSink>,
    rx: &Receiver<(Picos, Frame)>,
    epoch: Instant,
    backlog: &Backlog,
    kick: &Sender<()>,
    stop: &AtomicBool,
) {
    let idle = Duration::from_millis(200);
    let mut due: EventQueue<Frame> = EventQueue::new();
    while !stop.load(Ordering::Relaxed) {
        // A wire with no room (its receiver paused us) holds due frames here; the
        // pacer looks again shortly, and the device stays stopped on its backlog.
        let deadline = match due.next_deadline() {
            Some(_) if !wire.has_room() => Instant::now() + WIRE_RETRY,
            Some(at) => instant_of(epoch, at),
            None => Instant::now() + idle,
        };
        match rx.recv_deadline(deadline) {
            Ok((at, frame)) => {
                due.schedule(at, frame);
                // Take everything already queued before deciding how long to sleep.
                while let Ok((at, frame)) = rx.try_recv() {
                    due.schedule(at, frame);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) if due.is_empty() => return,
            Err(RecvTimeoutError::Disconnected) => {
                std::thread::sleep(deadline.saturating_duration_since(Instant::now()))
            }
        }
        let now = model_now(epoch);
        while wire.has_room() {
            let Some((_, frame)) = due.pop_due(now) else {
                break;
            };
            wire.transmit(&frame);
            if backlog.release(frame.len() as u64) {
                let _ = kick.try_send(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn releases_frames_at_their_times_and_kicks_when_drained() {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let s2 = sent.clone();
        let epoch = Instant::now();
        let backlog = Arc::new(Backlog::new(100));
        let (kick_tx, kick_rx) = crossbeam_channel::bounded(1);
        let stop = Arc::new(AtomicBool::new(false));
        let mut sink = start(
            Box::new(move |f: &[u8]| s2.lock().unwrap().push((f.len(), epoch.elapsed()))),
            epoch,
            backlog.clone(),
            kick_tx,
            stop.clone(),
        )
        .unwrap();
        backlog.add(200);
        assert!(backlog.must_stop(0));
        sink.transmit_at(&[0; 150], Picos::from_us(30_000));
        sink.transmit_at(&[0; 50], Picos::from_us(10_000));
        kick_rx.recv_timeout(Duration::from_secs(2)).unwrap();
        let sent = sent.lock().unwrap().clone();
        stop.store(true, Ordering::Relaxed);
        assert_eq!(sent[0].0, 50, "earliest departure first");
        assert!(sent[0].1 >= Duration::from_millis(10));
        assert!(sent[1].1 >= Duration::from_millis(30));
        assert_eq!(backlog.queued(), 0);
    }
}
