/* The loop backend's internals, shared by backends/loop.c (operations)
 * and backends/loop-init.c (start-up). */
#ifndef VW_LOOP_H
#define VW_LOOP_H

#include <stdint.h>
#include <sys/types.h>

#include "backends/backend.h"

/* What loop_init sets up once, before the sandbox (ctx->priv). */
struct loop_state {
	int		 control_fd;	/* /dev/loop-control, O_RDWR */
	int		 mnt_fd;	/* the driver's mount_dir (a shared mount) */
	int		 runner_fd;	/* SOCK_SEQPACKET to the mkfs runner */
	pid_t		 runner_pid;
	uid_t		 uid;		/* the runner's user (ctx->user) */
	gid_t		 gid;
	const char	*user;
};

/*
 * Start-up (struct vw_backend.init), still unconfined: open
 * /dev/loop-control; make mount_dir (0700 root) a shared mount point of
 * its own, so that unmounts reach the copies in container mount
 * namespaces made after a mount; detach loop devices of this root's
 * images that nothing mounts; start the mkfs runner as ctx->user.
 * Returns 0, or -1 with a sentence in err.
 */
int loop_init(struct vw_backend_ctx *ctx, char *err, size_t errlen);

/* Does the file at fd hold fs's superblock magic (enum vw_fs)? */
int loop_image_has_fs(int fd, uint32_t fs);

#endif
