/* evhttp set-up for a driver socket, and reply helpers. */
#include "vw-build.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <yajl/yajl_gen.h>

#include "common/log.h"
#include "frontend/frontend.h"

/* Limits (bytes, seconds).  A Docker request is a few hundred bytes. */
#define MAX_BODY	(1024 * 1024)
#define MAX_HEADERS	(8 * 1024)
/* Idle/read timeout per connection.  Long, because closing an idle
 * keep-alive connection races with dockerd writing a request on it, and a
 * lost request is retried with an empty body (protocol doc section 8). */
#define CONN_TIMEOUT	300

/* What dockerd sends in Accept (pkg/plugins/transport VersionMimetype). */
#define DOCKER_CTYPE	"application/vnd.docker.plugins.v1.2+json"

int
fe_http_setup(struct vw_drv *drv, char *err, size_t errlen)
{
	struct evhttp *h = evhttp_new(drv->fe->base);

	if (h == NULL) {
		snprintf(err, errlen, "evhttp_new failed");
		return -1;
	}
	evhttp_set_max_body_size(h, MAX_BODY);
	evhttp_set_max_headers_size(h, MAX_HEADERS);
	evhttp_set_timeout(h, CONN_TIMEOUT);
	evhttp_set_allowed_methods(h, EVHTTP_REQ_POST);
	evhttp_set_default_content_type(h, DOCKER_CTYPE);
	evhttp_set_gencb(h, fe_http_dispatch, drv);
	if (evhttp_accept_socket_with_handle(h, drv->listen_fd) == NULL) {
		snprintf(err, errlen, "cannot serve the socket of driver %s",
		    drv->d->name);
		evhttp_free(h);
		return -1;
	}
	drv->http = h;
	return 0;
}

/* Send and count one reply; every request gets exactly one. */
static void
send_json(const struct vw_call *c, int code, const char *body, size_t len,
    int error)
{
	struct evbuffer *b = evbuffer_new();

	if (b == NULL || evbuffer_add(b, body, len) < 0 ||
	    evbuffer_add(b, "\n", 1) < 0) {
		log_warnx("out of memory building a reply");
		evhttp_send_error(c->req, 500, "out of memory");
		if (b != NULL)
			evbuffer_free(b);
		fe_metrics_request(c, 1);
		return;
	}
	evhttp_send_reply(c->req, code, code == 200 ? "OK" : "Error", b);
	evbuffer_free(b);
	fe_metrics_request(c, error);
}

void
fe_reply_json(const struct vw_call *c, int code, const char *body, size_t len)
{
	send_json(c, code, body, len, code >= 400);
}

void
fe_reply_err(const struct vw_call *c, int code, const char *fmt, ...)
{
	char msg[2048];
	const unsigned char *out;
	size_t len;
	yajl_gen g;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_debug("reply error: %s", msg);
	if ((g = yajl_gen_alloc(NULL)) == NULL) {
		evhttp_send_error(c->req, 500, "out of memory");
		fe_metrics_request(c, 1);
		return;
	}
	yajl_gen_map_open(g);
	yajl_gen_string(g, (const unsigned char *)"Err", 3);
	yajl_gen_string(g, (const unsigned char *)msg, strlen(msg));
	yajl_gen_map_close(g);
	if (yajl_gen_get_buf(g, &out, &len) != yajl_gen_status_ok) {
		evhttp_send_error(c->req, 500, "cannot encode the error");
		fe_metrics_request(c, 1);
	} else
		send_json(c, code, (const char *)out, len, 1);
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
