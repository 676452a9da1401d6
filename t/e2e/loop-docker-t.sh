#!/bin/bash
# End-to-end: loop volumes through a real, private dockerd (the helpers of
# t/lib/functions.sh: own data-root, exec-root, socket and pidfile).
# ext4 of 64 MiB and xfs of 300 MiB written from a container until
# ENOSPC, two containers on one volume, kill -9 of volwarden while a
# container uses a volume (it keeps working; the later Unmount unmounts
# and detaches), a container started while another volume is mounted
# does not keep that volume's loop device after its last Unmount (the
# shared mount_dir), EROFS from 1,000 files read from a container with
# writes refused, and the loop devices of this test all gone at the end.
if [ -z "${top_srcdir:-}" ]; then
	top_srcdir=$(cd "$(dirname "$0")/../.." && pwd)
fi
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
. "$top_srcdir/t/lib/functions.sh"

requires_dockerd losetup findmnt mkfs.ext4 mkfs.xfs mkfs.erofs
[ -c /dev/loop-control ] || skip_all "requires /dev/loop-control"

DRV="vwloop$$"
IMAGES="$TESTDIR/images"
MNT="$TESTDIR/mnt"
ALLOWED="$TESTDIR/allowed"
CONF="$TESTDIR/volwarden.json"
IMG="vwt-busybox"
VW_SOCK="/run/docker/plugins/$DRV.sock"
cleanup_fn "rm -f '$VW_SOCK'"

mkdir -p "$ALLOWED/src"
chmod 0755 "$TESTDIR" "$ALLOWED" "$ALLOWED/src"
cat >"$CONF" <<EOF
{
  "user": "$VW_TEST_USER",
  "state_dir": "$TESTDIR/state",
  "run_dir": "$TESTDIR/run",
  "socket_dir": "/run/docker/plugins",
  "admin_socket": "$VW_ADMIN",
  "drivers": [
    {"name": "$DRV", "backend": "loop", "root": "$IMAGES", "mount_dir": "$MNT",
     "allowed_roots": ["$ALLOWED"], "on_remove": "delete", "default_size": "64M"}
  ]
}
EOF
chmod 0644 "$CONF"

DK() { timeout 120 $DOCKER "$@"; }
RUN() { DK run --network none "$@"; }
LOOP='trap "exit 0" TERM; while :; do sleep 0.1; done'
is_mounted() { findmnt -rn "$1" >/dev/null 2>&1; }
attached() { losetup -a | grep -q -- "$IMAGES/$1.img"; }
# wait_detached NAME: autoclear runs as the last user goes; allow a moment.
wait_detached() {
	local i
	for i in $(seq 1 50); do
		attached "$1" || return 0
		sleep 0.1
	done
	return 1
}
loop_cleanup() {
	local m d
	for m in $(findmnt -rn -o TARGET | grep "^$TESTDIR/" | sort -r); do
		umount -l "$m"
	done
	for d in $(losetup -a | grep -- "$TESTDIR/" | cut -d: -f1); do
		losetup -d "$d"
	done
}
e2e_cleanup() {
	local ids
	if [ -n "${DOCKERD_PID:-}" ]; then
		ids=$(timeout 30 $DOCKER ps -aq 2>/dev/null)
		[ -n "$ids" ] && timeout 60 $DOCKER rm -f $ids
	fi
	dockerd_stop
	vw_stop
	rm -f "$VW_SOCK"
	loop_cleanup
}
dump_logs() {
	diag "--- volwarden log (tail)"
	diag "$(grep -v ': debug: ' "$VW_LOG" | tail -20)"
	diag "--- dockerd log (tail)"
	diag "$(tail -20 "$TESTDIR/docker/dockerd.log")"
}

dockerd_start || bail_out "cannot start dockerd: $(tail -3 "$TESTDIR/docker/dockerd.log")"
busybox_image "$IMG" || bail_out "cannot import the busybox image"
VW_CUSTOM=1 vw_start --config "$CONF" || bail_out "cannot start volwarden: $(tail -3 "$VW_LOG")"
cleanup_fn e2e_cleanup
pass "dockerd and volwarden (loop driver $DRV) started"

# ------------------------------------------------- sizes, ENOSPC
is "$(DK volume create -d "$DRV" -o size=64M ext 2>&1)" ext "create an ext4 volume of 64 MiB"
is "$(DK volume create -d "$DRV" -o fs=xfs -o size=300M xf 2>&1)" xf "create an xfs volume of 300 MiB"
out=$(DK volume create -d "$DRV" -o fs=xfs -o size=200M small 2>&1)
like "$out" "below the xfs minimum of 300 MiB" "an xfs volume below 300 MiB is refused, naming the minimum"
for v in ext:64 xf:300; do
	n=${v%%:*} mib=${v##*:}
	out=$(RUN --rm -v "$n:/data" "$IMG" sh -c \
	    'dd if=/dev/zero of=/data/fill bs=1M 2>&1; echo "rc=$?"; stat -c %s /data/fill')
	like "$out" "No space left on device" "$n: a container writes until ENOSPC"
	sz=$(printf '%s\n' "$out" | tail -1)
	ok "$([ "$sz" -gt $(((mib * 2 / 3) << 20)) ] && [ "$sz" -le $((mib << 20)) ]; echo $?)" \
	    "$n: the container filled the volume and no more ($sz bytes of $mib MiB)"
	ok "$(! is_mounted "$MNT/$n"; echo $?)" "$n: unmounted after the container exited"
	ok "$(wait_detached "$n"; echo $?)" "$n: its loop device is detached"
done
is "$(DK volume inspect ext | jq -r '.[0].Status.fs + " " + .[0].Status.size_bytes')" \
    "ext4 67108864" "docker volume inspect shows fs and size from the backend"

# ------------------------------------ two containers on one volume
DK run -d --network none --name c1 -v ext:/data "$IMG" sh -c \
    "echo from-c1 > /data/c1; $LOOP" >/dev/null
ok $? "c1 runs with ext"
out=$(RUN --rm -v ext:/data "$IMG" cat /data/c1 2>&1)
is "$out" "from-c1" "a second container sees what c1 wrote"
is "$(findmnt -rn "$MNT/ext" | wc -l)" 1 "ext is mounted once for both"

# ----------------------- propagation: a container started meanwhile
is "$(DK volume create -d "$DRV" ext2 2>&1)" ext2 "create ext2"
DK run -d --network none --name c2 -v ext2:/data "$IMG" sh -c "$LOOP" >/dev/null
ok $? "c2 starts with ext2 while ext is mounted"
DK stop -t 5 c1 >/dev/null && DK rm c1 >/dev/null
ok "$(! is_mounted "$MNT/ext"; echo $?)" "after c1 stops, ext is unmounted"
ok "$(wait_detached ext; echo $?)" "... and its loop device detached although c2 (started after ext was mounted) still runs"
DK stop -t 5 c2 >/dev/null && DK rm c2 >/dev/null

# ---------------------------------------- kill -9 of volwarden in use
DK run -d --network none --name c3 -v ext:/data "$IMG" sh -c "$LOOP" >/dev/null
ok $? "c3 runs with ext"
DEV=$(findmnt -rn -o SOURCE "$MNT/ext")
kill -9 "$VW_PID"
wait "$VW_PID" 2>/dev/null
VW_CUSTOM=1 vw_start --config "$CONF" || bail_out "volwarden did not restart"
pass "volwarden restarted after kill -9"
out=$(DK exec c3 sh -c 'echo alive > /data/k && cat /data/k' 2>&1)
is "$out" alive "the container keeps working on its volume"
is "$(findmnt -rn -o SOURCE "$MNT/ext")" "$DEV" "the same loop device serves it"
DK stop -t 5 c3 >/dev/null && DK rm c3 >/dev/null
ok "$(! is_mounted "$MNT/ext"; echo $?)" "the later Unmount unmounts"
ok "$(wait_detached ext; echo $?)" "... and detaches"

# ------------------------------------------------------------ erofs
(cd "$ALLOWED/src" && for i in $(seq 1 1000); do echo "content $i" >"f$i"; done)
chmod -R a+rX "$ALLOWED/src"
out=$(DK volume create -d "$DRV" -o fs=erofs -o source="$ALLOWED/src" ro 2>&1)
is "$out" ro "create an erofs volume from 1,000 files"
out=$(RUN --rm -v ro:/data "$IMG" sh -c 'ls /data | wc -l; cat /data/f500; touch /data/x 2>&1; echo "rc=$?"')
like "$out" "^ *1000" "a container sees 1,000 files"
like "$out" "content 500" "... with their content"
like "$out" "Read-only file system" "... and a write fails with EROFS"
like "$out" "rc=1" "... with a failing status"
ok "$(wait_detached ro; echo $?)" "ro: detached after the container exited"

# ------------------------------------------------------------ the end
for v in ext ext2 xf ro; do DK volume rm "$v" >/dev/null 2>&1; done
is "$(ls "$IMAGES" | wc -l)" 0 "docker volume rm deleted every image (on_remove delete)"
is "$(losetup -a | grep -c -- "$TESTDIR/")" 0 "no loop device of this test is attached"
if [ "$(grep -c 'error\|warning' "$VW_LOG")" -gt 0 ]; then
	diag "$(grep 'error\|warning' "$VW_LOG" | head -5)"
fi
[ "$_tap_failed" -eq 0 ] || dump_logs
done_testing
