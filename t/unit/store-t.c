/* The state store: append, replay, torn tails, corruption with offsets,
 * compaction and idempotent replay. */
#include "vw-build.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frontend/frontend.h"
#include "t/lib/tap.h"

/* A tiny model of the registry: names present, in a string. */
struct model {
	char	names[4096];
	int	puts, dels, mounts;
};

static int
apply(void *arg, const struct vw_record *rec, char *err, size_t errlen)
{
	struct model *m = arg;
	char key[300], *p;

	(void)err;
	(void)errlen;
	snprintf(key, sizeof(key), "[%s]", rec->name);
	p = strstr(m->names, key);
	switch (rec->type) {
	case VW_REC_VOLUME_PUT:
		m->puts++;
		if (p == NULL)
			strcat(m->names, key);
		break;
	case VW_REC_VOLUME_DEL:
		m->dels++;
		if (p != NULL)
			memmove(p, p + strlen(key), strlen(p + strlen(key)) + 1);
		break;
	case VW_REC_MOUNT_SET:
		m->mounts++;
		break;
	}
	return 0;
}

static void
put(struct vw_store *st, const char *name)
{
	struct vw_volume_opts o;
	struct vw_record r;
	char path[300];

	memset(&o, 0, sizeof(o));
	memset(&r, 0, sizeof(r));
	snprintf(path, sizeof(path), "/v/%s", name);
	r.type = VW_REC_VOLUME_PUT;
	r.driver = "vw";
	r.name = name;
	r.created = 1764536212;
	r.opts = &o;
	r.path = path;
	if (vw_store_append(st, &r) < 0)
		bail("append");
}

static void
del(struct vw_store *st, const char *name)
{
	struct vw_record r;

	memset(&r, 0, sizeof(r));
	r.type = VW_REC_VOLUME_DEL;
	r.driver = "vw";
	r.name = name;
	if (vw_store_append(st, &r) < 0)
		bail("append");
}

static struct vw_store *
reopen(int dirfd, const char *dir, struct model *m, char *err, size_t errlen)
{
	memset(m, 0, sizeof(*m));
	return vw_store_open(dirfd, dir, "volumes", 1, apply, m, err, errlen);
}

static long
file_size(const char *dir, const char *name)
{
	char p[512];
	struct stat sb;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return stat(p, &sb) == 0 ? (long)sb.st_size : -1;
}

static int
dump_model(void *arg, struct vw_store *st)
{
	struct model *m = arg;
	char *s = strdup(m->names), *save = NULL;

	for (char *tok = strtok_r(s, "[]", &save); tok != NULL;
	    tok = strtok_r(NULL, "[]", &save)) {
		struct vw_volume_opts o;
		struct vw_record r;
		char path[300];

		memset(&o, 0, sizeof(o));
		memset(&r, 0, sizeof(r));
		snprintf(path, sizeof(path), "/v/%s", tok);
		r.type = VW_REC_VOLUME_PUT;
		r.driver = "vw";
		r.name = tok;
		r.opts = &o;
		r.path = path;
		vw_store_emit(st, &r);
	}
	free(s);
	return 0;
}

int
main(void)
{
	const char *dir = tap_tmpdir();
	struct vw_store *st;
	struct model m;
	char err[1024], walpath[512];
	long size;
	int dirfd, fd;
	char orig;

	dirfd = open(dir, O_RDONLY | O_DIRECTORY);
	snprintf(walpath, sizeof(walpath), "%s/volumes.wal", dir);

	st = reopen(dirfd, dir, &m, err, sizeof(err));
	ok(st != NULL, "a new store opens");
	is_int(file_size(dir, "volumes.wal"), 8, "with just the magic");
	put(st, "aa");
	put(st, "bb");
	put(st, "cc");
	del(st, "bb");
	is_int(vw_store_flush(st), 0, "four records flushed");
	is_int((long long)vw_store_syncs(st), 1, "with one fdatasync");
	vw_store_close(st);

	st = reopen(dirfd, dir, &m, err, sizeof(err));
	ok(st != NULL, "reopens");
	is_string(m.names, "[aa][cc]", "replay gives the state");
	is_int(m.puts, 3, "three puts replayed");
	vw_store_close(st);
	size = file_size(dir, "volumes.wal");

	/* Torn final record: a length header promising more than exists. */
	fd = open(walpath, O_WRONLY | O_APPEND);
	ok(write(fd, "\x64\x00\x00\x00\x01\x02\x03\x04" "partial", 15) == 15,
	    "append a torn record");
	close(fd);
	st = reopen(dirfd, dir, &m, err, sizeof(err));
	ok(st != NULL, "a torn final record does not stop the start");
	is_string(m.names, "[aa][cc]", "earlier records kept");
	is_int(file_size(dir, "volumes.wal"), size, "the torn tail is cut off");
	put(st, "dd");
	is_int(vw_store_flush(st), 0, "appending after the cut works");
	vw_store_close(st);
	st = reopen(dirfd, dir, &m, err, sizeof(err));
	is_string(m.names, "[aa][cc][dd]", "and replays");
	vw_store_close(st);

	/* A partial header (fewer than 8 bytes) is torn too. */
	size = file_size(dir, "volumes.wal");
	fd = open(walpath, O_WRONLY | O_APPEND);
	ok(write(fd, "\x10\x00", 2) == 2, "append 2 bytes of a header");
	close(fd);
	st = reopen(dirfd, dir, &m, err, sizeof(err));
	ok(st != NULL && file_size(dir, "volumes.wal") == size,
	    "a partial header is dropped");
	vw_store_close(st);

	/* A zero-filled tail (a crash after the file grew) is torn too. */
	fd = open(walpath, O_WRONLY | O_APPEND);
	ok(write(fd, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16) == 16, "append zeros");
	close(fd);
	st = reopen(dirfd, dir, &m, err, sizeof(err));
	ok(st != NULL && file_size(dir, "volumes.wal") == size,
	    "a zero-filled tail is dropped");
	vw_store_close(st);

	/* A flipped byte inside the first record: corruption, with offset. */
	fd = open(walpath, O_RDWR);
	ok(pread(fd, &orig, 1, 8 + 8 + 5) == 1 &&
	    pwrite(fd, "X", 1, 8 + 8 + 5) == 1, "flip a byte in the first record");
	close(fd);
	st = reopen(dirfd, dir, &m, err, sizeof(err));
	ok(st == NULL, "a bad checksum before the end refuses to open");
	has_string(err, "volumes.wal is damaged at byte offset 8", "naming the file and offset");
	fd = open(walpath, O_RDWR);
	ok(pwrite(fd, &orig, 1, 8 + 8 + 5) == 1, "restore the byte");
	close(fd);

	/* A damaged length in the first record points past the end of the
	 * file; valid records follow, so it is not a torn tail. */
	fd = open(walpath, O_RDWR);
	ok(pread(fd, &orig, 1, 9) == 1 && pwrite(fd, &(char){ (char)(orig ^ 0x20) },
	    1, 9) == 1, "damage the length of the first record");
	close(fd);
	size = file_size(dir, "volumes.wal");
	st = reopen(dirfd, dir, &m, err, sizeof(err));
	ok(st == NULL, "a damaged length before valid records refuses to open");
	has_string(err, "volumes.wal is damaged at byte offset 8", "naming the file and offset");
	is_int(file_size(dir, "volumes.wal"), size, "and the WAL is not truncated");
	fd = open(walpath, O_RDWR);
	ok(pwrite(fd, &orig, 1, 9) == 1, "restore the length");
	close(fd);

	/* Compaction: snapshot + empty WAL gives the same state; a stale
	 * WAL replayed on top of the snapshot is harmless. */
	st = reopen(dirfd, dir, &m, err, sizeof(err));
	if (!ok(st != NULL, "reopens after repair"))
		bail("%s", err);
	{
		struct model snap = m;
		char oldwal[512], cmd[1200];

		snprintf(oldwal, sizeof(oldwal), "%s/old.wal", dir);
		snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", walpath, oldwal);
		ok(system(cmd) == 0, "keep a copy of the WAL");
		is_int(vw_store_compact(st, dump_model, &snap), 0, "compaction succeeds");
		is_int(file_size(dir, "volumes.wal"), 8, "the WAL is emptied");
		ok(file_size(dir, "volumes.snap") > 8, "the snapshot holds the state");
		vw_store_close(st);
		st = reopen(dirfd, dir, &m, err, sizeof(err));
		is_string(m.names, "[aa][cc][dd]", "snapshot replays to the same state");
		vw_store_close(st);
		snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", oldwal, walpath);
		ok(system(cmd) == 0, "simulate a crash before the WAL was emptied");
		st = reopen(dirfd, dir, &m, err, sizeof(err));
		is_string(m.names, "[aa][cc][dd]", "snapshot + old WAL replays to the same state");
		vw_store_close(st);
	}

	/* A damaged snapshot refuses, naming the file. */
	{
		char sp[512];

		snprintf(sp, sizeof(sp), "%s/volumes.snap", dir);
		fd = open(sp, O_RDWR);
		ok(ftruncate(fd, file_size(dir, "volumes.snap") - 3) == 0,
		    "truncate the snapshot");
		close(fd);
		st = reopen(dirfd, dir, &m, err, sizeof(err));
		ok(st == NULL, "a truncated snapshot refuses to open");
		has_string(err, "volumes.snap is truncated at byte offset", "naming the file");
	}
	close(dirfd);
	return done_testing();
}
