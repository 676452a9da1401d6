/*
 * The FUSE keeper (see gluster/keeper.h).  A plain loop around
 * sigtimedwait: start the client when none runs and its back-off has
 * passed; on SIGCHLD reap it, detach its dead mount and schedule the
 * next start; on SIGTERM stop everything and exit.
 */
#include "vw-build.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cap-ng.h>

#include "common/log.h"
#include "common/proto.h"
#include "gluster/keeper.h"

#ifndef VW_GLUSTERFS_CLIENT
#define VW_GLUSTERFS_CLIENT	"/usr/sbin/glusterfs"
#endif

struct keeper {
	const struct vw_driver	*d;
	const char		*pidfile;
	pid_t			 client;	/* 0 when none runs */
	time_t			 next_start;
	unsigned		 backoff;	/* seconds */
	time_t			 started;
};

/* Is root a live FUSE mount? */
static int
mounted(const char *root)
{
	struct statfs sf;

	return statfs(root, &sf) == 0 && (unsigned long)sf.f_type ==
	    VW_FUSE_SUPER_MAGIC;
}

/* Detach whatever is mounted at root (a dead client's mount answers
 * ENOTCONN; a left-over live one would hide ours). */
static void
detach(const char *root)
{
	for (int i = 0; i < 8; i++) {
		if (umount2(root, MNT_DETACH | UMOUNT_NOFOLLOW) < 0) {
			if (errno != EINVAL && errno != ENOENT)
				log_warn("cannot detach the mount at %s", root);
			return;
		}
		log_info("detached the old mount at %s", root);
	}
}

static void
start_client(struct keeper *k)
{
	static char path_env[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	char *const envp[] = { path_env, NULL };
	const struct vw_driver *d = k->d;
	char *argv[48], volid[128], pidarg[VW_PATH_MAX + 16], port[32];
	char servers[32][300], transport[48];
	int na = 0;
	pid_t pid;

	detach(d->root);
	argv[na++] = (char *)"glusterfs";
	argv[na++] = (char *)"--no-daemon";
	argv[na++] = (char *)"--process-name=fuse";
	port[0] = transport[0] = '\0';
	for (size_t i = 0; i < d->gl.nservers && i < 32; i++) {
		struct vw_gluster_server sv;
		char why[256];

		if (vw_gluster_server_parse(d->gl.servers[i], &sv, why,
		    sizeof(why)) < 0)
			fatalx("%s", why);
		snprintf(servers[i], sizeof(servers[i]), "--volfile-server=%s",
		    sv.host);
		argv[na++] = servers[i];
		/* The client takes one port and transport for all servers:
		 * the first server's. */
		if (i == 0 && sv.port != 0)
			snprintf(port, sizeof(port), "--volfile-server-port=%d",
			    sv.port);
		if (i == 0)
			snprintf(transport, sizeof(transport),
			    "--volfile-server-transport=%s", sv.transport);
	}
	if (port[0] != '\0')
		argv[na++] = port;
	argv[na++] = transport;
	snprintf(volid, sizeof(volid), "--volfile-id=%s", d->gl.volume);
	argv[na++] = volid;
	snprintf(pidarg, sizeof(pidarg), "--pid-file=%s", k->pidfile);
	argv[na++] = pidarg;
	argv[na++] = d->root;
	argv[na] = NULL;

	if ((pid = fork()) < 0) {
		log_warn("cannot fork the FUSE client");
		return;
	}
	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (close_range(3, ~0U, 0) < 0)
			_exit(127);
		signal(SIGTERM, SIG_DFL);
		/* The client needs CAP_SYS_ADMIN to mount; nothing else is
		 * left in its bounding set. */
		capng_clear(CAPNG_SELECT_BOUNDS);
		if (capng_update(CAPNG_ADD, CAPNG_BOUNDING_SET,
		    CAP_SYS_ADMIN) < 0 || capng_apply(CAPNG_SELECT_BOUNDS) < 0) {
			fprintf(stderr, "volwarden fuse-keeper: cannot limit the "
			    "bounding set\n");
			_exit(127);
		}
		execve(VW_GLUSTERFS_CLIENT, argv, envp);
		fprintf(stderr, "volwarden fuse-keeper: cannot execute %s: %s\n",
		    VW_GLUSTERFS_CLIENT, strerror(errno));
		_exit(127);
	}
	k->client = pid;
	k->started = time(NULL);
	log_info("mounting Gluster volume %s at %s (FUSE client pid %d)",
	    d->gl.volume, d->root, (int)pid);
}

static void
client_gone(struct keeper *k, int status)
{
	time_t now = time(NULL);

	if (WIFSIGNALED(status))
		log_warnx("the FUSE client of Gluster volume %s (pid %d) was "
		    "killed by signal %d; mounting again", k->d->gl.volume,
		    (int)k->client, WTERMSIG(status));
	else
		log_warnx("the FUSE client of Gluster volume %s (pid %d) exited "
		    "with status %d (servers unreachable?); mounting again",
		    k->d->gl.volume, (int)k->client, WEXITSTATUS(status));
	k->client = 0;
	detach(k->d->root);
	/* A client that ran for a while starts again at once; one that
	 * keeps failing backs off up to 30 s. */
	if (now - k->started > 30)
		k->backoff = 0;
	k->next_start = now + (time_t)k->backoff;
	k->backoff = k->backoff == 0 ? 1 : k->backoff * 2 > 30 ? 30 :
	    k->backoff * 2;
}

static void __attribute__((noreturn))
stop(struct keeper *k)
{
	int status;

	if (k->client > 0) {
		kill(k->client, SIGTERM);
		for (int i = 0; i < 50; i++) {
			if (waitpid(k->client, &status, WNOHANG) == k->client) {
				k->client = 0;
				break;
			}
			usleep(100 * 1000);
		}
		if (k->client > 0) {
			log_warnx("the FUSE client (pid %d) ignored SIGTERM; "
			    "killing it", (int)k->client);
			kill(k->client, SIGKILL);
			waitpid(k->client, &status, 0);
		}
	}
	detach(k->d->root);
	if (unlink(k->pidfile) < 0 && errno != ENOENT)
		log_warn("cannot remove %s", k->pidfile);
	log_debug("stopped");
	exit(0);
}

static void __attribute__((noreturn))
keeper_main(struct keeper *k, pid_t parent, int pipe_fd)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		fatal("sigprocmask");
	if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) < 0)
		fatal("prctl(PR_SET_PDEATHSIG)");
	if (getppid() != parent)
		stop(k);
	for (;;) {
		struct timespec ts = { 0, 0 };
		struct pollfd pfd = { pipe_fd, POLLIN, 0 };
		int sig, status;
		pid_t pid;

		if (k->client == 0 && time(NULL) >= k->next_start)
			start_client(k);
		/* The privhelper closing its end (or dying) ends us. */
		if (poll(&pfd, 1, 200) > 0)
			stop(k);
		sig = sigtimedwait(&set, NULL, &ts);
		if (sig == SIGTERM || sig == SIGINT)
			stop(k);
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			if (pid == k->client)
				client_gone(k, status);
	}
}

int
gk_spawn(const struct vw_driver *d, const char *pidfile, int foreground,
    int debug, int wait_ms, struct gk *out, char *err, size_t errlen)
{
	static struct keeper k;
	char procname[300];
	pid_t parent = getpid(), pid;
	int p[2];

	memset(&k, 0, sizeof(k));
	k.d = d;
	k.pidfile = pidfile;
	if (pipe2(p, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) < 0) {
		snprintf(err, errlen, "cannot fork the FUSE keeper: %s",
		    strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		/* Nothing of the privhelper's: not its channel, not its
		 * root fds; only the read end of the pipe, on fd 3. */
		if (dup2(p[0], 3) < 0 || close_range(4, ~0U, 0) < 0)
			_exit(127);
		log_init(foreground, debug);
		snprintf(procname, sizeof(procname), "fuse-keeper %s", d->name);
		log_procinit(procname);
		keeper_main(&k, parent, 3);
	}
	close(p[0]);
	out->pid = pid;
	out->pipe_fd = p[1];
	/* Give the first mount a moment, so that the first Mount finds
	 * it; servers that are down only delay it (the keeper retries). */
	for (int waited = 0; waited < wait_ms && !mounted(d->root); waited += 50)
		usleep(50 * 1000);
	if (!mounted(d->root))
		log_warnx("Gluster volume %s is not mounted at %s yet; the FUSE "
		    "keeper keeps trying", d->gl.volume, d->root);
	return 0;
}

int
gk_stop(struct gk *k)
{
	int status;

	if (k->pid <= 0)
		return -1;
	close(k->pipe_fd);
	k->pipe_fd = -1;
	while (waitpid(k->pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	k->pid = 0;
	return status;
}
