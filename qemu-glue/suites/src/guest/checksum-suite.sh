# Rx checksum offload with fault injection: tunic corrupts every 10th TCP/UDP
# frame arriving at B (switched on and off by marker frames). B's NIC must flag
# each of them (L4E), the driver must count it (igb: rx_queue_N_csum_err, i40e: port.rx_csum_bad), and the stack,
# verifying in software, must see exactly those as bad (InCsumErrors). The host
# then checks the count against what tunic corrupted.

# igb counts per queue (rx_queue_N_csum_err), i40e per port (port.rx_csum_bad).
csum_err_sum() { in_peer ethtool -S $B | awk '/rx_queue_[0-9]+_csum_err:|port.rx_csum_bad:/ { s += $2 } END { print s + 0 }'; }

c0=$(csum_err_sum); e0=$(csum_errors peer)
/tunic/bin/tunic-guest mark $A inject=corrupt-l4-10
iperf_once -u -c $TUNIC_IP4_B -b 20M -n 1M -l 1000
/tunic/bin/tunic-guest mark $A inject=off
sleep 1
dc=$(( $(csum_err_sum) - c0 )); de=$(( $(csum_errors peer) - e0 ))
# The driver's count must equal what tunic corrupted (checked on the host); the stack,
# verifying in software, must see some of them and never more (a frame the NIC passed
# as good must not fail in software). Kernels differ in whether every flagged frame
# still reaches a checksum check (7.x drops a few earlier), so this side is a bound.
if [ "$dc" -gt 0 ] && [ "$de" -gt 0 ] && [ "$de" -le "$dc" ]; then
    result rx-csum-fault pass "csum_err=+$dc InCsumErrors=+$de"
else
    result rx-csum-fault fail "csum_err=+$dc InCsumErrors=+$de"
fi

# The inner layer (X710 only: it checks the inner TCP/UDP of NVGRE frames, igb only the
# outer). tunic corrupts every 10th NVGRE frame's inner UDP/TCP payload arriving at B;
# the outer headers stay valid. B's NIC must flag each (L4E on a MAC-in-GRE packet
# type), the driver count it, and the stack, decapsulating and verifying in software,
# see them as bad.
if [ "$TUNIC_DRIVER" = i40e ]; then
    ip link add nvc0 type gretap local $TUNIC_IP4_A remote $TUNIC_IP4_B key $KEY
    in_peer ip link add nvc0 type gretap local $TUNIC_IP4_B remote $TUNIC_IP4_A key $KEY
    ip addr add 198.19.1.1/24 dev nvc0; in_peer ip addr add 198.19.1.2/24 dev nvc0
    ip link set nvc0 up; in_peer ip link set nvc0 up
    c0=$(csum_err_sum); e0=$(csum_errors peer)
    /tunic/bin/tunic-guest mark $A inject=corrupt-inner-l4-10
    iperf_once -u -c 198.19.1.2 -b 20M -n 1M -l 1000
    /tunic/bin/tunic-guest mark $A inject=off
    sleep 1
    dc=$(( $(csum_err_sum) - c0 )); de=$(( $(csum_errors peer) - e0 ))
    if [ "$dc" -gt 0 ] && [ "$de" -gt 0 ] && [ "$de" -le "$dc" ]; then
        result rx-csum-fault-nvgre-inner pass "csum_err=+$dc InCsumErrors=+$de (inner UDP/TCP of NVGRE key $KEY)"
    else
        result rx-csum-fault-nvgre-inner fail "csum_err=+$dc InCsumErrors=+$de (inner UDP/TCP of NVGRE key $KEY)"
    fi
    ip link del nvc0; in_peer ip link del nvc0
fi
