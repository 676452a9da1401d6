#!/bin/bash
# volwarden as a Docker managed plugin (v2): contrib/docker-plugin/
# mkplugin.sh (what `make docker-plugin` runs) assembles the plugin from
# the built executables; a private dockerd creates and enables it, a
# volume is created, used from a container and removed through it, and
# the privilege separation is checked inside the plugin: the frontend
# runs as the plugin's volwarden user with no capabilities, the helper as
# root with the dir backend's four, both with no_new_privs and seccomp.
# Then the plugin is disabled and removed, and dockerd stopped.
#
# The plugin's socket is dockerd's own business (EXEC_ROOT/plugins/ID,
# seen as /run/docker/plugins inside the plugin), so nothing is bound in
# the host's /run/docker/plugins.
if [ -z "${top_srcdir:-}" ]; then
	top_srcdir=$(cd "$(dirname "$0")/../.." && pwd)
fi
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
. "$top_srcdir/t/lib/functions.sh"

requires_dockerd ldd

PLUGIN="vwt-plugin$$"
PDIR="$TESTDIR/plugin"
STATE="$TESTDIR/pstate"
DATA="$TESTDIR/pdata"
IMG=vwt-busybox
DK() { timeout 120 $DOCKER "$@"; }
RUN() { DK run --rm --network none "$@"; }
has() {
	case "$1" in
	*"$2"*) ok 0 "$3" ;;
	*) ok 1 "$3"; diag "got:            '$1'"; diag "should contain: '$2'" ;;
	esac
}
# field PID NAME: a line of /proc/PID/status, value only, tabs squeezed.
field() { awk -v k="$2:" '$1 == k { $1 = ""; sub(/^ /, ""); print; exit }' "/proc/$1/status" 2>/dev/null; }
# children PID: its child processes.
children() { cat "/proc/$1/task/$1/children" 2>/dev/null; }
plugin_cleanup() {
	local ids
	if [ -n "${DOCKERD_PID:-}" ]; then
		ids=$(timeout 30 $DOCKER ps -aq 2>/dev/null)
		[ -n "$ids" ] && timeout 60 $DOCKER rm -f $ids
		timeout 60 $DOCKER volume rm -f $(timeout 30 $DOCKER volume ls -q 2>/dev/null) 2>/dev/null
		timeout 60 $DOCKER plugin disable -f "$PLUGIN"
		timeout 60 $DOCKER plugin rm -f "$PLUGIN"
	fi
	dockerd_stop
	# A plugin torn down by force leaves its stdio FIFOs in the host's
	# /run/docker/plugins/ID.
	[ -n "${ID:-}" ] && rm -rf "/run/docker/plugins/$ID"
}

T0=$(date +%s)
# ------------------------------------------------------------- assemble
out=$(sh "$top_srcdir/contrib/docker-plugin/mkplugin.sh" "$top_srcdir" "$top_builddir" "$PDIR" 2>&1)
ok $? "mkplugin.sh assembles the plugin ($out)"
cfg="$PDIR/config.json"
is "$(jq -r '.interface.types | join(",")' "$cfg")" "docker.volumedriver/1.0" \
	"config.json: interface docker.volumedriver/1.0"
is "$(jq -r '.interface.socket' "$cfg")" "volwarden.sock" "config.json: socket volwarden.sock"
is "$(jq -r '.linux.capabilities | sort | join(" ")' "$cfg")" \
	"CAP_CHOWN CAP_DAC_OVERRIDE CAP_FOWNER CAP_FSETID CAP_SETGID CAP_SETPCAP CAP_SETUID" \
	"config.json: the seven capabilities start-up and the dir helper need, no more"
is "$(jq -r '[.mounts[] | .name + "=" + .destination] | join(" ")' "$cfg")" \
	"state=/var/lib/volwarden data=/data run=/run/volwarden" "config.json: mounts for state, data and run"
is "$(jq -r '.propagatedMount' "$cfg")" "/data" "config.json: propagatedMount /data"
is "$(jq -r '.env[] | select(.settable == ["value"]) | .name' "$cfg")" "VOLWARDEN_CONFIG" \
	"config.json: VOLWARDEN_CONFIG is settable"
for f in usr/sbin/volwarden usr/libexec/volwarden-privhelper usr/sbin/volwardenctl \
    etc/volwarden/volwarden.json etc/passwd etc/group; do
	ok "$([ -f "$PDIR/rootfs/$f" ]; echo $?)" "rootfs holds /$f"
done
missing=
for f in volwarden volwardenctl; do
	for lib in $(ldd "$PDIR/rootfs/usr/sbin/$f" | awk '/=> \// { print $3 }'); do
		[ -f "$PDIR/rootfs$lib" ] || missing="$missing $lib"
	done
done
is "$missing" "" "rootfs holds every library ldd names"
like "$(grep '^volwarden:' "$PDIR/rootfs/etc/passwd")" '^volwarden:x:[1-9][0-9]*:[1-9][0-9]*:' \
	"rootfs /etc/passwd has the unprivileged volwarden user"
PUID=$(awk -F: '$1 == "volwarden" { print $3 }' "$PDIR/rootfs/etc/passwd")
# Sanitizer builds run without seccomp filters (scripts/test-sanitizers.sh).
SECCOMP=2
grep -q '^#define VW_SANITIZERS' "$top_builddir/vw-build.h" 2>/dev/null && SECCOMP=0

# ------------------------------------------------- create and enable it
mkdir -p "$STATE" "$DATA"
chmod 0755 "$STATE" "$DATA"
dockerd_start || bail_out "cannot start dockerd: $(tail -3 "$TESTDIR/docker/dockerd.log")"
cleanup_fn plugin_cleanup
busybox_image "$IMG" || bail_out "cannot import the busybox image"
out=$(DK plugin create "$PLUGIN" "$PDIR" 2>&1)
ok $? "docker plugin create $PLUGIN ($out)"
DK plugin set "$PLUGIN" state.source="$STATE" data.source="$DATA"
ok $? "docker plugin set state.source and data.source to test directories"
out=$(DK plugin enable "$PLUGIN" 2>&1)
rc=$?
ok $rc "docker plugin enable $PLUGIN"
if [ $rc -ne 0 ]; then
	diag "$out"
	diag "$(tail -20 "$TESTDIR/docker/dockerd.log")"
	bail_out "the plugin does not start"
fi
is "$(DK plugin inspect -f '{{.Enabled}}' "$PLUGIN" 2>&1)" "true" "the plugin is enabled"
ID=$(DK plugin inspect -f '{{.Id}}' "$PLUGIN")
DRV="$PLUGIN:latest"

# --------------------------------------------------------------- volume
out=$(DK volume create -d "$DRV" pv1 2>&1)
is "$out" "pv1" "docker volume create -d $DRV pv1"
is "$(DK volume inspect pv1 | jq -r '.[0].Driver')" "$DRV" "its driver is the plugin"
RUN -v pv1:/d "$IMG" sh -c 'echo fromplugin > /d/f; id -u > /d/who'
ok $? "a container writes into pv1"
is "$(cat "$DATA/pv1/f" 2>&1)" "fromplugin" "the data is on the host, in data.source/pv1"
is "$(RUN -v pv1:/d "$IMG" cat /d/f 2>&1)" "fromplugin" "a second container reads it"
DK volume create -d "$DRV" -o uid=1000 -o gid=1000 -o mode=0750 pv2 >/dev/null
is "$(stat -c '%u:%g %a' "$DATA/pv2" 2>&1)" "1000:1000 750" \
	"uid, gid and mode options act through the plugin's helper"
out=$(DK volume create -d "$DRV" -o size=1G pv3 2>&1)
rc=$?; ok $((rc == 0)) "an option of another backend is refused through the plugin"
has "$out" "valid options are" "... with volwarden's sentence"

# ----------------------------------------- privilege separation inside
SHIM=
for p in /proc/[0-9]*; do
	if tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q -- "-id $ID "; then
		SHIM=${p#/proc/}
		break
	fi
done
FE=$(children "$SHIM" | awk '{ print $1 }')
ok "$([ -n "$FE" ] && [ "$(readlink "/proc/$FE/exe")" = "$PDIR/rootfs/usr/sbin/volwarden" ] ||
	readlink "/proc/$FE/exe" | grep -q '/usr/sbin/volwarden$'; echo $?)" \
	"the plugin's init process (pid ${FE:-?}, child of containerd's shim ${SHIM:-?}) is volwarden"
HP=$(children "$FE" | awk '{ print $1 }')
like "$(readlink "/proc/$HP/exe" 2>&1)" '/usr/libexec/volwarden-privhelper$' \
	"its child (pid ${HP:-?}) is the helper"
is "$(field "$FE" Uid)" "$PUID $PUID $PUID $PUID" "frontend: every uid is the plugin's volwarden ($PUID), not 0"
is "$(field "$FE" CapEff) $(field "$FE" CapPrm) $(field "$FE" CapBnd)" \
	"0000000000000000 0000000000000000 0000000000000000" "frontend: no capabilities, not even bounding"
is "$(field "$FE" NoNewPrivs) $(field "$FE" Seccomp)" "1 $SECCOMP" \
	"frontend: no_new_privs and (Seccomp $SECCOMP) the build's seccomp filter"
is "$(field "$HP" Uid)" "0 0 0 0" "helper: root"
is "$(field "$HP" CapEff) $(field "$HP" CapBnd)" "000000000000001b 000000000000001b" \
	"helper: CapEff and CapBnd are the dir backend's (CHOWN DAC_OVERRIDE FOWNER FSETID)"
is "$(field "$HP" NoNewPrivs) $(field "$HP" Seccomp)" "1 $SECCOMP" \
	"helper: no_new_privs and (Seccomp $SECCOMP) the build's seccomp filter"
ADMIN="/proc/$FE/root/run/volwarden/admin.sock"
st=$("$top_builddir/volwardenctl" --socket "$ADMIN" --json status 2>&1)
is "$(json_get "$st" '.frontend.uid') $(json_get "$st" '.drivers[0].helper.capability_names | join(",")')" \
	"$PUID chown,dac_override,fowner,fsetid" \
	"volwardenctl status through the plugin's admin socket agrees"
is "$(json_get "$st" '.drivers[0].socket')" "/run/docker/plugins/volwarden.sock" \
	"the plugin serves /run/docker/plugins/volwarden.sock inside its own root"
# dockerd 20.10 keeps plugin sockets in the host's /run/docker/plugins/ID
# whatever its --exec-root, and bind-mounts that at /run/docker/plugins.
ok "$([ -S "/run/docker/plugins/$ID/volwarden.sock" ]; echo $?)" \
	"... which dockerd sees as /run/docker/plugins/ID/volwarden.sock"
is "$(stat -c '%u %a' "$STATE/state" 2>&1)" "$PUID 700" \
	"the state lives in state.source/state, owned by the plugin's volwarden, 0700"

# --------------------------------------------------------------- remove
out=$(DK volume rm pv1 pv2 2>&1)
is "$(echo $out)" "pv1 pv2" "docker volume rm pv1 pv2"
is "$(DK volume ls -q --filter "driver=$DRV" | tr '\n' ' ')" "" "the plugin lists no volume"
is "$(cat "$DATA/pv1/f" 2>&1)" "fromplugin" "on_remove keep: the data stays on the host"

# ------------------------------------------------------------- teardown
DK plugin disable "$PLUGIN" >/dev/null
ok $? "docker plugin disable"
sleep 0.5
ok "$([ ! -e "/proc/$FE" ] && [ ! -e "/proc/$HP" ]; echo $?)" "the frontend and the helper are gone"
DK plugin rm "$PLUGIN" >/dev/null
ok $? "docker plugin rm"
is "$(DK plugin ls -q 2>&1)" "" "no plugin is left"
ok "$([ ! -e "/run/docker/plugins/$ID" ]; echo $?)" "its socket directory is gone"
dpid=$DOCKERD_PID
dockerd_stop
ok "$(! kill -0 "$dpid" 2>/dev/null; echo $?)" "dockerd stopped"
diag "runtime: $(($(date +%s) - T0)) s"
done_testing
