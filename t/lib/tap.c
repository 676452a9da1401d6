/* TAP helpers for C unit tests; see tap.h. */
#include "vw-build.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "t/lib/tap.h"

static int tests_run, tests_failed;
static char tmpdir[64];

void
plan(int n)
{
	printf("1..%d\n", n);
	fflush(stdout);
}

int
done_testing(void)
{
	printf("1..%d\n", tests_run);
	fflush(stdout);
	return tests_failed ? 1 : 0;
}

static int
vok(int cond, const char *fmt, va_list ap)
{
	tests_run++;
	if (!cond)
		tests_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tests_run);
	vprintf(fmt, ap);
	putchar('\n');
	fflush(stdout);
	return cond;
}

int
ok(int cond, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vok(cond, fmt, ap);
	va_end(ap);
	return cond;
}

int
is_int(long long got, long long want, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vok(got == want, fmt, ap);
	va_end(ap);
	if (got != want)
		diag("got %lld, expected %lld", got, want);
	return got == want;
}

int
is_string(const char *got, const char *want, const char *fmt, ...)
{
	int cond = got != NULL && want != NULL && strcmp(got, want) == 0;
	va_list ap;

	va_start(ap, fmt);
	vok(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		diag("got \"%s\", expected \"%s\"", got ? got : "(null)",
		    want ? want : "(null)");
	return cond;
}

int
has_string(const char *got, const char *want, const char *fmt, ...)
{
	int cond = got != NULL && strstr(got, want) != NULL;
	va_list ap;

	va_start(ap, fmt);
	vok(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		diag("\"%s\" does not contain \"%s\"", got ? got : "(null)", want);
	return cond;
}

void
diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

void
bail(const char *fmt, ...)
{
	va_list ap;

	fputs("Bail out! ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	exit(1);
}

static void
rm_tmpdir(void)
{
	char cmd[128];

	if (tmpdir[0] == '\0')
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
}

const char *
tap_tmpdir(void)
{
	if (tmpdir[0] == '\0') {
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/vwunit.XXXXXX");
		if (mkdtemp(tmpdir) == NULL)
			bail("mkdtemp failed");
		atexit(rm_tmpdir);
	}
	return tmpdir;
}
