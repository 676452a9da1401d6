/*
 * The admin API for volwardenctl, on the admin socket (admin_socket,
 * mode 0600, owner root, bound by the root start-up).
 *
 *	GET /v1/volumes[?driver=D]	every volume, sorted by driver and name
 *	GET /v1/volumes/NAME[?driver=D]	one volume, with its mount IDs
 *	GET /v1/status			frontend, drivers and helpers
 *	GET /metrics			Prometheus text (metrics.c)
 *
 * Replies are JSON (except /metrics); errors are {"error": "..."} with an
 * HTTP status.  Everything is answered from memory; nothing here changes
 * state.
 *
 * The socket's mode already keeps other users out.  Each request is also
 * checked with SO_PEERCRED, so a peer that got through anyway (a looser
 * mode set by hand, a non-root process holding CAP_DAC_OVERRIDE) is
 * refused: uid must be 0.  evhttp (libevent 2.1) has no hook between
 * accept and the first request, so the check runs per request, before
 * any routing, and a refusal closes the connection.
 */
#include "vw-build.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cap-ng.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <yajl/yajl_gen.h>

#include "common/log.h"
#include "common/privdrop.h"
#include "common/validate.h"
#include "frontend/frontend.h"
#include "seccomp/seccomp.h"

/* Limits (bytes, seconds).  Requests are GETs without a body. */
#define ADMIN_MAX_BODY		1024
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
	case 409: return "Conflict";
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
gen_options(yajl_gen g, const struct vw_volume *v)
{
	char num[32];

	yajl_gen_map_open(g);
	if (v->mountpoint_opt != NULL) {
		GSTR(g, "mountpoint");
		GSTR(g, v->mountpoint_opt);
	}
	if (v->flags & VW_OPT_SIZE) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)v->size);
		GSTR(g, "size");
		GSTR(g, num);
	}
	if (v->from_opt != NULL) {
		GSTR(g, "from");
		GSTR(g, v->from_opt);
	}
	if (v->flags & VW_OPT_NOCOW) {
		GSTR(g, "nocow");
		GSTR(g, "true");
	}
	if (v->flags & VW_OPT_COMPRESSION) {
		GSTR(g, "compression");
		GSTR(g, vw_compression_name(v->compression));
	}
	if (v->flags & VW_OPT_UID) {
		snprintf(num, sizeof(num), "%u", v->uid);
		GSTR(g, "uid");
		GSTR(g, num);
	}
	if (v->flags & VW_OPT_GID) {
		snprintf(num, sizeof(num), "%u", v->gid);
		GSTR(g, "gid");
		GSTR(g, num);
	}
	if (v->flags & VW_OPT_MODE) {
		snprintf(num, sizeof(num), "%04o", v->mode);
		GSTR(g, "mode");
		GSTR(g, num);
	}
	yajl_gen_map_close(g);
}

/* One volume; with detail, its mount IDs and their counts too. */
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

/* GET /v1/volumes/NAME: 404 if no driver has it, 409 if several do and
 * no driver was named. */
static void
api_volume(struct evhttp_request *req, struct vw_fe *fe,
    const struct vw_drv *only, const char *name)
{
	const struct vw_drv *found = NULL;
	struct vw_volume *v = NULL, *hit;
	char others[1024] = "";
	size_t nfound = 0, ol = 0;
	yajl_gen g;

	for (size_t i = 0; i < fe->ndrv; i++) {
		if (only != NULL && only != &fe->drv[i])
			continue;
		if ((hit = vw_registry_get(&fe->drv[i].reg, name)) == NULL)
			continue;
		if (nfound++ == 0) {
			found = &fe->drv[i];
			v = hit;
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
		return;
	}
	if (nfound > 1) {
		reply_error(req, 409, "volume %s exists in several drivers (%s); "
		    "name one with ?driver=", name, others);
		return;
	}
	if ((g = yajl_gen_alloc(NULL)) == NULL) {
		reply_error(req, 500, "out of memory");
		return;
	}
	gen_volume(g, found, v, 1);
	reply_gen(req, g);
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
 * The query string: only "driver" is known, and it must name a
 * configured driver.  Returns 0 with *drv set (NULL if not given), or -1
 * after replying with the error.
 */
static int
parse_query(struct evhttp_request *req, struct vw_fe *fe, const char *query,
    const struct vw_drv **drv)
{
	struct evkeyvalq q;
	struct evkeyval *kv;
	int rc = 0;

	*drv = NULL;
	if (query == NULL || *query == '\0')
		return 0;
	TAILQ_INIT(&q);
	if (evhttp_parse_query_str(query, &q) < 0) {
		reply_error(req, 400, "cannot parse the query string");
		return -1;
	}
	TAILQ_FOREACH(kv, &q, next) {
		if (strcmp(kv->key, "driver") != 0) {
			reply_error(req, 400, "unknown query parameter %.64s; the "
			    "only one is driver", kv->key);
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

static void
admin_dispatch(struct evhttp_request *req, void *arg)
{
	struct vw_fe *fe = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const struct vw_drv *drv;
	const char *path, *name;
	struct ucred uc;
	char why[256];
	int known = peer_cred(req, &uc) == 0;

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
	log_debug("admin: GET %s", evhttp_request_get_uri(req));
	if (parse_query(req, fe, evhttp_uri_get_query(uri), &drv) < 0)
		return;
	if (strcmp(path, "/v1/volumes") == 0)
		api_volumes(req, fe, drv);
	else if (strncmp(path, "/v1/volumes/", 12) == 0) {
		name = path + 12;
		/* Volume names need no percent-encoding; any '%' or other
		 * byte outside the rule is refused by it. */
		if (vw_name_valid(name, strlen(name), why, sizeof(why)) < 0)
			reply_error(req, 400, "volume \"%.100s\": %s", name, why);
		else
			api_volume(req, fe, drv, name);
	} else if (strcmp(path, "/v1/status") == 0)
		api_status(req, fe);
	else if (strcmp(path, "/metrics") == 0)
		api_metrics(req, fe);
	else
		reply_error(req, 404, "unknown path %.100s: the admin API has GET "
		    "/v1/volumes, /v1/volumes/NAME, /v1/status and /metrics", path);
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
	evhttp_set_allowed_methods(h, EVHTTP_REQ_GET);
	evhttp_set_gencb(h, admin_dispatch, fe);
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
