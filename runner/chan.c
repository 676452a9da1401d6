/* The helper <-> mkfs runner datagrams, with descriptors; see runner.h. */
#include "vw-build.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runner/runner.h"

int
vw_mkfs_send(int sock, const void *buf, size_t len, const int *fds, int nfd)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * VW_MKFS_MAXFD)];
	} cm;
	struct iovec iov = { (void *)(uintptr_t)buf, len };
	struct msghdr msg;
	ssize_t n;

	if (nfd < 0 || nfd > VW_MKFS_MAXFD) {
		errno = EINVAL;
		return -1;
	}
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (nfd > 0) {
		struct cmsghdr *c;

		memset(&cm, 0, sizeof(cm));
		msg.msg_control = cm.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfd);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfd);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfd);
	}
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if ((size_t)n != len) {
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

int
vw_mkfs_recv(int sock, void *buf, size_t len, int *fds, int *nfd)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * (VW_MKFS_MAXFD + 1))];
	} cm;
	char extra;
	struct iovec iov[2] = { { buf, len }, { &extra, 1 } };
	struct msghdr msg;
	struct cmsghdr *c;
	ssize_t n;
	int bad;

	for (int i = 0; i < VW_MKFS_MAXFD; i++)
		fds[i] = -1;
	*nfd = 0;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;	/* one byte more shows an oversized datagram */
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	bad = (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0 ||
	    (n != 0 && (size_t)n != len);
	for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
		size_t k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (*nfd < VW_MKFS_MAXFD)
				fds[(*nfd)++] = fd;
			else {
				close(fd);
				bad = 1;
			}
		}
	}
	if (n == 0 && *nfd == 0 && !bad)
		return 0;
	if (bad || n == 0) {
		for (int i = 0; i < *nfd; i++) {
			close(fds[i]);
			fds[i] = -1;
		}
		*nfd = 0;
		errno = EBADMSG;
		return -1;
	}
	return 1;
}
