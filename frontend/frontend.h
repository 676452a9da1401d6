/* Frontend internals, grouped by file.  The frontend runs unprivileged. */
#ifndef VW_FRONTEND_H
#define VW_FRONTEND_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "common/config.h"
#include "common/proto.h"

struct event_base;
struct event;
struct evhttp;
struct evhttp_request;
struct evhttp_bound_socket;
struct evconnlistener;
struct evbuffer;

/* ------------------------------------------------------------ request.c */

/* Most options accepted in one Create. */
#define VW_MAX_OPTS		32
/* Longest mount ID accepted (dockerd sends 64 hex digits). */
#define VW_MOUNT_ID_MAX		128

/* A decoded VolumeDriver request body.  Strings are heap copies owned by
 * the struct (vw_dreq_free), decoded from JSON, with their true lengths
 * (an embedded \u0000 is visible as len != strlen). */
struct vw_dreq {
	char	*name;
	size_t	 name_len;
	char	*id;
	size_t	 id_len;
	int	 has_opts;
	size_t	 nopts;
	struct {
		char	*key, *value;
		size_t	 key_len, value_len;
	} opts[VW_MAX_OPTS];
};

/*
 * Decode a Docker VolumeDriver request body (docs/docker-volume-protocol.md
 * section 6): a JSON object with optional "Name", "ID" (strings) and
 * "Opts" (null or an object of strings); other keys with scalar values are
 * ignored.  Returns 0, or -1 with a sentence in err.  Never reads past len.
 */
int vw_dreq_parse(const char *body, size_t len, struct vw_dreq *out,
    char *err, size_t errlen);
void vw_dreq_free(struct vw_dreq *r);

/* ------------------------------------------------------------- store.c */

/* Record types of the state files (doc/design.md, "State"). */
enum vw_rec_type {
	VW_REC_VOLUME_PUT = 1,	/* a volume exists with these attributes */
	VW_REC_VOLUME_DEL = 2,	/* the volume is gone */
	VW_REC_MOUNT_SET = 3,	/* (volume, mount ID) holds count references */
};

/* One record.  Strings are borrowed (NUL-terminated, no NUL inside). */
struct vw_record {
	uint8_t		 type;
	const char	*driver;
	const char	*name;
	int64_t		 created;	/* PUT: Unix time, seconds */
	struct vw_volume_opts *opts;	/* PUT: as given at Create */
	const char	*path;		/* PUT: the volume's directory */
	const char	*mount_id;	/* MOUNT_SET */
	uint32_t	 count;		/* MOUNT_SET: 0 removes the ID */
};

/* Called for each replayed record; returns 0 or -1 with err set. */
typedef int (*vw_store_apply_fn)(void *arg, const struct vw_record *rec,
    char *err, size_t errlen);
struct vw_store;

/* Called when a commit is durable: err is 0 or an errno. */
typedef void (*vw_store_done_fn)(void *arg, int err);
/* Writes the live state as records during compaction (vw_store_emit). */
typedef int (*vw_store_dump_fn)(void *arg, struct vw_store *st);


/*
 * Open (creating if missing) the store NAME in directory dirfd: replay
 * NAME.snap then NAME.wal through apply.  A torn final WAL record (the
 * file ends inside it) is dropped with a log line and cut off.  Any other
 * damage fails with a sentence in err naming the file and byte offset.
 * durable: fdatasync every commit (off for the volatile /run store).
 * Returns NULL on error.
 */
struct vw_store *vw_store_open(int dirfd, const char *dirpath,
    const char *name, int durable, vw_store_apply_fn apply, void *arg,
    char *err, size_t errlen);
/* Queue a record for the next commit.  Returns 0 or -1 (ENOMEM, E2BIG). */
int vw_store_append(struct vw_store *st, const struct vw_record *rec);
/*
 * Write and fdatasync everything queued now.  Returns 0 or an errno; on
 * error the file is cut back so the failed records never appear.  After
 * a failed fdatasync the store is broken: before its next write it is
 * rewritten from the dump set with vw_store_set_dump (a new snapshot and
 * an empty new WAL, at most once a second); until that succeeds every
 * flush fails with the error.
 */
int vw_store_flush(struct vw_store *st);
/* The live state (the records acknowledged so far), for repairing a
 * broken store; without it a broken store stays broken. */
void vw_store_set_dump(struct vw_store *st, vw_store_dump_fn dump, void *arg);
/* Repairs done since open. */
uint64_t vw_store_repairs(const struct vw_store *st);
/* Group commit: call done once everything queued so far is durable.  The
 * flush runs from a lowest-priority libevent event, so all requests that
 * arrived in the same loop iteration share one fdatasync. */
int vw_store_commit(struct vw_store *st, vw_store_done_fn done, void *arg);
/* Announce a record that will be appended soon (a helper is acting for
 * it): a commit waits for it, up to about one fdatasync, so concurrent
 * requests share fsyncs.  Every hold is ended by vw_store_release,
 * whether or not the record comes. */
void vw_store_hold(struct vw_store *st);
void vw_store_release(struct vw_store *st);
/* Attach to an event loop (needed for vw_store_commit). */
int vw_store_attach(struct vw_store *st, struct event_base *base);
/* Rewrite NAME.snap from dump (which calls vw_store_emit per record),
 * then empty the WAL.  Returns 0 or an errno (EBUSY with records
 * queued; a broken store's error: the next commit repairs it). */
int vw_store_compact(struct vw_store *st, vw_store_dump_fn dump, void *arg);
/* Write one record into the snapshot being built by vw_store_compact. */
int vw_store_emit(struct vw_store *st, const struct vw_record *rec);
/* Bytes in the WAL, and the number of fdatasync calls made and records
 * appended since open (for bench/). */
uint64_t vw_store_wal_bytes(const struct vw_store *st);
uint64_t vw_store_syncs(const struct vw_store *st);
uint64_t vw_store_records(const struct vw_store *st);
void vw_store_close(struct vw_store *st);

/* ---------------------------------------------------------- registry.c */

/* One (volume, mount ID) reference count. */
struct vw_mount {
	struct vw_mount	*next;
	uint32_t	 count;
	char		 id[];
};

/* The last VOLUME_STATUS answer for a volume (endpoints.c): entries as
 * the helper sent them, or the helper's error sentence in msg. */
struct vw_status_cache {
	uint64_t	 at_ns;		/* when it arrived, CLOCK_MONOTONIC */
	int		 pending;	/* a VOLUME_STATUS is in flight */
	int		 err;		/* 0 or the helper's errno */
	struct vw_status_reply rep;
};

struct vw_sched_ent;

/* Options beyond dir's, and backend facts: only volumes of other
 * backends carry them (vw_volume.ext), so dir volumes stay small. */
struct vw_volume_ext {
	char		*from_opt;	/* btrfs "from" as given, or NULL */
	uint64_t	 size;		/* "size", bytes, or 0 */
	uint32_t	 compression;	/* btrfs "compression" (vw_compression) */
	uint32_t	 fs;		/* loop "fs" (vw_fs) */
	uint64_t	 snapshot_every;	/* btrfs schedule, seconds, or 0 */
	uint32_t	 snapshot_keep;	/* btrfs schedule, snapshots kept */
	int64_t		 last_snapshot;	/* btrfs schedule: Unix seconds, 0 if none */
	struct vw_status_cache *status;	/* NULL until the first Get */
	struct vw_sched_ent *sched;	/* its place in the snapshot schedule
					 * (schedule.c), or NULL */
};

/* A known volume.  Owned by its registry. */
struct vw_volume {
	struct vw_volume *hnext;	/* name hash chain */
	struct vw_volume *pnext;	/* path hash chain */
	char		*path;		/* directory (Docker Mountpoint) */
	char		*mountpoint_opt;	/* the path option as given, or NULL */
	struct vw_volume_ext *ext;	/* NULL when no flag beyond dir's is set */
	struct vw_mount	*mounts;
	int64_t		 created;	/* Unix seconds */
	uint32_t	 flags, uid, gid, mode;	/* as vw_volume_opts */
	uint32_t	 total;		/* sum of mount counts */
	char		 name[];
};

/* Volumes of one driver: two hash tables (by name and by path). */
struct vw_registry {
	struct vw_volume **byname, **bypath;
	size_t		 nbuckets;
	size_t		 count;
	size_t		 ncustom;	/* volumes with a mountpoint option */
	size_t		 nmounted;	/* volumes with total > 0 */
	uint64_t	 gen;		/* bumped by every put and del */
};

int vw_registry_init(struct vw_registry *r);
/* The volume called name, or NULL. */
struct vw_volume *vw_registry_get(struct vw_registry *r, const char *name);
/* The volume whose directory is path, or NULL. */
struct vw_volume *vw_registry_by_path(struct vw_registry *r, const char *path);
/* Insert or replace name's entry (mount references are kept on replace).
 * Copies every string.  Returns the entry or NULL (ENOMEM). */
struct vw_volume *vw_registry_put(struct vw_registry *r, const char *name,
    int64_t created, const struct vw_volume_opts *opts, const char *path);
/* Remove and free name's entry; no-op if absent. */
void vw_registry_del(struct vw_registry *r, const char *name);
/* Set (volume, id)'s count (0 drops it); updates v->total and
 * r->nmounted.  Returns 0 or -1 (ENOMEM). */
int vw_registry_set_mount(struct vw_registry *r, struct vw_volume *v,
    const char *id, uint32_t count);
/* Count held by id, 0 if none. */
uint32_t vw_registry_mount_count(const struct vw_volume *v, const char *id);
/* Fill opts from the entry. */
void vw_volume_opts_of(const struct vw_volume *v, struct vw_volume_opts *opts);
/* v's extension, allocated (zeroed) on first use; NULL if out of
 * memory. */
struct vw_volume_ext *vw_volume_ext(struct vw_volume *v);
/* Call fn for each option v was created with, as Docker passed it
 * ("uid" -> "1000", "mode" -> "0750", "size" -> bytes), in schema order:
 * the one rendering of options for Get's Status and the admin API. */
void vw_volume_each_opt(const struct vw_volume *v,
    void (*fn)(void *arg, const char *key, const char *value), void *arg);
/* Calls fn for every volume; stops early if fn returns non-zero. */
int vw_registry_each(struct vw_registry *r,
    int (*fn)(void *arg, struct vw_volume *v), void *arg);
void vw_registry_free(struct vw_registry *r);

/* ---------------------------------------------------- the running daemon */

struct vw_fe;
struct vw_op;
struct vw_list_cache;
struct vw_sched;

/* The Docker endpoints, for routing and for metrics (endpoints.c). */
enum vw_ep {
	VW_EP_ACTIVATE, VW_EP_CAPABILITIES, VW_EP_CREATE, VW_EP_REMOVE,
	VW_EP_MOUNT, VW_EP_UNMOUNT, VW_EP_GET, VW_EP_LIST, VW_EP_PATH,
	VW_EP_UNKNOWN,
	VW_EP_COUNT
};

/* Helper operations timed by metrics: VOLUME_CREATE ..
 * VOLUME_SCAN (consecutive message types). */
#define VW_HELPER_OPS		11

/* Upper bounds of the latency histograms' finite buckets (metrics.c). */
#define VW_HIST_BUCKETS		19

/* One latency histogram.  count[i] is the number of observations in
 * bucket i alone (not cumulative); count[VW_HIST_BUCKETS] is +Inf. */
struct vw_hist {
	uint64_t	count[VW_HIST_BUCKETS + 1];
	uint64_t	sum_ns;
};

/* Counters of one driver, updated in the request path without
 * allocating (metrics.c); read by GET /metrics. */
struct vw_metrics {
	uint64_t	requests[VW_EP_COUNT];
	uint64_t	errors[VW_EP_COUNT];
	struct vw_hist	latency[VW_EP_COUNT];
	struct vw_hist	helper[VW_HELPER_OPS];
	/* The snapshot schedule (schedule.c). */
	uint64_t	sched_taken;		/* auto-* snapshots made */
	uint64_t	sched_failed;		/* failed snapshots or lists */
	uint64_t	sched_pruned;		/* auto-* deleted by snapshot_keep */
	uint64_t	sched_prune_failed;	/* deletions that failed */
};

/* One request on a driver socket: where the reply goes and what it
 * counts as.  Lives on the stack for requests answered at once, inside
 * the op for the others. */
struct vw_call {
	struct evhttp_request	*req;
	struct vw_drv		*drv;
	enum vw_ep		 ep;
	uint64_t		 t0;	/* arrival, CLOCK_MONOTONIC nanoseconds */
	/*
	 * Set (with req NULL) for a Create that the admin API submitted on
	 * no driver socket: the reply body Docker would have got ("{}" or
	 * {"Err": ...}, len bytes, valid only during the call) goes to done
	 * with its HTTP status instead, and no Docker metric counts it.
	 */
	void			(*done)(void *arg, int code, const char *body,
				    size_t len);
	void			*done_arg;
};

/* The helper channel of one driver (helper_client.c). */
struct vw_helper {
	int		 fd;
	pid_t		 pid;
	struct event	*ev, *wev;		/* readable; writable */
	uint64_t	 next_id;
	struct vw_hc_pending *head, *tail;	/* in-flight, in send order */
	struct vw_hc_pending *unsent;		/* first not yet sent */
	uint64_t	 capabilities;		/* from the HELLO reply */
};

/* A request's deadline (timeout.c): fn runs once it expires, unless
 * cancelled first.  Embedded in its owner; zero-initialised is unarmed. */
struct vw_deadline {
	struct vw_deadline	*prev, *next;
	uint64_t		 expires;	/* CLOCK_MONOTONIC ns */
	void			(*fn)(struct vw_deadline *);
	int			 armed;
};
struct vw_deadlines;

/* One configured driver at run time. */
struct vw_drv {
	struct vw_fe		*fe;
	size_t			 idx;
	const struct vw_driver	*d;
	int			 listen_fd;
	int			 activated;	/* listen_fd came from systemd */
	struct evhttp		*http;
	struct evconnlistener	*listener;	/* owned by http */
	struct event		*accept_timer;	/* resumes a paused accept */
	int			 accept_paused_logged;
	struct vw_helper	 helper;
	struct vw_registry	 reg;
	struct vw_op		*busy;		/* ops running, one per name */
	struct vw_list_cache	*list;		/* the last List reply */
	struct vw_metrics	 metrics;
	struct vw_deadlines	*deadlines;	/* timeout.c */
	struct fe_gluster	*gl;		/* glusterfs drivers (gluster.c) */
};

/* Volumes the state holds for a driver that is no longer configured
 * (collected during replay; start-up refuses if any remain). */
struct vw_orphan {
	struct vw_orphan	*next;
	char			*driver;
	struct vw_registry	 reg;
};

/* The frontend process. */
struct vw_fe {
	struct event_base	*base;
	struct vw_config	*cfg;
	struct vw_drv		*drv;
	size_t			 ndrv;
	struct vw_store		*state;		/* durable registry */
	struct vw_store		*mounts;	/* volatile mount counts */
	int			 state_fd, run_fd;
	int			 exit_code;
	struct vw_orphan	*orphans;
	uid_t			 uid;		/* the frontend user */
	gid_t			 gid;
	int			 seccomp_mode;	/* enum vw_seccomp_mode */
	int64_t			 started;	/* Unix seconds */
	uint64_t		 started_ns;	/* CLOCK_MONOTONIC */
	int			 admin_fd;	/* listening admin socket */
	struct evhttp		*admin;
	struct evconnlistener	*admin_listener;	/* owned by admin */
	struct event		*admin_accept_timer;
	int			 admin_accept_paused_logged;
	int			 notify_fd;	/* $NOTIFY_SOCKET, or -1 */
	struct vw_sched		*sched;		/* snapshot schedule (schedule.c) */
	int			 stopping;	/* SIGTERM: finishing what is in flight */
	uint64_t		 stop_deadline_ns;	/* CLOCK_MONOTONIC */
	struct event		*drain_timer;
};

/* ---------------------------------------------------------- sockets.c */
/* Bind and listen on path (permission bits mode, owner root, group gid)
 * after making sure no live instance answers there.  Returns a
 * non-blocking, close-on-exec fd, or -1 with a sentence in err. */
int fe_socket_listen(const char *path, mode_t mode, gid_t gid, char *err,
    size_t errlen);

/*
 * systemd socket activation (sd_listen_fds(3), without libsystemd): if
 * LISTEN_PID is our pid, take the LISTEN_FDS listening sockets from fd 3
 * on and give each to the driver whose socket_dir/NAME.sock it is bound
 * to (getsockname), setting drv->listen_fd and drv->activated.  Inherited
 * sockets that match no driver are closed with a warning.  The LISTEN_*
 * variables are removed from the environment either way.  Returns the
 * number of drivers served by inherited sockets, or -1 with err set (a
 * passed fd that is not a listening unix stream socket).
 */
int fe_listen_fds(struct vw_fe *fe, char *err, size_t errlen);

/*
 * sd_notify(3) readiness without libsystemd.  fe_notify_open, while
 * still unsandboxed, connects a datagram socket to $NOTIFY_SOCKET (a path
 * or, with a leading '@', an abstract name) and removes the variable;
 * it returns the fd, or -1 if there is none or it cannot be reached (then
 * logged).  fe_notify sends one state string ("READY=1") on it with
 * send(2), which the seccomp filter allows; failures are logged only.
 */
int fe_notify_open(void);
void fe_notify(int fd, const char *state);

/* ----------------------------------------------------- helper_client.c */
/* Fork and exec the helper for driver idx with the channel on fd 3. */
int hc_spawn(struct vw_drv *drv, const char *helper_path,
    const char *const *helper_args, char *err, size_t errlen);
/* Send HELLO and wait (blocking, at start-up) for its reply. */
int hc_hello(struct vw_drv *drv, char *err, size_t errlen);
/* Start reading replies from the event loop. */
int hc_attach(struct vw_drv *drv);
/* Ask the helper to act on a volume; cb runs with the reply (or NULL if
 * the request could not be sent).  The reply buffer is only valid during
 * the call. */
typedef void (*hc_cb)(void *arg, const struct vw_volume_reply *rep);
int hc_volume(struct vw_drv *drv, uint32_t type, const char *name,
    const struct vw_volume_opts *opts, hc_cb cb, void *arg);
/* Ask the helper for a VOLUME_SNAPSHOT_* request; cb runs with the reply
 * (valid only during the call).  Returns 0, or -1 if it cannot be sent. */
typedef void (*hc_snap_cb)(void *arg, const struct vw_snap_reply *rep);
int hc_snapshot(struct vw_drv *drv, uint32_t type, const struct vw_snap_req *req,
    hc_snap_cb cb, void *arg);

/* Ask the helper for a VOLUME_STATUS (request: name and options as
 * given at Create); cb runs with the reply, valid only during the call
 * (if the helper dies first, the daemon exits and cb never runs).  Returns 0 or -1
 * if it cannot be sent. */
typedef void (*hc_status_cb)(void *arg, const struct vw_status_reply *rep);
int hc_status(struct vw_drv *drv, const char *name,
    const struct vw_volume_opts *opts, hc_status_cb cb, void *arg);

/*
 * replies.c: a VOLUME_STATUS reply as the frontend may show it.  Returns
 * rep when its count, keys ([a-z0-9_], none of the frontend's own) and
 * text (terminated, UTF-8) are all right; else fills bad with err EPROTO,
 * no entries and the sentence "the backend sent an unreadable status"
 * (shown as status_error), and returns bad.  Never fails.
 */
const struct vw_status_reply *fe_status_reply_usable(
    const struct vw_status_reply *rep, struct vw_status_reply *bad);

/* Ask the helper for one page of VOLUME_SCAN; cb runs with the reply,
 * valid only during the call.  Returns 0 or -1 if it cannot be sent. */
typedef void (*hc_scan_cb)(void *arg, const struct vw_scan_reply *rep);
/* At shutdown: free the requests still waiting for an answer (their
 * callbacks never run). */
void hc_forget(struct vw_drv *drv);
int hc_scan(struct vw_drv *drv, uint32_t offset, uint64_t gen, hc_scan_cb cb,
    void *arg);

/* ----------------------------------------------------------- gluster.c */
/*
 * Shared (glusterfs) drivers: after the state is replayed, take the
 * leases of volumes still mounted here again, and list the Gluster
 * volume every VW_SCAN_INTERVAL seconds (and on List when the last
 * listing is older than 2 s) to add the volumes other nodes made and
 * drop those they removed.  Get and List never wait for a listing.
 * Returns 0, or -1 with a sentence in err.
 */
#define VW_SCAN_INTERVAL	5
struct fe_gluster;
int fe_gluster_start(struct vw_fe *fe, char *err, size_t errlen);
/* A List arrived: list the Gluster volume again if the last listing is
 * stale (no-op for other backends). */
void fe_gluster_list_hint(struct vw_drv *drv);
/* Free what fe_gluster_start made. */
void fe_gluster_stop(struct vw_fe *fe);
/* "global" for drivers whose volumes every node sees, else "local". */
const char *fe_scope(const struct vw_drv *drv);

/* ------------------------------------------------------------ status.c */
/* Ask v's backend for fresh facts, unless a request is in flight (no-op
 * for backends without any, like dir). */
void fe_status_refresh(struct vw_drv *drv, struct vw_volume *v);
/* Append the backend's last facts about v to Get's Status map
 * (",\"key\":\"value\"..."), and refresh them if they are stale. */
struct fe_out;
void fe_status_out(struct fe_out *o, struct vw_drv *drv, struct vw_volume *v);

/* Ask v's backend for fresh facts now and call cb(arg, fresh) once the
 * answer is in v's cache (fresh 1), or after timeout_ms milliseconds or
 * if the request cannot be sent (fresh 0: the cache holds what it had).
 * cb runs exactly once, possibly before this returns; v may be removed
 * meanwhile, so cb finds it again by name.  For the admin API, which may
 * wait (Get must not).  Returns 0, or -1 if out of memory (no cb). */
typedef void (*fe_status_fetch_cb)(void *arg, int fresh);
int fe_status_fetch(struct vw_drv *drv, struct vw_volume *v,
    unsigned timeout_ms, fe_status_fetch_cb cb, void *arg);

/* ----------------------------------------------------------- schedule.c */
/*
 * Scheduled snapshots (options snapshot_every, snapshot_keep; btrfs).
 * One timer for all volumes, a min-heap per driver keyed by the next
 * check; see the comment at the top of schedule.c.
 */
/* One scheduled volume.  vol is cleared by registry.c when the volume
 * is freed (removed), and moved along when its entry is replaced. */
struct vw_sched_ent {
	struct vw_volume	*vol;
	struct vw_drv		*drv;
	uint64_t		 due_ns;	/* next check, CLOCK_MONOTONIC */
	size_t			 pos;		/* heap index; SIZE_MAX while
						 * a check runs */
};
/* Set up the timer and schedule every replayed volume that has
 * snapshot_every, for a check at once (which finds the last scheduled
 * snapshot among the volume's snapshots).  After replay, before the
 * loop.  Returns 0, or -1 with a sentence in err. */
int fe_sched_start(struct vw_fe *fe, char *err, size_t errlen);
/* Schedule v (a volume just created) for a check snapshot_every from
 * now; no-op for volumes without snapshot_every or already scheduled. */
void fe_sched_add(struct vw_drv *drv, struct vw_volume *v);
/* Call fn with the schedule's facts about v for a Status map:
 * "snapshot_next" (when the next check is due) and "snapshot_last" (the
 * newest scheduled snapshot), RFC 3339 UTC, each only when known. */
void fe_sched_status(const struct vw_volume *v,
    void (*fn)(void *arg, const char *key, const char *value), void *arg);
/* Volumes scheduled in driver drv (for metrics). */
size_t fe_sched_count(const struct vw_fe *fe, size_t drv);
/* Free the timer and every entry (at exit; checks in flight are
 * abandoned). */
void fe_sched_stop(struct vw_fe *fe);

/* --------------------------------------------------------------- ops.c */
enum vw_op_kind { VW_OP_CREATE, VW_OP_REMOVE, VW_OP_MOUNT, VW_OP_UNMOUNT,
	VW_OP_SNAPSHOT, VW_OP_RESIZE };
/* Run a state-changing request, serialised per volume name.  Takes
 * ownership of the decoded request; call is copied. */
void fe_op_submit(const struct vw_call *call, enum vw_op_kind kind,
    struct vw_dreq *dreq, const struct vw_volume_opts *opts);
/*
 * Snapshot operations of a btrfs driver's volume, for the admin API (no
 * Docker endpoint carries them).  Each is serialised with the volume's
 * other requests like a Create or Mount.  cb runs exactly once, from the
 * event loop or (for a request refused at once) before the function
 * returns, with the helper's reply or one the frontend made: err 0, or a
 * positive errno with a sentence in msg naming the volume.  The reply
 * is valid only during the call.
 *   create: a read-only snapshot SNAP of VOLUME; entries[0] is it.
 *   list: up to VW_SNAP_LIST_MAX snapshots (name, creation time) from
 *     index offset, sorted by name; total is the number there are.
 *   delete: the snapshot SNAP.
 *   restore: VOLUME becomes a writable copy of SNAP; the state before is
 *     kept as snapshot entries[0] (pre-restore-TIMESTAMP).  Refused
 *     while the volume is mounted unless force is set (running
 *     containers then keep the old data until they restart).
 * Returns 0, or -1 only if out of memory (cb is not called then).
 */
typedef void (*fe_snap_cb)(void *arg, const struct vw_snap_reply *rep);
int fe_snapshot_create(struct vw_drv *drv, const char *volume,
    const char *snap, fe_snap_cb cb, void *arg);
int fe_snapshot_list(struct vw_drv *drv, const char *volume, uint32_t offset,
    fe_snap_cb cb, void *arg);
int fe_snapshot_delete(struct vw_drv *drv, const char *volume,
    const char *snap, fe_snap_cb cb, void *arg);
int fe_snapshot_restore(struct vw_drv *drv, const char *volume,
    const char *snap, int force, fe_snap_cb cb, void *arg);
/*
 * Grow a loop volume to size bytes, for the admin API: serialised with
 * the volume's other requests, then recorded (the volume's size option
 * becomes size).  cb runs exactly once (maybe before this returns) with
 * err 0, or a positive errno and a sentence naming the volume.  Returns
 * 0, or -1 only if out of memory (cb is not called then).
 */
typedef void (*fe_resize_cb)(void *arg, int err, const char *msg);
int fe_volume_resize(struct vw_drv *drv, const char *volume, uint64_t size,
    fe_resize_cb cb, void *arg);
/* Whether a request on volume name is running or queued in drv. */
int fe_op_busy(const struct vw_drv *drv, const char *name);
/* Apply a replayed record to the registries (store replay callback). */
int fe_apply_record(void *arg, const struct vw_record *rec, char *err,
    size_t errlen);
/* After replay: 0 if no volume belongs to an unconfigured driver, else
 * -1 with a sentence in err.  Frees the orphan lists either way. */
int fe_check_orphans(struct vw_fe *fe, char *err, size_t errlen);
/* Dump the live state as records (compaction callbacks). */
int fe_dump_state(void *arg, struct vw_store *st);
int fe_dump_mounts(void *arg, struct vw_store *st);

/* ----------------------------------------------------------- timeout.c */
/* Set up drv's deadlines (each limits.helper_timeout long).  Returns 0,
 * or -1 if out of memory. */
int fe_deadline_setup(struct vw_drv *drv);
/* Arm d to call fn in limits.helper_timeout seconds (re-arming one that
 * is armed). */
void fe_deadline_arm(struct vw_drv *drv, struct vw_deadline *d,
    void (*fn)(struct vw_deadline *));
/* Disarm d; nothing happens if it is not armed. */
void fe_deadline_cancel(struct vw_drv *drv, struct vw_deadline *d);
void fe_deadline_free(struct vw_drv *drv);

/* ---------------------------------------------------------- endpoints.c */
/* The evhttp callback for every request on a driver socket. */
void fe_http_dispatch(struct evhttp_request *req, void *arg);
/* "VolumeDriver.Create" etc., or "unknown": static strings. */
const char *fe_ep_name(enum vw_ep ep);
/* Drop the cached List reply (its memory goes once no reply uses it). */
void fe_list_forget(struct vw_drv *drv);
/*
 * A Create for c->drv whose name already passed the name rule: parse its
 * options with the driver's backend, check them, and submit the op.  Every
 * outcome, the refusals here included, is answered through c (takes
 * ownership of dreq).  The Docker endpoint and the admin API's
 * POST /v1/volumes share it, so both validate alike.
 */
void fe_create_submit(const struct vw_call *c, struct vw_dreq *dreq);

/* --------------------------------------------------------------- http.c */
/* Configure evhttp for drv on its listening socket (limits, routing). */
int fe_http_setup(struct vw_drv *drv, char *err, size_t errlen);
/* Find the listener evhttp made for bound (*lev) and make it pause
 * accepting for a moment, with a timer (*timer) to resume, when accept
 * fails at the descriptor limit, instead of spinning.  Returns 0 or -1. */
int fe_accept_watch(struct vw_fe *fe, struct evhttp_bound_socket *bound,
    struct evconnlistener **lev, struct event **timer);
/*
 * A reply written piece by piece into the request's output buffer (or,
 * with call NULL, into the heap string p, for a body kept and sent by
 * reference); an allocation failure turns it into a 500 at fe_out_send.
 * A call whose req and done are both NULL was answered already (its
 * deadline passed, ops.c): its reply is dropped.
 * Every reply on a driver socket goes through fe_out_send (or, for the
 * cached List, is counted by fe_metrics_request directly), so the
 * metrics see each request exactly once.
 */
struct fe_out {
	const struct vw_call	*call;
	struct evbuffer		*b;
	char			*p;
	size_t			 len, cap;
	int			 err;
	int			 discard;	/* answered already: drop the reply */
};
void fe_out_init(struct fe_out *o, const struct vw_call *c);
/* Bytes as they are. */
void fe_out_raw(struct fe_out *o, const char *s, size_t len);
/* A quoted, escaped JSON string (the same bytes yajl_gen writes). */
void fe_out_str(struct fe_out *o, const char *s, size_t len);
void fe_out_cstr(struct fe_out *o, const char *s);
/* Append the final newline, send with HTTP status code and count the
 * request in the driver's metrics (an error if code >= 400). */
void fe_out_send(struct fe_out *o, int code);
/* Send a reply with HTTP status code and a JSON body of len bytes, and
 * count it like fe_out_send. */
void fe_reply_json(const struct vw_call *c, int code, const char *body,
    size_t len);
/* Send {"Err": msg} with HTTP status code (200 for domain errors), and
 * count it as an error. */
void fe_reply_err(const struct vw_call *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Format t as RFC 3339 UTC ("2026-11-30T20:56:52Z") into buf (>= 32). */
void fe_rfc3339(int64_t t, char *buf, size_t len);

/* --------------------------------------------------------------- conn.c */
struct bufferevent;
/* Set up the connection limit (limits.max_connections over all sockets).
 * Returns 0 or -1. */
int fe_conn_setup(struct vw_fe *fe);
/* evhttp's bufferevent callback (evhttp_set_bevcb) for every socket: the
 * new connection's bufferevent, counted; at the limit the connection
 * idle longest is closed first.  NULL if out of memory. */
struct bufferevent *fe_conn_bev(struct event_base *base, void *arg);
/* Call first in every request callback: the request's connection is busy
 * until its reply is written, and is never closed by the limit. */
void fe_conn_request(struct evhttp_request *req);
/* Connections open now, and closed by the limit since start. */
size_t fe_conn_open(void);
uint64_t fe_conn_evicted(void);
/* After evhttp_free of every socket. */
void fe_conn_free(void);

/* ------------------------------------------------------------ metrics.c */
/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t fe_now_ns(void);
/* Count one answered request of c (error or not) and its latency. */
void fe_metrics_request(const struct vw_call *c, int error);
/* Count one helper round trip of type (VW_MSG_VOLUME_*) that took
 * ns nanoseconds. */
void fe_metrics_helper(struct vw_drv *drv, uint32_t type, uint64_t ns);
/* Append every metric in Prometheus text format (version 0.0.4) to out
 * (a struct evbuffer).  Returns 0, or -1 if out of memory. */
struct evbuffer;
int fe_metrics_render(struct vw_fe *fe, struct evbuffer *out);

/* ---------------------------------------------------------- reconcile.c */
/* Before serving: ask each loop driver's helper to mount every volume
 * with mount references and to unmount every other (both idempotent),
 * blocking.  A volume that fails is logged.  Returns 0, or -1 with a
 * sentence in err if a helper does not answer properly. */
int fe_reconcile(struct vw_fe *fe, char *err, size_t errlen);

/* -------------------------------------------------------------- admin.c */
/* Serve the admin API (GET /v1/volumes, /v1/volumes/NAME, /v1/status,
 * /metrics; the snapshot calls below /v1/volumes/NAME/snapshots) on
 * fe->admin_fd.  Returns 0, or -1 with a sentence in err. */
int fe_admin_setup(struct vw_fe *fe, char *err, size_t errlen);

#endif
