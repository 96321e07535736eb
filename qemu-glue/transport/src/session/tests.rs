use std::os::fd::{FromRawFd, OwnedFd};

use super::*;
use crate::channel::ScriptedChannel;
use crate::wire::{flags, HEADER_SIZE};

/// A device with one 4 KiB region 0 and an MSI-X index of 4 vectors, that
/// records what reached it.
#[derive(Default)]
struct Recorder {
    writes: Vec<(u32, u64, Vec<u8>)>,
    maps: Vec<(DmaMap, bool)>,
    irq_fds: usize,
}

impl Backend for Recorder {
    fn region_read(&mut self, _r: u32, offset: u64, data: &mut [u8]) -> Result<(), Errno> {
        data.iter_mut()
            .enumerate()
            .for_each(|(i, b)| *b = (offset as usize + i) as u8);
        Ok(())
    }
    fn region_write(&mut self, r: u32, offset: u64, data: &[u8]) -> Result<(), Errno> {
        self.writes.push((r, offset, data.to_vec()));
        Ok(())
    }
    fn dma_map(&mut self, map: &DmaMap, fd: Option<File>) -> Result<(), Errno> {
        self.maps.push((*map, fd.is_some()));
        Ok(())
    }
    fn dma_unmap(&mut self, _u: &DmaUnmap) -> Result<(), Errno> {
        Ok(())
    }
    fn set_irqs(&mut self, _s: &SetIrqs, fds: Vec<File>) -> Result<(), Errno> {
        self.irq_fds += fds.len();
        Ok(())
    }
    fn reset(&mut self) -> Result<(), Errno> {
        Ok(())
    }
}

fn info() -> DeviceInfo {
    DeviceInfo {
        regions: vec![RegionInfo {
            flags: REGION_FLAG_READ | REGION_FLAG_WRITE,
            size: 0x1000,
        }],
        irqs: vec![IrqInfo { flags: 1, count: 4 }],
    }
}

use crate::wire::message;

fn version(json: &[u8]) -> Vec<u8> {
    let mut body = vec![0, 0, 0, 0];
    body.extend_from_slice(json);
    message(1, 1, 0, &body)
}

fn good_version() -> Vec<u8> {
    version(b"{\"capabilities\":{\"max_msg_fds\":8}}\0")
}

fn region_read(id: u16, offset: u64, count: u32) -> Vec<u8> {
    let a = RegionAccess {
        offset,
        region: 0,
        count,
    };
    message(id, 9, 0, &a.encode().0)
}

/// Replies in what the server sent: (header, body).
fn replies(sent: &[u8]) -> Vec<(Header, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + HEADER_SIZE <= sent.len() {
        let mut h = [0u8; HEADER_SIZE];
        h.copy_from_slice(&sent[at..at + HEADER_SIZE]);
        let h = Header::parse(&h);
        let end = at + h.size as usize;
        assert!(
            end <= sent.len(),
            "a reply's size covers only what was sent"
        );
        out.push((h, sent[at + HEADER_SIZE..end].to_vec()));
        at = end;
    }
    assert_eq!(at, sent.len(), "replies are whole");
    out
}

/// How a scripted session ended, what it answered, what reached the device, its counts.
type Ran = (
    SessionEnd,
    Vec<(Header, Vec<u8>)>,
    Recorder,
    Arc<TransportCounters>,
);

fn run(input: Vec<u8>) -> Ran {
    let mut ch = ScriptedChannel::new(input);
    run_on(&mut ch)
}

fn run_on(ch: &mut ScriptedChannel) -> Ran {
    let counters = Arc::new(TransportCounters::default());
    let mut backend = Recorder::default();
    let end = Session::new(info(), counters.clone()).run(ch, &mut backend);
    (end, replies(&ch.sent), backend, counters)
}

fn is_error(h: &Header, errno: i32) -> bool {
    h.flags & flags::ERROR != 0 && h.error == errno as u32
}

#[test]
fn version_answers_with_nul_terminated_capabilities() {
    let (end, r, _, _) = run(good_version());
    assert!(matches!(end, SessionEnd::Closed));
    let (h, body) = &r[0];
    assert_eq!((h.command, h.flags), (1, flags::TYPE_REPLY));
    assert_eq!(&body[..4], &[0, 0, 0, 0], "version 0.0");
    assert_eq!(body.last(), Some(&0));
    let v = Version::parse(body).unwrap();
    let caps = &v.capabilities.unwrap()["capabilities"];
    assert_eq!(caps["max_msg_fds"], MAX_MSG_FDS);
    assert_eq!(caps["max_data_xfer_size"], MAX_DATA_XFER);
}

#[test]
fn a_version_without_its_nul_is_refused_and_the_next_one_served() {
    let mut input = version(b"{\"capabilities\":{}}");
    input.extend(good_version());
    input.extend(region_read(2, 0x10, 4));
    let (end, r, _, _) = run(input);
    assert!(matches!(end, SessionEnd::Closed));
    assert!(is_error(&r[0].0, libc::EINVAL));
    assert_eq!(r[1].0.flags, flags::TYPE_REPLY);
    assert_eq!(&r[2].1[16..], &[0x10, 0x11, 0x12, 0x13]);
}

#[test]
fn repeated_bad_versions_end_the_connection() {
    let input = [version(b"{"), version(b"[]\0"), version(b"x\0")].concat();
    let (end, r, _, c) = run(input);
    assert!(matches!(
        end,
        SessionEnd::Dropped(SessionError::Handshake(_))
    ));
    assert_eq!(r.len(), 3);
    assert!(r.iter().all(|(h, _)| is_error(h, libc::EINVAL)));
    assert_eq!(c.connections_dropped.load(Ordering::Relaxed), 1);
}

#[test]
fn a_command_before_version_ends_the_connection() {
    let input = [region_read(1, 0, 4), good_version()].concat();
    let (end, r, _, _) = run(input);
    assert!(matches!(
        end,
        SessionEnd::Dropped(SessionError::Handshake(_))
    ));
    assert_eq!(r.len(), 1);
    assert!(is_error(&r[0].0, libc::EPROTO));
}

#[test]
fn unsupported_and_unknown_commands_keep_the_stream_in_step() {
    let mut input = good_version();
    input.extend(message(2, 11, 0, &[0xaa; 24])); // DMA_READ
    input.extend(message(3, 0x7777, 0, &[0x55; 64])); // not a command at all
    input.extend(message(4, 6, 0, &[0; 40])); // GET_REGION_IO_FDS
    input.extend(region_read(5, 0x20, 2));
    let (end, r, _, c) = run(input);
    assert!(matches!(end, SessionEnd::Closed));
    assert_eq!(r.len(), 5);
    for (h, _) in &r[1..4] {
        assert!(is_error(h, libc::ENOTSUP), "{h:?}");
    }
    assert_eq!((r[4].0.id, &r[4].1[16..]), (5, &[0x20u8, 0x21][..]));
    assert_eq!(c.refused.load(Ordering::Relaxed), 3);
}

#[test]
fn accesses_outside_a_region_or_the_transfer_limit_are_refused() {
    let mut input = good_version();
    input.extend(region_read(2, 0, u32::MAX));
    input.extend(region_read(3, 0xffc, 8));
    input.extend(region_read(4, u64::MAX - 1, 4));
    input.extend(region_read(5, 0, 0));
    input.extend(message(6, 9, 0, &[0; 15])); // short body
    let a = RegionAccess {
        offset: 0,
        region: 3,
        count: 4,
    };
    input.extend(message(7, 10, 0, &a.encode().bytes(&[1, 2, 3, 4]).0)); // no region 3
    let (_, r, b, _) = run(input);
    assert_eq!(r.len(), 7);
    assert!(r[1..].iter().all(|(h, _)| is_error(h, libc::EINVAL)));
    assert!(b.writes.is_empty());
}

#[test]
fn a_posted_write_gets_no_reply_even_when_refused() {
    let mut input = good_version();
    let ok = RegionAccess {
        offset: 8,
        region: 0,
        count: 4,
    };
    let bad = RegionAccess {
        offset: 0x2000,
        ..ok
    };
    input.extend(message(
        2,
        10,
        flags::NO_REPLY,
        &ok.encode().bytes(&[9; 4]).0,
    ));
    input.extend(message(
        3,
        10,
        flags::NO_REPLY,
        &bad.encode().bytes(&[9; 4]).0,
    ));
    let (_, r, b, c) = run(input);
    assert_eq!(r.len(), 1, "only VERSION is answered");
    assert_eq!(b.writes, vec![(0, 8, vec![9; 4])]);
    assert_eq!(
        c.refused.load(Ordering::Relaxed),
        1,
        "the refusal is counted"
    );
    assert_eq!(
        c.posted.load(Ordering::Relaxed),
        2,
        "both were posted; VERSION was not"
    );
}

#[test]
fn a_four_gib_message_ends_the_connection_unread() {
    let mut input = good_version();
    let mut huge = message(2, 10, 0, &[]);
    huge[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    input.extend(huge);
    input.extend(region_read(3, 0, 4));
    let (end, r, _, _) = run(input);
    assert!(matches!(
        end,
        SessionEnd::Dropped(SessionError::Frame(FrameError::TooLarge(_)))
    ));
    assert_eq!(r.len(), 1);
}

fn eventfds(n: usize) -> Vec<OwnedFd> {
    // SAFETY: new eventfds, each owned by one OwnedFd.
    (0..n)
        .map(|_| unsafe { OwnedFd::from_raw_fd(libc::eventfd(0, 0)) })
        .collect()
}

fn set_irqs(id: u16, start: u32, count: u32) -> Vec<u8> {
    let body = Writer::default()
        .u32(20)
        .u32(SetIrqs::DATA_EVENTFD | SetIrqs::ACTION_TRIGGER)
        .u32(0)
        .u32(start)
        .u32(count)
        .0;
    message(id, 8, 0, &body)
}

#[test]
fn descriptors_reach_the_device_only_as_their_command_takes_them() {
    let mut input = good_version();
    let mut offsets = Vec::new();
    for (id, msg) in [
        (2, set_irqs(2, 0, 4)),
        (3, set_irqs(3, 0, 4)),
        (4, set_irqs(4, 2, 4)),
        (5, region_read(5, 0, 4)),
    ] {
        offsets.push((id, input.len()));
        input.extend(msg);
    }
    let mut ch = ScriptedChannel::new(input);
    ch.attach(offsets[0].1, eventfds(4));
    ch.attach(offsets[1].1, eventfds(MAX_MSG_FDS + 1));
    ch.attach(offsets[2].1, eventfds(1));
    ch.attach(offsets[3].1, eventfds(1));
    let (_, r, b, c) = run_on(&mut ch);
    assert_eq!(
        r[1].0.flags,
        flags::TYPE_REPLY,
        "four eventfds for four vectors"
    );
    assert!(
        is_error(&r[2].0, libc::EINVAL),
        "more than a message may carry"
    );
    assert!(
        is_error(&r[3].0, libc::EINVAL),
        "vectors past the index's count"
    );
    assert!(
        is_error(&r[4].0, libc::EINVAL),
        "a read carries no descriptor"
    );
    assert_eq!(b.irq_fds, 4);
    assert_eq!(c.fds_closed.load(Ordering::Relaxed), MAX_MSG_FDS as u64 + 2);
}

#[test]
fn dma_map_passes_its_descriptor() {
    let mut input = good_version();
    let at = input.len();
    let body = Writer::default()
        .u32(32)
        .u32(3)
        .u64(0)
        .u64(0x10_0000)
        .u64(0x1000)
        .0;
    input.extend(message(2, 2, 0, &body));
    let mut ch = ScriptedChannel::new(input);
    ch.attach(at, eventfds(1));
    let (_, r, b, _) = run_on(&mut ch);
    assert_eq!(r[1].0.flags, flags::TYPE_REPLY);
    assert_eq!(b.maps.len(), 1);
    assert!(b.maps[0].1, "the fd came along");
    assert_eq!(b.maps[0].0.address, 0x10_0000);
}

/// Random streams, some built from valid headers: whatever comes in, every
/// reply is whole and every error reply carries a real errno.
#[test]
fn random_streams_get_whole_replies_with_real_errnos() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for round in 0..2000 {
        let mut input = if round % 4 == 0 {
            Vec::new()
        } else {
            good_version()
        };
        for _ in 0..(next() % 8) {
            let command = (next() % 16) as u16;
            let len = (next() % 48) as usize;
            let body: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let flags = if next() % 5 == 0 { flags::NO_REPLY } else { 0 };
            let mut m = message(next() as u16, command, flags, &body);
            if next() % 7 == 0 {
                let cut = (next() as usize) % m.len();
                m.truncate(cut);
            }
            input.extend(m);
        }
        let mut ch = ScriptedChannel::new(input);
        ch.chunk = 1 + (next() % 20) as usize;
        let (_, r, _, _) = run_on(&mut ch);
        for (h, _) in r {
            assert_eq!(h.flags & flags::TYPE_MASK, flags::TYPE_REPLY);
            if h.flags & flags::ERROR != 0 {
                assert_ne!(h.error, 0, "round {round}: errno 0 in {h:?}");
            }
        }
    }
}
