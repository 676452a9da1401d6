/*
 * The FUSE keeper of a glusterfs driver (gluster/keeper.c): a process
 * forked by the driver's privhelper at start-up, while it is still root
 * with every capability, that keeps the Gluster volume mounted at the
 * driver's root.  It runs the FUSE client (glusterfs --no-daemon) as its
 * child with a bounding set of CAP_SYS_ADMIN only, and mounts again
 * (after detaching the dead mount) whenever the client dies, with a
 * back-off of 1 to 30 seconds.  The end of its pipe from the privhelper
 * (gk_stop), SIGTERM, or the privhelper's death (PR_SET_PDEATHSIG) stops
 * the client, detaches the mount and ends it.
 */
#ifndef VW_GLUSTER_KEEPER_H
#define VW_GLUSTER_KEEPER_H

#include <stddef.h>
#include <sys/types.h>

#include "common/config.h"

/* Linux's FUSE_SUPER_MAGIC (statfs f_type of a FUSE mount). */
#define VW_FUSE_SUPER_MAGIC	0x65735546

/* A running keeper, as the privhelper holds it. */
struct gk {
	pid_t	pid;
	int	pipe_fd;	/* write end; closing it stops the keeper */
};

/*
 * Fork the keeper for driver d.  pidfile is where the FUSE client writes
 * its pid (a root-owned directory).  The keeper logs like the helper
 * (stderr with foreground, else syslog).  It waits up to wait_ms for the
 * first mount before returning, so that the first requests find it.
 * Returns 0 and fills *k, or -1 with a sentence in err.
 */
int gk_spawn(const struct vw_driver *d, const char *pidfile, int foreground,
    int debug, int wait_ms, struct gk *k, char *err, size_t errlen);

/* Stop the keeper (close its pipe) and wait for it to unmount and exit.
 * Returns its wait status, or -1. */
int gk_stop(struct gk *k);

#endif
