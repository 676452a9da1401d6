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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/privdrop.h"
#include "common/proto.h"
#include "common/validate.h"
#include "privhelper/privhelper.h"

struct ph {
	int				 chan;
	enum ph_state			 state;
	const struct vw_config		*cfg;
	size_t				 driver;
	const struct vw_backend_ctx	*ctx;
	const struct vw_backend		*be;
	int				 gone;	/* the frontend closed the channel */
};

typedef void (*ph_handler)(struct ph *, uint64_t id, const void *payload);

static void ph_hello(struct ph *, uint64_t, const void *);
static void ph_volume_create(struct ph *, uint64_t, const void *);
static void ph_volume_remove(struct ph *, uint64_t, const void *);
static void ph_volume_mount(struct ph *, uint64_t, const void *);
static void ph_volume_unmount(struct ph *, uint64_t, const void *);
static void ph_snapshot_create(struct ph *, uint64_t, const void *);
static void ph_snapshot_list(struct ph *, uint64_t, const void *);
static void ph_snapshot_delete(struct ph *, uint64_t, const void *);
static void ph_snapshot_restore(struct ph *, uint64_t, const void *);
static void ph_volume_status(struct ph *, uint64_t, const void *);
static void ph_volume_resize(struct ph *, uint64_t, const void *);
static void ph_volume_scan(struct ph *, uint64_t, const void *);

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
	{ VW_MSG_VOLUME_SNAPSHOT_CREATE,  sizeof(struct vw_snap_req), PH_READY, ph_snapshot_create },
	{ VW_MSG_VOLUME_SNAPSHOT_LIST,	  sizeof(struct vw_snap_req), PH_READY, ph_snapshot_list },
	{ VW_MSG_VOLUME_SNAPSHOT_DELETE,  sizeof(struct vw_snap_req), PH_READY, ph_snapshot_delete },
	{ VW_MSG_VOLUME_SNAPSHOT_RESTORE, sizeof(struct vw_snap_req), PH_READY, ph_snapshot_restore },
	{ VW_MSG_VOLUME_STATUS,	 sizeof(struct vw_volume_req), PH_READY, ph_volume_status },
	{ VW_MSG_VOLUME_RESIZE,	 sizeof(struct vw_volume_req), PH_READY, ph_volume_resize },
	{ VW_MSG_VOLUME_SCAN,	 sizeof(struct vw_scan_req),   PH_READY, ph_volume_scan },
};

#define violation(type, len, ...) do {					\
	char why_[512];							\
	snprintf(why_, sizeof(why_), __VA_ARGS__);			\
	fatalx("%s: protocol violation: %s (type %u, length %zu): %s",	\
	    __func__, vw_msg_name(type), (unsigned)(type), (size_t)(len), why_); \
} while (0)

/*
 * A reply that cannot be sent because the frontend closed its end (it is
 * stopping, and stopped waiting) ends the helper like EOF does: exit 0,
 * acting on no request still queued.  Any other failure is fatal.
 */
static void
send_reply(struct ph *ph, uint32_t type, uint64_t id, const void *p, size_t len)
{
	if (vw_msg_send(ph->chan, type | VW_MSG_REPLY, id, p, len, -1) == 0)
		return;
	if (errno == EPIPE || errno == ECONNRESET) {
		log_info("the frontend went away before the %s reply; exiting",
		    vw_msg_name(type));
		ph->gone = 1;
		return;
	}
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

/* A snapshot request: valid volume and snapshot names (the snapshot
 * empty for LIST and only there), known flags (FORCE only for RESTORE),
 * offset only for LIST, size only for RESTORE and in range. */
static int
check_snap_req(uint32_t type, const struct vw_snap_req *req, char *why,
    size_t whylen)
{
	int list = type == VW_MSG_VOLUME_SNAPSHOT_LIST;
	int restore = type == VW_MSG_VOLUME_SNAPSHOT_RESTORE;
	static const char zeros[sizeof(req->snap)];

	if (vw_name_field_valid(req->name, sizeof(req->name)) < 0) {
		snprintf(why, whylen, "invalid volume name");
		return -1;
	}
	if (list ? memcmp(req->snap, zeros, sizeof(zeros)) != 0 :
	    vw_name_field_valid(req->snap, sizeof(req->snap)) < 0) {
		snprintf(why, whylen, "invalid snapshot name");
		return -1;
	}
	if ((req->flags & ~(restore ? VW_SNAP_FORCE : 0u)) != 0 ||
	    (!list && req->offset != 0) ||
	    (restore ? (req->size != 0 && (req->size < VW_SIZE_MIN ||
	    req->size > VW_SIZE_MAX)) : req->size != 0)) {
		snprintf(why, whylen, "invalid flags, offset or size");
		return -1;
	}
	return 0;
}

/*
 * Everything about a message that can be checked without acting on it:
 * the type is in the table, it is allowed in state, the length is exactly
 * the table's (and matches what arrived), and a volume request carries a
 * valid name and options.  Pure, so that t/fuzz/fuzz-helper-msg.c can
 * call it; ph_serve turns a refusal into a protocol violation.
 */
int
ph_check_message(const struct vw_msg_hdr *hdr, const void *payload,
    size_t payload_len, unsigned state, char *why, size_t whylen)
{
	const struct vw_volume_req *req = payload;
	char oerr[256];
	size_t i;

	for (i = 0; i < sizeof(ph_table) / sizeof(ph_table[0]); i++)
		if (ph_table[i].type == hdr->type)
			break;
	if (i == sizeof(ph_table) / sizeof(ph_table[0])) {
		snprintf(why, whylen, "unknown message type");
		return -1;
	}
	if (!(ph_table[i].states & state)) {
		snprintf(why, whylen, "not allowed in this state");
		return -1;
	}
	if (hdr->len != ph_table[i].size) {
		snprintf(why, whylen, "expected length %zu", ph_table[i].size);
		return -1;
	}
	if (payload_len != hdr->len) {
		snprintf(why, whylen, "%zu payload bytes arrived", payload_len);
		return -1;
	}
	if (hdr->type == VW_MSG_HELLO)
		return 0;	/* ph_hello compares it with our own config */
	if (hdr->type == VW_MSG_VOLUME_SCAN) {
		const struct vw_scan_req *sr = payload;

		if (sr->reserved != 0 || (sr->offset == 0 && sr->gen != 0)) {
			snprintf(why, whylen, "invalid offset, gen or reserved");
			return -1;
		}
		return 0;
	}
	if (ph_table[i].size == sizeof(struct vw_snap_req))
		return check_snap_req(hdr->type, payload, why, whylen);
	if (vw_name_field_valid(req->name, sizeof(req->name)) < 0) {
		snprintf(why, whylen, "invalid volume name");
		return -1;
	}
	if (vw_opts_check(&req->opts, oerr, sizeof(oerr)) < 0) {
		snprintf(why, whylen, "invalid options: %s", oerr);
		return -1;
	}
	return 0;
}

/* Decode, then validate, then act: the common part of volume requests. */
static void
volume_op(struct ph *ph, uint32_t type, uint64_t id, const void *payload,
    int (*op)(const struct vw_backend_ctx *, const struct vw_volume_req *,
    struct vw_volume_reply *))
{
	struct vw_volume_req *req;
	struct vw_volume_reply *rep;

	/* 4 KiB structs: keep them off the stack.  ph_serve has checked the
	 * payload (ph_check_message): name and options are valid. */
	req = malloc(sizeof(*req));
	rep = calloc(1, sizeof(*rep));
	if (req == NULL || rep == NULL)
		fatal("allocating a request");
	memcpy(req, payload, sizeof(*req));
	rep->err = op(ph->ctx, req, rep);
	if (rep->err != 0)
		log_warnx("%s %s: %s", vw_msg_name(type), req->name, rep->msg);
	else
		log_debug("%s %s: ok, %s", vw_msg_name(type), req->name, rep->path);
	send_reply(ph, type, id, rep, sizeof(*rep));
	free(req);
	free(rep);
}

/* Snapshot requests: decode, (validated by ph_check_message), act. */
static void
snap_op(struct ph *ph, uint32_t type, uint64_t id, const void *payload,
    int (*op)(const struct vw_backend_ctx *, const struct vw_snap_req *,
    struct vw_snap_reply *))
{
	struct vw_snap_req req;
	struct vw_snap_reply *rep;

	memcpy(&req, payload, sizeof(req));
	if ((rep = calloc(1, sizeof(*rep))) == NULL)
		fatal("allocating a reply");
	if (op == NULL) {
		rep->err = EOPNOTSUPP;
		snprintf(rep->msg, sizeof(rep->msg), "driver %s (backend %s) "
		    "has no snapshots; use a btrfs driver", ph->ctx->driver->name,
		    ph->be->name);
	} else
		rep->err = op(ph->ctx, &req, rep);
	if (rep->err != 0)
		log_warnx("%s %s%s%s: %s", vw_msg_name(type), req.name,
		    req.snap[0] ? "@" : "", req.snap, rep->msg);
	send_reply(ph, type, id, rep, sizeof(*rep));
	free(rep);
}

static void
ph_snapshot_create(struct ph *ph, uint64_t id, const void *p)
{
	snap_op(ph, VW_MSG_VOLUME_SNAPSHOT_CREATE, id, p, ph->be->snap_create);
}

static void
ph_snapshot_list(struct ph *ph, uint64_t id, const void *p)
{
	snap_op(ph, VW_MSG_VOLUME_SNAPSHOT_LIST, id, p, ph->be->snap_list);
}

static void
ph_snapshot_delete(struct ph *ph, uint64_t id, const void *p)
{
	snap_op(ph, VW_MSG_VOLUME_SNAPSHOT_DELETE, id, p, ph->be->snap_delete);
}

static void
ph_snapshot_restore(struct ph *ph, uint64_t id, const void *p)
{
	snap_op(ph, VW_MSG_VOLUME_SNAPSHOT_RESTORE, id, p, ph->be->snap_restore);
}

int
vw_failf(char *msg, size_t msglen, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, msglen, fmt, ap);
	va_end(ap);
	return err;
}

int
vw_status_add(struct vw_status_reply *rep, const char *key, const char *fmt, ...)
{
	struct vw_status_entry *e;
	char buf[VW_STATUS_VALUE_MAX * 4];
	va_list ap;

	if (rep->count >= VW_STATUS_MAX) {
		errno = ENOSPC;
		return -1;
	}
	e = &rep->entries[rep->count++];
	snprintf(e->key, sizeof(e->key), "%s", key);
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* Valid UTF-8 whatever the value came from (a file name, a file's
	 * contents), cut between characters: the frontend shows it. */
	(void)vw_utf8_copy(e->value, sizeof(e->value), buf);
	return 0;
}

/* VOLUME_STATUS: the backend's facts about one volume (none if it has no
 * status operation).  Validated by ph_check_message like a Create. */
static void
ph_volume_status(struct ph *ph, uint64_t id, const void *payload)
{
	struct vw_volume_req *req;
	struct vw_status_reply *rep;

	req = malloc(sizeof(*req));
	rep = calloc(1, sizeof(*rep));
	if (req == NULL || rep == NULL)
		fatal("allocating a request");
	memcpy(req, payload, sizeof(*req));
	if (ph->be->status != NULL)
		rep->err = ph->be->status(ph->ctx, req, rep);
	if (rep->err != 0) {
		rep->count = 0;
		log_warnx("%s %s: %s", vw_msg_name(VW_MSG_VOLUME_STATUS),
		    req->name, rep->msg);
	}
	send_reply(ph, VW_MSG_VOLUME_STATUS, id, rep, sizeof(*rep));
	free(req);
	free(rep);
}

/* A backend without the op refuses it with a sentence (not a protocol
 * violation: the frontend cannot know every backend's abilities). */
static int
resize_unsupported(const struct vw_backend_ctx *ctx,
    const struct vw_volume_req *req, struct vw_volume_reply *rep)
{
	snprintf(rep->msg, sizeof(rep->msg), "volume %s: driver %s (backend "
	    "%s) cannot resize volumes; use a loop driver", req->name,
	    ctx->driver->name, vw_backend_name(ctx->driver->backend));
	return EOPNOTSUPP;
}

/* VOLUME_RESIZE: the new size must be given (validated as a size). */
static void
ph_volume_resize(struct ph *ph, uint64_t id, const void *p)
{
	const struct vw_volume_req *req = p;

	if (!(req->opts.flags & VW_OPT_SIZE))
		violation(VW_MSG_VOLUME_RESIZE, sizeof(*req), "no size");
	volume_op(ph, VW_MSG_VOLUME_RESIZE, id, p, ph->be->resize != NULL ?
	    ph->be->resize : resize_unsupported);
}

/* VOLUME_SCAN: the volumes of a shared backend (EOPNOTSUPP for the
 * others).  Validated by ph_check_message. */
static void
ph_volume_scan(struct ph *ph, uint64_t id, const void *payload)
{
	struct vw_scan_req req;
	struct vw_scan_reply *rep;

	memcpy(&req, payload, sizeof(req));
	if ((rep = calloc(1, sizeof(*rep))) == NULL)
		fatal("allocating a reply");
	if (ph->be->scan == NULL) {
		rep->err = EOPNOTSUPP;
		snprintf(rep->msg, sizeof(rep->msg), "driver %s (backend %s) "
		    "keeps its volumes on this node only", ph->ctx->driver->name,
		    ph->be->name);
	} else
		rep->err = ph->be->scan(ph->ctx, &req, rep);
	if (rep->err != 0) {
		rep->count = 0;
		log_warnx("%s: %s", vw_msg_name(VW_MSG_VOLUME_SCAN), rep->msg);
	}
	send_reply(ph, VW_MSG_VOLUME_SCAN, id, rep, sizeof(*rep));
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
	/* Aligned so that ph_check_message may read the payload structs. */
	static _Alignas(8) char buf[VW_MSG_MAX + 1];

	for (;;) {
		struct vw_msg_hdr hdr;
		void *payload;
		char why[512];
		size_t i;
		int fd, rc;

		ph_trash_wait(chan);	/* empty the trash while idle */
		rc = vw_msg_recv(chan, buf, sizeof(buf), &hdr, &payload, &fd);
		if (rc == 0)
			return;		/* the frontend closed: normal exit */
		/* It closed with replies of ours unread (it stopped while
		 * requests were in flight): the same. */
		if (rc < 0 && errno == ECONNRESET) {
			log_debug("%s: the frontend closed the channel with "
			    "replies unread", __func__);
			return;
		}
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
		if (ph_check_message(&hdr, payload, hdr.len, ph.state, why,
		    sizeof(why)) < 0)
			violation(hdr.type, hdr.len, "%s", why);
		/* Options outside this driver's backend schema. */
		if (hdr.len == sizeof(struct vw_volume_req) &&
		    vw_opts_check_backend(ctx->driver->backend,
		    &((const struct vw_volume_req *)payload)->opts, why,
		    sizeof(why)) < 0)
			violation(hdr.type, hdr.len, "%s", why);
		for (i = 0; ph_table[i].type != hdr.type; i++)
			;	/* found: ph_check_message knows the type */
		ph_table[i].fn(&ph, hdr.id, payload);
		if (ph.gone)
			return;	/* as at EOF: a normal exit */
	}
}
