#!/bin/sh
# Assemble volwarden's Docker managed plugin (v2) in OUTDIR, without a
# Docker build: OUTDIR/config.json and OUTDIR/rootfs holding the built
# executables, the shared libraries they load (found with ldd), the
# configuration and an /etc/passwd and /etc/group with the volwarden user.
#   contrib/docker-plugin/mkplugin.sh SRCDIR BUILDDIR OUTDIR
# Then: docker plugin create NAME OUTDIR && docker plugin enable NAME
set -eu
src=$1 build=$2 out=$3
# The frontend user inside the plugin.  A fixed id: the state directory
# on the host (the "state" mount) becomes owned by it.
uid=64971 gid=64971

for f in volwarden volwarden-privhelper volwardenctl; do
	[ -x "$build/$f" ] || { echo "mkplugin: $build/$f is not built (run make)" >&2; exit 1; }
done
rm -rf "$out"
mkdir -p "$out/rootfs"
r="$out/rootfs"
mkdir -p "$r/usr/sbin" "$r/usr/libexec" "$r/etc/volwarden" "$r/run/docker/plugins" \
	"$r/run/volwarden" "$r/var/lib/volwarden" "$r/data" "$r/proc" "$r/dev" \
	"$r/sys" "$r/tmp"
chmod 1777 "$r/tmp"
chmod 0700 "$r/run/docker/plugins"
install -m 0755 "$build/volwarden" "$build/volwardenctl" "$r/usr/sbin/"
install -m 0755 "$build/volwarden-privhelper" "$r/usr/libexec/"

# Every library (and the dynamic loader) the three need, at the path
# ldd reports, as plain files.
for f in "$build/volwarden" "$build/volwarden-privhelper" "$build/volwardenctl"; do
	ldd "$f" | awk '/=> \// { print $3 } /^\t\// { print $1 }'
done | sort -u | while read -r lib; do
	mkdir -p "$r$(dirname "$lib")"
	cp -L "$lib" "$r$lib"
done

install -m 0644 "$src/contrib/docker-plugin/volwarden.json" "$r/etc/volwarden/volwarden.json"
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nvolwarden:x:%s:%s:volwarden:/nonexistent:/usr/sbin/nologin\n' \
	"$uid" "$gid" >"$r/etc/passwd"
printf 'root:x:0:\nvolwarden:x:%s:\n' "$gid" >"$r/etc/group"
printf 'passwd: files\ngroup: files\n' >"$r/etc/nsswitch.conf"
chmod 0644 "$r/etc/passwd" "$r/etc/group" "$r/etc/nsswitch.conf"
install -m 0644 "$src/contrib/docker-plugin/config.json" "$out/config.json"
echo "mkplugin: plugin in $out ($(du -sh "$r" | cut -f1) rootfs)"
