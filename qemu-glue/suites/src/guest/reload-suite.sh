# Run last: unloading the driver tears down the topology the other suites use.
# Unload and reload the driver: both NICs probe again and traffic resumes.
ip netns del peer
sleep 1
rmmod $TUNIC_DRIVER && modprobe $TUNIC_DRIVER
sleep 2
set -- $(nics_by_driver $TUNIC_DRIVER)
if [ $# -eq 2 ] && setup_pair $1 $2 && ping -c 3 -W 2 $TUNIC_IP4_B >/dev/null 2>&1; then
    result rmmod-modprobe pass "re-probed $1 $2, ping ok"
else
    result rmmod-modprobe fail "nics: $* $(dmesg | tail -n 5 | tr '\n' ' ')"
fi
