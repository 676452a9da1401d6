/*
 * Dropping privileges with libcap-ng, then proving it from
 * /proc/self/status (as OpenSSH's permanently_set_uid verifies its drop).
 * Each function exits through fatal()/fatalx() on any failure: a process
 * that could not drop must never serve requests.
 */
#ifndef VW_PRIVDROP_H
#define VW_PRIVDROP_H

#include <stdint.h>
#include <sys/types.h>

/* The frontend: become uid/gid with no supplementary groups, empty
 * permitted/effective/inheritable/bounding/ambient sets, no_new_privs and
 * not dumpable.  Then verify.  Must run while still root. */
void vw_drop_to_user(uid_t uid, gid_t gid);

/* The privhelper: stay uid 0 but keep only the capabilities in mask (bits
 * are CAP_* numbers from <linux/capability.h>) in the permitted, effective
 * and bounding sets; clear inheritable and ambient; set no_new_privs.
 * Then verify. */
void vw_keep_caps(uint64_t mask);

/*
 * Read /proc/self/status and check: all four Uid columns equal uid, and
 * Gid likewise for gid (skipped if gid is (gid_t)-1), CapEff, CapPrm and
 * CapBnd equal caps, CapInh and CapAmb zero, NoNewPrivs 1.  Returns 0, or
 * -1 with a reason in err.
 */
int vw_verify_privs(uid_t uid, gid_t gid, uint64_t caps, char *err,
    size_t errlen);

/* The CapEff mask of this process, or 0 if unreadable. */
uint64_t vw_cap_effective(void);

/* What the kernel says about this process (for the admin API's status). */
struct vw_self_status {
	uint64_t	cap_eff, cap_prm, cap_bnd;	/* CAP_* bit masks */
	int		no_new_privs;			/* 0 or 1 */
	int		seccomp;	/* 0 off, 1 strict, 2 filter */
};

/* Read /proc/self/status into *st.  Returns 0, or -1 with errno (then
 * *st is zeroed). */
int vw_self_status(struct vw_self_status *st);

#endif
