/*
 * hammer: abusive clients for the limits test.
 *   hammer SOCKET conns N SECONDS   open N connections, hold them, count
 *                                   those the daemon closed, close
 *   hammer SOCKET slow SECONDS      send one request one byte a second
 *   hammer SOCKET garbage N         N malformed requests, one connection each
 * Prints one summary line.
 */
#include "vw-build.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const char *sock_path;

/* nonblock: fail with EAGAIN instead of waiting when the backlog is full. */
static int
dial_flags(int nonblock)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
	    (nonblock ? SOCK_NONBLOCK : 0), 0);

	if (fd < 0)
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock_path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
dial(void)
{
	return dial_flags(0);
}

/* How many of the n fds the peer has closed (POLLRDHUP). */
static int
closed_by_peer(const int *fds, int n)
{
	int closed = 0;

	for (int i = 0; i < n; i++) {
		struct pollfd p = { .fd = fds[i], .events = POLLRDHUP };

		if (fds[i] >= 0 && poll(&p, 1, 0) == 1 &&
		    (p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
			closed++;
	}
	return closed;
}

static int
conns(int n, int seconds)
{
	int *fds = calloc((size_t)n, sizeof(int)), opened = 0;
	time_t give_up = time(NULL) + 10;

	if (fds == NULL)
		return 1;
	for (int i = 0; i < n; i++) {
		/* connect() succeeds while the kernel backlog has room, even
		 * if the daemon is not accepting; with the backlog full,
		 * retry for up to 10 s in all. */
		while ((fds[i] = dial_flags(1)) < 0 && errno == EAGAIN &&
		    time(NULL) < give_up)
			usleep(1000);
		if (fds[i] >= 0)
			opened++;
	}
	printf("opened %d of %d connections, ", opened, n);
	fflush(stdout);
	sleep((unsigned)seconds);
	printf("%d of them closed by the daemon\n", closed_by_peer(fds, n));
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return 0;
}

static int
slow(int seconds)
{
	static const char req[] = "POST /VolumeDriver.List HTTP/1.1\r\n"
	    "Host: \r\nContent-Length: 2\r\n\r\n{}";
	int fd = dial(), sent = 0;

	if (fd < 0)
		return 1;
	for (int i = 0; i < seconds && i < (int)sizeof(req) - 1; i++) {
		if (write(fd, req + i, 1) != 1)
			break;
		sent++;
		sleep(1);
	}
	printf("sent %d bytes slowly\n", sent);
	close(fd);
	return 0;
}

static int
garbage(int n)
{
	static const char *const bodies[] = {
		"{\"Name\":", "{\"Name\":1}", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
		"{\"Name\":\"\\u0000\"}", "{\"Name\":\"\xff\xfe\"}", "\0\0\0\0",
		"{\"Opts\":{\"a\":{\"b\":1}}}", "null", "", "{\"Name\":\"x\",",
	};
	static char huge[64 * 1024];
	int answered = 0;

	memset(huge, 'a', sizeof(huge));
	huge[0] = '"';
	huge[sizeof(huge) - 1] = '"';
	for (int i = 0; i < n; i++) {
		char req[512], buf[4096];
		const char *body = bodies[i % 10];
		size_t blen = i % 10 == 5 ? 4 : strlen(body);
		int fd = dial(), hn;

		if (fd < 0)
			continue;
		if (i % 97 == 0) {
			body = huge;
			blen = sizeof(huge);
		}
		hn = snprintf(req, sizeof(req), "POST /VolumeDriver.%s HTTP/1.1\r\n"
		    "Host: \r\nContent-Length: %zu\r\n\r\n",
		    i % 3 ? "Create" : "Mount", blen);
		/* Answered: an HTTP reply, or the daemon closing a request it
		 * refuses to read (e.g. an oversized body). */
		if (write(fd, req, (size_t)hn) == hn) {
			ssize_t r;

			(void)!write(fd, body, blen);
			r = read(fd, buf, sizeof(buf) - 1);
			if (r > 0 ? strncmp(buf, "HTTP/1.1 ", 9) == 0 : r == 0 ||
			    errno == ECONNRESET)
				answered++;
		}
		close(fd);
	}
	printf("answered %d of %d malformed requests\n", answered, n);
	return 0;
}

int
main(int argc, char *argv[])
{
	/* The daemon may close a connection while we still write to it. */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 4)
		goto usage;
	sock_path = argv[1];
	if (strcmp(argv[2], "conns") == 0 && argc == 5)
		return conns(atoi(argv[3]), atoi(argv[4]));
	if (strcmp(argv[2], "slow") == 0)
		return slow(atoi(argv[3]));
	if (strcmp(argv[2], "garbage") == 0)
		return garbage(atoi(argv[3]));
usage:
	fprintf(stderr, "usage: hammer SOCKET conns N SECONDS | slow SECONDS | "
	    "garbage N\n");
	return 2;
}
