#!/bin/bash
# End-to-end for the btrfs backend: a real private dockerd (as in
# t/e2e/docker-t.sh) uses a volwarden driver whose root is on a BTRFS
# file system made by the test on a loop-mounted image.
#
# Covered through containers: size=64M, then writing 100 MiB fails with
# EDQUOT ("Disk quota exceeded") inside the container; data written by a
# container, snapshotted, changed, restored, and the old data seen by a
# container again (and the restore refused while a container runs); a
# clone with from=VOLUME@SNAPSHOT; the backend's facts (subvolume id,
# snapshots, qgroup usage and limit, the snapshot schedule) in Get's
# Status as `docker volume inspect` and curl on VolumeDriver.Get show
# them; docker volume rm with on_remove delete.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir
. "$top_srcdir/t/lib/functions.sh"

requires_dockerd mkfs.btrfs btrfs
out=$("$VOLWARDEN" --no-config --check 2>&1) || bail_out "volwarden --check fails: $out"

btrfs_fs 1G
DRV="vwbt$$"
ROOT="$BTRFS_MNT/vols"
CONF="$TESTDIR/volwarden.json"
IMG="vwbt-busybox"
CTL="$top_builddir/volwardenctl"
VW_SOCK="/run/docker/plugins/$DRV.sock"
VW_CUSTOM=1
# Never leave the socket behind: every dockerd on the host would keep
# trying it (protocol doc 3.2).
cleanup_fn "rm -f '$VW_SOCK'"

cat >"$CONF" <<EOF
{
  "user": "$VW_TEST_USER",
  "state_dir": "$TESTDIR/state",
  "run_dir": "$TESTDIR/run",
  "socket_dir": "/run/docker/plugins",
  "admin_socket": "$VW_ADMIN",
  "drivers": [
    {"name": "$DRV", "backend": "btrfs", "root": "$ROOT", "on_remove": "delete"}
  ]
}
EOF
chmod 0644 "$CONF"
case $("$VOLWARDEN" --config "$CONF" --check 2>&1) in
*"built without libbtrfsutil"*) skip_all "volwarden was built without libbtrfsutil" ;;
esac

# DK ARGS...: the private docker CLI, bounded in time.
DK() { timeout 90 $DOCKER "$@"; }
RUN() { DK run --network none "$@"; }
vctl() { "$CTL" --socket "$VW_ADMIN" "$@"; }
# vol NAME JQ-PATH: one field of `docker volume inspect`.
vol() { DK volume inspect "$1" 2>/dev/null | jq -r ".[0]$2"; }
# Containers first (their Unmounts need the plugin), then dockerd, then
# volwarden; the file system goes last (registered first).
bd_cleanup() {
	local ids
	if [ -n "${DOCKERD_PID:-}" ]; then
		ids=$(timeout 30 $DOCKER ps -aq 2>/dev/null)
		[ -n "$ids" ] && timeout 60 $DOCKER rm -f $ids
	fi
	dockerd_stop
	vw_stop
	rm -f "$VW_SOCK"
}

dockerd_start || bail_out "cannot start dockerd: $(tail -3 "$TESTDIR/docker/dockerd.log")"
cleanup_fn bd_cleanup
busybox_image "$IMG" || bail_out "cannot import the busybox image"
vw_start --config "$CONF" || bail_out "cannot start volwarden: $(tail -3 "$VW_LOG")"
pass "dockerd and volwarden (btrfs driver $DRV on $ROOT) started"

# ------------------------------------------------- size through dockerd
is "$(DK volume create -d "$DRV" -o size=64M quota1 2>&1)" quota1 "docker volume create -o size=64M quota1"
out=$(RUN --rm -v quota1:/data "$IMG" dd if=/dev/zero of=/data/big bs=1M count=100 conv=fsync 2>&1)
rc=$?
ok "$([ $rc -ne 0 ]; echo $?)" "a container writing 100 MiB into it fails (exit $rc)"
like "$out" 'Disk quota exceeded' "... with EDQUOT: $(printf '%s' "$out" | grep -m1 quota)"
sz=$(stat -c %s "$ROOT/quota1/big" 2>/dev/null || echo 0)
ok "$([ "$sz" -gt 0 ] && [ "$sz" -le $((64 << 20)) ]; echo $?)" "... and at most 64 MiB landed ($sz bytes)"
RUN --rm -v quota1:/data "$IMG" sh -c 'rm /data/big && dd if=/dev/zero of=/data/small bs=1M count=16 conv=fsync' >/dev/null 2>&1
ok $? "after deleting it, a container can write 16 MiB again"

# The backend's status in Get: the Get answer comes from a cache that
# the helper refreshes (state changes, and Gets of an answer older than
# 2 s), and qgroup numbers are those of the last transaction commit.
btrfs filesystem sync "$BTRFS_MNT" >/dev/null 2>&1
vw_call VolumeDriver.Get '{"Name":"quota1"}' >/dev/null
sleep 2.5
vw_call VolumeDriver.Get '{"Name":"quota1"}' >/dev/null
sleep 0.5
get=$(vw_call VolumeDriver.Get '{"Name":"quota1"}')
ins=$(DK volume inspect quota1)
id=$(btrfs inspect-internal rootid "$ROOT/quota1")
is "$(json_get "$get" '.Volume.Status | [.subvolume_id, .snapshots, .quota, .limit_bytes] | join(" ")')" \
    "$id 0 on 67108864" "curl VolumeDriver.Get: subvolume_id, snapshots, quota, limit_bytes"
ref=$(json_get "$get" '.Volume.Status.referenced_bytes')
ok "$([ "$ref" -ge $((16 << 20)) ] && [ "$ref" -lt $((20 << 20)) ]; echo $?)" \
    "curl VolumeDriver.Get: referenced_bytes $ref (the 16 MiB file)"
is "$(json_get "$ins" '.[0].Status | [.subvolume_id, .quota, .limit_bytes, .options.size] | join(" ")')" \
    "$id on 67108864 67108864" "docker volume inspect: the same Status, with options.size"
is "$(json_get "$ins" '.[0].Status.backend')" btrfs "docker volume inspect: Status.backend btrfs"

# ----------------------------------- snapshot, change, restore, see old
is "$(DK volume create -d "$DRV" app 2>&1)" app "docker volume create app"
RUN --rm -v app:/data "$IMG" sh -c 'echo v1 > /data/f'
ok $? "a container writes v1"
vctl snapshot create app s1 >/dev/null
ok $? "volwardenctl snapshot create app s1"
RUN --rm -v app:/data "$IMG" sh -c 'echo v2 > /data/f'
is "$(RUN --rm -v app:/data "$IMG" cat /data/f 2>&1)" v2 "a container changes it to v2"
cid=$(DK run -d --network none -v app:/data "$IMG" sh -c 'trap "exit 0" TERM; while :; do sleep 0.1; done')
out=$(vctl snapshot restore app s1 2>&1)
rc=$?
is "$rc" 1 "restore while a container runs on the volume: refused (exit $rc)"
like "$out" 'volume app is in use \(1 mount reference\)' "... it is in use"
DK rm -f "$cid" >/dev/null
out=$(vctl snapshot restore app s1 2>&1)
ok $? "restore app from s1 once the container is gone"
is "$(RUN --rm -v app:/data "$IMG" cat /data/f 2>&1)" v1 "a new container sees the old data (v1)"
pre=$(printf '%s' "$out" | sed -n 's/.*the state before is snapshot \([^ ;]*\).*/\1/p')
is "$(DK volume inspect app | jq -r '.[0].Status.snapshots')" 2 \
    "docker volume inspect: Status.snapshots 2 (s1 and $pre)"
is "$(DK volume create -d "$DRV" -o from=app@"$pre" app2 2>&1)" app2 "a clone from=app@$pre"
is "$(RUN --rm -v app2:/data "$IMG" cat /data/f 2>&1)" v2 "... holds the state before the restore (v2)"

# ------------------------------------------------------ the schedule
is "$(DK volume create -d "$DRV" -o snapshot_every=1h -o snapshot_keep=3 hourly 2>&1)" hourly \
    "docker volume create -o snapshot_every=1h -o snapshot_keep=3"
ins=$(DK volume inspect hourly)
is "$(json_get "$ins" '.[0].Status.options | [.snapshot_every, .snapshot_keep] | join(" ")')" "3600 3" \
    "docker volume inspect: options snapshot_every 3600, snapshot_keep 3"
next=$(json_get "$ins" '.[0].Status.snapshot_next | fromdateiso8601')
now=$(date +%s)
ok "$([ "$next" -gt $((now + 3500)) ] && [ "$next" -le $((now + 3601)) ]; echo $?)" \
    "docker volume inspect: Status.snapshot_next in an hour ($((next - now)) s)"
out=$(DK volume create -d "$DRV" -o snapshot_every=1s bad 2>&1)
like "$out" 'option snapshot_every: expected' "snapshot_every=1s is refused through dockerd"

# ------------------------------------------------------------ remove
for v in quota1 app app2 hourly; do
	DK volume rm "$v" >/dev/null 2>&1 || fail "docker volume rm $v"
done
ok "$([ ! -e "$ROOT/app" ] && [ ! -e "$ROOT/.snapshots/app" ] && [ ! -e "$ROOT/quota1" ]; echo $?)" \
    "docker volume rm (on_remove delete) deletes the subvolumes and snapshots"
is "$(DK volume ls -q --filter "driver=$DRV" | wc -l)" 0 "no volume of $DRV is left"

done_testing
