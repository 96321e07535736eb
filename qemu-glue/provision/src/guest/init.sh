#!/bin/sh
# /init of tunic's guest: mount the pseudo filesystems, load the modules,
# run /tunic/script.sh with /tunic/lib.sh sourced, report, power off.
# Everything goes to the serial console; the host parses the TUNIC-* lines.
export PATH=/usr/sbin:/usr/bin
export HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# What udev would add: kselftest's runner writes to /dev/stdout, bash to /dev/fd/N.
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=755 tmpfs /run
# Keep kernel messages off the console so they cannot split result lines.
dmesg -n 1
echo "TUNIC-BOOTED $(cut -d' ' -f1 /proc/uptime) $(uname -r)"

ip link set lo up
while read -r m; do
    [ -n "$m" ] || continue
    # NAME?: a module not every kernel has.
    case "$m" in *"?") modprobe -q "${m%?}" 2>/dev/null; continue ;; esac
    if ! modprobe "$m"; then
        echo "TUNIC-WARN modprobe $m failed"
    fi
done </etc/tunic/modules

# The full Debian guest (tunic.root=DEV): mount its image, give it the pseudo
# filesystems and /tunic, and run the script chrooted into it.
run_root=""
mounts=""
for arg in $(cat /proc/cmdline); do
    case "$arg" in
        tunic.root=*) run_root=${arg#tunic.root=} ;;
        # tunic.mount=DEV:PATH: another ext4 image, mounted at PATH inside the root.
        tunic.mount=*) mounts="$mounts ${arg#tunic.mount=}" ;;
    esac
done
if [ -n "$run_root" ]; then
    mkdir -p /newroot
    # The disk's node appears once virtio_blk has probed it.
    n=100
    while [ ! -b "$run_root" ] && [ $n -gt 0 ]; do usleep 100000; n=$((n - 1)); done
    if mount -t ext4 "$run_root" /newroot; then
        # DPDK's 2 MiB pages.
        mkdir -p /dev/hugepages && mount -t hugetlbfs nodev /dev/hugepages
        for d in proc sys dev dev/pts dev/shm dev/hugepages run tunic; do
            mkdir -p /newroot/$d && mount --bind /$d /newroot/$d
        done
        # The image has no kernel: its modprobe finds the initramfs's modules.
        mkdir -p /newroot/usr/lib/modules && mount --bind /usr/lib/modules /newroot/usr/lib/modules
        for m in $mounts; do
            dev=${m%%:*}
            n=100
            while [ ! -b "$dev" ] && [ $n -gt 0 ]; do usleep 100000; n=$((n - 1)); done
            mkdir -p "/newroot${m#*:}"
            mount -t ext4 "$dev" "/newroot${m#*:}" || echo "TUNIC-WARN cannot mount $dev at ${m#*:}"
            # A disk that carries this kernel's whole module tree (the selftests'):
            # the root gets it, and the kernel's on-demand loading (request_module,
            # which runs modprobe outside the chroot) uses the root's kmod on it.
            tree="/newroot${m#*:}/modules/$(uname -r)"
            if [ -f "$tree/modules.dep" ]; then
                mount --bind "$tree" "/newroot/usr/lib/modules/$(uname -r)"
                printf '#!/bin/sh\nexec chroot /newroot /usr/sbin/modprobe "$@"\n' >/tunic-modprobe
                chmod 755 /tunic-modprobe
                echo /tunic-modprobe >/proc/sys/kernel/modprobe
            fi
        done
        chroot /newroot /bin/sh -c '. /tunic/lib.sh && . /tunic/script.sh'
    else
        echo "TUNIC-WARN cannot mount the full guest image $run_root: $(ls -l $run_root 2>&1) $(grep ext4 /proc/filesystems | tr '\n\t' '  ') $(dmesg | tail -n 5 | tr '\n' ' ')"
        false
    fi
else
    # A child shell (dash), so that `exit` in the script cannot end init (which would
    # panic the kernel).
    /bin/sh -c '. /tunic/lib.sh && . /tunic/script.sh'
fi
echo "TUNIC-SCRIPT-EXIT $?"
echo "TUNIC-DONE"
sync
poweroff -f
sleep 60
