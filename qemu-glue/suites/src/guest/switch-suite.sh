# tunic switch: two guests, one QEMU each, two igb NICs apiece; all four NICs are
# ports of one `tunic serve` on its built-in learning switch, so they share one
# Ethernet segment. Each NIC gets its own network namespace, so every frame between
# two of them, even two of one guest, crosses the switch.
#
# Set by the host: ROLE, a or b. A serves iperf3; B drives the traffic and marks, with
# `step`, the window in which only B's NIC 0 talks to A's NIC 0 (the host reads the
# switch's learned-unicast behaviour from the four ports' counters across it).

IP_A0=10.77.0.1
IP_A1=10.77.0.2
IP_B0=10.77.0.3
IP_B1=10.77.0.4

step() {
    echo "TUNIC-STEP $1"
}

# setup_ns <nic> <netns> <ipv4>: the NIC alone in its own namespace.
setup_ns() {
    ip netns add "$2" && ip -n "$2" link set lo up && ip link set "$1" netns "$2" &&
        ip -n "$2" link set "$1" mtu 1500 && ip -n "$2" addr add "$3/24" dev "$1" &&
        ip -n "$2" link set "$1" up && wait_link "$1" 15 "$2"
}

# await <netns> <ipv4> <tries>: until the address answers (the other guest boots
# beside this one and may come up later).
await() {
    _n=$3
    while [ "$_n" -gt 0 ]; do
        ip netns exec "$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1 && return 0
        _n=$((_n - 1))
        sleep 1
    done
    return 1
}

# ping_case <case> <netns> <ipv4>...: three echoes to each address, none lost.
ping_case() {
    _case=$1
    _ns=$2
    shift 2
    _ok=1
    _ev=
    for _ip in "$@"; do
        _loss=$(ip netns exec "$_ns" ping -c 3 -i 0.2 -W 2 "$_ip" 2>&1 | grep -o '[0-9]*% packet loss')
        _ev="$_ev $_ns -> $_ip: ${_loss:-no reply};"
        [ "$_loss" = "0% packet loss" ] || _ok=0
    done
    if [ $_ok = 1 ]; then result "$_case" pass "$_ev"; else result "$_case" fail "$_ev"; fi
}

# receiver_mbps <iperf3 output file>
receiver_mbps() {
    awk '/receiver/ { for (i = 1; i <= NF; i++) if ($i == "Mbits/sec") print $(i - 1) }' "$1" | tail -n 1
}

# iperf_case <case> <output file> <rc>: the client ran and the receiver got data.
iperf_case() {
    _mbps=$(receiver_mbps "$2")
    if [ "$3" -eq 0 ] && [ -n "$_mbps" ] && awk -v m="$_mbps" 'BEGIN { exit !(m > 0) }'; then
        result "$1" pass "$_mbps Mbit/s at the receiver"
    else
        result "$1" fail "rc=$3: $(tail -n 4 "$2" | tr '\n' ' ')"
    fi
}

set -- $(nics_by_driver igb)
if [ $# -ne 2 ]; then
    result "switch-$ROLE-setup" fail "expected 2 igb NICs, found: $*"
    exit 1
fi
if [ "$ROLE" = a ]; then
    MY0=$IP_A0 MY1=$IP_A1 OTHER0=$IP_B0 OTHER1=$IP_B1
else
    MY0=$IP_B0 MY1=$IP_B1 OTHER0=$IP_A0 OTHER1=$IP_A1
fi
N0=${ROLE}0
N1=${ROLE}1
mkdir -p /run/netns
if setup_ns "$1" "$N0" "$MY0" && setup_ns "$2" "$N1" "$MY1"; then
    result "switch-$ROLE-setup" pass "$1 in $N0 ($MY0), $2 in $N1 ($MY1), both with carrier"
else
    result "switch-$ROLE-setup" fail "$(ip -o link | tr '\n' ' ')"
    exit 1
fi

if [ "$ROLE" = a ]; then
    # a0's server takes B's two tests to it; a1's ends with the one test to a1, the
    # last thing B does, which ends this guest too.
    ip netns exec a0 iperf3 -s -D -B $IP_A0 >/dev/null 2>&1
    ip netns exec a1 iperf3 -s -1 -B $IP_A1 >/tmp/a1-server.out 2>&1 &
    SERVER=$!
fi

if await "$N0" "$OTHER0" 240 && await "$N1" "$OTHER1" 60; then
    ping_case "switch-$ROLE-ping-other-guest" "$N0" "$OTHER0" "$OTHER1"
    ping_case "switch-$ROLE-ping-other-guest-nic1" "$N1" "$OTHER0" "$OTHER1"
    ping_case "switch-$ROLE-ping-own-nics" "$N0" "$MY1"
else
    for c in ping-other-guest ping-other-guest-nic1 ping-own-nics; do
        result "switch-$ROLE-$c" fail "the other guest never answered ($OTHER0, $OTHER1)"
    done
fi

if [ "$ROLE" = a ]; then
    _n=300
    while kill -0 $SERVER 2>/dev/null && [ $_n -gt 0 ]; do
        sleep 1
        _n=$((_n - 1))
    done
    if kill -0 $SERVER 2>/dev/null; then
        kill $SERVER
        result switch-a-served fail "no client reached a1's iperf3 server in 300 s"
    elif wait $SERVER; then
        result switch-a-served pass "a1's server: $(grep receiver /tmp/a1-server.out | tail -n 1)"
    else
        result switch-a-served fail "$(tail -n 4 /tmp/a1-server.out | tr '\n' ' ')"
    fi
    exit 0
fi

# B: A's servers listen before A pings, and A's pings are over within seconds.
# (`timeout` is busybox's, which would run its own `ip` applet: it goes inside.)
sleep 3
step learn-start
sleep 2
ip netns exec b0 timeout 40 iperf3 -c $IP_A0 -t 5 -f m >/tmp/learn.out 2>&1
rc=$?
step learn-end
# The host reads the counters once the window has closed (its stats file is
# rewritten every second): nothing else may talk meanwhile.
sleep 3
iperf_case switch-iperf-b0-a0 /tmp/learn.out $rc

# Both pairs at once: the switch carries two streams between four NICs.
ip netns exec b0 timeout 40 iperf3 -c $IP_A0 -t 5 -f m >/tmp/pair0.out 2>&1 &
P0=$!
ip netns exec b1 timeout 40 iperf3 -c $IP_A1 -t 5 -f m >/tmp/pair1.out 2>&1
rc1=$?
wait $P0
rc0=$?
iperf_case switch-iperf-pair-0 /tmp/pair0.out $rc0
iperf_case switch-iperf-pair-1 /tmp/pair1.out $rc1
