/*
 * snapctl: a minimal frontend for tests.  It starts volwarden-privhelper
 * on its own channel, says HELLO with the configuration's digest, sends
 * one snapshot request and prints the reply, so that t/integ/btrfs-t.sh
 * can send the helper snapshot messages that the admin API would refuse
 * before they reach it (users go through volwardenctl snapshot).
 *
 *   snapctl HELPER CONFIG DRIVER create|delete VOLUME SNAP
 *   snapctl HELPER CONFIG DRIVER list VOLUME [OFFSET]
 *   snapctl HELPER CONFIG DRIVER restore VOLUME SNAP [SIZE-BYTES] [force]
 *
 * Prints "ok NAME CREATED" (create, restore: the snapshot made), "total N"
 * and "NAME CREATED" lines (list), or "error ERRNO: MESSAGE" and exits 1.
 * The helper's exit status must be 0 (exit 2 otherwise).
 */
#include "vw-build.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/config.h"
#include "common/proto.h"

/* The helper's seccomp mode as volwarden would pass it: sanitizer
 * runtimes need syscalls no allowlist grants (frontend/main.c). */
#ifdef VW_SANITIZERS
#define SECCOMP_MODE	"off"
#else
#define SECCOMP_MODE	"kill"
#endif

static void __attribute__((noreturn))
die(const char *what)
{
	fprintf(stderr, "snapctl: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void *
roundtrip(int fd, uint32_t type, uint64_t id, const void *p, size_t len,
    size_t want)
{
	static _Alignas(8) char buf[VW_MSG_MAX + 1];
	struct vw_msg_hdr hdr;
	void *payload;

	if (vw_msg_send(fd, type, id, p, len, -1) < 0)
		die("send");
	if (vw_msg_recv(fd, buf, sizeof(buf), &hdr, &payload, NULL) != 1)
		die("the helper closed the channel (see its log on stderr)");
	if (hdr.type != (type | VW_MSG_REPLY) || hdr.id != id || hdr.len != want) {
		fprintf(stderr, "snapctl: unexpected %s of %u bytes\n",
		    vw_msg_name(hdr.type), hdr.len);
		exit(2);
	}
	return payload;
}

int
main(int argc, char *argv[])
{
	struct vw_overrides ov;
	struct vw_config cfg;
	struct vw_hello h;
	struct vw_snap_req req;
	struct vw_snap_reply rep;
	char err[1024], pidbuf[32];
	const char *cmd;
	uint32_t type;
	uint64_t digest;
	int sv[2], status, rc = 0;
	pid_t pid;

	if (argc < 6) {
		fprintf(stderr, "usage: snapctl HELPER CONFIG DRIVER CMD VOLUME "
		    "[SNAP|OFFSET] [SIZE] [force]\n");
		return 2;
	}
	memset(&ov, 0, sizeof(ov));
	ov.config = argv[2];
	if (vw_config_load(&cfg, &ov, 1, err, sizeof(err)) < 0) {
		fprintf(stderr, "snapctl: %s\n", err);
		return 2;
	}
	digest = vw_config_digest(&cfg);
	memset(&req, 0, sizeof(req));
	cmd = argv[4];
	snprintf(req.name, sizeof(req.name), "%s", argv[5]);
	if (strcmp(cmd, "list") == 0) {
		type = VW_MSG_VOLUME_SNAPSHOT_LIST;
		if (argc > 6)
			req.offset = (uint32_t)strtoul(argv[6], NULL, 10);
	} else {
		if (argc < 7) {
			vw_config_free(&cfg);
			return 2;
		}
		snprintf(req.snap, sizeof(req.snap), "%s", argv[6]);
		if (strcmp(cmd, "create") == 0)
			type = VW_MSG_VOLUME_SNAPSHOT_CREATE;
		else if (strcmp(cmd, "delete") == 0)
			type = VW_MSG_VOLUME_SNAPSHOT_DELETE;
		else if (strcmp(cmd, "restore") == 0) {
			type = VW_MSG_VOLUME_SNAPSHOT_RESTORE;
			if (argc > 7)
				req.size = strtoull(argv[7], NULL, 10);
			if (argc > 8 && strcmp(argv[8], "force") == 0)
				req.flags |= VW_SNAP_FORCE;
		} else {
			vw_config_free(&cfg);
			return 2;
		}
	}

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair");
	snprintf(pidbuf, sizeof(pidbuf), "%ld", (long)getpid());
	if ((pid = fork()) < 0)
		die("fork");
	if (pid == 0) {
		char *args[] = { argv[1], (char *)"--driver", argv[3],
		    (char *)"--config", argv[2], (char *)"--foreground",
		    (char *)"--seccomp", (char *)SECCOMP_MODE,
		    (char *)"--parent", pidbuf, NULL };

		if (dup2(sv[1], 3) < 0)
			_exit(127);
		execv(argv[1], args);
		_exit(127);
	}
	close(sv[1]);
	vw_config_free(&cfg);	/* the digest is all we need of it */

	memset(&h, 0, sizeof(h));
	h.version = VW_PROTO_VERSION;
	h.driver = (uint32_t)strtoul(argv[3], NULL, 10);
	h.config_digest = digest;
	(void)roundtrip(sv[0], VW_MSG_HELLO, 0, &h, sizeof(h),
	    sizeof(struct vw_hello_reply));
	memcpy(&rep, roundtrip(sv[0], type, 1, &req, sizeof(req), sizeof(rep)),
	    sizeof(rep));
	if (rep.err != 0) {
		printf("error %d: %s\n", rep.err, rep.msg);
		rc = 1;
	} else if (type == VW_MSG_VOLUME_SNAPSHOT_LIST) {
		printf("total %u\n", rep.total);
		for (uint32_t i = 0; i < rep.count && i < VW_SNAP_LIST_MAX; i++)
			printf("%s %" PRId64 "\n", rep.entries[i].name,
			    rep.entries[i].created);
	} else if (rep.count > 0)
		printf("ok %s %" PRId64 "\n", rep.entries[0].name,
		    rep.entries[0].created);
	else
		printf("ok\n");
	close(sv[0]);
	if (waitpid(pid, &status, 0) < 0)
		die("waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "snapctl: the helper ended with status 0x%x\n",
		    status);
		return 2;
	}
	return rc;
}
