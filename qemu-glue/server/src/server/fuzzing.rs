//! The vfio-user server under a hostile client, for the `transport_ops` fuzz
//! target: the input is decoded into a stream of messages (well-formed ones,
//! mutated ones and raw bytes, with memfds and eventfds attached as SCM_RIGHTS
//! would attach them) and served by a real session in front of a real igb.
//!
//! One device, one guest memory and one interrupt table live for the whole
//! campaign: each input is one client connection, and the device is reset
//! after it as `serve` resets it when a client goes away. The invariants:
//! every reply is whole and in order, an error reply carries an errno, and the
//! device model never faulted (a contained panic is still a bug to find).

use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::{Arc, Mutex, OnceLock};

use device_model::factory::{build, Kind, PortConfig};
use vfio_user_transport::wire::{flags, message, Header, Writer, HEADER_SIZE};
use vfio_user_transport::ScriptedChannel;

use super::*;

struct Rig {
    backend: DeviceBackend,
    info: DeviceInfo,
}

fn rig() -> &'static Mutex<Rig> {
    static RIG: OnceLock<Mutex<Rig>> = OnceLock::new();
    RIG.get_or_init(|| {
        let dma = Arc::new(DmaSpace::new());
        let irq = Arc::new(EventfdIrq::default());
        let device = build(
            Kind::Igb,
            PortConfig {
                mac: [2, 0, 0, 0, 0, 1],
                speed_mbps: 1000,
                timing: Default::default(),
            },
            dma.clone(),
            irq.clone(),
            Box::new(device_model::NullSink),
        )
        .expect("an igb builds");
        let backend = DeviceBackend::new(device, dma, irq);
        Mutex::new(Rig {
            info: backend.info(),
            backend,
        })
    })
}

/// Reads the input front to back; past its end every read is 0.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        let (b, rest) = self.0.split_first().map_or((0, &[][..]), |(b, r)| (*b, r));
        self.0 = rest;
        b
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.0.len());
        let (b, rest) = self.0.split_at(n);
        self.0 = rest;
        b.to_vec()
    }
    fn done(&self) -> bool {
        self.0.is_empty()
    }
}

/// Guest memory a DMA_MAP can offer: a sealed 64 KiB memfd.
const MEMFD_SIZE: u64 = 0x10000;

fn memfd() -> Option<OwnedFd> {
    // SAFETY: a new memfd, owned by the OwnedFd; sized and sealed before use.
    let fd = unsafe { libc::memfd_create(c"tunic-fuzz".as_ptr(), libc::MFD_ALLOW_SEALING) };
    if fd < 0 {
        return None;
    }
    // SAFETY: fd is a valid descriptor we own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let f = std::fs::File::from(fd);
    f.set_len(MEMFD_SIZE).ok()?;
    use std::os::fd::AsRawFd;
    // SAFETY: sealing our own memfd.
    unsafe {
        libc::fcntl(
            f.as_raw_fd(),
            libc::F_ADD_SEALS,
            libc::F_SEAL_SHRINK | libc::F_SEAL_GROW,
        )
    };
    Some(f.into())
}

fn eventfd() -> Option<OwnedFd> {
    let ev = vmm_sys_util::eventfd::EventFd::new(libc::EFD_CLOEXEC).ok()?;
    // SAFETY: the new eventfd's ownership moves into the OwnedFd.
    Some(unsafe { OwnedFd::from_raw_fd(std::os::fd::IntoRawFd::into_raw_fd(ev)) })
}

/// Most messages one input becomes: keeps an input's work bounded.
const MAX_MESSAGES: usize = 64;

/// Decodes `data` into a client's byte stream with its attached descriptors.
fn script(data: &[u8]) -> ScriptedChannel {
    let mut input = Input(data);
    let mut stream = Vec::new();
    let mut attachments = Vec::new();
    let mode = input.byte();
    if mode & 1 == 0 {
        stream.extend(message(0, 1, 0, b"\0\0\0\0{\"capabilities\":{}}\0"));
    }
    for id in 1..=MAX_MESSAGES as u16 {
        if input.done() {
            break;
        }
        let op = input.byte();
        let at = stream.len();
        let no_reply = if op & 0x80 != 0 { flags::NO_REPLY } else { 0 };
        let m = match op & 0x7f {
            // A region access the device takes: BAR0, BAR3 or config space.
            0..=47 => {
                let region = [0u32, 3, 7][usize::from(op % 3)];
                let write = op & 0x10 != 0;
                let offset = u64::from(input.u32() & 0x1_fffc);
                let count = [1u32, 2, 4, 8][usize::from(input.byte() & 3)];
                let mut body = Writer::default().u64(offset).u32(region).u32(count);
                if write {
                    body = body.bytes(&input.bytes(count as usize));
                }
                message(id, if write { 10 } else { 9 }, no_reply, &body.0)
            }
            // DMA_MAP of a memfd at a page of the guest's address space.
            48..=55 => {
                let address = u64::from(input.u32() & 0xffff) << 16;
                let size = if op & 1 == 0 {
                    MEMFD_SIZE
                } else {
                    MEMFD_SIZE * 2
                };
                let body = Writer::default()
                    .u32(32)
                    .u32(3)
                    .u64(0)
                    .u64(address)
                    .u64(size)
                    .0;
                if let Some(fd) = memfd() {
                    attachments.push((at, vec![fd]));
                }
                message(id, 2, no_reply, &body)
            }
            // DMA_UNMAP of what might have been mapped, or of everything.
            56..=59 => {
                let address = u64::from(input.u32() & 0xffff) << 16;
                let unmap_flags = if op & 1 == 0 { 0 } else { 2 };
                let body = Writer::default()
                    .u32(24)
                    .u32(unmap_flags)
                    .u64(address)
                    .u64(MEMFD_SIZE)
                    .0;
                message(id, 3, no_reply, &body)
            }
            // SET_IRQS with eventfds for a few vectors.
            60..=67 => {
                let index = u32::from(input.byte() % 5);
                let start = u32::from(input.byte() % 12);
                let count = u32::from(input.byte() % 5);
                let fds: Vec<OwnedFd> = (0..count).filter_map(|_| eventfd()).collect();
                let data = if fds.is_empty() { 1 } else { 4 };
                let body = Writer::default()
                    .u32(20)
                    .u32(data | 0x20)
                    .u32(index)
                    .u32(start)
                    .u32(count)
                    .0;
                attachments.push((at, fds));
                message(id, 8, no_reply, &body)
            }
            // Info queries and reset.
            68..=79 => {
                let command = [4u16, 5, 7, 13][usize::from(op % 4)];
                let body = Writer::default()
                    .u32(32)
                    .u32(0)
                    .u32(u32::from(input.byte() % 12))
                    .u32(0)
                    .u64(0)
                    .u64(0)
                    .0;
                message(id, command, no_reply, &body)
            }
            // Any command with any body, its size field maybe lying.
            80..=111 => {
                let command = u16::from(input.byte());
                let len = usize::from(input.byte());
                let body = input.bytes(len);
                let mut m = message(id, command, u32::from(input.byte()), &body);
                if op & 1 != 0 {
                    let size = input.u32() % (len as u32 + 64);
                    m[4..8].copy_from_slice(&size.to_le_bytes());
                }
                m
            }
            // Raw bytes.
            _ => {
                let len = usize::from(input.byte());
                input.bytes(len)
            }
        };
        stream.extend(m);
    }
    let mut ch = ScriptedChannel::new(stream);
    for (at, fds) in attachments {
        ch.attach(at, fds);
    }
    ch.chunk = 1 + usize::from(mode >> 1);
    ch
}

/// Serves the client `data` decodes to; panics when an invariant breaks.
pub fn run_stream(data: &[u8]) {
    let mut rig = rig().lock().unwrap_or_else(|e| e.into_inner());
    let rig = &mut *rig;
    let mut ch = script(data);
    let counters = Arc::new(TransportCounters::default());
    let faults = crate::containment::contained_faults();
    let _ = Session::new(rig.info.clone(), counters).run(&mut ch, &mut rig.backend);
    check_replies(&ch.sent);
    assert_eq!(
        crate::containment::contained_faults(),
        faults,
        "the device model panicked (contained) on this input"
    );
    // The client went away: as `serve` does.
    rig.backend.device().reset();
    rig.backend.dma.clear();
    rig.backend.irq.clear();
    rig.backend.unshared.clear();
}

/// Every reply is whole, a reply, and an error reply has a real errno.
fn check_replies(sent: &[u8]) {
    let mut at = 0;
    while at < sent.len() {
        let mut h = [0u8; HEADER_SIZE];
        h.copy_from_slice(&sent[at..at + HEADER_SIZE]);
        let h = Header::parse(&h);
        assert_eq!(h.flags & flags::TYPE_MASK, flags::TYPE_REPLY, "{h:?}");
        if h.flags & flags::ERROR != 0 {
            assert_ne!(h.error, 0, "an error reply with errno 0: {h:?}");
            assert_eq!(h.size as usize, HEADER_SIZE);
        }
        assert!(h.size as usize >= HEADER_SIZE);
        at += h.size as usize;
        assert!(at <= sent.len(), "a reply's size overruns what was sent");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn random_inputs_hold_the_invariants() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for len in 0..400usize {
            let data: Vec<u8> = (0..len * 3)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            super::run_stream(&data);
        }
    }
}
