/* The helper protocol codec: framing, exact lengths, truncation, stray
 * descriptors and message names. */
#include "vw-build.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/proto.h"
#include "t/lib/tap.h"

static int
pair(int sv[2])
{
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv);
}

int
main(void)
{
	static char buf[VW_MSG_MAX + 1];
	struct vw_volume_req req;
	struct vw_msg_hdr hdr;
	void *payload;
	int sv[2], fd, rc;

	if (pair(sv) < 0)
		bail("socketpair");

	/* A round trip keeps type, id and payload. */
	memset(&req, 0, sizeof(req));
	strcpy(req.name, "data1");
	req.opts.flags = VW_OPT_UID;
	req.opts.uid = 1000;
	ok(vw_msg_send(sv[0], VW_MSG_VOLUME_CREATE, 42, &req, sizeof(req), -1) == 0,
	    "send a volume request");
	rc = vw_msg_recv(sv[1], buf, sizeof(buf), &hdr, &payload, &fd);
	is_int(rc, 1, "receive it");
	is_int(hdr.type, VW_MSG_VOLUME_CREATE, "type kept");
	is_int((long long)hdr.id, 42, "id kept");
	is_int(hdr.len, sizeof(req), "length is the payload size");
	ok(memcmp(payload, &req, sizeof(req)) == 0, "payload kept");
	is_int(fd, -1, "no descriptor");

	/* Trailing zero bytes are not sent, and come back as zeros. */
	memset(buf, 0x5a, sizeof(buf));
	ok(vw_msg_send(sv[0], VW_MSG_VOLUME_CREATE, 43, &req, sizeof(req), -1) == 0,
	    "send it again");
	{
		ssize_t wire = recv(sv[1], buf, sizeof(buf), MSG_PEEK);

		ok(wire > (ssize_t)sizeof(hdr) && wire < 400,
		    "the datagram stops at the last non-zero byte (%zd bytes)", wire);
	}
	rc = vw_msg_recv(sv[1], buf, sizeof(buf), &hdr, &payload, &fd);
	ok(rc == 1 && hdr.len == sizeof(req) &&
	    memcmp(payload, &req, sizeof(req)) == 0,
	    "the receiver zero-fills it back to the full payload");

	/* A datagram that sends a trailing zero (not canonical) is refused. */
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = VW_MSG_VOLUME_CREATE;
	hdr.len = sizeof(req);
	memcpy(buf, &hdr, sizeof(hdr));
	memset(buf + sizeof(hdr), 0, 64);
	buf[sizeof(hdr)] = 'x';
	ok(write(sv[0], buf, sizeof(hdr) + 64) == (ssize_t)sizeof(hdr) + 64,
	    "write a message ending in zero bytes");
	rc = vw_msg_recv(sv[1], buf, sizeof(buf), &hdr, &payload, &fd);
	ok(rc == -1 && errno == EBADMSG, "a sent trailing zero is EBADMSG");

	/* A header claiming more than the buffer holds is refused. */
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = VW_MSG_VOLUME_CREATE;
	hdr.len = 0x7fffffff;
	memcpy(buf, &hdr, sizeof(hdr));
	buf[sizeof(hdr)] = 'x';
	ok(write(sv[0], buf, sizeof(hdr) + 1) == (ssize_t)sizeof(hdr) + 1,
	    "write a message claiming 2 GiB");
	rc = vw_msg_recv(sv[1], buf, sizeof(buf), &hdr, &payload, &fd);
	ok(rc == -1 && errno == EBADMSG, "a length beyond the buffer is EBADMSG");

	/* The biggest message fits; one byte more is refused by the sender. */
	ok(vw_msg_send(sv[0], VW_MSG_VOLUME_CREATE | VW_MSG_REPLY, 1, buf,
	    VW_MSG_MAX - sizeof(hdr) + 1, -1) < 0 && errno == EMSGSIZE,
	    "oversized payload refused with EMSGSIZE");

	/* A raw datagram shorter than a header is EBADMSG. */
	ok(write(sv[0], "abc", 3) == 3, "write a 3-byte datagram");
	rc = vw_msg_recv(sv[1], buf, sizeof(buf), &hdr, &payload, &fd);
	ok(rc == -1 && errno == EBADMSG, "short datagram is EBADMSG");

	/* A header whose len is shorter than the datagram is EBADMSG. */
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = VW_MSG_HELLO;
	hdr.len = 10;
	memcpy(buf, &hdr, sizeof(hdr));
	memset(buf + sizeof(hdr), 'y', 16);
	ok(write(sv[0], buf, sizeof(hdr) + 16) == (ssize_t)sizeof(hdr) + 16,
	    "write a mis-sized message");
	rc = vw_msg_recv(sv[1], buf, sizeof(buf), &hdr, &payload, &fd);
	ok(rc == -1 && errno == EBADMSG, "length mismatch is EBADMSG");

	/* A datagram larger than the buffer is truncated: EBADMSG. */
	{
		static char big[VW_MSG_MAX + 64];

		memset(big, 0, sizeof(big));
		ok(write(sv[0], big, sizeof(big)) == (ssize_t)sizeof(big),
		    "write an oversized datagram");
		rc = vw_msg_recv(sv[1], buf, sizeof(buf), &hdr, &payload, &fd);
		ok(rc == -1 && errno == EBADMSG, "truncated datagram is EBADMSG");
	}

	/* A descriptor where none is expected is closed and refused. */
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ok(vw_msg_send(sv[0], VW_MSG_HELLO, 7, NULL, 0, fd) == 0,
	    "send a message with a descriptor");
	close(fd);
	rc = vw_msg_recv(sv[1], buf, sizeof(buf), &hdr, &payload, NULL);
	ok(rc == -1 && errno == EBADMSG, "unexpected descriptor is EBADMSG");

	/* An expected descriptor arrives with O_CLOEXEC. */
	fd = open("/dev/null", O_RDONLY);
	ok(vw_msg_send(sv[0], VW_MSG_HELLO, 8, NULL, 0, fd) == 0,
	    "send a descriptor");
	close(fd);
	rc = vw_msg_recv(sv[1], buf, sizeof(buf), &hdr, &payload, &fd);
	ok(rc == 1 && fd >= 0, "descriptor received");
	ok(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC), "with FD_CLOEXEC");
	if (fd >= 0)
		close(fd);

	/* An empty datagram is not EOF (SEQPACKET reads 0 for both). */
	ok(send(sv[0], "", 0, 0) == 0, "send an empty datagram");
	rc = vw_msg_recv(sv[1], buf, sizeof(buf), &hdr, &payload, &fd);
	ok(rc == -1 && errno == EBADMSG, "an empty datagram is EBADMSG, not EOF");

	/* EOF is 0. */
	close(sv[0]);
	is_int(vw_msg_recv(sv[1], buf, sizeof(buf), &hdr, &payload, &fd), 0,
	    "EOF reads as 0");
	close(sv[1]);

	is_string(vw_msg_name(VW_MSG_VOLUME_MOUNT), "VOLUME_MOUNT", "name of a request");
	is_string(vw_msg_name(VW_MSG_HELLO | VW_MSG_REPLY), "HELLO reply",
	    "name of a reply");
	is_string(vw_msg_name(999), "unknown", "name of an unknown type");
	return done_testing();
}
