/*
 * Start-up of a loop driver's helper, while it is still root with every
 * capability and no seccomp filter: the loop control device, the mount
 * directory and its propagation, leftovers of a previous run, and the
 * mkfs runner.  Nothing here runs after the sandbox is in place.
 */
#include "vw-build.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "backends/loop.h"
#include "common/log.h"
#include "runner/runner.h"

static int
errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* mkdir -p with 0755 parents and a 0700 last component. */
static int
make_path(const char *path)
{
	char buf[VW_PATH_MAX];

	if (strlen(path) >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(buf, path);
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(buf, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

/* Is path the root of a mount (statx STATX_ATTR_MOUNT_ROOT)? */
static int
is_mount_root(const char *path)
{
	struct statx sx;

	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, 0, &sx) < 0)
		return -1;
	if (!(sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)) {
		errno = ENOTSUP;
		return -1;
	}
	return (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
}

/*
 * The mount directory: 0700, root's, and a shared mount point of its own.
 * A container's mount namespace is a copy of the host's taken when it
 * starts; runc then makes it a slave.  If the directory were private, a
 * container started while volume A is mounted would keep its own copy of
 * A's mount after the last Unmount, and with it A's loop device, for as
 * long as it runs.  As a shared mount, the copy is a slave of ours and
 * our unmount reaches it.  dockerd in the host namespace sees every mount
 * either way.
 */
static int
setup_mount_dir(struct vw_backend_ctx *ctx, struct loop_state *ls, char *err,
    size_t errlen)
{
	const char *dir = ctx->driver->mount_dir;
	struct stat st;
	int rc;

	if (make_path(dir) < 0)
		return errf(err, errlen, "driver %s: cannot create mount_dir %s: "
		    "%s", ctx->driver->name, dir, strerror(errno));
	if ((rc = is_mount_root(dir)) < 0)
		return errf(err, errlen, "driver %s: cannot check mount_dir %s: %s",
		    ctx->driver->name, dir, strerror(errno));
	if (rc == 0 && mount(dir, dir, NULL, MS_BIND, NULL) < 0)
		return errf(err, errlen, "driver %s: cannot bind-mount mount_dir "
		    "%s onto itself: %s", ctx->driver->name, dir, strerror(errno));
	if (mount(NULL, dir, NULL, MS_SHARED, NULL) < 0)
		return errf(err, errlen, "driver %s: cannot make mount_dir %s a "
		    "shared mount: %s", ctx->driver->name, dir, strerror(errno));
	/* Opened after the bind mount: an fd from before would reach the
	 * directory underneath it. */
	ls->mnt_fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (ls->mnt_fd < 0 || fstat(ls->mnt_fd, &st) < 0)
		return errf(err, errlen, "driver %s: cannot open mount_dir %s (it "
		    "must be a directory, not a symbolic link): %s",
		    ctx->driver->name, dir, strerror(errno));
	if (st.st_uid != 0 || (st.st_mode & 077))
		return errf(err, errlen, "driver %s: mount_dir %s must be owned by "
		    "root with mode 0700 (chown root %s; chmod 0700 %s)",
		    ctx->driver->name, dir, dir, dir);
	return 0;
}

/* Is the block device maj:min the source of any mount we can see? */
static int
dev_mounted(unsigned maj, unsigned min)
{
	char line[4096], want[32];
	FILE *fp = fopen("/proc/self/mountinfo", "re");
	int hit = 0;

	if (fp == NULL)
		return 1;	/* unsure: leave it alone */
	snprintf(want, sizeof(want), " %u:%u ", maj, min);
	while (!hit && fgets(line, sizeof(line), fp) != NULL)
		hit = strstr(line, want) != NULL;
	fclose(fp);
	return hit;
}

/*
 * Loop devices left attached to this root's images with nothing mounted
 * on them (a helper killed between LOOP_CONFIGURE and mount whose device
 * autoclear did not catch): detach them.  Mounted ones belong to running
 * containers and stay; the frontend reconciles those with its counts.
 */
static void
detach_leftovers(const struct vw_backend_ctx *ctx)
{
	const char *root = ctx->driver->root;
	size_t rl = strlen(root);
	DIR *d = opendir("/sys/block");
	struct dirent *de;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char path[300], back[VW_PATH_MAX], dev[300];
		unsigned n;
		ssize_t len;
		int fd;

		if (sscanf(de->d_name, "loop%u", &n) != 1)
			continue;
		snprintf(path, sizeof(path), "/sys/block/%s/loop/backing_file",
		    de->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;	/* not attached */
		len = read(fd, back, sizeof(back) - 1);
		close(fd);
		if (len <= 0)
			continue;
		back[len] = '\0';
		back[strcspn(back, "\n")] = '\0';
		if (strncmp(back, root, rl) != 0 || back[rl] != '/' ||
		    strchr(back + rl + 1, '/') != NULL ||
		    (strstr(back + rl, ".img") == NULL))
			continue;
		if (dev_mounted(7, n))
			continue;
		snprintf(dev, sizeof(dev), "/dev/%s", de->d_name);
		if ((fd = open(dev, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		if (ioctl(fd, LOOP_CLR_FD) == 0)
			log_info("detached %s (%s), which nothing mounted", dev, back);
		close(fd);
	}
	closedir(d);
}

/* The runner beside our own executable (build tree or libexec). */
static int
runner_path(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 32);
	char *slash;

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if ((slash = strrchr(buf, '/')) == NULL)
		return -1;
	strcpy(slash + 1, "volwarden-mkfs-runner");
	return 0;
}

static int
start_runner(struct vw_backend_ctx *ctx, struct loop_state *ls, char *err,
    size_t errlen)
{
	static char path_env[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	char *const envp[] = { path_env, NULL };
	char exe[VW_PATH_MAX], uid[16], gid[16];
	const char *argv[16];
	struct passwd *pw;
	int sv[2], n = 0;
	pid_t pid;

	if ((pw = getpwnam(ctx->user)) == NULL || pw->pw_uid == 0)
		return errf(err, errlen, "driver %s: user %s (for running mkfs) "
		    "does not exist or is root", ctx->driver->name, ctx->user);
	ls->uid = pw->pw_uid;
	ls->gid = pw->pw_gid;
	ls->user = ctx->user;
	if (runner_path(exe, sizeof(exe)) < 0 || access(exe, X_OK) < 0)
		return errf(err, errlen, "driver %s: cannot find "
		    "volwarden-mkfs-runner beside the helper (%s)",
		    ctx->driver->name, exe);
	snprintf(uid, sizeof(uid), "%u", (unsigned)pw->pw_uid);
	snprintf(gid, sizeof(gid), "%u", (unsigned)pw->pw_gid);
	argv[n++] = exe;
	argv[n++] = "--uid";
	argv[n++] = uid;
	argv[n++] = "--gid";
	argv[n++] = gid;
	argv[n++] = "--driver";
	argv[n++] = ctx->driver->name;
	if (log_foreground_enabled())
		argv[n++] = "--foreground";
	if (log_debug_enabled())
		argv[n++] = "--debug";
	argv[n] = NULL;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return errf(err, errlen, "socketpair: %s", strerror(errno));
	if ((pid = fork()) < 0)
		return errf(err, errlen, "fork: %s", strerror(errno));
	if (pid == 0) {
		if (sv[1] == VW_RUNNER_FD) {
			if (fcntl(sv[1], F_SETFD, 0) < 0)
				_exit(127);
		} else if (dup2(sv[1], VW_RUNNER_FD) < 0)
			_exit(127);
		if (close_range(VW_RUNNER_FD + 1, ~0U, 0) < 0)
			_exit(127);
		execve(exe, (char *const *)(uintptr_t)argv, envp);
		_exit(127);
	}
	close(sv[1]);
	ls->runner_fd = sv[0];
	ls->runner_pid = pid;
	/* Wait for its greeting: it has dropped to the user, or it exits
	 * (its log line says why) and so does this start. */
	{
		struct vw_mkfs_reply ready;
		struct pollfd p = { sv[0], POLLIN, 0 };
		int fds[VW_MKFS_MAXFD], nfd;

		if (poll(&p, 1, 10000) != 1 || vw_mkfs_recv(sv[0], &ready,
		    sizeof(ready), fds, &nfd) != 1 || nfd != 0 ||
		    ready.magic != VW_MKFS_MAGIC || ready.err != 0)
			return errf(err, errlen, "driver %s: the mkfs runner did "
			    "not start (see its log line)", ctx->driver->name);
	}
	log_debug("mkfs runner pid %d as %s", (int)pid, ctx->user);
	return 0;
}

int
loop_init(struct vw_backend_ctx *ctx, char *err, size_t errlen)
{
	struct loop_state *ls = calloc(1, sizeof(*ls));

	if (ls == NULL)
		return errf(err, errlen, "out of memory");
	ls->control_fd = ls->mnt_fd = ls->runner_fd = -1;
	ctx->priv = ls;
	ls->control_fd = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ls->control_fd < 0)
		return errf(err, errlen, "driver %s (backend loop): cannot open "
		    "/dev/loop-control: %s (is the loop module loaded?)",
		    ctx->driver->name, strerror(errno));
	if (setup_mount_dir(ctx, ls, err, errlen) < 0)
		return -1;
	detach_leftovers(ctx);
	return start_runner(ctx, ls, err, errlen);
}
