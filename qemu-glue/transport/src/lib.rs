//! tunic's vfio-user protocol layer, for a server that trusts no client.
//!
//! The protocol is small: a 16-byte header and a dozen commands over a Unix
//! socket, file descriptors riding along for guest memory and interrupts. What
//! this crate adds over a straight decoding is the set of guarantees a device
//! model needs when the client may be hostile or broken:
//!
//! - every size is checked against a limit before anything is allocated
//!   ([`MAX_MESSAGE_SIZE`], [`MAX_MSG_FDS`]);
//! - each message is read whole before it is parsed, so a short, oversized or
//!   malformed body is answered with an errno and the stream stays in step;
//!   a message that cannot be read whole (over the size limit, cut off, too
//!   slow) ends the connection;
//! - a client that stalls part-way through a message, or never says VERSION,
//!   is dropped after [`STALL_TIMEOUT`], and one that stops reading replies
//!   after the same time on its writes, so no client holds the socket;
//! - file descriptors beyond what a command carries are closed, never kept.
//!
//! [`session::Session`] dispatches commands to a [`session::Backend`] (the
//! device); [`channel::Channel`] is where bytes and fds come from, a Unix
//! socket in production and a byte string in tests and fuzzing.

pub mod channel;
pub mod listener;
pub mod session;
pub mod wire;

use std::time::Duration;

pub use channel::{Channel, ScriptedChannel, UnixChannel};
pub use listener::Listener;
pub use session::{Backend, DeviceInfo, IrqInfo, RegionInfo, Session};

/// The largest data transfer a region access may carry, advertised in VERSION
/// (QEMU splits larger accesses; config space, 4 KiB, is the largest it reads).
pub const MAX_DATA_XFER: u32 = 1 << 20;

/// The largest message accepted, header included: a region write of
/// [`MAX_DATA_XFER`] bytes. Anything declaring more ends the connection
/// before a byte of its body is read or allocated.
pub const MAX_MESSAGE_SIZE: u32 = wire::HEADER_SIZE as u32 + 16 + MAX_DATA_XFER;

/// File descriptors one message may carry, advertised in VERSION (the most
/// QEMU sends in one message). More are closed on arrival.
pub const MAX_MSG_FDS: usize = 16;

/// How long a client may take to finish a message it started, to send VERSION
/// after connecting, or to take a reply off the socket.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(5);

/// An errno for an error reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    pub const EINVAL: Errno = Errno(libc::EINVAL);
    pub const ENOTSUP: Errno = Errno(libc::ENOTSUP);
    pub const E2BIG: Errno = Errno(libc::E2BIG);
    pub const EPROTO: Errno = Errno(libc::EPROTO);
    pub const EFAULT: Errno = Errno(libc::EFAULT);
    pub const EIO: Errno = Errno(libc::EIO);

    /// The errno of an I/O error, `EIO` when it has none (never 0).
    pub fn from_io(e: &std::io::Error) -> Self {
        match e.raw_os_error() {
            Some(n) if n > 0 => Errno(n),
            _ => Errno::EIO,
        }
    }
}

impl std::fmt::Display for Errno {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", std::io::Error::from_raw_os_error(self.0))
    }
}
