/*
 * What backends say about their volumes (VOLUME_STATUS) for the Status
 * map of Docker's Get.  Get never waits for a backend (endpoints.c: a
 * failed or slow Get makes dockerd forget a volume), so it shows the
 * last answer and asks the helper for a fresh one when that is older
 * than VW_STATUS_FRESH_NS.  State changes (create, mount, unmount,
 * snapshots) ask at once, so an inspect after them sees their effect.
 * The admin API may wait for a fresh answer instead (fe_status_fetch).
 * Volumes with scheduled snapshots add the schedule's facts
 * (fe_sched_status), which the frontend knows itself.
 */
#include "vw-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/log.h"
#include "frontend/frontend.h"

/* An answer younger than this is shown without asking again. */
#define VW_STATUS_FRESH_NS	(2ULL * 1000 * 1000 * 1000)

#define LIT(s) (s), sizeof(s) - 1

/* Does the driver's backend report anything (dir says nothing the
 * frontend does not know)? */
static int
has_status(const struct vw_drv *drv)
{
	return drv->d->backend != VW_BACKEND_DIR;
}

/* The callback finds the volume again by name: it may be removed (and
 * its cache freed) before the answer comes. */
struct status_arg {
	struct vw_drv	*drv;
	char		 name[];
};

static void
status_done(void *arg, const struct vw_status_reply *rep)
{
	struct status_arg *sa = arg;
	struct vw_volume *v;
	struct vw_status_cache *sc;

	v = vw_registry_get(&sa->drv->reg, sa->name);
	if (v != NULL && v->ext != NULL && (sc = v->ext->status) != NULL) {
		sc->pending = 0;
		if (rep != NULL) {
			sc->at_ns = fe_now_ns();
			sc->err = rep->err;
			memcpy(&sc->rep, rep, sizeof(*rep));
		}
	}
	free(sa);
}

void
fe_status_refresh(struct vw_drv *drv, struct vw_volume *v)
{
	struct vw_volume_opts opts;
	struct vw_volume_ext *x;
	struct status_arg *sa;
	size_t nl;

	if (!has_status(drv) || drv->fe->stopping)
		return;
	if ((x = vw_volume_ext(v)) == NULL ||
	    (x->status == NULL && (x->status = calloc(1,
	    sizeof(*x->status))) == NULL)) {
		log_warnx("volume %s: out of memory for its status", v->name);
		return;
	}
	if (x->status->pending)
		return;
	nl = strlen(v->name);
	if ((sa = malloc(sizeof(*sa) + nl + 1)) == NULL)
		return;
	sa->drv = drv;
	memcpy(sa->name, v->name, nl + 1);
	vw_volume_opts_of(v, &opts);
	if (hc_status(drv, v->name, &opts, status_done, sa) < 0) {
		free(sa);
		return;
	}
	x->status->pending = 1;
}

/* One "key":"value" pair after the others of the Status map. */
static void
out_pair(void *arg, const char *key, const char *value)
{
	struct fe_out *o = arg;

	fe_out_raw(o, LIT(","));
	fe_out_cstr(o, key);
	fe_out_raw(o, LIT(":"));
	fe_out_cstr(o, value);
}

void
fe_status_out(struct fe_out *o, struct vw_drv *drv, struct vw_volume *v)
{
	const struct vw_status_cache *sc;

	if (!has_status(drv))
		return;
	fe_sched_status(v, out_pair, o);
	sc = v->ext != NULL ? v->ext->status : NULL;
	if (sc != NULL && sc->at_ns != 0) {
		if (sc->err != 0) {
			fe_out_raw(o, LIT(",\"status_error\":"));
			fe_out_cstr(o, sc->rep.msg);
		}
		for (uint32_t i = 0; i < sc->rep.count; i++) {
			fe_out_raw(o, LIT(","));
			fe_out_cstr(o, sc->rep.entries[i].key);
			fe_out_raw(o, LIT(":"));
			fe_out_cstr(o, sc->rep.entries[i].value);
		}
	}
	if (sc == NULL || sc->at_ns == 0 ||
	    fe_now_ns() - sc->at_ns > VW_STATUS_FRESH_NS)
		fe_status_refresh(drv, v);
}

/* ------------------------------------------- waiting for an answer */

/* One fe_status_fetch: freed by the helper's answer, which always comes
 * (a helper that dies stops the daemon); the timer may answer first. */
struct fetch {
	struct vw_drv		*drv;
	struct event		*timer;
	fe_status_fetch_cb	 cb;
	void			*arg;
	int			 answered;
	char			 name[];
};

static void
fetch_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct fetch *f = arg;

	(void)fd;
	(void)what;
	f->answered = 1;
	f->cb(f->arg, 0);
}

static void
fetch_done(void *arg, const struct vw_status_reply *rep)
{
	struct fetch *f = arg;
	struct vw_volume *v = vw_registry_get(&f->drv->reg, f->name);
	struct vw_status_cache *sc;

	if (v != NULL && rep != NULL && v->ext != NULL &&
	    (sc = v->ext->status) != NULL) {
		sc->at_ns = fe_now_ns();
		sc->err = rep->err;
		memcpy(&sc->rep, rep, sizeof(*rep));
	}
	event_free(f->timer);
	if (!f->answered)
		f->cb(f->arg, rep != NULL);
	free(f);
}

int
fe_status_fetch(struct vw_drv *drv, struct vw_volume *v, unsigned timeout_ms,
    fe_status_fetch_cb cb, void *arg)
{
	struct vw_volume_opts opts;
	struct vw_volume_ext *x;
	struct timeval tv = { (time_t)(timeout_ms / 1000),
	    (suseconds_t)(timeout_ms % 1000) * 1000 };
	struct fetch *f;
	size_t nl = strlen(v->name);

	if (!has_status(drv)) {
		cb(arg, 1);
		return 0;
	}
	if ((x = vw_volume_ext(v)) == NULL || (x->status == NULL &&
	    (x->status = calloc(1, sizeof(*x->status))) == NULL) ||
	    (f = calloc(1, sizeof(*f) + nl + 1)) == NULL)
		return -1;
	f->drv = drv;
	f->cb = cb;
	f->arg = arg;
	memcpy(f->name, v->name, nl + 1);
	if ((f->timer = evtimer_new(drv->fe->base, fetch_timeout, f)) == NULL ||
	    evtimer_add(f->timer, &tv) < 0) {
		if (f->timer != NULL)
			event_free(f->timer);
		free(f);
		return -1;
	}
	vw_volume_opts_of(v, &opts);
	if (hc_status(drv, v->name, &opts, fetch_done, f) < 0) {
		event_free(f->timer);
		free(f);
		cb(arg, 0);
	}
	return 0;
}
