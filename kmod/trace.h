/* SPDX-License-Identifier: GPL-2.0 */
/*
 * blkbatch:* tracepoints, for perf trace, bpftrace and tracefs: a batch
 * issued, a batch finished, and each entry that failed.  @dev is the
 * attached block device, @index the N of /dev/blkbatchN.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM blkbatch

#if !defined(BB_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define BB_TRACE_H

#include <linux/tracepoint.h>

#include "blkbatch.h"

/* The command's flags, which the batch keeps as a bool. */
#define BB_TRACE_FLAGS(b) \
	((b)->abort_on_error ? BLKBATCH_CMD_F_ABORT_ON_ERROR : 0)

TRACE_EVENT(batch_submit,
	TP_PROTO(const struct bb_batch *b),
	TP_ARGS(b),
	TP_STRUCT__entry(
		__field(dev_t, dev)
		__field(u32, index)
		__field(u32, nr)
		__field(u32, flags)
		__field(bool, fixed)
		__field(bool, polled)
	),
	TP_fast_assign(
		__entry->dev = b->dev->bdev.bdev->bd_dev;
		__entry->index = b->dev->index;
		__entry->nr = b->nr;
		__entry->flags = BB_TRACE_FLAGS(b);
		__entry->fixed = b->fixed;
		__entry->polled = b->polled;
	),
	TP_printk("%d,%d blkbatch%u nr=%u flags=0x%x fixed=%d polled=%d",
		  MAJOR(__entry->dev), MINOR(__entry->dev), __entry->index,
		  __entry->nr, __entry->flags, __entry->fixed, __entry->polled)
);

TRACE_EVENT(batch_done,
	TP_PROTO(const struct bb_batch *b, int result),
	TP_ARGS(b, result),
	TP_STRUCT__entry(
		__field(dev_t, dev)
		__field(u32, index)
		__field(u32, nr)
		__field(u32, flags)
		__field(int, result)
	),
	TP_fast_assign(
		__entry->dev = b->dev->bdev.bdev->bd_dev;
		__entry->index = b->dev->index;
		__entry->nr = b->nr;
		__entry->flags = BB_TRACE_FLAGS(b);
		__entry->result = result;
	),
	TP_printk("%d,%d blkbatch%u nr=%u flags=0x%x result=%d",
		  MAJOR(__entry->dev), MINOR(__entry->dev), __entry->index,
		  __entry->nr, __entry->flags, __entry->result)
);

TRACE_EVENT(entry_error,
	TP_PROTO(const struct bb_batch *b, u32 idx, int error),
	TP_ARGS(b, idx, error),
	TP_STRUCT__entry(
		__field(dev_t, dev)
		__field(u32, index)
		__field(u32, entry)
		__field(u8, op)
		__field(u64, offset)
		__field(u32, len)
		__field(int, error)
	),
	TP_fast_assign(
		__entry->dev = b->dev->bdev.bdev->bd_dev;
		__entry->index = b->dev->index;
		__entry->entry = idx;
		__entry->op = b->ents[idx].op;
		__entry->offset = b->ents[idx].offset;
		__entry->len = b->ents[idx].len;
		__entry->error = error;
	),
	TP_printk("%d,%d blkbatch%u entry=%u op=%u offset=%llu len=%u error=%d",
		  MAJOR(__entry->dev), MINOR(__entry->dev), __entry->index,
		  __entry->entry, __entry->op, __entry->offset, __entry->len,
		  __entry->error)
);

#endif /* BB_TRACE_H */

/* Out of tree: Kbuild puts kmod/ on the include path. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
