/* Decoding of Docker request bodies. */
#include "vw-build.h"

#include <string.h>

#include "frontend/frontend.h"
#include "t/lib/tap.h"

static int
parse(const char *body, size_t len, struct vw_dreq *r, char *err, size_t errlen)
{
	return vw_dreq_parse(body, len, r, err, errlen);
}

#define P(s) parse((s), sizeof(s) - 1, &r, err, sizeof(err))

int
main(void)
{
	struct vw_dreq r;
	char err[512], deep[4096];

	ok(P("{\"Name\":\"data1\",\"Opts\":{\"size\":\"10G\",\"flag\":\"\"}}\n") == 0,
	    "a Create body");
	is_string(r.name, "data1", "name decoded");
	is_int((long long)r.nopts, 2, "two options");
	is_string(r.opts[0].key, "size", "first key");
	is_string(r.opts[1].value, "", "an empty value");
	vw_dreq_free(&r);

	ok(P("{\"Name\":\"v\",\"Opts\":null}") == 0 && !r.has_opts, "Opts null");
	vw_dreq_free(&r);
	ok(P("{\"Name\":\"v\",\"ID\":\"abc\"}") == 0 && strcmp(r.id, "abc") == 0, "ID");
	vw_dreq_free(&r);
	ok(P("{}") == 0 && r.name == NULL, "empty object (List, Capabilities)");
	vw_dreq_free(&r);
	ok(P("{\"Name\":\"v\",\"Future\":true,\"N\":1}") == 0,
	    "unknown scalar keys ignored");
	vw_dreq_free(&r);

	ok(P("{\"Name\":\"ab\\u0000cd\"}") == 0, "escaped NUL decodes");
	is_int((long long)r.name_len, 5, "with its true length");
	ok(strlen(r.name) != r.name_len, "which differs from strlen");
	vw_dreq_free(&r);

	ok(parse("", 0, &r, err, sizeof(err)) < 0, "empty body refused");
	has_string(err, "empty", "and says so");
	ok(P("{\"Name\":") < 0, "truncated JSON refused");
	has_string(err, "not valid JSON", "with a reason");
	ok(P("{\"Name\":1}") < 0, "numeric Name refused");
	is_string(err, "\"Name\" must be a string", "reason");
	ok(P("{\"Name\":\"a\",\"Name\":\"b\"}") < 0, "Name twice refused");
	ok(P("{\"Opts\":{\"a\":1}}") < 0, "non-string option refused");
	ok(P("{\"Opts\":{\"a\":{\"b\":\"c\"}}}") < 0, "nested option refused");
	ok(P("{\"Opts\":{\"a\":\"1\",\"a\":\"2\"}}") < 0, "duplicate option refused");
	ok(P("{\"Opts\":null,\"Opts\":{\"a\":\"b\"}}") < 0, "Opts twice refused");
	ok(P("[1,2]") < 0, "array body refused");
	ok(P("\"str\"") < 0, "string body refused");
	ok(P("{} {}") < 0, "two objects refused");
	ok(P("{\"Name\":\"\xff\xfe\"}") < 0, "invalid UTF-8 refused");
	ok(P("{\"Opts\":{\"mountpoint\":\"a\xc0\xaf\"}}") < 0,
	    "overlong UTF-8 that yajl lets through refused");
	ok(P("{\"Opts\":{\"a\xed\xa0\x80\":\"b\"}}") < 0, "surrogate in a key refused");
	ok(P("{\"X\":[1]}") < 0, "arrays refused");
	memset(deep, '[', sizeof(deep));
	ok(parse(deep, sizeof(deep), &r, err, sizeof(err)) < 0, "deep nesting refused");
	{
		static char many[8192];
		size_t o = 0;

		o += (size_t)snprintf(many + o, sizeof(many) - o, "{\"Opts\":{");
		for (int i = 0; i < 40; i++)
			o += (size_t)snprintf(many + o, sizeof(many) - o, "%s\"k%d\":\"v\"",
			    i ? "," : "", i);
		o += (size_t)snprintf(many + o, sizeof(many) - o, "}}");
		ok(parse(many, o, &r, err, sizeof(err)) < 0, "40 options refused (limit 32)");
	}
	{
		static char huge[8192];
		size_t o = (size_t)snprintf(huge, sizeof(huge), "{\"Name\":\"");

		memset(huge + o, 'a', 5000);
		o += 5000;
		o += (size_t)snprintf(huge + o, sizeof(huge) - o, "\"}");
		ok(parse(huge, o, &r, err, sizeof(err)) < 0, "a 5000-byte string refused");
	}
	return done_testing();
}
