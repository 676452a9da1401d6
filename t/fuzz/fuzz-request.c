/*
 * libFuzzer harness: the input is a VolumeDriver request body as dockerd
 * would POST it.  It goes through vw_dreq_parse() and then through the
 * checks frontend/endpoints.c runs on a decoded request (the name rule,
 * then every option).  Beyond memory errors it asserts that what the
 * frontend accepts, the helper accepts too: a valid name passes the
 * helper's field check and parsed options pass vw_opts_check().  The
 * options go through the schema of each backend (dir, btrfs) in turn,
 * and options a backend accepts must pass vw_opts_check_backend() for it
 * unless they conflict (the frontend refuses those with a sentence).
 */
#include "vw-build.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/options.h"
#include "common/validate.h"
#include "frontend/frontend.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_name(const struct vw_dreq *r)
{
	char err[256], field[VW_NAME_MAX + 1];

	if (vw_name_valid(r->name, r->name_len, err, sizeof(err)) < 0) {
		if (err[0] == '\0')
			abort();	/* a refusal must say why */
		return;
	}
	/* The frontend copies an accepted name into the request's field. */
	memset(field, 0, sizeof(field));
	memcpy(field, r->name, r->name_len);
	if (vw_name_field_valid(field, sizeof(field)) < 0) {
		fprintf(stderr, "name accepted by the frontend, refused by "
		    "the helper\n");
		abort();
	}
}

static void
check_opts(const struct vw_dreq *r, enum vw_backend_type be)
{
	struct vw_volume_opts *opts;
	char err[1024];
	int failed = 0;

	if ((opts = calloc(1, sizeof(*opts))) == NULL)
		abort();
	for (size_t i = 0; i < r->nopts; i++) {
		err[0] = '\0';
		if (vw_opt_parse_backend(be, r->opts[i].key, r->opts[i].key_len,
		    r->opts[i].value, r->opts[i].value_len, opts, err,
		    sizeof(err)) < 0) {
			if (err[0] == '\0')
				abort();
			failed = 1;
		}
	}
	if (!failed && vw_opts_check(opts, err, sizeof(err)) < 0) {
		fprintf(stderr, "options accepted by the frontend, refused by "
		    "the helper: %s\n", err);
		abort();
	}
	/* Only the backend's own bits can be set; a conflict must say why. */
	if ((opts->flags & ~vw_opt_mask(be)) != 0)
		abort();
	err[0] = '\0';
	if (!failed && vw_opts_check_backend(be, opts, err, sizeof(err)) < 0 &&
	    err[0] == '\0')
		abort();
	free(opts);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vw_dreq r;
	char err[1024];

	if (vw_dreq_parse((const char *)data, size, &r, err, sizeof(err)) < 0) {
		if (err[0] == '\0')
			abort();
		return 0;
	}
	/* Decoded strings are NUL-terminated at their decoded length. */
	if ((r.name != NULL && r.name[r.name_len] != '\0') ||
	    (r.id != NULL && r.id[r.id_len] != '\0') || r.nopts > VW_MAX_OPTS)
		abort();
	check_name(&r);
	check_opts(&r, VW_BACKEND_DIR);
	check_opts(&r, VW_BACKEND_BTRFS);
	vw_dreq_free(&r);
	return 0;
}
