/*
 * Decoding of Docker VolumeDriver request bodies with yajl's event parser.
 * The event API (unlike yajl_tree) gives each string's decoded length, so
 * a name with an embedded \u0000 cannot pass for a shorter one, and it lets
 * us refuse deep nesting and oversized input as we go.
 */
#include "vw-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "common/validate.h"
#include "frontend/frontend.h"

/* Longest string value accepted, in bytes (a mountpoint is the longest
 * legitimate one). */
#define DREQ_STRING_MAX		VW_PATH_MAX

enum key { K_NONE, K_NAME, K_ID, K_OPTS, K_OTHER };

struct pstate {
	struct vw_dreq	*r;
	int		 depth;		/* 1 = top object, 2 = Opts */
	enum key	 key;		/* current top-level key */
	int		 seen_top;
	int		 seen_opts;
	char		*err;
	size_t		 errlen;
};

static int
fail(struct pstate *ps, const char *msg)
{
	if (ps->err[0] == '\0')
		snprintf(ps->err, ps->errlen, "%s", msg);
	return 0;	/* stops yajl */
}

static char *
copy(const unsigned char *s, size_t len)
{
	char *p = malloc(len + 1);

	if (p != NULL) {
		memcpy(p, s, len);
		p[len] = '\0';
	}
	return p;
}

static int
scalar(struct pstate *ps)
{
	/* A non-string scalar.  Only unknown top-level keys may have one;
	 * "Opts": null is handled in cb_null. */
	if (ps->depth == 1 && ps->key == K_OTHER)
		return 1;
	if (ps->depth == 1 && ps->key == K_NAME)
		return fail(ps, "\"Name\" must be a string");
	if (ps->depth == 1 && ps->key == K_ID)
		return fail(ps, "\"ID\" must be a string");
	if (ps->depth == 1 && ps->key == K_OPTS)
		return fail(ps, "\"Opts\" must be an object of strings or null");
	if (ps->depth == 2)
		return fail(ps, "every option value must be a string");
	return fail(ps, "the request body must be a JSON object");
}

static int
cb_null(void *ctx)
{
	struct pstate *ps = ctx;

	if (ps->depth == 1 && ps->key == K_OPTS)
		return 1;
	return scalar(ps);
}

static int
cb_bool(void *ctx, int b)
{
	(void)b;
	return scalar(ctx);
}

static int
cb_number(void *ctx, const char *s, size_t l)
{
	(void)s;
	(void)l;
	return scalar(ctx);
}

static int
cb_string(void *ctx, const unsigned char *s, size_t len)
{
	struct pstate *ps = ctx;
	struct vw_dreq *r = ps->r;

	if (len > DREQ_STRING_MAX)
		return fail(ps, "a string in the request is longer than 4095 bytes");
	if (!vw_utf8_valid((const char *)s, len))
		return fail(ps, "a string in the request is not valid UTF-8");
	if (ps->depth == 2) {
		size_t i = r->nopts - 1;

		r->opts[i].value = copy(s, len);
		r->opts[i].value_len = len;
		return r->opts[i].value != NULL ? 1 : fail(ps, "out of memory");
	}
	if (ps->depth != 1)
		return fail(ps, "the request body must be a JSON object");
	switch (ps->key) {
	case K_NAME:
		if (r->name != NULL)
			return fail(ps, "\"Name\" is given twice");
		r->name = copy(s, len);
		r->name_len = len;
		return r->name != NULL ? 1 : fail(ps, "out of memory");
	case K_ID:
		if (r->id != NULL)
			return fail(ps, "\"ID\" is given twice");
		r->id = copy(s, len);
		r->id_len = len;
		return r->id != NULL ? 1 : fail(ps, "out of memory");
	case K_OPTS:
		return fail(ps, "\"Opts\" must be an object of strings or null");
	default:
		return 1;
	}
}

static int
cb_start_map(void *ctx)
{
	struct pstate *ps = ctx;

	if (ps->depth == 0) {
		if (ps->seen_top)
			return fail(ps, "the request body must be one JSON object");
		ps->seen_top = 1;
		ps->depth = 1;
		return 1;
	}
	if (ps->depth == 1 && ps->key == K_OPTS) {
		if (ps->r->has_opts)
			return fail(ps, "\"Opts\" is given twice");
		ps->r->has_opts = 1;
		ps->depth = 2;
		return 1;
	}
	return fail(ps, "nested objects are only allowed as \"Opts\"");
}

static int
cb_map_key(void *ctx, const unsigned char *k, size_t len)
{
	struct pstate *ps = ctx;
	struct vw_dreq *r = ps->r;

	if (!vw_utf8_valid((const char *)k, len))
		return fail(ps, "a key in the request is not valid UTF-8");
	if (ps->depth == 2) {
		size_t i;

		if (r->nopts >= VW_MAX_OPTS)
			return fail(ps, "too many options (at most 32)");
		if (len > 256)
			return fail(ps, "an option name is longer than 256 bytes");
		for (i = 0; i < r->nopts; i++)
			if (r->opts[i].key_len == len &&
			    memcmp(r->opts[i].key, k, len) == 0)
				return fail(ps, "an option is given twice");
		i = r->nopts++;
		r->opts[i].key = copy(k, len);
		r->opts[i].key_len = len;
		return r->opts[i].key != NULL ? 1 : fail(ps, "out of memory");
	}
#define KEYIS(s) (len == sizeof(s) - 1 && memcmp(k, s, len) == 0)
	if (KEYIS("Name"))
		ps->key = K_NAME;
	else if (KEYIS("ID"))
		ps->key = K_ID;
	else if (KEYIS("Opts")) {
		if (ps->seen_opts)
			return fail(ps, "\"Opts\" is given twice");
		ps->seen_opts = 1;
		ps->key = K_OPTS;
	}
	else
		ps->key = K_OTHER;
#undef KEYIS
	return 1;
}

static int
cb_end_map(void *ctx)
{
	struct pstate *ps = ctx;

	ps->depth--;
	ps->key = K_NONE;
	return 1;
}

static int
cb_start_array(void *ctx)
{
	return fail(ctx, "arrays are not expected in a volume request");
}

static int
cb_end_array(void *ctx)
{
	(void)ctx;
	return 1;
}

static const yajl_callbacks callbacks = {
	.yajl_null = cb_null,
	.yajl_boolean = cb_bool,
	.yajl_number = cb_number,
	.yajl_string = cb_string,
	.yajl_start_map = cb_start_map,
	.yajl_map_key = cb_map_key,
	.yajl_end_map = cb_end_map,
	.yajl_start_array = cb_start_array,
	.yajl_end_array = cb_end_array,
};

int
vw_dreq_parse(const char *body, size_t len, struct vw_dreq *out, char *err,
    size_t errlen)
{
	struct pstate ps;
	yajl_handle h;
	yajl_status st;

	memset(out, 0, sizeof(*out));
	memset(&ps, 0, sizeof(ps));
	ps.r = out;
	ps.err = err;
	ps.errlen = errlen;
	err[0] = '\0';
	if (len == 0) {
		/* dockerd re-sends a failed request with an empty body
		 * (moby/moby#39331): never act on it. */
		snprintf(err, errlen, "the request body is empty (dockerd sends "
		    "an empty body when it retries after a lost connection); "
		    "run the command again");
		return -1;
	}
	if ((h = yajl_alloc(&callbacks, NULL, &ps)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	st = yajl_parse(h, (const unsigned char *)body, len);
	if (st == yajl_status_ok)
		st = yajl_complete_parse(h);
	if (st != yajl_status_ok && err[0] == '\0')
		snprintf(err, errlen, "the request body is not valid JSON (at "
		    "byte %zu)", yajl_get_bytes_consumed(h));
	yajl_free(h);
	if (st == yajl_status_ok && !ps.seen_top) {
		snprintf(err, errlen, "the request body must be a JSON object");
		st = yajl_status_error;
	}
	if (st != yajl_status_ok) {
		vw_dreq_free(out);
		return -1;
	}
	return 0;
}

void
vw_dreq_free(struct vw_dreq *r)
{
	free(r->name);
	free(r->id);
	for (size_t i = 0; i < r->nopts; i++) {
		free(r->opts[i].key);
		free(r->opts[i].value);
	}
	memset(r, 0, sizeof(*r));
}
