#!/bin/bash
# Every VolumeDriver endpoint and every error, over the plugin socket with
# curl; then on_remove delete/archive from a config file, and bad
# configurations refused at start.
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir
. "$top_srcdir/t/lib/functions.sh"

requires_root
requires curl --version
requires jq --version

# call ENDPOINT [BODY]: sets RESP, ERR (the "Err" string) and HTTP_CODE.
call() {
	vw_call "$1" "${2-}" >"$TESTDIR/resp"
	RESP=$(<"$TESTDIR/resp")
	# The Err string as it appears in the JSON (escapes kept); no fork.
	ERR=
	if [[ $RESP =~ \"Err\":\"(([^\"\\]|\\.)*)\" ]]; then
		ERR=${BASH_REMATCH[1]}
	fi
}
body() {	# body NAME [OPTS-JSON]
	jq -nc --arg n "$1" --argjson o "${2:-null}" '{Name: $n, Opts: $o}'
}
mbody() {	# mbody NAME ID
	jq -nc --arg n "$1" --arg i "$2" '{Name: $n, ID: $i}'
}
create() { call VolumeDriver.Create "$(body "$@")"; }
get() { call VolumeDriver.Get "$(body "$1")"; }
vpath() { call VolumeDriver.Path "$(body "$1")"; json_get "$RESP" '.Mountpoint'; }
mount() { call VolumeDriver.Mount "$(mbody "$1" "$2")"; }
unmount() { call VolumeDriver.Unmount "$(mbody "$1" "$2")"; }
remove() { call VolumeDriver.Remove "$(body "$1")"; }
mounts_of() { get "$1"; json_get "$RESP" '.Volume.Status.mounts'; }

# expect_err DESCRIPTION: the last reply is an error (non-empty Err).
expect_err() {
	if [ -n "$ERR" ]; then
		pass "$1"
	else
		fail "$1"
		diag "reply ($HTTP_CODE): $RESP"
	fi
}
expect_ok() {	# the last reply is {} with status 200
	if [ "$HTTP_CODE" = 200 ] && [ "$RESP" = "{}" ]; then
		pass "$1"
	else
		fail "$1"
		diag "reply ($HTTP_CODE): $RESP"
	fi
}

RFC3339='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$'
ROOT="$TESTDIR/volumes"
ALLOWED="$TESTDIR/allowed"
idA=$(printf 'a%.0s' $(seq 64))
idB=$(printf 'b%.0s' $(seq 64))
idX=$(printf 'c%.0s' $(seq 64))

vw_start --allowed-root "$ALLOWED" || bail_out "volwarden did not start"

# --------------------------------------------------------- handshake
call Plugin.Activate ""
is "$HTTP_CODE" 200 "Activate: status 200"
is "$(json_get "$RESP" '.Implements | tostring')" '["VolumeDriver"]' \
    "Activate implements exactly VolumeDriver"
call VolumeDriver.Capabilities '{}'
is "$HTTP_CODE" 200 "Capabilities: status 200"
is "$(json_get "$RESP" '.Capabilities.Scope')" local "Capabilities: scope local"

# dockerd 20.10's headers: empty Host, no Content-Type, v1.2 Accept, body
# ending in a newline; and two requests on one kept-alive connection.
out=$(curl -s --max-time 10 --unix-socket "$VW_SOCK" -X POST -H 'Host;' \
    -H 'Content-Type:' -H 'User-Agent: Go-http-client/1.1' \
    -H 'Accept: application/vnd.docker.plugins.v1.2+json' \
    --data-binary $'{}\n' http://plugin/VolumeDriver.Capabilities)
is "$(json_get "$out" '.Capabilities.Scope')" local "a request with dockerd's headers (empty Host) is answered"
out=$(curl -sv --max-time 10 --unix-socket "$VW_SOCK" -X POST --data-binary '{}' \
    http://plugin/VolumeDriver.Capabilities http://plugin/VolumeDriver.List 2>&1)
like "$out" 'Re-using existing connection' "keep-alive: the connection is reused"
like "$out" '"Volumes":\[' "... and the second request is answered"

# ------------------------------------------------------------ create
create ev1
expect_ok "Create ev1"
ok "$([ -d "$ROOT/ev1" ]; echo $?)" "Create makes ROOT/ev1"
create ev1
expect_ok "Create ev1 again (Opts null) is idempotent"
create ev1 '{}'
expect_ok "Create ev1 again (Opts {}) is idempotent"
create ev1 '{"uid":"1234"}'
expect_err "Create ev1 with different options is refused"
like "$ERR" "different options" "... and the error says why"

create ev2 '{"uid":"1234","gid":"4321","mode":"0750"}'
expect_ok "Create ev2 with uid, gid and mode"
create ev2 '{"mode":"0750","gid":"4321","uid":"1234"}'
expect_ok "Create ev2 again with the same options is idempotent"
create ev2 '{"uid":"1234","gid":"4321"}'
expect_err "Create ev2 with fewer options is refused"
is "$(stat -c '%u %g %a' "$ROOT/ev2" 2>&1)" "1234 4321 750" \
    "uid, gid and mode are applied to ROOT/ev2"

# --------------------------------------------------------------- get
get ev2
is "$HTTP_CODE" 200 "Get ev2: status 200"
is "$ERR" "" "Get ev2: no Err"
is "$(json_get "$RESP" '.Volume.Name')" ev2 "Get: Name"
is "$(json_get "$RESP" '.Volume.Mountpoint')" "$ROOT/ev2" "Get: Mountpoint"
created=$(json_get "$RESP" '.Volume.CreatedAt')
like "$created" "$RFC3339" "Get: CreatedAt is RFC 3339 ($created)"
ok "$(date -d "$created" +%s >/dev/null 2>&1; echo $?)" "Get: CreatedAt parses as a date"
now=$(date +%s)
cs=$(date -d "$created" +%s 2>/dev/null || echo 0)
ok "$([ $((now - cs)) -ge 0 ] && [ $((now - cs)) -lt 60 ]; echo $?)" \
    "Get: CreatedAt is the creation time (now $now, CreatedAt $cs)"
is "$(json_get "$RESP" '.Volume.Status.options | tojson')" \
    '{"uid":"1234","gid":"4321","mode":"0750"}' "Get: Status has the options"
sleep 1.1
get ev2
is "$(json_get "$RESP" '.Volume.CreatedAt')" "$created" \
    "Get: CreatedAt unchanged on a later Get"
create ev2 '{"uid":"1234","gid":"4321","mode":"0750"}'
get ev2
is "$(json_get "$RESP" '.Volume.CreatedAt')" "$created" \
    "Get: CreatedAt unchanged after an idempotent Create"
get nosuch
expect_err "Get of an unknown volume: Err"
is "$(json_get "$RESP" '.Volume // "none"')" none "Get of an unknown volume: no Volume"

# -------------------------------------------------------------- list
create ev3
call VolumeDriver.List '{}'
LIST=$RESP
is "$HTTP_CODE" 200 "List: status 200"
is "$ERR" "" "List: no Err"
names=$(json_get "$LIST" '[.Volumes[].Name] | sort | join(" ")')
is "$names" "ev1 ev2 ev3" "List shows every volume"
list_ok=0
for n in $(json_get "$LIST" '.Volumes[].Name'); do
	lmp=$(printf '%s' "$LIST" | jq -r --arg n "$n" '.Volumes[] | select(.Name == $n) | .Mountpoint')
	get "$n"
	if [ -n "$ERR" ] || [ "$(json_get "$RESP" '.Volume.Mountpoint')" != "$lmp" ]; then
		list_ok=1
		diag "listed volume $n: Get says $RESP"
	fi
done
ok $list_ok "every listed volume can be fetched with Get (same Mountpoint)"
is "$(json_get "$LIST" '.Volumes[].CreatedAt' | grep -Evc "$RFC3339")" 0 \
    "List: every CreatedAt is RFC 3339"

# ------------------------------------------------------ path / mount
is "$(vpath ev1)" "" "Path is \"\" while not mounted"
mount ev1 "$idA"
is "$(json_get "$RESP" '.Mountpoint')" "$ROOT/ev1" "Mount A returns the path"
is "$ERR" "" "Mount A: no Err"
is "$(vpath ev1)" "$ROOT/ev1" "Path returns the path while mounted"
mount ev1 "$idA"
is "$(json_get "$RESP" '.Mountpoint')" "$ROOT/ev1" "second Mount with the same ID"
unmount ev1 "$idA"
expect_ok "one Unmount A"
is "$(vpath ev1)" "$ROOT/ev1" "after 2 x Mount A and 1 x Unmount A: still mounted"
is "$(mounts_of ev1)" 1 "Status.mounts is 1"
unmount ev1 "$idA"
expect_ok "second Unmount A"
is "$(vpath ev1)" "" "after the second Unmount A: Path is \"\""
unmount ev1 unknown-id
expect_ok "Unmount of an unknown ID succeeds with {}"
unmount ev1 "$idA"
expect_ok "an extra Unmount A succeeds with {}"
is "$(mounts_of ev1)" 0 "no underflow: Status.mounts is 0"
is "$(vpath ev1)" "" "no underflow: Path is \"\""
mount ev1 "$idA"
mount ev1 "$idB"
is "$(mounts_of ev1)" 2 "two IDs: Status.mounts is 2"
unmount ev1 "$idA"
is "$(vpath ev1)" "$ROOT/ev1" "two IDs, Unmount A: still mounted (B)"
unmount ev1 "$idB"
is "$(vpath ev1)" "" "two IDs, Unmount B too: not mounted"
unmount ev1 "$idB"
expect_ok "Unmount B again: {}"
mount ev1 "$idA"
is "$(mounts_of ev1)" 1 "after extra Unmounts a Mount counts 1 (no underflow)"
unmount ev1 "$idA"
is "$(vpath ev1)" "" "and one Unmount releases it"
call VolumeDriver.Mount "$(body ev1)"
expect_err "Mount without an ID is refused"
call VolumeDriver.Mount '{"Name":"ev1","ID":"has space"}'
expect_err "Mount with an ID containing a space is refused"
is "$(mounts_of ev1)" 0 "refused Mounts count nothing"
mount nosuch "$idA"
expect_err "Mount of an unknown volume: Err"
vpath nosuch >/dev/null
expect_err "Path of an unknown volume: Err"

# 30 concurrent Mounts (7 IDs), then 30 concurrent Unmounts, of one volume.
cm_pids=()
for i in $(seq 1 30); do
	vw_call VolumeDriver.Mount "{\"Name\":\"ev2\",\"ID\":\"cid$((i % 7))\"}" >"$TESTDIR/cm$i" &
	cm_pids+=($!)
done
wait "${cm_pids[@]}"
is "$(cat "$TESTDIR"/cm* | sort -u)" "{\"Mountpoint\":\"$ROOT/ev2\",\"Err\":\"\"}" \
    "30 concurrent Mounts all return the path"
is "$(mounts_of ev2)" 30 "... and are all counted"
cm_pids=()
for i in $(seq 1 30); do
	vw_call VolumeDriver.Unmount "{\"Name\":\"ev2\",\"ID\":\"cid$((i % 7))\"}" >"$TESTDIR/cu$i" &
	cm_pids+=($!)
done
wait "${cm_pids[@]}"
is "$(cat "$TESTDIR"/cu* | sort -u)" "{}" "30 concurrent Unmounts all return {}"
is "$(mounts_of ev2)" 0 "... and release every reference"
is "$(vpath ev2)" "" "... and Path is \"\""

# ---------------------------------------- vanished directory on Mount
rm -rf "$ROOT/ev3"
mount ev3 "$idA"
expect_err "Mount of a volume whose directory vanished: Err"
like "$ERR" "$ROOT/ev3" "... naming the path"
ok "$([ ! -e "$ROOT/ev3" ]; echo $?)" "... and the directory is NOT re-created"
is "$(mounts_of ev3)" 0 "... and no mount reference is counted"
is "$(vpath ev3)" "" "... and Path is \"\""

# ------------------------------------------------------------ remove
echo keep-me >"$ROOT/ev1/data"
mount ev1 "$idX"
remove ev1
expect_err "Remove is refused while mounted"
like "$ERR" "in use" "... saying it is in use"
get ev1
is "$ERR" "" "... and the volume is still there"
unmount ev1 "$idX"
remove ev1
expect_ok "Remove after Unmount"
get ev1
expect_err "Get after Remove: Err"
is "$(cat "$ROOT/ev1/data" 2>&1)" keep-me "on_remove keep (default): the data is kept"
ok "$([ ! -e "$ROOT/.volwarden-trash" ]; echo $?)" "a keep driver makes no trash directory"
remove ev1
expect_ok "Remove of a volume that is already gone: {}"
remove ev3
expect_ok "Remove of a volume whose directory vanished"

# ------------------------------------------------- malformed requests
call VolumeDriver.Create '{"Name":'
is "$HTTP_CODE" 400 "malformed JSON: status 400"
expect_err "malformed JSON: Err"
call VolumeDriver.Create ''
is "$HTTP_CODE" 400 "empty body: status 400"
like "$ERR" "empty" "empty body: Err says the body is empty"
call VolumeDriver.Get ''
expect_err "empty body on Get: Err"
call VolumeDriver.Create '{"Name":1}'
is "$HTTP_CODE" 400 "\"Name\":1: status 400"
like "$ERR" "Name" "\"Name\":1: Err names the field"
call VolumeDriver.Mount '{"Name":"ev2","ID":1}'
expect_err "\"ID\":1: Err"
call VolumeDriver.Create '{"Name":"ok1","Opts":"x"}'
expect_err "\"Opts\" a string: Err"
call VolumeDriver.Create '{"Name":"ok1","Opts":{"uid":5}}'
expect_err "an option value that is a number: Err"
call VolumeDriver.Create '[{"Name":"ok1"}]'
expect_err "an array body: Err"
call VolumeDriver.Create '"ok1"'
expect_err "a string body: Err"
call VolumeDriver.Create '{"Name":"ok1"}{"Name":"ok2"}'
expect_err "two JSON objects: Err"
call VolumeDriver.Create '{"Name":"ok1","Name":"ok2"}'
expect_err "Name given twice: Err"
get ok1
expect_err "none of the malformed Creates created ok1"

call VolumeDriver.Frobnicate '{}'
is "$HTTP_CODE" 404 "unknown endpoint: status 404"
expect_err "unknown endpoint: Err"
call Plugin.Deactivate ''
is "$HTTP_CODE" 404 "unknown Plugin.* endpoint: status 404"

code=$(curl -s -o "$TESTDIR/resp" -w '%{http_code}' --max-time 10 \
    --unix-socket "$VW_SOCK" -X GET http://plugin/Plugin.Activate)
ok "$([ "$code" != 200 ]; echo $?)" "GET instead of POST is refused (status $code)"
code=$(curl -s -o "$TESTDIR/resp" -w '%{http_code}' --max-time 10 \
    --unix-socket "$VW_SOCK" -X GET --data-binary '{"Name":"viaget"}' \
    http://plugin/VolumeDriver.Create)
ok "$([ "$code" != 200 ]; echo $?)" "GET on Create is refused (status $code)"
get viaget
expect_err "... and created nothing"

# --------------------------------------------------------------- names
before=$(ls -A "$ROOT" | sort | tr '\n' ' ')
long255=$(printf 'n%.0s' $(seq 255))
long256=$(printf 'n%.0s' $(seq 256))
for n in 'a/b' '../../etc' '..' '.' 'has space' 'q"uote' "q'uote" '.dot' \
    '-dash' '_under' 'x' '' "$long256" 'semi;colon' 'tab	x' $'new\nline' \
    'ünï'; do
	create "$n"
	expect_err "Create with invalid name '$(printf '%q' "${n:0:40}")' is refused"
done
for ep in Get Path Remove; do
	call VolumeDriver.$ep "$(body ../ev2)"
	expect_err "$ep with the name ../ev2 is refused"
done
mount '../ev2' "$idA"
expect_err "Mount with the name ../ev2 is refused"
create "$long256"
like "$ERR" "255" "a 256-byte name: Err states the 255-byte limit"
call VolumeDriver.Create '{"Name":"ab\u0000cd"}'
expect_err "a name with an embedded \\u0000 is refused"
call VolumeDriver.Get '{"Name":"ev2\u0000"}'
expect_err "Get of 'ev2\\u0000' does not find ev2"
call VolumeDriver.Create $'{"Name":"ab\xff\xfecd"}'
expect_err "a name with invalid UTF-8 is refused"
call VolumeDriver.Create $'{"Name":"ab\xc3"}'
expect_err "a name with a truncated UTF-8 sequence is refused"
is "$(ls -A "$ROOT" | sort | tr '\n' ' ')" "$before" \
    "refused names left nothing in the volume root"
create "$long255"
expect_ok "a 255-byte name is accepted"
get "$long255"
is "$(json_get "$RESP" '.Volume.Mountpoint')" "$ROOT/$long255" "... and Get finds it"
ok "$([ -d "$ROOT/$long255" ]; echo $?)" "... and its directory exists"
create a1
expect_ok "a two-character name is accepted"
create 'A.b-c_9'
expect_ok "a name with . - _ and capitals is accepted"

# ------------------------------------------------------------- options
create op1 '{"size":"10G"}'
expect_err "unknown option: Err"
like "$ERR" "size" "... naming the option"
like "$ERR" "mountpoint, uid, gid, mode" "... and listing the valid ones"
create op1 '{"flag":""}'
expect_err "unknown flag option (-o flag): Err"

create op1 '{"mountpoint":"/etc/volwarden-test"}'
expect_err "mountpoint outside the allowed roots: Err"
like "$ERR" "$ALLOWED" "... naming the allowed roots"
ok "$([ ! -e /etc/volwarden-test ]; echo $?)" "... and nothing created there"
create op1 "{\"mountpoint\":\"$ALLOWED\"}"
expect_err "mountpoint equal to an allowed root: Err"
create op1 "{\"mountpoint\":\"$ALLOWED/../escape\"}"
expect_err "absolute mountpoint with '..': Err"
like "$ERR" '\.\.' "... saying '..' is not allowed"
create op1 '{"mountpoint":"../escape"}'
expect_err "relative mountpoint with '..': Err"
create op1 '{"mountpoint":"a/../../escape"}'
expect_err "relative mountpoint with an inner '..': Err"
create op1 '{"mountpoint":"./x"}'
expect_err "mountpoint with '.': Err"
create op1 '{"mountpoint":""}'
expect_err "empty mountpoint: Err"
create op1 '{"mountpoint":"/"}'
expect_err "mountpoint /: Err"
call VolumeDriver.Create '{"Name":"op1","Opts":{"mountpoint":"a\u0001b"}}'
expect_err "mountpoint with a control character: Err"
ok "$([ ! -e "$TESTDIR/escape" ] && [ ! -e "$TESTDIR/allowed/escape" ]; echo $?)" \
    "refused mountpoints created nothing"

create rel1 '{"mountpoint":"rel/sub"}'
expect_ok "relative mountpoint"
get rel1
is "$(json_get "$RESP" '.Volume.Mountpoint')" "$ROOT/rel/sub" "... lands under the root"
ok "$([ -d "$ROOT/rel/sub" ]; echo $?)" "... and the directory exists"
is "$(json_get "$RESP" '.Volume.Status.options.mountpoint')" "rel/sub" \
    "... Status shows the mountpoint option"
create rel1 '{"mountpoint":"rel//sub/"}'
expect_ok "Create again with the same mountpoint spelt differently is idempotent"

create abs1 "{\"mountpoint\":\"$ALLOWED/x/y\",\"uid\":\"2345\",\"gid\":\"5432\",\"mode\":\"0710\"}"
expect_ok "absolute mountpoint under an allowed root, with uid/gid/mode"
get abs1
is "$(json_get "$RESP" '.Volume.Mountpoint')" "$ALLOWED/x/y" "... lands there"
is "$(stat -c '%u %g %a' "$ALLOWED/x/y" 2>&1)" "2345 5432 710" \
    "... with the owner, group and mode applied"
mount abs1 "$idA"
is "$(json_get "$RESP" '.Mountpoint')" "$ALLOWED/x/y" "Mount returns the absolute mountpoint"
unmount abs1 "$idA"

create gid1 '{"gid":"3456"}'
is "$(stat -c '%u %g' "$ROOT/gid1" 2>&1)" "0 3456" "gid alone: group set, owner root"
create mod1 '{"mode":"1777"}'
is "$(stat -c '%a' "$ROOT/mod1" 2>&1)" 1777 "mode 1777 (sticky) applied"
create sgid1 '{"gid":"3456","mode":"2770"}'
expect_ok "Create with gid 3456 and mode 2770"
is "$(stat -c '%g' "$ROOT/sgid1" 2>&1)" 3456 "... group set"
is "$(stat -c '%a' "$ROOT/sgid1" 2>&1)" 2770 "... and mode 2770 with its setgid bit"

for o in '{"uid":"abc"}' '{"uid":"-1"}' '{"uid":"4294967295"}' '{"uid":"1.5"}' \
    '{"uid":""}' '{"uid":" 1"}' '{"uid":"99999999999999999999"}' \
    '{"gid":"x"}' '{"gid":"-5"}' \
    '{"mode":"0999"}' '{"mode":"10000"}' '{"mode":"rwx"}' '{"mode":""}' \
    '{"mode":"-0755"}' '{"mode":"0x1ff"}'; do
	create bad1 "$o"
	expect_err "bad option value $o is refused"
done
get bad1
expect_err "... and bad1 does not exist"
ok "$([ ! -e "$ROOT/bad1" ]; echo $?)" "... and has no directory"

# ------------------------------------------------------------- overlap
create ov1 '{"mountpoint":"ev2"}'
expect_err "mountpoint = another volume's directory: Err"
like "$ERR" "ev2" "... naming the other volume"
create ov1 '{"mountpoint":"ev2/inner"}'
expect_err "mountpoint inside another volume's directory: Err"
create ov1 '{"mountpoint":"rel"}'
expect_err "mountpoint containing another volume's directory: Err"
create rel
expect_err "a plain volume whose directory would contain another volume: Err"
create ov1 "{\"mountpoint\":\"$ALLOWED/x\"}"
expect_err "absolute mountpoint containing another volume: Err"
create ov1 "{\"mountpoint\":\"$ALLOWED/x/y/z\"}"
expect_err "absolute mountpoint inside another volume: Err"
create ov1 "{\"mountpoint\":\"$ALLOWED/x/y/\"}"
expect_err "absolute mountpoint equal to another volume's (trailing /): Err"
get ov1
expect_err "... and ov1 was never created"
ok "$([ ! -e "$ROOT/ev2/inner" ] && [ ! -e "$ALLOWED/x/y/z" ]; echo $?)" \
    "... and nothing was created inside other volumes"

# Concurrent Creates of different names with one mountpoint must not all
# win: two volumes would share a directory.  Rounds 1-5: 8 requests for one
# directory; rounds 6-8: a directory and directories nested in it.  Bodies
# are prepared first so that the requests arrive together.
race_bad=0
race_pids=()
for r in 1 2 3 4 5 6 7 8; do
	for i in 1 2 3 4 5 6 7 8; do
		if [ $r -le 5 ]; then
			mp="shared$r"
		elif [ $((i % 2)) -eq 0 ]; then
			mp="tree$r"
		else
			mp="tree$r/sub$i"
		fi
		body "race$r-$i" "{\"mountpoint\":\"$mp\"}" >"$TESTDIR/race-body$r-$i"
	done
done
for r in 1 2 3 4 5 6 7 8; do
	for i in 1 2 3 4 5 6 7 8; do
		curl -s --max-time 10 --unix-socket "$VW_SOCK" -X POST \
		    --data-binary @"$TESTDIR/race-body$r-$i" \
		    http://plugin/VolumeDriver.Create >"$TESTDIR/race$r-$i" &
		race_pids+=($!)
	done
done
wait "${race_pids[@]}"
call VolumeDriver.List '{}'
for r in 1 2 3 4 5; do
	won=$(grep -lx '{}' "$TESTDIR"/race$r-? | wc -l)
	sharing=$(json_get "$RESP" "[.Volumes[] | select(.Mountpoint == \"$ROOT/shared$r\")] | length")
	if [ "$won" -ne 1 ] || [ "$sharing" -ne 1 ]; then
		race_bad=1
		diag "round $r: $won Creates acknowledged, $sharing volumes share $ROOT/shared$r"
	fi
done
ok $race_bad "concurrent Creates with one mountpoint: exactly one wins per directory"
won=$(cat "$TESTDIR"/race[678]-? | grep -cx '{}')
overlaps=$(json_get "$RESP" '[.Volumes[].Mountpoint] as $p
    | ([$p[] as $a | $p[] as $b | select($b | startswith($a + "/"))] | length)
      + ($p | length) - ($p | unique | length)')
is "$overlaps" 0 "concurrent nested Creates: no volume's directory is, contains or lies in another's"
ok "$([ "$won" -ge 3 ]; echo $?)" "... and some of them won ($won, at least one per round)"
acked_ok=0
for f in "$TESTDIR"/race?-?; do
	n=${f##*/race}
	get "race$n"
	if [ "$(cat "$f")" = "{}" ] && [ -n "$ERR" ]; then acked_ok=1; fi
	if [ "$(cat "$f")" != "{}" ] && [ -z "$ERR" ]; then acked_ok=1; fi
done
ok $acked_ok "... and exactly the acknowledged Creates exist"

# ------------------------------------------------------------ symlinks
mkdir -p "$TESTDIR/canary"
ln -s "$TESTDIR/canary" "$ROOT/evil"
ln -s "$TESTDIR/canary" "$ALLOWED/lnk"
create sym1 '{"mountpoint":"evil/x"}'
expect_err "mountpoint through a symlink in the root: Err"
like "$ERR" 'symbolic link' "... saying a symbolic link is in the way"
create evil
expect_err "a volume whose directory is a symlink: Err"
like "$ERR" 'symbolic link' "... saying a symbolic link is in the way"
create sym2 "{\"mountpoint\":\"$ALLOWED/lnk/x\"}"
expect_err "absolute mountpoint through a symlink: Err"
is "$(ls -A "$TESTDIR/canary")" "" "nothing was created through the symlinks"
create sym3
rm -rf "$ROOT/sym3"
ln -s "$TESTDIR/canary" "$ROOT/sym3"
mount sym3 "$idA"
expect_err "Mount of a volume whose directory became a symlink: Err"
is "$(mounts_of sym3)" 0 "... and nothing is counted"

head -c 2000000 /dev/zero | tr '\0' ' ' >"$TESTDIR/big"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --unix-socket "$VW_SOCK" \
    -X POST --data-binary @"$TESTDIR/big" http://plugin/VolumeDriver.Create)
is "$code" 413 "a 2 MB body is refused (413)"
printf '{"Name":"%s"}' "$(head -c 5000 /dev/zero | tr '\0' a)" >"$TESTDIR/big"
call VolumeDriver.Create "$(cat "$TESTDIR/big")"
expect_err "a 5000-byte string is refused"

# ---------------------------------------------------- still serving
call Plugin.Activate ""
is "$(json_get "$RESP" '.Implements[0]')" VolumeDriver \
    "after all errors the daemon still answers Activate"
ok "$(kill -0 "$VW_PID" 2>/dev/null; echo $?)" "... and is still alive"
get ev2
is "$ERR" "" "... and still has its volumes"
vw_stop
ok $? "volwarden stops cleanly (exit 0 on SIGTERM)"

# ---------------------------------------- config: on_remove delete/archive
CONF="$TESTDIR/volwarden.json"
cat >"$CONF" <<EOF
{
  "user": "$VW_TEST_USER",
  "state_dir": "$TESTDIR/c/state",
  "run_dir": "$TESTDIR/c/run",
  "socket_dir": "$TESTDIR/c/sock",
  "drivers": [
    {"name": "vwdel", "backend": "dir", "root": "$TESTDIR/c/del",
     "allowed_roots": ["$TESTDIR/c/allow"], "on_remove": "delete"},
    {"name": "vwarc", "backend": "dir", "root": "$TESTDIR/c/arc",
     "on_remove": "archive"}
  ]
}
EOF
chown 0:0 "$CONF"
chmod 0644 "$CONF"
"$VOLWARDEN" --config "$CONF" --check >"$TESTDIR/check.out" 2>&1
ok $? "--check accepts the config"
like "$(cat "$TESTDIR/check.out")" '"on_remove": "delete"' "--check prints on_remove delete"

VW_SOCK="$TESTDIR/c/sock/vwdel.sock"
VW_CUSTOM=1 vw_start --config "$CONF" || bail_out "volwarden did not start with $CONF"
DEL="$TESTDIR/c/del"
ARC="$TESTDIR/c/arc"
SOCK="$TESTDIR/c/sock/vwdel.sock"
create d1
expect_ok "vwdel: Create d1"
get d1
is "$(json_get "$RESP" '.Volume.Status.on_remove')" delete "Get: Status.on_remove is delete"
CANARY="$TESTDIR/outside-canary"
mkdir -p "$CANARY/sub"
echo precious >"$CANARY/file"
echo precious >"$CANARY/sub/file"
mkdir -p "$DEL/d1/a/b/c" "$DEL/d1/locked"
echo x >"$DEL/d1/a/b/c/f"
echo x >"$DEL/d1/locked/f"
ln -s "$CANARY" "$DEL/d1/dirlink"
ln -s "$CANARY/file" "$DEL/d1/filelink"
ln -s "$CANARY" "$DEL/d1/a/b/deeplink"
ln -s "$CANARY/sub/" "$DEL/d1/a/slashlink"
chown -R 12345:12345 "$DEL/d1/a"
chmod 0 "$DEL/d1/locked"
remove d1
expect_ok "vwdel: Remove d1"
ok "$([ ! -e "$DEL/d1" ] && [ ! -L "$DEL/d1" ]; echo $?)" "on_remove delete: the directory is deleted"
is "$(cat "$CANARY/file" "$CANARY/sub/file" 2>&1 | tr '\n' ' ')" "precious precious " \
    "the canary outside the root, reached by symlinks, survives"
is "$(find "$CANARY" | sort | tr '\n' ' ')" \
    "$CANARY $CANARY/file $CANARY/sub $CANARY/sub/file " "... untouched"
get d1
expect_err "Get after Remove: Err"

create d2 '{"mountpoint":"nest/d2"}'
echo x >"$DEL/nest/d2/f"
remove d2
ok "$([ ! -e "$DEL/nest/d2" ] && [ -d "$DEL/nest" ]; echo $?)" \
    "on_remove delete with a nested mountpoint deletes only the volume's directory"

create d3 "{\"mountpoint\":\"$TESTDIR/c/allow/p/d3\"}"
echo x >"$TESTDIR/c/allow/p/d3/f"
remove d3
expect_ok "vwdel: Remove of a volume under an allowed root"
ok "$([ ! -e "$TESTDIR/c/allow/p/d3" ] && [ -d "$TESTDIR/c/allow/p" ]; echo $?)" \
    "... deletes its directory, and only that"

# A volume directory, or its parent, replaced by a symlink to the canary:
# Remove may fail, but must not delete through the link.
mkdir -p "$CANARY/d4" "$CANARY/d5"
echo precious >"$CANARY/d4/f"
echo precious >"$CANARY/d5/f"
create d4
rm -rf "$DEL/d4"
ln -s "$CANARY/d4" "$DEL/d4"
remove d4
like "$ERR" "$DEL/d4: it is a symbolic link, which is never followed; nothing was deleted" \
    "Remove of a volume whose directory became a symlink says so"
create d5 '{"mountpoint":"link5/d5"}'
rm -rf "$DEL/link5"
ln -s "$CANARY" "$DEL/link5"
remove d5
is "$(cat "$CANARY/d4/f" "$CANARY/d5/f" 2>&1 | tr '\n' ' ')" "precious precious " \
    "Remove never deletes through a volume directory or parent replaced by a symlink"

SOCK="$TESTDIR/c/sock/vwarc.sock"
call Plugin.Activate ""
is "$(json_get "$RESP" '.Implements[0]')" VolumeDriver "the second driver's socket answers"
create a1
expect_ok "vwarc: Create a1"
echo archived >"$ARC/a1/data"
remove a1
expect_ok "vwarc: Remove a1"
ok "$([ ! -e "$ARC/a1" ]; echo $?)" "on_remove archive: a1 is gone"
archived=$(cd "$ARC" && ls -d a1.removed-* 2>/dev/null)
like "$archived" '^a1\.removed-[0-9]{8}T[0-9]{6}Z$' "... renamed to a1.removed-TIMESTAMP ($archived)"
is "$(cat "$ARC/$archived/data" 2>&1)" archived "... with its data"
create a1
expect_ok "vwarc: a1 can be created again"
ok "$([ -d "$ARC/a1" ] && [ -z "$(ls -A "$ARC/a1")" ]; echo $?)" "... as a fresh empty directory"
# Create and Remove 4 times at once: several archives in one second.
arc_fail=0
t0=$(date +%s)
for i in 1 2 3 4; do
	create b1
	remove b1
	[ "$RESP" = "{}" ] || { arc_fail=1; diag "Remove $i of b1: $RESP"; }
done
t1=$(date +%s)
ok $arc_fail "on_remove archive: re-created and removed 4 times at once, every Remove succeeds"
n_arc=$(cd "$ARC" && ls -d b1.removed-* 2>/dev/null | wc -l)
is "$n_arc" 4 "... leaving 4 distinct archives ($((t1 - t0 + 1)) second(s))"
unset SOCK
call Plugin.Activate ""
is "$HTTP_CODE" 200 "the daemon with the config still serves"
vw_stop
ok $? "volwarden with the config stops cleanly"

# -------------------------------------------------------- bad configs
BAD="$TESTDIR/bad.json"
check_bad() {	# check_bad DESCRIPTION REGEX: $BAD must be refused
	local out rc
	chown 0:0 "$BAD"
	[ -n "${BAD_MODE:-}" ] && chmod "$BAD_MODE" "$BAD"
	out=$("$VOLWARDEN" --config "$BAD" --check 2>&1)
	rc=$?
	ok "$([ $rc -ne 0 ]; echo $?)" "--check refuses $1 (exit $rc)"
	like "$out" "$2" "... naming the key and the reason"
}
good_drv="{\"name\":\"vw\",\"backend\":\"dir\",\"root\":\"$TESTDIR/b/vol\"}"
printf '{"drivers":[{"name":"vw","backend":"dir","root":"relative/dir"}]}\n' >"$BAD"
chmod 0644 "$BAD"
check_bad "a relative root" 'drivers\[0\]\.root: must be an absolute path'
printf '{"bogus":1,"drivers":[%s]}\n' "$good_drv" >"$BAD"
check_bad "an unknown top-level key" 'bogus: unknown key'
printf '{"drivers":[{"name":"vw","backend":"dir","root":"/x","sizee":"1"}]}\n' >"$BAD"
check_bad "an unknown driver key" 'drivers\[0\]\.sizee: unknown key'
printf '{"drivers":[{"name":"vw","backend":"dir","root":"/x","on_remove":"shred"}]}\n' >"$BAD"
check_bad "a bad on_remove" 'drivers\[0\]\.on_remove: must be'
printf '{"drivers":[{"name":"vw","backend":"zfs","root":"/x"}]}\n' >"$BAD"
check_bad "an unknown backend" 'drivers\[0\]\.backend: .*not available'
printf '{"drivers":[%s,%s]}\n' "$good_drv" "$good_drv" >"$BAD"
check_bad "a driver defined twice" 'drivers\[1\]\.name: .*defined twice'
printf '{"drivers":[{"name":"v/w","backend":"dir","root":"/x"}]}\n' >"$BAD"
check_bad "a bad driver name" 'drivers\[0\]\.name'
printf '{"drivers":[{"name":"vw","backend":"dir","root":"/x/../etc"}]}\n' >"$BAD"
check_bad "a root with '..'" 'drivers\[0\]\.root'
printf '{"drivers":[{"name":"vw","backend":"dir","root":"/x","allowed_roots":["rel"]}]}\n' >"$BAD"
check_bad "a relative allowed root" 'drivers\[0\]\.allowed_roots\[0\]: must be an absolute path'
printf '{"state_dir":"var/lib","drivers":[%s]}\n' "$good_drv" >"$BAD"
check_bad "a relative state_dir" 'state_dir: must be an absolute path'
printf '{"drivers":[]}\n' >"$BAD"
check_bad "an empty drivers list" 'drivers: must be a non-empty array'
printf '{"drivers":[%s]\n' "$good_drv" >"$BAD"
check_bad "invalid JSON" 'not valid JSON'
printf '{"drivers":[%s]}\n' "$good_drv" >"$BAD"
BAD_MODE=0664 check_bad "a group-writable config file" 'must be owned by root and not writable by group or others'
BAD_MODE=0646 check_bad "an other-writable config file" 'must be owned by root and not writable by group or others'
chmod 0644 "$BAD"
chown "$VW_TEST_USER" "$BAD"
out=$("$VOLWARDEN" --config "$BAD" --check 2>&1)
rc=$?
ok "$([ $rc -ne 0 ]; echo $?)" "--check refuses a config file not owned by root (exit $rc)"
like "$out" 'must be owned by root' "... saying why"

# The daemon itself refuses a bad config at start, with the key and reason.
printf '{"user":"%s","state_dir":"%s","run_dir":"%s","socket_dir":"%s","drivers":[{"name":"vw","backend":"dir","root":"relative/dir"}]}\n' \
    "$VW_TEST_USER" "$TESTDIR/b/state" "$TESTDIR/b/run" "$TESTDIR/b/sock" >"$BAD"
chown 0:0 "$BAD"
chmod 0644 "$BAD"
VW_SOCK="$TESTDIR/b/sock/vw.sock"
nlog=$(wc -l <"$VW_LOG")
VW_CUSTOM=1 vw_start --config "$BAD" 2>/dev/null
started=$?
ok "$([ $started -ne 0 ]; echo $?)" "the daemon refuses to start with a relative root"
if [ $started -eq 0 ]; then
	vw_stop
else
	wait "$VW_PID" 2>/dev/null
	rc=$?
	ok "$([ $rc -ne 0 ]; echo $?)" "... exiting non-zero ($rc)"
fi
like "$(tail -n +$((nlog + 1)) "$VW_LOG")" 'drivers\[0\]\.root: must be an absolute path' \
    "... logging the key and the reason"
ok "$([ ! -e "$VW_SOCK" ] && [ ! -e "$TESTDIR/b/state" ]; echo $?)" \
    "... before binding a socket or making directories"

printf '{"user":"%s","state_dir":"%s","run_dir":"%s","socket_dir":"%s","colour":"blue","drivers":[%s]}\n' \
    "$VW_TEST_USER" "$TESTDIR/b/state" "$TESTDIR/b/run" "$TESTDIR/b/sock" "$good_drv" >"$BAD"
nlog=$(wc -l <"$VW_LOG")
VW_CUSTOM=1 vw_start --config "$BAD" 2>/dev/null
started=$?
ok "$([ $started -ne 0 ]; echo $?)" "the daemon refuses to start with an unknown key"
if [ $started -eq 0 ]; then
	vw_stop
else
	wait "$VW_PID" 2>/dev/null
	rc=$?
	ok "$([ $rc -ne 0 ]; echo $?)" "... exiting non-zero ($rc)"
fi
like "$(tail -n +$((nlog + 1)) "$VW_LOG")" 'colour: unknown key' "... logging the key and the reason"

done_testing
