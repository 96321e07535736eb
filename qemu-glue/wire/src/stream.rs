//! QEMU `-netdev stream` framing over a unix socket: 4-byte big-endian length, then the frame.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use std::time::Duration;

use crossbeam_channel::{SendTimeoutError, Sender};
use device_model::{FrameSink, RoomKick};

use super::channel::{WireCounters, WireGate, WIRE_BYTES};
use super::Frame;

/// Longest frame accepted from a peer; anything longer ends the connection.
const MAX_FRAME: usize = 65536;

/// Frames waiting for a slow stream peer. The device stops its Tx queues once
/// [`WIRE_BYTES`] wait (back-pressure); only a sender that ignores that (none of
/// tunic's devices) can fill the queue, and what it then loses is counted.
const TX_QUEUE_FRAMES: usize = 1024;

/// How long a frame from the peer may wait for room in the port's receive queue
/// (the port holds its wire while it has asked for a pause): the socket pushes
/// back on the peer meanwhile. Past it the frame is dropped and counted, so a port
/// that stays stopped cannot wedge the connection.
const RX_WAIT: Duration = Duration::from_millis(200);

/// Transmits to whichever stream is connected now, through a writer thread so
/// that a peer that stops reading never blocks the device: the device's queues
/// stop instead, through the gate, and go on when the writer catches up.
pub struct StreamSink {
    tx: crossbeam_channel::Sender<Vec<u8>>,
    counters: Arc<WireCounters>,
    gate: Arc<WireGate>,
}

impl StreamSink {
    fn new(
        conn: Arc<Mutex<Option<UnixStream>>>,
        counters: Arc<WireCounters>,
    ) -> std::io::Result<Self> {
        let (tx, rx) = crossbeam_channel::bounded::<Vec<u8>>(TX_QUEUE_FRAMES);
        let gate = WireGate::new(WIRE_BYTES);
        let written = gate.clone();
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
                    drop(guard);
                    written.taken(buf.len() - 4);
                }
            })?;
        Ok(Self { tx, counters, gate })
    }
}

impl FrameSink for StreamSink {
    fn transmit(&mut self, frame: &[u8]) {
        let mut buf = Vec::with_capacity(4 + frame.len());
        buf.extend_from_slice(&(frame.len() as u32).to_be_bytes());
        buf.extend_from_slice(frame);
        // Only a sender that ignored `has_room` can find the queue full: counted.
        if self.tx.try_send(buf).is_err() {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            self.gate.sent(frame.len());
        }
    }

    fn has_room(&self) -> bool {
        self.gate.has_room()
    }

    fn on_room(&mut self, kick: RoomKick) {
        self.gate.on_room(kick);
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
        // A full receive queue makes the peer wait (the socket fills and pushes
        // back); one that stays full drops the frame, and counts it.
        match rx.send_timeout(f, RX_WAIT) {
            Ok(()) => {}
            Err(SendTimeoutError::Timeout(_)) => {
                counters.rx_dropped.fetch_add(1, Ordering::Relaxed);
            }
            Err(SendTimeoutError::Disconnected(_)) => return,
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

    /// A device that asks before each packet, as tunic's do, stops when the peer
    /// stops reading and loses nothing; it is kicked when the peer reads again.
    #[test]
    fn a_peer_that_stops_reading_stops_the_sender_and_costs_nothing() {
        let path = std::env::temp_dir().join(format!("tunic-stream-push-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let (tx, _rx) = crossbeam_channel::bounded(1);
        let counters = Arc::new(WireCounters::default());
        let mut sink = connect(&path, tx, counters.clone()).unwrap();
        let (kick_tx, kick_rx) = crossbeam_channel::bounded::<()>(1);
        sink.on_room(Arc::new(move || {
            let _ = kick_tx.try_send(());
        }));
        let (mut peer, _) = listener.accept().unwrap();
        let frame = vec![0u8; 1500];
        let mut sent = 0u64;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        // Keep sending while there is room; the socket buffer fills, then the gate.
        while std::time::Instant::now() < deadline {
            if sink.has_room() {
                sink.transmit(&frame);
                sent += 1;
            } else if kick_rx
                .recv_timeout(std::time::Duration::from_millis(200))
                .is_err()
            {
                break;
            }
        }
        assert!(!sink.has_room(), "a peer that never reads stops the sender");
        assert_eq!(counters.dropped.load(Ordering::Relaxed), 0);
        // The peer reads everything: the sender is kicked and every frame arrives.
        let reader = std::thread::spawn(move || {
            let mut buf = vec![0u8; 1504];
            let mut got = 0u64;
            while got < sent && peer.read_exact(&mut buf).is_ok() {
                got += 1;
            }
            got
        });
        assert!(kick_rx
            .recv_timeout(std::time::Duration::from_secs(5))
            .is_ok());
        assert_eq!(reader.join().unwrap(), sent);
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
