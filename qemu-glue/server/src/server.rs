//! The vfio-user server for one PCI function: tunic's own protocol layer
//! (`vfio-user-transport`) in front of a device personality.
//!
//! The transport checks every message against the protocol's limits; this
//! module checks what only the device knows (region layout, access widths, the
//! fd behind a DMA_MAP, that interrupt fds are eventfds), contains a panic in a
//! device operation ([`crate::containment`]), resets the device when a client
//! goes away, and keeps accepting new clients.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use dma::DmaSpace;
use vfio_user_transport::session::{
    SessionEnd, TransportCounters, REGION_FLAG_READ, REGION_FLAG_WRITE,
};
use vfio_user_transport::wire::{DmaMap, DmaUnmap, SetIrqs};
use vfio_user_transport::{DeviceInfo, Errno, IrqInfo, Listener, RegionInfo, Session};

use crate::containment::contained;
use crate::irq::{self, EventfdIrq};
use crate::port::Personality;

/// vfio PCI region indexes: BARs 0-5, ROM 6, config 7, VGA 8.
const CONFIG: u32 = 7;
const REGIONS: u32 = 9;

/// vfio IRQ info flags.
const IRQ_INFO_EVENTFD: u32 = 1 << 0;
const IRQ_INFO_MASKABLE: u32 = 1 << 1;
const IRQ_INFO_NORESIZE: u32 = 1 << 3;

/// Region layout advertised to the client: the device's BARs and config space.
fn regions(bar_sizes: &[(u32, u64)], config_size: u64) -> Vec<RegionInfo> {
    (0..REGIONS)
        .map(|index| {
            let size = region_size(bar_sizes, config_size, index);
            let flags = if size > 0 {
                REGION_FLAG_READ | REGION_FLAG_WRITE
            } else {
                0
            };
            RegionInfo { flags, size }
        })
        .collect()
}

fn region_size(bar_sizes: &[(u32, u64)], config_size: u64, index: u32) -> u64 {
    if index == CONFIG {
        config_size
    } else {
        bar_sizes
            .iter()
            .find(|(i, _)| *i == index)
            .map_or(0, |(_, s)| *s)
    }
}

/// Interrupt indexes in vfio order: INTx, MSI, MSI-X, ERR, REQ.
fn irqs(msix_vectors: u32) -> Vec<IrqInfo> {
    let info = |index, flags, count| (index, IrqInfo { flags, count });
    let mut list = [
        info(irq::INTX, IRQ_INFO_EVENTFD | IRQ_INFO_MASKABLE, 1),
        info(irq::MSI, IRQ_INFO_EVENTFD | IRQ_INFO_NORESIZE, 1),
        info(
            irq::MSIX,
            IRQ_INFO_EVENTFD | IRQ_INFO_NORESIZE,
            msix_vectors,
        ),
        info(irq::ERR, IRQ_INFO_EVENTFD, 0),
        info(irq::REQ, IRQ_INFO_EVENTFD, 0),
    ];
    list.sort_by_key(|(i, _)| *i);
    list.into_iter().map(|(_, i)| i).collect()
}

/// What the transport forwards requests to.
struct DeviceBackend {
    device: Arc<Mutex<dyn Personality>>,
    dma: Arc<DmaSpace>,
    irq: Arc<EventfdIrq>,
    bar_sizes: Vec<(u32, u64)>,
    config_size: u64,
    /// Ranges the client mapped without an fd (not reachable for DMA), so their unmaps succeed.
    unshared: Vec<(u64, u64)>,
}

impl DeviceBackend {
    fn new(device: Arc<Mutex<dyn Personality>>, dma: Arc<DmaSpace>, irq: Arc<EventfdIrq>) -> Self {
        let (bar_sizes, config_size) = {
            let d = device.lock().unwrap_or_else(|e| e.into_inner());
            (d.bar_sizes(), d.config_size())
        };
        Self {
            device,
            dma,
            irq,
            bar_sizes,
            config_size,
            unshared: Vec::new(),
        }
    }

    /// What a client learns of this device: its regions and interrupt indexes.
    fn info(&self) -> DeviceInfo {
        DeviceInfo {
            regions: regions(&self.bar_sizes, self.config_size),
            irqs: irqs(self.device().msix_vectors()),
        }
    }

    /// Registers are reached 1 to 8 bytes at a time; config space in any size.
    fn check(&self, region: u32, offset: u64, len: usize) -> Result<(), Errno> {
        let size = region_size(&self.bar_sizes, self.config_size, region);
        let end = offset.checked_add(len as u64).ok_or(Errno::EINVAL)?;
        if size == 0 || end > size || len > 8 && region != CONFIG {
            tracing::warn!(
                region,
                offset,
                len,
                "region access outside the region refused"
            );
            return Err(Errno::EINVAL);
        }
        Ok(())
    }

    fn device(&self) -> std::sync::MutexGuard<'_, dyn Personality + 'static> {
        self.device.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn region_name(region: u32) -> String {
    if region == CONFIG {
        "config space".into()
    } else {
        format!("BAR{region}")
    }
}

impl vfio_user_transport::Backend for DeviceBackend {
    fn region_read(&mut self, region: u32, offset: u64, data: &mut [u8]) -> Result<(), Errno> {
        self.check(region, offset, data.len())?;
        let mut d = self.device();
        let what = || format!("{} read at {offset:#x}", region_name(region));
        let done = contained(&mut *d, what, |d| match region {
            CONFIG => d.config_read(offset, data),
            _ => d.bar_read(region, offset, data),
        });
        if done.is_none() {
            // What a PCIe read of a failed function completes with.
            data.fill(0xff);
        }
        Ok(())
    }

    fn region_write(&mut self, region: u32, offset: u64, data: &[u8]) -> Result<(), Errno> {
        self.check(region, offset, data.len())?;
        let mut d = self.device();
        let what = || format!("{} write at {offset:#x}", region_name(region));
        // A write that panicked is dropped; the device shows the fault itself.
        contained(&mut *d, what, |d| match region {
            CONFIG => d.config_write(offset, data),
            _ => d.bar_write(region, offset, data),
        });
        Ok(())
    }

    fn dma_map(&mut self, map: &DmaMap, fd: Option<File>) -> Result<(), Errno> {
        let (address, size, offset) = (map.address, map.size, map.offset);
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
            flags = map.flags,
            "DMA_MAP"
        );
        self.dma.map_file(address, size, fd, offset).map_err(|e| {
            tracing::warn!(error = %e, "DMA_MAP refused");
            Errno::EINVAL
        })
    }

    fn dma_unmap(&mut self, unmap: &DmaUnmap) -> Result<(), Errno> {
        if unmap.flags & DmaUnmap::FLAG_UNMAP_ALL != 0 {
            tracing::debug!("DMA_UNMAP of everything");
            self.dma.clear();
            self.unshared.clear();
            return Ok(());
        }
        let (address, size) = (unmap.address, unmap.size);
        tracing::debug!(address = format_args!("{address:#x}"), size, "DMA_UNMAP");
        if let Some(i) = self.unshared.iter().position(|&r| r == (address, size)) {
            self.unshared.swap_remove(i);
            return Ok(());
        }
        self.dma.unmap(address, size).map_err(|e| {
            tracing::warn!(error = %e, "DMA_UNMAP refused");
            Errno::EINVAL
        })
    }

    fn set_irqs(&mut self, set: &SetIrqs, fds: Vec<File>) -> Result<(), Errno> {
        tracing::debug!(
            index = set.index,
            flags = set.flags,
            start = set.start,
            count = set.count,
            fds = fds.len(),
            "SET_IRQS"
        );
        self.irq
            .set_irqs(set.index, set.flags, set.start, set.count, fds)
            .map_err(|e| Errno::from_io(&e))
    }

    fn reset(&mut self) -> Result<(), Errno> {
        tracing::info!("device reset by client");
        let mut d = self.device();
        contained(&mut *d, || "device reset".into(), |d| d.reset());
        Ok(())
    }
}

/// A listening vfio-user socket for one device.
pub struct VfioUserServer {
    listener: Listener,
    info: DeviceInfo,
    backend: DeviceBackend,
    counters: Arc<TransportCounters>,
}

impl VfioUserServer {
    pub fn bind(
        path: &Path,
        device: Arc<Mutex<dyn Personality>>,
        dma: Arc<DmaSpace>,
        irq: Arc<EventfdIrq>,
    ) -> anyhow::Result<Self> {
        let listener =
            Listener::bind(path).with_context(|| format!("cannot listen on {}", path.display()))?;
        let backend = DeviceBackend::new(device, dma, irq);
        Ok(Self {
            listener,
            info: backend.info(),
            backend,
            counters: Arc::default(),
        })
    }

    pub fn path(&self) -> &Path {
        self.listener.path()
    }

    /// What this server's sessions did: messages, refusals, dropped connections.
    pub fn counters(&self) -> Arc<TransportCounters> {
        self.counters.clone()
    }

    /// Serves clients one after another until `stop` says so.
    pub fn serve(mut self, stop: &std::sync::atomic::AtomicBool) {
        let socket: PathBuf = self.path().to_path_buf();
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let mut channel = match self.listener.accept() {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(socket = %socket.display(), error = %e, "accept failed");
                    std::thread::sleep(std::time::Duration::from_millis(100));
                    continue;
                }
            };
            let mut session = Session::new(self.info.clone(), self.counters.clone());
            match session.run(&mut channel, &mut self.backend) {
                SessionEnd::Closed => {
                    tracing::info!(socket = %socket.display(), "client disconnected")
                }
                SessionEnd::Dropped(e) => {
                    tracing::warn!(socket = %socket.display(), error = %e, "connection ended with an error")
                }
            }
            // The guest's memory and interrupt routes went with the client.
            drop(channel);
            let mut d = self.backend.device();
            contained(&mut *d, || "reset after disconnect".into(), |d| d.reset());
            drop(d);
            self.backend.dma.clear();
            self.backend.irq.clear();
            self.backend.unshared.clear();
        }
    }
}

/// Name of the threads that run [`VfioUserServer::serve`].
pub const SERVE_THREAD: &str = "tunic-vfio-user";

#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;

#[cfg(test)]
mod tests;
