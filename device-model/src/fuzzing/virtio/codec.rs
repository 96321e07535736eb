//! The byte form of a virtio program: a 3-byte [`VirtioSetup`], then operations,
//! each a tag byte (modulo the operation count) and its fields, little-endian.
//! Every byte string decodes (reads past the end yield zeros), and encoding typed
//! operations decodes back to the same operations.

use super::super::Cursor;
use super::{Offload, Packet, RawDesc, VirtioOp, VirtioSetup, MAX_CHAIN, MAX_OPS};
use crate::timing::TimingMode;

const OPS: u8 = 18;
/// Setup flag bits. Packed rings are offered unless bit 0 says otherwise, so that
/// all-zero input reaches both ring formats.
const NO_PACKED: u8 = 1 << 0;
const TIMING_SHIFT: u8 = 1;

impl Cursor<'_> {
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.bytes())
    }
    fn i32(&mut self) -> i32 {
        i32::from_le_bytes(self.bytes())
    }
    fn flag(&mut self) -> bool {
        self.u8() & 1 != 0
    }
    fn packet(&mut self) -> Packet {
        Packet {
            proto: self.u8(),
            payload: self.u16(),
            fill: self.u8(),
        }
    }
}

fn put_packet(b: &mut Vec<u8>, p: &Packet) {
    b.push(p.proto);
    b.extend(p.payload.to_le_bytes());
    b.push(p.fill);
}

fn decode_setup(c: &mut Cursor) -> VirtioSetup {
    let flags = c.u8();
    VirtioSetup {
        packed_ring: flags & NO_PACKED == 0,
        timing: match (flags >> TIMING_SHIFT) & 3 {
            1 => TimingMode::Virtual,
            2 => TimingMode::Paced,
            _ => TimingMode::Off,
        },
        mtu: c.u16(),
    }
}

fn encode_setup(b: &mut Vec<u8>, s: &VirtioSetup) {
    let timing = match s.timing {
        TimingMode::Off => 0,
        TimingMode::Virtual => 1,
        TimingMode::Paced => 2,
    };
    b.push(u8::from(!s.packed_ring) | timing << TIMING_SHIFT);
    b.extend(s.mtu.to_le_bytes());
}

fn decode_op(c: &mut Cursor) -> VirtioOp {
    match c.u8() % OPS {
        0 => VirtioOp::BarRead {
            offset: c.u16(),
            len: c.u8() % 9,
        },
        1 => {
            let offset = c.u16();
            let len = usize::from(c.u8() % 9);
            VirtioOp::BarWrite {
                offset,
                data: c.vec(len),
            }
        }
        2 => VirtioOp::Common {
            field: c.u8(),
            value: c.u64(),
        },
        3 => {
            let offset = c.u16();
            let len = usize::from(c.u8() % 5);
            VirtioOp::Config {
                offset,
                data: c.vec(len),
            }
        }
        4 => VirtioOp::Notify { queue: c.u16() },
        5 => {
            let target = c.u8();
            let offset = c.i32();
            let len = usize::from(c.u8());
            VirtioOp::Memory {
                target,
                offset,
                data: c.vec(len),
            }
        }
        6 => VirtioOp::BringUp {
            features: c.u64(),
            packed: c.flag(),
            size: c.u8(),
            pairs: c.u8(),
        },
        7 => {
            let queue = c.u8();
            let mode = c.u8();
            let indirect = (mode & 2 != 0).then(|| c.u8() as i8);
            let n = usize::from(c.u8()) % (MAX_CHAIN + 1);
            let descs = (0..n)
                .map(|_| RawDesc {
                    target: c.u8(),
                    offset: c.i32(),
                    len: c.u32(),
                    flags: c.u8(),
                    next: c.u8(),
                })
                .collect();
            VirtioOp::Chain {
                queue,
                indirect,
                kick: mode & 1 != 0,
                descs,
            }
        }
        8 => {
            let queue = c.u8();
            let packet = c.packet();
            let offload = match c.u8() % 4 {
                0 => Offload::None,
                1 => Offload::Csum,
                2 => Offload::Gso { size: c.u16() },
                _ => Offload::Raw(c.bytes()),
            };
            VirtioOp::Send {
                queue,
                packet,
                offload,
                pieces: c.u8(),
            }
        }
        9 => {
            let class = c.u8();
            let command = c.u8();
            let len = usize::from(c.u16());
            VirtioOp::Ctrl {
                class,
                command,
                payload: c.vec(len),
                ack: c.u8(),
            }
        }
        10 => {
            let len = usize::from(c.u16());
            VirtioOp::Receive { frame: c.vec(len) }
        }
        11 => {
            let packet = c.packet();
            let dst = c.u8();
            let flags = c.u8();
            VirtioOp::ReceivePacket {
                packet,
                dst,
                vlan: (flags & 1 != 0).then(|| c.u16()),
                bad_csum: flags & 2 != 0,
            }
        }
        12 => VirtioOp::OfferRx {
            queue: c.u8(),
            count: c.u8(),
            len: c.u16(),
        },
        13 => VirtioOp::Reset { kind: c.u8() },
        14 => VirtioOp::Timers { kind: c.u8() },
        15 => VirtioOp::Link { up: c.flag() },
        16 => VirtioOp::ToggleHighRam,
        _ => VirtioOp::Msix { enabled: c.flag() },
    }
}

/// Decodes a program (see [`encode_virtio`] for the layout).
pub fn decode_virtio(data: &[u8]) -> (VirtioSetup, Vec<VirtioOp>) {
    let mut c = Cursor { data };
    let setup = decode_setup(&mut c);
    let mut ops = Vec::new();
    while !c.data.is_empty() && ops.len() < MAX_OPS {
        ops.push(decode_op(&mut c));
    }
    (setup, ops)
}

/// The byte form of a program, which [`decode_virtio`] turns back into the same
/// setup and operations (payloads longer than their length field are cut, chains
/// longer than [`MAX_CHAIN`] too).
pub fn encode_virtio(setup: &VirtioSetup, ops: &[VirtioOp]) -> Vec<u8> {
    let mut b = Vec::new();
    encode_setup(&mut b, setup);
    for op in ops {
        encode_op(&mut b, op);
    }
    b
}

fn encode_op(b: &mut Vec<u8>, op: &VirtioOp) {
    let cut = |d: &[u8], max: usize| d[..d.len().min(max)].to_vec();
    match op {
        VirtioOp::BarRead { offset, len } => {
            b.push(0);
            b.extend(offset.to_le_bytes());
            b.push(*len % 9);
        }
        VirtioOp::BarWrite { offset, data } => {
            let data = cut(data, 8);
            b.push(1);
            b.extend(offset.to_le_bytes());
            b.push(data.len() as u8);
            b.extend(data);
        }
        VirtioOp::Common { field, value } => {
            b.extend([2, *field]);
            b.extend(value.to_le_bytes());
        }
        VirtioOp::Config { offset, data } => {
            let data = cut(data, 4);
            b.push(3);
            b.extend(offset.to_le_bytes());
            b.push(data.len() as u8);
            b.extend(data);
        }
        VirtioOp::Notify { queue } => {
            b.push(4);
            b.extend(queue.to_le_bytes());
        }
        VirtioOp::Memory {
            target,
            offset,
            data,
        } => {
            let data = cut(data, 255);
            b.extend([5, *target]);
            b.extend(offset.to_le_bytes());
            b.push(data.len() as u8);
            b.extend(data);
        }
        VirtioOp::BringUp {
            features,
            packed,
            size,
            pairs,
        } => {
            b.push(6);
            b.extend(features.to_le_bytes());
            b.extend([u8::from(*packed), *size, *pairs]);
        }
        VirtioOp::Chain {
            queue,
            indirect,
            kick,
            descs,
        } => {
            let descs = &descs[..descs.len().min(MAX_CHAIN)];
            b.extend([
                7,
                *queue,
                u8::from(*kick) | u8::from(indirect.is_some()) << 1,
            ]);
            if let Some(adjust) = indirect {
                b.push(*adjust as u8);
            }
            b.push(descs.len() as u8);
            for d in descs {
                b.push(d.target);
                b.extend(d.offset.to_le_bytes());
                b.extend(d.len.to_le_bytes());
                b.extend([d.flags, d.next]);
            }
        }
        VirtioOp::Send {
            queue,
            packet,
            offload,
            pieces,
        } => {
            b.extend([8, *queue]);
            put_packet(b, packet);
            match offload {
                Offload::None => b.push(0),
                Offload::Csum => b.push(1),
                Offload::Gso { size } => {
                    b.push(2);
                    b.extend(size.to_le_bytes());
                }
                Offload::Raw(hdr) => {
                    b.push(3);
                    b.extend(hdr);
                }
            }
            b.push(*pieces);
        }
        VirtioOp::Ctrl {
            class,
            command,
            payload,
            ack,
        } => {
            let payload = cut(payload, usize::from(u16::MAX));
            b.extend([9, *class, *command]);
            b.extend((payload.len() as u16).to_le_bytes());
            b.extend(payload);
            b.push(*ack);
        }
        VirtioOp::Receive { frame } => {
            let frame = cut(frame, usize::from(u16::MAX));
            b.push(10);
            b.extend((frame.len() as u16).to_le_bytes());
            b.extend(frame);
        }
        VirtioOp::ReceivePacket {
            packet,
            dst,
            vlan,
            bad_csum,
        } => {
            b.push(11);
            put_packet(b, packet);
            b.extend([*dst, u8::from(vlan.is_some()) | u8::from(*bad_csum) << 1]);
            if let Some(tci) = vlan {
                b.extend(tci.to_le_bytes());
            }
        }
        VirtioOp::OfferRx { queue, count, len } => {
            b.extend([12, *queue, *count]);
            b.extend(len.to_le_bytes());
        }
        VirtioOp::Reset { kind } => b.extend([13, *kind]),
        VirtioOp::Timers { kind } => b.extend([14, *kind]),
        VirtioOp::Link { up } => b.extend([15, u8::from(*up)]),
        VirtioOp::ToggleHighRam => b.push(16),
        VirtioOp::Msix { enabled } => b.extend([17, u8::from(*enabled)]),
    }
}
