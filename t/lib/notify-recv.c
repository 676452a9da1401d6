/*
 * notify-recv PATH OUT SECONDS: a stand-in for systemd's notify socket in
 * tests.  Binds a datagram unix socket at PATH, then writes each message
 * received (one per line, newlines inside shown as ';') to OUT, flushing
 * after each, until a message contains STOPPING=1 or nothing arrives for
 * SECONDS.  Exits 0 if STOPPING=1 was seen, 1 on timeout, 2 on error.
 */
#include "vw-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

int
main(int argc, char *argv[])
{
	struct sockaddr_un sun;
	struct timeval tv;
	char buf[4096];
	FILE *out;
	int fd;

	if (argc != 4 || strlen(argv[1]) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "usage: notify-recv PATH OUT SECONDS\n");
		return 2;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, argv[1]);
	tv.tv_sec = atoi(argv[3]);
	tv.tv_usec = 0;
	if ((out = fopen(argv[2], "a")) == NULL ||
	    (fd = socket(AF_UNIX, SOCK_DGRAM, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		perror("notify-recv");
		return 2;
	}
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);

		if (n < 0)
			return 1;
		buf[n] = '\0';
		for (char *p = buf; *p != '\0'; p++)
			if (*p == '\n')
				*p = ';';
		if (fprintf(out, "%s\n", buf) < 0 || fflush(out) != 0)
			return 2;
		if (strstr(buf, "STOPPING=1") != NULL)
			return 0;
	}
}
