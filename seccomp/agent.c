/*
 * The gfapi agent's allowlist (gluster/agent.c).  The agent runs as the
 * frontend's user with no capabilities; this filter keeps it to what
 * gfapi's client needs: its threads, TCP and unix sockets to the Gluster
 * servers, epoll, its log file, and loading translators (dlopen: file
 * mappings with PROT_EXEC).  No execve, no ptrace, no mount, no
 * credential changes, and signals only to its own threads.  Other socket
 * families and ioctls kill it (isatty's TCGETS fails).  It is
 * installed before gfapi starts any thread, so every thread inherits it.
 */
#include "vw-build.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "seccomp/rules.h"

static const struct vw_sc_rule agent_rules[] = {
	/* Files: gfapi's log, translator libraries, /proc and /etc reads
	 * (nsswitch, hosts), and the channel to the privhelper. */
	ALLOW(read), ALLOW(write), ALLOW(readv), ALLOW(writev),
	ALLOW(pread64), ALLOW(pwrite64), ALLOW(close), ALLOW(lseek),
	ALLOW(openat), ALLOW(newfstatat), ALLOW(fstat), ALLOW(statx),
	ALLOW(fstatfs), ALLOW(statfs), ALLOW(access), ALLOW(faccessat),
	ALLOW(faccessat2), ALLOW(readlink), ALLOW(readlinkat),
	ALLOW(getdents64), ALLOW(uname), ALLOW(fcntl), ALLOW(dup),
	ALLOW(dup2), ALLOW(dup3), ALLOW(fsync), ALLOW(fdatasync),
	/* gfapi makes its log directory (mkdir -p); the agent cannot write
	 * where it has no permission anyway. */
	ALLOW(mkdir), ALLOW(mkdirat), ALLOW(unlink), ALLOW(unlinkat),

	/* Memory.  dlopen maps translator code PROT_EXEC (from files);
	 * mprotect never adds PROT_EXEC. */
	ALLOW(brk), ALLOW(mmap), ALLOW(munmap), ALLOW(mremap),
	ALLOW(madvise), ALLOW(membarrier),
	ALLOW_IF(mprotect, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)),

	/* Threads, time, signals. */
	ALLOW(clone), ALLOW(clone3), ALLOW(set_robust_list),
	ALLOW(get_robust_list), ALLOW(rseq), ALLOW(futex), ALLOW(gettid),
	ALLOW(getpid), ALLOW(getppid), ALLOW(set_tid_address),
	ALLOW(sched_yield), ALLOW(sched_getaffinity), ALLOW(getcpu),
	ALLOW_IF(prctl, SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME)),
	ALLOW_IF(prctl, SCMP_A0(SCMP_CMP_EQ, PR_GET_NAME)),
	ALLOW(clock_gettime), ALLOW(clock_getres), ALLOW(gettimeofday),
	ALLOW(time), ALLOW(clock_nanosleep), ALLOW(nanosleep),
	ALLOW(rt_sigaction), ALLOW(rt_sigprocmask), ALLOW(rt_sigreturn),
	ALLOW(rt_sigtimedwait), ALLOW(rt_sigsuspend), ALLOW(sigaltstack),
	ALLOW(restart_syscall), ALLOW(exit), ALLOW(exit_group),

	/* Events and the network. */
	ALLOW(epoll_create), ALLOW(epoll_create1), ALLOW(epoll_ctl),
	ALLOW(epoll_wait), ALLOW(epoll_pwait), ALLOW(poll), ALLOW(ppoll),
	ALLOW(select), ALLOW(pselect6), ALLOW(pipe), ALLOW(pipe2),
	ALLOW(eventfd2),
	ALLOW_IF(socket, SCMP_A0(SCMP_CMP_EQ, AF_INET)),
	ALLOW_IF(socket, SCMP_A0(SCMP_CMP_EQ, AF_INET6)),
	ALLOW_IF(socket, SCMP_A0(SCMP_CMP_EQ, AF_UNIX)),
	ALLOW(connect), ALLOW(bind), ALLOW(setsockopt), ALLOW(getsockopt),
	ALLOW(getsockname), ALLOW(getpeername), ALLOW(shutdown),
	ALLOW(sendmsg), ALLOW(recvmsg), ALLOW(sendto), ALLOW(recvfrom),
	ALLOW(sendmmsg), ALLOW(recvmmsg),
	ALLOW_IF(ioctl, SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, FIONBIO)),
	ALLOW_IF(ioctl, SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, FIONREAD)),
	DENY_IF(ioctl, ENOTTY, SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TCGETS)),

	/* Identity and limits (read only). */
	ALLOW(getuid), ALLOW(geteuid), ALLOW(getgid), ALLOW(getegid),
	ALLOW(getgroups), ALLOW(getresuid), ALLOW(getresgid),
	ALLOW(getrandom), ALLOW(sysinfo), ALLOW(getrusage),
	ALLOW(getrlimit), ALLOW_IF(prlimit64, SCMP_A2(SCMP_CMP_EQ, 0)),
};

int
vw_seccomp_agent(enum vw_seccomp_mode mode, char *err, size_t errlen)
{
	enum { N = sizeof(agent_rules) / sizeof(agent_rules[0]) };
	struct vw_sc_rule rules[N + 2];
	pid_t self = getpid();

	memcpy(rules, agent_rules, sizeof(agent_rules));
	/* Signals only to this process's own threads. */
	rules[N] = (struct vw_sc_rule)ALLOW_IF(tgkill,
	    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)self));
	rules[N + 1] = (struct vw_sc_rule)ALLOW_IF(kill,
	    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)self));
	return vw_seccomp_load(rules, N + 2, mode, err, errlen);
}
