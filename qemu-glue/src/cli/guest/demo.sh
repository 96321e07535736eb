# tunic demo: the guest's own igb driver on two tunic NICs wired together.
set -- $(nics_by_driver igb)
if [ $# -ne 2 ]; then
    result igb-bound fail "expected 2 igb NICs, found: $* ($(dmesg | grep -i igb | tail -n 5))"
    exit 1
fi
A=$1
B=$2
result igb-bound pass "$A $B: $(dmesg | grep -m1 'igb.*Intel(R) Gigabit Ethernet Network Connection')"
for nic in $A $B; do
    drv=$(ethtool -i $nic | grep -E '^(driver|bus-info):' | tr '\n' ' ')
    case "$drv" in
        "driver: igb"*) result ethtool-driver-$nic pass "$drv" ;;
        *) result ethtool-driver-$nic fail "$drv" ;;
    esac
done
errors=$(dmesg | grep -iE 'igb.*(error|fail|hang|timeout)' | head -n 3)
if [ -z "$errors" ]; then result probe-clean pass "no igb errors in dmesg"; else result probe-clean fail "$errors"; fi

if setup_pair $A $B; then
    result link-up pass "$A: $(ethtool $A | grep -E 'Speed|Duplex|Link detected' | tr -s '\t\n ' ' ')"
else
    result link-up fail "$(ip -o link show dev $A) / $(in_peer ip -o link show dev $B)"
fi

check ping4-root-to-peer ping -c 3 -W 2 $TUNIC_IP4_B
check ping4-peer-to-root in_peer ping -c 3 -W 2 $TUNIC_IP4_A
check ping6-root-to-peer ping6 -c 3 -W 2 $TUNIC_IP6_B
check ping6-peer-to-root in_peer ping6 -c 3 -W 2 $TUNIC_IP6_A

mbps=$(iperf3_mbps ${TUNIC_IPERF_SECONDS:-10})
if [ -n "$mbps" ]; then
    result iperf3-tcp pass "$mbps Mbit/s"
else
    result iperf3-tcp fail "$(tail -n 5 /tmp/iperf3.out) $(cat /tmp/iperf3-server.out)"
fi
