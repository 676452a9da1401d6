/*
 * Validation shared by both processes: the frontend runs it to give users
 * good errors, the helper runs it again because it trusts nothing it is
 * sent.  Error strings written into err are sentences for the user.
 */
#ifndef VW_VALIDATE_H
#define VW_VALIDATE_H

#include <stddef.h>

#include "proto.h"

/*
 * Docker's local-driver name rule, [a-zA-Z0-9][a-zA-Z0-9_.-]+ (moby
 * volume/local/local.go), with a cap of VW_NAME_MAX bytes.  len is the
 * decoded length, so an embedded NUL is caught.  Returns 0 if valid, else
 * -1 with a reason in err (errlen bytes, always NUL-terminated).
 */
int vw_name_valid(const char *name, size_t len, char *err, size_t errlen);

/* Same as vw_name_valid for a NUL-terminated fixed field of size bytes
 * (the helper's view): the field must contain a NUL. */
int vw_name_field_valid(const char *field, size_t size);

/* Option parsing (vw_opt_parse etc.) is in common/options.h. */
#include "common/options.h"

/*
 * Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above
 * U+10FFFF.  yajl accepts some of these, and Go's JSON decoder in dockerd
 * would turn each invalid byte into U+FFFD, so the path dockerd mounts
 * would differ from the path we checked.  Returns 1 if valid.
 */
int vw_utf8_valid(const char *s, size_t len);

/*
 * Copy the NUL-terminated src into dst (size bytes, size > 0) as valid
 * UTF-8, for text from sources that are not trusted to be: every byte
 * that does not start a valid sequence becomes '?', and a cut to fit
 * falls between characters, never inside one.  dst is always
 * NUL-terminated; returns its length.  dst and src must not overlap.
 */
size_t vw_utf8_copy(char *dst, size_t size, const char *src);

/*
 * Normalise a mountpoint option: collapse repeated '/', drop a trailing
 * '/', refuse empty values, '.' and '..' components, control characters
 * and paths longer than VW_PATH_MAX - 1.  out may equal in.  Returns 0 or
 * -1 with a reason in err.
 */
int vw_mountpoint_normalize(const char *in, char *out, size_t outlen,
    char *err, size_t errlen);

/*
 * If path lies strictly beneath root (both normalised and absolute),
 * return a pointer to the relative rest within path (no leading '/');
 * else NULL.  "/srv/a" is not beneath "/srv/ab".
 */
const char *vw_path_beneath(const char *root, const char *path);

/*
 * Re-check a received options struct (the helper's side, and state
 * replay): flags known, mode <= 07777, uid/gid not (uid_t)-1, size within
 * VW_SIZE_MIN..VW_SIZE_MAX, compression a known value, from a valid
 * VOLUME[@SNAPSHOT], mountpoint normal; every field whose flag is clear
 * all zero, and strings NUL-terminated and zero-padded.  Which options a
 * backend takes is vw_opts_check_backend's job.  Returns 0 or -1 with a
 * reason in err.
 */
int vw_opts_check(const struct vw_volume_opts *opts, char *err, size_t errlen);

/*
 * The trash directory the helper keeps directly below the driver root and
 * each allowed root (privhelper/trash.c): a volume deleted with on_remove
 * delete is renamed into it and emptied in the background.  No volume
 * may live there: vw_volume_path refuses a path whose first component
 * below its root is this name (a volume name cannot start with '.').
 */
#define VW_TRASH_DIR	".volwarden-trash"

/*
 * Where a volume lives.  loop and glusterfs: MOUNT_DIR/NAME, where it
 * is mounted (glusterfs: the bind mount of its directory on the FUSE
 * mount).
 * dir and btrfs: DRIVER_ROOT/NAME without a mountpoint
 * option, DRIVER_ROOT/REL for a relative one, or the absolute mountpoint
 * when it lies strictly beneath one of the driver's allowed roots (then
 * *allowed is that root's index, else it is (size_t)-1 and *rel points
 * into the result below the driver root).  Both processes use this: the
 * frontend to detect overlapping volumes, the helper to act.  Returns 0,
 * or -1 with a sentence in err (EPERM-like: outside the allowed roots,
 * which it names, or a path inside the trash directory VW_TRASH_DIR).
 */
struct vw_driver;
int vw_volume_path(const struct vw_driver *d, const char *name,
    const struct vw_volume_opts *o, char *out, size_t outlen, size_t *allowed,
    const char **rel, char *err, size_t errlen);


/* The longest volume name driver d can store: VW_NAME_MAX, but loop
 * keeps NAME.img in one directory entry (NAME_MAX), so 4 bytes less. */
size_t vw_driver_name_max(const struct vw_driver *d);

/*
 * What driver d (not the options' schema) limits at Create: the name's
 * length (vw_driver_name_max) and, for loop, the size (given, or the
 * driver's default_size) against its max_size.  Returns 0, or -1 with a
 * sentence in err.
 */
int vw_create_check(const struct vw_driver *d, const char *name,
    const struct vw_volume_opts *o, char *err, size_t errlen);


/* How many of the len bytes of s to show when at most max may be shown:
 * max or fewer, never ending inside a UTF-8 character (cut before it). */
size_t vw_utf8_cut(const char *s, size_t len, size_t max);

#endif
