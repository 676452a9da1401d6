#!/bin/bash
# The glusterfs backend against a real glusterd, with two volwarden
# "nodes" sharing one Gluster volume and a real dockerd on node A.
#
# glusterd runs in the foreground (-N) with its own working directory
# under TESTDIR (so /var/lib/glusterd is never touched), on a one-brick
# volume made with force.  Every process is stopped by PID: glusterd from
# $!, the brick from its pid file under /var/run/gluster/vols, the FUSE
# clients from the pid files volwarden's keepers give them.  What glusterd
# leaves in /var/run/gluster and /var/log/glusterfs for this volume is
# removed at the end.
#
# Covered: scope global; create and write through a container; the data
# on the brick and through node B's mount; B lists what A made; Remove on
# A refused while B has the volume mounted, allowed after B unmounts;
# a dead node's lease expires; names with .. and /; servers stopped: fast
# clear errors while a dir driver keeps answering, recovery after restart;
# the FUSE client killed: mounted again.

if [ -z "${top_srcdir:-}" ]; then
	top_srcdir=$(cd "$(dirname "$0")/../.." && pwd)
fi
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
. "$top_srcdir/t/lib/functions.sh"

requires_root
for c in glusterd gluster dockerd docker jq curl timeout getent; do
	command -v "$c" >/dev/null 2>&1 || skip_all "requires $c (scripts/install-deps.sh --test)"
done
[ -x /usr/sbin/glusterfs ] || skip_all "requires the glusterfs FUSE client"
[ -c /dev/fuse ] || skip_all "requires /dev/fuse"
[ -x /bin/busybox ] || skip_all "requires /bin/busybox (static) for the test image"
[ -x "$VOLWARDEN" ] && [ -x "$top_builddir/volwarden-gfapi-agent" ] ||
	skip_all "volwarden is not built with glusterfs in $top_builddir"
id "$VW_TEST_USER" >/dev/null 2>&1 || skip_all "requires user $VW_TEST_USER"
# One glusterd per host: its port and /var/run/glusterd.socket are fixed.
if (exec 3<>/dev/tcp/127.0.0.1/24007) 2>/dev/null; then
	skip_all "something already listens on port 24007 (another glusterd)"
fi
# The brick's host must be this machine, on the loopback (no traffic
# leaves it).
GHOST=$(hostname)
case "$(getent hosts "$GHOST" | awk '{print $1; exit}')" in
127.*) ;;
*) GHOST=localhost ;;
esac

T0=$(date +%s)
VOL="vwt$$"
BRICK="$TESTDIR/brick/b"
GWD="$TESTDIR/glusterd"
GDRV="vwtg$$"		# the glusterfs driver (same name on both nodes)
DDRV="vwtd$$"		# a dir driver on node A
IMG="vwt-busybox"
A="$TESTDIR/a"
B="$TESTDIR/b"
ASOCK="/run/docker/plugins/$GDRV.sock"
DSOCK="/run/docker/plugins/$DDRV.sock"
BSOCK="$B/sock/$GDRV.sock"
TTL=6
mkdir -p "$GWD" "$BRICK" "$A" "$B"
chmod 0755 "$TESTDIR"

# What glusterd may leave behind that was not there before.
RUNBEFORE=$(ls -A /var/run/gluster 2>/dev/null)
SOCKBEFORE=$([ -e /var/run/glusterd.socket ] && echo yes)

# ------------------------------------------------------------ glusterd

cat >"$TESTDIR/glusterd.vol" <<EOF
volume management
    type mgmt/glusterd
    option working-directory $GWD
    option transport-type socket
    option transport.socket.listen-port 24007
    option ping-timeout 0
    option event-threads 1
end-volume
EOF

glusterd_start() {
	local i
	glusterd -N -f "$TESTDIR/glusterd.vol" -l "$TESTDIR/glusterd.log" \
		-p "$TESTDIR/glusterd.pid" >/dev/null 2>&1 &
	GLUSTERD_PID=$!
	for i in $(seq 1 100); do
		kill -0 "$GLUSTERD_PID" 2>/dev/null || return 1
		gluster --mode=script pool list >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# The brick's pid, from the pid file glusterd gives it.
brick_pid() { cat /var/run/gluster/vols/"$VOL"/*.pid 2>/dev/null | head -1; }

# wait_gone PID: up to 10 s for a process to exit.
wait_gone() {
	local i
	for i in $(seq 1 100); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# Stop the brick and glusterd by PID (the "servers going away").
servers_stop() {
	local bp
	bp=$(brick_pid)
	[ -n "$bp" ] && kill -TERM "$bp" 2>/dev/null
	if [ -n "${GLUSTERD_PID:-}" ]; then
		kill -TERM "$GLUSTERD_PID" 2>/dev/null
		wait "$GLUSTERD_PID" 2>/dev/null
		GLUSTERD_PID=
	fi
	[ -z "$bp" ] || wait_gone "$bp" || kill -9 "$bp" 2>/dev/null
}

gluster_teardown() {
	local f
	if [ -n "${GLUSTERD_PID:-}" ]; then
		gluster --mode=script volume stop "$VOL" force >/dev/null 2>&1
		gluster --mode=script volume delete "$VOL" >/dev/null 2>&1
	fi
	servers_stop
	# Everything glusterd made in the shared run directory for us.
	for f in $(ls -A /var/run/gluster 2>/dev/null); do
		case "$RUNBEFORE" in *"$f"*) continue ;; esac
		rm -rf "/var/run/gluster/$f"
	done
	rm -rf "/var/run/gluster/vols/$VOL"
	[ -n "$SOCKBEFORE" ] || rm -f /var/run/glusterd.socket
	rm -f /var/log/glusterfs/bricks/"$(echo "${BRICK#/}" | tr / -)".log
	rm -f /var/log/glusterfs/"$(echo "${A#/}/gmnt" | tr / -)".log \
		/var/log/glusterfs/"$(echo "${B#/}/gmnt" | tr / -)".log
}
cleanup_fn gluster_teardown

glusterd_start || bail_out "glusterd did not start: $(tail -5 "$TESTDIR/glusterd.log")"
out=$(gluster --mode=script volume create "$VOL" "$GHOST:$BRICK" force 2>&1) &&
	out=$(gluster --mode=script volume start "$VOL" 2>&1)
ok $? "glusterd runs (pid $GLUSTERD_PID) with one-brick volume $VOL on $GHOST ($out)"
[ -n "$(brick_pid)" ] || bail_out "no brick process for $VOL"

# ------------------------------------------------------------ two nodes

# node_conf DIR SOCKDIR NODE [DIR-DRIVER]: a configuration for one node.
node_conf() {
	local dirdrv=""
	[ -n "${4:-}" ] && dirdrv="{\"name\": \"$4\", \"backend\": \"dir\", \"root\": \"$1/vols\"},"
	cat >"$1/volwarden.json" <<EOF
{
  "user": "$VW_TEST_USER",
  "state_dir": "$1/state", "run_dir": "$1/run", "socket_dir": "$2",
  "admin_socket": "$1/admin/admin.sock",
  "drivers": [ $dirdrv
    {"name": "$GDRV", "backend": "glusterfs", "root": "$1/gmnt",
     "volume": "$VOL", "servers": ["$GHOST"], "subdir": "docker",
     "node": "$3", "lease_ttl": $TTL, "on_remove": "delete"}
  ]
}
EOF
	chmod 0644 "$1/volwarden.json"
}
node_conf "$A" /run/docker/plugins node-a "$DDRV"
node_conf "$B" "$B/sock" node-b
cleanup_fn "rm -f '$ASOCK' '$DSOCK'"

# node_start A|B: start that node's volwarden; sets APID or BPID.
node_start() {
	local d=$A sock=$ASOCK
	[ "$1" = B ] && { d=$B; sock=$BSOCK; }
	VW_CUSTOM=1 VW_SOCK=$sock VW_LOG="$d/volwarden.log" VW_ADMIN="$d/admin/admin.sock" \
		vw_start --config "$d/volwarden.json" || return 1
	eval "${1}PID=\$VW_PID"
}
fuse_pid() { cat "$1/admin/gluster-$GDRV.pid" 2>/dev/null; }
# Stop a node by PID and make sure its FUSE client went with it.
node_stop() {
	local d=$A pid fp
	[ "$1" = B ] && d=$B
	pid=$(eval echo "\${${1}PID:-}")
	[ -n "$pid" ] || return 0
	fp=$(fuse_pid "$d")
	kill -TERM "$pid" 2>/dev/null
	wait_gone "$pid" || kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	eval "${1}PID="
	[ -z "$fp" ] || wait_gone "$fp" || { kill -9 "$fp" 2>/dev/null; return 1; }
	return 0
}
all_stop() {
	local fp d
	node_stop A; node_stop B
	for d in "$A" "$B"; do
		fp=$(fuse_pid "$d")
		[ -n "$fp" ] && kill -9 "$fp" 2>/dev/null
		umount -l "$d/gmnt" 2>/dev/null
	done
	rm -f "$ASOCK" "$DSOCK"
}
cleanup_fn all_stop

node_start A || bail_out "node A did not start: $(grep -v debug "$A/volwarden.log" | tail -5)"
node_start B || bail_out "node B did not start: $(grep -v debug "$B/volwarden.log" | tail -5)"
pass "two volwarden nodes serve Gluster volume $VOL (pids $APID, $BPID)"

# call SOCK ENDPOINT [BODY]: one plugin request (prints the body).
call() { SOCK=$1 vw_call "$2" "${3-}"; }
# timed SOCK ENDPOINT BODY: like call, and sets SECS to the time it took.
timed() {
	local t0 t1
	t0=$(date +%s%N)
	OUT=$(call "$@")
	t1=$(date +%s%N)
	SECS=$(( (t1 - t0) / 1000000 ))
	SECS="$((SECS / 1000)).$(printf %03d $((SECS % 1000)))"
}
# below SECS LIMIT: SECS < LIMIT (decimals).
below() { awk -v s="$1" -v l="$2" 'BEGIN { exit !(s < l) }'; }
has() {
	case "$1" in
	*"$2"*) ok 0 "$3" ;;
	*) ok 1 "$3"; diag "got:            '$1'"; diag "should contain: '$2'" ;;
	esac
}
# until_ok SECONDS CMD...: retry CMD every 0.5 s; sets WAITED (seconds).
until_ok() {
	local n=$(( $1 * 2 )) i
	shift
	for i in $(seq 1 "$n"); do
		"$@" && { WAITED=$(( i / 2 )); return 0; }
		sleep 0.5
	done
	WAITED=$(( n / 2 ))
	return 1
}
lists() { call "$1" VolumeDriver.List '{}' | jq -e --arg n "$2" '.Volumes[] | select(.Name == $n)' >/dev/null; }
not_lists() { ! lists "$@"; }

is "$(call "$ASOCK" VolumeDriver.Capabilities '{}' | jq -r .Capabilities.Scope)" "global" \
	"Capabilities: the glusterfs driver answers scope global"
is "$(call "$DSOCK" VolumeDriver.Capabilities '{}' | jq -r .Capabilities.Scope)" "local" \
	"Capabilities: the dir driver of the same daemon answers scope local"
ok "$([ "$(stat -f -c %t "$A/gmnt")" = 65735546 ]; echo $?)" \
	"node A has the Gluster volume FUSE-mounted at its driver root"
agent=$(for h in $(cat "/proc/$APID/task/$APID/children"); do
	cat "/proc/$h/task/$h/children"; done | tr ' ' '\n' | while read -r p; do
	[ -n "$p" ] && tr '\0' ' ' <"/proc/$p/cmdline" | grep -q "gfapi-agent --driver-name $GDRV" && echo "$p"
	done)
is "$(ps -o user= -p "$agent" | tr -d ' ')" "$VW_TEST_USER" \
	"the gfapi agent runs as $VW_TEST_USER, not root"

# ------------------------------------------------------------ docker

dockerd_start || bail_out "cannot start dockerd: $(tail -3 "$TESTDIR/docker/dockerd.log")"
busybox_image "$IMG" || bail_out "cannot import the busybox image"
DK() { timeout 90 $DOCKER "$@"; }
docker_cleanup() {
	local ids
	[ -n "${DOCKERD_PID:-}" ] || return 0
	ids=$(timeout 30 $DOCKER ps -aq 2>/dev/null)
	[ -n "$ids" ] && timeout 60 $DOCKER rm -f $ids
	dockerd_stop
}
cleanup_fn docker_cleanup

is "$(DK volume create -d "$GDRV" gdata 2>&1)" "gdata" "docker volume create -d $GDRV gdata"
ok "$([ -d "$BRICK/docker/gdata" ]; echo $?)" "the volume is a directory of the Gluster volume (on the brick)"
DK run --rm --network none -v gdata:/data "$IMG" sh -c 'echo hello from A > /data/f'
ok $? "a container on node A writes into the volume"
is "$(cat "$BRICK/docker/gdata/f" 2>&1)" "hello from A" "the data is on the brick"
js=$(DK volume inspect gdata)
is "$(json_get "$js" '.[0].Status.gluster_volume')" "$VOL" "inspect: Status.gluster_volume"
is "$(json_get "$js" '.[0].Status.gluster_path')" "/docker/gdata" "inspect: Status.gluster_path"
has "$(json_get "$js" '.[0].Status.fuse_mount')" "(mounted)" "inspect: Status.fuse_mount says mounted"

# ------------------------------------------------------------ node B

until_ok 20 lists "$BSOCK" gdata
ok $? "node B lists gdata, made on node A (after ${WAITED} s)"
is "$(call "$BSOCK" VolumeDriver.Get '{"Name":"gdata"}' | jq -r .Volume.Mountpoint)" \
	"$B/gmnt/docker/gdata" "node B: Get gives its own mount path"
mp=$(call "$BSOCK" VolumeDriver.Mount '{"Name":"gdata","ID":"b1"}' | jq -r .Mountpoint)
is "$mp" "$B/gmnt/docker/gdata" "node B mounts gdata"
is "$(cat "$mp/f" 2>&1)" "hello from A" "node B reads A's data through its FUSE mount"
shows_lease() { call "$ASOCK" VolumeDriver.Get '{"Name":"gdata"}' | jq -r .Volume.Status.mounted_elsewhere | grep -q node-b; }
until_ok 10 shows_lease
ok $? "node A's Get shows node B's lease in Status.mounted_elsewhere"

out=$(DK volume rm gdata 2>&1)
rc=$?; ok $((rc == 0)) "docker volume rm on node A is refused while node B has gdata mounted"
has "$out" "mounted on node node-b" "the error names node B"
ok "$([ -f "$BRICK/docker/gdata/f" ]; echo $?)" "the data is still there"
is "$(call "$BSOCK" VolumeDriver.Unmount '{"Name":"gdata","ID":"b1"}')" "{}" "node B unmounts"
is "$(DK volume rm gdata 2>&1)" "gdata" "then docker volume rm on node A succeeds"
ok "$([ ! -e "$BRICK/docker/gdata" ]; echo $?)" "on_remove delete: the directory is gone from the brick"
until_ok 20 not_lists "$BSOCK" gdata
ok $? "node B no longer lists gdata (after ${WAITED} s)"

# ------------------------------------------------------------ names

for name in '../x' 'a/b' '..' '/etc'; do
	body=$(jq -cn --arg n "$name" '{Name: $n}')
	has "$(call "$ASOCK" VolumeDriver.Create "$body" | jq -r .Err)" "invalid volume name" \
		"Create of '$name' is refused"
done
is "$(ls -A "$BRICK/docker" | grep -v '^\.volwarden$' | tr '\n' ' ')" "" \
	"nothing was created in the Gluster volume for them"

# ------------------------------------------------------------ a dead node

is "$(call "$ASOCK" VolumeDriver.Create '{"Name":"gexp"}')" "{}" "node A creates gexp"
until_ok 20 lists "$BSOCK" gexp
mp=$(call "$BSOCK" VolumeDriver.Mount '{"Name":"gexp","ID":"b2"}' | jq -r .Mountpoint)
is "$mp" "$B/gmnt/docker/gexp" "node B mounts gexp"
bfuse=$(fuse_pid "$B")
kill -9 "$BPID"
wait "$BPID" 2>/dev/null
BPID=
ok "$(wait_gone "$bfuse"; echo $?)" "node B killed with SIGKILL: its FUSE client (pid $bfuse) goes too"
has "$(call "$ASOCK" VolumeDriver.Remove '{"Name":"gexp"}' | jq -r .Err)" "node-b" \
	"Remove on node A is refused while B's lease lives"
t0=$(date +%s)
until_ok $((TTL * 3)) sh -c "[ \"\$(curl -s --unix-socket '$ASOCK' -X POST http://p/VolumeDriver.Remove -d '{\"Name\":\"gexp\"}')\" = '{}' ]"
ok $? "after the lease expired (TTL $TTL s) Remove succeeds ($(( $(date +%s) - t0 )) s later)"
rm -f "$BSOCK"

# ------------------------------------------------------------ servers away

is "$(call "$ASOCK" VolumeDriver.Create '{"Name":"gkeep"}')" "{}" "node A creates gkeep"
servers_stop
ok "$([ -z "$(brick_pid)" ] || ! kill -0 "$(brick_pid)" 2>/dev/null; echo $?)" \
	"glusterd and the brick are stopped"
timed "$ASOCK" VolumeDriver.Create '{"Name":"gdown"}'
err=$(json_get "$OUT" .Err)
ok "$(below "$SECS" 5; echo $?)" "Create with the servers down answers in ${SECS} s (< 5 s)"
has "$err" "servers $GHOST" "the error names the servers"
has "$err" "Transport endpoint is not connected" "and Gluster's error"
timed "$ASOCK" VolumeDriver.Mount '{"Name":"gkeep","ID":"a9"}'
ok "$(below "$SECS" 5; echo $?)" "Mount with the servers down answers in ${SECS} s (< 5 s)"
has "$(json_get "$OUT" .Err)" "not reachable" "with a clear error: $(json_get "$OUT" .Err | cut -c1-80)..."
timed "$ASOCK" VolumeDriver.Get '{"Name":"gkeep"}'
ok "$(below "$SECS" 1; echo $?)" "Get still answers at once (${SECS} s)"
is "$(json_get "$OUT" .Volume.Name)" "gkeep" "and knows the volume"
timed "$ASOCK" VolumeDriver.List '{}'
ok "$(below "$SECS" 1; echo $?)" "List still answers at once (${SECS} s)"
has "$OUT" '"gkeep"' "and lists the volume"
timed "$DSOCK" VolumeDriver.Create '{"Name":"local1"}'
is "$OUT" "{}" "the dir driver in the same daemon still creates volumes (${SECS} s)"
is "$(call "$DSOCK" VolumeDriver.List '{}' | jq -r '.Volumes[].Name')" "local1" "and lists them"

glusterd_start || bail_out "glusterd did not restart"
pass "glusterd restarted (pid $GLUSTERD_PID); it starts the brick again"
until_ok 60 sh -c "[ \"\$(curl -s --unix-socket '$ASOCK' -X POST http://p/VolumeDriver.Create -d '{\"Name\":\"gdown\"}')\" = '{}' ]"
ok $? "node A reconnects by itself: Create succeeds ${WAITED} s after the restart"
mp=$(call "$ASOCK" VolumeDriver.Mount '{"Name":"gkeep","ID":"a9"}' | jq -r .Mountpoint)
is "$mp" "$A/gmnt/docker/gkeep" "Mount works again"
echo back >"$mp/f" 2>/dev/null
is "$(cat "$BRICK/docker/gkeep/f" 2>&1)" "back" "writes through the FUSE mount reach the brick again"
call "$ASOCK" VolumeDriver.Unmount '{"Name":"gkeep","ID":"a9"}' >/dev/null

# ------------------------------------------------------------ FUSE death

old=$(fuse_pid "$A")
kill -9 "$old"
remounted() { [ "$(fuse_pid "$A")" != "$old" ] && [ "$(stat -f -c %t "$A/gmnt" 2>/dev/null)" = 65735546 ]; }
until_ok 20 remounted
ok $? "the FUSE client killed (pid $old): node A mounts again (new pid $(fuse_pid "$A"), ${WAITED} s)"
is "$(grep -c " $A/gmnt " /proc/mounts)" "1" "exactly one mount at the driver root"
DK run --rm --network none -v gkeep:/data "$IMG" cat /data/f >"$TESTDIR/out" 2>&1
is "$(cat "$TESTDIR/out")" "back" "a container reads the volume through the new mount"

# ------------------------------------------------------------ teardown

docker_cleanup
afuse=$(fuse_pid "$A")
node_stop A
ok $? "node A stops on SIGTERM, and its FUSE client (pid $afuse) with it"
ok "$(! grep -q " $A/gmnt " /proc/mounts; echo $?)" "the Gluster mount is gone"
ok "$([ ! -e "$A/admin/gluster-$GDRV.pid" ]; echo $?)" "the FUSE client's pid file is removed"
unlike "$(grep -h -E 'SIGSYS|seccomp violation|not in the allowlist' "$A/volwarden.log" "$B/volwarden.log")" . \
	"no process was stopped by its seccomp filter"
diag "runtime: $(($(date +%s) - T0)) s"
if [ "$_tap_failed" -ne 0 ]; then
	diag "--- node A"; diag "$(grep -v ': debug: ' "$A/volwarden.log" | tail -25)"
	diag "--- node B"; diag "$(grep -v ': debug: ' "$B/volwarden.log" | tail -15)"
fi
done_testing
