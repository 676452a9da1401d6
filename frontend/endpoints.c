/*
 * The nine endpoints of Docker's VolumeDriver protocol
 * (docs/docker-volume-protocol.md).  Activate, Capabilities, Get, List and
 * Path are answered from memory and never wait for a backend: dockerd has
 * no timeout on Activate, and a failed Get makes it forget a volume.
 * Create, Remove, Mount and Unmount go through ops.c.
 */
#include "vw-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "common/log.h"
#include "common/validate.h"
#include "frontend/frontend.h"

#define LIT(s) (s), sizeof(s) - 1

#define OUT_LIT(o, s) fe_out_raw((o), LIT(s))

struct opt_out {
	struct fe_out	*o;
	int		 n;
};

/* One key of the options map, with a comma after the first. */
static void
out_opt(void *arg, const char *key, const char *value)
{
	struct opt_out *oo = arg;

	if (oo->n++ > 0)
		OUT_LIT(oo->o, ",");
	fe_out_cstr(oo->o, key);
	OUT_LIT(oo->o, ":");
	fe_out_cstr(oo->o, value);
}

/* The Status map of Get: driver facts, the options given at Create, and
 * what the backend last said about the volume (fe_status_out). */
static void
out_status(struct fe_out *o, struct vw_drv *drv, struct vw_volume *v)
{
	struct opt_out oo = { o, 0 };
	char num[32];

	OUT_LIT(o, "{\"driver\":");
	fe_out_cstr(o, drv->d->name);
	OUT_LIT(o, ",\"backend\":");
	fe_out_cstr(o, vw_backend_name(drv->d->backend));
	OUT_LIT(o, ",\"on_remove\":");
	fe_out_cstr(o, vw_on_remove_name(drv->d->on_remove));
	fe_out_raw(o, num, (size_t)snprintf(num, sizeof(num), ",\"mounts\":%u",
	    v->total));
	OUT_LIT(o, ",\"options\":{");
	vw_volume_each_opt(v, out_opt, &oo);
	OUT_LIT(o, "}");
	fe_status_out(o, drv, v);
	OUT_LIT(o, "}");
}

static void
ep_get(const struct vw_call *c, struct vw_volume *v)
{
	struct fe_out o;
	char ts[32];

	fe_rfc3339(v->created, ts, sizeof(ts));
	fe_out_init(&o, c);
	OUT_LIT(&o, "{\"Volume\":{\"Name\":");
	fe_out_cstr(&o, v->name);
	OUT_LIT(&o, ",\"Mountpoint\":");
	fe_out_cstr(&o, v->path);
	OUT_LIT(&o, ",\"CreatedAt\":");
	fe_out_cstr(&o, ts);
	OUT_LIT(&o, ",\"Status\":");
	out_status(&o, c->drv, v);
	OUT_LIT(&o, "},\"Err\":\"\"}");
	fe_out_send(&o, 200);
}

/*
 * The List reply is kept between requests: dockerd lists often and
 * volumes change rarely, and building it is linear in their number.  It
 * is rebuilt when the registry's generation moves on, and sent by
 * reference (evbuffer_add_reference), so a reply still being written
 * keeps its copy alive while a newer one is built.
 */
struct vw_list_cache {
	unsigned	 refs;		/* the driver's, and one per reply */
	uint64_t	 gen;		/* registry generation it shows */
	size_t		 len;
	char		*body;
};

static void
list_unref(struct vw_list_cache *lc)
{
	if (lc != NULL && --lc->refs == 0) {
		free(lc->body);
		free(lc);
	}
}

static void
list_cleanup(const void *data, size_t len, void *arg)
{
	(void)data;
	(void)len;
	list_unref(arg);
}

void
fe_list_forget(struct vw_drv *drv)
{
	list_unref(drv->list);
	drv->list = NULL;
}

struct list_ctx {
	struct fe_out	o;
	int		first;
};

static int
list_one(void *arg, struct vw_volume *v)
{
	struct list_ctx *lx = arg;
	struct fe_out *o = &lx->o;
	char ts[32];

	fe_rfc3339(v->created, ts, sizeof(ts));
	if (!lx->first)
		OUT_LIT(o, ",");
	lx->first = 0;
	OUT_LIT(o, "{\"Name\":");
	fe_out_cstr(o, v->name);
	OUT_LIT(o, ",\"Mountpoint\":");
	fe_out_cstr(o, v->path);
	OUT_LIT(o, ",\"CreatedAt\":");
	fe_out_cstr(o, ts);
	OUT_LIT(o, "}");
	return o->err;
}

static struct vw_list_cache *
list_build(struct vw_drv *drv)
{
	struct vw_list_cache *lc = calloc(1, sizeof(*lc));
	struct list_ctx lx;

	if (lc == NULL)
		return NULL;
	fe_out_init(&lx.o, NULL);
	lx.first = 1;
	OUT_LIT(&lx.o, "{\"Volumes\":[");
	vw_registry_each(&drv->reg, list_one, &lx);
	OUT_LIT(&lx.o, "],\"Err\":\"\"}\n");
	if (lx.o.err) {
		free(lx.o.p);
		free(lc);
		return NULL;
	}
	lc->body = lx.o.p;
	lc->len = lx.o.len;
	lc->gen = drv->reg.gen;
	lc->refs = 1;
	return lc;
}

/* The cached body goes out by reference, past fe_out: count it here. */
static void
ep_list(const struct vw_call *c)
{
	struct vw_drv *drv = c->drv;
	struct vw_list_cache *lc = drv->list;
	struct evbuffer *out = evhttp_request_get_output_buffer(c->req);

	if (lc == NULL || lc->gen != drv->reg.gen) {
		fe_list_forget(drv);
		if ((lc = drv->list = list_build(drv)) == NULL) {
			fe_reply_err(c, 500, "out of memory");
			return;
		}
	}
	lc->refs++;
	if (evbuffer_add_reference(out, lc->body, lc->len, list_cleanup,
	    lc) < 0) {
		lc->refs--;
		fe_reply_err(c, 500, "out of memory");
		return;
	}
	evhttp_send_reply(c->req, 200, "OK", NULL);
	fe_metrics_request(c, 0);
}

static void
ep_path(const struct vw_call *c, struct vw_volume *v)
{
	struct fe_out o;

	/* The mountpoint only while mounted (protocol doc 6.7). */
	fe_out_init(&o, c);
	OUT_LIT(&o, "{\"Mountpoint\":");
	fe_out_cstr(&o, v->total > 0 ? v->path : "");
	OUT_LIT(&o, ",\"Err\":\"\"}");
	fe_out_send(&o, 200);
}

/* Indexed by enum vw_ep; the URI is "/" and the name. */
static const char *const ep_names[VW_EP_COUNT] = {
	[VW_EP_ACTIVATE] =	"Plugin.Activate",
	[VW_EP_CAPABILITIES] =	"VolumeDriver.Capabilities",
	[VW_EP_CREATE] =	"VolumeDriver.Create",
	[VW_EP_REMOVE] =	"VolumeDriver.Remove",
	[VW_EP_MOUNT] =		"VolumeDriver.Mount",
	[VW_EP_UNMOUNT] =	"VolumeDriver.Unmount",
	[VW_EP_GET] =		"VolumeDriver.Get",
	[VW_EP_LIST] =		"VolumeDriver.List",
	[VW_EP_PATH] =		"VolumeDriver.Path",
	[VW_EP_UNKNOWN] =	"unknown",
};

const char *
fe_ep_name(enum vw_ep ep)
{
	return ep < VW_EP_COUNT ? ep_names[ep] : "unknown";
}

/* Copy at most outlen - 4 bytes of an untrusted name for a message,
 * with non-printable bytes shown as '?' and "..." when cut. */
static void
printable(const char *s, size_t len, char *out, size_t outlen)
{
	size_t i, n = 0;

	for (i = 0; s != NULL && i < len && n + 4 < outlen; i++)
		out[n++] = (unsigned char)s[i] >= 0x20 &&
		    (unsigned char)s[i] < 0x7f ? s[i] : '?';
	if (s != NULL && i < len) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
}

/* A printable mount ID of at most VW_MOUNT_ID_MAX bytes. */
static int
mount_id_valid(const char *id, size_t len)
{
	if (id == NULL || len == 0 || len > VW_MOUNT_ID_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)id[i] <= 0x20 || (unsigned char)id[i] >= 0x7f)
			return 0;
	return 1;
}

void
fe_create_submit(const struct vw_call *c, struct vw_dreq *dreq)
{
	struct vw_volume_opts *opts = calloc(1, sizeof(*opts));
	char err[1024];

	if (opts == NULL) {
		fe_reply_err(c, 500, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < dreq->nopts; i++) {
		if (vw_opt_parse_backend(c->drv->d->backend, dreq->opts[i].key,
		    dreq->opts[i].key_len, dreq->opts[i].value,
		    dreq->opts[i].value_len, opts, err, sizeof(err)) < 0) {
			fe_reply_err(c, 200, "volume %s: %s", dreq->name, err);
			goto out;
		}
	}
	if (vw_opts_check_backend(c->drv->d->backend, opts, err,
	    sizeof(err)) < 0) {
		fe_reply_err(c, 200, "volume %s: %s", dreq->name, err);
		goto out;
	}
	fe_op_submit(c, VW_OP_CREATE, dreq, opts);
	free(opts);
	return;		/* dreq now belongs to the op */
out:
	free(opts);
	vw_dreq_free(dreq);
}

void
fe_http_dispatch(struct evhttp_request *req, void *arg)
{
	struct vw_call call = { req, arg, VW_EP_UNKNOWN, fe_now_ns(), NULL, NULL };
	const struct vw_call *c = &call;
	struct vw_drv *drv = call.drv;
	const char *uri = evhttp_request_get_uri(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct vw_dreq dreq;
	struct vw_volume *v;
	char err[1024];
	size_t len;
	const char *body;

	if (uri[0] == '/') {
		for (int i = 0; i < VW_EP_UNKNOWN; i++)
			if (strcmp(uri + 1, ep_names[i]) == 0)
				call.ep = (enum vw_ep)i;
	}
	log_debug("driver %s: %s", drv->d->name, uri);
	switch (call.ep) {
	case VW_EP_UNKNOWN:
		fe_reply_err(c, 404, "unknown endpoint %.100s: volwarden "
		    "implements Plugin.Activate and VolumeDriver.{Create, Remove, "
		    "Mount, Unmount, Get, List, Path, Capabilities}", uri);
		return;
	case VW_EP_ACTIVATE:
		fe_reply_json(c, 200, LIT("{\"Implements\":[\"VolumeDriver\"]}"));
		return;
	case VW_EP_CAPABILITIES: {
		struct fe_out o;

		fe_out_init(&o, c);
		OUT_LIT(&o, "{\"Capabilities\":{\"Scope\":");
		fe_out_cstr(&o, fe_scope(drv));
		OUT_LIT(&o, "}}");
		fe_out_send(&o, 200);
		return;
	}
	case VW_EP_LIST:
		fe_gluster_list_hint(drv);
		ep_list(c);
		return;
	default:
		break;
	}

	len = evbuffer_get_length(in);
	body = len > 0 ? (const char *)evbuffer_pullup(in, (ssize_t)len) : "";
	if (vw_dreq_parse(body, len, &dreq, err, sizeof(err)) < 0) {
		fe_reply_err(c, 400, "%s: %s", uri + 1, err);
		return;
	}
	if (vw_name_valid(dreq.name, dreq.name_len, err, sizeof(err)) < 0) {
		char shown[72];

		printable(dreq.name, dreq.name_len, shown, sizeof(shown));
		fe_reply_err(c, 200, "volume \"%s\": %s; choose a name like "
		    "\"data1\" or \"app_db\"", shown, err);
		goto out;
	}
	if ((call.ep == VW_EP_MOUNT || call.ep == VW_EP_UNMOUNT) &&
	    !mount_id_valid(dreq.id, dreq.id_len)) {
		fe_reply_err(c, 200, "volume %s: the request has no valid mount "
		    "ID (\"ID\": 1 to %d printable characters)", dreq.name,
		    VW_MOUNT_ID_MAX);
		goto out;
	}
	switch (call.ep) {
	case VW_EP_GET:
	case VW_EP_PATH:
		if ((v = vw_registry_get(&drv->reg, dreq.name)) == NULL) {
			fe_reply_err(c, 200, "volume %s does not exist in driver "
			    "%s", dreq.name, drv->d->name);
			goto out;
		}
		if (call.ep == VW_EP_GET)
			ep_get(c, v);
		else
			ep_path(c, v);
		goto out;
	case VW_EP_CREATE:
		fe_create_submit(c, &dreq);
		break;
	case VW_EP_REMOVE:
		fe_op_submit(c, VW_OP_REMOVE, &dreq, NULL);
		break;
	case VW_EP_MOUNT:
		fe_op_submit(c, VW_OP_MOUNT, &dreq, NULL);
		break;
	case VW_EP_UNMOUNT:
		fe_op_submit(c, VW_OP_UNMOUNT, &dreq, NULL);
		break;
	default:
		break;
	}
	return;		/* dreq now belongs to the op */
out:
	vw_dreq_free(&dreq);
}
