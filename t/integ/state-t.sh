#!/bin/bash
# State durability: volumes, options, CreatedAt and mount counts across
# restarts; removals persisted; a torn final WAL record dropped; a damaged
# record in the middle refused; kill -9 during a stream of creates loses
# no acknowledged volume.
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir
. "$top_srcdir/t/lib/functions.sh"

requires_root
requires curl --version
requires jq --version

call() {	# call ENDPOINT [BODY]: sets RESP, ERR, HTTP_CODE
	vw_call "$1" "${2-}" >"$TESTDIR/resp"
	RESP=$(<"$TESTDIR/resp")
	# The Err string as it appears in the JSON (escapes kept); no fork.
	ERR=
	if [[ $RESP =~ \"Err\":\"(([^\"\\]|\\.)*)\" ]]; then
		ERR=${BASH_REMATCH[1]}
	fi
}
body() { jq -nc --arg n "$1" --argjson o "${2:-null}" '{Name: $n, Opts: $o}'; }
mbody() { jq -nc --arg n "$1" --arg i "$2" '{Name: $n, ID: $i}'; }
create() { call VolumeDriver.Create "$(body "$@")"; }
get() { call VolumeDriver.Get "$(body "$1")"; }
vpath() { call VolumeDriver.Path "$(body "$1")"; json_get "$RESP" '.Mountpoint'; }
mount() { call VolumeDriver.Mount "$(mbody "$1" "$2")"; }
unmount() { call VolumeDriver.Unmount "$(mbody "$1" "$2")"; }
remove() { call VolumeDriver.Remove "$(body "$1")"; }
# The whole List, sorted by name, and every Get: what must survive.
snapshot() {
	local n
	call VolumeDriver.List '{}'
	json_get "$RESP" '.Volumes | sort_by(.Name) | tojson'
	for n in $(json_get "$RESP" '.Volumes[].Name' | sort); do
		get "$n"
		printf '%s\n' "$RESP"
	done
}
log_since() { tail -n +$(($1 + 1)) "$VW_LOG"; }
start() { vw_start --allowed-root "$ALLOWED"; }
restart() {	# restart DESCRIPTION: SIGTERM, then start again
	vw_stop
	ok $? "$1: volwarden stops with status 0"
	start || bail_out "$1: volwarden did not start again"
}
flip_byte() {	# flip_byte FILE OFFSET MASK: XOR one byte in place
	local b
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	printf "\\$(printf '%03o' $((b ^ $3)))" |
	    dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

ALLOWED="$TESTDIR/allowed"
ROOT="$TESTDIR/volumes"
WAL="$TESTDIR/state/volumes.wal"
idA=$(printf 'a%.0s' $(seq 64))
idB=$(printf 'b%.0s' $(seq 64))
idK=$(printf 'c%.0s' $(seq 64))

start || bail_out "volwarden did not start"

# ------------------------------------------------ volumes survive a restart
create s1
create s2 '{"uid":"1234","gid":"4321","mode":"0750"}'
create s3 '{"mountpoint":"nested/s3"}'
create s4 "{\"mountpoint\":\"$ALLOWED/abs/s4\",\"mode\":\"0700\"}"
create s5
create gone1
ok "$([ "$(grep -c . <<<"$(snapshot)")" -eq 7 ]; echo $?)" "six volumes created"
mount s1 "$idA"
mount s2 "$idA"
mount s2 "$idA"
mount s2 "$idB"
before=$(snapshot)
sleep 1.1	# a CreatedAt re-stamped at start would now differ
restart "restart 1"
after=$(snapshot)
is "$after" "$before" "after a restart Get and List show the same volumes, mountpoints, CreatedAt, options and mount counts"
get s4
is "$(json_get "$RESP" '.Volume.Mountpoint')" "$ALLOWED/abs/s4" "... the absolute mountpoint"
get s3
is "$(json_get "$RESP" '.Volume.Mountpoint')" "$ROOT/nested/s3" "... the relative mountpoint"
get s2
is "$(json_get "$RESP" '.Volume.Status.options | tojson')" \
    '{"uid":"1234","gid":"4321","mode":"0750"}' "... the options"
create s2 '{"uid":"1234","gid":"4321","mode":"0750"}'
is "$RESP" "{}" "... Create with the same options is still idempotent"
create s2 '{"uid":"1234"}'
ok "$([ -n "$ERR" ]; echo $?)" "... Create with other options is still refused"

# ---------------------------------------------- mount counts survive a restart
is "$(vpath s1)" "$ROOT/s1" "s1 mounted by A before the restart: Path returns its path"
remove s1
ok "$([ -n "$ERR" ]; echo $?)" "... and Remove is still refused"
unmount s1 "$idA"
is "$RESP" "{}" "Unmount A after the restart"
is "$(vpath s1)" "" "... brings Path back to \"\""
unmount s2 "$idA"
is "$(vpath s2)" "$ROOT/s2" "s2 (A twice, B once): one Unmount A, still mounted"
unmount s2 "$idA"
is "$(vpath s2)" "$ROOT/s2" "... second Unmount A, still mounted by B"
unmount s2 "$idB"
is "$(vpath s2)" "" "... Unmount B: not mounted"
get s2
is "$(json_get "$RESP" '.Volume.Status.mounts')" 0 "... Status.mounts 0"

mount s5 "$idK"
kill -KILL "$VW_PID"
wait "$VW_PID" 2>/dev/null
VW_PID=
start || bail_out "volwarden did not start after kill -9"
is "$(vpath s5)" "$ROOT/s5" "a mount count survives kill -9 of the daemon"
unmount s5 "$idK"
is "$(vpath s5)" "" "... and its Unmount releases it"

# -------------------------------------------------- Remove is persisted
remove gone1
is "$RESP" "{}" "Remove gone1"
before=$(snapshot)
restart "restart 2"
get gone1
ok "$([ -n "$ERR" ]; echo $?)" "a removed volume stays removed after a restart"
is "$(snapshot)" "$before" "... and the others are unchanged"
create gone1
is "$RESP" "{}" "... and can be created again"
get gone1
c1=$(json_get "$RESP" '.Volume.CreatedAt')
restart "restart 3"
get gone1
is "$(json_get "$RESP" '.Volume.CreatedAt')" "$c1" "... and the re-created volume persists"

# ---------------------------------------------- torn final WAL record
before=$(snapshot)
vw_stop
ok $? "stop before tearing the WAL"
size0=$(stat -c %s "$WAL")
# A length header claiming 100 bytes, then only 10 of them.
printf '\x64\x00\x00\x00\x12\x34\x56\x78\xaa\xbb\xcc\xdd\xee\xff' >>"$WAL"
is "$(stat -c %s "$WAL")" $((size0 + 14)) "appended 14 bytes of a partial record"
n=$(wc -l <"$VW_LOG")
start
ok $? "the daemon starts with a torn final record"
like "$(log_since "$n")" "volumes\\.wal.*incomplete final record at byte offset $size0" \
    "... logging that it dropped it, with its offset"
is "$(snapshot)" "$before" "... and all earlier volumes are there"
is "$(stat -c %s "$WAL")" "$size0" "... and the torn tail is cut off"
create after-torn
is "$RESP" "{}" "a Create after the torn tail"
before=$(snapshot)
restart "restart 4"
is "$(snapshot)" "$before" "... is replayed after the next restart"
n=$(wc -l <"$VW_LOG")
restart "restart 5"
unlike "$(log_since "$n")" 'incomplete|damaged' "... with no complaint about the WAL"

# ------------------------------------- bad checksum in the middle of the WAL
vw_stop
ok $? "stop before damaging the WAL"
cp -p "$WAL" "$TESTDIR/wal.good"
recs=$(grep -c . <<<"$before")
ok "$([ "$recs" -gt 3 ]; echo $?)" "the WAL holds several records ($((recs - 1)) volumes)"
# The first record starts at byte 8 (after the magic); its payload at 16.
flip_byte "$WAL" 20 0x20
cp -p "$WAL" "$TESTDIR/wal.bad"
n=$(wc -l <"$VW_LOG")
start 2>/dev/null
started=$?
ok "$([ $started -ne 0 ]; echo $?)" "a bad checksum in the first of several records: the daemon refuses to start"
if [ $started -eq 0 ]; then
	vw_stop
else
	wait "$VW_PID" 2>/dev/null
	rc=$?
	VW_PID=
	ok "$([ $rc -ne 0 ]; echo $?)" "... exiting non-zero ($rc)"
fi
msg=$(log_since "$n")
like "$msg" "$WAL" "... the log names the file"
like "$msg" "byte offset 8([^0-9]|$)" "... and the byte offset of the damaged record (8)"
ok "$(cmp -s "$WAL" "$TESTDIR/wal.bad"; echo $?)" "... and the file is left as it was"
ok "$(! curl -s --max-time 2 --unix-socket "$VW_SOCK" -X POST \
    http://plugin/Plugin.Activate >/dev/null 2>&1; echo $?)" "... and nothing serves the socket"

# The same with the record's length field damaged (8192 added): it must not
# pass for a torn tail, which would silently drop every later volume.
cp -p "$TESTDIR/wal.good" "$WAL"
flip_byte "$WAL" 9 0x20
cp -p "$WAL" "$TESTDIR/wal.bad"
n=$(wc -l <"$VW_LOG")
start 2>/dev/null
started=$?
ok "$([ $started -ne 0 ]; echo $?)" \
    "a damaged length field in the first record: the daemon refuses to start"
if [ $started -eq 0 ]; then
	call VolumeDriver.List '{}'
	diag "it started with $(json_get "$RESP" '.Volumes | length') volumes" \
	    "(expected $((recs - 1))); WAL now $(stat -c %s "$WAL") bytes"
	vw_stop
else
	wait "$VW_PID" 2>/dev/null
	rc=$?
	VW_PID=
	ok "$([ $rc -ne 0 ]; echo $?)" "... exiting non-zero ($rc)"
fi
like "$(log_since "$n")" "$WAL.*byte offset 8([^0-9]|$)" "... the log names the file and offset 8"
ok "$(cmp -s "$WAL" "$TESTDIR/wal.bad"; echo $?)" "... and the file is left as it was"

cp -p "$TESTDIR/wal.good" "$WAL"
start
ok $? "with the WAL restored the daemon starts"
is "$(snapshot)" "$before" "... with every volume"

# -------------------------------------- kill -9 during concurrent creates
mkdir -p "$TESTDIR/res"
workers=()
for w in $(seq 1 20); do
	(
		for i in $(seq 1 15); do
			curl -s --max-time 10 --unix-socket "$VW_SOCK" -X POST \
			    --data-binary "{\"Name\":\"k$w-$i\",\"Opts\":{\"mode\":\"0750\"}}" \
			    http://plugin/VolumeDriver.Create >"$TESTDIR/res/k$w-$i" 2>/dev/null
		done
	) &
	workers+=($!)
done
# Kill once some Creates have been acknowledged, while the rest are coming.
for i in $(seq 1 100); do
	[ "$(cat "$TESTDIR"/res/* 2>/dev/null | grep -cx '{}')" -ge 20 ] && break
	sleep 0.05
done
kill -KILL "$VW_PID"
wait "$VW_PID" 2>/dev/null
VW_PID=
wait "${workers[@]}"
acked=$(grep -lx '{}' "$TESTDIR"/res/* 2>/dev/null | xargs -rn1 basename)
nacked=$(printf '%s' "$acked" | grep -c .)
diag "$nacked of 300 Creates were acknowledged before kill -9"
start
ok $? "the daemon starts after kill -9 during a stream of Creates"
call VolumeDriver.List '{}'
missing=0
nodir=0
for v in $acked; do
	if ! printf '%s' "$RESP" | jq -e --arg n "$v" 'any(.Volumes[]; .Name == $n)' >/dev/null; then
		missing=$((missing + 1))
		diag "acknowledged volume $v is missing"
	fi
	[ -d "$ROOT/$v" ] || nodir=$((nodir + 1))
done
is "$missing" 0 "every acknowledged volume ($nacked) is present"
is "$nodir" 0 "... with its directory"
is "$(snapshot | grep -c '"Err":"[^"]')" 0 "every listed volume can be fetched with Get"
k_listed=$(json_get "$RESP" '.Volumes[].Name' | grep -c '^k')
ok "$([ "$k_listed" -ge "$nacked" ] && [ "$nacked" -lt 300 ]; echo $?)" \
    "killed mid-stream: $nacked of 300 acknowledged, $k_listed present"
create after-kill
is "$RESP" "{}" "a Create after the crash"
get s2
is "$(json_get "$RESP" '.Volume.Status.options.mode')" 0750 "the earlier volumes are intact"
vw_stop
ok $? "volwarden stops with status 0"

done_testing
