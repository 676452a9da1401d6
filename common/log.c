/* Logging to stderr or syslog; see log.h. */
#include "vw-build.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "log.h"

static int log_foreground = 1;
static int log_verbose;
static const char *log_proc = "volwarden";
static vw_log_sink log_sink;

static const char *const level_names[] = { "error", "warning", "info", "debug" };

void
log_init(int foreground, int debug)
{
	log_foreground = foreground;
	log_verbose = debug;
	if (!foreground)
		openlog("volwarden", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_procinit(const char *procname)
{
	log_proc = procname;
}

void
log_set_sink(vw_log_sink sink)
{
	log_sink = sink;
}

int
log_foreground_enabled(void)
{
	return log_foreground;
}

int
log_debug_enabled(void)
{
	return log_verbose;
}

static void vlog(enum vw_log_level, int, const char *, va_list)
    __attribute__((format(printf, 3, 0)));

static void
vlog(enum vw_log_level level, int with_errno, const char *fmt, va_list ap)
{
	char msg[2048], line[2200];
	int saved = errno;
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (with_errno) {
		size_t n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(saved));
	}
	if (log_sink != NULL) {
		log_sink(level, msg);
	} else if (log_foreground) {
		snprintf(line, sizeof(line), "volwarden[%s]: %s: %s\n",
		    log_proc, level_names[level], msg);
		fputs(line, stderr);
	} else {
		syslog(prio[level], "%s: %s", log_proc, msg);
	}
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(VW_LOG_WARN, 1, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(VW_LOG_WARN, 0, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(VW_LOG_INFO, 0, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	vlog(VW_LOG_DEBUG, 0, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(VW_LOG_ERR, 1, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(VW_LOG_ERR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
