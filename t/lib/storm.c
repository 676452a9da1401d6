/*
 * storm: a load generator for fault tests.  W worker processes each own a
 * disjoint set of volume names and send Create or Remove (whichever flips
 * the name's state) over one keep-alive connection to a plugin socket.
 * Before a request it writes "S name op", after a success reply
 * "A name op", to the log (one write(2) per line, so lines survive a
 * kill).  A worker stops at its op count or at the first transport error
 * (the daemon was killed).
 *
 * usage: storm SOCKET LOG WORKERS NAMES_PER_WORKER OPS_PER_WORKER PREFIX
 */
#include "vw-build.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static int
dial(const char *path)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Send one request and read one reply; returns 1 if the reply is 200
 * with an empty Err ("{}"), 0 for another reply, -1 on transport error. */
static int
call(int fd, const char *endpoint, const char *body)
{
	char req[1024], buf[8192];
	size_t got = 0;
	int n = snprintf(req, sizeof(req), "POST /VolumeDriver.%s HTTP/1.1\r\n"
	    "Host: \r\nContent-Length: %zu\r\n\r\n%s", endpoint, strlen(body), body);

	if (write(fd, req, (size_t)n) != n)
		return -1;
	for (;;) {
		ssize_t r = read(fd, buf + got, sizeof(buf) - 1 - got);
		char *hdr_end, *cl;
		size_t clen;

		if (r <= 0)
			return -1;
		got += (size_t)r;
		buf[got] = '\0';
		if ((hdr_end = strstr(buf, "\r\n\r\n")) == NULL)
			continue;
		cl = strcasestr(buf, "Content-Length:");
		if (cl == NULL)
			return -1;
		clen = strtoul(cl + 15, NULL, 10);
		if (got < (size_t)(hdr_end + 4 - buf) + clen)
			continue;
		return strncmp(buf, "HTTP/1.1 200", 12) == 0 &&
		    strncmp(hdr_end + 4, "{}", 2) == 0 ? 1 : 0;
	}
}

static void
logline(int logfd, const char *what, const char *name, const char *op)
{
	char line[128];
	int n = snprintf(line, sizeof(line), "%s %s %s\n", what, name, op);

	if (write(logfd, line, (size_t)n) != n)
		_exit(3);
}

static void
worker(const char *sock, int logfd, int w, int nnames, int nops,
    const char *prefix)
{
	char *present = calloc((size_t)nnames, 1);
	int fd = dial(sock);

	if (fd < 0 || present == NULL)
		_exit(1);
	srand((unsigned)(getpid() ^ w));
	for (int i = 0; i < nops; i++) {
		int k = rand() % nnames, rc;
		char name[64], body[128];
		const char *op = present[k] ? "Remove" : "Create";

		snprintf(name, sizeof(name), "%s-%d-%d", prefix, w, k);
		snprintf(body, sizeof(body), "{\"Name\":\"%s\"}", name);
		logline(logfd, "S", name, op);
		rc = call(fd, op, body);
		if (rc < 0)
			_exit(0);	/* the daemon went away */
		if (rc == 1) {
			logline(logfd, "A", name, op);
			present[k] = !present[k];
		}
	}
	_exit(0);
}

int
main(int argc, char *argv[])
{
	int workers, nnames, nops, logfd;

	if (argc != 7) {
		fprintf(stderr, "usage: storm SOCKET LOG WORKERS NAMES OPS PREFIX\n");
		return 2;
	}
	workers = atoi(argv[3]);
	nnames = atoi(argv[4]);
	nops = atoi(argv[5]);
	logfd = open(argv[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (logfd < 0) {
		perror(argv[2]);
		return 1;
	}
	for (int w = 0; w < workers; w++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0)
			worker(argv[1], logfd, w, nnames, nops, argv[6]);
	}
	while (wait(NULL) > 0 || errno == EINTR)
		;
	return 0;
}
