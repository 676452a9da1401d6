/*
 * Request metrics and their Prometheus text rendering (GET /metrics on the
 * admin socket).
 *
 * Counting happens in the request path, so it is a few additions into
 * fixed arrays of the driver (struct vw_metrics): no allocation, no
 * locking (one thread), no syscall beyond the clock read that is a vDSO
 * call.  Rendering walks the arrays and the registries when scraped.
 * The text format is Prometheus' exposition format 0.0.4: HELP and TYPE
 * lines, then one sample per line; histograms have cumulative _bucket
 * samples with an le label, then _sum (seconds) and _count.
 */
#include "vw-build.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "frontend/frontend.h"

/*
 * Bucket upper bounds in nanoseconds, and as Prometheus writes them.
 * From 100 us (an answer from memory) to dockerd's timeouts: 60 s for
 * most calls, 120 s for Create and Mount.
 */
static const uint64_t bucket_ns[VW_HIST_BUCKETS] = {
	100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
	25000000, 50000000, 100000000, 250000000, 500000000, 1000000000,
	2500000000, 5000000000, 10000000000, 30000000000, 60000000000,
	120000000000,
};
static const char *const bucket_le[VW_HIST_BUCKETS] = {
	"0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01",
	"0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30",
	"60", "120",
};

/* Helper operations, indexed by message type - VW_MSG_VOLUME_CREATE. */
static const char *const helper_ops[VW_HELPER_OPS] = {
	"create", "remove", "mount", "unmount", "snapshot_create",
	"snapshot_list", "snapshot_delete", "snapshot_restore", "status",
	"resize", "scan",
};
_Static_assert(VW_MSG_VOLUME_SCAN - VW_MSG_VOLUME_CREATE + 1 ==
    VW_HELPER_OPS, "helper_ops covers the volume message types");

uint64_t
fe_now_ns(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail with a valid pointer. */
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
observe(struct vw_hist *h, uint64_t ns)
{
	size_t i;

	for (i = 0; i < VW_HIST_BUCKETS && ns > bucket_ns[i]; i++)
		;
	h->count[i]++;
	h->sum_ns += ns;
}

void
fe_metrics_request(const struct vw_call *c, int error)
{
	struct vw_metrics *m = &c->drv->metrics;
	enum vw_ep ep = c->ep < VW_EP_COUNT ? c->ep : VW_EP_UNKNOWN;

	m->requests[ep]++;
	if (error)
		m->errors[ep]++;
	observe(&m->latency[ep], fe_now_ns() - c->t0);
}

void
fe_metrics_helper(struct vw_drv *drv, uint32_t type, uint64_t ns)
{
	if (type < VW_MSG_VOLUME_CREATE ||
	    type - VW_MSG_VOLUME_CREATE >= VW_HELPER_OPS)
		return;
	observe(&drv->metrics.helper[type - VW_MSG_VOLUME_CREATE], ns);
}

/*
 * Label values need escaping of '\', '"' and newlines in general; driver
 * names follow the volume name rule ([a-zA-Z0-9][a-zA-Z0-9_.-]+) and
 * endpoint and op names are ours, so none can occur here.
 */
static int
render_hist(struct evbuffer *out, const char *name, const char *labels,
    const struct vw_hist *h)
{
	uint64_t cum = 0;

	for (size_t i = 0; i < VW_HIST_BUCKETS; i++) {
		cum += h->count[i];
		if (evbuffer_add_printf(out, "%s_bucket{%s,le=\"%s\"} %" PRIu64
		    "\n", name, labels, bucket_le[i], cum) < 0)
			return -1;
	}
	cum += h->count[VW_HIST_BUCKETS];
	if (evbuffer_add_printf(out, "%s_bucket{%s,le=\"+Inf\"} %" PRIu64 "\n"
	    "%s_sum{%s} %" PRIu64 ".%09" PRIu64 "\n"
	    "%s_count{%s} %" PRIu64 "\n", name, labels, cum,
	    name, labels, h->sum_ns / 1000000000u, h->sum_ns % 1000000000u,
	    name, labels, cum) < 0)
		return -1;
	return 0;
}

static int
header(struct evbuffer *out, const char *name, const char *type,
    const char *help)
{
	return evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name,
	    help, name, type) < 0 ? -1 : 0;
}

/* The snapshot schedule (schedule.c): one counter per driver each. */
static int
render_sched(struct vw_fe *fe, struct evbuffer *out)
{
	static const struct {
		const char	*name, *help;
		size_t		 off;
	} c[] = {
		{ "volwarden_scheduled_snapshots_total", "Scheduled snapshots "
		    "(auto-*) taken.", offsetof(struct vw_metrics, sched_taken) },
		{ "volwarden_scheduled_snapshot_failures_total", "Scheduled "
		    "snapshots that failed, or checks that could not list the "
		    "volume's snapshots (retried at the next interval).",
		    offsetof(struct vw_metrics, sched_failed) },
		{ "volwarden_scheduled_snapshots_pruned_total", "Scheduled "
		    "snapshots deleted because more than snapshot_keep existed.",
		    offsetof(struct vw_metrics, sched_pruned) },
		{ "volwarden_scheduled_prune_failures_total", "Deletions of old "
		    "scheduled snapshots that failed.",
		    offsetof(struct vw_metrics, sched_prune_failed) },
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		if (header(out, c[i].name, "counter", c[i].help) < 0)
			return -1;
		for (size_t d = 0; d < fe->ndrv; d++) {
			uint64_t v;

			memcpy(&v, (const char *)&fe->drv[d].metrics + c[i].off,
			    sizeof(v));
			if (evbuffer_add_printf(out, "%s{driver=\"%s\"} %" PRIu64
			    "\n", c[i].name, fe->drv[d].d->name, v) < 0)
				return -1;
		}
	}
	if (header(out, "volwarden_scheduled_volumes", "gauge",
	    "Volumes with scheduled snapshots (snapshot_every).") < 0)
		return -1;
	for (size_t d = 0; d < fe->ndrv; d++)
		if (evbuffer_add_printf(out, "volwarden_scheduled_volumes{driver="
		    "\"%s\"} %zu\n", fe->drv[d].d->name,
		    fe_sched_count(fe, d)) < 0)
			return -1;
	return 0;
}

int
fe_metrics_render(struct vw_fe *fe, struct evbuffer *out)
{
	char labels[512];

	if (header(out, "volwarden_requests_total", "counter",
	    "Requests answered on a driver socket, by Docker endpoint.") < 0)
		return -1;
	for (size_t d = 0; d < fe->ndrv; d++)
		for (int e = 0; e < VW_EP_COUNT; e++)
			if (evbuffer_add_printf(out, "volwarden_requests_total{"
			    "driver=\"%s\",endpoint=\"%s\"} %" PRIu64 "\n",
			    fe->drv[d].d->name, fe_ep_name((enum vw_ep)e),
			    fe->drv[d].metrics.requests[e]) < 0)
				return -1;

	if (header(out, "volwarden_errors_total", "counter",
	    "Requests answered with an error (an Err message or an HTTP "
	    "error status), by Docker endpoint.") < 0)
		return -1;
	for (size_t d = 0; d < fe->ndrv; d++)
		for (int e = 0; e < VW_EP_COUNT; e++)
			if (evbuffer_add_printf(out, "volwarden_errors_total{"
			    "driver=\"%s\",endpoint=\"%s\"} %" PRIu64 "\n",
			    fe->drv[d].d->name, fe_ep_name((enum vw_ep)e),
			    fe->drv[d].metrics.errors[e]) < 0)
				return -1;

	if (header(out, "volwarden_request_duration_seconds", "histogram",
	    "Time from a request's arrival to its reply, by Docker "
	    "endpoint.") < 0)
		return -1;
	for (size_t d = 0; d < fe->ndrv; d++) {
		for (int e = 0; e < VW_EP_COUNT; e++) {
			snprintf(labels, sizeof(labels), "driver=\"%s\","
			    "endpoint=\"%s\"", fe->drv[d].d->name,
			    fe_ep_name((enum vw_ep)e));
			if (render_hist(out, "volwarden_request_duration_seconds",
			    labels, &fe->drv[d].metrics.latency[e]) < 0)
				return -1;
		}
	}

	if (header(out, "volwarden_helper_roundtrip_seconds", "histogram",
	    "Time from sending a request to the privileged helper to its "
	    "reply, by operation.") < 0)
		return -1;
	for (size_t d = 0; d < fe->ndrv; d++) {
		for (int o = 0; o < VW_HELPER_OPS; o++) {
			snprintf(labels, sizeof(labels), "driver=\"%s\",op=\"%s\"",
			    fe->drv[d].d->name, helper_ops[o]);
			if (render_hist(out, "volwarden_helper_roundtrip_seconds",
			    labels, &fe->drv[d].metrics.helper[o]) < 0)
				return -1;
		}
	}

	if (header(out, "volwarden_volumes", "gauge",
	    "Volumes the driver knows.") < 0)
		return -1;
	for (size_t d = 0; d < fe->ndrv; d++)
		if (evbuffer_add_printf(out, "volwarden_volumes{driver=\"%s\"} "
		    "%zu\n", fe->drv[d].d->name, fe->drv[d].reg.count) < 0)
			return -1;

	if (header(out, "volwarden_mounts_in_use", "gauge",
	    "Volumes with at least one mount reference (a container uses "
	    "them).") < 0)
		return -1;
	for (size_t d = 0; d < fe->ndrv; d++)
		if (evbuffer_add_printf(out, "volwarden_mounts_in_use{driver="
		    "\"%s\"} %zu\n", fe->drv[d].d->name,
		    fe->drv[d].reg.nmounted) < 0)
			return -1;

	if (render_sched(fe, out) < 0)
		return -1;

	if (header(out, "volwarden_connections", "gauge",
	    "Connections open on every socket (limits.max_connections).") < 0 ||
	    evbuffer_add_printf(out, "volwarden_connections %zu\n",
	    fe_conn_open()) < 0 ||
	    header(out, "volwarden_connections_evicted_total", "counter",
	    "Idle connections closed to stay within "
	    "limits.max_connections.") < 0 ||
	    evbuffer_add_printf(out, "volwarden_connections_evicted_total %"
	    PRIu64 "\n", fe_conn_evicted()) < 0)
		return -1;

	if (header(out, "volwarden_start_time_seconds", "gauge",
	    "When the frontend started, in seconds since the Unix "
	    "epoch.") < 0 ||
	    evbuffer_add_printf(out, "volwarden_start_time_seconds %" PRId64
	    "\n", fe->started) < 0)
		return -1;
	return 0;
}
