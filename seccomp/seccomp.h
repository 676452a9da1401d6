/*
 * seccomp allowlists for both processes (libseccomp).  The default action
 * is to kill the whole process; a short list of harmless probes fails with
 * an errno instead.  Installing a filter is the last step of start-up,
 * just before the first request; failure to install is fatal.
 */
#ifndef VW_SECCOMP_H
#define VW_SECCOMP_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

/* What a syscall outside the allowlist does. */
enum vw_seccomp_mode {
	VW_SECCOMP_KILL,	/* kill the process (SIGSYS): production */
	VW_SECCOMP_TRAP,	/* SIGSYS handler logs the syscall number, exits */
	VW_SECCOMP_LOG,		/* allow, but the kernel logs it (audit) */
	VW_SECCOMP_OFF,		/* no filter (sanitizer builds, debugging) */
};

/* Parse "kill", "trap", "log" or "off".  Returns 0 or -1. */
int vw_seccomp_parse_mode(const char *s, enum vw_seccomp_mode *mode);
const char *vw_seccomp_mode_name(enum vw_seccomp_mode mode);

/* Install the frontend's filter: event loop, unix-socket I/O, the state
 * files, no new sockets, no exec, no mount, ptrace, module or key calls.
 * Returns 0, or -1 with a sentence in err. */
int vw_seccomp_frontend(enum vw_seccomp_mode mode, char *err, size_t errlen);

/* Install the privhelper's filter for a driver of backend: *at() file
 * operations, fchown/fchmod, message I/O on the inherited channel; no
 * socket, connect, exec, mount or ptrace.  dir: every ioctl fails with
 * ENOTTY.  btrfs: only the listed BTRFS_IOC_* and FS_IOC_*FLAGS ioctls,
 * fsetxattr and statfs in addition.  Returns 0, or -1 with err. */
int vw_seccomp_privhelper(enum vw_seccomp_mode mode,
    enum vw_backend_type backend, char *err, size_t errlen);

/* Install the gfapi agent's filter (seccomp/agent.c): threads, TCP and
 * unix sockets, epoll, file reads and translator loading; no exec,
 * ptrace, mount or credential changes, signals only to itself.  Install
 * it before gfapi starts threads.  Returns 0, or -1 with err. */
int vw_seccomp_agent(enum vw_seccomp_mode mode, char *err, size_t errlen);

#endif
