#!/bin/bash
# systemd socket activation and readiness, without systemd: the daemon runs
# under systemd-socket-activate, which binds the first driver's socket and
# execs volwarden on the first connection with the socket on fd 3
# (LISTEN_FDS).  The second driver binds its own socket; an inherited
# socket that belongs to no driver is closed.  READY=1 and STOPPING=1 go to
# $NOTIFY_SOCKET (t/lib/notify-recv).  After the daemon exits, the
# inherited socket file is still there; its own is removed.
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir
. "$top_srcdir/t/lib/functions.sh"

requires_root
requires curl --version
requires jq --version
requires systemd-socket-activate --version
requires id "$VW_TEST_USER"

NOTIFY_RECV="$top_builddir/t/lib/notify-recv"
SOCK2="$TESTDIR/sock/vw2.sock"
EXTRA="$TESTDIR/extra.sock"
NOTIFY="$TESTDIR/notify.sock"

mkdir -m 0700 "$TESTDIR/sock"
CONF="$TESTDIR/volwarden.json"
cat >"$CONF" <<EOF
{
  "user": "$VW_TEST_USER",
  "state_dir": "$TESTDIR/state",
  "run_dir": "$TESTDIR/run",
  "socket_dir": "$TESTDIR/sock",
  "admin_socket": "$VW_ADMIN",
  "drivers": [
    {"name": "volwarden", "backend": "dir", "root": "$TESTDIR/volumes"},
    {"name": "vw2", "backend": "dir", "root": "$TESTDIR/volumes2"}
  ]
}
EOF
chmod 0644 "$CONF"

# call SOCKET ENDPOINT BODY: POST, print the reply.
call() {
	curl -s --max-time 15 --unix-socket "$1" -X POST "http://plugin/$2" \
	    --data-binary "$3"
}

# --------------------------------------------------------- start-up
if [ -x "$NOTIFY_RECV" ]; then
	"$NOTIFY_RECV" "$NOTIFY" "$TESTDIR/notified" 60 &
	RECV_PID=$!
	# Only while still ours (the test waits for it and clears RECV_PID).
	cleanup_fn "[ \"\${RECV_PID:-}\" = $RECV_PID ] && kill $RECV_PID"
	for i in $(seq 1 50); do [ -S "$NOTIFY" ] && break; sleep 0.1; done
fi
systemd-socket-activate -l "$VW_SOCK" -l "$EXTRA" \
    -E NOTIFY_SOCKET="$NOTIFY" \
    "$VOLWARDEN" --foreground --debug --config "$CONF" >>"$VW_LOG" 2>&1 &
VW_PID=$!
cleanup_fn "[ \"\${VW_PID:-}\" = $VW_PID ] && kill -9 $VW_PID"
for i in $(seq 1 100); do
	[ -S "$VW_SOCK" ] && break
	sleep 0.1
done
ok "$([ -S "$VW_SOCK" ]; echo $?)" "systemd-socket-activate binds the first driver's socket"
ok "$([ ! -e "$SOCK2" ]; echo $?)" "... and nothing runs yet (no second socket)"

# The first connection starts volwarden, which takes over the socket: the
# request waits in the listen queue and is answered.
out=$(call "$VW_SOCK" Plugin.Activate '')
is "$(json_get "$out" '.Implements[0]')" VolumeDriver \
    "the first connection starts volwarden and Activate is answered"
is "$(tr '\0' ' ' <"/proc/$VW_PID/cmdline" 2>/dev/null | awk '{ print $1 }')" "$VOLWARDEN" \
    "the activator exec'd volwarden in place (same pid)"
for i in $(seq 1 100); do
	[ -S "$SOCK2" ] && break
	sleep 0.1
done
ok "$([ -S "$SOCK2" ]; echo $?)" "the second driver binds its own socket"
is "$(stat -c '%a %U' "$SOCK2" 2>&1)" "660 root" "... with mode 0660, owner root"
like "$(cat "$VW_LOG")" "driver volwarden: using the socket $VW_SOCK from systemd \\(fd 3\\)" \
    "the log says which socket came from systemd"
like "$(cat "$VW_LOG")" "systemd passed fd 4 bound to \"$EXTRA\", which is no driver's socket" \
    "an inherited socket that is no driver's is named and closed"
curl -s --max-time 5 --unix-socket "$EXTRA" -X POST http://plugin/Plugin.Activate >/dev/null 2>&1
is "$?" 7 "... so nothing listens on it any more (connection refused)"

# ------------------------------------------------------------ serving
is "$(call "$VW_SOCK" VolumeDriver.Create '{"Name":"sa1"}')" "{}" "Create on the inherited socket"
is "$(json_get "$(call "$VW_SOCK" VolumeDriver.Get '{"Name":"sa1"}')" '.Volume.Mountpoint')" \
    "$TESTDIR/volumes/sa1" "Get on the inherited socket"
ok "$([ -d "$TESTDIR/volumes/sa1" ]; echo $?)" "the volume's directory exists"
is "$(call "$SOCK2" VolumeDriver.Create '{"Name":"sb1"}')" "{}" "Create on the second driver's own socket"
out=$("$top_builddir/volwardenctl" --socket "$VW_ADMIN" --json status)
is "$(json_get "$out" '[.drivers[] | "\(.name)=\(.socket_activated)"] | join(" ")')" \
    "volwarden=true vw2=false" "status: the first driver's socket is from systemd, the second's is not"
out=$(curl -s --max-time 5 --unix-socket "$VW_SOCK" -X POST http://plugin/VolumeDriver.List)
is "$(json_get "$out" '[.Volumes[].Name] | join(",")')" sa1 "List on the inherited socket"

if [ -n "${RECV_PID:-}" ]; then
	for i in $(seq 1 50); do
		grep -q READY=1 "$TESTDIR/notified" 2>/dev/null && break
		sleep 0.1
	done
	like "$(cat "$TESTDIR/notified" 2>/dev/null)" '^READY=1;STATUS=serving 2 drivers' \
	    "READY=1 reaches NOTIFY_SOCKET once serving"
fi

# --------------------------------------------------------------- stop
vw_stop
ok $? "SIGTERM: volwarden exits 0"
ok "$([ -S "$VW_SOCK" ]; echo $?)" "the inherited socket file is still there (the activator's)"
ok "$([ ! -e "$SOCK2" ]; echo $?)" "the socket volwarden bound itself is removed"
ok "$([ ! -e "$VW_ADMIN" ]; echo $?)" "the admin socket is removed"
if [ -n "${RECV_PID:-}" ]; then
	wait "$RECV_PID"
	is "$?" 0 "STOPPING=1 reaches NOTIFY_SOCKET at shutdown"
	RECV_PID=
fi

# --------------------------------- other inherited descriptors are closed
# Start-up closes every descriptor above stdio that the caller left open,
# except the LISTEN_FDS sockets: fd 3 (a listening driver socket, as
# systemd passes it) must survive and serve, fd 7 (any other file, here
# a marker) must not reach the daemon or its helpers.
if command -v python3 >/dev/null 2>&1; then
	rm -f "$VW_SOCK"
	python3 - "$VW_SOCK" "$VOLWARDEN" --foreground --debug --config "$CONF" \
	    >>"$VW_LOG" 2>&1 <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o660)
s.listen(16)
os.dup2(s.fileno(), 3)
os.dup2(os.open(sys.argv[1] + ".marker", os.O_RDWR | os.O_CREAT, 0o600), 7)
os.environ["LISTEN_PID"] = str(os.getpid())
os.environ["LISTEN_FDS"] = "1"
os.execv(sys.argv[2], sys.argv[2:])
PY
	VW_PID=$!
	cleanup_fn "[ \"\${VW_PID:-}\" = $VW_PID ] && kill -9 $VW_PID"
	for i in $(seq 1 100); do
		[ -S "$SOCK2" ] && [ -S "$VW_ADMIN" ] && break
		sleep 0.1
	done
	is "$(json_get "$(call "$VW_SOCK" VolumeDriver.Get '{"Name":"sa1"}')" '.Volume.Name')" \
	    sa1 "with another fd inherited too, the LISTEN_FDS socket (fd 3) still serves"
	# holders FILE: the pids of the daemon and its helpers that have FILE open.
	holders() {
		local p fd
		for p in $VW_PID $(cat "/proc/$VW_PID/task/$VW_PID/children" 2>/dev/null); do
			for fd in /proc/"$p"/fd/*; do
				[ "$(readlink "$fd")" = "$1" ] && echo "$p"
			done
		done | sort -u | tr '\n' ' '
	}
	ok "$([ -d "/proc/$VW_PID/fd" ]; echo $?)" "the daemon runs"
	is "$(holders "$VW_SOCK.marker")" "" "... and neither it nor a helper holds the other inherited fd (7)"
	rm -f "$VW_SOCK.marker"
	vw_stop
	ok $? "SIGTERM: volwarden exits 0"
	ok "$([ -S "$VW_SOCK" ]; echo $?)" "the inherited socket file is still there"
fi

# ------------------------------------------- the units, if systemd can read them
if command -v systemd-analyze >/dev/null 2>&1 &&
    [ -f "$top_builddir/contrib/systemd/volwarden.service" ]; then
	mkdir "$TESTDIR/units"
	sed "s|^ExecStart=[^ ]*|ExecStart=$(cd "$top_builddir" && pwd)/volwarden|" \
	    "$top_builddir/contrib/systemd/volwarden.service" >"$TESTDIR/units/volwarden.service"
	cp "$top_srcdir/contrib/systemd/volwarden.socket" "$TESTDIR/units/"
	out=$(cd "$TESTDIR/units" && SYSTEMD_LOG_LEVEL=warning \
	    systemd-analyze verify --man=no ./volwarden.socket ./volwarden.service 2>&1)
	# docker.service may be missing here; that is the only complaint allowed.
	out=$(printf '%s\n' "$out" | grep -v 'docker.service' | grep -v '^$')
	is "$out" "" "systemd-analyze verify accepts volwarden.socket and volwarden.service"
fi

done_testing
