# 802.3x flow control (igb). The driver reads symmetric pause from the NVM and
# negotiates it with tunic's PHY; a receiver whose packet buffer passes its high
# mark sends XOFF and its link partner waits, so a TCP stream loses nothing even
# into a receive ring shrunk to 80 descriptors. With pause off on the receiver the
# losses come back, and each one is counted: every frame A sent either reached
# B's driver or is in B's drop counters.

ethstat() { # ethstat IFACE NAME [netns]: one `ethtool -S` counter
    if [ -n "$3" ]; then _s=$(ip netns exec "$3" ethtool -S "$1"); else _s=$(ethtool -S "$1"); fi
    printf '%s\n' "$_s" | awk -v n="$2:" '$1 == n { print $2 }'
}
pause_of() { # pause_of IFACE [netns]: "RX TX" as ethtool -a reports them
    if [ -n "$2" ]; then _p=$(ip netns exec "$2" ethtool -a "$1" 2>&1); else _p=$(ethtool -a "$1" 2>&1); fi
    printf '%s\n' "$_p" | awk '/^RX:/ { rx = $2 } /^TX:/ { tx = $2 } END { print rx "/" tx }'
}
# B's frames lost on arrival: ring drops (RQDPC, rx_fifo_errors) and buffer
# overflows (MPC, rx_missed_errors).
b_lost() { echo $(( $(stat_of $B rx_fifo_errors $TUNIC_NS) + $(stat_of $B rx_missed_errors $TUNIC_NS) )); }
# fc_run SECS: TCP from A to B; sets fc_mbps and fc_retr (the sender's retransmissions).
fc_run() {
    fc_mbps=$(iperf3_mbps "$1")
    fc_retr=$(awk '/sender/ { r = $(NF - 1) } END { print r }' /tmp/iperf3.out)
}
fc_secs=${TUNIC_FC_SECONDS:-5}

pa=$(pause_of $A); pb=$(pause_of $B $TUNIC_NS)
if [ "$pa" = on/on ] && [ "$pb" = on/on ]; then
    result flow-control-negotiated pass "ethtool -a RX/TX: A $pa, B $pb (symmetric pause from the NVM and both PHYs)"
else
    result flow-control-negotiated fail "ethtool -a RX/TX: A $pa, B $pb"
fi

# The defaults: nothing lost, nothing retransmitted.
l0=$(b_lost)
fc_run $fc_secs
l1=$(b_lost)
if [ -n "$fc_mbps" ] && [ "$fc_retr" = 0 ] && [ $l1 = $l0 ]; then
    result flow-control-iperf3-lossless pass "$fc_mbps Mbit/s, 0 retransmissions, B lost 0 (XOFF sent by B: $(ethstat $B tx_flow_control_xoff $TUNIC_NS))"
else
    result flow-control-iperf3-lossless fail "mbps=$fc_mbps retransmissions=$fc_retr B lost +$((l1 - l0)) $(tail -n 3 /tmp/iperf3.out | tr '\n' ' ')"
fi

# A receive ring of 80: B's buffer fills, B pauses A, and still nothing is lost.
in_peer ethtool -G $B rx 80
wait_link $B 15 $TUNIC_NS
sleep 1
l0=$(b_lost); bx0=$(ethstat $B tx_flow_control_xoff $TUNIC_NS); ax0=$(ethstat $A rx_flow_control_xoff)
fc_run $fc_secs
l1=$(b_lost); bx1=$(ethstat $B tx_flow_control_xoff $TUNIC_NS); ax1=$(ethstat $A rx_flow_control_xoff)
sent_xoff=$((bx1 - bx0)); got_xoff=$((ax1 - ax0))
if [ -n "$fc_mbps" ] && [ $sent_xoff -gt 0 ] && [ $got_xoff -gt 0 ] && [ "$fc_retr" = 0 ] && [ $l1 = $l0 ]; then
    result flow-control-xoff-lossless pass "rx ring 80: B sent XOFF +$sent_xoff, A received +$got_xoff; $fc_mbps Mbit/s, 0 retransmissions, B lost 0"
else
    result flow-control-xoff-lossless fail "rx ring 80: B sent XOFF +$sent_xoff, A received +$got_xoff; mbps=$fc_mbps retransmissions=$fc_retr B lost +$((l1 - l0))"
fi

# Pause off on B: B's full ring drops again, and every frame is accounted for.
# B listens promiscuously so that any frame A sends must arrive or be counted lost.
in_peer ethtool -A $B autoneg off rx off tx off
in_peer ip link set $B promisc on
sleep 1
pb=$(pause_of $B $TUNIC_NS)
l0=$(b_lost); a0=$(stat_of $A tx_packets); r0=$(stat_of $B rx_packets $TUNIC_NS); bx0=$(ethstat $B tx_flow_control_xoff $TUNIC_NS)
fc_run $fc_secs
sleep 2
l1=$(b_lost); a1=$(stat_of $A tx_packets); r1=$(stat_of $B rx_packets $TUNIC_NS); bx1=$(ethstat $B tx_flow_control_xoff $TUNIC_NS)
in_peer ip link set $B promisc off
sent=$((a1 - a0)); got=$((r1 - r0)); lost=$((l1 - l0))
if [ "$pb" = off/off ] && [ $lost -gt 0 ] && [ $sent = $((got + lost)) ] && [ $bx1 = $bx0 ]; then
    result flow-control-off-counted pass "B pause $pb, rx ring 80: A sent $sent = B received $got + B counted lost $lost (retransmissions $fc_retr), no XOFF"
else
    result flow-control-off-counted fail "B pause $pb: A sent $sent, B received $got, B counted lost $lost, XOFF +$((bx1 - bx0)), retransmissions $fc_retr"
fi

# Back to the defaults for the suites after this one.
in_peer ethtool -A $B autoneg on
in_peer ethtool -G $B rx 256
wait_link $B 15 $TUNIC_NS
sleep 1
