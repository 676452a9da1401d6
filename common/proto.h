/*
 * The frontend <-> privhelper protocol.
 *
 * Every message is one SOCK_SEQPACKET datagram: a struct vw_msg_hdr followed
 * by hdr.len bytes of payload, whose layout is fixed by the type.  The
 * payload's trailing zero bytes are not sent: the datagram ends at its
 * last non-zero byte and the receiver zero-fills up to hdr.len.
 * Requests go frontend -> helper; each reply carries the request's type with
 * VW_MSG_REPLY set and the same id.  The frontend says *what* (a volume name
 * and validated options); the helper computes *where* from its own copy of
 * the configuration.  No pointer and no path chosen by the frontend is ever
 * used by the helper without being re-validated against its own config.
 *
 * Bump VW_PROTO_VERSION on ANY change to this file's types or layouts.
 */
#ifndef VW_PROTO_H
#define VW_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* 4: VOLUME_RESIZE (loop); 5: VOLUME_SCAN (glusterfs). */
#define VW_PROTO_VERSION	5

/* Longest volume name: Docker's local driver has none, we cap at 255 bytes
 * (a file name component, NAME_MAX in <linux/limits.h>). */
#define VW_NAME_MAX		255
/* Longest path, including the NUL (PATH_MAX in <linux/limits.h>). */
#define VW_PATH_MAX		4096
/* Longest error sentence in a reply, including the NUL. */
#define VW_ERRMSG_MAX		512

/* Reply types are the request type with this bit set. */
#define VW_MSG_REPLY		0x8000u

/* The message types: X(name, value).  Generates the enum and vw_msg_name(). */
#define VW_MSG_TYPES(X)				\
	X(HELLO,		1)		\
	X(VOLUME_CREATE,	2)		\
	X(VOLUME_REMOVE,	3)		\
	X(VOLUME_MOUNT,		4)		\
	X(VOLUME_UNMOUNT,	5)		\
	X(VOLUME_SNAPSHOT_CREATE,  6)		\
	X(VOLUME_SNAPSHOT_LIST,	   7)		\
	X(VOLUME_SNAPSHOT_DELETE,  8)		\
	X(VOLUME_SNAPSHOT_RESTORE, 9)		\
	X(VOLUME_STATUS,	  10)		\
	X(VOLUME_RESIZE,	  11)		\
	X(VOLUME_SCAN,		  12)

enum vw_msg_type {
#define VW_MSG_ENUM(name, value) VW_MSG_##name = value,
	VW_MSG_TYPES(VW_MSG_ENUM)
#undef VW_MSG_ENUM
};

/* Header of every message.  len is the payload length in bytes. */
struct vw_msg_hdr {
	uint32_t	type;
	uint32_t	len;
	uint64_t	id;
};
_Static_assert(sizeof(struct vw_msg_hdr) == 16, "vw_msg_hdr layout");

/* HELLO: the first request, exactly once.  config_digest is
 * vw_config_digest() of the frontend's parsed config; the helper refuses
 * to serve if its own parse differs. */
struct vw_hello {
	uint32_t	version;	/* VW_PROTO_VERSION */
	uint32_t	driver;		/* index into config drivers[] */
	uint64_t	config_digest;
};
_Static_assert(sizeof(struct vw_hello) == 16, "vw_hello layout");

/* HELLO reply: the helper's view, for the frontend to compare and log. */
struct vw_hello_reply {
	uint32_t	version;
	uint32_t	driver;
	uint64_t	config_digest;
	uint64_t	capabilities;	/* CapEff bit mask the helper kept */
};
_Static_assert(sizeof(struct vw_hello_reply) == 24, "vw_hello_reply layout");

/* Bits of vw_volume_opts.flags: which options were given.  Which of them
 * a backend accepts is the schema in common/options.c. */
#define VW_OPT_UID		0x01u
#define VW_OPT_GID		0x02u
#define VW_OPT_MODE		0x04u
#define VW_OPT_MOUNTPOINT	0x08u	/* dir */
#define VW_OPT_SIZE		0x10u	/* btrfs: qgroup limit */
#define VW_OPT_FROM		0x20u	/* btrfs: clone of a volume or snapshot */
#define VW_OPT_NOCOW		0x40u	/* btrfs: chattr +C (no value) */
#define VW_OPT_COMPRESSION	0x80u	/* btrfs: btrfs.compression property */
#define VW_OPT_SNAPSHOT_EVERY	0x100u	/* btrfs: scheduled snapshots, seconds */
#define VW_OPT_SNAPSHOT_KEEP	0x200u	/* btrfs: scheduled snapshots kept */
#define VW_OPT_FS		0x400u	/* loop: file system (enum vw_fs) */
#define VW_OPT_SOURCE		0x800u	/* loop: erofs from a directory (in mountpoint) */
#define VW_OPT_IMAGE		0x1000u	/* loop: adopt an erofs image (in mountpoint) */
#define VW_OPT_ALL		0x1fffu

/* Values of vw_volume_opts.fs (0 when the flag is clear). */
enum vw_fs {
	VW_FS_NONE = 0,
	VW_FS_EXT4 = 1,
	VW_FS_XFS = 2,
	VW_FS_EROFS = 3,
};

/* Values of vw_volume_opts.compression (0 when the flag is clear). */
enum vw_compression {
	VW_COMPRESS_NONE = 0,
	VW_COMPRESS_ZSTD = 1,
	VW_COMPRESS_LZO = 2,
	VW_COMPRESS_ZLIB = 3,
};

/* Longest "from" value: VOLUME or VOLUME@SNAPSHOT, including the NUL. */
#define VW_FROM_MAX		(2 * (VW_NAME_MAX + 1))

/* Validated volume options (docker volume create -o).  mountpoint is the
 * path option: dir's mountpoint, or loop's source directory or image file
 * (VW_OPT_SOURCE, VW_OPT_IMAGE), after vw_mountpoint_normalize():
 * absolute (under an allowed root) or relative (under the driver root);
 * the helper resolves it itself.  uid/gid are ids, mode is permission
 * bits (<= 07777), size is bytes, from is "VOLUME" or "VOLUME@SNAPSHOT"
 * (both parts follow the volume name rule), snapshot_every is seconds.
 * A field whose flag is clear is all zero. */
struct vw_volume_opts {
	uint32_t	flags;
	uint32_t	uid;
	uint32_t	gid;
	uint32_t	mode;
	uint64_t	size;
	uint32_t	compression;	/* enum vw_compression */
	uint32_t	fs;		/* enum vw_fs */
	uint64_t	snapshot_every;	/* seconds */
	uint32_t	snapshot_keep;	/* snapshots */
	uint32_t	reserved;	/* zero */
	char		from[VW_FROM_MAX];
	char		mountpoint[VW_PATH_MAX];
};
_Static_assert(sizeof(struct vw_volume_opts) == 48 + VW_FROM_MAX + VW_PATH_MAX, "vw_volume_opts layout");

/* VOLUME_CREATE / REMOVE / MOUNT / UNMOUNT / STATUS / RESIZE request.
 * RESIZE carries the volume's options with size (and VW_OPT_SIZE) set to
 * the new size in bytes; it answers a vw_volume_reply like the others. */
struct vw_volume_req {
	char			name[VW_NAME_MAX + 1];	/* NUL-terminated */
	struct vw_volume_opts	opts;			/* as given at Create */
};
_Static_assert(sizeof(struct vw_volume_req) == 256 + 48 + VW_FROM_MAX + VW_PATH_MAX, "vw_volume_req layout");

/* Reply to every volume request.  err is 0 or a positive errno; on error
 * msg is a sentence for the user.  On success path is the absolute
 * directory the volume lives at (the Docker Mountpoint). */
struct vw_volume_reply {
	int32_t		err;
	uint32_t	reserved;
	char		path[VW_PATH_MAX];
	char		msg[VW_ERRMSG_MAX];
};
_Static_assert(sizeof(struct vw_volume_reply) == 8 + VW_PATH_MAX + VW_ERRMSG_MAX, "vw_volume_reply layout");

/* Bits of vw_snap_req.flags. */
#define VW_SNAP_FORCE		0x01u	/* RESTORE: the frontend allows it while mounted */

/*
 * VOLUME_SNAPSHOT_CREATE / LIST / DELETE / RESTORE request.  name is the
 * volume, snap the snapshot (both follow the volume name rule; snap is
 * empty for LIST).  offset is the index of the first entry LIST returns
 * (entries are sorted by name); zero otherwise.  size is, for RESTORE,
 * the volume's size option in bytes (the restored subvolume gets the
 * same qgroup limit), else zero.
 */
struct vw_snap_req {
	char		name[VW_NAME_MAX + 1];
	char		snap[VW_NAME_MAX + 1];
	uint32_t	flags;
	uint32_t	offset;
	uint64_t	size;
};
_Static_assert(sizeof(struct vw_snap_req) == 2 * 256 + 16, "vw_snap_req layout");

/* One snapshot in a LIST reply: its name and creation time (the
 * subvolume's otime, Unix seconds). */
struct vw_snap_entry {
	char		name[VW_NAME_MAX + 1];
	int64_t		created;
};
_Static_assert(sizeof(struct vw_snap_entry) == 256 + 8, "vw_snap_entry layout");

/* Entries in one LIST reply; ask again with a larger offset for more. */
#define VW_SNAP_LIST_MAX	15

/* Reply to every snapshot request.  err is 0 or a positive errno with a
 * sentence in msg.  LIST: total snapshots of the volume, count entries
 * from the request's offset.  CREATE and RESTORE: entries[0] names the
 * snapshot made (RESTORE: the one keeping the pre-restore state). */
struct vw_snap_reply {
	int32_t			err;
	uint32_t		total;
	uint32_t		count;
	uint32_t		reserved;
	struct vw_snap_entry	entries[VW_SNAP_LIST_MAX];
	char			msg[VW_ERRMSG_MAX];
};
_Static_assert(sizeof(struct vw_snap_reply) == 16 + 15 * 264 + VW_ERRMSG_MAX, "vw_snap_reply layout");

/* Longest key and value of one status entry, including the NUL. */
#define VW_STATUS_KEY_MAX	32
#define VW_STATUS_VALUE_MAX	224
/* Entries in one VOLUME_STATUS reply. */
#define VW_STATUS_MAX		12

/* One fact about a volume for the Status map of Docker's Get: key is
 * lower case [a-z0-9_] (e.g. "subvolume_id", "used_bytes"), value is
 * UTF-8 text (numbers in decimal, sizes in bytes). */
struct vw_status_entry {
	char		key[VW_STATUS_KEY_MAX];
	char		value[VW_STATUS_VALUE_MAX];
};
_Static_assert(sizeof(struct vw_status_entry) == 256, "vw_status_entry layout");

/* Reply to VOLUME_STATUS (request: a vw_volume_req with the volume's
 * name and its options as given at Create).  err is 0 or a positive
 * errno with a sentence in msg; count entries follow, in the order the
 * backend gave them.  A backend with nothing to say answers count 0. */
struct vw_status_reply {
	int32_t			err;
	uint32_t		count;
	struct vw_status_entry	entries[VW_STATUS_MAX];
	char			msg[VW_ERRMSG_MAX];
};
_Static_assert(sizeof(struct vw_status_reply) == 8 + 12 * 256 + VW_ERRMSG_MAX, "vw_status_reply layout");

/*
 * VOLUME_SCAN: the volumes that exist in a shared backend (glusterfs: the
 * subdirectories of the Gluster volume), so that a volume created on one
 * node is listed on every node.  offset 0 asks the backend to list them
 * afresh (gen must be 0); the reply's gen names that listing, and later
 * pages (offset = entries received so far) name it in gen.  A page of a
 * listing that a newer one replaced is answered with ESTALE.
 */
struct vw_scan_req {
	uint32_t	offset;
	uint32_t	reserved;	/* zero */
	uint64_t	gen;
};
_Static_assert(sizeof(struct vw_scan_req) == 16, "vw_scan_req layout");

/* Entries in one VOLUME_SCAN reply. */
#define VW_SCAN_MAX		15

/* Reply to VOLUME_SCAN.  err is 0 or a positive errno with a sentence in
 * msg (the volumes could not be listed: the frontend keeps what it
 * knows).  total volumes exist, sorted by name; count entries follow
 * from the request's offset, each a volume name and its creation time
 * (Unix seconds). */
struct vw_scan_reply {
	int32_t			err;
	uint32_t		total;
	uint32_t		count;
	uint32_t		reserved;
	uint64_t		gen;
	struct vw_snap_entry	entries[VW_SCAN_MAX];
	char			msg[VW_ERRMSG_MAX];
};
_Static_assert(sizeof(struct vw_scan_reply) == 24 + 15 * 264 + VW_ERRMSG_MAX, "vw_scan_reply layout");

/* Largest message on the wire (header + biggest payload). */
#define VW_MSG_MAX	(sizeof(struct vw_msg_hdr) + sizeof(struct vw_volume_req))
_Static_assert(sizeof(struct vw_volume_req) >= sizeof(struct vw_volume_reply) &&
    sizeof(struct vw_volume_req) >= sizeof(struct vw_snap_reply) &&
    sizeof(struct vw_volume_req) >= sizeof(struct vw_snap_req) &&
    sizeof(struct vw_volume_req) >= sizeof(struct vw_status_reply) &&
    sizeof(struct vw_volume_req) >= sizeof(struct vw_scan_reply),
    "VW_MSG_MAX covers every payload");

/* The message type's name for logs ("VOLUME_CREATE", "HELLO reply"), or
 * "unknown".  Returns a static string. */
const char *vw_msg_name(uint32_t type);

/*
 * Send one message: header + len bytes of payload (less its trailing
 * zero bytes), and fd_to_pass (or -1) as SCM_RIGHTS.  Returns 0, or -1 with errno set (EMSGSIZE if len is too
 * large, or sendmsg's errno).  EINTR is retried.
 */
int vw_msg_send(int sock, uint32_t type, uint64_t id, const void *payload,
    size_t len, int fd_to_pass);

/*
 * Receive one message into buf (bufsize should be VW_MSG_MAX + 1 so that an
 * oversized datagram shows up as MSG_TRUNC).  On success returns 1, fills
 * *hdr and points *payload into buf; *fd receives a passed descriptor or -1
 * (if fd is NULL any passed descriptor is closed and the message rejected).
 * The payload is zero-filled from the bytes that arrived up to hdr->len.
 * Returns 0 on EOF.  Returns -1 with errno set on error: EAGAIN, EBADMSG
 * (truncated, short, more bytes than the header's length, a final zero
 * byte that should not have been sent, a length the buffer cannot hold), or
 * recvmsg's errno.  Received descriptors carry O_CLOEXEC.
 */
int vw_msg_recv(int sock, void *buf, size_t bufsize, struct vw_msg_hdr *hdr,
    void **payload, int *fd);

#endif
