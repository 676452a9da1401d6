#!/bin/bash
# Faults: kill -9 of the frontend or of the helper at random moments during
# storms of creates and removes, then restart: every acknowledged create
# is present with its directory, every acknowledged remove is gone, and
# the state replays.  Then a state directory on a tiny tmpfs that fills
# up: clear errors, nothing acknowledged lost, recovery without restart.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir
. "$top_srcdir/t/lib/functions.sh"

requires_root
requires curl --version
requires jq --version
requires id "$VW_TEST_USER"
STORM="$top_builddir/t/lib/storm"
[ -x "$STORM" ] || skip_all "t/lib/storm is not built (make check builds it)"

ROUNDS=${FAULT_ROUNDS:-20}
ROOT="$TESTDIR/volumes"
CFG="$TESTDIR/volwarden.json"
cat >"$CFG" <<JSON
{"user": "$VW_TEST_USER", "state_dir": "$TESTDIR/state",
 "run_dir": "$TESTDIR/run", "socket_dir": "$TESTDIR/sock",
 "drivers": [{"name": "volwarden", "backend": "dir", "root": "$ROOT",
              "on_remove": "delete"}]}
JSON
chmod 0600 "$CFG"
export VW_CUSTOM=1

# expected LOG...: "present NAME" / "absent NAME" for every name whose last
# request was acknowledged; "unsure NAME" when it was in flight at a kill.
expected() {
	awk '$1 == "S" { pending[$2] = 1 }
	     $1 == "A" { pending[$2] = 0; state[$2] = ($3 == "Create") }
	     END { for (n in pending)
		     if (pending[n]) print "unsure", n;
		     else print (state[n] ? "present" : "absent"), n }' "$@"
}

listed() {
	vw_call VolumeDriver.List '{}' | jq -r '.Volumes[].Name' | sort
}

acked_c=0 acked_r=0
for r in $(seq 1 "$ROUNDS"); do
	vw_start --config "$CFG" || bail_out "volwarden did not start in round $r"
	"$STORM" "$VW_SOCK" "$TESTDIR/storm-$r.log" 4 25 250 "r$r" &
	storm=$!
	sleep "0.$((RANDOM % 4 + 1))"
	if [ $((r % 2)) -eq 0 ]; then
		victim=$(vw_helper_pids | head -1) who=helper
	else
		victim=$VW_PID who=frontend
	fi
	kill -9 "$victim" 2>/dev/null
	wait "$storm"
	# Killing the helper makes the frontend exit by itself.
	for i in $(seq 1 50); do kill -0 "$VW_PID" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$VW_PID" 2>/dev/null && { kill -9 "$VW_PID"; diag "frontend outlived its helper"; }
	wait "$VW_PID" 2>/dev/null
	VW_PID=
	acked_c=$((acked_c + $(grep -c '^A .* Create$' "$TESTDIR/storm-$r.log")))
	acked_r=$((acked_r + $(grep -c '^A .* Remove$' "$TESTDIR/storm-$r.log")))
	[ "$r" -eq "$ROUNDS" ] && break
done

vw_start --config "$CFG"
ok $? "after $ROUNDS kill -9 rounds the daemon starts and replays its state"
list=$(listed)
missing=0 extra=0 nodir=0 unsure=0
while read -r what name; do
	case $what in
	present)
		grep -qx "$name" <<<"$list" || { missing=$((missing + 1)); diag "missing: $name"; }
		[ -d "$ROOT/$name" ] || { nodir=$((nodir + 1)); diag "no directory: $name"; } ;;
	absent)
		grep -qx "$name" <<<"$list" && { extra=$((extra + 1)); diag "not removed: $name"; } ;;
	unsure) unsure=$((unsure + 1)) ;;
	esac
done < <(expected "$TESTDIR"/storm-*.log)
diag "acknowledged creates: $acked_c, removes: $acked_r, in flight at a kill: $unsure"
ok $((acked_c < ROUNDS)) "the storms got many creates acknowledged ($acked_c)"
is "$missing" 0 "every acknowledged create is present"
is "$nodir" 0 "with its data directory"
is "$extra" 0 "every acknowledged remove is gone"
# Every volume the registry lists can be fetched and has its directory
# (a create interrupted after mkdir but before the record is harmless:
# the directory is adopted by a later create).
bad=0
for name in $list; do
	out=$(vw_call VolumeDriver.Get "{\"Name\":\"$name\"}")
	[ "$(json_get "$out" .Volume.Name)" = "$name" ] || bad=$((bad + 1))
done
is "$bad" 0 "every listed volume answers Get"
vw_stop
ok $? "the daemon stops cleanly"

# ------------------------------------------------------------ full disk
uid=$(id -u "$VW_TEST_USER") gid=$(id -g "$VW_TEST_USER")
rm -rf "$TESTDIR/state" "$TESTDIR/run"
mkdir -p "$TESTDIR/state"
mount -t tmpfs -o "size=16k,mode=0700,uid=$uid,gid=$gid" tmpfs "$TESTDIR/state" ||
	bail_out "cannot mount a tmpfs"
cleanup_fn "umount -l '$TESTDIR/state'"
vw_start --config "$CFG"
ok $? "the daemon starts with its state on a 16 KiB tmpfs"
acked=() err=
for i in $(seq 1 2000); do
	out=$(vw_call VolumeDriver.Create "{\"Name\":\"full$i\"}")
	if [ "$out" = "{}" ]; then
		acked+=("full$i")
	else
		err=$out
		break
	fi
done
diag "${#acked[@]} creates fitted; then: $err"
like "$err" "could not be recorded in $TESTDIR/state: No space left on device" \
	"a full state directory gives a clear error naming it"
ok "$(kill -0 "$VW_PID"; echo $?)" "the daemon keeps running"
out=$(vw_call VolumeDriver.Get "{\"Name\":\"${acked[0]}\"}")
is "$(json_get "$out" .Volume.Name)" "${acked[0]}" "earlier volumes still answer Get"
mount -o remount,size=1m "$TESTDIR/state"
out=$(vw_call VolumeDriver.Create '{"Name":"after-space"}')
is "$out" "{}" "once space returns, creates succeed again without a restart"
vw_stop
ok $? "stops cleanly"
vw_start --config "$CFG"
list=$(listed)
lost=0
for n in "${acked[@]}" after-space; do
	grep -qx "$n" <<<"$list" || { lost=$((lost + 1)); diag "lost: $n"; }
done
is "$lost" 0 "after a restart every acknowledged volume is there (${#acked[@]} + 1)"
vw_stop
ok $? "stops cleanly"
done_testing
