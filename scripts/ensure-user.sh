#!/bin/sh
# Create the unprivileged system user the frontend runs as, if missing.
set -eu
user=${1:-volwarden}
if ! id "$user" >/dev/null 2>&1; then
	useradd --system --no-create-home --home-dir /nonexistent \
		--shell /usr/sbin/nologin "$user"
	echo "created system user $user"
fi
