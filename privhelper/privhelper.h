/* privhelper internals, grouped by file. */
#ifndef VW_PRIVHELPER_H
#define VW_PRIVHELPER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "backends/backend.h"
#include "common/config.h"
#include "common/proto.h"

/* The helper's channel to the frontend always arrives on this fd. */
#define PH_CHANNEL_FD	3

/* dispatch.c */
/* Helper states, as bits: the dispatch table holds a mask of them. */
enum ph_state {
	PH_NEW = 0x1,		/* before HELLO */
	PH_READY = 0x2,		/* after a matching HELLO */
};

/*
 * Check one received message against the dispatch table without acting:
 * known type, allowed in state (PH_NEW or PH_READY), hdr->len exactly the
 * type's payload size and equal to payload_len, and for volume requests a
 * valid name field and options.  payload must be aligned for the payload
 * structs.  Returns 0, or -1 with the reason in why (whylen bytes, always
 * NUL-terminated).  Pure: no logging, no I/O, no exit.
 */
int ph_check_message(const struct vw_msg_hdr *hdr, const void *payload,
    size_t payload_len, unsigned state, char *why, size_t whylen);

/* Serve requests on the channel until EOF (returns) or a protocol
 * violation (exits non-zero after logging the type, length and reason). */
void ph_serve(int chan, const struct vw_config *cfg, size_t driver,
    const struct vw_backend_ctx *ctx);

/* resolve.c */
/*
 * Open directory rel (a normalised relative path: no '.', '..', or empty
 * components) beneath dirfd without following any symlink or magic link
 * and without leaving dirfd (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS
 * | RESOLVE_NO_MAGICLINKS, or an O_NOFOLLOW walk where openat2 is missing).
 * With create, missing components are made with mkdirat (intermediate
 * ones 0755, the last one 0755 too; the caller sets owner and mode on the
 * returned fd).  *created is set when the last component was made.
 * Returns an O_DIRECTORY|O_CLOEXEC fd, or -1 with errno (ELOOP for a
 * symlink, ENOTDIR for a non-directory, EXDEV for an escape attempt).
 */
int ph_open_beneath(int dirfd, const char *rel, int create, int *created);

/*
 * Delete the directory name inside dirfd and everything below it, never
 * following symlinks and never crossing into another file system (a mount
 * inside the tree stops the removal with EXDEV).  Returns 0 or -1 with
 * errno; on error what was not yet deleted stays.
 */
int ph_remove_tree(int dirfd, const char *name);

/*
 * Open the subdirectory comp of dirfd for a walk: no symlink, and not a
 * mount point (openat2 RESOLVE_NO_XDEV, or a statx mount ID comparison on
 * kernels without openat2).  Returns an O_DIRECTORY|O_CLOEXEC fd, or -1
 * with errno (EXDEV for a mount point).
 */
int ph_open_dir_noxdev(int dirfd, const char *comp);

/* Whether something is mounted strictly beneath the absolute path (as
 * /proc/self/mountinfo spells mount points).  Returns 1, 0, or -1 with
 * errno if mountinfo cannot be read. */
int ph_mounts_beneath(const char *path);

/* The mount ID of fd's file (statx STATX_MNT_ID).  Returns 0, or -1 with
 * errno (ENOSYS where the kernel does not report it). */
int ph_mount_id(int fd, uint64_t *id);

/* trash.c: deleting volumes in the background (see the file's comment) */
/*
 * Open VW_TRASH_DIR below the driver root and each allowed root of ctx,
 * at start-up: created (0700) if missing for a driver with on_remove
 * delete, else only opened if it exists (to finish what is left).  A trash that cannot be made
 * or is a mount point is logged and not used (Remove then deletes while
 * it waits, as before); one not owned by root with mode 0700 is refused.
 * Returns 0, or -1 with a sentence in err (the helper exits).
 */
int ph_trash_init(const struct vw_backend_ctx *ctx, char *err, size_t errlen);
/*
 * Rename name (in directory pfd, which lies below the driver root when
 * base is (size_t)-1, else below allowed root base, on its file system)
 * into that root's trash with renameat2(RENAME_NOREPLACE); the entry's
 * new name goes into entry (entrylen bytes).  Returns 0, or -1 with
 * errno: ENOSYS if that root has no trash, EXDEV if name is on another
 * file system, EBUSY if it is a mount point, ENOENT if it is gone.
 */
int ph_trash_move(size_t base, int pfd, const char *name, char *entry,
    size_t entrylen);
/* Whether the trash may hold something still to delete. */
int ph_trash_pending(void);
/* Delete trash for at most about 10 ms or 4096 file operations. */
void ph_trash_slice(void);
/* Return once chan is readable (or at once if the trash is empty, for a
 * blocking read), deleting trash in slices meanwhile. */
void ph_trash_wait(int chan);

#endif
