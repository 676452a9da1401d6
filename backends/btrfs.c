/*
 * The btrfs backend: a volume is the subvolume ROOT/NAME on a BTRFS file
 * system.  Snapshots are read-only subvolumes ROOT/.snapshots/NAME/SNAP
 * (volume names never start with '.', so the directory cannot clash).
 * Every operation works from the root directory fds opened at start-up,
 * by name: nothing the frontend sends is a path.
 *
 * Sizes are qgroup limits on referenced bytes, set with the kernel's
 * BTRFS_IOC_QUOTA_CTL and BTRFS_IOC_QGROUP_LIMIT (libbtrfsutil has no
 * qgroup API); quotas are enabled on the file system when the first
 * volume with a size is created.
 */
#include "vw-build.h"

#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <btrfsutil.h>

#include "backends/backend.h"
#include "common/log.h"
#include "common/options.h"
#include "common/validate.h"
#include "privhelper/privhelper.h"

/* The hidden per-driver directory of snapshots, in the root. */
#define SNAPDIR			".snapshots"
/* The inode number of every subvolume's top directory. */
#define SUBVOL_INO		256
/* Longest list of snapshots one volume may have (LIST reads them all). */
#define SNAP_MAX		4096

#define FAIL VW_FAIL

/* libbtrfsutil leaves the failed syscall's errno in place. */
static int
bu_errno(void)
{
	return errno != 0 ? errno : EIO;
}

/*
 * Open the subvolume name inside dirfd: a directory (never a symlink)
 * that is the top of a BTRFS subvolume.  Returns the fd, or -1 with errno
 * (ENOENT, ENOTDIR for a plain directory or a symlink, EXDEV when not on
 * BTRFS).
 */
static int
open_subvol(int dirfd, const char *name)
{
	struct statfs sf;
	struct stat st;
	int fd, saved;

	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || fstatfs(fd, &sf) < 0)
		goto fail;
	if (sf.f_type != BTRFS_SUPER_MAGIC) {
		errno = EXDEV;
		goto fail;
	}
	if (st.st_ino != SUBVOL_INO) {
		errno = ENOTDIR;
		goto fail;
	}
	return fd;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/* ROOT/.snapshots/NAME, made (0700) when create is set. */
static int
open_snapdir(const struct vw_backend_ctx *ctx, const char *name, int create)
{
	if (create && mkdirat(ctx->aux_fd, name, 0700) < 0 && errno != EEXIST)
		return -1;
	return openat(ctx->aux_fd, name,
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/*
 * Delete the subvolume name inside parent and every subvolume nested in
 * it (a container may have made some with `btrfs subvolume create`).
 * libbtrfsutil's recursive delete opens the children's parents with
 * plain openat() paths; here each one is opened with ph_open_beneath
 * (no symlinks, never leaving the volume), so a directory renamed or
 * replaced by a symlink meanwhile cannot redirect the deletion.
 * Returns 0 or -1 with errno (ENOENT if name does not exist).
 */
static int
delete_tree(int parent, const char *name)
{
	struct btrfs_util_subvolume_iterator *it = NULL;
	enum btrfs_util_error be;
	int fd, rc = 0, saved = 0;

	if ((fd = open_subvol(parent, name)) < 0)
		return -1;
	errno = 0;
	be = btrfs_util_create_subvolume_iterator_fd(fd, 0,
	    BTRFS_UTIL_SUBVOLUME_ITERATOR_POST_ORDER, &it);
	if (be != BTRFS_UTIL_OK) {
		saved = bu_errno();
		close(fd);
		errno = saved;
		return -1;
	}
	for (;;) {
		char *path = NULL, *slash;
		const char *base;
		int pfd;

		errno = 0;
		be = btrfs_util_subvolume_iterator_next(it, &path, NULL);
		if (be == BTRFS_UTIL_ERROR_STOP_ITERATION)
			break;
		if (be != BTRFS_UTIL_OK) {
			saved = bu_errno();
			rc = -1;
			break;
		}
		/* Children come deepest first (post-order). */
		if ((slash = strrchr(path, '/')) != NULL) {
			*slash = '\0';
			base = slash + 1;
			pfd = ph_open_beneath(fd, path, 0, NULL);
		} else {
			base = path;
			pfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		}
		if (pfd < 0) {
			saved = errno;
			free(path);
			rc = -1;
			break;
		}
		errno = 0;
		be = btrfs_util_delete_subvolume_fd(pfd, base, 0);
		if (be != BTRFS_UTIL_OK && errno != ENOENT) {
			saved = bu_errno();
			rc = -1;
		}
		close(pfd);
		free(path);
		if (rc < 0)
			break;
	}
	btrfs_util_destroy_subvolume_iterator(it);
	close(fd);
	if (rc == 0) {
		errno = 0;
		be = btrfs_util_delete_subvolume_fd(parent, name, 0);
		if (be != BTRFS_UTIL_OK) {
			saved = bu_errno();
			rc = -1;
		}
	}
	if (rc < 0)
		errno = saved;
	return rc;
}

/* Creation time of the subvolume name inside dirfd (0 if unknown). */
static int64_t
subvol_otime(int dirfd, const char *name)
{
	struct btrfs_util_subvolume_info info;
	int64_t t = 0;
	int fd;

	if ((fd = open_subvol(dirfd, name)) < 0)
		return 0;
	if (btrfs_util_subvolume_info_fd(fd, 0, &info) == BTRFS_UTIL_OK)
		t = (int64_t)info.otime.tv_sec;
	close(fd);
	return t;
}

/* A UTC time stamp for snapshot names: 20260130T101500Z. */
static void
stamp(char *buf, size_t len)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(buf, len, "%Y%m%dT%H%M%SZ", &tm);
}

/*
 * A read-only snapshot of src named PREFIX-STAMP (or PREFIX-STAMP-N when
 * taken within the same second) in dirfd; the name is written to out.
 * Returns 0 or -1 with errno.
 */
static int
snapshot_stamped(int src, int dirfd, const char *prefix, char *out,
    size_t outlen)
{
	char ts[32];

	stamp(ts, sizeof(ts));
	for (int i = 0; i < 100; i++) {
		enum btrfs_util_error be;
		int n = i == 0 ? snprintf(out, outlen, "%s-%s", prefix, ts) :
		    snprintf(out, outlen, "%s-%s-%d", prefix, ts, i);

		if (n < 0 || (size_t)n >= outlen) {
			errno = ENAMETOOLONG;
			return -1;
		}
		errno = 0;
		be = btrfs_util_create_snapshot_fd2(src, dirfd, out,
		    BTRFS_UTIL_CREATE_SNAPSHOT_READ_ONLY, NULL, NULL);
		if (be == BTRFS_UTIL_OK)
			return 0;
		if (errno != EEXIST) {
			errno = bu_errno();
			return -1;
		}
	}
	errno = EEXIST;
	return -1;
}

/* Enable quotas (a no-op when they are on) and limit the referenced
 * bytes of the subvolume fd to size. */
static int
set_limit(const struct vw_backend_ctx *ctx, int fd, uint64_t size)
{
	struct btrfs_ioctl_quota_ctl_args qa;
	struct btrfs_ioctl_qgroup_limit_args la;

	memset(&qa, 0, sizeof(qa));
	qa.cmd = BTRFS_QUOTA_CTL_ENABLE;
	if (ioctl(ctx->root_fd, BTRFS_IOC_QUOTA_CTL, &qa) < 0)
		return -1;
	memset(&la, 0, sizeof(la));
	la.qgroupid = 0;	/* the qgroup 0/ID of fd's own subvolume */
	la.lim.flags = BTRFS_QGROUP_LIMIT_MAX_RFER;
	la.lim.max_rfer = size;
	return ioctl(fd, BTRFS_IOC_QGROUP_LIMIT, &la);
}

/* nocow and compression on the subvolume's empty top directory; new
 * files inherit both. */
static int
set_attrs(int fd, const struct vw_volume_opts *o, const char **what)
{
	if (o->flags & VW_OPT_NOCOW) {
		int fl;

		*what = "set nocow (chattr +C) on";
		if (ioctl(fd, FS_IOC_GETFLAGS, &fl) < 0)
			return -1;
		fl |= FS_NOCOW_FL;
		if (ioctl(fd, FS_IOC_SETFLAGS, &fl) < 0)
			return -1;
	}
	if (o->flags & VW_OPT_COMPRESSION) {
		const char *v = vw_compression_name(o->compression);

		*what = "set the btrfs.compression property of";
		if (fsetxattr(fd, "btrfs.compression", v, strlen(v), 0) < 0)
			return -1;
	}
	return 0;
}

/* The source subvolume of a "from" option, opened. */
static int
open_from(const struct vw_backend_ctx *ctx, const struct vw_volume_req *req,
    struct vw_volume_reply *rep, int *out)
{
	char vol[VW_NAME_MAX + 1], snap[VW_NAME_MAX + 1];
	int dfd, fd, err;

	if (vw_from_split(req->opts.from, vol, snap) < 0)
		return FAIL(rep, EINVAL, "option from: invalid value");
	if (snap[0] == '\0') {
		if ((fd = open_subvol(ctx->root_fd, vol)) < 0) {
			err = errno;
			return FAIL(rep, err, "option from: volume %s has no "
			    "subvolume under %s (%s); name an existing volume of "
			    "driver %s, or VOLUME@SNAPSHOT", vol, ctx->driver->root,
			    strerror(err), ctx->driver->name);
		}
		*out = fd;
		return 0;
	}
	if ((dfd = open_snapdir(ctx, vol, 0)) < 0 ||
	    (fd = open_subvol(dfd, snap)) < 0) {
		err = errno;
		if (dfd >= 0)
			close(dfd);
		return FAIL(rep, err, "option from: volume %s has no snapshot "
		    "%s (%s); list its snapshots and choose one", vol, snap,
		    strerror(err));
	}
	close(dfd);
	*out = fd;
	return 0;
}

static int
btrfs_create(const struct vw_backend_ctx *ctx, const struct vw_volume_req *req,
    struct vw_volume_reply *rep)
{
	const struct vw_volume_opts *o = &req->opts;
	const char *root = ctx->driver->root, *what = NULL;
	enum btrfs_util_error be;
	int fd, src = -1, created = 0, err;

	if (snprintf(rep->path, sizeof(rep->path), "%s/%s", root, req->name) >=
	    (int)sizeof(rep->path))
		return FAIL(rep, ENAMETOOLONG, "the path of volume %s is too long",
		    req->name);
	if ((o->flags & VW_OPT_FROM) && (err = open_from(ctx, req, rep, &src)) != 0)
		return err;
	errno = 0;
	if (src >= 0)
		be = btrfs_util_create_snapshot_fd2(src, ctx->root_fd, req->name, 0,
		    NULL, NULL);
	else
		be = btrfs_util_create_subvolume_fd(ctx->root_fd, req->name, 0,
		    NULL, NULL);
	err = be == BTRFS_UTIL_OK ? 0 : bu_errno();
	if (src >= 0)
		close(src);
	if (err != 0 && err != EEXIST)
		return FAIL(rep, err, "cannot create the subvolume %s: %s",
		    rep->path, strerror(err));
	created = err == 0;
	/* EEXIST: a Create retried after a crash reuses the subvolume. */
	if ((fd = open_subvol(ctx->root_fd, req->name)) < 0) {
		err = errno;
		return FAIL(rep, err, "%s exists but is not a BTRFS subvolume (%s); "
		    "move it away or choose another volume name", rep->path,
		    strerror(err));
	}
	if (created && set_attrs(fd, o, &what) < 0) {
		err = errno;
		goto undo;
	}
	if ((o->flags & VW_OPT_SIZE) && set_limit(ctx, fd, o->size) < 0) {
		err = errno;
		what = "set the size (qgroup limit) of";
		goto undo;
	}
	if ((o->flags & (VW_OPT_UID | VW_OPT_GID)) &&
	    fchown(fd, (o->flags & VW_OPT_UID) ? (uid_t)o->uid : (uid_t)-1,
	    (o->flags & VW_OPT_GID) ? (gid_t)o->gid : (gid_t)-1) < 0) {
		err = errno;
		what = "set the owner of";
		goto undo;
	}
	if ((o->flags & VW_OPT_MODE) && fchmod(fd, (mode_t)o->mode) < 0) {
		err = errno;
		what = "set the mode of";
		goto undo;
	}
	close(fd);
	log_info("volume %s: %s subvolume %s", req->name, created ?
	    (src >= 0 ? "created (clone of another)" : "created") :
	    "reusing existing", rep->path);
	return 0;
undo:
	close(fd);
	/* A subvolume made by this request goes again, so that a retry
	 * starts from scratch with the same options. */
	if (created && delete_tree(ctx->root_fd, req->name) < 0)
		log_warn("volume %s: cannot delete the half-made subvolume %s",
		    req->name, rep->path);
	return FAIL(rep, err, "cannot %s the subvolume %s: %s%s", what, rep->path,
	    strerror(err), err == EINVAL && (o->flags & VW_OPT_SIZE) ?
	    " (are quotas supported by this file system?)" : "");
}

static int
btrfs_mount(const struct vw_backend_ctx *ctx, const struct vw_volume_req *req,
    struct vw_volume_reply *rep)
{
	int fd, err;

	if (snprintf(rep->path, sizeof(rep->path), "%s/%s", ctx->driver->root,
	    req->name) >= (int)sizeof(rep->path))
		return FAIL(rep, ENAMETOOLONG, "the path of volume %s is too long",
		    req->name);
	/* open_subvol checks with fstatfs that BTRFS is there: a root whose
	 * file system is not mounted must not hand out a plain directory. */
	if ((fd = open_subvol(ctx->root_fd, req->name)) < 0) {
		err = errno;
		if (err == ENOENT)
			return FAIL(rep, err, "the subvolume %s of volume %s does "
			    "not exist (is the BTRFS file system mounted?); it is "
			    "not re-created: restore it, or remove and re-create "
			    "the volume", rep->path, req->name);
		if (err == EXDEV)
			return FAIL(rep, err, "%s of volume %s is not on a BTRFS "
			    "file system (is the right file system mounted at %s?)",
			    rep->path, req->name, ctx->driver->root);
		return FAIL(rep, err, "%s of volume %s is not a BTRFS subvolume "
		    "(%s); move it away and re-create the volume", rep->path,
		    req->name, strerror(err));
	}
	close(fd);
	return 0;
}

static int
btrfs_unmount(const struct vw_backend_ctx *ctx, const struct vw_volume_req *req,
    struct vw_volume_reply *rep)
{
	/* The subvolume is reachable in place: nothing was mounted. */
	snprintf(rep->path, sizeof(rep->path), "%s/%s", ctx->driver->root,
	    req->name);
	return 0;
}

/* Delete every snapshot of name and its directory in .snapshots. */
static int
delete_snapshots(const struct vw_backend_ctx *ctx, const char *name)
{
	struct dirent *de;
	DIR *d;
	int dfd, rc = 0, saved = 0;

	if ((dfd = open_snapdir(ctx, name, 0)) < 0)
		return errno == ENOENT ? 0 : -1;
	if ((d = fdopendir(dfd)) == NULL) {
		saved = errno;
		close(dfd);
		errno = saved;
		return -1;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (delete_tree(dirfd(d), de->d_name) < 0 && errno != ENOENT) {
			saved = errno;
			rc = -1;
			break;
		}
	}
	if (rc == 0 && errno != 0) {
		saved = errno;
		rc = -1;
	}
	closedir(d);
	if (rc == 0 && unlinkat(ctx->aux_fd, name, AT_REMOVEDIR) < 0 &&
	    errno != ENOENT) {
		saved = errno;
		rc = -1;
	}
	if (rc < 0)
		errno = saved;
	return rc;
}

static int
btrfs_remove(const struct vw_backend_ctx *ctx, const struct vw_volume_req *req,
    struct vw_volume_reply *rep)
{
	enum vw_on_remove how = ctx->driver->on_remove;
	int fd, err;

	snprintf(rep->path, sizeof(rep->path), "%s/%s", ctx->driver->root,
	    req->name);
	if (how == VW_ON_REMOVE_KEEP) {
		log_info("volume %s: removed; subvolume kept at %s", req->name,
		    rep->path);
		return 0;
	}
	if (how == VW_ON_REMOVE_ARCHIVE) {
		char aside[VW_NAME_MAX + 1];
		int dfd;

		if ((fd = open_subvol(ctx->root_fd, req->name)) < 0) {
			if (errno == ENOENT)
				return 0;	/* already gone */
			err = errno;
			return FAIL(rep, err, "cannot archive %s: %s; the data is "
			    "kept", rep->path, strerror(err));
		}
		if ((dfd = open_snapdir(ctx, req->name, 1)) < 0 ||
		    snapshot_stamped(fd, dfd, "removed", aside, sizeof(aside)) < 0) {
			err = errno;
			if (dfd >= 0)
				close(dfd);
			close(fd);
			return FAIL(rep, err, "cannot archive %s as a snapshot: %s; "
			    "the data is kept", rep->path, strerror(err));
		}
		close(dfd);
		close(fd);
		log_info("volume %s: archived as snapshot %s/%s/%s/%s", req->name,
		    ctx->driver->root, SNAPDIR, req->name, aside);
	}
	if (delete_tree(ctx->root_fd, req->name) < 0 && errno != ENOENT) {
		err = errno;
		return FAIL(rep, err, "cannot delete the subvolume %s: %s; what "
		    "remains is kept, fix the cause and remove the volume again",
		    rep->path, strerror(err));
	}
	if (how == VW_ON_REMOVE_DELETE && delete_snapshots(ctx, req->name) < 0) {
		err = errno;
		return FAIL(rep, err, "the subvolume %s is deleted, but not all of "
		    "its snapshots under %s/%s/%s: %s; remove the volume again",
		    rep->path, ctx->driver->root, SNAPDIR, req->name,
		    strerror(err));
	}
	log_info("volume %s: removed and deleted subvolume %s%s", req->name,
	    rep->path, how == VW_ON_REMOVE_DELETE ? " and its snapshots" : "");
	return 0;
}

/* ---------------------------------------------------------- snapshots */

static int
btrfs_snap_create(const struct vw_backend_ctx *ctx, const struct vw_snap_req *req,
    struct vw_snap_reply *rep)
{
	enum btrfs_util_error be;
	int fd, dfd, err;

	if ((fd = open_subvol(ctx->root_fd, req->name)) < 0) {
		err = errno;
		return FAIL(rep, err, "volume %s has no subvolume under %s (%s)",
		    req->name, ctx->driver->root, strerror(err));
	}
	if ((dfd = open_snapdir(ctx, req->name, 1)) < 0) {
		err = errno;
		close(fd);
		return FAIL(rep, err, "cannot open %s/%s/%s: %s", ctx->driver->root,
		    SNAPDIR, req->name, strerror(err));
	}
	errno = 0;
	be = btrfs_util_create_snapshot_fd2(fd, dfd, req->snap,
	    BTRFS_UTIL_CREATE_SNAPSHOT_READ_ONLY, NULL, NULL);
	err = be == BTRFS_UTIL_OK ? 0 : bu_errno();
	close(fd);
	if (err == 0) {
		snprintf(rep->entries[0].name, sizeof(rep->entries[0].name), "%s",
		    req->snap);
		rep->entries[0].created = subvol_otime(dfd, req->snap);
		rep->count = 1;
	}
	close(dfd);
	if (err == EEXIST)
		return FAIL(rep, err, "volume %s already has a snapshot named %s; "
		    "choose another name or delete that snapshot first",
		    req->name, req->snap);
	if (err != 0)
		return FAIL(rep, err, "cannot snapshot volume %s: %s", req->name,
		    strerror(err));
	log_info("volume %s: snapshot %s created", req->name, req->snap);
	return 0;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
btrfs_snap_list(const struct vw_backend_ctx *ctx, const struct vw_snap_req *req,
    struct vw_snap_reply *rep)
{
	char **names = NULL;
	struct dirent *de;
	size_t n = 0, cap = 0;
	DIR *d;
	int dfd, err = 0;

	if ((dfd = open_snapdir(ctx, req->name, 0)) < 0) {
		if (errno == ENOENT)
			return 0;	/* no snapshot yet */
		err = errno;
		return FAIL(rep, err, "cannot read the snapshots of volume %s: %s",
		    req->name, strerror(err));
	}
	if ((d = fdopendir(dfd)) == NULL) {
		err = errno;
		close(dfd);
		return FAIL(rep, err, "cannot read the snapshots of volume %s: %s",
		    req->name, strerror(err));
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		char why[128];

		/* Only names a user could have given; skips "." and "..". */
		if (vw_name_valid(de->d_name, strlen(de->d_name), why,
		    sizeof(why)) < 0)
			continue;
		if (n == SNAP_MAX) {
			err = E2BIG;
			break;
		}
		if (n == cap) {
			char **nn = reallocarray(names, cap ? cap * 2 : 32,
			    sizeof(*names));

			if (nn == NULL) {
				err = ENOMEM;
				break;
			}
			names = nn;
			cap = cap ? cap * 2 : 32;
		}
		if ((names[n] = strdup(de->d_name)) == NULL) {
			err = ENOMEM;
			break;
		}
		n++;
	}
	if (err == 0 && errno != 0)
		err = errno;
	if (err == 0) {
		qsort(names, n, sizeof(*names), cmp_names);
		rep->total = (uint32_t)n;
		for (size_t i = req->offset; i < n &&
		    rep->count < VW_SNAP_LIST_MAX; i++) {
			struct vw_snap_entry *e = &rep->entries[rep->count++];

			snprintf(e->name, sizeof(e->name), "%s", names[i]);
			e->created = subvol_otime(dirfd(d), names[i]);
		}
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	if (err != 0)
		return FAIL(rep, err, "cannot list the snapshots of volume %s: %s",
		    req->name, strerror(err));
	return 0;
}

static int
btrfs_snap_delete(const struct vw_backend_ctx *ctx, const struct vw_snap_req *req,
    struct vw_snap_reply *rep)
{
	int dfd, err;

	if ((dfd = open_snapdir(ctx, req->name, 0)) < 0 ||
	    delete_tree(dfd, req->snap) < 0) {
		err = errno;
		if (dfd >= 0)
			close(dfd);
		if (err == ENOENT)
			return FAIL(rep, err, "volume %s has no snapshot %s",
			    req->name, req->snap);
		return FAIL(rep, err, "cannot delete snapshot %s of volume %s: %s",
		    req->snap, req->name, strerror(err));
	}
	close(dfd);
	log_info("volume %s: snapshot %s deleted", req->name, req->snap);
	return 0;
}

/*
 * Restore: keep the current state as the read-only snapshot
 * pre-restore-STAMP, make a writable snapshot of SNAP at ROOT/.restore-NAME,
 * swap it with ROOT/NAME (renameat2 RENAME_EXCHANGE, atomic for anyone
 * opening the path), then delete the old subvolume.
 */
static int
btrfs_snap_restore(const struct vw_backend_ctx *ctx,
    const struct vw_snap_req *req, struct vw_snap_reply *rep)
{
	char tmp[VW_NAME_MAX + 16], pre[VW_NAME_MAX + 1];
	enum btrfs_util_error be;
	int dfd, src = -1, live = -1, fd, err;

	snprintf(tmp, sizeof(tmp), ".restore-%s", req->name);
	if ((dfd = open_snapdir(ctx, req->name, 0)) < 0 ||
	    (src = open_subvol(dfd, req->snap)) < 0) {
		err = errno;
		if (dfd >= 0)
			close(dfd);
		return FAIL(rep, err, "volume %s has no snapshot %s (%s)",
		    req->name, req->snap, strerror(err));
	}
	if ((live = open_subvol(ctx->root_fd, req->name)) < 0) {
		err = errno;
		goto fail_msg;
	}
	if (snapshot_stamped(live, dfd, "pre-restore", pre, sizeof(pre)) < 0) {
		err = errno;
		goto fail_msg;
	}
	snprintf(rep->entries[0].name, sizeof(rep->entries[0].name), "%s", pre);
	rep->entries[0].created = subvol_otime(dfd, pre);
	rep->count = 1;
	/* A leftover of an interrupted restore is an old state: drop it. */
	if (delete_tree(ctx->root_fd, tmp) < 0 && errno != ENOENT) {
		err = errno;
		goto fail_msg;
	}
	errno = 0;
	be = btrfs_util_create_snapshot_fd2(src, ctx->root_fd, tmp, 0, NULL, NULL);
	if (be != BTRFS_UTIL_OK) {
		err = bu_errno();
		goto fail_msg;
	}
	if (req->size != 0) {
		if ((fd = open_subvol(ctx->root_fd, tmp)) < 0 ||
		    set_limit(ctx, fd, req->size) < 0) {
			err = errno;
			if (fd >= 0)
				close(fd);
			(void)delete_tree(ctx->root_fd, tmp);
			goto fail_msg;
		}
		close(fd);
	}
	if (renameat2(ctx->root_fd, tmp, ctx->root_fd, req->name,
	    RENAME_EXCHANGE) < 0) {
		err = errno;
		(void)delete_tree(ctx->root_fd, tmp);
		goto fail_msg;
	}
	if (delete_tree(ctx->root_fd, tmp) < 0)
		log_warn("volume %s: restored, but the replaced subvolume %s/%s "
		    "could not be deleted; the next restore deletes it",
		    req->name, ctx->driver->root, tmp);
	close(live);
	close(src);
	close(dfd);
	log_info("volume %s: restored from snapshot %s; the previous state is "
	    "snapshot %s", req->name, req->snap, pre);
	return 0;
fail_msg:
	if (live >= 0)
		close(live);
	close(src);
	close(dfd);
	return FAIL(rep, err, "cannot restore volume %s from snapshot %s: %s; "
	    "the volume is unchanged", req->name, req->snap, strerror(err));
}

/* ------------------------------------------------------------- status */

/*
 * The item (0, type, offset) of the quota tree, whose first len bytes go
 * to buf.  Returns 1, 0 if there is none, or -1 with errno (ENOENT:
 * quotas are off, there is no quota tree).  BTRFS_IOC_TREE_SEARCH needs
 * CAP_SYS_ADMIN; libbtrfsutil has no qgroup API.
 */
static int
quota_item(int fd, uint8_t type, uint64_t offset, void *buf, size_t len)
{
	struct btrfs_ioctl_search_args args;
	struct btrfs_ioctl_search_key *sk = &args.key;
	struct btrfs_ioctl_search_header sh;

	memset(&args, 0, sizeof(args));
	sk->tree_id = BTRFS_QUOTA_TREE_OBJECTID;
	sk->min_type = sk->max_type = type;
	sk->min_offset = sk->max_offset = offset;
	sk->max_transid = UINT64_MAX;
	sk->nr_items = 1;
	if (ioctl(fd, BTRFS_IOC_TREE_SEARCH, &args) < 0)
		return -1;
	if (sk->nr_items == 0)
		return 0;
	memcpy(&sh, args.buf, sizeof(sh));
	if (sh.objectid != 0 || sh.type != type || sh.offset != offset ||
	    sh.len < len || sh.len > sizeof(args.buf) - sizeof(sh))
		return 0;
	memcpy(buf, args.buf + sizeof(sh), len);
	return 1;
}

/* Snapshots of name in .snapshots (names a user could have given, as
 * LIST counts them); 0 when there is no directory yet. */
static int
count_snapshots(const struct vw_backend_ctx *ctx, const char *name,
    uint32_t *out)
{
	struct dirent *de;
	uint32_t n = 0;
	DIR *d;
	int dfd, saved;

	*out = 0;
	if ((dfd = open_snapdir(ctx, name, 0)) < 0)
		return errno == ENOENT ? 0 : -1;
	if ((d = fdopendir(dfd)) == NULL) {
		saved = errno;
		close(dfd);
		errno = saved;
		return -1;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		char why[128];

		if (vw_name_valid(de->d_name, strlen(de->d_name), why,
		    sizeof(why)) == 0)
			n++;
	}
	saved = errno;
	closedir(d);
	if (saved != 0) {
		errno = saved;
		return -1;
	}
	*out = n;
	return 0;
}

/*
 * Get's Status: the subvolume id, the number of snapshots and, with
 * quotas on, the qgroup's referenced and exclusive bytes (as of the last
 * transaction commit) and its limit.
 */
static int
btrfs_status(const struct vw_backend_ctx *ctx, const struct vw_volume_req *req,
    struct vw_status_reply *rep)
{
	struct btrfs_qgroup_status_item qs;
	struct btrfs_qgroup_info_item qi;
	struct btrfs_qgroup_limit_item ql;
	uint64_t id, flags;
	uint32_t nsnap;
	int fd, err, rc, ri = 0, rl = 0;

	if ((fd = open_subvol(ctx->root_fd, req->name)) < 0) {
		err = errno;
		return FAIL(rep, err, "the subvolume %s/%s of volume %s cannot be "
		    "opened: %s", ctx->driver->root, req->name, req->name,
		    strerror(err));
	}
	errno = 0;
	if (btrfs_util_subvolume_id_fd(fd, &id) != BTRFS_UTIL_OK) {
		err = bu_errno();
		close(fd);
		return FAIL(rep, err, "cannot read the subvolume id of %s/%s: %s",
		    ctx->driver->root, req->name, strerror(err));
	}
	vw_status_add(rep, "subvolume_id", "%llu", (unsigned long long)id);
	if (count_snapshots(ctx, req->name, &nsnap) < 0) {
		err = errno;
		close(fd);
		return FAIL(rep, err, "cannot count the snapshots of volume %s: %s",
		    req->name, strerror(err));
	}
	vw_status_add(rep, "snapshots", "%u", nsnap);
	rc = quota_item(fd, BTRFS_QGROUP_STATUS_KEY, 0, &qs, sizeof(qs));
	if (rc < 0 && errno == ENOENT) {
		close(fd);
		vw_status_add(rep, "quota", "off");
		return 0;
	}
	if (rc < 0 || (ri = quota_item(fd, BTRFS_QGROUP_INFO_KEY, id, &qi,
	    sizeof(qi))) < 0 || (rl = quota_item(fd, BTRFS_QGROUP_LIMIT_KEY, id,
	    &ql, sizeof(ql))) < 0) {
		err = errno;
		close(fd);
		return FAIL(rep, err, "cannot read the quota group 0/%llu of "
		    "volume %s: %s", (unsigned long long)id, req->name,
		    strerror(err));
	}
	close(fd);
	flags = rc == 1 ? le64toh(qs.flags) : 0;
	if (ri == 0) {
		vw_status_add(rep, "quota", "on, no quota group for this subvolume");
		return 0;
	}
	vw_status_add(rep, "quota", "%s",
	    (flags & BTRFS_QGROUP_STATUS_FLAG_INCONSISTENT) ? "on, inconsistent "
	    "(btrfs quota rescan fixes the numbers)" :
	    (flags & BTRFS_QGROUP_STATUS_FLAG_RESCAN) ? "on, rescan running" :
	    "on");
	vw_status_add(rep, "referenced_bytes", "%llu",
	    (unsigned long long)le64toh(qi.rfer));
	vw_status_add(rep, "exclusive_bytes", "%llu",
	    (unsigned long long)le64toh(qi.excl));
	if (rl == 1 && (le64toh(ql.flags) & BTRFS_QGROUP_LIMIT_MAX_RFER))
		vw_status_add(rep, "limit_bytes", "%llu",
		    (unsigned long long)le64toh(ql.max_rfer));
	return 0;
}

/* ------------------------------------------------------------ start-up */

static int
btrfs_init(struct vw_backend_ctx *ctx, char *err, size_t errlen)
{
	const char *root = ctx->driver->root;
	struct statfs sf;
	struct stat st;
	int fd;

	if (fstatfs(ctx->root_fd, &sf) < 0)
		return vw_failf(err, errlen, -1, "driver %s: statfs %s: %s",
		    ctx->driver->name, root, strerror(errno));
	if (sf.f_type != BTRFS_SUPER_MAGIC)
		return vw_failf(err, errlen, -1, "driver %s (backend btrfs): root %s "
		    "is not on a BTRFS file system (statfs type 0x%llx); mount a "
		    "BTRFS file system there or choose a root on one",
		    ctx->driver->name, root, (unsigned long long)sf.f_type);
	if (mkdirat(ctx->root_fd, SNAPDIR, 0700) < 0 && errno != EEXIST)
		return vw_failf(err, errlen, -1, "driver %s: cannot create %s/%s: %s",
		    ctx->driver->name, root, SNAPDIR, strerror(errno));
	fd = openat(ctx->root_fd, SNAPDIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return vw_failf(err, errlen, -1, "driver %s: cannot open %s/%s (it "
		    "must be a directory, not a symbolic link): %s",
		    ctx->driver->name, root, SNAPDIR, strerror(errno));
	if (st.st_uid != 0 || (st.st_mode & 077)) {
		close(fd);
		return vw_failf(err, errlen, -1, "driver %s: %s/%s must be owned by "
		    "root with mode 0700 (chown root; chmod 0700)",
		    ctx->driver->name, root, SNAPDIR);
	}
	ctx->aux_fd = fd;
	return 0;
}

const struct vw_backend vw_backend_btrfs = {
	.name = "btrfs",
	/*
	 * The dir set (CHOWN, DAC_OVERRIDE, FOWNER, FSETID: uid/gid/mode
	 * and trees containers wrote) plus CAP_SYS_ADMIN, which the kernel
	 * requires for BTRFS_IOC_SNAP_DESTROY (without user_subvol_rm_allowed),
	 * BTRFS_IOC_QUOTA_CTL, BTRFS_IOC_QGROUP_LIMIT and BTRFS_IOC_TREE_SEARCH
	 * (libbtrfsutil's subvolume iterator and subvolume_info as root).
	 * See doc/design.md section 10.
	 */
	.caps = (1ULL << CAP_CHOWN) | (1ULL << CAP_DAC_OVERRIDE) |
	    (1ULL << CAP_FOWNER) | (1ULL << CAP_FSETID) | (1ULL << CAP_SYS_ADMIN),
	.init = btrfs_init,
	.create = btrfs_create,
	.remove = btrfs_remove,
	.mount = btrfs_mount,
	.unmount = btrfs_unmount,
	.snap_create = btrfs_snap_create,
	.snap_list = btrfs_snap_list,
	.snap_delete = btrfs_snap_delete,
	.snap_restore = btrfs_snap_restore,
	.status = btrfs_status,
};
