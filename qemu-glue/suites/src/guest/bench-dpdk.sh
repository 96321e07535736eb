# DPDK benchmark: both NICs bound to uio_pci_generic and driven by testpmd, wired to
# each other. TUNIC_ROUNDS rounds of TUNIC_SECONDS each of io forwarding (one testpmd,
# both ports) and then of txonly (port 0; port 1 drained by a second testpmd), as frames
# per second from testpmd's forward statistics.
# Runs with TUNIC_DRIVER, TUNIC_SECONDS and TUNIC_ROUNDS set.
set -- $(nics_by_driver $TUNIC_DRIVER)
[ $# -eq 2 ] || { result setup fail "want two $TUNIC_DRIVER NICs, have: $*"; exit 1; }
echo 256 >/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
BDF0=$(pci_function $1); BDF1=$(pci_function $2)
for bdf in $BDF0 $BDF1; do
    [ "$(bind_uio $bdf)" = uio_pci_generic ] || { result setup fail "$bdf did not bind to uio_pci_generic"; exit 1; }
done
result load pass "$(cat /proc/loadavg)"
# forwarded FIELD: FIELD (e.g. TX-packets) of the newest "Accumulated forward
# statistics" block, which testpmd prints at stop: the sum over its ports.
forwarded() {
    awk -v f="$1" '/Accumulated forward statistics/ { on = 1; s = "" } on && index($0, f ":") {
        for (i = 1; i < NF; i++) if ($i == f ":") { s = $(i + 1); on = 0 } } END { print s + 0 }' /tmp/tp.log
}
run_engine() { # run_engine NAME ENGINE START_CMD FIELD
    _c=$(tp_count "Accumulated forward statistics")
    tp set fwd $2
    tp $3
    sleep $TUNIC_SECONDS
    tp stop
    tp_wait "Accumulated forward statistics" $((_c + 1)) 30 || { result $1 fail "no statistics"; return; }
    sleep 0.5
    _n=$(forwarded $4)
    result $1 pass "$(( _n / TUNIC_SECONDS ))"
}
tp_end() {
    tp quit
    exec 3>&-
    wait $TP_PID
    rm -f /tmp/tp.in
}

# io forwarding, the classic loopback: both ports in one testpmd, forwarding to each
# other, primed with one burst each (tx_first); frames both ports sent per second.
tp_launch -l 0-1 -n 1 -a $BDF0 -a $BDF1 --file-prefix=tunic-bench --huge-unlink -- -i --rxq=1 --txq=1 --nb-cores=1 --total-num-mbufs=16384
tp show port info all
tp_wait "Driver name" 2 180 || { result setup fail "testpmd: $(tail -n 5 /tmp/tp.log | tr '\n' ' ')"; exit 1; }
sleep 3
i=1
while [ $i -le $TUNIC_ROUNDS ]; do
    run_engine io-$i io "start tx_first" TX-packets
    i=$((i + 1))
done
tp_end

# txonly: port 0's testpmd sends as fast as it can; a second testpmd receives on port 1
# (rxonly), so that a lossless peer (QEMU's hub) does not hold the sender back.
sleep 100000 | stdbuf -o0 -e0 dpdk-testpmd -l 0-1 --main-lcore 1 -n 1 -a $BDF1 --file-prefix=tunic-rx --huge-unlink \
    -- --forward-mode=rxonly --auto-start --rxq=1 --txq=1 --nb-cores=1 --total-num-mbufs=16384 >/tmp/tp-rx.log 2>&1 &
RX_PID=$!
tp_launch -l 0-1 --main-lcore 0 -n 1 -a $BDF0 --file-prefix=tunic-tx --huge-unlink -- -i --rxq=1 --txq=1 --nb-cores=1 --total-num-mbufs=16384
tp show port info all
tp_wait "Driver name" 1 180 || { result setup fail "testpmd: $(tail -n 5 /tmp/tp.log | tr '\n' ' ')"; exit 1; }
_n=600
while [ $_n -gt 0 ] && ! grep -q "Press enter to exit" /tmp/tp-rx.log; do sleep 0.1; _n=$((_n - 1)); done
grep -q "Press enter to exit" /tmp/tp-rx.log || { result setup fail "the receiving testpmd did not start: $(tail -n 5 /tmp/tp-rx.log | tr '\n' ' ')"; exit 1; }
i=1
while [ $i -le $TUNIC_ROUNDS ]; do
    run_engine txonly-$i txonly start TX-packets
    i=$((i + 1))
done
tp_end
kill -INT $RX_PID 2>/dev/null
sleep 2
kill -KILL $RX_PID 2>/dev/null
pkill -KILL -f "sleep 100000"
