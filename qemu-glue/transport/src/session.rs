//! One client connection: the VERSION handshake, then commands dispatched to
//! the device behind a [`Backend`], each answered with its reply or an errno.

use std::fs::File;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::channel::{read_message, Channel, FdBag, FrameError};
use crate::wire::{
    self, Command, DmaMap, DmaUnmap, Header, RegionAccess, SetIrqs, Version, Writer,
};
use crate::{Errno, MAX_DATA_XFER, MAX_MSG_FDS, STALL_TIMEOUT};

/// vfio region info flags.
pub const REGION_FLAG_READ: u32 = 1 << 0;
pub const REGION_FLAG_WRITE: u32 = 1 << 1;
/// vfio device info flags.
const DEVICE_FLAG_RESET: u32 = 1 << 0;
const DEVICE_FLAG_PCI: u32 = 1 << 1;

/// One region as DEVICE_GET_REGION_INFO describes it (no mmap, no caps).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegionInfo {
    pub flags: u32,
    pub size: u64,
}

/// One interrupt index as DEVICE_GET_IRQ_INFO describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IrqInfo {
    pub flags: u32,
    pub count: u32,
}

/// What the client learns about the device; region and IRQ indexes are
/// positions in these lists.
#[derive(Clone, Debug, Default)]
pub struct DeviceInfo {
    pub regions: Vec<RegionInfo>,
    pub irqs: Vec<IrqInfo>,
}

/// The device behind a session. The session has already checked each request
/// against [`DeviceInfo`] and the protocol's limits; the backend checks what
/// only the device knows (access widths, the fd behind a map).
pub trait Backend {
    fn region_read(&mut self, region: u32, offset: u64, data: &mut [u8]) -> Result<(), Errno>;
    fn region_write(&mut self, region: u32, offset: u64, data: &[u8]) -> Result<(), Errno>;
    fn dma_map(&mut self, map: &DmaMap, fd: Option<File>) -> Result<(), Errno>;
    fn dma_unmap(&mut self, unmap: &DmaUnmap) -> Result<(), Errno>;
    fn set_irqs(&mut self, set: &SetIrqs, fds: Vec<File>) -> Result<(), Errno>;
    fn reset(&mut self) -> Result<(), Errno>;
}

/// What a server's sessions did, for the port's counters: nothing a client
/// sends is refused silently.
#[derive(Debug, Default)]
pub struct TransportCounters {
    pub messages: AtomicU64,
    /// Messages sent with NO_REPLY (posted writes): the client waited for none of them.
    pub posted: AtomicU64,
    /// Commands answered with an error reply (or, with NO_REPLY, dropped).
    pub refused: AtomicU64,
    /// Connections ended because a message could not be read whole or the
    /// client broke the handshake.
    pub connections_dropped: AtomicU64,
    /// File descriptors closed because a message carried more than its command takes.
    pub fds_closed: AtomicU64,
    /// REGION_READ and REGION_WRITE by region (BAR0..BAR5, ROM, config, VGA): the
    /// register round trips a guest pays for, each a trip through QEMU and back.
    pub region_reads: [AtomicU64; REGIONS],
    pub region_writes: [AtomicU64; REGIONS],
}

/// VFIO PCI region indices a client may name (`VFIO_PCI_NUM_REGIONS`).
pub const REGIONS: usize = 9;
const REGION_NAMES: [&str; REGIONS] = [
    "bar0", "bar1", "bar2", "bar3", "bar4", "bar5", "rom", "config", "vga",
];

impl TransportCounters {
    fn bump(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    /// Every counter with its name; the per-region counts only where non-zero.
    pub fn snapshot(&self) -> Vec<(String, u64)> {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out: Vec<(String, u64)> = self
            .totals()
            .into_iter()
            .map(|(n, v)| (n.to_string(), v))
            .collect();
        for (i, name) in REGION_NAMES.iter().enumerate() {
            for (what, c) in [
                ("reads", &self.region_reads[i]),
                ("writes", &self.region_writes[i]),
            ] {
                let v = g(c);
                if v > 0 {
                    out.push((format!("vfio_user_region_{what}_{name}"), v));
                }
            }
        }
        out
    }

    fn totals(&self) -> [(&'static str, u64); 5] {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        [
            ("vfio_user_messages", g(&self.messages)),
            ("vfio_user_posted", g(&self.posted)),
            ("vfio_user_refused", g(&self.refused)),
            (
                "vfio_user_connections_dropped",
                g(&self.connections_dropped),
            ),
            ("vfio_user_fds_closed", g(&self.fds_closed)),
        ]
    }
}

/// How a session ended.
#[derive(Debug)]
pub enum SessionEnd {
    /// The client closed the connection between messages.
    Closed,
    /// The connection was dropped: why.
    Dropped(SessionError),
}

#[derive(Debug)]
pub enum SessionError {
    Frame(FrameError),
    /// The first command was not VERSION, or VERSION failed too often.
    Handshake(&'static str),
    /// A reply could not be written (the client stopped reading or went away).
    Send(std::io::Error),
}

impl std::fmt::Display for SessionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SessionError::Frame(e) => write!(f, "{e}"),
            SessionError::Handshake(why) => write!(f, "handshake: {why}"),
            SessionError::Send(e) => write!(f, "reply not taken: {e}"),
        }
    }
}

/// VERSION attempts a client gets before the connection is dropped.
const VERSION_ATTEMPTS: u32 = 3;

/// One client's connection state.
pub struct Session {
    info: DeviceInfo,
    counters: Arc<TransportCounters>,
    negotiated: bool,
    failed_versions: u32,
    /// Reused for every message body: bounded by [`crate::MAX_MESSAGE_SIZE`].
    body: Vec<u8>,
}

/// What handling one message produced.
enum Outcome {
    Reply(Vec<u8>),
    Refused(Errno),
    /// End the connection after the error reply.
    Fatal(Errno, &'static str),
}

impl Session {
    pub fn new(info: DeviceInfo, counters: Arc<TransportCounters>) -> Self {
        Self {
            info,
            counters,
            negotiated: false,
            failed_versions: 0,
            body: Vec::new(),
        }
    }

    /// Serves messages until the client closes or the connection must be dropped.
    pub fn run(&mut self, ch: &mut dyn Channel, backend: &mut dyn Backend) -> SessionEnd {
        loop {
            match self.serve_one(ch, backend) {
                Ok(true) => {}
                Ok(false) => return SessionEnd::Closed,
                Err(e) => {
                    TransportCounters::bump(&self.counters.connections_dropped, 1);
                    return SessionEnd::Dropped(e);
                }
            }
        }
    }

    /// Reads and answers one message; `Ok(false)` when the client closed.
    pub fn serve_one(
        &mut self,
        ch: &mut dyn Channel,
        backend: &mut dyn Backend,
    ) -> Result<bool, SessionError> {
        // Until VERSION, even the first byte must come promptly: a client that
        // connects and says nothing must not hold the socket.
        let idle = (!self.negotiated).then_some(STALL_TIMEOUT);
        let mut body = std::mem::take(&mut self.body);
        let read = read_message(ch, &mut body, idle);
        let result = match read {
            Ok(None) => Ok(false),
            Ok(Some((header, fds))) => self.answer(ch, backend, header, &body, fds).map(|()| true),
            Err(e) => Err(SessionError::Frame(e)),
        };
        self.body = body;
        result
    }

    fn answer(
        &mut self,
        ch: &mut dyn Channel,
        backend: &mut dyn Backend,
        header: Header,
        body: &[u8],
        fds: FdBag,
    ) -> Result<(), SessionError> {
        TransportCounters::bump(&self.counters.messages, 1);
        if header.no_reply() {
            TransportCounters::bump(&self.counters.posted, 1);
        }
        if !header.is_command() {
            if !self.negotiated {
                TransportCounters::bump(&self.counters.refused, 1);
                return Err(SessionError::Handshake(
                    "the first message was not a command",
                ));
            }
            // This server sends no requests, so a client has nothing to reply to.
            tracing::warn!(
                command = header.command,
                flags = header.flags,
                "vfio-user message that is not a command ignored"
            );
            TransportCounters::bump(&self.counters.refused, 1);
            return Ok(());
        }
        let outcome = self.dispatch(backend, &header, body, fds);
        let (reply, fatal) = match outcome {
            Outcome::Reply(r) => (r, None),
            Outcome::Refused(errno) => (self.refusal(&header, errno), None),
            Outcome::Fatal(errno, why) => (self.refusal(&header, errno), Some(why)),
        };
        // A NO_REPLY sender waits for nothing and would take any reply, an error
        // included, as an answer to some other request: it gets none.
        if !header.no_reply() {
            ch.send(&reply).map_err(SessionError::Send)?;
        }
        match fatal {
            Some(why) => Err(SessionError::Handshake(why)),
            None => Ok(()),
        }
    }

    fn refusal(&self, header: &Header, errno: Errno) -> Vec<u8> {
        TransportCounters::bump(&self.counters.refused, 1);
        tracing::warn!(
            command = header.command,
            errno = errno.0,
            "vfio-user request refused: {errno}"
        );
        header.error_reply(errno).encode().to_vec()
    }

    fn dispatch(
        &mut self,
        backend: &mut dyn Backend,
        header: &Header,
        body: &[u8],
        fds: FdBag,
    ) -> Outcome {
        let Some(command) = Command::from_code(header.command) else {
            return self.before_version(Outcome::Refused(Errno::ENOTSUP));
        };
        if fds.len() > command.max_fds() {
            TransportCounters::bump(&self.counters.fds_closed, fds.len() as u64);
            tracing::warn!(
                command = header.command,
                fds = fds.len(),
                "vfio-user message with more descriptors than its command takes: all closed"
            );
            return self.before_version(Outcome::Refused(Errno::EINVAL));
        }
        if command == Command::Version {
            return self.version(header, body);
        }
        if !self.negotiated {
            return Outcome::Fatal(Errno::EPROTO, "the first command was not VERSION");
        }
        let result = match command {
            // Answered above, before the handshake check.
            Command::Version => Err(Errno::EINVAL),
            Command::DmaMap => self.dma_map(backend, header, body, fds),
            Command::DmaUnmap => DmaUnmap::parse(body).and_then(|u| {
                backend.dma_unmap(&u)?;
                Ok(reply(header, u.encode()))
            }),
            Command::DeviceGetInfo => self.device_info(header, body),
            Command::DeviceGetRegionInfo => self.region_info(header, body),
            Command::DeviceGetIrqInfo => self.irq_info(header, body),
            Command::DeviceSetIrqs => self.set_irqs(backend, header, body, fds),
            Command::RegionRead => self.region_read(backend, header, body),
            Command::RegionWrite => self.region_write(backend, header, body),
            Command::DeviceReset => backend.reset().map(|()| reply(header, Vec::new())),
            Command::DeviceGetRegionIoFds
            | Command::DmaRead
            | Command::DmaWrite
            | Command::DirtyPages => Err(Errno::ENOTSUP),
        };
        match result {
            Ok(r) => Outcome::Reply(r),
            Err(e) => Outcome::Refused(e),
        }
    }

    /// Before VERSION, anything but a VERSION ends the connection.
    fn before_version(&self, outcome: Outcome) -> Outcome {
        match (self.negotiated, outcome) {
            (false, Outcome::Refused(e)) => Outcome::Fatal(e, "the first command was not VERSION"),
            (_, o) => o,
        }
    }

    fn version(&mut self, header: &Header, body: &[u8]) -> Outcome {
        if self.negotiated {
            return Outcome::Refused(Errno::EINVAL);
        }
        let parsed = Version::parse(body).and_then(|v| {
            if v.major != 0 {
                return Err(Errno::ENOTSUP);
            }
            Ok(v)
        });
        match parsed {
            Ok(v) => {
                tracing::info!(
                    major = v.major,
                    minor = v.minor,
                    capabilities = %v.capabilities.unwrap_or_default(),
                    "vfio-user client connected"
                );
                self.negotiated = true;
                let json = format!(
                    "{{\"capabilities\":{{\"max_msg_fds\":{MAX_MSG_FDS},\"max_data_xfer_size\":{MAX_DATA_XFER},\"migration\":{{\"pgsize\":4096}}}}}}"
                );
                let body = Writer::default()
                    .u16(0)
                    .u16(0)
                    .bytes(json.as_bytes())
                    .bytes(&[0])
                    .0;
                Outcome::Reply(reply(header, body))
            }
            Err(e) => {
                self.failed_versions += 1;
                if self.failed_versions >= VERSION_ATTEMPTS {
                    Outcome::Fatal(e, "VERSION failed too often")
                } else {
                    Outcome::Refused(e)
                }
            }
        }
    }

    fn dma_map(
        &mut self,
        backend: &mut dyn Backend,
        header: &Header,
        body: &[u8],
        fds: FdBag,
    ) -> Result<Vec<u8>, Errno> {
        let map = DmaMap::parse(body)?;
        let fd = fds.fds.into_iter().next().map(File::from);
        backend.dma_map(&map, fd)?;
        Ok(reply(header, Vec::new()))
    }

    fn device_info(&self, header: &Header, body: &[u8]) -> Result<Vec<u8>, Errno> {
        wire::argsz(body, 16)?;
        let body = Writer::default()
            .u32(16)
            .u32(DEVICE_FLAG_PCI | DEVICE_FLAG_RESET)
            .u32(self.info.regions.len() as u32)
            .u32(self.info.irqs.len() as u32)
            .0;
        Ok(reply(header, body))
    }

    fn region_info(&self, header: &Header, body: &[u8]) -> Result<Vec<u8>, Errno> {
        let index = wire::info_index(body, 32)?;
        let r = self.info.regions.get(index as usize).ok_or(Errno::EINVAL)?;
        let body = Writer::default()
            .u32(32)
            .u32(r.flags)
            .u32(index)
            .u32(0) // cap_offset: no capabilities
            .u64(r.size)
            .u64(0) // offset: regions are reached by messages, not mmap
            .0;
        Ok(reply(header, body))
    }

    fn irq_info(&self, header: &Header, body: &[u8]) -> Result<Vec<u8>, Errno> {
        let index = wire::info_index(body, 16)?;
        let irq = self.info.irqs.get(index as usize).ok_or(Errno::EINVAL)?;
        let body = Writer::default()
            .u32(16)
            .u32(irq.flags)
            .u32(index)
            .u32(irq.count)
            .0;
        Ok(reply(header, body))
    }

    fn set_irqs(
        &mut self,
        backend: &mut dyn Backend,
        header: &Header,
        body: &[u8],
        fds: FdBag,
    ) -> Result<Vec<u8>, Errno> {
        let set = SetIrqs::parse(body)?;
        let irq = self
            .info
            .irqs
            .get(set.index as usize)
            .ok_or(Errno::EINVAL)?;
        // count 0 with DATA_NONE | TRIGGER disables the index; otherwise the
        // vectors must exist, and eventfds come one per vector at most.
        if set.start.saturating_add(set.count) > irq.count && set.count != 0 {
            return Err(Errno::EINVAL);
        }
        if fds.fds.len() > set.count as usize {
            return Err(Errno::EINVAL);
        }
        let files = fds.fds.into_iter().map(File::from).collect();
        backend.set_irqs(&set, files)?;
        Ok(reply(header, Vec::new()))
    }

    /// Checks an access against the region's size and the transfer limit.
    fn access(&self, a: &RegionAccess) -> Result<(), Errno> {
        let r = self
            .info
            .regions
            .get(a.region as usize)
            .ok_or(Errno::EINVAL)?;
        let end = a
            .offset
            .checked_add(u64::from(a.count))
            .ok_or(Errno::EINVAL)?;
        if a.count == 0 || a.count > MAX_DATA_XFER || end > r.size {
            return Err(Errno::EINVAL);
        }
        Ok(())
    }

    fn region_read(
        &self,
        backend: &mut dyn Backend,
        header: &Header,
        body: &[u8],
    ) -> Result<Vec<u8>, Errno> {
        let (a, _) = RegionAccess::parse(body, false)?;
        self.access(&a)?;
        if let Some(c) = self.counters.region_reads.get(a.region as usize) {
            TransportCounters::bump(c, 1);
        }
        let mut out = a.encode().0;
        let at = out.len();
        out.resize(at + a.count as usize, 0);
        backend.region_read(a.region, a.offset, &mut out[at..])?;
        Ok(reply(header, out))
    }

    fn region_write(
        &self,
        backend: &mut dyn Backend,
        header: &Header,
        body: &[u8],
    ) -> Result<Vec<u8>, Errno> {
        let (a, data) = RegionAccess::parse(body, true)?;
        self.access(&a)?;
        if let Some(c) = self.counters.region_writes.get(a.region as usize) {
            TransportCounters::bump(c, 1);
        }
        backend.region_write(a.region, a.offset, data)?;
        Ok(reply(header, a.encode().0))
    }
}

/// A reply: the header for `body`, then `body`.
fn reply(header: &Header, body: Vec<u8>) -> Vec<u8> {
    let mut out = header.reply(body.len()).encode().to_vec();
    out.extend_from_slice(&body);
    out
}

#[cfg(test)]
mod tests;
