/* SPDX-License-Identifier: MIT */
/*
 * blkbatch(8): the two output formats.  JSON goes through a small writer
 * so that every command quotes, escapes and nests the same way; the
 * normal format is each command's own printf, plus the helpers here.
 */
#ifndef BLKBATCH_CLI_OUTPUT_H
#define BLKBATCH_CLI_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Deep enough for every command: {"devices":[{...,"features":[...]}]}. */
#define JW_MAX_DEPTH	8

struct jw {
	FILE	*f;
	bool	pretty;
	int	depth;
	bool	has_items[JW_MAX_DEPTH + 1];
};

/*
 * @key is the member name inside an object and NULL inside an array
 * (and for the top-level value).
 */
void jw_init(struct jw *j, FILE *f, bool pretty);
void jw_open(struct jw *j, const char *key, char bracket);
void jw_close(struct jw *j, char bracket);
void jw_str(struct jw *j, const char *key, const char *s);
void jw_u64(struct jw *j, const char *key, uint64_t v);
void jw_double(struct jw *j, const char *key, double v);
void jw_bool(struct jw *j, const char *key, bool v);
void jw_null(struct jw *j, const char *key);
/* Ends the top-level value: a newline, and the stream flushed. */
void jw_end(struct jw *j);

/* "512.00 MiB"; binary units, since devices are sized in them. */
const char *human_bytes(uint64_t v, char *buf, size_t len);

/* hexdump -C layout, offsets counted from @base, repeated lines as "*". */
void hexdump(FILE *f, const void *buf, size_t len, uint64_t base);

#endif /* BLKBATCH_CLI_OUTPUT_H */
