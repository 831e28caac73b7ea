// SPDX-License-Identifier: MIT
/*
 * blkbatch(8): JSON writer and human-readable formatting.
 */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "output.h"

void jw_init(struct jw *j, FILE *f, bool pretty)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
	j->pretty = pretty;
}

static void jw_indent(struct jw *j, int depth)
{
	fputc('\n', j->f);
	while (depth-- > 0)
		fputs("  ", j->f);
}

/*
 * Strings come from the command line and from sysfs: anything a path may
 * hold must still leave valid JSON.  Bytes >= 0x80 pass through, as paths
 * on Linux are UTF-8 in practice.
 */
static void jw_quote(struct jw *j, const char *s)
{
	const unsigned char *p;

	fputc('"', j->f);
	for (p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", j->f);
			break;
		case '\\':
			fputs("\\\\", j->f);
			break;
		case '\n':
			fputs("\\n", j->f);
			break;
		case '\t':
			fputs("\\t", j->f);
			break;
		default:
			if (*p < 0x20)
				fprintf(j->f, "\\u%04x", *p);
			else
				fputc(*p, j->f);
		}
	}
	fputc('"', j->f);
}

static void jw_item(struct jw *j, const char *key)
{
	if (j->depth > 0) {
		if (j->has_items[j->depth])
			fputc(',', j->f);
		j->has_items[j->depth] = true;
		if (j->pretty)
			jw_indent(j, j->depth);
	}
	if (key) {
		jw_quote(j, key);
		fputs(j->pretty ? ": " : ":", j->f);
	}
}

void jw_open(struct jw *j, const char *key, char bracket)
{
	jw_item(j, key);
	fputc(bracket, j->f);
	/* The commands' shapes are fixed: overflowing is a bug here. */
	if (j->depth < JW_MAX_DEPTH)
		j->depth++;
	j->has_items[j->depth] = false;
}

void jw_close(struct jw *j, char bracket)
{
	if (j->pretty && j->has_items[j->depth])
		jw_indent(j, j->depth - 1);
	fputc(bracket, j->f);
	if (j->depth > 0)
		j->depth--;
}

void jw_str(struct jw *j, const char *key, const char *s)
{
	jw_item(j, key);
	jw_quote(j, s);
}

void jw_u64(struct jw *j, const char *key, uint64_t v)
{
	jw_item(j, key);
	fprintf(j->f, "%" PRIu64, v);
}

void jw_double(struct jw *j, const char *key, double v)
{
	/* JSON has no NaN or infinity; a rate that is neither is a number. */
	if (!isfinite(v)) {
		jw_null(j, key);
		return;
	}
	jw_item(j, key);
	fprintf(j->f, "%.2f", v);
}

void jw_bool(struct jw *j, const char *key, bool v)
{
	jw_item(j, key);
	fputs(v ? "true" : "false", j->f);
}

void jw_null(struct jw *j, const char *key)
{
	jw_item(j, key);
	fputs("null", j->f);
}

void jw_end(struct jw *j)
{
	fputc('\n', j->f);
	fflush(j->f);
}

const char *human_bytes(uint64_t v, char *buf, size_t len)
{
	static const char *const units[] = {
		"KiB", "MiB", "GiB", "TiB", "PiB", "EiB",
	};
	double d = v;
	int u = -1;

	if (v < 1024) {
		snprintf(buf, len, "%" PRIu64 " B", v);
		return buf;
	}
	while (d >= 1024 && u < 5) {
		d /= 1024;
		u++;
	}
	snprintf(buf, len, "%.2f %s", d, units[u]);
	return buf;
}

void hexdump(FILE *f, const void *buf, size_t len, uint64_t base)
{
	const unsigned char *p = buf;
	bool squeezed = false;
	size_t off, i;

	for (off = 0; off < len; off += 16) {
		size_t n = len - off < 16 ? len - off : 16;

		/* Disks are mostly zeroes: one "*" per run, as hexdump -C. */
		if (off && n == 16 && !memcmp(p + off, p + off - 16, 16)) {
			if (!squeezed)
				fputs("*\n", f);
			squeezed = true;
			continue;
		}
		squeezed = false;
		fprintf(f, "%08" PRIx64 " ", base + off);
		for (i = 0; i < 16; i++) {
			if (i == 8)
				fputc(' ', f);
			if (i < n)
				fprintf(f, " %02x", p[off + i]);
			else
				fputs("   ", f);
		}
		fputs("  |", f);
		for (i = 0; i < n; i++)
			fputc(p[off + i] >= 0x20 && p[off + i] < 0x7f ?
			      p[off + i] : '.', f);
		fputs("|\n", f);
	}
	fprintf(f, "%08" PRIx64 "\n", base + len);
}
