/* Configuration parsing: errors name the key and the reason; the canonical
 * print parses back to the same digest. */
#include "vw-build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/proto.h"
#include "t/lib/tap.h"

static const char *
parse_err(const char *text)
{
	static char err[1024];
	struct vw_config cfg;

	err[0] = '\0';
	if (vw_config_parse(&cfg, text, "t.json", err, sizeof(err)) == 0 &&
	    vw_config_validate(&cfg, err, sizeof(err)) == 0)
		snprintf(err, sizeof(err), "(accepted)");
	vw_config_free(&cfg);
	return err;
}

/* got contains want. */
static void
has(const char *got, const char *want, const char *what)
{
	if (!ok(strstr(got, want) != NULL, "%s", what))
		diag("got \"%s\", should contain \"%s\"", got, want);
}

#define DRV(body) "{\"drivers\":[{\"name\":\"vw\",\"backend\":\"dir\",\"root\":\"/v\"" body "}]}"
/* Top-level keys before one minimal driver. */
#define TOP(keys) "{" keys ",\"drivers\":[{\"name\":\"vw\",\"backend\":\"dir\",\"root\":\"/v\"}]}"

int
main(void)
{
	struct vw_config cfg, again;
	struct vw_overrides ov;
	char err[1024], *buf = NULL;
	size_t len = 0;
	FILE *fp;

	is_string(parse_err(DRV("")), "(accepted)", "minimal driver accepted");
	is_string(parse_err("{"), "t.json: not valid JSON: parse error: premature EOF { (right here) ------^",
	    "invalid JSON");
	has_string(parse_err("[]"), "top level must be a JSON object", "array at top level");
	is_string(parse_err("{\"drivers\":[]}"),
	    "t.json: key drivers: must be a non-empty array of driver objects", "empty drivers");
	is_string(parse_err("{\"user\":\"x\"}"), "t.json: key drivers: is required",
	    "drivers missing");
	is_string(parse_err("{\"bogus\":1,\"drivers\":[{\"name\":\"vw\",\"backend\":\"dir\",\"root\":\"/v\"}]}"),
	    "t.json: key bogus: unknown key; valid keys are: user, state_dir, run_dir, socket_dir, socket_group, admin_socket, limits, drivers",
	    "unknown top-level key");
	is_string(parse_err(DRV(",\"size\":\"1G\"")),
	    "t.json: key drivers[0].size: unknown key; valid driver keys are: name, backend, root, allowed_roots, on_remove, for backend loop default_size, fs, mount_dir, and for glusterfs volume, servers, subdir, node, lease_ttl",
	    "unknown driver key");
	is_string(parse_err(DRV(",\"fs\":\"xfs\"")),
	    "t.json: key drivers[0]: default_size, fs and mount_dir are keys of backend \"loop\" only",
	    "loop keys refused for a dir driver");
	{
		struct vw_config c;
		char e[512];

		memset(&c, 0, sizeof(c));
		ok(vw_config_parse(&c, "{\"drivers\":[{\"name\":\"vl\",\"backend\":"
		    "\"loop\",\"root\":\"/v\",\"fs\":\"xfs\",\"default_size\":"
		    "\"100M\"}]}", "t.json", e, sizeof(e)) < 0 &&
		    strcmp(e, "t.json: key drivers[0].default_size: xfs needs at "
		    "least 300 MiB; raise default_size") == 0,
		    "loop: a default_size below the fs minimum is refused");
		vw_config_free(&c);
		memset(&c, 0, sizeof(c));
		ok(vw_config_parse(&c, "{\"drivers\":[{\"name\":\"vl\",\"backend\":"
		    "\"loop\",\"root\":\"/v\"}]}", "t.json", e, sizeof(e)) == 0 &&
		    c.drivers[0].fs == VW_FS_EXT4 &&
		    c.drivers[0].default_size == (10ULL << 30) &&
		    strcmp(c.drivers[0].mount_dir, "/run/volwarden/loop/vl") == 0,
		    "loop: defaults ext4, 10G, /run/volwarden/loop/NAME");
		vw_config_free(&c);
	}
	is_string(parse_err("{\"drivers\":[{\"name\":\"vw\",\"backend\":\"dir\",\"root\":\"rel\"}]}"),
	    "t.json: key drivers[0].root: must be an absolute path, got \"rel\"",
	    "relative root");
	{
		char want[256];

		snprintf(want, sizeof(want), "t.json: key drivers[0].backend: "
		    "backend \"zfs\" is not available in this build; available: "
		    "dir%s, loop%s", VW_BTRFS_BUILT ? ", btrfs" : "",
		    VW_GLUSTERFS_BUILT ? ", glusterfs" : "");
		is_string(parse_err("{\"drivers\":[{\"name\":\"vw\",\"backend\":\"zfs\",\"root\":\"/v\"}]}"),
		    want, "backend not built");
	}
	is_string(parse_err("{\"drivers\":[{\"name\":\"vw\",\"backend\":\"btrfs\",\"root\":\"/v\"}]}"),
	    VW_BTRFS_BUILT ? "(accepted)" :
	    "t.json: key drivers[0].backend: backend \"btrfs\" is not available: this volwarden was built without libbtrfsutil; install libbtrfsutil-dev and rebuild (./configure --with-btrfs), or use backend \"dir\"",
	    "backend btrfs: accepted with libbtrfsutil, else refused with advice");
	is_string(parse_err("{\"drivers\":[{\"name\":\"vw\",\"backend\":\"btrfs\",\"root\":\"/v\",\"allowed_roots\":[\"/srv\"]}]}"),
	    VW_BTRFS_BUILT ?
	    "t.json: key drivers[0].allowed_roots: only the dir backend places volumes under allowed roots (and loop reads sources and images there); a btrfs volume always lives under the driver root /v" :
	    "t.json: key drivers[0].backend: backend \"btrfs\" is not available: this volwarden was built without libbtrfsutil; install libbtrfsutil-dev and rebuild (./configure --with-btrfs), or use backend \"dir\"",
	    "allowed_roots refused for btrfs");
	is_string(parse_err(DRV(",\"root\":\"/w\"")),
	    "t.json: key drivers[0].root: given twice", "a driver key twice");
	is_string(parse_err("{\"user\":\"a\",\"user\":\"b\",\"drivers\":[{\"name\":\"vw\",\"backend\":\"dir\",\"root\":\"/v\"}]}"),
	    "t.json: key user: given twice", "a top-level key twice");
	is_string(parse_err(DRV(",\"on_remove\":\"shred\"")),
	    "t.json: key drivers[0].on_remove: must be \"keep\", \"delete\" or \"archive\"",
	    "bad on_remove");
	is_string(parse_err(DRV(",\"allowed_roots\":[\"/a/../b\"]")),
	    "t.json: key drivers[0].allowed_roots[0]: '.' and '..' components are not allowed in \"/a/../b\"",
	    "allowed root with ..");
	is_string(parse_err(DRV(",\"allowed_roots\":\"/a\"")),
	    "t.json: key drivers[0].allowed_roots: must be an array of absolute paths",
	    "allowed_roots not an array");
	/* Found by t/fuzz/fuzz-config: the second array was read with the
	 * first one's count. */
	is_string(parse_err(DRV(",\"allowed_roots\":[\"/a\",\"/b\"],\"allowed_roots\":[]")),
	    "t.json: key drivers[0].allowed_roots: given twice",
	    "allowed_roots given twice");
	is_string(parse_err("{\"drivers\":[{\"name\":\"a b\",\"backend\":\"dir\",\"root\":\"/v\"}]}"),
	    "t.json: key drivers[0].name: \"a b\" is not a valid driver name (letters, digits, _ . -, at least two characters)",
	    "bad driver name");
	is_string(parse_err("{\"drivers\":[{\"name\":\"vw\",\"backend\":\"dir\",\"root\":\"/v\"},"
	    "{\"name\":\"vw\",\"backend\":\"dir\",\"root\":\"/w\"}]}"),
	    "t.json: key drivers[1].name: driver \"vw\" is defined twice", "duplicate driver");
	is_string(parse_err("{\"drivers\":[{\"name\":\"vw\",\"backend\":\"dir\",\"root\":\"/v\"},"
	    "{\"name\":\"v2\",\"backend\":\"dir\",\"root\":\"/v/sub\"}]}"),
	    "t.json: key drivers[1].root: /v/sub overlaps the root /v of driver vw; driver roots must not contain each other",
	    "nested driver roots");
	is_string(parse_err("{\"state_dir\":\"/srv/state\",\"drivers\":[{\"name\":\"vw\",\"backend\":\"dir\",\"root\":\"/v\",\"allowed_roots\":[\"/srv\"]}]}"),
	    "t.json: key drivers[0].allowed_roots[0]: /srv overlaps state_dir /srv/state; volumes must live apart from volwarden's own directories",
	    "an allowed root containing the state directory");
	is_string(parse_err(DRV(",\"allowed_roots\":[\"/v/x\"]")),
	    "t.json: key drivers[0].allowed_roots[0]: /v/x overlaps the root /v of driver vw; use relative mountpoints for places under a driver root",
	    "allowed root inside the driver root");
	is_string(parse_err("{\"drivers\":[{\"backend\":\"dir\",\"root\":\"/v\"}]}"),
	    "t.json: key drivers[0]: \"name\" is required", "name missing");
	is_string(parse_err("{\"state_dir\":5,\"drivers\":[{\"name\":\"vw\",\"backend\":\"dir\",\"root\":\"/v\"}]}"),
	    "t.json: key state_dir: must be a string", "state_dir not a string");

	/* The admin socket: absolute, short enough, and in a directory the
	 * frontend user does not own and dockerd does not scan. */
	is_string(parse_err(TOP("\"admin_socket\":\"/run/vw/admin.sock\"")),
	    "(accepted)", "admin_socket accepted");
	is_string(parse_err(TOP("\"admin_socket\":\"admin.sock\"")),
	    "t.json: key admin_socket: must be an absolute path, got \"admin.sock\"",
	    "relative admin_socket");
	is_string(parse_err(TOP("\"run_dir\":\"/run/vw\",\"admin_socket\":\"/run/vw/admin.sock\"")),
	    "t.json: key admin_socket: /run/vw/admin.sock lies in run_dir /run/vw; put the "
	    "admin socket in a directory that only root can write, outside state_dir, "
	    "run_dir and socket_dir", "admin_socket in run_dir");
	has_string(parse_err(TOP("\"state_dir\":\"/s\",\"admin_socket\":\"/s/x/admin.sock\"")),
	    "lies in state_dir /s;", "admin_socket below state_dir");
	has_string(parse_err(TOP("\"admin_socket\":\"/run/docker/plugins/admin.sock\"")),
	    "lies in socket_dir /run/docker/plugins;", "admin_socket in socket_dir");
	is_string(parse_err(TOP("\"run_dir\":\"/run/vw/mounts\",\"admin_socket\":\"/run/vw/admin.sock\"")),
	    "(accepted)", "run_dir below the admin socket's directory is fine");
	has_string(parse_err(TOP("\"admin_socket\":\"/run/vw/"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    ".sock\"")), "longer than a unix socket path may be",
	    "admin_socket too long");
	is_string(parse_err(TOP("\"admin_socket\":\"/a\",\"admin_socket\":\"/b\"")),
	    "t.json: key admin_socket: given twice", "admin_socket given twice");

	/* The embedded default, with overrides, and its canonical print. */
	memset(&ov, 0, sizeof(ov));
	ov.no_config = 1;
	ov.root = "/tmp/r//x/";
	ov.allowed_roots[ov.nallowed++] = "/srv/docker";
	ok(vw_config_load(&cfg, &ov, 0, err, sizeof(err)) == 0, "embedded default loads");
	is_string(cfg.drivers[0].name, "volwarden", "default driver name");
	is_string(cfg.drivers[0].root, "/tmp/r/x", "--root overrides and is normalised");
	is_string(cfg.socket_dir, "/run/docker/plugins", "default socket dir");
	is_string(cfg.run_dir, "/run/volwarden/mounts", "default run dir");
	is_string(cfg.admin_socket, "/run/volwarden/admin.sock", "default admin socket");
	is_int((long long)cfg.drivers[0].nallowed, 1, "--allowed-root added");
	fp = open_memstream(&buf, &len);
	vw_config_print(&cfg, fp);
	fclose(fp);
	ok(vw_config_parse(&again, buf, "print", err, sizeof(err)) == 0 &&
	    vw_config_validate(&again, err, sizeof(err)) == 0,
	    "the canonical print parses back");
	ok(vw_config_digest(&cfg) == vw_config_digest(&again),
	    "to the same configuration (digest)");
	vw_config_free(&again);
	free(buf);

	/* Helper argv round trip. */
	{
		const char *argv[64];
		int n = vw_overrides_argv(&ov, 0, NULL, argv, 0, 60), found = 0;

		ok(n > 0 && strcmp(argv[0], "--no-config") == 0,
		    "helper argv starts with --no-config");
		ok(n > 0 && argv[n] == NULL, "and is NULL-terminated");

		ov.admin_socket = "/run/x/admin.sock";
		n = vw_overrides_argv(&ov, 0, NULL, argv, 0, 60);
		for (int i = 0; i + 1 < n; i++)
			if (strcmp(argv[i], "--admin-socket") == 0 &&
			    strcmp(argv[i + 1], "/run/x/admin.sock") == 0)
				found = 1;
		ok(found, "--admin-socket is passed on to the helper");
	}
	vw_config_free(&cfg);

	/* glusterfs drivers. */
#define GL(body) "{\"drivers\":[{\"name\":\"gv\",\"backend\":\"glusterfs\",\"root\":\"/g\"" body "}]}"
	if (VW_GLUSTERFS_BUILT) {
		is_string(parse_err(GL(",\"volume\":\"gv0\",\"servers\":[\"h1\",\"h2:24007\",\"tcp://[::1]:24007\",\"unix:///run/g.sock\"],\"subdir\":\"docker//vols/\",\"node\":\"n1\",\"lease_ttl\":10")),
		    "(accepted)", "glusterfs: every key accepted");
		is_string(parse_err(GL(",\"servers\":[\"h1\"]")),
		    "t.json: key drivers[0].volume: a glusterfs driver needs the Gluster volume's name",
		    "glusterfs: volume required");
		is_string(parse_err(GL(",\"volume\":\"gv0\"")),
		    "t.json: key drivers[0].servers: a glusterfs driver needs at least one Gluster server",
		    "glusterfs: servers required");
		is_string(parse_err(GL(",\"volume\":\"g/v\",\"servers\":[\"h1\"]")),
		    "t.json: key drivers[0].volume: \"g/v\" is not a Gluster volume name (1 to 64 letters, digits, '-' and '_')",
		    "glusterfs: a volume name with / refused");
		has(parse_err(GL(",\"volume\":\"gv0\",\"servers\":[\"h1:99999\"]")),
		    "servers[0]: \"h1:99999\" is not a server",
		    "glusterfs: a bad port refused");
		has(parse_err(GL(",\"volume\":\"gv0\",\"servers\":[\"h 1\"]")),
		    "is not a server", "glusterfs: a host name with a space refused");
		has(parse_err(GL(",\"volume\":\"gv0\",\"servers\":[\"h1\"],\"subdir\":\"a/../b\"")),
		    "drivers[0].subdir: \"a/../b\" must be a relative path",
		    "glusterfs: subdir with .. refused");
		has(parse_err(GL(",\"volume\":\"gv0\",\"servers\":[\"h1\"],\"subdir\":\"/abs\"")),
		    "must be a relative path", "glusterfs: absolute subdir refused");
		has(parse_err(GL(",\"volume\":\"gv0\",\"servers\":[\"h1\"],\"subdir\":\"a/.volwarden\"")),
		    "may start with '.'", "glusterfs: a hidden subdir component refused");
		has(parse_err(GL(",\"volume\":\"gv0\",\"servers\":[\"h1\"],\"node\":\"../n\"")),
		    "drivers[0].node: \"../n\" cannot name this node",
		    "glusterfs: a node name with .. refused");
		has(parse_err(GL(",\"volume\":\"gv0\",\"servers\":[\"h1\"],\"lease_ttl\":1")),
		    "lease_ttl: must be a whole number of seconds from 3",
		    "glusterfs: lease_ttl below 3 s refused");
		is_string(parse_err(DRV(",\"volume\":\"gv0\"")),
		    "t.json: key drivers[0].volume: only a glusterfs driver takes this key",
		    "dir: glusterfs keys refused");
	}
	{
		struct vw_gluster_server sv;

		ok(vw_gluster_server_parse("rdma://h-1.x:1234", &sv, err,
		    sizeof(err)) == 0 && strcmp(sv.transport, "rdma") == 0 &&
		    strcmp(sv.host, "h-1.x") == 0 && sv.port == 1234,
		    "server: rdma://HOST:PORT parsed");
		ok(vw_gluster_server_parse("[fe80::1]", &sv, err, sizeof(err)) == 0 &&
		    strcmp(sv.host, "fe80::1") == 0 && sv.port == 0,
		    "server: [IPV6] parsed");
		ok(vw_gluster_server_parse("h1:", &sv, err, sizeof(err)) < 0,
		    "server: an empty port refused");
	}
	/* docker-volume-glusterfs's GFS_VOLUME and GFS_SERVERS. */
	memset(&ov, 0, sizeof(ov));
	ov.no_config = 1;
	ov.gfs_volume = "gv0";
	ov.gfs_servers = "h1:h2, h3:24008";
	if (VW_GLUSTERFS_BUILT) {
		ok(vw_config_load(&cfg, &ov, 0, err, sizeof(err)) == 0,
		    "legacy GFS_* add a driver to the embedded default");
		ok(cfg.ndrivers == 2 && strcmp(cfg.drivers[1].name, "glusterfs") == 0 &&
		    cfg.drivers[1].backend == VW_BACKEND_GLUSTERFS &&
		    strcmp(cfg.drivers[1].root, VW_DEFAULT_GLUSTER_ROOT) == 0,
		    "named glusterfs, mounted at " VW_DEFAULT_GLUSTER_ROOT);
		ok(cfg.ndrivers == 2 && cfg.drivers[1].gl.nservers == 3 &&
		    strcmp(cfg.drivers[1].gl.servers[0], "h1") == 0 &&
		    strcmp(cfg.drivers[1].gl.servers[1], "h2") == 0 &&
		    strcmp(cfg.drivers[1].gl.servers[2], "h3:24008") == 0,
		    "the server list is split at commas, spaces and list colons");
		vw_config_free(&cfg);
		ov.gfs_servers = NULL;
		ok(vw_config_load(&cfg, &ov, 0, err, sizeof(err)) < 0 &&
		    strstr(err, "must be given together") != NULL,
		    "GFS_VOLUME without GFS_SERVERS refused");
	}
	return done_testing();
}
