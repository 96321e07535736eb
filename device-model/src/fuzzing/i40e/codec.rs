//! The byte form of an X710 program: operations, each a tag byte (modulo the
//! operation count) and its fields, little-endian. Every byte string decodes (reads
//! past the end yield zeros), and encoding typed operations decodes back to the
//! same operations.

use super::super::Cursor;
use super::{
    AqCommand, I40eOp, Packet, Reg, RxPacket, TxDesc, TxOffload, TxPacket, MAX_AQ_DATA, MAX_OPS,
    MAX_TX_DESCS,
};

const OPS: u8 = 16;
/// ReceivePacket flag bits.
const RX_VLAN: u8 = 1 << 0;
const RX_BAD_CSUM: u8 = 1 << 1;

/// Bytes behind a one-byte length, at most `max` of them (`max < 255`: the length
/// is taken modulo `max + 1`).
fn short(c: &mut Cursor, max: usize) -> Vec<u8> {
    let n = usize::from(c.u8()) % (max + 1);
    c.vec(n)
}

fn put_short(b: &mut Vec<u8>, data: &[u8], max: usize) {
    let data = &data[..data.len().min(max)];
    b.push(data.len() as u8);
    b.extend(data);
}

/// Bytes behind a two-byte length, at most `max` of them.
fn sized(c: &mut Cursor, max: usize) -> Vec<u8> {
    let n = usize::from(c.u16()) % (max + 1);
    c.vec(n)
}

fn put_sized(b: &mut Vec<u8>, data: &[u8], max: usize) {
    let data = &data[..data.len().min(max)];
    b.extend((data.len() as u16).to_le_bytes());
    b.extend(data);
}

fn qword(c: &mut Cursor) -> u64 {
    u64::from_le_bytes(c.bytes())
}

fn packet(c: &mut Cursor) -> Packet {
    Packet {
        proto: c.u8(),
        tunnel: c.u8(),
        payload: c.u16(),
        fill: c.u8(),
    }
}

fn reg(c: &mut Cursor) -> Reg {
    Reg {
        table: c.u8(),
        index: c.u8(),
    }
}

/// A kind byte, then an MSS that only TSO uses (always in the bytes).
fn offload(c: &mut Cursor) -> TxOffload {
    let kind = c.u8() % 4;
    let mss = c.u16();
    match kind {
        0 => TxOffload::None,
        1 => TxOffload::Csum,
        2 => TxOffload::Tso { mss },
        _ => TxOffload::TsoTagged { mss },
    }
}

fn put_packet(b: &mut Vec<u8>, p: &Packet) {
    b.extend([p.proto, p.tunnel]);
    b.extend(p.payload.to_le_bytes());
    b.push(p.fill);
}

fn decode_op(c: &mut Cursor) -> I40eOp {
    match c.u8() % OPS {
        0 => I40eOp::Write {
            reg: reg(c),
            value: c.u32(),
        },
        1 => I40eOp::Read(reg(c)),
        2 => I40eOp::RawWrite {
            offset: c.u32(),
            data: short(c, 8),
        },
        3 => I40eOp::RawRead {
            offset: c.u32(),
            len: c.u8() % 9,
        },
        4 => I40eOp::Memory {
            target: c.u8(),
            offset: c.u32() as i32,
            data: short(c, 255),
        },
        5 => I40eOp::AdminCommand {
            cmd: AqCommand {
                flags: c.u16(),
                opcode: c.u16(),
                datalen: c.u16(),
                rest: c.bytes(),
            },
            buf: (c.u8() & 1 != 0).then(|| (c.u8(), c.u32() as i32)),
            data: sized(c, MAX_AQ_DATA),
        },
        6 => I40eOp::BringUp {
            pairs: c.u8(),
            flags: c.u8(),
        },
        7 => {
            let queue = c.u8();
            let kick = c.u8() & 1 != 0;
            let n = usize::from(c.u8()) % (MAX_TX_DESCS + 1);
            let descs = (0..n)
                .map(|_| TxDesc {
                    base: c.u8(),
                    qw0: qword(c),
                    qw1: qword(c),
                })
                .collect();
            I40eOp::TxDescs { queue, kick, descs }
        }
        8 => I40eOp::Send(TxPacket {
            queue: c.u8(),
            packet: packet(c),
            offload: offload(c),
            pieces: c.u8(),
        }),
        9 => I40eOp::Receive {
            frame: sized(c, usize::from(u16::MAX)),
        },
        10 => {
            let (packet, dst, flags) = (packet(c), c.u8(), c.u8());
            I40eOp::ReceivePacket(RxPacket {
                packet,
                dst,
                vlan: (flags & RX_VLAN != 0).then(|| c.u16()),
                bad_csum: flags & RX_BAD_CSUM != 0,
            })
        }
        11 => I40eOp::Refill { ring: c.u8() },
        12 => I40eOp::Config {
            offset: c.u16(),
            data: short(c, 4),
        },
        13 => I40eOp::Reset { kind: c.u8() },
        14 => I40eOp::ToggleHighRam,
        _ => I40eOp::Link {
            up: c.u8() & 1 != 0,
        },
    }
}

/// Decodes an operation stream (see [`encode_i40e`] for the layout).
pub fn decode_i40e(data: &[u8]) -> Vec<I40eOp> {
    let mut c = Cursor { data };
    let mut ops = Vec::new();
    while !c.data.is_empty() && ops.len() < MAX_OPS {
        ops.push(decode_op(&mut c));
    }
    ops
}

fn encode_op(b: &mut Vec<u8>, op: &I40eOp) {
    match op {
        I40eOp::Write { reg, value } => {
            b.extend([0, reg.table, reg.index]);
            b.extend(value.to_le_bytes());
        }
        I40eOp::Read(reg) => b.extend([1, reg.table, reg.index]),
        I40eOp::RawWrite { offset, data } => {
            b.push(2);
            b.extend(offset.to_le_bytes());
            put_short(b, data, 8);
        }
        I40eOp::RawRead { offset, len } => {
            b.push(3);
            b.extend(offset.to_le_bytes());
            b.push(*len);
        }
        I40eOp::Memory {
            target,
            offset,
            data,
        } => {
            b.extend([4, *target]);
            b.extend(offset.to_le_bytes());
            put_short(b, data, 255);
        }
        I40eOp::AdminCommand { cmd, buf, data } => {
            b.push(5);
            b.extend(cmd.bytes());
            match buf {
                Some((target, offset)) => {
                    b.extend([1, *target]);
                    b.extend(offset.to_le_bytes());
                }
                None => b.push(0),
            }
            put_sized(b, data, MAX_AQ_DATA);
        }
        I40eOp::BringUp { pairs, flags } => b.extend([6, *pairs, *flags]),
        I40eOp::TxDescs { queue, kick, descs } => {
            let descs = &descs[..descs.len().min(MAX_TX_DESCS)];
            b.extend([7, *queue, u8::from(*kick), descs.len() as u8]);
            for d in descs {
                b.push(d.base);
                b.extend(d.qw0.to_le_bytes());
                b.extend(d.qw1.to_le_bytes());
            }
        }
        I40eOp::Send(t) => {
            b.extend([8, t.queue]);
            put_packet(b, &t.packet);
            let (kind, mss) = match t.offload {
                TxOffload::None => (0, 0),
                TxOffload::Csum => (1, 0),
                TxOffload::Tso { mss } => (2, mss),
                TxOffload::TsoTagged { mss } => (3, mss),
            };
            b.push(kind);
            b.extend(mss.to_le_bytes());
            b.push(t.pieces);
        }
        I40eOp::Receive { frame } => {
            b.push(9);
            put_sized(b, frame, usize::from(u16::MAX));
        }
        I40eOp::ReceivePacket(r) => {
            b.push(10);
            put_packet(b, &r.packet);
            let vlan_flag = if r.vlan.is_some() { RX_VLAN } else { 0 };
            let flags = vlan_flag | if r.bad_csum { RX_BAD_CSUM } else { 0 };
            b.extend([r.dst, flags]);
            if let Some(tci) = r.vlan {
                b.extend(tci.to_le_bytes());
            }
        }
        I40eOp::Refill { ring } => b.extend([11, *ring]),
        I40eOp::Config { offset, data } => {
            b.push(12);
            b.extend(offset.to_le_bytes());
            put_short(b, data, 4);
        }
        I40eOp::Reset { kind } => b.extend([13, *kind]),
        I40eOp::ToggleHighRam => b.push(14),
        I40eOp::Link { up } => b.extend([15, u8::from(*up)]),
    }
}

/// The byte form of `ops`, which [`decode_i40e`] turns back into the same
/// operations (payloads longer than their length field allows are cut).
pub fn encode_i40e(ops: &[I40eOp]) -> Vec<u8> {
    let mut b = Vec::new();
    for op in ops {
        encode_op(&mut b, op);
    }
    b
}
