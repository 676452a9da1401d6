/*
 * Logging for both processes, in the shape of OpenBSD daemons' log.c.
 *
 * In the foreground, lines go to stderr as "volwarden[frontend]: LEVEL: msg".
 * Otherwise they go to syslog (opened with LOG_NDELAY by log_init, so the
 * socket exists before any sandbox).  Tests may replace the sink.
 */
#ifndef VW_LOG_H
#define VW_LOG_H

#include <stdarg.h>

/* Severity levels, mapped to syslog priorities by the default sink. */
enum vw_log_level { VW_LOG_ERR, VW_LOG_WARN, VW_LOG_INFO, VW_LOG_DEBUG };

/* A log sink receives one formatted line without a trailing newline. */
typedef void (*vw_log_sink)(enum vw_log_level level, const char *line);

/* Set up logging: foreground != 0 logs to stderr; debug != 0 enables
 * log_debug.  Safe to call again (e.g. after daemonising). */
void log_init(int foreground, int debug);
/* Name this process in every following line ("frontend", "privhelper"). */
void log_procinit(const char *procname);
/* Replace the sink (NULL restores the default).  For tests. */
void log_set_sink(vw_log_sink sink);
/* Whether log_debug lines are emitted. */
int log_debug_enabled(void);
/* Whether lines go to stderr (foreground) rather than syslog. */
int log_foreground_enabled(void);

/* log_warn appends ": strerror(errno)"; the x variants do not. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Log at error level and exit(1).  fatal appends strerror(errno). */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
