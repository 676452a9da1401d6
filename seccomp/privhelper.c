/*
 * The privhelper's allowlist for the dir backend.  The helper reads one
 * message at a time from its inherited channel and works on directory
 * trees with *at() calls relative to root fds it opened at start-up.  It
 * may not create sockets (a root process that could connect to
 * /run/docker.sock would be root on the host), execute programs, mount,
 * trace, or change its credentials.
 */
#include "vw-build.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "seccomp/rules.h"

static const struct vw_sc_rule privhelper_rules[] = {
	/* The channel and logging. */
	ALLOW(recvmsg), ALLOW(sendmsg), ALLOW(sendto), ALLOW(read),
	ALLOW(write), ALLOW(writev), ALLOW(close),
	ALLOW(poll), ALLOW(ppoll),	/* EOF vs. an empty datagram */

	/* Confined file operations (privhelper/resolve.c, backends/dir.c). */
	ALLOW(openat), ALLOW(openat2), ALLOW(mkdirat), ALLOW(fchown),
	ALLOW(fchmod), ALLOW(fstat), ALLOW(newfstatat), ALLOW(statx),
	ALLOW(getdents64), ALLOW(unlinkat), ALLOW(renameat),
	ALLOW(renameat2), ALLOW(lseek), ALLOW(dup),
	ALLOW(unlink),		/* the driver socket, at exit */
	ALLOW_IF(fcntl, SCMP_A1(SCMP_CMP_EQ, F_GETFL)),
	ALLOW_IF(fcntl, SCMP_A1(SCMP_CMP_EQ, F_GETFD)),
	ALLOW_IF(fcntl, SCMP_A1(SCMP_CMP_EQ, F_SETFD)),
	ALLOW_IF(fcntl, SCMP_A1(SCMP_CMP_EQ, F_DUPFD_CLOEXEC)),

	/* Memory: never executable. */
	ALLOW(brk), ALLOW(munmap), ALLOW(mremap), ALLOW(madvise),
	ALLOW_IF(mmap, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)),
	ALLOW_IF(mprotect, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)),

	/* Time, signals, exit. */
	ALLOW(clock_gettime), ALLOW(gettimeofday), ALLOW(time),
	ALLOW(rt_sigaction), ALLOW(rt_sigprocmask), ALLOW(rt_sigreturn),
	ALLOW(restart_syscall), ALLOW(getpid), ALLOW(gettid),
	ALLOW(getppid), ALLOW(tgkill), ALLOW(futex), ALLOW(getrandom),
	ALLOW(exit), ALLOW(exit_group),

	/* syslog(3) reconnecting fails quietly instead of killing; every
	 * other socket family is killed. */
	DENY_IF(socket, EACCES, SCMP_A0(SCMP_CMP_EQ, AF_UNIX)),
	DENY(ioctl, ENOTTY),
};

int
vw_seccomp_privhelper(enum vw_seccomp_mode mode, char *err, size_t errlen)
{
	return vw_seccomp_load(privhelper_rules,
	    sizeof(privhelper_rules) / sizeof(privhelper_rules[0]), mode, err,
	    errlen);
}
