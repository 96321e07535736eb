//! Records a port's traffic, both directions, into a pcap file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use device_model::FrameSink;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::DataLink;

/// A pcap file shared by a port's transmit sink and its receive worker.
#[derive(Clone)]
pub struct PcapRecorder {
    writer: Arc<Mutex<(PcapWriter<SharedFile>, Instant)>>,
    file: SharedFile,
}

/// The buffered file under the pcap writer, reachable for flushing.
#[derive(Clone)]
struct SharedFile(Arc<Mutex<BufWriter<File>>>);

impl Write for SharedFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).flush()
    }
}

impl PcapRecorder {
    pub fn create(path: &Path) -> anyhow::Result<Self> {
        let f = File::create(path)
            .map_err(|e| anyhow::anyhow!("cannot create pcap {}: {e}", path.display()))?;
        let header = PcapHeader {
            datalink: DataLink::ETHERNET,
            snaplen: 65535,
            ..Default::default()
        };
        let file = SharedFile(Arc::new(Mutex::new(BufWriter::new(f))));
        let writer = PcapWriter::with_header(file.clone(), header)?;
        Ok(Self {
            writer: Arc::new(Mutex::new((writer, Instant::now()))),
            file,
        })
    }

    pub fn record(&self, frame: &[u8]) {
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        let pkt = PcapPacket::new(ts, frame.len() as u32, frame);
        let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = w.0.write_packet(&pkt) {
            tracing::warn!(error = %e, "pcap write failed");
        }
        // Keep the file readable while tunic runs: flush at most every 100 ms.
        if w.1.elapsed() > Duration::from_millis(100) {
            w.1 = Instant::now();
            drop(w);
            self.flush();
        }
    }

    pub fn flush(&self) {
        let _ = self.file.clone().flush();
    }
}

/// A transmit sink that records, then passes the frame on.
pub struct RecordingSink {
    pub inner: Box<dyn FrameSink>,
    pub pcap: PcapRecorder,
}

impl FrameSink for RecordingSink {
    fn transmit(&mut self, frame: &[u8]) {
        self.pcap.record(frame);
        self.inner.transmit(frame);
    }
}
