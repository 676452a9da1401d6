/*
 * mkstate: write a volwarden state directory holding N volumes, for the
 * scaling runs of bench/run (start-up time, Create latency, List and
 * memory with many volumes registered).  It uses the daemon's own store
 * code, so the files are exactly what a daemon would have written: the
 * volumes go into volumes.snap, as after a compaction, and volumes.wal
 * is left empty.
 *
 *   mkstate STATE_DIR DRIVER ROOT N [--mkdirs]
 *
 * Volume i is called bvol-%07d, has no options and lives in ROOT/NAME;
 * --mkdirs also makes those directories (mode 0755), like Create would.
 * STATE_DIR must exist and be empty; the caller chowns it afterwards.
 */
#include "vw-build.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "frontend/frontend.h"

struct gen {
	const char	*driver, *root;
	long		 n;
	int		 mkdirs;
	int		 rootfd;
};

static int
no_records(void *arg, const struct vw_record *rec, char *err, size_t errlen)
{
	(void)arg;
	(void)rec;
	snprintf(err, errlen, "the state directory is not empty");
	return -1;
}

static int
dump(void *arg, struct vw_store *st)
{
	struct gen *g = arg;
	struct vw_volume_opts opts;
	struct vw_record rec;
	char name[32], path[VW_PATH_MAX];
	int64_t now = (int64_t)time(NULL);

	memset(&opts, 0, sizeof(opts));
	for (long i = 0; i < g->n; i++) {
		snprintf(name, sizeof(name), "bvol-%07ld", i);
		snprintf(path, sizeof(path), "%s/%s", g->root, name);
		if (g->mkdirs && mkdirat(g->rootfd, name, 0755) < 0 &&
		    errno != EEXIST) {
			fprintf(stderr, "mkstate: mkdir %s: %s\n", path,
			    strerror(errno));
			return -1;
		}
		memset(&rec, 0, sizeof(rec));
		rec.type = VW_REC_VOLUME_PUT;
		rec.driver = g->driver;
		rec.name = name;
		rec.created = now;
		rec.opts = &opts;
		rec.path = path;
		if (vw_store_emit(st, &rec) < 0)
			return -1;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	struct gen g;
	struct vw_store *st;
	char err[1024];
	int dirfd, rc;

	if (argc < 5 || argc > 6 || (argc == 6 &&
	    strcmp(argv[5], "--mkdirs") != 0)) {
		fprintf(stderr, "usage: mkstate STATE_DIR DRIVER ROOT N "
		    "[--mkdirs]\n");
		return 2;
	}
	log_init(1, 0);
	log_procinit("mkstate");
	memset(&g, 0, sizeof(g));
	g.driver = argv[2];
	g.root = argv[3];
	g.n = strtol(argv[4], NULL, 10);
	g.mkdirs = argc == 6;
	g.rootfd = -1;
	if (g.mkdirs) {
		mkdir(g.root, 0711);
		if ((g.rootfd = open(g.root, O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC)) < 0) {
			fprintf(stderr, "mkstate: %s: %s\n", g.root,
			    strerror(errno));
			return 1;
		}
	}
	if ((dirfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "mkstate: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	st = vw_store_open(dirfd, argv[1], "volumes", 1, no_records, NULL, err,
	    sizeof(err));
	if (st == NULL) {
		fprintf(stderr, "mkstate: %s\n", err);
		return 1;
	}
	if ((rc = vw_store_compact(st, dump, &g)) != 0) {
		fprintf(stderr, "mkstate: writing the snapshot: %s\n",
		    strerror(rc));
		return 1;
	}
	vw_store_close(st);
	return 0;
}
