/*
 * Shared (glusterfs) drivers in the frontend: keep the registry in step
 * with the Gluster volume, which every node shares.
 *
 * A listing (VOLUME_SCAN, one page of names after another) runs every
 * VW_SCAN_INTERVAL seconds, and on List when the last one is older than
 * two seconds; Get and List keep answering from the registry meanwhile
 * and never wait for it.  Volumes it shows that the registry lacks are
 * added, and volumes the registry has that it no longer shows are
 * dropped (unless mounted here), both as durable records like a Create's
 * or a Remove's.  A listing during which the registry changed (a local
 * Create or Remove) is thrown away: it may predate that change.  One
 * that fails (servers down) changes nothing.
 */
#include "vw-build.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/log.h"
#include "common/validate.h"
#include "frontend/frontend.h"

/* A List starts a listing when the last one began this long ago. */
#define LIST_STALE_NS	(2ULL * 1000 * 1000 * 1000)

struct fe_gluster {
	struct vw_drv		*drv;
	struct event		*timer;
	int			 running;	/* a listing is in flight */
	int			 failing;	/* the last one failed (logged) */
	uint64_t		 reg_gen;	/* registry generation at its start */
	uint64_t		 last_ns;	/* when the last one began */
	struct vw_snap_entry	*e;		/* pages received so far */
	size_t			 n, cap;
};

/* One change a listing found, applied once its record is durable. */
struct change {
	int		put;		/* 1: add, 0: drop */
	int64_t		created;
	char		name[VW_NAME_MAX + 1];
};

struct batch {
	struct fe_gluster	*g;
	size_t			 n;
	struct change		 c[];
};

const char *
fe_scope(const struct vw_drv *drv)
{
	return drv->d->backend == VW_BACKEND_GLUSTERFS ? "global" : "local";
}

static void
batch_done(void *arg, int err)
{
	struct batch *b = arg;
	struct vw_drv *drv = b->g->drv;
	struct vw_volume_opts none;
	char path[VW_PATH_MAX], why[256];
	const char *rel;
	size_t allowed;
	int changed = 0;

	if (err != 0) {
		log_warnx("driver %s: cannot record the volumes found in Gluster "
		    "volume %s: %s; the next listing tries again", drv->d->name,
		    drv->d->gl.volume, strerror(err));
		free(b);
		return;
	}
	memset(&none, 0, sizeof(none));
	for (size_t i = 0; i < b->n; i++) {
		struct change *c = &b->c[i];
		struct vw_volume *v = vw_registry_get(&drv->reg, c->name);

		/* A local request since decides: the next listing sees
		 * its result. */
		if (fe_op_busy(drv, c->name))
			continue;
		if (c->put && v == NULL) {
			if (vw_volume_path(drv->d, c->name, &none, path,
			    sizeof(path), &allowed, &rel, why, sizeof(why)) < 0)
				continue;
			if (vw_registry_put(&drv->reg, c->name, c->created, &none,
			    path) == NULL)
				fatalx("out of memory adding volume %s", c->name);
			log_info("driver %s: volume %s found in Gluster volume %s "
			    "(made on another node)", drv->d->name, c->name,
			    drv->d->gl.volume);
			changed = 1;
		} else if (!c->put && v != NULL && v->total == 0) {
			vw_registry_del(&drv->reg, c->name);
			log_info("driver %s: volume %s is gone from Gluster volume "
			    "%s (removed on another node)", drv->d->name, c->name,
			    drv->d->gl.volume);
			changed = 1;
		}
	}
	if (changed)
		fe_list_forget(drv);
	free(b);
}

static int
entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct vw_snap_entry *)a)->name,
	    ((const struct vw_snap_entry *)b)->name);
}

struct gone_scan {
	struct fe_gluster	*g;
	struct batch		*b;
	size_t			 cap;
};

static int
collect_gone(void *arg, struct vw_volume *v)
{
	struct gone_scan *gs = arg;
	struct vw_snap_entry key;

	snprintf(key.name, sizeof(key.name), "%s", v->name);
	if (v->total > 0 || fe_op_busy(gs->g->drv, v->name) ||
	    bsearch(&key, gs->g->e, gs->g->n, sizeof(key), entry_cmp) != NULL)
		return 0;
	if (gs->b->n == gs->cap) {
		size_t cap = gs->cap * 2 + 16;
		struct batch *nb = realloc(gs->b, sizeof(*nb) + cap *
		    sizeof(nb->c[0]));

		if (nb == NULL)
			return -1;
		gs->b = nb;
		gs->cap = cap;
	}
	gs->b->c[gs->b->n].put = 0;
	gs->b->c[gs->b->n].created = 0;
	snprintf(gs->b->c[gs->b->n].name, sizeof(gs->b->c[0].name), "%s",
	    v->name);
	gs->b->n++;
	return 0;
}

/* The listing is complete: record and apply the differences. */
static void
apply(struct fe_gluster *g)
{
	struct vw_drv *drv = g->drv;
	struct vw_store *st = drv->fe->state;
	struct gone_scan gs = { g, NULL, g->n + 16 };
	struct vw_volume_opts none;
	struct vw_record rec;
	char path[VW_PATH_MAX], why[256];
	const char *rel;
	size_t allowed;

	if (drv->reg.gen != g->reg_gen) {
		log_debug("driver %s: the registry changed during the listing; "
		    "the next one decides", drv->d->name);
		return;
	}
	qsort(g->e, g->n, sizeof(*g->e), entry_cmp);
	if ((gs.b = malloc(sizeof(*gs.b) + gs.cap * sizeof(gs.b->c[0]))) == NULL)
		goto nomem;
	gs.b->g = g;
	gs.b->n = 0;
	for (size_t i = 0; i < g->n; i++) {
		if (vw_registry_get(&drv->reg, g->e[i].name) != NULL ||
		    fe_op_busy(drv, g->e[i].name))
			continue;
		if (gs.b->n == gs.cap)
			break;	/* cannot happen: cap > n */
		gs.b->c[gs.b->n].put = 1;
		gs.b->c[gs.b->n].created = g->e[i].created;
		memcpy(gs.b->c[gs.b->n].name, g->e[i].name,
		    sizeof(gs.b->c[0].name));
		gs.b->n++;
	}
	if (vw_registry_each(&drv->reg, collect_gone, &gs) != 0)
		goto nomem;
	if (gs.b->n == 0) {
		free(gs.b);
		return;
	}
	memset(&none, 0, sizeof(none));
	for (size_t i = 0; i < gs.b->n; i++) {
		struct change *c = &gs.b->c[i];

		memset(&rec, 0, sizeof(rec));
		rec.driver = drv->d->name;
		rec.name = c->name;
		if (c->put) {
			if (vw_volume_path(drv->d, c->name, &none, path,
			    sizeof(path), &allowed, &rel, why, sizeof(why)) < 0)
				continue;
			rec.type = VW_REC_VOLUME_PUT;
			rec.created = c->created;
			rec.opts = &none;
			rec.path = path;
		} else
			rec.type = VW_REC_VOLUME_DEL;
		if (vw_store_append(st, &rec) < 0)
			goto nomem;
	}
	if (vw_store_commit(st, batch_done, gs.b) < 0)
		goto nomem;
	return;
nomem:
	free(gs.b);
	log_warnx("driver %s: out of memory applying a listing of Gluster "
	    "volume %s", drv->d->name, drv->d->gl.volume);
}

static void scan_page(struct fe_gluster *g, uint32_t offset, uint64_t gen);

static void
scan_cb(void *arg, const struct vw_scan_reply *rep)
{
	struct fe_gluster *g = arg;

	if (rep->err != 0) {
		if (!g->failing)
			log_warnx("driver %s: cannot list Gluster volume %s: %s",
			    g->drv->d->name, g->drv->d->gl.volume, rep->msg);
		g->failing = 1;
		g->running = 0;
		return;
	}
	if (g->failing)
		log_info("driver %s: Gluster volume %s can be listed again",
		    g->drv->d->name, g->drv->d->gl.volume);
	g->failing = 0;
	if (g->n + rep->count > g->cap) {
		size_t cap = g->cap * 2 + rep->total + VW_SCAN_MAX;
		struct vw_snap_entry *ne = realloc(g->e, cap * sizeof(*ne));

		if (ne == NULL) {
			log_warnx("driver %s: out of memory listing volumes",
			    g->drv->d->name);
			g->running = 0;
			return;
		}
		g->e = ne;
		g->cap = cap;
	}
	memcpy(g->e + g->n, rep->entries, rep->count * sizeof(rep->entries[0]));
	g->n += rep->count;
	if (rep->count > 0 && g->n < rep->total) {
		scan_page(g, (uint32_t)g->n, rep->gen);
		return;
	}
	g->running = 0;
	apply(g);
}

static void
scan_page(struct fe_gluster *g, uint32_t offset, uint64_t gen)
{
	if (hc_scan(g->drv, offset, gen, scan_cb, g) < 0) {
		log_warnx("driver %s: cannot ask the helper for a listing",
		    g->drv->d->name);
		g->running = 0;
	}
}

static void
scan_start(struct fe_gluster *g)
{
	if (g->running)
		return;
	g->running = 1;
	g->n = 0;
	g->reg_gen = g->drv->reg.gen;
	g->last_ns = fe_now_ns();
	scan_page(g, 0, 0);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	scan_start(arg);
}

void
fe_gluster_list_hint(struct vw_drv *drv)
{
	struct fe_gluster *g = drv->gl;

	if (g != NULL && fe_now_ns() - g->last_ns > LIST_STALE_NS)
		scan_start(g);
}

static void
relet_done(void *arg, const struct vw_volume_reply *rep)
{
	char *name = arg;

	if (rep->err != 0)
		log_warnx("volume %s is mounted here but its lease could not be "
		    "taken again: %s", name, rep->msg);
	free(name);
}

/* The agent starts with no leases: take those of volumes that the
 * mount counts say are still mounted here. */
static int
relet_one(void *arg, struct vw_volume *v)
{
	struct vw_drv *drv = arg;
	struct vw_volume_opts opts;
	char *name;

	if (v->total == 0)
		return 0;
	if ((name = strdup(v->name)) == NULL)
		return -1;
	vw_volume_opts_of(v, &opts);
	if (hc_volume(drv, VW_MSG_VOLUME_MOUNT, v->name, &opts, relet_done,
	    name) < 0) {
		free(name);
		return -1;
	}
	return 0;
}

int
fe_gluster_start(struct vw_fe *fe, char *err, size_t errlen)
{
	struct timeval tv = { VW_SCAN_INTERVAL, 0 };

	for (size_t i = 0; i < fe->ndrv; i++) {
		struct vw_drv *drv = &fe->drv[i];
		struct fe_gluster *g;

		if (drv->d->backend != VW_BACKEND_GLUSTERFS)
			continue;
		if ((g = calloc(1, sizeof(*g))) == NULL ||
		    (g->timer = event_new(fe->base, -1, EV_PERSIST, timer_cb,
		    g)) == NULL || event_add(g->timer, &tv) < 0) {
			free(g);
			snprintf(err, errlen, "driver %s: cannot set up the listing "
			    "timer", drv->d->name);
			return -1;
		}
		g->drv = drv;
		drv->gl = g;
		if (vw_registry_each(&drv->reg, relet_one, drv) != 0) {
			snprintf(err, errlen, "driver %s: cannot take the leases "
			    "of mounted volumes again", drv->d->name);
			return -1;
		}
		scan_start(g);
	}
	return 0;
}

void
fe_gluster_stop(struct vw_fe *fe)
{
	for (size_t i = 0; i < fe->ndrv; i++) {
		struct fe_gluster *g = fe->drv[i].gl;

		if (g == NULL)
			continue;
		event_free(g->timer);
		free(g->e);
		free(g);
		fe->drv[i].gl = NULL;
	}
}
