/*
 * The gfapi agent (volwarden-gfapi-agent): the only process that links
 * libgfapi.  One per glusterfs driver, started by that driver's
 * privhelper at start-up as the frontend's unprivileged user, with no
 * capabilities and its own seccomp filter (which allows network sockets).
 * It answers the privhelper's volume requests by working on the Gluster
 * volume with glfs_* calls; it never touches a host path.
 *
 * Layout in the Gluster volume, below the driver's base directory BASE
 * ("/" or "/SUBDIR"):
 *   BASE/NAME                     a volume's data (what containers see)
 *   BASE/.volwarden/created/NAME  "created=UNIX node=NODE": its CreatedAt
 *   BASE/.volwarden/removed/NAME  removed with on_remove keep: not listed
 *   BASE/.volwarden/removing/NAME a Remove in progress ("expires=UNIX node=")
 *   BASE/.volwarden/leases/NAME/NODE  NODE has it mounted ("expires=UNIX")
 *   BASE/.volwarden/archive/NAME.removed-STAMP  on_remove archive
 * Names starting with '.' are not volume names, so .volwarden never
 * clashes with a volume.
 */
#ifndef VW_GLUSTER_AGENT_H
#define VW_GLUSTER_AGENT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/config.h"
#include "common/proto.h"

/* One volume of a listing: name and creation time (Unix seconds). */
struct ga_entry {
	char		name[VW_NAME_MAX + 1];
	int64_t		created;
};

/* The agent's state.  Strings are borrowed from argv. */
struct ga {
	const char	*driver;	/* driver name, for messages */
	const char	*volume;	/* Gluster volume */
	const char	*servers[32];	/* as configured */
	size_t		 nservers;
	char		 base[1100];	/* "/" or "/SUBDIR" */
	const char	*node;		/* this node's identity */
	uint32_t	 ttl;		/* lease lifetime, seconds */
	enum vw_on_remove on_remove;
	const char	*logfile;	/* gfapi's log, or "/dev/null" */
	int		 loglevel;	/* gfapi's (GF_LOG_*: 4 warning, 7 info) */

	void		*fs;		/* glfs_t, or NULL while not connected */
	int		 dirs_ok;	/* .volwarden exists on this connection */
	time_t		 next_init;	/* earliest retry of glfs_init */
	unsigned	 backoff;	/* seconds to the next retry */
	char		 last_err[256];	/* why the last connection attempt failed */

	/* Leases this node holds (volumes mounted here), renewed by
	 * ga_heartbeat. */
	char		**held;
	size_t		 nheld, capheld;
	time_t		 last_beat;
	int		 beat_failed;	/* the last heartbeat failed (logged once) */

	/* The last listing (VOLUME_SCAN), sorted by name. */
	struct ga_entry	*scan;
	size_t		 nscan;
	uint64_t	 scan_gen;
};

/* Connect (glfs_new, servers, glfs_init) unless connected or a retry is
 * not due yet.  Returns 0 when connected, else -1 with ga->last_err set. */
int ga_connect(struct ga *ga);

/* The volume operations.  Each fills rep (err 0, or a positive errno
 * with a sentence in msg naming the volume, the Gluster volume and its
 * servers). */
void ga_create(struct ga *ga, const struct vw_volume_req *req,
    struct vw_volume_reply *rep);
void ga_remove(struct ga *ga, const struct vw_volume_req *req,
    struct vw_volume_reply *rep);
void ga_mount(struct ga *ga, const struct vw_volume_req *req,
    struct vw_volume_reply *rep);
void ga_unmount(struct ga *ga, const struct vw_volume_req *req,
    struct vw_volume_reply *rep);
void ga_status(struct ga *ga, const struct vw_volume_req *req,
    struct vw_status_reply *rep);
void ga_scan(struct ga *ga, const struct vw_scan_req *req,
    struct vw_scan_reply *rep);

/* Renew the leases held here if a third of the TTL has passed since the
 * last renewal; try to reconnect when not connected. */
void ga_heartbeat(struct ga *ga);

#endif
