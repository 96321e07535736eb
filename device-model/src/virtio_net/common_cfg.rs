//! The common configuration structure: features, status, MSI-X vectors and queue setup.
//!
//! Accesses of any width and alignment are served from a byte image of the structure;
//! a write is merged into the fields it overlaps, so a driver writing a 64-bit ring
//! address as two 32-bit halves (as Linux does) updates one half at a time.

use virtio_bindings::virtio_config::{
    VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_CONFIG_S_FEATURES_OK, VIRTIO_CONFIG_S_NEEDS_RESET,
};

use super::layout::{common::*, VIRTIO_MSI_NO_VECTOR};
use super::VirtioNet;

const FEATURES_OK: u8 = VIRTIO_CONFIG_S_FEATURES_OK as u8;
const DRIVER_OK: u8 = VIRTIO_CONFIG_S_DRIVER_OK as u8;
const NEEDS_RESET: u8 = VIRTIO_CONFIG_S_NEEDS_RESET as u8;

impl VirtioNet {
    fn selected(&self) -> Option<&super::queue::Virtqueue> {
        self.queues.get(usize::from(self.queue_select))
    }

    /// A field's current value; out-of-range queue selections read as 0.
    fn common_field(&self, off: usize) -> u64 {
        let q = self.selected();
        match off {
            DEVICE_FEATURE_SELECT => u64::from(self.features.device_select),
            DEVICE_FEATURE => u64::from(self.features.device_word()),
            DRIVER_FEATURE_SELECT => u64::from(self.features.driver_select),
            DRIVER_FEATURE => u64::from(self.features.driver_word()),
            CONFIG_MSIX_VECTOR => u64::from(self.config_msix_vector),
            NUM_QUEUES => self.queues.len() as u64,
            DEVICE_STATUS => u64::from(self.status),
            CONFIG_GENERATION => u64::from(self.config_generation),
            QUEUE_SELECT => u64::from(self.queue_select),
            QUEUE_SIZE => q.map_or(0, |q| u64::from(q.size)),
            QUEUE_MSIX_VECTOR => q.map_or(u64::from(VIRTIO_MSI_NO_VECTOR), |q| {
                u64::from(q.msix_vector)
            }),
            QUEUE_ENABLE => q.map_or(0, |q| u64::from(q.enabled)),
            QUEUE_NOTIFY_OFF | QUEUE_NOTIFY_DATA => q.map_or(0, |_| u64::from(self.queue_select)),
            QUEUE_DESC => q.map_or(0, |q| q.desc),
            QUEUE_DRIVER => q.map_or(0, |q| q.avail),
            QUEUE_DEVICE => q.map_or(0, |q| q.used),
            _ => 0,
        }
    }

    pub(super) fn common_read(&self, off: u64, data: &mut [u8]) {
        let mut image = [0u8; LEN];
        for (f, w) in FIELDS {
            image[f..f + w].copy_from_slice(&self.common_field(f).to_le_bytes()[..w]);
        }
        for (i, b) in data.iter_mut().enumerate() {
            *b = off
                .checked_add(i as u64)
                .and_then(|o| image.get(o as usize).copied())
                .unwrap_or(0);
        }
    }

    pub(super) fn common_write(&mut self, off: u64, data: &[u8]) {
        let Some(end) = off.checked_add(data.len() as u64) else {
            return;
        };
        for (f, w) in FIELDS {
            let (fs, fe) = (f as u64, (f + w) as u64);
            if fe <= off || fs >= end {
                continue;
            }
            let mut bytes = self.common_field(f).to_le_bytes();
            for o in fs.max(off)..fe.min(end) {
                bytes[(o - fs) as usize] = data[(o - off) as usize];
            }
            self.set_common_field(f, u64::from_le_bytes(bytes));
        }
    }

    fn set_common_field(&mut self, off: usize, v: u64) {
        let sel = usize::from(self.queue_select);
        let vectors = self.msix_vectors();
        match off {
            DEVICE_FEATURE_SELECT => self.features.device_select = v as u32,
            DRIVER_FEATURE_SELECT => self.features.driver_select = v as u32,
            // Features are fixed once FEATURES_OK was accepted (3.1.1).
            DRIVER_FEATURE if self.status & FEATURES_OK == 0 => {
                self.features.set_driver_word(v as u32)
            }
            CONFIG_MSIX_VECTOR => self.config_msix_vector = checked_vector(v as u16, vectors),
            DEVICE_STATUS => self.write_status(v as u8),
            QUEUE_SELECT => self.queue_select = v as u16,
            _ => {
                let Some(q) = self.queues.get_mut(sel) else {
                    return;
                };
                // Ring configuration is frozen while the queue is enabled (4.1.4.3.2).
                match off {
                    QUEUE_MSIX_VECTOR => q.msix_vector = checked_vector(v as u16, vectors),
                    QUEUE_SIZE if !q.enabled => q.size = v as u16,
                    QUEUE_DESC if !q.enabled => q.desc = v,
                    QUEUE_DRIVER if !q.enabled => q.avail = v,
                    QUEUE_DEVICE if !q.enabled => q.used = v,
                    // Only 1 may be written; disabling goes through a device reset.
                    QUEUE_ENABLE if v & 1 == 1 && !q.enabled => {
                        q.enabled = true;
                        if self.live() {
                            self.check_queue(sel);
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    fn write_status(&mut self, v: u8) {
        if v == 0 {
            self.device_reset();
            return;
        }
        let mut v = v & !NEEDS_RESET;
        if v & FEATURES_OK != 0 && self.status & FEATURES_OK == 0 {
            if let Err(why) = self.features.validate() {
                // The driver reads FEATURES_OK back and gives up when it is clear (3.1.1).
                tracing::warn!(features = format_args!("{:#x}", self.features.driver), why);
                self.counters.features_refused += 1;
                v &= !FEATURES_OK;
            } else {
                self.features.accepted();
            }
        }
        // FEATURES_OK cannot be set late: features were not checked on the way.
        if self.status & FEATURES_OK == 0 && v & DRIVER_OK != 0 && v & FEATURES_OK == 0 {
            v &= !DRIVER_OK;
        }
        let rising = v & !self.status;
        // The driver may not clear a status bit (2.1.2); only a reset does. Ignoring
        // attempts keeps the device from going live again without activate(): with
        // FAILED or FEATURES_OK cleared and set back, queues enabled meanwhile would
        // be used unchecked, and features could change under enabled queues.
        self.status |= v;
        if rising & DRIVER_OK != 0 {
            self.activate();
        }
    }
}

/// A vector the device can route, or NO_VECTOR so the driver sees the refusal.
fn checked_vector(v: u16, vectors: u16) -> u16 {
    if v < vectors {
        v
    } else {
        VIRTIO_MSI_NO_VECTOR
    }
}
