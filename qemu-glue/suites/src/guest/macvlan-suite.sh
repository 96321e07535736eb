# Macvlan offload (i40e): with l2-fwd-offload on, the driver gives each macvlan on B
# its own VSI (admin queue add_vsi) with its own queues and a MAC filter on it. Three
# macvlans, each pinged from A: no loss, and (host check macvlan-vsi-steering) tunic
# saw each macvlan's frames arrive on a VSI of its own.
# Suites run concatenated in one script: no early exit here.
if in_peer ethtool -K $B l2-fwd-offload on >/tmp/l2fwd.out 2>&1; then
    ok=1
    ev=""
    for i in 1 2 3; do
        in_peer ip link add link $B name mv$i address 02:00:00:00:10:0$i type macvlan mode bridge || ok=0
        in_peer ip addr add 198.19.$i.2/24 dev mv$i || ok=0
        in_peer ip link set mv$i up || ok=0
        ip addr add 198.19.$i.1/24 dev $A || ok=0
        # The peer's own NIC would answer ARP for every address in its namespace
        # (arp_ignore 0): pin each macvlan's address to the macvlan's MAC.
        ip neigh replace 198.19.$i.2 lladdr 02:00:00:00:10:0$i dev $A nud permanent || ok=0
    done
    sleep 1
    for i in 1 2 3; do
        out=$(ping -c 20 -i 0.05 -W 2 198.19.$i.2 2>&1 | grep -E 'packets transmitted')
        case "$out" in
            *" 0% packet loss"*) ev="$ev mv$i: $out;" ;;
            *) ok=0; ev="$ev mv$i: ${out:-no reply};" ;;
        esac
    done
    offloaded="$(in_peer ethtool -k $B | grep l2-fwd-offload); $(dmesg | grep -iE 'i40e|macvlan' | grep -vi 'link is up' | tail -n 4 | tr '\n' ' ')"
    if [ $ok = 1 ]; then
        result macvlan-offload pass "$offloaded;$ev"
    else
        result macvlan-offload fail "$offloaded;$ev $(dmesg | grep -iE 'i40e|macvlan' | tail -n 3 | tr '\n' ' ')"
    fi
    for i in 1 2 3; do
        in_peer ip link del mv$i 2>/dev/null
        ip addr del 198.19.$i.1/24 dev $A 2>/dev/null
    done
    in_peer ethtool -K $B l2-fwd-offload off >/dev/null 2>&1
else
    result macvlan-offload fail "ethtool -K l2-fwd-offload on: $(cat /tmp/l2fwd.out)"
fi
