# DPDK in the guest: the NIC under test (A) is bound to uio_pci_generic and driven
# by testpmd's PMD; the peer NIC (B) stays on its kernel driver in netns "peer".
# Runs chrooted in the full Debian guest (dpdk-testpmd from Debian's dpdk package).
# Every case reads testpmd's own counters and the peer kernel's netdev counters.

set -- $(nics_by_driver $TUNIC_DRIVER)
if [ $# -ne 2 ]; then
    result dpdk-probe fail "expected 2 $TUNIC_DRIVER NICs, found: $*"
    exit 1
fi
A=$1; B=$2
AMAC=$(cat /sys/class/net/$A/address); BMAC=$(cat /sys/class/net/$B/address)
BDF=$(pci_function $A)

mkdir -p /run/netns; ip netns add peer
ip link set $B netns peer
in_peer ip link set lo up
in_peer ip link set $B mtu 1500
in_peer ip addr add $TUNIC_IP4_B/24 dev $B
in_peer ip link set $B up
wait_link $B 15 peer
peer_stat() { in_peer cat /sys/class/net/$B/statistics/$1; }
# Frames B's NIC received but could not deliver, as its driver reports them.
peer_lost() { echo $(( $(peer_stat rx_missed_errors) + $(peer_stat rx_dropped) + $(peer_stat rx_fifo_errors) )); }

# 2 MiB pages for DPDK (mounted by /init), and A handed to uio_pci_generic.
echo 256 >/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
bound=$(bind_uio $BDF)
if [ "$bound" != uio_pci_generic ]; then
    result dpdk-probe fail "$BDF is bound to '$bound', not uio_pci_generic: $(lsmod | grep -c uio) uio modules; $(dmesg | tail -n 6 | tr '\n' ' ')"
    exit 1
fi

# Queues: four, for the RSS case (and the X710's steering cases).
NQ=4

# testpmd as a session (testpmd-lib.sh).
tp_launch -l 0-1 -n 1 -a $BDF --file-prefix=tunic --huge-unlink -- -i --rxq=$NQ --txq=$NQ --nb-cores=1

case $TUNIC_DRIVER in
    i40e) PMD=net_i40e ;;
    igb) PMD=net_e1000_igb ;;
    *) PMD=net_virtio ;;
esac

# Probe: the PMD takes the port and reads the MAC the device was given.
tp show port info 0
if tp_wait "Driver name" 1 180; then
    sleep 0.5
    name=$(awk '/Driver name:/ { print $3; exit }' /tmp/tp.log)
    mac=$(awk '/^MAC address:/ { print tolower($3); exit }' /tmp/tp.log)
    if [ "$name" = $PMD ] && [ "$mac" = "$AMAC" ]; then
        result dpdk-probe pass "testpmd port 0 on $BDF: driver $name, MAC $mac"
    else
        result dpdk-probe fail "driver '$name' (want $PMD), MAC '$mac' (want $AMAC)"
    fi
else
    result dpdk-probe fail "testpmd did not come up: $(tail -n 8 /tmp/tp.log | tr '\n' ' ')"
    wait $TP_PID; echo "TUNIC-TESTPMD-EXIT $?"
    echo "TUNIC-TESTPMD-LOG-BEGIN"; tail -n 60 /tmp/tp.log; grep -i huge /proc/meminfo; dmesg | tail -n 8; echo "TUNIC-TESTPMD-LOG-END"
    exit 1
fi
link_status() { # the newest "Link status" testpmd printed, after a fresh show port info
    _c=$(tp_count "^Link status:")
    tp show port info 0
    tp_wait "^Link status:" $((_c + 1)) 20 || { echo none; return; }
    sleep 0.3
    awk '/^Link status:/ { s = $3 } END { print s }' /tmp/tp.log
}
# The PMD resets the PHY when it starts the port, and the PHY then negotiates
# (500 ms on tunic's igb, seconds on silicon): wait for the link as an application
# does, up to 10 s.
st=$(awk '/^Link status:/ { s = $3 } END { print s }' /tmp/tp.log)
n=0
while [ "$st" != up ] && [ $n -lt 20 ]; do
    sleep 0.5
    st=$(link_status)
    n=$((n + 1))
done
link="$st $(awk '/^Link speed:/ { v = $3 " " $4 } END { print v }' /tmp/tp.log)"
case "$link" in
    up*) result dpdk-link pass "link $link" ;;
    *) result dpdk-link fail "link '$link'" ;;
esac

# Link events: testpmd takes the link down and up again through the PMD (the PHY
# powered down, or the X710's PHY configuration without link); the device must tell
# the driver each time (igb: ICR.LSC; X710: a link status event on the admin queue),
# testpmd must print each event, and the link status must follow.
# virtio's PMD has neither: no set_link_down, and link events only with MSI-X, which
# uio_pci_generic does not give it.
if [ $TUNIC_DRIVER != virtio_net ]; then
ev=$(tp_count "link state change event")
ev0=$ev
tp set link-down port 0
tp_wait "link state change event" $((ev + 1)) 15 && ev=$((ev + 1))
down=$(link_status)
tp set link-up port 0
tp_wait "link state change event" $((ev + 1)) 15 && ev=$((ev + 1))
up=$(link_status)
if [ $((ev - ev0)) = 2 ] && [ "$down" = down ] && [ "$up" = up ]; then
    result dpdk-link-event pass "set link-down: event, status $down; set link-up: event, status $up"
else
    result dpdk-link-event fail "$((ev - ev0)) of 2 link state change events; status after link-down '$down', after link-up '$up'; testpmd: $(grep -A3 'set link-down' /tmp/tp.log | tr '\n' ' ' | cut -c1-300)"
fi
wait_up=20
while [ $wait_up -gt 0 ] && [ "$(link_status)" != up ]; do sleep 1; wait_up=$((wait_up - 1)); done
fi

# macswap: B sends to A's MAC, testpmd returns each frame with the MACs swapped, so
# B's NIC receives every one (they are addressed to it; the stack then drops them).
in_peer ip neigh replace 198.18.0.99 lladdr $AMAC dev $B nud permanent
tp set fwd macswap
tp start
sleep 1
s0=$(tp_stats); r0=$(peer_stat rx_packets)
in_peer ping -c 200 -i 0.01 -W 1 198.18.0.99 >/dev/null 2>&1
sleep 1
s1=$(tp_stats); r1=$(peer_stat rx_packets)
tp stop
set -- $s0; rp0=$1; tx0=$3
set -- $s1; rp1=$1; re1=$2; tx1=$3; te1=$4
drx=$((rp1 - rp0)); dtx=$((tx1 - tx0)); dpeer=$((r1 - r0))
if [ $drx -ge 200 ] && [ $dtx -eq $drx ] && [ $dpeer -ge 200 ] && [ "$re1" = 0 ] && [ "$te1" = 0 ]; then
    result dpdk-macswap pass "testpmd rx +$drx tx +$dtx, errors rx $re1 tx $te1; peer rx +$dpeer of 200 pings"
else
    result dpdk-macswap fail "testpmd rx +$drx tx +$dtx, errors rx $re1 tx $te1; peer rx +$dpeer of 200 pings"
fi

# txonly: testpmd generates UDP frames to B's MAC as fast as it can; B's NIC receives
# them. The generator outruns an emulated guest: igb's flow control pauses A (nothing
# lost); elsewhere frames are dropped, by B's NIC (its missed counter) or by the wire
# into it (tunic's wire_tx_dropped). The
# host check dpdk-txonly-accounted adds those up against testpmd's count, over the
# case window B marks.
tp set eth-peer 0 $BMAC
tp set fwd txonly
in_peer /tunic/bin/tunic-guest mark $B pcap=dpdk-txonly
sleep 0.5
s0=$(tp_stats); r0=$(peer_stat rx_packets); m0=$(peer_lost)
tp start
sleep 3
tp stop
# igb's driver refreshes its drop counters in its 2-second watchdog.
sleep 3
s1=$(tp_stats); r1=$(peer_stat rx_packets); m1=$(peer_lost)
in_peer /tunic/bin/tunic-guest mark $B pcap=off
set -- $s0; tx0=$3
set -- $s1; tx1=$3; te1=$4
dtx=$((tx1 - tx0)); dpeer=$((r1 - r0)); dlost=$((m1 - m0))
if [ $dtx -gt 0 ] && [ "$te1" = 0 ] && [ $dpeer -gt 0 ]; then
    result dpdk-txonly pass "tx=$dtx tx_errors=$te1 peer_rx=$dpeer peer_lost=$dlost"
else
    result dpdk-txonly fail "tx=$dtx tx_errors=$te1 peer_rx=$dpeer peer_lost=$dlost"
fi

# Per-layer Rx checksum flags. testpmd's rxonly engine prints every packet's ol_flags
# (set verbose 1). B sends 20 UDP datagrams while tunic corrupts one layer of every
# 2nd on its way into A (switched by B's marker frames); the PMD must flag exactly
# those 10 bad in that layer and the other 10 good. The X710 checks the outer IPv4,
# the inner IPv4 and the inner L4 of NVGRE separately; igb reports IPv4 and L4;
# virtio-net reports only a verified L4 checksum (DATA_VALID), so its bad frames
# must come without the good flag (the PMD shows RTE_MBUF_F_RX_L4_CKSUM_UNKNOWN).
G=/tunic/bin/tunic-guest
VSID=$((0x00c0de)); FLOWID=$((0x2a)); KEY=$(( (VSID << 8) | FLOWID ))
tp port stop 0
for o in ipv4_cksum udp_cksum tcp_cksum outer_ipv4_cksum; do tp port config 0 rx_offload $o on; done
tp port start 0
tp set fwd rxonly
tp set verbose 1
tp start
tp_stats >/dev/null
sleep 1
peer_udp() { # peer_udp COUNT DST: COUNT small UDP datagrams from B to DST port 9
    _i=0
    while [ $_i -lt $1 ]; do
        echo tunic-$_i | in_peer socat -u - UDP-SENDTO:$2:9
        _i=$((_i + 1))
    done
}
rx_flags_case() { # NAME INJECT MATCH BAD GOOD DST
    _l0=$(wc -l </tmp/tp.log)
    in_peer $G mark $B inject=$2
    peer_udp 20 $6
    sleep 1
    in_peer $G mark $B inject=off
    tp_stats >/dev/null
    _counts=$(tail -n +$((_l0 + 1)) /tmp/tp.log | awk -v m="$3" -v bad="$4" -v good="$5" '
        /sw ptype:/ { want = index($0, m) > 0; next }
        /ol_flags:/ {
            if (want) {
                n++; isbad = 0; isgood = 0
                for (i = 2; i <= NF; i++) { if ($i == bad) isbad = 1; if ($i == good) isgood = 1 }
                if (isbad) b++; else if (isgood) g++
            }
            want = 0
        }
        END { print n + 0, b + 0, g + 0 }')
    set -- "$1" "$2" "$4" "$5" $_counts
    if [ "$5" = 20 ] && [ "$6" = 10 ] && [ "$7" = 10 ]; then
        result $1 pass "$2: of $5 UDP packets, $6 with $3, $7 with $4"
    else
        result $1 fail "$2: of $5 UDP packets (20 sent), $6 with $3 (10 corrupted), $7 with $4 (10 good)"
    fi
}
case $TUNIC_DRIVER in
    virtio_net) l4_bad=RTE_MBUF_F_RX_L4_CKSUM_UNKNOWN ;;
    *) l4_bad=RTE_MBUF_F_RX_L4_CKSUM_BAD ;;
esac
rx_flags_case dpdk-rx-csum-l4 corrupt-l4-2 L4_UDP $l4_bad RTE_MBUF_F_RX_L4_CKSUM_GOOD 198.18.0.99
if [ $TUNIC_DRIVER != virtio_net ]; then
    rx_flags_case dpdk-rx-csum-ip corrupt-ip-2 L4_UDP RTE_MBUF_F_RX_IP_CKSUM_BAD RTE_MBUF_F_RX_IP_CKSUM_GOOD 198.18.0.99
fi
if [ $TUNIC_DRIVER = i40e ]; then
    # NVGRE from B: outer frames to A's MAC, inner UDP to a static neighbour.
    in_peer ip link add nvx0 type gretap local $TUNIC_IP4_B remote 198.18.0.99 key $KEY
    # No IPv6 on the tunnel: its router solicitations and MLD reports would be NVGRE
    # frames too, and corrupt-outer-ip counts every NVGRE frame, so one arriving in a
    # case window would take the place of a UDP datagram among the corrupted.
    in_peer sh -c 'echo 1 >/proc/sys/net/ipv6/conf/nvx0/disable_ipv6'
    in_peer ip addr add 198.19.2.2/24 dev nvx0
    in_peer ip link set nvx0 up
    in_peer ip neigh replace 198.19.2.1 lladdr 02:00:00:00:00:99 dev nvx0 nud permanent
    rx_flags_case dpdk-rx-csum-nvgre-inner-l4 corrupt-inner-l4-2 INNER_L4_UDP RTE_MBUF_F_RX_L4_CKSUM_BAD RTE_MBUF_F_RX_L4_CKSUM_GOOD 198.19.2.1
    rx_flags_case dpdk-rx-csum-nvgre-inner-ip corrupt-inner-ip-2 INNER_L4_UDP RTE_MBUF_F_RX_IP_CKSUM_BAD RTE_MBUF_F_RX_IP_CKSUM_GOOD 198.19.2.1
    rx_flags_case dpdk-rx-csum-nvgre-outer-ip corrupt-outer-ip-2 INNER_L4_UDP RTE_MBUF_F_RX_OUTER_IP_CKSUM_BAD RTE_MBUF_F_RX_IP_CKSUM_GOOD 198.19.2.1
fi

# RSS with a key set by testpmd: "port config all rss udp" and a key of our own, as
# long as the PMD's (the X710's 52 bytes, the 82576's and virtio-net's 40); B sends 16
# UDP flows (flow k with a payload of 20 + k bytes, so its frame is 62 + k long). The
# queue of each must be the PMD's indirection table entry for the Toeplitz hash of its
# 4-tuple under that key (tunic-guest toeplitz, from the definition; entry i is queue
# i mod 4), and where the PMD reports the hash (i40e, igb) the hash must be that one.
# DPDK 24.11's virtio PMD does not read virtio's hash report, so there only the queue
# carries the hash.
case $TUNIC_DRIVER in
    i40e) KEY_LEN=52 ;;
    *) KEY_LEN=40 ;;
esac
RSS_KEY=$(awk -v n=$KEY_LEN 'BEGIN { for (i = 0; i < n; i++) printf "%02x", (i * 37 + 11) % 256 }')
tp port config all rss udp
tp port config 0 rss-hash-key ipv4-udp $RSS_KEY
tp_stats >/dev/null
_l0=$(wc -l </tmp/tp.log)
k=0
while [ $k -lt 16 ]; do
    head -c $((20 + k)) /dev/zero | in_peer socat -u - UDP-SENDTO:198.18.0.99:9,sourceport=$((5000 + k))
    k=$((k + 1))
done
sleep 1
tp_stats >/dev/null
tail -n +$((_l0 + 1)) /tmp/tp.log | awk '/sw ptype:/ && / L4_UDP/ && !/INNER/ {
    l = ""; h = "-"; q = ""
    for (i = 1; i <= NF; i++) {
        if ($i ~ /^length=/) l = substr($i, 8)
        if ($i ~ /^hash=/) h = substr($i, 6)
        if ($i ~ /^queue=/) q = substr($i, 7)
    }
    print l, h, q }' >/tmp/rss-seen.txt
$G toeplitz $RSS_KEY $TUNIC_IP4_B 198.18.0.99 9 $(seq 5000 5015) >/tmp/rss-want.txt
ok=0; hashes=0; queues=; bad=
k=0
while [ $k -lt 16 ]; do
    want=$(awk -v p=$((5000 + k)) '$1 == p { print $2 }' /tmp/rss-want.txt)
    set -- $(awk -v l=$((62 + k)) '$1 == l { print $2, $3; exit }' /tmp/rss-seen.txt)
    hash_ok=no
    if [ "$1" = - ] && [ $TUNIC_DRIVER = virtio_net ]; then
        hash_ok=yes
    elif [ -n "$1" ] && [ "$1" != - ] && [ -n "$want" ] && [ $(($1)) -eq $((want)) ]; then
        hash_ok=yes; hashes=$((hashes + 1))
    fi
    if [ $hash_ok = yes ] && [ -n "$2" ] && [ -n "$want" ] && [ $(($2)) -eq $(( (want & 127) % 4 )) ]; then
        ok=$((ok + 1)); queues="$queues $(($2))"
    else
        bad="$bad sport $((5000 + k)): hash ${1:-none} queue ${2:-none}, want $want;"
    fi
    k=$((k + 1))
done
nq=$(echo $queues | tr ' ' '\n' | sort -u | grep -c .)
if [ $ok = 16 ] && [ $nq -gt 1 ]; then
    result dpdk-rss-key pass "16 of 16 UDP flows on the queue the table gives for their Toeplitz hash under testpmd's $KEY_LEN-byte key ($hashes reported hashes equal to it); $nq queues used"
else
    result dpdk-rss-key fail "$ok of 16 flows right, $nq queues used;$bad"
fi
tp stop

# Native NVGRE large send (i40e). B sends NVGRE TCP packets of one MTU each, with its
# offloads off; testpmd's csum engine returns each to B (MACs swapped) asking the X710
# for tunnel TSO: inner IPv4 and TCP, and outer IPv4 checksums in hardware, the outer
# length left at the whole packet's. The host compares the segments with two oracles:
# the same packets segmented by B's kernel (software GSO, sent with the same MSS), and
# for IPv4 in IPv4, the only mix DPDK's GSO library segments, by testpmd's own software
# GSO ("set port 0 gso on"). Windows: dpdk-lso-MIX-mMSS-{kernel,hw,sw}.
# LSO_MSS and the mixes must match `qemu-glue/suites/src/dpdk_lso.rs`.
if [ $TUNIC_DRIVER = i40e ]; then
    LSO_MSS="300 536 1000"
    tp set verbose 0
    in_peer ethtool -K $B tx off >/dev/null 2>&1
    in_peer ip -6 addr add $TUNIC_IP6_B/64 dev $B nodad
    in_peer ip -6 neigh replace 2001:2::99 lladdr $AMAC dev $B nud permanent
    in_peer ip link add nvx6 type ip6gretap local $TUNIC_IP6_B remote 2001:2::99 key $KEY encaplimit none
    in_peer ip link set nvx6 up
    lso_send() { # lso_send WINDOW MIX MSS SPORT: two packets through B's tunnel device
        case $2 in *-in-v4) _dev=nvx0 ;; *) _dev=nvx6 ;; esac
        case $2 in
            v4-*) _src=198.19.0.1; _dst=198.19.0.2; _hl=40 ;;
            *) _src=2001:2:0:1::1; _dst=2001:2:0:1::2; _hl=60 ;;
        esac
        _payload=$(( $(in_peer cat /sys/class/net/$_dev/mtu) - _hl - 7 ))
        in_peer $G mark $B pcap=$1
        sleep 0.3
        lso_sends=$((lso_sends + 1))
        in_peer $G gso-send $_dev 02:00:00:00:00:99 $_src $_dst $4 9 $_payload $3 nots 77 2 ||
            { result $1 fail "gso-send failed"; lso_failed="$lso_failed $1"; }
        sleep 0.5
        in_peer $G mark $B pcap=off
        sleep 0.2
    }
    # What testpmd forwarded while one configuration ran: its counters from after the
    # port restart (the restart may zero them) to before the next one.
    lso_rx=0; lso_tx=0; lso_err=0; lso_sends=0; lso_failed=; lso_s0="0 0 0 0 0"
    lso_tally() {
        _s1=$(tp_stats)
        set -- $lso_s0; _rp0=$1; _re0=$2; _tp0=$3; _te0=$4
        set -- $_s1
        lso_rx=$((lso_rx + $1 - _rp0)); lso_tx=$((lso_tx + $3 - _tp0)); lso_err=$((lso_err + $2 - _re0 + $4 - _te0))
    }
    lso_config() { # lso_config TSO_MSS GSO_SEGSZ: testpmd's csum engine, hardware or software segmentation
        [ $lso_sends -gt 0 ] && lso_tally
        tp stop
        tp port stop 0
        for l in ip tcp outer-ip; do tp csum set $l hw 0; done
        tp csum parse-tunnel on 0
        tp tunnel_tso set $1 0
        tp port start 0
        if [ "$2" != 0 ]; then tp set gso segsz $2; tp set port 0 gso on; else tp set port 0 gso off; fi
        tp set fwd csum
        tp start
        lso_s0=$(tp_stats)
    }
    for m in $LSO_MSS; do
        lso_config $m 0
        sport=40020
        for mix in v4-in-v4 v6-in-v4 v4-in-v6 v6-in-v6; do
            lso_send dpdk-lso-$mix-m$m-kernel $mix $m $sport
            # MSS 9000: B sends each packet whole; testpmd asks for segments of $m.
            lso_send dpdk-lso-$mix-m$m-hw $mix 9000 $sport
            sport=$((sport + 1))
        done
        # DPDK's GSO counts the whole segment: Ethernet, outer IPv4, GRE with key,
        # inner Ethernet, IPv4 and TCP (96 bytes) before the MSS.
        lso_config 0 $((96 + m))
        lso_send dpdk-lso-v4-in-v4-m$m-sw v4-in-v4 9000 40020
    done
    lso_tally
    tp stop
    tp set port 0 gso off
    # Each send is two packets (whole, or as B's kernel segmented them) that testpmd
    # receives and sends on, segmented or not, so it sends at least what it received.
    lso_what="$lso_sends sends (NVGRE TCP in 4 IP mixes x MSS $LSO_MSS: kernel GSO, X710 tunnel TSO, DPDK GSO v4 in v4); testpmd rx +$lso_rx tx +$lso_tx, errors $lso_err"
    if [ -z "$lso_failed" ] && [ $lso_rx -ge $((2 * lso_sends)) ] && [ $lso_tx -ge $lso_rx ] && [ $lso_err = 0 ] && kill -0 $TP_PID 2>/dev/null; then
        result dpdk-lso-sent pass "$lso_what"
    else
        result dpdk-lso-sent fail "$lso_what; gso-send failed in:${lso_failed:- none}"
    fi

    # VSID steering (i40e): rte_flow's NVGRE item with a tenant ID and an inner
    # destination MAC becomes an admin-queue cloud filter (NDIS VMQ on NVGRE); matching
    # frames must land on the rule's queue, everything else on the default queue
    # (RSS is off, so that is queue 0). B sends through one gretap device per VSID, to
    # inner addresses whose neighbour entries give the inner MACs.
    flow_errors=
    tp set fwd rxonly
    tp set verbose 1
    # The PMD cannot switch RSS off on a started port; an RSS rule that spreads over
    # queue 0 alone makes it the default queue.
    _n=$(tp_count "Flow rule #")
    tp flow create 0 ingress pattern end actions rss queues 0 end / end
    tp_wait "Flow rule #" $((_n + 1)) 20 || flow_errors=" [the RSS rule for queue 0 failed: $(tail -n 3 /tmp/tp.log | tr '\n' ' ')]"
    M1=02:00:00:00:00:99; M2=02:00:00:00:01:23; M3=02:00:00:00:00:77; M4=02:00:00:00:00:55
    V1=$VSID; V2=$((0x000123)); V3=$((0x000456))
    vsid_dev() { # vsid_dev NAME VSID SUBNET: a gretap device on B for one tenant
        in_peer ip link add $1 type gretap local $TUNIC_IP4_B remote 198.18.0.99 key $(( ($2 << 8) | FLOWID ))
        in_peer ip addr add $3.2/24 dev $1
        in_peer ip link set $1 up
    }
    vsid_dev nvs2 $V2 198.19.3
    vsid_dev nvs3 $V3 198.19.4
    flows=0
    for rule in "$V1 $M1 1" "$V1 $M3 3" "$V2 $M2 2"; do
        set -- $rule
        _n=$(tp_count "Flow rule #"); _l=$(wc -l </tmp/tp.log)
        # The PMD's tunnel parser wants the PF action before the queue.
        tp flow create 0 ingress pattern eth / ipv4 / nvgre tni is $1 / eth dst is $2 / end actions pf / queue index $3 / end
        if tp_wait "Flow rule #" $((_n + 1)) 20; then
            flows=$((flows + 1))
        else
            flow_errors="$flow_errors [$(tail -n +$_l /tmp/tp.log | grep -v '^testpmd> *$' | head -n 4 | tr '\n' ' ')]"
        fi
    done
    tp start
    tp_stats >/dev/null
    steer_probe() { # steer_probe CASE DEV INNER_IP INNER_MAC WANT_QUEUE WHAT
        in_peer ip neigh replace $3 lladdr $4 dev $2 nud permanent
        _l0=$(wc -l </tmp/tp.log)
        peer_udp 8 $3
        sleep 1
        tp_stats >/dev/null
        # Each packet line follows the "port 0/queue N: received K packets" line of its
        # burst; only the probe's NVGRE UDP packets count.
        _got=$(tail -n +$((_l0 + 1)) /tmp/tp.log | awk '
            match($0, /port 0\/queue [0-9]+: received/) { q = substr($0, RSTART + 13) + 0 }
            /sw ptype:/ && /INNER_L4_UDP/ { n[q]++ }
            END { for (i = 0; i < 4; i++) printf "q%d=%d ", i, n[i] + 0 }')
        if [ "$(echo $_got | tr ' ' '\n' | grep -c '=[1-9]')" = 1 ] && echo "$_got" | grep -q "q$5=8 "; then
            result $1 pass "$6: 8 of 8 on queue $5 ($_got)"
        else
            result $1 fail "$6: want 8 on queue $5, got $_got ($flows of 3 flow rules created$flow_errors)"
        fi
    }
    steer_probe dpdk-vsid-steer-match nvx0 198.19.2.11 $M1 1 "VSID $V1, inner MAC $M1 (rule 0)"
    steer_probe dpdk-vsid-steer-match-mac nvx0 198.19.2.12 $M3 3 "VSID $V1, inner MAC $M3 (rule 1: same VSID, other MAC)"
    steer_probe dpdk-vsid-steer-match-vsid nvs2 198.19.3.11 $M2 2 "VSID $V2, inner MAC $M2 (rule 2)"
    steer_probe dpdk-vsid-steer-other-vsid nvs2 198.19.3.12 $M1 0 "VSID $V2 with rule 0's MAC $M1 (no rule)"
    steer_probe dpdk-vsid-steer-other-mac nvx0 198.19.2.13 $M4 0 "VSID $V1, inner MAC $M4 (no rule)"
    steer_probe dpdk-vsid-steer-unknown-vsid nvs3 198.19.4.11 $M1 0 "VSID $V3 (no rule), inner MAC $M1"
    tp stop
fi

tp quit
exec 3>&-
wait $TP_PID
echo "TUNIC-TESTPMD-LOG-BEGIN"; tail -n 40 /tmp/tp.log; echo "TUNIC-TESTPMD-LOG-END"
