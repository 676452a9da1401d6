/*
 * The in-memory volume registry of one driver: chained hash tables by name
 * and by directory, doubling when the load passes 1, so lookups and
 * inserts stay O(1) at any number of volumes.
 */
#include "vw-build.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/options.h"
#include "frontend/frontend.h"

/* Flags whose values live in vw_volume_ext, and the path options kept
 * in mountpoint_opt. */
#define EXT_FLAGS	(VW_OPT_SIZE | VW_OPT_FROM | VW_OPT_COMPRESSION | \
	VW_OPT_FS | VW_OPT_SNAPSHOT_EVERY | VW_OPT_SNAPSHOT_KEEP)
#define PATH_FLAGS	(VW_OPT_MOUNTPOINT | VW_OPT_SOURCE | VW_OPT_IMAGE)
/* Volumes counted in ncustom: a mountpoint option places the directory. */
#define IS_CUSTOM(v)	(((v)->flags & VW_OPT_MOUNTPOINT) != 0)

#define INITIAL_BUCKETS	64

static uint64_t
hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

int
vw_registry_init(struct vw_registry *r)
{
	memset(r, 0, sizeof(*r));
	r->nbuckets = INITIAL_BUCKETS;
	r->byname = calloc(r->nbuckets, sizeof(*r->byname));
	r->bypath = calloc(r->nbuckets, sizeof(*r->bypath));
	if (r->byname == NULL || r->bypath == NULL) {
		free(r->byname);
		free(r->bypath);
		return -1;
	}
	return 0;
}

struct vw_volume *
vw_registry_get(struct vw_registry *r, const char *name)
{
	struct vw_volume *v = r->byname[hash(name) & (r->nbuckets - 1)];

	for (; v != NULL; v = v->hnext)
		if (strcmp(v->name, name) == 0)
			return v;
	return NULL;
}

struct vw_volume *
vw_registry_by_path(struct vw_registry *r, const char *path)
{
	struct vw_volume *v = r->bypath[hash(path) & (r->nbuckets - 1)];

	for (; v != NULL; v = v->pnext)
		if (strcmp(v->path, path) == 0)
			return v;
	return NULL;
}

static void
link_volume(struct vw_registry *r, struct vw_volume *v)
{
	size_t b = hash(v->name) & (r->nbuckets - 1);
	size_t p = hash(v->path) & (r->nbuckets - 1);

	v->hnext = r->byname[b];
	r->byname[b] = v;
	v->pnext = r->bypath[p];
	r->bypath[p] = v;
}

static void
unlink_volume(struct vw_registry *r, struct vw_volume *v)
{
	struct vw_volume **pp;

	for (pp = &r->byname[hash(v->name) & (r->nbuckets - 1)]; *pp != v;
	    pp = &(*pp)->hnext)
		;
	*pp = v->hnext;
	for (pp = &r->bypath[hash(v->path) & (r->nbuckets - 1)]; *pp != v;
	    pp = &(*pp)->pnext)
		;
	*pp = v->pnext;
}

static int
grow(struct vw_registry *r)
{
	size_t n = r->nbuckets * 2;
	struct vw_volume **bn = calloc(n, sizeof(*bn));
	struct vw_volume **bp = calloc(n, sizeof(*bp));
	struct vw_volume **old = r->byname;
	size_t oldn = r->nbuckets;

	if (bn == NULL || bp == NULL) {
		free(bn);
		free(bp);
		return -1;
	}
	r->byname = bn;
	free(r->bypath);
	r->bypath = bp;
	r->nbuckets = n;
	for (size_t i = 0; i < oldn; i++) {
		struct vw_volume *v = old[i], *next;

		for (; v != NULL; v = next) {
			next = v->hnext;
			link_volume(r, v);
		}
	}
	free(old);
	return 0;
}

static void
free_volume(struct vw_volume *v)
{
	struct vw_mount *m, *next;

	for (m = v->mounts; m != NULL; m = next) {
		next = m->next;
		free(m);
	}
	free(v->path);
	free(v->mountpoint_opt);
	if (v->ext != NULL) {
		/* The schedule (schedule.c) drops an entry without a volume. */
		if (v->ext->sched != NULL)
			v->ext->sched->vol = NULL;
		free(v->ext->from_opt);
		free(v->ext->status);
		free(v->ext);
	}
	free(v);
}

struct vw_volume *
vw_registry_put(struct vw_registry *r, const char *name, int64_t created,
    const struct vw_volume_opts *opts, const char *path)
{
	struct vw_volume *old = vw_registry_get(r, name), *v;
	size_t nl = strlen(name);

	if ((v = calloc(1, sizeof(*v) + nl + 1)) == NULL)
		return NULL;
	memcpy(v->name, name, nl + 1);
	v->created = created;
	v->flags = opts->flags;
	v->uid = opts->uid;
	v->gid = opts->gid;
	v->mode = opts->mode;
	if ((opts->flags & EXT_FLAGS) &&
	    (v->ext = calloc(1, sizeof(*v->ext))) == NULL) {
		free_volume(v);
		return NULL;
	}
	if (v->ext != NULL) {
		v->ext->size = opts->size;
		v->ext->compression = opts->compression;
		v->ext->fs = opts->fs;
		v->ext->snapshot_every = opts->snapshot_every;
		v->ext->snapshot_keep = opts->snapshot_keep;
	}
	if ((v->path = strdup(path)) == NULL ||
	    ((opts->flags & PATH_FLAGS) &&
	    (v->mountpoint_opt = strdup(opts->mountpoint)) == NULL) ||
	    ((opts->flags & VW_OPT_FROM) &&
	    (v->ext->from_opt = strdup(opts->from)) == NULL)) {
		free_volume(v);
		return NULL;
	}
	if (old != NULL) {
		v->mounts = old->mounts;
		v->total = old->total;
		old->mounts = NULL;
		if (v->ext != NULL && old->ext != NULL) {
			v->ext->last_snapshot = old->ext->last_snapshot;
			v->ext->status = old->ext->status;
			old->ext->status = NULL;
			if ((v->ext->sched = old->ext->sched) != NULL)
				v->ext->sched->vol = v;
			old->ext->sched = NULL;
		}
		unlink_volume(r, old);
		if (IS_CUSTOM(old))
			r->ncustom--;
		free_volume(old);
		r->count--;
	} else if (r->count + 1 > r->nbuckets && grow(r) < 0) {
		free_volume(v);
		return NULL;
	}
	link_volume(r, v);
	r->count++;
	r->gen++;
	if (IS_CUSTOM(v))
		r->ncustom++;
	return v;
}

void
vw_registry_del(struct vw_registry *r, const char *name)
{
	struct vw_volume *v = vw_registry_get(r, name);

	if (v == NULL)
		return;
	unlink_volume(r, v);
	if (IS_CUSTOM(v))
		r->ncustom--;
	if (v->total > 0)
		r->nmounted--;
	r->count--;
	r->gen++;
	free_volume(v);
}

int
vw_registry_set_mount(struct vw_registry *r, struct vw_volume *v,
    const char *id, uint32_t count)
{
	struct vw_mount **pp, *m;
	size_t il = strlen(id);

	for (pp = &v->mounts; *pp != NULL; pp = &(*pp)->next) {
		if (strcmp((*pp)->id, id) != 0)
			continue;
		m = *pp;
		if (v->total - m->count + count == 0)
			r->nmounted--;
		v->total = v->total - m->count + count;
		if (count == 0) {
			*pp = m->next;
			free(m);
		} else
			m->count = count;
		return 0;
	}
	if (count == 0)
		return 0;
	if ((m = malloc(sizeof(*m) + il + 1)) == NULL)
		return -1;
	memcpy(m->id, id, il + 1);
	m->count = count;
	m->next = v->mounts;
	v->mounts = m;
	if (v->total == 0)
		r->nmounted++;
	v->total += count;
	return 0;
}

uint32_t
vw_registry_mount_count(const struct vw_volume *v, const char *id)
{
	for (const struct vw_mount *m = v->mounts; m != NULL; m = m->next)
		if (strcmp(m->id, id) == 0)
			return m->count;
	return 0;
}

void
vw_volume_opts_of(const struct vw_volume *v, struct vw_volume_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->flags = v->flags;
	opts->uid = v->uid;
	opts->gid = v->gid;
	opts->mode = v->mode;
	if (v->ext != NULL) {
		opts->size = v->ext->size;
		opts->compression = v->ext->compression;
		opts->fs = v->ext->fs;
		opts->snapshot_every = v->ext->snapshot_every;
		opts->snapshot_keep = v->ext->snapshot_keep;
		if (v->ext->from_opt != NULL)
			snprintf(opts->from, sizeof(opts->from), "%s",
			    v->ext->from_opt);
	}
	if (v->mountpoint_opt != NULL)
		snprintf(opts->mountpoint, sizeof(opts->mountpoint), "%s",
		    v->mountpoint_opt);
}

int
vw_registry_each(struct vw_registry *r, int (*fn)(void *, struct vw_volume *),
    void *arg)
{
	for (size_t i = 0; i < r->nbuckets; i++) {
		struct vw_volume *v, *next;

		for (v = r->byname[i]; v != NULL; v = next) {
			int rc;

			next = v->hnext;
			if ((rc = fn(arg, v)) != 0)
				return rc;
		}
	}
	return 0;
}

void
vw_registry_free(struct vw_registry *r)
{
	for (size_t i = 0; r->byname != NULL && i < r->nbuckets; i++) {
		struct vw_volume *v, *next;

		for (v = r->byname[i]; v != NULL; v = next) {
			next = v->hnext;
			free_volume(v);
		}
	}
	free(r->byname);
	free(r->bypath);
	memset(r, 0, sizeof(*r));
}

void
vw_volume_each_opt(const struct vw_volume *v,
    void (*fn)(void *arg, const char *key, const char *value), void *arg)
{
	const struct vw_volume_ext *x = v->ext;
	char num[32];

	if (v->mountpoint_opt != NULL)
		fn(arg, (v->flags & VW_OPT_SOURCE) ? "source" :
		    (v->flags & VW_OPT_IMAGE) ? "image" : "mountpoint",
		    v->mountpoint_opt);
	if (v->flags & VW_OPT_SIZE) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)x->size);
		fn(arg, "size", num);
	}
	if (v->flags & VW_OPT_FS)
		fn(arg, "fs", vw_fs_name(x->fs));
	if (v->flags & VW_OPT_FROM)
		fn(arg, "from", x->from_opt);
	if (v->flags & VW_OPT_NOCOW)
		fn(arg, "nocow", "true");
	if (v->flags & VW_OPT_COMPRESSION)
		fn(arg, "compression", vw_compression_name(x->compression));
	if (v->flags & VW_OPT_SNAPSHOT_EVERY) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)
		    x->snapshot_every);
		fn(arg, "snapshot_every", num);
	}
	if (v->flags & VW_OPT_SNAPSHOT_KEEP) {
		snprintf(num, sizeof(num), "%u", x->snapshot_keep);
		fn(arg, "snapshot_keep", num);
	}
	if (v->flags & VW_OPT_UID) {
		snprintf(num, sizeof(num), "%u", v->uid);
		fn(arg, "uid", num);
	}
	if (v->flags & VW_OPT_GID) {
		snprintf(num, sizeof(num), "%u", v->gid);
		fn(arg, "gid", num);
	}
	if (v->flags & VW_OPT_MODE) {
		snprintf(num, sizeof(num), "%04o", v->mode);
		fn(arg, "mode", num);
	}
}

struct vw_volume_ext *
vw_volume_ext(struct vw_volume *v)
{
	if (v->ext == NULL)
		v->ext = calloc(1, sizeof(*v->ext));
	return v->ext;
}
