/*
 * The helper's whole dispatch path, fuzzed through its real channel.  A
 * compromised frontend owns the other end of the SEQPACKET socket, so the
 * test plays that frontend: it starts the real volwarden-privhelper (its
 * capabilities dropped, its seccomp filter in kill mode unless the build
 * has sanitizers), says HELLO, and sends thousands of messages, most of
 * them well-formed requests with random names and options (mountpoints
 * through symlinks, into the trash, outside every root, ...) and the rest
 * mutated: flipped bits, truncated or extended datagrams (a payload goes
 * without its trailing zero bytes, so a cut one may still be valid),
 * unknown types,
 * a passed descriptor, garbage, a second HELLO, requests before HELLO.
 * After each message the helper must either answer it (the reply's type,
 * id and length matching) or exit with status 1 after logging a protocol
 * violation; it must never die by a signal, exit 0 while the channel is
 * open, or hang.  A helper that exits is replaced by a new one.  At the
 * end nothing outside the driver root and the allowed root may have
 * changed: a canary tree reachable through planted symlinks, and the
 * rest of the test directory, are compared with their state before.
 *
 * VW_FUZZ_MESSAGES (default 10000, 3000 with sanitizers) and VW_FUZZ_SEED (default: the time)
 * reproduce a run; the seed is printed.  VW_FUZZ_VERBOSE=1 prints every
 * error reply's message, and the log of every helper that ended with a
 * violation, on stderr.
 */
#include "vw-build.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/config.h"
#include "common/proto.h"
#include "common/validate.h"
#include "t/lib/tap.h"

#ifdef VW_SANITIZERS
#define SECCOMP_MODE	"off"
/* Each new helper costs much more under ASan. */
#define DEFAULT_MESSAGES	3000
#else
#define SECCOMP_MODE	"kill"
#define DEFAULT_MESSAGES	10000
#endif
/* A helper that neither answers nor exits within this is hung. */
#define REPLY_TIMEOUT_MS	15000

static char dir[256], roots[2][300], alloweds[2][300], outside[300],
    cfgpath[300], logpath[300], helper[512];
/* The roots of the driver being fuzzed (del: 0, arc: 1). */
static const char *root = roots[0], *allowed = alloweds[0];
static uint64_t digest;
static uint64_t rng;

static uint32_t
rnd(void)
{
	/* xorshift64*: reproducible from the seed. */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 2685821657736338717ULL) >> 32);
}

static int
chance(unsigned percent)
{
	return rnd() % 100 < percent;
}

/* ------------------------------------------------------------ a helper */

struct helper {
	pid_t	 pid;
	int	 fd;
	int	 driver;
	uint64_t next_id;
};

static struct {
	unsigned long	sent, replies, violations, spawns, mutated;
	unsigned long	errors;		/* replies with err != 0 */
	unsigned long	bad;		/* broken promises */
} st;

static void
spawn(struct helper *h, int driver)
{
	char pidbuf[32], drvbuf[16];
	int sv[2], logfd;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		bail("socketpair: %s", strerror(errno));
	snprintf(pidbuf, sizeof(pidbuf), "%ld", (long)getpid());
	snprintf(drvbuf, sizeof(drvbuf), "%d", driver);
	if ((logfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) < 0)
		bail("%s: %s", logpath, strerror(errno));
	if ((h->pid = fork()) < 0)
		bail("fork: %s", strerror(errno));
	if (h->pid == 0) {
		char *args[] = { helper, (char *)"--driver", drvbuf,
		    (char *)"--config", cfgpath, (char *)"--foreground",
		    (char *)"--seccomp", (char *)SECCOMP_MODE,
		    (char *)"--parent", pidbuf, NULL };

		if (dup2(sv[1], 3) < 0 || dup2(logfd, 2) < 0)
			_exit(127);
		execv(helper, args);
		_exit(127);
	}
	close(sv[1]);
	close(logfd);
	h->fd = sv[0];
	h->driver = driver;
	root = roots[driver];
	allowed = alloweds[driver];
	h->next_id = 1;
	st.spawns++;
}

static char *
read_log(void)
{
	static char buf[8192];
	int fd = open(logpath, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* The helper closed its channel: it must have exited 1 after logging a
 * protocol violation.  Returns 0 if it kept its promise. */
static int
reap(struct helper *h, const char *what)
{
	int status;

	close(h->fd);
	h->fd = -1;
	if (waitpid(h->pid, &status, 0) != h->pid)
		bail("waitpid: %s", strerror(errno));
	h->pid = 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 1 &&
	    strstr(read_log(), "protocol violation") != NULL) {
		st.violations++;
		if (getenv("VW_FUZZ_VERBOSE") != NULL)
			fprintf(stderr, "after %s: %s", what, read_log());
		return 0;
	}
	st.bad++;
	if (WIFSIGNALED(status))
		diag("after %s the helper died by signal %d (%s)", what,
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		diag("after %s the helper exited with status %d", what,
		    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	diag("its log: %s", read_log());
	return -1;
}

/* The reply payload a request type gets (as frontend/helper_client.c). */
static size_t
reply_size(uint32_t type)
{
	switch (type) {
	case VW_MSG_HELLO:
		return sizeof(struct vw_hello_reply);
	case VW_MSG_VOLUME_SNAPSHOT_CREATE:
	case VW_MSG_VOLUME_SNAPSHOT_LIST:
	case VW_MSG_VOLUME_SNAPSHOT_DELETE:
	case VW_MSG_VOLUME_SNAPSHOT_RESTORE:
		return sizeof(struct vw_snap_reply);
	case VW_MSG_VOLUME_STATUS:
		return sizeof(struct vw_status_reply);
	case VW_MSG_VOLUME_SCAN:
		return sizeof(struct vw_scan_reply);
	default:
		return sizeof(struct vw_volume_reply);
	}
}

/* path is dir or lies below it. */
static int
beneath(const char *path, const char *d)
{
	size_t n = strlen(d);

	return strncmp(path, d, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

/* Wait for the answer to message id of type (sent as such): a matching
 * reply (1), or the helper's exit (0, reaped). */
static int
await(struct helper *h, uint32_t type, uint64_t id, const char *what)
{
	static _Alignas(8) char buf[VW_MSG_MAX + 1];
	struct pollfd p = { .fd = h->fd, .events = POLLIN };
	struct vw_msg_hdr hdr;
	void *payload;
	size_t want;
	int n;

	if ((n = poll(&p, 1, REPLY_TIMEOUT_MS)) <= 0) {
		st.bad++;
		diag("the helper neither answered nor exited after %s", what);
		kill(h->pid, SIGKILL);
		reap(h, what);
		return 0;
	}
	n = vw_msg_recv(h->fd, buf, sizeof(buf), &hdr, &payload, NULL);
	if (n == 0) {
		reap(h, what);
		return 0;
	}
	if (n < 0) {
		st.bad++;
		diag("after %s: a malformed reply (%s)", what, strerror(errno));
		kill(h->pid, SIGKILL);
		reap(h, what);
		return 0;
	}
	want = reply_size(type);
	if (hdr.type != (type | VW_MSG_REPLY) || hdr.id != id || hdr.len != want) {
		st.bad++;
		diag("after %s: reply %s id %llu length %u", what,
		    vw_msg_name(hdr.type), (unsigned long long)hdr.id, hdr.len);
		kill(h->pid, SIGKILL);
		reap(h, what);
		return 0;
	}
	if (type == VW_MSG_HELLO)
		return 1;
	st.replies++;
	if (want != sizeof(struct vw_volume_reply)) {
		/* Snapshot, status and scan replies start with err and end
		 * with msg. */
		int32_t err;
		const char *msg = (const char *)payload + want - VW_ERRMSG_MAX;

		memcpy(&err, payload, sizeof(err));
		if (err != 0)
			st.errors++;
		if (memchr(msg, '\0', VW_ERRMSG_MAX) == NULL || err < 0) {
			st.bad++;
			diag("after %s: an unterminated or negative reply", what);
		}
	} else {
		const struct vw_volume_reply *r = payload;

		if (r->err != 0)
			st.errors++;
		if (r->err != 0 && getenv("VW_FUZZ_VERBOSE") != NULL)
			fprintf(stderr, "%s: %s\n", vw_msg_name(type), r->msg);
		if (memchr(r->msg, '\0', sizeof(r->msg)) == NULL ||
		    memchr(r->path, '\0', sizeof(r->path)) == NULL || r->err < 0 ||
		    (r->err == 0 && r->path[0] != '/')) {
			st.bad++;
			diag("after %s: a malformed volume reply", what);
		}
		/* A path reported as the volume's must be beneath a root. */
		if (r->err == 0 && type != VW_MSG_VOLUME_REMOVE &&
		    !beneath(r->path, root) && !beneath(r->path, allowed)) {
			st.bad++;
			diag("after %s: the helper answered with %s, outside the "
			    "roots", what, r->path);
		}
	}
	return 1;
}

/* Send raw bytes as one datagram, with fd attached if >= 0. */
static int
send_raw(int sock, const void *p, size_t len, int fd)
{
	struct iovec iov = { .iov_base = (void *)(uintptr_t)p, .iov_len = len };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct msghdr msg;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (fd >= 0) {
		struct cmsghdr *c;

		msg.msg_control = cm.buf;
		msg.msg_controllen = sizeof(cm.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	return sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

static int
hello(struct helper *h)
{
	struct vw_hello m = { VW_PROTO_VERSION, (uint32_t)h->driver, digest };

	if (vw_msg_send(h->fd, VW_MSG_HELLO, 0, &m, sizeof(m), -1) < 0)
		bail("sending HELLO: %s", strerror(errno));
	return await(h, VW_MSG_HELLO, 0, "HELLO");
}

/* ------------------------------------------------------- the messages */

static const char *const names[] = {
	"v1", "v2", "data", "a.b", "x-y_z", "evil", "link", "vol.removed-1",
	"0123456789", "ZZ",
};

static void
gen_name(char *field, size_t size)
{
	memset(field, 0, size);
	if (chance(2)) {	/* the longest valid name */
		memset(field, 'n', VW_NAME_MAX);
		return;
	}
	if (chance(2)) {	/* invalid: a violation */
		static const char *const bad[] = { "..", "a/b", ".x", "-x", "x" };

		snprintf(field, size, "%s", bad[rnd() % 5]);
		return;
	}
	snprintf(field, size, "%s", names[rnd() % (sizeof(names) / sizeof(names[0]))]);
}

static void
gen_mountpoint(char *mp, size_t size)
{
	const char *rel[] = { "rel/a", "rel/b/c", "evil/x", "evil",
	    ".volwarden-trash/x", ".volwarden-trash", "deep/a/b/c/d/e",
	    "v1", "a//b", "../x", "x/../y", "x/." };

	switch (rnd() % 6) {
	case 0: case 1:
		snprintf(mp, size, "%s", rel[rnd() % (sizeof(rel) / sizeof(rel[0]))]);
		break;
	case 2:
		snprintf(mp, size, "%s/p/%u", allowed, rnd() % 4);
		break;
	case 3:
		snprintf(mp, size, "%s/link/%u", allowed, rnd() % 3);
		break;
	case 4:
		snprintf(mp, size, "%s/x", outside);
		break;
	default:
		snprintf(mp, size, "%s", chance(50) ? "/etc/vw-fuzz-never" :
		    allowed);
	}
}

static void
gen_volume(struct vw_volume_req *r)
{
	memset(r, 0, sizeof(*r));
	gen_name(r->name, sizeof(r->name));
	if (chance(25)) {
		r->opts.flags |= VW_OPT_UID;
		r->opts.uid = rnd() % 70000;
	}
	if (chance(25)) {
		r->opts.flags |= VW_OPT_GID;
		r->opts.gid = rnd() % 70000;
	}
	if (chance(25)) {
		r->opts.flags |= VW_OPT_MODE;
		r->opts.mode = rnd() & 07777;
	}
	if (chance(35)) {
		r->opts.flags |= VW_OPT_MOUNTPOINT;
		gen_mountpoint(r->opts.mountpoint, sizeof(r->opts.mountpoint));
	}
	if (chance(3)) {	/* btrfs options: outside the dir schema */
		r->opts.flags |= VW_OPT_SIZE;
		r->opts.size = VW_SIZE_MIN;
	}
}

static void
gen_snap(struct vw_snap_req *r, uint32_t type)
{
	memset(r, 0, sizeof(*r));
	gen_name(r->name, sizeof(r->name));
	if (type != VW_MSG_VOLUME_SNAPSHOT_LIST || chance(3))
		gen_name(r->snap, sizeof(r->snap));
	if (type == VW_MSG_VOLUME_SNAPSHOT_RESTORE && chance(30))
		r->flags = VW_SNAP_FORCE;
	if (type == VW_MSG_VOLUME_SNAPSHOT_LIST)
		r->offset = rnd() % 20;
	if (chance(3))
		r->flags = rnd();
}

/* Build one message in buf (header and payload); returns its length. */
static size_t
gen_message(unsigned char *buf, uint64_t id, uint32_t *type)
{
	struct vw_msg_hdr hdr;
	size_t len;

	*type = VW_MSG_VOLUME_CREATE + rnd() % 11;	/* CREATE .. SCAN */
	if (*type == VW_MSG_VOLUME_SCAN) {
		struct vw_scan_req r;

		memset(&r, 0, sizeof(r));
		r.offset = chance(80) ? 0 : rnd() % 40;
		r.gen = chance(90) ? 0 : rnd();
		memcpy(buf + sizeof(hdr), &r, sizeof(r));
		len = sizeof(r);
	} else if (*type <= VW_MSG_VOLUME_UNMOUNT ||
	    *type == VW_MSG_VOLUME_STATUS || *type == VW_MSG_VOLUME_RESIZE) {
		if (*type <= VW_MSG_VOLUME_UNMOUNT && chance(60))
			*type = chance(50) ? VW_MSG_VOLUME_CREATE : VW_MSG_VOLUME_REMOVE;
		gen_volume((struct vw_volume_req *)(void *)(buf + sizeof(hdr)));
		len = sizeof(struct vw_volume_req);
	} else {
		gen_snap((struct vw_snap_req *)(void *)(buf + sizeof(hdr)), *type);
		len = sizeof(struct vw_snap_req);
	}
	hdr.type = *type;
	hdr.len = (uint32_t)len;
	hdr.id = id;
	memcpy(buf, &hdr, sizeof(hdr));
	/* On the wire a payload goes without its trailing zero bytes
	 * (common/proto.c); the receiver zero-fills up to hdr.len. */
	while (len > 0 && buf[sizeof(hdr) + len - 1] == 0)
		len--;
	return sizeof(hdr) + len;
}

/* Send one message, mutated or not, and check the helper's answer.
 * Returns 1 if the helper is still there. */
static int
one_message(struct helper *h)
{
	static _Alignas(8) unsigned char buf[VW_MSG_MAX + 256];
	uint64_t id = h->next_id++;
	uint32_t type;
	size_t len = gen_message(buf, id, &type);
	int fd = -1, mutated = 1;
	const char *what = "a request";

	switch (chance(90) ? 0 : 1 + rnd() % 7) {
	case 0:
		mutated = 0;
		break;
	case 1:		/* flip bits anywhere */
		for (unsigned i = 0, n = 1 + rnd() % 8; i < n; i++) {
			size_t at = rnd() % len;

			buf[at] ^= (unsigned char)(1u << (rnd() % 8));
		}
		what = "a request with flipped bits";
		break;
	case 2:		/* cut short: zero-filled, or refused if it now ends in 0 */
		len = rnd() % len;
		what = "a truncated request";
		break;
	case 3:		/* more than promised, up to past the largest */
		memset(buf + len, 'A', sizeof(buf) - len);
		len += 1 + rnd() % (sizeof(buf) - len);
		what = "an extended request";
		break;
	case 4: {	/* an unknown or reply type with a right length */
		uint32_t t = chance(50) ? rnd() : (type | VW_MSG_REPLY);

		memcpy(buf, &t, sizeof(t));
		what = "a request of another type";
		break;
	}
	case 5:		/* a descriptor attached */
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		what = "a request with a descriptor";
		break;
	case 6:		/* garbage */
		len = rnd() % (VW_MSG_MAX + 32);
		for (size_t i = 0; i < len; i++)
			buf[i] = (unsigned char)rnd();
		what = "garbage";
		break;
	default: {	/* a second HELLO */
		struct vw_hello m = { VW_PROTO_VERSION, (uint32_t)h->driver,
		    digest };
		struct vw_msg_hdr hdr = { VW_MSG_HELLO, sizeof(m), id };

		memcpy(buf, &hdr, sizeof(hdr));
		memcpy(buf + sizeof(hdr), &m, sizeof(m));
		len = sizeof(hdr) + sizeof(m);
		while (len > sizeof(hdr) && buf[len - 1] == 0)
			len--;
		type = VW_MSG_HELLO;
		what = "a second HELLO";
	}
	}
	st.sent++;
	st.mutated += (unsigned long)mutated;
	if (send_raw(h->fd, buf, len, fd) < 0) {
		/* The helper may already be gone (EPIPE). */
		if (fd >= 0)
			close(fd);
		reap(h, what);
		return 0;
	}
	if (fd >= 0)
		close(fd);
	if (!mutated)
		return await(h, type, id, what);
	/* A mutated message may still be valid: then its header says what
	 * the reply must be. */
	if (len >= sizeof(struct vw_msg_hdr)) {
		struct vw_msg_hdr hdr;

		memcpy(&hdr, buf, sizeof(hdr));
		return await(h, hdr.type, hdr.id, what);
	}
	return await(h, type, id, what);
}

/* --------------------------------------------- what must not change */

static char *snapshot_buf;
static size_t snapshot_len, snapshot_cap;

static int
note(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	char line[1024];
	int n;

	(void)flag;
	(void)ftw;
	/* The roots are the helpers' to change; the log is ours. */
	for (int i = 0; i < 2; i++)
		if (beneath(path, roots[i]) || beneath(path, alloweds[i]))
			return 0;
	if (strcmp(path, logpath) == 0)
		return 0;
	n = snprintf(line, sizeof(line), "%s %o %u:%u %lld %lld.%09ld\n", path,
	    (unsigned)sb->st_mode, (unsigned)sb->st_uid, (unsigned)sb->st_gid,
	    (long long)sb->st_size, (long long)sb->st_mtim.tv_sec,
	    sb->st_mtim.tv_nsec);
	if (snapshot_len + (size_t)n + 1 > snapshot_cap) {
		snapshot_cap = (snapshot_cap + (size_t)n + 1) * 2;
		if ((snapshot_buf = realloc(snapshot_buf, snapshot_cap)) == NULL)
			bail("out of memory");
	}
	memcpy(snapshot_buf + snapshot_len, line, (size_t)n + 1);
	snapshot_len += (size_t)n;
	return 0;
}

/* Everything under the test directory outside the roots, and the
 * canary's contents, as one string (caller frees). */
static char *
tree_state(void)
{
	snapshot_buf = NULL;
	snapshot_len = snapshot_cap = 0;
	if (nftw(dir, note, 32, FTW_PHYS) < 0)
		bail("nftw %s: %s", dir, strerror(errno));
	return snapshot_buf != NULL ? snapshot_buf : strdup("");
}

static void
put(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL || fputs(text, fp) < 0 || fclose(fp) != 0)
		bail("%s: %s", path, strerror(errno));
}

static void
setup(void)
{
	char p[1024];
	const char *builddir = getenv("top_builddir");

	snprintf(dir, sizeof(dir), "%s", tap_tmpdir());
	for (int i = 0; i < 2; i++) {
		snprintf(roots[i], sizeof(roots[i]), "%s/root%d", dir, i);
		snprintf(alloweds[i], sizeof(alloweds[i]), "%s/allowed%d", dir, i);
	}
	snprintf(outside, sizeof(outside), "%s/outside", dir);
	snprintf(cfgpath, sizeof(cfgpath), "%s/volwarden.json", dir);
	snprintf(logpath, sizeof(logpath), "%s/helper.log", dir);
	snprintf(helper, sizeof(helper), "%s/volwarden-privhelper",
	    builddir != NULL ? builddir : ".");
	put(logpath, "");	/* before the first snapshot of the tree */
	if (access(helper, X_OK) < 0)
		bail("%s: %s", helper, strerror(errno));

	/* The canary: a tree outside both roots, reachable by symlinks from
	 * inside them. */
	if (mkdir(outside, 0755) < 0)
		bail("mkdir: %s", strerror(errno));
	snprintf(p, sizeof(p), "%s/x", outside);
	if (mkdir(p, 0700) < 0)
		bail("mkdir %s: %s", p, strerror(errno));
	snprintf(p, sizeof(p), "%s/x/secret", outside);
	put(p, "keep me\n");
	snprintf(p, sizeof(p), "%s/file", outside);
	put(p, "precious\n");
	for (int i = 0; i < 2; i++) {
		if (mkdir(roots[i], 0711) < 0 || mkdir(alloweds[i], 0755) < 0)
			bail("mkdir: %s", strerror(errno));
		snprintf(p, sizeof(p), "%s/evil", roots[i]);
		if (symlink(outside, p) < 0)
			bail("symlink: %s", strerror(errno));
		snprintf(p, sizeof(p), "%s/link", alloweds[i]);
		if (symlink(outside, p) < 0)
			bail("symlink: %s", strerror(errno));
		snprintf(p, sizeof(p), "%s/link", roots[i]);
		if (symlink("/etc", p) < 0)
			bail("symlink: %s", strerror(errno));
	}

	/* Two drivers: on_remove delete and archive. */
	{
		char text[4096];

		snprintf(text, sizeof(text), "{\"user\": \"nobody\", "
		    "\"state_dir\": \"%s/state\", \"run_dir\": \"%s/run\", "
		    "\"socket_dir\": \"%s/sock\", \"admin_socket\": "
		    "\"%s/admin/admin.sock\", \"drivers\": ["
		    "{\"name\": \"del\", \"backend\": \"dir\", \"root\": \"%s\", "
		    "\"allowed_roots\": [\"%s\"], \"on_remove\": \"delete\"}, "
		    "{\"name\": \"arc\", \"backend\": \"dir\", \"root\": \"%s\", "
		    "\"allowed_roots\": [\"%s\"], \"on_remove\": \"archive\"}]}\n",
		    dir, dir, dir, dir, roots[0], alloweds[0], roots[1],
		    alloweds[1]);
		put(cfgpath, text);
		if (chmod(cfgpath, 0600) < 0)
			bail("chmod: %s", strerror(errno));
	}
	{
		struct vw_overrides ov;
		struct vw_config cfg;
		char err[1024];

		memset(&ov, 0, sizeof(ov));
		ov.config = cfgpath;
		if (vw_config_load(&cfg, &ov, 1, err, sizeof(err)) < 0)
			bail("config: %s", err);
		digest = vw_config_digest(&cfg);
		vw_config_free(&cfg);
	}
}

/* Requests in the wrong state: before HELLO, and a HELLO that does not
 * match.  Each must end the helper with a logged violation. */
static void
state_checks(void)
{
	struct helper h;
	struct vw_volume_req r;
	struct vw_hello m = { VW_PROTO_VERSION, 0, 0 };

	spawn(&h, 0);
	memset(&r, 0, sizeof(r));
	snprintf(r.name, sizeof(r.name), "v1");
	vw_msg_send(h.fd, VW_MSG_VOLUME_CREATE, 1, &r, sizeof(r), -1);
	ok(await(&h, VW_MSG_VOLUME_CREATE, 1, "a Create before HELLO") == 0 &&
	    h.fd < 0 && st.bad == 0, "a request before HELLO ends the helper "
	    "with a logged violation");
	spawn(&h, 1);
	m.driver = 1;
	m.config_digest = digest ^ 1;
	vw_msg_send(h.fd, VW_MSG_HELLO, 0, &m, sizeof(m), -1);
	ok(await(&h, VW_MSG_HELLO, 0, "a HELLO with another digest") == 0 &&
	    h.fd < 0 && st.bad == 0, "a HELLO with another configuration "
	    "digest ends the helper with a logged violation");
	st.violations = 0;
	st.spawns = 0;
}

int
main(void)
{
	unsigned long n = DEFAULT_MESSAGES, seed;
	struct helper h = { .pid = 0, .fd = -1 };
	char *before, *after;
	struct stat sb;
	time_t t0;

	if (geteuid() != 0) {
		printf("1..0 # SKIP must run as root (the helper refuses "
		    "otherwise)\n");
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	if (getenv("VW_FUZZ_MESSAGES") != NULL)
		n = strtoul(getenv("VW_FUZZ_MESSAGES"), NULL, 10);
	seed = getenv("VW_FUZZ_SEED") != NULL ?
	    strtoul(getenv("VW_FUZZ_SEED"), NULL, 10) :
	    (unsigned long)time(NULL);
	rng = seed * 0x9e3779b97f4a7c15ULL + 1;
	diag("seed %lu (VW_FUZZ_SEED=%lu reproduces this run), %lu messages",
	    seed, seed, n);
	setup();
	before = tree_state();
	state_checks();

	t0 = time(NULL);
	while (st.sent < n) {
		if (h.fd < 0) {
			spawn(&h, (int)(rnd() % 2));
			if (!hello(&h))
				continue;
		}
		(void)one_message(&h);
	}
	if (h.fd < 0) {
		spawn(&h, 0);
		hello(&h);
	}
	if (h.fd >= 0) {
		/* A clean end: EOF makes it exit 0. */
		int status;

		close(h.fd);
		ok(waitpid(h.pid, &status, 0) == h.pid && WIFEXITED(status) &&
		    WEXITSTATUS(status) == 0, "a helper exits 0 at EOF");
	} else
		ok(0, "a helper exits 0 at EOF");
	diag("%lu messages (%lu mutated) in %lld s: %lu answered (%lu with an "
	    "error), %lu protocol violations, %lu helpers started", st.sent,
	    st.mutated, (long long)(time(NULL) - t0), st.replies, st.errors,
	    st.violations, st.spawns);
	is_int((long long)st.bad, 0, "every message was answered, or ended the "
	    "helper with status 1 and a logged protocol violation; no signal, "
	    "no hang");
	ok(st.replies > n / 2, "most messages were answered (%lu)", st.replies);
	ok(st.violations > 0, "some were protocol violations (%lu)",
	    st.violations);
	after = tree_state();
	ok(strcmp(before, after) == 0, "nothing outside the roots changed");
	if (strcmp(before, after) != 0)
		diag("before:\n%s\nafter:\n%s", before, after);
	ok(lstat("/etc/vw-fuzz-never", &sb) < 0 && errno == ENOENT,
	    "nothing was made outside the test directory");
	free(before);
	free(after);
	return done_testing();
}
