/*
 * The agent's work on the Gluster volume (layout in gluster/agent.h).
 * Every call runs on the agent's one thread with fsuid and fsgid 0 (set
 * in main with glfs_setfsuid/glfs_setfsgid): Gluster trusts the
 * credentials a client sends, so the directories are made and chowned as
 * root on the bricks although this process is not root on the host.
 */
#include "vw-build.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <glusterfs/api/glfs.h>

#include "common/log.h"
#include "common/validate.h"
#include "gluster/agent.h"

#define META	".volwarden"
/* Deepest directory tree that on_remove delete walks. */
#define MAX_DEPTH	256

#define FS(ga)	((glfs_t *)(ga)->fs)

/* "vm, host2": the configured servers, for messages. */
static const char *
servers_str(const struct ga *ga)
{
	static char buf[512];
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ga->nservers && n < sizeof(buf); i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s",
		    i ? ", " : "", ga->servers[i]);
	return buf;
}

/* BASE/rel (rel may be empty for BASE itself). */
static int
gpath(const struct ga *ga, char *out, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
gpath(const struct ga *ga, char *out, size_t len, const char *fmt, ...)
{
	char rel[VW_PATH_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(rel))
		return -1;
	n = snprintf(out, len, "%s%s%s", ga->base,
	    strcmp(ga->base, "/") == 0 ? "" : "/", rel);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static void
rfail(struct vw_volume_reply *rep, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
rfail(struct vw_volume_reply *rep, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rep->msg, sizeof(rep->msg), fmt, ap);
	va_end(ap);
	rep->err = err;
}

/* The sentence for a failed Gluster call: what failed, where, and why. */
static void
gfail(const struct ga *ga, char *msg, size_t len, int err, const char *what,
    const char *path)
{
	if (err == ENOTCONN || err == EIO || err == ETIMEDOUT ||
	    err == ECONNREFUSED || err == EHOSTUNREACH)
		snprintf(msg, len, "cannot %s %s: Gluster volume %s on servers %s "
		    "is not reachable (%s); volwarden reconnects by itself when "
		    "the servers are back", what, path, ga->volume,
		    servers_str(ga), strerror(err));
	else
		snprintf(msg, len, "cannot %s %s in Gluster volume %s (servers "
		    "%s): %s", what, path, ga->volume, servers_str(ga),
		    strerror(err));
}

static int
not_connected(struct ga *ga, char *msg, size_t len)
{
	if (ga_connect(ga) == 0)
		return 0;
	snprintf(msg, len, "Gluster volume %s on servers %s is not reachable "
	    "(%s); volwarden keeps trying and reconnects by itself when the "
	    "servers are back", ga->volume, servers_str(ga), ga->last_err);
	return 1;
}

int
ga_connect(struct ga *ga)
{
	glfs_t *fs;
	time_t now = time(NULL);
	int err;

	if (ga->fs != NULL)
		return 0;
	if (now < ga->next_init)
		return -1;
	if ((fs = glfs_new(ga->volume)) == NULL) {
		snprintf(ga->last_err, sizeof(ga->last_err), "glfs_new: %s",
		    strerror(errno));
		goto retry;
	}
	for (size_t i = 0; i < ga->nservers; i++) {
		struct vw_gluster_server sv;
		char why[256];

		if (vw_gluster_server_parse(ga->servers[i], &sv, why,
		    sizeof(why)) < 0)
			fatalx("server %s: %s", ga->servers[i], why);
		if (glfs_set_volfile_server(fs, sv.transport, sv.host,
		    strcmp(sv.transport, "unix") == 0 ? 0 :
		    sv.port != 0 ? sv.port : 24007) < 0)
			fatal("glfs_set_volfile_server %s", ga->servers[i]);
	}
	if (glfs_set_logging(fs, ga->logfile, ga->loglevel) < 0)
		log_warn("cannot send gfapi's log to %s", ga->logfile);
	if (glfs_init(fs) < 0) {
		err = errno;
		snprintf(ga->last_err, sizeof(ga->last_err), "%s",
		    strerror(err ? err : EIO));
		glfs_fini(fs);
		goto retry;
	}
	ga->fs = fs;
	ga->dirs_ok = 0;
	ga->backoff = 0;
	log_info("connected to Gluster volume %s (servers %s)", ga->volume,
	    servers_str(ga));
	return 0;
retry:
	ga->backoff = ga->backoff == 0 ? 1 : ga->backoff * 2;
	if (ga->backoff > 10)
		ga->backoff = 10;
	ga->next_init = now + (time_t)ga->backoff;
	log_warnx("cannot connect to Gluster volume %s on servers %s: %s; "
	    "retrying in %u s", ga->volume, servers_str(ga), ga->last_err,
	    ga->backoff);
	return -1;
}

/* mkdir that accepts an existing directory (never a symlink). */
static int
mkdir_ok(struct ga *ga, const char *path, mode_t mode)
{
	struct stat st;

	if (glfs_mkdir(FS(ga), path, mode) == 0)
		return 0;
	if (errno != EEXIST)
		return -1;
	if (glfs_lstat(FS(ga), path, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

/* BASE and the .volwarden tree, once per connection. */
static int
ensure_dirs(struct ga *ga, char *msg, size_t len)
{
	static const char *const subs[] = { "created", "removed", "removing",
	    "leases", "archive" };
	char path[VW_PATH_MAX];

	if (ga->dirs_ok)
		return 0;
	/* mkdir -p BASE: every component of the configured subdir. */
	snprintf(path, sizeof(path), "%s", ga->base);
	for (char *p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir_ok(ga, path, 0755) < 0)
			goto fail;
		*p = '/';
	}
	if (strcmp(path, "/") != 0 && mkdir_ok(ga, path, 0755) < 0)
		goto fail;
	if (gpath(ga, path, sizeof(path), META) < 0 ||
	    mkdir_ok(ga, path, 0700) < 0)
		goto fail;
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (gpath(ga, path, sizeof(path), META "/%s", subs[i]) < 0 ||
		    mkdir_ok(ga, path, 0700) < 0)
			goto fail;
	ga->dirs_ok = 1;
	return 0;
fail:
	gfail(ga, msg, len, errno, "create", path);
	return -1;
}

/* Write content to path (replacing it; with excl, only if absent). */
static int
write_small(struct ga *ga, const char *path, const char *content, int excl)
{
	glfs_fd_t *fd;
	size_t len = strlen(content);
	ssize_t n;
	int err;

	fd = glfs_creat(FS(ga), path, O_WRONLY | O_TRUNC | (excl ? O_EXCL : 0),
	    0600);
	if (fd == NULL)
		return -1;
	n = glfs_write(fd, content, len, 0);
	err = errno;
	if (glfs_close(fd) < 0 && n == (ssize_t)len)
		return -1;
	if (n != (ssize_t)len) {
		errno = n < 0 ? err : EIO;
		return -1;
	}
	return 0;
}

/* Read at most len - 1 bytes of path, NUL-terminated. */
static int
read_small(struct ga *ga, const char *path, char *buf, size_t len)
{
	glfs_fd_t *fd = glfs_open(FS(ga), path, O_RDONLY);
	ssize_t n;

	if (fd == NULL)
		return -1;
	n = glfs_read(fd, buf, len - 1, 0);
	glfs_close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

/* A marker or lease: "expires=UNIX node=NODE".  Returns 0 and fills
 * *expires and node, or -1 (missing or unreadable). */
static int
read_marker(struct ga *ga, const char *path, long long *expires, char *node,
    size_t nodelen)
{
	char buf[512], nb[VW_NAME_MAX + 1];

	if (read_small(ga, path, buf, sizeof(buf)) < 0)
		return -1;
	nb[0] = '\0';
	if (sscanf(buf, "expires=%lld node=%255s", expires, nb) < 1) {
		errno = EINVAL;
		return -1;
	}
	snprintf(node, nodelen, "%s", nb[0] ? nb : "?");
	return 0;
}

static int
write_marker(struct ga *ga, const char *path, int excl)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "expires=%lld node=%s\n",
	    (long long)time(NULL) + ga->ttl, ga->node);
	return write_small(ga, path, buf, excl);
}

/* Names in a directory (entries other than . and ..), with their stat.
 * Returns the count, or -1 with errno.  *out is malloc'd. */
struct dent {
	char		name[VW_NAME_MAX + 1];
	struct stat	st;
};

static ssize_t
list_dir(struct ga *ga, const char *path, struct dent **out)
{
	glfs_fd_t *fd;
	struct dent *v = NULL, *nv;
	size_t n = 0, cap = 0;
	struct dirent *de;
	struct stat st;
	int err;

	*out = NULL;
	if ((fd = glfs_opendir(FS(ga), path)) == NULL)
		return -1;
	for (;;) {
		errno = 0;
		if ((de = glfs_readdirplus(fd, &st)) == NULL) {
			if ((err = errno) != 0) {
				glfs_closedir(fd);
				free(v);
				errno = err;
				return -1;
			}
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    strlen(de->d_name) > VW_NAME_MAX)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
				glfs_closedir(fd);
				free(v);
				errno = ENOMEM;
				return -1;
			}
			v = nv;
		}
		snprintf(v[n].name, sizeof(v[n].name), "%s", de->d_name);
		v[n].st = st;
		n++;
	}
	glfs_closedir(fd);
	*out = v;
	return (ssize_t)n;
}

/* Delete path and everything below it, never following symlinks. */
static int
rmtree(struct ga *ga, const char *path, int depth)
{
	struct dent *v;
	ssize_t n;
	struct stat st;

	if (glfs_lstat(FS(ga), path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return glfs_unlink(FS(ga), path) < 0 && errno != ENOENT ? -1 : 0;
	if (depth > MAX_DEPTH) {
		errno = ELOOP;
		return -1;
	}
	/* Read the whole directory, then delete: changing a directory
	 * while reading it may skip entries. */
	while ((n = list_dir(ga, path, &v)) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			char sub[VW_PATH_MAX];

			if (snprintf(sub, sizeof(sub), "%s/%s", path,
			    v[i].name) >= (int)sizeof(sub)) {
				free(v);
				errno = ENAMETOOLONG;
				return -1;
			}
			if (rmtree(ga, sub, depth + 1) < 0) {
				free(v);
				return -1;
			}
		}
		free(v);
	}
	if (n < 0)
		return -1;
	return glfs_rmdir(FS(ga), path) < 0 && errno != ENOENT ? -1 : 0;
}

/* ------------------------------------------------------------ leases */

/* Live leases of other nodes on name: a list for messages ("node-b (40 s
 * left)"), and how many.  Expired ones are deleted, and so are this
 * node's own (the frontend counts local mounts itself).  Returns -1 on a
 * Gluster error (errno). */
static int
other_leases(struct ga *ga, const char *name, char *list, size_t len,
    int *count)
{
	char dir[VW_PATH_MAX], path[VW_PATH_MAX], node[VW_NAME_MAX + 1];
	struct dent *v;
	ssize_t n;
	size_t o = 0;
	long long expires;
	time_t now = time(NULL);

	*count = 0;
	list[0] = '\0';
	if (gpath(ga, dir, sizeof(dir), META "/leases/%s", name) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((n = list_dir(ga, dir, &v)) < 0)
		return errno == ENOENT ? 0 : -1;
	for (ssize_t i = 0; i < n; i++) {
		if (snprintf(path, sizeof(path), "%s/%s", dir, v[i].name) >=
		    (int)sizeof(path))
			continue;
		if (read_marker(ga, path, &expires, node, sizeof(node)) < 0) {
			if (errno == ENOENT)
				continue;
			if (errno != EINVAL) {
				free(v);
				return -1;
			}
			expires = 0;	/* unreadable: treat as expired */
		}
		if (strcmp(v[i].name, ga->node) == 0)
			continue;
		if (expires <= (long long)now) {
			log_info("volume %s: the lease of node %s expired %lld s "
			    "ago; deleting it", name, v[i].name,
			    (long long)now - expires);
			(void)glfs_unlink(FS(ga), path);
			continue;
		}
		(*count)++;
		if (o < len)
			o += (size_t)snprintf(list + o, len - o, "%s%s (lease "
			    "expires in %lld s)", o ? ", " : "", v[i].name,
			    expires - (long long)now);
	}
	free(v);
	return 0;
}

static int
held_index(const struct ga *ga, const char *name)
{
	for (size_t i = 0; i < ga->nheld; i++)
		if (strcmp(ga->held[i], name) == 0)
			return (int)i;
	return -1;
}

static void
held_add(struct ga *ga, const char *name)
{
	char **n;

	if (held_index(ga, name) >= 0)
		return;
	if (ga->nheld == ga->capheld) {
		size_t cap = ga->capheld ? ga->capheld * 2 : 16;

		if ((n = realloc(ga->held, cap * sizeof(*n))) == NULL)
			fatal("realloc");
		ga->held = n;
		ga->capheld = cap;
	}
	if ((ga->held[ga->nheld] = strdup(name)) == NULL)
		fatal("strdup");
	ga->nheld++;
}

static void
held_del(struct ga *ga, const char *name)
{
	int i = held_index(ga, name);

	if (i < 0)
		return;
	free(ga->held[i]);
	ga->held[i] = ga->held[--ga->nheld];
}

/* Write this node's lease on name (mkdir leases/NAME first). */
static int
lease_write(struct ga *ga, const char *name, char *path, size_t len)
{
	char dir[VW_PATH_MAX];

	if (gpath(ga, dir, sizeof(dir), META "/leases/%s", name) < 0 ||
	    snprintf(path, len, "%s/%s", dir, ga->node) >= (int)len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (mkdir_ok(ga, dir, 0700) < 0)
		return -1;
	return write_marker(ga, path, 0);
}

void
ga_heartbeat(struct ga *ga)
{
	time_t now = time(NULL);
	char path[VW_PATH_MAX];
	int failed = 0;

	if (ga->fs == NULL) {
		(void)ga_connect(ga);
		return;
	}
	if (now - ga->last_beat < (time_t)(ga->ttl / 3 ? ga->ttl / 3 : 1))
		return;
	ga->last_beat = now;
	for (size_t i = 0; i < ga->nheld; i++) {
		if (lease_write(ga, ga->held[i], path, sizeof(path)) < 0) {
			if (!ga->beat_failed)
				log_warn("cannot renew the lease of node %s on "
				    "volume %s in Gluster volume %s; other nodes "
				    "may remove it once the lease expires",
				    ga->node, ga->held[i], ga->volume);
			failed = 1;
		}
	}
	if (ga->beat_failed && !failed)
		log_info("leases renewed again in Gluster volume %s", ga->volume);
	ga->beat_failed = failed;
}

/* ------------------------------------------------------------ requests */

/* A live Remove of name on another node (its marker), as "node-b". */
static int
removing_by(struct ga *ga, const char *name, char *node, size_t len)
{
	char path[VW_PATH_MAX];
	long long expires;

	if (gpath(ga, path, sizeof(path), META "/removing/%s", name) < 0)
		return 0;
	if (read_marker(ga, path, &expires, node, len) < 0)
		return 0;
	return expires > (long long)time(NULL);
}

static int
exists(struct ga *ga, const char *path)
{
	struct stat st;

	return glfs_lstat(FS(ga), path, &st) == 0;
}

void
ga_create(struct ga *ga, const struct vw_volume_req *req,
    struct vw_volume_reply *rep)
{
	const struct vw_volume_opts *o = &req->opts;
	char path[VW_PATH_MAX], meta[VW_PATH_MAX], buf[512], node[VW_NAME_MAX + 1];
	struct stat st;
	int created = 1;

	if (not_connected(ga, rep->msg, sizeof(rep->msg)) ||
	    ensure_dirs(ga, rep->msg, sizeof(rep->msg)) < 0) {
		rep->err = EHOSTDOWN;
		return;
	}
	if (gpath(ga, path, sizeof(path), "%s", req->name) < 0) {
		rfail(rep, ENAMETOOLONG, "the path of volume %s in the Gluster "
		    "volume is too long", req->name);
		return;
	}
	if (removing_by(ga, req->name, node, sizeof(node))) {
		rfail(rep, EBUSY, "it is being removed by node %s; try again in "
		    "a moment", node);
		return;
	}
	if (glfs_mkdir(FS(ga), path, 0755) < 0) {
		if (errno != EEXIST) {
			gfail(ga, rep->msg, sizeof(rep->msg), errno, "create", path);
			rep->err = errno;
			return;
		}
		created = 0;
	}
	if (glfs_lstat(FS(ga), path, &st) < 0) {
		rep->err = errno;
		gfail(ga, rep->msg, sizeof(rep->msg), errno, "look up", path);
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		rfail(rep, ENOTDIR, "%s exists in Gluster volume %s and is not a "
		    "directory; remove it or choose another name", path,
		    ga->volume);
		return;
	}
	if ((o->flags & (VW_OPT_UID | VW_OPT_GID)) &&
	    glfs_chown(FS(ga), path, (o->flags & VW_OPT_UID) ? (uid_t)o->uid :
	    (uid_t)-1, (o->flags & VW_OPT_GID) ? (gid_t)o->gid : (gid_t)-1) < 0) {
		rep->err = errno;
		gfail(ga, rep->msg, sizeof(rep->msg), errno, "set the owner of",
		    path);
		return;
	}
	if ((o->flags & VW_OPT_MODE) && glfs_chmod(FS(ga), path,
	    (mode_t)o->mode) < 0) {
		rep->err = errno;
		gfail(ga, rep->msg, sizeof(rep->msg), errno, "set the mode of",
		    path);
		return;
	}
	/* A volume removed with on_remove keep comes back with its data. */
	if (gpath(ga, meta, sizeof(meta), META "/removed/%s", req->name) == 0 &&
	    glfs_unlink(FS(ga), meta) < 0 && errno != ENOENT) {
		rep->err = errno;
		gfail(ga, rep->msg, sizeof(rep->msg), errno, "delete", meta);
		return;
	}
	if (gpath(ga, meta, sizeof(meta), META "/created/%s", req->name) == 0 &&
	    (created || !exists(ga, meta))) {
		snprintf(buf, sizeof(buf), "created=%lld node=%s\n",
		    (long long)time(NULL), ga->node);
		if (write_small(ga, meta, buf, 0) < 0)
			log_warn("volume %s: cannot record its creation time in %s",
			    req->name, meta);
	}
	log_info("volume %s: %s %s in Gluster volume %s", req->name,
	    created ? "created" : "adopted existing directory", path,
	    ga->volume);
}

void
ga_mount(struct ga *ga, const struct vw_volume_req *req,
    struct vw_volume_reply *rep)
{
	char path[VW_PATH_MAX], lease[VW_PATH_MAX], node[VW_NAME_MAX + 1];
	struct stat st;

	if (not_connected(ga, rep->msg, sizeof(rep->msg)) ||
	    ensure_dirs(ga, rep->msg, sizeof(rep->msg)) < 0) {
		rep->err = EHOSTDOWN;
		return;
	}
	/* The lease first, then the checks: a Remove on another node writes
	 * its marker first and then looks for leases, so one of the two
	 * always sees the other. */
	if (lease_write(ga, req->name, lease, sizeof(lease)) < 0) {
		rep->err = errno;
		gfail(ga, rep->msg, sizeof(rep->msg), errno, "write the lease",
		    lease);
		return;
	}
	if (removing_by(ga, req->name, node, sizeof(node))) {
		(void)glfs_unlink(FS(ga), lease);
		rfail(rep, EBUSY, "it is being removed by node %s; it cannot be "
		    "mounted", node);
		return;
	}
	if (gpath(ga, path, sizeof(path), META "/removed/%s", req->name) == 0 &&
	    exists(ga, path)) {
		(void)glfs_unlink(FS(ga), lease);
		rfail(rep, ENOENT, "it was removed (its data is kept in Gluster "
		    "volume %s); create it again to use it", ga->volume);
		return;
	}
	if (gpath(ga, path, sizeof(path), "%s", req->name) < 0 ||
	    glfs_lstat(FS(ga), path, &st) < 0 || !S_ISDIR(st.st_mode)) {
		int err = errno;

		(void)glfs_unlink(FS(ga), lease);
		if (err == ENOENT || err == 0)
			rfail(rep, ENOENT, "the directory %s of volume %s does not "
			    "exist in Gluster volume %s (removed on another "
			    "node?); it is not re-created: create the volume "
			    "again", path, req->name, ga->volume);
		else {
			rep->err = err;
			gfail(ga, rep->msg, sizeof(rep->msg), err, "look up", path);
		}
		return;
	}
	held_add(ga, req->name);
}

void
ga_unmount(struct ga *ga, const struct vw_volume_req *req,
    struct vw_volume_reply *rep)
{
	char lease[VW_PATH_MAX];

	(void)rep;
	/* Stop renewing whatever happens: if the lease cannot be deleted
	 * now, it expires after the TTL. */
	held_del(ga, req->name);
	if (ga_connect(ga) < 0 || gpath(ga, lease, sizeof(lease),
	    META "/leases/%s/%s", req->name, ga->node) < 0 ||
	    (glfs_unlink(FS(ga), lease) < 0 && errno != ENOENT))
		log_warnx("volume %s: cannot delete the lease of node %s now; it "
		    "expires within %u s", req->name, ga->node, ga->ttl);
}

/* The rename target for on_remove archive, unique within a second. */
static int
archive_name(struct ga *ga, const char *name, char *out, size_t len)
{
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	for (int i = 0; i < 100; i++) {
		int rc = i == 0 ?
		    gpath(ga, out, len, META "/archive/%.200s.removed-%s", name,
		    stamp) :
		    gpath(ga, out, len, META "/archive/%.200s.removed-%s-%d", name,
		    stamp, i);

		if (rc < 0)
			return -1;
		if (!exists(ga, out))
			return 0;
	}
	errno = EEXIST;
	return -1;
}

void
ga_remove(struct ga *ga, const struct vw_volume_req *req,
    struct vw_volume_reply *rep)
{
	char path[VW_PATH_MAX], marker[VW_PATH_MAX], other[VW_PATH_MAX];
	char list[400], node[VW_NAME_MAX + 1];
	long long expires;
	int count;

	if (not_connected(ga, rep->msg, sizeof(rep->msg)) ||
	    ensure_dirs(ga, rep->msg, sizeof(rep->msg)) < 0) {
		rep->err = EHOSTDOWN;
		return;
	}
	if (gpath(ga, path, sizeof(path), "%s", req->name) < 0 ||
	    gpath(ga, marker, sizeof(marker), META "/removing/%s", req->name) < 0) {
		rfail(rep, ENAMETOOLONG, "the path of volume %s is too long",
		    req->name);
		return;
	}
	/* Announce the Remove, then look for leases (see ga_mount). */
	if (write_marker(ga, marker, 1) < 0) {
		if (errno != EEXIST) {
			rep->err = errno;
			gfail(ga, rep->msg, sizeof(rep->msg), errno, "write",
			    marker);
			return;
		}
		if (read_marker(ga, marker, &expires, node, sizeof(node)) == 0 &&
		    expires > (long long)time(NULL) && strcmp(node, ga->node) != 0) {
			rfail(rep, EBUSY, "it is being removed by node %s already",
			    node);
			return;
		}
		/* Ours from a crash, or expired: take it over. */
		if (write_marker(ga, marker, 0) < 0) {
			rep->err = errno;
			gfail(ga, rep->msg, sizeof(rep->msg), errno, "write",
			    marker);
			return;
		}
	}
	if (other_leases(ga, req->name, list, sizeof(list), &count) < 0) {
		rep->err = errno;
		gfail(ga, rep->msg, sizeof(rep->msg), errno, "read the leases of",
		    path);
		goto out;
	}
	if (count > 0) {
		rfail(rep, EBUSY, "it is mounted on node%s %s; stop the containers "
		    "that use it there first (a node that is gone loses its "
		    "lease after %u s)", count > 1 ? "s" : "",
		    list, ga->ttl);
		goto out;
	}
	switch (ga->on_remove) {
	case VW_ON_REMOVE_KEEP:
		if (gpath(ga, other, sizeof(other), META "/removed/%s",
		    req->name) < 0 || write_small(ga, other, "removed\n", 0) < 0) {
			rep->err = errno;
			gfail(ga, rep->msg, sizeof(rep->msg), errno, "write", other);
			goto out;
		}
		log_info("volume %s: removed; data kept at %s in Gluster volume "
		    "%s", req->name, path, ga->volume);
		break;
	case VW_ON_REMOVE_DELETE:
		if (rmtree(ga, path, 0) < 0) {
			rep->err = errno;
			gfail(ga, rep->msg, sizeof(rep->msg), errno, "delete "
			    "completely", path);
			snprintf(rep->msg + strlen(rep->msg), sizeof(rep->msg) -
			    strlen(rep->msg), "; what remains is kept, remove the "
			    "volume again");
			goto out;
		}
		log_info("volume %s: removed and deleted %s in Gluster volume %s",
		    req->name, path, ga->volume);
		break;
	case VW_ON_REMOVE_ARCHIVE:
		if (!exists(ga, path))
			break;
		if (archive_name(ga, req->name, other, sizeof(other)) < 0 ||
		    glfs_rename(FS(ga), path, other) < 0) {
			rep->err = errno;
			gfail(ga, rep->msg, sizeof(rep->msg), errno, "archive", path);
			goto out;
		}
		log_info("volume %s: removed; data archived as %s in Gluster "
		    "volume %s", req->name, other, ga->volume);
		break;
	}
	if (ga->on_remove != VW_ON_REMOVE_KEEP &&
	    gpath(ga, other, sizeof(other), META "/removed/%s", req->name) == 0)
		(void)glfs_unlink(FS(ga), other);
	if (gpath(ga, other, sizeof(other), META "/created/%s", req->name) == 0)
		(void)glfs_unlink(FS(ga), other);
	if (gpath(ga, other, sizeof(other), META "/leases/%s", req->name) == 0)
		(void)rmtree(ga, other, 0);
out:
	if (glfs_unlink(FS(ga), marker) < 0 && errno != ENOENT)
		log_warn("volume %s: cannot delete %s; it expires within %u s",
		    req->name, marker, ga->ttl);
}

/* One Status entry (as vw_status_add, which lives in the privhelper). */
static void
st_add(struct vw_status_reply *rep, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
st_add(struct vw_status_reply *rep, const char *key, const char *fmt, ...)
{
	struct vw_status_entry *e;
	va_list ap;

	if (rep->count >= VW_STATUS_MAX)
		return;
	e = &rep->entries[rep->count++];
	snprintf(e->key, sizeof(e->key), "%s", key);
	va_start(ap, fmt);
	vsnprintf(e->value, sizeof(e->value), fmt, ap);
	va_end(ap);
}

void
ga_status(struct ga *ga, const struct vw_volume_req *req,
    struct vw_status_reply *rep)
{
	char path[VW_PATH_MAX], list[VW_STATUS_VALUE_MAX], buf[512];
	int count;

	st_add(rep, "gluster_volume", "%s", ga->volume);
	st_add(rep, "servers", "%s", servers_str(ga));
	if (gpath(ga, path, sizeof(path), "%s", req->name) == 0)
		st_add(rep, "gluster_path", "%s", path);
	st_add(rep, "node", "%s", ga->node);
	if (not_connected(ga, rep->msg, sizeof(rep->msg))) {
		rep->err = EHOSTDOWN;
		return;
	}
	if (!exists(ga, path)) {
		st_add(rep, "exists", "no");
		return;
	}
	if (gpath(ga, path, sizeof(path), META "/created/%s", req->name) == 0 &&
	    read_small(ga, path, buf, sizeof(buf)) == 0) {
		char node[VW_NAME_MAX + 1];

		if (sscanf(buf, "created=%*d node=%255s", node) == 1)
			st_add(rep, "created_by", "%s", node);
	}
	if (other_leases(ga, req->name, list, sizeof(list), &count) < 0) {
		rep->err = errno;
		gfail(ga, rep->msg, sizeof(rep->msg), errno, "read the leases of",
		    req->name);
		return;
	}
	st_add(rep, "mounted_here", "%s", held_index(ga, req->name) >= 0 ?
	    "yes" : "no");
	st_add(rep, "mounted_elsewhere", "%s", count ? list : "none");
}

static int
entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ga_entry *)a)->name,
	    ((const struct ga_entry *)b)->name);
}

static int
dent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dent *)a)->name,
	    ((const struct dent *)b)->name);
}

/* List the volumes afresh into ga->scan. */
static int
rescan(struct ga *ga, char *msg, size_t len)
{
	char path[VW_PATH_MAX], why[64];
	struct dent *vols, *removed = NULL, *created = NULL;
	ssize_t nv, nr, nc;
	struct ga_entry *e;
	size_t n = 0;

	if (ensure_dirs(ga, msg, len) < 0)
		return -1;
	if ((nv = list_dir(ga, ga->base, &vols)) < 0) {
		gfail(ga, msg, len, errno, "list", ga->base);
		return -1;
	}
	if (gpath(ga, path, sizeof(path), META "/removed") < 0 ||
	    (nr = list_dir(ga, path, &removed)) < 0 ||
	    gpath(ga, path, sizeof(path), META "/created") < 0 ||
	    (nc = list_dir(ga, path, &created)) < 0) {
		gfail(ga, msg, len, errno, "list", path);
		free(vols);
		free(removed);
		return -1;
	}
	qsort(removed, (size_t)nr, sizeof(*removed), dent_cmp);
	qsort(created, (size_t)nc, sizeof(*created), dent_cmp);
	if ((e = calloc((size_t)nv + 1, sizeof(*e))) == NULL)
		fatal("calloc");
	for (ssize_t i = 0; i < nv; i++) {
		struct dent *c;

		if (!S_ISDIR(vols[i].st.st_mode) ||
		    vw_name_valid(vols[i].name, strlen(vols[i].name), why,
		    sizeof(why)) < 0 ||
		    bsearch(&vols[i], removed, (size_t)nr, sizeof(*removed),
		    dent_cmp) != NULL)
			continue;
		c = bsearch(&vols[i], created, (size_t)nc, sizeof(*created),
		    dent_cmp);
		snprintf(e[n].name, sizeof(e[n].name), "%s", vols[i].name);
		e[n].created = c != NULL ? (int64_t)c->st.st_mtime :
		    (int64_t)vols[i].st.st_mtime;
		n++;
	}
	free(vols);
	free(removed);
	free(created);
	qsort(e, n, sizeof(*e), entry_cmp);
	free(ga->scan);
	ga->scan = e;
	ga->nscan = n;
	ga->scan_gen++;
	return 0;
}

void
ga_scan(struct ga *ga, const struct vw_scan_req *req, struct vw_scan_reply *rep)
{
	if (req->offset == 0) {
		if (not_connected(ga, rep->msg, sizeof(rep->msg))) {
			rep->err = EHOSTDOWN;
			return;
		}
		if (rescan(ga, rep->msg, sizeof(rep->msg)) < 0) {
			rep->err = EIO;
			return;
		}
	} else if (req->gen != ga->scan_gen || req->offset > ga->nscan) {
		rep->err = ESTALE;
		snprintf(rep->msg, sizeof(rep->msg), "a newer listing of Gluster "
		    "volume %s replaced this one; list again", ga->volume);
		return;
	}
	rep->gen = ga->scan_gen;
	rep->total = (uint32_t)ga->nscan;
	for (size_t i = req->offset; i < ga->nscan && rep->count < VW_SCAN_MAX;
	    i++) {
		struct vw_snap_entry *out = &rep->entries[rep->count++];

		memcpy(out->name, ga->scan[i].name, sizeof(out->name));
		out->created = ga->scan[i].created;
	}
}
