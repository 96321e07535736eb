# tunic reliability, second boot: faults on pair X (NICs 1-2) while pair Y
# (NICs 3-4, namespaces y0 and y1) carries bystander traffic, then the soak on Y.
# `step NAME` prints TUNIC-STEP NAME: the host snapshots tunic's counters there
# and, for the wire steps, acts.
#
# Set by the host: TUNIC_SOAK_SECONDS.

step() {
    echo "TUNIC-STEP $1"
    sleep 1
}

Y_IP_0=198.19.0.1
Y_IP_1=198.19.0.2

setup_y() {
    for ns in y0 y1; do ip netns add $ns 2>/dev/null; ip -n $ns link set lo up; done
    ip link set "$1" netns y0 && ip link set "$2" netns y1 || return 1
    ip -n y0 addr add $Y_IP_0/24 dev "$1" && ip -n y1 addr add $Y_IP_1/24 dev "$2" || return 1
    ip -n y0 link set "$1" up && ip -n y1 link set "$2" up || return 1
    wait_link "$1" 15 y0 && wait_link "$2" 15 y1
}

# Bystander traffic on Y during a fault on X: 0% loss expected.
bystander_start() {
    ip netns exec y0 ping -c "${1:-60}" -i 0.1 -W 2 $Y_IP_1 >/tmp/bystander.out 2>&1 &
    BYSTANDER=$!
}

bystander_check() {
    wait $BYSTANDER
    _loss=$(grep -o '[0-9]*% packet loss' /tmp/bystander.out)
    case "$_loss" in
        "0% packet loss") result "$1-bystander" pass "pair Y: $(tail -n 2 /tmp/bystander.out | tr '\n' ' ')" ;;
        *) result "$1-bystander" fail "pair Y: $(tail -n 3 /tmp/bystander.out | tr '\n' ' ')" ;;
    esac
}

# Waits up to $2 seconds for pair X to answer pings again.
x_recovers() {
    _n=${2:-30}
    while [ $_n -gt 0 ]; do
        ping -c 1 -W 1 $TUNIC_IP4_B >/dev/null 2>&1 && {
            result "$1" pass "pair X answers pings again"
            return 0
        }
        _n=$((_n - 1))
    done
    result "$1" fail "pair X silent: $(ip -o link show dev $X0) $(dmesg | grep igb | tail -n 3 | tr '\n' ' ')"
    return 1
}

x_iperf_background() {
    in_peer iperf3 -s -1 -D -B "$TUNIC_IP4_B" >/dev/null 2>&1
    sleep 1
    # A client whose NIC vanishes waits on TCP retransmits for minutes: bounded.
    timeout $(($1 + 10)) iperf3 -c "$TUNIC_IP4_B" -t "$1" >/tmp/x-iperf.out 2>&1 &
    X_IPERF=$!
}

bdf_of() { basename "$(readlink -f /sys/class/net/$1/device)"; }

set -- $(nics_by_driver igb)
if [ $# -ne 4 ]; then
    result nics fail "expected 4 igb NICs, found: $*"
    exit 1
fi
X0=$1 X1=$2 Y0=$3 Y1=$4
X0_BDF=$(bdf_of $X0)
setup_pair $X0 $X1 || result setup-x fail "$(ip -o link)"
setup_y $Y0 $Y1 || result setup-y fail "$(ip -o link)"

# (a) second half: a fresh QEMU on the sockets of the killed one.
check kill-qemu-new-guest-ping ping -c 3 -W 2 $TUNIC_IP4_B
check kill-qemu-pair-y-ping ip netns exec y0 ping -c 3 -W 2 $Y_IP_1

# (b) the driver leaves X0 during iperf3 (unbind), then binds again.
step driver-unbind-before
bystander_start 80
x_iperf_background 6
sleep 3
timeout 30 sh -c "echo $X0_BDF >/sys/bus/pci/drivers/igb/unbind" || result driver-unbind fail "unbind did not finish"
wait $X_IPERF
sleep 1
echo "$X0_BDF" >/sys/bus/pci/drivers/igb/bind
sleep 2
X0=$(ls /sys/bus/pci/devices/$X0_BDF/net/ 2>/dev/null)
ip addr add "$TUNIC_IP4_A/24" dev "$X0" 2>/dev/null
ip link set "$X0" up
wait_link "$X0" 15
x_recovers driver-unbind-rebind
bystander_check driver-unbind
step driver-unbind-after

# (c) the driver's offline self-test (device resets, loopback) during traffic on X.
step selftest-before
bystander_start 80
x_iperf_background 8
sleep 2
out=$(timeout 60 ethtool -t $X0 offline 2>&1)
wait $X_IPERF
case "$out" in
    *"result is PASS"*) result selftest-under-load pass "$(printf '%s' "$out" | tr '\n' ' ' | tr -s ' ')" ;;
    *) result selftest-under-load fail "$(printf '%s' "$out" | tr '\n' ' ' | tr -s ' ')" ;;
esac
wait_link $X0 15
x_recovers selftest-recovers
bystander_check selftest
step selftest-after

# (c) a function-level reset under load: the PCI core's reset of X0 (FLR, as the
# device advertises it), with pings running. The core saves and restores config
# space around it; the driver's ring state is gone, so a down/up reprograms it.
step flr-before
bystander_start 80
ping -i 0.2 -c 30 $TUNIC_IP4_B >/tmp/x-ping.out 2>&1 &
X_PING=$!
sleep 2
if [ -w /sys/bus/pci/devices/$X0_BDF/reset ]; then
    echo 1 >/sys/bus/pci/devices/$X0_BDF/reset 2>/tmp/flr.err && flr=done || flr="failed: $(cat /tmp/flr.err)"
else
    flr="no reset attribute"
fi
wait $X_PING
ip link set $X0 down
ip link set $X0 up
wait_link $X0 15
case "$flr" in
    done) result flr-under-load pass "reset through /sys/bus/pci/devices/$X0_BDF/reset during pings" ;;
    *) result flr-under-load fail "$flr" ;;
esac
x_recovers flr-recovers 60
bystander_check flr
step flr-after

# (c) CTRL.RST written behind the driver's back, through /dev/mem (needs iomem=relaxed).
BAR0=$(head -n 1 /sys/bus/pci/devices/$X0_BDF/resource | cut -d' ' -f1)
reg() { printf '0x%x' $((BAR0 + $1)); }
status=$(devmem $(reg 0x8) 32 2>&1)
case "$status" in
    0x*)
        result devmem-bar-access pass "STATUS via /dev/mem at $(reg 0x8): $status"
        step ctrl-rst-before
        bystander_start 120
        ping -i 0.2 -c 40 $TUNIC_IP4_B >/tmp/x-ping.out 2>&1 &
        X_PING=$!
        sleep 2
        ctrl=$(devmem $(reg 0) 32)
        devmem $(reg 0) 32 $((ctrl | (1 << 26)))
        wait $X_PING
        # igb has no way to notice a reset it did not ask for (interrupts are masked,
        # the link stays up), as on silicon: a down/up reprograms the device.
        ip link set $X0 down
        ip link set $X0 up
        wait_link $X0 15
        x_recovers ctrl-rst-recovers 60
        bystander_check ctrl-rst
        step ctrl-rst-after

        # (d) a Tx ring base far outside guest RAM, then the doorbell.
        step bad-ring-before
        bystander_start 80
        devmem $(reg 0xe004) 32 0xffffff00
        devmem $(reg 0xe000) 32 0x0
        tdh=$(devmem $(reg 0xe010) 32)
        len=$(devmem $(reg 0xe008) 32)
        slots=$((len / 16))
        [ $slots -gt 0 ] || slots=1
        devmem $(reg 0xe018) 32 $(( (tdh + 1) % slots ))
        sleep 2
        step bad-ring-after
        # The driver's ring is gone from the device's view: a down/up reprograms it.
        ip link set $X0 down
        ip link set $X0 up
        wait_link $X0 15
        x_recovers bad-ring-recovers 60
        bystander_check bad-ring
        ;;
    *)
        result devmem-bar-access fail "/dev/mem refused the BAR (STRICT_DEVMEM?): $status"
        ;;
esac

# (e) the wire under pair X vanishes (the host cuts it on this step) and returns.
step wire-cut
bystander_start 60
if ping -c 3 -W 1 $TUNIC_IP4_B >/dev/null 2>&1; then
    result wire-cut-observed fail "pings crossed a cut wire"
else
    result wire-cut-observed pass "no replies while the wire is cut"
fi
step wire-restore
x_recovers wire-returned 30
bystander_check wire

# (f) soak: bidirectional iperf3 plus a ping flood on pair Y, nothing else running.
# busybox `timeout` runs its own limited `ip` applet by name: give it the real one's path.
sleep 2
step soak-start
ip netns exec y1 iperf3 -s -1 -D -B $Y_IP_1 >/dev/null 2>&1
sleep 1
# Frames the Y NICs' drivers counted as dropped for want of buffers (the device's
# missed-packet counts), before and after: the ping flood may lose only those.
y_drops() {
    _d=0
    for _p in "y0 $Y0" "y1 $Y1"; do
        set -- $_p
        for _c in rx_missed_errors rx_dropped rx_fifo_errors; do
            _d=$((_d + $(ip netns exec $1 cat /sys/class/net/$2/statistics/$_c)))
        done
    done
    echo $_d
}
Y_DROPS0=$(y_drops)
ip netns exec y0 ping -A -q -w "$TUNIC_SOAK_SECONDS" $Y_IP_1 >/tmp/soak-ping.out 2>&1 &
SOAK_PING=$!
timeout $((TUNIC_SOAK_SECONDS + 60)) "$(command -v ip)" netns exec y0 iperf3 -c $Y_IP_1 --bidir -t "$TUNIC_SOAK_SECONDS" >/tmp/soak-iperf.out 2>&1
soak_rc=$?
wait $SOAK_PING
sleep 3
step soak-end
if [ $soak_rc -eq 0 ]; then
    result soak-iperf3 pass "$(grep -E 'receiver' /tmp/soak-iperf.out | tr -s ' ' | tr '\n' ' ')"
else
    # What the driver said meanwhile (a Tx hang report, a reset) and what the qdiscs dropped.
    _why="$(dmesg | grep -iE 'hang|reset|link is' | tail -n 4 | tr '\n' ' ')"
    _qd="$(for _p in "y0 $Y0" "y1 $Y1"; do set -- $_p; ip netns exec $1 tc -s qdisc show dev $2 | grep -o 'dropped [0-9]*' | head -n 1; done | tr '\n' ' ')"
    result soak-iperf3 fail "rc=$soak_rc $(tail -n 5 /tmp/soak-iperf.out | tr '\n' ' ') dmesg: $_why qdisc: $_qd"
fi
# The flood may lose only what the accounting explains: the echoes the Y NICs dropped
# for want of buffers while iperf3 filled them (counted by their drivers), and the one
# echo ping's deadline (-w) may leave in flight. Any other loss fails.
y_dropped=$(( $(y_drops) - Y_DROPS0 ))
set -- $(awk '/packets transmitted/ { print $1, $4 }' /tmp/soak-ping.out)
if [ -n "$1" ] && [ "$1" -gt 0 ] && [ $(($1 - ${2:-0})) -le $((y_dropped + 1)) ]; then
    result soak-ping-flood pass "$1 sent, $2 answered, $(($1 - $2)) lost of $y_dropped frames the Y NICs counted as dropped (+1 in flight at the deadline): $(tail -n 1 /tmp/soak-ping.out)"
else
    result soak-ping-flood fail "sent ${1:-none}, answered ${2:-none}, but the Y NICs counted only $y_dropped drops: $(tail -n 2 /tmp/soak-ping.out | tr '\n' ' ')"
fi

# (b) the whole driver unloaded during iperf3 on X, then loaded again.
x_iperf_background 6
sleep 2
rmmod igb
wait $X_IPERF
ip netns del peer
ip netns del y0
ip netns del y1
sleep 1
modprobe igb
sleep 2
set -- $(nics_by_driver igb)
if [ $# -eq 4 ] && setup_pair $1 $2 && setup_y $3 $4; then
    check rmmod-x-ping ping -c 3 -W 2 $TUNIC_IP4_B
    check rmmod-y-ping ip netns exec y0 ping -c 3 -W 2 $Y_IP_1
else
    result rmmod-reprobe fail "nics: $* $(dmesg | tail -n 5 | tr '\n' ' ')"
fi
