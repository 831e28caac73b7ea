// SPDX-License-Identifier: MIT
/*
 * blkbatch(8): attach block devices to the blkbatch module, list them,
 * show what they support and what they did, and run one batch of reads or
 * writes from the shell.
 *
 * Exit status: 0 success, 1 failure, 2 usage error.  Errors go to stderr
 * as text in either output format; stdout carries only the result.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <libblkbatch.h>

#include "output.h"

#ifndef BLKBATCH_CLI_VERSION
#define BLKBATCH_CLI_VERSION	"unknown"
#endif

#define EXIT_FAIL	1
#define EXIT_USAGE	2

#define SYS_MISC	"/sys/class/misc"
#define SYS_DEV_BLOCK	"/sys/dev/block"
#define SYS_MODULE	"/sys/module/blkbatch"

/* Matches the module's limit of attached devices, with room to grow. */
#define MAX_DEVS	1024

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

enum out_fmt { FMT_NORMAL, FMT_JSON };

static enum out_fmt out_fmt = FMT_NORMAL;

/* The kernel's spelling, for the kernel's style. */
#define __printf(a, b)	__attribute__((format(printf, a, b)))

static void __printf(1, 2) err(const char *fmt, ...)
{
	va_list ap;

	fputs("blkbatch: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---------------------------------------------------------------------
 * Usage
 */

struct command {
	const char	*name;
	int		(*fn)(const struct command *c, int argc, char **argv);
	const char	*args;
	const char	*help;
};

static const struct command *find_command(const char *name);

static const char global_usage[] =
	"usage: blkbatch [-o normal|json] COMMAND [ARGS]\n"
	"\n"
	"Commands:\n";

static const char global_tail[] =
	"\n"
	"Options (before or after the command):\n"
	"  -o, --output-format=normal|json   output format (default normal)\n"
	"  -h, --help                        this help, or a command's\n"
	"\n"
	"NODE is /dev/blkbatchN, blkbatchN, or the attached block device.\n"
	"Sizes take a k, m or g suffix (powers of 1024).\n"
	"See blkbatch(8).\n";

static void print_usage(FILE *f);

static void command_usage(FILE *f, const struct command *c)
{
	fprintf(f, "usage: blkbatch %s%s%s\n  %s\n", c->name,
		c->args[0] ? " " : "", c->args, c->help);
}

/* A usage error: say what is wrong and how the command is called. */
static int __printf(2, 3)
usage_err(const struct command *c, const char *fmt, ...)
{
	va_list ap;

	fputs("blkbatch: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (c)
		command_usage(stderr, c);
	else
		fputs("Try 'blkbatch help'.\n", stderr);
	return EXIT_USAGE;
}

/* ---------------------------------------------------------------------
 * Argument parsing
 */

static bool parse_fmt(const char *s)
{
	if (!strcmp(s, "normal"))
		out_fmt = FMT_NORMAL;
	else if (!strcmp(s, "json"))
		out_fmt = FMT_JSON;
	else
		return false;
	return true;
}

/* Decimal, or hex with 0x: a leading 0 must not silently mean octal. */
static bool parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (!*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	*v = strtoull(s, &end, strncasecmp(s, "0x", 2) ? 10 : 16);
	return !errno && !*end;
}

static bool parse_size(const char *s, uint64_t *v)
{
	char buf[64], *suffix;
	unsigned int shift = 0;
	size_t len = strlen(s);

	if (!len || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len + 1);
	suffix = buf + len - 1;
	switch (*suffix) {
	case 'k': case 'K':
		shift = 10;
		break;
	case 'm': case 'M':
		shift = 20;
		break;
	case 'g': case 'G':
		shift = 30;
		break;
	}
	if (shift)
		*suffix = '\0';
	if (!parse_u64(buf, v))
		return false;
	if (shift && *v > UINT64_MAX >> shift)
		return false;
	*v <<= shift;
	return true;
}

/*
 * getopt_long with the options every command takes (-o, -h) added, and
 * its messages replaced by ours, which name the command.  Returns the
 * option, 0 once the options are done, -EXIT_USAGE for a bad one and
 * -'h' for help (printed already).
 */
static int next_opt(const struct command *c, int argc, char **argv,
		    const char *shortopts, const struct option *longopts)
{
	struct option all[16];
	char so[64];
	size_t n = 0;
	int o;

	snprintf(so, sizeof(so), ":o:h%s", shortopts);
	for (; longopts && longopts[n].name && n < ARRAY_SIZE(all) - 3; n++)
		all[n] = longopts[n];
	all[n++] = (struct option){ "output-format", required_argument, NULL, 'o' };
	all[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	all[n] = (struct option){ NULL, 0, NULL, 0 };

	opterr = 0;
	o = getopt_long(argc, argv, so, all, NULL);
	switch (o) {
	case -1:
		return 0;
	case 'o':
		if (!parse_fmt(optarg)) {
			usage_err(c, "unknown output format '%s' (normal or json)",
				  optarg);
			return -EXIT_USAGE;
		}
		return next_opt(c, argc, argv, shortopts, longopts);
	case 'h':
		command_usage(stdout, c);
		return -'h';
	case ':':
		usage_err(c, "option %s needs an argument", argv[optind - 1]);
		return -EXIT_USAGE;
	case '?':
		if (optopt)
			usage_err(c, "unknown option -%c", optopt);
		else
			usage_err(c, "unknown option %s", argv[optind - 1]);
		return -EXIT_USAGE;
	}
	return o;
}

/* Exit status for what next_opt() returned when it stopped the command. */
static int opt_exit(int o)
{
	return o == -'h' ? 0 : -o;
}

/* ---------------------------------------------------------------------
 * sysfs
 */

/* First line of a sysfs file, without its newline; -errno. */
static int read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	int ret = 0;

	if (!f)
		return -errno;
	if (!fgets(buf, len, f))
		ret = ferror(f) ? -EIO : -ENODATA;
	else
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
	return ret;
}

static int read_u64(const char *path, uint64_t *v)
{
	char buf[64];
	int ret = read_line(path, buf, sizeof(buf));

	if (ret)
		return ret;
	return parse_u64(buf, v) ? 0 : -EINVAL;
}

static int misc_attr(unsigned int index, const char *attr, char *buf,
		     size_t len)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), SYS_MISC "/blkbatch%u/%s", index, attr);
	return read_line(path, buf, len);
}

static int parse_devt(const char *s, unsigned int *maj, unsigned int *min)
{
	char end;

	return sscanf(s, "%u:%u%c", maj, min, &end) == 2 ? 0 : -EINVAL;
}

/* /dev/DEVNAME of a block device, from its uevent; -errno. */
static int devt_path(unsigned int maj, unsigned int min, char *buf, size_t len)
{
	char path[PATH_MAX], line[PATH_MAX];
	FILE *f;
	int ret = -ENOENT;

	snprintf(path, sizeof(path), SYS_DEV_BLOCK "/%u:%u/uevent", maj, min);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "DEVNAME=", 8)) {
			snprintf(buf, len, "/dev/%s", line + 8);
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

/* Size and logical block size of a block device from sysfs alone. */
static int devt_geometry(unsigned int maj, unsigned int min, uint64_t *size,
			 uint64_t *lbs)
{
	char path[PATH_MAX];
	int ret;

	snprintf(path, sizeof(path), SYS_DEV_BLOCK "/%u:%u/size", maj, min);
	ret = read_u64(path, size);
	if (ret)
		return ret;
	/* sysfs counts 512-byte sectors whatever the block size. */
	*size *= 512;
	snprintf(path, sizeof(path), SYS_DEV_BLOCK "/%u:%u/queue/logical_block_size",
		 maj, min);
	if (!read_u64(path, lbs))
		return 0;
	/* A partition has no queue of its own: its disk's is one up. */
	snprintf(path, sizeof(path),
		 SYS_DEV_BLOCK "/%u:%u/../queue/logical_block_size", maj, min);
	return read_u64(path, lbs);
}

/*
 * The module is there when its control device is.  When it is not, say
 * whether the module is missing or only the node (no devtmpfs or udev).
 */
static int need_module(void)
{
	struct stat st;

	if (!stat(BLKBATCH_CTL_DEV, &st))
		return 0;
	if (!access(SYS_MODULE, F_OK))
		err("the blkbatch module is loaded but %s is missing: is devtmpfs mounted on /dev?",
		    BLKBATCH_CTL_DEV);
	else
		err("the blkbatch module is not loaded (no %s): load it with 'modprobe blkbatch'",
		    BLKBATCH_CTL_DEV);
	return EXIT_FAIL;
}

/* ---------------------------------------------------------------------
 * Attached devices
 */

static int cmp_uint(const void *a, const void *b)
{
	unsigned int x = *(const unsigned int *)a, y = *(const unsigned int *)b;

	return x < y ? -1 : x > y;
}

/* "blkbatchN" -> N; the control device and anything else -> false. */
static bool node_name_index(const char *name, unsigned int *index)
{
	uint64_t v;

	if (strncmp(name, "blkbatch", 8) || name[8] < '0' || name[8] > '9')
		return false;
	if (!parse_u64(name + 8, &v) || v > UINT_MAX)
		return false;
	*index = v;
	return true;
}

/* Indexes of the attached devices, ascending; -errno. */
static int attached(unsigned int *idx, unsigned int max)
{
	struct dirent *de;
	unsigned int n = 0;
	DIR *d = opendir(SYS_MISC);

	if (!d)
		return -errno;
	while ((de = readdir(d)) && n < max)
		if (node_name_index(de->d_name, &idx[n]))
			n++;
	closedir(d);
	qsort(idx, n, sizeof(*idx), cmp_uint);
	return n;
}

/*
 * Everything known about one attached device, from GET_INFO when the node
 * can be opened (root, group disk) and from sysfs otherwise, so that list
 * works for everyone.  Unknown fields stay unset: JSON null, "-".
 */
struct devdesc {
	unsigned int		index;
	char			node[32];
	int			info_err;	/* 0 or why GET_INFO failed */
	struct blkbatch_info	info;
	bool			have_devt;
	unsigned int		major, minor;
	char			device[PATH_MAX];	/* "" if unknown */
	bool			have_size;
	uint64_t		size, lbs;
	int			read_only;	/* -1 unknown */
	bool			have_inflight;
	uint64_t		inflight;
};

static void describe(unsigned int index, const struct blkbatch_info *info,
		     struct devdesc *d)
{
	struct blkbatch_dev dev;
	char buf[64];

	memset(d, 0, sizeof(*d));
	d->index = index;
	d->read_only = -1;
	snprintf(d->node, sizeof(d->node), BLKBATCH_DEV_FMT, index);

	if (info) {
		d->info = *info;
	} else {
		d->info_err = blkbatch_open(index, O_RDONLY, &dev);
		if (!d->info_err) {
			d->info = dev.info;
			blkbatch_close(&dev);
		}
	}

	if (!d->info_err && (d->info.features & BLKBATCH_F_DEV_T)) {
		d->major = d->info.dev_major;
		d->minor = d->info.dev_minor;
		d->have_devt = true;
	} else if (!misc_attr(index, "dev_backing", buf, sizeof(buf)) &&
		   !parse_devt(buf, &d->major, &d->minor)) {
		/* A version 1 module, or a node we may not open. */
		d->have_devt = true;
	}
	if (d->have_devt)
		devt_path(d->major, d->minor, d->device, sizeof(d->device));

	if (!d->info_err) {
		d->size = d->info.capacity;
		d->lbs = d->info.logical_block_size;
		d->have_size = true;
	} else if (d->have_devt) {
		d->have_size = !devt_geometry(d->major, d->minor, &d->size,
					      &d->lbs);
	}

	/* sysfs speaks for the device as it is now; GET_INFO for the attach. */
	if (!misc_attr(index, "read_only", buf, sizeof(buf)) &&
	    (!strcmp(buf, "0") || !strcmp(buf, "1")))
		d->read_only = buf[0] == '1';
	else if (!d->info_err)
		d->read_only = !!(d->info.attach_flags & BLKBATCH_ATTACH_F_RDONLY);

	if (!misc_attr(index, "inflight", buf, sizeof(buf)))
		d->have_inflight = parse_u64(buf, &d->inflight);
}

/* The attached device whose disk is @rdev; -ENOENT if none. */
static int find_by_devt(dev_t rdev, unsigned int *index)
{
	unsigned int idx[MAX_DEVS];
	struct devdesc d;
	int i, n = attached(idx, MAX_DEVS);

	for (i = 0; i < n; i++) {
		describe(idx[i], NULL, &d);
		if (d.have_devt && makedev(d.major, d.minor) == rdev) {
			*index = idx[i];
			return 0;
		}
	}
	return n < 0 ? n : -ENOENT;
}

/* The node whose character device is @rdev (a udev symlink, say). */
static int find_by_node_devt(dev_t rdev, unsigned int *index)
{
	unsigned int idx[MAX_DEVS], maj, min;
	char buf[64];
	int i, n = attached(idx, MAX_DEVS);

	for (i = 0; i < n; i++) {
		if (!misc_attr(idx[i], "dev", buf, sizeof(buf)) &&
		    !parse_devt(buf, &maj, &min) && makedev(maj, min) == rdev) {
			*index = idx[i];
			return 0;
		}
	}
	return n < 0 ? n : -ENOENT;
}

/*
 * NODE arguments: /dev/blkbatchN and blkbatchN by name (whether or not
 * they exist, so that the error can say "not attached"), any other path
 * by what it is: a blkbatch node under another name, or the attached
 * block device.  Prints its own errors; returns an exit status.
 */
static int resolve_node(const char *arg, unsigned int *index)
{
	const char *base = arg;
	struct stat st;

	if (!strncmp(base, "/dev/", 5))
		base += 5;
	if (node_name_index(base, index))
		return 0;
	if (stat(arg, &st)) {
		int e = errno;

		if (e == ENOENT && need_module())
			return EXIT_FAIL;
		err("%s: %s", arg, strerror(e));
		return EXIT_FAIL;
	}
	if (need_module())
		return EXIT_FAIL;
	if (S_ISBLK(st.st_mode)) {
		if (!find_by_devt(st.st_rdev, index))
			return 0;
		err("%s is not attached to blkbatch (see 'blkbatch list'; 'blkbatch attach %s' attaches it)",
		    arg, arg);
		return EXIT_FAIL;
	}
	if (S_ISCHR(st.st_mode) && !find_by_node_devt(st.st_rdev, index))
		return 0;
	err("%s is neither a blkbatch node (/dev/blkbatchN) nor an attached block device",
	    arg);
	return EXIT_FAIL;
}

/* Open a NODE argument; on failure says why and returns the exit status. */
static int open_node(const char *arg, int oflags, struct blkbatch_dev *dev)
{
	char node[32];
	unsigned int index;
	int ret = resolve_node(arg, &index);

	if (ret)
		return ret;
	snprintf(node, sizeof(node), BLKBATCH_DEV_FMT, index);
	ret = blkbatch_open(index, oflags, dev);
	switch (-ret) {
	case 0:
		return 0;
	case ENOENT:
		if (need_module())
			break;
		err("%s: no such device: nothing is attached as blkbatch%u (see 'blkbatch list')",
		    node, index);
		break;
	case EACCES:
	case EPERM:
		err("%s: permission denied: opening it needs root or membership in group disk",
		    node);
		break;
	case ENODEV:
		err("%s: the device has been detached", node);
		break;
	case ENOTTY:
		err("%s is not a blkbatch device", node);
		break;
	default:
		err("%s: %s", node, strerror(-ret));
	}
	return EXIT_FAIL;
}

/* ---------------------------------------------------------------------
 * attach, detach
 */

/*
 * A command without options of its own: parse the common ones and check
 * that exactly @want (0 or 1) operands follow.  @missing and @extra say
 * what is wrong when one is wanted.  0, or the exit status.
 */
static int operands_only(const struct command *c, int argc, char **argv,
			 int want, const char *missing, const char *extra)
{
	int o;

	while ((o = next_opt(c, argc, argv, "", NULL)) > 0)
		;
	if (o < 0)
		return opt_exit(o);
	if (argc - optind == want)
		return 0;
	if (!want)
		return usage_err(c, "%s takes no arguments", c->name);
	return usage_err(c, "%s", argc == optind ? missing : extra);
}

static int cmd_attach(const struct command *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "read-only", no_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	char real[PATH_MAX], node[32];
	const char *path, *device;
	unsigned int flags = 0, index, other;
	struct stat st;
	struct jw j;
	int o, ret;

	while ((o = next_opt(c, argc, argv, "r", opts)) > 0)
		flags |= BLKBATCH_ATTACH_F_RDONLY;
	if (o < 0)
		return opt_exit(o);
	if (argc - optind != 1)
		return usage_err(c, argc == optind ? "which device?" :
				 "one device at a time");
	path = argv[optind];

	ret = need_module();
	if (ret)
		return ret;
	/* Checked here too so that a typo is not mistaken for no permission. */
	if (stat(path, &st)) {
		err("%s: %s", path, strerror(errno));
		return EXIT_FAIL;
	}
	if (!S_ISBLK(st.st_mode)) {
		err("%s is not a block device", path);
		return EXIT_FAIL;
	}

	ret = blkbatch_attach(path, flags, &index);
	switch (-ret) {
	case 0:
		break;
	case EPERM:
		err("attach %s: permission denied: attaching needs root (CAP_SYS_ADMIN)",
		    path);
		return EXIT_FAIL;
	case EACCES:
		/* The control device's mode, or the disk refusing writes. */
		if (access(BLKBATCH_CTL_DEV, R_OK | W_OK))
			err("attach %s: permission denied on %s: attaching needs root",
			    path, BLKBATCH_CTL_DEV);
		else
			err("attach %s: the device is read-only: attach it with --read-only",
			    path);
		return EXIT_FAIL;
	case EBUSY:
		if (!find_by_devt(st.st_rdev, &other))
			err("attach %s: busy: already attached as " BLKBATCH_DEV_FMT,
			    path, other);
		else
			err("attach %s: busy: the disk is in use (mounted, held by md, LVM or swap, or opened exclusively by a program); release it first",
			    path);
		return EXIT_FAIL;
	case ENOSPC:
		err("attach %s: too many devices attached; detach one first (see 'blkbatch list')",
		    path);
		return EXIT_FAIL;
	case ENOENT:
		if (need_module())
			return EXIT_FAIL;
		/* fall through */
	default:
		err("attach %s: %s", path, strerror(-ret));
		return EXIT_FAIL;
	}

	snprintf(node, sizeof(node), BLKBATCH_DEV_FMT, index);
	device = realpath(path, real) ? real : path;
	if (out_fmt == FMT_JSON) {
		jw_init(&j, stdout, true);
		jw_open(&j, NULL, '{');
		jw_str(&j, "node", node);
		jw_u64(&j, "index", index);
		jw_str(&j, "device", device);
		jw_bool(&j, "read_only", flags & BLKBATCH_ATTACH_F_RDONLY);
		jw_close(&j, '}');
		jw_end(&j);
	} else {
		/* Only the node, so that node=$(blkbatch attach ...) works. */
		printf("%s\n", node);
	}
	return 0;
}

static int cmd_detach(const struct command *c, int argc, char **argv)
{
	struct devdesc d;
	unsigned int index;
	struct jw j;
	int ret;

	ret = operands_only(c, argc, argv, 1, "which node or device?",
			    "one device at a time");
	if (ret)
		return ret;

	ret = need_module();
	if (!ret)
		ret = resolve_node(argv[optind], &index);
	if (ret)
		return ret;
	/* Read before it goes, to say what was detached. */
	describe(index, NULL, &d);

	ret = blkbatch_detach(index);
	switch (-ret) {
	case 0:
		break;
	case ENODEV:
		err("%s: not attached (see 'blkbatch list')", d.node);
		return EXIT_FAIL;
	case EBUSY:
		err("detach %s: busy: batches are in flight; stop the programs using it (fuser -v %s) and retry",
		    d.node, d.node);
		return EXIT_FAIL;
	case EPERM:
	case EACCES:
		err("detach %s: permission denied: detaching needs root (CAP_SYS_ADMIN)",
		    d.node);
		return EXIT_FAIL;
	case ENOENT:
		if (need_module())
			return EXIT_FAIL;
		/* fall through */
	default:
		err("detach %s: %s", d.node, strerror(-ret));
		return EXIT_FAIL;
	}

	if (out_fmt == FMT_JSON) {
		jw_init(&j, stdout, true);
		jw_open(&j, NULL, '{');
		jw_str(&j, "node", d.node);
		jw_u64(&j, "index", index);
		if (d.device[0])
			jw_str(&j, "device", d.device);
		else
			jw_null(&j, "device");
		jw_close(&j, '}');
		jw_end(&j);
	} else if (d.device[0]) {
		printf("detached %s (%s)\n", d.node, d.device);
	} else {
		printf("detached %s\n", d.node);
	}
	return 0;
}

/* ---------------------------------------------------------------------
 * list, info
 */

static void json_devt(struct jw *j, const struct devdesc *d)
{
	char buf[32];

	if (d->device[0])
		jw_str(j, "device", d->device);
	else
		jw_null(j, "device");
	if (d->have_devt) {
		snprintf(buf, sizeof(buf), "%u:%u", d->major, d->minor);
		jw_str(j, "dev", buf);
		jw_u64(j, "dev_major", d->major);
		jw_u64(j, "dev_minor", d->minor);
	} else {
		jw_null(j, "dev");
		jw_null(j, "dev_major");
		jw_null(j, "dev_minor");
	}
}

static void json_list_entry(struct jw *j, const struct devdesc *d)
{
	jw_open(j, NULL, '{');
	jw_str(j, "node", d->node);
	jw_u64(j, "index", d->index);
	json_devt(j, d);
	if (d->have_size) {
		jw_u64(j, "size", d->size);
		jw_u64(j, "logical_block_size", d->lbs);
	} else {
		jw_null(j, "size");
		jw_null(j, "logical_block_size");
	}
	if (d->read_only >= 0)
		jw_bool(j, "read_only", d->read_only);
	else
		jw_null(j, "read_only");
	if (d->have_inflight)
		jw_u64(j, "inflight", d->inflight);
	else
		jw_null(j, "inflight");
	jw_close(j, '}');
}

static int cmd_list(const struct command *c, int argc, char **argv)
{
	unsigned int idx[MAX_DEVS];
	struct devdesc d;
	char hb[32];
	struct jw j;
	int i, n, ret;

	ret = operands_only(c, argc, argv, 0, NULL, NULL);
	if (ret)
		return ret;
	ret = need_module();
	if (ret)
		return ret;
	n = attached(idx, MAX_DEVS);
	if (n < 0) {
		err("cannot read %s: %s", SYS_MISC, strerror(-n));
		return EXIT_FAIL;
	}

	if (out_fmt == FMT_JSON) {
		jw_init(&j, stdout, true);
		jw_open(&j, NULL, '{');
		jw_open(&j, "devices", '[');
		for (i = 0; i < n; i++) {
			describe(idx[i], NULL, &d);
			json_list_entry(&j, &d);
		}
		jw_close(&j, ']');
		jw_close(&j, '}');
		jw_end(&j);
		return 0;
	}

	if (!n) {
		printf("No devices attached.\n");
		return 0;
	}
	printf("%-16s %-20s %-9s %-26s %-5s %-3s %s\n", "Node", "Device",
	       "MAJ:MIN", "Size", "LBS", "RO", "Inflight");
	printf("%-16s %-20s %-9s %-26s %-5s %-3s %s\n", "----------------",
	       "--------------------", "---------",
	       "--------------------------", "-----", "---", "--------");
	for (i = 0; i < n; i++) {
		char devt[32] = "-", size[48] = "-", lbs[16] = "-", infl[24] = "-";

		describe(idx[i], NULL, &d);
		if (d.have_devt)
			snprintf(devt, sizeof(devt), "%u:%u", d.major, d.minor);
		if (d.have_size) {
			snprintf(size, sizeof(size), "%" PRIu64 " (%s)", d.size,
				 human_bytes(d.size, hb, sizeof(hb)));
			snprintf(lbs, sizeof(lbs), "%" PRIu64, d.lbs);
		}
		if (d.have_inflight)
			snprintf(infl, sizeof(infl), "%" PRIu64, d.inflight);
		printf("%-16s %-20s %-9s %-26s %-5s %-3s %s\n", d.node,
		       d.device[0] ? d.device : "-", devt, size, lbs,
		       d.read_only < 0 ? "-" : d.read_only ? "yes" : "no", infl);
	}
	return 0;
}

/* Names of the feature bits; bits this library does not know by number. */
static const char *feature_name(unsigned int bit, char *buf, size_t len)
{
	const char *name = blkbatch_feature_name(1ULL << bit);

	if (strcmp(name, "unknown"))
		return name;
	snprintf(buf, len, "bit%u", bit);
	return buf;
}

static int cmd_info(const struct command *c, int argc, char **argv)
{
	const struct blkbatch_info *in;
	struct blkbatch_dev dev;
	struct devdesc d;
	char buf[32], hb[32];
	unsigned int bit;
	struct jw j;
	int ret;

	ret = operands_only(c, argc, argv, 1, "which node?",
			    "one node at a time");
	if (ret)
		return ret;
	ret = open_node(argv[optind], O_RDONLY, &dev);
	if (ret)
		return ret;
	describe(dev.index, &dev.info, &d);
	blkbatch_close(&dev);
	in = &d.info;

	if (out_fmt == FMT_JSON) {
		jw_init(&j, stdout, true);
		jw_open(&j, NULL, '{');
		jw_str(&j, "node", d.node);
		jw_u64(&j, "index", in->index);
		jw_u64(&j, "version", in->version);
		json_devt(&j, &d);
		jw_u64(&j, "capacity", in->capacity);
		jw_u64(&j, "logical_block_size", in->logical_block_size);
		jw_u64(&j, "physical_block_size", in->physical_block_size);
		jw_u64(&j, "dma_alignment", in->dma_alignment);
		jw_u64(&j, "max_entries", in->max_entries);
		jw_u64(&j, "max_entry_bytes", in->max_entry_bytes);
		jw_u64(&j, "max_hw_bytes", in->max_hw_bytes);
		jw_u64(&j, "max_vecs", in->max_vecs);
		jw_u64(&j, "max_discard_bytes", in->max_discard_bytes);
		jw_u64(&j, "attach_flags", in->attach_flags);
		jw_bool(&j, "read_only",
			in->attach_flags & BLKBATCH_ATTACH_F_RDONLY);
		jw_u64(&j, "feature_bits", in->features);
		jw_open(&j, "features", '[');
		for (bit = 0; bit < 64; bit++)
			if (in->features & (1ULL << bit))
				jw_str(&j, NULL, feature_name(bit, buf, sizeof(buf)));
		jw_close(&j, ']');
		jw_close(&j, '}');
		jw_end(&j);
		return 0;
	}

	printf("%-20s: %s\n", "node", d.node);
	if (d.have_devt)
		printf("%-20s: %s (%u:%u)\n", "device",
		       d.device[0] ? d.device : "?", d.major, d.minor);
	else
		printf("%-20s: unknown (module version %u reports no dev_t)\n",
		       "device", in->version);
	printf("%-20s: %u\n", "version", in->version);
	printf("%-20s: %llu (%s)\n", "capacity",
	       (unsigned long long)in->capacity,
	       human_bytes(in->capacity, hb, sizeof(hb)));
	printf("%-20s: %u\n", "logical_block_size", in->logical_block_size);
	printf("%-20s: %u\n", "physical_block_size", in->physical_block_size);
	printf("%-20s: %u\n", "dma_alignment", in->dma_alignment);
	printf("%-20s: %u\n", "max_entries", in->max_entries);
	printf("%-20s: %u (%s)\n", "max_entry_bytes", in->max_entry_bytes,
	       human_bytes(in->max_entry_bytes, hb, sizeof(hb)));
	printf("%-20s: %u (%s)\n", "max_hw_bytes", in->max_hw_bytes,
	       human_bytes(in->max_hw_bytes, hb, sizeof(hb)));
	printf("%-20s: %u\n", "max_vecs", in->max_vecs);
	if (in->max_discard_bytes)
		printf("%-20s: %u (%s)\n", "max_discard_bytes",
		       in->max_discard_bytes,
		       human_bytes(in->max_discard_bytes, hb, sizeof(hb)));
	else
		printf("%-20s: 0 (no discard)\n", "max_discard_bytes");
	printf("%-20s: %s\n", "read_only",
	       in->attach_flags & BLKBATCH_ATTACH_F_RDONLY ? "yes" : "no");
	printf("%-20s: %#llx\n", "feature_bits",
	       (unsigned long long)in->features);
	printf("%-20s:", "features");
	for (bit = 0; bit < 64; bit++)
		if (in->features & (1ULL << bit))
			printf(" %s", feature_name(bit, buf, sizeof(buf)));
	printf("\n");
	return 0;
}

/* ---------------------------------------------------------------------
 * stats
 */

/* The fields of sysfs "stat", in its order; later kernels may add more. */
static const char *const stat_names[] = {
	"batches", "entries", "bytes_read", "bytes_written",
	"entries_failed", "batches_invalid", "polled_bios", "retried_entries",
};

#define NR_STATS	ARRAY_SIZE(stat_names)

struct sample {
	struct timespec	t;
	uint64_t	v[NR_STATS];
	bool		have_inflight;
	uint64_t	inflight;
};

static int read_sample(unsigned int index, struct sample *s)
{
	char buf[512], node[32], *p, *end;
	size_t i;
	int ret;

	snprintf(node, sizeof(node), BLKBATCH_DEV_FMT, index);
	clock_gettime(CLOCK_MONOTONIC, &s->t);
	ret = misc_attr(index, "stat", buf, sizeof(buf));
	if (ret == -ENOENT) {
		snprintf(buf, sizeof(buf), SYS_MISC "/blkbatch%u", index);
		if (!access(buf, F_OK)) {
			err("%s: this blkbatch module has no statistics (no %s/stat); it needs a newer module",
			    node, buf);
			return EXIT_FAIL;
		}
		if (need_module())
			return EXIT_FAIL;
		err("%s: no such device: nothing is attached as blkbatch%u (see 'blkbatch list')",
		    node, index);
		return EXIT_FAIL;
	}
	if (ret) {
		err("%s: cannot read its statistics: %s", node, strerror(-ret));
		return EXIT_FAIL;
	}
	for (p = buf, i = 0; i < NR_STATS; i++, p = end) {
		errno = 0;
		s->v[i] = strtoull(p, &end, 10);
		if (end == p || errno) {
			err("%s: unexpected statistics format: '%s'", node, buf);
			return EXIT_FAIL;
		}
	}
	s->have_inflight = !misc_attr(index, "inflight", buf, sizeof(buf)) &&
			   parse_u64(buf, &s->inflight);
	return 0;
}

static double ts_diff(const struct timespec *a, const struct timespec *b)
{
	return (a->tv_sec - b->tv_sec) + (a->tv_nsec - b->tv_nsec) / 1e9;
}

/* A counter that went back belongs to a device reattached at this index. */
static double rate(const struct sample *s, const struct sample *prev,
		   size_t i, double dt)
{
	return s->v[i] < prev->v[i] ? 0 : (s->v[i] - prev->v[i]) / dt;
}

/*
 * One sample; with @prev the rates since it, and the time since @t0.
 * Watched JSON samples are one compact object per line, so that a reader
 * can take them one at a time.
 */
static void print_sample(const char *node, const struct sample *s,
			 const struct sample *prev, const struct timespec *t0,
			 bool watching)
{
	double dt = prev ? ts_diff(&s->t, &prev->t) : 0;
	char hb[32];
	struct jw j;
	size_t i;

	if (out_fmt == FMT_JSON) {
		jw_init(&j, stdout, !watching);
		jw_open(&j, NULL, '{');
		jw_str(&j, "node", node);
		if (watching)
			jw_double(&j, "time", ts_diff(&s->t, t0));
		for (i = 0; i < NR_STATS; i++)
			jw_u64(&j, stat_names[i], s->v[i]);
		if (s->have_inflight)
			jw_u64(&j, "inflight", s->inflight);
		else
			jw_null(&j, "inflight");
		if (watching && prev && dt > 0) {
			jw_double(&j, "interval", dt);
			jw_open(&j, "rates", '{');
			for (i = 0; i < NR_STATS; i++)
				jw_double(&j, stat_names[i],
					  rate(s, prev, i, dt));
			jw_close(&j, '}');
		} else if (watching) {
			jw_null(&j, "interval");
			jw_null(&j, "rates");
		}
		jw_close(&j, '}');
		jw_end(&j);
		return;
	}

	if (watching)
		printf("%s at %.1f s:\n", node, ts_diff(&s->t, t0));
	else
		printf("%s:\n", node);
	for (i = 0; i < NR_STATS; i++) {
		printf("  %-16s: %20" PRIu64, stat_names[i], s->v[i]);
		if (prev && dt > 0) {
			double r = rate(s, prev, i, dt);

			/* Byte counters read better in units. */
			if (!strncmp(stat_names[i], "bytes_", 6))
				printf("  %s/s",
				       human_bytes((uint64_t)r, hb, sizeof(hb)));
			else
				printf("  %.1f/s", r);
		}
		printf("\n");
	}
	if (s->have_inflight)
		printf("  %-16s: %20" PRIu64 "\n", "inflight", s->inflight);
	fflush(stdout);
}

static int cmd_stats(const struct command *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "watch", required_argument, NULL, 'w' },
		{ "count", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	struct sample prev, cur;
	struct timespec t0, next;
	char node[32], *end;
	double watch = 0;
	uint64_t count = 0, n;
	unsigned int index;
	int o, ret;

	while ((o = next_opt(c, argc, argv, "w:c:", opts)) > 0) {
		switch (o) {
		case 'w':
			errno = 0;
			watch = strtod(optarg, &end);
			if (errno || *end || !(watch > 0) || watch > 86400)
				return usage_err(c, "--watch takes a number of seconds > 0, not '%s'",
						 optarg);
			break;
		case 'c':
			if (!parse_u64(optarg, &count) || !count)
				return usage_err(c, "--count takes a number > 0, not '%s'",
						 optarg);
			break;
		}
	}
	if (o < 0)
		return opt_exit(o);
	if (argc - optind != 1)
		return usage_err(c, argc == optind ? "which node?" :
				 "one node at a time");
	if (count && !watch)
		return usage_err(c, "--count counts the samples of --watch");

	ret = resolve_node(argv[optind], &index);
	if (ret)
		return ret;
	snprintf(node, sizeof(node), BLKBATCH_DEV_FMT, index);
	ret = read_sample(index, &cur);
	if (ret)
		return ret;
	print_sample(node, &cur, NULL, &cur.t, watch > 0);
	if (!watch)
		return 0;

	/* Absolute deadlines: a slow sample does not shift all later ones. */
	t0 = cur.t;
	next = cur.t;

	for (n = 1; !count || n < count; n++) {
		next.tv_sec += (time_t)watch;
		next.tv_nsec += (long)((watch - (time_t)watch) * 1e9);
		if (next.tv_nsec >= 1000000000L) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000L;
		}
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next,
				       NULL) == EINTR)
			;
		prev = cur;
		ret = read_sample(index, &cur);
		if (ret)
			return ret;
		print_sample(node, &cur, &prev, &t0, true);
	}
	return 0;
}

/* ---------------------------------------------------------------------
 * read, write
 */

static ssize_t read_full(int fd, void *buf, size_t len)
{
	size_t done = 0;
	ssize_t r;

	while (done < len) {
		r = read(fd, (char *)buf + done, len - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (!r)
			break;
		done += r;
	}
	return done;
}

static int write_full(int fd, const void *buf, size_t len)
{
	size_t done = 0;
	ssize_t r;

	while (done < len) {
		r = write(fd, (const char *)buf + done, len - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		done += r;
	}
	return 0;
}

/* What a batch error (the whole batch refused) means for the user. */
static void batch_error(const char *node, bool write, int res)
{
	switch (-res) {
	case EPERM:
		err("%s: %s refused: the device is attached read-only", node,
		    write ? "write" : "read");
		break;
	case ENODEV:
		err("%s: the device has been detached", node);
		break;
	case EINVAL:
	case ENOSPC:
	case E2BIG:
	case EOVERFLOW:
		/* Checked before submitting: the device must have changed. */
		err("%s: the kernel refused the batch: %s (did the device change? see 'blkbatch info %s')",
		    node, strerror(-res), node);
		break;
	default:
		err("%s: the batch failed: %s", node, strerror(-res));
	}
}

/*
 * The sync ioctl needs no ring for one batch; a module without it still
 * has io_uring.
 */
static int run_batch(struct blkbatch_dev *dev, struct blkbatch_batch *b)
{
	struct blkbatch_ring r;
	int ret;

	if (dev->info.features & BLKBATCH_F_SYNC)
		return blkbatch_run_sync(dev->fd, b);
	ret = blkbatch_ring_init(&r, 1, 0);
	if (ret)
		return ret;
	ret = blkbatch_run(&r, dev->fd, b);
	blkbatch_ring_exit(&r);
	return ret;
}

/*
 * Only once every entry succeeded, so that a failed read leaves FILE as
 * it was.  Raw sectors would garble a terminal: it gets a hex dump.
 */
static int output_data(const char *data, const void *buf, size_t len,
		       uint64_t offset)
{
	int fd = STDOUT_FILENO, ret;

	if (!data && out_fmt == FMT_NORMAL && isatty(fd)) {
		hexdump(stdout, buf, len, offset);
		if (fflush(stdout)) {
			err("stdout: %s", strerror(errno));
			return EXIT_FAIL;
		}
		return 0;
	}
	if (data) {
		fd = open(data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
		if (fd < 0) {
			err("%s: %s", data, strerror(errno));
			return EXIT_FAIL;
		}
	}
	ret = write_full(fd, buf, len);
	/* A full disk or NFS may only say so at close. */
	if (data && close(fd) && !ret)
		ret = -errno;
	if (ret) {
		err("%s: %s", data ? data : "stdout", strerror(-ret));
		return EXIT_FAIL;
	}
	return 0;
}

static int cmd_rw(const struct command *c, int argc, char **argv,
		  bool write)
{
	static const struct option opts[] = {
		{ "offset", required_argument, NULL, 's' },
		{ "length", required_argument, NULL, 'l' },
		{ "data", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	const char *verb = write ? "write" : "read";
	const char *data = NULL, *node_arg;
	bool have_off = false, have_len = false;
	uint64_t offset = 0, length = 0, chunk, pos, nr, lbs, cap;
	struct blkbatch_batch b = { 0 };
	struct blkbatch_dev dev = { .fd = -1 };
	const struct blkbatch_info *in;
	char node[32], hb[32];
	size_t align = 4096;
	void *buf = NULL;
	int o, ret, fd = -1, rc = EXIT_FAIL;
	unsigned int i;
	ssize_t got;

	while ((o = next_opt(c, argc, argv, "s:l:d:", opts)) > 0) {
		switch (o) {
		case 's':
			if (!parse_size(optarg, &offset))
				return usage_err(c, "bad --offset '%s'", optarg);
			have_off = true;
			break;
		case 'l':
			if (!parse_size(optarg, &length))
				return usage_err(c, "bad --length '%s'", optarg);
			have_len = true;
			break;
		case 'd':
			data = optarg;
			break;
		}
	}
	if (o < 0)
		return opt_exit(o);
	if (argc - optind != 1)
		return usage_err(c, argc == optind ? "which node?" :
				 "one node at a time");
	if (!have_off || !have_len)
		return usage_err(c, "%s needs --offset and --length", verb);
	if (!length)
		return usage_err(c, "--length must be more than 0");
	if (data && !strcmp(data, "-"))
		data = NULL;
	/* The data would be mixed into the JSON. */
	if (!write && !data && out_fmt == FMT_JSON)
		return usage_err(c, "read -o json needs --data FILE");
	node_arg = argv[optind];

	ret = open_node(node_arg, write ? O_WRONLY : O_RDONLY, &dev);
	if (ret)
		return ret;
	in = &dev.info;
	snprintf(node, sizeof(node), BLKBATCH_DEV_FMT, dev.index);
	lbs = in->logical_block_size;
	cap = in->capacity;

	/* The kernel's checks, before submitting, so that we can say more. */
	if (!lbs || !in->max_entry_bytes || !in->max_entries) {
		err("%s: GET_INFO reports no block size or batch limits", node);
		goto out;
	}
	if (offset % lbs || length % lbs) {
		err("%s: --%s %" PRIu64 " is not a multiple of the logical block size (%" PRIu64 " bytes)",
		    node, offset % lbs ? "offset" : "length",
		    offset % lbs ? offset : length, lbs);
		goto out;
	}
	if (offset > cap || length > cap - offset) {
		err("%s: %" PRIu64 " bytes at offset %" PRIu64 " end beyond the device's capacity of %" PRIu64 " bytes (%s)",
		    node, length, offset, cap, human_bytes(cap, hb, sizeof(hb)));
		goto out;
	}
	if (write && (in->attach_flags & BLKBATCH_ATTACH_F_RDONLY)) {
		err("%s is attached read-only: detach it and attach it without --read-only to write",
		    node);
		goto out;
	}
	nr = (length + in->max_entry_bytes - 1) / in->max_entry_bytes;
	if (nr > in->max_entries) {
		err("%s: %" PRIu64 " bytes need %" PRIu64 " entries, more than one batch takes (%u of at most %u bytes)",
		    node, length, nr, in->max_entries, in->max_entry_bytes);
		goto out;
	}
	if (length > (uint64_t)SSIZE_MAX) {
		err("%s: --length %" PRIu64 " does not fit in memory", node,
		    length);
		goto out;
	}

	while (align < in->dma_alignment)
		align <<= 1;
	ret = posix_memalign(&buf, align, length);
	if (ret) {
		err("cannot allocate %" PRIu64 " bytes for the data: %s",
		    length, strerror(ret));
		buf = NULL;
		goto out;
	}

	if (write) {
		fd = data ? open(data, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
		if (fd < 0) {
			err("%s: %s", data, strerror(errno));
			goto out;
		}
		got = read_full(fd, buf, length);
		if (got < 0) {
			err("%s: %s", data ? data : "stdin", strerror(-got));
			goto out;
		}
		/* Padding a short input would write what nobody gave us. */
		if ((uint64_t)got < length) {
			err("%s holds %zd bytes, less than --length %" PRIu64 ": nothing written",
			    data ? data : "stdin", got, length);
			goto out;
		}
	}

	ret = blkbatch_batch_alloc(&b, nr);
	if (ret) {
		err("cannot allocate a batch of %" PRIu64 " entries: %s", nr,
		    strerror(-ret));
		goto out;
	}
	for (pos = 0; pos < length; pos += chunk) {
		chunk = length - pos < in->max_entry_bytes ?
			length - pos : in->max_entry_bytes;
		if (write)
			blkbatch_batch_add_write(&b, (char *)buf + pos, chunk,
						 offset + pos, 0);
		else
			blkbatch_batch_add_read(&b, (char *)buf + pos, chunk,
						offset + pos);
	}

	ret = run_batch(&dev, &b);
	if (ret < 0) {
		batch_error(node, write, ret);
		goto out;
	}
	if ((unsigned int)ret < b.nr) {
		for (i = 0; i < b.nr; i++) {
			if (b.status[i] >= 0)
				continue;
			err("%s: %s of entry %u (offset %llu, %u bytes) failed: %s",
			    node, verb, i, (unsigned long long)b.entries[i].offset,
			    b.entries[i].len, strerror(-b.status[i]));
		}
		err("%s: %u of %u entries failed%s", node, b.nr - ret, b.nr,
		    write ? "" : "; no data written out");
		goto out;
	}

	if (!write && output_data(data, buf, length, offset))
		goto out;

	if (out_fmt == FMT_JSON) {
		struct jw j;

		jw_init(&j, stdout, true);
		jw_open(&j, NULL, '{');
		jw_str(&j, "node", node);
		jw_str(&j, "op", verb);
		jw_u64(&j, "offset", offset);
		jw_u64(&j, "length", length);
		jw_u64(&j, "entries", b.nr);
		if (data)
			jw_str(&j, "data", data);
		else
			jw_null(&j, "data");
		jw_close(&j, '}');
		jw_end(&j);
	} else if (write || data) {
		printf("%s: %s %" PRIu64 " bytes at offset %" PRIu64 " in one batch of %u entr%s\n",
		       node, write ? "wrote" : "read", length, offset, b.nr,
		       b.nr == 1 ? "y" : "ies");
	}
	rc = 0;
out:
	if (data && fd >= 0)
		close(fd);
	blkbatch_batch_free(&b);
	free(buf);
	blkbatch_close(&dev);
	return rc;
}

static int cmd_read(const struct command *c, int argc, char **argv)
{
	return cmd_rw(c, argc, argv, false);
}

static int cmd_write(const struct command *c, int argc, char **argv)
{
	return cmd_rw(c, argc, argv, true);
}

/* ---------------------------------------------------------------------
 * version, help
 */

static int cmd_version(const struct command *c, int argc, char **argv)
{
	char mod[64];
	struct jw j;
	int ret;

	ret = operands_only(c, argc, argv, 0, NULL, NULL);
	if (ret)
		return ret;
	if (read_line(SYS_MODULE "/version", mod, sizeof(mod)))
		mod[0] = '\0';

	if (out_fmt == FMT_JSON) {
		jw_init(&j, stdout, true);
		jw_open(&j, NULL, '{');
		jw_str(&j, "version", BLKBATCH_CLI_VERSION);
		jw_u64(&j, "protocol", BLKBATCH_VERSION);
		if (mod[0])
			jw_str(&j, "module_version", mod);
		else
			jw_null(&j, "module_version");
		jw_close(&j, '}');
		jw_end(&j);
		return 0;
	}
	printf("blkbatch version %s (protocol %d)\n", BLKBATCH_CLI_VERSION,
	       BLKBATCH_VERSION);
	if (mod[0])
		printf("module version %s\n", mod);
	else
		printf("module not loaded\n");
	return 0;
}

static int cmd_help(const struct command *c, int argc, char **argv)
{
	const struct command *which;

	if (argc > 2)
		return usage_err(c, "help takes one command");
	if (argc == 2) {
		which = find_command(argv[1]);
		if (!which)
			return usage_err(NULL, "unknown command '%s'", argv[1]);
		command_usage(stdout, which);
		return 0;
	}
	print_usage(stdout);
	return 0;
}

static const struct command commands[] = {
	{ "attach", cmd_attach, "DEVICE [-r|--read-only]",
	  "attach a block device; prints its node /dev/blkbatchN" },
	{ "detach", cmd_detach, "NODE|DEVICE",
	  "detach a node, or the node of an attached block device" },
	{ "list", cmd_list, "",
	  "list the attached devices" },
	{ "info", cmd_info, "NODE",
	  "limits, features and version of an attached device" },
	{ "stats", cmd_stats, "NODE [-w|--watch SECONDS] [-c|--count N]",
	  "counters; with --watch every SECONDS with rates, --count samples" },
	{ "read", cmd_read,
	  "NODE -s|--offset BYTES -l|--length BYTES [-d|--data FILE]",
	  "read in one batch, to FILE or stdout" },
	{ "write", cmd_write,
	  "NODE -s|--offset BYTES -l|--length BYTES [-d|--data FILE]",
	  "write in one batch, from FILE or stdin" },
	{ "version", cmd_version, "", "versions of the tool and the module" },
	{ "help", cmd_help, "[COMMAND]", "this help, or a command's" },
};

static const struct command *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static void print_usage(FILE *f)
{
	size_t i;

	fputs(global_usage, f);
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-9s %s\n", commands[i].name,
			commands[i].args[0] ? commands[i].args : commands[i].help);
	fputs(global_tail, f);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output-format", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const struct command *c;
	int o;

	/* "+": the command's own options are the command's to parse. */
	opterr = 0;
	while ((o = getopt_long(argc, argv, "+:o:hV", opts, NULL)) != -1) {
		switch (o) {
		case 'o':
			if (!parse_fmt(optarg))
				return usage_err(NULL, "unknown output format '%s' (normal or json)",
						 optarg);
			break;
		case 'h':
			print_usage(stdout);
			return 0;
		case 'V':
			c = find_command("version");
			optind = 0;
			return c->fn(c, 1, (char *[]){ "version", NULL });
		case ':':
			return usage_err(NULL, "option %s needs an argument",
					 argv[optind - 1]);
		default:
			if (optopt)
				return usage_err(NULL, "unknown option -%c", optopt);
			return usage_err(NULL, "unknown option %s",
					 argv[optind - 1]);
		}
	}
	if (optind >= argc) {
		print_usage(stderr);
		return EXIT_USAGE;
	}
	c = find_command(argv[optind]);
	if (!c)
		return usage_err(NULL, "unknown command '%s'", argv[optind]);

	argc -= optind;
	argv += optind;
	/* 0 makes glibc's getopt start over on the command's arguments. */
	optind = 0;
	return c->fn(c, argc, argv);
}
