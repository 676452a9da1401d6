/*
 * The state store: a snapshot plus a write-ahead log, in the frontend's
 * own state directory.
 *
 * File layout (both NAME.snap and NAME.wal): an 8-byte magic, then records
 * of [u32 payload length][u32 CRC-32 (zlib) of the payload][payload], all
 * integers little-endian.  A payload is a type byte followed by the type's
 * fields; strings are a u16 length and that many bytes.
 *
 * Replaying a record sets the whole value of one key (a volume, or a
 * volume's mount ID), so replaying any suffix of the WAL twice gives the
 * same state: a crash between installing a new snapshot and emptying the
 * WAL is harmless.  A success reply is sent only after fdatasync.
 *
 * A failed fdatasync (or a failed write that cannot be cut back) leaves
 * the WAL untrustworthy: the kernel may have dropped the dirty pages, or
 * kept them marked clean, and a later fsync of the same file returns
 * success without writing them (PostgreSQL's "fsyncgate"), so neither
 * retrying nor restarting and replaying from the page cache proves
 * anything.  The store is then "broken": its batch fails, and before the
 * next commit it is rewritten from memory (repair): a new snapshot from
 * the registry, which holds exactly the records that were acknowledged,
 * and a new, empty WAL file, each fsynced as a fresh file.  Until that
 * succeeds every commit fails with the error, at most one repair a
 * second.  Nothing acknowledged depends on the damaged file any more.
 */
#include "vw-build.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <zlib.h>

#include "common/log.h"
#include "common/validate.h"
#include "frontend/frontend.h"

#define MAGIC_WAL	"VWWAL001"
#define MAGIC_SNAP	"VWSNP001"
#define MAGIC_LEN	8
#define REC_HDR		8
#define PAYLOAD_MAX	(16 * 1024)
/* VOLUME_PUT flags after which size (u64), compression (u32) and from
 * (string) follow the directory; see doc/design.md, "State". */
#define OPT_EXTRA	(VW_OPT_SIZE | VW_OPT_FROM | VW_OPT_COMPRESSION)
/* Options added in protocol 3, stored after OPT_EXTRA's when given. */
#define OPT_EXTRA3	(VW_OPT_FS | VW_OPT_SNAPSHOT_EVERY | VW_OPT_SNAPSHOT_KEEP)
/* A broken store tries to repair itself at most this often. */
#define REPAIR_NSEC	1000000000ull
/* Longest a commit waits for records announced with vw_store_hold: about
 * one fdatasync, so a slow helper costs little and a stuck one cannot
 * stall the records of other requests. */
#define HOLD_USEC	2000

struct waiter {
	struct waiter		*next;
	vw_store_done_fn	 done;
	void			*arg;
};

struct vw_store {
	int		 dirfd;
	char		*dirpath, *name;
	int		 walfd;
	int		 durable;
	uint64_t	 wal_size;	/* bytes, including the magic */
	uint64_t	 syncs;
	uint64_t	 records;	/* appended since open */
	unsigned char	*buf;		/* queued records */
	size_t		 len, cap;
	struct waiter	*waiters, **wtail;
	struct event	*commit_ev;
	int		 scheduled;	/* commit_ev is active */
	unsigned	 holds;		/* records announced, not yet queued */
	struct event	*hold_ev;	/* bounds the wait for them */
	int		 hold_over;	/* hold_ev fired: flush now */
	int		 snapfd;	/* during compaction */
	unsigned char	*sbuf;
	size_t		 slen, scap;
	int		 serr;
	int		 broken;	/* errno that made the WAL untrustworthy */
	uint64_t	 repair_at;	/* last repair attempt, monotonic ns */
	uint64_t	 repairs;
	vw_store_dump_fn repair_dump;	/* the live state, for a repair */
	void		*repair_arg;
};

/* ----------------------------------------------------------- encoding */

struct enc {
	unsigned char	*p;
	size_t		 len, cap;
	int		 err;
};

static void
put(struct enc *e, const void *src, size_t n)
{
	if (e->err)
		return;
	if (e->len + n > e->cap) {
		size_t cap = e->cap ? e->cap : 4096;
		unsigned char *np;

		while (cap < e->len + n)
			cap *= 2;
		if ((np = realloc(e->p, cap)) == NULL) {
			e->err = ENOMEM;
			return;
		}
		e->p = np;
		e->cap = cap;
	}
	memcpy(e->p + e->len, src, n);
	e->len += n;
}

static void
put_u32(struct enc *e, uint32_t v)
{
	v = htole32(v);
	put(e, &v, 4);
}

static void
put_str(struct enc *e, const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;
	uint16_t l;

	if (n > 0xffff) {
		e->err = E2BIG;
		return;
	}
	l = htole16((uint16_t)n);
	put(e, &l, 2);
	put(e, s, n);
}

/* Append one framed record to e. */
static int
encode(struct enc *e, const struct vw_record *rec)
{
	size_t start = e->len, plen;
	uint32_t crc;
	uint64_t c;

	put_u32(e, 0);		/* length, patched below */
	put_u32(e, 0);		/* CRC, patched below */
	put(e, &rec->type, 1);
	put_str(e, rec->driver);
	put_str(e, rec->name);
	switch (rec->type) {
	case VW_REC_VOLUME_PUT:
		c = htole64((uint64_t)rec->created);
		put(e, &c, 8);
		put_u32(e, rec->opts->flags);
		put_u32(e, rec->opts->uid);
		put_u32(e, rec->opts->gid);
		put_u32(e, rec->opts->mode);
		put_str(e, rec->opts->mountpoint);
		put_str(e, rec->path);
		/* Options with values beyond the first version's follow
		 * only when given, so dir records keep their old bytes. */
		if (rec->opts->flags & OPT_EXTRA) {
			c = htole64(rec->opts->size);
			put(e, &c, 8);
			put_u32(e, rec->opts->compression);
			put_str(e, rec->opts->from);
		}
		if (rec->opts->flags & OPT_EXTRA3) {
			put_u32(e, rec->opts->fs);
			c = htole64(rec->opts->snapshot_every);
			put(e, &c, 8);
			put_u32(e, rec->opts->snapshot_keep);
		}
		break;
	case VW_REC_VOLUME_DEL:
		break;
	case VW_REC_MOUNT_SET:
		put_str(e, rec->mount_id);
		put_u32(e, rec->count);
		break;
	default:
		e->err = EINVAL;
	}
	if (e->err) {
		e->len = start;
		return -1;
	}
	plen = e->len - start - REC_HDR;
	if (plen > PAYLOAD_MAX) {
		e->len = start;
		e->err = E2BIG;
		return -1;
	}
	crc = (uint32_t)crc32(0L, e->p + start + REC_HDR, (uInt)plen);
	plen = htole32((uint32_t)plen);
	crc = htole32(crc);
	memcpy(e->p + start, &(uint32_t){ (uint32_t)plen }, 4);
	memcpy(e->p + start + 4, &crc, 4);
	return 0;
}

/* ----------------------------------------------------------- decoding */

struct dec {
	const unsigned char	*p;
	size_t			 len, off;
	int			 bad;
};

static void
get(struct dec *d, void *dst, size_t n)
{
	if (d->bad || d->len - d->off < n) {
		d->bad = 1;
		memset(dst, 0, n);
		return;
	}
	memcpy(dst, d->p + d->off, n);
	d->off += n;
}

static uint32_t
get_u32(struct dec *d)
{
	uint32_t v;

	get(d, &v, 4);
	return le32toh(v);
}

/* A string into buf (size bytes); refuses NULs and overlong values. */
static void
get_str(struct dec *d, char *buf, size_t size)
{
	uint16_t l;

	get(d, &l, 2);
	l = le16toh(l);
	if (d->bad || (size_t)l >= size || d->len - d->off < l) {
		d->bad = 1;
		buf[0] = '\0';
		return;
	}
	memcpy(buf, d->p + d->off, l);
	buf[l] = '\0';
	if (memchr(buf, '\0', l) != NULL)
		d->bad = 1;
	d->off += l;
}

struct decoded {
	struct vw_record	rec;
	struct vw_volume_opts	opts;
	char			driver[VW_NAME_MAX + 1], name[VW_NAME_MAX + 1];
	char			path[VW_PATH_MAX], id[VW_MOUNT_ID_MAX + 1];
};

static int
decode(const unsigned char *p, size_t len, struct decoded *out)
{
	struct dec d = { p, len, 0, 0 };
	char why[256];
	uint64_t c;

	memset(&out->rec, 0, sizeof(out->rec));
	memset(&out->opts, 0, sizeof(out->opts));
	get(&d, &out->rec.type, 1);
	get_str(&d, out->driver, sizeof(out->driver));
	get_str(&d, out->name, sizeof(out->name));
	if (d.bad || vw_name_valid(out->name, strlen(out->name), why,
	    sizeof(why)) < 0)
		return -1;
	out->rec.driver = out->driver;
	out->rec.name = out->name;
	switch (out->rec.type) {
	case VW_REC_VOLUME_PUT:
		get(&d, &c, 8);
		out->rec.created = (int64_t)le64toh(c);
		out->opts.flags = get_u32(&d);
		out->opts.uid = get_u32(&d);
		out->opts.gid = get_u32(&d);
		out->opts.mode = get_u32(&d);
		get_str(&d, out->opts.mountpoint, sizeof(out->opts.mountpoint));
		get_str(&d, out->path, sizeof(out->path));
		if (out->opts.flags & OPT_EXTRA) {
			get(&d, &c, 8);
			out->opts.size = le64toh(c);
			out->opts.compression = get_u32(&d);
			get_str(&d, out->opts.from, sizeof(out->opts.from));
		}
		if (out->opts.flags & OPT_EXTRA3) {
			out->opts.fs = get_u32(&d);
			get(&d, &c, 8);
			out->opts.snapshot_every = le64toh(c);
			out->opts.snapshot_keep = get_u32(&d);
		}
		if (d.bad || vw_opts_check(&out->opts, why, sizeof(why)) < 0 ||
		    out->path[0] != '/')
			return -1;
		out->rec.opts = &out->opts;
		out->rec.path = out->path;
		break;
	case VW_REC_VOLUME_DEL:
		break;
	case VW_REC_MOUNT_SET:
		get_str(&d, out->id, sizeof(out->id));
		out->rec.count = get_u32(&d);
		if (out->id[0] == '\0')
			return -1;
		out->rec.mount_id = out->id;
		break;
	default:
		return -1;
	}
	return d.bad || d.off != len ? -1 : 0;
}

/* ------------------------------------------------------------- replay */

static int
read_all(int fd, unsigned char **out, size_t *outlen)
{
	struct stat st;
	unsigned char *b;
	size_t off = 0;

	if (fstat(fd, &st) < 0)
		return -1;
	if ((b = malloc((size_t)st.st_size + 1)) == NULL)
		return -1;
	while (off < (size_t)st.st_size) {
		ssize_t n = pread(fd, b + off, (size_t)st.st_size - off, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(b);
			if (n == 0)
				errno = EIO;
			return -1;
		}
		off += (size_t)n;
	}
	*out = b;
	*outlen = off;
	return 0;
}

static int
all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

/* Is there a complete record with a valid checksum starting anywhere in
 * [from, len)?  Cheap filters (length, type byte, name length) keep the
 * scan linear in practice. */
static int
valid_record_after(const unsigned char *b, size_t from, size_t len)
{
	for (size_t o = from; o + REC_HDR + 5 <= len; o++) {
		uint32_t plen, crc;
		uint16_t dl;

		memcpy(&plen, b + o, 4);
		plen = le32toh(plen);
		if (plen < 5 || plen > PAYLOAD_MAX || plen > len - o - REC_HDR)
			continue;
		if (b[o + REC_HDR] < VW_REC_VOLUME_PUT ||
		    b[o + REC_HDR] > VW_REC_MOUNT_SET)
			continue;
		memcpy(&dl, b + o + REC_HDR + 1, 2);
		if (le16toh(dl) > VW_NAME_MAX)
			continue;
		memcpy(&crc, b + o + 4, 4);
		if (le32toh(crc) == (uint32_t)crc32(0L, b + o + REC_HDR, plen))
			return 1;
	}
	return 0;
}

/*
 * Replay one file.  Returns the length of its valid prefix (>= MAGIC_LEN),
 * or -1 with err set.  A torn tail is tolerated only where allow_torn.
 */
static ssize_t
replay(struct vw_store *st, int fd, const char *fname, const char *magic,
    int allow_torn, vw_store_apply_fn apply, void *arg, char *err,
    size_t errlen)
{
	unsigned char *b;
	size_t len, off = MAGIC_LEN;
	struct decoded *dec;
	char why[512];

	if (read_all(fd, &b, &len) < 0) {
		snprintf(err, errlen, "cannot read %s/%s: %s", st->dirpath, fname,
		    strerror(errno));
		return -1;
	}
	if (len < MAGIC_LEN || memcmp(b, magic, MAGIC_LEN) != 0) {
		snprintf(err, errlen, "%s/%s at byte offset 0: not a volwarden "
		    "state file (bad magic); move it aside and restore it from "
		    "a backup", st->dirpath, fname);
		free(b);
		return -1;
	}
	if ((dec = malloc(sizeof(*dec))) == NULL) {
		snprintf(err, errlen, "out of memory");
		free(b);
		return -1;
	}
	while (off < len) {
		uint32_t plen, crc;
		size_t rest = len - off;

		if (rest < REC_HDR || (memcpy(&plen, b + off, 4),
		    plen = le32toh(plen), plen <= PAYLOAD_MAX && plen > rest - REC_HDR) ||
		    all_zero(b + off, rest)) {
			if (!allow_torn)
				goto corrupt_torn;
			/* A torn record is the last thing ever written.  If a
			 * whole valid record follows, this one was damaged
			 * after the fact (e.g. a flipped length bit): refuse. */
			if (valid_record_after(b, off + 1, len)) {
				snprintf(err, errlen, "%s/%s is damaged at byte offset "
				    "%zu (a record length points past the end of the "
				    "file, but valid records follow); refusing to start "
				    "so that no acknowledged volume is lost: restore the "
				    "file from a backup", st->dirpath, fname, off);
				goto fail;
			}
			log_warnx("%s/%s: dropping an incomplete final record at "
			    "byte offset %zu (%zu bytes): it was being written "
			    "when the daemon stopped and was never acknowledged",
			    st->dirpath, fname, off, rest);
			break;
		}
		memcpy(&crc, b + off + 4, 4);
		crc = le32toh(crc);
		if (plen > PAYLOAD_MAX || plen == 0 ||
		    crc != (uint32_t)crc32(0L, b + off + REC_HDR, plen)) {
			snprintf(err, errlen, "%s/%s is damaged at byte offset %zu "
			    "(bad record checksum or length); refusing to start so "
			    "that no acknowledged volume is lost: restore the file "
			    "from a backup or truncate it at that offset to accept "
			    "the loss of later records", st->dirpath, fname, off);
			goto fail;
		}
		if (decode(b + off + REC_HDR, plen, dec) < 0) {
			snprintf(err, errlen, "%s/%s at byte offset %zu: a record "
			    "with a valid checksum has invalid contents; refusing to "
			    "start (restore the file from a backup)", st->dirpath,
			    fname, off);
			goto fail;
		}
		if (apply(arg, &dec->rec, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s/%s at byte offset %zu: %s",
			    st->dirpath, fname, off, why);
			goto fail;
		}
		off += REC_HDR + plen;
	}
	free(dec);
	free(b);
	return (ssize_t)off;

corrupt_torn:
	snprintf(err, errlen, "%s/%s is truncated at byte offset %zu; a "
	    "snapshot is only installed complete, so the file was damaged "
	    "afterwards: restore it from a backup", st->dirpath, fname, off);
fail:
	free(dec);
	free(b);
	return -1;
}

static int
open_file(struct vw_store *st, const char *fname, const char *magic,
    int create, char *err, size_t errlen)
{
	int fd = openat(st->dirfd, fname, O_RDWR | O_CLOEXEC | O_NOFOLLOW |
	    (create ? O_CREAT : 0), 0600);
	struct stat sb;

	if (fd < 0) {
		if (errno != ENOENT || create)
			snprintf(err, errlen, "cannot open %s/%s: %s", st->dirpath,
			    fname, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "%s/%s is not a regular file", st->dirpath,
		    fname);
		close(fd);
		return -1;
	}
	if (sb.st_size == 0 && create) {
		if (pwrite(fd, magic, MAGIC_LEN, 0) != MAGIC_LEN || fsync(fd) < 0 ||
		    fsync(st->dirfd) < 0) {
			snprintf(err, errlen, "cannot initialise %s/%s: %s",
			    st->dirpath, fname, strerror(errno));
			close(fd);
			return -1;
		}
	}
	return fd;
}

struct vw_store *
vw_store_open(int dirfd, const char *dirpath, const char *name, int durable,
    vw_store_apply_fn apply, void *arg, char *err, size_t errlen)
{
	struct vw_store *st = calloc(1, sizeof(*st));
	char fname[300];
	ssize_t valid;
	struct stat sb;
	int snapfd;

	if (st == NULL || (st->dirpath = strdup(dirpath)) == NULL ||
	    (st->name = strdup(name)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	st->dirfd = dirfd;
	st->durable = durable;
	st->walfd = st->snapfd = -1;
	st->wtail = &st->waiters;

	snprintf(fname, sizeof(fname), "%s.snap", name);
	snapfd = open_file(st, fname, MAGIC_SNAP, 0, err, errlen);
	if (snapfd < 0 && errno != ENOENT)
		goto fail;
	if (snapfd >= 0) {
		valid = replay(st, snapfd, fname, MAGIC_SNAP, 0, apply, arg, err,
		    errlen);
		close(snapfd);
		if (valid < 0)
			goto fail;
	}
	err[0] = '\0';
	snprintf(fname, sizeof(fname), "%s.wal", name);
	if ((st->walfd = open_file(st, fname, MAGIC_WAL, 1, err, errlen)) < 0)
		goto fail;
	valid = replay(st, st->walfd, fname, MAGIC_WAL, 1, apply, arg, err, errlen);
	if (valid < 0)
		goto fail;
	if (fstat(st->walfd, &sb) < 0) {
		snprintf(err, errlen, "fstat %s/%s: %s", dirpath, fname,
		    strerror(errno));
		goto fail;
	}
	if ((off_t)valid != sb.st_size) {
		/* Cut the torn tail so new records follow valid ones. */
		if (ftruncate(st->walfd, (off_t)valid) < 0 || fsync(st->walfd) < 0) {
			snprintf(err, errlen, "cannot truncate %s/%s: %s", dirpath,
			    fname, strerror(errno));
			goto fail;
		}
	}
	st->wal_size = (uint64_t)valid;
	return st;
fail:
	if (st != NULL) {
		if (st->walfd >= 0)
			close(st->walfd);
		free(st->dirpath);
		free(st->name);
		free(st);
	}
	return NULL;
}

int
vw_store_append(struct vw_store *st, const struct vw_record *rec)
{
	struct enc e = { st->buf, st->len, st->cap, 0 };

	encode(&e, rec);
	st->buf = e.p;
	st->len = e.len;
	st->cap = e.cap;
	if (e.err) {
		errno = e.err;
		return -1;
	}
	st->records++;
	return 0;
}

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The WAL can no longer be trusted: repair before the next commit. */
static int
set_broken(struct vw_store *st, int err, const char *what)
{
	if (!st->broken)
		log_warnx("%s of %s/%s.wal failed: %s; what it holds can no "
		    "longer be trusted, so it is rewritten from memory before "
		    "the next change is recorded (until then changes fail)",
		    what, st->dirpath, st->name, strerror(err));
	st->broken = err;
	return err;
}

static int snap_write(struct vw_store *st, vw_store_dump_fn dump, void *arg);

/*
 * Rewrite the store from memory: a snapshot of the live state (dump),
 * then a fresh empty WAL in place of the old file.  Each is a new file,
 * written, fsynced and renamed into place, then the directory fsynced,
 * so a success proves the data reached the disk.  Returns 0 or an errno.
 */
static int
repair(struct vw_store *st)
{
	char tmp[300], wal[300];
	int fd, err;

	if (st->repair_dump == NULL)
		return st->broken;
	if (st->repair_at != 0 && mono_ns() - st->repair_at < REPAIR_NSEC)
		return st->broken;
	st->repair_at = mono_ns();
	if ((err = snap_write(st, st->repair_dump, st->repair_arg)) != 0) {
		log_warnx("cannot rewrite %s/%s.snap yet: %s; retrying at the "
		    "next change", st->dirpath, st->name, strerror(err));
		return err;
	}
	snprintf(tmp, sizeof(tmp), "%s.wal.tmp", st->name);
	snprintf(wal, sizeof(wal), "%s.wal", st->name);
	errno = 0;
	fd = openat(st->dirfd, tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	if (fd < 0 || pwrite(fd, MAGIC_WAL, MAGIC_LEN, 0) != MAGIC_LEN ||
	    fsync(fd) < 0 || renameat(st->dirfd, tmp, st->dirfd, wal) < 0 ||
	    fsync(st->dirfd) < 0) {
		err = errno ? errno : EIO;
		if (fd >= 0)
			close(fd);
		unlinkat(st->dirfd, tmp, 0);
		log_warnx("cannot start a new %s/%s: %s; retrying at the next "
		    "change", st->dirpath, wal, strerror(err));
		return err;
	}
	close(st->walfd);
	st->walfd = fd;
	st->wal_size = MAGIC_LEN;
	st->broken = 0;
	st->repairs++;
	log_warnx("%s/%s rewritten from memory: the state store works again",
	    st->dirpath, wal);
	return 0;
}

int
vw_store_flush(struct vw_store *st)
{
	size_t off = 0;
	int err;

	if (st->broken && st->len > 0 && (err = repair(st)) != 0) {
		st->len = 0;
		return err;
	}
	while (off < st->len) {
		ssize_t n = pwrite(st->walfd, st->buf + off, st->len - off,
		    (off_t)(st->wal_size + off));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int saved = n < 0 ? errno : EIO;

			/* Never leave half a batch behind an error reply. */
			st->len = 0;
			if (ftruncate(st->walfd, (off_t)st->wal_size) < 0)
				set_broken(st, errno, "cutting back a failed write");
			return saved;
		}
		off += (size_t)n;
	}
	if (st->len > 0 && st->durable) {
		if (fdatasync(st->walfd) < 0) {
			err = set_broken(st, errno, "fdatasync");
			/* Drop the batch from the page cache too, so that a
			 * restart before the repair cannot replay it; it is
			 * answered with an error. */
			if (ftruncate(st->walfd, (off_t)st->wal_size) < 0)
				log_warn("cutting back %s/%s.wal", st->dirpath,
				    st->name);
			st->len = 0;
			return err;
		}
		st->syncs++;
	}
	st->wal_size += st->len;
	st->len = 0;
	return 0;
}

static void
commit_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vw_store *st = arg;
	struct waiter *w, *next;
	struct timeval tv = { 0, HOLD_USEC };
	int err;

	(void)fd;
	(void)what;
	st->scheduled = 0;
	if (st->holds > 0 && !st->hold_over) {
		/* Records are on their way (a helper is acting for them):
		 * let them share this fdatasync rather than pay for their
		 * own right after it.  vw_store_release or hold_cb brings
		 * us back. */
		if (!evtimer_pending(st->hold_ev, NULL))
			evtimer_add(st->hold_ev, &tv);
		return;
	}
	evtimer_del(st->hold_ev);
	st->hold_over = 0;
	err = vw_store_flush(st);
	w = st->waiters;
	st->waiters = NULL;
	st->wtail = &st->waiters;
	for (; w != NULL; w = next) {
		next = w->next;
		w->done(w->arg, err);
		free(w);
	}
}

static void
schedule(struct vw_store *st)
{
	if (!st->scheduled) {
		st->scheduled = 1;
		event_active(st->commit_ev, EV_TIMEOUT, 0);
	}
}

static void
hold_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vw_store *st = arg;

	(void)fd;
	(void)what;
	st->hold_over = 1;
	if (st->waiters != NULL)
		schedule(st);
}

int
vw_store_attach(struct vw_store *st, struct event_base *base)
{
	st->commit_ev = event_new(base, -1, 0, commit_cb, st);
	st->hold_ev = evtimer_new(base, hold_cb, st);
	if (st->commit_ev == NULL || st->hold_ev == NULL)
		return -1;
	/* Lowest priority: runs after every ready request in this loop
	 * iteration has queued its records (group commit). */
	return event_priority_set(st->commit_ev, 2);
}

int
vw_store_commit(struct vw_store *st, vw_store_done_fn done, void *arg)
{
	struct waiter *w = malloc(sizeof(*w));

	if (w == NULL)
		return -1;
	w->next = NULL;
	w->done = done;
	w->arg = arg;
	*st->wtail = w;
	st->wtail = &w->next;
	schedule(st);
	return 0;
}

void
vw_store_hold(struct vw_store *st)
{
	st->holds++;
}

void
vw_store_release(struct vw_store *st)
{
	if (st->holds > 0 && --st->holds == 0 && st->waiters != NULL &&
	    st->commit_ev != NULL)
		schedule(st);
}

int
vw_store_emit(struct vw_store *st, const struct vw_record *rec)
{
	struct enc e = { st->sbuf, st->slen, st->scap, 0 };

	if (st->serr)
		return -1;
	encode(&e, rec);
	st->sbuf = e.p;
	st->slen = e.len;
	st->scap = e.cap;
	if (e.err) {
		st->serr = e.err;
		return -1;
	}
	if (st->slen >= (1u << 20)) {
		if (write(st->snapfd, st->sbuf, st->slen) != (ssize_t)st->slen) {
			st->serr = errno ? errno : EIO;
			return -1;
		}
		st->slen = 0;
	}
	return 0;
}

/* Write NAME.snap from dump: NAME.snap.tmp, fsync, rename, fsync the
 * directory.  Returns 0 or an errno. */
static int
snap_write(struct vw_store *st, vw_store_dump_fn dump, void *arg)
{
	char tmp[300], snap[300];
	int err = 0;

	snprintf(tmp, sizeof(tmp), "%s.snap.tmp", st->name);
	snprintf(snap, sizeof(snap), "%s.snap", st->name);
	st->snapfd = openat(st->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC |
	    O_CLOEXEC | O_NOFOLLOW, 0600);
	if (st->snapfd < 0)
		return errno;
	st->serr = 0;
	st->slen = 0;
	if (write(st->snapfd, MAGIC_SNAP, MAGIC_LEN) != MAGIC_LEN)
		st->serr = errno ? errno : EIO;
	if (!st->serr && dump(arg, st) != 0 && !st->serr)
		st->serr = EIO;
	if (!st->serr && st->slen > 0 &&
	    write(st->snapfd, st->sbuf, st->slen) != (ssize_t)st->slen)
		st->serr = errno ? errno : EIO;
	if (!st->serr && fsync(st->snapfd) < 0)
		st->serr = errno;
	close(st->snapfd);
	st->snapfd = -1;
	free(st->sbuf);
	st->sbuf = NULL;
	st->slen = st->scap = 0;
	if (st->serr) {
		err = st->serr;
		unlinkat(st->dirfd, tmp, 0);
		return err;
	}
	if (renameat(st->dirfd, tmp, st->dirfd, snap) < 0) {
		err = errno;
		unlinkat(st->dirfd, tmp, 0);
		return err;
	}
	if (fsync(st->dirfd) < 0)
		return errno;
	return 0;
}

int
vw_store_compact(struct vw_store *st, vw_store_dump_fn dump, void *arg)
{
	int err;

	if (st->len > 0 || st->waiters != NULL)
		return EBUSY;
	if (st->broken)
		return st->broken;	/* the next commit repairs it */
	if ((err = snap_write(st, dump, arg)) != 0) {
		/* A rename that may not have reached the disk leaves the old
		 * snapshot and the whole WAL: still consistent. */
		return err;
	}
	/* The snapshot holds everything: the WAL may start over.  A crash
	 * before this point replays the old WAL on top, which is harmless. */
	if (ftruncate(st->walfd, MAGIC_LEN) < 0 || fsync(st->walfd) < 0)
		return set_broken(st, errno, "emptying after compaction");
	st->wal_size = MAGIC_LEN;
	return 0;
}

void
vw_store_set_dump(struct vw_store *st, vw_store_dump_fn dump, void *arg)
{
	st->repair_dump = dump;
	st->repair_arg = arg;
}

uint64_t
vw_store_repairs(const struct vw_store *st)
{
	return st->repairs;
}

uint64_t
vw_store_wal_bytes(const struct vw_store *st)
{
	return st->wal_size;
}

uint64_t
vw_store_syncs(const struct vw_store *st)
{
	return st->syncs;
}

uint64_t
vw_store_records(const struct vw_store *st)
{
	return st->records;
}

void
vw_store_close(struct vw_store *st)
{
	struct waiter *w, *next;

	if (st == NULL)
		return;
	for (w = st->waiters; w != NULL; w = next) {
		next = w->next;
		free(w);
	}
	if (st->commit_ev != NULL)
		event_free(st->commit_ev);
	if (st->hold_ev != NULL)
		event_free(st->hold_ev);
	close(st->walfd);
	free(st->buf);
	free(st->dirpath);
	free(st->name);
	free(st);
}
