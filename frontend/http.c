/* evhttp set-up for a driver socket, and reply helpers. */
#include "vw-build.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <yajl/yajl_gen.h>

#include "common/log.h"
#include "frontend/frontend.h"

/* How long accepting pauses when the descriptor limit is reached. */
#define ACCEPT_PAUSE_MS	100

/* What dockerd sends in Accept (pkg/plugins/transport VersionMimetype). */
#define DOCKER_CTYPE	"application/vnd.docker.plugins.v1.2+json"

static void
accept_resume(evutil_socket_t fd, short what, void *arg)
{
	struct vw_drv *drv = arg;

	(void)fd;
	(void)what;
	if (evconnlistener_enable(drv->listener) < 0)
		log_warnx("driver %s: cannot resume accepting connections",
		    drv->d->name);
}

/*
 * accept(2) failed.  At the descriptor limit (max_connections) the
 * listening socket stays readable, so pause accepting briefly instead of
 * spinning; connections wait in the kernel's backlog meanwhile.
 */
/* The error callback gets the listener's own argument, which belongs to
 * evhttp; find our driver by its listener instead. */
static struct vw_fe *http_fe;

static void
accept_error(struct evconnlistener *lev, void *arg)
{
	struct vw_drv *drv = NULL;
	struct timeval tv = { 0, ACCEPT_PAUSE_MS * 1000 };
	int e = EVUTIL_SOCKET_ERROR();

	(void)arg;
	for (size_t i = 0; http_fe != NULL && i < http_fe->ndrv; i++)
		if (http_fe->drv[i].listener == lev)
			drv = &http_fe->drv[i];
	if (drv == NULL) {
		log_warnx("accept failed on an unknown listener: %s",
		    evutil_socket_error_to_string(e));
		return;
	}
	if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
		if (!drv->accept_paused_logged) {
			log_warnx("driver %s: connection limit reached (%s); "
			    "pausing accept for %d ms", drv->d->name,
			    evutil_socket_error_to_string(e), ACCEPT_PAUSE_MS);
			drv->accept_paused_logged = 1;
		}
		evconnlistener_disable(drv->listener);
		event_add(drv->accept_timer, &tv);
		return;
	}
	log_warnx("driver %s: accept: %s", drv->d->name,
	    evutil_socket_error_to_string(e));
}

int
fe_http_setup(struct vw_drv *drv, char *err, size_t errlen)
{
	const struct vw_limits *lim = &drv->fe->cfg->limits;
	struct evhttp *h = evhttp_new(drv->fe->base);
	struct evhttp_bound_socket *bound;

	if (h == NULL) {
		snprintf(err, errlen, "evhttp_new failed");
		return -1;
	}
	evhttp_set_max_body_size(h, lim->max_body_bytes);
	evhttp_set_max_headers_size(h, lim->max_header_bytes);
	/* Long by default: closing an idle keep-alive connection races with
	 * dockerd writing a request on it, and a lost request is retried
	 * with an empty body (protocol doc section 8). */
	evhttp_set_timeout(h, (int)lim->idle_timeout);
	evhttp_set_allowed_methods(h, EVHTTP_REQ_POST);
	evhttp_set_default_content_type(h, DOCKER_CTYPE);
	evhttp_set_gencb(h, fe_http_dispatch, drv);
	if ((bound = evhttp_accept_socket_with_handle(h, drv->listen_fd)) == NULL ||
	    (drv->listener = evhttp_bound_socket_get_listener(bound)) == NULL ||
	    (drv->accept_timer = evtimer_new(drv->fe->base, accept_resume,
	    drv)) == NULL) {
		snprintf(err, errlen, "cannot serve the socket of driver %s",
		    drv->d->name);
		evhttp_free(h);
		return -1;
	}
	http_fe = drv->fe;
	evconnlistener_set_error_cb(drv->listener, accept_error);
	drv->http = h;
	return 0;
}

void
fe_reply_json(struct evhttp_request *req, int code, const char *body,
    size_t len)
{
	struct evbuffer *b = evbuffer_new();

	if (b == NULL || evbuffer_add(b, body, len) < 0 ||
	    evbuffer_add(b, "\n", 1) < 0) {
		log_warnx("out of memory building a reply");
		evhttp_send_error(req, 500, "out of memory");
		if (b != NULL)
			evbuffer_free(b);
		return;
	}
	evhttp_send_reply(req, code, code == 200 ? "OK" : "Error", b);
	evbuffer_free(b);
}

void
fe_reply_err(struct evhttp_request *req, int code, const char *fmt, ...)
{
	char msg[2048];
	const unsigned char *out;
	size_t len;
	yajl_gen g;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_info("refused: %s", msg);
	if ((g = yajl_gen_alloc(NULL)) == NULL) {
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	yajl_gen_map_open(g);
	yajl_gen_string(g, (const unsigned char *)"Err", 3);
	yajl_gen_string(g, (const unsigned char *)msg, strlen(msg));
	yajl_gen_map_close(g);
	if (yajl_gen_get_buf(g, &out, &len) != yajl_gen_status_ok)
		evhttp_send_error(req, 500, "cannot encode the error");
	else
		fe_reply_json(req, code, (const char *)out, len);
	yajl_gen_free(g);
}

void
fe_rfc3339(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "1970-01-01T00:00:00Z");
}
