/* Configuration: embedded default, JSON file, overrides; see config.h. */
#include "vw-build.h"
#include "common/config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yajl/yajl_tree.h>

#include "common/options.h"
#include "common/proto.h"
#include "common/validate.h"

/* Largest config file we read, in bytes. */
#define CONFIG_MAX_BYTES	(1024 * 1024)
#define MAX_DRIVERS		64
#define MAX_ALLOWED		32

static const char embedded_default[] =
    "{\n"
    "  \"user\": \"" VW_DEFAULT_USER "\",\n"
    "  \"state_dir\": \"" VW_DEFAULT_STATE_DIR "\",\n"
    "  \"run_dir\": \"" VW_DEFAULT_RUN_DIR "\",\n"
    "  \"socket_dir\": \"" VW_DEFAULT_SOCKET_DIR "\",\n"
    "  \"admin_socket\": \"" VW_DEFAULT_ADMIN_SOCKET "\",\n"
    "  \"drivers\": [\n"
    "    {\"name\": \"volwarden\", \"backend\": \"dir\",\n"
    "     \"root\": \"/var/lib/volwarden/volumes\", \"on_remove\": \"keep\"}\n"
    "  ]\n"
    "}\n";

enum {
	OPT_CONFIG = VW_OPT_FLAG_BASE, OPT_NO_CONFIG, OPT_SOCKET_DIR,
	OPT_STATE_DIR, OPT_RUN_DIR, OPT_ROOT, OPT_ALLOWED_ROOT, OPT_USER,
	OPT_ADMIN_SOCKET, OPT_GFS_VOLUME, OPT_GFS_SERVERS,
};

const struct option vw_config_longopts[] = {
	{ "config",		required_argument, NULL, OPT_CONFIG },
	{ "no-config",		no_argument,       NULL, OPT_NO_CONFIG },
	{ "socket-dir",		required_argument, NULL, OPT_SOCKET_DIR },
	{ "state-dir",		required_argument, NULL, OPT_STATE_DIR },
	{ "run-dir",		required_argument, NULL, OPT_RUN_DIR },
	{ "root",		required_argument, NULL, OPT_ROOT },
	{ "allowed-root",	required_argument, NULL, OPT_ALLOWED_ROOT },
	{ "user",		required_argument, NULL, OPT_USER },
	{ "admin-socket",	required_argument, NULL, OPT_ADMIN_SOCKET },
	{ "gfs-volume",		required_argument, NULL, OPT_GFS_VOLUME },
	{ "gfs-servers",	required_argument, NULL, OPT_GFS_SERVERS },
	{ NULL, 0, NULL, 0 }
};

static const char *const flag_names[] = {
	"--config", "--no-config", "--socket-dir", "--state-dir", "--run-dir",
	"--root", "--allowed-root", "--user", "--admin-socket",
	"--gfs-volume", "--gfs-servers",
};

int
vw_overrides_set(struct vw_overrides *ov, int opt, const char *arg, char *err,
    size_t errlen)
{
	switch (opt) {
	case OPT_CONFIG:	ov->config = arg; break;
	case OPT_NO_CONFIG:	ov->no_config = 1; break;
	case OPT_SOCKET_DIR:	ov->socket_dir = arg; break;
	case OPT_STATE_DIR:	ov->state_dir = arg; break;
	case OPT_RUN_DIR:	ov->run_dir = arg; break;
	case OPT_ROOT:		ov->root = arg; break;
	case OPT_USER:		ov->user = arg; break;
	case OPT_ADMIN_SOCKET:	ov->admin_socket = arg; break;
	case OPT_GFS_VOLUME:	ov->gfs_volume = arg; break;
	case OPT_GFS_SERVERS:	ov->gfs_servers = arg; break;
	case OPT_ALLOWED_ROOT:
		if (ov->nallowed >= MAX_ALLOWED) {
			snprintf(err, errlen, "at most %d --allowed-root flags "
			    "are accepted", MAX_ALLOWED);
			return -1;
		}
		ov->allowed_roots[ov->nallowed++] = arg;
		break;
	default:
		snprintf(err, errlen, "unknown option");
		return -1;
	}
	return 0;
}

int
vw_overrides_argv(const struct vw_overrides *ov, int used_file,
    const char *file, const char **argv, int argc, int max)
{
	const char *vals[] = { NULL, NULL, ov->socket_dir, ov->state_dir,
	    ov->run_dir, ov->root, NULL, ov->user, ov->admin_socket,
	    ov->gfs_volume, ov->gfs_servers };
	int start = argc;

#define PUSH(s) do { if (argc - start >= max) return -1; argv[argc++] = (s); } while (0)
	if (used_file) {
		PUSH("--config");
		PUSH(file);
	} else
		PUSH("--no-config");
	for (size_t i = 2; i < sizeof(vals) / sizeof(vals[0]); i++) {
		if (vals[i] != NULL) {
			PUSH(flag_names[i]);
			PUSH(vals[i]);
		}
	}
	for (size_t i = 0; i < ov->nallowed; i++) {
		PUSH("--allowed-root");
		PUSH(ov->allowed_roots[i]);
	}
	if (argc - start >= max)
		return -1;
	argv[argc] = NULL;
	return argc;
#undef PUSH
}

const char *
vw_backend_name(enum vw_backend_type b)
{
	switch (b) {
	case VW_BACKEND_DIR:
		return "dir";
	case VW_BACKEND_BTRFS:
		return "btrfs";
	case VW_BACKEND_LOOP:
		return "loop";
	case VW_BACKEND_GLUSTERFS:
		return "glusterfs";
	}
	return "unknown";
}

const char *
vw_on_remove_name(enum vw_on_remove r)
{
	switch (r) {
	case VW_ON_REMOVE_KEEP:		return "keep";
	case VW_ON_REMOVE_DELETE:	return "delete";
	case VW_ON_REMOVE_ARCHIVE:	return "archive";
	}
	return "unknown";
}

static void
free_driver(struct vw_driver *d)
{
	free(d->name);
	free(d->root);
	for (size_t i = 0; i < d->nallowed; i++)
		free(d->allowed_roots[i]);
	free(d->allowed_roots);
	free(d->mount_dir);
	free(d->gl.volume);
	for (size_t i = 0; i < d->gl.nservers; i++)
		free(d->gl.servers[i]);
	free(d->gl.servers);
	free(d->gl.subdir);
	free(d->gl.node);
	memset(d, 0, sizeof(*d));
}

void
vw_config_free(struct vw_config *cfg)
{
	free(cfg->source);
	free(cfg->user);
	free(cfg->state_dir);
	free(cfg->run_dir);
	free(cfg->socket_dir);
	free(cfg->socket_group);
	free(cfg->admin_socket);
	for (size_t i = 0; i < cfg->ndrivers; i++)
		free_driver(&cfg->drivers[i]);
	free(cfg->drivers);
	memset(cfg, 0, sizeof(*cfg));
}

static char *
xstrdup_or_null(const char *s)
{
	return s == NULL ? NULL : strdup(s);
}

/* Error helper: "SOURCE: key PATH: reason". */
static int __attribute__((format(printf, 5, 6)))
keyerr(char *err, size_t errlen, const char *source, const char *key,
    const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "%s: key %s: %s", source, key, why);
	return -1;
}

/* Store a string member; nul-byte-free is guaranteed by yajl_tree. */
static int
get_string(yajl_val v, char **out, const char *source, const char *key,
    char *err, size_t errlen)
{
	if (!YAJL_IS_STRING(v))
		return keyerr(err, errlen, source, key, "must be a string");
	free(*out);
	if ((*out = strdup(v->u.string)) == NULL)
		return keyerr(err, errlen, source, key, "out of memory");
	return 0;
}

/* yajl_tree keeps every duplicate key; a config that names one key twice
 * is ambiguous, so refuse it. */
static int
dup_key(yajl_val obj, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (strcmp(obj->u.object.keys[j], obj->u.object.keys[i]) == 0)
			return 1;
	return 0;
}

static int
parse_driver(struct vw_driver *d, yajl_val obj, size_t idx, const char *source,
    char *err, size_t errlen)
{
	char key[96];
	const char *gl_key = NULL;	/* a glusterfs-only key that was given */
	int have_backend = 0, have_size = 0, have_fs = 0, have_max = 0;

	snprintf(key, sizeof(key), "drivers[%zu]", idx);
	if (!YAJL_IS_OBJECT(obj))
		return keyerr(err, errlen, source, key, "must be an object");
	d->on_remove = VW_ON_REMOVE_KEEP;
	d->gl.lease_ttl = VW_LEASE_TTL_DEFAULT;
	for (size_t i = 0; i < obj->u.object.len; i++) {
		const char *k = obj->u.object.keys[i];
		yajl_val v = obj->u.object.values[i];

		snprintf(key, sizeof(key), "drivers[%zu].%.40s", idx, k);
		if (dup_key(obj, i))
			return keyerr(err, errlen, source, key, "given twice");
		if (strcmp(k, "name") == 0) {
			if (get_string(v, &d->name, source, key, err, errlen) < 0)
				return -1;
		} else if (strcmp(k, "backend") == 0) {
			if (!YAJL_IS_STRING(v))
				return keyerr(err, errlen, source, key, "must be a string");
			if (strcmp(v->u.string, "dir") == 0)
				d->backend = VW_BACKEND_DIR;
			else if (strcmp(v->u.string, "btrfs") == 0 && VW_BTRFS_BUILT)
				d->backend = VW_BACKEND_BTRFS;
			else if (strcmp(v->u.string, "loop") == 0)
				d->backend = VW_BACKEND_LOOP;
			else if (strcmp(v->u.string, "btrfs") == 0)
				return keyerr(err, errlen, source, key,
				    "backend \"btrfs\" is not available: this "
				    "volwarden was built without libbtrfsutil; "
				    "install libbtrfsutil-dev and rebuild "
				    "(./configure --with-btrfs), or use backend "
				    "\"dir\"");
			else if (strcmp(v->u.string, "glusterfs") == 0 &&
			    VW_GLUSTERFS_BUILT)
				d->backend = VW_BACKEND_GLUSTERFS;
			else if (strcmp(v->u.string, "glusterfs") == 0)
				return keyerr(err, errlen, source, key,
				    "backend \"glusterfs\" is not available: "
				    "this volwarden was built without gfapi; "
				    "install libglusterfs-dev and rebuild "
				    "(./configure --with-glusterfs)");
			else
				return keyerr(err, errlen, source, key,
				    "backend \"%.40s\" is not available in this "
				    "build; available: dir%s, loop%s", v->u.string,
				    VW_BTRFS_BUILT ? ", btrfs" : "",
				    VW_GLUSTERFS_BUILT ? ", glusterfs" : "");
			have_backend = 1;
		} else if (strcmp(k, "root") == 0) {
			if (get_string(v, &d->root, source, key, err, errlen) < 0)
				return -1;
		} else if (strcmp(k, "on_remove") == 0) {
			const char *s;

			if (!YAJL_IS_STRING(v))
				return keyerr(err, errlen, source, key, "must be a string");
			s = v->u.string;
			if (strcmp(s, "keep") == 0)
				d->on_remove = VW_ON_REMOVE_KEEP;
			else if (strcmp(s, "delete") == 0)
				d->on_remove = VW_ON_REMOVE_DELETE;
			else if (strcmp(s, "archive") == 0)
				d->on_remove = VW_ON_REMOVE_ARCHIVE;
			else
				return keyerr(err, errlen, source, key, "must be "
				    "\"keep\", \"delete\" or \"archive\"");
		} else if (strcmp(k, "allowed_roots") == 0) {
			if (!YAJL_IS_ARRAY(v))
				return keyerr(err, errlen, source, key,
				    "must be an array of absolute paths");
			if (v->u.array.len > MAX_ALLOWED)
				return keyerr(err, errlen, source, key,
				    "at most %d entries are allowed", MAX_ALLOWED);
			/* yajl_tree keeps duplicate keys: a second array
			 * would replace the first while nallowed still
			 * counted its entries. */
			if (d->allowed_roots != NULL)
				return keyerr(err, errlen, source, key,
				    "given twice");
			d->allowed_roots = calloc(v->u.array.len + 1, sizeof(char *));
			if (d->allowed_roots == NULL)
				return keyerr(err, errlen, source, key, "out of memory");
			for (size_t j = 0; j < v->u.array.len; j++) {
				snprintf(key, sizeof(key), "drivers[%zu].allowed_roots[%zu]",
				    idx, j);
				if (get_string(v->u.array.values[j],
				    &d->allowed_roots[j], source, key, err, errlen) < 0)
					return -1;
				d->nallowed++;
			}
		} else if (strcmp(k, "default_size") == 0) {
			if (!YAJL_IS_STRING(v) || vw_size_parse(v->u.string,
			    strlen(v->u.string), &d->default_size) < 0)
				return keyerr(err, errlen, source, key, "must be a "
				    "size such as \"512M\" or \"10G\" (K, M, G, T, "
				    "P: powers of 1024), from 1M to 1024P");
			have_size = 1;
		} else if (strcmp(k, "max_size") == 0) {
			if (!YAJL_IS_STRING(v) || vw_size_parse(v->u.string,
			    strlen(v->u.string), &d->max_size) < 0)
				return keyerr(err, errlen, source, key, "must be a "
				    "size such as \"100G\" or \"1T\" (K, M, G, T, "
				    "P: powers of 1024), from 1M to 1024P");
			have_max = 1;
		} else if (strcmp(k, "fs") == 0) {
			if (!YAJL_IS_STRING(v) ||
			    (d->fs = vw_fs_parse(v->u.string)) == VW_FS_NONE ||
			    d->fs == VW_FS_EROFS)
				return keyerr(err, errlen, source, key, "must be "
				    "\"ext4\" or \"xfs\" (the file system of "
				    "volumes created without -o fs; erofs volumes "
				    "need -o source or -o image)");
			have_fs = 1;
		} else if (strcmp(k, "mount_dir") == 0) {
			if (get_string(v, &d->mount_dir, source, key, err, errlen) < 0)
				return -1;
		} else if (strcmp(k, "volume") == 0 || strcmp(k, "subdir") == 0 ||
		    strcmp(k, "node") == 0) {
			char **dst = k[0] == 'v' ? &d->gl.volume : k[0] == 's' ?
			    &d->gl.subdir : &d->gl.node;

			gl_key = k;
			if (get_string(v, dst, source, key, err, errlen) < 0)
				return -1;
		} else if (strcmp(k, "lease_ttl") == 0) {
			gl_key = k;
			if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) <
			    VW_LEASE_TTL_MIN || YAJL_GET_INTEGER(v) > VW_LEASE_TTL_MAX)
				return keyerr(err, errlen, source, key, "must be a "
				    "whole number of seconds from %d to %d",
				    VW_LEASE_TTL_MIN, VW_LEASE_TTL_MAX);
			d->gl.lease_ttl = (uint32_t)YAJL_GET_INTEGER(v);
		} else if (strcmp(k, "servers") == 0) {
			gl_key = k;
			if (!YAJL_IS_ARRAY(v) || v->u.array.len == 0 ||
			    v->u.array.len > MAX_ALLOWED)
				return keyerr(err, errlen, source, key, "must be an "
				    "array of 1 to %d server names", MAX_ALLOWED);
			if (d->gl.servers != NULL)
				return keyerr(err, errlen, source, key, "given twice");
			d->gl.servers = calloc(v->u.array.len + 1, sizeof(char *));
			if (d->gl.servers == NULL)
				return keyerr(err, errlen, source, key, "out of memory");
			for (size_t j = 0; j < v->u.array.len; j++) {
				snprintf(key, sizeof(key), "drivers[%zu].servers[%zu]",
				    idx, j);
				if (get_string(v->u.array.values[j],
				    &d->gl.servers[j], source, key, err, errlen) < 0)
					return -1;
				d->gl.nservers++;
			}
		} else {
			return keyerr(err, errlen, source, key, "unknown key; valid "
			    "driver keys are: name, backend, root, allowed_roots, "
			    "on_remove, for backend loop default_size, max_size, fs, "
			    "mount_dir, and for glusterfs volume, servers, subdir, "
			    "node, lease_ttl, mount_dir");
		}
	}
	if (gl_key != NULL && have_backend && d->backend != VW_BACKEND_GLUSTERFS) {
		snprintf(key, sizeof(key), "drivers[%zu].%s", idx, gl_key);
		return keyerr(err, errlen, source, key, "only a glusterfs driver "
		    "takes this key");
	}
	snprintf(key, sizeof(key), "drivers[%zu]", idx);
	if (d->name == NULL)
		return keyerr(err, errlen, source, key, "\"name\" is required");
	if (!have_backend)
		return keyerr(err, errlen, source, key, "\"backend\" is required");
	if (d->root == NULL)
		return keyerr(err, errlen, source, key, "\"root\" is required");
	if (d->backend == VW_BACKEND_GLUSTERFS && d->gl.node == NULL) {
		char host[256];

		/* The default node identity; the same in both processes. */
		if (gethostname(host, sizeof(host) - 1) < 0)
			return keyerr(err, errlen, source, key, "cannot read the "
			    "host name for \"node\": %s; set \"node\"",
			    strerror(errno));
		host[sizeof(host) - 1] = '\0';
		if ((d->gl.node = strdup(host)) == NULL)
			return keyerr(err, errlen, source, key, "out of memory");
	}
	if (d->backend == VW_BACKEND_GLUSTERFS) {
		/* Volumes are bind-mounted at MOUNT_DIR/NAME (the
		 * directory checked on the FUSE mount, never a path a
		 * Gluster client could swap for a link). */
		if (have_size || have_max || have_fs)
			return keyerr(err, errlen, source, key, "default_size, "
			    "max_size and fs are keys of backend \"loop\" only");
		if (d->mount_dir == NULL) {
			size_t n = strlen(VW_DEFAULT_GLUSTER_MOUNT_BASE) +
			    strlen(d->name) + 2;

			if ((d->mount_dir = malloc(n)) == NULL)
				return keyerr(err, errlen, source, key,
				    "out of memory");
			snprintf(d->mount_dir, n, "%s/%s",
			    VW_DEFAULT_GLUSTER_MOUNT_BASE, d->name);
		}
		return 0;
	}
	if (d->backend != VW_BACKEND_LOOP) {
		if (have_size || have_max || have_fs || d->mount_dir != NULL)
			return keyerr(err, errlen, source, key, "default_size, "
			    "max_size, fs and mount_dir are keys of backend "
			    "\"loop\" only (mount_dir also of \"glusterfs\")");
		return 0;
	}
	if (!have_size)
		d->default_size = VW_DEFAULT_LOOP_SIZE;
	if (!have_max)
		d->max_size = VW_DEFAULT_LOOP_MAX_SIZE;
	if (!have_fs)
		d->fs = VW_FS_EXT4;
	if (d->mount_dir == NULL) {
		size_t n = strlen(VW_DEFAULT_LOOP_MOUNT_BASE) + strlen(d->name) + 2;

		if ((d->mount_dir = malloc(n)) == NULL)
			return keyerr(err, errlen, source, key, "out of memory");
		snprintf(d->mount_dir, n, "%s/%s", VW_DEFAULT_LOOP_MOUNT_BASE,
		    d->name);
	}
	if (d->default_size < vw_fs_min_size(d->fs)) {
		snprintf(key, sizeof(key), "drivers[%zu].default_size", idx);
		return keyerr(err, errlen, source, key, "%s needs at least %llu "
		    "MiB; raise default_size", vw_fs_name(d->fs),
		    (unsigned long long)(vw_fs_min_size(d->fs) >> 20));
	}
	if (d->default_size > d->max_size) {
		snprintf(key, sizeof(key), "drivers[%zu].default_size", idx);
		return keyerr(err, errlen, source, key, "is above max_size (%llu "
		    "MiB); lower default_size or raise max_size",
		    (unsigned long long)(d->max_size >> 20));
	}
	return 0;
}

int
vw_gluster_server_parse(const char *s, struct vw_gluster_server *out,
    char *err, size_t errlen)
{
	const char *h = s, *end, *colon = NULL;
	size_t hl;

	memset(out, 0, sizeof(*out));
	snprintf(out->transport, sizeof(out->transport), "tcp");
	if (strncmp(s, "unix://", 7) == 0) {
		snprintf(out->transport, sizeof(out->transport), "unix");
		if (s[7] != '/' || strlen(s + 7) >= sizeof(out->host) ||
		    strlen(s + 7) > 107) {
			snprintf(err, errlen, "\"%.100s\": unix:// must be followed "
			    "by an absolute socket path", s);
			return -1;
		}
		snprintf(out->host, sizeof(out->host), "%s", s + 7);
		return 0;
	}
	if (strncmp(s, "tcp://", 6) == 0)
		h = s + 6;
	else if (strncmp(s, "rdma://", 7) == 0) {
		snprintf(out->transport, sizeof(out->transport), "rdma");
		h = s + 7;
	}
	if (h[0] == '[') {
		if ((end = strchr(h, ']')) == NULL)
			goto bad;
		h++;
		hl = (size_t)(end - h);
		if (end[1] == ':')
			colon = end + 1;
		else if (end[1] != '\0')
			goto bad;
		for (size_t i = 0; i < hl; i++)
			if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' &&
			    h[i] <= 'f') || (h[i] >= 'A' && h[i] <= 'F') ||
			    h[i] == ':' || h[i] == '.'))
				goto bad;
	} else {
		colon = strchr(h, ':');
		hl = colon != NULL ? (size_t)(colon - h) : strlen(h);
		for (size_t i = 0; i < hl; i++)
			if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' &&
			    h[i] <= 'z') || (h[i] >= 'A' && h[i] <= 'Z') ||
			    h[i] == '.' || h[i] == '-' || h[i] == '_'))
				goto bad;
	}
	if (hl == 0 || hl >= sizeof(out->host))
		goto bad;
	memcpy(out->host, h, hl);
	out->host[hl] = '\0';
	if (colon != NULL) {
		char *pe;
		long port;

		errno = 0;
		port = strtol(colon + 1, &pe, 10);
		if (colon[1] < '0' || colon[1] > '9' || *pe != '\0' ||
		    errno != 0 || port < 1 || port > 65535)
			goto bad;
		out->port = (int)port;
	}
	return 0;
bad:
	snprintf(err, errlen, "\"%.100s\" is not a server; write HOST, "
	    "HOST:PORT or [IPV6]:PORT, optionally after tcp:// or rdma://, or "
	    "unix:///PATH", s);
	return -1;
}

/* The keys of a glusterfs driver (drivers[i]). */
static int
validate_gluster(const struct vw_config *cfg, size_t i, char *err,
    size_t errlen)
{
	const struct vw_driver *d = &cfg->drivers[i];
	const char *src = cfg->source;
	char key[96], why[256];

	snprintf(key, sizeof(key), "drivers[%zu].volume", i);
	if (d->gl.volume == NULL)
		return keyerr(err, errlen, src, key, "a glusterfs driver needs "
		    "the Gluster volume's name");
	/* Gluster's own rule: letters, digits, '-' and '_'. */
	if (d->gl.volume[0] == '\0' || strlen(d->gl.volume) > 64 ||
	    strspn(d->gl.volume, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"
	    "QRSTUVWXYZ0123456789-_") != strlen(d->gl.volume))
		return keyerr(err, errlen, src, key, "\"%.80s\" is not a Gluster "
		    "volume name (1 to 64 letters, digits, '-' and '_')",
		    d->gl.volume);
	snprintf(key, sizeof(key), "drivers[%zu].servers", i);
	if (d->gl.nservers == 0)
		return keyerr(err, errlen, src, key, "a glusterfs driver needs "
		    "at least one Gluster server");
	for (size_t j = 0; j < d->gl.nservers; j++) {
		struct vw_gluster_server sv;

		snprintf(key, sizeof(key), "drivers[%zu].servers[%zu]", i, j);
		if (vw_gluster_server_parse(d->gl.servers[j], &sv, why,
		    sizeof(why)) < 0)
			return keyerr(err, errlen, src, key, "%s", why);
	}
	if (d->gl.subdir != NULL) {
		snprintf(key, sizeof(key), "drivers[%zu].subdir", i);
		if (d->gl.subdir[0] == '/' || vw_mountpoint_normalize(d->gl.subdir,
		    d->gl.subdir, strlen(d->gl.subdir) + 1, why, sizeof(why)) < 0 ||
		    strlen(d->gl.subdir) > 1024)
			return keyerr(err, errlen, src, key, "\"%.200s\" must be a "
			    "relative path inside the Gluster volume, without '.' "
			    "or '..' (e.g. \"docker/volumes\")", d->gl.subdir);
		for (const char *c = d->gl.subdir; *c != '\0'; c++)
			if (*c == '/' ? c[1] == '.' : c == d->gl.subdir && *c == '.')
				return keyerr(err, errlen, src, key, "no component "
				    "of \"%.200s\" may start with '.' (volwarden "
				    "keeps its own files in such names)", d->gl.subdir);
	}
	snprintf(key, sizeof(key), "drivers[%zu].node", i);
	if (vw_name_valid(d->gl.node, strlen(d->gl.node), why, sizeof(why)) < 0)
		return keyerr(err, errlen, src, key, "\"%.80s\" cannot name this "
		    "node in lease files (letters, digits, _ . -, at least two "
		    "characters); set \"node\"", d->gl.node);
	return 0;
}

static int
parse_limits(struct vw_limits *l, yajl_val obj, const char *source, char *err,
    size_t errlen)
{
	static const struct {
		const char	*name;
		size_t		 off;
		long long	 min, max;
	} keys[] = {
		{ "max_body_bytes", offsetof(struct vw_limits, max_body_bytes),
		    1024, 64LL << 20 },
		{ "max_header_bytes", offsetof(struct vw_limits, max_header_bytes),
		    1024, 1 << 20 },
		{ "idle_timeout", offsetof(struct vw_limits, idle_timeout),
		    1, 86400 },
		{ "max_connections", offsetof(struct vw_limits, max_connections),
		    16, 65536 },
		{ "helper_timeout", offsetof(struct vw_limits, helper_timeout),
		    1, 3600 },
	};
	char key[96];

	if (!YAJL_IS_OBJECT(obj))
		return keyerr(err, errlen, source, "limits", "must be an object");
	for (size_t i = 0; i < obj->u.object.len; i++) {
		const char *k = obj->u.object.keys[i];
		yajl_val v = obj->u.object.values[i];
		size_t j;

		snprintf(key, sizeof(key), "limits.%.40s", k);
		if (dup_key(obj, i))
			return keyerr(err, errlen, source, key, "given twice");
		for (j = 0; j < sizeof(keys) / sizeof(keys[0]); j++)
			if (strcmp(k, keys[j].name) == 0)
				break;
		if (j == sizeof(keys) / sizeof(keys[0]))
			return keyerr(err, errlen, source, key, "unknown key; valid "
			    "limits are: max_body_bytes, max_header_bytes, "
			    "idle_timeout, max_connections, helper_timeout");
		if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < keys[j].min ||
		    YAJL_GET_INTEGER(v) > keys[j].max)
			return keyerr(err, errlen, source, key, "must be an integer "
			    "from %lld to %lld", keys[j].min, keys[j].max);
		*(uint32_t *)(void *)((char *)l + keys[j].off) =
		    (uint32_t)YAJL_GET_INTEGER(v);
	}
	return 0;
}

int
vw_config_parse(struct vw_config *cfg, const char *text, const char *source,
    char *err, size_t errlen)
{
	char yerr[256];
	yajl_val top;
	int rc = -1;

	memset(cfg, 0, sizeof(*cfg));
	cfg->limits.max_body_bytes = VW_DEFAULT_MAX_BODY;
	cfg->limits.max_header_bytes = VW_DEFAULT_MAX_HEADER;
	cfg->limits.idle_timeout = VW_DEFAULT_IDLE_TIMEOUT;
	cfg->limits.max_connections = VW_DEFAULT_MAX_CONNECTIONS;
	cfg->limits.helper_timeout = VW_DEFAULT_HELPER_TIMEOUT;
	if ((cfg->source = strdup(source)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	top = yajl_tree_parse(text, yerr, sizeof(yerr));
	if (top == NULL) {
		char *r = yerr, *w = yerr;

		/* yajl's message spans lines padded with blanks: squeeze. */
		for (; *r != '\0'; r++) {
			int blank = *r == ' ' || *r == '\n' || *r == '\t';

			if (blank && (w == yerr || w[-1] == ' '))
				continue;
			*w++ = blank ? ' ' : *r;
		}
		while (w > yerr && w[-1] == ' ')
			w--;
		*w = '\0';
		snprintf(err, errlen, "%s: not valid JSON: %s", source, yerr);
		return -1;
	}
	if (!YAJL_IS_OBJECT(top)) {
		snprintf(err, errlen, "%s: the top level must be a JSON object", source);
		goto out;
	}
	for (size_t i = 0; i < top->u.object.len; i++) {
		const char *k = top->u.object.keys[i];
		yajl_val v = top->u.object.values[i];
		char **dst = NULL;

		if (dup_key(top, i)) {
			keyerr(err, errlen, source, k, "given twice");
			goto out;
		}

		if (strcmp(k, "user") == 0)
			dst = &cfg->user;
		else if (strcmp(k, "state_dir") == 0)
			dst = &cfg->state_dir;
		else if (strcmp(k, "run_dir") == 0)
			dst = &cfg->run_dir;
		else if (strcmp(k, "socket_dir") == 0)
			dst = &cfg->socket_dir;
		else if (strcmp(k, "socket_group") == 0)
			dst = &cfg->socket_group;
		else if (strcmp(k, "admin_socket") == 0)
			dst = &cfg->admin_socket;
		if (dst != NULL) {
			if (get_string(v, dst, source, k, err, errlen) < 0)
				goto out;
			continue;
		}
		if (strcmp(k, "limits") == 0) {
			if (parse_limits(&cfg->limits, v, source, err, errlen) < 0)
				goto out;
			continue;
		}
		if (strcmp(k, "drivers") != 0) {
			keyerr(err, errlen, source, k, "unknown key; valid keys are: "
			    "user, state_dir, run_dir, socket_dir, socket_group, "
			    "admin_socket, limits, drivers");
			goto out;
		}
		if (!YAJL_IS_ARRAY(v) || v->u.array.len == 0) {
			keyerr(err, errlen, source, k, "must be a non-empty array "
			    "of driver objects");
			goto out;
		}
		if (v->u.array.len > MAX_DRIVERS) {
			keyerr(err, errlen, source, k, "at most %d drivers are "
			    "supported", MAX_DRIVERS);
			goto out;
		}
		if (cfg->drivers != NULL) {
			keyerr(err, errlen, source, k, "given twice");
			goto out;
		}
		cfg->drivers = calloc(v->u.array.len, sizeof(*cfg->drivers));
		if (cfg->drivers == NULL) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		for (size_t j = 0; j < v->u.array.len; j++) {
			cfg->ndrivers++;
			if (parse_driver(&cfg->drivers[j], v->u.array.values[j],
			    j, source, err, errlen) < 0)
				goto out;
		}
	}
	if (cfg->ndrivers == 0) {
		keyerr(err, errlen, source, "drivers", "is required");
		goto out;
	}
	/* Defaults for omitted top-level keys. */
	if ((cfg->user == NULL && (cfg->user = strdup(VW_DEFAULT_USER)) == NULL) ||
	    (cfg->state_dir == NULL &&
	    (cfg->state_dir = strdup(VW_DEFAULT_STATE_DIR)) == NULL) ||
	    (cfg->run_dir == NULL &&
	    (cfg->run_dir = strdup(VW_DEFAULT_RUN_DIR)) == NULL) ||
	    (cfg->socket_dir == NULL &&
	    (cfg->socket_dir = strdup(VW_DEFAULT_SOCKET_DIR)) == NULL) ||
	    (cfg->admin_socket == NULL &&
	    (cfg->admin_socket = strdup(VW_DEFAULT_ADMIN_SOCKET)) == NULL)) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	rc = 0;
out:
	yajl_tree_free(top);
	return rc;
}

/* Normalise an absolute directory path in place; err names the key. */
static int
norm_abs(char *path, const char *source, const char *key, char *err,
    size_t errlen)
{
	char why[256];

	if (path[0] != '/')
		return keyerr(err, errlen, source, key, "must be an absolute "
		    "path, got \"%.200s\"", path);
	if (strcmp(path, "/") == 0)
		return keyerr(err, errlen, source, key, "must not be /");
	if (strlen(path) > 1024)
		return keyerr(err, errlen, source, key, "longer than 1024 bytes");
	if (vw_mountpoint_normalize(path, path, strlen(path) + 1, why,
	    sizeof(why)) < 0)
		return keyerr(err, errlen, source, key, "%s", why);
	return 0;
}

/*
 * The admin socket gives root's API, so its directory must be one only
 * root controls: not the frontend's state or run directory (the frontend
 * user owns those and could swap the socket), and not socket_dir (dockerd
 * would take ADMIN.sock for a plugin).
 */
static int
check_admin_socket(const struct vw_config *cfg, char *err, size_t errlen)
{
	const char *src = cfg->source, *k = "admin_socket";
	const char *const others[] = { cfg->state_dir, cfg->run_dir,
	    cfg->socket_dir };
	const char *const names[] = { "state_dir", "run_dir", "socket_dir" };
	char dir[VW_PATH_MAX], *slash;

	if (norm_abs(cfg->admin_socket, src, k, err, errlen) < 0)
		return -1;
	if (strlen(cfg->admin_socket) > 107)
		return keyerr(err, errlen, src, k, "%s is longer than a unix "
		    "socket path may be (107 bytes)", cfg->admin_socket);
	snprintf(dir, sizeof(dir), "%s", cfg->admin_socket);
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		if (strcmp(dir, others[i]) == 0 ||
		    vw_path_beneath(others[i], dir) != NULL)
			return keyerr(err, errlen, src, k, "%s lies in %s %s; put "
			    "the admin socket in a directory that only root can "
			    "write, outside state_dir, run_dir and socket_dir",
			    cfg->admin_socket, names[i], others[i]);
	}
	return 0;
}

int
vw_config_validate(const struct vw_config *cfg, char *err, size_t errlen)
{
	const char *src = cfg->source;
	char key[96];

	if (norm_abs(cfg->state_dir, src, "state_dir", err, errlen) < 0 ||
	    norm_abs(cfg->run_dir, src, "run_dir", err, errlen) < 0 ||
	    norm_abs(cfg->socket_dir, src, "socket_dir", err, errlen) < 0 ||
	    check_admin_socket(cfg, err, errlen) < 0)
		return -1;
	if (cfg->user[0] == '\0')
		return keyerr(err, errlen, src, "user", "must not be empty");
	for (size_t i = 0; i < cfg->ndrivers; i++) {
		struct vw_driver *d = &cfg->drivers[i];
		char why[256];

		snprintf(key, sizeof(key), "drivers[%zu].name", i);
		/* The driver name is a socket file stem and a Docker driver
		 * name: the same character rule as volume names. */
		if (vw_name_valid(d->name, strlen(d->name), why, sizeof(why)) < 0)
			return keyerr(err, errlen, src, key, "\"%.80s\" is not a "
			    "valid driver name (letters, digits, _ . -, at least "
			    "two characters)", d->name);
		if (strlen(cfg->socket_dir) + strlen(d->name) + 6 > 107)
			return keyerr(err, errlen, src, key, "the socket path "
			    "%s/%s.sock is longer than a unix socket path may be "
			    "(107 bytes)", cfg->socket_dir, d->name);
		for (size_t j = 0; j < i; j++)
			if (strcmp(cfg->drivers[j].name, d->name) == 0)
				return keyerr(err, errlen, src, key, "driver "
				    "\"%s\" is defined twice", d->name);
		snprintf(key, sizeof(key), "drivers[%zu].root", i);
		if (norm_abs(d->root, src, key, err, errlen) < 0)
			return -1;
		if (d->backend == VW_BACKEND_GLUSTERFS &&
		    validate_gluster(cfg, i, err, errlen) < 0)
			return -1;
		if ((d->backend == VW_BACKEND_BTRFS ||
		    d->backend == VW_BACKEND_GLUSTERFS) && d->nallowed > 0) {
			snprintf(key, sizeof(key), "drivers[%zu].allowed_roots", i);
			return keyerr(err, errlen, src, key, "only the dir backend "
			    "places volumes under allowed roots (and loop reads "
			    "sources and images there); a %s volume always lives "
			    "under the driver root %s",
			    vw_backend_name(d->backend), d->root);
		}
		if (d->mount_dir != NULL) {
			snprintf(key, sizeof(key), "drivers[%zu].mount_dir", i);
			if (norm_abs(d->mount_dir, src, key, err, errlen) < 0)
				return -1;
		}
		for (size_t j = 0; j < d->nallowed; j++) {
			snprintf(key, sizeof(key), "drivers[%zu].allowed_roots[%zu]",
			    i, j);
			if (norm_abs(d->allowed_roots[j], src, key, err, errlen) < 0)
				return -1;
		}
	}
	/* No volume may land on volwarden's own directories: a mountpoint
	 * could otherwise chown or delete the state. */
	for (size_t i = 0; i < cfg->ndrivers; i++) {
		const struct vw_driver *d = &cfg->drivers[i];
		const char *own[] = { cfg->state_dir, cfg->run_dir, cfg->socket_dir };
		const char *ownkey[] = { "state_dir", "run_dir", "socket_dir" };

		for (size_t k = 0; k <= d->nallowed + (d->mount_dir != NULL); k++) {
			const char *r = k == 0 ? d->root : k <= d->nallowed ?
			    d->allowed_roots[k - 1] : d->mount_dir;

			for (size_t o = 0; o < 3; o++) {
				if (strcmp(r, own[o]) != 0 &&
				    vw_path_beneath(r, own[o]) == NULL &&
				    vw_path_beneath(own[o], r) == NULL)
					continue;
				if (k == 0)
					snprintf(key, sizeof(key), "drivers[%zu].root", i);
				else if (k > d->nallowed)
					snprintf(key, sizeof(key), "drivers[%zu].mount_dir", i);
				else
					snprintf(key, sizeof(key),
					    "drivers[%zu].allowed_roots[%zu]", i, k - 1);
				return keyerr(err, errlen, src, key, "%s overlaps %s "
				    "%s; volumes must live apart from volwarden's "
				    "own directories", r, ownkey[o], own[o]);
			}
		}
	}
	/* A loop or glusterfs driver's mount directory holds nothing but its mounts: it
	 * may not overlap any driver's root, allowed roots or mount
	 * directory (an image or source inside it would be hidden by a
	 * mount, and a mount inside a root could be deleted as a volume). */
	for (size_t i = 0; i < cfg->ndrivers; i++) {
		const char *m = cfg->drivers[i].mount_dir;

		if (m == NULL)
			continue;
		for (size_t j = 0; j < cfg->ndrivers; j++) {
			const struct vw_driver *b = &cfg->drivers[j];

			for (size_t k = 0; k <= b->nallowed + 1; k++) {
				const char *r = k == 0 ? b->root : k <= b->nallowed ?
				    b->allowed_roots[k - 1] : b->mount_dir;

				if (r == NULL || (j == i && k == b->nallowed + 1))
					continue;
				if (strcmp(r, m) != 0 && vw_path_beneath(r, m) == NULL &&
				    vw_path_beneath(m, r) == NULL)
					continue;
				snprintf(key, sizeof(key), "drivers[%zu].mount_dir", i);
				return keyerr(err, errlen, src, key, "%s overlaps %s "
				    "of driver %s; give each loop or glusterfs driver a mount "
				    "directory of its own, apart from every root",
				    m, r, b->name);
			}
		}
	}
	/* Roots must not nest: a volume of one driver (or placed under an
	 * allowed root) would otherwise sit inside another driver's tree,
	 * where that driver's on_remove could delete it. */
	for (size_t i = 0; i < cfg->ndrivers; i++) {
		const struct vw_driver *a = &cfg->drivers[i];

		for (size_t j = 0; j < cfg->ndrivers; j++) {
			const struct vw_driver *b = &cfg->drivers[j];

			if (j > i && (strcmp(a->root, b->root) == 0 ||
			    vw_path_beneath(a->root, b->root) != NULL ||
			    vw_path_beneath(b->root, a->root) != NULL)) {
				snprintf(key, sizeof(key), "drivers[%zu].root", j);
				return keyerr(err, errlen, src, key, "%s overlaps the "
				    "root %s of driver %s; driver roots must not "
				    "contain each other", b->root, a->root, a->name);
			}
			for (size_t k = 0; k < b->nallowed; k++) {
				const char *r = b->allowed_roots[k];

				if (strcmp(r, a->root) == 0 ||
				    vw_path_beneath(a->root, r) != NULL ||
				    vw_path_beneath(r, a->root) != NULL) {
					snprintf(key, sizeof(key),
					    "drivers[%zu].allowed_roots[%zu]", j, k);
					return keyerr(err, errlen, src, key, "%s "
					    "overlaps the root %s of driver %s; use "
					    "relative mountpoints for places under a "
					    "driver root", r, a->root, a->name);
				}
			}
		}
	}
	return 0;
}

static int
replace(char **dst, const char *src)
{
	char *s;

	if (src == NULL)
		return 0;
	if ((s = strdup(src)) == NULL)
		return -1;
	free(*dst);
	*dst = s;
	return 0;
}

static char *
read_file(const char *path, int check_owner, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t off = 0;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		snprintf(err, errlen, "cannot open config file %s: %s", path,
		    strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "config file %s is not a regular file", path);
		goto fail;
	}
	if (check_owner && (st.st_uid != 0 || (st.st_mode & 022))) {
		snprintf(err, errlen, "config file %s must be owned by root and "
		    "not writable by group or others (chown root %s; chmod "
		    "go-w %s)", path, path, path);
		goto fail;
	}
	if (st.st_size > CONFIG_MAX_BYTES) {
		snprintf(err, errlen, "config file %s is larger than %d bytes",
		    path, CONFIG_MAX_BYTES);
		goto fail;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		snprintf(err, errlen, "out of memory reading %s", path);
		goto fail;
	}
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + off, (size_t)st.st_size - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "cannot read config file %s: %s",
			    path, n < 0 ? strerror(errno) : "file shrank");
			goto fail;
		}
		off += (size_t)n;
	}
	buf[off] = '\0';
	if (strlen(buf) != off) {
		snprintf(err, errlen, "config file %s contains a NUL byte", path);
		goto fail;
	}
	close(fd);
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

int
vw_overrides_env(struct vw_overrides *ov)
{
	const char *v = getenv("GFS_VOLUME"), *s = getenv("GFS_SERVERS");
	int used = 0;

	if (ov->gfs_volume == NULL && v != NULL && v[0] != '\0') {
		ov->gfs_volume = v;
		used = 1;
	}
	if (ov->gfs_servers == NULL && s != NULL && s[0] != '\0') {
		ov->gfs_servers = s;
		used = 1;
	}
	return used;
}

/* Append one server to d->gl (the legacy list). */
static int
push_server(struct vw_driver *d, const char *s, size_t len)
{
	char **n;

	if (len == 0)
		return 0;
	if (d->gl.nservers >= MAX_ALLOWED ||
	    (n = realloc(d->gl.servers, (d->gl.nservers + 2) *
	    sizeof(char *))) == NULL)
		return -1;
	d->gl.servers = n;
	if ((n[d->gl.nservers] = strndup(s, len)) == NULL)
		return -1;
	n[++d->gl.nservers] = NULL;
	return 0;
}

/*
 * docker-volume-glusterfs's configuration as a driver of the embedded
 * default: "glusterfs", mounted at VW_DEFAULT_GLUSTER_ROOT.  The server
 * list is split at commas and white space, and, as that plugin did, at
 * colons that are not followed by a port number ("host1:host2").
 */
static int
add_legacy_gluster(struct vw_config *cfg, const struct vw_overrides *ov,
    char *err, size_t errlen)
{
	struct vw_driver *n, *d;
	const char *p;

	if (ov->gfs_volume == NULL || ov->gfs_servers == NULL) {
		snprintf(err, errlen, "GFS_VOLUME (--gfs-volume) and GFS_SERVERS "
		    "(--gfs-servers) must be given together");
		return -1;
	}
	if ((n = realloc(cfg->drivers, (cfg->ndrivers + 1) * sizeof(*n))) == NULL)
		goto nomem;
	cfg->drivers = n;
	d = &cfg->drivers[cfg->ndrivers++];
	memset(d, 0, sizeof(*d));
	d->backend = VW_BACKEND_GLUSTERFS;
	d->on_remove = VW_ON_REMOVE_KEEP;
	d->gl.lease_ttl = VW_LEASE_TTL_DEFAULT;
	if ((d->name = strdup("glusterfs")) == NULL ||
	    (d->root = strdup(VW_DEFAULT_GLUSTER_ROOT)) == NULL ||
	    (d->mount_dir = strdup(VW_DEFAULT_GLUSTER_MOUNT_BASE
	    "/glusterfs")) == NULL ||
	    (d->gl.volume = strdup(ov->gfs_volume)) == NULL)
		goto nomem;
	for (p = ov->gfs_servers; *p != '\0'; ) {
		size_t len = strcspn(p, ", \t\n");
		const char *c = memchr(p, ':', len);

		/* "a:b" (a list) but not "a:24007" (a port). */
		if (c != NULL && p[0] != '[' && strncmp(p, "tcp://", 6) != 0 &&
		    strncmp(p, "rdma://", 7) != 0 && strncmp(p, "unix://", 7) != 0 &&
		    !(c[1] >= '0' && c[1] <= '9'))
			len = (size_t)(c - p);
		if (push_server(d, p, len) < 0)
			goto nomem;
		p += len;
		if (*p != '\0')
			p++;
	}
	if (d->gl.nservers == 0) {
		snprintf(err, errlen, "GFS_SERVERS (--gfs-servers) names no server");
		return -1;
	}
	{
		char host[256];

		if (gethostname(host, sizeof(host) - 1) < 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		if ((d->gl.node = strdup(host)) == NULL)
			goto nomem;
	}
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

int
vw_config_load(struct vw_config *cfg, const struct vw_overrides *ov,
    int check_owner, char *err, size_t errlen)
{
	const char *path = NULL;
	char *text = NULL;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	if (!ov->no_config) {
		if (ov->config != NULL)
			path = ov->config;
		else if (access(VW_CONFIG_FILE, F_OK) == 0)
			path = VW_CONFIG_FILE;
	}
	if (path != NULL) {
		if ((text = read_file(path, check_owner, err, errlen)) == NULL)
			return -1;
		rc = vw_config_parse(cfg, text, path, err, errlen);
		free(text);
	} else {
		rc = vw_config_parse(cfg, embedded_default, "embedded default",
		    err, errlen);
		if (rc == 0 && (ov->gfs_volume != NULL || ov->gfs_servers != NULL))
			rc = add_legacy_gluster(cfg, ov, err, errlen);
	}
	if (rc < 0)
		goto fail;
	if (replace(&cfg->socket_dir, ov->socket_dir) < 0 ||
	    replace(&cfg->state_dir, ov->state_dir) < 0 ||
	    replace(&cfg->run_dir, ov->run_dir) < 0 ||
	    replace(&cfg->user, ov->user) < 0 ||
	    replace(&cfg->admin_socket, ov->admin_socket) < 0 ||
	    replace(&cfg->drivers[0].root, ov->root) < 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (ov->nallowed > 0) {
		struct vw_driver *d = &cfg->drivers[0];
		char **n = realloc(d->allowed_roots,
		    (d->nallowed + ov->nallowed + 1) * sizeof(char *));

		if (n == NULL) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		d->allowed_roots = n;
		if (d->nallowed + ov->nallowed > MAX_ALLOWED) {
			snprintf(err, errlen, "driver %s: more than %d allowed "
			    "roots", d->name, MAX_ALLOWED);
			goto fail;
		}
		for (size_t i = 0; i < ov->nallowed; i++) {
			if ((d->allowed_roots[d->nallowed] =
			    xstrdup_or_null(ov->allowed_roots[i])) == NULL) {
				snprintf(err, errlen, "out of memory");
				goto fail;
			}
			d->nallowed++;
		}
	}
	if (vw_config_validate(cfg, err, errlen) < 0)
		goto fail;
	return 0;
fail:
	vw_config_free(cfg);
	return -1;
}

/* Print s as a JSON string: the config's strings come from yajl or argv
 * and may hold any byte, so escape what JSON requires. */
static void
print_json_string(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(fp, "\\%c", c);
		else if (c < 0x20)
			fprintf(fp, "\\u%04x", c);
		else
			fputc(c, fp);
	}
	fputc('"', fp);
}

void
vw_config_print(const struct vw_config *cfg, FILE *fp)
{
	fputs("{\n  \"user\": ", fp);
	print_json_string(fp, cfg->user);
	fputs(",\n  \"state_dir\": ", fp);
	print_json_string(fp, cfg->state_dir);
	fputs(",\n  \"run_dir\": ", fp);
	print_json_string(fp, cfg->run_dir);
	fputs(",\n  \"socket_dir\": ", fp);
	print_json_string(fp, cfg->socket_dir);
	if (cfg->socket_group != NULL) {
		fputs(",\n  \"socket_group\": ", fp);
		print_json_string(fp, cfg->socket_group);
	}
	fputs(",\n  \"admin_socket\": ", fp);
	print_json_string(fp, cfg->admin_socket);
	fprintf(fp, ",\n  \"limits\": {\"max_body_bytes\": %u, \"max_header_bytes\": "
	    "%u, \"idle_timeout\": %u, \"max_connections\": %u, "
	    "\"helper_timeout\": %u}",
	    cfg->limits.max_body_bytes, cfg->limits.max_header_bytes,
	    cfg->limits.idle_timeout, cfg->limits.max_connections,
	    cfg->limits.helper_timeout);
	fputs(",\n  \"drivers\": [", fp);
	for (size_t i = 0; i < cfg->ndrivers; i++) {
		const struct vw_driver *d = &cfg->drivers[i];

		fputs(i ? ",\n    {" : "\n    {", fp);
		fputs("\"name\": ", fp);
		print_json_string(fp, d->name);
		fprintf(fp, ", \"backend\": \"%s\", \"root\": ",
		    vw_backend_name(d->backend));
		print_json_string(fp, d->root);
		fputs(", \"allowed_roots\": [", fp);
		for (size_t j = 0; j < d->nallowed; j++) {
			if (j)
				fputs(", ", fp);
			print_json_string(fp, d->allowed_roots[j]);
		}
		fprintf(fp, "], \"on_remove\": \"%s\"",
		    vw_on_remove_name(d->on_remove));
		if (d->backend == VW_BACKEND_LOOP) {
			fprintf(fp, ", \"default_size\": \"%llu\", \"max_size\": "
			    "\"%llu\", \"fs\": \"%s\", \"mount_dir\": ",
			    (unsigned long long)d->default_size,
			    (unsigned long long)d->max_size, vw_fs_name(d->fs));
			print_json_string(fp, d->mount_dir);
		}
		if (d->backend == VW_BACKEND_GLUSTERFS) {
			fputs(", \"mount_dir\": ", fp);
			print_json_string(fp, d->mount_dir);
			fputs(", \"volume\": ", fp);
			print_json_string(fp, d->gl.volume);
			fputs(", \"servers\": [", fp);
			for (size_t j = 0; j < d->gl.nservers; j++) {
				if (j)
					fputs(", ", fp);
				print_json_string(fp, d->gl.servers[j]);
			}
			fputs("]", fp);
			if (d->gl.subdir != NULL) {
				fputs(", \"subdir\": ", fp);
				print_json_string(fp, d->gl.subdir);
			}
			fputs(", \"node\": ", fp);
			print_json_string(fp, d->gl.node);
			fprintf(fp, ", \"lease_ttl\": %u", d->gl.lease_ttl);
		}
		fputs("}", fp);
	}
	fputs("\n  ]\n}\n", fp);
}

uint64_t
vw_config_digest(const struct vw_config *cfg)
{
	uint64_t h = 14695981039346656037ULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	if (fp == NULL)
		return 0;
	vw_config_print(cfg, fp);
	if (fclose(fp) != 0) {
		free(buf);
		return 0;
	}
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)buf[i];
		h *= 1099511628211ULL;
	}
	free(buf);
	return h;
}
