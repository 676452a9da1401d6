/*
 * What backends say about their volumes (VOLUME_STATUS) for the Status
 * map of Docker's Get.  Get never waits for a backend (endpoints.c: a
 * failed or slow Get makes dockerd forget a volume), so it shows the
 * last answer and asks the helper for a fresh one when that is older
 * than VW_STATUS_FRESH_NS.  State changes (create, mount, unmount,
 * snapshots) ask at once, so an inspect after them sees their effect.
 */
#include "vw-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

	if (!has_status(drv))
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

void
fe_status_out(struct fe_out *o, struct vw_drv *drv, struct vw_volume *v)
{
	const struct vw_status_cache *sc;

	if (!has_status(drv))
		return;
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
