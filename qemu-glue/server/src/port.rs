//! A port: one device personality, its guest memory, interrupts, wire and
//! receive worker, served on one vfio-user socket.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use device_model::timing::{Backlog, TimingConfig, TimingMode, TraceWriter};
pub use device_model::Personality;
use device_model::{CounterReport, FrameSink};
use dma::DmaSpace;
use serde::Serialize;
use std::collections::BTreeMap;

use crate::irq::EventfdIrq;
use crate::server::VfioUserServer;
pub use crate::timing::PortTiming;
use tunic_wire::channel::{WireCounters, WireGate};
use tunic_wire::inject::{self, Injector};
use tunic_wire::ledger::MarkSender;
use tunic_wire::marker;
use tunic_wire::pacer;
use tunic_wire::pcap::{model_timestamp, wall_now, PcapRecorder, RecordingSink};
use tunic_wire::Frame;
use vfio_user_transport::session::TransportCounters;

/// Frames that may wait between a wire and a port's receive worker: the frames in
/// flight on the wire. Past this the wire drops (counted), as a congested link would;
/// the device's own 64 KiB receive FIFO sits behind it.
pub const RX_QUEUE_FRAMES: usize = 1024;

/// Paced mode: bytes that may wait for the wire before Tx stops fetching
/// descriptors, the 82576's 40 KB Tx packet buffer (TXPBS reset value).
pub const TX_PACKET_BUFFER: u64 = 40 * 1024;

/// Device personalities tunic can serve (built by `device_model::factory`).
pub use device_model::factory::Kind as PersonalityKind;

/// clap parser for `--personality`: the factory's names, with their help lines.
pub fn personality_parser() -> impl clap::builder::TypedValueParser<Value = PersonalityKind> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    PossibleValuesParser::new(
        PersonalityKind::ALL.map(|k| PossibleValue::new(k.name()).help(k.help())),
    )
    .map(|s| s.parse::<PersonalityKind>().unwrap_or(PersonalityKind::Igb))
}

/// How a port records its traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// Corrupt every Nth received TCP/UDP (or NVGRE inner TCP/UDP) frame from the start.
    pub inject_every: Option<inject::Spec>,
    /// Test hooks: `inject=` marker frames from the wire switch fault injection. Off
    /// unless asked for (the conformance harness does): a wire peer must not be able to
    /// turn on corruption of a production port's traffic.
    pub test_hooks: bool,
    /// Test hooks: where `pcap=` window marks go, so the case ledger can snapshot
    /// every port's counters at case boundaries.
    pub case_marks: Option<MarkSender>,
    /// The back-pressure of the wire into this port (the in-process cable): the
    /// worker tells it what it took, so the sending port goes on.
    pub rx_gate: Option<Arc<WireGate>>,
}

/// A running port.
pub struct Port {
    pub socket: PathBuf,
    pub device: Arc<Mutex<dyn Personality>>,
    pub dma: Arc<DmaSpace>,
    threads: Vec<JoinHandle<()>>,
    pcap: Option<PcapRecorder>,
    injector: Arc<Mutex<Injector>>,
    trace: Option<TraceWriter>,
    /// Frames this port transmitted that its wire dropped (in-process wire only).
    wire: Option<Arc<WireCounters>>,
    /// What the vfio-user sessions did: messages, refusals, dropped connections.
    transport: Arc<TransportCounters>,
}

pub use tunic_wire::ledger::{CounterSource, Counters};

/// The receive side of a port's wire, created before the port so peers can be cross-wired.
pub fn rx_channel() -> (Sender<Frame>, Receiver<Frame>) {
    crossbeam_channel::bounded(RX_QUEUE_FRAMES)
}

impl Port {
    /// Builds the device, binds its socket and starts serving and receiving,
    /// with timing off.
    pub fn start(
        spec: PortSpec,
        sink: Box<dyn FrameSink>,
        rx: Receiver<Frame>,
        stop: Arc<AtomicBool>,
    ) -> anyhow::Result<Self> {
        Self::start_timed(spec, &PortTiming::default(), sink, rx, stop)
    }

    /// As [`Port::start`], with the device timed by `timing`.
    pub fn start_timed(
        spec: PortSpec,
        timing: &PortTiming,
        mut sink: Box<dyn FrameSink>,
        rx: Receiver<Frame>,
        stop: Arc<AtomicBool>,
    ) -> anyhow::Result<Self> {
        // A wire that pushes back kicks the worker, which resumes the stopped queues.
        let (room_tx, room_rx) = crossbeam_channel::bounded::<()>(1);
        sink.on_room(Arc::new(move || {
            let _ = room_tx.try_send(());
        }));
        let pcap = match &spec.pcap {
            None => None,
            Some(PcapSpec::File(p)) => Some(PcapRecorder::create(p)?),
            Some(PcapSpec::Windows { dir, prefix }) => Some(PcapRecorder::windows(dir, prefix)),
        };
        let clock = (timing.mode != TimingMode::Off).then(|| ModelEpoch {
            instant: Instant::now(),
            wall: wall_now(),
            mode: timing.mode,
        });
        // Paced: the pacer stands between the device (and its recorder) and the wire.
        let (sink, backlog, kick) = match &clock {
            Some(c) if c.mode == TimingMode::Paced => {
                let backlog = Arc::new(Backlog::new(TX_PACKET_BUFFER));
                let (kick_tx, kick_rx) = crossbeam_channel::bounded(1);
                let paced = pacer::start(sink, c.instant, backlog.clone(), kick_tx, stop.clone())?;
                let sink: Box<dyn FrameSink> = Box::new(paced);
                (sink, Some(backlog), Some(kick_rx))
            }
            _ => (sink, None, None),
        };
        let sink: Box<dyn FrameSink> = match &pcap {
            Some(p) => Box::new(RecordingSink {
                inner: sink,
                pcap: p.clone(),
                model_epoch: clock.as_ref().map(|c| c.wall),
            }),
            None => sink,
        };
        let dma = Arc::new(DmaSpace::new());
        let irq = Arc::new(EventfdIrq::default());
        // The device's next timer can move earlier while the worker sleeps towards a
        // later one (a doorbell arrives on the vCPU's thread): it wakes the worker.
        let (wake_tx, wake_rx) = crossbeam_channel::bounded::<()>(1);
        let wake: device_model::timing::Waker = Arc::new(move || {
            let _ = wake_tx.try_send(());
        });
        let timing_config = TimingConfig {
            mode: timing.mode,
            params: timing.params,
            epoch: clock.as_ref().map_or_else(Instant::now, |c| c.instant),
            backlog,
            trace: timing.trace.clone(),
            wake: Some(wake.clone()),
        };
        let wake_for_device = wake;
        let device = device_model::factory::build(
            spec.personality,
            device_model::factory::PortConfig {
                mac: spec.mac,
                speed_mbps: (timing.params.speed.bits_per_second() / 1_000_000) as u32,
                timing: timing_config,
            },
            dma.clone(),
            irq.clone(),
            sink,
        )?;
        device
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .set_waker(wake_for_device);
        let server = VfioUserServer::bind(&spec.socket, device.clone(), dma.clone(), irq)?;
        let transport = server.counters();
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
        let worker = RxWorker {
            device: d2,
            pcap: p2,
            injector: i2,
            test_hooks: spec.test_hooks,
            injecting: spec.inject_every.is_some(),
            case_marks: spec.case_marks.filter(|_| spec.test_hooks),
            clock,
            rx_gate: spec.rx_gate,
            room: room_rx,
            parked: RefCell::default(),
        };
        threads.push(std::thread::Builder::new().name("tunic-rx".into()).spawn(
            move || match kick {
                None if worker.clock.is_none() => worker.run(&rx, &wake_rx, &stop),
                kick => worker.run_timed(&rx, kick, &wake_rx, &stop),
            },
        )?);
        Ok(Self {
            socket: spec.socket,
            device,
            dma,
            threads,
            pcap,
            injector,
            trace: timing.trace.clone(),
            wire: None,
            transport,
        })
    }

    /// Reports the drops of the port's wire: `wire_tx_dropped` (sent, lost on the way)
    /// and `wire_rx_dropped` (from an outside peer, lost before the device saw it).
    pub fn set_wire_counters(&mut self, wire: Arc<WireCounters>) {
        self.wire = Some(wire);
    }

    /// A reader of the port's counters, by name, that does not borrow the port
    /// (what the case ledger snapshots).
    pub fn counter_source(&self) -> CounterSource {
        let (device, injector, wire, transport) = (
            self.device.clone(),
            self.injector.clone(),
            self.wire.clone(),
            self.transport.clone(),
        );
        Box::new(move || port_counters(&device, &injector, wire.as_deref(), &transport).numbers())
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The device's counters plus the port's own (fault injection, wire drops,
    /// the vfio-user sessions).
    pub fn counters(&self) -> PortCounters {
        port_counters(
            &self.device,
            &self.injector,
            self.wire.as_deref(),
            &self.transport,
        )
    }

    pub fn flush(&self) {
        if let Some(p) = &self.pcap {
            p.flush();
        }
        if let Some(t) = &self.trace {
            let _ = t.lock().unwrap_or_else(|e| e.into_inner()).flush();
        }
    }

    /// Threads end when `stop` is set and their blocking calls return; the
    /// listener thread is left to process exit.
    pub fn detach(self) {
        self.flush();
        drop(self.threads);
    }
}

/// A port's counters: its device's and the port's own, typed until they leave
/// tunic (the stats file, the demo's and the suites' reports, the case ledger).
#[derive(Debug, Clone, Serialize)]
pub struct PortCounters {
    #[serde(flatten)]
    pub device: CounterReport,
    /// Received TCP/UDP frames the port's fault injector corrupted (`--inject`).
    pub rx_injected_l4_corruptions: u64,
    /// Frames this port sent that its wire could not take (in-process wires).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wire_tx_dropped: Option<u64>,
    /// Frames from an outside peer lost before the device saw them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wire_rx_dropped: Option<u64>,
    /// What the vfio-user sessions did: messages, refusals, dropped connections.
    #[serde(flatten)]
    pub transport: BTreeMap<String, u64>,
}

impl PortCounters {
    /// As JSON: the edge where the typed counters become text.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// Every top-level counter by name; nested reports (timing) are left out.
    pub fn numbers(&self) -> Counters {
        match self.to_json() {
            serde_json::Value::Object(m) => m
                .into_iter()
                .filter_map(|(k, v)| Some((k, v.as_u64()?)))
                .collect(),
            _ => Counters::new(),
        }
    }
}

fn port_counters(
    device: &Mutex<dyn Personality>,
    injector: &Mutex<Injector>,
    wire: Option<&WireCounters>,
    transport: &TransportCounters,
) -> PortCounters {
    let device = device.lock().unwrap_or_else(|e| e.into_inner()).counters();
    PortCounters {
        device,
        rx_injected_l4_corruptions: injector.lock().unwrap_or_else(|e| e.into_inner()).corrupted,
        wire_tx_dropped: wire.map(|w| w.dropped.load(Ordering::Relaxed)),
        wire_rx_dropped: wire.map(|w| w.rx_dropped.load(Ordering::Relaxed)),
        transport: transport.snapshot().into_iter().collect(),
    }
}

/// Model time zero of a timed port, for the receive side.
struct ModelEpoch {
    instant: Instant,
    /// The same moment as a time since the Unix epoch, for pcap timestamps.
    wall: Duration,
    mode: TimingMode,
}

/// Moves frames from the wire into the device, a batch per lock.
struct RxWorker {
    device: Arc<Mutex<dyn Personality>>,
    pcap: Option<PcapRecorder>,
    injector: Arc<Mutex<Injector>>,
    test_hooks: bool,
    /// `--inject` asked for fault injection on every port.
    injecting: bool,
    case_marks: Option<MarkSender>,
    clock: Option<ModelEpoch>,
    /// Released as frames are taken, so the port sending into this one goes on.
    rx_gate: Option<Arc<WireGate>>,
    /// This port's own wire has room again: its stopped Tx queues go on.
    room: Receiver<()>,
    /// Data frames read off the wire while XOFF stands, in arrival order. The
    /// worker reads on so that the partner's PAUSE frames reach the MAC at once,
    /// as silicon's MAC acts on them with a full buffer; the data frames stay
    /// counted on the sender's gate until delivered, so its Tx stays held.
    parked: RefCell<VecDeque<Frame>>,
}

/// How many data frames a held port parks before it stops reading its wire: the
/// receive channel's own bound, so an ungated peer (stream, tap) meets the same
/// limit as before.
const PARKED_FRAMES: usize = RX_QUEUE_FRAMES;

/// How long the receive worker waits before checking the stop flag.
const TICK: Duration = Duration::from_millis(200);
/// Virtual time: how long the guest must be idle before the clock jumps to the
/// next moderation timer.
const VIRTUAL_IDLE: Duration = Duration::from_millis(1);

impl RxWorker {
    /// Timing off: frames, and the device's wall-clock deadlines (virtio-net
    /// notification coalescing). `wake` says a new deadline was set.
    fn run(&self, rx: &Receiver<Frame>, wake: &Receiver<()>, stop: &AtomicBool) {
        while !stop.load(Ordering::Relaxed) {
            let (deadline, busy, held) = {
                let d = self.lock();
                (d.next_deadline(), d.has_deferred(), d.rx_held())
            };
            if !held {
                self.deliver_parked(rx);
            }
            let wait = match deadline {
                _ if busy || self.has_parked(held) => Duration::ZERO,
                Some(d) => d.saturating_duration_since(Instant::now()),
                None => TICK,
            };
            let never = crossbeam_channel::never();
            let source = self.source(held, rx, &never);
            crossbeam_channel::select! {
                recv(source) -> f => match f {
                    Ok(f) => self.arrived(f, held, rx),
                    Err(_) => return,
                },
                recv(self.room) -> _ => self.contained("Tx resume", |d| d.resume_tx()),
                recv(wake) -> _ => {}
                default(wait.min(TICK)) => {}
            }
            if deadline.is_some_and(|d| d <= Instant::now()) {
                self.contained("deadlines", |d| d.run_deadlines());
            }
            // A pass deferred while this loop waited wakes it; the next turn runs it.
            if busy {
                self.run_deferred();
            }
        }
    }

    /// One budget of the Tx work a doorbell left (`device_model::doorbell`); the
    /// device is released before the next, so register accesses and received
    /// frames are served in between.
    fn run_deferred(&self) {
        self.contained("deferred Tx", |d| d.run_deferred());
    }

    /// Timed: frames, kicks from the pacer (the Tx packet buffer has room again),
    /// and the device's model timers (interrupt moderation: EITR or virtio-net's
    /// coalescing limits; paced Tx write-backs), which
    /// fall due with no guest activity. `wake` says the next timer moved earlier.
    fn run_timed(
        &self,
        rx: &Receiver<Frame>,
        kick: Option<Receiver<()>>,
        wake: &Receiver<()>,
        stop: &AtomicBool,
    ) {
        let kick = kick.unwrap_or_else(crossbeam_channel::never);
        while !stop.load(Ordering::Relaxed) {
            let wait = self.timer_wait();
            // Wall-clock deadlines run here too (igb's auto-negotiation).
            let (busy, deadline, held) = {
                let d = self.lock();
                (d.has_deferred(), d.next_deadline(), d.rx_held())
            };
            if !held {
                self.deliver_parked(rx);
            }
            let until_deadline = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            // Woken for the deadline, not the model timer: the timers are not due.
            let deadline_first = until_deadline.is_some_and(|u| wait.is_none_or(|w| u < w));
            let idle = if busy || self.has_parked(held) {
                Duration::ZERO
            } else {
                wait.unwrap_or(TICK).min(until_deadline.unwrap_or(TICK))
            };
            let never = crossbeam_channel::never();
            let source = self.source(held, rx, &never);
            crossbeam_channel::select! {
                recv(source) -> f => match f {
                    Ok(f) => self.arrived(f, held, rx),
                    Err(_) => return,
                },
                recv(kick) -> _ => self.contained("Tx resume", |d| d.resume_tx()),
                recv(self.room) -> _ => self.contained("Tx resume", |d| d.resume_tx()),
                recv(wake) -> _ => {}
                default(idle) => {
                    // Only for a device timer: in virtual time, run_timers jumps
                    // the clock to it, which it must not do while the device
                    // still has Tx work (the guest is not idle).
                    let virtual_busy = busy && self.clock.as_ref().is_some_and(|c| c.mode != TimingMode::Paced);
                    if wait.is_some() && !virtual_busy && !deadline_first {
                        self.contained("timers", |d| d.run_timers());
                    }
                }
            }
            if deadline.is_some_and(|d| d <= Instant::now()) {
                self.contained("deadlines", |d| d.run_deadlines());
            }
            if busy {
                self.run_deferred();
            }
        }
    }

    /// Runs one device operation with a panic in it contained.
    fn contained(&self, what: &'static str, op: impl FnOnce(&mut dyn Personality)) {
        let mut d = self.lock();
        crate::containment::contained(&mut *d, || what.to_string(), op);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, dyn Personality + 'static> {
        self.device.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How long until the device's next moderation timer must fire, if it has one.
    fn timer_wait(&self) -> Option<Duration> {
        let clock = self.clock.as_ref()?;
        let at = self.lock().next_timer()?;
        Some(match clock.mode {
            TimingMode::Paced => {
                pacer::instant_of(clock.instant, at).saturating_duration_since(Instant::now())
            }
            _ => VIRTUAL_IDLE,
        })
    }

    /// Where the next frame comes from: the wire, unless the device holds its
    /// link partner back and as many frames as the wire itself holds are parked.
    fn source<'a>(
        &self,
        held: bool,
        rx: &'a Receiver<Frame>,
        never: &'a Receiver<Frame>,
    ) -> &'a Receiver<Frame> {
        if held && self.parked.borrow().len() >= PARKED_FRAMES {
            never
        } else {
            rx
        }
    }

    /// Parked frames are waiting and the device takes frames again.
    fn has_parked(&self, held: bool) -> bool {
        !held && !self.parked.borrow().is_empty()
    }

    /// A frame came off the wire. While XOFF stands only MAC control frames go
    /// on to the device (a PAUSE from the partner paces our Tx now); data frames
    /// wait, parked, as the paused partner would have held them.
    fn arrived(&self, f: Frame, held: bool, rx: &Receiver<Frame>) {
        if !held {
            return self.deliver(Some(f), rx);
        }
        if device_model::wire::is_mac_control(&f) {
            let mut d = self.lock();
            self.deliver_one(&mut *d, f);
        } else {
            self.parked.borrow_mut().push_back(f);
        }
    }

    fn deliver_parked(&self, rx: &Receiver<Frame>) {
        if !self.parked.borrow().is_empty() {
            self.deliver(None, rx);
        }
    }

    /// Up to a batch of frames, parked ones first (they came first), then
    /// `first`, then what else the wire holds, until XOFF stands again.
    fn deliver(&self, first: Option<Frame>, rx: &Receiver<Frame>) {
        let mut d = self.lock();
        let mut first = first;
        let mut n = 0;
        while n < 64 && !d.rx_held() {
            let next = self.parked.borrow_mut().pop_front();
            let Some(f) = next.or_else(|| first.take()).or_else(|| rx.try_recv().ok()) else {
                break;
            };
            self.deliver_one(&mut *d, f);
            n += 1;
        }
        // XOFF came back before `first`'s turn: it waits behind the parked ones.
        if let Some(f) = first {
            self.parked.borrow_mut().push_back(f);
        }
    }

    fn deliver_one(&self, d: &mut dyn Personality, mut f: Frame) {
        {
            if let Some(g) = &self.rx_gate {
                g.taken(f.len());
            }
            // The test hooks: only a port started with them reads markers or can
            // have fault injection, so a production port's receive path touches neither.
            if self.test_hooks || self.injecting {
                let mut inj = self.injector.lock().unwrap_or_else(|e| e.into_inner());
                match marker::parse(&f).filter(|_| self.test_hooks) {
                    Some(("inject", v)) => match inject::parse_spec(v) {
                        Ok(every) => inj.set(every),
                        Err(e) => tracing::warn!(error = %e, "bad inject marker ignored"),
                    },
                    Some(("pcap", v)) => {
                        if let Some(l) = &self.case_marks {
                            l.mark(v);
                        }
                    }
                    _ => {}
                }
                inj.apply(&mut f);
            }
            if let Some(p) = &self.pcap {
                // Timed ports stamp a received frame with its arrival in model time.
                let at = match &self.clock {
                    Some(c) => d.model_time().map(|t| model_timestamp(c.wall, t)),
                    None => None,
                };
                p.record(&f, at);
            }
            // A device bug on one frame must not end this port's receive path for good:
            // contain it (the device shows the fault and counts it) and go on.
            let len = f.len();
            crate::containment::contained(
                d,
                || format!("receive of a {len}-byte frame"),
                |d| d.receive(&f),
            );
        }
    }
}

/// `52:54:00:12:34:56`.
pub fn format_mac(mac: &[u8; 6]) -> String {
    mac.map(|b| format!("{b:02x}")).join(":")
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

#[cfg(test)]
mod tests {
    use super::*;

    fn worker(test_hooks: bool) -> RxWorker {
        let device = device_model::factory::build(
            PersonalityKind::Igb,
            device_model::factory::PortConfig {
                mac: [2, 0, 0, 0, 0, 1],
                speed_mbps: 1000,
                timing: TimingConfig::default(),
            },
            Arc::new(DmaSpace::new()),
            Arc::new(device_model::NoIrq),
            Box::new(device_model::NullSink),
        )
        .unwrap();
        RxWorker {
            device,
            pcap: None,
            injector: Arc::new(Mutex::new(Injector::new(None))),
            test_hooks,
            injecting: false,
            case_marks: None,
            clock: None,
            rx_gate: None,
            room: crossbeam_channel::never(),
            parked: RefCell::default(),
        }
    }

    /// Stands in for a device whose XOFF is under the test's control, and
    /// remembers what reached it.
    struct Holding {
        held: Arc<AtomicBool>,
        got: Arc<Mutex<Vec<Frame>>>,
    }

    impl Personality for Holding {
        fn bar_sizes(&self) -> Vec<(u32, u64)> {
            Vec::new()
        }
        fn config_size(&self) -> u64 {
            0
        }
        fn msix_vectors(&self) -> u32 {
            0
        }
        fn config_read(&mut self, _: u64, _: &mut [u8]) {}
        fn config_write(&mut self, _: u64, _: &[u8]) {}
        fn bar_read(&mut self, _: u32, _: u64, _: &mut [u8]) {}
        fn bar_write(&mut self, _: u32, _: u64, _: &[u8]) {}
        fn reset(&mut self) {}
        fn contain_fault(&mut self) {}
        fn receive(&mut self, frame: &[u8]) {
            self.got.lock().unwrap().push(frame.to_vec());
        }
        fn counters(&self) -> device_model::CounterReport {
            device_model::CounterReport::default()
        }
        fn rx_held(&self) -> bool {
            self.held.load(Ordering::SeqCst)
        }
    }

    fn data_frame(tag: u8) -> Frame {
        let mut f = vec![tag; 60];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f
    }

    /// While XOFF stands the partner's PAUSE still reaches the device at once,
    /// data frames wait in order and stay on the sender's gate; released, they
    /// arrive ahead of newer ones.
    #[test]
    fn a_held_port_acts_on_pause_frames_and_parks_data_in_order() {
        let held = Arc::new(AtomicBool::new(true));
        let got = Arc::new(Mutex::new(Vec::new()));
        let mut w = worker(false);
        w.device = Arc::new(Mutex::new(Holding {
            held: held.clone(),
            got: got.clone(),
        }));
        let gate = WireGate::new(100);
        w.rx_gate = Some(gate.clone());
        let (tx, rx) = rx_channel();
        // An 802.3x PAUSE: to 01:80:c2:00:00:01, MAC control, opcode 1, quanta.
        let mut pause = vec![0x01, 0x80, 0xc2, 0x00, 0x00, 0x01, 2, 0, 0, 0, 0, 2];
        pause.extend_from_slice(&[0x88, 0x08, 0x00, 0x01, 0xff, 0xff]);
        pause.resize(60, 0);
        for f in [data_frame(1), pause.clone(), data_frame(2)] {
            gate.sent(f.len());
            w.arrived(f, true, &rx);
        }
        assert_eq!(*got.lock().unwrap(), vec![pause.clone()]);
        assert!(
            !gate.has_room(),
            "parked frames still count on the sender's gate"
        );

        held.store(false, Ordering::SeqCst);
        tx.send(data_frame(3)).unwrap();
        gate.sent(60);
        w.deliver_parked(&rx);
        let want = vec![pause, data_frame(1), data_frame(2), data_frame(3)];
        assert_eq!(*got.lock().unwrap(), want);
        assert!(gate.has_room());
    }

    /// A held port stops reading its wire once it has parked as much as the
    /// wire itself holds: an ungated peer cannot make it buffer without bound.
    #[test]
    fn a_held_port_parks_a_bounded_number_of_frames() {
        let w = worker(false);
        let (_tx, rx) = rx_channel();
        let never = crossbeam_channel::never();
        for i in 0..PARKED_FRAMES {
            assert!(std::ptr::eq(w.source(true, &rx, &never), &rx), "frame {i}");
            w.arrived(data_frame(i as u8), true, &rx);
        }
        assert!(std::ptr::eq(w.source(true, &rx, &never), &never));
        assert!(std::ptr::eq(w.source(false, &rx, &never), &rx));
    }

    /// A wire peer's marker frame switches fault injection only on a port whose
    /// command line asked for test hooks.
    #[test]
    fn inject_markers_act_only_with_test_hooks() {
        let (_tx, rx) = rx_channel();
        for hooks in [false, true] {
            let w = worker(hooks);
            w.deliver(Some(marker::frame("inject=corrupt-l4-1")), &rx);
            let mut frame = inject::tests_support::udp_frame();
            let corrupted = w.injector.lock().unwrap().apply(&mut frame);
            assert_eq!(corrupted, hooks, "test hooks {hooks}");
        }
    }
}
