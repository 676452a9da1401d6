/*
 * The frontend's side of the helper channel: spawn the helper, say HELLO,
 * then send volume requests and match replies to them.  The helper serves
 * requests strictly in order, so a reply must answer the oldest request in
 * flight; anything else is a protocol violation and ends the daemon.
 */
#include "vw-build.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/log.h"
#include "common/validate.h"
#include "frontend/frontend.h"

struct vw_hc_pending {
	struct vw_hc_pending	*next;
	uint64_t		 id;
	uint32_t		 type;
	uint64_t		 t0;	/* sent, CLOCK_MONOTONIC ns */
	hc_cb			 cb;	/* volume requests */
	hc_snap_cb		 scb;	/* snapshot requests */
	hc_status_cb		 tcb;	/* VOLUME_STATUS */
	hc_scan_cb		 ccb;	/* VOLUME_SCAN */
	void			*arg;
	void			*req;	/* until sent */
	size_t			 reqlen;
};

/* Snapshot requests get a vw_snap_reply, volume requests a vw_volume_reply. */
static int
is_snap_type(uint32_t type)
{
	return type >= VW_MSG_VOLUME_SNAPSHOT_CREATE &&
	    type <= VW_MSG_VOLUME_SNAPSHOT_RESTORE;
}

/* A snapshot reply the frontend can use: terminated strings, counts in
 * range, err not negative. */
static int
snap_reply_ok(const struct vw_snap_reply *rep)
{
	if (rep->err < 0 || rep->count > VW_SNAP_LIST_MAX ||
	    memchr(rep->msg, '\0', sizeof(rep->msg)) == NULL)
		return 0;
	for (uint32_t i = 0; i < rep->count; i++)
		if (memchr(rep->entries[i].name, '\0',
		    sizeof(rep->entries[i].name)) == NULL)
			return 0;
	return 1;
}

/* The reply length the frontend expects for a request type. */
static size_t
reply_len(uint32_t type)
{
	if (is_snap_type(type))
		return sizeof(struct vw_snap_reply);
	if (type == VW_MSG_VOLUME_STATUS)
		return sizeof(struct vw_status_reply);
	if (type == VW_MSG_VOLUME_SCAN)
		return sizeof(struct vw_scan_reply);
	return sizeof(struct vw_volume_reply);
}

/* Keys the frontend itself puts in Get's Status map. */
static int
status_key_ok(const char *k, size_t size)
{
	static const char *const taken[] = { "driver", "backend", "on_remove",
	    "mounts", "options", "status_error",
	    "snapshot_next", "snapshot_last" };	/* schedule.c */
	size_t n = strnlen(k, size);

	if (n == 0 || n == size)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' &&
		    k[i] <= '9') || k[i] == '_'))
			return 0;
	for (size_t i = 0; i < sizeof(taken) / sizeof(taken[0]); i++)
		if (strcmp(k, taken[i]) == 0)
			return 0;
	return 1;
}

/* A status reply the frontend can show: count in range, keys of the
 * allowed form, values and msg terminated UTF-8. */
static int
status_reply_ok(const struct vw_status_reply *rep)
{
	if (rep->err < 0 || rep->count > VW_STATUS_MAX ||
	    memchr(rep->msg, '\0', sizeof(rep->msg)) == NULL ||
	    !vw_utf8_valid(rep->msg, strlen(rep->msg)))
		return 0;
	for (uint32_t i = 0; i < rep->count; i++) {
		const struct vw_status_entry *e = &rep->entries[i];

		if (!status_key_ok(e->key, sizeof(e->key)) ||
		    memchr(e->value, '\0', sizeof(e->value)) == NULL ||
		    !vw_utf8_valid(e->value, strlen(e->value)))
			return 0;
	}
	return 1;
}

/* A scan reply the frontend can use: count in range, every name a valid
 * volume name (the helper checked the agent's; check again). */
static int
scan_reply_ok(const struct vw_scan_reply *rep)
{
	char why[128];

	if (rep->err < 0 || rep->count > VW_SCAN_MAX ||
	    memchr(rep->msg, '\0', sizeof(rep->msg)) == NULL ||
	    !vw_utf8_valid(rep->msg, strlen(rep->msg)))
		return 0;
	for (uint32_t i = 0; i < rep->count; i++)
		if (vw_name_field_valid(rep->entries[i].name,
		    sizeof(rep->entries[i].name)) < 0 ||
		    vw_name_valid(rep->entries[i].name,
		    strlen(rep->entries[i].name), why, sizeof(why)) < 0)
			return 0;
	return 1;
}

int
hc_spawn(struct vw_drv *drv, const char *helper_path,
    const char *const *helper_args, char *err, size_t errlen)
{
	static char path_env[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	char *const envp[] = { path_env, NULL };
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		/* Its own session: a terminal's ^C reaches only the
		 * frontend, which then stops the helper in order. */
		if (setsid() < 0)
			_exit(127);
		/* The channel arrives on fd 3; nothing else above stderr. */
		if (sv[1] == 3) {
			if (fcntl(3, F_SETFD, 0) < 0)
				_exit(127);
		} else if (dup2(sv[1], 3) < 0)
			_exit(127);
		if (close_range(4, ~0U, 0) < 0)
			_exit(127);
		execve(helper_path, (char *const *)(uintptr_t)helper_args, envp);
		fprintf(stderr, "volwarden: cannot execute %s: %s\n", helper_path,
		    strerror(errno));
		_exit(127);
	}
	close(sv[1]);
	drv->helper.fd = sv[0];
	drv->helper.pid = pid;
	drv->helper.next_id = 1;
	return 0;
}

int
hc_hello(struct vw_drv *drv, char *err, size_t errlen)
{
	static char buf[VW_MSG_MAX + 1];
	struct vw_hello h = { VW_PROTO_VERSION, (uint32_t)drv->idx,
	    vw_config_digest(drv->fe->cfg) };
	struct vw_hello_reply r;
	struct vw_msg_hdr hdr;
	void *payload;
	int rc;

	if (vw_msg_send(drv->helper.fd, VW_MSG_HELLO, 0, &h, sizeof(h), -1) < 0) {
		snprintf(err, errlen, "cannot send HELLO to the helper of driver "
		    "%s: %s", drv->d->name, strerror(errno));
		return -1;
	}
	rc = vw_msg_recv(drv->helper.fd, buf, sizeof(buf), &hdr, &payload, NULL);
	if (rc <= 0) {
		snprintf(err, errlen, "the helper of driver %s exited during "
		    "start-up (its log line above says why)", drv->d->name);
		return -1;
	}
	if (hdr.type != (VW_MSG_HELLO | VW_MSG_REPLY) || hdr.len != sizeof(r) ||
	    hdr.id != 0) {
		snprintf(err, errlen, "protocol violation from the helper of "
		    "driver %s: %s with length %u instead of a HELLO reply",
		    drv->d->name, vw_msg_name(hdr.type), hdr.len);
		return -1;
	}
	memcpy(&r, payload, sizeof(r));
	if (r.version != VW_PROTO_VERSION || r.config_digest != h.config_digest) {
		snprintf(err, errlen, "the helper of driver %s runs protocol %u "
		    "with a different configuration; reinstall volwarden so that "
		    "both executables match", drv->d->name, r.version);
		return -1;
	}
	drv->helper.capabilities = r.capabilities;
	log_debug("driver %s: helper pid %d ready, capabilities %016" PRIx64,
	    drv->d->name, (int)drv->helper.pid, r.capabilities);
	return 0;
}

static void
helper_gone(struct vw_drv *drv, const char *why)
{
	log_warnx("the privhelper of driver %s %s; exiting so that the service "
	    "manager restarts volwarden", drv->d->name, why);
	drv->fe->exit_code = 1;
	event_base_loopexit(drv->fe->base, NULL);
	if (drv->helper.ev != NULL)
		event_del(drv->helper.ev);
}

/* The oldest request was answered: unqueue it and time the round trip. */
static void
pending_done(struct vw_drv *drv, struct vw_hc_pending *p)
{
	struct vw_helper *h = &drv->helper;

	h->head = p->next;
	if (h->head == NULL)
		h->tail = NULL;
	fe_metrics_helper(drv, p->type, fe_now_ns() - p->t0);
}

static void
hc_read_cb(evutil_socket_t fd, short what, void *arg)
{
	static char buf[VW_MSG_MAX + 1];
	struct vw_drv *drv = arg;
	struct vw_helper *h = &drv->helper;

	(void)what;
	for (;;) {
		struct vw_hc_pending *p;
		struct vw_volume_reply *rep;
		struct vw_msg_hdr hdr;
		void *payload;
		int rc;

		rc = vw_msg_recv(fd, buf, sizeof(buf), &hdr, &payload, NULL);
		if (rc < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (rc == 0) {
			helper_gone(drv, "closed its channel");
			return;
		}
		if (rc < 0) {
			helper_gone(drv, errno == EBADMSG ? "sent a malformed "
			    "message" : "channel failed");
			return;
		}
		p = h->head;
		if (p == NULL || p->req != NULL || hdr.id != p->id ||
		    hdr.type != (p->type | VW_MSG_REPLY) ||
		    hdr.len != reply_len(p->type)) {
			log_warnx("%s: protocol violation: unexpected %s (id %"
			    PRIu64 ", length %u)", __func__, vw_msg_name(hdr.type),
			    hdr.id, hdr.len);
			helper_gone(drv, "broke the protocol");
			return;
		}
		if (is_snap_type(p->type)) {
			struct vw_snap_reply *srep = payload;

			if (!snap_reply_ok(srep)) {
				log_warnx("%s: protocol violation: malformed %s",
				    __func__, vw_msg_name(hdr.type));
				helper_gone(drv, "broke the protocol");
				return;
			}
			pending_done(drv, p);
			p->scb(p->arg, srep);
			free(p);
			continue;
		}
		if (p->type == VW_MSG_VOLUME_SCAN) {
			if (!scan_reply_ok(payload)) {
				log_warnx("%s: protocol violation: malformed %s",
				    __func__, vw_msg_name(hdr.type));
				helper_gone(drv, "broke the protocol");
				return;
			}
			pending_done(drv, p);
			p->ccb(p->arg, payload);
			free(p);
			continue;
		}
		if (p->type == VW_MSG_VOLUME_STATUS) {
			if (!status_reply_ok(payload)) {
				log_warnx("%s: protocol violation: malformed %s",
				    __func__, vw_msg_name(hdr.type));
				helper_gone(drv, "broke the protocol");
				return;
			}
			pending_done(drv, p);
			p->tcb(p->arg, payload);
			free(p);
			continue;
		}
		rep = payload;
		if (memchr(rep->path, '\0', sizeof(rep->path)) == NULL ||
		    memchr(rep->msg, '\0', sizeof(rep->msg)) == NULL ||
		    rep->err < 0 || (rep->err == 0 && rep->path[0] != '/')) {
			log_warnx("%s: protocol violation: malformed %s",
			    __func__, vw_msg_name(hdr.type));
			helper_gone(drv, "broke the protocol");
			return;
		}
		pending_done(drv, p);
		p->cb(p->arg, rep);
		free(p);
	}
}

/* Send queued requests, oldest first, until the channel is full again. */
static void
hc_flush(struct vw_drv *drv)
{
	struct vw_helper *h = &drv->helper;
	struct vw_hc_pending *p;

	while ((p = h->unsent) != NULL) {
		if (vw_msg_send(h->fd, p->type, p->id, p->req, p->reqlen,
		    -1) < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if (event_add(h->wev, NULL) < 0)
					fatal("watching the helper channel");
				return;
			}
			/* The channel is broken: the read side sees it too. */
			log_warn("sending %s to the helper", vw_msg_name(p->type));
			helper_gone(drv, "channel failed");
			return;
		}
		free(p->req);
		p->req = NULL;
		h->unsent = p->next;
	}
	event_del(h->wev);
}

static void
hc_write_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	hc_flush(arg);
}

int
hc_attach(struct vw_drv *drv)
{
	int fl = fcntl(drv->helper.fd, F_GETFL);

	if (fl < 0 || fcntl(drv->helper.fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	drv->helper.ev = event_new(drv->fe->base, drv->helper.fd,
	    EV_READ | EV_PERSIST, hc_read_cb, drv);
	drv->helper.wev = event_new(drv->fe->base, drv->helper.fd,
	    EV_WRITE | EV_PERSIST, hc_write_cb, drv);
	if (drv->helper.ev == NULL || drv->helper.wev == NULL ||
	    event_add(drv->helper.ev, NULL) < 0)
		return -1;
	return 0;
}

/* Queue p (its req, reqlen, type, callbacks set) and send it if the
 * channel has room.  Frees p and returns -1 on a send error. */
static int
hc_submit(struct vw_drv *drv, struct vw_hc_pending *p, const char *name)
{
	struct vw_helper *h = &drv->helper;
	uint32_t type = p->type;
	void *req = p->req;

	p->id = h->next_id++;
	p->t0 = fe_now_ns();
	p->next = NULL;
	/*
	 * The channel's send buffer holds some 25 requests.  Beyond that
	 * (EAGAIN), requests wait here in order and hc_flush sends them as
	 * the helper catches up: concurrency beyond 25 must not fail
	 * requests.  Any other error fails this one request.
	 */
	if (h->unsent == NULL) {
		if (vw_msg_send(h->fd, type, p->id, req, p->reqlen, -1) == 0) {
			free(req);
			p->req = NULL;
		} else if (errno != EAGAIN && errno != EWOULDBLOCK) {
			log_warn("sending %s for volume %s to the helper",
			    vw_msg_name(type), name);
			free(p);
			free(req);
			return -1;
		} else if (event_add(h->wev, NULL) < 0) {
			fatal("watching the helper channel");
		} else
			h->unsent = p;
	}
	if (h->tail != NULL)
		h->tail->next = p;
	else
		h->head = p;
	h->tail = p;
	return 0;
}

/* Queue p as a request of type for volume name with opts. */
static int
submit_volume_req(struct vw_drv *drv, uint32_t type, const char *name,
    const struct vw_volume_opts *opts, struct vw_hc_pending *p)
{
	struct vw_volume_req *req;

	if (p == NULL || (req = calloc(1, sizeof(*req))) == NULL) {
		free(p);
		return -1;
	}
	snprintf(req->name, sizeof(req->name), "%s", name);
	req->opts = *opts;
	p->type = type;
	p->req = req;
	p->reqlen = sizeof(*req);
	return hc_submit(drv, p, name);
}

int
hc_volume(struct vw_drv *drv, uint32_t type, const char *name,
    const struct vw_volume_opts *opts, hc_cb cb, void *arg)
{
	struct vw_hc_pending *p = calloc(1, sizeof(*p));

	if (p != NULL) {
		p->cb = cb;
		p->arg = arg;
	}
	return submit_volume_req(drv, type, name, opts, p);
}

int
hc_snapshot(struct vw_drv *drv, uint32_t type, const struct vw_snap_req *sreq,
    hc_snap_cb cb, void *arg)
{
	struct vw_hc_pending *p = calloc(1, sizeof(*p));
	struct vw_snap_req *req = malloc(sizeof(*req));

	if (p == NULL || req == NULL) {
		free(p);
		free(req);
		return -1;
	}
	*req = *sreq;
	p->type = type;
	p->scb = cb;
	p->arg = arg;
	p->req = req;
	p->reqlen = sizeof(*req);
	return hc_submit(drv, p, req->name);
}

int
hc_status(struct vw_drv *drv, const char *name,
    const struct vw_volume_opts *opts, hc_status_cb cb, void *arg)
{
	struct vw_hc_pending *p = calloc(1, sizeof(*p));

	if (p != NULL) {
		p->tcb = cb;
		p->arg = arg;
	}
	return submit_volume_req(drv, VW_MSG_VOLUME_STATUS, name, opts, p);
}

void
hc_forget(struct vw_drv *drv)
{
	struct vw_hc_pending *p, *next;

	for (p = drv->helper.head; p != NULL; p = next) {
		next = p->next;
		free(p->req);
		free(p);
	}
	drv->helper.head = drv->helper.tail = drv->helper.unsent = NULL;
}

int
hc_scan(struct vw_drv *drv, uint32_t offset, uint64_t gen, hc_scan_cb cb,
    void *arg)
{
	struct vw_hc_pending *p = calloc(1, sizeof(*p));
	struct vw_scan_req *req = calloc(1, sizeof(*req));

	if (p == NULL || req == NULL) {
		free(p);
		free(req);
		return -1;
	}
	req->offset = offset;
	req->gen = gen;
	p->type = VW_MSG_VOLUME_SCAN;
	p->ccb = cb;
	p->arg = arg;
	p->req = req;
	p->reqlen = sizeof(*req);
	return hc_submit(drv, p, "(scan)");
}
