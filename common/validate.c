/* Name and option validation; see validate.h. */
#include "vw-build.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/options.h"
#include "common/validate.h"

static int
is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

int
vw_name_valid(const char *name, size_t len, char *err, size_t errlen)
{
	size_t i;

	if (name == NULL || len == 0) {
		snprintf(err, errlen, "the volume name is empty");
		return -1;
	}
	if (len > VW_NAME_MAX) {
		snprintf(err, errlen, "the volume name is %zu bytes long; "
		    "the limit is %d", len, VW_NAME_MAX);
		return -1;
	}
	if (len < 2 || !is_alnum((unsigned char)name[0])) {
		snprintf(err, errlen, "invalid volume name: names must be at "
		    "least two characters, start with a letter or digit and "
		    "contain only [a-zA-Z0-9_.-]");
		return -1;
	}
	for (i = 1; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (!is_alnum(c) && c != '_' && c != '.' && c != '-') {
			snprintf(err, errlen, "invalid volume name: only "
			    "[a-zA-Z0-9_.-] are allowed, and a name must start "
			    "with a letter or digit");
			return -1;
		}
	}
	return 0;
}

int
vw_name_field_valid(const char *field, size_t size)
{
	const char *nul = memchr(field, '\0', size);
	char err[128];

	if (nul == NULL)
		return -1;
	/* Bytes after the NUL must be zero: no hidden payload. */
	for (const char *p = nul; p < field + size; p++)
		if (*p != '\0')
			return -1;
	return vw_name_valid(field, (size_t)(nul - field), err, sizeof(err));
}

/* The length of the valid UTF-8 sequence at s (at most len bytes), or 0
 * when the bytes there are not one. */
static size_t
utf8_seq(const unsigned char *s, size_t len)
{
	unsigned char c = s[0];
	size_t n;
	uint32_t cp, min;

	if (c < 0x80)
		return 1;
	if ((c & 0xe0) == 0xc0) {
		n = 1; cp = c & 0x1f; min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 2; cp = c & 0x0f; min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		n = 3; cp = c & 0x07; min = 0x10000;
	} else
		return 0;
	if (len - 1 < n)
		return 0;
	for (size_t k = 1; k <= n; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[k] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n + 1;
}

int
vw_utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, n;

	while (i < len) {
		if ((n = utf8_seq(s + i, len - i)) == 0)
			return 0;
		i += n;
	}
	return 1;
}

size_t
vw_utf8_copy(char *dst, size_t size, const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t len = strlen(src), i = 0, o = 0, n;

	if (size == 0)
		return 0;
	while (i < len) {
		if ((n = utf8_seq(s + i, len - i)) == 0) {
			if (o + 1 >= size)
				break;
			dst[o++] = '?';
			i++;
			continue;
		}
		if (o + n >= size)
			break;		/* never half a character */
		memcpy(dst + o, s + i, n);
		o += n;
		i += n;
	}
	dst[o] = '\0';
	return o;
}

int
vw_mountpoint_normalize(const char *in, char *out, size_t outlen, char *err,
    size_t errlen)
{
	char buf[VW_PATH_MAX];
	size_t o = 0, inlen = strlen(in);
	const char *p = in;

	if (inlen == 0) {
		snprintf(err, errlen, "the path is empty");
		return -1;
	}
	if (inlen >= sizeof(buf)) {
		snprintf(err, errlen, "the path is longer than %d bytes",
		    VW_PATH_MAX - 1);
		return -1;
	}
	for (size_t i = 0; i < inlen; i++) {
		if ((unsigned char)in[i] < 0x20 || in[i] == 0x7f) {
			snprintf(err, errlen, "the path contains a control character");
			return -1;
		}
	}
	if (!vw_utf8_valid(in, inlen)) {
		snprintf(err, errlen, "the path is not valid UTF-8");
		return -1;
	}
	if (*p == '/')
		buf[o++] = '/';
	while (*p != '\0') {
		const char *seg;
		size_t seglen;

		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		seg = p;
		while (*p != '\0' && *p != '/')
			p++;
		seglen = (size_t)(p - seg);
		if ((seglen == 1 && seg[0] == '.') ||
		    (seglen == 2 && seg[0] == '.' && seg[1] == '.')) {
			snprintf(err, errlen, "'.' and '..' components are not "
			    "allowed in \"%s\"", in);
			return -1;
		}
		if (o > 0 && buf[o - 1] != '/')
			buf[o++] = '/';
		memcpy(buf + o, seg, seglen);
		o += seglen;
	}
	if (o == 0 || (o == 1 && buf[0] == '/')) {
		snprintf(err, errlen, "\"%s\" does not name a directory below "
		    "a root", in);
		return -1;
	}
	if (o >= outlen) {
		snprintf(err, errlen, "the path is too long");
		return -1;
	}
	memcpy(out, buf, o);
	out[o] = '\0';
	return 0;
}

const char *
vw_path_beneath(const char *root, const char *path)
{
	size_t rl = strlen(root);

	if (rl == 1 && root[0] == '/')
		return path[0] == '/' && path[1] != '\0' ? path + 1 : NULL;
	if (strncmp(root, path, rl) != 0 || path[rl] != '/' || path[rl + 1] == '\0')
		return NULL;
	return path + rl + 1;
}

int
vw_opts_check(const struct vw_volume_opts *opts, char *err, size_t errlen)
{
	if (opts->flags & ~VW_OPT_ALL) {
		snprintf(err, errlen, "unknown option flags 0x%x", opts->flags);
		return -1;
	}
	if (opts->mode > 07777 || (!(opts->flags & VW_OPT_MODE) && opts->mode != 0)) {
		snprintf(err, errlen, "mode out of range");
		return -1;
	}
	if (opts->uid == UINT32_MAX || opts->gid == UINT32_MAX ||
	    (!(opts->flags & VW_OPT_UID) && opts->uid != 0) ||
	    (!(opts->flags & VW_OPT_GID) && opts->gid != 0)) {
		snprintf(err, errlen, "uid or gid out of range");
		return -1;
	}
	{
		/* memcmp against zeros rather than a byte loop: replay checks
		 * every record, and this loop was most of start-up with
		 * 100,000 volumes. */
		static const char zeros[sizeof(opts->mountpoint)];
		const char *nul = memchr(opts->mountpoint, '\0',
		    sizeof(opts->mountpoint));

		if (nul == NULL) {
			snprintf(err, errlen, "mountpoint is not NUL-terminated");
			return -1;
		}
		if (memcmp(nul, zeros, (size_t)(opts->mountpoint +
		    sizeof(opts->mountpoint) - nul)) != 0) {
			snprintf(err, errlen, "bytes after the mountpoint's "
			    "NUL are not zero");
			return -1;
		}
	}
	if (opts->reserved != 0 ||
	    ((opts->flags & VW_OPT_SIZE) ? (opts->size < VW_SIZE_MIN ||
	    opts->size > VW_SIZE_MAX) : opts->size != 0)) {
		snprintf(err, errlen, "size out of range");
		return -1;
	}
	if (opts->compression > VW_COMPRESS_ZLIB ||
	    (!(opts->flags & VW_OPT_COMPRESSION) && opts->compression != 0)) {
		snprintf(err, errlen, "compression out of range");
		return -1;
	}
	{
		static const char zeros[sizeof(opts->from)];
		const char *nul = memchr(opts->from, '\0', sizeof(opts->from));
		char vol[VW_NAME_MAX + 1], snap[VW_NAME_MAX + 1];

		if (nul == NULL || memcmp(nul, zeros, (size_t)(opts->from +
		    sizeof(opts->from) - nul)) != 0) {
			snprintf(err, errlen, "from is not NUL-terminated and "
			    "zero-padded");
			return -1;
		}
		if ((opts->flags & VW_OPT_FROM) ?
		    vw_from_split(opts->from, vol, snap) < 0 :
		    opts->from[0] != '\0') {
			snprintf(err, errlen, "from is invalid or given without "
			    "its flag");
			return -1;
		}
	}
	if (opts->fs > VW_FS_EROFS ||
	    (!(opts->flags & VW_OPT_FS) && opts->fs != 0) ||
	    (!(opts->flags & VW_OPT_SNAPSHOT_EVERY) && opts->snapshot_every != 0) ||
	    (!(opts->flags & VW_OPT_SNAPSHOT_KEEP) && opts->snapshot_keep != 0)) {
		snprintf(err, errlen, "fs or snapshot schedule out of range or "
		    "given without its flag");
		return -1;
	}
	if ((opts->flags & (VW_OPT_MOUNTPOINT | VW_OPT_SOURCE | VW_OPT_IMAGE)) &
	    ((opts->flags & (VW_OPT_MOUNTPOINT | VW_OPT_SOURCE | VW_OPT_IMAGE)) - 1)) {
		snprintf(err, errlen, "more than one of mountpoint, source and "
		    "image");
		return -1;
	}
	if (opts->flags & (VW_OPT_MOUNTPOINT | VW_OPT_SOURCE | VW_OPT_IMAGE)) {
		char norm[VW_PATH_MAX];

		if (vw_mountpoint_normalize(opts->mountpoint, norm, sizeof(norm),
		    err, errlen) < 0)
			return -1;
		if (strcmp(norm, opts->mountpoint) != 0) {
			snprintf(err, errlen, "mountpoint is not normalised");
			return -1;
		}
	} else if (opts->mountpoint[0] != '\0') {
		snprintf(err, errlen, "mountpoint given without its flag");
		return -1;
	}
	return 0;
}

/* The first component of rel is the helper's trash directory. */
static int
in_trash(const char *rel, const char *path, char *err, size_t errlen)
{
	size_t n = strlen(VW_TRASH_DIR);

	if (strncmp(rel, VW_TRASH_DIR, n) != 0 || (rel[n] != '\0' && rel[n] != '/'))
		return 0;
	snprintf(err, errlen, "%s lies in %s, where volwarden keeps deleted "
	    "volumes until they are emptied; choose another mountpoint", path,
	    VW_TRASH_DIR);
	return 1;
}

int
vw_volume_path(const struct vw_driver *d, const char *name,
    const struct vw_volume_opts *o, char *out, size_t outlen, size_t *allowed,
    const char **rel, char *err, size_t errlen)
{
	const char *mp = o->mountpoint;
	int n;

	*allowed = (size_t)-1;
	if (d->backend == VW_BACKEND_LOOP ||
	    d->backend == VW_BACKEND_GLUSTERFS) {
		/* Mounted at MOUNT_DIR/NAME; source and image are inputs
		 * (loop), the directory on the Gluster FUSE mount is bound
		 * there (glusterfs: backends/glusterfs.c gl_source_path). */
		n = snprintf(out, outlen, "%s/%s", d->mount_dir, name);
		if (n < 0 || (size_t)n >= outlen) {
			snprintf(err, errlen, "the mount path under %s is too long",
			    d->mount_dir);
			return -1;
		}
		*rel = out + strlen(d->mount_dir) + 1;
		return 0;
	}
	if ((o->flags & VW_OPT_MOUNTPOINT) && mp[0] == '/') {
		size_t o2 = 0;

		for (size_t i = 0; i < d->nallowed; i++) {
			const char *rest = vw_path_beneath(d->allowed_roots[i], mp);

			if (rest != NULL) {
				n = snprintf(out, outlen, "%s", mp);
				if (n < 0 || (size_t)n >= outlen)
					break;
				*allowed = i;
				*rel = out + (rest - mp);
				return in_trash(*rel, out, err, errlen) ? -1 : 0;
			}
		}
		o2 = (size_t)snprintf(err, errlen, "mountpoint %s is not beneath "
		    "an allowed root of driver %s (allowed roots: ", mp, d->name);
		if (d->nallowed == 0 && o2 < errlen)
			o2 += (size_t)snprintf(err + o2, errlen - o2, "none are "
			    "configured");
		for (size_t i = 0; i < d->nallowed && o2 < errlen; i++)
			o2 += (size_t)snprintf(err + o2, errlen - o2, "%s%s",
			    i ? ", " : "", d->allowed_roots[i]);
		if (o2 < errlen)
			snprintf(err + o2, errlen - o2, "); choose a path below one "
			    "of them (allowed_roots in the config, or "
			    "--allowed-root), or a relative path to place it under "
			    "%s", d->root);
		return -1;
	}
	n = snprintf(out, outlen, "%s/%s", d->root,
	    (o->flags & VW_OPT_MOUNTPOINT) ? mp : name);
	if (n < 0 || (size_t)n >= outlen) {
		snprintf(err, errlen, "the volume path under %s is too long", d->root);
		return -1;
	}
	*rel = out + strlen(d->root) + 1;
	return in_trash(*rel, out, err, errlen) ? -1 : 0;
}

size_t
vw_driver_name_max(const struct vw_driver *d)
{
	/* loop: the image is ROOT/NAME.img, one file name (NAME_MAX 255). */
	return d->backend == VW_BACKEND_LOOP ? VW_NAME_MAX - 4 : VW_NAME_MAX;
}

int
vw_create_check(const struct vw_driver *d, const char *name,
    const struct vw_volume_opts *o, char *err, size_t errlen)
{
	size_t len = strlen(name);
	uint64_t size;

	if (len > vw_driver_name_max(d)) {
		snprintf(err, errlen, "the name is %zu bytes long; driver %s "
		    "(backend loop) stores NAME.img and takes names of at most "
		    "%zu bytes; choose a shorter name", len, d->name,
		    vw_driver_name_max(d));
		return -1;
	}
	if (d->backend != VW_BACKEND_LOOP)
		return 0;
	size = (o->flags & VW_OPT_SIZE) ? o->size : d->default_size;
	if (!((o->flags & VW_OPT_FS) && o->fs == VW_FS_EROFS) &&
	    size > d->max_size) {
		snprintf(err, errlen, "size %llu MiB is above the limit of driver "
		    "%s (max_size %llu MiB); choose a smaller size, or raise "
		    "max_size in the configuration", (unsigned long long)(size >> 20),
		    d->name, (unsigned long long)(d->max_size >> 20));
		return -1;
	}
	return 0;
}

size_t
vw_utf8_cut(const char *s, size_t len, size_t max)
{
	size_t n = len > max ? max : len;

	/* s[n] a continuation byte: the character it belongs to started
	 * before n and would be cut; end before that character. */
	while (n > 0 && n < len && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}
