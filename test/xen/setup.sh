#!/bin/bash
# Installs the Debian packages the real-Xen suite (test/xen/) needs, on a Debian 12 machine
# (.ci/install runs it). Everything the VM runs is taken from these packages: no network is
# needed afterwards. Installs only what is missing (no apt-get update when nothing is).
#   xen-hypervisor-4.17-amd64  the hypervisor QEMU boots (/boot/xen-4.17-amd64.gz)
#   xen-utils-4.17             xl, xenstored, oxenstored, xenconsoled, libxenctrl... copied into dom0
#   linux-image-amd64          the dom0 and domU kernel, and its modules (xen-pciback, 9p, e1000...)
#   qemu-system-x86            the emulator that runs Xen (TCG)
#   qemu-system-xen            the device model for HVM guests inside dom0
#   busybox-static             dom0's and the guest's userland
#   cpio, kmod, pciutils, pci.ids, xenstore-utils
#                              building the initramfs (cpio, depmod/modprobe --show-depends), lspci in dom0
set -euo pipefail
if [ "$(id -u)" != 0 ]; then
  echo "setup.sh: must run as root (apt-get install)" >&2
  exit 1
fi
PACKAGES=(xen-hypervisor-4.17-amd64 xen-utils-4.17 linux-image-amd64
  qemu-system-x86 qemu-system-xen busybox-static
  cpio kmod pciutils pci.ids xenstore-utils)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ "${#missing[@]}" -eq 0 ] && exit 0
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q "${missing[@]}"
