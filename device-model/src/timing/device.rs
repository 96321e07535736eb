//! A device's timing state: model clock, shared resources, interrupt moderation,
//! the Tx packets of the current doorbell and the accounting of all of it.

use std::sync::Arc;

use offload_engines::cost::{
    serialization_time, Breakdown, Params, Picos, RxCost, RxShape, TxCost, TxShape,
};

use super::completions::Completions;
use super::Completion;
use super::{
    pcie_name, Backlog, Booked, Ledger, ModelClock, Schedule, TimingConfig, TimingMode,
    TimingReport, Trace, Utilisation, VectorReport, Vectors, Waker,
};

/// One Tx packet of the current batch and how many frames it became.
struct TxPacket {
    queue: usize,
    shape: TxShape,
    frames_end: usize,
}

/// Frame bytes a doorbell split into passes holds at most before they are played
/// (see [`DeviceTiming::hold_for_next_pass`]).
const MAX_HELD_BATCH: usize = 16 << 20;

/// Frames the device produced during one doorbell, held until their modelled
/// departure times are known.
#[derive(Default)]
struct TxBatch {
    bytes: Vec<u8>,
    frame_ends: Vec<usize>,
    packets: Vec<TxPacket>,
}

impl TxBatch {
    fn frame(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.frame_ends[i - 1] };
        &self.bytes[start..self.frame_ends[i]]
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.frame_ends.clear();
        self.packets.clear();
    }
}

/// Descriptors a queue fetched and will write back for the packet in progress.
#[derive(Debug, Default, Clone, Copy)]
struct DescriptorCount {
    fetched: u32,
    written_back: u32,
}

pub struct DeviceTiming {
    mode: TimingMode,
    params: Params,
    clock: ModelClock,
    schedule: Schedule,
    pub vectors: Vectors,
    pub ledger: Ledger,
    backlog: Option<Arc<Backlog>>,
    trace: Option<Trace>,
    batch: TxBatch,
    descriptors: Vec<DescriptorCount>,
    /// Tx queues stopped by a full Tx packet buffer, to resume when it drains.
    stalled: u32,
    /// Paced mode: write-backs waiting for their packets' completion.
    completions: Completions,
    wake: Option<Waker>,
    /// A Tx pass stopped at its budget (`crate::doorbell`) and its batch is held
    /// for the pass the port's worker resumes, as part of the doorbell that began
    /// at this time: the passes' packets are played as one batch ready then, so
    /// splitting a doorbell leaves no gap in the modelled pipeline.
    carried_doorbell: Option<Picos>,
    /// The batch about to be played belongs to a doorbell that goes on (it grew
    /// past [`MAX_HELD_BATCH`]): the carried doorbell time stays for the rest.
    continues: bool,
}

impl DeviceTiming {
    /// `None` for [`TimingMode::Off`]: the device then does no timing work at all.
    pub fn new(cfg: &TimingConfig, vectors: usize, queues: usize) -> Option<DeviceTiming> {
        let clock = match cfg.mode {
            TimingMode::Off => return None,
            TimingMode::Virtual => ModelClock::Virtual(Default::default()),
            TimingMode::Paced => ModelClock::Wall(cfg.epoch),
        };
        Some(DeviceTiming {
            mode: cfg.mode,
            params: cfg.params,
            clock,
            schedule: Schedule::default(),
            vectors: Vectors::new(vectors),
            ledger: Ledger::new(queues),
            backlog: cfg
                .backlog
                .clone()
                .filter(|_| cfg.mode == TimingMode::Paced),
            trace: cfg.trace.clone().map(Trace),
            batch: TxBatch::default(),
            descriptors: vec![DescriptorCount::default(); queues],
            stalled: 0,
            completions: Completions::default(),
            wake: cfg.wake.clone(),
            carried_doorbell: None,
            continues: false,
        })
    }

    pub fn now(&self) -> Picos {
        self.clock.now()
    }

    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The device reset: nothing in flight, moderation counters at zero. Model
    /// time and the totals go on.
    pub fn reset(&mut self) {
        self.vectors.reset();
        self.batch.clear();
        self.descriptors.fill(DescriptorCount::default());
        self.stalled = 0;
        self.completions.clear();
        self.carried_doorbell = None;
        self.continues = false;
    }

    /// The Tx pass just ended stopped at its budget and will be resumed: whether
    /// its batch waits for the rest of the doorbell rather than being played now.
    /// Playing passes apart would book the first pass's write-backs ahead of the
    /// next pass's descriptor fetches; a batch past [`MAX_HELD_BATCH`] is played
    /// anyway, which bounds the frames held.
    pub fn hold_for_next_pass(&mut self) -> bool {
        let now = self.now();
        self.carried_doorbell.get_or_insert(now);
        self.continues = true;
        self.batch.bytes.len() < MAX_HELD_BATCH
    }

    /// Whether status write-backs wait for the modelled completion (paced mode).
    /// In virtual mode they happen with the doorbell, whose handling already moves
    /// the clock past every completion.
    pub fn defers_write_backs(&self) -> bool {
        self.mode == TimingMode::Paced
    }

    /// Holds `c`, of a descriptor or chain just processed, until the last packet
    /// that has ended (normally the one it ended) has completed in the model.
    pub fn defer(&mut self, c: Completion) {
        let packet = self.batch.packets.len().checked_sub(1);
        self.completions.stage(packet, c);
    }

    /// The deferred completions whose time has come.
    pub fn take_due(&mut self) -> Vec<Completion> {
        let now = self.clock.now();
        self.completions.take_due(now)
    }

    /// Calls the waker if the next timer is now earlier than `before`.
    fn wake_if_sooner(&self, before: Option<Picos>) {
        let (Some(wake), Some(next)) = (&self.wake, self.next_timer()) else {
            return;
        };
        if before.is_none_or(|b| next < b) {
            wake();
        }
    }

    /// Queue `q` fetched a descriptor; `report` if it asks for a status write-back.
    pub fn fetched(&mut self, q: usize, report: bool) {
        if let Some(d) = self.descriptors.get_mut(q) {
            d.fetched += 1;
            d.written_back += u32::from(report);
        }
    }

    /// A frame of the packet in progress is ready for the wire.
    pub fn push_frame(&mut self, frame: &[u8]) {
        self.batch.bytes.extend_from_slice(frame);
        self.batch.frame_ends.push(self.batch.bytes.len());
    }

    /// The packet in progress on queue `q` is complete; `shape` without the
    /// descriptor counts, which are filled in from what the queue fetched.
    pub fn end_packet(&mut self, q: usize, mut shape: TxShape) {
        let d = self
            .descriptors
            .get_mut(q)
            .map(std::mem::take)
            .unwrap_or_default();
        shape.descriptors = d.fetched;
        shape.write_backs = d.written_back;
        shape.interrupt = d.written_back > 0;
        self.batch.packets.push(TxPacket {
            queue: q,
            shape,
            frames_end: self.batch.frame_ends.len(),
        });
    }

    /// Paced mode, at a packet boundary of queue `q`: whether the Tx packet buffer
    /// is too full to fetch more. A stopped queue is remembered for [`Self::take_stalled`].
    pub fn must_stop(&mut self, q: usize) -> bool {
        let Some(backlog) = &self.backlog else {
            return false;
        };
        if !backlog.must_stop(self.batch.bytes.len() as u64) {
            return false;
        }
        if self.stalled & (1 << q) == 0 {
            self.ledger.tx_stalls += 1;
        }
        self.stalled |= 1 << q;
        true
    }

    pub fn take_stalled(&mut self) -> u32 {
        std::mem::take(&mut self.stalled)
    }

    /// Plays the batch through the model and hands every frame to `send` with its
    /// modelled departure time (when its last bit leaves). Returns the vectors
    /// whose moderation timers fired meanwhile (virtual mode) and are `pending`.
    pub fn run_tx(&mut self, pending: u32, mut send: impl FnMut(&[u8], Picos)) -> u32 {
        let now = self.now();
        let doorbell = if std::mem::take(&mut self.continues) {
            *self.carried_doorbell.get_or_insert(now)
        } else {
            self.carried_doorbell.take().unwrap_or(now)
        };
        if self.batch.packets.is_empty() && self.batch.frame_ends.is_empty() {
            let (now, before) = (self.now(), self.next_timer());
            self.completions.schedule(now, &[]);
            self.wake_if_sooner(before);
            return 0;
        }
        let breakdowns: Vec<Breakdown> = self
            .batch
            .packets
            .iter()
            .map(|p| TxCost::of(&self.params, &p.shape))
            .collect();
        let timer_before = self.next_timer();
        let (booked, fired) = self.play(doorbell, &breakdowns, pending);
        let done: Vec<Picos> = booked.iter().map(|b| b.done).collect();
        self.completions.schedule(doorbell, &done);
        let speed = self.params.speed;
        let mut first = 0;
        for ((p, b), at) in self.batch.packets.iter().zip(&breakdowns).zip(&booked) {
            let frames = first..p.frames_end;
            // Segments leave one after another; the last one ends the wire stage.
            let mut departures = Vec::with_capacity(frames.len());
            let mut t = at.wire_end;
            let mut bytes = 0u64;
            for i in frames.clone().rev() {
                let len = self.batch.frame(i).len() as u64;
                departures.push(t);
                t = t - serialization_time(speed, len);
                bytes += len;
            }
            if let Some(backlog) = &self.backlog {
                backlog.add(bytes);
            }
            for (i, dep) in frames.clone().zip(departures.into_iter().rev()) {
                send(self.batch.frame(i), dep);
            }
            self.ledger.tx(p.queue, frames.len() as u64, bytes, b, at);
            if let Some(trace) = &self.trace {
                trace.packet(p.queue, bytes, frames.len() as u64, b, at);
            }
            first = p.frames_end;
        }
        // Frames with no packet around them (none today) go out untimed.
        let now = self.now();
        for i in first..self.batch.frame_ends.len() {
            send(self.batch.frame(i), now);
        }
        self.batch.clear();
        self.wake_if_sooner(timer_before);
        fired
    }

    /// A received frame of `shape` was delivered to queue `q`. Returns the vectors
    /// whose moderation timers fired meanwhile (virtual mode) and are `pending`.
    pub fn run_rx(&mut self, q: usize, shape: &RxShape, pending: u32) -> u32 {
        let b = RxCost::of(&self.params, shape);
        let (booked, fired) = self.play(self.clock.now(), std::slice::from_ref(&b), pending);
        if let Some(at) = booked.first() {
            self.ledger.rx(q, shape.bytes, &b, at);
            if let Some(trace) = &self.trace {
                trace.packet(q, shape.bytes, 1, &b, at);
            }
        }
        fired
    }

    /// Books `packets`, ready at `start` (now, or the doorbell a resumed pass
    /// continues). In virtual mode the clock follows the work to its end, firing
    /// moderation timers as it passes them.
    fn play(&mut self, start: Picos, packets: &[Breakdown], pending: u32) -> (Vec<Booked>, u32) {
        let virtual_time = self.clock.is_virtual();
        let vectors = &mut self.vectors;
        let mut fired = 0;
        let booked = self.schedule.run(start, packets, |t| {
            if virtual_time {
                fired |= vectors.due(t, pending);
            }
        });
        if let Some(end) = booked.iter().map(|b| b.done).max() {
            self.clock.advance_to(end);
        }
        (booked, fired)
    }

    /// `pending` vectors have a cause now: those that may interrupt at once.
    pub fn gate(&mut self, pending: u32, interval: impl Fn(usize) -> Picos) -> u32 {
        let now = self.clock.now();
        let before = self.next_timer();
        let fire = self.vectors.gate(now, pending, interval);
        self.wake_if_sooner(before);
        fire
    }

    /// The earliest moderation timer or deferred write-back.
    pub fn next_timer(&self) -> Option<Picos> {
        match (self.vectors.next_timer(), self.completions.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The device had nothing to do until `at`, a timer of its own (virtio-net's
    /// coalescing deadlines): in virtual mode the clock moves there, as it does for
    /// moderation timers; real time moves by itself.
    pub fn idle_until(&mut self, at: Picos) {
        self.clock.advance_to(at);
    }

    /// Fires due moderation timers. In virtual mode nothing else would move the
    /// clock while the guest is idle, so the clock jumps to the next timer.
    pub fn run_timers(&mut self, pending: u32) -> u32 {
        if self.clock.is_virtual() {
            if let Some(t) = self.vectors.next_timer() {
                self.clock.advance_to(t);
            }
        }
        let now = self.clock.now();
        self.vectors.due(now, pending)
    }

    pub fn report(&self) -> TimingReport {
        let elapsed = self.now();
        TimingReport {
            mode: self.mode,
            link_speed_bps: self.params.speed.bits_per_second(),
            pcie: pcie_name(self.params.pcie.generation, self.params.pcie.width),
            model_time_ps: elapsed.as_ps(),
            utilisation: Utilisation::of(self.schedule.resources(), elapsed),
            tx_backlog_bytes: self.backlog.as_ref().map_or(0, |b| b.queued()),
            tx_stalls: self.ledger.tx_stalls,
            queues: self.ledger.queues(elapsed),
            vectors: self
                .vectors
                .report()
                .filter(|r| r.1 + r.2 > 0)
                .map(|(vector, raised, moderated, interval)| VectorReport {
                    vector,
                    raised,
                    moderated,
                    eitr_interval_us: interval.as_ps() / 1_000_000,
                })
                .collect(),
        }
    }
}
