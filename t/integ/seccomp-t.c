/*
 * Each seccomp filter, installed in a child, kills it with SIGSYS on a
 * forbidden call and lets allowed calls through.
 */
#include "vw-build.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/btrfs.h>
#include <linux/keyctl.h>
#include <linux/loop.h>
#include <termios.h>
#include <sys/ioctl.h>
#include <sched.h>

#include "common/config.h"
#include "seccomp/seccomp.h"
#include "t/lib/tap.h"

enum which { FRONTEND, PRIVHELPER, PRIVHELPER_BTRFS, PRIVHELPER_LOOP };

static int
install(enum which w)
{
	char err[512];
	int rc = w == FRONTEND ? vw_seccomp_frontend(VW_SECCOMP_KILL, err, sizeof(err)) :
	    vw_seccomp_privhelper(VW_SECCOMP_KILL, w == PRIVHELPER_BTRFS ?
	    VW_BACKEND_BTRFS : w == PRIVHELPER_LOOP ? VW_BACKEND_LOOP :
	    VW_BACKEND_DIR, err, sizeof(err));

	if (rc < 0) {
		fprintf(stderr, "install: %s\n", err);
		_exit(100);
	}
	return 0;
}

/* The forbidden (or probing) actions.  Each returns only if not killed. */
static long act_mount(void) { return syscall(SYS_mount, "none", "/mnt", "tmpfs", 0, NULL); }
static long act_execve(void)
{
	static char prog[] = "/bin/true";
	char *argv[] = { prog, NULL }, *envp[] = { NULL };

	return syscall(SYS_execve, prog, argv, envp);
}
static long act_inet(void) { return syscall(SYS_socket, AF_INET, SOCK_STREAM, 0); }
static long act_netlink(void) { return syscall(SYS_socket, AF_NETLINK, SOCK_RAW, 0); }
static long act_ptrace(void) { return syscall(SYS_ptrace, 0, 0, 0, 0); }
static long act_keyctl(void) { return syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, 0, 0); }
static long act_init_module(void) { return syscall(SYS_init_module, NULL, 0, ""); }
static long act_unshare(void) { return syscall(SYS_unshare, CLONE_NEWNS); }
static long act_setns(void) { return syscall(SYS_setns, 0, 0); }
static long act_connect(void) { return syscall(SYS_connect, 0, NULL, 0); }
static long act_kill(void) { return syscall(SYS_kill, 1, 0); }
static long act_setuid(void) { return syscall(SYS_setuid, 0); }
static long act_bpf(void) { return syscall(SYS_bpf, 0, NULL, 0); }
static long act_userfaultfd(void) { return syscall(SYS_userfaultfd, 0); }
static long act_io_uring(void) { return syscall(SYS_io_uring_setup, 1, NULL); }
static long act_mmap_exec(void)
{
	return (long)syscall(SYS_mmap, NULL, 4096, PROT_READ | PROT_EXEC,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}
static long act_mkdirat(void) { return syscall(SYS_mkdirat, AT_FDCWD, "/tmp/vw-no", 0700); }
static long act_fchown(void) { return syscall(SYS_fchown, 0, 0, 0); }
static long act_accept(void) { return syscall(SYS_accept4, -1, NULL, NULL, 0); }
static long act_pivot_root(void) { return syscall(SYS_pivot_root, "/", "/"); }
static long act_open_by_handle(void) { return syscall(SYS_open_by_handle_at, -1, NULL, 0); }
static long act_mknodat(void) { return syscall(SYS_mknodat, AT_FDCWD, "/tmp/vw-n", 0600, 0); }

/* ioctl: the btrfs filter allows its listed numbers (here failing with
 * EBADF on fd -1) and kills on any other; isatty's probe gets ENOTTY. */
static long act_ioctl_loop(void) { return syscall(SYS_ioctl, -1, LOOP_SET_FD, 0); }
static long act_ioctl_quota(void)
{
	return syscall(SYS_ioctl, -1, BTRFS_IOC_QUOTA_CTL, NULL) < 0 &&
	    errno == EBADF ? 0 : -1;
}
static long act_ioctl_tcgets(void)
{
	struct termios t;

	return syscall(SYS_ioctl, 0, TCGETS, &t) < 0 && errno == ENOTTY ? 0 : -1;
}
static long act_ioctl_snap_destroy_enotty(void)
{
	/* The dir filter answers every ioctl with ENOTTY. */
	return syscall(SYS_ioctl, -1, BTRFS_IOC_SNAP_DESTROY, NULL) < 0 &&
	    errno == ENOTTY ? 0 : -1;
}

/* The loop filter: its loop ioctls (EBADF on fd -1), mount with exactly
 * nosuid,nodev (ENOENT: no such target), umount2 with UMOUNT_NOFOLLOW;
 * a bind mount, a plain umount2 and fork are killed. */
static long act_ioctl_get_free(void)
{
	return syscall(SYS_ioctl, -1, LOOP_CTL_GET_FREE) < 0 &&
	    errno == EBADF ? 0 : -1;
}
static long act_ioctl_configure(void)
{
	return syscall(SYS_ioctl, -1, LOOP_CONFIGURE, NULL) < 0 &&
	    errno == EBADF ? 0 : -1;
}
static long act_mount_nosuid(void)
{
	return syscall(SYS_mount, "/dev/null", "/nonexistent-vw/x", "ext4",
	    MS_NOSUID | MS_NODEV, NULL) < 0 && errno == ENOENT ? 0 : -1;
}
static long act_mount_bind(void)
{
	return syscall(SYS_mount, "/", "/nonexistent-vw/x", NULL, MS_BIND, NULL);
}
static long act_umount_nofollow(void)
{
	return syscall(SYS_umount2, "/nonexistent-vw/x", UMOUNT_NOFOLLOW) < 0 &&
	    errno == ENOENT ? 0 : -1;
}
static long act_umount_plain(void) { return syscall(SYS_umount2, "/nonexistent-vw/x", 0); }
static long act_fork(void) { return syscall(SYS_fork); }

/* Allowed: must return normally. */
static long act_getpid(void) { return syscall(SYS_getpid) > 0 ? 0 : -1; }
static long act_unix_socket(void)
{
	/* A probe that fails with EACCES instead of killing. */
	return syscall(SYS_socket, AF_UNIX, SOCK_DGRAM, 0) < 0 && errno == EACCES ? 0 : -1;
}

/* Run act in a child under filter w; return its wait status. */
static int
run(enum which w, long (*act)(void))
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		bail("fork");
	if (pid == 0) {
		/* Leave by the raw syscall: sanitizer runtimes hook _exit
		 * and would run syscalls of their own under the filter. */
		install(w);
		syscall(SYS_exit_group, act() == 0 ? 0 : 1);
	}
	if (waitpid(pid, &status, 0) < 0)
		bail("waitpid");
	return status;
}

static void
killed(enum which w, const char *wname, const char *what, long (*act)(void))
{
	int st = run(w, act);

	if (!ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "%s: %s dies by SIGSYS",
	    wname, what))
		diag("status 0x%x", st);
}

static void
allowed(enum which w, const char *wname, const char *what, long (*act)(void))
{
	int st = run(w, act);

	if (!ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: %s is allowed", wname, what))
		diag("status 0x%x", st);
}

int
main(void)
{
	static const struct {
		const char *what;
		long (*act)(void);
	} both[] = {
		{ "mount", act_mount }, { "execve", act_execve },
		{ "socket(AF_INET)", act_inet }, { "socket(AF_NETLINK)", act_netlink },
		{ "ptrace", act_ptrace }, { "keyctl", act_keyctl },
		{ "init_module", act_init_module }, { "unshare(CLONE_NEWNS)", act_unshare },
		{ "setns", act_setns }, { "connect", act_connect },
		{ "kill(1)", act_kill }, { "setuid(0)", act_setuid }, { "bpf", act_bpf },
		{ "userfaultfd", act_userfaultfd }, { "io_uring_setup", act_io_uring },
		{ "mmap(PROT_EXEC)", act_mmap_exec }, { "pivot_root", act_pivot_root },
		{ "open_by_handle_at", act_open_by_handle }, { "mknodat", act_mknodat },
	};
	const char *names[] = { "frontend", "privhelper" };

	for (int w = FRONTEND; w <= PRIVHELPER; w++) {
		allowed(w, names[w], "getpid", act_getpid);
		allowed(w, names[w], "socket(AF_UNIX) failing with EACCES",
		    act_unix_socket);
		for (size_t i = 0; i < sizeof(both) / sizeof(both[0]); i++)
			killed(w, names[w], both[i].what, both[i].act);
	}
	killed(FRONTEND, "frontend", "mkdirat", act_mkdirat);
	killed(FRONTEND, "frontend", "fchown", act_fchown);
	killed(PRIVHELPER, "privhelper", "accept4", act_accept);
	allowed(PRIVHELPER, "privhelper (dir)", "a btrfs ioctl failing with ENOTTY",
	    act_ioctl_snap_destroy_enotty);

	/* The btrfs helper's filter: the base rules plus listed ioctls. */
	allowed(PRIVHELPER_BTRFS, "privhelper (btrfs)", "getpid", act_getpid);
	allowed(PRIVHELPER_BTRFS, "privhelper (btrfs)", "BTRFS_IOC_QUOTA_CTL",
	    act_ioctl_quota);
	allowed(PRIVHELPER_BTRFS, "privhelper (btrfs)", "isatty's TCGETS failing "
	    "with ENOTTY", act_ioctl_tcgets);
	killed(PRIVHELPER_BTRFS, "privhelper (btrfs)", "ioctl(LOOP_SET_FD)",
	    act_ioctl_loop);
	killed(PRIVHELPER_BTRFS, "privhelper (btrfs)", "mount", act_mount);
	killed(PRIVHELPER_BTRFS, "privhelper (btrfs)", "execve", act_execve);
	killed(PRIVHELPER_BTRFS, "privhelper (btrfs)", "socket(AF_INET)", act_inet);

	/* The loop helper's filter. */
	allowed(PRIVHELPER_LOOP, "privhelper (loop)", "LOOP_CTL_GET_FREE",
	    act_ioctl_get_free);
	allowed(PRIVHELPER_LOOP, "privhelper (loop)", "LOOP_CONFIGURE",
	    act_ioctl_configure);
	allowed(PRIVHELPER_LOOP, "privhelper (loop)", "mount nosuid,nodev",
	    act_mount_nosuid);
	allowed(PRIVHELPER_LOOP, "privhelper (loop)", "umount2(UMOUNT_NOFOLLOW)",
	    act_umount_nofollow);
	allowed(PRIVHELPER_LOOP, "privhelper (loop)", "isatty's TCGETS failing "
	    "with ENOTTY", act_ioctl_tcgets);
	killed(PRIVHELPER_LOOP, "privhelper (loop)", "ioctl(LOOP_SET_FD)",
	    act_ioctl_loop);
	killed(PRIVHELPER_LOOP, "privhelper (loop)", "a btrfs ioctl",
	    act_ioctl_quota);
	killed(PRIVHELPER_LOOP, "privhelper (loop)", "mount(MS_BIND)",
	    act_mount_bind);
	killed(PRIVHELPER_LOOP, "privhelper (loop)", "mount without nosuid,nodev",
	    act_mount);
	killed(PRIVHELPER_LOOP, "privhelper (loop)", "umount2 without "
	    "UMOUNT_NOFOLLOW", act_umount_plain);
	killed(PRIVHELPER_LOOP, "privhelper (loop)", "fork", act_fork);
	killed(PRIVHELPER_LOOP, "privhelper (loop)", "execve", act_execve);
	killed(PRIVHELPER_LOOP, "privhelper (loop)", "socket(AF_INET)", act_inet);
	return done_testing();
}
