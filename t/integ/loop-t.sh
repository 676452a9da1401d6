#!/bin/bash
# The loop backend on real loop devices, driven over the plugin socket
# with curl (no dockerd; t/e2e/loop-docker-t.sh has the container side):
# the helper's and the mkfs runner's privileges, the shared mount_dir,
# ext4/xfs images with their sizes (and the xfs minimum refused at
# Create), mounts counted per ID, writes until ENOSPC, EROFS from a
# directory of 1,000 files and from an image, paths with symlinks or ..
# refused, kill -9 and restart with a volume mounted, resize, on_remove
# delete and archive, and no loop device or mount of ours left at the end.
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir
. "$top_srcdir/t/lib/functions.sh"

requires_root
requires curl --version
requires jq --version
requires losetup --version
requires findmnt --version
requires mkfs.ext4 -V
requires mkfs.xfs -V
command -v mkfs.erofs >/dev/null || skip_all "requires mkfs.erofs (erofs-utils)"
[ -c /dev/loop-control ] || skip_all "requires /dev/loop-control"
for f in ext4 xfs erofs; do
	grep -qw $f /proc/filesystems || modprobe $f 2>/dev/null ||
	    skip_all "the kernel has no $f support"
done
id "$VW_TEST_USER" >/dev/null 2>&1 || skip_all "requires user $VW_TEST_USER"
CTL="$top_builddir/volwardenctl"

IMAGES="$TESTDIR/images"
MNT="$TESTDIR/mnt"
ARC="$TESTDIR/arc"
AMNT="$TESTDIR/amnt"
ALLOWED="$TESTDIR/allowed"
CONF="$TESTDIR/volwarden.json"
# Loop devices backed by this test's images, and its mounts.
our_loops() { losetup -a | grep -c -- "$TESTDIR/" ; }
loop_cleanup() {
	local m d
	for m in $(findmnt -rn -o TARGET | grep "^$TESTDIR/" | sort -r); do
		umount -l "$m"
	done
	for d in $(losetup -a | grep -- "$TESTDIR/" | cut -d: -f1); do
		losetup -d "$d"
	done
}
cleanup_fn loop_cleanup
LOOPS_BEFORE=$(losetup -a | wc -l)

mkdir -p "$ALLOWED/src" "$ALLOWED/other"
chmod 0755 "$TESTDIR" "$ALLOWED" "$ALLOWED/src" "$ALLOWED/other"
cat >"$CONF" <<EOF
{
  "user": "$VW_TEST_USER",
  "state_dir": "$TESTDIR/state",
  "run_dir": "$TESTDIR/run",
  "socket_dir": "$TESTDIR/sock",
  "admin_socket": "$VW_ADMIN",
  "drivers": [
    {"name": "vwl", "backend": "loop", "root": "$IMAGES", "mount_dir": "$MNT",
     "allowed_roots": ["$ALLOWED"], "on_remove": "delete", "default_size": "64M"},
    {"name": "vwla", "backend": "loop", "root": "$ARC", "mount_dir": "$AMNT",
     "on_remove": "archive", "fs": "xfs", "default_size": "300M"}
  ]
}
EOF
chmod 0644 "$CONF"

expect_ok() {
	if [ "$HTTP_CODE" = 200 ] && [ "$RESP" = "{}" ]; then pass "$1"
	else fail "$1"; diag "reply ($HTTP_CODE): $RESP"; fi
}
expect_err() {	# expect_err REGEX DESCRIPTION
	if [ -n "$ERR" ] && [[ $ERR =~ $1 ]]; then pass "$2"
	else fail "$2"; diag "reply ($HTTP_CODE): $RESP"; fi
}
field() {
	awk -v k="$2:" '$1 == k { $1 = ""; sub(/^ +/, ""); print; exit }' \
	    "/proc/$1/status" 2>/dev/null
}
# status VOLUME KEY: one fact from Get's Status (fresh: the second Get
# after a state change shows the helper's answer to the first).
status() {
	local i v
	for i in $(seq 1 50); do
		get "$1"
		v=$(json_get "$RESP" ".Volume.Status.$2 // empty")
		[ -n "$v" ] && { printf '%s' "$v"; return; }
		sleep 0.1
	done
}
is_mounted() { findmnt -rn "$1" >/dev/null 2>&1; }
# wait_gone DEV: the loop device is detached (autoclear may lag a moment).
loop_attached() { losetup -a | grep -q -- "$1"; }

VW_SOCK="$TESTDIR/sock/vwl.sock"
VW_CUSTOM=1 vw_start --config "$CONF" || bail_out "volwarden did not start with loop drivers"

# ------------------------------------------------------- privileges
H= R=
for p in $(vw_helper_pids); do
	tr '\0' ' ' <"/proc/$p/cmdline" | grep -q -- '--driver 0' && H=$p
done
R=$(cat "/proc/$H/task/$H/children" 2>/dev/null | awk '{print $1}')
# CHOWN 0, SYS_ADMIN 21.
is "$(field "$H" CapEff)" 0000000000200001 "loop helper: CapEff = CHOWN SYS_ADMIN"
is "$(field "$H" CapBnd)" 0000000000200001 "loop helper: CapBnd = CapEff"
like "$(tr '\0' ' ' <"/proc/$R/cmdline" 2>/dev/null)" "volwarden-mkfs-runner" \
    "the helper's child is the mkfs runner"
uid=$(id -u "$VW_TEST_USER"); gid=$(id -g "$VW_TEST_USER")
is "$(field "$R" Uid)" "$uid $uid $uid $uid" "mkfs runner: runs as $VW_TEST_USER"
is "$(field "$R" Gid)" "65534 $gid $gid $gid" \
    "mkfs runner: real gid 65534, so its mkfs children are not dumpable"
is "$(field "$R" CapEff)/$(field "$R" CapPrm)/$(field "$R" CapBnd)" \
    "0000000000000000/0000000000000000/0000000000000000" "mkfs runner: no capabilities, bounding set empty"
is "$(field "$R" NoNewPrivs)" 1 "mkfs runner: NoNewPrivs 1"
if grep -q '^#define VW_SANITIZERS' "$top_builddir/vw-build.h" 2>/dev/null; then
	is "$(field "$H" Seccomp)" 0 "loop helper: no seccomp filter (sanitizer build)"
	# The run's sanitizer settings reach the helper and the runner (they
	# get no other environment).
	for p in "loop helper:$H" "mkfs runner:$R"; do
		is "$(tr '\0' '\n' <"/proc/${p#*:}/environ" | grep '^UBSAN_OPTIONS=')" \
		    "${UBSAN_OPTIONS:+UBSAN_OPTIONS=$UBSAN_OPTIONS}" \
		    "${p%:*}: the run's UBSAN_OPTIONS (sanitizer build)"
	done
else
	is "$(field "$H" Seccomp)" 2 "loop helper: seccomp filter mode"
fi
is "$(findmnt -rn -o PROPAGATION "$MNT")" shared "mount_dir is a shared mount point"
is "$(stat -c '%a %U' "$MNT")" "700 root" "mount_dir: 0700 root"

# ---------------------------------------------------------- ext4, size
create e1 '{"size": "64M", "uid": "1000", "mode": "0750"}'
expect_ok "create ext4 e1 of 64 MiB"
is "$(stat -c '%s %a %U' "$IMAGES/e1.img" 2>&1)" "67108864 600 root" \
    "ROOT/e1.img: 64 MiB, 0600 root"
is "$(status e1 fs)/$(status e1 size_bytes)/$(status e1 mounted)" "ext4/67108864/false" \
    "Get's Status: fs, size_bytes, mounted"
is "$(status e1 image)" "$IMAGES/e1.img" "Get's Status: image"
vmount e1 id1
is "$(json_get "$RESP" .Mountpoint)" "$MNT/e1" "Mount returns MOUNT_DIR/e1"
is "$(findmnt -rn -o FSTYPE "$MNT/e1")" ext4 "e1 is mounted: ext4"
like "$(findmnt -rn -o OPTIONS "$MNT/e1")" "nosuid.*nodev|nodev.*nosuid" "mounted nosuid,nodev"
DEV=$(findmnt -rn -o SOURCE "$MNT/e1")
like "$DEV" "^/dev/loop[0-9]+$" "on a loop device ($DEV)"
like "$(losetup -l -n -O AUTOCLEAR,BACK-FILE "$DEV")" "^ *1 +$IMAGES/e1.img" "attached with autoclear"
is "$(stat -c '%a %u' "$MNT/e1")" "750 1000" "the top directory has mode 0750, owner 1000"
is "$(status e1 loop_device)" "$DEV" "Get's Status: loop_device"
out=$(dd if=/dev/zero of="$MNT/e1/fill" bs=1M 2>&1)
like "$out" "No space left on device" "writing stops with ENOSPC"
sz=$(stat -c %s "$MNT/e1/fill")
ok "$([ "$sz" -gt $((50 << 20)) ] && [ "$sz" -le $((64 << 20)) ]; echo $?)" \
    "the file filled the volume and no more ($sz bytes of 64 MiB)"
rm -f "$MNT/e1/fill"
vmount e1 id2
is "$(findmnt -rn "$MNT/e1" | wc -l)" 1 "a second mount ID mounts nothing more"
remove e1
expect_err "in use" "Remove of a mounted volume is refused"
vunmount e1 id1
ok "$(is_mounted "$MNT/e1"; echo $?)" "after one of two Unmounts it stays mounted"
vunmount e1 id2
ok "$(! is_mounted "$MNT/e1"; echo $?)" "the last Unmount unmounts"
sleep 0.2
ok "$(! loop_attached "$IMAGES/e1.img"; echo $?)" "... and the loop device is detached"
ok "$([ ! -e "$MNT/e1" ]; echo $?)" "... and the mount directory is gone"

# -------------------------------------------------------------- xfs
VW_SOCK="$TESTDIR/sock/vwla.sock"
create x0 '{"size": "299M"}'
expect_err "below the xfs minimum of 300 MiB" "xfs below 300 MiB is refused at Create, naming the minimum"
ok "$([ ! -e "$ARC/x0.img" ]; echo $?)" "... and leaves no image"
create x1
expect_ok "create xfs x1 with the driver's defaults (xfs, 300M)"
is "$(stat -c %s "$ARC/x1.img")" 314572800 "x1.img is 300 MiB"
vmount x1 a
is "$(findmnt -rn -o FSTYPE "$AMNT/x1")" xfs "x1 is mounted: xfs"
out=$(dd if=/dev/zero of="$AMNT/x1/fill" bs=1M 2>&1)
like "$out" "No space left on device" "xfs: writing stops with ENOSPC"
rm -f "$AMNT/x1/fill"
before=$(df -B1 --output=size "$AMNT/x1" | tail -1)
out=$("$CTL" --socket "$VW_ADMIN" resize x1 400M 2>&1)
like "$out" "resized to 400M" "volwardenctl resize grows a mounted xfs volume: $out"
after=$(df -B1 --output=size "$AMNT/x1" | tail -1)
ok "$([ "$after" -gt $((before + (90 << 20))) ]; echo $?)" "xfs grew online ($before -> $after bytes)"
is "$(stat -c %s "$ARC/x1.img")" 419430400 "x1.img is 400 MiB"
vunmount x1 a
remove x1
expect_ok "remove x1 with on_remove archive"
ls "$ARC" | grep -q '^x1\.img\.removed-[0-9]\{8\}T[0-9]\{6\}Z$'
ok $? "the image was archived as x1.img.removed-STAMP"

# ------------------------------------------------------ ext4 resize
VW_SOCK="$TESTDIR/sock/vwl.sock"
vmount e1 r
out=$("$CTL" --socket "$VW_ADMIN" resize e1 128M 2>&1)
like "$out" "mounted.*CAP_SYS_RESOURCE" "a mounted ext4 volume is not resized, with the reason"
vunmount e1 r
out=$("$CTL" --socket "$VW_ADMIN" resize e1 128M 2>&1)
like "$out" "resized to 128M" "an unmounted ext4 volume grows (resize2fs in the runner)"
out=$("$CTL" --socket "$VW_ADMIN" resize e1 100M 2>&1)
like "$out" "can only grow" "shrinking is refused"
vmount e1 r
sz=$(df -B1 --output=size "$MNT/e1" | tail -1)
ok "$([ "$sz" -gt $((100 << 20)) ]; echo $?)" "e1 holds more than 100 MiB now ($sz bytes)"
is "$(json_get "$("$CTL" --socket "$VW_ADMIN" --json inspect e1)" '.options.size')" 134217728 \
    "the new size is the volume's size option"
vunmount e1 r

# ------------------------------------------------------------ erofs
for i in $(seq 1 1000); do echo "content $i"; done >"$TESTDIR/list"
(cd "$ALLOWED/src" && for i in $(seq 1 1000); do echo "content $i" >"f$i"; done)
chmod -R a+rX "$ALLOWED/src"
create ro1 "{\"fs\": \"erofs\", \"source\": \"$ALLOWED/src\"}"
expect_ok "create an erofs volume from a directory of 1,000 files"
vmount ro1 a
is "$(findmnt -rn -o FSTYPE "$MNT/ro1")" erofs "ro1 is mounted: erofs"
like "$(findmnt -rn -o OPTIONS "$MNT/ro1")" "^ro," "mounted read-only"
is "$(ls "$MNT/ro1" | wc -l)" 1000 "1,000 files in the volume"
is "$(cat "$MNT/ro1/f777")" "content 777" "f777 holds its content"
out=$(touch "$MNT/ro1/new" 2>&1)
like "$out" "Read-only file system" "a write fails with EROFS"
vunmount ro1 a
mkfs.erofs --quiet "$ALLOWED/other/prebuilt.erofs" "$ALLOWED/src" >/dev/null 2>&1 ||
    bail_out "mkfs.erofs of the test image failed"
create ro2 "{\"fs\": \"erofs\", \"image\": \"$ALLOWED/other/prebuilt.erofs\"}"
expect_ok "create an erofs volume from an existing image"
vmount ro2 a
is "$(cat "$MNT/ro2/f3")" "content 3" "the adopted image's content"
vunmount ro2 a
ln -s "$ALLOWED/other" "$ALLOWED/link"
create ro3 "{\"fs\": \"erofs\", \"image\": \"$ALLOWED/link/prebuilt.erofs\"}"
expect_err "symbolic links" "an image path through a symlink is refused"
create ro4 "{\"fs\": \"erofs\", \"image\": \"$ALLOWED/other/../other/prebuilt.erofs\"}"
expect_err "'\\.\\.'" "an image path with .. is refused"
create ro5 "{\"fs\": \"erofs\", \"source\": \"$TESTDIR\"}"
expect_err "not below an allowed root" "a source outside the allowed roots is refused"
create ro6 "{\"fs\": \"erofs\", \"image\": \"$ALLOWED/src/f1\"}"
expect_err "not an EROFS image" "a file that is no EROFS image is refused"
create ro7 '{"fs": "erofs"}'
expect_err "source=DIR or -o image" "erofs without source or image is refused"
create ro8 "{\"source\": \"$ALLOWED/src\"}"
expect_err "fs=erofs" "source without fs=erofs is refused"
is "$(ls "$IMAGES" | grep -c '^ro[3-8]')" 0 "the refused Creates left no image"

# ------------------------------------------- kill -9 while mounted
vmount e1 running
DEV=$(findmnt -rn -o SOURCE "$MNT/e1")
echo before >"$MNT/e1/keep"
kill -9 "$VW_PID"
wait "$VW_PID" 2>/dev/null
sleep 0.5
ok "$(is_mounted "$MNT/e1"; echo $?)" "after kill -9 of the daemon the volume stays mounted"
VW_CUSTOM=1 vw_start --config "$CONF" || bail_out "volwarden did not restart"
like "$(cat "$VW_LOG")" "reconciled .* 1 in use and mounted" "the restart reconciles the counts with the mounts"
is "$(findmnt -rn -o SOURCE "$MNT/e1")" "$DEV" "the same loop device still serves it"
echo after >>"$MNT/e1/keep"
is "$(cat "$MNT/e1/keep")" "before
after" "it keeps working"
vunmount e1 running
ok "$(! is_mounted "$MNT/e1"; echo $?)" "the later Unmount unmounts"
sleep 0.2
ok "$(! loop_attached "$IMAGES/e1.img"; echo $?)" "... and detaches"
# A mount the counts do not know (a crash between the helper's mount and
# the count's record): the next start unmounts it.
create e2 '{"size": "8M"}'
expect_ok "create ext4 e2 of 8 MiB"
vmount e2 leak
kill -9 "$VW_PID"
wait "$VW_PID" 2>/dev/null
rm -f "$TESTDIR/run/mounts.wal" "$TESTDIR/run/mounts.snap"
VW_CUSTOM=1 vw_start --config "$CONF" || bail_out "volwarden did not restart"
ok "$(! is_mounted "$MNT/e2"; echo $?)" "a mount without references is unmounted at start-up"

# ------------------------------------------------------------ remove
remove e2
expect_ok "remove e2 (on_remove delete)"
ok "$([ ! -e "$IMAGES/e2.img" ]; echo $?)" "the image is deleted"
for v in e1 ro1 ro2; do remove $v; done
expect_ok "remove the rest"
is "$(ls "$IMAGES" | wc -l)" 0 "no image is left"

# The runners of this instance: each helper reaps its own before it
# exits, so none outlives the daemon.
runners() {
	local h
	for h in $(vw_helper_pids); do
		cat "/proc/$h/task/$h/children" 2>/dev/null
	done
}
RUNNERS=$(runners)
is "$(echo $RUNNERS | wc -w)" 2 "one mkfs runner per loop driver"
vw_stop
ok $? "volwarden stops cleanly"
left=
for r in $RUNNERS; do
	grep -qs volwarden-mkfs-runner "/proc/$r/cmdline" && left="$left $r"
done
is "$left" "" "no mkfs runner outlives volwarden"

# A runner that died is reported at the stop: the helper exits 1, and so
# does volwarden.
VW_CUSTOM=1 vw_start --config "$CONF" || bail_out "volwarden did not start again"
H=
for p in $(vw_helper_pids); do
	tr '\0' ' ' <"/proc/$p/cmdline" | grep -q -- '--driver 0' && H=$p
done
R=$(cat "/proc/$H/task/$H/children" 2>/dev/null | awk '{print $1}')
like "$(tr '\0' ' ' <"/proc/$R/cmdline" 2>/dev/null)" "volwarden-mkfs-runner" \
    "the runner of the restarted helper"
kill -9 "$R"
vw_stop
st=$?
ok "$([ "$st" -ne 0 ]; echo $?)" "volwarden exits non-zero when a mkfs runner was killed"
like "$(grep 'mkfs runner' "$VW_LOG" | grep -v ': debug: ')" \
    "driver vwl: the mkfs runner \\(pid $R\\) was killed by signal" \
    "the stop says which runner died"
if grep -q '^#define VW_SANITIZERS' "$top_builddir/vw-build.h" 2>/dev/null; then
	unlike "$(cat "$VW_LOG")" "LeakSanitizer|AddressSanitizer|runtime error" \
	    "no sanitizer report in the log (helpers and runners included)"
fi
is "$(our_loops)" 0 "no loop device of this test is attached"
is "$(findmnt -rn -o TARGET | grep -c "^$MNT/\|^$AMNT/")" 0 "no volume is mounted"
diag "loop devices before: $LOOPS_BEFORE, after: $(losetup -a | wc -l) (other tests may run alongside)"
done_testing
