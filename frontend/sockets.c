/*
 * The listening sockets (plugin sockets for dockerd, the admin socket),
 * bound here or inherited through systemd socket activation, and the
 * service manager's readiness notification.  All of it runs during the
 * root start-up, before the sandbox; only fe_notify runs later.
 */
#include "vw-build.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "frontend/frontend.h"

/* dockerd opens one connection per volume at start-up (protocol doc
 * section 8): keep a deep backlog; the kernel caps it at somaxconn. */
#define LISTEN_BACKLOG	1024

int
fe_socket_listen(const char *path, mode_t mode, gid_t gid, char *err,
    size_t errlen)
{
	struct sockaddr_un sun;
	struct stat st;
	mode_t old;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "socket path %s is too long", path);
		return -1;
	}
	strcpy(sun.sun_path, path);

	if (lstat(path, &st) == 0) {
		int probe;

		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket; remove "
			    "it or choose another socket_dir", path);
			return -1;
		}
		/* A live instance answers: refuse rather than steal it. */
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe < 0) {
			snprintf(err, errlen, "socket: %s", strerror(errno));
			return -1;
		}
		if (connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			close(probe);
			snprintf(err, errlen, "another process is serving %s; stop "
			    "it first (is volwarden already running?)", path);
			return -1;
		}
		close(probe);
		if (unlink(path) < 0) {
			snprintf(err, errlen, "cannot remove stale socket %s: %s",
			    path, strerror(errno));
			return -1;
		}
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	/* No moment with more permissions than mode. */
	old = umask(~mode & 0777);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		umask(old);
		snprintf(err, errlen, "cannot bind %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	umask(old);
	if (chown(path, 0, gid) < 0 || chmod(path, mode) < 0) {
		snprintf(err, errlen, "cannot set owner and mode of %s: %s", path,
		    strerror(errno));
		unlink(path);
		close(fd);
		return -1;
	}
	if (listen(fd, LISTEN_BACKLOG) < 0) {
		snprintf(err, errlen, "listen on %s: %s", path, strerror(errno));
		unlink(path);
		close(fd);
		return -1;
	}
	return fd;
}

/* sd_listen_fds(3): inherited sockets start at this fd. */
#define LISTEN_FDS_START	3
/* More inherited sockets than drivers is a misconfiguration; this caps
 * the loop against a garbage LISTEN_FDS. */
#define LISTEN_FDS_MAX		1024

static void
unset_listen_env(void)
{
	/* Our helpers get a fixed environment anyway; this keeps the
	 * variables from confusing anything else that might read them. */
	(void)unsetenv("LISTEN_PID");
	(void)unsetenv("LISTEN_FDS");
	(void)unsetenv("LISTEN_FDNAMES");
}

/* Check that fd is a listening AF_UNIX stream socket bound to a path;
 * put the path in sun.  Returns 0 or -1 with err set. */
static int
inherited_socket(int fd, struct sockaddr_un *sun, char *err, size_t errlen)
{
	socklen_t len;
	int v;

	len = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len) < 0 || v != AF_UNIX) {
		snprintf(err, errlen, "inherited fd %d is not a unix socket", fd);
		return -1;
	}
	len = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) < 0 ||
	    v != SOCK_STREAM) {
		snprintf(err, errlen, "inherited fd %d is not a stream socket "
		    "(ListenStream= is needed)", fd);
		return -1;
	}
	len = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) < 0 || !v) {
		snprintf(err, errlen, "inherited fd %d is not listening (Accept=no "
		    "is needed)", fd);
		return -1;
	}
	memset(sun, 0, sizeof(*sun));
	len = sizeof(*sun);
	if (getsockname(fd, (struct sockaddr *)sun, &len) < 0) {
		snprintf(err, errlen, "getsockname on inherited fd %d: %s", fd,
		    strerror(errno));
		return -1;
	}
	/* An abstract or unnamed socket has no path: it matches nothing. */
	if (len <= offsetof(struct sockaddr_un, sun_path) ||
	    sun->sun_path[0] == '\0')
		sun->sun_path[0] = '\0';
	sun->sun_path[sizeof(sun->sun_path) - 1] = '\0';
	return 0;
}

int
fe_listen_fds(struct vw_fe *fe, char *err, size_t errlen)
{
	const char *pid_s = getenv("LISTEN_PID"), *fds_s = getenv("LISTEN_FDS");
	char *end;
	long pid, n;
	int matched = 0;

	if (pid_s == NULL || fds_s == NULL) {
		unset_listen_env();
		return 0;
	}
	errno = 0;
	pid = strtol(pid_s, &end, 10);
	if (errno != 0 || end == pid_s || *end != '\0' || pid != (long)getpid()) {
		/* Meant for another process (e.g. our parent). */
		unset_listen_env();
		return 0;
	}
	errno = 0;
	n = strtol(fds_s, &end, 10);
	unset_listen_env();
	if (errno != 0 || end == fds_s || *end != '\0' || n < 0 ||
	    n > LISTEN_FDS_MAX) {
		snprintf(err, errlen, "LISTEN_FDS=%.32s is not a count of sockets",
		    fds_s);
		return -1;
	}
	for (int fd = LISTEN_FDS_START; fd < LISTEN_FDS_START + n; fd++) {
		struct sockaddr_un sun;
		struct vw_drv *drv = NULL;
		char path[VW_PATH_MAX];
		struct stat st;
		int fl;

		if (inherited_socket(fd, &sun, err, errlen) < 0)
			return -1;
		for (size_t i = 0; i < fe->ndrv && drv == NULL; i++) {
			snprintf(path, sizeof(path), "%s/%s.sock",
			    fe->cfg->socket_dir, fe->drv[i].d->name);
			if (strcmp(sun.sun_path, path) == 0 && !fe->drv[i].activated)
				drv = &fe->drv[i];
		}
		if (drv == NULL) {
			log_warnx("systemd passed fd %d bound to \"%s\", which is no "
			    "driver's socket (%s/NAME.sock); closing it", fd,
			    sun.sun_path, fe->cfg->socket_dir);
			close(fd);
			continue;
		}
		/* evhttp wants it non-blocking; the helpers must not
		 * inherit it. */
		if ((fl = fcntl(fd, F_GETFL)) < 0 ||
		    fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
		    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
			snprintf(err, errlen, "fcntl on inherited fd %d: %s", fd,
			    strerror(errno));
			return -1;
		}
		/* The service manager chose owner and mode; say so if others
		 * may connect (systemd's SocketMode= defaults to 0666). */
		if (stat(sun.sun_path, &st) == 0 && (st.st_mode & 0006))
			log_warnx("driver %s: the socket %s from systemd has mode "
			    "%04o: any user may talk to the plugin; set "
			    "SocketMode=0660", drv->d->name, sun.sun_path,
			    (unsigned)(st.st_mode & 07777));
		drv->listen_fd = fd;
		drv->activated = 1;
		matched++;
		log_info("driver %s: using the socket %s from systemd (fd %d)",
		    drv->d->name, sun.sun_path, fd);
	}
	return matched;
}

int
fe_notify_open(void)
{
	const char *env = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun;
	socklen_t len;
	size_t n;
	int fd;

	if (env == NULL)
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	n = strlen(env);
	if ((env[0] != '/' && env[0] != '@') || n < 2 ||
	    n >= sizeof(sun.sun_path)) {
		log_warnx("NOTIFY_SOCKET=%.120s is not a unix socket path; not "
		    "telling the service manager when volwarden is ready", env);
		(void)unsetenv("NOTIFY_SOCKET");
		return -1;
	}
	memcpy(sun.sun_path, env, n);
	if (env[0] == '@')
		sun.sun_path[0] = '\0';		/* abstract namespace */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
	    (env[0] == '@' ? 0 : 1));
	(void)unsetenv("NOTIFY_SOCKET");
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0) {
		log_warn("socket for NOTIFY_SOCKET");
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, len) < 0) {
		log_warn("cannot connect to NOTIFY_SOCKET %s", sun.sun_path[0] ?
		    sun.sun_path : "(abstract)");
		close(fd);
		return -1;
	}
	return fd;
}

void
fe_notify(int fd, const char *state)
{
	if (fd < 0)
		return;
	if (send(fd, state, strlen(state), MSG_NOSIGNAL) < 0)
		log_warn("telling the service manager \"%s\"", state);
}
