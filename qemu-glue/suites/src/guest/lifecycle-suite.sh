# MTU changes, down/up and the driver's self-test: run after the offload suite,
# since taking a link down drops its IPv6 addresses (keep_addr_on_down=0).

# MTU 9000 on both ends: a 9000-byte IPv4 packet fits one frame, then back to 1500.
ip link set $A mtu 9000 && in_peer ip link set $B mtu 9000
wait_link $A 15 && wait_link $B 15 peer
# The check counts B's received frames: each 9000-byte packet whole is one frame,
# where fragments at MTU 1500 would be seven, so a change that did not take fails.
mtu_a=$(cat /sys/class/net/$A/mtu); mtu_b=$(in_peer cat /sys/class/net/$B/mtu)
b_rx0=$(stat_of $B rx_packets peer)
if ping -c 3 -W 2 -s 8972 $TUNIC_IP4_B >/dev/null 2>&1; then mtu_ping=ok; else mtu_ping=failed; fi
b_rx1=$(stat_of $B rx_packets peer); mtu_rx=$((b_rx1 - b_rx0))
if [ "$mtu_a/$mtu_b" = 9000/9000 ] && [ $mtu_ping = ok ] && [ $mtu_rx -ge 3 ] && [ $mtu_rx -le 8 ]; then
    result mtu-9000 pass "MTU $mtu_a/$mtu_b; 3 pings of 9000 B, B received $mtu_rx frames"
else
    result mtu-9000 fail "MTU $mtu_a/$mtu_b; ping $mtu_ping; B received $mtu_rx frames (whole: 3 to 8, fragmented: 21 or more)"
fi
ip link set $A mtu 1500 && in_peer ip link set $B mtu 1500
wait_link $A 15 && wait_link $B 15 peer

# Interface down and up: traffic resumes.
ip link set $A down
ip link set $A up
wait_link $A 15
check down-up ping -c 3 -W 2 $TUNIC_IP4_B

# Notification coalescing (virtio-net NOTF_COAL), on wall-clock time here.
if [ $TUNIC_DRIVER = virtio_net ]; then
    check_notf_coal notf-coal $A
fi

# Interrupt moderation (igb's EITR), on wall-clock time with timing off: B's receive
# interrupts over 3 s of 2000 UDP datagrams a second from A, with rx-usecs 0 (EITR
# off) and with 8000 (at most one interrupt per vector every 8 ms). The second must
# stay within that bound and well below the first. (8000, not igb's maximum of
# 10000: the driver writes usecs << 2 into the 13-bit interval field, which 10000
# overflows to 1808 us, on silicon as here.)
if [ $TUNIC_DRIVER = igb ]; then
    # igb names a receive vector IFACE-rx-N, or IFACE-TxRx-N when it pairs queues
    # (more RSS queues than half the 82576's eight).
    irqs_of() { # irqs_of IFACE: interrupts of its receive vectors so far, all CPUs
        awk -v a="$1-rx-" -v b="$1-TxRx-" 'index($NF, a) == 1 || index($NF, b) == 1 { for (i = 2; i < NF; i++) if ($i ~ /^[0-9]+$/) n += $i } END { print n + 0 }' /proc/interrupts
    }
    irq_run() { # irq_run USECS: sets irq_n (B's interrupts) and irq_s (seconds taken)
        in_peer ethtool -C $B rx-usecs $1
        _i0=$(irqs_of $B); _t0=$(date +%s)
        iperf3_mbps 3 -u -b 16M -l 1000 >/dev/null
        irq_n=$(( $(irqs_of $B) - _i0 )); irq_s=$(( $(date +%s) - _t0 + 1 ))
    }
    nvec=$(grep -cE "$B-(rx|TxRx)-" /proc/interrupts)
    irq_run 0; fast=$irq_n
    irq_run 8000; slow=$irq_n; bound=$((irq_s * 125 * nvec + nvec))
    in_peer ethtool -C $B rx-usecs 3
    if [ "$nvec" -gt 0 ] && [ $slow -le $bound ] && [ $((slow * 3)) -le $fast ]; then
        result eitr-rate pass "B's receive interrupts: $fast with rx-usecs 0, $slow with rx-usecs 8000 (at most $bound for $nvec vectors in ${irq_s} s)"
    else
        result eitr-rate fail "B's receive interrupts: $fast with rx-usecs 0, $slow with rx-usecs 8000 (bound $bound for $nvec vectors in ${irq_s} s, and at most a third of the first)"
    fi
fi

# The driver's own offline self-test (registers, EEPROM, interrupts, loopback, link);
# virtio_net has none. i40e's interrupt test raises a software interrupt and waits
# only 1-2 ms for it. Under TCG that window holds the whole path (tunic's eventfd,
# QEMU's main loop, the vCPU thread), and with four vCPU threads on two host cores
# it was missed in 1 of 4 CI runs. So the extra vCPUs are taken offline for the test
# (their threads then sleep), and a failed run is repeated up to twice; every
# attempt is reported. A device that never raises the interrupt still fails.
selftest_once() {
    out=$(ethtool -t $A offline 2>&1)
    case "$out" in *"result is PASS"*) return 0 ;; esac
    return 1
}
if [ $TUNIC_DRIVER = igb ] || [ $TUNIC_DRIVER = i40e ]; then
    cpus_off=""
    if [ $TUNIC_DRIVER = i40e ]; then
        for c in /sys/devices/system/cpu/cpu[1-9]*/online; do
            [ -w "$c" ] && echo 0 >"$c" 2>/dev/null && cpus_off="$cpus_off $c"
        done
    fi
    attempts=1
    if [ $TUNIC_DRIVER = i40e ]; then max=3; else max=1; fi
    until selftest_once || [ $attempts -ge $max ]; do
        wait_link $A 15
        attempts=$((attempts + 1))
    done
    for c in $cpus_off; do echo 1 >"$c"; done
    summary="attempt $attempts of $max: $(printf '%s' "$out" | tr '\n' ' ' | tr -s ' ')"
    case "$out" in
        *"result is PASS"*) result ethtool-selftest pass "$summary" ;;
        *) result ethtool-selftest fail "$summary" ;;
    esac
    wait_link $A 15
    check after-selftest ping -c 3 -W 2 $TUNIC_IP4_B
fi
