/*
 * libFuzzer harness: the input is the content of a state file.  It is
 * written as volumes.wal (or volumes.snap when it starts with the
 * snapshot magic) into a private temporary directory, and the store is
 * opened over it as the frontend does at start-up.  The replay callback
 * copies every field it is handed and checks what the decoder promises
 * (valid names, checked options, absolute paths).  When the open
 * succeeds, one more record is appended, and the store must reopen with
 * exactly that record added: a torn tail is cut so new records follow
 * valid ones.
 *
 * Random bytes rarely carry a right CRC-32, which would keep the fuzzer
 * out of the record decoder.  So a record whose CRC field is zero gets
 * its CRC computed here (a real CRC of 0 is a 1 in 2^32 chance), and the
 * corpus holds such "crc0" files next to ones with real checksums.
 */
#include "vw-build.h"

#include <endian.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "common/log.h"
#include "common/validate.h"
#include "frontend/frontend.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define STORE	"volumes"
/* The file format's framing (frontend/store.c). */
#define MAGIC_LEN	8
#define REC_HDR		8
#define PAYLOAD_MAX	(16 * 1024)

static char dirpath[256];
static int tmpfd = -1;

/* What the replay saw; strings are copied out of the borrowed record. */
struct model {
	unsigned long		nrec;
	char			driver[VW_NAME_MAX + 1], name[VW_NAME_MAX + 1];
	char			path[VW_PATH_MAX], id[VW_MOUNT_ID_MAX + 1];
	struct vw_volume_opts	opts;
	int64_t			created;
	uint32_t		count;
};

static void
copy(char *dst, size_t size, const char *src)
{
	size_t n;

	if (src == NULL || (n = strlen(src)) >= size)
		abort();
	memcpy(dst, src, n + 1);
}

static int
apply(void *arg, const struct vw_record *rec, char *err, size_t errlen)
{
	struct model *m = arg;
	char why[256];

	m->nrec++;
	copy(m->driver, sizeof(m->driver), rec->driver);
	copy(m->name, sizeof(m->name), rec->name);
	if (vw_name_valid(m->name, strlen(m->name), why, sizeof(why)) < 0)
		abort();
	switch (rec->type) {
	case VW_REC_VOLUME_PUT:
		if (rec->opts == NULL || rec->path == NULL || rec->path[0] != '/' ||
		    vw_opts_check(rec->opts, why, sizeof(why)) < 0)
			abort();
		m->opts = *rec->opts;
		m->created = rec->created;
		copy(m->path, sizeof(m->path), rec->path);
		break;
	case VW_REC_VOLUME_DEL:
		break;
	case VW_REC_MOUNT_SET:
		copy(m->id, sizeof(m->id), rec->mount_id);
		if (m->id[0] == '\0')
			abort();
		m->count = rec->count;
		break;
	default:
		abort();
	}
	/* The frontend refuses records of unknown drivers: exercise that. */
	if (strcmp(m->driver, "refuse") == 0) {
		snprintf(err, errlen, "driver %s is not configured", m->driver);
		return -1;
	}
	return 0;
}

static void
discard(enum vw_log_level level, const char *line)
{
	(void)level;
	(void)line;
}

static void
cleanup(void)
{
	unlinkat(tmpfd, STORE ".wal", 0);
	unlinkat(tmpfd, STORE ".snap", 0);
	rmdir(dirpath);
}

static void
setup(void)
{
	const char *tmp = getenv("TMPDIR");

	/* tmpfs when there is one: open and truncation call fsync. */
	if (tmp == NULL)
		tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(dirpath, sizeof(dirpath), "%s/vwfuzz-store.XXXXXX", tmp);
	if (mkdtemp(dirpath) == NULL ||
	    (tmpfd = open(dirpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		perror(dirpath);
		abort();
	}
	atexit(cleanup);
	log_set_sink(discard);
}

static void
write_file(const char *name, const uint8_t *data, size_t size)
{
	int fd = openat(tmpfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600);

	if (fd < 0)
		abort();
	while (size > 0) {
		ssize_t n = write(fd, data, size);

		if (n <= 0)
			abort();
		data += n;
		size -= (size_t)n;
	}
	close(fd);
}

/* Fill in the CRC of every complete record whose CRC field is zero. */
static void
fix_crcs(uint8_t *b, size_t size)
{
	size_t off = MAGIC_LEN;
	uint32_t plen, crc;

	while (off <= size && size - off >= REC_HDR) {
		memcpy(&plen, b + off, 4);
		plen = le32toh(plen);
		if (plen > PAYLOAD_MAX || plen > size - off - REC_HDR)
			break;
		memcpy(&crc, b + off + 4, 4);
		if (crc == 0) {
			crc = htole32((uint32_t)crc32(0L, b + off + REC_HDR, plen));
			memcpy(b + off + 4, &crc, 4);
		}
		off += REC_HDR + plen;
	}
}

/* Append a record after whatever the replay kept, then reopen. */
static void
append_and_reopen(struct vw_store *st, unsigned long before)
{
	struct vw_volume_opts o;
	struct vw_record r;
	struct model *m;
	char err[1024];

	memset(&o, 0, sizeof(o));
	memset(&r, 0, sizeof(r));
	r.type = VW_REC_MOUNT_SET;
	r.driver = "vw";
	r.name = "appended";
	r.mount_id = "0123456789abcdef";
	r.count = 1;
	if (vw_store_append(st, &r) < 0 || vw_store_flush(st) != 0)
		abort();
	vw_store_close(st);
	if ((m = calloc(1, sizeof(*m))) == NULL)
		abort();
	st = vw_store_open(tmpfd, dirpath, STORE, 0, apply, m, err, sizeof(err));
	if (st == NULL || m->nrec != before + 1 ||
	    strcmp(m->name, "appended") != 0) {
		fprintf(stderr, "reopen after append: %s (%lu records, expected "
		    "%lu)\n", st == NULL ? err : "ok", m->nrec, before + 1);
		abort();
	}
	vw_store_close(st);
	free(m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vw_store *st;
	struct model *m;
	uint8_t *bytes;
	char err[1024];

	if (tmpfd < 0)
		setup();
	if ((bytes = malloc(size > 0 ? size : 1)) == NULL)
		abort();
	memcpy(bytes, data, size);
	fix_crcs(bytes, size);
	unlinkat(tmpfd, STORE ".wal", 0);
	unlinkat(tmpfd, STORE ".snap", 0);
	if (size >= MAGIC_LEN && memcmp(data, "VWSNP001", MAGIC_LEN) == 0)
		write_file(STORE ".snap", bytes, size);
	else
		write_file(STORE ".wal", bytes, size);
	free(bytes);
	if ((m = calloc(1, sizeof(*m))) == NULL)
		abort();
	err[0] = '\0';
	st = vw_store_open(tmpfd, dirpath, STORE, 0, apply, m, err, sizeof(err));
	if (st == NULL) {
		if (err[0] == '\0')
			abort();
	} else
		append_and_reopen(st, m->nrec);
	free(m);
	return 0;
}
