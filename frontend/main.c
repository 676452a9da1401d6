/*
 * volwarden: start-up as root, then the unprivileged frontend.
 *
 * Order (shared/STYLE.md lessons 1 and 10): parse the configuration; look
 * up the user; make the state, run and socket directories; bind every
 * driver socket (only root can, /run/docker/plugins is 0700) unless
 * systemd passed it, and the admin socket (0600 root); spawn one
 * privhelper per driver and greet it (a failure removes the sockets
 * bound); drop to the unprivileged user with no capabilities; replay the
 * state; serve.
 */
#include "vw-build.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <malloc.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/http.h>

#include "common/config.h"
#include "common/log.h"
#include "common/privdrop.h"
#include "frontend/frontend.h"
#include "seccomp/seccomp.h"

#ifndef VW_PRIVHELPER_PATH
#define VW_PRIVHELPER_PATH "/usr/local/libexec/volwarden-privhelper"
#endif

static void
usage(FILE *fp, int code)
{
	fprintf(fp,
	    "usage: volwarden [options]\n"
	    "  --config FILE        configuration file (default %s if present)\n"
	    "  --no-config          use the embedded default configuration\n"
	    "  --socket-dir DIR     where DRIVER.sock is bound (/run/docker/plugins)\n"
	    "  --state-dir DIR      durable state (/var/lib/volwarden/state)\n"
	    "  --run-dir DIR        volatile mount counts (/run/volwarden/mounts)\n"
	    "  --root DIR           root of the first driver\n"
	    "  --allowed-root DIR   allow absolute mountpoints below DIR (repeatable)\n"
	    "  --user USER          unprivileged user of the frontend (%s)\n"
	    "  --admin-socket PATH  volwardenctl's socket (%s)\n"
	    "  --gfs-volume VOL     add a glusterfs driver \"glusterfs\" for Gluster\n"
	    "                       volume VOL to the embedded default (GFS_VOLUME)\n"
	    "  --gfs-servers LIST   its servers, comma-separated (GFS_SERVERS)\n"
	    "  --privhelper PATH    the helper executable\n"
	    "  --foreground, -f     stay in the foreground, log to stderr\n"
	    "  --debug, -d          log every request\n"
	    "  --seccomp MODE       kill (default), trap, log or off\n"
	    "  --check              print the effective configuration and exit\n"
	    "  --version            print the version and exit\n"
	    "  --help, -h           print this help and exit\n",
	    VW_CONFIG_FILE, VW_DEFAULT_USER, VW_DEFAULT_ADMIN_SOCKET);
	exit(code);
}

/* The helper beside our own executable (a build tree), else the
 * installed one. */
static char *
default_helper(void)
{
	char self[VW_PATH_MAX], *slash, *p;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 32);

	if (n > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			strcpy(slash + 1, "volwarden-privhelper");
			if (access(self, X_OK) == 0 && (p = strdup(self)) != NULL)
				return p;
		}
	}
	return strdup(VW_PRIVHELPER_PATH);
}

/*
 * mkdir -p with root-owned 0755 parents; a directory we create gets mode
 * and owner.  An existing one is never changed (--state-dir /tmp must not
 * chown /tmp): it must already have that owner, and no group or other
 * write permission (nor, with strict, any group or other permission).
 * Returns an O_DIRECTORY fd.
 */
static int
make_dir(const char *path, mode_t mode, uid_t uid, gid_t gid, int strict,
    const char *what)
{
	char buf[VW_PATH_MAX];
	struct stat st;
	int fd, made;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			fatal("cannot create %s (for the %s %s)", buf, what, path);
		*p = '/';
	}
	made = mkdir(path, mode) == 0;
	if (!made && errno != EEXIST)
		fatal("cannot create the %s %s", what, path);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		fatal("cannot open the %s %s (it must be a directory, not a "
		    "symbolic link)", what, path);
	if (fstat(fd, &st) < 0)
		fatal("fstat %s", path);
	if (made) {
		if (fchown(fd, uid, gid) < 0 || fchmod(fd, mode) < 0)
			fatal("cannot set owner and mode of the %s %s", what, path);
	} else if (st.st_uid != uid || (st.st_mode & (strict ? 077 : 022))) {
		fatalx("the %s %s exists with owner uid %u and mode %04o; it must "
		    "be owned by uid %u with mode %04o (chown %u %s; chmod %04o "
		    "%s), or choose another directory", what, path,
		    (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777),
		    (unsigned)uid, (unsigned)mode, (unsigned)uid, path,
		    (unsigned)mode, path);
	}
	return fd;
}

/* libevent's own messages, through our log. */
static void
libevent_log(int severity, const char *msg)
{
	if (severity >= EVENT_LOG_WARN)
		log_warnx("libevent: %s", msg);
	else
		log_debug("libevent: %s", msg);
}

/*
 * Remove the sockets this process bound (start-up failures): the driver
 * sockets and the admin socket.  A socket inherited from systemd is the
 * service manager's and stays, so that the next start finds it.
 */
static void
unlink_sockets(const struct vw_fe *fe)
{
	char path[VW_PATH_MAX];

	for (size_t i = 0; i < fe->ndrv; i++) {
		if (fe->drv[i].listen_fd < 0 || fe->drv[i].activated)
			continue;
		snprintf(path, sizeof(path), "%s/%s.sock", fe->cfg->socket_dir,
		    fe->drv[i].d->name);
		if (unlink(path) < 0 && errno != ENOENT)
			log_warn("cannot remove %s", path);
	}
	if (fe->admin_fd >= 0 && unlink(fe->cfg->admin_socket) < 0 &&
	    errno != ENOENT)
		log_warn("cannot remove %s", fe->cfg->admin_socket);
}

/*
 * Close every descriptor above stdio that the caller left open, so that
 * none leaks into the daemon or its helpers.  Under socket activation
 * (LISTEN_PID is ours) the LISTEN_FDS sockets from fd 3 on are kept for
 * fe_listen_fds, and only what lies above them is closed; a LISTEN_FDS
 * that is no count keeps everything, and fe_listen_fds refuses it.
 */
static int
close_inherited(void)
{
	const char *pid_s = getenv("LISTEN_PID"), *fds_s = getenv("LISTEN_FDS");
	unsigned int first = 3;
	char *end;
	long v;

	if (pid_s != NULL && fds_s != NULL) {
		errno = 0;
		v = strtol(pid_s, &end, 10);
		if (errno == 0 && end != pid_s && *end == '\0' &&
		    v == (long)getpid()) {
			errno = 0;
			v = strtol(fds_s, &end, 10);
			if (errno != 0 || end == fds_s || *end != '\0' ||
			    v < 0 || v > 1024)
				return 0;
			first += (unsigned int)v;
		}
	}
	return close_range(first, ~0U, 0);
}

static void
sig_hup(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	log_info("SIGHUP: volwarden does not reload its configuration; "
	    "restart it to apply changes");
}

/* Longest a stop waits for requests in flight (helper round trips,
 * state commits) to be answered before it leaves them. */
#define STOP_DRAIN_MS		5000
#define STOP_POLL_MS		10

/* Nothing in flight: no op on any volume, no helper request. */
static int
fe_idle(const struct vw_fe *fe)
{
	for (size_t i = 0; i < fe->ndrv; i++)
		if (fe->drv[i].busy != NULL || fe->drv[i].helper.head != NULL)
			return 0;
	return 1;
}

static void
drain_check(evutil_socket_t fd, short what, void *arg)
{
	struct vw_fe *fe = arg;
	struct timeval tv = { 0, STOP_POLL_MS * 1000 };

	(void)fd;
	(void)what;
	if (fe_idle(fe)) {
		event_base_loopexit(fe->base, NULL);
		return;
	}
	if (fe_now_ns() >= fe->stop_deadline_ns) {
		log_warnx("stopping with requests still in flight after %d ms; "
		    "their callers get no answer", STOP_DRAIN_MS);
		event_base_loopexit(fe->base, NULL);
		return;
	}
	if (evtimer_add(fe->drain_timer, &tv) < 0)
		event_base_loopexit(fe->base, NULL);
}

/*
 * SIGTERM, SIGINT: stop accepting connections and starting scheduled
 * snapshots, let the requests in flight finish (up to STOP_DRAIN_MS), so
 * that every caller gets its answer and no helper is cut off mid-reply;
 * then leave the loop.  A second signal leaves at once.
 */
static void
sig_term(evutil_socket_t sig, short what, void *arg)
{
	struct vw_fe *fe = arg;

	(void)what;
	if (fe->stopping) {
		log_info("received signal %d again, stopping now", (int)sig);
		event_base_loopexit(fe->base, NULL);
		return;
	}
	log_info("received signal %d, shutting down", (int)sig);
	fe->stopping = 1;
	fe->stop_deadline_ns = fe_now_ns() + STOP_DRAIN_MS * 1000000ull;
	for (size_t i = 0; i < fe->ndrv; i++)
		if (fe->drv[i].listener != NULL)
			(void)evconnlistener_disable(fe->drv[i].listener);
	if (fe->admin_listener != NULL)
		(void)evconnlistener_disable(fe->admin_listener);
	if (fe_idle(fe) || (fe->drain_timer = evtimer_new(fe->base,
	    drain_check, fe)) == NULL)
		event_base_loopexit(fe->base, NULL);
	else
		drain_check(-1, 0, fe);
}

/* Log how a helper ended, by driver name. */
static void
log_helper_exit(struct vw_fe *fe, pid_t pid, int status)
{
	const char *name = "?";

	for (size_t i = 0; i < fe->ndrv; i++) {
		if (fe->drv[i].helper.pid == pid) {
			name = fe->drv[i].d->name;
			fe->drv[i].helper.pid = 0;
		}
	}
	if (WIFSIGNALED(status))
		log_warnx("privhelper of driver %s (pid %d) was killed by signal "
		    "%s%s", name, (int)pid, strsignal(WTERMSIG(status)),
		    WTERMSIG(status) == SIGSYS ? " (seccomp violation)" : "");
	else if (WEXITSTATUS(status) != 0)
		log_warnx("privhelper of driver %s (pid %d) exited with status %d",
		    name, (int)pid, WEXITSTATUS(status));
	else
		log_debug("privhelper of driver %s (pid %d) exited", name, (int)pid);
}

static void
sig_chld(evutil_socket_t sig, short what, void *arg)
{
	struct vw_fe *fe = arg;
	pid_t pid;
	int status;

	(void)sig;
	(void)what;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		log_helper_exit(fe, pid, status);
		fe->exit_code = 1;
		event_base_loopexit(fe->base, NULL);
	}
}

int
main(int argc, char *argv[])
{
	struct vw_overrides ov;
	struct vw_config cfg;
	struct vw_fe fe;
	struct option longopts[40];
	struct passwd *pw;
	struct event *ev_term, *ev_int, *ev_chld, *ev_hup;
	struct event_config *evcfg;
	char err[2048], *helper_path = NULL;
	const char *helper_args[96];
	char drvidx[24], parent_pid[24], ready[64];
	uid_t uid;
	gid_t gid, sock_gid = 0;
	int ch, foreground = 0, debug = 0, check = 0;
#ifdef VW_SANITIZERS
	/* Sanitizer runtimes need syscalls no allowlist should grant. */
	enum vw_seccomp_mode sc_mode = VW_SECCOMP_OFF;
#else
	enum vw_seccomp_mode sc_mode = VW_SECCOMP_KILL;
#endif
	size_t n = 0;

	/* Nothing inherited beyond stdio (and systemd's sockets) may leak
	 * into the daemon or its helpers. */
	if (close_inherited() < 0) {
		perror("volwarden: close_range");
		return 1;
	}

	memset(&ov, 0, sizeof(ov));
	memset(&fe, 0, sizeof(fe));
	fe.admin_fd = -1;
	fe.notify_fd = -1;
	for (; vw_config_longopts[n].name != NULL; n++)
		longopts[n] = vw_config_longopts[n];
	longopts[n++] = (struct option){ "foreground", no_argument, NULL, 'f' };
	longopts[n++] = (struct option){ "debug", no_argument, NULL, 'd' };
	longopts[n++] = (struct option){ "check", no_argument, NULL, 'c' };
	longopts[n++] = (struct option){ "privhelper", required_argument, NULL, 'P' };
	longopts[n++] = (struct option){ "version", no_argument, NULL, 'V' };
	longopts[n++] = (struct option){ "seccomp", required_argument, NULL, 'S' };
	longopts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	longopts[n] = (struct option){ NULL, 0, NULL, 0 };
	while ((ch = getopt_long(argc, argv, "fdh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f': foreground = 1; break;
		case 'd': debug = 1; break;
		case 'c': check = 1; break;
		case 'P': helper_path = strdup(optarg); break;
		case 'S':
			if (vw_seccomp_parse_mode(optarg, &sc_mode) < 0) {
				fprintf(stderr, "volwarden: --seccomp takes kill, "
				    "trap, log or off\n");
				return 2;
			}
			break;
		case 'V':
#ifdef VW_SANITIZERS
			printf("volwarden %s (built with sanitizers)\n", PACKAGE_VERSION);
#else
			printf("volwarden %s\n", PACKAGE_VERSION);
#endif
			return 0;
		case 'h': usage(stdout, 0); break;
		default:
			if (ch < VW_OPT_FLAG_BASE)
				usage(stderr, 2);
			if (vw_overrides_set(&ov, ch, optarg, err, sizeof(err)) < 0) {
				fprintf(stderr, "volwarden: %s\n", err);
				return 2;
			}
		}
	}
	if (optind != argc)
		usage(stderr, 2);
	/* VOLWARDEN_CONFIG stands for --config when no flag names a file:
	 * the Docker managed plugin's settable way to choose one. */
	if (ov.config == NULL && !ov.no_config && getenv("VOLWARDEN_CONFIG") != NULL &&
	    *getenv("VOLWARDEN_CONFIG") != '\0')
		ov.config = getenv("VOLWARDEN_CONFIG");
	log_init(1, debug);
	log_procinit("frontend");

	/* docker-volume-glusterfs's GFS_VOLUME and GFS_SERVERS: a glusterfs
	 * driver in the embedded default (passed on to the helpers as
	 * flags, since they get no environment). */
	if (vw_overrides_env(&ov) && !ov.no_config && (ov.config != NULL ||
	    access(VW_CONFIG_FILE, F_OK) == 0)) {
		log_warnx("GFS_VOLUME and GFS_SERVERS only configure the embedded "
		    "default; add a glusterfs driver to the configuration file "
		    "instead");
		ov.gfs_volume = ov.gfs_servers = NULL;
	}
	if (vw_config_load(&cfg, &ov, geteuid() == 0, err, sizeof(err)) < 0)
		fatalx("bad configuration: %s", err);
	if (check) {
		int rc;

		if ((pw = getpwnam(cfg.user)) == NULL || pw->pw_uid == 0)
			fatalx("user %s %s", cfg.user, pw == NULL ?
			    "does not exist; create it with: useradd --system "
			    "--no-create-home --home-dir /nonexistent --shell "
			    "/usr/sbin/nologin volwarden" : "is root; volwarden's "
			    "frontend must run unprivileged");

		vw_config_print(&cfg, stdout);
		rc = fflush(stdout) == 0 ? 0 : 1;
		vw_config_free(&cfg);
		free(helper_path);
		return rc;
	}
	if (geteuid() != 0)
		fatalx("volwarden must be started as root (it binds sockets in %s "
		    "and starts a privileged helper, then drops to user %s)",
		    cfg.socket_dir, cfg.user);
	if ((pw = getpwnam(cfg.user)) == NULL)
		fatalx("user %s does not exist; create it with: useradd --system "
		    "--no-create-home --home-dir /nonexistent --shell "
		    "/usr/sbin/nologin %s", cfg.user, cfg.user);
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	if (uid == 0)
		fatalx("user %s is root; volwarden's frontend must run "
		    "unprivileged", cfg.user);
	if (cfg.socket_group != NULL) {
		struct group *gr = getgrnam(cfg.socket_group);

		if (gr == NULL)
			fatalx("socket_group %s does not exist", cfg.socket_group);
		sock_gid = gr->gr_gid;
	}
	if (helper_path == NULL)
		helper_path = default_helper();
	if (helper_path == NULL)
		fatal("strdup");
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		fatal("signal");

	fe.cfg = &cfg;
	fe.uid = uid;
	fe.gid = gid;
	fe.seccomp_mode = (int)sc_mode;
	fe.started = (int64_t)time(NULL);
	fe.started_ns = fe_now_ns();
	fe.ndrv = cfg.ndrivers;
	if ((fe.drv = calloc(fe.ndrv, sizeof(*fe.drv))) == NULL)
		fatal("calloc");
	for (size_t i = 0; i < fe.ndrv; i++) {
		fe.drv[i].fe = &fe;
		fe.drv[i].idx = i;
		fe.drv[i].d = &cfg.drivers[i];
		fe.drv[i].helper.fd = -1;
		fe.drv[i].listen_fd = -1;
		if (vw_registry_init(&fe.drv[i].reg) < 0)
			fatal("registry");
	}
	/* Sockets passed by systemd (socket activation), first, while
	 * they still sit at fd 3 and up as LISTEN_FDS says. */
	if (fe_listen_fds(&fe, err, sizeof(err)) < 0)
		fatalx("socket activation: %s", err);
	/* Type=notify: the notify socket must be connected before the
	 * sandbox, which forbids connect(2). */
	if (!foreground && getenv("NOTIFY_SOCKET") != NULL)
		log_warnx("NOTIFY_SOCKET is set but --foreground is not: a "
		    "service manager waiting for READY=1 needs --foreground");
	fe.notify_fd = fe_notify_open();

	fe.state_fd = make_dir(cfg.state_dir, 0700, uid, gid, 1, "state directory");
	fe.run_fd = make_dir(cfg.run_dir, 0700, uid, gid, 1, "run directory");
	/* Created like dockerd does (0700 root) when missing; an existing
	 * one is only required not to be writable by others. */
	close(make_dir(cfg.socket_dir, 0700, 0, 0, 0, "socket directory"));
	for (size_t i = 0; i < fe.ndrv; i++) {
		char path[VW_PATH_MAX];

		if (fe.drv[i].activated)
			continue;
		snprintf(path, sizeof(path), "%s/%s.sock", cfg.socket_dir,
		    cfg.drivers[i].name);
		fe.drv[i].listen_fd = fe_socket_listen(path, 0660, sock_gid, err,
		    sizeof(err));
		if (fe.drv[i].listen_fd < 0) {
			unlink_sockets(&fe);
			fatalx("driver %s: %s", cfg.drivers[i].name, err);
		}
	}
	/* The admin socket: root's only (0600), in a root-owned directory
	 * that the frontend user cannot write (config.c refuses the state,
	 * run and socket directories for it). */
	{
		char dir[VW_PATH_MAX], *slash;

		snprintf(dir, sizeof(dir), "%s", cfg.admin_socket);
		slash = strrchr(dir, '/');
		slash[slash == dir ? 1 : 0] = '\0';
		close(make_dir(dir, 0755, 0, 0, 0, "admin socket directory"));
		fe.admin_fd = fe_socket_listen(cfg.admin_socket, 0600, 0, err,
		    sizeof(err));
		if (fe.admin_fd < 0) {
			unlink_sockets(&fe);
			fatalx("admin socket: %s", err);
		}
	}
	if (!foreground) {
		if (daemon(0, 0) < 0)
			fatal("daemon");
		log_init(0, debug);
	}

	snprintf(parent_pid, sizeof(parent_pid), "%ld", (long)getpid());
	for (size_t i = 0; i < fe.ndrv; i++) {
		int na = 0;

		helper_args[na++] = helper_path;
		snprintf(drvidx, sizeof(drvidx), "%zu", i);
		helper_args[na++] = "--driver";
		helper_args[na++] = drvidx;
		if (foreground)
			helper_args[na++] = "--foreground";
		if (debug)
			helper_args[na++] = "--debug";
		helper_args[na++] = "--seccomp";
		helper_args[na++] = vw_seccomp_mode_name(sc_mode);
		helper_args[na++] = "--parent";
		helper_args[na++] = parent_pid;
		/* systemd owns an inherited socket: it must stay when we stop,
		 * so that the next start (or dockerd's next connection) finds
		 * it. */
		if (fe.drv[i].activated)
			helper_args[na++] = "--keep-socket";
		if (vw_overrides_argv(&ov, strcmp(cfg.source, "embedded default") != 0,
		    cfg.source, helper_args, na,
		    (int)(sizeof(helper_args) / sizeof(helper_args[0])) - na - 1) < 0)
			fatalx("too many arguments for the helper");
		if (hc_spawn(&fe.drv[i], helper_path, helper_args, err,
		    sizeof(err)) < 0) {
			unlink_sockets(&fe);
			fatalx("driver %s: %s", cfg.drivers[i].name, err);
		}
	}

	/* Greet the helpers while still root, so that a helper refusing
	 * to start (a bad root, say) lets us remove the sockets we bound
	 * instead of leaving dockerd a dead plugin to retry. */
	for (size_t i = 0; i < fe.ndrv; i++) {
		if (hc_hello(&fe.drv[i], err, sizeof(err)) < 0) {
			unlink_sockets(&fe);
			fatalx("%s", err);
		}
	}

	/* Large blocks (the List cache, the replay buffer) always come from
	 * mmap, so their memory goes back to the system once freed;
	 * glibc's sliding threshold would keep them in the heap. */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);

	/* From here on: no root, no capabilities. */
	vw_drop_to_user(uid, gid);

	event_set_log_callback(libevent_log);
	/* The epoll changelist folds the add/delete/modify calls that
	 * evhttp makes on a connection within one loop iteration into at
	 * most one epoll_ctl: three fewer system calls per request.  (Its
	 * one caveat, dup()ed descriptors, does not apply: we make none.) */
	if ((evcfg = event_config_new()) == NULL ||
	    event_config_set_flag(evcfg,
	    EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST) < 0 ||
	    (fe.base = event_base_new_with_config(evcfg)) == NULL ||
	    event_base_priority_init(fe.base, 3) < 0)
		fatalx("cannot create the event loop");
	event_config_free(evcfg);
	fe.state = vw_store_open(fe.state_fd, cfg.state_dir, "volumes", 1,
	    fe_apply_record, &fe, err, sizeof(err));
	if (fe.state == NULL)
		fatalx("cannot load the volume registry: %s", err);
	fe.mounts = vw_store_open(fe.run_fd, cfg.run_dir, "mounts", 0,
	    fe_apply_record, &fe, err, sizeof(err));
	if (fe.mounts == NULL)
		fatalx("cannot load the mount counts: %s", err);
	if (fe_check_orphans(&fe, err, sizeof(err)) < 0)
		fatalx("%s", err);
	vw_store_set_dump(fe.state, fe_dump_state, &fe);
	vw_store_set_dump(fe.mounts, fe_dump_mounts, &fe);
	if (vw_store_attach(fe.state, fe.base) < 0 ||
	    vw_store_attach(fe.mounts, fe.base) < 0)
		fatalx("cannot attach the state store to the event loop");
	/* Mounting backends: what is mounted must match the counts. */
	if (fe_reconcile(&fe, err, sizeof(err)) < 0)
		fatalx("%s", err);

	if (fe_conn_setup(&fe) < 0)
		fatalx("cannot set up the connection limit");
	for (size_t i = 0; i < fe.ndrv; i++) {
		if (hc_attach(&fe.drv[i]) < 0)
			fatal("watching the helper channel");
		if (fe_deadline_setup(&fe.drv[i]) < 0)
			fatalx("out of memory");
		if (fe_http_setup(&fe.drv[i], err, sizeof(err)) < 0)
			fatalx("%s", err);
		log_info("driver %s: serving %s/%s.sock (backend %s, root %s, %zu "
		    "volumes)", cfg.drivers[i].name, cfg.socket_dir,
		    cfg.drivers[i].name, vw_backend_name(cfg.drivers[i].backend),
		    cfg.drivers[i].root, fe.drv[i].reg.count);
	}
	if (fe_admin_setup(&fe, err, sizeof(err)) < 0)
		fatalx("%s", err);
	/* Shared (glusterfs) drivers: leases and listings. */
	if (fe_gluster_start(&fe, err, sizeof(err)) < 0)
		fatalx("%s", err);
	/* Scheduled btrfs snapshots. */
	if (fe_sched_start(&fe, err, sizeof(err)) < 0)
		fatalx("%s", err);
	log_info("admin API: serving %s", cfg.admin_socket);
	ev_term = evsignal_new(fe.base, SIGTERM, sig_term, &fe);
	ev_int = evsignal_new(fe.base, SIGINT, sig_term, &fe);
	ev_chld = evsignal_new(fe.base, SIGCHLD, sig_chld, &fe);
	ev_hup = evsignal_new(fe.base, SIGHUP, sig_hup, &fe);
	if (ev_term == NULL || ev_int == NULL || ev_chld == NULL ||
	    ev_hup == NULL || evsignal_add(ev_term, NULL) < 0 ||
	    evsignal_add(ev_int, NULL) < 0 || evsignal_add(ev_chld, NULL) < 0 ||
	    evsignal_add(ev_hup, NULL) < 0)
		fatalx("cannot install signal handlers");

	/* max_connections: the descriptor limit caps open connections;
	 * the reserve covers listeners, helper channels, the state files
	 * and libevent's own descriptors. */
	{
		struct rlimit rl;
		rlim_t want = (rlim_t)cfg.limits.max_connections + 64 +
		    4 * (rlim_t)fe.ndrv;

		if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
			fatal("getrlimit(RLIMIT_NOFILE)");
		if (want > rl.rlim_max) {
			log_warnx("max_connections %u needs %llu file descriptors "
			    "but the hard limit is %llu; fewer connections will "
			    "be accepted (raise the limit, e.g. LimitNOFILE= in "
			    "the unit)", cfg.limits.max_connections,
			    (unsigned long long)want,
			    (unsigned long long)rl.rlim_max);
			want = rl.rlim_max;
		}
		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			fatal("setrlimit(RLIMIT_NOFILE)");
	}

	/* Last step before the first request. */
	if (vw_seccomp_frontend(sc_mode, err, sizeof(err)) < 0)
		fatalx("cannot install the seccomp filter: %s", err);
	log_debug("seccomp filter: %s", vw_seccomp_mode_name(sc_mode));

	snprintf(ready, sizeof(ready), "READY=1\nSTATUS=serving %zu driver%s",
	    fe.ndrv, fe.ndrv == 1 ? "" : "s");
	fe_notify(fe.notify_fd, ready);
	if (event_base_dispatch(fe.base) < 0)
		fatalx("event loop failed");
	fe_notify(fe.notify_fd, "STOPPING=1");

	/* Shut down: closing the channels makes the helpers exit, and each
	 * removes its driver's socket so dockerd stops trying it. */
	for (size_t i = 0; i < fe.ndrv; i++) {
		if (fe.drv[i].http != NULL)
			evhttp_free(fe.drv[i].http);
		if (fe.drv[i].accept_timer != NULL)
			event_free(fe.drv[i].accept_timer);
		fe_deadline_free(&fe.drv[i]);
		fe_list_forget(&fe.drv[i]);
		close(fe.drv[i].listen_fd);
		if (fe.drv[i].helper.ev != NULL)
			event_free(fe.drv[i].helper.ev);
		if (fe.drv[i].helper.wev != NULL)
			event_free(fe.drv[i].helper.wev);
		close(fe.drv[i].helper.fd);
		hc_forget(&fe.drv[i]);
	}
	fe_gluster_stop(&fe);
	if (fe.admin != NULL)
		evhttp_free(fe.admin);
	if (fe.admin_accept_timer != NULL)
		event_free(fe.admin_accept_timer);
	fe_conn_free();
	if (fe.drain_timer != NULL)
		event_free(fe.drain_timer);
	close(fe.admin_fd);
	if (fe.notify_fd >= 0)
		close(fe.notify_fd);
	for (size_t i = 0; i < fe.ndrv; i++) {
		pid_t pid = fe.drv[i].helper.pid;
		int status;

		if (pid > 0 && waitpid(pid, &status, 0) == pid) {
			log_helper_exit(&fe, pid, status);
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
				fe.exit_code = 1;
		}
	}
	/* bench/run reads this line for the fsyncs per Create. */
	log_info("state: %llu records written with %llu fdatasync calls",
	    (unsigned long long)vw_store_records(fe.state),
	    (unsigned long long)vw_store_syncs(fe.state));
	fe_sched_stop(&fe);
	vw_store_close(fe.state);
	vw_store_close(fe.mounts);
	for (size_t i = 0; i < fe.ndrv; i++)
		vw_registry_free(&fe.drv[i].reg);
	free(fe.drv);
	event_free(ev_term);
	event_free(ev_int);
	event_free(ev_chld);
	event_free(ev_hup);
	event_base_free(fe.base);
	log_info("stopped");
	vw_config_free(&cfg);
	free(helper_path);
	return fe.exit_code;
}
