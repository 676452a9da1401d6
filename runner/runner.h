/*
 * The loop helper <-> mkfs runner channel.  The runner
 * (runner/mkfs-runner.c, executable volwarden-mkfs-runner) is the one
 * process that executes programs for a loop driver: mkfs.ext4, mkfs.xfs
 * and mkfs.erofs, as the unprivileged user with no capabilities, on
 * descriptors the helper hands it.  The helper starts it at its own
 * start-up (backends/loop.c:loop_init, while still unconfined) on a
 * socketpair; nothing else can reach it.
 *
 * One request per SOCK_SEQPACKET datagram: a struct vw_mkfs_req with,
 * as SCM_RIGHTS, the image (opened read-write, owned by the runner's
 * user while it is formatted) and, for erofs, the source directory
 * (O_PATH).  The answer is one struct vw_mkfs_reply.  Both sides run
 * from one build: host byte order, no version field beyond the magic.
 */
#ifndef VW_RUNNER_H
#define VW_RUNNER_H

#include <stddef.h>
#include <stdint.h>

/* The runner's descriptor in the helper's child, before exec. */
#define VW_RUNNER_FD		3

#define VW_MKFS_MAGIC		0x766d6b66u	/* "vmkf" */

/* Longest mkfs output kept for the error message, including the NUL. */
#define VW_MKFS_OUT_MAX		768

/* What the runner is asked to do with the passed image. */
enum vw_mkfs_op {
	VW_MKFS_FORMAT = 0,	/* mkfs.FS (erofs: from the passed source) */
	VW_MKFS_GROW = 1,	/* ext4 only: resize2fs to the file's size */
};

/* A request: op (enum vw_mkfs_op) on the passed image as fs (enum
 * vw_fs); for erofs the second passed descriptor is the source
 * directory.  label is the volume name (ext4: at most 16 bytes are
 * used; xfs: 12), NUL-terminated. */
struct vw_mkfs_req {
	uint32_t	magic;
	uint32_t	fs;
	uint32_t	op;
	uint32_t	reserved;
	char		label[256];
};
_Static_assert(sizeof(struct vw_mkfs_req) == 272, "vw_mkfs_req layout");

/* The answer: err 0, or an errno (the program could not run), or
 * EIO with status set (its exit status, or 128 + signal); out holds
 * the end of what the program wrote (NUL-terminated). */
struct vw_mkfs_reply {
	uint32_t	magic;
	int32_t		err;
	int32_t		status;
	uint32_t	reserved;
	char		out[VW_MKFS_OUT_MAX];
};
_Static_assert(sizeof(struct vw_mkfs_reply) == 16 + VW_MKFS_OUT_MAX,
    "vw_mkfs_reply layout");

/* Most descriptors one request carries. */
#define VW_MKFS_MAXFD		2

/*
 * Send buf (len bytes) with nfd descriptors (0..VW_MKFS_MAXFD) on a
 * SOCK_SEQPACKET socket.  Returns 0 or -1 with errno.
 */
int vw_mkfs_send(int sock, const void *buf, size_t len, const int *fds,
    int nfd);

/*
 * Receive one datagram of exactly len bytes into buf, and up to
 * VW_MKFS_MAXFD descriptors (close-on-exec) into fds (the rest set to
 * -1), their count in *nfd.  Returns 1, 0 on EOF, or -1 with errno
 * (EBADMSG for a truncated or mis-sized datagram; descriptors are closed
 * then).
 */
int vw_mkfs_recv(int sock, void *buf, size_t len, int *fds, int *nfd);

#endif
