#!/bin/bash
# Attacks on on_remove delete, the riskiest privileged operation: what a
# container leaves in a volume (symlinks to the host, FIFOs, device nodes,
# hard links, bind mounts) and a symlink swapped in for a directory in a
# tight loop while the tree is being deleted.  Every check looks at the
# file system, not just at the reply.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir
. "$top_srcdir/t/lib/functions.sh"

requires_root
requires curl --version
requires id "$VW_TEST_USER"

ROOT="$TESTDIR/volumes"
CANARY="$TESTDIR/canary"
ALLOWED="$TESTDIR/allowed"
CFG="$TESTDIR/volwarden.json"
cat >"$CFG" <<JSON
{"user": "$VW_TEST_USER", "state_dir": "$TESTDIR/state",
 "run_dir": "$TESTDIR/run", "socket_dir": "$TESTDIR/sock",
 "drivers": [{"name": "volwarden", "backend": "dir", "root": "$ROOT",
              "allowed_roots": ["$ALLOWED"], "on_remove": "delete"}]}
JSON
chmod 0600 "$CFG"
export VW_CUSTOM=1
vw_start --config "$CFG" || bail_out "volwarden did not start"

mkdir -p "$CANARY/sub"
echo precious >"$CANARY/file"
echo precious >"$CANARY/sub/file"
canary_sum() { (cd "$CANARY" && find . -printf '%p %i %s %m %u %T@\n' | sort; cat file sub/file) | md5sum; }
before=$(canary_sum)

create() { vw_call VolumeDriver.Create "{\"Name\":\"$1\"}"; }
remove() { vw_call VolumeDriver.Remove "{\"Name\":\"$1\"}"; }

# 1. Planted entries of every kind.
is "$(create planted)" "{}" "create a volume"
V="$ROOT/planted"
mkdir -p "$V/d/e"
ln -s "$CANARY" "$V/link-dir"
ln -s "$CANARY/file" "$V/d/link-file"
ln -s / "$V/d/e/root"
mkfifo "$V/fifo"
mknod "$V/d/null" c 1 3
mknod "$V/d/e/loopdev" b 7 200
cp /bin/true "$V/suid" && chmod 4755 "$V/suid"
ln "$CANARY/file" "$V/hardlink"
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$V/sock" 2>/dev/null
chmod 000 "$V/d"
is "$(timeout 20 bash -c "$(declare -f vw_call); SOCK='$VW_SOCK' vw_call VolumeDriver.Remove '{\"Name\":\"planted\"}'")" "{}" \
	"remove with symlinks, a FIFO, device nodes, a setuid file, a hard link and a socket inside"
ok "$([ ! -e "$V" ]; echo $?)" "the volume directory is gone"
is "$(canary_sum)" "$before" "nothing outside the root changed (the hard-linked file kept its content)"
ok "$([ -e /dev/null ] && [ -c /dev/null ]; echo $?)" "/dev/null is intact"

# 2. A bind mount inside a volume: the delete stops there.
is "$(create bound)" "{}" "create a volume"
mkdir -p "$ROOT/bound/mnt"
touch "$ROOT/bound/before"
mount --bind "$CANARY" "$ROOT/bound/mnt"
cleanup_fn "umount -l '$ROOT/bound/mnt'"
out=$(remove bound)
like "$out" "contains a mount point" "remove refuses to descend into a bind mount"
umount "$ROOT/bound/mnt"
is "$(canary_sum)" "$before" "the bind-mounted directory is untouched"
is "$(remove bound)" "{}" "after the unmount the remove succeeds"

# 3. Race: a loop swaps a directory inside the volume for a symlink to the
#    canary while the volume is deleted, 40 times.
escaped=0
for i in $(seq 1 40); do
	create "race$i" >/dev/null
	V="$ROOT/race$i"
	for j in $(seq 1 30); do mkdir -p "$V/t$j/u/w"; touch "$V/t$j/u/w/f"; done
	(
		while :; do
			for j in 3 7 11 19 27; do
				rm -rf "$V/t$j" 2>/dev/null
				ln -sfn "$CANARY" "$V/t$j" 2>/dev/null
				rm -f "$V/t$j" 2>/dev/null
				mkdir -p "$V/t$j/u" 2>/dev/null
			done
		done
	) &
	swapper=$!
	remove "race$i" >/dev/null
	kill "$swapper"
	wait "$swapper" 2>/dev/null
	[ "$(canary_sum)" = "$before" ] || escaped=$((escaped + 1))
	remove "race$i" >/dev/null	# finish if the race made it stop early
	rm -rf "$V"
done
is "$escaped" 0 "40 deletes racing a symlink swap never touched the canary"
ok "$(kill -0 "$VW_PID"; echo $?)" "the daemon is still running"
# 3b. Race during creates: a component under the allowed root flips
#     between a real directory and a symlink to the canary while volumes
#     with uid, gid and mode are created below it, 300 times.
(
	while :; do
		rm -rf "$ALLOWED/flip" 2>/dev/null
		ln -sfn "$CANARY" "$ALLOWED/flip" 2>/dev/null
		rm -f "$ALLOWED/flip" 2>/dev/null
		mkdir "$ALLOWED/flip" 2>/dev/null
	done
) &
swapper=$!
made=0
for i in $(seq 1 300); do
	out=$(vw_call VolumeDriver.Create "{\"Name\":\"cr$i\",\"Opts\":{\"mountpoint\":\"$ALLOWED/flip/v$i\",\"uid\":\"4242\",\"mode\":\"0777\"}}")
	[ "$out" = "{}" ] && made=$((made + 1))
done
kill "$swapper"
wait "$swapper" 2>/dev/null
diag "$made of 300 creates succeeded while the path flipped"
is "$(canary_sum)" "$before" "no create followed the flipping symlink out of the allowed root"
ok "$(find "$CANARY" -uid 4242 | grep -q .; [ $? -ne 0 ]; echo $?)" "nothing in the canary was chowned"

# 4. A mountpoint made of quotes: the Mount reply escapes every one (it
#    used to overrun its buffer) and names exactly the directory.
mp=$(printf '"%.0s' $(seq 1 250)); mp="$mp/$mp/$mp/$mp/$mp/$mp/$mp/$mp/$mp/$mp/$mp/$mp/$mp/$mp/$mp/$mp"
body=$(jq -cn --arg mp "$mp" '{Name: "quotes", Opts: {mountpoint: $mp}}')
is "$(vw_call VolumeDriver.Create "$body")" "{}" "create with a 4 KiB mountpoint of quotes"
out=$(vw_call VolumeDriver.Mount '{"Name":"quotes","ID":"q1"}')
is "$(printf '%s' "$out" | jq -r .Mountpoint)" "$ROOT/$mp" "Mount answers valid JSON naming the directory"
vw_call VolumeDriver.Unmount '{"Name":"quotes","ID":"q1"}' >/dev/null
# 5. Invalid UTF-8 that yajl accepts never becomes a path (dockerd's Go
#    decoder would read each bad byte as U+FFFD and mount another path).
out=$(printf '{"Name":"utf","Opts":{"mountpoint":"a\xc1\xbf/evil"}}' |
	curl -s --unix-socket "$VW_SOCK" -X POST --data-binary @- http://plugin/VolumeDriver.Create)
like "$out" "not valid UTF-8" "an overlong UTF-8 mountpoint is refused"
ok "$([ ! -e "$ROOT/a" ]; echo $?)" "and nothing was created"

vw_stop
ok $? "the daemon stops cleanly"
done_testing
