/*
 * Deadlines of the state-changing requests (limits.helper_timeout).
 *
 * The helper serves one request at a time: a hung file system, or any
 * operation that takes minutes, would otherwise keep every later request
 * of its driver waiting until dockerd gives up on its own (1 or 2
 * minutes, with a message that says nothing).  Every op gets a deadline
 * when it arrives; at the deadline ops.c answers it with an error that
 * says what happened, and carries on without a client (see
 * fe_op_timed_out in ops.c for what a late helper reply then does).
 *
 * Every deadline of a driver has the same length, so they expire in the
 * order they were armed: a list in that order and one timer per driver,
 * set for the head, are enough.  Arming and cancelling are O(1).
 */
#include "vw-build.h"

#include <stdlib.h>

#include <event2/event.h>

#include "common/log.h"
#include "frontend/frontend.h"

struct vw_deadlines {
	struct vw_deadline	*head, *tail;
	struct event		*timer;
	uint64_t		 len_ns;
};

static void
rearm(struct vw_drv *drv)
{
	struct vw_deadlines *dl = drv->deadlines;
	uint64_t now = fe_now_ns(), wait;
	struct timeval tv;

	if (dl->head == NULL) {
		evtimer_del(dl->timer);
		return;
	}
	wait = dl->head->expires > now ? dl->head->expires - now : 0;
	tv.tv_sec = (time_t)(wait / 1000000000u);
	tv.tv_usec = (suseconds_t)(wait % 1000000000u / 1000u) + 1;
	if (evtimer_add(dl->timer, &tv) < 0)
		fatalx("cannot set the request timer of driver %s", drv->d->name);
}

static void
unlink_dl(struct vw_deadlines *dl, struct vw_deadline *d)
{
	if (d->prev != NULL)
		d->prev->next = d->next;
	else
		dl->head = d->next;
	if (d->next != NULL)
		d->next->prev = d->prev;
	else
		dl->tail = d->prev;
	d->prev = d->next = NULL;
	d->armed = 0;
}

static void
expire(evutil_socket_t fd, short what, void *arg)
{
	struct vw_drv *drv = arg;
	struct vw_deadlines *dl = drv->deadlines;
	uint64_t now = fe_now_ns();
	struct vw_deadline *d;

	(void)fd;
	(void)what;
	/* A callback may cancel or arm others: take one at a time. */
	while ((d = dl->head) != NULL && d->expires <= now) {
		unlink_dl(dl, d);
		d->fn(d);
	}
	rearm(drv);
}

int
fe_deadline_setup(struct vw_drv *drv)
{
	struct vw_deadlines *dl = calloc(1, sizeof(*dl));

	if (dl == NULL)
		return -1;
	dl->len_ns = (uint64_t)drv->fe->cfg->limits.helper_timeout * 1000000000u;
	if ((dl->timer = evtimer_new(drv->fe->base, expire, drv)) == NULL) {
		free(dl);
		return -1;
	}
	drv->deadlines = dl;
	return 0;
}

void
fe_deadline_arm(struct vw_drv *drv, struct vw_deadline *d,
    void (*fn)(struct vw_deadline *))
{
	struct vw_deadlines *dl = drv->deadlines;

	if (d->armed)
		fe_deadline_cancel(drv, d);
	d->fn = fn;
	d->expires = fe_now_ns() + dl->len_ns;
	d->next = NULL;
	d->prev = dl->tail;
	if (dl->tail != NULL)
		dl->tail->next = d;
	else
		dl->head = d;
	dl->tail = d;
	d->armed = 1;
	if (dl->head == d)
		rearm(drv);
}

void
fe_deadline_cancel(struct vw_drv *drv, struct vw_deadline *d)
{
	struct vw_deadlines *dl = drv->deadlines;
	int was_head;

	if (!d->armed)
		return;
	was_head = dl->head == d;
	unlink_dl(dl, d);
	if (was_head)
		rearm(drv);
}

void
fe_deadline_free(struct vw_drv *drv)
{
	struct vw_deadlines *dl = drv->deadlines;

	if (dl == NULL)
		return;
	event_free(dl->timer);
	free(dl);
	drv->deadlines = NULL;
}
