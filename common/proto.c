/* Framing of frontend <-> privhelper messages; see proto.h. */
#include "vw-build.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "proto.h"

const char *
vw_msg_name(uint32_t type)
{
	switch (type) {
#define VW_MSG_CASE(name, value)				\
	case value: return #name;				\
	case value | VW_MSG_REPLY: return #name " reply";
	VW_MSG_TYPES(VW_MSG_CASE)
#undef VW_MSG_CASE
	}
	return "unknown";
}

int
vw_msg_send(int sock, uint32_t type, uint64_t id, const void *payload,
    size_t len, int fd_to_pass)
{
	struct vw_msg_hdr hdr;
	struct iovec iov[2];
	struct msghdr msg;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	const unsigned char *p = payload;
	size_t wire = len;
	ssize_t n;

	if (len > VW_MSG_MAX - sizeof(hdr)) {
		errno = EMSGSIZE;
		return -1;
	}
	/* Trailing zero bytes stay home (proto.h): a volume request is
	 * 4.6 KB of mostly empty path buffers, and copying it through the
	 * socket twice per round trip was most of a Mount's cost. */
	while (wire > 0 && p[wire - 1] == 0)
		wire--;
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = type;
	hdr.len = (uint32_t)len;
	hdr.id = id;
	iov[0].iov_base = &hdr;
	iov[0].iov_len = sizeof(hdr);
	iov[1].iov_base = (void *)(uintptr_t)payload;
	iov[1].iov_len = wire;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = wire > 0 ? 2 : 1;
	if (fd_to_pass >= 0) {
		struct cmsghdr *c;

		memset(&cm, 0, sizeof(cm));
		msg.msg_control = cm.buf;
		msg.msg_controllen = sizeof(cm.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd_to_pass, sizeof(int));
	}
	do {
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if ((size_t)n != sizeof(hdr) + wire) {
		/* SEQPACKET is all or nothing; anything else is a bug. */
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

int
vw_msg_recv(int sock, void *buf, size_t bufsize, struct vw_msg_hdr *hdr,
    void **payload, int *fd)
{
	struct iovec iov;
	struct msghdr msg;
	struct cmsghdr *c;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} cm;
	ssize_t n;
	int got_fd = -1, bad = 0;

	if (fd != NULL)
		*fd = -1;
	iov.iov_base = buf;
	iov.iov_len = bufsize;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	do {
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;

	/* Collect passed descriptors first so that none leaks on error. */
	for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			size_t i, nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (i = 0; i < nfd; i++) {
				int f;

				memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				if (got_fd < 0 && fd != NULL)
					got_fd = f;
				else {
					close(f);
					bad = 1;
				}
			}
		}
	}
	if (n == 0 && got_fd < 0 && !bad) {
		struct pollfd pfd = { .fd = sock, .events = POLLRDHUP };

		/* SEQPACKET reads 0 both at EOF and for an empty datagram;
		 * only a hang-up is EOF.  Every message has a header. */
		if (poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLRDHUP | POLLHUP)))
			return 0;
		errno = EBADMSG;
		return -1;
	}
	if (bad || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
	    (size_t)n < sizeof(*hdr))
		goto badmsg;
	memcpy(hdr, buf, sizeof(*hdr));
	/* The payload arrives without its trailing zero bytes: at most
	 * hdr->len of it, ending in a non-zero byte (one encoding per
	 * message), and the rest is zero-filled here. */
	if ((size_t)n > sizeof(*hdr) + hdr->len ||
	    sizeof(*hdr) + (size_t)hdr->len >= bufsize ||
	    ((size_t)n > sizeof(*hdr) && ((unsigned char *)buf)[n - 1] == 0))
		goto badmsg;
	memset((char *)buf + n, 0, sizeof(*hdr) + hdr->len - (size_t)n);
	*payload = (char *)buf + sizeof(*hdr);
	if (fd != NULL)
		*fd = got_fd;
	return 1;

badmsg:
	if (got_fd >= 0)
		close(got_fd);
	errno = EBADMSG;
	return -1;
}
