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

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
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
#include <sys/wait.h>
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
	int		mnt_fd;		/* mount_dir, after its self-bind */
};

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
	int sv[2], ep[2], na = 0, e = 0;
	ssize_t n;
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
	/* The child's execve errno comes back on ep; a successful execve
	 * closes it (close-on-exec), and the parent reads EOF. */
	if (pipe2(ep, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if ((pid = fork()) < 0) {
		snprintf(err, errlen, "cannot fork the gfapi agent: %s",
		    strerror(errno));
		close(sv[0]);
		close(sv[1]);
		close(ep[0]);
		close(ep[1]);
		return -1;
	}
	if (pid == 0) {
		int hs, he;

		/* The channel on fd 3 (inherited), the error pipe on fd 4
		 * (close-on-exec); nothing else.  Lifted above both first,
		 * so that neither overwrites the other. */
		if ((hs = fcntl(sv[1], F_DUPFD_CLOEXEC, 10)) < 0 ||
		    (he = fcntl(ep[1], F_DUPFD_CLOEXEC, 10)) < 0 ||
		    dup2(hs, 3) < 0 || dup3(he, 4, O_CLOEXEC) < 0 ||
		    close_range(5, ~0U, 0) < 0)
			_exit(127);
		/* The frontend's user, nothing else (verified; exits on any
		 * failure).  The parent-death signal goes last: a change of
		 * credentials clears it. */
		vw_drop_to_user(pw->pw_uid, pw->pw_gid);
		if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) < 0)
			_exit(127);
		execve(path, (char *const *)(uintptr_t)argv, envp);
		e = errno;
		(void)!write(4, &e, sizeof(e));
		_exit(127);
	}
	close(sv[1]);
	close(ep[1]);
	do
		n = read(ep[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(ep[0]);
	if (n != 0) {
		/* The agent runs as the frontend's user: a build tree under a
		 * mode 0700 directory (a home, mktemp -d) is out of its
		 * reach although root can run everything else there. */
		snprintf(err, errlen, "driver %s: cannot execute the gfapi agent "
		    "%s as user %s: %s; that user needs search permission on "
		    "every directory above it and execute permission on the "
		    "file", d->name, path, pw->pw_name,
		    n == (ssize_t)sizeof(e) ? strerror(e) : "no answer");
		close(sv[0]);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return -1;
	}
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

static int unbind(const struct gl *, const char *, const char *);

/* mkdir -p with mode 0700 for what is made (root's directories). */
static int
make_path(const char *path)
{
	char buf[VW_PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *p = buf + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -1;
		if ((*p = c) == '\0')
			return 0;
	}
}

/*
 * The mount directory (root's, mode 0700): bound onto itself and made
 * MS_SHARED, so that the copies of our binds in containers' mount
 * namespaces (runc makes them slaves) hear of our unmounts, as for loop
 * (doc/design.md 9b).  Then every bind a previous instance left there is
 * detached: its FUSE client died with that instance's keeper, containers
 * keep their own copies, and the frontend mounts the volumes that its
 * counts say are in use again at start-up (fe_gluster_start).
 */
static int
setup_mount_dir(struct vw_backend_ctx *ctx, struct gl *gl, char *err,
    size_t errlen)
{
	const struct vw_driver *d = ctx->driver;
	const char *dir = d->mount_dir;
	struct statx stx;
	struct stat st;
	struct dirent *de;
	DIR *dp;
	int dfd;

	if (make_path(dir) < 0) {
		snprintf(err, errlen, "driver %s: cannot create mount_dir %s: %s",
		    d->name, dir, strerror(errno));
		return -1;
	}
	if (statx(AT_FDCWD, dir, AT_SYMLINK_NOFOLLOW, 0, &stx) < 0) {
		snprintf(err, errlen, "driver %s: cannot check mount_dir %s: %s",
		    d->name, dir, strerror(errno));
		return -1;
	}
	if (!(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) ||
	    !(stx.stx_attributes & STATX_ATTR_MOUNT_ROOT)) {
		if (mount(dir, dir, NULL, MS_BIND, NULL) < 0) {
			snprintf(err, errlen, "driver %s: cannot bind-mount "
			    "mount_dir %s onto itself: %s", d->name, dir,
			    strerror(errno));
			return -1;
		}
	}
	if (mount(NULL, dir, NULL, MS_SHARED, NULL) < 0) {
		snprintf(err, errlen, "driver %s: cannot make mount_dir %s a "
		    "shared mount: %s", d->name, dir, strerror(errno));
		return -1;
	}
	/* Opened after the bind mount: an fd from before would reach the
	 * directory underneath it. */
	gl->mnt_fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (gl->mnt_fd < 0 || fstat(gl->mnt_fd, &st) < 0) {
		snprintf(err, errlen, "driver %s: cannot open mount_dir %s (it "
		    "must be a directory, not a symbolic link): %s", d->name, dir,
		    strerror(errno));
		return -1;
	}
	if (st.st_uid != 0 || (st.st_mode & 077)) {
		snprintf(err, errlen, "driver %s: mount_dir %s must be owned by "
		    "root with mode 0700 (chown root %s; chmod 0700 %s)", d->name,
		    dir, dir, dir);
		return -1;
	}
	if ((dfd = dup(gl->mnt_fd)) < 0 || (dp = fdopendir(dfd)) == NULL) {
		snprintf(err, errlen, "driver %s: cannot read mount_dir %s: %s",
		    d->name, dir, strerror(errno));
		if (dfd >= 0)
			close(dfd);
		return -1;
	}
	while ((de = readdir(dp)) != NULL) {
		int e;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if ((e = unbind(gl, dir, de->d_name)) != 0)
			log_warnx("driver %s: cannot clear %s/%s left by a previous "
			    "instance: %s", d->name, dir, de->d_name, strerror(e));
		else
			log_debug("driver %s: cleared %s/%s", d->name, dir,
			    de->d_name);
	}
	closedir(dp);
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
	gl->mnt_fd = -1;
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
	if (setup_mount_dir(ctx, gl, err, errlen) < 0) {
		if (gl->mnt_fd >= 0)
			close(gl->mnt_fd);
		free(gl);
		return -1;
	}
	if (spawn_agent(ctx, gl, err, errlen) < 0) {
		close(gl->mnt_fd);
		free(gl);
		return -1;
	}
	if (gk_spawn(d, gl->pidfile, ctx->foreground, ctx->debug, 10000,
	    &gl->keeper, err, errlen) < 0) {
		close(gl->agent_fd);
		close(gl->mnt_fd);
		free(gl);
		return -1;
	}
	ctx->priv = gl;
	return 0;
}

static int
gl_fini(struct vw_backend_ctx *ctx)
{
	struct gl *gl = ctx->priv;

	if (gl == NULL)
		return 0;
	/* EOF ends the agent; the keeper unmounts before it exits. */
	close(gl->agent_fd);
	gl->agent_fd = -1;
	if (gk_stop(&gl->keeper) < 0)
		log_warn("waiting for the FUSE keeper");
	/* The binds stay: running containers use them, and the next
	 * start-up clears them (setup_mount_dir). */
	close(gl->mnt_fd);
	free(gl);
	ctx->priv = NULL;
	return 0;
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

/* Where containers see the volume: MOUNT_DIR/NAME (vw_volume_path). */
static int
locate(const struct vw_backend_ctx *ctx, const struct vw_volume_req *req,
    char *abs, size_t len, struct vw_volume_reply *rep)
{
	size_t allowed;
	const char *rel;

	if (vw_volume_path(ctx->driver, req->name, &req->opts, abs, len,
	    &allowed, &rel, rep->msg, sizeof(rep->msg)) < 0)
		return EPERM;
	return 0;
}

/* The volume's directory on the FUSE mount, ROOT/[SUBDIR/]NAME, and its
 * part below ROOT. */
static int
source_path(const struct vw_driver *d, const char *name, char *abs,
    size_t len, const char **rel, struct vw_volume_reply *rep)
{
	int n = d->gl.subdir != NULL ? snprintf(abs, len, "%s/%s/%s", d->root,
	    d->gl.subdir, name) : snprintf(abs, len, "%s/%s", d->root, name);

	if (n < 0 || (size_t)n >= len)
		return VW_FAIL(rep, ENAMETOOLONG, "the path of volume %s under %s "
		    "is too long", name, d->root);
	*rel = abs + strlen(d->root) + 1;
	return 0;
}

static int
gl_create(const struct vw_backend_ctx *ctx, const struct vw_volume_req *req,
    struct vw_volume_reply *rep)
{
	int err;

	if ((err = relay_volume(ctx, VW_MSG_VOLUME_CREATE, req, rep)) != 0)
		return err;
	return locate(ctx, req, rep->path, sizeof(rep->path), rep);
}

static int
gl_remove(const struct vw_backend_ctx *ctx, const struct vw_volume_req *req,
    struct vw_volume_reply *rep)
{
	int err;

	if ((err = relay_volume(ctx, VW_MSG_VOLUME_REMOVE, req, rep)) != 0)
		return err;
	return locate(ctx, req, rep->path, sizeof(rep->path), rep);
}

/*
 * Is ROOT the live FUSE mount, and is the volume's directory there?
 * Returns 0 with *out an O_PATH descriptor of that directory, or an
 * errno with a sentence in rep->msg.  O_PATH: the helper has no
 * CAP_DAC_READ_SEARCH, and a volume may be mode 0700 for another uid;
 * only search permission on the parents is needed.  No symlink is
 * followed, nothing leaves ROOT and no mount below it is crossed: the
 * directory is on the Gluster volume, never a host path.
 */
static int
check_fuse(const struct vw_backend_ctx *ctx, const char *name, int *out,
    struct vw_volume_reply *rep)
{
	const struct vw_driver *d = ctx->driver;
	struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
	    RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV };
	char abs[VW_PATH_MAX];
	const char *rel = NULL;
	struct statfs sf;
	int rfd, fd, err;

	*out = -1;
	if ((err = source_path(d, name, abs, sizeof(abs), &rel, rep)) != 0)
		return err;
	rfd = open(d->root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (rfd < 0 || fstatfs(rfd, &sf) < 0 ||
	    (unsigned long)sf.f_type != VW_FUSE_SUPER_MAGIC) {
		err = rfd < 0 || errno == ENOTCONN ? errno : ENOTCONN;
		if (rfd >= 0)
			close(rfd);
		return VW_FAIL(rep, err == ENOENT ? ENOTCONN : err, "Gluster volume "
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
			return VW_FAIL(rep, err, "the directory %s of volume %s does "
			    "not exist on the Gluster mount; it is not re-created: "
			    "create the volume again", abs, name);
		if (err == ELOOP || err == EXDEV)
			return VW_FAIL(rep, err, "the path %s of volume %s contains a "
			    "symbolic link or a mount point, which is never "
			    "followed", abs, name);
		return VW_FAIL(rep, err, "cannot reach %s of volume %s on the Gluster "
		    "mount: %s", abs, name, strerror(err));
	}
	*out = fd;
	return 0;
}

/* Detach every mount stacked at MOUNT_DIR/NAME and remove the directory
 * (so that a Docker bind of an unmounted volume fails instead of writing
 * to MOUNT_DIR).  MNT_DETACH: a bind of a dead FUSE client cannot be
 * unmounted otherwise, and containers hold their own copies.  Returns 0
 * or an errno. */
static int
unbind(const struct gl *gl, const char *dir, const char *name)
{
	char path[VW_PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path))
		return ENAMETOOLONG;
	for (int i = 0; i < 64; i++)
		if (umount2(path, UMOUNT_NOFOLLOW | MNT_DETACH) < 0) {
			if (errno == EINVAL || errno == ENOENT)
				break;	/* nothing (more) mounted there */
			return errno;
		}
	if (unlinkat(gl->mnt_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return errno;
	return 0;
}

/* Is the O_PATH descriptor fd the live bind of the directory src? */
static int
same_dir(int fd, const struct stat *src)
{
	struct stat st;
	struct statfs sf;

	return fstat(fd, &st) == 0 && st.st_dev == src->st_dev &&
	    st.st_ino == src->st_ino && fstatfs(fd, &sf) == 0 &&
	    (unsigned long)sf.f_type == VW_FUSE_SUPER_MAGIC;
}

/*
 * Bind the checked directory (src, an O_PATH descriptor from
 * check_fuse) onto MOUNT_DIR/NAME, the path Docker gets.  The source is
 * /proc/self/fd/N, so the kernel binds that very directory: a Gluster
 * client that swaps the name on the volume for a symbolic link after
 * the check changes nothing.  MOUNT_DIR is root's (0700), so nobody
 * else can change the target.  Idempotent: a live bind of the same
 * directory stays; a stale one (a dead FUSE client, a replaced
 * directory) is detached and bound again.  Returns 0 or an errno with a
 * sentence in rep->msg.
 */
static int
bind_volume(const struct vw_backend_ctx *ctx, const char *name, int src,
    struct vw_volume_reply *rep)
{
	const struct gl *gl = ctx->priv;
	const char *dir = ctx->driver->mount_dir;
	char from[32], to[32];
	struct stat sst;
	int tfd, err;

	if (fstat(src, &sst) < 0)
		return VW_FAIL(rep, errno, "cannot stat the directory of volume %s "
		    "on the Gluster mount: %s", name, strerror(errno));
	tfd = openat(gl->mnt_fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (tfd >= 0 && same_dir(tfd, &sst)) {
		close(tfd);
		return 0;
	}
	if (tfd >= 0)
		close(tfd);
	if ((err = unbind(gl, dir, name)) != 0)
		return VW_FAIL(rep, err, "cannot clear %s/%s for volume %s: %s", dir,
		    name, name, strerror(err));
	if (mkdirat(gl->mnt_fd, name, 0700) < 0 ||
	    (tfd = openat(gl->mnt_fd, name, O_PATH | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) < 0)
		return VW_FAIL(rep, errno, "cannot make the mount directory %s/%s "
		    "of volume %s: %s", dir, name, name, strerror(errno));
	snprintf(from, sizeof(from), "/proc/self/fd/%d", src);
	snprintf(to, sizeof(to), "/proc/self/fd/%d", tfd);
	if (mount(from, to, NULL, MS_BIND, NULL) < 0) {
		err = errno;
		close(tfd);
		(void)unbind(gl, dir, name);
		return VW_FAIL(rep, err, "cannot bind-mount the directory of volume "
		    "%s at %s/%s: %s", name, dir, name, strerror(err));
	}
	close(tfd);
	/* Check what is there now, through a fresh descriptor. */
	tfd = openat(gl->mnt_fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (tfd < 0 || !same_dir(tfd, &sst)) {
		if (tfd >= 0)
			close(tfd);
		(void)unbind(gl, dir, name);
		return VW_FAIL(rep, EIO, "the bind mount of volume %s at %s/%s does "
		    "not show its Gluster directory; not used", name, dir, name);
	}
	close(tfd);
	return 0;
}

static int
gl_mount(const struct vw_backend_ctx *ctx, const struct vw_volume_req *req,
    struct vw_volume_reply *rep)
{
	struct vw_volume_reply *tmp;
	int err, fd;

	if ((err = relay_volume(ctx, VW_MSG_VOLUME_MOUNT, req, rep)) != 0 ||
	    (err = locate(ctx, req, rep->path, sizeof(rep->path), rep)) != 0)
		return err;
	if ((err = check_fuse(ctx, req->name, &fd, rep)) == 0) {
		err = bind_volume(ctx, req->name, fd, rep);
		close(fd);
		if (err == 0)
			return 0;
	}
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
	int err;

	/* The local bind first: it goes even when the servers are away
	 * (the lease then expires by itself). */
	if ((err = unbind(ctx->priv, ctx->driver->mount_dir, req->name)) != 0)
		return VW_FAIL(rep, err, "cannot unmount %s/%s of volume %s: %s",
		    ctx->driver->mount_dir, req->name, req->name, strerror(err));
	if ((err = relay_volume(ctx, VW_MSG_VOLUME_UNMOUNT, req, rep)) != 0)
		return err;
	return locate(ctx, req, rep->path, sizeof(rep->path), rep);
}

/*
 * Binds of a FUSE client that died (the keeper has mounted a new one):
 * bind the volume again from the new mount, so that containers started
 * from now on see it.  Called with each fresh listing (every
 * VW_SCAN_INTERVAL s), between requests.
 */
static void
rebind_dead(const struct vw_backend_ctx *ctx)
{
	const struct gl *gl = ctx->priv;
	struct vw_volume_reply *rep;
	struct dirent *de;
	struct statfs sf;
	DIR *dp;
	int dfd, fd;

	if ((dfd = openat(gl->mnt_fd, ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0 || (dp = fdopendir(dfd)) == NULL) {
		if (dfd >= 0)
			close(dfd);
		return;
	}
	if ((rep = calloc(1, sizeof(*rep))) == NULL)
		fatal("calloc");
	while ((de = readdir(dp)) != NULL) {
		char why[128];

		if (de->d_name[0] == '.' || vw_name_valid(de->d_name,
		    strlen(de->d_name), why, sizeof(why)) < 0)
			continue;
		fd = openat(gl->mnt_fd, de->d_name, O_PATH | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 ? errno != ENOTCONN :
		    fstatfs(fd, &sf) == 0 || errno != ENOTCONN) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		if (fd >= 0)
			close(fd);
		if (check_fuse(ctx, de->d_name, &fd, rep) == 0) {
			if (bind_volume(ctx, de->d_name, fd, rep) == 0)
				log_info("volume %s: bound again at %s/%s after "
				    "the FUSE client was restarted", de->d_name,
				    ctx->driver->mount_dir, de->d_name);
			else
				log_warnx("volume %s: %s", de->d_name, rep->msg);
			close(fd);
		} else
			log_warnx("volume %s: its bind of a dead FUSE client stays "
			    "until the next Mount: %s", de->d_name, rep->msg);
	}
	closedir(dp);
	free(rep);
}

/* The agent's status text: msg, keys ([a-z0-9_]+) and values all
 * terminated and valid UTF-8. */
static int
status_text_ok(const struct vw_status_reply *rep)
{
	if (!vw_utf8_valid(rep->msg, strlen(rep->msg)))
		return 0;
	for (uint32_t i = 0; i < rep->count; i++) {
		const struct vw_status_entry *e = &rep->entries[i];
		size_t n = strnlen(e->key, sizeof(e->key));

		if (n == 0 || n == sizeof(e->key) ||
		    strspn(e->key, "abcdefghijklmnopqrstuvwxyz0123456789_") != n ||
		    memchr(e->value, '\0', sizeof(e->value)) == NULL ||
		    !vw_utf8_valid(e->value, strlen(e->value)))
			return 0;
	}
	return 1;
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
	/* The text is checked like relay_volume checks a reply's, but a
	 * status is only informational: a bad one becomes an error the
	 * user sees in the Status map, never the end of the daemon. */
	if (!status_text_ok(rep)) {
		log_warnx("volume %s: the gfapi agent sent a status with a "
		    "malformed key or a value that is not UTF-8; not shown",
		    req->name);
		memset(rep, 0, sizeof(*rep));
		snprintf(rep->msg, sizeof(rep->msg), "the backend sent an "
		    "unreadable status (the gfapi agent of driver %s; see the "
		    "log)", d->name);
		return EPROTO;
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

	if (req->offset == 0)
		rebind_dead(ctx);
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
	/* CAP_SYS_ADMIN only, for the bind mounts at MOUNT_DIR/NAME
	 * (seccomp: mount with exactly MS_BIND, umount2 with
	 * UMOUNT_NOFOLLOW | MNT_DETACH).  Volume directories are checked
	 * with O_PATH, so no DAC capability. */
	.caps = 1ULL << CAP_SYS_ADMIN,
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
