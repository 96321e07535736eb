# Offloads through the real driver: NVGRE (gretap with key = VSID << 8 | FlowID)
# large send handed to the NIC (GSO_PARTIAL: the NIC replicates the outer and inner
# headers and fixes outer lengths, IDs and checksums, and the inner TCP fields).
# The host side of the suite checks tunic's counters to prove the NIC did the work.

for nic in $A; do ethtool -K $nic tx-tcp-mangleid-segmentation on >/dev/null 2>&1; done
in_peer ethtool -K $B tx-tcp-mangleid-segmentation on >/dev/null 2>&1
gso=$(ethtool -k $A | grep -E 'tx-gre-segmentation|tx-gso-partial|tx-tcp-mangleid' | tr -s '\t\n ' ' ')

tunnel_case() { # tunnel_case <name> <ip link type> <outer local> <outer remote> <inner4|inner6> [udp]
    _name=$1; _type=$2; _l=$3; _r=$4; _inner=$5; _proto=${6:-tcp}
    ip link add nv0 type $_type local $_l remote $_r key $KEY || { result $_name fail "cannot create $_type"; return; }
    in_peer ip link add nv0 type $_type local $_r remote $_l key $KEY
    ip addr add 198.19.0.1/24 dev nv0; in_peer ip addr add 198.19.0.2/24 dev nv0
    ip -6 addr add 2001:2:0:1::1/64 dev nv0 nodad; in_peer ip -6 addr add 2001:2:0:1::2/64 dev nv0 nodad
    ip link set nv0 up; in_peer ip link set nv0 up
    _err0=$(csum_errors peer)
    if [ $_inner = inner6 ]; then _dst=2001:2:0:1::2; else _dst=198.19.0.2; fi
    # UDP: datagrams that fill the tunnel's MTU, at a rate the emulated guest keeps up with.
    _args=""
    [ $_proto = udp ] && _args="-u -b 50M -l 1350"
    # A short captured window first (for the host's tshark checksum oracle), then throughput.
    mark $_name; iperf_once -c $_dst -n 4M $_args; mark off
    in_peer iperf3 -s -1 -D >/tmp/iperf3-tun-server.out 2>&1
    sleep 0.5
    if iperf3 -c $_dst -t ${TUNIC_TUNNEL_SECONDS:-3} -f m $_args >/tmp/iperf3-tun.out 2>&1; then
        _mbps=$(awk '/receiver/ { for (i = 1; i <= NF; i++) if ($i == "Mbits/sec") print $(i - 1) }' /tmp/iperf3-tun.out)
        _err=$(( $(csum_errors peer) - _err0 ))
        # UDP: the receiver's "(loss%)"; a tunnel that delivers nothing fails.
        _loss=$(awk '/receiver/ { for (i = 1; i <= NF; i++) if ($i ~ /^\(.*%\)$/) print $i }' /tmp/iperf3-tun.out)
        if [ $_proto = udp ] && { [ -z "$_loss" ] || [ "$_loss" = "(100%)" ]; }; then
            result $_name fail "UDP over $_type delivered nothing: $(tail -n 3 /tmp/iperf3-tun.out | tr '\n' ' ')"
        elif [ "$_err" = 0 ]; then
            result $_name pass "$_proto $_mbps Mbit/s ${_loss:+loss $_loss }over $_type key $KEY (VSID $VSID FlowID $FLOWID), peer checksum errors 0"
        else
            result $_name fail "$_mbps Mbit/s but the peer counted $_err checksum errors"
        fi
    else
        result $_name fail "$(tail -n 3 /tmp/iperf3-tun.out | tr '\n' ' ')"
    fi
    ip link del nv0; in_peer ip link del nv0
}

# The driver's view of the device's segmentation offloads: igb and i40e take GRE
# (NVGRE) TSO as GSO_PARTIAL; virtio_net has no GRE segmentation, so there the
# kernel must segment tunnels in software.
case $TUNIC_DRIVER in
    virtio_net) want="tx-gre-segmentation: off" ;;
    *) want="tx-gre-segmentation: on tx-gso-partial: on" ;;
esac
missing=
for f in $(echo "$want" | sed 's/: /:/g'); do
    echo "$gso" | sed 's/: /:/g' | tr ' ' '\n' | grep -qx "$f" || missing="$missing $f"
done
if [ -z "$missing" ]; then
    result gso-features pass "$gso"
else
    result gso-features fail "want$missing; ethtool -k says: $gso"
fi

# UDP segmentation: 40 sends of 14000 bytes through UDP_SEGMENT 1400 are 400 datagrams
# at the peer (to a closed port: counted as NoPorts after their checksums verified),
# none with a bad checksum. The host side checks the NIC, not the kernel, cut them.
udp_in() { in_peer cat /proc/net/snmp | awk '/^Udp:/ { if (!h) { for (i = 1; i <= NF; i++) { if ($i == "InDatagrams") a = i; if ($i == "NoPorts") b = i }; h = 1 } else print $a + $b }'; }
# virtio_net offers USO but leaves it off by default; turn it on for both drivers.
ethtool -K $A tx-udp-segmentation on >/dev/null 2>&1
u0=$(udp_in); e0=$(csum_errors peer)
mark uso
/tunic/bin/tunic-guest udp-gso $TUNIC_IP4_A $TUNIC_IP4_B 9999 14000 1400 40 >/tmp/uso.out 2>&1
sleep 1
mark off
got=$(( $(udp_in) - u0 )); bad=$(( $(csum_errors peer) - e0 ))
if [ "$got" -ge 400 ] && [ "$bad" = 0 ]; then
    result uso pass "$got datagrams from 40 UDP_SEGMENT sends, 0 checksum errors ($(ethtool -k $A | grep tx-udp-segmentation | tr -s '\t ' ' '))"
else
    result uso fail "$got of 400 datagrams, $bad checksum errors: $(tr '\n' ' ' </tmp/uso.out)"
fi
tunnel_case nvgre-v4-in-v4 gretap $TUNIC_IP4_A $TUNIC_IP4_B inner4
tunnel_case nvgre-v6-in-v4 gretap $TUNIC_IP4_A $TUNIC_IP4_B inner6
tunnel_case nvgre-v4-in-v6 ip6gretap $TUNIC_IP6_A $TUNIC_IP6_B inner4
tunnel_case nvgre-v6-in-v6 ip6gretap $TUNIC_IP6_A $TUNIC_IP6_B inner6
tunnel_case nvgre-udp-v4-in-v4 gretap $TUNIC_IP4_A $TUNIC_IP4_B inner4 udp
tunnel_case nvgre-udp-v6-in-v4 gretap $TUNIC_IP4_A $TUNIC_IP4_B inner6 udp
