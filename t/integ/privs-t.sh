#!/bin/bash
# Privilege separation as the kernel sees it: /proc/PID/status of the
# running frontend and of its privhelper, what happens when either dies,
# the helper refusing to run by hand, and the modes of socket and state.
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir
. "$top_srcdir/t/lib/functions.sh"

requires_root
requires curl --version
requires jq --version
requires id "$VW_TEST_USER"

# field PID KEY: the value of KEY in /proc/PID/status, whitespace squeezed.
field() {
	awk -v k="$2:" '$1 == k { $1 = ""; sub(/^ +/, ""); print; exit }' \
	    "/proc/$1/status" 2>/dev/null
}
# gone PID: the process has exited (absent, or a zombie nobody reaped yet:
# an orphan's reaper may be slow).
gone() {
	[ ! -e "/proc/$1" ] || grep -q '^State:[[:space:]]*[ZX]' "/proc/$1/status" 2>/dev/null
}
helpers() { vw_helper_pids | tr -s ' \n' ' ' | sed 's/^ //; s/ $//'; }
log_since() { tail -n +$(($1 + 1)) "$VW_LOG"; }

uid=$(id -u "$VW_TEST_USER")
gid=$(id -g "$VW_TEST_USER")
ZERO=0000000000000000
# The dir backend's helper keeps CAP_CHOWN (0), CAP_DAC_OVERRIDE (1),
# CAP_FOWNER (3) and CAP_FSETID (4) and nothing else (commit e5e306d dropped
# CAP_DAC_READ_SEARCH, which allows open_by_handle_at, and added CAP_FSETID
# so that a setgid mode survives a foreign gid).
HCAPS=000000000000001b

vw_start || bail_out "volwarden did not start"
call_ok=$(curl -s --max-time 5 --unix-socket "$VW_SOCK" -X POST \
    http://plugin/Plugin.Activate | jq -r '.Implements[0]' 2>/dev/null)
is "$call_ok" VolumeDriver "the daemon answers"

# ------------------------------------------------------------ frontend
P=$VW_PID
is "$(field "$P" Uid)" "$uid $uid $uid $uid" "frontend: Uid (real, effective, saved, fs) = $VW_TEST_USER ($uid)"
is "$(field "$P" Gid)" "$gid $gid $gid $gid" "frontend: Gid (all four) = $gid"
is "$(field "$P" Groups)" "" "frontend: no supplementary groups"
for c in CapInh CapPrm CapEff CapBnd CapAmb; do
	is "$(field "$P" $c)" $ZERO "frontend: $c is $ZERO"
done
is "$(field "$P" NoNewPrivs)" 1 "frontend: NoNewPrivs 1"

# -------------------------------------------------------------- helper
H=$(helpers)
is "$(echo "$H" | wc -w)" 1 "one privhelper for one driver ($H)"
H=${H%% *}
like "$(tr '\0' ' ' <"/proc/$H/cmdline" 2>/dev/null)" 'volwarden-privhelper' \
    "the child is volwarden-privhelper"
is "$(field "$H" PPid)" "$P" "the helper's parent is the frontend"
is "$(field "$H" Uid)" "0 0 0 0" "helper: Uid 0 (all four)"
is "$(field "$H" CapEff)" $HCAPS "helper: CapEff = CHOWN DAC_OVERRIDE FOWNER FSETID ($HCAPS)"
is "$(field "$H" CapPrm)" $HCAPS "helper: CapPrm = CapEff"
is "$(field "$H" CapBnd)" $HCAPS "helper: CapBnd = CapEff"
is "$(field "$H" CapInh)" $ZERO "helper: CapInh 0"
is "$(field "$H" CapAmb)" $ZERO "helper: CapAmb 0"
is "$(field "$H" NoNewPrivs)" 1 "helper: NoNewPrivs 1"

# ------------------------------------------------------ files and modes
ok "$([ -S "$VW_SOCK" ]; echo $?)" "the driver socket is a socket"
is "$(stat -c '%a %U %G' "$VW_SOCK")" "660 root root" "socket: mode 0660, owner root, group root"
is "$(stat -c '%a %U' "$TESTDIR/state")" "700 $VW_TEST_USER" "state dir: 0700, owned by $VW_TEST_USER"
is "$(stat -c '%a %U' "$TESTDIR/run")" "700 $VW_TEST_USER" "run dir: 0700, owned by $VW_TEST_USER"
is "$(stat -c '%a %U' "$TESTDIR/sock")" "700 root" "socket dir: 0700, owned by root"
curl -s --max-time 5 --unix-socket "$VW_SOCK" -X POST http://plugin/VolumeDriver.Create \
    --data-binary '{"Name":"pv1"}' >/dev/null
is "$(stat -c '%a %U' "$TESTDIR/state/volumes.wal" 2>&1)" "600 $VW_TEST_USER" \
    "state file: 0600, owned by $VW_TEST_USER"
is "$(stat -c '%U' "$TESTDIR/volumes/pv1" 2>&1)" root "a volume directory is made by the root helper"

vw_stop
ok $? "SIGTERM: volwarden exits 0"
ok "$(gone "$H"; echo $?)" "... and its helper exits"
ok "$([ ! -e "$VW_SOCK" ]; echo $?)" "... and the socket is removed"

# ------------------------------------------- helper killed -> frontend exits
vw_start || bail_out "volwarden did not restart"
H=$(helpers)
n=$(wc -l <"$VW_LOG")
kill -KILL "$H"
for i in $(seq 1 50); do
	kill -0 "$VW_PID" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$VW_PID" 2>/dev/null; then
	fail "the frontend exits within 5 s of its helper's SIGKILL"
	vw_stop
else
	pass "the frontend exits within 5 s of its helper's SIGKILL"
	wait "$VW_PID"
	rc=$?
	VW_PID=
	ok "$([ $rc -ne 0 ]; echo $?)" "... with a non-zero status ($rc)"
fi
out=$(log_since "$n")
like "$out" 'privhelper' "... logging a line that names the privhelper"
ok "$(printf '%s\n' "$out" | grep -i privhelper | grep -Eqi 'SIGKILL|Killed|signal 9'; echo $?)" \
    "... and the signal that killed it"
diag "$(printf '%s\n' "$out" | grep -i privhelper)"

# ------------------------------------------- frontend killed -> helper exits
vw_start || bail_out "volwarden did not restart"
H=$(helpers)
ok "$([ -n "$H" ] && kill -0 "$H"; echo $?)" "a new helper runs ($H)"
{ kill -KILL "$VW_PID"; wait "$VW_PID"; } 2>/dev/null
VW_PID=
for i in $(seq 1 50); do
	gone "$H" && break
	sleep 0.1
done
ok "$(gone "$H"; echo $?)" "SIGKILL of the frontend: the helper (pid $H) exits too"

# -------------------------------------------------- helper run by hand
out=$("$PRIVHELPER" 2>&1 </dev/null)
rc=$?
ok "$([ $rc -ne 0 ]; echo $?)" "volwarden-privhelper without arguments refuses (exit $rc)"
like "$out" 'started by volwarden|not meant to be run by hand' "... with a message"
out=$(timeout -s KILL 10 "$PRIVHELPER" --driver 0 --no-config --foreground 2>&1 3>&- </dev/null)
rc=$?
ok "$([ $rc -ne 0 ] && [ $rc -ne 137 ]; echo $?)" "with fd 3 closed it refuses (exit $rc)"
like "$out" 'fd 3 .*started by volwarden' "... saying fd 3 is not its channel"
out=$(timeout -s KILL 10 "$PRIVHELPER" --driver 0 --no-config --foreground 2>&1 3</dev/null </dev/null)
rc=$?
ok "$([ $rc -ne 0 ] && [ $rc -ne 137 ]; echo $?)" "with fd 3 a file it refuses (exit $rc)"
like "$out" 'fd 3 .*started by volwarden' "... with a message"
if command -v python3 >/dev/null 2>&1; then
	# fd 3 a unix socket, but a stream socket, not the SEQPACKET channel.
	out=$(timeout -s KILL 10 python3 -c '
import os, socket, sys
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
os.dup2(b.fileno(), 3)
os.execv(sys.argv[1], [sys.argv[1], "--driver", "0", "--no-config", "--foreground"])
' "$PRIVHELPER" 2>&1 </dev/null)
	rc=$?
	ok "$([ $rc -ne 0 ] && [ $rc -ne 137 ]; echo $?)" "with fd 3 a stream socket it refuses (exit $rc)"
	like "$out" 'SEQPACKET' "... saying it needs the SEQPACKET channel"
fi

# A helper refusing to start (a group-writable allowed root) stops the
# daemon, and the sockets it had bound (the driver's and the admin socket)
# are removed, not left for dockerd.
mkdir -m 0775 "$TESTDIR/gw"
rm -rf "$TESTDIR/sock"
"$VOLWARDEN" --foreground --no-config --socket-dir "$TESTDIR/sock" \
	--state-dir "$TESTDIR/state" --run-dir "$TESTDIR/run" \
	--root "$TESTDIR/volumes" --user "$VW_TEST_USER" \
	--admin-socket "$VW_ADMIN" \
	--allowed-root "$TESTDIR/gw" >"$TESTDIR/gw.log" 2>&1
rc=$?
is "$rc" 1 "a group-writable allowed root stops the start (exit $rc)"
like "$(cat "$TESTDIR/gw.log")" "allowed root .*gw must be owned by root and not writable by group or others" \
	"... naming the directory and the fix"
ok "$([ ! -e "$TESTDIR/sock/volwarden.sock" ]; echo $?)" "... and leaves no socket behind"
ok "$([ ! -e "$VW_ADMIN" ]; echo $?)" "... nor the admin socket"

done_testing
