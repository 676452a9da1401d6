#!/bin/bash
# on_remove delete of a big volume does not stall the driver: Remove moves
# the tree into ROOT/.volwarden-trash and answers; the helper deletes it
# between requests while Get, Create and Mount of other volumes keep being
# answered; what a stopped helper left is deleted at the next start.
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir
. "$top_srcdir/t/lib/functions.sh"

requires_root
requires curl --version
requires jq --version
requires id "$VW_TEST_USER"

ROOT="$TESTDIR/volumes"
ALLOWED="$TESTDIR/allowed"
TRASH="$ROOT/.volwarden-trash"
CFG="$TESTDIR/volwarden.json"
cat >"$CFG" <<JSON
{"user": "$VW_TEST_USER", "state_dir": "$TESTDIR/state",
 "run_dir": "$TESTDIR/run", "socket_dir": "$TESTDIR/sock",
 "drivers": [{"name": "volwarden", "backend": "dir", "root": "$ROOT",
              "allowed_roots": ["$ALLOWED"], "on_remove": "delete"}]}
JSON
chmod 0600 "$CFG"
export VW_CUSTOM=1

# The volume root on a tmpfs of its own: creating 200,000 files on the
# test machine's disk takes from 10 s to minutes depending on its load.
mkdir -p "$ROOT"
mount -t tmpfs -o size=512m,nr_inodes=600k,mode=0755 vwtrash "$ROOT" ||
	bail_out "cannot mount a tmpfs on $ROOT"
cleanup_fn "umount '$ROOT'"

# A canary outside the roots, reachable only through symlinks.
CANARY="$TESTDIR/canary"
mkdir -p "$CANARY/sub"
echo precious >"$CANARY/file"
echo deeper >"$CANARY/sub/file"
canary_sum() { find "$CANARY" -printf '%p %s %m\n' | sort | md5sum; }
before=$(canary_sum)

# A directory called like the trash, made before volwarden used one, with
# an entry the helper did not name: it must keep its contents.
mkdir -p "$TRASH/keep-me"
chmod 0700 "$TRASH"
echo kept >"$TRASH/keep-me/file"

vw_start --config "$CFG" || bail_out "volwarden did not start"
is "$(stat -c '%a %U' "$TRASH")" "700 root" "the trash is 0700 and root's"
is "$(stat -c '%a %U' "$ALLOWED/.volwarden-trash")" "700 root" \
	"each allowed root has its own trash"

req() {	# req ENDPOINT NAME [ID]: one request, at most 10 s; prints the reply
	local b
	if [ -n "${3-}" ]; then
		b=$(jq -nc --arg n "$2" --arg i "$3" '{Name: $n, ID: $i}')
	else
		b=$(jq -nc --arg n "$2" '{Name: $n}')
	fi
	curl -s --max-time 10 --unix-socket "$VW_SOCK" -X POST \
		"http://plugin/VolumeDriver.$1" --data-binary "$b"
}
trash_entries() { find "$TRASH" -mindepth 1 -maxdepth 1 -name 'vwt-*' | wc -l; }

# No volume can live in the trash.
out=$(curl -s --max-time 10 --unix-socket "$VW_SOCK" -X POST \
	http://plugin/VolumeDriver.Create \
	--data-binary '{"Name":"sneaky","Opts":{"mountpoint":".volwarden-trash/x"}}')
like "$out" '"Err":".*volwarden-trash' "a mountpoint inside the trash is refused"
out=$(curl -s --max-time 10 --unix-socket "$VW_SOCK" -X POST \
	http://plugin/VolumeDriver.Create --data-binary \
	"{\"Name\":\"sneaky2\",\"Opts\":{\"mountpoint\":\"$ALLOWED/.volwarden-trash\"}}")
like "$out" '"Err":".*volwarden-trash' "... and so is an allowed root's trash"

# A volume of 200,000 files, with symlinks to the canary inside.
is "$(req Create big)" "{}" "create the big volume"
for d in $(seq 1 200); do
	mkdir "$ROOT/big/d$d"
	(cd "$ROOT/big/d$d" && seq 1 1000 | xargs touch)
done
ln -s "$CANARY" "$ROOT/big/link"
ln -s "$CANARY/file" "$ROOT/big/d7/flink"
mkdir -p "$ROOT/big/deep/a/b/c"
ln -s "$CANARY" "$ROOT/big/deep/a/b/c/up"
diag "the big volume holds $(find "$ROOT/big" | wc -l) entries"
for v in other1 other2; do req Create "$v" >/dev/null; done

t0=$(date +%s.%N)
out=$(req Remove big)
t1=$(date +%s.%N)
is "$out" "{}" "Remove of the 200,000-file volume answers"
diag "Remove answered in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }') s"
ok "$([ ! -e "$ROOT/big" ]; echo $?)" "the volume's directory is gone at once"
like "$(req Get big)" '"Err"' "and the volume is no longer known"

# While the helper deletes, other requests of the driver are answered.
answered=0 during=0 failed=0 i=0
while [ "$(trash_entries)" -gt 0 ] && [ $i -lt 200 ]; do
	i=$((i + 1))
	a=$(req Get other1); b=$(req Create "new$i")
	c=$(req Mount other2 "m$i"); d=$(req Unmount other2 "m$i")
	if [[ $a == *'"Name":"other1"'* && $b == '{}' && \
	    $c == *'"Mountpoint":"'"$ROOT"'/other2"'* && $d == '{}' ]]; then
		answered=$((answered + 1))
		[ "$(trash_entries)" -gt 0 ] && during=$((during + 1))
	else
		failed=$((failed + 1))
		diag "replies: $a | $b | $c | $d"
	fi
done
diag "$answered rounds of Get, Create, Mount and Unmount answered, $during of them while the trash was being emptied"
is "$failed" 0 "every Get, Create, Mount and Unmount during the deletion succeeded"
ok "$((during > 0 ? 0 : 1))" "some were answered while the trash still held the volume"

for i in $(seq 1 600); do
	[ "$(trash_entries)" -eq 0 ] && break
	sleep 0.1
done
t2=$(date +%s.%N)
is "$(trash_entries)" 0 "the trash empties by itself"
diag "the trash was empty $(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.1f", b - a }') s after the Remove"
like "$(cat "$VW_LOG")" "deleted $TRASH/vwt-[^ ]*-big from the trash" \
	"the helper logs the deletion"
is "$(canary_sum)" "$before" "nothing outside the root changed (symlinks were never followed)"
is "$(cat "$TRASH/keep-me/file" 2>&1)" kept "an entry the helper did not name is left alone"

# A volume under an allowed root goes to that root's trash.
out=$(curl -s --max-time 10 --unix-socket "$VW_SOCK" -X POST \
	http://plugin/VolumeDriver.Create \
	--data-binary "{\"Name\":\"al\",\"Opts\":{\"mountpoint\":\"$ALLOWED/x/al\"}}")
is "$out" "{}" "create a volume under the allowed root"
echo data >"$ALLOWED/x/al/f"
is "$(req Remove al)" "{}" "remove it"
for i in $(seq 1 100); do
	[ -z "$(ls -A "$ALLOWED/.volwarden-trash")" ] && break
	sleep 0.1
done
ok "$([ ! -e "$ALLOWED/x/al" ] && [ -d "$ALLOWED/x" ] && \
    [ -z "$(ls -A "$ALLOWED/.volwarden-trash")" ]; echo $?)" \
	"it went through the allowed root's trash, which is empty again"

# Trash left by a helper that stopped is deleted at the next start.
is "$(req Create big2)" "{}" "create a second big volume"
for d in $(seq 1 100); do
	mkdir "$ROOT/big2/d$d"
	(cd "$ROOT/big2/d$d" && seq 1 1000 | xargs touch)
done
is "$(req Remove big2)" "{}" "remove it"
vw_stop
ok $? "stop the daemon right away"
left=$(find "$TRASH" -mindepth 1 | wc -l)
diag "$left entries were left in the trash"
ok "$((left > 0 ? 0 : 1))" "the trash still holds part of the volume"
vw_start --config "$CFG" || bail_out "volwarden did not restart"
for i in $(seq 1 300); do
	[ "$(trash_entries)" -eq 0 ] && break
	sleep 0.1
done
is "$(trash_entries)" 0 "the restarted helper empties the trash"
like "$(req Get other1)" '"Name":"other1"' "and the other volumes are still there"
vw_stop
ok $? "the daemon stops cleanly"
done_testing
