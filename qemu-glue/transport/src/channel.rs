//! Where a session's bytes and file descriptors come from: a Unix socket in
//! production, a byte string in tests and fuzzing. [`read_message`] frames
//! messages on either with every limit the crate promises.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use crate::wire::{Header, HEADER_SIZE};
use crate::{MAX_MESSAGE_SIZE, MAX_MSG_FDS, STALL_TIMEOUT};

/// File descriptors that arrived with a message: at most [`MAX_MSG_FDS`] are
/// kept, the rest closed on arrival and counted.
#[derive(Debug, Default)]
pub struct FdBag {
    pub fds: Vec<OwnedFd>,
    /// Descriptors closed because the message carried more than the limit.
    pub dropped: usize,
}

impl FdBag {
    pub fn push(&mut self, fd: OwnedFd) {
        if self.fds.len() < MAX_MSG_FDS {
            self.fds.push(fd);
        } else {
            self.dropped += 1; // `fd` is closed here.
        }
    }

    pub fn len(&self) -> usize {
        self.fds.len() + self.dropped
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A byte stream with file descriptors attached to some of its bytes.
pub trait Channel {
    /// Reads up to `buf.len()` bytes and the descriptors that came with them.
    /// `Ok(0)` means the peer closed its end.
    fn recv(&mut self, buf: &mut [u8], fds: &mut FdBag) -> io::Result<usize>;
    /// Writes all of `bytes`, or fails (a peer that does not read for
    /// [`STALL_TIMEOUT`] fails it).
    fn send(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// How long the next reads may wait for data; `None` waits for ever.
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()>;
}

/// Why a message could not be read whole. Each ends the connection: the
/// stream can no longer be trusted to be in step.
#[derive(Debug)]
pub enum FrameError {
    /// The declared size is below a header's.
    TooSmall(u32),
    /// The declared size is above [`MAX_MESSAGE_SIZE`]; nothing was allocated for it.
    TooLarge(u32),
    /// The peer closed part-way through a message.
    Truncated {
        had: usize,
        wanted: usize,
    },
    /// The peer stopped part-way through a message (or never sent VERSION).
    Stalled,
    Io(io::Error),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::TooSmall(n) => write!(f, "message size {n} is smaller than its header"),
            FrameError::TooLarge(n) => {
                write!(
                    f,
                    "message size {n} is over the limit of {MAX_MESSAGE_SIZE}"
                )
            }
            FrameError::Truncated { had, wanted } => {
                write!(
                    f,
                    "connection closed {had} bytes into a {wanted}-byte message"
                )
            }
            FrameError::Stalled => write!(
                f,
                "client stalled for {} s part-way through a message",
                STALL_TIMEOUT.as_secs()
            ),
            FrameError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for FrameError {}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Fills `buf` from `ch`; `done` bytes of the message were read before.
fn fill(
    ch: &mut dyn Channel,
    buf: &mut [u8],
    fds: &mut FdBag,
    done: usize,
    wanted: usize,
) -> Result<(), FrameError> {
    let mut at = 0;
    while at < buf.len() {
        match ch.recv(&mut buf[at..], fds) {
            Ok(0) => {
                return Err(FrameError::Truncated {
                    had: done + at,
                    wanted,
                })
            }
            Ok(n) => at += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if is_timeout(&e) => return Err(FrameError::Stalled),
            Err(e) => return Err(FrameError::Io(e)),
        }
    }
    Ok(())
}

/// Reads one whole message into `body` (resized to fit; its capacity is
/// reused). `idle` is how long to wait for the message's first byte. Returns
/// `None` when the peer closed between messages.
pub fn read_message(
    ch: &mut dyn Channel,
    body: &mut Vec<u8>,
    idle: Option<Duration>,
) -> Result<Option<(Header, FdBag)>, FrameError> {
    let mut fds = FdBag::default();
    let mut head = [0u8; HEADER_SIZE];
    ch.set_read_timeout(idle).map_err(FrameError::Io)?;
    let first = loop {
        match ch.recv(&mut head, &mut fds) {
            Ok(0) => return Ok(None),
            Ok(n) => break n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if is_timeout(&e) => return Err(FrameError::Stalled),
            Err(e) => return Err(FrameError::Io(e)),
        }
    };
    // From the first byte on, the rest of the message must follow promptly.
    ch.set_read_timeout(Some(STALL_TIMEOUT))
        .map_err(FrameError::Io)?;
    fill(ch, &mut head[first..], &mut fds, first, HEADER_SIZE)?;
    let header = Header::parse(&head);
    if (header.size as usize) < HEADER_SIZE {
        return Err(FrameError::TooSmall(header.size));
    }
    if header.size > MAX_MESSAGE_SIZE {
        return Err(FrameError::TooLarge(header.size));
    }
    let len = header.size as usize - HEADER_SIZE;
    body.clear();
    body.resize(len, 0);
    fill(ch, body, &mut fds, HEADER_SIZE, header.size as usize)?;
    Ok(Some((header, fds)))
}

/// A connected vfio-user client socket.
pub struct UnixChannel {
    stream: UnixStream,
}

impl UnixChannel {
    /// Replies that the client does not take off the socket for
    /// [`STALL_TIMEOUT`] end the connection instead of blocking the server.
    pub fn new(stream: UnixStream) -> io::Result<Self> {
        stream.set_write_timeout(Some(STALL_TIMEOUT))?;
        Ok(Self { stream })
    }
}

/// Control-message room for [`MAX_MSG_FDS`] descriptors.
const CMSG_ROOM: usize = 64 + MAX_MSG_FDS * std::mem::size_of::<libc::c_int>();

impl Channel for UnixChannel {
    fn recv(&mut self, buf: &mut [u8], fds: &mut FdBag) -> io::Result<usize> {
        // u64 words keep the control buffer aligned for cmsghdr.
        let mut control = [0u64; CMSG_ROOM / 8];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: msghdr is plain data; every pointer in it refers to a buffer
        // that outlives the call, with its true length.
        let (n, msg) = unsafe {
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = std::mem::size_of_val(&control) as _;
            let n = libc::recvmsg(self.stream.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC);
            (n, msg)
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the kernel filled `control` up to msg_controllen with well-formed
        // cmsghdrs; CMSG_* walk only within it. Each SCM_RIGHTS descriptor is new to
        // this process and owned by exactly one OwnedFd from here on.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                    let data = libc::CMSG_DATA(c) as *const libc::c_int;
                    let bytes = (*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                    for i in 0..bytes / std::mem::size_of::<libc::c_int>() {
                        let fd = std::ptr::read_unaligned(data.add(i));
                        fds.push(OwnedFd::from_raw_fd(fd));
                    }
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
        }
        if msg.msg_flags & libc::MSG_CTRUNC != 0 {
            // More descriptors than the buffer holds: the kernel closed the rest.
            fds.dropped += 1;
        }
        Ok(n as usize)
    }

    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        use std::io::Write;
        self.stream.write_all(bytes)
    }

    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.stream.set_read_timeout(timeout)
    }
}

/// A client's bytes from memory, with descriptors attached at chosen offsets
/// the way SCM_RIGHTS attaches them: a read never crosses into the bytes of the
/// next attachment, so each attachment arrives with its first byte. What the
/// server sends is collected in `sent`. For tests and fuzzing.
pub struct ScriptedChannel {
    input: Vec<u8>,
    at: usize,
    attachments: VecDeque<(usize, Vec<OwnedFd>)>,
    /// Largest read handed out at once (1 exercises every partial-read path).
    pub chunk: usize,
    pub sent: Vec<u8>,
}

impl ScriptedChannel {
    pub fn new(input: Vec<u8>) -> Self {
        Self {
            input,
            at: 0,
            attachments: VecDeque::new(),
            chunk: usize::MAX,
            sent: Vec::new(),
        }
    }

    /// Attaches `fds` to the byte at `offset`; offsets must be given in order.
    pub fn attach(&mut self, offset: usize, fds: Vec<OwnedFd>) {
        self.attachments.push_back((offset, fds));
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.input.len() - self.at
    }
}

impl Channel for ScriptedChannel {
    fn recv(&mut self, buf: &mut [u8], fds: &mut FdBag) -> io::Result<usize> {
        while self.attachments.front().is_some_and(|(o, _)| *o < self.at) {
            self.attachments.pop_front(); // attached to bytes already passed: lost, as a closed fd.
        }
        let mut end = self
            .input
            .len()
            .min(self.at.saturating_add(buf.len().min(self.chunk)));
        match self.attachments.front() {
            Some((o, _)) if *o == self.at => {
                if let Some((_, attached)) = self.attachments.pop_front() {
                    attached.into_iter().for_each(|f| fds.push(f));
                }
                if let Some((next, _)) = self.attachments.front() {
                    end = end.min(*next);
                }
            }
            Some((o, _)) => end = end.min(*o),
            None => {}
        }
        let n = end.saturating_sub(self.at);
        buf[..n].copy_from_slice(&self.input[self.at..end]);
        self.at = end;
        Ok(n)
    }

    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.sent.extend_from_slice(bytes);
        Ok(())
    }

    fn set_read_timeout(&mut self, _timeout: Option<Duration>) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message whose size field says `size`, whatever the body's length.
    fn message(command: u16, size: u32, body: &[u8]) -> Vec<u8> {
        let mut m = crate::wire::message(1, command, 0, body);
        m[4..8].copy_from_slice(&size.to_le_bytes());
        m
    }

    #[test]
    fn a_message_arrives_whole_through_one_byte_reads() {
        let mut ch = ScriptedChannel::new(message(9, 20, &[1, 2, 3, 4]));
        ch.chunk = 1;
        let mut body = Vec::new();
        let (h, fds) = read_message(&mut ch, &mut body, None).unwrap().unwrap();
        assert_eq!((h.command, &body[..]), (9, &[1u8, 2, 3, 4][..]));
        assert!(fds.is_empty());
        assert!(read_message(&mut ch, &mut body, None).unwrap().is_none());
    }

    #[test]
    fn sizes_are_checked_before_anything_is_allocated() {
        let mut body = Vec::new();
        let mut ch = ScriptedChannel::new(message(1, u32::MAX, &[]));
        assert!(matches!(
            read_message(&mut ch, &mut body, None),
            Err(FrameError::TooLarge(u32::MAX))
        ));
        assert_eq!(
            body.capacity(),
            0,
            "nothing allocated for the declared size"
        );
        let mut ch = ScriptedChannel::new(message(1, 3, &[]));
        assert!(matches!(
            read_message(&mut ch, &mut body, None),
            Err(FrameError::TooSmall(3))
        ));
        let mut ch = ScriptedChannel::new(message(1, 40, &[0; 10]));
        assert!(matches!(
            read_message(&mut ch, &mut body, None),
            Err(FrameError::Truncated {
                had: 26,
                wanted: 40
            })
        ));
        let mut ch = ScriptedChannel::new(vec![1, 0, 1]);
        assert!(matches!(
            read_message(&mut ch, &mut body, None),
            Err(FrameError::Truncated { had: 3, wanted: 16 })
        ));
    }

    fn eventfd() -> OwnedFd {
        // SAFETY: a new eventfd, owned by the OwnedFd.
        unsafe { OwnedFd::from_raw_fd(libc::eventfd(0, 0)) }
    }

    #[test]
    fn descriptors_past_the_limit_are_closed_and_counted() {
        let mut ch = ScriptedChannel::new(message(8, 16, &[]));
        ch.attach(0, (0..MAX_MSG_FDS + 3).map(|_| eventfd()).collect());
        let mut body = Vec::new();
        let (_, fds) = read_message(&mut ch, &mut body, None).unwrap().unwrap();
        assert_eq!((fds.fds.len(), fds.dropped), (MAX_MSG_FDS, 3));
    }

    #[test]
    fn real_sockets_carry_descriptors_and_time_out_a_stall() {
        let (a, b) = UnixStream::pair().unwrap();
        let mut server = UnixChannel::new(a).unwrap();
        let fd = eventfd();
        let bytes = message(2, 16, &[]);
        let iov = [io::IoSlice::new(&bytes)];
        send_with_fds(&b, &iov, &[fd.as_raw_fd()]);
        let mut body = Vec::new();
        let (h, fds) = read_message(&mut server, &mut body, None).unwrap().unwrap();
        assert_eq!((h.command, fds.fds.len()), (2, 1));
        // Half a header, then silence: the read gives up instead of waiting for ever.
        use std::io::Write;
        (&b).write_all(&[1, 0, 1]).unwrap();
        let mut quick = UnixChannelWithTimeout(server, Duration::from_millis(50));
        assert!(matches!(
            read_message(&mut quick, &mut body, None),
            Err(FrameError::Stalled)
        ));
    }

    /// A [`UnixChannel`] whose stall timeout is short, to keep the test quick.
    struct UnixChannelWithTimeout(UnixChannel, Duration);

    impl Channel for UnixChannelWithTimeout {
        fn recv(&mut self, buf: &mut [u8], fds: &mut FdBag) -> io::Result<usize> {
            self.0.recv(buf, fds)
        }
        fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
            self.0.send(bytes)
        }
        fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
            self.0.set_read_timeout(timeout.map(|_| self.1))
        }
    }

    fn send_with_fds(s: &UnixStream, iov: &[io::IoSlice], fds: &[libc::c_int]) {
        let mut control = [0u64; CMSG_ROOM / 8];
        // SAFETY: msghdr is plain data pointing at live buffers of the given lengths.
        let n = unsafe {
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_iov = iov.as_ptr() as *mut libc::iovec;
            msg.msg_iovlen = iov.len() as _;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = libc::CMSG_SPACE(std::mem::size_of_val(fds) as u32) as _;
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(std::mem::size_of_val(fds) as u32) as _;
            std::ptr::copy_nonoverlapping(
                fds.as_ptr(),
                libc::CMSG_DATA(c) as *mut libc::c_int,
                fds.len(),
            );
            libc::sendmsg(s.as_raw_fd(), &msg, 0)
        };
        assert!(n > 0);
    }
}
