/*
 * The storage backends, as run by the privhelper.  Each backend is a table
 * of operations (nbdkit-style designated initialisers); the helper calls
 * them after it has validated a request completely.  A backend computes
 * every path itself from its driver's configuration and the open root
 * directory descriptors it is given; nothing it receives is a path.
 */
#ifndef VW_BACKEND_H
#define VW_BACKEND_H

#include <stdint.h>

#include "common/config.h"
#include "common/proto.h"

/* What a backend works with: one driver's config and its open roots. */
struct vw_backend_ctx {
	const struct vw_driver	*driver;
	int			 root_fd;	/* O_DIRECTORY fd of driver->root */
	int			*allowed_fds;	/* one per driver->allowed_roots[] */
};

/*
 * Operations.  Each returns 0 and fills rep->path with the volume's
 * absolute directory, or returns a positive errno with a user-facing
 * sentence in rep->msg.  req has been validated (name rule, options).
 */
struct vw_backend {
	const char	*name;
	uint64_t	 caps;		/* CAP_* mask the backend needs */
	int (*create)(const struct vw_backend_ctx *, const struct vw_volume_req *,
	    struct vw_volume_reply *);
	int (*remove)(const struct vw_backend_ctx *, const struct vw_volume_req *,
	    struct vw_volume_reply *);
	int (*mount)(const struct vw_backend_ctx *, const struct vw_volume_req *,
	    struct vw_volume_reply *);
	int (*unmount)(const struct vw_backend_ctx *, const struct vw_volume_req *,
	    struct vw_volume_reply *);
};

/* backends/dir.c: persistent directories (local-persist semantics). */
extern const struct vw_backend vw_backend_dir;

/* The backend for a configured type. */
const struct vw_backend *vw_backend_get(enum vw_backend_type type);

#endif
