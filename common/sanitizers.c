/*
 * Sanitizer builds: the settings of the test run reach every sanitized
 * process.  See sanitizers.h.
 */
#include "vw-build.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/sanitizers.h"

size_t
vw_san_env(char **envp, size_t n)
{
#ifdef VW_SANITIZERS
	static const char *const names[VW_SAN_ENV_MAX] = {
		"ASAN_OPTIONS=", "UBSAN_OPTIONS=", "LSAN_OPTIONS="
	};

	for (size_t i = 0; i < VW_SAN_ENV_MAX; i++)
		for (char **e = environ; e != NULL && *e != NULL; e++)
			if (strncmp(*e, names[i], strlen(names[i])) == 0) {
				envp[n++] = *e;
				break;
			}
#endif
	envp[n] = NULL;
	return n;
}

#ifdef VW_SANITIZERS
/* UBSAN_OPTIONS as the process started with it (the mkfs runner clears
 * its environment), or NULL. */
static const char *ubsan_options;

static void __attribute__((constructor))
save_ubsan_options(void)
{
	const char *s = getenv("UBSAN_OPTIONS");

	ubsan_options = s != NULL ? strdup(s) : NULL;
}

/*
 * UBSan reads UBSAN_OPTIONS only when it first reports, and from
 * /proc/self/environ, not from environ.  By then the frontend and the mkfs
 * runner have changed their uid, which makes them non-dumpable and that
 * file root's (mode 0400): the read fails, and halt_on_error and
 * print_stacktrace were silently lost -- a report neither stopped the
 * process nor failed a test.  The runtime parses this hook's string
 * first; what we saved at start-up is still ours to read.
 */
const char *__ubsan_default_options(void);

const char *
__ubsan_default_options(void)
{
	return ubsan_options != NULL ? ubsan_options : "";
}
#endif
