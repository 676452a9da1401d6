/*
 * The frontend's allowlist.  After start-up the frontend only runs its
 * libevent loop: accept and serve HTTP on inherited listening sockets
 * (the drivers' and the admin socket), talk to the helpers over inherited
 * SEQPACKET channels, append to its state files (opened relative to its
 * state directory fd) and reap its helpers.  It never creates sockets,
 * executes programs, mounts, traces or loads anything.
 */
#include "vw-build.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "seccomp/rules.h"

static const struct vw_sc_rule frontend_rules[] = {
	/* Event loop and time. */
	ALLOW(epoll_create1), ALLOW(epoll_ctl), ALLOW(epoll_wait),
	ALLOW(epoll_pwait), ALLOW(poll), ALLOW(ppoll),
	ALLOW(clock_gettime), ALLOW(gettimeofday), ALLOW(time),
	ALLOW(clock_nanosleep), ALLOW(nanosleep),

	/* Connections from dockerd and volwardenctl, the helper channels.
	 * getsockopt also reads SO_PEERCRED of admin peers; sendto also
	 * sends READY=1 and STOPPING=1 on the notify socket connected
	 * before the sandbox. */
	ALLOW(accept), ALLOW(accept4), ALLOW(read), ALLOW(readv),
	ALLOW(write), ALLOW(writev), ALLOW(recvfrom), ALLOW(sendto),
	ALLOW(recvmsg), ALLOW(sendmsg), ALLOW(shutdown), ALLOW(close),
	ALLOW(getsockopt), ALLOW(setsockopt), ALLOW(getpeername),
	ALLOW(getsockname),
	ALLOW_IF(fcntl, SCMP_A1(SCMP_CMP_EQ, F_GETFL)),
	ALLOW_IF(fcntl, SCMP_A1(SCMP_CMP_EQ, F_SETFL)),
	ALLOW_IF(fcntl, SCMP_A1(SCMP_CMP_EQ, F_GETFD)),
	ALLOW_IF(fcntl, SCMP_A1(SCMP_CMP_EQ, F_SETFD)),

	/* The state store (files under the state and run directory fds),
	 * and /proc/self/status for the admin API's GET /v1/status. */
	ALLOW(openat), ALLOW(pread64), ALLOW(pwrite64), ALLOW(lseek),
	ALLOW(fstat), ALLOW(newfstatat), ALLOW(statx), ALLOW(fsync),
	ALLOW(fdatasync), ALLOW(ftruncate), ALLOW(renameat),
	ALLOW(renameat2), ALLOW(unlinkat),

	/* Memory: never executable. */
	ALLOW(brk), ALLOW(munmap), ALLOW(mremap), ALLOW(madvise),
	ALLOW_IF(mmap, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)),
	ALLOW_IF(mprotect, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)),

	/* Signals, reaping the helpers, exit. */
	ALLOW(rt_sigaction), ALLOW(rt_sigprocmask), ALLOW(rt_sigreturn),
	ALLOW(sigaltstack), ALLOW(restart_syscall), ALLOW(wait4),
	ALLOW(getpid), ALLOW(gettid), ALLOW(tgkill), ALLOW(futex),
	ALLOW(getrandom), ALLOW(exit), ALLOW(exit_group),

	/* glibc's qsort asks for the memory size (sysconf(_SC_PHYS_PAGES))
	 * before sorting more than 1 KiB: the admin API's volume list. */
	ALLOW(sysinfo),

	/* Harmless probes fail instead of killing: syslog(3) reconnecting
	 * after syslogd restarted, isatty(3) from stdio. */
	DENY_IF(socket, EACCES, SCMP_A0(SCMP_CMP_EQ, AF_UNIX)),
	DENY(ioctl, ENOTTY),
};

int
vw_seccomp_frontend(enum vw_seccomp_mode mode, char *err, size_t errlen)
{
	return vw_seccomp_load(frontend_rules,
	    sizeof(frontend_rules) / sizeof(frontend_rules[0]), mode, err, errlen);
}
