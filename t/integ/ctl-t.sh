#!/bin/bash
# volwardenctl and the admin socket: every subcommand against a running
# daemon (table and --json), the exit statuses, the socket's mode, a
# non-root client refused by the mode and, with the mode loosened by hand,
# by the SO_PEERCRED check; then check, which needs no daemon.
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir
. "$top_srcdir/t/lib/functions.sh"

requires_root
requires curl --version
requires jq --version
requires setpriv --version
requires id "$VW_TEST_USER"

CTL="$top_builddir/volwardenctl"
RFC3339='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$'
ZERO=0000000000000000
HCAPS=000000000000001b
idA=$(printf 'a%.0s' $(seq 64))

# ctl ARGS...: run volwardenctl on the test's admin socket; sets OUT, ERR
# and RC.
ctl() {
	"$CTL" --socket "$VW_ADMIN" "$@" >"$TESTDIR/out" 2>"$TESTDIR/err"
	RC=$?
	OUT=$(<"$TESTDIR/out")
	ERR=$(<"$TESTDIR/err")
}
# as_nobody CMD...: run CMD as uid/gid 65534 without groups or capabilities.
as_nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
}
# metric NAME{LABELS}: the value of one sample in $OUT.
metric() {
	printf '%s\n' "$OUT" | awk -v k="$1" '$1 == k { print $2; exit }'
}

# ------------------------------------------------------------ set-up
out=$("$VOLWARDEN" --no-config --run-dir "$TESTDIR/r" \
    --admin-socket "$TESTDIR/r/admin.sock" --check 2>&1)
rc=$?
ok "$([ $rc -ne 0 ]; echo $?)" "an admin socket inside run_dir is refused (exit $rc)"
like "$out" 'admin_socket: .* lies in run_dir' "... naming the key and the reason"

vw_start || bail_out "volwarden did not start"
is "$(stat -c '%a %U %G' "$VW_ADMIN" 2>&1)" "600 root root" \
    "the admin socket is mode 0600, owner root, group root"
is "$(stat -c '%a %U' "$(dirname "$VW_ADMIN")" 2>&1)" "755 root" \
    "its directory was created 0755, owned by root"
vw_call VolumeDriver.Create '{"Name":"cv1","Opts":{"uid":"1000","mode":"0750"}}' >/dev/null
vw_call VolumeDriver.Create '{"Name":"cv0"}' >/dev/null
vw_call VolumeDriver.Mount "{\"Name\":\"cv1\",\"ID\":\"$idA\"}" >/dev/null
vw_call VolumeDriver.Get '{"Name":"missing"}' >/dev/null
H=$(vw_helper_pids | tr -s ' \n' ' ' | sed 's/^ //; s/ $//')

# ---------------------------------------------------------------- ls
ctl ls
is "$RC" 0 "ls: exit 0"
is "$(printf '%s\n' "$OUT" | head -1 | tr -s ' ')" "DRIVER NAME MOUNTS CREATED MOUNTPOINT" \
    "ls: a header line"
is "$(printf '%s\n' "$OUT" | tail -n +2 | awk '{ print $1, $2, $3, $5 }' | tr '\n' ';')" \
    "volwarden cv0 0 $TESTDIR/volumes/cv0;volwarden cv1 1 $TESTDIR/volumes/cv1;" \
    "ls: one line per volume, sorted by name, with driver, mounts and mountpoint"
ctl --json ls
is "$RC" 0 "ls --json: exit 0"
ok "$(printf '%s' "$OUT" | jq -e . >/dev/null 2>&1; echo $?)" "ls --json: parses with jq"
is "$(json_get "$OUT" '[.volumes[].name] | join(",")')" "cv0,cv1" "ls --json: both volumes, sorted"
is "$(json_get "$OUT" '.volumes[1] | [.driver, .backend, .mountpoint, .mounts] | join(" ")')" \
    "volwarden dir $TESTDIR/volumes/cv1 1" "ls --json: driver, backend, mountpoint, mounts"
like "$(json_get "$OUT" '.volumes[1].created')" "$RFC3339" "ls --json: created is RFC 3339"
is "$(json_get "$OUT" '.volumes[1].options | tojson')" '{"uid":"1000","mode":"0750"}' \
    "ls --json: the options given at Create"
ctl --json ls --driver volwarden
is "$(json_get "$OUT" '.volumes | length')" 2 "ls --driver volwarden: both volumes"
ctl ls --driver nosuch
is "$RC" 1 "ls --driver of an unknown driver: exit 1"
like "$ERR" 'no driver called nosuch' "... naming it"

# ----------------------------------------------------------- inspect
ctl inspect cv1
is "$RC" 0 "inspect cv1: exit 0"
like "$OUT" "mountpoint: +$TESTDIR/volumes/cv1" "inspect: the mountpoint"
like "$OUT" 'options: +uid=1000 mode=0750' "inspect: the options"
like "$OUT" "mount ID: +$idA \\(1\\)" "inspect: the mount ID and its count"
ctl --json inspect cv1
ok "$(printf '%s' "$OUT" | jq -e . >/dev/null 2>&1; echo $?)" "inspect --json: parses with jq"
is "$(json_get "$OUT" '[.name, .driver, (.mounts|tostring), .mount_ids[0].id, (.mount_ids[0].count|tostring)] | join(" ")')" \
    "cv1 volwarden 1 $idA 1" "inspect --json: name, driver, mounts, mount IDs"
ctl inspect --driver volwarden cv0
is "$RC" 0 "inspect --driver volwarden cv0: exit 0"
ctl inspect nosuch
is "$RC" 1 "inspect of an unknown volume: exit 1"
like "$ERR" 'volume nosuch does not exist' "... with the daemon's message"
ctl inspect '../etc'
is "$RC" 1 "inspect of an invalid name: exit 1"
out=$(curl -s --max-time 5 --unix-socket "$VW_ADMIN" 'http://admin/v1/volumes/..%2Fetc')
like "$out" '"error":"volume \\"..%2Fetc\\": ' "the API refuses an encoded invalid name"

# ------------------------------------------------------------ status
ctl status
is "$RC" 0 "status: exit 0"
like "$OUT" "frontend +pid $VW_PID, user $VW_TEST_USER" "status: the frontend's pid and user"
like "$OUT" "helper +pid $H, capabilities $HCAPS \\(chown dac_override fowner fsetid\\)" \
    "status: the helper's pid and capabilities"
like "$OUT" 'volumes +2, 1 in use' "status: volume and in-use counts"
ctl --json status
ok "$(printf '%s' "$OUT" | jq -e . >/dev/null 2>&1; echo $?)" "status --json: parses with jq"
# Sanitizer builds run without seccomp filters by default.
if grep -q '^#define VW_SANITIZERS' "$top_builddir/vw-build.h" 2>/dev/null; then
	SECCOMP="off false"
else
	SECCOMP="kill true"
fi
is "$(json_get "$OUT" '.frontend | [.pid, .uid, .capabilities.effective, .capabilities.bounding, .no_new_privs, .seccomp, .seccomp_filter] | map(tostring) | join(" ")')" \
    "$VW_PID $(id -u "$VW_TEST_USER") $ZERO $ZERO true $SECCOMP" \
    "status --json: frontend pid, uid, no capabilities, no_new_privs, seccomp mode ($SECCOMP)"
ok "$(json_get "$OUT" '.frontend.uptime_seconds >= 0 and (.frontend.started | test("Z$"))' | grep -qx true; echo $?)" \
    "status --json: uptime and start time"
is "$(json_get "$OUT" '.drivers[0] | [.name, .backend, .socket, .root, .volumes, .mounts_in_use, .helper.pid, .helper.capabilities, .socket_activated] | map(tostring) | join(" ")')" \
    "volwarden dir $VW_SOCK $TESTDIR/volumes 2 1 $H $HCAPS false" \
    "status --json: the driver's socket, root, counts and helper"

# ----------------------------------------------------------- metrics
ctl metrics
is "$RC" 0 "metrics: exit 0"
is "$(metric 'volwarden_requests_total{driver="volwarden",endpoint="VolumeDriver.Create"}')" 2 \
    "metrics: requests_total counts the two Creates"
is "$(metric 'volwarden_errors_total{driver="volwarden",endpoint="VolumeDriver.Get"}')" 1 \
    "metrics: errors_total counts the Get of a missing volume"
is "$(metric 'volwarden_errors_total{driver="volwarden",endpoint="VolumeDriver.Create"}')" 0 \
    "metrics: no Create failed"
is "$(metric 'volwarden_request_duration_seconds_count{driver="volwarden",endpoint="VolumeDriver.Mount"}')" 1 \
    "metrics: the latency histogram of Mount has one observation"
is "$(metric 'volwarden_request_duration_seconds_bucket{driver="volwarden",endpoint="VolumeDriver.Mount",le="+Inf"}')" 1 \
    "... and its +Inf bucket too"
is "$(metric 'volwarden_helper_roundtrip_seconds_count{driver="volwarden",op="create"}')" 2 \
    "metrics: two helper round trips for create"
is "$(metric 'volwarden_volumes{driver="volwarden"}')" 2 "metrics: volwarden_volumes"
is "$(metric 'volwarden_mounts_in_use{driver="volwarden"}')" 1 "metrics: volwarden_mounts_in_use"
bad=$(printf '%s\n' "$OUT" | grep -v '^# \(HELP\|TYPE\) ' |
    grep -Evc '^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9]+(\.[0-9]+)?$')
is "$bad" 0 "metrics: every line is a HELP, TYPE or sample line"
ok "$(printf '%s\n' "$OUT" | awk '
    /_bucket\{/ { k = $1; sub(/,le="[^"]*"\}/, "", k); if (k == prev && $2 < last) bad = 1; prev = k; last = $2 }
    END { exit bad }'; echo $?)" "metrics: histogram buckets are cumulative"
hdr=$(curl -s -D - -o /dev/null --max-time 5 --unix-socket "$VW_ADMIN" http://admin/metrics)
like "$hdr" 'Content-Type: text/plain; version=0.0.4' "metrics: Prometheus' content type"

# ----------------------------------------------------- usage and errors
"$CTL" --socket "$VW_ADMIN" >/dev/null 2>&1
is "$?" 2 "no command: exit 2"
"$CTL" --socket "$VW_ADMIN" frobnicate >/dev/null 2>&1
is "$?" 2 "an unknown command: exit 2"
"$CTL" --socket "$VW_ADMIN" inspect >/dev/null 2>&1
is "$?" 2 "inspect without a volume: exit 2"
"$CTL" --socket "$VW_ADMIN" --bogus ls >/dev/null 2>&1
is "$?" 2 "an unknown option: exit 2"
"$CTL" --socket "$TESTDIR/nothing.sock" ls >/dev/null 2>"$TESTDIR/err"
is "$?" 3 "a socket nobody serves: exit 3"
like "$(<"$TESTDIR/err")" 'cannot connect' "... saying so"
out=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --unix-socket "$VW_ADMIN" \
    -X POST http://admin/v1/status)
is "$out" 405 "the admin API refuses POST on a GET path (HTTP 405)"
# Snapshots are btrfs's (btrfs-t.sh); a dir volume has none.
ctl snapshot create cv1 s1
is "$RC" 1 "snapshot create on a dir volume: exit 1"
like "$ERR" 'driver volwarden \(backend dir\) has no snapshots' "... the backend has none"
ctl snapshot ls cv1
is "$RC" 1 "snapshot ls on a dir volume: exit 1"

# ------------------------------------------------------- non-root peers
chmod 0711 "$TESTDIR"
as_nobody "$CTL" --socket "$VW_ADMIN" status >/dev/null 2>"$TESTDIR/err"
rc=$?
is "$rc" 3 "volwardenctl as nobody: the 0600 socket cannot be opened (exit 3)"
like "$(<"$TESTDIR/err")" 'Permission denied' "... permission denied"
nlog=$(wc -l <"$VW_LOG")
chmod 0666 "$VW_ADMIN"
out=$(as_nobody curl -s -i --max-time 5 --unix-socket "$VW_ADMIN" http://admin/v1/volumes)
like "$out" '^HTTP/1.1 403' "socket loosened to 0666: curl as nobody gets 403 (SO_PEERCRED)"
like "$out" 'Connection: close' "... and the connection is closed"
unlike "$out" 'cv1' "... and no volume data"
as_nobody "$CTL" --socket "$VW_ADMIN" ls >/dev/null 2>"$TESTDIR/err"
is "$?" 1 "volwardenctl as nobody through the loosened socket: exit 1"
like "$(<"$TESTDIR/err")" 'for root only' "... with the daemon's refusal"
like "$(tail -n +$((nlog + 1)) "$VW_LOG")" 'admin socket: refused uid 65534' \
    "the daemon logs the refused uid"
chmod 0600 "$VW_ADMIN"
chmod 0700 "$TESTDIR"
ctl status
is "$RC" 0 "root is still served afterwards"

# The in-use gauge follows the last Unmount.
vw_call VolumeDriver.Unmount "{\"Name\":\"cv1\",\"ID\":\"$idA\"}" >/dev/null
ctl metrics
is "$(metric 'volwarden_mounts_in_use{driver="volwarden"}')" 0 \
    "metrics: volwarden_mounts_in_use drops to 0 after the Unmount"
ctl --json status
is "$(json_get "$OUT" '.drivers[0].mounts_in_use')" 0 "status: 0 in use"

# ------------------------------------------------------------- check
CHECK_ARGS=(--no-config --socket-dir "$TESTDIR/sock" --state-dir "$TESTDIR/state"
    --run-dir "$TESTDIR/run" --root "$TESTDIR/volumes" --user "$VW_TEST_USER"
    --admin-socket "$VW_ADMIN")
out=$("$CTL" "${CHECK_ARGS[@]}" check 2>&1)
rc=$?
is "$rc" 0 "check on the test's configuration: exit 0"
is "$(printf '%s\n' "$out" | grep -Evc '^(ok|info) ')" 0 "check: every line is ok or info"
like "$out" "ok +driver volwarden +root $TESTDIR/volumes: owner root" "check: the driver root"
like "$out" 'filesystem (btrfs|xfs|ext4|erofs|fuse)' "check: reports the file systems later backends need"
like "$out" 'loop devices' "check: reports /dev/loop-control"
out=$("$CTL" --json "${CHECK_ARGS[@]}" check)
ok "$(printf '%s' "$out" | jq -e . >/dev/null 2>&1; echo $?)" "check --json: parses with jq"
is "$(json_get "$out" '.ok')" true "check --json: ok is true"
is "$(json_get "$out" '[.checks[].status | select(. != "ok" and . != "info")] | length')" 0 \
    "check --json: no fix"
mkdir -m 0777 "$TESTDIR/loose"
out=$("$CTL" --no-config --root "$TESTDIR/loose" --admin-socket "$VW_ADMIN" check)
is "$?" 1 "check with a group/other-writable driver root: exit 1"
like "$out" "^fix +driver volwarden +root $TESTDIR/loose has owner uid 0 and mode 0777; fix: .*chmod go-w $TESTDIR/loose" \
    "... with a fix line naming the chmod"
out=$("$CTL" --json --no-config --root "$TESTDIR/loose" check)
is "$(json_get "$out" '.ok')" false "check --json: ok is false then"
out=$("$CTL" --config "$TESTDIR/missing.json" check)
is "$?" 1 "check with a missing configuration file: exit 1"
like "$out" '^fix +config +cannot open config file' "... with a fix line for the config"

# --------------------------------------------------------- daemon gone
vw_stop
ok $? "volwarden stops with status 0"
ok "$([ ! -e "$VW_ADMIN" ]; echo $?)" "the admin socket is removed at exit"
ctl ls
is "$RC" 3 "ls without a daemon: exit 3"
out=$("$CTL" "${CHECK_ARGS[@]}" check 2>&1)
is "$?" 0 "check needs no daemon: exit 0"

done_testing
