/*
 * Our own small TAP producer for C unit tests (TAP version 12, read by
 * automake's tap-driver.sh).  Not thread-safe.
 */
#ifndef VW_TAP_H
#define VW_TAP_H

#include <stddef.h>

/* Print the plan "1..n". */
void plan(int n);
/* Print the plan from the number of tests run; returns the exit status
 * for main (0 if every test passed). */
int done_testing(void);
/* One test result; returns cond. */
int ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Compare integers / strings, printing both on failure. */
int is_int(long long got, long long want, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int is_string(const char *got, const char *want, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* got contains want as a substring. */
int has_string(const char *got, const char *want, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A "# ..." diagnostic line. */
void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Abort the whole run ("Bail out!"). */
void bail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* A fresh temporary directory (mkdtemp under /tmp); removed at exit. */
const char *tap_tmpdir(void);

#endif
