# tunic guest library, sourced by /bin/sh (dash) before /tunic/script.sh.
#
# Reporting:  result <name> pass|fail <evidence...>
#             check <name> <command...>    (pass iff the command succeeds)
# NICs:       nics_by_driver <driver>      (names, sorted by PCI address)
#             nic_driver <ifname>
#             wait_link <ifname> [seconds] [netns]
# Counters:   csum_errors <netns>         (TCP + UDP InCsumErrors)
# Topology:   setup_pair <nic-a> <nic-b>
#             nic-a stays in the root namespace: 198.18.0.1/24, 2001:2::1/64
#             nic-b moves to netns "peer":       198.18.0.2/24, 2001:2::2/64
#             in_peer <command...>         (runs in netns "peer")
# Traffic:    iperf3_mbps <seconds> [iperf3 client args...]
#             (server in "peer", client in the root namespace; prints the
#             receiver's Mbit/s, full output in /tmp/iperf3.out)

# Scripts run under dash (/bin/sh), so commands resolve through $PATH: the
# real ip, tc, ss, bridge, ethtool, iperf3 and tcpdump win, busybox applets
# (ping, ping6, awk, usleep, ...) fill the gaps, also inside `sh -c`.

# The full Debian guest has no busybox applet links: the one applet used here.
command -v usleep >/dev/null 2>&1 || usleep() { busybox usleep "$@"; }

TUNIC_NS=peer
TUNIC_IP4_A=198.18.0.1
TUNIC_IP4_B=198.18.0.2
TUNIC_IP6_A=2001:2::1
TUNIC_IP6_B=2001:2::2

# result <name> pass|fail <evidence...>: one TUNIC-RESULT line on the console.
result() {
    _name=$1
    _status=$2
    shift 2
    case "$_status" in
        pass | fail) ;;
        *)
            set -- "bad status '$_status':" "$@"
            _status=fail
            ;;
    esac
    echo "TUNIC-RESULT $_name $_status $(printf '%s' "$*" | tr '\n\r\t' '   ')"
}

# check <name> <command...>: runs the command; its last output lines are the
# evidence.
check() {
    _name=$1
    shift
    _out=$("$@" 2>&1)
    _rc=$?
    if [ $_rc -eq 0 ]; then
        result "$_name" pass "$(printf '%s\n' "$_out" | tail -n 3)"
    else
        result "$_name" fail "rc=$_rc: $(printf '%s\n' "$_out" | tail -n 5)"
    fi
    return $_rc
}

nic_driver() {
    basename "$(readlink "/sys/class/net/$1/device/driver")" 2>/dev/null
}

nics_by_driver() {
    for _d in /sys/class/net/*; do
        [ -e "$_d/device/driver" ] || continue
        [ "$(basename "$(readlink "$_d/device/driver")")" = "$1" ] || continue
        echo "$(basename "$(readlink -f "$_d/device")") ${_d##*/}"
    done | sort | cut -d' ' -f2
}

# wait_link <ifname> [seconds] [netns]: waits for carrier (LOWER_UP).
wait_link() {
    _n=$((${2:-10} * 10))
    while [ $_n -gt 0 ]; do
        if [ -n "$3" ]; then
            ip -n "$3" -o link show dev "$1" | grep -q LOWER_UP && return 0
        else
            ip -o link show dev "$1" | grep -q LOWER_UP && return 0
        fi
        usleep 100000
        _n=$((_n - 1))
    done
    return 1
}

# csum_errors <netns>: TCP + UDP InCsumErrors the stack in that namespace counted.
csum_errors() {
    ip netns exec "$1" cat /proc/net/snmp | awk '
        /^Tcp:/ { if (!t) { for (i = 1; i <= NF; i++) if ($i == "InCsumErrors") ti = i; t = 1 } else tv = $ti }
        /^Udp:/ { if (!u) { for (i = 1; i <= NF; i++) if ($i == "InCsumErrors") ui = i; u = 1 } else uv = $ui }
        END { print tv + uv }'
}

# without_expected_driver_notes: filters dmesg lines the modelled devices are known to
# cause. i40e: the X710 is DCB capable with its firmware's LLDP agent off, so the driver
# finds no DCBX configuration and says "Query for DCB configuration failed, err -EBUSY aq_err
# OK" (LIBIE_AQ_RC_OK on 7.x) and "DCB init failed -16, disabled" (docs/i40e.md).
without_expected_driver_notes() {
    grep -vE 'i40e .*(DCB init failed -16, disabled|Query for DCB configuration failed, err -EBUSY aq_err (LIBIE_AQ_RC_)?OK)'
}

in_peer() {
    ip netns exec "$TUNIC_NS" "$@"
}

setup_pair() {
    TUNIC_A=$1
    TUNIC_B=$2
    mkdir -p /run/netns
    ip netns add "$TUNIC_NS" || return 1
    ip link set "$TUNIC_B" netns "$TUNIC_NS" || return 1
    # Standard frames to start with: a NIC may come up at its largest MTU (virtio-net
    # with VIRTIO_NET_F_MTU does), and cases that want jumbo frames set them.
    ip link set "$TUNIC_A" mtu 1500 || return 1
    ip -n "$TUNIC_NS" link set "$TUNIC_B" mtu 1500 || return 1
    ip addr add "$TUNIC_IP4_A/24" dev "$TUNIC_A" || return 1
    ip -6 addr add "$TUNIC_IP6_A/64" dev "$TUNIC_A" nodad || return 1
    ip link set "$TUNIC_A" up || return 1
    ip -n "$TUNIC_NS" link set lo up
    ip -n "$TUNIC_NS" addr add "$TUNIC_IP4_B/24" dev "$TUNIC_B" || return 1
    ip -n "$TUNIC_NS" -6 addr add "$TUNIC_IP6_B/64" dev "$TUNIC_B" nodad || return 1
    ip -n "$TUNIC_NS" link set "$TUNIC_B" up || return 1
    wait_link "$TUNIC_A" 15 && wait_link "$TUNIC_B" 15 "$TUNIC_NS"
}

iperf3_mbps() {
    _secs=$1
    shift
    in_peer iperf3 -s -1 -D -B "$TUNIC_IP4_B" >/tmp/iperf3-server.out 2>&1
    # Wait for the server to listen.
    _n=50
    while [ $_n -gt 0 ] && ! in_peer ss -ltn 2>/dev/null | grep -q ':5201 '; do
        usleep 100000
        _n=$((_n - 1))
    done
    iperf3 -c "$TUNIC_IP4_B" -t "$_secs" -f m "$@" >/tmp/iperf3.out 2>&1 || return 1
    awk '/receiver/ { for (i = 1; i <= NF; i++) if ($i == "Mbits/sec") print $(i - 1) }' \
        /tmp/iperf3.out | tail -n 1
}

# iperf3_retransmits: the sender's TCP retransmissions (iperf3's Retr) in the last
# iperf3_mbps run.
iperf3_retransmits() {
    awk '/sender/ { for (i = 1; i <= NF; i++) if ($i == "Mbits/sec") print $(i + 1) }' \
        /tmp/iperf3.out | tail -n 1
}

# check_notf_coal CASE IFACE: virtio-net notification coalescing (NOTF_COAL). With
# rx-usecs 30000 the receive interrupt for a ping reply waits up to 30 ms, so the
# round trip grows to about that; back at 0 it is fast again. The interrupt delay is
# the only thing that changes, so the round-trip time shows the device holding the
# notification.
check_notf_coal() {
    _case=$1
    _if=$2
    _rtt() { ping -c 5 -i 0.2 -W 2 "$TUNIC_IP4_B" | awk -F/ '/round-trip|rtt/ { print int($4) }'; }
    if ! ethtool -C "$_if" rx-usecs 30000 rx-frames 64 >/tmp/coal.out 2>&1; then
        result "$_case" fail "ethtool -C: $(tr '\n' ' ' </tmp/coal.out)"
        return
    fi
    _slow=$(_rtt)
    ethtool -C "$_if" rx-usecs 0 rx-frames 0 >>/tmp/coal.out 2>&1
    _fast=$(_rtt)
    if [ -n "$_slow" ] && [ -n "$_fast" ] && [ "$_slow" -ge 20 ] && [ "$_fast" -lt 15 ]; then
        result "$_case" pass "ping avg ${_slow} ms with rx-usecs 30000, ${_fast} ms with 0 ($(ethtool -c "$_if" | grep -E '^rx-usecs|^rx-frames' | tr '\n' ' '))"
    else
        result "$_case" fail "ping avg '${_slow}' ms with rx-usecs 30000, '${_fast}' ms with 0"
    fi
}
