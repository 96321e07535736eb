//! A hostile or buggy guest against the virtio-net model: arbitrary virtio BAR and
//! config space traffic, rings and descriptor chains well-formed or not, control
//! commands, received frames, resets and timers, with the safety invariants of
//! `device_model::fuzzing::virtio` checked after every step (no panic, DMA only
//! inside mapped memory and only once started, at most a ring's worth of work per
//! notification, counters that never go back and account for every frame sent, no
//! frame longer than the MTU or a GSO segment allows, no MSI-X vector past the table).
//!
//! The cases run as bytes through `run_virtio_ops`, the entry point the cargo-fuzz
//! target uses. `PROPTEST_CASES` sets how many (default 512).

use device_model::fuzzing::virtio::{
    self as fuzz, Offload, Packet, RawDesc, VirtioOp, VirtioSetup, DESC_FLIP_NEXT, DESC_WRITE,
};
use device_model::timing::TimingMode;
use proptest::prelude::*;
use virtio_bindings::virtio_config::VIRTIO_F_VERSION_1;
use virtio_bindings::virtio_net::*;
use virtio_bindings::virtio_ring::{VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC};

fn bit(b: u32) -> u64 {
    1 << b
}

/// Everything tunic offers: the bring-up keeps what the device offers.
const ALL: u64 = u64::MAX;

/// What Linux's `virtio_net` negotiates without the control queue.
fn linux_basic() -> u64 {
    [
        VIRTIO_F_VERSION_1,
        VIRTIO_RING_F_INDIRECT_DESC,
        VIRTIO_NET_F_MAC,
        VIRTIO_NET_F_MTU,
        VIRTIO_NET_F_CSUM,
        VIRTIO_NET_F_GUEST_CSUM,
        VIRTIO_NET_F_HOST_TSO4,
        VIRTIO_NET_F_HOST_TSO6,
        VIRTIO_NET_F_MRG_RXBUF,
    ]
    .into_iter()
    .fold(0, |f, b| f | bit(b))
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

fn setup() -> impl Strategy<Value = VirtioSetup> {
    (
        prop::bool::weighted(0.8),
        prop_oneof![
            6 => Just(TimingMode::Off),
            2 => Just(TimingMode::Virtual),
            1 => Just(TimingMode::Paced),
        ],
        prop_oneof![Just(1500u16), Just(9000), Just(68), any::<u16>()],
    )
        .prop_map(|(packed_ring, timing, mtu)| VirtioSetup {
            packed_ring,
            timing,
            mtu,
        })
}

fn features() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(ALL),
        Just(linux_basic()),
        Just(linux_basic() | bit(VIRTIO_RING_F_EVENT_IDX)),
        Just(linux_basic() & !bit(VIRTIO_NET_F_MRG_RXBUF)),
        any::<u64>(),
    ]
}

fn packet() -> impl Strategy<Value = Packet> {
    (
        0u8..5,
        prop_oneof![6 => 0u16..1600, 2 => 1600u16..9100, 1 => any::<u16>()],
        any::<u8>(),
    )
        .prop_map(|(proto, payload, fill)| Packet {
            // A third of the TCP/IPv4 packets go inside VXLAN (outer and inner IP
            // version from the payload's low bits), derived rather than drawn so the
            // rest of every generated program stays what it was.
            proto: if proto == 1 && fill % 3 == 0 {
                fuzz::TUNNEL_PROTO + (payload % 4) as u8
            } else {
                proto
            },
            payload,
            fill,
        })
}

fn offload() -> impl Strategy<Value = Offload> {
    prop_oneof![
        2 => Just(Offload::None),
        2 => Just(Offload::Csum),
        3 => prop_oneof![Just(1448u16), Just(536), 0u16..2000, any::<u16>()]
            .prop_map(|size| Offload::Gso { size }),
        1 => any::<[u8; 20]>().prop_map(Offload::Raw),
    ]
}

fn raw_desc() -> impl Strategy<Value = RawDesc> {
    (
        // Buffers mostly; RAM ends, the gap and far outside; anything.
        prop_oneof![
            3 => Just(7u8),
            1 => prop::sample::select(vec![1u8, 3, 4, 5, 6]),
            1 => any::<u8>(),
        ],
        prop_oneof![3 => 0i32..0x1_0000, 1 => -64i32..0, 1 => any::<i32>()],
        prop_oneof![3 => 0u32..2048, 1 => Just(u32::MAX), 1 => any::<u32>()],
        prop_oneof![2 => Just(0u8), 2 => Just(DESC_WRITE), 2 => 0u8..16],
        prop_oneof![4 => Just(0u8), 1 => any::<u8>()],
    )
        .prop_map(|(target, offset, len, flags, next)| RawDesc {
            target,
            offset,
            len,
            flags,
            next,
        })
}

fn rss_config(types: u32, table: &[u16], unclassified: u16, max_tx_vq: u16, key: &[u8]) -> Vec<u8> {
    let mut b = types.to_le_bytes().to_vec();
    b.extend((table.len().max(1) as u16 - 1).to_le_bytes());
    b.extend(unclassified.to_le_bytes());
    table.iter().for_each(|q| b.extend(q.to_le_bytes()));
    b.extend(max_tx_vq.to_le_bytes());
    b.push(key.len() as u8);
    b.extend(key);
    b
}

fn mac_tables(unicast: &[[u8; 6]], multicast: &[[u8; 6]]) -> Vec<u8> {
    let mut b = Vec::new();
    for t in [unicast, multicast] {
        b.extend((t.len() as u32).to_le_bytes());
        t.iter().for_each(|m| b.extend(m));
    }
    b
}

/// Control commands: well-formed ones of every class, and anything at all.
fn ctrl() -> impl Strategy<Value = VirtioOp> {
    let cmd = |class: u32, command: u32, payload: Vec<u8>| (class as u8, command as u8, payload);
    let well_formed = prop_oneof![
        3 => (0u32..2, any::<bool>()).prop_map(move |(c, on)| cmd(
            VIRTIO_NET_CTRL_RX,
            c,
            vec![u8::from(on)]
        )),
        1 => (0usize..4, 0usize..3).prop_map(move |(u, m)| {
            let uni = vec![[0x02, 0, 0, 0, 0, 9]; u];
            let multi = vec![[0x01, 0, 0x5e, 0, 0, 1]; m];
            cmd(
                VIRTIO_NET_CTRL_MAC,
                VIRTIO_NET_CTRL_MAC_TABLE_SET,
                mac_tables(&uni, &multi),
            )
        }),
        1 => Just(cmd(
            VIRTIO_NET_CTRL_MAC,
            VIRTIO_NET_CTRL_MAC_ADDR_SET,
            vec![0x02, 0, 0, 0, 0, 9]
        )),
        1 => (0u32..2, prop_oneof![0u16..8, any::<u16>()]).prop_map(move |(c, vid)| cmd(
            VIRTIO_NET_CTRL_VLAN,
            c,
            vid.to_le_bytes().to_vec()
        )),
        1 => (0u16..6).prop_map(move |n| cmd(
            VIRTIO_NET_CTRL_MQ,
            VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
            n.to_le_bytes().to_vec()
        )),
        1 => (
            prop_oneof![Just(0x3fu32), 0u32..0x40, any::<u32>()],
            prop_oneof![Just(1usize), Just(4), Just(128), 0usize..130],
            0u16..5,
            1u16..5,
            prop_oneof![Just(40usize), 0usize..42],
        )
            .prop_map(move |(types, n, q, max, key)| {
                let table: Vec<u16> = (0..n).map(|i| i as u16 % max).collect();
                cmd(
                    VIRTIO_NET_CTRL_MQ,
                    VIRTIO_NET_CTRL_MQ_RSS_CONFIG,
                    rss_config(types, &table, q, max, &vec![0x6d; key]),
                )
            }),
        1 => (prop_oneof![Just(0x3fu32), any::<u32>()], 0usize..42).prop_map(move |(types, key)| {
            let mut b = types.to_le_bytes().to_vec();
            b.extend([0; 8]);
            b.push(key as u8);
            b.extend(vec![0x5a; key]);
            cmd(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_HASH_CONFIG, b)
        }),
        1 => (
            0u32..2,
            0u32..4,
            prop_oneof![Just(0u32), 1u32..50, Just(u32::MAX)]
        )
            .prop_map(move |(c, max, usecs)| cmd(
                VIRTIO_NET_CTRL_NOTF_COAL,
                c,
                [max.to_le_bytes(), usecs.to_le_bytes()].concat()
            )),
    ];
    (
        prop_oneof![
            4 => well_formed,
            1 => (any::<u8>(), any::<u8>(), bytes(64)),
            1 => (0u8..8, 0u8..8, prop_oneof![bytes(8), bytes(5000)]),
        ],
        prop_oneof![6 => Just(1u8), 1 => Just(0u8), 1 => any::<u8>()],
    )
        .prop_map(|((class, command, payload), ack)| VirtioOp::Ctrl {
            class,
            command,
            payload,
            ack,
        })
}

/// Common configuration values a driver bug or an attacker would write.
fn common_value() -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => any::<u64>(),
        1 => Just(0u64),
        1 => Just(u64::MAX),
        1 => 0u64..16,           // selectors, queue indices, enable
        1 => Just(0x0fu64),      // ACK | DRIVER | FEATURES_OK | DRIVER_OK
        1 => Just(0x8fu64),      // ... | FAILED
        1 => Just(0x03u64),      // ACK | DRIVER: DRIVER_OK and FEATURES_OK cleared
        1 => prop_oneof![Just(3u64), Just(255), Just(256), Just(0x8000)], // queue sizes
        1 => Just(0xffff_fff0u64), // ring address halves far up
    ]
}

/// Reads and writes around the structures of the virtio BAR, and anywhere.
fn bar_access() -> impl Strategy<Value = VirtioOp> {
    let read_at = prop_oneof![
        0u16..0x40,
        0x1000u16..0x1004,
        0x2000u16..0x2020,
        any::<u16>()
    ];
    let write_at = prop_oneof![0u16..0x40, 0x3000u16..0x3030, any::<u16>()];
    prop_oneof![
        (read_at, 0u8..9).prop_map(|(offset, len)| VirtioOp::BarRead { offset, len }),
        (write_at, bytes(9)).prop_map(|(offset, data)| VirtioOp::BarWrite { offset, data }),
    ]
}

fn bring_up_op() -> impl Strategy<Value = VirtioOp> {
    (
        features(),
        prop::bool::weighted(0.4),
        any::<u8>(),
        any::<u8>(),
    )
        .prop_map(|(features, packed, size, pairs)| VirtioOp::BringUp {
            features,
            packed,
            size,
            pairs,
        })
}

fn chain_op() -> impl Strategy<Value = VirtioOp> {
    (
        // The transmit queue most, where a chain is taken at once.
        prop_oneof![3 => Just(1u8), 1 => Just(0u8), 2 => 0u8..9],
        prop::option::weighted(0.3, any::<i8>()),
        prop::bool::weighted(0.8),
        prop::collection::vec(raw_desc(), 0..6),
    )
        .prop_map(|(queue, indirect, kick, descs)| VirtioOp::Chain {
            queue,
            indirect,
            kick,
            descs,
        })
}

fn send_op() -> impl Strategy<Value = VirtioOp> {
    (0u8..4, packet(), offload(), any::<u8>()).prop_map(|(queue, packet, offload, pieces)| {
        VirtioOp::Send {
            queue,
            packet,
            offload,
            pieces,
        }
    })
}

fn receive_packet_op() -> impl Strategy<Value = VirtioOp> {
    (
        packet(),
        0u8..5,
        prop::option::weighted(0.2, prop_oneof![0u16..8, any::<u16>()]),
        prop::bool::weighted(0.1),
    )
        .prop_map(|(packet, dst, vlan, bad_csum)| VirtioOp::ReceivePacket {
            packet,
            dst,
            vlan,
            bad_csum,
        })
}

fn offer_rx_op() -> impl Strategy<Value = VirtioOp> {
    let len = prop_oneof![Just(1536u16), Just(9100), 0u16..64, any::<u16>()];
    (0u8..4, 0u8..20, len).prop_map(|(queue, count, len)| VirtioOp::OfferRx { queue, count, len })
}

fn op() -> impl Strategy<Value = VirtioOp> {
    prop_oneof![
        4 => bar_access(),
        5 => (0u8..18, common_value()).prop_map(|(field, value)| VirtioOp::Common { field, value }),
        1 => (prop_oneof![0u16..0x100, any::<u16>()], bytes(5))
            .prop_map(|(offset, data)| VirtioOp::Config { offset, data }),
        3 => prop_oneof![0u16..10, any::<u16>()].prop_map(|queue| VirtioOp::Notify { queue }),
        3 => (any::<u8>(), -64i32..0x1_0000, bytes(256))
            .prop_map(|(target, offset, data)| VirtioOp::Memory { target, offset, data }),
        3 => bring_up_op(),
        6 => chain_op(),
        10 => send_op(),
        5 => ctrl(),
        2 => bytes(100).prop_map(|frame| VirtioOp::Receive { frame }),
        10 => receive_packet_op(),
        4 => offer_rx_op(),
        1 => any::<u8>().prop_map(|kind| VirtioOp::Reset { kind }),
        2 => any::<u8>().prop_map(|kind| VirtioOp::Timers { kind }),
        1 => any::<bool>().prop_map(|up| VirtioOp::Link { up }),
        1 => Just(VirtioOp::ToggleHighRam),
        1 => any::<bool>().prop_map(|enabled| VirtioOp::Msix { enabled }),
    ]
}

/// Starts from a working driver most of the time, so deep states are reached.
fn program() -> impl Strategy<Value = (VirtioSetup, Vec<VirtioOp>)> {
    (
        setup(),
        prop::option::weighted(0.8, (features(), any::<bool>(), 2u8..9, any::<u8>())),
        prop::collection::vec(op(), 1..40),
    )
        .prop_map(|(setup, start, mut ops)| {
            if let Some((features, packed, size, pairs)) = start {
                ops.insert(
                    0,
                    VirtioOp::BringUp {
                        features,
                        packed,
                        size,
                        pairs,
                    },
                );
            }
            (setup, ops)
        })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(512),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn hostile_virtio_guest_cannot_break_the_device((setup, ops) in program()) {
        let bytes = fuzz::encode_virtio(&setup, &ops);
        prop_assert_eq!(fuzz::decode_virtio(&bytes), (setup, ops.clone()));
        fuzz::run_virtio_ops(&bytes);
    }

    #[test]
    fn any_bytes_are_a_virtio_guest(data in bytes(2048)) {
        fuzz::run_virtio_ops(&data);
    }

    /// What the fuzz target runs: one harness for the thread, its device reset
    /// between inputs, or built anew on the same guest memory when the next input
    /// asks for another MTU, ring layout or timing mode (each case here draws its own).
    #[test]
    fn generated_guests_one_after_another_on_a_reused_device((setup, ops) in program()) {
        fuzz::run_virtio_ops_reused(&fuzz::encode_virtio(&setup, &ops));
    }
}

/// A bring-up on one queue pair (`pairs` 0) or more.
fn bring_up(features: u64, packed: bool, pairs: u8) -> VirtioOp {
    VirtioOp::BringUp {
        features,
        packed,
        size: 4, // 16 entries (split), 5 (packed)
        pairs,
    }
}

fn udp(payload: u16) -> Packet {
    Packet {
        proto: 0,
        payload,
        fill: 7,
    }
}

#[test]
fn the_harness_driver_moves_traffic_on_both_ring_formats() {
    // The harness's own driver must work, or the properties above test nothing.
    for packed in [false, true] {
        let mut ops = vec![bring_up(ALL, packed, 0)];
        for i in 0..12 {
            ops.push(VirtioOp::Send {
                queue: 0,
                packet: udp(100),
                offload: Offload::Csum,
                pieces: i,
            });
            ops.push(VirtioOp::ReceivePacket {
                packet: udp(200),
                dst: 0,
                vlan: None,
                bad_csum: false,
            });
            ops.push(VirtioOp::OfferRx {
                queue: 0,
                count: 1,
                len: 1536,
            });
        }
        let report = fuzz::run_virtio(&VirtioSetup::default(), &ops);
        assert_eq!(report.wire_frames, 12, "packed {packed}: {report:?}");
        assert_eq!(
            report.counter("rx_packets"),
            12,
            "packed {packed}: {report:?}"
        );
        assert_eq!(report.counter("tx_csum"), 12);
        assert_eq!(report.counter("rx_data_valid"), 12);
        assert_eq!(report.counter("queue_errors"), 0);
        assert_eq!(report.dma_refused, 0);
        let moved = if packed {
            report.packed_packets
        } else {
            report.split_packets
        };
        assert_eq!(moved, 24);
    }
}

#[test]
fn tunnelled_gso_works_through_the_harness_in_every_ip_mix() {
    for proto in fuzz::TUNNEL_PROTO..=u8::MAX {
        let report = fuzz::run_virtio(
            &VirtioSetup::default(),
            &[
                bring_up(ALL, false, 3),
                VirtioOp::Send {
                    queue: 0,
                    packet: Packet {
                        proto,
                        payload: 14_480,
                        fill: 1,
                    },
                    offload: Offload::Gso { size: 1448 },
                    pieces: 7,
                },
            ],
        );
        assert_eq!(
            report.counter("tx_udp_tunnel_gso"),
            1,
            "proto {proto}: {report:?}"
        );
        assert_eq!(report.wire_frames, 10);
    }
}

#[test]
fn gso_and_control_commands_work_through_the_harness() {
    let report = fuzz::run_virtio(
        &VirtioSetup::default(),
        &[
            bring_up(ALL, false, 3),
            VirtioOp::Send {
                queue: 1,
                packet: Packet {
                    proto: 1,
                    payload: 14_480,
                    fill: 1,
                },
                offload: Offload::Gso { size: 1448 },
                pieces: 7,
            },
            VirtioOp::Ctrl {
                class: VIRTIO_NET_CTRL_RX as u8,
                command: VIRTIO_NET_CTRL_RX_PROMISC as u8,
                payload: vec![0],
                ack: 1,
            },
            VirtioOp::ReceivePacket {
                packet: udp(10),
                dst: 4, // not the device's address, now filtered
                vlan: None,
                bad_csum: false,
            },
        ],
    );
    assert_eq!(report.counter("tx_gso"), 1, "{report:?}");
    assert_eq!(report.wire_frames, 10);
    // VQ_PAIRS_SET of the bring-up, then PROMISC.
    assert_eq!(report.counter("ctrl_commands"), 2, "{report:?}");
    assert_eq!(report.counter("rx_filtered"), 1);
}

fn looping_chain() -> Vec<RawDesc> {
    let mut descs = vec![
        RawDesc {
            target: 7,
            len: 64,
            ..RawDesc::default()
        };
        16
    ];
    descs[15].flags = DESC_FLIP_NEXT;
    descs[15].next = 1;
    descs
}

#[test]
fn hostile_chains_set_needs_reset_without_stray_dma() {
    for packed in [false, true] {
        for (indirect, descs) in [
            // A loop: a chain as long as the split ring whose last descriptor links
            // back to the first; longer than the packed ring, and never ending.
            (None, looping_chain()),
            // An indirect table whose length is not a whole number of descriptors.
            (
                Some(3),
                vec![RawDesc {
                    target: 7,
                    len: 64,
                    ..RawDesc::default()
                }],
            ),
            // Device-writable, then readable.
            (
                None,
                vec![
                    RawDesc {
                        target: 7,
                        len: 64,
                        flags: DESC_WRITE,
                        ..RawDesc::default()
                    },
                    RawDesc {
                        target: 7,
                        len: 64,
                        ..RawDesc::default()
                    },
                ],
            ),
            // A buffer beyond RAM (u64::MAX).
            (
                None,
                vec![RawDesc {
                    target: 5,
                    len: 64,
                    ..RawDesc::default()
                }],
            ),
            // An absurd length.
            (
                None,
                vec![RawDesc {
                    target: 7,
                    len: u32::MAX,
                    ..RawDesc::default()
                }],
            ),
        ] {
            let report = fuzz::run_virtio(
                &VirtioSetup::default(),
                &[
                    bring_up(ALL, packed, 0),
                    VirtioOp::Chain {
                        queue: 1,
                        indirect,
                        kick: true,
                        descs: descs.clone(),
                    },
                ],
            );
            let failed = report.counter("queue_errors") + report.counter("tx_dropped");
            assert!(
                failed >= 1,
                "packed {packed}, {indirect:?} {descs:?}: {report:?}"
            );
            assert_eq!(report.wire_frames, 0);
        }
    }
}

#[test]
fn generated_guests_reach_the_deep_paths() {
    // The properties are only as strong as the states they reach: a sample of the
    // generated programs must send, segment, receive, filter, configure, fail and
    // reset, on both ring formats.
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{RngAlgorithm, TestRng, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        ProptestConfig::default(),
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let mut reached = std::collections::BTreeMap::<String, u64>::new();
    for _ in 0..150 {
        let (setup, ops) = program()
            .new_tree(&mut runner)
            .expect("a program")
            .current();
        let report = fuzz::run_virtio_ops(&fuzz::encode_virtio(&setup, &ops));
        for (name, v) in &report.counters {
            *reached.entry(name.clone()).or_default() += u64::from(*v > 0);
        }
        for (name, v) in [
            ("dma_refused", report.dma_refused),
            ("packed_packets", report.packed_packets),
            ("split_packets", report.split_packets),
        ] {
            *reached.entry(name.into()).or_default() += u64::from(v > 0);
        }
    }
    for path in [
        "tx_packets",
        "tx_csum",
        "tx_gso",
        "tx_uso",
        "tx_udp_tunnel_gso",
        "tx_dropped",
        "rx_packets",
        "rx_data_valid",
        "rx_filtered",
        "rx_oversize_drops",
        "rx_not_ready_drops",
        "rx_queue_packets[1]",
        "ctrl_commands",
        "ctrl_errors",
        "queue_errors",
        "resets",
        "dma_refused",
        "packed_packets",
        "split_packets",
    ] {
        assert!(
            reached.get(path).copied().unwrap_or(0) > 0,
            "no generated guest reached {path}: {reached:?}"
        );
    }
    eprintln!("programs (of 150) reaching each counter: {reached:?}");
}

#[test]
fn the_seed_corpus_still_reaches_traffic() {
    // The fuzzer starts from these inputs; a change to the byte format would leave
    // them decoding to something else, and the fuzzer starting from nowhere.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testvectors/fuzz-corpus/virtio_ops");
    let mut seeds = 0;
    for entry in std::fs::read_dir(&dir).expect("seed corpus") {
        let path = entry.expect("seed").path();
        let report = fuzz::run_virtio_ops(&std::fs::read(&path).expect("seed bytes"));
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name.starts_with("hostile") {
            assert!(report.counter("queue_errors") > 0, "{name}: {report:?}");
        } else {
            assert!(report.wire_frames > 0, "{name}: {report:?}");
            assert!(report.counter("rx_packets") > 0, "{name}: {report:?}");
        }
        seeds += 1;
    }
    assert!(seeds >= 5, "{seeds} seeds in {}", dir.display());
}

#[test]
fn held_notifications_and_paced_write_backs_are_released_by_timer_ops() {
    // Coalescing deadlines and paced transmit completions are wall-clock timers: the
    // timer op must wait for them, or the fuzzer never reaches what they release.
    let coalesce = [0u32.to_le_bytes(), 50u32.to_le_bytes()].concat();
    let report = fuzz::run_virtio(
        &VirtioSetup {
            timing: TimingMode::Paced,
            ..VirtioSetup::default()
        },
        &[
            bring_up(ALL, false, 0),
            VirtioOp::Ctrl {
                class: VIRTIO_NET_CTRL_NOTF_COAL as u8,
                command: VIRTIO_NET_CTRL_NOTF_COAL_RX_SET as u8,
                payload: coalesce,
                ack: 1,
            },
            VirtioOp::ReceivePacket {
                packet: udp(100),
                dst: 0,
                vlan: None,
                bad_csum: false,
            },
            VirtioOp::Send {
                queue: 0,
                packet: udp(100),
                offload: Offload::None,
                pieces: 0,
            },
            VirtioOp::Timers { kind: 3 },
            VirtioOp::Timers { kind: 3 },
        ],
    );
    assert_eq!(report.counter("notifications_coalesced"), 1, "{report:?}");
    assert_eq!(report.wire_frames, 1);
    // The control queue's, the held receive one, and the transmit one that came
    // with the paced write-back.
    assert_eq!(report.interrupts, 3, "{report:?}");
}
