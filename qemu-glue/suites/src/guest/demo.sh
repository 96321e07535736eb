# tunic demo: the guest's own driver ($TUNIC_DRIVER: igb, virtio_net or i40e) on two
# tunic NICs wired together.
TUNIC_DRIVER=${TUNIC_DRIVER:-igb}
set -- $(nics_by_driver $TUNIC_DRIVER)
if [ $# -ne 2 ]; then
    result driver-bound fail "expected 2 $TUNIC_DRIVER NICs, found: $* ($(dmesg | grep -iE 'igb|i40e|virtio' | tail -n 5))"
    # The driver's whole story goes to the console log for whoever debugs it.
    dmesg | grep -iE -A3 "$TUNIC_DRIVER|Call Trace" | tail -n 80 | sed 's/^/TUNIC-DMESG /'
    exit 1
fi
A=$1
B=$2
result driver-bound pass "$TUNIC_DRIVER on $A and $B"
for nic in $A $B; do
    drv=$(ethtool -i $nic | grep -E '^(driver|bus-info):' | tr '\n' ' ')
    case "$drv" in
        "driver: $TUNIC_DRIVER"*) result ethtool-driver-$nic pass "$drv" ;;
        *) result ethtool-driver-$nic fail "$drv" ;;
    esac
done
# Every driver failure in dmesg counts, except the notes the model is known to cause.
errors=$(dmesg | grep -iE "($TUNIC_DRIVER|virtio).*(error|fail|hang|timeout)" | without_expected_driver_notes | head -n 3)
if [ -z "$errors" ]; then result probe-clean pass "no $TUNIC_DRIVER errors in dmesg"; else result probe-clean fail "$errors"; fi

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
    result iperf3-tcp pass "$mbps Mbit/s, $(iperf3_retransmits) TCP retransmissions"
else
    result iperf3-tcp fail "$(tail -n 5 /tmp/iperf3.out) $(cat /tmp/iperf3-server.out)"
fi
