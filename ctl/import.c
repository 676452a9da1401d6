/*
 * volwardenctl import-local-persist: move volumes from the local-persist
 * volume plugin to a dir driver of volwarden.
 *
 * local-persist keeps its volumes in one JSON file, a map from volume
 * name to host directory.  Every published version writes the same
 * shape, {"state": {"NAME": "/path", ...}} (Go: type saveData struct {
 * State map[string]string `json:"state"` }, written with json.Marshal):
 *
 *   - MatchbookLab/local-persist (the original, a legacy plugin run by
 *     systemd or as a container; driver.go, stateDir
 *     "/var/lib/docker/plugin-data/", stateFile "local-persist.json"):
 *     /var/lib/docker/plugin-data/local-persist.json, absolute host
 *     paths as given with -o mountpoint=.  Its later driver/driver.go and
 *     the smashingtags fork (internal/driver/driver.go) keep that file
 *     and format.
 *   - Carbonique/local-persist (a managed v2 plugin; driver/driver.go,
 *     plugin/config.json): the file is STATE/local-persist.json where
 *     STATE is the plugin's "state" mount (host default
 *     /var/lib/docker/plugins, so /var/lib/docker/plugins/
 *     local-persist.json), and the paths are inside the plugin:
 *     path.Join("/docker-data", mountpoint), where /docker-data is the
 *     plugin's "data" mount (host default /docker-data, settable as
 *     data.source).  With the default the paths are the host's too;
 *     otherwise --rewrite /docker-data=DATA_SOURCE maps them.
 *
 * Each volume is registered with one POST /v1/volumes?driver=D, whose
 * body is that of VolumeDriver.Create with the mountpoint option: the
 * daemon checks it exactly as a Create from dockerd (the name rule, the
 * path strictly below one of the driver's allowed_roots, no overlap with
 * other volumes, no symbolic links) and its helper adopts the existing
 * directory as it is (no chown, no chmod, nothing written into it).
 * Registering a volume that is already there with the same mountpoint
 * succeeds, so an interrupted import can simply be run again.
 */
#include "vw-build.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "common/validate.h"
#include "ctl/ctl.h"

/* Largest state file read, in bytes (about 100 bytes per volume). */
#define MAX_STATE	(64u << 20)

#define GSTR(g, s) yajl_gen_string((g), (const unsigned char *)(s), strlen(s))

/* Read path into a NUL-terminated heap buffer.  Returns it, or NULL
 * having said why. */
static char *
read_file(const char *path)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	ssize_t got;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		warnmsg("cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		warnmsg("%s is not a regular file", path);
		goto fail;
	}
	if ((uint64_t)st.st_size > MAX_STATE) {
		warnmsg("%s is larger than %u bytes; that is no local-persist "
		    "state file", path, MAX_STATE);
		goto fail;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		warnmsg("out of memory");
		goto fail;
	}
	while (len < (size_t)st.st_size) {
		got = read(fd, buf + len, (size_t)st.st_size - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			warnmsg("reading %s: %s", path, strerror(errno));
			goto fail;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	buf[len] = '\0';
	close(fd);
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

/* OLD=NEW of --rewrite: both absolute, without a trailing '/'. */
struct rewrite {
	char	old[VW_PATH_MAX], new[VW_PATH_MAX];
	int	set;
};

static void
trim_slashes(char *p)
{
	size_t n = strlen(p);

	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';
}

static int
parse_rewrite(const char *arg, struct rewrite *rw)
{
	const char *eq;

	memset(rw, 0, sizeof(*rw));
	if (arg == NULL)
		return 0;
	if ((eq = strchr(arg, '=')) == NULL || arg[0] != '/' || eq[1] != '/' ||
	    (size_t)(eq - arg) >= sizeof(rw->old) ||
	    strlen(eq + 1) >= sizeof(rw->new)) {
		warnmsg("--rewrite takes OLD=NEW, two absolute paths (e.g. "
		    "/docker-data=/srv/docker-data), not \"%s\"", arg);
		return -1;
	}
	memcpy(rw->old, arg, (size_t)(eq - arg));
	snprintf(rw->new, sizeof(rw->new), "%s", eq + 1);
	trim_slashes(rw->old);
	trim_slashes(rw->new);
	rw->set = 1;
	return 0;
}

/* path with rw applied into out.  Returns 0, or -1 if too long. */
static int
apply_rewrite(const struct rewrite *rw, const char *path, char *out,
    size_t outlen)
{
	size_t n = strlen(rw->old);
	int w;

	if (rw->set && strcmp(rw->old, "/") != 0 &&
	    strncmp(path, rw->old, n) == 0 &&
	    (path[n] == '\0' || path[n] == '/'))
		w = snprintf(out, outlen, "%s%s", rw->new, path + n);
	else
		w = snprintf(out, outlen, "%s", path);
	return w < 0 || (size_t)w >= outlen ? -1 : 0;
}

/* One volume of the state file, and what became of it. */
struct item {
	const char	*name;
	char		 path[VW_PATH_MAX];
	char		*error;		/* NULL once registered */
};

static int
item_cmp(const void *a, const void *b)
{
	return strcmp(((const struct item *)a)->name,
	    ((const struct item *)b)->name);
}

/*
 * POST the volume to the daemon.  Returns 0 (registered), EXIT_ERROR
 * with it->error set, or EXIT_UNREACH having said why.
 */
static int
register_one(const char *sock, const char *driver, struct item *it)
{
	const unsigned char *body;
	char target[512], err[1024], perr[256];
	const char *key[] = { "error", NULL }, *es;
	const char *mkey[] = { "mountpoint", NULL };
	struct reply r;
	size_t blen;
	yajl_val v, e;
	yajl_gen g;
	int rc;

	if ((g = yajl_gen_alloc(NULL)) == NULL) {
		warnmsg("out of memory");
		return EXIT_UNREACH;
	}
	yajl_gen_map_open(g);
	GSTR(g, "Name");
	GSTR(g, it->name);
	GSTR(g, "Opts");
	yajl_gen_map_open(g);
	GSTR(g, "mountpoint");
	GSTR(g, it->path);
	yajl_gen_map_close(g);
	yajl_gen_map_close(g);
	if (yajl_gen_get_buf(g, &body, &blen) != yajl_gen_status_ok) {
		yajl_gen_free(g);
		warnmsg("cannot encode the request for volume %s", it->name);
		return EXIT_UNREACH;
	}
	snprintf(target, sizeof(target), "/v1/volumes?driver=%s", driver);
	rc = http_request(sock, "POST", target, (const char *)body, &r, err,
	    sizeof(err));
	yajl_gen_free(g);
	if (rc < 0) {
		warnmsg("%s", err);
		return EXIT_UNREACH;
	}
	v = yajl_tree_parse(r.body, perr, sizeof(perr));
	if (r.status == 200) {
		/* The directory as the daemon normalised it. */
		e = v != NULL ? yajl_tree_get(v, mkey, yajl_t_string) : NULL;
		if ((es = YAJL_GET_STRING(e)) != NULL)
			snprintf(it->path, sizeof(it->path), "%s", es);
		yajl_tree_free(v);
		free(r.buf);
		return 0;
	}
	e = v != NULL ? yajl_tree_get(v, key, yajl_t_string) : NULL;
	if ((es = YAJL_GET_STRING(e)) != NULL)
		it->error = strdup(es);
	else {
		char msg[64];

		snprintf(msg, sizeof(msg), "the daemon answered HTTP %d",
		    r.status);
		it->error = strdup(msg);
	}
	yajl_tree_free(v);
	free(r.buf);
	if (it->error == NULL) {
		warnmsg("out of memory");
		return EXIT_UNREACH;
	}
	return EXIT_ERROR;
}

static void
print_json(const char *driver, const struct item *items, size_t n)
{
	const unsigned char *out;
	size_t len;
	yajl_gen g = yajl_gen_alloc(NULL);

	if (g == NULL)
		return;
	yajl_gen_map_open(g);
	GSTR(g, "driver");
	GSTR(g, driver);
	GSTR(g, "volumes");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < n; i++) {
		yajl_gen_map_open(g);
		GSTR(g, "name");
		GSTR(g, items[i].name);
		GSTR(g, "mountpoint");
		GSTR(g, items[i].path);
		GSTR(g, "imported");
		yajl_gen_bool(g, items[i].error == NULL);
		if (items[i].error != NULL) {
			GSTR(g, "error");
			GSTR(g, items[i].error);
		}
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	if (yajl_gen_get_buf(g, &out, &len) == yajl_gen_status_ok)
		printf("%.*s\n", (int)len, (const char *)out);
	yajl_gen_free(g);
}

/* s for a terminal: control characters and DEL as \xNN (a state file
 * could otherwise send escape sequences).  Returns buf. */
static const char *
shown(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	for (; *s != '\0' && o + 5 < len; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	buf[o] = '\0';
	return buf;
}

int
cmd_import_local_persist(const char *sock, const char *driver,
    const char *file, const char *rewrite)
{
	const char *key[] = { "state", NULL };
	struct rewrite rw;
	struct item *items = NULL;
	char *text, perr[256], sn[4 * 256 + 1], sp[4 * 4096 + 1];
	yajl_val top, state;
	size_t n = 0, nfailed = 0, noroot = 0;
	int rc = 0;

	if (parse_rewrite(rewrite, &rw) < 0)
		return EXIT_USAGE;
	if ((text = read_file(file)) == NULL)
		return EXIT_ERROR;
	/* yajl_tree keeps strings NUL-terminated: "/srv/a\u0000/etc" would
	 * silently become "/srv/a".  No name or path may hold a NUL. */
	if (strstr(text, "\\u0000") != NULL) {
		warnmsg("%s holds the escape \\u0000 (a NUL character), which no "
		    "volume name or path can contain; fix the file", file);
		free(text);
		return EXIT_ERROR;
	}
	top = yajl_tree_parse(text, perr, sizeof(perr));
	state = top != NULL ? yajl_tree_get(top, key, yajl_t_object) : NULL;
	if (state == NULL) {
		warnmsg("%s is not a local-persist state file: it must be JSON "
		    "of the form {\"state\": {\"NAME\": \"/path\", ...}}%s%s",
		    file, top == NULL ? " (" : "", top == NULL ? "invalid JSON)" :
		    "");
		yajl_tree_free(top);
		free(text);
		return EXIT_ERROR;
	}
	if (state->u.object.len > 0 &&
	    (items = calloc(state->u.object.len, sizeof(*items))) == NULL) {
		warnmsg("out of memory");
		yajl_tree_free(top);
		free(text);
		return EXIT_ERROR;
	}
	for (size_t i = 0; i < state->u.object.len; i++) {
		yajl_val v = state->u.object.values[i];
		struct item *it = &items[n++];

		it->name = state->u.object.keys[i];
		if (!YAJL_IS_STRING(v) || YAJL_GET_STRING(v)[0] != '/') {
			it->error = strdup("its mountpoint in the state file is "
			    "not an absolute path");
			snprintf(it->path, sizeof(it->path), "%s",
			    YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : "?");
		} else if (apply_rewrite(&rw, YAJL_GET_STRING(v), it->path,
		    sizeof(it->path)) < 0)
			it->error = strdup("its mountpoint is too long");
		trim_slashes(it->path);
		if (it->path[0] == '\0' && it->error == NULL)
			it->error = strdup("its mountpoint is empty");
	}
	qsort(items, n, sizeof(*items), item_cmp);
	for (size_t i = 0; i < n && rc != EXIT_UNREACH; i++) {
		struct item *it = &items[i];

		if (it->error == NULL)
			rc = register_one(sock, driver, it);
		if (rc == EXIT_UNREACH)
			break;
		if (it->error != NULL) {
			nfailed++;
			if (strstr(it->error, "not beneath an allowed root") != NULL)
				noroot++;
			if (!json_out)
				warnmsg("not imported: volume %s (%s): %s",
				    shown(it->name, sn, sizeof(sn)),
				    shown(it->path, sp, sizeof(sp)), it->error);
		} else if (!json_out)
			printf("imported %s -> %s\n", shown(it->name, sn,
			    sizeof(sn)), shown(it->path, sp, sizeof(sp)));
		rc = 0;
	}
	if (rc != EXIT_UNREACH) {
		if (json_out)
			print_json(driver, items, n);
		else
			printf("%zu of %zu volume%s imported into driver %s\n",
			    n - nfailed, n, n == 1 ? "" : "s", driver);
		if (noroot > 0)
			warnmsg("%zu mountpoint%s outside the allowed roots of "
			    "driver %s: add the directories that hold them to its "
			    "allowed_roots in the configuration, restart "
			    "volwarden, and run the import again (volumes already "
			    "imported are kept)", noroot, noroot == 1 ? " lies" :
			    "s lie", driver);
		rc = nfailed > 0 ? EXIT_ERROR : 0;
	}
	for (size_t i = 0; i < n; i++)
		free(items[i].error);
	free(items);
	yajl_tree_free(top);
	free(text);
	return rc;
}
