//! A hostile or buggy guest against the igb model: arbitrary register traffic,
//! guest memory, descriptors and received frames, with the safety invariants of
//! `device_model::fuzzing` checked after every step (no panic, DMA only inside
//! mapped memory, at most one ring's worth of work per doorbell, counters that
//! never go back and account for every frame sent).
//!
//! The cases run as bytes through `fuzzing::run_ops`, the same entry point the
//! cargo-fuzz target uses. `PROPTEST_CASES` sets how many (default 256).

use device_model::fuzzing::{self, Op, TxContext};
use proptest::prelude::*;

/// Values a driver bug or an attacker would write: all ones, enables, edges.
fn register_value() -> impl Strategy<Value = u32> {
    prop_oneof![
        4 => any::<u32>(),
        1 => Just(0u32),
        1 => Just(u32::MAX),
        1 => Just(1u32 << 25), // TXDCTL/RXDCTL.ENABLE
        1 => Just(0x0000_fff0u32), // a long ring length
        1 => Just(0x000f_fff0u32), // the longest ring length
        1 => 0u32..130,            // heads and tails near small rings' ends
        1 => Just(1u32 << 26),     // CTRL.RST
        1 => Just(0x0400_8002u32), // RCTL: EN, BAM, SECRC
        1 => Just(0x0000_8062u32), // RCTL: EN, LPE, MAC loopback, BAM
        1 => Just(0x0000_000au32), // TCTL: EN, PSP
        1 => Just(0xfff0_0000u32), // ring base far up
    ]
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

fn context() -> impl Strategy<Value = TxContext> {
    (
        prop_oneof![Just(14u8), Just(18), Just(0), any::<u8>()],
        prop_oneof![Just(20u16), Just(40), Just(0), Just(0x1ff), any::<u16>()],
        prop_oneof![Just(20u8), Just(8), Just(0), Just(255), any::<u8>()],
        prop_oneof![
            Just(1448u16),
            Just(1u16),
            Just(0),
            Just(u16::MAX),
            any::<u16>()
        ],
        any::<u16>(),
        any::<u16>(),
    )
        .prop_map(|(maclen, iplen, l4len, mss, tucmd, vlan)| TxContext {
            maclen,
            iplen,
            l4len,
            mss,
            tucmd,
            vlan,
        })
}

/// An Ethernet frame: garbage, or an IPv4/UDP frame to the device with any length.
fn frame() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        bytes(64),
        // Addressed to the device, any EtherType (tags included), cut anywhere.
        (
            any::<bool>(),
            prop_oneof![
                Just([0x81u8, 0]),
                Just([0x08, 0]),
                Just([0x86, 0xdd]),
                any::<[u8; 2]>()
            ],
            prop_oneof![bytes(4), bytes(80)]
        )
            .prop_map(|(broadcast, ethertype, rest)| {
                let mut f = if broadcast {
                    vec![0xff; 6]
                } else {
                    vec![0x52, 0x54, 0x00, 0x12, 0x34, 0x56]
                };
                f.extend([0x52, 0x54, 0, 0, 0, 1]);
                f.extend(ethertype);
                f.extend(rest);
                f
            }),
        (0usize..10_000, any::<u8>(), any::<bool>()).prop_map(|(payload, fill, broadcast)| {
            let mut f = Vec::with_capacity(payload + 42);
            f.extend(if broadcast {
                [0xff; 6]
            } else {
                [0x52, 0x54, 0x00, 0x12, 0x34, 0x56]
            });
            f.extend([0x52, 0x54, 0, 0, 0, 1, 0x08, 0x00]);
            let total = (payload + 28) as u16;
            f.extend([
                0x45,
                0,
                (total >> 8) as u8,
                total as u8,
                0,
                0,
                0,
                0,
                64,
                17,
                0,
                0,
            ]);
            f.extend([198, 18, 0, 1, 198, 18, 0, 2, 0x30, 0x39, 0, 53, 0, 8, 0, 0]);
            f.resize(payload + 42, fill);
            f
        }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => (0u8..48, 0u8..20, register_value())
            .prop_map(|(reg, queue, value)| Op::Write { reg, queue, value }),
        2 => (any::<u8>(), any::<u8>()).prop_map(|(reg, queue)| Op::Read { reg, queue }),
        1 => (any::<u32>(), bytes(9)).prop_map(|(offset, data)| Op::RawWrite { offset, data }),
        3 => (any::<u8>(), -64i32..0x2_0000, bytes(256))
            .prop_map(|(base, offset, data)| Op::Memory { base, offset, data }),
        4 => (any::<bool>(), 0u8..4, any::<u16>(), any::<[u8; 16]>())
            .prop_map(|(tx, queue, slot, desc)| Op::Descriptor { tx, queue, slot, desc }),
        6 => (
            0u8..4,
            context(),
            any::<u8>(),
            prop_oneof![0u32..0x1000, any::<u32>()],
            prop_oneof![0u32..20_000, any::<u32>()],
            any::<u8>(),
            any::<u8>(),
            any::<u32>(),
        )
            .prop_map(|(queue, ctx, buf, offset, len, descs, cmd, olinfo)| Op::Send {
                queue,
                ctx,
                buf,
                offset,
                len,
                descs,
                cmd,
                olinfo,
            }),
        5 => frame().prop_map(|frame| Op::Receive { frame }),
        3 => any::<u8>().prop_map(|queues| Op::BringUp { queues }),
        1 => any::<u8>().prop_map(|kind| Op::Reset { kind }),
        1 => Just(Op::ToggleHighRam),
        1 => any::<bool>().prop_map(|up| Op::Link { up }),
    ]
}

/// Starts from a working driver most of the time (in MAC loopback for some), so
/// deep states are reached.
fn program() -> impl Strategy<Value = Vec<Op>> {
    (0u8..4, prop::collection::vec(op(), 1..48)).prop_map(|(start, mut ops)| {
        if start == 3 {
            // RCTL: EN, LPE, MAC loopback, BAM (register 16 of the table).
            ops.insert(
                0,
                Op::Write {
                    reg: 16,
                    queue: 0,
                    value: 0x0000_8062,
                },
            );
        }
        if start >= 1 {
            ops.insert(0, Op::BringUp { queues: 3 });
        }
        ops
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn hostile_guest_cannot_break_the_device(ops in program()) {
        let bytes = fuzzing::encode(&ops);
        prop_assert_eq!(fuzzing::decode(&bytes), ops.clone());
        fuzzing::run_ops(&bytes);
    }

    #[test]
    fn any_bytes_are_a_guest(data in bytes(2048)) {
        fuzzing::run_ops(&data);
    }
}

#[test]
fn a_driver_bring_up_moves_traffic_both_ways() {
    // The harness's own driver must work, or the properties above test nothing.
    let mut frame = vec![0xff; 6];
    frame.extend([0x52, 0x54, 0, 0, 0, 1, 0x08, 0x00]);
    frame.resize(200, 7);
    let report = fuzzing::run(&[
        Op::BringUp { queues: 1 },
        Op::Memory {
            base: 9,
            offset: 0x8_0000,
            data: frame.clone(),
        },
        Op::Send {
            queue: 0,
            ctx: TxContext::default(),
            buf: 9,
            offset: 0x8_0000,
            len: 200,
            descs: 0,
            cmd: 0x2a, // IFCS, RS, DEXT (the harness adds EOP)
            olinfo: 200 << 14,
        },
        Op::Receive { frame },
    ]);
    assert_eq!(report.wire_frames, 1, "{report:?}");
    assert_eq!(report.tx_frames, 1);
    assert_eq!(report.rx_frames, 1);
    assert_eq!(report.dma_refused, 0);
}

#[test]
fn ring_outside_ram_is_refused_and_counted() {
    let report = fuzzing::run(&[
        Op::BringUp { queues: 1 },
        // TDBAH = 0xffffffff: the ring is far above guest RAM.
        Op::Write {
            reg: 1,
            queue: 0,
            value: u32::MAX,
        },
        Op::Write {
            reg: 4,
            queue: 0,
            value: 5,
        },
    ]);
    let dma_errors = report
        .counters
        .iter()
        .find(|(k, _)| k == "tx_dma_errors")
        .map(|(_, v)| *v);
    assert_eq!(dma_errors, Some(1), "{report:?}");
    assert!(report.dma_refused >= 1);
}

#[test]
fn longest_ring_with_tail_behind_head_is_one_pass() {
    // TDLEN at its maximum (65535 descriptors over 1 MiB, wrapping past RAM's end),
    // head just after tail: the device walks the ring once and stops.
    let report = fuzzing::run(&[
        Op::BringUp { queues: 1 },
        Op::Write {
            reg: 2,
            queue: 0,
            value: 0x000f_fff0,
        },
        Op::Write {
            reg: 3,
            queue: 0,
            value: 2,
        },
        Op::Write {
            reg: 4,
            queue: 0,
            value: 1,
        },
    ]);
    assert!(report.tx_descriptors <= 0xffff, "{report:?}");
}

#[test]
fn tso_with_absurd_context_is_dropped_not_fatal() {
    for (maclen, iplen, l4len, mss) in [
        (127, 0x1ff, 255, 0),
        (0, 0, 0, 1),
        (14, 20, 20, 1),
        (14, 20, 255, u16::MAX),
        (127, 511, 8, 1),
    ] {
        fuzzing::run(&[
            Op::BringUp { queues: 1 },
            Op::Send {
                queue: 0,
                ctx: TxContext {
                    maclen,
                    iplen,
                    l4len,
                    mss,
                    tucmd: 0x3 | (1 << 1),
                    vlan: 0,
                },
                buf: 9,
                offset: 0,
                len: 0xffff,
                descs: 3,
                cmd: 0xaa, // IFCS, RS, DEXT, TSE
                olinfo: 0xffff << 14,
            },
        ]);
    }
}

#[test]
fn generated_guests_reach_the_deep_paths() {
    // The properties are only as strong as the states they reach: a sample of the
    // generated programs must send, receive, segment, loop back and fault.
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{RngAlgorithm, TestRng, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        ProptestConfig::default(),
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let mut reached = std::collections::BTreeMap::<String, u64>::new();
    for _ in 0..300 {
        let ops = program()
            .new_tree(&mut runner)
            .expect("a program")
            .current();
        let report = fuzzing::run_ops(&fuzzing::encode(&ops));
        for (name, v) in report.counters {
            *reached.entry(name).or_default() += u64::from(v > 0);
        }
        *reached.entry("dma_refused".into()).or_default() += u64::from(report.dma_refused > 0);
    }
    for path in [
        "tx_frames",
        "rx_frames",
        "tso_packets",
        "tso_errors",
        "tx_dma_errors",
        "rx_dma_errors",
        "ring_errors",
        "resets",
        "loopback_frames",
        "dma_refused",
    ] {
        assert!(
            reached.get(path).copied().unwrap_or(0) > 0,
            "no generated guest reached {path}: {reached:?}"
        );
    }
    eprintln!("programs (of 300) reaching each counter: {reached:?}");
}

#[test]
fn receive_fifo_overflow_is_counted_and_bounded() {
    // No Rx descriptors are ever returned: frames wait in the 64 KiB FIFO, then drop.
    let mut frame = vec![0xff; 6];
    frame.extend([0x52, 0x54, 0, 0, 0, 1, 0x08, 0x00]);
    frame.resize(9000, 1);
    let mut ops = vec![
        Op::BringUp { queues: 1 },
        // RDT = RDH: the ring has no free descriptors.
        Op::Write {
            reg: 11,
            queue: 0,
            value: 0,
        },
    ];
    ops.extend((0..40).map(|_| Op::Receive {
        frame: frame.clone(),
    }));
    let report = fuzzing::run(&ops);
    let get = |k: &str| {
        report
            .counters
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| *v)
    };
    assert_eq!(get("rx_frames"), Some(0), "{report:?}");
    assert_eq!(get("rx_fifo_overflow_drops"), Some(40 - 7), "{report:?}");
}

#[test]
fn short_tagged_frame_is_a_runt_not_a_panic() {
    // An 802.1Q TPID at bytes 12-13 but no room for the tag's TCI.
    for len in 14..18 {
        let mut frame = vec![0xff; 6];
        frame.extend([0x52, 0x54, 0, 0, 0, 1, 0x81, 0x00]);
        frame.resize(len, 0);
        fuzzing::run(&[
            Op::BringUp { queues: 1 },
            // CTRL.VME: strip tags.
            Op::Write {
                reg: 18,
                queue: 0,
                value: 1 << 30,
            },
            Op::Receive { frame },
        ]);
    }
}
