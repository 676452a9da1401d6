#!/bin/bash
# The btrfs backend on a real BTRFS file system: a sparse image in TESTDIR,
# made with mkfs.btrfs and loop-mounted.  Subvolumes per volume, options
# (size, from, nocow, compression, uid/gid/mode), on_remove delete and
# archive, snapshots through volwardenctl and the admin API (and once
# more under --seccomp trap), the helper's own checks of snapshot messages
# (t/lib/snapctl), the backend's status (subvolume id, snapshot count,
# qgroup usage and limit) in Get and volwardenctl inspect, a stop with
# helper requests in flight, a root that is not BTRFS refused at start,
# and the helper's capabilities.  Writes go
# into the subvolume from the host (no dockerd): the limit is the
# kernel's, whoever writes.
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir
. "$top_srcdir/t/lib/functions.sh"

requires_root
requires curl --version
requires jq --version
requires mkfs.btrfs --version
requires btrfs --version
requires losetup --version
requires setpriv --version
"$VOLWARDEN" --no-config --check >/dev/null 2>&1 || bail_out "volwarden --check fails"
SNAPCTL="$top_builddir/t/lib/snapctl"
CTL="$top_builddir/volwardenctl"

expect_ok() {
	if [ "$HTTP_CODE" = 200 ] && [ "$RESP" = "{}" ]; then pass "$1"
	else fail "$1"; diag "reply ($HTTP_CODE): $RESP"; fi
}
expect_err() {
	if [ -n "$ERR" ]; then pass "$1"
	else fail "$1"; diag "reply ($HTTP_CODE): $RESP"; fi
}
is_subvol() { btrfs subvolume show "$1" >/dev/null 2>&1; }
field() {
	awk -v k="$2:" '$1 == k { $1 = ""; sub(/^ +/, ""); print; exit }' \
	    "/proc/$1/status" 2>/dev/null
}

# ------------------------------------------------ a BTRFS file system
btrfs_fs 1G
MNT=$BTRFS_MNT

ROOT="$MNT/vols"
ARCROOT="$MNT/arc"
CONF="$TESTDIR/volwarden.json"
cat >"$CONF" <<EOF
{
  "user": "$VW_TEST_USER",
  "state_dir": "$TESTDIR/state",
  "run_dir": "$TESTDIR/run",
  "socket_dir": "$TESTDIR/sock",
  "admin_socket": "$VW_ADMIN",
  "drivers": [
    {"name": "vwb", "backend": "btrfs", "root": "$ROOT", "on_remove": "delete"},
    {"name": "vwba", "backend": "btrfs", "root": "$ARCROOT", "on_remove": "archive"},
    {"name": "vwbk", "backend": "btrfs", "root": "$MNT/keep"}
  ]
}
EOF
# snapctl's helper serves the same root under other socket directories
# (helper 0 removes the admin socket at exit if it is still there).
SCONF="$TESTDIR/snapctl.json"
sed "s|$TESTDIR/sock|$TESTDIR/snapsock|; s|$TESTDIR/state|$TESTDIR/sstate|; s|$TESTDIR/run|$TESTDIR/srun|; s|$TESTDIR/admin/|$TESTDIR/sadmin/|" \
    "$CONF" >"$SCONF"
chmod 0644 "$CONF" "$SCONF"
out=$("$VOLWARDEN" --config "$CONF" --check 2>&1)
case $out in
*"built without libbtrfsutil"*) skip_all "volwarden was built without libbtrfsutil ($out)" ;;
esac
snap() { "$SNAPCTL" "$PRIVHELPER" "$SCONF" 0 "$@" 2>>"$TESTDIR/snapctl.log"; }

VW_SOCK="$TESTDIR/sock/vwb.sock"
VW_CUSTOM=1 vw_start --config "$CONF" || bail_out "volwarden did not start with btrfs drivers"

# ------------------------------------------------------ capabilities
H=
for p in $(vw_helper_pids); do
	tr '\0' ' ' <"/proc/$p/cmdline" | grep -q -- '--driver 0' && H=$p
done
# CHOWN 0, DAC_OVERRIDE 1, FOWNER 3, FSETID 4, SYS_ADMIN 21.
BCAPS=000000000020001b
is "$(field "$H" CapEff)" $BCAPS "btrfs helper: CapEff = CHOWN DAC_OVERRIDE FOWNER FSETID SYS_ADMIN"
is "$(field "$H" CapBnd)" $BCAPS "btrfs helper: CapBnd = CapEff"
is "$(field "$H" NoNewPrivs)" 1 "btrfs helper: NoNewPrivs 1"
# Sanitizer builds run without seccomp filters by default.
if grep -q '^#define VW_SANITIZERS' "$top_builddir/vw-build.h" 2>/dev/null; then
	SANITIZERS=1
	is "$(field "$H" Seccomp)" 0 "btrfs helper: no seccomp filter (sanitizer build)"
else
	SANITIZERS=
	is "$(field "$H" Seccomp)" 2 "btrfs helper: seccomp filter mode"
fi
is "$(stat -c '%a %U' "$ROOT/.snapshots" 2>&1)" "700 root" "ROOT/.snapshots: 0700 root"
out=$("$CTL" --config "$CONF" check 2>&1)
like "$out" "ok +driver vwb +backend btrfs: $ROOT is on BTRFS" "volwardenctl check: the btrfs root is on BTRFS"
out=$(setpriv --bounding-set -sys_admin "$CTL" --config "$CONF" check 2>&1)
like "$out" 'fix +capabilities +the bounding set lacks sys_admin \(the btrfs helper' \
    "volwardenctl check: a bounding set without CAP_SYS_ADMIN is reported for btrfs"

# ------------------------------------------------------------ create
create bv1
expect_ok "Create bv1"
ok "$(is_subvol "$ROOT/bv1"; echo $?)" "bv1 is a subvolume (btrfs subvolume show)"
get bv1
is "$(json_get "$RESP" '.Volume.Mountpoint')" "$ROOT/bv1" "Get: Mountpoint ROOT/bv1"
is "$(json_get "$RESP" '.Volume.Status.backend')" btrfs "Get: Status.backend btrfs"
vmount bv1 m1
is "$(json_get "$RESP" '.Mountpoint')" "$ROOT/bv1" "Mount returns the subvolume's path"
echo one >"$ROOT/bv1/data"
vunmount bv1 m1
expect_ok "Unmount bv1"
# The backend's status: the admin API waits for the helper's answer.
json=$("$CTL" --socket "$VW_ADMIN" --json inspect bv1)
is "$(json_get "$json" '.status.subvolume_id')" "$(btrfs inspect-internal rootid "$ROOT/bv1")" \
    "inspect: status.subvolume_id is the subvolume's id"
is "$(json_get "$json" '[.status.snapshots, .status.quota] | join(" ")')" "0 off" \
    "inspect: no snapshots, quotas off"
like "$(json_get "$json" '.status.status_at')" '^[0-9-]{10}T[0-9:]{8}Z$' "inspect: status_at says when"
get bv1
is "$(json_get "$RESP" '[.Volume.Status.subvolume_id, .Volume.Status.snapshots, .Volume.Status.quota] | join(" ")')" \
    "$(json_get "$json" '[.status.subvolume_id, .status.snapshots, .status.quota] | join(" ")')" \
    "Get: Status has the same subvolume_id, snapshots and quota"

# ------------------------------------------------------------ options
create bvx '{"mountpoint":"x"}'
like "$ERR" 'unknown option "mountpoint" for the btrfs backend; valid options are: size, from, nocow, compression, uid, gid, mode' \
    "mountpoint is refused, listing the btrfs options"
create bvx '{"size":"12Q"}'
like "$ERR" 'option size: expected' "size=12Q refused"
create bvx '{"compression":"lz4"}'
like "$ERR" 'option compression: expected zstd, lzo, zlib or none' "compression=lz4 refused"
create bvx '{"nocow":"","compression":"zstd"}'
like "$ERR" 'nocow and compression=zstd cannot be combined' "nocow with compression refused"
for bad in '..' 'a/b' 'a@b' '.hidden'; do
	create "$bad"
	expect_err "volume name '$bad' refused"
done
create bvx '{"from":"../etc"}'
like "$ERR" 'option from: expected' "from=../etc refused"
create bvx '{"from":"a@b@c"}'
like "$ERR" 'option from: expected' "from=a@b@c refused"
create bvx '{"from":"nosuch"}'
like "$ERR" 'volume nosuch has no subvolume' "from a missing volume: Err names it"
ok "$([ ! -e "$ROOT/bvx" ]; echo $?)" "no subvolume left by the failed Creates"

create bown '{"uid":"1234","gid":"2345","mode":"0750"}'
expect_ok "Create with uid, gid, mode"
is "$(stat -c '%u %g %a' "$ROOT/bown")" "1234 2345 750" "owner and mode set on the subvolume"

create bnocow '{"nocow":""}'
expect_ok "Create with nocow"
like "$(lsattr -d "$ROOT/bnocow" 2>&1)" '^[^ ]*C' "nocow: the subvolume has attribute C"
create bzstd '{"compression":"zstd"}'
expect_ok "Create with compression=zstd"
is "$(btrfs property get "$ROOT/bzstd" compression 2>&1)" "compression=zstd" "compression property is zstd"
get bzstd
is "$(json_get "$RESP" '.Volume.Status.options.compression')" zstd "Get shows compression"

# ------------------------------------------------------ size (qgroup)
create bsize '{"size":"64M"}'
expect_ok "Create with size=64M"
get bsize
is "$(json_get "$RESP" '.Volume.Status.options.size')" 67108864 "Get shows size in bytes"
btrfs qgroup show -re "$MNT" >"$TESTDIR/qg" 2>&1
like "$(cat "$TESTDIR/qg")" '64\.00MiB' "a 64 MiB qgroup limit exists (btrfs qgroup show)"
dd if=/dev/urandom of="$ROOT/bsize/big" bs=1M count=100 conv=fsync >"$TESTDIR/dd.log" 2>&1
rc=$?
ok "$([ $rc -ne 0 ]; echo $?)" "writing 100 MiB into a 64M volume fails (host-side dd, exit $rc)"
like "$(cat "$TESTDIR/dd.log")" 'quota exceeded|Disk quota' "... with EDQUOT"
sz=$(stat -c %s "$ROOT/bsize/big" 2>/dev/null || echo 0)
ok "$([ "$sz" -le $((64 << 20)) ]; echo $?)" "... and at most 64 MiB landed ($sz bytes)"
dd if=/dev/zero of="$ROOT/bv1/small" bs=1M count=80 conv=fsync >/dev/null 2>&1
ok $? "a volume without size takes 80 MiB"
rm -f "$ROOT/bv1/small"
# qgroup numbers are those of the last transaction commit.
btrfs filesystem sync "$MNT" >/dev/null 2>&1
json=$("$CTL" --socket "$VW_ADMIN" --json inspect bsize)
is "$(json_get "$json" '[.status.quota, .status.limit_bytes] | join(" ")')" "on 67108864" \
    "inspect bsize: quotas on, limit_bytes 67108864"
ref=$(json_get "$json" '.status.referenced_bytes')
ok "$([ "$ref" -ge $((32 << 20)) ] && [ "$ref" -le $((65 << 20)) ]; echo $?)" \
    "inspect bsize: referenced_bytes $ref (what landed before EDQUOT, $sz bytes)"
ok "$([ "$(json_get "$json" '.status.exclusive_bytes')" -ge $((32 << 20)) ]; echo $?)" \
    "inspect bsize: exclusive_bytes too"
like "$("$CTL" --socket "$VW_ADMIN" inspect bsize)" $'\nstatus: +subvolume_id=[0-9]+ snapshots=0 quota=on referenced_bytes=[0-9]+ exclusive_bytes=[0-9]+ limit_bytes=67108864\n' \
    "volwardenctl inspect prints the status line"
json=$("$CTL" --socket "$VW_ADMIN" --json inspect bv1)
is "$(json_get "$json" '[.status.quota, (.status | has("limit_bytes"))] | map(tostring) | join(" ")')" "on false" \
    "inspect bv1: quotas are on now, and bv1 has no limit"

# ------------------------------------------------------------- clone
create bclone '{"from":"bv1"}'
expect_ok "Create bclone from bv1"
is "$(cat "$ROOT/bclone/data" 2>&1)" one "the clone has bv1's data"
echo two >"$ROOT/bclone/data"
is "$(cat "$ROOT/bv1/data")" one "writing the clone leaves bv1 alone"
echo three >"$ROOT/bv1/data"
is "$(cat "$ROOT/bclone/data")" two "writing bv1 leaves the clone alone"
create bclone '{"from":"bv1"}'
expect_ok "Create bclone again with the same options is idempotent"
create bclone
expect_err "Create bclone with other options is refused"

# --------------------------------------- snapshots (volwardenctl, admin API)
# vctl ARGS...: volwardenctl on the test's admin socket; sets CRC, OUT, CERR.
vctl() {
	"$CTL" --socket "$VW_ADMIN" "$@" >"$TESTDIR/ctl.out" 2>"$TESTDIR/ctl.err"
	CRC=$?
	OUT=$(<"$TESTDIR/ctl.out")
	CERR=$(<"$TESTDIR/ctl.err")
}
admin() { curl -s --max-time 10 --unix-socket "$VW_ADMIN" "$@"; }

vctl snapshot create bv1 s1
is "$CRC" 0 "snapshot create bv1 s1: exit 0"
like "$OUT" '^volume bv1 \(driver vwb\): snapshot s1 created at [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$' \
    "... and says so ($OUT)"
ok "$(is_subvol "$ROOT/.snapshots/bv1/s1"; echo $?)" "ROOT/.snapshots/bv1/s1 is a subvolume"
like "$(btrfs property get "$ROOT/.snapshots/bv1/s1" ro 2>&1)" 'ro=true' "... and read-only"
vctl snapshot create bv1 s1
is "$CRC" 1 "a second s1: exit 1"
like "$CERR" 'volume bv1 already has a snapshot named s1' "... with the helper's reason"
vctl snapshot create bv1 'a/b'
is "$CRC" 1 "snapshot name a/b: refused by volwardenctl (exit 1)"
out=$(admin -w ' %{http_code}' -X POST --data '{"name":"../x"}' http://admin/v1/volumes/bv1/snapshots | tr -d '\n')
like "$out" '"error":"snapshot name \\"\.\./x\\": .* 400$' "POST {\"name\":\"../x\"}: HTTP 400 from the daemon"
out=$(admin -w ' %{http_code}' -X POST --data '{"name":"s9","x":1}' http://admin/v1/volumes/bv1/snapshots | tr -d '\n')
like "$out" 'unknown key x in the body.* 400$' "an unknown key in the body: HTTP 400"
out=$(admin -w ' %{http_code}' -X PUT http://admin/v1/volumes/bv1/snapshots)
ok "$([ "${out##* }" -ge 400 ]; echo $?)" "PUT is refused (HTTP ${out##* })"
out=$(admin -w ' %{http_code}' http://admin/v1/volumes/bv1/snapshots/s1 | tr -d '\n')
like "$out" 'takes DELETE only.* 405$' "GET of one snapshot: HTTP 405"
vctl --json snapshot create bv1
is "$CRC" 0 "snapshot create without a name: exit 0"
auto=$(json_get "$OUT" '.snapshot.name')
like "$auto" '^snap-[0-9]{8}T[0-9]{6}Z$' "... named snap-TIMESTAMP ($auto)"
is "$(json_get "$OUT" '[.driver, .volume] | join(" ")')" "vwb bv1" "... --json names the driver and volume"

vctl snapshot ls bv1
is "$CRC" 0 "snapshot ls bv1: exit 0"
is "$(printf '%s\n' "$OUT" | awk 'NR > 1 { print $1 }' | tr '\n' ' ')" "s1 $auto " \
    "... lists s1 and $auto, sorted, under a header"
like "$(printf '%s\n' "$OUT" | head -1)" '^SNAPSHOT +CREATED$' "... the header"
vctl --json snapshot ls bv1
now=$(date +%s)
t=$(json_get "$OUT" '.snapshots[0].created | fromdateiso8601')
ok "$([ "$t" -gt $((now - 120)) ] && [ "$t" -le "$now" ]; echo $?)" \
    "ls --json: s1 with its creation time ($t, now $now)"
vctl snapshot rm bv1 "$auto"
is "$CRC" 0 "snapshot rm bv1 $auto: exit 0"
like "$OUT" "snapshot $auto deleted" "... and says so"
vctl snapshot rm bv1 "$auto"
is "$CRC" 1 "deleting it again: exit 1"
like "$CERR" "volume bv1 has no snapshot $auto" "... no such snapshot"
vctl snapshot ls bv1
is "$(printf '%s\n' "$OUT" | awk 'NR > 1' | wc -l)" 1 "one snapshot left"
json=$("$CTL" --socket "$VW_ADMIN" --json inspect bv1)
is "$(json_get "$json" '.status.snapshots')" 1 "inspect: status.snapshots 1"
vctl snapshot create nosuchvol s1
is "$CRC" 1 "a snapshot of a volume that does not exist: exit 1"
like "$CERR" 'volume nosuchvol does not exist' "... naming it"
vctl snapshot ls --driver vwba bv1
is "$CRC" 1 "--driver of another driver: exit 1"
like "$CERR" 'volume bv1 does not exist in driver vwba' "... naming the driver"
vctl snapshot rm bv1
is "$CRC" 2 "snapshot rm without a snapshot: usage, exit 2"
vctl snapshot ls bv1 --force
is "$CRC" 2 "--force outside restore: usage, exit 2"
vctl snapshot frob bv1
is "$CRC" 2 "an unknown snapshot command: exit 2"
"$CTL" --socket "$TESTDIR/none.sock" snapshot ls bv1 >/dev/null 2>&1
is $? 3 "no daemon on the socket: exit 3"

# More snapshots than one helper reply holds (15): the daemon pages.
create bpage
for i in $(seq -w 1 20); do vctl snapshot create bpage "p$i" || break; done
vctl --json snapshot ls bpage
is "$(json_get "$OUT" '.snapshots | map(.name) | join(" ")')" "$(seq -w -s ' ' 1 20 | sed 's/[0-9][0-9]*/p&/g')" \
    "20 snapshots listed in order across helper pages"

create bsnap '{"from":"bv1@s1"}'
expect_ok "Create from bv1@s1"
is "$(cat "$ROOT/bsnap/data")" three "... has the snapshot's data"

# Restore: refused while mounted, unless forced.
echo changed >"$ROOT/bv1/data"
vmount bv1 m2
vctl snapshot restore bv1 s1
is "$CRC" 1 "restore of a mounted volume: exit 1"
like "$CERR" 'volume bv1 is in use \(1 mount reference\)' "... it is in use"
is "$(cat "$ROOT/bv1/data")" changed "... and the data is unchanged"
vctl snapshot restore --force bv1 s1
is "$CRC" 0 "restore --force of the mounted volume: exit 0"
like "$OUT" '^volume bv1 \(driver vwb\): restored from snapshot s1; the state before is snapshot pre-restore-[0-9]{8}T[0-9]{6}Z' \
    "... names the pre-restore snapshot"
like "$OUT" 'keep the old data until they restart' "... and warns about running containers"
vunmount bv1 m2
expect_ok "Unmount bv1 after the forced restore"
is "$(cat "$ROOT/bv1/data")" three "bv1 has s1's data again"
ok "$(is_subvol "$ROOT/bv1"; echo $?)" "bv1 is still a subvolume"
pre=$(printf '%s' "$OUT" | sed -n 's/.*the state before is snapshot \([^ ]*\).*/\1/p' | head -1)
is "$(cat "$ROOT/.snapshots/bv1/$pre/data" 2>&1)" changed "the pre-restore state is kept as snapshot $pre"
ok "$([ ! -e "$ROOT/.restore-bv1" ]; echo $?)" "no temporary subvolume is left"
echo again >"$ROOT/bv1/data"
vctl --json snapshot restore bv1 s1
is "$(json_get "$OUT" '[.restored, .forced] | map(tostring) | join(" ")')" "s1 false" \
    "restore of an unmounted volume needs no --force (--json: restored, forced)"
is "$(cat "$ROOT/bv1/data")" three "... and brings s1's data back"
vctl snapshot restore bv1 nosuch
is "$CRC" 1 "restore from a missing snapshot: exit 1"
like "$CERR" 'volume bv1 has no snapshot nosuch' "... naming it"
m=$("$CTL" --socket "$VW_ADMIN" metrics)
like "$m" 'volwarden_helper_roundtrip_seconds_count\{driver="vwb",op="snapshot_restore"\} [3-9]' \
    "metrics: the helper's snapshot restores are timed"
like "$(grep 'admin: restore from snapshot s1 of volume bv1 (driver vwb), forced' "$VW_LOG")" 'info' \
    "the log names a forced restore"

# The helper checks snapshot messages itself (t/lib/snapctl talks to a
# helper of its own): a name the admin API would refuse never gets by.
if [ -x "$SNAPCTL" ]; then
	out=$(snap create bv1 ../x)
	ok "$([ $? -eq 2 ]; echo $?)" "snapshot name ../x: the helper refuses the message"
	is "$(snap list bv1 1 | head -1)" "total $(ls "$ROOT/.snapshots/bv1" | wc -l)" \
	    "the helper's list counts every snapshot"
else
	fail "t/lib/snapctl is not built"
fi

# ----------------------------------------------------------- remove
# A container may make nested subvolumes: delete must take them too.
btrfs subvolume create "$ROOT/bclone/nested" >/dev/null
mkdir -p "$ROOT/bclone/d"
btrfs subvolume create "$ROOT/bclone/d/nested2" >/dev/null
remove bclone
expect_ok "Remove bclone (on_remove delete, nested subvolumes inside)"
ok "$([ ! -e "$ROOT/bclone" ]; echo $?)" "the subvolume and its nested ones are deleted"
vctl snapshot create bsnap keepme
remove bsnap
expect_ok "Remove bsnap"
ok "$([ ! -e "$ROOT/.snapshots/bsnap" ]; echo $?)" "delete also deletes the volume's snapshots"
vmount bv1 m1
remove bv1
expect_err "Remove of a mounted volume is refused"
vunmount bv1 m1

SOCK="$TESTDIR/sock/vwba.sock"
create ba1
echo archived >"$ARCROOT/ba1/data"
remove ba1
expect_ok "vwba: Remove ba1 (on_remove archive)"
ok "$([ ! -e "$ARCROOT/ba1" ]; echo $?)" "the live subvolume is gone"
arch=$(ls "$ARCROOT/.snapshots/ba1/" 2>/dev/null)
like "$arch" '^removed-[0-9]{8}T[0-9]{6}Z$' "a snapshot removed-TIMESTAMP is kept ($arch)"
is "$(cat "$ARCROOT/.snapshots/ba1/$arch/data" 2>&1)" archived "... with the data"
like "$(btrfs property get "$ARCROOT/.snapshots/ba1/$arch" ro 2>&1)" 'ro=true' "... read-only"
create ba2 "{\"from\":\"ba1@$arch\"}"
expect_ok "an archived volume can be cloned back with from=ba1@$arch"
is "$(cat "$ARCROOT/ba2/data" 2>&1)" archived "... with its data"

SOCK="$TESTDIR/sock/vwbk.sock"
create bk1
remove bk1
expect_ok "vwbk: Remove (on_remove keep)"
ok "$(is_subvol "$MNT/keep/bk1"; echo $?)" "keep: the subvolume stays"
unset SOCK

vw_stop
ok $? "volwarden with btrfs drivers stops cleanly"

# ------------------------------ the allowlists with the snapshot calls
# A call missing from the frontend's (or the btrfs helper's) allowlist
# would kill the process above; in trap mode it is also named in the log.
if [ -z "$SANITIZERS" ]; then
	: >"$VW_LOG"
	VW_CUSTOM=1 vw_start --config "$CONF" --seccomp trap ||
	    bail_out "volwarden did not start with --seccomp trap"
	vctl snapshot create bv1 trap1
	is "$CRC" 0 "--seccomp trap: snapshot create"
	vctl snapshot ls bv1
	is "$CRC" 0 "--seccomp trap: snapshot ls"
	vmount bv1 m3
	vctl snapshot restore bv1 trap1 --force
	is "$CRC" 0 "--seccomp trap: snapshot restore --force"
	vunmount bv1 m3
	vctl snapshot rm bv1 trap1
	is "$CRC" 0 "--seccomp trap: snapshot rm"
	admin -o /dev/null -X POST --data '{"name":"x"}' http://admin/v1/volumes/bv1/snapshots
	vctl snapshot ls bv1
	is "$CRC" 0 "--seccomp trap: still serving after a refused body"
	vw_stop
	ok $? "--seccomp trap: stops cleanly"
	unlike "$(cat "$VW_LOG")" 'not in the allowlist' "--seccomp trap: no call outside the allowlists"
else
	diag "sanitizer build: no seccomp filters, the trap run is left out"
fi

# ----------------------- a stop while helper requests are in flight
# A Get of a volume without a fresh status queues a VOLUME_STATUS for the
# helper.  150 Gets pipelined on one connection, then SIGTERM at once,
# while the helper is still answering: the daemon finishes what is in
# flight (or, past its drain time, the helper takes its failed reply as
# the end, as at EOF) and exits 0, with nothing leaked (sanitizer runs).
stopfail=0
if command -v python3 >/dev/null 2>&1; then
	VW_CUSTOM=1 vw_start --config "$CONF" || bail_out "volwarden did not start again"
	seq 1 150 | xargs -P 8 -I{} curl -s -o /dev/null --unix-socket \
	    "$TESTDIR/sock/vwbk.sock" -X POST http://p/VolumeDriver.Create \
	    --data '{"Name":"st{}"}'
	is "$(ls "$MNT/keep" | grep -c '^st')" 150 "150 volumes for the stop test"
	vw_stop
	for i in 1 2 3; do
		: >"$VW_LOG"
		VW_CUSTOM=1 vw_start --config "$CONF" || break
		python3 - "$TESTDIR/sock/vwbk.sock" "$VW_PID" <<'PY'
import os, signal, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
req = b""
for i in range(1, 151):
    body = b'{"Name":"st%d"}' % i
    req += (b"POST /VolumeDriver.Get HTTP/1.1\r\nHost: p\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)) + body
s.sendall(req)
got = b""
while got.count(b"HTTP/1.1 200") < 40:
    chunk = s.recv(65536)
    if not chunk:
        break
    got += chunk
os.kill(int(sys.argv[2]), signal.SIGTERM)
PY
		# The SIGTERM came from python: wait for the exit, without a
		# second signal that could land after the handlers are gone.
		for j in $(seq 1 100); do
			kill -0 "$VW_PID" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$VW_PID" 2>/dev/null; then
			vw_stop
			stopfail=$((stopfail + 1))
			diag "still running 10 s after SIGTERM"
		else
			wait "$VW_PID"
			rc=$?
			VW_PID=
			[ "$rc" -eq 0 ] || { stopfail=$((stopfail + 1)); diag "exit status $rc: $(grep -v ': debug: ' "$VW_LOG" | tail -4)"; }
		fi
	done
	is "$stopfail" 0 "SIGTERM with VOLUME_STATUS requests in flight: volwarden stops with status 0 (3 tries)"
	unlike "$(cat "$VW_LOG")" 'error: sending VOLUME_STATUS reply' "... and the helper does not fail on its dropped reply"
else
	diag "python3 is missing: the stop with requests in flight is left out"
fi

# ------------------------------------------ a root that is not BTRFS
BAD="$TESTDIR/bad.json"
sed "s|\"root\": \"$ROOT\"|\"root\": \"$TESTDIR/notbtrfs\"|" "$CONF" >"$BAD"
chmod 0644 "$BAD"
: >"$VW_LOG"
VW_CUSTOM=1 vw_start --config "$BAD" 2>/dev/null
ok "$([ $? -ne 0 ]; echo $?)" "a btrfs driver whose root is not on BTRFS stops the start"
like "$(cat "$VW_LOG")" "root $TESTDIR/notbtrfs is not on a BTRFS file system" \
    "... with a message naming the root"
out=$("$CTL" --config "$BAD" check 2>&1)
like "$out" 'fix +driver vwb +backend btrfs needs its root on a BTRFS file system' \
    "volwardenctl check says so too"
vw_stop >/dev/null 2>&1

done_testing
