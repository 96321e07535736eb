# tunic reliability, first boot: traffic on pair X until the host kills QEMU.
set -- $(nics_by_driver igb)
if [ $# -ne 4 ] || ! setup_pair $1 $2; then
    result kill-qemu-setup fail "nics: $*"
    exit 1
fi
in_peer iperf3 -s -D -B "$TUNIC_IP4_B" >/dev/null 2>&1
sleep 1
iperf3 -c "$TUNIC_IP4_B" -t 300 >/dev/null 2>&1 &
sleep 2
echo "TUNIC-STEP traffic"
# The host kills QEMU now; nothing below is expected to run.
sleep 300
result kill-qemu-killed fail "QEMU was not killed"
