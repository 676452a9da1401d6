/* Rule-table loader shared by both filters. */
#include "vw-build.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <seccomp.h>

#include "seccomp/seccomp.h"
#include "seccomp/rules.h"

int
vw_seccomp_parse_mode(const char *s, enum vw_seccomp_mode *mode)
{
	if (strcmp(s, "kill") == 0)
		*mode = VW_SECCOMP_KILL;
	else if (strcmp(s, "trap") == 0)
		*mode = VW_SECCOMP_TRAP;
	else if (strcmp(s, "log") == 0)
		*mode = VW_SECCOMP_LOG;
	else if (strcmp(s, "off") == 0)
		*mode = VW_SECCOMP_OFF;
	else
		return -1;
	return 0;
}

const char *
vw_seccomp_mode_name(enum vw_seccomp_mode mode)
{
	static const char *const names[] = { "kill", "trap", "log", "off" };

	return names[mode];
}

/* Trap mode: name the offending syscall number, then die.  Only
 * async-signal-safe calls here. */
static void
sigsys_handler(int sig, siginfo_t *si, void *ctx)
{
	char msg[96];
	int n;

	(void)sig;
	(void)ctx;
	n = snprintf(msg, sizeof(msg), "volwarden: seccomp: syscall %d is not "
	    "in the allowlist\n", si->si_syscall);
	if (n > 0)
		(void)!write(STDERR_FILENO, msg, (size_t)n);
	_exit(99);
}

int
vw_seccomp_load(const struct vw_sc_rule *rules, size_t nrules,
    enum vw_seccomp_mode mode, char *err, size_t errlen)
{
	uint32_t def;
	scmp_filter_ctx ctx;
	int rc;

	switch (mode) {
	case VW_SECCOMP_OFF:
		return 0;
	case VW_SECCOMP_TRAP: {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = sigsys_handler;
		sa.sa_flags = SA_SIGINFO;
		if (sigaction(SIGSYS, &sa, NULL) < 0) {
			snprintf(err, errlen, "sigaction(SIGSYS): %s", strerror(errno));
			return -1;
		}
		def = SCMP_ACT_TRAP;
		break;
	}
	case VW_SECCOMP_LOG:
		def = SCMP_ACT_LOG;
		break;
	default:
		def = SCMP_ACT_KILL_PROCESS;
	}
	if ((ctx = seccomp_init(def)) == NULL) {
		snprintf(err, errlen, "seccomp_init failed");
		return -1;
	}
	for (size_t i = 0; i < nrules; i++) {
		const struct vw_sc_rule *r = &rules[i];
		int nr = seccomp_syscall_resolve_name(r->name);
		uint32_t action = r->errno_value ? SCMP_ACT_ERRNO((uint32_t)r->errno_value) :
		    SCMP_ACT_ALLOW;

		if (nr == __NR_SCMP_ERROR) {
			/* Not a syscall on this architecture (e.g. open on
			 * arm64): nothing to allow. */
			continue;
		}
		if (r->narg == 0)
			rc = seccomp_rule_add(ctx, action, nr, 0);
		else if (r->narg == 1)
			rc = seccomp_rule_add(ctx, action, nr, 1, r->args[0]);
		else
			rc = seccomp_rule_add(ctx, action, nr, 2, r->args[0],
			    r->args[1]);
		if (rc < 0) {
			snprintf(err, errlen, "seccomp rule for %s: %s", r->name,
			    strerror(-rc));
			seccomp_release(ctx);
			return -1;
		}
	}
	if ((rc = seccomp_load(ctx)) < 0) {
		snprintf(err, errlen, "seccomp_load: %s", strerror(-rc));
		seccomp_release(ctx);
		return -1;
	}
	seccomp_release(ctx);
	return 0;
}
