/*
 * libFuzzer harness: the input is the text of a configuration file.  It
 * is parsed, validated, printed and freed as vw_config_load() and
 * `volwarden --check` do.  For a valid config it also asserts the
 * round trip the golden tests rely on: the canonical print parses and
 * validates back to a config with the same digest.
 */
#include "vw-build.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
round_trip(const struct vw_config *cfg)
{
	struct vw_config again;
	char *buf = NULL, err[1024];
	size_t len = 0;
	FILE *fp;

	if ((fp = open_memstream(&buf, &len)) == NULL)
		abort();
	vw_config_print(cfg, fp);
	if (fclose(fp) != 0)
		abort();
	if (vw_config_parse(&again, buf, "printed", err, sizeof(err)) < 0 ||
	    vw_config_validate(&again, err, sizeof(err)) < 0) {
		fprintf(stderr, "the canonical print does not load: %s\n%s",
		    err, buf);
		abort();
	}
	if (vw_config_digest(&again) != vw_config_digest(cfg)) {
		fprintf(stderr, "the canonical print loads differently:\n%s", buf);
		abort();
	}
	vw_config_free(&again);
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	struct vw_config cfg;
	char *text, err[1024];

	if (devnull == NULL && (devnull = fopen("/dev/null", "w")) == NULL)
		abort();
	/* vw_config_load reads the file into a NUL-terminated buffer. */
	if ((text = malloc(size + 1)) == NULL)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	err[0] = '\0';
	if (vw_config_parse(&cfg, text, "fuzz.json", err, sizeof(err)) == 0) {
		if (vw_config_validate(&cfg, err, sizeof(err)) == 0) {
			vw_config_print(&cfg, devnull);
			round_trip(&cfg);
		} else if (err[0] == '\0')
			abort();
	} else if (err[0] == '\0')
		abort();
	vw_config_free(&cfg);
	free(text);
	return 0;
}
