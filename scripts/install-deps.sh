#!/bin/sh
# Install what volwarden needs from Debian's packages (Debian 12).
#   scripts/install-deps.sh          build and run dependencies
#   scripts/install-deps.sh --test   also what the test suite uses
#     (systemd: systemd-socket-activate and systemd-analyze for
#     t/integ/socket-activation-t.sh; util-linux, always installed,
#     has the setpriv that t/integ/ctl-t.sh uses and the losetup that
#     t/integ/fsync-t.sh uses with e2fsprogs' mkfs.ext4; glusterfs-server and
#     glusterfs-client: the glusterd and FUSE client of
#     t/integ/gluster-t.sh; debhelper, devscripts and lintian build and
#     check the package in t/pkg/deb-t.sh; docker-compose runs
#     t/e2e/compose-t.sh)
# The loop backend runs mkfs.ext4, mkfs.xfs, mkfs.erofs and resize2fs at
# run time: e2fsprogs, xfsprogs and erofs-utils are run dependencies.
set -eu

pkgs="build-essential autoconf automake pkg-config libevent-dev libyajl-dev
libcap-ng-dev libseccomp-dev zlib1g-dev libbtrfsutil-dev libglusterfs-dev
ca-certificates e2fsprogs xfsprogs erofs-utils"
if [ "${1:-}" = "--test" ]; then
	pkgs="$pkgs curl jq docker.io busybox-static clang python3 systemd
btrfs-progs e2fsprogs xfsprogs erofs-utils glusterfs-server glusterfs-client
debhelper devscripts lintian git docker-compose"
fi

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "install-deps: run as root to install:$missing" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing
fi
