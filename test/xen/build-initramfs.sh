#!/bin/bash
# Builds the images the real-Xen VM boots, from this machine's own Debian packages:
#   OUT/xen            the hypervisor, uncompressed (QEMU's multiboot -kernel needs the ELF32, not the .gz)
#   OUT/vmlinuz        the dom0 kernel
#   OUT/dom0.cpio.gz   dom0's initramfs: busybox, bash, the Xen tools and libraries, node, the modules,
#                      test/xen/init-dom0.sh as /init, and /guest (the PV guest's kernel + initramfs)
#   OUT/build-info     what was built from (kernel and Xen versions, node)
# Versions are discovered, never hard-coded: Debian moves linux-image-amd64 and Xen's point release.
# Usage: build-initramfs.sh OUT      (does nothing when OUT is up to date; FORCE=1 rebuilds)
# Env: KVER=<version> picks a kernel when several are installed; XENVM_WITH_QEMU=0 leaves out
#      qemu-xen (HVM guests need it; +26 MB; the suite always has it).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:?usage: build-initramfs.sh OUT}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WITH_QEMU=${XENVM_WITH_QEMU:-1}

die() { echo "build-initramfs: $*" >&2; exit 1; }

# The newest kernel that has both an image and modules.
if [ -z "${KVER:-}" ]; then
  KVER=$(for d in /lib/modules/*/; do k=$(basename "$d"); [ -e "/boot/vmlinuz-$k" ] && echo "$k"; done | sort -V | tail -n1)
fi
[ -n "$KVER" ] && [ -e "/boot/vmlinuz-$KVER" ] || die "no kernel in /boot with modules (install linux-image-amd64; see test/xen/setup.sh)"

XENGZ=$(ls /boot/xen-*-amd64.gz 2>/dev/null | sort -V | tail -n1 || true)
[ -n "$XENGZ" ] || die "no /boot/xen-*-amd64.gz (install xen-hypervisor-4.17-amd64; see test/xen/setup.sh)"
XENVER=$(basename "$XENGZ" | sed -E 's/^xen-([0-9.]+)-amd64\.gz$/\1/')
XENLIB=/usr/lib/xen-$XENVER
[ -x "$XENLIB/bin/xl" ] || die "no $XENLIB/bin/xl (install xen-utils-$XENVER)"
NODE=$(readlink -f "$(command -v node)") || die "no node on PATH"
BUSYBOX=$(command -v busybox) || die "no busybox (install busybox-static)"

# Rebuild only when an input changed: the scripts, the kernel, Xen, node, the options.
STAMP=$( {
  cat "$HERE/build-initramfs.sh" "$HERE/init-dom0.sh" "$HERE/init-guest.sh"
  echo "$KVER $WITH_QEMU"; stat -c '%n %s %Y' "$XENGZ" "/boot/vmlinuz-$KVER" "$NODE" "$XENLIB/bin/xl"
} | sha256sum | cut -c1-16)
if [ "${FORCE:-0}" != 1 ] && [ -s "$OUT/dom0.cpio.gz" ] && [ -s "$OUT/xen" ] && \
   grep -qx "stamp=$STAMP" "$OUT/build-info" 2>/dev/null; then
  echo "build-initramfs: $OUT is up to date (kernel $KVER, Xen $XENVER)"
  exit 0
fi

# ---- helpers -------------------------------------------------------------------------------
# copy_path ROOT PATH: copies PATH into ROOT under its canonical name; when PATH itself is a
# symlink (or goes through one), the same name is recreated in ROOT as a symlink to it.
copy_path() {
  local root=$1 src=$2 real
  real=$(readlink -f "$src")
  [ -e "$real" ] || die "missing $src"
  if [ ! -e "$root$real" ]; then
    mkdir -p "$root$(dirname "$real")"
    cp -a "$real" "$root$real"
  fi
  if [ "$src" != "$real" ] && [ ! -e "$root$src" ] && [ ! -L "$root$src" ]; then
    mkdir -p "$root$(dirname "$src")"
    ln -s "$real" "$root$src"
  fi
}

# copy_elf ROOT FILE...: the files and every shared library ldd reports for them.
copy_elf() {
  local root=$1; shift
  local f lib
  for f in "$@"; do
    copy_path "$root" "$f"
    # Scripts and static binaries make ldd fail; they have no libraries to copy.
    for lib in $(ldd "$f" 2>/dev/null | grep -oE '/[^ ]+' || true); do
      copy_path "$root" "$lib"
    done
  done
}

# merged_usr ROOT: /bin, /sbin, /lib, /lib64 as links into /usr, as on the host. libxl and koffi
# open libraries under both /lib/x86_64-linux-gnu and /usr/lib/x86_64-linux-gnu; without the merged
# layout koffi fails with "Failed to load shared library" (found while writing the reference).
merged_usr() {
  local root=$1 d
  mkdir -p "$root"/usr/{bin,sbin,lib,lib64}
  for d in bin sbin lib lib64; do ln -s "usr/$d" "$root/$d"; done
  mkdir -p "$root"/{proc,sys,dev,run,tmp,root,mnt,etc,var/log,var/lib,var/run}
}

# busybox_links ROOT: busybox plus one symlink per applet, never over a real program (bash, xl...).
busybox_links() {
  local root=$1 a
  cp "$BUSYBOX" "$root/usr/bin/busybox"
  for a in $("$BUSYBOX" --list); do
    [ -e "$root/usr/bin/$a" ] || [ -L "$root/usr/bin/$a" ] || ln -s busybox "$root/usr/bin/$a"
  done
}

# copy_modules ROOT MODULE...: the modules with their dependencies, then depmod for busybox modprobe.
copy_modules() {
  local root=$1; shift
  local m ko
  for m in "$@"; do
    for ko in $(modprobe -S "$KVER" --show-depends "$m" | awk '$1 == "insmod" { print $2 }'); do
      copy_path "$root" "$ko"
    done
  done
  cp /lib/modules/"$KVER"/modules.{order,builtin,builtin.modinfo} "$root/usr/lib/modules/$KVER/" 2>/dev/null || true
  depmod -b "$root" "$KVER"
}

WORKROOT=$(mktemp -d "$OUT/build.XXXXXX")
trap 'rm -rf "$WORKROOT"' EXIT

# ---- the PV guest: busybox + pcifront + e1000, its init reports the PCI devices it sees ------
G=$WORKROOT/guest
merged_usr "$G"
busybox_links "$G"
copy_modules "$G" xen-pcifront e1000
cp "$HERE/init-guest.sh" "$G/init"
chmod 755 "$G/init"
(cd "$G" && find . | cpio -o -H newc --quiet | gzip -1 > "$WORKROOT/domU.cpio.gz")

# ---- dom0 ----------------------------------------------------------------------------------
R=$WORKROOT/dom0
merged_usr "$R"
copy_elf "$R" "$BUSYBOX"
busybox_links "$R"
# bash: the hotplug scripts in /etc/xen/scripts are bash scripts.
copy_elf "$R" /bin/bash
# Every Xen tool (pygrub and the python library excepted: no python in dom0).
for f in "$XENLIB"/bin/* "$XENLIB"/boot/*; do
  [ "$(basename "$f")" = pygrub ] && continue
  copy_elf "$R" "$f"
done
while IFS= read -r f; do copy_elf "$R" "$f"; done < <(find "$XENLIB/lib" -path '*/python*' -prune -o \( -type f -o -type l \) -print 2>/dev/null)
# The /usr/bin and /usr/sbin names are Debian's version-selecting wrapper (a shell script that asks
# dpkg); point them straight at this Xen's binaries instead.
for f in "$XENLIB"/bin/*; do
  n=$(basename "$f")
  [ -e "$R/usr/sbin/$n" ] || ln -s "$XENLIB/bin/$n" "$R/usr/sbin/$n"
done
for f in /usr/bin/xenstore*; do
  n=$(basename "$f")
  # xenstore-read, -ls... are hard links of one multi-call binary.
  if [ "$f" -ef /usr/bin/xenstore ]; then
    copy_elf "$R" "$f"
  elif [ -e "$XENLIB/bin/$n" ] && [ ! -e "$R/usr/bin/$n" ]; then
    ln -s "$XENLIB/bin/$n" "$R/usr/bin/$n"
  fi
done
cp -a /etc/xen "$R/etc/"
# node (host's binary; the project runs from the read-only 9p share). libdl and libpthread are
# glibc stubs that node dlopens indirectly; without them it fails with "libdl.so.2: cannot open".
copy_elf "$R" "$NODE"
[ "$NODE" = /usr/bin/node ] || ln -sf "$NODE" "$R/usr/bin/node"
for lib in libdl.so.2 libpthread.so.0 libstdc++.so.6 libgcc_s.so.1 libnss_files.so.2; do
  [ -e "/lib/x86_64-linux-gnu/$lib" ] && copy_path "$R" "/lib/x86_64-linux-gnu/$lib"
done
# lspci and its names, for humans reading transcripts.
if command -v lspci >/dev/null; then copy_elf "$R" "$(command -v lspci)"; fi
[ -e /usr/share/misc/pci.ids ] && copy_path "$R" /usr/share/misc/pci.ids
if [ "$WITH_QEMU" = 1 ]; then
  [ -x /usr/libexec/xen-qemu-system-i386 ] || die "no /usr/libexec/xen-qemu-system-i386 (install qemu-system-xen)"
  copy_elf "$R" /usr/libexec/xen-qemu-system-i386
  for d in /usr/share/qemu /usr/share/seabios /usr/share/ipxe /usr/lib/ipxe/qemu; do
    [ -e "$d" ] && copy_path "$R" "$d"
  done
fi
# e1000 is copied but not loaded at boot: dom0 leaves the spare devices unbound unless a scenario
# binds one (to see xl and xentool restore the original driver).
copy_modules "$R" xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs xen-pciback e1000 \
  xen-blkback xen-netback virtio_pci 9pnet_virtio 9p
cat > "$R/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
EOF
cat > "$R/etc/group" <<'EOF'
root:x:0:
EOF
echo 'hosts: files' > "$R/etc/nsswitch.conf"
cat > "$R/etc/xenvm-build" <<EOF
XENVM_KVER=$KVER
XENVM_XENVER=$XENVER
XENVM_XENLIB=$XENLIB
EOF
mkdir -p "$R/guest"
cp "/boot/vmlinuz-$KVER" "$R/guest/vmlinuz"
cp "$WORKROOT/domU.cpio.gz" "$R/guest/domU.cpio.gz"
cp "$HERE/init-dom0.sh" "$R/init"
chmod 755 "$R/init"

(cd "$R" && find . | cpio -o -H newc --quiet | gzip -1 > "$WORKROOT/dom0.cpio.gz")
zcat "$XENGZ" > "$WORKROOT/xen"
cp "/boot/vmlinuz-$KVER" "$WORKROOT/vmlinuz"
mv "$WORKROOT/xen" "$WORKROOT/vmlinuz" "$WORKROOT/dom0.cpio.gz" "$WORKROOT/domU.cpio.gz" "$OUT/"
cat > "$OUT/build-info" <<EOF
stamp=$STAMP
kernel=$KVER
xen=$XENVER
xen_image=$XENGZ
node=$NODE $("$NODE" --version)
dom0_initramfs_bytes=$(stat -c %s "$OUT/dom0.cpio.gz")
EOF
echo "build-initramfs: built $OUT (kernel $KVER, Xen $XENVER, dom0.cpio.gz $(du -h "$OUT/dom0.cpio.gz" | cut -f1))"
