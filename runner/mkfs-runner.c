/*
 * volwarden-mkfs-runner: runs mkfs.ext4, mkfs.xfs and mkfs.erofs (and
 * resize2fs, to grow ext4 offline) for one loop driver, unprivileged, on descriptors the helper hands it.  The
 * loop helper execs it at its own start-up (backends/loop.c:loop_init),
 * as root, with the channel on fd 3; the runner drops at once to the
 * configured user with no capabilities (not even in the bounding set),
 * no supplementary groups and no_new_privs, and then serves one request
 * at a time until the helper closes the channel.
 *
 * The programs reach the image as /proc/self/fd/3 (and an erofs source as
 * /proc/self/fd/4).  Re-opening through /proc checks the inode's
 * permissions, so the helper lends the image (an O_TMPFILE with no name)
 * to the runner's user while it is formatted and takes it back after.
 *
 * The real group id is the overflow group, the effective one the user's:
 * with real and effective ids differing, execve() leaves the mkfs process
 * non-dumpable (fs/exec.c, begin_new_exec), so other processes of the
 * same user -- the frontend -- cannot open its descriptors through
 * /proc/PID/fd while the image is lent to it.
 */
#include "vw-build.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cap-ng.h>

#include "common/log.h"
#include "common/privdrop.h"
#include "common/proto.h"
#include "common/validate.h"
#include "runner/runner.h"

/* The real group of the runner and its children: the kernel's overflow
 * group, which owns no files. */
#define RUNNER_RGID		65534
/* dockerd gives up on a Create after 120 s: stop mkfs before that. */
#define MKFS_TIMEOUT_SEC	110

static void
usage(void)
{
	fprintf(stderr, "volwarden-mkfs-runner is started by the loop helper "
	    "of volwarden; it is not meant to be run by hand.\n");
	exit(2);
}

/* Drop from root to uid with the real gid RUNNER_RGID and effective gid
 * gid; every capability set empty; no_new_privs; not dumpable. */
static void
drop(uid_t uid, gid_t gid)
{
	char err[256];
	FILE *fp;
	char line[256];
	int gid_ok = 0;

	if (uid == 0 || gid == 0)
		fatalx("refusing to run mkfs as root (uid %u gid %u)",
		    (unsigned)uid, (unsigned)gid);
	/* The bounding set first, while CAP_SETPCAP is ours; the ids next,
	 * while CAP_SETUID and CAP_SETGID are; the change of uid from 0
	 * then clears the permitted and effective sets. */
	capng_clear(CAPNG_SELECT_BOUNDS);
	if (capng_apply(CAPNG_SELECT_BOUNDS) < 0)
		fatalx("cannot clear the capability bounding set");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		fatal("prctl(PR_CAP_AMBIENT_CLEAR_ALL)");
	if (setgroups(0, NULL) < 0)
		fatal("setgroups");
	if (setresgid(RUNNER_RGID, gid, gid) < 0)
		fatal("setresgid");
	/* From uid 0 to another: permitted and effective sets are cleared. */
	if (setresuid(uid, uid, uid) < 0)
		fatal("setresuid");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fatal("prctl(PR_SET_NO_NEW_PRIVS)");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fatal("prctl(PR_SET_DUMPABLE)");
	if (vw_verify_privs(uid, (gid_t)-1, 0, err, sizeof(err)) < 0)
		fatalx("privilege drop not verified: %s", err);
	if ((fp = fopen("/proc/self/status", "re")) == NULL)
		fatal("/proc/self/status");
	while (fgets(line, sizeof(line), fp) != NULL) {
		unsigned r, e, s, f;

		if (sscanf(line, "Gid: %u %u %u %u", &r, &e, &s, &f) == 4)
			gid_ok = r == RUNNER_RGID && e == gid && s == gid && f == gid;
		if (strncmp(line, "Groups:", 7) == 0 && strspn(line + 7,
		    " \t\n") != strlen(line + 7))
			fatalx("supplementary groups remain: %s", line);
	}
	fclose(fp);
	if (!gid_ok)
		fatalx("group ids not as set (real %d, effective %u)",
		    RUNNER_RGID, (unsigned)gid);
	if (setuid(0) == 0 || setresgid(0, 0, 0) == 0)
		fatalx("could regain root after dropping privileges");
}

/* Keep the last VW_MKFS_OUT_MAX - 1 bytes that were written. */
struct tail {
	char	buf[VW_MKFS_OUT_MAX];
	size_t	len;
};

static void
tail_add(struct tail *t, const char *p, size_t n)
{
	size_t cap = sizeof(t->buf) - 1;

	if (n >= cap) {
		memcpy(t->buf, p + n - cap, cap);
		t->len = cap;
		return;
	}
	if (t->len + n > cap) {
		size_t drop = t->len + n - cap;

		memmove(t->buf, t->buf + drop, t->len - drop);
		t->len -= drop;
	}
	memcpy(t->buf + t->len, p, n);
	t->len += n;
}

/* The argv of the program for a request (label already checked). */
static int
build_argv(const struct vw_mkfs_req *req, char *label, const char **argv)
{
	int n = 0;

	if (req->op == VW_MKFS_GROW) {
		if (req->fs != VW_FS_EXT4)
			return -1;
		/* Offline, to the size of the (already grown) file; -f:
		 * the file system was cleanly unmounted by the helper. */
		argv[n++] = "resize2fs";
		argv[n++] = "-f";
		argv[n++] = "/proc/self/fd/3";
		argv[n] = NULL;
		return 0;
	}
	if (req->op != VW_MKFS_FORMAT)
		return -1;
	switch (req->fs) {
	case VW_FS_EXT4:
		label[16] = '\0';	/* ext4 labels hold 16 bytes */
		argv[n++] = "mkfs.ext4";
		argv[n++] = "-F";
		argv[n++] = "-q";
		/* The whole size for the volume: no blocks reserved for
		 * root (containers mostly run as root anyway). */
		argv[n++] = "-m";
		argv[n++] = "0";
		argv[n++] = "-L";
		argv[n++] = label;
		/* Root-owned top directory whoever runs mke2fs; no discard
		 * of a fresh sparse file. */
		argv[n++] = "-E";
		argv[n++] = "root_owner=0:0,nodiscard";
		argv[n++] = "/proc/self/fd/3";
		break;
	case VW_FS_XFS:
		label[12] = '\0';	/* xfs labels hold 12 bytes */
		argv[n++] = "mkfs.xfs";
		argv[n++] = "-f";
		argv[n++] = "-q";
		argv[n++] = "-K";	/* no discard */
		argv[n++] = "-L";
		argv[n++] = label;
		argv[n++] = "/proc/self/fd/3";
		break;
	case VW_FS_EROFS:
		argv[n++] = "mkfs.erofs";
		argv[n++] = "-zlz4hc";
		argv[n++] = "--quiet";
		argv[n++] = "/proc/self/fd/3";
		argv[n++] = "/proc/self/fd/4";
		break;
	default:
		return -1;
	}
	argv[n] = NULL;
	return 0;
}

/* Run the program for req on fds; fill rep. */
static void
run_mkfs(const struct vw_mkfs_req *req, const int *fds, int nfd,
    struct vw_mkfs_reply *rep)
{
	static char path_env[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	static char lang_env[] = "LC_ALL=C";
	char *const envp[] = { path_env, lang_env, NULL };
	const char *argv[16];
	char label[VW_NAME_MAX + 1];
	struct tail tail;
	time_t deadline;
	int pfd[2], status, killed = 0;
	pid_t pid;

	memcpy(label, req->label, sizeof(label));
	if (build_argv(req, label, argv) < 0) {
		rep->err = EINVAL;
		return;
	}
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		rep->err = errno;
		return;
	}
	log_debug("running %s for volume %s", argv[0], req->label);
	if ((pid = fork()) < 0) {
		rep->err = errno;
		close(pfd[0]);
		close(pfd[1]);
		return;
	}
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
		int hi[4] = { -1, -1, -1, -1 };

		/* Lift the descriptors out of the way (above 64), then place
		 * them on 0, 1, 2 and 3 (and 4); nothing else stays open. */
		if (in < 0 || (hi[0] = fcntl(in, F_DUPFD_CLOEXEC, 64)) < 0 ||
		    (hi[1] = fcntl(pfd[1], F_DUPFD_CLOEXEC, 64)) < 0 ||
		    (hi[2] = fcntl(fds[0], F_DUPFD_CLOEXEC, 64)) < 0 ||
		    (nfd > 1 && (hi[3] = fcntl(fds[1], F_DUPFD_CLOEXEC, 64)) < 0))
			_exit(126);
		if (dup2(hi[0], 0) < 0 || dup2(hi[1], 1) < 0 || dup2(hi[1], 2) < 0 ||
		    dup2(hi[2], 3) < 0 || (nfd > 1 && dup2(hi[3], 4) < 0))
			_exit(126);
		if (close_range((unsigned)(nfd > 1 ? 5 : 4), ~0U, 0) < 0)
			_exit(126);
		if (signal(SIGPIPE, SIG_DFL) == SIG_ERR)
			_exit(126);
		execvpe(argv[0], (char *const *)(uintptr_t)argv, envp);
		dprintf(2, "cannot execute %s: %s", argv[0], strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	memset(&tail, 0, sizeof(tail));
	deadline = time(NULL) + MKFS_TIMEOUT_SEC;
	for (;;) {
		struct pollfd p = { pfd[0], POLLIN, 0 };
		char buf[4096];
		long left = (long)(deadline - time(NULL));
		ssize_t n;
		int rc;

		if (left <= 0) {
			kill(pid, SIGKILL);
			killed = 1;
			break;
		}
		rc = poll(&p, 1, (int)(left * 1000));
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			break;
		if (rc == 0)
			continue;
		n = read(pfd[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		tail_add(&tail, buf, (size_t)n);
	}
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			fatal("waitpid");
	tail.buf[tail.len] = '\0';
	/* One line for the user's message: newlines become "; ". */
	for (size_t i = 0, o = 0; i <= tail.len && o < sizeof(rep->out) - 1; i++) {
		char c = tail.buf[i];

		if (c == '\n' && i + 1 < tail.len && o + 2 < sizeof(rep->out) - 1) {
			rep->out[o++] = ';';
			rep->out[o++] = ' ';
		} else if (c == '\n' || c == '\0')
			continue;
		else
			rep->out[o++] = (c >= 0x20 && c < 0x7f) ? c : '?';
	}
	if (killed) {
		rep->err = ETIMEDOUT;
		snprintf(rep->out, sizeof(rep->out), "%s did not finish within "
		    "%d s and was killed", argv[0], MKFS_TIMEOUT_SEC);
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		rep->err = 0;
	else {
		rep->err = EIO;
		rep->status = WIFEXITED(status) ? WEXITSTATUS(status) :
		    128 + WTERMSIG(status);
	}
	log_debug("%s for volume %s: status %d", argv[0], req->label,
	    rep->status);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "uid", required_argument, NULL, 'u' },
		{ "gid", required_argument, NULL, 'g' },
		{ "driver", required_argument, NULL, 'D' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "debug", no_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 }
	};
	char procname[96];
	const char *driver = "?";
	long uid = -1, gid = -1;
	int ch, foreground = 0, debug = 0, v;
	socklen_t len = sizeof(v);

	log_init(1, 0);
	if (getsockopt(VW_RUNNER_FD, SOL_SOCKET, SO_TYPE, &v, &len) < 0 ||
	    v != SOCK_SEQPACKET)
		usage();
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'u': uid = strtol(optarg, NULL, 10); break;
		case 'g': gid = strtol(optarg, NULL, 10); break;
		case 'D': driver = optarg; break;
		case 'f': foreground = 1; break;
		case 'd': debug = 1; break;
		default: usage();
		}
	}
	if (optind != argc || uid <= 0 || gid <= 0 || uid > INT_MAX ||
	    gid > INT_MAX)
		usage();
	log_init(foreground, debug);
	snprintf(procname, sizeof(procname), "mkfs-runner %s", driver);
	log_procinit(procname);
	/* Die with the helper; it is our only peer. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) < 0)
		fatal("prctl(PR_SET_PDEATHSIG)");
	if (getppid() == 1)
		fatalx("the helper exited before the runner started");
	if (clearenv() != 0 || setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 1) < 0)
		fatal("environment");
	if (geteuid() != 0)
		fatalx("volwarden-mkfs-runner must be started as root (it drops "
		    "to the volwarden user itself)");
	drop((uid_t)uid, (gid_t)gid);
	{
		/* Tell the helper that the drop worked: its start-up waits
		 * for this, so a runner that cannot run stops the daemon. */
		struct vw_mkfs_reply ready;

		memset(&ready, 0, sizeof(ready));
		ready.magic = VW_MKFS_MAGIC;
		if (vw_mkfs_send(VW_RUNNER_FD, &ready, sizeof(ready), NULL, 0) < 0)
			fatal("greeting the helper");
	}

	for (;;) {
		struct vw_mkfs_req req;
		struct vw_mkfs_reply rep;
		int fds[VW_MKFS_MAXFD], nfd, rc;

		rc = vw_mkfs_recv(VW_RUNNER_FD, &req, sizeof(req), fds, &nfd);
		if (rc == 0)
			return 0;	/* the helper is gone */
		if (rc < 0)
			fatal("receiving from the helper");
		memset(&rep, 0, sizeof(rep));
		rep.magic = VW_MKFS_MAGIC;
		if (req.magic != VW_MKFS_MAGIC ||
		    vw_name_field_valid(req.label, sizeof(req.label)) < 0 ||
		    nfd != (req.fs == VW_FS_EROFS && req.op == VW_MKFS_FORMAT ?
		    2 : 1))
			fatalx("malformed request from the helper");
		run_mkfs(&req, fds, nfd, &rep);
		for (int i = 0; i < nfd; i++)
			close(fds[i]);
		if (vw_mkfs_send(VW_RUNNER_FD, &rep, sizeof(rep), NULL, 0) < 0)
			fatal("answering the helper");
	}
}
