//! A port: one device personality, its guest memory, interrupts, wire and
//! receive worker, served on one vfio-user socket.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};
use device_model::igb::{Igb, IgbConfig};
use device_model::FrameSink;
pub use device_model::Personality;
use dma::DmaSpace;

use crate::backend::inject::{self, Injector};
use crate::backend::marker;
use crate::backend::pcap::{PcapRecorder, RecordingSink};
use crate::backend::Frame;
use crate::irq::EventfdIrq;
use crate::server::VfioUserServer;

/// Frames that may wait between a wire and a port's receive worker.
pub const RX_QUEUE_FRAMES: usize = 4096;

/// Device personalities tunic can serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PersonalityKind {
    /// Intel 82576 (8086:10C9), Linux `igb`.
    Igb,
}

/// How a port records its traffic.
#[derive(Debug, Clone)]
pub enum PcapSpec {
    /// Everything in one file.
    File(PathBuf),
    /// Case windows opened by marker frames: `dir/prefix-NAME.pcap`.
    Windows { dir: PathBuf, prefix: String },
}

pub struct PortSpec {
    pub socket: PathBuf,
    pub personality: PersonalityKind,
    pub mac: [u8; 6],
    pub pcap: Option<PcapSpec>,
    /// Corrupt every Nth received TCP/UDP frame from the start (markers can change it).
    pub inject_every: Option<u32>,
}

/// A running port.
pub struct Port {
    pub socket: PathBuf,
    pub device: Arc<Mutex<dyn Personality>>,
    pub dma: Arc<DmaSpace>,
    threads: Vec<JoinHandle<()>>,
    pcap: Option<PcapRecorder>,
    injector: Arc<Mutex<Injector>>,
}

/// The receive side of a port's wire, created before the port so peers can be cross-wired.
pub fn rx_channel() -> (Sender<Frame>, Receiver<Frame>) {
    crossbeam_channel::bounded(RX_QUEUE_FRAMES)
}

impl Port {
    /// Builds the device, binds its socket and starts serving and receiving.
    pub fn start(
        spec: PortSpec,
        sink: Box<dyn FrameSink>,
        rx: Receiver<Frame>,
        stop: Arc<AtomicBool>,
    ) -> anyhow::Result<Self> {
        let pcap = match &spec.pcap {
            None => None,
            Some(PcapSpec::File(p)) => Some(PcapRecorder::create(p)?),
            Some(PcapSpec::Windows { dir, prefix }) => Some(PcapRecorder::windows(dir, prefix)),
        };
        let sink: Box<dyn FrameSink> = match &pcap {
            Some(p) => Box::new(RecordingSink {
                inner: sink,
                pcap: p.clone(),
            }),
            None => sink,
        };
        let dma = Arc::new(DmaSpace::new());
        let irq = Arc::new(EventfdIrq::default());
        let device: Arc<Mutex<dyn Personality>> = match spec.personality {
            PersonalityKind::Igb => Arc::new(Mutex::new(Igb::new(
                IgbConfig { mac: spec.mac },
                dma.clone(),
                irq.clone(),
                sink,
            ))),
        };
        let server = VfioUserServer::bind(&spec.socket, device.clone(), dma.clone(), irq)?;
        let mut threads = Vec::new();
        let s2 = stop.clone();
        threads.push(
            std::thread::Builder::new()
                .name(crate::server::SERVE_THREAD.into())
                .spawn(move || server.serve(&s2))?,
        );
        let d2 = device.clone();
        let p2 = pcap.clone();
        let injector = Arc::new(Mutex::new(Injector::new(spec.inject_every)));
        let i2 = injector.clone();
        threads.push(
            std::thread::Builder::new()
                .name("tunic-rx".into())
                .spawn(move || rx_worker(&d2, &rx, p2.as_ref(), &i2, &stop))?,
        );
        Ok(Self {
            socket: spec.socket,
            device,
            dma,
            threads,
            pcap,
            injector,
        })
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The device's counters plus the port's own (fault injection).
    pub fn counters_json(&self) -> String {
        let device = self
            .device
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .counters_json();
        let injected = self
            .injector
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .corrupted;
        match serde_json::from_str::<serde_json::Value>(&device) {
            Ok(serde_json::Value::Object(mut m)) => {
                m.insert("rx_injected_l4_corruptions".into(), injected.into());
                serde_json::Value::Object(m).to_string()
            }
            _ => device,
        }
    }

    pub fn flush(&self) {
        if let Some(p) = &self.pcap {
            p.flush();
        }
    }

    /// Threads end when `stop` is set and their blocking calls return; the
    /// listener thread is left to process exit.
    pub fn detach(self) {
        self.flush();
        drop(self.threads);
    }
}

/// Moves frames from the wire into the device, a batch per lock.
fn rx_worker(
    device: &Arc<Mutex<dyn Personality>>,
    rx: &Receiver<Frame>,
    pcap: Option<&PcapRecorder>,
    injector: &Mutex<Injector>,
    stop: &AtomicBool,
) {
    let tick = std::time::Duration::from_millis(200);
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let first = match rx.recv_timeout(tick) {
            Ok(f) => f,
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => continue,
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return,
        };
        let mut d = device.lock().unwrap_or_else(|e| e.into_inner());
        let mut next = Some(first);
        let mut n = 0;
        while let Some(mut f) = next {
            {
                let mut inj = injector.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(("inject", v)) = marker::parse(&f) {
                    match inject::parse_spec(v) {
                        Ok(every) => inj.set(every),
                        Err(e) => tracing::warn!(error = %e, "bad inject marker ignored"),
                    }
                }
                inj.apply(&mut f);
            }
            if let Some(p) = pcap {
                p.record(&f);
            }
            // A device bug on one frame must not end this port's receive path for good:
            // contain it, log it, count the frame as lost, and go on.
            let delivered =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| d.receive(&f)));
            if delivered.is_err() {
                tracing::error!(
                    len = f.len(),
                    "receive path panicked on a frame: frame dropped"
                );
            }
            n += 1;
            next = if n < 64 { rx.try_recv().ok() } else { None };
        }
    }
}

/// Parses `52:54:00:12:34:56`.
pub fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return Err(format!(
            "'{s}' is not a MAC address (expected six hex bytes separated by ':')"
        ));
    }
    let mut mac = [0u8; 6];
    for (m, p) in mac.iter_mut().zip(parts) {
        *m = u8::from_str_radix(p, 16).map_err(|_| format!("'{s}': '{p}' is not a hex byte"))?;
    }
    if mac[0] & 1 != 0 || mac == [0; 6] {
        return Err(format!(
            "'{s}' is multicast or zero: a NIC needs a unicast address"
        ));
    }
    Ok(mac)
}
