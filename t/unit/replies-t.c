/* What the frontend shows of a VOLUME_STATUS reply (frontend/replies.c):
 * a malformed one becomes the volume's status_error, never fatal. */
#include "vw-build.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "frontend/frontend.h"
#include "t/lib/tap.h"

static struct vw_status_reply rep, bad;

/* A well-formed reply with two entries. */
static void
good(void)
{
	memset(&rep, 0, sizeof(rep));
	rep.count = 2;
	snprintf(rep.entries[0].key, sizeof(rep.entries[0].key), "gluster_volume");
	snprintf(rep.entries[0].value, sizeof(rep.entries[0].value), "gv0");
	snprintf(rep.entries[1].key, sizeof(rep.entries[1].key), "mounted_elsewhere");
	snprintf(rep.entries[1].value, sizeof(rep.entries[1].value),
	    "n\xc3\xb6" "de-b (lease expires in 40 s)");
}

/* Is the reply turned into the status_error sentence? */
static int
refused(void)
{
	const struct vw_status_reply *r = fe_status_reply_usable(&rep, &bad);

	return r == &bad && bad.err == EPROTO && bad.count == 0 &&
	    strcmp(bad.msg, "the backend sent an unreadable status") == 0;
}

int
main(void)
{
	good();
	ok(fe_status_reply_usable(&rep, &bad) == &rep, "a good reply is shown as it is");
	good();
	snprintf(rep.entries[1].value, sizeof(rep.entries[1].value),
	    "evil\xff (lease expires in 40 s)");
	ok(refused(), "a value that is not UTF-8 becomes status_error");
	good();
	rep.entries[1].value[0] = '\xe2';
	rep.entries[1].value[1] = '\x82';
	rep.entries[1].value[2] = '\0';
	ok(refused(), "a value cut inside a character becomes status_error");
	good();
	memset(rep.entries[0].value, 'a', sizeof(rep.entries[0].value));
	ok(refused(), "an unterminated value becomes status_error");
	good();
	snprintf(rep.entries[0].key, sizeof(rep.entries[0].key), "Bad-Key");
	ok(refused(), "a key outside [a-z0-9_] becomes status_error");
	good();
	snprintf(rep.entries[0].key, sizeof(rep.entries[0].key), "status_error");
	ok(refused(), "a key the frontend uses itself becomes status_error");
	good();
	rep.entries[0].key[0] = '\0';
	ok(refused(), "an empty key becomes status_error");
	good();
	rep.count = VW_STATUS_MAX + 1;
	ok(refused(), "a count out of range becomes status_error");
	good();
	rep.err = -1;
	ok(refused(), "a negative err becomes status_error");
	good();
	rep.err = EHOSTDOWN;
	snprintf(rep.msg, sizeof(rep.msg), "servers \xc0\xaf down");
	ok(refused(), "an error sentence that is not UTF-8 becomes status_error");
	good();
	rep.err = EHOSTDOWN;
	snprintf(rep.msg, sizeof(rep.msg), "Gluster volume gv0 is not reachable");
	ok(fe_status_reply_usable(&rep, &bad) == &rep,
	    "a readable error is shown as the backend gave it");
	return done_testing();
}
