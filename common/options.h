/*
 * The option schema of docker volume create -o, per backend: which keys a
 * backend accepts, how each value is parsed, and the rules between them.
 * Both processes use it: the frontend to answer users with the valid
 * options of *their* driver's backend, the helper to refuse a request
 * carrying options its backend does not take.
 */
#ifndef VW_OPTIONS_H
#define VW_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/proto.h"

/*
 * Parse one option (key=value strings from -o, see
 * docs/docker-volume-protocol.md section 11) for backend be into *opts.
 * keylen and valuelen are decoded lengths (an embedded NUL is refused).
 * Returns 0, or -1 with a sentence in err naming the option and, for a
 * key the backend does not take, listing the valid ones for it.
 */
int vw_opt_parse_backend(enum vw_backend_type be, const char *key,
    size_t keylen, const char *value, size_t valuelen,
    struct vw_volume_opts *opts, char *err, size_t errlen);

/* vw_opt_parse_backend for the dir backend (the first backend's API). */
int vw_opt_parse(const char *key, size_t keylen, const char *value,
    size_t valuelen, struct vw_volume_opts *opts, char *err, size_t errlen);

/* The comma-separated option names backend be accepts ("mountpoint, uid,
 * gid, mode"), for messages.  Static storage. */
const char *vw_opt_names_for(enum vw_backend_type be);
/* vw_opt_names_for(VW_BACKEND_DIR). */
const char *vw_opt_names(void);

/* The VW_OPT_* bits backend be accepts. */
uint32_t vw_opt_mask(enum vw_backend_type be);

/*
 * After every option of one Create is parsed (frontend), and again on a
 * received request (helper, after vw_opts_check): only bits of be's
 * schema, and no conflicting pair (nocow with compression or from).
 * Returns 0 or -1 with a sentence in err.
 */
int vw_opts_check_backend(enum vw_backend_type be,
    const struct vw_volume_opts *opts, char *err, size_t errlen);

/*
 * A size with an optional binary unit: "64M", "10G", "1.5G" is not
 * accepted (integers only); K, M, G, T, P (powers of 1024, optionally
 * followed by "B" or "iB", any case) or none (bytes).  Range
 * VW_SIZE_MIN .. VW_SIZE_MAX bytes.  Returns 0 or -1.
 */
#define VW_SIZE_MIN	(1ULL << 20)		/* 1 MiB: smaller limits fail at once */
#define VW_SIZE_MAX	(1ULL << 60)		/* 1 EiB */
int vw_size_parse(const char *v, size_t len, uint64_t *out);

/*
 * The schedule of snapshot_every and snapshot_keep (btrfs,
 * frontend/schedule.c).  A duration is a whole number with an optional
 * unit: s (also none), m, h, d or w, such as "30m" or "1h"; range
 * VW_SNAPSHOT_EVERY_MIN .. VW_SNAPSHOT_EVERY_MAX seconds.  snapshot_keep
 * is 1 .. VW_SNAPSHOT_KEEP_MAX; a volume with snapshot_every but no
 * snapshot_keep keeps VW_SNAPSHOT_KEEP_DEFAULT.  vw_duration_parse
 * returns 0 with *out in seconds, or -1.
 */
#define VW_SNAPSHOT_EVERY_MIN		10u		/* seconds */
#define VW_SNAPSHOT_EVERY_MAX		(366u * 86400)	/* a year, seconds */
#define VW_SNAPSHOT_KEEP_MAX		1000u
#define VW_SNAPSHOT_KEEP_DEFAULT	24u
int vw_duration_parse(const char *v, size_t len, uint64_t *out);

/*
 * Split a received "from" value into volume and snapshot parts (each
 * VW_NAME_MAX + 1 bytes; snap is "" for a plain volume).  Both parts must
 * pass the volume name rule.  Returns 0 or -1.
 */
int vw_from_split(const char *from, char *vol, char *snap);

/* "ext4", "xfs", "erofs" ("none" for 0). */
const char *vw_fs_name(uint32_t fs);
/* The enum vw_fs of a name ("ext4", "xfs", "erofs"), VW_FS_NONE if none. */
uint32_t vw_fs_parse(const char *name);
/* The smallest image, in bytes, that mkfs accepts for fs (xfs: 300 MiB
 * since xfsprogs 5.19; ext4: VW_SIZE_MIN); 0 for erofs, whose size
 * follows its content. */
uint64_t vw_fs_min_size(uint32_t fs);
/* "none", "zstd", "lzo", "zlib". */
const char *vw_compression_name(uint32_t c);

#endif
