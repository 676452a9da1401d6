/*
 * The helper's whole privileged interface on one screen: the dispatch
 * table, and the loop that receives, validates and answers one message at
 * a time.  Anything outside the table -- an unknown type, a type not
 * allowed in the current state, a wrong length, a passed descriptor, an
 * invalid name or option -- is a protocol violation: log it and exit, and
 * the frontend (which then sees EOF) exits too.
 */
#include "vw-build.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/privdrop.h"
#include "common/proto.h"
#include "common/validate.h"
#include "privhelper/privhelper.h"

enum ph_state {
	PH_NEW = 0x1,		/* before HELLO */
	PH_READY = 0x2,		/* after a matching HELLO */
};

struct ph {
	int				 chan;
	enum ph_state			 state;
	const struct vw_config		*cfg;
	size_t				 driver;
	const struct vw_backend_ctx	*ctx;
	const struct vw_backend		*be;
};

typedef void (*ph_handler)(struct ph *, uint64_t id, const void *payload);

static void ph_hello(struct ph *, uint64_t, const void *);
static void ph_volume_create(struct ph *, uint64_t, const void *);
static void ph_volume_remove(struct ph *, uint64_t, const void *);
static void ph_volume_mount(struct ph *, uint64_t, const void *);
static void ph_volume_unmount(struct ph *, uint64_t, const void *);

static const struct {
	uint32_t	type;
	size_t		size;		/* exact payload length */
	unsigned	states;		/* where it is allowed */
	ph_handler	fn;
} ph_table[] = {
	{ VW_MSG_HELLO,		 sizeof(struct vw_hello),      PH_NEW,	 ph_hello },
	{ VW_MSG_VOLUME_CREATE,	 sizeof(struct vw_volume_req), PH_READY, ph_volume_create },
	{ VW_MSG_VOLUME_REMOVE,	 sizeof(struct vw_volume_req), PH_READY, ph_volume_remove },
	{ VW_MSG_VOLUME_MOUNT,	 sizeof(struct vw_volume_req), PH_READY, ph_volume_mount },
	{ VW_MSG_VOLUME_UNMOUNT, sizeof(struct vw_volume_req), PH_READY, ph_volume_unmount },
};

#define violation(type, len, ...) do {					\
	char why_[512];							\
	snprintf(why_, sizeof(why_), __VA_ARGS__);			\
	fatalx("%s: protocol violation: %s (type %u, length %zu): %s",	\
	    __func__, vw_msg_name(type), (unsigned)(type), (size_t)(len), why_); \
} while (0)

static void
send_reply(struct ph *ph, uint32_t type, uint64_t id, const void *p, size_t len)
{
	if (vw_msg_send(ph->chan, type | VW_MSG_REPLY, id, p, len, -1) < 0)
		fatal("sending %s reply", vw_msg_name(type));
}

static void
ph_hello(struct ph *ph, uint64_t id, const void *payload)
{
	struct vw_hello h;
	struct vw_hello_reply r;
	uint64_t mine = vw_config_digest(ph->cfg);

	memcpy(&h, payload, sizeof(h));
	if (h.version != VW_PROTO_VERSION)
		violation(VW_MSG_HELLO, sizeof(h), "protocol version %u, "
		    "expected %u", h.version, VW_PROTO_VERSION);
	if (h.driver != ph->driver)
		violation(VW_MSG_HELLO, sizeof(h), "driver %u, expected %zu",
		    h.driver, ph->driver);
	if (h.config_digest != mine)
		violation(VW_MSG_HELLO, sizeof(h), "the frontend's configuration "
		    "differs from the helper's (digest %016llx vs %016llx): was "
		    "the config file changed during start-up?",
		    (unsigned long long)h.config_digest, (unsigned long long)mine);
	memset(&r, 0, sizeof(r));
	r.version = VW_PROTO_VERSION;
	r.driver = (uint32_t)ph->driver;
	r.config_digest = mine;
	r.capabilities = vw_cap_effective();
	ph->state = PH_READY;
	send_reply(ph, VW_MSG_HELLO, id, &r, sizeof(r));
}

/* Decode, then validate, then act: the common part of volume requests. */
static void
volume_op(struct ph *ph, uint32_t type, uint64_t id, const void *payload,
    int (*op)(const struct vw_backend_ctx *, const struct vw_volume_req *,
    struct vw_volume_reply *))
{
	struct vw_volume_req *req;
	struct vw_volume_reply *rep;
	char why[256];

	/* 4 KiB structs: keep them off the stack. */
	req = malloc(sizeof(*req));
	rep = calloc(1, sizeof(*rep));
	if (req == NULL || rep == NULL)
		fatal("allocating a request");
	memcpy(req, payload, sizeof(*req));
	if (vw_name_field_valid(req->name, sizeof(req->name)) < 0)
		violation(type, sizeof(*req), "invalid volume name");
	if (vw_opts_check(&req->opts, why, sizeof(why)) < 0)
		violation(type, sizeof(*req), "invalid options: %s", why);
	rep->err = op(ph->ctx, req, rep);
	if (rep->err != 0)
		log_warnx("%s %s: %s", vw_msg_name(type), req->name, rep->msg);
	else
		log_debug("%s %s: ok, %s", vw_msg_name(type), req->name, rep->path);
	send_reply(ph, type, id, rep, sizeof(*rep));
	free(req);
	free(rep);
}

static void
ph_volume_create(struct ph *ph, uint64_t id, const void *p)
{
	volume_op(ph, VW_MSG_VOLUME_CREATE, id, p, ph->be->create);
}

static void
ph_volume_remove(struct ph *ph, uint64_t id, const void *p)
{
	volume_op(ph, VW_MSG_VOLUME_REMOVE, id, p, ph->be->remove);
}

static void
ph_volume_mount(struct ph *ph, uint64_t id, const void *p)
{
	volume_op(ph, VW_MSG_VOLUME_MOUNT, id, p, ph->be->mount);
}

static void
ph_volume_unmount(struct ph *ph, uint64_t id, const void *p)
{
	volume_op(ph, VW_MSG_VOLUME_UNMOUNT, id, p, ph->be->unmount);
}

void
ph_serve(int chan, const struct vw_config *cfg, size_t driver,
    const struct vw_backend_ctx *ctx)
{
	struct ph ph = { .chan = chan, .state = PH_NEW, .cfg = cfg,
	    .driver = driver, .ctx = ctx, .be = vw_backend_get(ctx->driver->backend) };
	static char buf[VW_MSG_MAX + 1];

	for (;;) {
		struct vw_msg_hdr hdr;
		void *payload;
		size_t i;
		int fd, rc;

		rc = vw_msg_recv(chan, buf, sizeof(buf), &hdr, &payload, &fd);
		if (rc == 0)
			return;		/* the frontend closed: normal exit */
		if (rc < 0) {
			if (errno == EBADMSG)
				fatalx("%s: protocol violation: a truncated, "
				    "oversized or mis-sized message, or one with "
				    "an unexpected descriptor", __func__);
			fatal("%s: receiving from the frontend", __func__);
		}
		if (fd >= 0) {
			close(fd);
			violation(hdr.type, hdr.len, "unexpected file descriptor");
		}
		for (i = 0; i < sizeof(ph_table) / sizeof(ph_table[0]); i++)
			if (ph_table[i].type == hdr.type)
				break;
		if (i == sizeof(ph_table) / sizeof(ph_table[0]))
			violation(hdr.type, hdr.len, "unknown message type");
		if (!(ph_table[i].states & ph.state))
			violation(hdr.type, hdr.len, "not allowed in this state");
		if (hdr.len != ph_table[i].size)
			violation(hdr.type, hdr.len, "expected length %zu",
			    ph_table[i].size);
		ph_table[i].fn(&ph, hdr.id, payload);
	}
}
