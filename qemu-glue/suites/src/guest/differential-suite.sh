# Differential TSO oracle. The same TCP super-packets (built deterministically by
# tunic-guest and handed to the kernel through a virtio-net header on a packet
# socket) go out twice: once with A's offloads off, so the kernel segments and
# checksums in software, and once with them on, so tunic's NIC does. The host
# compares the two captures byte for byte (see `tunic conformance`, differential).

G=/tunic/bin/tunic-guest
BMAC=$(in_peer cat /sys/class/net/$B/address)
offloads_off() { ethtool -K $A tx off >/dev/null 2>&1; sleep 0.3; }
offloads_on() {
    ethtool -K $A tx on tso on tx-tcp6-segmentation on tx-gre-segmentation on tx-tcp-mangleid-segmentation on >/dev/null 2>&1
    sleep 0.3
}

diff_case() { # diff_case <name> <iface> <dst mac> <gso-send args...>
    _n=$1; _if=$2; _mac=$3; shift 3
    offloads_off
    mark diff-$_n-sw; $G gso-send $_if $_mac "$@" || { result diff-$_n-send fail "software run: gso-send failed"; send_failed="$send_failed $_n-sw"; }; sleep 0.5; mark off
    offloads_on
    mark diff-$_n-hw; $G gso-send $_if $_mac "$@" || { result diff-$_n-send fail "offload run: gso-send failed"; send_failed="$send_failed $_n-hw"; }; sleep 0.5; mark off
    sent_runs=$((sent_runs + 1))
}
send_failed=; sent_runs=0

#         name       iface dst   src          dst          sport dport payload mss  opts  ip-id count
diff_case tcp4       $A $BMAC $TUNIC_IP4_A $TUNIC_IP4_B 40000 9 20000 1448 nots 65530 2
diff_case tcp4-ts    $A $BMAC $TUNIC_IP4_A $TUNIC_IP4_B 40001 9 20001 1436 ts 100 2
diff_case tcp6       $A $BMAC $TUNIC_IP6_A $TUNIC_IP6_B 40002 9 20000 1428 nots 0 2
diff_case tcp6-ts    $A $BMAC $TUNIC_IP6_A $TUNIC_IP6_B 40003 9 14161 1416 ts 0 2

# NVGRE: inner super-packets sent into a gretap/ip6gretap device with key
# VSID << 8 | FlowID; the tunnel adds GRE and the outer header, then A either
# segments in software or hands GSO_PARTIAL TSO to the NIC.
for outer in 4 6; do
    if [ $outer = 4 ]; then t=gretap; l=$TUNIC_IP4_A; r=$TUNIC_IP4_B; else t=ip6gretap; l=$TUNIC_IP6_A; r=$TUNIC_IP6_B; fi
    ip link add nvd0 type $t local $l remote $r key $KEY
    in_peer ip link add nvd0 type $t local $r remote $l key $KEY
    ip link set nvd0 up; in_peer ip link set nvd0 up
    NMAC=$(in_peer cat /sys/class/net/nvd0/address)
    mtu=$(cat /sys/class/net/nvd0/mtu)
    diff_case nvgre-v4-in-v$outer nvd0 $NMAC 198.19.0.1 198.19.0.2 40010 9 $(( (mtu - 40) * 10 + 7 )) $((mtu - 40)) nots 7 2
    diff_case nvgre-v6-in-v$outer nvd0 $NMAC 2001:2:0:1::1 2001:2:0:1::2 40011 9 $(( (mtu - 60) * 10 )) $((mtu - 60)) nots 0 2
    ip link del nvd0; in_peer ip link del nvd0
done
offloads_on
# Eight cases, each sent with offloads off and then on, every send completed.
if [ $sent_runs = 8 ] && [ -z "$send_failed" ]; then
    result differential-sent pass "$sent_runs cases (tcp4 tcp4-ts tcp6 tcp6-ts, NVGRE v4/v6 in v4/v6), each sent with offloads off then on"
else
    result differential-sent fail "$sent_runs of 8 cases ran; failed sends:${send_failed:- none}"
fi
