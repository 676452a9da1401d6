#!/bin/sh
# The README's second command: install what the tests need, build, and run
# the whole test suite (make check: unit, integration and end-to-end tests
# with a private dockerd).  Must run as root.
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh --test
./scripts/build.sh
./scripts/ensure-user.sh volwarden
if ! make -j2 check; then
	cat test-suite.log >&2 || true
	exit 1
fi
