/*
 * The dir backend: a volume is a directory that outlives `docker volume
 * rm` (local-persist semantics).  It lives at ROOT/NAME, at ROOT/REL for a
 * relative mountpoint option, or at an absolute mountpoint strictly
 * beneath one of the driver's allowed roots.
 */
#include "vw-build.h"

#include <errno.h>
#include <limits.h>
#include <linux/capability.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backends/backend.h"
#include "common/log.h"
#include "common/validate.h"
#include "privhelper/privhelper.h"

/* Where a volume lives: a base fd from the helper's own table and a
 * relative path beneath it, plus the absolute path to report. */
struct location {
	int		 basefd;
	size_t		 base;		/* allowed root index, (size_t)-1: root */
	const char	*rel;
	char		 abs[VW_PATH_MAX];
};

static int
locate(const struct vw_backend_ctx *ctx, const struct vw_volume_req *req,
    struct location *loc, struct vw_volume_reply *rep)
{
	size_t allowed;

	if (vw_volume_path(ctx->driver, req->name, &req->opts, loc->abs,
	    sizeof(loc->abs), &allowed, &loc->rel, rep->msg, sizeof(rep->msg)) < 0)
		return EPERM;
	loc->basefd = allowed == (size_t)-1 ? ctx->root_fd :
	    ctx->allowed_fds[allowed];
	loc->base = allowed;
	return 0;
}

static int
dir_create(const struct vw_backend_ctx *ctx, const struct vw_volume_req *req,
    struct vw_volume_reply *rep)
{
	const struct vw_volume_opts *o = &req->opts;
	struct location loc;
	int fd, created, err;

	if ((err = locate(ctx, req, &loc, rep)) != 0)
		return err;
	fd = ph_open_beneath(loc.basefd, loc.rel, 1, &created);
	if (fd < 0) {
		err = errno;
		if (err == ELOOP)
			return VW_FAIL(rep, err, "cannot create %s: a component of the "
			    "path is a symbolic link, which is never followed; "
			    "replace it with a real directory", loc.abs);
		if (err == ENOTDIR)
			return VW_FAIL(rep, err, "cannot create %s: a component of the "
			    "path exists and is not a directory", loc.abs);
		return VW_FAIL(rep, err, "cannot create %s: %s", loc.abs,
		    strerror(err));
	}
	if ((o->flags & (VW_OPT_UID | VW_OPT_GID)) &&
	    fchown(fd, (o->flags & VW_OPT_UID) ? (uid_t)o->uid : (uid_t)-1,
	    (o->flags & VW_OPT_GID) ? (gid_t)o->gid : (gid_t)-1) < 0) {
		err = errno;
		close(fd);
		return VW_FAIL(rep, err, "cannot set the owner of %s: %s", loc.abs,
		    strerror(err));
	}
	/* chown may clear setgid bits, so the mode goes last. */
	if ((o->flags & VW_OPT_MODE) && fchmod(fd, (mode_t)o->mode) < 0) {
		err = errno;
		close(fd);
		return VW_FAIL(rep, err, "cannot set the mode of %s: %s", loc.abs,
		    strerror(err));
	}
	if (o->flags & (VW_OPT_MODE | VW_OPT_UID | VW_OPT_GID)) {
		struct stat st;

		if (fstat(fd, &st) < 0 ||
		    ((o->flags & VW_OPT_MODE) && (st.st_mode & 07777) != o->mode) ||
		    ((o->flags & VW_OPT_UID) && st.st_uid != o->uid) ||
		    ((o->flags & VW_OPT_GID) && st.st_gid != o->gid)) {
			close(fd);
			return VW_FAIL(rep, EPERM, "the owner or mode of %s did not "
			    "take effect (file system without ownership "
			    "support?); choose other options or another root",
			    loc.abs);
		}
	}
	close(fd);
	log_info("volume %s: %s %s", req->name, created ? "created" :
	    "reusing existing directory", loc.abs);
	memcpy(rep->path, loc.abs, sizeof(loc.abs));
	return 0;
}

static int
dir_mount(const struct vw_backend_ctx *ctx, const struct vw_volume_req *req,
    struct vw_volume_reply *rep)
{
	struct location loc;
	int fd, err;

	if ((err = locate(ctx, req, &loc, rep)) != 0)
		return err;
	/* Never re-create: a vanished directory usually means its disk is
	 * not mounted, and a container must not write to the wrong one. */
	fd = ph_open_beneath(loc.basefd, loc.rel, 0, NULL);
	if (fd < 0) {
		err = errno;
		if (err == ENOENT)
			return VW_FAIL(rep, err, "the directory %s of volume %s does "
			    "not exist (is the file system it lives on mounted?); "
			    "it is not re-created: restore it, or remove and "
			    "re-create the volume", loc.abs, req->name);
		if (err == ELOOP || err == EXDEV)
			return VW_FAIL(rep, err, "the path %s of volume %s contains a "
			    "symbolic link, which is never followed; replace it "
			    "with a real directory", loc.abs, req->name);
		return VW_FAIL(rep, err, "cannot open %s of volume %s: %s", loc.abs,
		    req->name, strerror(err));
	}
	close(fd);
	memcpy(rep->path, loc.abs, sizeof(loc.abs));
	return 0;
}

static int
dir_unmount(const struct vw_backend_ctx *ctx, const struct vw_volume_req *req,
    struct vw_volume_reply *rep)
{
	struct location loc;
	int err;

	/* Nothing is mounted for a plain directory. */
	if ((err = locate(ctx, req, &loc, rep)) != 0)
		return err;
	memcpy(rep->path, loc.abs, sizeof(loc.abs));
	return 0;
}

/* Split rel into the parent directory (opened) and the last component. */
static int
open_parent(int basefd, const char *rel, const char **last)
{
	char parent[VW_PATH_MAX];
	const char *slash = strrchr(rel, '/');

	if (slash == NULL) {
		*last = rel;
		return fcntl(basefd, F_DUPFD_CLOEXEC, 0);
	}
	memcpy(parent, rel, (size_t)(slash - rel));
	parent[slash - rel] = '\0';
	*last = slash + 1;
	return ph_open_beneath(basefd, parent, 0, NULL);
}

static int
dir_remove(const struct vw_backend_ctx *ctx, const struct vw_volume_req *req,
    struct vw_volume_reply *rep)
{
	const struct vw_driver *d = ctx->driver;
	struct location loc;
	const char *last;
	int pfd, err;

	if ((err = locate(ctx, req, &loc, rep)) != 0)
		return err;
	memcpy(rep->path, loc.abs, sizeof(loc.abs));
	if (d->on_remove == VW_ON_REMOVE_KEEP) {
		log_info("volume %s: removed; data kept at %s", req->name, loc.abs);
		return 0;
	}
	if ((pfd = open_parent(loc.basefd, loc.rel, &last)) < 0) {
		err = errno;
		if (err == ENOENT)
			return 0;	/* already gone */
		return VW_FAIL(rep, err, "cannot open the parent of %s: %s", loc.abs,
		    strerror(err));
	}
	if (d->on_remove == VW_ON_REMOVE_ARCHIVE) {
		char aside[NAME_MAX + 1], stamp[32];
		time_t now = time(NULL);
		struct tm tm;

		gmtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
		/* Two removals in one second get -1, -2, ... suffixes; a
		 * long name is shortened so that the result still fits
		 * NAME_MAX (the suffix is at most 29 bytes). */
		int keep = (int)strlen(last);

		if (keep > NAME_MAX - 30)
			keep = NAME_MAX - 30;
		for (int i = 0; ; i++) {
			int n = i == 0 ?
			    snprintf(aside, sizeof(aside), "%.*s.removed-%s", keep,
			    last, stamp) :
			    snprintf(aside, sizeof(aside), "%.*s.removed-%s-%d", keep,
			    last, stamp, i);

			if (n < 0 || (size_t)n >= sizeof(aside)) {
				close(pfd);
				return VW_FAIL(rep, ENAMETOOLONG, "cannot archive %s: "
				    "the archived name would be too long; the data "
				    "is kept", loc.abs);
			}
			if (renameat2(pfd, last, pfd, aside, RENAME_NOREPLACE) == 0)
				break;
			if (errno == ENOENT) {
				close(pfd);
				return 0;	/* already gone */
			}
			if (errno != EEXIST || i >= 100) {
				err = errno;
				close(pfd);
				return VW_FAIL(rep, err, "cannot archive %s: %s; the "
				    "data is kept", loc.abs, strerror(err));
			}
		}
		close(pfd);
		log_info("volume %s: removed; data archived as %s", req->name,
		    aside);
		return 0;
	}
	/* Delete later: move the tree into the trash at once (one rename on
	 * the same file system) and let the helper empty it between
	 * requests.  A directory that is a mount point (EBUSY) or on another
	 * file system than its root (EXDEV), or a root without a trash, is
	 * deleted now, while Remove waits. */
	{
		char entry[NAME_MAX + 1];
		struct stat st;

		if (fstatat(pfd, last, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			err = errno;
			close(pfd);
			if (err == ENOENT)
				return 0;	/* already gone */
			return VW_FAIL(rep, err, "cannot delete %s: %s; the data is "
			    "kept", loc.abs, strerror(err));
		}
		if (S_ISLNK(st.st_mode)) {
			close(pfd);
			return VW_FAIL(rep, ELOOP, "cannot delete %s: it is a symbolic "
			    "link, which is never followed; nothing was deleted "
			    "(remove the link by hand if it is not wanted)",
			    loc.abs);
		}
		/* A mount inside would move along into the trash and stop
		 * its deletion there: refuse now, having deleted nothing. */
		if (S_ISDIR(st.st_mode) && ph_mounts_beneath(loc.abs) > 0) {
			close(pfd);
			return VW_FAIL(rep, EXDEV, "cannot delete %s: it contains a "
			    "mount point, which is never entered; nothing was "
			    "deleted: unmount it and remove the volume again",
			    loc.abs);
		}
		if (S_ISDIR(st.st_mode) && ph_trash_move(loc.base, pfd, last,
		    entry, sizeof(entry)) == 0) {
			close(pfd);
			log_info("volume %s: removed; %s moved to the trash as %s "
			    "and deleted in the background", req->name, loc.abs,
			    entry);
			return 0;
		}
		if (S_ISDIR(st.st_mode) && errno == ENOENT) {
			close(pfd);
			return 0;
		}
		if (S_ISDIR(st.st_mode) && errno != ENOSYS && errno != EXDEV &&
		    errno != EBUSY) {
			err = errno;
			close(pfd);
			return VW_FAIL(rep, err, "cannot move %s to the trash: %s; the "
			    "data is kept", loc.abs, strerror(err));
		}
	}
	if (ph_remove_tree(pfd, last) < 0 && errno != ENOENT) {
		err = errno;
		close(pfd);
		if (err == EXDEV)
			return VW_FAIL(rep, err, "cannot delete %s completely: it "
			    "contains a mount point or another file system, which is "
			    "never entered; what was not yet deleted is kept: "
			    "unmount it and remove the volume again", loc.abs);
		return VW_FAIL(rep, err, "cannot delete %s completely: %s; what "
		    "remains is kept, fix the cause and remove the volume again",
		    loc.abs, strerror(err));
	}
	close(pfd);
	log_info("volume %s: removed and deleted %s", req->name, loc.abs);
	return 0;
}

/* Start-up: the trash directories (privhelper/trash.c). */
static int
dir_init(struct vw_backend_ctx *ctx, char *err, size_t errlen)
{
	return ph_trash_init(ctx, err, errlen);
}

const struct vw_backend vw_backend_dir = {
	.name = "dir",
	/* CAP_CHOWN for the uid/gid options; CAP_FOWNER for mode on a
	 * directory another user owns; CAP_FSETID so that a setgid mode
	 * survives when the directory's group is not ours; CAP_DAC_OVERRIDE
	 * to read, search and delete (on_remove delete) trees that
	 * containers wrote with any owner and mode.  CAP_DAC_READ_SEARCH is
	 * not needed (DAC_OVERRIDE covers directories) and would allow
	 * open_by_handle_at. */
	.caps = (1ULL << CAP_CHOWN) | (1ULL << CAP_DAC_OVERRIDE) |
	    (1ULL << CAP_FOWNER) | (1ULL << CAP_FSETID),
	.init = dir_init,
	.create = dir_create,
	.remove = dir_remove,
	.mount = dir_mount,
	.unmount = dir_unmount,
};

const struct vw_backend *
vw_backend_get(enum vw_backend_type type)
{
	switch (type) {
	case VW_BACKEND_DIR:
		return &vw_backend_dir;
	case VW_BACKEND_BTRFS:
		return &vw_backend_btrfs;
	case VW_BACKEND_LOOP:
		return &vw_backend_loop;
	case VW_BACKEND_GLUSTERFS:
		return &vw_backend_glusterfs;
	}
	return NULL;
}
