/*
 * The loop backend: a volume is the image file ROOT/NAME.img, attached to
 * a loop device and mounted at MOUNT_DIR/NAME while containers use it.
 * ext4 and xfs images are sparse files of the volume's size (a hard
 * limit); erofs images are read-only, packed from a source directory or
 * copied from an existing image, both below an allowed root.
 *
 * The helper never executes a program.  Formatting is done by the mkfs
 * runner (runner/mkfs-runner.c), which loop_init starts while the helper
 * is still unconfined; it runs mkfs as the unprivileged user on an
 * O_TMPFILE lent to that user, and the helper links the file into the
 * root only after taking it back (owner root, mode 0600).  A crash
 * during formatting therefore leaves nothing behind.
 *
 * Loop devices come from /dev/loop-control (LOOP_CTL_GET_FREE) and are
 * set up with one LOOP_CONFIGURE (autoclear, direct I/O where the backing
 * file allows it): when the file system is unmounted the kernel detaches
 * the device by itself, also after a crash of the helper.  Mount and
 * unmount are idempotent: the frontend's start-up reconciles every loop
 * volume through them (frontend/reconcile.c).
 */
#include "vw-build.h"

#include <dirent.h>
#include <limits.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/loop.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backends/backend.h"
#include "backends/loop.h"
#include "common/log.h"
#include "common/options.h"
#include "common/validate.h"
#include "privhelper/privhelper.h"
#include "runner/runner.h"

/* The block major of loop devices (Documentation/admin-guide/devices.txt). */
#define LOOP_MAJOR_NR		7
/* Longest wait for the runner's answer: its own limit plus a margin. */
#define RUNNER_WAIT_MS		(115 * 1000)
/* Longest wait at exit for the runner to leave once its channel is
 * closed (an idle runner exits at once; a sanitizer build's leak check
 * takes a moment). */
#define RUNNER_EXIT_MS		5000

#define FAIL VW_FAIL

static struct loop_state *
state(const struct vw_backend_ctx *ctx)
{
	return ctx->priv;
}

/* The volume's file system: its fs option, else the driver's default. */
static uint32_t
eff_fs(const struct vw_backend_ctx *ctx, const struct vw_volume_opts *o)
{
	return (o->flags & VW_OPT_FS) ? o->fs : ctx->driver->fs;
}

/* statfs magic of each file system (include/uapi/linux/magic.h). */
static unsigned long
fs_magic(uint32_t fs)
{
	switch (fs) {
	case VW_FS_EXT4:	return EXT4_SUPER_MAGIC;
	case VW_FS_XFS:		return XFS_SUPER_MAGIC;
	case VW_FS_EROFS:	return EROFS_SUPER_MAGIC_V1;
	}
	return 0;
}

int
loop_image_has_fs(int fd, uint32_t fs)
{
	unsigned char b[4];

	/* On-disk superblock magics: ext4 0xEF53 at 1024 + 56 (LE16),
	 * xfs "XFSB" at 0, erofs 0xE0F5E1E2 at 1024 (LE32). */
	switch (fs) {
	case VW_FS_EXT4:
		return pread(fd, b, 2, 1024 + 56) == 2 && b[0] == 0x53 &&
		    b[1] == 0xef;
	case VW_FS_XFS:
		return pread(fd, b, 4, 0) == 4 && memcmp(b, "XFSB", 4) == 0;
	case VW_FS_EROFS:
		return pread(fd, b, 4, 1024) == 4 && b[0] == 0xe2 &&
		    b[1] == 0xe1 && b[2] == 0xf5 && b[3] == 0xe0;
	}
	return 0;
}

/* "NAME.img" */
static void
image_name(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s.img", name);
}

/* Open ROOT/NAME.img (never through a symlink): a regular file. */
static int
open_image(const struct vw_backend_ctx *ctx, const char *name, int flags,
    struct stat *st)
{
	char img[VW_NAME_MAX + 8];
	int fd, saved;

	image_name(name, img, sizeof(img));
	fd = openat(ctx->root_fd, img, flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -1;
	if (fstat(fd, st) < 0)
		goto fail;
	if (!S_ISREG(st->st_mode)) {
		errno = EINVAL;
		goto fail;
	}
	return fd;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/* ------------------------------------------------------- mount state */

/*
 * Is MOUNT_DIR/NAME a mount point?  Returns 1 with *rootfd (the mounted
 * root, O_DIRECTORY) and *st, 0 if not (the directory exists or not),
 * -1 with errno.
 */
static int
mounted_root(const struct vw_backend_ctx *ctx, const char *name, int *rootfd,
    struct stat *st)
{
	struct stat base;
	int fd;

	*rootfd = -1;
	if (fstat(state(ctx)->mnt_fd, &base) < 0)
		return -1;
	fd = openat(state(ctx)->mnt_fd, name, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, st) < 0) {
		close(fd);
		return -1;
	}
	if (st->st_dev == base.st_dev) {
		close(fd);
		return 0;
	}
	*rootfd = fd;
	return 1;
}

/* Open /dev/loopN for a device number; -1 with errno if it is none. */
static int
open_loopdev(dev_t dev, int flags)
{
	char path[32];

	if (major(dev) != LOOP_MAJOR_NR) {
		errno = ENXIO;
		return -1;
	}
	snprintf(path, sizeof(path), "/dev/loop%u", minor(dev));
	return open(path, flags | O_CLOEXEC);
}

/* Is the loop device lfd backed by the file st describes? */
static int
backed_by(int lfd, const struct stat *st)
{
	struct loop_info64 li;

	if (ioctl(lfd, LOOP_GET_STATUS64, &li) < 0)
		return 0;
	return li.lo_device == (uint64_t)st->st_dev &&
	    li.lo_inode == (uint64_t)st->st_ino;
}

/*
 * Attach the image img_fd to a free loop device with one LOOP_CONFIGURE:
 * autoclear (the kernel detaches it when the last user -- the mount --
 * goes away) and direct I/O (no second copy in the page cache) unless the
 * backing file refuses it.  Returns the device's fd and sets *n, or -1.
 */
static int
attach(const struct vw_backend_ctx *ctx, int img_fd, int ro, const char *path,
    unsigned *n)
{
	int dio = 1;

	for (int tries = 0; tries < 16; tries++) {
		struct loop_config lc;
		char dev[32];
		int idx, lfd;

		if ((idx = ioctl(state(ctx)->control_fd, LOOP_CTL_GET_FREE)) < 0)
			return -1;
		snprintf(dev, sizeof(dev), "/dev/loop%d", idx);
		if ((lfd = open(dev, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC)) < 0) {
			if (errno == ENOENT || errno == ENXIO)
				continue;	/* udev has not made it yet */
			return -1;
		}
		memset(&lc, 0, sizeof(lc));
		lc.fd = (uint32_t)img_fd;
		lc.info.lo_flags = LO_FLAGS_AUTOCLEAR | (ro ? LO_FLAGS_READ_ONLY : 0) |
		    (dio ? LO_FLAGS_DIRECT_IO : 0);
		/* The name LOOP_GET_STATUS64 reports (losetup shows the
		 * backing file from sysfs); cut to LO_NAME_SIZE. */
		memcpy(lc.info.lo_file_name, path, strnlen(path,
		    sizeof(lc.info.lo_file_name) - 1));
		if (ioctl(lfd, LOOP_CONFIGURE, &lc) == 0) {
			*n = (unsigned)idx;
			return lfd;
		}
		close(lfd);
		if (errno == EBUSY)
			continue;	/* taken by someone else meanwhile */
		if (errno == EINVAL && dio) {
			dio = 0;	/* the backing file has no O_DIRECT */
			tries--;
			continue;
		}
		return -1;
	}
	errno = EBUSY;
	return -1;
}

/* Unmount MOUNT_DIR/NAME (every mount stacked there), detach its loop
 * device if autoclear has not, and remove the directory.  Idempotent. */
static int
unmount_volume(const struct vw_backend_ctx *ctx, const char *name,
    const struct stat *img, char *msg, size_t msglen)
{
	const struct vw_driver *d = ctx->driver;
	char path[VW_PATH_MAX];
	int rc;

	snprintf(path, sizeof(path), "%s/%s", d->mount_dir, name);
	for (int i = 0; i < 8; i++) {
		struct stat st;
		int rfd, lfd = -1;

		if ((rc = mounted_root(ctx, name, &rfd, &st)) < 0)
			return vw_failf(msg, msglen, errno, "cannot check %s: %s",
			    path, strerror(errno));
		if (rc == 0)
			break;
		close(rfd);
		/* Keep the device open across the unmount to detach it if
		 * autoclear did not (it was attached by someone else). */
		lfd = open_loopdev(st.st_dev, O_RDONLY);
		if (umount2(path, UMOUNT_NOFOLLOW) < 0) {
			int e = errno;

			if (e != EBUSY) {
				if (lfd >= 0)
					close(lfd);
				return vw_failf(msg, msglen, e, "cannot unmount %s: "
				    "%s", path, strerror(e));
			}
			/* Something on the host still uses it (a shell's
			 * working directory): detach it from the tree now;
			 * the kernel frees the device when that user goes. */
			log_warnx("volume %s: %s is busy; detaching it lazily",
			    name, path);
			if (umount2(path, UMOUNT_NOFOLLOW | MNT_DETACH) < 0) {
				e = errno;
				if (lfd >= 0)
					close(lfd);
				return vw_failf(msg, msglen, e, "cannot unmount %s: "
				    "%s", path, strerror(e));
			}
		}
		if (lfd >= 0) {
			if (img != NULL && backed_by(lfd, img) &&
			    ioctl(lfd, LOOP_CLR_FD) < 0 && errno != ENXIO &&
			    errno != EBUSY)
				log_warn("volume %s: detaching /dev/loop%u", name,
				    minor(st.st_dev));
			close(lfd);
		}
	}
	if (unlinkat(state(ctx)->mnt_fd, name, AT_REMOVEDIR) < 0 &&
	    errno != ENOENT)
		return vw_failf(msg, msglen, errno, "cannot remove the mount "
		    "directory %s: %s", path, strerror(errno));
	return 0;
}

/*
 * Attach and mount the image (fd img_fd, described by img) of volume
 * name at MOUNT_DIR/DIR (dir: the name, or LOOP_TRIAL_DIR) with nosuid,nodev (erofs also read-only), then check
 * with statfs that fs is what is mounted there.  If it already is
 * (a restart, or reconciliation), nothing changes.  Returns 0 and the
 * mounted root's fd in *rootfd (if not NULL), or an errno with msg.
 */
static int
mount_volume(const struct vw_backend_ctx *ctx, const char *name,
    const char *dir, int img_fd, const struct stat *img, uint32_t fs,
    int *rootfd, char *msg, size_t msglen)
{
	const struct vw_driver *d = ctx->driver;
	struct loop_state *ls = state(ctx);
	char path[VW_PATH_MAX], target[64], dev[32], ipath[VW_PATH_MAX];
	struct statfs sf;
	struct stat st;
	unsigned n = 0;
	int rc, rfd, dfd, lfd, ro = fs == VW_FS_EROFS, err;

	snprintf(path, sizeof(path), "%s/%s", d->mount_dir, dir);
	snprintf(ipath, sizeof(ipath), "%s/%s.img", d->root, name);
	if ((rc = mounted_root(ctx, dir, &rfd, &st)) < 0)
		return vw_failf(msg, msglen, errno, "cannot check %s: %s", path,
		    strerror(errno));
	if (rc == 1) {
		lfd = open_loopdev(st.st_dev, O_RDONLY);
		if (lfd >= 0 && backed_by(lfd, img) && fstatfs(rfd, &sf) == 0 &&
		    (unsigned long)sf.f_type == fs_magic(fs)) {
			close(lfd);
			log_debug("volume %s: already mounted at %s", name, path);
			goto done;
		}
		if (lfd >= 0)
			close(lfd);
		close(rfd);
		return vw_failf(msg, msglen, EBUSY, "%s holds another mount than "
		    "the volume's image %s; unmount it (umount %s) and try "
		    "again", path, ipath, path);
	}
	if (mkdirat(ls->mnt_fd, dir, 0755) < 0 && errno != EEXIST)
		return vw_failf(msg, msglen, errno, "cannot create the mount "
		    "directory %s: %s", path, strerror(errno));
	dfd = openat(ls->mnt_fd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (dfd < 0)
		return vw_failf(msg, msglen, errno, "cannot open the mount "
		    "directory %s: %s", path, strerror(errno));
	if ((lfd = attach(ctx, img_fd, ro, ipath, &n)) < 0) {
		err = errno;
		close(dfd);
		return vw_failf(msg, msglen, err, "cannot attach %s to a loop device: "
		    "%s", ipath, strerror(err));
	}
	snprintf(dev, sizeof(dev), "/dev/loop%u", n);
	/* The target is the directory we opened, not a path that could
	 * have changed since. */
	snprintf(target, sizeof(target), "/proc/self/fd/%d", dfd);
	if (mount(dev, target, vw_fs_name(fs), MS_NOSUID | MS_NODEV |
	    (ro ? MS_RDONLY : 0), NULL) < 0) {
		err = errno;
		close(dfd);
		close(lfd);	/* autoclear: never mounted, so detached now */
		unlinkat(ls->mnt_fd, dir, AT_REMOVEDIR);
		return vw_failf(msg, msglen, err, "cannot mount %s (%s, %s) at %s: "
		    "%s", ipath, dev, vw_fs_name(fs), path, strerror(err));
	}
	close(dfd);
	close(lfd);	/* the mount holds the device now */
	if ((rc = mounted_root(ctx, dir, &rfd, &st)) != 1 ||
	    fstatfs(rfd, &sf) < 0 || (unsigned long)sf.f_type != fs_magic(fs) ||
	    st.st_dev != makedev(LOOP_MAJOR_NR, n)) {
		if (rfd >= 0)
			close(rfd);
		unmount_volume(ctx, dir, img, msg, msglen);
		return vw_failf(msg, msglen, EIO, "after mounting %s at %s, statfs "
		    "does not show the %s file system there; it was unmounted "
		    "again", ipath, path, vw_fs_name(fs));
	}
	log_info("volume %s: %s on %s mounted at %s", name, ipath, dev, path);
done:
	if (rootfd != NULL)
		*rootfd = rfd;
	else
		close(rfd);
	return 0;
}

/* ------------------------------------------------------------ runner */

/* Ask the runner to format fd (lent to its user) as fs, or to grow it
 * (op); src is the erofs source directory or -1.  Returns 0 or an errno
 * with msg. */
static int
run_mkfs(const struct vw_backend_ctx *ctx, const char *name, uint32_t fs,
    uint32_t op, int fd, int src, char *msg, size_t msglen)
{
	const char *prog = op == VW_MKFS_GROW ? "resize2fs" : fs == VW_FS_EXT4 ?
	    "mkfs.ext4" : fs == VW_FS_XFS ? "mkfs.xfs" : "mkfs.erofs";
	struct loop_state *ls = state(ctx);
	struct vw_mkfs_req req;
	struct vw_mkfs_reply rep;
	struct pollfd p = { ls->runner_fd, POLLIN, 0 };
	int fds[2] = { fd, src }, rfds[VW_MKFS_MAXFD], nfd, rc;

	memset(&req, 0, sizeof(req));
	req.magic = VW_MKFS_MAGIC;
	req.fs = fs;
	req.op = op;
	snprintf(req.label, sizeof(req.label), "%s", name);
	/* The runner gone is the end of this helper, as the frontend's end
	 * is: the daemon exits and its service manager starts it again. */
	if (vw_mkfs_send(ls->runner_fd, &req, sizeof(req), fds,
	    src >= 0 ? 2 : 1) < 0)
		fatal("the mkfs runner is gone");
	do
		rc = poll(&p, 1, RUNNER_WAIT_MS);
	while (rc < 0 && errno == EINTR);
	if (rc <= 0)
		fatalx("the mkfs runner did not answer within %d s",
		    RUNNER_WAIT_MS / 1000);
	rc = vw_mkfs_recv(ls->runner_fd, &rep, sizeof(rep), rfds, &nfd);
	if (rc <= 0 || nfd != 0 || rep.magic != VW_MKFS_MAGIC ||
	    memchr(rep.out, '\0', sizeof(rep.out)) == NULL)
		fatalx("the mkfs runner broke the protocol or exited");
	if (rep.err == 0)
		return 0;
	if (rep.err == EIO)
		return vw_failf(msg, msglen, EIO, "%s failed with status %d: %s",
		    prog, rep.status, rep.out[0] ? rep.out : "(no output)");
	return vw_failf(msg, msglen, rep.err > 0 ? rep.err : EIO, "%s could "
	    "not run: %s%s%s", prog, strerror(rep.err),
	    rep.out[0] ? ": " : "", rep.out);
}

/* ------------------------------------------------------------ create */

/* Resolve an absolute source or image path below one of the allowed
 * roots: the root's fd and the relative rest, or NULL with msg. */
static const char *
below_allowed(const struct vw_backend_ctx *ctx, const char *path, int *base)
{
	const struct vw_driver *d = ctx->driver;

	for (size_t i = 0; i < d->nallowed; i++) {
		const char *rest = vw_path_beneath(d->allowed_roots[i], path);

		if (rest != NULL) {
			*base = ctx->allowed_fds[i];
			return rest;
		}
	}
	return NULL;
}

static int
not_allowed(const struct vw_backend_ctx *ctx, const char *what,
    const char *path, struct vw_volume_reply *rep)
{
	const struct vw_driver *d = ctx->driver;
	size_t o;

	o = (size_t)snprintf(rep->msg, sizeof(rep->msg), "%s %s is not below an "
	    "allowed root of driver %s (allowed roots: ", what, path, d->name);
	if (d->nallowed == 0 && o < sizeof(rep->msg))
		o += (size_t)snprintf(rep->msg + o, sizeof(rep->msg) - o,
		    "none are configured");
	for (size_t i = 0; i < d->nallowed && o < sizeof(rep->msg); i++)
		o += (size_t)snprintf(rep->msg + o, sizeof(rep->msg) - o, "%s%s",
		    i ? ", " : "", d->allowed_roots[i]);
	if (o < sizeof(rep->msg))
		snprintf(rep->msg + o, sizeof(rep->msg) - o, ")");
	return EPERM;
}

/*
 * Open a regular file rel beneath base without symlinks or "..", for
 * reading.  The path is resolved with O_PATH first, which opens nothing:
 * a FIFO would block open(2) until a writer came, and a device's open
 * has side effects (a tape rewinds).  Only a regular file is then
 * reopened, through /proc/self/fd, with O_NONBLOCK for good measure.
 * Returns the fd with *st, or -1 with errno (EINVAL: not a regular file).
 */
static int
open_file_beneath(int base, const char *rel, struct stat *st)
{
	struct open_how how;
	char proc[64];
	int pfd = -1, fd, saved;

	memset(&how, 0, sizeof(how));
	how.flags = O_PATH | O_CLOEXEC | O_NOFOLLOW;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
	    RESOLVE_NO_MAGICLINKS;
	for (int i = 0; i < 8 && pfd < 0; i++) {
		pfd = (int)syscall(SYS_openat2, base, rel, &how, sizeof(how));
		if (pfd < 0 && errno != EAGAIN)
			return -1;
	}
	if (pfd < 0)
		return -1;
	if (fstat(pfd, st) < 0)
		goto fail;
	if (!S_ISREG(st->st_mode)) {
		errno = EINVAL;
		goto fail;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
	if ((fd = open(proc, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)) < 0)
		goto fail;
	close(pfd);
	return fd;
fail:
	saved = errno;
	close(pfd);
	errno = saved;
	return -1;
}

/*
 * Copy the regular file src (st) into the empty file dst, only its data:
 * holes stay holes (SEEK_DATA/SEEK_HOLE), so a sparse image takes no
 * more room in the root than it does where it is.  Returns 0 or errno.
 */
static int
copy_sparse(int src, const struct stat *st, int dst)
{
	off_t data = 0, hole;

	while (data < st->st_size) {
		if ((data = lseek(src, data, SEEK_DATA)) < 0)
			return errno == ENXIO ? 0 : errno;	/* only a hole left */
		if ((hole = lseek(src, data, SEEK_HOLE)) < 0)
			return errno;
		if (hole > st->st_size)
			hole = st->st_size;
		for (off_t in = data, out = data; in < hole;) {
			ssize_t n = copy_file_range(src, &in, dst, &out,
			    (size_t)(hole - in), 0);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return errno;
			if (n == 0)
				return EIO;	/* shrunk under us */
		}
		data = hole;
	}
	return 0;
}

/* Link the finished O_TMPFILE fd as ROOT/NAME.img and make it durable. */
static int
link_image(const struct vw_backend_ctx *ctx, const char *name, int fd,
    struct vw_volume_reply *rep)
{
	char img[VW_NAME_MAX + 8], proc[64];

	image_name(name, img, sizeof(img));
	if (fdatasync(fd) < 0)
		return FAIL(rep, errno, "cannot write the image of volume %s: %s",
		    name, strerror(errno));
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, proc, ctx->root_fd, img, AT_SYMLINK_FOLLOW) < 0)
		return FAIL(rep, errno, "cannot create %s/%s: %s",
		    ctx->driver->root, img, strerror(errno));
	if (fsync(ctx->root_fd) < 0)
		return FAIL(rep, errno, "cannot sync %s: %s", ctx->driver->root,
		    strerror(errno));
	return 0;
}

/* An unnamed root-owned file in the driver root. */
static int
tmp_image(const struct vw_backend_ctx *ctx, struct vw_volume_reply *rep)
{
	int fd = openat(ctx->root_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd < 0)
		return -FAIL(rep, errno, "cannot create an image file in %s: %s",
		    ctx->driver->root, strerror(errno));
	return fd;
}

/*
 * Format fd as fs (or grow it: op) through the runner: lend it to the
 * runner's user, then take it back (owner root, mode 0600) before
 * anything else can use it.
 */
static int
format_image(const struct vw_backend_ctx *ctx, const char *name, uint32_t fs,
    uint32_t op, int fd, int src, struct vw_volume_reply *rep)
{
	struct loop_state *ls = state(ctx);
	int err;

	if (fchown(fd, ls->uid, ls->gid) < 0)
		return FAIL(rep, errno, "cannot lend the image of volume %s to "
		    "the mkfs runner: %s", name, strerror(errno));
	err = run_mkfs(ctx, name, fs, op, fd, src, rep->msg, sizeof(rep->msg));
	if (fchown(fd, 0, 0) < 0 || fchmod(fd, 0600) < 0)
		return FAIL(rep, errno, "cannot take back the image of volume %s: "
		    "%s", name, strerror(errno));
	if (err != 0)
		return err;
	if (!loop_image_has_fs(fd, fs))
		return FAIL(rep, EIO, "mkfs.%s reported success but the image of "
		    "volume %s holds no %s superblock", vw_fs_name(fs), name,
		    vw_fs_name(fs));
	return 0;
}

/* Set the top directory's mode, then owner (a root-owned directory keeps
 * a setgid bit through the chown, so no CAP_FOWNER or CAP_FSETID). */
static int
set_top(const struct vw_volume_req *req, int rootfd, struct vw_volume_reply *rep)
{
	const struct vw_volume_opts *o = &req->opts;

	if (fchmod(rootfd, (o->flags & VW_OPT_MODE) ? o->mode : 0755) < 0 ||
	    fchown(rootfd, (o->flags & VW_OPT_UID) ? o->uid : (uid_t)-1,
	    (o->flags & VW_OPT_GID) ? o->gid : (gid_t)-1) < 0)
		return FAIL(rep, errno, "cannot set the owner or mode of volume "
		    "%s: %s", req->name, strerror(errno));
	return 0;
}

/*
 * Replace *fd (described by *st) by a copy in a new O_TMPFILE, holes
 * kept (copy_file_range reflinks where the root's file system can).
 * Returns 0, or an errno with the sentence in rep (*fd is then unchanged).
 */
static int
fresh_copy(const struct vw_backend_ctx *ctx, const char *name, int *fd,
    struct stat *st, struct vw_volume_reply *rep)
{
	int nfd, err;

	if ((nfd = tmp_image(ctx, rep)) < 0)
		return -nfd;
	err = copy_sparse(*fd, st, nfd);
	if (err == 0 && ftruncate(nfd, st->st_size) < 0)
		err = errno;
	if (err == 0 && fstat(nfd, st) < 0)
		err = errno;
	if (err != 0) {
		close(nfd);
		return FAIL(rep, err, "cannot copy the new image of volume %s: %s",
		    name, strerror(err));
	}
	close(*fd);
	*fd = nfd;
	return 0;
}

/*
 * May an image of size bytes (alloc of them allocated) be made in the
 * root?  Not above the driver's max_size, and not if the root's file
 * system has less free space than alloc.  Returns 0 or an errno with
 * the sentence in rep.
 */
static int
room_for(const struct vw_backend_ctx *ctx, const char *name, uint64_t size,
    uint64_t alloc, struct vw_volume_reply *rep)
{
	const struct vw_driver *d = ctx->driver;
	struct statfs sf;

	if (size > d->max_size)
		return FAIL(rep, EFBIG, "volume %s would be %llu MiB, above the "
		    "limit of driver %s (max_size %llu MiB); choose a smaller "
		    "size, or raise max_size in the configuration", name,
		    (unsigned long long)(size >> 20), d->name,
		    (unsigned long long)(d->max_size >> 20));
	if (fstatfs(ctx->root_fd, &sf) < 0)
		return FAIL(rep, errno, "cannot check the free space of %s: %s",
		    d->root, strerror(errno));
	if (alloc > (uint64_t)sf.f_bavail * (uint64_t)sf.f_bsize)
		return FAIL(rep, ENOSPC, "volume %s needs %llu MiB in %s, which "
		    "has %llu MiB free; free some space or use a smaller image",
		    name, (unsigned long long)(alloc >> 20), d->root,
		    (unsigned long long)(((uint64_t)sf.f_bavail *
		    (uint64_t)sf.f_bsize) >> 20));
	return 0;
}

/* erofs from -o source=DIR or -o image=FILE, into the unnamed fd. */
static int
make_erofs(const struct vw_backend_ctx *ctx, const struct vw_volume_req *req,
    int fd, struct vw_volume_reply *rep)
{
	const char *path = req->opts.mountpoint, *rel;
	int base, src, err;
	struct stat st;

	if ((rel = below_allowed(ctx, path, &base)) == NULL)
		return not_allowed(ctx, (req->opts.flags & VW_OPT_SOURCE) ?
		    "source" : "image", path, rep);
	if (req->opts.flags & VW_OPT_SOURCE) {
		if ((src = ph_open_beneath(base, rel, 0, NULL)) < 0)
			return FAIL(rep, errno, "cannot open source directory %s "
			    "(it must be a directory reached without symbolic "
			    "links): %s", path, strerror(errno));
		err = format_image(ctx, req->name, VW_FS_EROFS, VW_MKFS_FORMAT, fd,
		    src, rep);
		close(src);
		if (err != 0 && err != EIO)
			return err;
		if (err == EIO) {
			char why[sizeof(rep->msg)];

			memcpy(why, rep->msg, sizeof(why));
			return FAIL(rep, EIO, "cannot pack %s: %.380s (the files "
			    "must be readable by user %s)", path, why,
			    state(ctx)->user);
		}
		return 0;
	}
	/* adopt: a copy in the root, so that nobody who can write below
	 * the allowed root can change the blocks of a mounted image */
	if ((src = open_file_beneath(base, rel, &st)) < 0) {
		if (errno == EINVAL)
			return FAIL(rep, EINVAL, "image %s is not a regular file; "
			    "give the path of an EROFS image file", path);
		return FAIL(rep, errno, "cannot open image %s (it must be a file "
		    "reached without symbolic links): %s", path, strerror(errno));
	}
	if (!loop_image_has_fs(src, VW_FS_EROFS)) {
		close(src);
		return FAIL(rep, EINVAL, "image %s is not an EROFS image (no "
		    "EROFS superblock)", path);
	}
	if ((err = room_for(ctx, req->name, (uint64_t)st.st_size,
	    (uint64_t)st.st_blocks * 512, rep)) != 0) {
		close(src);
		return err;
	}
	err = copy_sparse(src, &st, fd);
	close(src);
	if (err == 0 && ftruncate(fd, st.st_size) < 0)	/* a trailing hole */
		err = errno;
	if (err != 0)
		return FAIL(rep, err, "cannot copy image %s: %s", path,
		    strerror(err));
	return 0;
}

static int
loop_create(const struct vw_backend_ctx *ctx, const struct vw_volume_req *req,
    struct vw_volume_reply *rep)
{
	const struct vw_driver *d = ctx->driver;
	uint32_t fs = eff_fs(ctx, &req->opts);
	uint64_t size = (req->opts.flags & VW_OPT_SIZE) ? req->opts.size :
	    d->default_size;
	struct stat st;
	int fd, rfd = -1, err;

	if (fs != VW_FS_EROFS && size < vw_fs_min_size(fs))
		return FAIL(rep, EINVAL, "size %llu MiB is below the %s minimum "
		    "of %llu MiB; use -o size=%lluM or more",
		    (unsigned long long)(size >> 20), vw_fs_name(fs),
		    (unsigned long long)(vw_fs_min_size(fs) >> 20),
		    (unsigned long long)(vw_fs_min_size(fs) >> 20));
	snprintf(rep->path, sizeof(rep->path), "%s/%s", d->mount_dir, req->name);
	/* An image that is there already (kept by on_remove keep, or made
	 * before a crash lost the record) is reused if it holds fs. */
	if ((fd = open_image(ctx, req->name, O_RDONLY, &st)) >= 0) {
		int has = loop_image_has_fs(fd, fs);

		close(fd);
		if (!has)
			return FAIL(rep, EEXIST, "%s/%s.img exists and holds no %s "
			    "file system; move it away or choose another name",
			    d->root, req->name, vw_fs_name(fs));
		log_info("volume %s: reusing the existing image %s/%s.img",
		    req->name, d->root, req->name);
		return 0;
	}
	if (errno != ENOENT)
		return FAIL(rep, errno, "cannot open %s/%s.img: %s", d->root,
		    req->name, strerror(errno));
	/* Sparse: only the size limit (the room is taken as it is written). */
	if (fs != VW_FS_EROFS && (err = room_for(ctx, req->name, size, 0,
	    rep)) != 0)
		return err;
	if ((fd = tmp_image(ctx, rep)) < 0)
		return -fd;
	if (fs == VW_FS_EROFS)
		err = make_erofs(ctx, req, fd, rep);
	else if (ftruncate(fd, (off_t)size) < 0)
		err = FAIL(rep, errno, "cannot size the image of volume %s to %llu "
		    "bytes: %s", req->name, (unsigned long long)size,
		    strerror(errno));
	else
		err = format_image(ctx, req->name, fs, VW_MKFS_FORMAT, fd, -1,
		    rep);
	if (err == 0 && fs == VW_FS_EROFS && !loop_image_has_fs(fd, fs))
		err = FAIL(rep, EIO, "the image of volume %s holds no EROFS "
		    "superblock", req->name);
	if (err == 0 && fstat(fd, &st) < 0)
		err = FAIL(rep, errno, "fstat: %s", strerror(errno));
	/* The file the runner formatted may still be open in a process of
	 * its user (a mkfs that left a child behind): what is mounted and
	 * linked is a copy in a file that user never saw. */
	if (err == 0 && (fs != VW_FS_EROFS ||
	    (req->opts.flags & VW_OPT_SOURCE)))
		err = fresh_copy(ctx, req->name, &fd, &st, rep);
	/* Mount it once: it must mount, and its top directory gets the
	 * owner and mode (mkfs makes it root's, 0755). */
	if (err == 0)
		err = mount_volume(ctx, req->name, LOOP_TRIAL_DIR, fd, &st, fs,
		    &rfd, rep->msg, sizeof(rep->msg));
	if (err == 0) {
		if (fs != VW_FS_EROFS)
			err = set_top(req, rfd, rep);
		close(rfd);
		if (unmount_volume(ctx, LOOP_TRIAL_DIR, &st, rep->msg,
		    sizeof(rep->msg)) != 0 && err == 0)
			err = EIO;
	}
	if (err == 0)
		err = link_image(ctx, req->name, fd, rep);
	close(fd);
	if (err == 0)
		log_info("volume %s: %s image %s/%s.img, %llu bytes", req->name,
		    vw_fs_name(fs), d->root, req->name,
		    (unsigned long long)st.st_size);
	return err;
}

/* ------------------------------------------------------- mount/unmount */

static int
loop_mount(const struct vw_backend_ctx *ctx, const struct vw_volume_req *req,
    struct vw_volume_reply *rep)
{
	const struct vw_driver *d = ctx->driver;
	uint32_t fs = eff_fs(ctx, &req->opts);
	struct stat st;
	int fd, err;

	fd = open_image(ctx, req->name, fs == VW_FS_EROFS ? O_RDONLY : O_RDWR,
	    &st);
	if (fd < 0)
		return FAIL(rep, errno, "cannot open the image %s/%s.img: %s",
		    d->root, req->name, strerror(errno));
	err = mount_volume(ctx, req->name, req->name, fd, &st, fs, NULL,
	    rep->msg, sizeof(rep->msg));
	close(fd);
	if (err == 0)
		snprintf(rep->path, sizeof(rep->path), "%s/%s", d->mount_dir,
		    req->name);
	return err;
}

static int
loop_unmount(const struct vw_backend_ctx *ctx, const struct vw_volume_req *req,
    struct vw_volume_reply *rep)
{
	struct stat st;
	int fd, err;

	fd = open_image(ctx, req->name, O_RDONLY, &st);
	err = unmount_volume(ctx, req->name, fd >= 0 ? &st : NULL, rep->msg,
	    sizeof(rep->msg));
	if (fd >= 0)
		close(fd);
	if (err == 0)
		snprintf(rep->path, sizeof(rep->path), "%s/%s",
		    ctx->driver->mount_dir, req->name);
	return err;
}

/* ------------------------------------------------------------ remove */

static int
loop_remove(const struct vw_backend_ctx *ctx, const struct vw_volume_req *req,
    struct vw_volume_reply *rep)
{
	const struct vw_driver *d = ctx->driver;
	char img[VW_NAME_MAX + 8], dst[VW_NAME_MAX + 64];
	struct stat st;
	int rc, rfd;

	if ((rc = mounted_root(ctx, req->name, &rfd, &st)) == 1) {
		close(rfd);
		return FAIL(rep, EBUSY, "volume %s is mounted at %s/%s; stop the "
		    "containers that use it first", req->name, d->mount_dir,
		    req->name);
	}
	unlinkat(state(ctx)->mnt_fd, req->name, AT_REMOVEDIR);
	image_name(req->name, img, sizeof(img));
	snprintf(rep->path, sizeof(rep->path), "%s/%s", d->root, img);
	if (d->on_remove == VW_ON_REMOVE_ARCHIVE) {
		time_t now = time(NULL);
		char stamp[32];
		struct tm tm;
		/* NAME.img.removed-STAMP[-N] must fit NAME_MAX (255): a long
		 * image name is shortened (the suffix is at most 29 bytes, as
		 * in backends/dir.c), and two removals in one second get -1,
		 * -2, ... */
		int keep = (int)strlen(img) > NAME_MAX - 30 ? NAME_MAX - 30 :
		    (int)strlen(img);

		gmtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
		for (int i = 0; ; i++) {
			if (i == 0)
				snprintf(dst, sizeof(dst), "%.*s.removed-%s", keep,
				    img, stamp);
			else
				snprintf(dst, sizeof(dst), "%.*s.removed-%s-%d", keep,
				    img, stamp, i);
			if (renameat2(ctx->root_fd, img, ctx->root_fd, dst,
			    RENAME_NOREPLACE) == 0)
				break;
			if (errno == ENOENT)
				return 0;	/* already gone */
			if (errno != EEXIST || i >= 99)
				return FAIL(rep, errno, "cannot archive %s/%s as "
				    "%s: %s", d->root, img, dst, strerror(errno));
		}
		log_info("volume %s: image archived as %s/%s", req->name, d->root,
		    dst);
		return 0;
	}
	if (unlinkat(ctx->root_fd, img, 0) < 0 && errno != ENOENT)
		return FAIL(rep, errno, "cannot delete %s/%s: %s", d->root, img,
		    strerror(errno));
	log_info("volume %s: image %s/%s deleted", req->name, d->root, img);
	return 0;
}

/* ------------------------------------------------------------ status */

static int
loop_status(const struct vw_backend_ctx *ctx, const struct vw_volume_req *req,
    struct vw_status_reply *rep)
{
	const struct vw_driver *d = ctx->driver;
	uint32_t fs = eff_fs(ctx, &req->opts);
	struct stat st, mst;
	struct statfs sf;
	int fd, rfd, rc;

	fd = open_image(ctx, req->name, O_RDONLY, &st);
	if (fd < 0)
		return vw_failf(rep->msg, sizeof(rep->msg), errno, "cannot open the "
		    "image %s/%s.img: %s", d->root, req->name, strerror(errno));
	close(fd);
	vw_status_add(rep, "image", "%s/%s.img", d->root, req->name);
	vw_status_add(rep, "fs", "%s", vw_fs_name(fs));
	vw_status_add(rep, "size_bytes", "%lld", (long long)st.st_size);
	vw_status_add(rep, "allocated_bytes", "%lld", (long long)st.st_blocks * 512);
	rc = mounted_root(ctx, req->name, &rfd, &mst);
	vw_status_add(rep, "mounted", "%s", rc == 1 ? "true" : "false");
	if (rc == 1) {
		if (fstatfs(rfd, &sf) == 0) {
			vw_status_add(rep, "used_bytes", "%llu", (unsigned long long)
			    (sf.f_blocks - sf.f_bfree) * (unsigned long long)sf.f_bsize);
			vw_status_add(rep, "free_bytes", "%llu", (unsigned long long)
			    sf.f_bavail * (unsigned long long)sf.f_bsize);
		}
		if (major(mst.st_dev) == LOOP_MAJOR_NR)
			vw_status_add(rep, "loop_device", "/dev/loop%u",
			    minor(mst.st_dev));
		close(rfd);
	}
	return 0;
}

/* ------------------------------------------------------------ resize */

/* Not in the kernel's uapi headers: fs/xfs/libxfs/xfs_fs.h. */
struct vw_xfs_growfs_data {
	uint64_t	newblocks;	/* new data subvol size, fsblocks */
	uint32_t	imaxpct;	/* new inode space percentage limit */
};
#define VW_XFS_IOC_FSGROWFSDATA		_IOW('X', 110, struct vw_xfs_growfs_data)

/* Grow the mounted xfs at rootfd to fill size bytes (xfs grows only
 * while mounted). */
static int
grow_xfs(int rootfd, uint64_t old, uint64_t size, char *msg, size_t msglen)
{
	struct statfs sf;
	struct vw_xfs_growfs_data g;

	if (fstatfs(rootfd, &sf) < 0 || sf.f_bsize <= 0)
		return vw_failf(msg, msglen, errno, "statfs: %s", strerror(errno));
	/* The inode space limit mkfs.xfs chose for the old size: 25% below
	 * 1 TiB, 5% below 50 TiB, else 1% (xfsprogs calc_default_imaxpct). */
	g.newblocks = size / (uint64_t)sf.f_bsize;
	g.imaxpct = old < (1ULL << 40) ? 25 : old < (50ULL << 40) ? 5 : 1;
	if (ioctl(rootfd, VW_XFS_IOC_FSGROWFSDATA, &g) < 0)
		return vw_failf(msg, msglen, errno, "xfs grow to %llu blocks failed: "
		    "%s", (unsigned long long)g.newblocks, strerror(errno));
	return 0;
}

/*
 * Grow: the image file, then the file system.  xfs grows online (the
 * loop device learns the new size with LOOP_SET_CAPACITY), or in a
 * temporary mount.  ext4 grows offline with resize2fs in the runner:
 * online ext4 resizing (EXT4_IOC_RESIZE_FS) needs CAP_SYS_RESOURCE,
 * which the helper does not keep, so a mounted ext4 volume is refused.
 */
static int
loop_resize(const struct vw_backend_ctx *ctx, const struct vw_volume_req *req,
    struct vw_volume_reply *rep)
{
	const struct vw_driver *d = ctx->driver;
	uint32_t fs = eff_fs(ctx, &req->opts);
	uint64_t size = req->opts.size;
	struct stat st, mst;
	int fd, rfd = -1, rc, err, temp = 0;

	if (fs == VW_FS_EROFS)
		return FAIL(rep, EOPNOTSUPP, "volume %s is a read-only EROFS image; "
		    "its size follows its content", req->name);
	if (size > d->max_size)
		return FAIL(rep, EFBIG, "volume %s cannot grow to %llu MiB, above "
		    "the limit of driver %s (max_size %llu MiB); choose a smaller "
		    "size, or raise max_size in the configuration", req->name,
		    (unsigned long long)(size >> 20), d->name,
		    (unsigned long long)(d->max_size >> 20));
	if ((fd = open_image(ctx, req->name, O_RDWR, &st)) < 0)
		return FAIL(rep, errno, "cannot open the image %s/%s.img: %s",
		    d->root, req->name, strerror(errno));
	if ((uint64_t)st.st_size >= size) {
		close(fd);
		return FAIL(rep, EINVAL, "volume %s is %llu bytes already; "
		    "volumes can only grow", req->name,
		    (unsigned long long)st.st_size);
	}
	if ((rc = mounted_root(ctx, req->name, &rfd, &mst)) < 0) {
		err = errno;
		close(fd);
		return FAIL(rep, err, "cannot check the mount of volume %s: %s",
		    req->name, strerror(err));
	}
	if (rc == 1 && fs == VW_FS_EXT4) {
		close(rfd);
		close(fd);
		return FAIL(rep, EBUSY, "ext4 volume %s is mounted: it grows "
		    "while no container uses it (online ext4 resizing needs "
		    "CAP_SYS_RESOURCE, which the helper does not keep); stop its "
		    "containers and resize again", req->name);
	}
	if (ftruncate(fd, (off_t)size) < 0) {
		err = errno;
		if (rfd >= 0)
			close(rfd);
		close(fd);
		return FAIL(rep, err, "cannot grow %s/%s.img: %s", d->root,
		    req->name, strerror(err));
	}
	if (fs == VW_FS_EXT4) {
		err = format_image(ctx, req->name, fs, VW_MKFS_GROW, fd, -1, rep);
	} else {
		if (rc == 1) {
			/* Online: tell the loop device, then xfs. */
			int lfd = open_loopdev(mst.st_dev, O_RDONLY);

			errno = 0;
			if (lfd < 0 || !backed_by(lfd, &st) ||
			    ioctl(lfd, LOOP_SET_CAPACITY, 0) < 0) {
				err = errno ? errno : EIO;
				if (lfd >= 0)
					close(lfd);
				close(rfd);
				close(fd);
				return FAIL(rep, err, "cannot grow the loop device "
				    "of volume %s: %s", req->name, strerror(err));
			}
			close(lfd);
		} else {
			if ((err = mount_volume(ctx, req->name, req->name, fd,
			    &st, fs, &rfd, rep->msg, sizeof(rep->msg))) != 0) {
				close(fd);
				return err;
			}
			temp = 1;
		}
		err = grow_xfs(rfd, (uint64_t)st.st_size, size, rep->msg,
		    sizeof(rep->msg));
		close(rfd);
		if (temp && unmount_volume(ctx, req->name, &st, rep->msg,
		    sizeof(rep->msg)) != 0 && err == 0)
			err = EIO;
	}
	if (err == 0 && fsync(fd) < 0)
		err = FAIL(rep, errno, "fsync: %s", strerror(errno));
	close(fd);
	if (err == 0) {
		snprintf(rep->path, sizeof(rep->path), "%s/%s", d->mount_dir,
		    req->name);
		log_info("volume %s: grown from %lld to %llu bytes (%s)", req->name,
		    (long long)st.st_size, (unsigned long long)size,
		    rc == 1 ? "online" : "offline");
	}
	return err;
}

/*
 * fini: the frontend has closed the channel.  Closing the runner's
 * channel makes it exit (it is idle: requests are answered one at a
 * time); reap it, so that it is gone before the helper is and its exit
 * status is not lost, and free what loop_init made.  A runner that does
 * not exit within RUNNER_EXIT_MS is left to its parent-death signal.
 * Returns -1 if it did not exit with status 0 (logged).
 */
static int
loop_fini(struct vw_backend_ctx *ctx)
{
	struct loop_state *ls = ctx->priv;
	const char *name = ctx->driver->name;
	int status = 0, rc = 0;
	pid_t pid = 0;

	if (ls == NULL)
		return 0;
	if (ls->runner_fd >= 0)
		close(ls->runner_fd);
	for (int waited = 0; ls->runner_pid > 0; waited += 10) {
		pid = waitpid(ls->runner_pid, &status, WNOHANG);
		if (pid == ls->runner_pid)
			break;
		if (pid < 0 && errno != EINTR) {
			log_warn("driver %s: waiting for the mkfs runner (pid %d)",
			    name, (int)ls->runner_pid);
			rc = -1;
			break;
		}
		if (waited >= RUNNER_EXIT_MS) {
			log_warnx("driver %s: the mkfs runner (pid %d) did not exit "
			    "within %d s of its channel closing", name,
			    (int)ls->runner_pid, RUNNER_EXIT_MS / 1000);
			rc = -1;
			break;
		}
		(void)poll(NULL, 0, 10);	/* the filter allows no sleep */
	}
	if (pid > 0 && pid == ls->runner_pid) {
		if (WIFSIGNALED(status)) {
			log_warnx("driver %s: the mkfs runner (pid %d) was killed "
			    "by signal %s", name, (int)pid,
			    strsignal(WTERMSIG(status)));
			rc = -1;
		} else if (WEXITSTATUS(status) != 0) {
			log_warnx("driver %s: the mkfs runner (pid %d) exited with "
			    "status %d", name, (int)pid, WEXITSTATUS(status));
			rc = -1;
		} else
			log_debug("driver %s: the mkfs runner (pid %d) exited",
			    name, (int)pid);
	}
	if (ls->control_fd >= 0)
		close(ls->control_fd);
	if (ls->mnt_fd >= 0)
		close(ls->mnt_fd);
	free(ls);
	ctx->priv = NULL;
	return rc;
}

const struct vw_backend vw_backend_loop = {
	.name = "loop",
	/*
	 * CAP_SYS_ADMIN: mount(2) and umount2(2), and XFS_IOC_FSGROWFSDATA;
	 * CAP_CHOWN: lending images to the mkfs runner's user and taking
	 * them back, and the uid/gid options on a volume's top directory.
	 * The loop ioctls need only the device's permissions (root's).
	 * See doc/design.md, "The loop backend".
	 */
	.caps = (1ULL << CAP_CHOWN) | (1ULL << CAP_SYS_ADMIN),
	.init = loop_init,
	.create = loop_create,
	.remove = loop_remove,
	.mount = loop_mount,
	.unmount = loop_unmount,
	.status = loop_status,
	.resize = loop_resize,
	.fini = loop_fini,
};
