#!/bin/bash
# Migration from local-persist: a private dockerd holds volumes of driver
# "local-persist" whose data lives in directories of the host; volwarden
# takes over the driver name with a fresh state, and
# `volwardenctl import-local-persist` registers those directories from
# local-persist's state file, in MatchbookLab's form (host paths) and in
# the Carbonique plugin's (paths inside the plugin, mapped with
# --rewrite).  Afterwards dockerd lists and mounts the same volumes with
# the same data, owners and modes.
#
# The volumes are first made through a volwarden instance serving the
# name local-persist, as local-persist itself would have made them (the
# directory at the mountpoint, the volume in dockerd's own store); that
# instance's state is then thrown away, which leaves the host where a
# removed local-persist leaves it.
if [ -z "${top_srcdir:-}" ]; then
	top_srcdir=$(cd "$(dirname "$0")/../.." && pwd)
fi
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
. "$top_srcdir/t/lib/functions.sh"

requires_dockerd

DRV=local-persist
VW_SOCK="/run/docker/plugins/$DRV.sock"
# The driver name is the point of the test, so it cannot be made unique
# per run: never take over a socket that is already there (a real
# local-persist, or this test running elsewhere).
[ -e "$VW_SOCK" ] && skip_all "$VW_SOCK exists: a local-persist plugin is running on this host"
VW_CUSTOM=1
CTL="$top_builddir/volwardenctl"
DATA="$TESTDIR/srv"		# MatchbookLab-style mountpoints
CDATA="$TESTDIR/cdata"		# the host side of Carbonique's /docker-data
IMG=vwt-busybox
cleanup_fn "rm -f '$VW_SOCK'"

# conf FILE STATE_DIR: a config serving driver local-persist.
conf() {
	cat >"$1" <<EOF
{
  "user": "$VW_TEST_USER",
  "state_dir": "$2",
  "run_dir": "$TESTDIR/run",
  "socket_dir": "/run/docker/plugins",
  "drivers": [
    {"name": "$DRV", "backend": "dir", "root": "$TESTDIR/volumes",
     "allowed_roots": ["$DATA", "$CDATA"], "on_remove": "keep"}
  ]
}
EOF
	chmod 0644 "$1"
}
conf "$TESTDIR/old.json" "$TESTDIR/state-old"
conf "$TESTDIR/new.json" "$TESTDIR/state-new"

DK() { timeout 90 $DOCKER "$@"; }
RUN() { DK run --rm --network none "$@"; }
ctl() {
	"$CTL" --socket "$VW_ADMIN" "$@" >"$TESTDIR/out" 2>"$TESTDIR/err"
	RC=$?
	OUT=$(<"$TESTDIR/out")
	ERR=$(<"$TESTDIR/err")
}
has() {
	case "$1" in
	*"$2"*) ok 0 "$3" ;;
	*) ok 1 "$3"; diag "got:            '$1'"; diag "should contain: '$2'" ;;
	esac
}
mig_cleanup() {
	local ids
	if [ -n "${DOCKERD_PID:-}" ]; then
		ids=$(timeout 30 $DOCKER ps -aq 2>/dev/null)
		[ -n "$ids" ] && timeout 60 $DOCKER rm -f $ids
	fi
	dockerd_stop
	vw_stop
	rm -f "$VW_SOCK"
}

T0=$(date +%s)
dockerd_start || bail_out "cannot start dockerd: $(tail -3 "$TESTDIR/docker/dockerd.log")"
busybox_image "$IMG" || bail_out "cannot import the busybox image"
vw_start --config "$TESTDIR/old.json" || bail_out "cannot start volwarden"
cleanup_fn mig_cleanup

# ------------------------------------------- the volumes local-persist made
DK volume create -d "$DRV" -o "mountpoint=$DATA/web" web >/dev/null &&
	DK volume create -d "$DRV" -o "mountpoint=$DATA/app/logs" logs >/dev/null &&
	DK volume create -d "$DRV" -o "mountpoint=$CDATA/db" db >/dev/null
ok $? "three volumes of driver $DRV exist in dockerd"
RUN -v web:/d "$IMG" sh -c 'echo page > /d/index.html' &&
	RUN -v logs:/d "$IMG" sh -c 'echo line > /d/app.log' &&
	RUN -v db:/d "$IMG" sh -c 'echo rows > /d/table'
ok $? "containers wrote into each of them"
chown 1234:1234 "$CDATA/db" && chmod 0750 "$CDATA/db"
# What local-persist's state files hold for these volumes.  MatchbookLab
# (/var/lib/docker/plugin-data/local-persist.json): the host paths.
printf '{"state":{"web":"%s","logs":"%s/"}}' "$DATA/web" "$DATA/app//logs" \
	>"$TESTDIR/matchbook.json"
# Carbonique (STATE/local-persist.json): paths inside the plugin, below
# its data mount /docker-data, whose host side here is $CDATA.
printf '{"state":{"db":"/docker-data/db"}}' >"$TESTDIR/carbonique.json"

# ------------------------------------------ volwarden takes over the name
vw_stop
ok $? "the old instance stops"
rm -rf "$TESTDIR/state-old" "$TESTDIR/run"
vw_start --config "$TESTDIR/new.json" || bail_out "cannot start volwarden on a fresh state"
cleanup_fn mig_cleanup
# Asked directly: a container started now would make dockerd, finding
# no volume web in its driver, create an empty one of driver "local"
# under the same name (README, "Migrating from local-persist").
out=$(vw_call VolumeDriver.Mount '{"Name":"web","ID":"x1"}')
has "$(json_get "$out" .Err)" "volume web does not exist in driver $DRV" \
	"before the import the new driver does not know web"
ok "$([ ! -e "$TESTDIR/volumes/web" ]; echo $?)" "... and nothing was created under the driver root"

# ----------------------------------------------------------------- import
ctl import-local-persist "$TESTDIR/matchbook.json"
is "$RC" 0 "import of MatchbookLab's state file: exit 0"
has "$OUT" "imported logs -> $DATA/app/logs" "... logs, with its path normalised"
has "$OUT" "2 of 2 volumes imported into driver $DRV" "... a summary line"
ctl --json import-local-persist --rewrite /docker-data="$CDATA" "$TESTDIR/carbonique.json"
is "$RC" 0 "import of Carbonique's state file with --rewrite /docker-data=DIR: exit 0"
is "$(json_get "$OUT" '.volumes[0] | [.name, .mountpoint, .imported] | join(" ")')" \
	"db $CDATA/db true" "... --json names the volume, its host path and the outcome"
ctl --json ls
is "$(json_get "$OUT" '[.volumes[] | .driver + ":" + .name + ":" + .mountpoint] | join(" ")')" \
	"$DRV:db:$CDATA/db $DRV:logs:$DATA/app/logs $DRV:web:$DATA/web" \
	"volwardenctl ls shows the three volumes at their old directories"
ctl import-local-persist "$TESTDIR/matchbook.json"
is "$RC" 0 "importing the same file again succeeds (nothing changes)"

# ----------------------------------------------------- dockerd uses them
is "$(DK volume ls -q --filter "driver=$DRV" | sort | tr '\n' ' ')" "db logs web " \
	"docker volume ls: the same volumes with driver $DRV"
is "$(DK volume inspect web 2>/dev/null | jq -r '.[0].Mountpoint')" "$DATA/web" \
	"docker volume inspect web: Mountpoint is the old directory"
is "$(RUN -v web:/d "$IMG" cat /d/index.html 2>&1)" "page" "a container reads web's data"
is "$(RUN -v logs:/d "$IMG" cat /d/app.log 2>&1)" "line" "a container reads logs' data"
is "$(RUN -v db:/d "$IMG" cat /d/table 2>&1)" "rows" "a container reads db's data (Carbonique paths)"
is "$(stat -c '%u:%g %a' "$CDATA/db")" "1234:1234 750" "db keeps its owner and mode (adopted, not chowned)"
RUN -v web:/d "$IMG" sh -c 'echo more >> /d/index.html'
is "$(cat "$DATA/web/index.html" 2>&1 | tr '\n' ' ')" "page more " \
	"writes after the import land in the old directory"
ok "$([ -z "$(ls -A "$TESTDIR/volumes" 2>/dev/null)" ]; echo $?)" \
	"nothing was created under the driver root"

# ---------------------------------------------------------------- refusals
mkdir -p "$TESTDIR/outside/x"
printf '{"state":{"stray":"%s","web":"%s","rel":"data/x","x":"%s"}}' \
	"$TESTDIR/outside/x" "$DATA/elsewhere" "$DATA/x" >"$TESTDIR/bad.json"
ctl import-local-persist "$TESTDIR/bad.json"
is "$RC" 1 "a state file with unusable entries: exit 1"
has "$ERR" "volume stray ($TESTDIR/outside/x): volume stray: mountpoint $TESTDIR/outside/x is not beneath an allowed root of driver $DRV (allowed roots: $DATA, $CDATA)" \
	"a mountpoint outside allowed_roots is refused, naming the allowed roots"
has "$ERR" "add the directories that hold them to its allowed_roots" \
	"... and the summary says how to fix it"
has "$ERR" "volume web already exists with different options" \
	"a name already registered at another path is refused"
has "$ERR" "volume rel (data/x): its mountpoint in the state file is not an absolute path" \
	"a relative mountpoint is refused"
has "$ERR" "volume \"x\": invalid volume name" "a name outside Docker's rule is refused"
has "$OUT" "0 of 4 volumes imported" "nothing of it was imported"
ctl ls
unlike "$OUT" 'stray' "the refused volume is not registered"
is "$(RUN -v web:/d "$IMG" cat /d/index.html 2>&1 | head -1)" "page" "web still points at its old directory"
echo '{"volumes":{"a1":{"mountpoint":"/x"}}}' >"$TESTDIR/other.json"
ctl import-local-persist "$TESTDIR/other.json"
is "$RC" 1 "a file of another shape: exit 1"
has "$ERR" "is not a local-persist state file" "... saying what it expected"
printf '{"state":{"nul":"%s\\u0000/etc"}}' "$DATA" >"$TESTDIR/nul.json"
ctl import-local-persist "$TESTDIR/nul.json"
is "$RC" 1 "a path holding \\u0000 (which yajl would cut short): exit 1"
has "$ERR" "holds the escape \\u0000" "... saying why, before registering anything"
printf '{"state":{"e\\u001b[31m":"%s/x"}}' "$DATA" >"$TESTDIR/esc.json"
ctl import-local-persist "$TESTDIR/esc.json"
unlike "$ERR" $'\e' "an escape sequence in a state file never reaches the terminal"
has "$ERR" 'e\x1b[31m' "... it is shown as \\x1b"
ctl import-local-persist --driver nosuch "$TESTDIR/matchbook.json"
is "$RC" 1 "an unknown driver: exit 1"
has "$ERR" "no driver called nosuch is configured" "... naming it"

mig_cleanup
diag "runtime: $(($(date +%s) - T0)) s"
done_testing
