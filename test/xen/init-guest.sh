#!/bin/sh
# The PV test guest's /init (busybox sh). It reports on its console (hvc0, which xenconsoled logs
# in dom0 as guest-NAME.log) every PCI device it sees, each time the set changes, so the host can
# check that a hot-plug reached the guest:
#   xenvm-guest: ready
#   xenvm-guest: pci-begin N            (N counts the reports)
#   xenvm-guest: pci 0000:00:00.0 8086:100e class=0x020000 driver=e1000
#   xenvm-guest: pci-end N count=C
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# pcifront connects to pciback once it is loaded; e1000 then binds what pcifront exposes.
modprobe xen-pcifront
modprobe e1000
echo "xenvm-guest: ready"

snapshot() {
  for d in /sys/bus/pci/devices/*; do
    # A device being hot-unplugged can vanish between two reads: skip it rather than report
    # half a device (seen as "0000:00:00.0 : class= driver=none" during pci-detach).
    v=$(cat "$d/vendor" 2>/dev/null) && p=$(cat "$d/device" 2>/dev/null) && c=$(cat "$d/class" 2>/dev/null) || continue
    [ -n "$v" ] && [ -n "$p" ] && [ -n "$c" ] || continue
    drv=none
    [ -e "$d/driver" ] && drv=$(basename "$(readlink "$d/driver")")
    echo "$(basename "$d") ${v#0x}:${p#0x} class=$c driver=$drv"
  done
}

n=0
last=unset
while :; do
  now=$(snapshot)
  if [ "$now" != "$last" ]; then
    n=$((n + 1))
    echo "xenvm-guest: pci-begin $n"
    count=0
    if [ -n "$now" ]; then
      echo "$now" | while IFS= read -r line; do echo "xenvm-guest: pci $line"; done
      count=$(echo "$now" | wc -l)
    fi
    echo "xenvm-guest: pci-end $n count=$count"
    last=$now
  fi
  usleep 300000
done
