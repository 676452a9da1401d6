#!/bin/bash
# End-to-end: a real dockerd uses volwarden as a legacy (v1) volume plugin.
#
# A private dockerd (own data-root, exec-root, socket and pidfile under the
# test's temporary directory) finds volwarden's socket in
# /run/docker/plugins, the only place it looks for v1 plugins.  The driver
# name is unique per run, and the socket is removed at the end, so that no
# other dockerd on the host keeps contacting it.
#
# Covered: the persist-after-rm user story, the mountpoint/uid/gid/mode
# options (allowed roots, overlap with other volumes, symlinks planted by
# containers), containers sharing a volume (also starting and stopping
# concurrently), a volwarden restart under a running container, a dockerd
# restart, ls/inspect/rm, implicit creation through --volume-driver,
# invalid names, and rm of a volume in use.  Sections are numbered after
# the items of the e2e brief, and run in an order that lets later ones
# reuse earlier volumes.

if [ -z "${top_srcdir:-}" ]; then
	top_srcdir=$(cd "$(dirname "$0")/../.." && pwd)
fi
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
. "$top_srcdir/t/lib/functions.sh"

requires_dockerd

DRV="vwt$$"
ROOT="$TESTDIR/volumes"
ALLOWED="$TESTDIR/allowed"
CONF="$TESTDIR/volwarden.json"
IMG="vwt-busybox"
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
  "drivers": [
    {"name": "$DRV", "backend": "dir", "root": "$ROOT",
     "allowed_roots": ["$ALLOWED"], "on_remove": "keep"}
  ]
}
EOF
chown root:root "$CONF"
chmod 0644 "$CONF"

# ------------------------------------------------------------ helpers

# DK ARGS...: the private docker CLI, bounded in time (dockerd waits up to
# 2 minutes for a plugin; a hung test is worse than a failed one).
DK() { timeout 90 $DOCKER "$@"; }

# RUN ARGS...: docker run without a network.
RUN() { DK run --network none "$@"; }

# A container that runs until stopped, then exits at once.
LOOP='trap "exit 0" TERM; while :; do sleep 0.1; done'

# has GOT NEEDLE DESCRIPTION: fixed-string containment.
has() {
	case "$1" in
	*"$2"*) ok 0 "$3" ;;
	*) ok 1 "$3"; diag "got:            '$1'"; diag "should contain: '$2'" ;;
	esac
}

# vol NAME JQ-PATH: one field of `docker volume inspect`.
vol() { DK volume inspect "$1" 2>/dev/null | jq -r ".[0]$2"; }

# Our volumes as dockerd lists them, sorted.
our_volumes() { DK volume ls -q --filter "driver=$DRV" | sort; }

# Name, driver, mountpoint and CreatedAt of every volume of ours.
volume_facts() {
	local v
	for v in $(our_volumes); do
		DK volume inspect "$v" | jq -c '.[0] | [.Name, .Driver, .Mountpoint, .CreatedAt]'
	done
}

# Stop everything in the right order: containers first (their Unmounts
# need the plugin), then dockerd, then volwarden, then its socket.
e2e_cleanup() {
	local ids
	if [ -n "${DOCKERD_PID:-}" ]; then
		ids=$(timeout 30 $DOCKER ps -aq 2>/dev/null)
		[ -n "$ids" ] && timeout 60 $DOCKER rm -f $ids
	fi
	dockerd_stop
	vw_stop
	rm -f "$VW_SOCK"
}

# dockerd_restart: stop dockerd and start it again on the same data-root,
# exec-root and socket (dockerd_start always uses $TESTDIR/docker).  Waits
# for the old instance's containerd to go so the two never overlap.
dockerd_restart() {
	local cpid i pidf="$TESTDIR/docker/exec/containerd/containerd.pid"
	cpid=$(cat "$pidf" 2>/dev/null)
	dockerd_stop
	if [ -n "$cpid" ]; then
		for i in $(seq 1 100); do
			kill -0 "$cpid" 2>/dev/null || break
			sleep 0.1
		done
	fi
	cp "$TESTDIR/docker/dockerd.log" "$TESTDIR/docker/dockerd.log.1" 2>/dev/null
	dockerd_start || return 1
	cleanup_fn e2e_cleanup
}

dump_logs() {
	diag "--- volwarden log (tail)"
	diag "$(tail -30 "$VW_LOG")"
	diag "--- dockerd log (tail)"
	diag "$(tail -30 "$TESTDIR/docker/dockerd.log")"
}

# ------------------------------------------------------------ start

T0=$(date +%s)
dockerd_start || bail_out "cannot start dockerd: $(tail -3 "$TESTDIR/docker/dockerd.log")"
busybox_image "$IMG" || bail_out "cannot import the busybox image"
vw_start --config "$CONF" || bail_out "cannot start volwarden: $(tail -3 "$VW_LOG")"
cleanup_fn e2e_cleanup
pass "dockerd and volwarden (driver $DRV) started"
ok "$([ -S "$VW_SOCK" ]; echo $?)" "the plugin socket is $VW_SOCK"

# ---------------------------------------------------- 1. the user story

out=$(DK volume create -d "$DRV" data1 2>&1)
is "$out" "data1" "1: docker volume create -d $DRV data1"
RUN --rm -v data1:/data "$IMG" sh -c 'echo hi > /data/f'
ok $? "1: a container writes /data/f into data1"
is "$(cat "$ROOT/data1/f" 2>&1)" "hi" "1: the file is at ROOT/data1/f on the host"
out=$(DK volume rm data1 2>&1)
is "$out" "data1" "1: docker volume rm data1"
unlike "$(our_volumes)" '^data1$' "1: data1 is no longer listed"
out=$(DK volume create -d "$DRV" data1 2>&1)
is "$out" "data1" "1: data1 created again"
is "$(RUN --rm -v data1:/data "$IMG" cat /data/f 2>&1)" "hi" \
	"1: the re-created volume still holds the file (read in a container)"
is "$(cat "$ROOT/data1/f" 2>&1)" "hi" "1: and on the host under the driver root"

# ---------------------------------------------------- 2. mountpoint option

out=$(DK volume create -d "$DRV" -o "mountpoint=$ALLOWED/db1" mpabs 2>&1)
is "$out" "mpabs" "2: absolute mountpoint beneath an allowed root is accepted"
is "$(vol mpabs .Mountpoint)" "$ALLOWED/db1" "2: its Mountpoint is the given path"
RUN --rm -v mpabs:/data "$IMG" sh -c 'echo abs > /data/f'
is "$(cat "$ALLOWED/db1/f" 2>&1)" "abs" "2: data written in a container lands at that path"

out=$(DK volume create -d "$DRV" -o "mountpoint=$TESTDIR/elsewhere/x" mpout 2>&1)
rc=$?; ok $((rc == 0)) "2: a mountpoint outside the allowed roots is refused"
has "$out" "allowed roots: $ALLOWED" "2: the error names the allowed roots"
ok "$([ ! -e "$TESTDIR/elsewhere" ]; echo $?)" "2: nothing was created outside"
unlike "$(our_volumes)" '^mpout$' "2: the refused volume is not listed"

out=$(DK volume create -d "$DRV" -o mountpoint=app/db mprel 2>&1)
is "$out" "mprel" "2: a relative mountpoint is accepted"
is "$(vol mprel .Mountpoint)" "$ROOT/app/db" "2: it lands under the driver root"
RUN --rm -v mprel:/data "$IMG" sh -c 'echo rel > /data/f'
is "$(cat "$ROOT/app/db/f" 2>&1)" "rel" "2: data written in a container is at ROOT/app/db"

out=$(DK volume create -d "$DRV" -o mountpoint=app/../../escape mpdots 2>&1)
rc=$?; ok $((rc == 0)) "2: a relative mountpoint with .. is refused"
has "$out" "'..'" "2: the error says why"
out=$(DK volume create -d "$DRV" -o "mountpoint=$ALLOWED/../escape2" mpdots2 2>&1)
rc=$?; ok $((rc == 0)) "2: an absolute mountpoint with .. is refused"
has "$out" "'..'" "2: the error says why"
ok "$([ ! -e "$TESTDIR/escape" ] && [ ! -e "$TESTDIR/escape2" ]; echo $?)" \
	"2: nothing was created for the refused paths"

# Volumes must not overlap: a container could reach into another volume.
out=$(DK volume create -d "$DRV" -o mountpoint=data1 alias 2>&1)
rc=$?; ok $((rc == 0)) "2: a mountpoint equal to another volume's directory is refused"
has "$out" "already used by volume data1" "2: the error names the other volume"
out=$(DK volume create -d "$DRV" -o mountpoint=data1/sub inner 2>&1)
rc=$?; ok $((rc == 0)) "2: a mountpoint inside another volume is refused"
has "$out" "inside the directory of volume data1" "2: the error names the other volume"

# A symlink planted by a container in a removed (kept) volume's directory
# is never followed when a later volume is placed below it.
DK volume create -d "$DRV" esc >/dev/null &&
	RUN --rm -v esc:/d "$IMG" busybox ln -s / /d/root &&
	DK volume create -d "$DRV" -o "mountpoint=$ALLOWED/top" top >/dev/null &&
	RUN --rm -v top:/d "$IMG" busybox ln -s / /d/root &&
	DK volume rm esc top >/dev/null
ok $? "2: containers planted symlinks to / in two volumes, then they were removed (data kept)"
for mp in "esc/root/tmp/vwt-pwn-$$" "$ALLOWED/top/root/tmp/vwt-pwn-$$"; do
	out=$(DK volume create -d "$DRV" -o "mountpoint=$mp" pwn 2>&1)
	rc=$?; ok $((rc == 0)) "2: a mountpoint through a planted symlink is refused ($mp)"
	ok "$([ ! -e "/tmp/vwt-pwn-$$" ]; echo $?)" "2: nothing was created through the symlink"
	has "$out" "symbolic link" "2: the error says a symbolic link is in the way"
done
rm -rf "/tmp/vwt-pwn-$$"
unlike "$(our_volumes)" '^(esc|top|pwn|alias|inner)$' "2: none of these volumes is listed"

# ---------------------------------------------------- 3. uid, gid, mode

out=$(DK volume create -d "$DRV" -o uid=1000 -o gid=1000 -o mode=0750 owned 2>&1)
is "$out" "owned" "3: create with uid=1000 gid=1000 mode=0750"
is "$(stat -c '%u:%g %a' "$ROOT/owned" 2>&1)" "1000:1000 750" \
	"3: the top directory has that owner and mode on the host"
RUN --rm --user 1000:1000 -v owned:/data "$IMG" sh -c 'echo mine > /data/u' 2>&1
ok $? "3: docker run --user 1000:1000 can write into it"
is "$(stat -c '%u:%g' "$ROOT/owned/u" 2>&1)" "1000:1000" "3: the file belongs to 1000:1000"
RUN --rm --user 2000:2000 -v owned:/data "$IMG" touch /data/other >/dev/null 2>&1
rc=$?; ok $((rc == 0)) "3: another uid cannot write (mode 0750 is in force)"
out=$(DK volume create -d "$DRV" -o size=10G sized 2>&1)
rc=$?; ok $((rc == 0)) "3: an unknown option is refused"
has "$out" "valid options are: mountpoint, uid, gid, mode" "3: the error lists the valid options"

# ---------------------------------------------------- 7. ls, inspect, rm

js=$(DK volume inspect owned 2>&1)
is "$(json_get "$js" '.[0].Driver')" "$DRV" "7: inspect: Driver"
is "$(json_get "$js" '.[0].Mountpoint')" "$ROOT/owned" "7: inspect: Mountpoint"
ca=$(json_get "$js" '.[0].CreatedAt')
like "$ca" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$' \
	"7: inspect: CreatedAt is RFC 3339"
cas=$(date -d "$ca" +%s 2>/dev/null || echo 0)
ok "$([ "$cas" -ge $((T0 - 5)) ] && [ "$cas" -le $(($(date +%s) + 5)) ]; echo $?)" \
	"7: inspect: CreatedAt is the creation time ($ca)"
is "$(printf '%s' "$js" | jq -cS '.[0].Status.options')" \
	'{"gid":"1000","mode":"0750","uid":"1000"}' "7: inspect: Status.options"
is "$(json_get "$js" '.[0].Status.mounts')" "0" "7: inspect: Status.mounts is 0 when unused"
is "$(vol mpabs '.Status.options.mountpoint')" "$ALLOWED/db1" \
	"7: inspect: Status.options.mountpoint"
ls_out=$(DK volume ls --format '{{.Driver}} {{.Name}}' 2>&1)
has "$ls_out" "$DRV owned" "7: docker volume ls shows the volume with our driver"
is "$(our_volumes | tr '\n' ' ')" "data1 mpabs mprel owned " "7: ls lists exactly our volumes"
out=$(DK volume rm owned 2>&1)
is "$out" "owned" "7: docker volume rm owned"
unlike "$(our_volumes)" '^owned$' "7: it is gone from docker volume ls"
unlike "$(vw_call VolumeDriver.List '{}')" '"owned"' "7: and from the plugin's List"
# dockerd asks every plugin in /run/docker/plugins about an unknown name,
# so another volwarden test running at the same time may own an "owned":
# what matters is that our driver no longer has it.
drv_of=$(DK volume inspect owned 2>/dev/null | jq -r '.[0].Driver')
ok $([ "$drv_of" != "$DRV" ]; echo $?) "7: inspect no longer finds the removed volume in our driver"
is "$(cat "$ROOT/owned/u" 2>&1)" "mine" "7: on_remove keep: the data stays on the host"

# ---------------------------------------------------- 8. implicit creation

RUN --rm -v newname:/x --volume-driver "$DRV" "$IMG" true
ok $? "8: docker run -v newname:/x --volume-driver $DRV"
has "$(DK volume ls --format '{{.Driver}} {{.Name}}')" "$DRV newname" \
	"8: newname was created implicitly with our driver"
is "$(vol newname .Mountpoint)" "$ROOT/newname" "8: at ROOT/newname"
ok "$([ -d "$ROOT/newname" ]; echo $?)" "8: its directory exists on the host"

# ---------------------------------------------------- 9. invalid names

out=$(DK volume create -d "$DRV" 'a b' 2>&1)
rc=$?; ok $((rc == 0)) "9: docker volume create 'a b' is refused"
has "$out" "invalid volume name" "9: with an error naming the problem"
for name in '../escape3' '..' 'a/b' '.hidden'; do
	body=$(jq -cn --arg n "$name" --arg d "$DRV" '{Name: $n, Driver: $d}')
	resp=$(curl -s --max-time 60 --unix-socket "$DOCKER_SOCK" -X POST \
		-H 'Content-Type: application/json' -d "$body" \
		-w '\n%{http_code}' http://docker/volumes/create)
	code=${resp##*$'\n'}
	msg=$(json_get "${resp%$'\n'*}" '.message')
	like "$code" '^[45][0-9][0-9]$' "9: API create of '$name' is refused (HTTP $code)"
	has "$msg" "invalid volume name" "9: API create of '$name': error says why"
done
ok "$([ ! -e "$TESTDIR/escape3" ] && [ ! -e "$ROOT/a" ] && [ ! -e "$ROOT/.hidden" ]; echo $?)" \
	"9: nothing was created for the invalid names"
is "$(our_volumes | tr '\n' ' ')" "data1 mpabs mprel newname " \
	"9: no invalid name is listed"

# ---------------------------------------------------- 4. shared volume

DK volume create -d "$DRV" share >/dev/null
c1=$(RUN -d -v share:/data "$IMG" sh -c "$LOOP")
ok $? "4: first container started"
c2=$(RUN -d -v share:/data "$IMG" sh -c "$LOOP")
ok $? "4: second container started on the same volume"
is "$(vol share .Status.mounts)" "2" "4: Status.mounts is 2 with two containers"
DK exec "$c1" sh -c 'echo one > /data/a' && DK exec "$c2" sh -c 'echo two > /data/b'
ok $? "4: both containers write"
is "$(DK exec "$c2" cat /data/a 2>&1)" "one" "4: the second sees the first's write"
is "$(DK exec "$c1" cat /data/b 2>&1)" "two" "4: the first sees the second's write"
DK stop -t 5 "$c1" >/dev/null
ok $? "4: the first container stops"
is "$(vol share .Status.mounts)" "1" "4: Status.mounts drops to 1"
DK exec "$c2" sh -c 'echo after > /data/c'
ok $? "4: the second container still writes after the first stopped"
is "$(cat "$ROOT/share/c" 2>&1)" "after" "4: and the write reaches the host directory"
is "$(DK exec "$c2" cat /data/a 2>&1)" "one" "4: and still reads the volume"
DK stop -t 5 "$c2" >/dev/null
ok $? "4: the second container stops"
is "$(vol share .Status.mounts)" "0" "4: Status.mounts is back to 0"
DK rm "$c1" "$c2" >/dev/null

# Four containers starting and stopping at once: dockerd sends
# overlapping Mounts and Unmounts for the same volume (protocol doc 13).
DK volume create -d "$DRV" crowd >/dev/null
pids=
for i in 1 2 3 4; do
	RUN -d -v crowd:/data "$IMG" sh -c "echo $i > /data/c$i; $LOOP" \
		>"$TESTDIR/crowd$i" 2>&1 &
	pids="$pids $!"
done
rc=0
for p in $pids; do wait "$p" || rc=1; done
ok $rc "4: four containers started concurrently on one volume"
is "$(vol crowd .Status.mounts)" "4" "4: Status.mounts is 4"
is "$(cat "$ROOT/crowd/c1" "$ROOT/crowd/c2" "$ROOT/crowd/c3" "$ROOT/crowd/c4" 2>&1 | tr '\n' ' ')" \
	"1 2 3 4 " "4: all four wrote into the same directory"
pids=
for i in 1 2 3 4; do
	DK stop -t 5 "$(cat "$TESTDIR/crowd$i")" >/dev/null 2>&1 &
	pids="$pids $!"
done
rc=0
for p in $pids; do wait "$p" || rc=1; done
ok $rc "4: the four containers stopped concurrently"
is "$(vol crowd .Status.mounts)" "0" "4: Status.mounts is back to 0"
DK rm $(cat "$TESTDIR"/crowd?) >/dev/null

# ---------------------------------------------------- 10. rm while in use

DK volume create -d "$DRV" busy >/dev/null
c3=$(RUN -d -v busy:/data "$IMG" sh -c "echo keep > /data/k; $LOOP")
ok $? "10: a container runs on volume busy"
out=$(DK volume rm busy 2>&1)
rc=$?; ok $((rc == 0)) "10: docker volume rm of a volume in use is refused"
has "$out" "in use" "10: the error says it is in use"
resp=$(vw_call VolumeDriver.Remove '{"Name":"busy"}')
has "$(json_get "$resp" .Err)" "in use" \
	"10: the plugin itself refuses Remove while mounted"
has "$(our_volumes)" "busy" "10: the volume is still listed"
is "$(DK exec "$c3" cat /data/k 2>&1)" "keep" "10: the container still reads it"
DK rm -f "$c3" >/dev/null
out=$(DK volume rm busy 2>&1)
is "$out" "busy" "10: once the container is gone, rm succeeds"

# ---------------------------------------------------- 5. volwarden restart

DK volume create -d "$DRV" persist >/dev/null
c4=$(RUN -d -v persist:/data "$IMG" sh -c \
	'trap "exit 0" TERM; i=0; while :; do i=$((i+1)); echo $i >> /data/log; sleep 0.1; done')
ok $? "5: a container writes continuously to volume persist"
sleep 0.5
before_ls=$(our_volumes)
before_facts=$(volume_facts)
is "$(vol persist .Status.mounts)" "1" "5: Status.mounts is 1 before the restart"
vw_stop
ok $? "5: volwarden stops cleanly on SIGTERM while the volume is mounted"
ok "$([ ! -e "$VW_SOCK" ]; echo $?)" "5: volwarden removed its socket on SIGTERM"
n1=$(wc -l <"$ROOT/persist/log")
sleep 0.5
n2=$(wc -l <"$ROOT/persist/log")
ok "$([ "$n2" -gt "$n1" ]; echo $?)" "5: the container keeps writing while volwarden is down ($n1 -> $n2)"
vw_start --config "$CONF"
ok $? "5: volwarden starts again with the same configuration"
cleanup_fn e2e_cleanup
sleep 0.3
n3=$(wc -l <"$ROOT/persist/log")
ok "$([ "$n3" -gt "$n2" ]; echo $?)" "5: the container keeps writing after the restart ($n2 -> $n3)"
is "$(DK inspect -f '{{.State.Running}}' "$c4")" "true" "5: the container is still running"
is "$(our_volumes)" "$before_ls" "5: docker volume ls shows the same volumes"
is "$(volume_facts)" "$before_facts" "5: inspect shows the same drivers, mountpoints and CreatedAt"
is "$(vol persist .Status.mounts)" "1" "5: the mount reference survived the restart"
DK stop -t 5 "$c4" >/dev/null
ok $? "5: stopping the container afterwards succeeds"
is "$(vol persist .Status.mounts)" "0" "5: its Unmount was honoured (Status.mounts 0)"
unlike "$(grep -iE 'level=(warning|error)' "$TESTDIR/docker/dockerd.log" | grep -iE 'umount|unmount')" \
	. "5: dockerd logged no unmount error"
DK rm "$c4" >/dev/null

# ---------------------------------------------------- 6. dockerd restart

c5=$(RUN -d -v persist:/data "$IMG" sh -c "$LOOP")
ok $? "6: a container runs on persist before dockerd restarts"
before_ls=$(our_volumes)
before_facts=$(volume_facts)
dockerd_restart
ok $? "6: dockerd restarted on the same data-root"
is "$(our_volumes)" "$before_ls" "6: docker volume ls shows the same volumes"
is "$(volume_facts)" "$before_facts" "6: inspect shows the same drivers, mountpoints and CreatedAt"
is "$(vol persist .Status.mounts)" "0" \
	"6: dockerd's graceful shutdown released the running container's mount"
is "$(RUN --rm -v data1:/data "$IMG" cat /data/f 2>&1)" "hi" \
	"6: volumes still work after the dockerd restart"
DK rm -f "$c5" >/dev/null

# ---------------------------------------------------- teardown

ids=$(DK ps -aq)
[ -z "$ids" ] || DK rm -f $ids >/dev/null
dockerd_stop
vw_stop
ok $? "volwarden exits 0 on SIGTERM"
ok "$([ ! -e "$VW_SOCK" ]; echo $?)" "the socket $VW_SOCK is gone"
diag "runtime: $(($(date +%s) - T0)) s"
[ "$_tap_failed" -eq 0 ] || dump_logs
done_testing
