/*
 * The connection limit (limits.max_connections): when it is reached, the
 * connection that has been idle longest is closed to make room for the
 * new one, as nginx does with its "reusable" connections
 * (ngx_drain_connections).  Without this, 5,000 connections opened and
 * left idle hold every descriptor until their idle timeout (300 s by
 * default), and dockerd's requests wait in the listen backlog meanwhile.
 *
 * libevent 2.1's evhttp has no hook at accept (2.2 has evhttp_set_newreqcb
 * and a connection limit of its own), so the bookkeeping hangs off the
 * hooks it does have:
 * - evhttp_set_bevcb: fe_conn_bev makes every connection's bufferevent,
 *   so it sees each new connection first.  Its evhttp_connection does not
 *   exist yet; it is the bufferevent's callback argument once evhttp has
 *   set it up, so the entry is "adopted" (evhttp_connection_set_closecb)
 *   right after, at the next fe_conn_bev or from a high-priority event.
 *   Until then the entry holds a reference on the bufferevent, so that
 *   one freed meanwhile (bufferevent_free clears its callbacks) is
 *   recognised instead of read after free;
 * - the close callback: evhttp calls it whenever an incoming connection
 *   goes away (evhttp_connection_free, or _reset_ before it);
 * - fe_conn_request, first thing in each request callback, marks the
 *   connection busy; evhttp_request_set_on_complete_cb marks it idle again
 *   once the reply is written.  A connection whose request we are
 *   handling (waiting for the helper, say) is never closed; one reading a
 *   request counts as idle since it last was.
 * Connections are found by descriptor (unique while open), and idle ones
 * are kept in the order they became idle: eviction takes the list's head.
 *
 * The descriptor limit (RLIMIT_NOFILE, max_connections plus a reserve)
 * and the accept pause in http.c stay as the backstop for the case where
 * every connection is busy.
 */
#include "vw-build.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#include "common/log.h"
#include "frontend/frontend.h"

/* Most bytes handed to one write(2) on a connection. */
#define MAX_SINGLE_WRITE (4 * 1024 * 1024)

enum conn_state { C_NEW, C_IDLE, C_BUSY };

struct conn {
	struct conn			*prev, *next;	/* new list, or idle list */
	struct bufferevent		*bev;
	struct evhttp_connection	*evcon;		/* once adopted */
	int				 fd;
	enum conn_state			 state;
};

struct list {
	struct conn	*head, *tail;
};

static struct {
	struct conn	**byfd;		/* adopted connections by descriptor */
	size_t		  nbyfd;
	struct list	  fresh;	/* not adopted yet */
	struct list	  idle;		/* oldest first */
	size_t		  count;	/* open connections, all sockets */
	size_t		  max;
	uint64_t	  evicted;
	int		  logged;
	struct event	 *adopt_ev;
} cs;

static void
list_add(struct list *l, struct conn *c)
{
	c->next = NULL;
	c->prev = l->tail;
	if (l->tail != NULL)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
}

static void
list_del(struct list *l, struct conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	c->prev = c->next = NULL;
}

/* evhttp is closing an adopted connection. */
static void
conn_closed(struct evhttp_connection *evcon, void *arg)
{
	struct conn *c = arg;

	(void)evcon;
	if (c->state == C_IDLE)
		list_del(&cs.idle, c);
	if (c->fd >= 0 && (size_t)c->fd < cs.nbyfd && cs.byfd[c->fd] == c)
		cs.byfd[c->fd] = NULL;
	cs.count--;
	free(c);
}

/* Learn a new connection's evhttp_connection and descriptor, or drop the
 * entry if evhttp has freed the connection already. */
static void
adopt(struct conn *c)
{
	void (*eventcb)(struct bufferevent *, short, void *) = NULL;
	struct bufferevent *bev = c->bev;
	void *arg = NULL;
	int fd;

	list_del(&cs.fresh, c);
	bufferevent_getcb(bev, NULL, NULL, &eventcb, &arg);
	fd = bufferevent_getfd(bev);
	if (eventcb == NULL || arg == NULL || fd < 0) {
		cs.count--;
		free(c);
	} else {
		if ((size_t)fd >= cs.nbyfd) {
			size_t n = cs.nbyfd ? cs.nbyfd : 1024;
			struct conn **p;

			while (n <= (size_t)fd)
				n *= 2;
			if ((p = realloc(cs.byfd, n * sizeof(*p))) == NULL)
				fatalx("out of memory tracking connections");
			memset(p + cs.nbyfd, 0, (n - cs.nbyfd) * sizeof(*p));
			cs.byfd = p;
			cs.nbyfd = n;
		}
		if (cs.byfd[fd] != NULL) {
			/* evhttp closed that connection without telling us:
			 * forget it, never touch its (freed) connection. */
			struct conn *old = cs.byfd[fd];

			log_warnx("connection on fd %d closed unnoticed", fd);
			if (old->state == C_IDLE)
				list_del(&cs.idle, old);
			cs.count--;
			free(old);
		}
		c->evcon = arg;
		c->fd = fd;
		c->state = C_IDLE;
		cs.byfd[fd] = c;
		list_add(&cs.idle, c);
		evhttp_connection_set_closecb(c->evcon, conn_closed, c);
	}
	/* Drop our reference last: it may free a connection evhttp let go
	 * of, and close its descriptor. */
	bufferevent_decref(bev);
}

static void
adopt_all(void)
{
	while (cs.fresh.head != NULL)
		adopt(cs.fresh.head);
}

/* Close idle connections, oldest first, until at most max are open. */
static void
enforce(void)
{
	while (cs.count > cs.max && cs.idle.head != NULL) {
		struct conn *c = cs.idle.head;

		if (!cs.logged) {
			log_warnx("connection limit (%zu) reached: closing the "
			    "connections idle longest to make room", cs.max);
			cs.logged = 1;
		}
		cs.evicted++;
		/* Calls conn_closed, which frees c. */
		evhttp_connection_free(c->evcon);
	}
}

static void
adopt_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	adopt_all();
	enforce();
}

int
fe_conn_setup(struct vw_fe *fe)
{
	cs.max = fe->cfg->limits.max_connections;
	if ((cs.adopt_ev = event_new(fe->base, -1, 0, adopt_cb, NULL)) == NULL ||
	    event_priority_set(cs.adopt_ev, 0) < 0)
		return -1;
	return 0;
}

struct bufferevent *
fe_conn_bev(struct event_base *base, void *arg)
{
	struct bufferevent *bev;
	struct conn *c;

	(void)arg;
	/* The connections accepted before this one in the same burst are
	 * fully set up by now. */
	adopt_all();
	bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		return NULL;
	/* libevent writes at most 16 KiB per write(2) by default, each after
	 * its own trip through epoll; a List of a few thousand volumes is
	 * some hundred KiB, so let one writev take as much as the socket
	 * does. */
	bufferevent_set_max_single_write(bev, MAX_SINGLE_WRITE);
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warnx("out of memory tracking a connection");
		return bev;	/* served, just not counted */
	}
	c->bev = bev;
	c->fd = -1;
	c->state = C_NEW;
	bufferevent_incref(bev);
	list_add(&cs.fresh, c);
	cs.count++;
	event_active(cs.adopt_ev, EV_TIMEOUT, 0);
	enforce();
	return bev;
}

/* The connection of req, adopted, or NULL. */
static struct conn *
conn_of(struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev;
	struct conn *c;
	int fd;

	if (evcon == NULL ||
	    (bev = evhttp_connection_get_bufferevent(evcon)) == NULL ||
	    (fd = bufferevent_getfd(bev)) < 0)
		return NULL;
	adopt_all();
	c = (size_t)fd < cs.nbyfd ? cs.byfd[fd] : NULL;
	return c != NULL && c->evcon == evcon ? c : NULL;
}

/* The reply has been written: the connection is idle from now on. */
static void
request_done(struct evhttp_request *req, void *arg)
{
	struct conn *c = conn_of(req);

	(void)arg;
	if (c != NULL && c->state == C_BUSY) {
		c->state = C_IDLE;
		list_add(&cs.idle, c);
	}
}

void
fe_conn_request(struct evhttp_request *req)
{
	struct conn *c = conn_of(req);

	if (c == NULL)
		return;
	if (c->state == C_IDLE)
		list_del(&cs.idle, c);
	c->state = C_BUSY;
	evhttp_request_set_on_complete_cb(req, request_done, NULL);
}

size_t
fe_conn_open(void)
{
	return cs.count;
}

uint64_t
fe_conn_evicted(void)
{
	return cs.evicted;
}

void
fe_conn_free(void)
{
	/* evhttp_free has closed every connection (conn_closed); entries
	 * never adopted still hold their bufferevent reference. */
	adopt_all();
	if (cs.adopt_ev != NULL)
		event_free(cs.adopt_ev);
	free(cs.byfd);
	memset(&cs, 0, sizeof(cs));
}
