#!/bin/bash
# limits.helper_timeout: with the helper stopped (SIGSTOP stands in for a
# hung file system), state-changing requests are answered with a clear
# error at their deadline while Get, List and Activate answer at once;
# when the helper resumes, its late replies leave the state matching what
# it really did: a late Create is registered, a late Remove removes, a
# late Mount is undone, a late Unmount releases its reference, and a
# request that never started is cancelled.  The same holds after a
# restart.
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir
. "$top_srcdir/t/lib/functions.sh"

requires_root
requires curl --version
requires jq --version
requires id "$VW_TEST_USER"

ROOT="$TESTDIR/volumes"
CFG="$TESTDIR/volwarden.json"
cat >"$CFG" <<JSON
{"user": "$VW_TEST_USER", "state_dir": "$TESTDIR/state",
 "run_dir": "$TESTDIR/run", "socket_dir": "$TESTDIR/sock",
 "limits": {"helper_timeout": 2},
 "drivers": [{"name": "volwarden", "backend": "dir", "root": "$ROOT",
              "on_remove": "delete"}]}
JSON
chmod 0600 "$CFG"
export VW_CUSTOM=1
vw_start --config "$CFG" || bail_out "volwarden did not start"
like "$("$VOLWARDEN" --check --config "$CFG")" '"helper_timeout": 2' \
	"--check shows limits.helper_timeout"

req() {	# req ENDPOINT NAME [ID]: prints the reply (curl waits at most 20 s)
	local b
	if [ -n "${3-}" ]; then
		b=$(jq -nc --arg n "$2" --arg i "$3" '{Name: $n, ID: $i}')
	else
		b=$(jq -nc --arg n "$2" '{Name: $n}')
	fi
	curl -s --max-time 20 --unix-socket "$VW_SOCK" -X POST \
		"http://plugin/VolumeDriver.$1" --data-binary "$b"
}
mounts_of() { req Get "$1" | jq -r '.Volume.Status.mounts'; }

for v in v1 v2 v3; do req Create "$v" >/dev/null; done
is "$(req Mount v2 m0 | jq -r .Mountpoint)" "$ROOT/v2" "mount v2 (one reference)"

HELPER=$(vw_helper_pids)
kill -STOP "$HELPER"
cleanup_fn "kill -CONT $HELPER"

# Requests while the helper is stopped, in parallel, each timed.
timed() {	# timed NAME ENDPOINT VOLUME [ID]
	local n=$1 t0 t1
	shift
	t0=$(date +%s%N)
	req "$@" >"$TESTDIR/$n.out"
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000)) >"$TESTDIR/$n.ms"
}
timed create Create c1 &
p1=$!
timed mount Mount v1 mA &
p2=$!
sleep 0.3	# the Remove of v1 queues behind its Mount
timed remove1 Remove v1 &
p3=$!
timed unmount Unmount v2 m0 &
p4=$!
timed remove3 Remove v3 &
p5=$!
sleep 0.3
t0=$(date +%s%N)
get=$(req Get v2)
list=$(curl -s --max-time 20 --unix-socket "$VW_SOCK" -X POST \
	http://plugin/VolumeDriver.List --data-binary '{}')
act=$(vw_call Plugin.Activate)
t1=$(date +%s%N)
like "$get" '"Name":"v2"' "Get answers while the helper is stopped"
like "$list" '"Name":"v3"' "so do List"
is "$act" '{"Implements":["VolumeDriver"]}' "and Activate"
diag "Get, List and Activate took $(((t1 - t0) / 1000000)) ms together"
wait $p1 $p2 $p3 $p4 $p5

out=$(cat "$TESTDIR/create.out")
like "$out" '"Err":"volume c1: the create did not finish within 2 s because the privileged helper of driver volwarden is busy' \
	"Create is answered at its deadline with a clear error"
like "$out" "creating it again succeeds" "... saying what happens next"
ms=$(cat "$TESTDIR/create.ms")
ok "$((ms >= 1900 && ms < 10000 ? 0 : 1))" "... after about 2 s (${ms} ms)"
like "$(cat "$TESTDIR/mount.out")" '"Err":"volume v1: the mount did not finish within 2 s.*unmounts it again' \
	"Mount is answered at its deadline"
like "$(cat "$TESTDIR/remove1.out")" '"Err":"volume v1: the remove waited 2 s behind an earlier request for this volume.*cancelled' \
	"a Remove queued behind that Mount is cancelled at its deadline"
like "$(cat "$TESTDIR/unmount.out")" '"Err":"volume v2: the unmount did not finish within 2 s' \
	"Unmount is answered at its deadline"
like "$(cat "$TESTDIR/remove3.out")" '"Err":"volume v3: the remove did not finish within 2 s' \
	"Remove is answered at its deadline"
like "$(cat "$VW_LOG")" "create of volume c1 timed out after 2 s" "the timeouts are logged"

# The helper resumes and answers everything it was sent.
kill -CONT "$HELPER"
for i in $(seq 1 100); do
	grep -q "undoing the late mount\|mounted it after the request had timed out" "$VW_LOG" &&
	    grep -q "volume v3 was removed after its request had timed out" "$VW_LOG" &&
	    break
	sleep 0.1
done
sleep 0.5
like "$(req Get c1)" '"Name":"c1"' "a late Create is registered"
ok "$([ -d "$ROOT/c1" ]; echo $?)" "... with its directory"
is "$(req Create c1)" "{}" "... and creating it again succeeds"
like "$(req Get v3)" '"Err":"' "a late Remove removes the volume"
ok "$([ ! -e "$ROOT/v3" ]; echo $?)" "... and its directory"
is "$(mounts_of v1)" 0 "a late Mount counts no reference"
like "$(cat "$VW_LOG")" "volume v1: the helper mounted it after the request had timed out; unmounting it again" \
	"... and is undone"
ok "$([ -d "$ROOT/v1" ]; echo $?)" "the cancelled Remove deleted nothing"
like "$(req Get v1)" '"Name":"v1"' "... and v1 is still registered"
is "$(mounts_of v2)" 0 "a late Unmount released its reference"
is "$(req Path v2 | jq -r .Mountpoint)" "" "... so v2 is no longer mounted"
t0=$(date +%s%N)
is "$(req Mount v1 mB | jq -r .Mountpoint)" "$ROOT/v1" "the driver serves again at once"
is "$(req Unmount v1 mB)" "{}" "... Unmount too"
t1=$(date +%s%N)
ok "$(( (t1 - t0) < 5000000000 ? 0 : 1))" "... without waiting ($(((t1 - t0) / 1000000)) ms)"
unlike "$(cat "$VW_LOG")" "protocol violation|AddressSanitizer|runtime error" \
	"late replies are no protocol violation"

# The same state after a restart.
vw_stop
ok $? "the daemon stops cleanly"
vw_start --config "$CFG" || bail_out "volwarden did not restart"
like "$(req Get c1)" '"Name":"c1"' "after a restart: c1 exists"
like "$(req Get v3)" '"Err":"' "... v3 does not"
is "$(mounts_of v1)/$(mounts_of v2)" "0/0" "... and no reference was left behind"
vw_stop
ok $? "the daemon stops cleanly again"
done_testing
