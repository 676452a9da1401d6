/*
 * libFuzzer harness: the input is one message as the helper receives it,
 * a struct vw_msg_hdr followed by the payload bytes.  It runs the helper's
 * validation, ph_check_message(), in both states.  For an accepted volume
 * request it then computes where the dir backend would act
 * (vw_volume_path(), as backends/dir.c does) and asserts the helper's
 * promise: the path lies beneath the driver root or an allowed root and
 * its relative part has no "." or ".." component.  It also runs the
 * btrfs schema check (ph_serve's vw_opts_check_backend) and, for options
 * btrfs takes, asserts that a btrfs volume is exactly ROOT/NAME.  For an
 * accepted snapshot request it asserts that both names are single path
 * components, as backends/btrfs.c joins them into
 * ROOT/.snapshots/NAME/SNAP.
 */
#include "vw-build.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/options.h"
#include "common/proto.h"
#include "common/validate.h"
#include "privhelper/privhelper.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char drvname[] = "volwarden";
static char root[] = "/var/lib/volwarden/volumes";
static char allowed0[] = "/srv/docker";
static char allowed1[] = "/mnt";
static char *allowed[] = { allowed0, allowed1, NULL };
static const struct vw_driver driver = {
	.name = drvname, .backend = VW_BACKEND_DIR,
	.root = root, .allowed_roots = allowed, .nallowed = 2,
};
static const struct vw_driver bdriver = {
	.name = drvname, .backend = VW_BACKEND_BTRFS, .root = root,
};

/* A name the helper accepted must be one path component, not . or ..,
 * and never start with "." (.snapshots and .restore-* are ours). */
static void
check_component(const char *s)
{
	if (s[0] == '\0' || s[0] == '.' || strchr(s, '/') != NULL ||
	    strlen(s) > VW_NAME_MAX) {
		fprintf(stderr, "name \"%s\" is not one safe component\n", s);
		abort();
	}
}

static void
check_snap(uint32_t type, const struct vw_snap_req *req)
{
	check_component(req->name);
	if (type == VW_MSG_VOLUME_SNAPSHOT_LIST) {
		if (req->snap[0] != '\0')
			abort();
	} else
		check_component(req->snap);
}

/* The btrfs backend's view of a volume request (options it takes). */
static void
check_btrfs(const struct vw_volume_req *req)
{
	char path[VW_PATH_MAX], err[VW_ERRMSG_MAX], expect[VW_PATH_MAX];
	const char *rel;
	size_t idx;

	if (vw_opts_check_backend(VW_BACKEND_BTRFS, &req->opts, err,
	    sizeof(err)) < 0)
		return;
	if (req->opts.flags & VW_OPT_MOUNTPOINT)
		abort();	/* not in the btrfs schema */
	check_component(req->name);
	if (vw_volume_path(&bdriver, req->name, &req->opts, path,
	    sizeof(path), &idx, &rel, err, sizeof(err)) < 0)
		return;
	snprintf(expect, sizeof(expect), "%s/%s", root, req->name);
	if (strcmp(path, expect) != 0 || idx != (size_t)-1) {
		fprintf(stderr, "btrfs volume at %s, not %s\n", path, expect);
		abort();
	}
}

static void
check_path(const struct vw_volume_req *req)
{
	char path[VW_PATH_MAX], err[VW_ERRMSG_MAX];
	const char *rel, *base, *p;
	size_t idx, n;

	if (vw_volume_path(&driver, req->name, &req->opts, path, sizeof(path),
	    &idx, &rel, err, sizeof(err)) < 0)
		return;
	base = idx == (size_t)-1 ? root : allowed[idx];
	if (idx != (size_t)-1 && idx >= driver.nallowed)
		abort();
	if (vw_path_beneath(base, path) != rel || rel == NULL || rel[0] == '\0') {
		fprintf(stderr, "%s is not strictly beneath %s\n", path, base);
		abort();
	}
	for (p = rel;; p += n + 1) {
		n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.')) {
			fprintf(stderr, "bad component in %s\n", rel);
			abort();
		}
		if (p[n] == '\0')
			break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned states[] = { PH_NEW, PH_READY };
	struct vw_msg_hdr hdr;
	size_t plen;
	void *payload;
	char why[512];

	if (size < sizeof(hdr))
		return 0;	/* vw_msg_recv refuses a short datagram */
	memcpy(&hdr, data, sizeof(hdr));
	plen = size - sizeof(hdr);
	/* An exact-size heap copy: any read past the end is caught. */
	if ((payload = malloc(plen > 0 ? plen : 1)) == NULL)
		abort();
	memcpy(payload, data + sizeof(hdr), plen);
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		why[0] = '\0';
		if (ph_check_message(&hdr, payload, plen, states[i], why,
		    sizeof(why)) < 0) {
			if (why[0] == '\0')
				abort();
			continue;
		}
		if (hdr.len != plen)
			abort();
		if (hdr.type == VW_MSG_HELLO)
			continue;
		if (hdr.type >= VW_MSG_VOLUME_SNAPSHOT_CREATE &&
		    hdr.type <= VW_MSG_VOLUME_SNAPSHOT_RESTORE) {
			check_snap(hdr.type, payload);
			continue;
		}
		/* Only volume requests carry a name and options (not
		 * VOLUME_SCAN, whose payload is a vw_scan_req). */
		if (hdr.len != sizeof(struct vw_volume_req))
			continue;
		check_path(payload);
		check_btrfs(payload);
	}
	free(payload);
	return 0;
}
