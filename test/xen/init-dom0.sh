#!/bin/sh
# dom0's /init (busybox sh): brings up the Xen userland, then serves commands from the host.
#
# The agent protocol, over the 9p share "host0" mounted at /mnt/host:
#   the host writes q/ID.sh (atomically: it writes q/ID.tmp and renames it);
#   the agent claims it by renaming it to q/ID.run, runs it with sh in /root, writes q/ID.out and
#   q/ID.err, then q/ID.rc (written as ID.rc.tmp then renamed, so a visible ID.rc is complete).
#   Commands run concurrently, each in its own session. A first line "# timeout=N" kills the
#   script's whole process group after N seconds (rc 137).
#   The file POWEROFF at the top of the share powers the machine off.
# Kernel arguments: xenvm.xenstored=oxenstored picks the OCaml xenstored (default: the C one).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
. /etc/xenvm-build
export PATH=$XENVM_XENLIB/bin:$PATH

log() { echo "xenvm-init: $*" > /dev/console; }

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mkdir -p /var/run/xen /var/run/xenstored /var/lib/xenstored /var/lib/xen /var/log/xen /run/lock

XENSTORED=xenstored
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    xenvm.xenstored=*) XENSTORED=${arg#xenvm.xenstored=} ;;
  esac
done

for m in xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs xen-pciback xen-blkback xen-netback \
         virtio_pci 9pnet_virtio 9p; do
  modprobe "$m" || log "modprobe $m failed"
done
mount -t xenfs xenfs /proc/xen || log "mount xenfs failed"

# The share first: xenconsoled logs the guests' consoles straight into it, so the host can read
# them (and keeps them when the VM dies).
mkdir -p /mnt/host /mnt/proj
if ! mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 host0 /mnt/host; then
  log "FATAL: cannot mount the 9p share host0"
  exec sh
fi
# The project tree, read-only; absent when the VM was booted without one.
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,ro proj /mnt/proj 2>/dev/null || true
mkdir -p /mnt/host/consoles /mnt/host/q /var/log/xen
ln -s /mnt/host/consoles /var/log/xen/console

log "starting $XENSTORED"
case "$XENSTORED" in
  oxenstored) oxenstored --pid-file /var/run/xenstored.pid ;;
  *) xenstored --pid-file /var/run/xenstored.pid ;;
esac
i=0
until xenstore-read / >/dev/null 2>&1 || xenstore-exists / >/dev/null 2>&1; do
  i=$((i + 1))
  if [ "$i" -gt 100 ]; then log "FATAL: xenstored does not answer"; break; fi
  usleep 100000
done
xen-init-dom0 || log "xen-init-dom0 failed"
xenconsoled --pid-file=/var/run/xenconsoled.pid --log=guest --log-dir=/var/log/xen/console \
  || log "xenconsoled failed"

echo "uptime=$(cut -d' ' -f1 /proc/uptime) xenstored=$XENSTORED kernel=$XENVM_KVER xen=$XENVM_XENVER" \
  > /mnt/host/ready.tmp
mv /mnt/host/ready.tmp /mnt/host/ready
log "agent ready"

# One command at a time would let a hung command (a process that never exits) block the VM for
# good, with no way left to look at it; so each command runs in the background, in its own
# session, and a timeout kills its whole process group (busybox timeout kills only its direct
# child: the pipeline behind it lived on).
run_one() {
  id=$1
  t=$(sed -n '1s/^# timeout=\([0-9][0-9]*\).*/\1/p' "$id.run")
  # The script runs from the share, so a crashed agent leaves the evidence behind.
  (cd /root && exec setsid sh "/mnt/host/q/$id.run" > "/mnt/host/q/$id.out" 2> "/mnt/host/q/$id.err" < /dev/null) &
  pid=$!
  w=
  if [ -n "$t" ]; then
    (sleep "$t"; kill -KILL -"$pid" 2>/dev/null; kill -KILL "$pid" 2>/dev/null) &
    w=$!
  fi
  wait "$pid"
  rc=$?
  [ -n "$w" ] && kill "$w" 2>/dev/null
  echo "$rc" > "$id.rc.tmp"
  mv "$id.rc.tmp" "$id.rc"
}

cd /mnt/host/q || exec sh
while [ ! -e /mnt/host/POWEROFF ]; do
  for f in *.sh; do
    [ -e "$f" ] || continue
    id=${f%.sh}
    mv "$f" "$id.run" || continue
    run_one "$id" &
  done
  usleep 100000
done
log "powering off"
sync
poweroff -f
