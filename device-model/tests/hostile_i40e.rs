//! A hostile or buggy guest against the X710 (i40e) model: arbitrary BAR0 traffic
//! aimed at the admin queue, NVM, HMC, queue, interrupt and RSS registers, admin
//! commands of any opcode, flags, length and buffer, Tx descriptors well-formed or
//! not, received frames, config space writes, resets and DMA map changes, with the
//! safety invariants of `device_model::fuzzing::i40e` checked after every step (no
//! panic, DMA only inside mapped memory, bounded work per doorbell, counters that
//! never go back and account for every frame sent, no frame longer than the MAC
//! sends, no MSI-X vector outside the table).
//!
//! The cases run as bytes through `run_i40e_ops`, the entry point the cargo-fuzz
//! target uses. `PROPTEST_CASES` sets how many (default 128).

use device_model::fuzzing::i40e::{
    self as fuzz, AqCommand, I40eOp, Packet, Reg, RxPacket, TxDesc, TxOffload, TxPacket,
    INTERESTING, MAX_AQ_DATA, MAX_TX_DESCS,
};
use device_model::i40e::aq_cmds::opc;
use device_model::i40e::regs::*;
use proptest::prelude::*;

/// A write to instance `index` of a register of the harness's table.
fn write(offset: u32, index: u8, value: u32) -> I40eOp {
    let table = INTERESTING.iter().position(|r| r.0 == offset);
    let table = table.expect("an interesting register") as u8;
    let reg = Reg { table, index };
    I40eOp::Write { reg, value }
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

/// Values a driver bug or an attacker would write: all ones, enables, edges.
fn register_value() -> impl Strategy<Value = u32> {
    prop_oneof![
        4 => any::<u32>(),
        1 => Just(0u32),
        1 => Just(u32::MAX),
        1 => Just(QENA_REQ),
        1 => Just(AQ_LEN_ENABLE | 0x3FF), // the longest admin ring
        1 => Just(AQ_LEN_ENABLE | 32),
        2 => 28u32..72, // heads and tails near the rings' ends
        1 => Just(GLNVM_SRCTL_START | (0x7FFF << 14)), // shadow RAM read past the end
        1 => Just(DYN_CTL_INTENA | DYN_CTL_SWINT_TRIG),
        1 => Just(QINT_CAUSE_ENA | 0x7FF), // a vector far past the table
        1 => Just((1u32 << 31) | 0xFFF),   // SDCMD write to a bad index
        1 => Just(0xFFFF_F003u32),         // SD entry: valid, direct, top of memory
    ]
}

fn packet() -> impl Strategy<Value = Packet> {
    (
        0u8..5,
        0u8..3,
        prop_oneof![6 => 0u16..1600, 2 => 1600u16..9800, 1 => any::<u16>()],
        any::<u8>(),
    )
        .prop_map(|(proto, tunnel, payload, fill)| Packet {
            proto,
            tunnel,
            payload,
            fill,
        })
}

fn offload() -> impl Strategy<Value = TxOffload> {
    let mss = || prop_oneof![Just(1448u16), Just(64), Just(9000), 0u16..200, any::<u16>()];
    prop_oneof![
        1 => Just(TxOffload::None),
        2 => Just(TxOffload::Csum),
        3 => mss().prop_map(|mss| TxOffload::Tso { mss }),
        1 => mss().prop_map(|mss| TxOffload::TsoTagged { mss }),
    ]
}

fn tx_desc() -> impl Strategy<Value = TxDesc> {
    (
        prop_oneof![3 => 7u8..14, 1 => 0u8..7, 1 => Just(0xFF), 1 => any::<u8>()],
        prop_oneof![3 => 0u64..0x1_0000, 1 => any::<u64>()],
        prop_oneof![
            // Data descriptors: any command, offsets and length.
            3 => (any::<u16>(), any::<u32>(), 0u64..0x4000)
                .prop_map(|(cmd, off, len)| u64::from(cmd & 0x3FF) << 4
                    | u64::from(off & 0x3_FFFF) << 16 | len << 34),
            // Context descriptors: TSO with any TLEN and MSS.
            2 => any::<u64>().prop_map(|v| (v & !0xF) | 1),
            1 => any::<u64>(),
        ],
    )
        .prop_map(|(base, qw0, qw1)| TxDesc { base, qw0, qw1 })
}

/// Opcodes the model answers.
const KNOWN_OPCODES: &[u16] = &[
    opc::GET_VERSION,
    opc::DRIVER_VERSION,
    opc::QUEUE_SHUTDOWN,
    opc::REQUEST_RESOURCE,
    opc::RELEASE_RESOURCE,
    opc::LIST_FUNC_CAPABILITIES,
    opc::LIST_DEV_CAPABILITIES,
    opc::MAC_ADDRESS_READ,
    opc::MAC_ADDRESS_WRITE,
    opc::CLEAR_PXE_MODE,
    opc::GET_SWITCH_CONFIG,
    opc::SET_PORT_PARAMETERS,
    opc::SET_SWITCH_CONFIG,
    opc::RX_CTL_REG_READ,
    opc::RX_CTL_REG_WRITE,
    opc::ADD_VSI,
    opc::UPDATE_VSI_PARAMETERS,
    opc::GET_VSI_PARAMETERS,
    opc::DELETE_ELEMENT,
    opc::ADD_MACVLAN,
    opc::REMOVE_MACVLAN,
    opc::SET_VSI_PROMISCUOUS_MODES,
    opc::ADD_CONTROL_PACKET_FILTER,
    opc::REMOVE_CONTROL_PACKET_FILTER,
    opc::ADD_CLOUD_FILTERS,
    opc::REMOVE_CLOUD_FILTERS,
    opc::SET_DCB_PARAMETERS,
    opc::CONFIGURE_VSI_BW_LIMIT,
    opc::CONFIGURE_VSI_TC_BW,
    opc::QUERY_VSI_BW_CONFIG,
    opc::QUERY_VSI_ETS_SLA_CONFIG,
    opc::GET_PHY_ABILITIES,
    opc::SET_PHY_CONFIG,
    opc::SET_MAC_CONFIG,
    opc::SET_LINK_RESTART_AN,
    opc::GET_LINK_STATUS,
    opc::SET_PHY_INT_MASK,
    opc::SET_LB_MODES,
    opc::LLDP_GET_MIB,
    opc::LLDP_STOP,
    opc::LLDP_START,
    opc::ADD_UDP_TUNNEL,
    opc::DEL_UDP_TUNNEL,
    opc::DEBUG_READ_REG,
    opc::DEBUG_WRITE_REG,
];

/// Opcodes the model answers, and some it does not.
fn opcode() -> impl Strategy<Value = u16> {
    prop_oneof![
        6 => prop::sample::select(KNOWN_OPCODES),
        1 => any::<u16>(),
    ]
}

fn command(flags: u16, opcode: u16, datalen: u16, rest: [u8; 26]) -> AqCommand {
    AqCommand {
        flags,
        opcode,
        datalen,
        rest,
    }
}

fn admin_command() -> impl Strategy<Value = I40eOp> {
    (
        prop_oneof![
            Just(0x1400u16),
            Just(0x1000),
            Just(0x1600),
            Just(0),
            any::<u16>()
        ],
        opcode(),
        prop_oneof![
            Just(0u16),
            Just(16),
            Just(128),
            Just(4096),
            Just(u16::MAX),
            any::<u16>()
        ],
        any::<[u8; 26]>(),
        prop::option::weighted(
            0.8,
            (
                prop_oneof![3 => Just(8u8), 1 => any::<u8>()],
                prop_oneof![3 => 0i32..0x1000, 1 => any::<i32>()],
            ),
        ),
        prop_oneof![bytes(200), bytes(MAX_AQ_DATA + 1)],
    )
        .prop_map(
            |(flags, opcode, datalen, rest, buf, data)| I40eOp::AdminCommand {
                cmd: command(flags, opcode, datalen, rest),
                buf,
                data,
            },
        )
}

fn op() -> impl Strategy<Value = I40eOp> {
    prop_oneof![
        10 => (
            prop_oneof![4 => 0u8..INTERESTING.len() as u8, 1 => any::<u8>()],
            prop_oneof![3 => 0u8..5, 1 => any::<u8>()],
            register_value(),
        )
            .prop_map(|(table, index, value)| I40eOp::Write { reg: Reg { table, index }, value }),
        2 => (any::<u8>(), any::<u8>()).prop_map(|(table, index)| I40eOp::Read(Reg { table, index })),
        1 => (any::<u32>(), bytes(9)).prop_map(|(offset, data)| I40eOp::RawWrite { offset, data }),
        1 => (any::<u32>(), 0u8..9).prop_map(|(offset, len)| I40eOp::RawRead { offset, len }),
        3 => (any::<u8>(), -64i32..0x2_0000, bytes(256))
            .prop_map(|(target, offset, data)| I40eOp::Memory { target, offset, data }),
        6 => admin_command(),
        3 => (any::<u8>(), any::<u8>()).prop_map(|(pairs, flags)| I40eOp::BringUp { pairs, flags }),
        4 => (0u8..4, any::<bool>(), prop::collection::vec(tx_desc(), 0..=MAX_TX_DESCS))
            .prop_map(|(queue, kick, descs)| I40eOp::TxDescs { queue, kick, descs }),
        6 => (0u8..4, packet(), offload(), any::<u8>())
            .prop_map(|(queue, packet, offload, pieces)| send(queue, packet, offload, pieces)),
        2 => bytes(128).prop_map(|frame| I40eOp::Receive { frame }),
        5 => (packet(), 0u8..4, prop::option::weighted(0.2, any::<u16>()), prop::bool::weighted(0.2))
            .prop_map(|(packet, dst, vlan, bad_csum)| I40eOp::ReceivePacket(RxPacket {
                packet,
                dst,
                vlan,
                bad_csum,
            })),
        3 => any::<u8>().prop_map(|ring| I40eOp::Refill { ring }),
        1 => (prop_oneof![0u16..0x100, any::<u16>()], bytes(5))
            .prop_map(|(offset, data)| I40eOp::Config { offset, data }),
        1 => any::<u8>().prop_map(|kind| I40eOp::Reset { kind }),
        1 => Just(I40eOp::ToggleHighRam),
        1 => any::<bool>().prop_map(|up| I40eOp::Link { up }),
    ]
}

/// Starts from a working driver most of the time, so deep states are reached.
fn program() -> impl Strategy<Value = Vec<I40eOp>> {
    (
        0u8..4,
        any::<u8>(),
        any::<u8>(),
        prop::collection::vec(op(), 1..40),
    )
        .prop_map(|(start, pairs, flags, mut ops)| {
            if start >= 1 {
                ops.insert(0, I40eOp::BringUp { pairs, flags });
            }
            ops
        })
}

/// `PROPTEST_CASES` cases (default 128), no failure files.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok());
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(cases.unwrap_or(128))
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn hostile_i40e_guest_cannot_break_the_device(ops in program()) {
        let bytes = fuzz::encode_i40e(&ops);
        prop_assert_eq!(&fuzz::decode_i40e(&bytes), &ops, "the byte form round-trips");
        let report = fuzz::run_i40e_ops(&bytes);
        prop_assert_eq!(report.ops, ops.len());
    }

    #[test]
    fn any_bytes_are_an_i40e_guest(data in bytes(2048)) {
        let report = fuzz::run_i40e_ops(&data);
        prop_assert!(report.ops <= fuzz::MAX_OPS);
    }

    /// What the fuzz target runs: one device per thread, reset between inputs, so
    /// whatever an input leaves behind meets the next one.
    #[test]
    fn generated_guests_one_after_another_on_a_reused_device(ops in program()) {
        fuzz::run_i40e_ops_reused(&fuzz::encode_i40e(&ops));
    }
}

fn udp(payload: u16) -> Packet {
    Packet {
        proto: 0,
        tunnel: 0,
        payload,
        fill: 0x5a,
    }
}

fn send(queue: u8, packet: Packet, offload: TxOffload, pieces: u8) -> I40eOp {
    I40eOp::Send(TxPacket {
        queue,
        packet,
        offload,
        pieces,
    })
}

fn to_device(packet: Packet) -> I40eOp {
    I40eOp::ReceivePacket(RxPacket {
        packet,
        dst: 0,
        vlan: None,
        bad_csum: false,
    })
}

#[test]
fn the_harness_driver_moves_traffic_both_ways() {
    // The harness's own driver must work, or the properties above test nothing.
    for flags in [0u8, 1, 2, 4, 8, 16, 0x1f] {
        let report = fuzz::run_i40e(&[
            I40eOp::BringUp { pairs: 2, flags },
            send(1, udp(200), TxOffload::Csum, 2),
            to_device(udp(300)),
            to_device(Packet {
                proto: 1,
                ..udp(1200)
            }),
        ]);
        assert_eq!(report.wire_frames, 1, "flags {flags:#x}: {report:?}");
        assert_eq!(report.counter("tx_csum_offloads"), 1, "{report:?}");
        assert_eq!(
            report.counter("rx_frames"),
            2,
            "flags {flags:#x}: {report:?}"
        );
        assert_eq!(report.counter("rx_csum_good"), 2, "{report:?}");
        assert_eq!(report.counter("aq_errors"), 0, "{report:?}");
        assert_eq!(report.dma_refused, 0, "{report:?}");
        assert!(report.interrupts > 0);
    }
}

#[test]
fn tso_and_nvgre_reach_the_segmenters_and_the_cloud_filter() {
    let nvgre = Packet {
        proto: 1,
        tunnel: 1,
        payload: 4000,
        fill: 1,
    };
    let report = fuzz::run_i40e(&[
        I40eOp::BringUp { pairs: 1, flags: 1 },
        send(
            0,
            Packet {
                proto: 3,
                ..udp(5000)
            },
            TxOffload::Tso { mss: 1000 },
            3,
        ),
        send(1, nvgre, TxOffload::Tso { mss: 1400 }, 0),
        send(1, udp(3000), TxOffload::TsoTagged { mss: 1000 }, 0),
        to_device(Packet {
            payload: 600,
            tunnel: 2,
            ..nvgre
        }),
    ]);
    assert_eq!(report.counter("tso_packets"), 3, "{report:?}");
    assert_eq!(report.counter("tso_errors"), 0, "{report:?}");
    assert_eq!(report.counter("tso_tunnel_packets"), 1, "{report:?}");
    assert_eq!(report.counter("tso_udp"), 1, "{report:?}");
    assert_eq!(report.wire_frames, 5 + 3 + 3, "{report:?}");
    assert_eq!(report.counter("rx_tunnel_frames"), 1, "{report:?}");
    // The cloud filter sends the tenant's frames to the last queue.
    assert_eq!(report.counter("rx_queue_frames.1"), 1, "{report:?}");
}

#[test]
fn oversized_segments_are_dropped_not_sent() {
    // MSS 16383 with both tags: both segments are longer than the MAC sends.
    let report = fuzz::run_i40e(&[
        I40eOp::BringUp { pairs: 0, flags: 0 },
        send(
            0,
            Packet {
                proto: 1,
                ..udp(2 * 0x3FFF)
            },
            TxOffload::TsoTagged { mss: 0x3FFF },
            3,
        ),
    ]);
    assert_eq!(report.wire_frames, 0, "{report:?}");
    assert_eq!(report.counter("tso_segments"), 2, "{report:?}");
    assert_eq!(report.counter("tx_oversize_dropped"), 2, "{report:?}");
}

#[test]
fn every_opcode_with_hostile_lengths_and_buffers_is_answered() {
    // Every opcode the model knows (and a few it does not), with no buffer, a short
    // one, the largest, and one outside guest memory.
    let mut ops = vec![I40eOp::BringUp { pairs: 1, flags: 0 }];
    for &opcode in KNOWN_OPCODES.iter().chain(&[0x0230, 0x0FFF, 0xFFFF]) {
        for (flags, datalen, buf) in [
            (0u16, 0u16, None),
            (0x1400, 7, Some((8u8, 0i32))),
            (0x1600, u16::MAX, Some((8, 0))),
            (0x1400, 64, Some((5, 0))),  // u64::MAX
            (0x1400, 64, Some((1, -8))), // straddles the end of low RAM
        ] {
            let cmd = command(flags, opcode, datalen, [0xA5; 26]);
            ops.push(I40eOp::AdminCommand {
                cmd,
                buf,
                data: vec![0xFF; 64],
            });
            if ops.len() >= fuzz::MAX_OPS {
                fuzz::run_i40e(&ops);
                ops.truncate(1);
            }
        }
    }
    fuzz::run_i40e(&ops);
}

#[test]
fn longest_admin_ring_with_tail_behind_head_is_one_pass() {
    // ATQLEN at its maximum over a ring running past the end of low RAM, ATQT just
    // behind ATQH: at most one ring's worth of commands, then the queue stops.
    let report = fuzz::run_i40e(&[
        I40eOp::BringUp { pairs: 0, flags: 0 },
        write(PF_ATQBAL, 0, 0xF_8000),
        write(PF_ATQLEN, 0, AQ_LEN_ENABLE | 0x3FF),
        write(PF_ATQH, 0, 1),
        write(PF_ATQT, 0, 0),
    ]);
    assert!(report.counter("aq_commands") <= 0x3FF + 4, "{report:?}");
    assert!(report.counter("aq_errors") >= 1, "{report:?}");
}

#[test]
fn tx_ring_outside_ram_is_refused_and_counted() {
    // The HMC context of queue 0 points its ring into the gap between the regions.
    let mut ctx = [0u8; 32];
    ctx[4..12].copy_from_slice(&((0x2000_0000u64 >> 7).to_le_bytes()));
    ctx[20..24].copy_from_slice(&(64u32 << 1).to_le_bytes());
    let report = fuzz::run_i40e(&[
        I40eOp::BringUp { pairs: 0, flags: 0 },
        // Target 9 is the HMC page: queue 0's Tx context.
        I40eOp::Memory {
            target: 9,
            offset: 0,
            data: ctx.to_vec(),
        },
        write(QTX_ENA, 0, QENA_REQ),
        send(0, udp(100), TxOffload::None, 0),
    ]);
    assert_eq!(report.counter("tx_dma_errors"), 1, "{report:?}");
    assert_eq!(report.wire_frames, 0);
    assert!(report.dma_refused >= 1);
}

/// How many of `n` generated programs leave each counter (and `dma_refused`) above 0.
fn reach(n: usize) -> std::collections::BTreeMap<String, u64> {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{RngAlgorithm, TestRng, TestRunner};
    let rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
    let mut runner = TestRunner::new_with_rng(ProptestConfig::default(), rng);
    let strategy = program();
    let mut reached = std::collections::BTreeMap::new();
    for _ in 0..n {
        let ops = strategy.new_tree(&mut runner).expect("a program").current();
        let r = fuzz::run_i40e(&ops);
        let refused = ("dma_refused".to_string(), r.dma_refused);
        for (name, v) in r.counters.into_iter().chain([refused]) {
            *reached.entry(name).or_insert(0) += u64::from(v > 0);
        }
    }
    reached
}

#[test]
fn generated_guests_reach_the_deep_paths() {
    // The properties are only as strong as the states they reach: a sample of the
    // generated programs must send, segment, receive, steer, fail and reset.
    let reached = reach(120);
    let missing: Vec<_> = [
        "tx_frames",
        "tx_csum_offloads",
        "tso_packets",
        "tso_segments",
        "tso_tunnel_packets",
        "tso_errors",
        "tx_dma_errors",
        "tx_bad_descriptors",
        "tx_ring_errors",
        "rx_frames",
        "rx_tunnel_frames",
        "rx_rss_hashed",
        "rx_vlan_stripped",
        "rx_csum_bad",
        "rx_filtered",
        "rx_no_descriptor_drops",
        "aq_commands",
        "aq_errors",
        "hmc_errors",
        "nvm_bad_reads",
        "resets",
        "dma_refused",
    ]
    .into_iter()
    .filter(|p| reached.get(*p).copied().unwrap_or(0) == 0)
    .collect();
    assert!(missing.is_empty(), "never reached {missing:?}: {reached:?}");
    eprintln!("programs (of 120) reaching each counter: {reached:?}");
}

fn seed_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testvectors/fuzz-corpus/i40e_ops")
}

fn aq(opcode: u16, flags: u16, datalen: u16, buf: Option<(u8, i32)>, data: Vec<u8>) -> I40eOp {
    let cmd = command(flags, opcode, datalen, [0; 26]);
    I40eOp::AdminCommand { cmd, buf, data }
}

/// The seed corpus of the `i40e_ops` fuzz target: a working driver's traffic in
/// each ring layout, and hostile admin and register traffic around it.
fn seeds() -> Vec<(&'static str, Vec<I40eOp>)> {
    let tcp4 = |payload| Packet {
        proto: 1,
        ..udp(payload)
    };
    let nvgre = |tunnel, payload| Packet {
        tunnel,
        ..tcp4(payload)
    };
    let send2 = |queue, packet, offload| send(queue, packet, offload, 1);
    vec![
        (
            "bring-up-udp",
            vec![
                I40eOp::BringUp { pairs: 0, flags: 0 },
                send2(0, udp(200), TxOffload::Csum),
                to_device(udp(300)),
                I40eOp::ReceivePacket(RxPacket {
                    packet: tcp4(100),
                    dst: 1,
                    vlan: Some(5),
                    bad_csum: false,
                }),
                I40eOp::Refill { ring: 1 },
            ],
        ),
        (
            "rss-tso-nvgre",
            vec![
                I40eOp::BringUp { pairs: 2, flags: 1 },
                send2(1, tcp4(6000), TxOffload::Tso { mss: 1448 }),
                send2(2, nvgre(1, 3000), TxOffload::Tso { mss: 1400 }),
                send2(3, udp(3000), TxOffload::TsoTagged { mss: 1000 }),
                to_device(nvgre(2, 500)),
                to_device(Packet {
                    proto: 3,
                    ..udp(700)
                }),
                I40eOp::Refill { ring: 4 },
            ],
        ),
        (
            "chained-high-rings",
            vec![
                I40eOp::BringUp {
                    pairs: 1,
                    flags: 0x1e,
                },
                to_device(udp(1800)),
                send2(0, udp(100), TxOffload::None),
                I40eOp::ToggleHighRam,
                send2(1, udp(100), TxOffload::None),
                to_device(udp(100)),
                I40eOp::ToggleHighRam,
                I40eOp::BringUp {
                    pairs: 1,
                    flags: 0x18,
                },
                send2(1, tcp4(100), TxOffload::Csum),
                to_device(tcp4(100)),
            ],
        ),
        (
            "hostile-admin",
            vec![
                I40eOp::BringUp { pairs: 0, flags: 0 },
                aq(0x0230, 0, 0, None, vec![]),
                aq(opc::ADD_VSI, 0x1400, 16, Some((8, 0)), vec![0xff; 16]),
                aq(
                    opc::GET_SWITCH_CONFIG,
                    0x1000,
                    u16::MAX,
                    Some((5, 0)),
                    vec![],
                ),
                aq(opc::ADD_MACVLAN, 0x1400, 64, Some((1, -32)), vec![0xff; 64]),
                aq(opc::DEBUG_WRITE_REG, 0, 0, None, vec![]),
                write(PF_ATQLEN, 0, AQ_LEN_ENABLE | 0x3FF),
                write(PF_ATQT, 0, 0x200),
                I40eOp::Refill { ring: 0 },
            ],
        ),
        (
            "hostile-registers",
            vec![
                I40eOp::BringUp { pairs: 1, flags: 0 },
                write(PFINT_DYN_CTLN, 200, DYN_CTL_INTENA | DYN_CTL_SWINT_TRIG),
                write(QINT_TQCTL, 1, QINT_CAUSE_ENA | 0x7FF),
                write(GLNVM_SRCTL, 0, GLNVM_SRCTL_START | (0x7FFF << 14)),
                write(PFHMC_SDCMD, 0, (1 << 31) | 0xFFF),
                write(QTX_TAIL, 1, 0x1FFF),
                I40eOp::TxDescs {
                    queue: 0,
                    kick: true,
                    descs: vec![
                        TxDesc {
                            base: 0xff,
                            qw0: u64::MAX,
                            qw1: 1 | (0x3F << 30) | (1 << 50) | (1 << 4),
                        },
                        TxDesc {
                            base: 5,
                            qw0: 0,
                            qw1: 0x3 << 4 | 0x3FFF << 34,
                        },
                    ],
                },
                I40eOp::Config {
                    offset: 0xA8,
                    data: vec![0, 0x80],
                },
                aq(0xFFFF, 0xFFFF, 0xFFFF, Some((6, 0)), vec![1; 32]),
                I40eOp::Reset { kind: 3 },
            ],
        ),
    ]
}

#[test]
#[ignore = "writes testvectors/fuzz-corpus/i40e_ops"]
fn write_i40e_seed_corpus() {
    let dir = seed_dir();
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, ops) in seeds() {
        std::fs::write(dir.join(name), fuzz::encode_i40e(&ops)).unwrap();
    }
}

#[test]
fn the_seed_corpus_is_current_and_reaches_traffic() {
    // The fuzzer starts from these inputs; a change to the byte format would leave
    // them decoding to something else, and the fuzzer starting from nowhere.
    for (name, ops) in seeds() {
        let path = seed_dir().join(name);
        let stored = std::fs::read(&path).unwrap_or_default();
        assert!(
            stored == fuzz::encode_i40e(&ops),
            "{} is stale; regenerate with \
             `cargo test -p device-model --test hostile_i40e -- --ignored`",
            path.display()
        );
        let report = fuzz::run_i40e_ops(&stored);
        if name.starts_with("hostile") {
            assert!(report.counter("aq_errors") > 0, "{name}: {report:?}");
        } else {
            assert!(report.wire_frames > 0, "{name}: {report:?}");
            assert!(report.counter("rx_frames") > 0, "{name}: {report:?}");
        }
    }
}
