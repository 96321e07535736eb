//! Interrupt delivery through the eventfds QEMU hands over with SET_IRQS.

use std::fs::File;
use std::os::fd::{FromRawFd, IntoRawFd};
use std::sync::RwLock;

use device_model::IrqSink;
use vmm_sys_util::eventfd::EventFd;

/// vfio IRQ indexes.
pub const INTX: u32 = 0;
pub const MSI: u32 = 1;
pub const MSIX: u32 = 2;
pub const ERR: u32 = 3;
pub const REQ: u32 = 4;

const ACTION_MASK: u32 = 1 << 3;
const ACTION_UNMASK: u32 = 1 << 4;
const ACTION_TRIGGER: u32 = 1 << 5;
const DATA_NONE: u32 = 1 << 0;
const DATA_EVENTFD: u32 = 1 << 2;

#[derive(Default)]
struct Routes {
    intx: Option<EventFd>,
    msi: Option<EventFd>,
    msix: Vec<Option<EventFd>>,
}

/// The eventfds of one PCI function, per IRQ index.
#[derive(Default)]
pub struct EventfdIrq {
    routes: RwLock<Routes>,
}

fn signal(f: &EventFd) -> bool {
    // An eventfd adds the value written to its counter.
    f.write(1).is_ok()
}

/// An interrupt fd must be an eventfd, and it is written without blocking: any other
/// fd (a pipe, a socket) would block the port, device lock held, once its buffer
/// filled. An eventfd's write only fails (EAGAIN) when its counter is about to
/// overflow, and then the interrupt is lost, as a real MSI would be, not the port.
fn usable_eventfd(f: File) -> std::io::Result<EventFd> {
    use std::os::fd::AsRawFd;
    let fd = f.as_raw_fd();
    let kind = std::fs::read_link(format!("/proc/self/fd/{fd}"))?;
    if kind.as_os_str() != "anon_inode:[eventfd]" {
        tracing::warn!(fd = %kind.display(), "SET_IRQS with an fd that is not an eventfd refused");
        return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: reading and setting the status flags of a descriptor we own.
    let ok = unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        fl >= 0 && libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK) == 0
    };
    if !ok {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `f` is an eventfd (checked above) whose ownership moves into the EventFd.
    Ok(unsafe { EventFd::from_raw_fd(f.into_raw_fd()) })
}

impl EventfdIrq {
    pub fn clear(&self) {
        *self.routes.write().unwrap_or_else(|e| e.into_inner()) = Routes::default();
    }

    /// Applies a VFIO_USER_DEVICE_SET_IRQS request.
    pub fn set_irqs(
        &self,
        index: u32,
        flags: u32,
        start: u32,
        count: u32,
        fds: Vec<File>,
    ) -> std::io::Result<()> {
        let mut r = self.routes.write().unwrap_or_else(|e| e.into_inner());
        if flags & (ACTION_MASK | ACTION_UNMASK) != 0 {
            // Masking is done by QEMU for MSI/MSI-X; for INTx the line is re-armed by the next assertion.
            return Ok(());
        }
        if flags & ACTION_TRIGGER == 0 {
            return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
        }
        let assign = flags & DATA_EVENTFD != 0 && !fds.is_empty();
        let fds: Vec<EventFd> = if assign {
            fds.into_iter()
                .map(usable_eventfd)
                .collect::<std::io::Result<_>>()?
        } else {
            Vec::new()
        };
        if flags & DATA_NONE != 0 && count > 0 && index != MSIX {
            // DATA_NONE with TRIGGER fires the interrupt (a test hook).
            match index {
                INTX => r.intx.as_ref().map(signal),
                MSI => r.msi.as_ref().map(signal),
                _ => None,
            };
            return Ok(());
        }
        match index {
            INTX => r.intx = if assign { fds.into_iter().next() } else { None },
            MSI => r.msi = if assign { fds.into_iter().next() } else { None },
            MSIX => {
                if !assign {
                    if count == 0 {
                        r.msix.clear();
                    } else {
                        for v in start..start.saturating_add(count) {
                            if let Some(slot) = r.msix.get_mut(v as usize) {
                                *slot = None;
                            }
                        }
                    }
                } else {
                    let end = start as usize + fds.len();
                    if end > 2048 {
                        return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
                    }
                    if r.msix.len() < end {
                        r.msix.resize_with(end, || None);
                    }
                    if fds.len() as u32 != count {
                        tracing::debug!(
                            start,
                            count,
                            fds = fds.len(),
                            "MSI-X SET_IRQS with fewer fds than vectors: assigned in order"
                        );
                    }
                    for (i, f) in fds.into_iter().enumerate() {
                        r.msix[start as usize + i] = Some(f);
                    }
                }
                tracing::debug!(
                    vectors = r.msix.iter().filter(|f| f.is_some()).count(),
                    "MSI-X routes"
                );
            }
            ERR | REQ => {}
            _ => return Err(std::io::Error::from_raw_os_error(libc::EINVAL)),
        }
        Ok(())
    }
}

impl IrqSink for EventfdIrq {
    fn msix(&self, vector: u16) -> bool {
        let r = self.routes.read().unwrap_or_else(|e| e.into_inner());
        r.msix
            .get(usize::from(vector))
            .and_then(|f| f.as_ref())
            .is_some_and(signal)
    }

    fn msix_enabled(&self) -> bool {
        let r = self.routes.read().unwrap_or_else(|e| e.into_inner());
        r.msix.iter().any(|f| f.is_some())
    }

    fn legacy(&self, asserted: bool) {
        if !asserted {
            return;
        }
        let r = self.routes.read().unwrap_or_else(|e| e.into_inner());
        // With MSI-X enabled but the device not in MSI-X mode (GPIE.MSIX_MODE clear, as
        // after a reset), the 82576 signals its legacy causes on vector 0.
        let route = r
            .msix
            .first()
            .and_then(|f| f.as_ref())
            .or(r.msi.as_ref())
            .or(r.intx.as_ref());
        if let Some(f) = route {
            signal(f);
        }
    }
}

#[cfg(test)]
mod fd_tests {
    use super::*;
    use std::io::Write;

    fn eventfd() -> File {
        let ev = EventFd::new(0).unwrap();
        // SAFETY: the new eventfd's ownership moves into the File.
        unsafe { File::from_raw_fd(ev.into_raw_fd()) }
    }

    fn pipe_writer() -> (File, File) {
        let mut fds = [0; 2];
        // SAFETY: a new pipe, both ends owned by Files.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) }
    }

    const ASSIGN: u32 = ACTION_TRIGGER | DATA_EVENTFD;

    #[test]
    fn a_pipe_as_an_interrupt_fd_is_refused() {
        let irq = EventfdIrq::default();
        let (_r, w) = pipe_writer();
        let e = irq
            .set_irqs(MSIX, ASSIGN, 0, 2, vec![eventfd(), w])
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
        assert!(!irq.msix_enabled(), "nothing of a refused request is kept");
        let (_r, w) = pipe_writer();
        assert!(irq.set_irqs(INTX, ASSIGN, 0, 1, vec![w]).is_err());
    }

    #[test]
    fn an_eventfd_nobody_reads_never_blocks_the_port() {
        let irq = EventfdIrq::default();
        let ev = eventfd();
        irq.set_irqs(MSIX, ASSIGN, 0, 1, vec![ev.try_clone().unwrap()])
            .unwrap();
        // SAFETY: reading the flags of our own descriptor.
        let fl = unsafe { libc::fcntl(std::os::fd::AsRawFd::as_raw_fd(&ev), libc::F_GETFL) };
        assert_ne!(fl & libc::O_NONBLOCK, 0);
        for _ in 0..10_000 {
            assert!(irq.msix(0));
        }
        // Push the counter to its limit: the next signal fails at once instead of blocking.
        (&ev)
            .write_all(&(u64::MAX - 1 - 10_000).to_ne_bytes())
            .unwrap();
        assert!(!irq.msix(0));
    }
}
