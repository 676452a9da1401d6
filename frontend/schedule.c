/*
 * Scheduled snapshots of btrfs volumes: the options snapshot_every (a
 * duration) and snapshot_keep (a count, VW_SNAPSHOT_KEEP_DEFAULT when
 * not given).
 *
 * One libevent timer serves every volume.  Each driver keeps a binary
 * min-heap of its scheduled volumes keyed by the time of their next
 * check (CLOCK_MONOTONIC, so wall-clock steps do not bunch or stall
 * them), and the timer is armed for the earliest entry.  A tick pops
 * only the entries that are due, O(log n) each, and starts at most
 * SCHED_RUNNING checks per driver at once, so that the driver's helper
 * keeps answering Docker's requests in between.
 *
 * A check is a chain of the snapshot operations of the admin API
 * (ops.c: fe_snapshot_*), each serialised with the volume's other
 * requests like a Mount:
 *   1. list the volume's snapshots.  Scheduled ones are named
 *      auto-YYYYMMDDTHHMMSSZ (UTC, when taken), so the newest of them
 *      tells when the last was taken: nothing else is stored, and after
 *      a restart (every scheduled volume is checked at start-up) the
 *      schedule goes on where it was;
 *   2. if the last one -- with none, the volume's creation -- is at
 *      least snapshot_every ago, take auto-NOW;
 *   3. delete the oldest auto-* snapshots beyond snapshot_keep.  Other
 *      snapshots (any other name: manual ones, pre-restore-*,
 *      removed-*) are never touched.
 * Then the volume goes back into the heap: snapshot_every after now if
 * a snapshot was due (taken or failed: a failure is retried at the next
 * interval, not sooner), else at the time the next one is due.
 * Failures are logged and counted in /metrics.
 */
#include "vw-build.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "common/log.h"
#include "common/options.h"
#include "frontend/frontend.h"

/* Checks of one driver that may run at once. */
#define SCHED_RUNNING		2
/* "auto-20261201T103000Z" */
#define AUTO_PREFIX		"auto-"
#define AUTO_LEN		21
#define NS			1000000000ull

/* One driver's heap. */
struct sched_drv {
	struct vw_sched_ent	**heap;
	size_t			 n, cap;
	unsigned		 running;
};

struct vw_sched {
	struct vw_fe		*fe;
	struct event		*timer;
	struct sched_drv	*d;		/* one per driver */
};

/* A scheduled snapshot of the volume, by name and time taken. */
struct auto_snap {
	char	name[AUTO_LEN + 1];
	int64_t	t;
};

/* One check in progress. */
struct check {
	struct vw_sched		*s;
	struct vw_sched_ent	*ent;
	struct vw_drv		*drv;
	uint64_t		 every;		/* seconds */
	uint32_t		 keep;
	uint32_t		 offset;	/* list: the next page */
	char			 last_seen[VW_NAME_MAX + 1];
	struct auto_snap	*autos;		/* oldest first */
	size_t			 nauto, cap, pruned;
	uint64_t		 next;		/* seconds to the next check */
	char			 name[VW_NAME_MAX + 1];
	char			 snap[AUTO_LEN + 1];
};

static void sched_arm(struct vw_sched *s);
static void check_list(struct check *c);

/* ---------------------------------------------------------------- heap */

static void
heap_set(struct sched_drv *d, size_t i, struct vw_sched_ent *e)
{
	d->heap[i] = e;
	e->pos = i;
}

static int
heap_push(struct sched_drv *d, struct vw_sched_ent *e)
{
	size_t i;

	if (d->n == d->cap) {
		size_t ncap = d->cap ? d->cap * 2 : 16;
		struct vw_sched_ent **nh = reallocarray(d->heap, ncap,
		    sizeof(*nh));

		if (nh == NULL)
			return -1;
		d->heap = nh;
		d->cap = ncap;
	}
	for (i = d->n++; i > 0 && d->heap[(i - 1) / 2]->due_ns > e->due_ns;
	    i = (i - 1) / 2)
		heap_set(d, i, d->heap[(i - 1) / 2]);
	heap_set(d, i, e);
	return 0;
}

static struct vw_sched_ent *
heap_pop(struct sched_drv *d)
{
	struct vw_sched_ent *top = d->heap[0], *last = d->heap[--d->n];
	size_t i = 0;

	while (d->n > 0) {
		size_t c = 2 * i + 1;

		if (c >= d->n)
			break;
		if (c + 1 < d->n && d->heap[c + 1]->due_ns < d->heap[c]->due_ns)
			c++;
		if (last->due_ns <= d->heap[c]->due_ns)
			break;
		heap_set(d, i, d->heap[c]);
		i = c;
	}
	if (d->n > 0)
		heap_set(d, i, last);
	top->pos = SIZE_MAX;
	return top;
}

/* --------------------------------------------------------------- times */

/* The interval and the count to keep of v (defensively clamped: the
 * option parser enforces the ranges, a replayed state is trusted). */
static uint64_t
every_of(const struct vw_volume *v)
{
	uint64_t e = v->ext->snapshot_every;

	if (e < VW_SNAPSHOT_EVERY_MIN)
		return VW_SNAPSHOT_EVERY_MIN;
	return e > VW_SNAPSHOT_EVERY_MAX ? VW_SNAPSHOT_EVERY_MAX : e;
}

static uint32_t
keep_of(const struct vw_volume *v)
{
	if (!(v->flags & VW_OPT_SNAPSHOT_KEEP) || v->ext->snapshot_keep == 0)
		return VW_SNAPSHOT_KEEP_DEFAULT;
	return v->ext->snapshot_keep;
}

/* The time in an auto-YYYYMMDDTHHMMSSZ name, or -1 for any other name. */
static int64_t
auto_time(const char *name)
{
	struct tm tm;
	int f[6];
	static const int at[6] = { 5, 9, 11, 14, 16, 18 }, w[6] = { 4, 2, 2,
	    2, 2, 2 };

	if (strlen(name) != AUTO_LEN || strncmp(name, AUTO_PREFIX, 5) != 0 ||
	    name[13] != 'T' || name[20] != 'Z')
		return -1;
	for (int i = 0; i < 6; i++) {
		f[i] = 0;
		for (int j = 0; j < w[i]; j++) {
			char ch = name[at[i] + j];

			if (ch < '0' || ch > '9')
				return -1;
			f[i] = f[i] * 10 + (ch - '0');
		}
	}
	if (f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > 31 || f[3] > 23 ||
	    f[4] > 59 || f[5] > 60)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = f[0] - 1900;
	tm.tm_mon = f[1] - 1;
	tm.tm_mday = f[2];
	tm.tm_hour = f[3];
	tm.tm_min = f[4];
	tm.tm_sec = f[5];
	return (int64_t)timegm(&tm);
}

static void
auto_name(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, AUTO_PREFIX "%Y%m%dT%H%M%SZ", &tm) != AUTO_LEN)
		snprintf(buf, len, AUTO_PREFIX "invalid");
}

/* A duration for messages: "90s", "15m", "2h", "1d". */
static void
fmt_every(uint64_t s, char *buf, size_t len)
{
	if (s % 86400 == 0)
		snprintf(buf, len, "%llud", (unsigned long long)(s / 86400));
	else if (s % 3600 == 0)
		snprintf(buf, len, "%lluh", (unsigned long long)(s / 3600));
	else if (s % 60 == 0)
		snprintf(buf, len, "%llum", (unsigned long long)(s / 60));
	else
		snprintf(buf, len, "%llus", (unsigned long long)s);
}

/* --------------------------------------------------------------- checks */

/* The entry's volume, if it is still the one the check started for. */
static struct vw_volume *
check_volume(const struct check *c)
{
	return c->ent->vol;
}

/* The end of a check: back into the heap for the next one, or dropped
 * with its volume. */
static void
check_done(struct check *c)
{
	struct vw_sched *s = c->s;
	struct sched_drv *d = &s->d[c->drv->idx];
	struct vw_sched_ent *e = c->ent;

	d->running--;
	if (e->vol == NULL) {
		free(e);
	} else {
		e->due_ns = fe_now_ns() + c->next * NS;
		if (heap_push(d, e) < 0) {
			log_warnx("volume %s: out of memory rescheduling its "
			    "snapshots; the schedule stops until a restart",
			    c->name);
			e->vol->ext->sched = NULL;
			free(e);
		}
	}
	free(c->autos);
	free(c);
	sched_arm(s);
}

static void prune_next(struct check *c);

static void
prune_done(void *arg, const struct vw_snap_reply *rep)
{
	struct check *c = arg;
	struct auto_snap *a = &c->autos[c->pruned];

	if (rep->err != 0) {
		c->drv->metrics.sched_prune_failed++;
		log_warnx("volume %s: cannot delete the scheduled snapshot %s "
		    "(snapshot_keep %u): %s; trying again at the next check",
		    c->name, a->name, c->keep, rep->msg);
		check_done(c);
		return;
	}
	c->drv->metrics.sched_pruned++;
	log_info("volume %s: scheduled snapshot %s deleted (snapshot_keep %u)",
	    c->name, a->name, c->keep);
	c->pruned++;
	prune_next(c);
}

/* Delete the oldest auto-* snapshots beyond keep, one at a time. */
static void
prune_next(struct check *c)
{
	if (check_volume(c) == NULL || c->nauto - c->pruned <= c->keep) {
		check_done(c);
		return;
	}
	if (fe_snapshot_delete(c->drv, c->name, c->autos[c->pruned].name,
	    prune_done, c) < 0) {
		log_warnx("volume %s: out of memory deleting old scheduled "
		    "snapshots", c->name);
		check_done(c);
	}
}

static int
autos_add(struct check *c, const char *name, int64_t t)
{
	if (c->nauto == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 16;
		struct auto_snap *na = reallocarray(c->autos, ncap, sizeof(*na));

		if (na == NULL)
			return -1;
		c->autos = na;
		c->cap = ncap;
	}
	snprintf(c->autos[c->nauto].name, sizeof(c->autos[0].name), "%s", name);
	c->autos[c->nauto++].t = t;
	return 0;
}

static void
create_done(void *arg, const struct vw_snap_reply *rep)
{
	struct check *c = arg;
	struct vw_volume *v = check_volume(c);
	char ev[32];

	fmt_every(c->every, ev, sizeof(ev));
	if (rep->err != 0) {
		c->drv->metrics.sched_failed++;
		log_warnx("volume %s: the scheduled snapshot %s failed: %s; "
		    "trying again in %s", c->name, c->snap, rep->msg, ev);
		check_done(c);
		return;
	}
	c->drv->metrics.sched_taken++;
	log_info("volume %s: scheduled snapshot %s taken (every %s, keep %u)",
	    c->name, c->snap, ev, c->keep);
	if (v != NULL)
		v->ext->last_snapshot = auto_time(c->snap);
	if (autos_add(c, c->snap, auto_time(c->snap)) < 0) {
		check_done(c);
		return;
	}
	prune_next(c);
}

/* The list is complete: take a snapshot if one is due, then prune. */
static void
check_decide(struct check *c)
{
	struct vw_volume *v = check_volume(c);
	int64_t now = (int64_t)time(NULL), last, due;

	if (v == NULL) {
		check_done(c);
		return;
	}
	last = c->nauto > 0 ? c->autos[c->nauto - 1].t : 0;
	v->ext->last_snapshot = last;
	due = (last > 0 ? last : v->created) + (int64_t)c->every;
	/* A second of slack: the timer and the names have whole seconds. */
	if (now + 1 < due) {
		c->next = (uint64_t)(due - now);
		if (c->next > c->every)		/* the clock went back */
			c->next = c->every;
		prune_next(c);
		return;
	}
	c->next = c->every;
	auto_name(now, c->snap, sizeof(c->snap));
	if (fe_snapshot_create(c->drv, c->name, c->snap, create_done, c) < 0) {
		c->drv->metrics.sched_failed++;
		log_warnx("volume %s: out of memory taking a scheduled snapshot",
		    c->name);
		check_done(c);
	}
}

/* One page of the list: keep the auto-* names (pages come sorted by
 * name, and so by time); ask for the next until the total is reached. */
static void
list_page(void *arg, const struct vw_snap_reply *rep)
{
	struct check *c = arg;

	if (rep->err != 0) {
		/* A volume removed meanwhile is no failure. */
		if (check_volume(c) != NULL) {
			c->drv->metrics.sched_failed++;
			log_warnx("volume %s: cannot list its snapshots for the "
			    "schedule: %s; trying again in %llu s", c->name,
			    rep->msg, (unsigned long long)c->every);
		}
		c->next = c->every;
		check_done(c);
		return;
	}
	for (uint32_t i = 0; i < rep->count; i++) {
		const char *n = rep->entries[i].name;
		int64_t t;

		if (c->last_seen[0] != '\0' && strcmp(n, c->last_seen) <= 0)
			continue;
		snprintf(c->last_seen, sizeof(c->last_seen), "%s", n);
		if ((t = auto_time(n)) >= 0 && autos_add(c, n, t) < 0) {
			log_warnx("volume %s: out of memory listing snapshots",
			    c->name);
			c->next = c->every;
			check_done(c);
			return;
		}
	}
	c->offset += rep->count;
	if (rep->count == 0 || c->offset >= rep->total)
		check_decide(c);
	else
		check_list(c);
}

static void
check_list(struct check *c)
{
	if (fe_snapshot_list(c->drv, c->name, c->offset, list_page, c) < 0) {
		log_warnx("volume %s: out of memory listing snapshots", c->name);
		c->next = c->every;
		check_done(c);
	}
}

/* Start a check of e's volume (e is out of the heap). */
static void
check_start(struct vw_sched *s, struct vw_sched_ent *e)
{
	struct sched_drv *d = &s->d[e->drv->idx];
	struct check *c = calloc(1, sizeof(*c));

	d->running++;
	if (c == NULL) {
		/* Try again later rather than never. */
		log_warnx("volume %s: out of memory for its scheduled snapshot",
		    e->vol->name);
		d->running--;
		e->due_ns = fe_now_ns() + every_of(e->vol) * NS;
		if (heap_push(d, e) < 0) {
			e->vol->ext->sched = NULL;
			free(e);
		}
		return;
	}
	c->s = s;
	c->ent = e;
	c->drv = e->drv;
	c->every = every_of(e->vol);
	c->keep = keep_of(e->vol);
	snprintf(c->name, sizeof(c->name), "%s", e->vol->name);
	check_list(c);	/* may finish before it returns */
}

/* ---------------------------------------------------------------- timer */

static void
sched_tick(evutil_socket_t fd, short what, void *arg)
{
	struct vw_sched *s = arg;
	uint64_t now = fe_now_ns();

	(void)fd;
	(void)what;
	if (s->fe->stopping)
		return;		/* no new check while the daemon stops */
	for (size_t i = 0; i < s->fe->ndrv; i++) {
		struct sched_drv *d = &s->d[i];

		while (d->n > 0 && d->heap[0]->due_ns <= now &&
		    d->running < SCHED_RUNNING) {
			struct vw_sched_ent *e = heap_pop(d);

			if (e->vol == NULL)
				free(e);	/* its volume was removed */
			else
				check_start(s, e);
		}
	}
	sched_arm(s);
}

/* Arm the timer for the earliest entry of a driver that may start a
 * check; O(drivers). */
static void
sched_arm(struct vw_sched *s)
{
	uint64_t now = fe_now_ns(), first = UINT64_MAX, wait;
	struct timeval tv;

	for (size_t i = 0; i < s->fe->ndrv; i++) {
		struct sched_drv *d = &s->d[i];

		if (d->n > 0 && d->running < SCHED_RUNNING &&
		    d->heap[0]->due_ns < first)
			first = d->heap[0]->due_ns;
	}
	if (first == UINT64_MAX) {
		(void)evtimer_del(s->timer);
		return;
	}
	wait = first > now ? first - now : 0;
	tv.tv_sec = (time_t)(wait / NS);
	tv.tv_usec = (suseconds_t)(wait % NS / 1000);
	if (evtimer_add(s->timer, &tv) < 0)
		log_warnx("cannot arm the snapshot schedule's timer");
}

/* ------------------------------------------------------------------ API */

/* Schedule v for a check in delay seconds. */
static void
sched_put(struct vw_sched *s, struct vw_drv *drv, struct vw_volume *v,
    uint64_t delay)
{
	struct vw_sched_ent *e;

	if (s == NULL || drv->d->backend != VW_BACKEND_BTRFS ||
	    !(v->flags & VW_OPT_SNAPSHOT_EVERY) || v->ext == NULL ||
	    v->ext->sched != NULL)
		return;
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		log_warnx("volume %s: out of memory scheduling its snapshots",
		    v->name);
		return;
	}
	e->vol = v;
	e->drv = drv;
	e->due_ns = fe_now_ns() + delay * NS;
	if (heap_push(&s->d[drv->idx], e) < 0) {
		log_warnx("volume %s: out of memory scheduling its snapshots",
		    v->name);
		free(e);
		return;
	}
	v->ext->sched = e;
}

void
fe_sched_add(struct vw_drv *drv, struct vw_volume *v)
{
	struct vw_sched *s = drv->fe->sched;

	if (v == NULL || !(v->flags & VW_OPT_SNAPSHOT_EVERY) || v->ext == NULL)
		return;
	sched_put(s, drv, v, every_of(v));
	if (s != NULL)
		sched_arm(s);
}

struct start_arg {
	struct vw_sched	*s;
	struct vw_drv	*drv;
	size_t		 n;
};

static int
start_one(void *arg, struct vw_volume *v)
{
	struct start_arg *sa = arg;

	if ((v->flags & VW_OPT_SNAPSHOT_EVERY) && v->ext != NULL) {
		sched_put(sa->s, sa->drv, v, 0);
		sa->n++;
	}
	return 0;
}

int
fe_sched_start(struct vw_fe *fe, char *err, size_t errlen)
{
	struct vw_sched *s = calloc(1, sizeof(*s));

	if (s == NULL || (s->d = calloc(fe->ndrv + 1, sizeof(*s->d))) == NULL ||
	    (s->timer = evtimer_new(fe->base, sched_tick, s)) == NULL) {
		if (s != NULL)
			free(s->d);
		free(s);
		snprintf(err, errlen, "out of memory setting up the snapshot "
		    "schedule");
		return -1;
	}
	s->fe = fe;
	fe->sched = s;
	for (size_t i = 0; i < fe->ndrv; i++) {
		struct start_arg sa = { s, &fe->drv[i], 0 };

		if (fe->drv[i].d->backend != VW_BACKEND_BTRFS)
			continue;
		vw_registry_each(&fe->drv[i].reg, start_one, &sa);
		if (sa.n > 0)
			log_info("driver %s: %zu volume%s with scheduled "
			    "snapshots", fe->drv[i].d->name, sa.n,
			    sa.n == 1 ? "" : "s");
	}
	sched_arm(s);
	return 0;
}

void
fe_sched_status(const struct vw_volume *v,
    void (*fn)(void *arg, const char *key, const char *value), void *arg)
{
	const struct vw_sched_ent *e;
	char ts[32];

	if (v->ext == NULL || !(v->flags & VW_OPT_SNAPSHOT_EVERY))
		return;
	e = v->ext->sched;
	if (e != NULL && e->pos != SIZE_MAX) {
		uint64_t now = fe_now_ns();
		int64_t next = (int64_t)time(NULL) + (int64_t)(e->due_ns > now ?
		    (e->due_ns - now + NS - 1) / NS : 0);

		fe_rfc3339(next, ts, sizeof(ts));
		fn(arg, "snapshot_next", ts);
	}
	if (v->ext->last_snapshot > 0) {
		fe_rfc3339(v->ext->last_snapshot, ts, sizeof(ts));
		fn(arg, "snapshot_last", ts);
	}
}

size_t
fe_sched_count(const struct vw_fe *fe, size_t drv)
{
	const struct sched_drv *d;
	size_t n = 0;

	if (fe->sched == NULL || drv >= fe->ndrv)
		return 0;
	d = &fe->sched->d[drv];
	for (size_t i = 0; i < d->n; i++)
		if (d->heap[i]->vol != NULL)
			n++;
	return n + d->running;
}

void
fe_sched_stop(struct vw_fe *fe)
{
	struct vw_sched *s = fe->sched;

	if (s == NULL)
		return;
	for (size_t i = 0; i < fe->ndrv; i++) {
		for (size_t j = 0; j < s->d[i].n; j++) {
			if (s->d[i].heap[j]->vol != NULL)
				s->d[i].heap[j]->vol->ext->sched = NULL;
			free(s->d[i].heap[j]);
		}
		free(s->d[i].heap);
	}
	event_free(s->timer);
	free(s->d);
	free(s);
	fe->sched = NULL;
}
