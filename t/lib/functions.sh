# Shared helpers for volwarden's shell tests, in the manner of nbdkit's
# tests/functions.sh.  Every process a test starts is stopped by PID from
# an EXIT trap; every test works in its own temporary directory.

. "${top_srcdir:-.}/t/lib/tap.sh"

top_builddir=${top_builddir:-.}
VOLWARDEN="$top_builddir/volwarden"
PRIVHELPER="$top_builddir/volwarden-privhelper"

_cleanup_fns=""
cleanup_fn() { _cleanup_fns="$* ; $_cleanup_fns"; }
_run_cleanup() {
	local rc=$?
	eval "$_cleanup_fns" >/dev/null 2>&1
	exit $rc
}
trap _run_cleanup EXIT
trap 'exit 130' INT TERM

requires() {	# requires CMD [ARGS...]: skip the test if it cannot run
	"$@" >/dev/null 2>&1 || skip_all "requires: $*"
}
requires_root() {
	[ "$(id -u)" -eq 0 ] || skip_all "must run as root (binds sockets, starts the privileged helper)"
}
# requires_dockerd [CMD...]: what every test against a private dockerd
# needs (root, dockerd, docker, jq, curl, timeout, a static busybox for
# the test image, the built programs, the test user), and CMDs.
requires_dockerd() {
	local c
	requires_root
	for c in dockerd docker jq curl timeout "$@"; do
		command -v "$c" >/dev/null 2>&1 ||
			skip_all "requires $c (scripts/install-deps.sh --test)"
	done
	[ -x /bin/busybox ] || skip_all "requires /bin/busybox (static) for the test image"
	[ -x "$VOLWARDEN" ] && [ -x "$PRIVHELPER" ] &&
	    [ -x "$top_builddir/volwardenctl" ] ||
		skip_all "volwarden is not built in $top_builddir"
	id "$VW_TEST_USER" >/dev/null 2>&1 || skip_all "requires user $VW_TEST_USER"
}

# A fresh temporary directory for this test, removed at exit.
TESTDIR=$(mktemp -d /tmp/vwt.XXXXXX) || bail_out "mktemp failed"
cleanup_fn "rm -rf '$TESTDIR'"

# The user the frontend runs as in tests.
VW_TEST_USER=${VW_TEST_USER:-volwarden}

# vw_start [ARGS...]: start volwarden in the foreground on TESTDIR paths
# (unless VW_CUSTOM is set, e.g. for a --config in ARGS) and wait until its
# socket answers.  The admin socket is always VW_ADMIN (ARGS may override
# it), so that tests running side by side never share one.
# Sets VW_PID, VW_SOCK (the first driver's socket) and VW_LOG.
VW_LOG="$TESTDIR/volwarden.log"
VW_SOCK="$TESTDIR/sock/volwarden.sock"
VW_ADMIN="$TESTDIR/admin/admin.sock"
vw_start() {
	local i
	if [ -z "${VW_CUSTOM:-}" ]; then
		set -- --no-config --socket-dir "$TESTDIR/sock" \
			--state-dir "$TESTDIR/state" --run-dir "$TESTDIR/run" \
			--root "$TESTDIR/volumes" --user "$VW_TEST_USER" "$@"
	fi
	"$VOLWARDEN" --foreground --debug --admin-socket "$VW_ADMIN" "$@" \
	    >>"$VW_LOG" 2>&1 &
	VW_PID=$!
	# Only while it is still ours: vw_stop clears VW_PID, and pid_max may
	# be small enough (32768) that another test's process gets the pid
	# of one stopped long before this test exits.
	cleanup_fn "[ \"\${VW_PID:-}\" = $VW_PID ] && kill -9 $VW_PID"
	for i in $(seq 1 300); do
		if ! kill -0 "$VW_PID" 2>/dev/null; then
			diag "volwarden exited during start-up:"
			diag "$(tail -5 "$VW_LOG")"
			return 1
		fi
		if [ -S "$VW_SOCK" ] && curl -s --max-time 2 --unix-socket "$VW_SOCK" \
		    -X POST http://plugin/Plugin.Activate >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	diag "volwarden did not answer on $VW_SOCK within 30 s; its log ends:"
	diag "$(grep -v ': debug: ' "$VW_LOG" | tail -10)"
	diag "$(ls -la "$(dirname "$VW_SOCK")" 2>&1)"
	return 1
}

# vw_stop: SIGTERM by PID; returns non-zero if it is not honoured within
# 10 s (then the process is killed) or the exit status is not 0.
vw_stop() {
	local i status
	[ -n "${VW_PID:-}" ] || return 0
	kill -TERM "$VW_PID" 2>/dev/null
	for i in $(seq 1 100); do
		kill -0 "$VW_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$VW_PID" 2>/dev/null; then
		kill -9 "$VW_PID"
		wait "$VW_PID" 2>/dev/null
		VW_PID=
		diag "volwarden ignored SIGTERM"
		return 1
	fi
	wait "$VW_PID"
	status=$?
	VW_PID=
	if [ "$status" -ne 0 ]; then
		diag "volwarden exited with status $status; its log ends:"
		diag "$(grep -v ': debug: ' "$VW_LOG" | tail -5)"
	fi
	return $status
}

# The helper processes of the running daemon (children of VW_PID).
vw_helper_pids() {
	cat "/proc/$VW_PID/task/$VW_PID/children" 2>/dev/null
}

# vw_call ENDPOINT [BODY]: POST to the plugin socket; prints the body and
# sets HTTP_CODE.
vw_call() {
	local out
	out=$(curl -s --max-time 10 --unix-socket "${SOCK:-$VW_SOCK}" -X POST \
		-w '\n%{http_code}' "http://plugin/$1" --data-binary "${2-}")
	HTTP_CODE=${out##*$'\n'}
	printf '%s' "${out%$'\n'*}"
}

# json_get JSON FILTER: extract with jq (raw output).
json_get() { printf '%s' "$1" | jq -r "$2" 2>/dev/null; }

# VolumeDriver calls on VW_SOCK (tests may define their own instead):
# call ENDPOINT [BODY] sets RESP, ERR (the Err string) and HTTP_CODE;
# create NAME [OPTS-JSON], get, remove NAME, vmount/vunmount NAME ID.
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

# ---------------------------------------------------------------- dockerd
# dockerd_start: a private dockerd with its own data-root, exec-root,
# socket and pidfile under TESTDIR.  Sets DOCKER (a docker command line).
dockerd_start() {
	local i d="$TESTDIR/docker"
	mkdir -p "$d"
	DOCKER_SOCK="$d/docker.sock"
	dockerd --data-root "$d/data" --exec-root "$d/exec" \
		-H "unix://$DOCKER_SOCK" --pidfile "$d/docker.pid" \
		--bridge none --iptables=false --ip-masq=false \
		>"$d/dockerd.log" 2>&1 &
	DOCKERD_PID=$!
	cleanup_fn "dockerd_stop"
	DOCKER="docker -H unix://$DOCKER_SOCK"
	for i in $(seq 1 300); do
		if ! kill -0 "$DOCKERD_PID" 2>/dev/null; then
			diag "dockerd exited: $(tail -5 "$d/dockerd.log")"
			return 1
		fi
		$DOCKER info >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	diag "dockerd did not start within 30 s"
	return 1
}

dockerd_stop() {
	local i
	[ -n "${DOCKERD_PID:-}" ] || return 0
	kill -TERM "$DOCKERD_PID" 2>/dev/null
	for i in $(seq 1 300); do
		kill -0 "$DOCKERD_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$DOCKERD_PID" 2>/dev/null
	wait "$DOCKERD_PID" 2>/dev/null
	DOCKERD_PID=
	# dockerd's containerd child may linger briefly after dockerd exits;
	# its pid file may be stale, so only a containerd of this test's
	# exec-root is signalled.
	if [ -f "$TESTDIR/docker/exec/containerd/containerd.pid" ]; then
		i=$(cat "$TESTDIR/docker/exec/containerd/containerd.pid")
		case "$(tr '\0' ' ' <"/proc/$i/cmdline" 2>/dev/null)" in
		*"$TESTDIR/docker/exec"*) kill -TERM "$i" 2>/dev/null ;;
		esac
	fi
	return 0
}

# busybox_image NAME: import a one-layer image made from busybox-static.
busybox_image() {
	local root="$TESTDIR/imgroot" a
	mkdir -p "$root/bin" "$root/tmp"
	cp /bin/busybox "$root/bin/busybox"
	for a in sh echo cat ls id sleep touch mkdir stat test true false \
	    rm head tail wc dd seq; do
		ln -sf busybox "$root/bin/$a"
	done
	tar -C "$root" -c . | $DOCKER import - "$1" >/dev/null
}

# ------------------------------------------------------------------ btrfs
# btrfs_fs SIZE: a BTRFS file system on a sparse image file of SIZE in
# TESTDIR, loop-mounted at BTRFS_MNT ($TESTDIR/mnt), unmounted and its
# loop device detached at exit.  Skips the test where the kernel or the
# machine cannot do that.
btrfs_fs() {
	local img="$TESTDIR/btrfs.img" dev
	BTRFS_MNT="$TESTDIR/mnt"
	grep -qw btrfs /proc/filesystems 2>/dev/null || modprobe btrfs 2>/dev/null ||
		skip_all "the kernel has no btrfs support"
	truncate -s "$1" "$img" || bail_out "cannot make $img"
	mkfs.btrfs -q "$img" >"$TESTDIR/mkfs.log" 2>&1 ||
		bail_out "mkfs.btrfs failed: $(cat "$TESTDIR/mkfs.log")"
	mkdir -p "$BTRFS_MNT"
	mount -o loop "$img" "$BTRFS_MNT" || skip_all "cannot loop-mount a BTRFS image here"
	dev=$(findmnt -n -o SOURCE "$BTRFS_MNT")
	cleanup_fn "losetup -d '$dev' 2>/dev/null"
	cleanup_fn "umount '$BTRFS_MNT' || umount -l '$BTRFS_MNT'"
	diag "BTRFS on $dev at $BTRFS_MNT"
}
