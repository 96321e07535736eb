//! Records a port's traffic, both directions, into pcap files.
//!
//! Two modes:
//! - one file for everything (`tunic serve --pcap FILE`);
//! - case windows (`PcapRecorder::windows`): nothing is recorded until a marker
//!   frame (EtherType 0x88B5, IEEE "local experimental", payload
//!   `tunic:pcap=NAME`) passes the port; traffic after it goes to
//!   `DIR/PREFIX-NAME.pcap` until the next marker (`tunic:pcap=off` stops).
//!   The conformance suite's guest sends these markers between cases, so each
//!   case's wire output lands in its own capture for the oracles.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use device_model::FrameSink;
use offload_engines::cost::Picos;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::DataLink;

/// A capture window stops recording past this size, so a long iperf3 run cannot fill the disk.
const WINDOW_LIMIT: u64 = 256 << 20;

enum Mode {
    Single,
    Windows { dir: PathBuf, prefix: String },
}

/// The buffered file under a pcap writer, reachable for flushing.
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

struct Writer {
    pcap: PcapWriter<SharedFile>,
    file: SharedFile,
}

struct State {
    mode: Mode,
    writer: Option<Writer>,
    /// The name of the window being recorded.
    open: Option<String>,
    written: u64,
    limit: u64,
}

/// A pcap recorder shared by a port's transmit sink and its receive worker.
#[derive(Clone)]
pub struct PcapRecorder {
    state: Arc<Mutex<State>>,
}

fn open(path: &Path) -> anyhow::Result<Writer> {
    let f = File::create(path)
        .map_err(|e| anyhow::anyhow!("cannot create pcap {}: {e}", path.display()))?;
    let header = PcapHeader {
        datalink: DataLink::ETHERNET,
        snaplen: 65535,
        ..Default::default()
    };
    let file = SharedFile(Arc::new(Mutex::new(BufWriter::new(f))));
    Ok(Writer {
        pcap: PcapWriter::with_header(file.clone(), header)?,
        file,
    })
}

impl PcapRecorder {
    /// Everything the port sends and receives, in one file.
    pub fn create(path: &Path) -> anyhow::Result<Self> {
        let writer = Some(open(path)?);
        Ok(Self::with(State {
            mode: Mode::Single,
            writer,
            open: None,
            written: 0,
            limit: u64::MAX,
        }))
    }

    /// Case windows opened by marker frames, as `dir/prefix-NAME.pcap`.
    pub fn windows(dir: &Path, prefix: &str) -> Self {
        let mode = Mode::Windows {
            dir: dir.to_path_buf(),
            prefix: prefix.to_string(),
        };
        Self::with(State {
            mode,
            writer: None,
            open: None,
            written: 0,
            limit: WINDOW_LIMIT,
        })
    }

    fn with(state: State) -> Self {
        Self {
            state: Arc::new(Mutex::new(state)),
        }
    }

    /// Records `frame` at `at` (time since the Unix epoch), or at the wall time now.
    pub fn record(&self, frame: &[u8], at: Option<Duration>) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let (Some(("pcap", name)), Mode::Windows { dir, prefix }) =
            (super::marker::parse(frame), &s.mode)
        {
            // The same marker again (a peer that echoes frames, such as a forwarding
            // testpmd, returns it) continues the window instead of truncating it.
            if s.open.as_deref() == Some(name) {
                return;
            }
            let path = dir.join(format!("{prefix}-{name}.pcap"));
            s.open = (name != "off").then(|| name.to_string());
            if let Some(mut w) = s.writer.take() {
                let _ = w.file.flush();
            }
            s.written = 0;
            if name != "off" {
                match open(&path) {
                    Ok(w) => s.writer = Some(w),
                    Err(e) => tracing::warn!(error = %e, "pcap window not opened"),
                }
            }
            return;
        }
        if s.written >= s.limit {
            return;
        }
        let ts = at.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or(Duration::ZERO)
        });
        s.written += frame.len() as u64 + 16;
        if let Some(w) = s.writer.as_mut() {
            if let Err(e) = w
                .pcap
                .write_packet(&PcapPacket::new(ts, frame.len() as u32, frame))
            {
                tracing::warn!(error = %e, "pcap write failed");
            }
        }
    }

    pub fn flush(&self) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(w) = s.writer.as_mut() {
            let _ = w.file.flush();
        }
    }
}

/// A transmit sink that records, then passes the frame on.
pub struct RecordingSink {
    pub inner: Box<dyn FrameSink>,
    pub pcap: PcapRecorder,
    /// Timed ports: when model time zero was, so frames are stamped with their
    /// modelled departure times.
    pub model_epoch: Option<Duration>,
}

impl FrameSink for RecordingSink {
    fn transmit(&mut self, frame: &[u8]) {
        self.pcap.record(frame, None);
        self.inner.transmit(frame);
    }

    fn transmit_at(&mut self, frame: &[u8], departure: Picos) {
        let at = self.model_epoch.map(|e| model_timestamp(e, departure));
        self.pcap.record(frame, at);
        self.inner.transmit_at(frame, departure);
    }

    fn has_room(&self) -> bool {
        self.inner.has_room()
    }

    fn on_room(&mut self, kick: device_model::RoomKick) {
        self.inner.on_room(kick);
    }
}

/// A pcap timestamp for model time `at` of a port whose model time zero was `epoch`.
pub fn model_timestamp(epoch: Duration, at: Picos) -> Duration {
    epoch + Duration::from_nanos(at.as_ps() / 1000)
}

/// Now as a time since the Unix epoch: a timed port's model epoch.
pub fn wall_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marker(name: &str) -> Vec<u8> {
        crate::marker::frame(&format!("pcap={name}"))
    }

    #[test]
    fn markers_open_and_close_windows() {
        let dir = std::env::temp_dir().join(format!("tunic-pcap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let r = PcapRecorder::windows(&dir, "port0");
        r.record(&[1u8; 60], None); // before any marker: not recorded anywhere
        r.record(&marker("case-a"), None);
        r.record(&[2u8; 60], None);
        r.record(&[3u8; 70], None);
        r.record(&marker("off"), None);
        r.record(&[4u8; 60], None);
        r.flush();
        let data = std::fs::read(dir.join("port0-case-a.pcap")).unwrap();
        assert_eq!(data.len(), 24 + (16 + 60) + (16 + 70));
        assert!(!dir.join("port0-off.pcap").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_echoed_marker_continues_its_window() {
        let dir = std::env::temp_dir().join(format!("tunic-pcap-echo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let r = PcapRecorder::windows(&dir, "port1");
        r.record(&marker("case-b"), None);
        r.record(&[2u8; 60], None);
        r.record(&marker("case-b"), None); // the peer's echo
        r.record(&[3u8; 70], None);
        r.flush();
        let data = std::fs::read(dir.join("port1-case-b.pcap")).unwrap();
        assert_eq!(data.len(), 24 + (16 + 60) + (16 + 70));
        r.record(&marker("off"), None);
        r.record(&marker("case-b"), None); // a new window of the same name starts afresh
        r.record(&[4u8; 80], None);
        r.flush();
        let data = std::fs::read(dir.join("port1-case-b.pcap")).unwrap();
        assert_eq!(data.len(), 24 + (16 + 80));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn frames_carry_the_time_they_are_given() {
        let path = std::env::temp_dir().join(format!("tunic-pcap-ts-{}.pcap", std::process::id()));
        let r = PcapRecorder::create(&path).unwrap();
        let at = model_timestamp(Duration::from_secs(1_000), Picos::from_us(1_500_001));
        r.record(&[1u8; 60], Some(at));
        r.flush();
        let mut reader = pcap_file::pcap::PcapReader::new(File::open(&path).unwrap()).unwrap();
        let packet = reader.next_packet().unwrap().unwrap();
        assert_eq!(packet.timestamp, Duration::new(1_001, 500_001_000));
        std::fs::remove_file(&path).unwrap();
    }
}
