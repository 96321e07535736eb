//! QEMU `-netdev stream` framing over a unix socket: 4-byte big-endian length, then the frame.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::{Arc, Mutex};

use crossbeam_channel::Sender;
use device_model::FrameSink;

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
}

impl StreamSink {
    fn new(conn: Arc<Mutex<Option<UnixStream>>>) -> std::io::Result<Self> {
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
        Ok(Self { tx })
    }
}

impl FrameSink for StreamSink {
    fn transmit(&mut self, frame: &[u8]) {
        let mut buf = Vec::with_capacity(4 + frame.len());
        buf.extend_from_slice(&(frame.len() as u32).to_be_bytes());
        buf.extend_from_slice(frame);
        let _ = self.tx.try_send(buf);
    }
}

fn read_frames(mut s: UnixStream, rx: &Sender<Frame>) {
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
        // A full receive queue drops the frame, as a NIC's FIFO would.
        let _ = rx.try_send(f);
    }
}

/// Connects to a listening peer (QEMU `-netdev stream,server=on` or another tunic).
pub fn connect(path: &Path, rx: Sender<Frame>) -> anyhow::Result<Box<dyn FrameSink>> {
    let s = UnixStream::connect(path)
        .map_err(|e| anyhow::anyhow!("cannot connect to {}: {e}", path.display()))?;
    let reader = s.try_clone()?;
    let conn = Arc::new(Mutex::new(Some(s)));
    std::thread::Builder::new()
        .name("tunic-stream-rx".into())
        .spawn(move || read_frames(reader, &rx))?;
    Ok(Box::new(StreamSink::new(conn)?))
}

/// Listens for one peer at a time; a new peer replaces the old one.
pub fn listen(path: &Path, rx: Sender<Frame>) -> anyhow::Result<Box<dyn FrameSink>> {
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
    std::thread::Builder::new()
        .name("tunic-stream-accept".into())
        .spawn(move || {
            for s in l.incoming().flatten() {
                let Ok(reader) = s.try_clone() else { continue };
                *c2.lock().unwrap_or_else(|e| e.into_inner()) = Some(s);
                read_frames(reader, &rx);
            }
        })?;
    Ok(Box::new(StreamSink::new(conn)?))
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
        let mut a = listen(&dir, atx).unwrap();
        let mut b = connect(&dir, btx).unwrap();
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
}
