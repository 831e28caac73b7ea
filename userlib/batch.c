// SPDX-License-Identifier: MIT
/*
 * libblkbatch: building batches.  Nothing here allocates except
 * blkbatch_batch_alloc(), and nothing enters the kernel.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libblkbatch.h"

_Static_assert(sizeof(struct blkbatch_entry) == 32, "blkbatch_entry size");
_Static_assert(sizeof(struct blkbatch_cmd) == 80, "blkbatch_cmd size");

void blkbatch_batch_init(struct blkbatch_batch *b, struct blkbatch_entry *ents,
			 __s32 *status, unsigned int cap)
{
	b->entries = ents;
	b->status = status;
	b->nr = 0;
	/* Indices are returned as int. */
	b->cap = cap > INT_MAX ? INT_MAX : cap;
	b->flags = 0;
	b->owned = false;
}

int blkbatch_batch_alloc(struct blkbatch_batch *b, unsigned int cap)
{
	struct blkbatch_entry *ents;
	__s32 *status;

	if (!cap || cap > INT_MAX)
		return -EINVAL;
	ents = calloc(cap, sizeof(*ents));
	status = calloc(cap, sizeof(*status));
	if (!ents || !status) {
		free(ents);
		free(status);
		return -ENOMEM;
	}
	blkbatch_batch_init(b, ents, status, cap);
	b->owned = true;
	return 0;
}

void blkbatch_batch_free(struct blkbatch_batch *b)
{
	if (b->owned) {
		free(b->entries);
		free(b->status);
	}
	memset(b, 0, sizeof(*b));
}

void blkbatch_batch_reset(struct blkbatch_batch *b)
{
	b->nr = 0;
}

/* The next free entry, zeroed, or NULL when the batch is full. */
static struct blkbatch_entry *next_entry(struct blkbatch_batch *b)
{
	struct blkbatch_entry *e;

	if (b->nr >= b->cap)
		return NULL;
	e = &b->entries[b->nr];
	memset(e, 0, sizeof(*e));
	return e;
}

static int add(struct blkbatch_batch *b, __u8 op, __u16 flags, __u32 len,
	       __u64 offset, __u64 addr, __u32 nr_vecs)
{
	struct blkbatch_entry *e = next_entry(b);

	if (!e)
		return -ENOSPC;
	e->op = op;
	e->flags = flags;
	e->len = len;
	e->offset = offset;
	e->addr = addr;
	e->nr_vecs = nr_vecs;
	return (int)b->nr++;
}

int blkbatch_batch_add_read(struct blkbatch_batch *b, void *buf, __u32 len,
			    __u64 offset)
{
	return add(b, BLKBATCH_OP_READ, 0, len, offset,
		   (__u64)(uintptr_t)buf, 0);
}

int blkbatch_batch_add_write(struct blkbatch_batch *b, const void *buf,
			     __u32 len, __u64 offset, __u16 flags)
{
	return add(b, BLKBATCH_OP_WRITE, flags, len, offset,
		   (__u64)(uintptr_t)buf, 0);
}

/* Sum of the iovec lengths, or -EINVAL if it does not fit a __u32. */
static int iov_total(const struct iovec *iov, unsigned int nr_vecs,
		     __u32 *total)
{
	__u64 sum = 0;
	unsigned int i;

	for (i = 0; i < nr_vecs; i++) {
		if (iov[i].iov_len > UINT32_MAX)
			return -EINVAL;
		sum += iov[i].iov_len;
		if (sum > UINT32_MAX)
			return -EINVAL;
	}
	*total = (__u32)sum;
	return 0;
}

static int add_vec(struct blkbatch_batch *b, __u8 op, const struct iovec *iov,
		   unsigned int nr_vecs, __u64 offset, __u16 flags)
{
	__u32 len;
	int ret;

	if (b->nr >= b->cap)
		return -ENOSPC;
	ret = iov_total(iov, nr_vecs, &len);
	if (ret)
		return ret;
	return add(b, op, flags | BLKBATCH_EF_VEC, len, offset,
		   (__u64)(uintptr_t)iov, nr_vecs);
}

int blkbatch_batch_add_readv(struct blkbatch_batch *b, const struct iovec *iov,
			     unsigned int nr_vecs, __u64 offset)
{
	return add_vec(b, BLKBATCH_OP_READ, iov, nr_vecs, offset, 0);
}

int blkbatch_batch_add_writev(struct blkbatch_batch *b,
			      const struct iovec *iov, unsigned int nr_vecs,
			      __u64 offset, __u16 flags)
{
	return add_vec(b, BLKBATCH_OP_WRITE, iov, nr_vecs, offset, flags);
}

int blkbatch_batch_add_flush(struct blkbatch_batch *b)
{
	return add(b, BLKBATCH_OP_FLUSH, 0, 0, 0, 0, 0);
}

int blkbatch_batch_add_discard(struct blkbatch_batch *b, __u64 offset,
			       __u32 len)
{
	return add(b, BLKBATCH_OP_DISCARD, 0, len, offset, 0, 0);
}

int blkbatch_batch_add_write_zeroes(struct blkbatch_batch *b, __u64 offset,
				    __u32 len)
{
	return add(b, BLKBATCH_OP_WRITE_ZEROES, 0, len, offset, 0, 0);
}

int blkbatch_batch_add_barrier(struct blkbatch_batch *b)
{
	return add(b, BLKBATCH_OP_BARRIER, 0, 0, 0, 0, 0);
}

const char *blkbatch_op_name(unsigned int op)
{
	static const char *const names[] = {
		[BLKBATCH_OP_READ]		= "read",
		[BLKBATCH_OP_WRITE]		= "write",
		[BLKBATCH_OP_FLUSH]		= "flush",
		[BLKBATCH_OP_DISCARD]		= "discard",
		[BLKBATCH_OP_WRITE_ZEROES]	= "write-zeroes",
		[BLKBATCH_OP_BARRIER]		= "barrier",
	};

	if (op < sizeof(names) / sizeof(names[0]) && names[op])
		return names[op];
	return "unknown";
}
