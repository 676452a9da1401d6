/*
 * What the frontend accepts in a helper's VOLUME_STATUS reply.  A status
 * is informational and its text may come from storage that others write
 * (a Gluster volume), so a reply that cannot be shown becomes an error
 * for that volume (Get's status_error) instead of a protocol violation
 * that would end the daemon.  Replies that change state keep the strict
 * checks of helper_client.c.
 */
#include "vw-build.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/validate.h"
#include "frontend/frontend.h"

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

const struct vw_status_reply *
fe_status_reply_usable(const struct vw_status_reply *rep,
    struct vw_status_reply *bad)
{
	if (status_reply_ok(rep))
		return rep;
	memset(bad, 0, sizeof(*bad));
	bad->err = EPROTO;
	snprintf(bad->msg, sizeof(bad->msg), "the backend sent an unreadable "
	    "status");
	return bad;
}
