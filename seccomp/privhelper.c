/*
 * The privhelper's allowlist: a base for every backend, plus a table for
 * the driver's backend (vsftpd-style config-dependent rules).  The helper reads one
 * message at a time from its inherited channel and works on directory
 * trees with *at() calls relative to root fds it opened at start-up.  It
 * may not create sockets (a root process that could connect to
 * /run/docker.sock would be root on the host), execute programs, mount,
 * trace, or change its credentials.
 */
#include "vw-build.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <stdint.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <termios.h>

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
};

/* dir: no ioctl is needed; every one fails (isatty probes). */
static const struct vw_sc_rule dir_rules[] = {
	DENY(ioctl, ENOTTY),
};

/* An ioctl request number: the kernel reads it as 32 bits. */
#define IOCTL_IS(nr)	SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, (nr))

/*
 * btrfs (backends/btrfs.c and the libbtrfsutil calls it makes).  Only
 * these ioctl numbers; any other ioctl kills the helper, except the
 * isatty probe, which fails.
 */
static const struct vw_sc_rule btrfs_rules[] = {
	/* Subvolumes and snapshots. */
	ALLOW_IF(ioctl, IOCTL_IS(BTRFS_IOC_SUBVOL_CREATE_V2)),
	ALLOW_IF(ioctl, IOCTL_IS(BTRFS_IOC_SNAP_CREATE_V2)),
	ALLOW_IF(ioctl, IOCTL_IS(BTRFS_IOC_SNAP_DESTROY)),
	ALLOW_IF(ioctl, IOCTL_IS(BTRFS_IOC_SNAP_DESTROY_V2)),
	/* Finding nested subvolumes (the subvolume iterator) and reading a
	 * snapshot's creation time (subvolume_info). */
	ALLOW_IF(ioctl, IOCTL_IS(BTRFS_IOC_TREE_SEARCH)),
	ALLOW_IF(ioctl, IOCTL_IS(BTRFS_IOC_INO_LOOKUP)),
	ALLOW_IF(ioctl, IOCTL_IS(BTRFS_IOC_GET_SUBVOL_INFO)),
	ALLOW_IF(ioctl, IOCTL_IS(BTRFS_IOC_GET_SUBVOL_ROOTREF)),
	ALLOW_IF(ioctl, IOCTL_IS(BTRFS_IOC_INO_LOOKUP_USER)),
	/* The size option: quotas on, then the qgroup limit. */
	ALLOW_IF(ioctl, IOCTL_IS(BTRFS_IOC_QUOTA_CTL)),
	ALLOW_IF(ioctl, IOCTL_IS(BTRFS_IOC_QGROUP_LIMIT)),
	/* nocow (chattr +C). */
	ALLOW_IF(ioctl, IOCTL_IS(FS_IOC_GETFLAGS)),
	ALLOW_IF(ioctl, IOCTL_IS(FS_IOC_SETFLAGS)),
	DENY_IF(ioctl, ENOTTY, IOCTL_IS(TCGETS)),
	/* compression (the btrfs.compression property); statfs checks
	 * that a volume is on BTRFS. */
	ALLOW(fsetxattr), ALLOW(fstatfs), ALLOW(statfs),
	/* libbtrfsutil takes its privileged (TREE_SEARCH) path when euid
	 * is 0. */
	ALLOW(geteuid),
};

/* Not in the kernel's uapi headers (fs/xfs/libxfs/xfs_fs.h);
 * backends/loop.c defines the same number. */
#define XFS_IOC_FSGROWFSDATA_NR	_IOW('X', 110, struct { uint64_t a; uint32_t b; })

/*
 * loop (backends/loop.c; its start-up in loop-init.c runs before the
 * filter).  Only these ioctls; mount only with exactly the flags the
 * backend uses (nosuid,nodev, read-only for erofs: no bind, remount,
 * move or propagation change), umount2 only with UMOUNT_NOFOLLOW (and
 * MNT_DETACH for a busy mount).  No fork or exec: mkfs runs in the
 * runner, reached with sendmsg.
 */
static const struct vw_sc_rule loop_rules[] = {
	ALLOW_IF(ioctl, IOCTL_IS(LOOP_CTL_GET_FREE)),
	ALLOW_IF(ioctl, IOCTL_IS(LOOP_CONFIGURE)),
	ALLOW_IF(ioctl, IOCTL_IS(LOOP_CLR_FD)),
	ALLOW_IF(ioctl, IOCTL_IS(LOOP_GET_STATUS64)),
	ALLOW_IF(ioctl, IOCTL_IS(LOOP_SET_CAPACITY)),
	/* resize: grow a mounted xfs (ext4 grows offline, in the runner) */
	ALLOW_IF(ioctl, IOCTL_IS(XFS_IOC_FSGROWFSDATA_NR)),
	DENY_IF(ioctl, ENOTTY, IOCTL_IS(TCGETS)),
	ALLOW_IF(mount, SCMP_A3(SCMP_CMP_EQ, MS_NOSUID | MS_NODEV)),
	ALLOW_IF(mount, SCMP_A3(SCMP_CMP_EQ, MS_NOSUID | MS_NODEV | MS_RDONLY)),
	ALLOW_IF(umount2, SCMP_A1(SCMP_CMP_EQ, UMOUNT_NOFOLLOW)),
	ALLOW_IF(umount2, SCMP_A1(SCMP_CMP_EQ, UMOUNT_NOFOLLOW | MNT_DETACH)),
	/* images: size, superblock checks, adoption copy, durability, and
	 * linking the finished O_TMPFILE through /proc/self/fd */
	ALLOW(ftruncate), ALLOW(pread64), ALLOW(copy_file_range),
	ALLOW(fdatasync), ALLOW(fsync), ALLOW(linkat),
	ALLOW(fstatfs), ALLOW(statfs),
};

/*
 * glusterfs (backends/glusterfs.c): the helper relays to the gfapi agent
 * over an inherited socket (poll, sendmsg, recvmsg: the base list),
 * checks with statfs/fstatfs that the driver root is a FUSE mount, and
 * at exit waits for the FUSE keeper it started.  No ioctl.
 */
static const struct vw_sc_rule glusterfs_rules[] = {
	ALLOW(fstatfs), ALLOW(statfs), ALLOW(wait4),
	DENY(ioctl, ENOTTY),
};

int
vw_seccomp_privhelper(enum vw_seccomp_mode mode, enum vw_backend_type backend,
    char *err, size_t errlen)
{
	enum { NBASE = sizeof(privhelper_rules) / sizeof(privhelper_rules[0]) };
	struct vw_sc_rule rules[NBASE + sizeof(btrfs_rules) / sizeof(btrfs_rules[0]) +
	    sizeof(loop_rules) / sizeof(loop_rules[0]) +
	    sizeof(glusterfs_rules) / sizeof(glusterfs_rules[0])];
	const struct vw_sc_rule *extra = dir_rules;
	size_t nextra = sizeof(dir_rules) / sizeof(dir_rules[0]);

	if (backend == VW_BACKEND_BTRFS) {
		extra = btrfs_rules;
		nextra = sizeof(btrfs_rules) / sizeof(btrfs_rules[0]);
	} else if (backend == VW_BACKEND_LOOP) {
		extra = loop_rules;
		nextra = sizeof(loop_rules) / sizeof(loop_rules[0]);
	} else if (backend == VW_BACKEND_GLUSTERFS) {
		extra = glusterfs_rules;
		nextra = sizeof(glusterfs_rules) / sizeof(glusterfs_rules[0]);
	}
	memcpy(rules, privhelper_rules, sizeof(privhelper_rules));
	memcpy(rules + NBASE, extra, nextra * sizeof(*extra));
	return vw_seccomp_load(rules, NBASE + nextra, mode, err, errlen);
}
