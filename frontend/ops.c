/*
 * The state-changing requests: Create, Remove, Mount and Unmount.
 *
 * Requests on one volume name run one at a time, in arrival order (dockerd
 * does not serialise Mount/Unmount, protocol doc section 13); different
 * names proceed concurrently.  Each op is a small chain of callbacks:
 * ask the helper, record the change in the store, and only when that is
 * durable update the registry and answer.  A crash at any point leaves
 * either the old state or the new one; the helper's actions are
 * idempotent, so a retried request finishes what a crash interrupted.
 *
 * Each op has a deadline (limits.helper_timeout, timeout.c); op_expired
 * says there what becomes of an op that misses it.
 */
#include "vw-build.h"

#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/http.h>

#include "common/log.h"
#include "common/validate.h"
#include "frontend/frontend.h"

#define LIT(s) (s), sizeof(s) - 1

/* Compact a store once its WAL passes this many bytes. */
#define COMPACT_BYTES	(8u << 20)

struct vw_op {
	struct vw_op		*next;		/* drv->busy list */
	struct vw_op		*wait_head, *wait_tail, *wnext;
	struct vw_drv		*drv;
	struct vw_call		 call;		/* where the reply goes */
	enum vw_op_kind		 kind;
	struct vw_dreq		 dreq;
	struct vw_volume_opts	 opts;
	int64_t			 created;
	uint32_t		 count;		/* new count for the mount ID */
	int			 reserved;	/* create: path claimed in busy list */
	char			 path[VW_PATH_MAX];
	/* VW_OP_SNAPSHOT: what to ask, and whom to tell (call.req is NULL). */
	uint32_t		 snap_type;
	struct vw_snap_req	 snap;
	fe_snap_cb		 snap_cb;
	void			*snap_arg;
	/* VW_OP_RESIZE: the admin API's callback (call.req is NULL). */
	fe_resize_cb		 resize_cb;
	void			*resize_arg;
	struct vw_deadline	 dl;		/* limits.helper_timeout */
	int			 started;	/* op_run has run it */
	int			 timed_out;	/* answered at its deadline */
	int			 undo;		/* then unmount what the helper mounted */
};

static void op_run(struct vw_op *op);
static void op_expired(struct vw_deadline *d);

static const char *
kind_name(enum vw_op_kind k)
{
	static const char *const names[] = { "create", "remove", "mount",
	    "unmount", "snapshot", "resize" };

	return names[k];
}

/* Release the volume name and start the next op waiting for it. */
static void
op_finish(struct vw_op *op)
{
	struct vw_drv *drv = op->drv;
	struct vw_op **pp, *next;

	fe_deadline_cancel(drv, &op->dl);
	for (pp = &drv->busy; *pp != op; pp = &(*pp)->next)
		;
	*pp = op->next;
	next = op->wait_head;
	if (next != NULL) {
		next->wait_head = next->wnext;
		next->wait_tail = next->wnext != NULL ? op->wait_tail : NULL;
		next->next = drv->busy;
		drv->busy = next;
	}
	vw_dreq_free(&op->dreq);
	free(op);
	if (next != NULL)
		op_run(next);
}

int
fe_op_busy(const struct vw_drv *drv, const char *name)
{
	for (const struct vw_op *o = drv->busy; o != NULL; o = o->next)
		if (strcmp(o->dreq.name, name) == 0)
			return 1;
	return 0;
}

/* Run op now, or after the op already running on the same volume name
 * (and those queued behind it) has finished. */
static void
op_enqueue(struct vw_op *op)
{
	struct vw_drv *drv = op->drv;
	struct vw_op *busy;

	for (busy = drv->busy; busy != NULL; busy = busy->next)
		if (strcmp(busy->dreq.name, op->dreq.name) == 0)
			break;
	if (busy != NULL) {
		if (busy->wait_tail != NULL)
			busy->wait_tail->wnext = op;
		else
			busy->wait_head = op;
		busy->wait_tail = op;
		return;
	}
	op->next = drv->busy;
	drv->busy = op;
	op_run(op);
}

static void
maybe_compact(struct vw_fe *fe, struct vw_store *st, vw_store_dump_fn dump)
{
	int err;

	if (vw_store_wal_bytes(st) < COMPACT_BYTES)
		return;
	if ((err = vw_store_compact(st, dump, fe)) != 0 && err != EBUSY)
		log_warnx("compacting the state failed (%s); the write-ahead log "
		    "keeps growing until it succeeds", strerror(err));
}

static void
reply_empty(struct vw_op *op)
{
	fe_reply_json(&op->call, 200, "{}", 2);
}

/* ------------------------------------------------------------- create */

static int
same_opts(const struct vw_volume *v, const struct vw_volume_opts *o)
{
	struct vw_volume_opts cur;

	vw_volume_opts_of(v, &cur);
	return cur.flags == o->flags && cur.uid == o->uid && cur.gid == o->gid &&
	    cur.mode == o->mode && cur.size == o->size &&
	    cur.compression == o->compression && cur.fs == o->fs &&
	    cur.snapshot_every == o->snapshot_every &&
	    cur.snapshot_keep == o->snapshot_keep &&
	    strcmp(cur.from, o->from) == 0 &&
	    strcmp(cur.mountpoint, o->mountpoint) == 0;
}

struct nest_scan {
	const char		*path;
	struct vw_volume	*hit;
};

static int
nest_one(void *arg, struct vw_volume *v)
{
	struct nest_scan *ns = arg;

	if (vw_path_beneath(ns->path, v->path) != NULL) {
		ns->hit = v;
		return 1;
	}
	return 0;
}

/* Refuse a directory that is, contains, or lies inside another volume's:
 * a container could then reach into, or replace, the other volume. */
static int
check_overlap(struct vw_op *op, const char *path)
{
	struct vw_registry *reg = &op->drv->reg;
	struct vw_volume *v;
	char prefix[VW_PATH_MAX];
	struct nest_scan ns = { path, NULL };

	if ((v = vw_registry_by_path(reg, path)) != NULL) {
		fe_reply_err(&op->call, 200, "volume %s: the directory %s is already "
		    "used by volume %s; choose another mountpoint", op->dreq.name,
		    path, v->name);
		return -1;
	}
	snprintf(prefix, sizeof(prefix), "%s", path);
	for (char *s = strrchr(prefix, '/'); s != NULL && s != prefix;
	    s = strrchr(prefix, '/')) {
		*s = '\0';
		if ((v = vw_registry_by_path(reg, prefix)) != NULL) {
			fe_reply_err(&op->call, 200, "volume %s: %s lies inside the "
			    "directory of volume %s; choose a mountpoint outside "
			    "other volumes", op->dreq.name, path, v->name);
			return -1;
		}
	}
	/* Creates still in flight have claimed their directories too. */
	for (struct vw_op *o = op->drv->busy; o != NULL; o = o->next) {
		if (o == op || !o->reserved)
			continue;
		if (strcmp(o->path, path) == 0 || vw_path_beneath(o->path, path) ||
		    vw_path_beneath(path, o->path)) {
			fe_reply_err(&op->call, 200, "volume %s: its directory %s "
			    "overlaps that of volume %s, which is being created; "
			    "choose another mountpoint", op->dreq.name, path,
			    o->dreq.name);
			return -1;
		}
	}
	/* Only volumes with a mountpoint option can sit below another
	 * volume's directory, so the scan is skipped in the common case. */
	if (reg->ncustom > 0 || (op->opts.flags & VW_OPT_MOUNTPOINT)) {
		vw_registry_each(reg, nest_one, &ns);
		if (ns.hit != NULL) {
			fe_reply_err(&op->call, 200, "volume %s: the directory of volume "
			    "%s lies inside %s; choose a mountpoint outside other "
			    "volumes", op->dreq.name, ns.hit->name, path);
			return -1;
		}
	}
	return 0;
}

static void
create_committed(void *arg, int err)
{
	struct vw_op *op = arg;
	struct vw_drv *drv = op->drv;

	if (err != 0) {
		fe_reply_err(&op->call, 200, "volume %s: its directory %s exists but "
		    "the volume could not be recorded in %s: %s; fix that and "
		    "create the volume again", op->dreq.name, op->path,
		    drv->fe->cfg->state_dir, strerror(err));
	} else if (vw_registry_put(&drv->reg, op->dreq.name, op->created,
	    &op->opts, op->path) == NULL) {
		fatalx("out of memory adding volume %s to the registry",
		    op->dreq.name);
	} else {
		fe_list_forget(drv);
		log_info("driver %s: volume %s created at %s", drv->d->name,
		    op->dreq.name, op->path);
		if (op->timed_out)
			log_warnx("driver %s: volume %s was created after its "
			    "request had timed out; it is registered",
			    drv->d->name, op->dreq.name);
		reply_empty(op);
		fe_status_refresh(drv, vw_registry_get(&drv->reg, op->dreq.name));
		fe_sched_add(drv, vw_registry_get(&drv->reg, op->dreq.name));
	}
	op_finish(op);
	maybe_compact(drv->fe, drv->fe->state, fe_dump_state);
}

static void
create_done(void *arg, const struct vw_volume_reply *rep)
{
	struct vw_op *op = arg;
	struct vw_drv *drv = op->drv;
	struct vw_record rec;

	vw_store_release(drv->fe->state);
	if (rep->err != 0) {
		fe_reply_err(&op->call, 200, "volume %s: %s", op->dreq.name, rep->msg);
		op_finish(op);
		return;
	}
	if (strcmp(rep->path, op->path) != 0) {
		log_warnx("volume %s: the helper placed it at %s, expected %s",
		    op->dreq.name, rep->path, op->path);
		snprintf(op->path, sizeof(op->path), "%s", rep->path);
	}
	op->created = (int64_t)time(NULL);
	memset(&rec, 0, sizeof(rec));
	rec.type = VW_REC_VOLUME_PUT;
	rec.driver = drv->d->name;
	rec.name = op->dreq.name;
	rec.created = op->created;
	rec.opts = &op->opts;
	rec.path = op->path;
	if (vw_store_append(drv->fe->state, &rec) < 0 ||
	    vw_store_commit(drv->fe->state, create_committed, op) < 0) {
		fe_reply_err(&op->call, 200, "volume %s: out of memory recording it; "
		    "try again", op->dreq.name);
		op_finish(op);
	}
}

/*
 * Would the helper take these options?  It checks every request with
 * vw_opts_check and the backend's schema (privhelper/dispatch.c) and
 * treats a failure as a protocol violation: it exits, and so does the
 * daemon.  So no request leaves here that fails them; returns 0, or -1
 * with a sentence in err.
 */
static int
opts_sendable(const struct vw_op *op, char *err, size_t errlen)
{
	char why[512];

	if (vw_opts_check(&op->opts, why, sizeof(why)) < 0 ||
	    vw_opts_check_backend(op->drv->d->backend, &op->opts, why,
	    sizeof(why)) < 0) {
		snprintf(err, errlen, "volume %s: its options cannot be used by "
		    "driver %s (%s)", op->dreq.name, op->drv->d->name, why);
		return -1;
	}
	return 0;
}

static void
op_create(struct vw_op *op)
{
	struct vw_drv *drv = op->drv;
	struct vw_volume *v = vw_registry_get(&drv->reg, op->dreq.name);
	const char *rel;
	char err[1024];
	size_t allowed;

	if (v != NULL) {
		/* Create is idempotent with the same options. */
		if (same_opts(v, &op->opts))
			reply_empty(op);
		else
			fe_reply_err(&op->call, 200, "volume %s already exists with "
			    "different options; remove it first, or create it with "
			    "the options it has (docker volume inspect %s shows "
			    "them)", op->dreq.name, op->dreq.name);
		op_finish(op);
		return;
	}
	if (vw_volume_path(drv->d, op->dreq.name, &op->opts, op->path,
	    sizeof(op->path), &allowed, &rel, err, sizeof(err)) < 0) {
		fe_reply_err(&op->call, 200, "volume %s: %s", op->dreq.name, err);
		op_finish(op);
		return;
	}
	if (check_overlap(op, op->path) < 0) {
		op_finish(op);
		return;
	}
	if (opts_sendable(op, err, sizeof(err)) < 0) {
		fe_reply_err(&op->call, 200, "%s", err);
		op_finish(op);
		return;
	}
	op->reserved = 1;
	if (hc_volume(drv, VW_MSG_VOLUME_CREATE, op->dreq.name, &op->opts,
	    create_done, op) < 0) {
		fe_reply_err(&op->call, 200, "volume %s: the privileged helper did "
		    "not accept the request; try again", op->dreq.name);
		op_finish(op);
		return;
	}
	/* Its record follows the helper's reply: commits wait for it. */
	vw_store_hold(drv->fe->state);
}

/* ------------------------------------------------------------- remove */

static void
remove_committed(void *arg, int err)
{
	struct vw_op *op = arg;
	struct vw_drv *drv = op->drv;

	if (err != 0) {
		fe_reply_err(&op->call, 200, "volume %s: could not record its removal "
		    "in %s: %s; try again", op->dreq.name,
		    drv->fe->cfg->state_dir, strerror(err));
	} else {
		vw_registry_del(&drv->reg, op->dreq.name);
		fe_list_forget(drv);
		log_info("driver %s: volume %s removed (on_remove %s)",
		    drv->d->name, op->dreq.name, vw_on_remove_name(drv->d->on_remove));
		if (op->timed_out)
			log_warnx("driver %s: volume %s was removed after its "
			    "request had timed out", drv->d->name, op->dreq.name);
		reply_empty(op);
	}
	op_finish(op);
	maybe_compact(drv->fe, drv->fe->state, fe_dump_state);
}

static void
remove_record(struct vw_op *op)
{
	struct vw_record rec;

	memset(&rec, 0, sizeof(rec));
	rec.type = VW_REC_VOLUME_DEL;
	rec.driver = op->drv->d->name;
	rec.name = op->dreq.name;
	if (vw_store_append(op->drv->fe->state, &rec) < 0 ||
	    vw_store_commit(op->drv->fe->state, remove_committed, op) < 0) {
		fe_reply_err(&op->call, 200, "volume %s: out of memory; try again",
		    op->dreq.name);
		op_finish(op);
	}
}

static void
remove_done(void *arg, const struct vw_volume_reply *rep)
{
	struct vw_op *op = arg;

	vw_store_release(op->drv->fe->state);
	if (rep->err != 0) {
		fe_reply_err(&op->call, 200, "volume %s: %s", op->dreq.name, rep->msg);
		op_finish(op);
		return;
	}
	remove_record(op);
}

static void
op_remove(struct vw_op *op)
{
	struct vw_drv *drv = op->drv;
	struct vw_volume *v = vw_registry_get(&drv->reg, op->dreq.name);
	char err[1024];

	if (v == NULL) {
		/* Already gone, e.g. a retried Remove: nothing to do. */
		reply_empty(op);
		op_finish(op);
		return;
	}
	if (v->total > 0) {
		fe_reply_err(&op->call, 200, "volume %s is in use (%u mount "
		    "reference%s); stop the containers that use it, then remove it",
		    op->dreq.name, v->total, v->total == 1 ? "" : "s");
		op_finish(op);
		return;
	}
	/* keep needs no helper, except with glusterfs: the directory stays
	 * visible to every node unless the agent marks it removed, and
	 * other nodes may hold leases on it. */
	if (drv->d->on_remove == VW_ON_REMOVE_KEEP &&
	    drv->d->backend != VW_BACKEND_GLUSTERFS) {
		remove_record(op);
		return;
	}
	vw_volume_opts_of(v, &op->opts);
	if (opts_sendable(op, err, sizeof(err)) < 0) {
		fe_reply_err(&op->call, 200, "%s", err);
		op_finish(op);
		return;
	}
	if (hc_volume(drv, VW_MSG_VOLUME_REMOVE, op->dreq.name, &op->opts,
	    remove_done, op) < 0) {
		fe_reply_err(&op->call, 200, "volume %s: the privileged helper did "
		    "not accept the request; try again", op->dreq.name);
		op_finish(op);
		return;
	}
	vw_store_hold(drv->fe->state);
}

/* ------------------------------------------------------ mount/unmount */

static void undo_done(void *arg, const struct vw_volume_reply *rep);
static void mount_record(struct vw_op *op);

static void
mount_committed(void *arg, int err)
{
	struct vw_op *op = arg;
	struct vw_drv *drv = op->drv;
	struct vw_volume *v = vw_registry_get(&drv->reg, op->dreq.name);

	if (err == 0 && v != NULL && op->timed_out && op->kind == VW_OP_MOUNT) {
		/* The reference was recorded after the request had been
		 * answered at its deadline: dockerd will never unmount this
		 * ID.  Record the count as it was, then undo the helper's
		 * mount if it was asked for one (the total was 0). */
		log_warnx("volume %s: the mount finished after the request had "
		    "timed out; taking its reference back", op->dreq.name);
		op->undo = v->total == 0;
		op->count--;
		op->kind = VW_OP_UNMOUNT;
		mount_record(op);
		return;
	}
	if (err != 0 || v == NULL ||
	    vw_registry_set_mount(&drv->reg, v, op->dreq.id, op->count) < 0) {
		fe_reply_err(&op->call, 200, "volume %s: could not record the mount "
		    "reference in %s: %s; try again", op->dreq.name,
		    drv->fe->cfg->run_dir, strerror(err ? err : ENOMEM));
		op_finish(op);
		return;
	}
	if (op->undo) {
		vw_volume_opts_of(v, &op->opts);
		if (hc_volume(drv, VW_MSG_VOLUME_UNMOUNT, op->dreq.name,
		    &op->opts, undo_done, op) < 0) {
			log_warnx("volume %s: cannot ask the helper to undo the "
			    "late mount", op->dreq.name);
			op_finish(op);
		}
		return;
	}
	if (op->kind == VW_OP_UNMOUNT) {
		reply_empty(op);
	} else {
		struct fe_out o;

		/* Escaped like every reply: the path may hold quotes or
		 * backslashes (control characters cannot occur). */
		fe_out_init(&o, &op->call);
		fe_out_raw(&o, LIT("{\"Mountpoint\":"));
		fe_out_cstr(&o, v->path);
		fe_out_raw(&o, LIT(",\"Err\":\"\"}"));
		fe_out_send(&o, 200);
	}
	fe_status_refresh(drv, v);
	op_finish(op);
	maybe_compact(drv->fe, drv->fe->mounts, fe_dump_mounts);
}

static void
mount_record(struct vw_op *op)
{
	struct vw_record rec;

	memset(&rec, 0, sizeof(rec));
	rec.type = VW_REC_MOUNT_SET;
	rec.driver = op->drv->d->name;
	rec.name = op->dreq.name;
	rec.mount_id = op->dreq.id;
	rec.count = op->count;
	if (vw_store_append(op->drv->fe->mounts, &rec) < 0 ||
	    vw_store_commit(op->drv->fe->mounts, mount_committed, op) < 0) {
		fe_reply_err(&op->call, 200, "volume %s: out of memory; try again",
		    op->dreq.name);
		op_finish(op);
	}
}

static void
undo_done(void *arg, const struct vw_volume_reply *rep)
{
	struct vw_op *op = arg;

	if (rep->err != 0)
		log_warnx("volume %s: undoing the late mount failed: %s",
		    op->dreq.name, rep->msg);
	op_finish(op);
}

static void
mount_done(void *arg, const struct vw_volume_reply *rep)
{
	struct vw_op *op = arg;

	if (rep->err != 0) {
		fe_reply_err(&op->call, 200, "volume %s: %s", op->dreq.name, rep->msg);
		op_finish(op);
		return;
	}
	if (op->timed_out && op->kind == VW_OP_MOUNT) {
		/* dockerd was told that this Mount failed and will never
		 * send its Unmount: count no reference, and undo what the
		 * helper did (the name stays busy until it has). */
		log_warnx("volume %s: the helper mounted it after the request "
		    "had timed out; unmounting it again", op->dreq.name);
		if (hc_volume(op->drv, VW_MSG_VOLUME_UNMOUNT, op->dreq.name,
		    &op->opts, undo_done, op) < 0) {
			log_warnx("volume %s: cannot ask the helper to undo the "
			    "late mount", op->dreq.name);
			op_finish(op);
		}
		return;
	}
	mount_record(op);
}

static void
op_mount(struct vw_op *op)
{
	struct vw_drv *drv = op->drv;
	struct vw_volume *v = vw_registry_get(&drv->reg, op->dreq.name);
	char err[1024];
	uint32_t cur;

	if (v == NULL) {
		fe_reply_err(&op->call, 200, "volume %s does not exist in driver %s; "
		    "create it first", op->dreq.name, drv->d->name);
		op_finish(op);
		return;
	}
	cur = vw_registry_mount_count(v, op->dreq.id);
	if (op->kind == VW_OP_MOUNT) {
		if (cur == UINT32_MAX) {
			fe_reply_err(&op->call, 200, "volume %s: too many mounts for "
			    "one ID", op->dreq.name);
			op_finish(op);
			return;
		}
		op->count = cur + 1;
		if (v->total > 0) {
			mount_record(op);
			return;
		}
	} else {
		if (cur == 0) {
			/* dockerd sends Unmount for IDs it never mounted
			 * (protocol doc section 10): nothing to release. */
			log_debug("volume %s: unmount of unknown mount ID %s",
			    op->dreq.name, op->dreq.id);
			reply_empty(op);
			op_finish(op);
			return;
		}
		op->count = cur - 1;
		if (v->total > 1) {
			mount_record(op);
			return;
		}
	}
	/* 0 -> 1 or 1 -> 0: the backend acts. */
	vw_volume_opts_of(v, &op->opts);
	if (opts_sendable(op, err, sizeof(err)) < 0) {
		fe_reply_err(&op->call, 200, "%s", err);
		op_finish(op);
		return;
	}
	if (hc_volume(drv, op->kind == VW_OP_MOUNT ? VW_MSG_VOLUME_MOUNT :
	    VW_MSG_VOLUME_UNMOUNT, op->dreq.name, &op->opts, mount_done, op) < 0) {
		fe_reply_err(&op->call, 200, "volume %s: the privileged helper did "
		    "not accept the request; try again", op->dreq.name);
		op_finish(op);
	}
}

/* ---------------------------------------------------------- snapshots */

/* Answer a snapshot op with a frontend-made error. */
static void __attribute__((format(printf, 3, 4)))
snap_fail(struct vw_op *op, int err, const char *fmt, ...)
{
	struct vw_snap_reply *rep = calloc(1, sizeof(*rep));
	va_list ap;

	if (rep == NULL)
		fatalx("out of memory answering a snapshot request");
	rep->err = err;
	va_start(ap, fmt);
	vsnprintf(rep->msg, sizeof(rep->msg), fmt, ap);
	va_end(ap);
	op->snap_cb(op->snap_arg, rep);
	free(rep);
}

static void
snap_done(void *arg, const struct vw_snap_reply *rep)
{
	struct vw_op *op = arg;
	struct vw_volume *v;

	op->snap_cb(op->snap_arg, rep);
	if ((v = vw_registry_get(&op->drv->reg, op->dreq.name)) != NULL)
		fe_status_refresh(op->drv, v);
	op_finish(op);
}

static void
op_snapshot(struct vw_op *op)
{
	struct vw_drv *drv = op->drv;
	struct vw_volume *v = vw_registry_get(&drv->reg, op->dreq.name);

	if (drv->d->backend != VW_BACKEND_BTRFS) {
		snap_fail(op, EOPNOTSUPP, "volume %s: driver %s (backend %s) has "
		    "no snapshots; use a driver with backend btrfs", op->dreq.name,
		    drv->d->name, vw_backend_name(drv->d->backend));
		op_finish(op);
		return;
	}
	if (v == NULL) {
		snap_fail(op, ENOENT, "volume %s does not exist in driver %s",
		    op->dreq.name, drv->d->name);
		op_finish(op);
		return;
	}
	if (op->snap_type == VW_MSG_VOLUME_SNAPSHOT_RESTORE) {
		if (v->total > 0 && !(op->snap.flags & VW_SNAP_FORCE)) {
			snap_fail(op, EBUSY, "volume %s is in use (%u mount "
			    "reference%s); stop the containers that use it, or "
			    "force the restore (they keep the old data until "
			    "restarted)", op->dreq.name, v->total,
			    v->total == 1 ? "" : "s");
			op_finish(op);
			return;
		}
		if (v->flags & VW_OPT_SIZE)
			op->snap.size = v->ext->size;
	}
	if (hc_snapshot(drv, op->snap_type, &op->snap, snap_done, op) < 0) {
		snap_fail(op, EAGAIN, "volume %s: the privileged helper did not "
		    "accept the request; try again", op->dreq.name);
		op_finish(op);
	}
}

/* Check the names, then queue the op like a Docker request. */
static int
snap_submit(struct vw_drv *drv, uint32_t type, const char *volume,
    const char *snap, uint32_t flags, uint32_t offset, fe_snap_cb cb,
    void *arg)
{
	struct vw_op *op = calloc(1, sizeof(*op));
	char why[256];

	if (op == NULL)
		return -1;
	op->drv = drv;
	op->kind = VW_OP_SNAPSHOT;
	op->snap_type = type;
	op->snap_cb = cb;
	op->snap_arg = arg;
	op->snap.flags = flags;
	op->snap.offset = offset;
	if (vw_name_valid(volume, strlen(volume), why, sizeof(why)) < 0 ||
	    (snap != NULL && vw_name_valid(snap, strlen(snap), why,
	    sizeof(why)) < 0)) {
		op->snap_cb = cb;
		snap_fail(op, EINVAL, "%s", why);
		free(op);
		return 0;
	}
	snprintf(op->snap.name, sizeof(op->snap.name), "%s", volume);
	if (snap != NULL)
		snprintf(op->snap.snap, sizeof(op->snap.snap), "%s", snap);
	if ((op->dreq.name = strdup(volume)) == NULL) {
		free(op);
		return -1;
	}
	op->dreq.name_len = strlen(volume);
	fe_deadline_arm(drv, &op->dl, op_expired);
	op_enqueue(op);
	return 0;
}

int
fe_snapshot_create(struct vw_drv *drv, const char *volume, const char *snap,
    fe_snap_cb cb, void *arg)
{
	return snap_submit(drv, VW_MSG_VOLUME_SNAPSHOT_CREATE, volume, snap, 0,
	    0, cb, arg);
}

int
fe_snapshot_list(struct vw_drv *drv, const char *volume, uint32_t offset,
    fe_snap_cb cb, void *arg)
{
	return snap_submit(drv, VW_MSG_VOLUME_SNAPSHOT_LIST, volume, NULL, 0,
	    offset, cb, arg);
}

int
fe_snapshot_delete(struct vw_drv *drv, const char *volume, const char *snap,
    fe_snap_cb cb, void *arg)
{
	return snap_submit(drv, VW_MSG_VOLUME_SNAPSHOT_DELETE, volume, snap, 0,
	    0, cb, arg);
}

int
fe_snapshot_restore(struct vw_drv *drv, const char *volume, const char *snap,
    int force, fe_snap_cb cb, void *arg)
{
	return snap_submit(drv, VW_MSG_VOLUME_SNAPSHOT_RESTORE, volume, snap,
	    force ? VW_SNAP_FORCE : 0, 0, cb, arg);
}

/* ------------------------------------------------------------- resize */

static void __attribute__((format(printf, 3, 4)))
resize_answer(struct vw_op *op, int err, const char *fmt, ...)
{
	char msg[VW_ERRMSG_MAX + 128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	op->resize_cb(op->resize_arg, err, msg);
}

static void
resize_committed(void *arg, int err)
{
	struct vw_op *op = arg;
	struct vw_drv *drv = op->drv;
	struct vw_volume *v = vw_registry_get(&drv->reg, op->dreq.name);

	if (err != 0)
		resize_answer(op, err, "volume %s was grown but its new size could "
		    "not be recorded in %s: %s; resize it again", op->dreq.name,
		    drv->fe->cfg->state_dir, strerror(err));
	else if (v == NULL || vw_registry_put(&drv->reg, op->dreq.name,
	    v->created, &op->opts, op->path) == NULL)
		fatalx("out of memory updating volume %s", op->dreq.name);
	else {
		fe_list_forget(drv);
		log_info("driver %s: volume %s resized to %llu bytes",
		    drv->d->name, op->dreq.name, (unsigned long long)op->opts.size);
		resize_answer(op, 0, "volume %s resized", op->dreq.name);
		fe_status_refresh(drv, vw_registry_get(&drv->reg, op->dreq.name));
	}
	op_finish(op);
	maybe_compact(drv->fe, drv->fe->state, fe_dump_state);
}

static void
resize_done(void *arg, const struct vw_volume_reply *rep)
{
	struct vw_op *op = arg;
	struct vw_drv *drv = op->drv;
	struct vw_volume *v = vw_registry_get(&drv->reg, op->dreq.name);
	struct vw_record rec;

	if (rep->err != 0) {
		resize_answer(op, rep->err, "volume %s: %s", op->dreq.name, rep->msg);
		op_finish(op);
		return;
	}
	memset(&rec, 0, sizeof(rec));
	rec.type = VW_REC_VOLUME_PUT;
	rec.driver = drv->d->name;
	rec.name = op->dreq.name;
	rec.created = v != NULL ? v->created : (int64_t)time(NULL);
	rec.opts = &op->opts;
	rec.path = op->path;
	if (vw_store_append(drv->fe->state, &rec) < 0 ||
	    vw_store_commit(drv->fe->state, resize_committed, op) < 0) {
		resize_answer(op, ENOMEM, "volume %s: out of memory recording its "
		    "new size; resize it again", op->dreq.name);
		op_finish(op);
	}
}

static void
op_resize(struct vw_op *op)
{
	struct vw_drv *drv = op->drv;
	struct vw_volume *v = vw_registry_get(&drv->reg, op->dreq.name);
	uint64_t size = op->opts.size;
	char err[1024];

	if (drv->d->backend != VW_BACKEND_LOOP) {
		resize_answer(op, EOPNOTSUPP, "volume %s: driver %s (backend %s) "
		    "cannot resize volumes; only loop volumes have a size to grow",
		    op->dreq.name, drv->d->name, vw_backend_name(drv->d->backend));
		op_finish(op);
		return;
	}
	if (v == NULL) {
		resize_answer(op, ENOENT, "volume %s does not exist in driver %s",
		    op->dreq.name, drv->d->name);
		op_finish(op);
		return;
	}
	vw_volume_opts_of(v, &op->opts);
	if (((op->opts.flags & VW_OPT_FS) ? op->opts.fs : drv->d->fs) ==
	    VW_FS_EROFS) {
		resize_answer(op, EOPNOTSUPP, "volume %s is a read-only EROFS "
		    "image; its size follows its content", op->dreq.name);
		op_finish(op);
		return;
	}
	op->opts.flags |= VW_OPT_SIZE;
	op->opts.size = size;
	if (opts_sendable(op, err, sizeof(err)) < 0) {
		resize_answer(op, EINVAL, "%s", err);
		op_finish(op);
		return;
	}
	if (size > drv->d->max_size) {
		resize_answer(op, EFBIG, "volume %s: size %llu MiB is above the "
		    "limit of driver %s (max_size %llu MiB); choose a smaller "
		    "size, or raise max_size in the configuration", op->dreq.name,
		    (unsigned long long)(size >> 20), drv->d->name,
		    (unsigned long long)(drv->d->max_size >> 20));
		op_finish(op);
		return;
	}
	snprintf(op->path, sizeof(op->path), "%s", v->path);
	if (hc_volume(drv, VW_MSG_VOLUME_RESIZE, op->dreq.name, &op->opts,
	    resize_done, op) < 0) {
		resize_answer(op, EAGAIN, "volume %s: the privileged helper did not "
		    "accept the request; try again", op->dreq.name);
		op_finish(op);
	}
}

int
fe_volume_resize(struct vw_drv *drv, const char *volume, uint64_t size,
    fe_resize_cb cb, void *arg)
{
	struct vw_op *op = calloc(1, sizeof(*op));
	char why[256];

	if (op == NULL)
		return -1;
	if (vw_name_valid(volume, strlen(volume), why, sizeof(why)) < 0) {
		free(op);
		cb(arg, EINVAL, why);
		return 0;
	}
	if (size < VW_SIZE_MIN || size > VW_SIZE_MAX) {
		free(op);
		cb(arg, EINVAL, "the size must be from 1M to 1024P");
		return 0;
	}
	op->drv = drv;
	op->kind = VW_OP_RESIZE;
	op->resize_cb = cb;
	op->resize_arg = arg;
	op->opts.size = size;
	if ((op->dreq.name = strdup(volume)) == NULL) {
		free(op);
		return -1;
	}
	op->dreq.name_len = strlen(volume);
	fe_deadline_arm(drv, &op->dl, op_expired);
	op_enqueue(op);
	return 0;
}

/* A late resize reply: the admin client was answered at the deadline. */
static void
resize_discard(void *arg, int err, const char *msg)
{
	(void)arg;
	log_warnx("a resize finished after it had timed out: %s",
	    err ? msg : "done");
}

/* A late snapshot reply: the admin client was answered at the deadline. */
static void
snap_discard(void *arg, const struct vw_snap_reply *rep)
{
	(void)arg;
	log_warnx("a snapshot request finished after it had timed out: %s",
	    rep->err ? rep->msg : "done");
}

/*
 * An op missed its deadline (limits.helper_timeout): answer now with what
 * happened, then let it run on without a client.  State always follows
 * what the helper really did:
 * - an op that never started (it waited behind another op on the same
 *   volume) is cancelled: op_run drops it when its turn comes;
 * - Create and Remove go on, and a late success is recorded as usual: the
 *   volume exists (or is gone), as it would after dockerd's own timeout;
 *   a Create retried meanwhile waits for it and then finds the volume;
 * - a late successful Mount counts no reference and is undone with an
 *   Unmount, because dockerd, having seen an error, never sends one;
 * - a late Unmount releases its reference, since the helper did unmount;
 * - a late resize is recorded as usual (the volume has its new size);
 * - a snapshot's late reply is only logged.
 * The volume's name stays busy until the helper has answered, so later
 * requests for it see the outcome.
 */
static void
op_expired(struct vw_deadline *d)
{
	struct vw_op *op = (struct vw_op *)(void *)((char *)d -
	    offsetof(struct vw_op, dl));
	struct vw_drv *drv = op->drv;
	unsigned secs = drv->fe->cfg->limits.helper_timeout;
	const char *then = "";

	op->timed_out = 1;
	log_warnx("driver %s: %s of volume %s timed out after %u s (%s)",
	    drv->d->name, kind_name(op->kind), op->dreq.name, secs,
	    op->started ? "the helper is still busy with it" :
	    "it had not started; cancelled");
	if (!op->started) {
		if (op->kind == VW_OP_RESIZE) {
			resize_answer(op, ETIMEDOUT, "volume %s: the resize waited "
			    "%u s behind an earlier request for this volume, which "
			    "the privileged helper of driver %s has not finished (a "
			    "slow or hung file system?); it is cancelled: try "
			    "again later", op->dreq.name, secs, drv->d->name);
			op->resize_cb = resize_discard;
		} else if (op->kind == VW_OP_SNAPSHOT) {
			snap_fail(op, ETIMEDOUT, "volume %s: the request waited "
			    "%u s behind an earlier one for this volume, which the "
			    "privileged helper of driver %s has not finished (a "
			    "slow or hung file system?); it is cancelled: try "
			    "again later", op->dreq.name, secs, drv->d->name);
			op->snap_cb = snap_discard;
		} else
			fe_reply_err(&op->call, 200, "volume %s: the %s waited %u s "
			    "behind an earlier request for this volume, which the "
			    "privileged helper of driver %s has not finished (a "
			    "slow or hung file system?); it is cancelled: try "
			    "again later", op->dreq.name, kind_name(op->kind), secs,
			    drv->d->name);
		op->call.req = NULL;
		op->call.done = NULL;
		return;
	}
	switch (op->kind) {
	case VW_OP_CREATE:
		then = "it goes on: if it succeeds the volume exists, and "
		    "creating it again succeeds (docker volume ls shows it)";
		break;
	case VW_OP_REMOVE:
		then = "it goes on: if it succeeds the volume is gone (docker "
		    "volume ls shows whether it is)";
		break;
	case VW_OP_MOUNT:
		then = "if the helper still mounts it, volwarden unmounts it "
		    "again; try again later";
		break;
	case VW_OP_UNMOUNT:
		then = "the reference is released when the helper finishes";
		break;
	case VW_OP_RESIZE:
		resize_answer(op, ETIMEDOUT, "volume %s: the resize did not finish "
		    "within %u s because the privileged helper of driver %s is "
		    "busy (a slow or hung file system?); it goes on: if it "
		    "succeeds the volume has its new size", op->dreq.name, secs,
		    drv->d->name);
		op->resize_cb = resize_discard;
		return;
	case VW_OP_SNAPSHOT:
		snap_fail(op, ETIMEDOUT, "volume %s: the snapshot request did "
		    "not finish within %u s because the privileged helper of "
		    "driver %s is busy (a slow or hung file system?); it goes "
		    "on: list the snapshots to see whether it took effect",
		    op->dreq.name, secs, drv->d->name);
		op->snap_cb = snap_discard;
		return;
	}
	fe_reply_err(&op->call, 200, "volume %s: the %s did not finish within "
	    "%u s because the privileged helper of driver %s is busy (a slow "
	    "or hung file system?); %s", op->dreq.name, kind_name(op->kind),
	    secs, drv->d->name, then);
	/* Later replies are dropped (an admin Create's too). */
	op->call.req = NULL;
	op->call.done = NULL;
}

static void
op_run(struct vw_op *op)
{
	if (op->timed_out) {
		op_finish(op);	/* cancelled while it waited its turn */
		return;
	}
	op->started = 1;
	log_debug("driver %s: %s %s", op->drv->d->name, kind_name(op->kind),
	    op->dreq.name);
	switch (op->kind) {
	case VW_OP_CREATE:
		op_create(op);
		break;
	case VW_OP_REMOVE:
		op_remove(op);
		break;
	case VW_OP_MOUNT:
	case VW_OP_UNMOUNT:
		op_mount(op);
		break;
	case VW_OP_SNAPSHOT:
		op_snapshot(op);
		break;
	case VW_OP_RESIZE:
		op_resize(op);
		break;
	}
}

void
fe_op_submit(const struct vw_call *call, enum vw_op_kind kind,
    struct vw_dreq *dreq, const struct vw_volume_opts *opts)
{
	struct vw_drv *drv = call->drv;
	struct vw_op *op = calloc(1, sizeof(*op));

	if (op == NULL) {
		fe_reply_err(call, 500, "out of memory");
		vw_dreq_free(dreq);
		return;
	}
	op->drv = drv;
	op->call = *call;
	op->kind = kind;
	op->dreq = *dreq;
	memset(dreq, 0, sizeof(*dreq));
	if (opts != NULL)
		op->opts = *opts;
	fe_deadline_arm(drv, &op->dl, op_expired);
	op_enqueue(op);
}

/* ------------------------------------------------- replay and compaction */

static struct vw_drv *
find_drv(struct vw_fe *fe, const char *name)
{
	for (size_t i = 0; i < fe->ndrv; i++)
		if (strcmp(fe->drv[i].d->name, name) == 0)
			return &fe->drv[i];
	return NULL;
}

/* A record of a driver no longer in the configuration: track it, so that
 * start-up can refuse if such a volume still exists at the end. */
static int
apply_orphan(struct vw_fe *fe, const struct vw_record *rec, char *err,
    size_t errlen)
{
	struct vw_orphan *o;

	if (rec->type == VW_REC_MOUNT_SET)
		return 0;
	for (o = fe->orphans; o != NULL; o = o->next)
		if (strcmp(o->driver, rec->driver) == 0)
			break;
	if (o == NULL) {
		if (rec->type == VW_REC_VOLUME_DEL)
			return 0;
		if ((o = calloc(1, sizeof(*o))) == NULL ||
		    (o->driver = strdup(rec->driver)) == NULL ||
		    vw_registry_init(&o->reg) < 0) {
			if (o != NULL)
				free(o->driver);
			free(o);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		o->next = fe->orphans;
		fe->orphans = o;
	}
	if (rec->type == VW_REC_VOLUME_DEL)
		vw_registry_del(&o->reg, rec->name);
	else if (vw_registry_put(&o->reg, rec->name, rec->created, rec->opts,
	    rec->path) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static int
first_name(void *arg, struct vw_volume *v)
{
	*(const char **)arg = v->name;
	return 1;
}

int
fe_check_orphans(struct vw_fe *fe, char *err, size_t errlen)
{
	struct vw_orphan *o, *next;
	int rc = 0;

	for (o = fe->orphans; o != NULL; o = next) {
		next = o->next;
		if (rc == 0 && o->reg.count > 0) {
			const char *name = "?";

			vw_registry_each(&o->reg, first_name, &name);
			snprintf(err, errlen, "the state holds %zu volume%s (e.g. "
			    "%s) of driver %s, which is not configured; add the "
			    "driver back to the configuration, and remove its "
			    "volumes with docker volume rm if they are no longer "
			    "wanted (volumes are never dropped silently)",
			    o->reg.count, o->reg.count == 1 ? "" : "s", name,
			    o->driver);
			rc = -1;
		}
		vw_registry_free(&o->reg);
		free(o->driver);
		free(o);
	}
	fe->orphans = NULL;
	return rc;
}

int
fe_apply_record(void *arg, const struct vw_record *rec, char *err,
    size_t errlen)
{
	struct vw_fe *fe = arg;
	struct vw_drv *drv = find_drv(fe, rec->driver);
	struct vw_volume *v;

	if (drv == NULL)
		return apply_orphan(fe, rec, err, errlen);
	switch (rec->type) {
	case VW_REC_VOLUME_PUT:
		if (vw_registry_put(&drv->reg, rec->name, rec->created, rec->opts,
		    rec->path) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		break;
	case VW_REC_VOLUME_DEL:
		vw_registry_del(&drv->reg, rec->name);
		break;
	case VW_REC_MOUNT_SET:
		/* References to volumes removed since are stale: drop them. */
		if ((v = vw_registry_get(&drv->reg, rec->name)) != NULL &&
		    vw_registry_set_mount(&drv->reg, v, rec->mount_id,
		    rec->count) < 0) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		break;
	}
	return 0;
}

struct dump {
	struct vw_drv	*drv;
	struct vw_store	*st;
	int		 mounts;
};

static int
dump_one(void *arg, struct vw_volume *v)
{
	struct dump *d = arg;
	struct vw_volume_opts opts;
	struct vw_record rec;

	memset(&rec, 0, sizeof(rec));
	rec.driver = d->drv->d->name;
	rec.name = v->name;
	if (d->mounts) {
		rec.type = VW_REC_MOUNT_SET;
		for (struct vw_mount *m = v->mounts; m != NULL; m = m->next) {
			rec.mount_id = m->id;
			rec.count = m->count;
			if (vw_store_emit(d->st, &rec) < 0)
				return -1;
		}
		return 0;
	}
	vw_volume_opts_of(v, &opts);
	rec.type = VW_REC_VOLUME_PUT;
	rec.created = v->created;
	rec.opts = &opts;
	rec.path = v->path;
	return vw_store_emit(d->st, &rec) < 0 ? -1 : 0;
}

static int
dump_all(struct vw_fe *fe, struct vw_store *st, int mounts)
{
	for (size_t i = 0; i < fe->ndrv; i++) {
		struct dump d = { &fe->drv[i], st, mounts };

		if (vw_registry_each(&fe->drv[i].reg, dump_one, &d) != 0)
			return -1;
	}
	return 0;
}

int
fe_dump_state(void *arg, struct vw_store *st)
{
	return dump_all(arg, st, 0);
}

int
fe_dump_mounts(void *arg, struct vw_store *st)
{
	return dump_all(arg, st, 1);
}
