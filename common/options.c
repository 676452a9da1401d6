/* The per-backend option schema of docker volume create -o; see options.h. */
#include "vw-build.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/options.h"
#include "common/validate.h"

/* Backends, as bits, for the schema's "accepted by" column. */
#define B_DIR		(1u << VW_BACKEND_DIR)
#define B_BTRFS		(1u << VW_BACKEND_BTRFS)
#define B_LOOP		(1u << VW_BACKEND_LOOP)
#define B_GLUSTERFS	(1u << VW_BACKEND_GLUSTERFS)
#define B_ALL		(B_DIR | B_BTRFS | B_LOOP | B_GLUSTERFS)

typedef int (*opt_parse_fn)(const char *v, size_t len,
    struct vw_volume_opts *o, char *err, size_t errlen);

static int parse_uid(const char *, size_t, struct vw_volume_opts *, char *, size_t);
static int parse_gid(const char *, size_t, struct vw_volume_opts *, char *, size_t);
static int parse_mode(const char *, size_t, struct vw_volume_opts *, char *, size_t);
static int parse_mountpoint(const char *, size_t, struct vw_volume_opts *, char *, size_t);
static int parse_size(const char *, size_t, struct vw_volume_opts *, char *, size_t);
static int parse_from(const char *, size_t, struct vw_volume_opts *, char *, size_t);
static int parse_nocow(const char *, size_t, struct vw_volume_opts *, char *, size_t);
static int parse_compression(const char *, size_t, struct vw_volume_opts *, char *, size_t);
static int parse_snapshot_every(const char *, size_t, struct vw_volume_opts *, char *, size_t);
static int parse_snapshot_keep(const char *, size_t, struct vw_volume_opts *, char *, size_t);
static int parse_fs(const char *, size_t, struct vw_volume_opts *, char *, size_t);
static int parse_source(const char *, size_t, struct vw_volume_opts *, char *, size_t);
static int parse_image(const char *, size_t, struct vw_volume_opts *, char *, size_t);

/*
 * The schema.  The order is the order of "valid options are ..." lists.
 * The comments name the backend's code that acts on each option.
 */
static const struct opt_def {
	const char	*name;
	uint32_t	 flag;
	unsigned	 backends;
	opt_parse_fn	 parse;
} schema[] = {
	{ "mountpoint",	 VW_OPT_MOUNTPOINT,  B_DIR,   parse_mountpoint },	/* dir.c:locate */
	{ "size",	 VW_OPT_SIZE,	     B_BTRFS | B_LOOP, parse_size },	/* btrfs.c:set_limit, loop.c:loop_create */
	{ "fs",		 VW_OPT_FS,	     B_LOOP,  parse_fs },		/* loop.c:loop_create */
	{ "source",	 VW_OPT_SOURCE,	     B_LOOP,  parse_source },		/* loop.c:make_erofs */
	{ "image",	 VW_OPT_IMAGE,	     B_LOOP,  parse_image },		/* loop.c:adopt_image */
	{ "from",	 VW_OPT_FROM,	     B_BTRFS, parse_from },		/* btrfs.c:make_subvolume */
	{ "nocow",	 VW_OPT_NOCOW,	     B_BTRFS, parse_nocow },		/* btrfs.c:set_attrs */
	{ "compression", VW_OPT_COMPRESSION, B_BTRFS, parse_compression },	/* btrfs.c:set_attrs */
	{ "uid",	 VW_OPT_UID,	     B_ALL,   parse_uid },
	{ "gid",	 VW_OPT_GID,	     B_ALL,   parse_gid },
	{ "mode",	 VW_OPT_MODE,	     B_ALL,   parse_mode },
	{ "snapshot_every", VW_OPT_SNAPSHOT_EVERY, B_BTRFS, parse_snapshot_every },	/* frontend/schedule.c */
	{ "snapshot_keep", VW_OPT_SNAPSHOT_KEEP, B_BTRFS, parse_snapshot_keep },	/* frontend/schedule.c */
};
#define NSCHEMA	(sizeof(schema) / sizeof(schema[0]))

static const char *const compression_names[] = { "none", "zstd", "lzo", "zlib" };

/* Backend names for messages (as vw_backend_name in config.c, which this
 * file does not link against so that the fuzz harnesses need no yajl). */
static const char *
be_name(enum vw_backend_type be)
{
	return be == VW_BACKEND_BTRFS ? "btrfs" : be == VW_BACKEND_LOOP ?
	    "loop" : be == VW_BACKEND_GLUSTERFS ? "glusterfs" : "dir";
}

/* Show at most 32 bytes of a user's value in a message. */
#define SHOWN(len)	((int)((len) > 32 ? 32 : (len)))

/* A decimal id (uid or gid) in [0, 2^32 - 2]. */
static int
parse_id(const char *v, size_t len, uint32_t *out)
{
	char buf[16], *end;
	unsigned long long n;

	if (len == 0 || len >= sizeof(buf) || v[0] < '0' || v[0] > '9')
		return -1;
	memcpy(buf, v, len);
	buf[len] = '\0';
	errno = 0;
	n = strtoull(buf, &end, 10);
	if (errno != 0 || *end != '\0' || n >= UINT32_MAX)
		return -1;
	*out = (uint32_t)n;
	return 0;
}

static int
parse_uid(const char *v, size_t len, struct vw_volume_opts *o, char *err,
    size_t errlen)
{
	if (parse_id(v, len, &o->uid) < 0) {
		snprintf(err, errlen, "option uid: expected a numeric id from 0 "
		    "to 4294967294, got \"%.*s\"", SHOWN(len), v);
		return -1;
	}
	return 0;
}

static int
parse_gid(const char *v, size_t len, struct vw_volume_opts *o, char *err,
    size_t errlen)
{
	if (parse_id(v, len, &o->gid) < 0) {
		snprintf(err, errlen, "option gid: expected a numeric id from 0 "
		    "to 4294967294, got \"%.*s\"", SHOWN(len), v);
		return -1;
	}
	return 0;
}

static int
parse_mode(const char *v, size_t len, struct vw_volume_opts *o, char *err,
    size_t errlen)
{
	char buf[8], *end;
	unsigned long n;

	if (len == 0 || len >= sizeof(buf) || v[0] < '0' || v[0] > '7')
		goto bad;
	memcpy(buf, v, len);
	buf[len] = '\0';
	errno = 0;
	n = strtoul(buf, &end, 8);
	if (errno != 0 || *end != '\0' || n > 07777)
		goto bad;
	o->mode = (uint32_t)n;
	return 0;
bad:
	snprintf(err, errlen, "option mode: expected octal permission bits "
	    "such as 0750 (at most 07777), got \"%.*s\"", SHOWN(len), v);
	return -1;
}

/* The path option (dir's mountpoint, loop's source and image): one
 * field, normalised; absolute is what the backend requires of source
 * and image (they are read from under the allowed roots). */
static int
parse_path(const char *what, int absolute, const char *v, size_t len,
    struct vw_volume_opts *o, char *err, size_t errlen)
{
	char tmp[VW_PATH_MAX], why[256];

	if (len >= sizeof(tmp)) {
		snprintf(err, errlen, "option %s: the path is longer "
		    "than %d bytes", what, VW_PATH_MAX - 1);
		return -1;
	}
	memcpy(tmp, v, len);
	tmp[len] = '\0';
	if (vw_mountpoint_normalize(tmp, o->mountpoint, sizeof(o->mountpoint),
	    why, sizeof(why)) < 0) {
		snprintf(err, errlen, "option %s: %s", what, why);
		return -1;
	}
	if (absolute && o->mountpoint[0] != '/') {
		memset(o->mountpoint, 0, sizeof(o->mountpoint));
		snprintf(err, errlen, "option %s: expected an absolute path below "
		    "one of the driver's allowed roots, got \"%.*s\"", what,
		    SHOWN(len), v);
		return -1;
	}
	return 0;
}

static int
parse_mountpoint(const char *v, size_t len, struct vw_volume_opts *o,
    char *err, size_t errlen)
{
	return parse_path("mountpoint", 0, v, len, o, err, errlen);
}

static int
parse_source(const char *v, size_t len, struct vw_volume_opts *o,
    char *err, size_t errlen)
{
	return parse_path("source", 1, v, len, o, err, errlen);
}

static int
parse_image(const char *v, size_t len, struct vw_volume_opts *o,
    char *err, size_t errlen)
{
	return parse_path("image", 1, v, len, o, err, errlen);
}

static int
parse_fs(const char *v, size_t len, struct vw_volume_opts *o, char *err,
    size_t errlen)
{
	char tmp[8];

	if (len < sizeof(tmp)) {
		memcpy(tmp, v, len);
		tmp[len] = '\0';
		if ((o->fs = vw_fs_parse(tmp)) != VW_FS_NONE)
			return 0;
	}
	snprintf(err, errlen, "option fs: expected ext4, xfs or erofs, got "
	    "\"%.*s\"", SHOWN(len), v);
	return -1;
}

int
vw_size_parse(const char *v, size_t len, uint64_t *out)
{
	char buf[32], *end;
	unsigned long long n;
	unsigned shift = 0;

	if (len == 0 || len >= sizeof(buf) || v[0] < '0' || v[0] > '9')
		return -1;
	memcpy(buf, v, len);
	buf[len] = '\0';
	errno = 0;
	n = strtoull(buf, &end, 10);
	if (errno != 0)
		return -1;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	case 'p': case 'P': shift = 50; end++; break;
	default: break;
	}
	if (shift != 0 && (end[0] == 'i' || end[0] == 'I'))
		end++;
	if (end[0] == 'b' || end[0] == 'B')
		end++;
	if (*end != '\0' || n > (VW_SIZE_MAX >> shift))
		return -1;
	n <<= shift;
	if (n < VW_SIZE_MIN || n > VW_SIZE_MAX)
		return -1;
	*out = n;
	return 0;
}

static int
parse_size(const char *v, size_t len, struct vw_volume_opts *o, char *err,
    size_t errlen)
{
	if (vw_size_parse(v, len, &o->size) < 0) {
		snprintf(err, errlen, "option size: expected a whole number of "
		    "bytes with an optional unit K, M, G, T or P (powers of "
		    "1024), from 1M to 1024P, such as 64M or 10G; got \"%.*s\"",
		    SHOWN(len), v);
		return -1;
	}
	return 0;
}

int
vw_from_split(const char *from, char *vol, char *snap)
{
	const char *at = strchr(from, '@');
	size_t vl = at != NULL ? (size_t)(at - from) : strlen(from);
	char why[128];

	if (vl > VW_NAME_MAX || vw_name_valid(from, vl, why, sizeof(why)) < 0)
		return -1;
	memcpy(vol, from, vl);
	vol[vl] = '\0';
	snap[0] = '\0';
	if (at == NULL)
		return 0;
	if (strlen(at + 1) > VW_NAME_MAX ||
	    vw_name_valid(at + 1, strlen(at + 1), why, sizeof(why)) < 0)
		return -1;
	memcpy(snap, at + 1, strlen(at + 1) + 1);
	return 0;
}

static int
parse_from(const char *v, size_t len, struct vw_volume_opts *o, char *err,
    size_t errlen)
{
	char vol[VW_NAME_MAX + 1], snap[VW_NAME_MAX + 1];

	if (len >= sizeof(o->from))
		goto bad;
	memcpy(o->from, v, len);
	o->from[len] = '\0';
	if (vw_from_split(o->from, vol, snap) < 0)
		goto bad;
	return 0;
bad:
	memset(o->from, 0, sizeof(o->from));
	snprintf(err, errlen, "option from: expected the name of a volume of "
	    "this driver, or VOLUME@SNAPSHOT, each made of [a-zA-Z0-9_.-] and "
	    "starting with a letter or digit; got \"%.*s\"", SHOWN(len), v);
	return -1;
}

static int
parse_nocow(const char *v, size_t len, struct vw_volume_opts *o, char *err,
    size_t errlen)
{
	(void)o;
	/* -o nocow arrives as "nocow": "" (docker volume create -o nocow). */
	if (len == 0 || (len == 4 && memcmp(v, "true", 4) == 0) ||
	    (len == 1 && v[0] == '1'))
		return 0;
	snprintf(err, errlen, "option nocow takes no value (or \"true\"), got "
	    "\"%.*s\"; leave it out to keep copy-on-write", SHOWN(len), v);
	return -1;
}

static int
parse_compression(const char *v, size_t len, struct vw_volume_opts *o,
    char *err, size_t errlen)
{
	for (uint32_t i = 0; i < sizeof(compression_names) /
	    sizeof(compression_names[0]); i++) {
		if (strlen(compression_names[i]) == len &&
		    memcmp(compression_names[i], v, len) == 0) {
			o->compression = i;
			return 0;
		}
	}
	snprintf(err, errlen, "option compression: expected zstd, lzo, zlib or "
	    "none, got \"%.*s\"", SHOWN(len), v);
	return -1;
}

int
vw_duration_parse(const char *v, size_t len, uint64_t *out)
{
	char buf[32], *end;
	unsigned long long n, mul = 1;

	if (len == 0 || len >= sizeof(buf) || v[0] < '0' || v[0] > '9')
		return -1;
	memcpy(buf, v, len);
	buf[len] = '\0';
	errno = 0;
	n = strtoull(buf, &end, 10);
	if (errno != 0)
		return -1;
	switch (*end) {
	case '\0': break;
	case 's': mul = 1; end++; break;
	case 'm': mul = 60; end++; break;
	case 'h': mul = 3600; end++; break;
	case 'd': mul = 86400; end++; break;
	case 'w': mul = 7 * 86400; end++; break;
	default: return -1;
	}
	if (*end != '\0' || n > VW_SNAPSHOT_EVERY_MAX / mul)
		return -1;
	n *= mul;
	if (n < VW_SNAPSHOT_EVERY_MIN)
		return -1;
	*out = n;
	return 0;
}

static int
parse_snapshot_every(const char *v, size_t len, struct vw_volume_opts *o,
    char *err, size_t errlen)
{
	if (vw_duration_parse(v, len, &o->snapshot_every) < 0) {
		snprintf(err, errlen, "option snapshot_every: expected a whole "
		    "number with a unit s, m, h, d or w (seconds if none), from "
		    "%us to %ud, such as 30m or 1h; got \"%.*s\"",
		    VW_SNAPSHOT_EVERY_MIN, VW_SNAPSHOT_EVERY_MAX / 86400,
		    SHOWN(len), v);
		return -1;
	}
	return 0;
}

static int
parse_snapshot_keep(const char *v, size_t len, struct vw_volume_opts *o,
    char *err, size_t errlen)
{
	char buf[8], *end;
	unsigned long n;

	if (len == 0 || len >= sizeof(buf) || v[0] < '1' || v[0] > '9')
		goto bad;
	memcpy(buf, v, len);
	buf[len] = '\0';
	errno = 0;
	n = strtoul(buf, &end, 10);
	if (errno != 0 || *end != '\0' || n < 1 || n > VW_SNAPSHOT_KEEP_MAX)
		goto bad;
	o->snapshot_keep = (uint32_t)n;
	return 0;
bad:
	snprintf(err, errlen, "option snapshot_keep: expected the number of "
	    "scheduled snapshots to keep, from 1 to %u; got \"%.*s\"",
	    VW_SNAPSHOT_KEEP_MAX, SHOWN(len), v);
	return -1;
}

const char *
vw_fs_name(uint32_t fs)
{
	static const char *const names[] = { "none", "ext4", "xfs", "erofs" };

	return fs < sizeof(names) / sizeof(names[0]) ? names[fs] : "unknown";
}

uint32_t
vw_fs_parse(const char *name)
{
	for (uint32_t i = VW_FS_EXT4; i <= VW_FS_EROFS; i++)
		if (strcmp(name, vw_fs_name(i)) == 0)
			return i;
	return VW_FS_NONE;
}

uint64_t
vw_fs_min_size(uint32_t fs)
{
	switch (fs) {
	case VW_FS_XFS:
		return 300ULL << 20;	/* mkfs.xfs: "must be larger than 300MB" */
	case VW_FS_EROFS:
		return 0;
	default:
		return VW_SIZE_MIN;
	}
}

const char *
vw_compression_name(uint32_t c)
{
	if (c >= sizeof(compression_names) / sizeof(compression_names[0]))
		return "unknown";
	return compression_names[c];
}

uint32_t
vw_opt_mask(enum vw_backend_type be)
{
	uint32_t m = 0;

	for (size_t i = 0; i < NSCHEMA; i++)
		if (schema[i].backends & (1u << be))
			m |= schema[i].flag;
	return m;
}

const char *
vw_opt_names_for(enum vw_backend_type be)
{
	static char names[VW_BACKEND_GLUSTERFS + 1][128];
	char *buf = names[be <= VW_BACKEND_GLUSTERFS ? be : VW_BACKEND_DIR];
	size_t n = 0;

	if (buf[0] != '\0')
		return buf;
	for (size_t i = 0; i < NSCHEMA; i++) {
		if (!(schema[i].backends & (1u << be)))
			continue;
		n += (size_t)snprintf(buf + n, sizeof(names[0]) - n, "%s%s",
		    n > 0 ? ", " : "", schema[i].name);
	}
	return buf;
}

const char *
vw_opt_names(void)
{
	return vw_opt_names_for(VW_BACKEND_DIR);
}

int
vw_opt_parse_backend(enum vw_backend_type be, const char *key, size_t keylen,
    const char *value, size_t valuelen, struct vw_volume_opts *opts,
    char *err, size_t errlen)
{
	const struct opt_def *d = NULL;

	if (memchr(key, '\0', keylen) != NULL ||
	    memchr(value, '\0', valuelen) != NULL) {
		snprintf(err, errlen, "volume options must not contain NUL bytes");
		return -1;
	}
	for (size_t i = 0; i < NSCHEMA; i++) {
		if (strlen(schema[i].name) == keylen &&
		    memcmp(schema[i].name, key, keylen) == 0 &&
		    (schema[i].backends & (1u << be))) {
			d = &schema[i];
			break;
		}
	}
	if (d == NULL) {
		snprintf(err, errlen, "unknown option \"%.*s\" for the %s backend; "
		    "valid options are: %s", (int)(keylen > 64 ? 64 : keylen), key,
		    be_name(be), vw_opt_names_for(be));
		return -1;
	}
	if (d->parse(value, valuelen, opts, err, errlen) < 0)
		return -1;
	opts->flags |= d->flag;
	return 0;
}

int
vw_opt_parse(const char *key, size_t keylen, const char *value,
    size_t valuelen, struct vw_volume_opts *opts, char *err, size_t errlen)
{
	return vw_opt_parse_backend(VW_BACKEND_DIR, key, keylen, value,
	    valuelen, opts, err, errlen);
}

/*
 * The loop backend's rules: erofs is built from a source directory or
 * adopted from an image, and nothing else takes those; its size follows
 * its content and its owners are the source's (it is read-only).  The
 * fs is the volume's (given, or the driver's default that the frontend
 * filled in).
 */
static int
vw_loop_opts_check(const struct vw_volume_opts *opts, char *err, size_t errlen)
{
	uint32_t f = opts->flags;
	int erofs = (f & VW_OPT_FS) && opts->fs == VW_FS_EROFS;

	if (erofs && !(f & (VW_OPT_SOURCE | VW_OPT_IMAGE))) {
		snprintf(err, errlen, "fs=erofs makes a read-only volume from "
		    "a directory or an image: add -o source=DIR or -o image=FILE "
		    "(below an allowed root)");
		return -1;
	}
	if (!erofs && (f & (VW_OPT_SOURCE | VW_OPT_IMAGE))) {
		snprintf(err, errlen, "options source and image make read-only "
		    "EROFS volumes: add -o fs=erofs");
		return -1;
	}
	if (erofs && (f & (VW_OPT_SIZE | VW_OPT_UID | VW_OPT_GID | VW_OPT_MODE))) {
		snprintf(err, errlen, "an erofs volume is read-only: its size "
		    "follows its content and its owners and modes are the "
		    "source's, so size, uid, gid and mode do not apply");
		return -1;
	}
	if ((f & VW_OPT_SIZE) && (f & VW_OPT_FS) &&
	    opts->size < vw_fs_min_size(opts->fs)) {
		snprintf(err, errlen, "size %llu bytes is below the %s minimum "
		    "of %llu MiB; use -o size=%lluM or more",
		    (unsigned long long)opts->size, vw_fs_name(opts->fs),
		    (unsigned long long)(vw_fs_min_size(opts->fs) >> 20),
		    (unsigned long long)(vw_fs_min_size(opts->fs) >> 20));
		return -1;
	}
	return 0;
}

int
vw_opts_check_backend(enum vw_backend_type be,
    const struct vw_volume_opts *opts, char *err, size_t errlen)
{
	uint32_t extra = opts->flags & ~vw_opt_mask(be);

	if (extra != 0) {
		for (size_t i = 0; i < NSCHEMA; i++) {
			if (extra & schema[i].flag) {
				snprintf(err, errlen, "option %s is not available "
				    "with the %s backend; valid options are: %s",
				    schema[i].name, be_name(be),
				    vw_opt_names_for(be));
				return -1;
			}
		}
	}
	/* btrfs neither compresses nor checksums nodatacow files, and +C
	 * only takes effect on empty files: a clone has data already. */
	if ((opts->flags & VW_OPT_NOCOW) && (opts->flags & VW_OPT_COMPRESSION) &&
	    opts->compression != VW_COMPRESS_NONE) {
		snprintf(err, errlen, "options nocow and compression=%s cannot "
		    "be combined: btrfs does not compress files written without "
		    "copy-on-write; choose one", vw_compression_name(opts->compression));
		return -1;
	}
	/* The helper's check of received requests and of replayed state. */
	if (((opts->flags & VW_OPT_SNAPSHOT_EVERY) &&
	    (opts->snapshot_every < VW_SNAPSHOT_EVERY_MIN ||
	    opts->snapshot_every > VW_SNAPSHOT_EVERY_MAX)) ||
	    ((opts->flags & VW_OPT_SNAPSHOT_KEEP) &&
	    (opts->snapshot_keep < 1 ||
	    opts->snapshot_keep > VW_SNAPSHOT_KEEP_MAX))) {
		snprintf(err, errlen, "snapshot_every or snapshot_keep out of "
		    "range");
		return -1;
	}
	if ((opts->flags & VW_OPT_SNAPSHOT_KEEP) &&
	    !(opts->flags & VW_OPT_SNAPSHOT_EVERY)) {
		snprintf(err, errlen, "option snapshot_keep needs snapshot_every: "
		    "it is the number of scheduled snapshots to keep; add "
		    "snapshot_every (such as 1h), or leave snapshot_keep out");
		return -1;
	}
	if (be == VW_BACKEND_LOOP && vw_loop_opts_check(opts, err, errlen) < 0)
		return -1;
	if ((opts->flags & VW_OPT_NOCOW) && (opts->flags & VW_OPT_FROM)) {
		snprintf(err, errlen, "options nocow and from cannot be combined: "
		    "nocow only applies to an empty volume, and a clone starts "
		    "with the data of %s", opts->from);
		return -1;
	}
	return 0;
}
