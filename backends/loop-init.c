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
#include "common/sanitizers.h"
#include "runner/runner.h"

/*
 * Open the absolute directory path dir one component at a time, never
 * through a symbolic link (O_NOFOLLOW | O_DIRECTORY on each), creating
 * missing ones (0755, the last 0700).  Every component must be root's
 * and writable by nobody else (sticky directories such as /tmp aside):
 * else whoever could write there could swap a component.  Returns the
 * last component's fd and its parent's in *parent, or -1 with a
 * sentence in why.
 */
static int
open_dir_path(const char *dir, int *parent, const char **last, char *why,
    size_t whylen)
{
	char buf[VW_PATH_MAX], *p, *slash;
	int fd, pfd = -1;

	if (dir[0] != '/' || strlen(dir) >= sizeof(buf) || strcmp(dir, "/") == 0) {
		snprintf(why, whylen, "it must be an absolute path below /");
		return -1;
	}
	strcpy(buf, dir);
	if ((fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		snprintf(why, whylen, "cannot open /: %s", strerror(errno));
		return -1;
	}
	for (p = buf + 1; p != NULL && *p != '\0'; p = slash) {
		struct stat st;
		int next, lastc;

		if ((slash = strchr(p, '/')) != NULL)
			*slash++ = '\0';
		lastc = slash == NULL || *slash == '\0';
		if (mkdirat(fd, p, lastc ? 0700 : 0755) < 0 && errno != EEXIST) {
			snprintf(why, whylen, "cannot create %s: %s", p,
			    strerror(errno));
			goto fail;
		}
		next = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (next < 0) {
			snprintf(why, whylen, "cannot open component %s (every "
			    "component must be a directory, not a symbolic "
			    "link): %s", p, strerror(errno));
			goto fail;
		}
		if (fstat(next, &st) < 0 || st.st_uid != 0 ||
		    ((st.st_mode & 022) && !(st.st_mode & S_ISVTX))) {
			snprintf(why, whylen, "component %s must be owned by root "
			    "and writable by nobody else", p);
			close(next);
			goto fail;
		}
		if (pfd >= 0)
			close(pfd);
		pfd = fd;
		fd = next;
		*last = dir + (p - buf);
	}
	*parent = pfd;
	return fd;
fail:
	if (pfd >= 0)
		close(pfd);
	close(fd);
	return -1;
}

/* Is fd the root of a mount (statx STATX_ATTR_MOUNT_ROOT)? */
static int
is_mount_root(int fd)
{
	struct statx sx;

	if (statx(fd, "", AT_EMPTY_PATH, 0, &sx) < 0)
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
 * either way.  The bind and the propagation change act on the directory
 * opened without symbolic links (through /proc/self/fd), not on a path
 * that could lead elsewhere.
 */
static int
setup_mount_dir(struct vw_backend_ctx *ctx, struct loop_state *ls, char *err,
    size_t errlen)
{
	const char *dir = ctx->driver->mount_dir, *last = NULL;
	char why[VW_PATH_MAX + 128], proc[64];
	struct stat st, st2;
	int fd, pfd, rc;

	if ((fd = open_dir_path(dir, &pfd, &last, why, sizeof(why))) < 0)
		return vw_failf(err, errlen, -1, "driver %s: mount_dir %s: %s",
		    ctx->driver->name, dir, why);
	if (fstat(fd, &st) < 0 || st.st_uid != 0 || (st.st_mode & 077)) {
		close(fd);
		close(pfd);
		return vw_failf(err, errlen, -1, "driver %s: mount_dir %s must be owned by "
		    "root with mode 0700 (chown root %s; chmod 0700 %s)",
		    ctx->driver->name, dir, dir, dir);
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if ((rc = is_mount_root(fd)) < 0 ||
	    (rc == 0 && mount(proc, proc, NULL, MS_BIND, NULL) < 0)) {
		rc = errno;
		close(fd);
		close(pfd);
		return vw_failf(err, errlen, -1, "driver %s: cannot bind-mount mount_dir "
		    "%s onto itself: %s", ctx->driver->name, dir, strerror(rc));
	}
	close(fd);
	/* Opened again from its parent: this walk enters the bind mount;
	 * an fd from before would reach the directory underneath it. */
	ls->mnt_fd = openat(pfd, last, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	rc = errno;
	close(pfd);
	if (ls->mnt_fd < 0)
		return vw_failf(err, errlen, -1, "driver %s: cannot open mount_dir %s: %s",
		    ctx->driver->name, dir, strerror(rc));
	if (fstat(ls->mnt_fd, &st2) < 0 || st2.st_dev != st.st_dev ||
	    st2.st_ino != st.st_ino || is_mount_root(ls->mnt_fd) != 1)
		return vw_failf(err, errlen, -1, "driver %s: mount_dir %s changed while it "
		    "was set up; start again", ctx->driver->name, dir);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", ls->mnt_fd);
	if (mount(NULL, proc, NULL, MS_SHARED, NULL) < 0)
		return vw_failf(err, errlen, -1, "driver %s: cannot make mount_dir %s a "
		    "shared mount: %s", ctx->driver->name, dir, strerror(errno));
	return 0;
}

/*
 * A Create's trial mount (LOOP_TRIAL_DIR) left by a helper killed during
 * it: the image is an unnamed file that only that mount keeps, on a loop
 * device that autoclear frees once the mount is gone.  Unmount it (every
 * mount stacked there) and remove the directory.
 */
static void
remove_trial_mount(const struct vw_backend_ctx *ctx, struct loop_state *ls)
{
	char path[64];
	struct stat base, st;

	snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", ls->mnt_fd,
	    LOOP_TRIAL_DIR);
	for (int i = 0; i < 8; i++) {
		int fd = openat(ls->mnt_fd, LOOP_TRIAL_DIR, O_RDONLY |
		    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (fd < 0)
			return;
		if (fstat(ls->mnt_fd, &base) < 0 || fstat(fd, &st) < 0 ||
		    st.st_dev == base.st_dev) {
			close(fd);
			break;
		}
		close(fd);
		if (umount2(path, UMOUNT_NOFOLLOW | MNT_DETACH) < 0) {
			log_warn("driver %s: unmounting the unfinished Create at "
			    "%s/%s", ctx->driver->name, ctx->driver->mount_dir,
			    LOOP_TRIAL_DIR);
			return;
		}
		log_info("driver %s: removed the mount of an unfinished Create at "
		    "%s/%s", ctx->driver->name, ctx->driver->mount_dir,
		    LOOP_TRIAL_DIR);
	}
	if (unlinkat(ls->mnt_fd, LOOP_TRIAL_DIR, AT_REMOVEDIR) < 0 &&
	    errno != ENOENT)
		log_warn("driver %s: removing %s/%s", ctx->driver->name,
		    ctx->driver->mount_dir, LOOP_TRIAL_DIR);
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
	char *envp[1 + VW_SAN_ENV_MAX + 1] = { path_env };
	char exe[VW_PATH_MAX], uid[16], gid[16];
	const char *argv[16];
	struct passwd *pw;
	int sv[2], n = 0;
	pid_t pid;

	if ((pw = getpwnam(ctx->user)) == NULL || pw->pw_uid == 0)
		return vw_failf(err, errlen, -1, "driver %s: user %s (for running mkfs) "
		    "does not exist or is root", ctx->driver->name, ctx->user);
	ls->uid = pw->pw_uid;
	ls->gid = pw->pw_gid;
	ls->user = ctx->user;
	if (runner_path(exe, sizeof(exe)) < 0 || access(exe, X_OK) < 0)
		return vw_failf(err, errlen, -1, "driver %s: cannot find "
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
	/* PATH, and a sanitizer build's settings. */
	(void)vw_san_env(envp, 1);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return vw_failf(err, errlen, -1, "socketpair: %s", strerror(errno));
	if ((pid = fork()) < 0)
		return vw_failf(err, errlen, -1, "fork: %s", strerror(errno));
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
			return vw_failf(err, errlen, -1, "driver %s: the mkfs runner did "
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
		return vw_failf(err, errlen, -1, "out of memory");
	ls->control_fd = ls->mnt_fd = ls->runner_fd = -1;
	ctx->priv = ls;
	ls->control_fd = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ls->control_fd < 0)
		return vw_failf(err, errlen, -1, "driver %s (backend loop): cannot open "
		    "/dev/loop-control: %s (is the loop module loaded?)",
		    ctx->driver->name, strerror(errno));
	if (setup_mount_dir(ctx, ls, err, errlen) < 0)
		return -1;
	remove_trial_mount(ctx, ls);
	detach_leftovers(ctx);
	return start_runner(ctx, ls, err, errlen);
}
