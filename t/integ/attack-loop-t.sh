#!/bin/bash
# Attacks on the loop backend (each "not ok" is a finding): an API
# request that ends the whole daemon, a FIFO or device as image=, a
# sparse "EROFS" image copied densely, kill -9 during the trial mount of
# a Create, long names with on_remove archive, sizes without a limit, a
# symlinked mount_dir.
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir
. "$top_srcdir/t/lib/functions.sh"

requires_root
requires curl --version
requires jq --version
requires strace -V
command -v mkfs.erofs >/dev/null || skip_all "requires mkfs.erofs"
[ -c /dev/loop-control ] || skip_all "requires /dev/loop-control"
id "$VW_TEST_USER" >/dev/null 2>&1 || skip_all "requires user $VW_TEST_USER"

IMAGES="$TESTDIR/images" MNT="$TESTDIR/mnt" ARC="$TESTDIR/arc" AMNT="$TESTDIR/amnt"
ALLOWED="$TESTDIR/allowed" CONF="$TESTDIR/volwarden.json"
loop_cleanup() {
	local m d
	for m in $(findmnt -rn -o TARGET | grep "^$TESTDIR/" | sort -r); do umount -l "$m"; done
	for d in $(losetup -a | grep -- "$TESTDIR/" | cut -d: -f1); do losetup -d "$d"; done
}
cleanup_fn loop_cleanup
mkdir -p "$ALLOWED/src"
chmod 0755 "$TESTDIR" "$ALLOWED" "$ALLOWED/src"
cat >"$CONF" <<EOC
{"user": "$VW_TEST_USER", "state_dir": "$TESTDIR/state", "run_dir": "$TESTDIR/run",
 "socket_dir": "$TESTDIR/sock", "admin_socket": "$VW_ADMIN",
 "drivers": [
  {"name": "vwl", "backend": "loop", "root": "$IMAGES", "mount_dir": "$MNT",
   "allowed_roots": ["$ALLOWED"], "on_remove": "delete", "default_size": "64M"},
  {"name": "vwla", "backend": "loop", "root": "$ARC", "mount_dir": "$AMNT",
   "on_remove": "archive", "default_size": "64M", "max_size": "256M"}]}
EOC
chmod 0644 "$CONF"
VW_SOCK="$TESTDIR/sock/vwl.sock"
start() { VW_CUSTOM=1 vw_start --config "$CONF" || bail_out "volwarden did not start"; }
helper0() { local p; for p in $(vw_helper_pids); do
	tr '\0' ' ' <"/proc/$p/cmdline" | grep -q -- '--driver 0 ' && echo "$p"; done; }
start

# 1. source and image together: the frontend passes both, the helper
#    calls it a protocol violation and the whole daemon exits.
out=$(vw_call VolumeDriver.Create "{\"Name\":\"both\",\"Opts\":{\"fs\":\"erofs\",\"source\":\"$ALLOWED/src\",\"image\":\"$ALLOWED/src/x\"}}")
like "$out" '"Err"' "fs=erofs source=.. image=.. is refused with an error"
sleep 1
if kill -0 "$VW_PID" 2>/dev/null; then pass "the daemon survives source+image"
else fail "the daemon survives source+image"; diag "$(grep -v ': debug: ' "$VW_LOG" | tail -3)"; start; fi

# ... nor through the admin API, which shares the checks.
out=$(curl -s --max-time 10 --unix-socket "$VW_ADMIN" -X POST "http://a/v1/volumes?driver=vwl" \
    --data-binary "{\"Name\":\"both2\",\"Opts\":{\"fs\":\"erofs\",\"source\":\"$ALLOWED/src\",\"image\":\"$ALLOWED/src/x\"}}")
like "$out" 'cannot be combined' "the admin API refuses source+image with a sentence"
ok $(kill -0 "$VW_PID" 2>/dev/null; echo $?) "the daemon survives source+image through the admin API"

# 2. A FIFO below an allowed root as image=: the helper blocks in open(2).
mkfifo "$ALLOWED/fifo"
out=$(curl -s --max-time 5 --unix-socket "$VW_SOCK" -X POST http://p/VolumeDriver.Create \
    --data-binary "{\"Name\":\"ff\",\"Opts\":{\"fs\":\"erofs\",\"image\":\"$ALLOWED/fifo\"}}")
like "$out" '"Err"' "image=FIFO is refused within 5 s (got '${out:-timeout}')"
out=$(curl -s --max-time 5 --unix-socket "$VW_SOCK" -X POST http://p/VolumeDriver.Create \
    --data-binary '{"Name":"after-fifo"}')
is "$out" "{}" "the driver still creates volumes after image=FIFO"
timeout 5 sh -c "echo x >'$ALLOWED/fifo'"; sleep 1
# A device node is not opened either (a tape would rewind).
mknod "$ALLOWED/null" c 1 3
out=$(curl -s --max-time 5 --unix-socket "$VW_SOCK" -X POST http://p/VolumeDriver.Create \
    --data-binary "{\"Name\":\"dv\",\"Opts\":{\"fs\":\"erofs\",\"image\":\"$ALLOWED/null\"}}")
like "$out" 'not a regular file' "image=DEVICE is refused as not a regular file"

# 3. A sparse 2 GiB file with the EROFS magic: copied densely into ROOT.
f="$ALLOWED/sparse.erofs"
truncate -s 2G "$f"
printf '\xe2\xe1\xf5\xe0' | dd of="$f" bs=1 seek=1024 conv=notrunc 2>/dev/null
before=$(df -m --output=used "$IMAGES" | tail -1)
vw_call VolumeDriver.Create "{\"Name\":\"sp\",\"Opts\":{\"fs\":\"erofs\",\"image\":\"$f\"}}" >"$TESTDIR/sp" &
SP=$!
peak=0
for i in $(seq 1 100); do
	u=$(( $(df -m --output=used "$IMAGES" | tail -1) - before )); [ $u -gt $peak ] && peak=$u
	[ -s "$TESTDIR/sp" ] && break; sleep 0.1
done
wait "$SP"
ok $([ $peak -lt 100 ]; echo $?) "a sparse 2 GiB image (4 KiB allocated) is not copied densely (peak +$peak MiB)"
rm -f "$f"
# A real EROFS image with a 1 GiB hole after it is adopted with the hole.
mkdir -p "$ALLOWED/src/d"; echo hello >"$ALLOWED/src/d/f"
mkfs.erofs --quiet "$ALLOWED/holed.erofs" "$ALLOWED/src/d" >/dev/null 2>&1
truncate -s +1G "$ALLOWED/holed.erofs"
out=$(vw_call VolumeDriver.Create "{\"Name\":\"holed\",\"Opts\":{\"fs\":\"erofs\",\"image\":\"$ALLOWED/holed.erofs\"}}")
is "$out" "{}" "an EROFS image with a hole is adopted"
ok $([ "$(stat -c %s "$IMAGES/holed.img")" = "$(stat -c %s "$ALLOWED/holed.erofs")" ] &&
    [ $(( $(stat -c %b "$IMAGES/holed.img") * 512 )) -lt $((16 << 20)) ]; echo $?) \
    "... as a sparse copy of the same size ($(stat -c '%s bytes, %b blocks' "$IMAGES/holed.img"))"

# 4. kill -9 of the helper right after the trial mount of a Create.
H=$(helper0)
strace -q -p "$H" -e trace=umount2 -e inject=umount2:signal=KILL:when=1 -o /dev/null &
ST=$!; cleanup_fn "kill $ST"
sleep 1
vw_call VolumeDriver.Create '{"Name":"k1"}' >/dev/null
sleep 1; kill "$ST" 2>/dev/null; wait "$VW_PID" 2>/dev/null
start
out=$(vw_call VolumeDriver.Create '{"Name":"k1"}')
is "$out" "{}" "after kill -9 during Create, the name can be created again"
is "$(findmnt -rn -o TARGET | grep -c "^$MNT/k1")" 0 "no mount of the unfinished Create left at $MNT/k1"
is "$(findmnt -rn -o TARGET | grep -c "^$MNT/\.creating")" 0 "start-up removed the trial mount at $MNT/.creating"
is "$(losetup -a | grep -c -- "$IMAGES/.*(deleted)")" 0 "no loop device of an unnamed image is left"

# 5. A 230-byte name under on_remove archive: created, never removable.
n=$(printf 'a%.0s' $(seq 1 230))
SOCK="$TESTDIR/sock/vwla.sock" vw_call VolumeDriver.Create "{\"Name\":\"$n\"}" >/dev/null
out=$(SOCK="$TESTDIR/sock/vwla.sock" vw_call VolumeDriver.Remove "{\"Name\":\"$n\"}")
is "$out" "{}" "a 230-byte volume of an archive driver can be removed"
is "$(ls "$ARC" | grep -c '\.removed-')" 1 "... and its image is archived under a shortened name"
n=$(printf 'b%.0s' $(seq 1 252))
out=$(vw_call VolumeDriver.Create "{\"Name\":\"$n\"}")
like "$out" 'at most 251 bytes' "a 252-byte name is refused by a loop driver with the limit"
n=$(printf 'c%.0s' $(seq 1 251))
is "$(vw_call VolumeDriver.Create "{\"Name\":\"$n\"}")" "{}" "a 251-byte name is created"
is "$(vw_call VolumeDriver.Remove "{\"Name\":\"$n\"}")" "{}" "... and removed"

# 6. max_size: Create and resize above it are refused with the limit.
out=$(SOCK="$TESTDIR/sock/vwla.sock" vw_call VolumeDriver.Create '{"Name":"big","Opts":{"size":"512M"}}')
like "$out" 'max_size 256 MiB' "size above max_size is refused, naming it"
is "$(SOCK="$TESTDIR/sock/vwla.sock" vw_call VolumeDriver.Create '{"Name":"big","Opts":{"size":"128M"}}')" "{}" \
    "size below max_size is created"
out=$("$top_builddir/volwardenctl" --socket "$VW_ADMIN" resize --driver vwla big 1G 2>&1)
like "$out" 'max_size' "resize above max_size is refused, naming it"
vw_stop

# 7. A mount_dir reached through a symbolic link is refused before any
#    bind mount: nothing is mounted at the link's target.
mkdir -p "$TESTDIR/real"; ln -s "$TESTDIR/real" "$TESTDIR/lnk"
sed "s|\"mount_dir\": \"$MNT\"|\"mount_dir\": \"$TESTDIR/lnk/m\"|" "$CONF" >"$CONF.lnk"
chmod 0644 "$CONF.lnk"
if VW_CUSTOM=1 vw_start --config "$CONF.lnk" 2>/dev/null; then
	fail "a symlinked mount_dir is refused"; vw_stop
else
	like "$(grep 'mount_dir' "$VW_LOG" | tail -1)" 'symbolic' "a symlinked mount_dir is refused"
	VW_PID=
fi
is "$(findmnt -rn -o TARGET | grep -c "^$TESTDIR/real")" 0 "nothing is mounted through the link"
done_testing
