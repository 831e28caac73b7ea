// SPDX-License-Identifier: GPL-2.0
/*
 * The io_uring transport: BLKBATCH_URING_CMD_SUBMIT, its completion in
 * task work, and ->uring_cmd_iopoll for IOPOLL rings.
 */
#include <linux/blk-mq.h>
#include <linux/fs.h>
#include <linux/sched/mm.h>

#include "blkbatch.h"

/* The private state io_uring lets us keep in the command. */
struct bb_pdu {
	struct bb_batch		*batch;
};

static struct bb_pdu *bb_pdu(struct io_uring_cmd *ioucmd)
{
	BUILD_BUG_ON(sizeof(struct bb_pdu) > sizeof(ioucmd->pdu));
	return (struct bb_pdu *)ioucmd->pdu;
}

/*
 * A segment is over, in a context that may sleep: issue what comes next,
 * or release everything before io_uring_cmd_done(), which drops the file
 * and with it the module.  @alive: the submitter's address space is ours
 * and its task is not going away.
 */
static void bb_uring_resume(struct io_uring_cmd *ioucmd, struct bb_batch *b,
			    bool alive, unsigned int issue_flags)
{
	int res;

	if (bb_batch_resume(b, alive))
		return;
	/* A poller that comes later must not find the batch. */
	WRITE_ONCE(bb_pdu(ioucmd)->batch, NULL);
	res = bb_batch_finish(b, alive);
	bb_uring_cmd_done(ioucmd, res, 0, false, issue_flags);
}

/* Task work of the submitting task. */
BB_TASK_WORK(bb_uring_task_work)(struct io_uring_cmd *ioucmd,
				 unsigned int issue_flags, bool task_dead)
{
	struct bb_batch *b = bb_pdu(ioucmd)->batch;
	bool alive = !task_dead &&
		     !(current->flags & (PF_EXITING | PF_KTHREAD)) &&
		     current->mm;

	bb_uring_resume(ioucmd, b, alive, issue_flags);
}

/* Any context: the segment's last bio has completed. */
static void bb_uring_segment_end(struct bb_batch *b)
{
	bb_complete_in_task(b->ioucmd, bb_uring_task_work);
}

/* Any context, IOPOLL ring: leave the rest to the poll loop. */
static void bb_uring_iopoll_segment_end(struct bb_batch *b)
{
	/* Orders the statuses the bios wrote before the flag. */
	atomic_set_release(&b->end_pending, 1);
}

/*
 * The poll loop found the segment over.  It runs in the submitter's task,
 * its SQ thread (same address space), the ring's exit work (none: nothing
 * more is issued, the statuses are not written) or, if the ring is
 * shared, in another process, which hands over to the submitter's task.
 */
static void bb_uring_iopoll_resume(struct io_uring_cmd *ioucmd,
				   struct bb_batch *b)
{
	bool alive = current->mm == b->mm &&
		     !(current->flags & (PF_EXITING | PF_KTHREAD));

	if (current->mm && current->mm != b->mm) {
		bb_complete_in_task(ioucmd, bb_uring_task_work);
		return;
	}
	/* Polling holds the ring's lock: io_uring_cmd_done() needs no flag. */
	bb_uring_resume(ioucmd, b, alive, 0);
}

/*
 * An IOPOLL ring polls each command until it completes.  The batch may be
 * finishing on another thread meanwhile (6.1 runs task work without the
 * ring's lock): it is freed only after an RCU grace period, and its
 * pointer cleared before that.
 */
int bb_uring_cmd_iopoll(struct io_uring_cmd *ioucmd, struct io_comp_batch *iob,
			unsigned int poll_flags)
{
	struct bb_batch *b;
	int ret = 0;

	rcu_read_lock();
	b = READ_ONCE(bb_pdu(ioucmd)->batch);
	if (b && atomic_read_acquire(&b->end_pending) &&
	    atomic_xchg(&b->end_pending, 0)) {
		/* Ours alone now: nobody else frees it. */
		rcu_read_unlock();
		bb_uring_iopoll_resume(ioucmd, b);
		return 1;
	}
	if (b && b->polled)
		ret = bb_batch_iopoll(b, iob, poll_flags);
	rcu_read_unlock();
	return ret;
}

/*
 * Transport checks first (the SQE itself), then the batch.  Errors that
 * name an entry set *@bad.
 */
static int bb_uring_submit(struct io_uring_cmd *ioucmd,
			   unsigned int issue_flags, u64 *bad)
{
	struct bb_dev *dev = ioucmd->file->private_data;
	struct blkbatch_cmd cmd;
	struct bb_batch *b;

	BUILD_BUG_ON(sizeof(cmd) != 80);
	if (!(issue_flags & IO_URING_F_SQE128))
		return -EOPNOTSUPP;
	if (bb_sqe_unused_set(ioucmd))
		return -EINVAL;
	if (ioucmd->flags & ~IORING_URING_CMD_FIXED)
		return -EOPNOTSUPP;
	/* The command area is user-writable: snapshot it, read it once. */
	memcpy(&cmd, bb_cmd_area(ioucmd), sizeof(cmd));

	b = bb_batch_create(dev, ioucmd->file, &cmd,
			    ioucmd->flags & IORING_URING_CMD_FIXED ? ioucmd : NULL,
			    issue_flags, bad);
	if (IS_ERR(b))
		return PTR_ERR(b);

	b->ioucmd = ioucmd;
	b->compat = bb_uring_compat(ioucmd, issue_flags);
	b->segment_end = bb_uring_segment_end;
	if ((issue_flags & IO_URING_F_IOPOLL) && current->mm) {
		b->iopoll = true;
		b->mm = current->mm;
		mmgrab(b->mm);
		b->segment_end = bb_uring_iopoll_segment_end;
	}
	bb_pdu(ioucmd)->batch = b;
	bb_batch_issue(b);
	return -EIOCBQUEUED;
}

int bb_uring_cmd(struct io_uring_cmd *ioucmd, unsigned int issue_flags)
{
	u64 bad = BLKBATCH_NO_ENTRY;
	int ret;

	/*
	 * Before any check can fail: ->uring_cmd_iopoll must never find what
	 * an earlier command in this slot left.
	 */
	bb_pdu(ioucmd)->batch = NULL;
	switch (ioucmd->cmd_op) {
	case BLKBATCH_URING_CMD_SUBMIT:
		ret = bb_uring_submit(ioucmd, issue_flags, &bad);
		break;
	default:
		ret = -ENOTTY;
		break;
	}
	if (ret == -EIOCBQUEUED || !(issue_flags & IO_URING_F_CQE32))
		return ret;
	/* A CQE32 says which entry was bad, or that none was. */
	bb_uring_cmd_done(ioucmd, ret, bad, true, issue_flags);
	return -EIOCBQUEUED;
}
