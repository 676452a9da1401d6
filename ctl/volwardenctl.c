/*
 * volwardenctl: the admin client of volwarden.
 *
 * ls, inspect, status and metrics are one HTTP/1.0 GET each on the admin
 * socket (frontend/admin.c), blocking, with a time limit; the reply is
 * read to EOF (the daemon closes an HTTP/1.0 connection after replying).
 * snapshot create, ls, rm and restore are one POST, GET or DELETE each
 * (paging through long lists is the daemon's business).
 * check runs here, without the daemon: it loads the configuration the
 * daemon would load and looks at the directories, the kernel and the
 * helper the way the daemon's start-up will.
 *
 * Exit status: 0 success; 1 the daemon answered with an error, or check
 * found something to fix; 2 usage; 3 the daemon cannot be reached (no
 * socket, refused, timed out, or a reply that is not HTTP or JSON).
 */
#include "vw-build.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pwd.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cap-ng.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "common/config.h"
#include "common/options.h"
#include "common/privdrop.h"
#include "common/proto.h"
#include "ctl/ctl.h"

#ifndef VW_PRIVHELPER_PATH
#define VW_PRIVHELPER_PATH "/usr/local/libexec/volwarden-privhelper"
#endif


/* Seconds to wait for the daemon: what it serves from memory comes at
 * once; a snapshot call waits for the helper, which may be busy with the
 * volume's other requests first. */
#define TIMEOUT		30
/* Largest reply accepted, in bytes (a list of very many volumes). */
#define MAX_REPLY	(256u << 20)

#define GSTR(g, s) yajl_gen_string((g), (const unsigned char *)(s), strlen(s))

int json_out;

static void __attribute__((noreturn))
usage(int code)
{
	fprintf(code ? stderr : stdout,
	    "usage: volwardenctl [--socket PATH] [--json] ls [--driver NAME]\n"
	    "       volwardenctl [--socket PATH] [--json] inspect [--driver NAME] VOLUME\n"
	    "       volwardenctl [--socket PATH] [--json] status\n"
	    "       volwardenctl [--socket PATH] metrics\n"
	    "       volwardenctl [--socket PATH] [--json] snapshot create [--driver NAME]\n"
	    "                    VOLUME [SNAPSHOT]\n"
	    "       volwardenctl [--socket PATH] [--json] snapshot ls [--driver NAME] VOLUME\n"
	    "       volwardenctl [--socket PATH] [--json] snapshot rm [--driver NAME]\n"
	    "                    VOLUME SNAPSHOT\n"
	    "       volwardenctl [--socket PATH] [--json] snapshot restore [--driver NAME]\n"
	    "                    [--force] VOLUME SNAPSHOT\n"
	    "       volwardenctl [--socket PATH] [--json] resize [--driver NAME] VOLUME SIZE\n"
	    "       volwardenctl [--json] [--config FILE | --no-config] [config flags] check\n"
	    "       volwardenctl [--socket PATH] [--json] import-local-persist\n"
	    "                    [--driver NAME] [--rewrite OLD=NEW] FILE\n"
	    "Without --socket, the admin socket is admin_socket of the\n"
	    "configuration (%s if present, else %s).\n"
	    "Exit status: 0 ok, 1 error or check failed, 2 usage, 3 daemon not "
	    "reachable.\n", VW_CONFIG_FILE, VW_DEFAULT_ADMIN_SOCKET);
	exit(code);
}

void
warnmsg(const char *fmt, ...)
{
	va_list ap;

	fputs("volwardenctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ------------------------------------------------------------ HTTP */

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Split buf (len bytes) into status and body.  Returns 0 or -1. */
static int
parse_reply(struct reply *r, size_t len, char *err, size_t errlen)
{
	char *hdr_end, *line, *eol;
	long cl = -1;

	if (len < 12 || strncmp(r->buf, "HTTP/1.", 7) != 0 ||
	    r->buf[8] != ' ' || sscanf(r->buf + 9, "%3d", &r->status) != 1 ||
	    r->status < 100) {
		snprintf(err, errlen, "the reply is not HTTP");
		return -1;
	}
	if ((hdr_end = strstr(r->buf, "\r\n\r\n")) == NULL) {
		snprintf(err, errlen, "the reply ends inside its headers");
		return -1;
	}
	*hdr_end = '\0';
	for (line = strstr(r->buf, "\r\n"); line != NULL; line = eol) {
		line += 2;
		eol = strstr(line, "\r\n");
		if (strncasecmp(line, "Content-Length:", 15) == 0)
			cl = strtol(line + 15, NULL, 10);
	}
	r->body = hdr_end + 4;
	r->len = len - (size_t)(r->body - r->buf);
	if (cl >= 0) {
		if ((size_t)cl > r->len) {
			snprintf(err, errlen, "the reply was cut short (%zu of %ld "
			    "bytes)", r->len, cl);
			return -1;
		}
		r->len = (size_t)cl;
		r->body[r->len] = '\0';
	}
	return 0;
}

/*
 * method (GET, POST, DELETE) target on the unix socket path, with body
 * (JSON) if not NULL.  Returns 0 with *r filled (free r->buf), or -1 with
 * a sentence in err: the daemon cannot be reached or did not answer in
 * HTTP.
 */
int
http_request(const char *path, const char *method, const char *target,
    const char *body, struct reply *r, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct timeval tv = { TIMEOUT, 0 };
	char req[20480];
	size_t len = 0, cap = 0;
	int fd, n;

	memset(r, 0, sizeof(*r));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "socket path %s is too long", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
		snprintf(err, errlen, "setsockopt: %s", strerror(errno));
		goto fail;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = errno;

		snprintf(err, errlen, "cannot connect to the admin socket %s: %s%s",
		    path, strerror(e),
		    e == ENOENT || e == ECONNREFUSED ? " (is volwarden running? "
		    "give its admin socket with --socket)" :
		    e == EACCES || e == EPERM ? " (the admin socket is for "
		    "root only)" : "");
		goto fail;
	}
	if (body == NULL)
		n = snprintf(req, sizeof(req), "%s %s HTTP/1.0\r\nHost: "
		    "volwarden\r\nAccept: application/json, text/plain\r\n%s\r\n",
		    method, target, strcmp(method, "GET") == 0 ? "" :
		    "Content-Length: 0\r\n");
	else
		n = snprintf(req, sizeof(req), "%s %s HTTP/1.0\r\nHost: "
		    "volwarden\r\nAccept: application/json\r\nContent-Type: "
		    "application/json\r\nContent-Length: %zu\r\n\r\n%s", method,
		    target, strlen(body), body);
	if (n < 0 || (size_t)n >= sizeof(req)) {
		snprintf(err, errlen, "request too long");
		goto fail;
	}
	if (write_all(fd, req, (size_t)n) < 0) {
		snprintf(err, errlen, "cannot send the request to %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	for (;;) {
		ssize_t got;

		if (cap - len < 4096) {
			char *nb;

			if (cap >= MAX_REPLY) {
				snprintf(err, errlen, "the reply is larger than %u "
				    "bytes", MAX_REPLY);
				goto fail;
			}
			cap = cap ? cap * 2 : 16384;
			if ((nb = realloc(r->buf, cap + 1)) == NULL) {
				snprintf(err, errlen, "out of memory");
				goto fail;
			}
			r->buf = nb;
		}
		got = read(fd, r->buf + len, cap - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			snprintf(err, errlen, "reading the reply from %s: %s", path,
			    errno == EAGAIN ? "timed out" : strerror(errno));
			goto fail;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	close(fd);
	if (r->buf == NULL) {
		snprintf(err, errlen, "%s closed the connection without a reply",
		    path);
		return -1;
	}
	r->buf[len] = '\0';
	if (parse_reply(r, len, err, errlen) < 0) {
		free(r->buf);
		r->buf = NULL;
		return -1;
	}
	return 0;
fail:
	close(fd);
	free(r->buf);
	r->buf = NULL;
	return -1;
}

/* ------------------------------------------------------------ JSON */

static yajl_val
jget(yajl_val obj, const char *key, yajl_type type)
{
	const char *path[] = { key, NULL };

	return yajl_tree_get(obj, path, type);
}

static const char *
jstr(yajl_val obj, const char *key)
{
	yajl_val v = jget(obj, key, yajl_t_string);

	return v != NULL ? YAJL_GET_STRING(v) : "?";
}

static long long
jint(yajl_val obj, const char *key)
{
	yajl_val v = jget(obj, key, yajl_t_number);

	return v != NULL && YAJL_IS_INTEGER(v) ? YAJL_GET_INTEGER(v) : -1;
}

static int
jtrue(yajl_val obj, const char *key)
{
	return YAJL_IS_TRUE(jget(obj, key, yajl_t_any));
}

/*
 * Send method target (with body, if not NULL) to the daemon and parse the
 * JSON reply.  Returns 0 with *out (free with yajl_tree_free) or, when
 * raw is set, the reply in *rr; else an exit status, having said why.
 */
static int
ask_method(const char *sock, const char *method, const char *target,
    const char *body, int raw, struct reply *rr, yajl_val *out)
{
	struct reply r;
	char err[1024], perr[256];
	yajl_val v;

	if (http_request(sock, method, target, body, &r, err, sizeof(err)) < 0) {
		warnmsg("%s", err);
		return EXIT_UNREACH;
	}
	if (r.status != 200) {
		v = yajl_tree_parse(r.body, perr, sizeof(perr));
		if (v != NULL && jget(v, "error", yajl_t_string) != NULL)
			warnmsg("%s", jstr(v, "error"));
		else
			warnmsg("the daemon answered HTTP %d", r.status);
		yajl_tree_free(v);
		free(r.buf);
		return EXIT_ERROR;
	}
	if (raw) {
		*rr = r;
		return 0;
	}
	if ((v = yajl_tree_parse(r.body, perr, sizeof(perr))) == NULL ||
	    !YAJL_IS_OBJECT(v)) {
		warnmsg("the daemon's reply to %s is not a JSON object", target);
		yajl_tree_free(v);
		free(r.buf);
		return EXIT_UNREACH;
	}
	if (json_out)
		fputs(r.body, stdout);	/* as sent, ending in a newline */
	free(r.buf);
	*out = v;
	return 0;
}

/* ask_method with GET. */
static int
ask(const char *sock, const char *target, int raw, struct reply *rr,
    yajl_val *out)
{
	return ask_method(sock, "GET", target, NULL, raw, rr, out);
}

/* --------------------------------------------------------- commands */

/* "uid=1000 gid=1000 mode=0750", or "-". */
static void
print_options(yajl_val opts)
{
	int any = 0;

	for (size_t i = 0; YAJL_IS_OBJECT(opts) && i < opts->u.object.len; i++) {
		yajl_val v = opts->u.object.values[i];

		printf("%s%s=%s", any++ ? " " : "", opts->u.object.keys[i],
		    YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : "?");
	}
	if (!any)
		fputs("-", stdout);
}

static int
cmd_ls(const char *sock, const char *driver)
{
	char target[512];
	yajl_val top, vols;
	int rc, wd = 6, wn = 4;

	snprintf(target, sizeof(target), "/v1/volumes%s%s",
	    driver ? "?driver=" : "", driver ? driver : "");
	if ((rc = ask(sock, target, 0, NULL, &top)) != 0)
		return rc;
	vols = jget(top, "volumes", yajl_t_array);
	if (vols == NULL) {
		warnmsg("the daemon's reply has no \"volumes\" array");
		yajl_tree_free(top);
		return EXIT_UNREACH;
	}
	if (!json_out) {
		for (size_t i = 0; i < vols->u.array.len; i++) {
			yajl_val v = vols->u.array.values[i];
			int l;

			if ((l = (int)strlen(jstr(v, "driver"))) > wd)
				wd = l;
			if ((l = (int)strlen(jstr(v, "name"))) > wn)
				wn = l;
		}
		printf("%-*s  %-*s  %6s  %-20s  %s\n", wd, "DRIVER", wn, "NAME",
		    "MOUNTS", "CREATED", "MOUNTPOINT");
		for (size_t i = 0; i < vols->u.array.len; i++) {
			yajl_val v = vols->u.array.values[i];

			printf("%-*s  %-*s  %6lld  %-20s  %s\n", wd,
			    jstr(v, "driver"), wn, jstr(v, "name"),
			    jint(v, "mounts"), jstr(v, "created"),
			    jstr(v, "mountpoint"));
		}
	}
	yajl_tree_free(top);
	return 0;
}

/*
 * A volume or snapshot name for a URL path.  The daemon refuses names
 * outside Docker's rule; such a name needs no escaping either, so pass it
 * as it is unless it could break the request line.  Returns 0, or -1
 * having said why.
 */
static int
url_name(const char *what, const char *name)
{
	if (strpbrk(name, " \r\n?#/%&") != NULL || *name == '\0' ||
	    strlen(name) > VW_NAME_MAX) {
		warnmsg("\"%s\" is not a valid %s name", name, what);
		return -1;
	}
	return 0;
}

static int
cmd_inspect(const char *sock, const char *driver, const char *name)
{
	char target[1024];
	yajl_val v, ids;
	int rc;

	if (url_name("volume", name) < 0)
		return EXIT_ERROR;
	snprintf(target, sizeof(target), "/v1/volumes/%s%s%s", name,
	    driver ? "?driver=" : "", driver ? driver : "");
	if ((rc = ask(sock, target, 0, NULL, &v)) != 0)
		return rc;
	if (!json_out) {
		printf("name:        %s\n", jstr(v, "name"));
		printf("driver:      %s\n", jstr(v, "driver"));
		printf("backend:     %s\n", jstr(v, "backend"));
		printf("mountpoint:  %s\n", jstr(v, "mountpoint"));
		printf("created:     %s\n", jstr(v, "created"));
		printf("mounts:      %lld\n", jint(v, "mounts"));
		printf("options:     ");
		print_options(jget(v, "options", yajl_t_object));
		putchar('\n');
		/* Backends other than dir: what the backend reports. */
		if (jget(v, "status", yajl_t_object) != NULL) {
			printf("status:      ");
			print_options(jget(v, "status", yajl_t_object));
			putchar('\n');
		}
		ids = jget(v, "mount_ids", yajl_t_array);
		for (size_t i = 0; ids != NULL && i < ids->u.array.len; i++)
			printf("mount ID:    %s (%lld)\n",
			    jstr(ids->u.array.values[i], "id"),
			    jint(ids->u.array.values[i], "count"));
	}
	yajl_tree_free(v);
	return 0;
}

/* "2026-11-30T12:00:00Z  snap-20261130T120000Z" lines under a header. */
static void
print_snapshots(yajl_val list)
{
	int wn = 8;

	for (size_t i = 0; list != NULL && i < list->u.array.len; i++) {
		int l = (int)strlen(jstr(list->u.array.values[i], "name"));

		if (l > wn)
			wn = l;
	}
	printf("%-*s  %s\n", wn, "SNAPSHOT", "CREATED");
	for (size_t i = 0; list != NULL && i < list->u.array.len; i++)
		printf("%-*s  %s\n", wn, jstr(list->u.array.values[i], "name"),
		    jstr(list->u.array.values[i], "created"));
}

/*
 * snapshot create VOLUME [SNAPSHOT], ls VOLUME, rm VOLUME SNAPSHOT,
 * restore VOLUME SNAPSHOT [--force]: one call each on
 * /v1/volumes/VOLUME/snapshots (volwardenctl(8), THE ADMIN API).
 */
static int
cmd_snapshot(const char *sock, const char *driver, const char *sub,
    const char *volume, const char *snap, int force)
{
	char target[1024], body[VW_NAME_MAX + 32], qs[300] = "";
	const char *method = "GET", *b = NULL;
	yajl_val v, s;
	int rc;

	if (url_name("volume", volume) < 0 ||
	    (snap != NULL && url_name("snapshot", snap) < 0))
		return EXIT_ERROR;
	if (driver != NULL || force)
		snprintf(qs, sizeof(qs), "?%s%s%s", driver ? "driver=" : "",
		    driver ? driver : "", force ? (driver ? "&force=1" :
		    "force=1") : "");
	if (strcmp(sub, "create") == 0) {
		method = "POST";
		snprintf(target, sizeof(target), "/v1/volumes/%s/snapshots%s",
		    volume, qs);
		if (snap != NULL) {
			/* The name passed url_name: no quote or backslash can
			 * need escaping in it. */
			snprintf(body, sizeof(body), "{\"name\":\"%s\"}", snap);
			b = body;
		}
	} else if (strcmp(sub, "ls") == 0)
		snprintf(target, sizeof(target), "/v1/volumes/%s/snapshots%s",
		    volume, qs);
	else if (strcmp(sub, "rm") == 0) {
		method = "DELETE";
		snprintf(target, sizeof(target), "/v1/volumes/%s/snapshots/%s%s",
		    volume, snap, qs);
	} else {
		method = "POST";
		snprintf(target, sizeof(target),
		    "/v1/volumes/%s/snapshots/%s/restore%s", volume, snap, qs);
	}
	if ((rc = ask_method(sock, method, target, b, 0, NULL, &v)) != 0)
		return rc;
	if (json_out) {
		yajl_tree_free(v);
		return 0;
	}
	if (strcmp(sub, "create") == 0) {
		s = jget(v, "snapshot", yajl_t_object);
		printf("volume %s (driver %s): snapshot %s created at %s\n",
		    jstr(v, "volume"), jstr(v, "driver"), jstr(s, "name"),
		    jstr(s, "created"));
	} else if (strcmp(sub, "ls") == 0)
		print_snapshots(jget(v, "snapshots", yajl_t_array));
	else if (strcmp(sub, "rm") == 0)
		printf("volume %s (driver %s): snapshot %s deleted\n",
		    jstr(v, "volume"), jstr(v, "driver"), jstr(v, "deleted"));
	else {
		s = jget(v, "pre_restore", yajl_t_object);
		printf("volume %s (driver %s): restored from snapshot %s; the "
		    "state before is snapshot %s\n", jstr(v, "volume"),
		    jstr(v, "driver"), jstr(v, "restored"), jstr(s, "name"));
		if (jtrue(v, "forced"))
			printf("containers that use the volume keep the old data "
			    "until they restart\n");
	}
	yajl_tree_free(v);
	return 0;
}

/*
 * resize VOLUME SIZE: POST /v1/volumes/VOLUME/resize {"size": SIZE}; the
 * size is checked here too (K, M, G, T, P), so that a typo never reaches
 * the daemon.
 */
static int
cmd_resize(const char *sock, const char *driver, const char *volume,
    const char *size)
{
	char target[1024], body[96], qs[300] = "";
	uint64_t bytes;
	yajl_val v;
	int rc;

	if (url_name("volume", volume) < 0)
		return EXIT_ERROR;
	if (vw_size_parse(size, strlen(size), &bytes) < 0) {
		warnmsg("\"%s\" is not a size: use a whole number with K, M, G, "
		    "T or P (powers of 1024), such as 512M or 2G", size);
		return EXIT_USAGE;
	}
	if (driver != NULL)
		snprintf(qs, sizeof(qs), "?driver=%s", driver);
	snprintf(target, sizeof(target), "/v1/volumes/%s/resize%s", volume, qs);
	snprintf(body, sizeof(body), "{\"size\":\"%llu\"}",
	    (unsigned long long)bytes);
	if ((rc = ask_method(sock, "POST", target, body, 0, NULL, &v)) != 0)
		return rc;
	if (!json_out)
		printf("volume %s (driver %s): resized to %s (%llu bytes)\n",
		    jstr(v, "volume"), jstr(v, "driver"), size,
		    (unsigned long long)bytes);
	yajl_tree_free(v);
	return 0;
}

static void
print_uptime(long long s)
{
	if (s >= 86400)
		printf("%lldd ", s / 86400);
	if (s >= 3600)
		printf("%lldh ", s / 3600 % 24);
	if (s >= 60)
		printf("%lldm ", s / 60 % 60);
	printf("%llds", s % 60);
}

static int
cmd_status(const char *sock)
{
	yajl_val top, fe, caps, drvs;
	int rc;

	if ((rc = ask(sock, "/v1/status", 0, NULL, &top)) != 0)
		return rc;
	if (json_out) {
		yajl_tree_free(top);
		return 0;
	}
	fe = jget(top, "frontend", yajl_t_object);
	caps = jget(fe, "capabilities", yajl_t_object);
	drvs = jget(top, "drivers", yajl_t_array);
	printf("volwarden %s, up ", jstr(top, "version"));
	print_uptime(jint(fe, "uptime_seconds"));
	printf(" (since %s)\n", jstr(fe, "started"));
	printf("admin socket  %s\n", jstr(top, "admin_socket"));
	printf("frontend      pid %lld, user %s (uid %lld, gid %lld)\n",
	    jint(fe, "pid"), jstr(fe, "user"), jint(fe, "uid"), jint(fe, "gid"));
	printf("              capabilities effective %s, permitted %s, bounding "
	    "%s\n", jstr(caps, "effective"), jstr(caps, "permitted"),
	    jstr(caps, "bounding"));
	printf("              no_new_privs %s, seccomp %s (%s)\n",
	    jtrue(fe, "no_new_privs") ? "yes" : "no", jstr(fe, "seccomp"),
	    jtrue(fe, "seccomp_filter") ? "filter installed" : "no filter");
	for (size_t i = 0; drvs != NULL && i < drvs->u.array.len; i++) {
		yajl_val d = drvs->u.array.values[i];
		yajl_val h = jget(d, "helper", yajl_t_object);
		yajl_val names = jget(h, "capability_names", yajl_t_array);
		yajl_val ar = jget(d, "allowed_roots", yajl_t_array);

		printf("driver %s\n", jstr(d, "name"));
		printf("  backend     %s, on_remove %s\n", jstr(d, "backend"),
		    jstr(d, "on_remove"));
		printf("  socket      %s%s\n", jstr(d, "socket"),
		    jtrue(d, "socket_activated") ? " (from systemd)" : "");
		printf("  root        %s\n", jstr(d, "root"));
		for (size_t j = 0; ar != NULL && j < ar->u.array.len; j++)
			printf("  allowed     %s\n", YAJL_IS_STRING(ar->u.array.values[j]) ?
			    YAJL_GET_STRING(ar->u.array.values[j]) : "?");
		printf("  volumes     %lld, %lld in use\n", jint(d, "volumes"),
		    jint(d, "mounts_in_use"));
		printf("  helper      pid %lld, capabilities %s (", jint(h, "pid"),
		    jstr(h, "capabilities"));
		for (size_t j = 0; names != NULL && j < names->u.array.len; j++)
			printf("%s%s", j ? " " : "",
			    YAJL_IS_STRING(names->u.array.values[j]) ?
			    YAJL_GET_STRING(names->u.array.values[j]) : "?");
		printf(")\n");
	}
	yajl_tree_free(top);
	return 0;
}

static int
cmd_metrics(const char *sock)
{
	struct reply r;
	int rc;

	if ((rc = ask(sock, "/metrics", 1, &r, NULL)) != 0)
		return rc;
	fwrite(r.body, 1, r.len, stdout);
	free(r.buf);
	return 0;
}

/* ------------------------------------------------------------ check */

/* One line of the check report. */
struct finding {
	const char	*status;	/* "ok", "fix" or "info" */
	char		*check;
	char		*detail;
};

static struct finding *findings;
static size_t nfindings;
static int check_failed;

static void __attribute__((format(printf, 3, 4)))
report(const char *status, const char *check, const char *fmt, ...)
{
	struct finding *f;
	va_list ap;
	char *detail;

	va_start(ap, fmt);
	if (vasprintf(&detail, fmt, ap) < 0)
		detail = NULL;
	va_end(ap);
	f = realloc(findings, (nfindings + 1) * sizeof(*f));
	if (f == NULL || detail == NULL) {
		warnmsg("out of memory");
		exit(EXIT_ERROR);
	}
	findings = f;
	f = &findings[nfindings++];
	f->status = status;
	f->detail = detail;
	if ((f->check = strdup(check)) == NULL) {
		warnmsg("out of memory");
		exit(EXIT_ERROR);
	}
	if (strcmp(status, "fix") == 0)
		check_failed = 1;
}

static void
print_findings(void)
{
	size_t wc = 5;

	if (json_out) {
		const unsigned char *out;
		size_t len;
		yajl_gen g = yajl_gen_alloc(NULL);

		if (g == NULL) {
			warnmsg("out of memory");
			exit(EXIT_ERROR);
		}
		yajl_gen_config(g, yajl_gen_beautify, 1);
		yajl_gen_map_open(g);
		GSTR(g, "ok");
		yajl_gen_bool(g, !check_failed);
		GSTR(g, "checks");
		yajl_gen_array_open(g);
		for (size_t i = 0; i < nfindings; i++) {
			yajl_gen_map_open(g);
			GSTR(g, "status");
			GSTR(g, findings[i].status);
			GSTR(g, "check");
			GSTR(g, findings[i].check);
			GSTR(g, "detail");
			GSTR(g, findings[i].detail);
			yajl_gen_map_close(g);
		}
		yajl_gen_array_close(g);
		yajl_gen_map_close(g);
		if (yajl_gen_get_buf(g, &out, &len) == yajl_gen_status_ok)
			fwrite(out, 1, len, stdout);
		yajl_gen_free(g);
		return;
	}
	for (size_t i = 0; i < nfindings; i++)
		if (strlen(findings[i].check) > wc)
			wc = strlen(findings[i].check);
	for (size_t i = 0; i < nfindings; i++)
		printf("%-4s  %-*s  %s\n", findings[i].status, (int)wc,
		    findings[i].check, findings[i].detail);
}

/*
 * A directory volwarden's start-up creates if missing and then relies on.
 * If it exists it must be a directory (not a symlink: volwarden opens it
 * with O_NOFOLLOW), owned by uid, without write permission for group and
 * others (strict: without any permission for them), on a writable file
 * system.  If it is missing, its nearest existing ancestor must be a
 * directory we can create in.  owner names uid in messages; newmode is
 * the mode volwarden gives it.
 */
static void
check_dir(const char *check, const char *what, const char *path, uid_t uid,
    const char *owner, int strict, mode_t newmode)
{
	char anc[VW_PATH_MAX], *slash;
	mode_t bad = strict ? 077 : 022;
	struct stat st;
	int rc;

	if (lstat(path, &st) < 0) {
		if (errno != ENOENT) {
			report("fix", check, "%s %s: %s", what, path, strerror(errno));
			return;
		}
		snprintf(anc, sizeof(anc), "%s", path);
		do {
			slash = strrchr(anc, '/');
			if (slash == anc)
				slash[1] = '\0';
			else
				*slash = '\0';
			rc = lstat(anc, &st);
		} while (rc < 0 && errno == ENOENT && strcmp(anc, "/") != 0);
		if (rc < 0)
			report("fix", check, "%s %s cannot be created: %s: %s",
			    what, path, anc, strerror(errno));
		else if (!S_ISDIR(st.st_mode))
			report("fix", check, "%s %s cannot be created: %s is not a "
			    "directory", what, path, anc);
		else if (access(anc, W_OK) < 0)
			report("fix", check, "%s %s cannot be created: %s is not "
			    "writable (%s)", what, path, anc, strerror(errno));
		else
			report("ok", check, "%s %s does not exist yet; volwarden "
			    "creates it (mode %04o, owner %s)", what, path,
			    (unsigned)newmode, owner);
		return;
	}
	if (S_ISLNK(st.st_mode)) {
		report("fix", check, "%s %s is a symbolic link, which volwarden "
		    "refuses: use the path of the real directory", what, path);
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		report("fix", check, "%s %s exists and is not a directory", what,
		    path);
		return;
	}
	if (st.st_uid != uid || (st.st_mode & bad)) {
		report("fix", check, "%s %s has owner uid %u and mode %04o; fix: "
		    "chown %s %s; chmod %s %s", what, path, (unsigned)st.st_uid,
		    (unsigned)(st.st_mode & 07777), owner, path,
		    strict ? "go-rwx" : "go-w", path);
		return;
	}
	if (access(path, W_OK) < 0) {
		report("fix", check, "%s %s is not writable: %s", what, path,
		    strerror(errno));
		return;
	}
	report("ok", check, "%s %s: owner %s, mode %04o", what, path, owner,
	    (unsigned)(st.st_mode & 07777));
}

/* A socket volwarden binds: fine if absent or stale; a non-socket file
 * in the way is a fix; a live one means a daemon runs now. */
static void
check_socket_file(const char *check, const char *path)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd;

	if (lstat(path, &st) < 0)
		return;
	if (!S_ISSOCK(st.st_mode)) {
		report("fix", check, "%s exists and is not a socket; volwarden "
		    "will not start until it is removed", path);
		return;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		report("info", check, "%s is being served now (volwarden is "
		    "running, or systemd holds it for socket activation)", path);
	else
		report("ok", check, "%s is a stale socket; volwarden removes it "
		    "at start", path);
	close(fd);
}

/* The directory part of path (absolute) in buf. */
static void
dir_of(const char *path, char *buf, size_t len)
{
	char *slash;

	snprintf(buf, len, "%s", path);
	slash = strrchr(buf, '/');
	if (slash != NULL)
		slash[slash == buf ? 1 : 0] = '\0';
}

/* File systems the planned backends mount, and who needs them. */
static const struct {
	const char	*fs;
	const char	*needed_by;
} filesystems[] = {
	{ "btrfs", "the btrfs backend" },
	{ "xfs", "the loop backend with fs xfs" },
	{ "ext4", "the loop backend with fs ext4" },
	{ "erofs", "the loop backend with fs erofs" },
	{ "fuse", "the glusterfs backend's FUSE mount" },
};

static void
check_host(void)
{
	char line[256], found[sizeof(filesystems) / sizeof(filesystems[0])];
	struct open_how how;
	struct stat st;
	FILE *fp;
	int fd;

	memset(found, 0, sizeof(found));
	if ((fp = fopen("/proc/filesystems", "re")) == NULL) {
		report("fix", "kernel", "cannot read /proc/filesystems: %s",
		    strerror(errno));
	} else {
		while (fgets(line, sizeof(line), fp) != NULL) {
			char *name = strrchr(line, '\t');

			name = name != NULL ? name + 1 : line;
			name[strcspn(name, "\n")] = '\0';
			for (size_t i = 0; i < sizeof(found); i++)
				if (strcmp(name, filesystems[i].fs) == 0)
					found[i] = 1;
		}
		fclose(fp);
		for (size_t i = 0; i < sizeof(found); i++) {
			char check[32];

			snprintf(check, sizeof(check), "filesystem %s",
			    filesystems[i].fs);
			if (found[i])
				report("ok", check, "listed in /proc/filesystems "
				    "(for %s)", filesystems[i].needed_by);
			else
				report("info", check, "not in /proc/filesystems "
				    "(modprobe %s, or it loads on first mount); "
				    "needed only by %s, not by dir", filesystems[i].fs,
				    filesystems[i].needed_by);
		}
	}
	if (stat("/dev/loop-control", &st) == 0 && S_ISCHR(st.st_mode))
		report("ok", "loop devices", "/dev/loop-control exists (for the "
		    "loop backend)");
	else
		report("info", "loop devices", "no /dev/loop-control (modprobe "
		    "loop); needed only by the loop backend, not by dir");

	/* Both processes install SCMP_ACT_KILL_PROCESS filters. */
	if ((fp = fopen("/proc/sys/kernel/seccomp/actions_avail", "re")) != NULL &&
	    fgets(line, sizeof(line), fp) != NULL && strstr(line, "kill_process"))
		report("ok", "seccomp", "the kernel has seccomp filters with "
		    "kill_process");
	else
		report("fix", "seccomp", "the kernel offers no seccomp "
		    "kill_process action (Linux 4.14 with CONFIG_SECCOMP_FILTER is "
		    "needed); only --seccomp off would start");
	if (fp != NULL)
		fclose(fp);

	memset(&how, 0, sizeof(how));
	how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
	fd = (int)syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof(how));
	if (fd >= 0) {
		close(fd);
		report("ok", "openat2", "available: the helper resolves volume "
		    "paths with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS");
	} else
		report("info", "openat2", "not available (%s); the helper falls "
		    "back to an O_NOFOLLOW walk", strerror(errno));
}

/* Capabilities start-up and the dir helper need in the bounding set (a
 * service manager may have narrowed it): the drop (setuid, setgid,
 * setpcap for the bounding set), chown of directories and sockets, and
 * the dir backend's own (backends/dir.c).  A btrfs helper needs
 * CAP_SYS_ADMIN on top (backends/btrfs.c), checked only when a driver
 * has that backend. */
static const struct {
	unsigned	 cap;
	const char	*why;
} needed_caps[] = {
	{ CAP_SETUID, "the frontend's drop to its user" },
	{ CAP_SETGID, "the frontend's drop to its group" },
	{ CAP_SETPCAP, "clearing the bounding sets" },
	{ CAP_CHOWN, "directory and socket owners; the uid and gid options" },
	{ CAP_DAC_OVERRIDE, "the dir helper, for trees containers wrote" },
	{ CAP_FOWNER, "the dir helper, the mode option" },
	{ CAP_FSETID, "the dir helper, a setgid mode with a foreign gid" },
};

static void
check_caps(int btrfs)
{
	struct vw_self_status self;
	char missing[640] = "";
	size_t ml = 0;

	if (vw_self_status(&self) < 0) {
		report("info", "capabilities", "cannot read /proc/self/status: %s",
		    strerror(errno));
		return;
	}
	for (size_t i = 0; i < sizeof(needed_caps) / sizeof(needed_caps[0]); i++) {
		const char *name = capng_capability_to_name(needed_caps[i].cap);

		if (self.cap_bnd & (1ULL << needed_caps[i].cap))
			continue;
		if (ml < sizeof(missing))
			ml += (size_t)snprintf(missing + ml, sizeof(missing) - ml,
			    "%s%s (%s)", ml ? ", " : "", name ? name : "?",
			    needed_caps[i].why);
	}
	if (btrfs && !(self.cap_bnd & (1ULL << CAP_SYS_ADMIN)) &&
	    ml < sizeof(missing))
		ml += (size_t)snprintf(missing + ml, sizeof(missing) - ml,
		    "%ssys_admin (the btrfs helper: subvolume deletion, "
		    "qgroup limits; the loop helper: mount)", ml ? ", " : "");
	if (ml > 0)
		report("fix", "capabilities", "the bounding set lacks %s; allow "
		    "them (systemd: CapabilityBoundingSet=)", missing);
	else
		report("ok", "capabilities", "the bounding set has what start-up "
		    "and the %s helper%s need", btrfs ? "dir and btrfs" : "dir",
		    btrfs ? "s" : "");
}

/*
 * The btrfs helper refuses a root that is not on BTRFS
 * (backends/btrfs.c:btrfs_init).  A root that does not exist yet is
 * created in its parent, so look at the nearest existing directory.
 */
static void
check_btrfs_root(const char *check, const char *root)
{
	char anc[VW_PATH_MAX], *slash;
	struct statfs sf;
	int rc;

	snprintf(anc, sizeof(anc), "%s", root);
	while ((rc = statfs(anc, &sf)) < 0 && errno == ENOENT &&
	    strcmp(anc, "/") != 0) {
		slash = strrchr(anc, '/');
		if (slash == anc)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
	if (rc < 0)
		report("fix", check, "root %s: statfs %s: %s", root, anc,
		    strerror(errno));
	else if ((unsigned long)sf.f_type != (unsigned long)BTRFS_SUPER_MAGIC)
		report("fix", check, "backend btrfs needs its root on a BTRFS "
		    "file system; %s is on file system type 0x%lx", anc,
		    (unsigned long)sf.f_type);
	else
		report("ok", check, "backend btrfs: %s is on BTRFS", anc);
}

/* The helper volwarden would run: beside it in a build tree, else the
 * installed one (frontend/main.c:default_helper). */
static void
check_helper(void)
{
	char self[VW_PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 32);

	if (n > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			strcpy(slash + 1, "volwarden-privhelper");
			if (access(self, X_OK) == 0) {
				report("ok", "privhelper", "%s", self);
				return;
			}
		}
	}
	if (access(VW_PRIVHELPER_PATH, X_OK) == 0)
		report("ok", "privhelper", "%s", VW_PRIVHELPER_PATH);
	else
		report("fix", "privhelper", "%s: %s; install volwarden (make "
		    "install) or start it with --privhelper", VW_PRIVHELPER_PATH,
		    strerror(errno));
}

static int
cmd_check(const struct vw_overrides *ov)
{
	struct vw_config cfg;
	struct passwd *pw;
	char err[2048], dir[VW_PATH_MAX], check[320], path[VW_PATH_MAX];
	uid_t uid = 0;
	const char *user;
	int btrfs = 0;

	if (geteuid() != 0)
		report("info", "privileges", "running as uid %u, not root: "
		    "results for what only root may do can differ",
		    (unsigned)geteuid());
	if (vw_config_load(&cfg, ov, geteuid() == 0, err, sizeof(err)) < 0) {
		report("fix", "config", "%s", err);
		print_findings();
		return EXIT_ERROR;
	}
	report("ok", "config", "%s: %zu driver%s", cfg.source, cfg.ndrivers,
	    cfg.ndrivers == 1 ? "" : "s");
	user = cfg.user;
	if ((pw = getpwnam(cfg.user)) == NULL)
		report("fix", "user", "user %s does not exist; fix: useradd "
		    "--system --no-create-home --home-dir /nonexistent --shell "
		    "/usr/sbin/nologin %s", cfg.user, cfg.user);
	else if (pw->pw_uid == 0)
		report("fix", "user", "user %s is root; the frontend must run "
		    "as an unprivileged user", cfg.user);
	else {
		uid = pw->pw_uid;
		report("ok", "user", "%s (uid %u, gid %u)", cfg.user,
		    (unsigned)pw->pw_uid, (unsigned)pw->pw_gid);
	}
	if (cfg.socket_group != NULL && getgrnam(cfg.socket_group) == NULL)
		report("fix", "socket_group", "group %s does not exist",
		    cfg.socket_group);
	if (pw != NULL && pw->pw_uid != 0) {
		check_dir("state_dir", "state directory", cfg.state_dir, uid,
		    user, 1, 0700);
		check_dir("run_dir", "run directory", cfg.run_dir, uid, user, 1,
		    0700);
	}
	check_dir("socket_dir", "socket directory", cfg.socket_dir, 0, "root",
	    0, 0700);
	dir_of(cfg.admin_socket, dir, sizeof(dir));
	check_dir("admin_socket", "admin socket directory", dir, 0, "root", 0,
	    0755);
	check_socket_file("admin_socket", cfg.admin_socket);

	for (size_t i = 0; i < cfg.ndrivers; i++) {
		const struct vw_driver *d = &cfg.drivers[i];

		snprintf(check, sizeof(check), "driver %s", d->name);
		if (d->backend == VW_BACKEND_BTRFS) {
			btrfs = 1;
			check_btrfs_root(check, d->root);
		} else if (d->backend == VW_BACKEND_LOOP) {
			btrfs = 1;	/* CAP_SYS_ADMIN too: mount(2) */
			report(access("/dev/loop-control", R_OK | W_OK) == 0 ?
			    "ok" : "fix", check, "backend loop needs "
			    "/dev/loop-control (modprobe loop) and mkfs.ext4, "
			    "mkfs.xfs, mkfs.erofs (e2fsprogs, xfsprogs, "
			    "erofs-utils); images in %s, mounts in %s", d->root,
			    d->mount_dir);
		} else if (d->backend == VW_BACKEND_GLUSTERFS) {
			/* The FUSE keeper mounts with glusterfs's client. */
			if (access("/dev/fuse", R_OK | W_OK) < 0)
				report("fix", check, "/dev/fuse is missing (%s): "
				    "load the fuse module (modprobe fuse)",
				    strerror(errno));
			else if (access("/usr/sbin/glusterfs", X_OK) < 0)
				report("fix", check, "the GlusterFS FUSE client "
				    "/usr/sbin/glusterfs is missing: install "
				    "glusterfs-client");
			else
				report("ok", check, "backend glusterfs can mount "
				    "Gluster volume %s here (/dev/fuse and the "
				    "FUSE client are present)", d->gl.volume);
		} else
			report("ok", check, "backend %s can run here (it needs no "
			    "kernel feature beyond directories)",
			    vw_backend_name(d->backend));
		check_dir(check, "root", d->root, 0, "root", 0, 0711);
		for (size_t j = 0; j < d->nallowed; j++)
			check_dir(check, "allowed root", d->allowed_roots[j], 0,
			    "root", 0, 0755);
		snprintf(path, sizeof(path), "%s/%s.sock", cfg.socket_dir,
		    d->name);
		check_socket_file(check, path);
	}
	check_helper();
	check_caps(btrfs);
	check_host();
	vw_config_free(&cfg);
	print_findings();
	for (size_t i = 0; i < nfindings; i++) {
		free(findings[i].check);
		free(findings[i].detail);
	}
	free(findings);
	return check_failed ? EXIT_ERROR : 0;
}

/* -------------------------------------------------------------- main */

/* The admin socket: --socket, else the configuration's admin_socket.
 * Returns a string to free, or NULL after saying why. */
static char *
admin_socket(const char *given, const struct vw_overrides *ov)
{
	struct vw_config cfg;
	char err[2048], *s;

	if (given != NULL) {
		if ((s = strdup(given)) == NULL)
			warnmsg("out of memory");
		return s;
	}
	if (vw_config_load(&cfg, ov, geteuid() == 0, err, sizeof(err)) < 0) {
		warnmsg("cannot find the admin socket in the configuration: %s; "
		    "give it with --socket", err);
		return NULL;
	}
	if ((s = strdup(cfg.admin_socket)) == NULL)
		warnmsg("out of memory");
	vw_config_free(&cfg);
	return s;
}

int
main(int argc, char *argv[])
{
	struct vw_overrides ov;
	struct option longopts[32];
	const char *sockopt = NULL, *driver = NULL, *cmd, *sub = NULL;
	const char *rewrite = NULL;
	char err[256], *sock;
	size_t n = 0;
	int ch, rc, force = 0;

	memset(&ov, 0, sizeof(ov));
	for (; vw_config_longopts[n].name != NULL; n++)
		longopts[n] = vw_config_longopts[n];
	longopts[n++] = (struct option){ "socket", required_argument, NULL, 's' };
	longopts[n++] = (struct option){ "json", no_argument, NULL, 'j' };
	longopts[n++] = (struct option){ "driver", required_argument, NULL, 'D' };
	longopts[n++] = (struct option){ "force", no_argument, NULL, 'F' };
	longopts[n++] = (struct option){ "rewrite", required_argument, NULL, 'R' };
	longopts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	longopts[n++] = (struct option){ "version", no_argument, NULL, 'V' };
	longopts[n] = (struct option){ NULL, 0, NULL, 0 };
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's': sockopt = optarg; break;
		case 'j': json_out = 1; break;
		case 'D': driver = optarg; break;
		case 'F': force = 1; break;
		case 'R': rewrite = optarg; break;
		case 'h': usage(0);
		case 'V': printf("volwardenctl %s\n", PACKAGE_VERSION); return 0;
		default:
			if (ch < VW_OPT_FLAG_BASE)
				usage(EXIT_USAGE);
			if (vw_overrides_set(&ov, ch, optarg, err, sizeof(err)) < 0) {
				warnmsg("%s", err);
				return EXIT_USAGE;
			}
		}
	}
	if (optind >= argc)
		usage(EXIT_USAGE);
	cmd = argv[optind++];
	if (driver != NULL && (strpbrk(driver, "&#% \r\n") != NULL ||
	    *driver == '\0')) {
		warnmsg("\"%s\" is not a valid driver name", driver);
		return EXIT_USAGE;
	}
	if (strcmp(cmd, "check") == 0) {
		if (optind != argc || driver != NULL || sockopt != NULL || force ||
		    rewrite != NULL)
			usage(EXIT_USAGE);
		return cmd_check(&ov);
	}
	if (strcmp(cmd, "snapshot") == 0) {
		/* create VOLUME [SNAP], ls VOLUME, rm and restore VOLUME SNAP;
		 * --force for restore only. */
		int nargs = argc - optind - 1;

		if (optind >= argc || rewrite != NULL)
			usage(EXIT_USAGE);
		sub = argv[optind];
		if (!((strcmp(sub, "create") == 0 && (nargs == 1 || nargs == 2)) ||
		    (strcmp(sub, "ls") == 0 && nargs == 1) ||
		    ((strcmp(sub, "rm") == 0 || strcmp(sub, "restore") == 0) &&
		    nargs == 2)) || (force && strcmp(sub, "restore") != 0)) {
			if (strcmp(sub, "create") != 0 && strcmp(sub, "ls") != 0 &&
			    strcmp(sub, "rm") != 0 && strcmp(sub, "restore") != 0)
				warnmsg("unknown snapshot command %s; the commands "
				    "are create, ls, rm and restore", sub);
			usage(EXIT_USAGE);
		}
		if ((sock = admin_socket(sockopt, &ov)) == NULL)
			return EXIT_UNREACH;
		rc = cmd_snapshot(sock, driver, sub, argv[optind + 1],
		    nargs == 2 ? argv[optind + 2] : NULL, force);
		free(sock);
		if (fflush(stdout) != 0) {
			warnmsg("writing the output: %s", strerror(errno));
			return EXIT_ERROR;
		}
		return rc;
	}
	if (strcmp(cmd, "resize") == 0) {
		if (force || rewrite != NULL || optind + 2 != argc)
			usage(EXIT_USAGE);
		if ((sock = admin_socket(sockopt, &ov)) == NULL)
			return EXIT_UNREACH;
		rc = cmd_resize(sock, driver, argv[optind], argv[optind + 1]);
		free(sock);
		if (fflush(stdout) != 0) {
			warnmsg("writing the output: %s", strerror(errno));
			return EXIT_ERROR;
		}
		return rc;
	}
	if (strcmp(cmd, "import-local-persist") == 0) {
		/* The driver to fill: local-persist's own name by default,
		 * so that dockerd's volumes keep their driver. */
		if (optind + 1 != argc || force)
			usage(EXIT_USAGE);
		if ((sock = admin_socket(sockopt, &ov)) == NULL)
			return EXIT_UNREACH;
		rc = cmd_import_local_persist(sock, driver != NULL ? driver :
		    "local-persist", argv[optind], rewrite);
		free(sock);
		if (fflush(stdout) != 0) {
			warnmsg("writing the output: %s", strerror(errno));
			return EXIT_ERROR;
		}
		return rc;
	}
	if (force || rewrite != NULL)
		usage(EXIT_USAGE);
	if ((strcmp(cmd, "inspect") == 0 && optind + 1 != argc) ||
	    (strcmp(cmd, "inspect") != 0 && optind != argc) ||
	    (driver != NULL && strcmp(cmd, "ls") != 0 &&
	    strcmp(cmd, "inspect") != 0))
		usage(EXIT_USAGE);
	if (strcmp(cmd, "ls") != 0 && strcmp(cmd, "inspect") != 0 &&
	    strcmp(cmd, "status") != 0 && strcmp(cmd, "metrics") != 0) {
		warnmsg("unknown command %s", cmd);
		usage(EXIT_USAGE);
	}
	if ((sock = admin_socket(sockopt, &ov)) == NULL)
		return EXIT_UNREACH;
	if (strcmp(cmd, "ls") == 0)
		rc = cmd_ls(sock, driver);
	else if (strcmp(cmd, "inspect") == 0)
		rc = cmd_inspect(sock, driver, argv[optind]);
	else if (strcmp(cmd, "status") == 0)
		rc = cmd_status(sock);
	else
		rc = cmd_metrics(sock);
	free(sock);
	if (fflush(stdout) != 0) {
		warnmsg("writing the output: %s", strerror(errno));
		return EXIT_ERROR;
	}
	return rc;
}
