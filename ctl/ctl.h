/* volwardenctl internals shared by its files (ctl/). */
#ifndef VW_CTL_H
#define VW_CTL_H

#include <stddef.h>

/* Exit statuses (volwardenctl(8)). */
#define EXIT_ERROR	1	/* the daemon said no, or check failed */
#define EXIT_USAGE	2
#define EXIT_UNREACH	3	/* no daemon, or no sensible reply */

/* --json was given: print JSON instead of tables. */
extern int json_out;

/* "volwardenctl: " and the sentence, on stderr. */
void warnmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One HTTP reply from the admin socket. */
struct reply {
	int	 status;
	char	*buf;		/* the whole response, NUL-terminated */
	char	*body;		/* into buf */
	size_t	 len;		/* of body */
};

/*
 * method (GET, POST, DELETE) target on the unix socket path, with body
 * (JSON, at most about 16 KiB) if not NULL.  Returns 0 with *r filled
 * (free r->buf), or -1 with a sentence in err: the daemon cannot be
 * reached or did not answer in HTTP.
 */
int http_request(const char *path, const char *method, const char *target,
    const char *body, struct reply *r, char *err, size_t errlen);

/* ------------------------------------------------------------ import.c */

/*
 * import-local-persist FILE: register every volume of local-persist's
 * state file in driver (a dir driver of the running daemon), one
 * POST /v1/volumes?driver= each.  rewrite, if not NULL, is "OLD=NEW":
 * mountpoints equal to or below OLD are moved below NEW first (the
 * Carbonique plugin stores paths inside its own mount namespace).
 * Returns an exit status, having printed what happened to each volume.
 */
int cmd_import_local_persist(const char *sock, const char *driver,
    const char *file, const char *rewrite);

#endif
