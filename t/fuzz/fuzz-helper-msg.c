/*
 * libFuzzer harness: the input is one message as the helper receives it,
 * a struct vw_msg_hdr followed by the payload bytes.  It runs the helper's
 * validation, ph_check_message(), in both states.  For an accepted volume
 * request it then computes where the dir backend would act
 * (vw_volume_path(), as backends/dir.c does) and asserts the helper's
 * promise: the path lies beneath the driver root or an allowed root and
 * its relative part has no "." or ".." component.
 */
#include "vw-build.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
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
		if (hdr.type != VW_MSG_HELLO)
			check_path(payload);
	}
	free(payload);
	return 0;
}
