#!/bin/sh
# Run the whole test suite once more with AddressSanitizer and UBSan, in a
# separate clone (the sanitizer runtimes need syscalls that the seccomp
# allowlists refuse, so sanitizer builds run with the filters off; the
# normal run of scripts/test.sh covers them).  Must run as root.
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh --test
./scripts/ensure-user.sh volwarden
dir=$(mktemp -d /tmp/volwarden-asan.XXXXXX)
trap 'rm -rf "$dir"' EXIT
# mktemp -d makes it 0700: the gfapi agent, executed as the unprivileged
# user from the build tree, could not reach it (tests run everything from
# the build tree, as an installed daemon would from libexec).
chmod 0755 "$dir"
git clone -q "$PWD" "$dir/src"
cd "$dir/src"
./autogen.sh >/dev/null
./configure -q --enable-sanitizers
make -j"$(nproc)" >/dev/null
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
if ! make -j2 check; then
	cat test-suite.log >&2 || true
	exit 1
fi
