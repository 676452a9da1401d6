/*
 * Privilege drop and verification; see privdrop.h.
 *
 * The order matters.  capng_change_id() (frontend) keeps nothing: it drops
 * supplementary groups, sets gid then uid, and clears the bounding set
 * while CAP_SETPCAP is still held.  For the helper, capng_apply() with
 * CAPNG_SELECT_BOTH writes the bounding set first (which needs CAP_SETPCAP,
 * still present) and the capability sets last.  Ambient capabilities are
 * cleared explicitly.  Only after that is no_new_privs set, and only after
 * reading the result back from the kernel do we trust it.
 */
#include "vw-build.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cap-ng.h>
#include <linux/capability.h>

#include "common/log.h"
#include "common/privdrop.h"

/*
 * /proc/self, opened by vw_drop_to_user while still root: the dropped
 * frontend may be unable to resolve "/proc/self/status" from "/" (in a
 * Docker managed plugin the root directory is mode 0700, root's), but
 * the open directory still serves openat().  -1 before the drop.
 */
static int proc_self_fd = -1;

static void
clear_ambient(void)
{
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 &&
	    errno != EINVAL)
		fatal("clearing the ambient capability set");
}

void
vw_drop_to_user(uid_t uid, gid_t gid)
{
	char err[256];
	int rc;

	if (uid == 0)
		fatalx("refusing to run the frontend as root: set \"user\" to "
		    "an unprivileged account");
	if ((proc_self_fd = open("/proc/self", O_PATH | O_DIRECTORY |
	    O_CLOEXEC)) < 0)
		fatal("opening /proc/self");
	clear_ambient();
	capng_clear(CAPNG_SELECT_BOTH);
	rc = capng_change_id((int)uid, (int)gid,
	    CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING);
	if (rc != 0)
		fatalx("capng_change_id(%u, %u) failed at step %d; cannot drop "
		    "privileges", (unsigned)uid, (unsigned)gid, rc);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fatal("prctl(PR_SET_NO_NEW_PRIVS)");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fatal("prctl(PR_SET_DUMPABLE)");
	if (vw_verify_privs(uid, gid, 0, err, sizeof(err)) < 0)
		fatalx("privilege drop did not take effect: %s", err);
	/* Regaining root must fail now. */
	if (setuid(0) == 0 || seteuid(0) == 0)
		fatalx("privilege drop did not take effect: setuid(0) succeeded");
}

void
vw_keep_caps(uint64_t mask)
{
	char err[256];

	clear_ambient();
	capng_clear(CAPNG_SELECT_BOTH);
	for (int cap = 0; cap <= CAP_LAST_CAP; cap++) {
		if (!(mask & (1ULL << cap)))
			continue;
		if (capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED |
		    CAPNG_BOUNDING_SET, (unsigned)cap) != 0)
			fatalx("capng_update(%s) failed", capng_capability_to_name(
			    (unsigned)cap));
	}
	if (capng_apply(CAPNG_SELECT_BOTH) != 0)
		fatalx("capng_apply failed; cannot limit capabilities");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fatal("prctl(PR_SET_NO_NEW_PRIVS)");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fatal("prctl(PR_SET_DUMPABLE)");
	if (vw_verify_privs(0, 0, mask, err, sizeof(err)) < 0)
		fatalx("capability limit did not take effect: %s", err);
}

/* Parse "Key:\tvalue..." lines of /proc/self/status. */
static int
status_read(char *buf, size_t len)
{
	FILE *fp;
	size_t n;
	int fd;

	if (proc_self_fd < 0)
		fp = fopen("/proc/self/status", "re");
	else if ((fd = openat(proc_self_fd, "status", O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	else if ((fp = fdopen(fd, "r")) == NULL)
		close(fd);
	if (fp == NULL)
		return -1;
	n = fread(buf, 1, len - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	return 0;
}

static const char *
status_field(const char *buf, const char *key)
{
	size_t kl = strlen(key);

	for (const char *p = buf; p != NULL && *p != '\0'; ) {
		if (strncmp(p, key, kl) == 0 && p[kl] == ':')
			return p + kl + 1;
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return NULL;
}

static int
check_ids(const char *buf, const char *key, unsigned long want, char *err,
    size_t errlen)
{
	const char *v = status_field(buf, key);
	unsigned long a[4];

	if (v == NULL || sscanf(v, "%lu %lu %lu %lu", &a[0], &a[1], &a[2],
	    &a[3]) != 4) {
		snprintf(err, errlen, "cannot read %s from /proc/self/status", key);
		return -1;
	}
	for (int i = 0; i < 4; i++) {
		if (a[i] != want) {
			snprintf(err, errlen, "%s is %lu %lu %lu %lu, expected %lu",
			    key, a[0], a[1], a[2], a[3], want);
			return -1;
		}
	}
	return 0;
}

static int
check_hex(const char *buf, const char *key, uint64_t want, char *err,
    size_t errlen)
{
	const char *v = status_field(buf, key);
	uint64_t got;

	if (v == NULL || sscanf(v, "%" SCNx64, &got) != 1) {
		snprintf(err, errlen, "cannot read %s from /proc/self/status", key);
		return -1;
	}
	if (got != want) {
		snprintf(err, errlen, "%s is %016" PRIx64 ", expected %016" PRIx64,
		    key, got, want);
		return -1;
	}
	return 0;
}

int
vw_verify_privs(uid_t uid, gid_t gid, uint64_t caps, char *err, size_t errlen)
{
	char buf[4096];
	const char *v;

	if (status_read(buf, sizeof(buf)) < 0) {
		snprintf(err, errlen, "cannot read /proc/self/status: %s",
		    strerror(errno));
		return -1;
	}
	if (check_ids(buf, "Uid", uid, err, errlen) < 0)
		return -1;
	if (gid != (gid_t)-1 && check_ids(buf, "Gid", gid, err, errlen) < 0)
		return -1;
	if (check_hex(buf, "CapInh", 0, err, errlen) < 0 ||
	    check_hex(buf, "CapPrm", caps, err, errlen) < 0 ||
	    check_hex(buf, "CapEff", caps, err, errlen) < 0 ||
	    check_hex(buf, "CapBnd", caps, err, errlen) < 0 ||
	    check_hex(buf, "CapAmb", 0, err, errlen) < 0)
		return -1;
	v = status_field(buf, "NoNewPrivs");
	if (v == NULL || strtol(v, NULL, 10) != 1) {
		snprintf(err, errlen, "NoNewPrivs is not 1");
		return -1;
	}
	if (uid != 0) {
		v = status_field(buf, "Groups");
		while (v != NULL && (*v == ' ' || *v == '\t'))
			v++;
		if (v == NULL || (*v != '\n' && *v != '\0')) {
			snprintf(err, errlen, "supplementary groups remain");
			return -1;
		}
	}
	return 0;
}

int
vw_self_status(struct vw_self_status *st)
{
	char buf[4096];
	const char *v;

	memset(st, 0, sizeof(*st));
	if (status_read(buf, sizeof(buf)) < 0)
		return -1;
	if ((v = status_field(buf, "CapEff")) != NULL)
		(void)sscanf(v, "%" SCNx64, &st->cap_eff);
	if ((v = status_field(buf, "CapPrm")) != NULL)
		(void)sscanf(v, "%" SCNx64, &st->cap_prm);
	if ((v = status_field(buf, "CapBnd")) != NULL)
		(void)sscanf(v, "%" SCNx64, &st->cap_bnd);
	if ((v = status_field(buf, "NoNewPrivs")) != NULL)
		st->no_new_privs = (int)strtol(v, NULL, 10);
	if ((v = status_field(buf, "Seccomp")) != NULL)
		st->seccomp = (int)strtol(v, NULL, 10);
	return 0;
}

uint64_t
vw_cap_effective(void)
{
	char buf[4096];
	const char *v;
	uint64_t got = 0;

	if (status_read(buf, sizeof(buf)) < 0)
		return 0;
	v = status_field(buf, "CapEff");
	if (v == NULL || sscanf(v, "%" SCNx64, &got) != 1)
		return 0;
	return got;
}
