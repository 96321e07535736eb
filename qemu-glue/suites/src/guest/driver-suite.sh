# The driver suite: what a driver developer expects of a NIC, checked in the guest
# against the unmodified in-tree driver ($TUNIC_DRIVER: igb or virtio_net) on two
# wired tunic ports.

stat_of() { # stat_of <ifname> <netdev statistic, e.g. tx_packets> [netns]
    if [ -n "$3" ]; then ip netns exec "$3" cat "/sys/class/net/$1/statistics/$2"; else cat "/sys/class/net/$1/statistics/$2"; fi
}

# The NVGRE key the tunnel cases use: VSID << 8 | FlowID (RFC 7637).
VSID=$((0x00c0de)); FLOWID=$((0x2a)); KEY=$(( (VSID << 8) | FLOWID ))

# mark CASE: frames after this go to tunic's per-case captures portN-CASE.pcap.
# The marker reaches tunic's case ledger through B's receive worker and the ledger's
# thread, which snapshots the counters; the pause lets that snapshot land before the
# case's first frame, even on a loaded host (the per-case evidence reads it).
mark() { /tunic/bin/tunic-guest mark "$A" "pcap=$1"; sleep 0.5; }

TUNIC_DRIVER=${TUNIC_DRIVER:-igb}
set -- $(nics_by_driver $TUNIC_DRIVER)
if [ $# -ne 2 ]; then
    result probe fail "expected 2 $TUNIC_DRIVER NICs, found: $* ($(dmesg | grep -iE 'igb|i40e|virtio' | tail -n 5 | tr '\n' ' '))"
    exit 1
fi
A=$1
B=$2
# Every driver failure in dmesg counts, except the notes the model is known to cause.
errors=$(dmesg | grep -iE "($TUNIC_DRIVER|virtio).*(error|fail|hang|timeout|invalid)" | without_expected_driver_notes | head -n 3)
if [ -z "$errors" ]; then
    if [ $TUNIC_DRIVER = igb ]; then
        result probe pass "$(dmesg | grep -m1 'igb.*Intel(R) Gigabit Ethernet Network Connection' | cut -c16-)"
    elif [ $TUNIC_DRIVER = i40e ]; then
        result probe pass "$(dmesg | grep -m1 'i40e.*fw .* api' | cut -c16-)"
    else
        # The features the driver and device agreed on, one bit per character.
        f=$(cat /sys/class/net/$A/device/features)
        result probe pass "virtio_net bound, features $f"
        # Every feature tunic offers that Linux's virtio_net takes must be agreed:
        # CSUM 0, GUEST_CSUM 1, CTRL_GUEST_OFFLOADS 2, MTU 3, MAC 5, HOST_TSO4/6 11/12, MRG_RXBUF 15,
        # STATUS 16, CTRL_VQ 17, CTRL_RX 18, CTRL_VLAN 19, MQ 22, CTRL_MAC_ADDR 23,
        # INDIRECT_DESC 28, EVENT_IDX 29, VERSION_1 32, DEVICE_STATS 50, HOST_USO 56,
        # HASH_REPORT 57, NOTF_COAL 53, RSS 60, SPEED_DUPLEX 63.
        missing=""
        for b in 0 1 2 3 5 11 12 15 16 17 18 19 22 23 28 29 32 50 53 56 57 60 63; do
            [ "$(printf '%s' "$f" | cut -c$((b + 1)))" = 1 ] || missing="$missing $b"
        done
        if [ -z "$missing" ]; then
            result virtio-features pass "all 23 expected feature bits negotiated; $(ethtool -l $A | awk '/Combined/ { print "combined " $2 }' | head -n 1)"
        else
            result virtio-features fail "not negotiated:$missing (features $f)"
        fi
    fi
else
    result probe fail "$errors"
fi
drv=$(ethtool -i $A | grep -E '^(driver|bus-info|firmware-version):' | tr '\n' ' ')
case "$drv" in
    "driver: $TUNIC_DRIVER"*) result ethtool-driver pass "$drv" ;;
    *) result ethtool-driver fail "$drv" ;;
esac

if setup_pair $A $B; then
    sp=$(ethtool $A | grep -E 'Speed|Duplex|Link detected' | tr -s '\t\n ' ' ')
    case "$TUNIC_DRIVER:$sp" in
        igb:*"1000Mb/s"*Full*) result link-up pass "$sp" ;;
        virtio_net:*"Link detected: yes"*) result link-up pass "$sp" ;;
        i40e:*"10000Mb/s"*Full*) result link-up pass "$sp" ;;
        *) result link-up fail "$sp" ;;
    esac
else
    result link-up fail "$(ip -o link show dev $A) / $(in_peer ip -o link show dev $B)"
fi

check ping-ipv4 sh -c "ping -c 3 -W 2 $TUNIC_IP4_B && ip netns exec peer ping -c 3 -W 2 $TUNIC_IP4_A"
check ping-ipv6 sh -c "ping6 -c 3 -W 2 $TUNIC_IP6_B && ip netns exec peer ping6 -c 3 -W 2 $TUNIC_IP6_A"

# iperf3 both directions; a stall is any one-second interval with no data.
for dir in forward reverse; do
    extra=""
    [ $dir = reverse ] && extra="-R"
    mbps=$(iperf3_mbps ${TUNIC_IPERF_SECONDS:-10} $extra)
    stalls=$(awk '/sec/ && /bits\/sec/ && !/sender|receiver/ { if ($7 + 0 == 0) n++ } END { print n + 0 }' /tmp/iperf3.out)
    if [ -n "$mbps" ] && [ "$stalls" = 0 ]; then
        result iperf3-tcp-$dir pass "$mbps Mbit/s, no stalled interval"
    else
        result iperf3-tcp-$dir fail "mbps=$mbps stalls=$stalls $(tail -n 4 /tmp/iperf3.out | tr '\n' ' ')"
    fi
done

# Short captured windows for the checksum oracle (tshark on the host): TSO over
# IPv4 and IPv6, and UDP with Tx checksum offload.
iperf_once() { # iperf_once <client args...>: one server in the peer, one client run
    in_peer iperf3 -s -1 -D >/dev/null 2>&1
    _n=50
    while [ $_n -gt 0 ] && ! in_peer ss -ltn 2>/dev/null | grep -q ':5201 '; do usleep 100000; _n=$((_n - 1)); done
    iperf3 "$@" >/tmp/iperf3-once.out 2>&1
}
# The windows' traffic must have run for the host's tshark cases to mean anything.
windows_failed=
mark tso-ipv4; iperf_once -c $TUNIC_IP4_B -n 8M || windows_failed="$windows_failed tso-ipv4"
mark tso-ipv6; iperf_once -6 -c $TUNIC_IP6_B -n 8M || windows_failed="$windows_failed tso-ipv6"
mark udp-csum; iperf_once -u -c $TUNIC_IP4_B -b 40M -n 2M -l 1400 || windows_failed="$windows_failed udp-csum"
mark off
if [ -z "$windows_failed" ]; then
    result capture-windows pass "iperf3 completed in each window: tso-ipv4 tso-ipv6 udp-csum"
else
    result capture-windows fail "iperf3 failed in:$windows_failed; $(tail -n 3 /tmp/iperf3-once.out | tr '\n' ' ')"
fi

# Counters: frames A sends are frames B receives. Besides the pings, A may send a
# multicast neighbour-protocol frame in the window (IPv6 router solicitations retry
# with backoff for as long as the link is up) that B's receive filter rightly drops;
# B listens promiscuously meanwhile so that every frame A sends must arrive.
in_peer ip link set $B promisc on
sleep 1
a_tx0=$(stat_of $A tx_packets); b_rx0=$(stat_of $B rx_packets peer)
ping -c 200 -i 0.01 -s 1000 -q $TUNIC_IP4_B >/dev/null 2>&1
sleep 2
a_tx1=$(stat_of $A tx_packets); b_rx1=$(stat_of $B rx_packets peer)
in_peer ip link set $B promisc off
sent=$((a_tx1 - a_tx0)); got=$((b_rx1 - b_rx0))
if [ "$sent" -ge 200 ] && [ "$sent" = "$got" ]; then
    result netdev-stats pass "A tx_packets +$sent = B rx_packets +$got"
else
    result netdev-stats fail "A tx_packets +$sent, B rx_packets +$got"
fi

