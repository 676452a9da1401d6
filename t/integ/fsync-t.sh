#!/bin/bash
# A failing fdatasync under the state store.  The state directory lives on
# ext4 on a loop device whose backing file is a sparse 64 MiB file on a
# 24 MiB tmpfs: once the tmpfs is full, the loop device fails every write
# to a block not stored yet, as a thin-provisioned disk that ran out of
# space does, and fdatasync of the WAL fails (ENOSPC or EIO).  Requests
# must then fail with a clear error, nothing acknowledged may be lost, and
# the daemon must recover by itself once writes work again -- without
# trusting the WAL pages whose writeback failed ("fsyncgate": a later
# fsync of the same file succeeds without writing them).  Finally the
# file system is unmounted and mounted again, so the restarted daemon
# replays what reached the device, not the page cache.
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir
. "$top_srcdir/t/lib/functions.sh"

requires_root
requires curl --version
requires jq --version
requires losetup --version
requires mkfs.ext4 -V
requires id "$VW_TEST_USER"

DEV="$TESTDIR/dev"	# the tmpfs holding the device's backing file
MNT="$TESTDIR/st"	# the ext4 holding the state directory
mkdir -p "$DEV" "$MNT"
mount -t tmpfs -o size=24m,mode=0700 vwfsync "$DEV" || bail_out "cannot mount a tmpfs"
# The kernel lets go of a detached loop device's backing file a moment
# later: until then the tmpfs is busy.
umount_dev() {
	local i
	for i in $(seq 1 100); do
		umount "$DEV" 2>/dev/null && return 0
		sleep 0.1
	done
	umount -l "$DEV"
}
cleanup_fn umount_dev
truncate -s 64M "$DEV/img"
mkfs.ext4 -q -F -O ^has_journal -E lazy_itable_init=0,nodiscard "$DEV/img" ||
	bail_out "mkfs.ext4 failed"
LOOP=$(losetup -f --show "$DEV/img") || bail_out "no free loop device"
cleanup_fn "losetup -d '$LOOP'"
mount_st() { mount -o errors=continue "$LOOP" "$MNT"; }
mount_st || bail_out "cannot mount $LOOP"
cleanup_fn "umount '$MNT'"
diag "state on $LOOP ($(du -k "$DEV/img" | cut -f1) KiB of its backing file stored)"

CFG="$TESTDIR/volwarden.json"
cat >"$CFG" <<JSON
{"user": "$VW_TEST_USER", "state_dir": "$MNT/state",
 "run_dir": "$TESTDIR/run", "socket_dir": "$TESTDIR/sock",
 "drivers": [{"name": "volwarden", "backend": "dir",
              "root": "$TESTDIR/volumes"}]}
JSON
chmod 0600 "$CFG"
export VW_CUSTOM=1
vw_start --config "$CFG" || bail_out "volwarden did not start"

req() {	# req ENDPOINT NAME: prints the reply
	curl -s --max-time 20 --unix-socket "$VW_SOCK" -X POST \
		"http://plugin/VolumeDriver.$1" \
		--data-binary "$(jq -nc --arg n "$2" '{Name: $n}')"
}
acked=() failed=()
create() {	# create NAME: remember whether it was acknowledged
	local out
	out=$(req Create "$1")
	if [ "$out" = "{}" ]; then
		acked+=("$1")
	else
		failed+=("$1")
		LAST_ERR=$out
	fi
}

for i in $(seq 1 20); do create "a$i"; done
is "${#acked[@]}" 20 "20 volumes created while the disk works"

# The device runs out of space.
dd if=/dev/zero of="$DEV/filler" bs=64k >/dev/null 2>&1
diag "tmpfs full: $(df -k --output=avail "$DEV" | tail -1 | tr -d ' ') KiB left"
# Records go into the WAL's last block until it is full (its page is
# stored already): create until five have failed.
LAST_ERR=
for i in $(seq 1 400); do
	create "b$i"
	[ "${#failed[@]}" -ge 5 ] && break
done
nb=$(( ${#acked[@]} - 20 ))
diag "with the device full: $nb Creates acknowledged, ${#failed[@]} failed"
ok "$(( ${#failed[@]} > 0 ? 0 : 1 ))" "Creates fail once fdatasync fails"
like "$LAST_ERR" '"Err":"volume b[0-9]+: .*could not be recorded in .*(No space left on device|Input/output error)' \
	"... with an error that says what failed"
like "$(cat "$VW_LOG")" "fdatasync of $MNT/state/volumes.wal failed: (No space left on device|Input/output error)" \
	"the failed fdatasync is logged"
ok "$(kill -0 "$VW_PID"; echo $?)" "the daemon keeps running"
out=$(req Remove a1)
like "$out" '"Err":"volume a1: could not record its removal' "a Remove fails too"
like "$(req Get a1)" '"Name":"a1"' "... and a1 stays"
missing=0
for v in "${acked[@]}"; do
	[[ $(req Get "$v") == *'"Name":"'"$v"'"'* ]] || missing=$((missing + 1))
done
is "$missing" 0 "every acknowledged volume is still served"
ghost=0
for v in "${failed[@]}"; do
	[[ $(req Get "$v") == *'"Err":"'* ]] || ghost=$((ghost + 1))
done
is "$ghost" 0 "no failed Create is served"

# Space returns: the store repairs itself at the next change.
rm -f "$DEV/filler"
sleep 1.2	# repairs are tried at most once a second
out=$(req Create c1)
is "$out" "{}" "once the device works again, a Create succeeds without a restart"
[ "$out" = "{}" ] && acked+=(c1)
like "$(cat "$VW_LOG")" "$MNT/state/volumes.wal rewritten from memory: the state store works again" \
	"the store was rewritten from memory"
retry=${failed[0]}
is "$(req Create "$retry")" "{}" "a Create that failed can be retried ($retry)"
acked+=("$retry")
failed=("${failed[@]:1}")
is "$(req Remove a1)" "{}" "and so can the Remove"
acked=("${acked[@]:1}")

# Restart from what is on the device: unmount and mount the file system
# again, so that nothing comes from the page cache.
vw_stop
ok $? "the daemon stops cleanly"
umount "$MNT" && mount_st
ok $? "the state's file system is unmounted and mounted again"
vw_start --config "$CFG" || bail_out "volwarden did not restart"
unlike "$(cat "$VW_LOG")" "corrupt|damaged|torn|refuses" "the state replays cleanly"
missing=0
for v in "${acked[@]}"; do
	[[ $(req Get "$v") == *'"Name":"'"$v"'"'* ]] || { missing=$((missing + 1)); diag "lost: $v"; }
done
is "$missing" 0 "after the restart all ${#acked[@]} acknowledged volumes are there"
ghost=0
for v in "${failed[@]}"; do
	[[ $(req Get "$v") == *'"Err":"'* ]] || { ghost=$((ghost + 1)); diag "appeared: $v"; }
done
is "$ghost" 0 "and none of the ${#failed[@]} failed Creates"
like "$(req Get a1)" '"Err":"' "a1's removal holds"
vw_stop
ok $? "the daemon stops cleanly"
done_testing
