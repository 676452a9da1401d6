/*
 * Stand-in for backends/btrfs.c in builds without libbtrfsutil.  The
 * configuration already refuses backend "btrfs" there (VW_BTRFS_BUILT is
 * 0), so nothing reaches these; init fails with the same advice in case
 * something does.
 */
#include "vw-build.h"

#include <stdio.h>

#include "backends/backend.h"

static int
btrfs_missing(struct vw_backend_ctx *ctx, char *err, size_t errlen)
{
	snprintf(err, errlen, "driver %s: backend btrfs is not available: this "
	    "volwarden was built without libbtrfsutil; install libbtrfsutil-dev "
	    "and rebuild (./configure --with-btrfs)", ctx->driver->name);
	return -1;
}

const struct vw_backend vw_backend_btrfs = {
	.name = "btrfs",
	.caps = 0,
	.init = btrfs_missing,
};
