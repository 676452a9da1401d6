/*
 * What sanitizer builds (configure --enable-sanitizers, for tests only)
 * need so that the sanitizer settings of a test run (ASAN_OPTIONS,
 * UBSAN_OPTIONS, LSAN_OPTIONS) reach every sanitized process.  In other
 * builds vw_san_env adds nothing and the UBSan hook is not built.
 *
 * common/sanitizers.c is linked into each sanitized program directly
 * (Makefile.am), not through libvwcommon.a: the UBSan runtime looks its
 * hook up by name, so no reference would pull it out of the archive.
 */
#ifndef VW_SANITIZERS_H
#define VW_SANITIZERS_H

#include <stddef.h>

/* Most entries vw_san_env appends. */
#define VW_SAN_ENV_MAX		3

/*
 * Append to envp, which holds n entries and has room for
 * n + VW_SAN_ENV_MAX + 1, this process's ASAN_OPTIONS, UBSAN_OPTIONS and
 * LSAN_OPTIONS entries (the "NAME=value" strings of environ itself, valid
 * while the environment is not changed) in sanitizer builds, then a NULL.
 * Returns the new count (without the NULL).  Children get no other
 * environment (helpers, the mkfs runner), so without this a sanitized
 * child ran with the runtime's defaults: UBSan reports there halted
 * nothing and failed no test.
 */
size_t vw_san_env(char **envp, size_t n);

#endif
