/*
 * volwarden-gfapi-agent: started by a glusterfs driver's privhelper,
 * already as the frontend's user with no capabilities, no_new_privs and
 * its parent-death signal set, with its channel on fd 3.  It checks all
 * of that, installs its seccomp filter before gfapi starts any thread
 * (threads inherit the filter), and then answers one request at a time;
 * between requests it renews the leases of the volumes mounted here.
 */
#include "vw-build.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glusterfs/api/glfs.h>

#include "common/log.h"
#include "common/privdrop.h"
#include "common/validate.h"
#include "gluster/agent.h"
#include "seccomp/seccomp.h"

#define CHAN	3

static void
usage(void)
{
	fprintf(stderr, "volwarden-gfapi-agent is started by volwarden's "
	    "privhelper; it is not meant to be run by hand.\n");
	exit(2);
}

static void
check_channel(void)
{
	int v;
	socklen_t len = sizeof(v);

	if (getsockopt(CHAN, SOL_SOCKET, SO_TYPE, &v, &len) < 0 ||
	    v != SOCK_SEQPACKET)
		fatalx("fd %d is not a SOCK_SEQPACKET socket: "
		    "volwarden-gfapi-agent must be started by volwarden", CHAN);
	if (fcntl(CHAN, F_SETFD, FD_CLOEXEC) < 0)
		fatal("fcntl(FD_CLOEXEC) on the channel");
}

static void
reply(uint32_t type, uint64_t id, const void *p, size_t len)
{
	if (vw_msg_send(CHAN, type | VW_MSG_REPLY, id, p, len, -1) < 0)
		fatal("sending %s reply", vw_msg_name(type));
}

/* One request: check it completely, act, answer. */
static void
serve_one(struct ga *ga, const struct vw_msg_hdr *hdr, const void *payload)
{
	static struct vw_volume_req req;
	static struct vw_volume_reply rep;
	static struct vw_status_reply srep;
	static struct vw_scan_reply screp;
	struct vw_scan_req sreq;
	char why[256];

	if (hdr->type == VW_MSG_VOLUME_SCAN) {
		if (hdr->len != sizeof(sreq))
			fatalx("protocol violation: %s of length %u",
			    vw_msg_name(hdr->type), hdr->len);
		memcpy(&sreq, payload, sizeof(sreq));
		memset(&screp, 0, sizeof(screp));
		ga_scan(ga, &sreq, &screp);
		if (screp.err != 0)
			log_warnx("%s", screp.msg);
		reply(hdr->type, hdr->id, &screp, sizeof(screp));
		return;
	}
	if (hdr->len != sizeof(req))
		fatalx("protocol violation: %s of length %u",
		    vw_msg_name(hdr->type), hdr->len);
	memcpy(&req, payload, sizeof(req));
	if (vw_name_field_valid(req.name, sizeof(req.name)) < 0 ||
	    vw_opts_check(&req.opts, why, sizeof(why)) < 0)
		fatalx("protocol violation: %s with an invalid name or options",
		    vw_msg_name(hdr->type));
	if (hdr->type == VW_MSG_VOLUME_STATUS) {
		memset(&srep, 0, sizeof(srep));
		ga_status(ga, &req, &srep);
		reply(hdr->type, hdr->id, &srep, sizeof(srep));
		return;
	}
	memset(&rep, 0, sizeof(rep));
	switch (hdr->type) {
	case VW_MSG_VOLUME_CREATE:
		ga_create(ga, &req, &rep);
		break;
	case VW_MSG_VOLUME_REMOVE:
		ga_remove(ga, &req, &rep);
		break;
	case VW_MSG_VOLUME_MOUNT:
		ga_mount(ga, &req, &rep);
		break;
	case VW_MSG_VOLUME_UNMOUNT:
		ga_unmount(ga, &req, &rep);
		break;
	default:
		fatalx("protocol violation: unexpected %s (type %u)",
		    vw_msg_name(hdr->type), hdr->type);
	}
	if (rep.err != 0)
		log_warnx("%s %s: %s", vw_msg_name(hdr->type), req.name, rep.msg);
	else
		log_debug("%s %s: ok", vw_msg_name(hdr->type), req.name);
	reply(hdr->type, hdr->id, &rep, sizeof(rep));
}

int
main(int argc, char *argv[])
{
	static struct ga ga;
	static _Alignas(8) char buf[VW_MSG_MAX + 1];
	static const struct option longopts[] = {
		{ "driver-name", required_argument, NULL, 'n' },
		{ "volume", required_argument, NULL, 'v' },
		{ "server", required_argument, NULL, 's' },
		{ "subdir", required_argument, NULL, 'b' },
		{ "node", required_argument, NULL, 'N' },
		{ "lease-ttl", required_argument, NULL, 't' },
		{ "on-remove", required_argument, NULL, 'r' },
		{ "log-file", required_argument, NULL, 'l' },
		{ "parent", required_argument, NULL, 'p' },
		{ "seccomp", required_argument, NULL, 'S' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "debug", no_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 }
	};
	enum vw_seccomp_mode sc_mode = VW_SECCOMP_KILL;
	char err[512], procname[300];
	int ch, foreground = 0, debug = 0;
	pid_t parent = 0;

	log_init(1, 0);
	check_channel();
	snprintf(ga.base, sizeof(ga.base), "/");
	ga.logfile = "/dev/null";
	ga.loglevel = 4;	/* GF_LOG_WARNING */
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n': ga.driver = optarg; break;
		case 'v': ga.volume = optarg; break;
		case 's':
			if (ga.nservers >= sizeof(ga.servers) / sizeof(ga.servers[0]))
				usage();
			ga.servers[ga.nservers++] = optarg;
			break;
		case 'b':
			snprintf(ga.base, sizeof(ga.base), "/%s", optarg);
			break;
		case 'N': ga.node = optarg; break;
		case 't': ga.ttl = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'r':
			if (strcmp(optarg, "keep") == 0)
				ga.on_remove = VW_ON_REMOVE_KEEP;
			else if (strcmp(optarg, "delete") == 0)
				ga.on_remove = VW_ON_REMOVE_DELETE;
			else if (strcmp(optarg, "archive") == 0)
				ga.on_remove = VW_ON_REMOVE_ARCHIVE;
			else
				usage();
			break;
		case 'l': ga.logfile = optarg; break;
		case 'p': parent = (pid_t)strtol(optarg, NULL, 10); break;
		case 'S':
			if (vw_seccomp_parse_mode(optarg, &sc_mode) < 0)
				usage();
			break;
		case 'f': foreground = 1; break;
		case 'd': debug = 1; break;
		default: usage();
		}
	}
	if (optind != argc || ga.driver == NULL || ga.volume == NULL ||
	    ga.nservers == 0 || ga.node == NULL || ga.ttl < VW_LEASE_TTL_MIN ||
	    parent <= 0)
		usage();
	log_init(foreground, debug);
	snprintf(procname, sizeof(procname), "gfapi-agent %s", ga.driver);
	log_procinit(procname);
	if (debug)
		ga.loglevel = 7;	/* GF_LOG_INFO */

	/* The spawner set the parent-death signal after changing uid; if
	 * the privhelper is already gone, so are we. */
	if (getppid() != parent)
		fatalx("the privhelper exited before the agent started");
	if (geteuid() == 0 || getuid() == 0)
		fatalx("volwarden-gfapi-agent must not run as root");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fatal("prctl");
	if (vw_verify_privs(getuid(), getgid(), 0, err, sizeof(err)) < 0)
		fatalx("refusing to run with privileges: %s", err);
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		fatal("signal");

	/* Before gfapi starts its threads, so that every one inherits it. */
	if (vw_seccomp_agent(sc_mode, err, sizeof(err)) < 0)
		fatalx("cannot install the seccomp filter: %s", err);

	/* Act as root on the bricks (gfapi keeps these per thread, and
	 * every glfs_* call comes from this one). */
	if (glfs_setfsuid(0) < 0 || glfs_setfsgid(0) < 0 ||
	    glfs_setfsgroups(0, NULL) < 0)
		fatal("glfs_setfsuid");
	(void)ga_connect(&ga);
	log_debug("serving Gluster volume %s for driver %s as node %s",
	    ga.volume, ga.driver, ga.node);

	for (;;) {
		struct pollfd pfd = { CHAN, POLLIN, 0 };
		struct vw_msg_hdr hdr;
		void *payload;
		int rc;

		rc = poll(&pfd, 1, 1000);
		if (rc < 0 && errno != EINTR)
			fatal("poll");
		if (rc > 0) {
			rc = vw_msg_recv(CHAN, buf, sizeof(buf), &hdr, &payload,
			    NULL);
			if (rc == 0)
				break;
			if (rc < 0 && errno != EAGAIN && errno != EINTR)
				fatal("receiving from the privhelper");
			if (rc > 0)
				serve_one(&ga, &hdr, payload);
		}
		ga_heartbeat(&ga);
	}
	/* glfs_fini waits for gfapi's timers (seconds); the bricks notice
	 * the closed connections by themselves.  Leases held here expire
	 * after the TTL unless a new agent renews them. */
	log_debug("the privhelper closed the channel; exiting");
	_exit(0);
}
