//! QEMU `-netdev stream` framing over a unix socket: 4-byte big-endian length, then the frame.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use crossbeam_channel::Sender;
use device_model::FrameSink;

use super::channel::WireCounters;
use super::Frame;

/// Longest frame accepted from a peer; anything longer ends the connection.
const MAX_FRAME: usize = 65536;

/// Frames waiting for a slow stream peer; past this they are dropped, as a
/// full wire would, instead of stalling the device.
const TX_QUEUE_FRAMES: usize = 1024;

/// Transmits to whichever stream is connected now, through a writer thread so
/// that a peer that stops reading never blocks the device.
pub struct StreamSink {
    tx: crossbeam_channel::Sender<Vec<u8>>,
    counters: Arc<WireCounters>,
}

impl StreamSink {
    fn new(
        conn: Arc<Mutex<Option<UnixStream>>>,
        counters: Arc<WireCounters>,
    ) -> std::io::Result<Self> {
        let (tx, rx) = crossbeam_channel::bounded::<Vec<u8>>(TX_QUEUE_FRAMES);
        std::thread::Builder::new()
            .name("tunic-stream-tx".into())
            .spawn(move || {
                for buf in rx {
                    let mut guard = conn.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some(s) = guard.as_mut() {
                        if let Err(e) = s.write_all(&buf) {
                            tracing::warn!(error = %e, "stream peer gone");
                            *guard = None;
                        }
                    }
                }
            })?;
        Ok(Self { tx, counters })
    }
}

impl FrameSink for StreamSink {
    fn transmit(&mut self, frame: &[u8]) {
        let mut buf = Vec::with_capacity(4 + frame.len());
        buf.extend_from_slice(&(frame.len() as u32).to_be_bytes());
        buf.extend_from_slice(frame);
        // A peer that stops reading fills the queue: the frame is lost, and counted.
        if self.tx.try_send(buf).is_err() {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn read_frames(mut s: UnixStream, rx: &Sender<Frame>, counters: &WireCounters) {
    let mut len = [0u8; 4];
    loop {
        if s.read_exact(&mut len).is_err() {
            return;
        }
        let n = u32::from_be_bytes(len) as usize;
        if n > MAX_FRAME {
            tracing::warn!(
                len = n,
                "stream peer sent an oversized frame: disconnecting"
            );
            return;
        }
        let mut f = vec![0u8; n];
        if s.read_exact(&mut f).is_err() {
            return;
        }
        // A full receive queue drops the frame, as a NIC's FIFO would, and counts it.
        if rx.try_send(f).is_err() {
            counters.rx_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Connects to a listening peer (QEMU `-netdev stream,server=on` or another tunic).
pub fn connect(
    path: &Path,
    rx: Sender<Frame>,
    counters: Arc<WireCounters>,
) -> anyhow::Result<Box<dyn FrameSink>> {
    let s = UnixStream::connect(path)
        .map_err(|e| anyhow::anyhow!("cannot connect to {}: {e}", path.display()))?;
    let reader = s.try_clone()?;
    let conn = Arc::new(Mutex::new(Some(s)));
    let c = counters.clone();
    std::thread::Builder::new()
        .name("tunic-stream-rx".into())
        .spawn(move || read_frames(reader, &rx, &c))?;
    Ok(Box::new(StreamSink::new(conn, counters)?))
}

/// Listens for one peer at a time; a new peer replaces the old one.
pub fn listen(
    path: &Path,
    rx: Sender<Frame>,
    counters: Arc<WireCounters>,
) -> anyhow::Result<Box<dyn FrameSink>> {
    if path.exists() {
        anyhow::bail!(
            "{} already exists: remove it or pick another path",
            path.display()
        );
    }
    let l = UnixListener::bind(path)
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", path.display()))?;
    let conn = Arc::new(Mutex::new(None));
    let c2 = conn.clone();
    let rx_counters = counters.clone();
    std::thread::Builder::new()
        .name("tunic-stream-accept".into())
        .spawn(move || {
            for s in l.incoming().flatten() {
                let Ok(reader) = s.try_clone() else { continue };
                *c2.lock().unwrap_or_else(|e| e.into_inner()) = Some(s);
                read_frames(reader, &rx, &rx_counters);
            }
        })?;
    Ok(Box::new(StreamSink::new(conn, counters)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_cross_a_stream_pair_with_qemu_framing() {
        let dir = std::env::temp_dir().join(format!("tunic-stream-{}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        let (atx, arx) = crossbeam_channel::bounded(16);
        let (btx, brx) = crossbeam_channel::bounded(16);
        let mut a = listen(&dir, atx, Arc::default()).unwrap();
        let mut b = connect(&dir, btx, Arc::default()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        b.transmit(b"hello from b");
        assert_eq!(
            arx.recv_timeout(std::time::Duration::from_secs(2)).unwrap(),
            b"hello from b"
        );
        a.transmit(b"and back");
        assert_eq!(
            brx.recv_timeout(std::time::Duration::from_secs(2)).unwrap(),
            b"and back"
        );
        let _ = std::fs::remove_file(&dir);
    }

    #[test]
    fn a_peer_that_stops_reading_costs_counted_frames_only() {
        let path = std::env::temp_dir().join(format!("tunic-stream-stall-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        // The peer accepts and never reads; its socket buffer and tunic's queue fill.
        let listener = UnixListener::bind(&path).unwrap();
        let (tx, _rx) = crossbeam_channel::bounded(1);
        let counters = Arc::new(WireCounters::default());
        let mut sink = connect(&path, tx, counters.clone()).unwrap();
        let _peer = listener.accept().unwrap();
        let frame = vec![0u8; 1500];
        let sent = 20_000u64;
        for _ in 0..sent {
            sink.transmit(&frame);
        }
        let dropped = counters.dropped.load(Ordering::Relaxed);
        assert!(
            dropped > 0,
            "20000 frames cannot fit a stalled peer's buffers"
        );
        assert!(dropped < sent, "the queue and the socket buffer hold some");
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn frames_a_full_receive_queue_cannot_take_are_counted() {
        let path = std::env::temp_dir().join(format!("tunic-stream-rxfull-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let (tx, rx) = crossbeam_channel::bounded(2);
        let counters = Arc::new(WireCounters::default());
        let _sink = listen(&path, tx, counters.clone()).unwrap();
        let mut peer = UnixStream::connect(&path).unwrap();
        for _ in 0..10 {
            peer.write_all(&[0, 0, 0, 60]).unwrap();
            peer.write_all(&[7u8; 60]).unwrap();
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while counters.rx_dropped.load(Ordering::Relaxed) < 8
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(rx.len(), 2);
        assert_eq!(counters.rx_dropped.load(Ordering::Relaxed), 8);
        let _ = std::fs::remove_file(&path);
    }
}
