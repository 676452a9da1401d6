/*
 * Writes the binary seed corpora of t/fuzz: helper messages (header +
 * payload) into corpus/helper-msg and state files made with the real
 * encoder (vw_store_append/flush, vw_store_compact) into corpus/store.
 * Run by `make fuzz-seeds`; its output is committed, and the text seeds
 * of the other corpora are written by hand.
 */
#include "vw-build.h"

#include <endian.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/options.h"
#include "common/proto.h"
#include "common/validate.h"
#include "frontend/frontend.h"

static const char *outdir;
static char tmpdir[] = "/tmp/vw-mkseeds.XXXXXX";
static int tmpfd;

static void
put_file(const char *sub, const char *name, const void *p, size_t len)
{
	char path[1024];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s/%s", outdir, sub, name);
	if ((fp = fopen(path, "wb")) == NULL || fwrite(p, 1, len, fp) != len ||
	    fclose(fp) != 0) {
		perror(path);
		exit(1);
	}
}

/* ------------------------------------------------------ helper messages */

static void
msg(const char *name, uint32_t type, const void *payload, size_t len)
{
	unsigned char buf[sizeof(struct vw_msg_hdr) + sizeof(struct vw_volume_req)];
	struct vw_msg_hdr h = { type, (uint32_t)len, 7 };

	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), payload, len);
	put_file("helper-msg", name, buf, sizeof(h) + len);
}

/* A volume request; opts is "key=value,..." parsed as the frontend does
 * for a driver with backend be. */
static void
volreq_be(enum vw_backend_type be, const char *file, uint32_t type,
    const char *name, const char *opts)
{
	struct vw_volume_req req;
	char buf[256], err[512], *kv, *save = NULL;

	memset(&req, 0, sizeof(req));
	snprintf(req.name, sizeof(req.name), "%s", name);
	snprintf(buf, sizeof(buf), "%s", opts);
	for (kv = strtok_r(buf, ",", &save); kv != NULL;
	    kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');

		if (eq == NULL || vw_opt_parse_backend(be, kv, (size_t)(eq - kv),
		    eq + 1, strlen(eq + 1), &req.opts, err, sizeof(err)) < 0) {
			fprintf(stderr, "mkseeds: %s: %s\n", kv, err);
			exit(1);
		}
	}
	msg(file, type, &req, sizeof(req));
}

static void
volreq(const char *file, uint32_t type, const char *name, const char *opts)
{
	volreq_be(VW_BACKEND_DIR, file, type, name, opts);
}

/* A snapshot request (protocol 2). */
static void
snapreq(const char *file, uint32_t type, const char *name, const char *snap,
    uint32_t flags, uint32_t offset, uint64_t size)
{
	struct vw_snap_req req;

	memset(&req, 0, sizeof(req));
	snprintf(req.name, sizeof(req.name), "%s", name);
	snprintf(req.snap, sizeof(req.snap), "%s", snap);
	req.flags = flags;
	req.offset = offset;
	req.size = size;
	msg(file, type, &req, sizeof(req));
}

static void
helper_seeds(void)
{
	struct vw_hello hello = { VW_PROTO_VERSION, 0, 0x0123456789abcdefULL };
	struct vw_volume_req req;
	char longname[VW_NAME_MAX + 1];

	msg("hello", VW_MSG_HELLO, &hello, sizeof(hello));
	msg("hello-short", VW_MSG_HELLO, &hello, sizeof(hello) - 4);
	volreq("create", VW_MSG_VOLUME_CREATE, "data1", "");
	volreq("create-opts", VW_MSG_VOLUME_CREATE, "pg-data",
	    "uid=999,gid=999,mode=0750");
	volreq("create-relative", VW_MSG_VOLUME_CREATE, "app_cache",
	    "mountpoint=cache//app/");
	volreq("create-allowed", VW_MSG_VOLUME_CREATE, "shared.v2",
	    "mountpoint=/srv/docker/shared,mode=2775");
	volreq("create-outside", VW_MSG_VOLUME_CREATE, "etc1",
	    "mountpoint=/etc/cron.d");
	volreq("remove", VW_MSG_VOLUME_REMOVE, "data1", "");
	volreq("mount", VW_MSG_VOLUME_MOUNT, "data1", "");
	volreq("unmount", VW_MSG_VOLUME_UNMOUNT, "data1", "");
	volreq("name-dotdot", VW_MSG_VOLUME_CREATE, "../etc", "");
	memset(longname, 'x', VW_NAME_MAX);
	longname[0] = 'a';
	longname[VW_NAME_MAX] = '\0';
	volreq("name-255", VW_MSG_VOLUME_CREATE, longname, "");
	volreq_be(VW_BACKEND_BTRFS, "create-btrfs", VW_MSG_VOLUME_CREATE, "db",
	    "size=10G,compression=zstd,uid=999,mode=0750");
	volreq_be(VW_BACKEND_BTRFS, "create-from-snap", VW_MSG_VOLUME_CREATE,
	    "db-old", "from=db@nightly");
	volreq_be(VW_BACKEND_BTRFS, "create-nocow", VW_MSG_VOLUME_CREATE,
	    "scratch", "nocow=true");
	volreq_be(VW_BACKEND_BTRFS, "create-schedule", VW_MSG_VOLUME_CREATE,
	    "app", "snapshot_every=1h,snapshot_keep=24");
	volreq_be(VW_BACKEND_BTRFS, "status-btrfs", VW_MSG_VOLUME_STATUS,
	    "app", "size=64M,snapshot_every=30m");
	volreq_be(VW_BACKEND_LOOP, "create-loop", VW_MSG_VOLUME_CREATE,
	    "cache", "size=64M,fs=xfs,uid=1000,mode=0750");
	volreq_be(VW_BACKEND_LOOP, "create-erofs", VW_MSG_VOLUME_CREATE,
	    "site", "fs=erofs,source=/srv/images/site");
	volreq_be(VW_BACKEND_LOOP, "create-erofs-image", VW_MSG_VOLUME_CREATE,
	    "base", "fs=erofs,image=/srv/images/base.erofs");
	volreq_be(VW_BACKEND_LOOP, "resize-loop", VW_MSG_VOLUME_RESIZE,
	    "cache", "size=2G");
	volreq("status-dir", VW_MSG_VOLUME_STATUS, "data1", "");
	{
		struct vw_scan_req sr = { .offset = 15, .gen = 3 };

		msg("scan", VW_MSG_VOLUME_SCAN, &sr, sizeof(sr));
	}
	snapreq("snap-create", VW_MSG_VOLUME_SNAPSHOT_CREATE, "db", "nightly",
	    0, 0, 0);
	snapreq("snap-list", VW_MSG_VOLUME_SNAPSHOT_LIST, "db", "", 0, 15, 0);
	snapreq("snap-delete", VW_MSG_VOLUME_SNAPSHOT_DELETE, "db", "nightly",
	    0, 0, 0);
	snapreq("snap-restore", VW_MSG_VOLUME_SNAPSHOT_RESTORE, "db", "nightly",
	    VW_SNAP_FORCE, 0, 10ULL << 30);
	snapreq("snap-dotdot", VW_MSG_VOLUME_SNAPSHOT_DELETE, "db", "..", 0, 0,
	    0);
	snapreq("snap-list-named", VW_MSG_VOLUME_SNAPSHOT_LIST, "db", "x", 0,
	    0, 0);
	snapreq("snap-force-create", VW_MSG_VOLUME_SNAPSHOT_CREATE, "db", "s1",
	    VW_SNAP_FORCE, 0, 0);

	/* Hand-made violations. */
	memset(&req, 0, sizeof(req));
	memset(req.name, 'a', sizeof(req.name));
	msg("name-unterminated", VW_MSG_VOLUME_CREATE, &req, sizeof(req));
	memset(&req, 0, sizeof(req));
	memcpy(req.name, "ok\0hidden", 9);
	msg("name-hidden", VW_MSG_VOLUME_MOUNT, &req, sizeof(req));
	memset(&req, 0, sizeof(req));
	strcpy(req.name, "v1");
	req.opts.flags = VW_OPT_MOUNTPOINT;
	strcpy(req.opts.mountpoint, "a/../../etc");
	msg("mountpoint-dotdot", VW_MSG_VOLUME_CREATE, &req, sizeof(req));
	strcpy(req.opts.mountpoint, "/srv//docker/");
	msg("mountpoint-unnormal", VW_MSG_VOLUME_CREATE, &req, sizeof(req));
	memset(&req.opts, 0, sizeof(req.opts));
	req.opts.flags = VW_OPT_ALL + 1;	/* past every known bit */
	msg("flags-unknown", VW_MSG_VOLUME_CREATE, &req, sizeof(req));
	req.opts.flags = VW_OPT_UID;
	req.opts.uid = UINT32_MAX;
	msg("uid-minus-one", VW_MSG_VOLUME_CREATE, &req, sizeof(req));
	memset(&req.opts, 0, sizeof(req.opts));
	msg("type-unknown", 99, &req, sizeof(req));
	msg("type-reply", VW_MSG_VOLUME_CREATE | VW_MSG_REPLY, &req, sizeof(req));
	msg("create-short", VW_MSG_VOLUME_CREATE, &req, 256);
	/* A snapshot request with a volume request's length, and back. */
	msg("snap-long", VW_MSG_VOLUME_SNAPSHOT_CREATE, &req, sizeof(req));
	msg("create-snap-size", VW_MSG_VOLUME_CREATE, &req,
	    sizeof(struct vw_snap_req));
}

/* ---------------------------------------------------------- state files */

static int
no_apply(void *arg, const struct vw_record *rec, char *err, size_t errlen)
{
	(void)arg;
	(void)rec;
	(void)err;
	(void)errlen;
	return 0;
}

static void
rec_put(struct vw_record *r, struct vw_volume_opts *o, const char *name,
    const char *path)
{
	memset(r, 0, sizeof(*r));
	r->type = VW_REC_VOLUME_PUT;
	r->driver = "vw";
	r->name = name;
	r->created = 1764536212;
	r->opts = o;
	r->path = path;
}

static int
append_all(struct vw_store *st)
{
	struct vw_volume_opts plain, custom, btrfs;
	struct vw_record r;
	char err[256];

	memset(&plain, 0, sizeof(plain));
	memset(&custom, 0, sizeof(custom));
	memset(&btrfs, 0, sizeof(btrfs));
	if (vw_opt_parse("uid", 3, "1000", 4, &custom, err, sizeof(err)) < 0 ||
	    vw_opt_parse("mode", 4, "0750", 4, &custom, err, sizeof(err)) < 0 ||
	    vw_opt_parse("mountpoint", 10, "/srv/docker/pg", 14, &custom, err,
	    sizeof(err)) < 0)
		return -1;
	/* A btrfs volume: size, compression and from follow the path. */
	if (vw_opt_parse_backend(VW_BACKEND_BTRFS, "size", 4, "1G", 2, &btrfs,
	    err, sizeof(err)) < 0 ||
	    vw_opt_parse_backend(VW_BACKEND_BTRFS, "compression", 11, "zstd", 4,
	    &btrfs, err, sizeof(err)) < 0 ||
	    vw_opt_parse_backend(VW_BACKEND_BTRFS, "from", 4, "db@nightly", 10,
	    &btrfs, err, sizeof(err)) < 0)
		return -1;
	rec_put(&r, &btrfs, "db-old", "/srv/pool/volumes/db-old");
	if (vw_store_append(st, &r) < 0)
		return -1;
	rec_put(&r, &plain, "data1", "/var/lib/volwarden/volumes/data1");
	if (vw_store_append(st, &r) < 0)
		return -1;
	rec_put(&r, &custom, "pg-data", "/srv/docker/pg");
	if (vw_store_append(st, &r) < 0)
		return -1;
	memset(&r, 0, sizeof(r));
	r.type = VW_REC_MOUNT_SET;
	r.driver = "vw";
	r.name = "data1";
	r.mount_id = "5a1c0e6b3f0b4d5a9a0e2c1b7d6f8e9a5a1c0e6b3f0b4d5a9a0e2c1b7d6f8e9a";
	r.count = 2;
	if (vw_store_append(st, &r) < 0)
		return -1;
	r.count = 0;
	if (vw_store_append(st, &r) < 0)
		return -1;
	memset(&r, 0, sizeof(r));
	r.type = VW_REC_VOLUME_DEL;
	r.driver = "vw";
	r.name = "data1";
	return vw_store_append(st, &r);
}

static int
dump(void *arg, struct vw_store *st)
{
	struct vw_volume_opts o;
	struct vw_record r;

	(void)arg;
	memset(&o, 0, sizeof(o));
	rec_put(&r, &o, "kept", "/var/lib/volwarden/volumes/kept");
	return vw_store_emit(st, &r);
}

static unsigned char *
slurp(const char *name, size_t *len)
{
	static unsigned char buf[65536];
	ssize_t n;
	int fd;

	if ((fd = openat(tmpfd, name, O_RDONLY)) < 0 ||
	    (n = read(fd, buf, sizeof(buf))) < 0) {
		perror(name);
		exit(1);
	}
	close(fd);
	*len = (size_t)n;
	return buf;
}

/* Zero every record's CRC field: fuzz-store computes those for us. */
static void
zero_crcs(unsigned char *b, size_t len)
{
	size_t off = 8;
	uint32_t plen;

	while (off + 8 <= len) {
		memcpy(&plen, b + off, 4);
		plen = le32toh(plen);
		memset(b + off + 4, 0, 4);
		off += 8 + plen;
	}
}

static void
store_seeds(void)
{
	struct vw_store *st;
	unsigned char *b, zeros[64];
	char err[512];
	size_t len;

	if ((st = vw_store_open(tmpfd, tmpdir, "s", 0, no_apply, NULL, err,
	    sizeof(err))) == NULL || append_all(st) < 0 ||
	    vw_store_flush(st) != 0) {
		fprintf(stderr, "mkseeds: store: %s\n", err);
		exit(1);
	}
	b = slurp("s.wal", &len);
	put_file("store", "wal-valid", b, len);
	put_file("store", "wal-magic-only", b, 8);
	put_file("store", "wal-torn", b, len - 7);
	put_file("store", "wal-torn-header", b, 8 + 3);
	b[20] ^= 0x40;		/* inside the first record's payload */
	put_file("store", "wal-bad-crc", b, len);
	b[20] ^= 0x40;
	memset(zeros, 0, sizeof(zeros));
	memcpy(b + len, zeros, sizeof(zeros));
	put_file("store", "wal-zero-tail", b, len + sizeof(zeros));
	put_file("store", "empty", "", 0);
	zero_crcs(b, len);
	put_file("store", "wal-valid-crc0", b, len);
	put_file("store", "wal-torn-crc0", b, len - 20);
	if (vw_store_compact(st, dump, NULL) != 0) {
		fprintf(stderr, "mkseeds: compaction failed\n");
		exit(1);
	}
	b = slurp("s.snap", &len);
	put_file("store", "snap-valid", b, len);
	put_file("store", "snap-truncated", b, len - 1);
	zero_crcs(b, len);
	put_file("store", "snap-valid-crc0", b, len);
	vw_store_close(st);
	unlinkat(tmpfd, "s.wal", 0);
	unlinkat(tmpfd, "s.snap", 0);
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: mkseeds CORPUSDIR\n");
		return 2;
	}
	outdir = argv[1];
	if (mkdtemp(tmpdir) == NULL || (tmpfd = open(tmpdir, O_RDONLY |
	    O_DIRECTORY)) < 0) {
		perror(tmpdir);
		return 1;
	}
	log_init(1, 0);
	helper_seeds();
	store_seeds();
	rmdir(tmpdir);
	return 0;
}
