# testpmd helpers shared by the DPDK suite and the DPDK benchmark: the PCI function of
# a netdev, binding it to uio_pci_generic, and testpmd as a session.

# pci_function IFACE: the PCI address behind a netdev (for virtio-net, the parent of
# the virtio device).
pci_function() {
    _dev=$(readlink -f /sys/class/net/$1/device)
    [ "$(basename "$(readlink $_dev/subsystem)")" = virtio ] && _dev=$(dirname $_dev)
    basename $_dev
}

# bind_uio BDF: hands the function to uio_pci_generic; prints the driver it ended on.
bind_uio() {
    echo uio_pci_generic >/sys/bus/pci/devices/$1/driver_override
    echo $1 >/sys/bus/pci/devices/$1/driver/unbind
    echo $1 >/sys/bus/pci/drivers_probe
    basename "$(readlink /sys/bus/pci/devices/$1/driver)"
}

# tp_launch ARGS...: testpmd in interactive mode, commands in through a FIFO, output
# (unbuffered) to /tmp/tp.log. tp CMD... sends one command.
tp_launch() {
    mkfifo /tmp/tp.in
    stdbuf -o0 -e0 dpdk-testpmd "$@" </tmp/tp.in >/tmp/tp.log 2>&1 &
    TP_PID=$!
    exec 3>/tmp/tp.in
}
tp() { echo "$*" >&3; }
tp_count() { grep -c "$1" /tmp/tp.log 2>/dev/null; }
tp_wait() { # tp_wait PATTERN COUNT SECONDS: until PATTERN was printed COUNT times
    _n=$(($3 * 10))
    while [ $_n -gt 0 ]; do
        [ "$(tp_count "$1")" -ge "$2" ] && return 0
        kill -0 $TP_PID 2>/dev/null || return 1
        sleep 0.1; _n=$((_n - 1))
    done
    return 1
}
# tp_stats [PORT]: RX-packets RX-errors TX-packets TX-errors RX-missed of a port, now.
# It waits for the block its own command prints (counted in the log, so that it also
# works in a command substitution's subshell).
tp_stats() {
    _p=${1:-0}
    _blocks=$(tp_count "NIC statistics for port $_p ")
    tp show port stats $_p
    tp_wait "NIC statistics for port $_p " $((_blocks + 1)) 30 || { echo "0 0 0 0 0"; return; }
    sleep 0.3
    awk -v p="NIC statistics for port $_p " 'index($0, p) { rp = re = tp = te = rm = ""; on = 1; next }
        /NIC statistics for port/ { on = 0 }
        on && /RX-packets:/ { rp = $2; rm = $4 } on && /RX-errors:/ { re = $2 } on && /TX-packets:/ { tp = $2; te = $4 }
        END { print rp, re, tp, te, rm }' /tmp/tp.log
}
