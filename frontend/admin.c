/*
 * The admin API for volwardenctl, on the admin socket (admin_socket,
 * mode 0600, owner root, bound by the root start-up).
 *
 *	GET /v1/volumes[?driver=D]	every volume, sorted by driver and name
 *	GET /v1/volumes/NAME[?driver=D]	one volume, with its mount IDs and
 *					its backend's status (btrfs)
 *	GET /v1/status			frontend, drivers and helpers
 *	GET /metrics			Prometheus text (metrics.c)
 *	POST /v1/volumes?driver=D	register (create) a volume in driver D,
 *					body as VolumeDriver.Create's
 *
 * and the snapshots of btrfs volumes (NAME/snapshots below /v1/volumes/):
 *
 *	POST   NAME/snapshots[?driver=D]	create, body {"name": SNAP}
 *						(optional: snap-TIMESTAMP)
 *	GET    NAME/snapshots[?driver=D]	list, sorted by name
 *	DELETE NAME/snapshots/SNAP[?driver=D]	delete
 *	POST   NAME/snapshots/SNAP/restore[?driver=D][&force=1]
 *						restore NAME from SNAP
 *
 * Replies are JSON (except /metrics); errors are {"error": "..."} with an
 * HTTP status.  The GETs are answered from memory, except that one
 * volume's waits up to ADMIN_STATUS_WAIT_MS for its backend's status
 * (status.c: fe_status_fetch).  The snapshot calls go
 * through fe_snapshot_* (ops.c): serialised with the volume's Docker
 * requests, answered when the helper has acted.
 *
 * The socket's mode already keeps other users out.  Each request is also
 * checked with SO_PEERCRED, so a peer that got through anyway (a looser
 * mode set by hand, a non-root process holding CAP_DAC_OVERRIDE) is
 * refused: uid must be 0.  evhttp (libevent 2.1) has no hook between
 * accept and the first request, so the check runs per request, before
 * any routing, and a refusal closes the connection.
 */
#include "vw-build.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cap-ng.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "common/log.h"
#include "common/privdrop.h"
#include "common/validate.h"
#include "frontend/frontend.h"
#include "seccomp/seccomp.h"

/* Limits (bytes, seconds).  The largest body is a Create's: a name of
 * at most 255 bytes and a mountpoint of at most 4095, maybe escaped. */
#define ADMIN_MAX_BODY		(16 * 1024)
#define ADMIN_MAX_HEADERS	(8 * 1024)
#define ADMIN_TIMEOUT		30

#define JSON_CTYPE	"application/json"
/* Prometheus' text exposition format. */
#define METRICS_CTYPE	"text/plain; version=0.0.4; charset=utf-8"

#define GSTR(g, s) yajl_gen_string((g), (const unsigned char *)(s), strlen(s))

static const char *
reason(int code)
{
	switch (code) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Internal Server Error";
	}
}

static void
reply(struct evhttp_request *req, int code, const char *ctype,
    struct evbuffer *body)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	if (evhttp_add_header(h, "Content-Type", ctype) < 0) {
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	evhttp_send_reply(req, code, reason(code), body);
}

/* {"error": msg} with status code. */
static void __attribute__((format(printf, 3, 4)))
reply_error(struct evhttp_request *req, int code, const char *fmt, ...)
{
	char msg[1024];
	const unsigned char *out;
	struct evbuffer *b;
	size_t len;
	yajl_gen g;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_debug("admin: %d %s", code, msg);
	if ((g = yajl_gen_alloc(NULL)) == NULL || (b = evbuffer_new()) == NULL) {
		if (g != NULL)
			yajl_gen_free(g);
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	yajl_gen_map_open(g);
	GSTR(g, "error");
	GSTR(g, msg);
	yajl_gen_map_close(g);
	if (yajl_gen_get_buf(g, &out, &len) != yajl_gen_status_ok ||
	    evbuffer_add(b, out, len) < 0 || evbuffer_add(b, "\n", 1) < 0)
		evhttp_send_error(req, 500, "cannot encode the error");
	else
		reply(req, code, JSON_CTYPE, b);
	evbuffer_free(b);
	yajl_gen_free(g);
}

/* Send what g holds, then free g. */
static void
reply_gen(struct evhttp_request *req, yajl_gen g)
{
	const unsigned char *out;
	struct evbuffer *b = evbuffer_new();
	size_t len;

	if (b == NULL || yajl_gen_get_buf(g, &out, &len) != yajl_gen_status_ok ||
	    evbuffer_add(b, out, len) < 0 || evbuffer_add(b, "\n", 1) < 0)
		reply_error(req, 500, "cannot encode the reply");
	else
		reply(req, 200, JSON_CTYPE, b);
	if (b != NULL)
		evbuffer_free(b);
	yajl_gen_free(g);
}

/*
 * SO_PEERCRED of req's connection: the credentials of the process that
 * called connect(2).  Returns 0 with *uc filled, or -1.
 */
static int
peer_cred(struct evhttp_request *req, struct ucred *uc)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	struct bufferevent *bev;
	socklen_t len = sizeof(*uc);
	evutil_socket_t fd;

	if (conn == NULL ||
	    (bev = evhttp_connection_get_bufferevent(conn)) == NULL ||
	    (fd = bufferevent_getfd(bev)) < 0)
		return -1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, uc, &len) < 0 ||
	    len != sizeof(*uc))
		return -1;
	return 0;
}

static void
gen_hex64(yajl_gen g, uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%016" PRIx64, v);
	GSTR(g, buf);
}

/* The options v was created with, values as strings the way Docker passed
 * them ({"uid": "1000", "mode": "0750"}); Get's Status shows the same
 * (out_status in endpoints.c). */
static void
gen_opt(void *arg, const char *key, const char *value)
{
	yajl_gen g = arg;

	GSTR(g, key);
	GSTR(g, value);
}

static void
gen_options(yajl_gen g, const struct vw_volume *v)
{
	yajl_gen_map_open(g);
	vw_volume_each_opt(v, gen_opt, g);
	yajl_gen_map_close(g);
}

/* The Status map's backend part for the admin API: what the backend last
 * said about v (the cache of status.c) and the schedule's facts. */
static void
gen_backend_status(yajl_gen g, const struct vw_volume *v)
{
	const struct vw_status_cache *sc = v->ext != NULL ? v->ext->status : NULL;
	char ts[32];

	yajl_gen_map_open(g);
	if (sc != NULL && sc->at_ns != 0) {
		uint64_t age = (fe_now_ns() - sc->at_ns) / 1000000000u;

		for (uint32_t i = 0; i < sc->rep.count; i++) {
			GSTR(g, sc->rep.entries[i].key);
			GSTR(g, sc->rep.entries[i].value);
		}
		if (sc->err != 0) {
			GSTR(g, "status_error");
			GSTR(g, sc->rep.msg);
		}
		fe_rfc3339((int64_t)time(NULL) - (int64_t)age, ts, sizeof(ts));
		GSTR(g, "status_at");
		GSTR(g, ts);
	}
	fe_sched_status(v, gen_opt, g);
	yajl_gen_map_close(g);
}

/* One volume; with detail, its mount IDs and their counts, and for
 * backends that report any, their status too. */
static void
gen_volume(yajl_gen g, const struct vw_drv *drv, const struct vw_volume *v,
    int detail)
{
	char ts[32];

	fe_rfc3339(v->created, ts, sizeof(ts));
	yajl_gen_map_open(g);
	GSTR(g, "driver");
	GSTR(g, drv->d->name);
	GSTR(g, "backend");
	GSTR(g, vw_backend_name(drv->d->backend));
	GSTR(g, "name");
	GSTR(g, v->name);
	GSTR(g, "mountpoint");
	GSTR(g, v->path);
	GSTR(g, "created");
	GSTR(g, ts);
	GSTR(g, "mounts");
	yajl_gen_integer(g, v->total);
	GSTR(g, "options");
	gen_options(g, v);
	if (detail) {
		GSTR(g, "mount_ids");
		yajl_gen_array_open(g);
		for (const struct vw_mount *m = v->mounts; m != NULL; m = m->next) {
			yajl_gen_map_open(g);
			GSTR(g, "id");
			GSTR(g, m->id);
			GSTR(g, "count");
			yajl_gen_integer(g, m->count);
			yajl_gen_map_close(g);
		}
		yajl_gen_array_close(g);
		if (drv->d->backend != VW_BACKEND_DIR) {
			GSTR(g, "status");
			gen_backend_status(g, v);
		}
	}
	yajl_gen_map_close(g);
}

/* A (driver, volume) pair, for sorting the list. */
struct entry {
	const struct vw_drv	*drv;
	const struct vw_volume	*v;
};

struct collect {
	struct entry		*e;
	size_t			 n;
	const struct vw_drv	*drv;
};

static int
collect_one(void *arg, struct vw_volume *v)
{
	struct collect *c = arg;

	c->e[c->n].drv = c->drv;
	c->e[c->n].v = v;
	c->n++;
	return 0;
}

static int
entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->drv != y->drv)
		return x->drv->idx < y->drv->idx ? -1 : 1;
	return strcmp(x->v->name, y->v->name);
}

/* GET /v1/volumes: only drv's volumes if drv is set. */
static void
api_volumes(struct evhttp_request *req, struct vw_fe *fe,
    const struct vw_drv *only)
{
	struct collect c = { NULL, 0, NULL };
	size_t total = 0;
	yajl_gen g;

	for (size_t i = 0; i < fe->ndrv; i++)
		total += fe->drv[i].reg.count;
	if ((c.e = calloc(total + 1, sizeof(*c.e))) == NULL ||
	    (g = yajl_gen_alloc(NULL)) == NULL) {
		free(c.e);
		reply_error(req, 500, "out of memory");
		return;
	}
	for (size_t i = 0; i < fe->ndrv; i++) {
		if (only != NULL && only != &fe->drv[i])
			continue;
		c.drv = &fe->drv[i];
		vw_registry_each(&fe->drv[i].reg, collect_one, &c);
	}
	qsort(c.e, c.n, sizeof(*c.e), entry_cmp);
	yajl_gen_map_open(g);
	GSTR(g, "volumes");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < c.n; i++)
		gen_volume(g, c.e[i].drv, c.e[i].v, 0);
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	free(c.e);
	reply_gen(req, g);
}

/*
 * The driver that has volume name: only, if given, else the one driver
 * whose registry holds it.  Returns it with *vp set, or NULL after
 * replying 404 (no driver has it) or 409 (several do and none was named).
 */
static struct vw_drv *
find_volume(struct evhttp_request *req, struct vw_fe *fe, struct vw_drv *only,
    const char *name, struct vw_volume **vp)
{
	struct vw_drv *found = NULL;
	struct vw_volume *hit;
	char others[1024] = "";
	size_t nfound = 0, ol = 0;

	*vp = NULL;
	for (size_t i = 0; i < fe->ndrv; i++) {
		if (only != NULL && only != &fe->drv[i])
			continue;
		if ((hit = vw_registry_get(&fe->drv[i].reg, name)) == NULL)
			continue;
		if (nfound++ == 0) {
			found = &fe->drv[i];
			*vp = hit;
		}
		if (ol < sizeof(others))
			ol += (size_t)snprintf(others + ol, sizeof(others) - ol,
			    "%s%s", ol > 0 ? ", " : "", fe->drv[i].d->name);
	}
	if (nfound == 0) {
		if (only != NULL)
			reply_error(req, 404, "volume %s does not exist in driver "
			    "%s", name, only->d->name);
		else
			reply_error(req, 404, "volume %s does not exist", name);
		return NULL;
	}
	if (nfound > 1) {
		reply_error(req, 409, "volume %s exists in several drivers (%s); "
		    "name one with ?driver=", name, others);
		return NULL;
	}
	return found;
}

/* Longest wait for a backend's fresh status (milliseconds); after it the
 * last known one is shown, with its time (status_at). */
#define ADMIN_STATUS_WAIT_MS	3000

/* A GET /v1/volumes/NAME waiting for the backend's status. */
struct volume_call {
	struct evhttp_request	*req;
	struct vw_drv		*drv;
	char			 name[VW_NAME_MAX + 1];
};

static void
volume_answer(void *arg, int fresh)
{
	struct volume_call *vc = arg;
	struct vw_volume *v = vw_registry_get(&vc->drv->reg, vc->name);
	yajl_gen g;

	if (!fresh)
		log_debug("admin: volume %s: no fresh status within %d ms",
		    vc->name, ADMIN_STATUS_WAIT_MS);
	if (v == NULL)
		reply_error(vc->req, 404, "volume %s does not exist in driver %s",
		    vc->name, vc->drv->d->name);
	else if ((g = yajl_gen_alloc(NULL)) == NULL)
		reply_error(vc->req, 500, "out of memory");
	else {
		gen_volume(g, vc->drv, v, 1);
		reply_gen(vc->req, g);
	}
	free(vc);
}

/* GET /v1/volumes/NAME: with the backend's status, as fresh as the
 * helper answers within ADMIN_STATUS_WAIT_MS (the admin API may wait;
 * Docker's Get may not). */
static void
api_volume(struct evhttp_request *req, struct vw_fe *fe, struct vw_drv *only,
    const char *name)
{
	struct volume_call *vc;
	struct vw_volume *v;
	struct vw_drv *drv;

	if ((drv = find_volume(req, fe, only, name, &v)) == NULL)
		return;
	if ((vc = calloc(1, sizeof(*vc))) == NULL) {
		reply_error(req, 500, "out of memory");
		return;
	}
	vc->req = req;
	vc->drv = drv;
	snprintf(vc->name, sizeof(vc->name), "%s", name);
	/* volume_answer may run before this returns. */
	if (fe_status_fetch(drv, v, ADMIN_STATUS_WAIT_MS, volume_answer,
	    vc) < 0) {
		reply_error(req, 500, "out of memory");
		free(vc);
	}
}

/* ------------------------------------------------------------- create */

/* A Create submitted by the admin API, waiting for its op. */
struct create_call {
	struct evhttp_request	*req;
	struct vw_drv		*drv;
	char			 name[VW_NAME_MAX + 1];
};

/*
 * The op's answer, in the form Docker would have got: "{}" on success,
 * else {"Err": "..."}.  Success replies with the volume as GET shows it.
 */
static void
create_done(void *arg, int code, const char *body, size_t len)
{
	struct create_call *cc = arg;
	struct vw_volume *v;
	char *copy, perr[256];
	const char *path[] = { "Err", NULL };
	yajl_val top, e;
	yajl_gen g;

	if ((copy = strndup(body, len)) == NULL) {
		reply_error(cc->req, 500, "out of memory");
		free(cc);
		return;
	}
	top = yajl_tree_parse(copy, perr, sizeof(perr));
	e = top != NULL ? yajl_tree_get(top, path, yajl_t_string) : NULL;
	if (e != NULL)
		/* The op's sentence already names the volume and the fix. */
		reply_error(cc->req, code >= 500 ? 500 : 400, "%s",
		    YAJL_GET_STRING(e));
	else if (code != 200 || top == NULL)
		reply_error(cc->req, 500, "volume %s: the create gave no answer",
		    cc->name);
	else if ((v = vw_registry_get(&cc->drv->reg, cc->name)) == NULL)
		reply_error(cc->req, 500, "volume %s: created, but it is not in "
		    "the registry", cc->name);
	else if ((g = yajl_gen_alloc(NULL)) == NULL)
		reply_error(cc->req, 500, "out of memory");
	else {
		log_info("admin: volume %s registered in driver %s at %s",
		    cc->name, cc->drv->d->name, v->path);
		gen_volume(g, cc->drv, v, 0);
		reply_gen(cc->req, g);
	}
	yajl_tree_free(top);
	free(copy);
	free(cc);
}

/*
 * POST /v1/volumes?driver=D with the body of VolumeDriver.Create
 * ({"Name": N, "Opts": {...}}): the same decoder, name rule, option
 * checks, overlap check, helper request and state record as a Create
 * from dockerd (fe_create_submit).  Used to register volumes that exist
 * elsewhere, e.g. volwardenctl import-local-persist.  Creating a volume
 * that exists with the same options succeeds (an import can be re-run).
 */
static void
api_create(struct evhttp_request *req, struct vw_drv *drv)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	struct vw_call call;
	struct create_call *cc;
	struct vw_dreq dreq;
	char err[1024];
	const char *body;

	if (drv == NULL) {
		reply_error(req, 400, "name the driver: POST /v1/volumes?driver=D");
		return;
	}
	body = len > 0 ? (const char *)evbuffer_pullup(in, (ev_ssize_t)len) : "";
	if (body == NULL) {
		reply_error(req, 500, "out of memory");
		return;
	}
	if (vw_dreq_parse(body, len, &dreq, err, sizeof(err)) < 0) {
		reply_error(req, 400, "%s (the body is that of "
		    "VolumeDriver.Create: {\"Name\": ..., \"Opts\": {...}})", err);
		return;
	}
	if (vw_name_valid(dreq.name, dreq.name_len, err, sizeof(err)) < 0) {
		char shown[72];
		size_t i;

		/* The name as far as it is printable, for the message. */
		for (i = 0; dreq.name != NULL && i < dreq.name_len &&
		    i < sizeof(shown) - 1; i++)
			shown[i] = (unsigned char)dreq.name[i] >= 0x20 &&
			    (unsigned char)dreq.name[i] < 0x7f ? dreq.name[i] : '?';
		shown[i] = '\0';
		reply_error(req, 400, "volume \"%s\": %s", shown, err);
		vw_dreq_free(&dreq);
		return;
	}
	if ((cc = calloc(1, sizeof(*cc))) == NULL) {
		reply_error(req, 500, "out of memory");
		vw_dreq_free(&dreq);
		return;
	}
	cc->req = req;
	cc->drv = drv;
	snprintf(cc->name, sizeof(cc->name), "%s", dreq.name);
	memset(&call, 0, sizeof(call));
	call.drv = drv;
	call.ep = VW_EP_CREATE;
	call.t0 = fe_now_ns();
	call.done = create_done;
	call.done_arg = cc;
	/* create_done may run before this returns: cc is not touched
	 * after it. */
	fe_create_submit(&call, &dreq);
}

/* ---------------------------------------------------------- snapshots */

/* The API's paths, for routing and for the methods each allows. */
enum route {
	R_NONE, R_VOLUMES, R_VOLUME, R_SNAPS, R_SNAP, R_RESTORE, R_STATUS,
	R_METRICS, R_RESIZE
};

/* One snapshot call waiting for the helper: whom to answer, and about
 * what.  Freed once answered. */
struct snap_call {
	struct evhttp_request	*req;
	struct vw_drv		*drv;
	enum route		 route;
	int			 force;
	char			 volume[VW_NAME_MAX + 1];
	char			 snap[VW_NAME_MAX + 1];
	uint32_t		 offset;	/* list: the next page's */
	struct vw_snap_entry	*entries;	/* list: gathered so far */
	size_t			 n, cap;
};

static void
snap_call_free(struct snap_call *sc)
{
	free(sc->entries);
	free(sc);
}

/*
 * The HTTP status for a snapshot error (the helper's errno, or one
 * ops.c made): a name, a snapshot or volume that is not there, a clash
 * or a volume in use, a backend without snapshots, a helper that did not
 * take the request.
 */
static int
snap_status(int err)
{
	switch (err) {
	case EINVAL:
	case EOPNOTSUPP:
		return 400;
	case ENOENT:
		return 404;
	case EEXIST:
	case EBUSY:
		return 409;
	case EAGAIN:
		return 503;
	case ETIMEDOUT:
		return 504;	/* limits.helper_timeout passed */
	default:
		return 500;
	}
}

static void
gen_snap_entry(yajl_gen g, const struct vw_snap_entry *e)
{
	char ts[32];

	fe_rfc3339(e->created, ts, sizeof(ts));
	yajl_gen_map_open(g);
	GSTR(g, "name");
	GSTR(g, e->name);
	GSTR(g, "created");
	GSTR(g, ts);
	yajl_gen_map_close(g);
}

/* Answer sc from the helper's (last) reply and free sc. */
static void
snap_answer(struct snap_call *sc, const struct vw_snap_reply *rep)
{
	yajl_gen g;

	if (rep->err != 0) {
		reply_error(sc->req, snap_status(rep->err), "%s", rep->msg);
		snap_call_free(sc);
		return;
	}
	if ((g = yajl_gen_alloc(NULL)) == NULL) {
		reply_error(sc->req, 500, "out of memory");
		snap_call_free(sc);
		return;
	}
	yajl_gen_map_open(g);
	GSTR(g, "driver");
	GSTR(g, sc->drv->d->name);
	GSTR(g, "volume");
	GSTR(g, sc->volume);
	switch (sc->route) {
	case R_SNAPS:
		if (sc->snap[0] != '\0') {	/* create */
			GSTR(g, "snapshot");
			gen_snap_entry(g, &rep->entries[0]);
			break;
		}
		GSTR(g, "snapshots");
		yajl_gen_array_open(g);
		for (size_t i = 0; i < sc->n; i++)
			gen_snap_entry(g, &sc->entries[i]);
		yajl_gen_array_close(g);
		break;
	case R_SNAP:
		GSTR(g, "deleted");
		GSTR(g, sc->snap);
		break;
	default:	/* R_RESTORE */
		GSTR(g, "restored");
		GSTR(g, sc->snap);
		GSTR(g, "forced");
		yajl_gen_bool(g, sc->force);
		GSTR(g, "pre_restore");
		gen_snap_entry(g, &rep->entries[0]);
		break;
	}
	yajl_gen_map_close(g);
	reply_gen(sc->req, g);
	snap_call_free(sc);
}

static void
snap_done(void *arg, const struct vw_snap_reply *rep)
{
	struct snap_call *sc = arg;

	/* A create or restore reply names the snapshot made: count 1. */
	if (rep->err == 0 && sc->route != R_SNAP && rep->count != 1) {
		reply_error(sc->req, 500, "volume %s: the helper's reply names "
		    "no snapshot", sc->volume);
		snap_call_free(sc);
		return;
	}
	snap_answer(sc, rep);
}

/*
 * One page of a list (VW_SNAP_LIST_MAX entries): keep it, and ask for the
 * next until the helper's total is reached.  Each page is a request of
 * its own, so a snapshot made or deleted between two pages shifts the
 * later entries; names come sorted, so only names past the last one kept
 * are taken: none twice, though one deleted meanwhile may be missed.
 */
static void
snap_list_page(void *arg, const struct vw_snap_reply *rep)
{
	struct snap_call *sc = arg;

	if (rep->err != 0) {
		snap_answer(sc, rep);
		return;
	}
	for (uint32_t i = 0; i < rep->count; i++) {
		const struct vw_snap_entry *e = &rep->entries[i];

		if (sc->n > 0 && strcmp(e->name, sc->entries[sc->n - 1].name) <= 0)
			continue;
		if (sc->n == sc->cap) {
			size_t ncap = sc->cap ? sc->cap * 2 : VW_SNAP_LIST_MAX;
			struct vw_snap_entry *ne = reallocarray(sc->entries, ncap,
			    sizeof(*ne));

			if (ne == NULL) {
				reply_error(sc->req, 500, "out of memory");
				snap_call_free(sc);
				return;
			}
			sc->entries = ne;
			sc->cap = ncap;
		}
		sc->entries[sc->n++] = *e;
	}
	sc->offset += rep->count;
	if (rep->count == 0 || sc->offset >= rep->total) {
		snap_answer(sc, rep);
		return;
	}
	/* Queued behind the op that called us, for the same volume. */
	if (fe_snapshot_list(sc->drv, sc->volume, sc->offset, snap_list_page,
	    sc) < 0) {
		reply_error(sc->req, 500, "out of memory");
		snap_call_free(sc);
	}
}

/*
 * The snapshot name of a create: {"name": SNAP} in the body, or, for an
 * empty body, {} or "name": null, snap-YYYYMMDDTHHMMSSZ (UTC, now).
 * Returns 0 with snap filled, or -1 after replying 400.
 */
static int
create_name(struct evhttp_request *req, char *snap, size_t len)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t blen = evbuffer_get_length(in), j = 0;
	char body[ADMIN_MAX_BODY + 1], perr[256], why[256], ts[32];
	const char *s = NULL;
	yajl_val top = NULL, v;

	if (blen > ADMIN_MAX_BODY ||
	    evbuffer_copyout(in, body, blen) != (ev_ssize_t)blen) {
		reply_error(req, 400, "cannot read the request body");
		return -1;
	}
	body[blen] = '\0';
	/*
	 * yajl_tree hands strings over NUL-terminated: a NUL in the body or
	 * an escaped one in a string would cut a name short unseen.  No
	 * valid name or JSON of ours holds either.
	 */
	if (memchr(body, '\0', blen) != NULL || strstr(body, "\\u0000") != NULL) {
		reply_error(req, 400, "the body holds a NUL character");
		return -1;
	}
	if (body[strspn(body, " \t\r\n")] != '\0') {
		if ((top = yajl_tree_parse(body, perr, sizeof(perr))) == NULL ||
		    !YAJL_IS_OBJECT(top)) {
			reply_error(req, 400, "the body must be a JSON object such "
			    "as {\"name\": \"before-upgrade\"}");
			yajl_tree_free(top);
			return -1;
		}
		for (size_t i = 0; i < top->u.object.len; i++) {
			v = top->u.object.values[i];
			if (strcmp(top->u.object.keys[i], "name") != 0) {
				reply_error(req, 400, "unknown key %.64s in the body; "
				    "the only one is name", top->u.object.keys[i]);
				yajl_tree_free(top);
				return -1;
			}
			if (YAJL_IS_STRING(v))
				s = YAJL_GET_STRING(v);
			else if (!YAJL_IS_NULL(v)) {
				reply_error(req, 400, "name must be a string");
				yajl_tree_free(top);
				return -1;
			}
		}
	}
	if (s != NULL && vw_name_valid(s, strlen(s), why, sizeof(why)) < 0) {
		reply_error(req, 400, "snapshot name \"%.100s\": %s (snapshot "
		    "names follow the volume name rule)", s, why);
		yajl_tree_free(top);
		return -1;
	}
	/* schedule.c prunes auto-* snapshots: a manual one must not be
	 * taken for one of them. */
	if (s != NULL && strncmp(s, "auto-", 5) == 0) {
		reply_error(req, 400, "snapshot name \"%.100s\": names starting "
		    "with auto- are reserved for scheduled snapshots "
		    "(snapshot_every), which are deleted beyond snapshot_keep; "
		    "choose another name", s);
		yajl_tree_free(top);
		return -1;
	}
	if (s != NULL)
		snprintf(snap, len, "%s", s);
	else {
		/* 2026-11-30T12:34:56Z without - and :, a valid name. */
		fe_rfc3339((int64_t)time(NULL), ts, sizeof(ts));
		for (size_t i = 0; ts[i] != '\0'; i++)
			if (ts[i] != '-' && ts[i] != ':')
				ts[j++] = ts[i];
		ts[j] = '\0';
		snprintf(snap, len, "snap-%s", ts);
	}
	yajl_tree_free(top);
	return 0;
}

/* The four snapshot calls: find the volume's driver, then hand the
 * request to ops.c, which answers through snap_done or snap_list_page. */
static void
api_snapshot(struct evhttp_request *req, struct vw_fe *fe, struct vw_drv *only,
    enum route route, const char *name, const char *snap, int force)
{
	struct snap_call *sc;
	struct vw_volume *v;
	struct vw_drv *drv;
	int rc;

	if ((drv = find_volume(req, fe, only, name, &v)) == NULL)
		return;
	if ((sc = calloc(1, sizeof(*sc))) == NULL) {
		reply_error(req, 500, "out of memory");
		return;
	}
	sc->req = req;
	sc->drv = drv;
	sc->route = route;
	sc->force = force > 0;
	snprintf(sc->volume, sizeof(sc->volume), "%s", name);
	if (snap != NULL)
		snprintf(sc->snap, sizeof(sc->snap), "%s", snap);
	else if (route == R_SNAPS &&
	    evhttp_request_get_command(req) == EVHTTP_REQ_POST &&
	    create_name(req, sc->snap, sizeof(sc->snap)) < 0) {
		snap_call_free(sc);
		return;
	}
	/* Changes are worth a line in the log: who did what is root. */
	if (sc->snap[0] != '\0')
		log_info("admin: %s %s of volume %s (driver %s)%s",
		    route == R_RESTORE ? "restore from snapshot" :
		    route == R_SNAP ? "delete snapshot" : "create snapshot",
		    sc->snap, name, drv->d->name, sc->force ? ", forced" : "");
	/* The callback may run before these return: sc is not touched
	 * after them. */
	if (route == R_RESTORE)
		rc = fe_snapshot_restore(drv, name, snap, sc->force, snap_done,
		    sc);
	else if (route == R_SNAP)
		rc = fe_snapshot_delete(drv, name, snap, snap_done, sc);
	else if (sc->snap[0] != '\0')
		rc = fe_snapshot_create(drv, name, sc->snap, snap_done, sc);
	else
		rc = fe_snapshot_list(drv, name, 0, snap_list_page, sc);
	if (rc < 0) {
		reply_error(req, 500, "out of memory");
		snap_call_free(sc);
	}
}

/* ------------------------------------------------------------- resize */

/* A resize waiting for the helper. */
struct resize_call {
	struct evhttp_request	*req;
	struct vw_drv		*drv;
	char			 volume[VW_NAME_MAX + 1];
	uint64_t		 size;
};

static void
resize_done(void *arg, int err, const char *msg)
{
	struct resize_call *rc = arg;
	yajl_gen g;

	if (err != 0) {
		reply_error(rc->req, snap_status(err), "%s", msg);
		free(rc);
		return;
	}
	if ((g = yajl_gen_alloc(NULL)) == NULL) {
		reply_error(rc->req, 500, "out of memory");
		free(rc);
		return;
	}
	yajl_gen_map_open(g);
	yajl_gen_string(g, (const unsigned char *)"driver", 6);
	yajl_gen_string(g, (const unsigned char *)rc->drv->d->name,
	    strlen(rc->drv->d->name));
	yajl_gen_string(g, (const unsigned char *)"volume", 6);
	yajl_gen_string(g, (const unsigned char *)rc->volume, strlen(rc->volume));
	yajl_gen_string(g, (const unsigned char *)"size", 4);
	yajl_gen_integer(g, (long long)rc->size);
	yajl_gen_map_close(g);
	reply_gen(rc->req, g);	/* frees g */
	free(rc);
}

/* POST /v1/volumes/NAME/resize {"size": "2G"}: grow a loop volume. */
static void
api_resize(struct evhttp_request *req, struct vw_fe *fe, struct vw_drv *only,
    const char *name)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t blen = evbuffer_get_length(in);
	char body[ADMIN_MAX_BODY + 1], perr[256];
	struct resize_call *rc;
	struct vw_volume *v;
	struct vw_drv *drv;
	yajl_val top = NULL, sv = NULL;
	uint64_t size;

	if ((drv = find_volume(req, fe, only, name, &v)) == NULL)
		return;
	if (blen > ADMIN_MAX_BODY ||
	    evbuffer_copyout(in, body, blen) != (ev_ssize_t)blen) {
		reply_error(req, 400, "cannot read the request body");
		return;
	}
	body[blen] = '\0';
	if (memchr(body, '\0', blen) == NULL &&
	    (top = yajl_tree_parse(body, perr, sizeof(perr))) != NULL &&
	    YAJL_IS_OBJECT(top) && top->u.object.len == 1 &&
	    strcmp(top->u.object.keys[0], "size") == 0)
		sv = top->u.object.values[0];
	if (sv == NULL || !YAJL_IS_STRING(sv) ||
	    vw_size_parse(sv->u.string, strlen(sv->u.string), &size) < 0) {
		reply_error(req, 400, "the body must be {\"size\": SIZE} with a "
		    "size such as \"512M\" or \"2G\" (K, M, G, T, P: powers of "
		    "1024)");
		yajl_tree_free(top);
		return;
	}
	yajl_tree_free(top);
	if ((rc = calloc(1, sizeof(*rc))) == NULL) {
		reply_error(req, 500, "out of memory");
		return;
	}
	rc->req = req;
	rc->drv = drv;
	rc->size = size;
	snprintf(rc->volume, sizeof(rc->volume), "%s", name);
	log_info("admin: resize volume %s (driver %s) to %llu bytes", name,
	    drv->d->name, (unsigned long long)size);
	/* resize_done may run before this returns: rc is not touched
	 * after it. */
	if (fe_volume_resize(drv, name, size, resize_done, rc) < 0) {
		reply_error(req, 500, "out of memory");
		free(rc);
	}
}

/* The names of the capabilities in mask, as libcap-ng spells them. */
static void
gen_cap_names(yajl_gen g, uint64_t mask)
{
	yajl_gen_array_open(g);
	for (unsigned cap = 0; cap < 64; cap++) {
		const char *name;

		if (!(mask & (1ULL << cap)))
			continue;
		if ((name = capng_capability_to_name(cap)) != NULL)
			GSTR(g, name);
		else {
			char num[16];

			snprintf(num, sizeof(num), "%u", cap);
			GSTR(g, num);
		}
	}
	yajl_gen_array_close(g);
}

/* GET /v1/status */
static void
api_status(struct evhttp_request *req, struct vw_fe *fe)
{
	struct vw_self_status self;
	const struct vw_config *cfg = fe->cfg;
	char ts[32], path[VW_PATH_MAX];
	yajl_gen g = yajl_gen_alloc(NULL);

	if (g == NULL) {
		reply_error(req, 500, "out of memory");
		return;
	}
	if (vw_self_status(&self) < 0)
		log_warn("reading /proc/self/status");
	yajl_gen_map_open(g);
	GSTR(g, "version");
	GSTR(g, PACKAGE_VERSION);
	GSTR(g, "admin_socket");
	GSTR(g, cfg->admin_socket);

	GSTR(g, "frontend");
	yajl_gen_map_open(g);
	GSTR(g, "pid");
	yajl_gen_integer(g, getpid());
	GSTR(g, "user");
	GSTR(g, cfg->user);
	GSTR(g, "uid");
	yajl_gen_integer(g, fe->uid);
	GSTR(g, "gid");
	yajl_gen_integer(g, fe->gid);
	GSTR(g, "capabilities");
	yajl_gen_map_open(g);
	GSTR(g, "effective");
	gen_hex64(g, self.cap_eff);
	GSTR(g, "permitted");
	gen_hex64(g, self.cap_prm);
	GSTR(g, "bounding");
	gen_hex64(g, self.cap_bnd);
	yajl_gen_map_close(g);
	GSTR(g, "no_new_privs");
	yajl_gen_bool(g, self.no_new_privs == 1);
	GSTR(g, "seccomp");
	GSTR(g, vw_seccomp_mode_name((enum vw_seccomp_mode)fe->seccomp_mode));
	GSTR(g, "seccomp_filter");	/* the kernel's view: Seccomp: 2 */
	yajl_gen_bool(g, self.seccomp == 2);
	fe_rfc3339(fe->started, ts, sizeof(ts));
	GSTR(g, "started");
	GSTR(g, ts);
	GSTR(g, "uptime_seconds");
	yajl_gen_integer(g, (long long)((fe_now_ns() - fe->started_ns) /
	    1000000000u));
	yajl_gen_map_close(g);

	GSTR(g, "drivers");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < fe->ndrv; i++) {
		const struct vw_drv *drv = &fe->drv[i];
		const struct vw_driver *d = drv->d;

		snprintf(path, sizeof(path), "%s/%s.sock", cfg->socket_dir,
		    d->name);
		yajl_gen_map_open(g);
		GSTR(g, "name");
		GSTR(g, d->name);
		GSTR(g, "backend");
		GSTR(g, vw_backend_name(d->backend));
		GSTR(g, "on_remove");
		GSTR(g, vw_on_remove_name(d->on_remove));
		GSTR(g, "socket");
		GSTR(g, path);
		GSTR(g, "socket_activated");
		yajl_gen_bool(g, drv->activated);
		GSTR(g, "root");
		GSTR(g, d->root);
		GSTR(g, "allowed_roots");
		yajl_gen_array_open(g);
		for (size_t j = 0; j < d->nallowed; j++)
			GSTR(g, d->allowed_roots[j]);
		yajl_gen_array_close(g);
		GSTR(g, "volumes");
		yajl_gen_integer(g, (long long)drv->reg.count);
		GSTR(g, "mounts_in_use");
		yajl_gen_integer(g, (long long)drv->reg.nmounted);
		GSTR(g, "helper");
		yajl_gen_map_open(g);
		GSTR(g, "pid");
		yajl_gen_integer(g, drv->helper.pid);
		GSTR(g, "capabilities");
		gen_hex64(g, drv->helper.capabilities);
		GSTR(g, "capability_names");
		gen_cap_names(g, drv->helper.capabilities);
		yajl_gen_map_close(g);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	reply_gen(req, g);
}

/* GET /metrics */
static void
api_metrics(struct evhttp_request *req, struct vw_fe *fe)
{
	struct evbuffer *b = evbuffer_new();

	if (b == NULL || fe_metrics_render(fe, b) < 0)
		reply_error(req, 500, "out of memory");
	else
		reply(req, 200, METRICS_CTYPE, b);
	if (b != NULL)
		evbuffer_free(b);
}

/*
 * The query string: "driver" must name a configured driver; "force"
 * (restore only: 1, true, 0 or false) is known where allow_force is set.
 * Returns 0 with *drv (NULL if not given) and *force (-1 if not given)
 * set, or -1 after replying with the error.
 */
static int
parse_query(struct evhttp_request *req, struct vw_fe *fe, const char *query,
    int allow_force, struct vw_drv **drv, int *force)
{
	struct evkeyvalq q;
	struct evkeyval *kv;
	int rc = 0;

	*drv = NULL;
	*force = -1;
	if (query == NULL || *query == '\0')
		return 0;
	TAILQ_INIT(&q);
	if (evhttp_parse_query_str(query, &q) < 0) {
		reply_error(req, 400, "cannot parse the query string");
		return -1;
	}
	TAILQ_FOREACH(kv, &q, next) {
		if (allow_force && strcmp(kv->key, "force") == 0) {
			if (strcmp(kv->value, "1") == 0 ||
			    strcmp(kv->value, "true") == 0)
				*force = 1;
			else if (strcmp(kv->value, "0") == 0 ||
			    strcmp(kv->value, "false") == 0)
				*force = 0;
			else {
				reply_error(req, 400, "force must be 1 or 0, not "
				    "%.32s", kv->value);
				rc = -1;
				break;
			}
			continue;
		}
		if (strcmp(kv->key, "driver") != 0) {
			reply_error(req, 400, "unknown query parameter %.64s; %s",
			    kv->key, allow_force ? "the only ones are driver and "
			    "force" : "the only one is driver");
			rc = -1;
			break;
		}
		*drv = NULL;
		for (size_t i = 0; i < fe->ndrv; i++)
			if (strcmp(fe->drv[i].d->name, kv->value) == 0)
				*drv = &fe->drv[i];
		if (*drv == NULL) {
			reply_error(req, 404, "no driver called %.256s is "
			    "configured", kv->value);
			rc = -1;
			break;
		}
	}
	evhttp_clear_headers(&q);
	return rc;
}

/* The methods each route takes, and as the Allow header names them. */
static const struct {
	int		 methods;	/* EVHTTP_REQ_* */
	const char	*allow;
} route_methods[] = {
	[R_NONE] =	{ 0, "" },
	[R_VOLUMES] =	{ EVHTTP_REQ_GET | EVHTTP_REQ_POST, "GET, POST" },
	[R_VOLUME] =	{ EVHTTP_REQ_GET, "GET" },
	[R_SNAPS] =	{ EVHTTP_REQ_GET | EVHTTP_REQ_POST, "GET, POST" },
	[R_SNAP] =	{ EVHTTP_REQ_DELETE, "DELETE" },
	[R_RESTORE] =	{ EVHTTP_REQ_POST, "POST" },
	[R_STATUS] =	{ EVHTTP_REQ_GET, "GET" },
	[R_METRICS] =	{ EVHTTP_REQ_GET, "GET" },
	[R_RESIZE] =	{ EVHTTP_REQ_POST, "POST" },
};

/*
 * Route path.  Below /v1/volumes/ the parts are NAME[/snapshots[/SNAP
 * [/restore]]], split into buf (len bytes), with *name and *snap
 * pointing into it.  Returns R_NONE for a path the API does not have.
 */
static enum route
route_of(const char *path, char *buf, size_t len, char **name, char **snap)
{
	char *parts[4], *p;
	size_t n = 0;

	*name = *snap = NULL;
	if (strcmp(path, "/v1/volumes") == 0)
		return R_VOLUMES;
	if (strcmp(path, "/v1/status") == 0)
		return R_STATUS;
	if (strcmp(path, "/metrics") == 0)
		return R_METRICS;
	if (strncmp(path, "/v1/volumes/", 12) != 0 ||
	    (size_t)snprintf(buf, len, "%s", path + 12) >= len)
		return R_NONE;
	for (p = buf;;) {
		if (n == 4)
			return R_NONE;
		parts[n++] = p;
		if ((p = strchr(p, '/')) == NULL)
			break;
		*p++ = '\0';
	}
	if (n == 2 && strcmp(parts[1], "resize") == 0) {
		*name = parts[0];
		return R_RESIZE;
	}
	if ((n >= 2 && strcmp(parts[1], "snapshots") != 0) ||
	    (n == 4 && strcmp(parts[3], "restore") != 0))
		return R_NONE;
	*name = parts[0];
	if (n >= 3)
		*snap = parts[2];
	return n == 1 ? R_VOLUME : n == 2 ? R_SNAPS : n == 3 ? R_SNAP :
	    R_RESTORE;
}

static void
admin_dispatch(struct evhttp_request *req, void *arg)
{
	struct vw_fe *fe = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	struct vw_drv *drv;
	const char *path;
	char buf[1024], why[256], *name, *snap;
	struct ucred uc;
	enum route route;
	int force, known;

	fe_conn_request(req);	/* busy: never closed by the limit meanwhile */
	known = peer_cred(req, &uc) == 0;
	if (!known || uc.uid != 0) {
		struct evkeyvalq *h = evhttp_request_get_output_headers(req);

		if (!known)
			log_warnx("admin socket: refused a peer whose credentials "
			    "cannot be read");
		else
			log_warnx("admin socket: refused uid %u (pid %d); the admin "
			    "API is for root only", (unsigned)uc.uid, (int)uc.pid);
		/* Close after this reply: nothing more from that peer. */
		if (evhttp_add_header(h, "Connection", "close") < 0) {
			evhttp_send_error(req, 500, "out of memory");
			return;
		}
		reply_error(req, 403, "the volwarden admin API is for root only");
		return;
	}
	if (uri == NULL || (path = evhttp_uri_get_path(uri)) == NULL) {
		reply_error(req, 400, "cannot parse the request URI");
		return;
	}
	log_debug("admin: %s %s", cmd == EVHTTP_REQ_GET ? "GET" :
	    cmd == EVHTTP_REQ_POST ? "POST" : "DELETE",
	    evhttp_request_get_uri(req));
	if ((route = route_of(path, buf, sizeof(buf), &name, &snap)) == R_NONE) {
		reply_error(req, 404, "unknown path %.100s: the admin API has "
		    "/v1/volumes, /v1/volumes/NAME, /v1/volumes/NAME/snapshots, "
		    "/v1/volumes/NAME/snapshots/SNAP, "
		    "/v1/volumes/NAME/snapshots/SNAP/restore, "
		    "/v1/volumes/NAME/resize, /v1/status and /metrics", path);
		return;
	}
	/* Names need no percent-encoding; any '%' or other byte outside the
	 * rule is refused by it. */
	if (name != NULL && vw_name_valid(name, strlen(name), why,
	    sizeof(why)) < 0) {
		reply_error(req, 400, "volume \"%.100s\": %s", name, why);
		return;
	}
	if (snap != NULL && vw_name_valid(snap, strlen(snap), why,
	    sizeof(why)) < 0) {
		reply_error(req, 400, "snapshot \"%.100s\": %s (snapshot names "
		    "follow the volume name rule)", snap, why);
		return;
	}
	if (!(route_methods[route].methods & (int)cmd)) {
		struct evkeyvalq *h = evhttp_request_get_output_headers(req);

		if (evhttp_add_header(h, "Allow", route_methods[route].allow) < 0)
			evhttp_send_error(req, 500, "out of memory");
		else
			reply_error(req, 405, "%s takes %s only", path,
			    route_methods[route].allow);
		return;
	}
	if (parse_query(req, fe, evhttp_uri_get_query(uri), route == R_RESTORE,
	    &drv, &force) < 0)
		return;
	switch (route) {
	case R_VOLUMES:
		if (cmd == EVHTTP_REQ_POST)
			api_create(req, drv);
		else
			api_volumes(req, fe, drv);
		break;
	case R_VOLUME:
		api_volume(req, fe, drv, name);
		break;
	case R_SNAPS:
	case R_SNAP:
	case R_RESTORE:
		api_snapshot(req, fe, drv, route, name, snap, force);
		break;
	case R_STATUS:
		api_status(req, fe);
		break;
	case R_RESIZE:
		api_resize(req, fe, drv, name);
		break;
	default:
		api_metrics(req, fe);
		break;
	}
}

int
fe_admin_setup(struct vw_fe *fe, char *err, size_t errlen)
{
	struct evhttp *h = evhttp_new(fe->base);
	struct evhttp_bound_socket *bound;

	if (h == NULL) {
		snprintf(err, errlen, "evhttp_new failed");
		return -1;
	}
	evhttp_set_max_body_size(h, ADMIN_MAX_BODY);
	evhttp_set_max_headers_size(h, ADMIN_MAX_HEADERS);
	evhttp_set_timeout(h, ADMIN_TIMEOUT);
	/* Others get 501 from evhttp before any peer check; these are
	 * checked per route (admin_dispatch, 405). */
	evhttp_set_allowed_methods(h, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_DELETE);
	evhttp_set_gencb(h, admin_dispatch, fe);
	evhttp_set_bevcb(h, fe_conn_bev, NULL);	/* counted with the others */
	bound = evhttp_accept_socket_with_handle(h, fe->admin_fd);
	if (bound == NULL || fe_accept_watch(fe, bound, &fe->admin_listener,
	    &fe->admin_accept_timer) < 0) {
		snprintf(err, errlen, "cannot serve the admin socket %s",
		    fe->cfg->admin_socket);
		evhttp_free(h);
		return -1;
	}
	fe->admin = h;
	return 0;
}
