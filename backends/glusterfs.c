/*
 * The glusterfs backend, as the privhelper runs it.  A volume is the
 * directory ROOT/[SUBDIR/]NAME, where ROOT is the FUSE mount of the whole
 * Gluster volume.  The helper itself links no Gluster code and keeps no
 * capability: at start-up (still root) it starts
 *   - the gfapi agent (gluster/agent.c), exec'd as the frontend's user
 *     with no capabilities, which makes, lists, leases and deletes the
 *     directories with glfs_* calls, and
 *   - the FUSE keeper (gluster/keeper.c), which keeps ROOT mounted;
 * then it relays every request to the agent and, for Mount, checks that
 * ROOT really is a FUSE mount and the directory exists beneath it, so
 * that a dead client never yields an empty local directory.
 */
#include "vw-build.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/openat2.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "backends/backend.h"
#include "common/log.h"
#include "common/privdrop.h"
#include "common/validate.h"
#include "gluster/keeper.h"
#include "privhelper/privhelper.h"

#ifndef VW_AGENT_PATH
#define VW_AGENT_PATH "/usr/local/libexec/volwarden-gfapi-agent"
#endif

/* How long the helper waits for one answer of the agent. */
#define AGENT_TIMEOUT_MS	20000

struct gl {
	int		agent_fd;
	pid_t		agent_pid;
	uint64_t	next_id;
	struct gk	keeper;
	char		pidfile[VW_PATH_MAX];
};

static int
fail(struct vw_volume_reply *rep, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct vw_volume_reply *rep, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rep->msg, sizeof(rep->msg), fmt, ap);
	va_end(ap);
	return err;
}

/* The agent beside our own executable (a build tree), else the
 * installed one. */
static void
agent_path(char *out, size_t len)
{
	char self[VW_PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 32);

	if (n > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			strcpy(slash + 1, "volwarden-gfapi-agent");
			if (access(self, X_OK) == 0) {
				snprintf(out, len, "%s", self);
				return;
			}
		}
	}
	snprintf(out, len, "%s", VW_AGENT_PATH);
}

/* Fork and exec the agent as the frontend's user, its channel on fd 3. */
static int
spawn_agent(struct vw_backend_ctx *ctx, struct gl *gl, char *err,
    size_t errlen)
{
	static char path_env[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	char *const envp[] = { path_env, NULL };
	const struct vw_driver *d = ctx->driver;
	const char *argv[96];
	char path[VW_PATH_MAX], ttl[16], parent[24], logfile[VW_PATH_MAX];
	struct passwd *pw;
	int sv[2], na = 0;
	pid_t pid;

	if ((pw = getpwnam(ctx->cfg->user)) == NULL || pw->pw_uid == 0) {
		snprintf(err, errlen, "user %s %s; the gfapi agent runs as it",
		    ctx->cfg->user, pw == NULL ? "does not exist" : "is root");
		return -1;
	}
	agent_path(path, sizeof(path));
	snprintf(ttl, sizeof(ttl), "%u", d->gl.lease_ttl);
	snprintf(parent, sizeof(parent), "%ld", (long)getpid());
	/* gfapi's own log (warnings), in the run directory the agent's
	 * user owns: root never opens it. */
	snprintf(logfile, sizeof(logfile), "%s/gfapi-%s.log", ctx->cfg->run_dir,
	    d->name);
	argv[na++] = path;
	argv[na++] = "--driver-name";
	argv[na++] = d->name;
	argv[na++] = "--volume";
	argv[na++] = d->gl.volume;
	for (size_t i = 0; i < d->gl.nservers && na < 80; i++) {
		argv[na++] = "--server";
		argv[na++] = d->gl.servers[i];
	}
	if (d->gl.subdir != NULL) {
		argv[na++] = "--subdir";
		argv[na++] = d->gl.subdir;
	}
	argv[na++] = "--node";
	argv[na++] = d->gl.node;
	argv[na++] = "--lease-ttl";
	argv[na++] = ttl;
	argv[na++] = "--on-remove";
	argv[na++] = vw_on_remove_name(d->on_remove);
	argv[na++] = "--log-file";
	argv[na++] = logfile;
	argv[na++] = "--parent";
	argv[na++] = parent;
	argv[na++] = "--seccomp";
	argv[na++] = ctx->seccomp_mode;
	if (ctx->foreground)
		argv[na++] = "--foreground";
	if (ctx->debug)
		argv[na++] = "--debug";
	argv[na] = NULL;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) < 0) {
		snprintf(err, errlen, "cannot fork the gfapi agent: %s",
		    strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		if (sv[1] == 3) {
			if (fcntl(3, F_SETFD, 0) < 0)
				_exit(127);
		} else if (dup2(sv[1], 3) < 0)
			_exit(127);
		if (close_range(4, ~0U, 0) < 0)
			_exit(127);
		/* The frontend's user, nothing else (verified; exits on any
		 * failure).  The parent-death signal goes last: a change of
		 * credentials clears it. */
		vw_drop_to_user(pw->pw_uid, pw->pw_gid);
		if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) < 0)
			_exit(127);
		execve(path, (char *const *)(uintptr_t)argv, envp);
		fprintf(stderr, "volwarden: cannot execute %s: %s\n", path,
		    strerror(errno));
		_exit(127);
	}
	close(sv[1]);
	gl->agent_fd = sv[0];
	gl->agent_pid = pid;
	gl->next_id = 1;
	return 0;
}

/* A FUSE mount left at ROOT by an instance that died: detach it, or
 * opening the root fails with ENOTCONN. */
static int
gl_prepare(const struct vw_driver *d, char *err, size_t errlen)
{
	struct statfs sf;

	(void)err;
	(void)errlen;
	if (statfs(d->root, &sf) < 0 && errno == ENOTCONN) {
		log_warnx("detaching the dead Gluster mount at %s", d->root);
		if (umount2(d->root, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
			log_warn("umount2 %s", d->root);
	}
	return 0;
}

static int
gl_init(struct vw_backend_ctx *ctx, char *err, size_t errlen)
{
	const struct vw_driver *d = ctx->driver;
	struct gl *gl = calloc(1, sizeof(*gl));
	char dir[VW_PATH_MAX], *slash;

	if (gl == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	gl->agent_fd = -1;
	/* The FUSE client's pid file beside the admin socket: a directory
	 * that only root may write (the run directory is the frontend
	 * user's, and root must not write through its links). */
	snprintf(dir, sizeof(dir), "%s", ctx->cfg->admin_socket);
	slash = strrchr(dir, '/');
	slash[slash == dir ? 1 : 0] = '\0';
	if (snprintf(gl->pidfile, sizeof(gl->pidfile), "%s/gluster-%s.pid",
	    dir, d->name) >= (int)sizeof(gl->pidfile)) {
		snprintf(err, errlen, "the admin socket's directory %s is too long",
		    dir);
		free(gl);
		return -1;
	}
	if (spawn_agent(ctx, gl, err, errlen) < 0) {
		free(gl);
		return -1;
	}
	if (gk_spawn(d, gl->pidfile, ctx->foreground, ctx->debug, 10000,
	    &gl->keeper, err, errlen) < 0) {
		close(gl->agent_fd);
		free(gl);
		return -1;
	}
	ctx->priv = gl;
	return 0;
}

static void
gl_fini(struct vw_backend_ctx *ctx)
{
	struct gl *gl = ctx->priv;

	if (gl == NULL)
		return;
	/* EOF ends the agent; the keeper unmounts before it exits. */
	close(gl->agent_fd);
	gl->agent_fd = -1;
	if (gk_stop(&gl->keeper) < 0)
		log_warn("waiting for the FUSE keeper");
	free(gl);
	ctx->priv = NULL;
}

/*
 * Send one request to the agent and wait for its reply of rlen bytes.
 * Replies to earlier requests that timed out are skipped.  Returns 0, or
 * ETIMEDOUT with a sentence in msg.  An agent that closed its channel or
 * broke the protocol ends the helper (and so the daemon).
 */
static int
relay(const struct vw_backend_ctx *ctx, uint32_t type, const void *req,
    size_t len, void *reply, size_t rlen, char *msg, size_t msglen)
{
	static _Alignas(8) char buf[VW_MSG_MAX + 1];
	struct gl *gl = ctx->priv;
	uint64_t id = gl->next_id++;
	struct timespec t0, t;

	if (vw_msg_send(gl->agent_fd, type, id, req, len, -1) < 0)
		fatal("sending %s to the gfapi agent", vw_msg_name(type));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd pfd = { gl->agent_fd, POLLIN, 0 };
		struct vw_msg_hdr hdr;
		void *payload;
		long left;
		int rc;

		clock_gettime(CLOCK_MONOTONIC, &t);
		left = AGENT_TIMEOUT_MS - ((t.tv_sec - t0.tv_sec) * 1000 +
		    (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0 || (rc = poll(&pfd, 1, (int)left)) == 0) {
			snprintf(msg, msglen, "the Gluster client (gfapi agent) did "
			    "not answer within %d s: Gluster volume %s on servers "
			    "%s%s hangs; try again later", AGENT_TIMEOUT_MS / 1000,
			    ctx->driver->gl.volume, ctx->driver->gl.servers[0],
			    ctx->driver->gl.nservers > 1 ? ", ..." : "");
			return ETIMEDOUT;
		}
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			fatal("poll on the gfapi agent's channel");
		}
		rc = vw_msg_recv(gl->agent_fd, buf, sizeof(buf), &hdr, &payload,
		    NULL);
		if (rc == 0)
			fatalx("the gfapi agent of driver %s exited (its log line "
			    "above says why)", ctx->driver->name);
		if (rc < 0)
			fatal("receiving from the gfapi agent");
		if (hdr.id < id)
			continue;	/* the late answer to a timed-out request */
		if (hdr.id != id || hdr.type != (type | VW_MSG_REPLY) ||
		    hdr.len != rlen)
			fatalx("protocol violation from the gfapi agent: %s with "
			    "id %llu and length %u", vw_msg_name(hdr.type),
			    (unsigned long long)hdr.id, hdr.len);
		memcpy(reply, payload, rlen);
		return 0;
	}
}

/* Relay a volume request; a reply from the agent is checked like the
 * frontend checks ours. */
static int
relay_volume(const struct vw_backend_ctx *ctx, uint32_t type,
    const struct vw_volume_req *req, struct vw_volume_reply *rep)
{
	int err = relay(ctx, type, req, sizeof(*req), rep, sizeof(*rep),
	    rep->msg, sizeof(rep->msg));

	if (err != 0)
		return err;
	if (rep->err < 0 || memchr(rep->msg, '\0', sizeof(rep->msg)) == NULL ||
	    !vw_utf8_valid(rep->msg, strlen(rep->msg)))
		fatalx("protocol violation from the gfapi agent: a malformed %s "
		    "reply", vw_msg_name(type));
	if (rep->err != 0 && rep->msg[0] == '\0')
		snprintf(rep->msg, sizeof(rep->msg), "%s", strerror(rep->err));
	memset(rep->path, 0, sizeof(rep->path));
	return rep->err;
}

/* The volume's absolute path (ROOT/[SUBDIR/]NAME) and its part below
 * ROOT. */
static int
locate(const struct vw_backend_ctx *ctx, const struct vw_volume_req *req,
    char *abs, size_t len, const char **rel, struct vw_volume_reply *rep)
{
	size_t allowed;

	if (vw_volume_path(ctx->driver, req->name, &req->opts, abs, len,
	    &allowed, rel, rep->msg, sizeof(rep->msg)) < 0)
		return EPERM;
	return 0;
}

static int
gl_create(const struct vw_backend_ctx *ctx, const struct vw_volume_req *req,
    struct vw_volume_reply *rep)
{
	const char *rel;
	int err;

	if ((err = relay_volume(ctx, VW_MSG_VOLUME_CREATE, req, rep)) != 0)
		return err;
	return locate(ctx, req, rep->path, sizeof(rep->path), &rel, rep);
}

static int
gl_remove(const struct vw_backend_ctx *ctx, const struct vw_volume_req *req,
    struct vw_volume_reply *rep)
{
	const char *rel;
	int err;

	if ((err = relay_volume(ctx, VW_MSG_VOLUME_REMOVE, req, rep)) != 0)
		return err;
	return locate(ctx, req, rep->path, sizeof(rep->path), &rel, rep);
}

/*
 * Is ROOT the live FUSE mount, and is the volume's directory there?
 * O_PATH: the helper has no CAP_DAC_READ_SEARCH, and a volume may be
 * mode 0700 for another uid; only search permission on the parents is
 * needed.  No symlink is followed and nothing leaves ROOT.
 */
static int
check_fuse(const struct vw_backend_ctx *ctx, const char *abs, const char *rel,
    const char *name, struct vw_volume_reply *rep)
{
	const struct vw_driver *d = ctx->driver;
	struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
	    RESOLVE_NO_MAGICLINKS };
	struct statfs sf;
	int rfd, fd, err;

	rfd = open(d->root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (rfd < 0 || fstatfs(rfd, &sf) < 0 ||
	    (unsigned long)sf.f_type != VW_FUSE_SUPER_MAGIC) {
		err = rfd < 0 || errno == ENOTCONN ? errno : ENOTCONN;
		if (rfd >= 0)
			close(rfd);
		return fail(rep, err == ENOENT ? ENOTCONN : err, "Gluster volume "
		    "%s is not mounted at %s (%s): its FUSE client is being "
		    "restarted or the servers %s%s are unreachable; try again in "
		    "a moment", d->gl.volume, d->root, rfd < 0 ? strerror(err) :
		    "not a FUSE mount", d->gl.servers[0],
		    d->gl.nservers > 1 ? ", ..." : "");
	}
	fd = (int)syscall(SYS_openat2, rfd, rel, &how, sizeof(how));
	err = errno;
	close(rfd);
	if (fd < 0) {
		if (err == ENOENT)
			return fail(rep, err, "the directory %s of volume %s does "
			    "not exist on the Gluster mount; it is not re-created: "
			    "create the volume again", abs, name);
		if (err == ELOOP || err == EXDEV)
			return fail(rep, err, "the path %s of volume %s contains a "
			    "symbolic link, which is never followed", abs, name);
		return fail(rep, err, "cannot reach %s of volume %s on the Gluster "
		    "mount: %s", abs, name, strerror(err));
	}
	close(fd);
	return 0;
}

static int
gl_mount(const struct vw_backend_ctx *ctx, const struct vw_volume_req *req,
    struct vw_volume_reply *rep)
{
	struct vw_volume_reply *tmp;
	const char *rel;
	int err;

	if ((err = relay_volume(ctx, VW_MSG_VOLUME_MOUNT, req, rep)) != 0 ||
	    (err = locate(ctx, req, rep->path, sizeof(rep->path), &rel,
	    rep)) != 0)
		return err;
	if ((err = check_fuse(ctx, rep->path, rel, req->name, rep)) == 0)
		return 0;
	/* Not usable here: give the lease back. */
	if ((tmp = calloc(1, sizeof(*tmp))) == NULL)
		fatal("calloc");
	(void)relay_volume(ctx, VW_MSG_VOLUME_UNMOUNT, req, tmp);
	free(tmp);
	memset(rep->path, 0, sizeof(rep->path));
	return err;
}

static int
gl_unmount(const struct vw_backend_ctx *ctx, const struct vw_volume_req *req,
    struct vw_volume_reply *rep)
{
	const char *rel;
	int err;

	if ((err = relay_volume(ctx, VW_MSG_VOLUME_UNMOUNT, req, rep)) != 0)
		return err;
	return locate(ctx, req, rep->path, sizeof(rep->path), &rel, rep);
}

static int
gl_status(const struct vw_backend_ctx *ctx, const struct vw_volume_req *req,
    struct vw_status_reply *rep)
{
	const struct vw_driver *d = ctx->driver;
	struct statfs sf;
	int err, live;

	err = relay(ctx, VW_MSG_VOLUME_STATUS, req, sizeof(*req), rep,
	    sizeof(*rep), rep->msg, sizeof(rep->msg));
	if (err != 0) {
		rep->count = 0;
		return err;
	}
	if (rep->err < 0 || rep->count > VW_STATUS_MAX ||
	    memchr(rep->msg, '\0', sizeof(rep->msg)) == NULL)
		fatalx("protocol violation from the gfapi agent: a malformed "
		    "status reply");
	for (uint32_t i = 0; i < rep->count; i++) {
		rep->entries[i].key[sizeof(rep->entries[i].key) - 1] = '\0';
		rep->entries[i].value[sizeof(rep->entries[i].value) - 1] = '\0';
	}
	live = statfs(d->root, &sf) == 0 &&
	    (unsigned long)sf.f_type == VW_FUSE_SUPER_MAGIC;
	if (rep->err == 0 || rep->count < VW_STATUS_MAX)
		(void)vw_status_add(rep, "fuse_mount", "%s %s", d->root,
		    live ? "(mounted)" : "(not mounted: the FUSE client is being "
		    "restarted)");
	return rep->err;
}

static int
gl_scan(const struct vw_backend_ctx *ctx, const struct vw_scan_req *req,
    struct vw_scan_reply *rep)
{
	char why[128];
	int err;

	err = relay(ctx, VW_MSG_VOLUME_SCAN, req, sizeof(*req), rep,
	    sizeof(*rep), rep->msg, sizeof(rep->msg));
	if (err != 0) {
		rep->count = 0;
		return err;
	}
	if (rep->err < 0 || rep->count > VW_SCAN_MAX ||
	    memchr(rep->msg, '\0', sizeof(rep->msg)) == NULL)
		fatalx("protocol violation from the gfapi agent: a malformed "
		    "scan reply");
	for (uint32_t i = 0; i < rep->count; i++)
		if (vw_name_field_valid(rep->entries[i].name,
		    sizeof(rep->entries[i].name)) < 0 ||
		    vw_name_valid(rep->entries[i].name,
		    strlen(rep->entries[i].name), why, sizeof(why)) < 0)
			fatalx("protocol violation from the gfapi agent: an "
			    "invalid volume name in a scan reply");
	return rep->err;
}

const struct vw_backend vw_backend_glusterfs = {
	.name = "glusterfs",
	/* None: the helper only relays to the agent and looks at ROOT,
	 * which root owns; volume directories are checked with O_PATH. */
	.caps = 0,
	.prepare = gl_prepare,
	.init = gl_init,
	.create = gl_create,
	.remove = gl_remove,
	.mount = gl_mount,
	.unmount = gl_unmount,
	.status = gl_status,
	.scan = gl_scan,
	.fini = gl_fini,
};
