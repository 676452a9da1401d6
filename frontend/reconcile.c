/*
 * Start-up reconciliation of mounting backends (loop) with the mount
 * counts replayed from the volatile store in run_dir.  The counts
 * survive a restart of volwarden (not a reboot); what is really mounted
 * survives too, and the two can differ after a crash between the
 * helper's mount and the count's record, or after a hand-made umount.
 * For each volume the helper is asked once, before any request is
 * served: a volume with references must be mounted (VOLUME_MOUNT is a
 * no-op when it is, so nothing is unmounted under a running container),
 * one without must not be (VOLUME_UNMOUNT is a no-op when it is not, so
 * nothing leaks).  The exchange is blocking: loop volumes are few, and
 * no Docker request may see a half-reconciled volume.
 */
#include "vw-build.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "frontend/frontend.h"

struct rec_arg {
	struct vw_drv	*drv;
	char		*err;
	size_t		 errlen;
	size_t		 mounted, unmounted, failed;
};

static int
reconcile_one(void *arg, struct vw_volume *v)
{
	static char buf[VW_MSG_MAX + 1];
	struct rec_arg *ra = arg;
	struct vw_drv *drv = ra->drv;
	uint32_t type = v->total > 0 ? VW_MSG_VOLUME_MOUNT : VW_MSG_VOLUME_UNMOUNT;
	struct vw_volume_req *req = calloc(1, sizeof(*req));
	const struct vw_volume_reply *rep;
	struct vw_msg_hdr hdr;
	uint64_t id = drv->helper.next_id++;
	void *payload;
	int rc;

	if (req == NULL) {
		snprintf(ra->err, ra->errlen, "out of memory");
		return 1;
	}
	snprintf(req->name, sizeof(req->name), "%s", v->name);
	vw_volume_opts_of(v, &req->opts);
	rc = vw_msg_send(drv->helper.fd, type, id, req, sizeof(*req), -1);
	free(req);
	if (rc < 0 || vw_msg_recv(drv->helper.fd, buf, sizeof(buf), &hdr,
	    &payload, NULL) <= 0) {
		snprintf(ra->err, ra->errlen, "driver %s: the helper did not "
		    "answer while reconciling volume %s", drv->d->name, v->name);
		return 1;
	}
	rep = payload;
	if (hdr.type != (type | VW_MSG_REPLY) || hdr.id != id ||
	    hdr.len != sizeof(*rep) ||
	    memchr(rep->msg, '\0', sizeof(rep->msg)) == NULL) {
		snprintf(ra->err, ra->errlen, "driver %s: protocol violation from "
		    "the helper: %s (id %" PRIu64 ") while reconciling",
		    drv->d->name, vw_msg_name(hdr.type), hdr.id);
		return 1;
	}
	if (rep->err != 0) {
		/* Not fatal: the other volumes still work, and a Mount
		 * reports the problem to the user. */
		log_warnx("driver %s: volume %s (%u mount reference%s) could not "
		    "be %s: %s", drv->d->name, v->name, v->total,
		    v->total == 1 ? "" : "s", v->total > 0 ? "mounted" :
		    "unmounted", rep->msg);
		ra->failed++;
	} else if (v->total > 0)
		ra->mounted++;
	else
		ra->unmounted++;
	return 0;
}

int
fe_reconcile(struct vw_fe *fe, char *err, size_t errlen)
{
	for (size_t i = 0; i < fe->ndrv; i++) {
		struct vw_drv *drv = &fe->drv[i];
		struct rec_arg ra = { drv, err, errlen, 0, 0, 0 };

		if (drv->d->backend != VW_BACKEND_LOOP || drv->reg.count == 0)
			continue;
		if (vw_registry_each(&drv->reg, reconcile_one, &ra) != 0)
			return -1;
		log_info("driver %s: reconciled %zu volume%s with the mount "
		    "counts: %zu in use and mounted, %zu unused and not mounted, "
		    "%zu failed", drv->d->name, drv->reg.count,
		    drv->reg.count == 1 ? "" : "s", ra.mounted, ra.unmounted,
		    ra.failed);
	}
	return 0;
}
