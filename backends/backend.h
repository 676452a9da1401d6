/*
 * The storage backends, as run by the privhelper.  Each backend is a table
 * of operations (nbdkit-style designated initialisers); the helper calls
 * them after it has validated a request completely.  A backend computes
 * every path itself from its driver's configuration and the open root
 * directory descriptors it is given; nothing it receives is a path.
 */
#ifndef VW_BACKEND_H
#define VW_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/proto.h"

/* What a backend works with: one driver's config and its open roots. */
struct vw_backend_ctx {
	const struct vw_driver	*driver;
	int			 root_fd;	/* O_DIRECTORY fd of driver->root */
	int			*allowed_fds;	/* one per driver->allowed_roots[] */
	int			 aux_fd;	/* backend's own (btrfs: ROOT/.snapshots), or -1 */
	void			*priv;		/* the backend's state (loop: struct loop_state), or NULL */
	const char		*user;		/* the configured unprivileged user */
	/* For backends that start processes of their own (glusterfs). */
	const struct vw_config	*cfg;		/* the whole configuration */
	int			 foreground, debug;	/* the helper's flags */
	const char		*seccomp_mode;	/* "kill", "trap", "log" or "off" */
};

/*
 * Operations.  Each returns 0 and fills rep->path with the volume's
 * absolute directory, or returns a positive errno with a user-facing
 * sentence in rep->msg.  req has been validated (name rule, options).
 */
struct vw_backend {
	const char	*name;
	uint64_t	 caps;		/* CAP_* mask the backend needs */
	/*
	 * Called at helper start-up before the roots are opened (optional):
	 * clear what a previous instance left on them (glusterfs: a dead
	 * FUSE mount).  Returns 0, or -1 with a sentence in err.
	 */
	int (*prepare)(const struct vw_driver *, char *err, size_t errlen);
	/*
	 * Called once at helper start-up, before capabilities are dropped
	 * and the seccomp filter goes in (optional).  Checks the root (e.g.
	 * that it is on the right file system) and may set ctx->aux_fd.
	 * Returns 0, or -1 with a sentence in err: the helper exits.
	 */
	int (*init)(struct vw_backend_ctx *, char *err, size_t errlen);
	int (*create)(const struct vw_backend_ctx *, const struct vw_volume_req *,
	    struct vw_volume_reply *);
	int (*remove)(const struct vw_backend_ctx *, const struct vw_volume_req *,
	    struct vw_volume_reply *);
	int (*mount)(const struct vw_backend_ctx *, const struct vw_volume_req *,
	    struct vw_volume_reply *);
	int (*unmount)(const struct vw_backend_ctx *, const struct vw_volume_req *,
	    struct vw_volume_reply *);
	/*
	 * Snapshots (NULL when the backend has none).  Each returns 0 and
	 * fills rep, or a positive errno with a sentence in rep->msg.  req
	 * has been validated (names; snap non-empty except for list).
	 */
	int (*snap_create)(const struct vw_backend_ctx *,
	    const struct vw_snap_req *, struct vw_snap_reply *);
	int (*snap_list)(const struct vw_backend_ctx *,
	    const struct vw_snap_req *, struct vw_snap_reply *);
	int (*snap_delete)(const struct vw_backend_ctx *,
	    const struct vw_snap_req *, struct vw_snap_reply *);
	int (*snap_restore)(const struct vw_backend_ctx *,
	    const struct vw_snap_req *, struct vw_snap_reply *);
	/*
	 * Facts for the Status map of Docker's Get (NULL when the backend
	 * has none beyond what the frontend knows): add each with
	 * vw_status_add.  Returns 0, or a positive errno with a sentence in
	 * rep->msg (the frontend then shows the sentence, never fails Get).
	 * Must be quick: it runs between other requests of the driver.
	 */
	int (*status)(const struct vw_backend_ctx *, const struct vw_volume_req *,
	    struct vw_status_reply *);
	/*
	 * Grow a volume to req->opts.size bytes (NULL when the backend
	 * cannot): online when it is mounted.  Returns 0 with rep->path
	 * set like the others, or a positive errno with a sentence.
	 */
	int (*resize)(const struct vw_backend_ctx *, const struct vw_volume_req *,
	    struct vw_volume_reply *);
	/*
	 * VOLUME_SCAN (NULL when volumes exist only where this node made
	 * them): list the volumes of a shared backend.  Returns 0, or a
	 * positive errno with a sentence in rep->msg.
	 */
	int (*scan)(const struct vw_backend_ctx *, const struct vw_scan_req *,
	    struct vw_scan_reply *);
	/* Called once when the frontend has closed the channel, before the
	 * helper exits (optional): stop what init started and free it.
	 * Returns 0, or -1 when something init started did not end cleanly
	 * (logged); the helper then exits with status 1. */
	int (*fini)(struct vw_backend_ctx *);
};

/*
 * Append one status entry: key (lower case [a-z0-9_], shorter than
 * VW_STATUS_KEY_MAX) and a printf-formatted value, made valid UTF-8 and
 * cut between characters to fit VW_STATUS_VALUE_MAX (vw_utf8_copy).  Returns 0, or -1 (ENOSPC) when the reply already
 * holds VW_STATUS_MAX entries.  privhelper/dispatch.c.
 */
int vw_status_add(struct vw_status_reply *rep, const char *key,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Write a printf-formatted sentence into msg (msglen bytes, cut to fit)
 * and return err: the one way backends fail a request
 * ("return VW_FAIL(rep, EPERM, ...)" sets rep->msg).  privhelper/dispatch.c.
 */
int vw_failf(char *msg, size_t msglen, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define VW_FAIL(rep, err, ...) \
	vw_failf((rep)->msg, sizeof((rep)->msg), (err), __VA_ARGS__)

/* backends/dir.c: persistent directories (local-persist semantics). */
extern const struct vw_backend vw_backend_dir;
/* backends/btrfs.c (or btrfs-disabled.c when libbtrfsutil is missing):
 * subvolumes, qgroup limits, snapshots and clones. */
extern const struct vw_backend vw_backend_btrfs;

/* backends/loop.c: image files on loop devices, formatted by the
 * unprivileged mkfs runner (runner/mkfs-runner.c). */
extern const struct vw_backend vw_backend_loop;
/* backends/glusterfs.c: subdirectories of a Gluster volume, made by the
 * gfapi agent, reached through the FUSE keeper's mount. */
extern const struct vw_backend vw_backend_glusterfs;

/* The backend for a configured type. */
const struct vw_backend *vw_backend_get(enum vw_backend_type type);

#endif
