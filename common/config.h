/*
 * volwarden's configuration: the embedded default, the JSON file
 * (doc/volwarden.json.5) and command-line overrides.  Both processes parse
 * the same inputs into the same struct; the helper proves it with
 * vw_config_digest() in the HELLO exchange.
 *
 * Every string in these structs is owned by the struct and freed by
 * vw_config_free().
 */
#ifndef VW_CONFIG_H
#define VW_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Storage backends.  btrfs exists only in builds with libbtrfsutil
 * (VW_BTRFS_BUILT), glusterfs only in builds with gfapi
 * (VW_GLUSTERFS_BUILT); elsewhere the configuration refuses them. */
enum vw_backend_type {
	VW_BACKEND_DIR,
	VW_BACKEND_BTRFS,
	VW_BACKEND_LOOP,	/* image files on loop devices (backends/loop.c) */
	VW_BACKEND_GLUSTERFS,
};

/* What Remove does with the data (driver key "on_remove"). */
enum vw_on_remove {
	VW_ON_REMOVE_KEEP,	/* leave the directory: local-persist semantics */
	VW_ON_REMOVE_DELETE,	/* delete the directory tree (btrfs: the
				 * subvolume, nested ones and its snapshots) */
	VW_ON_REMOVE_ARCHIVE,	/* dir: rename it aside to NAME.removed-TIMESTAMP;
				 * btrfs: keep a read-only snapshot
				 * removed-TIMESTAMP, delete the subvolume */
};

/* The keys of a glusterfs driver (doc/volwarden.json.5); all NULL/0 for
 * other backends. */
struct vw_gluster_cfg {
	char		*volume;	/* Gluster volume name */
	char		**servers;	/* "[tcp|rdma://]HOST[:PORT]" or "unix://PATH" */
	size_t		 nservers;
	char		*subdir;	/* base directory in the volume: normalised,
					 * relative, or NULL for the volume's root */
	char		*node;		/* this node's identity in leases (default:
					 * the host name) */
	uint32_t	 lease_ttl;	/* seconds a lease lives without heartbeat */
};

/* Default and range of lease_ttl, seconds. */
#define VW_LEASE_TTL_DEFAULT	60
#define VW_LEASE_TTL_MIN	3
#define VW_LEASE_TTL_MAX	86400

/* One Docker volume driver: a socket name bound to one backend. */
struct vw_driver {
	char			*name;		/* driver name = socket file stem */
	enum vw_backend_type	 backend;
	char			*root;		/* absolute, normalised; glusterfs:
						 * where the volume is FUSE-mounted */
	char			**allowed_roots;	/* absolute, normalised */
	size_t			 nallowed;
	enum vw_on_remove	 on_remove;
	/* loop only (zero/NULL for other backends): */
	uint64_t		 default_size;	/* bytes, for Creates without "size" */
	uint64_t		 max_size;	/* bytes: no image larger (Create,
						 * resize, adopted images) */
	uint32_t		 fs;		/* enum vw_fs: for Creates without "fs" */
	/* loop and glusterfs (NULL for the others): */
	char			*mount_dir;	/* absolute, normalised: volumes are
						 * mounted at MOUNT_DIR/NAME */
	struct vw_gluster_cfg	 gl;		/* backend glusterfs only */
};

/* Defaults of the loop driver keys (doc/volwarden.json.5).  The mount
 * directory default is VW_DEFAULT_LOOP_MOUNT_BASE/DRIVER. */
#define VW_DEFAULT_LOOP_SIZE		(10ULL << 30)
#define VW_DEFAULT_LOOP_MAX_SIZE	(1ULL << 40)	/* 1 TiB */
#define VW_DEFAULT_LOOP_MOUNT_BASE	"/run/volwarden/loop"
/* glusterfs: volumes are bind-mounted at VW_DEFAULT_GLUSTER_MOUNT_BASE/
 * DRIVER/NAME unless mount_dir says otherwise. */
#define VW_DEFAULT_GLUSTER_MOUNT_BASE	"/run/volwarden/gluster-binds"

/* One parsed Gluster server: transport "tcp", "rdma" or "unix", host (or
 * the socket path for unix) and port (0: gfapi's default, 24007). */
struct vw_gluster_server {
	char		transport[8];
	char		host[256];
	int		port;
};

/*
 * Parse a "servers" entry: HOST, HOST:PORT, [IPV6]:PORT, optionally
 * prefixed with tcp:// or rdma://, or unix:///ABSOLUTE/PATH.  Host names
 * are letters, digits, '.', '-' and '_'.  Returns 0, or -1 with a reason
 * in err.
 */
int vw_gluster_server_parse(const char *s, struct vw_gluster_server *out,
    char *err, size_t errlen);

/* The whole configuration. */
struct vw_config {
	char		*source;	/* file it came from, or "embedded default" */
	char		*user;		/* the frontend's unprivileged user */
	char		*state_dir;	/* durable registry (WAL), owned by user */
	char		*run_dir;	/* volatile mount counters, under /run */
	char		*socket_dir;	/* where DRIVER.sock files are bound */
	char		*socket_group;	/* group of the sockets, NULL = root */
	char		*admin_socket;	/* volwardenctl's socket, mode 0600 root */
	struct vw_driver *drivers;
	size_t		 ndrivers;
	struct vw_limits {
		uint32_t max_body_bytes;	/* request body, bytes */
		uint32_t max_header_bytes;	/* request headers, bytes */
		uint32_t idle_timeout;		/* per connection, seconds */
		uint32_t max_connections;	/* open at once, all sockets */
		uint32_t helper_timeout;	/* per request, seconds */
	}		 limits;
};

/* Defaults and ranges of the "limits" keys (doc/volwarden.json.5). */
#define VW_DEFAULT_MAX_BODY		(1024 * 1024)
#define VW_DEFAULT_MAX_HEADER		(8 * 1024)
#define VW_DEFAULT_IDLE_TIMEOUT		300
#define VW_DEFAULT_MAX_CONNECTIONS	1024
/* Below dockerd's 1-minute timeout of Get, Remove and Unmount, so that
 * dockerd reads our error rather than its own. */
#define VW_DEFAULT_HELPER_TIMEOUT	50

/* Command-line overrides; strings are borrowed from argv. */
struct vw_overrides {
	const char	*config;	/* --config FILE */
	int		 no_config;	/* --no-config: embedded default only */
	const char	*socket_dir, *state_dir, *run_dir, *root, *user;
	const char	*admin_socket;	/* --admin-socket PATH */
	const char	*allowed_roots[32];	/* --allowed-root, repeatable */
	size_t		 nallowed;
	/* --gfs-volume, --gfs-servers (or the legacy environment variables
	 * GFS_VOLUME and GFS_SERVERS, see vw_overrides_env): add a
	 * glusterfs driver "glusterfs" to the embedded default. */
	const char	*gfs_volume, *gfs_servers;
};

/* Where the embedded default's glusterfs driver mounts its volume. */
#define VW_DEFAULT_GLUSTER_ROOT	"/run/volwarden/gluster/glusterfs"

/* Fill ov->gfs_volume and ov->gfs_servers from the environment variables
 * GFS_VOLUME and GFS_SERVERS (docker-volume-glusterfs's) unless the flags
 * gave them.  Returns 1 if either variable was used, else 0. */
int vw_overrides_env(struct vw_overrides *ov);

/* Default path of the config file, read when present. */
#ifndef VW_CONFIG_FILE
#define VW_CONFIG_FILE		"/etc/volwarden/volwarden.json"
#endif

/*
 * Defaults of the directory keys.  run_dir is a subdirectory so that
 * /run/volwarden itself can stay root-owned (0755): it holds the admin
 * socket, which must not sit in a directory the frontend user owns.
 */
#define VW_DEFAULT_STATE_DIR	"/var/lib/volwarden/state"
#define VW_DEFAULT_RUN_DIR	"/run/volwarden/mounts"
#define VW_DEFAULT_SOCKET_DIR	"/run/docker/plugins"
#define VW_DEFAULT_ADMIN_SOCKET	"/run/volwarden/admin.sock"

/* getopt_long options shared by both executables ("config", ...), with
 * values VW_OPT_FLAG_BASE + n.  Terminated by a zero entry. */
#include <getopt.h>
extern const struct option vw_config_longopts[];
#define VW_OPT_FLAG_BASE	0x1000

/* Record one shared flag in *ov.  Returns 0, or -1 with a reason in err
 * (e.g. too many --allowed-root). */
int vw_overrides_set(struct vw_overrides *ov, int opt, const char *arg,
    char *err, size_t errlen);

/* Append ov as argv words to argv (room for at most max more entries,
 * not counting the terminating NULL that is also written); returns the
 * new count or -1 if there is no room. */
int vw_overrides_argv(const struct vw_overrides *ov, int used_file,
    const char *file, const char **argv, int argc, int max);

/*
 * Build *cfg from the file named by ov (or VW_CONFIG_FILE when present, or
 * the embedded default) and the overrides, then validate it.  Returns 0,
 * or -1 with a sentence in err naming the file, the key and the reason.
 * If check_owner is set the file must be owned by root and not writable
 * by group or others.
 */
int vw_config_load(struct vw_config *cfg, const struct vw_overrides *ov,
    int check_owner, char *err, size_t errlen);

/* Parse JSON text (for tests and vw_config_load); source names it in
 * errors.  Does not apply overrides or validate. */
int vw_config_parse(struct vw_config *cfg, const char *text,
    const char *source, char *err, size_t errlen);

/* Check a parsed config (paths absolute, names valid, drivers unique). */
int vw_config_validate(const struct vw_config *cfg, char *err, size_t errlen);

/* Print the effective config as canonical JSON (parses back to the same). */
void vw_config_print(const struct vw_config *cfg, FILE *fp);

/* FNV-1a 64 of the canonical print: equal configs have equal digests. */
uint64_t vw_config_digest(const struct vw_config *cfg);

/* Free everything cfg owns and zero it. */
void vw_config_free(struct vw_config *cfg);

/* "dir" etc. */
const char *vw_backend_name(enum vw_backend_type b);
const char *vw_on_remove_name(enum vw_on_remove r);

#endif
