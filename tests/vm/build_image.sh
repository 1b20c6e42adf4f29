#!/bin/sh
# Build (once) the Debian 12 VM the systemd test boots, as reference/reliability.md measured it:
# a kernel from the linux-image .deb, a busybox initramfs that loads the virtio and ext4 modules
# and switch_roots into /dev/vda, and a minbase debootstrap root with systemd, the libraries
# driftd's package depends on, and a oneshot unit that runs the test from a second disk and
# writes its results to the second serial port. Idempotent: an existing complete image is kept.
#   usage: build_image.sh CACHE_DIR
# Needs root, debootstrap, busybox-static, e2fsprogs, apt (deb.debian.org reachable).
set -eu
cache=$1
stamp="$cache/image.stamp"
version=3 # bump when the recipe changes
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$version" ]; then
	exit 0
fi
mkdir -p "$cache"
work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

# Kernel and modules, from the package Debian's linux-image-amd64 points at today.
kernel_pkg() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -1
}
kpkg=$(kernel_pkg)
if [ -z "$kpkg" ]; then
	apt-get update -qq # package lists removed since install-deps.sh ran
	kpkg=$(kernel_pkg)
fi
[ -n "$kpkg" ] || { echo "build_image: no linux-image package found (apt-get update?)" >&2; exit 1; }
mkdir -p "$work/dl" "$work/kernel"
chmod 777 "$work/dl"
(cd "$work/dl" && apt-get download -q "$kpkg" >/dev/null 2>&1) || (cd "$work/dl" && apt-get download "$kpkg")
dpkg-deb -x "$work"/dl/linux-image-*.deb "$work/kernel"
kver=$(ls "$work/kernel/lib/modules" | head -1)
cp "$work/kernel/boot/vmlinuz-$kver" "$cache/vmlinuz"

# initramfs: busybox, the modules virtio disks, virtio-net and ext4 need (with their
# dependencies, in load order), and an init that mounts /dev/vda.
ird="$work/initrd"
mkdir -p "$ird/bin" "$ird/proc" "$ird/sys" "$ird/dev" "$ird/newroot" "$ird/modules"
cp /bin/busybox "$ird/bin/busybox"
python3 - "$work/kernel/lib/modules/$kver" "$ird/modules" <<'PY'
# The .deb has no modules.dep (depmod runs at install): dependencies come from each module's
# own .modinfo "depends=" entry.
import os, re, subprocess, sys
root, dst = sys.argv[1], sys.argv[2]
def read(path):
    if path.endswith(".xz"):
        return subprocess.run(["xz", "-dc", path], check=True, capture_output=True).stdout
    if path.endswith(".zst"):
        return subprocess.run(["zstd", "-dc", path], check=True, capture_output=True).stdout
    return open(path, "rb").read()
paths = {}
for d, _, files in os.walk(os.path.join(root, "kernel")):
    for f in files:
        if ".ko" in f:
            paths[f.split(".ko")[0].replace("-", "_")] = os.path.join(d, f)
want = ["virtio_pci", "virtio_blk", "virtio_net", "ext4", "crc32c_generic"]
order, data = [], {}
def visit(name):
    if name in order or name not in paths:
        return
    blob = data.setdefault(name, read(paths[name]))
    m = re.search(rb"depends=([^\x00]*)\x00", blob)
    for dep in (m.group(1).decode().split(",") if m and m.group(1) else []):
        visit(dep.replace("-", "_"))
    order.append(name)
for w in want:
    visit(w)
with open(os.path.join(dst, "order"), "w") as f:
    for i, name in enumerate(order):
        fn = f"{i:02d}-{name}.ko"
        open(os.path.join(dst, fn), "wb").write(data[name])
        f.write(fn + "\n")
print("initrd modules:", " ".join(order), file=sys.stderr)
PY
cat >"$ird/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /modules/order); do insmod /modules/$m 2>/dev/null; done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
mount -t ext4 -o rw /dev/vda /newroot || { echo "initrd: cannot mount /dev/vda"; sleep 5; poweroff -f; }
umount /proc /sys
umount /dev 2>/dev/null
exec switch_root /newroot /sbin/init
INIT
chmod +x "$ird/init"
(cd "$ird" && find . | cpio -o -H newc --quiet | gzip -1) >"$cache/initrd.img"

# Root: minbase + systemd + what driftd's package depends on + iproute2 (no udev in
# minbase: the test sets the address itself) + procps (the unit's ExecReload uses kill).
root="$work/root"
debootstrap --variant=minbase \
	--include=systemd,systemd-sysv,dbus,procps,iproute2,libjansson4,libyaml-0-2,libgsl27,libsimdjson14,librdkafka1,libcurl4,libssl3 \
	bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
	tail -30 "$work/debootstrap.log" >&2
	exit 1
}
echo driftd-vm >"$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 driftd-vm\n' >"$root/etc/hosts"
: >"$root/etc/machine-id"
# No udev in minbase: gettys would wait 90 s for their devices.
for u in getty@tty1.service serial-getty@ttyS0.service serial-getty@ttyS1.service \
	console-getty.service getty.target systemd-timesyncd.service apt-daily.timer \
	apt-daily-upgrade.timer; do
	ln -sf /dev/null "$root/etc/systemd/system/$u"
done
cat >"$root/etc/systemd/system/driftd-vmtest.service" <<'UNIT'
[Unit]
Description=driftd VM test (tests/vm)
After=multi-user.target

[Service]
Type=oneshot
TimeoutStartSec=0
ExecStart=/bin/sh -c 'mkdir -p /mnt/t && mount -o ro /dev/vdb /mnt/t && /bin/bash /mnt/t/guest.sh >/dev/ttyS1 2>&1; systemctl poweroff --no-block'

[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/driftd-vmtest.service \
	"$root/etc/systemd/system/multi-user.target.wants/driftd-vmtest.service"
rm -rf "$root/var/cache/apt/archives"/*.deb "$root/var/lib/apt/lists"/*_Packages
mkfs.ext4 -q -F -L root -d "$root" "$cache/root.img" 1G
echo "$version" >"$stamp"
echo "build_image: $cache (kernel $kver)" >&2
