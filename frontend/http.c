/* evhttp set-up for a driver socket, and reply helpers. */
#include "vw-build.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "common/log.h"
#include "frontend/frontend.h"

/* How long accepting pauses when the descriptor limit is reached. */
#define ACCEPT_PAUSE_MS	100

/* What dockerd sends in Accept (pkg/plugins/transport VersionMimetype). */
#define DOCKER_CTYPE	"application/vnd.docker.plugins.v1.2+json"

static void
accept_resume(evutil_socket_t fd, short what, void *arg)
{
	struct evconnlistener *lev = arg;

	(void)fd;
	(void)what;
	if (evconnlistener_enable(lev) < 0)
		log_warnx("cannot resume accepting connections on fd %d",
		    (int)evconnlistener_get_fd(lev));
}

/* The error callback gets the listener's own argument, which belongs to
 * evhttp; find our driver (or the admin socket) by its listener instead. */
static struct vw_fe *http_fe;

/*
 * accept(2) failed.  At the descriptor limit (max_connections) the
 * listening socket stays readable, so pause accepting briefly instead of
 * spinning; connections wait in the kernel's backlog meanwhile.  The same
 * holds for every listener: a driver socket, bound or from systemd, and
 * the admin socket.
 */
static void
accept_error(struct evconnlistener *lev, void *arg)
{
	struct vw_fe *fe = http_fe;
	struct timeval tv = { 0, ACCEPT_PAUSE_MS * 1000 };
	struct event *timer = NULL;
	int *logged = NULL, e = EVUTIL_SOCKET_ERROR();
	char what[96];

	(void)arg;
	for (size_t i = 0; fe != NULL && i < fe->ndrv; i++) {
		if (fe->drv[i].listener == lev) {
			timer = fe->drv[i].accept_timer;
			logged = &fe->drv[i].accept_paused_logged;
			snprintf(what, sizeof(what), "driver %s",
			    fe->drv[i].d->name);
		}
	}
	if (fe != NULL && fe->admin_listener == lev) {
		timer = fe->admin_accept_timer;
		logged = &fe->admin_accept_paused_logged;
		snprintf(what, sizeof(what), "admin socket");
	}
	if (timer == NULL) {
		log_warnx("accept failed on an unknown listener: %s",
		    evutil_socket_error_to_string(e));
		return;
	}
	if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
		if (!*logged) {
			log_warnx("%s: connection limit reached (%s); pausing "
			    "accept for %d ms", what,
			    evutil_socket_error_to_string(e), ACCEPT_PAUSE_MS);
			*logged = 1;
		}
		evconnlistener_disable(lev);
		event_add(timer, &tv);
		return;
	}
	log_warnx("%s: accept: %s", what, evutil_socket_error_to_string(e));
}

int
fe_accept_watch(struct vw_fe *fe, struct evhttp_bound_socket *bound,
    struct evconnlistener **lev, struct event **timer)
{
	if ((*lev = evhttp_bound_socket_get_listener(bound)) == NULL ||
	    (*timer = evtimer_new(fe->base, accept_resume, *lev)) == NULL)
		return -1;
	http_fe = fe;
	evconnlistener_set_error_cb(*lev, accept_error);
	return 0;
}

/* Every request on a driver socket: mark its connection busy first
 * (conn.c never closes a connection while we handle its request). */
static void
dispatch(struct evhttp_request *req, void *arg)
{
	fe_conn_request(req);
	fe_http_dispatch(req, arg);
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
	evhttp_set_gencb(h, dispatch, drv);
	evhttp_set_bevcb(h, fe_conn_bev, NULL);
	if ((bound = evhttp_accept_socket_with_handle(h, drv->listen_fd)) == NULL ||
	    fe_accept_watch(drv->fe, bound, &drv->listener,
	    &drv->accept_timer) < 0) {
		snprintf(err, errlen, "cannot serve the socket of driver %s",
		    drv->d->name);
		evhttp_free(h);
		return -1;
	}
	drv->http = h;
	return 0;
}

/*
 * Replies are written straight into the request's output buffer: no
 * intermediate buffer or generator per request (bench/README.md).
 */
void
fe_out_init(struct fe_out *o, const struct vw_call *c)
{
	memset(o, 0, sizeof(*o));
	o->call = c;
	/* Answered already, at its deadline (ops.c): drop this reply. */
	if (c != NULL && c->req == NULL && c->done == NULL) {
		o->discard = 1;
		return;
	}
	/* An admin Create (c->done) collects its reply on the heap. */
	if (c != NULL && c->done == NULL) {
		o->b = evhttp_request_get_output_buffer(c->req);
		o->err = o->b == NULL;
	}
}

void
fe_out_raw(struct fe_out *o, const char *s, size_t len)
{
	char *np;
	size_t cap;

	if (o->err || o->discard)
		return;
	if (o->b != NULL) {
		if (evbuffer_add(o->b, s, len) < 0)
			o->err = 1;
		return;
	}
	if (o->len + len > o->cap) {
		for (cap = o->cap ? o->cap : 4096; cap < o->len + len; cap *= 2)
			;
		if ((np = realloc(o->p, cap)) == NULL) {
			o->err = 1;
			return;
		}
		o->p = np;
		o->cap = cap;
	}
	memcpy(o->p + o->len, s, len);
	o->len += len;
}

/* s as a quoted JSON string, escaped exactly as yajl_gen does: '"', '\'
 * and the C0 controls; other bytes (UTF-8 included) as they are. */
void
fe_out_str(struct fe_out *o, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run = 0;
	char esc[7];

	fe_out_raw(o, "\"", 1);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *e = NULL;
		size_t el = 2;

		switch (c) {
		case '"': e = "\\\""; break;
		case '\\': e = "\\\\"; break;
		case '\r': e = "\\r"; break;
		case '\n': e = "\\n"; break;
		case '\f': e = "\\f"; break;
		case '\b': e = "\\b"; break;
		case '\t': e = "\\t"; break;
		default:
			if (c >= 0x20)
				continue;
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
			e = esc;
			el = 6;
		}
		fe_out_raw(o, s + run, i - run);
		fe_out_raw(o, e, el);
		run = i + 1;
	}
	fe_out_raw(o, s + run, len - run);
	fe_out_raw(o, "\"", 1);
}

void
fe_out_cstr(struct fe_out *o, const char *s)
{
	fe_out_str(o, s, strlen(s));
}

/* Send the reply and count it; every request gets exactly one. */
static void
out_send(struct fe_out *o, int code, int error)
{
	if (o->discard) {
		log_debug("%s: the request was answered at its deadline; "
		    "this later reply is dropped", fe_ep_name(o->call->ep));
		return;
	}
	fe_out_raw(o, "\n", 1);
	if (o->call->done != NULL) {
		static const char oom[] = "{\"Err\":\"out of memory\"}\n";

		if (o->err)
			o->call->done(o->call->done_arg, 500, oom,
			    sizeof(oom) - 1);
		else
			o->call->done(o->call->done_arg, code, o->p, o->len);
		free(o->p);
		return;
	}
	if (o->err) {
		log_warnx("out of memory building a reply");
		if (o->b != NULL)
			evbuffer_drain(o->b, evbuffer_get_length(o->b));
		evhttp_send_error(o->call->req, 500, "out of memory");
		fe_metrics_request(o->call, 1);
		return;
	}
	evhttp_send_reply(o->call->req, code, code == 200 ? "OK" : "Error",
	    NULL);
	fe_metrics_request(o->call, error);
}

void
fe_out_send(struct fe_out *o, int code)
{
	out_send(o, code, code >= 400);
}

void
fe_reply_json(const struct vw_call *c, int code, const char *body, size_t len)
{
	struct fe_out o;

	fe_out_init(&o, c);
	fe_out_raw(&o, body, len);
	out_send(&o, code, code >= 400);
}

void
fe_reply_err(const struct vw_call *c, int code, const char *fmt, ...)
{
	char msg[2048];
	struct fe_out o;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* dockerd asks every driver about names it does not know (Get before
	 * each Create, protocol doc 6.2): those answers are not news. */
	if (c != NULL && (c->ep == VW_EP_GET || c->ep == VW_EP_PATH))
		log_debug("%s answered: %s", fe_ep_name(c->ep), msg);
	else
		log_info("%s refused: %s", c != NULL ? fe_ep_name(c->ep) :
		    "request", msg);
	fe_out_init(&o, c);
	fe_out_raw(&o, "{\"Err\":", 7);
	fe_out_cstr(&o, msg);
	fe_out_raw(&o, "}", 1);
	out_send(&o, code, 1);
}

/*
 * Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).  List
 * formats one timestamp per volume, and gmtime_r + strftime took most of
 * a List's build time at 10,000 volumes.
 */
static void
civil(int64_t days, int *y, int *m, int *d)
{
	int64_t z = days + 719468, era = z / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;

	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static void
put2(char *p, int v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
}

void
fe_rfc3339(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;
	int y, m, d, s;

	if (t >= 0 && t <= 253402300799LL && len >= 21) {
		/* 1970 to 9999: the same text as strftime below. */
		civil(t / 86400, &y, &m, &d);
		s = (int)(t % 86400);
		put2(buf, y / 100);
		put2(buf + 2, y % 100);
		buf[4] = '-';
		put2(buf + 5, m);
		buf[7] = '-';
		put2(buf + 8, d);
		buf[10] = 'T';
		put2(buf + 11, s / 3600);
		buf[13] = ':';
		put2(buf + 14, s / 60 % 60);
		buf[16] = ':';
		put2(buf + 17, s % 60);
		memcpy(buf + 19, "Z", 2);
		return;
	}
	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "1970-01-01T00:00:00Z");
}
