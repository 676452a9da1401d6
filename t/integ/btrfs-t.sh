#!/bin/bash
# The btrfs backend on a real BTRFS file system: a sparse image in TESTDIR,
# made with mkfs.btrfs and loop-mounted.  Subvolumes per volume, options
# (size, from, nocow, compression, uid/gid/mode), on_remove delete and
# archive, snapshots at the helper level (t/lib/snapctl), a root that is
# not BTRFS refused at start, and the helper's capabilities.  Writes go
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
grep -qw btrfs /proc/filesystems 2>/dev/null || modprobe btrfs 2>/dev/null ||
    skip_all "the kernel has no btrfs support"
"$VOLWARDEN" --no-config --check >/dev/null 2>&1 || bail_out "volwarden --check fails"
SNAPCTL="$top_builddir/t/lib/snapctl"
CTL="$top_builddir/volwardenctl"

call() {
	vw_call "$1" "${2-}" >"$TESTDIR/resp"
	RESP=$(<"$TESTDIR/resp")
	ERR=$(json_get "$RESP" '.Err // ""')
}
body() { jq -nc --arg n "$1" --argjson o "${2:-null}" '{Name: $n, Opts: $o}'; }
mbody() { jq -nc --arg n "$1" --arg i "$2" '{Name: $n, ID: $i}'; }
create() { call VolumeDriver.Create "$(body "$@")"; }
get() { call VolumeDriver.Get "$(body "$1")"; }
remove() { call VolumeDriver.Remove "$(body "$1")"; }
vmount() { call VolumeDriver.Mount "$(mbody "$1" "$2")"; }
vunmount() { call VolumeDriver.Unmount "$(mbody "$1" "$2")"; }
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
IMG="$TESTDIR/btrfs.img"
MNT="$TESTDIR/mnt"
truncate -s 1G "$IMG" || bail_out "cannot make $IMG"
mkfs.btrfs -q "$IMG" >"$TESTDIR/mkfs.log" 2>&1 || bail_out "mkfs.btrfs failed: $(cat "$TESTDIR/mkfs.log")"
mkdir -p "$MNT"
mount -o loop "$IMG" "$MNT" || skip_all "cannot loop-mount a BTRFS image here"
LOOPDEV=$(findmnt -n -o SOURCE "$MNT")
cleanup_fn "losetup -d '$LOOPDEV' 2>/dev/null"
cleanup_fn "umount '$MNT' || umount -l '$MNT'"
diag "BTRFS on $LOOPDEV at $MNT"

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
is "$(field "$H" Seccomp)" 2 "btrfs helper: seccomp filter mode"
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

# ----------------------------------------------- snapshots (helper level)
if [ -x "$SNAPCTL" ]; then
	out=$(snap create bv1 s1)
	like "$out" '^ok s1 [0-9]+$' "snapshot create bv1@s1 ($out)"
	ok "$(is_subvol "$ROOT/.snapshots/bv1/s1"; echo $?)" "ROOT/.snapshots/bv1/s1 is a subvolume"
	like "$(btrfs property get "$ROOT/.snapshots/bv1/s1" ro 2>&1)" 'ro=true' "... and read-only"
	out=$(snap create bv1 s1)
	like "$out" 'already has a snapshot named s1' "a second s1 is refused"
	out=$(snap create bv1 ../x)
	ok "$([ $? -eq 2 ]; echo $?)" "snapshot name ../x: the helper refuses the message"
	snap create bv1 s2 >/dev/null
	out=$(snap list bv1)
	is "$(echo "$out" | head -1)" "total 2" "list: 2 snapshots"
	t=$(echo "$out" | sed -n 2p | cut -d' ' -f2)
	now=$(date +%s)
	ok "$([ "$(echo "$out" | sed -n 2p | cut -d' ' -f1)" = s1 ] && [ "$t" -gt $((now - 120)) ] && [ "$t" -le "$now" ]; echo $?)" \
	    "list: s1 with its creation time ($t, now $now)"
	is "$(snap list bv1 1 | sed -n 2p | cut -d' ' -f1)" s2 "list from offset 1 starts at s2"
	out=$(snap delete bv1 s2)
	is "$out" ok "snapshot delete s2"
	is "$(snap list bv1 | head -1)" "total 1" "... leaves one"
	out=$(snap delete bv1 s2)
	like "$out" 'no snapshot s2' "deleting it again: no snapshot s2"

	create bsnap '{"from":"bv1@s1"}'
	expect_ok "Create from bv1@s1"
	is "$(cat "$ROOT/bsnap/data")" three "... has the snapshot's data"

	echo changed >"$ROOT/bv1/data"
	out=$(snap restore bv1 s1)
	like "$out" '^ok pre-restore-[0-9TZ-]+ ' "restore bv1 from s1 ($out)"
	is "$(cat "$ROOT/bv1/data")" three "bv1 has s1's data again"
	ok "$(is_subvol "$ROOT/bv1"; echo $?)" "bv1 is still a subvolume"
	pre=$(echo "$out" | cut -d' ' -f2)
	is "$(cat "$ROOT/.snapshots/bv1/$pre/data" 2>&1)" changed "the pre-restore state is kept as snapshot $pre"
	ok "$([ ! -e "$ROOT/.restore-bv1" ]; echo $?)" "no temporary subvolume is left"
	out=$(snap restore bv1 nosuch)
	like "$out" 'has no snapshot nosuch' "restore from a missing snapshot: error"
	out=$(snap create nosuchvol s1)
	like "$out" 'volume nosuchvol has no subvolume' "snapshot of a missing volume: error"
else
	diag "t/lib/snapctl is not built: snapshot tests skipped"
fi

# ----------------------------------------------------------- remove
# A container may make nested subvolumes: delete must take them too.
btrfs subvolume create "$ROOT/bclone/nested" >/dev/null
mkdir -p "$ROOT/bclone/d"
btrfs subvolume create "$ROOT/bclone/d/nested2" >/dev/null
remove bclone
expect_ok "Remove bclone (on_remove delete, nested subvolumes inside)"
ok "$([ ! -e "$ROOT/bclone" ]; echo $?)" "the subvolume and its nested ones are deleted"
[ -x "$SNAPCTL" ] && snap create bsnap keepme >/dev/null
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
