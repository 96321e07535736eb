# Guest side of scripts/igb-intr-latency: igb's offline self-test (`ethtool -t
# offline`: registers, EEPROM, interrupts, loopback, link) under iperf3 load, ROUNDS
# times. The driver's interrupt test forces each cause through ICS and fails with
# "Interrupt test (offline) 4" if its handler has not seen it 10 ms later.
ROUNDS=@ROUNDS@
set -- $(nics_by_driver igb)
A=$1
B=$2
setup_pair "$A" "$B" || { result selftest-rounds fail "no igb pair came up"; exit 0; }
i=0
failed=0
while [ $i -lt $ROUNDS ]; do
    i=$((i + 1))
    in_peer iperf3 -s -1 -D -B $TUNIC_IP4_B >/dev/null 2>&1
    sleep 1
    iperf3 -c $TUNIC_IP4_B -t 8 >/dev/null 2>&1 &
    load=$!
    sleep 2
    out=$(timeout 60 ethtool -t "$A" offline 2>&1 | tr '\n' ' ' | tr -s ' ')
    wait $load
    echo "ROUND $i $out"
    case "$out" in *"result is PASS"*) ;; *) failed=$((failed + 1)) ;; esac
    ip link set "$A" up
    wait_link "$A" 15
done
if [ $failed -eq 0 ]; then
    result selftest-rounds pass "$i rounds, all passed"
else
    result selftest-rounds fail "$i rounds, $failed failed"
fi
