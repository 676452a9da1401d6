#!/bin/sh
# The README's first command: install the dependencies, build, create the
# volwarden user and run the daemon in the foreground on its embedded
# default (driver "volwarden", backend dir, socket
# /run/docker/plugins/volwarden.sock).  Extra arguments go to volwarden.
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
./scripts/ensure-user.sh volwarden
exec ./volwarden --foreground "$@"
