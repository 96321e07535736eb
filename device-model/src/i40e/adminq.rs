//! The admin queue rings: the send queue (ATQ) the driver posts commands on and
//! the receive queue (ARQ) the device posts events on.
//!
//! Commands run synchronously on the ATQT write, as the driver expects (it polls
//! ATQH for up to 250 ms): for each descriptor the device reads the indirect
//! buffer, executes, writes the buffer back, rewrites the descriptor (DD | CMP,
//! ERR and retval on failure) and only then moves ATQH.

use std::collections::VecDeque;

use super::regs::*;
use super::I40e;

pub const DESC_LEN: usize = 32;
/// Largest indirect buffer a command may carry (the drivers use 4 KiB buffers).
pub const MAX_BUFFER: usize = 4096;
/// Events that wait for a free ARQ descriptor before the oldest is dropped (counted).
const MAX_PENDING_EVENTS: usize = 64;

pub const FLAG_DD: u16 = 0x0001;
pub const FLAG_CMP: u16 = 0x0002;
pub const FLAG_ERR: u16 = 0x0004;
pub const FLAG_LB: u16 = 0x0200;
pub const FLAG_RD: u16 = 0x0400;
pub const FLAG_BUF: u16 = 0x1000;

/// Admin queue return codes (`enum i40e_admin_queue_err`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum AqStatus {
    Ok = 0,
    Eperm = 1,
    Enoent = 2,
    Esrch = 3,
    Eio = 5,
    Eagain = 8,
    Enomem = 9,
    Eacces = 10,
    Ebusy = 12,
    Eexist = 13,
    Einval = 14,
    Enospc = 16,
    Enosys = 17,
}

/// One 32-byte admin queue descriptor, kept as its bytes with typed accessors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AqDesc(pub [u8; DESC_LEN]);

impl AqDesc {
    pub fn u16_at(&self, off: usize) -> u16 {
        u16::from_le_bytes([self.0[off], self.0[off + 1]])
    }
    pub fn set_u16(&mut self, off: usize, v: u16) {
        self.0[off..off + 2].copy_from_slice(&v.to_le_bytes());
    }
    pub fn u32_at(&self, off: usize) -> u32 {
        u32::from_le_bytes(self.0[off..off + 4].try_into().unwrap_or([0; 4]))
    }
    pub fn set_u32(&mut self, off: usize, v: u32) {
        self.0[off..off + 4].copy_from_slice(&v.to_le_bytes());
    }
    pub fn flags(&self) -> u16 {
        self.u16_at(0)
    }
    pub fn opcode(&self) -> u16 {
        self.u16_at(2)
    }
    pub fn datalen(&self) -> u16 {
        self.u16_at(4)
    }
    pub fn set_datalen(&mut self, v: u16) {
        self.set_u16(4, v)
    }
    pub fn buffer_addr(&self) -> u64 {
        (u64::from(self.u32_at(24)) << 32) | u64::from(self.u32_at(28))
    }
    /// The 16 command-specific bytes (`params`), offsets relative to byte 16.
    pub fn param_u8(&self, off: usize) -> u8 {
        self.0[16 + off]
    }
    pub fn param_u16(&self, off: usize) -> u16 {
        self.u16_at(16 + off)
    }
    pub fn param_u32(&self, off: usize) -> u32 {
        self.u32_at(16 + off)
    }
    pub fn set_param_u8(&mut self, off: usize, v: u8) {
        self.0[16 + off] = v
    }
    pub fn set_param_u16(&mut self, off: usize, v: u16) {
        self.set_u16(16 + off, v)
    }
    pub fn set_param_u32(&mut self, off: usize, v: u32) {
        self.set_u32(16 + off, v)
    }
}

/// An event for the ARQ: opcode, the 16 parameter bytes, and an optional buffer.
#[derive(Debug, Clone)]
pub struct AqEvent {
    pub opcode: u16,
    pub params: [u8; 16],
    pub data: Vec<u8>,
}

#[derive(Debug, Default)]
pub struct AdminQueue {
    pending: VecDeque<AqEvent>,
    /// Log lines about a broken send queue (bad ring, descriptor outside memory).
    log_limit: crate::ratelimit::RateLimit,
    pub events_dropped: u64,
    pub commands: u64,
    pub errors: u64,
}

impl AdminQueue {
    pub fn reset(&mut self) {
        self.pending.clear();
    }
}

impl I40e {
    fn ring(&self, base_lo: u32, base_hi: u32, len: u32) -> Option<(u64, u32)> {
        let len_reg = self.get(len);
        if len_reg & AQ_LEN_ENABLE == 0 {
            return None;
        }
        let n = len_reg & AQ_LEN_MASK;
        let base = (u64::from(self.get(base_hi)) << 32) | u64::from(self.get(base_lo));
        (n != 0).then_some((base, n))
    }

    /// ATQT was written: run every command between ATQH and the new tail.
    pub(super) fn atq_process(&mut self) {
        let Some((base, n)) = self.ring(PF_ATQBAL, PF_ATQBAH, PF_ATQLEN) else {
            return;
        };
        let tail = self.get(PF_ATQT);
        let mut head = self.get(PF_ATQH);
        if head >= n || tail >= n {
            self.aq.errors += 1;
            if let Some(suppressed) = self.aq.log_limit.allow() {
                tracing::warn!(
                    head,
                    tail,
                    n,
                    suppressed,
                    "ATQ head or tail beyond the ring: commands not run"
                );
            }
            return;
        }
        // At most one ring's worth per doorbell.
        for _ in 0..n {
            if head == tail {
                break;
            }
            let addr = base.wrapping_add(u64::from(head) * DESC_LEN as u64);
            let mut raw = [0u8; DESC_LEN];
            if self.dma.read(addr, &mut raw).is_err() {
                self.aq.errors += 1;
                if let Some(suppressed) = self.aq.log_limit.allow() {
                    tracing::warn!(
                        addr,
                        suppressed,
                        "ATQ descriptor outside guest memory: queue stopped"
                    );
                }
                return;
            }
            let mut desc = AqDesc(raw);
            self.run_command(&mut desc);
            if self.dma.write(addr, &desc.0).is_err() {
                self.aq.errors += 1;
            }
            head = (head + 1) % n;
            self.set(PF_ATQH, head);
        }
    }

    fn run_command(&mut self, desc: &mut AqDesc) {
        self.aq.commands += 1;
        let flags = desc.flags();
        let has_buf = flags & FLAG_BUF != 0;
        let buf_addr = desc.buffer_addr();
        let len = usize::from(desc.datalen()).min(MAX_BUFFER);
        let mut buf = Vec::new();
        let mut status = AqStatus::Ok;
        if has_buf {
            buf.resize(len, 0);
            if len > 0 && self.dma.read(buf_addr, &mut buf).is_err() {
                status = AqStatus::Eio;
            }
        }
        let (p0, p1) = (desc.param_u32(0), desc.param_u32(4));
        let head: [u8; 8] = std::array::from_fn(|i| buf.get(i).copied().unwrap_or(0));
        if status == AqStatus::Ok {
            status = self.aq_execute(desc, &mut buf);
        }
        tracing::trace!(
            opcode = format_args!("{:#06x}", desc.opcode()),
            p0 = format_args!("{p0:#010x}"),
            p1 = format_args!("{p1:#010x}"),
            buf = format_args!("{head:02x?}"),
            ?status,
            "admin command"
        );
        if has_buf && !buf.is_empty() {
            let n = buf.len().min(len);
            if self.dma.write(buf_addr, &buf[..n]).is_err() {
                self.aq.errors += 1;
            }
        }
        let mut f = flags | FLAG_DD | FLAG_CMP;
        if status != AqStatus::Ok {
            f |= FLAG_ERR;
            self.aq.errors += 1;
        } else {
            f &= !FLAG_ERR;
        }
        desc.set_u16(0, f);
        desc.set_u16(6, status as u16);
    }

    /// Queues an event for the ARQ and posts what fits.
    pub(super) fn post_event(&mut self, ev: AqEvent) {
        if self.aq.pending.len() >= MAX_PENDING_EVENTS {
            self.aq.pending.pop_front();
            self.aq.events_dropped += 1;
        }
        self.aq.pending.push_back(ev);
        self.arq_flush();
    }

    /// Writes pending events into ARQ descriptors the driver posted (ARQH up to ARQT).
    pub(super) fn arq_flush(&mut self) {
        let Some((base, n)) = self.ring(PF_ARQBAL, PF_ARQBAH, PF_ARQLEN) else {
            return;
        };
        let mut posted = false;
        while let Some(ev) = self.aq.pending.front() {
            let head = self.get(PF_ARQH);
            let tail = self.get(PF_ARQT);
            if head >= n || head == tail {
                break;
            }
            let addr = base.wrapping_add(u64::from(head) * DESC_LEN as u64);
            let mut raw = [0u8; DESC_LEN];
            if self.dma.read(addr, &mut raw).is_err() {
                self.aq.errors += 1;
                break;
            }
            let posted_desc = AqDesc(raw);
            let room = usize::from(posted_desc.datalen()).min(MAX_BUFFER);
            let n_data = ev.data.len().min(room);
            if n_data > 0
                && self
                    .dma
                    .write(posted_desc.buffer_addr(), &ev.data[..n_data])
                    .is_err()
            {
                self.aq.errors += 1;
            }
            let mut d = posted_desc;
            let mut flags = FLAG_DD | FLAG_CMP;
            if n_data > 0 {
                flags |= FLAG_BUF;
            }
            d.set_u16(0, flags | (posted_desc.flags() & FLAG_LB));
            d.set_u16(2, ev.opcode);
            d.set_datalen(n_data as u16);
            d.set_u16(6, 0);
            // The driver rewrites the buffer address when it re-posts the descriptor,
            // so the event's parameters may use all 16 bytes.
            d.0[16..32].copy_from_slice(&ev.params);
            let _ = self.dma.write(addr, &d.0);
            self.set(PF_ARQH, (head + 1) % n);
            self.aq.pending.pop_front();
            posted = true;
        }
        if posted {
            self.raise_misc(ICR0_ADMINQ);
        }
    }
}
