/* privhelper internals, grouped by file. */
#ifndef VW_PRIVHELPER_H
#define VW_PRIVHELPER_H

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

#endif
