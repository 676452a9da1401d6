/*
 * volwarden-privhelper: the only process that touches storage.  Exec'd by
 * the frontend's start-up (still root) with its channel on fd 3, one
 * helper per driver.  It parses the configuration itself, opens the
 * driver's root directories, keeps only its backend's capabilities and
 * then serves one validated request at a time until the channel closes.
 */
#include "vw-build.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/backend.h"
#include "common/config.h"
#include "common/log.h"
#include "common/privdrop.h"
#include "privhelper/privhelper.h"
#include "seccomp/seccomp.h"

static void
usage(void)
{
	fprintf(stderr, "volwarden-privhelper is started by volwarden; it is "
	    "not meant to be run by hand.\n");
	exit(2);
}

/* Refuse to run unless fd 3 is the SOCK_SEQPACKET channel. */
static void
check_channel(void)
{
	int v;
	socklen_t len = sizeof(v);

	if (getsockopt(PH_CHANNEL_FD, SOL_SOCKET, SO_DOMAIN, &v, &len) < 0 ||
	    v != AF_UNIX)
		fatalx("fd %d is not a unix socket: volwarden-privhelper must be "
		    "started by volwarden", PH_CHANNEL_FD);
	len = sizeof(v);
	if (getsockopt(PH_CHANNEL_FD, SOL_SOCKET, SO_TYPE, &v, &len) < 0 ||
	    v != SOCK_SEQPACKET)
		fatalx("fd %d is not a SOCK_SEQPACKET socket: volwarden-privhelper "
		    "must be started by volwarden", PH_CHANNEL_FD);
	if (fcntl(PH_CHANNEL_FD, F_SETFD, FD_CLOEXEC) < 0)
		fatal("fcntl(FD_CLOEXEC) on the channel");
}

/* A socket file to remove at exit, if it is still the one we saw. */
struct sockfile {
	char		path[VW_PATH_MAX];
	struct stat	st;
	int		have;
};

static void
sockfile_note(struct sockfile *sf, const char *path)
{
	snprintf(sf->path, sizeof(sf->path), "%s", path);
	sf->have = lstat(sf->path, &sf->st) == 0 && S_ISSOCK(sf->st.st_mode);
}

/*
 * Remove it only if it is still the same file: a newer instance may have
 * bound its own in the meantime (a helper killed with its frontend can
 * finish queued requests for a while first).  The inode number alone
 * does not tell: ext4 hands the number of the socket the new instance
 * unlinked to the one it binds next.  The modification time, set when
 * bind(2) made the file, tells them apart (unlike the change time, it
 * survives a chmod of the socket by hand).
 */
static void
sockfile_remove(const struct sockfile *sf)
{
	struct stat st;

	if (sf->have && lstat(sf->path, &st) == 0 &&
	    st.st_dev == sf->st.st_dev && st.st_ino == sf->st.st_ino &&
	    st.st_mtim.tv_sec == sf->st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == sf->st.st_mtim.tv_nsec &&
	    unlink(sf->path) < 0)
		log_warn("cannot remove %s", sf->path);
}

/*
 * Make an absolute directory and its missing parents (0755, root-owned),
 * open it, and check it is a boundary we can rely on: owned by root and
 * not writable by group or others.  mode applies to the last component
 * when it is created.
 */
static int
open_root(const char *path, mode_t mode, const char *what)
{
	char buf[VW_PATH_MAX];
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(buf))
		fatalx("%s %s: path too long", what, path);
	strcpy(buf, path);
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			fatal("cannot create %s (parent of %s %s)", buf, what, path);
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		fatal("cannot create %s %s", what, path);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		fatal("cannot open %s %s (it must be a directory, not a symbolic "
		    "link)", what, path);
	if (fstat(fd, &st) < 0)
		fatal("fstat %s", path);
	if (st.st_uid != 0 || (st.st_mode & 022))
		fatalx("%s %s must be owned by root and not writable by group or "
		    "others, so that no other user can redirect volumes "
		    "(chown root %s; chmod go-w %s)", what, path, path, path);
	return fd;
}

int
main(int argc, char *argv[])
{
	struct vw_overrides ov;
	struct vw_config cfg;
	struct vw_backend_ctx ctx;
	const struct vw_backend *be;
	struct option longopts[32];
	char err[1024], procname[64], sockpath[VW_PATH_MAX];
	struct sockfile drv_sock, admin_sock;
	int ch, foreground = 0, debug = 0, keep_socket = 0;
	enum vw_seccomp_mode sc_mode = VW_SECCOMP_KILL;
	pid_t parent = 0;
	long driver = -1;
	size_t n = 0;

	/* Someone running us by hand should see why we refuse. */
	log_init(1, 0);
	check_channel();

	memset(&ov, 0, sizeof(ov));
	for (; vw_config_longopts[n].name != NULL; n++)
		longopts[n] = vw_config_longopts[n];
	longopts[n++] = (struct option){ "driver", required_argument, NULL, 'D' };
	longopts[n++] = (struct option){ "foreground", no_argument, NULL, 'f' };
	longopts[n++] = (struct option){ "debug", no_argument, NULL, 'd' };
	longopts[n++] = (struct option){ "seccomp", required_argument, NULL, 'S' };
	longopts[n++] = (struct option){ "parent", required_argument, NULL, 'p' };
	longopts[n++] = (struct option){ "keep-socket", no_argument, NULL, 'k' };
	longopts[n] = (struct option){ NULL, 0, NULL, 0 };
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'D':
			driver = strtol(optarg, NULL, 10);
			break;
		case 'f':
			foreground = 1;
			break;
		case 'd':
			debug = 1;
			break;
		case 'S':
			if (vw_seccomp_parse_mode(optarg, &sc_mode) < 0)
				usage();
			break;
		case 'p':
			parent = (pid_t)strtol(optarg, NULL, 10);
			break;
		case 'k':
			keep_socket = 1;
			break;
		default:
			if (ch < VW_OPT_FLAG_BASE)
				usage();
			if (vw_overrides_set(&ov, ch, optarg, err, sizeof(err)) < 0)
				usage();
		}
	}
	if (optind != argc || driver < 0 || parent <= 0)
		usage();
	log_init(foreground, debug);

	/* Die with the frontend; close the race with an already-dead one. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) < 0)
		fatal("prctl(PR_SET_PDEATHSIG)");
	if (getppid() != parent)
		fatalx("the frontend exited before the helper started");
	/* A terminal's ^C or hang-up goes to the frontend, which shuts
	 * down in order; the helper then sees EOF. */
	if (signal(SIGINT, SIG_IGN) == SIG_ERR || signal(SIGHUP, SIG_IGN) == SIG_ERR)
		fatal("signal");

	if (geteuid() != 0)
		fatalx("volwarden-privhelper must run as root");
	if (vw_config_load(&cfg, &ov, 1, err, sizeof(err)) < 0)
		fatalx("%s", err);
	if ((size_t)driver >= cfg.ndrivers)
		fatalx("driver index %ld out of range", driver);
	snprintf(procname, sizeof(procname), "privhelper %s",
	    cfg.drivers[driver].name);
	log_procinit(procname);
	umask(022);

	memset(&ctx, 0, sizeof(ctx));
	ctx.driver = &cfg.drivers[driver];
	be = vw_backend_get(ctx.driver->backend);
	if (be == NULL)
		fatalx("backend %s is not available", vw_backend_name(ctx.driver->backend));
	ctx.aux_fd = -1;
	ctx.user = cfg.user;
	ctx.cfg = &cfg;
	ctx.foreground = foreground;
	ctx.debug = debug;
	ctx.seccomp_mode = vw_seccomp_mode_name(sc_mode);
	if (be->prepare != NULL && be->prepare(ctx.driver, err, sizeof(err)) < 0)
		fatalx("%s", err);
	ctx.root_fd = open_root(ctx.driver->root, 0711, "driver root");
	ctx.allowed_fds = calloc(ctx.driver->nallowed + 1, sizeof(int));
	if (ctx.allowed_fds == NULL)
		fatal("calloc");
	for (size_t i = 0; i < ctx.driver->nallowed; i++)
		ctx.allowed_fds[i] = open_root(ctx.driver->allowed_roots[i], 0755,
		    "allowed root");

	if (be->init != NULL && be->init(&ctx, err, sizeof(err)) < 0)
		fatalx("%s", err);

	/* Remember the sockets the frontend bound, to remove them at exit
	 * (the frontend, unprivileged by then, cannot): the driver's, and
	 * for the first helper the admin socket. */
	snprintf(sockpath, sizeof(sockpath), "%s/%s.sock", cfg.socket_dir,
	    ctx.driver->name);
	memset(&drv_sock, 0, sizeof(drv_sock));
	if (!keep_socket)	/* systemd's (socket activation): it stays */
		sockfile_note(&drv_sock, sockpath);
	memset(&admin_sock, 0, sizeof(admin_sock));
	if (driver == 0)
		sockfile_note(&admin_sock, cfg.admin_socket);

	vw_keep_caps(be->caps);
	if (vw_seccomp_privhelper(sc_mode, ctx.driver->backend, err,
	    sizeof(err)) < 0)
		fatalx("cannot install the seccomp filter: %s", err);
	log_debug("serving driver %s (backend %s, root %s)", ctx.driver->name,
	    be->name, ctx.driver->root);

	ph_serve(PH_CHANNEL_FD, &cfg, (size_t)driver, &ctx);
	if (be->fini != NULL)
		be->fini(&ctx);

	/* The frontend is gone: stop advertising the driver to dockerd. */
	sockfile_remove(&drv_sock);
	sockfile_remove(&admin_sock);
	for (size_t i = 0; i < ctx.driver->nallowed; i++)
		close(ctx.allowed_fds[i]);
	free(ctx.allowed_fds);
	if (ctx.aux_fd >= 0)
		close(ctx.aux_fd);
	close(ctx.root_fd);
	vw_config_free(&cfg);
	return 0;
}
