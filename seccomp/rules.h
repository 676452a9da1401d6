/* The rule-table format shared by seccomp/frontend.c and privhelper.c. */
#ifndef VW_SECCOMP_RULES_H
#define VW_SECCOMP_RULES_H

#include <stddef.h>

#include <seccomp.h>

#include "seccomp/seccomp.h"

/* One rule: allow name (or fail it with errno_value if non-zero) when all
 * of its argument comparisons (at most two) hold. */
struct vw_sc_rule {
	const char		*name;
	int			 errno_value;
	unsigned		 narg;
	struct scmp_arg_cmp	 args[2];
};

#define ALLOW(n)		{ #n, 0, 0, { { 0, 0, 0, 0 }, { 0, 0, 0, 0 } } }
#define ALLOW_IF(n, a)		{ #n, 0, 1, { a, { 0, 0, 0, 0 } } }
#define ALLOW_IF2(n, a, b)	{ #n, 0, 2, { a, b } }
#define DENY(n, e)		{ #n, e, 0, { { 0, 0, 0, 0 }, { 0, 0, 0, 0 } } }
#define DENY_IF(n, e, a)	{ #n, e, 1, { a, { 0, 0, 0, 0 } } }

/* Build the filter from rules and load it (see seccomp.h for modes). */
int vw_seccomp_load(const struct vw_sc_rule *rules, size_t nrules,
    enum vw_seccomp_mode mode, char *err, size_t errlen);

#endif
