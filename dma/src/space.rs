use std::collections::BTreeSet;
use std::fs::File;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use vm_memory::{
    Address, Bytes, FileOffset, GuestAddress, GuestAddressSpace, GuestMemoryAtomic,
    GuestMemoryBackend, GuestMemoryMmap, GuestMemoryRegion, GuestRegionMmap, MemoryRegionAddress,
    MmapRegion,
};

/// Why a DMA access or a mapping change was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DmaError {
    #[error("guest range {addr:#x}+{len:#x} is not wholly inside mapped guest memory")]
    Unmapped { addr: u64, len: usize },
    #[error("guest range {addr:#x}+{len:#x} wraps around the address space")]
    Overflow { addr: u64, len: u64 },
    #[error("mapping {addr:#x}+{size:#x} overlaps an existing one or is malformed")]
    BadMapping { addr: u64, size: u64 },
    #[error("no mapping at {addr:#x} of size {size:#x} to unmap")]
    NoSuchMapping { addr: u64, size: u64 },
    #[error("mapping guest memory failed: {0}")]
    Mmap(String),
    #[error("mapping asks for {offset:#x}+{size:#x} of a file of {file_len:#x} bytes")]
    BeyondFile {
        offset: u64,
        size: u64,
        file_len: u64,
    },
    #[error("the memfd is not sealed against shrinking (QEMU: memory-backend-memfd with seal=on, the default)")]
    Unsealed,
}

/// What the guest asked for that was refused. (Allowed accesses are not counted
/// here: the devices count the work they did, and four atomic additions per access
/// were a measured share of the data path, `device-model/benches/device.rs`.)
#[derive(Debug, Default)]
pub struct DmaStats {
    /// Accesses refused because they fell outside mapped memory.
    pub faults: AtomicU64,
}

/// Which way a recorded DMA access went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmaDirection {
    Read,
    Write,
}

/// One DMA access as [`DmaSpace::start_recording`] saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DmaAccess {
    pub direction: DmaDirection,
    pub addr: u64,
    pub len: usize,
    /// False when the access was refused (outside mapped memory).
    pub allowed: bool,
}

/// The guest physical address space the device can reach.
///
/// Mappings are replaced wholesale (copy on write, vm-memory's
/// `GuestMemoryAtomic`): a worker that is in the middle of an access keeps the
/// snapshot it started with, so an UNMAP never pulls memory out from under a copy
/// in progress, and an access takes no lock.
pub struct DmaSpace {
    mem: GuestMemoryAtomic<GuestMemoryMmap>,
    stats: DmaStats,
    /// Checked with one relaxed load per access, so recording costs nothing while off.
    recording: AtomicBool,
    accesses: Mutex<Vec<DmaAccess>>,
    /// While recording: the pages written since the last `zero_written`, so a
    /// harness can give RAM back its zeros without refaulting every page.
    written: Mutex<Written>,
}

/// Guest pages written (page numbers), or `overflowed` once there were too many
/// to remember.
#[derive(Default)]
struct Written {
    pages: BTreeSet<u64>,
    overflowed: bool,
}

/// The granule `zero_written` zeroes: pages, so that however often an input
/// rewrites the same rings and buffers, the work is bounded by the memory it
/// touched (a byte budget made a busy input fall back to refaulting everything).
const PAGE_SHIFT: u32 = 12;
const PAGE: usize = 1 << PAGE_SHIFT;
/// Past this many pages (64 MiB) a reset zeroes whole mappings instead (`zero_anonymous`).
const MAX_WRITTEN_PAGES: usize = 16 * 1024;

impl Default for DmaSpace {
    fn default() -> Self {
        Self {
            mem: GuestMemoryAtomic::new(GuestMemoryMmap::default()),
            stats: DmaStats::default(),
            recording: AtomicBool::new(false),
            accesses: Mutex::new(Vec::new()),
            written: Mutex::new(Written::default()),
        }
    }
}

impl DmaSpace {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn stats(&self) -> &DmaStats {
        &self.stats
    }

    /// The mappings now, or `None` when there are none.
    fn snapshot(&self) -> Option<vm_memory::atomic::GuestMemoryLoadGuard<GuestMemoryMmap>> {
        let mem = self.mem.memory();
        (mem.num_regions() > 0).then_some(mem)
    }

    fn insert(&self, region: GuestRegionMmap, addr: u64, size: u64) -> Result<(), DmaError> {
        let bad = || DmaError::BadMapping { addr, size };
        // Changes are serialised by the exclusive guard; readers go on meanwhile.
        let guard = self.mem.lock().unwrap_or_else(|e| e.into_inner());
        let next = match self.snapshot() {
            None => GuestMemoryMmap::from_regions(vec![region]).map_err(|_| bad())?,
            Some(mem) => mem.insert_region(Arc::new(region)).map_err(|_| bad())?,
        };
        guard.replace(next);
        Ok(())
    }

    /// Maps `size` bytes of `file` from `offset` at guest address `addr` (a DMA_MAP).
    pub fn map_file(&self, addr: u64, size: u64, file: File, offset: u64) -> Result<(), DmaError> {
        check_range(addr, size)?;
        let len = usize::try_from(size).map_err(|_| DmaError::BadMapping { addr, size })?;
        if len == 0 {
            return Err(DmaError::BadMapping { addr, size });
        }
        check_backing(&file, offset, size)?;
        let mapping = MmapRegion::from_file(FileOffset::new(file, offset), len)
            .map_err(|e| DmaError::Mmap(e.to_string()))?;
        let region = GuestRegionMmap::new(mapping, GuestAddress(addr))
            .ok_or(DmaError::BadMapping { addr, size })?;
        self.insert(region, addr, size)
    }

    /// Maps fresh anonymous memory at `addr`: guest RAM for tests and fuzzing.
    pub fn map_anonymous(&self, addr: u64, size: u64) -> Result<(), DmaError> {
        check_range(addr, size)?;
        let len = usize::try_from(size).map_err(|_| DmaError::BadMapping { addr, size })?;
        if len == 0 {
            return Err(DmaError::BadMapping { addr, size });
        }
        let mapping = MmapRegion::new(len).map_err(|e| DmaError::Mmap(e.to_string()))?;
        let region = GuestRegionMmap::new(mapping, GuestAddress(addr))
            .ok_or(DmaError::BadMapping { addr, size })?;
        self.insert(region, addr, size)
    }

    /// Removes the mapping that starts at `addr` with `size` bytes (a DMA_UNMAP).
    pub fn unmap(&self, addr: u64, size: u64) -> Result<(), DmaError> {
        let missing = DmaError::NoSuchMapping { addr, size };
        let guard = self.mem.lock().unwrap_or_else(|e| e.into_inner());
        let mem = self.snapshot().ok_or(missing)?;
        let (rest, _) = mem
            .remove_region(GuestAddress(addr), size)
            .map_err(|_| DmaError::NoSuchMapping { addr, size })?;
        guard.replace(rest);
        Ok(())
    }

    /// Gives every anonymous mapping back its zero pages (MADV_DONTNEED), at the
    /// cost of the pages touched: fresh guest RAM for a harness that reuses one
    /// space across many runs. File mappings (a client's memory) are untouched.
    pub fn zero_anonymous(&self) {
        let Some(mem) = self.snapshot() else { return };
        for region in mem.iter() {
            if region.file_offset().is_none() {
                // SAFETY: the range is exactly this private anonymous mapping, which
                // stays mapped (the snapshot holds it); MADV_DONTNEED only makes its
                // next touch read zeros.
                unsafe {
                    libc::madvise(region.as_ptr().cast(), region.size(), libc::MADV_DONTNEED);
                }
            }
        }
    }

    /// Zeroes the pages written since recording started or since the last call, in
    /// anonymous mappings: for a harness whose memory was all zeros when recording
    /// started, the same result as [`Self::zero_anonymous`], without faulting every
    /// page in again (a fuzzing input touches a few pages of a MiB). Falls back to
    /// `zero_anonymous` when more was written than it remembers.
    pub fn zero_written(&self) {
        let w = std::mem::take(&mut *self.written.lock().unwrap_or_else(|e| e.into_inner()));
        if w.overflowed {
            self.zero_anonymous();
            return;
        }
        let Some(mem) = self.snapshot() else { return };
        static ZEROS: [u8; PAGE] = [0; PAGE];
        for page in w.pages {
            // Each page held an allowed write, so it lies in mapped memory (or in
            // memory mapped afresh since, which is zero anyway). Regions need not be
            // page-aligned: each anonymous one zeroes its part of the page.
            let start = page << PAGE_SHIFT;
            let end = start.saturating_add(PAGE as u64);
            for region in mem.iter().filter(|r| r.file_offset().is_none()) {
                let base = region.start_addr().raw_value();
                let from = start.max(base);
                let to = end.min(base.saturating_add(region.len()));
                if to > from {
                    let _ = mem.write_slice(&ZEROS[..(to - from) as usize], GuestAddress(from));
                }
            }
        }
    }

    /// Drops every mapping (the client went away).
    pub fn clear(&self) {
        let guard = self.mem.lock().unwrap_or_else(|e| e.into_inner());
        guard.replace(GuestMemoryMmap::default());
    }

    /// Number of mapped regions.
    pub fn regions(&self) -> usize {
        self.snapshot().map_or(0, |m| m.num_regions())
    }

    /// Guest ranges currently mapped, as (start, length), in address order.
    pub fn mapped_ranges(&self) -> Vec<(u64, u64)> {
        self.snapshot().map_or_else(Vec::new, |m| {
            m.iter()
                .map(|r| (r.start_addr().raw_value(), r.len()))
                .collect()
        })
    }

    /// Whether `addr..addr + len` lies wholly inside mapped memory (adjacent regions count
    /// as one range, as they do for accesses). An empty range touches nothing.
    pub fn covers(&self, addr: u64, len: usize) -> bool {
        let Some(end) = addr.checked_add(len as u64) else {
            return false;
        };
        if len == 0 {
            return true;
        }
        let Some(mem) = self.snapshot() else {
            return false;
        };
        let mut at = addr;
        for r in mem.iter() {
            let (start, size) = (r.start_addr().raw_value(), r.len());
            let stop = start.saturating_add(size);
            if stop <= at {
                continue;
            }
            if start > at {
                break;
            }
            at = stop;
            if at >= end {
                return true;
            }
        }
        false
    }

    /// Starts recording every access, allowed or refused (tests and fuzzing).
    pub fn start_recording(&self) {
        self.recording.store(true, Ordering::Relaxed);
    }

    /// The accesses recorded since the last call.
    pub fn take_accesses(&self) -> Vec<DmaAccess> {
        std::mem::take(&mut *self.accesses.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn record(&self, direction: DmaDirection, addr: u64, len: usize, allowed: bool) {
        if self.recording.load(Ordering::Relaxed) {
            if allowed && direction == DmaDirection::Write && len > 0 {
                let mut w = self.written.lock().unwrap_or_else(|e| e.into_inner());
                if !w.overflowed {
                    let first = addr >> PAGE_SHIFT;
                    let last = addr.saturating_add(len as u64 - 1) >> PAGE_SHIFT;
                    for page in first..=last {
                        w.pages.insert(page);
                        if w.pages.len() > MAX_WRITTEN_PAGES {
                            w.overflowed = true;
                            w.pages = BTreeSet::new();
                            break;
                        }
                    }
                }
            }
            self.accesses
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(DmaAccess {
                    direction,
                    addr,
                    len,
                    allowed,
                });
        }
    }

    /// Reads `buf.len()` bytes at guest address `addr`, all or nothing.
    pub fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), DmaError> {
        let result = self.snapshot().ok_or(()).and_then(|m| {
            if let Some((r, off)) = in_one_region(&m, addr, buf.len()) {
                return r.read_slice(buf, off).map_err(|_| ());
            }
            m.read_slice(buf, GuestAddress(addr)).map_err(|_| ())
        });
        self.record(DmaDirection::Read, addr, buf.len(), result.is_ok());
        result.map_err(|()| self.fault("read", addr, buf.len()))
    }

    /// Writes `buf` at guest address `addr`, all or nothing.
    pub fn write(&self, addr: u64, buf: &[u8]) -> Result<(), DmaError> {
        let result = self.snapshot().ok_or(()).and_then(|m| {
            if let Some((r, off)) = in_one_region(&m, addr, buf.len()) {
                return r.write_slice(buf, off).map_err(|_| ());
            }
            // Check the whole range first so a refused write leaves no partial bytes behind.
            if !m.check_range(GuestAddress(addr), buf.len()) {
                return Err(());
            }
            m.write_slice(buf, GuestAddress(addr)).map_err(|_| ())
        });
        self.record(DmaDirection::Write, addr, buf.len(), result.is_ok());
        result.map_err(|()| self.fault("write", addr, buf.len()))
    }

    fn fault(&self, what: &'static str, addr: u64, len: usize) -> DmaError {
        let n = self.stats.faults.fetch_add(1, Ordering::Relaxed);
        // The guest controls how often this happens: log the first ones, then every 1024th.
        if n < 16 || n.is_multiple_of(1024) {
            tracing::warn!(
                addr = format_args!("{addr:#x}"),
                len,
                faults = n + 1,
                "DMA {what} outside mapped guest memory refused"
            );
        }
        DmaError::Unmapped { addr, len }
    }
}

/// The region that holds all of `addr..addr + len`, and the offset in it. Nearly every
/// access falls in one region (QEMU maps guest RAM in a few large ones), and this takes
/// one lookup where vm-memory's general path, built for ranges that span regions, walks
/// the range slice by slice (and, for a write, twice: once to check it, once to copy).
/// `None` sends the access down that general path, which has the same outcome for it.
fn in_one_region(
    mem: &GuestMemoryMmap,
    addr: u64,
    len: usize,
) -> Option<(&GuestRegionMmap, MemoryRegionAddress)> {
    let r = mem.find_region(GuestAddress(addr))?;
    let off = addr - r.start_addr().raw_value();
    let end = off.checked_add(u64::try_from(len).ok()?)?;
    (len > 0 && end <= r.len()).then_some((r, MemoryRegionAddress(off)))
}

fn check_range(addr: u64, size: u64) -> Result<(), DmaError> {
    addr.checked_add(size)
        .map(|_| ())
        .ok_or(DmaError::Overflow { addr, len: size })
}

/// A mapping's backing must hold every byte it names, now and later: a page of the
/// mapping past the file's end raises SIGBUS on first touch, which would end the
/// whole process. So the file must be long enough (fstat), and a memfd must be sealed
/// against shrinking, as QEMU's memory-backend-memfd seals it; otherwise the client
/// could truncate it under the device. Other files (memory-backend-file, on tmpfs or
/// hugetlbfs) cannot be sealed; they are accepted on their size alone.
fn check_backing(file: &File, offset: u64, size: u64) -> Result<(), DmaError> {
    use std::os::fd::AsRawFd;
    let file_len = file
        .metadata()
        .map_err(|e| DmaError::Mmap(format!("fstat: {e}")))?
        .len();
    if offset.checked_add(size).is_none_or(|end| end > file_len) {
        return Err(DmaError::BeyondFile {
            offset,
            size,
            file_len,
        });
    }
    let fd = file.as_raw_fd();
    let is_memfd = std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .is_ok_and(|p| p.to_string_lossy().starts_with("/memfd:"));
    if is_memfd {
        // SAFETY: F_GET_SEALS reads the seals of a descriptor we own; it touches no memory.
        let seals = unsafe { libc::fcntl(fd, libc::F_GET_SEALS) };
        if seals < 0 || seals & libc::F_SEAL_SHRINK == 0 {
            return Err(DmaError::Unsealed);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_inside_a_region() {
        let d = DmaSpace::new();
        d.map_anonymous(0x1000, 0x2000).unwrap();
        d.write(0x1ffe, &[1, 2, 3, 4]).unwrap();
        let mut b = [0u8; 4];
        d.read(0x1ffe, &mut b).unwrap();
        assert_eq!(b, [1, 2, 3, 4]);
        assert_eq!(d.stats().faults.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn refuses_accesses_crossing_the_end() {
        let d = DmaSpace::new();
        d.map_anonymous(0x1000, 0x1000).unwrap();
        let mut b = [0u8; 8];
        assert!(d.read(0x1ffc, &mut b).is_err());
        assert!(d.write(0x1ffc, &b).is_err());
        assert!(d.read(u64::MAX - 2, &mut b).is_err());
        assert!(d.read(0, &mut b).is_err());
        assert_eq!(d.stats().faults.load(Ordering::Relaxed), 4);
    }

    #[test]
    fn an_access_may_end_on_a_region_s_last_byte_and_not_one_past_it() {
        let d = DmaSpace::new();
        d.map_anonymous(0x1000, 0x1000).unwrap();
        d.write(0x1ff8, &[5u8; 8]).unwrap();
        let mut b = [0u8; 8];
        d.read(0x1ff8, &mut b).unwrap();
        assert_eq!(b, [5u8; 8]);
        assert!(d.read(0x1ff9, &mut b).is_err());
        assert!(d.write(0x1ff9, &b).is_err());
        // An empty access at the first unmapped address touches nothing, as before.
        assert_eq!(
            d.read(0x2000, &mut []).is_ok(),
            d.write(0x2000, &[]).is_ok()
        );
        d.write(0x1000, &[1]).unwrap();
        d.read(0x1000, &mut b[..1]).unwrap();
        assert_eq!(b[0], 1);
    }

    #[test]
    fn refused_write_leaves_memory_untouched() {
        let d = DmaSpace::new();
        d.map_anonymous(0x1000, 0x1000).unwrap();
        assert!(d.write(0x1ffe, &[9; 4]).is_err());
        let mut b = [0u8; 2];
        d.read(0x1ffe, &mut b).unwrap();
        assert_eq!(b, [0, 0]);
    }

    #[test]
    fn nothing_mapped_means_every_access_faults() {
        let d = DmaSpace::new();
        assert!(d.read(0, &mut [0u8; 1]).is_err());
        assert!(d.unmap(0, 0x1000).is_err());
    }

    #[test]
    fn overlapping_maps_are_refused_and_unmap_removes() {
        let d = DmaSpace::new();
        d.map_anonymous(0x1000, 0x1000).unwrap();
        assert!(d.map_anonymous(0x1800, 0x1000).is_err());
        assert!(d.map_anonymous(u64::MAX - 10, 0x1000).is_err());
        d.map_anonymous(0x4000, 0x1000).unwrap();
        assert_eq!(d.regions(), 2);
        assert!(d.unmap(0x1000, 0x800).is_err());
        d.unmap(0x1000, 0x1000).unwrap();
        assert_eq!(d.regions(), 1);
        assert!(d.read(0x1000, &mut [0u8; 1]).is_err());
        d.unmap(0x4000, 0x1000).unwrap();
        assert_eq!(d.regions(), 0);
    }

    #[test]
    fn contiguous_regions_are_one_address_range() {
        let d = DmaSpace::new();
        d.map_anonymous(0x1000, 0x1000).unwrap();
        d.map_anonymous(0x2000, 0x1000).unwrap();
        d.write(0x1ff0, &[7u8; 32]).unwrap();
        let mut b = [0u8; 32];
        d.read(0x1ff0, &mut b).unwrap();
        assert_eq!(b, [7u8; 32]);
    }

    #[test]
    fn zero_written_zeroes_what_was_written_across_regions_and_past_its_memory() {
        let d = DmaSpace::new();
        d.map_anonymous(0x1000, 0x1000).unwrap();
        d.map_anonymous(0x2000, 0x8000).unwrap();
        d.write(0x9000, &[1; 4]).unwrap();
        d.start_recording();
        d.write(0x1ff0, &[7u8; 32]).unwrap();
        d.write(0x3000, &[9u8; 5000]).unwrap();
        // The same page rewritten many times is one page to zero.
        for _ in 0..(2 * MAX_WRITTEN_PAGES) {
            d.write(0x5000, &[5]).unwrap();
            d.write(0x6000, &[6]).unwrap();
        }
        d.zero_written();
        let mut b = vec![0u8; 0x9000];
        d.read(0x1000, &mut b).unwrap();
        assert!(b[..0x8000].iter().all(|&x| x == 0));
        // A page written before recording started and never since is not the
        // harness's to undo.
        assert_eq!(&b[0x8000..0x8004], &[1; 4]);
        b[0x8000..0x8004].fill(0);
        // More pages than it remembers: every anonymous page.
        d.map_anonymous(0x100_0000, ((MAX_WRITTEN_PAGES + 1) * PAGE) as u64)
            .unwrap();
        for i in 0..(MAX_WRITTEN_PAGES as u64 + 1) {
            d.write(0x100_0000 + i * PAGE as u64, &[3]).unwrap();
        }
        d.zero_written();
        d.read(0x1000, &mut b).unwrap();
        assert!(b.iter().all(|&x| x == 0));
    }

    #[test]
    fn recording_sees_allowed_and_refused_accesses() {
        let d = DmaSpace::new();
        d.map_anonymous(0x1000, 0x1000).unwrap();
        d.map_anonymous(0x2000, 0x1000).unwrap();
        d.read(0x1000, &mut [0u8; 4]).unwrap();
        assert!(d.take_accesses().is_empty(), "off until started");
        d.start_recording();
        d.write(0x1ffe, &[1; 4]).unwrap();
        assert!(d.read(0x2ffe, &mut [0u8; 4]).is_err());
        let seen = d.take_accesses();
        assert_eq!(seen.len(), 2);
        assert!(seen[0].allowed && seen[0].direction == DmaDirection::Write);
        assert!(!seen[1].allowed && seen[1].direction == DmaDirection::Read);
        assert!(d.covers(seen[0].addr, seen[0].len));
        assert!(!d.covers(seen[1].addr, seen[1].len));
        assert!(!d.covers(0xfff, 2));
        assert!(!d.covers(u64::MAX, 2));
        assert_eq!(d.mapped_ranges(), vec![(0x1000, 0x1000), (0x2000, 0x1000)]);
    }

    #[test]
    fn maps_a_memfd_like_qemu_does() {
        use std::io::Write;
        let mut f = tempfile_in_dev_shm();
        f.write_all(&[0u8; 0x3000]).unwrap();
        f.flush().unwrap();
        let d = DmaSpace::new();
        d.map_file(0x10_0000, 0x1000, f.try_clone().unwrap(), 0x1000)
            .unwrap();
        d.write(0x10_0010, b"hello").unwrap();
        let mut b = [0u8; 5];
        d.read(0x10_0010, &mut b).unwrap();
        assert_eq!(&b, b"hello");
    }

    fn memfd(len: u64, seals: libc::c_int) -> File {
        use std::os::fd::FromRawFd;
        // SAFETY: creating a memfd and taking ownership of the new descriptor.
        let fd = unsafe { libc::memfd_create(c"tunic-dma-test".as_ptr(), libc::MFD_ALLOW_SEALING) };
        assert!(fd >= 0);
        let f = unsafe { File::from_raw_fd(fd) };
        f.set_len(len).unwrap();
        if seals != 0 {
            // SAFETY: adding seals to our own descriptor.
            assert_eq!(unsafe { libc::fcntl(fd, libc::F_ADD_SEALS, seals) }, 0);
        }
        f
    }

    #[test]
    fn a_mapping_longer_than_its_memfd_is_refused() {
        // The SIGBUS case: 4 KiB of memfd offered as 64 KiB of guest memory.
        let d = DmaSpace::new();
        let f = memfd(0x1000, libc::F_SEAL_SHRINK | libc::F_SEAL_GROW);
        assert_eq!(
            d.map_file(0, 0x1_0000, f.try_clone().unwrap(), 0),
            Err(DmaError::BeyondFile {
                offset: 0,
                size: 0x1_0000,
                file_len: 0x1000
            })
        );
        assert!(matches!(
            d.map_file(0, 0x1000, f.try_clone().unwrap(), 0x800),
            Err(DmaError::BeyondFile { .. })
        ));
        assert!(matches!(
            d.map_file(0, 0x1000, f.try_clone().unwrap(), u64::MAX - 0x10),
            Err(DmaError::BeyondFile { .. })
        ));
        assert_eq!(d.regions(), 0);
        d.map_file(0, 0x1000, f, 0).unwrap();
        assert_eq!(d.regions(), 1);
    }

    #[test]
    fn a_memfd_the_client_could_shrink_is_refused() {
        let d = DmaSpace::new();
        assert_eq!(
            d.map_file(0, 0x1000, memfd(0x1000, 0), 0),
            Err(DmaError::Unsealed)
        );
        d.map_file(0, 0x1000, memfd(0x1000, libc::F_SEAL_SHRINK), 0)
            .unwrap();
    }

    fn tempfile_in_dev_shm() -> File {
        let path = std::env::temp_dir().join(format!("tunic-dma-test-{}", std::process::id()));
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        let _ = std::fs::remove_file(&path);
        f
    }
}
