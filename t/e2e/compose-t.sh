#!/bin/bash
# Docker Compose (Debian's docker-compose) against a private dockerd and
# volwarden as a legacy plugin: a compose file names the driver and gives
# driver_opts (mountpoint, uid, gid, mode); up, write, down -v, up again,
# and the data is still there, in the directory the compose file names.
if [ -z "${top_srcdir:-}" ]; then
	top_srcdir=$(cd "$(dirname "$0")/../.." && pwd)
fi
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
. "$top_srcdir/t/lib/functions.sh"

requires_dockerd docker-compose

DRV="vwc$$"
PROJECT="vwtc$$"
ALLOWED="$TESTDIR/srv"
VW_SOCK="/run/docker/plugins/$DRV.sock"
VW_CUSTOM=1
IMG=vwt-busybox
cleanup_fn "rm -f '$VW_SOCK'"
cat >"$TESTDIR/volwarden.json" <<EOF
{
  "user": "$VW_TEST_USER",
  "state_dir": "$TESTDIR/state",
  "run_dir": "$TESTDIR/run",
  "socket_dir": "/run/docker/plugins",
  "drivers": [
    {"name": "$DRV", "backend": "dir", "root": "$TESTDIR/volumes",
     "allowed_roots": ["$ALLOWED"], "on_remove": "keep"}
  ]
}
EOF
chmod 0644 "$TESTDIR/volwarden.json"
mkdir -p "$TESTDIR/project"
cat >"$TESTDIR/project/docker-compose.yml" <<EOF
version: "3.7"
services:
  app:
    image: $IMG
    network_mode: none
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"]
    volumes:
      - appdata:/data
volumes:
  appdata:
    driver: $DRV
    driver_opts:
      mountpoint: $ALLOWED/app
      uid: "1000"
      gid: "1000"
      mode: "0750"
EOF

# DC ARGS...: docker-compose on the private dockerd, bounded in time.
DC() {
	(cd "$TESTDIR/project" && DOCKER_HOST="unix://$DOCKER_SOCK" \
		timeout 120 docker-compose -p "$PROJECT" "$@")
}
compose_cleanup() {
	[ -n "${DOCKERD_PID:-}" ] && DC down -v -t 1 >/dev/null 2>&1
	dockerd_stop
	vw_stop
	rm -f "$VW_SOCK"
}

T0=$(date +%s)
dockerd_start || bail_out "cannot start dockerd: $(tail -3 "$TESTDIR/docker/dockerd.log")"
busybox_image "$IMG" || bail_out "cannot import the busybox image"
vw_start --config "$TESTDIR/volwarden.json" || bail_out "cannot start volwarden"
cleanup_fn compose_cleanup
VOL="${PROJECT}_appdata"

DC up -d >"$TESTDIR/up1.log" 2>&1
rc=$?
ok $rc "docker-compose up -d"
[ $rc -eq 0 ] || diag "$(cat "$TESTDIR/up1.log")"
is "$($DOCKER volume inspect "$VOL" 2>/dev/null | jq -r '.[0].Driver + " " + .[0].Mountpoint')" \
	"$DRV $ALLOWED/app" "the volume $VOL has driver $DRV and the compose file's mountpoint"
is "$(stat -c '%u:%g %a' "$ALLOWED/app" 2>&1)" "1000:1000 750" \
	"driver_opts uid, gid and mode took effect"
DC exec -T app sh -c 'echo composed > /data/f' >/dev/null 2>&1
ok $? "the service writes into the volume"
is "$(cat "$ALLOWED/app/f" 2>&1)" "composed" "the data is in the mountpoint on the host"

DC down -v -t 1 >"$TESTDIR/down.log" 2>&1
ok $? "docker-compose down -v"
is "$($DOCKER ps -aq | wc -l)" 0 "no container is left"
unlike "$($DOCKER volume ls -q)" "^$VOL\$" "the volume is gone from dockerd"
unlike "$(vw_call VolumeDriver.List '{}')" "\"$VOL\"" "and from the driver"
is "$(cat "$ALLOWED/app/f" 2>&1)" "composed" "the data stays on the host (on_remove keep)"

DC up -d >"$TESTDIR/up2.log" 2>&1
ok $? "docker-compose up -d again"
is "$(DC exec -T app cat /data/f 2>&1)" "composed" "the new container sees the old data"
is "$(stat -c '%u:%g %a' "$ALLOWED/app" 2>&1)" "1000:1000 750" "owner and mode are unchanged"
DC down -v -t 1 >/dev/null 2>&1
ok $? "docker-compose down -v at the end"

compose_cleanup
diag "runtime: $(($(date +%s) - T0)) s"
done_testing
