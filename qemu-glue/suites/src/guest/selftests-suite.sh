# The kernel's NIC selftests, run by kselftest's own runner from the tree built
# for this kernel (mounted at $TUNIC_KSFT), in the environment drivers/net/README.rst
# describes for a real NIC with a netns endpoint:
#   NETIF = NIC A, root namespace, 203.0.113.1/24 and 2001:db8:1::1/64
#   the endpoint = NIC B, moved to netns "remote", 203.0.113.2/24 and 2001:db8:1::2/64
# No prefix a test gives devices of its own may be the NICs': 192.0.2.0/24 and 2001:db8::/64
# are the tunnels' inner ends (NetDrvEpEnv.nsim_v4_pfx/nsim_v6_pfx; tso.py's vxlan and gre
# cases), 198.51.100.0/24 is macsec.py's VLAN and ipsec_vxlan.py's inner ends. Traffic to
# such an address would take the NIC's own route instead. The set-up refuses a tree whose
# drivers/net tests name the NICs' IPv4 prefix.
# Inputs: TUNIC_DRIVER, TUNIC_KSFT (path), TUNIC_KSFT_TESTS (collection:program ...),
# TUNIC_KSFT_TIMEOUT (seconds per program).
# Output: every line the runner prints for a program, as "TUNIC-KSFT <line>",
# between "TUNIC-KSFT-BEGIN <test>" and "TUNIC-KSFT-END <test> <seconds>";
# the guest's dmesg at the end as "TUNIC-DMESG <line>"; before and after each program both
# NICs' driver counters (`ethtool -S` and the netdev statistics) as
# "TUNIC-NICSTATS before|after <test> A|B <name> <value>", so a report can show what
# the drivers counted (drops above all) during each program.

set -- $(nics_by_driver "$TUNIC_DRIVER")
if [ $# -lt 2 ]; then
    result selftests-setup fail "expected two $TUNIC_DRIVER NICs, found: $*"
    exit 1
fi
ksft_a=$1
ksft_b=$2
# A test host's usual set-up: configfs (netconsole's dynamic targets live there), bpffs and
# IPv6 addresses kept across link down/up, which many tests do to the NIC.
mountpoint -q /sys/kernel/config || mount -t configfs configfs /sys/kernel/config
# ...and the BPF filesystem where systemd mounts it (xdp_metadata.py pins its maps there).
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
sysctl -qw net.ipv6.conf.all.keep_addr_on_down=1 net.ipv6.conf.default.keep_addr_on_down=1
ip netns add remote
ip netns exec remote sysctl -qw net.ipv6.conf.all.keep_addr_on_down=1 net.ipv6.conf.default.keep_addr_on_down=1
ip -n remote link set lo up
ip link set "$ksft_b" netns remote
ksft_v4_prefix=203.0.113
if _users=$(grep -rlF "$ksft_v4_prefix." "$TUNIC_KSFT/drivers/net" 2>/dev/null | head -n 3) && [ -n "$_users" ]; then
    result selftests-setup fail "tests use the NICs' prefix $ksft_v4_prefix.0/24 for devices of their own: $_users"
    exit 1
fi
# Standard frames, as on a test host: a virtio-net NIC with VIRTIO_NET_F_MTU comes up at
# the device's largest MTU, and native XDP without frags refuses that.
ip link set "$ksft_a" mtu 1500
ip -n remote link set "$ksft_b" mtu 1500
ip addr add $ksft_v4_prefix.1/24 dev "$ksft_a"
ip -6 addr add 2001:db8:1::1/64 dev "$ksft_a" nodad
ip link set "$ksft_a" up
ip -n remote addr add $ksft_v4_prefix.2/24 dev "$ksft_b"
ip -n remote -6 addr add 2001:db8:1::2/64 dev "$ksft_b" nodad
ip -n remote link set "$ksft_b" up
if ! wait_link "$ksft_a" 30 || ! wait_link "$ksft_b" 30 remote; then
    result selftests-setup fail "no link on $ksft_a or $ksft_b: $(ip -o link show dev "$ksft_a")"
    exit 1
fi
if ! ping -c 1 -W 5 $ksft_v4_prefix.2 >/dev/null 2>&1 && ! ping -c 3 -W 5 $ksft_v4_prefix.2 >/dev/null 2>&1; then
    result selftests-setup fail "the endpoint does not answer ping over $ksft_a"
    exit 1
fi
# What the tests assume of a NIC under test, done the same way on every NIC:
# - toeplitz.py hashes UDP over the 4-tuple; igb hashes UDP ports only when asked
#   (MRQC's UDP fields), as the hardware does: ask, where the driver lets us.
# - toeplitz.py's rss_/rps_ cases need each queue's interrupt on a single CPU.
# - toeplitz.py and xdp_metadata.py read the NIC's receive hash, which virtio_net leaves
#   off by default (NETIF_F_RXHASH only in hw_features): the kernel would otherwise hash
#   in software, and an XDP program's bpf_xdp_metadata_rx_hash() answers ENODATA.
for proto in udp4 udp6; do
    ethtool -N "$ksft_a" rx-flow-hash "$proto" sdfn 2>/dev/null
done
ethtool -K "$ksft_a" rxhash on 2>/dev/null
# pin_irqs: each of NIC A's MSI-X vectors on one CPU, round robin. Before every
# program: a test that changes channels or resets the device gets new vectors.
pin_irqs() {
    _cpus=$(nproc)
    _i=0
    # The PCI function's vectors (a virtio-net's netdev hangs off the virtio device).
    _pci=$(readlink -f "/sys/class/net/$ksft_a/device")
    [ -d "$_pci/msi_irqs" ] || _pci=$(dirname "$_pci")
    for _irq in $(ls "$_pci/msi_irqs" 2>/dev/null); do
        echo $((_i % _cpus)) >"/proc/irq/$_irq/smp_affinity_list" 2>/dev/null
        _i=$((_i + 1))
    done
}
pin_irqs
result selftests-setup pass "NETIF=$ksft_a ($(nic_driver "$ksft_a")), endpoint $ksft_b in netns remote; $(head -n 1 "$TUNIC_KSFT/tunic-source.txt")"

export NETIF="$ksft_a" LOCAL_V4=$ksft_v4_prefix.1 REMOTE_V4=$ksft_v4_prefix.2
export LOCAL_V6=2001:db8:1::1 REMOTE_V6=2001:db8:1::2
export REMOTE_TYPE=netns REMOTE_ARGS=remote
# nic_stats PHASE TEST: every counter of both NICs' drivers, one line each.
nic_stats() {
    {
        ethtool -S "$ksft_a" 2>/dev/null | sed 's/^/A /'
        for _f in /sys/class/net/"$ksft_a"/statistics/*; do
            echo "A netdev_${_f##*/}: $(cat "$_f" 2>/dev/null)"
        done
        ip netns exec remote sh -c '
            ethtool -S "$1" 2>/dev/null | sed "s/^/B /"
            for f in /sys/class/net/"$1"/statistics/*; do
                echo "B netdev_${f##*/}: $(cat "$f" 2>/dev/null)"
            done' - "$ksft_b"
    } | awk -v phase="$1" -v t="$2" '
        $2 ~ /:$/ && $3 ~ /^[0-9]+$/ { sub(/:$/, "", $2); print "TUNIC-NICSTATS", phase, t, $1, $2, $3 }'
}
cd "$TUNIC_KSFT" || exit 1
for t in $TUNIC_KSFT_TESTS; do
    pin_irqs
    nic_stats before "$t"
    echo "TUNIC-KSFT-BEGIN $t"
    started=$(cut -d' ' -f1 /proc/uptime)
    # The runner's own output is the record: its TAP lines and each program's KTAP.
    ./run_kselftest.sh -o "$TUNIC_KSFT_TIMEOUT" -t "$t" </dev/null 2>&1 | sed 's/^/TUNIC-KSFT /'
    ended=$(cut -d' ' -f1 /proc/uptime)
    echo "TUNIC-KSFT-END $t $(awk "BEGIN { print $ended - $started }")"
    nic_stats after "$t"
    # A test that left a NIC down or without its addresses must not fail the next ones.
    ip link set "$ksft_a" up 2>/dev/null
    ip -n remote link set "$ksft_b" up 2>/dev/null
    ip addr replace $ksft_v4_prefix.1/24 dev "$ksft_a" 2>/dev/null
    ip -6 addr replace 2001:db8:1::1/64 dev "$ksft_a" nodad 2>/dev/null
    ip -n remote addr replace $ksft_v4_prefix.2/24 dev "$ksft_b" 2>/dev/null
    ip -n remote -6 addr replace 2001:db8:1::2/64 dev "$ksft_b" nodad 2>/dev/null
done
dmesg | sed 's/^/TUNIC-DMESG /'
