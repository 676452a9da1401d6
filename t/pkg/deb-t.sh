#!/bin/bash
# The Debian package: build it with dpkg-buildpackage from a copy of the
# source tree (the work tree is never written), check it with lintian,
# install it with dpkg, run the installed daemon by hand (there is no
# systemd here) with a configuration of the test's own, create, mount,
# unmount and remove a volume through it, then purge the package and
# check that nothing of it is left but the volume's data, and that the
# existing "volwarden" user was neither changed nor removed.  The
# postinst's creation of the user is checked in a private mount
# namespace, on a copy of /etc without that user.
#
# The daemon's sockets and run directory are the test's; its state and
# its driver root are the package's defaults (/var/lib/volwarden/state,
# /var/lib/volwarden/volumes), so that the purge has state to remove and
# data to keep.
if [ -z "${top_srcdir:-}" ]; then
	top_srcdir=$(cd "$(dirname "$0")/../.." && pwd)
fi
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
. "$top_srcdir/t/lib/functions.sh"

requires_root
for c in dpkg-buildpackage dh lintian dpkg curl jq git unshare; do
	command -v "$c" >/dev/null 2>&1 || skip_all "requires $c (scripts/install-deps.sh --test)"
done
id "$VW_TEST_USER" >/dev/null 2>&1 || skip_all "requires user $VW_TEST_USER"
git -C "$top_srcdir" rev-parse --git-dir >/dev/null 2>&1 ||
	skip_all "requires a git checkout (the package is built from its files)"
# Never replace or purge someone's installation.
dpkg-query -W -f='${Status}' volwarden 2>/dev/null | grep -q installed &&
	skip_all "the volwarden package is installed on this host"
for f in /etc/volwarden /var/lib/volwarden/state /usr/sbin/volwarden \
    /usr/libexec/volwarden-privhelper; do
	[ -e "$f" ] && skip_all "$f exists: volwarden is installed on this host"
done

VERSION=$(sed -n 's/^AC_INIT(\[volwarden\], \[\([^]]*\)\].*/\1/p' "$top_srcdir/configure.ac")
ARCH=$(dpkg --print-architecture)
DEB="$TESTDIR/volwarden_${VERSION}_${ARCH}.deb"
SRC="$TESTDIR/volwarden-$VERSION"
VOL="vwdeb$$"
DATA=/var/lib/volwarden/volumes/$VOL
had_varlib=$([ -e /var/lib/volwarden ] && echo 1)
had_volumes=$([ -e /var/lib/volwarden/volumes ] && echo 1)
pkg_cleanup() {
	vw_stop
	if dpkg-query -W -f='${Status}' volwarden 2>/dev/null | grep -q installed; then
		dpkg --purge volwarden
	fi
	rm -rf "$DATA" /var/lib/volwarden/state
	[ -n "$had_volumes" ] || rmdir /var/lib/volwarden/volumes
	[ -n "$had_varlib" ] || rmdir /var/lib/volwarden
}
cleanup_fn pkg_cleanup

T0=$(date +%s)
# ------------------------------------------------------------------ build
mkdir -p "$SRC"
(cd "$top_srcdir" && git ls-files -co --exclude-standard -z) |
	(cd "$top_srcdir" && tar --null -T - -cf -) | tar -C "$SRC" -xf -
ok $? "copied the source tree ($(cd "$SRC" && find . -type f | wc -l) files) to $SRC"
before=$(cd "$top_srcdir" && git status --porcelain 2>&1 | md5sum)
# Under make check the environment carries the outer make's MAKEFLAGS,
# with its TESTS/TEST_LOGS on it: the package's own make would run the
# whole suite instead of the unit tests.  Build in a clean make context.
(cd "$SRC" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
	-u TESTS -u TEST_LOGS DEB_BUILD_OPTIONS="parallel=2" \
	dpkg-buildpackage -us -uc -b) >"$TESTDIR/build.log" 2>&1
rc=$?
ok $rc "dpkg-buildpackage -us -uc -b"
[ $rc -eq 0 ] || { diag "$(tail -30 "$TESTDIR/build.log")"; bail_out "the package does not build"; }
ok "$([ -f "$DEB" ]; echo $?)" "it made $(basename "$DEB")"
like "$(grep -c '^PASS: t/unit/' "$TESTDIR/build.log")" '^[1-9][0-9]*$' \
	"the build ran the unit tests"
is "$(grep -c '^[A-Z]*: t/\(integ\|e2e\|pkg\)/' "$TESTDIR/build.log")" 0 \
	"... and only those (no daemon test inside the package build)"
is "$(cd "$top_srcdir" && git status --porcelain 2>&1 | md5sum)" "$before" \
	"the work tree was not touched (git status)"
ok "$(cd "$top_srcdir" && [ ! -e debian/files ] && [ ! -e debian/volwarden ] &&
	[ ! -e debian/.debhelper ] && ! ls ../volwarden_* >/dev/null 2>&1; echo $?)" \
	"... and holds no build products of the package"
lintian --fail-on error "$TESTDIR/volwarden_${VERSION}_${ARCH}.changes" \
	>"$TESTDIR/lintian.log" 2>&1
ok $? "lintian --fail-on error: no errors"
diag "lintian: $(grep -c '^E:' "$TESTDIR/lintian.log") errors, $(grep -c '^W:' "$TESTDIR/lintian.log") warnings"
grep '^[EW]:' "$TESTDIR/lintian.log" | while read -r l; do diag "  $l"; done

contents=$(dpkg-deb -c "$DEB" | awk '{ print $6 }' | sed 's|^\./|/|')
for f in /usr/sbin/volwarden /usr/sbin/volwardenctl /usr/libexec/volwarden-privhelper \
    /usr/share/man/man8/volwarden.8.gz /usr/share/man/man8/volwardenctl.8.gz \
    /usr/share/man/man5/volwarden.json.5.gz /etc/volwarden/volwarden.json \
    /lib/systemd/system/volwarden.service /lib/systemd/system/volwarden.socket \
    /var/lib/volwarden/ /usr/share/doc/volwarden/copyright; do
	like "$contents" "^${f}\$" "the package holds $f"
done
is "$(dpkg-deb -f "$DEB" Version) $(dpkg-deb -f "$DEB" Architecture)" "$VERSION $ARCH" \
	"its version is configure's, its architecture dpkg's"
is "$(dpkg-deb --ctrl-tarfile "$DEB" | tar -xOf - ./conffiles)" "/etc/volwarden/volwarden.json" \
	"the configuration is a conffile"

# ---------------------------------------------------------------- install
pw_before=$(getent passwd "$VW_TEST_USER")
gr_before=$(getent group "$VW_TEST_USER")
DEBIAN_FRONTEND=noninteractive dpkg -i "$DEB" >"$TESTDIR/install.log" 2>&1
rc=$?
ok $rc "dpkg -i $(basename "$DEB")"
[ $rc -eq 0 ] || diag "$(tail -20 "$TESTDIR/install.log")"
is "$(getent passwd "$VW_TEST_USER")" "$pw_before" "the existing user volwarden is unchanged"
is "$(getent group "$VW_TEST_USER")" "$gr_before" "... and its group too"
is "$(stat -c '%U:%G %a' /etc/volwarden/volwarden.json 2>&1)" "root:root 644" \
	"/etc/volwarden/volwarden.json: root's, not writable by others"
out=$(/usr/sbin/volwarden --config /etc/volwarden/volwarden.json --check 2>&1)
ok $? "the installed daemon accepts the shipped configuration (--check)"
is "$(printf '%s' "$out" | jq -r '.drivers[0].root')" /var/lib/volwarden/volumes \
	"... whose driver root is /var/lib/volwarden/volumes"
like "$(/usr/sbin/volwarden --version 2>&1)" "$VERSION" "volwarden --version says $VERSION"
if command -v systemd-analyze >/dev/null 2>&1; then
	out=$(systemd-analyze verify /lib/systemd/system/volwarden.socket \
		/lib/systemd/system/volwarden.service 2>&1)
	ok $? "systemd-analyze verify accepts the installed units"
	[ -z "$out" ] || diag "$out"
	like "$(grep '^ExecStart=' /lib/systemd/system/volwarden.service)" \
		'^ExecStart=/usr/sbin/volwarden --foreground$' "the service runs /usr/sbin/volwarden"
fi
ok "$([ -L /etc/systemd/system/sockets.target.wants/volwarden.socket ]; echo $?)" \
	"volwarden.socket is enabled"

# A new installation: the postinst on a copy of /etc without the user.
cp -a /etc "$TESTDIR/etc"
for f in passwd group shadow gshadow; do
	sed -i "/^volwarden:/d" "$TESTDIR/etc/$f"
done
unshare -m --propagation private sh -c "mount --bind '$TESTDIR/etc' /etc &&
	/var/lib/dpkg/info/volwarden.postinst configure" >"$TESTDIR/postinst.log" 2>&1
ok $? "the postinst, run where no user volwarden exists, succeeds"
new=$(grep '^volwarden:' "$TESTDIR/etc/passwd")
IFS=: read -r _ _ nuid ngid _ nhome nshell <<<"$new"
ok "$([ -n "$nuid" ] && [ "$nuid" -gt 0 ] && [ "$nuid" -lt 1000 ]; echo $?)" \
	"it creates volwarden as a system user (uid $nuid)"
is "$nhome $nshell" "/nonexistent /usr/sbin/nologin" "... with no home and no shell"
is "$(awk -F: '$1 == "volwarden" { print $3 }' "$TESTDIR/etc/group")" "$ngid" \
	"... and a group volwarden as its primary group"
is "$(getent passwd "$VW_TEST_USER")" "$pw_before" "the host's own user stayed as it was"

# ------------------------------------------------ the installed daemon
cat >"$TESTDIR/vw.json" <<EOF
{
  "user": "$VW_TEST_USER",
  "state_dir": "/var/lib/volwarden/state",
  "run_dir": "$TESTDIR/run",
  "socket_dir": "$TESTDIR/sock",
  "admin_socket": "$TESTDIR/admin/admin.sock",
  "drivers": [
    {"name": "volwarden", "backend": "dir",
     "root": "/var/lib/volwarden/volumes", "on_remove": "keep"}
  ]
}
EOF
chmod 0644 "$TESTDIR/vw.json"
VOLWARDEN=/usr/sbin/volwarden
VW_CUSTOM=1
vw_start --config "$TESTDIR/vw.json" || bail_out "the installed volwarden did not start"
is "$(readlink "/proc/$VW_PID/exe")" /usr/sbin/volwarden "the daemon running is /usr/sbin/volwarden"
is "$(readlink "/proc/$(vw_helper_pids | awk '{ print $1 }')/exe")" \
	/usr/libexec/volwarden-privhelper "its helper is /usr/libexec/volwarden-privhelper"
is "$(awk '/^Uid:/ { print $2 }' "/proc/$VW_PID/status")" "$(id -u "$VW_TEST_USER")" \
	"the frontend runs as $VW_TEST_USER"
is "$(vw_call VolumeDriver.Create "{\"Name\":\"$VOL\"}")" '{}' "Create $VOL"
out=$(vw_call VolumeDriver.Mount "{\"Name\":\"$VOL\",\"ID\":\"m1\"}")
is "$(json_get "$out" .Mountpoint)" "$DATA" "Mount returns $DATA"
echo kept >"$DATA/f"
is "$(vw_call VolumeDriver.Unmount "{\"Name\":\"$VOL\",\"ID\":\"m1\"}")" '{}' "Unmount"
like "$(/usr/sbin/volwardenctl --socket "$VW_ADMIN" ls 2>&1)" "volwarden +$VOL +0 " \
	"the installed volwardenctl lists it"
is "$(vw_call VolumeDriver.Remove "{\"Name\":\"$VOL\"}")" '{}' "Remove"
is "$(vw_call VolumeDriver.List '{}' | jq -c .Volumes)" '[]' "List is empty again"
vw_stop
ok $? "the daemon stops on SIGTERM with status 0"
ok "$([ -d /var/lib/volwarden/state ]; echo $?)" "it kept its state in /var/lib/volwarden/state"

# ------------------------------------------------------------------ purge
dpkg --purge volwarden >"$TESTDIR/purge.log" 2>&1
ok $? "dpkg --purge volwarden"
dpkg-query -W -f='${Status}' volwarden 2>/dev/null | grep -q installed
ok $((! $?)) "the package is no longer installed"
left=
for f in $contents; do
	case "$f" in
	*/) ;;		# directories: shared ones stay, ours are checked below
	*) [ -e "$f" ] && left="$left $f" ;;
	esac
done
is "$left" "" "none of the package's files is left"
ok "$([ ! -e /etc/volwarden ] && [ ! -e /var/lib/volwarden/state ] &&
	[ ! -e /etc/systemd/system/sockets.target.wants/volwarden.socket ]; echo $?)" \
	"/etc/volwarden, the state and the socket unit's enablement are gone"
is "$(cat "$DATA/f" 2>&1)" kept "the volume's data is still there"
is "$(getent passwd "$VW_TEST_USER")" "$pw_before" "the user volwarden is kept, unchanged"

diag "runtime: $(($(date +%s) - T0)) s"
done_testing
