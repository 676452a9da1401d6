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
#include <yajl/yajl_gen.h>

#include "common/log.h"
#include "common/validate.h"
#include "frontend/frontend.h"

#define LIT(s) (s), sizeof(s) - 1
#define GSTR(g, s) yajl_gen_string((g), (const unsigned char *)(s), strlen(s))

static void
reply_gen(const struct vw_call *c, yajl_gen g)
{
	const unsigned char *out;
	size_t len;

	if (yajl_gen_get_buf(g, &out, &len) != yajl_gen_status_ok)
		fe_reply_err(c, 500, "cannot encode the reply");
	else
		fe_reply_json(c, 200, (const char *)out, len);
	yajl_gen_free(g);
}

void
fe_gen_options(struct yajl_gen_t *g, const struct vw_volume *v)
{
	char num[32];

	yajl_gen_map_open(g);
	if (v->mountpoint_opt != NULL) {
		GSTR(g, "mountpoint");
		GSTR(g, v->mountpoint_opt);
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

/* The Status map of Get: driver facts and the options given at Create. */
static void
gen_status(yajl_gen g, struct vw_drv *drv, const struct vw_volume *v)
{
	yajl_gen_map_open(g);
	GSTR(g, "driver");
	GSTR(g, drv->d->name);
	GSTR(g, "backend");
	GSTR(g, vw_backend_name(drv->d->backend));
	GSTR(g, "on_remove");
	GSTR(g, vw_on_remove_name(drv->d->on_remove));
	GSTR(g, "mounts");
	yajl_gen_integer(g, v->total);
	GSTR(g, "options");
	fe_gen_options(g, v);
	yajl_gen_map_close(g);
}

static void
ep_get(const struct vw_call *c, struct vw_volume *v)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	char ts[32];

	if (g == NULL) {
		fe_reply_err(c, 500, "out of memory");
		return;
	}
	fe_rfc3339(v->created, ts, sizeof(ts));
	yajl_gen_map_open(g);
	GSTR(g, "Volume");
	yajl_gen_map_open(g);
	GSTR(g, "Name");
	GSTR(g, v->name);
	GSTR(g, "Mountpoint");
	GSTR(g, v->path);
	GSTR(g, "CreatedAt");
	GSTR(g, ts);
	GSTR(g, "Status");
	gen_status(g, c->drv, v);
	yajl_gen_map_close(g);
	GSTR(g, "Err");
	GSTR(g, "");
	yajl_gen_map_close(g);
	reply_gen(c, g);
}

static int
list_one(void *arg, struct vw_volume *v)
{
	yajl_gen g = arg;
	char ts[32];

	fe_rfc3339(v->created, ts, sizeof(ts));
	yajl_gen_map_open(g);
	GSTR(g, "Name");
	GSTR(g, v->name);
	GSTR(g, "Mountpoint");
	GSTR(g, v->path);
	GSTR(g, "CreatedAt");
	GSTR(g, ts);
	yajl_gen_map_close(g);
	return 0;
}

static void
ep_list(const struct vw_call *c)
{
	yajl_gen g = yajl_gen_alloc(NULL);

	if (g == NULL) {
		fe_reply_err(c, 500, "out of memory");
		return;
	}
	yajl_gen_map_open(g);
	GSTR(g, "Volumes");
	yajl_gen_array_open(g);
	vw_registry_each(&c->drv->reg, list_one, g);
	yajl_gen_array_close(g);
	GSTR(g, "Err");
	GSTR(g, "");
	yajl_gen_map_close(g);
	reply_gen(c, g);
}

static void
ep_path(const struct vw_call *c, struct vw_volume *v)
{
	yajl_gen g = yajl_gen_alloc(NULL);

	if (g == NULL) {
		fe_reply_err(c, 500, "out of memory");
		return;
	}
	/* The mountpoint only while mounted (protocol doc 6.7). */
	yajl_gen_map_open(g);
	GSTR(g, "Mountpoint");
	GSTR(g, v->total > 0 ? v->path : "");
	GSTR(g, "Err");
	GSTR(g, "");
	yajl_gen_map_close(g);
	reply_gen(c, g);
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
fe_http_dispatch(struct evhttp_request *req, void *arg)
{
	struct vw_call call = { req, arg, VW_EP_UNKNOWN, fe_now_ns() };
	const struct vw_call *c = &call;
	struct vw_drv *drv = call.drv;
	const char *uri = evhttp_request_get_uri(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct vw_volume_opts *opts = NULL;
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
	case VW_EP_CAPABILITIES:
		fe_reply_json(c, 200, LIT("{\"Capabilities\":{\"Scope\":\"local\"}}"));
		return;
	case VW_EP_LIST:
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
		if ((opts = calloc(1, sizeof(*opts))) == NULL) {
			fe_reply_err(c, 500, "out of memory");
			goto out;
		}
		for (size_t i = 0; i < dreq.nopts; i++) {
			if (vw_opt_parse(dreq.opts[i].key, dreq.opts[i].key_len,
			    dreq.opts[i].value, dreq.opts[i].value_len, opts, err,
			    sizeof(err)) < 0) {
				fe_reply_err(c, 200, "volume %s: %s", dreq.name, err);
				goto out;
			}
		}
		fe_op_submit(c, VW_OP_CREATE, &dreq, opts);
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
	free(opts);
	return;		/* dreq now belongs to the op */
out:
	free(opts);
	vw_dreq_free(&dreq);
}
