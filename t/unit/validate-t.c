/* Names and options: Docker's local-driver rule, option parsing, ranges
 * and the mountpoint normaliser. */
#include "vw-build.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/config.h"
#include "common/options.h"
#include "common/validate.h"
#include "t/lib/tap.h"

static int
name_ok(const char *s)
{
	char err[256];

	return vw_name_valid(s, strlen(s), err, sizeof(err)) == 0;
}

static int
opt(struct vw_volume_opts *o, const char *k, const char *v, char *err,
    size_t errlen)
{
	return vw_opt_parse(k, strlen(k), v, strlen(v), o, err, errlen);
}

int
main(void)
{
	static const char *const good[] = { "data1", "a1", "A-b_c.d", "0x",
	    "9.9", "volume_with_underscores", NULL };
	static const char *const bad[] = { "", "a", "../../etc", "/etc", "a/b",
	    ".", "..", ".dot", "-dash", "_under", "has space", "semi;colon",
	    "quo\"te", "new\nline", "tab\tx", "\xc3\xbcn\xc3\xafx", "%2e%2e",
	    "a\\b", "   ", NULL };
	struct vw_volume_opts o;
	char err[512], big[300], norm[VW_PATH_MAX];
	const char *rel;

	for (int i = 0; good[i] != NULL; i++)
		ok(name_ok(good[i]), "name \"%s\" accepted", good[i]);
	for (int i = 0; bad[i] != NULL; i++)
		ok(!name_ok(bad[i]), "name %d refused", i);
	memset(big, 'a', sizeof(big));
	ok(vw_name_valid(big, 255, err, sizeof(err)) == 0, "255 bytes accepted");
	ok(vw_name_valid(big, 256, err, sizeof(err)) < 0, "256 bytes refused");
	has_string(err, "255", "the error names the limit");
	ok(vw_name_valid("ab\0cd", 5, err, sizeof(err)) < 0,
	    "embedded NUL refused (decoded length differs)");

	/* Fixed fields as the helper sees them. */
	{
		char field[VW_NAME_MAX + 1];

		memset(field, 0, sizeof(field));
		strcpy(field, "data1");
		ok(vw_name_field_valid(field, sizeof(field)) == 0, "field accepted");
		field[200] = 'x';
		ok(vw_name_field_valid(field, sizeof(field)) < 0,
		    "bytes after the NUL refused");
		memset(field, 'a', sizeof(field));
		ok(vw_name_field_valid(field, sizeof(field)) < 0,
		    "unterminated field refused");
	}

	memset(&o, 0, sizeof(o));
	ok(opt(&o, "uid", "1000", err, sizeof(err)) == 0 && o.uid == 1000 &&
	    (o.flags & VW_OPT_UID), "uid=1000");
	ok(opt(&o, "gid", "0", err, sizeof(err)) == 0 && o.gid == 0, "gid=0");
	ok(opt(&o, "mode", "0750", err, sizeof(err)) == 0 && o.mode == 0750, "mode=0750");
	ok(opt(&o, "mode", "7777", err, sizeof(err)) == 0 && o.mode == 07777, "mode=7777");
	ok(opt(&o, "mode", "10000", err, sizeof(err)) < 0, "mode=10000 refused");
	ok(opt(&o, "mode", "0758", err, sizeof(err)) < 0, "mode with a non-octal digit refused");
	ok(opt(&o, "mode", "", err, sizeof(err)) < 0, "empty mode refused");
	ok(opt(&o, "uid", "-1", err, sizeof(err)) < 0, "uid=-1 refused");
	ok(opt(&o, "uid", "4294967295", err, sizeof(err)) < 0, "uid=2^32-1 refused");
	ok(opt(&o, "uid", "4294967294", err, sizeof(err)) == 0, "uid=2^32-2 accepted");
	ok(opt(&o, "uid", "12abc", err, sizeof(err)) < 0, "uid=12abc refused");
	ok(opt(&o, "gid", "", err, sizeof(err)) < 0, "empty gid refused");
	ok(opt(&o, "size", "10G", err, sizeof(err)) < 0, "unknown option refused");
	has_string(err, "valid options are: mountpoint, uid, gid, mode",
	    "the error lists the valid options");
	ok(vw_opt_parse("mode\0x", 6, "0700", 4, &o, err, sizeof(err)) < 0,
	    "NUL in an option name refused");

	memset(&o, 0, sizeof(o));
	ok(opt(&o, "mountpoint", "/srv//docker/app/", err, sizeof(err)) == 0,
	    "mountpoint with // and trailing / accepted");
	is_string(o.mountpoint, "/srv/docker/app", "and normalised");
	ok(vw_opts_check(&o, err, sizeof(err)) == 0, "normalised options pass the helper check");
	ok(opt(&o, "mountpoint", "app/../db", err, sizeof(err)) < 0, "'..' refused");
	ok(opt(&o, "mountpoint", "./app", err, sizeof(err)) < 0, "'.' refused");
	ok(opt(&o, "mountpoint", "/", err, sizeof(err)) < 0, "/ refused");
	ok(opt(&o, "mountpoint", "", err, sizeof(err)) < 0, "empty refused");
	ok(opt(&o, "mountpoint", "a\nb", err, sizeof(err)) < 0, "control character refused");
	ok(opt(&o, "mountpoint", "caf\xc3\xa9/d\xc3\xbcr", err, sizeof(err)) == 0,
	    "UTF-8 mountpoint accepted");
	ok(opt(&o, "mountpoint", "a\xc1\xbf/evil", err, sizeof(err)) < 0,
	    "overlong UTF-8 refused (dockerd would read U+FFFD)");
	has_string(err, "not valid UTF-8", "and says so");
	ok(opt(&o, "mountpoint", "a\xed\xa0\x80", err, sizeof(err)) < 0, "surrogate refused");
	ok(opt(&o, "mountpoint", "a\xf4\x90\x80\x80", err, sizeof(err)) < 0,
	    "code point above U+10FFFF refused");
	ok(opt(&o, "mountpoint", "a\xe2\x82", err, sizeof(err)) < 0, "truncated sequence refused");

	/* vw_utf8_copy: text from the Gluster volume for the Status map. */
	{
		char out[8];

		is_int((long long)vw_utf8_copy(out, sizeof(out), "evil\xff"), 5,
		    "utf8_copy: length of evil\\xff");
		is_string(out, "evil?", "utf8_copy: an invalid byte becomes ?");
		ok(vw_utf8_copy(out, sizeof(out), "ab\xc1\xbf\xed\xa0\x80") == 7 &&
		    strcmp(out, "ab?????") == 0 && vw_utf8_valid(out, strlen(out)),
		    "utf8_copy: overlong and surrogate bytes replaced one by one");
		is_string((vw_utf8_copy(out, sizeof(out), "abcde\xe2\x82\xac"), out),
		    "abcde", "utf8_copy: a cut never splits a character");
		is_string((vw_utf8_copy(out, sizeof(out), "caf\xc3\xa9"), out),
		    "caf\xc3\xa9", "utf8_copy: valid UTF-8 kept");
		is_string((vw_utf8_copy(out, sizeof(out), "abcdefghij"), out),
		    "abcdefg", "utf8_copy: ASCII cut to fit");
		is_string((vw_utf8_copy(out, 3, "\xf0\x9f\x98\x80"), out), "",
		    "utf8_copy: a character that does not fit is left out");
	}
	ok(opt(&o, "mountpoint", "a\xf0\x9f\x98\x80", err, sizeof(err)) == 0,
	    "a 4-byte character accepted");

	ok(vw_mountpoint_normalize("app//db", norm, sizeof(norm), err,
	    sizeof(err)) == 0 && strcmp(norm, "app/db") == 0, "relative path normalised");
	is_string(vw_path_beneath("/srv", "/srv/a"), "a", "/srv/a is beneath /srv");
	ok(vw_path_beneath("/srv", "/srvx/a") == NULL, "/srvx/a is not beneath /srv");
	ok(vw_path_beneath("/srv", "/srv") == NULL, "/srv is not strictly beneath /srv");

	/* The helper's re-check of received structs. */
	memset(&o, 0, sizeof(o));
	o.flags = VW_OPT_ALL + 1;
	ok(vw_opts_check(&o, err, sizeof(err)) < 0, "unknown flag bits refused");
	memset(&o, 0, sizeof(o));
	o.fs = VW_FS_EXT4;
	ok(vw_opts_check(&o, err, sizeof(err)) < 0, "fs without its flag refused");
	o.flags = VW_OPT_FS;
	o.fs = VW_FS_EROFS + 1;
	ok(vw_opts_check(&o, err, sizeof(err)) < 0, "fs out of range refused");
	memset(&o, 0, sizeof(o));
	o.snapshot_keep = 3;
	ok(vw_opts_check(&o, err, sizeof(err)) < 0, "snapshot_keep without its flag refused");
	memset(&o, 0, sizeof(o));
	o.flags = VW_OPT_SOURCE | VW_OPT_IMAGE;
	strcpy(o.mountpoint, "/srv/x");
	ok(vw_opts_check(&o, err, sizeof(err)) < 0, "source and image together refused");
	o.flags = VW_OPT_SOURCE;
	ok(vw_opts_check(&o, err, sizeof(err)) == 0, "source alone with a path accepted");
	memset(&o, 0, sizeof(o));
	o.mode = 0700;
	ok(vw_opts_check(&o, err, sizeof(err)) < 0, "mode without its flag refused");
	memset(&o, 0, sizeof(o));
	o.flags = VW_OPT_UID;
	o.uid = UINT32_MAX;
	ok(vw_opts_check(&o, err, sizeof(err)) < 0, "uid -1 refused");
	memset(&o, 0, sizeof(o));
	o.flags = VW_OPT_MOUNTPOINT;
	strcpy(o.mountpoint, "/srv/../etc");
	ok(vw_opts_check(&o, err, sizeof(err)) < 0, "'..' in a received mountpoint refused");
	memset(&o, 0, sizeof(o));
	o.flags = VW_OPT_MOUNTPOINT;
	strcpy(o.mountpoint, "/srv//x");
	ok(vw_opts_check(&o, err, sizeof(err)) < 0, "unnormalised mountpoint refused");
	memset(&o, 0, sizeof(o));
	memset(o.mountpoint, 'a', sizeof(o.mountpoint));
	o.flags = VW_OPT_MOUNTPOINT;
	ok(vw_opts_check(&o, err, sizeof(err)) < 0, "unterminated mountpoint refused");

	/* Where a volume lives. */
	{
		static char r0[] = "/srv/docker", dname[] = "vw", droot[] = "/var/lib/v";
		char *roots[] = { r0, NULL };
		struct vw_driver d = { .name = dname, .root = droot,
		    .allowed_roots = roots, .nallowed = 1 };
		char out[VW_PATH_MAX];
		size_t allowed;

		memset(&o, 0, sizeof(o));
		ok(vw_volume_path(&d, "data1", &o, out, sizeof(out), &allowed, &rel,
		    err, sizeof(err)) == 0, "default path");
		is_string(out, "/var/lib/v/data1", "is ROOT/NAME");
		is_string(rel, "data1", "relative to the root");
		o.flags = VW_OPT_MOUNTPOINT;
		strcpy(o.mountpoint, "app/db");
		ok(vw_volume_path(&d, "x1", &o, out, sizeof(out), &allowed, &rel,
		    err, sizeof(err)) == 0 && strcmp(out, "/var/lib/v/app/db") == 0 &&
		    allowed == (size_t)-1, "relative mountpoint under the root");
		strcpy(o.mountpoint, "/srv/docker/app");
		ok(vw_volume_path(&d, "x1", &o, out, sizeof(out), &allowed, &rel,
		    err, sizeof(err)) == 0 && allowed == 0 && strcmp(rel, "app") == 0,
		    "absolute mountpoint under an allowed root");
		strcpy(o.mountpoint, "/etc/app");
		ok(vw_volume_path(&d, "x1", &o, out, sizeof(out), &allowed, &rel,
		    err, sizeof(err)) < 0, "absolute mountpoint elsewhere refused");
		has_string(err, "allowed roots: /srv/docker", "the error names the allowed roots");
		strcpy(o.mountpoint, "/srv/docker");
		ok(vw_volume_path(&d, "x1", &o, out, sizeof(out), &allowed, &rel,
		    err, sizeof(err)) < 0, "the allowed root itself refused");
		/* The helper's trash below each root holds no volume. */
		strcpy(o.mountpoint, ".volwarden-trash/x");
		ok(vw_volume_path(&d, "x1", &o, out, sizeof(out), &allowed, &rel,
		    err, sizeof(err)) < 0, "a mountpoint in the root's trash refused");
		has_string(err, ".volwarden-trash", "the error names the trash");
		strcpy(o.mountpoint, ".volwarden-trash");
		ok(vw_volume_path(&d, "x1", &o, out, sizeof(out), &allowed, &rel,
		    err, sizeof(err)) < 0, "the root's trash itself refused");
		strcpy(o.mountpoint, "/srv/docker/.volwarden-trash/y");
		ok(vw_volume_path(&d, "x1", &o, out, sizeof(out), &allowed, &rel,
		    err, sizeof(err)) < 0, "an allowed root's trash refused");
		strcpy(o.mountpoint, "a/.volwarden-trash");
		ok(vw_volume_path(&d, "x1", &o, out, sizeof(out), &allowed, &rel,
		    err, sizeof(err)) == 0, "the name deeper down is an ordinary directory");
		strcpy(o.mountpoint, ".volwarden-trashy");
		ok(vw_volume_path(&d, "x1", &o, out, sizeof(out), &allowed, &rel,
		    err, sizeof(err)) == 0, "and so is a longer name");
	}
	/* The btrfs option schema (common/options.c). */
	{
		struct vw_volume_opts b;
		uint64_t sz;

		ok(vw_size_parse("64M", 3, &sz) == 0 && sz == 64ULL << 20, "size 64M");
		ok(vw_size_parse("10GiB", 5, &sz) == 0 && sz == 10ULL << 30, "size 10GiB");
		ok(vw_size_parse("1048576", 7, &sz) == 0 && sz == 1ULL << 20, "size in bytes");
		ok(vw_size_parse("1K", 2, &sz) < 0, "size below 1M refused");
		ok(vw_size_parse("1.5G", 4, &sz) < 0, "fractional size refused");
		ok(vw_size_parse("99999999999999999999", 20, &sz) < 0, "overflowing size refused");
		ok(vw_size_parse("2048P", 5, &sz) < 0, "size above 1024P refused");
		memset(&b, 0, sizeof(b));
		ok(vw_opt_parse_backend(VW_BACKEND_BTRFS, "mountpoint", 10, "x", 1,
		    &b, err, sizeof(err)) < 0, "btrfs: mountpoint refused");
		has_string(err, "valid options are: size, from, nocow, compression, uid, gid, mode",
		    "btrfs: the error lists the btrfs options");
		ok(vw_opt_parse_backend(VW_BACKEND_BTRFS, "from", 4, "a1@s1", 5, &b,
		    err, sizeof(err)) == 0, "btrfs: from=a1@s1");
		ok(vw_opt_parse_backend(VW_BACKEND_BTRFS, "compression", 11, "zstd",
		    4, &b, err, sizeof(err)) == 0 && b.compression == VW_COMPRESS_ZSTD,
		    "btrfs: compression=zstd");
		ok(vw_opts_check(&b, err, sizeof(err)) == 0, "btrfs options pass the helper check");
		ok(vw_opts_check_backend(VW_BACKEND_DIR, &b, err, sizeof(err)) < 0,
		    "btrfs options refused for a dir driver");
		ok(vw_opt_parse_backend(VW_BACKEND_BTRFS, "from", 4, "../x", 4, &b,
		    err, sizeof(err)) < 0, "btrfs: from=../x refused");
		ok(vw_opt_parse_backend(VW_BACKEND_BTRFS, "nocow", 5, "", 0, &b,
		    err, sizeof(err)) == 0, "btrfs: nocow");
		ok(vw_opts_check_backend(VW_BACKEND_BTRFS, &b, err, sizeof(err)) < 0,
		    "nocow with compression and from refused");
		b.flags |= VW_OPT_SIZE;
		ok(vw_opts_check(&b, err, sizeof(err)) < 0, "size flag with size 0 refused");
		b.flags &= ~VW_OPT_SIZE;
		b.from[sizeof(b.from) - 1] = 'x';
		ok(vw_opts_check(&b, err, sizeof(err)) < 0, "from with bytes after its NUL refused");
	}
	/* The snapshot schedule's options (btrfs). */
	{
		static const struct { const char *v; uint64_t s; } dgood[] = {
			{ "10s", 10 }, { "10", 10 }, { "90s", 90 }, { "15m", 900 },
			{ "1h", 3600 }, { "1d", 86400 }, { "2w", 1209600 },
			{ "366d", 366 * 86400 }, { "0010m", 600 },
		};
		static const char *const dbad[] = { "", "9s", "9", "0", "1", "5s",
		    "1.5h", "-1h", "+1h", "h", "1H", "1hour", "1h30m", " 1h",
		    "1h ", "367d", "53w", "99999999999999999999s",
		    "18446744073709551615w" };
		struct vw_volume_opts b;
		uint64_t sec;

		for (size_t i = 0; i < sizeof(dgood) / sizeof(dgood[0]); i++)
			ok(vw_duration_parse(dgood[i].v, strlen(dgood[i].v), &sec) == 0 &&
			    sec == dgood[i].s, "duration %s = %llu s", dgood[i].v,
			    (unsigned long long)dgood[i].s);
		for (size_t i = 0; i < sizeof(dbad) / sizeof(dbad[0]); i++)
			ok(vw_duration_parse(dbad[i], strlen(dbad[i]), &sec) < 0,
			    "duration \"%s\" refused", dbad[i]);
		memset(&b, 0, sizeof(b));
		ok(vw_opt_parse_backend(VW_BACKEND_BTRFS, "snapshot_keep", 13, "3", 1,
		    &b, err, sizeof(err)) == 0 && b.snapshot_keep == 3,
		    "btrfs: snapshot_keep=3");
		ok(vw_opts_check_backend(VW_BACKEND_BTRFS, &b, err, sizeof(err)) < 0,
		    "snapshot_keep without snapshot_every refused");
		has_string(err, "snapshot_keep needs snapshot_every",
		    "... saying it needs snapshot_every");
		ok(vw_opt_parse_backend(VW_BACKEND_BTRFS, "snapshot_every", 14, "30m",
		    3, &b, err, sizeof(err)) == 0 && b.snapshot_every == 1800,
		    "btrfs: snapshot_every=30m");
		ok(vw_opts_check_backend(VW_BACKEND_BTRFS, &b, err, sizeof(err)) == 0 &&
		    vw_opts_check(&b, err, sizeof(err)) == 0,
		    "snapshot_every with snapshot_keep passes both checks");
		ok(vw_opts_check_backend(VW_BACKEND_DIR, &b, err, sizeof(err)) < 0,
		    "the schedule refused for a dir driver");
		ok(vw_opt_parse_backend(VW_BACKEND_DIR, "snapshot_every", 14, "1h",
		    2, &b, err, sizeof(err)) < 0, "dir: snapshot_every is unknown");
		ok(vw_opt_parse_backend(VW_BACKEND_BTRFS, "snapshot_every", 14, "5s",
		    2, &b, err, sizeof(err)) < 0, "btrfs: snapshot_every=5s refused");
		has_string(err, "from 10s to 366d", "... naming the range");
		for (const char *const *k = (const char *const[]){ "0", "1001",
		    "01", "-1", "x", "", "1 ", NULL }; *k != NULL; k++)
			ok(vw_opt_parse_backend(VW_BACKEND_BTRFS, "snapshot_keep", 13,
			    *k, strlen(*k), &b, err, sizeof(err)) < 0,
			    "snapshot_keep \"%s\" refused", *k);
		ok(vw_opt_parse_backend(VW_BACKEND_BTRFS, "snapshot_keep", 13,
		    "1000", 4, &b, err, sizeof(err)) == 0 && b.snapshot_keep == 1000,
		    "snapshot_keep=1000 accepted");
		/* A received request or replayed state out of range. */
		b.snapshot_every = 5;
		ok(vw_opts_check_backend(VW_BACKEND_BTRFS, &b, err, sizeof(err)) < 0,
		    "snapshot_every 5 s refused by the backend check");
		b.snapshot_every = 3600;
		b.snapshot_keep = 0;
		ok(vw_opts_check_backend(VW_BACKEND_BTRFS, &b, err, sizeof(err)) < 0,
		    "snapshot_keep 0 with its flag refused by the backend check");
	}
	/* Values in messages are cut on a UTF-8 character boundary. */
	{
		/* 31 ASCII bytes, then a 2-byte character across byte 32. */
		const char *v = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xc3\xbc.....";
		const char *q;

		ok(vw_utf8_cut(v, strlen(v), 32) == 31, "a cut inside \\xc3\\xbc "
		    "moves before the character");
		ok(vw_utf8_cut(v, strlen(v), 33) == 33, "a cut after it keeps it");
		ok(vw_utf8_cut("ab", 2, 32) == 2, "a short value is whole");
		memset(&o, 0, sizeof(o));
		ok(opt(&o, "uid", v, err, sizeof(err)) < 0, "uid=<utf-8> refused");
		q = strchr(err, '"');
		ok(q != NULL && vw_utf8_valid(q, strlen(q)), "the message is valid "
		    "UTF-8 (%s)", err);
		memset(&o, 0, sizeof(o));
		ok(vw_opt_parse_backend(VW_BACKEND_LOOP, "source", 6, "/a", 2, &o,
		    err, sizeof(err)) == 0 && vw_opt_parse_backend(VW_BACKEND_LOOP,
		    "image", 5, "/a/b", 4, &o, err, sizeof(err)) == 0 &&
		    vw_opt_parse_backend(VW_BACKEND_LOOP, "fs", 2, "erofs", 5, &o,
		    err, sizeof(err)) == 0, "loop: source, image and fs=erofs parse");
		ok(vw_opts_check_backend(VW_BACKEND_LOOP, &o, err, sizeof(err)) < 0,
		    "loop: source and image together refused by the backend check");
		has_string(err, "cannot be combined", "... with a sentence");
	}
	/* Per-driver Create limits (vw_create_check). */
	{
		struct vw_driver d;
		char n[300];

		memset(&d, 0, sizeof(d));
		d.name = (char *)"lp";
		d.backend = VW_BACKEND_LOOP;
		d.default_size = 10ULL << 30;
		d.max_size = 1ULL << 40;
		memset(&o, 0, sizeof(o));
		memset(n, 'a', sizeof(n));
		n[251] = '\0';
		ok(vw_create_check(&d, n, &o, err, sizeof(err)) == 0,
		    "loop: a 251-byte name is taken");
		n[251] = 'a';
		n[252] = '\0';
		ok(vw_create_check(&d, n, &o, err, sizeof(err)) < 0,
		    "loop: a 252-byte name is refused");
		has_string(err, "at most 251 bytes", "... naming the limit");
		o.flags = VW_OPT_SIZE;
		o.size = 2ULL << 40;
		ok(vw_create_check(&d, "ab", &o, err, sizeof(err)) < 0,
		    "loop: size above max_size refused");
		has_string(err, "max_size", "... naming max_size");
		d.backend = VW_BACKEND_DIR;
		ok(vw_create_check(&d, n, &o, err, sizeof(err)) == 0,
		    "dir: a 252-byte name and no size limit");
	}
	return done_testing();
}
