/*
 * Confined path resolution for the privileged side.  Every privileged file
 * operation starts from a directory fd the helper opened itself at start-up
 * and walks down with *at() calls that refuse symlinks, so nothing a
 * container plants inside a volume (or a user plants under an allowed
 * root) can redirect it outside.
 */
#include "vw-build.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "privhelper/privhelper.h"

/* Deepest tree ph_remove_tree will descend into (one fd per level). */
#define REMOVE_MAX_DEPTH	256

static int
sys_openat2(int dirfd, const char *path, struct open_how *how)
{
#ifdef SYS_openat2
	return (int)syscall(SYS_openat2, dirfd, path, how, sizeof(*how));
#else
	(void)dirfd; (void)path; (void)how;
	errno = ENOSYS;
	return -1;
#endif
}

/* The last component: no symlinks; it may be a mount point (a volume
 * directory can be a disk of its own). */
static int
open_component(int dirfd, const char *comp)
{
	return openat(dirfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

int
ph_mount_id(int fd, uint64_t *id)
{
	struct statx stx;

	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID,
	    &stx) < 0)
		return -1;
	if (!(stx.stx_mask & STATX_MNT_ID)) {
		errno = ENOSYS;
		return -1;
	}
	*id = stx.stx_mnt_id;
	return 0;
}

/*
 * A component on the way: no symlinks and no mount points, bind mounts of
 * the same file system included (st_dev cannot tell those apart).
 * openat2(RESOLVE_NO_XDEV), or on older kernels openat(O_NOFOLLOW) and a
 * comparison of statx mount IDs.  EXDEV for a mount point.
 */
int
ph_open_dir_noxdev(int dirfd, const char *comp)
{
	struct open_how how;
	uint64_t a = 0, b = 0;
	int fd;

	memset(&how, 0, sizeof(how));
	how.flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
	    RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
	for (int tries = 0; tries < 8; tries++) {
		fd = sys_openat2(dirfd, comp, &how);
		if (fd >= 0 || errno != EAGAIN)
			break;
	}
	if (fd >= 0 || errno != ENOSYS)
		return fd;
	if ((fd = open_component(dirfd, comp)) < 0)
		return -1;
	if (ph_mount_id(dirfd, &a) < 0 || ph_mount_id(fd, &b) < 0) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	if (a != b) {
		close(fd);
		errno = EXDEV;
		return -1;
	}
	return fd;
}

/*
 * Walk rel one component at a time.  Intermediate components may be
 * neither symlinks nor mount points; the last one may be a mount point
 * but not a symlink.
 */
static int
walk(int dirfd, const char *rel, int create, int *created)
{
	char comp[NAME_MAX + 1];
	const char *p = rel;
	int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	while (*p != '\0') {
		const char *e = strchr(p, '/');
		size_t len = e != NULL ? (size_t)(e - p) : strlen(p);
		int next, last = (e == NULL);

		if (len == 0 || (len == 1 && p[0] == '.') ||
		    (len == 2 && p[0] == '.' && p[1] == '.')) {
			close(fd);
			errno = EXDEV;
			return -1;
		}
		if (len > NAME_MAX) {
			close(fd);
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(comp, p, len);
		comp[len] = '\0';
		next = last ? open_component(fd, comp) : ph_open_dir_noxdev(fd, comp);
		if (next < 0 && errno == ENOENT && create) {
			if (mkdirat(fd, comp, 0755) < 0 && errno != EEXIST) {
				int saved = errno;

				close(fd);
				errno = saved;
				return -1;
			}
			if (last && created != NULL)
				*created = 1;
			next = last ? open_component(fd, comp) :
			    ph_open_dir_noxdev(fd, comp);
		}
		if (next < 0) {
			int saved = errno;
			struct stat st;

			/* O_DIRECTORY|O_NOFOLLOW on a symlink fails with
			 * ENOTDIR, openat2 with ELOOP: report ELOOP. */
			if ((saved == ENOTDIR || saved == ELOOP) &&
			    fstatat(fd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0)
				saved = S_ISLNK(st.st_mode) ? ELOOP : saved;
			close(fd);
			errno = saved;
			return -1;
		}
		close(fd);
		fd = next;
		p = last ? p + len : e + 1;
	}
	return fd;
}

int
ph_open_beneath(int dirfd, const char *rel, int create, int *created)
{
	if (created != NULL)
		*created = 0;
	if (rel[0] == '/' || rel[0] == '\0') {
		errno = EXDEV;
		return -1;
	}
	return walk(dirfd, rel, create, created);
}

static int
remove_tree_at(int dirfd, const char *name, dev_t dev, int depth)
{
	/* The top may be a mount point (the volume's own disk); nothing
	 * below it may be: a bind mount of a host directory into a volume
	 * must never be emptied. */
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd, rc = 0, saved = 0;

	if (depth > REMOVE_MAX_DEPTH) {
		errno = ELOOP;
		return -1;
	}
	fd = depth == 0 ? open_component(dirfd, name) :
	    ph_open_dir_noxdev(dirfd, name);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	if (st.st_dev != dev) {
		close(fd);
		errno = EXDEV;
		return -1;
	}
	if ((d = fdopendir(fd)) == NULL) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	while (rc == 0) {
		int isdir;

		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if (errno != 0) {
				saved = errno;
				rc = -1;
			}
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		isdir = de->d_type == DT_DIR;
		if (de->d_type == DT_UNKNOWN) {
			if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
				saved = errno;
				rc = -1;
				break;
			}
			isdir = S_ISDIR(st.st_mode);
		}
		if (isdir) {
			if (remove_tree_at(fd, de->d_name, dev, depth + 1) < 0) {
				saved = errno;
				rc = -1;
			}
		} else if (unlinkat(fd, de->d_name, 0) < 0 && errno != ENOENT) {
			saved = errno;
			rc = -1;
		}
	}
	closedir(d);
	if (rc == 0 && unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT) {
		saved = errno;
		rc = -1;
	}
	if (rc < 0)
		errno = saved;
	return rc;
}

int
ph_remove_tree(int dirfd, const char *name)
{
	struct stat st;

	if (fstat(dirfd, &st) < 0)
		return -1;
	return remove_tree_at(dirfd, name, st.st_dev, 0);
}

/* Undo the octal escapes of a mountinfo field (\040 for a space etc.)
 * in place. */
static void
unescape(char *s)
{
	char *o = s;

	for (; *s != '\0'; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 |
			    (s[3] - '0'));
			s += 3;
		} else
			*o++ = *s;
	}
	*o = '\0';
}

int
ph_mounts_beneath(const char *path)
{
	size_t len = strlen(path);
	char *line = NULL;
	size_t cap = 0;
	int found = 0;
	FILE *fp;

	if ((fp = fopen("/proc/self/mountinfo", "re")) == NULL)
		return -1;
	while (!found && getline(&line, &cap, fp) > 0) {
		char *mp = line;

		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT ...: the fifth field. */
		for (int i = 0; i < 4 && mp != NULL; i++)
			if ((mp = strchr(mp, ' ')) != NULL)
				mp++;
		if (mp == NULL || strchr(mp, ' ') == NULL)
			continue;
		*strchr(mp, ' ') = '\0';
		unescape(mp);
		found = strncmp(mp, path, len) == 0 && mp[len] == '/';
	}
	free(line);
	fclose(fp);
	return found;
}
