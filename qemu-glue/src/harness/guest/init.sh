#!/bin/sh
# /init of tunic's guest: mount the pseudo filesystems, load the modules,
# run /tunic/script.sh with /tunic/lib.sh sourced, report, power off.
# Everything goes to the serial console; the host parses the TUNIC-* lines.
export PATH=/usr/sbin:/usr/bin
export HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
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
    if ! modprobe "$m"; then
        echo "TUNIC-WARN modprobe $m failed"
    fi
done </etc/tunic/modules

# A child shell (dash), so that `exit` in the script cannot end init (which would
# panic the kernel).
/bin/sh -c '. /tunic/lib.sh && . /tunic/script.sh'
echo "TUNIC-SCRIPT-EXIT $?"
echo "TUNIC-DONE"
sync
poweroff -f
sleep 60
