/*
 * The trash: on_remove delete without stalling the helper.
 *
 * Deleting a volume's tree takes as long as it holds files (minutes for
 * millions), and the helper serves one request at a time.  So a Remove
 * only renames the volume's directory into a trash directory kept
 * directly below the same root, ROOT/.volwarden-trash (mode 0700, root's),
 * which is one atomic rename on the same file system, and replies.  The
 * tree is deleted later, in slices of at most SLICE_NS or SLICE_OPS
 * operations, whenever no request is waiting on the channel
 * (ph_trash_wait).  Whatever is left when the helper exits is found and
 * deleted at its next start.
 *
 * The deletion follows the rules of ph_remove_tree: openat2 with
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV (or an O_NOFOLLOW walk) for every
 * directory, unlinkat for everything else (symlinks are removed, never
 * followed), no descent into another file system or subvolume (st_dev),
 * at most MAX_DEPTH levels.  Only entries the helper named (TRASH_PREFIX)
 * are touched, so a directory that happened to be called .volwarden-trash
 * before this version keeps its contents.  An entry that cannot be
 * deleted (a mount point inside, an immutable file) is logged, left in
 * place and retried at the next start.
 */
#include "vw-build.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/validate.h"
#include "privhelper/privhelper.h"

/* One slice of deleting: this long, or this many operations, at most. */
#define SLICE_NS	(10 * 1000 * 1000)
#define SLICE_OPS	4096
/* Deepest tree deleted (one open directory per level), as ph_remove_tree. */
#define MAX_DEPTH	256
/* rmdir of a directory still not empty after reading it to the end
 * (something inside keeps creating files): give up on the entry after
 * this many rereads. */
#define MAX_REREADS	3
/* Names of trash entries; nothing else in the trash is touched. */
#define TRASH_PREFIX	"vwt-"

/* An entry that could not be deleted, skipped until the next start. */
struct skip {
	struct skip	*next;
	char		 name[NAME_MAX + 1];
};

/* The trash below one root. */
struct trash {
	int		 fd;		/* ROOT/.volwarden-trash, or -1: none */
	dev_t		 dev;
	char		 path[VW_PATH_MAX];
	int		 pending;	/* entries may be left */
	struct skip	*skip;
};

/* One open directory of the tree being deleted. */
struct level {
	DIR	*d;
	char	 name[NAME_MAX + 1];	/* in the level above (or the trash) */
};

static struct trash *trashes;	/* [0] the driver root, [1 + i] allowed root i */
static size_t ntrash;
static size_t cur;		/* the trash being emptied */
static struct level stack[MAX_DEPTH + 1];
static int top = -1;		/* deepest open level, -1: none */
static int rereads;		/* of the current entry */
static uint64_t removed;	/* files and directories, current entry */
static uint64_t seq;		/* makes entry names unique */

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Open (making it if missing and create is set) the trash below the
 * root basefd at path. */
static int
trash_open(struct trash *t, int basefd, const char *path, int create,
    char *err, size_t errlen)
{
	struct stat st, bst;
	uint64_t a, b;
	int fd;

	t->fd = -1;
	snprintf(t->path, sizeof(t->path), "%s/%s", path, VW_TRASH_DIR);
	if (!create && fstatat(basefd, VW_TRASH_DIR, &st,
	    AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
		return 0;
	if (create && mkdirat(basefd, VW_TRASH_DIR, 0700) < 0 &&
	    errno != EEXIST) {
		/* Not fatal: Remove then deletes at once, as before. */
		log_warn("cannot create %s; volumes there are deleted while "
		    "Remove waits", t->path);
		return 0;
	}
	fd = openat(basefd, VW_TRASH_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || fstat(basefd, &bst) < 0) {
		snprintf(err, errlen, "cannot open %s (it must be a directory, "
		    "not a symbolic link): %s", t->path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	/* Only root may have put it there (the root is root's and not
	 * writable by others), but say so if its owner or mode changed. */
	if (st.st_uid != 0 || (st.st_mode & 077) != 0) {
		snprintf(err, errlen, "%s must be owned by root with mode 0700 "
		    "(chown root %s; chmod 0700 %s)", t->path, t->path, t->path);
		close(fd);
		return -1;
	}
	/* A rename into it must stay on one file system: something mounted
	 * on the trash would make every Remove fall back to deleting. */
	if (st.st_dev != bst.st_dev || (ph_mount_id(fd, &a) == 0 &&
	    ph_mount_id(basefd, &b) == 0 && a != b)) {
		log_warnx("%s is a mount point; volumes there are deleted while "
		    "Remove waits", t->path);
		close(fd);
		return 0;
	}
	t->fd = fd;
	t->dev = st.st_dev;
	t->pending = 1;		/* look: a previous run may have left some */
	return 0;
}

int
ph_trash_init(const struct vw_backend_ctx *ctx, char *err, size_t errlen)
{
	const struct vw_driver *d = ctx->driver;
	/* Only a delete driver makes trash; any other empties what a
	 * previous configuration left. */
	int create = d->on_remove == VW_ON_REMOVE_DELETE;

	ntrash = 1 + d->nallowed;
	if ((trashes = calloc(ntrash, sizeof(*trashes))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (trash_open(&trashes[0], ctx->root_fd, d->root, create, err,
	    errlen) < 0)
		return -1;
	for (size_t i = 0; i < d->nallowed; i++)
		if (trash_open(&trashes[1 + i], ctx->allowed_fds[i],
		    d->allowed_roots[i], create, err, errlen) < 0)
			return -1;
	return 0;
}

int
ph_trash_move(size_t base, int pfd, const char *name, char *entry,
    size_t entrylen)
{
	struct trash *t = base == (size_t)-1 ? &trashes[0] :
	    base + 1 < ntrash ? &trashes[base + 1] : NULL;
	struct timespec ts;

	if (t == NULL || t->fd < 0) {
		errno = ENOSYS;
		return -1;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	for (int i = 0; i < 100; i++) {
		/* Unique, and still recognisable in a listing: the volume's
		 * directory name follows, cut to fit NAME_MAX. */
		snprintf(entry, entrylen, TRASH_PREFIX "%llx-%llx-%.200s",
		    (unsigned long long)ts.tv_sec, (unsigned long long)seq++,
		    name);
		if (renameat2(pfd, name, t->fd, entry, RENAME_NOREPLACE) == 0) {
			t->pending = 1;
			return 0;
		}
		if (errno != EEXIST)
			return -1;
	}
	return -1;
}

int
ph_trash_pending(void)
{
	if (top >= 0)
		return 1;
	for (size_t i = 0; i < ntrash; i++)
		if (trashes[i].pending && trashes[i].fd >= 0)
			return 1;
	return 0;
}

static int
skipped(const struct trash *t, const char *name)
{
	for (const struct skip *s = t->skip; s != NULL; s = s->next)
		if (strcmp(s->name, name) == 0)
			return 1;
	return 0;
}

/* Close every open level of the current entry. */
static void
drop_stack(void)
{
	for (; top >= 0; top--)
		closedir(stack[top].d);
	rereads = 0;
	removed = 0;
}

/* The current entry cannot be deleted now: leave it until the next
 * start, and say where it stopped. */
static void
give_up(int err, const char *where)
{
	struct trash *t = &trashes[cur];
	struct skip *s = calloc(1, sizeof(*s));

	log_warnx("cannot delete %s/%s from the trash (at %s: %s); it is left "
	    "there and retried when the helper starts again%s", t->path,
	    stack[0].name, where, strerror(err), err == EXDEV ? " (unmount "
	    "what is mounted inside it)" : "");
	if (s != NULL) {
		snprintf(s->name, sizeof(s->name), "%s", stack[0].name);
		s->next = t->skip;
		t->skip = s;
	} else
		t->pending = 0;	/* cannot remember it: stop until restart */
	drop_stack();
}

/* Open directory name in dirfd as level top + 1. */
static int
push(int dirfd, const char *name, int first)
{
	struct stat st;
	int fd;

	fd = first ? openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC) : ph_open_dir_noxdev(dirfd, name);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	if (st.st_dev != trashes[cur].dev) {
		close(fd);
		errno = EXDEV;	/* another file system or subvolume */
		return -1;
	}
	if ((stack[top + 1].d = fdopendir(fd)) == NULL) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	top++;
	snprintf(stack[top].name, sizeof(stack[top].name), "%s", name);
	return 0;
}

/* Find the next entry to delete, in this trash or the next ones.  A
 * non-directory entry is unlinked here.  Returns 1 if there was work. */
static int
next_entry(void)
{
	for (; cur < ntrash; cur++) {
		struct trash *t = &trashes[cur];
		struct dirent *de;
		DIR *d;
		int fd;

		if (!t->pending || t->fd < 0)
			continue;
		if ((fd = openat(t->fd, ".", O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC)) < 0 || (d = fdopendir(fd)) == NULL) {
			log_warn("cannot read %s; it is retried when the helper "
			    "starts again", t->path);
			if (fd >= 0)
				close(fd);
			t->pending = 0;
			continue;
		}
		while ((errno = 0, de = readdir(d)) != NULL) {
			struct stat st;

			if (strncmp(de->d_name, TRASH_PREFIX,
			    sizeof(TRASH_PREFIX) - 1) != 0 ||
			    skipped(t, de->d_name))
				continue;
			if (de->d_type != DT_DIR && (de->d_type != DT_UNKNOWN ||
			    (fstatat(t->fd, de->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode)))) {
				if (unlinkat(t->fd, de->d_name, 0) < 0 &&
				    errno != ENOENT)
					log_warn("cannot delete %s/%s", t->path,
					    de->d_name);
				closedir(d);
				return 1;
			}
			drop_stack();
			if (push(t->fd, de->d_name, 1) < 0) {
				snprintf(stack[0].name, sizeof(stack[0].name),
				    "%s", de->d_name);
				if (errno != ENOENT)
					give_up(errno, "its top");
			}
			closedir(d);
			return 1;
		}
		if (errno != 0)
			log_warn("reading %s", t->path);
		closedir(d);
		t->pending = 0;
	}
	cur = 0;
	return 0;
}

/* The last level was read to its end: remove it from its parent. */
static void
pop(void)
{
	struct level *lv = &stack[top];
	char name[NAME_MAX + 1];
	int pfd;

	snprintf(name, sizeof(name), "%s", lv->name);
	closedir(lv->d);
	top--;
	pfd = top >= 0 ? dirfd(stack[top].d) : trashes[cur].fd;
	if (unlinkat(pfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT) {
		removed++;
		if (top < 0) {
			log_info("deleted %s/%s from the trash (%llu files and "
			    "directories)", trashes[cur].path, name,
			    (unsigned long long)removed);
			drop_stack();
		}
		return;
	}
	if (errno == ENOTEMPTY && rereads++ < MAX_REREADS &&
	    push(pfd, name, top < 0) == 0)
		return;		/* read it again from the start */
	/* stack[0].name still names the entry for give_up. */
	give_up(errno, name);
}

void
ph_trash_slice(void)
{
	uint64_t deadline = now_ns() + SLICE_NS;

	for (unsigned ops = 0; ops < SLICE_OPS; ops++) {
		struct dirent *de;
		struct level *lv;
		int isdir;

		if ((ops & 63) == 63 && now_ns() > deadline)
			return;
		if (top < 0) {
			if (!next_entry())
				return;
			continue;
		}
		lv = &stack[top];
		errno = 0;
		if ((de = readdir(lv->d)) == NULL) {
			if (errno != 0)
				give_up(errno, lv->name);
			else
				pop();
			continue;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		isdir = de->d_type == DT_DIR;
		if (de->d_type == DT_UNKNOWN) {
			struct stat st;

			if (fstatat(dirfd(lv->d), de->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) < 0) {
				if (errno != ENOENT)
					give_up(errno, de->d_name);
				continue;
			}
			isdir = S_ISDIR(st.st_mode);
		}
		if (isdir) {
			if (top >= MAX_DEPTH)
				give_up(ELOOP, de->d_name);
			else if (push(dirfd(lv->d), de->d_name, 0) < 0 &&
			    errno != ENOENT)
				give_up(errno, de->d_name);
		} else if (unlinkat(dirfd(lv->d), de->d_name, 0) == 0)
			removed++;
		else if (errno != ENOENT)
			give_up(errno, de->d_name);
	}
}

void
ph_trash_wait(int chan)
{
	struct pollfd pfd = { .fd = chan, .events = POLLIN };

	while (ph_trash_pending()) {
		int n = poll(&pfd, 1, 0);

		if (n > 0)
			return;		/* a request (or EOF) is waiting */
		if (n < 0 && errno != EINTR)
			fatal("%s: poll", __func__);
		ph_trash_slice();
	}
}
