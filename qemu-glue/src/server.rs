//! The vfio-user server for one PCI function.
//!
//! `vfio_user::Server::run` serves one connection with a blocking loop. This
//! module wraps it: it validates every region access itself (the crate does not
//! check offsets or sizes), resets the device when a client goes away, keeps
//! accepting new clients, and contains a panic inside the crate so that it ends
//! that connection, not the device.

use std::fs::File;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use dma::DmaSpace;
use vfio_bindings::bindings::vfio::{
    vfio_region_info, VFIO_IRQ_INFO_EVENTFD, VFIO_IRQ_INFO_MASKABLE, VFIO_IRQ_INFO_NORESIZE,
    VFIO_REGION_INFO_FLAG_READ, VFIO_REGION_INFO_FLAG_WRITE,
};
use vfio_user::{DmaMapFlags, DmaUnmapFlags, IrqInfo, Server, ServerBackend, ServerRegion};

use crate::irq::{self, EventfdIrq};
use crate::port::Personality;

/// vfio PCI region indexes: BARs 0-5, ROM 6, config 7, VGA 8.
const CONFIG: u32 = 7;
const REGIONS: u32 = 9;

fn einval() -> std::io::Error {
    std::io::Error::from_raw_os_error(libc::EINVAL)
}

/// Region layout advertised to the client: BAR0 registers, BAR3 MSI-X, config space.
fn regions(bar_sizes: &[(u32, u64)], config_size: u64) -> Vec<ServerRegion> {
    (0..REGIONS)
        .map(|index| {
            let size = if index == CONFIG {
                config_size
            } else {
                bar_sizes
                    .iter()
                    .find(|(i, _)| *i == index)
                    .map_or(0, |(_, s)| *s)
            };
            let flags = if size > 0 {
                VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE
            } else {
                0
            };
            ServerRegion {
                region_info: vfio_region_info {
                    argsz: std::mem::size_of::<vfio_region_info>() as u32,
                    flags,
                    index,
                    cap_offset: 0,
                    size,
                    offset: 0,
                },
                sparse_areas: Vec::new(),
                mmap_fd: None,
            }
        })
        .collect()
}

fn irqs(msix_vectors: u32) -> Vec<IrqInfo> {
    let ev = VFIO_IRQ_INFO_EVENTFD;
    vec![
        IrqInfo {
            index: irq::INTX,
            flags: ev | VFIO_IRQ_INFO_MASKABLE,
            count: 1,
        },
        IrqInfo {
            index: irq::MSI,
            flags: ev | VFIO_IRQ_INFO_NORESIZE,
            count: 1,
        },
        IrqInfo {
            index: irq::MSIX,
            flags: ev | VFIO_IRQ_INFO_NORESIZE,
            count: msix_vectors,
        },
        IrqInfo {
            index: irq::ERR,
            flags: ev,
            count: 0,
        },
        IrqInfo {
            index: irq::REQ,
            flags: ev,
            count: 0,
        },
    ]
}

/// What the server forwards requests to.
struct Backend {
    device: Arc<Mutex<dyn Personality>>,
    dma: Arc<DmaSpace>,
    irq: Arc<EventfdIrq>,
    bar_sizes: Vec<(u32, u64)>,
    config_size: u64,
    /// Ranges the client mapped without an fd (not reachable for DMA), so their unmaps succeed.
    unshared: Vec<(u64, u64)>,
}

impl Backend {
    fn check(&self, region: u32, offset: u64, len: usize) -> std::io::Result<()> {
        let size = if region == CONFIG {
            self.config_size
        } else {
            self.bar_sizes
                .iter()
                .find(|(i, _)| *i == region)
                .map_or(0, |(_, s)| *s)
        };
        let end = offset.checked_add(len as u64).ok_or_else(einval)?;
        if size == 0 || end > size || len > 8 && region != CONFIG {
            tracing::warn!(
                region,
                offset,
                len,
                "region access outside the region refused"
            );
            return Err(einval());
        }
        Ok(())
    }

    fn device(&self) -> std::sync::MutexGuard<'_, dyn Personality + 'static> {
        self.device.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl ServerBackend for Backend {
    fn region_read(
        &mut self,
        region: u32,
        offset: u64,
        data: &mut [u8],
    ) -> Result<(), std::io::Error> {
        self.check(region, offset, data.len())?;
        let mut d = self.device();
        match region {
            CONFIG => d.config_read(offset, data),
            _ => d.bar_read(region, offset, data),
        }
        Ok(())
    }

    fn region_write(
        &mut self,
        region: u32,
        offset: u64,
        data: &[u8],
    ) -> Result<(), std::io::Error> {
        self.check(region, offset, data.len())?;
        let mut d = self.device();
        match region {
            CONFIG => d.config_write(offset, data),
            _ => d.bar_write(region, offset, data),
        }
        Ok(())
    }

    fn dma_map(
        &mut self,
        flags: DmaMapFlags,
        offset: u64,
        address: u64,
        size: u64,
        fd: Option<File>,
    ) -> Result<(), std::io::Error> {
        let Some(fd) = fd else {
            // QEMU offers memory it cannot share (ROM shadows, non-shared RAM) without an fd,
            // for DMA through messages, which this server does not do. The device cannot reach
            // it: any DMA there faults and is counted. Guest RAM must be a shared memory backend.
            tracing::debug!(
                address = format_args!("{address:#x}"),
                size,
                "DMA_MAP without an fd: not reachable by the device"
            );
            self.unshared.push((address, size));
            return Ok(());
        };
        tracing::debug!(
            address = format_args!("{address:#x}"),
            size,
            offset,
            ?flags,
            "DMA_MAP"
        );
        self.dma.map_file(address, size, fd, offset).map_err(|e| {
            tracing::warn!(error = %e, "DMA_MAP refused");
            einval()
        })
    }

    fn dma_unmap(
        &mut self,
        _flags: DmaUnmapFlags,
        address: u64,
        size: u64,
    ) -> Result<(), std::io::Error> {
        tracing::debug!(address = format_args!("{address:#x}"), size, "DMA_UNMAP");
        if let Some(i) = self.unshared.iter().position(|&r| r == (address, size)) {
            self.unshared.swap_remove(i);
            return Ok(());
        }
        self.dma.unmap(address, size).map_err(|e| {
            tracing::warn!(error = %e, "DMA_UNMAP refused");
            einval()
        })
    }

    fn reset(&mut self) -> Result<(), std::io::Error> {
        tracing::info!("device reset by client");
        self.device().reset();
        Ok(())
    }

    fn set_irqs(
        &mut self,
        index: u32,
        flags: u32,
        start: u32,
        count: u32,
        fds: Vec<File>,
    ) -> Result<(), std::io::Error> {
        tracing::debug!(index, flags, start, count, fds = fds.len(), "SET_IRQS");
        self.irq.set_irqs(index, flags, start, count, fds)
    }
}

/// A listening vfio-user socket for one device.
pub struct VfioUserServer {
    server: Server,
    backend: Backend,
    path: PathBuf,
}

impl VfioUserServer {
    pub fn bind(
        path: &Path,
        device: Arc<Mutex<dyn Personality>>,
        dma: Arc<DmaSpace>,
        irq: Arc<EventfdIrq>,
    ) -> anyhow::Result<Self> {
        let (bar_sizes, config_size, msix) = {
            let d = device.lock().unwrap_or_else(|e| e.into_inner());
            (d.bar_sizes(), d.config_size(), d.msix_vectors())
        };
        if path.exists() {
            anyhow::bail!(
                "socket path {} already exists: another tunic may be serving it; remove it if not",
                path.display()
            );
        }
        let server = Server::new(path, true, irqs(msix), regions(&bar_sizes, config_size))
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("cannot listen on {}", path.display()))?;
        Ok(Self {
            server,
            backend: Backend {
                device,
                dma,
                irq,
                bar_sizes,
                config_size,
                unshared: Vec::new(),
            },
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Serves clients one after another until `stop` says so.
    pub fn serve(mut self, stop: &std::sync::atomic::AtomicBool) {
        log_protocol_panics_as_errors();
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let outcome =
                std::panic::catch_unwind(AssertUnwindSafe(|| self.server.run(&mut self.backend)));
            match outcome {
                Ok(Ok(())) => tracing::info!(socket = %self.path.display(), "client disconnected"),
                Ok(Err(e)) => {
                    tracing::warn!(socket = %self.path.display(), error = %e, "connection ended with an error")
                }
                Err(_) => {
                    tracing::error!(socket = %self.path.display(), "vfio-user client sent a message the protocol handler could not take: connection dropped, device reset")
                }
            }
            // The guest's memory and interrupt routes went with the client.
            self.backend.device().reset();
            self.backend.dma.clear();
            self.backend.irq.clear();
            self.backend.unshared.clear();
        }
    }
}

/// Name of the threads that run [`VfioUserServer::serve`].
pub const SERVE_THREAD: &str = "tunic-vfio-user";

/// The vfio-user crate unwraps some client-supplied fields (a VERSION payload
/// without its NUL, a message size below the header's), so a malformed message
/// panics inside it. `serve` contains that panic and carries on; this hook makes
/// the log say so as an error about the client, not as a crash report. Panics
/// on other threads keep the default report.
fn log_protocol_panics_as_errors() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().name() != Some(SERVE_THREAD) {
                return default(info);
            }
            let what = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(
                location = %info.location().map(|l| l.to_string()).unwrap_or_default(),
                "malformed vfio-user message: {what}"
            );
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_table_shape() {
        let r = regions(&[(0, 0x20000), (3, 0x4000)], 4096);
        assert_eq!(r.len(), 9);
        assert_eq!(r[0].region_info.size, 0x20000);
        assert_eq!(r[1].region_info.size, 0);
        assert_eq!(r[1].region_info.flags, 0);
        assert_eq!(r[3].region_info.size, 0x4000);
        assert_eq!(r[7].region_info.size, 4096);
    }
}
