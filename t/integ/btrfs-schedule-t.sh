#!/bin/bash
# Scheduled snapshots of btrfs volumes (snapshot_every, snapshot_keep) on
# a real BTRFS file system: the options' parsing and limits, a volume
# snapshotted every 10 s (the documented minimum) and pruned to keep=2
# while its manual snapshot stays, a failed scheduled snapshot logged,
# counted in /metrics and retried at the next interval, a daemon restart
# in between that goes on from the last auto-* snapshot instead of
# taking one at once, the schedule's facts in Get's Status and the admin
# API, and a removed volume leaving the schedule.  About 35 s, most of it
# waiting for the 10 s ticks.
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir
. "$top_srcdir/t/lib/functions.sh"

requires_root
requires curl --version
requires jq --version
requires mkfs.btrfs --version
requires losetup --version
CTL="$top_builddir/volwardenctl"

btrfs_fs 512M
ROOT="$BTRFS_MNT/vols"
CONF="$TESTDIR/volwarden.json"
cat >"$CONF" <<EOF
{
  "user": "$VW_TEST_USER",
  "state_dir": "$TESTDIR/state",
  "run_dir": "$TESTDIR/run",
  "socket_dir": "$TESTDIR/sock",
  "admin_socket": "$VW_ADMIN",
  "drivers": [
    {"name": "vws", "backend": "btrfs", "root": "$ROOT", "on_remove": "delete"},
    {"name": "vwsd", "backend": "dir", "root": "$TESTDIR/dirvols"}
  ]
}
EOF
chmod 0644 "$CONF"
out=$("$VOLWARDEN" --config "$CONF" --check 2>&1)
case $out in
*"built without libbtrfsutil"*) skip_all "volwarden was built without libbtrfsutil ($out)" ;;
esac

expect_ok() {
	if [ "$HTTP_CODE" = 200 ] && [ "$RESP" = "{}" ]; then pass "$1"
	else fail "$1"; diag "reply ($HTTP_CODE): $RESP"; fi
}
admin() { curl -s --max-time 10 --unix-socket "$VW_ADMIN" "$@"; }
metric() {	# metric NAME: its value for driver vws
	"$CTL" --socket "$VW_ADMIN" metrics 2>/dev/null |
	    awk -v m="$1{driver=\"vws\"}" '$1 == m { print $2 }'
}
# autos VOLUME: its scheduled snapshots, oldest first, on one line.
autos() { ls "$ROOT/.snapshots/$1" 2>/dev/null | grep '^auto-' | tr '\n' ' '; }
nautos() { ls "$ROOT/.snapshots/$1" 2>/dev/null | grep -c '^auto-'; }
# wait_for SECONDS 'SHELL CONDITION': poll until it holds; 1 on timeout.
wait_for() {
	local end=$(($(date +%s) + $1))
	while ! eval "$2"; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.2
	done
}
# The Unix time in an auto-YYYYMMDDTHHMMSSZ name.
auto_time() {
	local s=${1#auto-}
	date -u -d "${s:0:4}-${s:4:2}-${s:6:2} ${s:9:2}:${s:11:2}:${s:13:2}" +%s
}

VW_SOCK="$TESTDIR/sock/vws.sock"
VW_CUSTOM=1 vw_start --config "$CONF" || bail_out "volwarden did not start"

# ------------------------------------------------------------- options
create bad '{"snapshot_every":"5s"}'
like "$ERR" 'option snapshot_every: expected a whole number with a unit s, m, h, d or w \(seconds if none\), from 10s to 366d' \
    "snapshot_every=5s: below the 10 s minimum, refused with the range"
for v in 0 10x 1.5h -1h h '' 367d 99999999999999999999; do
	create bad "{\"snapshot_every\":\"$v\"}"
	like "$ERR" 'option snapshot_every: expected' "snapshot_every='$v' refused"
done
for v in 0 -1 1001 x ''; do
	create bad "{\"snapshot_every\":\"1h\",\"snapshot_keep\":\"$v\"}"
	like "$ERR" 'option snapshot_keep: expected the number of scheduled snapshots to keep, from 1 to 1000' \
	    "snapshot_keep='$v' refused"
done
create bad '{"snapshot_keep":"3"}'
like "$ERR" 'option snapshot_keep needs snapshot_every' "snapshot_keep without snapshot_every refused"
SOCK="$TESTDIR/sock/vwsd.sock" call VolumeDriver.Create "$(body bad '{"snapshot_every":"1h"}')"
like "$ERR" 'unknown option "snapshot_every" for the dir backend' "a dir driver has no snapshot_every"
ok "$([ ! -e "$ROOT/bad" ]; echo $?)" "no subvolume left by the refused Creates"

create hourly '{"snapshot_every":"1h"}'
expect_ok "Create hourly with snapshot_every=1h (keep: the default)"
create daily '{"snapshot_every":"86400","snapshot_keep":"7"}'
expect_ok "snapshot_every in plain seconds (as Get shows it) is accepted"
get hourly
is "$(json_get "$RESP" '.Volume.Status.options.snapshot_every')" 3600 "Get: options.snapshot_every in seconds"
next=$(json_get "$RESP" '.Volume.Status.snapshot_next | fromdateiso8601')
now=$(date +%s)
ok "$([ "$next" -ge $((now + 3590)) ] && [ "$next" -le $((now + 3601)) ]; echo $?)" \
    "Get: Status.snapshot_next is an hour away ($((next - now)) s)"
is "$(json_get "$RESP" '.Volume.Status | has("snapshot_last")')" false "Get: no snapshot_last before the first"
create hourly '{"snapshot_every":"3600"}'
expect_ok "Create hourly again with the same interval in seconds is idempotent"
is "$(metric volwarden_scheduled_volumes)" 2 "metrics: 2 scheduled volumes"

# ----------------------------------------------------- the schedule
T0=$(date +%s)
create s1 '{"snapshot_every":"10s","snapshot_keep":"2"}'
expect_ok "Create s1 with snapshot_every=10s, snapshot_keep=2"
create s2 '{"snapshot_every":"10s"}'
expect_ok "Create s2 with snapshot_every=10s"
# s2's subvolume goes away, so its first scheduled snapshot fails.
mv "$ROOT/s2" "$BTRFS_MNT/s2.away"
"$CTL" --socket "$VW_ADMIN" snapshot create s1 manual1 >/dev/null
ok $? "a manual snapshot manual1 of s1"
out=$(admin -w ' %{http_code}' -X POST --data '{"name":"auto-20260101T000000Z"}' \
    http://admin/v1/volumes/s1/snapshots | tr -d '\n')
like "$out" 'names starting with auto- are reserved for scheduled snapshots.* 400$' \
    "a manual snapshot named auto-* is refused (HTTP 400)"
is "$(nautos s1)" 0 "no scheduled snapshot right after Create"

wait_for 20 '[ "$(nautos s1)" -ge 1 ]'
T1=$(date +%s)
first=$(autos s1)
first=${first%% *}
like "$first" '^auto-[0-9]{8}T[0-9]{6}Z$' "s1: a scheduled snapshot $first"
t=$(auto_time "$first")
ok "$([ "$t" -ge $((T0 + 9)) ] && [ "$t" -le $((T0 + 15)) ]; echo $?)" \
    "... about 10 s after Create ($((t - T0)) s)"
like "$(btrfs property get "$ROOT/.snapshots/s1/$first" ro 2>&1)" 'ro=true' "... read-only"
wait_for 5 '[ "$(metric volwarden_scheduled_snapshot_failures_total)" = 1 ]'
ok $? "metrics: s2's failed scheduled snapshot is counted"
like "$(grep 'volume s2: the scheduled snapshot auto-' "$VW_LOG")" \
    'failed: volume s2 has no subvolume .*; trying again in 10s' "... and logged with the reason"
TF=$(date +%s)
mv "$BTRFS_MNT/s2.away" "$ROOT/s2"
get s1
is "$(json_get "$RESP" '.Volume.Status.snapshot_last')" \
    "$(date -u -d "@$t" +%Y-%m-%dT%H:%M:%SZ)" "Get: Status.snapshot_last is $first's time"

wait_for 15 '[ "$(nautos s1)" -ge 2 ] && [ "$(nautos s2)" -ge 1 ]'
ok $? "s1 has 2 scheduled snapshots, s2 its first ($(($(date +%s) - T0)) s after Create)"
s2first=$(autos s2)
t2=$(auto_time "${s2first%% *}")
ok "$([ "$t2" -ge $((TF + 7)) ]; echo $?)" \
    "s2: retried at the next interval, not at once ($((t2 - TF)) s after the failure was seen)"
is "$(metric volwarden_scheduled_snapshots_total)" 3 "metrics: 3 scheduled snapshots taken"
last2=$(autos s1)
last2=${last2% }
last2=${last2##* }

# ------------------------------------------------------------- restart
vw_stop
ok $? "volwarden stops cleanly with snapshots scheduled"
VW_CUSTOM=1 vw_start --config "$CONF" || bail_out "volwarden did not restart"
TR=$(date +%s)
sleep 2
is "$(nautos s1)" 2 "after the restart: no snapshot at once (the last was $(($(date +%s) - $(auto_time "$last2"))) s ago)"
json=$("$CTL" --socket "$VW_ADMIN" --json inspect s1)
is "$(json_get "$json" '.status.snapshot_last')" \
    "$(date -u -d "@$(auto_time "$last2")" +%Y-%m-%dT%H:%M:%SZ)" \
    "admin API: status.snapshot_last is the newest auto-* after the restart"
next=$(json_get "$json" '.status.snapshot_next | fromdateiso8601')
ok "$([ "$next" -ge $(($(auto_time "$last2") + 9)) ] && [ "$next" -le $(($(auto_time "$last2") + 12)) ]; echo $?)" \
    "admin API: status.snapshot_next is 10 s after it"
is "$(json_get "$json" '.status.snapshots')" 3 "admin API: status.snapshots counts manual and scheduled ones"

wait_for 15 '[ "$(autos s1 | cut -d" " -f1)" != "$first" ]'
ok $? "the oldest scheduled snapshot of s1 is pruned ($(($(date +%s) - TR)) s after the restart)"
wait_for 5 '[ "$(metric volwarden_scheduled_snapshots_pruned_total)" = 1 ]'
is "$(nautos s1)" 2 "s1 keeps exactly snapshot_keep=2 scheduled snapshots"
is "$(autos s1 | awk '{ print $1 }')" "$last2" "... the newest two: $last2 and the one after"
ok "$([ -d "$ROOT/.snapshots/s1/manual1" ]; echo $?)" "the manual snapshot manual1 is untouched"
like "$(grep "volume s1: scheduled snapshot $first deleted (snapshot_keep 2)" "$VW_LOG")" info \
    "the log names the pruned snapshot"
is "$(metric volwarden_scheduled_snapshot_failures_total)" 0 "metrics: no failure since the restart"

# ---------------------------------------------- a removed volume
remove s2
expect_ok "Remove s2 (on_remove delete)"
is "$(metric volwarden_scheduled_volumes)" 3 "metrics: s2 left the schedule"
ok "$([ ! -e "$ROOT/.snapshots/s2" ]; echo $?)" "s2's scheduled snapshots went with it"

vw_stop
ok $? "volwarden stops cleanly"
unlike "$(grep -i 'not in the allowlist\|AddressSanitizer\|LeakSanitizer' "$VW_LOG")" . \
    "no seccomp or sanitizer report in the log"
diag "schedule part: $(($(date +%s) - T0)) s"
done_testing
